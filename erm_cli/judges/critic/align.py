"""Bring a candidate image into the reference's frame before comparing.

Different sizes, dpi, margins and small offsets are normalised: the candidate is scaled and shifted so
that its content lands on the reference's content. Several hypotheses are tried (stretch to the frame,
content box onto content box with a uniform or per-axis scale) and the one with the smallest residual
wins; a small translation search then refines it.

Everything downstream works in the *working frame*: the reference scaled to at most ``max_side`` pixels
(and at least ``min_side``); ``Alignment.to_reference`` maps working-frame boxes back to reference pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .colour import as_array, background_colour, channel_distance
from .framecache import register_frames

BBox = tuple[float, float, float, float]

#: Reference and candidate whose content aspect ratios differ by more than this factor are not aligned
#: content-to-content; they are still compared (stretched) and the verdict carries a severe layout error.
EXTREME_ASPECT = 3.0


@dataclass
class Alignment:
    """The reference and the candidate in one working frame (uint8 RGB arrays of equal shape)."""

    ref: np.ndarray
    cand: np.ndarray
    work_scale: float  # working-frame pixels per reference pixel
    cand_scale: tuple[float, float]  # working-frame pixels per candidate pixel (x, y)
    offset: tuple[int, int]  # where the scaled candidate's (0, 0) lands in the working frame
    method: str
    residual: float  # mean absolute grey difference (0-255) after alignment
    ref_background: tuple[int, int, int]
    cand_background: tuple[int, int, int]
    ref_size: tuple[int, int]
    cand_size: tuple[int, int]
    aspect_ratio_factor: float = 1.0  # max/min of the two content aspect ratios
    notes: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int]:
        return self.ref.shape[0], self.ref.shape[1]

    def to_reference(self, bbox: BBox) -> list[float]:
        """A working-frame box in reference pixels."""
        s = self.work_scale
        return [bbox[0] / s, bbox[1] / s, bbox[2] / s, bbox[3] / s]

    def cand_to_work(self, bbox: BBox) -> BBox:
        """A box in candidate pixels -> the working frame."""
        sx, sy = self.cand_scale
        ox, oy = self.offset
        return (bbox[0] * sx + ox, bbox[1] * sy + oy, bbox[2] * sx + ox, bbox[3] * sy + oy)

    def info(self) -> dict:
        return {"method": self.method, "work_scale": round(self.work_scale, 4),
                "candidate_scale": [round(self.cand_scale[0], 4), round(self.cand_scale[1], 4)],
                "offset": list(self.offset), "residual": round(self.residual, 3),
                "reference_size": list(self.ref_size), "candidate_size": list(self.cand_size)}


def content_bbox(arr: np.ndarray, background: tuple[int, int, int] | None = None, tol: int = 28,
                 min_run: int = 1) -> tuple[int, int, int, int] | None:
    """Extent (x0, y0, x1, y1 exclusive) of pixels that differ from the background by more than ``tol``."""
    bg = background if background is not None else background_colour(arr)
    ink = channel_distance(arr, bg) > tol
    if min_run <= 1:  # any ink in the row / column: no count needed
        rows, cols = np.nonzero(ink.any(axis=1))[0], np.nonzero(ink.any(axis=0))[0]
    else:
        rows = np.nonzero(ink.sum(axis=1) >= min_run)[0]
        cols = np.nonzero(ink.sum(axis=0) >= min_run)[0]
    if rows.size == 0 or cols.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _resize(img: Image.Image, w: int, h: int) -> Image.Image:
    w, h = max(1, int(round(w))), max(1, int(round(h))),
    if (w, h) == img.size:
        return img
    # area averaging down, bilinear up: no ringing (overshoot would invent darker / lighter colours)
    return img.resize((w, h), Image.BOX if w < img.width else Image.BILINEAR)


def _place(cand: Image.Image, sx: float, sy: float, ox: int, oy: int, size: tuple[int, int],
           fill: tuple[int, int, int]) -> np.ndarray:
    """The candidate scaled by (sx, sy) and pasted at (ox, oy) on a ``size`` canvas of ``fill``."""
    scaled = _resize(cand, cand.width * sx, cand.height * sy)
    canvas = Image.new("RGB", size, fill)
    canvas.paste(scaled, (int(ox), int(oy)))
    return np.asarray(canvas, dtype=np.uint8)


def _grey_small(arr: np.ndarray, factor: int) -> np.ndarray:
    g = Image.fromarray(arr).convert("L")
    if factor > 1:
        g = g.reduce(factor)
    return np.asarray(g, dtype=np.float32)


def _best_shift(a: np.ndarray, b: np.ndarray, radius: int) -> tuple[int, int, float]:
    """Integer shift (dx, dy) of ``b`` minimising mean |a - shifted b| on the overlap."""
    t = a - b
    best = (0, 0, float(np.abs(t, out=t).mean()))  # |a - b| in the difference's own array: one copy fewer
    h, w = a.shape
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dx == 0 and dy == 0:
                continue
            ya0, ya1 = max(0, dy), min(h, h + dy)
            xa0, xa1 = max(0, dx), min(w, w + dx)
            if ya1 - ya0 < h // 2 or xa1 - xa0 < w // 2:
                continue
            t = a[ya0:ya1, xa0:xa1] - b[ya0 - dy:ya1 - dy, xa0 - dx:xa1 - dx]
            d = float(np.abs(t, out=t).mean())
            if d < best[2] - 1e-6:
                best = (dx, dy, d)
    return best


def working_size(ref_size: tuple[int, int], max_side: int = 1024, min_side: int = 400) -> tuple[float, tuple[int, int]]:
    w, h = ref_size
    s = 1.0
    if max(w, h) > max_side:
        s = max_side / max(w, h)
    elif max(w, h) < min_side:
        s = min_side / max(w, h)
    return s, (max(1, int(round(w * s))), max(1, int(round(h * s))))


def align(reference: Image.Image, candidate: Image.Image, *, max_side: int = 1024, min_side: int = 400) -> Alignment:
    """Scale and shift ``candidate`` onto ``reference`` (both RGB PIL images)."""
    work_scale, size = working_size(reference.size, max_side, min_side)
    ref_img = _resize(reference, *size)
    ref = np.asarray(ref_img, dtype=np.uint8)
    register_frames(ref)  # its ink map, made here for the content box, serves the analysers too
    cand_arr = as_array(candidate)
    ref_bg = background_colour(ref)
    cand_bg = background_colour(cand_arr)
    W, H = size
    cw, ch = candidate.size

    hypotheses: list[tuple[str, float, float, float, float]] = [("frame", W / cw, H / ch, 0.0, 0.0)]
    uni = min(W / cw, H / ch)
    if abs((W / cw) / (H / ch) - 1) > 0.01:
        hypotheses.append(("frame-uniform", uni, uni, (W - cw * uni) / 2, (H - ch * uni) / 2))
    rb = content_bbox(ref, ref_bg)
    cb = content_bbox(cand_arr, cand_bg)
    aspect_factor = 1.0
    if rb and cb:
        rw, rh = rb[2] - rb[0], rb[3] - rb[1]
        cwid, chei = cb[2] - cb[0], cb[3] - cb[1]
        if min(rw, rh, cwid, chei) >= 2:
            ra, ca = rw / rh, cwid / chei
            aspect_factor = max(ra, ca) / min(ra, ca)
            sx, sy = rw / cwid, rh / chei
            if aspect_factor < EXTREME_ASPECT:
                native = work_scale  # the candidate drawn at the reference's own scale (other margins)
                if abs(sx / native - 1) < 0.012 and abs(sy / native - 1) < 0.012:
                    sx = sy = native
                elif abs(sx / sy - 1) < 0.012:
                    sx = sy = float(np.sqrt(sx * sy))
                hypotheses.append(("content", sx, sy, rb[0] - cb[0] * sx, rb[1] - cb[1] * sy))
                s = float(np.sqrt(sx * sy))
                cx_r, cy_r = (rb[0] + rb[2]) / 2, (rb[1] + rb[3]) / 2
                cx_c, cy_c = (cb[0] + cb[2]) / 2, (cb[1] + cb[3]) / 2
                hypotheses.append(("content-uniform", s, s, cx_r - cx_c * s, cy_r - cy_c * s))
                # content added or removed at the bottom / right (a table row, a legend): width decides the
                # scale, the top-left corners meet
                sw = rw / cwid
                if abs(sw / native - 1) < 0.012:  # a table a few pixels wider (a minus sign): same scale
                    sw = native
                hypotheses.append(("content-top-left", sw, sw, rb[0] - cb[0] * sw, rb[1] - cb[1] * sw))

    placements: dict[tuple[float, float, int, int, tuple[int, int]], np.ndarray] = {}

    def place(sx: float, sy: float, ox: float, oy: float, size: tuple[int, int]) -> np.ndarray:
        """The candidate placed with these parameters, each placement made once."""
        key = (sx, sy, int(round(ox)), int(round(oy)), size)
        if key not in placements:
            placements[key] = _place(candidate, sx, sy, key[2], key[3], size, cand_bg)
        return placements[key]

    greys: dict[int, tuple[np.ndarray, Image.Image]] = {}

    def grey_small(arr: np.ndarray, factor: int) -> np.ndarray:
        """:func:`_grey_small`, each array's grey image made once (the array is held: its id stays its own)."""
        hit = greys.get(id(arr))
        if hit is None or hit[0] is not arr:
            hit = greys[id(arr)] = (arr, Image.fromarray(arr).convert("L"))
        return np.asarray(hit[1].reduce(factor) if factor > 1 else hit[1], dtype=np.float32)

    # evaluate hypotheses at low resolution (with a small shift search each)
    factor = max(1, int(max(W, H) // 256))
    ref_small = grey_small(ref, factor)
    scored = []
    shifts: dict[tuple[float, float, int, int], tuple[int, int, float]] = {}
    for name, sx, sy, ox, oy in hypotheses:
        key = (sx, sy, int(round(ox)), int(round(oy)))  # hypotheses that place the candidate alike: scored once
        if key not in shifts:
            shifts[key] = _best_shift(ref_small, grey_small(place(sx, sy, ox, oy, size), factor), radius=2)
        dx, dy, d = shifts[key]
        scored.append((d, name, sx, sy, ox + dx * factor, oy + dy * factor))
    scored.sort(key=lambda t: t[0])
    _, name, sx, sy, ox, oy = scored[0]
    if abs(sx / sy - 1) > 0.02:
        # a distortion is only believed when it explains the images much better than a uniform scale does
        uniform = [t for t in scored if abs(t[2] / t[3] - 1) <= 0.02]
        if uniform and uniform[0][0] <= 1.35 * scored[0][0] + 0.5:
            _, name, sx, sy, ox, oy = uniform[0]
    # refine the translation at full working resolution
    placed = place(sx, sy, ox, oy, size)
    r2 = grey_small(ref, 2)
    dx, dy, _ = _best_shift(r2, grey_small(placed, 2), radius=1)
    if dx or dy:
        ox, oy = ox + 2 * dx, oy + 2 * dy
        placed = place(sx, sy, ox, oy, size)
    g_ref = grey_small(ref, 1)
    g_c = grey_small(placed, 1)
    dx, dy, resid = _best_shift(g_ref, g_c, radius=1)
    if dx or dy:
        ox, oy = ox + dx, oy + dy
        placed = place(sx, sy, ox, oy, size)

    if cb is not None and name.startswith("content"):
        # content added at the bottom / right (a table row, a column) must not be cut off by the reference's
        # frame: extend both images there (the reference with its background), by at most the frame's size
        ex = min(W, max(0, int(np.ceil(cb[2] * sx + ox)) - W))
        ey = min(H, max(0, int(np.ceil(cb[3] * sy + oy)) - H))
        if ex > 2 or ey > 2:
            size = (W + ex, H + ey)
            canvas = Image.new("RGB", size, tuple(int(v) for v in ref_bg))
            canvas.paste(ref_img, (0, 0))
            ref = np.asarray(canvas, dtype=np.uint8)
            placed = place(sx, sy, ox, oy, size)
            resid = float(np.abs(grey_small(ref, 1) - grey_small(placed, 1)).mean())

    al = Alignment(ref=ref, cand=placed, work_scale=work_scale, cand_scale=(sx, sy),
                   offset=(int(round(ox)), int(round(oy))), method=name, residual=resid,
                   ref_background=ref_bg, cand_background=cand_bg, ref_size=reference.size,
                   cand_size=candidate.size, aspect_ratio_factor=aspect_factor)
    # scale in reference pixels per candidate pixel
    rel = (sx / work_scale, sy / work_scale)
    if abs(rel[0] - 1) > 0.02 or abs(rel[1] - 1) > 0.02:
        if abs(rel[0] / rel[1] - 1) <= 0.02:
            al.notes.append(f"candidate is drawn at {1 / rel[0]:.2f}x the reference's scale (normalised)")
        else:
            al.notes.append(f"candidate is scaled by {1 / rel[0]:.2f}x horizontally and {1 / rel[1]:.2f}x "
                            "vertically relative to the reference (normalised)")
    if (ox, oy) != (0, 0) and name.startswith("content"):
        al.notes.append("candidate margins differ from the reference (content aligned)")
    return al
