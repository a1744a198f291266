"""The same input gives a byte-identical PNG: twice in one process, and in a fresh process."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from erm_cli.renderers import render

EXAMPLES = ["chart.py", "icon.svg", "table.html", "table.md", "table.tex", "chart_plotly.py"]
BROWSER_KINDS = {"table.html", "table.md", "table.tex", "chart_plotly.py"}


def sha(png: bytes) -> str:
    return hashlib.sha256(png).hexdigest()


@pytest.mark.parametrize("name", EXAMPLES)
def test_twice_in_one_process(examples_dir: Path, name: str, has_chromium: bool) -> None:
    if name in BROWSER_KINDS and not has_chromium:
        pytest.skip("Chromium is not installed")
    code = (examples_dir / name).read_text()
    first = render(code, cache=False)
    second = render(code, cache=False)
    assert first.ok and second.ok, first.error or second.error
    assert first.png == second.png


def test_no_metadata_in_pngs(examples_dir: Path) -> None:
    import io

    from PIL import Image

    for name in ("chart.py", "icon.svg"):
        png = render((examples_dir / name).read_text(), cache=False).png
        info = Image.open(io.BytesIO(png)).info
        assert not {"Software", "Creation Time", "date:create", "Timestamp"} & set(info), info


def test_fresh_process_gives_the_same_bytes(examples_dir: Path, tmp_path: Path, has_chromium: bool) -> None:
    names = ["chart.py", "icon.svg"] + (["table.html"] if has_chromium else [])
    here = {n: sha(render((examples_dir / n).read_text(), cache=False).png) for n in names}
    program = ("import hashlib, json, sys\nfrom pathlib import Path\nfrom erm_cli.renderers import render\n"
               f"names = {names!r}\nbase = Path({str(examples_dir)!r})\n"
               "print(json.dumps({n: hashlib.sha256(render((base / n).read_text(), cache=False).png).hexdigest()"
               " for n in names}))\n")
    env = dict(os.environ, ERM_CACHE_DIR=str(tmp_path / "other-cache"), PYTHONHASHSEED="123")
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    there = json.loads(out.stdout.strip().splitlines()[-1])
    assert there == here
