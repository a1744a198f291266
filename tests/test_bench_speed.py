"""`erm bench speed` produces its figures (no timing asserts: speed targets are read from the printed figures)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from erm_cli.bench.speed import flatten, judge_throughput, startup_time

REPO = Path(__file__).resolve().parent.parent


def test_startup_figures_and_no_heavy_imports():
    doc = startup_time(runs=2)
    assert doc["runs"] == 2 and doc["erm_help_seconds"]["p50"] > 0
    # erm --help must not import torch / transformers / playwright / matplotlib
    assert doc["heavy_imports_at_startup"] == []
    print("erm --help seconds:", doc["erm_help_seconds"])


def test_judge_throughput_of_a_baseline():
    doc = judge_throughput("mse", n=4)
    assert doc["items"] == 4 and doc["items_per_second"] > 0 and set(doc["latency_seconds"]) >= {"p50", "p90"}
    print("mse judge:", doc)


def test_cli_writes_json_and_prints_a_table(tmp_path):
    out = tmp_path / "speed.json"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "erm_cli.app",
            "bench",
            "speed",
            "--sections",
            "startup,judge",
            "--judge",
            "phash",
            "--items",
            "3",
            "--quick",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(out.read_text())
    assert doc["judge"]["judge"] == "phash" and "metrics_version" in doc["provenance"]
    assert "erm --help (p50)" in res.stdout and "judge phash throughput" in res.stdout  # the short summary
    assert f"{doc['judge']['items_per_second']:.3g} pairs/s" in res.stdout
    assert ("judge.items_per_second", f"{doc['judge']['items_per_second']:.4g}") in flatten(doc)
    print(res.stdout)


def test_cli_rejects_unknown_sections():
    res = subprocess.run(
        [sys.executable, "-m", "erm_cli.app", "bench", "speed", "--sections", "warp"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert res.returncode == 2 and "--sections" in res.stderr
