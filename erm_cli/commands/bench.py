"""`erm bench judge|policy|speed`: judge metrics on VC-RewardBench-format data, vision-to-code task
metrics for generated code, and speed figures. Thin: options in, library call, table or JSON out."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import options as opt
from .options import VocabularyGroup

app = typer.Typer(
    cls=VocabularyGroup,
    help="Benchmarks: judge metrics (VC-RewardBench), policy metrics (ChartMimic-style, TEDS, SVG), speed.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

DEFAULT_ROOT = Path("bench-runs")


def _progress_callback(bar):  # type: ignore[no-untyped-def]
    tasks: dict[str, int] = {}

    def update(name: str, done: int, total: int) -> None:
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=total)
        bar.update(tasks[name], completed=done, total=total)

    return update


def _safe_name(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "run"


@app.command("judge")
def judge(
    data: Path = typer.Argument(..., help="VC-RewardBench-format JSONL (paths relative to it)."),
    judge_name: str = opt.judge("critic (weight-free), vlm (needs --model) or a baseline (ssim, mse, phash)."),
    model: Optional[str] = opt.model("Model spec for --judge vlm: hf:PATH, vllm:PATH, openai:URL#MODEL, "
                                     "tiny:qwen3-vl."),
    out: Optional[Path] = opt.out_dir(
        "Run directory (default: bench-runs/FOLDER-DATA/JUDGE). "
        "Sibling run directories on the same data share one leaderboard.",
    ),
    matcher: Optional[str] = typer.Option(
        None,
        "--matcher",
        help="Also match errors with this LLM (model spec; "
        "the benchmark used GPT-5-mini). The offline matcher always runs.",
    ),
    baselines: str = typer.Option(
        "ssim,mse,phash",
        "--baselines",
        help="Comma-separated baselines judged on the same items ('' for none).",
    ),
    pairwise: Optional[Path] = typer.Option(
        None, "--pairwise", help="Pairwise JSONL (default: pairwise.jsonl beside DATA, when present)."
    ),
    workers: int = opt.workers("Items judged in parallel.", default=2),
    limit: Optional[int] = opt.limit(),
    timeout: float = opt.timeout("Wall-clock limit per code candidate's render (s)."),
    resume: bool = opt.resume("Skip items already in the run directory, or start over."),
    as_json: bool = opt.as_json("Print metrics.json (with schema_version) instead of a table."),
    allowed_root: list[Path] = opt.allowed_root(
        "Also allow paths in the data under this folder (repeatable; by default only the data file's folder)."
    ),
    prompt_file: Optional[Path] = typer.Option(
        None, "--prompt-file", help="--judge vlm: judge prompts (e.g. the released VC-RewardBench prompts: "
        "python -m erm_cli.judges.prompts CHECKOUT --bench)."
    ),
    protocol: str = typer.Option(
        "erm", "--protocol", help="erm, or visual-erm: the request and the counting of the released "
        "VC-RewardBench scripts (system message, text then the two images, unresized; their gold filter, "
        "severity sums and matcher rules, docs/MODELS.md; needs --judge vlm and --prompt-file)."
    ),
    release_dir: Optional[Path] = typer.Option(
        None, "--release-dir", metavar="DIR", file_okay=False, help="--protocol visual-erm: a local clone of "
        "InternLM/Visual-ERM; the --matcher LLM gets the released matcher prompt read from it (else erm's, "
        "with a note)."
    ),
    quiet: bool = opt.quiet(),
    verbose: bool = opt.verbose(),
    ray_address: Optional[str] = typer.Option(None, "--ray", metavar="ADDRESS", help="Run the items on Ray "
                                              "('local', 'auto', HOST:PORT or ray://HOST:PORT; docs/SCALING.md)."),
    diff_image: Optional[Path] = typer.Option(None, "--diff-image", metavar="DIR", file_okay=False,
                                              help="Write one diff picture per pair into DIR (<id>.png)."),
) -> None:
    """Score a judge on VC-RewardBench-format data: F1_hard / F1_soft / Sc, AUROC, pairwise accuracy, baselines on the same items, a Markdown report with plots.

    Examples:

    \b
      erm bench judge examples/bench-mini/data.jsonl --limit 6 --baselines ssim --out-dir runs/bench
      erm view runs/bench --write
    """
    from ..bench.judge_bench import BASELINES, JudgeBenchConfig, judge_label, run_judge_bench
    from ..console import console, err_console, print_json, progress
    from ..errors import InputError

    if judge_name not in ("critic", "vlm", *BASELINES):
        raise InputError(
            f"--judge must be critic, vlm or a baseline ({', '.join(BASELINES)}), not {judge_name!r}"
        )
    if prompt_file is not None and judge_name != "vlm":
        raise InputError("--prompt-file goes with --judge vlm")
    if protocol not in ("erm", "visual-erm"):
        raise InputError(f"--protocol must be erm or visual-erm, not {protocol!r}")
    if protocol == "visual-erm" and (judge_name != "vlm" or prompt_file is None):
        raise InputError("--protocol visual-erm needs --judge vlm and --prompt-file (the released bench prompts)")
    if release_dir is not None and protocol != "visual-erm":
        raise InputError("--release-dir goes with --protocol visual-erm")
    judge_options: dict = {"prompt_file": str(prompt_file)} if prompt_file is not None else {}
    if protocol == "visual-erm":
        judge_options["request_layout"] = "visual-erm-bench"
    chosen = tuple(b.strip() for b in baselines.split(",") if b.strip())
    bad = [b for b in chosen if b not in BASELINES]
    if bad:
        raise InputError(f"unknown baseline {bad[0]!r}; choose from {', '.join(BASELINES)}")
    run_dir = out or DEFAULT_ROOT / _safe_name(f"{data.parent.name}-{data.stem}") / _safe_name(
        judge_label(judge_name, model)
    )
    cfg = JudgeBenchConfig(
        data=data,
        out_dir=run_dir,
        judge=judge_name,
        model=model,
        judge_options=judge_options,
        baselines=chosen,
        matcher_model=matcher,
        pairwise=pairwise,
        workers=workers,
        resume=resume,
        limit=limit,
        allowed_root=tuple(allowed_root),
        timeout=timeout,
        release_dir=release_dir,
    )
    from ..distributed.ray_pool import optional_pool

    with optional_pool(ray_address, workers) as executor, progress() as bar:
        metrics = run_judge_bench(cfg, progress=_progress_callback(bar), executor=executor,
                                  notify=lambda note: err_console.print(f"note: {note}", markup=False))
    from ..view.build import write_bench_view

    viewer, diffs = write_bench_view(run_dir, data, metrics, allowed_root, limit, diff_image)
    metrics["viewer"] = str(viewer)
    if diffs is not None:
        metrics["diff_images"] = diffs
    if as_json:
        print_json(metrics)
        return
    from rich.table import Table

    from ..bench.report import leaderboard_rows

    from rich import box

    table = Table(
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
        pad_edge=False,
        title=f"erm bench judge — {metrics['data']['name']} ({metrics['data']['items']} items)",
        caption="in %: F1h / F1s / Sc (severity Pearson), Sc(r) (1 - reward vs gold "
        "severity), AUROC (error-free vs not), pairs (pairwise accuracy)",
    )
    for col in ("judge", "matcher", "task", "F1h", "F1s", "Sc", "Sc(r)", "AUROC", "pairs", "fail"):
        text_col = col in ("judge", "matcher", "task")
        table.add_column(
            col,
            justify="left" if text_col else "right",
            no_wrap=True,
            min_width=None if text_col else max(5, len(col)),
        )
    fmt = lambda v: "–" if v is None else f"{v:.1f}"  # noqa: E731
    for r in leaderboard_rows([metrics]):
        tasks = [t for t in ("chart", "table", "svg", "overall") if r.get(t)] or ["overall"]
        for k, t in enumerate(tasks):
            c = r.get(t) or {}
            last = k == len(tasks) - 1
            table.add_row(
                r["judge"] if k == 0 else "",
                r["matcher"] if k == 0 else "",
                "all" if t == "overall" else t,
                fmt(c.get("f1_hard")),
                fmt(c.get("f1_soft")),
                fmt(c.get("sc")),
                fmt(r.get("sc_reward")) if last else "",
                fmt(r.get("auroc")) if last else "",
                fmt(r.get("pairwise")) if last else "",
                str(r.get("failed", 0)) if last else "",
            )
        table.add_section()
    console.print(table)
    console.print(f"report: {metrics['report']}")
    console.print(f"viewer: {metrics['viewer']} (or: erm view {run_dir})")
    if diffs is not None:
        console.print(f"diff images: {diffs['written']} in {diffs['folder']}")
    err_console.print(f"[dim]predictions, metrics.json and plots in {run_dir}[/dim]")


@app.command("policy")
def policy(
    predictions: Path = typer.Argument(
        ..., help="Generated code: a JSONL (id + code/response/code_path) or a directory of <id>.<ext> files."
    ),
    refs: Path = typer.Option(
        ...,
        "--refs",
        help="References: a JSONL (id, gt_code / gt_img_path / task) or a "
        "directory of <id>.<ext> code files and <id>.png images.",
    ),
    out: Optional[Path] = opt.out_dir("Output directory (default: bench-runs/policy-NAME)."),
    judge_name: str = opt.judge("Reward judge: critic, vlm (with --model) or none."),
    model: Optional[str] = opt.model("Model spec for --judge vlm."),
    workers: int = opt.workers("Items evaluated in parallel.", default=2),
    limit: Optional[int] = opt.limit(),
    timeout: float = opt.timeout("Per-render and per-trace time limit (s).", min=1.0),
    strict: bool = typer.Option(False, "--strict", help="No effect (every render runs in the jail)."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Render predictions like erm (default) or like "
                                          "the released Visual-ERM reward code (visual-erm; the default when "
                                          "--model is the released Visual-ERM judge)."),
    dino: Optional[Path] = typer.Option(
        None, "--dino", help="Local DINO-style model directory for SVG DINO score."
    ),
    clip: Optional[Path] = typer.Option(
        None, "--clip", help="Local CLIP model directory for SVG CLIP score."
    ),
    resume: bool = opt.resume("Skip items already in results.jsonl, or start over."),
    as_json: bool = opt.as_json("Print metrics.json (with schema_version) instead of a table."),
    allowed_root: list[Path] = opt.allowed_root(
        "Also allow paths in the JSONL files under this folder (repeatable; by default only each file's own folder)."
    ),
    quiet: bool = opt.quiet(),
    verbose: bool = opt.verbose(),
    ray_address: Optional[str] = typer.Option(None, "--ray", metavar="ADDRESS", help="Run the items on Ray "
                                              "('local', 'auto', HOST:PORT or ray://HOST:PORT; docs/SCALING.md)."),
) -> None:
    """Vision-to-code metrics: render rate, ChartMimic-style chart F1s, TEDS / TEDS-S, SVG MSE / SSIM, and the judge's reward.

    Examples:

    \b
      erm bench policy examples/refine --refs examples/refine --out-dir runs/policy
    """
    from ..bench.policy import run_policy_bench
    from ..bench.svg_metrics import EmbeddingScorer
    from ..console import console, print_json, progress
    from ..errors import InputError

    from ..judges.vlm import default_profile
    from ..renderers.profiles import check_profile

    profile = check_profile(profile or (default_profile(model) if judge_name == "vlm" else None) or "erm")
    judge_obj = None
    if judge_name != "none":
        if judge_name not in ("critic", "vlm"):
            raise InputError(f"--judge must be critic, vlm or none, not {judge_name!r}")
        from ..judges import get_judge

        judge_obj = get_judge(judge_name, **({"model": model} if model else {}))
    embedders = tuple(EmbeddingScorer(p, n) for p, n in ((dino, "dino"), (clip, "clip")) if p is not None)
    run_dir = out or DEFAULT_ROOT / f"policy-{_safe_name(predictions.stem)}"
    from functools import partial

    from ..distributed.ray_pool import optional_pool

    factory = partial(get_judge, judge_name, **({"model": model} if model else {})) if judge_obj else None
    with optional_pool(ray_address, workers) as executor, progress() as bar:
        update = _progress_callback(bar)
        summary = run_policy_bench(
            predictions,
            refs,
            run_dir,
            judge=judge_obj,
            workers=workers,
            timeout=timeout,
            strict=strict,
            embedders=embedders,
            resume=resume,
            on_progress=lambda d, t: update("policy items", d, t),
            allowed_root=allowed_root,
            executor=executor,
            judge_factory=factory,
            profile=profile,
            limit=limit,
        )
    if as_json:
        print_json(summary)
        return
    from rich.table import Table

    table = Table(title=f"erm bench policy — {summary['items']} items")
    table.add_column("task")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for task_name, t in summary["tasks"].items():
        for k, v in t.items():
            if isinstance(v, (dict, list)):
                continue
            table.add_row(
                task_name, k, "–" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
            )
    console.print(table)
    console.print(f"report: {summary['report']}")


@app.command("speed")
def speed(
    sections: str = typer.Option(
        "startup,render,critic,judge", "--sections", help="Comma-separated: startup, render, critic, judge, "
        "rewards (rewards/s through each RL adapter at 1 and 2 workers, --items rollouts each; not in the default)."
    ),
    judge_name: str = opt.judge("Judge for the judge-throughput section."),
    model: Optional[str] = opt.model("Model spec for --judge vlm."),
    items: int = typer.Option(12, "--items", min=1, help="Pairs judged in the judge section; rollouts per adapter "
                              "and worker count in the rewards section (256 for the RL figure)."),
    quick: bool = typer.Option(False, "--quick", help="Fewer repetitions."),
    out: Path = opt.out_file("Where to write the JSON.", default=DEFAULT_ROOT / "speed.json", dir_okay=False),
    as_json: bool = opt.as_json("Print the JSON (with schema_version) instead of a table."),
    ray_address: Optional[str] = typer.Option(None, "--ray", metavar="ADDRESS", help="Also time critic "
                                              "pairs/s locally vs Ray with 1 and 2 workers, and Ray's per-item "
                                              "overhead ('local' or a cluster address; docs/SCALING.md)."),
    quiet: bool = opt.quiet(),
    verbose: bool = opt.verbose(),
) -> None:
    """Render throughput (cold / warm / cache per language), critic latency split, judge throughput, erm --help start-up time.

    Examples:

    \b
      erm bench speed --sections startup,judge --quick --items 3 --out runs/speed.json
    """
    from ..bench.speed import SECTIONS, run_speed, write_speed
    from ..console import console, print_json
    from ..errors import InputError

    chosen = tuple(s.strip() for s in sections.split(",") if s.strip())
    bad = [s for s in chosen if s not in SECTIONS]
    if bad or not chosen:
        raise InputError(f"--sections takes {', '.join(SECTIONS)}; got {sections!r}")
    doc = run_speed(chosen, judge=judge_name, model=model, quick=quick, items=items, ray_address=ray_address)
    path = write_speed(doc, out)
    if as_json:
        print_json(doc)
        return
    from rich.table import Table

    from ..bench.speed_summary import summary_rows

    table = Table(title="erm bench speed: headline figures", title_justify="left")
    for col in ("section", "figure", "value"):
        table.add_column(col)
    last = None
    for section, figure, value in summary_rows(doc):
        table.add_row(section if section != last else "", figure, value)
        last = section
    console.print(table)
    console.print(f"all figures: {path} (or print them with --json)")
