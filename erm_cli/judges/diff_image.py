"""One picture for ``--diff-image``: reference | candidate | differences, with a legend and the error list.

The candidate is placed in the reference's frame with the critic's alignment (scale and offset), on a
canvas that holds *both* images whole: content the candidate adds below or beside the reference (an extra
table row) stays visible instead of being cropped to the reference's canvas. The differences panel shows
ink found only in the reference, only in the candidate, and ink in both places whose colour differs, each
in its own colour, explained by a legend. Every error with a box is drawn and numbered in the printed
table's order (most severe first); labels are placed so that they never overlap each other and always
show their number. When the judge gave no boxes, a note says so.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .verdict import Verdict

#: Ink only in the reference (missing from the candidate): blue; only in the candidate (extra): orange;
#: in both places with a different colour: purple (Okabe-Ito colours, readable with colour blindness).
REFERENCE_ONLY = (0, 114, 178)
CANDIDATE_ONLY = (230, 120, 0)
COLOUR_DIFFERS = (150, 60, 170)
SHARED_INK = (175, 175, 175)
BOX_COLOUR = (200, 0, 40)
OUTSIDE = (232, 232, 232)  # canvas that neither image covers (the candidate is larger than the reference)
INK_TOLERANCE = 40  # max channel distance from the background that still counts as background
COLOUR_TOLERANCE = 90  # ink in both places whose colours differ by more than this is "colour differs"
GAP = 16
MIN_PANEL = 260  # narrower images are enlarged so that titles and labels fit
MAX_PANEL = 1100
TITLE_SIZE = 15
TEXT_SIZE = 14
MAX_LISTED = 12

Rect = tuple[int, int, int, int]


def _font(size: int, bold: bool = True) -> ImageFont.ImageFont:
    try:
        import matplotlib

        name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
        path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
        return ImageFont.truetype(str(path), size)
    except Exception:  # noqa: BLE001 - any font will do
        return ImageFont.load_default()


@dataclass
class Placement:
    """Both images on one canvas in reference pixels: the reference at ``ref_origin``, the candidate scaled
    by ``cand_scale`` at ``cand_origin``; ``size`` holds both whole."""

    size: tuple[float, float]
    ref_origin: tuple[float, float]
    cand_origin: tuple[float, float]
    cand_scale: tuple[float, float]
    method: str


def place_candidate(reference: Image.Image, candidate: Image.Image) -> Placement:
    """Where the candidate lands in the reference's frame (the critic's alignment; fitted to the reference's
    width when alignment fails), on a canvas grown to hold both images whole."""
    w, h = reference.size
    cw, ch = candidate.size
    try:
        from .critic.align import align

        a = align(reference, candidate)
        kx, ky = a.cand_scale[0] / a.work_scale, a.cand_scale[1] / a.work_scale
        ox, oy = a.offset[0] / a.work_scale, a.offset[1] / a.work_scale
        method = a.method
    except Exception:  # noqa: BLE001 - the picture must not fail because alignment did
        kx = ky = w / cw
        ox = oy = 0.0
        method = "fit-width"
    x0, y0 = min(0.0, ox), min(0.0, oy)
    x1, y1 = max(float(w), ox + cw * kx), max(float(h), oy + ch * ky)
    return Placement(size=(x1 - x0, y1 - y0), ref_origin=(-x0, -y0), cand_origin=(ox - x0, oy - y0),
                     cand_scale=(kx, ky), method=method)


@dataclass
class DiffLayout:
    """Where everything went on the sheet (sheet pixels), for callers and tests."""

    size: tuple[int, int]
    scale: float  # sheet pixels per reference pixel
    panels: dict[str, Rect]  # "reference", "candidate", "differences"
    reference_rect: Rect  # the reference image inside each panel (relative to the panel)
    candidate_rect: Rect  # the whole candidate inside each panel (relative to the panel)
    boxes: list[tuple[int, Rect]] = field(default_factory=list)  # (error number, box on the sheet)
    labels: list[tuple[int, Rect]] = field(default_factory=list)  # (error number, label on the sheet)
    legend: Rect = (0, 0, 0, 0)
    note: str = ""


def _ink(arr: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    from .critic.colour import channel_distance

    return channel_distance(arr, background) > INK_TOLERANCE


def _dilate(mask: np.ndarray, size: int = 3) -> np.ndarray:
    img = Image.fromarray(mask.astype(np.uint8) * 255, "L").filter(ImageFilter.MaxFilter(size))
    return np.asarray(img) > 0


def _panels(ref: Image.Image, cand: Image.Image, p: Placement, scale: float) -> tuple[Image.Image, Image.Image,
                                                                                         Image.Image, Rect, Rect]:
    """The three panel images (same size) and where the reference and the candidate sit in them."""
    from .critic.colour import background_colour

    W, H = max(1, round(p.size[0] * scale)), max(1, round(p.size[1] * scale))
    rx, ry = round(p.ref_origin[0] * scale), round(p.ref_origin[1] * scale)
    rw, rh = max(1, round(ref.width * scale)), max(1, round(ref.height * scale))
    cx, cy = round(p.cand_origin[0] * scale), round(p.cand_origin[1] * scale)
    cw = max(1, round(cand.width * p.cand_scale[0] * scale))
    chh = max(1, round(cand.height * p.cand_scale[1] * scale))
    resample = Image.Resampling.BILINEAR
    ref_s = ref.resize((rw, rh), resample) if (rw, rh) != ref.size else ref
    cand_s = cand.resize((cw, chh), resample) if (cw, chh) != cand.size else cand
    ref_bg = tuple(int(v) for v in background_colour(ref))
    cand_bg = tuple(int(v) for v in background_colour(cand))

    ref_panel = Image.new("RGB", (W, H), OUTSIDE)
    ref_panel.paste(ref_s, (rx, ry))
    cand_panel = Image.new("RGB", (W, H), OUTSIDE)
    cand_panel.paste(cand_s, (cx, cy))

    # ink masks on the common canvas (outside an image there is no ink)
    ref_canvas = Image.new("RGB", (W, H), ref_bg)
    ref_canvas.paste(ref_s, (rx, ry))
    cand_canvas = Image.new("RGB", (W, H), cand_bg)
    cand_canvas.paste(cand_s, (cx, cy))
    a = np.asarray(ref_canvas, dtype=np.uint8)
    b = np.asarray(cand_canvas, dtype=np.uint8)
    ink_a, ink_b = _ink(a, ref_bg), _ink(b, cand_bg)
    only_a = ink_a & ~_dilate(ink_b)  # a one-pixel shift of anti-aliased edges is not a difference
    only_b = ink_b & ~_dilate(ink_a)
    both = ink_a & ink_b
    colour = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) > COLOUR_TOLERANCE
    differs = both & colour
    over = np.full((H, W, 3), 255, dtype=np.uint8)
    covered = np.zeros((H, W), dtype=bool)
    covered[max(0, ry):ry + rh, max(0, rx):rx + rw] = True
    covered[max(0, cy):cy + chh, max(0, cx):cx + cw] = True
    over[~covered] = OUTSIDE
    over[(ink_a | ink_b) & ~(only_a | only_b | differs)] = SHARED_INK
    over[differs] = COLOUR_DIFFERS
    over[only_a] = REFERENCE_ONLY
    over[only_b] = CANDIDATE_ONLY
    return ref_panel, cand_panel, Image.fromarray(over), (rx, ry, rx + rw, ry + rh), (cx, cy, cx + cw, cy + chh)


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(r: Rect, area: Rect) -> bool:
    return r[0] >= area[0] and r[1] >= area[1] and r[2] <= area[2] and r[3] <= area[3]


def place_labels(boxes: list[tuple[int, Rect]], label_size: dict[int, tuple[int, int]], area: Rect) -> list[tuple[int, Rect]]:
    """A label rectangle per numbered box, inside ``area``, no two overlapping: the first free spot among
    the box's corners (outside, then inside), else the nearest free spot on growing rings around it."""
    placed: list[tuple[int, Rect]] = []
    for n, (x0, y0, x1, y1) in boxes:
        lw, lh = label_size[n]
        tries = [(x0, y0 - lh), (x1 - lw, y0 - lh), (x0, y1), (x1 - lw, y1), (x0 - lw, y0), (x1, y0),
                 (x0 - lw, y1 - lh), (x1, y1 - lh), (x0, y0), (x1 - lw, y0)]
        cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
        step = max(4, lh // 2)
        for ring in range(1, 400):
            r = ring * step
            for k in range(-ring, ring + 1):
                tries += [(cx + k * step - lw // 2, cy - r - lh // 2), (cx + k * step - lw // 2, cy + r - lh // 2),
                          (cx - r - lw // 2, cy + k * step - lh // 2), (cx + r - lw // 2, cy + k * step - lh // 2)]
            if len(tries) > 20000:
                break
        spot: Rect | None = None
        for tx, ty in tries:
            rect = (int(tx), int(ty), int(tx) + lw, int(ty) + lh)
            if _inside(rect, area) and not any(_overlaps(rect, other) for _, other in placed):
                spot = rect
                break
        if spot is None:  # no free spot at all (hundreds of boxes): stack in a column beside the area
            y = placed[-1][1][3] if placed else area[1]
            spot = (area[2] - lw, y, area[2], y + lh)
        placed.append((n, spot))
    return placed


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont, width: int) -> list[str]:
    """``text`` in lines no wider than ``width`` pixels (long words are cut)."""
    def fits(s: str) -> bool:
        return draw.textlength(s, font=font) <= width

    lines: list[str] = []
    for para in text.splitlines() or [""]:
        words = para.split(" ")
        line = ""
        for word in words:
            cand = f"{line} {word}".strip()
            if fits(cand):
                line = cand
                continue
            if line:
                lines.append(line)
            while not fits(word) and len(word) > 1:
                cut = len(word)
                while cut > 1 and not fits(word[:cut]):
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


def _line_height(font: ImageFont.ImageFont) -> int:
    box = font.getbbox("Ag")
    return int(box[3] - min(0, box[1])) + 4


def layout_diff_image(reference: Image.Image, candidate: Image.Image, verdict: Verdict) -> tuple[Image.Image, DiffLayout]:
    """The sheet and where its parts went."""
    ref = reference.convert("RGB")
    cand = candidate.convert("RGB")
    p = place_candidate(ref, cand)
    scale = 1.0
    if p.size[0] < MIN_PANEL:
        scale = MIN_PANEL / p.size[0]
    elif p.size[0] > MAX_PANEL:
        scale = MAX_PANEL / p.size[0]
    ref_panel, cand_panel, over, ref_rect, cand_rect = _panels(ref, cand, p, scale)
    W, H = over.size

    title_font, text_font = _font(TITLE_SIZE), _font(TEXT_SIZE, bold=False)
    errors = verdict.sorted_errors()
    number_font = _font(max(12, min(22, round(min(W, H) / 22))))
    scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_size = {n: (int(scratch.textlength(str(n), font=number_font)) + 8, _line_height(number_font) + 2)
                  for n in range(1, len(errors) + 1)}
    margin = max(GAP, max((s[1] for s in label_size.values()), default=0) + 4)

    n_errors = len(errors)
    if not verdict.render_ok:
        summary = "the candidate did not render"
    elif verdict.score is not None and not errors:
        summary = f"{verdict.judge.get('name', 'baseline')} similarity {verdict.score:.3f}, reward {verdict.reward:.3f}"
    else:
        summary = f"{n_errors} error{'s' if n_errors != 1 else ''}, reward {verdict.reward:.3f}"
    titles = [f"reference ({ref.width}x{ref.height})",
              f"candidate ({cand.width}x{cand.height}, whole)", f"differences: {summary}"]
    wrapped = [_wrap(scratch, t, title_font, W) for t in titles]
    title_h = max(len(w) for w in wrapped) * _line_height(title_font) + 6

    with_box = [(n, e) for n, e in enumerate(errors, 1) if e.bbox]
    if not errors:
        note = ("no discrepancies" if verdict.parsed else "the judge's answer could not be parsed") \
            if verdict.score is None else "a baseline judge: one similarity score, no itemised errors or boxes"
    elif not with_box:
        note = "the judge gave no boxes: the errors are listed below, not located in the picture"
    elif len(with_box) < n_errors:
        note = f"{n_errors - len(with_box)} of {n_errors} errors have no box (listed below)"
    else:
        note = ""

    sheet_w = 3 * W + 2 * GAP + GAP + 2 * margin
    legend_items = [(REFERENCE_ONLY, "only in the reference (missing)"),
                    (CANDIDATE_ONLY, "only in the candidate (extra)"),
                    (COLOUR_DIFFERS, "in both, colour differs"), (SHARED_INK, "same in both"),
                    (OUTSIDE, "outside the image")]
    lh = _line_height(text_font)
    sw = lh - 4
    # legend: swatches flow in rows across the sheet
    legend_rows: list[list[tuple[tuple[int, int, int], str, int]]] = [[]]
    x = GAP
    for colour, text in legend_items:
        item_w = sw + 6 + int(scratch.textlength(text, font=text_font)) + 18
        if x + item_w > sheet_w - GAP and legend_rows[-1]:
            legend_rows.append([])
            x = GAP
        legend_rows[-1].append((colour, text, x))
        x += item_w
    box_line = "red boxes: errors, numbered as listed (thicker = more severe)" if with_box else ""
    text_lines: list[str] = []
    if box_line:
        text_lines += _wrap(scratch, box_line, text_font, sheet_w - 2 * GAP)
    if note:
        text_lines += _wrap(scratch, f"note: {note}", text_font, sheet_w - 2 * GAP)
    for n, e in enumerate(errors[:MAX_LISTED], 1):
        sev = {1: "minor", 2: "medium", 3: "severe"}.get(e.severity, str(e.severity))
        where = f" [{e.location}]" if e.location else ""
        line = f"{n}. {sev} {e.category}{where}: {e.description}" + ("" if e.bbox else " (no box)")
        text_lines += _wrap(scratch, textwrap.shorten(line, 400), text_font, sheet_w - 2 * GAP)
    if n_errors > MAX_LISTED:
        text_lines.append(f"... and {n_errors - MAX_LISTED} more")

    top = GAP // 2
    panel_y = top + title_h + margin
    legend_y = panel_y + H + margin
    sheet_h = legend_y + len(legend_rows) * lh + len(text_lines) * lh + GAP
    sheet = Image.new("RGB", (sheet_w, sheet_h), "white")
    draw = ImageDraw.Draw(sheet)
    xs = [GAP, GAP + W + GAP, GAP + 2 * (W + GAP) + margin]
    panels: dict[str, Rect] = {}
    for name, img, x, lines in zip(("reference", "candidate", "differences"), (ref_panel, cand_panel, over),
                                   xs, wrapped):
        for k, line in enumerate(lines):
            draw.text((x, top + k * _line_height(title_font)), line, fill=(40, 40, 40), font=title_font)
        sheet.paste(img, (x, panel_y))
        draw.rectangle([x - 1, panel_y - 1, x + W, panel_y + H], outline=(160, 160, 160))
        panels[name] = (x, panel_y, x + W, panel_y + H)

    # boxes (reference pixels -> the differences panel), then labels on top, never overlapping
    ox, oy = xs[2] + p.ref_origin[0] * scale, panel_y + p.ref_origin[1] * scale
    boxes: list[tuple[int, Rect]] = []
    for n, e in with_box:
        bx0, by0, bx1, by1 = e.bbox  # type: ignore[misc]
        r = (round(ox + min(bx0, bx1) * scale), round(oy + min(by0, by1) * scale),
             round(ox + max(bx0, bx1) * scale), round(oy + max(by0, by1) * scale))
        r = (max(xs[2], min(r[0], xs[2] + W)), max(panel_y, min(r[1], panel_y + H)),
             max(xs[2], min(r[2], xs[2] + W)), max(panel_y, min(r[3], panel_y + H)))
        boxes.append((n, r))
        draw.rectangle(r, outline=BOX_COLOUR, width=1 + e.severity)
    area = (xs[2] - margin, panel_y - margin, xs[2] + W + margin, panel_y + H + margin)
    labels = place_labels(boxes, label_size, area)
    box_of = dict(boxes)
    for n, rect in labels:
        b = box_of[n]
        if not (_overlaps((rect[0] - 2, rect[1] - 2, rect[2] + 2, rect[3] + 2), b)):  # a leader to its box
            lx, ly = (rect[0] + rect[2]) // 2, (rect[1] + rect[3]) // 2
            tx, ty = min(max(lx, b[0]), b[2]), min(max(ly, b[1]), b[3])
            draw.line([(lx, ly), (tx, ty)], fill=BOX_COLOUR, width=1)
    for n, rect in labels:
        draw.rectangle(rect, fill=BOX_COLOUR)
        draw.text((rect[0] + 4, rect[1] + 1), str(n), fill="white", font=number_font)

    y = legend_y
    for row in legend_rows:
        for colour, text, x in row:
            draw.rectangle([x, y + 2, x + sw, y + 2 + sw], fill=colour, outline=(90, 90, 90))
            draw.text((x + sw + 6, y), text, fill=(30, 30, 30), font=text_font)
        y += lh
    legend = (GAP, legend_y, sheet_w - GAP, y)
    for line in text_lines:
        draw.text((GAP, y), line, fill=(30, 30, 30), font=text_font)
        y += lh
    layout = DiffLayout(size=sheet.size, scale=scale, panels=panels, reference_rect=ref_rect,
                        candidate_rect=cand_rect, boxes=boxes, labels=labels, legend=legend, note=note)
    return sheet, layout


def render_diff_image(reference: Image.Image, candidate: Image.Image, verdict: Verdict) -> Image.Image:
    return layout_diff_image(reference, candidate, verdict)[0]


def write_diff_image(path: str | Path, reference: Image.Image, candidate: Image.Image, verdict: Verdict) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    render_diff_image(reference, candidate, verdict).save(out, format="PNG")
    return out
