"""Chart perturbations on a :class:`~erm_cli.data.charts.ChartSpec`, each with its gold label.

Categories follow Visual-ERM's chart taxonomy (VISUAL-ERM.md §2.2): structure = chart type and
subplot layout; data = values, series, categories, axis scale and limits; text = titles, labels,
ticks, legend, font size; style = colours, line styles, markers, grid. Severity grows with the size
of the change (1 barely affects reading, 2 needs correction, 3 misleads or breaks the chart).
"""

from __future__ import annotations

import math
import random

from .charts import (
    CATEGORICAL_KINDS,
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


# ------------------------------------------------------------------------------- data


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
    lo, hi = {1: (0.06, 0.1), 2: (0.16, 0.3), 3: (0.45, 0.9)}[target_sev]
    if p.kind == "heatmap":
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
        return Edit(
            "chart.data_values",
            "data_error",
            sev,
            where(spec, i, f"cell ({p.rows[r]}, {p.categories[c]})"),
            f"The cell ({p.rows[r]}, {p.categories[c]}) has value {_fmt(new, p.decimals)} instead of "
            f"{_fmt(old, p.decimals)} (its colour is wrong).",
            f"p{i}.c[{p.rows[r]}/{p.categories[c]}].value",
            region(spec, i, "plot"),
            {"old": old, "new": new},
        )
    ser = rng.choice(p.series)
    if p.kind == "scatter":
        k = {1: 1, 2: rng.randint(2, 3), 3: rng.randint(4, 6)}[target_sev]
        k = min(k, len(ser.values))
        ys = ser.values
        span = (max(ys) - min(ys)) or 1.0
        idx = sorted(rng.sample(range(len(ys)), k))
        for j in idx:
            ys[j] = _rnd(ys[j] + rng.choice((-1, 1)) * rng.uniform(0.2, 0.45) * span, 1)
        sev = 1 if k == 1 else (2 if k <= 3 else 3)
        return Edit(
            "chart.data_values",
            "data_error",
            sev,
            _where_series(spec, i, ser),
            f"{k} point{'s' if k > 1 else ''} of {quote(ser.name)} {'are' if k > 1 else 'is'} displaced "
            "vertically (wrong y values).",
            f"p{i}.s[{ser.name}].values",
            region(spec, i, "plot"),
            {"points": idx},
        )
    if p.kind == "pie":
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
        return Edit(
            "chart.data_values",
            "data_error",
            sev,
            where(spec, i, f"slice {quote(p.categories[j])}"),
            f"The {quote(p.categories[j])} slice is {share_new:.0%} of the pie instead of {share_old:.0%}.",
            f"p{i}.c[{p.categories[j]}].value",
            region(spec, i, "panel"),
            {"old": old, "new": new},
        )
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
    keys = "|".join(f"p{i}.c[{c}].value" for c, _, _ in changes)
    return Edit(
        "chart.data_values",
        "data_error",
        sev,
        _where_series(spec, i, ser, f" at {cats}"),
        f"Wrong value{'s' if len(changes) > 1 else ''} for {quote(ser.name)} ({detail}).",
        f"p{i}.s[{ser.name}].values|{keys}",
        region(spec, i, "plot"),
        {"changes": [[c, o, n_] for c, o, n_ in changes]},
    )


def distribution_shift(spec: ChartSpec, rng: random.Random) -> Edit | None:
    """Shift or widen the sample behind a histogram or box."""
    i = _pick(spec, rng, lambda p: p.kind in ("hist", "box") and p.series)
    if i is None:
        return None
    p = spec.panels[i]
    ser = rng.choice(p.series)
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
    return Edit(
        "chart.distribution",
        "data_error",
        sev,
        _where_series(spec, i, ser).replace(" bars", ""),
        desc,
        f"p{i}.s[{ser.name}].values",
        region(spec, i, "plot"),
    )


def remove_series(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: len(p.series) >= 2 and p.kind not in ("pie",))
    if i is None:
        return None
    p = spec.panels[i]
    j = rng.randrange(len(p.series))
    ser = p.series.pop(j)
    if p.kind == "box":
        cat = p.categories.pop(j)
        return Edit(
            "chart.remove_series",
            "data_error",
            3 if len(p.series) <= 2 else 2,
            where(spec, i, f"box {quote(cat)}"),
            f"The box for {quote(cat)} is missing.",
            f"p{i}.s[{ser.name}]|p{i}.c[{cat}]",
            region(spec, i, "plot"),
        )
    sev = 3 if len(p.series) <= 1 else 2
    return Edit(
        "chart.remove_series",
        "data_error",
        sev,
        _where_series(spec, i, ser),
        f"The {quote(ser.name)} series is missing.",
        f"p{i}.s[{ser.name}]",
        region(spec, i, "plot"),
    )


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
    return Edit(
        "chart.add_series",
        "data_error",
        2,
        _where_series(spec, i, new),
        f"An extra series {quote(name)} that is not in the reference is plotted.",
        f"p{i}.added",
        region(spec, i, "plot"),
    )


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
    return Edit(
        "chart.remove_category",
        "data_error",
        sev,
        where(spec, i, f"{what} {quote(cat)}"),
        f"The {what} {quote(cat)} is missing.",
        f"p{i}.c[{cat}]|p{i}.order",
        region(spec, i, "panel" if p.kind == "pie" else "plot"),
    )


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
    axis = "X-axis" if p.kind == "barh" else "Y-axis"
    return Edit(
        "chart.axis_scale",
        "data_error",
        2,
        where(spec, i, axis),
        f"The {axis.lower()} uses a {'logarithmic' if p.yscale == 'log' else 'linear'} scale instead of "
        f"{'a logarithmic' if old == 'log' else 'a linear'} one.",
        f"p{i}.yaxis",
        region(spec, i, "plot"),
    )


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
    axis = "X-axis" if p.kind == "barh" else "Y-axis"
    return Edit(
        "chart.axis_limits",
        "data_error",
        sev,
        where(spec, i, f"{axis} range"),
        desc,
        f"p{i}.yaxis",
        region(spec, i, "plot"),
    )


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
    return Edit(
        "chart.category_order",
        "data_error",
        2,
        where(spec, i, "category order"),
        "The categories appear in a different order than in the reference: " + ", ".join(p.categories) + ".",
        f"p{i}.order",
        region(spec, i, "panel" if p.kind == "pie" else "plot"),
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
    return Edit(
        "chart.chart_type",
        "structure_error",
        3,
        where(spec, i, "chart type"),
        f"The {KIND_NAME[old]} is drawn as a {KIND_NAME[new]}.",
        f"p{i}",
        union_region(before, region(spec, i, "panel")),
        {"old": old, "new": new},
    )


def subplot_layout(spec: ChartSpec, rng: random.Random) -> Edit | None:
    if spec.nrows * spec.ncols < 2:
        return None
    if (spec.nrows, spec.ncols) in ((1, 2), (2, 1)) and rng.random() < 0.5:
        old = (spec.nrows, spec.ncols)
        spec.nrows, spec.ncols = spec.ncols, spec.nrows
        spec.width, spec.height = (10.0, 4.2) if spec.ncols == 2 else (6.4, 7.0)
        return Edit(
            "chart.subplot_layout",
            "structure_error",
            2,
            "Subplot layout",
            f"The subplots are arranged {spec.nrows}x{spec.ncols} instead of {old[0]}x{old[1]}.",
            "*",
            region(spec, None, "figure"),
        )
    a, b = rng.sample(range(len(spec.panels)), 2)
    spec.panels[a], spec.panels[b] = spec.panels[b], spec.panels[a]
    return Edit(
        "chart.subplot_order",
        "structure_error",
        2,
        "Subplot arrangement",
        f"The {panel_name(spec, a).lower()} and the {panel_name(spec, b).lower()} are swapped.",
        "*",
        region(spec, None, "figure"),
    )


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
    return Edit(
        "chart.remove_subplot",
        "structure_error",
        3,
        name,
        f"The {name.lower()} ({quote(gone.title or KIND_NAME.get(gone.kind, gone.kind))}) is missing; "
        f"the figure has {len(spec.panels)} panel(s).",
        "*",
        region(spec, None, "figure"),
    )


def remove_twin_axis(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: p.twin is not None)
    if i is None:
        return None
    p = spec.panels[i]
    name = p.twin.name if p.twin else ""
    before = region(spec, i, "panel")
    p.twin = None
    p.twin_label = ""
    return Edit(
        "chart.remove_twin_axis",
        "structure_error",
        2,
        where(spec, i, "secondary y-axis"),
        f"The secondary y-axis with the {quote(name)} line is missing.",
        f"p{i}.twin",
        before,
    )


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
        return Edit(
            f"chart.title_{mode}",
            "text_error",
            sev,
            "Figure title",
            desc,
            "fig.suptitle",
            region(spec, None, "suptitle") if spec.library == "matplotlib" else region(spec, None, "figure"),
        )
    spec.panels[i].title = new
    grid = spec.nrows * spec.ncols > 1
    reg = region(spec, i, "title") if spec.library == "matplotlib" else (None if grid else None)
    return Edit(
        f"chart.title_{mode}",
        "text_error",
        sev,
        where(spec, i, "title") if grid else "Title",
        desc,
        f"p{i}.title",
        reg,
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
    return Edit(
        f"chart.axis_label_{mode}",
        "text_error",
        sev,
        where(spec, i, axis),
        desc,
        f"p{i}.{attr}",
        region(spec, i, "xlabel" if attr == "xlabel" else "ylabel"),
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
    loc = where(
        spec, i, f"{what} {quote(old)}" if p.kind in ("pie", "heatmap") else f"{axis} {what} {quote(old)}"
    )
    return Edit(
        f"chart.tick_label_{kind}",
        "text_error",
        sev,
        loc,
        f"The {what} {quote(old)} reads {quote(new)}.",
        f"p{i}.c[{old}].label",
        region(spec, i, "panel" if p.kind == "pie" else "plot"),
    )


def legend_label(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: _legend_visible(p))
    if i is None:
        return None
    p = spec.panels[i]
    ser = rng.choice(p.series)
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
    return Edit(
        f"chart.legend_label_{kind}",
        "text_error",
        sev,
        where(spec, i, "legend"),
        f"The legend entry {quote(old)} reads {quote(new)}.",
        f"p{i}.s[{old}].label|p{i}.legend.labels",
        region(spec, i, "legend") if spec.library == "matplotlib" else None,
    )


def legend_position(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: _legend_visible(p))
    if i is None:
        return None
    p = spec.panels[i]
    if spec.library == "plotly" and i != next(k for k, q in enumerate(spec.panels) if _legend_visible(q)):
        return None
    old = p.legend_loc or "upper right"
    new = rng.choice([loc for loc in LEGEND_LOCS if loc != old])
    p.legend_loc = new
    return Edit(
        "chart.legend_position",
        "text_error",
        1,
        where(spec, i, "legend"),
        f"The legend is placed at the {new} instead of the {old}.",
        f"p{i}.legend",
        region(spec, i, "legend") if spec.library == "matplotlib" else None,
    )


def remove_legend(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: _legend_visible(p))
    if i is None or spec.library == "plotly":
        return None
    p = spec.panels[i]
    p.legend_loc = None
    sev = 2 if len(p.series) > 1 else 1
    return Edit(
        "chart.remove_legend",
        "text_error",
        sev,
        where(spec, i, "legend"),
        "The legend is missing" + (", so the series cannot be told apart." if sev == 2 else "."),
        f"p{i}.legend",
        region(spec, i, "legend"),
    )


def font_size(spec: ChartSpec, rng: random.Random) -> Edit | None:
    old = spec.font_size
    delta = rng.choice((-3.0, -2.0, 2.0, 3.0, 5.0))
    new = max(5.0, old + delta)
    if new == old:
        return None
    spec.font_size = new
    sev = 2 if new <= 6.5 or abs(new - old) >= 5 else 1
    return Edit(
        "chart.font_size",
        "text_error",
        sev,
        "All text",
        f"The text is {'smaller' if new < old else 'larger'} than in the reference ({new:g} pt instead of "
        f"{old:g} pt).",
        "fig.font",
        region(spec, None, "figure"),
    )


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
    return Edit(
        "chart.heatmap_annotations",
        "text_error",
        2 if not p.annotate else 1,
        where(spec, i, "heatmap cells"),
        desc,
        f"p{i}.annotate",
        region(spec, i, "plot"),
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
        return Edit(
            "chart.series_color",
            "style_error",
            colour_severity(old, new),
            where(spec, i, f"slice {quote(p.categories[j])}"),
            f"The {quote(p.categories[j])} slice is coloured {new} instead of {old}.",
            f"p{i}.c[{p.categories[j]}].color",
            region(spec, i, "panel"),
            {"old": old, "new": new},
        )
    ser = rng.choice(p.series)
    old = ser.color
    others = {s.color for s in p.series}
    new = pick_different(old, rng, min_delta=rng.choice((8.0, 30.0)))
    if new in others:
        return None
    ser.color = new
    return Edit(
        "chart.series_color",
        "style_error",
        colour_severity(old, new),
        _where_series(spec, i, ser),
        f"{quote(ser.name)} is drawn in {new} instead of {old}.",
        f"p{i}.s[{ser.name}].color",
        region(spec, i, "plot"),
        {"old": old, "new": new},
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
    return Edit(
        "chart.palette",
        "style_error",
        2,
        where(spec, i, "colour palette"),
        f"All series use a different colour palette ({', '.join(new)} instead of {', '.join(current)}).",
        keys,
        region(spec, i, "plot"),
    )


def colormap(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: p.kind == "heatmap")
    if i is None:
        return None
    p = spec.panels[i]
    old = p.cmap
    p.cmap = rng.choice(
        [c for c in ("viridis", "Blues", "magma", "coolwarm", "YlGnBu", "Oranges") if c != old]
    )
    return Edit(
        "chart.colormap",
        "style_error",
        2,
        where(spec, i, "heatmap colour map"),
        f"The heatmap uses the {p.cmap} colour map instead of {old}.",
        f"p{i}.cmap",
        region(spec, i, "plot"),
    )


def line_style(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: p.kind in ("line", "errorbar") and p.series)
    if i is None:
        return None
    p = spec.panels[i]
    ser = rng.choice(p.series)
    old = ser.linestyle
    ser.linestyle = rng.choice([ls for ls in LINESTYLES if ls != old])
    names = {"-": "solid", "--": "dashed", "-.": "dash-dot", ":": "dotted"}
    return Edit(
        "chart.line_style",
        "style_error",
        1,
        _where_series(spec, i, ser),
        f"{quote(ser.name)} is {names[ser.linestyle]} instead of {names[old]}.",
        f"p{i}.s[{ser.name}].linestyle",
        region(spec, i, "plot"),
    )


def marker_style(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: p.kind in ("line", "errorbar", "scatter") and p.series)
    if i is None:
        return None
    p = spec.panels[i]
    ser = rng.choice(p.series)
    old = ser.marker
    options = [m for m in MARKERS if m != old] + ([""] if old and p.kind == "line" else [])
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
    return Edit(
        "chart.marker",
        "style_error",
        1,
        _where_series(spec, i, ser, " markers"),
        f"{quote(ser.name)} uses {names[ser.marker]} markers instead of {names[old]} markers.",
        f"p{i}.s[{ser.name}].marker",
        region(spec, i, "plot"),
    )


def line_width(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: p.kind in ("line", "errorbar") and p.series)
    if i is None:
        return None
    p = spec.panels[i]
    ser = rng.choice(p.series)
    old = ser.linewidth
    ser.linewidth = rng.choice((0.75, 4.0, 5.0)) if old <= 2.5 else 1.0
    return Edit(
        "chart.line_width",
        "style_error",
        1,
        _where_series(spec, i, ser),
        f"{quote(ser.name)} is drawn {'thicker' if ser.linewidth > old else 'thinner'} than in the reference "
        f"({ser.linewidth:g} instead of {old:g}).",
        f"p{i}.s[{ser.name}].linewidth",
        region(spec, i, "plot"),
    )


def grid_toggle(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: p.kind not in ("pie", "heatmap"))
    if i is None:
        return None
    p = spec.panels[i]
    p.grid = not p.grid
    return Edit(
        "chart.grid",
        "style_error",
        1,
        where(spec, i, "grid lines"),
        "Grid lines are drawn although the reference has none." if p.grid else "The grid lines are missing.",
        f"p{i}.grid",
        region(spec, i, "plot"),
    )


def opacity(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(
        spec,
        rng,
        lambda p: p.kind in ("bar", "grouped_bar", "stacked_bar", "barh", "scatter", "hist") and p.series,
    )
    if i is None:
        return None
    p = spec.panels[i]
    ser = rng.choice(p.series)
    old = ser.alpha
    ser.alpha = 0.45 if old > 0.6 else 1.0
    return Edit(
        "chart.opacity",
        "style_error",
        1,
        _where_series(spec, i, ser),
        f"{quote(ser.name)} is drawn {'more transparent' if ser.alpha < old else 'opaque'} (alpha {ser.alpha:g} "
        f"instead of {old:g}).",
        f"p{i}.s[{ser.name}].alpha",
        region(spec, i, "plot"),
    )


def hist_bins(spec: ChartSpec, rng: random.Random) -> Edit | None:
    i = _pick(spec, rng, lambda p: p.kind == "hist")
    if i is None:
        return None
    p = spec.panels[i]
    old = p.bins
    p.bins = rng.choice([b for b in (8, 10, 40, 50) if b != old])
    ratio = max(old, p.bins) / min(old, p.bins)
    return Edit(
        "chart.hist_bins",
        "data_error",
        1 if ratio < 2 else 2,
        where(spec, i, "histogram bins"),
        f"The histogram uses {p.bins} bins instead of {old}.",
        f"p{i}.bins",
        region(spec, i, "plot"),
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
        PerturbationInfo("chart.opacity", "style_error", opacity, 0.6),
    ]
)
