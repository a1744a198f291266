"""Issue 12 item 4 on real renders: a candidate whose errors are a subset of another's never scores lower with
the default critic (shipped verifier), also when the superset's extra errors share the subset's category and
merge into one itemised error (the case that tied or inverted the robustness benchmark's pairwise accuracy)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from erm_cli.judges.critic import Critic

_LINES = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6.4, 4.8))
x = [2019, 2020, 2021, 2022, 2023, 2024]
ax.plot(x, [3, 5, 4, 6, 7, 9], color="{a}", marker="o", label="North")
ax.plot(x, [2, 3, 5, 5, 6, 6], color="{b}", marker="o", label="South")
ax.plot(x, [6, 4, 3, 4, 2, 3], color="{c}", marker="o", label="West")
ax.set_title("Units sold by region")
ax.set_ylabel("Units (k)")
ax.legend(loc="upper left")
"""
_COLOURS = {"a": "#1f77b4", "b": "#ff7f0e", "c": "#2ca02c"}
_NEW = {"a": "#d62728", "b": "#9467bd", "c": "#8c564b"}

_BARS = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6.4, 4.8))
ax.bar(["Q1", "Q2", "Q3", "Q4", "Q5"], [{a}, {b}, 15, {c}, 11], color="#4472c4")
ax.set_title("Quarterly revenue")
ax.set_ylabel("Revenue (M$)")
"""
_VALUES = {"a": 12, "b": 19, "c": 22}
_CHANGED = {"a": 6, "b": 9, "c": 14}


def _render(code: str) -> Image.Image:
    from erm_cli.renderers import RenderOptions, render

    res = render(code, "matplotlib", RenderOptions())
    assert res.ok and res.png, res.error
    return Image.open(io.BytesIO(res.png)).convert("RGB")


@pytest.mark.parametrize("template,old,new", [(_LINES, _COLOURS, _NEW), (_BARS, _VALUES, _CHANGED)],
                         ids=["three series recoloured", "three bars changed"])
def test_a_subset_of_errors_never_scores_lower_than_its_superset(template: str, old: dict, new: dict) -> None:
    critic = Critic()
    ref = _render(template.format(**old))
    rewards = {}
    for changed in ("", "a", "ab", "abc"):
        values = {k: (new[k] if k in changed else v) for k, v in old.items()}
        rewards[changed] = critic.judge(ref, _render(template.format(**values)), "chart").reward
    assert rewards[""] == pytest.approx(1.0)
    # each candidate holds the previous one's errors plus one: strictly lower, never tied
    assert rewards[""] > rewards["a"] > rewards["ab"] > rewards["abc"], rewards
