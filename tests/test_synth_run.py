"""`erm synth` end to end: files, formats, reproducibility, resuming, no-op detection, user sources, CLI."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from erm_cli.data.perturbation import Edit
from erm_cli.data.svgs import random_svg
from erm_cli.data.synth import Candidate, Group, SynthConfig, SynthStats, process_group, run_synth
from erm_cli.errors import InputError
from erm_cli.judges.verdict import TAXONOMY, Verdict
from erm_cli.renderers import RenderOptions, render_many

N = 12


def _cfg(out: Path, **kw) -> SynthConfig:  # type: ignore[no-untyped-def]
    base = dict(out=out, task="all", n=N, seed=5, max_errors=3, dpi=40, svg_px=96, equivalent_rate=0.3)
    base.update(kw)
    return SynthConfig(**base)  # type: ignore[arg-type]


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "set"
    stats = run_synth(_cfg(out), formats=("sft", "hf"))
    return out, stats


def test_records_follow_the_vcbench_format(synth_dir):
    out, stats = synth_dir
    rows = _rows(out / "data.jsonl")
    assert len(rows) == N == stats.records
    assert {r["category"] for r in rows} == {"chart", "table", "svg"}
    assert sorted(r["idx"] for r in rows) == list(range(N))
    for r in rows:
        for key in ("id", "category", "gt_img_path", "pred_img_path", "human_errors", "gt_code", "pred_code"):
            assert key in r
        assert (out / r["gt_img_path"]).is_file() and (out / r["pred_img_path"]).is_file()
        assert r["severity_total"] == sum(e["severity"] for e in r["human_errors"])
        assert (r["pair_type"] == "perturbed") == bool(r["human_errors"])
        for e in r["human_errors"]:
            assert e["category"] in TAXONOMY[r["category"]] and e["type"] == e["category"]
            assert e["severity"] in (1, 2, 3) and e["location"] and e["description"]
            if "bbox" in e:
                w, h = r["render"]["gt_size"]
                x0, y0, x1, y1 = e["bbox"]
                assert 0 <= x0 <= x1 <= w and 0 <= y0 <= y1 <= h
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["stats"]["records"] == N


def test_pairwise_chosen_is_a_milder_subset(synth_dir):
    out, _ = synth_dir
    rows = {r["id"]: r for r in _rows(out / "data.jsonl")}
    pairs = _rows(out / "pairwise.jsonl")
    assert pairs, "chains of two or more candidates must give preference pairs"
    for p in pairs:
        chosen, rejected = rows[p["chosen_id"]], rows[p["rejected_id"]]
        assert chosen["gt_img_path"] == rejected["gt_img_path"] == p["gt_img_path"]
        assert set(chosen["edit_ids"]) < set(rejected["edit_ids"])
        assert p["chosen_severity"] < p["rejected_severity"]
        assert (out / p["chosen_img_path"]).is_file() and (out / p["rejected_img_path"]).is_file()


def test_sft_records_carry_the_judge_prompt_and_the_gold_json(synth_dir):
    from erm_cli.judges.prompts import judge_prompt
    from erm_cli.judges.vlm_output import parse_judge_output

    out, _ = synth_dir
    gold = {r["id"]: r for r in _rows(out / "data.jsonl")}
    sft = _rows(out / "sft.jsonl")
    assert len(sft) == N
    for rec in sft:
        content = rec["prompt"][0]["content"]
        assert [c["type"] for c in content] == ["image", "image", "text"]
        assert content[2]["text"] == judge_prompt(rec["category"])
        assert all((out / p).is_file() for p in rec["images"])
        verdict = parse_judge_output(rec["completion"][0]["content"], rec["category"])
        verdict = verdict if isinstance(verdict, Verdict) else verdict[0]
        assert len(verdict.errors) == len(gold[rec["id"]]["human_errors"])


def test_sft_file_loads_in_the_trainer_reader(synth_dir):
    datasets_mod = pytest.importorskip("erm_cli.train.datasets")
    out, _ = synth_dir
    records, formats = datasets_mod.read_judge_records(out / "sft.jsonl")
    assert formats == {"chat": N} and len(records) == N


def test_hf_layout_loads_with_datasets(synth_dir):
    datasets = pytest.importorskip("datasets")
    out, _ = synth_dir
    ds = datasets.load_dataset(str(out / "hf"), split="train")
    assert len(ds) == N
    row = next(r for r in ds if r["human_errors"])
    assert row["gt_image"].size[0] > 0 and row["pred_image"].size[0] > 0
    assert set(row["human_errors"][0]) >= {"category", "severity", "location", "description"}
    prefs = datasets.load_dataset(str(out / "hf"), "pairwise", split="train")
    assert len(prefs) == len(_rows(out / "pairwise.jsonl"))


def test_same_seed_same_data_and_resume(synth_dir, tmp_path):
    out, _ = synth_dir
    again = tmp_path / "again"
    run_synth(_cfg(again))
    assert (again / "data.jsonl").read_text() == (out / "data.jsonl").read_text()
    assert (again / "pairwise.jsonl").read_text() == (out / "pairwise.jsonl").read_text()
    for r in _rows(out / "data.jsonl"):
        assert (again / r["pred_img_path"]).read_bytes() == (out / r["pred_img_path"]).read_bytes()
    # a smaller run grown to N in the same folder ends with exactly the fresh N-pair data
    grown = tmp_path / "grown"
    run_synth(_cfg(grown, n=5))
    stats = run_synth(_cfg(grown))
    assert 1 <= stats.resumed_records <= 5  # truncated groups are rebuilt whole
    assert (grown / "data.jsonl").read_text() == (out / "data.jsonl").read_text()
    other = run_synth(_cfg(tmp_path / "other", seed=6))
    assert other.records == N
    assert (tmp_path / "other" / "data.jsonl").read_text() != (out / "data.jsonl").read_text()


def test_other_settings_in_the_same_folder_are_refused(synth_dir, tmp_path):
    out, _ = synth_dir
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    with pytest.raises(InputError, match="other settings"):
        run_synth(_cfg(copy, max_errors=2))


def test_a_perturbation_that_changes_no_pixel_is_labelled_no_error(tmp_path):
    doc = random_svg(random.Random(2), px=96)
    same_look = doc.copy()
    same_look.code_style ^= 2  # a comment line: new code, same pixels
    edit = Edit("svg.fake", "style_error", 2, "Icon", "claimed change", "e1")
    group = Group("svg-00000", "svg", 0, "svg", "test", doc.code(), RenderOptions())
    group.candidates.append(Candidate("p1", same_look.code(), "svg", RenderOptions(), [edit], "perturbed"))
    results = render_many([doc.code(), same_look.code()], RenderOptions())
    (tmp_path / "images").mkdir()
    stats = SynthStats()
    records, failures = process_group(
        group, {"ref": results[0], "p1": results[1]}, tmp_path / "images", stats
    )
    assert not failures and stats.noop_steps == 1
    assert len(records) == 1 and records[0]["pair_type"] == "noop" and records[0]["human_errors"] == []


def test_user_sources_are_perturbed(examples_dir, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("chart.py", "icon.svg", "table.html", "table.md"):
        shutil.copy(examples_dir / name, src / name)
    out = tmp_path / "out"
    stats = run_synth(_cfg(out, n=6, source=src, equivalent_rate=0.0))
    rows = _rows(out / "data.jsonl")
    assert stats.records == 6 and {r["category"] for r in rows} == {"chart", "table", "svg"}
    assert all(r["source"].startswith("source:") for r in rows)
    chart = next(r for r in rows if r["category"] == "chart")
    assert chart["gt_code"] == (src / "chart.py").read_text()


def test_cli_bad_input_is_one_line_with_exit_2(tmp_path):
    erm = str(Path(sys.executable).with_name("erm"))
    proc = subprocess.run(
        [erm, "synth", "--task", "pies", "--out-dir", str(tmp_path / "x")], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "unknown --task" in proc.stderr
    proc = subprocess.run(
        [erm, "synth", "--task", "svg", "--out-dir", str(tmp_path / "y"), "--source", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_cli_json_run(tmp_path):
    erm = str(Path(sys.executable).with_name("erm"))
    out = tmp_path / "cli"
    proc = subprocess.run(
        [
            erm,
            "synth",
            "--task",
            "svg",
            "--n",
            "3",
            "--seed",
            "1",
            "--svg-size",
            "96",
            "--out-dir",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    assert stats["records"] == 3 and stats["by_task"] == {"svg": 3}
    assert len(_rows(out / "data.jsonl")) == 3


def test_a_source_that_always_hits_the_time_limit_gives_up_with_one_line(tmp_path):
    """--timeout reaches the sandbox; a reference that never renders in time is not drawn again without end."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "slow.py").write_text("import time\nimport matplotlib.pyplot as plt\ntime.sleep(60)\n"
                                 "plt.plot([1, 2, 3], [3, 4, 5], color='red')\nplt.title('Sales')\n")
    erm = str(Path(sys.executable).with_name("erm"))
    proc = subprocess.run([erm, "synth", "--task", "chart", "-n", "2", "--source", str(src), "--timeout", "1",
                           "--out-dir", str(tmp_path / "out")], capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("erm: error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr  # (the other stderr line is the progress bar)
    assert "every source file failed to render" in errors[0] and "timed out" in errors[0]
