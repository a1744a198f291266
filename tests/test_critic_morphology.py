"""The critic's fast binary morphology gives exactly scipy.ndimage's masks (borders included)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from erm_cli.judges.critic import morphology as mo


def _masks(seed: int, n: int = 60) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        h, w = int(rng.integers(1, 48)), int(rng.integers(1, 48))
        m = rng.random((h, w)) < rng.uniform(0.03, 0.9)
        for _ in range(int(rng.integers(0, 4))):  # solid blocks touching the borders, thin strokes
            y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
            m[y:y + int(rng.integers(1, 20)), x:x + int(rng.integers(1, 20))] = True
        out.append(m)
    return out


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_cross_iterated_matches_scipy(k: int) -> None:
    for m in _masks(k):
        assert np.array_equal(mo.dilate(m, iterations=k), ndi.binary_dilation(m, iterations=k))
        assert np.array_equal(mo.erode(m, iterations=k), ndi.binary_erosion(m, iterations=k))
        assert np.array_equal(mo.close_(m, iterations=k), ndi.binary_closing(m, iterations=k))
        assert np.array_equal(mo.open_(m, iterations=k), ndi.binary_opening(m, iterations=k))


@pytest.mark.parametrize("r", [1, 2, 3, 4, 7])
def test_disc_matches_scipy(r: int) -> None:
    disc = mo.disc_array(r)
    for m in _masks(100 + r):
        assert np.array_equal(mo.erode(m, mo.disc(r)), ndi.binary_erosion(m, structure=disc))
        assert np.array_equal(mo.dilate(m, mo.disc(r)), ndi.binary_dilation(m, structure=disc))
        assert np.array_equal(mo.open_(m, mo.disc(r)), ndi.binary_opening(m, structure=disc))


@pytest.mark.parametrize("k", [3, 5, 9, 15])
def test_lines_and_squares_match_scipy(k: int) -> None:
    for m in _masks(200 + k):
        for vertical, st in ((True, np.ones((k, 1), bool)), (False, np.ones((1, k), bool))):
            assert np.array_equal(mo.close_(m, mo.line(k, vertical)), ndi.binary_closing(m, structure=st))
        assert np.array_equal(mo.close_(m, mo.square(k)), ndi.binary_closing(m, structure=np.ones((k, k), bool)))


def test_plot_sized_mask_and_degenerate_inputs() -> None:
    rng = np.random.default_rng(7)
    m = np.zeros((450, 620), bool)
    m[100:300, 50:80] = True  # a bar
    m[rng.integers(0, 450, 800), rng.integers(0, 620, 800)] = True  # scattered dots
    m[200, :] = True  # a one-pixel rule across the whole width
    assert np.array_equal(mo.close_(m, mo.line(15, True)), ndi.binary_closing(m, structure=np.ones((15, 1), bool)))
    assert np.array_equal(mo.open_(m, mo.disc(3)), ndi.binary_opening(m, structure=mo.disc_array(3)))
    assert np.array_equal(mo.dilate(m, iterations=5), ndi.binary_dilation(m, iterations=5))
    empty = np.zeros((0, 5), bool)
    assert mo.dilate(empty, iterations=2).shape == (0, 5)
    assert not mo.erode(np.ones((1, 9), bool)).any()  # the cross reaches outside a one-row image
    with pytest.raises(ValueError):
        mo.line(4, True)


def test_count_in_labels_matches_ndimage_sum() -> None:
    for i, m in enumerate(_masks(300, 20)):
        lab, n = ndi.label(m)
        other = np.random.default_rng(i).random(m.shape) < 0.5
        for mask in (m, other):
            got = mo.count_in_labels(mask, lab, n)
            assert got.dtype == np.float64
            assert np.array_equal(got, ndi.sum(mask, lab, index=np.arange(1, n + 1)) if n else np.zeros(0))
