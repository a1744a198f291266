"""Numbers the learned verifier reads: one row per proposal (a :class:`Finding`) and one row per pair.

The analysers propose findings; :mod:`verifier` decides which of them are real differences and which are
rasterisation nuisance (another engine, dpi, JPEG, anti-aliasing). Everything here is numpy on the aligned
working frame the analysers used, so the same numbers come out at training time and at judge time.

Feature rows are plain ``dict[str, float]``; a missing value is ``nan`` (the trees route it). The model
file stores the feature names it was trained on, so adding a feature here never breaks a shipped model.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..verdict import TAXONOMY
from .channels import any_channel_differs
from .findings import Context, Finding, overlap_fraction

FEATURES_VERSION = "4"  # 3: grid line evidence (grid_features); 4: blend share (blend_map), line/scatter evidence

CATEGORIES: tuple[str, ...] = tuple(sorted({c for cats in TAXONOMY.values() for c in cats}))
TASK_NAMES: tuple[str, ...] = tuple(sorted(TAXONOMY))

#: Words of the analysers' description templates; one 0/1 feature each ("what kind of proposal is this").
DESCRIPTION_WORDS: tuple[str, ...] = (
    "missing", "extra", "expected", "found", "opacity", "shape", "colour", "color", "differ", "moved",
    "size", "type", "axis", "legend", "grid", "marks", "line", "bar", "text", "value", "scale", "shade",
    "stroke", "row", "column", "subplot", "slightly", "edges", "background", "proportions", "glyph",
    "drawn", "composition", "mirrored", "area", "series", "tick", "label", "number", "resized",
)

#: Numeric evidence the analysers attach to findings (absent = nan).
EVIDENCE_KEYS: tuple[str, ...] = (
    "delta_e2000", "pixels", "opacity", "ink_ratio", "ink_iou", "area_share", "area_ratio", "aspect_ratio_factor",
    "shift_share", "places", "ocr_confidence", "pixel_evidence", "stroke_width_ratio", "width_ratio",
    "share_of_axis", "missing_share", "mask_iou", "fraction", "mirrored_overlap", "regions", "moved_parts",
    "parts", "changed_share", "coverage_ref", "bars_differing", "cells", "count", "precision", "recall",
    "coverage_cand", "coverage_1px", "max_deviation_share", "scallop_share", "share_repainted", "consistency",
)

#: Characters OCR confuses on rasterised text; both sides are mapped to one spelling before comparing.
_CONFUSIONS = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "l": "1", "I": "1", "i": "1", "|": "1",
                             "!": "1", "S": "5", "s": "5", "B": "8", "Z": "2", "z": "2", "G": "6", "g": "9",
                             "q": "9", "—": "-", "–": "-", "−": "-", ",": "", "'": "", "`": "", " ": ""})


def _nan() -> float:
    return float("nan")


# ----------------------------------------------------------------------------------------- helpers

def _grey(arr: np.ndarray) -> np.ndarray:
    return arr[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _shrink(g: np.ndarray, side: int = 256) -> np.ndarray:
    """Box-average a grey image so its long side is at most ``side`` (integer factor)."""
    h, w = g.shape
    k = max(1, math.ceil(max(h, w) / side))
    if k == 1:
        return g
    h2, w2 = h // k, w // k
    return g[:h2 * k, :w2 * k].reshape(h2, k, w2, k).mean(axis=(1, 3))


def _box_filter(x: np.ndarray, r: int = 3) -> np.ndarray:
    """Mean over a (2r+1)^2 window, edges replicated (scipy's separable running sums: 4x faster than an
    integral image, equal to ~1e-12)."""
    from scipy import ndimage as ndi

    return ndi.uniform_filter(np.asarray(x, np.float64), 2 * r + 1, mode="nearest")


def ssim_grey(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two grey images (0-255) with 7x7 box windows."""
    if a.size == 0 or a.shape != b.shape:
        return _nan()
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ma, mb = _box_filter(a), _box_filter(b)
    va = _box_filter(a * a) - ma * ma
    vb = _box_filter(b * b) - mb * mb
    cov = _box_filter(a * b) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    return float(s.mean())


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two equal-shape patches (1 = same up to brightness/contrast)."""
    if a.size < 4 or a.shape != b.shape:
        return _nan()
    a = a.astype(np.float64).ravel() - a.mean()
    b = b.astype(np.float64).ravel() - b.mean()
    den = math.sqrt(float(a @ a) * float(b @ b))
    if den < 1e-6:
        return 1.0 if float(np.abs(a - b).max()) < 1e-6 else 0.0
    return float(a @ b) / den


def _phash_bits(g: np.ndarray) -> np.ndarray:
    from PIL import Image
    from scipy.fft import dctn

    img = Image.fromarray(np.clip(g, 0, 255).astype(np.uint8)).resize((32, 32), Image.LANCZOS)
    d = dctn(np.asarray(img, np.float64), norm="ortho")[:8, :8]
    return (d > np.median(d.ravel()[1:])).ravel()


def _edges(g: np.ndarray) -> np.ndarray:
    gx = np.zeros_like(g)
    gy = np.zeros_like(g)
    gx[:, 1:-1] = g[:, 2:] - g[:, :-2]
    gy[1:-1, :] = g[2:, :] - g[:-2, :]
    return np.hypot(gx, gy)


def _crop(arr: np.ndarray, box: Sequence[float], pad: int = 2) -> np.ndarray:
    h, w = arr.shape[:2]
    x0, y0 = max(0, int(box[0]) - pad), max(0, int(box[1]) - pad)
    x1, y1 = min(w, math.ceil(box[2]) + pad), min(h, math.ceil(box[3]) + pad)
    return arr[y0:y1, x0:x1]


def resampled(ctx: Context) -> bool:
    sx, sy = ctx.al.cand_scale
    return abs(sx - 1) > 0.002 or abs(sy - 1) > 0.002 or ctx.al.work_scale != 1.0


def confusion_normal(text: str) -> str:
    """``text`` with OCR look-alikes merged (0/O, 1/l/I, 5/S...) and separators ('.', ',', spaces) dropped."""
    return str(text).translate(_CONFUSIONS).replace(".", "").lower()


def _number(text: str) -> float | None:
    m = re.search(r"[-−–]?\d+(?:[.,]\d+)*", str(text))
    if not m:
        return None
    try:
        return float(m.group(0).replace(",", "").replace("−", "-").replace("–", "-"))
    except ValueError:
        return None


# ----------------------------------------------------------------------------------------- pair level

def pixel_exact_elsewhere(ref: np.ndarray, cand: np.ndarray, diff: np.ndarray,
                          ignore: np.ndarray | None = None) -> bool:
    """Are the two aligned images identical, pixel for pixel, wherever the difference map is quiet (and
    outside ``ignore``: pixels an analyser already explained, e.g. an element repainted a slightly
    different shade, which the difference map's thresholds tolerate)?

    Then both come from one rasteriser at one scale and every difference is a real change: no nuisance
    route (another engine, dpi, JPEG, anti-aliasing) leaves the untouched pixels exactly as they were.
    """
    if ref.shape != cand.shape:
        return False
    quiet = diff < 28
    if ignore is not None and ignore.shape == quiet.shape:
        quiet = quiet & ~ignore
    n = int(np.count_nonzero(quiet))
    if n == 0:
        return False
    differ = any_channel_differs(ref, cand)  # pixels counted: the share .mean() of a boolean index gave, 7x faster
    return float(n - int(np.count_nonzero(differ & quiet))) / n >= 0.995


def exact_elsewhere(ctx: Context) -> bool:
    """:func:`pixel_exact_elsewhere` for an analysed pair, at one scale (not resampled), with the pixels of
    slight repaints the analysers found (``ctx.recoloured``) set aside."""
    return bool(pixel_exact_elsewhere(ctx.al.ref, ctx.al.cand, ctx.diff, ctx.recoloured) and not resampled(ctx))


#: A differing pixel counts as a blend when both images' pixels stand this far (max channel) from their
#: backgrounds and point the same way from them (cosine at least BLEND_MIN_COSINE).
BLEND_MIN_OFFSET = 15.0
BLEND_MIN_COSINE = 0.97


def blend_map(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """(differing pixels, those of them that are a blend): where the difference map sees a change
    (``ctx.diff`` >= 28) and both images draw there the same ink over their background at another strength.

    Anti-aliasing switched, another rasteriser, dpi or JPEG mostly change how much of an edge pixel an element
    covers: both pixels lie on one line from the background to the element's colour. A missing or added
    element leaves one side at the background and a repaint changes the direction, so a real change is
    mostly not a blend (a slightly different shade of one colour is, which the pixel-exact checks see).
    Computed once per pair (``ctx.cache``)."""
    hit = ctx.cache.get("blend")
    if hit is not None:
        return hit
    differ = ctx.diff >= 28
    blend = np.zeros_like(differ)
    if differ.any() and ctx.al.ref.shape == ctx.al.cand.shape:
        a = ctx.al.ref[differ][:, :3].astype(np.float32) - np.asarray(ctx.al.ref_background[:3], np.float32)
        b = ctx.al.cand[differ][:, :3].astype(np.float32) - np.asarray(ctx.al.cand_background[:3], np.float32)
        na, nb = np.abs(a).max(axis=1), np.abs(b).max(axis=1)
        dot = (a * b).sum(axis=1)
        norms = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
        same = (na >= BLEND_MIN_OFFSET) & (nb >= BLEND_MIN_OFFSET) & (dot >= BLEND_MIN_COSINE * np.maximum(norms, 1e-6))
        blend[differ] = same
    ctx.cache["blend"] = (differ, blend)
    return differ, blend


def blend_share(ctx: Context, box: Sequence[float] | None = None) -> float:
    """The share of the differing pixels (in ``box``, else everywhere) that are blends (:func:`blend_map`);
    nan where nothing differs."""
    differ, blend = blend_map(ctx)
    if box is not None:
        differ, blend = _crop(differ, box), _crop(blend, box)
    n = int(np.count_nonzero(differ))
    return float(np.count_nonzero(blend)) / n if n else _nan()


def changed_share(ctx: Context) -> float:
    """The share of the image the difference regions cover (``pair_region_share``)."""
    H, W = ctx.diff.shape
    return float(sum(r.pixels for r in ctx.regions)) / float(max(1, H * W))


def pair_features(ctx: Context, findings: Sequence[Finding]) -> dict[str, float]:
    """Coarse similarity of the aligned pair (pHash, SSIM, MSE, edges, differing pixels) and proposal counts."""
    al = ctx.al
    ga, gb = _grey(al.ref), _grey(al.cand)
    sa, sb = _shrink(ga), _shrink(gb)
    ea, eb = _edges(sa), _edges(sb)
    ed = np.abs(ea - eb)
    edge_mass = float(ea.sum() + eb.sum()) + 1e-6
    H, W = ctx.diff.shape
    area = float(H * W)
    sx, sy = al.cand_scale
    out: dict[str, float] = {
        "pair_phash_dist": float((_phash_bits(sa) != _phash_bits(sb)).sum()),
        "pair_ssim": ssim_grey(sa, sb),
        "pair_mse": float(np.mean((sa - sb) ** 2) / 255.0 ** 2),
        "pair_mae_full": float(np.mean(np.abs(ga - gb))) / 255.0,
        "pair_edge_diff_share": float(ed.sum()) / edge_mass,
        "pair_edge_diff_p99": float(np.percentile(ed, 99)) / 255.0,
        "pair_edge_strong_share": float((ed > 60).mean()),
        "pair_diff_share_28": float((ctx.diff > 28).mean()),
        "pair_diff_share_60": float((ctx.diff > 60).mean()),
        "pair_diff_share_120": float((ctx.diff > 120).mean()),
        "pair_diff_p999": float(np.percentile(ctx.diff, 99.9)),
        "pair_regions": float(len(ctx.regions)),
        "pair_region_share": changed_share(ctx),
        "pair_blend_share": blend_share(ctx),
        "pair_max_region_share": max((r.pixels for r in ctx.regions), default=0) / area,
        "pair_align_residual": float(al.residual),
        "pair_scale_x": float(sx),
        "pair_scale_y": float(sy),
        "pair_scale_dev": float(abs(math.log(max(1e-6, sx))) + abs(math.log(max(1e-6, sy)))),
        "pair_work_scale": float(al.work_scale),
        "pair_resampled": float(resampled(ctx)),
        "pair_aspect_factor": float(al.aspect_ratio_factor),
        "pair_size_ratio": float(al.cand_size[0] * al.cand_size[1]) / max(1.0, al.ref_size[0] * al.ref_size[1]),
        "pair_ref_words": float(len(ctx.ref_words)),
        "pair_cand_words": float(len(ctx.cand_words)),
        "pair_word_ratio": float(len(ctx.cand_words) + 1) / float(len(ctx.ref_words) + 1),
        "pair_ocr_ok": float(ctx.ocr_ok),
        "pair_proposals": float(len(findings)),
        "pair_severity_sum": float(sum(f.severity for f in findings)),
        "pair_severe": float(sum(1 for f in findings if f.severity >= 3)),
    }
    out.update(_multiscale_features(sa, sb))
    out.update(_ink_grid_features(al.ref, al.cand, al.ref_background, al.cand_background))
    out.update(_word_overlap_features(ctx.ref_words, ctx.cand_words))
    for t in TASK_NAMES:
        out[f"task_{t}"] = float(ctx.task == t)
    for c in CATEGORIES:
        out[f"pair_n_{c}"] = float(sum(1 for f in findings if f.category == c))
    return out


def _multiscale_features(sa: np.ndarray, sb: np.ndarray) -> dict[str, float]:
    """Grey difference after box-averaging to 64 and 16 px cells: rasterisation nuisance (anti-aliasing,
    another engine's hinting, JPEG) averages out at coarse scales, a changed mark or area does not."""
    out: dict[str, float] = {}
    for side in (64, 16):
        a, b = _shrink(sa, side), _shrink(sb, side)
        if a.shape != b.shape or a.size == 0:
            continue
        d = np.abs(a - b) / 255.0
        out[f"pair_ms{side}_mean"] = float(d.mean())
        out[f"pair_ms{side}_max"] = float(d.max())
        out[f"pair_ms{side}_share_05"] = float((d > 0.05).mean())
    return out


def _ink_grid_features(ref: np.ndarray, cand: np.ndarray, bg_ref: Sequence[int], bg_cand: Sequence[int],
                       cells: int = 8) -> dict[str, float]:
    """Ink share (pixels away from each image's background) in an 8x8 grid: the largest and mean change of a
    cell's ink share, and how many cells gained or lost a tenth of their ink."""
    if ref.shape != cand.shape:
        return {}
    from .colour import channel_distance

    # max over channels of |pixel - background| > 40 (PIL's uint8 loops: exact, several times faster)
    ink_a = channel_distance(ref, bg_ref) > 40  # boolean: counted straight into int32 below
    ink_b = channel_distance(cand, bg_cand) > 40
    h, w = ink_a.shape
    ys = np.linspace(0, h, cells + 1).astype(int)
    xs = np.linspace(0, w, cells + 1).astype(int)
    da, db = [], []
    if h >= cells and w >= cells:  # no empty cell: per-cell counts in one pass, each share as float32 like .mean()
        size = (np.diff(ys)[:, None] * np.diff(xs)[None, :]).astype(np.float32).ravel()
        for ink, dst in ((ink_a, da), (ink_b, db)):
            cnt = np.add.reduceat(np.add.reduceat(ink, ys[:-1], axis=0, dtype=np.int32), xs[:-1], axis=1)
            dst.extend(float(v) for v in cnt.astype(np.float32).ravel() / size)
    for i in range(cells if not da else 0):
        for j in range(cells):
            ca = ink_a[ys[i]:ys[i + 1], xs[j]:xs[j + 1]].astype(np.float32)  # float32 means, as before
            cb = ink_b[ys[i]:ys[i + 1], xs[j]:xs[j + 1]].astype(np.float32)
            if ca.size:
                da.append(float(ca.mean()))
                db.append(float(cb.mean()))
    a, b = np.asarray(da), np.asarray(db)
    rel = np.abs(b - a) / np.maximum(np.maximum(a, b), 1e-3)
    return {"pair_ink_cell_max": float(np.abs(b - a).max()) if a.size else _nan(),
            "pair_ink_cell_mean": float(np.abs(b - a).mean()) if a.size else _nan(),
            "pair_ink_cells_changed": float(((rel > 0.1) & (np.maximum(a, b) > 0.005)).sum()),
            "pair_ink_total_logratio": math.log((float(b.sum()) + 1e-3) / (float(a.sum()) + 1e-3))}


def _word_overlap_features(ref_words: Sequence[Any], cand_words: Sequence[Any]) -> dict[str, float]:
    """How much of the text both images hold, with OCR look-alikes merged (0/O, 1/l...): a re-rasterised
    figure keeps nearly every token, a changed label or title loses some."""
    ra = {confusion_normal(w.text) for w in ref_words} - {""}
    cb = {confusion_normal(w.text) for w in cand_words} - {""}
    if not ra and not cb:
        return {"pair_words_jaccard": 1.0, "pair_words_ref_kept": 1.0, "pair_words_cand_new": 0.0}
    inter = len(ra & cb)
    return {"pair_words_jaccard": inter / max(1, len(ra | cb)),
            "pair_words_ref_kept": inter / max(1, len(ra)),
            "pair_words_cand_new": float(len(cb - ra)) / max(1, len(cb))}


# ----------------------------------------------------------------------------------------- proposal level

def _words_in(words: Sequence[Any], box: Sequence[float]) -> list[Any]:
    return [w for w in words if overlap_fraction(w.bbox, box) > 0.5]


def _line_contrast(g: np.ndarray) -> np.ndarray:
    """Per pixel of rows 3 .. n-4 of a grey crop: how far it stands out from the pixels 3 rows above and below
    (a horizontal line's ink), averaged over 3 px along the row (a dash keeps its contrast through a 1-px dip)."""
    con = np.abs(g[3:-3] - (g[:-6] + g[6:]) / 2.0)
    if con.shape[1] >= 3:
        con[:, 1:-1] = (con[:, :-2] + con[:, 1:-1] + con[:, 2:]) / 3.0
    return con


def grid_line_kept(lines: np.ndarray, other: np.ndarray, *, min_contrast: float = 6.0,
                   min_cover: float = 0.2) -> tuple[float, float, float, float]:
    """For the horizontal lines of grey crop ``lines`` (rows whose contrast reaches ``min_contrast`` over at
    least ``min_cover`` of the width): the lower quartile over rows of the share of their contrast that
    ``other`` keeps at the same pixels (best of +-1 row), how many line rows there are, and the median share of each line's span left
    undrawn (its dash gaps, pixel by pixel, unsmoothed) in ``lines`` and in ``other``. A grid removed keeps ~0
    (only what crosses it), the same grid re-rasterised (anti-aliasing, another engine, JPEG) keeps most of
    it; a dashed grid drawn solid loses its gaps, a dashed grid without anti-aliasing keeps thinner ones.
    (nan, 0, nan, nan) when ``lines`` has no such row."""
    nan = _nan()
    if lines.shape != other.shape or lines.shape[0] < 12 or lines.shape[1] < 12:
        return nan, 0.0, nan, nan
    ca, cb = _line_contrast(lines), _line_contrast(other)
    on = ca >= min_contrast
    rows = np.nonzero(on.mean(axis=1) >= min_cover)[0]
    if rows.size == 0:
        return nan, 0.0, nan, nan
    raw_a = np.abs(lines[3:-3] - (lines[:-6] + lines[6:]) / 2.0)
    raw_b = np.abs(other[3:-3] - (other[:-6] + other[6:]) / 2.0)
    kept, gap_a, gap_b = [], [], []
    for k in rows:
        m = on[k]
        a = float(ca[k][m].mean())
        near = range(max(0, k - 1), min(cb.shape[0], k + 2))
        j = max(near, key=lambda i: float(cb[i][m].mean()))
        kept.append(min(2.0, float(cb[j][m].mean()) / max(a, 1e-6)))
        cols = np.nonzero(m)[0]
        span = slice(int(cols[0]), int(cols[-1]) + 1)
        for raw, row, dst in ((raw_a, k, gap_a), (raw_b, j, gap_b)):
            seg = raw[row, span]
            top = float(np.percentile(seg, 90))
            dst.append(float((seg < 0.35 * top).mean()) if top >= min_contrast else 1.0)
    # the lower quartile: the line rows also hold bar edges, spines of insets and legend frames, which both
    # images draw; a grid that vanished is a good share of the rows, and re-rasterising keeps every row
    return float(np.percentile(kept, 25)), float(rows.size), float(np.median(gap_a)), float(np.median(gap_b))


def grid_features(ctx: Context, f: Finding) -> dict[str, float]:
    """Evidence of a grid proposal (lines switched on or off, another dash pattern): line counts, the dash
    patterns' drawn-share gap and pieces ratio, and how much of the grid ink of the image that draws it the
    other keeps (``grid_features``: vanished ~0, re-anti-aliased most)."""
    ev = f.evidence or {}
    out: dict[str, float] = {}
    rl, cl = ev.get("ref_grid_lines"), ev.get("cand_grid_lines")
    if isinstance(rl, list) and isinstance(cl, list):
        r, c = float(sum(rl)), float(sum(cl))
        out["grid_ref_lines"], out["grid_cand_lines"] = r, c
        out["grid_lines_logratio"] = math.log((c + 1.0) / (r + 1.0))
    rp, cp = ev.get("ref_grid_pattern"), ev.get("cand_grid_pattern")
    if isinstance(rp, list) and isinstance(cp, list) and len(rp) >= 2 and len(cp) >= 2:
        out["grid_pattern_share_gap"] = float(cp[0]) - float(rp[0])
        out["grid_pattern_pieces_logratio"] = math.log((float(cp[1]) + 0.2) / (float(rp[1]) + 0.2))
    if not out or f.bbox is None:
        return out
    x0, y0, x1, y1 = (int(np.rint(v)) for v in f.bbox)
    ga = _grey(ctx.al.ref[max(0, y0 + 3):max(0, y1 - 2), max(0, x0 + 3):max(0, x1 - 2)])
    gb = _grey(ctx.al.cand[max(0, y0 + 3):max(0, y1 - 2), max(0, x0 + 3):max(0, x1 - 2)])
    if ga.shape != gb.shape or ga.size == 0:
        return out
    # the grid of the image that draws more lines: the reference when lines went missing, else the candidate
    cand_draws = out.get("grid_lines_logratio", 0.0) > 0
    lines, other = (gb, ga) if cand_draws else (ga, gb)
    h, v = grid_line_kept(lines, other), grid_line_kept(lines.T, other.T)
    best = h if h[1] >= v[1] else v  # the direction with more grid line rows
    kept = [k for k in (h[0], v[0]) if not math.isnan(k)]
    out["grid_ink_kept"] = float(min(kept)) if kept else _nan()
    out["grid_line_rows"] = h[1] + v[1]
    gap_ref, gap_cand = (best[3], best[2]) if cand_draws else (best[2], best[3])
    out["grid_gap_ref"], out["grid_gap_cand"] = gap_ref, gap_cand
    if not (math.isnan(gap_ref) or math.isnan(gap_cand)):
        out["grid_gap_logratio"] = math.log((gap_cand + 0.02) / (gap_ref + 0.02))
    # the same measure the other way round: lines the other image draws that this one lacks
    back = [k for k in (grid_line_kept(other, lines)[0], grid_line_kept(other.T, lines.T)[0]) if not math.isnan(k)]
    out["grid_ink_kept_reverse"] = float(min(back)) if back else _nan()
    return out


def proposal_features(ctx: Context, f: Finding, pair: dict[str, float]) -> dict[str, float]:
    """What one proposal says (category, template words, severity, evidence) and what the pixels under it show."""
    H, W = ctx.diff.shape
    out: dict[str, float] = dict(pair)
    for c in CATEGORIES:
        out[f"cat_{c}"] = float(f.category == c)
    desc = f.description.lower()
    for word in DESCRIPTION_WORDS:
        out[f"desc_{word}"] = float(word in desc)
    loc = f.location.lower()
    out["loc_whole"] = float("whole" in loc or "figure" in loc)
    out["loc_axis"] = float("axis" in loc or "tick" in loc)
    out["loc_text"] = float("text" in loc or "title" in loc or "label" in loc)
    out["severity"] = float(f.severity)
    out["desc_len"] = float(len(f.description))
    out["desc_numbers"] = float(len(re.findall(r"\d+(?:\.\d+)?", f.description)))
    ev = f.evidence or {}
    for key in EVIDENCE_KEYS:
        v = ev.get(key)
        out[f"ev_{key}"] = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else _nan()
    out["ev_numeric_keys"] = float(sum(1 for v in ev.values() if isinstance(v, (int, float))))
    out.update(grid_features(ctx, f))
    # text pairs: similarity, and equality once OCR look-alikes are merged
    exp, fnd = ev.get("expected"), ev.get("found")
    if isinstance(exp, str) or isinstance(fnd, str):
        a, b = str(exp or ""), str(fnd or "")
        out["txt_has_both"] = float(bool(a) and bool(b))
        out["txt_similarity"] = difflib.SequenceMatcher(None, a, b).ratio()
        out["txt_equal_casefold"] = float(a.lower() == b.lower())
        out["txt_equal_confusion"] = float(confusion_normal(a) == confusion_normal(b))
        out["txt_len_diff"] = float(abs(len(a) - len(b)))
        out["txt_len"] = float(max(len(a), len(b)))
        na, nb = _number(a), _number(b)
        if na is not None and nb is not None:
            out["txt_num_rel"] = abs(na - nb) / max(abs(na), 1e-9)
            out["txt_num_ratio10"] = float(abs(abs(na) - 10 * abs(nb)) < 1e-9 * max(1.0, abs(na))
                                           or abs(abs(nb) - 10 * abs(na)) < 1e-9 * max(1.0, abs(nb))
                                           or abs(abs(na) - 100 * abs(nb)) < 1e-9 * max(1.0, abs(na))
                                           or abs(abs(nb) - 100 * abs(na)) < 1e-9 * max(1.0, abs(nb)))
    ev_exp, ev_fnd = ev.get("expected_value"), ev.get("found_value")
    if isinstance(ev_exp, (int, float)) and isinstance(ev_fnd, (int, float)):
        out["val_rel"] = abs(float(ev_fnd) - float(ev_exp)) / max(abs(float(ev_exp)), 1e-9)
    # the pixels under the box
    if f.bbox is None:
        out["has_box"] = 0.0
        return out
    box = f.bbox
    bw, bh = max(0.0, box[2] - box[0]), max(0.0, box[3] - box[1])
    out["has_box"] = 1.0
    out["box_area_share"] = bw * bh / float(W * H)
    out["box_w"] = bw / W
    out["box_h"] = bh / H
    out["box_aspect"] = math.log((bw + 1) / (bh + 1))
    out["box_cx"] = (box[0] + box[2]) / 2 / W
    out["box_cy"] = (box[1] + box[3]) / 2 / H
    ra, ca = _crop(ctx.al.ref, box), _crop(ctx.al.cand, box)
    d = _crop(ctx.diff, box)
    if d.size:
        ga, gb = _grey(ra), _grey(ca)
        out["crop_ncc"] = ncc(ga, gb)
        out["crop_mae"] = float(np.abs(ga - gb).mean()) / 255.0
        out["crop_ssim"] = ssim_grey(ga, gb) if min(ga.shape) >= 7 else _nan()
        out["crop_diff_mean"] = float(d.mean()) / 255.0
        out["crop_diff_60"] = float((d > 60).mean())
        out["crop_diff_120"] = float((d > 120).mean())
        out["crop_diff_px"] = float((d > 60).sum()) / max(6.0, min(bw, bh))
        # max over channels of |pixel - background| > 40 (integer backgrounds: channel_distance's uint8
        # values are exact, and of a judged pair's frames they are made once: framecache.py)
        from .colour import channel_distance

        ink_a = float((channel_distance(ra, ctx.al.ref_background) > 40).mean())
        ink_b = float((channel_distance(ca, ctx.al.cand_background) > 40).mean())
        out["crop_ink_ref"] = ink_a
        out["crop_ink_cand"] = ink_b
        out["crop_ink_logratio"] = math.log((ink_b + 1e-3) / (ink_a + 1e-3))
        ea, eb = _edges(ga), _edges(gb)
        out["crop_edge_ncc"] = ncc(ea, eb)
        out["crop_mean_delta"] = float(gb.mean() - ga.mean()) / 255.0
        out["crop_blend_share"] = blend_share(ctx, box)
    # OCR confidence on each side under the box
    rw, cw = _words_in(ctx.ref_words, box), _words_in(ctx.cand_words, box)
    out["ocr_ref_n"] = float(len(rw))
    out["ocr_cand_n"] = float(len(cw))
    out["ocr_ref_conf"] = float(np.mean([w.conf for w in rw])) if rw else _nan()
    out["ocr_cand_conf"] = float(np.mean([w.conf for w in cw])) if cw else _nan()
    out["ocr_min_conf"] = float(min([w.conf for w in rw + cw])) if rw or cw else _nan()
    hs = [w.bbox[3] - w.bbox[1] for w in rw + cw]
    out["ocr_text_height"] = float(np.median(hs)) if hs else _nan()
    # the difference regions it covers
    covered = [r for r in ctx.regions if overlap_fraction(r.bbox, box) >= 0.5]
    out["reg_n"] = float(len(covered))
    out["reg_px"] = float(sum(r.pixels for r in covered)) / float(W * H)
    out["reg_ink_iou"] = float(np.mean([r.ink_iou for r in covered])) if covered else _nan()
    out["reg_de"] = float(max((r.colour_delta_e for r in covered), default=_nan()))
    return out
