"""The verifier's blend share on real renders: another rasterisation of the same chart (anti-aliasing off,
JPEG, PDF export rasterised by another engine) changes how much of an edge pixel an element covers, so its
changed pixels are mostly blends of the same ink over the background; a bar removed or recoloured is not."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from erm_cli.data.nuisance import equivalents
from erm_cli.judges.critic import Critic
from erm_cli.renderers import RenderOptions, render
from erm_cli.train.critic import FeatureRecorder

_CHART = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6.4, 4.8))
ax.plot([1, 2, 3, 4, 5, 6], [3, 5, 4, 6, 7, 9], color="#1f77b4", label="North")
ax.bar([1, 2, 3, 4, 5, 6], [2, 3, 5, 5, 6, 6], color="#ff7f0e", alpha=0.6, label="South")
ax.set_title("Units sold by region")
ax.set_ylabel("Units (k)")
ax.legend(loc="upper left")
"""


def _png(code: str) -> bytes:
    res = render(code, "matplotlib", RenderOptions())
    assert res.ok and res.png, res.error
    return res.png


def _pair_features(ref: bytes, cand: bytes) -> tuple[dict[str, float], list[dict[str, float]]]:
    rec = FeatureRecorder()
    Critic(verifier=rec).judge(Image.open(io.BytesIO(ref)).convert("RGB"),
                               Image.open(io.BytesIO(cand)).convert("RGB"), "chart")
    return rec.pair, [p["features"] for p in rec.proposals]


@pytest.fixture(scope="module")
def reference() -> bytes:
    return _png(_CHART)


@pytest.mark.parametrize("route", ["aa", "jpeg", "pdf"])
def test_another_rasterisation_changes_pixels_by_blending(reference: bytes, route: str) -> None:
    eq = equivalents(_CHART, "matplotlib", reference, seed=3, routes=(route,))
    if route not in eq:
        pytest.skip(f"route {route} unavailable here: {getattr(eq, 'failures', {})}")
    pair, _ = _pair_features(reference, eq[route])
    assert pair["pair_blend_share"] >= 0.45, pair["pair_blend_share"]  # (aa 1.0, pdf 0.94, jpeg 0.60 here)


@pytest.mark.parametrize("edit", [("[2, 3, 5, 5, 6, 6]", "[2, 3, 5, 0, 6, 6]"), ('"#ff7f0e"', '"#2ca02c"')],
                         ids=["bar removed", "bars recoloured"])
def test_a_real_change_is_mostly_not_a_blend(reference: bytes, edit: tuple[str, str]) -> None:
    pair, props = _pair_features(reference, _png(_CHART.replace(*edit)))
    assert pair["pair_blend_share"] < 0.35, pair["pair_blend_share"]
    shares = [p["crop_blend_share"] for p in props if not np.isnan(p.get("crop_blend_share", np.nan))]
    assert shares and min(shares) < 0.35, shares


def test_identical_images_have_no_blend_share(reference: bytes) -> None:
    pair, props = _pair_features(reference, reference)
    assert np.isnan(pair["pair_blend_share"]) and not props
