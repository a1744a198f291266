"""Image facts the model-free policy reads once per image: OCR words, palette, chart geometry, alignment.

Reference facts are computed once per run and kept in the run's memo; a candidate's facts are kept by
the hash of its render so a parent revised in several rounds is analysed once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from ..judges.critic.colour import PaletteColour, as_array, background_colour, palette
from ..judges.critic.ocr import OcrUnavailable, Word, ocr_words


@dataclass
class ImageFacts:
    image: Image.Image
    arr: np.ndarray
    background: tuple[int, int, int]
    words: list[Word]
    palette: list[PaletteColour]
    chart: Any = None  # chart_extract.ChartFacts for chart tasks
    extra: dict[str, Any] = field(default_factory=dict)


def image_key(img: Image.Image) -> str:
    return hashlib.sha1(img.tobytes() + repr(img.size).encode()).hexdigest()[:16]


def analyse_image(img: Image.Image, task: str) -> ImageFacts:
    arr = as_array(img)
    try:
        words = ocr_words(img, min_conf=30)
    except (OcrUnavailable, RuntimeError):
        words = []
    facts = ImageFacts(img, arr, background_colour(arr), words, palette(arr))
    if task == "chart":
        from .chart_extract import analyse_chart

        facts.chart = analyse_chart(img, words=words, with_ylabel=False)
        facts.words = facts.chart.words  # cleaned, with re-read tick bands
    return facts


def facts_for(memo: dict[str, Any], img: Image.Image, task: str) -> ImageFacts:
    """Memoised :func:`analyse_image` (bounded: the oldest entries go first)."""
    store: dict[str, ImageFacts] = memo.setdefault("image_facts", {})
    key = f"{task}:{image_key(img)}"
    hit = store.get(key)
    if hit is None:
        hit = analyse_image(img, task)
        if len(store) >= 64:
            store.pop(next(iter(store)))
        store[key] = hit
    return hit


@dataclass
class FrameMap:
    """Maps candidate pixels to reference pixels (from the critic's alignment)."""

    sx: float
    sy: float
    ox: float
    oy: float

    def to_ref(self, x: float, y: float) -> tuple[float, float]:
        return x * self.sx + self.ox, y * self.sy + self.oy

    def to_cand(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.ox) / self.sx, (y - self.oy) / self.sy

    def box_to_ref(self, b: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        x0, y0 = self.to_ref(b[0], b[1])
        x1, y1 = self.to_ref(b[2], b[3])
        return x0, y0, x1, y1


def frame_map(reference: Image.Image, candidate: Image.Image) -> FrameMap:
    """Candidate -> reference pixel map; identity-like stretch when alignment is unavailable."""
    try:
        from ..judges.critic.align import align

        al = align(reference, candidate)
        s = al.work_scale
        return FrameMap(al.cand_scale[0] / s, al.cand_scale[1] / s, al.offset[0] / s, al.offset[1] / s)
    except Exception:  # noqa: BLE001 - fall back to stretching frame onto frame
        return FrameMap(reference.width / candidate.width, reference.height / candidate.height, 0.0, 0.0)
