"""``erm train policy``: GRPO of an image-to-code policy with erm's reward (TRL GRPOTrainer).

Rewards (summed by TRL with ``reward_weights``):

- ``erm_visual_reward`` (weight ``visual_weight``): ``render_ok + visual reward`` in [0, 2], the
  paper's r_rsr + r_verm, from :func:`erm_cli.train.rewards.make_trl_reward` — the one scorer: the
  completion's code is rendered in the sandbox and judged against the full-size reference image by
  the critic, a VLM judge (``vlm:SPEC``) or a remote ``erm serve`` (``remote:URL``); samples of a
  batch are scored in parallel (``reward_workers``) with a per-sample timeout.
- ``erm_format_reward`` (weight ``format_weight``): one clean fenced block in the expected language
  (:mod:`erm_cli.train.format_reward`).

Rollouts use vLLM on GPU (``use_vllm``; colocate or ``trl vllm-serve`` server mode) and plain
``generate`` on CPU. TRL logs each reward's mean / std, completion lengths and clipping; erm adds
``erm/render_ok``, ``erm/visual_reward`` and ``erm/failed`` (render or judge failures) per step, all
also appended to ``OUT/metrics.jsonl``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from ..errors import InputError
from .common import (
    TrainResult,
    accumulation_steps,
    cuda_available,
    loss_history,
    run_training,
    stdout_to_stderr,
    trainer_inputs,
    trl_config,
)
from .config import PolicySettings, ResolvedSettings, world_size
from .run import finish_run, prepare_run_dirs, run_settings


def parse_reward_spec(spec: str) -> dict[str, Any]:
    """``critic`` | ``vlm:SPEC`` | ``remote:URL[,URL...]`` (or a bare URL) -> make_trl_reward options."""
    text = (spec or "").strip()
    if text in ("critic", ""):
        return {"judge": "critic"}
    if text in ("ssim", "mse", "phash"):
        return {"judge": text}
    if text.startswith("vlm:"):
        model = text[4:].strip()
        if not model:
            raise InputError("--reward vlm:SPEC needs a model spec, e.g. vlm:hf:/models/visual-erm")
        from ..models.spec import parse_spec

        parse_spec(model)  # a bad spec fails now, not at the first reward call
        return {"judge": "vlm", "model": model}
    if text.startswith("remote:"):
        text = text[len("remote:") :].strip()
    if text.startswith(("http://", "https://")):
        urls = [u.strip().rstrip("/") for u in text.split(",") if u.strip()]
        if not all(u.startswith(("http://", "https://")) for u in urls):
            raise InputError(f"--reward remote:URL needs http(s) URLs, got {spec!r}")
        return {"judge": ",".join(urls)}
    raise InputError(f"unknown --reward {spec!r}; use critic, vlm:SPEC or remote:URL")


def reward_judge_options(settings: PolicySettings) -> dict[str, Any]:
    """``prompt_file`` and ``profile`` for the reward judge (checked by make_trl_reward: a prompt file
    needs ``--reward vlm:SPEC``)."""
    out: dict[str, Any] = {}
    if settings.reward_prompt_file:
        out["prompt_file"] = settings.reward_prompt_file
    if settings.reward_profile:
        out["profile"] = settings.reward_profile
    return out


def reward_workers(settings: PolicySettings) -> int:
    return settings.reward_workers or max(2, min(16, os.cpu_count() or 2))


def build_reward_funcs(settings: PolicySettings) -> tuple[list[Callable[..., list[float]]], list[float]]:
    """The TRL reward functions and their weights (a zero weight drops that reward)."""
    from .format_reward import make_format_reward
    from .rewards import make_trl_reward

    funcs: list[Callable[..., list[float]]] = []
    weights: list[float] = []
    if settings.visual_weight > 0:
        funcs.append(
            make_trl_reward(
                image_column="reference",
                task_column="task",
                timeout=settings.reward_timeout,
                max_workers=reward_workers(settings),
                **parse_reward_spec(settings.reward),
                **reward_judge_options(settings),
            )
        )
        weights.append(settings.visual_weight)
    if settings.format_weight > 0:
        funcs.append(make_format_reward(kind_column="kind"))
        weights.append(settings.format_weight)
    return funcs, weights


def use_vllm(settings: PolicySettings) -> bool:
    """Explicit setting, else on when a GPU and vLLM are both present."""
    if settings.use_vllm is not None:
        if settings.use_vllm and not cuda_available():
            raise InputError("vLLM rollouts need a GPU; on CPU pass --no-vllm (plain generate)")
        if settings.use_vllm:
            try:
                import vllm  # noqa: F401
            except ImportError:
                raise InputError(
                    "vLLM is not installed (pip install 'erm-cli[vllm]'), or pass --no-vllm"
                ) from None
        return bool(settings.use_vllm)
    if not cuda_available():
        return False
    try:
        import vllm  # noqa: F401
    except ImportError:
        return False
    return True


def batch_plan(settings: PolicySettings, processes: int) -> dict[str, int]:
    """TRL batch arguments from verl-style settings.

    ``batch_size`` prompts x ``num_generations`` completions are generated per round; each optimizer update
    uses ``mini_batch_size`` prompts (default: all of them), i.e. ``steps_per_generation`` micro-steps of
    ``per_device_batch_size`` completions per process.
    """
    n = settings.num_generations
    gen_batch = settings.batch_size * n
    mini = (settings.mini_batch_size or settings.batch_size) * n
    if gen_batch % mini:
        raise InputError(
            f"batch_size ({settings.batch_size}) must be a multiple of mini_batch_size "
            f"({settings.mini_batch_size})"
        )
    grad_accum = accumulation_steps(
        mini, settings.per_device_batch_size, processes, what="mini_batch_size x num_generations"
    )
    steps_per_generation = gen_batch // (settings.per_device_batch_size * processes)
    return {
        "generation_batch_size": gen_batch,
        "gradient_accumulation_steps": grad_accum,
        "steps_per_generation": steps_per_generation,
    }


def dry_run_plan(resolved: ResolvedSettings) -> dict[str, Any]:
    """What ``erm train policy --dry-run`` shows beside the settings: the batch plan for this many processes."""
    return {"batch_plan": batch_plan(resolved.settings, world_size())}  # type: ignore[arg-type]


def build_grpo_trainer(
    settings: PolicySettings,
    base_dir: Path,
    train_dataset: Any,
    out: Path,
    reward_funcs: Sequence[Callable[..., list[float]]],
    reward_weights: Sequence[float],
) -> Any:
    """A GRPOTrainer wired for a VLM policy on CPU or GPU (see the module docstring)."""
    from trl import GRPOConfig, GRPOTrainer

    plan = batch_plan(settings, world_size())
    vllm_on = use_vllm(settings)
    vllm_args: dict[str, Any] = {}
    if vllm_on:
        vllm_args = dict(
            use_vllm=True,
            vllm_mode=settings.vllm_mode,
            vllm_gpu_memory_utilization=settings.vllm_gpu_memory_utilization,
            vllm_tensor_parallel_size=settings.vllm_tensor_parallel_size,
        )
        if settings.vllm_mode == "server" and settings.vllm_server_url:
            vllm_args["vllm_server_base_url"] = settings.vllm_server_url
    args = trl_config(
        GRPOConfig,
        settings,
        out,
        plan["gradient_accumulation_steps"],
        steps_per_generation=plan["steps_per_generation"],
        num_generations=settings.num_generations,
        max_completion_length=settings.max_completion_length,
        temperature=settings.temperature,
        top_p=settings.top_p,
        beta=settings.beta,
        loss_type=settings.loss_type,
        reward_weights=list(reward_weights),
        log_completions=settings.log_completions,
        remove_unused_columns=False,
        **vllm_args,
    )
    inputs = trainer_inputs(base_dir, args, settings, out, padding_side="left")
    return GRPOTrainer(reward_funcs=list(reward_funcs), train_dataset=train_dataset, **inputs)


def train_policy(
    resolved: ResolvedSettings,
    reward_funcs: Sequence[Callable[..., list[float]]] | None = None,
    reward_weights: Sequence[float] | None = None,
) -> TrainResult:
    """Run the GRPO described by ``resolved``. ``reward_funcs``/``reward_weights`` replace the built-in
    rewards (library use: wrap or extend them; the CLI always uses the built-in ones)."""
    settings = run_settings(resolved, PolicySettings, "train_policy", "data", "model", "out", "reward")
    t0 = time.perf_counter()

    from .datasets import load_policy_prompts, policy_dataset

    prompts = load_policy_prompts(settings.data, settings.task, settings.limit)  # type: ignore[arg-type]
    if reward_funcs is None:
        reward_funcs, reward_weights = build_reward_funcs(settings)
    elif reward_weights is None:
        reward_weights = [1.0] * len(reward_funcs)
    out, base_dir = prepare_run_dirs(settings)

    with stdout_to_stderr(), reward_failure_log(out / "reward_failures.log"):
        trainer = build_grpo_trainer(
            settings,
            base_dir,
            policy_dataset(prompts, settings.max_image_side),
            out,
            reward_funcs,
            reward_weights or [],
        )
        train_output = run_training(trainer, settings, base_dir, out)

    history = trainer.state.log_history
    rewards = loss_history(history, "reward")
    metrics: dict[str, Any] = {
        "prompts": len(prompts),
        "train_loss": float(train_output.training_loss),
        "vllm": bool(trainer.args.use_vllm),
    }
    for key in ("reward", "erm/render_ok", "erm/visual_reward", "erm/failed", "completions/mean_length"):
        vals = loss_history(history, key)
        if vals:
            metrics[f"first_{key}"] = vals[0]
            metrics[f"last_{key}"] = vals[-1]
    if rewards:
        metrics["mean_reward"] = sum(rewards) / len(rewards)
    record = {
        "data": {
            "source": str(settings.data),
            "prompts": len(prompts),
            "tasks": _count(p.task for p in prompts),
        },
        "batch_plan": batch_plan(settings, world_size()),
    }
    load_with = f"erm refine IMAGE --policy hf:{out}"
    return finish_run("policy", resolved, trainer, out, t0, record, metrics=metrics, load_with=load_with)


@contextlib.contextmanager
def reward_failure_log(path: Path) -> Iterator[None]:
    """Send the scorer's per-sample failure lines (render errors, judge timeouts) to a file instead of the
    terminal: a GRPO round has hundreds of samples, the per-step failure rate is logged as erm/failed."""
    logger = logging.getLogger("erm.rewards")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    old_propagate, old_level = logger.propagate, logger.level
    logger.addHandler(handler)
    logger.propagate = False
    if logger.level == logging.NOTSET or logger.level > logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.propagate = old_propagate
        logger.setLevel(old_level)


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out
