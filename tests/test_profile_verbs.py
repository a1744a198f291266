"""``--profile visual-erm`` on ``erm refine``, ``erm bench policy`` and ``erm synth``: candidates render as the
released Visual-ERM reward renders them (an SVG at 336x336 whatever its size), and the profile is recorded in
each verb's results (refine's summary.json config, bench policy's metrics.json, synth's manifest)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw

from erm_cli.jsonl import iter_jsonl

ERM = [sys.executable, "-m", "erm_cli.app"]
ICON = ('<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24">'
        '<circle cx="12" cy="12" r="8" fill="#d62728"/></svg>')


def read_jsonl(path: Path) -> list[dict]:
    return [row for _, row in iter_jsonl(path)]


def _reference(path: Path) -> Path:
    im = Image.new("RGB", (120, 120), "white")
    ImageDraw.Draw(im).ellipse((20, 20, 100, 100), fill="#d62728")
    im.save(path)
    return path


def _run(args: list[str]) -> subprocess.CompletedProcess:
    run = subprocess.run(ERM + args, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    return run


def test_refine_profile(tmp_path: Path) -> None:
    ref = _reference(tmp_path / "ref.png")
    (tmp_path / "init.svg").write_text(ICON)
    sizes = {}
    for profile in ("erm", "visual-erm"):
        out = tmp_path / profile
        _run(["refine", str(ref), "--init", str(tmp_path / "init.svg"), "--rounds", "0", "--profile", profile,
              "--out-dir", str(out), "--no-report", "--quiet", "--json"])
        assert json.loads((out / "summary.json").read_text())["config"]["profile"] == profile
        sizes[profile] = Image.open(out / "best.png").size
    assert sizes == {"erm": (120, 120), "visual-erm": (336, 336)}
    bad = subprocess.run(ERM + ["refine", str(ref), "--profile", "nope", "--out-dir", str(tmp_path / "x")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2 and "profile must be one of" in bad.stderr


def test_bench_policy_profile(tmp_path: Path) -> None:
    _reference(tmp_path / "a.png")
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"id": "a", "task": "svg", "code": ICON}) + "\n")
    refs = tmp_path / "refs.jsonl"
    refs.write_text(json.dumps({"id": "a", "task": "svg", "gt_img_path": "a.png"}) + "\n")
    for profile, expected in (("erm", [120, 120]), ("visual-erm", [336, 336])):
        out = tmp_path / profile
        _run(["bench", "policy", str(preds), "--refs", str(refs), "--judge", "none", "--profile", profile,
              "--out-dir", str(out), "--json", "--quiet"])
        assert json.loads((out / "metrics.json").read_text())["profile"] == profile
        [row] = read_jsonl(out / "results.jsonl")
        assert row["render_ok"] and row["render_size"] == expected


def test_synth_profile(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    _run(["synth", "--task", "svg", "-n", "1", "--svg-size", "64", "--equivalent-rate", "0", "--profile",
          "visual-erm", "--out-dir", str(out), "--json", "--quiet"])
    assert json.loads((out / "manifest.json").read_text())["config"]["profile"] == "visual-erm"
    [row] = read_jsonl(out / "data.jsonl")
    for key in ("gt_img_path", "pred_img_path"):
        assert Image.open(out / row[key]).size == (336, 336)  # the released SVG raster, not the 64 px canvas
