"""`--ray` on `erm bench judge`, `erm bench policy` and `erm refine --batch`, and the Ray-native RL reward,
on one real local Ray instance (2 CPUs) started by this module.

Each verb through Ray writes the same records as its local run (timings aside), and a resumed Ray run skips
the finished items. The RL reward through a named pool of detached judge actors returns the same rewards
as the in-process adapter on the same items, and a later call reuses the same actors.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
MINI = REPO / "examples" / "bench-mini"
REFINE = REPO / "examples" / "refine"
TIMINGS = ("seconds", "render_seconds", "timings", "cache_hit")

ray = pytest.importorskip("ray", reason="needs erm-cli[ray]")


from test_ray import cli  # the erm CLI in this process (the ray_cluster fixture is in conftest.py)


def untimed(row: Any) -> Any:
    """A record without its timing fields (they differ between any two runs)."""
    if isinstance(row, dict):
        return {k: untimed(v) for k, v in row.items() if k not in TIMINGS}
    if isinstance(row, list):
        return [untimed(v) for v in row]
    if isinstance(row, str):  # an object's address in an error message differs between processes
        return re.sub(r"0x[0-9a-f]+", "0x…", row)
    return row


def rows_by_id(path: Path) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        assert row["id"] not in rows, f"{row['id']} written twice"
        rows[row["id"]] = untimed(row)
    return rows


def test_bench_judge_on_ray_matches_the_local_run_and_resumes(ray_cluster: Any, tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"  # the first items of bench-mini (without its pairwise file)
    rows = [json.loads(line) for line in (MINI / "data.jsonl").read_text().splitlines()[:8]]
    for row in rows:
        for key in ("gt_img_path", "pred_img_path"):
            row[key] = str(MINI / row[key])
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    shared = ("bench", "judge", str(data), "--allowed-root", str(MINI), "--baselines", "ssim", "--json")
    local = cli(*shared, "--out-dir", str(tmp_path / "local"))
    assert local.exit_code == 0, local.output
    on_ray = cli(*shared, "--out-dir", str(tmp_path / "ray"), "--ray", "local")
    assert on_ray.exit_code == 0, on_ray.output
    a, b = (rows_by_id(tmp_path / run / "predictions.jsonl") for run in ("local", "ray"))
    assert len(a) == 8 and a == b and all("verdict" in r for r in b.values())
    metrics = [json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("local", "ray")]
    assert untimed(metrics[0]["judges"]) == untimed(metrics[1]["judges"])
    # resumed: every item is already there, nothing is judged again (the file keeps its 8 lines)
    before = (tmp_path / "ray" / "predictions.jsonl").read_text()
    again = cli(*shared, "--out-dir", str(tmp_path / "ray"), "--ray", "local")
    assert again.exit_code == 0, again.output
    assert (tmp_path / "ray" / "predictions.jsonl").read_text() == before


GOLD_CHART = """import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(4, 3))
ax.bar(["A", "B"], [2, 3], color="#1f77b4")
ax.set_title("Votes")
"""
GOLD_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="20" '
            'fill="#2a6fdb"/></svg>')


def _policy_inputs(root: Path) -> tuple[Path, Path]:
    refs = root / "refs"
    refs.mkdir()
    (refs / "chart1.py").write_text(GOLD_CHART)
    (refs / "chart2.py").write_text(GOLD_CHART)
    (refs / "icon1.svg").write_text(GOLD_SVG)
    (refs / "icon2.svg").write_text(GOLD_SVG)
    preds = root / "preds.jsonl"
    rows = [{"id": "chart1", "response": f"```python\n{GOLD_CHART.replace('[2, 3]', '[2, 4]')}```"},
            {"id": "chart2", "code": "import matplotlib.pyplot as plt\nplt.plot([1, 2]\n", "task": "chart"},
            {"id": "icon1", "code": GOLD_SVG},
            {"id": "icon2", "code": GOLD_SVG.replace("#2a6fdb", "#db2a2a")}]
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return preds, refs


def test_bench_policy_on_ray_matches_the_local_run_and_resumes(ray_cluster: Any, tmp_path: Path) -> None:
    preds, refs = _policy_inputs(tmp_path)
    shared = ("bench", "policy", str(preds), "--refs", str(refs), "--json")
    for run, extra in (("local", ()), ("ray", ("--ray", "local"))):
        res = cli(*shared, "--out-dir", str(tmp_path / run), *extra)
        assert res.exit_code == 0, res.output
    a, b = (rows_by_id(tmp_path / run / "results.jsonl") for run in ("local", "ray"))
    assert set(a) == {"chart1", "chart2", "icon1", "icon2"} and a == b
    assert b["icon1"]["reward"] > b["icon2"]["reward"] and b["chart2"]["render_ok"] is False
    metrics = [json.loads((tmp_path / run / "metrics.json").read_text())["tasks"] for run in ("local", "ray")]
    assert metrics[0] == metrics[1]
    before = (tmp_path / "ray" / "results.jsonl").read_text()
    again = cli(*shared, "--out-dir", str(tmp_path / "ray"), "--ray", "local")
    assert again.exit_code == 0, again.output
    assert (tmp_path / "ray" / "results.jsonl").read_text() == before


def test_refine_batch_on_ray_matches_the_local_run_and_resumes(ray_cluster: Any, tmp_path: Path) -> None:
    items = tmp_path / "items"
    items.mkdir()
    for name in ("badge", "sales_bar"):
        shutil.copy(REFINE / f"{name}.png", items / f"{name}.png")
    (items / "broken.png").write_bytes(b"not a png")  # fails alone, with its reason
    shared = ("refine", "--batch", str(items), "--rounds", "1", "--no-report", "--json", "--quiet")
    for run, extra in (("local", ()), ("ray", ("--ray", "local"))):
        res = cli(*shared, "--out-dir", str(tmp_path / run), *extra)
        assert res.exit_code == 0, res.output
    a, b = (rows_by_id(tmp_path / run / "predictions.jsonl") for run in ("local", "ray"))
    assert set(a) == {"badge", "sales_bar", "broken"} and a == b
    assert b["badge"]["status"] == "ok" and b["broken"]["status"] == "failed"
    for item in ("badge", "sales_bar"):  # the best code the workers wrote is the local run's
        code = [(tmp_path / run / a[item]["pred_code_path"]).read_text() for run in ("local", "ray")]
        assert code[0] == code[1]
    # resumed: the ok items are skipped, only the failed one runs again
    again = cli(*shared, "--out-dir", str(tmp_path / "ray"), "--ray", "local")
    assert again.exit_code == 0, again.output
    summary = json.loads(again.output[again.output.index("{"):])
    assert summary["skipped_done"] == 2 and summary["ran"] == 1
    assert rows_by_id(tmp_path / "ray" / "predictions.jsonl") == b


def _reward_items() -> tuple[list[str], list[str], list[str]]:
    """Completions (good, worse, broken, empty), their reference images and data sources."""
    def fenced(path: Path, lang: str) -> str:
        return f"Here it is:\n```{lang}\n{path.read_text()}\n```<|im_end|>"

    completions = [fenced(REFINE / "badge.svg", "svg"), fenced(REFINE / "badge_init.svg", "svg"),
                   "```svg\n<svg xmlns='http://www.w3.org/2000/svg'><rect</svg>\n```", "",
                   fenced(REFINE / "sales_bar.py", "python"), fenced(REFINE / "sales_bar_init.py", "python")]
    references = [str(REFINE / "badge.png")] * 4 + [str(REFINE / "sales_bar.png")] * 2
    sources = ["icon2svg"] * 4 + ["chart2code"] * 2
    return completions, references, sources


def test_rl_reward_on_a_named_actor_pool_matches_the_in_process_adapter(ray_cluster: Any) -> None:
    from erm_cli.distributed.ray_reward import NAMESPACE, stop_pool
    from erm_cli.train.rewards import reward_func, verl_compute_score_batch

    completions, references, sources = _reward_items()
    infos = [{"gt_img_path": ref} for ref in references]
    pool = "erm-test-judges"
    try:
        local = verl_compute_score_batch(sources, completions, references, infos)
        on_pool = verl_compute_score_batch(sources, completions, references, infos, ray_pool=pool, ray_actors=2)
        assert [untimed(dict(s)) for s in on_pool] == [untimed(dict(s)) for s in local]
        scores = [s["score"] for s in on_pool]
        assert scores[0] > scores[1] > 0 and scores[2] == scores[3] == 0.0 and scores[4] > scores[5] > 0
        # the pool is two detached, named actors; a later call (OpenRLHF's adapter here) reuses them
        actors = [ray.get_actor(f"{pool}-{i}", namespace=NAMESPACE) for i in range(2)]
        pids = set(ray.get([a.pid.remote() for a in actors]))
        queries = [f"<|im_start|>user\nDraw it<|im_end|>\n<|im_start|>assistant\n{c}" for c in completions]
        prompts = ["<|im_start|>user\nDraw it<|im_end|>\n<|im_start|>assistant\n"] * len(completions)
        labels = [json.dumps({"image": ref, "task": "svg" if "badge" in ref else "chart"}) for ref in references]
        in_process = reward_func(queries, prompts, labels)
        through_pool = reward_func(queries, prompts, labels, ray_pool=pool, ray_actors=2)
        assert through_pool["rewards"].tolist() == in_process["rewards"].tolist()
        assert through_pool["rewards"].tolist() == pytest.approx(scores, abs=1e-6)  # float32 there
        assert set(ray.get([a.pid.remote() for a in actors])) == pids
    finally:
        assert stop_pool(pool) == 2
