"""`erm synth`: synthetic (reference, candidate) pairs with gold error labels, by perturbing ground-truth code."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import InputError
from . import options as opt

TASKS = ("chart", "table", "svg", "all")


def synth(
    out: Path = opt.out_dir(
        "Output folder (data.jsonl, pairwise.jsonl, images/, manifest.json). Re-running with the same "
        "settings resumes.",
        default=...,
        file_okay=False,
    ),
    task: str = opt.task("chart, table, svg or all (N split evenly).", default="all"),
    n: int = typer.Option(
        100, "--n", "-n", min=1, max=10_000_000, help="Number of (reference, candidate) pairs."
    ),
    seed: int = typer.Option(0, "--seed", "-s", help="Random seed: the same seed gives the same data."),
    max_errors: int = typer.Option(
        3,
        "--max-errors",
        min=1,
        max=8,
        help="Most injected errors per candidate (each group holds a chain of 1..K).",
    ),
    source: Optional[Path] = typer.Option(
        None,
        "--source",
        help="Your own ground-truth code: a file or folder "
        "of .py (matplotlib/plotly), .svg, .html, .md files (edited by AST/parse).",
    ),
    fmt: List[str] = typer.Option(
        ["vcbench"],
        "--format",
        "-f",
        metavar="FORMAT",
        help="vcbench (always written), sft (judge "
        "SFT chat records), hf (load_dataset layout). Repeat for several.",
    ),
    icons: Optional[Path] = typer.Option(
        None,
        "--icons",
        help="Folder of SVG icons for SVG scenes (default: the 42 bundled Bootstrap/Feather/Lucide icons).",
        file_okay=False,
    ),
    dpi: int = typer.Option(
        100, "--dpi", min=30, max=600, help="matplotlib render dpi (smaller = smaller images)."
    ),
    svg_size: int = typer.Option(
        256, "--svg-size", min=32, max=4096, help="Pixel size of generated SVG icons."
    ),
    equivalent_rate: float = typer.Option(
        0.15,
        "--equivalent-rate",
        min=0.0,
        max=1.0,
        help="Chance per reference of each 'no error' pair (invisible code change; other dpi or size).",
    ),
    plotly_share: float = typer.Option(
        0.3, "--plotly-share", min=0.0, max=1.0, help="Share of plotly charts."
    ),
    markdown_share: float = typer.Option(
        0.35, "--markdown-share", min=0.0, max=1.0, help="Share of Markdown tables (the rest are HTML)."
    ),
    workers: Optional[int] = opt.workers("Concurrent renders (default: CPU count, 2..8)."),
    timeout: float = opt.timeout("Wall-clock limit per render (s); a reference past it fails its group.",
                                 default=60.0),
    profile: str = typer.Option("erm", "--profile", help="Render like erm (default) or like the released "
                                "Visual-ERM reward code (visual-erm: its matplotlib defaults, SVG at 336x336)."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Start again in an output folder made with other settings."
    ),
    as_json: bool = opt.as_json("Print the run statistics as JSON on stdout (with schema_version)."),
    ray_address: Optional[str] = typer.Option(None, "--ray", metavar="ADDRESS", help="Render on Ray "
                                              "('local', 'auto' or ray://HOST:PORT; docs/SCALING.md)."),
    quiet: bool = opt.quiet(),
    verbose: bool = opt.verbose(),
) -> None:
    """Generate labelled (reference, candidate) pairs: render ground truth and perturbed code, record the gold
    errors (category, severity, location, description), plus preference pairs and equivalent 'no error' pairs.

    Examples:

    \b
      erm synth --task chart -n 4 --dpi 50 --out-dir runs/synth
      erm synth --task all -n 6 --dpi 50 --svg-size 128 --format sft --out-dir runs/synth-sft
    """
    from ..console import console, err_console, print_json, progress
    from ..data.formats import FORMATS
    from ..data.synth import SynthConfig, run_synth, validate
    from ..distributed.ray_pool import optional_pool

    if task not in TASKS:
        raise InputError(f"unknown --task {task!r}; choose one of: {', '.join(TASKS)}")
    formats = []
    for f in fmt:
        for part in f.split(","):
            part = part.strip()
            if part not in FORMATS:
                raise InputError(f"unknown --format {part!r}; choose from: {', '.join(FORMATS)}")
            if part not in formats:
                formats.append(part)
    cfg = SynthConfig(
        out=out,
        task=task,
        n=n,
        seed=seed,
        max_errors=max_errors,
        source=source,
        icons=icons,
        dpi=dpi,
        svg_px=svg_size,
        plotly_share=plotly_share,
        markdown_share=markdown_share,
        equivalent_rate=equivalent_rate,
        workers=workers,
        timeout=timeout,
        profile=profile,
    )
    validate(cfg, formats)  # bad settings or sources fail before the progress bar appears
    bar = progress()
    bar_task = bar.add_task("synthesising pairs", total=n)
    with optional_pool(ray_address, workers) as executor, bar:
        stats = run_synth(
            cfg,
            overwrite=overwrite,
            formats=formats,
            on_record=lambda done, total: bar.update(bar_task, completed=done, total=total),
            executor=executor,
        )
    if as_json:
        print_json({"out": str(out), **stats.to_dict()})
        return
    console.print(
        f"[bold]{stats.records}[/bold] pairs in {out} "
        f"({', '.join(f'{t}: {c}' for t, c in stats.by_task.items())}); "
        f"{stats.pairs_per_minute:.0f} pairs/min, {stats.seconds:.0f} s"
    )
    kinds = ", ".join(f"{k}: {v}" for k, v in sorted(stats.by_pair_type.items()))
    console.print(f"pair types: {kinds}; no-op steps detected: {stats.noop_steps}")
    files = "data.jsonl, pairwise.jsonl, images/, manifest.json" + "".join(
        {"sft": ", sft.jsonl", "hf": ", hf/"}.get(f, "") for f in formats
    )
    console.print(f"files: {files}")
    if stats.failed_groups or stats.failed_candidates:
        err_console.print(
            f"{stats.failed_groups} reference(s) and {stats.failed_candidates} candidate(s) failed; "
            f"reasons in {out / 'failures.jsonl'}"
        )
