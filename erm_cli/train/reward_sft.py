"""``erm train reward``: supervised fine-tuning of a VLM into a Visual-ERM-style judge.

Each training example is exactly what :class:`erm_cli.judges.vlm.VLMJudge` sends at inference
(``build_judge_request``: image 1 the reference, image 2 the candidate, the judge prompt; images
shrunk and JPEG re-encoded the same way) with the verdict JSON that ``parse_judge_output`` reads
back (``verdict_to_target_json``) as the completion. TRL's SFTTrainer trains on the completion
tokens only (prompt/completion format). The output folder is a plain transformers checkpoint: it
loads with ``erm judge --judge vlm --model hf:OUT``.

Evaluation: a held-out split (``--eval-data`` or a deterministic slice of ``--data``) is judged by
the model being trained and scored with ``erm bench judge``'s metrics (F1 hard / soft, Sc); the
figures are logged (``eval/f1_hard`` ...) at ``--eval-steps`` and at the end.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .common import (
    TrainResult,
    accumulation_steps,
    is_main_process,
    run_training,
    stdout_to_stderr,
    trainer_inputs,
    trl_config,
)
from .config import ResolvedSettings, RewardSettings, world_size
from .run import finish_run, prepare_run_dirs, run_settings


def train_reward_model(resolved: ResolvedSettings) -> TrainResult:
    """Run the SFT described by ``resolved`` (see :func:`erm_cli.train.config.resolve_settings`)."""
    settings = run_settings(resolved, RewardSettings, "train_reward_model", "data", "model", "out")
    t0 = time.perf_counter()

    from .datasets import load_judge_data

    data = load_judge_data(settings)
    out, base_dir = prepare_run_dirs(settings)
    grad_accum = accumulation_steps(settings.batch_size, settings.per_device_batch_size, world_size())

    heldout_path = None
    notes: list[str] = []
    if settings.eval and data.heldout:
        from .evaluation import write_heldout

        heldout_path = write_heldout(data.heldout, out / "eval" / "heldout.jsonl")
    elif settings.eval:
        notes.append(
            "evaluation skipped: no held-out records with gold errors "
            "(pass --eval-data FILE, or more labelled records)"
        )

    with stdout_to_stderr():
        trainer = build_sft_trainer(settings, base_dir, data.train_dataset(), out, grad_accum, heldout_path)
        train_output = run_training(trainer, settings, base_dir, out)

        evaluation = None
        if heldout_path is not None and is_main_process():
            from .evaluation import evaluate_checkpoint

            evaluation = evaluate_checkpoint(out, heldout_path, settings)

    judge_flags = f"--judge vlm --model hf:{out}"
    if settings.prompt_file and is_main_process():
        judge_flags += f" --prompt-file {keep_prompt_file(Path(settings.prompt_file), out)}"
    metrics = {
        "train_loss": float(train_output.training_loss),
        "train_examples": data.n_train,
        "heldout_examples": len(data.heldout),
        "grad_accum": grad_accum,
    }
    return finish_run(
        "reward",
        resolved,
        trainer,
        out,
        t0,
        {"data": data.summary()},
        metrics=metrics,
        evaluation=evaluation,
        notes=notes,
        load_with=f"erm judge REF PRED {judge_flags}",
    )


def keep_prompt_file(src: Path, out: Path) -> Path:
    """Copy the training prompt file (or folder) into OUT: the judge must be asked the same way later."""
    import shutil

    target = out / ("judge_prompts" + ("" if src.is_dir() else src.suffix))
    if src.is_dir():
        shutil.copytree(src, target, dirs_exist_ok=True)
    else:
        shutil.copy2(src, target)
    return target


def build_sft_trainer(
    settings: RewardSettings,
    base_dir: Path,
    train_dataset: Any,
    out: Path,
    grad_accum: int,
    heldout_path: Path | None,
) -> Any:
    """An SFTTrainer for a judge: prompt/completion vision data, completion-only loss, explicit processor."""
    from trl import SFTConfig, SFTTrainer

    args = trl_config(
        SFTConfig,
        settings,
        out,
        grad_accum,
        max_length=settings.max_length,  # None: never cut image tokens
        completion_only_loss=True,
        remove_unused_columns=False,  # the dataset is built on the fly (with_transform)
        dataset_kwargs={"skip_prepare_dataset": True},
    )
    inputs = trainer_inputs(base_dir, args, settings, out, padding_side="right")
    if heldout_path is not None and settings.eval_steps:
        from .evaluation import make_eval_callback

        inputs["callbacks"].append(make_eval_callback(heldout_path, settings, inputs["processing_class"]))
    trainer = SFTTrainer(train_dataset=train_dataset, **inputs)
    for cb in inputs["callbacks"]:
        if hasattr(cb, "trainer"):
            cb.trainer = trainer  # the eval hook logs through trainer.log
    return trainer
