"""Colour palettes for generated programs and colour-difference helpers for severity labels."""

from __future__ import annotations

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
SUBSTITUTES = [
    "#e41a1c",
    "#377eb8",
    "#4daf4a",
    "#984ea3",
    "#ff7f00",
    "#a65628",
    "#f781bf",
    "#000000",
    "#17becf",
    "#bcbd22",
    "#808000",
    "#008080",
]


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    from ..judges.critic.colour import parse_colour

    return parse_colour(color)


def rgb_to_hex(rgb: tuple[float, float, float]) -> str:
    from ..judges.critic.colour import hex_of

    return hex_of(rgb)


def delta_e(a: str, b: str) -> float:
    """CIEDE2000 difference between two hex colours (the critic's metric; about 2 is just noticeable)."""
    from ..judges.critic.colour import delta_e_rgb

    return delta_e_rgb(hex_to_rgb(a), hex_to_rgb(b))


#: ΔE2000 below this is a shade of the same colour (minor); above it a different colour (medium).
SHADE_DELTA = 15.0


def colour_severity(a: str, b: str) -> int:
    """Style-error severity of replacing colour ``a`` by ``b``: a shade shift is minor, a new hue medium."""
    return 1 if delta_e(a, b) < SHADE_DELTA else 2


def shade(color: str, factor: float) -> str:
    """Lighten (factor > 0) or darken (factor < 0) a colour towards white or black."""
    r, g, b = hex_to_rgb(color)
    if factor >= 0:
        return rgb_to_hex((r + (255 - r) * factor, g + (255 - g) * factor, b + (255 - b) * factor))
    return rgb_to_hex((r * (1 + factor), g * (1 + factor), b * (1 + factor)))


def pick_different(
    color: str, rng: random.Random, min_delta: float = 20.0, pool: list[str] | None = None
) -> str:
    """A colour clearly different from ``color`` (ΔE2000 >= ``min_delta``)."""
    candidates = [c for c in (pool or SUBSTITUTES) if delta_e(c, color) >= min_delta]
    if not candidates:
        candidates = [c for c in SUBSTITUTES if delta_e(c, color) >= min_delta] or ["#000000"]
    return rng.choice(candidates)


def to_hex(color: str) -> str | None:
    """A colour literal (#hex, rgb(), a common name) as #rrggbb, or None when it is not a colour."""
    from ..refine.literals import colour_of

    rgb = colour_of(color, context_is_colour=True)
    return rgb_to_hex(rgb) if rgb is not None else None
