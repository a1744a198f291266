"""`erm view RUN_DIR`: page through a run from its aggregate figures to single pairs (loopback server, or
a static index.html with --write)."""

from __future__ import annotations

from pathlib import Path

import typer


def view(
    run_dir: Path = typer.Argument(..., help="A run folder: erm judge --batch --out-dir, erm bench judge's run "
                                   "directory, or erm refine --out-dir.", show_default=False),
    write: bool = typer.Option(False, "--write", help="Write RUN_DIR/index.html (open it from the folder) "
                               "instead of serving."),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Loopback port to serve on (0: any free "
                             "port)."),
) -> None:
    """Browse a run: the aggregate figures, the pairs sorted by the worst false positives / negatives (or the
    lowest reward), and each pair's reference, candidate, diff picture, verdict and gold errors.

    Serves on 127.0.0.1 only; a pair's missing diff picture is drawn when first opened (kept in
    RUN_DIR/diffs). Every judge --batch, bench judge and refine run also writes RUN_DIR/index.html.

    Examples:

    \b
      erm refine examples/refine/sales_bar.png --init examples/refine/sales_bar_init.py --out-dir runs/r
      erm view runs/r --write
      erm view runs/r --port 8765   # serves until Ctrl-C
    """
    from ..console import console
    from ..view import load_document

    doc = load_document(run_dir)
    if write:
        from ..view.html import write_index

        path = write_index(run_dir, doc)
        console.print(f"viewer written: {path} ({len(doc['pairs'])} pairs)")
        return
    from ..errors import InputError
    from ..view.server import ViewServer

    try:
        server = ViewServer(doc, run_dir, port=port)
    except OSError as exc:
        raise InputError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc} (try --port 0)") from None
    print(f"serving {run_dir} ({len(doc['pairs'])} pairs) at {server.url}  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.httpd.server_close()
