"""The frame of a training run, shared by ``erm train reward`` and ``erm train policy``.

Checked settings in, output and base-model folders prepared, and at the end the :class:`TrainResult`
with its ``erm_train.json`` record. Nothing here imports torch or TRL.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, TypeVar

from ..errors import InputError
from .common import (
    TrainResult,
    is_main_process,
    loss_history,
    prepare_out_dir,
    resolve_model_path,
    write_run_record,
)
from .config import SETTINGS_CLASS, ResolvedSettings, TrainSettings, require

_Settings = TypeVar("_Settings", bound=TrainSettings)


def run_settings(resolved: ResolvedSettings, cls: type[_Settings], caller: str, *required: str) -> _Settings:
    """``resolved.settings``, checked to be of ``cls`` and to give every ``required`` setting."""
    settings = resolved.settings
    if not isinstance(settings, cls):
        kind = next(k for k, c in SETTINGS_CLASS.items() if c is cls)
        raise InputError(f"{caller} needs {kind} settings")
    require(settings, *required)
    return settings


def prepare_run_dirs(settings: TrainSettings) -> tuple[Path, Path]:
    """The output folder (created) and the local folder of the base weights: ``(out, base_dir)``."""
    out = prepare_out_dir(settings.out, settings.resume)  # type: ignore[arg-type]
    return out, resolve_model_path(settings.model)  # type: ignore[arg-type]


def finish_run(
    kind: str,
    resolved: ResolvedSettings,
    trainer: Any,
    out: Path,
    started: float,
    record: dict[str, Any],
    **fields: Any,
) -> TrainResult:
    """The run's result: steps, time since ``started`` and first / last loss from ``trainer``, plus ``fields``.

    The main process also lists the files in ``out`` and writes ``erm_train.json`` with ``record`` in it.
    """
    losses = loss_history(trainer.state.log_history)
    result = TrainResult(
        kind=kind,
        out=str(out),
        model=resolved.settings.model or "",
        steps=int(trainer.state.global_step),
        seconds=time.perf_counter() - started,
        first_loss=losses[0] if losses else None,
        last_loss=losses[-1] if losses else None,
        **fields,
    )
    if is_main_process():
        result.files = sorted(p.name for p in out.iterdir())
        write_run_record(out, kind, resolved, result, record)
    return result
