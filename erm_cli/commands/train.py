"""`erm train`: reward-model SFT, policy GRPO, the verl export and the shipped presets.

Thin by design: options are collected into an overrides dict (``None`` = not given), layered over
``--preset`` and ``--config`` by :func:`erm_cli.train.config.resolve_settings`, and handed to the
library. Trainer logs go to stderr; stdout carries the result (rich, or JSON with ``--json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..console import console, print_json
from ..errors import InputError

app = typer.Typer(
    help="Train a judge (SFT) or a policy (GRPO) with TRL; export data and reward for verl.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

_COMMON = "Common training options"
_REWARD = "Reward-model options"
_POLICY = "Policy / GRPO options"


def _parse_sets(pairs: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set expects KEY=VALUE, got {pair!r}")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def _print_result(result: Any, as_json: bool, headline: str) -> None:
    from ..train.common import is_main_process

    if not is_main_process():  # under accelerate / torchrun only rank 0 reports
        return
    data = result.to_dict()
    if as_json:
        print_json(data)
        return
    console.print(f"[bold green]{headline}[/] -> [bold]{data['out']}[/]")
    loss = ""
    if data.get("first_loss") is not None and data.get("last_loss") is not None:
        loss = f", loss {data['first_loss']:.4g} -> {data['last_loss']:.4g}"
    console.print(f"  {data['steps']} steps in {data['seconds']:.1f} s{loss}")
    for key, value in (data.get("metrics") or {}).items():
        if isinstance(value, float):
            value = f"{value:.4g}"
        console.print(f"  {key}: {value}")
    ev = data.get("evaluation")
    if ev:
        figures = ", ".join(
            f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}"
            for k, v in ev.items()
            if k in ("f1_hard", "f1_soft", "sc", "items", "parsed_pct")
        )
        console.print(f"  held-out evaluation: {figures}")
    for note in data.get("notes") or []:
        console.print(f"  [yellow]note:[/] {note}")
    if data.get("load_with"):
        console.print(f"  use it with: [bold]{data['load_with']}[/]")


@app.command("reward")
def reward(
    data: Optional[str] = typer.Option(
        None,
        "--data",
        help="VC-RewardBench / `erm synth` JSONL, a folder holding data.jsonl, "
        "or `erm synth --format sft` chat records.",
    ),
    model: Optional[str] = typer.Option(
        None, "--model", help="Base VLM to fine-tune: hf:PATH or tiny:qwen3-vl."
    ),
    out: Optional[str] = typer.Option(
        None, "--out", help="Output folder; loads afterwards with --judge vlm --model hf:OUT."
    ),
    preset: Optional[str] = typer.Option(
        None, "--preset", help="Named settings: paper-sft, cpu-tiny-sft (see `erm train presets`)."
    ),
    config: Optional[Path] = typer.Option(
        None, "--config", help="TOML / YAML / JSON file of settings (overrides the preset)."
    ),
    max_steps: Optional[int] = typer.Option(
        None, "--max-steps", help="Stop after N optimizer steps (overrides epochs)."
    ),
    epochs: Optional[float] = typer.Option(None, "--epochs", rich_help_panel=_COMMON),
    lr: Optional[float] = typer.Option(None, "--lr", "--learning-rate", rich_help_panel=_COMMON),
    batch_size: Optional[int] = typer.Option(
        None, "--batch-size", help="Global batch (all devices, after accumulation).", rich_help_panel=_COMMON
    ),
    per_device_batch_size: Optional[int] = typer.Option(
        None, "--per-device-batch-size", rich_help_panel=_COMMON
    ),
    precision: Optional[str] = typer.Option(
        None,
        "--precision",
        help="auto | bf16 | fp16 | fp32 (auto: bf16 on capable GPUs, fp32 on CPU).",
        rich_help_panel=_COMMON,
    ),
    lora: Optional[bool] = typer.Option(
        None,
        "--lora/--full",
        help="LoRA adapters (merged into OUT at the end) or full fine-tuning.",
        rich_help_panel=_COMMON,
    ),
    max_image_side: Optional[int] = typer.Option(
        None,
        "--max-image-side",
        help="Shrink images to this longest side (0 = no cap).",
        rich_help_panel=_COMMON,
    ),
    task: Optional[str] = typer.Option(
        None, "--task", help="Only chart, table or svg records.", rich_help_panel=_COMMON
    ),
    limit: Optional[int] = typer.Option(
        None, "--limit", help="Use the first N records.", rich_help_panel=_COMMON
    ),
    seed: Optional[int] = typer.Option(None, "--seed", rich_help_panel=_COMMON),
    resume: Optional[bool] = typer.Option(
        None,
        "--resume",
        help="Continue from the last checkpoint in OUT/checkpoints.",
        rich_help_panel=_COMMON,
    ),
    evaluate: Optional[bool] = typer.Option(
        None,
        "--eval/--no-eval",
        help="Run `erm bench judge` metrics (F1, Sc) on a held-out split.",
        rich_help_panel=_REWARD,
    ),
    eval_data: Optional[str] = typer.Option(
        None,
        "--eval-data",
        help="Held-out VC-RewardBench JSONL (default: a slice of --data).",
        rich_help_panel=_REWARD,
    ),
    eval_steps: Optional[int] = typer.Option(
        None,
        "--eval-steps",
        help="Also evaluate every N steps (default: at the end only).",
        rich_help_panel=_REWARD,
    ),
    eval_max_items: Optional[int] = typer.Option(None, "--eval-max-items", rich_help_panel=_REWARD),
    prompt_file: Optional[str] = typer.Option(
        None,
        "--prompt-file",
        help="Train with these judge prompts (same forms as `erm judge --prompt-file`); copied into OUT.",
        rich_help_panel=_REWARD,
    ),
    sets: Optional[list[str]] = typer.Option(
        None,
        "--set",
        help="Any other setting as KEY=VALUE (repeatable), e.g. --set warmup_ratio=0.03.",
        rich_help_panel=_COMMON,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Supervised fine-tuning of a VLM into a Visual-ERM-style judge (TRL SFTTrainer, answer-only loss)."""
    from ..train.config import resolve_settings
    from ..train.reward_sft import train_reward_model

    overrides = _parse_sets(sets)
    overrides.update(
        data=data,
        model=model,
        out=out,
        max_steps=max_steps,
        epochs=epochs,
        learning_rate=lr,
        batch_size=batch_size,
        per_device_batch_size=per_device_batch_size,
        precision=precision,
        lora=lora,
        max_image_side=max_image_side,
        task=task,
        limit=limit,
        seed=seed,
        resume=resume,
        eval=evaluate,
        eval_data=eval_data,
        eval_steps=eval_steps,
        eval_max_items=eval_max_items,
        prompt_file=prompt_file,
    )
    resolved = resolve_settings("reward", preset=preset, config_file=config, overrides=overrides)
    result = train_reward_model(resolved)
    _print_result(result, as_json, "Trained judge written")


@app.command("policy")
def policy(
    data: Optional[str] = typer.Option(
        None,
        "--data",
        help="A folder of reference images (chart/ table/ svg/ subfolders name the task) "
        "or a VC-RewardBench / synth JSONL (its gt images).",
    ),
    model: Optional[str] = typer.Option(None, "--model", help="Policy VLM: hf:PATH or tiny:qwen3-vl."),
    reward_spec: Optional[str] = typer.Option(
        None, "--reward", help="critic | vlm:SPEC | remote:URL (an `erm serve` endpoint)."
    ),
    out: Optional[str] = typer.Option(
        None, "--out", help="Output folder for the trained policy (loads as hf:OUT)."
    ),
    preset: Optional[str] = typer.Option(
        None, "--preset", help="Named settings: paper-grpo, cpu-tiny-grpo (see `erm train presets`)."
    ),
    config: Optional[Path] = typer.Option(
        None, "--config", help="TOML / YAML / JSON file of settings (overrides the preset)."
    ),
    max_steps: Optional[int] = typer.Option(
        None, "--max-steps", help="Stop after N optimizer steps (overrides epochs)."
    ),
    epochs: Optional[float] = typer.Option(None, "--epochs", rich_help_panel=_COMMON),
    lr: Optional[float] = typer.Option(None, "--lr", "--learning-rate", rich_help_panel=_COMMON),
    batch_size: Optional[int] = typer.Option(
        None,
        "--batch-size",
        help="Prompts per rollout round (verl's train_batch_size).",
        rich_help_panel=_COMMON,
    ),
    per_device_batch_size: Optional[int] = typer.Option(
        None, "--per-device-batch-size", help="Completions per device micro-batch.", rich_help_panel=_COMMON
    ),
    precision: Optional[str] = typer.Option(
        None, "--precision", help="auto | bf16 | fp16 | fp32.", rich_help_panel=_COMMON
    ),
    lora: Optional[bool] = typer.Option(None, "--lora/--full", rich_help_panel=_COMMON),
    max_image_side: Optional[int] = typer.Option(None, "--max-image-side", rich_help_panel=_COMMON),
    task: Optional[str] = typer.Option(
        None,
        "--task",
        help="chart, table or svg: only these items (or the task of a flat image folder).",
        rich_help_panel=_COMMON,
    ),
    limit: Optional[int] = typer.Option(None, "--limit", rich_help_panel=_COMMON),
    seed: Optional[int] = typer.Option(None, "--seed", rich_help_panel=_COMMON),
    resume: Optional[bool] = typer.Option(None, "--resume", rich_help_panel=_COMMON),
    num_generations: Optional[int] = typer.Option(
        None, "--num-generations", help="Rollouts per prompt.", rich_help_panel=_POLICY
    ),
    max_completion_length: Optional[int] = typer.Option(
        None, "--max-completion-length", rich_help_panel=_POLICY
    ),
    beta: Optional[float] = typer.Option(
        None, "--beta", help="KL-loss coefficient.", rich_help_panel=_POLICY
    ),
    visual_weight: Optional[float] = typer.Option(
        None, "--visual-weight", help="Weight of render_ok + visual reward.", rich_help_panel=_POLICY
    ),
    format_weight: Optional[float] = typer.Option(
        None, "--format-weight", help="Weight of the format reward.", rich_help_panel=_POLICY
    ),
    use_vllm: Optional[bool] = typer.Option(
        None,
        "--vllm/--no-vllm",
        help="Rollouts through vLLM (GPU; default: on when vLLM and a GPU are there).",
        rich_help_panel=_POLICY,
    ),
    vllm_mode: Optional[str] = typer.Option(
        None, "--vllm-mode", help="colocate | server (`trl vllm-serve`).", rich_help_panel=_POLICY
    ),
    vllm_server_url: Optional[str] = typer.Option(None, "--vllm-server-url", rich_help_panel=_POLICY),
    reward_workers: Optional[int] = typer.Option(
        None, "--reward-workers", help="Parallel reward computations (0 = auto).", rich_help_panel=_POLICY
    ),
    sets: Optional[list[str]] = typer.Option(
        None, "--set", help="Any other setting as KEY=VALUE (repeatable).", rich_help_panel=_COMMON
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """GRPO of an image-to-code policy with erm's reward (TRL GRPOTrainer): render_ok + visual + format."""
    from ..train.config import resolve_settings
    from ..train.policy_grpo import train_policy

    overrides = _parse_sets(sets)
    overrides.update(
        data=data,
        model=model,
        reward=reward_spec,
        out=out,
        max_steps=max_steps,
        epochs=epochs,
        learning_rate=lr,
        batch_size=batch_size,
        per_device_batch_size=per_device_batch_size,
        precision=precision,
        lora=lora,
        max_image_side=max_image_side,
        task=task,
        limit=limit,
        seed=seed,
        resume=resume,
        num_generations=num_generations,
        max_completion_length=max_completion_length,
        beta=beta,
        visual_weight=visual_weight,
        format_weight=format_weight,
        use_vllm=use_vllm,
        vllm_mode=vllm_mode,
        vllm_server_url=vllm_server_url,
        reward_workers=reward_workers,
    )
    resolved = resolve_settings("policy", preset=preset, config_file=config, overrides=overrides)
    result = train_policy(resolved)
    _print_result(result, as_json, "Trained policy written")


@app.command("export-verl")
def export_verl(
    data: str = typer.Option(
        ..., "--data", help="A folder of reference images or a VC-RewardBench / synth JSONL."
    ),
    out: str = typer.Option(
        ..., "--out", help="Output folder: train.parquet (+ val.parquet), erm_reward.py, run_grpo.sh."
    ),
    reward_spec: str = typer.Option(
        "critic", "--reward", help="critic | vlm:SPEC | remote:URL, baked into the reward module."
    ),
    task: Optional[str] = typer.Option(
        None, "--task", help="Only chart, table or svg (or the task of a flat image folder)."
    ),
    limit: Optional[int] = typer.Option(None, "--limit", help="Export the first N prompts."),
    val_fraction: float = typer.Option(
        0.0, "--val-fraction", help="Share of prompts written to val.parquet."
    ),
    max_image_side: int = typer.Option(
        1024, "--max-image-side", help="Shrink images to this longest side (0 = no cap)."
    ),
    visual_weight: float = typer.Option(1.0, "--visual-weight"),
    format_weight: float = typer.Option(0.0, "--format-weight"),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Write a verl-ready parquet and a reward module (verl ``compute_score``) that scores with erm."""
    from ..train.export_verl import export_verl as run_export

    result = run_export(
        data=data,
        out=out,
        reward=reward_spec,
        task=task,
        limit=limit,
        val_fraction=val_fraction,
        max_image_side=max_image_side,
        visual_weight=visual_weight,
        format_weight=format_weight,
        seed=seed,
    )
    if as_json:
        print_json(result.to_dict())
        return
    console.print(f"[bold green]verl export written[/] -> [bold]{result.out}[/]")
    for name, rows in result.rows.items():
        console.print(f"  {name}: {rows} prompts")
    console.print(f"  reward module: {result.reward_module} (custom_reward_function.name=compute_score)")
    console.print(f"  launch script: {result.script}")


@app.command("presets")
def presets(
    kind: Optional[str] = typer.Argument(None, help="reward or policy (default: both)."),
    as_json: bool = typer.Option(False, "--json", help="Print the presets as JSON on stdout."),
) -> None:
    """List the shipped presets and their settings."""
    from ..train.presets import list_presets

    if kind is not None and kind not in ("reward", "policy"):
        raise InputError(f"kind must be reward or policy, got {kind!r}")
    found = list_presets(kind)
    if as_json:
        print_json(
            [
                {
                    "name": p.name,
                    "kind": p.kind,
                    "description": p.description,
                    "source": p.source,
                    "settings": p.settings,
                }
                for p in found
            ]
        )
        return
    for p in found:
        console.print(f"[bold]{p.name}[/] (erm train {p.kind} --preset {p.name})")
        console.print(f"  {p.description}")
        console.print("  " + ", ".join(f"{k}={v}" for k, v in p.settings.items()), soft_wrap=False)
