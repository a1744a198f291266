"""`erm train export-verl`: the parquet loads with pandas and pyarrow in verl's layout, and the written
reward module (verl's ``compute_score``) scores samples with erm's real renderer and critic."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")
import pyarrow.parquet as pq  # noqa: E402

from erm_cli.errors import InputError  # noqa: E402
from erm_cli.train.export_verl import export_verl  # noqa: E402

CHART_CODE = """import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
ax.bar(["north", "south", "east"], [12, 30, 21], color=["#1f77b4", "#ff7f0e", "#2ca02c"])
ax.set_title("Sales by region")
ax.set_ylabel("units")
"""
SVG_CODE = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">'
    '<circle cx="48" cy="40" r="26" fill="#d62728"/>'
    '<text x="48" y="88" font-size="14" text-anchor="middle" font-family="DejaVu Sans">Stop</text></svg>'
)


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Reference images rendered by erm from known code (so the right answer is known)."""
    from erm_cli.renderers import render

    root = tmp_path_factory.mktemp("verl-refs")
    for task, name, code, kind in (
        ("chart", "sales", CHART_CODE, "matplotlib"),
        ("svg", "dot", SVG_CODE, "svg"),
    ):
        result = render(code, kind=kind)
        assert result.ok, result.error
        (root / task).mkdir()
        (root / task / f"{name}.png").write_bytes(result.png)
    return root


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("erm_reward_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_export_loads_and_reward_module_scores(references: Path, tmp_path: Path) -> None:
    out = tmp_path / "verl"
    result = export_verl(
        references, out, val_fraction=0.5, format_weight=0.25, max_image_side=64, show_progress=False
    )
    assert result.rows == {"train": 1, "val": 1} and result.tasks == {"chart": 1, "svg": 1}
    assert {"train.parquet", "val.parquet", "erm_reward.py", "run_grpo.sh", "images"} <= set(result.files)

    frame = pd.concat([pd.read_parquet(out / "train.parquet"), pd.read_parquet(out / "val.parquet")])
    table = pq.read_table(out / "train.parquet")
    assert table.schema.names == ["data_source", "prompt", "images", "ability", "reward_model", "extra_info"]
    by_task = {row.extra_info["task"]: row for row in frame.itertuples()}
    chart = by_task["chart"]
    assert chart.data_source == "erm/chart" and chart.ability == "vision-to-code"
    assert chart.prompt[0]["role"] == "user" and chart.prompt[0]["content"].startswith("<image>")
    assert "matplotlib" in chart.prompt[0]["content"]
    import io

    from PIL import Image

    shown = Image.open(io.BytesIO(chart.images[0]["bytes"]))
    assert max(shown.size) == 64  # the policy sees the capped image ...
    ref_rel = chart.reward_model["ground_truth"]
    full = Image.open(out / ref_rel)
    assert max(full.size) > 64 and ref_rel == chart.extra_info["reference"]  # ... the reward the full one

    module = load_module(out / "erm_reward.py")
    extra = dict(chart.extra_info)
    right = module.compute_score(chart.data_source, f"```python\n{CHART_CODE}```", ref_rel, extra)
    wrong = module.compute_score(chart.data_source, "I am not able to write code.", ref_rel, extra)
    assert right["render_ok"] == 1.0 and right["failed"] == 0.0 and right["format"] == 1.0
    assert right["score"] == pytest.approx(1.0 + right["visual_reward"] + 0.25)
    assert right["visual_reward"] > 0.8  # the reference's own code
    assert wrong["render_ok"] == 0.0 and wrong["format"] == 0.0 and wrong["score"] == 0.0

    svg = by_task["svg"]
    batch = module.compute_score(
        data_sources=[svg.data_source, svg.data_source],
        solution_strs=[f"```svg\n{SVG_CODE}\n```", "```svg\n<svg"],
        ground_truths=[svg.reward_model["ground_truth"]] * 2,
        extra_infos=[dict(svg.extra_info)] * 2,
    )
    assert batch[0]["render_ok"] == 1.0 and batch[0]["score"] > batch[1]["score"]

    script = (out / "run_grpo.sh").read_text()
    for setting in (
        "actor_rollout_ref.actor.optim.lr=1e-6",
        "data.train_batch_size=256",
        "actor_rollout_ref.rollout.n=8",
        "actor_rollout_ref.actor.kl_loss_coef=0.01",
        "reward.custom_reward_function.name=compute_score",  # verl >= 0.9 keys (0.9 ignores the top-level ones)
        "val.parquet",
    ):
        assert setting in script
    assert "reward_manager=batch" not in script  # not in verl's reward-loop registry (>= 0.7)
    prime = module.compute_score_prime(chart.data_source, f"```python\n{CHART_CODE}```", ref_rel, extra)
    assert isinstance(prime, float) and prime == pytest.approx(right["score"])
    import pickle

    pickle.loads(pickle.dumps(module.compute_score_prime))  # prime sends it to a process pool
    r = subprocess.run(["bash", "-n", str(out / "run_grpo.sh")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_export_cli_and_errors(references: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "erm_cli.app",
            "train",
            "export-verl",
            "--data",
            str(references),
            "--out-dir",
            str(out),
            "--task",
            "svg",
            "--reward",
            "remote:http://127.0.0.1:9/",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["rows"] == {"train": 1} and not (out / "val.parquet").exists()
    module_text = (out / "erm_reward.py").read_text()
    assert "JUDGE = os.environ.get(\"ERM_REWARD_JUDGE\") or 'http://127.0.0.1:9'" in module_text
    with pytest.raises(InputError, match="no such file or folder"):
        export_verl(tmp_path / "missing", tmp_path / "x", show_progress=False)
    with pytest.raises(InputError, match="unknown --reward"):
        export_verl(references, tmp_path / "x", reward="magic", show_progress=False)
