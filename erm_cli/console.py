"""Shared CLI output helpers: one rich console for people, plain JSON for scripts, one-line errors."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    """Write ``data`` as JSON on stdout (never mixed with rich markup)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def progress(**kwargs: Any):  # type: ignore[no-untyped-def]
    """A rich progress bar on stderr (so ``--json`` on stdout stays valid); hidden when not a TTY is fine."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=False, **kwargs)
