"""The one VC-RewardBench JSONL reader (ARCHITECTURE.md §3.2), shared by judge, bench and train.

A line: ``id`` (else ``idx``, else the line number), ``category`` (chart | table | svg; ``task`` and
``type`` also accepted), ``gt_img_path``, ``pred_img_path`` or ``pred_code_path``, ``human_errors`` (entries keyed
``category`` or ``type``). Paths are relative to the JSONL file. The real VC-RewardBench.jsonl reads
as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..inputs import PathNotAllowed, allowed_roots, confine
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
    error: str | None = None  # set (with ``per_item_errors``) when a path is refused: the item fails alone

    @property
    def severity_total(self) -> float:
        return float(sum(e.severity for e in self.errors))


def parse_record(row: dict[str, Any], base: Path, where: str, default_id: str,
                 roots: Sequence[Path] | None = None) -> VCBenchRecord:
    """One line as a record. With ``roots``, its paths must resolve inside them (symlinks followed): a path
    outside sets ``error`` on the record (the paths are then left unresolved and must not be read)."""
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
    ref_path, pred_path, error = base / str(ref), base / str(pred_img or pred_code), None
    if roots is not None:
        try:
            ref_path = confine(str(ref), base, roots, "gt_img_path")
            pred_path = confine(str(pred_img or pred_code), base, roots,
                                "pred_img_path" if pred_img else "pred_code_path")
        except InputError as exc:
            error = f"{where}: {exc}"
    return VCBenchRecord(id=str(rid), task=task, gt_img_path=ref_path, pred_path=pred_path,
                         pred_is_code=not pred_img, errors=errors, raw=row, error=error)


def read_vcbench(path: str | Path, allowed_root: Sequence[str | Path] = (),
                 per_item_errors: bool = False) -> list[VCBenchRecord]:
    """Read a VC-RewardBench-format JSONL file; ids must be unique. Image and code paths must resolve inside
    the file's folder or an ``allowed_root``: a path outside is an InputError, or with ``per_item_errors``
    the record's ``error`` (a batch judges the other items and reports this one as failed)."""
    p = Path(path)
    roots = allowed_roots(p.parent, allowed_root)
    out: list[VCBenchRecord] = []
    seen: set[str] = set()
    for n, row in iter_jsonl(p):
        rec = parse_record(row, p.parent, f"{p}:{n}", str(n), roots)
        if rec.error is not None and not per_item_errors:
            raise PathNotAllowed(rec.error)
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
