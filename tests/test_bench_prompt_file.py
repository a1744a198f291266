"""`erm bench judge --prompt-file` reaches the vlm judge (e.g. the released VC-RewardBench prompts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw

from erm_cli.jsonl import read_jsonl_by_id

ERM = [sys.executable, "-m", "erm_cli.app"]
TINY = "tiny:qwen3-vl?max_tokens_cap=8"


def _icon(path: Path, colour: tuple[int, int, int]) -> None:
    im = Image.new("RGB", (96, 96), "white")
    ImageDraw.Draw(im).ellipse((18, 18, 78, 78), fill=colour)
    im.save(path)


def test_bench_judge_prompt_file(tmp_path: Path) -> None:
    _icon(tmp_path / "ref.png", (40, 90, 200))
    _icon(tmp_path / "pred.png", (200, 90, 40))
    data = tmp_path / "bench.jsonl"
    data.write_text(json.dumps({"id": "s1", "category": "svg", "gt_img_path": "ref.png", "pred_img_path": "pred.png",
                                "human_errors": [{"category": "style_error", "severity": 2, "location": "disc",
                                                  "description": "orange instead of blue"}]}) + "\n")
    prompts = tmp_path / "bench-prompts.json"
    prompts.write_text(json.dumps({"*": "<image>\n<image>\nList the differences as JSON.\n",
                                   "system": "You are a helpful assistant."}))
    out = tmp_path / "run"
    run = subprocess.run(ERM + ["bench", "judge", str(data), "--judge", "vlm", "--model", TINY,
                                "--prompt-file", str(prompts), "--baselines", "", "--out-dir", str(out), "--json"],
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    [row] = read_jsonl_by_id(out / "predictions.jsonl").values()
    assert row["verdict"]["judge"]["prompts"].startswith("file-")
    bad = subprocess.run(ERM + ["bench", "judge", str(data), "--prompt-file", str(prompts), "--out-dir", str(out)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2 and "--prompt-file goes with --judge vlm" in bad.stderr


def test_bench_judge_protocol_visual_erm(tmp_path: Path) -> None:
    """The released VC-RewardBench request layout: system message, the text first, then both images as
    they are (no resizing), recorded in every verdict's judge block."""
    from erm_cli.judges.vlm import VLMJudge

    prompts = tmp_path / "bench-prompts.json"
    prompts.write_text(json.dumps({"*": "<image>\n<image>\nList the differences.\n",
                                   "system": "You are a helpful assistant."}))
    judge = VLMJudge("tiny:qwen3-vl", prompt_file=prompts, request_layout="visual-erm-bench")
    big = Image.new("RGB", (1800, 300), "white")
    request = judge.request_for(big, big, "table")
    assert request[0] == {"role": "system", "content": "You are a helpful assistant."}
    parts = request[1]["content"]
    assert [p["type"] for p in parts] == ["text", "image", "image"]
    assert parts[0]["text"] == "<image>\n<image>\nList the differences.\n" and parts[1]["image"].size == (1800, 300)
    assert judge.judge_id()["layout"] == "visual-erm-bench"
    data = tmp_path / "bench.jsonl"
    _icon(tmp_path / "ref.png", (40, 90, 200))
    data.write_text(json.dumps({"id": "s1", "category": "svg", "gt_img_path": "ref.png", "pred_img_path": "ref.png",
                                "human_errors": []}) + "\n")
    out = tmp_path / "run"
    run = subprocess.run(ERM + ["bench", "judge", str(data), "--judge", "vlm", "--model", TINY,
                                "--prompt-file", str(prompts), "--protocol", "visual-erm", "--baselines", "",
                                "--out-dir", str(out), "--json"], capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    [row] = read_jsonl_by_id(out / "predictions.jsonl").values()
    assert row["verdict"]["judge"]["layout"] == "visual-erm-bench"
    bad = subprocess.run(ERM + ["bench", "judge", str(data), "--judge", "vlm", "--model", "tiny:qwen3-vl",
                                "--protocol", "visual-erm", "--out-dir", str(out)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2 and "needs --judge vlm and --prompt-file" in bad.stderr
