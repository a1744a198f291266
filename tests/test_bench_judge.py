"""`erm bench judge` end to end on small VC-RewardBench-format data: the real critic and baselines, the
format round trip, resumability after an interruption, failing items, and the report of examples/bench-mini."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from erm_cli.bench.judge_bench import JudgeBenchConfig, load_judge_items, read_jsonl_by_id, run_judge_bench

REPO = Path(__file__).resolve().parent.parent


def _chart(path: Path, values=(3, 5, 2), colour="#1f77b4", title="Sales") -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3), dpi=80)
    ax.bar(["Jan", "Feb", "Mar"], list(values), color=colour)
    ax.set_title(title)
    fig.savefig(path)
    plt.close(fig)


def _icon(path: Path, shape: str = "circle", colour=(40, 90, 200)) -> None:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (96, 96), "white")
    d = ImageDraw.Draw(im)
    if shape == "circle":
        d.ellipse((18, 18, 78, 78), fill=colour)
    else:
        d.rectangle((18, 18, 78, 78), fill=colour)
    im.save(path)


def make_dataset(root: Path) -> Path:
    """Six items (two without errors) + one pairwise line; errors use `category` and `type` keys."""
    img = root / "images"
    img.mkdir(parents=True)
    _chart(img / "c_ref.png")
    _chart(img / "c_same.png")
    _chart(img / "c_colour.png", colour="#ff7f0e")
    _chart(img / "c_title.png", title="Costs")
    _chart(img / "c_data.png", values=(3, 1, 2))
    _icon(img / "s_ref.png")
    _icon(img / "s_same.png")
    _icon(img / "s_square.png", shape="square")
    rows = [
        {
            "id": "c1",
            "category": "chart",
            "gt_img_path": "images/c_ref.png",
            "pred_img_path": "images/c_same.png",
            "human_errors": [],
        },
        {
            "id": "c2",
            "category": "chart",
            "gt_img_path": "images/c_ref.png",
            "pred_img_path": "images/c_colour.png",
            "human_errors": [
                {
                    "category": "style_error",
                    "severity": 2,
                    "location": "bars",
                    "description": "bar colour is orange instead of blue",
                }
            ],
        },
        {
            "id": "c3",
            "category": "chart",
            "gt_img_path": "images/c_ref.png",
            "pred_img_path": "images/c_title.png",
            "human_errors": [
                {
                    "type": "text_error",
                    "severity": 2,
                    "location": "title",
                    "description": "title reads 'Costs' instead of 'Sales'",
                }
            ],
        },
        {
            "id": "c4",
            "category": "chart",
            "gt_img_path": "images/c_ref.png",
            "pred_img_path": "images/c_data.png",
            "human_errors": [
                {
                    "category": "data_error",
                    "severity": 3,
                    "location": "Feb bar",
                    "description": "Feb bar value is 1 instead of 5",
                }
            ],
        },
        {
            "id": "s1",
            "category": "svg",
            "gt_img_path": "images/s_ref.png",
            "pred_img_path": "images/s_same.png",
            "human_errors": [],
        },
        {
            "id": "s2",
            "category": "svg",
            "gt_img_path": "images/s_ref.png",
            "pred_img_path": "images/s_square.png",
            "human_errors": [
                {
                    "type": "shape_error",
                    "severity": 3,
                    "location": "main shape",
                    "description": "the circle is drawn as a square",
                }
            ],
        },
    ]
    data = root / "vcbench.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "pairwise.jsonl").write_text(
        json.dumps(
            {
                "id": "p1",
                "category": "chart",
                "gt_img_path": "images/c_ref.png",
                "chosen_img_path": "images/c_same.png",
                "rejected_img_path": "images/c_colour.png",
            }
        )
        + "\n"
    )
    return data


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("vcb"))


@pytest.fixture(scope="module")
def full_run(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "critic"
    metrics = run_judge_bench(JudgeBenchConfig(data=dataset, out_dir=out, workers=2))
    return out, metrics


def test_reader_accepts_type_and_category(dataset):
    items = {it.id: it for it in load_judge_items(dataset)}
    assert [e.category for e in items["c3"].gold] == ["text_error"]  # given as "type"
    assert [e.category for e in items["c2"].gold] == ["style_error"]  # given as "category"
    assert items["c1"].gold == [] and items["s2"].task == "svg"


def test_round_trip_predictions_to_metrics(full_run, dataset):
    from erm_cli.bench.judge_bench import match_requests, run_matcher
    from erm_cli.bench.judge_metrics import vcbench_metrics
    from erm_cli.bench.matching import OfflineMatcher

    out, metrics = full_run
    preds = read_jsonl_by_id(out / "predictions.jsonl")
    assert set(preds) == {"c1", "c2", "c3", "c4", "s1", "s2"}
    # every item has a verdict or the one-line reason the judge failed on it (the critic is tested elsewhere)
    assert all(("verdict" in r) != ("error" in r) for r in preds.values())
    assert metrics["judges"]["critic"]["items"] + metrics["judges"]["critic"]["failed"] == 6
    assert set(metrics["judges"]) == {"critic", "ssim", "mse", "phash"}
    # recompute the critic's metrics from predictions.jsonl alone: identical to metrics.json
    items = load_judge_items(dataset)
    matches, failures = run_matcher(OfflineMatcher(), match_requests(items, preds), None)
    assert not failures
    again = vcbench_metrics(matches)
    stored = json.loads((out / "metrics.json").read_text())["judges"]["critic"]["vcbench"]["offline-v1"][
        "metrics"
    ]
    assert json.loads(json.dumps(again)) == stored
    # gold errors of the judged items: 4 in all (2 + 2 + 3 + 3 severity points) when nothing failed
    judged = [i for i, r in preds.items() if "verdict" in r]
    assert stored["overall"]["gold_errors"] == sum(1 for i in judged if i in ("c2", "c3", "c4", "s2"))
    # separation and pairwise figures exist for every baseline (2 error-free items, 4 with errors, 1 pair)
    for name in ("ssim", "mse", "phash"):
        rew = metrics["judges"][name]["reward"]
        assert (rew["separation"]["n_no_error"], rew["separation"]["n_error"]) == (2, 4)
        assert rew["pairwise"]["pairs"] == 1
    # identical images get the top reward from every pixel baseline -> their AUROC is at least 50 %
    assert metrics["judges"]["mse"]["reward"]["separation"]["auroc"] >= 50.0
    assert metrics["provenance"]["metrics_version"].startswith("erm-bench-")


def test_report_has_tables_and_plots(full_run):
    out, _ = full_run
    text = (out / "report.md").read_text()
    assert "## Leaderboard" in text and "| critic | offline-v1 |" in text and "| ssim | – |" in text
    for png in (
        "category_f1.png",
        "reward_distributions.png",
        "severity_scatter.png",
        "pairwise_margins.png",
    ):
        assert (out / "plots" / png).stat().st_size > 1000
        assert f"plots/{png}" in text


def test_sibling_runs_share_a_leaderboard_and_dirs_refuse_other_judges(full_run, dataset):
    out, _ = full_run
    sib = out.parent / "mse-only"
    run_judge_bench(JudgeBenchConfig(data=dataset, out_dir=sib, judge="mse", baselines=()))
    text = (sib / "report.md").read_text()
    assert "| critic | offline-v1 |" in text  # picked up from the sibling run directory
    from erm_cli.errors import InputError

    with pytest.raises(InputError, match="holds predictions of judge"):
        run_judge_bench(JudgeBenchConfig(data=dataset, out_dir=sib, judge="ssim", baselines=()))


def test_bad_item_fails_alone(dataset, tmp_path):
    data = tmp_path / "with-bad.jsonl"
    shutil.copytree(dataset.parent / "images", tmp_path / "images")
    lines = dataset.read_text().splitlines()
    lines.append(
        json.dumps(
            {
                "id": "bad",
                "category": "chart",
                "gt_img_path": "images/c_ref.png",
                "pred_img_path": "images/missing.png",
                "human_errors": [],
            }
        )
    )
    data.write_text("\n".join(lines) + "\n")
    m = run_judge_bench(JudgeBenchConfig(data=data, out_dir=tmp_path / "run", baselines=("mse",), workers=1))
    preds = read_jsonl_by_id(tmp_path / "run" / "predictions.jsonl")
    assert "error" in preds["bad"] and "missing.png" in preds["bad"]["error"]
    critic = m["judges"]["critic"]
    assert critic["failed"] == sum(1 for r in preds.values() if "error" in r) >= 1
    assert critic["items"] + critic["failed"] == 7 and "bad" in {f["id"] for f in critic["failures"]}
    assert m["judges"]["mse"]["failed"] == 1 and m["judges"]["mse"]["items"] == 6


def test_resume_after_interruption(full_run, dataset, tmp_path):
    """Kill a CLI run after its first item, rerun: every item exactly once, same metrics as an uninterrupted run."""
    _, reference = full_run
    out = tmp_path / "interrupted"
    cmd = [
        sys.executable,
        "-m",
        "erm_cli.app",
        "bench",
        "judge",
        str(dataset),
        "--out-dir",
        str(out),
        "--baselines",
        "",
        "--workers",
        "1",
        "--json",
    ]
    env = dict(os.environ)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO)
    preds = out / "predictions.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if preds.exists() and preds.read_text().count("\n") >= 1:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = read_jsonl_by_id(preds)
    assert 1 <= len(first) < 6, "the run should have been interrupted part-way"
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in preds.read_text().splitlines()]
    assert sorted(r["id"] for r in lines) == ["c1", "c2", "c3", "c4", "s1", "s2"]  # nothing judged twice
    for rid, row in first.items():  # the items judged before the kill were kept, not redone
        assert read_jsonl_by_id(preds)[rid] == row
    resumed = json.loads(done.stdout)
    want = reference["judges"]["critic"]["vcbench"]["offline-v1"]["metrics"]["overall"]
    got = resumed["judges"]["critic"]["vcbench"]["offline-v1"]["metrics"]["overall"]
    assert got == want


def test_report_from_examples_bench_mini(examples_dir, tmp_path):
    mini = examples_dir / "bench-mini"
    data = (
        next(iter(sorted(p for p in mini.glob("*.jsonl") if p.name != "pairwise.jsonl")), None)
        if mini.is_dir()
        else None
    )
    if data is None:
        pytest.skip("examples/bench-mini is not in this checkout")
    out = tmp_path / "mini" / "critic"
    res = subprocess.run(
        [sys.executable, "-m", "erm_cli.app", "bench", "judge", str(data), "--out-dir", str(out), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    metrics = json.loads(res.stdout)
    report = (out / "report.md").read_text()
    assert "## Leaderboard" in report and "critic" in report
    assert (out / "plots" / "reward_distributions.png").exists()
    crit = metrics["judges"]["critic"]
    assert crit["items"] + crit["failed"] == metrics["data"]["items"]
    assert crit["vcbench"]["offline-v1"]["metrics"]["overall"]["gold_errors"] > 0


def test_vc_rewardbench_gets_the_published_reference_rows(dataset, tmp_path):
    shutil.copytree(dataset.parent / "images", tmp_path / "images")
    vcb = tmp_path / "VC-RewardBench.jsonl"  # the released file's name
    vcb.write_text(dataset.read_text())
    m = run_judge_bench(JudgeBenchConfig(data=vcb, out_dir=tmp_path / "run", judge="phash", baselines=()))
    assert m["data"]["is_vc_rewardbench"] is True
    text = (tmp_path / "run" / "report.md").read_text()
    # Tab. 5 of the paper: Visual-ERM (8B) AVG 42.1 / 44.7 / 58.4
    assert "| *Visual-ERM (8B) (published)* | llm:gpt-5-mini (published) |" in text
    assert "42.1 / 44.7 / 58.4" in text
    other = run_judge_bench(
        JudgeBenchConfig(data=dataset, out_dir=tmp_path / "plain", judge="phash", baselines=())
    )
    assert other["data"]["is_vc_rewardbench"] is False and "reference" not in other


def test_vlm_judge_through_the_shared_loader(dataset, tmp_path):
    """A real (tiny, random-weight) Qwen3-VL judge, batched through judge_many: every item gets a verdict;
    what the untrained model writes is mostly unparseable and is counted as such, never a crash."""
    m = run_judge_bench(
        JudgeBenchConfig(
            data=dataset, out_dir=tmp_path / "vlm", judge="vlm", model="tiny:qwen3-vl", baselines=()
        )
    )
    j = m["judges"]["vlm:tiny:qwen3-vl"]
    assert j["items"] == 6 and j["failed"] == 0 and 0 <= j["unparsed"] <= 6
    preds = read_jsonl_by_id(tmp_path / "vlm" / "predictions.jsonl")
    assert all(r["verdict"]["judge"]["name"] == "vlm" for r in preds.values())
    assert "offline-v1" in j["vcbench"]


def test_pairwise_margin_plot_gives_each_judge_its_own_row(tmp_path: Path) -> None:
    """One row per judge (overlaid histograms hid each other), wrong-order pairs drawn in red."""
    import numpy as np
    from PIL import Image

    from erm_cli.bench.report import plot_pairwise_margins

    def red_dots(path: Path) -> int:
        px = np.asarray(Image.open(path).convert("RGB")).astype(int)
        return int(((abs(px[..., 0] - 214) < 25) & (px[..., 1] < 80) & (px[..., 2] < 80)).sum())

    one = plot_pairwise_margins({"critic": [0.1, 0.3, 0.5]}, tmp_path / "one.png")
    three = plot_pairwise_margins({"critic": [0.1, 0.3, 0.5], "ssim": [-0.2, 0.1, 0.2], "mse": [0.0, 0.05, -0.1]},
                                  tmp_path / "three.png")
    assert one is not None and three is not None
    assert Image.open(three).height > Image.open(one).height
    assert red_dots(one) == 0 and red_dots(three) > 0
    assert plot_pairwise_margins({"critic": []}, tmp_path / "none.png") is None
