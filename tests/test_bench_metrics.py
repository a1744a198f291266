"""Hand-computed cases for the VC-RewardBench metrics, the matchers and the reward separation figures."""

from __future__ import annotations

import math

import pytest

from erm_cli.bench.judge_metrics import (
    Counts,
    ItemMatch,
    Pair,
    allowed_errors,
    auroc,
    f1_hard,
    f1_soft,
    item_counts,
    pairwise_accuracy,
    pearson,
    reward_separation,
    reward_severity_correlation,
    vcbench_metrics,
)
from erm_cli.bench.matching import (
    LLMMatcher,
    MatchRequest,
    OfflineMatcher,
    build_match_prompt,
    clean_pairs,
    error_similarity,
    parse_match_answer,
    tokens,
)
from erm_cli.judges.verdict import ErrorItem


def E(cat: str, sev: int = 1, loc: str = "", desc: str = "") -> ErrorItem:
    return ErrorItem(category=cat, severity=sev, location=loc, description=desc)


def test_f1_definitions_follow_the_released_code():
    # TP=2, FP=1, FN=1 -> P = R = 2/3 -> F1 = 2/3
    assert f1_hard(2, 1, 1) == pytest.approx(2 / 3)
    # empty case: hard is 1.0, soft is 0.0 (the released code's two helpers differ)
    assert f1_hard(0, 0, 0) == 1.0
    assert f1_soft(0, 0, 0) == 0.0
    # soft TP 1.5, FP 1, FN 0 -> P = 1.5/2.5 = 0.6, R = 1 -> F1 = 2*0.6/1.6 = 0.75
    assert f1_soft(1.5, 1, 0) == pytest.approx(0.75)


def test_item_counts_partial_pairs_leave_hard_tp_fp_and_fn():
    # gold: text, data, style; pred: text (yes), data (partial), structure (unmatched)
    m = ItemMatch(
        "a",
        "chart",
        gold=[E("text_error"), E("data_error"), E("style_error")],
        pred=[E("text_error"), E("data_error"), E("structure_error")],
        pairs=[Pair(0, 0, "yes"), Pair(1, 1, "partial")],
    )
    overall, by_type = item_counts(m)
    assert (overall.tp_hard, overall.tp_soft, overall.fp, overall.fn) == (1, 1.5, 1, 1)
    # hard: P = 1/2, R = 1/2 -> 0.5 ; soft: P = 1.5/2.5 = 0.6, R = 0.6 -> 0.6
    assert overall.f1_hard == pytest.approx(0.5)
    assert overall.f1_soft == pytest.approx(0.6)
    assert (by_type["data_error"].tp_hard, by_type["data_error"].tp_soft) == (0, 0.5)
    assert by_type["structure_error"].fp == 1 and by_type["style_error"].fn == 1


def test_item_match_rejects_non_one_to_one_pairs():
    with pytest.raises(ValueError):
        ItemMatch(
            "a",
            "chart",
            gold=[E("text_error")],
            pred=[E("text_error"), E("text_error")],
            pairs=[Pair(0, 0, "yes"), Pair(1, 0, "yes")],
        )
    with pytest.raises(ValueError):
        ItemMatch("a", "chart", gold=[E("text_error")], pred=[E("text_error")], pairs=[Pair(0, 0, "no")])


def test_allowed_errors_drop_other_tasks_types():
    errs = [E("text_error"), E("layout_error"), E("shape_error")]
    assert [e.category for e in allowed_errors(errs, "table")] == ["text_error", "layout_error"]


def test_vcbench_metrics_micro_sums_and_pooled_sc():
    items = [
        # chart item 1: gold sev 3+2=5, pred sev 3 ; one yes pair
        ItemMatch(
            "c1",
            "chart",
            gold=[E("text_error", 3), E("data_error", 2)],
            pred=[E("text_error", 3)],
            pairs=[Pair(0, 0, "yes")],
        ),
        # chart item 2: gold 1, pred 1+1=2 ; one partial pair, one unmatched pred
        ItemMatch(
            "c2",
            "chart",
            gold=[E("style_error", 1)],
            pred=[E("style_error", 1), E("data_error", 1)],
            pairs=[Pair(0, 0, "partial")],
        ),
        # table item: gold 2, pred 0 -> FN 1
        ItemMatch("t1", "table", gold=[E("numeric_error", 2)], pred=[]),
    ]
    m = vcbench_metrics(items)
    chart = m["chart"]
    # chart micro: tp_hard 1, tp_soft 1.5, fp 1 (c2 data), fn 1 (c1 data)
    assert (chart["tp_hard"], chart["tp_soft"], chart["fp"], chart["fn"]) == (1, 1.5, 1, 1)
    assert chart["f1_hard"] == pytest.approx(50.0)  # P = R = 1/2
    assert chart["f1_soft"] == pytest.approx(60.0)  # P = R = 1.5/2.5
    # chart Sc over (pred, gold) = (3, 5), (2, 1): both fall together -> two points correlate +1
    assert chart["sc"] == pytest.approx(100.0)
    # table: one item only -> Pearson undefined
    assert m["table"]["sc"] is None and m["table"]["f1_hard"] == 0.0
    # overall pools all three items: pred (3, 2, 0), gold (5, 1, 2)
    # means 5/3 and 8/3; cov = (4/3)(7/3) + (1/3)(-5/3) + (-5/3)(-2/3) = (28 - 5 + 10)/9 = 33/9
    # var_p = (16 + 1 + 25)/9 = 42/9 ; var_g = (49 + 25 + 4)/9 = 78/9 -> r = 33 / sqrt(42 * 78)
    assert m["overall"]["sc"] == pytest.approx(100 * 33 / math.sqrt(42 * 78), abs=1e-3)
    assert m["overall"]["fn"] == 2 and m["overall"]["gold_errors"] == 4
    # per-type support of the chart data_error: gold 1 (c1), pred 1 (c2)
    assert chart["per_type"]["data_error"]["support"] == {"gold": 1, "pred": 1}


def test_pearson_undefined_cases():
    assert pearson([1, 2], [3, 3]) is None
    assert pearson([1], [1]) is None
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)


def test_auroc_counts_ties_as_half():
    # positives (0.9, 0.5), negatives (0.5, 0.1): pairs (0.9>0.5) (0.9>0.1) (0.5=0.5 -> 0.5) (0.5>0.1)
    # -> (1 + 1 + 0.5 + 1) / 4 = 0.875
    assert auroc([0.9, 0.5], [0.5, 0.1]) == pytest.approx(0.875)
    assert auroc([], [0.1]) is None
    sep = reward_separation([1.0, 0.8, 0.2], [0, 2, 1])
    assert sep["auroc"] == pytest.approx(100.0) and sep["n_no_error"] == 1 and sep["n_error"] == 2


def test_pairwise_accuracy_and_reward_correlation():
    acc = pairwise_accuracy([(0.9, 0.1), (0.5, 0.5), (0.2, 0.7), (1.0, 0.0)])
    # wins 2, ties 1, losses 1 -> (2 + 0.5) / 4 = 62.5 %, strict 50 %, ties 25 %
    assert acc == {"accuracy": 62.5, "strict": 50.0, "ties": 25.0, "pairs": 4}
    # 1 - reward = (0, 0.5, 1) against gold totals (0, 2, 4): perfectly linear
    assert reward_severity_correlation([1.0, 0.5, 0.0], [0, 2, 4]) == pytest.approx(100.0)


def test_counts_add():
    c = Counts()
    c.add(Counts(1, 1.5, 2, 3))
    c.add(Counts(1, 1, 0, 0))
    assert (c.tp_hard, c.tp_soft, c.fp, c.fn) == (2, 2.5, 2, 3)


# ----------------------------------------------------------------------------------------------
# matchers
# ----------------------------------------------------------------------------------------------


def test_tokens_normalise_spelling_and_stopwords():
    assert tokens("The colour of the bars") == {"color", "bar"}
    assert "2021" in tokens("title says 2021") and "3.5" in tokens("value 3.5 instead")
    # hex codes and ΔE figures are evidence, not words to match on
    assert tokens("colour #1f77b4 (blue) expected, ΔE2000 = 52") == {"color", "blue"}


def test_error_similarity_hand_computed():
    g = E("text_error", 2, "Chart title", "Title reads 'Sales 2020' instead of 'Sales 2021'")
    p = E("text_error", 2, "title", "title text differs: Sales 2020 vs Sales 2021")
    # locations: {chart, title} vs {title} -> Dice = 2*1/3 = 2/3
    # all tokens gold {chart, title, read, sale, 2020, 2021} ; pred {title, text, differ, sale, 2020, 2021}
    # intersection {title, sale, 2020, 2021} = 4 -> Dice = 8/12 = 2/3 ; total 0.3*2/3 + 0.7*2/3 = 2/3
    assert error_similarity(g, p) == pytest.approx(2 / 3)
    assert error_similarity(g, E("data_error", 2, "title", "Sales 2020")) == 0.0


def test_offline_matcher_one_to_one_with_levels():
    gold = [
        E("text_error", 2, "Chart title", "Title reads 'Sales 2020' instead of 'Sales 2021'"),
        E("style_error", 1, "Red line", "line colour is blue instead of red"),
    ]
    pred = [
        E("style_error", 1, "line", "the red line is drawn in blue"),
        E("text_error", 1, "x axis label", "axis label missing"),
        E("text_error", 2, "title", "title text differs: Sales 2020 vs Sales 2021"),
    ]
    m = OfflineMatcher().match_one(MatchRequest("i", "chart", gold, pred))
    pairs = {(p.pred, p.gold): p.level for p in m.pairs}
    assert pairs[(2, 0)] == "yes"
    assert (0, 1) in pairs  # the colour error pairs with the colour error
    assert all(p.pred != 1 for p in m.pairs)  # the axis-label error stays unmatched


def test_llm_answer_cleaning_mirrors_evaluation_py():
    obj = parse_match_answer(
        '<think>hmm</think>```json\n{"matches": [{"pred_id": 0, "gt_id": 1, "match_level": '
        '"yes"}, {"pred_id": 1, "gt_id": 1, "match_level": "partial"}, {"pred_id": 5, '
        '"gt_id": 0, "match_level": "yes"}, {"pred_id": 1, "gt_id": 0, "match_level": '
        '"no"}, {"pred_id": true, "gt_id": 0, "match_level": "yes"}]}\n```'
    )
    pairs = clean_pairs(obj, n_pred=2, n_gold=2)
    # the 2nd reuses gold 1 (dropped), the 3rd is out of range, the 4th is "no", the 5th is a bool
    assert pairs == [Pair(0, 1, "yes")]
    with pytest.raises(ValueError):
        parse_match_answer("no json here")


def test_match_prompt_lists_both_sides_with_ids():
    req = MatchRequest(
        "i",
        "table",
        [E("numeric_error", 2, "", "cell B2 shows 4.1 not 4.7")],
        [E("numeric_error", 1, "", "wrong number in B2")],
    )
    text = build_match_prompt(req)
    assert (
        '"gt_id": 0' in text and '"pred_id": 0' in text and "layout_error, text_error, numeric_error" in text
    )


class _ScriptedBackend:
    """A stand-in for a remote model server answering the matcher's prompt (not one of erm's components)."""

    spec = "scripted"

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.calls = 0

    def generate(self, requests, sampling=None):
        from erm_cli.models.base import Completion

        out = []
        for _ in requests:
            out.append(Completion(text=self.answers[self.calls % len(self.answers)]))
            self.calls += 1
        return out


def test_llm_matcher_skips_empty_items_and_reports_unparseable_answers():
    backend = _ScriptedBackend(
        ['{"matches": [{"pred_id": 0, "gt_id": 0, "match_level": "partial"}]}', "I cannot answer that."]
    )
    m = LLMMatcher("openai:http://127.0.0.1:9#x", backend=backend)
    reqs = [
        MatchRequest("a", "chart", [E("text_error")], [E("text_error")]),
        MatchRequest("b", "chart", [E("text_error")], []),
        MatchRequest("c", "svg", [E("shape_error")], [E("shape_error")]),
    ]
    out = m.match(reqs)
    assert backend.calls == 2  # item b has nothing to match
    assert out[0].match is not None and out[0].match.pairs == [Pair(0, 0, "partial")]
    assert out[1].match is not None and out[1].match.pairs == []
    assert out[2].match is None and "unparseable" in (out[2].error or "")
    assert m.label == "llm:openai:http://127.0.0.1:9#x"


def test_an_empty_block_is_undefined_except_under_the_released_protocol():
    # one chart item, both lists empty: nothing to count overall nor for any type
    items = [ItemMatch("e", "chart", gold=[], pred=[])]
    ours = vcbench_metrics(items)
    assert ours["chart"]["f1_hard"] is None and ours["chart"]["f1_soft"] is None
    released = vcbench_metrics(items, released=True)  # --protocol visual-erm: evaluation.py's f1_score/safe_div
    assert released["chart"]["f1_hard"] == 100.0 and released["chart"]["f1_soft"] == 0.0
    assert released["overall"]["f1_hard"] == 100.0 and released["overall"]["f1_soft"] == 0.0
    assert all(t["f1_hard"] == 100.0 and t["f1_soft"] == 0.0 for t in released["chart"]["per_type"].values())
    # a block with something to count is the same under both
    full = [ItemMatch("a", "chart", gold=[E("text_error")], pred=[E("text_error")], pairs=[Pair(0, 0, "yes")])]
    assert vcbench_metrics(full)["chart"]["f1_hard"] == vcbench_metrics(full, released=True)["chart"]["f1_hard"] == 100.0
