"""`erm cache info|clear`: show or empty the render cache."""

from __future__ import annotations

import typer

from ..errors import InputError
from . import options as opt
from .options import VocabularyGroup

app = typer.Typer(cls=VocabularyGroup, no_args_is_help=True,
                  help="Show or clear erm's render cache (content-addressed, size-limited, LRU).")


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


@app.command("info")
def info(as_json: bool = opt.as_json(), quiet: bool = opt.quiet(), verbose: bool = opt.verbose()) -> None:
    """Where the render cache lives, how many entries (and failures) it holds, its size and limit.

    Examples:

    \b
      erm cache info
      erm cache info --json
    """
    from ..console import console, print_json
    from ..renderers.cache import get_cache

    data = get_cache().info()
    if as_json:
        print_json(data)
        return
    kinds = ", ".join(f"{k} {v}" for k, v in data["by_kind"].items()) or "none"
    console.print(f"render cache: {data['directory']}")
    console.print(f"  entries: {data['entries']} ({data['failures']} cached failures); by kind: {kinds}")
    console.print(f"  size: {_human(data['size_bytes'])} of {_human(data['size_limit_bytes'])} "
                  "(least-recently-used eviction; ERM_RENDER_CACHE_MB sets the limit)")


@app.command("clear")
def clear(
    failed: bool = typer.Option(False, "--failed", help="Only remove cached failures."),
    kind: str | None = opt.kind("Only remove entries of this kind."),
    as_json: bool = opt.as_json(),
    yes: bool = typer.Option(False, "--yes", "-y", help="Remove everything without asking."),
    quiet: bool = opt.quiet(),
    verbose: bool = opt.verbose(),
) -> None:
    """Remove cached renders (all, only failures, or one kind). Removing everything asks first unless --yes
    (with no terminal to ask on, it refuses).

    Examples:

    \b
      erm cache clear --failed
      erm cache clear --kind svg --json
      erm cache clear --yes
    """
    import sys

    from ..console import console, print_json
    from ..renderers import KINDS
    from ..renderers.cache import get_cache

    if kind is not None and kind not in KINDS:
        raise InputError(f"unknown --kind {kind!r}; choose one of: {', '.join(KINDS)}")
    cache = get_cache()
    if not (failed or kind or yes):
        if not sys.stdin.isatty():
            raise InputError("erm cache clear removes every cached render: pass --yes (or --failed / --kind "
                             "to remove less)")
        if not typer.confirm(f"Remove all {cache.info()['entries']} cached renders in {cache.directory}?"):
            console.print("nothing removed")
            return
    removed = cache.clear(failures_only=failed, kind=kind)
    if as_json:
        print_json({"removed": removed})
    else:
        console.print(f"removed {removed} cached render{'s' if removed != 1 else ''}")
