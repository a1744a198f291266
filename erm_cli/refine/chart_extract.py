"""Read a chart image back into data: plot area, axis calibration, bars, lines, points and texts.

Weight-free image analysis used twice by the model-free policy: to write a first matplotlib draft from
the reference, and to measure bars and lines in both the reference and a candidate's render so that
data literals can be corrected. Colours come from the critic's palette, text from the critic's OCR.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ..judges.critic.colour import as_array, background_colour, is_greyish, label_map, palette
from ..judges.critic.ocr import Line, Word, parse_number

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
    dark: np.ndarray | None = field(default=None, repr=False)
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


# --------------------------------------------------------------------------------------------- plot area

def _dark(arr: np.ndarray, thresh: int = 110) -> np.ndarray:
    a = arr.astype(np.int32)
    lum = (a[..., 0] * 299 + a[..., 1] * 587 + a[..., 2] * 114) // 1000
    chroma = a.max(axis=2) - a.min(axis=2)
    return (lum < thresh) & (chroma < 40)


def _longest_run(v: np.ndarray) -> tuple[int, int]:
    """(length, start) of the longest run of True in a 1-D boolean array."""
    if not v.any():
        return 0, 0
    d = np.diff(np.concatenate([[0], v.astype(np.int8), [0]]))
    starts = np.nonzero(d == 1)[0]
    ends = np.nonzero(d == -1)[0]
    k = int(np.argmax(ends - starts))
    return int(ends[k] - starts[k]), int(starts[k])


def find_plot_area(arr: np.ndarray) -> Box:
    """The axes rectangle: the longest dark horizontal and vertical rules (spines); else the content box."""
    h, w = arr.shape[:2]
    dark = _dark(arr)
    rows = [(y, *_longest_run(dark[y])) for y in range(h)]
    cols = [(x, *_longest_run(dark[:, x])) for x in range(w)]
    hr = [r for r in rows if r[1] >= 0.3 * w]
    vc = [c for c in cols if c[1] >= 0.3 * h]
    if hr and vc:
        bottom = max(hr, key=lambda r: (r[1] >= 0.8 * max(x[1] for x in hr), r[0]))
        left = min(vc, key=lambda c: (not (c[1] >= 0.8 * max(x[1] for x in vc)), c[0]))
        x0 = left[0]
        y1 = bottom[0]
        x1 = bottom[2] + bottom[1] - 1
        y0 = left[2]
        tops = [r for r in hr if r[0] < y1 - 0.3 * h and abs(r[2] - bottom[2]) < 5]
        if tops:
            y0 = min(y0, min(r[0] for r in tops))
        return int(x0), int(y0), int(x1) + 1, int(y1) + 1
    bg = np.asarray(background_colour(arr), np.int16)
    ink = np.abs(arr.astype(np.int16) - bg).max(axis=2) > 30
    ys, xs = np.nonzero(ink)
    if ys.size == 0:
        return 0, 0, w, h
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


# --------------------------------------------------------------------------------------------- texts

def group_lines(words: Sequence[Word], gap: float = 1.2) -> list[Line]:
    """Words -> reading lines: rows of vertically overlapping words, split where the horizontal gap
    exceeds ``gap`` x the text height (order-independent, unlike a single greedy pass)."""
    rows: list[list[Word]] = []
    for w in sorted(words, key=lambda w: w.cy):
        for row in rows:
            top = min(x.bbox[1] for x in row)
            bottom = max(x.bbox[3] for x in row)
            ov = min(bottom, w.bbox[3]) - max(top, w.bbox[1])
            if ov >= 0.5 * max(1.0, min(w.height, min(x.height for x in row))):
                row.append(w)
                break
        else:
            rows.append([w])
    lines: list[Line] = []
    for row in rows:
        row.sort(key=lambda w: w.bbox[0])
        cur = [row[0]]
        for w in row[1:]:
            h = max(cur[-1].height, w.height, 1.0)
            if w.bbox[0] - cur[-1].bbox[2] <= gap * h:
                cur.append(w)
            else:
                lines.append(Line(cur))
                cur = [w]
        lines.append(Line(cur))
    return sorted(lines, key=lambda ln: (ln.bbox[1], ln.bbox[0]))


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
            x0, y0, x1, y1 = (int(round(v)) for v in w.bbox)
            patch = arr[max(0, y0):y1, max(0, x0):x1]
            if patch.size and (label_map(patch, colours, tolerance=14.0) >= 0).mean() > 0.35:
                continue
        out.append(w)
    return out


_BLOCK_API = threading.local()


def _ocr_block(img: Image.Image) -> list[Word]:
    """Tesseract in single-block mode (reads short tick-label columns that sparse mode drops)."""
    import tesserocr

    from ..judges.critic.ocr import OcrUnavailable, find_tessdata

    api = getattr(_BLOCK_API, "api", None)
    if api is None:
        tessdata = find_tessdata()
        if tessdata is None:
            raise OcrUnavailable("Tesseract 'eng' data not found")
        api = tesserocr.PyTessBaseAPI(path=tessdata.rstrip("/") + "/", lang="eng", psm=tesserocr.PSM.SINGLE_BLOCK)
        _BLOCK_API.api = api
    api.SetImage(img)
    api.Recognize()
    out: list[Word] = []
    it = api.GetIterator()
    if it is None:
        return out
    level = tesserocr.RIL.WORD
    for r in tesserocr.iterate_level(it, level):
        try:
            text = (r.GetUTF8Text(level) or "").strip()
        except RuntimeError:  # an empty element
            continue
        box = r.BoundingBox(level)
        if text and box is not None:
            out.append(Word(text, tuple(float(v) for v in box), float(r.Confidence(level))))  # type: ignore[arg-type]
    return out


def ocr_band(img: Image.Image, box: Box, upscale: float = 3.0) -> list[Word]:
    """OCR one strip of tick labels: short and small text, read from an upscaled crop in block mode."""
    from ..judges.critic.ocr import OcrUnavailable, ocr_words

    x0, y0, x1, y1 = (int(v) for v in box)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(img.width, x1), min(img.height, y1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return []
    crop = img.crop((x0, y0, x1, y1)).convert("L")
    big = crop.resize((round(crop.width * upscale), round(crop.height * upscale)), Image.LANCZOS)
    try:
        words = [w.scaled(1 / upscale) for w in _ocr_block(big)]
    except (ImportError, OcrUnavailable, RuntimeError):
        try:
            words = ocr_words(crop, upscale=upscale, min_conf=30)
        except (OcrUnavailable, RuntimeError):
            return []
    return [w.scaled(1.0, 1.0, x0, y0) for w in words if w.conf >= 30]


def tick_number(text: str) -> float | None:
    """A tick label's value; a tick mark read as a trailing dash ("4-") is ignored."""
    return parse_number(text.rstrip("-—–_|'`"))


def fit_axis(points: Sequence[tuple[float, float]]) -> Axis | None:
    """Robust linear fit value = a + b * pixel through (pixel, value) tick points (needs 2 or more)."""
    pts = sorted(set(points))
    if len(pts) < 2:
        return None
    p = np.array([q[0] for q in pts], float)
    v = np.array([q[1] for q in pts], float)
    if np.ptp(p) < 5 or np.ptp(v) == 0:
        return None
    best: tuple[float, float, int] | None = None
    # try every pair, keep the fit with the most inliers (OCR may misread one tick)
    for i in range(len(pts)):
        for j in range(i + 1, len(pts)):
            if abs(p[j] - p[i]) < 3:
                continue
            b = (v[j] - v[i]) / (p[j] - p[i])
            a = v[i] - b * p[i]
            tol = abs(b) * 3 + 1e-9 * abs(v).max()
            inl = int(np.sum(np.abs(a + b * p - v) <= max(tol, 1e-6 * (np.ptp(v) or 1))))
            if best is None or inl > best[2]:
                best = (a, b, inl)
    if best is None or best[2] < 2:
        return None
    a, b, _ = best
    tol = abs(b) * 3
    mask = np.abs(a + b * p - v) <= max(tol, 1e-6 * (np.ptp(v) or 1))
    if mask.sum() >= 2:
        b, a = np.polyfit(p[mask], v[mask], 1)
    return Axis(float(a), float(b), [(float(x), float(y)) for x, y, m in zip(p, v, mask) if m])


def _tick_marks(dark: np.ndarray | None, plot: Box, vertical: bool) -> list[float]:
    """Pixel positions of the tick marks just outside the left (``vertical``) or bottom spine."""
    if dark is None:
        return []
    x0, y0, x1, y1 = plot
    if vertical:
        band = dark[y0:y1, max(0, x0 - 5):max(0, x0 - 1)]
        hits = np.nonzero(band.sum(axis=1) >= max(2, band.shape[1] - 1))[0] + y0 if band.size else []
    else:
        band = dark[y1 + 1:y1 + 5, x0:x1]
        hits = np.nonzero(band.sum(axis=0) >= max(2, band.shape[0] - 1))[0] + x0 if band.size else []
    marks: list[list[int]] = []
    for h in list(hits):
        if marks and h - marks[-1][-1] <= 1:
            marks[-1].append(int(h))
        else:
            marks.append([int(h)])
    return [float(np.mean(m)) + 0.5 for m in marks]


def _snap_to(p: float, marks: list[float], radius: float = 5.0) -> float:
    if not marks:
        return p
    m = min(marks, key=lambda q: abs(q - p))
    return m if abs(m - p) <= radius else p


def _classify_words(facts: ChartFacts) -> None:
    x0, y0, x1, y1 = facts.plot
    W, H = facts.size
    words = facts.words
    lines = group_lines(words)
    # y tick labels: numbers left of the plot, vertically within it
    yt = [w for w in words if w.bbox[2] <= x0 + 3 and y0 - 10 <= w.cy <= y1 + 10 and tick_number(w.text) is not None]
    if len(yt) >= 2:
        # keep the column nearest the axis
        right = max(w.bbox[2] for w in yt)
        yt = [w for w in yt if w.bbox[2] >= right - 12]
    facts.yticks = sorted(yt, key=lambda w: w.cy)
    marks_y = _tick_marks(facts.dark, facts.plot, vertical=True)
    facts.yaxis = fit_axis([(_snap_to(w.cy, marks_y), tick_number(w.text)) for w in facts.yticks])  # type: ignore[misc]
    # x tick labels: the first row of words just below the plot
    below = [w for w in words if w.bbox[1] >= y1 - 2 and w.cy <= y1 + 0.12 * H and x0 - 30 <= w.cx <= x1 + 30]
    if below:
        top_row = min(w.cy for w in below)
        facts.xticks = sorted([w for w in below if abs(w.cy - top_row) < max(6.0, 0.6 * below[0].height)],
                              key=lambda w: w.cx)
    xnum = [(w.cx, tick_number(w.text)) for w in facts.xticks if tick_number(w.text) is not None]
    if len(xnum) >= 2 and len(xnum) == len(facts.xticks):
        marks_x = _tick_marks(facts.dark, facts.plot, vertical=False)
        facts.xaxis = fit_axis([(_snap_to(p, marks_x), v) for p, v in xnum])  # type: ignore[arg-type]
    used = {id(w) for w in facts.yticks + facts.xticks}
    # title: lines above the plot area
    above = [ln for ln in lines if ln.bbox[3] <= y0 + 4 and not any(id(w) in used for w in ln.words)]
    if above:
        big = max(above, key=lambda ln: (ln.bbox[3] - ln.bbox[1], -ln.bbox[1]))
        facts.title = big.text
    # x label: a line below the tick labels
    tick_bottom = max((w.bbox[3] for w in facts.xticks), default=y1)
    xl = [ln for ln in lines if ln.bbox[1] >= tick_bottom - 2 and not any(id(w) in used for w in ln.words)]
    if xl:
        facts.xlabel = min(xl, key=lambda ln: ln.bbox[1]).text
    elif facts.image is not None and tick_bottom + 6 < H:
        # the x label is often missed on the full page: read the band under the tick labels
        band = [w for w in ocr_band(facts.image, (x0, int(tick_bottom) + 2, x1, H)) if w.conf >= 60]
        band_lines = [ln for ln in group_lines(band) if sum(ch.isalnum() for ch in ln.text) >= 2]
        if band_lines:
            facts.xlabel = min(band_lines, key=lambda ln: ln.bbox[1]).text


def ocr_rotated_ylabel(img: Image.Image, facts: ChartFacts) -> str:
    """The y-axis label is drawn rotated 90°: OCR the strip left of the tick labels, turned upright."""
    from ..judges.critic.ocr import ocr_words

    x0 = facts.plot[0]
    tick_left = min((w.bbox[0] for w in facts.yticks), default=x0)
    right = int(max(1, tick_left - 2))
    if right < 8:
        return ""
    strip = img.crop((0, facts.plot[1], right, facts.plot[3])).rotate(-90, expand=True)
    try:
        words = ocr_words(strip, min_conf=60)
    except Exception:  # noqa: BLE001 - OCR trouble only loses the y label
        return ""
    lines = [ln for ln in group_lines(words) if sum(ch.isalnum() for ch in ln.text) >= 3 and ln.conf >= 70]
    if not lines:
        return ""
    return max(lines, key=lambda ln: len(ln.text)).text


# --------------------------------------------------------------------------------------------- marks

def _components(mask: np.ndarray) -> list[tuple[Box, int]]:
    from scipy import ndimage

    lab, n = ndimage.label(mask)
    out = []
    for i, sl in enumerate(ndimage.find_objects(lab), 1):
        if sl is None:
            continue
        ys, xs = sl
        area = int((lab[sl] == i).sum())
        out.append(((xs.start, ys.start, xs.stop, ys.stop), area))
    return out


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


def find_marks(arr: np.ndarray, plot: Box, colours: list[tuple[int, int, int]],
               legend_box: Box | None = None) -> tuple[list[Bar], list[Series]]:
    """Bars (filled rectangles) and line/scatter series of each chromatic colour inside the plot area."""
    x0, y0, x1, y1 = plot
    sub = arr[y0:y1, x0:x1]
    if sub.size == 0 or not colours:
        return [], []
    labels = label_map(sub, colours, tolerance=14.0)
    bars: list[Bar] = []
    series: list[Series] = []
    for k, col in enumerate(colours):
        mask = labels == k
        if legend_box is not None:
            lx0, ly0, lx1, ly1 = legend_box
            mask[max(0, ly0 - y0):max(0, ly1 - y0), max(0, lx0 - x0):max(0, lx1 - x0)] = False
        if mask.sum() < 6:
            continue
        comps = _components(mask)
        rects = [(b, a) for b, a in comps if (b[2] - b[0]) >= 3 and (b[3] - b[1]) >= 2
                 and a >= 0.85 * (b[2] - b[0]) * (b[3] - b[1]) and a >= 30]
        rect_area = sum(a for _, a in rects)
        if rects and rect_area >= 0.6 * mask.sum():
            for b, _ in rects:
                bars.append(Bar(col, (b[0] + x0, b[1] + y0, b[2] + x0, b[3] + y0)))
            continue
        cols = np.nonzero(mask.any(axis=0))[0]
        if cols.size == 0:
            continue
        small = [(b, a) for b, a in comps if max(b[2] - b[0], b[3] - b[1]) <= 14 and a >= 6]
        span = (cols.max() - cols.min() + 1) / max(1, sub.shape[1])
        coverage = cols.size / max(1, cols.max() - cols.min() + 1)
        if span > 0.2 and coverage > 0.6:
            ys = np.array([np.nonzero(mask[:, c])[0].mean() for c in cols])
            markers, marker = _line_markers(mask, cols, ys)
            s_ = Series(col, cols.astype(float) + x0, ys + y0, "line",
                        [(mx + x0, my + y0) for mx, my in markers])
            s_.__dict__["marker"] = marker
            series.append(s_)
        elif len(small) >= 3:
            pts = [((b[0] + b[2]) / 2 + x0, (b[1] + b[3]) / 2 + y0) for b, _ in small]
            series.append(Series(col, np.array([p[0] for p in pts]), np.array([p[1] for p in pts]), "scatter",
                                 pts))
    return bars, series


def _bar_orientation(bars: list[Bar]) -> bool:
    """True for horizontal bars: they share a left edge rather than a bottom edge."""
    if len(bars) < 2:
        return bars[0].width > bars[0].height * 2 if bars else False
    bottoms = np.array([b.box[3] for b in bars])
    lefts = np.array([b.box[0] for b in bars])
    return float(np.ptp(lefts)) < float(np.ptp(bottoms))


def find_legend(words: list[Word], arr: np.ndarray, plot: Box,
                colours: list[tuple[int, int, int]]) -> tuple[list[tuple[tuple[int, int, int], str]], Box | None]:
    """Legend entries: a text line inside the plot with a small patch of a series colour just left of it."""
    if not colours:
        return [], None
    entries: list[tuple[tuple[int, int, int], str, tuple[float, float, float, float]]] = []
    x0, y0, x1, y1 = plot
    for ln in group_lines(words):
        bx0, by0, bx1, by1 = ln.bbox
        if not (x0 <= bx0 and bx1 <= x1 + 2 and y0 <= by0 and by1 <= y1):
            continue
        hgt = by1 - by0
        lx0 = int(max(x0, bx0 - 4 * hgt - 6))
        patch = arr[int(by0):int(by1) + 1, lx0:int(bx0) - 1]
        if patch.size == 0:
            continue
        labs = label_map(patch, colours, tolerance=14.0)
        counts = [(int((labs == k).sum()), k) for k in range(len(colours))]
        n, k = max(counts)
        if n >= 6:
            entries.append((colours[k], ln.text, (lx0, by0, bx1, by1)))
    if not entries:
        return [], None
    box = (int(min(e[2][0] for e in entries)) - 4, int(min(e[2][1] for e in entries)) - 4,
           int(max(e[2][2] for e in entries)) + 4, int(max(e[2][3] for e in entries)) + 4)
    return [(c, t) for c, t, _ in entries], box


# --------------------------------------------------------------------------------------------- top level

def chart_colours(arr: np.ndarray) -> list[tuple[int, int, int]]:
    """Chromatic palette colours (series colours), largest first."""
    return [c.rgb for c in palette(arr) if not is_greyish(c.rgb, chroma=10.0)]


def analyse_chart(img: Image.Image, words: list[Word] | None = None, with_ylabel: bool = True) -> ChartFacts:
    """Everything the model-free policy reads from a chart image (``words``: OCR reused when given)."""
    from ..judges.critic.ocr import OcrUnavailable, ocr_words

    arr = as_array(img)
    if words is None:
        try:
            words = ocr_words(img, min_conf=30)
        except (OcrUnavailable, RuntimeError):
            words = []
    plot = find_plot_area(arr)
    colours = chart_colours(arr)
    words = clean_words(words, arr, colours)
    if words is not None and (plot[2] - plot[0]) < 0.97 * img.width:
        # re-read the tick-label bands from upscaled crops and use them instead of the full-page OCR
        px0, py0, px1, py1 = plot
        th = max(12, int(0.06 * img.height))
        below = (px0 - 40, py1 + 6, px1 + 40, py1 + 6 + th)  # past the tick marks
        left = (0, py0 - 10, px0 - 6, py1 + 10)
        def inside(w: Word, b: Box) -> bool:
            return b[0] <= w.cx <= b[2] and b[1] <= w.cy <= b[3]

        for band in (below, left):
            band_words = clean_words(ocr_band(img, band), arr, colours)
            if band_words:
                words = [w for w in words if not inside(w, band)] + band_words
    facts = ChartFacts(size=img.size, background=background_colour(arr), plot=plot, words=list(words),
                       dark=_dark(arr), image=img)
    _classify_words(facts)
    facts.colours = colours
    facts.legend, facts.legend_box = find_legend(facts.words, arr, plot, facts.colours)
    facts.bars, facts.series = find_marks(arr, plot, facts.colours, facts.legend_box)
    facts.horizontal_bars = _bar_orientation(facts.bars) if facts.bars else False
    if with_ylabel and words:
        facts.ylabel = ocr_rotated_ylabel(img, facts)
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
