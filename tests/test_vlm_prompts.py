"""Judge prompts: the built-in ones state the whole Visual-ERM contract; prompt files in every form."""

from __future__ import annotations

import json

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


def test_extract_released_prompts_from_a_checkout(tmp_path) -> None:
    import subprocess
    import sys

    from erm_cli.judges.prompts import extract_visual_erm_prompts

    scripts = tmp_path / "Visual-ERM" / "rl_scripts" / "reward_func"
    scripts.mkdir(parents=True)
    (scripts / "reward_utils.py").write_text(
        'import os\nPROMPT_CHART2CODE_JUDGEMENT = """chart judge text"""\n'
        'PROMPT_IMG2SVG_JUDGEMENT = ("svg " "judge text")\nOTHER = 1\n')
    (scripts / "table_parse_rm_v2.py").write_text("PROMPT_TABLE2MARKDOWN_JUDGEMENT = 'table judge text'\n")
    (scripts / "broken.py").write_text("def (:\n")
    prompts = extract_visual_erm_prompts(tmp_path / "Visual-ERM")
    assert prompts == {"chart": "chart judge text", "svg": "svg judge text", "table": "table judge text",
                       "system.table": "You are a helpful assistant."}
    out = tmp_path / "released.json"
    run = subprocess.run([sys.executable, "-m", "erm_cli.judges.prompts", str(tmp_path / "Visual-ERM"), "-o", str(out)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0 and load_prompt_file(out) == prompts
    (tmp_path / "empty-checkout").mkdir()
    with pytest.raises(InputError, match="no Visual-ERM judge prompts"):
        extract_visual_erm_prompts(tmp_path / "empty-checkout")
