"""`erm render`: code (or a model answer) -> PNG, sandboxed and cached; or a resumable batch."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..errors import InputError, RenderFailure
from . import options as opt

ALLOWED_ROOT_HELP = ("--batch: also allow paths in the JSONL under this folder (repeatable; by default only "
                     "the JSONL's own folder).")
KIND_HELP = "Language: matplotlib, plotly, svg, html, markdown, latex (default: from the extension and content)."


def render(
    code: str | None = typer.Argument(None, help="Code file or model answer (fenced blocks are extracted); "
                                         "'-' reads stdin.", show_default=False),
    output: str | None = opt.out_file("PNG path; '-' writes the PNG to stdout. Default: NAME.KIND.png in "
                                       "the current folder (x.tex -> ./x.latex.png)."),
    kind: str | None = opt.kind(KIND_HELP),
    as_json: bool = opt.as_json(),
    batch: Path | None = opt.batch("JSONL of items: id + path (relative to the file) or code, optional kind.",
                                   dir_okay=False),
    out: Path | None = opt.out_dir("Output folder for --batch (PNGs + results.jsonl).", file_okay=False),
    workers: int | None = opt.workers("Concurrent renders for --batch (default: CPU count, 2..8)."),
    limit: int | None = opt.limit("--batch: only the first N items."),
    width: int | None = typer.Option(None, "--width", min=1, max=16384,
                                        help="Output width for SVG; viewport width for plotly (default 800)."),
    height: int | None = typer.Option(None, "--height", min=1, max=16384,
                                         help="Output height for SVG; viewport height for plotly (default 600)."),
    dpi: int = typer.Option(100, "--dpi", min=10, max=1200, help="matplotlib dpi."),
    timeout: float = opt.timeout("Wall-clock limit per render (s)."),
    mem_mb: int = typer.Option(1536, "--mem-mb", min=64, max=65536, help="Memory limit per render (MB)."),
    strict: bool = typer.Option(False, "--strict", help="Accepted for compatibility; no effect: every render "
                                "runs in the bubblewrap jail (docs/SANDBOX.md)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the render cache."),
    refresh: bool = typer.Option(False, "--refresh", help="Re-render and overwrite cached results."),
    retry_failed: bool = opt.retry_failed("Re-run renders whose failure was cached (and, with --batch, items "
                                          "that failed before)."),
    allowed_root: list[Path] = opt.allowed_root(ALLOWED_ROOT_HELP),
    profile: str = typer.Option("erm", "--profile", help="erm, or visual-erm: render like the released "
                                "Visual-ERM reward code (matplotlib defaults, SVG at 336x336)."),
    ray_address: str | None = typer.Option(None, "--ray", metavar="ADDRESS", help="--batch: "
                                           "render on Ray ('local', 'auto' or ray://HOST:PORT; docs/SCALING.md)."),
    quiet: bool = opt.quiet(),
    verbose: bool = opt.verbose(),
) -> None:
    """Render CODE to a PNG, or many items with --batch (progress on stderr, resumable after a kill).

    Examples:

    \b
      erm render examples/table.md
      erm render examples/chart.py -o chart.png --json
      erm render examples/icon.svg -o - --width 64 > icon.png
    """
    from ..renderers import KINDS, RenderOptions

    if kind is not None and kind not in KINDS:
        raise InputError(f"unknown --kind {kind!r}; choose one of: {', '.join(KINDS)}")
    if sum([no_cache, refresh, retry_failed and batch is None]) > 1:
        raise InputError("choose one of --no-cache, --refresh, --retry-failed")
    cache_mode = False if no_cache else "refresh" if refresh else "retry-failed" if retry_failed else True
    from ..renderers.profiles import check_profile

    options = RenderOptions(width=width, height=height, dpi=dpi, timeout=timeout, mem_mb=mem_mb, strict=strict,
                            profile=check_profile(profile))
    if batch is not None:
        if code is not None:
            raise InputError("give either CODE or --batch, not both")
        if out is None and output is not None:  # the old spelling: --out DIR with --batch
            opt.warn_deprecated("--out DIR with --batch", "--out-dir DIR", "render")
            out, output = Path(output), None
        if output is not None:
            raise InputError("-o/--out is the PNG of one render; with --batch give --out-dir DIR")
        if out is None:
            raise InputError("--batch needs --out-dir DIR")
        _render_batch(batch, out, options, workers, cache_mode, retry_failed, as_json, allowed_root, ray_address,
                      limit)
        return
    if ray_address is not None:
        raise InputError("--ray goes with --batch")
    if out is not None or limit is not None:
        raise InputError("--out-dir and --limit go with --batch (one render: -o/--out FILE)")
    if code is None:
        raise InputError("missing CODE (a code file, or '-' for stdin); see erm render --help")
    _render_one(code, output, kind, options, cache_mode, as_json)


def _read_input(code: str) -> tuple[str, str | None]:
    if code == "-":
        from ..inputs import read_stdin_capped

        data = read_stdin_capped("code on stdin")
        if not data.strip():
            raise InputError("empty code on stdin")
        return data.decode("utf-8", errors="replace"), None
    from ..judges.pipeline import read_code

    return read_code(code), code


def _render_one(code: str, output: str | None, kind: str | None, options, cache_mode, as_json: bool) -> None:
    from ..console import console, print_json
    from ..renderers import detect_kind, render
    from ..renderers.detect import KIND_OF_EXTENSION, PYTHON_EXTENSIONS

    text, filename = _read_input(code)
    if kind is None and filename is not None:
        suffix = Path(filename).suffix.lower()
        if suffix in KIND_OF_EXTENSION or suffix in PYTHON_EXTENSIONS:
            kind = detect_kind(text, filename)
    if output is None and filename is None:
        raise InputError("reading stdin: pass -o OUT.png (or -o - for stdout)")
    if output == "-" and as_json:
        raise InputError("--json and -o - both use stdout; write the PNG to a file")
    result = render(text, kind=kind, options=options, cache=cache_mode)
    if output is None:  # the current folder, the kind in the name: x.md and x.html do not overwrite each other
        output = f"{Path(filename).stem}.{result.kind}.png"  # type: ignore[arg-type]
    if result.ok and result.png is not None:
        if output == "-":
            sys.stdout.buffer.write(result.png)
            sys.stdout.buffer.flush()
        else:
            out_path = Path(output)
            if out_path.parent and not out_path.parent.exists():
                raise InputError(f"output folder does not exist: {out_path.parent}")
            out_path.write_bytes(result.png)
    info = result.to_dict()
    info["output"] = None if (output == "-" or not result.ok) else output
    if result.ok and result.png is not None:
        import io

        from PIL import Image

        info["width"], info["height"] = Image.open(io.BytesIO(result.png)).size
    if as_json:
        print_json(info)
    elif output != "-" and result.ok:
        console.print(f"[green]rendered[/green] {filename or 'stdin'} ({result.kind}) -> {output}  "
                      f"{info['width']}x{info['height']}  {result.seconds:.2f} s")
        if result.cache_hit:
            console.print("from the render cache: this code was rendered before with the same options "
                          "(--refresh renders it again)")
    if not result.ok:
        raise RenderFailure(f"render failed ({result.kind}): {result.error}")


def _render_batch(batch: Path, out: Path, options, workers, cache_mode, retry_failed: bool, as_json: bool,
                  allowed_root: list[Path], ray_address: str | None = None, limit: int | None = None) -> None:
    from ..console import console, err_console, print_json, progress
    from ..distributed.ray_pool import optional_pool
    from ..renderers.batch import render_batch

    bar = progress(disable=not sys.stderr.isatty())
    task = None

    def on_progress(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            task = bar.add_task("rendering", total=total, completed=done)
        else:
            bar.update(task, completed=done)

    with optional_pool(ray_address, workers) as executor, bar:
        summary = render_batch(batch, out, options=options, workers=workers,
                               cache=True if cache_mode == "retry-failed" else cache_mode,
                               retry_failed=retry_failed, on_progress=on_progress, allowed_root=allowed_root,
                               executor=executor, limit=limit)
    if as_json:
        print_json(summary.to_dict())
        return
    console.print(f"{summary.total} items: {summary.ok} rendered ok, {summary.failed} failed, "
                  f"{summary.skipped} already done, {summary.cache_hits} from the cache  "
                  f"({summary.seconds:.1f} s) -> {summary.results}")
    for failure in summary.failures[:10]:
        err_console.print(f"  [red]failed[/red] {failure['id']}: {failure['error']}")
    if len(summary.failures) > 10:
        err_console.print(f"  ... and {len(summary.failures) - 10} more (see {summary.results})")
