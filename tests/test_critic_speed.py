"""The critic speed benchmark runs and reports a per-stage split (figures are printed, never asserted)."""

from __future__ import annotations

from erm_cli.bench.critic_speed import STAGES, run


def test_quick_speed_run_reports_the_split() -> None:
    doc = run(quick=True, repeats=1)
    s = doc["summary"]
    assert s["median_s_800x600_chart"] > 0 and set(s["split_median_s_800x600_chart"]) == set(STAGES)
    tasks = {r["task"] for r in doc["pairs"]}
    assert tasks == {"chart", "table", "svg"}
    assert all(r["size"] == "800x600" for r in doc["pairs"] if r["task"] == "chart")
    # equivalent pairs are judged equivalent, changed ones are not
    assert [r["errors"] == 0 for r in doc["pairs"]] == [r["pair"].startswith("same") for r in doc["pairs"]]
