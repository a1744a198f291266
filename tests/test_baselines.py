"""The coarse baselines next to the critic: they give a similarity, not errors, and they saturate on the
fine-grained differences the critic itemises (the paper's core finding)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from erm_cli.judges import get_judge
from erm_cli.judges.baselines import get_baseline, phash


def chart(values=(23, 35, 30, 42), title="Revenue by quarter (2024)", colour="#1f77b4") -> Image.Image:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 6))
    ax.bar(["Q1", "Q2", "Q3", "Q4"], values, color=colour)
    ax.set_title(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def test_phash_is_64_bits_and_stable_under_rescaling() -> None:
    a = chart()
    h = phash(a)
    assert h.shape == (64,) and h.dtype == bool
    assert np.count_nonzero(h != phash(a.resize((400, 300), Image.BOX))) <= 2


def test_unknown_baseline_is_a_clear_error() -> None:
    from erm_cli.errors import InputError

    with pytest.raises(InputError, match="unknown baseline"):
        get_baseline("dino")


def test_baselines_saturate_where_the_critic_itemises() -> None:
    ref = chart()
    fine = chart(values=(23, 35, 33, 42), title="Revenue by quarter (2023)")  # one bar, one digit
    critic = get_judge("critic").judge(ref, fine, "chart")
    cats = {e.category for e in critic.errors}
    assert {"data_error", "text_error"} <= cats and critic.reward < 1.0
    for name in ("ssim", "mse", "phash"):
        v = get_judge(name).judge(ref, fine, "chart")
        assert v.errors == [] and v.score is not None
        assert v.reward > 0.9, (name, v.reward)  # near-identical by the coarse measure


def test_baselines_order_a_bigger_change_lower() -> None:
    ref = chart()
    small = chart(values=(23, 35, 33, 42))
    large = chart(values=(40, 12, 33, 20), colour="#d62728")
    for name in ("ssim", "mse"):
        j = get_judge(name)
        assert j.judge(ref, ref, "chart").reward == pytest.approx(1.0)
        assert j.judge(ref, small, "chart").reward > j.judge(ref, large, "chart").reward
