"""``erm train critic`` never trains on a benchmark's bases: its ``erm synth`` seed lives in a namespace that
erm's benchmark seeds (bench-mini: ``erm synth --seed 0``; ``critic_robustness.py --seed 777``) cannot reach."""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path

from erm_cli.data.synth import GroupFactory, SynthConfig
from erm_cli.train.critic import TASK_SHARES, TRAIN_SYNTH_SEED_BASE, training_synth_seed

ROOT = Path(__file__).resolve().parents[1]
GROUPS_PER_TASK = 12


def _codes(seed: int, tmp: Path, n: int = GROUPS_PER_TASK) -> dict[str, set[str]]:
    """The reference code of the first ``n`` groups per task of ``erm synth --seed SEED`` (no rendering)."""
    out: dict[str, set[str]] = {}
    for task in TASK_SHARES:
        factory = GroupFactory(SynthConfig(out=tmp / f"{seed}-{task}", task=task, n=n, seed=seed))
        out[task] = {factory.build(task, i).ref_code for i in range(n)}
    return out


def test_training_seed_is_outside_every_small_seed() -> None:
    seeds = {training_synth_seed(s) for s in range(50)}
    assert len(seeds) == 50
    assert all(TRAIN_SYNTH_SEED_BASE <= s < 2 * TRAIN_SYNTH_SEED_BASE for s in seeds)
    assert training_synth_seed(0) == training_synth_seed(0)  # deterministic


def test_training_bases_share_no_reference_code_with_bench_mini(tmp_path: Path) -> None:
    mini = [json.loads(line) for line in (ROOT / "examples/bench-mini/data.jsonl").read_text().splitlines()
            if line.strip()]
    mini_codes = {r["gt_code"] for r in mini if r.get("gt_code")}
    assert len(mini_codes) >= 10
    # the check itself can see an overlap: erm synth's default seed 0 is where bench-mini came from
    seed0 = set().union(*_codes(0, tmp_path).values())
    assert mini_codes & seed0
    train = set().union(*_codes(training_synth_seed(0), tmp_path).values())
    assert len(train) >= 2 * GROUPS_PER_TASK
    assert not (mini_codes & train)


def test_training_bases_share_no_reference_code_with_the_seed_777_robustness_run(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import critic_robustness as cr
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    bases = cr.synth_bases("synth", 16, 777) + cr.synth_bases("tables", 8, 777)
    bench = {cr._docs(b)[0].code() for b in bases}
    assert len(bench) >= 20
    for seed in (0, 1, 777):
        train = set().union(*_codes(training_synth_seed(seed), tmp_path).values())
        assert not (bench & train), seed


def test_training_adds_grid_only_candidates_to_matplotlib_chart_bases(tmp_path: Path) -> None:
    from erm_cli.train.critic import CriticTrainConfig, grid_extra

    cfg = CriticTrainConfig(out=tmp_path)
    factory = GroupFactory(SynthConfig(out=tmp_path / "s", task="chart", n=40, seed=training_synth_seed(0)))
    names = set()
    for i in range(40):
        g = factory.build("chart", i)
        made = grid_extra(cfg, g.gid, {"kind": g.kind, "gt_code": g.ref_code})
        if g.kind != "matplotlib":
            assert made is None
            continue
        if made is None:
            continue
        code, edit = made
        assert code != g.ref_code and edit.category == "style_error" and edit.severity == 1
        changed = [line for line in difflib.unified_diff(g.ref_code.splitlines(), code.splitlines(), lineterm="", n=0)
                   if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        assert changed and all("grid" in line for line in changed), changed
        assert grid_extra(cfg, g.gid, {"kind": g.kind, "gt_code": g.ref_code})[0] == code  # deterministic
        names.add(edit.name)
    assert names == {"chart.grid", "chart.grid_style"}
