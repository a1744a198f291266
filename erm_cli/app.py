"""The `erm` command line: a Typer root that registers one thin module per verb.

Importing this module must stay cheap (no torch, transformers, playwright or vllm): every command
imports the library it needs inside its own function body.
"""

from __future__ import annotations

import os
import sys

import typer
from typer._click import exceptions as click_errors  # typer 0.29 vendors click (pinned in pyproject.toml)
from typer.exceptions import Abort, TyperException

from . import __version__
from .commands import bench, cache, judge, models, refine, render, serve, synth, train, view
from .commands.options import VocabularyGroup
from .errors import EXIT_USAGE, ErmError

app = typer.Typer(
    name="erm",
    cls=VocabularyGroup,  # old flag spellings keep working for one release, with a warning (options.py)
    help="Visual-equivalence reward modelling for vision-to-code: render code safely, judge renders "
    "against a reference at a fine grain, refine with test-time compute, train and benchmark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help text; usage errors are one line (see main)
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"erm {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """erm: render, judge, refine, train and benchmark vision-to-code outputs."""
    if debug:
        os.environ["ERM_DEBUG"] = "1"


app.command("render")(render.render)
app.command("judge")(judge.judge)
app.command("refine")(refine.refine)
app.command("synth")(synth.synth)
app.command("serve")(serve.serve)
app.command("view")(view.view)
app.command("models")(models.models)
app.add_typer(bench.app, name="bench")
app.add_typer(train.app, name="train")
app.add_typer(cache.app, name="cache")


def _wants_json(argv: list[str] | None) -> bool:
    """True when the command line asks for ``--json`` (before any ``--``), even if it did not parse."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--" in args:
        args = args[:args.index("--")]
    return "--json" in args


def _fail(message: str, code: int, argv: list[str] | None = None) -> None:
    sys.stdout.flush()
    if _wants_json(argv):  # scripts read stdout: a JSON error object there unless a result was already written
        from .console import print_json_error

        print_json_error(code, message)
    sys.stderr.write(f"erm: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def _usage_message(exc: click_errors.UsageError) -> str:
    """click's usage error as one line: the message and where to look."""
    message = " ".join(exc.format_message().split())
    command = exc.ctx.command_path if exc.ctx is not None else "erm"
    return f"{message} (see {command} --help)"


def _interrupted() -> str:
    """Ctrl-C's one line: how far a batch got when one was running (its items are saved as they finish)."""
    console = sys.modules.get("erm_cli.console")
    return console.interrupted_message() if console is not None else "interrupted"


def _exit_on_sigterm() -> None:
    """SIGTERM ends erm like an error exit: exit handlers run and stop the sandbox pools and Chromium
    (their processes also die with erm through PR_SET_PDEATHSIG, even on SIGKILL). A server that
    installs its own handler (uvicorn) replaces this one."""
    import signal

    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors with documented exit codes, tracebacks only with --debug."""
    _exit_on_sigterm()
    console = sys.modules.get("erm_cli.console")
    if console is not None:  # main() called again in one process (tests): no JSON result written yet
        console._json_written = False  # type: ignore[attr-defined]
    from .commands.options import reset

    reset()  # -q / -v of an earlier call
    try:
        # standalone_mode=False: click hands its usage errors here instead of printing a multi-line box
        code = app(args=argv, prog_name="erm", standalone_mode=False)
        if code == 130:  # typer turns Ctrl-C into Exit(130): say how far the run got
            _fail(_interrupted(), 130, argv)
        if isinstance(code, int) and code:
            raise SystemExit(code)
    except click_errors.NoArgsIsHelpError as exc:  # `erm` or `erm bench` alone: the help, exit 2
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except click_errors.UsageError as exc:  # a wrong flag, a missing argument, a value out of range
        _fail(_usage_message(exc), EXIT_USAGE, argv)
    except Abort:
        _fail(_interrupted(), 130, argv)
    except TyperException as exc:
        _fail(" ".join(exc.format_message().split()), exc.exit_code, argv)
    except ErmError as exc:
        if os.environ.get("ERM_DEBUG"):
            raise
        _fail(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__, exc.exit_code, argv)
    except KeyboardInterrupt:
        _fail(_interrupted(), 130, argv)
    except BrokenPipeError:
        raise SystemExit(0)
    except Exception as exc:  # a bug: still one line, the traceback only with --debug
        if os.environ.get("ERM_DEBUG"):
            raise
        if isinstance(exc, OSError) and exc.filename is not None:  # the file system refused a path: the user's to fix
            _fail(f"{exc.filename}: {exc.strerror or exc.__class__.__name__}", EXIT_USAGE, argv)
        first = (str(exc).splitlines() or [""])[0]
        _fail(f"internal error: {exc.__class__.__name__}: {first} (rerun with --debug for the traceback)",
              EXIT_USAGE, argv)


if __name__ == "__main__":
    main()
