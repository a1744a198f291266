"""Structured chart specs: a random generator of realistic charts and their layout geometry.

A :class:`ChartSpec` holds everything that decides the picture (chart kinds, data, labels, colours,
styles, subplot grid, figure size); :mod:`erm_cli.data.chart_code` turns it into matplotlib or
plotly code, and :mod:`erm_cli.data.perturb_chart` edits it with exact gold labels. matplotlib
code uses a fixed ``subplots_adjust`` layout, so every part (title band, plot area, legend) sits in
a known region of the image and an edit to one part cannot move another.
"""

from __future__ import annotations

import copy
import random
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .colors import PALETTES
from .perturbation import Region, clip_region

#: Chart kinds the generator writes (each a distinct plotting call).
CHART_KINDS: tuple[str, ...] = (
    "bar",
    "grouped_bar",
    "stacked_bar",
    "barh",
    "line",
    "scatter",
    "pie",
    "hist",
    "box",
    "area",
    "heatmap",
    "errorbar",
)
#: Kinds drawn on a categorical x axis with one value per category and series.
CATEGORICAL_KINDS = ("bar", "grouped_bar", "stacked_bar", "barh", "line", "area", "errorbar")
#: Kinds whose series show in a legend.
LEGEND_KINDS = ("grouped_bar", "stacked_bar", "line", "scatter", "hist", "area", "errorbar", "bar", "barh")
#: Layout variants for multi-panel figures.
GRIDS: tuple[tuple[int, int], ...] = ((1, 2), (2, 1), (2, 2), (1, 3))

MPL_STYLES = ("default", "seaborn-v0_8-whitegrid", "ggplot")
MPL_STYLES_WITH_GRID = ("seaborn-v0_8-whitegrid", "ggplot")
PLOTLY_TEMPLATES = ("plotly_white", "simple_white", "plotly", "ggplot2", "seaborn")
LEGEND_LOCS = ("upper left", "upper right", "lower left", "lower right", "upper center", "center right")
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "x", "*")
CMAPS = ("viridis", "Blues", "magma", "coolwarm", "YlGnBu", "Oranges")

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(frozen=True)
class Topic:
    """A plausible subject: titles, axis labels, category and series pools, value range."""

    key: str
    titles: tuple[str, ...]
    xlabel: str
    ylabel: str
    categories: tuple[str, ...]
    series: tuple[str, ...]
    lo: float
    hi: float
    decimals: int = 1
    ordered: bool = False  # categories are a sequence (months, years): take a contiguous run

    @property
    def additive(self) -> bool:
        """Series that can be stacked (parts of one total); accuracy or temperature cannot."""
        return self.key in ADDITIVE_TOPICS


ADDITIVE_TOPICS = ("revenue", "units", "traffic")
#: Topics whose categories split a whole (a pie makes sense).
PIE_TOPICS = ("energy", "languages", "population", "revenue", "traffic")


@dataclass(frozen=True)
class ScatterTopic:
    title: str
    xlabel: str
    ylabel: str
    groups: tuple[str, ...]
    x_range: tuple[float, float]
    slope: float
    intercept: float
    noise: float


@dataclass(frozen=True)
class DistTopic:
    title: str
    value_label: str
    groups: tuple[str, ...]
    mean: tuple[float, float]
    sd: tuple[float, float]
    decimals: int = 1


@dataclass(frozen=True)
class HeatTopic:
    title: str
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    lo: float
    hi: float
    decimals: int
    colorbar: str


_T = TypeVar("_T")


def _load_topics(section: str, cls: type[_T]) -> tuple[_T, ...]:
    """The ``[[section]]`` tables of ``chart_topics.toml`` as ``cls`` instances (TOML lists become tuples)."""
    rows = _TOPIC_FILE[section]
    return tuple(cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in row.items()}) for row in rows)


_TOPIC_FILE: dict[str, list[dict[str, Any]]] = tomllib.loads(
    (Path(__file__).parent / "chart_topics.toml").read_text(encoding="utf-8")
)
TOPICS: tuple[Topic, ...] = _load_topics("topic", Topic)
SCATTER_TOPICS: tuple[ScatterTopic, ...] = _load_topics("scatter_topic", ScatterTopic)
DIST_TOPICS: tuple[DistTopic, ...] = _load_topics("dist_topic", DistTopic)
HEAT_TOPICS: tuple[HeatTopic, ...] = _load_topics("heat_topic", HeatTopic)


@dataclass
class Series:
    """One data series (or one group of a box/histogram chart)."""

    name: str
    values: list[float] = field(default_factory=list)
    color: str = "#1f77b4"
    linestyle: str = "-"
    marker: str = ""
    linewidth: float = 2.0
    alpha: float = 1.0
    x: list[float] | None = None  # scatter x values
    errors: list[float] | None = None  # errorbar half-widths
    dist: tuple[float, float, int] | None = None  # hist/box sample (mean, sd, n)
    size: float = 40.0  # scatter marker area


@dataclass
class Panel:
    """One set of axes."""

    kind: str
    categories: list[str] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    yscale: str = "linear"
    ylim: tuple[float, float] | None = None
    grid: bool = False
    grid_style: str = "--"  # matplotlib linestyle of the grid when ``grid``
    legend_loc: str | None = None
    decimals: int = 1
    twin: Series | None = None
    twin_label: str = ""
    rows: list[str] = field(default_factory=list)  # heatmap row labels
    matrix: list[list[float]] = field(default_factory=list)
    cmap: str = "viridis"
    annotate: bool = False
    colorbar_label: str = ""
    slice_colors: list[str] = field(default_factory=list)  # pie
    bins: int = 20
    seed: int = 0  # numpy seed of hist/box samples
    rotate_ticks: bool = False


@dataclass
class ChartSpec:
    """A whole figure; the library decides which code is emitted."""

    library: str  # "matplotlib" | "plotly"
    panels: list[Panel]
    nrows: int = 1
    ncols: int = 1
    width: float = 6.4  # inches (plotly: x100 px)
    height: float = 4.8
    suptitle: str = ""
    font_size: float = 10.0
    title_size: float = 13.0
    style: str = "default"  # matplotlib style or plotly template
    margins: tuple[float, float, float, float, float, float] = (0.12, 0.95, 0.12, 0.88, 0.3, 0.45)
    code_style: int = 0  # bit 0: comments, bit 1: upper-case hex colours, bit 2: loops over series

    def copy(self) -> "ChartSpec":
        return copy.deepcopy(self)

    @property
    def kind(self) -> str:
        return self.library

    def code(self) -> str:
        from .chart_code import chart_code

        return chart_code(self)


# ---------------------------------------------------------------------------- layout geometry


def axes_rect(spec: ChartSpec, index: int) -> Region:
    """Panel ``index``'s axes rectangle as image fractions (x0, y0, x1, y1), top-left origin."""
    left, right, bottom, top, wspace, hspace = spec.margins
    w = (right - left) / (spec.ncols + wspace * (spec.ncols - 1))
    h = (top - bottom) / (spec.nrows + hspace * (spec.nrows - 1))
    row, col = divmod(index, spec.ncols)
    x0 = left + col * w * (1 + wspace)
    y_top = top - row * h * (1 + hspace)
    return (x0, 1 - y_top, x0 + w, 1 - (y_top - h))


def region(spec: ChartSpec, index: int | None, part: str) -> Region | None:
    """Where ``part`` of panel ``index`` is drawn (image fractions), or None when not known.

    Parts: ``plot`` (axes with ticks, tick labels and axis labels), ``title``, ``legend`` (inside
    the axes), ``panel`` (everything of that subplot), ``suptitle`` and ``figure``. Plotly lays out
    with automatic margins, so only ``figure`` is known there.
    """
    if part == "figure" or index is None:
        return (0.0, 0.0, 1.0, 1.0)
    if spec.library != "matplotlib":
        return None
    if part == "suptitle":
        return (0.0, 0.0, 1.0, min(1.0, 1 - spec.margins[3] + 0.02))
    x0, y0, x1, y1 = axes_rect(spec, index)
    fx = 1.0 / spec.width  # one inch as a fraction of the width
    fy = 1.0 / spec.height
    panel = spec.panels[index]
    left_pad = 1.15 * fx + (0.5 * fx if panel.kind == "barh" else 0.0)
    right_pad = 0.95 * fx if (panel.twin is not None or panel.kind == "heatmap") else 0.12 * fx
    bottom_pad = (1.0 if panel.rotate_ticks else 0.7) * fy
    if part == "plot" or part == "panel":
        top_pad = 0.62 * fy if part == "panel" else 0.12 * fy
        return clip_region((x0 - left_pad, y0 - top_pad, x1 + right_pad, y1 + bottom_pad))
    if part == "title":
        return clip_region((x0 - 0.4 * fx, y0 - 0.62 * fy, x1 + 0.4 * fx, y0 + 0.02 * fy))
    if part == "legend":
        return clip_region((x0, y0, x1, y1))
    if part == "xlabel":
        return clip_region((x0 - 0.2 * fx, y1, x1 + 0.2 * fx, y1 + bottom_pad))
    if part == "ylabel":
        return clip_region((x0 - left_pad, y0, x0, y1))
    raise ValueError(f"unknown chart part {part!r}")


def panel_name(spec: ChartSpec, index: int) -> str:
    """Human name of a subplot ("Left subplot", "Top-right subplot"), empty for a single panel."""
    if spec.nrows * spec.ncols == 1:
        return ""
    row, col = divmod(index, spec.ncols)
    if spec.nrows == 1:
        names = {2: ("Left", "Right"), 3: ("Left", "Middle", "Right")}[spec.ncols]
        return f"{names[col]} subplot"
    if spec.ncols == 1:
        return f"{('Top', 'Bottom')[row]} subplot"
    return f"{('Top', 'Bottom')[row]}-{('left', 'right')[col]} subplot"


def where(spec: ChartSpec, index: int, part: str) -> str:
    """A location string in Visual-ERM style: "Left subplot title", "Legend", "Y-axis"."""
    name = panel_name(spec, index)
    if name:
        return f"{name} {part[0].lower()}{part[1:]}" if not part.startswith("'") else f"{name}, {part}"
    return part[0].upper() + part[1:] if part else part


# ---------------------------------------------------------------------------- random generation


def _round(v: float, decimals: int) -> float:
    return float(round(v, decimals)) if decimals > 0 else float(int(round(v)))


def _series_values(rng: random.Random, n: int, topic: Topic, trend: bool) -> list[float]:
    lo, hi = topic.lo, topic.hi
    if trend:
        v = rng.uniform(lo, lo + (hi - lo) * 0.6)
        out = []
        step = (hi - lo) * rng.uniform(0.03, 0.15) * rng.choice((-1, 1))
        for _ in range(n):
            out.append(_round(min(hi, max(lo, v)), topic.decimals))
            v += step + rng.gauss(0, (hi - lo) * 0.06)
        return out
    return [_round(rng.uniform(lo, hi), topic.decimals) for _ in range(n)]


def _pick_categories(rng: random.Random, topic: Topic, lo: int, hi: int) -> list[str]:
    n = min(len(topic.categories), rng.randint(lo, hi))
    if topic.ordered:
        start = rng.randint(0, len(topic.categories) - n)
        return list(topic.categories[start : start + n])
    return rng.sample(list(topic.categories), n)


def _palette(rng: random.Random) -> list[str]:
    return list(PALETTES[rng.choice(sorted(PALETTES))])


def random_panel(rng: random.Random, kind: str, compact: bool = False) -> Panel:
    """A panel of ``kind`` with plausible data and labels."""
    pal = _palette(rng)
    seed = rng.randint(0, 9999)
    if kind == "scatter":
        t = rng.choice(SCATTER_TOPICS)
        groups = rng.sample(list(t.groups), rng.randint(1, len(t.groups)))
        series = []
        for i, g in enumerate(groups):
            n = rng.randint(10, 22)
            xs = sorted(round(rng.uniform(*t.x_range), 1) for _ in range(n))
            shift = rng.uniform(-0.15, 0.15) * t.slope * (t.x_range[1] - t.x_range[0])
            ys = [round(t.slope * x + t.intercept + shift + rng.gauss(0, t.noise), 1) for x in xs]
            series.append(
                Series(
                    g,
                    ys,
                    pal[i],
                    marker=rng.choice(("o", "s", "^", "D")),
                    x=xs,
                    size=float(rng.choice((25, 40, 60))),
                    alpha=rng.choice((0.7, 0.85, 1.0)),
                )
            )
        return Panel(
            "scatter",
            [],
            series,
            t.title,
            t.xlabel,
            t.ylabel,
            grid=rng.random() < 0.5,
            legend_loc=rng.choice(LEGEND_LOCS) if len(series) > 1 else None,
            decimals=1,
            seed=seed,
        )
    if kind in ("hist", "box"):
        t = rng.choice(DIST_TOPICS)
        k = rng.randint(1, 2) if kind == "hist" else rng.randint(3, len(t.groups))
        groups = rng.sample(list(t.groups), k) if kind == "hist" else list(t.groups[:k])
        series = [
            Series(
                g,
                [],
                pal[i],
                alpha=0.65 if kind == "hist" and k > 1 else 0.9,
                dist=(
                    round(rng.uniform(*t.mean), 1),
                    round(rng.uniform(*t.sd), 2),
                    rng.choice((150, 200, 300)),
                ),
            )
            for i, g in enumerate(groups)
        ]
        if kind == "hist":
            return Panel(
                "hist",
                [],
                series,
                t.title,
                t.value_label,
                "Count",
                grid=rng.random() < 0.5,
                legend_loc=rng.choice(LEGEND_LOCS) if k > 1 else None,
                bins=rng.choice((15, 20, 25, 30)),
                seed=seed,
            )
        return Panel(
            "box", list(groups), series, t.title, "", t.value_label, grid=rng.random() < 0.6, seed=seed
        )
    if kind == "heatmap":
        t = rng.choice(HEAT_TOPICS)
        rows, cols = list(t.rows), list(t.cols)
        if t.lo < 0:  # a symmetric correlation matrix with a unit diagonal
            n = len(rows)
            m = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
            for i in range(n):
                for j in range(i + 1, n):
                    m[i][j] = m[j][i] = round(rng.uniform(-0.8, 0.9), 2)
        else:
            m = [[_round(rng.uniform(t.lo, t.hi), t.decimals) for _ in cols] for _ in rows]
        return Panel(
            "heatmap",
            cols,
            [],
            t.title,
            "",
            "",
            rows=rows,
            matrix=m,
            rotate_ticks=max(map(len, cols)) > 4,
            cmap="coolwarm" if t.lo < 0 else rng.choice(CMAPS),
            annotate=len(cols) <= 6 and rng.random() < 0.7,
            colorbar_label=t.colorbar,
            decimals=t.decimals,
        )
    if kind in ("stacked_bar", "area"):
        topic = rng.choice([t for t in TOPICS if t.additive])
    elif kind == "pie":
        topic = rng.choice([t for t in TOPICS if t.key in PIE_TOPICS])
    else:
        topic = rng.choice(TOPICS)
    if kind == "pie":
        cats = _pick_categories(rng, topic, 3, 6)
        vals = [_round(rng.uniform(5, 40), 0) for _ in cats]
        return Panel(
            "pie",
            cats,
            [Series(rng.choice(topic.series), vals)],
            rng.choice(topic.titles),
            slice_colors=pal[: len(cats)],
            decimals=0,
        )
    multi = kind in ("grouped_bar", "stacked_bar", "area") or (
        kind in ("line", "errorbar") and rng.random() < 0.75
    )
    n_series = rng.randint(2, 3 if compact else min(4, len(topic.series))) if multi else 1
    if kind in ("line", "area"):
        cats = _pick_categories(rng, topic, 5, 9 if compact else 12)
    else:
        cats = _pick_categories(rng, topic, 3, 5 if compact else 7)
    names = rng.sample(list(topic.series), n_series)
    trend = topic.ordered or kind in ("line", "area")
    ls_pool = list(LINESTYLES) if kind in ("line", "errorbar") else ["-"]
    series = []
    for i, name in enumerate(names):
        s = Series(
            name,
            _series_values(rng, len(cats), topic, trend),
            pal[i % len(pal)],
            linestyle=rng.choice(ls_pool) if rng.random() < 0.35 else "-",
            marker=rng.choice(MARKERS) if kind in ("line",) and rng.random() < 0.6 else "",
            linewidth=rng.choice((1.5, 2.0, 2.5)),
            alpha=0.85 if kind == "area" else 1.0,
        )
        if kind == "errorbar":
            s.marker = rng.choice(("o", "s", "^"))
            s.errors = [
                _round(abs(v) * rng.uniform(0.04, 0.15) + (topic.hi - topic.lo) * 0.01, topic.decimals)
                for v in s.values
            ]
        series.append(s)
    rotate = any(len(c) > 5 for c in cats) and kind != "barh" and len(cats) > 4
    panel = Panel(
        kind,
        cats,
        series,
        rng.choice(topic.titles),
        topic.xlabel,
        topic.ylabel,
        grid=rng.random() < 0.5,
        legend_loc=rng.choice(LEGEND_LOCS) if n_series > 1 or rng.random() < 0.3 else None,
        decimals=topic.decimals,
        rotate_ticks=rotate,
    )
    if kind == "barh":
        panel.xlabel, panel.ylabel = topic.ylabel, ""
    if topic.key == "latency" and kind in ("line", "bar", "grouped_bar", "errorbar") and rng.random() < 0.4:
        panel.yscale = "log"
    if kind in ("bar", "line") and n_series == 1 and not compact and rng.random() < 0.3:
        twin_topic = rng.choice([t for t in TOPICS if t.key != topic.key])
        panel.twin = Series(
            twin_topic.ylabel.split(" (")[0],
            _series_values(rng, len(cats), twin_topic, True),
            pal[(n_series + 1) % len(pal)],
            marker="o",
            linewidth=2.0,
        )
        panel.twin_label = twin_topic.ylabel
        panel.legend_loc = None
    return panel


def random_chart(rng: random.Random, library: str = "matplotlib") -> ChartSpec:
    """A random single-panel or multi-panel chart; ``library`` is "matplotlib" or "plotly"."""
    grid = rng.random() < (0.25 if library == "matplotlib" else 0.15)
    if grid:
        nrows, ncols = rng.choice(GRIDS)
        pool = [k for k in CHART_KINDS if k != "heatmap"] if library == "plotly" else list(CHART_KINDS)
        if library == "plotly":
            pool = [k for k in pool if k not in ("pie", "stacked_bar")]
        panels = [random_panel(rng, rng.choice(pool), compact=True) for _ in range(nrows * ncols)]
        size = {(1, 2): (10.0, 4.2), (2, 1): (6.4, 7.0), (2, 2): (9.0, 7.0), (1, 3): (12.0, 4.0)}[
            (nrows, ncols)
        ]
    else:
        nrows = ncols = 1
        panels = [random_panel(rng, rng.choice(CHART_KINDS))]
        size = rng.choice(((6.4, 4.8), (7.0, 4.5), (6.0, 4.0), (8.0, 5.0)))
    suptitle = ""
    if grid and rng.random() < 0.6:
        suptitle = rng.choice(("Overview", "Summary dashboard", "Key metrics", "Annual report figures"))
    has_twin_or_cbar = any(p.twin is not None or p.kind == "heatmap" for p in panels)
    left = 0.1 + (0.08 if any(p.kind == "barh" for p in panels) else 0.0) + (0.02 if ncols == 1 else 0.0)
    right = 0.86 if has_twin_or_cbar and ncols == 1 else (0.9 if has_twin_or_cbar else 0.95)
    bottom = 0.14 + (0.08 if any(p.rotate_ticks for p in panels) else 0.0)
    top = 0.84 if suptitle else 0.88
    wspace = 0.45 if any(p.twin is not None or p.kind in ("heatmap", "barh") for p in panels) else 0.3
    hspace = 0.6 if any(p.rotate_ticks for p in panels) else 0.5
    if nrows > 1:
        bottom = max(0.08, bottom - 0.04)
    style = rng.choice(MPL_STYLES) if library == "matplotlib" else rng.choice(PLOTLY_TEMPLATES)
    return ChartSpec(
        library,
        panels,
        nrows,
        ncols,
        size[0],
        size[1],
        suptitle,
        font_size=rng.choice((9.0, 10.0, 11.0)),
        title_size=rng.choice((12.0, 13.0, 14.0)),
        style=style,
        margins=(round(left, 3), right, round(bottom, 3), top, wspace, hspace),
        code_style=rng.randint(0, 7),
    )
