"""Per-pixel reductions over the colour channels of an (H, W, 3) array, channel by channel.

numpy reduces over a short last axis slowly (``arr.max(axis=2)`` walks 3 values per pixel through its generic
reduction loop); the same values come 3-6x faster from element-wise operations on the three channel planes.
Each function here returns exactly what the numpy expression in its docstring returns (tested in
``tests/test_critic_channels.py``).
"""

from __future__ import annotations

import numpy as np


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.abs(a - b).max(axis=2)`` for arrays with 3 channels (a - b in their common dtype)."""
    d = np.abs(a - b)
    out = np.maximum(d[..., 0], d[..., 1])
    np.maximum(out, d[..., 2], out=out)
    return out


def any_channel_differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a != b).any(axis=2)`` for arrays with 3 channels: the pixels that differ in some channel."""
    d = a != b
    return d[..., 0] | d[..., 1] | d[..., 2]


def channel_mean(a: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """``a.astype(dtype).mean(axis=2)`` for an integer array with 3 channels and dtype float32 or float64: the sum
    of three integers is exact in either, and is divided by 3 in ``dtype`` as numpy's mean does."""
    s = a[..., 0].astype(dtype)
    s += a[..., 1]
    s += a[..., 2]
    s /= dtype(3)
    return s
