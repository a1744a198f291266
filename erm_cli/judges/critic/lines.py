"""Straight horizontal and vertical rules (axes spines, grid lines, table borders) and rectangles.

Used by the chart analyser (axes / plot areas, grid lines) and the table analyser (cell grid).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .morphology import close_, square

BBox = tuple[int, int, int, int]


@dataclass
class Rule:
    """A horizontal (``pos`` = y) or vertical (``pos`` = x) line from ``start`` to ``end`` (exclusive)."""

    horizontal: bool
    pos: float
    start: int
    end: int
    thickness: int
    colour: tuple[int, int, int] = (0, 0, 0)

    @property
    def length(self) -> int:
        return self.end - self.start


def _runs(row: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """(start, end) of True runs of at least ``min_len`` in a 1-D bool array (gaps of 1 px bridged)."""
    if not row.any():
        return []
    padded = np.concatenate([[False], row, [False]])
    d = np.diff(padded.astype(np.int8))
    starts = np.nonzero(d == 1)[0]
    ends = np.nonzero(d == -1)[0]
    merged: list[list[int]] = []
    for s, e in zip(starts, ends):
        if merged and s - merged[-1][1] <= 1:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged if e - s >= min_len]


def find_rules(mask: np.ndarray, *, horizontal: bool, min_len: int, max_thickness: int = 6,
               colours: np.ndarray | None = None) -> list[Rule]:
    """Straight rules in a bool mask: runs of at least ``min_len`` px, stacked runs merged into one rule."""
    m = mask if horizontal else mask.T
    rules: list[Rule] = []
    open_rules: list[list[int]] = []  # [first_row, last_row, start, end]
    candidates = np.nonzero(m.sum(axis=1) >= min_len)[0]
    for r in candidates:
        r = int(r)
        runs = _runs(m[r], min_len)
        next_open = []
        used = set()
        for o in open_rules:
            hit = None
            for k, (s, e) in enumerate(runs):
                if k not in used and abs(s - o[2]) <= 2 and abs(e - o[3]) <= 2:
                    hit = k
                    break
            if hit is not None and r == o[1] + 1:
                used.add(hit)
                s, e = runs[hit]
                next_open.append([o[0], r, min(o[2], s), max(o[3], e)])
            else:
                rules.append(_close(o, horizontal))
        for k, (s, e) in enumerate(runs):
            if k not in used:
                next_open.append([r, r, s, e])
        open_rules = next_open
    rules.extend(_close(o, horizontal) for o in open_rules)
    rules = [ru for ru in rules if ru.thickness <= max_thickness]
    if colours is not None:
        for ru in rules:
            ru.colour = _rule_colour(colours, ru)
    return rules


def _close(o: list[int], horizontal: bool) -> Rule:
    return Rule(horizontal=horizontal, pos=(o[0] + o[1]) / 2, start=o[2], end=o[3], thickness=o[1] - o[0] + 1)


def _rule_colour(arr: np.ndarray, rule: Rule) -> tuple[int, int, int]:
    p = int(round(rule.pos))
    if rule.horizontal:
        px = arr[p, rule.start:rule.end]
    else:
        px = arr[rule.start:rule.end, p]
    if px.size == 0:
        return (0, 0, 0)
    return tuple(int(v) for v in np.median(px, axis=0))  # type: ignore[return-value]


def dark_mask(arr: np.ndarray, background: tuple[int, int, int], min_contrast: int = 60) -> np.ndarray:
    """Pixels clearly darker or lighter than the background and nearly grey (rules are usually grey/black)."""
    from .colour import channel_distance, chroma_of

    return (channel_distance(arr, background) >= min_contrast) & (chroma_of(arr) < 40)


def find_axes_boxes(arr: np.ndarray, background: tuple[int, int, int], *, min_frac: float = 0.12) -> list[BBox]:
    """Plot areas: a bottom rule meeting a left rule at its left end (an L of spines), largest first."""
    h, w = arr.shape[:2]
    dm = dark_mask(arr, background, min_contrast=30)  # light grey spines count too
    hr = find_rules(dm, horizontal=True, min_len=max(24, int(min_frac * w)))
    vr = find_rules(dm, horizontal=False, min_len=max(24, int(min_frac * h)))
    boxes: list[BBox] = []
    for b in hr:
        for v in vr:
            # tick marks may stick out left of the left spine, so the bottom rule can start a little earlier
            near_left = b.start - 3 <= v.pos <= b.start + max(12, 0.04 * b.length)
            if near_left and abs(v.end - (b.pos + b.thickness / 2)) <= 4 and b.end - v.pos >= 0.5 * b.length:
                box = (int(round(v.pos)), int(v.start), int(b.end), int(round(b.pos)))
                if box[3] - box[1] >= 0.5 * min_frac * h:
                    boxes.append(box)
    # a frame: top and bottom rules of the same extent joined by a fully drawn side (bars may hide the other)
    for i, top in enumerate(hr):
        for bot in hr[i + 1:]:
            a, b = (top, bot) if top.pos < bot.pos else (bot, top)
            if abs(a.start - b.start) > 4 or abs(a.end - b.end) > 4 or b.pos - a.pos < 0.5 * min_frac * h:
                continue
            y0, y1 = int(round(a.pos)), int(round(b.pos))
            x0, x1 = int(max(a.start, b.start)), int(min(a.end, b.end)) - 1
            cover = max(dm[y0:y1 + 1, max(0, x - 1):x + 2].any(axis=1).mean() for x in (x0, x1))
            if cover >= 0.9:
                boxes.append((x0, y0, x1 + 1, y1))
    boxes.extend(_filled_areas(arr, background, min_frac))
    # remove duplicates / nested near-duplicates
    boxes.sort(key=lambda bx: -(bx[2] - bx[0]) * (bx[3] - bx[1]))
    out: list[BBox] = []
    for bx in boxes:
        if all(_iou(bx, o) < 0.6 and not _contains(o, bx) and not _band_of(bx, o) for o in out):
            out.append(bx)
    return out


def _band_of(inner: BBox, outer: BBox, tol: int = 8) -> bool:
    """``inner`` lies inside ``outer`` and spans its full width or height: a band cut out of one plot area
    by a grid line or a bar edge (an inset plot spans neither)."""
    ix = max(0, min(inner[2], outer[2]) - max(inner[0], outer[0]))
    iy = max(0, min(inner[3], outer[3]) - max(inner[1], outer[1]))
    area = max(1, (inner[2] - inner[0]) * (inner[3] - inner[1]))
    if ix * iy < 0.9 * area:
        return False
    full_w = abs(inner[0] - outer[0]) <= tol and abs(inner[2] - outer[2]) <= tol
    full_h = abs(inner[1] - outer[1]) <= tol and abs(inner[3] - outer[3]) <= tol
    return full_w or full_h


def _filled_areas(arr: np.ndarray, background: tuple[int, int, int], min_frac: float) -> list[BBox]:
    """Plot areas painted in their own (greyish) colour, as in ggplot or seaborn styles, with no spines."""
    from scipy import ndimage as ndi

    from .colour import channel_distance, chroma_of

    h, w = arr.shape[:2]
    small = arr[::4, ::4]
    q = (small.astype(np.int32) >> 3)
    keys = (q[..., 0] << 10) | (q[..., 1] << 5) | q[..., 2]
    vals, counts = np.unique(keys, return_counts=True)
    out: list[BBox] = []
    for idx in np.argsort(-counts)[:4]:
        if counts[idx] < 0.08 * keys.size:
            break
        sel = small[keys == vals[idx]]
        colour = tuple(int(v) for v in np.median(sel, axis=0))
        if max(abs(a - b) for a, b in zip(colour, background)) < 6:
            continue  # the figure background itself
        if chroma_of(np.asarray([[colour]], np.uint8))[0, 0] > 30:
            continue  # a big coloured shape, not a plot background
        mask = channel_distance(arr, colour) <= 6
        mask = close_(mask, square(9))  # bridge marks drawn over the fill
        lab, n = ndi.label(mask)
        if n == 0:
            continue
        sizes = np.bincount(lab.ravel())[1:]
        objects = ndi.find_objects(lab)
        for k in np.argsort(-sizes)[:6]:  # one plot area per panel of a subplot grid
            if sizes[k] < min_frac * w * 2 * min_frac * h * 0.5:
                break
            comp = lab[objects[k]] == k + 1
            # the rows and columns the fill spans (a title's anti-aliased letters bridged by the closing
            # stretch the component's box, not these)
            rows = np.nonzero(comp.mean(axis=1) >= 0.5)[0]
            cols = np.nonzero(comp.mean(axis=0) >= 0.5)[0]
            if rows.size == 0 or cols.size == 0:
                continue
            ys, xs = objects[k][0].start, objects[k][1].start
            by0, by1, bx0, bx1 = ys + int(rows[0]), ys + int(rows[-1]) + 1, xs + int(cols[0]), xs + int(cols[-1]) + 1
            inner = comp[by0 - ys:by1 - ys, bx0 - xs:bx1 - xs]
            # a plot background is a rectangle: its top row and left column are (mostly) the fill colour
            if bx1 - bx0 >= min_frac * w and by1 - by0 >= 2 * min_frac * h and inner[0].mean() >= 0.5 \
                    and inner[:, 0].mean() >= 0.5:
                out.append((bx0, by0, bx1, by1))
    return out


def _contains(outer: BBox, inner: BBox, tol: int = 3) -> bool:
    return (inner[0] >= outer[0] - tol and inner[1] >= outer[1] - tol and inner[2] <= outer[2] + tol
            and inner[3] <= outer[3] + tol)


def _iou(a: BBox, b: BBox) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    return _iou(a, b)  # type: ignore[arg-type]


def stroke_width(mask: np.ndarray) -> float:
    """Mean thickness of a mask's strokes: twice its area over its boundary length (in pixels)."""
    from .morphology import erode

    boundary = mask & ~erode(mask)
    return 2.0 * float(mask.sum()) / max(1.0, float(boundary.sum()))
