"""Every verb's --help shows at least one example that runs verbatim on the shipped examples/, and this test
runs them all: each example line of each verb's help, typed into bash in a scratch folder that holds a link
to examples/ (outputs land there; the render cache is a scratch one too). Lines marked '# needs ...' name a
resource this machine does not have (a model server, a GPU, your own data) and are checked only for being
there; lines marked '# serves until Ctrl-C' are started, answered on loopback, then stopped with SIGINT."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _verbs() -> dict[str, list[str]]:
    """Each leaf command's path ('bench judge') and the example lines its --help prints."""
    import typer.main

    from erm_cli.app import app

    out: dict[str, list[str]] = {}

    def walk(cmd, path: list[str]) -> None:  # type: ignore[no-untyped-def]
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, path + [name])
            return
        out[" ".join(path)] = []

    walk(typer.main.get_command(app), [])
    for verb in out:
        helped = subprocess.run(check=False, args=[sys.executable, "-m", "erm_cli.app", *verb.split(), "--help"], capture_output=True,
                                text=True, timeout=120, cwd=REPO, env={**os.environ, "COLUMNS": "250"})
        assert helped.returncode == 0, helped.stderr
        text = helped.stdout
        assert "Examples:" in text, f"erm {verb} --help has no examples"
        section = text.split("Examples:", 1)[1].split("\nArguments:")[0].split("\nOptions:")[0]
        out[verb] = [line.strip() for line in section.splitlines() if line.strip().startswith("erm ")]
    return out


VERBS = _verbs()


def _runnable(line: str) -> bool:
    return "# needs" not in line


def _runs_by_default(line: str) -> bool:
    return _runnable(line) and "# slow:" not in line


def test_every_verb_has_an_example_that_runs_here() -> None:
    assert len(VERBS) >= 17  # render judge refine synth serve view models, bench x3, train x5, cache x2
    for verb, lines in VERBS.items():
        mine = [line for line in lines if line.startswith(f"erm {verb}")]
        assert any(_runs_by_default(line) for line in mine), f"erm {verb}: no example that runs on examples/"


def _scratch(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    work = tmp_path / "work"
    work.mkdir()
    (work / "examples").symlink_to(REPO / "examples")
    env = {**os.environ, "ERM_CACHE_DIR": str(tmp_path / "cache"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return work, env


def _serve_and_stop(line: str, work: Path, env: dict[str, str]) -> None:
    port = int(re.search(r"--port (\d+)", line).group(1))  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/" + ("health" if line.startswith("erm serve") else "")
    proc = subprocess.Popen(["bash", "-c", f"exec {line}"], cwd=work, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, f"{line}: nothing answered on {url}"
                time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_the_examples_of_each_verb_run_verbatim(verb: str, tmp_path: Path) -> None:
    work, env = _scratch(tmp_path)
    for line in VERBS[verb]:
        if not _runnable(line):
            continue
        if "# slow:" in line and not os.environ.get("ERM_SLOW_EXAMPLES"):
            continue  # run with ERM_SLOW_EXAMPLES=1 (the shipped verifier's full training)
        if "# serves until Ctrl-C" in line:
            _serve_and_stop(line, work, env)
            continue
        p = subprocess.run(check=False, args=["bash", "-c", line], cwd=work, env=env, capture_output=True, text=True, timeout=900,
                           stdin=subprocess.DEVNULL)
        assert p.returncode == 0, f"{line}\n{p.stderr[-2000:]}"
        assert "Traceback" not in p.stderr
