"""`erm refine` with the model-free policy: real renders, the real critic, real OCR.

The examples in examples/refine/ pair reference code with init code that has a wrong title, wrong
colours or wrong data; refinement must raise the reward and remove those specific errors.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from erm_cli.refine import RefineConfig, refine_image
from erm_cli.refine.literals import code_literals

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "refine"


@pytest.fixture(scope="module")
def tools(has_tesseract):
    if not has_tesseract:
        pytest.skip("tesseract is not installed")
    from erm_cli import renderers

    try:
        renderers.render("<svg xmlns='http://www.w3.org/2000/svg' width='8' height='8'/>", kind="svg")
    except NotImplementedError:
        pytest.skip("the renderer layer has not landed")
    return renderers


def _reference(tools, tmp: Path, stem: str) -> Path:
    """Render the example's reference code with erm's renderer (the same one candidates go through)."""
    src = next(p for p in EXAMPLES.glob(stem + ".*") if p.suffix in (".py", ".svg", ".html"))
    kind = {".py": "matplotlib", ".svg": "svg", ".html": "html"}[src.suffix]
    res = tools.render(src.read_text(), kind=kind)
    assert res.ok, res.error
    out = tmp / f"{stem}.png"
    out.write_bytes(res.png)
    return out


def _literals(code: str, kind: str):
    cl = code_literals(code, kind)
    assert cl is not None
    return cl


def _run(tools, tmp: Path, stem: str, **cfg):
    ref = _reference(tools, tmp, stem)
    init = next(EXAMPLES.glob(stem + "_init.*"))
    result, paths = refine_image(ref, out_dir=tmp / f"out-{stem}", init=init,
                                 config=RefineConfig(**{"rounds": 3, "samples": 1, **cfg}))
    return result, paths


def _categories(c) -> set[str]:
    return {e.category for e in c.verdict.errors} if c.verdict else set()


def test_chart_title_colour_and_values_are_fixed(tools, tmp_path):
    result, paths = _run(tools, tmp_path, "sales_bar")
    init, best = result.initial, result.best
    assert init.id == "r0-0" and init.note == "init"
    assert {"text_error", "style_error", "data_error"} <= _categories(init)
    assert best.reward > init.reward and not ({"text_error", "style_error", "data_error"} & _categories(best))
    gold = _literals((EXAMPLES / "sales_bar.py").read_text(), "matplotlib")
    got = _literals(best.code, "matplotlib")
    title = lambda cl: next(x.value for x in cl.literals if x.call == "set_title")
    colour = lambda cl: next(x.rgb for x in cl.literals if x.role == "colour")
    data = lambda cl: next(nl.values for nl in cl.number_lists if nl.var == "revenue")
    assert title(got) == title(gold)
    assert colour(got) == colour(gold)
    assert np.allclose(data(got), data(gold), rtol=0.03)
    assert Path(paths["code"]).read_text().strip() == best.code.strip()
    assert Path(paths["render"]).stat().st_size > 0 and Path(paths["report"]).exists()


@pytest.mark.parametrize("stem", ["fruit_grouped", "region_line"])
def test_series_colours_and_data_are_fixed(tools, tmp_path, stem):
    result, _ = _run(tools, tmp_path, stem)
    assert result.best.reward > result.initial.reward
    assert "data_error" in _categories(result.initial) and "data_error" not in _categories(result.best)
    gold = _literals(next(EXAMPLES.glob(stem + ".py")).read_text(), "matplotlib")
    got = _literals(result.best.code, "matplotlib")
    gold_lists = [nl.values for nl in gold.number_lists if len(nl.values) >= 3]
    got_lists = [nl.values for nl in got.number_lists if len(nl.values) >= 3]
    for g, b in zip(gold_lists, got_lists):
        assert np.allclose(b, g, atol=0.05 * max(abs(v) for v in g))
    assert [x.rgb for x in got.of_role("colour")] == [x.rgb for x in gold.of_role("colour")]


def test_table_cells_are_fixed(tools, tmp_path, has_chromium):
    if not has_chromium:
        pytest.skip("chromium is not installed")
    result, _ = _run(tools, tmp_path, "scores_table")
    assert result.best.reward > result.initial.reward
    assert result.initial.n_errors > result.best.n_errors
    gold = [x.value for x in _literals((EXAMPLES / "scores_table.html").read_text(), "html").of_role("text")]
    got = [x.value for x in _literals(result.best.code, "html").of_role("text")]
    assert got == gold


def test_svg_colours_are_fixed(tools, tmp_path):
    result, _ = _run(tools, tmp_path, "badge")
    assert not result.initial.render_error, result.initial.render_error
    assert result.best.reward > result.initial.reward and "style_error" not in _categories(result.best)
    gold = [x.rgb for x in _literals((EXAMPLES / "badge.svg").read_text(), "svg").of_role("colour")]
    got = [x.rgb for x in _literals(result.best.code, "svg").of_role("colour")]
    assert got == gold


def test_trajectory_is_monotone_and_complete(tools, tmp_path):
    result, paths = _run(tools, tmp_path, "fruit_grouped", samples=2)
    lines = [json.loads(x) for x in Path(paths["trajectory"]).read_text().splitlines()]
    assert [d["id"] for d in lines] == [c.id for c in result.candidates]
    assert {"round", "code", "render", "verdict", "reward", "tokens", "seconds", "accepted"} <= set(lines[0])
    by_id = {d["id"]: d for d in lines}
    for d in lines:
        if d["parent"] is not None and d["accepted"]:
            assert d["reward"] > by_id[d["parent"]]["reward"]
    per_round = [r.best_reward for r in result.rounds]
    assert per_round == sorted(per_round)  # the best never gets worse
    assert len([d for d in lines if d["round"] == 0]) == 2  # init + one draft (best-of-2)
    summary = json.loads(Path(paths["summary"]).read_text())
    assert summary["best"]["reward"] == pytest.approx(result.best.reward, abs=1e-6)
    report = Path(paths["report"]).read_text()
    assert "Reward per round" in report and "<polyline" in report and "data:image/png;base64" in report


def test_render_failure_goes_back_to_the_policy(tools, tmp_path):
    ref = _reference(tools, tmp_path, "sales_bar")
    broken = tmp_path / "broken.py"
    broken.write_text((EXAMPLES / "sales_bar_init.py").read_text().replace("ax.set_title(", "ax.set_title(("))
    result, paths = refine_image(ref, out_dir=tmp_path / "out", init=broken, config=RefineConfig(rounds=2))
    first = result.candidates[0]
    assert not first.render_ok and first.reward == 0.0 and first.render_error
    fix = next(c for c in result.candidates if c.parent == first.id)
    assert fix.render_ok and fix.accepted and fix.reward > 0
    assert result.best.render_ok
    line = json.loads(Path(paths["trajectory"]).read_text().splitlines()[0])
    assert line["render"]["ok"] is False and line["render"]["error"]


def test_budgets_stop_the_loop(tools, tmp_path):
    ref = _reference(tools, tmp_path, "sales_bar")
    init = EXAMPLES / "sales_bar_init.py"
    r1, _ = refine_image(ref, init=init, config=RefineConfig(rounds=5, samples=3, max_candidates=1))
    assert len(r1.candidates) == 1 and "candidate budget" in r1.stop_reason and len(r1.rounds) == 1
    r2, _ = refine_image(ref, init=init, config=RefineConfig(rounds=5, target=0.0))
    assert len(r2.candidates) == 1 and "target" in r2.stop_reason


def _batch_folder(tools, tmp_path):
    """A --batch folder with one real chart and one unreadable image, and the run folder to write."""
    src = tmp_path / "items"
    src.mkdir()
    shutil.copy(_reference(tools, tmp_path, "sales_bar"), src / "sales.png")
    (src / "broken.png").write_bytes(b"not a png")
    return src, tmp_path / "run"


def test_batch_is_resumable_and_isolates_bad_items(tools, tmp_path):
    src, out = _batch_folder(tools, tmp_path)
    from erm_cli.refine import refine_batch

    cfg = RefineConfig(rounds=1, samples=1)
    s1 = refine_batch(src, out, task="chart", config=cfg, report=False)
    assert s1["ok"] == 1 and s1["failed"] == 1
    preds = {json.loads(x)["id"]: json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()}
    assert preds["broken"]["status"] == "failed" and "not a readable image" in preds["broken"]["error"]
    assert (out / preds["sales"]["pred_code_path"]).exists() and preds["sales"]["category"] == "chart"
    s2 = refine_batch(src, out, task="chart", config=cfg, report=False)
    assert s2["skipped_done"] == 1 and s2["ran"] == 1
    lines = (out / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == 2  # the retried failure replaced its old line


def test_batch_limit_refines_the_first_items_and_keeps_the_other_lines(tools, tmp_path):
    src, out = _batch_folder(tools, tmp_path)
    from erm_cli.refine import refine_batch

    cfg = RefineConfig(rounds=1, samples=1)
    full = refine_batch(src, out, task="chart", config=cfg, report=False)
    assert full["items"] == 2 and full["ok"] == 1
    first = json.loads((out / "predictions.jsonl").read_text().splitlines()[0])["id"]
    limited = refine_batch(src, out, task="chart", config=cfg, report=False, limit=1)
    assert limited["items"] == 1
    ids = [json.loads(x)["id"] for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert "sales" in ids  # the ok line of an item beyond --limit is kept
    assert limited["ok"] + limited["failed"] == 1 and first in ids
