"""`erm refine IMAGE`: generate, render, critique and revise code for an image (test-time scaling)."""

from __future__ import annotations

from pathlib import Path

import typer

from . import options as opt


def _default_out(image: Path, batch: bool) -> Path:
    stem = image.stem if not batch else (image.stem or "batch")
    return Path(f"refine-{stem}")


def refine(
    image: Path | None = typer.Argument(None, help="Reference image (PNG/JPEG).", show_default=False),
    task: str = opt.task("auto | chart | table | svg."),
    policy: str = typer.Option("search", "--policy",
                               help="Who writes code: 'search' (model-free: image-to-code draft + judge-guided "
                                    "literal search) or a model spec (hf:PATH, vllm:PATH, openai:URL#MODEL, "
                                    "tiny:qwen3-vl)."),
    judge: str = opt.judge("critic (default, no weights) or vlm."),
    model: str | None = opt.model("Model spec of the VLM judge (--judge vlm)."),
    rounds: int = typer.Option(3, "--rounds", "-r", min=0, help="Revision rounds after the first drafts."),
    samples: int = typer.Option(1, "--samples", min=1,
                                help="K: drafts in round 0 (best-of-K) and revisions per beam member per round."),
    beam: int = typer.Option(1, "--beam", min=1, help="How many of the best candidates are revised each round."),
    init: Path | None = typer.Option(None, "--init", help="Start from this code instead of a draft "
                                                              "(it is candidate r0-0)."),
    target: float | None = typer.Option(None, "--target", help="Stop when the best reward reaches this "
                                                                  "(default: when no errors are left)."),
    max_seconds: float | None = typer.Option(None, "--max-seconds", help="Wall-time budget."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="Token budget (model policies)."),
    max_candidates: int | None = typer.Option(None, "--max-candidates", help="Candidate budget."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    out: Path | None = opt.out_dir("Output folder (default: ./refine-<image or batch stem>)."),
    batch: Path | None = opt.batch("A folder of images or a JSONL of items (id, image, optional task and "
                                   "init) instead of IMAGE; resumable."),
    batch_is_image: bool = typer.Option(False, opt.REFINE_LEGACY_BATCH, hidden=True),  # old: IMAGE --batch
    limit: int | None = opt.limit("--batch: only the first N items."),
    resume: bool = opt.resume("--batch: skip the items an earlier run finished (default), or start over."),
    workers: int | None = opt.workers("--batch: items refined in parallel (default 1; with --ray, one per CPU)."),
    timeout: float = opt.timeout("Seconds one candidate's render may take (a candidate that takes longer fails "
                                 "with the reason recorded, and the loop goes on)."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip report.html."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the render cache."),
    profile: str | None = typer.Option(None, "--profile", help="Render candidates like erm (default) or like the "
                                       "released Visual-ERM reward code (visual-erm; the default when --model is "
                                       "the released Visual-ERM judge)."),
    as_json: bool = opt.as_json(),
    quiet: bool = opt.quiet("No live view or progress on stderr."),
    verbose: bool = opt.verbose(),
    allowed_root: list[Path] = opt.allowed_root("--batch: also allow paths in the JSONL under this folder "
                                                "(repeatable; by default only the JSONL's folder)."),
    ray_address: str | None = typer.Option(None, "--ray", metavar="ADDRESS", help="--batch: refine the items on "
                                           "Ray, one item per CPU ('local', 'auto', HOST:PORT or ray://HOST:PORT; "
                                           "docs/SCALING.md)."),
) -> None:
    """Refine code for IMAGE: K drafts, then N rounds of judge-guided revision that keep only improvements.

    Writes DIR/best.{py,svg,html}, DIR/best.png, DIR/trajectory.jsonl (every candidate) and DIR/report.html.

    Examples:

    \b
      erm refine examples/refine/badge.png --rounds 2 --out-dir runs/badge   # model-free: no model needed
      erm refine examples/refine/sales_bar.png --init examples/refine/sales_bar_init.py --out-dir runs/r
      erm refine icon.png --policy openai:http://localhost:8000/v1#qwen3-vl --samples 4   # needs a model server
      erm refine --batch charts/ --out-dir runs/rb -w 2   # needs a folder of images; then: erm bench policy runs/rb/predictions.jsonl --refs charts/
    """
    from ..console import err_console, print_json
    from ..errors import InputError
    from ..refine.config import RefineConfig

    if task not in ("auto", "chart", "table", "svg"):
        raise InputError(f"--task must be auto, chart, table or svg, not {task!r}")
    from ..judges.vlm import default_profile

    config = RefineConfig(rounds=rounds, samples=samples, beam=beam, target=target, max_seconds=max_seconds,
                          max_tokens=max_tokens, max_candidates=max_candidates, seed=seed, use_cache=not no_cache,
                          profile=profile or (default_profile(model) if judge == "vlm" else None) or "erm",
                          timeout=timeout)
    config.validate()
    if batch_is_image:  # the old spelling: IMAGE --batch (warned by the rewriter)
        batch, image = image, None
    if (batch is None) == (image is None):
        raise InputError("give IMAGE, or --batch FOLDER_OR_JSONL (not both); see erm refine --help")
    out_dir = out or _default_out(batch if batch is not None else image, batch is not None)  # type: ignore[arg-type]
    show = not quiet and err_console.is_terminal
    if ray_address is not None and batch is None:
        raise InputError("--ray goes with --batch")
    if limit is not None and batch is None:
        raise InputError("--limit goes with --batch")
    if not resume and batch is None:
        raise InputError("--no-resume goes with --batch")
    if workers is not None and batch is None:
        raise InputError("--workers goes with --batch (one image's candidates already render in parallel)")

    if batch is not None:
        if init is not None:
            raise InputError("--init is per item in --batch mode: give 'init' in the JSONL")
        from ..distributed.ray_pool import optional_pool
        from ..refine.batch import refine_batch

        with optional_pool(ray_address, workers) as executor, _batch_progress(quiet) as on_progress:
            summary = refine_batch(batch, out_dir, task=task, policy=policy, judge=judge, judge_model=model,
                                   config=config, report=not no_report, on_progress=on_progress,
                                   allowed_root=allowed_root, executor=executor, limit=limit,
                                   workers=workers or 1, resume=resume)
        from ..view.build import write_refine_batch_view

        summary["viewer"] = str(write_refine_batch_view(out_dir, summary))  # each item: reference vs best
        if as_json:
            print_json(summary)
        else:
            _print_batch(summary, out_dir)
        return

    from ..refine.api import refine_image

    observers = []
    live = None
    if show:
        from ..refine.live import LiveView

        live = LiveView(err_console, title=f"erm refine {image.name}")
        observers.append(live)
    elif not quiet and not as_json:
        from ..refine.live import LogView

        observers.append(LogView(err_console))
    if live is not None:
        with live:
            result, paths = refine_image(image, out_dir=out_dir, task=task, policy=policy, judge=judge,
                                         judge_model=model, config=config, init=init, observers=observers,
                                         report=not no_report)
    else:
        result, paths = refine_image(image, out_dir=out_dir, task=task, policy=policy, judge=judge, judge_model=model,
                                     config=config, init=init, observers=observers, report=not no_report)
    from ..view.build import write_refine_view

    paths["viewer"] = str(write_refine_view(out_dir))  # pages through every candidate
    if as_json:
        d = result.to_dict()
        d["outputs"] = paths
        print_json(d)
    else:
        _print_result(result, paths)
    if not result.best.render_ok:  # the outputs are written; the exit code says nothing rendered
        from ..errors import RenderFailure

        raise RenderFailure(f"no candidate rendered ({len(result.candidates)} tried): {result.best.render_error}")


def _print_result(result, paths) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    from ..console import console

    b, i = result.best, result.initial
    console.print(f"[bold]{result.task}[/] · {result.kind} · policy {result.policy} · judge "
                  f"{result.judge.get('name')} — stopped: {result.stop_reason}")
    console.print(f"reward {i.reward:.3f} → [bold]{b.reward:.3f}[/] ({b.reward - i.reward:+.3f}); errors "
                  f"{i.n_errors} → {b.n_errors}; {len(result.candidates)} candidates in {result.seconds:.1f} s")
    if b.verdict is not None and b.verdict.errors:
        t = Table(title=f"errors left in {b.id}", title_justify="left")
        for col in ("severity", "category", "location", "description"):
            t.add_column(col)
        for e in b.verdict.sorted_errors()[:15]:
            t.add_row(str(e.severity), e.category, e.location, e.description)
        console.print(t)
    elif not b.render_ok:
        console.print(f"[red]best candidate did not render:[/] {b.render_error}")
    for role in ("code", "render", "trajectory", "report", "viewer"):
        if role in paths:
            console.print(f"{role:>10}: {paths[role]}")


class _batch_progress:
    """A progress bar over batch items on stderr, items already done included; it appears with the first
    figures (bad input stays one line) and is a no-op when quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.progress = None
        self.task_id = None

    def __enter__(self):  # type: ignore[no-untyped-def]
        if self.quiet:
            return None

        def on_progress(done: int, total: int) -> None:
            if self.progress is None:
                from ..console import progress

                self.progress = progress()
                self.progress.__enter__()
                self.task_id = self.progress.add_task("refine", total=total)
            self.progress.update(self.task_id, completed=done, total=total)

        return on_progress

    def __exit__(self, *exc) -> None:  # type: ignore[no-untyped-def]
        if self.progress is not None:
            self.progress.__exit__(*exc)


def _print_batch(summary, out_dir) -> None:  # type: ignore[no-untyped-def]
    from ..console import console

    console.print(f"{summary['ok']} ok, {summary['failed']} failed ({summary['skipped_done']} already done) in "
                  f"{summary['seconds']:.1f} s")
    if summary.get("mean_reward") is not None:
        console.print(f"mean reward {summary['mean_reward_initial']:.3f} → [bold]{summary['mean_reward']:.3f}[/]")
    for t, v in sorted(summary.get("per_task", {}).items()):
        console.print(f"  {t}: n={v['n']}  {v['reward_initial']:.3f} → {v['reward']:.3f}")
    for f in summary.get("failures", [])[:10]:
        console.print(f"  [red]failed[/] {f['id']}: {f['error']}")
    pred = Path(out_dir) / "predictions.jsonl"
    console.print(f"predictions: {pred}  (score them with: erm bench policy {pred} --refs REFERENCES)")
    console.print(f"viewer: {summary['viewer']} (or: erm view {out_dir})")
