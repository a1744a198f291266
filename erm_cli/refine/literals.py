"""Find and rewrite the literals of chart, table and SVG code: texts, colours and numbers.

The model-free policy never rewrites code wholesale: it changes literals in place (a title string, a
colour, the numbers of a data list), so everything the author wrote stays as it was. Python code is
read with :mod:`ast` (exact source spans); SVG and HTML with small regular expressions over
attributes and element text.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: Named colours commonly written in chart code (matplotlib / CSS basics), as RGB.
NAMED_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0), "green": (0, 128, 0), "blue": (0, 0, 255), "black": (0, 0, 0), "white": (255, 255, 255),
    "orange": (255, 165, 0), "purple": (128, 0, 128), "yellow": (255, 255, 0), "gray": (128, 128, 128),
    "grey": (128, 128, 128), "pink": (255, 192, 203), "brown": (165, 42, 42), "cyan": (0, 255, 255),
    "magenta": (255, 0, 255), "navy": (0, 0, 128), "teal": (0, 128, 128), "olive": (128, 128, 0),
    "maroon": (128, 0, 0), "lime": (0, 255, 0), "gold": (255, 215, 0), "silver": (192, 192, 192),
    "darkblue": (0, 0, 139), "darkgreen": (0, 100, 0), "darkred": (139, 0, 0), "lightblue": (173, 216, 230),
    "lightgreen": (144, 238, 144), "lightgray": (211, 211, 211), "lightgrey": (211, 211, 211),
    "darkgray": (169, 169, 169), "darkgrey": (169, 169, 169), "skyblue": (135, 206, 235), "salmon": (250, 128, 114),
    "coral": (255, 127, 80), "crimson": (220, 20, 60), "indigo": (75, 0, 130), "violet": (238, 130, 238),
    "steelblue": (70, 130, 180), "tomato": (255, 99, 71), "seagreen": (46, 139, 87), "orchid": (218, 112, 214),
    "tab:blue": (31, 119, 180), "tab:orange": (255, 127, 14), "tab:green": (44, 160, 44), "tab:red": (214, 39, 40),
    "tab:purple": (148, 103, 189), "tab:brown": (140, 86, 75), "tab:pink": (227, 119, 194),
    "tab:gray": (127, 127, 127), "tab:grey": (127, 127, 127), "tab:olive": (188, 189, 34), "tab:cyan": (23, 190, 207),
    "r": (255, 0, 0), "g": (0, 128, 0), "b": (0, 0, 255), "k": (0, 0, 0), "c": (0, 191, 191), "m": (191, 0, 191),
    "y": (191, 191, 0), "w": (255, 255, 255),
}
#: Single-letter names count as colours only in a colour context (``color='r'``), never as free text.
_SHORT_NAMES = {"r", "g", "b", "k", "c", "m", "y", "w"}
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
_RGB_FUNC = re.compile(r"^rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)")
#: Keyword / call names whose string argument is a colour.
COLOUR_KEYS = {"color", "colors", "c", "facecolor", "edgecolor", "fc", "ec", "mfc", "mec", "markerfacecolor",
               "markeredgecolor", "bgcolor", "plot_bgcolor", "paper_bgcolor", "line_color", "marker_color",
               "fill", "stroke", "stop-color", "background", "background-color", "cmap_color", "set_color",
               "set_facecolor", "set_edgecolor", "fillcolor", "linecolor"}
#: Calls whose first string argument is displayed text.
TEXT_CALLS = {"title", "set_title", "suptitle", "xlabel", "ylabel", "set_xlabel", "set_ylabel", "text", "annotate",
              "set_text", "legend", "set_xticklabels", "set_yticklabels", "xticks", "yticks", "bar", "barh",
              "plot", "scatter", "pie", "table", "update_layout", "set_label", "label"}
TEXT_KEYS = {"label", "labels", "title", "text", "name", "xlabel", "ylabel", "title_text", "s", "tick_label",
             "xaxis_title", "yaxis_title", "legend_title_text"}
#: Keywords whose strings are never displayed (formats, styles, positions...).
NON_TEXT_KEYS = {"loc", "ha", "va", "horizontalalignment", "verticalalignment", "fontweight", "weight",
                 "linestyle", "ls", "marker", "fmt", "style", "family", "fontfamily", "cmap", "align", "rotation",
                 "format", "backend", "orientation", "histtype", "interpolation", "aspect", "shading", "which",
                 "axis", "mode", "barmode", "template", "hatch", "capstyle", "joinstyle", "drawstyle", "origin",
                 "textcoords", "xycoords", "arrowprops", "bbox_inches", "frameon", "fontstyle", "position",
                 "location", "edgecolors", "dpi"}


def colour_of(value: str, context_is_colour: bool = False) -> tuple[int, int, int] | None:
    """RGB of a colour literal (``#hex``, ``rgb(...)``, a known name), or None."""
    v = value.strip()
    if _HEX.match(v):
        s = v[1:]
        if len(s) == 3:
            s = "".join(ch * 2 for ch in s)
        return int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16)
    m = _RGB_FUNC.match(v)
    if m:
        return tuple(min(255, int(g)) for g in m.groups())  # type: ignore[return-value]
    low = v.lower()
    if low in NAMED_COLOURS and (context_is_colour or low not in _SHORT_NAMES):
        return NAMED_COLOURS[low]
    if low.startswith("c") and low[1:].isdigit() and context_is_colour:
        from .draft_chart import DEFAULT_CYCLE

        return DEFAULT_CYCLE[int(low[1:]) % len(DEFAULT_CYCLE)]
    return None


@dataclass
class Literal:
    """One literal in the source: ``source[start:end]`` is its exact text (quotes included for strings)."""

    start: int
    end: int
    role: str  # "text" | "colour" | "number"
    value: Any
    #: Where it sits: the call ("set_title"), the keyword ("color"), the list it belongs to and its index.
    call: str = ""
    key: str = ""
    group: int | None = None
    index: int | None = None
    quote: str = "'"
    tags: set[str] = field(default_factory=set)
    #: Source offset of the enclosing call (literals of one call share it), -1 outside calls.
    call_pos: int = -1

    @property
    def rgb(self) -> tuple[int, int, int] | None:
        return colour_of(str(self.value), True) if self.role == "colour" else None


@dataclass
class NumberList:
    """A literal list/tuple of numbers (a data series candidate)."""

    group: int
    items: list[Literal]
    call: str = ""
    key: str = ""
    var: str = ""

    @property
    def values(self) -> list[float]:
        return [float(x.value) for x in self.items]


@dataclass
class CodeLiterals:
    source: str
    language: str  # "python" | "markup"
    literals: list[Literal]
    number_lists: list[NumberList]

    def of_role(self, role: str) -> list[Literal]:
        return [x for x in self.literals if x.role == role]


# ------------------------------------------------------------------------------------------- python


def _line_offsets(source: str) -> list[int]:
    offs = [0]
    for line in source.splitlines(keepends=True):
        offs.append(offs[-1] + len(line))
    return offs


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        f = node.func
        if isinstance(f, ast.Attribute):
            return f.attr
        if isinstance(f, ast.Name):
            return f.id
    return ""


class _PyVisitor(ast.NodeVisitor):
    def __init__(self, source: str) -> None:
        self.source = source
        self.offs = _line_offsets(source)
        self.literals: list[Literal] = []
        self.lists: list[NumberList] = []
        self._stack: list[tuple[str, str]] = []  # (call, key) context
        self._calls: list[int] = []  # start offsets of the enclosing calls
        self._var = ""
        self._group = 0
        # byte/char offsets: ast gives UTF-8 byte columns; convert through the encoded line
        self._lines = source.splitlines(keepends=True)

    def _abs(self, lineno: int, col: int) -> int:
        line = self._lines[lineno - 1] if lineno - 1 < len(self._lines) else ""
        char_col = len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))
        return self.offs[lineno - 1] + char_col

    def _span(self, node: ast.AST) -> tuple[int, int]:
        return (self._abs(node.lineno, node.col_offset),  # type: ignore[attr-defined]
                self._abs(node.end_lineno, node.end_col_offset))  # type: ignore[attr-defined]

    def _add(self, lit: Literal) -> None:
        lit.call_pos = self._calls[-1] if self._calls else -1
        self.literals.append(lit)

    def _ctx(self) -> tuple[str, str]:
        return self._stack[-1] if self._stack else ("", "")

    def visit_Assign(self, node: ast.Assign) -> None:
        prev = self._var
        tgt = node.targets[0] if node.targets else None
        self._var = tgt.id if isinstance(tgt, ast.Name) else ""
        self._stack.append(("=", self._var))
        self.visit(node.value)
        self._stack.pop()
        self._var = prev

    def visit_Call(self, node: ast.Call) -> None:
        name = _call_name(node)
        self.visit(node.func)
        self._calls.append(self._span(node)[0])
        self._visit_call_args(node, name)
        self._calls.pop()

    def _visit_call_args(self, node: ast.Call, name: str) -> None:
        for i, a in enumerate(node.args):
            self._stack.append((name, f"#{i}"))
            self.visit(a)
            self._stack.pop()
        for kw in node.keywords:
            self._stack.append((name, kw.arg or "**"))
            self.visit(kw.value)
            self._stack.pop()

    def visit_Dict(self, node: ast.Dict) -> None:
        call, _ = self._ctx()
        for k, v in zip(node.keys, node.values):
            key = k.value if isinstance(k, ast.Constant) and isinstance(k.value, str) else ""
            if k is not None and not key:
                self.visit(k)
            if v is not None:
                self._stack.append((call, key))
                self.visit(v)
                self._stack.pop()

    def _sequence(self, node: ast.List | ast.Tuple) -> None:
        call, key = self._ctx()
        self._group += 1
        gid = self._group
        nums: list[Literal] = []
        for i, elt in enumerate(node.elts):
            lit = self._number(elt)
            if lit is not None:
                lit.group, lit.index, lit.call, lit.key = gid, i, call, key
                nums.append(lit)
                self._add(lit)
            else:
                before = len(self.literals)
                self._stack.append((call, key))
                self.visit(elt)
                self._stack.pop()
                for x in self.literals[before:]:
                    if x.group is None:
                        x.group, x.index = gid, i
        if len(nums) >= 2 and len(nums) == len(node.elts):
            self.lists.append(NumberList(gid, nums, call, key, self._var if call == "=" else ""))

    visit_List = _sequence  # type: ignore[assignment]
    visit_Tuple = _sequence  # type: ignore[assignment]

    def _number(self, node: ast.AST) -> Literal | None:
        neg = False
        inner = node
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            neg = isinstance(node.op, ast.USub)
            inner = node.operand
        if isinstance(inner, ast.Constant) and isinstance(inner.value, (int, float)) and not isinstance(inner.value,
                                                                                                        bool):
            s, e = self._span(node)
            v = -inner.value if neg else inner.value
            return Literal(s, e, "number", v, *self._ctx())
        return None

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        lit = self._number(node)
        if lit is not None:
            self._add(lit)
        else:
            self.generic_visit(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:  # f-strings: not rewritable in place
        return

    def visit_Constant(self, node: ast.Constant) -> None:
        call, key = self._ctx()
        s, e = self._span(node)
        if isinstance(node.value, bool) or node.value is None:
            return
        if isinstance(node.value, (int, float)):
            self._add(Literal(s, e, "number", node.value, call, key))
            return
        if not isinstance(node.value, str):
            return
        raw = self.source[s:e]
        quote = raw[-1] if raw and raw[-1] in "'\"" else "'"
        colour_ctx = key in COLOUR_KEYS or call in COLOUR_KEYS or key.rstrip("s") in COLOUR_KEYS
        rgb = colour_of(node.value, colour_ctx)
        if rgb is not None and (colour_ctx or _HEX.match(node.value.strip())):
            self._add(Literal(s, e, "colour", node.value, call, key, quote=quote))
            return
        if key in NON_TEXT_KEYS or call in ("import", "use", "rcParams", "savefig", "subplots", "figure",
                                            "add_subplot", "get_cmap", "set_xscale", "set_yscale", "xscale",
                                            "yscale", "grid", "tick_params", "axis", "rc", "set_style"):
            return
        if key.startswith("#") and call in ("plot", "scatter", "errorbar") and not _looks_like_text(node.value):
            return  # a fmt string such as 'o-'
        if "\n" in raw and raw.startswith(('"""', "'''")):
            return
        if not node.value.strip():
            return
        self._add(Literal(s, e, "text", node.value, call, key, quote=quote))


def _looks_like_text(s: str) -> bool:
    return any(ch.isalpha() for ch in s) and not re.fullmatch(r"[-:.ovs^<>*+xXDdph|_1-8]+", s)


def python_literals(source: str) -> CodeLiterals:
    """Literals of Python code; raises SyntaxError when the code does not parse."""
    tree = ast.parse(source)
    v = _PyVisitor(source)
    v.visit(tree)
    lits = sorted(v.literals, key=lambda x: x.start)
    # dedupe (a number inside a list is visited once as part of the list)
    seen: set[tuple[int, int]] = set()
    uniq = []
    for x in lits:
        if (x.start, x.end) in seen:
            continue
        seen.add((x.start, x.end))
        uniq.append(x)
    return CodeLiterals(source, "python", uniq, v.lists)


# ------------------------------------------------------------------------------------------- markup

_ATTR = re.compile(r'\b(fill|stroke|stop-color|color|bgcolor|background|background-color)\s*=\s*(["\'])([^"\']*)\2',
                   re.IGNORECASE)
_STYLE_COLOUR = re.compile(r'\b(fill|stroke|stop-color|color|background|background-color)\s*:\s*'
                           r'(#[0-9a-fA-F]{3,8}|rgba?\([^)]*\)|[a-zA-Z]+)', re.IGNORECASE)
_TEXT_NODE = re.compile(r">([^<>]+)<")
_NUM_ATTR = re.compile(r'\b(font-size|stroke-width|width|height|x|y|cx|cy|r|rx|ry|x1|x2|y1|y2)\s*=\s*(["\'])'
                       r'(-?\d+(?:\.\d+)?)(px)?\2', re.IGNORECASE)


def markup_literals(source: str) -> CodeLiterals:
    """Colours (attributes and inline CSS), element text and numeric attributes of SVG / HTML."""
    lits: list[Literal] = []
    for m in _ATTR.finditer(source):
        val = m.group(3)
        if colour_of(val, True) is not None:
            lits.append(Literal(m.start(3), m.end(3), "colour", val, "", m.group(1).lower(), quote=""))
    for m in _STYLE_COLOUR.finditer(source):
        val = m.group(2)
        if colour_of(val, True) is not None:
            lits.append(Literal(m.start(2), m.end(2), "colour", val, "style", m.group(1).lower(), quote=""))
    for m in _TEXT_NODE.finditer(source):
        raw = m.group(1)
        if not raw.strip():
            continue
        # skip text inside <style> / <script>
        before = source[:m.start()].lower()
        if before.rfind("<style") > before.rfind("</style") or before.rfind("<script") > before.rfind("</script"):
            continue
        lead = len(raw) - len(raw.lstrip())
        trail = len(raw.rstrip())
        lits.append(Literal(m.start(1) + lead, m.start(1) + trail, "text", _unescape(raw.strip()), "element", "",
                            quote=""))
    for m in _NUM_ATTR.finditer(source):
        lits.append(Literal(m.start(3), m.end(3), "number", float(m.group(3)), "attr", m.group(1).lower(), quote=""))
    lits.sort(key=lambda x: x.start)
    return CodeLiterals(source, "markup", lits, [])


def _unescape(s: str) -> str:
    import html

    return html.unescape(s)


def code_literals(source: str, kind: str) -> CodeLiterals | None:
    """Literals of ``source`` for its kind, or None when it cannot be parsed."""
    if kind in ("matplotlib", "plotly"):
        try:
            return python_literals(source)
        except (SyntaxError, ValueError, RecursionError):
            return None
    if kind in ("svg", "html", "markdown"):
        return markup_literals(source)
    return None


# ------------------------------------------------------------------------------------------- rewriting


def format_replacement(lit: Literal, value: Any, language: str) -> str:
    """Source text for ``value`` in the place of ``lit``."""
    if lit.role == "number":
        v = float(value)
        if isinstance(lit.value, int) and abs(v - round(v)) < 1e-9 and abs(v) < 1e12:
            return str(int(round(v)))
        return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"
    text = str(value)
    if language == "python":
        q = lit.quote if lit.quote in "'\"" else "'"
        body = text.replace("\\", "\\\\").replace(q, "\\" + q).replace("\n", "\\n")
        return f"{q}{body}{q}"
    import html

    return html.escape(text, quote=lit.role != "text")


def apply_replacements(source: str, replacements: Iterable[tuple[Literal, Any]], language: str) -> str:
    """Rewrite literals (non-overlapping) in one pass, right to left so spans stay valid."""
    reps = sorted({(lit.start, lit.end): (lit, val) for lit, val in replacements}.values(),
                  key=lambda lv: lv[0].start, reverse=True)
    out = source
    last_start = len(source) + 1
    for lit, val in reps:
        if lit.end > last_start:
            continue  # overlapping: keep the later one
        out = out[:lit.start] + format_replacement(lit, val, language) + out[lit.end:]
        last_start = lit.start
    return out
