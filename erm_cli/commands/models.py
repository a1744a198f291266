"""`erm models`: the judges and model backends erm knows, and whether each is usable here."""

from __future__ import annotations

import typer


def models(
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """List judges (--judge) and model backends (--model SPEC), each with whether it can run on this machine
    and, if not, what to install. Nothing heavy is loaded: installed packages are looked up, not imported.

    Examples:

    \b
      erm models
      erm models --json
    """
    from ..console import console, print_json
    from ..models.available import catalog

    entries = catalog()
    if as_json:
        from ..judges.verdict import SCHEMA_VERSION

        print_json({"schema_version": SCHEMA_VERSION, "items": [e.to_dict() for e in entries]})
        return
    from rich.markup import escape
    from rich.table import Table

    for kind, title in (("judge", "judges (--judge NAME)"), ("backend", "model backends (--model SPEC)")):
        table = Table(title=title, title_justify="left")
        for col in ("name", "use", "usable here", "note"):
            table.add_column(col, overflow="fold")
        for e in entries:
            if e.kind == kind:
                table.add_row(e.name, escape(e.usage), "[green]yes[/]" if e.usable else "[red]no[/]", escape(e.note))
        console.print(table)
