"""Channel-by-channel reductions give exactly numpy's reductions over the colour axis (real renders and edge
cases), and chart._pool gives exactly the block-wise any it replaced."""

from __future__ import annotations

import numpy as np

from erm_cli.bench.critic_speed import build_pairs
from erm_cli.judges.critic.channels import any_channel_differs, channel_mean, max_abs_diff
from erm_cli.judges.critic.chart import _pool


def test_max_abs_diff_and_channel_mean_equal_numpy_on_real_renders() -> None:
    for _task, _label, ref, cand in build_pairs(quick=True):
        a, b = np.asarray(ref), np.asarray(cand)
        if a.shape != b.shape:
            continue
        for crop in ((slice(None), slice(None)), (slice(13, 400), slice(7, 333)), (slice(5, 5), slice(0, 9))):
            x, y = a[crop].astype(np.int16), b[crop].astype(np.int16)
            want = np.abs(x - y).max(axis=2) if x.size else np.zeros(x.shape[:2], np.int16)
            got = max_abs_diff(x, y)
            assert got.dtype == want.dtype and np.array_equal(got, want)
            bg = np.asarray((255, 255, 255), np.int16)
            assert np.array_equal(max_abs_diff(x, bg), np.abs(x - bg).max(axis=2) if x.size else got)
            for dt in (np.float32, np.float64):
                ref_mean = a[crop].astype(dt).mean(axis=2)
                mine = channel_mean(a[crop], dt)
                assert mine.dtype == ref_mean.dtype and np.array_equal(mine, ref_mean)
            assert np.array_equal(channel_mean(x), x.mean(axis=2))
            assert np.array_equal(any_channel_differs(a[crop], b[crop]), (a[crop] != b[crop]).any(axis=2))


def test_extreme_values() -> None:
    x = np.array([[[0, 255, 7], [255, 255, 255], [0, 0, 0]]], np.uint8)
    y = np.array([[[255, 0, 7], [0, 0, 1], [0, 0, 0]]], np.uint8)
    for dt in (np.float32, np.float64):
        assert np.array_equal(channel_mean(x, dt), x.astype(dt).mean(axis=2))
    xi, yi = x.astype(np.int16), y.astype(np.int16)
    assert max_abs_diff(xi, yi).tolist() == [[255, 255, 0]]
    assert any_channel_differs(x, y).tolist() == [[True, True, False]]


def test_pool_equals_blockwise_any() -> None:
    rng = np.random.default_rng(0)
    for shape in ((455, 614), (3, 3), (4, 8), (101, 37), (600, 800), (2, 9)):
        for density in (0.0, 0.001, 0.05, 0.5):
            m = rng.random(shape) < density
            for k in (2, 3, 4):
                h, w = (shape[0] // k) * k, (shape[1] // k) * k
                want = m[:h, :w].reshape(h // k, k, w // k, k).any(axis=(1, 3)) if h and w else m
                got = _pool(m, k)
                assert got.dtype == want.dtype and np.array_equal(got, want)
    ints = (rng.random((40, 40)) < 0.1).astype(np.uint8) * 3  # not boolean: the generic path
    assert np.array_equal(_pool(ints, 4), ints.reshape(10, 4, 10, 4).any(axis=(1, 3)))


def test_mask_box_equals_the_extent_of_nonzero() -> None:
    from erm_cli.judges.critic.chart import _mask_box

    rng = np.random.default_rng(1)
    for shape in ((455, 614), (1, 1), (3, 9), (200, 1)):
        for density in (0.0, 0.001, 0.3, 1.0):
            m = rng.random(shape) < density
            for box in ((10.0, 20.0, 500.0, 400.0), (3, 4, 50, 60)):
                ys, xs = np.nonzero(m)
                want = box if ys.size == 0 else (box[0] + 1 + xs.min(), box[1] + 1 + ys.min(),
                                                 box[0] + 2 + xs.max(), box[1] + 2 + ys.max())
                assert _mask_box(m, box) == want
