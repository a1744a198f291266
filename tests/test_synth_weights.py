"""Perturbation weights: ``erm synth``'s seeds keep making the data they made, and training's weights reach the chain.

``examples/bench-mini`` is a report set made by ``erm synth --task all --n 60 --seed 0 --dpi 60 --svg-size 160``.
A perturbation added to a registry must not change what an old seed draws (else the README's regenerate command
makes other data and earlier figures cannot be reproduced); ``erm train critic`` turns such perturbations on
through ``SynthConfig.weights``. No rendering here: the groups are built as ``erm synth`` builds them.
"""

from __future__ import annotations

import json
from pathlib import Path

from erm_cli.data.synth import GroupFactory, SynthConfig
from erm_cli.train.critic import TRAIN_PERTURBATION_WEIGHTS

BENCH_MINI = Path(__file__).resolve().parents[1] / "examples" / "bench-mini"


def _built_codes(cfg: SynthConfig, task: str, n_groups: int) -> dict[str, set[str]]:
    factory = GroupFactory(cfg)
    out: dict[str, set[str]] = {}
    for index in range(n_groups):
        group = factory.build(task, index)
        out[group.gid] = {c.code for c in group.candidates}
    return out


def test_seed_0_still_builds_every_bench_mini_candidate(tmp_path: Path) -> None:
    records = [json.loads(line) for line in (BENCH_MINI / "data.jsonl").read_text().splitlines()]
    cfg = SynthConfig(out=tmp_path, task="all", n=60, seed=0, dpi=60, svg_px=160)
    for task in ("chart", "table", "svg"):
        mine = [r for r in records if r["group"].startswith(task)]
        n_groups = 1 + max(int(r["group"].split("-")[1]) for r in mine)
        built = _built_codes(cfg, task, n_groups)
        missing = [r["id"] for r in mine if r["pred_code"] not in built.get(r["group"], set())]
        assert not missing, f"seed 0 no longer builds these bench-mini candidates: {missing}"


def test_training_weights_draw_grid_styles_and_erm_synth_never_does(tmp_path: Path) -> None:
    def drawn(weights: dict[str, float]) -> set[str]:
        cfg = SynthConfig(out=tmp_path, task="chart", n=3 * 200, seed=12345, weights=weights)
        factory = GroupFactory(cfg)
        names: set[str] = set()
        for index in range(200):
            for cand in factory.build("chart", index).candidates:
                names.update(e.name for e in cand.edits)
        return names

    assert "chart.grid_style" not in drawn({})
    assert "chart.grid_style" in drawn(dict(TRAIN_PERTURBATION_WEIGHTS))
