"""``refine_image``: the library call behind ``erm refine IMAGE`` (one image, outputs in a folder).

    from erm_cli.refine import refine_image, RefineConfig
    result, paths = refine_image("chart.png", out_dir="out", config=RefineConfig(rounds=3, samples=4))
    print(result.initial.reward, "->", result.best.reward)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from ..errors import InputError
from ..imageio import load_image
from ..judges.base import Judge
from .config import DEFAULT_KIND_OF_TASK, RefineConfig
from .evaluate import CandidateEvaluator
from .loop import Observer, RefineLoop, RefineResult
from .policy import Policy, RefineContext, get_policy

TASK_CHOICES = ("auto", "chart", "table", "svg")


def resolve_task_and_kind(reference: Image.Image, task: str, init_code: str | None) -> tuple[str, str]:
    """The task (chart / table / svg) and the code language the policy writes."""
    from ..judges.verdict import TASKS
    from ..renderers.base import TASK_OF_KIND

    if task not in TASK_CHOICES:
        raise InputError(f"unknown task {task!r}; choose one of: {', '.join(TASK_CHOICES)}")
    init_kind = None
    if init_code is not None:
        from ..renderers import detect_kind, extract_code

        code, k = extract_code(init_code)
        init_kind = k or detect_kind(code)
    if task == "auto":
        if init_kind in TASK_OF_KIND:
            task = TASK_OF_KIND[init_kind]
        else:
            from ..judges.pipeline import guess_task

            task = guess_task(reference)
    if task not in TASKS:
        raise InputError(f"unknown task {task!r}")
    if init_kind in TASK_OF_KIND and TASK_OF_KIND[init_kind] == task:
        return task, init_kind  # type: ignore[return-value]
    if init_kind is not None and init_kind in TASK_OF_KIND and TASK_OF_KIND[init_kind] != task:
        raise InputError(f"--init code is {init_kind} ({TASK_OF_KIND[init_kind]}) but the task is {task}")
    return task, DEFAULT_KIND_OF_TASK[task]


def read_init(init: str | Path | None) -> str | None:
    """``--init``: a path to a code file (or, from the library, the code itself)."""
    if init is None:
        return None
    s = str(init)
    if "\n" not in s and len(s) < 4096 and Path(s).exists():
        from ..judges.pipeline import read_code

        return read_code(s)
    if "\n" in s or s.lstrip().startswith("<"):
        return s
    raise InputError(f"--init: no such file: {s}")


def build_judge(judge: str | Judge = "critic", model: str | None = None) -> Judge:
    if not isinstance(judge, str):
        return judge
    from ..judges import get_judge

    if judge == "vlm":
        if not model:
            raise InputError("--judge vlm needs --model SPEC (e.g. openai:http://localhost:8000/v1#erm)")
        return get_judge("vlm", model=model)
    if model and judge == "critic":
        raise InputError("--model is for --judge vlm; the critic needs no model")
    return get_judge(judge)


def refine_image(
    image: str | Path | Image.Image,
    *,
    out_dir: str | Path | None = None,
    task: str = "auto",
    policy: str | Policy | None = None,
    judge: str | Judge = "critic",
    judge_model: str | None = None,
    config: RefineConfig | None = None,
    init: str | Path | None = None,
    observers: list[Observer] | None = None,
    report: bool = True,
    source: dict[str, Any] | None = None,
) -> tuple[RefineResult, dict[str, str]]:
    """Refine code for ``image``; write outputs into ``out_dir`` (when given). Returns (result, paths)."""
    config = config or RefineConfig()
    config.validate()
    reference = load_image(image, what="reference")
    init_code = read_init(init)
    the_task, kind = resolve_task_and_kind(reference, task, init_code)
    the_judge = build_judge(judge, judge_model)
    the_policy = get_policy(policy) if policy is None or isinstance(policy, str) else policy
    ctx = RefineContext(reference=reference, task=the_task, kind=kind, seed=config.seed)
    evaluator = CandidateEvaluator(reference, the_task, the_judge, kind, use_cache=config.use_cache,
                                   profile=config.profile, timeout=config.timeout)
    obs = list(observers or [])
    writer = None
    if out_dir is not None:
        from .output import TrajectoryWriter

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        writer = TrajectoryWriter(out)
        obs.insert(0, writer)
    try:
        result = RefineLoop(ctx, the_policy, evaluator, config, obs, init_code=init_code).run()
    finally:
        if writer is not None:
            writer.close()
    paths: dict[str, str] = {}
    if out_dir is not None:
        from .output import write_outputs

        src = {"image": str(image) if not isinstance(image, Image.Image) else "<image>", "init": str(init) if
               init is not None and "\n" not in str(init) else None}
        src.update(source or {})
        paths = write_outputs(result, Path(out_dir), reference, source=src, report=report)
    return result, paths
