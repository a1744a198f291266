"""``erm bench policy``: vision-to-code metrics for generated code against references.

Inputs
------
* predictions: a JSONL file (one line per item: ``id`` and the code in ``code`` / ``response`` /
  ``output`` / ``prediction`` (a model answer with fences is fine) or ``code_path``; optional
  ``task`` and ``kind``) or a directory of ``<id>.<ext>`` code files;
* references: a JSONL file (``id``; ground-truth code in ``gt_code`` / ``code`` / ``gt_code_path`` /
  ``code_path``, a table in ``gt_html`` / ``gt_table``; the reference image in ``gt_img_path`` /
  ``image``; optional ``task``/``category``) or a directory of ``<id>.<ext>`` code and ``<id>.png``
  images. Paths are relative to the JSONL file.

Per item
--------
The prediction is rendered through erm's renderers (sandboxed, cached); the reference image is the
given one or the render of the reference code. Then, by task:

* every task: render success, and the judge's reward (critic by default, ``--judge vlm --model``,
  or none) of the render against the reference image (a failed render scores 0);
* chart (matplotlib): ChartMimic-style text / layout / type / colour F1 from traced calls, both
  programs traced inside the sandbox (needs the reference code);
* table: TEDS and TEDS-S of the normalised prediction against the reference table source;
* svg: MSE, SSIM (a failed render is scored as a blank white image, StarVector's convention), code
  length and its ratio to the reference code; DINO / CLIP cosine with ``--dino`` / ``--clip`` DIR.

Aggregates follow ChartMimic: a per-item score x 100 averaged over *all* items of the task, so an
item that failed counts 0; ``exec_rate`` is the share of predictions that rendered.
Results are appended to ``results.jsonl`` one item at a time, so an interrupted run resumes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..inputs import allowed_roots, confine, read_input_text
from ..jsonl import iter_jsonl, read_jsonl_by_id
from ..judges.verdict import TASKS
from ..schemas import stamp
from .versions import provenance

CODE_KEYS = ("code", "response", "output", "prediction", "completion", "pred_code", "text")
CODE_PATH_KEYS = ("code_path", "pred_code_path", "path", "file")
REF_CODE_KEYS = (
    "gt_code",
    "code",
    "reference_code",
    "gt_table",
    "gt_html",
    "html",
    "gt_markdown",
    "gt_latex",
)
REF_CODE_PATH_KEYS = ("gt_code_path", "code_path", "gt_path")
REF_IMAGE_KEYS = ("gt_img_path", "image", "img_path", "image_path", "gt_image", "reference")
CODE_EXTENSIONS = (".py", ".svg", ".html", ".htm", ".md", ".tex", ".txt")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")


@dataclass
class PolicyItem:
    id: str
    code: str
    task: str | None = None
    kind: str | None = None
    ref_code: str | None = None
    ref_image: Path | None = None
    ref_kind: str | None = None
    error: str | None = None  # a refused or unreadable path: the item fails alone with this reason


# ----------------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------------


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [row for _, row in iter_jsonl(path)]


def _row_id(row: dict[str, Any], where: str) -> str:
    for key in ("id", "idx", "name", "image_id"):
        if row.get(key) not in (None, ""):
            return str(row[key])
    raise InputError(f"{where}: a line has no 'id'")


def _task_of(row: dict[str, Any]) -> str | None:
    t = str(row.get("task") or row.get("category") or "").strip().lower() or None
    return t if t in TASKS else None


def _first_text(row: dict[str, Any], keys: Iterable[str]) -> str | None:
    for k in keys:
        v = row.get(k)
        if isinstance(v, str) and v.strip():
            return v
    return None


def _first_path(row: dict[str, Any], keys: Iterable[str], base: Path, roots: tuple[Path, ...]) -> Path | None:
    """The first path among ``keys``, resolved inside ``roots`` (PathNotAllowed when it is outside)."""
    for k in keys:
        v = row.get(k)
        if isinstance(v, str) and v.strip():
            return confine(v, base, roots, k)
    return None


def _read_code_path(row: dict[str, Any], keys: Iterable[str], base: Path, roots: tuple[Path, ...],
                    entry: dict[str, Any]) -> str | None:
    """Code from the first path among ``keys``; a refused or unreadable path sets ``entry['error']``."""
    try:
        cp = _first_path(row, keys, base, roots)
        if cp is None:
            return None
        entry["filename"] = cp.name
        return read_input_text(cp, "code path")
    except InputError as exc:
        entry["error"] = str(exc)
        return None


def load_predictions(path: str | Path, allowed_root: Iterable[str | Path] = ()) -> dict[str, dict[str, Any]]:
    """id -> {code, task, kind} from a JSONL file or a directory of code files."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"predictions: no such file or directory: {p}")
    out: dict[str, dict[str, Any]] = {}
    if p.is_dir():
        for f in sorted(p.iterdir()):
            if f.suffix.lower() in CODE_EXTENSIONS and f.is_file():
                entry: dict[str, Any] = {"code": "", "task": None, "kind": None, "filename": f.name}
                try:
                    entry["code"] = read_input_text(f, "prediction")
                except InputError as exc:
                    entry["error"] = str(exc)
                out[f.stem] = entry
        if not out:
            raise InputError(f"predictions: no code files ({', '.join(CODE_EXTENSIONS)}) in {p}")
        return out
    roots = allowed_roots(p.parent, allowed_root)
    for row in _read_jsonl(p):
        rid = _row_id(row, str(p))
        entry = {"code": "", "task": _task_of(row), "kind": row.get("kind"), "filename": None}
        code = _first_text(row, CODE_KEYS)
        if code is None:
            code = _read_code_path(row, CODE_PATH_KEYS, p.parent, roots, entry)
        entry["code"] = code or ""
        out[rid] = entry
    if not out:
        raise InputError(f"predictions: {p} is empty")
    return out


def load_references(path: str | Path, allowed_root: Iterable[str | Path] = ()) -> dict[str, dict[str, Any]]:
    """id -> {code, image, task, kind} from a JSONL file or a directory of code files and images."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"--refs: no such file or directory: {p}")
    out: dict[str, dict[str, Any]] = {}
    if p.is_dir():
        for f in sorted(p.iterdir()):
            if not f.is_file():
                continue
            entry = out.setdefault(
                f.stem, {"code": None, "image": None, "task": None, "kind": None, "filename": None}
            )
            if f.suffix.lower() in CODE_EXTENSIONS:
                try:
                    entry["code"] = read_input_text(f, "reference code")
                except InputError as exc:
                    entry["error"] = str(exc)
                entry["filename"] = f.name
            elif f.suffix.lower() in IMAGE_EXTENSIONS:
                entry["image"] = f
        out = {k: v for k, v in out.items() if v["code"] or v["image"]}
        if not out:
            raise InputError(f"--refs: no code files or images in {p}")
        return out
    roots = allowed_roots(p.parent, allowed_root)
    for row in _read_jsonl(p):
        rid = _row_id(row, str(p))
        entry: dict[str, Any] = {"code": None, "image": None, "task": _task_of(row), "kind": row.get("kind"),
                                 "filename": None}
        code = _first_text(row, REF_CODE_KEYS)
        if code is None:
            code = _read_code_path(row, REF_CODE_PATH_KEYS, p.parent, roots, entry)
        entry["code"] = code
        try:
            entry["image"] = _first_path(row, REF_IMAGE_KEYS, p.parent, roots)
        except InputError as exc:
            entry["error"] = str(exc)
        out[rid] = entry
    if not out:
        raise InputError(f"--refs: {p} is empty")
    return out


def build_items(
    predictions: dict[str, dict[str, Any]], references: dict[str, dict[str, Any]]
) -> list[PolicyItem]:
    """Pair predictions with references by id; ids without a reference are an input error."""
    from ..renderers import TASK_OF_KIND, detect_kind, extract_code

    missing = [i for i in predictions if i not in references]
    if missing:
        raise InputError(f"{len(missing)} prediction id(s) have no reference, e.g. {missing[0]!r}")
    items = []
    for rid, pred in predictions.items():
        ref = references[rid]
        code, fence_kind = extract_code(pred["code"]) if pred["code"].strip() else ("", None)
        kind = pred.get("kind") or fence_kind
        if not kind and code.strip():
            try:
                kind = detect_kind(code, pred.get("filename"))
            except InputError:
                kind = None
        ref_code = ref.get("code")
        ref_kind = ref.get("kind")
        if ref_code and not ref_kind:
            ref_code_x, rk = extract_code(ref_code)
            ref_code = ref_code_x
            try:
                ref_kind = rk or detect_kind(ref_code, ref.get("filename"))
            except InputError:
                ref_kind = None
        task = (
            pred.get("task")
            or ref.get("task")
            or TASK_OF_KIND.get(kind or "")
            or TASK_OF_KIND.get(ref_kind or "")
        )
        items.append(
            PolicyItem(
                id=rid,
                code=code,
                task=task,
                kind=kind,
                ref_code=ref_code,
                ref_image=ref.get("image"),
                ref_kind=ref_kind,
                error=pred.get("error") or ref.get("error"),
            )
        )
    return items


# ----------------------------------------------------------------------------------------------
# one item
# ----------------------------------------------------------------------------------------------


@dataclass
class PolicyOptions:
    judge: Any = None  # a Judge instance, or None for no reward
    timeout: float = 30.0
    strict: bool = False
    embedders: tuple = ()
    profile: str = "erm"  # how predictions render (renderers/profiles.py); references always render erm's way


def _render(code: str, kind: str | None, timeout: float, strict: bool, size: tuple[int, int] | None = None,
            profile: str = "erm"):
    from ..renderers import RenderOptions, render

    opts = RenderOptions(
        width=size[0] if size else None, height=size[1] if size else None, timeout=timeout, strict=strict,
        profile=profile,
    )
    return render(code, kind=kind, options=opts)


def evaluate_item(item: PolicyItem, opts: PolicyOptions) -> dict[str, Any]:
    """All metrics of one item; never raises for bad code (the reason is recorded instead)."""
    from PIL import Image

    from ..imageio import load_image

    t0 = time.perf_counter()
    rec: dict[str, Any] = {"id": item.id, "task": item.task, "kind": item.kind}
    if item.error is not None:  # a refused or unreadable path: nothing of this item is read
        rec["error"] = item.error
        return rec
    if item.task not in TASKS:
        rec["error"] = "task unknown: give 'task' in the predictions or references"
        return rec
    # reference image: given, or the render of the reference code
    ref_img = None
    if item.ref_image is not None:
        try:
            ref_img = load_image(item.ref_image, what=f"reference image of {item.id}")
        except InputError as exc:
            rec["ref_error"] = str(exc)
    if ref_img is None and item.ref_code:
        rr = _render(item.ref_code, item.ref_kind, opts.timeout, opts.strict)
        if rr.ok:
            ref_img = rr.image()
        else:
            rec["ref_error"] = f"reference code did not render: {rr.error}"
    # the prediction
    if not item.code.strip():
        res = None
        rec.update(render_ok=False, render_error="no code in the prediction")
    else:
        size = ref_img.size if (item.task == "svg" and ref_img is not None) else None
        res = _render(item.code, item.kind, opts.timeout, opts.strict, size, opts.profile)
        rec.update(
            render_ok=bool(res.ok),
            render_error=res.error,
            render_seconds=round(res.seconds, 4),
            cache_hit=res.cache_hit,
            versions=res.versions,
            kind=res.kind,
        )
    pred_img = res.image() if (res is not None and res.ok) else None
    if pred_img is not None:
        from ..judges.pipeline import is_blank

        rec["render_size"] = list(pred_img.size)

        if is_blank(pred_img) and (ref_img is None or not is_blank(ref_img)):
            rec.update(render_ok=False, render_error="blank render (a single colour)")
            pred_img = None
    # the judge's reward
    if opts.judge is not None and ref_img is not None:
        if pred_img is None:
            rec.update(reward=0.0, rl_reward=0.0)
        else:
            try:
                v = opts.judge.judge(ref_img, pred_img, item.task)
                rec.update(
                    reward=round(v.reward, 6),
                    rl_reward=round(v.rl_reward, 6),
                    severity_total=v.severity_total,
                    n_errors=len(v.errors),
                )
            except Exception as exc:  # noqa: BLE001 - a judge failure fails this item's reward only
                rec["judge_error"] = (
                    f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                )
    # task metrics
    if item.task == "chart":
        rec["chart"] = _chart_metrics(item, rec, opts)
    elif item.task == "table":
        rec["table"] = _table_metrics(item, opts.timeout)
    elif item.task == "svg" and ref_img is not None:
        from .svg_metrics import svg_scores

        cand = pred_img if pred_img is not None else Image.new("RGB", ref_img.size, "white")
        rec["svg"] = svg_scores(
            ref_img, cand, item.code, item.ref_code if item.ref_kind == "svg" else None, opts.embedders
        )
    rec["seconds"] = round(time.perf_counter() - t0, 4)
    return rec


def _chart_metrics(item: PolicyItem, rec: dict[str, Any], opts: PolicyOptions) -> dict[str, Any] | None:
    if not item.ref_code or item.ref_kind != "matplotlib":
        return {"skipped": "ChartMimic metrics need matplotlib reference code"}
    from .chart_metrics import chart_scores
    from .trace_sandbox import trace_chart_code

    gold = trace_chart_code(item.ref_code, timeout=opts.timeout, strict=opts.strict)
    if not gold.ok:
        return {"skipped": f"reference code could not be traced: {gold.error}"}
    pred = None
    if item.kind == "matplotlib" and rec.get("render_ok"):
        pred = trace_chart_code(item.code, timeout=opts.timeout, strict=opts.strict)
    scores = chart_scores(pred.trace if (pred is not None and pred.ok) else None, gold.trace)
    if pred is not None and not pred.ok:
        scores["trace_error"] = pred.error
    elif item.kind != "matplotlib":
        scores["trace_error"] = f"not traceable: {item.kind} code (ChartMimic metrics cover matplotlib only)"
    return scores


def _table_metrics(item: PolicyItem, timeout: float) -> dict[str, Any] | None:
    if not item.ref_code:
        return {"skipped": "TEDS needs the reference table source (HTML, Markdown or LaTeX)"}
    from .teds import TedsTooLarge, teds

    try:  # the distance is quadratic or worse in the (untrusted) predicted table's size: bounded
        return {
            "teds": round(teds(item.code, item.ref_code, timeout=timeout), 6),
            "teds_s": round(teds(item.code, item.ref_code, structure_only=True, timeout=timeout), 6),
        }
    except TedsTooLarge as exc:
        return {"teds": 0.0, "teds_s": 0.0, "teds_note": f"not computed ({exc}); scored 0"}


# ----------------------------------------------------------------------------------------------
# aggregation
# ----------------------------------------------------------------------------------------------


def _mean(vals: list[float]) -> float | None:
    return sum(vals) / len(vals) if vals else None


def _r(v: float | None, k: int = 4) -> float | None:
    return None if v is None else round(v, k)


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-task aggregates (percent where the peers report percent)."""
    tasks: dict[str, Any] = {}
    for task in TASKS:
        rows = [r for r in results if r.get("task") == task]
        if not rows:
            continue
        t: dict[str, Any] = {"items": len(rows), "failed_items": sum(1 for r in rows if r.get("error"))}
        t["exec_rate"] = _r(100.0 * sum(1 for r in rows if r.get("render_ok")) / len(rows))
        rewards = [r["reward"] for r in rows if "reward" in r]
        judge_failed = sum(1 for r in rows if r.get("judge_error"))
        if judge_failed:
            t["judge_failed"] = judge_failed
        if rewards:
            t["reward"] = _r(_mean(rewards))
            t["rl_reward"] = _r(_mean([r["rl_reward"] for r in rows if "rl_reward" in r]))
            t["reward_items"] = len(rewards)
        if task == "chart":
            scored = [
                r["chart"] for r in rows if isinstance(r.get("chart"), dict) and "average" in r["chart"]
            ]
            t["chartmimic_items"] = len(scored)
            if scored:
                for m in ("text", "layout", "type", "color"):
                    t[m] = _r(100.0 * _mean([s[m]["f1"] for s in scored]))
                t["low_level"] = _r(100.0 * _mean([s["average"] for s in scored]))
        elif task == "table":
            scored = [r["table"] for r in rows if isinstance(r.get("table"), dict) and "teds" in r["table"]]
            t["teds_items"] = len(scored)
            if scored:
                t["teds"] = _r(100.0 * _mean([s["teds"] for s in scored]))
                t["teds_s"] = _r(100.0 * _mean([s["teds_s"] for s in scored]))
        elif task == "svg":
            scored = [r["svg"] for r in rows if isinstance(r.get("svg"), dict)]
            t["svg_items"] = len(scored)
            for m, scale in (("mse", 1.0), ("ssim", 100.0), ("dino", 100.0), ("clip", 100.0)):
                vals = [s[m] for s in scored if m in s]
                if vals:
                    t[m] = _r(scale * _mean(vals), 6 if m == "mse" else 4)
            chars = [s["code_chars"] for s in scored if "code_chars" in s]
            if chars:
                t["code_chars"] = _r(_mean(chars), 1)
            ratios = [s["length_ratio"] for s in scored if "length_ratio" in s]
            if ratios:
                t["length_ratio"] = _r(_mean(ratios))
        tasks[task] = t
    return tasks


# ----------------------------------------------------------------------------------------------
# the run
# ----------------------------------------------------------------------------------------------


def _done_ids(path: Path) -> dict[str, dict[str, Any]]:
    return read_jsonl_by_id(path)


def evaluate_safely(item: PolicyItem, opts: PolicyOptions) -> dict[str, Any]:
    """:func:`evaluate_item`, with an unexpected failure recorded as this item's error (an InputError
    still stops the run)."""
    try:
        return evaluate_item(item, opts)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - an unexpected failure fails this item alone
        return {"id": item.id, "task": item.task,
                "error": f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}


class PolicyTask:
    """One item's evaluation as a picklable callable for an executor (``--ray``): each worker builds its
    judge once from ``make_judge`` (None: no reward)."""

    def __init__(self, opts: PolicyOptions, make_judge: Callable[[], Any] | None) -> None:
        self.opts = PolicyOptions(judge=None, timeout=opts.timeout, strict=opts.strict, embedders=opts.embedders,
                                  profile=opts.profile)
        self.make_judge = make_judge
        self._ready = False

    def __getstate__(self) -> dict[str, Any]:
        return {"opts": self.opts, "make_judge": self.make_judge, "_ready": False}

    def warm(self) -> None:
        if not self._ready:
            if self.make_judge is not None:
                from .judge_bench import ensure_loaded

                self.opts.judge = self.make_judge()
                ensure_loaded(self.opts.judge)
            self._ready = True

    def __call__(self, item: PolicyItem) -> dict[str, Any]:
        self.warm()
        return evaluate_safely(item, self.opts)

    def failed(self, item: PolicyItem, reason: str) -> dict[str, Any]:
        return {"id": item.id, "task": item.task, "error": reason}


def run_policy_bench(
    predictions: str | Path,
    references: str | Path,
    out_dir: str | Path,
    *,
    judge: Any = None,
    workers: int = 2,
    timeout: float = 30.0,
    strict: bool = False,
    embedders: tuple = (),
    resume: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    allowed_root: Iterable[str | Path] = (),
    executor: Any = None,
    judge_factory: Callable[[], Any] | None = None,
    profile: str = "erm",
    limit: int | None = None,
) -> dict[str, Any]:
    """Evaluate every prediction (the first ``limit`` items when given); write ``results.jsonl``,
    ``metrics.json`` and ``report.md`` to ``out_dir``.
    Paths in the JSONL files must resolve inside their folder or an ``allowed_root`` (else the item fails).
    ``executor`` (``--ray``): items are evaluated on its workers, each with a judge from ``judge_factory``
    (a picklable callable; by default ``judge`` itself is shipped); results are written here as they come."""
    from .report import write_policy_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    items = build_items(load_predictions(predictions, allowed_root), load_references(references, allowed_root))
    if limit is not None:
        items = items[:limit]  # metrics cover these items only, even when results.jsonl holds more
    results_path = out / "results.jsonl"
    done = _done_ids(results_path) if resume else {}
    if not resume and results_path.exists():
        results_path.unlink()
    todo = [it for it in items if it.id not in done]
    opts = PolicyOptions(judge=judge, timeout=timeout, strict=strict, embedders=embedders, profile=profile)
    if todo and judge is not None and executor is None:
        from .judge_bench import ensure_loaded

        ensure_loaded(judge)  # a model that cannot load stops here with its own error
    lock = threading.Lock()
    finished = [len(items) - len(todo)]
    if on_progress:
        on_progress(finished[0], len(items))

    def one(item: PolicyItem) -> None:
        record(item, evaluate_safely(item, opts))

    def record(item: PolicyItem, rec: dict[str, Any]) -> None:
        with lock:
            with results_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(stamp(rec), ensure_ascii=False, default=str) + "\n")
            done[item.id] = rec
            finished[0] += 1
            if on_progress:
                on_progress(finished[0], len(items))

    if executor is not None and todo:
        from .judge_bench import _Given

        make = judge_factory or (_Given(judge) if judge is not None else None)
        from dataclasses import replace

        remote = [replace(it, ref_image=it.ref_image.resolve()) if it.ref_image is not None else it for it in todo]
        for index, rec in executor.map_unordered(PolicyTask(opts, make), remote):  # absolute paths for workers
            record(todo[index], rec)
    elif workers <= 1:
        for it in todo:
            one(it)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, todo))
    wanted = {it.id for it in items}
    results = [done[i] for i in (it.id for it in items) if i in done and i in wanted]
    renderer_versions: dict[str, str] = {}
    for r in results:
        for k, v in (r.get("versions") or {}).items():
            renderer_versions.setdefault(k, str(v))
    summary = {
        "kind": "policy",
        "predictions": str(predictions),
        "references": str(references),
        "items": len(results),
        "judge": (
            {"name": getattr(judge, "name", "?"), "version": getattr(judge, "version", "?")}
            if judge is not None
            else None
        ),
        "profile": profile,
        "tasks": summarise(results),
        "provenance": provenance(renderers=renderer_versions),
    }
    (out / "metrics.json").write_text(json.dumps(stamp(summary), indent=2, ensure_ascii=False))
    summary["report"] = str(write_policy_report(out, summary, results))
    return summary
