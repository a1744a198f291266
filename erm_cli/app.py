"""The `erm` command line: a Typer root that registers one thin module per verb.

Importing this module must stay cheap (no torch, transformers, playwright or vllm): every command
imports the library it needs inside its own function body.
"""

from __future__ import annotations

import os
import sys
import typer

from . import __version__
from .commands import bench, cache, judge, refine, render, serve, synth, train
from .errors import EXIT_USAGE, ErmError

app = typer.Typer(
    name="erm",
    help="Visual-equivalence reward modelling for vision-to-code: render code safely, judge renders "
    "against a reference at a fine grain, refine with test-time compute, train and benchmark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
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
app.add_typer(bench.app, name="bench")
app.add_typer(train.app, name="train")
app.add_typer(cache.app, name="cache")


def _fail(message: str, code: int) -> None:
    sys.stdout.flush()
    sys.stderr.write(f"erm: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(code)


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
    try:
        app(args=argv, prog_name="erm")
    except ErmError as exc:
        if os.environ.get("ERM_DEBUG"):
            raise
        _fail(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__, exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        raise SystemExit(0)
    except Exception as exc:  # a bug: still one line, the traceback only with --debug
        if os.environ.get("ERM_DEBUG"):
            raise
        first = (str(exc).splitlines() or [""])[0]
        _fail(f"internal error: {exc.__class__.__name__}: {first} (rerun with --debug for the traceback)",
              EXIT_USAGE)


if __name__ == "__main__":
    main()
