"""`erm refine` on the command line: JSON output, exit codes, batch mode."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from test_refine_loop import tools as ready  # noqa: F401  (the same skip rules)

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "refine"


def _erm(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "erm_cli.app", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=600)


def test_refine_json_and_outputs(ready, tmp_path):
    out = tmp_path / "out"
    p = _erm("refine", str(EXAMPLES / "sales_bar.png"), "--init", str(EXAMPLES / "sales_bar_init.py"),
             "--rounds", "2", "--out-dir", str(out), "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["task"] == "chart" and d["best"]["reward"] > d["initial"]["reward"]
    for role in ("code", "render", "trajectory", "report", "summary"):
        assert Path(d["outputs"][role]).exists()
    assert (out / "best.py").read_text().startswith("import matplotlib")


def test_bad_input_is_one_line_exit_2(tmp_path):
    p = _erm("refine", str(tmp_path / "missing.png"))
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "no such file" in p.stderr
    p = _erm("refine", str(EXAMPLES / "sales_bar.png"), "--target", "1.5")
    assert p.returncode == 2 and "--target" in p.stderr
    p = _erm("refine", str(EXAMPLES / "sales_bar.png"), "--init", str(EXAMPLES / "badge.svg"), "--task", "chart")
    assert p.returncode == 2 and "task" in p.stderr


def test_batch_cli(ready, tmp_path):
    items = tmp_path / "items"
    items.mkdir()
    shutil.copy(EXAMPLES / "fruit_grouped.png", items / "fruit.png")
    p = _erm("refine", "--batch", str(items), "--rounds", "1", "--out-dir", str(tmp_path / "run"), "--json",
             "--no-report")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["ok"] == 1 and d["failed"] == 0 and d["mean_reward"] is not None
    pred = json.loads((tmp_path / "run" / "predictions.jsonl").read_text().splitlines()[0])
    assert pred["id"] == "fruit" and (tmp_path / "run" / pred["pred_code_path"]).exists()
