"""The critic speed benchmark runs and reports a per-stage split and CPU time (figures are printed, never
asserted)."""

from __future__ import annotations

import json

from erm_cli.bench.critic_speed import STAGES, TARGET_S
from erm_cli.bench.speed import run_speed, write_speed


def test_bench_speed_json_holds_the_split_and_cpu_time(tmp_path) -> None:
    path = write_speed(run_speed(sections=("critic",), quick=True), tmp_path / "speed.json")
    doc = json.loads(path.read_text())["critic"]  # what `erm bench speed` writes
    s = doc["summary"]
    assert s["median_s_800x600_chart"] > 0 and s["median_cpu_s_800x600_chart"] > 0
    assert set(s["split_median_s_800x600_chart"]) == set(STAGES) and "verifier" in STAGES
    assert s["target_s"] == TARGET_S == 0.35
    assert set(s["load_average"]) == {"before", "after"}
    for r in doc["pairs"]:
        assert {f"{st}_s" for st in STAGES} | {"median_s", "median_cpu_s"} <= set(r)
    tasks = {r["task"] for r in doc["pairs"]}
    assert tasks == {"chart", "table", "svg"}
    assert all(r["size"] == "800x600" for r in doc["pairs"] if r["task"] == "chart")
    # equivalent pairs are judged equivalent, changed ones are not
    assert [r["errors"] == 0 for r in doc["pairs"]] == [r["pair"].startswith("same") for r in doc["pairs"]]
