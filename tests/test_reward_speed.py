"""``erm bench speed --sections rewards``: rewards per second through every RL adapter's call shape, with the
critic at 1 and 2 workers, from a fresh render cache (the figures themselves are printed, not asserted)."""

from __future__ import annotations

import os

from erm_cli.bench.reward_speed import ADAPTERS
from erm_cli.bench.speed import DEFAULT_SECTIONS, run_speed
from erm_cli.bench.speed_summary import summary_rows


def test_rewards_section_scores_every_adapter_at_one_and_two_workers() -> None:
    cache = os.environ.get("ERM_CACHE_DIR")
    doc = run_speed(("rewards",), items=3)
    section = doc["rewards"]
    assert "unavailable" not in section, section
    assert {(r["adapter"], r["workers"]) for r in section["rows"]} == {(a, w) for a in ADAPTERS for w in (1, 2)}
    for r in section["rows"]:  # every fenced SVG answer (ending in <|im_end|>) renders and scores >= 1
        assert r["rollouts"] == 3 and r["rendered"] == 3 and r["rewards_per_second"] > 0, r
    assert os.environ.get("ERM_CACHE_DIR") == cache  # the fresh cache was the section's own
    rows = [row for row in summary_rows(doc) if row[0] == "rewards" and row[1].startswith("rewards/s")]
    assert len(rows) == len(ADAPTERS) and all("1 worker" in v and "2 workers" in v for _, _, v in rows)
    assert "rewards" not in DEFAULT_SECTIONS  # the default erm bench speed stays short
