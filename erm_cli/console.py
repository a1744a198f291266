"""Shared CLI output helpers: one rich console for people, plain JSON for scripts, one-line errors."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)


_json_written = False


def print_json(data: Any) -> None:
    """Write ``data`` as JSON on stdout (never mixed with rich markup)."""
    global _json_written
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
    from .judges.verdict import SCHEMA_VERSION

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

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=False, **kwargs)
