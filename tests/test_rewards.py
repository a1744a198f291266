"""RL reward adapters: one scorer under TRL, verl, EasyR1 and OpenRLHF entry points; local and remote
judges; failures and timeouts score 0 with a reason; a real GRPO step with the TRL adapter."""

from __future__ import annotations

import base64
import importlib.util
import inspect
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from erm_cli.serve import create_app
from erm_cli.serve.testing import running_server
from erm_cli.train import rewards
from erm_cli.train.rewards import (
    coerce_reference,
    compute_score,
    make_trl_reward,
    reward_func,
    score_batch,
    score_completion,
    task_hint,
)

pytest.importorskip("torch")

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="160" height="120"><rect width="160" height="120" '
       'fill="white"/><rect x="20" y="20" width="{w}" height="80" fill="{c}"/></svg>')
GOOD = f"Here is the SVG:\n```svg\n{SVG.format(w=100, c='#1f77b4')}\n```"
CLOSE = f"```svg\n{SVG.format(w=80, c='#ff7f0e')}\n```"
BROKEN = "```svg\n<svg xmlns='http://www.w3.org/2000/svg'><rect width='10' height=\n```"
# the tiny judge writes junk: short answers and no retry keep these plumbing tests fast
VLM = {"judge": "vlm", "model": "tiny:qwen3-vl?max_tokens_cap=8", "retries": 0}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    from erm_cli.renderers import render

    try:
        result = render(SVG.format(w=100, c="#1f77b4"))
    except NotImplementedError:
        pytest.skip("renderers have not landed in this build")
    if not result.ok:
        pytest.skip(f"SVG rendering does not work here: {result.error}")
    path = tmp_path_factory.mktemp("refs") / "ref.png"
    path.write_bytes(result.png)
    return path


def consistent(reward: float, verdict) -> bool:  # the RL reward is render_ok + visual reward
    return reward == pytest.approx((1.0 if verdict.render_ok else 0.0) + verdict.reward)


def test_score_completion_local_vlm_judge(reference: Path) -> None:
    reward, verdict, reason = score_completion(GOOD, reference, **VLM)
    assert reason is None and verdict.render_ok and verdict.task == "svg"
    assert verdict.judge["name"] == "vlm" and consistent(reward, verdict) and 1.0 <= reward <= 2.0
    reward, verdict, reason = score_completion(BROKEN, reference, **VLM)
    assert reward == 0.0 and reason is None and not verdict.render_ok and verdict.info["render_error"]


@pytest.mark.parametrize("completion, ref, fragment", [
    ("", None, "empty completion"),
    (GOOD, "missing/ref.png", "reference image not found"),
    (GOOD, 12345, "cannot use a int"),
])
def test_bad_samples_score_zero_with_a_reason(reference: Path, completion, ref, fragment: str) -> None:
    reward, verdict, reason = score_completion(completion, reference if ref is None else ref, **VLM)
    assert reward == 0.0 and verdict is None and fragment in reason


def test_timeout_scores_zero_and_the_batch_goes_on(reference: Path, caplog) -> None:
    results = score_batch([GOOD, GOOD], [reference, reference], "svg", timeout=0.001, **VLM)
    assert [r for r, _, _ in results] == [0.0, 0.0]
    assert all("timeout after 0.001s" in why for _, _, why in results)
    assert "scored 0: timeout" in caplog.text


def test_a_judge_that_cannot_load_fails_every_sample_loudly(reference: Path, monkeypatch) -> None:
    for var in ("ERM_REWARD_MODEL", "ERM_JUDGE_MODEL"):
        monkeypatch.delenv(var, raising=False)
    results = score_batch([GOOD, CLOSE], [reference, reference], judge="vlm")
    assert [r for r, _, _ in results] == [0.0, 0.0] and "needs model" in results[0][2]


def test_reference_shapes(reference: Path, tmp_path) -> None:
    data = reference.read_bytes()
    img = Image.open(io.BytesIO(data))
    assert coerce_reference(img) is img
    assert coerce_reference(data) == data
    assert coerce_reference({"bytes": data, "path": None}) == data
    assert coerce_reference([None, str(reference)]) == str(reference)
    assert coerce_reference(json.dumps({"gt_img_path": str(reference)})) == str(reference)
    assert coerce_reference("data:image/png;base64," + base64.b64encode(data).decode()) == data
    assert coerce_reference(base64.b64encode(data).decode()) == data
    assert coerce_reference(reference.name, root=reference.parent) == str(reference)
    import numpy as np

    assert coerce_reference(np.asarray(img.convert("RGB"))).size == img.size


@pytest.mark.parametrize("hint, task", [("chart2code", "chart"), ("icon2svg", "svg"), ("table_parse", "table"),
                                        ("svg", "svg"), ("", "auto"), ("geo3k", "auto")])
def test_task_hints(hint: str, task: str) -> None:
    assert task_hint(hint) == task


def test_rewards_module_loads_by_path_like_the_frameworks() -> None:
    spec = importlib.util.spec_from_file_location("custom_reward_fn", rewards.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # verl, EasyR1 and OpenRLHF all import the file like this
    assert module.REWARD_TYPE == "batch" and module.REWARD_NAME
    assert list(inspect.signature(module.verl_compute_score).parameters)[:4] == \
        ["data_source", "solution_str", "ground_truth", "extra_info"]
    assert list(inspect.signature(module.reward_func).parameters)[:3] == ["queries", "prompts", "labels"]
    assert callable(module.compute_score) and callable(module.trl_reward)


def test_verl_compute_score(reference: Path) -> None:
    via_extra = compute_score("icon2svg", GOOD, None, {"gt_img_path": str(reference)}, **VLM)
    via_truth = compute_score(data_source="chart2code", solution_str=GOOD,
                              ground_truth=json.dumps({"image": reference.name}),
                              extra_info={"task": "svg", "root": str(reference.parent)}, **VLM)
    for out in (via_extra, via_truth):
        assert set(out) == {"score", "render_ok", "visual_reward", "severity_total", "failed"}
        assert out["render_ok"] == 1.0 and out["failed"] == 0.0
        assert out["score"] == pytest.approx(out["render_ok"] + out["visual_reward"])
    broken = compute_score("icon2svg", BROKEN, str(reference), None, **VLM)
    assert broken["score"] == 0.0 and broken["render_ok"] == 0.0
    batch = compute_score(data_sources=["svg", "svg"], solution_strs=[GOOD, BROKEN],
                          ground_truths=[str(reference)] * 2, extra_infos=[{}, {}], **VLM)
    assert [b["render_ok"] for b in batch] == [1.0, 0.0]


def test_easyr1_compute_score_batch_and_sequential(reference: Path) -> None:
    inputs = [{"response": GOOD, "response_length": 40, "ground_truth": str(reference)},
              {"response": BROKEN, "response_length": 9, "ground_truth": json.dumps({"image": str(reference),
                                                                                      "task": "svg"})},
              {"response": GOOD, "response_length": 40, "ground_truth": "nowhere.png"}]
    out = compute_score(inputs, **VLM)
    assert len(out) == 3 and all("overall" in o for o in out)
    assert out[0]["overall"] == pytest.approx(out[0]["render_ok"] + out[0]["visual_reward"]) and out[0]["overall"] >= 1
    assert out[1]["overall"] == 0.0 and out[2]["overall"] == 0.0 and out[2]["failed"] == 1.0
    single = compute_score(inputs[0], **VLM)
    assert isinstance(single, dict) and single["render_ok"] == 1.0


def test_openrlhf_reward_func(reference: Path) -> None:
    import torch

    prompt = "<|im_start|>user\nWrite SVG for the icon.<|im_end|>\n<|im_start|>assistant\n"
    out = reward_func([prompt + GOOD, prompt + BROKEN], [prompt, prompt], [str(reference)] * 2, **VLM)
    assert isinstance(out["rewards"], torch.Tensor) and out["rewards"].shape == (2,)
    assert out["rewards"][0] >= 1.0 and out["rewards"][1] == 0.0
    assert torch.all((out["scores"] >= 0) & (out["scores"] <= 1))
    assert out["extra_logs"]["erm_render_ok"].tolist() == [1.0, 0.0]


def test_trl_reward_with_trl_style_arguments(reference: Path) -> None:
    metrics: dict[str, list[float]] = {}
    extras: dict[str, list] = {}
    fn = make_trl_reward(image_column="image", task="svg", **VLM)
    ref_img = Image.open(reference)
    completions = [[{"role": "assistant", "content": GOOD}], [{"role": "assistant", "content": BROKEN}]]
    out = fn(prompts=[[{"role": "user", "content": "x"}]] * 2, completions=completions, completion_ids=[[1], [2]],
             image=[ref_img, ref_img], trainer_state=None,
             log_extra=lambda col, vals: extras.setdefault(col, []).extend(vals),
             log_metric=lambda name, val: metrics.setdefault(name, []).append(val))
    assert len(out) == 2 and out[0] >= 1.0 and out[1] == 0.0
    assert metrics["erm/render_ok"] == [0.5] and metrics["erm/failed"] == [0.0]
    assert extras["erm_reason"] == ["", ""]
    assert fn.__name__ == "erm_visual_reward"
    assert fn(prompts=["p"], completions=["c"], completion_ids=[[1]]) == [0.0]  # no image column: 0, logged


def test_remote_judge_matches_the_local_contract(reference: Path) -> None:
    app = create_app("vlm", model="tiny:qwen3-vl", model_options={"max_tokens_cap": 8}, token="k")
    with running_server(app) as url:
        remote = score_batch([GOOD, BROKEN, ""], [reference, reference, reference], "svg", judge=url, token="k")
        denied = score_batch([GOOD], [reference], "svg", judge=url, token="wrong")
    (r0, v0, w0), (r1, v1, _), (r2, _, w2) = remote
    assert w0 is None and v0.render_ok and consistent(r0, v0) and v0.judge["model"] == "tiny:qwen3-vl"
    assert r1 == 0.0 and not v1.render_ok
    assert r2 == 0.0 and "empty" in w2
    assert denied[0][0] == 0.0 and "HTTP 401" in denied[0][2]


@pytest.mark.parametrize("asynchronous", [False, True])
def test_grpo_step_with_the_trl_adapter(reference: Path, tmp_path, asynchronous: bool) -> None:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from erm_cli.models.hf import load_hf, torch_threads
    from erm_cli.models.tiny import ensure_tiny_model

    model, processor = load_hf(ensure_tiny_model("qwen3-vl"), fresh=True)
    ref = Image.open(reference).convert("RGB")
    ds = Dataset.from_dict({"prompt": [[{"role": "user", "content": "Write SVG code for this icon."}]] * 4,
                            "image": [ref] * 4})
    reward = make_trl_reward(task="svg", asynchronous=asynchronous, **VLM)
    if asynchronous:  # TRL awaits it with its other async reward functions (asyncio.gather)
        from trl.trainer.utils import is_async_callable

        assert is_async_callable(reward)
    args = GRPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, gradient_checkpointing=False, max_steps=1,
                      per_device_train_batch_size=2, num_generations=2, max_completion_length=8, logging_steps=1,
                      report_to="none", save_strategy="no", learning_rate=1e-4)
    trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=args, train_dataset=ds, processing_class=processor)
    with torch_threads(1):  # a tiny model on a shared machine: one thread beats two spinning ones
        trainer.train()
    logged = {k for entry in trainer.state.log_history for k in entry}
    assert "rewards/erm_visual_reward/mean" in logged and "erm/render_ok" in logged
