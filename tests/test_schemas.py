"""The JSON contract (issue 15): docs/SCHEMAS.md is generated from erm_cli/schemas.py and must match it, and
real outputs of each verb (real renders, the critic, a real batch) validate against the documented types,
carry schema_version and record what made them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from erm_cli import schemas
from erm_cli.judges.verdict import SCHEMA_VERSION as VERDICT_SCHEMA_VERSION

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
REFINE = EXAMPLES / "refine"
BAD_CODE = "import matplotlib.pyplot as plt\nraise ValueError('boom')\n"


def erm(*args: str) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([sys.executable, "-m", "erm_cli.app", *args], capture_output=True, cwd=REPO, check=False,
                       timeout=300, env={**os.environ, "COLUMNS": "200"})
    return subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode(), p.stderr.decode())


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_schemas_md_is_generated_from_the_types() -> None:
    doc = (REPO / "docs" / "SCHEMAS.md").read_text(encoding="utf-8")
    assert doc == schemas.render_markdown(), "run: python -m erm_cli.schemas --write docs/SCHEMAS.md"
    p = subprocess.run([sys.executable, "-m", "erm_cli.schemas", "--check", "docs/SCHEMAS.md"], cwd=REPO,
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stdout
    for cls, _, _ in schemas.DOCUMENTED:
        assert f"## {cls.__name__}" in doc
    assert schemas.SCHEMA_VERSION == VERDICT_SCHEMA_VERSION


def test_the_validator_refuses_an_undocumented_key_and_a_missing_one() -> None:
    good = {"schema_version": schemas.SCHEMA_VERSION, "error": {"code": 2, "message": "bad"}}
    schemas.validate(good, schemas.ErrorObject)
    with pytest.raises(ValueError, match="extra"):
        schemas.validate({**good, "surprise": 1}, schemas.ErrorObject)
    with pytest.raises(ValueError, match="message"):
        schemas.validate({"schema_version": "1", "error": {"code": 2}}, schemas.ErrorObject)
    with pytest.raises(ValueError, match="schema_version"):
        schemas.validate({**good, "schema_version": "0"}, schemas.ErrorObject)


def test_render_outputs_follow_the_contract(tmp_path: Path) -> None:
    p = erm("render", str(EXAMPLES / "icon.svg"), "-o", str(tmp_path / "icon.png"), "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    schemas.validate(doc, schemas.RenderResult)
    assert {"erm-renderer", "fonts", "cairosvg"} <= set(doc["versions"]) and doc["profile"] == "erm"
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": "icon", "path": "icon.svg"}) + "\n"
                     + json.dumps({"id": "bad", "code": BAD_CODE, "kind": "matplotlib"}) + "\n")
    (tmp_path / "icon.svg").write_bytes((EXAMPLES / "icon.svg").read_bytes())
    p = erm("render", "--batch", str(items), "--out-dir", str(tmp_path / "out"), "--json", "-q")
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    schemas.validate(summary, schemas.RenderBatchSummary)
    assert (summary["ok"], summary["failed"]) == (1, 1)
    rows = lines(tmp_path / "out" / "results.jsonl")
    assert [r["id"] for r in rows] == ["icon", "bad"]
    for row in rows:
        schemas.validate(row, schemas.RenderBatchLine)


def test_judge_outputs_follow_the_contract_and_record_what_made_them(tmp_path: Path) -> None:
    p = erm("judge", str(REFINE / "sales_bar.png"), str(REFINE / "sales_bar_init.py"), "--json")
    assert p.returncode == 0, p.stderr
    v = json.loads(p.stdout)
    schemas.validate(v, schemas.Verdict)
    severities = [e["severity"] for e in v["errors"]]
    assert severities and severities == sorted(severities, reverse=True)  # most severe first
    assert v["info"]["versions"]["judge"] == f"critic-{v['judge']['version']}"
    assert v["info"]["versions"]["profile"] == "erm" and v["info"]["versions"]["erm"]
    assert v["info"]["render"]["versions"]["erm-renderer"].startswith("matplotlib-")
    assert f"reward {v['reward']:.3f}" in erm("judge", str(REFINE / "sales_bar.png"),
                                                str(REFINE / "sales_bar_init.py")).stdout  # one number
    from erm_cli.judges.pipeline import score_candidate

    api = score_candidate(str(REFINE / "sales_bar.png"), str(REFINE / "sales_bar_init.py"))
    assert (api.reward, api.rl_reward) == (v["reward"], v["rl_reward"])  # the Python API gives the JSON's number
    assert [e.to_dict() for e in api.errors] == api.to_dict()["errors"] == v["errors"]  # most severe first
    bad = tmp_path / "bad.py"
    bad.write_text(BAD_CODE)
    p = erm("judge", str(REFINE / "sales_bar.png"), str(bad), "--json")
    assert p.returncode == 3
    failed = json.loads(p.stdout)
    schemas.validate(failed, schemas.Verdict)
    assert failed["render_ok"] is False and "boom" in failed["info"]["render_error"]


def test_judge_batch_outputs_follow_the_contract(tmp_path: Path) -> None:
    ref = str(REFINE / "sales_bar.png")
    rows = [{"id": "same", "category": "chart", "gt_img_path": ref, "pred_img_path": ref},
            {"id": "code", "category": "chart", "gt_img_path": ref, "pred_code_path": str(REFINE / "sales_bar.py")},
            {"id": "missing", "category": "chart", "gt_img_path": ref, "pred_img_path": str(tmp_path / "no.png")}]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    p = erm("judge", "--batch", str(data), "--out-dir", str(tmp_path / "run"), "--json", "-q", "--allowed-root",
            str(REFINE), "--allowed-root", str(tmp_path))
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    schemas.validate(summary, schemas.JudgeBatchSummary)
    assert (summary["judged"], summary["failed"]) == (2, 1)
    preds = lines(tmp_path / "run" / "predictions.jsonl")
    assert sorted(r["id"] for r in preds) == ["code", "missing", "same"]
    for row in preds:
        schemas.validate(row, schemas.PredictionLine)
    assert sum("error" in r for r in preds) == 1


def test_errors_under_json_and_other_verbs_carry_schema_version(tmp_path: Path) -> None:
    p = erm("judge", "--json", "--task", "pie", str(REFINE / "sales_bar.png"), str(REFINE / "sales_bar.py"))
    assert p.returncode == 2
    schemas.validate(json.loads(p.stdout), schemas.ErrorObject)
    p = erm("synth", "--out-dir", str(tmp_path / "s"), "--task", "svg", "-n", "2", "--svg-size", "64", "--json",
            "-q")
    assert p.returncode == 0, p.stderr
    schemas.validate(json.loads(p.stdout), schemas.SynthStats)
    assert json.loads((tmp_path / "s" / "manifest.json").read_text())["schema_version"] == schemas.SCHEMA_VERSION
    p = erm("refine", str(REFINE / "sales_bar.png"), "--init", str(REFINE / "sales_bar.py"), "--rounds", "0",
            "--out-dir", str(tmp_path / "r"), "--no-report", "--json", "-q")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["schema_version"] == schemas.SCHEMA_VERSION
    assert all(r["schema_version"] == schemas.SCHEMA_VERSION for r in lines(tmp_path / "r" / "trajectory.jsonl"))
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["schema_version"] == schemas.SCHEMA_VERSION
    p = erm("cache", "info", "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["schema_version"] == schemas.SCHEMA_VERSION


def test_serve_responses_follow_the_contract(tmp_path: Path) -> None:
    """A real `erm serve` app (critic judge) on loopback: /health, /judge and /reward bodies."""
    import base64

    import httpx

    from erm_cli.serve import create_app
    from erm_cli.serve.schemas import Health, JudgeResponse, RewardResponse
    from erm_cli.serve.testing import running_server

    ref = base64.b64encode((REFINE / "sales_bar.png").read_bytes()).decode()
    with running_server(create_app("critic", allowed_root=tmp_path)) as url:
        schemas.validate(httpx.get(f"{url}/health").json(), Health)
        r = httpx.post(f"{url}/judge", json={"id": "a", "reference_b64": ref,
                                             "candidate_code": (REFINE / "sales_bar_init.py").read_text()},
                       timeout=300)
        assert r.status_code == 200, r.text
        body = r.json()
        schemas.validate(body, JudgeResponse)
        assert body["ok"] and body["verdict"]["errors"] and body["reward"] == body["verdict"]["reward"]
        r = httpx.post(f"{url}/reward", json={"include_verdicts": True, "items": [
            {"id": "same", "reference_b64": ref, "candidate_b64": ref},
            {"id": "bad", "reference_b64": ref, "candidate_code": BAD_CODE, "kind": "matplotlib"}]}, timeout=300)
        assert r.status_code == 200, r.text
        batch = r.json()
        schemas.validate(batch, RewardResponse)
        assert [x["ok"] for x in batch["results"]] == [True, False] and "boom" in batch["results"][1]["error"]


def test_bench_judge_files_carry_schema_version_and_what_made_them(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    p = erm("bench", "judge", str(EXAMPLES / "bench-mini" / "data.jsonl"), "--limit", "3", "--baselines", "mse",
            "--out-dir", str(out), "--json", "-q")
    assert p.returncode == 0, p.stderr
    printed = json.loads(p.stdout)
    written = json.loads((out / "metrics.json").read_text())
    assert printed["schema_version"] == written["schema_version"] == schemas.SCHEMA_VERSION
    made = written["provenance"]["versions"]
    assert made["judge"].startswith("critic-") and made["profile"] == "erm" and made["fonts"] and made["erm"]
    for row in lines(out / "predictions.jsonl"):
        schemas.validate(row, schemas.PredictionLine)
    for row in lines(out / "baselines" / "mse.jsonl"):
        schemas.validate(row, schemas.PredictionLine)
