"""Speed rewrites in the critic give exactly what the plain computation gives (real chart renders)."""

from __future__ import annotations

import numpy as np

from erm_cli.bench.critic_speed import build_pairs
from erm_cli.judges.critic.blur import blur_weights, blurred_mean
from erm_cli.judges.critic.colour import _quantised_keys, _used_bins, delta_e_rgb, paint_shift
from erm_cli.judges.critic.morphology import dilate


def _chart_pair() -> tuple[np.ndarray, np.ndarray]:
    pairs = [p for p in build_pairs(quick=True) if p[0] == "chart" and p[1] == "bar value"]
    return np.asarray(pairs[0][2]), np.asarray(pairs[0][3])


def _paint_shift_full_frame(ref, cand, footprint, a, b, background) -> tuple[float, float]:
    """paint_shift as first written: the footprint dilated over the whole frame."""
    foot = dilate(footprint, iterations=5)
    if foot.sum() < 4:
        return 100.0, 0.0
    H, W = foot.shape
    ys, xs = np.nonzero(foot)
    y0, y1, x0, x1 = max(0, ys.min() - 8), min(H, ys.max() + 9), max(0, xs.min() - 8), min(W, xs.max() + 9)
    f = foot[y0:y1, x0:x1]
    weights = blur_weights(f, 2.5)
    ma, mb = (blurred_mean(arr[y0:y1, x0:x1], f, 2.5, weights) for arr in (ref, cand))
    bg = np.asarray(background, float)
    av, bv = np.asarray(a, float), np.asarray(b, float)
    span = float(np.linalg.norm(av - bg))
    cover = float(np.clip(np.linalg.norm(ma - bg) / span, 0.05, 1.0)) if span > 1 else 1.0
    expected = delta_e_rgb(cover * av + (1 - cover) * bg, cover * bv + (1 - cover) * bg)
    return delta_e_rgb(ma, mb), expected


def test_paint_shift_dilates_only_around_the_footprint_with_the_same_result() -> None:
    ref, cand = _chart_pair()
    H, W = ref.shape[:2]
    rng = np.random.default_rng(3)
    boxes = [(100, 100, 300, 500), (0, 0, 10, 10), (H - 10, W - 10, 10, 10), (0, 300, H, 3), (200, 0, 2, W),
             (50, 60, 1, 1), (3, 3, 1, 2)]
    for y0, x0, h, w in boxes:
        m = np.zeros((H, W), bool)
        m[y0:y0 + h, x0:x0 + w] = rng.random((h, w)) < 0.4
        m[y0, x0] = True
        for a, b in (((31, 119, 180), (44, 160, 44)), ((214, 39, 40), (214, 39, 40))):
            assert paint_shift(ref, cand, m, a, b, (255, 255, 255)) == \
                _paint_shift_full_frame(ref, cand, m, a, b, (255, 255, 255))
    empty = np.zeros((H, W), bool)
    assert paint_shift(ref, cand, empty, (0, 0, 0), (9, 9, 9), (255, 255, 255)) == (100.0, 0.0)


def test_used_bins_are_the_distinct_keys() -> None:
    ref, cand = _chart_pair()
    for arr in (ref, cand, ref[100:200, 300:420]):
        keys = _quantised_keys(arr)
        assert np.array_equal(_used_bins(keys), np.unique(keys))
