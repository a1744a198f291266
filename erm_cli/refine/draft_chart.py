"""Model-free chart-to-code: read a chart image (:mod:`chart_extract`) and write matplotlib code for it.

The code is deliberately plain — one literal list per series, explicit colours, explicit texts — so
that the literal search can correct any of it later.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image

from .chart_extract import Bar, ChartFacts, Series, analyse_chart, bar_values

#: matplotlib's default colour cycle (tab10), used when code names colours as 'C0'...'C9'.
DEFAULT_CYCLE: list[tuple[int, int, int]] = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _round_values(values: list[float], span: float) -> list[float]:
    if not values:
        return values
    span = span or max(abs(v) for v in values) or 1.0
    decimals = max(0, 2 - int(math.floor(math.log10(abs(span)))))
    return [float(round(float(v), decimals)) for v in values]


def _category_centres(facts: ChartFacts, bars: list[Bar], n_series: int) -> list[float]:
    """Pixel centres of the categories along the category axis."""
    pos = sorted(b.cy if facts.horizontal_bars else b.cx for b in bars)
    if n_series <= 1:
        return pos
    sizes = [b.height if facts.horizontal_bars else b.width for b in bars]
    thick = float(np.median(sizes)) if sizes else 1.0
    groups: list[list[float]] = [[pos[0]]]
    for p in pos[1:]:
        if p - groups[-1][-1] <= thick * 1.3:
            groups[-1].append(p)
        else:
            groups.append([p])
    return [float(np.mean(g)) for g in groups]


def _legend_loc(facts: ChartFacts) -> str:
    if facts.legend_box is None:
        return "best"
    x0, y0, x1, y1 = facts.plot
    lx = ((facts.legend_box[0] + facts.legend_box[2]) / 2 - x0) / max(1, x1 - x0)
    ly = ((facts.legend_box[1] + facts.legend_box[3]) / 2 - y0) / max(1, y1 - y0)
    v = "upper" if ly < 0.34 else ("lower" if ly > 0.66 else "center")
    h = "left" if lx < 0.34 else ("right" if lx > 0.66 else "center")
    return "center" if v == h == "center" else f"{v} {h}"


def _label_for(facts: ChartFacts, colour: tuple[int, int, int]) -> str | None:
    from ..judges.critic.colour import delta_e_rgb

    best = None
    for c, text in facts.legend:
        d = delta_e_rgb(c, colour)
        if d < 10 and (best is None or d < best[0]):
            best = (d, text)
    return best[1] if best else None


def _legend_rank(facts: ChartFacts, colour: tuple[int, int, int]) -> int:
    """Position of a series in the legend (matplotlib lists series in plotting order)."""
    from ..judges.critic.colour import delta_e_rgb

    for i, (c, _) in enumerate(facts.legend):
        if delta_e_rgb(c, colour) < 10:
            return i
    return len(facts.legend)


def _py(v: Any) -> str:
    return repr(v)


def _value_axis_fallback(facts: ChartFacts, pixel: float, horizontal: bool) -> float:
    x0, y0, x1, y1 = facts.plot
    if horizontal:
        return round(10.0 * (pixel - x0) / max(1, x1 - x0), 2)
    return round(10.0 * (y1 - pixel) / max(1, y1 - y0), 2)


def _bars_code(facts: ChartFacts, lines: list[str]) -> None:
    horizontal = facts.horizontal_bars
    by_colour: dict[tuple[int, int, int], list[Bar]] = {}
    for b in facts.bars:
        by_colour.setdefault(b.colour, []).append(b)
    series = sorted(by_colour.items(), key=lambda kv: (_legend_rank(facts, kv[0]), -len(kv[1]),
                                                       min(b.cx for b in kv[1])))
    centres = _category_centres(facts, facts.bars, len(series))
    n = len(centres)
    ticks = facts.xticks if not horizontal else []
    names = [w.text for w in ticks] if len(ticks) == n else [f"C{i + 1}" for i in range(n)]
    if horizontal:
        left_words = [w for w in facts.words if w.bbox[2] <= facts.plot[0] + 2]
        rows = sorted(left_words, key=lambda w: w.cy)
        if len(rows) >= n:
            names = []
            for c in sorted(centres):
                w = min(rows, key=lambda w: abs(w.cy - c))
                names.append(w.text)
            names = names[::-1]  # barh draws the first category at the bottom
        centres = sorted(centres, reverse=True)
    spacing = float(np.median(np.diff(sorted(centres)))) if n > 1 else float(
        (facts.plot[2] - facts.plot[0]) / 2)
    spacing = abs(spacing) or 1.0
    axis = facts.xaxis if horizontal else facts.yaxis
    lines.append(f"categories = {_py(names)}")
    if len(series) == 1:
        colour, bars = series[0]
        bars = sorted(bars, key=lambda b: -b.cy if horizontal else b.cx)
        vals = bar_values(facts, bars)
        if vals is None:
            vals = [_value_axis_fallback(facts, b.box[2] if horizontal else b.box[1], horizontal) for b in bars]
        span = abs(axis.value(facts.plot[2]) - axis.value(facts.plot[0])) if (axis and horizontal) else (
            abs(axis.value(facts.plot[1]) - axis.value(facts.plot[3])) if axis else 10.0)
        vals = _round_values(vals, span)
        thick = float(np.median([b.height if horizontal else b.width for b in bars]))
        width = round(min(1.0, thick / spacing), 2)
        label = _label_for(facts, colour)
        lines.append(f"values = {_py(vals)}")
        fn = "barh" if horizontal else "bar"
        kw = "height" if horizontal else "width"
        lab = f", label={_py(label)}" if label else ""
        lines.append(f"ax.{fn}(categories, values, {kw}={width}, color={_py(hex_colour(colour))}{lab})")
        return
    lines.append("x = np.arange(len(categories))")
    order = np.argsort(centres)
    sorted_centres = [centres[i] for i in order]
    for k, (colour, bars) in enumerate(series):
        vals: list[float] = [0.0] * n
        offs = []
        thick = []
        for b in bars:
            p = b.cy if horizontal else b.cx
            i = int(np.argmin([abs(p - c) for c in sorted_centres]))
            v = bar_values(facts, [b])
            vals[i] = v[0] if v else _value_axis_fallback(facts, b.box[2] if horizontal else b.box[1], horizontal)
            offs.append((p - sorted_centres[i]) / spacing * (-1 if horizontal else 1))
            thick.append((b.height if horizontal else b.width) / spacing)
        span = 10.0
        if axis is not None:
            span = abs(axis.value(facts.plot[1]) - axis.value(facts.plot[3])) if not horizontal else abs(
                axis.value(facts.plot[2]) - axis.value(facts.plot[0]))
        vals = _round_values(vals, span)
        off = round(float(np.median(offs)), 3)
        width = round(float(np.median(thick)), 3)
        label = _label_for(facts, colour)
        lab = f", label={_py(label)}" if label else ""
        lines.append(f"values_{k} = {_py(vals)}")
        fn = "barh" if horizontal else "bar"
        lines.append(f"ax.{fn}(x + {off}, values_{k}, {width}, color={_py(hex_colour(colour))}{lab})")
    if horizontal:
        lines.append("ax.set_yticks(x)")
        lines.append("ax.set_yticklabels(categories)")
    else:
        lines.append("ax.set_xticks(x)")
        lines.append("ax.set_xticklabels(categories)")


def _rdp(points: np.ndarray, eps: float) -> np.ndarray:
    """Ramer-Douglas-Peucker polyline simplification (the vertices of a line chart)."""
    if len(points) < 3:
        return points
    start, end = points[0], points[-1]
    d = end - start
    norm = float(np.hypot(*d)) or 1.0
    dist = np.abs(d[0] * (points[:, 1] - start[1]) - d[1] * (points[:, 0] - start[0])) / norm
    i = int(np.argmax(dist))
    if dist[i] > eps:
        left = _rdp(points[:i + 1], eps)
        right = _rdp(points[i:], eps)
        return np.vstack([left[:-1], right])
    return np.vstack([start, end])


def _vertices(s: Series, merge_px: float = 12.0) -> np.ndarray:
    """x pixels of a line's data points: polyline corners (RDP), nearby corners merged, ends kept."""
    pts = _rdp(np.stack([s.xs, s.ys], axis=1), eps=2.5)
    xs = sorted(float(x) for x in pts[:, 0])
    groups: list[list[float]] = [[xs[0]]]
    for x in xs[1:]:
        if x - groups[-1][-1] <= merge_px:
            groups[-1].append(x)
        else:
            groups.append([x])
    out = []
    for i, g in enumerate(groups):
        if i == 0:
            out.append(min(g))
        elif i == len(groups) - 1:
            out.append(max(g))
        else:
            out.append(float(np.median(g)))
    return np.array(out)


def regular_grid(xs_list: list[np.ndarray], tol: float = 0.12) -> list[float] | None:
    """Data x pixels on a regular grid when the vertices of all series fit one (collinear points hide
    vertices: 1.0, 2.5, 3.9 has no visible corner at 2.5). None when the vertices are irregular."""
    allx = sorted(float(x) for xs in xs_list for x in xs)
    if len(allx) < 2:
        return None
    merged: list[float] = [allx[0]]
    for x in allx[1:]:
        if x - merged[-1] > 6:
            merged.append(x)
    gaps = np.diff(merged)
    if gaps.size == 0:
        return None
    step = float(gaps.min())
    if step <= 0:
        return None
    ratios = gaps / step
    if np.any(np.abs(ratios - np.round(ratios)) > tol):
        return None
    n = int(round((merged[-1] - merged[0]) / step))
    return [merged[0] + i * (merged[-1] - merged[0]) / n for i in range(n + 1)]


def _snap(values: list[float], step: float | None) -> list[float]:
    if not step:
        return values
    out = []
    for v in values:
        q = round(v / step) * step
        out.append(q if abs(q - v) <= 0.2 * step else v)
    return out


def _series_code(facts: ChartFacts, lines: list[str], markers: bool) -> None:
    x_ax, y_ax = facts.xaxis, facts.yaxis
    categorical = x_ax is None and len(facts.xticks) >= 2
    if categorical:
        lines.append(f"categories = {_py([w.text for w in facts.xticks])}")
    line_vertices = [_vertices(s) for s in facts.series if s.style == "line"]
    grid = None if categorical else regular_grid(line_vertices)
    for k, s in enumerate(facts.series):
        colour = hex_colour(s.colour)
        label = _label_for(facts, s.colour)
        lab = f", label={_py(label)}" if label else ""
        if s.style == "scatter":
            px = s.xs
            py_ = s.ys
        elif categorical:
            px = np.array([w.cx for w in facts.xticks])
            py_ = np.array([s.y_at(x) if s.y_at(x) is not None else np.nan for x in px])
            keep = ~np.isnan(py_)
            px, py_ = px[keep], py_[keep]
        else:
            px = np.array([x for x in grid if s.xs.min() - 3 <= x <= s.xs.max() + 3]) if grid else _vertices(s)
            py_ = np.array([s.y_at(x) if s.y_at(x) is not None else s.y_at(round(x)) for x in px], float)
        if y_ax is not None:
            ys = [y_ax.value(v) for v in py_]
            span = abs(y_ax.value(facts.plot[1]) - y_ax.value(facts.plot[3]))
        else:
            ys = [_value_axis_fallback(facts, v, False) for v in py_]
            span = 10.0
        ys = _round_values(ys, span)
        if categorical:
            idx = [int(np.argmin([abs(x - w.cx) for w in facts.xticks])) for x in px]
            xs_code = f"[categories[i] for i in {_py(idx)}]"
        else:
            if x_ax is not None:
                step = None
                if len(x_ax.ticks) >= 2:
                    tv = sorted(v for _, v in x_ax.ticks)
                    step = float(np.median(np.diff(tv))) if len(tv) > 1 else None
                xs = _snap([x_ax.value(v) for v in px], step / 2 if step else None)
                span_x = abs(x_ax.value(facts.plot[2]) - x_ax.value(facts.plot[0]))
            else:
                xs = [float(i) for i in range(len(px))]
                span_x = float(len(px))
            xs = _round_values(xs, span_x)
            lines.append(f"x_{k} = {_py(xs)}")
            xs_code = f"x_{k}"
        lines.append(f"y_{k} = {_py(ys)}")
        if s.style == "scatter":
            lines.append(f"ax.scatter({xs_code}, y_{k}, color={_py(colour)}{lab})")
        else:
            marker = s.marker or ("o" if markers else "")
            mk = f", marker={marker!r}" if marker else ""
            lines.append(f"ax.plot({xs_code}, y_{k}, color={_py(colour)}{mk}{lab})")


_DESC = set("gjpqy,;")
_TALL = set("bdfhklt0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ()$%&/\\|[]{}")


def estimate_fontsize(words: list[Any]) -> float | None:
    """Font size in points (at 100 dpi) from OCR word boxes, allowing for ascenders and descenders."""
    ems = []
    for w in words:
        chars = set(w.text)
        tall = bool(chars & _TALL)
        desc = bool(chars & _DESC)
        ratio = 0.95 if (tall and desc) else (0.75 if tall else (0.72 if desc else 0.53))
        ems.append(w.height / ratio)
    if not ems:
        return None
    return float(np.median(ems)) * 72 / 100


def chart_code(facts: ChartFacts, variant: int = 0) -> str:
    """matplotlib code for the chart described by ``facts``. ``variant`` > 0 changes uncertain choices."""
    W, H = facts.size
    lines = ["import matplotlib.pyplot as plt", "import numpy as np", "",
             f"fig, ax = plt.subplots(figsize=({W / 100:.2f}, {H / 100:.2f}), dpi=100)"]
    if facts.bars:
        _bars_code(facts, lines)
    elif facts.series:
        _series_code(facts, lines, markers=variant % 2 == 1)
    if facts.title:
        title_words = [w for w in facts.words if w.text in facts.title.split() and w.bbox[3] <= facts.plot[1] + 4]
        size = ""
        est = estimate_fontsize(title_words)
        if est is not None and variant % 3 != 2 and not 10.5 <= est <= 13.5:
            size = f", fontsize={int(round(est))}"
        lines.append(f"ax.set_title({_py(facts.title)}{size})")
    if facts.xlabel:
        lines.append(f"ax.set_xlabel({_py(facts.xlabel)})")
    if facts.ylabel:
        lines.append(f"ax.set_ylabel({_py(facts.ylabel)})")
    if facts.legend:
        lines.append(f"ax.legend(loc={_py(_legend_loc(facts))})")
    lines.append("")
    return "\n".join(lines)


def draft_chart(reference: Image.Image, n: int = 1, facts: ChartFacts | None = None) -> list[str]:
    """Up to ``n`` matplotlib drafts of the chart in ``reference`` (distinct variants)."""
    facts = facts or analyse_chart(reference)
    out: list[str] = []
    for v in range(max(1, n) * 2):
        code = chart_code(facts, v)
        if code not in out:
            out.append(code)
        if len(out) >= n:
            break
    return out
