"""Parsing judge answers: the malformed-output corpus (tests/data/malformed), well-formed answers, and the
SFT target text round trip."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from erm_cli.judges.verdict import SEVERITY_UNPARSED, TASKS, TAXONOMY, ErrorItem, Verdict
from erm_cli.judges.vlm import parse_judge_output, verdict_to_target_json
from erm_cli.judges.vlm_output import repair_json

CORPUS = Path(__file__).parent / "data" / "malformed"
EXPECTED = {k: v for k, v in json.loads((CORPUS / "expected.json").read_text()).items() if not k.startswith("_")}


def test_every_corpus_file_has_an_expectation() -> None:
    files = {p.stem for p in CORPUS.glob("*.txt")}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_corpus(name: str) -> None:
    case = EXPECTED[name]
    text = (CORPUS / f"{name}.txt").read_text(encoding="utf-8")
    verdict = parse_judge_output(text, case["task"])
    assert verdict.parsed is case["parsed"], verdict.info
    assert verdict.task == case["task"]
    if case["parsed"]:
        assert [[e.category, e.severity] for e in verdict.errors] == case["errors"]
        assert all(1 <= e.severity <= 3 for e in verdict.errors)
        # counts are always recomputed from the list, whatever the answer declared
        for cat, n in verdict.counts.items():
            assert n == sum(e.category == cat for e in verdict.errors)
        assert verdict.severity_total == sum(e.severity for e in verdict.errors)
    else:
        assert verdict.errors == [] and verdict.info["parse_error"]
        assert verdict.severity_total == SEVERITY_UNPARSED
        assert verdict.reward == pytest.approx(1 - SEVERITY_UNPARSED / 50)
        assert verdict.info["raw_output"] == text[:4000]


def test_declared_counts_that_disagree_are_noted() -> None:
    v = parse_judge_output((CORPUS / "counts_disagree.txt").read_text(), "chart")
    assert v.info["counts_recomputed"] is True
    assert v.info["declared_counts"]["structure_error_count"] == 3
    assert v.counts["structure_error"] == 0 and v.counts["style_error"] == 1


def test_truncation_is_recorded() -> None:
    v = parse_judge_output((CORPUS / "truncated_mid_item.txt").read_text(), "chart")
    assert "truncated" in v.info["repairs"] and v.info["dropped_incomplete_last"] is True


def random_verdict(rng: random.Random, task: str) -> Verdict:
    words = ["title", "legend", "bar 3", "row 2, col \"B\"", "wheel", "axis — y", "标签", "it's"]
    errors = [ErrorItem(category=rng.choice(TAXONOMY[task]), severity=rng.randint(1, 3),
                        location=rng.choice(words), description=" ".join(rng.sample(words, 3)))
              for _ in range(rng.randint(0, 6))]
    return Verdict(task=task, errors=errors, judge={"name": "synth", "version": "1"})


@pytest.mark.parametrize("seed", range(12))
def test_target_json_round_trips(seed: int) -> None:
    rng = random.Random(seed)
    task = TASKS[seed % len(TASKS)]
    verdict = random_verdict(rng, task)
    text = verdict_to_target_json(verdict)
    obj = json.loads(text)
    assert list(obj)[:-1] == [f"{c}_count" for c in TAXONOMY[task]] and list(obj)[-1] == "errors"
    assert all(set(e) == {"category", "severity", "location", "description"} for e in obj["errors"])
    back = parse_judge_output(text, task)
    assert back.parsed and "repairs" not in back.info and "counts_recomputed" not in back.info
    assert [e.to_dict() for e in back.errors] == [e.to_dict() for e in verdict.errors]
    assert back.reward == verdict.reward


@pytest.mark.parametrize("seed", range(6))
def test_wrapped_well_formed_answers_parse_identically(seed: int) -> None:
    rng = random.Random(100 + seed)
    task = TASKS[seed % len(TASKS)]
    verdict = random_verdict(rng, task)
    text = verdict_to_target_json(verdict)
    for wrapped in (f"```json\n{text}\n```", f"<think>checking... {{\"draft\": 1}}</think>\n{text}",
                    f"Here you go:\n{json.dumps(json.loads(text), indent=2, ensure_ascii=False)}\nDone."):
        back = parse_judge_output(wrapped, task)
        assert [e.to_dict() for e in back.errors] == [e.to_dict() for e in verdict.errors]


@pytest.mark.parametrize("broken, fixed", [
    ('{"a": 1,}', {"a": 1}),
    ("{'a': 'it\\'s'}", {"a": "it's"}),
    ('{"a": [1 2 3]}', {"a": [1, 2, 3]}),
    ('{"a": True, "b": None, "c": NaN}', {"a": True, "b": None, "c": None}),
    ('{"a": .5, "b": +2, "c": 3.}', {"a": 0.5, "b": 2, "c": 3.0}),
    ('{"a": {"b": [1, {"c": "x', {"a": {"b": [1, {"c": "x"}]}}),
    ('{"a": }', {"a": None}),
    ('{"a": 1 "b": 2}', {"a": 1, "b": 2}),
    ('{"a": [1, 2}', {"a": [1, 2]}),
])
def test_repair_json(broken: str, fixed: object) -> None:
    assert json.loads(repair_json(broken)) == fixed


# -- the released code's readers (--profile / --protocol visual-erm) ---------------------------------------------
# Replays of the released parsers (InternLM/Visual-ERM@c3855aa), for comparison with erm's implementation:
# rl_scripts/reward_func/omnirender_rm_v3.py (chart/SVG reward) and table_parse_rm_v2.py / evaluation/api_judge.py.
def _replay_reward_parser(resp: str):
    import re

    raw = re.sub(r"<think>.*?</think>", "", resp.strip(), flags=re.DOTALL).strip()
    if raw.startswith("```"):
        raw = re.sub(r"^```[a-zA-Z0-9_+-]*\s*\n?", "", raw, count=1)
        raw = re.sub(r"\n?\s*```$", "", raw).strip()
    try:
        parsed = json.loads(raw)
        if isinstance(parsed, dict):
            return parsed
    except Exception:  # noqa: BLE001 - as released
        pass
    start = raw.find("{")  # extract_json_object: the first object by brace depth
    if start == -1:
        return None
    depth = 0
    for i in range(start, len(raw)):
        depth += {"{": 1, "}": -1}.get(raw[i], 0)
        if raw[i] == "}" and depth == 0:
            try:
                return json.loads(raw[start:i + 1])
            except Exception:  # noqa: BLE001
                return None
    return None


def _replay_span_parser(resp: str):
    import re

    raw = resp.strip()
    if raw.startswith("```"):
        raw = re.sub(r"^```[a-zA-Z0-9_+-]*\s*", "", raw)
        raw = re.sub(r"\s*```$", "", raw).strip()
    try:
        return json.loads(raw)
    except Exception:  # noqa: BLE001
        m = re.search(r"\{.*\}", raw, re.DOTALL)
        if not m:
            return None
        try:
            return json.loads(m.group(0))
        except Exception:  # noqa: BLE001
            return None


A = {"category": "data_error", "severity": 2, "description": "first"}
B = {"category": "text_error", "severity": 1, "description": "second"}
TWO_OBJECTS = json.dumps({"errors": [A]}) + "\nOn reflection:\n" + json.dumps({"errors": [B, B]})
READER_CASES = [
    TWO_OBJECTS,
    "```json\n" + json.dumps({"errors": [A]}) + "\n```",
    '<think>{"errors": []} a draft</think>\n```json\n' + json.dumps({"errors": [A]}) + "\n```",
    "{'errors': [{'category': 'data_error', 'severity': 2}]}",
    json.dumps([{"errors": [A]}]),
    'Answer: {"errors": [{"description": "a } in text", "severity": 3, "category": "text_error"}]} end',
]


@pytest.mark.parametrize("text", READER_CASES + [p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt"))])
def test_release_readers_read_what_the_released_parsers_read(text: str) -> None:
    from erm_cli.judges.vlm_output import release_answer_object

    assert release_answer_object(text, "visual-erm-first") == _replay_reward_parser(text)
    assert release_answer_object(text, "visual-erm-table") == _replay_span_parser(text)
    assert release_answer_object(text, "visual-erm-bench") == _replay_span_parser(text)


def test_first_or_last_object_of_a_malformed_answer() -> None:
    """erm's reader takes the last answer object; the released chart/SVG reward the first; the released
    table reward and bench script read the whole first-{ to last-} span, which two objects make unreadable."""
    def categories(reader: str, task: str = "chart") -> list[str] | None:
        v = parse_judge_output(TWO_OBJECTS, task, reader=reader)
        return [e.category for e in v.errors] if v.parsed else None

    assert categories("erm") == ["text_error", "text_error"]
    assert categories("visual-erm-first") == ["data_error"]
    assert categories("visual-erm-table", "table") is None and categories("visual-erm-bench") is None
    # no repair in the released readers; erm repairs
    single_quoted = "{'errors': [{'category': 'data_error', 'severity': 2}]}"
    assert parse_judge_output(single_quoted, "chart").parsed
    assert not parse_judge_output(single_quoted, "chart", reader="visual-erm-first").parsed
    # a missing "errors" list: no errors for the chart/SVG reward and the bench, the fallback for tables
    counts_only = '{"layout_error_count": 0, "text_error_count": 0}'
    assert parse_judge_output(counts_only, "chart", reader="visual-erm-first").errors == []
    assert parse_judge_output(counts_only, "chart", reader="visual-erm-bench").parsed
    table = parse_judge_output(counts_only, "table", reader="visual-erm-table")
    assert not table.parsed and table.severity_total == SEVERITY_UNPARSED
    # an error without a severity adds 0 to the released reward sums: left out there, kept for matching
    no_severity = json.dumps({"errors": [{"category": "data_error", "description": "x"}, B]})
    reward = parse_judge_output(no_severity, "chart", reader="visual-erm-first")
    assert [e.category for e in reward.errors] == ["text_error"] and reward.info["without_severity"] == 1
    assert len(parse_judge_output(no_severity, "chart", reader="visual-erm-bench").errors) == 2
    with pytest.raises(ValueError, match="reader must be one of"):
        parse_judge_output("{}", "chart", reader="first")


def test_released_readers_sum_severities_as_the_released_reward_code_does() -> None:
    """omnirender_rm_v3.py sums float(severity) (negatives as 0, unreadable values skipped); table_parse_rm_v2.py adds
    severity as written (default 0), and a non-number makes its whole parse fail (S = 4). erm's reader clamps 1-3."""
    answer = json.dumps({"errors": [
        {"category": "text_error", "severity": 5, "location": "title", "description": "a"},
        {"category": "data_error", "severity": "2", "location": "bars", "description": "b"},
        {"category": "style_error", "severity": "high", "location": "legend", "description": "c"},
        {"category": "style_error", "severity": -1, "location": "grid", "description": "d"},
    ]})
    chart = parse_judge_output(answer, "chart", reader="visual-erm-first")
    assert chart.parsed and chart.severity_total == 7.0  # 5 + 2, "high" skipped, -1 as 0
    assert all(1 <= e.severity <= 3 for e in chart.errors)  # the itemised errors keep erm's 1-3 reading
    ours = parse_judge_output(answer, "chart", reader="erm")
    assert ours.severity_total == sum(e.severity for e in ours.errors) and ours.severity_total != 7.0
    table_ok = json.dumps({"errors": [{"category": "numeric_error", "severity": 5}, {"category": "text_error",
                                                                                     "severity": 2.5}, {}]})
    assert parse_judge_output(table_ok, "table", reader="visual-erm-table").severity_total == 7.5
    table_bad = json.dumps({"errors": [{"category": "numeric_error", "severity": "2"}]})
    bad = parse_judge_output(table_bad, "table", reader="visual-erm-table")
    assert not bad.parsed  # the released table reward's parse fails on "2" + 0: S = 4 in its reward
