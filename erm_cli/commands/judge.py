"""`erm judge REF PRED`: a fine-grained verdict and a reward; or a resumable batch over VC-RewardBench JSONL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from ..errors import BelowThreshold, InputError, RenderFailure
from . import options as opt

TASK_CHOICES = ("auto", "chart", "table", "svg")


def judge(
    reference: str | None = typer.Argument(None, help="Reference image (PNG/JPEG...).", show_default=False),
    prediction: str | None = typer.Argument(None, help="Candidate: code (matplotlib/plotly .py, .svg, .html, "
                                            ".md, .tex, a model answer with fenced blocks or a raw "
                                            "chat-completion JSON) or an image; - reads it from stdin.",
                                            show_default=False),
    task: str = opt.task("chart | table | svg | auto (from the code, else guessed from the reference)."),
    judge_name: str = opt.judge("critic (default, weight-free), vlm, or a baseline: ssim, mse, phash."),
    model: str | None = opt.model("Model spec for --judge vlm: hf:PATH, vllm:PATH, openai:URL#MODEL, "
                                  "tiny:qwen3-vl."),
    prompt_file: Path | None = typer.Option(None, "--prompt-file", help="Judge prompts to use instead of "
                                            "erm's (--judge vlm; see docs/MODELS.md)."),
    swap: bool = typer.Option(False, "--swap", help="--judge vlm: judge twice with the images swapped."),
    kind: str | None = opt.kind("Language of code candidates (default: detected)."),
    as_json: bool = opt.as_json("Print the verdict (--batch: the summary) as JSON on stdout, with "
                                "schema_version."),
    fail_under: float | None = typer.Option(None, "--fail-under", min=0.0, max=1.0,
                                            help="Exit with code 1 when the reward is below this (--batch: "
                                            "when any item's is)."),
    diff_image: Path | None = typer.Option(None, "--diff-image", help="Write reference | candidate | "
                                           "difference overlay with numbered error boxes (--batch: a folder, "
                                           "one ID.png per pair)."),
    batch: Path | None = opt.batch("VC-RewardBench JSONL of pairs (paths relative to the file).", dir_okay=False),
    out: Path | None = opt.out_dir("Output folder for --batch (predictions.jsonl).", file_okay=False),
    workers: int = opt.workers("Parallel items for --batch.", default=2),
    limit: int | None = opt.limit("--batch: only the first N pairs."),
    timeout: float = opt.timeout("Wall-clock limit per candidate render (s)."),
    resume: bool = opt.resume("--batch: skip pairs already in predictions.jsonl (failed ones are retried), "
                              "or start over."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the render cache."),
    allowed_root: list[Path] = opt.allowed_root("--batch: also allow paths in the JSONL under this folder "
                                                "(repeatable; by default only the JSONL's folder)."),
    profile: str | None = typer.Option(None, "--profile", help="Render code candidates like erm (default) or "
                                       "like the released Visual-ERM reward code (visual-erm; the default "
                                       "when --model is the released Visual-ERM judge)."),
    ray_address: str | None = typer.Option(None, "--ray", metavar="ADDRESS", help="--batch: judge on "
                                           "Ray ('local', 'auto' or ray://HOST:PORT; docs/SCALING.md)."),
    quiet: bool = opt.quiet(),
    verbose: bool = opt.verbose(),
) -> None:
    """Judge PRED against REF: itemised errors (most severe first) and a reward in [0, 1].

    Examples:

    \b
      erm judge examples/refine/sales_bar.png examples/refine/sales_bar_init.py --diff-image diff.png
      erm judge examples/refine/sales_bar.png examples/refine/sales_bar.py --json --fail-under 0.9
      erm judge --batch examples/bench-mini/data.jsonl --limit 4 --out-dir runs/j   # then: erm view runs/j
      erm judge ref.png answer.txt --judge vlm --model openai:http://localhost:8000/v1#visual-erm   # needs a model server
    """
    from ..judges import JUDGE_NAMES

    if task not in TASK_CHOICES:
        raise InputError(f"unknown --task {task!r}; choose one of: {', '.join(TASK_CHOICES)}")
    if judge_name not in JUDGE_NAMES:
        raise InputError(f"unknown --judge {judge_name!r}; choose one of: {', '.join(JUDGE_NAMES)}")
    if judge_name != "vlm" and (model or prompt_file or swap):
        raise InputError("--model, --prompt-file and --swap go with --judge vlm")
    options: dict[str, Any] = {}
    if judge_name == "vlm":
        options = {"model": model, "prompt_file": prompt_file, "swap": swap}
    if batch is not None:
        if reference or prediction:
            raise InputError("give either REF PRED or --batch, not both")
        if out is None:
            raise InputError("--batch needs --out-dir DIR")
        _judge_batch(batch, out, judge_name, model, options, workers, resume, as_json, allowed_root,
                     ray_address, fail_under=fail_under, diff_dir=diff_image, limit=limit, timeout=timeout)
        return
    if ray_address is not None:
        raise InputError("--ray goes with --batch")
    if limit is not None or out is not None:
        raise InputError("--limit and --out-dir go with --batch")
    if not reference or not prediction:
        raise InputError("missing REF and PRED; see erm judge --help")
    from ..judges.vlm import default_profile
    from ..renderers.profiles import check_profile

    profile = check_profile(profile or (default_profile(model) if judge_name == "vlm" else None) or "erm")
    _judge_one(reference, prediction, task, judge_name, options, kind, as_json, fail_under, diff_image,
               not no_cache, profile, timeout)


def _judge_one(reference: str, prediction: str, task: str, judge_name: str, options: dict[str, Any],
               kind: str | None, as_json: bool, fail_under: float | None, diff_image: Path | None,
               use_cache: bool, profile: str = "erm", timeout: float = 30.0) -> None:
    from ..console import print_json
    from ..judges import get_judge
    from ..judges.pipeline import score_candidate
    from ..renderers import RenderOptions

    if reference == "-":
        raise InputError("the reference cannot come from stdin; give its file (PRED may be -)")
    for what, path in (("reference", reference), ("candidate", prediction)):
        if path != "-" and not os.path.lexists(path):
            raise InputError(f"{what}: no such file: {path}")
    _refuse_swapped(reference, prediction)
    candidate, is_code = _read_candidate(prediction)
    render_options = RenderOptions(profile=profile, timeout=timeout)
    verdict = score_candidate(reference, candidate, task=task, kind=kind, judge=get_judge(judge_name, **options),
                              use_cache=use_cache, render_options=render_options, candidate_is_code=is_code)
    verdict.info["profile"] = profile
    if diff_image is not None and verdict.render_ok:
        _write_diff(diff_image, reference, candidate, is_code, verdict, kind, render_options, use_cache)
    for warning in verdict.info.get("warnings", []):
        from rich.markup import escape

        from ..console import err_console

        err_console.print(f"[yellow]warning[/]: {escape(str(warning))}")
    if as_json:
        print_json(verdict.to_dict())
    else:
        _print_verdict(verdict, diff_image)
    if not verdict.render_ok:  # the verdict (reward 0) is printed; the exit code says the render failed
        raise RenderFailure(f"the candidate did not render: {verdict.info.get('render_error', 'render failed')}")
    if fail_under is not None and verdict.reward < fail_under:
        raise BelowThreshold(f"reward {verdict.reward:.3f} is below --fail-under {fail_under}")


def _refuse_swapped(reference: str, prediction: str) -> None:
    """REF that is code (not an image) with PRED an image: the two look swapped; say so instead of 'not a
    readable image'."""
    from ..judges.pipeline import is_image_path

    if prediction == "-" or is_image_path(reference) or not is_image_path(prediction):
        return
    try:
        with open(reference, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")) or head[8:12] == b"WEBP":
        return  # an image with an unusual name
    raise InputError(f"REF and PRED look swapped: {reference} is code and {prediction} an image; the reference "
                     f"image comes first: erm judge {prediction} {reference}")


def _read_candidate(prediction: str) -> tuple[str | bytes, bool | None]:
    """PRED as score_candidate takes it: a path (it tells code from images), or stdin's bytes: an image when
    they start like one, else code or a model answer."""
    if prediction != "-":
        return prediction, None
    from ..inputs import MAX_CODE_BYTES, MAX_IMAGE_BYTES, read_stdin_capped

    data = read_stdin_capped("candidate on stdin", max_bytes=MAX_IMAGE_BYTES)
    if not data.strip():
        raise InputError("empty candidate on stdin")
    if data.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")) or data[8:12] == b"WEBP":
        return data, False
    if len(data) > MAX_CODE_BYTES:
        raise InputError(f"candidate on stdin: more than the {MAX_CODE_BYTES:,}-byte limit for code")
    return data.decode("utf-8", errors="replace"), True


def _write_diff(path: Path, reference: str, candidate: str | bytes, is_code: bool | None, verdict: Any,
                kind: str | None, render_options: Any, use_cache: bool) -> None:
    from ..imageio import load_image
    from ..judges.diff_image import write_diff_image
    from ..judges.pipeline import candidate_image, is_image_path

    ref = load_image(reference, what="reference")
    if is_code is None:
        is_code = not is_image_path(str(candidate))
    cand = candidate_image(candidate, candidate_is_code=is_code, kind=kind, render_options=render_options,
                           use_cache=use_cache)
    if cand is not None:
        write_diff_image(path, ref, cand, verdict)


def _print_verdict(verdict: Any, diff_image: Path | None) -> None:
    from rich.table import Table

    from ..console import console

    if not verdict.render_ok:
        reason = verdict.info.get("render_error", "render failed")
        console.print(f"[bold red]render failed[/]: {reason}")
        console.print("reward [bold]0.000[/] (RL reward 0.000)")
        return
    if verdict.info.get("task_guessed"):
        console.print(f"task: {verdict.task} (guessed from the reference image; say --task to set it)")
    errors = verdict.sorted_errors()
    if errors:
        table = Table(title=f"{len(errors)} discrepancies ({verdict.task}, judge {verdict.judge.get('name')})")
        for col in ("#", "category", "sev", "location", "description"):
            table.add_column(col, overflow="fold")
        for n, e in enumerate(errors, 1):
            sev = {1: "1 minor", 2: "[yellow]2 medium[/]", 3: "[red]3 severe[/]"}.get(e.severity, str(e.severity))
            table.add_row(str(n), e.category, sev, e.location, e.description)
        console.print(table)
    elif verdict.score is not None:  # a baseline: one similarity score, nothing itemised
        console.print(f"{verdict.judge.get('name')} similarity {verdict.score:.4f} (a baseline: no itemised "
                      f"errors)")
        console.print(f"reward [bold]{verdict.reward:.3f}[/] (RL reward {verdict.rl_reward:.3f})")
        if diff_image is not None:
            console.print(f"diff image: {diff_image}")
        return
    elif not verdict.parsed:
        from rich.markup import escape

        reason = escape(str(verdict.info.get("parse_error", "no verdict JSON found")))
        console.print(f"[bold yellow]the judge's answer could not be parsed[/] ({reason}); the reward below is "
                      f"the fallback for an unparseable answer, not a verdict")
    else:
        console.print("[green]no discrepancies[/]: the candidate is visually equivalent")
    counts = ", ".join(f"{k} {v}" for k, v in verdict.counts.items())
    total = f"severity total {verdict.severity_total:g}; {counts}" if verdict.parsed else "unparsed"
    console.print(f"reward [bold]{verdict.reward:.3f}[/] ({total}; RL reward {verdict.rl_reward:.3f})")
    if diff_image is not None:
        console.print(f"diff image: {diff_image}")


def _judge_batch(data: Path, out: Path, judge_name: str, model: str | None, options: dict[str, Any],
                 workers: int, resume: bool, as_json: bool, allowed_root: list[Path],
                 ray_address: str | None = None, fail_under: float | None = None,
                 diff_dir: Path | None = None, limit: int | None = None, timeout: float = 30.0) -> None:
    from functools import partial

    from ..console import console, print_json, progress
    from ..data.vcbench import read_vcbench
    from ..distributed.ray_pool import optional_pool
    from ..judges import get_judge
    from ..judges.batch import judge_records
    from ..renderers import RenderOptions

    records = read_vcbench(data, allowed_root, per_item_errors=True)  # a refused path fails its item alone
    if limit is not None:
        records = records[:limit]
    the_judge = get_judge(judge_name, **options)
    out.mkdir(parents=True, exist_ok=True)
    with optional_pool(ray_address, workers) as executor, progress() as bar:
        task_id = bar.add_task("judging", total=len(records))

        def tick(done: int, total: int) -> None:
            bar.update(task_id, completed=done, total=total)

        summary = judge_records(records, the_judge, out / "predictions.jsonl", workers=workers, resume=resume,
                                on_progress=tick, executor=executor,
                                judge_factory=partial(get_judge, judge_name, **options), fail_under=fail_under,
                                render_options=RenderOptions(timeout=timeout))
    if diff_dir is not None:
        from ..judges.batch import write_batch_diffs

        summary["diff_images"] = write_batch_diffs(records, out / "predictions.jsonl", diff_dir)
    from ..view.build import write_batch_view

    summary["viewer"] = str(write_batch_view(out, records, summary, diff_dir))  # pages through the pairs
    if as_json:
        print_json(summary)
    else:
        console.print(f"judged {summary['judged']} of {summary['total']} pairs ({summary['resumed']} resumed, "
                      f"{summary['render_failed']} did not render, {summary['failed']} failed); mean reward "
                      f"{summary['mean_reward']:.3f} (a candidate that did not render counts 0)")
        console.print(f"predictions: {summary['predictions']}")
        console.print(f"viewer: {summary['viewer']} (or: erm view {out})")
        if diff_dir is not None:
            console.print(f"diff images: {summary['diff_images']['written']} in {diff_dir}")
    below = summary.get("below_fail_under") or []
    if below:
        shown = ", ".join(below[:5]) + (", ..." if len(below) > 5 else "")
        raise BelowThreshold(f"{len(below)} of {summary['total']} items below --fail-under {fail_under}: {shown}")
