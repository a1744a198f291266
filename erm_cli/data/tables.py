"""Structured tables: a slot-grid model, a random generator, HTML/Markdown writers and readers.

A :class:`Table` stores a grid of slots, each holding the id of the cell that covers it; a merged
cell simply covers a rectangle of slots. Row and column edits are edits of the slot grid, so spans
stay correct and a perturbation can say exactly which row, column or cell it changed. User tables
(``--source``) are read into the same model (:func:`parse_html_table`, :func:`parse_markdown_table`)
and written back inside their original document.
"""

from __future__ import annotations

import copy
import html
import random
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from ..errors import InputError


@dataclass
class Cell:
    text: str
    header: bool = False
    align: str = ""  # "", "left", "right", "center"
    attrs: str = ""  # extra HTML attributes kept from a source table (class, style)


@dataclass
class Table:
    grid: list[list[int]]
    cells: dict[int, Cell]
    caption: str = ""
    fmt: str = "html"  # "html" | "markdown"
    css: str = ""
    table_attrs: str = ""
    prefix: str = ""  # document text before the table (user sources)
    suffix: str = ""
    code_style: int = 0  # bit 0: compact html; bit 1: html comments / padded markdown; bit 2: outer pipes off

    def copy(self) -> "Table":
        return copy.deepcopy(self)

    @property
    def kind(self) -> str:
        return self.fmt

    # -- geometry
    @property
    def n_rows(self) -> int:
        return len(self.grid)

    @property
    def n_cols(self) -> int:
        return len(self.grid[0]) if self.grid else 0

    @property
    def n_header_rows(self) -> int:
        n = 0
        for row in self.grid:
            if all(self.cells[c].header for c in row):
                n += 1
            else:
                break
        return n

    def extent(self, cid: int) -> tuple[int, int, int, int]:
        """(row0, col0, rows, cols) of the rectangle a cell covers."""
        rows = [r for r, row in enumerate(self.grid) if cid in row]
        cols = [c for row in self.grid for c, x in enumerate(row) if x == cid]
        return rows[0], min(cols), rows[-1] - rows[0] + 1, max(cols) - min(cols) + 1

    def is_valid(self) -> bool:
        """Every cell covers a full rectangle of slots, and every row has the same width."""
        if not self.grid or any(len(r) != self.n_cols for r in self.grid) or self.n_cols == 0:
            return False
        seen: set[int] = set()
        for r, row in enumerate(self.grid):
            for c, cid in enumerate(row):
                if cid in seen:
                    continue
                seen.add(cid)
                r0, c0, nr, nc = self.extent(cid)
                if (r0, c0) != (r, c):
                    return False
                for rr in range(r0, r0 + nr):
                    for cc in range(c0, c0 + nc):
                        if self.grid[rr][cc] != cid:
                            return False
                count = sum(row2.count(cid) for row2 in self.grid)
                if count != nr * nc:
                    return False
        return set(self.cells) >= seen

    def has_spans(self) -> bool:
        return any(
            sum(row.count(cid) for row in self.grid) > 1 for cid in {c for row in self.grid for c in row}
        )

    def new_id(self) -> int:
        return max(self.cells, default=-1) + 1

    def compact(self) -> None:
        """Drop cells no slot refers to."""
        used = {c for row in self.grid for c in row}
        self.cells = {k: v for k, v in self.cells.items() if k in used}

    # -- names for gold labels
    def column_name(self, col: int) -> str:
        h = self.n_header_rows
        parts = []
        for r in range(h):
            t = self.cells[self.grid[r][col]].text.strip()
            if t and t not in parts:
                parts.append(t)
        return " / ".join(parts) if parts else f"column {col + 1}"

    def row_name(self, row: int) -> str:
        """The row's label: its first non-numeric text, preferring cells not merged with other rows."""
        own = [
            cid
            for cid in self.grid[row]
            if all(cid not in self.grid[k] for k in range(self.n_rows) if k != row)
        ]
        for ids in (own, self.grid[row]):
            for cid in ids:
                t = self.cells[cid].text.strip()
                if t and not _looks_numeric(t):
                    return t
        return f"row {row + 1}"

    def where(self, row: int | None = None, col: int | None = None) -> str:
        parts = []
        if row is not None:
            if row < self.n_header_rows:
                parts.append(f"Header row {row + 1}")
            else:
                parts.append(f"Row {row - self.n_header_rows + 1} ('{self.row_name(row)}')")
        if col is not None:
            parts.append(f"column '{self.column_name(col)}'")
        return ", ".join(parts) if parts else "Table"

    def code(self) -> str:
        return table_html(self) if self.fmt == "html" else table_markdown(self)


def _looks_numeric(text: str) -> bool:
    return bool(NUMBER_RE.search(text)) and sum(ch.isalpha() for ch in text) <= 3


#: A number inside a cell: sign, currency, digits with optional thousands separators, decimals, the rest (unit).
NUMBER_RE = re.compile(r"(?P<sign>[-−+]?)(?P<cur>[$€£]?)(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?")


# ------------------------------------------------------------------------------- writers

DEFAULT_CSS = """table {{ border-collapse: collapse; font-family: {font}; font-size: {size}px; color: #222222; }}
caption {{ caption-side: top; font-weight: bold; padding-bottom: 8px; text-align: left; }}
th, td {{ border: 1px solid {border}; padding: 6px 10px; }}
th {{ background: {head}; font-weight: bold; text-align: center; }}
td.num {{ text-align: right; }}
{extra}"""


def _attrs(cell: Cell, rowspan: int, colspan: int, styled: bool) -> str:
    out = ""
    if rowspan > 1:
        out += f' rowspan="{rowspan}"'
    if colspan > 1:
        out += f' colspan="{colspan}"'
    if styled and cell.align == "right" and not cell.header and not cell.attrs:
        out += ' class="num"'
    if cell.attrs:
        out += " " + cell.attrs.strip()
    return out


def table_element(t: Table) -> str:
    """The ``<table>`` element alone."""
    compact = bool(t.code_style & 1)
    comments = bool(t.code_style & 2)
    nl, ind = ("", "") if compact else ("\n", "  ")
    lines: list[str] = []
    attrs = f" {t.table_attrs.strip()}" if t.table_attrs.strip() else ""
    lines.append(f"<table{attrs}>")
    if t.caption:
        lines.append(f"{ind}<caption>{html.escape(t.caption, quote=False)}</caption>")
    seen: set[int] = set()
    h = t.n_header_rows
    for r, row in enumerate(t.grid):
        if r == 0 and h:
            lines.append(f"{ind}<thead>")
        if r == h:
            if comments:
                lines.append(f"{ind}<!-- body rows -->")
            lines.append(f"{ind}<tbody>")
        cells_html = []
        for c, cid in enumerate(row):
            if cid in seen:
                continue
            seen.add(cid)
            _, _, nr, nc = t.extent(cid)
            cell = t.cells[cid]
            tag = "th" if cell.header else "td"
            cells_html.append(
                f"<{tag}{_attrs(cell, nr, nc, bool(t.css))}>{html.escape(cell.text, quote=False)}</{tag}>"
            )
        if compact:
            lines.append(f"<tr>{''.join(cells_html)}</tr>")
        else:
            lines.append(f"{ind * 2}<tr>")
            lines.extend(f"{ind * 3}{ch}" for ch in cells_html)
            lines.append(f"{ind * 2}</tr>")
        if h and r == h - 1:
            lines.append(f"{ind}</thead>")
    if t.n_rows > h:
        lines.append(f"{ind}</tbody>")
    lines.append("</table>")
    return nl.join(lines)


def table_html(t: Table) -> str:
    """The table as HTML: a bare ``<table>`` (styled by the renderer's fixed stylesheet), preceded by a
    ``<style>`` block when the table has its own look, or the user's document with the table rewritten."""
    element = table_element(t)
    if t.prefix or t.suffix:
        return t.prefix + element + t.suffix
    if t.css:
        return "<style>\n" + t.css.rstrip() + "\n</style>\n" + element + "\n"
    return element + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table_markdown(t: Table) -> str:
    """A GitHub-flavoured Markdown table (tables with merged cells or several header rows cannot be written)."""
    if t.has_spans() or t.n_header_rows != 1:
        raise ValueError("a Markdown table needs exactly one header row and no merged cells")
    padded = bool(t.code_style & 2)
    outer = not (t.code_style & 4)
    rows = [[_md_escape(t.cells[cid].text) for cid in row] for row in t.grid]
    widths = [max(3, *(len(r[c]) for r in rows)) for c in range(t.n_cols)] if padded else [0] * t.n_cols
    aligns = [t.cells[t.grid[min(1, t.n_rows - 1)][c]].align for c in range(t.n_cols)]

    def line(cells: list[str]) -> str:
        body = " | ".join(cell.ljust(w) for cell, w in zip(cells, widths))
        return f"| {body} |" if outer else body

    def sep(c: int) -> str:
        w = max(4, widths[c])
        a = aligns[c]
        if a == "right":
            return "-" * (w - 1) + ":"
        if a == "center":
            return ":" + "-" * (w - 2) + ":"
        if a == "left":
            return ":" + "-" * (w - 1)
        return "-" * w

    seps = " | ".join(sep(c) for c in range(t.n_cols))
    out = [line(rows[0]), f"| {seps} |" if outer else seps]
    out.extend(line(r) for r in rows[1:])
    body = "\n".join(out) + "\n"
    if t.prefix or t.suffix:
        return t.prefix + body + t.suffix
    if t.caption:
        return f"**{_md_escape(t.caption)}**\n\n" + body
    return body


# ------------------------------------------------------------------------------- generator


@dataclass(frozen=True)
class Column:
    name: str
    lo: float
    hi: float
    decimals: int = 1
    style: str = "plain"  # plain | sep (thousands) | signed | pct | usd | pm | unit
    unit: str = ""  # for style "unit": written after the number


@dataclass(frozen=True)
class Theme:
    key: str
    captions: tuple[str, ...]
    row_header: str
    rows: tuple[str, ...]
    columns: tuple[Column, ...]
    groups: tuple[
        tuple[str, tuple[str, ...]], ...
    ] = ()  # row groups: (label, members) -> merged first column
    col_groups: tuple[tuple[str, int], ...] = ()  # header groups over the value columns: (label, width)
    text_columns: tuple[tuple[str, tuple[str, ...]], ...] = ()  # extra text columns with value pools


THEMES: tuple[Theme, ...] = (
    Theme(
        "countries",
        ("Table 1: Country indicators (2023)", "Key economic indicators", "Country statistics"),
        "Country",
        (
            "Brazil",
            "Canada",
            "Egypt",
            "France",
            "India",
            "Japan",
            "Kenya",
            "Mexico",
            "Norway",
            "Peru",
            "Spain",
            "Vietnam",
        ),
        (
            Column("Population (M)", 5, 400, 1),
            Column("GDP (US$ bn)", 80, 4000, 0, "sep"),
            Column("Growth (%)", -3, 8, 1, "signed"),
            Column("Area (km²)", 30000, 3000000, 0, "sep"),
            Column("Life exp. (years)", 60, 85, 1),
        ),
        text_columns=(("Capital", ()),),
    ),
    Theme(
        "benchmark",
        ("Table 2: Results on reasoning and knowledge benchmarks", "Main results", "Benchmark accuracy (%)"),
        "Model",
        ("GPT-small", "Llama-7B", "Mistral-7B", "Qwen-7B", "Ours (base)", "Ours (RL)", "Baseline"),
        (
            Column("GSM8K", 20, 90, 1),
            Column("MATH", 5, 60, 1),
            Column("MMLU", 40, 80, 1),
            Column("ARC", 40, 90, 1),
            Column("Avg.", 30, 80, 1),
            Column("HellaSwag", 50, 90, 1),
        ),
        col_groups=(("Reasoning", 2), ("Knowledge", 2)),
    ),
    Theme(
        "finance",
        ("Quarterly revenue by segment (USD m)", "Segment results", "Table 3: Revenue by quarter"),
        "Segment",
        ("Cloud", "Devices", "Services", "Advertising", "Licensing", "Gaming"),
        (
            Column("H1 2023", 50, 900, 1),
            Column("H2 2023", 50, 900, 1),
            Column("H1 2024", 50, 900, 1),
            Column("H2 2024", 50, 900, 1),
            Column("Total", 200, 3600, 1, "sep"),
        ),
        col_groups=(("2023", 2), ("2024", 2)),
    ),
    Theme(
        "products",
        ("Laptop comparison", "Product specifications", "Table 4: Device specifications"),
        "Model",
        ("Aero 14", "Zen Pro", "Nova X", "Swift 3", "Book Air", "Flex 5", "Titan 17"),
        (
            Column("Weight", 0.9, 3.2, 2, "unit", "kg"),
            Column("Battery", 3000, 9000, 0, "unit", "mAh"),
            Column("Price", 399, 2999, 0, "usd"),
            Column("Rating", 2.5, 5.0, 1),
            Column("Storage", 128, 2048, 0, "unit", "GB"),
        ),
    ),
    Theme(
        "experiment",
        (
            "Table 5: Reaction yield under different conditions",
            "Measured yield by condition",
            "Experimental results",
        ),
        "Trial",
        ("Trial 1", "Trial 2", "Trial 3"),
        (
            Column("Temperature (°C)", 20, 95, 1),
            Column("Pressure (kPa)", 95, 310, 0),
            Column("Yield (%)", 40, 98, 1),
            Column("Time (min)", 5, 120, 0),
            Column("Error", 0.1, 2.5, 2, "pm"),
        ),
    ),
    Theme(
        "league",
        ("League table", "Standings after 20 rounds", "Table 6: Final standings"),
        "Team",
        ("Rovers", "United", "City", "Athletic", "Wanderers", "Albion", "Rangers", "Town"),
        (
            Column("P", 20, 20, 0),
            Column("W", 3, 15, 0),
            Column("D", 1, 8, 0),
            Column("L", 1, 12, 0),
            Column("GD", -20, 25, 0, "signed"),
            Column("Pts", 10, 50, 0),
        ),
    ),
    Theme(
        "courses",
        ("Course schedule (autumn term)", "Timetable", "Table 7: Course overview"),
        "Course",
        (
            "Linear Algebra",
            "Data Structures",
            "Organic Chemistry",
            "Microeconomics",
            "Statistics",
            "Operating Systems",
            "World History",
        ),
        (Column("Credits", 3, 6, 0), Column("Enrolled", 25, 240, 0), Column("Pass rate", 60, 99, 1, "pct")),
        text_columns=(
            (
                "Instructor",
                (
                    "Dr. Alvarez",
                    "Prof. Chen",
                    "Dr. Okafor",
                    "Prof. Novak",
                    "Dr. Silva",
                    "Prof. Tanaka",
                    "Dr. Weber",
                ),
            ),
            ("Room", ("A-101", "B-204", "C-310", "Hall 2", "Lab 5", "D-015")),
        ),
    ),
)

GROUPED_THEMES = {"experiment": (("Control", 3), ("Catalyst A", 3), ("Catalyst B", 3))}
CAPITALS = {
    "Brazil": "Brasília",
    "Canada": "Ottawa",
    "Egypt": "Cairo",
    "France": "Paris",
    "India": "New Delhi",
    "Japan": "Tokyo",
    "Kenya": "Nairobi",
    "Mexico": "Mexico City",
    "Norway": "Oslo",
    "Peru": "Lima",
    "Spain": "Madrid",
    "Vietnam": "Hanoi",
}
FONTS = ("Arial, sans-serif", "Georgia, serif", "'DejaVu Sans', sans-serif", "Verdana, sans-serif")
HEAD_COLOURS = ("#e8eef7", "#f2f2f2", "#dff0d8", "#fdebd0", "#e6e0f8", "#ffffff")
BORDERS = ("#999999", "#333333", "#cccccc", "#7a869a")


def format_value(v: float, col: Column) -> str:
    d = col.decimals
    num = f"{abs(v):,.{d}f}" if col.style in ("sep", "usd") else f"{abs(v):.{d}f}"
    sign = "-" if v < 0 else ""
    if col.style == "signed":
        return f"{'+' if v > 0 else ('-' if v < 0 else '')}{num}"
    if col.style == "pct":
        return f"{sign}{num}%"
    if col.style == "usd":
        return f"{sign}${num}"
    if col.style == "pm":
        return f"± {num}"
    if col.style == "unit":
        return f"{sign}{num} {col.unit}"
    return f"{sign}{num}"


def random_table(rng: random.Random, fmt: str = "html") -> Table:
    """A realistic random table; ``fmt`` "markdown" gives a simple one (one header row, no merged cells)."""
    theme = rng.choice(THEMES)
    md = fmt == "markdown"
    cells: dict[int, Cell] = {}
    grid: list[list[int]] = []

    def add(text: str, header: bool = False, align: str = "") -> int:
        cid = len(cells)
        cells[cid] = Cell(text, header, align)
        return cid

    # columns
    value_cols = list(theme.columns)
    n_val = min(len(value_cols), rng.randint(3, 5))
    if theme.col_groups and not md:
        n_val = sum(w for _, w in theme.col_groups)
        value_cols = value_cols[:n_val]
    elif theme.key == "finance":
        value_cols = value_cols[:4] + (value_cols[4:5] if rng.random() < 0.5 else [])
    else:
        value_cols = (
            value_cols[:n_val]
            if theme.key in ("league", "benchmark")
            else sorted(rng.sample(value_cols, n_val), key=value_cols.index)
        )
    text_cols = list(theme.text_columns) if rng.random() < 0.7 else []
    grouped = theme.key in GROUPED_THEMES and not md
    use_groups = bool(theme.col_groups) and not md

    # header rows
    lead = ["Condition"] if grouped else []
    lead.append(theme.row_header)
    lead += [name for name, _ in text_cols]
    if use_groups:
        top, bottom = [], []
        for name in lead:
            cid = add(name, True)
            top.append(cid)
            bottom.append(cid)
        for label, width in theme.col_groups:
            cid = add(label, True)
            top.extend([cid] * width)
        for col in value_cols:
            bottom.append(add(col.name.split()[0], True))
        extra = [c for c in theme.columns[n_val:] if rng.random() < 0.5][:1]
        for col in extra:
            cid = add(col.name, True)
            top.append(cid)
            bottom.append(cid)
        value_cols += extra
        grid += [top, bottom]
    else:
        grid.append([add(name, True) for name in lead] + [add(col.name, True) for col in value_cols])

    # body rows
    if grouped:
        groups = GROUPED_THEMES[theme.key][: rng.randint(2, 3)]
        row_labels = [(g, r) for g, n in groups for r in theme.rows[:n]]
    else:
        k = rng.randint(min(4, len(theme.rows)), min(8, len(theme.rows)))
        row_labels = [(None, r) for r in rng.sample(list(theme.rows), k)]
        if theme.key == "league":
            row_labels = [(None, r) for r in theme.rows[:k]]
    group_cell: dict[str, int] = {}
    body = []
    for g, label in row_labels:
        row: list[int] = []
        if g is not None:
            if g not in group_cell:
                group_cell[g] = add(g)
            row.append(group_cell[g])
        row.append(add(label))
        for name, pool in text_cols:
            value = CAPITALS.get(label, "—") if name == "Capital" else rng.choice(pool)
            row.append(add(value))
        for col in value_cols:
            v = rng.uniform(col.lo, col.hi)
            row.append(add(format_value(round(v, col.decimals), col), align="right"))
        body.append(row)
    if theme.key == "league":  # standings sorted by points
        pts = [float(cells[r[-1]].text) for r in body]
        body = [r for _, r in sorted(zip(pts, body), key=lambda x: -x[0])]
    grid += body
    css = (
        ""
        if rng.random() < 0.5
        else DEFAULT_CSS.format(
            font=rng.choice(FONTS),
            size=rng.choice((13, 14, 15)),
            border=rng.choice(BORDERS),
            head=rng.choice(HEAD_COLOURS),
            extra="tbody tr:nth-child(even) td { background: #f7f9fc; }" if rng.random() < 0.4 else "",
        )
    )
    caption = rng.choice(theme.captions) if rng.random() < 0.75 else ""
    table = Table(grid, cells, caption, fmt, css, code_style=rng.randint(0, 7))
    assert table.is_valid()
    return table


# ------------------------------------------------------------------------------- readers (user sources)


class _TableParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.rows: list[list[tuple[str, bool, int, int, str]]] = []
        self.caption = ""
        self._cell: list[str] | None = None
        self._cell_meta: tuple[bool, int, int, str] | None = None
        self._in_caption = False
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        a = {k: (v or "") for k, v in attrs}
        if tag == "table":
            self.depth += 1
            return
        if self.depth != 1:
            return
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            keep = " ".join(f'{k}="{html.escape(v)}"' for k, v in attrs if k in ("class", "style") and v)
            self._cell = []
            self._cell_meta = (tag == "th", _int(a.get("rowspan")), _int(a.get("colspan")), keep)
        elif tag == "caption":
            self._in_caption = True
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self.done:
            return
        if tag == "table":
            self.depth -= 1
            if self.depth == 0:
                self.done = True
            return
        if self.depth != 1:
            return
        if tag in ("td", "th") and self._cell is not None and self._cell_meta is not None:
            if not self.rows:
                self.rows.append([])
            text = " ".join("".join(self._cell).split())
            self.rows[-1].append((text, *self._cell_meta))
            self._cell, self._cell_meta = None, None
        elif tag == "caption":
            self._in_caption = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._in_caption:
            self.caption += data


def _int(v: str | None) -> int:
    try:
        return max(1, min(100, int(str(v).strip())))
    except (TypeError, ValueError):
        return 1


def parse_html_table(source: str) -> Table:
    """Read the first ``<table>`` of an HTML document; the rest of the document is kept around it."""
    m = re.search(r"<table\b([^<>]*+)>", source, flags=re.I)  # [^<>]: linear on many unclosed tags
    end = None
    if m:
        depth = 0
        for tm in re.finditer(r"<(/?)table\b[^<>]*+>", source[m.start() :], flags=re.I):
            depth += -1 if tm.group(1) else 1
            if depth == 0:
                end = m.start() + tm.end()
                break
    if not m or end is None:
        raise InputError("no complete <table> element found")
    p = _TableParser()
    p.feed(source[m.start() : end])
    if not p.rows or not any(p.rows):
        raise InputError("the table has no cells")
    cells: dict[int, Cell] = {}
    grid: list[list[int | None]] = []
    for r, row in enumerate(p.rows):
        while len(grid) <= r:
            grid.append([])
        c = 0
        for text, header, rowspan, colspan, keep in row:
            while c < len(grid[r]) and grid[r][c] is not None:
                c += 1
            cid = len(cells)
            align = "right" if (not header and _looks_numeric(text)) else ""
            cells[cid] = Cell(text, header, align, keep)
            for rr in range(r, r + rowspan):
                while len(grid) <= rr:
                    grid.append([])
                for cc in range(c, c + colspan):
                    while len(grid[rr]) <= cc:
                        grid[rr].append(None)
                    grid[rr][cc] = cid
            c += colspan
    width = max(len(r) for r in grid)
    full: list[list[int]] = []
    for row in grid[: len(p.rows)]:
        out = []
        for c in range(width):
            v = row[c] if c < len(row) else None
            if v is None:
                v = len(cells)
                cells[v] = Cell("")
            out.append(v)
        full.append(out)
    table = Table(
        full,
        cells,
        " ".join(p.caption.split()),
        "html",
        table_attrs=m.group(1),
        prefix=source[: m.start()],
        suffix=source[end:],
        code_style=0,
    )
    if not table.is_valid():
        raise InputError("the table's merged cells overlap or are not rectangular")
    return table


def parse_markdown_table(source: str) -> Table:
    """Read the first pipe table of a Markdown document."""
    lines = source.splitlines(keepends=True)
    sep_re = re.compile(r"^\s*+\|?+\s*+:?+-++:?+\s*+(\|\s*+:?+-++:?+\s*+)*+\|?+\s*+$")  # possessive: linear
    for i in range(1, len(lines)):
        if sep_re.match(lines[i]) and "|" in lines[i - 1]:
            start, end = i - 1, i + 1
            while end < len(lines) and "|" in lines[end] and lines[end].strip():
                end += 1
            break
    else:
        raise InputError("no Markdown pipe table found")
    from ..bench.teds import _md_cells as split  # the one pipe-row splitter (TEDS reads tables the same way)

    header = split(lines[start])
    aligns = []
    for c in split(lines[start + 1]):
        a = (
            "right"
            if c.endswith(":") and not c.startswith(":")
            else (
                "center" if c.startswith(":") and c.endswith(":") else ("left" if c.startswith(":") else "")
            )
        )
        aligns.append(a)
    body = [split(line) for line in lines[start + 2 : end]]
    width = len(header)
    cells: dict[int, Cell] = {}
    grid: list[list[int]] = []
    for r, row in enumerate([header] + body):
        row = (row + [""] * width)[:width]
        out = []
        for c, text in enumerate(row):
            cid = len(cells)
            cells[cid] = Cell(text, r == 0, aligns[c] if c < len(aligns) else "")
            out.append(cid)
        grid.append(out)
    table = Table(
        grid,
        cells,
        "",
        "markdown",
        prefix="".join(lines[:start]),
        suffix="".join(lines[end:]),
        code_style=2 if any("  |" in line for line in lines[start:end]) else 0,
    )
    if lines[start].strip().startswith("|"):
        table.code_style &= ~4
    else:
        table.code_style |= 4
    return table
