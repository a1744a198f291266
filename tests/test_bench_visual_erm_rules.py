"""``erm bench judge --protocol visual-erm`` counts as the released ``evaluation/evaluation.py`` counts
(InternLM/Visual-ERM at c3855aa, ``evaluate_one_item_with_llm``), where erm's own protocol does otherwise:

1. a predicted severity is summed as the answer gives it (``float(e.get("severity", 0))``, 0 when it is not a
   number; evaluation.py:365-370), not clamped to 1-3;
2. FP / FN come from the matcher model's own ``unmatched_pred`` / ``unmatched_gt`` when it gives them
   (evaluation.py:249-250, 289-292, 305-306, 334-342), else from the errors left unpaired;
3. a gold error counts only if its ``type`` is one of the task's types as written (evaluation.py:236);
4. the matcher model is asked for every item, even one with an empty list (evaluation.py:244-246); an answer
   the released code cannot use fails the item, which then leaves the metrics (evaluation.py:441-451).

Requests go to a loopback OpenAI-compatible server that answers as a judge and as a matcher would; the expected
figures are worked out by hand from those rules."""

from __future__ import annotations

import base64
import io
import json
import statistics
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import recording_server
from PIL import Image, ImageDraw

from erm_cli.bench.matching import LLMMatcher, MatchRequest
from erm_cli.judges.prompts import extract_visual_erm_prompts
from erm_cli.judges.verdict import ErrorItem

RELEASE = Path(__file__).parent / "fixtures" / "visual_erm_release"


def answering_server(answer: Callable[[dict], str]):  # type: ignore[no-untyped-def]
    """The wire tests' loopback server, answering ``answer(request body)``."""
    return recording_server(answer)


def _image(path: Path, colour: str) -> Path:
    im = Image.new("RGB", (160, 120), "white")
    ImageDraw.Draw(im).rectangle((30, 30, 90, 80), fill=colour)
    im.save(path)
    return path


def _texts(body: dict) -> str:
    return "".join(p.get("text", "") for p in body["messages"][-1]["content"])


# item -> (task, gold as annotated, the judge's errors, the matcher's answer)
ITEMS = {
    "a": ("chart",
          [{"type": "data_error", "severity": 2, "description": "bar 3 too tall"},
           {"type": "text_error", "severity": 1, "description": "title typo"},
           {"category": "style_error", "severity": 3, "description": "bars orange"},  # no type: dropped
           {"type": "Style", "severity": 2, "description": "grid gone"}],  # not a type as written: dropped
          [{"category": "data_error", "severity": 5, "location": "bars", "description": "bar 3 is too tall"},
           {"type": "text_error", "severity": "high", "description": "title wrong"},  # not a number: 0
           {"category": "color_error", "severity": 2, "description": "orange"}],  # out of taxonomy: dropped
          # pred 0 is matched and also listed unmatched: the release counts it in both
          {"matches": [{"pred_id": 0, "gt_id": 0, "match_level": "yes"}], "unmatched_pred": [0, 1],
           "unmatched_gt": [1]}),
    "b": ("svg", [{"type": "shape_error", "severity": 2, "description": "wheel missing"}], [],
          "I cannot tell."),  # asked although nothing was predicted; the answer is unusable: the item fails
    "c": ("table", [], [], {"matches": [], "unmatched_pred": [], "unmatched_gt": []}),  # asked, nothing to count
    "d": ("chart", [{"type": "text_error", "severity": 1, "description": "legend wrong"}],
          [{"category": "text_error", "severity": 1, "description": "legend text differs"}],
          {"matches": [{"pred_id": 0, "gt_id": 0, "match_level": "partial"}]}),  # no lists: the unpaired ones
}


COLOURS = {"a": (255, 127, 14), "b": (44, 160, 44), "c": (214, 39, 40), "d": (148, 103, 189)}


def _bench_data(tmp_path: Path) -> Path:
    """The data file; each item's candidate has its own colour (the server knows the item by it)."""
    _image(tmp_path / "gt.png", "#1f77b4")
    lines = []
    for item, (task, gold, _, _) in ITEMS.items():
        pred = _image(tmp_path / f"pred_{item}.png", "#{:02x}{:02x}{:02x}".format(*COLOURS[item]))
        lines.append(json.dumps({"id": item, "category": task, "gt_img_path": "gt.png",
                                 "pred_img_path": pred.name, "human_errors": gold}))
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(lines) + "\n")
    return data


def _item_of(url: str) -> str:
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as im:
        rgb = im.convert("RGB").getpixel((60, 55))
    return min(COLOURS, key=lambda k: sum((a - b) ** 2 for a, b in zip(COLOURS[k], rgb)))


def answer(body: dict) -> str:
    """As a judge (a request with images): the item's errors; as a matcher: the item's matching answer."""
    parts = body["messages"][-1]["content"]
    images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    if images:
        return json.dumps({"errors": ITEMS[_item_of(images[1])][2]})
    text = _texts(body)  # which item, from its gold descriptions (c, the table, has none)
    item = next((i for i, (_, gold, _, _) in ITEMS.items() if gold and gold[0]["description"] in text), "c")
    reply = ITEMS[item][3]
    return reply if isinstance(reply, str) else json.dumps(reply)


def _released_builder():
    import importlib.util

    spec = importlib.util.spec_from_file_location("release_evaluation", RELEASE / "evaluation" / "evaluation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(tmp_path: Path, protocol: str) -> tuple[dict, list[dict]]:
    from erm_cli.bench.judge_bench import JudgeBenchConfig, run_judge_bench

    data = _bench_data(tmp_path)
    prompt_file = tmp_path / "bench-prompts.json"
    prompt_file.write_text(json.dumps(extract_visual_erm_prompts(RELEASE, bench=True)))
    options = {"prompt_file": str(prompt_file)}
    if protocol == "visual-erm":
        options["request_layout"] = "visual-erm-bench"
    with answering_server(answer) as (url, bodies):
        cfg = JudgeBenchConfig(data=data, out_dir=tmp_path / f"run-{protocol}", judge="vlm",
                               model=f"openai:{url}#some-judge", baselines=(), judge_options=options,
                               matcher_model=f"openai:{url}#gpt-5-mini",
                               release_dir=RELEASE if protocol == "visual-erm" else None, workers=1)
        metrics = run_judge_bench(cfg)
    [(_, doc)] = metrics["judges"].items()
    [label] = [k for k in doc["vcbench"] if k.startswith("llm")]
    return doc["vcbench"][label], bodies


def test_bench_counts_as_the_released_evaluation_does(tmp_path: Path) -> None:
    entry, bodies = _run(tmp_path, "visual-erm")
    matcher_calls = [b for b in bodies if not any(p["type"] == "image_url" for p in b["messages"][-1]["content"])]
    assert len(matcher_calls) == 4  # rule 4: b (nothing predicted) and c (nothing at all) are asked too
    assert entry["failed"] == 1 and entry["failures"][0]["id"] == "b"  # b's answer is unusable: b fails
    overall = entry["metrics"]["overall"]
    # a: TP 1, FP 2 (the model's list {0, 1}), FN 1 (its list {1}); c: nothing; d: TP 0 hard / 0.5 soft
    assert (overall["items"], overall["gold_errors"], overall["pred_errors"]) == (3, 3, 3)  # rule 3: a keeps 2 gold
    assert (overall["tp_hard"], overall["tp_soft"], overall["fp"], overall["fn"]) == (1, 1.5, 2, 1)
    chart = entry["metrics"]["chart"]
    assert chart["per_type"]["data_error"]["fp"] == 1 and chart["per_type"]["text_error"]["fp"] == 1
    assert chart["per_type"]["text_error"]["fn"] == 1 and chart["per_type"]["data_error"]["fn"] == 0
    # rule 1: severity totals per item (a, c, d): predicted 5 + 0, 0, 1; gold 2 + 1, 0, 1
    want = round(100 * statistics.correlation([5.0, 0.0, 1.0], [3.0, 0.0, 1.0]), 4)
    assert overall["sc"] == pytest.approx(want, abs=1e-4)
    points = json.loads((tmp_path / "run-visual-erm" / "points.json").read_text())["points"]
    [sev_a] = [(p["pred_sev"], p["gold_sev"]) for pts in points.values() for p in pts if p["id"] == "a"]
    assert sev_a == (5.0, 3.0)  # the report's severity scatter plots the same sums
    # the matcher prompt lists the errors as written (severity "high" as given) and only the kept gold errors
    release = _released_builder()
    sent_a = next(_texts(b) for b in matcher_calls if "bar 3 too tall" in _texts(b))
    _, gold, pred, _ = ITEMS["a"]
    assert sent_a == release.build_llm_prompt("chart", release.CATEGORY_ERROR_TYPES["chart"], pred[:2], gold[:2])


def test_erms_own_protocol_keeps_its_rules(tmp_path: Path) -> None:
    entry, bodies = _run(tmp_path, "erm")
    matcher_calls = [b for b in bodies if not any(p["type"] == "image_url" for p in b["messages"][-1]["content"])]
    assert len(matcher_calls) == 2  # b and c have an empty list: nothing to ask
    overall = entry["metrics"]["overall"]
    # gold read through erm's taxonomy (a keeps 4), severities clamped, FP/FN = the errors left unpaired
    assert overall["gold_errors"] == 6 and entry["failed"] == 0
    assert (overall["tp_hard"], overall["fp"], overall["fn"]) == (1, 2, 3 + 1)  # a: 3 pred (color_error is style), 4 gold; b: FN 1


def E(cat: str, sev: int = 2) -> ErrorItem:
    return ErrorItem(category=cat, severity=sev, description=cat)


@pytest.mark.parametrize(("answer", "want"), [
    # ids as Python indexes them: -2 is pred 0, so pred 0 counts twice as a FP (a set of two ids)
    ({"matches": [], "unmatched_pred": [0, -2]}, {"fp": 2, "fn": 1, "fp_text": 2}),
    # a JSON true is an int to the released isinstance check: the pair (1, 0)
    ({"matches": [{"pred_id": True, "gt_id": 0, "match_level": "yes"}]}, {"fp": 1, "fn": 0, "fp_text": 1}),
    ({"matches": [], "unmatched_pred": ["0"]}, "fails"),  # pred_errors["0"]: TypeError
    ({"matches": [], "unmatched_gt": [3]}, "fails"),  # gt_errors[3]: IndexError
    ({"matches": ["pred 0 = gold 0"]}, "fails"),  # m.get on a str
    ({"matches": [], "unmatched_pred": 1}, "fails"),  # set(1)
])
def test_matcher_answers_read_as_the_release_reads_them(answer: dict, want: object) -> None:
    from erm_cli.bench.judge_metrics import item_counts

    req = MatchRequest(id="x", task="chart", gold=[E("data_error")], pred=[E("text_error"), E("data_error")])
    with answering_server(lambda body: json.dumps(answer)) as (url, _):
        [outcome] = LLMMatcher(f"openai:{url}#m", protocol="visual-erm").match([req])
    if want == "fails":
        assert outcome.match is None and "released evaluation.py" in outcome.error
        return
    assert outcome.match is not None
    overall, by_type = item_counts(outcome.match)
    assert {"fp": overall.fp, "fn": overall.fn, "fp_text": by_type["text_error"].fp} == want


def test_resumed_visual_erm_matching_keeps_the_models_lists(tmp_path: Path) -> None:
    """The matches file keeps the model's unmatched lists: a resumed run counts the same without asking."""
    from erm_cli.bench.judge_bench import JudgeBenchConfig, run_judge_bench

    data = _bench_data(tmp_path)
    prompt_file = tmp_path / "bench-prompts.json"
    prompt_file.write_text(json.dumps(extract_visual_erm_prompts(RELEASE, bench=True)))
    seen = []
    with answering_server(answer) as (url, bodies):
        cfg = JudgeBenchConfig(data=data, out_dir=tmp_path / "run", judge="vlm", model=f"openai:{url}#j",
                               baselines=(), judge_options={"prompt_file": str(prompt_file),
                                                             "request_layout": "visual-erm-bench"},
                               matcher_model=f"openai:{url}#gpt-5-mini", release_dir=RELEASE, workers=1)
        for _ in range(2):
            metrics = run_judge_bench(cfg)
            seen.append((len(bodies), metrics["judges"]))
    (asked, first), (asked_again, again) = seen
    assert asked_again == asked + 1  # only b (failed) is asked again
    assert again == first



def test_unreadable_judge_answers_as_the_release_takes_them(tmp_path: Path) -> None:
    """api_judge.py asks the judge once: an answer with no JSON gives no predicted errors (pred_json None) and
    the item is still matched; an answer that is JSON but not an object (a list) fails the item in
    evaluation.py (its ``.get``)."""
    from erm_cli.bench.judge_bench import JudgeBenchConfig, run_judge_bench

    _image(tmp_path / "gt.png", "#1f77b4")
    gold = [{"type": "data_error", "severity": 2, "description": "bar 3 too tall"}]
    lines = []
    for item in ("a", "b"):
        _image(tmp_path / f"pred_{item}.png", "#{:02x}{:02x}{:02x}".format(*COLOURS[item]))
        lines.append(json.dumps({"id": item, "category": "chart", "gt_img_path": "gt.png",
                                 "pred_img_path": f"pred_{item}.png", "human_errors": gold}))
    (tmp_path / "data.jsonl").write_text("\n".join(lines) + "\n")
    prompt_file = tmp_path / "bench-prompts.json"
    prompt_file.write_text(json.dumps(extract_visual_erm_prompts(RELEASE, bench=True)))
    judge_answers = {"a": "Sorry, I cannot compare these.",
                     "b": json.dumps([{"category": "data_error", "severity": 2, "description": "bars"}])}

    def answer(body: dict) -> str:
        images = [p["image_url"]["url"] for p in body["messages"][-1]["content"] if p["type"] == "image_url"]
        return judge_answers[_item_of(images[1])] if images else json.dumps({"matches": []})

    with answering_server(answer) as (url, bodies):
        cfg = JudgeBenchConfig(data=tmp_path / "data.jsonl", out_dir=tmp_path / "run", judge="vlm",
                               model=f"openai:{url}#j", baselines=(), workers=1,
                               judge_options={"prompt_file": str(prompt_file), "request_layout": "visual-erm-bench"},
                               matcher_model=f"openai:{url}#gpt-5-mini", release_dir=RELEASE)
        metrics = run_judge_bench(cfg)
    judged = [b for b in bodies if any(p["type"] == "image_url" for p in b["messages"][-1]["content"])]
    assert len(judged) == 2  # once per item: no retry of the unreadable answers
    [(_, doc)] = metrics["judges"].items()
    entry = doc["vcbench"]["llm-visual-erm:" + cfg.matcher_model]
    assert len(bodies) - len(judged) == 1  # only a is matched (with no predicted error); b cannot be evaluated
    assert entry["failed"] == 1 and entry["failures"][0]["id"] == "b" and "JSON list" in entry["failures"][0]["error"]
    overall = entry["metrics"]["overall"]
    assert (overall["items"], overall["tp_hard"], overall["fp"], overall["fn"]) == (1, 0, 0, 1)
