"""Chart analysis: axes / plot areas, titles, ticks, legend, grid and data series (bars, lines, markers).

``analyse_chart`` reads one image (working frame) into a :class:`ChartLayout`; ``compare_charts`` turns the
differences between the reference's and the candidate's layouts into findings with Visual-ERM's chart
categories (structure_error, data_error, text_error, style_error). The same layout is what the
model-free refine policy needs (OCR text, palette, bar geometry).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from .channels import any_channel_differs, channel_mean, max_abs_diff
from .colour import PaletteColour, delta_e_rgb, describe_colour, hex_of, is_greyish
from .findings import (
    BBox,
    Context,
    Finding,
    centre,
    fmt_number,
    overlap_fraction,
    position_name,
    severity_by_share,
    union_box,
)
from .lines import box_iou, find_axes_boxes, stroke_width
from .morphology import close_, count_in_labels, dilate, disc, line, open_
from .ocr import Line, Word, group_lines, parse_number


@dataclass
class LegendEntry:
    colour: tuple[int, int, int]
    text: str
    bbox: BBox


@dataclass
class Series:
    """Marks of one colour inside one plot area."""

    colour: tuple[int, int, int]
    kind: str  # bars | line | markers | area
    mask: np.ndarray  # bool, plot-area sized
    bars: list[BBox] = field(default_factory=list)  # working-frame boxes, left to right
    blobs: list[BBox] = field(default_factory=list)  # small compact components (markers, points)
    name: str = ""
    pixels: int = 0

    @property
    def label(self) -> str:
        nm = f"'{self.name}'" if self.name else describe_colour(self.colour)
        return f"series {nm}"


@dataclass
class AxesInfo:
    bbox: BBox
    x_ticks: list[Word] = field(default_factory=list)
    y_ticks: list[Word] = field(default_factory=list)
    y_calibration: tuple[float, float] | None = None  # value = a * y + b
    x_calibration: tuple[float, float] | None = None  # value = a * x + b (numeric x ticks only)
    h_grid: int = 0
    v_grid: int = 0
    h_grid_faint: int = 0  # the same with a low contrast threshold (grids fade when an image is downscaled)
    v_grid_faint: int = 0
    ylabel_box: BBox | None = None  # the rotated y-axis label's strip (left of the tick labels)
    series: list[Series] = field(default_factory=list)


@dataclass
class ChartLayout:
    size: tuple[int, int]
    axes: list[AxesInfo]
    words: list[Word]
    lines: list[Line]
    legend: list[LegendEntry]
    legend_box: BBox | None
    content: BBox

    @property
    def text_height(self) -> float:
        hs = [w.height for w in self.words if w.height > 3]
        return float(np.median(hs)) if hs else 12.0


# --------------------------------------------------------------------------------------------- analysis

def analyse_chart(arr: np.ndarray, background: tuple[int, int, int], words: Sequence[Word],
                  palette: Sequence[PaletteColour],
                  axes_boxes: Sequence[tuple[int, int, int, int]] | None = None) -> ChartLayout:
    """The chart in ``arr``; ``axes_boxes``: :func:`~.lines.find_axes_boxes` of ``arr`` when already known."""
    h, w = arr.shape[:2]
    boxes = find_axes_boxes(arr, background) if axes_boxes is None else list(axes_boxes)
    words = list(words)
    lines = group_lines(words)
    from .align import content_bbox

    cb = content_bbox(arr, background) or (0, 0, w, h)
    th = float(np.median([wd.height for wd in words if wd.height > 3])) if words else 12.0
    axes = [AxesInfo(bbox=tuple(float(v) for v in b)) for b in boxes]  # type: ignore[misc]
    axes.sort(key=lambda a: (round(a.bbox[1] / max(1.0, 0.2 * h)), a.bbox[0]))
    for ax in axes:
        _ticks(ax, words, th)
        _grid(ax, arr, background)
        ax.ylabel_box = _ylabel_strip(arr, background, ax, axes, th)
    legend = _legend(arr, background, words, axes, th)
    legend_box = None
    if legend:
        legend_box = union_box([e.bbox for e in legend])
        pad = th * 0.6
        legend_box = (legend_box[0] - pad, legend_box[1] - pad, legend_box[2] + pad, legend_box[3] + pad)
    for ax in axes:
        ax.series = _series(arr, background, ax, palette, legend_box, legend)
    return ChartLayout(size=(w, h), axes=axes, words=words, lines=lines, legend=legend, legend_box=legend_box,
                       content=tuple(float(v) for v in cb))  # type: ignore[arg-type]


def _ticks(ax: AxesInfo, words: Sequence[Word], th: float) -> None:
    x0, y0, x1, y1 = ax.bbox
    for wd in words:
        if x0 - th <= wd.cx <= x1 + th and y1 <= wd.bbox[1] <= y1 + 2.2 * th:
            ax.x_ticks.append(wd)
        elif y0 - th <= wd.cy <= y1 + th and x0 - 8 * th <= wd.bbox[2] <= x0 + 2:
            ax.y_ticks.append(wd)
    ax.y_ticks, ax.y_calibration = _read_tick_numbers(ax.y_ticks, vertical=True)
    ax.x_ticks, ax.x_calibration = _read_tick_numbers(ax.x_ticks, vertical=False)


def recalibrate(ax: AxesInfo) -> None:
    """Re-read an axis's tick numbers and calibration after tick words were added."""
    ax.y_ticks, ax.y_calibration = _read_tick_numbers(ax.y_ticks, vertical=True)
    ax.x_ticks, ax.x_calibration = _read_tick_numbers(ax.x_ticks, vertical=False)


def number_readings(text: str) -> list[str]:
    """The OCR reading of a tick label and the readings OCR commonly garbles it from: a lost decimal point
    ("175" for "17.5", "08" for "0.8"), a decimal comma, letters for digits ("l0" for "10")."""
    t = text.strip().replace("−", "-").replace("–", "-")
    out = [text]
    if len(t) > 1 and t[-1] in "-—_":  # a tick mark read with its label
        t = t[:-1].strip()
        if parse_number(t) is not None:
            out.append(t)
    fixed = t.translate(_DIGIT_LOOKALIKES) if any(c.isdigit() for c in t) else t
    if fixed != t and parse_number(fixed) is not None:
        out.append(fixed)
    m = re.fullmatch(r"(-?)(\d+),(\d{1,2})", fixed)
    if m:
        out.append(f"{m.group(1)}{m.group(2)}.{m.group(3)}")
    m = re.fullmatch(r"(-?)(\d{2,})", fixed)
    if m:
        sign, digits = m.groups()
        out.extend(f"{sign}{digits[:i]}.{digits[i:]}" for i in range(1, len(digits)))
    return out


_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "l": "1", "I": "1", "|": "1", "S": "5"})


def fit_tick_values(points: Sequence[tuple[float, str]], *, decreasing: bool) -> tuple[tuple[float, float] | None,
                                                                                         list[str | None]]:
    """Tick labels read as numbers, checked against each other: ticks sit at evenly spaced values, so
    value = a * pixel + b must hold for every one. Each label may be read as OCR gave it or as one of its
    :func:`number_readings`; the line explaining the most labels (then needing the fewest repairs) wins.
    Returns the calibration ``(a, b)`` (None with fewer than three consistent ticks) and, per label, the
    consistent reading or None."""
    readings = [[(r, parse_number(r)) for r in number_readings(t)] for _, t in points]
    readings = [[(r, v) for r, v in rs if v is not None] for rs in readings]
    ps = [float(p) for p, _ in points]
    n = len(points)
    if n < 3:
        return None, [None] * n
    gaps = np.diff(np.sort(ps))
    gaps = gaps[gaps > 1]
    tol_px = max(2.5, 0.2 * float(np.median(gaps))) if gaps.size else 2.5
    best: tuple[tuple[int, int, float], float, float] | None = None
    for i in range(n):
        for j in range(i + 1, n):
            if abs(ps[i] - ps[j]) < 4:
                continue
            for ri, (_, vi) in enumerate(readings[i]):
                for rj, (_, vj) in enumerate(readings[j]):
                    a = (vj - vi) / (ps[j] - ps[i])
                    if a == 0 or (a > 0 if decreasing else a < 0):
                        continue
                    b = vi - a * ps[i]
                    tol = abs(a) * tol_px
                    hits, repairs, resid = 0, 0, 0.0
                    for k in range(n):
                        errs = [(abs(a * ps[k] + b - v), q) for q, (_, v) in enumerate(readings[k])]
                        if not errs:
                            continue
                        e, q = min(errs)
                        if e <= tol:
                            hits, repairs, resid = hits + 1, repairs + (q > 0), resid + e / tol
                    key = (hits, -repairs, -resid)
                    if best is None or key > best[0]:
                        best = (key, a, b)  # type: ignore[assignment]
    if best is None or best[0][0] < 3:
        return None, [None] * n
    _, a, b = best
    tol = abs(a) * tol_px
    chosen: list[str | None] = []
    fit_p, fit_v = [], []
    for k in range(n):
        errs = [(abs(a * ps[k] + b - v), r, v) for r, v in readings[k]]
        e, r, v = min(errs) if errs else (np.inf, None, None)
        if e <= tol:
            chosen.append(r)
            fit_p.append(ps[k])
            fit_v.append(v)
        else:
            chosen.append(None)
    if len(set(fit_v)) < 3:
        return None, chosen
    a, b = np.polyfit(np.array(fit_p), np.array(fit_v), 1)
    return (float(a), float(b)), chosen


def _read_tick_numbers(ticks: list[Word], *, vertical: bool) -> tuple[list[Word], tuple[float, float] | None]:
    """Tick words with OCR-garbled numbers repaired from the other ticks of the axis, and the axis's
    calibration (value = a * pixel + b, pixel = y for a y axis, x for an x axis)."""
    if len(ticks) < 3:
        return ticks, None
    cal, chosen = fit_tick_values([(w.cy if vertical else w.cx, w.text) for w in ticks], decreasing=vertical)
    if cal is None:
        return ticks, None
    fixed = [Word(r, w.bbox, w.conf, w.vertical) if r is not None and r != w.text else w for w, r in zip(ticks, chosen)]
    return fixed, cal


def repaired_words(layout: ChartLayout) -> dict[tuple[str, BBox], Word]:
    """Tick words whose reading :func:`fit_tick_values` repaired, keyed by the original (text, box)."""
    out: dict[tuple[str, BBox], Word] = {}
    by_box = {w.bbox: w for w in layout.words}
    for ax in layout.axes:
        for w in ax.x_ticks + ax.y_ticks:
            orig = by_box.get(w.bbox)
            if orig is not None and orig.text != w.text:
                out[(orig.text, orig.bbox)] = w
    return out


def tick_calibration(points: Sequence[tuple[float, float | None]], *,
                     decreasing: bool = True) -> tuple[float, float] | None:
    """``(a, b)`` with value = a * pixel + b through (pixel, tick value) points (None values are skipped):
    needs three distinct values on one line (within 5 % of their range), values falling as the pixel grows
    (a y axis; ``decreasing=False`` for an x axis)."""
    pts = [(p, v) for p, v in points if v is not None]
    if len(pts) < 3 or len({v for _, v in pts}) < 3:
        return None
    ps = np.array([p[0] for p in pts])
    vs = np.array([p[1] for p in pts])
    a, b = np.polyfit(ps, vs, 1)
    resid = np.abs(a * ps + b - vs).max()
    if (a < 0 if decreasing else a > 0) and resid <= 0.05 * (vs.max() - vs.min()):
        return float(a), float(b)
    return None


def _ylabel_strip(arr: np.ndarray, background: tuple[int, int, int], ax: AxesInfo, axes: Sequence[AxesInfo],
                  th: float) -> BBox | None:
    """Left of the axis, ink columns form runs: tick labels next to the axis, the rotated label further left."""
    from .colour import channel_distance

    H = arr.shape[0]
    prev = [a.bbox[2] for a in axes if a.bbox[2] <= ax.bbox[0]]
    left_limit = int(max(prev) + 2) if prev else 0
    y0, y1 = int(max(0, ax.bbox[1] - th)), int(min(H, ax.bbox[3] + th))
    x_end = int(ax.bbox[0]) - 6
    if x_end - left_limit < 8:
        return None
    cols = (channel_distance(arr[y0:y1, left_limit:x_end], background) > 60).any(axis=0)
    idx = np.nonzero(cols)[0]
    if idx.size == 0:
        return None
    runs = [[int(idx[0]), int(idx[0]) + 1]]
    for i in idx[1:]:
        if i - runs[-1][1] <= 3:
            runs[-1][1] = int(i) + 1
        else:
            runs.append([int(i), int(i) + 1])
    if len(runs) < 2:
        return None
    a, b = runs[0]
    return (float(left_limit + max(0, a - 3)), float(y0), float(left_limit + b + 3), float(y1))


def _grid(ax: AxesInfo, arr: np.ndarray, background: tuple[int, int, int]) -> None:
    x0, y0, x1, y1 = (int(round(v)) for v in ax.bbox)
    if x1 - x0 < 20 or y1 - y0 < 20:
        return
    crop = arr[y0 + 4:y1 - 3, x0 + 4:x1 - 3]
    from .colour import channel_distance, chroma_of

    dist, grey = channel_distance(crop, background), chroma_of(crop) < 12
    m = (dist >= 14) & grey
    ax.h_grid = _projection_lines(m.mean(axis=1))
    ax.v_grid = _projection_lines(m.mean(axis=0))
    faint = (dist >= 5) & grey
    ax.h_grid_faint = _projection_lines(faint.mean(axis=1), min_frac=0.15)
    ax.v_grid_faint = _projection_lines(faint.mean(axis=0), min_frac=0.15)


def _projection_lines(profile: np.ndarray, min_frac: float = 0.3, max_width: int = 4) -> int:
    """Thin runs of rows (or columns) mostly covered by grey pixels: grid lines, even when bars interrupt them."""
    hot = profile >= min_frac
    if not hot.any():
        return 0
    padded = np.concatenate([[False], hot, [False]]).astype(np.int8)
    d = np.diff(padded)
    starts, ends = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
    return int(sum(1 for a, b in zip(starts, ends) if b - a <= max_width))


def _legend(arr: np.ndarray, background: tuple[int, int, int], words: Sequence[Word], axes: Sequence[AxesInfo],
            th: float) -> list[LegendEntry]:
    """Legend entries: a word whose left neighbourhood holds a small painted patch or line sample."""
    h, w = arr.shape[:2]
    bg = np.asarray(background, np.int16)
    entries: list[LegendEntry] = []
    tick_words = {id(t) for ax in axes for t in ax.x_ticks + ax.y_ticks}
    lines = group_lines([wd for wd in words if id(wd) not in tick_words])
    for line in lines:
        if len(line.words) > 8:
            continue
        first = line.words[0]
        hgt = max(6.0, first.height)
        sx0 = int(max(0, first.bbox[0] - 3.6 * hgt))
        sx1 = int(max(0, first.bbox[0] - 0.2 * hgt))
        sy0 = int(max(0, first.cy - 0.6 * hgt))
        sy1 = int(min(h, first.cy + 0.6 * hgt))
        if sx1 - sx0 < 4 or sy1 - sy0 < 2:
            continue
        strip_box = (sx0, sy0, sx1, sy1)
        if any(wd is not first and overlap_fraction(wd.bbox, strip_box) > 0.2 for wd in words):
            continue  # the left neighbour is text, not a legend sample
        strip = arr[sy0:sy1, sx0:sx1].astype(np.int16)
        ink = max_abs_diff(strip, bg) > 60
        if ink.sum() < 0.08 * ink.size:
            continue
        cols = np.nonzero(ink.any(axis=0))[0]
        # a sample is a compact horizontal run, not the end of other text
        if cols.size < 0.35 * (sx1 - sx0) or cols[-1] - cols[0] + 1 > 1.05 * (sx1 - sx0):
            continue
        px = strip[ink]
        colour = tuple(int(v) for v in np.median(px, axis=0))
        box = (float(sx0 + cols[0]), line.bbox[1], line.bbox[2], line.bbox[3])
        entries.append(LegendEntry(colour=colour, text=line.text, bbox=box))  # type: ignore[arg-type]
    # keep entries stacked together (a legend is a column or row of entries)
    if len(entries) >= 2:
        xs = np.array([e.bbox[0] for e in entries])
        ys = np.array([e.bbox[1] for e in entries])
        keep = [e for e, x, y in zip(entries, xs, ys)
                if (np.abs(xs - x) < 3 * th).sum() >= 2 or (np.abs(ys - y) < th).sum() >= 2]
        entries = keep or entries
    return entries


def _series(arr: np.ndarray, background: tuple[int, int, int], ax: AxesInfo, palette: Sequence[PaletteColour],
            legend_box: BBox | None, legend: Sequence[LegendEntry]) -> list[Series]:
    from .colour import blend_label_map

    x0, y0, x1, y1 = (int(round(v)) for v in ax.bbox)
    x0, y0 = max(0, x0 + 1), max(0, y0 + 1)
    crop = arr[y0:y1, x0:x1]
    if crop.size == 0:
        return []
    cols = [p for p in palette if not is_greyish(p.rgb, 15.0) or p.fraction > 0.05]
    if not cols:
        return []
    labels = blend_label_map(crop, [p.rgb for p in cols], background)
    if legend_box is not None:
        lx0, ly0, lx1, ly1 = (int(round(v)) for v in legend_box)
        labels[max(0, ly0 - y0):max(0, ly1 - y0), max(0, lx0 - x0):max(0, lx1 - x0)] = -1
    out: list[Series] = []
    area = crop.shape[0] * crop.shape[1]
    counts = [int(v) for v in np.bincount(labels[labels >= 0].ravel(), minlength=len(cols))[:len(cols)]]
    ch, cw = crop.shape[:2]
    for k, p in enumerate(cols):
        n = counts[k]
        if n < max(20, 3e-4 * area):
            continue
        raw = labels == k
        # morphology on the colour's own extent (plus room for the closings), not the whole plot area
        rows, cols_ = np.nonzero(raw.any(axis=1))[0], np.nonzero(raw.any(axis=0))[0]
        sy0, sy1 = max(0, int(rows[0]) - 16), min(ch, int(rows[-1]) + 17)
        sx0, sx1 = max(0, int(cols_[0]) - 16), min(cw, int(cols_[-1]) + 17)
        local = raw[sy0:sy1, sx0:sx1]
        m = close_(local) | local  # heal anti-aliasing breaks in thin marks
        if any(_blend_with_grey(p.rgb, q.rgb) and (p.count < 0.1 * q.count or
                                                    (counts[j] > 0.2 * n and _hugs(m, labels[sy0:sy1, sx0:sx1] == j)))
               for j, q in enumerate(cols) if j != k):
            continue  # anti-aliased edges or a translucent grid over another series' colour
        s = _classify_series(m, p.rgb, (x0 + sx0, y0 + sy0), frame=(ch, cw))
        full = np.zeros((ch, cw), bool)
        full[sy0:sy1, sx0:sx1] = s.mask
        s.mask = full
        s.pixels = n
        for e in legend:
            if delta_e_rgb(e.colour, p.rgb) < 12:
                s.name = e.text
                break
        out.append(s)
    return out


def _hugs(m: np.ndarray, other: np.ndarray, share: float = 0.8) -> bool:
    """True when most of ``m`` lies within 2 px of ``other`` (an edge / overlay of it, not an element)."""
    if not other.any():
        return False
    near = dilate(other, iterations=2)
    return float((m & near).sum()) >= share * float(m.sum())


def _blend_with_grey(c: Sequence[int], base: Sequence[int], tol: float = 18.0) -> bool:
    """True when ``c`` = t * base + (1 - t) * g for some grey g and 0.1 <= t <= 0.9."""
    cv, bv = np.asarray(c, float), np.asarray(base, float)
    for t in np.arange(0.1, 0.91, 0.05):
        g = (cv - t * bv) / (1 - t)
        if g.min() < -tol or g.max() > 255 + tol:
            continue
        if g.max() - g.min() <= tol:
            return True
    return False


def _classify_series(m: np.ndarray, colour: tuple[int, int, int], offset: tuple[int, int],
                     frame: tuple[int, int] | None = None) -> Series:
    """Bars, line, markers or area from one colour's mask; ``frame`` = the plot area's (height, width) when
    ``m`` is a crop of it (sizes are judged relative to the plot)."""
    s = classify_bridged(m, colour, offset, vertical=True, frame=frame)
    if s.kind == "bars" and not bars_vertical(s.bars):
        s = classify_bridged(m, colour, offset, vertical=False, frame=frame)
    return s


def classify_bridged(m: np.ndarray, colour: tuple[int, int, int], offset: tuple[int, int], *, vertical: bool,
                     frame: tuple[int, int] | None = None) -> Series:
    """Bars, line, markers or area from one colour's mask after bridging short cuts across vertical
    (``vertical``) or horizontal bars (see :func:`_classify_series`)."""
    return _classify_pieces(m, _close(m, vertical=vertical), colour, offset, frame)


def _close(m: np.ndarray, vertical: bool, k: int = 15) -> np.ndarray:
    """Bridge short cuts across bars (a line or markers drawn over them) without merging neighbours."""
    closed = close_(m, line(k, vertical)) | m
    # thin grid lines drawn across a bar split it in two: bridge gaps of a few pixels the other way
    return close_(closed, line(5, not vertical)) | closed


def _on_baseline(bars: list[BBox], H: int, W: int, offset: tuple[int, int]) -> list[BBox]:
    """Drop small isolated rectangles (legend patches, labels) that do not stand on the bars' baseline."""
    if len(bars) < 2:
        return bars
    bottoms = np.round([b[3] for b in bars])
    lefts = np.round([b[0] for b in bars])
    vals, counts = np.unique(bottoms, return_counts=True)
    lv, lc = np.unique(lefts, return_counts=True)
    vertical = counts.max() >= lc.max()
    base = float(vals[np.argmax(counts)]) if vertical else float(lv[np.argmax(lc)])
    out = []
    for b in bars:
        if vertical:
            touches = abs(b[3] - base) <= 3 or abs(b[1] - base) <= 3
            small = (b[3] - b[1]) < 0.04 * H
        else:
            touches = abs(b[0] - base) <= 3 or abs(b[2] - base) <= 3
            small = (b[2] - b[0]) < 0.04 * W
        if touches or not small:
            out.append(b)
    return out


def marker_features(m: np.ndarray, on_line: bool) -> np.ndarray:
    """Per marker (rows): how much of its box it fills (a square ~1, a circle ~0.8, a triangle or diamond
    ~0.5, a cross less) and how wide its top or bottom edge is against its height, the narrower of the two
    (a square ~1, a circle ~0.5, a triangle or diamond ~0). The markers of a line are what an opening with a
    disk ~2x the line width leaves."""
    if not m.any():
        return np.zeros((0, 2))
    core = m
    if on_line:
        t = stroke_width(m)
        r = int(min(7, max(1, round(1.05 * t))))
        core = open_(m, disc(r))
    lab, _ = ndi.label(core)
    out = []
    W = m.shape[1]
    for i, sl in enumerate(ndi.find_objects(lab)):
        if sl is None:
            continue
        bh, bw = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        if min(bh, bw) < 5 or max(bh, bw) > 2 * min(bh, bw):
            continue  # too small to have a shape, or a piece of line
        fill = float((lab[sl] == i + 1).sum()) / (bh * bw)
        cx = int(round((sl[1].start + sl[1].stop - 1) / 2))
        edges = []
        for row in (sl[0].start, sl[0].stop - 1):  # the marker's flat top and bottom (a line rarely crosses both)
            if not m[row, cx]:
                edges.append(0)
                continue
            a = b = cx
            while a > 0 and m[row, a - 1] and cx - a < bh:
                a -= 1
            while b < W - 1 and m[row, b + 1] and b - cx < bh:
                b += 1
            edges.append(b - a + 1)
        out.append((fill, min(edges) / bh))
    return np.asarray(out).reshape(-1, 2)


def _marker_shape_finding(rs: Series, cs: Series, label: str, box: BBox) -> Finding | None:
    """Markers drawn in another shape: their corner cover or fill differs by more than its spread within
    each image."""
    fr = marker_features(rs.mask, rs.kind == "line")
    fc = marker_features(cs.mask, cs.kind == "line")
    if fr.shape[0] < 3 or fc.shape[0] < 3:
        return None
    mr, mc = np.median(fr, axis=0), np.median(fc, axis=0)
    spread = np.maximum(np.median(np.abs(fr - mr), axis=0), np.median(np.abs(fc - mc), axis=0))
    if abs(mr[1] - mc[1]) < max(0.25, 3 * spread[1]) and abs(mr[0] - mc[0]) < max(0.12, 3 * spread[0]):
        return None

    def shape(f: np.ndarray) -> str:
        if f[1] >= 0.8:
            return "square"
        if f[1] >= 0.35:
            return "round"
        return "triangular or diamond" if f[0] > 0.35 else "thin (cross, plus)"

    if shape(mr) == shape(mc) and abs(mr[1] - mc[1]) < 2 * max(0.25, 3 * spread[1]) \
            and abs(mr[0] - mc[0]) < 2 * max(0.12, 3 * spread[0]):
        return None  # the same kind of shape, a little fuller or sharper: another rasteriser's edges
    return Finding("style_error", 1, label, f"marker shape differs ({shape(mr)} markers expected, {shape(mc)} found)",
                   box, {"ref_marker_fill": round(float(mr[0]), 3), "cand_marker_fill": round(float(mc[0]), 3),
                         "ref_marker_edge": round(float(mr[1]), 3), "cand_marker_edge": round(float(mc[1]), 3)})


def _marker_count(m: np.ndarray) -> int:
    """Blobs wider than the line through them (markers), by an opening with a square ~2x the line width."""
    if not m.any():
        return 0
    t = stroke_width(m)
    r = int(min(7, max(1, round(1.05 * t))))
    opened = open_(m, disc(r))
    _, n = ndi.label(opened)
    return int(n)


def _classify_pieces(m0: np.ndarray, m: np.ndarray, colour: tuple[int, int, int], offset: tuple[int, int],
                     frame: tuple[int, int] | None = None) -> Series:
    lab, n = ndi.label(m)
    objs = ndi.find_objects(lab)
    sizes = count_in_labels(m, lab, n) if n else np.array([])
    H, W = frame if frame is not None else m.shape
    bars: list[BBox] = []
    blobs: list[BBox] = []
    long_px = 0
    for i, sl in enumerate(objs):
        if sl is None:
            continue
        bh, bw = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        fill = sizes[i] / max(1, bh * bw)
        box = (float(sl[1].start + offset[0]), float(sl[0].start + offset[1]), float(sl[1].stop + offset[0]),
               float(sl[0].stop + offset[1]))
        if fill > 0.85 and min(bw, bh) >= 2 and sizes[i] >= 30 and (bw >= 0.03 * W or bh >= 0.03 * H) \
                and min(bw, bh) >= 4 or (fill > 0.85 and sizes[i] >= 30 and (bw >= 0.06 * W or bh >= 0.06 * H)):
            bars.append(box)
        elif bw <= 0.05 * W and bh <= 0.05 * H and fill > 0.35 and sizes[i] >= 6:
            blobs.append(box)
        else:
            long_px += int(sizes[i])
    bars = _on_baseline(bars, H, W, offset)
    total = int(m.sum()) or 1
    bar_px = sum((b[2] - b[0]) * (b[3] - b[1]) for b in bars)
    if bars and bar_px >= 0.6 * total:
        kind = "bars"
    elif long_px >= 0.4 * total:
        kind = "line"
    elif blobs:
        kind = "markers"
    else:
        kind = "area"
    bars.sort(key=lambda b: (b[0], b[1]))
    blobs.sort(key=lambda b: (b[0], b[1]))
    if kind == "line":
        blobs = [(0.0, 0.0, 0.0, 0.0)] * _marker_count(m0)
    return Series(colour=colour, kind=kind, mask=m0, bars=bars if kind == "bars" else [], blobs=blobs)


# --------------------------------------------------------------------------------------------- locations

def chart_location(layout: ChartLayout, box: Sequence[float]) -> str:
    """A human-readable place in a chart: "title", "x-axis tick labels", "legend", "plot area (upper-left)"."""
    cx, cy = centre(box)
    th = layout.text_height
    if layout.legend_box is not None and overlap_fraction(box, layout.legend_box) > 0.5:
        return "legend"
    if not layout.axes:
        return f"{position_name(box, layout.content)} of the figure"
    multi = len(layout.axes) > 1
    best, best_d = None, 1e18
    for i, ax in enumerate(layout.axes):
        x0, y0, x1, y1 = ax.bbox
        dx = max(x0 - cx, 0, cx - x1)
        dy = max(y0 - cy, 0, cy - y1)
        d = dx * dx + dy * dy
        if d < best_d:
            best, best_d = i, d
    assert best is not None
    ax = layout.axes[best]
    x0, y0, x1, y1 = ax.bbox
    prefix = f"subplot {best + 1} " if multi else ""
    if x0 <= cx <= x1 and y0 <= cy <= y1:
        return f"{prefix}plot area ({position_name(box, ax.bbox)})"
    if cy > y1 and x0 - th <= cx <= x1 + th:
        return f"{prefix}x-axis tick labels" if cy <= y1 + 2.2 * th else f"{prefix}x-axis label"
    if cx < x0 and y0 - th <= cy <= y1 + th:
        if ax.ylabel_box is not None and cx <= ax.ylabel_box[2]:
            return f"{prefix}y-axis label"
        right_of_ticks = min((t.bbox[0] for t in ax.y_ticks), default=x0 - 4 * th)
        return f"{prefix}y-axis tick labels" if cx >= right_of_ticks - 0.5 * th else f"{prefix}y-axis label"
    if cy < y0:
        top_axes = min(a.bbox[1] for a in layout.axes)
        if multi and cy < top_axes - 2.5 * th:
            return "figure title"
        return f"{prefix}title"
    if cx > x1:
        return f"{prefix}right of the plot area"
    return f"{position_name(box, layout.content)} of the figure"


# --------------------------------------------------------------------------------------------- comparison

def _grid_shape(boxes: Sequence[BBox]) -> tuple[int, int]:
    """(rows, columns) of an arrangement of boxes."""
    if not boxes:
        return 0, 0
    ys = sorted(b[1] for b in boxes)
    xs = sorted(b[0] for b in boxes)
    hs = np.median([b[3] - b[1] for b in boxes])
    ws = np.median([b[2] - b[0] for b in boxes])
    rows = 1 + sum(1 for a, b in zip(ys, ys[1:]) if b - a > 0.5 * hs)
    cols = 1 + sum(1 for a, b in zip(xs, xs[1:]) if b - a > 0.5 * ws)
    return rows, cols


def _pair_axes(ref: ChartLayout, cand: ChartLayout) -> list[tuple[int, int]]:
    from scipy.optimize import linear_sum_assignment

    if not ref.axes or not cand.axes:
        return []
    cost = np.array([[1 - box_iou(a.bbox, b.bbox) for b in cand.axes] for a in ref.axes])
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if cost[r, c] < 0.9]


def _pair_series(ctx: Context, ra: AxesInfo, ca: AxesInfo) -> tuple[list[tuple[Series, Series]], list[Series], list[Series]]:
    """Series paired by colour (ΔE2000), falling back to recoloured regions and then to spatial overlap."""
    from scipy.optimize import linear_sum_assignment

    rs, cs = ra.series, ca.series
    if not rs or not cs:
        return [], list(rs), list(cs)
    de = np.array([[delta_e_rgb(a.colour, b.colour) for b in cs] for a in rs])
    ov = np.zeros_like(de)
    for i, a in enumerate(rs):
        for j, b in enumerate(cs):
            ov[i, j] = _mask_overlap(a.mask, b.mask)
    kinds = np.array([[0.0 if a.kind == b.kind else 0.3 for b in cs] for a in rs])
    cost = np.minimum(de, 60) / 60 + (1 - ov) + kinds
    rows, cols = linear_sum_assignment(cost)
    pairs, ur, uc = [], set(range(len(rs))), set(range(len(cs)))
    for r, c in zip(rows, cols):
        if de[r, c] < 12 or ov[r, c] > 0.45:
            pairs.append((rs[r], cs[c]))
            ur.discard(r)
            uc.discard(c)
    return pairs, [rs[i] for i in sorted(ur)], [cs[j] for j in sorted(uc)]


def _mask_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap of two plot-area masks after a small dilation (shape tolerance)."""
    if a.shape != b.shape:
        h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
        a, b = a[:h, :w], b[:h, :w]
    if not a.any() or not b.any():
        return 0.0
    a4 = _pool(a, 4)
    b4 = _pool(b, 4)
    inter = float((a4 & b4).sum())
    return 2 * inter / max(1.0, float(a4.sum() + b4.sum()))


def _pool(m: np.ndarray, k: int) -> np.ndarray:
    """Any set pixel per k x k block (the same as ``.any(axis=(1, 3))`` on the blocks, ~40x faster: four bools
    of a row read as one uint32, then k rows OR-ed)."""
    h, w = (m.shape[0] // k) * k, (m.shape[1] // k) * k
    if h == 0 or w == 0:
        return m
    a = np.ascontiguousarray(m[:h, :w])
    if k == 4 and a.dtype == np.bool_:
        cols = a.view(np.uint32).reshape(h, w // 4) != 0
    else:
        cols = a.reshape(h, w // k, k).any(axis=2)
    rows = cols.reshape(h // k, k, w // k)
    out = rows[:, 0].copy()
    for i in range(1, k):
        out |= rows[:, i]
    return out


def _value_of(ax: AxesInfo, y: float) -> float | None:
    if ax.y_calibration is None:
        return None
    a, b = ax.y_calibration
    return a * y + b


def compare_charts(ctx: Context, ref: ChartLayout, cand: ChartLayout) -> list[Finding]:
    """Structure, series, grid and legend findings; consumes the difference regions they explain."""
    out: list[Finding] = []
    W, H = ctx.size
    loc = lambda b: chart_location(ref, b)

    # ---- structure: number and arrangement of subplots
    changed_area = sum(r.area for r in ctx.regions) / float(W * H)
    if len(ref.axes) != len(cand.axes) and (ref.axes or cand.axes) and changed_area >= 0.02:
        desc = f"{len(ref.axes)} plot area(s) expected, {len(cand.axes)} found"
        if ref.axes and not cand.axes:
            desc += " (the candidate has no axes: a different chart type?)"
        out.append(Finding("structure_error", 3, "figure layout", desc, ref.content,
                           {"ref_subplots": len(ref.axes), "cand_subplots": len(cand.axes)}))
        _consume_big(ctx, 0.02)
    elif len(ref.axes) > 1 and len(ref.axes) == len(cand.axes) and changed_area >= 0.02:
        rg = _grid_shape([a.bbox for a in ref.axes])
        cg = _grid_shape([a.bbox for a in cand.axes])
        if rg != cg:
            out.append(Finding("structure_error", 3, "figure layout",
                               f"subplots arranged {rg[0]}x{rg[1]} expected, {cg[0]}x{cg[1]} found", ref.content,
                               {"ref_grid": list(rg), "cand_grid": list(cg)}))
            _consume_big(ctx, 0.02)
    relayout = bool(out)
    pairs = _pair_axes(ref, cand)
    for ri, ci in pairs:
        ra, ca = ref.axes[ri], cand.axes[ci]
        name = f"subplot {ri + 1} " if len(ref.axes) > 1 else ""
        # plot-area geometry: a moved / resized plot area (other layout, figsize) misplaces everything
        rb, cb = ra.bbox, ca.bbox
        rw, rh = rb[2] - rb[0], rb[3] - rb[1]
        shift = max(abs(rb[0] - cb[0]) / rw, abs(rb[2] - cb[2]) / rw, abs(rb[1] - cb[1]) / rh, abs(rb[3] - cb[3]) / rh)
        if shift > 0.15 and changed_area < 0.02 and len(ref.axes) != len(cand.axes):
            # the two images' plot areas were read differently (two subplots taken for one) while hardly any
            # pixel changed: comparing marks inside unlike boxes would invent data errors
            continue
        if shift > 0.04 and _supported(ctx, rb) and not relayout:  # a new subplot grid moves every plot area
            out.append(Finding("structure_error", 2 if shift < 0.15 else 3, f"{name}plot area",
                               f"plot area position or size differs by {shift * 100:.0f} % of its size",
                               rb, {"ref_box": [round(v) for v in rb], "cand_box": [round(v) for v in cb]}))
        out.extend(_compare_scales(ctx, ra, ca, name))
        recoloured = _compare_colour_mapping(ctx, ra.bbox, f"{name}plot area colour map")
        if recoloured:  # a heatmap or image in another colour map: its cells are no series to compare
            out.extend(recoloured)
            continue
        before = len(out)
        out.extend(_compare_series(ctx, ra, ca, name, loc))
        grid = _compare_grid(ctx, ra, ca, name)
        if any((g.evidence or {}).get("grid_only_change") for g in grid):
            # every changed pixel lies on a grid line switched off or on: what the series comparison saw
            # (a translucent marker over a vanished line reads as recoloured) follows from the grid
            del out[before:]
            ctx.consume_overlapping(ra.bbox, 0.8)
        out.extend(grid)
        if len(out) == before:  # nothing else explains this plot area: markers redrawn in another shape?
            out.extend(_compare_marker_sites(ctx, ra, name))
        if len(out) == before:  # or black strokes drawn in dark grey (no series: grey ink is no palette colour)
            out.extend(_compare_dark_ink(ctx, ra, ref, name))
    out.extend(_compare_text_ink(ctx))
    whole = _compare_colour_mapping(ctx)  # a heatmap not found as a plot area, or the colour bar beside one
    if not any(f.description.startswith("colour map differs") for f in out):
        out.extend(whole)  # (else the colour bar follows from the plot area's colour map: consumed, not repeated)
    # ---- legend presence
    if ref.legend and not cand.legend and _supported(ctx, ref.legend_box or union_box([e.bbox for e in ref.legend])):
        box = ref.legend_box or union_box([e.bbox for e in ref.legend])
        out.append(Finding("text_error", 2, "legend", f"legend with {len(ref.legend)} entries is missing", box,
                           {"entries": [e.text for e in ref.legend]}))
        ctx.consume_overlapping(box, 0.5, pad=4)
    elif cand.legend and not ref.legend and _supported(ctx, cand.legend_box or union_box([e.bbox for e in cand.legend])):
        box = cand.legend_box or union_box([e.bbox for e in cand.legend])
        out.append(Finding("text_error", 1, "legend", f"unexpected legend with {len(cand.legend)} entries", box,
                           {"entries": [e.text for e in cand.legend]}))
        ctx.consume_overlapping(box, 0.5, pad=4)
    elif ref.legend and cand.legend and ref.legend_box and cand.legend_box:
        where = (position_name(ref.legend_box, (0, 0, W, H)), position_name(cand.legend_box, (0, 0, W, H)))
        if box_iou(ref.legend_box, cand.legend_box) < 0.3 and where[0] != where[1] \
                and not _legend_entries_stay(ref.legend, cand.legend, ref.text_height) \
                and _supported(ctx, ref.legend_box):  # (the same place named twice: a legend box found larger)
            out.append(Finding("text_error", 1, "legend",
                               f"legend placed at the {position_name(cand.legend_box, (0, 0, W, H))} instead of the "
                               f"{position_name(ref.legend_box, (0, 0, W, H))}", ref.legend_box))
            ctx.consume_overlapping(ref.legend_box, 0.5, pad=4)
            ctx.consume_overlapping(cand.legend_box, 0.5, pad=4)
    return out


def _legend_entries_stay(ref: Sequence[LegendEntry], cand: Sequence[LegendEntry], th: float) -> bool:
    """Most legend entries read alike at the same place (within a text height) in both images: the legend
    did not move, whatever box each image's legend finder drew around it."""
    same = 0
    for e in ref:
        for f in cand:
            if e.text and e.text == f.text and abs(e.bbox[0] - f.bbox[0]) <= th and abs(e.bbox[1] - f.bbox[1]) <= th:
                same += 1
                break
    return bool(ref) and same >= max(1, 0.5 * len(ref))


def colour_mapping_change(ref: np.ndarray, cand: np.ndarray, background: Sequence[int], *, min_delta_e: float = 10.0,
                          min_share: float = 0.01, min_colours: int = 4,
                          max_spread: float = 8.0, max_step: int = 16) -> tuple[BBox, int, float] | None:
    """Many colours of the drawing repainted with the geometry kept: a colour map (heatmap, image, colour bar)
    or a whole palette changed. Pixels (every 2nd) that are not background in either image and whose colour
    moved by at least ``min_delta_e`` (CIE76 on Lab) must cover ``min_share`` of the frame and come from at
    least ``min_colours`` distinct reference colours (5-bit bins holding 0.1 % of the frame each; one repainted
    series is one colour), each sent to one colour (median Lab spread of its new colours at most
    ``max_spread``). Only pixels inside painted areas count (no channel steps by more than ``max_step`` to
    the 4 neighbours, in both images). Returns (box of the repainted pixels, distinct colours, median ΔE) or None."""
    from .colour import channel_distance, rgb_to_lab

    r, c = ref[::2, ::2], cand[::2, ::2]
    if r.shape != c.shape:
        return None
    ink = (channel_distance(r, background) >= 25) & (channel_distance(c, background) >= 25)
    if ink.sum() < min_share * ink.size:
        return None
    # only the inside of painted areas: edges and thin strokes change colour with every rasteriser (anti-
    # aliasing, JPEG, resampling), a colour map repaints the flat inside of its cells too
    ink &= _flat(r, max_step) & _flat(c, max_step)
    lr, lc = rgb_to_lab(r[ink]), rgb_to_lab(c[ink])
    de = np.sqrt(((lr - lc) ** 2).sum(axis=1))
    moved = de >= min_delta_e
    if moved.sum() < min_share * ink.size:
        return None
    q = (r[ink][moved].astype(np.int32) >> 3)
    keys = (q[:, 0] << 10) | (q[:, 1] << 5) | q[:, 2]
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    big = np.nonzero(counts >= 0.001 * ink.size)[0]
    colours = int(big.size)
    if colours < min_colours:
        return None
    # a mapping, not a mess: each repainted reference colour becomes one colour (a shifted or different
    # drawing sends one colour to many)
    lc_moved = lc[moved]
    spread = [float(np.sqrt(lc_moved[inverse == k].var(axis=0).sum())) for k in big]
    if float(np.median(spread)) > max_spread:
        return None
    ys, xs = np.nonzero(ink)
    ys, xs = ys[moved], xs[moved]
    box = (2 * int(xs.min()), 2 * int(ys.min()), 2 * int(xs.max()) + 2, 2 * int(ys.max()) + 2)
    return box, colours, float(np.median(de[moved]))


def _flat(a: np.ndarray, max_step: int) -> np.ndarray:
    """Pixels of an RGB array whose 4 neighbours differ from them by at most ``max_step`` in every channel
    (the inside of a painted area, not an edge or a thin stroke); the border counts as not flat."""
    x = a.astype(np.int16)
    flat = np.zeros(a.shape[:2], dtype=bool)
    inner = flat[1:-1, 1:-1]
    inner[...] = True
    core = x[1:-1, 1:-1]
    for nb in (x[:-2, 1:-1], x[2:, 1:-1], x[1:-1, :-2], x[1:-1, 2:]):
        inner &= max_abs_diff(core, nb) <= max_step
    return flat


def _compare_colour_mapping(ctx: Context, area: BBox | None = None, where: str = "colour map") -> list[Finding]:
    """A colour map changed: in ``area`` (default: what is left unexplained in the whole frame), a large
    share of many repainted colours with the same shapes."""
    W, H = ctx.size
    x0, y0, x1, y1 = (0, 0, W, H) if area is None else (max(0, int(area[0])), max(0, int(area[1])),
                                                          min(W, int(area[2]) + 1), min(H, int(area[3]) + 1))
    left = [r for _, r in ctx.unexplained() if overlap_fraction(r.bbox, (x0, y0, x1, y1)) > 0.5]
    if not left or sum(r.area for r in left) < 0.01 * W * H:
        return []
    found = colour_mapping_change(ctx.al.ref[y0:y1, x0:x1], ctx.al.cand[y0:y1, x0:x1], ctx.al.ref_background)
    if found is None:
        return []
    b, colours, de = found
    box = (x0 + b[0], y0 + b[1], x0 + b[2], y0 + b[3])
    ctx.consume_overlapping(box, 0.6, pad=4)
    if area is not None:
        ctx.consume_overlapping(area, 0.6, pad=2)
    return [Finding("style_error", 2, where,
                    f"colour map differs: {colours} colours of the drawing are repainted (median ΔE {de:.0f}) "
                    f"with the same shapes", box, {"repainted_colours": colours, "median_delta_e": round(de, 1)})]


def _consume_big(ctx: Context, min_share: float) -> None:
    W, H = ctx.size
    for i, r in enumerate(ctx.regions):
        if r.area >= min_share * W * H:
            ctx.consumed.add(i)


def axis_ranges(ax: AxesInfo, axis: str) -> tuple[float, float] | None:
    """The values at the plot area's two edges along ``axis`` ("x" or "y"), from the axis's tick calibration."""
    cal = ax.y_calibration if axis == "y" else ax.x_calibration
    if cal is None:
        return None
    lo, hi = (ax.bbox[3], ax.bbox[1]) if axis == "y" else (ax.bbox[0], ax.bbox[2])
    return cal[0] * lo + cal[1], cal[0] * hi + cal[1]


def scale_status(ra: AxesInfo, ca: AxesInfo, axis: str) -> str:
    """"same" when both images' tick labels put the same values at the plot's edges (within 2 % of the
    range), "differs" when they do not, "unknown" when either axis could not be read as numbers."""
    r, c = axis_ranges(ra, axis), axis_ranges(ca, axis)
    if r is None or c is None:
        return "unknown"
    span = abs(r[1] - r[0]) or 1.0
    return "same" if max(abs(r[0] - c[0]), abs(r[1] - c[1])) <= 0.02 * span else "differs"


def tick_label_status(ref: ChartLayout, cand: ChartLayout) -> dict[str, str]:
    """For each tick-label location name of the reference ("x-axis tick labels", "subplot 2 y-axis tick
    labels"), whether the two images' axes carry the same scale (see :func:`scale_status`)."""
    out: dict[str, str] = {}
    for ri, ci in _pair_axes(ref, cand):
        prefix = f"subplot {ri + 1} " if len(ref.axes) > 1 else ""
        for axis in ("x", "y"):
            out[f"{prefix}{axis}-axis tick labels"] = scale_status(ref.axes[ri], cand.axes[ci], axis)
    return out


def _compare_scales(ctx: Context, ra: AxesInfo, ca: AxesInfo, name: str) -> list[Finding]:
    """One data error per axis whose range (read from each image's own tick labels) differs."""
    out = []
    for axis in ("y", "x"):
        if scale_status(ra, ca, axis) != "differs":
            continue
        r, c = axis_ranges(ra, axis), axis_ranges(ca, axis)
        assert r is not None and c is not None
        ticks = ra.y_ticks if axis == "y" else ra.x_ticks
        box = union_box([t.bbox for t in ticks]) if ticks else ra.bbox
        if ticks and not _supported(ctx, box):
            continue  # the tick labels' pixels did not change: the same scale, read differently by OCR
        span = abs(r[1] - r[0])

        def rng(v: tuple[float, float], span: float = span) -> str:
            return f"{fmt_number(_round_value(min(v), span))} to {fmt_number(_round_value(max(v), span))}"

        out.append(Finding("data_error", 2, f"{name}{axis}-axis tick labels",
                           f"{axis}-axis range differs (scale or limits): about {rng(r)} expected, {rng(c)} found",
                           box, {"expected_range": [round(v, 6) for v in r], "found_range": [round(v, 6) for v in c]}))
        ctx.consume_overlapping(box, 0.5, pad=3)
    return out


def _compare_grid(ctx: Context, ra: AxesInfo, ca: AxesInfo, name: str) -> list[Finding]:
    out = []
    sx, sy = ctx.al.cand_scale
    resampled = abs(sx - 1) > 0.002 or abs(sy - 1) > 0.002 or ctx.al.work_scale != 1.0
    changes = []
    for axis, rn, cn, rf, cf in (("horizontal", ra.h_grid, ca.h_grid, ra.h_grid_faint, ca.h_grid_faint),
                                 ("vertical", ra.v_grid, ca.v_grid, ra.v_grid_faint, ca.v_grid_faint)):
        if not resampled:  # faint lines only matter when resampling may have washed a grid out
            rf, cf = rn, cn
        rf, cf = max(rf, rn), max(cf, cn)  # (a line found at the plain threshold is there, however blurred)
        if (rn >= 3 and cf <= 1) or (cn >= 3 and rf <= 1):
            changes.append((axis, "missing" if rn >= 2 else "unexpected", rn, cn))
    seen, spans = grid_line_spans(ctx.al.ref, ctx.al.cand, ra.bbox)  # lines only one image draws (blur-tolerant)
    if changes and not any(s[1] == c[1] for s in seen for c in changes):
        changes = []  # the counts differ, the pixels do not: the same grid drawn wider or softer (resampling)
    if not changes:  # faint, dashed or light-on-grey grids the counts miss
        changes = seen
    if not resampled:  # the same grid lines drawn in another dash pattern (a faint dashed grid counts as none)
        style = grid_style_change(ctx.al.ref, ctx.al.cand, ra.bbox)
        if style is not None:
            box = ra.bbox
            out.append(Finding("style_error", 1, f"{name}plot area grid",
                               f"grid line style differs ({style[0]} expected, {style[1]} found)", box,
                               {"ref_grid_pattern": style[2], "cand_grid_pattern": style[3]}))
            for i, r in enumerate(ctx.regions):
                if i not in ctx.consumed and overlap_fraction(r.bbox, box) > 0.8 and r.pixels < 0.02 * r.area + 50:
                    ctx.consumed.add(i)
            return out
    if changes:  # a grid switched on or off is one style change, whichever directions it draws
        desc = "; ".join(f"{axis} grid lines {state} ({rn} expected, {cn} found)" for axis, state, rn, cn in changes)
        evidence: dict[str, object] = {"ref_grid_lines": [c[2] for c in changes],
                                       "cand_grid_lines": [c[3] for c in changes]}
        near = None
        if not resampled and bool(seen) and all(s[1] == c[1] for s in seen for c in changes):
            # lines marks hide most of (a grid under bars) count for the mask, on the same side
            side = {sp[1] for sp in spans}
            more = grid_line_spans(ctx.al.ref, ctx.al.cand, ra.bbox, min_cover=0.05)[1]
            spans = sorted(set(spans) | {sp for sp in more if sp[1] in side})
            changed = any_channel_differs(ctx.al.ref, ctx.al.cand) if ctx.al.ref.shape == ctx.al.cand.shape else None
            lines = grid_lines_mask(changed, ra.bbox, spans) if changed is not None else None
            near = dilate(lines, iterations=1) if lines is not None else None
            if near is not None and _explain_exactly(ctx, near):
                evidence["grid_exact_elsewhere"] = True  # nothing else changed: no rasterisation nuisance (kept)
                if not np.any(changed & ~near):
                    evidence["grid_only_change"] = True  # every changed pixel lies on a grid line
        out.append(Finding("style_error", 1, f"{name}plot area grid", desc, ra.bbox, evidence))
        # grid differences spread thin lines over the plot: consume thin, low-ink regions, and regions drawn
        # mostly on the lines themselves (a grid line crossing a curve)
        for i, r in enumerate(ctx.regions):
            if i in ctx.consumed or overlap_fraction(r.bbox, ra.bbox) <= 0.8:
                continue
            if r.pixels < 0.02 * r.area + 50 or (near is not None and r.share_on(near) >= 0.85):
                ctx.consumed.add(i)
    return out


def grid_lines_mask(changed: np.ndarray, box: BBox, spans: Sequence[GridSpan]) -> np.ndarray | None:
    """The pixels of grid lines only one image draws (``spans`` across plot area ``box``, 1 px wider each
    side) among ``changed`` (the pixels where the two same-size images differ); None without spans."""
    if not spans:
        return None
    H, W = changed.shape
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
    mask = np.zeros((H, W), bool)
    for axis, _side, a, b in spans:
        if axis == "horizontal":
            mask[max(0, a - 1):min(H, b + 1), x0:x1] = True
        else:
            mask[y0:y1, max(0, a - 1):min(W, b + 1)] = True
    return mask & changed


def _explain_exactly(ctx: Context, mask: np.ndarray) -> bool:
    """Is the pair pixel-exact once ``mask`` (pixels a finding explains) is set aside? Then the mask joins
    ``ctx.recoloured`` (so the verifier sees a pair with no rasterisation nuisance)."""
    from .features import pixel_exact_elsewhere

    explained = mask if ctx.recoloured is None else (ctx.recoloured | mask)
    if not pixel_exact_elsewhere(ctx.al.ref, ctx.al.cand, ctx.diff, explained):
        return False
    ctx.recoloured = explained
    return True


def _blur_rows(img: np.ndarray) -> np.ndarray:
    """A 2-D array averaged over each row and its two neighbours (edge rows kept)."""
    out = img.astype(np.float32, copy=True)
    if img.shape[0] >= 3:
        out[1:-1] = (img[:-2] + img[1:-1] + img[2:]) / 3.0
    return out


def _row_contrast(img: np.ndarray, s0: int, s1: int, cols: np.ndarray) -> float:
    """How much rows ``s0:s1`` of a grey crop stand out, at columns ``cols``, from the rows 3 px around them."""
    line = img[s0:s1][:, cols].mean(axis=0)
    around = (img[s0 - 3][cols] + img[s1 + 2][cols]) / 2.0
    return float(np.median(np.abs(line - around)))


def grid_line_changes(ref: np.ndarray, cand: np.ndarray, box: BBox, *, min_cover: float = 0.25,
                      min_contrast: float = 6.0) -> list[tuple[str, str, int, int]]:
    """:func:`grid_line_spans` without the lines' places."""
    return grid_line_spans(ref, cand, box, min_cover=min_cover, min_contrast=min_contrast)[0]


#: One grid line only one image draws: (axis, side, first row or column, end), in image pixels; side 0 is a
#: line only the reference draws, 1 one only the candidate draws.
GridSpan = tuple[str, int, int, int]


def grid_line_spans(ref: np.ndarray, cand: np.ndarray, box: BBox, *, min_cover: float = 0.25,
                    min_contrast: float = 6.0) -> tuple[list[tuple[str, str, int, int]], list[GridSpan]]:
    """Grid lines one image draws across plot area ``box`` and the other does not (both in one frame).

    Rows (columns) where the two images differ over at least ``min_cover`` of the plot's width (height), in
    runs at most 4 px thick, are candidate lines; a line belongs to the image where it stands out from the
    rows 3 px above and below it (by ``min_contrast`` grey levels) while in the other image it does not, so
    a grid drawn in both (crisper in one) is no change. Faint, dashed and white-on-grey grids count. Returns
    ``(axis, "missing" | "unexpected", lines in ref, lines in cand)`` per direction with at least 2 such lines
    (3 over both directions), all on the same side, and the :data:`GridSpan` of each of those lines."""
    from .colour import chroma_of

    x0, y0, x1, y1 = (int(round(v)) for v in box)
    if x1 - x0 < 40 or y1 - y0 < 40:
        return [], []
    r = ref[y0 + 3:y1 - 2, x0 + 3:x1 - 2].astype(np.int16)
    c = cand[y0 + 3:y1 - 2, x0 + 3:x1 - 2].astype(np.int16)
    if r.shape != c.shape or r.size == 0:
        return [], []
    grey = (chroma_of(ref[y0 + 3:y1 - 2, x0 + 3:x1 - 2]) < 24) & (chroma_of(cand[y0 + 3:y1 - 2, x0 + 3:x1 - 2]) < 24)
    changed = (max_abs_diff(r, c) >= min_contrast) & grey
    rg, cg = channel_mean(r), channel_mean(c)
    found: dict[str, list[int]] = {}
    spans: list[GridSpan] = []
    for axis, ch, a, b in (("horizontal", changed, rg, cg), ("vertical", changed.T, rg.T, cg.T)):
        # contrast measured after a 3-px blur across the lines, in both images: the same line drawn 1 px
        # off, crisper (anti-aliasing off) or softer (resampled, another rasteriser) keeps its contrast there,
        # a line only one image draws keeps a third of it
        a, b = _blur_rows(a), _blur_rows(b)
        hot = ch.mean(axis=1) >= min_cover
        padded = np.concatenate([[False], hot, [False]]).astype(np.int8)
        d = np.diff(padded)
        sides = [0, 0]  # lines drawn by ref only, by cand only
        offset = y0 + 3 if axis == "horizontal" else x0 + 3
        for s0, s1 in zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]):
            if s1 - s0 > 4 or s0 < 3 or s1 + 3 > a.shape[0]:
                continue
            cols = ch[s0:s1].any(axis=0)
            if cols.sum() < 10:
                continue
            ca_, cb_ = _row_contrast(a, s0, s1, cols), _row_contrast(b, s0, s1, cols)
            if ca_ >= min_contrast and cb_ < 0.35 * ca_:
                sides[0] += 1
                spans.append((axis, 0, int(s0) + offset, int(s1) + offset))
            elif cb_ >= min_contrast and ca_ < 0.35 * cb_:
                sides[1] += 1
                spans.append((axis, 1, int(s0) + offset, int(s1) + offset))
        found[axis] = sides
    ref_only = sum(s[0] for s in found.values())
    cand_only = sum(s[1] for s in found.values())
    if max(ref_only, cand_only) < 3 or min(ref_only, cand_only) > 0:
        return [], []
    k = 0 if ref_only else 1
    state = "missing" if k == 0 else "unexpected"
    changes = [(axis, state, s[0], s[1]) for axis, s in found.items() if s[k] >= 2]
    return changes, [sp for sp in spans if sp[1] == k and any(c[0] == sp[0] for c in changes)]


def _line_patterns(img: np.ndarray, min_contrast: float, smooth: bool = False) -> list[tuple[float, float]]:
    """For rows 3 .. n-4 of a grey crop: the share of columns where the row stands out from the rows 3 px
    above and below it (a grid line), and how many separate pieces it is drawn in per 100 px. A pixel is
    drawn where it reaches half the row's 90th percentile (a crisper or softer copy of the same dashes keeps
    its pattern); ``smooth`` first averages the contrast over 3 px along the row (a 1-px dip from JPEG does
    not cut a dash, but a crisp 1-px dash gap closes too)."""
    con = np.abs(img[3:-3] - (img[:-6] + img[6:]) / 2.0)
    if smooth and con.shape[1] >= 3:
        con[:, 1:-1] = (con[:, :-2] + con[:, 1:-1] + con[:, 2:]) / 3.0
    on = con >= np.maximum(min_contrast, 0.5 * np.percentile(con, 90, axis=1))[:, None]
    starts = np.count_nonzero(np.diff(np.pad(on.astype(np.int8), ((0, 0), (1, 0))), axis=1) == 1, axis=1)
    per100 = 100.0 * starts / max(1, on.shape[1])
    return [(float(a), float(b)) for a, b in zip(on.mean(axis=1), per100)]


def grid_style_change(ref: np.ndarray, cand: np.ndarray, box: BBox, *,
                      min_contrast: float = 6.0) -> tuple[str, str, list[float], list[float]] | None:
    """The grid lines both images draw in plot area ``box``, in another dash pattern (solid, dashed,
    dash-dot): at least 3 lines whose drawn share or pieces per 100 px differ clearly and the same way.
    Returns (ref style, cand style, ref pattern, cand pattern) or None."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    if x1 - x0 < 60 or y1 - y0 < 60:
        return None
    r = channel_mean(ref[y0 + 3:y1 - 2, x0 + 3:x1 - 2], np.float32)
    c = channel_mean(cand[y0 + 3:y1 - 2, x0 + 3:x1 - 2], np.float32)
    if r.shape != c.shape:
        return None
    # the change must hold measured both ways: raw (JPEG noise cuts dashes into more pieces) and smoothed
    # along the lines (a crisp copy's 1-px dash gaps close): a real new pattern survives both
    for smooth in (True, False):
        diffs = []
        for a, b in ((r, c), (r.T, c.T)):
            pats = list(zip(_line_patterns(a, min_contrast, smooth), _line_patterns(b, min_contrast, smooth)))
            best = np.asarray([max(pa[0], pb[0]) for pa, pb in pats])
            for k, (ra_, rb_) in enumerate(pats):
                if best[k] < 0.45 or min(ra_[0], rb_[0]) < 0.2:
                    continue  # not a grid line in both images
                if best[k] < best[max(0, k - 2):k + 3].max():
                    continue  # a row next to the line (its neighbours 3 px away hold the line)
                diffs.append((ra_, rb_))
        if len(diffs) < 3:
            return None
        share_gap = np.asarray([d[1][0] - d[0][0] for d in diffs])
        piece_ratio = np.asarray([(d[1][1] + 0.2) / (d[0][1] + 0.2) for d in diffs])
        moved = (np.abs(share_gap) >= 0.3) | (piece_ratio >= 1.6) | (piece_ratio <= 1 / 1.6)
        if moved.sum() < 3 or moved.mean() < 0.6:
            return None
        if smooth:
            smoothed = diffs
    diffs = smoothed  # (described as measured smoothed)

    def style(share: float, per100: float) -> str:
        return "solid" if share >= 0.9 or per100 < 2.0 else "dashed or dotted"

    ref_p = [float(np.median([d[0][0] for d in diffs])), float(np.median([d[0][1] for d in diffs]))]
    cand_p = [float(np.median([d[1][0] for d in diffs])), float(np.median([d[1][1] for d in diffs]))]
    rs, cs = style(*ref_p), style(*cand_p)
    if rs == cs == "solid":  # both solid: lines partly hidden or softer, not another dash pattern
        return None
    if rs == cs:
        rs, cs = f"{rs}, {ref_p[1]:.1f} pieces per 100 px", f"{cs}, {cand_p[1]:.1f} pieces per 100 px"
    return rs, cs, [round(v, 2) for v in ref_p], [round(v, 2) for v in cand_p]


def _compare_series(ctx: Context, ra: AxesInfo, ca: AxesInfo, name: str, loc) -> list[Finding]:  # type: ignore[no-untyped-def]
    out: list[Finding] = []
    pairs, missing, extra = _pair_series(ctx, ra, ca)
    ph = max(1.0, ra.bbox[3] - ra.bbox[1])
    pw = max(1.0, ra.bbox[2] - ra.bbox[0])
    for s in missing:  # a broken line the candidate's series finder lost: its own paint, in other pieces
        restyled = _unpaired_line_style(ctx, ra, s, f"{name}line of {s.label}")
        if restyled is not None:
            out.append(restyled)
            ctx.consume_overlapping(restyled.bbox, 0.6, pad=4)
    missing = [s for s in missing if not _present_in(ctx.al.cand, ctx.al.cand_background, s, ra.bbox)
               and _ink_changed(ctx, ra, s, s.colour, ctx.al.ref_background)]
    extra = [s for s in extra if not _present_in(ctx.al.ref, ctx.al.ref_background, s, ca.bbox)
             and _ink_changed(ctx, ca, s, ctx.al.ref_background, s.colour)]
    # a scatter of dots too small to be a series of its own, joined into a line (or the reverse): every dot
    # lies on the other image's line
    for s, was_line in [(s, False) for s in extra] + [(s, True) for s in missing]:
        img, bg, box_of = (ctx.al.ref, ctx.al.ref_background, ra.bbox) if not was_line else \
            (ctx.al.cand, ctx.al.cand_background, ca.bbox)
        if s.kind == "line" and _dots_on_line(img, bg, s.colour, s.mask, box_of):
            box = _mask_box(s.mask, ca.bbox if not was_line else ra.bbox)
            out.append(_line_scatter_change(f"{name}plot area, {s.label}", box, was_line,
                                            {"colour": hex_of(s.colour)}))
            ctx.consume_overlapping(box, 0.6, pad=4)
            (missing if was_line else extra).remove(s)
    for s in missing:
        box = _mask_box(s.mask, ra.bbox)
        out.append(Finding("data_error", 3, f"{name}plot area, {s.label}",
                           f"{s.label} ({s.kind}) is missing", box, {"colour": hex_of(s.colour)}))
        ctx.consume_overlapping(box, 0.6, pad=2)
    for s in extra:
        if s.pixels < 0.002 * pw * ph:
            continue
        box = _mask_box(s.mask, ca.bbox)
        out.append(Finding("data_error", 2, f"{name}plot area, {s.label}",
                           f"unexpected {s.label} ({s.kind}) drawn in {describe_colour(s.colour)}", box,
                           {"colour": hex_of(s.colour)}))
        ctx.consume_overlapping(box, 0.6, pad=2)
    # how far each pair's paint moved, seen blurred: a slight shade change must stand out from what the other
    # series of the plot moved by (JPEG shifts every thin line's colour a little)
    shifts = [_paint_shift(ctx, ra, rs, rs.colour, cs.colour)[0] for rs, cs in pairs]
    for k, (rs, cs) in enumerate(pairs):
        others = shifts[:k] + shifts[k + 1:]
        noise = float(np.median(others)) if others else 0.0
        de = delta_e_rgb(rs.colour, cs.colour)
        if de >= 3 and _repainted(ctx, ra, rs, cs) and (de >= 12 or shifts[k] >= max(2.0, 2.5 * noise)):
            out.append(Finding("style_error", 1 if de < 12 else 2, f"{name}{rs.label} ({rs.kind})",
                               f"colour {describe_colour(rs.colour)} expected, {describe_colour(cs.colour)} found, "
                               f"ΔE2000 = {de:.0f}", _mask_box(rs.mask, ra.bbox),
                               {"expected": hex_of(rs.colour), "found": hex_of(cs.colour), "delta_e2000": round(de, 1),
                                "blurred_shift": round(shifts[k], 2), "pair_colour_noise": round(noise, 2)}))
            for i, r in enumerate(ctx.regions):
                if i not in ctx.consumed and r.colour_only and r.ref_colour is not None \
                        and delta_e_rgb(r.ref_colour, rs.colour) < 12 and overlap_fraction(r.bbox, ra.bbox) > 0.5:
                    ctx.consumed.add(i)
    for rs, cs in pairs:
        if rs.kind == cs.kind and (rs.kind == "markers" or min(len(rs.blobs), len(cs.blobs)) >= 3):
            # a few corner pixels per marker may stay below the difference map's tolerance: the shapes
            # themselves are compared (medians over the markers, against their spread)
            shape = _marker_shape_finding(rs, cs, f"{name}markers of {rs.label}", _mask_box(rs.mask, ra.bbox))
            if shape is not None:
                out.append(shape)
                ctx.consume_overlapping(_mask_box(rs.mask, ra.bbox), 0.6, pad=4)
                continue
        if not _supported(ctx, _mask_box(rs.mask | _fit(cs.mask, rs.mask.shape), ra.bbox)):
            continue  # no real pixel difference where this series is drawn: nothing to report
        label = rs.label
        flipped = (rs.kind == cs.kind == "bars" and len(rs.bars) >= 2 and len(cs.bars) >= 2
                   and bars_vertical(rs.bars) != bars_vertical(cs.bars))
        if _type_changed(rs, cs) or flipped:
            box = _mask_box(rs.mask, ra.bbox)
            kinds = (_kind_name(rs), _kind_name(cs))
            out.append(Finding("structure_error", 3, f"{name}plot area, {label}",
                               f"chart type differs: {kinds[0]} expected, {kinds[1]} found", box,
                               {"ref_kind": kinds[0], "cand_kind": kinds[1]}))
            ctx.consume_overlapping(ra.bbox, 0.3)
            continue
        if rs.kind == "bars":
            out.extend(_compare_bars(ctx, ra, ca, rs, cs, name, ph))
        elif rs.kind in ("line", "markers"):
            out.extend(_compare_line(ctx, ra, ca, rs, cs, name, ph, pw))
    return out


def changed_mark_sites(ref: np.ndarray, cand: np.ndarray, box: BBox, *, min_contrast: int = 45,
                       faint_contrast: int = 20, max_side: int = 30,
                       min_blurred_gap: float = 70.0) -> tuple[list[BBox], float]:
    """Small compact places inside plot area ``box`` where the two images' marks have another shape.

    Both crops are binarised against the plot's own background with hysteresis: a pixel is one image's only
    when it stands out there by ``min_contrast`` channel levels and by less than ``faint_contrast`` in the
    other (blur, anti-aliasing, JPEG or another rasteriser move edges, not ink); such pixels are grouped
    into sites at most ``max_side`` px wide holding at least 2 pixels 2 px or more from the other image's
    ink, where the two images' ink still differs by ``min_blurred_gap`` levels after a 5-px blur. Returns the sites (frame boxes) and the share of all such pixels they hold."""
    from .colour import channel_distance

    x0, y0, x1, y1 = (int(round(v)) for v in box)
    r, c = ref[y0 + 2:y1 - 1, x0 + 2:x1 - 1], cand[y0 + 2:y1 - 1, x0 + 2:x1 - 1]
    if r.shape != c.shape or r.shape[0] < 20 or r.shape[1] < 20:
        return [], 0.0
    bg = tuple(int(v) for v in np.median(r.reshape(-1, 3), axis=0))
    dr, dc = channel_distance(r, bg), channel_distance(c, bg)
    r_ink, c_ink = dr >= faint_contrast, dc >= faint_contrast
    only_r, only_c = (dr >= min_contrast) & ~c_ink, (dc >= min_contrast) & ~r_ink
    x = only_r | only_c
    total = int(x.sum())
    if total == 0:
        return [], 0.0
    deep = (only_r & (ndi.distance_transform_cdt(~c_ink) >= 2)) | (only_c & (ndi.distance_transform_cdt(~r_ink) >= 2))
    lab, _ = ndi.label(ndi.binary_dilation(x, iterations=2))
    # a shape change survives a 5-px blur of both images (ink moves by a mark's size); anti-aliasing, JPEG or
    # another rasteriser move ink by a pixel, which the blur evens out
    gap = np.abs(ndi.uniform_filter(dr.astype(np.float32), 5) - ndi.uniform_filter(dc.astype(np.float32), 5))
    sites: list[BBox] = []
    held = 0
    for i, sl in enumerate(ndi.find_objects(lab)):
        if sl is None:
            continue
        mine = lab[sl] == i + 1
        n = int((x[sl] & mine).sum())
        bh, bw = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        if n >= 6 and int((deep[sl] & mine).sum()) >= 2 and max(bh, bw) <= max_side \
                and float(gap[sl][mine].max()) >= min_blurred_gap:
            sites.append((x0 + 2 + sl[1].start, y0 + 2 + sl[0].start, x0 + 2 + sl[1].stop, y0 + 2 + sl[0].stop))
            held += n
    return sites, held / total


def _compare_marker_sites(ctx: Context, ra: AxesInfo, name: str) -> list[Finding]:
    """Markers redrawn in another shape where nothing else changed: at least 3 compact sites of changed
    marks holding most of the plot area's difference (same-size renders only: resampling blurs shapes)."""
    sx, sy = ctx.al.cand_scale
    ws = ctx.al.work_scale
    if abs(sx / ws - 1) > 0.002 or abs(sy / ws - 1) > 0.002:
        return []
    sites, share = changed_mark_sites(ctx.al.ref, ctx.al.cand, ra.bbox)
    if len(sites) < 3 or share < 0.6:
        return []
    sizes = np.asarray([(b[2] - b[0]) * (b[3] - b[1]) for b in sites], float)
    similar = np.mean((sizes >= 0.33 * np.median(sizes)) & (sizes <= 3 * np.median(sizes)))
    if similar < 0.6:
        return []
    box = union_box(sites)
    for b in sites:
        ctx.consume_overlapping(b, 0.5, pad=3)
    return [Finding("style_error", 1, f"{name}plot area markers",
                    f"marker shape differs at {len(sites)} places (the marks are drawn in another shape)", box,
                    {"changed_sites": len(sites), "share_of_plot_difference": round(share, 3)})]


def dark_ink_levels(ref: np.ndarray, cand: np.ndarray, *, max_level: int = 150,
                    max_chroma: int = 15) -> tuple[float, float, int, int] | None:
    """The darkest level (10th percentile of the grey value) of the neutral dark ink (chroma below
    ``max_chroma``, grey below ``max_level``) in two same-size crops, and how many such pixels each holds."""
    from .colour import chroma_of

    if ref.shape != cand.shape or ref.size == 0:
        return None
    out = []
    for a in (ref, cand):
        g = channel_mean(a, np.float32)
        m = (chroma_of(a) < max_chroma) & (g < max_level)
        out.append((float(np.percentile(g[m], 10)) if m.sum() >= 60 else -1.0, int(m.sum())))
    (lr, nr), (lc, nc) = out
    if lr < 0 or lc < 0:
        return None
    return lr, lc, nr, nc


def _compare_dark_ink(ctx: Context, ra: AxesInfo, layout: ChartLayout, name: str) -> list[Finding]:
    """Black strokes drawn in dark grey (or the reverse) in a plot area: the same amount of neutral dark ink,
    its darkest level moved by 40 or more grey levels from black, in strokes at least 2 px thick, while the
    plot's other ink is drawn pixel for pixel alike (same-size renders of one rasteriser only: resampling and
    other engines lighten thin strokes; the legend is left out)."""
    sx, sy = ctx.al.cand_scale
    ws = ctx.al.work_scale
    if abs(sx / ws - 1) > 0.002 or abs(sy / ws - 1) > 0.002:
        return []
    x0, y0, x1, y1 = (int(round(v)) for v in ra.bbox)
    r = ctx.al.ref[y0 + 3:y1 - 2, x0 + 3:x1 - 2].copy()
    c = ctx.al.cand[y0 + 3:y1 - 2, x0 + 3:x1 - 2].copy()
    if r.shape != c.shape or min(r.shape[:2]) < 20:
        return []
    if layout.legend_box is not None:  # the legend's sample and text are compared elsewhere
        lx0, ly0, lx1, ly1 = (int(round(v)) for v in layout.legend_box)
        for a in (r, c):
            a[max(0, ly0 - y0 - 3):max(0, ly1 - y0 - 1), max(0, lx0 - x0 - 3):max(0, lx1 - x0 - 1)] = 255
    found = dark_ink_levels(r, c)
    if found is None:
        return []
    lr, lc, nr, nc = found
    if min(lr, lc) > 25 or abs(lr - lc) < 40 or not 0.6 <= nc / max(1, nr) <= 1.6:
        return []
    from .colour import chroma_of

    darks = []
    for a in (r, c):  # hairlines (hatching, thin frames) reach another darkest level in every rasteriser
        dark = (chroma_of(a) < 15) & (a.astype(np.float32).mean(axis=2) < 150)
        if stroke_width(dark) < 2.0:
            return []
        darks.append(dark)
    from .colour import channel_distance

    bg = ctx.al.ref_background
    ink = (channel_distance(r, bg) >= 25) | (channel_distance(c, bg) >= 25)
    rest = ink & ~dilate(darks[0] | darks[1], iterations=2)  # the other ink: lines, fills, grid
    same = np.abs(r.astype(np.int16) - c.astype(np.int16)).max(axis=2) <= 2
    if rest.sum() < 200 or float(same[rest].mean()) < 0.9:
        return []  # the rest of the plot is drawn by another rasteriser: its dark levels are no evidence
    grey = lambda v: f"#{int(v):02x}{int(v):02x}{int(v):02x}"
    for i, reg in enumerate(ctx.regions):  # the recoloured strokes' own difference regions
        if i not in ctx.consumed and reg.colour_only and reg.ref_colour is not None and is_greyish(reg.ref_colour) \
                and overlap_fraction(reg.bbox, ra.bbox) > 0.5:
            ctx.consumed.add(i)
    return [Finding("style_error", 1, f"{name}plot area lines",
                    f"colour {grey(lr)} ({'black' if lr <= 25 else 'dark grey'}) expected, {grey(lc)} "
                    f"({'black' if lc <= 25 else 'dark grey'}) found: dark strokes drawn in another grey", ra.bbox,
                    {"ref_dark_level": round(lr, 1), "cand_dark_level": round(lc, 1), "ref_dark_pixels": nr,
                     "cand_dark_pixels": nc})]


def _compare_text_ink(ctx: Context, min_chars: int = 3) -> list[Finding]:
    """Black text drawn in dark grey (or the reverse): words both images read alike at the same place whose
    darkest glyph level (10th percentile of the neutral ink) moved by 40 or more grey levels from black,
    while the words' median level did not move (another text rasteriser shifts every word a little).
    Same-size renders only."""
    sx, sy = ctx.al.cand_scale
    ws = ctx.al.work_scale
    if abs(sx / ws - 1) > 0.002 or abs(sy / ws - 1) > 0.002 or not ctx.ref_words or not ctx.cand_words:
        return []
    H, W = ctx.al.ref.shape[:2]
    rows = []
    for rw in ctx.ref_words:
        if len(rw.text) < min_chars:
            continue
        cw = next((w for w in ctx.cand_words if w.text == rw.text and box_iou(w.bbox, rw.bbox) >= 0.5), None)
        if cw is None:
            continue
        x0, y0 = max(0, int(rw.bbox[0])), max(0, int(rw.bbox[1]))
        x1, y1 = min(W, int(np.ceil(rw.bbox[2]))), min(H, int(np.ceil(rw.bbox[3])))
        found = dark_ink_levels(ctx.al.ref[y0:y1, x0:x1], ctx.al.cand[y0:y1, x0:x1], max_level=170)
        if found is not None:
            rows.append((rw, found))
    if len(rows) < 3:
        return []
    noise = float(np.median([abs(f[0] - f[1]) for _, f in rows]))
    if noise >= 10:
        return []
    changed = [(w, f) for w, f in rows if min(f[0], f[1]) <= 25 and abs(f[0] - f[1]) >= 40
               and 0.6 <= f[3] / max(1, f[2]) <= 1.6]
    if not changed or len(changed) > 0.5 * len(rows):
        return []
    lr = float(np.median([f[0] for _, f in changed]))
    lc = float(np.median([f[1] for _, f in changed]))
    grey = lambda v: f"#{int(v):02x}{int(v):02x}{int(v):02x}"
    box = union_box([w.bbox for w, _ in changed])
    words = " ".join(w.text for w, _ in changed)
    ctx.consume_overlapping(box, 0.5, pad=3)
    return [Finding("style_error", 1, f"text '{words}'",
                    f"text colour {grey(lr)} ({'black' if lr <= 25 else 'dark grey'}) expected, {grey(lc)} "
                    f"({'black' if lc <= 25 else 'dark grey'}) found", box,
                    {"ref_dark_level": round(lr, 1), "cand_dark_level": round(lc, 1), "words": len(changed),
                     "text_level_noise": round(noise, 1)})]


def _unpaired_line_style(ctx: Context, ax: AxesInfo, s: Series, label: str) -> Finding | None:
    """A dashed or dotted reference line whose candidate was not found as a series: the candidate's pixels of
    the same colour at the same places, broken into pieces of another length (dashes against dots)."""
    from .colour import blend_label_map

    if s.kind not in ("line", "markers") or (s.kind == "markers" and not dotted_line(s.mask)):
        return None  # (a dashed line's pieces may be taken for markers; a scatter's are far apart)
    x0, y0, x1, y1 = (int(round(v)) for v in ax.bbox)
    x0, y0 = max(0, x0 + 1), max(0, y0 + 1)
    crop = ctx.al.cand[y0:y1, x0:x1]
    if crop.size == 0:
        return None
    other = blend_label_map(crop, [s.colour], ctx.al.cand_background) == 0
    h, w = min(other.shape[0], s.mask.shape[0]), min(other.shape[1], s.mask.shape[1])
    mine, other = s.mask[:h, :w], other[:h, :w]
    near = ndi.binary_dilation(mine, iterations=3)
    other = bridge_1px(other & near)  # the same path only (1-px breaks bridged, as in _compare_line)
    mine = bridge_1px(mine)
    if not mine.any() or float(other.sum()) < 0.3 * float(mine.sum()):
        return None
    nr, nc = _pieces(mine), _pieces(other, min_px=3)
    if min(nr, nc) < 6:
        return None
    lr, lc = piece_length(mine), piece_length(other, min_px=3)
    if max(lr, lc) < 1.8 * max(1.0, min(lr, lc)):
        return None
    styles = ("dashed", "dotted") if lr > lc else ("dotted", "dashed")
    return Finding("style_error", 1, label,
                   f"line style differs ({styles[0]} expected, {styles[1]} found: pieces {lr:.0f} px long "
                   f"expected, {lc:.0f} px found)", _mask_box(s.mask, ax.bbox),
                   {"ref_pieces": nr, "cand_pieces": nc, "ref_piece_length": round(lr, 1),
                    "cand_piece_length": round(lc, 1)})


def _repainted(ctx: Context, ax: AxesInfo, rs: Series, cs: Series) -> bool:
    """The series' paint changed where it is drawn, seen slightly blurred (see :func:`.colour.paint_changed`)."""
    return _ink_changed(ctx, ax, rs, rs.colour, cs.colour)


def _series_footprint(ctx: Context, ax: AxesInfo, s: Series) -> np.ndarray:
    """Series ``s``'s mask (in plot area ``ax``'s frame) placed on the whole working frame."""
    H, W = ctx.diff.shape
    foot = np.zeros((H, W), bool)
    x0, y0 = int(round(ax.bbox[0])) + 1, int(round(ax.bbox[1])) + 1
    m = s.mask[:max(0, H - y0), :max(0, W - x0)]
    foot[y0:y0 + m.shape[0], x0:x0 + m.shape[1]] = m
    return foot


def _paint_shift(ctx: Context, ax: AxesInfo, s: Series, was: tuple[int, int, int],
                 now: tuple[int, int, int]) -> tuple[float, float]:
    """:func:`.colour.paint_shift` over series ``s``'s mask in plot area ``ax``."""
    from .colour import paint_shift

    return paint_shift(ctx.al.ref, ctx.al.cand, _series_footprint(ctx, ax, s), was, now, ctx.al.ref_background)


def _ink_changed(ctx: Context, ax: AxesInfo, s: Series, was: tuple[int, int, int], now: tuple[int, int, int]) -> bool:
    """Where series ``s`` is drawn (its mask in plot area ``ax``), does the paint change from ``was`` to ``now``
    survive a slight blur? A series only one image has (``was`` or ``now`` the background) that does not is
    compression or rasterisation noise clustered into a colour of its own (JPEG ringing)."""
    from .colour import paint_changed

    return paint_changed(ctx.al.ref, ctx.al.cand, _series_footprint(ctx, ax, s), was, now, ctx.al.ref_background)


def _present_in(arr: np.ndarray, background: tuple[int, int, int], s: Series, ax_box: BBox) -> bool:
    """Is series ``s``'s colour painted at (roughly) the same places in the other image? Guards against a
    palette that merely clustered the colours differently."""
    from .colour import blend_label_map

    x0, y0, x1, y1 = (int(round(v)) for v in ax_box)
    x0, y0 = max(0, x0 + 1), max(0, y0 + 1)
    crop = arr[y0:y1, x0:x1]
    if crop.size == 0:
        return False
    other = blend_label_map(crop, [s.colour], background) == 0
    h, w = min(other.shape[0], s.mask.shape[0]), min(other.shape[1], s.mask.shape[1])
    mine, other = s.mask[:h, :w], other[:h, :w]
    if not mine.any() or not other.any():
        return False
    near = dilate(other, iterations=3)
    return float((mine & near).sum()) >= 0.5 * float(mine.sum())


def _fit(m: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, bool)
    h, w = min(shape[0], m.shape[0]), min(shape[1], m.shape[1])
    out[:h, :w] = m[:h, :w]
    return out


def _supported(ctx: Context, box: BBox) -> bool:
    """Is there any real difference region (consumed or not) touching ``box``?"""
    for r in ctx.regions:
        ix = min(r.bbox[2], box[2]) - max(r.bbox[0], box[0])
        iy = min(r.bbox[3], box[3]) - max(r.bbox[1], box[1])
        if ix > 0 and iy > 0:
            return True
    return False


def _kind_name(s: Series) -> str:
    if s.kind == "bars" and len(s.bars) >= 2:
        return "vertical bars" if bars_vertical(s.bars) else "horizontal bars"
    return s.kind


def _type_changed(rs: Series, cs: Series) -> bool:
    """Bars became lines / markers or the reverse (the other kind changes are too noisy to call)."""
    if rs.kind == cs.kind:
        return False
    if rs.kind == "bars":
        return len(rs.bars) >= 2 and len(cs.bars) == 0
    if cs.kind == "bars":
        return len(cs.bars) >= 2 and len(rs.bars) == 0
    if {rs.kind, cs.kind} == {"line", "markers"}:  # plot <-> scatter: many round dots against one stroke
        dots, line = (rs, cs) if rs.kind == "markers" else (cs, rs)
        return (len(dots.blobs) >= 4 and _dots_share(dots.mask) >= 0.7 and _pieces(line.mask) <= 2
                and not dotted_line(dots.mask))
    return False


def _mask_box(m: np.ndarray, ax_box: BBox) -> BBox:
    ys, xs = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))  # the rows and columns in use
    if ys.size == 0:
        return ax_box
    return (ax_box[0] + 1 + xs[0], ax_box[1] + 1 + ys[0], ax_box[0] + 2 + xs[-1], ax_box[1] + 2 + ys[-1])


def _compare_bars(ctx: Context, ax: AxesInfo, ca: AxesInfo, rs: Series, cs: Series, name: str,
                  ph: float) -> list[Finding]:
    """Bars matched left to right (or top to bottom); lengths compared in data units read from each image's
    own axis (a changed axis range alone moves no bar), in pixels when an axis cannot be read."""
    from scipy.optimize import linear_sum_assignment

    out: list[Finding] = []
    rb, cb = rs.bars, cs.bars
    vertical = bars_vertical(rb)
    if rb and cb:
        rc = np.array([centre(b)[0 if vertical else 1] for b in rb])
        cc = np.array([centre(b)[0 if vertical else 1] for b in cb])
        width = np.median([(b[2] - b[0]) if vertical else (b[3] - b[1]) for b in rb])
        cost = np.abs(rc[:, None] - cc[None, :]) / max(1.0, width)
        rows, cols = linear_sum_assignment(cost)
        matched = [(int(r), int(c)) for r, c in zip(rows, cols) if cost[r, c] < 0.6]
    else:
        matched = []
    mr = {r for r, _ in matched}
    mc = {c for _, c in matched}
    span = ph if vertical else max(1.0, ax.bbox[2] - ax.bbox[0])
    rcal, ccal = (ax.y_calibration, ca.y_calibration) if vertical else (ax.x_calibration, ca.x_calibration)
    units = rcal is not None and ccal is not None
    values: dict[int, tuple[float, float]] = {}
    diffs = []
    for r, c in matched:
        a, b = rb[r], cb[c]
        ends = ((a[1], b[1]), (a[3], b[3])) if vertical else ((a[0], b[0]), (a[2], b[2]))
        if units:  # in data units, as a share of the reference axis's range
            assert rcal is not None and ccal is not None
            d = max(abs(rcal[0] * pa + rcal[1] - (ccal[0] * pb + ccal[1])) for pa, pb in ends) / abs(rcal[0])
            far = 0 if vertical else 1  # the bar's end away from the baseline: its value
            values[r] = (rcal[0] * ends[far][0] + rcal[1], ccal[0] * ends[far][1] + ccal[1])
        else:
            d = max(abs(pa - pb) for pa, pb in ends)
        if d / span > 0.012 and d >= 2:
            diffs.append((r, c, d / span))
    width_ratio = None
    if matched:
        rw = np.median([(rb[r][2] - rb[r][0]) if vertical else (rb[r][3] - rb[r][1]) for r, _ in matched])
        cw = np.median([(cb[c][2] - cb[c][0]) if vertical else (cb[c][3] - cb[c][1]) for _, c in matched])
        width_ratio = cw / max(1.0, rw)
    names = _bar_names(ax, rb, vertical)
    unit_span = abs(rcal[0]) * span if rcal is not None else None

    def detail(r: int) -> str:
        if r not in values:
            return ""
        a, b = (fmt_number(_round_value(v, unit_span)) for v in values[r])
        return f"{a} expected, {b} found"

    what = "height" if vertical else "length"
    for r, c, share in diffs[:3] if len(diffs) <= 3 else []:
        a, b = rb[r], cb[c]
        loc = f"{name}bar {names[r]} of {rs.label}"
        d = detail(r)
        ev = {"share_of_axis": round(share, 4), "units": "data" if units else "pixels"}
        if r in values:
            ev.update(expected_value=round(values[r][0], 6), found_value=round(values[r][1], 6))
        out.append(Finding("data_error", severity_by_share(share, 0.05, 0.15), loc,
                           f"bar {what} differs by {share * 100:.0f} % of the {'y' if vertical else 'x'}-axis range"
                           + (f" ({d})" if d else ""), union_box([a, b]), ev))
        ctx.consume_overlapping(union_box([a, b]), 0.5, pad=3)
    if len(diffs) > 3:
        worst = max(d[2] for d in diffs)
        box = union_box([rb[r] for r, _, _ in diffs] + [cb[c] for _, c, _ in diffs])
        shown = "; ".join(f"{names[r]}: {detail(r)}" for r, _, _ in diffs[:6] if detail(r))
        why = f": {shown}" if shown else ": values or axis scale differ"
        out.append(Finding("data_error", 3 if worst >= 0.15 else 2, f"{name}bars of {rs.label}",
                           f"{len(diffs)} of {len(rb)} bars differ in {what} (up to {worst * 100:.0f} % of the axis "
                           f"range){why}", box, {"bars_differing": len(diffs), "units": "data" if units else "pixels"}))
        ctx.consume_overlapping(box, 0.5, pad=3)
    for r in sorted(set(range(len(rb))) - mr):
        out.append(Finding("data_error", 2, f"{name}bar {r + 1} of {rs.label}", "bar is missing", rb[r]))
        ctx.consume_overlapping(rb[r], 0.5, pad=3)
    for c in sorted(set(range(len(cb))) - mc):
        out.append(Finding("data_error", 2, f"{name}{rs.label} bars", "unexpected extra bar", cb[c]))
        ctx.consume_overlapping(cb[c], 0.5, pad=3)
    if width_ratio is not None and (width_ratio > 1.2 or width_ratio < 0.83) and matched:
        box = union_box(rb)
        out.append(Finding("style_error", 1, f"{name}bars of {rs.label}",
                           f"bar width differs ({width_ratio:.2f}x the reference)", box,
                           {"width_ratio": round(float(width_ratio), 3)}))
        for i, reg in enumerate(ctx.regions):
            if i not in ctx.consumed and overlap_fraction(reg.bbox, box) > 0.8:
                ctx.consumed.add(i)
    return out


def _round_value(v: float, span: float | None = None) -> float:
    """A value read from pixels: to 1 % of the axis ``span`` (0.027 on a 0-20 axis is 0), else to 3
    significant digits (19.03 -> 19.0)."""
    if span:
        q = 10.0 ** np.floor(np.log10(abs(span) / 100.0))
        return float(round(round(v / q) * q, 10))
    return float(f"{v:.3g}") if v else 0.0


def _bar_names(ax: AxesInfo, bars: Sequence[BBox], vertical: bool) -> list[str]:
    """Each bar's category label (the tick label under / beside it) or its position number."""
    ticks = ax.x_ticks if vertical else ax.y_ticks
    out = []
    for i, b in enumerate(bars):
        c = centre(b)[0 if vertical else 1]
        size = (b[2] - b[0]) if vertical else (b[3] - b[1])
        near = [t for t in ticks if abs((t.cx if vertical else t.cy) - c) <= 0.5 * size]
        out.append(f"{i + 1} ('{near[0].text}')" if len(near) == 1 else str(i + 1))
    return out


def bars_vertical(bars: Sequence[BBox]) -> bool:
    """True unless the bars share a left edge more than a bottom edge (horizontal bars); True for one bar."""
    if len(bars) < 2:
        return True
    bottoms = np.array([b[3] for b in bars])
    lefts = np.array([b[0] for b in bars])
    return float(np.ptp(bottoms)) <= float(np.ptp(lefts)) or float(np.ptp(bottoms)) < 3


def _profile_gap(pr: np.ndarray, pc: np.ndarray, tol: int = 2) -> np.ndarray:
    """Per column, how far apart two mean-row profiles are when either may sit ``tol`` columns aside: a
    vertical step or a steep segment resampled one pixel over is the same line (NaN where one is empty)."""
    n = min(pr.size, pc.size)
    pr, pc = pr[:n], pc[:n]
    best = np.full(n, np.inf)
    for dx in range(-tol, tol + 1):
        shifted = np.full(n, np.nan)
        if dx >= 0:
            shifted[:n - dx] = pc[dx:]
        else:
            shifted[-dx:] = pc[:n + dx]
        d = np.abs(pr - shifted)
        best = np.where(np.isnan(d), best, np.minimum(best, d))
    out = np.where(np.isinf(best), np.nan, best)
    out[np.isnan(pr)] = np.nan
    return out


def _profile(m: np.ndarray) -> np.ndarray:
    """Mean row index of the mask per column (NaN where empty)."""
    cnt = m.sum(axis=0)
    rows = np.arange(m.shape[0])[:, None]
    s = (m * rows).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, s / np.maximum(cnt, 1), np.nan)


def _unit_profiles(ax: AxesInfo, ca: AxesInfo, rm: np.ndarray, cm: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Both series' mean-row profiles in the reference's pixel units after mapping the candidate through data
    units (its own tick calibration, then the reference's), per reference column; None when an axis is unread."""
    y_known = ax.y_calibration is not None and ca.y_calibration is not None
    x_known = ax.x_calibration is not None and ca.x_calibration is not None
    if not (y_known or x_known):
        return None
    pr, pc = _profile(rm), _profile(cm)
    if y_known:
        assert ax.y_calibration is not None and ca.y_calibration is not None
        (ar, br), (ac, bc) = ax.y_calibration, ca.y_calibration
        pc_val = ac * (pc + ca.bbox[1] + 1) + bc
        pc_ref = (pc_val - br) / ar - ax.bbox[1] - 1  # candidate rows, as reference rows of the same value
    else:  # an unread y axis: rows compared as they are (the plot areas are aligned)
        pc_ref = pc
    cols = np.arange(pr.size, dtype=float)
    if x_known:
        assert ax.x_calibration is not None and ca.x_calibration is not None
        (xr, xbr), (xc, xbc) = ax.x_calibration, ca.x_calibration
        u = xr * (cols + ax.bbox[0] + 1) + xbr  # the x value at each reference column
        src = (u - xbc) / xc - ca.bbox[0] - 1  # the candidate column of that value
        ok = (src >= 0) & (src <= pc_ref.size - 1)
        mapped = np.full(pr.size, np.nan)
        idx = np.clip(np.round(src).astype(int), 0, max(0, pc_ref.size - 1))
        mapped[ok] = pc_ref[idx[ok]]
        pc_ref = mapped
    else:
        full = np.full(pr.size, np.nan)
        n = min(pr.size, pc_ref.size)
        full[:n] = pc_ref[:n]
        pc_ref = full
    return pr, pc_ref


def _dots_on_line(arr: np.ndarray, background: tuple[int, int, int], colour: tuple[int, int, int],
                  line_mask: np.ndarray, ax_box: BBox) -> bool:
    """Does ``arr`` paint ``colour`` as many small dots (at least 8, too small to be found as a series)
    that all lie on ``line_mask`` (another image's line in plot area ``ax_box``), the line having at least
    twice their ink? Then one image joined the other's scatter points into a line."""
    from .colour import blend_label_map

    x0, y0, x1, y1 = (int(round(v)) for v in ax_box)
    x0, y0 = max(0, x0 + 1), max(0, y0 + 1)
    crop = arr[y0:y1, x0:x1]
    if crop.size == 0:
        return False
    dots = blend_label_map(crop, [colour], background) == 0
    h, w = min(dots.shape[0], line_mask.shape[0]), min(dots.shape[1], line_mask.shape[1])
    dots, line_ = dots[:h, :w], line_mask[:h, :w]
    n = int(dots.sum())
    if n < 20 or int(line_.sum()) < 2 * n:
        return False
    lab, k = ndi.label(dots)
    if k < 8:
        return False
    sizes = np.bincount(lab.ravel())[1:]
    if float(np.median(sizes)) > 0.002 * h * w:
        return False  # blobs as large as bars or patches, not scatter dots
    return joined_dots(dots, line_)


def joined_dots(dots: np.ndarray, line_: np.ndarray) -> bool:
    """Scatter dots joined into a line: they lie on the line (70 % of their ink within 2 px), yet most of
    the line runs between them (under half of its ink within 3 px of a dot). A dotted or dashed version of a
    line lies on it too, but its pieces cover the whole line."""
    n = int(dots.sum())
    if n == 0 or not line_.any():
        return False
    on_line = float((dots & dilate(line_, iterations=2)).sum()) / n
    near = float((line_ & dilate(dots, iterations=3)).sum()) / float(line_.sum())
    return on_line >= 0.7 and near < 0.5


def _compare_line(ctx: Context, ax: AxesInfo, ca: AxesInfo, rs: Series, cs: Series, name: str, ph: float,
                  pw: float) -> list[Finding]:
    out: list[Finding] = []
    if "differs" in (scale_status(ax, ca, "y"), scale_status(ax, ca, "x")):
        # the axes differ: compare the series in data units, the axis finding covers the moved pixels
        prof = _unit_profiles(ax, ca, rs.mask, cs.mask)
        if prof is not None:
            pr, pc = prof
            gap = _profile_gap(pr, pc)
            both = ~np.isnan(gap)
            if both.sum() >= 0.5 * max(1, (~np.isnan(pr)).sum()):
                dev = gap[both]
                # a line's changed value bends the two segments around it; a few columns that disagree are
                # a legend sample or a label over the line
                worst = float(np.percentile(dev, 90) if rs.kind == "line" else dev.max()) / ph
                if worst <= 0.025:
                    return out
                label = f"{name}line of {rs.label}" if rs.kind == "line" else f"{name}markers of {rs.label}"
                box = _mask_box(rs.mask, ax.bbox)
                out.append(Finding("data_error", severity_by_share(worst, 0.05, 0.15), label,
                                   f"{'line shape' if rs.kind == 'line' else 'point positions'} differ in data "
                                   f"values: up to {worst * 100:.0f} % of the y-axis range", box,
                                   {"max_deviation_share": round(worst, 4), "units": "data"}))
                ctx.consume_overlapping(box, 0.6, pad=4)
                return out
    rm, cm = rs.mask, cs.mask
    h, w = min(rm.shape[0], cm.shape[0]), min(rm.shape[1], cm.shape[1])
    rm, cm = rm[:h, :w], cm[:h, :w]
    box = _mask_box(rm | cm, ax.bbox)
    # coverage: how much of each mask lies near the other
    rd = dilate(rm, iterations=3)
    cd = dilate(cm, iterations=3)
    cov_r = float((rm & cd).sum()) / max(1, rm.sum())  # reference marks reproduced
    cov_c = float((cm & rd).sum()) / max(1, cm.sum())  # candidate marks that belong
    label = f"{name}line of {rs.label}" if rs.kind == "line" else f"{name}markers of {rs.label}"
    ev = {"coverage_ref": round(cov_r, 3), "coverage_cand": round(cov_c, 3)}
    dashes = rs.kind == cs.kind == "line" or ("line" in (rs.kind, cs.kind) and
                                               dotted_line(rs.mask if rs.kind != "line" else cs.mask))
    if dashes:  # (a dashed line's dashes may be found as packed markers)
        # pieces counted after 1-px breaks are bridged (JPEG and thin anti-aliased strokes cut the colour
        # mask; a dash pattern's gaps are 2 px or more)
        rm, cm = bridge_1px(rm), bridge_1px(cm)
        nr, nc = _pieces(rm), _pieces(cm)
        broken = cm if nc > nr else rm
        solid = rm if nc > nr else cm
        # the same dashes drawn softer or cut by JPEG keep each image's ink within 1 px of the other's;
        # another dash pattern leaves a share of one image's ink (its dashes, or the gaps it fills) uncovered
        cover1 = min(float((rm & dilate(cm, iterations=1)).sum()) / max(1, int(rm.sum())),
                     float((cm & dilate(rm, iterations=1)).sum()) / max(1, int(cm.sum())))
        ev["coverage_1px"] = round(cover1, 3)
        beads = _beads_finding(rs.mask, cs.mask, label, box, ev) if max(nr, nc) > min(nr, nc) else None
        if beads is None and (nc >= max(8, 3 * nr) or nr >= max(8, 3 * nc)) and _dots_share(broken) >= 0.7 \
                and joined_dots(broken, solid):
            beads = _line_scatter_change(label, box, nc > nr, {**ev, "ref_pieces": nr, "cand_pieces": nc})
        if beads is not None:  # a scatter's dots cut apart by other marks drawn over them, not dashes
            out.append(beads)
            ctx.consume_overlapping(box, 0.6, pad=4)
            return out
        if (nc >= max(6, 3 * nr) or nr >= max(6, 3 * nc)) and (
                (_dots_share(broken) >= 0.7 and not dotted_line(broken))
                or piece_thickness(broken) >= 2.2 * max(1.0, stroke_width(solid))):
            # the pieces are round dots, not dashes: the line became a scatter of markers (or the reverse)
            out.append(_line_scatter_change(label, box, nc > nr, {"ref_pieces": nr, "cand_pieces": nc}))
            ctx.consume_overlapping(box, 0.6, pad=4)
            return out
        if nc >= max(6, 3 * nr) or nr >= max(6, 3 * nc):
            styles = ("solid", "dashed or dotted") if nc > nr else ("dashed or dotted", "solid")
            out.append(Finding("style_error", 1, label, f"line style differs ({styles[0]} expected, {styles[1]} found)",
                               box, {"ref_pieces": nr, "cand_pieces": nc, "coverage_1px": round(cover1, 3)}))
            ctx.consume_overlapping(box, 0.6, pad=4)
            cov_r = cov_c = 1.0  # the style explains the coverage gaps
        elif min(nr, nc) >= 6:
            lr, lc = piece_length(rm), piece_length(cm)
            sr, sc = short_piece_share(rm), short_piece_share(cm)
            if abs(sr - sc) >= 0.3 and 0.3 <= max(sr, sc) <= 0.6 and min(sr, sc) <= 0.1:
                # one pattern mixes short and long pieces, the other does not: dash-dot against dashes or dots
                name_r, name_c = (_dash_name(sv, lv) for sv, lv in ((sr, lr), (sc, lc)))
                out.append(Finding("style_error", 1, label,
                                   f"line style differs ({name_r} expected, {name_c} found: "
                                   f"{sr * 100:.0f} % short pieces expected, {sc * 100:.0f} % found)", box,
                                   {"ref_pieces": nr, "cand_pieces": nc, "ref_short_share": round(sr, 2),
                                    "cand_short_share": round(sc, 2), "coverage_1px": round(cover1, 3)}))
                ctx.consume_overlapping(box, 0.6, pad=4)
                cov_r = cov_c = 1.0
            elif max(lr, lc) >= 1.8 * max(1.0, min(lr, lc)):
                # both broken, into pieces of another length: dashes against dots (or dash-dot)
                styles = ("dashed", "dotted") if lr > lc else ("dotted", "dashed")
                out.append(Finding("style_error", 1, label,
                                   f"line style differs ({styles[0]} expected, {styles[1]} found: pieces "
                                   f"{lr:.0f} px long expected, {lc:.0f} px found)", box,
                                   {"ref_pieces": nr, "cand_pieces": nc, "ref_piece_length": round(lr, 1),
                                    "cand_piece_length": round(lc, 1), "coverage_1px": round(cover1, 3)}))
                ctx.consume_overlapping(box, 0.6, pad=4)
                cov_r = cov_c = 1.0
    if cov_r < 0.9 or cov_c < 0.9:
        pr, pc = _profile(rm), _profile(cm)
        gap = _profile_gap(pr, pc)
        both = ~np.isnan(gap)
        dev = gap[both] if both.any() else np.array([])
        span_r = np.nonzero(~np.isnan(pr))[0]
        span_c = np.nonzero(~np.isnan(pc))[0]
        if dev.size and (np.nanmax(dev) / ph > 0.025):
            worst = float(np.nanmax(dev)) / ph
            col = int(np.nanargmax(np.where(both, gap, -1)))
            ev["max_deviation_share"] = round(worst, 4)
            out.append(Finding("data_error", severity_by_share(worst, 0.05, 0.15), label,
                               f"{'line shape' if rs.kind == 'line' else 'point positions'} differ: up to "
                               f"{worst * 100:.0f} % of the y-axis range (near x = {col + ax.bbox[0]:.0f} px)", box, ev))
        elif span_r.size and span_c.size and (abs(int(span_r[0]) - int(span_c[0])) > 0.03 * pw
                                              or abs(int(span_r[-1]) - int(span_c[-1])) > 0.03 * pw):
            out.append(Finding("data_error", 2, label, "the series covers a different x range", box, ev))
        elif rs.kind == "line":
            ratio = float(cm.sum()) / max(1.0, float(rm.sum()))
            beads = _beads_finding(rm, cm, label, box, ev)
            if beads is not None:
                out.append(beads)
            elif ratio > 1.25 or ratio < 0.8:
                out.append(Finding("style_error", 1, label, f"line width differs ({ratio:.2f}x the reference's ink)",
                                   box, ev))
            else:
                out.append(Finding("data_error", 2, label, "marks of the series differ in shape or position", box, ev))
        else:
            out.append(Finding("data_error", 2, label, "marks of the series differ in shape or position", box, ev))
    # markers on a line
    rbl, cbl = len(rs.blobs), len(cs.blobs)
    if rs.kind == "line" and cs.kind == "line" and min(rbl, cbl) == 0 and max(rbl, cbl) >= 3:
        out.append(Finding("style_error", 1, f"{name}markers of {rs.label}",
                           f"{rbl} markers expected, {cbl} found (marker style differs)", box,
                           {"ref_markers": rbl, "cand_markers": cbl}))

    if out:
        ctx.consume_overlapping(box, 0.6, pad=4)
    return out


def _stroke_radius(m: np.ndarray) -> float:
    """Half the typical stroke width of a mask: over its pixels, the median of the largest distance to the
    edge within 4 px (each pixel's local stroke radius), so a few wide or thin marks of the same colour (a bar,
    a legend patch, a reference line) do not decide it."""
    if not m.any():
        return 0.0
    edt = ndi.distance_transform_edt(m)
    return float(np.median(ndi.maximum_filter(edt, size=9)[m]))


def scallop_share(m: np.ndarray, radius: float | None = None) -> float:
    """How much a closing with a disc of about the stroke's radius adds, as a share of the mask: 0 for a stroke
    of any width (its edges are smooth), 0.03-0.08 for a chain of overlapping round dots (the notches between
    them fill), which is what a dense scatter or a line with markers looks like. ``radius``: the mask's
    :func:`_stroke_radius`, when the caller has it."""
    if not m.any():
        return 0.0
    rows, cols = np.nonzero(m.any(axis=1))[0], np.nonzero(m.any(axis=0))[0]
    k = max(1, int(round(0.8 * (_stroke_radius(m) if radius is None else radius))))
    y0, y1 = max(0, int(rows[0]) - k - 1), int(rows[-1]) + k + 2
    x0, x1 = max(0, int(cols[0]) - k - 1), int(cols[-1]) + k + 2
    crop = m[y0:y1, x0:x1]
    closed = close_(crop, disc(k)) | crop
    return float((closed & ~crop).sum()) / float(crop.sum())


def _line_scatter_change(label: str, box: BBox, to_scatter: bool, evidence: dict) -> Finding:
    """The chart-type change between a line and a scatter of markers (``to_scatter``: the reference's line is
    the candidate's scatter), with ``evidence`` and the two kinds."""
    kinds = ("line", "markers (scatter)") if to_scatter else ("markers (scatter)", "line")
    return Finding("structure_error", 3, label, f"chart type differs: {kinds[0]} expected, {kinds[1]} found", box,
                   {**evidence, "ref_kind": kinds[0], "cand_kind": kinds[1]})


def _beads_finding(rm: np.ndarray, cm: np.ndarray, label: str, box: BBox, ev: dict) -> Finding | None:
    """The chart-type change of a thin line drawn as a dense scatter (or the reverse), else None."""
    h, w = min(rm.shape[0], cm.shape[0]), min(rm.shape[1], cm.shape[1])
    rm, cm = rm[:h, :w], cm[:h, :w]
    ratio = float(cm.sum()) / max(1.0, float(rm.sum()))
    if 1 / 1.6 <= ratio <= 1.6:
        return None
    thin, thick = (rm, cm) if ratio > 1.0 else (cm, rm)
    chain = bead_chain_scallop(thin, thick)
    if chain is None:
        return None
    return _line_scatter_change(label, box, ratio > 1.0, {**ev, "ink_ratio": round(ratio, 2),
                                                          "scallop_share": round(chain, 3)})


def bead_chain_scallop(thin: np.ndarray, thick: np.ndarray) -> float | None:
    """The scallop share of ``thick`` when it is a chain of round dots at least twice as wide as the smooth
    stroke ``thin`` (plot <-> a dense scatter), else None; a line drawn wider keeps smooth edges (scallop share
    under 0.01), so it stays a width change."""
    rt, rk = _stroke_radius(thin), _stroke_radius(thick)
    if rk < 2.0 * max(1.0, rt):
        return None
    chain = scallop_share(thick, rk)
    if chain < 0.02 or scallop_share(thin, rt) >= 0.01:
        return None
    return chain


def piece_thickness(m: np.ndarray, min_px: int = 6) -> float:
    """Median area over length (longer box side) of a broken line's pieces: a dash is as thick as the line,
    a scatter marker several line widths."""
    lab, n = ndi.label(m)
    if n == 0:
        return 0.0
    sizes = np.bincount(lab.ravel())[1:]
    vals = [sizes[i] / max(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)
            for i, sl in enumerate(ndi.find_objects(lab)) if sl is not None and sizes[i] >= min_px]
    return float(np.median(vals)) if vals else 0.0


def short_piece_share(m: np.ndarray, min_px: int = 3) -> float:
    """Share of a broken line's pieces under half the length of its long ones (75th percentile): about half
    for dash-dot, near 0 for plain dashes or dots."""
    lab, n = ndi.label(m)
    if n == 0:
        return 0.0
    sizes = np.bincount(lab.ravel())[1:]
    objs = [(sl, max(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start))
            for i, sl in enumerate(ndi.find_objects(lab)) if sl is not None and sizes[i] >= min_px]
    if len(objs) < 8:
        return 0.0
    lengths = np.asarray([n for _, n in objs])
    short = lengths < 0.5 * np.percentile(lengths, 75)
    share = float(np.mean(short))
    if not 0.3 <= share <= 0.6:
        return 0.0 if share < 0.3 else share
    # dash-dot alternates: along the line (pieces ordered by position), a short piece follows a long one
    order = np.lexsort(([sl[0].start for sl, _ in objs], [sl[1].start for sl, _ in objs]))
    seq = short[order]
    return share if float(np.mean(seq[1:] != seq[:-1])) >= 0.7 else 0.0


def _dash_name(short_share: float, length: float) -> str:
    return "dash-dot" if short_share >= 0.3 else ("dashed" if length >= 5 else "dotted")


def bridge_1px(m: np.ndarray) -> np.ndarray:
    """A mask with every 1-px break filled: an off pixel whose two opposite neighbours (left-right, up-down
    or either diagonal) are both on becomes on."""
    p = np.pad(m, 1)
    c = p[1:-1, 1:-1]
    fill = (p[1:-1, :-2] & p[1:-1, 2:]) | (p[:-2, 1:-1] & p[2:, 1:-1]) | (p[:-2, :-2] & p[2:, 2:]) \
        | (p[:-2, 2:] & p[2:, :-2])
    return c | fill


def dotted_line(m: np.ndarray, min_px: int = 6) -> bool:
    """Round pieces packed close along a path (each one's nearest neighbour within ~3 dot sizes): a dotted
    line, not a scatter of markers at the data points."""
    lab, n = ndi.label(m)
    if n < 8:
        return False
    sizes = np.bincount(lab.ravel())[1:]
    keep = [i for i in range(n) if sizes[i] >= min_px]
    if len(keep) < 8:
        return False
    cents = np.asarray(ndi.center_of_mass(m, lab, [i + 1 for i in keep]))
    d = np.sqrt(((cents[:, None, :] - cents[None, :, :]) ** 2).sum(axis=2))
    np.fill_diagonal(d, np.inf)
    return float(np.median(d.min(axis=1))) <= 3.5 * max(1.0, piece_length(m, min_px))


def _dots_share(m: np.ndarray, min_px: int = 6) -> float:
    """Share of a mask's pieces that are round dots (about as wide as tall, filling most of their box)
    rather than dashes (long, or thin along a diagonal)."""
    lab, n = ndi.label(m)
    if n == 0:
        return 0.0
    sizes = np.bincount(lab.ravel())[1:]
    dots = total = 0
    for i, sl in enumerate(ndi.find_objects(lab)):
        if sl is None or sizes[i] < min_px:
            continue
        bh, bw = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        total += 1
        dots += max(bh, bw) <= 1.6 * min(bh, bw) and sizes[i] >= 0.6 * bh * bw
    return dots / total if total else 0.0


def piece_length(m: np.ndarray, min_px: int = 6) -> float:
    """Median length (the longer side of its box, in px) of a broken line's pieces: dashes are several times
    longer than dots."""
    lab, n = ndi.label(m)
    if n == 0:
        return 0.0
    sizes = np.bincount(lab.ravel())[1:]
    lengths = [max(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)
               for i, sl in enumerate(ndi.find_objects(lab)) if sl is not None and sizes[i] >= min_px]
    return float(np.median(lengths)) if lengths else 0.0


def _pieces(m: np.ndarray, min_px: int = 6) -> int:
    lab, n = ndi.label(m)
    if n == 0:
        return 0
    sizes = np.bincount(lab.ravel())[1:]
    return int((sizes >= min_px).sum())
