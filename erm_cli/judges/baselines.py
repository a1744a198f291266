"""Coarse image-similarity baselines with the judge interface: a reward, no itemised errors.

``mse`` (1 - mean squared error of RGB in [0, 1]), ``ssim`` (scikit-image structural similarity, as
StarVector computes it) and ``phash`` (64-bit DCT perceptual hash, 1 - Hamming distance / 64). Both
images are resized to one common size first (the reference's, at most ``side`` pixels on its long side),
the way these metrics are used in the literature. They exist for comparison in benchmarks: they say how
similar two images are, not what is wrong.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..errors import InputError
from .verdict import Verdict

BASELINE_NAMES = ("mse", "ssim", "phash")
BASELINE_VERSION = "1"


def _common(reference: Image.Image, candidate: Image.Image, side: int) -> tuple[np.ndarray, np.ndarray]:
    w, h = reference.size
    s = min(1.0, side / max(w, h))
    size = (max(8, round(w * s)), max(8, round(h * s)))
    a = reference.convert("RGB").resize(size, Image.BOX if s < 1 else Image.BILINEAR)
    b = candidate.convert("RGB").resize(size, Image.BOX if candidate.width > size[0] else Image.BILINEAR)
    return np.asarray(a, dtype=np.float64) / 255.0, np.asarray(b, dtype=np.float64) / 255.0


def mse_score(reference: Image.Image, candidate: Image.Image, side: int = 512) -> float:
    """1 - MSE over RGB in [0, 1] (1.0 = identical)."""
    a, b = _common(reference, candidate, side)
    return float(1.0 - np.mean((a - b) ** 2))


def ssim_score(reference: Image.Image, candidate: Image.Image, side: int = 512) -> float:
    """Structural similarity (scikit-image, 7x7 windows, RGB channels), clipped to [0, 1]."""
    from skimage.metrics import structural_similarity

    a, b = _common(reference, candidate, side)
    win = min(7, a.shape[0] - (1 - a.shape[0] % 2), a.shape[1] - (1 - a.shape[1] % 2))
    val = structural_similarity(a, b, channel_axis=-1, data_range=1.0, win_size=max(3, win))
    return float(min(1.0, max(0.0, val)))


def phash(img: Image.Image, hash_size: int = 8, highfreq: int = 4) -> np.ndarray:
    """The classic DCT perceptual hash: 64 booleans."""
    from scipy.fft import dctn

    n = hash_size * highfreq
    g = np.asarray(img.convert("L").resize((n, n), Image.LANCZOS), dtype=np.float64)
    d = dctn(g, norm="ortho")[:hash_size, :hash_size]
    return (d > np.median(d.ravel()[1:])).ravel()


def phash_score(reference: Image.Image, candidate: Image.Image) -> float:
    """1 - Hamming distance / 64 of the two perceptual hashes."""
    a, b = phash(reference), phash(candidate)
    return float(1.0 - np.count_nonzero(a != b) / a.size)


@dataclass
class BaselineJudge:
    """A similarity metric wrapped as a judge: ``Verdict.score`` carries the reward, ``errors`` is empty."""

    name: str
    version: str = BASELINE_VERSION
    side: int = 512

    def score(self, reference: Image.Image, candidate: Image.Image) -> float:
        if self.name == "mse":
            return mse_score(reference, candidate, self.side)
        if self.name == "ssim":
            return ssim_score(reference, candidate, self.side)
        return phash_score(reference, candidate)

    def judge(self, reference: Image.Image, candidate: Image.Image, task: str = "auto") -> Verdict:
        t = time.perf_counter()
        value = self.score(reference, candidate)
        if task in (None, "", "auto"):
            from .pipeline import guess_task

            task = guess_task(reference)
        v = Verdict(task=task, errors=[], judge={"name": self.name, "version": self.version}, score=value)
        v.timings["total"] = time.perf_counter() - t
        return v


def get_baseline(name: str) -> BaselineJudge:
    """``mse``, ``ssim`` or ``phash`` as a judge."""
    if name not in BASELINE_NAMES:
        raise InputError(f"unknown baseline {name!r}; choose one of: {', '.join(BASELINE_NAMES)}")
    return BaselineJudge(name=name)
