"""Training data for ``erm train``: judge SFT examples and image-to-code GRPO prompts.

Judge SFT (``load_judge_data``) reads

- VC-RewardBench JSONL (``erm synth`` output, or any such file with ``human_errors``) through the one
  reader, :mod:`erm_cli.data.vcbench`: each record becomes exactly the request
  :class:`erm_cli.judges.vlm.VLMJudge` sends (``build_judge_request``) with the gold verdict's JSON
  (``verdict_to_target_json``) as the completion;
- chat records (``erm synth --format sft``): ``messages`` (system / user / assistant; the assistant
  turn is the target) or ``prompt`` + ``completion``, with ``images`` (paths relative to the file).

Policy GRPO (``load_policy_prompts``) reads a folder of reference images (``chart/``, ``table/``,
``svg/`` subfolders name the task; a flat folder takes ``--task`` or the critic's guess) or a
VC-RewardBench / synth JSONL, whose distinct ``gt_img_path`` images become the prompts. The prompt is
the refine policy's draft prompt (:func:`erm_cli.refine.prompts.draft_prompt`), so a trained policy
answers the same question ``erm refine --policy model:...`` asks.

Both build ``datasets.Dataset`` objects whose rows hold only ids and paths: images are loaded,
capped and encoded on access (``with_transform``), so large sets cost no preprocessing pass and
``--dataloader-workers`` parallelises the loading.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..errors import InputError
from ..judges.verdict import TASKS, ErrorItem

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


# ---------------------------------------------------------------------------------------------------------
# Finding the data file
# ---------------------------------------------------------------------------------------------------------
def find_jsonl(data: str | Path, what: str = "--data") -> Path:
    """``data`` itself if it is a file; in a folder ``data.jsonl``, else its only ``*.jsonl``."""
    p = Path(data).expanduser()
    if p.is_file():
        return p.resolve()
    if not p.exists():
        raise InputError(f"{what}: no such file or folder: {p}")
    for name in ("data.jsonl", "train.jsonl", "sft.jsonl"):
        if (p / name).is_file():
            return (p / name).resolve()
    found = sorted(p.glob("*.jsonl"))
    if len(found) == 1:
        return found[0].resolve()
    if not found:
        raise InputError(f"{what}: no data.jsonl (or other .jsonl file) in {p}")
    raise InputError(
        f"{what}: several .jsonl files in {p} ({', '.join(f.name for f in found[:5])}); pass the one to use"
    )


def read_jsonl_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) of a JSONL file through the shared reader; an empty file is an input error."""
    from ..jsonl import iter_jsonl

    rows = list(iter_jsonl(path))
    if not rows:
        raise InputError(f"{path}: no records")
    return rows


def is_chat_record(row: dict[str, Any]) -> bool:
    return "messages" in row or ("prompt" in row and "completion" in row)


def _resolve(base: Path, value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: missing image path")
    p = Path(value).expanduser()
    p = p if p.is_absolute() else base / p
    if not p.is_file():
        raise InputError(f"{where}: image not found: {p}")
    return str(p.resolve())


def stable_fraction(key: str, seed: int) -> float:
    """A deterministic number in [0, 1) per key (held-out splits that do not move between runs)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# ---------------------------------------------------------------------------------------------------------
# Judge SFT
# ---------------------------------------------------------------------------------------------------------
@dataclass
class JudgeRecord:
    """One SFT example: a (reference, candidate) pair with gold errors, or a ready chat record."""

    id: str
    task: str
    images: list[str]
    errors: list[ErrorItem] | None = None
    messages: list[dict[str, Any]] | None = None  # chat records: prompt messages (no assistant turn)
    target: str | None = None  # chat records: the assistant answer
    #: chat records of a (reference, candidate) pair whose answer parses as a verdict: its errors (evaluation)
    answer_errors: list[ErrorItem] | None = None

    def to_vcbench(self) -> dict[str, Any] | None:
        """The record as a VC-RewardBench line (absolute paths), for evaluation; None when it has no gold."""
        gold = self.errors if self.errors is not None else self.answer_errors
        if gold is None or len(self.images) != 2:
            return None
        return {
            "id": self.id,
            "category": self.task,
            "gt_img_path": self.images[0],
            "pred_img_path": self.images[1],
            "human_errors": [e.to_dict() for e in gold],
        }


@dataclass
class JudgeData:
    source: Path
    train: list[JudgeRecord]
    heldout: list[JudgeRecord]
    judge: Any  # the VLMJudge whose requests the examples reproduce
    formats: dict[str, int] = field(default_factory=dict)

    @property
    def n_train(self) -> int:
        return len(self.train)

    def summary(self) -> dict[str, Any]:
        tasks: dict[str, int] = {}
        for r in self.train:
            tasks[r.task] = tasks.get(r.task, 0) + 1
        return {
            "source": str(self.source),
            "train": len(self.train),
            "heldout": len(self.heldout),
            "tasks": tasks,
            "formats": self.formats,
            "image_side": dict(self.judge.image_side),
            "prompts": self.judge.prompt_source,
        }

    def train_dataset(self) -> Any:
        return judge_sft_dataset(self.train, self.judge)


def read_vcbench_records(path: Path) -> list[JudgeRecord]:
    """VC-RewardBench / synth records with gold errors, read through :mod:`erm_cli.data.vcbench`.

    A candidate given as code (``pred_code_path``) is rendered once (sandboxed, cached) into
    ``cache_dir()/train/renders``; a candidate that does not render cannot teach the judge anything
    about visual errors and is an input error naming the record.
    """
    from ..data.vcbench import read_vcbench

    out: list[JudgeRecord] = []
    for item in read_vcbench(path):
        where = f"{path}:{item.line} (id {item.id})"
        if "human_errors" not in item.raw:
            raise InputError(f"{where}: no gold errors (human_errors); judge SFT needs labelled pairs")
        for p in (item.gt_img_path, item.pred_path):
            if not Path(p).is_file():
                raise InputError(f"{where}: file not found: {p}")
        candidate = str(Path(item.pred_path).resolve())
        if item.pred_is_code:
            candidate = render_candidate_image(Path(item.pred_path), str(item.id))
        images = [str(Path(item.gt_img_path).resolve()), candidate]
        out.append(JudgeRecord(id=str(item.id), task=item.task, images=images, errors=list(item.errors)))
    return out


def render_candidate_image(code_path: Path, record_id: str) -> str:
    """Render a candidate code file to a PNG in erm's cache (reused across runs); returns its path."""
    from ..config import cache_dir
    from ..judges.pipeline import read_code, render_candidate

    result, _ = render_candidate(read_code(code_path))
    if not result.ok or result.png is None:
        raise InputError(f"record {record_id}: candidate code {code_path} does not render ({result.error})")
    digest = hashlib.sha256(result.png).hexdigest()[:24]
    target = cache_dir() / "train" / "renders" / f"{digest}.png"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(result.png)
    return str(target)


def read_chat_record(row: dict[str, Any], base: Path, where: str) -> JudgeRecord:
    """A chat record (``messages`` or ``prompt``/``completion``, plus ``images``) as a JudgeRecord."""
    if "messages" in row:
        msgs = row["messages"]
        if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) for m in msgs):
            raise InputError(f"{where}: 'messages' must be a non-empty list of messages")
        if msgs[-1].get("role") != "assistant":
            raise InputError(f"{where}: the last message must be the assistant's answer (the target)")
        prompt, answer = msgs[:-1], msgs[-1]
    else:
        prompt = (
            row["prompt"] if isinstance(row["prompt"], list) else [{"role": "user", "content": row["prompt"]}]
        )
        comp = row["completion"]
        answer = comp[-1] if isinstance(comp, list) and comp else {"role": "assistant", "content": comp}
    target = _message_text(answer)
    if not target.strip():
        raise InputError(f"{where}: empty target answer")
    images = [_resolve(base, p, where) for p in (row.get("images") or [])]
    n_slots = sum(
        1
        for m in prompt
        for part in (m.get("content") if isinstance(m.get("content"), list) else [])
        if isinstance(part, dict) and part.get("type") in ("image", "image_url")
    )
    if n_slots and n_slots != len(images):
        raise InputError(f"{where}: {n_slots} image parts in the messages but {len(images)} images")
    task = str(row.get("category") or row.get("task") or "chart")
    task = task if task in TASKS else "chart"
    answer_errors = None
    if len(images) == 2:
        from ..judges.vlm_output import parse_judge_output

        verdict = parse_judge_output(target, task)
        answer_errors = list(verdict.errors) if verdict.parsed else None
    clean = [
        {"role": m.get("role", "user"), "content": _placeholder_content(m.get("content"))} for m in prompt
    ]
    return JudgeRecord(
        id=str(row.get("id", where)),
        task=task,
        images=images,
        messages=clean,
        target=target,
        answer_errors=answer_errors,
    )


def _message_text(msg: Any) -> str:
    content = msg.get("content") if isinstance(msg, dict) else msg
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return "" if content is None else str(content)


def _placeholder_content(content: Any) -> Any:
    """Message content with image parts reduced to ``{"type": "image"}`` (TRL fills them from ``images``)."""
    if not isinstance(content, list):
        return "" if content is None else str(content)
    out = []
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") in ("image", "image_url"):
            out.append({"type": "image"})
        elif part.get("type") == "text":
            out.append({"type": "text", "text": str(part.get("text", ""))})
    return out


def read_judge_records(path: Path) -> tuple[list[JudgeRecord], dict[str, int]]:
    """All SFT records of a JSONL file (VC-RewardBench records and chat records may not be mixed)."""
    rows = read_jsonl_rows(path)
    chat = [is_chat_record(r) for _, r in rows]
    if all(chat):
        return [read_chat_record(r, path.parent, f"{path}:{n}") for n, r in rows], {"chat": len(rows)}
    if any(chat):
        raise InputError(f"{path}: mixes chat records and VC-RewardBench records; use one format per file")
    records = read_vcbench_records(path)
    return records, {"vcbench": len(records)}


def _filter(records: list[JudgeRecord], task: str | None, limit: int | None) -> list[JudgeRecord]:
    if task:
        records = [r for r in records if r.task == task]
    if limit:
        records = records[:limit]
    return records


def split_heldout(
    records: list[JudgeRecord], fraction: float, seed: int
) -> tuple[list[JudgeRecord], list[JudgeRecord]]:
    """Deterministic held-out slice by id hash; only records with gold errors are held out,
    and at least one record always stays in training."""
    if fraction <= 0 or len(records) < 2:
        return records, []
    gold = [r for r in records if r.to_vcbench() is not None]
    ranked = sorted(gold, key=lambda r: stable_fraction(r.id, seed))
    n = min(len(ranked), max(1, round(fraction * len(records))), len(records) - 1)
    held = {id(r) for r in ranked[:n]}
    return [r for r in records if id(r) not in held], [r for r in records if id(r) in held]


def load_judge_data(settings: Any) -> JudgeData:
    """Train and held-out records for ``erm train reward`` (data, eval_data, task, limit ... settings)."""
    path = find_jsonl(settings.data)
    records, formats = read_judge_records(path)
    records = _filter(records, settings.task, settings.limit)
    if not records:
        raise InputError(f"{path}: no records left" + (f" for task {settings.task}" if settings.task else ""))
    heldout: list[JudgeRecord] = []
    if settings.eval:
        if settings.eval_data:
            eval_path = find_jsonl(settings.eval_data, "--eval-data")
            heldout = _filter(read_vcbench_records(eval_path), settings.task, None)
        else:
            records, heldout = split_heldout(records, settings.eval_fraction, settings.seed)
    judge = request_builder(settings.model or "tiny:qwen3-vl", settings.prompt_file, settings.max_image_side)
    return JudgeData(source=path, train=records, heldout=heldout, judge=judge, formats=formats)


def request_builder(model_spec: str, prompt_file: str | None, max_image_side: int | None) -> Any:
    """The judge whose requests training imitates: a :class:`VLMJudge` with the run's prompt file and
    image caps (its model is never called here; only ``request_for`` is used)."""
    from ..judges.vlm import VLMJudge

    return VLMJudge(model=model_spec, prompt_file=prompt_file, max_image_side=max_image_side)


def judge_example(record: JudgeRecord, judge: Any) -> dict[str, Any]:
    """The TRL prompt/completion example of one record (images loaded now): the request ``judge`` would
    send for the pair, and the gold verdict's JSON as the answer."""
    from ..imageio import load_image

    if record.messages is not None:
        from ..judges.vlm import prepare_image

        side = judge.image_side.get(record.task)
        images = [prepare_image(load_image(p, what=f"record {record.id} image"), side) for p in record.images]
        return {
            "prompt": record.messages,
            "images": images,
            "completion": [{"role": "assistant", "content": record.target}],
        }
    from ..judges.verdict import Verdict
    from ..judges.vlm import verdict_to_target_json

    ref = load_image(record.images[0], what=f"record {record.id} reference")
    cand = load_image(record.images[1], what=f"record {record.id} candidate")
    prompt, images = request_to_trl(judge.request_for(ref, cand, record.task))
    target = verdict_to_target_json(Verdict(task=record.task, errors=list(record.errors or [])))
    return {"prompt": prompt, "images": images, "completion": [{"role": "assistant", "content": target}]}


def request_to_trl(request: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Any]]:
    """An erm chat request (image parts carry PIL images) as TRL messages with ``{"type": "image"}``
    placeholders plus the images in order; TRL's collator puts them back in the same places."""
    images: list[Any] = []
    messages: list[dict[str, Any]] = []
    for msg in request:
        content = msg.get("content")
        if isinstance(content, list):
            parts: list[dict[str, Any]] = []
            for part in content:
                if part.get("type") == "image":
                    images.append(part["image"])
                    parts.append({"type": "image"})
                elif part.get("type") == "text":
                    parts.append({"type": "text", "text": part.get("text", "")})
            messages.append({"role": msg.get("role", "user"), "content": parts})
        else:
            messages.append(
                {"role": msg.get("role", "user"), "content": [{"type": "text", "text": str(content)}]}
            )
    return messages, images


def judge_sft_dataset(records: list[JudgeRecord], judge: Any) -> Any:
    """A ``datasets.Dataset`` of indices whose rows turn into TRL examples on access."""
    from datasets import Dataset

    def transform(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"prompt": [], "images": [], "completion": []}
        for i in batch["index"]:
            ex = judge_example(records[i], judge)
            for k in out:
                out[k].append(ex[k])
        return out

    ds = Dataset.from_dict(
        {"index": list(range(len(records))), "id": [r.id for r in records], "task": [r.task for r in records]}
    )
    return ds.with_transform(transform)


# ---------------------------------------------------------------------------------------------------------
# Policy GRPO prompts
# ---------------------------------------------------------------------------------------------------------
@dataclass
class PolicyPrompt:
    """One image-to-code prompt: a reference image, its task and the code language to write."""

    id: str
    task: str
    kind: str
    reference: str  # absolute path of the full-size reference image

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "task": self.task, "kind": self.kind, "reference": self.reference}


def _kind_of_task(task: str) -> str:
    from ..refine.config import DEFAULT_KIND_OF_TASK

    return DEFAULT_KIND_OF_TASK.get(task, "matplotlib")


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_image_folder(folder: Path, task: str | None) -> list[PolicyPrompt]:
    """Prompts from ``folder/{chart,table,svg}/*.png`` or a flat folder of images."""
    prompts: list[PolicyPrompt] = []
    sub = [t for t in TASKS if (folder / t).is_dir()]
    if sub:
        for t in sub:
            if task and t != task:
                continue
            for img in _images_in(folder / t):
                prompts.append(PolicyPrompt(f"{t}/{img.stem}", t, _kind_of_task(t), str(img.resolve())))
        return prompts
    for img in _images_in(folder):
        t = task or _guess_task(img)
        prompts.append(PolicyPrompt(img.stem, t, _kind_of_task(t), str(img.resolve())))
    return prompts


def _guess_task(path: Path) -> str:
    from ..imageio import load_image
    from ..judges.pipeline import guess_task

    return guess_task(load_image(path, what=str(path)))


def read_policy_jsonl(path: Path, task: str | None) -> list[PolicyPrompt]:
    """Distinct reference images of a VC-RewardBench / synth JSONL (or rows with ``image``/``reference``)."""
    prompts: list[PolicyPrompt] = []
    seen: set[str] = set()
    for n, row in read_jsonl_rows(path):
        where = f"{path}:{n}"
        ref_value = next(
            (row[k] for k in ("gt_img_path", "reference", "image", "image_path") if row.get(k)), None
        )
        if ref_value is None:
            raise InputError(f"{where}: no reference image (gt_img_path / reference / image)")
        ref = _resolve(path.parent, ref_value, where)
        if ref in seen:
            continue
        seen.add(ref)
        t = str(row.get("category") or row.get("task") or task or "")
        if t not in TASKS:
            t = _guess_task(Path(ref))
        if task and t != task:
            continue
        kind = str(row.get("kind") or _kind_of_task(t))
        prompts.append(PolicyPrompt(str(row.get("gt_id") or row.get("id") or Path(ref).stem), t, kind, ref))
    return prompts


def load_policy_prompts(
    data: str | Path, task: str | None = None, limit: int | None = None
) -> list[PolicyPrompt]:
    """The GRPO / verl prompts of ``data`` (a folder of images or a JSONL); see the module docstring."""
    p = Path(data).expanduser()
    if not p.exists():
        raise InputError(f"--data: no such file or folder: {p}")
    if p.is_dir() and (
        any(p.glob("*.jsonl")) and not _images_in(p) and not any((p / t).is_dir() for t in TASKS)
    ):
        prompts = read_policy_jsonl(find_jsonl(p), task)
    elif p.is_dir():
        prompts = read_image_folder(p, task)
    else:
        prompts = read_policy_jsonl(p, task)
    if limit:
        prompts = prompts[:limit]
    if not prompts:
        raise InputError(f"--data: no reference images found in {p}" + (f" for task {task}" if task else ""))
    return prompts


def policy_example(prompt: PolicyPrompt, max_image_side: int | None) -> dict[str, Any]:
    """The refine policy's draft request as TRL columns: ``prompt`` (text), ``image`` (capped reference)."""
    from ..imageio import load_image
    from ..refine.model_policy import DEFAULT_MAX_IMAGE_SIDE, thumbnail
    from ..refine.prompts import draft_prompt

    ref = load_image(prompt.reference, what=f"reference {prompt.id}")
    text = draft_prompt(prompt.task, prompt.kind, ref)
    side = DEFAULT_MAX_IMAGE_SIDE if max_image_side is None else max_image_side
    shown = thumbnail(ref, side) if side else ref
    return {"prompt": [{"role": "user", "content": text}], "image": shown}


def policy_dataset(prompts: Iterable[PolicyPrompt], max_image_side: int | None) -> Any:
    """A ``datasets.Dataset`` for GRPOTrainer: ``prompt`` + ``image`` built on access, plus the columns the
    rewards read (``reference`` full-size path, ``task``, ``kind``, ``id``)."""
    from datasets import Dataset

    items = list(prompts)

    def transform(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {
            "prompt": [],
            "image": [],
            "reference": [],
            "task": [],
            "kind": [],
            "id": [],
        }
        for i in batch["index"]:
            p = items[i]
            ex = policy_example(p, max_image_side)
            out["prompt"].append(ex["prompt"])
            out["image"].append(ex["image"])
            out["reference"].append(p.reference)
            out["task"].append(p.task)
            out["kind"].append(p.kind)
            out["id"].append(p.id)
        return out

    ds = Dataset.from_dict({"index": list(range(len(items)))})
    return ds.with_transform(transform)
