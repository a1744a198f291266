"""`erm train policy`: real TRL GRPOTrainer on a tiny random Qwen3-VL, CPU, erm's real rewards.

The tiny policy writes junk, so the visual reward is 0 here; what is checked is the plumbing: the reward
functions receive the full-size reference images and the task of every sample, losses and rewards are
finite, the policy is saved and reloads as ``hf:OUT``, and the CLI prints where it went.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

pytest.importorskip("trl")

from erm_cli.errors import InputError  # noqa: E402
from erm_cli.train.datasets import load_policy_prompts  # noqa: E402
from erm_cli.train.policy_grpo import build_reward_funcs, train_policy  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def bar_chart(path: Path, heights: list[int], size: tuple[int, int] = (360, 270)) -> None:
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    base = size[1] - 30
    d.line([30, base, size[0] - 20, base], fill="black", width=2)
    for i, h in enumerate(heights):
        d.rectangle([50 + 70 * i, base - h, 95 + 70 * i, base], fill=(31, 119, 180))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


@pytest.fixture(scope="module")
def prompts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("policy-data")
    bar_chart(root / "chart" / "a.png", [80, 140, 60])
    bar_chart(root / "chart" / "b.png", [120, 40, 100])
    img = Image.new("RGB", (128, 128), "white")
    ImageDraw.Draw(img).ellipse([24, 24, 104, 104], fill=(220, 40, 40))
    (root / "svg").mkdir()
    img.save(root / "svg" / "dot.png")
    return root


class RecordingReward:
    """Wraps a real reward function and keeps what TRL passed to it (no behaviour change)."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.__name__ = fn.__name__
        self.calls: list[dict[str, Any]] = []

    def __call__(
        self, prompts: Any = None, completions: Any = None, completion_ids: Any = None, **kwargs: Any
    ) -> list[float]:
        rewards = self.fn(prompts=prompts, completions=completions, completion_ids=completion_ids, **kwargs)
        self.calls.append(
            {
                "n": len(completions),
                "reference": list(kwargs["reference"]),
                "task": list(kwargs["task"]),
                "image": list(kwargs["image"]),
                "rewards": rewards,
            }
        )
        return rewards


def test_prompt_sources(prompts_dir: Path, tmp_path: Path) -> None:
    prompts = load_policy_prompts(prompts_dir)
    assert sorted((p.id, p.task, p.kind) for p in prompts) == [
        ("chart/a", "chart", "matplotlib"),
        ("chart/b", "chart", "matplotlib"),
        ("svg/dot", "svg", "svg"),
    ]
    # a VC-RewardBench / synth JSONL: distinct gt images become prompts
    rows = [
        {
            "id": f"r{i}",
            "category": "chart",
            "gt_img_path": "chart/a.png" if i < 2 else "chart/b.png",
            "pred_img_path": "chart/b.png",
            "human_errors": [],
        }
        for i in range(3)
    ]
    jsonl = prompts_dir / "data.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    try:
        from_jsonl = load_policy_prompts(jsonl)
        assert [Path(p.reference).name for p in from_jsonl] == ["a.png", "b.png"]
        with pytest.raises(InputError, match="no reference images .* for task svg"):
            load_policy_prompts(jsonl, task="svg")
    finally:
        jsonl.unlink()


def test_grpo_rewards_see_references_and_checkpoint_reloads(
    prompts_dir: Path, tmp_path: Path, tiny_train_settings: Any
) -> None:
    out = tmp_path / "policy"
    resolved = tiny_train_settings(
        "policy", prompts_dir, out, max_steps=2, format_weight=0.5, reward_workers=2
    )
    funcs, weights = build_reward_funcs(resolved.settings)  # the real visual + format rewards
    assert [f.__name__ for f in funcs] == ["erm_visual_reward", "erm_format_reward"] and weights == [1.0, 0.5]
    spies = [RecordingReward(f) for f in funcs]
    result = train_policy(resolved, reward_funcs=spies, reward_weights=weights)

    assert result.steps == 2
    references = {p.reference: p.task for p in load_policy_prompts(prompts_dir)}
    visual = spies[0]
    assert visual.calls, "the visual reward was never called"
    for call in visual.calls:
        assert call["n"] == len(call["reference"]) == len(call["task"])
        for ref, task in zip(call["reference"], call["task"]):
            assert ref in references and references[ref] == task  # full-size reference path + its task
        for img, ref in zip(call["image"], call["reference"]):
            assert isinstance(img, Image.Image) and img.size == Image.open(ref).size
        assert all(isinstance(r, float) and 0.0 <= r <= 2.0 for r in call["rewards"])
    assert all(math.isfinite(r) for c in spies[1].calls for r in c["rewards"])

    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "loss" in r]
    assert len(steps) == 2
    for r in steps:
        assert math.isfinite(r["loss"]) and math.isfinite(r["reward"])
        assert "rewards/erm_visual_reward/mean" in r and "completions/mean_length" in r
        assert 0.0 <= r["erm/render_ok"] <= 1.0 and 0.0 <= r["erm/failed"] <= 1.0
    record = json.loads((out / "erm_train.json").read_text())
    assert record["kind"] == "policy" and record["settings"]["beta"] == 0.01
    assert record["batch_plan"]["generation_batch_size"] == 4

    from erm_cli.models import load_model
    from erm_cli.models.base import Sampling

    backend = load_model(f"hf:{out}")
    [completion] = backend.generate(
        [
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "image": Image.open(prompts_dir / "chart" / "a.png")},
                        {"type": "text", "text": "Write matplotlib code."},
                    ],
                }
            ]
        ],
        Sampling(max_tokens=8),
    )
    assert completion.error is None and completion.completion_tokens > 0


def test_cli_policy_run(prompts_dir: Path, tmp_path: Path, tiny_train_cli: Any) -> None:
    out = tmp_path / "cli-policy"
    flags = ("--task", "chart", "--reward", "critic", "--max-steps", "1")
    r = tiny_train_cli("policy", prompts_dir, out, *flags)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads(r.stdout)  # stdout is only the JSON result; trainer logs went to stderr
    assert data["out"] == str(out.resolve()) and data["steps"] == 1
    assert data["metrics"]["prompts"] == 2 and data["metrics"]["vllm"] is False
    assert (out / "model.safetensors").is_file() and (out / "reward_failures.log").exists()
    # a second run into the same folder is refused rather than silently mixed
    again = tiny_train_cli("policy", prompts_dir, out, *flags)
    assert again.returncode == 2 and "already holds a trained model" in again.stderr
