"""Resumable batch judging of VC-RewardBench records (``erm judge --batch``).

Uses the same engine as ``erm bench judge`` (:func:`erm_cli.bench.judge_bench.judge_items`), so both
write the same predictions format: one JSON line per id, ``{"id", "task", "judge", "verdict": {...}}``
or ``{"id", "task", "judge", "error": "..."}`` for an item that failed alone. Lines are appended and
flushed as items finish; a rerun skips finished ids and retries failed ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from ..data.vcbench import VCBenchRecord
from ..errors import ErmError
from .base import Judge


def judge_records(records: Sequence[VCBenchRecord], judge: Judge, out_path: Path, *, workers: int = 2,
                  resume: bool = True, on_progress: Callable[[int, int], None] | None = None,
                  executor: Any = None, judge_factory: Callable[[], Any] | None = None,
                  fail_under: float | None = None, render_options: Any = None) -> dict[str, Any]:
    """Judge ``records`` into ``out_path`` (resumable). ``executor`` (e.g. a Ray pool) judges on its workers,
    each with a judge from ``judge_factory``; the rows are written here in the same format. The summary
    counts items judged, items whose candidate did not render (reward 0) and items that failed alone, and
    lists the ids below ``fail_under`` when given."""
    from ..bench.judge_bench import JudgeItem, judge_items

    items = [JudgeItem(id=r.id, task=r.task, reference=r.gt_img_path, candidate=r.pred_path, gold=list(r.errors),
                       candidate_is_code=r.pred_is_code, error=r.error, render_options=render_options)
             for r in records]
    before = 0
    if resume and out_path.exists():
        from ..jsonl import read_jsonl_by_id

        before = sum(1 for row in read_jsonl_by_id(out_path).values() if "verdict" in row)
    progress = (lambda _label, done, total: on_progress(done, total)) if on_progress else None
    rows = judge_items(judge, getattr(judge, "name", "judge"), items, out_path, workers=workers, resume=resume,
                       progress=progress, executor=executor, judge_factory=judge_factory)
    wanted = [it.id for it in items]
    verdicts = {i: rows[i]["verdict"] for i in wanted if i in rows and "verdict" in rows[i]}
    rewards = [float(v.get("reward", 0.0)) for v in verdicts.values()]
    summary: dict[str, Any] = {
        "total": len(items),
        "judged": sum(1 for v in verdicts.values() if v.get("render_ok", True)),
        "render_failed": sum(1 for v in verdicts.values() if not v.get("render_ok", True)),
        "resumed": before,
        "failed": sum(1 for i in wanted if i in rows and "error" in rows[i]),
        # over every verdict: a candidate that did not render scores 0, as it does as an RL reward
        "mean_reward": sum(rewards) / len(rewards) if rewards else 0.0,
        "predictions": str(out_path),
    }
    if fail_under is not None:
        summary["fail_under"] = fail_under
        summary["below_fail_under"] = sorted(i for i, v in verdicts.items() if float(v.get("reward", 0.0)) < fail_under)
    return summary


def safe_stem(item_id: str) -> str:
    """The file name of an item's ``--diff-image`` picture (``erm view`` finds the pictures by it)."""
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", item_id).strip("._")[:100] or "item"


def write_batch_diffs(records: Sequence[VCBenchRecord], predictions: Path, folder: Path) -> dict[str, Any]:
    """One ``--diff-image`` picture per judged pair of ``predictions`` into ``folder`` (``<id>.png``; a pair
    whose candidate did not render or could not be read gets none). Returns ``{"written", "folder"}``."""
    from ..jsonl import read_jsonl_by_id
    from .diff_image import write_diff_image
    from .pipeline import candidate_image
    from .verdict import Verdict

    rows = read_jsonl_by_id(predictions)
    folder.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    written = 0
    for rec in records:
        row = rows.get(rec.id) or {}
        if rec.error is not None or "verdict" not in row or not row["verdict"].get("render_ok", True):
            continue
        stem = safe_stem(rec.id)
        name, n = stem, 1
        while name in used:
            n += 1
            name = f"{stem}-{n}"
        used.add(name)
        try:
            from ..imageio import load_image

            ref = load_image(rec.gt_img_path, what="reference")
            cand = candidate_image(rec.pred_path, candidate_is_code=rec.pred_is_code)
        except ErmError:
            continue  # the item's own line already says what was wrong with it
        if cand is None:
            continue
        write_diff_image(folder / f"{name}.png", ref, cand, Verdict.from_dict(row["verdict"]))
        written += 1
    return {"written": written, "folder": str(folder)}
