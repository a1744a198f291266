"""The smaller CLI items of issue 15, through the real CLI: Ctrl-C on a batch (a real SIGINT) says how far
it got and resumes; swapped REF PRED get a hint; piped output is not wrapped at 80 columns; `erm models`
lists judges and backends without importing the heavy ones; bench speed prints a short summary."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MINI = REPO / "examples" / "bench-mini"
REFINE = REPO / "examples" / "refine"
ERM = [sys.executable, "-m", "erm_cli.app"]


def erm(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run(check=False, args=[*ERM, *args], capture_output=True, text=True, timeout=600, cwd=REPO, env=env, **kw)


def _verdict_rows(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text().splitlines() if line.strip() and '"verdict"' in line)


def test_sigint_on_a_batch_says_how_far_it_got_and_the_rerun_resumes(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (MINI / "data.jsonl").read_text().splitlines()[:10]]
    for r in rows:
        for key in ("gt_img_path", "pred_img_path"):
            r[key] = str(MINI / r[key])
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    preds = out / "predictions.jsonl"
    proc = subprocess.Popen([*ERM, "judge", "--batch", str(data), "--out-dir", str(out), "-w", "1",
                             "--allowed-root", str(MINI)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while _verdict_rows(preds) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None, "the batch ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    m = re.fullmatch(r"erm: error: interrupted: (\d+) of 10 saved, re-run to resume", last)
    assert m, last
    saved = int(m.group(1))
    assert 2 <= saved < 10 and saved == _verdict_rows(preds)
    again = erm("judge", "--batch", str(data), "--out-dir", str(out), "-w", "2", "--allowed-root", str(MINI),
                "--json")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["resumed"] == saved and summary["judged"] == 10


def test_swapped_ref_and_pred_get_a_hint() -> None:
    p = erm("judge", str(REFINE / "sales_bar_init.py"), str(REFINE / "sales_bar.png"))
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "look swapped" in lines[0]
    assert lines[0].endswith(f"erm judge {REFINE / 'sales_bar.png'} {REFINE / 'sales_bar_init.py'}")
    ok = erm("judge", str(REFINE / "sales_bar.png"), str(REFINE / "sales_bar_init.py"))  # the right order
    assert ok.returncode == 0, ok.stderr


def test_piped_output_is_not_wrapped_at_80_columns() -> None:
    p = erm("judge", str(REFINE / "sales_bar.png"), str(REFINE / "sales_bar_init.py"))
    assert p.returncode == 0, p.stderr
    verdict = json.loads(erm("judge", str(REFINE / "sales_bar.png"), str(REFINE / "sales_bar_init.py"), "--json").stdout)
    longest = max((e["description"] for e in verdict["errors"]), key=len)  # whatever the critic's wording
    assert len(longest) > 80
    row = next(line for line in p.stdout.splitlines() if longest in line)  # the whole description on one line
    assert len(row) > 120  # one table row, one line
    reward = next(line for line in p.stdout.splitlines() if line.startswith("reward "))
    assert reward.rstrip().endswith(")")  # the reward line is not broken either


def test_models_lists_judges_and_backends_without_importing_them() -> None:
    p = subprocess.run(check=False, args=[sys.executable, "-X", "importtime", "-m", "erm_cli.app", "models", "--json"],
                       capture_output=True, text=True, timeout=120, cwd=REPO)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    by_name = {(e["kind"], e["name"]): e for e in doc["items"]}
    assert {n for k, n in by_name if k == "judge"} == {"critic", "vlm", "ssim", "mse", "phash"}
    assert {n for k, n in by_name if k == "backend"} == {"hf", "vllm", "openai", "tiny"}
    assert by_name[("judge", "critic")]["usable"] is True  # Tesseract is installed by make setup
    for entry in doc["items"]:
        assert entry["usable"] or entry["note"]  # what is missing is said
    imported = {line.split("|")[-1].strip() for line in p.stderr.splitlines() if line.startswith("import time:")}
    assert not imported & {"torch", "transformers", "vllm", "playwright", "ray", "sklearn"}
    people = erm("models")
    assert people.returncode == 0 and "model backends" in people.stdout and "critic" in people.stdout


def test_bench_speed_prints_a_short_summary_and_keeps_the_long_dump_in_json(tmp_path: Path) -> None:
    out = tmp_path / "speed.json"
    p = erm("bench", "speed", "--sections", "startup,judge", "--quick", "--items", "3", "--out", str(out))
    assert p.returncode == 0, p.stderr
    doc = json.loads(out.read_text())
    from erm_cli.bench.speed import flatten
    from erm_cli.bench.speed_summary import summary_rows

    rows = summary_rows(doc)
    assert len(rows) < len(flatten(doc)) // 2  # headline figures, not the dump
    assert [r[1] for r in rows] == ["erm --help (p50)", "heavy imports at start-up", "section took",
                                    "judge critic throughput", "section took"]
    for _, figure, value in rows:
        assert figure in p.stdout and value in p.stdout
    assert "latency_seconds" not in p.stdout and f"all figures: {out}" in p.stdout
    as_json = erm("bench", "speed", "--sections", "startup", "--quick", "--out", str(out), "--json")
    assert "erm_help_seconds" in json.loads(as_json.stdout)["startup"]


def test_bench_speed_summary_prints_the_sandbox_ratios_of_issue_13() -> None:
    """The render section's summary shows matplotlib warm / in-process and SVG ms per icon, measured in one run."""
    from erm_cli.bench import render_speed
    from erm_cli.bench.speed_summary import _render

    figures = render_speed.run(quick=True, repeats=1, kinds=("matplotlib", "svg"))
    rows = dict(_render(figures))
    ratio = figures["ratios"]["matplotlib_warm_over_inprocess"]
    assert rows["matplotlib warm sandbox / in-process"].startswith(f"{ratio:.3g}x (target ≤ 1.6x)")
    assert "cairosvg in-process" in rows["SVG per icon in the sandbox"]
