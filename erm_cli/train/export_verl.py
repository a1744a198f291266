"""``erm train export-verl``: a verl-ready parquet and a reward module, for users of the paper's RL stack.

The output folder holds

- ``train.parquet`` (and ``val.parquet`` with ``--val-fraction``) in verl's multimodal RL format, one row
  per reference image: ``data_source`` (``erm/<task>``), ``prompt`` (one user message whose text starts
  with verl's ``<image>`` placeholder, then erm's image-to-code draft prompt), ``images`` (the capped
  reference as ``{"bytes", "path"}``), ``ability`` (``vision-to-code``), ``reward_model``
  (``{"style": "rule", "ground_truth": "images/<name>.png"}``) and ``extra_info`` (``index``, ``split``,
  ``id``, ``task``, ``kind``, ``reference``);
- ``images/``: the full-size reference images the reward compares renders with (paths in the parquet
  are relative to this folder, so the folder can be moved to the training cluster as a whole);
- ``erm_reward.py``: verl's ``custom_reward_function`` — ``compute_score`` over
  :func:`erm_cli.train.rewards.verl_compute_score` (the one scorer) with the judge and weights baked
  in, plus the batched form; it needs ``erm-cli`` installed in verl's environment;
- ``run_grpo.sh``: a verl GRPO launch with the paper's hyper-parameters (VISUAL-ERM.md §4).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError

VERL_IMAGE_TOKEN = "<image>"
ROWS_PER_GROUP = 256


@dataclass
class ExportResult:
    out: str
    rows: dict[str, int]
    reward_module: str
    script: str
    files: list[str] = field(default_factory=list)
    tasks: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": self.out,
            "rows": self.rows,
            "reward_module": self.reward_module,
            "script": self.script,
            "files": self.files,
            "tasks": self.tasks,
        }


def verl_row(
    prompt: Any, index: int, split: str, image_png: bytes, reference_rel: str, text: str
) -> dict[str, Any]:
    """One verl record (see the module docstring)."""
    return {
        "data_source": f"erm/{prompt.task}",
        "prompt": [{"role": "user", "content": VERL_IMAGE_TOKEN + text}],
        "images": [{"bytes": image_png, "path": Path(reference_rel).name}],
        "ability": "vision-to-code",
        "reward_model": {"style": "rule", "ground_truth": reference_rel},
        "extra_info": {
            "index": index,
            "split": split,
            "id": prompt.id,
            "task": prompt.task,
            "kind": prompt.kind,
            "reference": reference_rel,
        },
    }


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("data_source", pa.string()),
            ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
            ("images", pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))),
            ("ability", pa.string()),
            ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
            (
                "extra_info",
                pa.struct(
                    [
                        ("index", pa.int64()),
                        ("split", pa.string()),
                        ("id", pa.string()),
                        ("task", pa.string()),
                        ("kind", pa.string()),
                        ("reference", pa.string()),
                    ]
                ),
            ),
        ]
    )


class _ParquetSink:
    """Rows appended in groups, so memory stays flat on large exports."""

    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        self.path = path
        self.schema = _schema()
        self.writer = pq.ParquetWriter(str(path), self.schema)
        self.buffer: list[dict[str, Any]] = []
        self.count = 0

    def add(self, row: dict[str, Any]) -> None:
        self.buffer.append(row)
        self.count += 1
        if len(self.buffer) >= ROWS_PER_GROUP:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if self.buffer:
            self.writer.write_table(pa.Table.from_pylist(self.buffer, schema=self.schema))
            self.buffer = []

    def close(self) -> None:
        self.flush()
        self.writer.close()


def _png(img: Any) -> bytes:
    from ..imageio import png_bytes

    return png_bytes(img)


def _reference_copy(src: str, images_dir: Path, prompt_id: str) -> str:
    """Copy the full-size reference (once per content) into ``images/``; returns its path relative to OUT."""
    data = Path(src).read_bytes()
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in prompt_id)[:60] or "ref"
    name = f"{stem}-{hashlib.sha256(data).hexdigest()[:10]}{Path(src).suffix.lower() or '.png'}"
    target = images_dir / name
    if not target.exists():
        shutil.copyfile(src, target)
    return f"images/{name}"


def write_reward_module(
    path: Path, judge: dict[str, Any], visual_weight: float, format_weight: float
) -> None:
    """``erm_reward.py``: verl's custom reward function with this export's judge and weights."""
    path.write_text(
        REWARD_MODULE.format(
            judge=repr(judge.get("judge", "critic")),
            model=repr(judge.get("model")),
            visual_weight=float(visual_weight),
            format_weight=float(format_weight),
        ),
        encoding="utf-8",
    )


def write_launch_script(path: Path, has_val: bool) -> None:
    val = "$DATA/val.parquet" if has_val else "$DATA/train.parquet"
    path.write_text(LAUNCH_SCRIPT.replace("@VAL@", val), encoding="utf-8")
    path.chmod(0o755)


def export_verl(
    data: str | Path,
    out: str | Path,
    *,
    reward: str = "critic",
    task: str | None = None,
    limit: int | None = None,
    val_fraction: float = 0.0,
    max_image_side: int | None = 1024,
    visual_weight: float = 1.0,
    format_weight: float = 0.0,
    seed: int = 0,
    show_progress: bool = True,
) -> ExportResult:
    """Write the verl export of ``data`` (reference images or a VC-RewardBench / synth JSONL) into ``out``."""
    from ..console import progress
    from .datasets import load_policy_prompts, policy_example, stable_fraction
    from .policy_grpo import parse_reward_spec

    if task is not None and task not in ("chart", "table", "svg"):
        raise InputError(f"--task must be chart, table or svg, got {task!r}")
    if not 0.0 <= val_fraction < 1.0:
        raise InputError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    if visual_weight < 0 or format_weight < 0 or visual_weight + format_weight == 0:
        raise InputError("weights must be >= 0 and not both 0")
    if max_image_side is not None and max_image_side < 0:
        raise InputError("--max-image-side must be >= 0")
    judge = parse_reward_spec(reward)
    prompts = load_policy_prompts(data, task, limit)
    out_dir = Path(out).expanduser()
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out is a file, not a folder: {out_dir}")
    images_dir = out_dir / "images"
    images_dir.mkdir(parents=True, exist_ok=True)

    n_val = min(len(prompts) - 1, max(1, round(val_fraction * len(prompts)))) if val_fraction > 0 else 0
    val_ids = {p.id for p in sorted(prompts, key=lambda p: stable_fraction(p.id, seed))[:n_val]}
    sinks = {"train": _ParquetSink(out_dir / "train.parquet")}
    if val_ids:
        sinks["val"] = _ParquetSink(out_dir / "val.parquet")
    elif (out_dir / "val.parquet").exists():
        (out_dir / "val.parquet").unlink()  # a stale split from an earlier export would mislead verl
    tasks: dict[str, int] = {}
    try:
        with progress(disable=not show_progress) as bar:
            job = bar.add_task("export-verl", total=len(prompts))
            for i, p in enumerate(prompts):
                split = "val" if p.id in val_ids else "train"
                ex = policy_example(p, max_image_side)
                rel = _reference_copy(p.reference, images_dir, p.id)
                sinks[split].add(verl_row(p, i, split, _png(ex["image"]), rel, ex["prompt"][0]["content"]))
                tasks[p.task] = tasks.get(p.task, 0) + 1
                bar.advance(job)
    finally:
        for sink in sinks.values():
            sink.close()

    module = out_dir / "erm_reward.py"
    write_reward_module(module, judge, visual_weight, format_weight)
    script = out_dir / "run_grpo.sh"
    write_launch_script(script, has_val=bool(val_ids))
    (out_dir / "erm_export.json").write_text(
        json.dumps(
            {
                "source": str(data),
                "reward": reward,
                "visual_weight": visual_weight,
                "format_weight": format_weight,
                "max_image_side": max_image_side,
                "val_fraction": val_fraction,
                "seed": seed,
                "rows": {k: s.count for k, s in sinks.items()},
                "tasks": tasks,
            },
            indent=2,
        )
    )
    return ExportResult(
        out=str(out_dir.resolve()),
        rows={k: s.count for k, s in sinks.items()},
        reward_module=str(module.resolve()),
        script=str(script.resolve()),
        files=sorted(p.name for p in out_dir.iterdir()),
        tasks=tasks,
    )


def prime_score(data_source: Any = None, solution_str: Any = None, ground_truth: Any = None,
                extra_info: Any = None, *, format_weight: float = 0.0, visual_weight: float = 1.0,
                **options: Any) -> float:
    """The exported reward as one number (verl's prime manager): ``visual_weight`` x (render_ok + visual
    reward) + ``format_weight`` x format reward. Importable, so a ``functools.partial`` of it pickles."""
    from .format_reward import format_score
    from .rewards import verl_compute_score

    result = verl_compute_score(data_source, solution_str, ground_truth, extra_info, render_weight=visual_weight,
                                visual_weight=visual_weight, **options)
    kind = extra_info.get("kind") if isinstance(extra_info, dict) else None
    return float(result["score"]) + format_weight * float(format_score(solution_str or "", kind))


REWARD_MODULE = '''"""erm's visual reward for verl, written by `erm train export-verl`.

verl >= 0.8: reward.custom_reward_function.path=<this file> reward.custom_reward_function.name=compute_score
(verl 0.7: the same keys without "reward."); verl's legacy managers (0.7,
reward_model.use_reward_loop=False): reward_manager=batch with compute_score (batch keywords),
reward_manager=prime with compute_score_prime (a number per sample). Needs erm-cli installed in verl's
environment. The reference image of a sample is reward_model.ground_truth /
extra_info.reference, a path relative to this folder.
Reward = VISUAL_WEIGHT * (render_ok + visual reward) + FORMAT_WEIGHT * format reward; the returned
dict also carries render_ok, visual_reward, severity_total and failed.
Environment overrides: ERM_REWARD_JUDGE (critic | vlm | http://erm-serve), ERM_REWARD_MODEL,
ERM_REWARD_TIMEOUT, ERM_REWARD_WORKERS (see erm_cli/train/rewards.py).
"""

import functools
import os
from pathlib import Path

from erm_cli.train.export_verl import prime_score
from erm_cli.train.format_reward import format_score
from erm_cli.train.rewards import verl_compute_score, verl_compute_score_batch

ROOT = str(Path(__file__).resolve().parent)
JUDGE = os.environ.get("ERM_REWARD_JUDGE") or {judge}
MODEL = os.environ.get("ERM_REWARD_MODEL") or {model}
VISUAL_WEIGHT = {visual_weight!r}
FORMAT_WEIGHT = {format_weight!r}


def _options():
    return dict(judge=JUDGE, model=MODEL, root=ROOT, render_weight=VISUAL_WEIGHT, visual_weight=VISUAL_WEIGHT)


def _add_format(result, solution_str, extra_info):
    kind = (extra_info or {{}}).get("kind") if isinstance(extra_info, dict) else None
    fmt = format_score(solution_str or "", kind)
    result["format"] = float(fmt)
    result["score"] = float(result["score"]) + FORMAT_WEIGHT * fmt
    return result


def compute_score(data_source=None, solution_str=None, ground_truth=None, extra_info=None, **kwargs):
    """verl's per-sample reward: a dict whose "score" is the reward. Under reward_model.reward_manager=batch
    verl calls the same name with the batch keywords; those go to compute_score_batch."""
    if "solution_strs" in kwargs:
        return compute_score_batch(kwargs.pop("data_sources"), kwargs.pop("solution_strs"),
                                   kwargs.pop("ground_truths"), kwargs.pop("extra_infos", None), **kwargs)
    options = {{**_options(), **kwargs}}
    result = verl_compute_score(data_source, solution_str, ground_truth, extra_info, **options)
    return _add_format(result, solution_str, extra_info)


#: verl's legacy prime manager keeps float(result[0]) of each answer and sends the function to a process
#: pool: a partial of an importable function pickles, a function of this file (loaded by path) does not.
compute_score_prime = functools.partial(prime_score, root=ROOT, judge=JUDGE, model=MODEL,
                                        visual_weight=VISUAL_WEIGHT, format_weight=FORMAT_WEIGHT)


def compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos=None, **kwargs):
    """verl's batched reward manager form (samples scored in parallel)."""
    results = verl_compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos,
                                       **{{**_options(), **kwargs}})
    infos = list(extra_infos) if extra_infos is not None else [None] * len(results)
    return [_add_format(r, s, i) for r, s, i in zip(results, solution_strs, infos)]
'''

LAUNCH_SCRIPT = r"""#!/usr/bin/env bash
# verl GRPO with erm's reward, using the Visual-ERM paper's settings (VISUAL-ERM.md section 4):
# lr 1e-6, 256 prompts x 8 rollouts, mini-batch 128, KL loss 0.01 (low_var_kl), no KL in reward,
# entropy 0, 1 epoch, vLLM rollouts. Written by `erm train export-verl` for verl >= 0.8 (the reward loop;
# every reward key under "reward."). verl 0.7: write custom_reward_function.path/name without the
# "reward." prefix (0.9 ignores those). erm's tests compose these keys with verl's own Hydra config when
# verl is installed; no GPU run.
#   MODEL=/models/Qwen3-VL-8B-Instruct NGPUS=8 NNODES=1 bash run_grpo.sh [extra hydra overrides]
set -euo pipefail
DATA="$(cd "$(dirname "$0")" && pwd)"
MODEL="${MODEL:?set MODEL to the policy checkpoint folder}"
NGPUS="${NGPUS:-8}"
NNODES="${NNODES:-1}"
python3 -m verl.trainer.main_ppo \
  algorithm.adv_estimator=grpo \
  algorithm.use_kl_in_reward=False \
  data.train_files="$DATA/train.parquet" \
  data.val_files="@VAL@" \
  data.image_key=images \
  data.train_batch_size=256 \
  data.max_prompt_length=8192 \
  data.max_response_length=8192 \
  data.filter_overlong_prompts=True \
  actor_rollout_ref.model.path="$MODEL" \
  actor_rollout_ref.actor.optim.lr=1e-6 \
  actor_rollout_ref.actor.ppo_mini_batch_size=128 \
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=1 \
  actor_rollout_ref.actor.use_kl_loss=True \
  actor_rollout_ref.actor.kl_loss_coef=0.01 \
  actor_rollout_ref.actor.kl_loss_type=low_var_kl \
  actor_rollout_ref.actor.entropy_coeff=0 \
  actor_rollout_ref.rollout.name=vllm \
  actor_rollout_ref.rollout.n=8 \
  actor_rollout_ref.rollout.gpu_memory_utilization=0.7 \
  actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=1 \
  actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=1 \
  reward.custom_reward_function.path="$DATA/erm_reward.py" \
  reward.custom_reward_function.name=compute_score \
  trainer.total_epochs=1 \
  trainer.save_freq=100 \
  trainer.test_freq=100 \
  trainer.n_gpus_per_node="$NGPUS" \
  trainer.nnodes="$NNODES" \
  trainer.logger='["console"]' \
  "$@"
"""
