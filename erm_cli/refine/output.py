"""What a refine run leaves in its output folder.

::

    DIR/best.{py,svg,html,...}   the best code          DIR/best.png        its render
    DIR/trajectory.jsonl         every candidate, written as it is judged (a crash loses nothing)
    DIR/renders/<id>.png         every candidate's render  DIR/reference.png  the input image
    DIR/summary.json             the run's figures       DIR/report.html     the visual report
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TextIO

from PIL import Image

from .loop import Observer, RefineResult
from .types import Candidate

TRAJECTORY = "trajectory.jsonl"
SUMMARY = "summary.json"
REPORT = "report.html"


def extension_of(kind: str) -> str:
    from ..renderers.base import EXTENSION_OF_KIND

    return EXTENSION_OF_KIND.get(kind, ".txt")


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class TrajectoryWriter(Observer):
    """Appends each candidate to ``trajectory.jsonl`` and saves its render under ``renders/``."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.renders = out_dir / "renders"
        self.renders.mkdir(parents=True, exist_ok=True)
        self._fh: TextIO | None = (out_dir / TRAJECTORY).open("w", encoding="utf-8")

    def on_candidate(self, candidate: Candidate, best: Candidate | None) -> None:
        if candidate.png:
            (self.renders / f"{candidate.id}.png").write_bytes(candidate.png)
        if self._fh is not None:
            from ..schemas import stamp

            self._fh.write(json.dumps(stamp(candidate.to_dict()), ensure_ascii=False, default=str) + "\n")
            self._fh.flush()

    def on_finish(self, result: RefineResult) -> None:
        self.close()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_trajectory(path: str | Path) -> list[Candidate]:
    """Candidates of a ``trajectory.jsonl`` (renders are re-attached from ``renders/`` when present)."""
    p = Path(path)
    if p.is_dir():
        p = p / TRAJECTORY
    out: list[Candidate] = []
    renders = p.parent / "renders"
    with p.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            c = Candidate.from_dict(json.loads(line))
            png = renders / f"{c.id}.png"
            if png.exists():
                c.png = png.read_bytes()
            out.append(c)
    return out


def write_outputs(result: RefineResult, out_dir: Path, reference: Image.Image,
                  source: dict[str, Any] | None = None, report: bool = True) -> dict[str, str]:
    """Write best code, best render, summary and report; returns the paths written (by role)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    best = result.best
    paths: dict[str, str] = {}
    code_path = out_dir / f"best{extension_of(best.kind)}"
    code = best.code if best.code.endswith("\n") else best.code + "\n"
    _atomic_write(code_path, code.encode("utf-8"))
    paths["code"] = str(code_path)
    if best.png:
        _atomic_write(out_dir / "best.png", best.png)
        paths["render"] = str(out_dir / "best.png")
    ref_path = out_dir / "reference.png"
    if not ref_path.exists():
        reference.save(ref_path)
    paths["reference"] = str(ref_path)
    paths["trajectory"] = str(out_dir / TRAJECTORY)
    if report:
        from .report import build_report

        rp = out_dir / REPORT
        _atomic_write(rp, build_report(result, reference, source=source).encode("utf-8"))
        paths["report"] = str(rp)
    summary = result.to_dict()
    summary["source"] = source or {}
    summary["outputs"] = {k: os.path.relpath(v, out_dir) for k, v in paths.items()}
    from ..schemas import stamp

    _atomic_write(out_dir / SUMMARY, json.dumps(stamp(summary), indent=2, ensure_ascii=False, default=str).encode())
    paths["summary"] = str(out_dir / SUMMARY)
    return paths
