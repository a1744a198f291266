"""TEDS and TEDS-S (PubTabNet's definition) with OmniDocBench-style normalisation of HTML, Markdown
and LaTeX tables.

Definition (ibm-aur-nlp/PubTabNet ``src/metric.py``):
``TEDS = 1 - TED(pred, gold) / max(n_pred, n_gold)`` where ``n`` is the number of elements below
``<table>`` and TED is the ordered tree edit distance over the table tree (``table`` / ``tr`` /
``td`` ... nodes; a ``td`` is a leaf that carries its colspan, rowspan and its content as a token list
of characters and inline tags). Insert and delete cost 1; rename costs 1 when tag, colspan or rowspan
differ, else for ``td`` the Levenshtein distance of the token lists divided by the longer length.
TEDS-S ignores cell content. An input without a table scores 0.

The tree edit distance is computed exactly with Zhang & Shasha's algorithm, which finds the same
optimum as the APTED library PubTabNet uses (APTED is only faster on deep trees; tables are shallow).
HTML is parsed with the standard library instead of lxml: well-formed tables give identical trees;
the usual implied end tags (``<td>a<td>b``) are handled as browsers and lxml do.

Normalisation (OmniDocBench ``normalized_html_table`` and friends): ``th`` -> ``td``; ``thead``,
``tbody`` and ``span`` unwrapped; ``<math alttext=X>`` -> ``$X$``; HTML entities unescaped; NFKC;
only the table's inside kept; ``style``/``height``/``width``/``align``/``class`` attributes dropped;
whitespace runs collapsed; ``sup``/``sub``/``div``/``p`` tags and ``colgroup`` removed. Markdown pipe
tables are converted to HTML the way OmniDocBench does (first row header, separator row dropped).
LaTeX ``tabular`` is converted with the renderers' converter (:mod:`erm_cli.renderers.latex_table`;
OmniDocBench calls LaTeXML, which is not installed here): ``\\multicolumn`` -> colspan, ``\\multirow``
-> rowspan with covered cells dropped, rules dropped, font commands reduced to their text.
"""

from __future__ import annotations

import html as html_lib
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID_TAGS = frozenset(
    {"br", "img", "hr", "input", "meta", "link", "col", "area", "base", "wbr", "source", "embed"}
)
_CELL = ("td", "th")


# ----------------------------------------------------------------------------------------------
# a small DOM
# ----------------------------------------------------------------------------------------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    tail: str = ""
    children: list[Element] = field(default_factory=list)

    def iter(self):
        """All elements below this one (not itself), in document order."""
        stack = list(reversed(self.children))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def find(self, tag: str) -> Element | None:
        for node in self.iter():
            if node.tag == tag:
                return node
        return None


class _TreeBuilder(HTMLParser):
    """html.parser -> :class:`Element` tree with the implied end tags of table markup."""

    # starting KEY closes open elements in VALUE, without crossing the boundary tags
    _IMPLIED = {
        "td": {"td", "th"},
        "th": {"td", "th"},
        "tr": {"td", "th", "tr"},
        "thead": {"td", "th", "tr", "thead", "tbody", "tfoot"},
        "tbody": {"td", "th", "tr", "thead", "tbody", "tfoot"},
        "tfoot": {"td", "th", "tr", "thead", "tbody", "tfoot"},
        "p": {"p"},
        "li": {"li"},
    }
    _BOUNDARY = {
        "td": {"tr", "table"},
        "th": {"tr", "table"},
        "tr": {"table", "thead", "tbody", "tfoot"},
        "thead": {"table"},
        "tbody": {"table"},
        "tfoot": {"table"},
        "p": {"td", "th", "div", "body"},
        "li": {"ul", "ol"},
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document")
        self.stack = [self.root]

    def _append_text(self, data: str) -> None:
        cur = self.stack[-1]
        if cur.children:
            cur.children[-1].tail += data
        else:
            cur.text += data

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        if tag in self._IMPLIED:
            closes, boundary = self._IMPLIED[tag], self._BOUNDARY[tag]
            for depth in range(len(self.stack) - 1, 0, -1):
                t = self.stack[depth].tag
                if t in boundary:
                    break
                if t in closes:
                    del self.stack[depth:]
                    break
        el = Element(tag, {k.lower(): (v if v is not None else "") for k, v in attrs})
        self.stack[-1].children.append(el)
        if tag not in VOID_TAGS:
            self.stack.append(el)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag.lower() not in VOID_TAGS and self.stack[-1].tag == tag.lower():
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self._append_text(data)


def parse_html(text: str) -> Element:
    """Parse HTML into a document :class:`Element` (comments dropped, entities decoded)."""
    b = _TreeBuilder()
    b.feed(text or "")
    b.close()
    return b.root


def serialize(node: Element) -> str:
    """HTML text of a node's children (a document) or of the node itself."""

    def one(n: Element) -> str:
        attrs = "".join(f' {k}="{html_lib.escape(v, quote=True)}"' for k, v in n.attrs.items())
        if n.tag in VOID_TAGS:
            return f"<{n.tag}{attrs}/>" + html_lib.escape(n.tail, quote=False)
        inner = html_lib.escape(n.text, quote=False) + "".join(one(c) for c in n.children)
        return f"<{n.tag}{attrs}>{inner}</{n.tag}>" + html_lib.escape(n.tail, quote=False)

    if node.tag == "#document":
        return html_lib.escape(node.text, quote=False) + "".join(one(c) for c in node.children)
    return one(node)


def _unwrap(parent: Element, index: int) -> None:
    """Replace ``parent.children[index]`` by its content (text, children, tail)."""
    child = parent.children[index]
    lead = child.text
    if index == 0:
        parent.text += lead
    else:
        parent.children[index - 1].tail += lead
    kids = child.children
    if kids:
        kids[-1].tail += child.tail
    elif index == 0:
        parent.text += child.tail
    else:
        parent.children[index - 1].tail += child.tail
    parent.children[index : index + 1] = kids


def _dom_normalise(node: Element) -> None:
    """OmniDocBench's DOM pass: th->td, unwrap thead/tbody/span, math -> $alttext$."""
    i = 0
    while i < len(node.children):
        c = node.children[i]
        if c.tag == "th":
            c.tag = "td"
        if c.tag == "math":
            text = "$" + c.attrs.get("alttext", "") + "$"
            node.children[i] = Element("#text", text=text, tail=c.tail)
            _unwrap_text_node(node, i)
            continue
        if c.tag in ("thead", "tbody", "span"):
            _unwrap(node, i)
            continue
        _dom_normalise(c)
        i += 1


def _unwrap_text_node(parent: Element, index: int) -> None:
    node = parent.children[index]
    if index == 0:
        parent.text += node.text + node.tail
    else:
        parent.children[index - 1].tail += node.text + node.tail
    del parent.children[index]


# ----------------------------------------------------------------------------------------------
# normalisation
# ----------------------------------------------------------------------------------------------


def normalize_html_table(text: str) -> str:
    """OmniDocBench's normalised HTML for the table(s) in ``text``; "" when there is no table."""
    if "<table" not in (text or "").replace(" ", "").replace("'", '"').lower():
        return ""
    doc = parse_html(text)
    _dom_normalise(doc)
    s = html_lib.unescape(serialize(doc)).replace("\n", "")
    s = unicodedata.normalize("NFKC", s).strip()
    s = "".join(re.findall(r"<table\b[^>]*>(.*)</table>", s, re.DOTALL | re.IGNORECASE))
    for attr in ("style", "height", "width", "align", "class"):
        s = re.sub(f'( {attr}=".*?")', "", s)
    s = re.sub(r"</?tbody>", "", s)
    s = re.sub(r"\s+", " ", s)
    s = '<html><body><table border="1" >' + s + "</table></body></html>"
    for tag in ("sup", "sub", "span", "div", "p"):
        s = s.replace(f"<{tag}>", "").replace(f"</{tag}>", "")
    return re.sub(r"<colgroup>.*?</colgroup>", "", s)


_MD_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")


def _md_cells(line: str) -> list[str]:
    s = line.strip()
    s = s.removeprefix("|")
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", s)]


def markdown_table_to_html(text: str) -> str:
    """Pipe tables in ``text`` -> HTML: rows above the ``---`` separator are header cells."""
    lines = [ln for ln in (text or "").replace("\r", "").split("\n")]
    rows = [ln for ln in lines if "|" in ln and ln.strip()]
    if len(rows) < 2:
        return ""
    head: list[list[str]] = []
    body: list[list[str]] = []
    seen_sep = any(_MD_SEPARATOR.match(r.strip()) for r in rows)
    target = head if seen_sep else body
    for r in rows:
        if _MD_SEPARATOR.match(r.strip()):
            target = body
            continue
        target.append(_md_cells(r))
    def esc(c: str) -> str:
        return html_lib.escape(c, quote=False)

    out = ["<table>"]
    if head:
        out.append(
            "<thead>"
            + "".join("<tr>" + "".join(f"<th>{esc(c)}</th>" for c in row) + "</tr>" for row in head)
            + "</thead>"
        )
    out.append(
        "<tbody>"
        + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in body)
        + "</tbody>"
    )
    out.append("</table>")
    return "".join(out)


_FORMATTING_TAGS = re.compile(
    r"</?(?:b|i|u|em|strong|tt|code|small|big|s|strike|font)\b[^<>]*+>", re.IGNORECASE  # linear: stops at '<'
)


def latex_table_to_html(text: str) -> str:
    """The tabulars in ``text`` -> HTML ("" when there is none), through the renderers' LaTeX converter.

    LaTeXML (OmniDocBench's converter) turns font commands into ``<span class=...>`` that the
    normaliser unwraps, and keeps a float's caption outside the ``<table>``; the renderers' converter
    emits ``<b>``/``<i>`` and an inner ``<caption>`` instead, so both are removed here to match.
    """
    from ..renderers.latex_table import LatexTableError, latex_to_html

    try:
        out = latex_to_html(text or "")
    except (LatexTableError, ValueError):
        return ""
    out = re.sub(r"<caption>.*?</caption>", "", out, flags=re.DOTALL)
    return _FORMATTING_TAGS.sub("", out)


def detect_table_format(text: str) -> str:
    """``html``, ``latex``, ``markdown`` or ``unknown``."""
    t = text or ""
    if "<table" in t.lower():
        return "html"
    if re.search(r"\\begin\{(tabular\*?|tabularx|longtable|tabulary|array)\}", t):
        return "latex"
    if sum(1 for ln in t.splitlines() if ln.count("|") >= 1 and ln.strip()) >= 2:
        return "markdown"
    return "unknown"


def strip_fences(text: str) -> str:
    """Drop Markdown code fences around a model's answer (```html ... ```)."""
    m = re.findall(r"```[a-zA-Z]*\n(.*?)```", text or "", re.DOTALL)
    return max(m, key=len) if m else (text or "")


def normalize_table(text: str, fmt: str = "auto") -> str:
    """Any table (HTML / Markdown / LaTeX, fenced or not) -> OmniDocBench-normalised HTML."""
    src = strip_fences(text)
    kind = detect_table_format(src) if fmt == "auto" else fmt
    if kind == "html":
        return normalize_html_table(src)
    if kind == "markdown":
        return normalize_html_table(markdown_table_to_html(src))
    if kind == "latex":
        return normalize_html_table(latex_table_to_html(src))
    if kind == "unknown":
        return ""
    raise ValueError(f"unknown table format {fmt!r}; choose html, markdown, latex or auto")


# ----------------------------------------------------------------------------------------------
# tree edit distance
# ----------------------------------------------------------------------------------------------


@dataclass
class TableNode:
    tag: str
    colspan: int | None = None
    rowspan: int | None = None
    content: list[str] | None = None
    children: list[TableNode] = field(default_factory=list)


def _int_attr(value: str | None) -> int:
    m = re.match(r"\s*(\d+)", value or "")
    return int(m.group(1)) if m else 1


def _cell_tokens(el: Element) -> list[str]:
    """PubTabNet's cell tokenisation: characters and inline tags (``<b>``, ``</b>``)."""
    toks: list[str] = list(el.text)

    def walk(n: Element) -> None:
        toks.append(f"<{n.tag}>")
        toks.extend(n.text)
        for c in n.children:
            walk(c)
        if n.tag != "unk":
            toks.append(f"</{n.tag}>")
        if n.tag != "td":
            toks.extend(n.tail)

    for c in el.children:
        walk(c)
    return toks


def table_tree(table: Element, structure_only: bool = False) -> TableNode:
    """PubTabNet's tree: every element below ``<table>`` is a node; ``td`` is a leaf with content."""

    def build(el: Element) -> TableNode:
        if el.tag == "td":
            return TableNode(
                "td",
                _int_attr(el.attrs.get("colspan")),
                _int_attr(el.attrs.get("rowspan")),
                [] if structure_only else _cell_tokens(el),
            )
        return TableNode(el.tag, children=[build(c) for c in el.children])

    return build(table)


def levenshtein(a: list[str] | str, b: list[str] | str) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _rename_cost(n1: TableNode, n2: TableNode) -> float:
    if n1.tag != n2.tag or n1.colspan != n2.colspan or n1.rowspan != n2.rowspan:
        return 1.0
    if n1.tag == "td" and (n1.content or n2.content):
        c1, c2 = n1.content or [], n2.content or []
        if c1 == c2:
            return 0.0
        return levenshtein(c1, c2) / max(len(c1), len(c2))
    return 0.0


def _postorder(root: TableNode) -> tuple[list[TableNode], list[int]]:
    """Nodes in post-order and each node's leftmost-leaf index."""
    nodes: list[TableNode] = []
    lld: list[int] = []
    stack: list[tuple[TableNode, int, int]] = [(root, 0, -1)]  # node, next child, leftmost leaf
    while stack:
        node, k, first = stack.pop()
        if k < len(node.children):
            stack.append((node, k + 1, first))
            stack.append((node.children[k], 0, -1))
            continue
        idx = len(nodes)
        nodes.append(node)
        lld.append(idx if not node.children else first)
        if stack:
            parent, pk, pfirst = stack[-1]
            if pfirst < 0:
                stack[-1] = (parent, pk, lld[idx])
    return nodes, lld


#: Largest node-count product the exact distance is computed for (its table holds this many floats).
MAX_TED_PRODUCT = 20_000_000


class TedsTooLarge(ValueError):
    """The trees are too large for the exact distance within the memory cap or the time limit."""


def tree_edit_distance(
    t1: TableNode, t2: TableNode, rename: Callable[[TableNode, TableNode], float] = _rename_cost,
    deadline: float | None = None,
) -> float:
    """Exact ordered tree edit distance (Zhang & Shasha 1989); insert = delete = 1. Raises
    :class:`TedsTooLarge` above :data:`MAX_TED_PRODUCT` or past ``deadline`` (``time.monotonic()``): a
    predicted table is untrusted, and this is quadratic or worse in its size."""
    a, la = _postorder(t1)
    b, lb = _postorder(t2)
    na, nb = len(a), len(b)
    if na * nb > MAX_TED_PRODUCT:
        raise TedsTooLarge(f"{na} x {nb} nodes is over the {MAX_TED_PRODUCT:,} limit")
    # keyroots: the highest node of each leftmost-leaf class
    kra = sorted({leaf: i for i, leaf in enumerate(la)}.values())
    krb = sorted({leaf: j for j, leaf in enumerate(lb)}.values())
    td = [[0.0] * nb for _ in range(na)]
    ren_cache: dict[tuple[int, int], float] = {}
    for i in kra:
        if deadline is not None and time.monotonic() > deadline:
            raise TedsTooLarge(f"{na} x {nb} nodes did not finish in time")
        li = la[i]
        m = i - li + 2
        for j in krb:
            lj = lb[j]
            n = j - lj + 2
            fd = [[0.0] * n for _ in range(m)]
            for y in range(1, n):
                fd[0][y] = float(y)
            for x in range(1, m):
                if deadline is not None and not x & 63 and time.monotonic() > deadline:
                    raise TedsTooLarge(f"{na} x {nb} nodes did not finish in time")
                ix = li + x - 1
                row, prev = fd[x], fd[x - 1]
                row[0] = float(x)
                lix = la[ix]
                for y in range(1, n):
                    jy = lj + y - 1
                    best = min(prev[y], row[y - 1]) + 1.0
                    if lix == li and lb[jy] == lj:
                        key = (ix, jy)
                        r = ren_cache.get(key)
                        if r is None:
                            r = ren_cache[key] = rename(a[ix], b[jy])
                        v = prev[y - 1] + r
                        best = min(best, v)
                        row[y] = best
                        td[ix][jy] = best
                    else:
                        v = fd[lix - li][lb[jy] - lj] + td[ix][jy]
                        row[y] = min(best, v)
    return td[na - 1][nb - 1]


def _table_of(html_text: str) -> Element | None:
    doc = parse_html(html_text)
    body = next((c for c in doc.iter() if c.tag == "body"), None)
    if body is not None:
        return next((c for c in body.children if c.tag == "table"), None)
    return doc.find("table")


def teds_html(pred_html: str, gold_html: str, structure_only: bool = False, deadline: float | None = None) -> float:
    """TEDS of two HTML strings as given (no normalisation); 0 when either has no table."""
    if not pred_html or not gold_html:
        return 0.0
    tp, tg = _table_of(pred_html), _table_of(gold_html)
    if tp is None or tg is None:
        return 0.0
    n = max(sum(1 for _ in tp.iter()), sum(1 for _ in tg.iter()))
    if n == 0:  # OmniDocBench: the division fails and the pair scores 0
        return 0.0
    dist = tree_edit_distance(table_tree(tp, structure_only), table_tree(tg, structure_only), deadline=deadline)
    return max(0.0, 1.0 - dist / n)


def teds(
    pred: str, gold: str, structure_only: bool = False, pred_format: str = "auto", gold_format: str = "auto",
    timeout: float | None = None,
) -> float:
    """TEDS (or TEDS-S with ``structure_only``) of two tables in any supported format, in [0, 1].
    With ``timeout`` (seconds), :class:`TedsTooLarge` when the distance does not finish in time."""
    deadline = None if timeout is None else time.monotonic() + timeout
    return teds_html(normalize_table(pred, pred_format), normalize_table(gold, gold_format), structure_only,
                     deadline)
