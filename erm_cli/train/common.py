"""Glue shared by the SFT and GRPO trainers: model specs, precision, batch arithmetic, LoRA, saving, logs.

Nothing here imports torch or TRL at module level.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputError, ModelError
from .config import TrainSettings, settings_dict, world_size

#: Files a processor / checkpoint folder may carry that ``save_pretrained`` does not rewrite.
_AUX_FILES = (
    "video_preprocessor_config.json",
    "preprocessor_config.json",
    "chat_template.jinja",
    "chat_template.json",
)


@dataclass
class TrainResult:
    """What a training run produced (printed by the CLI, returned to library callers)."""

    kind: str
    out: str
    model: str
    steps: int
    seconds: float
    first_loss: float | None = None
    last_loss: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] | None = None
    files: list[str] = field(default_factory=list)
    load_with: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "out": self.out,
            "model": self.model,
            "steps": self.steps,
            "seconds": round(self.seconds, 3),
            "first_loss": self.first_loss,
            "last_loss": self.last_loss,
            "metrics": self.metrics,
            "evaluation": self.evaluation,
            "files": self.files,
            "load_with": self.load_with,
            "notes": self.notes,
        }


def resolve_model_path(spec: str) -> Path:
    """A trainable local checkpoint folder for ``spec`` (``tiny:FAMILY``, ``hf:PATH`` or a bare folder)."""
    from ..models.spec import parse_spec

    parsed = parse_spec(spec)
    if parsed.kind == "tiny":
        from ..models.tiny import ensure_tiny_model

        return ensure_tiny_model(parsed.target)
    if parsed.kind == "hf":
        path = Path(parsed.target).expanduser()
        if not path.is_dir():
            raise InputError(
                f"training needs local weights: no such model folder {path} "
                "(download the checkpoint first, then pass hf:FOLDER)"
            )
        if not (path / "config.json").is_file():
            raise InputError(f"no config.json in {path}: not a transformers checkpoint folder")
        return path.resolve()
    raise InputError(
        f"cannot train {parsed.kind}: models ({spec}); training needs local weights: hf:PATH or tiny:qwen3-vl"
    )


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def precision_args(precision: str) -> dict[str, Any]:
    """TrainingArguments flags for ``precision``.

    ``auto`` = bf16 on GPUs that support it, fp16 on older GPUs, fp32 on CPU.
    """
    import torch

    cuda = torch.cuda.is_available()
    if precision == "auto":
        if not cuda:
            precision = "fp32"
        else:
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if precision in ("bf16", "fp16") and not cuda:
        raise InputError(f"precision {precision} needs a GPU; on CPU use --precision fp32 (or auto)")
    return {"bf16": precision == "bf16", "fp16": precision == "fp16", "use_cpu": not cuda}


def gradient_checkpointing_on(settings: TrainSettings) -> bool:
    """Explicit setting, else on with a GPU (memory) and off on CPU (the tiny models need no savings)."""
    if settings.gradient_checkpointing is not None:
        return bool(settings.gradient_checkpointing)
    return cuda_available()


def accumulation_steps(global_batch: int, per_device: int, processes: int, what: str = "batch_size") -> int:
    """Gradient-accumulation steps so that ``per_device x processes x steps == global_batch``."""
    per_step = per_device * processes
    if global_batch % per_step:
        raise InputError(
            f"{what} {global_batch} is not a multiple of per_device_batch_size x processes "
            f"({per_device} x {processes} = {per_step}); change one of them"
        )
    return global_batch // per_step


def lora_config(settings: TrainSettings, task_type: str = "CAUSAL_LM") -> Any:
    """A peft LoraConfig from the settings, or ``None`` when LoRA is off."""
    if not settings.lora:
        return None
    from peft import LoraConfig

    targets: Any = settings.lora_target_modules
    if targets and "," in targets and not any(ch in targets for ch in "().*|\\"):
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    return LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=targets,
        task_type=task_type,
    )


def check_lora_targets(model: Any, settings: TrainSettings) -> None:
    """Fail early (exit 2) when the LoRA target pattern matches no module of the model."""
    if not settings.lora:
        return
    import re

    targets = settings.lora_target_modules
    if targets == "all-linear":
        return
    if "," in targets and not any(ch in targets for ch in "().*|\\"):
        names = {t.strip() for t in targets.split(",")}
        hit = any(n.rsplit(".", 1)[-1] in names for n, _ in model.named_modules())
    else:
        pattern = re.compile(targets)
        hit = any(pattern.fullmatch(n) for n, _ in model.named_modules())
    if not hit:
        raise InputError(f"lora_target_modules {targets!r} matches no module of this model")


def training_processor(processor: Any, settings: TrainSettings, padding_side: str) -> Any:
    """A private copy of the shared (cached) processor, with the run's padding side and pixel cap.

    ``max_image_pixels`` caps the pixels per image the processor feeds the vision tower (Qwen-VL's
    ``max_pixels``); it is saved with the processor, so the trained model sees the same cap at inference.
    """
    import copy

    proc = copy.deepcopy(processor)
    tok = getattr(proc, "tokenizer", None)
    if tok is not None:
        tok.padding_side = padding_side
    if settings.max_image_pixels:
        ip = getattr(proc, "image_processor", None)
        size = getattr(ip, "size", None)
        if ip is None or size is None:
            raise InputError("max_image_pixels: this model's processor has no pixel limit to set")
        cap = int(settings.max_image_pixels)
        try:
            low = size["shortest_edge"]
            size["longest_edge"] = cap
            if low and low > cap:
                size["shortest_edge"] = cap
        except (KeyError, TypeError):
            raise InputError("max_image_pixels: this model's processor has no pixel limit to set") from None
    return proc


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def prepare_out_dir(out: str | Path, resume: bool) -> Path:
    """Create ``out``; refuse to mix a new run into a folder that already holds a trained model."""
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"--out is a file, not a folder: {path}")
    if (
        path.is_dir()
        and not resume
        and any(
            (path / f).exists()
            for f in ("model.safetensors", "erm_train.json", "model.safetensors.index.json")
        )
    ):
        if is_main_process() and os.environ.get("ERM_TRAIN_OVERWRITE") != "1":
            raise InputError(
                f"{path} already holds a trained model; choose another --out, pass --resume to "
                "continue from its checkpoints, or set ERM_TRAIN_OVERWRITE=1 to overwrite"
            )
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def last_checkpoint(checkpoints: Path) -> str | None:
    if not checkpoints.is_dir():
        return None
    found = [p for p in checkpoints.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    if not found:
        return None
    return str(max(found, key=lambda p: int(p.name.split("-")[-1])))


def common_training_args(settings: TrainSettings, out: Path, grad_accum: int) -> dict[str, Any]:
    """TrainingArguments shared by SFTConfig and GRPOConfig."""
    prec = precision_args(settings.precision)
    return dict(
        output_dir=str(out / "checkpoints"),
        learning_rate=settings.learning_rate,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.per_device_batch_size,
        gradient_accumulation_steps=grad_accum,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=float(settings.warmup_ratio),  # transformers 5: a float in [0, 1) is a ratio
        weight_decay=settings.weight_decay,
        max_grad_norm=settings.max_grad_norm,
        logging_steps=settings.logging_steps,
        save_strategy="steps",
        save_steps=settings.save_steps,
        save_total_limit=settings.save_total_limit,
        seed=settings.seed,
        gradient_checkpointing=gradient_checkpointing_on(settings),
        dataloader_num_workers=settings.dataloader_workers,
        report_to=settings.report_to,
        disable_tqdm=False,
        **prec,
    )


def load_dtype(args: Any) -> str:
    """Weights dtype: bf16 under bf16 mixed precision, fp32 master weights otherwise (fp16 AMP, CPU)."""
    return "bfloat16" if getattr(args, "bf16", False) else "float32"


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Trainer log lines (tqdm.write, prints) go to stderr so stdout carries only erm's result / JSON."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def loss_history(log_history: list[dict[str, Any]], key: str = "loss") -> list[float]:
    return [
        float(h[key]) for h in log_history if key in h and h[key] is not None and math.isfinite(float(h[key]))
    ]


def make_metrics_callback(path: Path) -> Any:
    """A TrainerCallback that appends every log dict (with step and wall time) to ``metrics.jsonl``."""
    from transformers import TrainerCallback

    class MetricsFile(TrainerCallback):
        def __init__(self) -> None:
            self.t0 = time.perf_counter()

        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
        ) -> None:
            if not logs or not state.is_world_process_zero:
                return
            from ..schemas import stamp

            row = {"step": state.global_step, "seconds": round(time.perf_counter() - self.t0, 3)}
            row.update({k: _plain(v) for k, v in logs.items()})
            with path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(stamp(row)) + "\n")  # with schema_version

    return MetricsFile()


def _plain(v: Any) -> Any:
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


def make_config(config_class: Any, **kwargs: Any) -> Any:
    """Build a TRL config; its own validation errors (e.g. a bad scheduler name) exit 2 in one line."""
    try:
        return config_class(**kwargs)
    except (ValueError, TypeError) as exc:
        first = (str(exc).splitlines() or [""])[0]
        raise InputError(f"invalid training settings: {first}") from None


def trl_config(config_class: Any, settings: TrainSettings, out: Path, grad_accum: int, **extra: Any) -> Any:
    """A TRL config: the TrainingArguments both trainers share (:func:`common_training_args`) plus ``extra``."""
    return make_config(config_class, **common_training_args(settings, out, grad_accum), **extra)


def trainer_inputs(
    base_dir: Path, args: Any, settings: TrainSettings, out: Path, padding_side: str
) -> dict[str, Any]:
    """The keyword arguments every TRL trainer here is built with, ``train_dataset`` aside.

    ``args`` (the TRL config), fresh trainable weights and a private processor (loaded after the config
    exists, so DeepSpeed ZeRO-3 can shard them while loading), the LoRA config, and a callbacks list that
    starts with the ``OUT/metrics.jsonl`` writer (append more before building the trainer).
    """
    model, processor = load_for_training(base_dir, args, settings, padding_side)
    return {
        "model": model,
        "args": args,
        "processing_class": processor,
        "peft_config": lora_config(settings),
        "callbacks": [make_metrics_callback(out / "metrics.jsonl")],
    }


def load_for_training(
    base_dir: Path, args: Any, settings: TrainSettings, padding_side: str
) -> tuple[Any, Any]:
    """A fresh trainable copy of the base weights (dtype from ``args``) and a private processor copy.

    Call after building the TRL config, so DeepSpeed ZeRO-3 can shard the weights while they load.
    """
    from ..models.hf import load_hf

    model, shared_processor = load_hf(base_dir, dtype=load_dtype(args), device="cpu", fresh=True)
    model.train()
    check_lora_targets(model, settings)
    return model, training_processor(shared_processor, settings, padding_side)


def run_training(trainer: Any, settings: TrainSettings, base_dir: Path, out: Path) -> Any:
    """Train (resuming from OUT/checkpoints with ``resume``), then save the final model into ``out``."""
    from ..errors import ErmError

    resume_from = last_checkpoint(out / "checkpoints") if settings.resume else None
    try:
        output = trainer.train(resume_from_checkpoint=resume_from)
    except (ErmError, KeyboardInterrupt):
        raise
    except RuntimeError as exc:  # out of memory, shape or device errors: one line, exit code 4
        raise model_error(exc, "training failed") from None
    save_trained_model(trainer, settings, base_dir, out)
    return output


def save_trained_model(trainer: Any, settings: TrainSettings, base_dir: Path, out: Path) -> None:
    """Write the final weights and processor to ``out`` so that ``hf:OUT`` loads them like any checkpoint.

    LoRA runs save the adapter to ``out/adapter`` and merge it into a copy of the base weights in ``out``.
    Works under DDP / DeepSpeed / FSDP: ``trainer.save_model`` gathers the shards.
    """
    if settings.lora:
        adapter_dir = out / "adapter"
        trainer.save_model(str(adapter_dir))
        trainer.accelerator.wait_for_everyone()
        if trainer.accelerator.is_main_process:
            merge_lora(base_dir, adapter_dir, out)
    else:
        trainer.save_model(str(out))
    trainer.accelerator.wait_for_everyone()
    if trainer.accelerator.is_main_process:
        processor = trainer.processing_class
        processor.save_pretrained(str(out))
        copy_aux_files(base_dir, out)
        restore_stock_processor_class(base_dir, out)


def merge_lora(base_dir: Path, adapter_dir: Path, out: Path) -> None:
    """Merge a saved LoRA adapter into the base weights (on CPU) and save the full model to ``out``."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    from ..models.hf import quiet_transformers

    with quiet_transformers():
        dtype = _saved_dtype(base_dir) or torch.float32
        base = AutoModelForImageTextToText.from_pretrained(str(base_dir), dtype=dtype)
        merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
        merged.save_pretrained(str(out))


def _saved_dtype(folder: Path) -> Any:
    import torch

    try:
        cfg = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return None
    name = cfg.get("dtype") or cfg.get("torch_dtype") or (cfg.get("text_config") or {}).get("dtype")
    return getattr(torch, str(name), None) if name else None


def copy_aux_files(src: Path, dst: Path) -> None:
    for name in _AUX_FILES:
        if (src / name).is_file() and not (dst / name).exists():
            shutil.copy2(src / name, dst / name)


def restore_stock_processor_class(src: Path, dst: Path) -> None:
    """Keep the stock ``processor_class`` names of the base folder (vLLM reads them) in the saved configs."""
    for name in ("processor_config.json", "tokenizer_config.json", "preprocessor_config.json"):
        s, d = src / name, dst / name
        if not (s.is_file() and d.is_file()):
            continue
        try:
            want = json.loads(s.read_text()).get("processor_class")
            data = json.loads(d.read_text())
        except (OSError, ValueError):
            continue
        if want and data.get("processor_class") not in (None, want):
            data["processor_class"] = want
            d.write_text(json.dumps(data, indent=2))


def write_run_record(out: Path, kind: str, resolved: Any, result: TrainResult, extra: dict[str, Any]) -> Path:
    """``out/erm_train.json``: settings, their sources, figures and library versions (reproducibility)."""
    import importlib.metadata as md

    def version(pkg: str) -> str | None:
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return None

    record = {
        "kind": kind,
        "settings": settings_dict(resolved.settings),
        "sources": resolved.sources,
        "preset": resolved.preset,
        "config_file": resolved.config_file,
        "result": result.to_dict(),
        "world_size": world_size(),
        "versions": {
            p: version(p)
            for p in (
                "erm-cli",
                "torch",
                "transformers",
                "trl",
                "peft",
                "accelerate",
                "datasets",
                "deepspeed",
                "vllm",
            )
        },
        "python": platform.python_version(),
        **extra,
    }
    path = out / "erm_train.json"
    path.write_text(json.dumps(record, indent=2, default=str))
    return path


def model_error(exc: BaseException, what: str) -> ModelError:
    first = (str(exc).splitlines() or [""])[0]
    return ModelError(f"{what}: {exc.__class__.__name__}: {first}")
