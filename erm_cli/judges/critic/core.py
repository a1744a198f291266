"""The embedded visual-equivalence critic: deterministic, CPU-only, no downloaded weights.

Pipeline for one (reference, candidate) pair:

1. **alignment** — scale / margins / offset normalised into the reference's working frame (align.py);
2. **ocr** — words of both images (ocr.py), matched by position and content (text.py);
3. **colour** — palettes of both images (colour.py) and pure-colour difference regions grouped by
   (expected, found) colour pairs with ΔE2000;
4. **regions** — the noise-tolerant difference map (diffmap.py) and the per-task analysers
   (chart.py, table.py, svg.py) that turn regions into located findings. A drawing that changed as a
   whole (parts rearranged, mirrored, a blank render) is re-read part by part: painted components
   matched one to one (components.py), or the mirrored reference compared again.

Every finding carries a Visual-ERM category for the task, a severity (1 minor, 2 medium, 3 severe), a
human-readable location, a description with evidence and a box in reference pixels.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image

from ..verdict import CRITIC_REWARD_FORMULA, REWARD_FORMULAS, TASKS, ErrorItem, Verdict
from .align import EXTREME_ASPECT, Alignment, align, content_bbox
from .colour import PaletteColour, delta_e_rgb, describe_colour, hex_of, palette, parse_colour
from .diffmap import Region, diff_regions, difference_map
from .findings import BBox, Context, Finding, overlap_fraction, position_name, severity_by_share, union_box
from .framecache import frame_scope, register_frames
from .ocr import OcrUnavailable, Word, engine_info, ocr_words, text_layer
from .phrasing import name_chart_series, name_table_cells, phrase_findings
from .text import TextDifference, compare_text, plausible_words

CRITIC_VERSION = "0.1.0"

#: OCR words below this confidence are ignored (shapes read as letters); single characters need more.
MIN_WORD_CONF = 45.0
MIN_CHAR_CONF = 80.0


def _confident(w: Word) -> bool:
    return w.conf >= (MIN_CHAR_CONF if len(w.text) == 1 else MIN_WORD_CONF)


class Critic:
    """``Critic().judge(reference, candidate, task) -> Verdict`` (see the module docstring).

    Options: ``ocr`` (False skips the text stage), ``max_side`` (working-frame size cap, default 1024),
    ``max_severity`` (the released reward's normaliser, default Verdict's 50), ``reward_formula``
    ("ordered", the critic's default, or Visual-ERM's "released" ``clip(1 - S / 50)``; see ``judges/verdict.py``).
    """

    name = "critic"
    version = CRITIC_VERSION

    def __init__(self, ocr: bool = True, max_side: int = 1024, min_side: int = 128,
                 max_severity: float | None = None, verifier: Any = True, reward_formula: str | None = None,
                 **_: Any) -> None:
        from .verifier import default_verifier

        # the learned verifier (verifier.py): True = the shipped model, False/None = off, or an object with decide()
        self.verifier = default_verifier() if verifier is True else (verifier or None)
        self.use_ocr = ocr
        self.max_side = int(max_side)
        self.min_side = int(min_side)
        self.max_severity = max_severity
        if reward_formula is not None and reward_formula not in REWARD_FORMULAS:
            from ...errors import InputError

            raise InputError(f"unknown reward formula {reward_formula!r}; choose one of: {', '.join(REWARD_FORMULAS)}")
        self.reward_formula = reward_formula

    # ------------------------------------------------------------------------------------------ API
    def judge(self, reference: Image.Image, candidate: Image.Image, task: str = "auto") -> Verdict:
        from ...imageio import to_rgb

        reference, candidate = to_rgb(reference), to_rgb(candidate)
        task_guessed = task in (None, "", "auto")
        if task_guessed:
            task = guess_task(reference)
        if task not in TASKS:
            from ...errors import InputError

            raise InputError(f"unknown task {task!r}; choose one of: {', '.join(TASKS)}")
        timings: dict[str, float] = {}
        t = time.perf_counter()
        with frame_scope():  # per-pixel maps of the pair's two frames made once (framecache.py)
            al = align(reference, candidate, max_side=self.max_side, min_side=self.min_side)
            timings["alignment"] = time.perf_counter() - t
            register_frames(al.ref, al.cand)
            return self._judge_aligned(reference, candidate, task, task_guessed, al, timings)

    def _judge_aligned(self, reference: Image.Image, candidate: Image.Image, task: str, task_guessed: bool,
                       al: Alignment, timings: dict[str, float]) -> Verdict:
        warnings: list[str] = []
        t = time.perf_counter()
        ref_words: list[Word] = []
        cand_words: list[Word] = []
        ocr_ok = False
        if self.use_ocr:
            try:
                # OCR at each image's native resolution (the sharpest text), boxes mapped to the working frame;
                # icons: only the dark text layer (coloured shapes around short labels confuse Tesseract)
                layer = "text" if task == "svg" else "plain"
                s = al.work_scale
                ref_words = plausible_words(al.ref, al.ref_background,
                                            [w.scaled(s) for w in cached_ocr(reference, layer) if _confident(w)])
                (sx, sy), (ox, oy) = al.cand_scale, al.offset
                cand_words = plausible_words(al.cand, al.cand_background,
                                             [w.scaled(sx, sy, ox, oy) for w in cached_ocr(candidate, layer)
                                              if _confident(w)])
                ocr_ok = True
            except OcrUnavailable as exc:
                warnings.append(f"text check skipped: {exc}")
        timings["ocr"] = time.perf_counter() - t

        t = time.perf_counter()
        ref_pal = palette(al.ref, background=al.ref_background)
        cand_pal = palette(al.cand, background=al.cand_background)
        timings["colour"] = time.perf_counter() - t

        t = time.perf_counter()
        # an upscaled image is blurry over ~its scale factor: compare at that softness
        up = max(max(al.cand_scale), al.work_scale)
        blur = (1.2 * max(1.0, up / 1.5)) if _resampled(al) else 0.5
        radius = max(1, int(round(up / 2)))
        diff, regions = diff_regions(al.ref, al.cand, al.ref_background, al.cand_background, blur=blur,
                                     radius=radius)
        ctx = Context(task=task, al=al, diff=diff, regions=regions, ref_words=ref_words, cand_words=cand_words,
                      ref_palette=ref_pal, cand_palette=cand_pal, ocr_ok=ocr_ok, diff_blur=blur,
                      diff_radius=radius)
        findings = _analyse(ctx)
        timings["regions"] = time.perf_counter() - t
        verifier_info = None
        if self.verifier is not None:  # analysers propose, the learned verifier decides
            t = time.perf_counter()
            findings, verifier_info = self.verifier.decide(findings, ctx)
            timings["verifier"] = time.perf_counter() - t
            # Visual-ERM wording, after the decision: the verifier read the analysers' own words (phrasing.py);
            # without a verifier the verdict lists the analysers' proposals as they are
            findings = phrase_findings(task, findings, ctx.size)
        timings["total"] = sum(timings.values())

        errors = [_to_error(f, al) for f in findings]
        v = Verdict(task=task, errors=errors, judge={"name": self.name, "version": self.version}, timings=timings)
        if self.max_severity:
            v.max_severity = float(self.max_severity)
        v.reward_formula = self.reward_formula or CRITIC_REWARD_FORMULA
        v.info["alignment"] = al.info()
        if al.notes:
            v.info["notes"] = list(al.notes)
        v.info["ocr"] = engine_info() if self.use_ocr else {"engine": "disabled"}
        v.info["palette"] = {"reference": [p.hex for p in ref_pal], "candidate": [p.hex for p in cand_pal]}
        v.info["regions"] = len(regions)
        if task_guessed:
            v.info["task_guessed"] = True
        if verifier_info:
            v.info["verifier"] = verifier_info
            v.pair_weight = float(verifier_info.get("reward_pair_weight") or 0.0)  # the reward sees the pair head
        if warnings:
            v.info["warnings"] = warnings
        return v


_OCR_CACHE: OrderedDict[bytes, list[Word]] = OrderedDict()
_OCR_CACHE_SIZE = 64
_OCR_LOCK = threading.Lock()


def cached_ocr(img: Image.Image, layer: str = "plain") -> list[Word]:
    """OCR words of an image at its native resolution, remembered for the last few images (a refine loop or an
    RL batch judges many candidates against one reference). ``layer="text"`` reads only dark text pixels."""
    key = hashlib.blake2b(img.tobytes(), digest_size=16).digest() + f"{img.size}{img.mode}{layer}".encode()
    with _OCR_LOCK:
        hit = _OCR_CACHE.get(key)
        if hit is not None:
            _OCR_CACHE.move_to_end(key)
            return list(hit)
    words = ocr_words(text_layer(img) if layer == "text" else img)
    with _OCR_LOCK:
        _OCR_CACHE[key] = words
        while len(_OCR_CACHE) > _OCR_CACHE_SIZE:
            _OCR_CACHE.popitem(last=False)
    return list(words)


def cached_ocr_rotated(arr: np.ndarray, box: tuple[int, int, int, int]) -> list[Word]:
    """:func:`.ocr.ocr_rotated` of ``box`` in ``arr``, remembered by the strip's pixels: the y-label strip of a
    candidate is often pixel-identical to the reference's, and a refine loop or an RL batch reads the same
    reference's again and again."""
    from .ocr import ocr_rotated

    x0, y0, x1, y1 = box
    if x1 - x0 < 6 or y1 - y0 < 12:
        return []
    strip = Image.fromarray(np.asarray(arr, dtype=np.uint8)).crop(box)  # as ocr_rotated crops (padded outside)
    key = hashlib.blake2b(strip.tobytes(), digest_size=16).digest() + f"{strip.size}{strip.mode}rot".encode()
    with _OCR_LOCK:
        hit = _OCR_CACHE.get(key)
        if hit is not None:
            _OCR_CACHE.move_to_end(key)
    if hit is None:
        hit = ocr_rotated(strip, (0, 0, strip.width, strip.height))
        with _OCR_LOCK:
            _OCR_CACHE[key] = hit
            while len(_OCR_CACHE) > _OCR_CACHE_SIZE:
                _OCR_CACHE.popitem(last=False)
    return [Word(w.text, (w.bbox[0] + x0, w.bbox[1] + y0, w.bbox[2] + x0, w.bbox[3] + y0), w.conf, w.vertical)
            for w in hit]


def clear_ocr_cache() -> None:
    """Forget remembered OCR results (benchmarks measuring cold latency call this)."""
    with _OCR_LOCK:
        _OCR_CACHE.clear()


def _to_error(f: Finding, al: Alignment) -> ErrorItem:
    bbox = None
    if f.bbox is not None:
        W, H = al.ref_size
        b = al.to_reference(f.bbox)
        bbox = [max(0.0, min(float(W), b[0])), max(0.0, min(float(H), b[1])),
                max(0.0, min(float(W), b[2])), max(0.0, min(float(H), b[3]))]
    ev = {k: v for k, v in f.evidence.items()} if f.evidence else None
    return ErrorItem(category=f.category, severity=int(min(3, max(1, f.severity))), location=f.location,
                     description=f.description, bbox=bbox, evidence=ev)


# ============================================================================================ analysis

def _analyse(ctx: Context) -> list[Finding]:
    findings: list[Finding] = []
    findings.extend(_frame_findings(ctx))
    findings.extend(_faint_findings(ctx))
    if ctx.task == "chart":
        findings.extend(_analyse_chart(ctx))
    elif ctx.task == "table":
        findings.extend(_analyse_table(ctx))
    else:
        findings.extend(_analyse_svg(ctx))
    if ctx.task in ("chart", "svg"):
        shades = _shade_findings(ctx, findings)
        if shades:  # a faint-area finding over a repainted element says less about the same change
            findings = [f for f in findings if not ((f.evidence or {}).get("faint_area") and f.bbox is not None
                                                    and any(overlap_fraction(s.bbox, f.bbox) >= 0.5
                                                            for s in shades if s.bbox is not None))] + shades
    return _dedupe(findings)


def _hex_or_none(value: Any) -> tuple[int, int, int] | None:
    """A finding's ``expected`` evidence as a colour, when it is one (some name a marker or a style)."""
    if not isinstance(value, str) or not value.startswith("#"):
        return None
    try:
        return parse_colour(value)
    except ValueError:
        return None


#: Repaints whose channels move this much or more make difference regions the other analysers explain.
SHADE_MAX_CHANNEL = 60


def _shade_findings(ctx: Context, found: Sequence[Finding]) -> list[Finding]:
    """Elements repainted in a slightly different shade (black drawn #292929, tab:blue drawn #45a0df): every
    pixel of one reference colour moved to one other colour, by less than the difference map sees. Only for
    two images of one size and scale (another rasteriser or a resampling moves colours too); the pixels are
    set aside in ``ctx.recoloured`` so the pair still counts as pixel-exact elsewhere. They are proposed only
    when the pair is pixel-exact outside them and the difference map's regions (``repaint_exact_elsewhere``:
    the verifier keeps them), so another rasteriser's or JPEG's colour noise never is. A repaint the difference
    map does see (a channel moves by :data:`SHADE_MAX_CHANNEL` or more) is proposed here only when no other
    finding covers it (small text repainted: the text analysis reads the same words and explains its regions)."""
    from .colour import exact_recolours
    from .features import pixel_exact_elsewhere
    from .morphology import dilate

    if _resampled(ctx.al) or ctx.al.ref.shape != ctx.al.cand.shape:
        return []
    W, H = ctx.size
    reported = [c for c in (_hex_or_none(f.evidence.get("expected")) for f in found if f.evidence) if c is not None]
    # where another analyser already reports a colour change (a colour map, a repainted series)
    colour_boxes = [f.bbox for f in found if f.bbox is not None and "colour" in f.description.lower()
                    and not (f.evidence or {}).get("faint_area")]
    out: list[Finding] = []
    elements: list[np.ndarray] = []  # grown masks of the repaints reported so far
    for rc in exact_recolours(ctx.al.ref, ctx.al.cand, min_pixels=max(40, int(W * H * 1e-4))):
        a, b = rc.expected, rc.found
        grown = dilate(rc.mask, iterations=2)  # with the element's anti-aliased edge
        if any(np.count_nonzero(grown & e) >= 0.3 * rc.pixels for e in elements):
            # the anti-aliased shades of an element already reported, repainted with it
            ctx.recoloured = ctx.recoloured | grown  # type: ignore[operator]
            continue
        if any(delta_e_rgb(a, c) < 5 for c in reported):
            continue  # another analyser already said this colour changed
        ys, xs = np.nonzero(rc.mask)
        box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
        if any(overlap_fraction(box, b) >= 0.5 for b in colour_boxes):
            continue
        slight = max(abs(int(x) - int(y)) for x, y in zip(a, b, strict=True)) < SHADE_MAX_CHANNEL
        if not slight and any(f.bbox is not None and overlap_fraction(box, f.bbox) >= 0.5 for f in found):
            continue  # the difference map sees it, and another analyser explains its regions
        elements.append(grown)
        ctx.recoloured = grown if ctx.recoloured is None else (ctx.recoloured | grown)
        de = delta_e_rgb(a, b)
        what = " (a slightly different shade)" if slight else ""
        out.append(Finding("style_error", 1 if slight or de < 12 else 2, f"{position_name(box, (0, 0, W, H))} element",
                           f"colour {describe_colour(a)} expected, {describe_colour(b)} found{what}, "
                           f"ΔE2000 = {de:.0f}", box,  # type: ignore[arg-type]
                           {"expected": hex_of(a), "found": hex_of(b), "delta_e2000": round(de, 1),
                            "pixels": rc.pixels, "share_repainted": round(rc.share_moved, 3),
                            "consistency": round(rc.consistency, 3), "repaint_exact_elsewhere": True}))
    if ctx.recoloured is not None and not pixel_exact_elsewhere(ctx.al.ref, ctx.al.cand, ctx.diff, ctx.recoloured):
        ctx.recoloured = None  # other pixels moved as well: another rasteriser or JPEG, not a repaint
        return []
    return out


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for f in findings:
        key = (f.category, f.location, f.description)
        if key in seen:
            continue
        seen.add(key)
        out.append(f)
    return out


def _faint_findings(ctx: Context) -> list[Finding]:
    """Shading that changed over a large area without any sharp difference (gradients, filters, opacity)."""
    from .diffmap import faint_areas

    cat = {"chart": "style_error", "table": "layout_error", "svg": "style_error"}[ctx.task]
    out = []
    W, H = ctx.size
    for box in faint_areas(ctx.diff, ctx.regions):
        x0, y0, x1, y1 = box
        a = ctx.al.ref[y0:y1, x0:x1].reshape(-1, 3).astype(float).mean(axis=0)
        b = ctx.al.cand[y0:y1, x0:x1].reshape(-1, 3).astype(float).mean(axis=0)
        de = delta_e_rgb(a, b)
        out.append(Finding(cat, 1, f"{position_name(box, (0, 0, W, H))} area",
                           f"colours or shading differ slightly over a large area (mean colour {hex_of(a)} expected, "
                           f"{hex_of(b)} found, ΔE2000 = {de:.0f})", box, {"delta_e2000": round(de, 1),
                                                                          "faint_area": True}))
    return out


def _frame_findings(ctx: Context) -> list[Finding]:
    al = ctx.al
    cat = {"chart": "structure_error", "table": "layout_error", "svg": "structure_error"}[ctx.task]
    out = []
    sx, sy = al.cand_scale
    stretch = max(sx, sy) / min(sx, sy)  # the candidate had to be distorted to fit: its proportions differ
    if al.aspect_ratio_factor >= EXTREME_ASPECT:
        rw, rh = al.ref_size
        cw, ch = al.cand_size
        out.append(Finding(cat, 3, "whole image",
                           f"content aspect ratio differs by a factor of {al.aspect_ratio_factor:.1f} "
                           f"(reference {rw}x{rh}, candidate {cw}x{ch})", None,
                           {"aspect_ratio_factor": round(al.aspect_ratio_factor, 3)}))
    elif stretch > 1.06:
        out.append(Finding(cat, 1, "whole image",
                           f"content proportions differ ({(stretch - 1) * 100:.0f} % in aspect ratio)",
                           None, {"aspect_ratio_factor": round(stretch, 3)}))
    de = delta_e_rgb(al.ref_background, al.cand_background)
    if de >= 6:  # the canvas itself is painted differently: every pixel of empty space differs
        style = {"chart": "style_error", "table": "layout_error", "svg": "style_error"}[ctx.task]
        sev = 1 if de < 12 else (2 if de < 35 else 3)
        out.append(Finding(style, sev, "background",
                           f"background {describe_colour(al.ref_background)} expected, "
                           f"{describe_colour(al.cand_background)} found, ΔE2000 = {de:.0f}", None,
                           {"expected": hex_of(al.ref_background), "found": hex_of(al.cand_background),
                            "delta_e2000": round(de, 1)}))
    return out


# ----------------------------------------------------------------------------------------- evidence

def _resampled(al: Alignment) -> bool:
    sx, sy = al.cand_scale
    return abs(sx - 1) > 0.002 or abs(sy - 1) > 0.002 or al.work_scale != 1.0


def _evidence_fn(ctx: Context) -> Callable[[Sequence[float]], float]:
    """Strongly differing pixels inside a box, per pixel of box height (~ letters' worth of changed ink).

    Same-scale pairs use the unblurred envelope difference (exact, yet blind to sub-pixel shifts);
    resampled pairs the noise-tolerant map the regions come from. The map is built on the first call (many
    pairs never ask).
    """
    table: list[np.ndarray] = []

    def evidence(box: Sequence[float]) -> float:
        if not table:
            table.append(_evidence_integral(ctx))
        integral = table[0]
        H, W = integral.shape[0] - 1, integral.shape[1] - 1
        x0, y0 = max(0, int(box[0]) - 1), max(0, int(box[1]) - 1)
        x1, y1 = min(W, int(np.ceil(box[2])) + 1), min(H, int(np.ceil(box[3])) + 1)
        if x1 <= x0 or y1 <= y0:
            return 0.0
        n = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
        return float(n) / float(max(6, min(x1 - x0, y1 - y0)))

    return evidence


def _evidence_integral(ctx: Context) -> np.ndarray:
    """Integral image of the strongly differing pixels :func:`_evidence_fn` counts."""
    if _resampled(ctx.al):  # resampled glyphs differ everywhere a little: only the noise-tolerant map is evidence
        strong = ctx.diff > 60
    else:
        exact = difference_map(ctx.al.ref, ctx.al.cand, blur=0.0, radius=0, method="tolerant")
        quiet = ctx.diff < 28
        if quiet.any() and float((exact[quiet] == 0).mean()) >= 0.995:
            strong = exact > 60  # pixel-identical rendering elsewhere: any changed glyph pixel counts
        else:  # sub-pixel shifts: anti-aliasing differs everywhere, compare within a 1-px envelope
            strong = difference_map(ctx.al.ref, ctx.al.cand, blur=0.0, radius=1) > 90
    H, W = strong.shape
    # int32 (counts of a working frame of at most a few million pixels), summed in place: 3x faster
    integral = np.zeros((H + 1, W + 1), np.int32)
    np.cumsum(strong, axis=0, dtype=np.int32, out=integral[1:, 1:])
    np.cumsum(integral[1:, 1:], axis=1, out=integral[1:, 1:])
    return integral


def _text_mask(ctx: Context, pad: float = 0.25) -> np.ndarray:
    H, W = ctx.diff.shape
    m = np.zeros((H, W), bool)
    for w in list(ctx.ref_words) + list(ctx.cand_words):
        p = pad * w.height
        x0, y0 = max(0, int(w.bbox[0] - p)), max(0, int(w.bbox[1] - p))
        x1, y1 = min(W, int(np.ceil(w.bbox[2] + p))), min(H, int(np.ceil(w.bbox[3] + p)))
        m[y0:y1, x0:x1] = True
    return m


def _consume_text_regions(ctx: Context, diffs: Sequence[TextDifference]) -> None:
    """Regions lying mostly on text are explained by the text stage (or are text-rendering noise)."""
    if not ctx.ref_words and not ctx.cand_words:
        return
    tm = _text_mask(ctx)
    for i, r in enumerate(ctx.regions):
        if i in ctx.consumed:
            continue
        if r.share_on(tm) >= 0.6:
            ctx.consumed.add(i)
    for d in diffs:
        ctx.consume_overlapping(d.bbox, 0.5, pad=3)


# ----------------------------------------------------------------------------------------- colour

def _nearest(colour: Sequence[int] | None, pal: Sequence[PaletteColour]) -> tuple[int, int, int] | None:
    if colour is None:
        return None
    if not pal:
        return tuple(colour)  # type: ignore[return-value]
    best = min(pal, key=lambda p: delta_e_rgb(p.rgb, colour))
    return best.rgb if delta_e_rgb(best.rgb, colour) < 15 else tuple(colour)  # type: ignore[return-value]


def _is_blend_of(found: Sequence[int], expected: Sequence[int], background: Sequence[int]) -> float | None:
    """If ``found`` = alpha * expected + (1 - alpha) * background, return alpha."""
    e, b, f = (np.asarray(v, float) for v in (expected, background, found))
    d = e - b
    dd = float(d @ d)
    if dd < 900:
        return None
    alpha = float((f - b) @ d) / dd
    if not 0.05 < alpha < 0.95:
        return None
    if float(np.abs(b + alpha * d - f).max()) > 14:
        return None
    return alpha


def _colour_findings(ctx: Context, category: str, locate: Callable[[BBox, tuple, tuple], str],
                     severity: Callable[[float, float], int]) -> list[Finding]:
    groups: dict[tuple, list[tuple[int, Region]]] = {}
    for i, r in ctx.unexplained():
        if not r.colour_only or r.ref_colour is None or r.cand_colour is None:
            continue
        a = _nearest(r.ref_colour, ctx.ref_palette)
        b = _nearest(r.cand_colour, ctx.cand_palette)
        groups.setdefault((a, b), []).append((i, r))
    out = []
    W, H = ctx.size
    for (a, b), items in groups.items():
        de = delta_e_rgb(a, b)
        for i, _ in items:
            ctx.consumed.add(i)
        if de < 5 or not _paint_changed(ctx, [r for _, r in items], a, b):
            continue
        box = union_box([r.bbox for _, r in items])
        share = sum(r.area for _, r in items) / float(W * H)
        alpha = _is_blend_of(b, a, ctx.al.ref_background)
        if alpha is not None:
            desc = (f"colour {describe_colour(a)} expected, {describe_colour(b)} found: drawn with about "
                    f"{alpha * 100:.0f} % opacity, ΔE2000 = {de:.0f}")
        else:
            desc = f"colour {describe_colour(a)} expected, {describe_colour(b)} found, ΔE2000 = {de:.0f}"
        if len(items) > 1:
            desc += f" ({len(items)} places)"
        out.append(Finding(category, severity(de, share), locate(box, a, b), desc, box,
                           {"expected": hex_of(a), "found": hex_of(b), "delta_e2000": round(de, 1),
                            **({"opacity": round(alpha, 2)} if alpha is not None else {})}))
    return out


def _paint_changed(ctx: Context, regions: Sequence[Region], a: Sequence[int], b: Sequence[int]) -> bool:
    """Is a recolouring of ``regions`` still there when both images are seen slightly blurred? (see
    :func:`.colour.paint_changed`)"""
    from .colour import paint_changed

    H, W = ctx.diff.shape
    foot = np.zeros((H, W), bool)
    for r in regions:
        x0, y0, x1, y1 = r.bbox
        foot[y0:y1, x0:x1] |= r.mask
    return paint_changed(ctx.al.ref, ctx.al.cand, foot, a, b, ctx.al.ref_background)


def _style_severity(de: float, share: float) -> int:
    if de < 12:
        return 1
    return 2


# ----------------------------------------------------------------------------------------- chart

def _analyse_chart(ctx: Context) -> list[Finding]:
    from .chart import analyse_chart, chart_location, compare_charts, repaired_words, tick_label_status

    al = ctx.al
    ref_l = analyse_chart(al.ref, al.ref_background, ctx.ref_words, ctx.ref_palette)
    cand_l = analyse_chart(al.cand, al.cand_background, ctx.cand_words, ctx.cand_palette)
    # tick numbers OCR garbled ("175" for "17.5") are read as the rest of their axis says
    for words, layout in ((ctx.ref_words, ref_l), (ctx.cand_words, cand_l)):
        fixed = repaired_words(layout)
        if fixed:
            words[:] = [fixed.get((w.text, w.bbox), w) for w in words]
    if ctx.ocr_ok:
        _add_vertical_labels(ctx, ref_l, cand_l)
        _add_tick_strip_words(ctx, ref_l, cand_l)
    scales = tick_label_status(ref_l, cand_l)
    out: list[Finding] = []
    out.extend(compare_charts(ctx, ref_l, cand_l))
    # once the figure's structure changed (chart type, subplots), text that merely moved or changed size
    # follows from it: only what was added, lost or rewritten still counts
    relayout = any(f.category == "structure_error" and f.severity >= 3 for f in out)
    # ---- text
    diffs = _text_diffs(ctx)
    by_loc: dict[str, list[TextDifference]] = {}
    for d in diffs:
        by_loc.setdefault(chart_location(ref_l, d.bbox), []).append(d)
    merged: dict[tuple[str, str, str], list[TextDifference]] = {}
    for loc, ds in by_loc.items():
        if "tick labels" in loc:
            if relayout:  # tick labels that only moved with a new chart type or layout follow from it
                ds = [d for d in ds if d.kind not in ("moved", "resized")]
                if not ds:
                    continue
            tick = _tick_finding(loc, ds, scales.get(loc, "unknown"))
            if tick is not None:
                out.append(tick)
            continue
        for d in ds:
            if relayout and d.kind in ("moved", "resized"):
                continue
            cat = "data_error" if d.numeric and "plot area" in loc else "text_error"
            if d.kind == "resized":
                cat = "style_error"  # the same words at another font size
            if d.kind == "changed":
                out.append(Finding(cat, _text_severity(d, loc), loc, d.describe(), d.bbox, _text_evidence(d)))
            else:  # several labels moved / lost / added in one part of the figure: one error, not one per word
                merged.setdefault((cat, d.kind, loc.split(" (")[0]), []).append(d)
    for (cat, kind, loc), ds in merged.items():
        if len(ds) == 1:
            d = ds[0]
            out.append(Finding(cat, _text_severity(d, loc), chart_location(ref_l, d.bbox), d.describe(), d.bbox,
                               _text_evidence(d)))
        else:
            out.append(_merged_text_finding(cat, kind, loc, ds))
    _consume_text_regions(ctx, diffs)

    # ---- colour
    def locate(box: BBox, a: tuple, b: tuple) -> str:
        for ax in ref_l.axes:
            for s in ax.series:
                if delta_e_rgb(s.colour, a) < 12 and overlap_fraction(box, ax.bbox) > 0.3:
                    return f"{s.label} ({s.kind})"
        return chart_location(ref_l, box)

    out.extend(_colour_findings(ctx, "style_error", locate, _style_severity))
    # ---- what is left
    W, H = ctx.size
    plot_area = sum((a.bbox[2] - a.bbox[0]) * (a.bbox[3] - a.bbox[1]) for a in ref_l.axes) or W * H
    grouped: dict[str, list[Region]] = {}
    for i, r in ctx.unexplained():
        grouped.setdefault(chart_location(ref_l, r.bbox), []).append(r)
        ctx.consumed.add(i)
    for loc, rs in grouped.items():
        box = union_box([r.bbox for r in rs])
        area = sum(r.area for r in rs)
        kinds = sorted({r.kind for r in rs})
        if "plot area" in loc:
            sev = severity_by_share(area / plot_area, 0.01, 0.06)
            out.append(Finding("data_error", sev, loc, _region_text(rs, "marks in the plot differ"), box,
                               {"regions": len(rs), "kinds": kinds}))
        elif any(k in loc for k in ("tick labels", "title", "axis label", "legend")):
            if sum(r.pixels for r in rs) < 0.6 * ref_l.text_height ** 2:
                continue  # less than a letter's worth of difference: rendering noise on text
            out.append(Finding("text_error", 1, loc, _region_text(rs, "text rendering differs (font, size or "
                                                                      "position)"), box, {"regions": len(rs)}))
        else:
            sev = severity_by_share(area / float(W * H), 0.01, 0.05)
            cat = "structure_error" if sev >= 2 else "style_error"
            out.append(Finding(cat, sev, loc, _region_text(rs, "figure elements outside the plot area differ"), box,
                               {"regions": len(rs), "kinds": kinds}))
    name_chart_series(out, ref_l)  # evidence only (strings): the legend label the wording names
    return out


def _add_vertical_labels(ctx: Context, ref_l: Any, cand_l: Any) -> None:
    """OCR the strips left of each y axis (rotated labels) in both images, each with the strips its own
    layout found (narrower tick labels move the label) and the reference's where it found none."""
    ref_boxes = [ax.ylabel_box for ax in ref_l.axes if ax.ylabel_box is not None]
    cand_boxes = [ax.ylabel_box for ax in cand_l.axes if ax.ylabel_box is not None]
    jobs = [(b, ctx.ref_words, ctx.al.ref, ctx.al.ref_background) for b in ref_boxes]
    jobs += [(b, ctx.cand_words, ctx.al.cand, ctx.al.cand_background) for b in (cand_boxes or ref_boxes)]
    for ylabel_box, words, arr, bg in jobs:
        box = tuple(int(round(v)) for v in ylabel_box)
        # horizontal readings of rotated letters are noise: the rotated pass reads the label
        words[:] = [w for w in words if w.vertical or not (box[0] <= w.cx <= box[2] and box[1] <= w.cy <= box[3])]
        got = [w for w in cached_ocr_rotated(arr, box)  # type: ignore[arg-type]
               if w.conf >= MIN_WORD_CONF and len(w.text) >= 2]
        words.extend(plausible_words(arr, bg, got))


def _add_tick_strip_words(ctx: Context, ref_l: Any, cand_l: Any) -> None:
    """Short tick labels the page-wide OCR pass dropped (category labels such as "Q1" under an x axis,
    one-digit numbers beside a y axis): when the reference's axis has fewer than two x (three y) tick words,
    OCR that tick strip of both images (each with its own plot areas) enlarged, then recalibrate the axis."""
    from .chart import recalibrate

    need = [(i, "x") for i, ax in enumerate(ref_l.axes) if len(ax.x_ticks) < 2]
    need += [(i, "y") for i, ax in enumerate(ref_l.axes) if len(ax.y_ticks) < 3]
    if not need:
        return
    th = ref_l.text_height
    for layout, words, arr, bg in ((ref_l, ctx.ref_words, ctx.al.ref, ctx.al.ref_background),
                                   (cand_l, ctx.cand_words, ctx.al.cand, ctx.al.cand_background)):
        H, W = arr.shape[:2]
        own = len(layout.axes) == len(ref_l.axes)
        axes = layout.axes if own else ref_l.axes
        for i, axis in need:
            x0, y0, x1, y1 = axes[i].bbox
            if axis == "x":
                box = (max(0, int(x0 - th)), min(H, int(y1 + 2)), min(W, int(x1 + th)), min(H, int(y1 + 2.3 * th)))
            else:
                # left of the tick marks (about half a letter long)
                box = (max(0, int(x0 - 6 * th)), max(0, int(y0 - th)), max(0, int(x0 - max(4.0, 0.5 * th))),
                       min(H, int(y1 + th)))
            try:
                got = _strip_words(arr, box, block=axis == "y")
            except OcrUnavailable:
                return
            got = plausible_words(arr, bg, got)
            if axis == "y":
                got = [w for w in got if not w.vertical and len(w.text) <= 8]
            if not got:
                continue
            # both images' labels of this strip come from the same enlarged pass (the page pass may have read
            # a tick mark as a digit in one of them): its words replace the page pass's there
            inside = lambda w: box[0] <= w.cx <= box[2] and box[1] <= w.cy <= box[3] and not w.vertical
            words[:] = [w for w in words if not inside(w)] + got
            if own:
                ax = layout.axes[i]
                if axis == "x":
                    ax.x_ticks = [w for w in ax.x_ticks if not inside(w)] + got
                else:
                    ax.y_ticks = [w for w in ax.y_ticks if not inside(w)] + got
                recalibrate(ax)


def _strip_words(arr: np.ndarray, box: tuple[int, int, int, int], block: bool) -> list[Word]:
    """Confident words of a small strip of ``arr``, read 3x enlarged (one block of lines when ``block``)."""
    from .ocr import ocr_block_words, ocr_words

    x0, y0, x1, y1 = box
    if x1 - x0 < 8 or y1 - y0 < 6:
        return []
    crop = Image.fromarray(np.ascontiguousarray(arr[y0:y1, x0:x1]))
    if block:
        big = crop.resize((crop.width * 3, crop.height * 3), Image.LANCZOS)
        try:
            found = [w.scaled(1 / 3) for w in ocr_block_words(big.convert("L"))]
        except OcrUnavailable:
            found = ocr_words(crop, upscale=3.0)
    else:
        found = ocr_words(crop, upscale=3.0)
    return [w.scaled(1.0, 1.0, x0, y0) for w in found if _confident(w)]


def _region_text(rs: Sequence[Region], what: str) -> str:
    kinds = {r.kind for r in rs}
    if kinds == {"missing"}:
        return f"{what}: elements missing"
    if kinds == {"extra"}:
        return f"{what}: unexpected elements"
    return what


def _tick_finding(loc: str, ds: Sequence[TextDifference], scale: str = "unknown") -> Finding | None:
    """Differing tick labels of one axis as one finding. ``scale`` (:func:`.chart.tick_label_status`) says
    whether both images' ticks, read as a consistent number sequence, give the axis the same values: then
    numeric differences are OCR misreadings; when they differ the axis-range finding already says so."""
    numeric = all(d.numeric for d in ds)
    exp = [d.ref_text for d in ds if d.ref_text]
    got = [d.cand_text for d in ds if d.cand_text]
    box = union_box([d.bbox for d in ds])
    if scale in ("same", "differs"):
        # the axis's numbers agree or the axis-range finding covers them: only words still count (OCR
        # fragments of tick marks and legend samples are no words)
        ds = [d for d in ds if not d.numeric and max(sum(c.isalpha() for c in t) for t in (d.ref_text, d.cand_text)) >= 3]
        if not ds:
            return None
        numeric = False
        exp = [d.ref_text for d in ds if d.ref_text]
        got = [d.cand_text for d in ds if d.cand_text]
        box = union_box([d.bbox for d in ds])
    if numeric and len(ds) == 1:  # one inconsistent reading is no evidence of another axis scale
        d = ds[0]
        return Finding("text_error", 1, loc, f"tick label {d.ref_text or 'none'} expected, {d.cand_text or 'none'} "
                       "found", box, {"expected": exp, "found": got})
    if numeric:
        desc = (f"tick values differ (axis scale or limits): {', '.join(exp) or 'none'} expected, "
                f"{', '.join(got) or 'none'} found")
        sev = 2 if len(ds) <= 2 else 3
        return Finding("data_error", sev, loc, desc, box, {"expected": exp, "found": got})
    desc = f"tick labels differ: {', '.join(exp) or 'none'} expected, {', '.join(got) or 'none'} found"
    return Finding("text_error", 2, loc, desc, box, {"expected": exp, "found": got})


_KIND_PHRASE = {"missing": "are missing", "extra": "are unexpected", "moved": "are misplaced",
                "resized": "are drawn at a different size"}


def _merged_text_finding(cat: str, kind: str, loc: str, ds: Sequence[TextDifference]) -> Finding:
    """One finding for several texts of one part of the figure that differ the same way."""
    texts = [d.ref_text or d.cand_text for d in ds]
    shown = ", ".join(f"'{t}'" for t in texts[:6]) + (f" and {len(texts) - 6} more" if len(texts) > 6 else "")
    sev = max(_text_severity(d, loc) for d in ds)
    return Finding(cat, sev, loc, f"{len(ds)} texts {_KIND_PHRASE.get(kind, 'differ')}: {shown}",
                   union_box([d.bbox for d in ds]), {"kind": kind, "texts": texts})


def _text_evidence(d: TextDifference) -> dict:
    ev: dict[str, Any] = {"kind": d.kind, "ocr_confidence": round(d.confidence, 1),
                          "pixel_evidence": round(d.evidence, 4)}
    if d.ref_text:
        ev["expected"] = d.ref_text
    if d.cand_text:
        ev["found"] = d.cand_text
    if d.ref_value is not None and d.cand_value is not None:
        ev["expected_value"] = d.ref_value
        ev["found_value"] = d.cand_value
    return ev


def _text_severity(d: TextDifference, loc: str) -> int:
    if d.kind in ("moved", "resized"):
        return 1
    if d.kind == "changed":
        a, b = d.ref_text, d.cand_text
        if d.numeric and d.ref_value is not None and d.cand_value is not None and d.ref_value != d.cand_value:
            rel = d.relative_error  # another number, a flipped sign included ("-42.4" for "42.4")
            return 3 if rel is not None and rel > 0.5 else 2
        if a.lower() == b.lower() or _alnum(a) == _alnum(b):
            return 1
        if not d.numeric and _one_letter_off(a, b):
            return 1  # a typo ("Mcnth" for "Month"): the label still says the same
        if d.numeric:
            rel = d.relative_error
            return 3 if rel is not None and rel > 0.5 else 2
        return 2
    return 2


def _one_letter_off(a: str, b: str) -> bool:
    """``b`` is ``a`` with one letter replaced, added or dropped (words of four letters or more)."""
    x, y = _alnum(a), _alnum(b)
    if min(len(x), len(y)) < 4 or abs(len(x) - len(y)) > 1 or any(c.isdigit() for c in x + y):
        return False
    import difflib

    ops = [op for op in difflib.SequenceMatcher(None, x, y, autojunk=False).get_opcodes() if op[0] != "equal"]
    return len(ops) == 1 and max(ops[0][2] - ops[0][1], ops[0][4] - ops[0][3]) <= 1


def _alnum(s: str) -> str:
    return "".join(c for c in s.lower() if c.isalnum())


def _text_diffs(ctx: Context, grouping=None, **kw: Any) -> list[TextDifference]:  # type: ignore[no-untyped-def]
    if not ctx.ocr_ok:
        return []
    evidence = _evidence_fn(ctx)
    extra: dict[str, Any] = {"grouping": grouping} if grouping is not None else {}
    extra["confident"] = None  # OCR alone is never evidence: the pixels must differ where the text does
    return compare_text(ctx.ref_words, ctx.cand_words, evidence=evidence, relative_to_noise=True, **extra, **kw)


# ----------------------------------------------------------------------------------------- table

def _analyse_table(ctx: Context) -> list[Finding]:
    from .table import analyse_table, cell_name, compare_tables, group_by_cell, is_grid

    al = ctx.al
    ref_l = analyse_table(al.ref, al.ref_background, ctx.ref_words)
    cand_l = analyse_table(al.cand, al.cand_background, ctx.cand_words)
    out = compare_tables(ctx, ref_l, cand_l)
    if ctx.ocr_ok and is_grid(ref_l) and is_grid(cand_l):
        out.extend(_table_cell_findings(ctx, ref_l, cand_l))
        _consume_text_regions(ctx, [])
    else:
        diffs = _text_diffs(ctx, grouping=group_by_cell(ref_l))
        for d in diffs:
            loc = cell_name(ref_l, d.ref_bbox or d.bbox)
            cat = "numeric_error" if d.numeric or d.ref_value is not None or d.cand_value is not None else "text_error"
            out.append(Finding(cat, _text_severity(d, loc), loc, d.describe(), d.bbox, _text_evidence(d)))
        _consume_text_regions(ctx, diffs)

    def locate(box: BBox, a: tuple, b: tuple) -> str:
        return f"cell shading, {cell_name(ref_l, box)}"

    out.extend(_colour_findings(ctx, "layout_error", locate, lambda de, share: 1))
    grouped: dict[str, list[Region]] = {}
    for i, r in ctx.unexplained():
        grouped.setdefault(cell_name(ref_l, r.bbox), []).append(r)
        ctx.consumed.add(i)
    W, H = ctx.size
    for loc, rs in grouped.items():
        box = union_box([r.bbox for r in rs])
        area = sum(r.area for r in rs)
        sev = severity_by_share(area / float(W * H), 0.01, 0.05)
        out.append(Finding("layout_error", sev, loc, _region_text(rs, "cell content or borders differ"), box,
                           {"regions": len(rs)}))
    name_table_cells(out, ref_l)  # evidence only (strings): the row and column headers the wording names
    return out


def _table_cell_findings(ctx: Context, ref_l: Any, cand_l: Any) -> list[Finding]:
    """Cell-by-cell text of rows and columns matched by content; numbers compared as numbers."""
    from .ocr import parse_number
    from .table import cell_box, cell_grid, cell_name, match_cells
    from .text import TextDifference, normalise_text

    pairs = match_cells(ref_l, cand_l)
    rg, cg = cell_grid(ref_l), cell_grid(cand_l)
    pixel_diff = _crop_differ(ctx)
    out: list[Finding] = []
    same_read: list[tuple[str, Any, Any]] = []  # cells OCR reads alike in both tables
    for ri, ci in pairs.rows:
        if ri is None or ci is None:
            continue
        for rc, cc in pairs.cols:
            if rc is None or cc is None:
                continue
            a, b = rg[ri][rc], cg[ci][cc]
            if normalise_text(a) == normalise_text(b):
                same_read.append((a, cell_box(ref_l, ri, rc), cell_box(cand_l, ci, cc)))
                continue
            rbox, cbox = cell_box(ref_l, ri, rc), cell_box(cand_l, ci, cc)
            ev = pixel_diff(rbox, cbox)
            # a sign OCR reads in one cell only: a minus is a few pixels, so less pixel evidence is needed
            sign_only = a != b and a.lstrip("-−+") == b.lstrip("-−+") != "" and parse_number(a.lstrip("-−+")) is not None
            if ev < (0.1 if sign_only else 0.35):
                continue  # OCR disagrees but the cell looks the same
            va = parse_number(a.replace(" ", "")) if a else None
            vb = parse_number(b.replace(" ", "")) if b else None
            numeric = (va is not None or not a) and (vb is not None or not b) and (va is not None or vb is not None)
            kind = "missing" if not b else ("extra" if not a else "changed")
            d = TextDifference(kind, a, b, rbox, rbox, cbox, numeric, va, vb, 0.0, ev)
            if numeric and va is not None and vb is not None and va == vb:
                desc, sev = f"value {a} expected, written as {b}", 1
            else:
                desc, sev = d.describe(), _text_severity(d, "")
            loc = cell_name(ref_l, rbox)
            out.append(Finding("numeric_error" if numeric else "text_error", sev, loc, desc, rbox, _text_evidence(d)))
            ctx.consume_overlapping(rbox, 0.5, pad=2)
    out.extend(_cell_glyph_findings(ctx, ref_l, same_read, pixel_diff))
    return out


def _cell_glyph_findings(ctx: Context, ref_l: Any, same_read: Sequence[tuple[str, Any, Any]],
                         pixel_diff: Callable[[Sequence[float], Sequence[float]], float]) -> list[Finding]:
    """Cells OCR reads alike whose pixels differ under a difference region: a sign, decimal point or
    confusable letter OCR drops ('-72.5' read as '72.5'). Only a few such cells: a table restyled everywhere
    (another font) is no glyph change."""
    from .ocr import parse_number
    from .table import cell_name

    touched = [(t, rb, cb) for t, rb, cb in same_read if t and any(
        i not in ctx.consumed and overlap_fraction(r.bbox, rb) >= 0.5 for i, r in enumerate(ctx.regions))]
    if not touched or len(touched) > max(2, 0.1 * len(same_read)):
        return []
    out = []
    for text, rbox, cbox in touched:
        ev = pixel_diff(rbox, cbox)
        if ev < 0.7:
            continue
        numeric = parse_number(text.replace(" ", "")) is not None
        out.append(Finding("numeric_error" if numeric else "text_error", 2, cell_name(ref_l, rbox),
                           f"{'value' if numeric else 'text'} '{text}' is drawn with other glyphs (OCR reads both "
                           "alike: a sign, decimal point or confusable letter differs)", rbox,
                           {"kind": "glyphs", "expected": text, "pixel_evidence": round(ev, 4)}))
        ctx.consume_overlapping(rbox, 0.5, pad=2)
    return out


def _crop_differ(ctx: Context) -> Callable[[Sequence[float], Sequence[float]], float]:
    """Compare a box of the reference with a (possibly moved) box of the candidate: strongly differing pixels
    per pixel of box height after the best small shift."""
    al = ctx.al
    exact_mode = not _resampled(al)

    def differ(rbox: Sequence[float], cbox: Sequence[float]) -> float:
        x0, y0, x1, y1 = (int(round(v)) for v in rbox)
        u0, v0, u1, v1 = (int(round(v)) for v in cbox)
        w, h = min(x1 - x0, u1 - u0), min(y1 - y0, v1 - v0)
        if w < 4 or h < 4:
            return 0.0
        a = al.ref[y0 + 2:y0 + h - 1, x0 + 2:x0 + w - 1].astype(np.int16)
        best = None
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                ys, xs = v0 + 2 + dy, u0 + 2 + dx
                if ys < 0 or xs < 0:
                    continue
                b = al.cand[ys:ys + a.shape[0], xs:xs + a.shape[1]].astype(np.int16)
                if b.shape != a.shape:
                    continue
                d = np.abs(a - b).max(axis=2)
                score = float(d.mean())
                if best is None or score < best[0]:
                    best = (score, d, b)
        if best is None:
            return 0.0
        _, d, b = best
        if exact_mode:
            n = int((d > 60).sum())
        else:
            from .diffmap import difference_map

            n = int((difference_map(a.astype(np.uint8), b.astype(np.uint8), blur=1.0, radius=1) > 60).sum())
        return n / float(max(6, h))

    return differ


# ----------------------------------------------------------------------------------------- svg

def _analyse_svg(ctx: Context) -> list[Finding]:
    from .svg import mirrored_context

    mirror = mirrored_context(ctx)
    if mirror is not None:  # compare what is left against the mirrored reference
        finding, ctx = mirror
        return [finding, *_analyse_svg_parts(ctx)]
    return _analyse_svg_parts(ctx)


def _analyse_svg_parts(ctx: Context) -> list[Finding]:
    from .svg import compare_svg, component_findings, svg_location

    # icons are mostly shapes: only confident, letter-like words count as text
    all_words = list(ctx.ref_words) + list(ctx.cand_words)
    ctx.ref_words = _letter_like(ctx.al.ref, ctx.al.ref_background, ctx.ref_words)
    ctx.cand_words = _letter_like(ctx.al.cand, ctx.al.cand_background, ctx.cand_words)
    out: list[Finding] = []
    diffs = _text_diffs(ctx)
    W, H = ctx.size
    content = content_bbox(ctx.al.ref, ctx.al.ref_background) or (0, 0, W, H)
    for d in diffs:
        loc = f"text at the {position_name(d.bbox, content)}"
        if d.kind in ("missing", "extra") and _similar_ink(ctx, d.bbox):
            # the other image has text of about the same extent there, OCR just did not read it the same way
            out.append(Finding("text_symbol_error", 1, loc, f"text '{d.ref_text or d.cand_text}' is drawn differently "
                               "(glyph shapes or spacing)", d.bbox, _text_evidence(d)))
            continue
        out.append(Finding("text_symbol_error", _text_severity(d, loc), loc, d.describe(), d.bbox, _text_evidence(d)))
    _consume_text_regions(ctx, diffs)

    def locate(box: BBox, a: tuple, b: tuple) -> str:
        return f"fill/stroke of the {svg_location(box, tuple(float(v) for v in content))}"

    colour = _colour_findings(ctx, "style_error", locate, _style_severity)
    # shape differences on text that OCR could not read: a changed glyph or symbol
    for i, r in ctx.unexplained():
        if r.colour_only:
            continue
        hits = [w for w in all_words if overlap_fraction(r.bbox, w.bbox) > 0.6]
        readable = hits and (_letter_like(ctx.al.ref, ctx.al.ref_background, hits, min_conf=60)
                             + _letter_like(ctx.al.cand, ctx.al.cand_background, hits, min_conf=60))
        if readable or _glyph_row(ctx, r):
            read = f" (read as {', '.join(repr(w.text) for w in hits[:3])})" if hits else ""
            out.append(Finding("text_symbol_error", 2, f"text at the {position_name(r.bbox, content)}",
                               f"text or symbol glyphs differ{read}", r.bbox, {"pixels": r.pixels}))
            ctx.consumed.add(i)
    shapes = compare_svg(ctx)
    if any(f.category == "structure_error" for f in shapes):
        # the drawing changed as a whole: one large difference area says little, its parts say which
        parts = component_findings(ctx)
        if parts:
            colour, shapes = [], parts
        elif parts is not None:  # every part is where it was, same shape and colour: only edges differ
            places = [f for f in shapes if f.location != "whole composition" and f.bbox is not None]
            colour, shapes = [], [Finding("shape_error", 1, "outlines", "edges differ slightly in "
                                          f"{len(places)} place{'s' if len(places) > 1 else ''} (blur, "
                                          "anti-aliasing or sub-pixel placement)",
                                          union_box([f.bbox for f in places]), {"places": len(places)})] if places else []
    return out + colour + shapes


def _similar_ink(ctx: Context, box: Sequence[float]) -> bool:
    """Both images hold a similar amount of ink inside ``box`` (within 35 %)."""
    from .diffmap import ink_mask

    x0, y0, x1, y1 = (int(round(v)) for v in box)
    a = ink_mask(ctx.al.ref[max(0, y0):y1, max(0, x0):x1], ctx.al.ref_background).sum()
    b = ink_mask(ctx.al.cand[max(0, y0):y1, max(0, x0):x1], ctx.al.cand_background).sum()
    return a > 20 and b > 20 and 0.65 <= b / a <= 1.55


def _glyph_row(ctx: Context, r: Region) -> bool:
    """Does a difference region hold a row of dark, letter-sized marks (text) in either image?"""
    from scipy import ndimage as ndi

    from .colour import channel_distance, chroma_of

    x0, y0, x1, y1 = r.bbox
    H, W = ctx.diff.shape
    pad = 3
    xa, ya, xb, yb = max(0, x0 - pad), max(0, y0 - pad), min(W, x1 + pad), min(H, y1 + pad)
    for arr, bg in ((ctx.al.ref, ctx.al.ref_background), (ctx.al.cand, ctx.al.cand_background)):
        crop = arr[ya:yb, xa:xb]
        dark = (channel_distance(crop, bg) > 150) & (chroma_of(crop) < 25)
        lab, n = ndi.label(dark)
        if n < 2:
            continue
        boxes = [sl for sl in ndi.find_objects(lab) if sl is not None]
        hs = np.array([sl[0].stop - sl[0].start for sl in boxes], float)
        big = [sl for sl, hh in zip(boxes, hs) if hh >= 0.5 * hs.max()]
        if len(big) < 2 or hs.max() < 6 or hs.max() > 0.25 * min(H, W):
            continue  # no letters, or marks far taller than text
        cy = np.array([(sl[0].start + sl[0].stop) / 2 for sl in big])
        widths = np.array([sl[1].stop - sl[1].start for sl in big], float)
        line_like = (yb - ya) <= 2.2 * hs.max() and len(big) <= 12  # one line of text, not a drawing
        if line_like and np.ptp(cy) <= 0.35 * hs.max() and widths.max() <= 1.5 * hs.max():
            return True
    return False


def _letter_like(arr: np.ndarray, background: Sequence[int], words: Sequence[Word], min_conf: float = 75.0) -> list[Word]:
    """Words that look like text: confident, 2+ characters, and made of several separate glyphs."""
    from scipy import ndimage as ndi

    from .diffmap import ink_mask

    out = []
    H, W = arr.shape[:2]
    for w in words:
        if w.conf < min_conf or len(w.text.strip()) < 2:
            continue
        x0, y0 = max(0, int(w.bbox[0])), max(0, int(w.bbox[1]))
        x1, y1 = min(W, int(np.ceil(w.bbox[2]))), min(H, int(np.ceil(w.bbox[3])))
        if x1 - x0 < 3 or y1 - y0 < 3:
            continue
        _, n = ndi.label(ink_mask(arr[y0:y1, x0:x1], tuple(background)))  # type: ignore[arg-type]
        if n >= 2:
            out.append(w)
    return out


# ============================================================================================ guess

def _has_ticks(dm: np.ndarray, box: Sequence[int]) -> bool:
    """Short marks just outside the bottom or left spine, two or more of them (matplotlib-style ticks)."""
    x0, y0, x1, y1 = (int(v) for v in box)
    h, w = dm.shape
    bottom = dm[min(h, y1 + 2):min(h, y1 + 5), x0:x1].any(axis=0) if y1 + 5 <= h else np.zeros(0, bool)
    left = dm[y0:y1, max(0, x0 - 5):max(0, x0 - 2)].any(axis=1) if x0 >= 5 else np.zeros(0, bool)

    def marks(flags: np.ndarray) -> int:
        if flags.size == 0:
            return 0
        d = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
        starts, ends = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
        return int(sum(1 for a, b in zip(starts, ends) if b - a <= 4))

    return marks(bottom) >= 2 or marks(left) >= 2


def _has_grid(arr: np.ndarray, bg: Sequence[int], box: Sequence[int]) -> bool:
    from .chart import AxesInfo, _grid

    ax = AxesInfo(bbox=tuple(float(v) for v in box))  # type: ignore[arg-type]
    _grid(ax, arr, tuple(bg))  # type: ignore[arg-type]
    return ax.h_grid >= 3 or ax.v_grid >= 3


def _looks_like_text_grid(words: Sequence[Word]) -> bool:
    """Three or more lines of words whose left edges line up in two or more columns."""
    from .ocr import group_lines

    lines = [ln for ln in group_lines(words, gap=0.9) if ln.words]
    if len(lines) < 3 or len(words) < 6:
        return False
    th = float(np.median([w.height for w in words]))
    starts = sorted(w.bbox[0] for w in words)
    cols: list[list[float]] = []
    for x in starts:
        if cols and x - cols[-1][-1] <= th:
            cols[-1].append(x)
        else:
            cols.append([x])
    aligned = [c for c in cols if len(c) >= 3]
    return len(aligned) >= 2


def guess_task(img: Image.Image) -> str:
    """"chart", "table" or "svg" for an image alone (used when neither code nor ``--task`` says).

    A ruled grid whose cells hold words is a table; a column or row of tick numbers in arithmetic
    progression beside an empty strip (an axis) is a chart; plot areas (spines or a filled background)
    with tick marks or grid lines, in an image with text, are a chart; rows of words in aligned columns
    are a borderless table; a disc cut into coloured wedges (a pie) or several words with numbers next
    to large coloured areas (a labelled diagram) a chart; the rest an icon / drawing (svg).
    """
    from ...imageio import to_rgb
    from .align import working_size
    from .colour import as_array, background_colour, chroma_of
    from .lines import dark_mask, find_axes_boxes, find_rules

    img = to_rgb(img)
    s, size = working_size(img.size, 800, 300)
    work = img.resize(size, Image.BILINEAR) if size != img.size else img
    arr = as_array(work)
    bg = background_colour(arr)
    h, w = arr.shape[:2]
    dm = dark_mask(arr, bg, min_contrast=40)
    hr = [r for r in find_rules(dm, horizontal=True, min_len=max(12, int(0.08 * w)))]
    vr = [r for r in find_rules(dm, horizontal=False, min_len=max(8, int(0.03 * h)))]
    words = _guess_words(img, s)
    if len([r for r in hr if r.length >= 0.25 * w]) >= 3 and len(vr) >= 3:
        inside = _words_in_grid(words, hr, vr)
        if inside >= 6 and inside >= 0.6 * len(words):  # a chart's tick labels lie outside its grid
            return "table"
    if _has_tick_scale(words):
        return "chart"
    axes = [b for b in find_axes_boxes(arr, bg)
            if (b[2] - b[0]) >= 0.25 * w and (b[3] - b[1]) >= 0.2 * h and (b[2] - b[0]) * (b[3] - b[1]) >= 0.1 * w * h
            and (_has_ticks(dm, b) or _has_grid(arr, bg, b))]
    if axes and len(words) >= 2:  # a framed icon has box edges but (almost) no text
        return "chart"
    if _looks_like_text_grid(words):
        return "table"
    if _is_pie(arr, bg):
        return "chart"
    chromatic = float((chroma_of(arr) > 40).mean())
    if len(words) >= 4 and chromatic > 0.08 and sum(any(c.isdigit() for c in w.text) for w in words) >= 3:
        return "chart"
    return "svg"


def _has_tick_scale(words: Sequence[Word]) -> bool:
    """Three or more numbers stacked in a column (right edges aligned) or in a row, evenly spaced in value
    along their position (tick labels), with no other text on their lines just beside them (a table's
    number column has neighbouring cells)."""
    from .chart import fit_tick_values
    from .ocr import parse_number

    nums = [wd for wd in words if parse_number(wd.text) is not None]
    if len(nums) < 3:
        return False
    th = float(np.median([wd.height for wd in words]))
    for vertical in (True, False):
        key = (lambda wd: wd.bbox[2]) if vertical else (lambda wd: wd.cy)
        for group in _clusters(sorted(nums, key=key), key, 0.6 * th):
            if len(group) < 3:
                continue
            cal, _ = fit_tick_values([(wd.cy if vertical else wd.cx, wd.text) for wd in group],
                                          decreasing=vertical)
            if cal is None:
                continue
            if vertical:
                beside = sum(1 for g in group if any(o is not g and abs(o.cy - g.cy) < 0.5 * th
                                                     and 0 < o.bbox[0] - g.bbox[2] < 4 * th for o in words))
                if beside > 0.5 * len(group):
                    continue
            else:  # a row of numbers: the ticks of an x axis lie on one line with nothing between them
                xs = sorted(g.cx for g in group)
                if any(o not in group and abs(o.cy - group[0].cy) < 0.5 * th and xs[0] < o.cx < xs[-1]
                       for o in words):
                    continue
            return True
    return False


def _clusters(items: Sequence[Word], key: Callable[[Word], float], tol: float) -> list[list[Word]]:
    """Consecutive items (sorted by ``key``) whose keys lie within ``tol`` of the previous one."""
    out: list[list[Word]] = []
    for it in items:
        if out and key(it) - key(out[-1][-1]) <= tol:
            out[-1].append(it)
        else:
            out.append([it])
    return out


def _is_pie(arr: np.ndarray, bg: Sequence[int]) -> bool:
    """The largest painted shape is a disc (round outline, filled) cut into three or more coloured wedges."""
    from scipy import ndimage as ndi

    from .colour import channel_distance, chroma_of

    ink = channel_distance(arr, tuple(bg)) > 40  # type: ignore[arg-type]
    from .morphology import close_

    lab, n = ndi.label(close_(ink, iterations=2) | ink)
    if n == 0:
        return False
    sizes = np.bincount(lab.ravel())[1:]
    k = int(np.argmax(sizes)) + 1
    sl = ndi.find_objects(lab)[k - 1]
    bh, bw = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
    h, w = arr.shape[:2]
    if min(bh, bw) < 0.2 * min(h, w) or not 0.85 <= bh / bw <= 1.18:
        return False
    fill = sizes[k - 1] / float(bh * bw)
    if not 0.72 <= fill <= 0.86:  # pi / 4 for a disc; an icon's frame fills its box, a ring much less
        return False
    px = arr[lab == k]
    px = px[chroma_of(px[None])[0] > 30]
    if px.shape[0] < 0.5 * sizes[k - 1]:
        return False
    q = (px // 32).astype(np.int32)
    codes = q[:, 0] * 64 + q[:, 1] * 8 + q[:, 2]
    counts = np.bincount(codes)
    return int((counts >= 0.06 * px.shape[0]).sum()) >= 3


def _guess_words(img: Image.Image, scale: float) -> list[Word]:
    try:
        return [w.scaled(scale) for w in cached_ocr(img) if w.conf >= 60 and len(w.text) >= 1]
    except OcrUnavailable:
        return []


def _words_in_grid(words: Sequence[Word], hr: Sequence[Any], vr: Sequence[Any]) -> int:
    """Words lying inside the extent of the ruled grid."""
    x0 = min(r.start for r in hr)
    x1 = max(r.end for r in hr)
    y0 = min(r.pos for r in hr)
    y1 = max(r.pos for r in hr)
    return sum(1 for wd in words if x0 <= wd.cx <= x1 and y0 <= wd.cy <= y1)
