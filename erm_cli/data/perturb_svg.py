"""SVG perturbations on an :class:`~erm_cli.data.svgs.SvgDoc`, each with its gold label.

Categories follow Visual-ERM's SVG taxonomy: ``shape_error`` (geometry, missing or extra
components), ``style_error`` (fill, stroke, opacity, stroke width), ``structure_error`` (composition:
where the parts sit, their layer order) and ``text_symbol_error`` (text and glyphs). Regions come
from the element's bounding box before and after the change.
"""

from __future__ import annotations

import math
import random
import xml.etree.ElementTree as ET

from .colors import PALETTES, colour_severity, pick_different, to_hex
from .perturbation import (
    Edit,
    PerturbationInfo,
    make_typo,
    pad_region,
    quote,
    registry,
    severity_from_ratio,
    union_region,
)
from .svg_geometry import Box, area, intersection, local_name, path_points, path_tokens
from .svgs import BADGE_TEXTS, LABEL, LABELS, SVG_NS, SvgDoc, _el, _fmt

AA_PAD = 0.012  # antialiasing margin around a region (fraction of the image)


def _key(doc: SvgDoc, el: ET.Element) -> str:
    """A stable key: the element's chain of private ids from the root ("e3.e7"), so an edit on a group
    conflicts with edits on its parts, and deleting or reordering elements never renames another one."""
    parents = doc.parents()
    chain = []
    node = el
    while node is not doc.root:
        chain.append(f"e{doc.element_id(node)}")
        node = parents[node]
    return ".".join(reversed(chain))


def _region(doc: SvgDoc, *boxes: Box | None):  # type: ignore[no-untyped-def]
    r = None
    for b in boxes:
        r = union_region(r, doc.fraction(b))
    return pad_region(r, AA_PAD)


def _canvas(doc: SvgDoc) -> float:
    _, _, w, h = doc.viewbox
    return max(w, h)


def _pick(doc: SvgDoc, rng: random.Random, pred) -> ET.Element | None:  # type: ignore[no-untyped-def]
    parents = doc.parents()
    cands = [el for el in doc.drawables() if pred(el, parents)]
    return rng.choice(cands) if cands else None


def _visible(doc: SvgDoc, el: ET.Element, parents) -> bool:  # type: ignore[no-untyped-def]
    b = doc.bbox(el, parents)
    return (
        b is not None and area(b) > 0.5 or (b is not None and local_name(el) in ("line", "polyline", "path"))
    )


def _top_level(doc: SvgDoc, el: ET.Element) -> bool:
    return el in list(doc.root)


def _prepend_transform(el: ET.Element, t: str) -> None:
    old = el.get("transform")
    el.set("transform", f"{t} {old}" if old else t)


# ------------------------------------------------------------------------------- geometry


def move(doc: SvgDoc, rng: random.Random) -> Edit | None:
    el = _pick(doc, rng, lambda e, p: _visible(doc, e, p))
    if el is None:
        return None
    parents = doc.parents()
    before = doc.bbox(el, parents)
    size = _canvas(doc)
    target = rng.choice((1, 2, 3))
    dist = (
        size * {1: rng.uniform(0.025, 0.04), 2: rng.uniform(0.07, 0.11), 3: rng.uniform(0.16, 0.25)}[target]
    )
    if before is None:
        return None
    vx, vy, vw, vh = doc.viewbox
    for _ in range(12):  # a direction that keeps the element on the canvas (a shape pushed off it is missing)
        ang = rng.uniform(0, 2 * math.pi)
        dx, dy = dist * math.cos(ang), dist * math.sin(ang)
        moved = (before[0] + dx, before[1] + dy, before[2] + dx, before[3] + dy)
        if _on_canvas_share(moved, (vx, vy, vx + vw, vy + vh)) >= 0.9:
            break
    else:
        return None
    # express the shift in the element's parent space
    m = doc.ctm(parents[el], parents) if parents.get(el) is not doc.root else (1, 0, 0, 1, 0, 0)
    det = m[0] * m[3] - m[1] * m[2] or 1.0
    ldx, ldy = (m[3] * dx - m[2] * dy) / det, (-m[1] * dx + m[0] * dy) / det
    _prepend_transform(el, f"translate({_fmt(ldx)} {_fmt(ldy)})")
    after = doc.bbox(el, doc.parents())
    label = doc.label(el, parents)
    sev = severity_from_ratio(dist / size, 0.05, 0.13)
    direction = (
        ("right" if dx > abs(dy) * 0.5 else "left" if -dx > abs(dy) * 0.5 else "")
        + (" and " if abs(dx) > abs(dy) * 0.5 and abs(dy) > abs(dx) * 0.5 else "")
        + ("down" if dy > abs(dx) * 0.5 else "up" if -dy > abs(dx) * 0.5 else "")
    )
    cat = "structure_error" if _top_level(doc, el) else "shape_error"
    return Edit(
        "svg.move",
        cat,
        sev,
        label,
        f"{label} is shifted {direction.strip()} by about {dist / size:.0%} of the canvas.",
        _key(doc, el),
        _region(doc, before, after),
        {"dx": round(dx, 2), "dy": round(dy, 2)},
    )


def _on_canvas_share(box: Box, canvas: Box) -> float:
    """Share of a box's area inside the canvas."""
    full = area(box)
    return intersection(box, canvas) / full if full > 0 else 1.0


def _opacity(doc: SvgDoc, el: ET.Element, parents) -> float:  # type: ignore[no-untyped-def]
    """Product of the opacities of the element and its ancestors."""
    value, node = 1.0, el
    while node is not None:
        for attr in ("opacity", "fill-opacity"):
            try:
                value *= float(node.get(attr, "1"))
            except ValueError:
                pass
        node = parents.get(node)
    return value


def _centre(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _about_centre(doc: SvgDoc, el: ET.Element, op: str) -> str:
    """A transform string applying ``op`` about the element's centre, in its parent's space."""
    parents = doc.parents()
    box = doc.bbox(el, parents)
    assert box is not None
    cx, cy = _centre(box)
    p = parents.get(el)
    m = doc.ctm(p, parents) if p is not None and p is not doc.root else (1, 0, 0, 1, 0, 0)
    det = m[0] * m[3] - m[1] * m[2] or 1.0
    lx = (m[3] * (cx - m[4]) - m[2] * (cy - m[5])) / det
    ly = (-m[1] * (cx - m[4]) + m[0] * (cy - m[5])) / det
    return f"translate({_fmt(lx)} {_fmt(ly)}) {op} translate({_fmt(-lx)} {_fmt(-ly)})"


def scale(doc: SvgDoc, rng: random.Random) -> Edit | None:
    el = _pick(doc, rng, lambda e, p: _visible(doc, e, p) and area(doc.bbox(e, p)) > 4)
    if el is None:
        return None
    parents = doc.parents()
    before = doc.bbox(el, parents)
    factor = rng.choice((0.6, 0.75, 0.9, 1.1, 1.3, 1.5))
    _prepend_transform(el, _about_centre(doc, el, f"scale({factor:g})"))
    after = doc.bbox(el, doc.parents())
    label = doc.label(el, parents)
    sev = severity_from_ratio(abs(1 - factor), 0.12, 0.3)
    cat = "text_symbol_error" if local_name(el) == "text" else "shape_error"
    return Edit(
        "svg.scale",
        cat,
        sev,
        label,
        f"{label} is {'larger' if factor > 1 else 'smaller'} than in the reference (about {factor:.0%} of its "
        "size).",
        _key(doc, el),
        _region(doc, before, after),
        {"factor": factor},
    )


def rotate(doc: SvgDoc, rng: random.Random) -> Edit | None:
    el = _pick(doc, rng, lambda e, p: _visible(doc, e, p) and local_name(e) not in ("text", "circle"))
    if el is None:
        return None
    parents = doc.parents()
    before = doc.bbox(el, parents)
    angle = rng.choice((8, -8, 20, -25, 45, 90, 180))
    _prepend_transform(el, _about_centre(doc, el, f"rotate({angle})"))
    after = doc.bbox(el, doc.parents())
    label = doc.label(el, parents)
    sev = severity_from_ratio(abs(angle) / 100, 0.12, 0.4)
    return Edit(
        "svg.rotate",
        "shape_error",
        sev,
        label,
        f"{label} is rotated by {abs(angle)}° {'clockwise' if angle > 0 else 'counter-clockwise'}.",
        _key(doc, el),
        _region(doc, before, after),
        {"angle": angle},
    )


def delete(doc: SvgDoc, rng: random.Random) -> Edit | None:
    el = _pick(
        doc, rng, lambda e, p: _visible(doc, e, p) and not (local_name(e) == "g" and len(list(doc.root)) < 2)
    )
    if el is None:
        return None
    parents = doc.parents()
    box = doc.bbox(el, parents)
    label = doc.label(el, parents)
    key = _key(doc, el)
    _, _, w, h = doc.viewbox
    frac = area(box) / (w * h)
    parents[el].remove(el)
    if local_name(el) == "text":
        return Edit(
            "svg.delete",
            "text_symbol_error",
            2,
            label,
            f"{label} ({quote(''.join(el.itertext()))}) is missing.",
            key,
            _region(doc, box),
        )
    sev = severity_from_ratio(frac, 0.015, 0.1)
    return Edit(
        "svg.delete",
        "shape_error",
        sev,
        label,
        f"{label} is missing.",
        key,
        _region(doc, box),
        {"area_fraction": round(frac, 4)},
    )


def add_shape(doc: SvgDoc, rng: random.Random) -> Edit | None:
    """An extraneous component: a small dot, bar or ring that the reference does not have."""
    x, y, w, h = doc.viewbox
    s = max(w, h)
    r = s * rng.choice((0.03, 0.05, 0.08))
    cx, cy = x + w * rng.uniform(0.15, 0.85), y + h * rng.uniform(0.15, 0.85)
    color = rng.choice(PALETTES["tab10"])
    kind = rng.choice(("circle", "rect", "ring"))
    if kind == "circle":
        el = _el("circle", "Extra dot", cx=_fmt(cx), cy=_fmt(cy), r=_fmt(r), fill=color)
    elif kind == "rect":
        el = _el(
            "rect",
            "Extra bar",
            x=_fmt(cx - r * 1.5),
            y=_fmt(cy - r / 2),
            width=_fmt(r * 3),
            height=_fmt(r),
            fill=color,
        )
    else:
        el = _el(
            "circle",
            "Extra ring",
            cx=_fmt(cx),
            cy=_fmt(cy),
            r=_fmt(r),
            fill="none",
            stroke=color,
            stroke_width=_fmt(r / 3),
        )
    doc.root.append(el)
    key = _key(doc, el)
    box = doc.bbox(el)
    frac = area(box) / (w * h)
    pos = doc.position_word(el)
    return Edit(
        "svg.add_shape",
        "shape_error",
        1 if frac < 0.012 else 2,
        f"Extra {kind if kind != 'rect' else 'bar'} ({pos})",
        f"An extraneous {'ring' if kind == 'ring' else kind} that the reference does not have "
        f"appears at the {pos}.",
        key,
        _region(doc, box),
    )


def deform_path(doc: SvgDoc, rng: random.Random) -> Edit | None:
    el = _pick(doc, rng, lambda e, p: local_name(e) == "path" and len(e.get("d", "")) > 10)
    if el is None:
        return None
    d = el.get("d", "")
    try:
        toks = [t for t in path_tokens(d) if t[4] >= 0 and not (t[3].upper() == "A" and t[4] < 5)]
        before_pts = path_points(d)
    except (ValueError, AssertionError, IndexError):
        return None
    if len(toks) < 2:
        return None
    parents = doc.parents()
    m = doc.ctm(el, parents)
    unit = (abs(m[0] * m[3] - m[1] * m[2])) ** 0.5 or 1.0  # local -> canvas scale
    size = _canvas(doc)
    target = rng.choice((1, 2, 3))
    amount = size * {1: 0.02, 2: 0.05, 3: 0.11}[target] / unit
    chosen = sorted(
        rng.sample(range(len(toks)), min(len(toks), rng.choice((1, 2, 3)))), key=lambda i: toks[i][1]
    )
    out, last = [], 0
    for i in chosen:
        text, start, end, _, _ = toks[i]
        new = float(text) + amount * rng.choice((-1, 1)) * rng.uniform(0.7, 1.0)
        out.append(d[last:start])
        s = _fmt(new)
        if start > 0 and d[start - 1] not in " ,MLHVCSQTAZmlhvcsqtaz" and not s.startswith("-"):
            s = " " + s
        if end < len(d) and d[end] in ".0123456789":
            s = s + " "
        out.append(s)
        last = end
    out.append(d[last:])
    new_d = "".join(out)
    try:
        after_pts = path_points(new_d)
    except (ValueError, AssertionError, IndexError):
        return None
    if len(after_pts) != len(before_pts):
        return None
    shift = max(math.dist(a, b) for a, b in zip(before_pts, after_pts)) * unit
    if shift == 0:
        return None
    before = doc.bbox(el, parents)
    el.set("d", new_d)
    after = doc.bbox(el, doc.parents())
    label = doc.label(el, parents)
    sev = severity_from_ratio(shift / size, 0.03, 0.08)
    return Edit(
        "svg.deform_path",
        "shape_error",
        sev,
        label,
        f"The outline of {label[0].lower() + label[1:]} is distorted (points moved by up to "
        f"{shift / size:.0%} of the canvas).",
        _key(doc, el),
        _region(doc, before, after),
        {"max_shift": round(shift / size, 4)},
    )


# ------------------------------------------------------------------------------- style


def _paint(doc: SvgDoc, el: ET.Element, attr: str, parents) -> str | None:  # type: ignore[no-untyped-def]
    v = doc.effective(el, attr, parents)
    if v is None or v.strip() in ("none", "transparent") or v.startswith("url("):
        return None
    return to_hex(v)


def fill_colour(doc: SvgDoc, rng: random.Random) -> Edit | None:
    el = _pick(
        doc,
        rng,
        lambda e, p: (
            local_name(e) in ("g", "path", "rect", "circle", "ellipse", "polygon", "text")
            and _paint(doc, e, "fill", p) is not None
            and _visible(doc, e, p)
        ),
    )
    if el is None:
        return None
    parents = doc.parents()
    old = _paint(doc, el, "fill", parents)
    assert old is not None
    new = pick_different(
        old,
        rng,
        min_delta=rng.choice((8.0, 30.0)),
        pool=[c for pal in PALETTES.values() for c in pal] + ["#ffffff", "#000000"],
    )
    el.set("fill", new)
    _drop_style(el, "fill")
    label = doc.label(el, parents)
    faint = _opacity(doc, el, parents) < 0.5  # a faint shape (a shadow): the new colour barely shows
    return Edit(
        "svg.fill",
        "style_error",
        1 if faint else colour_severity(old, new),
        label,
        f"{label} is filled with {new} instead of {old}.",
        _key(doc, el) + ".fill",
        _region(doc, doc.bbox(el, parents)),
        {"old": old, "new": new},
    )


def stroke_colour(doc: SvgDoc, rng: random.Random) -> Edit | None:
    el = _pick(doc, rng, lambda e, p: _paint(doc, e, "stroke", p) is not None and _visible(doc, e, p))
    if el is None:
        return None
    parents = doc.parents()
    old = _paint(doc, el, "stroke", parents)
    assert old is not None
    new = pick_different(
        old,
        rng,
        min_delta=rng.choice((8.0, 30.0)),
        pool=[c for pal in PALETTES.values() for c in pal] + ["#000000"],
    )
    el.set("stroke", new)
    _drop_style(el, "stroke")
    label = doc.label(el, parents)
    return Edit(
        "svg.stroke",
        "style_error",
        colour_severity(old, new),
        label,
        f"The stroke of {label[0].lower() + label[1:]} is {new} instead of {old}.",
        _key(doc, el) + ".stroke",
        _region(doc, doc.bbox(el, parents)),
        {"old": old, "new": new},
    )


def remove_fill(doc: SvgDoc, rng: random.Random) -> Edit | None:
    el = _pick(
        doc,
        rng,
        lambda e, p: (
            local_name(e) in ("path", "rect", "circle", "ellipse", "polygon")
            and _paint(doc, e, "fill", p) is not None
            and area(doc.bbox(e, p)) > 9
        ),
    )
    if el is None:
        return None
    parents = doc.parents()
    old = _paint(doc, el, "fill", parents)
    before = doc.bbox(el, parents)
    el.set("fill", "none")
    _drop_style(el, "fill")
    if _paint(doc, el, "stroke", parents) is None:
        el.set("stroke", old or "#000000")
        el.set("stroke-linejoin", "round")
    label = doc.label(el, parents)
    return Edit(
        "svg.remove_fill",
        "style_error",
        2,
        label,
        f"{label} is drawn as an outline only; the reference fills it with {old}.",
        _key(doc, el) + ".fill",
        _region(doc, before, doc.bbox(el, doc.parents())),
    )


def opacity(doc: SvgDoc, rng: random.Random) -> Edit | None:
    el = _pick(
        doc, rng, lambda e, p: _visible(doc, e, p) and float(doc.effective(e, "opacity", p) or 1) > 0.9
    )
    if el is None:
        return None
    parents = doc.parents()
    value = rng.choice((0.3, 0.45, 0.6, 0.75))
    el.set("opacity", f"{value:g}")
    label = doc.label(el, parents)
    return Edit(
        "svg.opacity",
        "style_error",
        2 if value < 0.5 else 1,
        label,
        f"{label} is semi-transparent (opacity {value:g}) instead of opaque.",
        _key(doc, el) + ".opacity",
        _region(doc, doc.bbox(el, parents)),
        {"opacity": value},
    )


def stroke_width(doc: SvgDoc, rng: random.Random) -> Edit | None:
    el = _pick(doc, rng, lambda e, p: _paint(doc, e, "stroke", p) is not None and _visible(doc, e, p))
    if el is None:
        return None
    parents = doc.parents()
    try:
        old = float(str(doc.effective(el, "stroke-width", parents) or "1").rstrip("px"))
    except ValueError:
        return None
    factor = rng.choice((0.4, 0.6, 1.6, 2.2))
    new = round(old * factor, 2)
    before = doc.bbox(el, parents)
    el.set("stroke-width", _fmt(new))
    _drop_style(el, "stroke-width")
    label = doc.label(el, parents)
    sev = 1 if 0.55 <= factor <= 1.7 else 2
    return Edit(
        "svg.stroke_width",
        "style_error",
        sev,
        label,
        f"The stroke of {label[0].lower() + label[1:]} is {'thicker' if factor > 1 else 'thinner'} "
        f"({_fmt(new)} instead of {_fmt(old)}).",
        _key(doc, el) + ".stroke-width",
        _region(doc, before, doc.bbox(el, doc.parents())),
        {"old": old, "new": new},
    )


def _drop_style(el: ET.Element, attr: str) -> None:
    style = el.get("style")
    if not style:
        return
    parts = [p for p in style.split(";") if p.strip() and p.split(":")[0].strip() != attr]
    if parts:
        el.set("style", ";".join(parts))
    else:
        del el.attrib["style"]


# ------------------------------------------------------------------------------- text and order


def text_content(doc: SvgDoc, rng: random.Random) -> Edit | None:
    el = _pick(doc, rng, lambda e, p: local_name(e) == "text" and (e.text or "").strip() != "")
    if el is None:
        return None
    parents = doc.parents()
    old = el.text or ""
    before = doc.bbox(el, parents)
    if old in BADGE_TEXTS:
        new = rng.choice([t for t in BADGE_TEXTS if t != old])
        sev, what = 2, f"reads {quote(new)} instead of {quote(old)}"
    elif rng.random() < 0.5:
        new = make_typo(old, rng) or ""
        sev, what = 1, f"has a typo: {quote(new)} instead of {quote(old)}"
    else:
        new = rng.choice([t for t in LABELS if t != old])
        sev, what = 2, f"reads {quote(new)} instead of {quote(old)}"
    if not new or new == old:
        return None
    el.text = new
    label = doc.label(el, parents)
    return Edit(
        "svg.text",
        "text_symbol_error",
        sev,
        label,
        f"{label} {what}.",
        _key(doc, el) + ".text",
        _region(doc, before, doc.bbox(el, doc.parents())),
        {"old": old, "new": new},
    )


def layer_order(doc: SvgDoc, rng: random.Random) -> Edit | None:
    """Move an element to the other end of its siblings, changing which shape covers which."""
    parents = doc.parents()
    options = []
    for el in doc.drawables():
        p = parents[el]
        sibs = [
            s
            for s in p
            if local_name(s)
            in ("g", "path", "rect", "circle", "ellipse", "polygon", "polyline", "line", "text")
        ]
        if len(sibs) < 2:
            continue
        b = doc.bbox(el, parents)
        idx = sibs.index(el)
        others = sibs[idx + 1 :] if idx < len(sibs) - 1 else sibs[:idx]
        boxes = [doc.bbox(o, parents) for o in others]
        shares = [intersection(b, ob) / max(1e-9, min(area(b), area(ob))) for ob in boxes if ob is not None]
        overlap = max(shares, default=0.0)
        if overlap > 0.05:
            options.append((el, p, idx, len(sibs), overlap, b))
    if not options:
        return None
    el, p, idx, n, overlap, b = rng.choice(options)
    label = doc.label(el, parents)
    p.remove(el)
    if idx < n - 1:
        p.append(el)
        where = "in front of the shapes it should be behind"
    else:
        first_drawable = next(
            i
            for i, s in enumerate(p)
            if local_name(s)
            in ("g", "path", "rect", "circle", "ellipse", "polygon", "polyline", "line", "text")
        )
        p.insert(first_drawable, el)
        where = "behind the shapes it should cover"
    # how much of the smaller shape the swap covers or uncovers decides the severity
    sev = 3 if overlap > 0.6 and idx < n - 1 else (2 if overlap > 0.25 else 1)
    return Edit(
        "svg.layer_order",
        "structure_error",
        sev,
        label,
        f"{label} is drawn {where}.",
        _key(doc, el) + ".order",
        _region(doc, b),
    )


PERTURBATIONS = registry(
    [
        PerturbationInfo("svg.move", "shape_error", move, 2.0),
        PerturbationInfo("svg.scale", "shape_error", scale, 1.5),
        PerturbationInfo("svg.rotate", "shape_error", rotate, 1.2),
        PerturbationInfo("svg.delete", "shape_error", delete, 1.5),
        PerturbationInfo("svg.add_shape", "shape_error", add_shape, 0.8),
        PerturbationInfo("svg.deform_path", "shape_error", deform_path, 1.5),
        PerturbationInfo("svg.fill", "style_error", fill_colour, 2.0),
        PerturbationInfo("svg.stroke", "style_error", stroke_colour, 1.2),
        PerturbationInfo("svg.remove_fill", "style_error", remove_fill, 0.6),
        PerturbationInfo("svg.opacity", "style_error", opacity, 0.8),
        PerturbationInfo("svg.stroke_width", "style_error", stroke_width, 1.0),
        PerturbationInfo("svg.text", "text_symbol_error", text_content, 1.5),
        PerturbationInfo("svg.layer_order", "structure_error", layer_order, 0.4),
    ]
)

__all__ = ["PERTURBATIONS", "SVG_NS", "LABEL"]
