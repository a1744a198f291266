"""`erm train`: reward-model SFT, policy GRPO, the verl export and the shipped presets.

Thin by design: options are collected into an overrides dict (``None`` = not given), layered over
``--preset`` and ``--config`` by :func:`erm_cli.train.config.resolve_settings`, and handed to the
library. Trainer logs go to stderr; stdout carries the result (rich, or JSON with ``--json``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer

from ..console import console, print_json
from ..errors import InputError
from . import options as opt
from .options import VocabularyGroup

app = typer.Typer(
    cls=VocabularyGroup,
    help="Train a judge (SFT) or a policy (GRPO) with TRL; export data and reward for verl.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

_COMMON = "Common training options"
_REWARD = "Reward-model options"
_POLICY = "Policy / GRPO options"


def _opt(*flags: str, help: str | None = None, panel: str | None = _COMMON) -> Any:  # noqa: A002
    """An optional flag whose ``None`` default means "not given" (the preset / config value stays)."""
    return typer.Option(None, *flags, help=help, rich_help_panel=panel)


# Options of a mutable type (a Path, a list) are module-level rather than calls in a default (ruff B008).
CONFIG = _opt("--config", help="TOML / YAML / JSON file of settings (overrides the preset).", panel=None)
SETS = typer.Option(None, "--set", metavar="KEY=VALUE", rich_help_panel=_COMMON,
                    help="Any other setting as KEY=VALUE (repeatable), e.g. --set warmup_ratio=0.03.")
AS_JSON = opt.as_json()


def _shared_options(
    model: Optional[str] = opt.model("VLM to train: hf:PATH or tiny:qwen3-vl."),
    config: Optional[Path] = CONFIG,
    max_steps: Optional[int] = _opt(
        "--max-steps", help="Stop after N optimizer steps (overrides epochs).", panel=None
    ),
    epochs: Optional[float] = _opt("--epochs"),
    lr: Optional[float] = _opt("--lr", "--learning-rate"),
    per_device_batch_size: Optional[int] = _opt("--per-device-batch-size"),
    precision: Optional[str] = _opt(
        "--precision", help="auto | bf16 | fp16 | fp32 (auto: bf16 on capable GPUs, fp32 on CPU)."
    ),
    lora: Optional[bool] = _opt(
        "--lora/--full", help="LoRA adapters (merged into OUT at the end) or full fine-tuning."
    ),
    max_image_side: Optional[int] = _opt(
        "--max-image-side", help="Shrink images to this longest side (0 = no cap)."
    ),
    limit: Optional[int] = opt.limit("Use the first N records / prompts.", rich_help_panel=_COMMON),
    seed: Optional[int] = _opt("--seed"),
    resume: Optional[bool] = opt.resume("Continue from the last checkpoint in OUT/checkpoints.", default=None,
                                        rich_help_panel=_COMMON),
    sets: Optional[list[str]] = SETS,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the resolved settings (and where each came from); train nothing."
    ),
    as_json: bool = AS_JSON,
    quiet: bool = opt.quiet(),
    verbose: bool = opt.verbose(),
) -> None:
    """The options `reward` and `policy` share, declared once; :func:`_with_shared_options` adds them."""


#: Parameter order of `reward` and `policy`: of their --help and of the settings they pass on.
#: "*" stands for the command's own options (in the order it declares them).
_ORDER = (
    "data",
    "model",
    "reward_spec",
    "out",
    "preset",
    "config",
    "max_steps",
    "epochs",
    "lr",
    "batch_size",
    "per_device_batch_size",
    "precision",
    "lora",
    "max_image_side",
    "task",
    "limit",
    "seed",
    "resume",
    "*",
    "sets",
    "dry_run",
    "as_json",
)


def _rank(name: str) -> int:
    return _ORDER.index(name) if name in _ORDER else _ORDER.index("*")


def _with_shared_options(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` with the options of :func:`_shared_options` added; it receives them in ``**shared``.

    Typer reads the options from the signature, so the wrapper gets the merged one (in ``_ORDER``).
    """
    own = [
        p for p in inspect.signature(command, eval_str=True).parameters.values() if p.kind != p.VAR_KEYWORD
    ]
    shared = list(inspect.signature(_shared_options, eval_str=True).parameters.values())
    params = sorted(own + shared, key=lambda p: _rank(p.name))

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        command(**kwargs)

    wrapper.__signature__ = inspect.Signature(params, return_annotation=None)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def _command_params(local_vars: dict[str, Any]) -> dict[str, Any]:
    """A command's own parameters (its ``locals()``) and the shared options it got in ``**shared``, in order."""
    params = dict(local_vars)
    params.update(params.pop("shared"))
    return dict(sorted(params.items(), key=lambda item: _rank(item[0])))


#: Parameter names that differ from the setting they set.
_RENAMED = {"lr": "learning_rate", "evaluate": "eval", "reward_spec": "reward"}
_NOT_SETTINGS = {"preset", "config", "sets", "as_json", "dry_run", "quiet", "verbose"}


def _overrides(params: dict[str, Any]) -> dict[str, Any]:
    """Command-line values as setting overrides: ``--set KEY=VALUE`` pairs first, explicit flags win."""
    out: dict[str, Any] = {}
    for pair in params.get("sets") or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set expects KEY=VALUE, got {pair!r}")
        out[key.strip().replace("-", "_")] = value.strip()
    for name, value in params.items():
        if name not in _NOT_SETTINGS and value is not None:
            out[_RENAMED.get(name, name)] = value
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
        console.print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
    ev = data.get("evaluation")
    if ev:
        shown = [(k, ev.get(k)) for k in ("items", "f1_hard", "f1_soft", "sc", "parsed_pct")]
        figures = ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in shown)
        console.print(f"  held-out evaluation: {figures} ({ev.get('bench_dir')})")
    for note in data.get("notes") or []:
        console.print(f"  [yellow]note:[/] {note}")
    if data.get("load_with"):
        console.print(f"  use it with: [bold]{data['load_with']}[/]")


def _print_settings(resolved: Any, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    from ..train.config import settings_dict

    values = settings_dict(resolved.settings)
    if as_json:
        print_json(
            {
                "settings": values,
                "sources": resolved.sources,
                "preset": resolved.preset,
                "config_file": resolved.config_file,
                **(extra or {}),
            }
        )
        return
    for key, value in values.items():
        source = resolved.sources.get(key, "default")
        console.print(f"{key} = {value!r}  [dim]({source})[/]", soft_wrap=True)
    for key, value in (extra or {}).items():
        console.print(f"{key}: {value}")


def _train(
    kind: str,
    params: dict[str, Any],
    train: Callable[[Any], Any],
    headline: str,
    dry_run_extra: Callable[[Any], dict[str, Any]] | None = None,
) -> None:
    """Resolve ``kind`` settings from the command's ``params``; print them (--dry-run) or train and report."""
    from ..train.config import resolve_settings

    resolved = resolve_settings(
        kind, preset=params["preset"], config_file=params["config"], overrides=_overrides(params)
    )
    if params["dry_run"]:
        return _print_settings(
            resolved, params["as_json"], dry_run_extra(resolved) if dry_run_extra else None
        )
    _print_result(train(resolved), params["as_json"], headline)


@app.command("reward")
@_with_shared_options
def reward(
    data: Optional[str] = _opt(
        "--data",
        panel=None,
        help="VC-RewardBench / `erm synth` JSONL, a folder holding "
        "data.jsonl, or `erm synth --format sft` chat records.",
    ),
    out: Optional[str] = opt.out_dir("Output folder; loads afterwards with --judge vlm --model hf:OUT."),
    preset: Optional[str] = _opt(
        "--preset", panel=None, help="Named settings: paper-sft, cpu-tiny-sft (see `erm train presets`)."
    ),
    batch_size: Optional[int] = _opt("--batch-size", help="Global batch (all devices, after accumulation)."),
    task: Optional[str] = opt.task("Only chart, table or svg records.", default=None, rich_help_panel=_COMMON),
    evaluate: Optional[bool] = _opt(
        "--eval/--no-eval", panel=_REWARD, help="Run `erm bench judge` metrics (F1, Sc) on a held-out split."
    ),
    eval_data: Optional[str] = _opt(
        "--eval-data", panel=_REWARD, help="Held-out VC-RewardBench JSONL (default: a slice of --data)."
    ),
    eval_steps: Optional[int] = _opt(
        "--eval-steps", panel=_REWARD, help="Also evaluate every N steps (default: at the end only)."
    ),
    eval_max_items: Optional[int] = _opt("--eval-max-items", panel=_REWARD),
    prompt_file: Optional[str] = _opt(
        "--prompt-file",
        panel=_REWARD,
        help="Train with these judge prompts (same forms as `erm judge --prompt-file`); copied into OUT.",
    ),
    **shared: Any,
) -> None:
    """Supervised fine-tuning of a VLM into a Visual-ERM-style judge (TRL SFTTrainer, answer-only loss).

    Examples:

    \b
      erm train reward --preset cpu-tiny-sft --data examples/bench-mini/sft.jsonl --out-dir runs/judge --max-steps 1
      erm train reward --preset paper-sft --data sft.jsonl --model hf:/models/Qwen3-VL-8B --out-dir runs/erm   # needs a GPU
    """
    params = _command_params(locals())
    from ..train.reward_sft import train_reward_model

    _train("reward", params, train_reward_model, "Trained judge written")


@app.command("policy")
@_with_shared_options
def policy(
    data: Optional[str] = _opt(
        "--data",
        panel=None,
        help="A folder of reference images (chart/ table/ svg/ "
        "subfolders name the task) or a VC-RewardBench / synth JSONL (its gt images).",
    ),
    reward_spec: Optional[str] = _opt(
        "--reward", panel=None, help="critic | vlm:SPEC | remote:URL (an `erm serve` endpoint)."
    ),
    out: Optional[str] = opt.out_dir("Output folder for the trained policy (hf:OUT)."),
    preset: Optional[str] = _opt(
        "--preset", panel=None, help="Named settings: paper-grpo, cpu-tiny-grpo (see `erm train presets`)."
    ),
    batch_size: Optional[int] = _opt(
        "--batch-size", help="Prompts per rollout round (verl's train_batch_size)."
    ),
    task: Optional[str] = opt.task("chart, table or svg: only these items (or a flat folder's task).", default=None,
                                   rich_help_panel=_COMMON),
    num_generations: Optional[int] = _opt("--num-generations", help="Rollouts per prompt.", panel=_POLICY),
    max_completion_length: Optional[int] = _opt("--max-completion-length", panel=_POLICY),
    beta: Optional[float] = _opt("--beta", help="KL-loss coefficient.", panel=_POLICY),
    visual_weight: Optional[float] = _opt(
        "--visual-weight", help="Weight of render_ok + visual reward.", panel=_POLICY
    ),
    format_weight: Optional[float] = _opt(
        "--format-weight", help="Weight of the format reward.", panel=_POLICY
    ),
    use_vllm: Optional[bool] = _opt(
        "--vllm/--no-vllm",
        panel=_POLICY,
        help="Rollouts through vLLM (default: on when vLLM and a GPU are there).",
    ),
    vllm_mode: Optional[str] = _opt(
        "--vllm-mode", help="colocate | server (`trl vllm-serve`).", panel=_POLICY
    ),
    vllm_server_url: Optional[str] = _opt("--vllm-server-url", panel=_POLICY),
    reward_workers: Optional[int] = _opt(
        "--reward-workers", help="Parallel reward computations (0 = auto).", panel=_POLICY
    ),
    reward_prompt_file: Optional[str] = _opt(
        "--reward-prompt-file", help="Judge prompts for --reward vlm:SPEC (see docs/MODELS.md).", panel=_POLICY
    ),
    reward_profile: Optional[str] = _opt(
        "--reward-profile", help="erm | visual-erm render profile of the reward (default: visual-erm for the "
        "released Visual-ERM judge).", panel=_POLICY
    ),
    **shared: Any,
) -> None:
    """GRPO of an image-to-code policy with erm's reward (TRL GRPOTrainer): render_ok + visual + format.

    Examples:

    \b
      erm train policy --preset cpu-tiny-grpo --data examples/bench-mini/data.jsonl --out-dir runs/grpo --dry-run
      erm train policy --preset paper-grpo --data charts/ --model hf:/models/Qwen3-VL-8B --out-dir runs/grpo   # needs a GPU
    """
    params = _command_params(locals())
    from ..train.policy_grpo import dry_run_plan, train_policy

    _train("policy", params, train_policy, "Trained policy written", dry_run_plan)


@app.command("export-verl")
def export_verl(
    data: str = typer.Option(
        ..., "--data", help="A folder of reference images or a VC-RewardBench / synth JSONL."
    ),
    out: str = opt.out_dir("Output folder: train.parquet (+ val.parquet), erm_reward.py, run_grpo.sh, images/.",
                           default=...),
    reward_spec: str = typer.Option(
        "critic", "--reward", help="critic | vlm:SPEC | remote:URL, baked into the reward module."
    ),
    task: Optional[str] = opt.task("Only chart, table or svg (or a flat folder's task).", default=None),
    limit: Optional[int] = opt.limit("Export the first N prompts."),
    val_fraction: float = typer.Option(
        0.0, "--val-fraction", help="Share of prompts written to val.parquet."
    ),
    max_image_side: int = typer.Option(
        1024, "--max-image-side", help="Shrink the prompt image to this longest side (0 = no cap)."
    ),
    visual_weight: float = typer.Option(1.0, "--visual-weight"),
    format_weight: float = typer.Option(0.0, "--format-weight"),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = AS_JSON,
    quiet: bool = opt.quiet(),
    verbose: bool = opt.verbose(),
) -> None:
    """Write a verl-ready parquet and a reward module (verl ``compute_score``) that scores with erm.

    Examples:

    \b
      erm train export-verl --data examples/bench-mini/data.jsonl --limit 4 --out-dir runs/verl
    """
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
    as_json: bool = AS_JSON,
) -> None:
    """List the shipped presets and their settings.

    Examples:

    \b
      erm train presets
      erm train presets --json
    """
    from ..train.presets import list_presets

    if kind is not None and kind not in ("reward", "policy"):
        raise InputError(f"kind must be reward or policy, got {kind!r}")
    found = list_presets(kind)
    if as_json:
        print_json(  # an object (with schema_version), like every --json output
            {
                "presets": [
                    {
                        "name": p.name,
                        "kind": p.kind,
                        "description": p.description,
                        "source": p.source,
                        "settings": p.settings,
                    }
                    for p in found
                ]
            }
        )
        return
    for p in found:
        console.print(f"[bold]{p.name}[/] (erm train {p.kind} --preset {p.name})")
        console.print(f"  {p.description}")
        console.print("  " + ", ".join(f"{k}={v}" for k, v in p.settings.items()), soft_wrap=False)


CRITIC_OUT = opt.out_dir("Output folder: verifier_model.json and its manifest, resumable caches.", default=...)


@app.command("critic")
def critic(
    out: Path = CRITIC_OUT,
    n_bases: int = typer.Option(160, "--n-bases", help="About this many generated base figures (half charts, a quarter tables, a quarter SVG)."),
    seed: int = typer.Option(0, "--seed"),
    workers: int = opt.workers("Parallel renders and critic processes.", default=2),
    as_json: bool = AS_JSON,
    quiet: bool = opt.quiet(),
    verbose: bool = opt.verbose(),
) -> None:
    """Train the critic's learned verifier on erm-generated pairs (needs the train-critic extra).

    Examples:

    \b
      erm train critic --out-dir runs/critic-small --n-bases 5   # a small verifier, to try it
      erm train critic --out-dir runs/critic --n-bases 160   # slow: the shipped model (4 min on 2 idle cores, ~40 loaded)
    """
    from ..console import progress
    from ..train.critic import CriticTrainConfig, train_critic

    bar = progress()
    tasks: dict[str, Any] = {}

    def step(name: str, done: int, total: int) -> None:
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=total)
        bar.update(tasks[name], completed=done, total=total)

    with bar:
        result = train_critic(CriticTrainConfig(out=out, n_bases=n_bases, seed=seed, workers=workers), step)
    if as_json:
        print_json(result.to_dict())
        return
    m = result.manifest
    console.print(f"[bold green]Verifier written[/] -> [bold]{result.model}[/] ({result.seconds:.0f} s)")
    console.print(f"  {m['sizes']['pairs']} pairs, {m['sizes']['proposals']} proposals, {m['sizes']['bases']} bases")
    for key, value in m["metrics"].items():
        console.print(f"  {key}: {value}")
