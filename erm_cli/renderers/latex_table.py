r"""LaTeX tabular -> HTML table, for rendering with erm's fixed table stylesheet.

Covered (everything else degrades to its plain-text reading via pylatexenc):

* environments ``tabular``, ``tabular*``, ``tabularx``, ``tabulary``, ``longtable``, ``array`` (several per
  input, inside ``table``/``document`` wrappers or bare); ``%`` comments;
* column specs ``l c r`` (alignment), ``p{} m{} b{} X`` (left), ``S`` (siunitx, centred), ``*{n}{spec}``
  repetition; ``| @{} !{} >{} <{}`` are accepted and ignored;
* rows split on ``\\`` / ``\tabularnewline`` (with optional ``[len]``); cells on ``&`` (``\&`` is text);
  rules (``\hline``, ``\cline``, booktabs ``\toprule \midrule \bottomrule \cmidrule``, ``\hhline``,
  ``\addlinespace``, ``\specialrule``) are dropped: every table is drawn with the one stylesheet's full
  grid, exactly like an HTML or Markdown table with the same content;
* ``\multicolumn{n}{spec}{text}`` (colspan + alignment), ``\multirow{n}{w}{text}`` (rowspan; the empty
  placeholder cells below it are skipped), ``\makecell``/``\shortstack``/``\thead`` and ``\newline``
  (line breaks), ``\textbf \textit \emph \underline \texttt \textsc \textsuperscript \textsubscript``,
  ``\textcolor{c}{x}``, ``\cellcolor{c}`` and ``\rowcolor{c}`` (plain colour names or ``[HTML]{RRGGBB}``);
* ``\caption{...}`` becomes the table's ``<caption>``; ``longtable`` continuation headers/footers
  (``\endhead``/``\endfoot`` blocks after ``\endfirsthead``) are dropped;
* math (``$...$``, ``\(...\)``) becomes Unicode text (``\alpha`` -> α, ``\pm`` -> ±) with ``^``/``_``
  shown as superscript/subscript; escaped specials (``\% \$ \_ \# \{ \}``), ``~``, ``--``, ``---``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

TABULAR_ENVS = ("tabular*", "tabularx", "tabulary", "tabular", "longtable", "array")
_BEGIN = re.compile(r"\\begin\s*\{\s*(tabular\*|tabularx|tabulary|tabular|longtable|array)\s*\}")
# Possessive quantifiers (``*+``, ``?+``): these run on untrusted text in the erm process, and adjacent
# optional whitespace must not be re-split on failure (quadratic on long blank runs).
_RULES = re.compile(
    r"^\s*+(?:\\(?:hline|toprule|midrule|bottomrule|endfirsthead|endhead|endfoot|endlastfoot|"
    r"morecmidrules|noalign\s*+\{[^{}]*+\}|addlinespace(?:\s*+\[[^\]]*+\])?+|hhline\s*+\{[^{}]*+\}|"
    r"cline\s*+\{[^{}]*+\}|cmidrule\s*+(?:\([^)]*+\))?+\s*+(?:\[[^\]]*+\])?+\s*+\{[^{}]*+\}|"
    r"specialrule\s*+\{[^{}]*+\}\s*+\{[^{}]*+\}\s*+\{[^{}]*+\}|arrayrulecolor\s*+\{[^{}]*+\})\s*+)++")
_ROWCOLOR = re.compile(r"^\s*+\\rowcolor\s*+(?:\[(?P<model>[^\]]*+)\])?+\s*+\{(?P<color>[^{}]*+)\}")
_MACRO = re.compile(r"\\[A-Za-z]++|\\.", re.DOTALL)
_ENV_MARK = re.compile(r"\\(begin|end)\s*+\{[^{}]*+\}")
_CAPTION = re.compile(r"\\caption\s*+(?:\[[^\]]*+\])?+\s*+\{")
_SIMPLE_COLOUR = re.compile(r"^[A-Za-z]{3,20}$")


class LatexTableError(ValueError):
    """The LaTeX has no renderable tabular (the message is one line for the user)."""


@dataclass
class Cell:
    html: str
    align: str = "left"
    colspan: int = 1
    rowspan: int = 1
    background: str | None = None


@dataclass
class Table:
    rows: list[list[Cell]] = field(default_factory=list)
    caption: str | None = None


# ----------------------------------------------------------------------------------- scanning
def strip_comments(tex: str) -> str:
    return re.sub(r"(?<!\\)%[^\n]*", "", tex)


def _group_end(s: str, start: int) -> int:
    """Index just after the balanced ``{...}`` group opening at ``s[start] == '{'``."""
    depth = 0
    i = start
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise LatexTableError("unbalanced braces in the LaTeX table")


def _read_group(s: str, i: int) -> tuple[str, int]:
    """Skip spaces, read one ``{...}`` group (or a single token); returns (content, next index)."""
    while i < len(s) and s[i].isspace():
        i += 1
    if i >= len(s):
        raise LatexTableError("a LaTeX macro is missing its argument")
    if s[i] == "{":
        end = _group_end(s, i)
        return s[i + 1:end - 1], end
    if s[i] == "\\":
        m = _MACRO.match(s, i)  # match at i: no copy of the rest of the text per macro
        assert m is not None
        return m.group(0), m.end()
    return s[i], i + 1


def _skip_optional(s: str, i: int, open_ch: str = "[", close_ch: str = "]") -> tuple[str | None, int]:
    j = i
    while j < len(s) and s[j].isspace():
        j += 1
    if j < len(s) and s[j] == open_ch:
        k = s.find(close_ch, j)
        if k != -1:
            return s[j + 1:k], k + 1
    return None, i


def find_tabulars(tex: str) -> list[tuple[str, str, str, int]]:
    """(environment, column spec, body, start offset) for each top-level tabular-like environment."""
    found = []
    pos = 0
    while True:
        m = _BEGIN.search(tex, pos)
        if m is None:
            break
        env = m.group(1)
        i = m.end()
        if env in ("tabular*", "tabularx", "tabulary"):
            _, i = _read_group(tex, i)  # width
        _, i = _skip_optional(tex, i)  # [t] / [c] position
        spec, i = _read_group(tex, i)
        # find the matching \end{env}, counting nested begins of the same name
        depth = 1
        pattern = re.compile(r"\\(begin|end)\s*\{\s*" + re.escape(env) + r"\s*\}")
        j = i
        while depth:
            n = pattern.search(tex, j)
            if n is None:
                raise LatexTableError(f"\\begin{{{env}}} has no matching \\end{{{env}}}")
            depth += 1 if n.group(1) == "begin" else -1
            j = n.end()
            if depth == 0:
                found.append((env, spec, tex[i:n.start()], m.start()))
        pos = j
    return found


def parse_colspec(spec: str) -> list[str]:
    """Column alignments from a tabular column spec."""
    aligns: list[str] = []
    i = 0
    while i < len(spec):
        ch = spec[i]
        if ch in "lcr":
            aligns.append({"l": "left", "c": "center", "r": "right"}[ch])
            i += 1
        elif ch in "pmbX" or ch in "LCRJ":
            aligns.append({"C": "center", "R": "right"}.get(ch, "left"))
            i += 1
            if ch in "pmb":
                _, i = _read_group(spec, i)
        elif ch == "S":
            aligns.append("center")
            i += 1
            _, i = _skip_optional(spec, i)
        elif ch in "@!><":
            _, i = _read_group(spec, i + 1)
        elif ch == "*":
            count, i = _read_group(spec, i + 1)
            inner, i = _read_group(spec, i)
            try:
                n = max(0, min(int(count.strip()), 200))
            except ValueError:
                n = 1
            aligns.extend(parse_colspec(inner) * n)
        elif ch == "{":
            _, i = _read_group(spec, i)  # stray group
        else:
            i += 1  # |, spaces, unknown letters
    return aligns


def split_top_level(body: str) -> list[list[str]]:
    """Rows of raw cells: split on ``\\\\``/``\\tabularnewline`` and ``&`` outside braces, math and nested envs."""
    rows: list[list[str]] = []
    cells: list[str] = []
    cur: list[str] = []
    depth = 0
    env_depth = 0
    in_math = False
    i = 0
    n = len(body)
    while i < n:
        ch = body[i]
        if ch == "\\":
            m = _ENV_MARK.match(body, i)
            if m:
                env_depth += 1 if m.group(1) == "begin" else -1
                cur.append(m.group(0))
                i = m.end()
                continue
            if depth == 0 and env_depth == 0 and not in_math:
                if body.startswith("\\\\", i):
                    i += 2
                    _, i = _skip_optional(body, i)
                    cells.append("".join(cur))
                    rows.append(cells)
                    cells, cur = [], []
                    continue
                if body.startswith("\\tabularnewline", i) or body.startswith("\\cr", i) and \
                        not body[i + 3:i + 4].isalpha():
                    i += len("\\tabularnewline") if body.startswith("\\tabularnewline", i) else 3
                    cells.append("".join(cur))
                    rows.append(cells)
                    cells, cur = [], []
                    continue
            cur.append(body[i:i + 2])
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        elif ch == "$":
            in_math = not in_math
        elif ch == "&" and depth == 0 and env_depth == 0 and not in_math:
            cells.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    tail = "".join(cur)
    if cells or tail.strip():
        cells.append(tail)
        rows.append(cells)
    return rows


# --------------------------------------------------------------------------- inline conversion
_FORMAT_TAGS = {"textbf": "b", "mathbf": "b", "bm": "b", "boldsymbol": "b", "textit": "i", "emph": "i",
                "mathit": "i", "textsl": "i", "underline": "u", "uline": "u", "texttt": "code",
                "mathtt": "code", "textsuperscript": "sup", "textsubscript": "sub", "textsc": "span"}
_BREAK_MACROS = {"\\", "newline", "linebreak", "par"}
_STACK_MACROS = {"makecell", "shortstack", "thead", "makebox", "parbox", "mbox", "hbox", "text", "textrm",
                 "textnormal", "mathrm", "textsf", "mathsf", "fbox", "resizebox", "scalebox", "adjustbox",
                 "centering", "raggedright", "raggedleft", "footnotesize", "small", "scriptsize", "tiny",
                 "large", "Large", "normalsize", "num", "SI", "si"}
_IGNORED_MACROS = {"hspace", "vspace", "hfill", "vfill", "label", "centering", "raggedright", "raggedleft",
                   "cellcolor", "rowcolor", "color", "footnotesize", "small", "scriptsize", "tiny", "large",
                   "Large", "normalsize", "bfseries", "itshape", "noindent", "strut", "rule", "phantom",
                   "hphantom", "vphantom", "protect", "relax", "toprule", "midrule", "bottomrule", "hline"}

_context_db = None


def _latex_context():
    global _context_db
    if _context_db is None:
        from pylatexenc.latexwalker import get_default_latex_context_db
        from pylatexenc.macrospec import MacroSpec

        db = get_default_latex_context_db()
        specs = [MacroSpec("textcolor", "[{{"), MacroSpec("colorbox", "[{{"), MacroSpec("cellcolor", "[{"),
                 MacroSpec("rowcolor", "[{"), MacroSpec("color", "[{"), MacroSpec("makecell", "[{"),
                 MacroSpec("shortstack", "[{"), MacroSpec("thead", "[{"), MacroSpec("multirow", "[{[{"),
                 MacroSpec("multicolumn", "{{{"), MacroSpec("hspace", "*{"), MacroSpec("vspace", "*{"),
                 MacroSpec("resizebox", "*{{{"), MacroSpec("scalebox", "{[{"), MacroSpec("parbox", "[[[{{"),
                 MacroSpec("makebox", "[[{"), MacroSpec("num", "[{"), MacroSpec("SI", "[{{"),
                 MacroSpec("si", "[{"), MacroSpec("uline", "{"), MacroSpec("bm", "{"), MacroSpec("rule", "[{{"),
                 MacroSpec("textsuperscript", "{"), MacroSpec("textsubscript", "{"), MacroSpec("label", "{"),
                 MacroSpec("phantom", "{"), MacroSpec("hphantom", "{"), MacroSpec("vphantom", "{"),
                 MacroSpec("adjustbox", "{{")]
        db.add_context_category("erm-tables", macros=specs, prepend=True)
        _context_db = db
    return _context_db


def _css_colour(model: str | None, value: str) -> str | None:
    value = value.strip()
    if model and model.strip().upper() == "HTML" and re.fullmatch(r"[0-9A-Fa-f]{6}", value):
        return "#" + value
    if not model and _SIMPLE_COLOUR.match(value):
        return value.lower()
    return None


def _math_to_html(text: str) -> str:
    out = html.escape(text)
    out = re.sub(r"\^\{([^{}]*)\}|\^(\S)", lambda m: f"<sup>{m.group(1) or m.group(2)}</sup>", out)
    out = re.sub(r"_\{([^{}]*)\}|_(\S)", lambda m: f"<sub>{m.group(1) or m.group(2)}</sub>", out)
    return out


class _InlineConverter:
    def __init__(self) -> None:
        from pylatexenc.latex2text import LatexNodes2Text

        self.l2t = LatexNodes2Text(math_mode="text", strict_latex_spaces=False, keep_braced_groups=False)
        self.cell_background: str | None = None

    def convert(self, tex: str) -> str:
        from pylatexenc.latexwalker import LatexWalker

        self.cell_background = None
        try:
            nodes, _, _ = LatexWalker(tex, latex_context=_latex_context(), tolerant_parsing=True).get_latex_nodes()
        except Exception:  # noqa: BLE001 - fall back to the raw text, escaped
            return html.escape(tex.strip())
        return self.nodes(nodes).strip()

    def nodes(self, nodelist) -> str:
        return "".join(self.node(n) for n in (nodelist or []) if n is not None)

    def _arg(self, node, index: int):
        args = getattr(getattr(node, "nodeargd", None), "argnlist", None) or []
        return args[index] if -len(args) <= index < len(args) else None

    def _arg_nodes(self, arg) -> str:
        if arg is None:
            return ""
        if arg.isNodeType(_types().LatexGroupNode):
            return self.nodes(arg.nodelist)
        return self.node(arg)

    def _arg_text(self, arg) -> str:
        if arg is None:
            return ""
        return arg.latex_verbatim().strip().strip("{}")

    def node(self, node) -> str:
        t = _types()
        if node.isNodeType(t.LatexCharsNode):
            return html.escape(node.chars)
        if node.isNodeType(t.LatexCommentNode):
            return ""
        if node.isNodeType(t.LatexGroupNode):
            return self.nodes(node.nodelist)
        if node.isNodeType(t.LatexMathNode):
            return _math_to_html(self.l2t.nodelist_to_text(node.nodelist))
        if node.isNodeType(t.LatexSpecialsNode):
            return html.escape(self.l2t.nodelist_to_text([node]))
        if node.isNodeType(t.LatexEnvironmentNode):
            return html.escape(self.l2t.nodelist_to_text([node]))
        if node.isNodeType(t.LatexMacroNode):
            return self.macro(node)
        return html.escape(self.l2t.nodelist_to_text([node]))

    def macro(self, node) -> str:
        name = node.macroname
        if name in _BREAK_MACROS:
            return "<br>"
        if name in _FORMAT_TAGS:
            tag = _FORMAT_TAGS[name]
            inner = self._arg_nodes(self._arg(node, -1))
            if name == "textsc":
                return f'<span style="font-variant:small-caps">{inner}</span>'
            return f"<{tag}>{inner}</{tag}>"
        if name == "textcolor" or name == "colorbox":
            colour = _css_colour(self._arg_text(self._arg(node, 0)) or None, self._arg_text(self._arg(node, 1)))
            inner = self._arg_nodes(self._arg(node, 2))
            if colour is None:
                return inner
            prop = "color" if name == "textcolor" else "background-color"
            return f'<span style="{prop}:{colour}">{inner}</span>'
        if name == "cellcolor":
            self.cell_background = _css_colour(self._arg_text(self._arg(node, 0)) or None,
                                               self._arg_text(self._arg(node, 1)))
            return ""
        if name in ("multirow", "multicolumn"):
            return self._arg_nodes(self._arg(node, -1))
        if name in ("SI",):
            return self._arg_nodes(self._arg(node, 1)) + " " + html.escape(
                self.l2t.latex_to_text(self._arg_text(self._arg(node, 2))))
        if name in _IGNORED_MACROS and name not in _STACK_MACROS:
            return ""
        if name in _STACK_MACROS:
            arg = self._arg(node, -1)
            return self._arg_nodes(arg) if arg is not None else ""
        return html.escape(self.l2t.nodelist_to_text([node]))


_types_mod = None


def _types():
    global _types_mod
    if _types_mod is None:
        from pylatexenc import latexwalker

        _types_mod = latexwalker
    return _types_mod


# ------------------------------------------------------------------------------------- assembly
def _longtable_body(body: str) -> str:
    """One page's worth of a longtable: the first head (or the head), the rows, then the last foot (or foot)."""
    parts: dict[str, str] = {}
    rest = body
    for marker in re.findall(r"\\end(?:firsthead|head|foot|lastfoot)\b", body):
        seg, _, rest = rest.partition(marker)
        parts[marker[4:]] = seg
    head = parts.get("firsthead", parts.get("head", ""))
    foot = parts.get("lastfoot", parts.get("foot", ""))
    return "\\\\".join(p for p in (head, rest, foot) if p.strip())


def _parse_cell(raw: str, align: str, conv: _InlineConverter) -> Cell:
    text = raw.strip()
    colspan, rowspan = 1, 1
    m = re.match(r"\\multicolumn\s*", text)
    if m:
        count, i = _read_group(text, m.end())
        spec, i = _read_group(text, i)
        content, i = _read_group(text, i)
        try:
            colspan = max(1, min(int(count.strip()), 1000))
        except ValueError:
            colspan = 1
        aligns = parse_colspec(spec)
        align = aligns[0] if aligns else align
        text = content.strip() + text[i:]
    m = re.match(r"\\multirow\s*", text)
    if m:
        _, i = _skip_optional(text, m.end())
        count, i = _read_group(text, i)
        _, i = _skip_optional(text, i)
        _, i = _read_group(text, i)  # width
        _, i = _skip_optional(text, i)  # fixup
        content, i = _read_group(text, i)
        try:
            rowspan = int(count.strip())
        except ValueError:
            rowspan = 1
        text = content.strip() + text[i:]
        rowspan = max(-1000, min(rowspan, 1000)) or 1
    cell = Cell(html=conv.convert(text), align=align, colspan=colspan, rowspan=rowspan)
    cell.background = conv.cell_background
    return cell


def parse_table(env: str, spec: str, body: str) -> Table:
    aligns = parse_colspec(spec)
    if env == "longtable":
        body = _longtable_body(body)
    conv = _InlineConverter()
    table = Table()
    m = _CAPTION.search(body)
    if m:
        content, end = _read_group(body, m.end() - 1)
        table.caption = conv.convert(content)
        body = body[:m.start()] + body[end:]
    rows: list[list[tuple[int, Cell]]] = []
    pending: dict[int, int] = {}  # column -> rows (this one included) still covered by a multirow above
    for raw_cells in split_top_level(body):
        first, row_bg = raw_cells[0], None
        while True:
            stripped = _RULES.sub("", first, count=1)
            rc = _ROWCOLOR.match(stripped)
            if rc:
                row_bg = _css_colour(rc.group("model"), rc.group("color"))
                stripped = stripped[rc.end():]
            if stripped == first:
                break
            first = stripped
        raw_cells = [first] + raw_cells[1:]
        if len(raw_cells) == 1 and not raw_cells[0].strip():
            continue
        row: list[tuple[int, Cell]] = []
        col = 0
        for raw in raw_cells:
            align = aligns[col] if col < len(aligns) else "left"
            cell = _parse_cell(raw, align, conv)
            if cell.background is None:
                cell.background = row_bg
            if pending.get(col, 0) > 0:      # LaTeX's placeholder under a \multirow: HTML's rowspan covers it
                col += cell.colspan
                continue
            if cell.rowspan < 0:             # \multirow{-n}: text in the last row of the span (colortbl idiom)
                n = -cell.rowspan
                top = len(rows) - (n - 1)
                cell.rowspan = n if top >= 0 else 1
                if top >= 0:
                    for r in range(top, len(rows)):
                        rows[r] = [(c, x) for c, x in rows[r] if not (col <= c < col + cell.colspan)]
                    rows[top] = sorted(rows[top] + [(col, cell)], key=lambda item: item[0])
                    col += cell.colspan
                    continue
            row.append((col, cell))
            if cell.rowspan > 1:
                for c in range(col, col + cell.colspan):
                    pending[c] = cell.rowspan
            col += cell.colspan
        rows.append(row)
        for c in list(pending):
            pending[c] -= 1
            if pending[c] <= 0:
                del pending[c]
    table.rows = [[cell for _, cell in row] for row in rows]
    return table


def table_to_html(table: Table) -> str:
    parts = ["<table>"]
    if table.caption:
        parts.append(f"<caption>{table.caption}</caption>")
    for row in table.rows:
        parts.append("<tr>")
        for cell in row:
            attrs = []
            if cell.colspan > 1:
                attrs.append(f'colspan="{cell.colspan}"')
            if cell.rowspan > 1:
                attrs.append(f'rowspan="{cell.rowspan}"')
            style = f"text-align:{cell.align}"
            if cell.background:
                style += f";background-color:{cell.background}"
            attrs.append(f'style="{style}"')
            parts.append(f"<td {' '.join(attrs)}>{cell.html}</td>")
        parts.append("</tr>")
    parts.append("</table>")
    return "".join(parts)


def latex_to_html(tex: str) -> str:
    """Every tabular in ``tex`` as an HTML ``<table>`` (in order). Raises :class:`LatexTableError`."""
    tex = strip_comments(tex)
    found = find_tabulars(tex)
    if not found:
        raise LatexTableError("no tabular environment found in the LaTeX code")
    captions = list(_CAPTION.finditer(tex))
    html_parts = []
    for env, spec, body, start in found:
        table = parse_table(env, spec, body)
        if table.caption is None and captions:
            # a caption of the surrounding table float: the nearest one before or after this tabular
            nearest = min(captions, key=lambda m: abs(m.start() - start))
            content, _ = _read_group(tex, nearest.end() - 1)
            table.caption = _InlineConverter().convert(content)
            captions.remove(nearest)
        html_parts.append(table_to_html(table))
    return "<br>".join(html_parts)
