"""Table analysis: the cell grid (bordered tables from their rules, borderless ones from text alignment),
merged cells, the header row, and cell text placed by (row, column).

``compare_tables`` reports layout_error findings (row / column counts, merged cells, header); cell text
is compared by the critic's text stage with :func:`cell_of` locations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .findings import BBox, Context, Finding
from .lines import dark_mask, find_rules
from .ocr import Line, Word, group_lines


@dataclass
class TableLayout:
    bbox: BBox
    row_edges: list[float]  # y boundaries, top to bottom (n_rows + 1)
    col_edges: list[float]  # x boundaries, left to right (n_cols + 1)
    bordered: bool
    merged: set[tuple[str, int, int]] = field(default_factory=set)  # ("h"|"v", row, col): separator absent
    header_colour: tuple[int, int, int] | None = None
    words: list[Word] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return max(0, len(self.row_edges) - 1)

    @property
    def n_cols(self) -> int:
        return max(0, len(self.col_edges) - 1)

    def cell_of(self, x: float, y: float) -> tuple[int, int] | None:
        """(row, column), 0-based, of a point; None outside the grid."""
        if self.n_rows == 0 or self.n_cols == 0:
            return None
        r = int(np.searchsorted(self.row_edges, y)) - 1
        c = int(np.searchsorted(self.col_edges, x)) - 1
        r = min(max(r, 0), self.n_rows - 1)
        c = min(max(c, 0), self.n_cols - 1)
        return r, c

    def cell_texts(self) -> dict[tuple[int, int], str]:
        out: dict[tuple[int, int], list[Word]] = {}
        for w in self.words:
            rc = self.cell_of(w.cx, w.cy)
            if rc is not None:
                out.setdefault(rc, []).append(w)
        return {k: " ".join(ln.text for ln in group_lines(v)) for k, v in out.items()}


def _cluster(values: Sequence[float], tol: float) -> list[float]:
    vals = sorted(values)
    if not vals:
        return []
    groups = [[vals[0]]]
    for v in vals[1:]:
        if v - groups[-1][-1] <= tol:
            groups[-1].append(v)
        else:
            groups.append([v])
    return [float(np.mean(g)) for g in groups]


def analyse_table(arr: np.ndarray, background: tuple[int, int, int], words: Sequence[Word]) -> TableLayout:
    h, w = arr.shape[:2]
    from .align import content_bbox

    cb = content_bbox(arr, background) or (0, 0, w, h)
    dm = dark_mask(arr, background, min_contrast=40)
    cw, chh = cb[2] - cb[0], cb[3] - cb[1]
    words = list(words)
    th = float(np.median([wd.height for wd in words])) if words else 12.0
    # rules are longer than letters' strokes (a row is ~2 text heights tall) and have blank on both sides
    hr = [r for r in find_rules(dm, horizontal=True, min_len=int(max(12, 2.5 * th)), max_thickness=5)
          if _isolated(dm, r)]
    vr = [r for r in find_rules(dm, horizontal=False, min_len=int(max(8, 1.5 * th)), max_thickness=5)
          if _isolated(dm, r)]
    # rows: horizontal rules whose pieces cover a good part of the table width
    h_edges = _edges(hr, cw, 0.3, tol=3)
    v_edges = _edges(vr, chh, 0.3, tol=3)
    bordered = len(h_edges) >= 3 and len(v_edges) >= 2
    if bordered:
        row_edges, col_edges = h_edges, v_edges
        if len(v_edges) == 2:  # outer frame only: columns from text
            col_edges = _text_columns(words, v_edges[0], v_edges[1], th)
    else:
        lines = group_lines(words, gap=0.9)
        row_edges = _text_rows(lines, th, cb)
        col_edges = _text_columns(words, float(cb[0]), float(cb[2]), th)
        if len(h_edges) >= 2:  # booktabs-style rules: keep them as outer limits
            row_edges = sorted(set([min(row_edges[0], h_edges[0])] + row_edges[1:-1] + [max(row_edges[-1], h_edges[-1])]))
    layout = TableLayout(bbox=(float(cb[0]), float(cb[1]), float(cb[2]), float(cb[3])), row_edges=row_edges,
                         col_edges=col_edges, bordered=bordered, words=words)
    if bordered:
        layout.merged = _merged(hr, vr, row_edges, col_edges)
    layout.header_colour = _row_fill(arr, layout, 0, background)
    return layout


def _isolated(dm: np.ndarray, rule, gap: int = 2, share: float = 0.6) -> bool:  # type: ignore[no-untyped-def]
    """A border has (mostly) blank pixels just beside it; a letter's stroke has the rest of the letter."""
    h, w = dm.shape
    half = rule.thickness / 2
    a = int(round(rule.pos - half - gap))
    b = int(round(rule.pos + half + gap))
    if rule.horizontal:
        if a < 0 or b >= h:
            return True
        side = ~dm[a, rule.start:rule.end] & ~dm[b, rule.start:rule.end]
    else:
        if a < 0 or b >= w:
            return True
        side = ~dm[rule.start:rule.end, a] & ~dm[rule.start:rule.end, b]
    return bool(side.size) and float(side.mean()) >= share


def _edges(rules: Sequence, extent: float, min_cover: float, tol: float) -> list[float]:
    by_pos: dict[float, float] = {}
    centres = _cluster([r.pos for r in rules], tol)
    for c in centres:
        cover = sum(r.length for r in rules if abs(r.pos - c) <= tol)
        by_pos[c] = cover
    return [p for p, cov in sorted(by_pos.items()) if cov >= min_cover * extent]


def _text_rows(lines: Sequence[Line], th: float, cb: Sequence[float]) -> list[float]:
    if not lines:
        return [float(cb[1]), float(cb[3])]
    bands: list[list[float]] = []
    for ln in sorted(lines, key=lambda ln: ln.bbox[1]):
        y0, y1 = ln.bbox[1], ln.bbox[3]
        if bands and y0 < bands[-1][1] - 0.3 * th:
            bands[-1][1] = max(bands[-1][1], y1)
        else:
            bands.append([y0, y1])
    edges = [float(cb[1])]
    for a, b in zip(bands, bands[1:]):
        edges.append((a[1] + b[0]) / 2)
    edges.append(float(cb[3]))
    return edges


def _text_columns(words: Sequence[Word], x0: float, x1: float, th: float) -> list[float]:
    """Column boundaries from vertical gaps that no word crosses (wider than one text height)."""
    if not words:
        return [x0, x1]
    n = int(max(1, x1 - x0))
    cover = np.zeros(n + 1, bool)
    for w in words:
        a = int(max(0, w.bbox[0] - x0))
        b = int(min(n, w.bbox[2] - x0))
        cover[a:b + 1] = True
    edges = [x0]
    gap_start = None
    for i, c in enumerate(cover):
        if not c and gap_start is None:
            gap_start = i
        elif c and gap_start is not None:
            if i - gap_start >= 1.0 * th and gap_start > 0:
                edges.append(x0 + (gap_start + i) / 2)
            gap_start = None
    edges.append(x1)
    return edges


def _merged(hr: Sequence, vr: Sequence, row_edges: Sequence[float], col_edges: Sequence[float]) -> set[tuple[str, int, int]]:
    """Internal separators that are absent (merged cells): ("v", row, col) = no rule between col-1 and col."""
    out: set[tuple[str, int, int]] = set()
    for r in range(len(row_edges) - 1):
        ymid = (row_edges[r] + row_edges[r + 1]) / 2
        for c in range(1, len(col_edges) - 1):
            x = col_edges[c]
            if not any(abs(v.pos - x) <= 3 and v.start - 2 <= ymid <= v.end + 2 for v in vr):
                out.add(("v", r, c))
    for r in range(1, len(row_edges) - 1):
        y = row_edges[r]
        for c in range(len(col_edges) - 1):
            xmid = (col_edges[c] + col_edges[c + 1]) / 2
            if not any(abs(h.pos - y) <= 3 and h.start - 2 <= xmid <= h.end + 2 for h in hr):
                out.add(("h", r, c))
    return out


def _row_fill(arr: np.ndarray, layout: TableLayout, row: int, background: tuple[int, int, int]) -> tuple[int, int, int] | None:
    if layout.n_rows <= row:
        return None
    y0, y1 = int(layout.row_edges[row]) + 2, int(layout.row_edges[row + 1]) - 1
    x0, x1 = int(layout.col_edges[0]) + 2, int(layout.col_edges[-1]) - 1
    if y1 <= y0 or x1 <= x0:
        return None
    px = arr[y0:y1, x0:x1].reshape(-1, 3)
    med = tuple(int(v) for v in np.median(px, axis=0))
    if max(abs(a - b) for a, b in zip(med, background)) <= 12:
        return None
    return med  # type: ignore[return-value]


def cell_name(layout: TableLayout, box: Sequence[float]) -> str:
    """"row 2, column 4" (1-based; "header row" for the first row of a table with one)."""
    rc = layout.cell_of((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    if rc is None:
        return "table"
    r, c = rc
    if layout.n_rows <= 1 and layout.n_cols <= 1:
        return "table"
    if r == 0 and layout.n_rows > 1:
        return f"header row, column {c + 1}"
    return f"row {r + 1}, column {c + 1}"


def group_by_cell(layout: TableLayout):  # type: ignore[no-untyped-def]
    """A line-grouping function for :func:`text.compare_text`: one "line" per table cell."""

    def group(words: Sequence[Word]) -> list[Line]:
        cells: dict[tuple[int, int], list[Word]] = {}
        loose: list[Word] = []
        for w in words:
            rc = layout.cell_of(w.cx, w.cy)
            if rc is None:
                loose.append(w)
            else:
                cells.setdefault(rc, []).append(w)
        out = []
        for _, ws in sorted(cells.items()):
            # reading order inside the cell
            ordered = [wd for ln in group_lines(ws) for wd in ln.words]
            out.append(Line(ordered))
        out.extend(group_lines(loose))
        return out

    return group


def compare_tables(ctx: Context, ref: TableLayout, cand: TableLayout) -> list[Finding]:
    out: list[Finding] = []
    box = ref.bbox
    if is_grid(ref) and is_grid(cand):
        out.extend(compare_structure(ctx, ref, cand, match_cells(ref, cand)))
    elif ref.n_rows != cand.n_rows:
        d = cand.n_rows - ref.n_rows
        out.append(Finding("layout_error", 3, "table rows",
                           f"{ref.n_rows} rows expected, {cand.n_rows} found ({abs(d)} {'extra' if d > 0 else 'missing'})",
                           box, {"ref_rows": ref.n_rows, "cand_rows": cand.n_rows}))
    if ref.n_cols != cand.n_cols and not (is_grid(ref) and is_grid(cand)):
        d = cand.n_cols - ref.n_cols
        out.append(Finding("layout_error", 3, "table columns",
                           f"{ref.n_cols} columns expected, {cand.n_cols} found ({abs(d)} {'extra' if d > 0 else 'missing'})",
                           box, {"ref_cols": ref.n_cols, "cand_cols": cand.n_cols}))
    if ref.bordered != cand.bordered:
        out.append(Finding("layout_error", 1, "table borders",
                           "cell borders " + ("missing" if ref.bordered else "unexpected"), box))
        for i, r in enumerate(ctx.regions):
            if r.pixels < 0.05 * r.area + 40:
                ctx.consumed.add(i)
    same_shape = ref.n_rows == cand.n_rows and ref.n_cols == cand.n_cols
    if same_shape and ref.bordered and cand.bordered and ref.merged != cand.merged:
        only_ref = ref.merged - cand.merged
        only_cand = cand.merged - ref.merged
        cells = sorted({(r, c) for _, r, c in only_ref | only_cand})
        where = ", ".join(f"row {r + 1} col {c + 1}" for r, c in cells[:4])
        desc = []
        if only_ref:
            desc.append(f"{len(only_ref)} merged cell boundary(ies) of the reference are split")
        if only_cand:
            desc.append(f"{len(only_cand)} cell boundary(ies) merged that should be separate")
        r0, c0 = cells[0]
        cb = (ref.col_edges[max(0, c0 - 1)], ref.row_edges[max(0, r0 - 1)],
              ref.col_edges[min(len(ref.col_edges) - 1, c0 + 1)], ref.row_edges[min(len(ref.row_edges) - 1, r0 + 1)])
        out.append(Finding("layout_error", 2, f"merged cells ({where})", "; ".join(desc), cb,
                           {"cells": [list(c) for c in cells]}))
        ctx.consume_overlapping(cb, 0.5)
    if same_shape and ref.n_rows >= 2:
        # column widths / row heights: a very different grid geometry is a layout problem
        rw = np.diff(ref.col_edges) / max(1.0, ref.col_edges[-1] - ref.col_edges[0])
        cw = np.diff(cand.col_edges) / max(1.0, cand.col_edges[-1] - cand.col_edges[0])
        if rw.size and cw.size == rw.size and float(np.abs(rw - cw).max()) > 0.12:
            c = int(np.argmax(np.abs(rw - cw)))
            out.append(Finding("layout_error", 1, f"column {c + 1}",
                               f"column width differs ({rw[c] * 100:.0f} % of the table expected, {cw[c] * 100:.0f} % found)",
                               (ref.col_edges[c], ref.bbox[1], ref.col_edges[c + 1], ref.bbox[3])))
    rh, chd = ref.header_colour, cand.header_colour
    if (rh is None) != (chd is None) and ref.n_rows > 1:
        hb = (ref.col_edges[0], ref.row_edges[0], ref.col_edges[-1], ref.row_edges[1])
        out.append(Finding("layout_error", 1, "header row",
                           "header row shading " + ("missing" if rh is not None else "unexpected"), hb))
        ctx.consume_overlapping(hb, 0.5)
    if not same_shape:
        # every other difference follows from the shape change: keep text findings, drop geometry
        for i, r in enumerate(ctx.regions):
            if r.area >= 0.01 * ctx.size[0] * ctx.size[1]:
                ctx.consumed.add(i)
    return out


def _align_sequences(a: Sequence[str], b: Sequence[str], gap: float = 0.55) -> list[tuple[int | None, int | None]]:
    """Needleman-Wunsch alignment of two lists of strings (rows or columns) by text similarity."""
    from .text import similarity

    n, m = len(a), len(b)
    cost = np.zeros((n + 1, m + 1))
    cost[:, 0] = np.arange(n + 1) * gap
    cost[0, :] = np.arange(m + 1) * gap
    sim = np.array([[similarity(x, y) if (x or y) else 1.0 for y in b] for x in a]) if n and m else np.zeros((n, m))
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i, j] = min(cost[i - 1, j - 1] + (1 - sim[i - 1, j - 1]), cost[i - 1, j] + gap, cost[i, j - 1] + gap)
    out: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and np.isclose(cost[i, j], cost[i - 1, j - 1] + (1 - sim[i - 1, j - 1])):
            out.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i > 0 and np.isclose(cost[i, j], cost[i - 1, j] + gap):
            out.append((i - 1, None))
            i -= 1
        else:
            out.append((None, j - 1))
            j -= 1
    return out[::-1]


def cell_grid(layout: TableLayout) -> list[list[str]]:
    texts = layout.cell_texts()
    return [[texts.get((r, c), "") for c in range(layout.n_cols)] for r in range(layout.n_rows)]


@dataclass
class CellPairs:
    """Rows and columns of two tables matched by content; unmatched ones were removed or added."""

    rows: list[tuple[int | None, int | None]]
    cols: list[tuple[int | None, int | None]]


def match_cells(ref: TableLayout, cand: TableLayout) -> CellPairs:
    rg, cg = cell_grid(ref), cell_grid(cand)
    rows = _align_sequences([" ".join(r) for r in rg], [" ".join(r) for r in cg])
    matched_rows = [(i, j) for i, j in rows if i is not None and j is not None]
    rcols = [" ".join(rg[i][c] for i, _ in matched_rows) for c in range(ref.n_cols)]
    ccols = [" ".join(cg[j][c] for _, j in matched_rows) for c in range(cand.n_cols)]
    cols = _align_sequences(rcols, ccols)
    return CellPairs(rows=rows, cols=cols)


def _row_box(layout: TableLayout, r: int) -> BBox:
    return (layout.col_edges[0], layout.row_edges[r], layout.col_edges[-1], layout.row_edges[r + 1])


def _col_box(layout: TableLayout, c: int) -> BBox:
    return (layout.col_edges[c], layout.row_edges[0], layout.col_edges[c + 1], layout.row_edges[-1])


def is_grid(layout: TableLayout) -> bool:
    return layout.n_rows > 1 and layout.n_cols > 1 and bool(layout.words)


def cell_box(layout: TableLayout, r: int, c: int) -> BBox:
    return (layout.col_edges[c], layout.row_edges[r], layout.col_edges[c + 1], layout.row_edges[r + 1])


def compare_structure(ctx: Context, ref: TableLayout, cand: TableLayout, pairs: CellPairs) -> list[Finding]:
    """Rows / columns missing or added, found by aligning the tables' content (not just counting)."""
    out: list[Finding] = []
    rg, cg = cell_grid(ref), cell_grid(cand)
    for i, j in pairs.rows:
        if i is not None and j is None:
            content = " | ".join(t for t in rg[i] if t)[:60]
            box = _row_box(ref, i)
            out.append(Finding("layout_error", 3, f"row {i + 1}", f"row {i + 1} is missing ('{content}')", box,
                               {"ref_rows": ref.n_rows, "cand_rows": cand.n_rows}))
        elif j is not None and i is None:
            content = " | ".join(t for t in cg[j] if t)[:60]
            box = _row_box(cand, j)
            out.append(Finding("layout_error", 3, f"after row {j}", f"unexpected extra row ('{content}')", box,
                               {"ref_rows": ref.n_rows, "cand_rows": cand.n_rows}))
    for i, j in pairs.cols:
        if i is not None and j is None:
            head = rg[0][i] if rg and rg[0][i] else f"column {i + 1}"
            out.append(Finding("layout_error", 3, f"column {i + 1}", f"column '{head}' is missing", _col_box(ref, i),
                               {"ref_cols": ref.n_cols, "cand_cols": cand.n_cols}))
        elif j is not None and i is None:
            head = cg[0][j] if cg and cg[0][j] else f"column {j + 1}"
            out.append(Finding("layout_error", 3, f"after column {j}", f"unexpected extra column '{head}'",
                               _col_box(cand, j), {"ref_cols": ref.n_cols, "cand_cols": cand.n_cols}))
    return out
