"""Means of a Gaussian-blurred image over a mask, without blurring the image.

``mean(gaussian_filter(img[..., c], sigma)[mask])`` for every channel c equals
``sum(img[..., c] * W) / mask.sum()`` with ``W = G^T mask``: the blur's adjoint applied once to the mask
(one channel, shared by every image compared over the same mask) instead of the blur applied to each
channel of each image. Borders follow scipy's default ``mode="reflect"`` (``d c b a | a b c d | d c b a``):
the adjoint of a reflected correlation is a zero-padded correlation whose overhang is folded back.
Agrees with the direct computation to float rounding (``tests/test_critic_blur.py``).
"""

from __future__ import annotations

import numpy as np


def gaussian_weights(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """scipy.ndimage.gaussian_filter1d's kernel (order 0) for ``sigma`` and ``truncate``."""
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (float(sigma) * float(sigma)) * x * x)
    return phi / phi.sum()


def _adjoint_1d(w: np.ndarray, k: np.ndarray, axis: int) -> np.ndarray:
    from scipy import ndimage as ndi

    R = (k.size - 1) // 2
    n = w.shape[axis]
    pad = [(0, 0)] * w.ndim
    pad[axis] = (R, R)
    u = ndi.correlate1d(np.pad(w, pad), k[::-1], axis=axis, mode="constant", cval=0.0)
    u = np.moveaxis(u, axis, 0)
    out = u[R:R + n].copy()
    out[:R] += u[R - 1::-1] if R else 0.0  # p = -1..-R reflect to m = 0..R-1
    if R:
        out[n - R:] += u[n + 2 * R - 1:n + R - 1:-1]  # p = n..n+R-1 reflect to m = n-1..n-R
    return np.moveaxis(out, 0, axis)


def blur_weights(mask: np.ndarray, sigma: float, truncate: float = 4.0) -> np.ndarray | None:
    """``G^T mask`` for scipy's 2-D ``gaussian_filter(., sigma)`` (None when the mask is too small for a
    single reflection of the kernel: use the direct computation then)."""
    k = gaussian_weights(sigma, truncate)
    R = (k.size - 1) // 2
    if min(mask.shape) <= R:
        return None
    w = mask.astype(np.float64)
    return _adjoint_1d(_adjoint_1d(w, k, 0), k, 1)


def blurred_mean(img: np.ndarray, mask: np.ndarray, sigma: float, weights: np.ndarray | None = None) -> np.ndarray:
    """Per channel: the mean over ``mask`` of ``img`` (H x W x C) blurred by scipy's ``gaussian_filter`` with
    ``sigma`` per channel. ``weights``: :func:`blur_weights` of ``mask`` when already computed."""
    wts = weights if weights is not None else blur_weights(mask, sigma)
    if wts is None:
        from scipy import ndimage as ndi

        f = img.astype(np.float32)
        sm = np.stack([ndi.gaussian_filter(f[..., c], sigma) for c in range(img.shape[2])], axis=-1)
        return sm[mask].mean(axis=0)
    n = float(mask.sum())
    return np.tensordot(wts, img.astype(np.float64), axes=([0, 1], [0, 1])) / n
