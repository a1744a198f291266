"""erm's flag vocabulary, defined once: every verb builds its shared options here, so one flag means one
thing in every verb (``-o/--out`` is always a file, ``--out-dir`` always a folder, ``-k`` is only ``--kind``).

Each builder returns a ``typer.Option`` with the canonical spellings; a verb only passes its own help text
and default. :data:`VOCABULARY` is the table (docs/CLI.md and ``tests/test_cli_vocabulary.py`` read it).

Old spellings keep working for one release: :class:`VocabularyGroup` rewrites them before a command parses
its arguments (:data:`DEPRECATED`) and prints one ``deprecated`` line on stderr. They are not declared as
options, so ``--help`` does not show them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperGroup


@dataclass(frozen=True)
class Term:
    """One word of the vocabulary: its spellings, whether it takes a value, and what it means."""

    flags: tuple[str, ...]
    takes_value: bool
    meaning: str


#: The vocabulary. A verb that has one of these options spells it exactly so; no other option uses these
#: spellings (tests/test_cli_vocabulary.py walks every command's parameters).
VOCABULARY: dict[str, Term] = {
    "out": Term(("-o", "--out"), True, "output FILE (a PNG, a JSON file; '-' is stdout where it says so)"),
    "out_dir": Term(("--out-dir",), True, "output FOLDER (a batch's results, a run directory, a trained model)"),
    "workers": Term(("-w", "--workers"), True, "items processed in parallel"),
    "timeout": Term(("--timeout",), True, "seconds one item (one render, one request) may take"),
    "limit": Term(("--limit",), True, "only the first N items"),
    "judge": Term(("-j", "--judge"), True, "judge name: critic, vlm, or a baseline (ssim, mse, phash)"),
    "model": Term(("-m", "--model"), True, "model spec: hf:PATH, vllm:PATH, openai:URL#MODEL, tiny:FAMILY"),
    "kind": Term(("-k", "--kind"), True, "code language: matplotlib, plotly, svg, html, markdown, latex"),
    "task": Term(("-t", "--task"), True, "task: chart, table, svg (auto where allowed)"),
    "resume": Term(("--resume", "--no-resume"), False, "continue an interrupted run (default) or start over"),
    "retry_failed": Term(("--retry-failed",), False, "redo items (renders) that failed before"),
    "quiet": Term(("-q", "--quiet"), False, "no progress or notes on stderr (results and errors still print)"),
    "verbose": Term(("-v", "--verbose"), False, "more detail on stderr (erm's log lines at INFO)"),
    "json": Term(("--json",), False, "the result as JSON on stdout (with schema_version); errors too"),
    "batch": Term(("--batch",), True, "a JSONL FILE of items (refine: also a folder of images)"),
    "allowed_root": Term(("--allowed-root",), True, "a FOLDER paths in the input may point into (repeatable)"),
}

#: Old spellings, per command path: rewritten to the new one with a one-line warning, for one release.
#: ``--out`` -> ``--out-dir`` where the option was a folder; ``-k`` where it did not mean --kind.
DEPRECATED: dict[str, dict[str, str]] = {
    "render": {"--output": "--out"},  # render --batch --out DIR: see render() (--out is now the PNG file)
    "judge": {"--out": "--out-dir"},
    "refine": {"-o": "--out-dir", "--out": "--out-dir", "-k": "--samples", "-p": "--policy"},
    "synth": {"-o": "--out-dir", "--out": "--out-dir", "-k": "--max-errors"},
    "bench judge": {"--out": "--out-dir"},
    "bench policy": {"--out": "--out-dir"},
    "train reward": {"--out": "--out-dir"},
    "train policy": {"--out": "--out-dir"},
    "train export-verl": {"--out": "--out-dir"},
    "train critic": {"--out": "--out-dir"},
}

#: ``erm refine IMAGE --batch`` (a boolean before): now ``erm refine --batch FOLDER_OR_JSONL``. The old form
#: (``--batch`` last or followed by another option) is rewritten to this hidden flag.
REFINE_LEGACY_BATCH = "--batch-is-image"


def warn_deprecated(old: str, new: str, command: str) -> None:
    sys.stderr.write(f"erm: deprecated: {old} in 'erm {command}' is now {new} (the old spelling goes in the "
                     f"next release)\n")
    sys.stderr.flush()


def rewrite_deprecated(command: str, args: list[str]) -> list[str]:
    """``args`` of ``command`` (e.g. ``"bench judge"``) with old spellings replaced (one warning each).
    Handles ``--old VALUE``, ``--old=VALUE`` and ``-kVALUE``; stops at ``--``."""
    table = DEPRECATED.get(command, {})
    out: list[str] = []
    warned: set[str] = set()
    for i, arg in enumerate(args):
        if arg == "--":
            out.extend(args[i:])
            break
        new_arg = arg
        if command == "refine" and arg == "--batch" and (i + 1 == len(args) or args[i + 1].startswith("-")):
            new_arg, old, new = REFINE_LEGACY_BATCH, "IMAGE --batch", "--batch FOLDER_OR_JSONL"
        elif arg in table:
            old, new = arg, table[arg]
            new_arg = new
        elif arg.startswith("--") and "=" in arg and arg.split("=", 1)[0] in table:
            old, value = arg.split("=", 1)
            new = table[old]
            new_arg = f"{new}={value}"
        elif len(arg) > 2 and arg[0] == "-" and arg[1] != "-" and arg[:2] in table:
            old, new = arg[:2], table[arg[:2]]
            new_arg = f"{new}={arg[2:]}"
        else:
            out.append(arg)
            continue
        if old not in warned:
            warn_deprecated(old, new, command)
            warned.add(old)
        out.append(new_arg)
    return out


def command_path(ctx: Any, name: str) -> str:
    """``"bench judge"`` for the command ``name`` resolved in group context ``ctx`` (the root not counted)."""
    names = [name]
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name)
        ctx = ctx.parent
    return " ".join(reversed(names))


class VocabularyGroup(TyperGroup):
    """A command group that rewrites deprecated spellings before the chosen command parses its arguments."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, cmd, rest = super().resolve_command(ctx, args)
        if cmd is not None and name is not None:
            rest = rewrite_deprecated(command_path(ctx, name), list(rest))
        return name, cmd, rest


# ---------------------------------------------------------------------------------------------------------
# the options (each verb passes its own help text and default)
# ---------------------------------------------------------------------------------------------------------


def out_file(help: str, default: Any = None, **kw: Any) -> Any:
    """``-o/--out FILE``: where the result file goes."""
    kw.setdefault("dir_okay", False)
    return typer.Option(default, *VOCABULARY["out"].flags, help=help, **{"metavar": "FILE", **kw})


def out_dir(help: str, default: Any = None, **kw: Any) -> Any:
    """``--out-dir DIR``: the folder a batch, run or training writes into."""
    kw.setdefault("file_okay", False)
    return typer.Option(default, *VOCABULARY["out_dir"].flags, help=help, **{"metavar": "DIR", **kw})


def workers(help: str, default: Any = None, **kw: Any) -> Any:
    kw.setdefault("min", 1)
    kw.setdefault("max", 64)
    return typer.Option(default, *VOCABULARY["workers"].flags, help=help, **{"metavar": "N", **kw})


def timeout(help: str, default: Any = 30.0, **kw: Any) -> Any:
    kw.setdefault("min", 0.1)
    kw.setdefault("max", 3600)
    return typer.Option(default, *VOCABULARY["timeout"].flags, help=help, **{"metavar": "SECONDS", **kw})


def limit(help: str = "Only the first N items.", **kw: Any) -> Any:
    kw.setdefault("min", 1)
    return typer.Option(None, *VOCABULARY["limit"].flags, help=help, **{"metavar": "N", **kw})


def judge(help: str, default: Any = "critic", **kw: Any) -> Any:
    return typer.Option(default, *VOCABULARY["judge"].flags, help=help, **{"metavar": "NAME", **kw})


def model(help: str, default: Any = None, **kw: Any) -> Any:
    return typer.Option(default, *VOCABULARY["model"].flags, help=help, **{"metavar": "SPEC", **kw})


def kind(help: str, **kw: Any) -> Any:
    return typer.Option(None, *VOCABULARY["kind"].flags, help=help, **{"metavar": "KIND", **kw})


def task(help: str, default: Any = "auto", **kw: Any) -> Any:
    return typer.Option(default, *VOCABULARY["task"].flags, help=help, **{"metavar": "TASK", **kw})


def resume(help: str, default: Any = True, **kw: Any) -> Any:
    return typer.Option(default, "--resume/--no-resume", help=help, **kw)


def retry_failed(help: str, **kw: Any) -> Any:
    return typer.Option(False, *VOCABULARY["retry_failed"].flags, help=help, **kw)


def as_json(help: str = "Print the result as JSON on stdout (with schema_version; errors as a JSON "
            "object too).", **kw: Any) -> Any:
    return typer.Option(False, *VOCABULARY["json"].flags, help=help, **kw)


def batch(help: str, **kw: Any) -> Any:
    return typer.Option(None, *VOCABULARY["batch"].flags, help=help, **{"metavar": "FILE", **kw})


def allowed_root(help: str, **kw: Any) -> Any:
    """``--allowed-root DIR``, repeatable: folders that paths named in the input may resolve into."""
    kw.setdefault("file_okay", False)
    return typer.Option([], *VOCABULARY["allowed_root"].flags, help=help, **{"metavar": "DIR", **kw})


def _set_quiet(value: bool) -> bool:
    if value:
        from ..console import err_console, real

        real(err_console).quiet = True  # progress bars and notes on stderr; errors go through sys.stderr
    return value


def _set_verbose(value: bool) -> bool:
    if value:
        import logging
        import os

        os.environ["ERM_VERBOSE"] = "1"
        logger = logging.getLogger("erm_cli")
        logger.setLevel(logging.INFO)
        if not any(getattr(h, "_erm_verbose", False) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("erm: %(name)s: %(message)s"))
            handler._erm_verbose = True  # type: ignore[attr-defined]
            logger.addHandler(handler)
    return value


def quiet(help: str = "No progress bars or notes on stderr (results and errors still print).",
          **kw: Any) -> Any:
    return typer.Option(False, *VOCABULARY["quiet"].flags, help=help, callback=_set_quiet, **kw)


def verbose(help: str = "More detail on stderr (erm's log lines).", **kw: Any) -> Any:
    return typer.Option(False, *VOCABULARY["verbose"].flags, help=help, callback=_set_verbose, **kw)


def reset() -> None:
    """Undo -q/-v between two runs in one process (tests call ``main`` repeatedly)."""
    import logging
    import os

    console = sys.modules.get("erm_cli.console")
    if console is not None:  # the stderr console, if one was made (it is made on first use)
        err = console.err_console  # type: ignore[attr-defined]
        made = vars(err).get("_console", err)
        if made is not None:
            made.quiet = False
    os.environ.pop("ERM_VERBOSE", None)
    logging.getLogger("erm_cli").setLevel(logging.NOTSET)


# ---------------------------------------------------------------------------------------------------------
# docs/CLI.md (generated: python -m erm_cli.commands.options --write docs/CLI.md)
# ---------------------------------------------------------------------------------------------------------


def _leaf_commands() -> dict[str, Any]:
    from typer.main import get_command

    from ..app import app

    found: dict[str, Any] = {}

    def walk(group: Any, prefix: str) -> None:
        for name, cmd in sorted(group.commands.items()):
            path = f"{prefix} {name}".strip()
            if hasattr(cmd, "commands"):
                walk(cmd, path)
            elif not cmd.hidden:
                found[path] = cmd

    walk(get_command(app), "")
    return found


def cli_markdown() -> str:
    """docs/CLI.md: the vocabulary, which verbs use each word (read from the commands themselves), and the
    old spellings that still work."""
    commands = _leaf_commands()
    users: dict[str, list[str]] = {word: [] for word in VOCABULARY}
    for path, cmd in commands.items():
        names = set()
        for p in cmd.params:
            if not getattr(p, "hidden", False):
                names |= set(getattr(p, "opts", [])) | set(getattr(p, "secondary_opts", []))
        for word, term in VOCABULARY.items():
            if set(term.flags) <= names:
                users[word].append(path)
    lines = [
        "# erm's command line",
        "",
        "<!-- Generated by `python -m erm_cli.commands.options --write docs/CLI.md` from "
        "erm_cli/commands/options.py and the commands themselves; tests/test_cli_vocabulary.py fails when "
        "this file differs. Do not edit by hand. -->",
        "",
        "Every verb spells the same thing the same way: the options below are defined once, in "
        "`erm_cli/commands/options.py`, and each verb that has one of them uses it with this spelling and "
        "meaning (a test walks every command's parameters). No short flag has two meanings.",
        "",
        "Exit codes: **0** done, **1** below `--fail-under`, **2** usage or input error, **3** render failure, "
        "**4** model or backend failure. Errors are one line on stderr; under `--json` also a JSON error "
        "object on stdout. Every `--json` document and JSONL line carries `schema_version` "
        "([SCHEMAS.md](SCHEMAS.md)).",
        "",
        "## The vocabulary",
        "",
        "| flags | value | meaning | verbs |",
        "| --- | --- | --- | --- |",
    ]
    for word, term in VOCABULARY.items():
        flags = ", ".join(f"`{f}`" for f in term.flags)
        verbs = ", ".join(f"`{v}`" for v in users[word]) or "-"
        lines.append(f"| {flags} | {'yes' if term.takes_value else 'no (a switch)'} | {term.meaning} | {verbs} |")
    lines += [
        "",
        "## Old spellings",
        "",
        "These still work until the next release: erm rewrites them and prints one `erm: deprecated:` line "
        "on stderr. `--help` no longer shows them.",
        "",
        "| command | old | now |",
        "| --- | --- | --- |",
    ]
    for path, table in DEPRECATED.items():
        for old, new in table.items():
            lines.append(f"| `erm {path}` | `{old}` | `{new}` |")
    lines += [
        "| `erm render` | `--batch FILE --out DIR` | `--batch FILE --out-dir DIR` (`-o/--out` is the PNG of one "
        "render) |",
        "| `erm refine` | `IMAGE --batch` (a switch) | `--batch FOLDER_OR_JSONL` |",
    ]
    return "\n".join(lines) + "\n"


def _main(argv: list[str] | None = None) -> int:
    import argparse
    from pathlib import Path

    ap = argparse.ArgumentParser(prog="python -m erm_cli.commands.options",
                                 description="Write docs/CLI.md from erm's flag vocabulary.")
    ap.add_argument("--write", metavar="FILE")
    args = ap.parse_args(argv)
    text = cli_markdown()
    if args.write:
        Path(args.write).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
