"""The verifier's grid evidence on real renders: how much of the grid ink the other image keeps and how much
of each grid line is left undrawn separate a grid removed or restyled from the same grid re-rasterised."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from erm_cli.data.nuisance import equivalents
from erm_cli.judges.critic import Critic
from erm_cli.judges.critic.features import _grey, grid_line_kept
from erm_cli.renderers import RenderOptions, render
from erm_cli.train.critic import FeatureRecorder

_GRID = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6.4, 4.8))
ax.plot([1, 2, 3, 4, 5, 6], [3, 5, 4, 6, 7, 9], color="#1f77b4", label="North")
ax.plot([1, 2, 3, 4, 5, 6], [2, 3, 5, 5, 6, 6], color="#ff7f0e", label="South")
ax.set_title("Units sold by region")
ax.set_ylabel("Units (k)")
ax.legend(loc="upper left")
ax.grid(True, linestyle='--', alpha=0.5)
"""


def _png(code: str) -> bytes:
    res = render(code, "matplotlib", RenderOptions())
    assert res.ok and res.png, res.error
    return res.png


def _grid_proposals(ref: bytes, cand: bytes) -> list[dict[str, float]]:
    rec = FeatureRecorder()
    Critic(verifier=rec).judge(Image.open(io.BytesIO(ref)).convert("RGB"),
                               Image.open(io.BytesIO(cand)).convert("RGB"), "chart")
    return [p["features"] for p in rec.proposals if "grid" in p["description"]]


def test_grid_removed_or_restyled_is_told_from_the_same_grid_re_rasterised() -> None:
    ref = _png(_GRID)
    removed = _grid_proposals(ref, _png(_GRID.replace("ax.grid(True, linestyle='--', alpha=0.5)\n", "")))
    solid = _grid_proposals(ref, _png(_GRID.replace("linestyle='--'", "linestyle='-'")))
    assert removed and solid
    assert all(f["grid_ink_kept"] < 0.6 for f in removed), removed
    assert all(f["grid_gap_cand"] < 0.15 < f["grid_gap_ref"] for f in solid), solid
    # the measure itself on the same figure re-rasterised (no proposal needed: the analysers of 995b383 rarely
    # propose grid changes on these routes any more): the grid image keeps most of its line contrast
    box = (86, 63, 570, 421)  # inside matplotlib's default plot area of a 640x480 figure
    grey = lambda png: _grey(np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))[box[1]:box[3], box[0]:box[2]])
    g_ref = grey(ref)
    g_removed = grey(_png(_GRID.replace("ax.grid(True, linestyle='--', alpha=0.5)\n", "")))
    assert grid_line_kept(g_ref, g_removed)[0] < 0.6
    routes = equivalents(_GRID, "matplotlib", ref, seed=1, routes=["aa", "jpeg", "dpi72", "pdf"])
    assert set(routes) >= {"aa", "jpeg"}
    for route, png in routes.items():
        g = grey(png)
        if g.shape != g_ref.shape:  # dpi72: another pixel size
            continue
        kept, rows, _, gap_eq = grid_line_kept(g_ref, g)
        assert rows > 0 and kept > 0.8, (route, kept)
        assert gap_eq > 0.15, (route, gap_eq)  # a dashed grid stays dashed (fewer, thinner gaps without AA)
