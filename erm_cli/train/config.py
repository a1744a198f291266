"""Training settings for ``erm train reward`` and ``erm train policy``.

Values are layered, later layers win::

    built-in defaults  <  --preset NAME  <  --config FILE  <  command-line options

A config file is TOML, YAML or JSON with the same keys as the dataclasses below (``erm train reward
--help`` names them); it may name a preset itself (``preset = "paper-sft"``) and may hold the keys for
both commands in ``[reward]`` / ``[policy]`` tables next to shared top-level keys. Unknown keys are an
input error (exit 2) with a suggestion, so a typo never silently trains with a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from ..errors import InputError

Kind = Literal["reward", "policy"]
KINDS: tuple[str, ...] = ("reward", "policy")
PRECISIONS: tuple[str, ...] = ("auto", "bf16", "fp16", "fp32")
VLLM_MODES: tuple[str, ...] = ("colocate", "server")
#: TRL 1.16 GRPO loss formulations.
LOSS_TYPES: tuple[str, ...] = ("grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo", "vespo")

#: LoRA on the language model's attention and MLP projections (the vision tower stays frozen).
DEFAULT_LORA_TARGETS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"


@dataclass
class TrainSettings:
    """Settings shared by both trainers. ``batch_size`` is global (all devices, after accumulation)."""

    data: str | None = None
    model: str | None = None
    out: str | None = None
    learning_rate: float = 1e-5
    epochs: float = 3.0
    batch_size: int = 32
    per_device_batch_size: int = 1
    max_steps: int = -1
    seed: int = 0
    precision: str = "auto"
    gradient_checkpointing: bool | None = None
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    logging_steps: int = 10
    save_steps: int = 500
    save_total_limit: int = 2
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: str = DEFAULT_LORA_TARGETS
    max_image_side: int | None = None  # None: the judge's / refine policy's defaults; 0: no cap
    max_image_pixels: int | None = None
    task: str | None = None
    limit: int | None = None
    dataloader_workers: int = 0
    report_to: str = "none"
    resume: bool = False


@dataclass
class RewardSettings(TrainSettings):
    """``erm train reward``: SFT of a judge; evaluated with ``erm bench judge`` metrics."""

    eval: bool = True
    eval_data: str | None = None
    eval_fraction: float = 0.05
    eval_max_items: int = 64
    eval_steps: int | None = None
    eval_max_new_tokens: int = 2048
    max_length: int | None = None
    prompt_file: str | None = None


@dataclass
class PolicySettings(TrainSettings):
    """``erm train policy``: GRPO. ``batch_size`` counts prompts per rollout round (verl's train_batch_size);
    ``mini_batch_size`` prompts per optimizer update (verl's ppo_mini_batch_size, default = batch_size);
    ``per_device_batch_size`` counts completions per device micro-batch."""

    learning_rate: float = 1e-6
    epochs: float = 1.0
    batch_size: int = 256
    reward: str = "critic"
    visual_weight: float = 1.0
    format_weight: float = 0.1
    num_generations: int = 8
    mini_batch_size: int | None = None
    beta: float = 0.01
    loss_type: str = "dapo"
    max_completion_length: int = 2048
    temperature: float = 1.0
    top_p: float = 1.0
    use_vllm: bool | None = None
    vllm_mode: str = "colocate"
    vllm_server_url: str | None = None
    vllm_gpu_memory_utilization: float = 0.3
    vllm_tensor_parallel_size: int = 1
    reward_workers: int = 0
    reward_timeout: float = 60.0
    reward_prompt_file: str | None = None  # judge prompts for --reward vlm:SPEC (e.g. the released ones)
    reward_profile: str | None = None  # erm | visual-erm (default: visual-erm for the released judge)
    log_completions: bool = False


SETTINGS_CLASS: dict[str, type[TrainSettings]] = {"reward": RewardSettings, "policy": PolicySettings}
S = TypeVar("S", bound=TrainSettings)


@dataclass
class ResolvedSettings:
    """The settings plus where every non-default value came from (written into ``erm_train.json``)."""

    settings: TrainSettings
    sources: dict[str, str] = field(default_factory=dict)
    preset: str | None = None
    config_file: str | None = None


def setting_names(kind: str) -> list[str]:
    return [f.name for f in dataclasses.fields(SETTINGS_CLASS[kind])]


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML (``.toml``), YAML (``.yaml``/``.yml``) or JSON (``.json``) mapping."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"config file not found: {p}")
    suffix = p.suffix.lower()
    text = p.read_text(encoding="utf-8")
    try:
        if suffix == ".toml":
            import tomllib

            data: Any = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise InputError(
                    f"{p}: reading YAML needs PyYAML (pip install pyyaml), or use TOML"
                ) from None
            data = yaml.safe_load(text) or {}
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise InputError(f"{p}: unknown config format {suffix!r}; use .toml, .yaml, .yml or .json")
    except InputError:
        raise
    except Exception as exc:  # tomllib/yaml/json decode errors: one clear line
        first = (str(exc).splitlines() or [""])[0]
        raise InputError(f"{p}: not a valid {suffix.lstrip('.').upper()} file ({first})") from None
    if not isinstance(data, dict):
        raise InputError(f"{p}: the top level must be a mapping of setting names to values")
    return data


def flatten_for_kind(data: dict[str, Any], kind: str, origin: str) -> dict[str, Any]:
    """Top-level keys plus the ``[kind]`` table; the other kind's table is ignored."""
    flat = {k: v for k, v in data.items() if not (k in KINDS and isinstance(v, dict))}
    section = data.get(kind)
    if isinstance(section, dict):
        flat.update(section)
    settings_table = flat.pop("settings", None)  # preset files keep their values under [settings]
    if isinstance(settings_table, dict):
        flat = {**flat, **settings_table}
    for meta in ("kind", "description", "source", "notes"):
        flat.pop(meta, None)
    return flat


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def coerce_value(name: str, value: Any, hint: Any, origin: str) -> Any:
    """Convert a config/CLI value to the field's type, with a one-line error naming the key and source."""
    base, optional = _unwrap_optional(hint)
    if value is None or (
        optional and isinstance(value, str) and value.strip().lower() in ("none", "null", "auto")
    ):
        if optional:
            return None
        raise InputError(f"{origin}: '{name}' cannot be empty")
    try:
        if base is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if base is int:
            if isinstance(value, bool):
                raise ValueError(value)
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(float(value)) if isinstance(value, str) and "e" in value.lower() else int(value)
        if base is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if base is str:
            if isinstance(value, (dict, list)):
                raise ValueError(value)
            return str(value)
    except (TypeError, ValueError):
        kind = getattr(base, "__name__", str(base))
        raise InputError(
            f"{origin}: '{name}' must be {'an' if kind == 'int' else 'a'} {kind}, got {value!r}"
        ) from None
    return value


def _apply(
    values: dict[str, Any], layer: dict[str, Any], hints: dict[str, Any], origin: str, sources: dict[str, str]
) -> None:
    known = set(hints)
    for key, raw in layer.items():
        name = str(key).replace("-", "_")
        if name == "preset":
            continue
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise InputError(f"{origin}: unknown setting '{key}'{hint}")
        values[name] = coerce_value(name, raw, hints[name], origin)
        sources[name] = origin


def validate(settings: TrainSettings, kind: str) -> None:
    """Range checks that would otherwise surface as a deep trainer traceback."""

    def positive(name: str, allow_zero: bool = False) -> None:
        v = getattr(settings, name)
        if v is not None and (v < 0 or (v == 0 and not allow_zero)):
            raise InputError(f"'{name}' must be {'>= 0' if allow_zero else '> 0'}, got {v}")

    for name in (
        "learning_rate",
        "epochs",
        "batch_size",
        "per_device_batch_size",
        "logging_steps",
        "save_steps",
        "lora_r",
        "lora_alpha",
    ):
        positive(name)
    positive("max_image_pixels")
    for name in ("max_image_side", "weight_decay", "warmup_ratio", "dataloader_workers", "max_grad_norm"):
        positive(name, allow_zero=True)
    if settings.max_steps == 0 or settings.max_steps < -1:
        raise InputError(
            f"'max_steps' must be a positive number of steps (or -1 for epochs), got {settings.max_steps}"
        )
    if settings.precision not in PRECISIONS:
        raise InputError(f"'precision' must be one of {', '.join(PRECISIONS)}, got {settings.precision!r}")
    if settings.task is not None and settings.task not in ("chart", "table", "svg"):
        raise InputError(f"'task' must be chart, table or svg, got {settings.task!r}")
    if settings.limit is not None and settings.limit <= 0:
        raise InputError(f"'limit' must be > 0, got {settings.limit}")
    if not 0.0 <= settings.warmup_ratio < 1.0:
        raise InputError(f"'warmup_ratio' must be in [0, 1), got {settings.warmup_ratio}")
    if not 0.0 <= settings.lora_dropout < 1.0:
        raise InputError(f"'lora_dropout' must be in [0, 1), got {settings.lora_dropout}")
    if isinstance(settings, RewardSettings):
        if not 0.0 <= settings.eval_fraction < 1.0:
            raise InputError(f"'eval_fraction' must be in [0, 1), got {settings.eval_fraction}")
        positive("eval_max_items")
        positive("eval_max_new_tokens")
        positive("eval_steps")
        positive("max_length")
        if settings.prompt_file is not None and not Path(settings.prompt_file).exists():
            raise InputError(f"prompt_file not found: {settings.prompt_file}")
    if isinstance(settings, PolicySettings):
        if settings.num_generations < 2:
            raise InputError(
                f"'num_generations' must be >= 2 (GRPO compares a group), got {settings.num_generations}"
            )
        positive("mini_batch_size")
        positive("max_completion_length")
        positive("temperature")
        positive("beta", allow_zero=True)
        positive("visual_weight", allow_zero=True)
        positive("format_weight", allow_zero=True)
        positive("reward_workers", allow_zero=True)
        positive("reward_timeout")
        if not 0.0 < settings.top_p <= 1.0:
            raise InputError(f"'top_p' must be in (0, 1], got {settings.top_p}")
        if settings.visual_weight == 0 and settings.format_weight == 0:
            raise InputError("'visual_weight' and 'format_weight' cannot both be 0")
        if settings.loss_type not in LOSS_TYPES:
            choices = ", ".join(LOSS_TYPES)
            raise InputError(f"'loss_type' must be one of {choices}, got {settings.loss_type!r}")
        if settings.vllm_mode not in VLLM_MODES:
            raise InputError(f"'vllm_mode' must be colocate or server, got {settings.vllm_mode!r}")
        if settings.mini_batch_size is not None and settings.mini_batch_size > settings.batch_size:
            raise InputError(
                f"'mini_batch_size' ({settings.mini_batch_size}) cannot exceed 'batch_size' "
                f"({settings.batch_size})"
            )


def resolve_settings(
    kind: str,
    *,
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> ResolvedSettings:
    """Build the settings for ``kind`` from defaults, a preset, a config file and explicit overrides.

    ``overrides`` holds command-line values; ``None`` means "not given" and is skipped.
    """
    if kind not in SETTINGS_CLASS:
        raise InputError(f"unknown training kind {kind!r}; choose one of: {', '.join(KINDS)}")
    cls = SETTINGS_CLASS[kind]
    hints = typing.get_type_hints(cls)
    hints = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    file_layer: dict[str, Any] = {}
    config_name = None
    if config_file is not None:
        config_name = str(config_file)
        raw = read_config_file(config_file)
        file_layer = flatten_for_kind(raw, kind, config_name)
        base = Path(config_file).resolve().parent
        for key in (
            "data",
            "out",
            "eval_data",
            "prompt_file",
        ):  # paths in a config file are relative to that file
            if isinstance(file_layer.get(key), str) and not os.path.isabs(file_layer[key]):
                file_layer[key] = str(base / file_layer[key])
        if preset is None and isinstance(raw.get("preset"), str):
            preset = raw["preset"]

    if preset is not None:
        from .presets import load_preset

        p = load_preset(preset)
        if p.kind != kind:
            raise InputError(f"preset '{p.name}' is for 'erm train {p.kind}', not 'erm train {kind}'")
        _apply(values, p.settings, hints, f"preset:{p.name}", sources)
    if file_layer:
        _apply(values, file_layer, hints, f"config:{config_name}", sources)
    if overrides:
        _apply(values, {k: v for k, v in overrides.items() if v is not None}, hints, "command line", sources)

    settings = cls(**values)
    validate(settings, kind)
    return ResolvedSettings(settings=settings, sources=sources, preset=preset, config_file=config_name)


def settings_dict(settings: TrainSettings) -> dict[str, Any]:
    return dataclasses.asdict(settings)


def require(settings: TrainSettings, *names: str) -> None:
    missing = [n for n in names if getattr(settings, n) in (None, "")]
    if missing:
        flags = ", ".join("--" + n.replace("_", "-") for n in missing)
        raise InputError(f"missing {flags} (give it on the command line or in --config FILE)")


def world_size() -> int:
    """Processes in this run (``accelerate launch`` / torchrun set WORLD_SIZE)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1
