"""``erm bench judge``: run judges over VC-RewardBench-format data and score them as the benchmark does.

One run writes into its output directory:

* ``predictions.jsonl`` - the judge's verdict per item (resumable: ids already there are skipped);
* ``baselines/<name>.jsonl`` - the same for each coarse baseline (SSIM, MSE, pHash) on the same items;
* ``pairwise/<judge>.jsonl`` - rewards of chosen and rejected candidates when pairwise data is given
  (``--pairwise FILE``, or ``pairwise.jsonl`` beside the data);
* ``matches/<judge>.<matcher>.jsonl`` - the error matching per item (LLM matching is resumable too);
* ``metrics.json`` - F1_hard / F1_soft / Sc per task and overall for every (judge, matcher), AUROC,
  pairwise accuracy, Sc of the reward, failures, the data fingerprint and the provenance block;
* ``report.md`` + ``plots/`` - see :mod:`erm_cli.bench.report`.

Items are judged in parallel threads (``workers``); model judges (``vlm``) get batches of image pairs
through one ``judge_many`` call each. A model that cannot load stops the run with its own error; a bad
item (missing image, unreadable file, judge failure) fails alone: its reason is recorded in the
predictions file, it is left out of that judge's metrics (the count is reported) and it is tried again
on the next run. Image pairs of the pairwise file that were already judged as items are not judged twice.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..schemas import stamp
from ..judges.verdict import TASKS, TAXONOMY, ErrorItem, Verdict, clamp_severity
from .judge_metrics import (
    ItemMatch,
    allowed_errors,
    pairwise_accuracy,
    reward_separation,
    reward_severity_correlation,
    severity_total,
    vcbench_metrics,
)
from ..jsonl import JsonlSink, read_jsonl_by_id
from .matching import LLMMatcher, MatchRequest, OfflineMatcher, release_type
from .reference import is_vc_rewardbench, reference_rows
from .versions import provenance

BASELINES = ("ssim", "mse", "phash")
Progress = Callable[[str, int, int], None]


@dataclass
class JudgeItem:
    """One benchmark item: the reference, the candidate (image or code) and the gold errors."""

    id: str
    task: str
    reference: Path
    candidate: Path
    gold: list[ErrorItem] = field(default_factory=list)
    candidate_is_code: bool = False
    error: str | None = None  # a refused path: the item fails alone with this reason, nothing is read
    render_options: Any = None  # RenderOptions for a code candidate (erm judge --batch --timeout)
    gold_rows: list[dict[str, Any]] = field(default_factory=list)  # human_errors as written (--protocol visual-erm)


@dataclass
class PairItem:
    id: str
    task: str
    reference: Path
    chosen: Path
    rejected: Path
    error: str | None = None  # a refused path: the pair fails alone with this reason, nothing is read


# ----------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------


def fingerprint(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_judge_items(path: str | Path, allowed_root: Sequence[str | Path] = ()) -> list[JudgeItem]:
    """VC-RewardBench JSONL -> items, through the shared reader :func:`erm_cli.data.vcbench.read_vcbench`
    (``category`` or ``type`` keys in ``human_errors``, paths relative to the file, the real
    VC-RewardBench.jsonl as it is)."""
    from ..data.vcbench import read_vcbench

    return [
        JudgeItem(
            id=r.id,
            task=r.task,
            reference=Path(r.gt_img_path),
            candidate=Path(r.pred_path),
            gold=list(r.errors),
            candidate_is_code=r.pred_is_code,
            error=r.error,
            gold_rows=[e for e in r.raw.get("human_errors") or [] if isinstance(e, dict)],
        )
        for r in read_vcbench(Path(path), allowed_root, per_item_errors=True)
    ]


def load_pair_items(path: str | Path, allowed_root: Sequence[str | Path] = ()) -> list[PairItem]:
    """Pairwise JSONL (``id``, ``category``, ``gt_img_path``, ``chosen_img_path``, ``rejected_img_path``);
    paths must resolve inside the file's folder or an ``allowed_root`` (else that pair fails alone)."""
    from ..inputs import allowed_roots, confine
    from ..jsonl import iter_jsonl

    p = Path(path)
    roots = allowed_roots(p.parent, allowed_root)
    out: list[PairItem] = []
    for n, row in iter_jsonl(p):
        try:
            task = str(row.get("category") or row.get("task")).lower()
            if task not in TASKS:
                raise KeyError("category")
            item = PairItem(
                id=str(row.get("id", n)),
                task=task,
                reference=p.parent / row["gt_img_path"],
                chosen=p.parent / row["chosen_img_path"],
                rejected=p.parent / row["rejected_img_path"],
            )
            try:
                item.reference, item.chosen, item.rejected = (
                    confine(row[key], p.parent, roots, key)
                    for key in ("gt_img_path", "chosen_img_path", "rejected_img_path")
                )
            except InputError as exc:
                item.error = f"{p}:{n}: {exc}"
            out.append(item)
        except (KeyError, TypeError) as exc:
            raise InputError(
                f"{p}:{n}: a pairwise line needs category, gt_img_path, chosen_img_path and "
                f"rejected_img_path (missing {exc})"
            ) from None
    return out


# ----------------------------------------------------------------------------------------------
# judging (resumable JSONL)
# ----------------------------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    msg = str(exc).splitlines()[0] if str(exc) else ""
    return f"{exc.__class__.__name__}: {msg}" if not isinstance(exc, InputError) else msg


def ensure_loaded(judge: Any) -> None:
    """Load a model-backed judge's model now, so a model that cannot load stops the run with its own
    error (exit 2 or 4) instead of failing every item one by one."""
    if hasattr(judge, "backend"):
        judge.backend  # noqa: B018 - the property loads the shared backend


def judge_items(
    judge: Any,
    label: str,
    items: Sequence[JudgeItem],
    out_path: Path,
    *,
    workers: int = 2,
    resume: bool = True,
    progress: Progress | None = None,
    executor: Any = None,
    judge_factory: Callable[[], Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Judge every item not yet in ``out_path``; returns id -> row (``verdict`` or ``error``).

    ``executor`` (an :class:`erm_cli.distributed.ItemExecutor`, e.g. a Ray pool) judges the items on its
    workers, each with its own judge from ``judge_factory`` (a picklable callable; by default the judge
    itself is shipped); rows stream back and are written here, in the same format."""

    done = read_jsonl_by_id(out_path, repair=True) if resume else {}
    if not resume and out_path.exists():
        out_path.unlink()
    sink = JsonlSink(out_path)
    todo = [it for it in items if it.id not in done or "error" in done[it.id]]  # failures are retried
    total, count = len(items), [len(items) - len(todo)]
    lock = threading.Lock()
    if todo and executor is None:
        ensure_loaded(judge)
    if progress:
        progress(label, count[0], total)

    def record(row: dict[str, Any]) -> None:
        sink.write(row)
        with lock:
            done[row["id"]] = row
            count[0] += 1
            if progress:
                progress(label, count[0], total)

    def one(it: JudgeItem) -> None:
        record(judge_row(judge, label, it))

    if executor is not None:
        task = JudgeTask(judge_factory or _Given(judge), label)
        for _, row in executor.map_unordered(task, todo):
            record(row)
        return done
    batched = hasattr(judge, "judge_many")
    if batched:  # model judges: one batched generate call per chunk of image pairs
        images = [it for it in todo if not it.candidate_is_code and it.error is None]
        for start in range(0, len(images), BATCH_SIZE):
            for row in _judge_image_batch(judge, label, images[start : start + BATCH_SIZE]):
                record(row)
        todo = [it for it in todo if it.candidate_is_code or it.error is not None]
    _run(one, todo, workers)
    return done


def judge_row(judge: Any, label: str, it: JudgeItem) -> dict[str, Any]:
    """The predictions row of one item: ``verdict``, or ``error`` with its one-line reason."""
    from ..judges.pipeline import score_candidate

    row: dict[str, Any] = {"id": it.id, "task": it.task, "judge": label}
    try:
        if it.error is not None:
            raise InputError(it.error)
        reference: Any = it.reference
        if _sends_files(judge):
            from ..imageio import load_image

            reference = _with_source(load_image(it.reference, what="reference"), it.reference)
        v = score_candidate(
            reference, it.candidate, task=it.task, judge=judge, candidate_is_code=it.candidate_is_code,
            render_options=it.render_options,
        )
        row["verdict"] = v.to_dict()
    except Exception as exc:  # noqa: BLE001 - a bad item fails alone, with its reason
        row["error"] = _one_line(exc)
    return row


@dataclass(frozen=True)
class _Given:
    """A judge factory that returns a judge built by the driver (shipped to the workers by pickling)."""

    judge: Any

    def __call__(self) -> Any:
        return self.judge


class JudgeTask:
    """One item's judging as a picklable callable for an executor: each worker builds its judge once."""

    def __init__(self, make_judge: Callable[[], Any], label: str) -> None:
        self.make_judge = make_judge
        self.label = label
        self._judge: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"make_judge": self.make_judge, "label": self.label, "_judge": None}

    def warm(self) -> None:
        if self._judge is None:
            self._judge = self.make_judge()
            ensure_loaded(self._judge)

    def __call__(self, it: JudgeItem) -> dict[str, Any]:
        self.warm()
        return judge_row(self._judge, self.label, it)

    def failed(self, it: JudgeItem, reason: str) -> dict[str, Any]:
        return {"id": it.id, "task": it.task, "judge": self.label, "error": reason}


def _sends_files(judge: Any) -> bool:
    """Under ``--protocol visual-erm`` the judge sends each image file's own bytes (api_judge.py)."""
    return getattr(judge, "request_layout", None) == "visual-erm-bench"


def _with_source(img: Any, path: Any) -> Any:
    """``img`` remembering the file it came from (:func:`erm_cli.judges.vlm.bench_image` sends its bytes)."""
    from ..judges.vlm import SOURCE_FILE_KEY

    if isinstance(path, (str, Path)):
        img.info[SOURCE_FILE_KEY] = str(path)
    return img


#: Pairs per batched call of a model judge (``judge_many``).
BATCH_SIZE = 8


def _judge_image_batch(judge: Any, label: str, batch: Sequence[JudgeItem]) -> list[dict[str, Any]]:
    """Rows for image pairs judged with one ``judge_many`` call; unreadable images fail alone, blank
    candidates score as render failures (as :func:`erm_cli.judges.pipeline.score_candidate` does)."""
    from ..imageio import load_image
    from ..judges.pipeline import is_blank

    rows: dict[str, dict[str, Any]] = {}
    ready: list[tuple[JudgeItem, Any, Any]] = []
    judge_id = {"name": getattr(judge, "name", label), "version": getattr(judge, "version", "?")}
    for it in batch:
        row: dict[str, Any] = {"id": it.id, "task": it.task, "judge": label}
        rows[it.id] = row
        try:
            ref = load_image(it.reference, what="reference")
            cand = load_image(it.candidate, what="candidate")
            if _sends_files(judge):
                ref, cand = _with_source(ref, it.reference), _with_source(cand, it.candidate)
        except Exception as exc:  # noqa: BLE001
            row["error"] = _one_line(exc)
            continue
        if is_blank(cand) and not is_blank(ref):
            row["verdict"] = Verdict.render_failure(
                it.task, "blank render (a single colour)", judge_id
            ).to_dict()
            continue
        ready.append((it, ref, cand))
    if ready:
        try:
            verdicts = judge.judge_many([(ref, cand, it.task) for it, ref, cand in ready])
            for (it, _, _), v in zip(ready, verdicts):
                rows[it.id]["verdict"] = v.to_dict()
        except Exception as exc:  # noqa: BLE001 - this batch fails, with its reason, and the run goes on
            for it, _, _ in ready:
                rows[it.id]["error"] = _one_line(exc)
    return [rows[it.id] for it in batch]


def known_rewards(
    items: Sequence[JudgeItem], rows: dict[str, dict[str, Any]]
) -> dict[tuple[str, str, str], float]:
    """(reference, candidate, task) -> reward of the pairs already judged (pairwise data reuses them)."""
    out: dict[tuple[str, str, str], float] = {}
    for it in items:
        v = verdict_of(rows.get(it.id) or {})
        if v is not None and not it.candidate_is_code:
            out[(str(it.reference.resolve()), str(it.candidate.resolve()), it.task)] = v.reward
    return out


def judge_pairs(
    judge: Any,
    label: str,
    pairs: Sequence[PairItem],
    out_path: Path,
    *,
    workers: int = 2,
    resume: bool = True,
    progress: Progress | None = None,
    known: dict[tuple[str, str, str], float] | None = None,
) -> dict[str, dict[str, Any]]:
    """Reward of the chosen and of the rejected candidate of every pair (resumable). An image pair found in
    ``known`` (already judged as a benchmark item in this run) reuses that verdict instead of a second call."""
    from ..judges.pipeline import score_candidate

    known = known or {}

    def reward(p: PairItem, cand: Path) -> float:
        hit = known.get((str(p.reference.resolve()), str(cand.resolve()), p.task))
        if hit is not None:
            return hit
        return score_candidate(p.reference, cand, task=p.task, judge=judge, candidate_is_code=False).reward

    done = read_jsonl_by_id(out_path, repair=True) if resume else {}
    if not resume and out_path.exists():
        out_path.unlink()
    sink = JsonlSink(out_path)
    todo = [p for p in pairs if p.id not in done or "error" in done[p.id]]
    total, count = len(pairs), [len(pairs) - len(todo)]
    lock = threading.Lock()
    if any(
        (str(p.reference.resolve()), str(c.resolve()), p.task) not in known
        for p in todo
        if p.error is None
        for c in (p.chosen, p.rejected)
    ):
        ensure_loaded(judge)
    name = f"{label} (pairwise)"
    if progress:
        progress(name, count[0], total)

    def one(p: PairItem) -> None:
        row: dict[str, Any] = {"id": p.id, "task": p.task, "judge": label}
        try:
            if p.error is not None:
                raise InputError(p.error)
            row["chosen"] = reward(p, p.chosen)
            row["rejected"] = reward(p, p.rejected)
        except Exception as exc:  # noqa: BLE001
            row["error"] = _one_line(exc)
        sink.write(row)
        with lock:
            done[p.id] = row
            count[0] += 1
            if progress:
                progress(name, count[0], total)

    _run(one, todo, workers)
    return done


def _run(fn: Callable[[Any], None], todo: Sequence[Any], workers: int) -> None:
    if workers <= 1 or len(todo) <= 1:
        for t in todo:
            fn(t)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(fn, todo):
            pass


# ----------------------------------------------------------------------------------------------
# matching and metrics
# ----------------------------------------------------------------------------------------------


def verdict_of(row: dict[str, Any]) -> Verdict | None:
    v = row.get("verdict")
    if not isinstance(v, dict):
        return None
    verdict = Verdict.from_dict(v, task=row.get("task"))
    if (v.get("judge") or {}).get("layout") == "visual-erm-bench":
        # --protocol visual-erm: categories as the judge wrote them, so that an out-of-taxonomy name drops
        # out of the allowed errors (the released evaluation.py) instead of being remapped
        raw = [e for e in v.get("errors") or [] if isinstance(e, dict)]
        verdict.errors = [replace(e, category=str(r.get("category"))) for e, r in zip(verdict.errors, raw)]
    return verdict


def match_requests(items: Sequence[JudgeItem], rows: dict[str, dict[str, Any]],
                   protocol: str = "erm") -> list[MatchRequest]:
    """The errors to match per judged item: erm's reading (both sides through the taxonomy), or under
    ``visual-erm`` the released evaluation.py's (:func:`release_match_request`)."""
    reqs = []
    for it in items:
        row = rows.get(it.id)
        v = verdict_of(row) if row else None
        if v is None:
            continue
        if protocol == "visual-erm":
            reqs.append(release_match_request(it, row or {}))
            continue
        reqs.append(
            MatchRequest(
                id=it.id,
                task=it.task,
                gold=allowed_errors(it.gold, it.task),
                pred=allowed_errors(v.errors, it.task),
            )
        )
    return reqs


def answer_errors(verdict: dict[str, Any]) -> Any:
    """The ``errors`` value of the judge's answer as written (kept by the released bench reader in
    ``info.answer_errors``); for verdicts stored without it, the verdict's own errors (unparsed: none)."""
    from ..judges.vlm_output import ANSWER_ERRORS_KEY

    info = verdict.get("info") or {}
    if ANSWER_ERRORS_KEY in info:
        return info[ANSWER_ERRORS_KEY]
    return (verdict.get("errors") or []) if verdict.get("parsed", True) else []


def release_match_request(it: JudgeItem, row: dict[str, Any]) -> MatchRequest:
    """One item as the released evaluation.py reads it (lines 232-242 at c3855aa): a gold error counts when its
    ``type`` is one of the task's types as written; a predicted one when its ``type``, else ``category``, is;
    each keeps what was written (severity, description) for the matcher prompt and the severity sums. An error
    list the script cannot walk (not a list, or an entry that is not an object) fails the item, as there."""
    from ..judges.vlm_output import ANSWER_NOT_OBJECT_KEY

    allowed = TAXONOMY.get(it.task, ())
    gold_rows = [e for e in it.gold_rows if e.get("type") in allowed]
    verdict = row.get("verdict") or {}
    listed = answer_errors(verdict) or []
    error = None
    not_object = (verdict.get("info") or {}).get(ANSWER_NOT_OBJECT_KEY)
    if not_object:
        listed, error = [], f"the released evaluation.py fails on this item: the judge's answer is a JSON {not_object}"
    elif not isinstance(listed, list) or any(not isinstance(e, dict) for e in listed):
        listed, error = [], "the released evaluation.py fails on this item: the judge's 'errors' is not a list of objects"
    pred_rows = [e for e in listed if release_type(e) in allowed]

    def item(r: dict[str, Any], category: Any) -> ErrorItem:
        desc, loc = r.get("description", ""), r.get("location", "")
        return ErrorItem(category=str(category), severity=clamp_severity(r.get("severity", 1)),
                         location="" if loc is None else str(loc), description="" if desc is None else str(desc))

    return MatchRequest(id=it.id, task=it.task, gold=[item(r, r.get("type")) for r in gold_rows],
                        pred=[item(r, release_type(r)) for r in pred_rows], pred_rows=pred_rows,
                        gold_rows=gold_rows, error=error)


def run_matcher(
    matcher: OfflineMatcher | LLMMatcher,
    requests: Sequence[MatchRequest],
    out_path: Path | None,
    resume: bool = True,
    progress: Progress | None = None,
    label: str = "",
) -> tuple[list[ItemMatch], list[dict[str, Any]]]:
    """Match every request; LLM results are stored in ``out_path`` and reused on a rerun."""
    from .judge_metrics import Pair

    cached = read_jsonl_by_id(out_path, repair=True) if (out_path is not None and resume) else {}
    prompt_id = getattr(matcher, "prompt_id", "erm")  # matches made with another prompt are redone
    released = getattr(matcher, "protocol", "erm") == "visual-erm"  # rows must then keep the model's lists
    if out_path is not None and not resume and out_path.exists():
        out_path.unlink()
    matches: list[ItemMatch] = []
    failures: list[dict[str, Any]] = []
    todo: list[MatchRequest] = []
    for r in requests:
        row = cached.get(r.id)
        if (
            row
            and not row.get("error")
            and row.get("n_pred") == len(r.pred)
            and row.get("n_gold") == len(r.gold)
            and row.get("prompt", "erm") == prompt_id
            and (not released or "unmatched" in row)
        ):
            pairs = [
                Pair(pred=int(p["pred"]), gold=int(p["gold"]), level=str(p["level"])) for p in row["pairs"]
            ]
            matches.append(r.item_match(pairs, *_stored_unmatched(row)))
        else:
            todo.append(r)
    sink = JsonlSink(out_path) if out_path is not None else None
    total, count = len(requests), [len(requests) - len(todo)]
    name = f"matching {label}" if label else "matching"
    if progress:
        progress(name, count[0], total)

    def done_one(k: int) -> None:
        count[0] += k
        if progress:
            progress(name, count[0], total)

    for req, outcome in zip(todo, matcher.match(todo, on_done=done_one)):
        row = {"id": req.id, "matcher": matcher.label, "n_pred": len(req.pred), "n_gold": len(req.gold),
               "prompt": prompt_id}
        if outcome.match is None:
            row["error"] = outcome.error
            failures.append({"id": req.id, "error": outcome.error})
        else:
            row["pairs"] = [{"pred": p.pred, "gold": p.gold, "level": p.level} for p in outcome.match.pairs]
            if released:
                row["unmatched"] = {side: None if ids is None else sorted(ids) for side, ids in
                                    (("pred", outcome.match.unmatched_pred), ("gold", outcome.match.unmatched_gold))}
            matches.append(outcome.match)
        if sink is not None:
            sink.write(row)
    order = {r.id: k for k, r in enumerate(requests)}
    matches.sort(key=lambda m: order.get(m.id, 0))
    return matches, failures


def _stored_unmatched(row: dict[str, Any]) -> tuple[frozenset[int] | None, frozenset[int] | None]:
    """The model's own unmatched lists stored with a visual-erm match (None: it gave none)."""
    stored = row.get("unmatched") or {}

    def ids(side: str) -> frozenset[int] | None:
        return None if stored.get(side) is None else frozenset(int(i) for i in stored[side])

    return ids("pred"), ids("gold")


def reward_block(
    items: Sequence[JudgeItem], rows: dict[str, dict[str, Any]], pairs: dict[str, dict[str, Any]] | None
) -> dict[str, Any]:
    rewards, gold_n, gold_tot = [], [], []
    for it in items:
        v = verdict_of(rows.get(it.id) or {})
        if v is None:
            continue
        gold = allowed_errors(it.gold, it.task)
        rewards.append(v.reward)
        gold_n.append(len(gold))
        gold_tot.append(severity_total(gold))
    out: dict[str, Any] = {
        "mean_reward": round(sum(rewards) / len(rewards), 6) if rewards else None,
        "separation": reward_separation(rewards, gold_n),
        "sc_reward": reward_severity_correlation(rewards, gold_tot),
    }
    if pairs is not None:
        ok = [(r["chosen"], r["rejected"]) for r in pairs.values() if "chosen" in r and "rejected" in r]
        out["pairwise"] = pairwise_accuracy(ok)
        out["pairwise"]["failed"] = sum(1 for r in pairs.values() if r.get("error"))
    return out


def points_of(
    items: Sequence[JudgeItem], rows: dict[str, dict[str, Any]], itemised: bool, protocol: str = "erm"
) -> list[dict[str, Any]]:
    """Per-item figures the report plots: reward, gold error count and severity totals (under ``visual-erm``
    the severity totals the metrics' Sc correlates: the released evaluation.py's sums)."""
    from .judge_metrics import severity_sums

    pts = []
    for it in items:
        v = verdict_of(rows.get(it.id) or {})
        if v is None:
            continue
        gold = allowed_errors(it.gold, it.task)
        gold_sev, pred_sev = severity_total(gold), severity_total(allowed_errors(v.errors, it.task))
        if protocol == "visual-erm":
            m = release_match_request(it, rows.get(it.id) or {}).item_match()
            gold_sev, pred_sev = severity_sums(m, "gold")["__total__"], severity_sums(m, "pred")["__total__"]
        pts.append(
            {
                "id": it.id,
                "task": it.task,
                "reward": round(v.reward, 6),
                "gold_n": len(gold),
                "gold_sev": gold_sev,
                "pred_sev": pred_sev if itemised else None,
            }
        )
    return pts


# ----------------------------------------------------------------------------------------------
# the run
# ----------------------------------------------------------------------------------------------


@dataclass
class JudgeBenchConfig:
    data: Path
    out_dir: Path
    judge: str = "critic"
    model: str | None = None
    judge_options: dict[str, Any] = field(default_factory=dict)
    baselines: tuple[str, ...] = BASELINES
    matcher_model: str | None = None  # LLM matcher spec; the offline matcher always runs
    pairwise: Path | None = None
    workers: int = 2
    resume: bool = True
    limit: int | None = None
    allowed_root: tuple[Path, ...] = ()  # folders paths in the data may point into, besides its own
    timeout: float | None = None  # seconds per code candidate's render (None: the renderer's default)
    release_dir: Path | None = None  # a release checkout: --protocol visual-erm's LLM matcher reads its prompt


def _safe(label: str) -> str:
    """A judge or matcher label as a file name."""
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") or "judge"


def judge_label(name: str, model: str | None) -> str:
    return f"{name}:{model}" if model else name


def _check_run_dir(out: Path, label: str, fp: str, resume: bool) -> None:
    """Refuse to mix judges or data sets in one directory (the leaderboard compares sibling dirs)."""
    info = out / "run.json"
    if info.exists() and resume:
        try:
            prev = json.loads(info.read_text())
        except (OSError, json.JSONDecodeError):
            prev = {}
        if prev.get("judge") and prev.get("judge") != label:
            raise InputError(
                f"{out} holds predictions of judge {prev.get('judge')!r}; use another --out "
                f"(runs in sibling directories share one leaderboard) or --no-resume"
            )
        if prev.get("fingerprint") and prev.get("fingerprint") != fp:
            raise InputError(f"{out} holds predictions for different data; use another --out or --no-resume")
    out.mkdir(parents=True, exist_ok=True)
    info.write_text(json.dumps({"judge": label, "fingerprint": fp}))


def _made_by(judge: Any, cfg: JudgeBenchConfig) -> dict[str, str]:
    """What made the judge's verdicts: erm, the judge, its model and request protocol, the render profile
    and the pinned font set (the renderer versions of each code candidate are in its verdict)."""
    from ..renderers.fonts import font_set_id
    from ..schemas import provenance as made_by

    layout = cfg.judge_options.get("request_layout")
    versions = made_by(judge, model=cfg.model, protocol="visual-erm" if layout == "visual-erm-bench" else None,
                       profile=getattr(judge, "profile", None) or "erm")
    versions["fonts"] = font_set_id()
    return versions


def run_judge_bench(cfg: JudgeBenchConfig, progress: Progress | None = None, executor: Any = None,
                    notify: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The whole ``erm bench judge`` run; returns the metrics document (also written to metrics.json).
    ``executor`` (``--ray``): the judge's items run on its workers, each building the judge once; the
    baselines, pairwise rewards and matching stay here. ``notify`` gets one-line notes for the user (e.g.
    that the LLM matcher falls back to erm's prompt)."""
    from functools import partial

    from ..judges import get_judge
    from .report import write_judge_report

    data = Path(cfg.data)
    if not data.exists():  # a FIFO or device is refused by the reader with its own reason
        raise InputError(f"no such data file: {data}")
    items = load_judge_items(data, cfg.allowed_root)
    if cfg.limit:
        items = items[: cfg.limit]
    if cfg.timeout is not None:  # --timeout: every code candidate renders under it
        from ..renderers import RenderOptions

        for it in items:
            it.render_options = RenderOptions(timeout=cfg.timeout)
    if not items:
        raise InputError(f"{data} has no items")
    fp = fingerprint(data) + (f":limit={cfg.limit}" if cfg.limit else "")
    label = judge_label(cfg.judge, cfg.model)
    out = Path(cfg.out_dir)
    if not cfg.resume:
        for stale in [
            out / "predictions.jsonl",
            *out.glob("baselines/*.jsonl"),
            *out.glob("pairwise/*.jsonl"),
            *out.glob("matches/*.jsonl"),
        ]:
            stale.unlink(missing_ok=True)
    _check_run_dir(out, label, fp, cfg.resume)

    pair_path = cfg.pairwise
    if pair_path is None and (data.parent / "pairwise.jsonl").is_file() and data.name != "pairwise.jsonl":
        pair_path = data.parent / "pairwise.jsonl"
    pair_items = load_pair_items(pair_path, cfg.allowed_root) if pair_path else []

    judge_opts = dict(cfg.judge_options)
    if cfg.model:
        judge_opts["model"] = cfg.model
    protocol = "visual-erm" if judge_opts.get("request_layout") == "visual-erm-bench" else "erm"
    if protocol == "visual-erm":  # api_judge.py asks once: an unreadable answer is not asked again
        judge_opts.setdefault("retries", 0)
    runs: list[tuple[str, Any, Path, bool]] = [
        (label, get_judge(cfg.judge, **judge_opts), out / "predictions.jsonl", cfg.judge in ("critic", "vlm"))
    ]
    for b in cfg.baselines:
        if b != cfg.judge:
            runs.append((b, get_judge(b), out / "baselines" / f"{b}.jsonl", False))

    matchers: list[OfflineMatcher | LLMMatcher] = [OfflineMatcher()]
    if cfg.matcher_model:
        llm = LLMMatcher(cfg.matcher_model, protocol=protocol, release_dir=cfg.release_dir)
        if llm.prompt_note and notify is not None:
            notify(llm.prompt_note)
        matchers.append(llm)

    judges_doc: dict[str, Any] = {}
    points: dict[str, list[dict[str, Any]]] = {}
    margins: dict[str, list[float]] = {}
    for lab, judge, path, itemised in runs:
        remote = executor if (executor is not None and lab == label) else None
        rows = judge_items(judge, lab, items, path, workers=cfg.workers, resume=cfg.resume, progress=progress,
                           executor=remote, judge_factory=partial(get_judge, cfg.judge, **judge_opts))
        prow = None
        if pair_items:
            prow = judge_pairs(
                judge,
                lab,
                pair_items,
                out / "pairwise" / f"{_safe(lab)}.jsonl",
                workers=cfg.workers,
                resume=cfg.resume,
                progress=progress,
                known=known_rewards(items, rows),
            )
            margins[lab] = [
                r["chosen"] - r["rejected"] for r in prow.values() if "chosen" in r and "rejected" in r
            ]
        failed = [{"id": i, "error": r["error"]} for i, r in rows.items() if r.get("error")]
        doc: dict[str, Any] = {
            "judge": lab,
            "name": getattr(judge, "name", lab),
            "version": getattr(judge, "version", "?"),
            "kind": "itemised" if itemised else "scalar",
            "items": sum(1 for it in items if verdict_of(rows.get(it.id) or {}) is not None),
            "failed": len(failed),
            "failures": failed[:50],
            "unparsed": sum(
                1 for it in items if (rows.get(it.id) or {}).get("verdict", {}).get("parsed") is False
            ),
            "reward": reward_block(items, rows, prow),
        }
        if itemised:
            reqs = match_requests(items, rows, protocol)
            doc["vcbench"] = {}
            for m in matchers:
                mpath = None
                if isinstance(m, LLMMatcher):
                    mpath = out / "matches" / f"{_safe(lab)}.{_safe(m.label)}.jsonl"
                matches, mfail = run_matcher(
                    m, reqs, mpath, resume=cfg.resume, progress=progress, label=m.label
                )
                if isinstance(m, OfflineMatcher):  # cheap to recompute; written for inspection only
                    (out / "matches").mkdir(parents=True, exist_ok=True)
                    (out / "matches" / f"{_safe(lab)}.{m.label}.jsonl").write_text(
                        "".join(json.dumps(stamp(mt.to_dict())) + "\n" for mt in matches)
                    )
                doc["vcbench"][m.label] = {
                    "metrics": vcbench_metrics(matches, released=protocol == "visual-erm"),
                    "failed": len(mfail),
                    "failures": mfail[:50],
                }
                if isinstance(m, LLMMatcher):  # which matcher prompt produced these numbers
                    doc["vcbench"][m.label]["prompt"] = m.prompt_source
        judges_doc[lab] = doc
        points[lab] = points_of(items, rows, itemised, protocol if lab == label else "erm")

    task_counts = {
        t: sum(1 for it in items if it.task == t) for t in TASKS if any(it.task == t for it in items)
    }
    vcb = is_vc_rewardbench(data, task_counts) and not cfg.limit
    metrics: dict[str, Any] = {
        "kind": "judge",
        "data": {
            "path": str(data),
            "name": data.name,
            "fingerprint": fp,
            "items": len(items),
            "tasks": task_counts,
            "pairs": len(pair_items),
            "pairwise_path": str(pair_path) if pair_path else None,
            "is_vc_rewardbench": vcb,
        },
        "judges": judges_doc,
        "provenance": provenance(versions=_made_by(runs[0][1], cfg)),
    }
    if vcb:
        metrics["reference"] = reference_rows()
    (out / "metrics.json").write_text(json.dumps(stamp(metrics), indent=2, ensure_ascii=False, default=str))
    (out / "points.json").write_text(json.dumps(stamp({"points": points, "margins": margins})))
    report = write_judge_report(out, metrics, points, margins, metrics.get("reference"))
    metrics["report"] = str(report)
    return metrics
