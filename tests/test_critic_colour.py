"""Colour science used by the critic and reused by bench / refine: CIEDE2000, palettes, optimal matching."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from erm_cli.judges.critic.colour import (
    background_colour,
    colour_f1,
    delta_e2000,
    delta_e_rgb,
    label_map,
    match_colours,
    palette,
    parse_colour,
    rgb_to_lab,
)

# Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula", Table 1: (Lab1, Lab2, ΔE00)
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, 2.8361, -74.0200), (50.0, 0.0, -82.7485), 3.4412),
    ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
]


@pytest.mark.parametrize("lab1,lab2,expected", SHARMA)
def test_delta_e2000_matches_the_published_test_data(lab1, lab2, expected) -> None:
    assert float(delta_e2000(lab1, lab2)) == pytest.approx(expected, abs=1e-4)
    assert float(delta_e2000(lab2, lab1)) == pytest.approx(expected, abs=1e-4)  # symmetric


def test_delta_e2000_agrees_with_scikit_image_on_random_colours() -> None:
    from skimage.color import deltaE_ciede2000, rgb2lab

    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 256, (500, 3)), rng.integers(0, 256, (500, 3))
    ours = delta_e2000(rgb_to_lab(a), rgb_to_lab(b))
    theirs = deltaE_ciede2000(rgb2lab(a[None] / 255.0)[0], rgb2lab(b[None] / 255.0)[0])
    assert np.abs(ours - theirs).max() < 0.05  # white-point constants differ in the 4th digit


def test_parse_colour_forms() -> None:
    assert parse_colour("#1f77b4") == (31, 119, 180)
    assert parse_colour("#fff") == (255, 255, 255)
    assert parse_colour((0.0, 0.5, 1.0)) == (0, 128, 255)
    with pytest.raises(ValueError):
        parse_colour("blue-ish")


def _bar_chart(colours: list[str], dpi: int = 100) -> Image.Image:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, c in enumerate(colours):
        ax.bar([i], [3 + i], color=c)
    ax.plot([0, len(colours) - 1], [1, 2], color="#9467bd", linewidth=2)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def test_palette_finds_series_colours_not_antialiasing() -> None:
    img = _bar_chart(["#1f77b4", "#ff7f0e", "#2ca02c"])
    pal = palette(img)
    found = [p.rgb for p in pal]
    for want in ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"):
        assert min(delta_e_rgb(parse_colour(want), f) for f in found) < 3, want
    assert background_colour(img) == (255, 255, 255)
    # anti-aliased blends of the purple line with white are not palette entries
    chromatic = [p for p in pal if p.chromatic]
    assert len(chromatic) == 4
    blue = next(p for p in pal if delta_e_rgb(p.rgb, (31, 119, 180)) < 3)
    x0, y0, x1, y1 = blue.bbox
    assert x1 > x0 and y1 > y0 and blue.fraction > 0.01


def test_match_colours_is_optimal_and_gated() -> None:
    ref = [(31, 119, 180), (255, 127, 14), (44, 160, 44)]
    cand = [(44, 160, 44), (30, 120, 181), (214, 39, 40)]
    matches, miss_a, miss_b = match_colours(ref, cand, max_delta_e=10)
    pairs = {(m.a, m.b) for m in matches}
    assert pairs == {(0, 1), (2, 0)}  # orange has no partner within 10 ΔE: reported missing, red extra
    assert miss_a == [1] and miss_b == [2]
    f1 = colour_f1(["#1f77b4", "#ff7f0e"], ["#1f77b4", "#ff7f0e"])
    assert f1["f1"] == pytest.approx(1.0)
    worse = colour_f1(["#1f77b4", "#ff7f0e"], ["#1f77b4", "#d62728"])
    assert 0.5 < worse["f1"] < 1.0


def test_label_map_assigns_pixels_to_the_nearest_palette_colour() -> None:
    img = _bar_chart(["#1f77b4"])
    labels = label_map(img, [(31, 119, 180)])
    assert labels.shape == (img.height, img.width)
    exact = (np.asarray(img) == (31, 119, 180)).all(axis=2)
    assert (labels[exact] == 0).all()  # every bar pixel
    assert labels[0, 0] == -1 and (labels == 0).sum() < 1.05 * exact.sum()  # background and little else


def test_background_ignores_a_thin_frame_along_the_edge() -> None:
    from PIL import ImageDraw

    from erm_cli.judges.critic.colour import background_colour

    img = Image.new("RGB", (200, 200), "white")
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, 199, 199), outline="#7f7f7f", width=2)
    d.ellipse((60, 60, 140, 140), fill="#008000")
    assert background_colour(img) == (255, 255, 255)


def test_a_changed_canvas_colour_is_reported() -> None:
    from erm_cli.judges.critic import Critic

    def drawing(bg: str) -> Image.Image:
        from PIL import ImageDraw

        img = Image.new("RGB", (200, 200), bg)
        ImageDraw.Draw(img).ellipse((60, 60, 140, 140), fill="#e63946")
        return img

    v = Critic().judge(drawing("white"), drawing("#202020"), "svg")
    bg = [e for e in v.errors if e.location == "background"]
    assert bg and bg[0].category == "style_error" and bg[0].severity == 3, [e.to_dict() for e in v.errors]
