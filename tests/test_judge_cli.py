"""`erm judge` on image pairs through the real CLI: the people view, forced tasks, baselines, the diff
picture and a resumable image batch (code candidates are covered in test_judge_command.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw


def erm(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "erm_cli.app", *args], capture_output=True, text=True,
                          timeout=300, env={**__import__("os").environ, "COLUMNS": "200", **env})


def icon(fill: str = "#e63946", cx: int = 100) -> Image.Image:
    img = Image.new("RGB", (300, 300), "white")
    d = ImageDraw.Draw(img)
    d.ellipse([cx - 50, 60, cx + 50, 160], fill=fill)
    d.rectangle([170, 180, 270, 260], fill="#457b9d")
    return img


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pair")
    paths = {"ref": d / "ref.png", "same": d / "same.png", "recoloured": d / "recoloured.png", "big": d / "big.png"}
    icon().save(paths["ref"])
    icon().save(paths["same"])
    icon(fill="#2a9d8f").save(paths["recoloured"])
    icon().resize((600, 600), Image.BICUBIC).save(paths["big"])
    return paths


def test_people_view_lists_numbered_errors_and_the_reward(pair: dict[str, Path], tmp_path: Path) -> None:
    diff = tmp_path / "diff.png"
    p = erm("judge", str(pair["ref"]), str(pair["recoloured"]), "--task", "svg", "--diff-image", str(diff))
    assert p.returncode == 0, p.stderr
    assert "style_error" in p.stdout and "#e63946" in p.stdout and "reward" in p.stdout
    assert "│ 1 " in p.stdout or "┃ #" in p.stdout
    with Image.open(diff) as im:
        assert im.width > 3 * 300 and im.height >= 300
        # the error box is drawn in a severity colour on the overlay panel
        px = im.convert("RGB").load()
        assert any(px[x, y][0] > 180 and px[x, y][1] < 120 for x in range(2 * 300, im.width, 3)
                   for y in range(0, im.height, 3))


def test_json_verdict_and_fail_under(pair: dict[str, Path]) -> None:
    p = erm("judge", str(pair["ref"]), str(pair["same"]), "--json", "--fail-under", "0.99")
    assert p.returncode == 0, p.stderr
    v = json.loads(p.stdout)
    assert v["errors"] == [] and v["reward"] == 1.0 and v["task"] == "svg"  # guessed from the reference
    # The same icon upscaled 2x (bicubic): no error, and the reward stays above an error-free verdict's floor (the
    # pair head's term can take off at most PAIR + EXTENT weight; the retrained pair head doubts this resampling,
    # P(differs) 0.79, which is not one of its training routes: a known gap, docs/CRITIC.md).
    from erm_cli.judges.critic.verifier import EXTENT_REWARD_WEIGHT, PAIR_REWARD_WEIGHT
    from erm_cli.judges.verdict import ordered_reward

    floor = ordered_reward(PAIR_REWARD_WEIGHT + EXTENT_REWARD_WEIGHT)
    p = erm("judge", str(pair["ref"]), str(pair["big"]), "--json", "--fail-under", f"{floor:.4f}")
    assert p.returncode == 0, p.stderr
    v = json.loads(p.stdout)
    assert v["errors"] == [] and v["render_ok"] is True and v["reward"] >= floor
    assert v["info"]["alignment"]["candidate_size"] == [600, 600]
    p = erm("judge", str(pair["ref"]), str(pair["recoloured"]), "--json", "--fail-under", "0.99")
    assert p.returncode == 1 and json.loads(p.stdout)["reward"] < 0.99
    assert p.stderr.startswith("erm: error: reward")


def test_forced_task_changes_the_taxonomy(pair: dict[str, Path]) -> None:
    p = erm("judge", str(pair["ref"]), str(pair["recoloured"]), "--task", "chart", "--json")
    v = json.loads(p.stdout)
    assert v["task"] == "chart" and set(v) >= {"structure_error_count", "data_error_count", "text_error_count",
                                               "style_error_count"}


def test_baseline_judge_gives_a_score_without_errors(pair: dict[str, Path]) -> None:
    p = erm("judge", str(pair["ref"]), str(pair["recoloured"]), "--judge", "ssim", "--json")
    assert p.returncode == 0, p.stderr
    v = json.loads(p.stdout)
    assert v["errors"] == [] and 0.0 < v["score"] < 1.0 and v["judge"]["name"] == "ssim"


def test_image_batch_records_a_corrupt_item_and_resumes(pair: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    rows = [{"id": "same", "category": "svg", "gt_img_path": str(pair["ref"]), "pred_img_path": str(pair["same"])},
            {"id": "corrupt", "type": "svg", "gt_img_path": str(pair["ref"]), "pred_img_path": str(bad)},
            {"id": "recoloured", "category": "svg", "gt_img_path": str(pair["ref"]),
             "pred_img_path": str(pair["recoloured"])}]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    shared = ("--allowed-root", str(pair["ref"].parent))  # the images live outside the JSONL's folder
    p = erm("judge", "--batch", str(data), "--out-dir", str(out), "--json", "--workers", "1", *shared)
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert (s["total"], s["judged"], s["failed"]) == (3, 2, 1)
    lines = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    by_id = {r["id"]: r for r in lines}
    assert by_id["same"]["verdict"]["reward"] == 1.0 and by_id["recoloured"]["verdict"]["errors"]
    assert "corrupt" in by_id["corrupt"]["error"] or "readable" in by_id["corrupt"]["error"]
    again = json.loads(erm("judge", "--batch", str(data), "--out-dir", str(out), "--json", *shared).stdout)
    assert again["resumed"] == 2 and again["judged"] == 2


def test_without_an_ocr_engine_the_text_check_is_skipped_with_a_warning(pair: dict[str, Path]) -> None:
    # force the pure-pip fallback, which this environment does not install: no OCR engine at all
    p = erm("judge", str(pair["ref"]), str(pair["recoloured"]), "--json", ERM_OCR_ENGINE="rapidocr")
    assert p.returncode == 0, p.stderr
    v = json.loads(p.stdout)
    assert v["errors"] and "text check skipped" in v["info"]["warnings"][0]
    assert "warning" in p.stderr and "erm-cli[ocr]" in p.stderr
