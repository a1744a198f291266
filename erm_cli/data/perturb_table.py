"""Table perturbations on a :class:`~erm_cli.data.tables.Table`, each with its gold label.

Categories follow Visual-ERM's table taxonomy: ``layout_error`` (rows, columns, merged cells,
header structure), ``numeric_error`` (digits, decimal point, sign, units) and ``text_error``
(words, typos, missing text). Severity grows with the size of the change.
"""

from __future__ import annotations

import random

from .perturbation import Edit, PerturbationInfo, make_typo, quote, registry, severity_from_ratio
from .tables import NUMBER_RE, THEMES, Cell, Table

CELL_UNIT_SWAPS = {"kg": "g", "mAh": "Ah", "GB": "MB", "%": "‰", "$": "€", "€": "$", "£": "$"}
HEADER_UNIT_SWAPS = {
    "(M)": "(K)",
    "(%)": "(‰)",
    "(US$ bn)": "(US$ m)",
    "(°C)": "(°F)",
    "(kPa)": "(Pa)",
    "(min)": "(s)",
    "(years)": "(months)",
    "(km²)": "(mi²)",
    "(USD m)": "(EUR m)",
}
TEXT_POOL = sorted(
    {r for th in THEMES for r in th.rows}
    | {v for th in THEMES for _, pool in th.text_columns for v in pool}
    | {"Total", "Other", "Average", "Median", "Reference", "Pending", "N/A"}
)


# ------------------------------------------------------------------------------- keys and helpers


def _unique_to_row(t: Table, r: int) -> list[int]:
    return [cid for cid in t.grid[r] if all(cid not in t.grid[k] for k in range(t.n_rows) if k != r)]


def row_key(t: Table, r: int) -> str:
    ids = _unique_to_row(t, r)
    return f"row[{min(ids)}]" if ids else f"row#{r}"


def col_key(t: Table, c: int) -> str:
    h = t.n_header_rows
    if h:
        cid = t.grid[h - 1][c]
        if sum(row.count(cid) for row in t.grid) == 1 or all(row[c] == cid for row in t.grid[:h]):
            if all(cid not in row[:c] + row[c + 1 :] for row in t.grid):
                return f"col[{cid}]"
    return f"col#{c}"


def cell_key(t: Table, r: int, c: int) -> str:
    cid = t.grid[r][c]
    if r < t.n_header_rows:
        return f"header.cell[{cid}]|{col_key(t, c)}.cell[{cid}]"
    return f"{row_key(t, r)}.cell[{cid}]|{col_key(t, c)}.cell[{cid}]"


def body_rows(t: Table) -> list[int]:
    return list(range(t.n_header_rows, t.n_rows))


def _single_cells(t: Table, rows: list[int], pred) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """(row, col) of 1x1 cells in ``rows`` whose cell satisfies ``pred``."""
    out = []
    for r in rows:
        for c, cid in enumerate(t.grid[r]):
            if sum(row.count(cid) for row in t.grid) == 1 and pred(t.cells[cid]):
                out.append((r, c))
    return out


def _numeric(cell: Cell) -> bool:
    m = NUMBER_RE.search(cell.text)
    return bool(m) and sum(ch.isalpha() for ch in cell.text) <= 3


def _texty(cell: Cell) -> bool:
    return sum(ch.isalpha() for ch in cell.text) >= 3 and not _numeric(cell)


def _ok(t: Table, edit: Edit | None) -> Edit | None:
    """Accept an edit only if the table is still well formed and writable in its format."""
    if edit is None:
        return None
    t.compact()
    if not t.is_valid():
        return None
    try:
        t.code()
    except ValueError:
        return None
    return edit


def _value(m) -> float:  # type: ignore[no-untyped-def]
    v = float(m.group("int").replace(",", "") + ("." + m.group("frac") if m.group("frac") else ""))
    return -v if m.group("sign") in ("-", "−") else v


def _clone_row(t: Table, r: int) -> list[int]:
    """A copy of row ``r`` with fresh cells, except cells spanning other rows which are extended."""
    out = []
    made: dict[int, int] = {}
    for cid in t.grid[r]:
        spans_rows = any(cid in t.grid[k] for k in range(t.n_rows) if k != r)
        if spans_rows:
            out.append(cid)
        else:
            if cid not in made:
                nid = t.new_id()
                src = t.cells[cid]
                t.cells[nid] = Cell(src.text, src.header, src.align, src.attrs)
                made[cid] = nid
            out.append(made[cid])
    return out


# ------------------------------------------------------------------------------- layout


def drop_row(t: Table, rng: random.Random) -> Edit | None:
    rows = body_rows(t)
    if len(rows) < 2:
        return None
    r = rng.choice(rows)
    loc, key = t.where(row=r), row_key(t, r)
    t.grid.pop(r)
    sev = 3 if len(rows) <= 3 else 2
    return _ok(t, Edit("table.drop_row", "layout_error", sev, loc, f"{loc} is missing.", key))


def duplicate_row(t: Table, rng: random.Random) -> Edit | None:
    rows = body_rows(t)
    if not rows:
        return None
    r = rng.choice(rows)
    loc, key = t.where(row=r), row_key(t, r)
    t.grid.insert(r + 1, _clone_row(t, r))
    return _ok(t, Edit("table.duplicate_row", "layout_error", 2, loc, f"{loc} appears twice.", key))


def swap_rows(t: Table, rng: random.Random) -> Edit | None:
    rows = body_rows(t)
    if len(rows) < 2:
        return None
    i = rng.randrange(len(rows) - 1)
    r1, r2 = rows[i], rows[i + 1]
    if [t.cells[c].text for c in t.grid[r1]] == [t.cells[c].text for c in t.grid[r2]]:
        return None
    a, b = t.row_name(r1), t.row_name(r2)
    key = f"{row_key(t, r1)}|{row_key(t, r2)}"
    t.grid[r1], t.grid[r2] = t.grid[r2], t.grid[r1]
    return _ok(
        t,
        Edit(
            "table.swap_rows",
            "layout_error",
            2,
            f"Rows '{a}' and '{b}'",
            f"Rows '{a}' and '{b}' are in swapped order.",
            key,
        ),
    )


def drop_column(t: Table, rng: random.Random) -> Edit | None:
    if t.n_cols < 3:
        return None
    c = rng.randrange(t.n_cols)
    name, key = t.column_name(c), col_key(t, c)
    for row in t.grid:
        row.pop(c)
    sev = 3 if c == 0 else 2
    return _ok(
        t,
        Edit(
            "table.drop_column", "layout_error", sev, f"Column '{name}'", f"Column '{name}' is missing.", key
        ),
    )


def duplicate_column(t: Table, rng: random.Random) -> Edit | None:
    c = rng.randrange(t.n_cols)
    name, key = t.column_name(c), col_key(t, c)
    made: dict[int, int] = {}
    for row in t.grid:
        cid = row[c]
        if any(x == cid for k, x in enumerate(row) if k != c):  # spans columns: extend
            row.insert(c + 1, cid)
            continue
        if cid not in made:
            nid = t.new_id()
            src = t.cells[cid]
            t.cells[nid] = Cell(src.text, src.header, src.align, src.attrs)
            made[cid] = nid
        row.insert(c + 1, made[cid])
    return _ok(
        t,
        Edit(
            "table.duplicate_column",
            "layout_error",
            2,
            f"Column '{name}'",
            f"Column '{name}' appears twice.",
            key,
        ),
    )


def swap_columns(t: Table, rng: random.Random) -> Edit | None:
    if t.n_cols < 3:
        return None
    c = rng.randrange(1, t.n_cols - 1)
    a, b = t.column_name(c), t.column_name(c + 1)
    key = f"{col_key(t, c)}|{col_key(t, c + 1)}"
    for row in t.grid:
        row[c], row[c + 1] = row[c + 1], row[c]
    return _ok(
        t,
        Edit(
            "table.swap_columns",
            "layout_error",
            2,
            f"Columns '{a}' and '{b}'",
            f"Columns '{a}' and '{b}' are swapped.",
            key,
        ),
    )


def merge_cells(t: Table, rng: random.Random) -> Edit | None:
    cand = _single_cells(t, body_rows(t), lambda cell: True)
    pairs = []
    singles = set(cand)
    for r, c in cand:
        if (r, c + 1) in singles:
            pairs.append(((r, c), (r, c + 1)))
        if (r + 1, c) in singles:
            pairs.append(((r, c), (r + 1, c)))
    if not pairs:
        return None
    (r1, c1), (r2, c2) = rng.choice(pairs)
    lost = t.cells[t.grid[r2][c2]].text
    loc = t.where(row=r1, col=c1)
    key = f"{cell_key(t, r1, c1)}|{cell_key(t, r2, c2)}"
    direction = "the cell to its right" if r1 == r2 else "the cell below"
    t.grid[r2][c2] = t.grid[r1][c1]
    desc = f"The cell at {loc} is merged with {direction}" + (
        f"; the value {quote(lost)} is lost." if lost else "."
    )
    return _ok(t, Edit("table.merge_cells", "layout_error", 2, loc, desc, key))


def split_cell(t: Table, rng: random.Random) -> Edit | None:
    spans = sorted({cid for row in t.grid for cid in row if sum(r.count(cid) for r in t.grid) > 1})
    if not spans:
        return None
    cid = rng.choice(spans)
    r0, c0, nr, nc = t.extent(cid)
    text = t.cells[cid].text
    for r in range(r0, r0 + nr):
        for c in range(c0, c0 + nc):
            if (r, c) == (r0, c0):
                continue
            nid = t.new_id()
            t.cells[nid] = Cell("", t.cells[cid].header, "", t.cells[cid].attrs)
            t.grid[r][c] = nid
    what = "header cell" if t.cells[cid].header else "merged cell"
    how = f"spanning {nc} columns" if nc > 1 else f"spanning {nr} rows"
    return _ok(
        t,
        Edit(
            "table.split_cell",
            "layout_error",
            2,
            f"{what.capitalize()} {quote(text)}",
            f"The {what} {quote(text)} ({how}) is split into separate cells.",
            f"header.span[{cid}]" if t.cells[cid].header else f"span[{cid}]|{row_key(t, r0)}",
        ),
    )


def flatten_header(t: Table, rng: random.Random) -> Edit | None:
    h = t.n_header_rows
    if h < 2:
        return None
    top = t.grid[0]
    groups = sorted(
        {t.cells[c].text for c in top if sum(row.count(c) for row in t.grid) > 1 and t.extent(c)[3] > 1}
    )
    t.grid.pop(0)
    desc = "The multi-level header is flattened to one row" + (
        f"; the group headers {', '.join(quote(g) for g in groups)} are missing." if groups else "."
    )
    return _ok(t, Edit("table.flatten_header", "layout_error", 3, "Header rows", desc, "header"))


def header_as_body(t: Table, rng: random.Random) -> Edit | None:
    h = t.n_header_rows
    if h != 1 or t.fmt != "html":
        return None
    for cid in set(t.grid[0]):
        t.cells[cid].header = False
    return _ok(
        t,
        Edit(
            "table.header_as_body",
            "layout_error",
            1,
            "Header row",
            "The header row is written as an ordinary data row (no header formatting).",
            "header",
        ),
    )


# ------------------------------------------------------------------------------- numbers


def _numeric_edit(t: Table, rng: random.Random, name: str, change) -> Edit | None:  # type: ignore[no-untyped-def]
    cells = _single_cells(t, body_rows(t), _numeric)
    rng.shuffle(cells)
    for r, c in cells[:8]:
        cell = t.cells[t.grid[r][c]]
        m = NUMBER_RE.search(cell.text)
        if not m:
            continue
        out = change(cell.text, m, rng)
        if out is None:
            continue
        new_text, sev, what = out
        if new_text == cell.text:
            continue
        loc = t.where(row=r, col=c)
        old = cell.text
        cell.text = new_text
        return _ok(
            t,
            Edit(
                name,
                "numeric_error",
                sev,
                loc,
                f"{what}: {quote(new_text)} instead of {quote(old)} at {loc}.",
                cell_key(t, r, c),
                evidence={"old": old, "new": new_text},
            ),
        )
    return None


def _digit_change(text: str, m, rng: random.Random):  # type: ignore[no-untyped-def]
    digits = [
        i
        for i in range(m.start("int"), m.end("frac") if m.group("frac") else m.end("int"))
        if text[i].isdigit()
    ]
    if not digits:
        return None
    i = rng.choice(digits)
    new_digit = rng.choice([d for d in "0123456789" if d != text[i] and not (d == "0" and i == digits[0])])
    new = text[:i] + new_digit + text[i + 1 :]
    m2 = NUMBER_RE.search(new)
    old_v, new_v = _value(m), _value(m2) if m2 else 0.0
    rel = abs(new_v - old_v) / max(abs(old_v), 1e-9)
    return new, severity_from_ratio(rel, 0.02, 0.2), "Wrong digit"


def _decimal_shift(text: str, m, rng: random.Random):  # type: ignore[no-untyped-def]
    intpart, frac = m.group("int").replace(",", ""), m.group("frac")
    if frac:
        digits = intpart + frac
        pos = len(intpart) + rng.choice((-1, 1))
        if pos <= 0 or pos >= len(digits):
            return None
        number = digits[:pos].lstrip("0") or "0"
        number += "." + digits[pos:]
    else:
        if rng.random() < 0.5 and len(intpart) > 1:
            number = intpart[:-1]
        else:
            number = intpart + "0"
    start, end = m.start("int"), (m.end("frac") if frac else m.end("int"))
    return text[:start] + number + text[end:], 3, "Misplaced decimal point (value off by a factor of 10)"


def _sign_flip(text: str, m, rng: random.Random):  # type: ignore[no-untyped-def]
    if _value(m) == 0 or "±" in text:  # an uncertainty has no sign to flip
        return None
    sign = m.group("sign")
    if sign in ("-", "−"):
        new = text[: m.start("sign")] + text[m.end("sign") :]
    elif sign == "+":
        new = text[: m.start("sign")] + "-" + text[m.end("sign") :]
    else:
        new = text[: m.start()] + "-" + text[m.start() :]
    return new, 3, "Wrong sign"


def _rounding(text: str, m, rng: random.Random):  # type: ignore[no-untyped-def]
    frac = m.group("frac")
    if not frac:
        return None
    if len(frac) == 1:
        new = text[: m.end("int")] + text[m.end("frac") :]
    else:
        new = text[: m.end("frac") - 1] + text[m.end("frac") :]
    return new, 1, "Value rounded (a decimal digit is missing)"


def _unit_change(text: str, m, rng: random.Random):  # type: ignore[no-untyped-def]
    for old, new in CELL_UNIT_SWAPS.items():
        if old in text:
            return text.replace(old, new, 1), 2, "Wrong unit"
    return None


def number_digit(t: Table, rng: random.Random) -> Edit | None:
    return _numeric_edit(t, rng, "table.number_digit", _digit_change)


def decimal_point(t: Table, rng: random.Random) -> Edit | None:
    return _numeric_edit(t, rng, "table.decimal_point", _decimal_shift)


def number_sign(t: Table, rng: random.Random) -> Edit | None:
    return _numeric_edit(t, rng, "table.number_sign", _sign_flip)


def number_rounding(t: Table, rng: random.Random) -> Edit | None:
    return _numeric_edit(t, rng, "table.number_rounding", _rounding)


def unit(t: Table, rng: random.Random) -> Edit | None:
    """Change a unit in a cell ("1.2 kg" -> "1.2 g") or in a column header ("(°C)" -> "(°F)")."""
    header_cells = [
        (r, c)
        for r in range(t.n_header_rows)
        for c in range(t.n_cols)
        if any(u in t.cells[t.grid[r][c]].text for u in HEADER_UNIT_SWAPS)
    ]
    if header_cells and rng.random() < 0.5:
        r, c = rng.choice(header_cells)
        cell = t.cells[t.grid[r][c]]
        old_unit = next(u for u in HEADER_UNIT_SWAPS if u in cell.text)
        old = cell.text
        loc = f"Header of column '{t.column_name(c)}'"
        cell.text = cell.text.replace(old_unit, HEADER_UNIT_SWAPS[old_unit])
        return _ok(
            t,
            Edit(
                "table.unit",
                "numeric_error",
                2,
                loc,
                f"The column header gives the unit {HEADER_UNIT_SWAPS[old_unit]} instead of {old_unit} "
                f"({quote(cell.text)} instead of {quote(old)}).",
                cell_key(t, r, c),
            ),
        )
    return _numeric_edit(t, rng, "table.unit", _unit_change)


# ------------------------------------------------------------------------------- text


def text_replace(t: Table, rng: random.Random) -> Edit | None:
    cells = _single_cells(t, list(range(t.n_rows)), _texty)
    if not cells:
        return None
    r, c = rng.choice(cells)
    cell = t.cells[t.grid[r][c]]
    used = {t.cells[x].text for row in t.grid for x in row}
    new = rng.choice([w for w in TEXT_POOL if w not in used])
    loc = t.where(row=r, col=c)
    old = cell.text
    cell.text = new
    return _ok(
        t,
        Edit(
            "table.text_replace",
            "text_error",
            2,
            loc,
            f"The cell reads {quote(new)} instead of {quote(old)}.",
            cell_key(t, r, c),
        ),
    )


def typo(t: Table, rng: random.Random) -> Edit | None:
    cells = _single_cells(t, list(range(t.n_rows)), _texty)
    rng.shuffle(cells)
    for r, c in cells[:6]:
        cell = t.cells[t.grid[r][c]]
        new = make_typo(cell.text, rng)
        if new is None:
            continue
        loc = t.where(row=r, col=c)
        old = cell.text
        cell.text = new
        return _ok(
            t,
            Edit(
                "table.typo",
                "text_error",
                1,
                loc,
                f"Typo: {quote(new)} instead of {quote(old)}.",
                cell_key(t, r, c),
            ),
        )
    return None


def empty_cell(t: Table, rng: random.Random) -> Edit | None:
    cells = _single_cells(t, body_rows(t), lambda cell: bool(cell.text.strip()))
    if not cells:
        return None
    r, c = rng.choice(cells)
    cell = t.cells[t.grid[r][c]]
    numeric = _numeric(cell)
    loc = t.where(row=r, col=c)
    old = cell.text
    cell.text = ""
    return _ok(
        t,
        Edit(
            "table.empty_cell",
            "numeric_error" if numeric else "text_error",
            2,
            loc,
            f"The {'value' if numeric else 'text'} {quote(old)} at {loc} is missing (empty cell).",
            cell_key(t, r, c),
        ),
    )


def caption_text(t: Table, rng: random.Random) -> Edit | None:
    if not t.caption:
        return None
    old = t.caption
    mode = rng.choice(("typo", "typo", "remove"))
    if mode == "typo":
        new = make_typo(old, rng)
        if new is None:
            return None
        t.caption = new
        return _ok(
            t,
            Edit(
                "table.caption_typo",
                "text_error",
                1,
                "Caption",
                f"Typo in the caption: {quote(new, 60)} instead of {quote(old, 60)}.",
                "caption",
            ),
        )
    t.caption = ""
    return _ok(
        t,
        Edit(
            "table.caption_missing",
            "text_error",
            2,
            "Caption",
            f"The caption {quote(old, 60)} is missing.",
            "caption",
        ),
    )


PERTURBATIONS = registry(
    [
        PerturbationInfo("table.drop_row", "layout_error", drop_row, 1.2),
        PerturbationInfo("table.duplicate_row", "layout_error", duplicate_row, 0.8),
        PerturbationInfo("table.swap_rows", "layout_error", swap_rows, 0.8),
        PerturbationInfo("table.drop_column", "layout_error", drop_column, 0.8),
        PerturbationInfo("table.duplicate_column", "layout_error", duplicate_column, 0.5),
        PerturbationInfo("table.swap_columns", "layout_error", swap_columns, 0.8),
        PerturbationInfo("table.merge_cells", "layout_error", merge_cells, 1.0),
        PerturbationInfo("table.split_cell", "layout_error", split_cell, 1.0),
        PerturbationInfo("table.flatten_header", "layout_error", flatten_header, 0.8),
        PerturbationInfo("table.header_as_body", "layout_error", header_as_body, 0.4),
        PerturbationInfo("table.number_digit", "numeric_error", number_digit, 2.5),
        PerturbationInfo("table.decimal_point", "numeric_error", decimal_point, 1.0),
        PerturbationInfo("table.number_sign", "numeric_error", number_sign, 0.8),
        PerturbationInfo("table.number_rounding", "numeric_error", number_rounding, 0.8),
        PerturbationInfo("table.unit", "numeric_error", unit, 1.0),
        PerturbationInfo("table.text_replace", "text_error", text_replace, 2.0),
        PerturbationInfo("table.typo", "text_error", typo, 2.5),
        PerturbationInfo("table.empty_cell", "text_error", empty_cell, 1.0),
        PerturbationInfo("table.caption", "text_error", caption_text, 0.8),
    ]
)
