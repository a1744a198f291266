"""Judge prompts: the built-in ones state the whole Visual-ERM contract; prompt files in every form."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from erm_cli.errors import InputError
from erm_cli.judges.prompts import judge_prompt, load_prompt_file
from erm_cli.judges.verdict import TASKS, TAXONOMY


@pytest.mark.parametrize("task", TASKS)
def test_builtin_prompt_states_the_contract(task: str) -> None:
    text = judge_prompt(task)
    for cat in TAXONOMY[task]:
        assert f'"{cat}_count"' in text and cat in text
    for key in ("category", "severity", "location", "description", "errors"):
        assert f'"{key}"' in text
    assert "Image 1 is the reference" in text and "Image 2 is the candidate" in text
    assert "1 (minor)" in text and "2 (medium)" in text and "3 (severe)" in text
    assert "single JSON object" in text
    other = set().union(*(TAXONOMY[t] for t in TASKS)) - set(TAXONOMY[task])
    assert not any(f'"{c}_count"' in text for c in other)


def test_unknown_task() -> None:
    with pytest.raises(InputError, match="unknown task"):
        judge_prompt("diagram")


def test_json_prompt_file(tmp_path) -> None:
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"chart": "C prompt", "*": "fallback", "system": "You are a helpful assistant."}))
    prompts = load_prompt_file(f)
    assert prompts == {"chart": "C prompt", "table": "fallback", "svg": "fallback",
                       "system": "You are a helpful assistant."}


def test_sectioned_text_file(tmp_path) -> None:
    f = tmp_path / "p.txt"
    f.write_text("[system]\nBe strict.\n[chart]\nChart prompt\nline two\n[svg]\nSVG prompt\n")
    prompts = load_prompt_file(f)
    assert prompts == {"system": "Be strict.", "chart": "Chart prompt\nline two", "svg": "SVG prompt"}


def test_plain_text_file_applies_to_every_task(tmp_path) -> None:
    f = tmp_path / "one.txt"
    f.write_text("Compare the images and answer in JSON.\n")
    assert load_prompt_file(f) == {t: "Compare the images and answer in JSON." for t in TASKS}


def test_folder_of_prompts(tmp_path) -> None:
    (tmp_path / "table.txt").write_text("T")
    (tmp_path / "system.txt").write_text("S")
    assert load_prompt_file(tmp_path) == {"table": "T", "system": "S"}


@pytest.mark.parametrize("content, fragment", [
    ("", "empty prompt file"),
    ("{not json", "not valid JSON"),
    ('["a"]', "must hold a JSON object"),
    ('{"diagram": "x"}', "unknown prompt key"),
    ('{"chart": ""}', "non-empty string"),
    ('{"system": "only a system prompt"}', "no prompt for any task"),
])
def test_bad_prompt_files(tmp_path, content: str, fragment: str) -> None:
    f = tmp_path / "bad.json"
    f.write_text(content)
    with pytest.raises(InputError, match=fragment):
        load_prompt_file(f)


def test_missing_prompt_file(tmp_path) -> None:
    with pytest.raises(InputError, match="no such prompt file"):
        load_prompt_file(tmp_path / "nope.json")


def test_per_task_system_prompts(tmp_path) -> None:
    from erm_cli.judges.vlm import VLMJudge

    f = tmp_path / "p.json"
    f.write_text(json.dumps({"*": "Judge.", "system": "Common.", "system.table": "Table only."}))
    judge = VLMJudge("tiny:qwen3-vl", prompt_file=f)
    assert judge.systems == {"chart": "Common.", "svg": "Common.", "table": "Table only."}
    assert judge.prompts["svg"] == "Judge."
    assert judge.prompt_id.startswith("file-") and judge.prompt_id != VLMJudge("tiny:qwen3-vl").prompt_id


RELEASE = Path(__file__).parent / "fixtures" / "visual_erm_release"


def test_extract_released_prompts_from_the_release_layout(tmp_path) -> None:
    """The fixture has the release's file names and function shapes (placeholder texts): chart/SVG as module
    constants (an older one commented out), the table prompt built inside build_error_prompt_for_images()
    with the prefix added by its caller and the system message of its request."""
    import subprocess
    import sys

    from erm_cli.judges.prompts import extract_visual_erm_prompts
    from erm_cli.judges.vlm import VLMJudge

    prompts = extract_visual_erm_prompts(RELEASE)
    assert prompts == {
        "chart": 'CHART PLACEHOLDER: compare image 1 with image 2.\n{\n  "structure_error_count": int,\n'
                 '  "errors": []\n}\n',
        "svg": "SVG PLACEHOLDER: compare image 1 with image 2.\n",
        "table": "<image>\n<image>\n\nTABLE PLACEHOLDER: compare image 1 with image 2.\n",
        "system.table": "SYSTEM PLACEHOLDER.",
    }
    bench = extract_visual_erm_prompts(RELEASE, bench=True)
    assert bench["chart"] == "<image>\n<image>\nBENCH CHART PLACEHOLDER.\n"
    assert bench["system"] == "BENCH SYSTEM PLACEHOLDER."
    out = tmp_path / "released.json"
    run = subprocess.run([sys.executable, "-m", "erm_cli.judges.prompts", str(RELEASE), "-o", str(out)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0 and load_prompt_file(out) == prompts  # JSON prompt files keep texts exactly
    judge = VLMJudge("tiny:qwen3-vl", prompt_file=out)
    assert judge.prompts["table"] == prompts["table"] and judge.systems == {"chart": None, "svg": None,
                                                                          "table": "SYSTEM PLACEHOLDER."}
    (tmp_path / "empty-checkout").mkdir()
    with pytest.raises(InputError, match="no Visual-ERM judge prompts"):
        extract_visual_erm_prompts(tmp_path / "empty-checkout")
    broken = tmp_path / "broken" / "rl_scripts" / "reward_func"
    broken.mkdir(parents=True)
    (broken / "reward_utils.py").write_text("def (:\n")
    with pytest.raises(InputError, match="cannot parse"):
        extract_visual_erm_prompts(tmp_path / "broken")
