"""The chat request erm sends to the released Visual-ERM judge, recorded on the wire by a loopback
OpenAI-compatible server, equals the request the released reward code builds for the same inputs; and under
``erm bench judge --protocol visual-erm`` the judge and matcher requests equal those of the released
VC-RewardBench scripts (``evaluation/api_judge.py``, ``evaluation/evaluation.py``).

The released request builders are replayed here from their published shape (rl_scripts/reward_func:
``message_format``/``encode_image`` for chart and SVG, ``vlm_client_qa`` and ``compute_score`` for tables,
``DEFAULT_MODEL_KWARGS`` and ``extra_body``); the prompts come from the fixture with the release's layout."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from conftest import recording_server
from PIL import Image, ImageDraw

from erm_cli.judges.prompts import extract_visual_erm_prompts
from erm_cli.judges.vlm import VLMJudge

RELEASE = Path(__file__).parent / "fixtures" / "visual_erm_release"


# -- the released request builders, replayed -----------------------------------------------------------------
def released_encode_image(path: Path, max_side: int = 1024) -> bytes:  # reward_utils.encode_image
    with Image.open(path) as img:
        buffered = io.BytesIO()
        img.thumbnail((max_side, max_side))
        if img.mode != "RGB":
            img = img.convert("RGB")
        img.save(buffered, format="JPEG")
    return buffered.getvalue()


def released_chart_svg_request(prompt: str, gt: Path, pred: Path) -> dict:
    content = [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,"
                                                   + base64.b64encode(released_encode_image(p)).decode()}}
               for p in (gt, pred)]
    content.append({"type": "text", "text": prompt})
    return {"messages": [{"role": "user", "content": content}], "temperature": 0.7, "top_p": 0.8,
            "presence_penalty": 1.5, "max_tokens": 4096, "top_k": 20}


def released_table_png(path: Path) -> bytes:  # compute_score: thumbnail(768) of the original, saved as PNG
    img = Image.open(path).convert("RGB")
    img.thumbnail((768, 768))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def released_table_request(system: str, prompt: str, gt: Path, pred: Path) -> dict:
    content = [{"type": "image_url", "image_url": {"url": "data:image;base64,"
                                                   + base64.b64encode(released_table_png(p)).decode()}}
               for p in (gt, pred)]
    content.append({"type": "text", "text": prompt})
    return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": content}],
            "temperature": 0.0, "max_tokens": 8192, "repetition_penalty": 1.05}


def _image(path: Path, size: tuple[int, int], colour: str) -> Path:
    im = Image.new("RGB", size, "white")
    ImageDraw.Draw(im).rectangle((size[0] // 5, size[1] // 5, size[0] // 2, size[1] // 2), fill=colour)
    im.save(path)
    return path


def _image_bytes(part: dict) -> bytes:
    return base64.b64decode(part["image_url"]["url"].split(",", 1)[1])


@pytest.mark.parametrize("task", ["chart", "svg", "table"])
def test_request_on_the_wire_equals_the_released_request(task: str, tmp_path: Path) -> None:
    prompts = extract_visual_erm_prompts(RELEASE)
    prompt_file = tmp_path / "prompts.json"
    prompt_file.write_text(json.dumps(prompts))
    gt = _image(tmp_path / "gt.png", (1500, 900), "#1f77b4")
    pred = _image(tmp_path / "pred.png", (640, 480), "#ff7f0e")
    with recording_server() as (url, bodies):
        judge = VLMJudge(f"openai:{url}#visual-erm", prompt_file=prompt_file)
        assert judge.image_style == "visual-erm"  # the released judge gets the released encoding by default
        verdict = judge.judge(Image.open(gt), Image.open(pred), task)
    assert verdict.parsed and len(bodies) == 1
    sent = bodies[0]
    if task == "table":
        expected = released_table_request(prompts["system.table"], prompts["table"], gt, pred)
    else:
        expected = released_chart_svg_request(prompts[task], gt, pred)
    assert [m["role"] for m in sent["messages"]] == [m["role"] for m in expected["messages"]]
    if task == "table":
        assert sent["messages"][0]["content"] == expected["messages"][0]["content"]
    sent_parts, expected_parts = sent["messages"][-1]["content"], expected["messages"][-1]["content"]
    assert [p["type"] for p in sent_parts] == [p["type"] for p in expected_parts]
    assert sent_parts[-1]["text"] == expected_parts[-1]["text"]  # the prompt, byte for byte
    for got, want in zip(sent_parts[:2], expected_parts[:2]):
        assert _image_bytes(got) == _image_bytes(want)  # the same encoded image bytes
        assert got == want  # and the same label: image/jpeg, or "data:image;base64," for the table's PNGs
    for key, value in expected.items():
        if key != "messages":
            assert sent.get(key, {"top_p": 1.0}.get(key)) == value, key


# -- erm bench judge --protocol visual-erm -----------------------------------------------------------------------
def released_bench_request(model: str, system: str, prompt: str, gt: Path, pred: Path) -> dict:
    """evaluation/api_judge.py: process_item + call_api (each file's bytes, labelled image/jpeg, detail high)."""
    images = [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64," + base64.b64encode(p.read_bytes())
                                                  .decode(), "detail": "high"}} for p in (gt, pred)]
    return {"model": model, "messages": [{"role": "system", "content": system},
                                         {"role": "user", "content": [{"type": "text", "text": prompt}, *images]}],
            "max_tokens": 8192}


def _pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB").tobytes()


@pytest.mark.parametrize("task", ["chart", "svg", "table"])
def test_bench_protocol_request_equals_the_released_bench_request(task: str, tmp_path: Path) -> None:
    prompts = extract_visual_erm_prompts(RELEASE, bench=True)
    prompt_file = tmp_path / "bench-prompts.json"
    prompt_file.write_text(json.dumps(prompts))
    gt = _image(tmp_path / "gt.jpg", (1500, 900), "#1f77b4")  # a JPEG and a PNG: each file goes as it is
    pred = tmp_path / "pred.png"  # not PIL's default PNG encoding: re-encoded bytes would differ
    Image.open(_image(tmp_path / "p.png", (2100, 700), "#ff7f0e")).save(pred, compress_level=1)
    with recording_server() as (url, bodies):
        judge = VLMJudge(f"openai:{url}#visual-erm", prompt_file=prompt_file, request_layout="visual-erm-bench")
        verdict = judge.judge(Image.open(gt), pred, task)  # an image opened from its file, and a path
    assert verdict.parsed and len(bodies) == 1
    sent = bodies[0]
    expected = released_bench_request("visual-erm", prompts["system"], prompts[task], gt, pred)
    assert sorted(sent) == sorted(expected) == ["max_tokens", "messages", "model"]  # no other sampling key
    assert sent["max_tokens"] == 8192 and sent["model"] == expected["model"]
    assert sent["messages"][0] == expected["messages"][0]
    sent_parts, expected_parts = sent["messages"][1]["content"], expected["messages"][1]["content"]
    assert sent_parts[0] == expected_parts[0]  # the text first, byte for byte (with its <image> prefix)
    # each file's own bytes, unresized and not re-encoded, labelled image/jpeg whatever they hold, detail high
    assert sent_parts[1:] == expected_parts[1:]


def test_bench_protocol_drops_out_of_taxonomy_categories(tmp_path: Path) -> None:
    """The released evaluation.py keeps a predicted error only if ``type or category`` is one of the task's
    types as written; erm's own protocol remaps loose names ("color_error" -> style_error)."""
    from erm_cli.bench.judge_bench import verdict_of
    from erm_cli.bench.judge_metrics import allowed_errors

    answer = json.dumps({"errors": [
        {"category": "color_error", "severity": 2, "location": "bars", "description": "orange bars"},
        {"category": "style_error", "severity": 1, "location": "grid", "description": "no grid"},
        {"type": "data_error", "category": "style_error", "severity": 3, "description": "wrong values"}]})
    gt = _image(tmp_path / "gt.png", (300, 200), "#1f77b4")
    seen = {}
    for layout in ("reward", "visual-erm-bench"):
        with recording_server(answer) as (url, _):
            judge = VLMJudge(f"openai:{url}#some-judge", request_layout=layout)
            verdict = judge.judge(Image.open(gt), Image.open(gt), "chart")
        row = {"id": "a", "task": "chart", "verdict": verdict.to_dict()}  # as predictions.jsonl stores it
        seen[layout] = sorted(e.category for e in allowed_errors(verdict_of(row).errors, "chart"))
    assert seen["reward"] == ["style_error", "style_error", "style_error"]  # remapped, "category" first
    assert seen["visual-erm-bench"] == ["data_error", "style_error"]  # color_error dropped, "type" first


@pytest.mark.parametrize("protocol", ["erm", "visual-erm"])
def test_llm_matcher_request_and_type_check(protocol: str) -> None:
    from erm_cli.bench.matching import LLMMatcher, MatchRequest
    from erm_cli.judges.verdict import ErrorItem

    cross_type = json.dumps({"matches": [{"pred_id": 0, "gt_id": 0, "match_level": "yes"}]})
    req = MatchRequest(id="a", task="chart", gold=[ErrorItem("data_error", 2, "bars", "bar 3 too tall")],
                       pred=[ErrorItem("style_error", 2, "bars", "bar 3 is too tall")])
    with recording_server(cross_type) as (url, bodies):
        [outcome] = LLMMatcher(f"openai:{url}#gpt-5-mini", protocol=protocol).match([req])
    sent = bodies[0]
    # the type check is off in both (as the release's post-processing): a pair across types counts
    assert outcome.match is not None and [(p.pred, p.gold, p.level) for p in outcome.match.pairs] == [(0, 0, "yes")]
    if protocol == "visual-erm":  # evaluation.py's call_api
        assert sorted(sent) == ["max_tokens", "messages", "model"] and sent["max_tokens"] == 8192
        assert sent["messages"][0] == {"role": "system", "content": "You are a helpful assistant."}
    else:
        assert sent["temperature"] == 0.0 and sent["max_tokens"] == 2048
    assert [p["type"] for p in sent["messages"][1]["content"]] == ["text"]


# -- the released matcher prompt, read from the release layout at run time -------------------------------------
def _released_builder():
    """The fixture's own ``build_llm_prompt`` (same shape as the release's; placeholder text), run as is."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("release_evaluation", RELEASE / "evaluation" / "evaluation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("task", ["chart", "table"])
def test_matcher_prompt_is_read_from_the_release_layout(task: str) -> None:
    """Under --protocol visual-erm with a release checkout the matcher sends, byte for byte, the prompt the
    release's ``build_llm_prompt`` builds for the same errors (its f-string filled with the task, the allowed
    types and its rows: id, type, description, severity), and parses the answer as ``parse_llm_output`` does."""
    from erm_cli.bench.matching import LLMMatcher, MatchRequest
    from erm_cli.judges.verdict import ErrorItem

    release = _released_builder()
    gold = [ErrorItem("data_error" if task == "chart" else "numeric_error", 2, "bars", "bar 3 too tall — 高"),
            ErrorItem("text_error", 1, "", "title typo")]
    pred = [ErrorItem("text_error", 3, "title", "typo in the title"), ErrorItem("text_error", 2, "x", 'say "hi"')]
    req = MatchRequest(id="a", task=task, gold=gold, pred=pred)
    # the answer in a fence with chatter after it: the released parser reads the first { to the last }
    answer = 'Sure.\n```json\n{"matches": [{"pred_id": 0, "gt_id": 1, "match_level": "partial"}]}\n```\nDone.'
    with recording_server(answer) as (url, bodies):
        matcher = LLMMatcher(f"openai:{url}#gpt-5-mini", protocol="visual-erm", release_dir=RELEASE)
        [outcome] = matcher.match([req])
    expected = release.build_llm_prompt(
        task, release.CATEGORY_ERROR_TYPES[task],
        [{"category": e.category, "severity": e.severity, "location": e.location, "description": e.description}
         for e in pred],
        [{"type": e.category, "severity": e.severity, "description": e.description} for e in gold])
    sent = bodies[0]["messages"][1]["content"][0]["text"]
    assert sent == expected and sent.startswith("MATCHER PLACEHOLDER") and '"gt_id": 0' in sent
    assert matcher.prompt_source == {"prompt": "visual-erm", "source": "evaluation.py:build_llm_prompt",
                                     "sha": matcher.template.digest}
    assert [(p.pred, p.gold, p.level) for p in outcome.match.pairs] == [(0, 1, "partial")]
    assert release.parse_llm_output(answer) == {"matches": [{"pred_id": 0, "gt_id": 1, "match_level": "partial"}]}


def test_matcher_falls_back_to_erms_prompt_with_a_note(tmp_path: Path) -> None:
    from erm_cli.bench.matching import LLMMatcher, MatchRequest, build_match_prompt
    from erm_cli.judges.verdict import ErrorItem

    req = MatchRequest(id="a", task="svg", gold=[ErrorItem("shape_error", 2, "", "wheel missing")],
                       pred=[ErrorItem("shape_error", 2, "", "no wheel")])
    unfillable = tmp_path / "odd" / "evaluation"
    unfillable.mkdir(parents=True)
    (unfillable / "evaluation.py").write_text('def build_llm_prompt(category, a, p, g):\n'
                                              '    return f"{category.upper()} {p} {g}"\n')
    for release_dir, reason in ((None, "no release checkout given"), (tmp_path, "no evaluation/evaluation.py"),
                                (tmp_path / "odd", "an expression erm cannot fill")):
        with recording_server('{"matches": []}') as (url, bodies):
            matcher = LLMMatcher(f"openai:{url}#m", protocol="visual-erm", release_dir=release_dir)
            matcher.match([req])
        assert bodies[0]["messages"][1]["content"][0]["text"] == build_match_prompt(req)
        assert matcher.prompt_source["prompt"] == "erm" and reason in matcher.prompt_source["note"]
    with pytest.raises(ValueError, match="not JSON"):  # the released parser repairs nothing
        from erm_cli.bench.matching import parse_match_answer_released

        parse_match_answer_released("{'matches': []}")


def test_bench_run_sends_files_as_they_are_and_records_the_matcher_prompt(tmp_path: Path) -> None:
    """``erm bench judge --protocol visual-erm --matcher ... --release-dir``, through the library call the
    command makes: each image file's bytes on the wire (an RGBA PNG too, which erm flattens to judge it),
    the released matcher prompt, and which matcher prompt was used in metrics.json and the report."""
    from erm_cli.bench.judge_bench import JudgeBenchConfig, run_judge_bench

    prompt_file = tmp_path / "bench-prompts.json"
    prompt_file.write_text(json.dumps(extract_visual_erm_prompts(RELEASE, bench=True)))
    _image(tmp_path / "gt.jpg", (400, 300), "#1f77b4")
    rgba = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).rectangle((50, 50, 200, 150), fill=(255, 127, 14, 255))
    rgba.save(tmp_path / "pred.png")
    gold = [{"type": "data_error", "severity": 2, "description": "bar 3 too tall"}]
    (tmp_path / "data.jsonl").write_text(json.dumps({"id": "a", "category": "chart", "gt_img_path": "gt.jpg",
                                                     "pred_img_path": "pred.png", "human_errors": gold}) + "\n")
    answer = json.dumps({"errors": [{"category": "data_error", "severity": 2, "description": "bar 3 is too tall"}],
                         "matches": [{"pred_id": 0, "gt_id": 0, "match_level": "yes"}]})
    notes: list[str] = []
    with recording_server(answer) as (url, bodies):
        for release_dir in (RELEASE, None):  # the same run directory: the second run resumes
            cfg = JudgeBenchConfig(data=tmp_path / "data.jsonl", out_dir=tmp_path / "run", judge="vlm",
                                   model=f"openai:{url}#visual-erm", baselines=(),
                                   judge_options={"prompt_file": str(prompt_file), "request_layout": "visual-erm-bench"},
                                   matcher_model=f"openai:{url}#gpt-5-mini", release_dir=release_dir, workers=1)
            metrics = run_judge_bench(cfg, notify=notes.append)
            [(_, doc)] = metrics["judges"].items()
            entry = doc["vcbench"]["llm-visual-erm:" + cfg.matcher_model]
            report = (cfg.out_dir / "report.md").read_text()
            assert entry["metrics"]["overall"]["tp_hard"] == 1
            if release_dir is not None:
                judged, matched = bodies
                images = judged["messages"][1]["content"][1:]
                assert [p["image_url"]["url"] for p in images] == [
                    "data:image/jpeg;base64," + base64.b64encode((tmp_path / name).read_bytes()).decode()
                    for name in ("gt.jpg", "pred.png")]
                release = _released_builder()
                assert matched["messages"][1]["content"][0]["text"] == release.build_llm_prompt(
                    "chart", release.CATEGORY_ERROR_TYPES["chart"], json.loads(answer)["errors"], gold)
                assert entry["prompt"]["prompt"] == "visual-erm" and not notes
                assert "Matcher prompt: the released one (evaluation.py:build_llm_prompt" in report
            else:  # verdicts reused; the matching, made with another prompt, is redone with erm's
                assert len(bodies) == 3 and "PRED:" in bodies[2]["messages"][1]["content"][0]["text"]
                assert entry["prompt"]["prompt"] == "erm" and len(notes) == 1 and "--release-dir" in notes[0]
                assert "Matcher prompt: erm's. erm's English matcher prompt: no release checkout" in report


def test_released_judge_answers_are_read_as_the_release_reads_them(tmp_path: Path) -> None:
    """Two JSON objects in one answer: the released judge's verdict comes from the first (the chart/SVG reward's
    ``extract_json_object``); any other judge's from the last (erm's reader), unless asked otherwise."""
    first = {"errors": [{"category": "data_error", "severity": 3, "description": "first"}]}
    last = {"errors": [{"category": "text_error", "severity": 1, "description": "last"}]}
    answer = json.dumps(first) + "\n" + json.dumps(last)
    gt = _image(tmp_path / "gt.png", (300, 200), "#1f77b4")
    seen = {}
    for name, options in (("visual-erm", {}), ("other-judge", {}), ("visual-erm", {"answer_reader": "erm"}),
                          ("other-judge", {"answer_reader": "visual-erm"})):
        with recording_server(answer) as (url, _):
            judge = VLMJudge(f"openai:{url}#{name}", **options)
            verdict = judge.judge(Image.open(gt), Image.open(gt), "svg")
        seen[(name, options.get("answer_reader"))] = [e.description for e in verdict.errors]
    assert seen == {("visual-erm", None): ["first"], ("other-judge", None): ["last"],
                    ("visual-erm", "erm"): ["last"], ("other-judge", "visual-erm"): ["first"]}
