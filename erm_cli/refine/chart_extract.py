"""Read a chart image back into data: bars and lines in data units, categories, titles and labels.

The image analysis is the critic's: :func:`erm_cli.judges.critic.chart.analyse_chart` finds the plot
area, tick labels and their calibration, the rotated y label's strip, the legend and the series with
their bars and marks; :mod:`erm_cli.judges.critic.ocr` reads and groups the text. This module turns that
layout into what the model-free policy needs, both to write a first matplotlib draft from the reference
and to measure bars and lines in the reference and a candidate's render so that data literals can be
corrected: values through the calibrated axes, category names, title and axis labels, marker styles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..judges.critic.colour import as_array, background_colour, delta_e_rgb, is_greyish, label_map, palette
from ..judges.critic.ocr import Line, Word, group_lines, parse_number

if TYPE_CHECKING:
    from ..judges.critic.chart import AxesInfo, ChartLayout
    from ..judges.critic.chart import Series as CriticSeries
    from ..judges.critic.colour import PaletteColour

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)


@dataclass
class Bar:
    colour: tuple[int, int, int]
    box: Box

    @property
    def cx(self) -> float:
        return (self.box[0] + self.box[2]) / 2

    @property
    def cy(self) -> float:
        return (self.box[1] + self.box[3]) / 2

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


@dataclass
class Series:
    """A line (or scatter) series: pixel samples of one colour inside the plot area."""

    colour: tuple[int, int, int]
    xs: np.ndarray
    ys: np.ndarray
    style: str = "line"  # "line" | "scatter"
    markers: list[tuple[float, float]] = field(default_factory=list)
    marker: str = ""  # matplotlib marker of a line's points ('o', 's'), "" for none

    def y_at(self, x: float) -> float | None:
        if self.xs.size == 0:
            return None
        i = int(np.argmin(np.abs(self.xs - x)))
        if abs(self.xs[i] - x) > 4:
            return None
        return float(self.ys[i])


@dataclass
class Axis:
    """Linear pixel -> value map fitted to tick labels: value = a + b * pixel."""

    a: float
    b: float
    ticks: list[tuple[float, float]]  # (pixel, value)

    def value(self, pixel: float) -> float:
        return self.a + self.b * pixel

    def pixel(self, value: float) -> float:
        return (value - self.a) / self.b if self.b else 0.0


@dataclass
class ChartFacts:
    size: tuple[int, int]
    background: tuple[int, int, int]
    plot: Box
    words: list[Word]
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    xticks: list[Word] = field(default_factory=list)
    yticks: list[Word] = field(default_factory=list)
    yaxis: Axis | None = None
    xaxis: Axis | None = None
    bars: list[Bar] = field(default_factory=list)
    horizontal_bars: bool = False
    series: list[Series] = field(default_factory=list)
    legend: list[tuple[tuple[int, int, int], str]] = field(default_factory=list)
    legend_box: Box | None = None
    colours: list[tuple[int, int, int]] = field(default_factory=list)
    image: Image.Image | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        if self.bars:
            return "barh" if self.horizontal_bars else "bar"
        if any(s.style == "line" for s in self.series):
            return "line"
        if self.series:
            return "scatter"
        return "empty"


# --------------------------------------------------------------------------------------------- texts

def clean_words(words: Sequence[Word], arr: np.ndarray, colours: list[tuple[int, int, int]],
                min_conf: float = 45.0) -> list[Word]:
    """Drop OCR noise: low confidence, boxes far taller than text, and "words" that are colour patches."""
    if not words:
        return []
    heights = sorted(w.height for w in words)
    med = heights[len(heights) // 2] or 1.0
    out = []
    for w in words:
        if w.conf < min_conf or w.height > 3 * med or w.width <= 0:
            continue
        if colours:
            x0, y0, x1, y1 = (round(v) for v in w.bbox)
            patch = arr[max(0, y0):y1, max(0, x0):x1]
            if patch.size and (label_map(patch, colours, tolerance=14.0) >= 0).mean() > 0.35:
                continue
        out.append(w)
    return out


def ocr_band(img: Image.Image, box: Box, upscale: float = 3.0) -> list[Word]:
    """OCR one strip of tick labels: short and small text, read from an upscaled crop in block mode."""
    from ..judges.critic.ocr import OcrUnavailable, ocr_block_words, ocr_words

    x0, y0, x1, y1 = (int(v) for v in box)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(img.width, x1), min(img.height, y1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return []
    crop = img.crop((x0, y0, x1, y1)).convert("L")
    big = crop.resize((round(crop.width * upscale), round(crop.height * upscale)), Image.LANCZOS)
    try:
        words = [w.scaled(1 / upscale) for w in ocr_block_words(big)]
    except (ImportError, OcrUnavailable, RuntimeError):
        try:
            words = ocr_words(crop, upscale=upscale, min_conf=30)
        except (OcrUnavailable, RuntimeError):
            return []
    return [w.scaled(1.0, 1.0, x0, y0) for w in words if w.conf >= 30]


def _page_words(img: Image.Image) -> list[Word]:
    from ..judges.critic.ocr import OcrUnavailable, ocr_words

    try:
        return ocr_words(img, min_conf=30)
    except (OcrUnavailable, RuntimeError):
        return []


def _reread_tick_bands(img: Image.Image, arr: np.ndarray, plot: Box, words: list[Word],
                       colours: list[tuple[int, int, int]]) -> list[Word]:
    """Re-read the tick-label bands (below and left of the plot) from upscaled crops, replacing the page OCR."""
    px0, py0, px1, py1 = plot
    th = max(12, int(0.06 * img.height))
    below = (px0 - 40, py1 + 7, px1 + 40, py1 + 7 + th)  # past the tick marks
    left = (0, py0 - 10, px0 - 6, py1 + 10)
    for band in (below, left):
        band_words = clean_words(ocr_band(img, band), arr, colours)
        if band_words:
            words = [w for w in words if not _inside(w, band)] + band_words
    return words


def _inside(w: Word, b: Box) -> bool:
    return b[0] <= w.cx <= b[2] and b[1] <= w.cy <= b[3]


def tick_number(text: str) -> float | None:
    """A tick label's value; a tick mark read as a trailing dash ("4-") is ignored."""
    return parse_number(text.rstrip("-—–_|'`"))


def _axis(points: Sequence[tuple[float, float | None]], decreasing: bool) -> Axis | None:
    """The critic's tick calibration as a pixel -> value :class:`Axis`; when the ticks do not fit one line,
    each is left out in turn (OCR may misread one label: "7.5" as "75")."""
    from ..judges.critic.chart import tick_calibration

    pts = [(float(p), float(v)) for p, v in points if v is not None]
    for skip in (None, *range(len(pts))):
        kept = [q for i, q in enumerate(pts) if i != skip]
        fit = tick_calibration(kept, decreasing=decreasing)
        if fit is not None:
            return Axis(fit[1], fit[0], kept)
    return None


def _first_row(words: Sequence[Word]) -> list[Word]:
    """The top row of ``words``, left to right (tick labels above an axis label)."""
    if not words:
        return []
    top = min(words, key=lambda w: w.cy)
    return sorted((w for w in words if abs(w.cy - top.cy) < max(6.0, 0.6 * top.height)), key=lambda w: w.cx)


def _read_ticks(facts: ChartFacts, ax: AxesInfo) -> None:
    """Tick labels next to the axes (the column nearest the y axis, the row nearest the x axis) and the
    value axes calibrated on them."""
    yt = [w for w in ax.y_ticks if tick_number(w.text) is not None]
    if len(yt) >= 2:
        right = max(w.bbox[2] for w in yt)
        yt = [w for w in yt if w.bbox[2] >= right - 12]
    facts.yticks = sorted(yt, key=lambda w: w.cy)
    facts.yaxis = _axis([(w.cy, tick_number(w.text)) for w in facts.yticks], decreasing=True)
    facts.xticks = _first_row(ax.x_ticks)
    xnum = [(w.cx, tick_number(w.text)) for w in facts.xticks]
    if all(v is not None for _, v in xnum):
        facts.xaxis = _axis(xnum, decreasing=False)


def _read_titles(facts: ChartFacts, lines: Sequence[Line]) -> None:
    """Title: the tallest line above the plot; x label: the first line under the x tick labels."""
    x0, y0, x1, y1 = facts.plot
    H = facts.size[1]
    used = {id(w) for w in facts.yticks + facts.xticks}
    free = [ln for ln in lines if not any(id(w) in used for w in ln.words)]
    above = [ln for ln in free if ln.bbox[3] <= y0 + 4]
    if above:
        facts.title = max(above, key=lambda ln: (ln.bbox[3] - ln.bbox[1], -ln.bbox[1])).text
    tick_bottom = max((w.bbox[3] for w in facts.xticks), default=y1)
    xl = [ln for ln in free if ln.bbox[1] >= tick_bottom - 2]
    if xl:
        facts.xlabel = min(xl, key=lambda ln: ln.bbox[1]).text
    elif facts.image is not None and tick_bottom + 6 < H:
        # the x label is often missed on the full page: read the band under the tick labels
        band = [w for w in ocr_band(facts.image, (x0, int(tick_bottom) + 2, x1, H)) if w.conf >= 60]
        band_lines = [ln for ln in group_lines(band) if sum(ch.isalnum() for ch in ln.text) >= 2]
        if band_lines:
            facts.xlabel = min(band_lines, key=lambda ln: ln.bbox[1]).text


def read_ylabel(img: Image.Image, ax: AxesInfo) -> str:
    """The rotated y-axis label, OCR'd (critic's :func:`ocr_rotated`) in the strip the critic found for it."""
    from ..judges.critic.ocr import ocr_rotated

    if ax.ylabel_box is None:
        return ""
    box = tuple(round(v) for v in ax.ylabel_box)
    try:
        words = ocr_rotated(img, box, min_conf=60)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - OCR trouble only loses the y label
        return ""
    lines = [ln for ln in group_lines(words) if sum(ch.isalnum() for ch in ln.text) >= 3 and ln.conf >= 70]
    return max(lines, key=lambda ln: len(ln.text)).text if lines else ""


# --------------------------------------------------------------------------------------------- marks

def _line_markers(mask: np.ndarray, cols: np.ndarray, ys: np.ndarray) -> tuple[list[tuple[float, float]], str]:
    """Markers on a line: runs of columns where the series is much thicker than its stroke.

    Returns the marker centres and a marker guess ('o' round, 's' square: a square fills its box)."""
    thick = np.array([mask[:, c].sum() for c in cols], float)
    if thick.size < 5:
        return [], ""
    stroke = float(np.median(thick))
    hot = thick > max(2.5 * stroke, stroke + 4)
    centres: list[tuple[float, float]] = []
    fills: list[float] = []
    i = 0
    while i < len(cols):
        if hot[i]:
            j = i
            while j + 1 < len(cols) and hot[j + 1] and cols[j + 1] == cols[j] + 1:
                j += 1
            if j - i + 1 >= 3:
                cx = float(cols[i:j + 1].mean())
                cy = float(ys[i:j + 1].mean())
                c0, c1 = int(cols[i]), int(cols[j]) + 1
                half = int(max(thick[i:j + 1]) / 2) + 1
                r0, r1 = max(0, int(cy) - half), int(cy) + half + 1
                box = mask[r0:r1, c0:c1]
                fills.append(float(box.mean()) if box.size else 0.0)
                centres.append((cx, cy))
            i = j + 1
        else:
            i += 1
    if len(centres) < 2:
        return [], ""
    return centres, ("s" if float(np.median(fills)) > 0.86 else "o")


def _mask_origin(ax: AxesInfo) -> tuple[int, int]:
    """Image position of a critic series mask's (0, 0): just inside the plot area's top-left corner."""
    return max(0, round(ax.bbox[0]) + 1), max(0, round(ax.bbox[1]) + 1)


def _line_series(s: CriticSeries, origin: tuple[int, int]) -> Series | None:
    """A critic line as pixel samples: the mean row of its mask in every column it covers."""
    cols = np.nonzero(s.mask.any(axis=0))[0]
    if cols.size == 0:
        return None
    ys = np.array([np.nonzero(s.mask[:, c])[0].mean() for c in cols])
    markers, marker = _line_markers(s.mask, cols, ys)
    ox, oy = origin
    return Series(s.colour, cols.astype(float) + ox, ys + oy, "line", [(mx + ox, my + oy) for mx, my in markers],
                  marker)


def _scatter_series(s: CriticSeries) -> Series | None:
    """Critic markers (compact blobs) as scatter points."""
    pts = [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in s.blobs]
    if len(pts) < 3:
        return None
    return Series(s.colour, np.array([p[0] for p in pts]), np.array([p[1] for p in pts]), "scatter", pts)


def _horizontal_bars(s: CriticSeries, origin: tuple[int, int]) -> CriticSeries:
    """Closely stacked horizontal bars merge when cuts are bridged vertically (the critic's first reading) and
    pass for a line or an area: read such a series again, bridging horizontally."""
    from ..judges.critic.chart import bars_vertical, classify_bridged

    if s.kind not in ("line", "area"):
        return s
    again = classify_bridged(s.mask, s.colour, origin, vertical=False)
    return again if again.kind == "bars" and len(again.bars) >= 2 and not bars_vertical(again.bars) else s


def _read_marks(facts: ChartFacts, ax: AxesInfo) -> None:
    """Bars, lines and scatter series of the critic's series of the plot area."""
    from ..judges.critic.chart import bars_vertical

    origin = _mask_origin(ax)
    for s in (_horizontal_bars(s, origin) for s in ax.series):
        if s.kind == "bars":
            facts.bars += [Bar(s.colour, tuple(round(v) for v in b)) for b in s.bars]  # type: ignore[misc]
            continue
        line = _line_series(s, origin) if s.kind == "line" else (_scatter_series(s) if s.kind == "markers" else None)
        if line is not None:
            facts.series.append(line)
    if len(facts.bars) >= 2:
        facts.horizontal_bars = not bars_vertical([b.box for b in facts.bars])
    elif facts.bars:
        facts.horizontal_bars = facts.bars[0].width > 2 * facts.bars[0].height


def _read_legend(facts: ChartFacts, layout: ChartLayout, arr: np.ndarray) -> None:
    """Legend entries of a series colour, top to bottom: the critic's (sample colour snapped to the series it
    names) and the lines beside them whose sample it skipped."""
    series_colours = list(dict.fromkeys([b.colour for b in facts.bars] + [s.colour for s in facts.series]))
    entries: list[tuple[float, float, tuple[int, int, int], str]] = []
    for e in layout.legend:
        near = [c for c in series_colours if delta_e_rgb(c, e.colour) < 12]
        if near:
            entries.append((e.bbox[1], e.bbox[0], min(near, key=lambda c: delta_e_rgb(c, e.colour)), e.text))
    entries += _entries_without_sample(layout, arr, series_colours)
    facts.legend = [(c, t) for _, _, c, t in sorted(entries)]
    if facts.legend and layout.legend_box is not None:
        facts.legend_box = tuple(round(v) for v in layout.legend_box)  # type: ignore[assignment]


def _entries_without_sample(layout: ChartLayout, arr: np.ndarray, colours: list[tuple[int, int, int]],
                            ) -> list[tuple[float, float, tuple[int, int, int], str]]:
    """Lines in the critic's legend column that it found no sample for (it drops sparse samples such as a
    dotted line): named by the series colour painted just left of their text."""
    if layout.legend_box is None or not colours:
        return []
    bx0, by0, bx1, by1 = layout.legend_box
    h = float(np.median([e.bbox[3] - e.bbox[1] for e in layout.legend]))
    known = {e.text for e in layout.legend}
    out = []
    for ln in layout.lines:
        x0, y0, _, y1 = ln.bbox
        if ln.text in known or not (bx0 <= x0 <= bx1 and by0 - 2.5 * h <= y0 and y1 <= by1 + 2.5 * h):
            continue
        strip = arr[round(y0):round(y1) + 1, round(max(bx0, x0 - 4 * h - 6)):max(0, round(x0) - 1)]
        labels = label_map(strip, colours, tolerance=14.0) if strip.size else np.full(1, -1)
        n, k = max((int((labels == k).sum()), k) for k in range(len(colours)))
        if n >= 6:
            out.append((y0, x0, colours[k], ln.text))
    return out


# --------------------------------------------------------------------------------------------- top level

def chromatic(pal: Sequence[PaletteColour]) -> list[PaletteColour]:
    """The palette's chromatic colours (series colours), largest first."""
    return [c for c in pal if not is_greyish(c.rgb, chroma=10.0)]


def _main_plot(box: Sequence[float], size: tuple[int, int]) -> bool:
    """Is ``box`` big enough to be the chart's plot area (not a legend frame or an inset)?"""
    return box[2] - box[0] >= 0.3 * size[0] and box[3] - box[1] >= 0.3 * size[1]


def analyse_chart(img: Image.Image, words: list[Word] | None = None, with_ylabel: bool = True) -> ChartFacts:
    """Everything the model-free policy reads from a chart image (``words``: OCR reused when given)."""
    from ..judges.critic.align import content_bbox
    from ..judges.critic.chart import analyse_chart as chart_layout
    from ..judges.critic.lines import find_axes_boxes

    arr = as_array(img)
    background = background_colour(arr)
    pal = chromatic(palette(arr, background=background))
    colours = [c.rgb for c in pal]
    words = clean_words(_page_words(img) if words is None else words, arr, colours)
    boxes = find_axes_boxes(arr, background)  # largest first
    if not boxes or not _main_plot(boxes[0], img.size):  # marks are then looked for in the whole figure
        boxes = [content_bbox(arr, background) or (0, 0, img.width, img.height)]
    plot: Box = tuple(round(v) for v in boxes[0])  # type: ignore[assignment]
    if words and (plot[2] - plot[0]) < 0.97 * img.width:
        words = _reread_tick_bands(img, arr, plot, words, colours)
    layout = chart_layout(arr, background, words, pal, axes_boxes=boxes)
    facts = ChartFacts(size=img.size, background=background, plot=plot, words=list(words), colours=colours,
                       image=img)
    ax = next((a for a in layout.axes if tuple(round(v) for v in a.bbox) == plot), None)
    if ax is not None:
        _read_ticks(facts, ax)
        _read_marks(facts, ax)
    _read_titles(facts, layout.lines)
    _read_legend(facts, layout, arr)
    if with_ylabel and words and ax is not None:
        facts.ylabel = read_ylabel(img, ax)
    return facts


def bar_values(facts: ChartFacts, bars: list[Bar] | None = None) -> list[float] | None:
    """Values of bars read through the calibrated value axis (None without a usable axis).

    A bar hangs from zero, so its value is the axis value at its far edge.
    """
    bars = facts.bars if bars is None else bars
    axis = facts.xaxis if facts.horizontal_bars else facts.yaxis
    if axis is None:
        return None
    zero = axis.pixel(0.0)
    out = []
    for b in bars:
        near, far = (b.box[0], b.box[2]) if facts.horizontal_bars else (b.box[3], b.box[1])
        if abs(far - zero) < abs(near - zero):
            near, far = far, near
        out.append(axis.value(far))
    return out
