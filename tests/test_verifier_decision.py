"""The verifier's decision layer: one error per change, the reward's pair term, and what they keep of the ordering."""

from __future__ import annotations

import io
import itertools
import math

import numpy as np
import pytest
from PIL import Image

from erm_cli.judges.critic import Critic
from erm_cli.judges.critic.verifier import (
    DEFAULT_DECISION,
    EXTENT_REWARD_WEIGHT,
    MERGED_REWARD_WEIGHT,
    PAIR_REWARD_WEIGHT,
    beyond_nuisance,
    decision_rule,
    group_severity,
    merge_duplicates,
    pair_weight,
)
from erm_cli.judges.verdict import ErrorItem, Verdict


def test_one_error_per_category_the_others_merged_into_the_most_likely() -> None:
    cats = ["style_error", "data_error", "style_error", "style_error", "text_error"]
    p = np.array([0.7, 0.9, 0.95, 0.6, 0.2])
    keep = p >= 0.5
    groups = merge_duplicates(cats, p, keep, per_category=1)
    assert groups == {2: [0, 3], 1: []}  # text_error did not pass; the 0.95 style proposal heads its category
    assert list(groups) == [2, 1]  # most likely first
    two = merge_duplicates(cats, p, keep, per_category=2)
    assert two == {2: [3], 1: [], 0: []}
    assert merge_duplicates(cats, p, np.zeros(5, bool), 1) == {}


def test_decision_rule_thresholds_follow_the_pair_head() -> None:
    d = dict(DEFAULT_DECISION)
    p_real = np.array([0.55, 0.75, 0.95])
    keep, unexplained = decision_rule(p_real, 0.05, d)  # the pair looks equivalent: only a sure proposal stays
    assert keep.tolist() == [False, False, True] and not unexplained
    keep, _ = decision_rule(p_real, 0.5, d)
    assert keep.tolist() == [True, True, True]
    keep, unexplained = decision_rule(np.array([0.1]), 0.99, d)  # sure it differs, nothing explains it
    assert not keep.any() and unexplained
    keep, unexplained = decision_rule(np.array([0.1]), 0.3, d, exact_elsewhere=True)  # no nuisance at all
    assert keep.all() and not unexplained


def test_an_extreme_aspect_ratio_is_certain_whatever_the_heads_say() -> None:
    # no rasterisation route turns a 4:3 figure into a 20:1 strip (test_bad_images checks it on a real render)
    assert beyond_nuisance(13.5) and beyond_nuisance(3.0)
    assert not beyond_nuisance(1.2) and not beyond_nuisance(None) and not beyond_nuisance(float("nan"))


def test_pair_weight_is_zero_for_a_pair_that_looks_equivalent_and_below_one_minor_error() -> None:
    d = dict(DEFAULT_DECISION)
    floor = d["reward_pair_floor"]
    assert pair_weight(0.0, d) == 0.0 and pair_weight(floor, d) == 0.0
    ws = [pair_weight(p, d) for p in np.linspace(floor, 1.0, 21)]
    assert all(b >= a for a, b in itertools.pairwise(ws)) and ws[-1] == pytest.approx(PAIR_REWARD_WEIGHT)
    # merged duplicates add a little more, never reaching one minor error's weight (1 in the ordered reward)
    assert pair_weight(0.0, d, merged=3) > 0.0
    assert pair_weight(1.0, d, merged=2) > pair_weight(1.0, d, merged=1) > pair_weight(1.0, d)
    assert pair_weight(1.0, d, merged=10_000) <= PAIR_REWARD_WEIGHT + MERGED_REWARD_WEIGHT < 1.0
    # a larger changed area adds a little more (scaled like the pair head's term), all of it below one minor error
    assert pair_weight(0.0, d, changed_share=0.5) == 0.0
    assert pair_weight(1.0, d, changed_share=0.02) > pair_weight(1.0, d, changed_share=0.01) > pair_weight(1.0, d)
    assert pair_weight(0.6, d, changed_share=0.02) < pair_weight(1.0, d, changed_share=0.02)
    assert pair_weight(1.0, d, changed_share=float("nan")) == pair_weight(1.0, d)
    # it never levels off: two candidates that both changed much of the image still differ (a chart type
    # change with or without more edits)
    big = [pair_weight(1.0, d, changed_share=s) for s in (0.1, 0.3, 0.6, 1.0)]
    assert big == sorted(big) and len(set(big)) == 4, big
    assert pair_weight(1.0, d, changed_share=5.0) == pair_weight(1.0, d, changed_share=1.0)
    top = pair_weight(1.0, d, merged=10_000, changed_share=1.0)
    assert top <= PAIR_REWARD_WEIGHT + MERGED_REWARD_WEIGHT + EXTENT_REWARD_WEIGHT < 1.0


def test_a_kept_error_takes_the_worst_severity_of_what_was_merged_into_it() -> None:
    props = [{"severity": 1}, {"severity": 2}, {"severity": 3}]
    sev = np.array([1.0, 2.2, 1.0])
    p = np.array([0.9, 0.8, 0.7])
    assert group_severity(props, sev, p, 0, []) == 1
    assert group_severity(props, sev, p, 0, [1]) == 2
    assert group_severity(props, sev, p, 0, [1, 2]) == 3  # proposed severe stays severe


def _verdict(errors: list[tuple[str, int]], pw: float) -> Verdict:
    v = Verdict(task="chart", errors=[ErrorItem(c, s, "somewhere", "something") for c, s in errors],
                reward_formula="ordered")
    v.pair_weight = pw
    return v


def test_pair_term_orders_equal_errors_and_never_reorders_different_ones() -> None:
    # the same errors: the pair the head finds more different scores lower
    assert _verdict([("data_error", 2)], 0.1).reward > _verdict([("data_error", 2)], 0.8).reward
    # a subset of another's errors never scores lower, whatever the two pair terms
    top = PAIR_REWARD_WEIGHT + MERGED_REWARD_WEIGHT + EXTENT_REWARD_WEIGHT
    for pw_sub in (0.0, 0.5, top):
        for pw_sup in (0.0, 0.5, top):
            sub = _verdict([("text_error", 1)], pw_sub)
            sup = _verdict([("text_error", 1), ("style_error", 1)], pw_sup)
            assert sub.reward > sup.reward
            # one structural change never scores above a single minor error
            assert _verdict([("structure_error", 1)], pw_sub).reward < _verdict([("style_error", 1)], pw_sup).reward
    # no error and no pair term: 1.0; the released formula ignores the term (Visual-ERM parity)
    assert _verdict([], 0.0).reward == 1.0
    released = _verdict([("text_error", 1)], 0.7)
    released.reward_formula = "released"
    assert released.reward == pytest.approx(1 - 1 / 50)


def test_pair_weight_survives_the_json_round_trip() -> None:
    v = _verdict([("data_error", 2)], 0.4321)
    d = v.to_dict()
    assert d["pair_weight"] == 0.4321 and d["reward"] == pytest.approx(math.exp(-(3 + 0.4321) / 30), abs=1e-6)
    back = Verdict.from_dict(d)
    assert back.pair_weight == pytest.approx(0.4321) and back.reward == pytest.approx(v.reward)
    assert "pair_weight" not in _verdict([], 0.0).to_dict()


_BARS = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6.4, 4.8))
ax.bar(["A", "B", "C", "D", "E", "F"], [12, 19, 15, 22, 9, 17], color={colours})
ax.set_title("Six products")
ax.set_ylabel("Units")
"""


def _render(code: str) -> Image.Image:
    from erm_cli.renderers import RenderOptions, render

    res = render(code, "matplotlib", RenderOptions())
    assert res.ok and res.png, res.error
    return Image.open(io.BytesIO(res.png)).convert("RGB")


def test_one_change_itemised_by_the_analysers_is_one_error_with_the_others_in_its_evidence() -> None:
    ref = _render(_BARS.format(colours='"#4472c4"'))
    # one change: every bar repainted in its own colour (a palette instead of one colour)
    cand = _render(_BARS.format(colours='["#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628"]'))
    raw = Critic(verifier=False).judge(ref, cand, "chart")
    v = Critic().judge(ref, cand, "chart")
    assert v.errors, "the repainted bars are reported"
    cats = [e.category for e in v.errors]
    assert len(cats) == len(set(cats)), [e.to_dict() for e in v.errors]  # one error per category
    assert len(v.errors) <= len(raw.errors)
    info = v.info["verifier"]
    merged = sum(len(e.evidence.get("merged", [])) for e in v.errors if e.evidence)
    assert info["merged"] == merged
    assert info["kept"] == len(v.errors)
    assert v.reward < 1.0
