"""Model-free image-to-SVG: vectorise the raster with vtracer (the classical floor SVG benchmarks use)."""

from __future__ import annotations

import io
import re

from PIL import Image

from ..errors import InputError

#: (mode, colour_precision, filter_speckle, layer_difference): the first is the default draft; the
#: others trade detail for fewer paths (best-of-K tries them).
VARIANTS: list[dict[str, object]] = [
    {"mode": "spline", "color_precision": 6, "filter_speckle": 4, "layer_difference": 16},
    {"mode": "polygon", "color_precision": 6, "filter_speckle": 4, "layer_difference": 16},
    {"mode": "spline", "color_precision": 8, "filter_speckle": 2, "layer_difference": 8},
    {"mode": "spline", "color_precision": 5, "filter_speckle": 8, "layer_difference": 24},
]


def vectorise(img: Image.Image, **params: object) -> str:
    try:
        import vtracer
    except ImportError:
        raise InputError("the SVG draft needs vtracer: pip install 'erm-cli[refine]'") from None
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="PNG")
    svg = vtracer.convert_raw_image_to_svg(buf.getvalue(), img_format="png", colormode="color",
                                           hierarchical="stacked", **params)
    return tidy_svg(svg, img.size)


def tidy_svg(svg: str, size: tuple[int, int]) -> str:
    """vtracer's output plus a viewBox (so it scales) and without the generator comment."""
    svg = re.sub(r"<!--.*?-->\s*", "", svg, flags=re.DOTALL)
    w, h = size
    if "viewBox" not in svg:
        svg = re.sub(r"<svg\b", f'<svg viewBox="0 0 {w} {h}"', svg, count=1)
    return svg.strip() + "\n"


def draft_svg(reference: Image.Image, n: int = 1) -> list[str]:
    """Up to ``n`` SVG drafts of ``reference`` (distinct vtracer settings)."""
    out: list[str] = []
    for params in VARIANTS[:max(1, n)]:
        svg = vectorise(reference, **params)
        if svg not in out:
            out.append(svg)
    return out
