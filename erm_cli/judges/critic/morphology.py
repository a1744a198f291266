"""Binary morphology for the critic: the same results as ``scipy.ndimage``'s, several times faster.

The critic's analysers dilate, close and open masks of whole plot areas with small symmetric structuring
elements (the 4-neighbour cross iterated k times, i.e. a diamond; a disc; a vertical or horizontal line).
``scipy.ndimage.binary_*`` visits every element of the structure at every pixel; here the cross is
applied as four shifted array operations per iteration, and any other structure is split into horizontal
runs, one per row, each run's window built by doubling (log2 of its width in array operations) and the
rows combined by shifts: 10-40x faster on a plot-sized mask. Borders follow scipy's defaults exactly: nothing
outside the image is set when dilating, and outside counts as unset when eroding (``border_value=0``),
so a closing or an opening gives bit-identical masks (``tests/test_critic_morphology.py`` checks this
against scipy).

    dilate(m, iterations=5)            # == ndi.binary_dilation(m, iterations=5)
    close_(m, line(15, vertical=True)) # == ndi.binary_closing(m, structure=np.ones((15, 1), bool))
    open_(m, disc(3))                  # == ndi.binary_opening(m, structure=disc(3))
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: A structuring element as (row offset, half-width) runs: row dy holds columns -w..w (centred, symmetric).
Runs = tuple[tuple[int, int], ...]


@lru_cache(maxsize=64)
def diamond(k: int) -> Runs:
    """The 4-neighbour cross iterated ``k`` times (scipy's default structure with ``iterations=k``)."""
    return tuple((dy, k - abs(dy)) for dy in range(-k, k + 1))


@lru_cache(maxsize=64)
def disc(r: int) -> Runs:
    """The disc ``x*x + y*y <= r*r + 0.5`` of a (2r+1)-square."""
    out = []
    for dy in range(-r, r + 1):
        w = 0
        while (w + 1) ** 2 + dy * dy <= r * r + 0.5:
            w += 1
        out.append((dy, w))
    return tuple(out)


def disc_array(r: int) -> np.ndarray:
    """:func:`disc` as the boolean array scipy takes."""
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return (xx * xx + yy * yy) <= r * r + 0.5


@lru_cache(maxsize=64)
def square(k: int) -> Runs:
    """A ``k`` x ``k`` square (``k`` odd): ``np.ones((k, k), bool)``."""
    if k % 2 != 1:
        raise ValueError("square size must be odd (a centred structure)")
    h = k // 2
    return tuple((dy, h) for dy in range(-h, h + 1))


@lru_cache(maxsize=64)
def line(k: int, vertical: bool) -> Runs:
    """A ``k``-pixel line (``k`` odd): ``np.ones((k, 1))`` when ``vertical`` else ``np.ones((1, k))``."""
    if k % 2 != 1:
        raise ValueError("line length must be odd (a centred structure)")
    h = k // 2
    return tuple((dy, 0) for dy in range(-h, h + 1)) if vertical else ((0, h),)


def _row_windows(m: np.ndarray, w: int, erode: bool) -> np.ndarray:
    """Per pixel: are all (``erode``) / any of the 2w+1 pixels of its row centred on it set (outside =
    unset)? Windows are built by doubling: log2(2w+1) array operations."""
    H, W = m.shape
    L = 2 * w + 1
    a = np.zeros((H, W + 2 * w), bool)
    a[:, w:w + W] = m
    op = np.logical_and if erode else np.logical_or
    span = 1
    while 2 * span <= L:
        a = op(a[:, :-span], a[:, span:])  # a[x] covers [x, x + 2 span)
        span *= 2
    return op(a[:, :W], a[:, L - span:L - span + W])


def _cross(m: np.ndarray, erode: bool) -> np.ndarray:
    """One step of scipy's default cross (4 neighbours and the pixel itself)."""
    out = m.copy()
    if erode:
        out[1:] &= m[:-1]
        out[:-1] &= m[1:]
        out[:, 1:] &= m[:, :-1]
        out[:, :-1] &= m[:, 1:]
        out[0] = out[-1] = False
        out[:, 0] = out[:, -1] = False
    else:
        out[1:] |= m[:-1]
        out[:-1] |= m[1:]
        out[:, 1:] |= m[:, :-1]
        out[:, :-1] |= m[:, 1:]
    return out


def _apply(m: np.ndarray, runs: Runs | None, iterations: int, erode: bool) -> np.ndarray:
    m = np.asarray(m, bool)
    if m.ndim != 2 or m.size == 0 or (runs is None and iterations < 1):
        from scipy import ndimage as ndi

        fn = ndi.binary_erosion if erode else ndi.binary_dilation
        return fn(m, iterations=iterations) if runs is None else fn(m, structure=_array(runs))
    if runs is None:  # the cross iterated: a diamond
        for _ in range(iterations):
            m = _cross(m, erode)
        return m
    H, _ = m.shape
    rows = {w: (m if w == 0 else _row_windows(m, w, erode)) for w in sorted({w for _, w in runs})}
    out = np.ones(m.shape, bool) if erode else np.zeros(m.shape, bool)
    for dy, w in runs:
        r = rows[w]
        if abs(dy) >= H:
            if erode:
                out[:] = False
            continue
        if erode:  # out[y] needs r[y + dy]; rows whose neighbour lies outside are unset
            if dy > 0:
                out[:H - dy] &= r[dy:]
                out[H - dy:] = False
            elif dy < 0:
                out[-dy:] &= r[:H + dy]
                out[:-dy] = False
            else:
                out &= r
        else:  # symmetric structures: reflecting them (as dilation does) changes nothing
            if dy > 0:
                out[:H - dy] |= r[dy:]
            elif dy < 0:
                out[-dy:] |= r[:H + dy]
            else:
                out |= r
    return out


def _array(runs: Runs) -> np.ndarray:
    r = max(max(abs(dy) for dy, _ in runs), max(w for _, w in runs))
    a = np.zeros((2 * r + 1, 2 * r + 1), bool)
    for dy, w in runs:
        a[r + dy, r - w:r + w + 1] = True
    return a


def erode(m: np.ndarray, runs: Runs | None = None, iterations: int = 1) -> np.ndarray:
    """``ndi.binary_erosion(m, structure)`` for a symmetric centred structure given as runs, or with
    ``runs=None`` ``ndi.binary_erosion(m, iterations=iterations)`` (the cross, iterated)."""
    return _apply(m, runs, iterations, erode=True)


def dilate(m: np.ndarray, runs: Runs | None = None, iterations: int = 1) -> np.ndarray:
    """``ndi.binary_dilation(m, structure)`` for a symmetric centred structure given as runs, or with
    ``runs=None`` ``ndi.binary_dilation(m, iterations=iterations)`` (the cross, iterated)."""
    return _apply(m, runs, iterations, erode=False)


def close_(m: np.ndarray, runs: Runs | None = None, iterations: int = 1) -> np.ndarray:
    """``ndi.binary_closing``: dilation then erosion (outside unset)."""
    return erode(dilate(m, runs, iterations), runs, iterations)


def open_(m: np.ndarray, runs: Runs | None = None, iterations: int = 1) -> np.ndarray:
    """``ndi.binary_opening``: erosion (outside unset) then dilation."""
    return dilate(erode(m, runs, iterations), runs, iterations)


def count_in_labels(mask: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """``ndi.sum(mask, labels, index=np.arange(1, n + 1))`` for a boolean ``mask``: set pixels per label 1..n
    (float64, as scipy returns), by one bincount."""
    if n <= 0:
        return np.zeros(0, np.float64)
    return np.bincount(labels[np.asarray(mask, bool)], minlength=n + 1)[1:n + 1].astype(np.float64)
