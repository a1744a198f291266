"""Visual-ERM wording for the critic's kept errors: name the element, then say what is wrong.

The analysers word their proposals for the learned verifier (its features read those words), so this step
runs only after the verifier has decided (``core.Critic.judge``) and never changes what it sees. It rewrites
a kept error's ``location`` and ``description`` the way a Visual-ERM verdict reads: the series by its legend
label ("'GPU' line"), the text element (title, axis label, tick label 'Q2', legend entry), the bar at its
category, the table cell by its row and column headers ("Row 3 ('Mexico'), column 'Country'"), the drawing's
part by its position and kind ("Extra shape (top-left)"), and the found value against the expected one
("'GPU' is drawn in #f781bf instead of #8c510a").

Every rewrite is built from the proposal's own evidence and words: a name appears only when the analyser
read it (a legend label that matched the series' colour, a header cell of the reference's table). An error no
rule understands keeps the analyser's wording. The analyser's wording stays in the evidence under
``proposal`` (location and description), so nothing it said is lost.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .findings import Finding

_HEX = r"#[0-9a-fA-F]{6}"
#: A colour as :func:`.colour.describe_colour` writes it: "#1f77b4 (blue)".
_COLOUR = rf"({_HEX})(?: \([^()]*\))?"
#: Series kinds as the chart analyser names them, and the word a Visual-ERM verdict uses for their marks.
_MARKS = {"bars": "bars", "line": "line", "markers": "points", "area": "area"}
#: "upper-left" -> "top-left" and so on: the words an icon's parts are placed with.
_SVG_POSITIONS = {
    "upper-left": "top-left", "upper centre": "top", "upper-right": "top-right",
    "centre-left": "left", "centre": "centre", "centre-right": "right",
    "lower-left": "bottom-left", "lower centre": "bottom", "lower-right": "bottom-right",
}
#: Shape words of the SVG analysers, and the word for the part they found.
_SVG_PARTS = {"outline": "stroke", "shape": "shape", "line": "line", "stroke": "stroke", "dot": "dot",
              "ring": "ring", "bar": "bar", "text": "text", "circle": "circle", "rectangle": "rectangle",
              "ellipse": "ellipse", "polygon": "polygon", "path": "path", "square": "square",
              "triangle": "triangle"}


def q(text: str) -> str:
    """``text`` in single quotes, as Visual-ERM verdicts quote names and values."""
    return f"'{text}'"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def is_typo(expected: str, found: str) -> bool:
    """``found`` is ``expected`` with one character replaced, added or dropped (words of four characters or
    more, letters on both sides): a typo rather than another text."""
    a, b = expected.strip(), found.strip()
    if min(len(a), len(b)) < 4 or abs(len(a) - len(b)) > 1 or a == b:
        return False
    if not any(c.isalpha() for c in a) or not any(c.isalpha() for c in b):
        return False
    ops = [op for op in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op[0] != "equal"]
    return len(ops) == 1 and max(ops[0][2] - ops[0][1], ops[0][4] - ops[0][3]) <= 1


# ============================================================================================== public


def canvas_place(box: Sequence[float], size: tuple[int, int]) -> str:
    """"top-left", "bottom", "centre"... of ``box``'s centre on a canvas of ``size`` (width, height): the
    middle 30 % of each side is the centre band."""
    fx = (box[0] + box[2]) / 2 / max(1.0, float(size[0]))
    fy = (box[1] + box[3]) / 2 / max(1.0, float(size[1]))
    v = "top" if fy < 0.35 else ("bottom" if fy > 0.65 else "")
    h = "left" if fx < 0.35 else ("right" if fx > 0.65 else "")
    return f"{v}-{h}" if v and h else (v or h or "centre")


def phrase_findings(task: str, findings: Sequence[Finding], size: tuple[int, int] | None = None) -> list[Finding]:
    """The kept findings with Visual-ERM locations and descriptions (see the module docstring); category,
    severity and box unchanged; the analyser's words kept in ``evidence["proposal"]`` when they changed.
    ``size``: the working frame's (width, height), to place an icon's parts on the canvas."""
    out = []
    for f in findings:
        ev = dict(f.evidence or {})
        place = canvas_place(f.bbox, size) if (task == "svg" and size and f.bbox is not None) else None
        try:
            loc, desc = phrase_error(task, f.location, f.description, ev, place)
        except (ValueError, TypeError, KeyError, IndexError):  # evidence of an unexpected shape: keep the words
            loc, desc = f.location, f.description
        if (loc, desc) != (f.location, f.description):
            ev["proposal"] = {"location": f.location, "description": f.description}
        out.append(Finding(f.category, f.severity, loc, desc, f.bbox, ev))
    return out


def phrase_error(task: str, location: str, description: str, evidence: Mapping[str, Any],
                 place: str | None = None) -> tuple[str, str]:
    """``(location, description)`` in Visual-ERM wording, or the analyser's own when no rule applies.
    ``place``: where an icon's part sits on the canvas (:func:`canvas_place`), else its place in the content."""
    rules = {"chart": _CHART_RULES, "table": _TABLE_RULES, "svg": _SVG_RULES}.get(task, ())
    if place:
        evidence = {**evidence, _PLACE: place}
    for rule in rules:
        got = rule(location, description, evidence)
        if got is not None:
            return _name_subplot(got, evidence) if task == "chart" else got
    return _name_subplot((location, description), evidence) if task == "chart" else (location, description)


def _name_subplot(said: tuple[str, str], ev: Mapping[str, Any]) -> tuple[str, str]:
    """"subplot 2 title" -> "Right subplot, title" when the evidence places the plot area."""
    place = ev.get("subplot")
    loc, desc = said
    m = re.match(r"subplot \d+ (.*)$", loc)
    if not place or not m:
        return said
    return f"{_cap(str(place))} subplot, {m.group(1)}", desc


# ============================================================================================== chart


def _prefix(location: str) -> tuple[str, str]:
    """("subplot 2 ", rest) for a location inside one of several plot areas; ("", location) otherwise."""
    m = re.match(r"(subplot \d+ )(.*)$", location)
    return (m.group(1), m.group(2)) if m else ("", location)


def _series(text: str) -> tuple[str | None, str | None]:
    """(name, colour) of "series 'GPU'" / "series #1f77b4 (blue)" (either may be None)."""
    m = re.fullmatch(r"series '(.+)'", text.strip())
    if m:
        return m.group(1), None
    m = re.fullmatch(rf"series {_COLOUR}", text.strip())
    if m:
        return None, m.group(1)
    return None, None


def _subject(name: str | None, colour: str | None, marks: str) -> str | None:
    """"'GPU' line" for a named series, "#1f77b4 line" for one known by its colour."""
    if name:
        return f"{q(name)} {marks}"
    if colour:
        return f"{colour} {marks}"
    return None


def subplot_names(boxes: Sequence[Sequence[float]]) -> list[str]:
    """"left", "right", "top-left"... for plot areas ``boxes`` (x0, y0, x1, y1) laid out in a grid of up to
    three rows and three columns; "" for each when they form no such grid."""
    if len(boxes) < 2:
        return [""] * len(boxes)

    def bands(centres: list[float], sizes: list[float]) -> list[int] | None:
        order = sorted(range(len(centres)), key=lambda i: centres[i])
        band, out, last = 0, [0] * len(centres), None
        for i in order:
            if last is not None and centres[i] - last > 0.5 * min(sizes):
                band += 1
            out[i], last = band, centres[i]
        return out if band < 3 else None

    rows = bands([(b[1] + b[3]) / 2 for b in boxes], [b[3] - b[1] for b in boxes])
    cols = bands([(b[0] + b[2]) / 2 for b in boxes], [b[2] - b[0] for b in boxes])
    if rows is None or cols is None or len(set(zip(rows, cols))) != len(boxes):
        return [""] * len(boxes)
    n_rows, n_cols = max(rows) + 1, max(cols) + 1
    vertical = {1: [""], 2: ["top", "bottom"], 3: ["top", "middle", "bottom"]}[n_rows]
    horizontal = {1: [""], 2: ["left", "right"], 3: ["left", "middle", "right"]}[n_cols]
    out = []
    for r, c in zip(rows, cols):
        v, h = vertical[r], horizontal[c]
        out.append("middle" if v == h == "middle" else (f"{v}-{h}" if v and h else v or h))
    return out


def name_chart_series(findings: Sequence[Finding], ref: Any) -> None:
    """Add ``evidence["series"]`` ({"name": legend label, "marks": bars/line/points/area}) to colour findings
    whose expected colour is a legend entry's colour in the reference's chart layout ``ref`` (ΔE2000 < 12, as
    the chart analyser names series), and ``evidence["subplot"]`` ("left", "top-right"...) to findings in one
    of several plot areas ("subplot 2 ..."). Strings only: the verifier's features do not change."""
    from .colour import delta_e_rgb

    places = subplot_names([ax.bbox for ax in ref.axes])
    for f in findings:
        at = re.match(r"subplot (\d+) ", f.location)
        if at and 0 < int(at.group(1)) <= len(places) and places[int(at.group(1)) - 1]:
            f.evidence = {**(f.evidence or {}), "subplot": places[int(at.group(1)) - 1]}
        ev = f.evidence or {}
        exp = ev.get("expected")
        if "series" in ev or not isinstance(exp, str) or not re.fullmatch(_HEX, exp):
            continue
        rgb = tuple(int(exp[i:i + 2], 16) for i in (1, 3, 5))
        entries = [e for e in ref.legend if e.text.strip() and delta_e_rgb(e.colour, rgb) < 12]
        if len(entries) != 1:  # no legend entry, or several of about that colour: no name
            continue
        names = {"name": entries[0].text.strip()}
        kinds = {s.kind for ax in ref.axes for s in ax.series if delta_e_rgb(s.colour, rgb) < 12}
        if len(kinds) == 1:
            names["marks"] = _MARKS.get(kinds.pop(), "")
        f.evidence = {**ev, "series": names}


def _colour_detail(desc: str) -> str:
    """" (drawn with about 40 % opacity)" from "colour #a expected, #b found: drawn with about 40 % opacity, ..."."""
    m = re.search(r" found: ([^,()]+)", desc)
    return f" ({m.group(1).strip()})" if m else ""


def _chart_series_colour(loc: str, desc: str, ev: Mapping[str, Any]) -> tuple[str, str] | None:
    m = re.match(rf"colour {_COLOUR} expected, {_COLOUR} found", desc)
    if not m:
        return None
    exp, found = m.group(1), m.group(2)
    how = _colour_detail(desc)
    pre, rest = _prefix(loc)
    named = ev.get("series") if isinstance(ev.get("series"), Mapping) else {}
    s = re.fullmatch(r"(.*?) \((bars|line|markers|area)\)", rest)
    if s:
        name, colour = _series(s.group(1))
        name = name or named.get("name")
        marks = _MARKS[s.group(2)]
        if name:
            return f"{pre}{q(name)} {marks}", f"{q(name)} is drawn in {found} instead of {exp}{how}."
        if colour:
            verb = "are" if marks in ("bars", "points") else "is"
            return f"{pre}{exp} {marks}", f"The {exp} {marks} {verb} drawn in {found} instead of {exp}{how}."
    if named.get("name"):
        marks = f" {named['marks']}" if named.get("marks") else ""
        return f"{pre}{q(named['name'])}{marks}", f"{q(named['name'])} is drawn in {found} instead of {exp}{how}."
    places = re.search(r"\((\d+) places\)", desc)
    where = f" ({places.group(1)} places)" if places else ""
    return loc, f"Elements drawn in {exp} are drawn in {found} instead{how}{where}."


def _text_element(rest: str) -> str | None:
    """The kind of text a chart location names: title, axis label, legend entry."""
    r = rest.lower()
    if r in ("title", "figure title", "suptitle"):
        return "title"
    if r.endswith(("x-axis label", "y-axis label")):
        return r[-12:]
    if r == "legend":
        return "legend entry"
    return None


def _text_change(element: str, ev: Mapping[str, Any]) -> str | None:
    """What happened to one text (missing, changed, extra, misplaced, resized), named as ``element``."""
    kind = ev.get("kind")
    exp, found = str(ev.get("expected") or ""), str(ev.get("found") or "")
    if kind == "missing" and exp:
        return f"The {element} {q(exp)} is missing."
    if kind == "changed" and exp and found:
        if element == "legend entry":
            return f"The legend entry {q(exp)} reads {q(found)}."
        if is_typo(exp, found):
            return f"Typo in the {element}: {q(found)} instead of {q(exp)}."
        return f"The {element} reads {q(found)} instead of {q(exp)}."
    if kind == "extra" and found:
        return f"An extra {element} {q(found)} that the reference does not have appears."
    if kind == "moved" and exp:
        return f"The {element} {q(exp)} is misplaced."
    if kind == "resized" and exp:
        return f"The {element} {q(exp)} is drawn at a different size."
    return None


def _chart_text(loc: str, desc: str, ev: Mapping[str, Any]) -> tuple[str, str] | None:
    if ev.get("kind") not in ("missing", "changed", "extra", "moved", "resized") or "texts" in ev:
        return None
    if not isinstance(ev.get("expected", ""), str) or not isinstance(ev.get("found", ""), str):
        return None
    pre, rest = _prefix(loc)
    element = _text_element(rest)
    if element is None:
        said = _text_change("text", ev)
        return (loc, said) if said else None
    said = _text_change(element, ev)
    if said is None:
        return None
    where = {"legend entry": "legend"}.get(element, element)
    return f"{pre}{where}", said


def _quoted(values: Sequence[Any]) -> str:
    return ", ".join(q(str(v)) for v in values)


def _chart_ticks(loc: str, desc: str, ev: Mapping[str, Any]) -> tuple[str, str] | None:
    pre, rest = _prefix(loc)
    m = re.fullmatch(r"([xy])-axis tick labels", rest)
    if not m:
        return None
    axis = f"{m.group(1)}-axis"
    exp = [str(v) for v in ev.get("expected") or [] if str(v)]
    found = [str(v) for v in ev.get("found") or [] if str(v)]
    r = re.fullmatch(r"([xy])-axis range differs \(scale or limits\): (.+)", desc)
    if r:
        return f"{pre}{_cap(axis)} range", f"The {axis} range differs (scale or limits): {r.group(2)}."
    if not desc.startswith("tick"):
        return None
    if desc.startswith("tick values differ"):
        said = f"The {axis} scale or range differs: tick values {', '.join(exp) or 'none'} expected, " \
               f"{', '.join(found) or 'none'} found."
        return f"{pre}{_cap(axis)}", said
    if len(exp) == 1 and len(found) == 1:
        return f"{pre}{_cap(axis)} tick label {q(exp[0])}", f"The tick label {q(exp[0])} reads {q(found[0])}."
    if len(exp) == 1 and not found:
        return f"{pre}{_cap(axis)} tick label {q(exp[0])}", f"The tick label {q(exp[0])} is missing."
    if not exp and len(found) == 1:
        return f"{pre}{_cap(axis)} tick labels", f"An extra tick label {q(found[0])} appears."
    if exp and found:
        return f"{pre}{_cap(axis)} tick labels", f"The tick labels {_quoted(exp)} read {_quoted(found)}."
    if exp:
        return f"{pre}{_cap(axis)} tick labels", f"The tick labels {_quoted(exp)} are missing."
    return None


def _chart_legend(loc: str, desc: str, ev: Mapping[str, Any]) -> tuple[str, str] | None:
    pre, rest = _prefix(loc)
    if rest != "legend":
        return None
    m = re.fullmatch(r"legend placed at the (.+) instead of the (.+)", desc)
    if m:
        return f"{pre}legend", f"The legend is placed at the {m.group(1)} instead of the {m.group(2)}."
    if re.fullmatch(r"legend with \d+ entries is missing", desc):
        entries = [str(e) for e in ev.get("entries") or []][:6]
        listed = f" (entries {_quoted(entries)})" if entries else ""
        return f"{pre}legend", f"The legend{listed} is missing."
    if re.fullmatch(r"unexpected legend with \d+ entries", desc):
        return f"{pre}legend", "A legend that the reference does not have is drawn."
    return None


def _series_location(rest: str) -> tuple[str | None, str | None, str] | None:
    """(name, colour, marks) of "line of series X", "markers of series X", "plot area, series X",
    "bars of series X"."""
    m = re.fullmatch(r"(line|markers|bars) of (series .+)", rest)
    if m:
        name, colour = _series(m.group(2))
        return name, colour, _MARKS[m.group(1)]
    return None


def _chart_series_data(loc: str, desc: str, ev: Mapping[str, Any]) -> tuple[str, str] | None:
    pre, rest = _prefix(loc)
    # one bar's value, from each image's own axis calibration
    m = re.fullmatch(r"bar \d+(?: \('(.+)'\))? of (series .+)", rest)
    d = re.fullmatch(r"bar (?:height|length) differs by (\d+) % of the [xy]-axis range"
                     r"(?: \((.+) expected, (.+) found\))?", desc)
    if m and d:
        cat, (name, colour) = m.group(1), _series(m.group(2))
        at = f" at {q(cat)}" if cat else ""
        who = _subject(name, colour, "bars")
        if who is None:
            return None
        if ev.get("units") == "data" and d.group(2):
            value = f"{q(cat)}: {d.group(3)} instead of {d.group(2)}" if cat else f"{d.group(3)} instead of {d.group(2)}"
        else:
            value = (f"{q(cat)}: " if cat else "") + f"off by {d.group(1)} % of the axis range"
        whose = f" for {q(name)}" if name else ""
        return f"{pre}{who}{at}", f"Wrong value{whose} ({value})."
    m = re.fullmatch(r"bars of (series .+)", rest)
    d = re.match(r"\d+ of \d+ bars differ in (?:height|length) \(up to (\d+) % of the axis range\): (.+)", desc)
    if m and d:
        name, colour = _series(m.group(1))
        who = _subject(name, colour, "bars")
        items = re.findall(r"\d+ \('(.+?)'\): (\S+) expected, (\S+) found", d.group(2))
        if who and items:
            cats = ", ".join(q(c) for c, _, _ in items)
            values = "; ".join(f"{q(c)}: {b} instead of {a}" for c, a, b in items)
            whose = f" for {q(name)}" if name else ""
            return f"{pre}{who} at {cats}", f"Wrong values{whose} ({values})."
    s = _series_location(rest)
    if s is not None:
        name, colour, marks = s
        who = _subject(name, colour, marks)
        if who is None:
            return None
        whose = q(name) if name else f"the {colour} {marks}"
        d = re.match(r"(line shape|point positions) differ(?: in data \w+)?: up to (\d+) % of the ([xy]-axis) range",
                     desc)
        if d:
            if d.group(1) == "point positions":
                return f"{pre}{who}", (f"Points of {whose} are displaced (wrong values, up to {d.group(2)} % of the "
                                       f"{d.group(3)} range).")
            return f"{pre}{who}", f"Wrong values for {whose} (off by up to {d.group(2)} % of the {d.group(3)} range)."
        if desc == "the series covers a different x range":
            return f"{pre}{who}", f"{_cap(whose)} covers a different x range."
        if desc.startswith("marks of the series differ"):
            return f"{pre}{who}", f"The marks of {whose} differ in shape or position."
        st = re.fullmatch(r"line style differs \(([a-z -]+?) expected, ([a-z -]+?) found\)", desc)
        if st:
            return f"{pre}{who}", f"{_cap(whose)} is {st.group(2)} instead of {st.group(1)}."
        mk = re.fullmatch(r"marker shape differs \((.+?) markers expected, (.+?) found\)", desc)
        if mk:
            return f"{pre}{_subject(name, colour, 'markers')}", \
                f"{_cap(whose)} uses {mk.group(2)} markers instead of {mk.group(1)} markers."
        lw = re.fullmatch(r"line width differs \(([\d.]+)x the reference's ink\)", desc)
        if lw:
            ratio = float(lw.group(1))
            how = "thicker" if ratio > 1 else "thinner"
            return f"{pre}{who}", f"{_cap(whose)} is drawn {how} than in the reference ({lw.group(1)}x its ink)."
    # a whole series missing or added
    m = re.fullmatch(r"plot area, (series .+)", rest)
    if m:
        name, colour = _series(m.group(1))
        gone = re.fullmatch(r"series .+ \((bars|line|markers|area)\) is missing", desc)
        extra = re.fullmatch(r"unexpected series .+ \((bars|line|markers|area)\)(?: drawn in .*)?", desc)
        if gone:
            marks = _MARKS[gone.group(1)]
            who = _subject(name, colour, marks)
            if who:
                series = q(name) if name else f"{colour} {marks}"
                return f"{pre}{who}", f"The {series} series is missing."
        if extra:
            marks = _MARKS[extra.group(1)]
            who = _subject(name, colour, marks)
            if who:
                series = q(name) if name else f"{colour} {marks}"
                return f"{pre}{who}", f"An extra series {series} that is not in the reference is plotted."
    return None


def _chart_structure(loc: str, desc: str, ev: Mapping[str, Any]) -> tuple[str, str] | None:
    pre, _ = _prefix(loc)
    m = re.fullmatch(r"chart type differs: (.+?) expected, (.+?) found", desc)
    if m:
        a, b = (t if "chart" in t or "plot" in t else f"{t} chart" for t in (m.group(1), m.group(2)))
        return f"{pre}chart type", f"The chart type differs: the {a} is drawn as a {b}."
    m = re.fullmatch(r"subplots arranged (\d+x\d+) expected, (\d+x\d+) found", desc)
    if m:
        return "Subplot layout", f"The subplots are arranged {m.group(2)} instead of {m.group(1)}."
    return None


def _chart_style(loc: str, desc: str, ev: Mapping[str, Any]) -> tuple[str, str] | None:
    pre, rest = _prefix(loc)
    if rest.endswith("colour map") and desc.startswith("colour map differs"):
        n = re.search(r"(\d+) colours", desc)
        many = f" ({n.group(1)} colours repainted)" if n else ""
        return f"{pre}Colour map", f"A different colour map or palette is used{many}."
    if rest.endswith("grid"):
        states = re.findall(r"(\w+) grid lines (missing|unexpected) \((\d+) expected, (\d+) found\)", desc)
        if states and len({st for _, st, _, _ in states}) == 1:
            axes = " and ".join(a for a, _, _, _ in states)
            if states[0][1] == "missing":
                return f"{pre}grid lines", f"The {axes} grid lines are missing."
            return f"{pre}grid lines", f"{_cap(axes)} grid lines are drawn although the reference has none."
        m = re.match(r"grid line style differs", desc)
        if m:
            return f"{pre}grid lines", "The grid lines are drawn in another line style" + desc[len(m.group(0)):] + "."
    return None


_CHART_RULES = (_chart_series_colour, _chart_ticks, _chart_legend, _chart_text, _chart_series_data,
                _chart_structure, _chart_style)


# ============================================================================================== table


def table_cell_names(grid: Sequence[Sequence[str]], row: int, col: int) -> dict[str, str]:
    """What a Visual-ERM verdict calls cell (``row``, ``col``) (0-based) of a table whose cell texts are
    ``grid`` (rows of strings): its data row counted from 1 below the header rows with the row's first cell,
    or its header row; and its column by the header cell text ("group / name" under a two-row header).
    Values are strings (``"row"``, ``"row_label"``, ``"header_row"``, ``"column"``); absent when unknown."""
    from .ocr import parse_number

    n_rows = len(grid)
    if n_rows == 0 or not 0 <= row < n_rows:
        return {}

    def numeric_row(r: int) -> bool:
        return any(parse_number(t.replace(" ", "")) is not None for t in grid[r] if t)

    # header rows: one, or two when the first two rows hold no numbers, later rows do, and a header cell spans
    # columns or rows (an empty cell in the first two rows)
    heads = 1
    if n_rows > 3 and not numeric_row(0) and not numeric_row(1) and any(numeric_row(r) for r in range(2, n_rows)):
        spans = any(not t.strip() for t in grid[0]) or any(not t.strip() for t in grid[1])
        heads = 2 if spans and any(t.strip() for t in grid[1]) else 1
    out: dict[str, str] = {}
    if row < heads:
        out["header_row"] = str(row + 1)
    else:
        out["row"] = str(row - heads + 1)
        label = grid[row][0].strip() if grid[row] else ""
        if label:
            out["row_label"] = label
    header = grid[heads - 1]
    if 0 <= col < len(header) and header[col].strip():
        name = header[col].strip()
        if heads == 2:
            group = next((grid[0][c].strip() for c in range(col, -1, -1) if c < len(grid[0]) and grid[0][c].strip()),
                         "")
            if group and group != name and col > 0:
                name = f"{group} / {name}"
        out["column"] = name
    return out


def name_table_cells(findings: Sequence[Finding], layout: Any) -> None:
    """Add ``evidence["cell"]`` (:func:`table_cell_names` of the reference's cell under each finding's box) to
    table findings, and ``duplicate_of`` when an extra row or column repeats one of the reference's. The key
    holds strings only, so the verifier's features (numeric evidence) do not change."""
    from .table import cell_grid

    grid = cell_grid(layout)
    if not grid:
        return
    rows = [" | ".join(t for t in r if t) for r in grid]
    for f in findings:
        if f.bbox is None or "cell" in (f.evidence or {}):
            continue
        rc = layout.cell_of((f.bbox[0] + f.bbox[2]) / 2, (f.bbox[1] + f.bbox[3]) / 2)
        at = re.fullmatch(r"merged cells \(row (\d+) col (\d+)\)", f.location)  # the analyser's own cell
        if at and 0 < int(at.group(1)) <= len(grid) and 0 < int(at.group(2)) <= len(grid[0]):
            rc = (int(at.group(1)) - 1, int(at.group(2)) - 1)
        if rc is None:
            continue
        names = table_cell_names(grid, *rc)
        m = re.fullmatch(r"unexpected extra row \('(.*)'\)", f.description)
        if m:
            same = [r for r, text in enumerate(rows) if text and text[:60] == m.group(1)]
            if same:
                dup = table_cell_names(grid, same[0], 0)
                if dup.get("row"):
                    names = {"duplicate_of": dup["row"]}
        m = re.fullmatch(r"unexpected extra column '(.*)'", f.description)
        if m and m.group(1) in [t.strip() for t in grid[0]]:
            names = {"duplicate_of": m.group(1)}
        if names:
            f.evidence = {**(f.evidence or {}), "cell": names}


def table_location(names: Mapping[str, str]) -> str | None:
    """"Row 3 ('Mexico'), column 'Country'" / "Header row 1, column 'Team'" from :func:`table_cell_names`."""
    if "header_row" in names:
        row = f"Header row {names['header_row']}"
    elif "row" in names:
        row = f"Row {names['row']}" + (f" ({q(names['row_label'])})" if names.get("row_label") else "")
    else:
        return None
    return f"{row}, column {q(names['column'])}" if names.get("column") else row


def numeric_change(expected: str, found: str) -> str:
    """How a number was miswritten: a wrong sign, a misplaced decimal point, rounding, one wrong digit, or
    another value."""
    from .ocr import parse_number

    a, b = parse_number(expected.replace(" ", "")), parse_number(found.replace(" ", ""))
    if a is not None and b is not None and a != 0:
        if b == -a:
            return "Wrong sign"
        for f in (10.0, 100.0, 1000.0):
            if abs(abs(b) * f - abs(a)) <= 1e-9 * f * max(1.0, abs(a)) or abs(abs(a) * f - abs(b)) <= 1e-9 * f * max(1.0, abs(b)):
                factor = f"value off by a factor of {f:g}"
                if "." in expected + found:
                    return f"Misplaced decimal point ({factor})"
                return _cap(factor)
        ea, eb = expected.strip(), found.strip()
        if len(eb) < len(ea) and ea.startswith(eb.rstrip(".")) and "." in ea:
            return "Value rounded (a decimal digit is missing)"
    ea, eb = expected.strip(), found.strip()
    if len(ea) == len(eb) and sum(x != y for x, y in zip(ea, eb)) == 1 and any(c.isdigit() for c in ea):
        return "Wrong digit"
    return "Wrong value"


def _table_cell(loc: str, desc: str, ev: Mapping[str, Any]) -> tuple[str, str] | None:
    names = ev.get("cell")
    if not isinstance(names, Mapping) or not re.fullmatch(r"(?:row \d+|header row), column \d+", loc):
        return None
    where = table_location(names)
    if where is None:
        return None
    kind = ev.get("kind")
    exp, found = str(ev.get("expected") or ""), str(ev.get("found") or "")
    numeric = "expected_value" in ev or desc.startswith("value ")
    if kind == "changed" and exp and found:
        if numeric or re.fullmatch(r"value .+ expected, .+ found.*", desc):
            if desc.startswith(f"value {exp} expected, written as"):
                return where, f"The value {q(exp)} at {where} is written as {q(found)}."
            return where, f"{numeric_change(exp, found)}: {q(found)} instead of {q(exp)} at {where}."
        if is_typo(exp, found):
            return where, f"Typo: {q(found)} instead of {q(exp)}."
        return where, f"The cell reads {q(found)} instead of {q(exp)}."
    if kind == "missing" and exp:
        return where, f"The value {q(exp)} at {where} is missing (empty cell)."
    if kind == "extra" and found:
        return where, f"The cell at {where} holds {q(found)}, which the reference does not have."
    if kind == "glyphs" and exp:
        return where, (f"The value {q(exp)} at {where} is drawn with other glyphs (a sign, decimal point or "
                       "confusable letter differs).")
    return where, desc


def _table_rows(loc: str, desc: str, ev: Mapping[str, Any]) -> tuple[str, str] | None:
    names = ev.get("cell")
    names = names if isinstance(names, Mapping) else {}
    m = re.fullmatch(r"row \d+ is missing \('(.*)'\)", desc)
    if m and names.get("row"):
        label = names.get("row_label") or m.group(1).split(" | ")[0]
        row = f"Row {names['row']} ({q(label)})" if label else f"Row {names['row']}"
        return row, f"{row} is missing."
    m = re.fullmatch(r"unexpected extra row \('(.*)'\)", desc)
    if m:
        first = m.group(1).split(" | ")[0]
        dup = names.get("duplicate_of")
        if dup:
            row = f"Row {dup} ({q(first)})" if first else f"Row {dup}"
            return row, f"{row} appears twice."
        return f"Extra row ({q(first)})" if first else "Extra row", \
            f"An extra row {q(m.group(1))} that the reference does not have appears."
    m = re.fullmatch(r"(\d+) cell boundary\(ies\) merged that should be separate", desc)
    where = table_location(names) if names else None
    if m and where:
        n = int(m.group(1))
        return where, (f"The cell at {where} is merged with a neighbouring cell." if n == 1 else
                       f"{n} cells around {where} are merged with their neighbours.")
    m = re.fullmatch(r"column '(.*)' is missing", desc)
    if m:
        return f"Column {q(m.group(1))}", f"Column {q(m.group(1))} is missing."
    m = re.fullmatch(r"unexpected extra column '(.*)'", desc)
    if m:
        if names.get("duplicate_of"):
            return f"Column {q(m.group(1))}", f"Column {q(m.group(1))} appears twice."
        return f"Extra column {q(m.group(1))}", f"An extra column {q(m.group(1))} that the reference does not have appears."
    return None


_TABLE_RULES = (_table_rows, _table_cell)


# ============================================================================================== svg


_PLACE = "_canvas_place"  # passed to the rules with the evidence, never stored


def _svg_place(location: str, ev: Mapping[str, Any] | None = None) -> str | None:
    """"top-left" for "upper-left shape" / "text at the upper-left" (the canvas place when known); None for
    other locations."""
    m = re.fullmatch(r"(?:fill/stroke of the )?(.+?) shape", location) or re.fullmatch(r"text at the (.+)", location)
    if not m or m.group(1) not in _SVG_POSITIONS:
        return None
    return str((ev or {}).get(_PLACE) or _SVG_POSITIONS[m.group(1)])


def _svg_direction(dx: float, dy: float) -> str:
    big = max(abs(dx), abs(dy), 1e-9)
    parts = []
    if abs(dx) >= 0.35 * big:
        parts.append("right" if dx > 0 else "left")
    if abs(dy) >= 0.35 * big:
        parts.append("down" if dy > 0 else "up")
    return " and ".join(parts)


def _svg_shape(loc: str, desc: str, ev: Mapping[str, Any]) -> tuple[str, str] | None:
    pos = _svg_place(loc, ev)
    if pos is None or loc.startswith(("fill/stroke", "text at")):
        return None
    m = re.fullmatch(r"(\w+)(?: \((" + _HEX + r")(?: \([^()]*\))?\))? missing from the candidate", desc)
    if m and m.group(1) in _SVG_PARTS:
        part, colour = _SVG_PARTS[m.group(1)], f" ({m.group(2)})" if m.group(2) else ""
        return f"{_cap(pos)} {part}", f"The {pos} {part}{colour} is missing."
    m = re.fullmatch(r"unexpected extra (\w+)(?: \((" + _HEX + r")(?: \([^()]*\))?\))?", desc)
    if m and m.group(1) in _SVG_PARTS:
        part, colour = _SVG_PARTS[m.group(1)], f" ({m.group(2)})" if m.group(2) else ""
        return f"Extra {part} ({pos})", \
            f"An extraneous {part}{colour} that the reference does not have appears at the {pos}."
    m = re.fullmatch(r"(\w+)(?: \(" + _HEX + r"(?: \([^()]*\))?\))? changed shape \(outlines overlap (\d+) %\)", desc)
    if m and m.group(1) in _SVG_PARTS:
        part = _SVG_PARTS[m.group(1)]
        return f"{_cap(pos)} {part}", f"The outline of the {pos} {part} is distorted (outlines overlap {m.group(2)} %)."
    m = re.fullmatch(r"(\w+)(?: \(" + _HEX + r"(?: \([^()]*\))?\))? (?:deformed or resized|resized or deformed) "
                     r"\(overlap (\d+) % of the reference's ink\)", desc)
    if m and m.group(1) in _SVG_PARTS:
        part = _SVG_PARTS[m.group(1)]
        return f"{_cap(pos)} {part}", (f"The {pos} {part} is deformed or resized (it covers {m.group(2)} % of the "
                                       "reference's ink).")
    m = re.fullmatch(r"(\w+)(?: \(" + _HEX + r"(?: \([^()]*\))?\))? moved by (\d+) % of the canvas diagonal "
                     r"\(([+-]?\d+), ([+-]?\d+) px\)", desc)
    if m and m.group(1) in _SVG_PARTS:
        part = _SVG_PARTS[m.group(1)]
        way = _svg_direction(float(m.group(3)), float(m.group(4)))
        return f"{_cap(pos)} {part}", f"The {pos} {part} is moved {way} by about {m.group(2)}% of the canvas."
    m = re.fullmatch(r"(\w+) \((" + _HEX + r")(?: \([^()]*\))?\) moved by (\d+) % of the canvas diagonal", desc)
    if m and m.group(1) in _SVG_PARTS:
        part = _SVG_PARTS[m.group(1)]
        return f"{_cap(pos)} {part}", f"The {pos} {part} ({m.group(2)}) is moved by about {m.group(3)}% of the canvas."
    m = re.fullmatch(r"(\w+) moved by (\d+) % of the canvas diagonal \(towards the (.+)\)", desc)
    if m and m.group(1) in _SVG_PARTS:
        part = _SVG_PARTS[m.group(1)]
        to = _SVG_POSITIONS.get(m.group(3), m.group(3))
        return f"{_cap(pos)} {part}", f"The {pos} {part} is moved towards the {to} by about {m.group(2)}% of the canvas."
    m = re.fullmatch(r"(\w+) drawn (thicker|thinner) \(stroke width ([\d.]+)x the reference\)", desc)
    if m:
        part = _SVG_PARTS.get(m.group(1), m.group(1))
        part = "outline" if part == "stroke" else part
        return f"{_cap(pos)} {part}", f"The stroke of the {pos} {part} is {m.group(2)} ({m.group(3)}x the reference)."
    m = re.fullmatch(r"stroke width differs \(ink ([\d.]+)x the reference\)", desc)
    if m:
        how = "thicker" if float(m.group(1)) > 1 else "thinner"
        return f"{_cap(pos)} shape", f"The stroke of the {pos} shape is {how} (ink {m.group(1)}x the reference)."
    m = re.fullmatch(r"stroke width differs \((thicker|thinner) (\w+).*\)", desc)
    if m:
        part = _SVG_PARTS.get(m.group(2), "shape")
        part = "outline" if part == "stroke" else part
        return f"{_cap(pos)} {part}", f"The stroke of the {pos} {part} is {m.group(1)}."
    return None


def _svg_colour(loc: str, desc: str, ev: Mapping[str, Any]) -> tuple[str, str] | None:
    m = re.match(rf"colour {_COLOUR} expected, {_COLOUR} found", desc)
    if not m:
        return None
    pos = _svg_place(loc, ev)
    if loc == "background":
        return "Canvas background", f"The background is {m.group(2)} instead of {m.group(1)}."
    if pos is None:
        return None
    return f"{_cap(pos)} shape", f"The {pos} shape is drawn in {m.group(2)} instead of {m.group(1)}{_colour_detail(desc)}."


def _svg_text(loc: str, desc: str, ev: Mapping[str, Any]) -> tuple[str, str] | None:
    if not loc.startswith("text at the "):
        return None
    pos = _svg_place(loc, ev) or loc[len("text at the "):]
    kind = ev.get("kind")
    exp, found = str(ev.get("expected") or ""), str(ev.get("found") or "")
    where = f"Text ({pos})"
    if kind == "changed" and exp and found:
        if is_typo(exp, found):
            return where, f"The text has a typo: {q(found)} instead of {q(exp)}."
        return where, f"The text reads {q(found)} instead of {q(exp)}."
    if kind == "missing" and exp:
        return where, f"The text {q(exp)} is missing."
    if kind == "extra" and found:
        return where, f"An extra text {q(found)} that the reference does not have appears."
    if desc.startswith("text or symbol glyphs differ"):
        return where, "The text or symbol glyphs differ" + desc[len("text or symbol glyphs differ"):] + "."
    return where, desc


_SVG_RULES = (_svg_text, _svg_colour, _svg_shape)
