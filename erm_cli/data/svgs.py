"""SVG documents for synthetic pairs: icon scenes built from real icon sets, and user SVG files.

An :class:`SvgDoc` wraps an ElementTree. Elements carry a human label in a private
``data-erm-label`` attribute (stripped when the code is written), so a perturbation can name what it
changed ("Camera icon, top-left stroke", "Badge text") even after other edits reorder the tree.
Scenes place one icon from Bootstrap / Feather / Lucide (bundled in ``erm_cli/data/icons``, or any
folder given with ``--icons``) on a background with optional badges, rings and labels.
"""

from __future__ import annotations

import copy
import random
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..errors import InputError
from .colors import PALETTES, delta_e, shade
from .svg_geometry import (
    IDENTITY,
    SHAPE_TAGS,
    Box,
    Matrix,
    apply,
    box_of,
    local_name,
    local_points,
    multiply,
    parse_transform,
    union,
)

SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
LABEL = "data-erm-label"
PRIVATE_PREFIX = "data-erm-"  # attributes erm keeps on elements while editing; never written out
ICON_DIR = Path(__file__).resolve().parent / "icons"
DRAWABLE = SHAPE_TAGS + ("g", "use", "image")


@dataclass(frozen=True)
class Icon:
    name: str
    family: str
    style: str  # "fill" | "stroke"
    size: float  # viewBox side (icons are square)
    elements: tuple[str, ...]  # serialised child elements

    @property
    def title(self) -> str:
        return self.name.replace("-fill", "").replace("-", " ").capitalize()


def _family_style(root: ET.Element) -> str:
    return (
        "stroke" if root.get("stroke", "") not in ("", "none") and root.get("fill", "") == "none" else "fill"
    )


@lru_cache(maxsize=8)
def load_icons(folder: str | None = None) -> tuple[Icon, ...]:
    """Icons from ``folder`` (recursively) or the bundled set, sorted by family and name."""
    base = Path(folder) if folder else ICON_DIR
    if not base.is_dir():
        raise InputError(f"icon folder not found: {base}")
    icons = []
    for path in sorted(base.rglob("*.svg")):
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError:
            continue
        vb = [float(v) for v in re.findall(r"[-+]?\d*\.?\d+", root.get("viewBox", ""))]
        if len(vb) != 4 or vb[2] != vb[3]:
            continue
        children = [c for c in root if local_name(c) in SHAPE_TAGS]
        if not children or len(children) > 12:
            continue
        parts = []
        for c in children:
            c.attrib.pop("class", None)
            parts.append(ET.tostring(c, encoding="unicode").strip())
        family = path.parent.parent.name if path.parent.name == "icons" else path.parent.name
        icons.append(Icon(path.stem, family, _family_style(root), vb[2], tuple(parts)))
    if not icons:
        raise InputError(f"no usable square SVG icons in {base}")
    return tuple(icons)


@dataclass
class SvgDoc:
    root: ET.Element
    code_style: int = 0  # bit 0: pretty-printed; bit 1: leading comment; bit 2: upper-case hex colours
    prolog: str = ""  # text before <svg> in a user file (XML declaration, comments)

    kind: str = field(default="svg", init=False)

    def copy(self) -> "SvgDoc":
        return SvgDoc(copy.deepcopy(self.root), self.code_style, self.prolog)

    # -- geometry
    @property
    def viewbox(self) -> tuple[float, float, float, float]:
        vb = [float(v) for v in re.findall(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?", self.root.get("viewBox", ""))]
        if len(vb) == 4 and vb[2] > 0 and vb[3] > 0:
            return vb[0], vb[1], vb[2], vb[3]
        w = _length(self.root.get("width"), 300.0)
        h = _length(self.root.get("height"), 150.0)
        return 0.0, 0.0, w, h

    def parents(self) -> dict[ET.Element, ET.Element]:
        return {c: p for p in self.root.iter() for c in p}

    def ctm(self, el: ET.Element, parents: dict[ET.Element, ET.Element] | None = None) -> Matrix:
        """Transform from ``el``'s own user space to the root viewBox (including el's own transform)."""
        parents = parents or self.parents()
        chain = []
        node: ET.Element | None = el
        while node is not None and node is not self.root:
            chain.append(node)
            node = parents.get(node)
        m = IDENTITY
        for node in reversed(chain):
            m = multiply(m, parse_transform(node.get("transform")))
        return m

    def bbox(self, el: ET.Element, parents: dict[ET.Element, ET.Element] | None = None) -> Box | None:
        """Box of an element (and its descendants) in viewBox units, stroke included."""
        parents = parents or self.parents()
        out: Box | None = None
        for node in el.iter():
            if local_name(node) not in SHAPE_TAGS:
                continue
            pts = local_points(node)
            if not pts:
                continue
            m = self.ctm(node, parents)
            b = box_of([apply(m, x, y) for x, y in pts])
            if b is None:
                continue
            sw = self.effective(node, "stroke-width", parents)
            stroke = self.effective(node, "stroke", parents)
            pad = 0.0
            if stroke not in (None, "none"):
                try:
                    scale = (abs(m[0] * m[3] - m[1] * m[2])) ** 0.5
                    pad = float(re.findall(r"[\d.]+", sw or "1")[0]) * scale / 2
                except (IndexError, ValueError):
                    pad = 1.0
                if self.effective(node, "stroke-linejoin", parents) not in ("round", "bevel"):
                    pad *= 2.0  # mitred corners reach beyond half the stroke width
            out = union(out, (b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad))
        return out

    def fraction(self, box: Box | None) -> tuple[float, float, float, float] | None:
        if box is None:
            return None
        x, y, w, h = self.viewbox
        return ((box[0] - x) / w, (box[1] - y) / h, (box[2] - x) / w, (box[3] - y) / h)

    def effective(
        self, el: ET.Element, attr: str, parents: dict[ET.Element, ET.Element] | None = None
    ) -> str | None:
        """The inherited presentation value of ``attr`` (attribute or inline style), None when unset."""
        parents = parents or self.parents()
        node: ET.Element | None = el
        while node is not None:
            v = node.get(attr)
            style = node.get("style", "")
            m = re.search(rf"(?:^|;)\s*{re.escape(attr)}\s*:\s*([^;]+)", style)
            if m:
                v = m.group(1).strip()
            if v is not None:
                return v
            node = parents.get(node)
        defaults = {"fill": "#000000", "stroke": "none", "stroke-width": "1", "opacity": "1"}
        return defaults.get(attr)

    def element_id(self, el: ET.Element) -> int:
        """A private id that follows the element through copies, moves and deletions of others."""
        if el.get("data-erm-id") is None:
            nxt = int(self.root.get("data-erm-next", "1"))
            el.set("data-erm-id", str(nxt))
            self.root.set("data-erm-next", str(nxt + 1))
        return int(el.get("data-erm-id", "0"))

    # -- names
    def label(self, el: ET.Element, parents: dict[ET.Element, ET.Element] | None = None) -> str:
        if el.get(LABEL):
            return el.get(LABEL, "")
        name = local_name(el)
        ident = el.get("id")
        what = {
            "path": "path",
            "rect": "rectangle",
            "circle": "circle",
            "ellipse": "ellipse",
            "line": "line",
            "polyline": "polyline",
            "polygon": "polygon",
            "text": "text",
            "g": "group",
        }.get(name, name)
        if ident:
            return f"{what.capitalize()} '{ident}'"
        pos = self.position_word(el, parents)
        return f"{pos.capitalize()} {what}" if pos else what.capitalize()

    def position_word(self, el: ET.Element, parents: dict[ET.Element, ET.Element] | None = None) -> str:
        b = self.fraction(self.bbox(el, parents))
        if b is None:
            return ""
        cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        v = "top" if cy < 0.36 else ("bottom" if cy > 0.64 else "")
        h = "left" if cx < 0.36 else ("right" if cx > 0.64 else "")
        return f"{v}-{h}" if v and h else (v or h or "centre")

    def drawables(self) -> list[ET.Element]:
        """Every drawn element below the root, in document order."""
        skip = {
            "defs",
            "clipPath",
            "mask",
            "pattern",
            "linearGradient",
            "radialGradient",
            "symbol",
            "marker",
            "style",
            "title",
            "desc",
            "metadata",
        }
        out = []

        def walk(node: ET.Element) -> None:
            for c in node:
                n = local_name(c)
                if n in skip:
                    continue
                if n in DRAWABLE:
                    out.append(c)
                if n == "g":
                    walk(c)

        walk(self.root)
        return out

    # -- code
    def code(self) -> str:
        root = copy.deepcopy(self.root)
        for el in root.iter():
            for k in [k for k in el.attrib if k.startswith(PRIVATE_PREFIX)]:
                del el.attrib[k]
            if self.code_style & 4:
                for k, v in list(el.attrib.items()):
                    if re.fullmatch(r"#[0-9a-fA-F]{6}", v):
                        el.set(k, v.upper())
        if self.code_style & 1:
            ET.indent(root, space="  ")
        text = ET.tostring(root, encoding="unicode")
        head = "<!-- generated icon -->\n" if self.code_style & 2 else ""
        return self.prolog + head + text + "\n"


def _length(v: str | None, default: float) -> float:
    if not v:
        return default
    m = re.match(r"\s*([\d.]+)", v)
    return float(m.group(1)) if m and not v.strip().endswith("%") else default


def parse_svg(source: str) -> SvgDoc:
    """Read a user SVG file into an :class:`SvgDoc` (prolog kept, DOCTYPE dropped)."""
    start = source.find("<svg")
    if start < 0:
        raise InputError("no <svg> element found")
    prolog = re.sub(r"<!DOCTYPE[^>]*>", "", source[:start])
    try:
        root = ET.fromstring(source[start:])
    except ET.ParseError as exc:
        raise InputError(f"not well-formed SVG ({exc})") from None
    if local_name(root) != "svg":
        raise InputError("the root element is not <svg>")
    return SvgDoc(root, code_style=1, prolog=prolog if prolog.strip() else "")


# ------------------------------------------------------------------------------- scene generator

BADGE_TEXTS = ("1", "2", "3", "5", "9", "12", "!", "NEW", "99+")
LABELS = (
    "Home",
    "Photos",
    "Settings",
    "Alerts",
    "Travel",
    "Music",
    "Cloud",
    "Shop",
    "Mail",
    "Weather",
    "Sports",
    "Energy",
    "Garden",
    "Maps",
    "Coffee",
    "Awards",
)
FONT = "DejaVu Sans, Arial, sans-serif"


def _el(tag: str, label: str | None = None, **attrs: str) -> ET.Element:
    el = ET.Element(f"{{{SVG_NS}}}{tag}", {k.replace("_", "-"): str(v) for k, v in attrs.items()})
    if label:
        el.set(LABEL, label)
    return el


def _fmt(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _contrasting(rng: random.Random, bg: str, pool: list[str]) -> str:
    options = [c for c in pool if delta_e(c, bg) > 30]
    return rng.choice(options) if options else ("#ffffff" if delta_e(bg, "#ffffff") > 30 else "#222222")


def random_svg(rng: random.Random, icons: tuple[Icon, ...] | None = None, px: int = 256) -> SvgDoc:
    """An icon scene: one real icon, usually on a background shape, with optional badge, ring or label."""
    icons = icons or load_icons()
    icon = rng.choice(icons)
    root = _el("svg", width=str(px), height=str(px), viewBox="0 0 100 100")
    palette = list(PALETTES[rng.choice(("tab10", "deep", "plotly", "corporate", "set2", "earth"))])
    layout = rng.choice(("badge", "badge", "tile", "plain", "emblem"))
    label_text = rng.choice(LABELS) if layout == "tile" or (layout == "plain" and rng.random() < 0.4) else ""
    icon_box = 56.0 if label_text else 62.0
    cx, cy = 50.0, (42.0 if label_text else 50.0)

    if layout == "badge":
        bg = rng.choice(palette)
        if rng.random() < 0.5:
            root.append(_el("circle", "Background circle", cx="50", cy="50", r="46", fill=bg))
        else:
            root.append(
                _el(
                    "rect",
                    "Background square",
                    x="4",
                    y="4",
                    width="92",
                    height="92",
                    rx=str(rng.choice((8, 14, 20))),
                    fill=bg,
                )
            )
        fg = _contrasting(rng, bg, ["#ffffff", "#ffffff", "#1f2937", "#fef3c7"])
    elif layout == "tile":
        bg = shade(rng.choice(palette), 0.8)
        root.append(
            _el(
                "rect",
                "Background tile",
                x="3",
                y="3",
                width="94",
                height="94",
                rx="10",
                fill=bg,
                stroke=shade(bg, -0.35),
                stroke_width="2",
            )
        )
        fg = _contrasting(rng, bg, palette + ["#1f2937"])
    elif layout == "emblem":
        bg = shade(rng.choice(palette), 0.85)
        ring = rng.choice(palette)
        root.append(_el("circle", "Background disc", cx="50", cy="50", r="46", fill=bg))
        root.append(
            _el(
                "circle",
                "Outer ring",
                cx="50",
                cy="50",
                r="42",
                fill="none",
                stroke=ring,
                stroke_width=str(rng.choice((3, 4, 5))),
            )
        )
        fg = _contrasting(rng, bg, [ring] + palette)
        icon_box = 50.0
    else:
        bg = "#ffffff"
        fg = rng.choice(palette)

    scale = icon_box / icon.size
    g = _el(
        "g",
        f"{icon.title} icon",
        transform=f"translate({_fmt(cx - icon_box / 2)} {_fmt(cy - icon_box / 2)}) scale({_fmt(scale)})",
    )
    if icon.style == "stroke":
        g.set("fill", "none")
        g.set("stroke", fg)
        g.set("stroke-width", rng.choice(("1.5", "2", "2.5")))
        g.set("stroke-linecap", "round")
        g.set("stroke-linejoin", "round")
    else:
        g.set("fill", fg)
    parts = [ET.fromstring(p) for p in icon.elements]
    for part in parts:
        g.append(part)
    root.append(g)
    doc = SvgDoc(root, code_style=rng.randint(0, 7))
    parents = doc.parents()
    for k, part in enumerate(parts):
        pos = doc.position_word(part, parents)
        shape = {
            "path": "stroke" if icon.style == "stroke" else "shape",
            "circle": "circle",
            "rect": "rectangle",
            "line": "line",
            "polyline": "polyline",
            "polygon": "polygon",
            "ellipse": "ellipse",
        }.get(local_name(part), "shape")
        part.set(
            LABEL, f"{icon.title} icon, {pos} {shape}" if len(parts) > 1 else f"{icon.title} icon outline"
        )

    if layout in ("badge", "emblem") and rng.random() < 0.45:
        dot = _contrasting(rng, fg, ["#e11d48", "#f59e0b", "#16a34a", "#2563eb"])
        text = rng.choice(BADGE_TEXTS)
        r = 11.0 if len(text) <= 2 else 14.0
        bx, by = 100 - r - 2, r + 2
        root.append(
            _el(
                "circle",
                "Notification badge",
                cx=_fmt(bx),
                cy=_fmt(by),
                r=_fmt(r),
                fill=dot,
                stroke="#ffffff",
                stroke_width="2",
            )
        )
        t = _el(
            "text",
            "Badge text",
            x=_fmt(bx),
            y=_fmt(by + 4.2),
            font_family=FONT,
            font_size="12",
            font_weight="bold",
            fill="#ffffff",
            text_anchor="middle",
        )
        t.text = text
        root.append(t)
    if label_text:
        t = _el(
            "text",
            "Label text",
            x="50",
            y="91",
            font_family=FONT,
            font_size=str(rng.choice((11, 12, 13))),
            fill=fg if layout == "plain" else shade(fg, -0.2) if delta_e(fg, "#ffffff") > 8 else "#1f2937",
            text_anchor="middle",
        )
        t.text = label_text
        root.append(t)
    if layout == "plain" and rng.random() < 0.5:
        sh = _el(
            "ellipse",
            "Shadow",
            cx="50",
            cy=_fmt(cy + icon_box / 2 + 2),
            rx="26",
            ry="3",
            fill="#000000",
            opacity="0.15",
        )
        root.insert(0, sh)
    return doc
