"""`erm bench` (not landed yet)."""

from __future__ import annotations

import typer

from ..errors import NotYetAvailable

app = typer.Typer(help="Not available yet in this build.", no_args_is_help=False)


@app.callback(invoke_without_command=True)
def _main() -> None:
    raise NotYetAvailable("'erm bench' has not landed yet in this build")
