"""Painted components of a drawing and their one-to-one matching between two aligned images.

A component is a connected area of one palette colour (a filled shape, an outline, a glyph). The SVG
analyser uses them when a drawing changed as a whole (its parts rearranged, a blank or broken render):
the difference map then shows one large area, while the components say *which* parts are missing, extra,
moved, resized or recoloured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi
from scipy.optimize import linear_sum_assignment

from .colour import PaletteColour, delta_e_rgb, label_map
from .diffmap import ink_mask
from .lines import box_iou

BBox = tuple[int, int, int, int]


@dataclass
class Component:
    colour: tuple[int, int, int]
    area: int  # pixels
    bbox: BBox  # x0, y0, x1, y1 (exclusive), working frame
    centroid: tuple[float, float]
    mask: np.ndarray = field(repr=False)  # bbox-sized

    @property
    def extent(self) -> float:
        return float(np.hypot(self.bbox[2] - self.bbox[0], self.bbox[3] - self.bbox[1]))


def find_components(arr: np.ndarray, background: Sequence[int], pal: Sequence[PaletteColour],
                    min_area: int) -> list[Component]:
    """Connected single-colour areas of at least ``min_area`` pixels, largest first."""
    ink = ink_mask(arr, tuple(background))  # type: ignore[arg-type]
    colours = [p.rgb for p in pal]
    if not colours or not ink.any():
        return []
    labels = label_map(arr, colours, tolerance=25.0)
    out: list[Component] = []
    for k, rgb in enumerate(colours):
        m = (labels == k) & ink
        if int(m.sum()) < min_area:
            continue
        lab, n = ndi.label(m)
        if n == 0:
            continue
        sizes = ndi.sum(m, lab, index=np.arange(1, n + 1))
        for i, sl in enumerate(ndi.find_objects(lab)):
            if sl is None or sizes[i] < min_area:
                continue
            cm = lab[sl] == i + 1
            ys, xs = np.nonzero(cm)
            out.append(Component(tuple(int(v) for v in rgb), int(sizes[i]),  # type: ignore[arg-type]
                                 (sl[1].start, sl[0].start, sl[1].stop, sl[0].stop),
                                 (float(xs.mean()) + sl[1].start, float(ys.mean()) + sl[0].start), cm))
    out.sort(key=lambda c: -c.area)
    return out


@dataclass
class ComponentMatch:
    pairs: list[tuple[int, int]]  # (reference index, candidate index)
    missing: list[int]  # reference components with no counterpart
    extra: list[int]  # candidate components with no counterpart


def match_components(ref: Sequence[Component], cand: Sequence[Component], diag: float) -> ComponentMatch:
    """Optimal one-to-one matching in two passes: same colour first (anything may have moved or resized),
    then what is left by place and size alone (a recoloured part)."""
    pairs: list[tuple[int, int]] = []
    big = 1e6

    def assign(ri: list[int], ci: list[int], colour: bool) -> None:
        if not ri or not ci:
            return
        cost = np.full((len(ri), len(ci)), big)
        for a, i in enumerate(ri):
            for b, j in enumerate(ci):
                r, c = ref[i], cand[j]
                size = abs(np.log(max(1, c.area) / max(1, r.area)))
                dist = float(np.hypot(r.centroid[0] - c.centroid[0], r.centroid[1] - c.centroid[1])) / diag
                if colour:
                    de = delta_e_rgb(r.colour, c.colour)
                    if de > 12 or size > 1.6:
                        continue
                    cost[a, b] = de / 12 + size + 2 * dist
                else:
                    iou = box_iou(r.bbox, c.bbox)  # type: ignore[arg-type]
                    if iou < 0.5 or size > 0.7:
                        continue
                    cost[a, b] = (1 - iou) + size
        rows, cols = linear_sum_assignment(cost)
        for a, b in zip(rows, cols):
            if cost[a, b] < big:
                pairs.append((ri[a], ci[b]))

    def unmatched() -> tuple[list[int], list[int]]:
        matched_r, matched_c = {p[0] for p in pairs}, {p[1] for p in pairs}
        return ([i for i in range(len(ref)) if i not in matched_r], [j for j in range(len(cand)) if j not in matched_c])

    assign(list(range(len(ref))), list(range(len(cand))), colour=True)
    assign(*unmatched(), colour=False)
    missing, extra = unmatched()
    return ComponentMatch(pairs=sorted(pairs), missing=missing, extra=extra)
