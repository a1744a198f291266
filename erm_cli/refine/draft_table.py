"""Model-free table-to-HTML: find the grid (ruled tables) or the text columns (borderless tables),
OCR each cell and write an HTML ``<table>`` with the reference's borders, fills and alignment."""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..judges.critic.colour import as_array, background_colour, hex_of
from ..judges.critic.lines import dark_mask, find_rules
from ..judges.critic.ocr import OcrUnavailable, Word, group_lines, ocr_words


@dataclass
class Cell:
    row: int
    col: int
    rowspan: int
    colspan: int
    box: tuple[int, int, int, int]
    text: str = ""
    fill: tuple[int, int, int] | None = None
    align: str = "left"
    bold: bool = False


def _merge_positions(pos: list[float], tol: float = 4.0) -> list[float]:
    out: list[list[float]] = []
    for p in sorted(pos):
        if out and p - out[-1][-1] <= tol:
            out[-1].append(p)
        else:
            out.append([p])
    return [float(np.mean(g)) for g in out]


def _edge_present(dm: np.ndarray, horizontal: bool, pos: float, a: float, b: float) -> bool:
    p = int(round(pos))
    lo, hi = int(round(a)) + 2, int(round(b)) - 2
    if hi <= lo:
        return True
    band = dm[max(0, p - 1):p + 2, lo:hi] if horizontal else dm[lo:hi, max(0, p - 1):p + 2]
    if band.size == 0:
        return False
    line = band.any(axis=0 if horizontal else 1)
    return float(line.mean()) >= 0.6


def _cell_text(img: Image.Image, words: list[Word], box: tuple[int, int, int, int]) -> tuple[str, list[Word]]:
    x0, y0, x1, y1 = box
    inside = [w for w in words if x0 - 2 <= w.cx <= x1 + 2 and y0 - 2 <= w.cy <= y1 + 2]
    if not inside and (x1 - x0) > 6 and (y1 - y0) > 6:
        try:
            crop = img.crop((x0 + 2, y0 + 2, x1 - 2, y1 - 2))
            inside = [w.scaled(1.0, 1.0, x0 + 2, y0 + 2) for w in ocr_words(crop, upscale=3.0, min_conf=40)]
        except (OcrUnavailable, RuntimeError):
            inside = []
    lines = group_lines(inside)
    return " ".join(ln.text for ln in lines), inside


def _fill(arr: np.ndarray, box: tuple[int, int, int, int], bg: tuple[int, int, int]) -> tuple[int, int, int] | None:
    x0, y0, x1, y1 = box
    crop = arr[y0 + 3:y1 - 2, x0 + 3:x1 - 2]
    if crop.size == 0:
        return None
    px = crop.reshape(-1, 3).astype(np.int32)
    q = (px >> 3)
    keys = (q[:, 0] << 10) | (q[:, 1] << 5) | q[:, 2]
    vals, counts = np.unique(keys, return_counts=True)
    top = vals[int(np.argmax(counts))]
    colour = tuple(int(v) for v in px[keys == top].mean(axis=0))
    if max(abs(c - b) for c, b in zip(colour, bg)) <= 10:
        return None
    return colour  # type: ignore[return-value]


def _align(words: list[Word], box: tuple[int, int, int, int]) -> str:
    if not words:
        return "left"
    x0, _, x1, _ = box
    left = min(w.bbox[0] for w in words) - x0
    right = x1 - max(w.bbox[2] for w in words)
    if abs(left - right) <= max(4.0, 0.15 * (x1 - x0)):
        return "center"
    return "right" if right < left else "left"


def _ink_ratio(arr: np.ndarray, words: list[Word], bg: tuple[int, int, int]) -> float:
    if not words:
        return 0.0
    tot, ink = 0, 0
    for w in words:
        x0, y0, x1, y1 = (int(round(v)) for v in w.bbox)
        crop = arr[max(0, y0):y1, max(0, x0):x1].astype(np.int16)
        if crop.size == 0:
            continue
        d = np.abs(crop - np.asarray(bg, np.int16)).max(axis=2) > 80
        tot += d.size
        ink += int(d.sum())
    return ink / tot if tot else 0.0


def _font_px(words: list[Word]) -> int:
    hs = [w.height for w in words if w.height > 3]
    if not hs:
        return 14
    return int(min(40, max(9, round(float(np.median(hs)) / 0.78))))


def ruled_cells(img: Image.Image, arr: np.ndarray, bg: tuple[int, int, int], words: list[Word]) -> tuple[list[Cell], tuple[int, int, int]] | None:
    dm = dark_mask(arr, bg, min_contrast=40)
    h, w = dm.shape
    hr = find_rules(dm, horizontal=True, min_len=max(20, int(0.15 * w)))
    vr = find_rules(dm, horizontal=False, min_len=max(12, int(0.05 * h)))
    if len(hr) < 2 or len(vr) < 2:
        return None
    ys = _merge_positions([r.pos for r in hr])
    xs = _merge_positions([r.pos for r in vr])
    if len(ys) < 2 or len(xs) < 2:
        return None
    colours = [tuple(int(v) for v in np.median(arr[int(round(r.pos)), r.start:r.end], axis=0)) for r in hr[:4]]
    border = tuple(int(v) for v in np.median(np.asarray(colours), axis=0)) if colours else (51, 51, 51)
    nrow, ncol = len(ys) - 1, len(xs) - 1
    owner = -np.ones((nrow, ncol), int)
    cells: list[Cell] = []
    for r in range(nrow):
        for c in range(ncol):
            if owner[r, c] >= 0:
                continue
            cs = 1
            while c + cs < ncol and not _edge_present(dm, False, xs[c + cs], ys[r], ys[r + 1]):
                cs += 1
            rs = 1
            while r + rs < nrow and not _edge_present(dm, True, ys[r + rs], xs[c], xs[c + cs]):
                rs += 1
            owner[r:r + rs, c:c + cs] = len(cells)
            box = (int(xs[c]), int(ys[r]), int(xs[c + cs]), int(ys[r + rs]))
            cells.append(Cell(r, c, rs, cs, box))
    for cell in cells:
        cell.text, cw = _cell_text(img, words, cell.box)
        cell.fill = _fill(arr, cell.box, bg)
        cell.align = _align(cw, cell.box)
        cell.bold = False
        cell.__dict__["_words"] = cw
    return cells, border  # type: ignore[return-value]


def borderless_cells(arr: np.ndarray, words: list[Word]) -> list[Cell]:
    lines = group_lines(words, gap=2.0)
    if not lines:
        return []
    # column boundaries: x gaps that no word crosses
    w = arr.shape[1]
    cover = np.zeros(w, bool)
    for wd in words:
        cover[max(0, int(wd.bbox[0])):min(w, int(np.ceil(wd.bbox[2])))] = True
    gaps = []
    x = 0
    th = float(np.median([wd.height for wd in words])) if words else 10.0
    while x < w:
        if not cover[x]:
            start = x
            while x < w and not cover[x]:
                x += 1
            if x - start >= 1.2 * th and start > 0 and x < w:
                gaps.append((start + x) / 2)
        x += 1
    left = min(wd.bbox[0] for wd in words)
    right = max(wd.bbox[2] for wd in words)
    xs = [left - 4] + [g for g in gaps if left < g < right] + [right + 4]
    rows: list[list[Word]] = []
    for ln in lines:
        if rows and abs(ln.bbox[1] - min(wd.bbox[1] for wd in rows[-1])) < 0.5 * th:
            rows[-1].extend(ln.words)
        else:
            rows.append(list(ln.words))
    cells = []
    for r, row in enumerate(rows):
        top = min(wd.bbox[1] for wd in row) - 3
        bottom = max(wd.bbox[3] for wd in row) + 3
        for c in range(len(xs) - 1):
            inside = [wd for wd in row if xs[c] <= wd.cx < xs[c + 1]]
            box = (int(xs[c]), int(top), int(xs[c + 1]), int(bottom))
            cell = Cell(r, c, 1, 1, box, " ".join(wd.text for wd in sorted(inside, key=lambda q: q.bbox[0])))
            cell.align = _align(inside, box)
            cell.__dict__["_words"] = inside
            cells.append(cell)
    return cells


def _column_alignment(cells: list[Cell]) -> None:
    """Per column: equal left gaps -> left, equal right gaps -> right, else centred (more robust than per cell)."""
    cols: dict[int, list[Cell]] = {}
    for c in cells:
        if c.colspan == 1 and c.__dict__.get("_words"):
            cols.setdefault(c.col, []).append(c)
    for col, cs in cols.items():
        if len(cs) < 2:
            continue
        lefts = [min(w.bbox[0] for w in c.__dict__["_words"]) - c.box[0] for c in cs]
        rights = [c.box[2] - max(w.bbox[2] for w in c.__dict__["_words"]) for c in cs]
        if np.ptp(lefts) <= 4:
            how = "left"
        elif np.ptp(rights) <= 4:
            how = "right"
        else:
            how = "center"
        for c in cs:
            c.align = how


def table_html(cells: list[Cell], border: tuple[int, int, int] | None, font_px: int, header_bold: bool,
               padding: tuple[int, int] = (6, 10)) -> str:
    rows: dict[int, list[Cell]] = {}
    for c in cells:
        rows.setdefault(c.row, []).append(c)
    bstyle = f"border: 1px solid {hex_of(border)}; " if border is not None else ""
    out = [f'<table style="border-collapse: collapse; font-family: Arial, sans-serif; font-size: {font_px}px;">']
    for r in sorted(rows):
        out.append("  <tr>")
        for c in sorted(rows[r], key=lambda q: q.col):
            tag = "th" if (r == 0 and header_bold) else "td"
            style = f"{bstyle}padding: {padding[0]}px {padding[1]}px; text-align: {c.align};"
            if c.fill is not None:
                style += f" background-color: {hex_of(c.fill)};"
            span = ""
            if c.colspan > 1:
                span += f' colspan="{c.colspan}"'
            if c.rowspan > 1:
                span += f' rowspan="{c.rowspan}"'
            out.append(f'    <{tag}{span} style="{style}">{html.escape(c.text)}</{tag}>')
        out.append("  </tr>")
    out.append("</table>")
    return "\n".join(out) + "\n"


def draft_table(reference: Image.Image, n: int = 1) -> list[str]:
    """Up to ``n`` HTML drafts of the table in ``reference`` (variants: header bold or not, padding)."""
    arr = as_array(reference)
    bg = background_colour(arr)
    try:
        words = ocr_words(reference, min_conf=30)
    except (OcrUnavailable, RuntimeError):
        words = []
    ruled = ruled_cells(reference, arr, bg, words)
    if ruled is not None:
        cells, border = ruled
    else:
        cells, border = borderless_cells(arr, words), None
    if not cells:
        cells = [Cell(0, 0, 1, 1, (0, 0, reference.width, reference.height), "")]
    _column_alignment(cells)
    all_words = [w for c in cells for w in c.__dict__.get("_words", [])]
    font = _font_px(all_words)
    first = [w for c in cells if c.row == 0 for w in c.__dict__.get("_words", [])]
    rest = [w for c in cells if c.row > 0 for w in c.__dict__.get("_words", [])]
    bold = bool(first) and _ink_ratio(arr, first, bg) > 1.12 * max(1e-6, _ink_ratio(arr, rest, bg))
    variants = [table_html(cells, border, font, bold), table_html(cells, border, font, not bold),
                table_html(cells, border, font, bold, (4, 8)), table_html(cells, border, font, bold, (8, 12))]
    out: list[str] = []
    for v in variants:
        if v not in out:
            out.append(v)
    return out[:max(1, n)]
