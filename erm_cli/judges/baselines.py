"""Coarse image-similarity baselines with the judge interface: a reward, no itemised errors.

``mse`` (1 - mean squared error on [0, 1] greyscale), ``ssim`` (structural similarity, scikit-image),
``phash`` (1 - Hamming distance / 64 of a 64-bit DCT perceptual hash). Both images are resized to a
common size first. They exist to be beaten: they cannot say *what* is wrong.
"""

from __future__ import annotations

import time

import numpy as np
from PIL import Image

from .verdict import Verdict

#: Side of the square both images are resized to for MSE and SSIM.
COMPARE_SIDE = 256


def _grey(img: Image.Image, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(img.convert("L").resize(size, Image.Resampling.BILINEAR), dtype=np.float64) / 255.0


def _common_size(a: Image.Image, b: Image.Image) -> tuple[int, int]:
    # keep the reference's aspect ratio; the longer side is COMPARE_SIDE
    w, h = a.size
    scale = COMPARE_SIDE / max(w, h)
    return max(8, round(w * scale)), max(8, round(h * scale))


def mse_score(reference: Image.Image, candidate: Image.Image) -> float:
    size = _common_size(reference, candidate)
    a, b = _grey(reference, size), _grey(candidate, size)
    return float(1.0 - np.mean((a - b) ** 2))


def ssim_score(reference: Image.Image, candidate: Image.Image) -> float:
    from skimage.metrics import structural_similarity

    size = _common_size(reference, candidate)
    a, b = _grey(reference, size), _grey(candidate, size)
    return float(max(0.0, structural_similarity(a, b, data_range=1.0)))


def phash_bits(img: Image.Image) -> np.ndarray:
    """64-bit perceptual hash: DCT of a 32x32 greyscale thumbnail, top-left 8x8 against its median."""
    from scipy.fft import dctn

    small = np.asarray(img.convert("L").resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    low = dctn(small, norm="ortho")[:8, :8].ravel()
    return low > np.median(low[1:])


def phash_score(reference: Image.Image, candidate: Image.Image) -> float:
    return float(1.0 - np.count_nonzero(phash_bits(reference) != phash_bits(candidate)) / 64.0)


SCORERS = {"mse": mse_score, "ssim": ssim_score, "phash": phash_score}


class BaselineJudge:
    """A similarity score as a judge: ``Verdict.score`` is set, ``errors`` stays empty."""

    version = "1"

    def __init__(self, name: str) -> None:
        if name not in SCORERS:
            raise ValueError(f"unknown baseline {name!r}; choose one of: {', '.join(SCORERS)}")
        self.name = name
        self._score = SCORERS[name]

    def judge(self, reference: Image.Image, candidate: Image.Image, task: str) -> Verdict:
        t0 = time.perf_counter()
        score = self._score(reference, candidate)
        return Verdict(task=task, errors=[], judge={"name": self.name, "version": self.version},
                       score=score, timings={"judge": time.perf_counter() - t0})


def get_baseline(name: str) -> BaselineJudge:
    return BaselineJudge(name)
