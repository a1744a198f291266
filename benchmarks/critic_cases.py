"""A labelled set of synthetic (reference, candidate) pairs for the critic's quality figures.

Three tasks, each built from seeded random ground truths rendered with the real libraries:

- chart: matplotlib figures (bar, grouped bar, horizontal bar, line, multi-line, scatter);
- table: HTML tables rendered by headless Chromium (Playwright) with the table renderer's CSS;
- svg: random shape compositions and real Feather icons rendered by cairosvg.

For every ground truth the set holds: equivalent candidates (re-rendered at another dpi / size / margin,
or code changed with no visual effect), single-error candidates (one injected error per category, with
its gold category) and a three-error candidate (for ranking). Used by benchmarks/critic_quality.py.
"""

from __future__ import annotations

import copy
import io
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image


@dataclass
class Case:
    task: str
    group: str  # id of the ground truth
    kind: str  # equivalent | single | triple
    ref: Image.Image
    cand: Image.Image
    categories: list[str] = field(default_factory=list)  # injected categories (empty for equivalents)
    names: list[str] = field(default_factory=list)  # perturbation names / equivalence kind


# =============================================================================================== charts

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
WORDS = ["Revenue", "Sales", "Growth", "Costs", "Profit", "Users", "Traffic", "Energy", "Output", "Demand",
         "Exports", "Imports", "Budget", "Margin", "Visits", "Orders", "Yield", "Returns"]
PLACES = ["North", "South", "East", "West", "Central", "Europe", "Asia", "Africa", "Americas", "Pacific"]
UNITS = ["(M$)", "(%)", "(kt)", "(units)", "(GWh)", "(k)"]
CATS = [["Q1", "Q2", "Q3", "Q4"], ["Jan", "Feb", "Mar", "Apr", "May", "Jun"], ["A", "B", "C", "D", "E"],
        ["2019", "2020", "2021", "2022", "2023"], ["Mon", "Tue", "Wed", "Thu", "Fri"],
        ["Alpha", "Beta", "Gamma", "Delta"]]


def chart_spec(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(["bar", "bar", "grouped", "barh", "line", "multiline", "scatter"])
    cats = list(rng.choice(CATS))
    n_series = {"bar": 1, "barh": 1, "grouped": rng.choice([2, 3]), "line": 1, "multiline": rng.choice([2, 3]),
                "scatter": rng.choice([1, 2])}[kind]
    names = rng.sample(PLACES, n_series)
    colours = rng.sample(PALETTE, n_series)
    top = rng.choice([10, 40, 100, 500])
    series = []
    for i in range(n_series):
        if kind == "scatter":
            xs = [round(rng.uniform(0, 10), 1) for _ in range(rng.randint(8, 14))]
            ys = [round(rng.uniform(0.1, 1.0) * top, 1) for _ in xs]
            series.append({"name": names[i], "colour": colours[i], "x": xs, "y": ys})
        else:
            vals = [round(rng.uniform(0.2, 1.0) * top, 1) for _ in cats]
            series.append({"name": names[i], "colour": colours[i], "y": vals})
    metric = rng.choice(WORDS)
    return {
        "kind": kind, "categories": cats, "series": series,
        "title": f"{metric} by {rng.choice(['Region', 'Quarter', 'Month', 'Segment', 'Team'])} {rng.choice(['2022', '2023', '2024'])}",
        "xlabel": rng.choice(["Quarter", "Month", "Category", "Year", "Day", "Group"]) if kind != "scatter" else "Time (h)",
        "ylabel": f"{metric} {rng.choice(UNITS)}",
        "grid": rng.random() < 0.35, "legend": n_series > 1 or rng.random() < 0.4,
        "marker": rng.choice(["o", "s", None]) if kind in ("line", "multiline") else None,
        "linestyle": "-", "ylim": None, "subplots": 1,
    }


def draw_chart(ax: Any, spec: dict[str, Any]) -> None:
    import numpy as np

    cats, series, kind = spec["categories"], spec["series"], spec["kind"]
    x = np.arange(len(cats))
    if kind in ("bar", "grouped"):
        n = len(series)
        width = 0.8 / n
        for i, s in enumerate(series):
            off = (i - (n - 1) / 2) * width if n > 1 else 0
            ax.bar(x + off, s["y"], width=width if n > 1 else 0.7, color=s["colour"], label=s["name"])
        ax.set_xticks(x, cats)
    elif kind == "barh":
        for s in series:
            ax.barh(x, s["y"], color=s["colour"], label=s["name"], height=0.6)
        ax.set_yticks(x, cats)
    elif kind in ("line", "multiline"):
        for s in series:
            ax.plot(x, s["y"], color=s["colour"], label=s["name"], marker=spec["marker"],
                    linestyle=s.get("linestyle", spec["linestyle"]), linewidth=s.get("linewidth", 2.0))
        ax.set_xticks(x, cats)
    elif kind == "scatter":
        for s in series:
            ax.scatter(s["x"], s["y"], color=s["colour"], label=s["name"], s=s.get("size", 40))
    if spec["ylim"] is not None:
        if kind == "barh":
            ax.set_xlim(0, spec["ylim"])
        else:
            ax.set_ylim(0, spec["ylim"])
    ax.set_title(spec["title"])
    ax.set_xlabel(spec["xlabel"])
    ax.set_ylabel(spec["ylabel"])
    if spec["grid"]:
        ax.grid(True, alpha=0.6)
    if spec["legend"]:
        ax.legend(loc=spec.get("legend_loc", "best"))


def render_chart(spec: dict[str, Any], dpi: int = 100, tight: bool = False, pad: float = 0.1) -> Image.Image:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcdefaults()
    if spec["subplots"] == 2:
        fig, axs = plt.subplots(1, 2, figsize=(8, 6))
        draw_chart(axs[0], spec)
        other = copy.deepcopy(spec)
        other["kind"] = "line" if spec["kind"] != "line" else "bar"
        other["kind"] = "scatter" if spec["kind"] == "scatter" else other["kind"]
        draw_chart(axs[1], {**other, "title": "", "legend": False})
        fig.tight_layout()
    else:
        fig, ax = plt.subplots(figsize=(8, 6))
        draw_chart(ax, spec)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None, pad_inches=pad)
    plt.close(fig)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _swap_word(text: str, rng: random.Random, pool: list[str]) -> str:
    words = text.split()
    i = rng.randrange(len(words))
    choices = [w for w in pool if w != words[i]]
    words[i] = rng.choice(choices)
    return " ".join(words)


def _p_title(s: dict, rng: random.Random) -> str:
    s["title"] = _swap_word(s["title"], rng, WORDS + PLACES + ["2021", "2025", "Total", "Annual"])
    return "text_error"


def _p_xlabel(s: dict, rng: random.Random) -> str:
    s["xlabel"] = rng.choice([w for w in ["Period", "Segment", "Week", "Batch", "Stage"] if w != s["xlabel"]])
    return "text_error"


def _p_ylabel(s: dict, rng: random.Random) -> str:
    s["ylabel"] = _swap_word(s["ylabel"], rng, WORDS + ["(bn$)", "(ms)", "(t)"])
    return "text_error"


def _p_legend(s: dict, rng: random.Random) -> str | None:
    if not s["legend"]:
        return None
    ser = rng.choice(s["series"])
    ser["name"] = rng.choice([p for p in PLACES + ["Other", "Total", "Online"] if p != ser["name"]])
    return "text_error"


def _p_tick(s: dict, rng: random.Random) -> str | None:
    if s["kind"] == "scatter":
        return None
    cats = s["categories"]
    i = rng.randrange(len(cats))
    cats[i] = rng.choice(["Misc", "Other", "Z", "Extra", "X9"])
    return "text_error"


def _p_value(s: dict, rng: random.Random) -> str:
    ser = rng.choice(s["series"])
    i = rng.randrange(len(ser["y"]))
    top = max(max(x["y"]) for x in s["series"])
    old = ser["y"][i]
    delta = rng.uniform(0.25, 0.5) * top * rng.choice([-1, 1])
    new = min(top, max(0.05 * top, old + delta))
    if abs(new - old) < 0.2 * top:
        new = min(top, max(0.05 * top, old - delta))
    ser["y"][i] = round(new, 1)
    return "data_error"


def _p_ylim(s: dict, rng: random.Random) -> str:
    top = max(max(x["y"]) for x in s["series"])
    s["ylim"] = round(top * rng.choice([1.6, 2.0]), 0)
    return "data_error"


def _p_remove_series(s: dict, rng: random.Random) -> str | None:
    if len(s["series"]) < 2:
        return None
    s["series"].pop(rng.randrange(len(s["series"])))
    return "data_error"


def _p_colour(s: dict, rng: random.Random) -> str:
    ser = rng.choice(s["series"])
    used = {x["colour"] for x in s["series"]}
    ser["colour"] = rng.choice([c for c in PALETTE if c not in used])
    return "style_error"


def _p_linestyle(s: dict, rng: random.Random) -> str | None:
    if s["kind"] not in ("line", "multiline"):
        return None
    rng.choice(s["series"])["linestyle"] = rng.choice(["--", ":"])
    return "style_error"


def _p_marker(s: dict, rng: random.Random) -> str | None:
    if s["kind"] not in ("line", "multiline"):
        return None
    s["marker"] = "o" if s["marker"] is None else None
    return "style_error"


def _p_grid(s: dict, rng: random.Random) -> str:
    s["grid"] = not s["grid"]
    return "style_error"


def _p_type(s: dict, rng: random.Random) -> str | None:
    conv = {"bar": "line", "line": "bar", "grouped": "multiline", "multiline": "grouped", "barh": "bar"}
    if s["kind"] not in conv:
        return None
    s["kind"] = conv[s["kind"]]
    return "structure_error"


def _p_subplots(s: dict, rng: random.Random) -> str:
    s["subplots"] = 2
    return "structure_error"


CHART_PERTURBATIONS: dict[str, list[Callable[[dict, random.Random], str | None]]] = {
    "text_error": [_p_title, _p_xlabel, _p_ylabel, _p_legend, _p_tick],
    "data_error": [_p_value, _p_value, _p_ylim, _p_remove_series],
    "style_error": [_p_colour, _p_linestyle, _p_marker, _p_grid],
    "structure_error": [_p_type, _p_subplots],
}


def _perturb(spec: dict, rng: random.Random, table: dict[str, list], category: str) -> tuple[dict, str] | None:
    fns = list(table[category])
    rng.shuffle(fns)
    for fn in fns:
        s = copy.deepcopy(spec)
        if fn(s, rng) is not None:
            return s, fn.__name__.split("_", 2)[-1]
    return None


def chart_cases(n: int, seed: int = 0) -> Iterator[Case]:
    rng = random.Random(seed)
    for k in range(n):
        spec = chart_spec(rng)
        gid = f"chart-{seed}-{k}"
        ref = render_chart(spec)
        # equivalents: another dpi, a tight bounding box (other margins), a no-op code change (same spec)
        dpi = rng.choice([72, 150, 200])
        yield Case("chart", gid, "equivalent", ref, render_chart(spec, dpi=dpi), names=[f"dpi{dpi}"])
        yield Case("chart", gid, "equivalent", ref, render_chart(spec, tight=True, pad=rng.choice([0.1, 0.3])),
                   names=["tight-bbox"])
        yield from _single_and_triple("chart", gid, spec, ref, rng, CHART_PERTURBATIONS, render_chart)


def _single_and_triple(task: str, gid: str, spec: dict, ref: Image.Image, rng: random.Random,
                       table: dict[str, list], render: Callable[[dict], Image.Image]) -> Iterator[Case]:
    singles: list[tuple[str, str, dict]] = []
    for cat in table:
        got = _perturb(spec, rng, table, cat)
        if got is None:
            continue
        s, name = got
        singles.append((cat, name, s))
        yield Case(task, gid, "single", ref, render(s), categories=[cat], names=[name])
    if not singles:
        return
    # the three-error candidate: one of the single-error candidates plus two errors of other categories
    cat0, name0, s = rng.choice(singles)
    s = copy.deepcopy(s)
    applied: list[tuple[str, str]] = [(cat0, name0)]
    others = [c for c in table if c != cat0]
    rng.shuffle(others)
    for cat in others:
        fns = list(table[cat])
        rng.shuffle(fns)
        for fn in fns:
            if fn(s, rng) is not None:
                applied.append((cat, fn.__name__.split("_", 2)[-1]))
                break
        if len(applied) == 3:
            break
    if len(applied) == 3:
        yield Case(task, gid, "triple", ref, render(s), categories=[c for c, _ in applied],
                   names=[nm for _, nm in applied])


# =============================================================================================== tables

TABLE_CSS = ("body{margin:0;padding:12px;background:#fff} table{border-collapse:collapse;font-family:Arial,"
             "'Liberation Sans',sans-serif;font-size:14px} td,th{border:1px solid #333;padding:6px 10px}"
             " th{background:#eee}")
TEXT_COLS = [("Country", ["France", "Japan", "Brazil", "Canada", "Kenya", "Norway", "India", "Chile", "Spain"]),
             ("Product", ["Widget", "Gadget", "Sensor", "Module", "Cable", "Router", "Switch", "Panel"]),
             ("Team", ["Alpha", "Bravo", "Delta", "Echo", "Falcon", "Orion", "Lynx", "Nova"]),
             ("Status", ["Active", "Closed", "Pending", "Review", "Paused", "Done"])]
NUM_COLS = ["Revenue", "Units", "Share (%)", "Growth", "Cost", "Score", "Margin", "Volume"]


def table_spec(rng: random.Random) -> dict[str, Any]:
    n_rows = rng.randint(3, 6)
    tcol = rng.choice(TEXT_COLS)
    tcol2 = rng.choice([c for c in TEXT_COLS if c is not tcol])
    ncols = rng.sample(NUM_COLS, rng.randint(2, 3))
    header = [tcol[0]] + ([tcol2[0]] if rng.random() < 0.5 else []) + ncols
    rows = []
    names = rng.sample(tcol[1], n_rows)
    for i in range(n_rows):
        row = [names[i]]
        if len(header) - len(ncols) == 2:
            row.append(rng.choice(tcol2[1]))
        for _ in ncols:
            row.append(f"{rng.uniform(1, 999):.1f}" if rng.random() < 0.6 else str(rng.randint(1, 9999)))
        rows.append(row)
    return {"header": header, "rows": rows, "merge": None, "shade": True}


def table_html(spec: dict[str, Any]) -> str:
    th = "".join(f"<th>{h}</th>" for h in spec["header"])
    if not spec["shade"]:
        th = "".join(f"<td><b>{h}</b></td>" for h in spec["header"])
    body = []
    for r, row in enumerate(spec["rows"]):
        cells = []
        skip = 0
        for c, v in enumerate(row):
            if skip:
                skip -= 1
                continue
            if spec["merge"] == (r, c):
                cells.append(f"<td colspan=2>{v}</td>")
                skip = 1
            else:
                cells.append(f"<td>{v}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<html><head><style>{TABLE_CSS}</style></head><body><table><tr>{th}</tr>{''.join(body)}</table></body></html>"


class TableRenderer:
    """One headless Chromium for all tables of a run (Playwright, Debian's chromium)."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        exe = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)
        self._browser = self._pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        self._pages: dict[float, Any] = {}

    def render(self, spec: dict[str, Any], scale: float = 1.0, margin: int = 12) -> Image.Image:
        page = self._pages.get(scale)
        if page is None:
            page = self._browser.new_page(device_scale_factor=scale, viewport={"width": 1000, "height": 800})
            self._pages[scale] = page
        html = table_html(spec).replace("padding:12px", f"padding:{margin}px")
        page.set_content(html)
        png = page.locator("body").screenshot()
        img = Image.open(io.BytesIO(png)).convert("RGB")
        # crop the body to the table plus its margin (the body spans the viewport width)
        box = page.locator("table").bounding_box()
        if box:
            s = scale
            img = img.crop((0, 0, int((box["x"] + box["width"] + margin) * s),
                            min(img.height, int((box["y"] + box["height"] + margin) * s))))
        return img

    def close(self) -> None:
        self._browser.close()
        self._pw.stop()


def _t_text(s: dict, rng: random.Random) -> str | None:
    r = rng.randrange(len(s["rows"]))
    s["rows"][r][0] = rng.choice([w for w in ["Mexico", "Poland", "Egypt", "Turkey", "Vietnam", "Peru"]
                                  if w != s["rows"][r][0]])
    return "text_error"


def _t_header(s: dict, rng: random.Random) -> str | None:
    c = rng.randrange(len(s["header"]))
    s["header"][c] = rng.choice([w for w in ["Total", "Amount", "Label", "Region", "Price", "Ratio"]
                                 if w != s["header"][c]])
    return "text_error"


def _t_number(s: dict, rng: random.Random) -> str | None:
    cells = [(r, c) for r, row in enumerate(s["rows"]) for c, v in enumerate(row)
             if any(ch.isdigit() for ch in v) and s["merge"] != (r, c)]
    if not cells:
        return None
    r, c = rng.choice(cells)
    v = s["rows"][r][c]
    digits = [i for i, ch in enumerate(v) if ch.isdigit()]
    i = rng.choice(digits)
    new = str((int(v[i]) + rng.randint(1, 8)) % 10)
    if i == 0 and new == "0":
        new = "7"
    s["rows"][r][c] = v[:i] + new + v[i + 1:]
    return "numeric_error"


def _t_remove_row(s: dict, rng: random.Random) -> str | None:
    if len(s["rows"]) < 3:
        return None
    s["rows"].pop(rng.randrange(len(s["rows"])))
    return "layout_error"


def _t_remove_col(s: dict, rng: random.Random) -> str | None:
    if len(s["header"]) < 3:
        return None
    c = rng.randrange(1, len(s["header"]))
    s["header"].pop(c)
    for row in s["rows"]:
        row.pop(c)
    return "layout_error"


def _t_merge(s: dict, rng: random.Random) -> str | None:
    r = rng.randrange(len(s["rows"]))
    c = rng.randrange(len(s["header"]) - 1)
    s["merge"] = (r, c)
    return "layout_error"


TABLE_PERTURBATIONS: dict[str, list[Callable[[dict, random.Random], str | None]]] = {
    "text_error": [_t_text, _t_header],
    "numeric_error": [_t_number],
    "layout_error": [_t_remove_row, _t_remove_col, _t_merge],
}


def table_cases(n: int, seed: int = 0, renderer: TableRenderer | None = None) -> Iterator[Case]:
    rng = random.Random(seed + 1000)
    own = renderer is None
    tr = renderer or TableRenderer()
    try:
        for k in range(n):
            spec = table_spec(rng)
            gid = f"table-{seed}-{k}"
            ref = tr.render(spec)
            scale = rng.choice([1.5, 2.0])
            yield Case("table", gid, "equivalent", ref, tr.render(spec, scale=scale), names=[f"scale{scale}"])
            yield Case("table", gid, "equivalent", ref, tr.render(spec, margin=rng.choice([4, 30])), names=["margin"])
            yield from _single_and_triple("table", gid, spec, ref, rng, TABLE_PERTURBATIONS, tr.render)
    finally:
        if own:
            tr.close()


# =============================================================================================== svg

SVG_COLOURS = ["#e63946", "#457b9d", "#2a9d8f", "#f4a261", "#264653", "#8338ec", "#ffb703", "#06d6a0"]


def svg_spec(rng: random.Random) -> dict[str, Any]:
    shapes = []
    for _ in range(rng.randint(3, 5)):
        kind = rng.choice(["circle", "rect", "ellipse", "triangle", "line"])
        shapes.append({"kind": kind, "x": rng.uniform(40, 160), "y": rng.uniform(40, 160), "r": rng.uniform(18, 38),
                       "fill": rng.choice(SVG_COLOURS), "stroke": rng.choice([None, "#222222"]),
                       "sw": rng.choice([2, 3]), "opacity": 1.0})
    text = rng.choice([None, None, "GO", "OK", "A1", "Hi"])
    return {"shapes": shapes, "text": text, "mirror": False}


def _shape_svg(sh: dict[str, Any]) -> str:
    x, y, r = sh["x"], sh["y"], sh["r"]
    stroke = f' stroke="{sh["stroke"]}" stroke-width="{sh["sw"]}"' if sh["stroke"] else ""
    op = f' opacity="{sh["opacity"]}"' if sh["opacity"] != 1.0 else ""
    if sh["kind"] == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{sh["fill"]}"{stroke}{op}/>'
    if sh["kind"] == "rect":
        return f'<rect x="{x - r:.1f}" y="{y - r * 0.7:.1f}" width="{2 * r:.1f}" height="{1.4 * r:.1f}" fill="{sh["fill"]}"{stroke}{op}/>'
    if sh["kind"] == "ellipse":
        return f'<ellipse cx="{x:.1f}" cy="{y:.1f}" rx="{r:.1f}" ry="{r * 0.55:.1f}" fill="{sh["fill"]}"{stroke}{op}/>'
    if sh["kind"] == "triangle":
        pts = f"{x:.1f},{y - r:.1f} {x + r:.1f},{y + r * 0.8:.1f} {x - r:.1f},{y + r * 0.8:.1f}"
        return f'<polygon points="{pts}" fill="{sh["fill"]}"{stroke}{op}/>'
    return (f'<line x1="{x - r:.1f}" y1="{y - r * 0.5:.1f}" x2="{x + r:.1f}" y2="{y + r * 0.5:.1f}" '
            f'stroke="{sh["fill"]}" stroke-width="{sh["sw"] * 2}" stroke-linecap="round"{op}/>')


def svg_code(spec: dict[str, Any], wrap: bool = False) -> str:
    body = "".join(_shape_svg(s) for s in spec["shapes"])
    if spec["text"]:
        body += (f'<text x="100" y="192" font-family="DejaVu Sans" font-size="22" text-anchor="middle" '
                 f'fill="#111111">{spec["text"]}</text>')
    if spec["mirror"]:
        body = f'<g transform="translate(200,0) scale(-1,1)">{body}</g>'
    elif wrap:
        body = f"<g>{body}</g>"
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200" viewBox="0 0 200 200">{body}</svg>'


def render_svg(code: str, size: int = 336) -> Image.Image:
    import cairosvg

    png = cairosvg.svg2png(bytestring=code.encode(), output_width=size, output_height=size, background_color="white")
    return Image.open(io.BytesIO(png)).convert("RGB")


def _s_remove(s: dict, rng: random.Random) -> str | None:
    if len(s["shapes"]) < 2:
        return None
    s["shapes"].pop(rng.randrange(len(s["shapes"])))
    return "shape_error"


def _s_add(s: dict, rng: random.Random) -> str | None:
    s["shapes"].append({"kind": rng.choice(["circle", "rect", "triangle"]), "x": rng.uniform(40, 160),
                        "y": rng.uniform(40, 160), "r": rng.uniform(15, 28), "fill": rng.choice(SVG_COLOURS),
                        "stroke": None, "sw": 2, "opacity": 1.0})
    return "shape_error"


def _s_move(s: dict, rng: random.Random) -> str | None:
    sh = rng.choice(s["shapes"])
    sh["x"] = min(175.0, max(25.0, sh["x"] + rng.choice([-1, 1]) * rng.uniform(30, 50)))
    sh["y"] = min(175.0, max(25.0, sh["y"] + rng.choice([-1, 1]) * rng.uniform(20, 40)))
    return "shape_error"


def _s_resize(s: dict, rng: random.Random) -> str | None:
    sh = rng.choice(s["shapes"])
    sh["r"] *= rng.choice([0.55, 1.5])
    return "shape_error"


def _s_fill(s: dict, rng: random.Random) -> str | None:
    sh = rng.choice(s["shapes"])
    sh["fill"] = rng.choice([c for c in SVG_COLOURS if c != sh["fill"]])
    return "style_error"


def _s_stroke(s: dict, rng: random.Random) -> str | None:
    cands = [sh for sh in s["shapes"] if sh["stroke"] or sh["kind"] == "line"]
    if not cands:
        return None
    sh = rng.choice(cands)
    sh["sw"] = sh["sw"] * 3
    return "style_error"


def _s_opacity(s: dict, rng: random.Random) -> str | None:
    sh = rng.choice(s["shapes"])
    sh["opacity"] = 0.35
    return "style_error"


def _s_text(s: dict, rng: random.Random) -> str | None:
    if not s["text"]:
        return None
    s["text"] = rng.choice([t for t in ["NO", "OFF", "B2", "Yo", "GO!"] if t != s["text"]])
    return "text_symbol_error"


def _s_mirror(s: dict, rng: random.Random) -> str | None:
    s["mirror"] = True
    return "structure_error"


def _s_shuffle(s: dict, rng: random.Random) -> str | None:
    """Rearrange the composition: every shape to another shape's place."""
    if len(s["shapes"]) < 3:
        return None
    pos = [(sh["x"], sh["y"]) for sh in s["shapes"]]
    pos = pos[1:] + pos[:1]
    for sh, (x, y) in zip(s["shapes"], pos):
        sh["x"], sh["y"] = x, y
    return "structure_error"


SVG_PERTURBATIONS: dict[str, list[Callable[[dict, random.Random], str | None]]] = {
    "shape_error": [_s_remove, _s_add, _s_move, _s_resize],
    "style_error": [_s_fill, _s_stroke, _s_opacity],
    "text_symbol_error": [_s_text],
    "structure_error": [_s_mirror, _s_shuffle],
}


def svg_cases(n: int, seed: int = 0, icons_dir: Path | None = None) -> Iterator[Case]:
    rng = random.Random(seed + 2000)
    for k in range(n):
        spec = svg_spec(rng)
        if k % 3 == 0:
            spec["text"] = spec["text"] or rng.choice(["GO", "OK", "A1"])
        gid = f"svg-{seed}-{k}"
        ref = render_svg(svg_code(spec))
        size = rng.choice([200, 512])
        yield Case("svg", gid, "equivalent", ref, render_svg(svg_code(spec), size=size), names=[f"size{size}"])
        yield Case("svg", gid, "equivalent", ref, render_svg(svg_code(spec, wrap=True)), names=["code-noop"])
        yield from _single_and_triple("svg", gid, spec, ref, rng, SVG_PERTURBATIONS,
                                      lambda sp: render_svg(svg_code(sp)))
    if icons_dir is not None and icons_dir.is_dir():
        yield from icon_cases(icons_dir, max(1, n // 2), rng)


def icon_cases(icons_dir: Path, n: int, rng: random.Random) -> Iterator[Case]:
    """Real stroked icons (Feather): equivalents at another size, a removed element, a thicker stroke,
    another colour."""
    files = sorted(icons_dir.glob("*.svg"))
    rng.shuffle(files)
    for path in files[:n]:
        code = path.read_text()
        gid = f"icon-{path.stem}"
        ref = render_svg(code)
        yield Case("svg", gid, "equivalent", ref, render_svg(code, size=rng.choice([160, 480])), names=["icon-size"])
        elems = list(re.finditer(r"<(path|line|circle|rect|polyline|polygon|ellipse)\b[^>]*/>", code))
        if len(elems) >= 2:
            m = rng.choice(elems)
            yield Case("svg", gid, "single", ref, render_svg(code[:m.start()] + code[m.end():]),
                       categories=["shape_error"], names=["icon-remove"])
        thick = re.sub(r'stroke-width="[\d.]+"', 'stroke-width="4"', code)
        if thick != code:
            yield Case("svg", gid, "single", ref, render_svg(thick), categories=["style_error"], names=["icon-stroke"])
        red = code.replace('stroke="currentColor"', 'stroke="#d62728"')
        if red != code:
            yield Case("svg", gid, "single", ref, render_svg(red), categories=["style_error"], names=["icon-colour"])
