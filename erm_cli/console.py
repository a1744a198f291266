"""Shared CLI output helpers: one rich console for people, plain JSON for scripts, one-line errors."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

#: Width for output that goes to a pipe or a file: lines are not wrapped at 80 columns (a table is as wide
#: as its content, up to this).
PIPE_WIDTH = 400


def make_console(stderr: bool = False) -> Console:
    """A rich console for stdout or stderr: the terminal's width on a terminal; no wrapping at 80 columns
    when piped (``COLUMNS`` still wins when set)."""
    import os

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    width = None if tty or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(stderr=stderr, highlight=False, width=width, soft_wrap=not tty)


class _LazyConsole:
    """Stands for a rich ``Console`` made on first use, so that importing this module (every command does)
    does not import rich (``erm --help`` stays fast)."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def get(self) -> Console:
        if self._console is None:
            self._console = make_console(self._stderr)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)

    def __enter__(self) -> Any:
        return self.get().__enter__()

    def __exit__(self, *exc: object) -> Any:
        return self.get().__exit__(*exc)


console: Console = _LazyConsole(stderr=False)  # type: ignore[assignment]
err_console: Console = _LazyConsole(stderr=True)  # type: ignore[assignment]


def real(c: Any) -> Console:
    """The rich ``Console`` behind ``console`` / ``err_console`` (for APIs that want the object itself)."""
    return c.get() if isinstance(c, _LazyConsole) else c


_json_written = False


def print_json(data: Any) -> None:
    """Write ``data`` as JSON on stdout (never mixed with rich markup); an object gets ``schema_version``
    (erm_cli/schemas.py, docs/SCHEMAS.md)."""
    from .schemas import stamp

    global _json_written
    data = stamp(dict(data)) if isinstance(data, dict) else data
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
    _json_written = True


def print_json_error(code: int, message: str) -> None:
    """Under ``--json``, an error as a JSON object on stdout: ``{"schema_version", "error": {"code",
    "message"}}``. Nothing when the command already wrote its JSON result (e.g. a verdict below
    ``--fail-under``, or one whose candidate did not render: the result is the document, the exit code says
    the rest)."""
    if _json_written:
        return
    from .schemas import SCHEMA_VERSION

    print_json({"schema_version": SCHEMA_VERSION, "error": {"code": int(code), "message": message}})


def progress(**kwargs: Any):  # type: ignore[no-untyped-def]
    """A rich progress bar on stderr (so ``--json`` on stdout stays valid); hidden when not a TTY is fine."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    global _last_progress
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=real(err_console), transient=False, **kwargs)
    _last_progress = bar
    return bar


_last_progress: Any = None


def interrupted_message() -> str:
    """What Ctrl-C says: how far the running batch got (``interrupted: N of M saved, re-run to resume``,
    from its progress bar: batches save each item as it finishes), or just ``interrupted``."""
    bar = _last_progress
    if bar is None:
        return "interrupted"
    try:
        tasks = [t for t in bar.tasks if t.total]
    except Exception:  # noqa: BLE001 - a message must come out whatever state the bar is in
        return "interrupted"
    if not tasks:
        return "interrupted"
    task = next((t for t in tasks if not t.finished), tasks[-1])
    what = f" ({task.description})" if len(tasks) > 1 and task.description else ""
    return f"interrupted: {int(task.completed)} of {int(task.total or 0)} saved{what}, re-run to resume"
