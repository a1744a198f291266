"""`erm bench policy` end to end: real renders in the sandbox, traced chart metrics, TEDS, SVG metrics,
aggregation over all items (failures count 0), provenance, resumability."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from erm_cli.bench.policy import run_policy_bench

REPO = Path(__file__).resolve().parent.parent

GOLD_CHART = """import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(4, 3))
ax.bar(["A", "B"], [2, 3], color="#1f77b4")
ax.set_title("Votes")
plt.savefig("out.png")
"""
GOOD_CHART = GOLD_CHART  # an exact reproduction
BAD_CHART = "import matplotlib.pyplot as plt\nplt.plot([1, 2]\n"  # a syntax error: does not render
GOLD_TABLE = "<table><tr><th>a</th><th>b</th></tr><tr><td>c</td><td>d</td></tr></table>"
PRED_TABLE = "```markdown\n| a | b |\n|---|---|\n| c | x |\n```"
GOLD_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="20" fill="#2a6fdb"/></svg>'
PRED_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="20" fill="#2a6fdb"/></svg>'


@pytest.fixture(scope="module")
def bench_inputs(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("policy")
    refs = root / "refs"
    refs.mkdir()
    (refs / "chart1.py").write_text(GOLD_CHART)
    (refs / "chart2.py").write_text(GOLD_CHART)
    (refs / "table1.html").write_text(GOLD_TABLE)
    (refs / "icon1.svg").write_text(GOLD_SVG)
    preds = root / "preds.jsonl"
    rows = [
        {"id": "chart1", "response": f"Here is the code:\n```python\n{GOOD_CHART}```"},
        {"id": "chart2", "code": BAD_CHART, "task": "chart"},
        {"id": "table1", "response": PRED_TABLE, "task": "table"},
        {"id": "icon1", "code": PRED_SVG},
    ]
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return preds, refs


def test_policy_metrics_over_all_items(bench_inputs, tmp_path):
    preds, refs = bench_inputs
    out = tmp_path / "run"
    summary = run_policy_bench(preds, refs, out, judge=None, workers=2)
    chart, table, svg = summary["tasks"]["chart"], summary["tasks"]["table"], summary["tasks"]["svg"]
    # one of two chart predictions renders; the exact copy scores 1 on every F1, the broken one 0
    assert chart["items"] == 2 and chart["exec_rate"] == 50.0
    assert chart["text"] == 50.0 and chart["color"] == 50.0 and chart["low_level"] == 50.0
    # TEDS: one wrong cell of 6 nodes -> 1 - 1/6 ; TEDS-S ignores content -> 100
    assert table["teds"] == pytest.approx(100 * (1 - 1 / 6), abs=1e-3) and table["teds_s"] == 100.0
    # the SVG prediction is the reference itself
    assert svg["mse"] == 0.0 and svg["ssim"] == pytest.approx(100.0) and svg["length_ratio"] == 1.0
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    bad = next(r for r in rows if r["id"] == "chart2")
    assert bad["render_ok"] is False and "SyntaxError" in bad["render_error"]
    doc = json.loads((out / "metrics.json").read_text())
    prov = doc["provenance"]
    assert prov["metrics_version"].startswith("erm-bench-") and "teds" in prov["definitions"]
    assert prov["libraries"]["matplotlib"] and prov["renderers"]
    assert "## chart" in (out / "report.md").read_text()


def test_policy_resumes_without_redoing_items(bench_inputs, tmp_path):
    preds, refs = bench_inputs
    out = tmp_path / "run"
    run_policy_bench(preds, refs, out, judge=None, workers=1)
    before = (out / "results.jsonl").read_text()
    again = run_policy_bench(preds, refs, out, judge=None, workers=1)
    assert (out / "results.jsonl").read_text() == before
    assert again["tasks"]["table"]["teds_s"] == 100.0


def test_policy_cli_with_critic_reward(bench_inputs, tmp_path):
    preds, refs = bench_inputs
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "erm_cli.app",
            "bench",
            "policy",
            str(preds),
            "--refs",
            str(refs),
            "--out-dir",
            str(tmp_path / "cli"),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    chart = doc["tasks"]["chart"]
    # the failed render gets reward 0 and the exact copy close to 1: the mean lies in [0.4, 0.5]
    assert chart["reward_items"] == 2 and 0.4 <= chart["reward"] <= 0.5
    assert doc["judge"]["name"] == "critic"


def test_policy_input_errors_are_one_line(tmp_path):
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"id": "x", "code": "<svg/>"}) + "\n")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "erm_cli.app",
            "bench",
            "policy",
            str(preds),
            "--refs",
            str(tmp_path / "nope"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0 and "--refs" in res.stderr


def test_policy_limit_takes_the_first_items_and_a_later_run_completes_them(bench_inputs, tmp_path):
    preds, refs = bench_inputs
    out = tmp_path / "limited"

    def run(*extra: str) -> dict:
        res = subprocess.run([sys.executable, "-m", "erm_cli.app", "bench", "policy", str(preds), "--refs", str(refs),
                              "--out-dir", str(out), "--judge", "none", "--json", *extra],
                             capture_output=True, text=True, cwd=REPO, timeout=600, check=False)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    assert run("--limit", "2")["items"] == 2
    assert len((out / "results.jsonl").read_text().splitlines()) == 2
    assert run()["items"] == 4  # resumed: the two done items are kept, the other two evaluated
    assert len((out / "results.jsonl").read_text().splitlines()) == 4
    assert run("--limit", "1")["items"] == 1  # metrics over the first item only, results.jsonl untouched
    assert len((out / "results.jsonl").read_text().splitlines()) == 4
