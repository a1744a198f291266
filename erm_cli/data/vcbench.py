"""The one VC-RewardBench JSONL reader (ARCHITECTURE.md §3.2), shared by judge, bench and train.

A line: ``id`` (else ``idx``, else the line number), ``category`` (chart | table | svg; ``task`` and
``type`` also accepted), ``gt_img_path``, ``pred_img_path`` or ``pred_code_path``, ``human_errors`` (entries keyed
``category`` or ``type``). Paths are relative to the JSONL file. The real VC-RewardBench.jsonl reads
as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..jsonl import iter_jsonl
from ..judges.verdict import TASKS, ErrorItem


@dataclass
class VCBenchRecord:
    id: str
    task: str
    gt_img_path: Path
    pred_path: Path
    pred_is_code: bool
    errors: list[ErrorItem] = field(default_factory=list)
    line: int = 0
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def severity_total(self) -> float:
        return float(sum(e.severity for e in self.errors))


def parse_record(row: dict[str, Any], base: Path, where: str, default_id: str) -> VCBenchRecord:
    task = str(row.get("category") or row.get("task") or row.get("type") or "").strip().lower()
    if task not in TASKS:
        raise InputError(f"{where}: category must be one of {', '.join(TASKS)}, got {task or 'nothing'!r}")
    rid = row.get("id")
    if rid in (None, ""):
        rid = row.get("idx", default_id)
    ref = row.get("gt_img_path")
    pred_img = row.get("pred_img_path")
    pred_code = row.get("pred_code_path")
    if not ref or not (pred_img or pred_code):
        raise InputError(f"{where}: needs gt_img_path and pred_img_path (or pred_code_path)")
    raw = row.get("human_errors") or []
    if not isinstance(raw, list):
        raise InputError(f"{where}: human_errors must be a list")
    try:
        errors = [ErrorItem.from_dict(e, task) for e in raw]
    except ValueError as exc:
        raise InputError(f"{where}: bad human_errors entry ({exc})") from None
    return VCBenchRecord(id=str(rid), task=task, gt_img_path=base / str(ref),
                         pred_path=base / str(pred_img or pred_code), pred_is_code=not pred_img,
                         errors=errors, raw=row)


def read_vcbench(path: str | Path) -> list[VCBenchRecord]:
    """Read a VC-RewardBench-format JSONL file; ids must be unique."""
    p = Path(path)
    out: list[VCBenchRecord] = []
    seen: set[str] = set()
    for n, row in iter_jsonl(p):
        rec = parse_record(row, p.parent, f"{p}:{n}", str(n))
        if rec.id in seen:
            raise InputError(f"{p}:{n}: duplicate id {rec.id!r}")
        seen.add(rec.id)
        rec.line = n
        out.append(rec)
    return out


def write_record(rec: VCBenchRecord, base: Path) -> dict[str, Any]:
    """The JSON object for ``rec`` with paths relative to ``base`` (round trip of :func:`parse_record`)."""
    def rel(p: Path) -> str:
        try:
            return str(Path(p).resolve().relative_to(base.resolve()))
        except ValueError:
            return str(p)

    row = dict(rec.raw)
    row.update({"id": rec.id, "category": rec.task, "gt_img_path": rel(rec.gt_img_path),
                "human_errors": [e.to_dict() for e in rec.errors]})
    row.pop("pred_img_path", None)
    row.pop("pred_code_path", None)
    row["pred_code_path" if rec.pred_is_code else "pred_img_path"] = rel(rec.pred_path)
    return row
