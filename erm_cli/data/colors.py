"""Colour palettes for generated programs and colour-difference helpers for severity labels."""

from __future__ import annotations

import math
import random

#: Palettes drawn from matplotlib/seaborn/plotly defaults and common report styles (hex, no alpha).
PALETTES: dict[str, list[str]] = {
    "tab10": ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"],
    "set2": ["#66c2a5", "#fc8d62", "#8da0cb", "#e78ac3", "#a6d854", "#ffd92f", "#e5c494", "#b3b3b3"],
    "deep": ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"],
    "plotly": ["#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880"],
    "viridis": ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725", "#31688e", "#35b779", "#90d743"],
    "corporate": ["#003f5c", "#2f4b7c", "#665191", "#a05195", "#d45087", "#f95d6a", "#ff7c43", "#ffa600"],
    "earth": ["#8c510a", "#bf812d", "#dfc27d", "#80cdc1", "#35978f", "#01665e", "#543005", "#003c30"],
    "pastel": ["#a1c9f4", "#ffb482", "#8de5a1", "#ff9f9b", "#d0bbff", "#debb9b", "#fab0e4", "#cfcfcf"],
}

#: Colours a careless model typically substitutes (distinct from most palette entries).
SUBSTITUTES = ["#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#000000",
               "#17becf", "#bcbd22", "#808000", "#008080"]


def normalise_hex(color: str) -> str:
    c = color.strip().lower()
    if c.startswith("#") and len(c) == 4:
        c = "#" + "".join(ch * 2 for ch in c[1:])
    return c


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    c = normalise_hex(color).lstrip("#")
    if len(c) != 6:
        raise ValueError(f"not a #rrggbb colour: {color!r}")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def rgb_to_hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{max(0, min(255, int(round(v)))):02x}" for v in rgb)


def _lab(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    def lin(v: float) -> float:
        v = v / 255.0
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(v) for v in rgb)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def delta_e(a: str, b: str) -> float:
    """CIE76 colour difference between two hex colours (about 2.3 is just noticeable)."""
    la, lb = _lab(hex_to_rgb(a)), _lab(hex_to_rgb(b))
    return math.sqrt(sum((p - q) ** 2 for p, q in zip(la, lb)))


def colour_severity(a: str, b: str) -> int:
    """Style-error severity of replacing colour ``a`` by ``b``: a shade shift is minor, a new hue medium."""
    return 1 if delta_e(a, b) < 25 else 2


def shade(color: str, factor: float) -> str:
    """Lighten (factor > 0) or darken (factor < 0) a colour towards white or black."""
    r, g, b = hex_to_rgb(color)
    if factor >= 0:
        return rgb_to_hex((r + (255 - r) * factor, g + (255 - g) * factor, b + (255 - b) * factor))
    return rgb_to_hex((r * (1 + factor), g * (1 + factor), b * (1 + factor)))


def pick_different(color: str, rng: random.Random, min_delta: float = 30.0,
                   pool: list[str] | None = None) -> str:
    """A colour clearly different from ``color`` (ΔE >= ``min_delta``)."""
    candidates = [c for c in (pool or SUBSTITUTES) if delta_e(c, color) >= min_delta]
    if not candidates:
        candidates = [c for c in SUBSTITUTES if delta_e(c, color) >= min_delta] or ["#000000"]
    return rng.choice(candidates)


def to_hex(color: str) -> str | None:
    """Any matplotlib/CSS colour spelling to #rrggbb, or None when it is not a colour."""
    c = color.strip()
    if c.startswith("#") and len(c) in (4, 7):
        try:
            hex_to_rgb(c)
            return normalise_hex(c)
        except ValueError:
            return None
    try:
        from matplotlib import colors as mcolors

        if c.lower() in ("none", "auto", "inherit"):
            return None
        return mcolors.to_hex(c).lower()
    except (ValueError, ImportError):
        return None
