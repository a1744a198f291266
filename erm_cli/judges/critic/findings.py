"""Shared pieces of the critic's analysis: the comparison context, findings, locations and severities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .align import Alignment
from .colour import PaletteColour
from .diffmap import Region
from .ocr import Word

BBox = tuple[float, float, float, float]


@dataclass
class Finding:
    """An error under construction, in working-frame pixels (the critic maps it to reference pixels)."""

    category: str
    severity: int
    location: str
    description: str
    bbox: BBox | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """Everything the per-task analysers need about one aligned pair."""

    task: str
    al: Alignment
    diff: np.ndarray
    regions: list[Region]
    ref_words: list[Word]
    cand_words: list[Word]
    ref_palette: list[PaletteColour]
    cand_palette: list[PaletteColour]
    ocr_ok: bool = True
    consumed: set[int] = field(default_factory=set)  # indices of regions already explained by a finding
    notes: list[str] = field(default_factory=list)
    diff_blur: float = 0.5  # how the difference map was made (an analyser that re-frames a pair redoes it)
    diff_radius: int = 1
    recoloured: np.ndarray | None = None  # pixels a slight repaint explains (see core._shade_findings)
    cache: dict[str, Any] = field(default_factory=dict)  # per-pair arrays computed once (features.blend_map)

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.al.ref.shape[:2]
        return w, h

    def unexplained(self) -> list[tuple[int, Region]]:
        return [(i, r) for i, r in enumerate(self.regions) if i not in self.consumed]

    def consume_overlapping(self, box: BBox, min_overlap: float = 0.5, pad: float = 0.0) -> list[int]:
        """Mark regions whose area lies mostly inside ``box`` as explained; returns their indices."""
        out = []
        b = (box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad)
        for i, r in enumerate(self.regions):
            if i in self.consumed:
                continue
            if overlap_fraction(r.bbox, b) >= min_overlap:
                self.consumed.add(i)
                out.append(i)
        return out


def overlap_fraction(inner: Sequence[float], outer: Sequence[float]) -> float:
    """Share of ``inner``'s area that lies inside ``outer``."""
    ix = max(0.0, min(inner[2], outer[2]) - max(inner[0], outer[0]))
    iy = max(0.0, min(inner[3], outer[3]) - max(inner[1], outer[1]))
    area = max(1e-9, (inner[2] - inner[0]) * (inner[3] - inner[1]))
    return ix * iy / area


def union_box(boxes: Sequence[Sequence[float]]) -> BBox:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def centre(box: Sequence[float]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def position_name(box: Sequence[float], frame: Sequence[float]) -> str:
    """"upper-left", "centre", "lower-right"... of ``box`` within ``frame`` (x0, y0, x1, y1)."""
    cx, cy = centre(box)
    fx = (cx - frame[0]) / max(1e-9, frame[2] - frame[0])
    fy = (cy - frame[1]) / max(1e-9, frame[3] - frame[1])
    col = "left" if fx < 1 / 3 else ("right" if fx > 2 / 3 else "")
    row = "upper" if fy < 1 / 3 else ("lower" if fy > 2 / 3 else "")
    if row and col:
        return f"{row}-{col}"
    if row:
        return f"{row} centre" if row else "centre"
    if col:
        return f"centre-{col}" if col else "centre"
    return "centre"


def severity_by_share(share: float, minor: float, severe: float) -> int:
    """1 below ``minor``, 3 at or above ``severe``, else 2."""
    if share < minor:
        return 1
    if share >= severe:
        return 3
    return 2



def fmt_number(v: float | None) -> str:
    if v is None:
        return "?"
    if abs(v - round(v)) < 1e-9:
        return str(int(round(v)))
    return f"{v:.3g}"
