"""Emit matplotlib or plotly code for a :class:`~erm_cli.data.charts.ChartSpec`.

The code reads like a person wrote it (named data lists, one plotting call per series or a loop,
explicit titles and labels). ``spec.code_style`` changes only the spelling (comments, hex case,
loops versus explicit calls), never the pixels: that is how invisible-change pairs are made.
"""

from __future__ import annotations

import json
import re

from .charts import LEGEND_KINDS, ChartSpec, Panel, Series

PLOTLY_DASH = {"-": "solid", "--": "dash", "-.": "dashdot", ":": "dot"}
PLOTLY_SYMBOL = {
    "o": "circle",
    "s": "square",
    "^": "triangle-up",
    "D": "diamond",
    "v": "triangle-down",
    "x": "x",
    "*": "star",
    "": "circle",
}
PLOTLY_LEGEND = {
    "upper left": (0.01, 0.99, "left", "top"),
    "upper right": (0.99, 0.99, "right", "top"),
    "lower left": (0.01, 0.01, "left", "bottom"),
    "lower right": (0.99, 0.01, "right", "bottom"),
    "upper center": (0.5, 0.99, "center", "top"),
    "center right": (0.99, 0.5, "right", "middle"),
}


def chart_code(spec: ChartSpec) -> str:
    if spec.library == "matplotlib":
        return MatplotlibWriter(spec).write()
    if spec.library == "plotly":
        return PlotlyWriter(spec).write()
    raise ValueError(f"unknown chart library {spec.library!r}")


def num(v: float, decimals: int) -> str:
    if decimals <= 0:
        return str(int(round(v)))
    s = f"{v:.{decimals}f}"
    return s


def nums(values: list[float], decimals: int) -> str:
    return "[" + ", ".join(num(v, decimals) for v in values) + "]"


def s(text: str) -> str:
    """A Python string literal."""
    return json.dumps(text, ensure_ascii=False)


def ident(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip().lower()).strip("_") or "series"
    if base[0].isdigit():
        base = "y" + base
    out, i = base, 2
    while out in taken or out in {"x", "ax", "fig", "np", "plt", "go", "rng", "categories", "width", "data"}:
        out, i = f"{base}_{i}", i + 1
    taken.add(out)
    return out


class _Writer:
    def __init__(self, spec: ChartSpec) -> None:
        self.spec = spec
        self.lines: list[str] = []
        self.names: set[str] = set()

    @property
    def comments(self) -> bool:
        return bool(self.spec.code_style & 1)

    @property
    def loops(self) -> bool:
        return bool(self.spec.code_style & 4)

    def c(self, color: str) -> str:
        return s(color.upper() if self.spec.code_style & 2 else color.lower())

    def add(self, line: str = "") -> None:
        self.lines.append(line)

    def comment(self, text: str) -> None:
        if self.comments:
            self.add(f"# {text}")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


class MatplotlibWriter(_Writer):
    def write(self) -> str:
        sp = self.spec
        self.add("import matplotlib.pyplot as plt")
        self.add("import numpy as np")
        self.add()
        if sp.style != "default":
            self.add(f"plt.style.use({s(sp.style)})")
        self.add(f'plt.rcParams["font.size"] = {sp.font_size:g}')
        self.add()
        self.comment(f"Figure with {sp.nrows * sp.ncols} panel(s)")
        if sp.nrows * sp.ncols == 1:
            self.add(f"fig, ax = plt.subplots(figsize=({sp.width:g}, {sp.height:g}))")
        else:
            self.add(
                f"fig, axes = plt.subplots({sp.nrows}, {sp.ncols}, figsize=({sp.width:g}, {sp.height:g}))"
            )
        left, right, bottom, top, ws, hs = sp.margins
        self.add(
            f"fig.subplots_adjust(left={left:g}, right={right:g}, bottom={bottom:g}, top={top:g}, "
            f"wspace={ws:g}, hspace={hs:g})"
        )
        for i, panel in enumerate(sp.panels):
            self.add()
            if sp.nrows * sp.ncols > 1:
                idx = f"{i}" if sp.nrows == 1 or sp.ncols == 1 else f"{i // sp.ncols}, {i % sp.ncols}"
                self.add(f"ax = axes[{idx}]")
            self.panel(panel)
        if sp.suptitle:
            self.add()
            self.add(f'fig.suptitle({s(sp.suptitle)}, fontsize={sp.title_size + 2:g}, fontweight="bold")')
        self.add()
        self.add("plt.show()")
        return self.text()

    # -- one panel
    def panel(self, p: Panel) -> None:
        getattr(self, f"k_{p.kind}")(p)
        if p.title:
            self.add(f"ax.set_title({s(p.title)}, fontsize={self.spec.title_size:g})")
        if p.xlabel:
            self.add(f"ax.set_xlabel({s(p.xlabel)})")
        if p.ylabel:
            self.add(f"ax.set_ylabel({s(p.ylabel)})")
        if p.kind in ("pie", "heatmap"):
            return
        if p.yscale != "linear":
            axis = "x" if p.kind == "barh" else "y"
            self.add(f'ax.set_{axis}scale("{p.yscale}")')
        if p.ylim is not None:
            axis = "x" if p.kind == "barh" else "y"
            self.add(f"ax.set_{axis}lim({p.ylim[0]:g}, {p.ylim[1]:g})")
        if p.rotate_ticks:
            self.add('plt.setp(ax.get_xticklabels(), rotation=30, ha="right")')
        if p.grid:
            self.add(f'ax.grid(True, linestyle="{p.grid_style}", alpha=0.5)')
        elif self.spec.style != "default":
            self.add("ax.grid(False)")
        if p.legend_loc and p.kind in LEGEND_KINDS and p.series:
            self.add(f"ax.legend(loc={s(p.legend_loc)})")
        if p.twin is not None:
            tw = p.twin
            self.comment("Secondary axis")
            self.add("ax2 = ax.twinx()")
            xs = "x" if p.kind != "line" else "categories"
            self.add(
                f'ax2.plot({xs}, {nums(tw.values, p.decimals)}, color={self.c(tw.color)}, marker="o", '
                f"linewidth={tw.linewidth:g})"
            )
            self.add(f"ax2.set_ylabel({s(p.twin_label)}, color={self.c(tw.color)})")

    def data_lists(self, p: Panel) -> list[str]:
        self.add(f"categories = {json.dumps(p.categories, ensure_ascii=False)}")
        names = []
        for ser in p.series:
            name = ident(ser.name, self.names)
            names.append(name)
            self.add(f"{name} = {nums(ser.values, p.decimals)}")
        return names

    def style_kwargs(self, ser: Series, kind: str) -> str:
        parts = [f"color={self.c(ser.color)}"]
        if kind in ("line", "errorbar"):
            if ser.linestyle != "-":
                parts.append(f"linestyle={s(ser.linestyle)}")
            if ser.marker:
                parts.append(f"marker={s(ser.marker)}")
            parts.append(f"linewidth={ser.linewidth:g}")
        if ser.alpha != 1.0:
            parts.append(f"alpha={ser.alpha:g}")
        return ", ".join(parts)

    def k_bar(self, p: Panel) -> None:
        self.comment(p.title or "Bar chart")
        names = self.data_lists(p)
        ser = p.series[0]
        self.add("x = np.arange(len(categories))")
        self.add(f"ax.bar(x, {names[0]}, {self.style_kwargs(ser, 'bar')}, label={s(ser.name)})")
        self.add("ax.set_xticks(x, categories)")

    def k_barh(self, p: Panel) -> None:
        self.comment(p.title or "Horizontal bar chart")
        names = self.data_lists(p)
        n = len(p.series)
        if n == 1:
            ser = p.series[0]
            self.add("y = np.arange(len(categories))")
            self.add(f"ax.barh(y, {names[0]}, {self.style_kwargs(ser, 'bar')}, label={s(ser.name)})")
        else:
            h = round(0.8 / n, 4)
            self.add("y = np.arange(len(categories))")
            for i, (name, ser) in enumerate(zip(names, p.series)):
                off = round((i - (n - 1) / 2) * h, 4)
                self.add(
                    f"ax.barh(y + {off:g}, {name}, {h:g}, {self.style_kwargs(ser, 'bar')}, label={s(ser.name)})"
                )
        self.add("ax.set_yticks(y, categories)")
        self.add("ax.invert_yaxis()")

    def k_grouped_bar(self, p: Panel) -> None:
        self.comment(p.title or "Grouped bar chart")
        names = self.data_lists(p)
        n = len(p.series)
        w = round(0.8 / n, 4)
        offsets = [round((i - (n - 1) / 2) * w, 4) for i in range(n)]
        self.add("x = np.arange(len(categories))")
        self.add(f"width = {w:g}")
        if self.loops:
            self.add("groups = [")
            for name, ser, off in zip(names, p.series, offsets):
                self.add(f"    ({s(ser.name)}, {name}, {self.c(ser.color)}, {off:g}),")
            self.add("]")
            self.add("for label, values, color, offset in groups:")
            alpha = f", alpha={p.series[0].alpha:g}" if p.series[0].alpha != 1.0 else ""
            self.add(f"    ax.bar(x + offset, values, width, color=color{alpha}, label=label)")
        else:
            for name, ser, off in zip(names, p.series, offsets):
                self.add(
                    f"ax.bar(x + {off:g}, {name}, width, {self.style_kwargs(ser, 'bar')}, label={s(ser.name)})"
                )
        self.add("ax.set_xticks(x, categories)")

    def k_stacked_bar(self, p: Panel) -> None:
        self.comment(p.title or "Stacked bar chart")
        names = self.data_lists(p)
        self.add("bottom = np.zeros(len(categories))")
        for name, ser in zip(names, p.series):
            self.add(
                f"ax.bar(categories, {name}, bottom=bottom, {self.style_kwargs(ser, 'bar')}, label={s(ser.name)})"
            )
            self.add(f"bottom += np.array({name})")

    def k_line(self, p: Panel) -> None:
        self.comment(p.title or "Line chart")
        names = self.data_lists(p)
        if self.loops and len(p.series) > 1 and all(ser.x is None for ser in p.series):
            self.add("for label, values, style in [")
            for name, ser in zip(names, p.series):
                self.add(f"    ({s(ser.name)}, {name}, dict({self.style_kwargs(ser, 'line')})),")
            self.add("]:")
            self.add("    ax.plot(categories, values, label=label, **style)")
        else:
            for name, ser in zip(names, p.series):
                xs = "categories"
                if ser.x is not None:
                    xs = f"{name}_x"
                    self.add(f"{xs} = {nums(ser.x, 1)}")
                self.add(f"ax.plot({xs}, {name}, {self.style_kwargs(ser, 'line')}, label={s(ser.name)})")

    def k_errorbar(self, p: Panel) -> None:
        self.comment(p.title or "Measurements with error bars")
        names = self.data_lists(p)
        for name, ser in zip(names, p.series):
            err = nums(ser.errors or [0.0] * len(ser.values), p.decimals)
            self.add(
                f"ax.errorbar(categories, {name}, yerr={err}, capsize=4, {self.style_kwargs(ser, 'errorbar')}, "
                f"label={s(ser.name)})"
            )

    def k_area(self, p: Panel) -> None:
        self.comment(p.title or "Stacked area chart")
        names = self.data_lists(p)
        self.add("x = np.arange(len(categories))")
        colors = ", ".join(self.c(ser.color) for ser in p.series)
        labels = ", ".join(s(ser.name) for ser in p.series)
        alpha = p.series[0].alpha
        self.add(
            f"ax.stackplot(x, {', '.join(names)}, labels=[{labels}], colors=[{colors}], alpha={alpha:g})"
        )
        self.add("ax.set_xticks(x, categories)")
        self.add("ax.set_xlim(0, len(categories) - 1)")

    def k_scatter(self, p: Panel) -> None:
        self.comment(p.title or "Scatter plot")
        for ser in p.series:
            name = ident(ser.name, self.names)
            self.add(f"{name}_x = {nums(ser.x or [], 1)}")
            self.add(f"{name}_y = {nums(ser.values, 1)}")
            extra = f", alpha={ser.alpha:g}" if ser.alpha != 1.0 else ""
            self.add(
                f"ax.scatter({name}_x, {name}_y, s={ser.size:g}, color={self.c(ser.color)}, "
                f"marker={s(ser.marker or 'o')}{extra}, label={s(ser.name)})"
            )

    def k_pie(self, p: Panel) -> None:
        self.comment(p.title or "Pie chart")
        ser = p.series[0]
        self.add(f"labels = {json.dumps(p.categories, ensure_ascii=False)}")
        self.add(f"shares = {nums(ser.values, p.decimals)}")
        self.add(f"colors = [{', '.join(self.c(c) for c in p.slice_colors)}]")
        self.add(
            'ax.pie(shares, labels=labels, colors=colors, autopct="%1.0f%%", startangle=90, '
            'wedgeprops={"edgecolor": "white"})'
        )
        self.add('ax.axis("equal")')

    def samples(self, p: Panel) -> list[str]:
        self.add(f"rng = np.random.default_rng({p.seed})")
        names = []
        for ser in p.series:
            m, sd, n = ser.dist or (0.0, 1.0, 100)
            name = ident(ser.name, self.names)
            names.append(name)
            self.add(f"{name} = rng.normal({m:g}, {sd:g}, {n})")
        return names

    def k_hist(self, p: Panel) -> None:
        self.comment(p.title or "Histogram")
        names = self.samples(p)
        for name, ser in zip(names, p.series):
            self.add(
                f'ax.hist({name}, bins={p.bins}, {self.style_kwargs(ser, "hist")}, edgecolor="white", '
                f"label={s(ser.name)})"
            )

    def k_box(self, p: Panel) -> None:
        self.comment(p.title or "Box plot")
        names = self.samples(p)
        self.add(
            f"bp = ax.boxplot([{', '.join(names)}], tick_labels={json.dumps(p.categories, ensure_ascii=False)}, "
            "patch_artist=True)"
        )
        colors = ", ".join(self.c(ser.color) for ser in p.series)
        self.add(f'for patch, color in zip(bp["boxes"], [{colors}]):')
        self.add("    patch.set_facecolor(color)")

    def k_heatmap(self, p: Panel) -> None:
        self.comment(p.title or "Heatmap")
        self.add(f"rows = {json.dumps(p.rows, ensure_ascii=False)}")
        self.add(f"cols = {json.dumps(p.categories, ensure_ascii=False)}")
        self.add("matrix = np.array([")
        for row in p.matrix:
            self.add(f"    {nums(row, p.decimals)},")
        self.add("])")
        self.add(f'im = ax.imshow(matrix, cmap={s(p.cmap)}, aspect="auto")')
        self.add("ax.set_xticks(range(len(cols)), cols)")
        self.add("ax.set_yticks(range(len(rows)), rows)")
        if p.rotate_ticks:
            self.add('plt.setp(ax.get_xticklabels(), rotation=30, ha="right")')
        if p.annotate:
            fmt = f".{max(0, p.decimals)}f"
            self.add("for i in range(len(rows)):")
            self.add("    for j in range(len(cols)):")
            self.add(
                f'        ax.text(j, i, f"{{matrix[i, j]:{fmt}}}", ha="center", va="center", color="white", fontsize=8)'
            )
        label = f", label={s(p.colorbar_label)}" if p.colorbar_label else ""
        self.add(f"fig.colorbar(im, ax=ax{label})")


class PlotlyWriter(_Writer):
    def write(self) -> str:
        sp = self.spec
        grid = sp.nrows * sp.ncols > 1
        twin = not grid and sp.panels[0].twin is not None
        self.add("import numpy as np")
        self.add("import plotly.graph_objects as go")
        if grid or twin:
            self.add("from plotly.subplots import make_subplots")
        self.add()
        if grid:
            titles = ", ".join(s(p.title) for p in sp.panels)
            self.add(f"fig = make_subplots(rows={sp.nrows}, cols={sp.ncols}, subplot_titles=[{titles}])")
        elif twin:
            self.add('fig = make_subplots(specs=[[{"secondary_y": True}]])')
        else:
            self.add("fig = go.Figure()")
        for i, p in enumerate(sp.panels):
            self.add()
            self.comment(p.title or p.kind)
            rc = f", row={i // sp.ncols + 1}, col={i % sp.ncols + 1}" if grid else ""
            self.panel(p, rc)
        self.add()
        self.layout()
        self.add("fig.show()")
        return self.text()

    def add_trace(self, trace: str, rc: str, secondary: bool = False) -> None:
        extra = ", secondary_y=True" if secondary else (", secondary_y=False" if self._twin else "")
        self.add(f"fig.add_trace({trace}{rc}{extra})")

    @property
    def _twin(self) -> bool:
        return self.spec.nrows * self.spec.ncols == 1 and self.spec.panels[0].twin is not None

    def line_kwargs(self, ser: Series) -> str:
        dash = PLOTLY_DASH.get(ser.linestyle, "solid")
        return f"line=dict(color={self.c(ser.color)}, width={ser.linewidth:g}, dash={s(dash)})"

    def panel(self, p: Panel, rc: str) -> None:
        cats = json.dumps(p.categories, ensure_ascii=False)
        d = p.decimals
        if p.kind in ("bar", "grouped_bar", "stacked_bar"):
            for ser in p.series:
                op = f", opacity={ser.alpha:g}" if ser.alpha != 1.0 else ""
                self.add_trace(
                    f"go.Bar(x={cats}, y={nums(ser.values, d)}, name={s(ser.name)}, "
                    f"marker_color={self.c(ser.color)}{op})",
                    rc,
                )
        elif p.kind == "barh":
            for ser in p.series:
                self.add_trace(
                    f'go.Bar(x={nums(ser.values, d)}, y={cats}, orientation="h", name={s(ser.name)}, '
                    f"marker_color={self.c(ser.color)})",
                    rc,
                )
        elif p.kind in ("line", "errorbar"):
            for ser in p.series:
                mode = "lines+markers" if ser.marker else "lines"
                marker = f", marker=dict(symbol={s(PLOTLY_SYMBOL[ser.marker])}, size=8)" if ser.marker else ""
                err = (
                    f', error_y=dict(type="data", array={nums(ser.errors or [], d)}, visible=True)'
                    if p.kind == "errorbar"
                    else ""
                )
                xs = nums(ser.x, 1) if ser.x is not None else cats
                self.add_trace(
                    f"go.Scatter(x={xs}, y={nums(ser.values, d)}, mode={s(mode)}, name={s(ser.name)}, "
                    f"{self.line_kwargs(ser)}{marker}{err})",
                    rc,
                )
        elif p.kind == "area":
            for ser in p.series:
                self.add_trace(
                    f'go.Scatter(x={cats}, y={nums(ser.values, d)}, mode="lines", stackgroup="one", '
                    f"name={s(ser.name)}, line=dict(color={self.c(ser.color)}, width=0.5), "
                    f"fillcolor={self.c(ser.color)}, opacity={ser.alpha:g})",
                    rc,
                )
        elif p.kind == "scatter":
            for ser in p.series:
                size = max(4, int(round(ser.size**0.5 * 1.3)))
                self.add_trace(
                    f'go.Scatter(x={nums(ser.x or [], 1)}, y={nums(ser.values, 1)}, mode="markers", '
                    f"name={s(ser.name)}, marker=dict(color={self.c(ser.color)}, size={size}, "
                    f"symbol={s(PLOTLY_SYMBOL[ser.marker or 'o'])}, opacity={ser.alpha:g}))",
                    rc,
                )
        elif p.kind == "pie":
            ser = p.series[0]
            colors = ", ".join(self.c(c) for c in p.slice_colors)
            self.add_trace(
                f"go.Pie(labels={cats}, values={nums(ser.values, d)}, marker=dict(colors=[{colors}]), "
                'textinfo="percent+label", sort=False, direction="clockwise", rotation=0)',
                rc,
            )
        elif p.kind in ("hist", "box"):
            self.add(f"rng = np.random.default_rng({p.seed})")
            for ser in p.series:
                m, sd, n = ser.dist or (0.0, 1.0, 100)
                name = ident(ser.name, self.names)
                self.add(f"{name} = rng.normal({m:g}, {sd:g}, {n})")
                if p.kind == "hist":
                    self.add_trace(
                        f"go.Histogram(x={name}, nbinsx={p.bins}, name={s(ser.name)}, "
                        f"marker_color={self.c(ser.color)}, opacity={ser.alpha:g})",
                        rc,
                    )
                else:
                    self.add_trace(
                        f"go.Box(y={name}, name={s(ser.name)}, marker_color={self.c(ser.color)})", rc
                    )
        elif p.kind == "heatmap":
            z = "[" + ", ".join(nums(r, d) for r in p.matrix) + "]"
            text = f', texttemplate="%{{z:.{max(0, d)}f}}"' if p.annotate else ""
            cb = f", colorbar=dict(title={s(p.colorbar_label)})" if p.colorbar_label else ""
            self.add_trace(
                f"go.Heatmap(z={z}, x={cats}, y={json.dumps(p.rows, ensure_ascii=False)}, "
                f"colorscale={s(_plotly_scale(p.cmap))}{text}{cb})",
                rc,
            )
        else:
            raise ValueError(f"plotly writer: unknown kind {p.kind!r}")
        if p.twin is not None:
            tw = p.twin
            self.add_trace(
                f'go.Scatter(x={cats}, y={nums(tw.values, d)}, mode="lines+markers", name={s(tw.name)}, '
                f"line=dict(color={self.c(tw.color)}, width={tw.linewidth:g}))",
                rc,
                secondary=True,
            )
        if p.kind not in ("pie",):
            xl = f"title_text={s(p.xlabel)}, " if p.xlabel else ""
            yl = f"title_text={s(p.ylabel)}, " if p.ylabel else ""
            sec = ", secondary_y=False" if self._twin else ""
            self.add(f"fig.update_xaxes({xl}showgrid={p.grid and p.kind != 'heatmap'}{rc})")
            scale = ""
            if p.yscale == "log":
                scale = ', type="log"'
            if p.ylim is not None:
                lo, hi = p.ylim
                if p.yscale == "log":
                    import math

                    lo, hi = math.log10(max(lo, 1e-9)), math.log10(max(hi, 1e-9))
                scale += f", range=[{lo:g}, {hi:g}]"
            if p.kind == "barh":
                self.add(f'fig.update_yaxes(showgrid=False, autorange="reversed"{rc})')
                if scale:
                    self.add(f"fig.update_xaxes({scale.lstrip(', ')}{rc})")
            else:
                self.add(f"fig.update_yaxes({yl}showgrid={p.grid and p.kind != 'heatmap'}{scale}{rc}{sec})")
            if p.twin is not None:
                self.add(f"fig.update_yaxes(title_text={s(p.twin_label)}, secondary_y=True)")

    def layout(self) -> None:
        sp = self.spec
        grid = sp.nrows * sp.ncols > 1
        title = sp.suptitle if grid else sp.panels[0].title
        kinds = {p.kind for p in sp.panels}
        barmode = "stack" if "stacked_bar" in kinds else ("overlay" if kinds == {"hist"} else "group")
        legend_panels = [p for p in sp.panels if p.legend_loc and p.kind in LEGEND_KINDS]
        show_legend = bool(legend_panels) or "pie" in kinds
        parts = [
            f"width={int(sp.width * 100)}",
            f"height={int(sp.height * 100)}",
            f"template={s(sp.style)}",
            f"font=dict(size={int(sp.font_size + 2)})",
            f"barmode={s(barmode)}",
            f"showlegend={show_legend}",
        ]
        if title:
            parts.insert(0, f"title=dict(text={s(title)}, x=0.5, font=dict(size={int(sp.title_size + 4)}))")
        if legend_panels:
            x, y, xa, ya = PLOTLY_LEGEND[legend_panels[0].legend_loc or "upper right"]
            parts.append(f"legend=dict(x={x:g}, y={y:g}, xanchor={s(xa)}, yanchor={s(ya)})")
        self.add("fig.update_layout(")
        for part in parts:
            self.add(f"    {part},")
        self.add(")")


def _plotly_scale(cmap: str) -> str:
    return {
        "viridis": "Viridis",
        "Blues": "Blues",
        "magma": "Magma",
        "coolwarm": "RdBu_r",
        "YlGnBu": "YlGnBu",
        "Oranges": "Oranges",
    }.get(cmap, "Viridis")
