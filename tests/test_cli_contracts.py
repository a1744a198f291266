"""Behaviour the README and `--help` promise, checked through the real CLI (issue 15, first section): exit 3
when nothing rendered, `--batch` honouring `--fail-under` and `--diff-image`, the candidate forms `erm judge`
reads (pipe-less Markdown, .tex, stdin, a raw chat completion), honest people views for unparsed and baseline
verdicts, `/reward` items that say why they failed, the tiny presets' model, a trained judge's token cap and
one-line usage errors (with a JSON error object under `--json`)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import recording_server
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
REFINE = REPO / "examples" / "refine"
BAD_CODE = "import matplotlib.pyplot as plt\nraise ValueError('boom')\n"
# the way `erm synth` writes Markdown tables without outer pipes (GFM allows it)
PIPELESS_MD = "Model | Params | Score\n:---- | -----: | ----:\nAlpha | 7B | 74.4\nBeta | 8B | 71.0\n"


def erm(*args: str, stdin: bytes | None = None, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([sys.executable, "-m", "erm_cli.app", *args], capture_output=True, cwd=cwd or REPO, check=False,
                       timeout=300, input=b"" if stdin is None else stdin, env={**os.environ, "COLUMNS": "200", **env})
    return subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode(), p.stderr.decode())


def one_line_error(p: subprocess.CompletedProcess[str]) -> bool:
    lines = p.stderr.strip().splitlines()
    return len(lines) == 1 and lines[0].startswith("erm: error: ") and "Traceback" not in p.stderr


@pytest.fixture(scope="module")
def table_ref(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pipe-less Markdown table rendered by `erm render` (which already took .md files)."""
    d = tmp_path_factory.mktemp("table")
    src = d / "table.md"
    src.write_text(PIPELESS_MD)
    p = erm("render", str(src), "-o", str(d / "ref.png"))
    assert p.returncode == 0, p.stderr
    return d / "ref.png"


# 1. render failures exit 3 -------------------------------------------------------------------------------


def test_judge_code_that_does_not_render_exits_3_with_the_verdict(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(BAD_CODE)
    p = erm("judge", str(REFINE / "sales_bar.png"), str(bad))
    assert p.returncode == 3, p.stderr
    assert "render failed" in p.stdout and "boom" in p.stdout and "reward 0.000" in p.stdout
    assert one_line_error(p) and "did not render" in p.stderr
    p = erm("judge", str(REFINE / "sales_bar.png"), str(bad), "--json")
    assert p.returncode == 3
    v = json.loads(p.stdout)  # one document: the verdict, no error object after it
    assert v["render_ok"] is False and v["reward"] == 0.0


def test_refine_exits_3_when_no_candidate_rendered(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(BAD_CODE)
    out = tmp_path / "run"
    p = erm("refine", str(REFINE / "sales_bar.png"), "--init", str(bad), "--rounds", "0", "--out-dir", str(out),
            "--quiet", "--no-report", "--json")
    assert p.returncode == 3, p.stderr
    assert json.loads(p.stdout)["best"]["render_ok"] is False
    assert one_line_error(p) and "no candidate rendered" in p.stderr
    assert (out / "trajectory.jsonl").is_file()


# 2. --batch honours --fail-under and --diff-image, and counts render failures apart --------------------------


def test_batch_fail_under_diff_images_and_render_failures(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(BAD_CODE)
    ref = str(REFINE / "sales_bar.png")
    rows = [{"id": "good", "category": "chart", "gt_img_path": ref, "pred_code_path": str(REFINE / "sales_bar.py")},
            {"id": "wrong/one", "category": "chart", "gt_img_path": ref,
             "pred_code_path": str(REFINE / "sales_bar_init.py")},
            {"id": "norender", "category": "chart", "gt_img_path": ref, "pred_code_path": str(bad)},
            {"id": "missing", "category": "chart", "gt_img_path": ref, "pred_img_path": str(tmp_path / "no.png")}]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out, diffs = tmp_path / "run", tmp_path / "diffs"
    p = erm("judge", "--batch", str(data), "--out-dir", str(out), "--json", "--allowed-root", str(REFINE),
            "--fail-under", "0.9", "--diff-image", str(diffs))
    assert p.returncode == 1, p.stderr
    s = json.loads(p.stdout)
    assert (s["total"], s["judged"], s["render_failed"], s["failed"]) == (4, 2, 1, 1)
    assert s["below_fail_under"] == ["norender", "wrong/one"]
    last = p.stderr.strip().splitlines()[-1]  # after the progress bar
    assert last == "erm: error: 2 of 4 items below --fail-under 0.9: norender, wrong/one"
    assert sorted(x.name for x in diffs.iterdir()) == ["good.png", "wrong_one.png"] and s["diff_images"]["written"] == 2
    with Image.open(diffs / "wrong_one.png") as im, Image.open(ref) as r:
        assert im.width > 3 * r.width
    # the people view says what did not render; a threshold every item passes exits 0
    p = erm("judge", "--batch", str(data), "--out-dir", str(out), "--allowed-root", str(REFINE), "--fail-under", "0")
    assert p.returncode == 0, p.stderr
    assert "1 did not render" in p.stdout and "1 failed" in p.stdout


# 3. candidate forms ---------------------------------------------------------------------------------------


def test_pipeless_markdown_is_detected_in_linear_time() -> None:
    import time

    from erm_cli.renderers.detect import kind_from_content

    assert kind_from_content(PIPELESS_MD) == "markdown"
    assert kind_from_content("| a | b |\n|---|---|\n| 1 | 2 |\n") == "markdown"
    assert kind_from_content("a rule\n-----\nno table here\n") is None
    assert kind_from_content("- list | item\n- another\n") is None
    for hostile in ("|" * 300_000, "-- | " * 100_000, "a|b\n--|--\n" * 50_000, "\n" * 300_000 + "--|--"):
        t0 = time.perf_counter()
        kind_from_content(hostile)
        print(f"{len(hostile):,} chars: {time.perf_counter() - t0:.3f} s")  # printed, not asserted


def test_judge_reads_md_tex_stdin_and_chat_completion_json(table_ref: Path, tmp_path: Path) -> None:
    md = tmp_path / "pred.md"
    md.write_text(PIPELESS_MD)
    p = erm("judge", str(table_ref), str(md), "--json")
    assert p.returncode == 0, p.stderr
    v = json.loads(p.stdout)
    assert v["render_ok"] and v["task"] == "table" and v["reward"] == 1.0

    p = erm("judge", str(table_ref), "-", "--json", stdin=PIPELESS_MD.encode())
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["reward"] == 1.0

    completion = {"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, "finish_reason": "stop",
                  "message": {"role": "assistant", "content": f"Here is the table:\n\n```markdown\n{PIPELESS_MD}```\n"}}]}
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps(completion))
    p = erm("judge", str(table_ref), str(answer), "--json")
    assert p.returncode == 0, p.stderr
    v = json.loads(p.stdout)
    assert v["render_ok"] and v["info"]["render"]["kind"] == "markdown" and v["reward"] == 1.0

    # an image on stdin is judged as an image
    p = erm("judge", str(table_ref), "-", "--json", stdin=table_ref.read_bytes())
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["reward"] == 1.0

    tex = tmp_path / "pred.tex"
    tex.write_text("\\begin{tabular}{lrr}\nModel & Params & Score \\\\\n\\hline\nAlpha & 7B & 74.4 \\\\\n"
                   "Beta & 8B & 71.0 \\\\\n\\end{tabular}\n")
    p = erm("judge", str(table_ref), str(tex), "--json")
    assert p.returncode == 0, p.stderr
    v = json.loads(p.stdout)
    assert v["render_ok"] and v["info"]["render"]["kind"] == "latex"

    p = erm("judge", "-", str(md))
    assert p.returncode == 2 and one_line_error(p) and "stdin" in p.stderr


# 4. honest people views -----------------------------------------------------------------------------------


def icon(fill: str) -> Image.Image:
    img = Image.new("RGB", (240, 240), "white")
    ImageDraw.Draw(img).ellipse([40, 40, 160, 160], fill=fill)
    return img


def test_baseline_prints_only_its_score(tmp_path: Path) -> None:
    icon("#e63946").save(tmp_path / "ref.png")
    icon("#2a9d8f").save(tmp_path / "cand.png")
    p = erm("judge", str(tmp_path / "ref.png"), str(tmp_path / "cand.png"), "--judge", "ssim", "--task", "svg")
    assert p.returncode == 0, p.stderr
    assert "ssim similarity" in p.stdout and "reward" in p.stdout
    assert "severity total" not in p.stdout and "structure_error" not in p.stdout and "style_error" not in p.stdout


def test_unparseable_vlm_answer_is_not_called_equivalent(tmp_path: Path) -> None:
    icon("#e63946").save(tmp_path / "ref.png")
    icon("#2a9d8f").save(tmp_path / "cand.png")
    # junk a tiny random model answered on one machine (on another, its junk happened to repair into an error:
    # the answer is fixed here, served over real HTTP, so the test does not depend on float arithmetic)
    with recording_server(" symbol symbol symbol\n\niewiew%") as (url, _):
        p = erm("judge", str(tmp_path / "ref.png"), str(tmp_path / "cand.png"), "--task", "svg", "--judge", "vlm",
                "--model", f"openai:{url}#junk")
    assert p.returncode == 0, p.stderr
    assert "could not be parsed" in p.stdout and "unparsed" in p.stdout
    assert "visually equivalent" not in p.stdout and "severity total" not in p.stdout


# 5. /reward items say why a render failed -----------------------------------------------------------------


def _b64_png(img: Image.Image) -> str:
    import io

    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


@pytest.mark.parametrize("judge", ["critic", "vlm"])
def test_reward_items_that_did_not_render_are_not_ok(judge: str, tmp_path: Path) -> None:
    import httpx

    from erm_cli.serve import create_app
    from erm_cli.serve.testing import running_server

    if judge == "vlm":
        pytest.importorskip("torch")
        app = create_app("vlm", model="tiny:qwen3-vl", model_options={"max_tokens_cap": 8}, allowed_root=tmp_path)
    else:
        app = create_app("critic", allowed_root=tmp_path)
    (tmp_path / "bad.py").write_text(BAD_CODE)
    Image.new("RGB", (240, 240), "white").save(tmp_path / "blank.png")
    ref = _b64_png(icon("#e63946"))
    items = [{"id": "code", "reference_b64": ref, "candidate_code": BAD_CODE},
             {"id": "path", "reference_b64": ref, "candidate_path": "bad.py"},
             {"id": "blank", "reference_b64": ref, "candidate_path": "blank.png", "task": "svg"},
             {"id": "good", "reference_b64": ref, "candidate_b64": ref, "task": "svg"}]
    with running_server(app) as url:
        body = httpx.post(f"{url}/reward", json={"items": items}, timeout=300).json()
        one = httpx.post(f"{url}/judge", json=items[0], timeout=300).json()
    by_id = {r["id"]: r for r in body["results"]}
    for name in ("code", "path"):
        assert by_id[name]["ok"] is False and by_id[name]["reward"] == 0.0 and "boom" in by_id[name]["error"]
    assert by_id["blank"]["ok"] is False and "blank" in by_id["blank"]["error"]
    assert by_id["good"]["ok"] is True and by_id["good"]["error"] is None and by_id["good"]["render_ok"]
    assert one["ok"] is False and "boom" in one["error"]


# 6. and 7. training presets and a trained judge's token cap ----------------------------------------------


def test_tiny_presets_set_the_tiny_model() -> None:
    from erm_cli.train.config import resolve_settings

    assert resolve_settings("reward", preset="cpu-tiny-sft").settings.model == "tiny:qwen3-vl"
    assert resolve_settings("policy", preset="cpu-tiny-grpo").settings.model == "tiny:qwen3-vl"
    assert resolve_settings("reward", preset="cpu-tiny-sft",
                            overrides={"model": "hf:/models/x"}).settings.model == "hf:/models/x"


def test_a_trained_judge_loaded_with_hf_has_a_token_cap(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from erm_cli.models import load_model
    from erm_cli.models.base import Sampling
    from erm_cli.models.tiny import ensure_tiny_model

    base = Path(ensure_tiny_model("qwen3-vl"))
    judge_dir = tmp_path / "judge"
    judge_dir.mkdir()
    for f in base.iterdir():
        (judge_dir / f.name).symlink_to(f)
    (judge_dir / "erm_train.json").write_text(json.dumps({"kind": "reward", "settings": {"eval_max_new_tokens": 12}}))
    backend = load_model(f"hf:{judge_dir}", threads=1)
    assert backend.max_tokens_cap == 12  # type: ignore[attr-defined]
    img = icon("#e63946")
    req = [{"role": "user", "content": [{"type": "image", "image": img}, {"type": "text", "text": "Compare."}]}]
    (comp,) = backend.generate([req], Sampling(max_tokens=4096, temperature=0.0))
    assert comp.error is None and 0 < comp.completion_tokens <= 12
    # an explicit cap wins; a folder erm did not train has none
    assert load_model(f"hf:{judge_dir}?max_tokens_cap=5", threads=1).max_tokens_cap == 5  # type: ignore[attr-defined]
    from erm_cli.models import trained_judge_token_cap

    assert trained_judge_token_cap(str(base)) is None


# 8. one-line usage errors in every verb, and a JSON error object under --json ---------------------------------


@pytest.mark.parametrize("args", [
    ["bogus-verb"],
    ["render", "--bogus"],
    ["judge", "a.png", "b.py", "--fail-under", "3"],
    ["refine", "x.png", "--rounds", "-1"],
    ["refine"],
    ["synth", "--bogus"],
    ["serve", "--port", "notanumber"],
    ["bench", "judge", "--bogus"],
    ["bench", "speed", "--items", "0"],
    ["train", "reward", "--max-steps", "abc"],
    ["cache", "info", "--bogus"],
])
def test_usage_errors_are_one_line_exit_2(args: list[str]) -> None:
    p = erm(*args)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert one_line_error(p), p.stderr
    assert "╭" not in p.stderr and "--help" in p.stderr and p.stdout == ""


@pytest.mark.parametrize("args", [
    ["judge", "a.png", "b.py", "--fail-under", "3", "--json"],
    ["judge", "missing.png", "b.py", "--json"],
    ["render", "--json", "--bogus"],
    ["cache", "info", "--json", "--bogus"],
])
def test_json_runs_also_write_a_json_error_object(args: list[str]) -> None:
    p = erm(*args)
    assert p.returncode == 2 and one_line_error(p)
    doc = json.loads(p.stdout)
    assert doc["schema_version"] and doc["error"]["code"] == 2
    assert doc["error"]["message"] == p.stderr.strip().removeprefix("erm: error: ")


# 9. erm --help start-up time is printed by bench speed -------------------------------------------------------


def test_bench_speed_prints_the_help_startup_time(tmp_path: Path) -> None:
    p = erm("bench", "speed", "--sections", "startup", "--quick", "--out", str(tmp_path / "speed.json"))
    assert p.returncode == 0, p.stderr
    assert "erm --help (p50)" in p.stdout and "(goal ≤ 0.2 s)" in p.stdout  # the short summary table
    doc = json.loads((tmp_path / "speed.json").read_text())
    print("erm --help:", doc["startup"]["erm_help_seconds"])  # printed, not asserted
    assert doc["startup"]["erm_help_seconds"]["p50"] > 0


# smaller promises: cache clear asks first; no <bool> metavars ----------------------------------------------


def test_cache_clear_refuses_to_remove_everything_without_yes(tmp_path: Path) -> None:
    env = {"ERM_CACHE_DIR": str(tmp_path / "cache")}
    assert erm("render", str(REPO / "examples" / "icon.svg"), "-o", str(tmp_path / "icon.png"), **env).returncode == 0
    p = erm("cache", "clear", **env)  # stdin is not a terminal: nobody to ask
    assert p.returncode == 2 and one_line_error(p) and "--yes" in p.stderr
    info = json.loads(erm("cache", "info", "--json", **env).stdout)
    assert info["entries"] >= 1
    p = erm("cache", "clear", "--yes", "--json", **env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["removed"] == info["entries"]
    assert json.loads(erm("cache", "info", "--json", **env).stdout)["entries"] == 0


@pytest.mark.parametrize("verb", [["render"], ["judge"], ["refine"], ["synth"], ["serve"], ["bench", "judge"],
                                  ["bench", "policy"], ["bench", "speed"], ["train", "reward"], ["train", "policy"],
                                  ["cache", "clear"]])
def test_help_has_no_bool_or_python_type_metavars(verb: list[str]) -> None:
    p = erm(*verb, "--help")
    assert p.returncode == 0, p.stderr
    assert "<bool>" not in p.stdout and "list[" not in p.stdout and "BOOLEAN" not in p.stdout


def test_an_output_path_the_file_system_refuses_is_one_line_exit_2(tmp_path: Path) -> None:
    """A real render whose output folder cannot be written: the path and the reason, no 'internal error'."""
    p = erm("render", str(REPO / "examples" / "icon.svg"), "-o", "/proc/erm-no-such/out.png", cwd=tmp_path)
    assert p.returncode == 2 and one_line_error(p), p.stderr
    assert "/proc/erm-no-such" in p.stderr and "internal error" not in p.stderr
    p = erm("render", str(REPO / "examples" / "icon.svg"), "-o", "/proc/version/out.png", "--json", cwd=tmp_path)
    assert p.returncode == 2 and one_line_error(p), p.stderr
    assert "internal error" not in p.stderr
    assert json.loads(p.stdout)["error"]["code"] == 2
