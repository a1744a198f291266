"""Write a run's viewer page: called at the end of ``erm judge --batch``, ``erm bench judge``, ``erm refine``
and ``erm refine --batch`` (``RUN_DIR/index.html`` + ``RUN_DIR/view.json``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .html import write_index
from .model import batch_aggregate, bench_aggregate, judge_document, refine_document


def items_from_records(records: Sequence[Any]) -> list[Any]:
    """VC-RewardBench records (:class:`erm_cli.data.vcbench.VCBenchRecord`) as judge items."""
    from ..bench.judge_bench import JudgeItem

    return [JudgeItem(id=r.id, task=r.task, reference=Path(r.gt_img_path), candidate=Path(r.pred_path),
                      gold=list(r.errors), candidate_is_code=r.pred_is_code, error=r.error) for r in records]


def _rows(predictions: Path) -> dict[str, dict[str, Any]]:
    from ..jsonl import read_jsonl_by_id

    return read_jsonl_by_id(predictions) if predictions.is_file() else {}


def write_batch_view(run_dir: Path, records: Sequence[Any], summary: dict[str, Any],
                     diff_dir: Path | None = None) -> Path:
    """The page of an ``erm judge --batch`` run (its ``predictions.jsonl`` and the batch's records)."""
    doc = judge_document(f"erm judge --batch - {run_dir.name}", "judge-batch", run_dir, items_from_records(records),
                         _rows(run_dir / "predictions.jsonl"), batch_aggregate(summary), diff_dir)
    return write_index(run_dir, doc)


def bench_document(run_dir: Path, items: Sequence[Any], metrics: dict[str, Any]) -> dict[str, Any]:
    title = f"erm bench judge - {(metrics.get('data') or {}).get('name', run_dir.name)} ({run_dir.name})"
    return judge_document(title, "bench-judge", run_dir, items, _rows(run_dir / "predictions.jsonl"),
                          bench_aggregate(metrics))


def write_bench_view(run_dir: Path, data: Path, metrics: dict[str, Any], allowed_root: Sequence[Path] = (),
                     limit: int | None = None, diff_dir: Path | None = None) -> tuple[Path, dict[str, Any] | None]:
    """The page of an ``erm bench judge`` run: its items (re-read from ``data``, the first ``limit``), the
    judge's predictions, the headline metrics; with ``diff_dir``, one diff picture per pair there first.
    Returns the page and the diff summary (``{"written", "folder"}``, or ``None``)."""
    from ..bench.judge_bench import load_judge_items

    items = load_judge_items(data, allowed_root)
    if limit:
        items = items[:limit]
    doc = bench_document(run_dir, items, metrics)
    diffs = None
    if diff_dir is not None:
        from .diffs import write_pair_diffs

        diffs = write_pair_diffs(doc, diff_dir)
    return write_index(run_dir, doc), diffs


def write_refine_view(run_dir: Path) -> Path:
    return write_index(run_dir, refine_document(run_dir))


def write_refine_batch_view(run_dir: Path, summary: dict[str, Any]) -> Path:
    """The page of an ``erm refine --batch`` run: each item's reference against its best render, with the best
    candidate's verdict (``items/<id>/summary.json``), lowest reward first; every item's folder also gets the
    page of its own candidates (as ``erm refine IMAGE`` writes)."""
    import json
    import os

    from ..bench.judge_bench import JudgeItem

    base = run_dir.resolve()  # predictions.jsonl's paths are relative to the resolved run folder
    items: list[Any] = []
    rows: dict[str, dict[str, Any]] = {}
    for item_id, row in _rows(run_dir / "predictions.jsonl").items():
        item_dir = run_dir / "items" / item_id
        ok = row.get("status") == "ok"
        best = base / str(row.get("pred_img_path") or Path("items") / item_id / "best.png")
        reference = Path(os.path.normpath(base / str(row.get("gt_img_path") or "")))
        items.append(JudgeItem(id=item_id, task=str(row.get("category") or "auto"), reference=reference,
                               candidate=best,
                               error=None if ok else str(row.get("error") or "failed")))
        verdict = None
        if ok and (item_dir / "summary.json").is_file():
            verdict = json.loads((item_dir / "summary.json").read_text(encoding="utf-8")).get("best_verdict")
            if (item_dir / "trajectory.jsonl").is_file():
                write_refine_view(item_dir)
        rows[item_id] = ({"id": item_id, "judge": (summary.get("judge") or {}).get("name"), "verdict": verdict}
                         if verdict else {"id": item_id, "error": row.get("error")})
    aggregate: list[list[Any]] = [["items", summary.get("items")], ["ok", summary.get("ok")],
                                  ["failed", summary.get("failed")]]
    if summary.get("mean_reward") is not None:
        aggregate.append(["mean reward: first draft -> best",
                          f"{summary.get('mean_reward_initial'):.3f} -> {summary['mean_reward']:.3f}"])
    for task, v in sorted((summary.get("per_task") or {}).items()):
        aggregate.append([f"{task} (n={v['n']})", f"{v['reward_initial']:.3f} -> {v['reward']:.3f}"])
    doc = judge_document(f"erm refine --batch - {run_dir.name}", "refine-batch", run_dir, items, rows, aggregate)
    return write_index(run_dir, doc)
