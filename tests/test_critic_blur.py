"""The critic's blurred means over a mask (the blur's adjoint on the mask) equal blurring the image with scipy."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from erm_cli.judges.critic.blur import blur_weights, blurred_mean, gaussian_weights


def _direct(img: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    f = img.astype(np.float64)
    sm = np.stack([ndi.gaussian_filter(f[..., c], sigma) for c in range(img.shape[2])], axis=-1)
    return sm[mask].mean(axis=0)


def test_matches_scipy_blur_borders_included() -> None:
    rng = np.random.default_rng(3)
    for _ in range(120):
        h, w = int(rng.integers(12, 90)), int(rng.integers(12, 90))
        img = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
        mask = rng.random((h, w)) < rng.uniform(0.01, 0.7)
        mask[0, :] |= rng.random(w) < 0.5  # marks on the border rows and columns (the reflected part)
        mask[:, -1] |= rng.random(h) < 0.5
        for sigma in (1.0, 2.5):
            np.testing.assert_allclose(blurred_mean(img, mask, sigma), _direct(img, mask, sigma), rtol=0, atol=1e-9)


def test_shared_weights_and_the_small_mask_fallback() -> None:
    rng = np.random.default_rng(4)
    a, b = (rng.integers(0, 256, (40, 60, 3)).astype(np.uint8) for _ in range(2))
    mask = np.zeros((40, 60), bool)
    mask[10:30, 5:50] = True
    w = blur_weights(mask, 2.5)
    assert w is not None and abs(w.sum() - mask.sum()) < 1e-6  # the blur keeps the mass
    np.testing.assert_allclose(blurred_mean(b, mask, 2.5, w), _direct(b, mask, 2.5), atol=1e-9)
    small = np.ones((6, 30), bool)  # thinner than the kernel's radius: computed directly
    assert blur_weights(small, 2.5) is None
    img = a[:6, :30]
    np.testing.assert_allclose(blurred_mean(img, small, 2.5), _direct(img, small, 2.5), atol=1e-3)
    k = gaussian_weights(2.5)
    assert k.size == 21 and abs(k.sum() - 1) < 1e-12
