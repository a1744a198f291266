"""The evaluation hook of ``erm train reward``: ``erm bench judge`` metrics on a held-out split.

The held-out records are written as a VC-RewardBench JSONL (absolute paths) and scored with the
bench library (:func:`erm_cli.bench.judge_bench.run_judge_bench`: the same judging, matching and
F1 / Sc code as ``erm bench judge``), with the judge being

- during training (every ``eval_steps``): the live model, through a backend that wraps the
  in-memory weights (single-process runs only: sharded ZeRO-3 / FSDP weights cannot generate on one
  rank, so distributed runs evaluate at the end only);
- at the end: the saved output folder loaded as ``hf:OUT``, exactly how users will load it.

Figures are logged as ``eval/f1_hard``, ``eval/f1_soft``, ``eval/sc`` (percent), ``eval/parsed``
(share of answers that parsed) and ``eval/mean_reward``; each run's full bench output (predictions,
matches, metrics.json, report.md) stays in ``OUT/eval/step-N`` and ``OUT/eval/final``.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Iterable

from ..models.hf import HFBackend


class LiveModelBackend(HFBackend):
    """``HFBackend.generate`` over a model already in memory (the one being trained)."""

    kind = "hf"

    def __init__(
        self, model: Any, processor: Any, spec: str = "live:training-model", batch_size: int = 4
    ) -> None:
        # deliberately not calling HFBackend.__init__ (it loads weights from a folder)
        self.path = spec
        self.spec = spec
        self.batch_size = max(1, int(batch_size))
        self.model = model
        self.processor = processor
        self.device = str(next(model.parameters()).device)
        self._lock = threading.Lock()


def write_heldout(records: Iterable[Any], path: Path) -> Path | None:
    """Write the held-out records as VC-RewardBench JSONL; None when there is nothing to evaluate."""
    rows = [r.to_vcbench() for r in records]
    rows = [r for r in rows if r is not None]
    if not rows:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def eval_judge_options(settings: Any) -> dict[str, Any]:
    """Greedy, length-capped judging for evaluation (deterministic figures; no retry of junk answers)."""
    from ..models.base import Sampling

    options: dict[str, Any] = {
        "sampling": Sampling(max_tokens=int(settings.eval_max_new_tokens), temperature=0.0),
        "retries": 0,
    }
    if settings.prompt_file:
        options["prompt_file"] = settings.prompt_file
    if settings.max_image_side is not None:
        options["max_image_side"] = settings.max_image_side
    return options


def summarise_bench(metrics: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """The headline figures of one bench run (offline matcher, overall block)."""
    from ..bench.matching import OfflineMatcher

    doc = next(iter((metrics.get("judges") or {}).values()), {})
    block = (
        ((doc.get("vcbench") or {}).get(OfflineMatcher().label) or {}).get("metrics", {}).get("overall", {})
    )
    items = int(doc.get("items") or 0)
    unparsed = int(doc.get("unparsed") or 0)
    return {
        "f1_hard": block.get("f1_hard"),
        "f1_soft": block.get("f1_soft"),
        "sc": block.get("sc"),
        "items": items,
        "failed": int(doc.get("failed") or 0),
        "parsed_pct": round(100.0 * (items - unparsed) / items, 2) if items else None,
        "mean_reward": (doc.get("reward") or {}).get("mean_reward"),
        "bench_dir": str(out_dir),
    }


def data_roots(settings: Any) -> tuple[Path, ...]:
    """The folders the run's records were read from. Their image paths were confined to these folders when
    the records were loaded, and the held-out file written in the run folder points back into them."""
    from .datasets import find_jsonl

    roots = [find_jsonl(settings.data).parent]
    if settings.eval_data:
        roots.append(find_jsonl(settings.eval_data, "--eval-data").parent)
    return tuple(dict.fromkeys(roots))


def run_eval(heldout: Path, out_dir: Path, settings: Any, model: Any) -> dict[str, Any]:
    """``erm bench judge`` on ``heldout`` with a vlm judge over ``model`` (a spec string or a backend)."""
    from ..bench.judge_bench import JudgeBenchConfig, run_judge_bench

    options = eval_judge_options(settings)
    spec = model if isinstance(model, str) else None
    if spec is None:
        options["model"] = model
    cfg = JudgeBenchConfig(
        data=heldout,
        out_dir=out_dir,
        judge="vlm",
        model=spec,
        judge_options=options,
        baselines=(),
        workers=1,
        resume=False,
        limit=settings.eval_max_items,
        allowed_root=data_roots(settings),
    )
    return summarise_bench(run_judge_bench(cfg), out_dir)


def evaluate_checkpoint(out: Path, heldout: Path, settings: Any) -> dict[str, Any]:
    """Final evaluation: the saved folder, loaded as ``hf:OUT`` like any user would."""
    from ..models import clear_cache

    result = run_eval(heldout, out / "eval" / "final", settings, f"hf:{out}")
    clear_cache()  # free the evaluation copy of the weights
    return result


def make_eval_callback(heldout: Path, settings: Any, processor: Any) -> Any:
    """A TrainerCallback that evaluates the live model every ``settings.eval_steps`` steps.

    Set ``callback.trainer`` after building the trainer so the figures reach every log callback
    (progress bar, metrics.jsonl, report_to integrations) and the trainer state's log history."""
    from transformers import TrainerCallback

    from .config import world_size

    class JudgeEval(TrainerCallback):
        def __init__(self) -> None:
            self.trainer: Any = None
            self.results: list[dict[str, Any]] = []

        def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
            step = state.global_step
            if not settings.eval_steps or step % settings.eval_steps or step >= state.max_steps:
                return  # the final model is evaluated from the saved folder
            if world_size() > 1 or not state.is_world_process_zero or model is None:
                return
            figures = self.evaluate(model, Path(args.output_dir).parent / "eval" / f"step-{step}")
            figures["step"] = step
            self.results.append(figures)
            logs = {
                f"eval/{k}": v
                for k, v in figures.items()
                if k in ("f1_hard", "f1_soft", "sc", "parsed_pct", "mean_reward") and v is not None
            }
            if self.trainer is not None and logs:
                # like Trainer.log, but without consuming this step's pending loss log (on_log resets
                # control.should_log) or the trainer's buffered token metrics
                state.log_history.append({**logs, "step": step})
                pending = control.should_log
                self.trainer.callback_handler.on_log(args, state, control, logs)
                control.should_log = pending

        def evaluate(self, model: Any, out_dir: Path) -> dict[str, Any]:
            tok = getattr(processor, "tokenizer", None)
            side = getattr(tok, "padding_side", None)
            was_training = model.training
            model.eval()
            if tok is not None:
                tok.padding_side = "left"
            try:
                return run_eval(heldout, out_dir, settings, LiveModelBackend(model, processor))
            finally:
                if tok is not None and side is not None:
                    tok.padding_side = side
                if was_training:
                    model.train()

    return JudgeEval()
