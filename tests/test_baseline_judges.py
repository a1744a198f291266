"""Coarse baselines (MSE, SSIM, pHash): identical pairs score 1, a real change scores lower."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from erm_cli.judges import get_judge


def _chart(bar_height: int, colour: str = "#1f77b4") -> Image.Image:
    img = Image.new("RGB", (320, 240), "white")
    d = ImageDraw.Draw(img)
    d.line([(40, 200), (300, 200)], fill="black", width=2)
    d.rectangle([80, 200 - bar_height, 130, 200], fill=colour)
    d.rectangle([180, 120, 230, 200], fill=colour)
    return img


@pytest.mark.parametrize("name", ["mse", "ssim", "phash"])
def test_identical_is_one_and_changed_is_lower(name: str) -> None:
    judge = get_judge(name)
    ref = _chart(150)
    same = judge.judge(ref, ref.copy(), "chart")
    assert same.reward == 1.0 and same.errors == [] and same.judge["name"] == name
    changed = judge.judge(ref, _chart(40, "#d62728"), "chart")
    assert 0.0 <= changed.reward < 1.0
    assert changed.to_dict()["score"] == pytest.approx(changed.reward, abs=1e-6)


def test_baselines_tolerate_a_rescaled_copy() -> None:
    ref = _chart(150)
    bigger = ref.resize((640, 480), Image.Resampling.BICUBIC)
    for name in ("mse", "ssim", "phash"):
        assert get_judge(name).judge(ref, bigger, "chart").reward > 0.9
