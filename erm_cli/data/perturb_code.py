"""Perturbations of user-supplied chart code (``erm synth --source``): edits of literals found by AST.

A user's matplotlib or plotly script has no spec, so the edits work on its literals: strings passed
to title/label calls, numbers in data lists, colour, line-style and marker keywords, ``grid`` and
``set_yscale`` calls, legend locations. Each site is found with :mod:`ast` (so the context names the
location: "Title", "Data series 'sales'", "Colour of 'Revenue'") and replaced in the source text,
leaving every other character of the script untouched.
"""

from __future__ import annotations

import ast
import copy
import random
from dataclasses import dataclass, field
from typing import Any

from .colors import colour_severity, pick_different, to_hex
from .perturbation import Edit, PerturbationInfo, make_typo, quote, registry, severity_from_ratio

TITLE_CALLS = {
    "set_title": "Title",
    "title": "Title",
    "suptitle": "Figure title",
    "set_xlabel": "X-axis label",
    "xlabel": "X-axis label",
    "set_ylabel": "Y-axis label",
    "ylabel": "Y-axis label",
    "text": "Annotation",
    "annotate": "Annotation",
    "set_text": "Text",
}
TEXT_KEYWORDS = {
    "label": "Legend entry",
    "title": "Title",
    "title_text": "Axis title",
    "name": "Legend entry",
    "xlabel": "X-axis label",
    "ylabel": "Y-axis label",
    "text": "Text",
}
COLOUR_KEYWORDS = (
    "color",
    "c",
    "facecolor",
    "edgecolor",
    "marker_color",
    "fillcolor",
    "colors",
    "line_color",
)
LINESTYLE_NAMES = {
    "-": "solid",
    "--": "dashed",
    "-.": "dash-dot",
    ":": "dotted",
    "solid": "solid",
    "dashed": "dashed",
    "dashdot": "dash-dot",
    "dotted": "dotted",
    "dash": "dashed",
    "dot": "dotted",
}
MARKERS = ("o", "s", "^", "D", "v", "x", "*", "+")
LEGEND_LOCS = (
    "upper left",
    "upper right",
    "lower left",
    "lower right",
    "center",
    "upper center",
    "lower center",
    "center left",
    "center right",
    "best",
)


@dataclass
class Site:
    """A literal in the source: its text span, value and what it means for the chart."""

    kind: str  # title | text | numbers | categories | colour | linestyle | marker | grid | scale | legend_loc | size
    start: int
    end: int
    value: object
    location: str
    key: str
    nodes: list[tuple[int, int, object]] = field(default_factory=list)  # (start, end, value) of list elements


@dataclass
class CodeDoc:
    """User chart code (matplotlib or plotly) with edits applied to its text."""

    source: str
    kind: str = "matplotlib"
    code_style: int = 0  # bit 0: an extra explanatory comment at the top (invisible)

    def copy(self) -> "CodeDoc":
        return copy.deepcopy(self)

    def code(self) -> str:
        if self.code_style & 1:
            return "# Chart reproduced from the reference figure.\n" + self.source
        return self.source

    def replace(self, start: int, end: int, text: str) -> None:
        self.source = self.source[:start] + text + self.source[end:]

    def sites(self) -> list[Site]:
        return find_sites(self.source)


def _call_name(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Attribute):
        return f.attr
    if isinstance(f, ast.Name):
        return f.id
    return ""


def _str(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def find_sites(source: str) -> list[Site]:
    """Every literal the perturbations can edit, with its meaning.

    Texts, colours and number lists come from the shared literal finder
    (:func:`erm_cli.refine.literals.python_literals`, exact source spans); style keywords that are not
    displayed text (line styles, markers, ``grid(True)``, axis scales, legend locations) are found here.
    """
    from ..refine.literals import python_literals

    try:
        lits = python_literals(source)
    except (SyntaxError, ValueError, RecursionError):
        return []
    sites: list[Site] = []
    labels: dict[int, str] = {}  # enclosing call -> its label / name text
    for lit in lits.literals:
        if lit.role == "text" and lit.key in ("label", "name") and lit.call_pos >= 0:
            labels[lit.call_pos] = str(lit.value)
    texts_by_group: dict[int, list] = {}
    for lit in lits.literals:
        if lit.role == "text":
            if lit.group is not None:
                texts_by_group.setdefault(lit.group, []).append(lit)
                continue
            if lit.call in TITLE_CALLS and lit.key == "#0":
                sites.append(Site("title", lit.start, lit.end, lit.value, TITLE_CALLS[lit.call], ""))
            elif lit.key in TEXT_KEYWORDS and lit.call not in ("legend", "savefig"):
                kind = "text" if lit.key in ("label", "name") else "title"
                sites.append(Site(kind, lit.start, lit.end, lit.value, TEXT_KEYWORDS[lit.key], ""))
        elif lit.role == "colour" and to_hex(str(lit.value)):
            label = labels.get(lit.call_pos)
            where = (
                f"Colour of {quote(label)}"
                if label
                else (
                    f"Colours of the {lit.call} elements"
                    if lit.group is not None
                    else f"Colour ({lit.call or lit.key})"
                )
            )
            sites.append(Site("colour", lit.start, lit.end, lit.value, where, ""))
        elif lit.role == "number" and lit.key in ("fontsize", "size") and lit.call in TITLE_CALLS:
            sites.append(
                Site("size", lit.start, lit.end, float(lit.value), f"{TITLE_CALLS[lit.call]} font size", "")
            )
    for group in texts_by_group.values():
        if len(group) >= 2:
            var = group[0].key if group[0].call == "=" else ""
            site = Site(
                "categories",
                group[0].start,
                group[-1].end,
                [str(x.value) for x in group],
                f"Category labels {quote(var)}" if var else "Category labels",
                "",
            )
            site.nodes = [(x.start, x.end, str(x.value)) for x in group]
            sites.append(site)
    for nl in lits.number_lists:
        if len(nl.items) >= 3:
            site = Site(
                "numbers",
                nl.items[0].start,
                nl.items[-1].end,
                nl.values,
                f"Data series {quote(nl.var)}" if nl.var else "Data values",
                "",
            )
            site.nodes = [(x.start, x.end, float(x.value)) for x in nl.items]
            sites.append(site)
    sites += _style_sites(source, {x.start for x in sites})
    sites.sort(key=lambda x: x.start)
    for i, site in enumerate(sites):  # edits replace literals by literals, so the order is stable
        site.key = f"site{i}"
    return sites


def _style_sites(source: str, taken: set[int]) -> list[Site]:
    """Style keywords the shared literal finder leaves out because they are not displayed text."""
    from ..refine.literals import _line_offsets

    tree = ast.parse(source)
    lines = source.splitlines(keepends=True) or [""]
    offs = _line_offsets(source)

    def span(n: ast.AST) -> tuple[int, int]:
        def at(lineno: int, col: int) -> int:
            return offs[lineno - 1] + len(
                lines[lineno - 1].encode("utf-8")[:col].decode("utf-8", errors="ignore")
            )

        return at(n.lineno, n.col_offset), at(n.end_lineno, n.end_col_offset)  # type: ignore[attr-defined]

    out: list[Site] = []

    def add(kind: str, n: ast.AST, value: object, location: str) -> None:
        s, e = span(n)
        if s not in taken:
            out.append(Site(kind, s, e, value, location, ""))

    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        first = node.args[0] if node.args else None
        if (
            name == "grid"
            and isinstance(first, ast.Constant)
            and isinstance(first.value, bool)
            and not (first.value and node.keywords)
        ):
            add("grid", first, first.value, "Grid lines")
        if name in ("set_yscale", "yscale", "set_xscale", "xscale") and first is not None and _str(first):
            add("scale", first, _str(first), f"{'X' if 'x' in name else 'Y'}-axis scale")
        label = next(
            (_str(k.value) for k in node.keywords if k.arg in ("label", "name") and _str(k.value)), None
        )
        for kw in node.keywords:
            v = kw.value
            if kw.arg in ("linestyle", "ls", "dash") and _str(v) in LINESTYLE_NAMES:
                add("linestyle", v, _str(v), f"Line style of {quote(label)}" if label else "Line style")
            elif kw.arg in ("marker", "symbol") and _str(v):
                add("marker", v, _str(v), f"Markers of {quote(label)}" if label else "Markers")
            elif kw.arg == "loc" and name == "legend" and _str(v) in LEGEND_LOCS:
                add("legend_loc", v, _str(v), "Legend")
    return out


def _pick(doc: CodeDoc, rng: random.Random, kind: str, pred=lambda s: True) -> Site | None:  # type: ignore[no-untyped-def]
    cands = [s for s in doc.sites() if s.kind == kind and pred(s)]
    return rng.choice(cands) if cands else None


def _quote_like(original: str, value: str) -> str:
    q = original[0] if original and original[0] in "'\"" else '"'
    return q + value.replace("\\", "\\\\").replace(q, "\\" + q) + q


def _literal_text(doc: CodeDoc, site: Site) -> str:
    return doc.source[site.start : site.end]


def _rewrite_string(doc: CodeDoc, site: Site, value: str) -> None:
    """Replace the string literal at ``site`` with ``value``, quoted the way the original was."""
    doc.replace(site.start, site.end, _quote_like(_literal_text(doc, site), value))


def _site_edit(site: Site, name: str, category: str, severity: int, description: str) -> Edit:
    """The edit of the literal at ``site``: located and keyed by the site."""
    return Edit(name, category, severity, site.location, description, site.key)


def _item_edit(
    site: Site,
    i: int,
    name: str,
    category: str,
    severity: int,
    location: str,
    description: str,
    **evidence: Any,
) -> Edit:
    """The edit of element ``i`` of the list literal at ``site``."""
    return Edit(name, category, severity, location, description, f"{site.key}.{i}", evidence=evidence)


def _typo_worthy(site: Site) -> bool:
    """Text with enough letters (4) for a one-character typo to be a fair test."""
    return sum(ch.isalpha() for ch in str(site.value)) >= 4


def text_typo(doc: CodeDoc, rng: random.Random) -> Edit | None:
    site = _pick(doc, rng, "title", _typo_worthy) or _pick(doc, rng, "text", _typo_worthy)
    if site is None:
        return None
    new = make_typo(str(site.value), rng)
    if new is None:
        return None
    _rewrite_string(doc, site, new)
    return _site_edit(
        site, "code.text_typo", "text_error", 1, f"Typo: {quote(new)} instead of {quote(site.value)}."
    )


def text_replace(doc: CodeDoc, rng: random.Random) -> Edit | None:
    site = _pick(
        doc,
        rng,
        rng.choice(("title", "text")),
        lambda s: len(str(s.value).split()) >= 1 and len(str(s.value)) >= 3,
    )
    if site is None:
        return None
    old = str(site.value)
    words = old.split()
    if len(words) >= 3 and rng.random() < 0.5:
        drop = rng.randrange(len(words))
        new = " ".join(w for i, w in enumerate(words) if i != drop)
        desc = f"{site.location} reads {quote(new)}: the word {quote(words[drop])} is missing."
    else:
        new = rng.choice(("Overview", "Results", "Value", "Count", "Total", "Other", "Summary", "Index"))
        if new == old:
            return None
        desc = f"{site.location} reads {quote(new)} instead of {quote(old)}."
    _rewrite_string(doc, site, new)
    return _site_edit(site, "code.text_replace", "text_error", 2, desc)


def category_label(doc: CodeDoc, rng: random.Random) -> Edit | None:
    site = _pick(doc, rng, "categories")
    if site is None:
        return None
    i = rng.randrange(len(site.nodes))
    s, e, old = site.nodes[i]
    new = make_typo(str(old), rng) if sum(ch.isalpha() for ch in str(old)) >= 3 else None
    if new is None or new in site.value:  # type: ignore[operator]
        return None
    doc.replace(s, e, _quote_like(doc.source[s:e], new))
    location, desc = f"{site.location} item {quote(old)}", f"The label {quote(old)} reads {quote(new)}."
    return _item_edit(site, i, "code.category_label", "text_error", 1, location, desc)


def data_value(doc: CodeDoc, rng: random.Random) -> Edit | None:
    site = _pick(doc, rng, "numbers", lambda s: max(abs(v) for v in s.value) > 0)  # type: ignore[union-attr]
    if site is None:
        return None
    values = list(site.value)  # type: ignore[call-overload]
    scale = max(abs(v) for v in values)
    i = rng.randrange(len(values))
    s, e, old = site.nodes[i]
    text = doc.source[s:e]
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text.lower() else 0
    lo, hi = rng.choice(((0.06, 0.1), (0.16, 0.3), (0.45, 0.9)))
    new = float(old) + rng.uniform(lo, hi) * scale * rng.choice((-1, 1))  # type: ignore[arg-type]
    if min(values) >= 0 and new < 0:
        new = float(old) + abs(new - float(old))  # type: ignore[arg-type]
    new_text = f"{new:.{decimals}f}" if decimals else str(int(round(new)))
    if float(new_text) == float(old):  # type: ignore[arg-type]
        return None
    doc.replace(s, e, new_text)
    sev = severity_from_ratio((float(new_text) - float(old)) / scale, 0.12, 0.35)  # type: ignore[arg-type]
    location = f"{site.location}, item {i + 1}"
    desc = f"Value {i + 1} of {site.location[0].lower() + site.location[1:]} is {new_text} instead of {text}."
    return _item_edit(
        site, i, "code.data_value", "data_error", sev, location, desc, old=old, new=float(new_text)
    )


def colour(doc: CodeDoc, rng: random.Random) -> Edit | None:
    site = _pick(doc, rng, "colour")
    if site is None:
        return None
    old_hex = to_hex(str(site.value))
    if old_hex is None:
        return None
    new = pick_different(old_hex, rng, min_delta=rng.choice((8.0, 30.0)))
    _rewrite_string(doc, site, new)
    desc = f"{site.location} is {new} instead of {site.value}."
    return _site_edit(site, "code.colour", "style_error", colour_severity(old_hex, new), desc)


def linestyle(doc: CodeDoc, rng: random.Random) -> Edit | None:
    site = _pick(doc, rng, "linestyle")
    if site is None:
        return None
    old = LINESTYLE_NAMES[str(site.value)]
    plotly = site.value in ("dash", "dot", "solid", "dashdot") and doc.kind == "plotly"
    pool = ("solid", "dash", "dot", "dashdot") if plotly else ("-", "--", "-.", ":")
    new = rng.choice([p for p in pool if LINESTYLE_NAMES[p] != old])
    _rewrite_string(doc, site, new)
    desc = f"{site.location} is {LINESTYLE_NAMES[new]} instead of {old}."
    return _site_edit(site, "code.linestyle", "style_error", 1, desc)


def marker(doc: CodeDoc, rng: random.Random) -> Edit | None:
    site = _pick(doc, rng, "marker", lambda s: doc.kind == "matplotlib" and s.value in MARKERS)
    if site is None:
        return None
    new = rng.choice([m for m in MARKERS if m != site.value])
    _rewrite_string(doc, site, new)
    desc = f"{site.location} use {quote(new)} instead of {quote(site.value)}."
    return _site_edit(site, "code.marker", "style_error", 1, desc)


def grid(doc: CodeDoc, rng: random.Random) -> Edit | None:
    site = _pick(doc, rng, "grid")
    if site is None:
        return None
    doc.replace(site.start, site.end, str(not site.value))
    desc = (
        "The grid lines are missing."
        if site.value
        else "Grid lines are drawn although the reference has none."
    )
    return Edit("code.grid", "style_error", 1, "Grid lines", desc, site.key)


def axis_scale(doc: CodeDoc, rng: random.Random) -> Edit | None:
    site = _pick(doc, rng, "scale", lambda s: s.value in ("log", "linear"))
    if site is None:
        return None
    new = "linear" if site.value == "log" else "log"
    _rewrite_string(doc, site, new)
    desc = f"The axis uses a {new} scale instead of a {site.value} one."
    return _site_edit(site, "code.axis_scale", "data_error", 2, desc)


def legend_loc(doc: CodeDoc, rng: random.Random) -> Edit | None:
    site = _pick(doc, rng, "legend_loc", lambda s: s.value != "best")
    if site is None:
        return None
    new = rng.choice([loc for loc in LEGEND_LOCS if loc not in (site.value, "best")])
    _rewrite_string(doc, site, new)
    desc = f"The legend is at the {new} instead of the {site.value}."
    return Edit("code.legend_loc", "text_error", 1, "Legend", desc, site.key)


def font_size(doc: CodeDoc, rng: random.Random) -> Edit | None:
    site = _pick(doc, rng, "size", lambda s: float(s.value) > 4)  # type: ignore[arg-type]
    if site is None:
        return None
    old = float(site.value)  # type: ignore[arg-type]
    new = max(4.0, old + rng.choice((-4, -3, 3, 5)))
    doc.replace(site.start, site.end, f"{new:g}")
    desc = f"{site.location} is {new:g} instead of {old:g}."
    return _site_edit(site, "code.font_size", "text_error", 1 if abs(new - old) < 5 else 2, desc)


PERTURBATIONS = registry(
    [
        PerturbationInfo("code.data_value", "data_error", data_value, 3.0),
        PerturbationInfo("code.axis_scale", "data_error", axis_scale, 0.6),
        PerturbationInfo("code.text_typo", "text_error", text_typo, 1.5),
        PerturbationInfo("code.text_replace", "text_error", text_replace, 1.0),
        PerturbationInfo("code.category_label", "text_error", category_label, 1.0),
        PerturbationInfo("code.legend_loc", "text_error", legend_loc, 0.5),
        PerturbationInfo("code.font_size", "text_error", font_size, 0.5),
        PerturbationInfo("code.colour", "style_error", colour, 2.0),
        PerturbationInfo("code.linestyle", "style_error", linestyle, 0.8),
        PerturbationInfo("code.marker", "style_error", marker, 0.8),
        PerturbationInfo("code.grid", "style_error", grid, 0.8),
    ]
)
