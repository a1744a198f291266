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
from .base import Judge


def judge_records(records: Sequence[VCBenchRecord], judge: Judge, out_path: Path, *, workers: int = 2,
                  resume: bool = True, on_progress: Callable[[int, int], None] | None = None,
                  executor: Any = None, judge_factory: Callable[[], Any] | None = None) -> dict[str, Any]:
    """Judge ``records`` into ``out_path`` (resumable). ``executor`` (e.g. a Ray pool) judges on its workers,
    each with a judge from ``judge_factory``; the rows are written here in the same format."""
    from ..bench.judge_bench import JudgeItem, judge_items

    items = [JudgeItem(id=r.id, task=r.task, reference=r.gt_img_path, candidate=r.pred_path, gold=list(r.errors),
                       candidate_is_code=r.pred_is_code, error=r.error) for r in records]
    before = 0
    if resume and out_path.exists():
        from ..jsonl import read_jsonl_by_id

        before = sum(1 for row in read_jsonl_by_id(out_path).values() if "verdict" in row)
    progress = (lambda _label, done, total: on_progress(done, total)) if on_progress else None
    rows = judge_items(judge, getattr(judge, "name", "judge"), items, out_path, workers=workers, resume=resume,
                       progress=progress, executor=executor, judge_factory=judge_factory)
    wanted = {it.id for it in items}
    ok = [rows[i]["verdict"] for i in wanted if i in rows and "verdict" in rows[i]]
    rewards = [float(v.get("reward", 0.0)) for v in ok]
    return {"total": len(items), "judged": len(ok), "resumed": before,
            "failed": sum(1 for i in wanted if i in rows and "error" in rows[i]),
            "mean_reward": sum(rewards) / len(rewards) if rewards else 0.0, "predictions": str(out_path)}
