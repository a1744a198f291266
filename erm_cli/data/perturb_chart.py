"""Chart perturbations on a :class:`~erm_cli.data.charts.ChartSpec`, each with its gold label.

Categories follow Visual-ERM's chart taxonomy (VISUAL-ERM.md §2.2): structure = chart type and
subplot layout; data = values, series, categories, axis scale and limits; text = titles, labels,
ticks, legend, font size; style = colours, line styles, markers, grid. Severity grows with the size
of the change (1 barely affects reading, 2 needs correction, 3 misleads or breaks the chart).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from .charts import (
    CATEGORICAL_KINDS,
    CMAPS,
    LEGEND_KINDS,
    LEGEND_LOCS,
    LINESTYLES,
    MARKERS,
    PALETTES,
    TOPICS,
    ChartSpec,
    Panel,
    Series,
    panel_name,
    region,
    where,
)
from .colors import colour_severity, pick_different
from .perturbation import (
    Edit,
    PerturbationInfo,
    bump,
    make_typo,
    quote,
    registry,
    severity_from_ratio,
    union_region,
)

KIND_WORD = {
    "bar": "bar",
    "grouped_bar": "bar",
    "stacked_bar": "bar segment",
    "barh": "bar",
    "line": "line point",
    "area": "area",
    "errorbar": "point",
    "scatter": "points",
    "pie": "slice",
    "heatmap": "cell",
    "hist": "histogram",
    "box": "box",
}
KIND_NAME = {
    "bar": "bar chart",
    "grouped_bar": "grouped bar chart",
    "stacked_bar": "stacked bar chart",
    "barh": "horizontal bar chart",
    "line": "line chart",
    "area": "stacked area chart",
    "errorbar": "error-bar plot",
    "scatter": "scatter plot",
    "pie": "pie chart",
    "heatmap": "heatmap",
    "hist": "histogram",
    "box": "box plot",
}
UNIT_SWAPS = {
    "(USD millions)": "(EUR millions)",
    "(°C)": "(°F)",
    "(thousands)": "(millions)",
    "(%)": "(‰)",
    "(ms)": "(s)",
    "(mm)": "(cm)",
    "(millions)": "(billions)",
    "(k$)": "($)",
    "(days)": "(hours)",
    "(V)": "(mV)",
    "(kg)": "(lb)",
    "(cm)": "(in)",
}
EXTRA_SERIES_NAMES = ("Other", "Forecast", "Target", "Average", "Previous year", "Estimate")


# ------------------------------------------------------------------------------- helpers


def _panels(spec: ChartSpec, pred) -> list[int]:  # type: ignore[no-untyped-def]
    return [i for i, p in enumerate(spec.panels) if pred(p)]


def _pick(spec: ChartSpec, rng: random.Random, pred) -> int | None:  # type: ignore[no-untyped-def]
    idx = _panels(spec, pred)
    return rng.choice(idx) if idx else None


def _pick_series(spec: ChartSpec, rng: random.Random, pred) -> tuple[int, Series] | None:  # type: ignore[no-untyped-def]
    """A random panel matching ``pred`` and a random series of it."""
    i = _pick(spec, rng, pred)
    return None if i is None else (i, rng.choice(spec.panels[i].series))


def _switch(obj: Any, attr: str, options: Sequence[Any], rng: random.Random) -> Any:
    """Set ``obj.attr`` to a random one of the other ``options``; return the value it had."""
    old = getattr(obj, attr)
    setattr(obj, attr, rng.choice([o for o in options if o != old]))
    return old


def _legend_visible(p: Panel) -> bool:
    return bool(p.legend_loc) and p.kind in LEGEND_KINDS and bool(p.series)


def _rnd(v: float, decimals: int) -> float:
    return float(round(v, decimals)) if decimals > 0 else float(int(round(v)))


def _fmt(v: float, decimals: int) -> str:
    return f"{v:.{decimals}f}" if decimals > 0 else str(int(round(v)))


def _value_scale(p: Panel) -> float:
    vals = [abs(v) for s in p.series for v in s.values] or [1.0]
    if p.kind == "stacked_bar" or p.kind == "area":
        totals = [sum(abs(s.values[i]) for s in p.series) for i in range(len(p.categories))]
        vals = totals or vals
    return max(vals) or 1.0


def _where_series(spec: ChartSpec, i: int, ser: Series, suffix: str = "") -> str:
    p = spec.panels[i]
    word = {"line": "line", "errorbar": "series", "area": "area", "scatter": "points"}.get(p.kind, "bars")
    return where(spec, i, f"{quote(ser.name)} {word}{suffix}")


def _panel_edit(
    spec: ChartSpec,
    i: int,
    name: str,
    category: str,
    severity: int,
    part: str,
    description: str,
    target: str,
    area: str = "plot",
    **evidence: Any,
) -> Edit:
    """An edit of panel ``i``: located by ``part`` (see :func:`where`), drawn in the panel's ``area``."""
    location = where(spec, i, part)
    return Edit(name, category, severity, location, description, target, region(spec, i, area), evidence)


def _series_edit(
    spec: ChartSpec,
    i: int,
    ser: Series,
    name: str,
    category: str,
    severity: int,
    description: str,
    attr: str = "",
    suffix: str = "",
    **evidence: Any,
) -> Edit:
    """An edit of series ``ser`` of panel ``i`` (of its ``attr``, or of the whole series), in the plot area."""
    location = _where_series(spec, i, ser, suffix)
    target = f"p{i}.s[{ser.name}]" + (f".{attr}" if attr else "")
    return Edit(name, category, severity, location, description, target, region(spec, i, "plot"), evidence)


def _slice_edit(
    spec: ChartSpec,
    i: int,
    j: int,
    name: str,
    category: str,
    severity: int,
    desc: str,
    attr: str,
    old: Any,
    new: Any,
) -> Edit:
    """An edit of slice ``j`` of pie panel ``i`` (its ``attr``: value or colour), from ``old`` to ``new``."""
    cat = spec.panels[i].categories[j]
    part, target = f"slice {quote(cat)}", f"p{i}.c[{cat}].{attr}"
    return _panel_edit(spec, i, name, category, severity, part, desc, target, "panel", old=old, new=new)


def _style_edit(spec: ChartSpec, i: int, ser: Series, name: str, attr: str, description: str) -> Edit:
    """A minor (severity 1) style edit of one attribute of a series."""
    return _series_edit(spec, i, ser, name, "style_error", 1, description, attr)


# ------------------------------------------------------------------------------- data

#: Relative size of a value change (of the axis span) for each aimed-at severity.
_CHANGE_BY_SEVERITY = {1: (0.06, 0.1), 2: (0.16, 0.3), 3: (0.45, 0.9)}


def data_values(spec: ChartSpec, rng: random.Random) -> Edit | None:
    """Change one or a few data values; severity by the change relative to the axis span."""
    i = _pick(
        spec,
        rng,
        lambda p: p.kind in CATEGORICAL_KINDS + ("pie", "heatmap", "scatter") and (p.series or p.matrix),
    )
    if i is None:
        return None
    p = spec.panels[i]
    target_sev = rng.choice((1, 2, 3))
    if p.kind == "heatmap":
        return _heatmap_cell_value(spec, i, rng, target_sev)
    ser = rng.choice(p.series)
    if p.kind == "scatter":
        return _scatter_points(spec, i, ser, rng, target_sev)
    if p.kind == "pie":
        return _pie_slice_value(spec, i, ser, rng, target_sev)
    return _category_values(spec, i, ser, rng, target_sev)


def _heatmap_cell_value(spec: ChartSpec, i: int, rng: random.Random, target_sev: int) -> Edit | None:
    p = spec.panels[i]
    lo, hi = _CHANGE_BY_SEVERITY[target_sev]
    r, c = rng.randrange(len(p.rows)), rng.randrange(len(p.categories))
    vals = [v for row in p.matrix for v in row]
    span = (max(vals) - min(vals)) or 1.0
    old = p.matrix[r][c]
    delta = rng.uniform(lo, hi) * span * rng.choice((-1, 1))
    new = _rnd(min(max(vals), max(min(vals), old + delta)), p.decimals)
    if new == old:
        new = _rnd(old - delta, p.decimals)
    if new == old:
        return None
    p.matrix[r][c] = new
    sev = severity_from_ratio((new - old) / span, 0.12, 0.35)
    cell = f"({p.rows[r]}, {p.categories[c]})"
    values = f"{_fmt(new, p.decimals)} instead of {_fmt(old, p.decimals)}"
    desc = f"The cell {cell} has value {values} (its colour is wrong)."
    target = f"p{i}.c[{p.rows[r]}/{p.categories[c]}].value"
    return _panel_edit(
        spec, i, "chart.data_values", "data_error", sev, f"cell {cell}", desc, target, old=old, new=new
    )


def _scatter_points(spec: ChartSpec, i: int, ser: Series, rng: random.Random, target_sev: int) -> Edit:
    k = {1: 1, 2: rng.randint(2, 3), 3: rng.randint(4, 6)}[target_sev]
    k = min(k, len(ser.values))
    ys = ser.values
    span = (max(ys) - min(ys)) or 1.0
    idx = sorted(rng.sample(range(len(ys)), k))
    for j in idx:
        ys[j] = _rnd(ys[j] + rng.choice((-1, 1)) * rng.uniform(0.2, 0.45) * span, 1)
    sev = 1 if k == 1 else (2 if k <= 3 else 3)
    desc = (
        f"{k} point{'s' if k > 1 else ''} of {quote(ser.name)} {'are' if k > 1 else 'is'} displaced "
        "vertically (wrong y values)."
    )
    return _series_edit(spec, i, ser, "chart.data_values", "data_error", sev, desc, "values", points=idx)


def _pie_slice_value(
    spec: ChartSpec, i: int, ser: Series, rng: random.Random, target_sev: int
) -> Edit | None:
    p = spec.panels[i]
    j = rng.randrange(len(p.categories))
    old = ser.values[j]
    total = sum(ser.values)
    factor = {1: rng.uniform(1.25, 1.4), 2: rng.uniform(1.8, 2.4), 3: rng.uniform(3.0, 4.0)}[target_sev]
    if rng.random() < 0.5 and old > 4:
        factor = 1 / factor
    new = max(1.0, _rnd(old * factor, p.decimals))
    if new == old:
        return None
    ser.values[j] = new
    share_old, share_new = old / total, new / (total - old + new)
    sev = severity_from_ratio(share_new - share_old, 0.06, 0.15)
    desc = f"The {quote(p.categories[j])} slice is {share_new:.0%} of the pie instead of {share_old:.0%}."
    return _slice_edit(spec, i, j, "chart.data_values", "data_error", sev, desc, "value", old, new)


def _category_values(
    spec: ChartSpec, i: int, ser: Series, rng: random.Random, target_sev: int
) -> Edit | None:
    p = spec.panels[i]
    lo, hi = _CHANGE_BY_SEVERITY[target_sev]
    n = len(p.categories)
    k = 1 if rng.random() < 0.65 else min(n, rng.randint(2, 3))
    idx = sorted(rng.sample(range(n), k))
    scale = _value_scale(p)
    changes = []
    for j in idx:
        old = ser.values[j]
        delta = rng.uniform(lo, hi) * scale * rng.choice((-1, 1))
        new = _rnd(old + delta, p.decimals)
        if (p.yscale == "log" or min(ser.values) >= 0) and new <= 0:
            new = _rnd(old - delta, p.decimals)
        if p.yscale == "log" and new <= 0:
            return None
        if new == old:
            continue
        ser.values[j] = new
        changes.append((p.categories[j], old, new))
    if not changes:
        return None
    worst = max(abs(new - old) for _, old, new in changes) / scale
    sev = severity_from_ratio(worst, 0.12, 0.35)
    if p.yscale == "log":
        worst_log = max(abs(math.log10(abs(new) / abs(old))) for _, old, new in changes if old and new)
        sev = severity_from_ratio(worst_log, 0.05, 0.2)
    if len(changes) >= 3:
        sev = bump(sev)
    cats = ", ".join(quote(c) for c, _, _ in changes)
    detail = "; ".join(
        f"{quote(c)}: {_fmt(n_, p.decimals)} instead of {_fmt(o, p.decimals)}" for c, o, n_ in changes
    )
    attrs = "|".join(["values"] + [f"p{i}.c[{c}].value" for c, _, _ in changes])
    desc = f"Wrong value{'s' if len(changes) > 1 else ''} for {quote(ser.name)} ({detail})."
    changed = [[c, o, n_] for c, o, n_ in changes]
    return _series_edit(
        spec, i, ser, "chart.data_values", "data_error", sev, desc, attrs, f" at {cats}", changes=changed
    )


def distribution_shift(spec: ChartSpec, rng: random.Random) -> Edit | None:
    """Shift or widen the sample behind a histogram or box."""
    picked = _pick_series(spec, rng, lambda p: p.kind in ("hist", "box") and p.series)
    if picked is None:
        return None
    i, ser = picked
    m, sd, n = ser.dist or (0.0, 1.0, 100)
    if rng.random() < 0.6:
        shift = rng.choice((0.4, 0.8, 1.5, 2.5)) * sd * rng.choice((-1, 1))
        ser.dist = (round(m + shift, 1), sd, n)
        sev = severity_from_ratio(shift / sd, 0.5, 1.2)
        desc = (
            f"The distribution of {quote(ser.name)} is shifted (centre near {m + shift:g} instead of {m:g})."
        )
    else:
        factor = rng.choice((0.5, 1.6, 2.2))
        ser.dist = (m, round(sd * factor, 2), n)
        sev = 2 if factor < 2 else 3
        desc = f"The spread of {quote(ser.name)} is {'narrower' if factor < 1 else 'wider'} than in the reference."
    location, target = _where_series(spec, i, ser).replace(" bars", ""), f"p{i}.s[{ser.name}].values"
    return Edit("chart.distribution", "data_error", sev, location, desc, target, region(spec, i, "plot"))


def remove_series(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: len(p.series) >= 2 and p.kind not in ("pie",))
    if i is None:
        return None
    p = spec.panels[i]
    j = rng.randrange(len(p.series))
    ser = p.series.pop(j)
    if p.kind == "box":
        cat = p.categories.pop(j)
        sev = 3 if len(p.series) <= 2 else 2
        desc, target = f"The box for {quote(cat)} is missing.", f"p{i}.s[{ser.name}]|p{i}.c[{cat}]"
        return _panel_edit(
            spec, i, "chart.remove_series", "data_error", sev, f"box {quote(cat)}", desc, target
        )
    sev = 3 if len(p.series) <= 1 else 2
    desc = f"The {quote(ser.name)} series is missing."
    return _series_edit(spec, i, ser, "chart.remove_series", "data_error", sev, desc)


def add_series(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(
        spec,
        rng,
        lambda p: (
            p.kind in ("grouped_bar", "stacked_bar", "line", "area", "errorbar")
            and p.series
            and len(p.series) < 5
        ),
    )
    if i is None:
        return None
    p = spec.panels[i]
    names = {s.name for s in p.series}
    name = rng.choice([n for n in EXTRA_SERIES_NAMES if n not in names])
    base = p.series[rng.randrange(len(p.series))]
    scale = _value_scale(p) / (len(p.series) if p.kind in ("stacked_bar", "area") else 1)
    values = [_rnd(abs(v) * rng.uniform(0.5, 1.3) + scale * 0.05, p.decimals) for v in base.values]
    used = {s.color for s in p.series}
    color = pick_different(
        base.color, rng, pool=[c for pal in PALETTES.values() for c in pal if c not in used]
    )
    new = Series(
        name,
        values,
        color,
        linestyle=base.linestyle,
        marker=base.marker,
        linewidth=base.linewidth,
        alpha=base.alpha,
        errors=list(base.errors) if base.errors else None,
    )
    p.series.append(new)
    desc = f"An extra series {quote(name)} that is not in the reference is plotted."
    location = _where_series(spec, i, new)
    return Edit("chart.add_series", "data_error", 2, location, desc, f"p{i}.added", region(spec, i, "plot"))


def remove_category(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(
        spec, rng, lambda p: p.kind in CATEGORICAL_KINDS + ("pie",) and len(p.categories) >= 3 and p.series
    )
    if i is None:
        return None
    p = spec.panels[i]
    j = rng.randrange(len(p.categories))
    cat = p.categories.pop(j)
    for ser in p.series:
        ser.values.pop(j)
        if ser.errors:
            ser.errors.pop(j)
    if p.twin is not None:
        p.twin.values.pop(j)
    if p.slice_colors:
        p.slice_colors.pop(j)
    sev = 3 if len(p.categories) < 3 else 2
    what = "slice" if p.kind == "pie" else "category"
    desc, target = f"The {what} {quote(cat)} is missing.", f"p{i}.c[{cat}]|p{i}.order"
    return _panel_edit(
        spec, i, "chart.remove_category", "data_error", sev, f"{what} {quote(cat)}", desc, target, _area(p)
    )


def _area(p: Panel) -> str:
    """The region part that shows a panel's categories: the whole panel for a pie, else the plot."""
    return "panel" if p.kind == "pie" else "plot"


def _value_axis(p: Panel) -> str:
    return "X-axis" if p.kind == "barh" else "Y-axis"


def axis_scale(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(
        spec,
        rng,
        lambda p: (
            p.kind in ("bar", "grouped_bar", "line", "errorbar", "barh", "scatter")
            and p.series
            and min(v for s in p.series for v in s.values) > 0
            and p.ylim is None
        ),
    )
    if i is None:
        return None
    p = spec.panels[i]
    old = p.yscale
    p.yscale = "linear" if old == "log" else "log"
    axis = _value_axis(p)
    desc = (
        f"The {axis.lower()} uses a {'logarithmic' if p.yscale == 'log' else 'linear'} scale instead of "
        f"{'a logarithmic' if old == 'log' else 'a linear'} one."
    )
    return _panel_edit(spec, i, "chart.axis_scale", "data_error", 2, axis, desc, f"p{i}.yaxis")


def axis_limits(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(
        spec,
        rng,
        lambda p: (
            p.kind in ("bar", "grouped_bar", "stacked_bar", "line", "errorbar", "area", "barh", "scatter")
            and p.series
            and p.ylim is None
            and p.yscale == "linear"
        ),
    )
    if i is None:
        return None
    p = spec.panels[i]
    vals = [v for s in p.series for v in s.values]
    if p.kind in ("stacked_bar", "area"):
        vals = [sum(s.values[k] for s in p.series) for k in range(len(p.categories))] + vals
    top, low = max(vals), min(min(vals), 0.0)
    span = (top - low) or 1.0
    mode = rng.choice(("cut", "extend", "raise"))
    if mode == "cut":
        hi = round(low + span * rng.choice((0.6, 0.75)), 6)
        p.ylim = (_nice(low), _nice(hi))
        sev, desc = (
            3,
            f"The axis upper limit is cut at about {_nice(hi):g}, so the largest values are clipped.",
        )
    elif mode == "extend":
        hi = top + span * rng.choice((0.6, 1.2))
        p.ylim = (_nice(low), _nice(hi))
        sev, desc = 1, f"The axis extends to {_nice(hi):g}, leaving much empty space above the data."
    else:
        if low < 0 or p.kind in ("stacked_bar", "area"):
            return None
        lo = min(vals) * rng.choice((0.5, 0.8))
        if lo <= 0:
            return None
        p.ylim = (_nice(lo), _nice(top + span * 0.08))
        sev = 2
        desc = f"The axis starts at {_nice(lo):g} instead of 0, exaggerating differences."
    part = f"{_value_axis(p)} range"
    return _panel_edit(spec, i, "chart.axis_limits", "data_error", sev, part, desc, f"p{i}.yaxis")


def _nice(v: float) -> float:
    if v == 0:
        return 0.0
    mag = 10 ** math.floor(math.log10(abs(v)))
    step = mag / 2
    return float(round(round(v / step) * step, 6))


def sort_categories(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(
        spec,
        rng,
        lambda p: p.kind in ("bar", "barh", "grouped_bar", "stacked_bar", "pie") and len(p.categories) >= 3,
    )
    if i is None:
        return None
    p = spec.panels[i]
    order = list(range(len(p.categories)))
    new = order[:]
    for _ in range(5):
        rng.shuffle(new)
        if new != order:
            break
    if new == order:
        return None
    p.categories = [p.categories[k] for k in new]
    for ser in p.series:
        ser.values = [ser.values[k] for k in new]
        if ser.errors:
            ser.errors = [ser.errors[k] for k in new]
    if p.twin is not None:
        p.twin.values = [p.twin.values[k] for k in new]
    if p.slice_colors:
        p.slice_colors = [p.slice_colors[k] for k in new]
    desc = (
        "The categories appear in a different order than in the reference: " + ", ".join(p.categories) + "."
    )
    return _panel_edit(
        spec, i, "chart.category_order", "data_error", 2, "category order", desc, f"p{i}.order", _area(p)
    )


# ------------------------------------------------------------------------------- structure

TYPE_SWAPS = {
    "bar": ("line", "barh"),
    "grouped_bar": ("stacked_bar", "line"),
    "stacked_bar": ("grouped_bar", "area"),
    "line": ("bar", "grouped_bar", "area"),
    "area": ("line", "stacked_bar"),
    "errorbar": ("line", "bar"),
    "barh": ("bar",),
    "scatter": ("line",),
    "pie": ("bar",),
    "hist": ("box",),
    "box": ("hist",),
}


def chart_type(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: p.kind in TYPE_SWAPS and p.series)
    if i is None:
        return None
    p = spec.panels[i]
    options = [
        k
        for k in TYPE_SWAPS[p.kind]
        if not (k == "bar" and len(p.series) > 1)
        and not (k in ("grouped_bar", "stacked_bar") and len(p.series) < 2)
        and not (k in ("barh", "stacked_bar", "area") and p.twin is not None)
    ]
    if not options:
        return None
    old, new = p.kind, rng.choice(options)
    before = region(spec, i, "panel")
    p.kind = new
    _adapt_panel_to_kind(p, old, new)
    desc = f"The {KIND_NAME[old]} is drawn as a {KIND_NAME[new]}."
    location, after = where(spec, i, "chart type"), region(spec, i, "panel")
    evidence = {"old": old, "new": new}
    return Edit(
        "chart.chart_type",
        "structure_error",
        3,
        location,
        desc,
        f"p{i}",
        union_region(before, after),
        evidence,
    )


def _adapt_panel_to_kind(p: Panel, old: str, new: str) -> None:
    """Labels, series and styles that make sense for a panel redrawn from kind ``old`` as ``new``."""
    if new in ("line", "bar") and old == "errorbar":
        for ser in p.series:
            ser.errors = None
    if old == "pie":
        p.xlabel, p.ylabel = "", "Share"
        p.series[0].color = p.slice_colors[0] if p.slice_colors else p.series[0].color
    if old == "barh":
        p.xlabel, p.ylabel = "", p.xlabel
    if new == "barh":
        p.xlabel, p.ylabel = p.ylabel, ""
    if old == "hist":
        p.categories = [s.name for s in p.series]
        p.xlabel, p.ylabel = "", p.xlabel
        for s in p.series:
            s.alpha = 0.9
    if old == "box":
        p.series = p.series[:2]
        p.categories = []
        p.xlabel, p.ylabel = p.ylabel, "Count"
        for s in p.series:
            s.alpha = 0.65
    if old == "scatter":  # a line through the points, sorted by x
        for s in p.series:
            pts = sorted(zip(s.x or [], s.values))
            s.x, s.values = [a for a, _ in pts], [b for _, b in pts]
            s.linewidth = 1.5
    elif new == "line":
        for s in p.series:
            s.marker = s.marker or "o"


def _figure_edit(
    spec: ChartSpec, name: str, category: str, severity: int, location: str, desc: str, target: str = "*"
) -> Edit:
    """An edit of the whole figure; target ``*`` (the layout: conflicts with every other edit) by default."""
    return Edit(name, category, severity, location, desc, target, region(spec, None, "figure"))


def subplot_layout(spec: ChartSpec, rng: random.Random) -> Edit | None:
    if spec.nrows * spec.ncols < 2:
        return None
    if (spec.nrows, spec.ncols) in ((1, 2), (2, 1)) and rng.random() < 0.5:
        old = (spec.nrows, spec.ncols)
        spec.nrows, spec.ncols = spec.ncols, spec.nrows
        spec.width, spec.height = (10.0, 4.2) if spec.ncols == 2 else (6.4, 7.0)
        desc = f"The subplots are arranged {spec.nrows}x{spec.ncols} instead of {old[0]}x{old[1]}."
        return _figure_edit(spec, "chart.subplot_layout", "structure_error", 2, "Subplot layout", desc)
    a, b = rng.sample(range(len(spec.panels)), 2)
    spec.panels[a], spec.panels[b] = spec.panels[b], spec.panels[a]
    desc = f"The {panel_name(spec, a).lower()} and the {panel_name(spec, b).lower()} are swapped."
    return _figure_edit(spec, "chart.subplot_order", "structure_error", 2, "Subplot arrangement", desc)


def remove_subplot(spec: ChartSpec, rng: random.Random) -> Edit | None:
    if (spec.nrows, spec.ncols) not in ((1, 2), (2, 1), (1, 3)):
        return None
    j = rng.randrange(len(spec.panels))
    name = panel_name(spec, j)
    gone = spec.panels.pop(j)
    if spec.nrows == 1:
        spec.ncols -= 1
    else:
        spec.nrows -= 1
    desc = (
        f"The {name.lower()} ({quote(gone.title or KIND_NAME.get(gone.kind, gone.kind))}) is missing; "
        f"the figure has {len(spec.panels)} panel(s)."
    )
    return _figure_edit(spec, "chart.remove_subplot", "structure_error", 3, name, desc)


def remove_twin_axis(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: p.twin is not None)
    if i is None:
        return None
    p = spec.panels[i]
    name = p.twin.name if p.twin else ""
    before = region(spec, i, "panel")
    p.twin = None
    p.twin_label = ""
    desc = f"The secondary y-axis with the {quote(name)} line is missing."
    location = where(spec, i, "secondary y-axis")
    return Edit("chart.remove_twin_axis", "structure_error", 2, location, desc, f"p{i}.twin", before)


# ------------------------------------------------------------------------------- text


def _alt_titles(exclude: str) -> list[str]:
    return sorted({t for topic in TOPICS for t in topic.titles if t != exclude})


def title_text(spec: ChartSpec, rng: random.Random) -> Edit | None:
    choices = [(i, "title") for i, p in enumerate(spec.panels) if p.title]
    if spec.suptitle:
        choices.append((-1, "suptitle"))
    if not choices:
        return None
    i, part = rng.choice(choices)
    old = spec.suptitle if i < 0 else spec.panels[i].title
    mode = rng.choice(("typo", "typo", "replace", "remove"))
    if mode == "typo":
        new = make_typo(old, rng)
        if new is None:
            return None
        sev, desc = 1, f"Typo in the title: {quote(new)} instead of {quote(old)}."
    elif mode == "replace":
        new = rng.choice(_alt_titles(old))
        sev, desc = 2, f"The title reads {quote(new)} instead of {quote(old)}."
    else:
        new = ""
        sev, desc = 2, f"The title {quote(old)} is missing."
    if i < 0:
        spec.suptitle = new
        suptitle = region(spec, None, "suptitle" if spec.library == "matplotlib" else "figure")
        return Edit(f"chart.title_{mode}", "text_error", sev, "Figure title", desc, "fig.suptitle", suptitle)
    spec.panels[i].title = new
    return _panel_edit(
        spec, i, f"chart.title_{mode}", "text_error", sev, "title", desc, f"p{i}.title", "title"
    )


def axis_label(spec: ChartSpec, rng: random.Random) -> Edit | None:
    choices = [
        (i, a)
        for i, p in enumerate(spec.panels)
        for a in ("xlabel", "ylabel")
        if getattr(p, a) and p.kind != "pie"
    ]
    if not choices:
        return None
    i, attr = rng.choice(choices)
    p = spec.panels[i]
    old = getattr(p, attr)
    axis = "X-axis label" if attr == "xlabel" else "Y-axis label"
    unit = next((u for u in UNIT_SWAPS if u in old), None)
    mode = rng.choice(("typo", "typo", "unit" if unit else "replace", "replace", "remove"))
    if mode == "typo":
        new = make_typo(old, rng)
        if new is None:
            return None
        sev, desc = 1, f"Typo in the {axis.lower()}: {quote(new)} instead of {quote(old)}."
    elif mode == "unit" and unit:
        new = old.replace(unit, UNIT_SWAPS[unit])
        sev, desc = 2, f"The {axis.lower()} gives the unit {UNIT_SWAPS[unit]} instead of {unit}."
    elif mode == "replace":
        pool = sorted({t.xlabel for t in TOPICS} | {t.ylabel for t in TOPICS} - {old})
        new = rng.choice(pool)
        sev, desc = 2, f"The {axis.lower()} reads {quote(new)} instead of {quote(old)}."
    else:
        new = ""
        sev, desc = 2, f"The {axis.lower()} {quote(old)} is missing."
    setattr(p, attr, new)
    return _panel_edit(
        spec, i, f"chart.axis_label_{mode}", "text_error", sev, axis, desc, f"p{i}.{attr}", attr
    )


def tick_label(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(
        spec,
        rng,
        lambda p: (p.kind in CATEGORICAL_KINDS + ("pie", "box", "heatmap")) and len(p.categories) >= 2,
    )
    if i is None:
        return None
    p = spec.panels[i]
    j = rng.randrange(len(p.categories))
    old = p.categories[j]
    if rng.random() < 0.55 and sum(ch.isalpha() for ch in old) >= 3:
        new = make_typo(old, rng)
        sev, kind = 1, "typo"
    else:
        pool = sorted({c for t in TOPICS for c in t.categories} - set(p.categories))
        new = rng.choice(pool)
        sev, kind = 2, "replace"
    if new is None or new in p.categories:
        return None
    p.categories[j] = new
    what = {"pie": "slice label", "heatmap": "column label", "box": "tick label"}.get(p.kind, "tick label")
    axis = "Y-axis" if p.kind == "barh" else "X-axis"
    part = f"{what} {quote(old)}" if p.kind in ("pie", "heatmap") else f"{axis} {what} {quote(old)}"
    desc, target = f"The {what} {quote(old)} reads {quote(new)}.", f"p{i}.c[{old}].label"
    return _panel_edit(spec, i, f"chart.tick_label_{kind}", "text_error", sev, part, desc, target, _area(p))


def _legend_edit(spec: ChartSpec, i: int, name: str, severity: int, desc: str, target: str) -> Edit:
    return _panel_edit(spec, i, name, "text_error", severity, "legend", desc, target, "legend")


def legend_label(spec: ChartSpec, rng: random.Random) -> Edit | None:
    picked = _pick_series(spec, rng, _legend_visible)
    if picked is None:
        return None
    i, ser = picked
    p = spec.panels[i]
    old = ser.name
    if rng.random() < 0.5:
        new = make_typo(old, rng)
        sev, kind = 1, "typo"
    else:
        taken = {s.name for s in p.series}
        pool = sorted({n for t in TOPICS for n in t.series} - taken)
        new = rng.choice(pool)
        sev, kind = 2, "replace"
    if not new or new in {s.name for s in p.series}:
        return None
    ser.name = new
    desc, target = (
        f"The legend entry {quote(old)} reads {quote(new)}.",
        f"p{i}.s[{old}].label|p{i}.legend.labels",
    )
    return _legend_edit(spec, i, f"chart.legend_label_{kind}", sev, desc, target)


def legend_position(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, _legend_visible)
    if i is None:
        return None
    p = spec.panels[i]
    if spec.library == "plotly" and i != next(k for k, q in enumerate(spec.panels) if _legend_visible(q)):
        return None
    old = p.legend_loc or "upper right"
    new = rng.choice([loc for loc in LEGEND_LOCS if loc != old])
    p.legend_loc = new
    desc = f"The legend is placed at the {new} instead of the {old}."
    return _legend_edit(spec, i, "chart.legend_position", 1, desc, f"p{i}.legend")


def remove_legend(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, _legend_visible)
    if i is None or spec.library == "plotly":
        return None
    p = spec.panels[i]
    p.legend_loc = None
    sev = 2 if len(p.series) > 1 else 1
    desc = "The legend is missing" + (", so the series cannot be told apart." if sev == 2 else ".")
    return _legend_edit(spec, i, "chart.remove_legend", sev, desc, f"p{i}.legend")


def font_size(spec: ChartSpec, rng: random.Random) -> Edit | None:
    old = spec.font_size
    delta = rng.choice((-3.0, -2.0, 2.0, 3.0, 5.0))
    new = max(5.0, old + delta)
    if new == old:
        return None
    spec.font_size = new
    sev = 2 if new <= 6.5 or abs(new - old) >= 5 else 1
    desc = (
        f"The text is {'smaller' if new < old else 'larger'} than in the reference ({new:g} pt instead of "
        f"{old:g} pt)."
    )
    return _figure_edit(spec, "chart.font_size", "text_error", sev, "All text", desc, "fig.font")


def heatmap_annotations(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: p.kind == "heatmap")
    if i is None:
        return None
    p = spec.panels[i]
    p.annotate = not p.annotate
    desc = (
        "The value annotations in the cells are missing."
        if not p.annotate
        else "The cells carry value annotations that the reference does not have."
    )
    sev = 2 if not p.annotate else 1
    return _panel_edit(
        spec, i, "chart.heatmap_annotations", "text_error", sev, "heatmap cells", desc, f"p{i}.annotate"
    )


# ------------------------------------------------------------------------------- style


def series_color(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: bool(p.series) and p.kind != "heatmap")
    if i is None:
        return None
    p = spec.panels[i]
    if p.kind == "pie":
        j = rng.randrange(len(p.slice_colors))
        old = p.slice_colors[j]
        new = pick_different(
            old, rng, pool=[c for pal in PALETTES.values() for c in pal if c not in p.slice_colors]
        )
        p.slice_colors[j] = new
        desc = f"The {quote(p.categories[j])} slice is coloured {new} instead of {old}."
        sev = colour_severity(old, new)
        return _slice_edit(spec, i, j, "chart.series_color", "style_error", sev, desc, "color", old, new)
    ser = rng.choice(p.series)
    old = ser.color
    others = {s.color for s in p.series}
    new = pick_different(old, rng, min_delta=rng.choice((8.0, 30.0)))
    if new in others:
        return None
    ser.color = new
    desc = f"{quote(ser.name)} is drawn in {new} instead of {old}."
    sev = colour_severity(old, new)
    return _series_edit(
        spec, i, ser, "chart.series_color", "style_error", sev, desc, "color", old=old, new=new
    )


def palette_swap(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: len(p.series) >= 2 and p.kind != "heatmap")
    if i is None:
        return None
    p = spec.panels[i]
    current = [s.color for s in p.series]
    name = rng.choice(sorted(PALETTES))
    new = PALETTES[name][: len(p.series)]
    if [c.lower() for c in new] == [c.lower() for c in current]:
        return None
    for s, c in zip(p.series, new):
        s.color = c
    keys = "|".join(f"p{i}.s[{s.name}].color" for s in p.series)
    desc = f"All series use a different colour palette ({', '.join(new)} instead of {', '.join(current)})."
    return _panel_edit(spec, i, "chart.palette", "style_error", 2, "colour palette", desc, keys)


def colormap(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: p.kind == "heatmap")
    if i is None:
        return None
    p = spec.panels[i]
    old = _switch(p, "cmap", CMAPS, rng)
    desc = f"The heatmap uses the {p.cmap} colour map instead of {old}."
    return _panel_edit(spec, i, "chart.colormap", "style_error", 2, "heatmap colour map", desc, f"p{i}.cmap")


def _is_line_panel(p: Panel) -> bool:
    return p.kind in ("line", "errorbar") and bool(p.series)


def line_style(spec: ChartSpec, rng: random.Random) -> Edit | None:
    picked = _pick_series(spec, rng, _is_line_panel)
    if picked is None:
        return None
    i, ser = picked
    old = _switch(ser, "linestyle", LINESTYLES, rng)
    names = {"-": "solid", "--": "dashed", "-.": "dash-dot", ":": "dotted"}
    desc = f"{quote(ser.name)} is {names[ser.linestyle]} instead of {names[old]}."
    return _style_edit(spec, i, ser, "chart.line_style", "linestyle", desc)


def marker_style(spec: ChartSpec, rng: random.Random) -> Edit | None:
    picked = _pick_series(spec, rng, lambda p: p.kind in ("line", "errorbar", "scatter") and p.series)
    if picked is None:
        return None
    i, ser = picked
    old = ser.marker
    options = [m for m in MARKERS if m != old] + ([""] if old and spec.panels[i].kind == "line" else [])
    ser.marker = rng.choice(options)
    names = {
        "o": "circle",
        "s": "square",
        "^": "triangle",
        "D": "diamond",
        "v": "down triangle",
        "x": "cross",
        "*": "star",
        "": "no",
    }
    desc = f"{quote(ser.name)} uses {names[ser.marker]} markers instead of {names[old]} markers."
    return _series_edit(spec, i, ser, "chart.marker", "style_error", 1, desc, "marker", " markers")


def line_width(spec: ChartSpec, rng: random.Random) -> Edit | None:
    picked = _pick_series(spec, rng, _is_line_panel)
    if picked is None:
        return None
    i, ser = picked
    old, ser.linewidth = ser.linewidth, rng.choice((0.75, 4.0, 5.0)) if ser.linewidth <= 2.5 else 1.0
    desc = (
        f"{quote(ser.name)} is drawn {'thicker' if ser.linewidth > old else 'thinner'} than in the reference "
        f"({ser.linewidth:g} instead of {old:g})."
    )
    return _style_edit(spec, i, ser, "chart.line_width", "linewidth", desc)


def grid_toggle(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: p.kind not in ("pie", "heatmap"))
    if i is None:
        return None
    p = spec.panels[i]
    p.grid = not p.grid
    desc = (
        "Grid lines are drawn although the reference has none." if p.grid else "The grid lines are missing."
    )
    return _panel_edit(spec, i, "chart.grid", "style_error", 1, "grid lines", desc, f"p{i}.grid")


#: Grid line styles a grid_style edit switches between, and how a description names them.
GRID_STYLES = {"--": "dashed", "-": "solid", ":": "dotted"}


def grid_style(spec: ChartSpec, rng: random.Random) -> Edit | None:
    """A matplotlib grid drawn in another line style (dashed <-> solid <-> dotted); default style only (the
    half-transparent grid of the ggplot/whitegrid styles barely differs from its background)."""
    i = _pick(spec, rng, lambda p: p.grid and p.kind not in ("pie", "heatmap")
              and spec.library == "matplotlib" and spec.style == "default")
    if i is None:
        return None
    p = spec.panels[i]
    old = _switch(p, "grid_style", tuple(GRID_STYLES), rng)
    desc = f"The grid lines are {GRID_STYLES[p.grid_style]} instead of {GRID_STYLES[old]}."
    return _panel_edit(spec, i, "chart.grid_style", "style_error", 1, "grid lines", desc, f"p{i}.grid_style")


def opacity(spec: ChartSpec, rng: random.Random) -> Edit | None:
    picked = _pick_series(
        spec,
        rng,
        lambda p: p.kind in ("bar", "grouped_bar", "stacked_bar", "barh", "scatter", "hist") and p.series,
    )
    if picked is None:
        return None
    i, ser = picked
    old, ser.alpha = ser.alpha, 0.45 if ser.alpha > 0.6 else 1.0
    desc = (
        f"{quote(ser.name)} is drawn {'more transparent' if ser.alpha < old else 'opaque'} (alpha {ser.alpha:g} "
        f"instead of {old:g})."
    )
    return _style_edit(spec, i, ser, "chart.opacity", "alpha", desc)


def hist_bins(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: p.kind == "hist")
    if i is None:
        return None
    p = spec.panels[i]
    old = _switch(p, "bins", (8, 10, 40, 50), rng)
    ratio = max(old, p.bins) / min(old, p.bins)
    desc = f"The histogram uses {p.bins} bins instead of {old}."
    return _panel_edit(
        spec, i, "chart.hist_bins", "data_error", 1 if ratio < 2 else 2, "histogram bins", desc, f"p{i}.bins"
    )


PERTURBATIONS = registry(
    [
        PerturbationInfo("chart.data_values", "data_error", data_values, 3.0),
        PerturbationInfo("chart.distribution", "data_error", distribution_shift, 1.0),
        PerturbationInfo("chart.remove_series", "data_error", remove_series, 1.0),
        PerturbationInfo("chart.add_series", "data_error", add_series, 0.7),
        PerturbationInfo("chart.remove_category", "data_error", remove_category, 1.0),
        PerturbationInfo("chart.axis_scale", "data_error", axis_scale, 0.6),
        PerturbationInfo("chart.axis_limits", "data_error", axis_limits, 0.8),
        PerturbationInfo("chart.category_order", "data_error", sort_categories, 0.5),
        PerturbationInfo("chart.hist_bins", "data_error", hist_bins, 0.5),
        PerturbationInfo("chart.chart_type", "structure_error", chart_type, 2.0),
        PerturbationInfo("chart.subplot_layout", "structure_error", subplot_layout, 1.0, exclusive=True),
        PerturbationInfo("chart.remove_subplot", "structure_error", remove_subplot, 0.7, exclusive=True),
        PerturbationInfo("chart.remove_twin_axis", "structure_error", remove_twin_axis, 1.0),
        PerturbationInfo("chart.title", "text_error", title_text, 2.0),
        PerturbationInfo("chart.axis_label", "text_error", axis_label, 2.0),
        PerturbationInfo("chart.tick_label", "text_error", tick_label, 1.5),
        PerturbationInfo("chart.legend_label", "text_error", legend_label, 1.0),
        PerturbationInfo("chart.legend_position", "text_error", legend_position, 0.8),
        PerturbationInfo("chart.remove_legend", "text_error", remove_legend, 0.6),
        PerturbationInfo("chart.font_size", "text_error", font_size, 0.6),
        PerturbationInfo("chart.heatmap_annotations", "text_error", heatmap_annotations, 0.5),
        PerturbationInfo("chart.series_color", "style_error", series_color, 2.5),
        PerturbationInfo("chart.palette", "style_error", palette_swap, 1.0),
        PerturbationInfo("chart.colormap", "style_error", colormap, 0.7),
        PerturbationInfo("chart.line_style", "style_error", line_style, 1.0),
        PerturbationInfo("chart.marker", "style_error", marker_style, 1.0),
        PerturbationInfo("chart.line_width", "style_error", line_width, 0.7),
        PerturbationInfo("chart.grid", "style_error", grid_toggle, 1.0),
        # weight 0: `erm synth` never draws it by default, so every seed still makes the data it made before
        # (examples/bench-mini, the robustness seeds); `erm train critic` turns it on (TRAIN_PERTURBATION_WEIGHTS)
        PerturbationInfo("chart.grid_style", "style_error", grid_style, 0.0),
        PerturbationInfo("chart.opacity", "style_error", opacity, 0.6),
    ]
)
