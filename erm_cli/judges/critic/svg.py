"""SVG / icon analysis: components that are missing, extra, moved, deformed or restroked, and composition.

Works on the difference regions of the aligned pair (the critic has already explained text and pure
colour changes): each remaining region is a shape difference; a missing and an extra region of the same
size and colour are one moved component; a large share of changed area is a composition (structure) error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

from .colour import delta_e_rgb, describe_colour
from .diffmap import Region
from .findings import BBox, Context, Finding, centre, position_name, severity_by_share, union_box
from .lines import box_iou, stroke_width
from .morphology import dilate, erode


def shape_word(mask: np.ndarray) -> str:
    """A rough name for a blob: circle, rectangle, line, or shape."""
    if mask.size == 0 or not mask.any():
        return "shape"
    ys, xs = np.nonzero(mask)
    h, w = int(np.ptp(ys)) + 1, int(np.ptp(xs)) + 1
    fill = ys.size / float(h * w)
    aspect = max(h, w) / max(1, min(h, w))
    if aspect > 5:
        return "line"
    if fill > 0.9:
        return "rectangle"
    if 0.7 < fill <= 0.9 and aspect < 1.3:
        return "circle"
    if fill < 0.35:
        return "outline"
    return "shape"


def svg_location(box: BBox, content: BBox) -> str:
    return f"{position_name(box, content)} shape"


def _content(ctx: Context) -> BBox:
    from .align import content_bbox

    cb = content_bbox(ctx.al.ref, ctx.al.ref_background)
    W, H = ctx.size
    return tuple(float(v) for v in cb) if cb else (0.0, 0.0, float(W), float(H))  # type: ignore[return-value]


def compare_svg(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    content = _content(ctx)
    carea = max(1.0, (content[2] - content[0]) * (content[3] - content[1]))
    geo = [(i, r) for i, r in ctx.unexplained() if not r.colour_only]
    # moved: a missing and an extra region of similar ink and colour
    missing = [(i, r) for i, r in geo if r.kind == "missing"]
    extra = [(i, r) for i, r in geo if r.kind == "extra"]
    used: set[int] = set()
    for i, m in missing:
        best = None
        for j, e in extra:
            if j in used:
                continue
            ratio = e.cand_ink / max(1.0, m.ref_ink)
            same_colour = (m.ref_colour is None or e.cand_colour is None
                           or delta_e_rgb(m.ref_colour, e.cand_colour) < 12)
            if 0.6 < ratio < 1.6 and same_colour:
                d = np.hypot(*(np.subtract(centre(m.bbox), centre(e.bbox))))
                if best is None or d < best[0]:
                    best = (d, j, e)
        if best is not None:
            d, j, e = best
            used.update({i, j})
            W, H = ctx.size
            share = d / max(1.0, np.hypot(content[2] - content[0], content[3] - content[1]))
            box = union_box([m.bbox, e.bbox])
            name = shape_word(m.mask)
            out.append(Finding("shape_error", severity_by_share(share, 0.05, 0.2), svg_location(m.bbox, content),
                               f"{name} moved by {share * 100:.0f} % of the canvas diagonal "
                               f"(towards the {position_name(e.bbox, content)})", box,
                               {"shift_share": round(float(share), 4)}))
            ctx.consumed.update({i, j})
    total_geo = 0.0
    for i, r in geo:
        if i in used:
            continue
        share = r.area / carea
        total_geo += r.area
        loc = svg_location(r.bbox, content)
        kind = r.kind
        colour = r.ref_colour if kind != "extra" else r.cand_colour
        col = f" ({describe_colour(colour)})" if colour is not None else ""
        name = shape_word(r.mask)
        sev = severity_by_share(share, 0.01, 0.08)
        if kind in ("extra", "missing") and _stroke_change(ctx, r):
            ratio = r.cand_ink / max(1.0, r.ref_ink)
            f = Finding("style_error", 1 if sev == 1 else 2, loc,
                        f"stroke width differs ({'thicker' if kind == 'extra' else 'thinner'} outline"
                        f"{col})", r.bbox, {"ink_ratio": round(ratio, 3)})
        elif kind == "missing":
            f = Finding("shape_error", max(2, sev), loc, f"{name}{col} missing from the candidate", r.bbox)
        elif kind == "extra":
            f = Finding("shape_error", max(1, sev), loc, f"unexpected extra {name}{col}", r.bbox)
        elif kind == "changed" and (sm := _shift_match(ctx, r)) is not None and sm[2] >= 0.75 \
                and np.hypot(sm[0], sm[1]) >= 4:
            diag = max(1.0, np.hypot(content[2] - content[0], content[3] - content[1]))
            share = float(np.hypot(sm[0], sm[1])) / diag
            f = Finding("shape_error", severity_by_share(share, 0.05, 0.2), loc,
                        f"{name}{col} moved by {share * 100:.0f} % of the canvas diagonal "
                        f"({sm[0]:+.0f}, {sm[1]:+.0f} px)", r.bbox, {"shift_share": round(share, 4)})
        elif kind == "changed" and _stroke_change(ctx, r):
            f = Finding("style_error", 1 if sev == 1 else 2, loc,
                        f"stroke width differs (ink {r.cand_ink / max(1.0, r.ref_ink):.2f}x the reference)", r.bbox,
                        {"ink_ratio": round(r.cand_ink / max(1.0, r.ref_ink), 3)})
        else:
            f = Finding("shape_error", sev, loc, f"{name}{col} deformed or resized "
                        f"(overlap {r.ink_iou * 100:.0f} % of the reference's ink)", r.bbox,
                        {"ink_iou": round(r.ink_iou, 3)})
        f.evidence.setdefault("pixels", r.pixels)
        out.append(f)
        ctx.consumed.add(i)
    out = _merge_strokes(out, [f for f in out if f.category == "style_error"
                               and f.description.startswith("stroke width")])
    moved = sum(1 for f in out if f.category == "shape_error" and "moved" in f.description)
    if total_geo / carea > 0.35 or len([f for f in out if f.category == "shape_error"]) >= 4 or moved >= 2:
        out.append(Finding("structure_error", 3, "whole composition",
                           f"the composition differs: {min(100.0, total_geo / carea * 100):.0f} % of the drawing "
                           "changed", content, {"changed_share": round(total_geo / carea, 3)}))
    return out


def _stroke_change(ctx: Context, r: Region) -> bool:
    """The difference is a band along a thin outline that both images share: a stroke-width change."""
    x0, y0, x1, y1 = r.bbox
    pad = 2
    H, W = ctx.diff.shape
    xa, ya, xb, yb = max(0, x0 - pad), max(0, y0 - pad), min(W, x1 + pad), min(H, y1 + pad)
    from .diffmap import ink_mask

    ri = ink_mask(ctx.al.ref[ya:yb, xa:xb], ctx.al.ref_background)
    ci = ink_mask(ctx.al.cand[ya:yb, xa:xb], ctx.al.cand_background)
    both = ri & ci
    if both.sum() < 20:
        return False
    thin_side = ri if ri.sum() <= ci.sum() else ci
    t = stroke_width(thin_side)  # of the thinner one
    size = max(xb - xa, yb - ya)
    if t > 0.3 * size:
        return False  # a filled shape, not an outline
    # a thicker / thinner stroke moves the outline's extent by about the stroke width, a resize by much more
    thick_side = ci if thin_side is ri else ri
    t2 = stroke_width(thick_side)
    ext = []
    for m in (ri, ci):
        ys, xs = np.nonzero(m)
        ext.append((int(xs.max() - xs.min()), int(ys.max() - ys.min())) if ys.size else (0, 0))
    if max(abs(ext[0][0] - ext[1][0]), abs(ext[0][1] - ext[1][1])) > 1.5 * t2 + 2:
        return False
    xor = ri ^ ci
    near = dilate(both, iterations=int(max(3, round(2.5 * t))))
    if float((xor & near).sum()) < 0.9 * float(xor.sum()) or float(both.sum()) < 0.3 * float(thin_side.sum()):
        return False
    # a width change borders the shared stroke along its length (both sides), a length change only at the ends
    edge = both & ~erode(both)
    touched = edge & dilate(xor, iterations=2)
    return float(touched.sum()) >= 0.5 * float(edge.sum())


def _shift_match(ctx: Context, r: Region) -> tuple[float, float, float] | None:
    """(dx, dy, overlap) when the candidate's ink in a region is the reference's ink translated."""
    from .diffmap import ink_mask

    x0, y0, x1, y1 = r.bbox
    H, W = ctx.diff.shape
    pad = 4
    xa, ya, xb, yb = max(0, x0 - pad), max(0, y0 - pad), min(W, x1 + pad), min(H, y1 + pad)
    a = ink_mask(ctx.al.ref[ya:yb, xa:xb], ctx.al.ref_background).astype(np.float32)
    b = ink_mask(ctx.al.cand[ya:yb, xa:xb], ctx.al.cand_background).astype(np.float32)
    if a.sum() < 30 or b.sum() < 30 or not 0.6 < b.sum() / a.sum() < 1.6:
        return None
    fa, fb = np.fft.rfft2(a), np.fft.rfft2(b)
    corr = np.fft.irfft2(np.conj(fa) * fb, s=a.shape)
    iy, ix = np.unravel_index(int(np.argmax(corr)), corr.shape)
    dy = iy if iy <= a.shape[0] // 2 else iy - a.shape[0]
    dx = ix if ix <= a.shape[1] // 2 else ix - a.shape[1]
    overlap = float(corr[iy, ix]) / float(max(a.sum(), b.sum()))
    return float(dx), float(dy), overlap




def component_findings(ctx: Context) -> list[Finding] | None:
    """Findings from matched painted components, for drawings that changed as a whole.

    None when the drawing does not break into a manageable set of components (gradients, photos).
    """
    from .components import find_components, match_components

    content = _content(ctx)
    cw, ch = content[2] - content[0], content[3] - content[1]
    carea, diag = max(1.0, cw * ch), max(1.0, float(np.hypot(cw, ch)))
    min_area = max(12, int(0.0015 * carea))
    rc = find_components(ctx.al.ref, ctx.al.ref_background, ctx.ref_palette, min_area)
    cc = find_components(ctx.al.cand, ctx.al.cand_background, ctx.cand_palette, min_area)
    if len(rc) > 40 or len(cc) > 40:
        return None
    m = match_components(rc, cc, diag)

    def support(comp: Any) -> float:
        """Share of the part's pixels where the images really differ (low: a resampled edge or frame)."""
        x0, y0, x1, y1 = comp.bbox
        return float((ctx.diff[y0:y1, x0:x1][comp.mask] > 40).mean())

    m.missing = [i for i in m.missing if support(rc[i]) >= 0.3]
    m.extra = [j for j in m.extra if support(cc[j]) >= 0.3]
    out: list[Finding] = []
    moved: list[tuple[int, int, float]] = []
    nudged: list[tuple[Any, Any, float]] = []
    for i, j in m.pairs:
        r, c = rc[i], cc[j]
        if max(support(r), support(c)) < 0.02:
            continue
        loc = svg_location(r.bbox, content)
        name = shape_word(r.mask)
        shift = float(np.hypot(r.centroid[0] - c.centroid[0], r.centroid[1] - c.centroid[1])) / diag
        if shift > 0.04:
            moved.append((i, j, shift))
        de = delta_e_rgb(r.colour, c.colour)
        if de >= 12:
            out.append(Finding("style_error", 2, f"fill/stroke of the {loc}",
                               f"{name} colour {describe_colour(r.colour)} expected, {describe_colour(c.colour)} "
                               f"found, ΔE2000 = {de:.0f}", tuple(float(v) for v in r.bbox),
                               {"delta_e2000": round(de, 1)}))
        ratio = c.area / max(1, r.area)
        limit = 2.0 if shift > 0.04 else 1.4  # a part that moved may be covered differently by its neighbours
        overlap, changed = _mask_change(r, c, ctx.diff)
        same_shape = 1 / limit <= ratio <= limit
        if shift <= 0.04 and same_shape and (overlap < 0.8 or changed >= 0.03) and _same_once_centred(r, c, overlap):
            if shift >= 0.01:  # the same shape a few pixels away
                nudged.append((r, c, shift))
        elif shift <= 0.04 and same_shape and (overlap < 0.8 or changed >= 0.03):
            sev = max(2, severity_by_share((1 - overlap) * max(r.area, c.area) / carea, 0.01, 0.08))
            out.append(Finding("shape_error", sev, loc, f"{name} ({describe_colour(r.colour)}) changed shape "
                               f"(outlines overlap {overlap * 100:.0f} %)", tuple(float(v) for v in r.bbox),
                               {"mask_iou": round(overlap, 3)}))
        elif ratio > limit or ratio < 1 / limit:
            width_ratio = stroke_width(c.mask) / max(0.5, stroke_width(r.mask))
            same_extent = 0.8 <= c.extent / max(1.0, r.extent) <= 1.25 and box_iou(r.bbox, c.bbox) > 0.6  # type: ignore[arg-type]
            if same_extent and not 0.75 <= width_ratio <= 1.33:
                out.append(Finding("style_error", 2, loc, f"{name} drawn {'thicker' if ratio > 1 else 'thinner'} "
                                   f"(stroke width {width_ratio:.2f}x the reference)", tuple(float(v) for v in r.bbox),
                                   {"stroke_width_ratio": round(width_ratio, 3), "ink_ratio": round(ratio, 3)}))
            else:
                out.append(Finding("shape_error", 2, loc, f"{name} ({describe_colour(r.colour)}) resized or "
                                   f"deformed (area {ratio:.2f}x the reference)", tuple(float(v) for v in r.bbox),
                                   {"area_ratio": round(ratio, 3)}))
    for i in m.missing:
        r = rc[i]
        sev = max(2, severity_by_share(r.area / carea, 0.01, 0.08))
        out.append(Finding("shape_error", sev, svg_location(r.bbox, content),
                           f"{shape_word(r.mask)} ({describe_colour(r.colour)}) missing from the candidate",
                           tuple(float(v) for v in r.bbox), {"area_share": round(r.area / carea, 4)}))
    for j in m.extra:
        c = cc[j]
        sev = max(1, severity_by_share(c.area / carea, 0.01, 0.08))
        out.append(Finding("shape_error", sev, svg_location(c.bbox, content),
                           f"unexpected extra {shape_word(c.mask)} ({describe_colour(c.colour)})",
                           tuple(float(v) for v in c.bbox), {"area_share": round(c.area / carea, 4)}))
    if len(nudged) == 1:
        r, c, shift = nudged[0]
        out.append(Finding("shape_error", 1, svg_location(r.bbox, content), f"{shape_word(r.mask)} "
                           f"({describe_colour(r.colour)}) shifted slightly ({shift * 100:.1f} % of the canvas "
                           "diagonal)", tuple(float(v) for v in union_box([r.bbox, c.bbox])),
                           {"shift_share": round(shift, 4)}))
    elif nudged:
        out.append(Finding("shape_error", 1, "several parts", f"{len(nudged)} parts shifted slightly (up to "
                           f"{max(n[2] for n in nudged) * 100:.1f} % of the canvas diagonal)",
                           tuple(float(v) for v in union_box([n[0].bbox for n in nudged])),
                           {"parts": len(nudged)}))
    out = _merge_strokes(out, [f for f in out if "stroke_width_ratio" in f.evidence])
    lost = sum(rc[i].area for i in m.missing) / max(1, sum(r.area for r in rc))
    if len(moved) >= 2 or lost > 0.5:
        what = (f"{len(moved)} of {len(rc)} parts moved" if len(moved) >= 2
                else f"{lost * 100:.0f} % of the drawn area is missing")
        out.append(Finding("structure_error", 3, "whole composition", f"the composition differs: {what}",
                           content, {"moved_parts": len(moved), "missing_share": round(lost, 3)}))
    else:
        for i, j, shift in moved:
            r, c = rc[i], cc[j]
            out.append(Finding("shape_error", severity_by_share(shift, 0.05, 0.2), svg_location(r.bbox, content),
                               f"{shape_word(r.mask)} ({describe_colour(r.colour)}) moved by {shift * 100:.0f} % of "
                               f"the canvas diagonal", tuple(float(v) for v in union_box([r.bbox, c.bbox])),
                               {"shift_share": round(shift, 4)}))
    return out


def mirrored_context(ctx: Context) -> tuple[Finding, Context] | None:
    """When the candidate is the reference mirrored (left-right or upside down), a structure finding and a
    context that compares the candidate with the mirrored reference (so other differences still show)."""
    import dataclasses

    from .diffmap import diff_regions, ink_mask

    content = _content(ctx)
    carea = max(1.0, (content[2] - content[0]) * (content[3] - content[1]))
    if sum(r.area for r in ctx.regions) < 0.15 * carea:
        return None
    al = ctx.al
    ri, ci = ink_mask(al.ref, al.ref_background), ink_mask(al.cand, al.cand_background)

    def iou(a: np.ndarray, b: np.ndarray) -> float:  # at half resolution, within a pixel
        return _iou(dilate(a[::2, ::2]), dilate(b[::2, ::2]))

    base = iou(ri, ci)
    best: tuple[float, str, int] | None = None
    for name, axis in (("left-right", 1), ("upside down", 0)):
        score = iou(np.flip(ri, axis=axis), ci)
        if score >= 0.7 and score >= base + 0.25 and (best is None or score > best[0]):
            best = (score, name, axis)
    if best is None:
        return None
    score, name, axis = best
    flipped = np.ascontiguousarray(np.flip(al.ref, axis=axis))
    al2 = dataclasses.replace(al, ref=flipped)
    diff, regions = diff_regions(flipped, al.cand, al.ref_background, al.cand_background, blur=ctx.diff_blur,
                                 radius=ctx.diff_radius)
    # mirrored glyphs do not read as text: the mirrored pair is compared by its shapes alone
    ctx2 = Context(task=ctx.task, al=al2, diff=diff, regions=regions, ref_words=[], cand_words=[],
                   ref_palette=ctx.ref_palette, cand_palette=ctx.cand_palette, ocr_ok=ctx.ocr_ok,
                   diff_blur=ctx.diff_blur, diff_radius=ctx.diff_radius)
    finding = Finding("structure_error", 3, "whole composition", f"the drawing is mirrored {name}", content,
                      {"mirrored_overlap": round(score, 3), "direct_overlap": round(base, 3)})
    return finding, ctx2


def _on_one_canvas(a: Any, b: Any, shift: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, np.ndarray, BBox]:
    """Two components' masks pasted where they lie (``b`` moved by ``shift``) on their union box."""
    bb = (b.bbox[0] + shift[0], b.bbox[1] + shift[1], b.bbox[2] + shift[0], b.bbox[3] + shift[1])
    x0, y0 = min(a.bbox[0], bb[0]), min(a.bbox[1], bb[1])
    x1, y1 = max(a.bbox[2], bb[2]), max(a.bbox[3], bb[3])
    ma = np.zeros((y1 - y0, x1 - x0), bool)
    mb = np.zeros_like(ma)
    ma[a.bbox[1] - y0:a.bbox[3] - y0, a.bbox[0] - x0:a.bbox[2] - x0] = a.mask
    mb[bb[1] - y0:bb[3] - y0, bb[0] - x0:bb[2] - x0] = b.mask
    return ma, mb, (x0, y0, x1, y1)


def _iou(ma: np.ndarray, mb: np.ndarray) -> float:
    return float((ma & mb).sum()) / max(1.0, float((ma | mb).sum()))


def _mask_change(a: Any, b: Any, diff: np.ndarray) -> tuple[float, float]:
    """Overlap of two components' masks where they lie (intersection over union), and the share of their
    union that is in one mask only where the images really differ (an outline that changed shape)."""
    ma, mb, (x0, y0, x1, y1) = _on_one_canvas(a, b)
    union = max(1.0, float((ma | mb).sum()))
    real = (ma ^ mb) & (diff[y0:y1, x0:x1] > 40)
    return _iou(ma, mb), float(real.sum()) / union


def _same_once_centred(a: Any, b: Any, overlap: float, min_iou: float = 0.85) -> bool:
    """Do two components' masks agree once their centroids are put on top of each other, clearly better than
    where they lie (``overlap``)? Then the part was displaced, not reshaped."""
    shift = (int(round(a.centroid[0] - b.centroid[0])), int(round(a.centroid[1] - b.centroid[1])))
    centred = _iou(*_on_one_canvas(a, b, shift)[:2])
    return centred >= min_iou and centred >= overlap + 0.1


def _merge_strokes(out: list[Finding], strokes: list[Finding]) -> list[Finding]:
    """Two or more stroke-width findings are one: a stroke width applied to the whole drawing."""
    if len(strokes) < 2:
        return out
    return [f for f in out if f not in strokes] + [
        Finding("style_error", max(f.severity for f in strokes), "outlines",
                f"stroke width differs in {len(strokes)} places ({', '.join(sorted({f.location for f in strokes}))})",
                union_box([f.bbox for f in strokes if f.bbox is not None]), {"places": len(strokes)})]
