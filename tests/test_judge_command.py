"""`erm judge` end to end through the real CLI: renders, the critic, exit codes, JSON, diff image, batch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
REFINE = REPO / "examples" / "refine"


def erm(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "erm_cli.app", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=300)


def test_wrong_chart_code_gets_located_errors_and_fails_the_threshold(tmp_path: Path) -> None:
    diff = tmp_path / "diff.png"
    p = erm("judge", str(REFINE / "sales_bar.png"), str(REFINE / "sales_bar_init.py"), "--json",
            "--fail-under", "0.95", "--diff-image", str(diff))
    assert p.returncode == 1, p.stderr
    v = json.loads(p.stdout)
    assert v["task"] == "chart" and v["render_ok"] is True and v["reward"] < 0.95
    cats = {e["category"] for e in v["errors"]}
    # the init file has a wrong title, a wrong bar colour and wrong bar values
    assert {"text_error", "style_error", "data_error"} <= cats
    assert any(e["location"] == "title" for e in v["errors"])
    assert v["severity_total"] == sum(e["severity"] for e in v["errors"])
    assert p.stderr.strip().startswith("erm: error: reward") and len(p.stderr.strip().splitlines()) == 1
    with Image.open(diff) as im:
        ref_w, _ = Image.open(REFINE / "sales_bar.png").size
        assert im.width > 3 * ref_w


def test_reference_code_is_equivalent_and_passes(tmp_path: Path) -> None:
    p = erm("judge", str(REFINE / "sales_bar.png"), str(REFINE / "sales_bar.py"), "--json", "--fail-under", "0.99")
    assert p.returncode == 0, p.stderr
    v = json.loads(p.stdout)
    assert v["errors"] == [] and v["reward"] == 1.0 and v["rl_reward"] == 2.0


def test_code_that_does_not_render_scores_zero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import matplotlib.pyplot as plt\nraise ValueError('boom')\n")
    p = erm("judge", str(REFINE / "sales_bar.png"), str(bad), "--json")
    assert p.returncode == 3, p.stderr  # README: exit 3 on a render failure; the verdict is still printed
    v = json.loads(p.stdout)
    assert v["render_ok"] is False and v["reward"] == 0.0 and v["rl_reward"] == 0.0
    assert "boom" in v["info"]["render_error"]


@pytest.mark.parametrize("args,needle", [
    (["missing.png", "x.py"], "reference: no such file"),
    (["--task", "poster", "a.png", "b.png"], "unknown --task"),
    (["--judge", "ssim", "--model", "tiny:qwen3-vl", "a.png", "b.png"], "go with --judge vlm"),
    (["--batch", "nothing.jsonl"], "--batch needs --out"),
])
def test_bad_usage_is_one_line_exit_2(args: list[str], needle: str) -> None:
    p = erm("judge", *args)
    assert p.returncode == 2
    assert needle in p.stderr and len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def test_batch_finishes_past_a_bad_item_and_resumes(tmp_path: Path) -> None:
    lines = [
        {"id": "good", "category": "chart", "gt_img_path": str(REFINE / "sales_bar.png"),
         "pred_code_path": str(REFINE / "sales_bar.py")},
        {"id": "broken", "category": "chart", "gt_img_path": str(REFINE / "sales_bar.png"),
         "pred_img_path": str(tmp_path / "does-not-exist.png")},
        {"id": "wrong", "category": "chart", "gt_img_path": str(REFINE / "sales_bar.png"),
         "pred_code_path": str(REFINE / "sales_bar_init.py")},
    ]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp_path / "run"
    shared = ("--allowed-root", str(REFINE))  # the examples live outside the JSONL's folder
    p = erm("judge", "--batch", str(data), "--out-dir", str(out), "--json", *shared)
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert summary["total"] == 3 and summary["judged"] == 2 and summary["failed"] == 1
    rows = {r["id"]: r for r in map(json.loads, (out / "predictions.jsonl").read_text().splitlines())}
    assert rows["good"]["verdict"]["reward"] == 1.0
    assert rows["wrong"]["verdict"]["reward"] < 1.0
    assert "no such file" in rows["broken"]["error"]
    again = json.loads(erm("judge", "--batch", str(data), "--out-dir", str(out), "--json", *shared).stdout)
    assert again["resumed"] == 2 and again["judged"] == 2
