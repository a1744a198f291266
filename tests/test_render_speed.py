"""The render speed benchmark measures and returns figures (targets are printed, never asserted here)."""

from __future__ import annotations

from erm_cli.bench import render_speed


def test_measure_one_kind_and_format_the_table() -> None:
    row = render_speed.measure_kind("svg", repeats=1, cold_repeats=1)
    assert row["kind"] == "svg" and "error" not in row
    for key in ("cold_ms", "warm_ms", "cache_hit_ms", "speedup"):
        assert row[key] is not None and row[key] > 0
    result = {"rows": [row], "help_s": render_speed.measure_help(1), "targets": render_speed.TARGETS,
              "meets_targets": {"warm_speedup": True, "cache_hit": True, "help": True}, "repeats": 1,
              "machine": {"cpus": 2, "loadavg": None, "python": "3"}}
    table = render_speed.format_table(result)
    assert "svg" in table and "erm --help" in table and result["help_s"] > 0
