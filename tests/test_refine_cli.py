"""`erm refine` on the command line: JSON output, exit codes, batch mode."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_refine_loop import tools as ready  # noqa: F401  (the same skip rules)
from test_view import browser, page  # noqa: F401  (a real headless Chromium)

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "refine"


def _erm(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "erm_cli.app", *args], capture_output=True, text=True, check=False,
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
    assert d["ok"] == 1 and d["failed"] == 0 and d["mean_reward"] is not None, d["failures"]
    pred = json.loads((tmp_path / "run" / "predictions.jsonl").read_text().splitlines()[0])
    assert pred["id"] == "fruit" and (tmp_path / "run" / pred["pred_code_path"]).exists()


# --- -w/--workers on --batch, --timeout per render (issue 15's vocabulary on refine) --------------------------


def _items_jsonl(tmp_path: Path) -> Path:
    """Three real items (an SVG, a chart, a table, each from its wrong init code) and one unreadable image."""
    (tmp_path / "broken.png").write_bytes(b"not a png")
    rows = [{"id": "badge", "image": str(EXAMPLES / "badge.png"), "init": str(EXAMPLES / "badge_init.svg")},
            {"id": "sales", "image": str(EXAMPLES / "sales_bar.png"), "init": str(EXAMPLES / "sales_bar_init.py")},
            {"id": "broken", "image": "broken.png"},
            {"id": "table", "image": str(EXAMPLES / "scores_table.png"),
             "init": str(EXAMPLES / "scores_table_init.html")}]
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return items


def _lines(run: Path) -> list[dict]:
    out = []
    for line in (run / "predictions.jsonl").read_text().splitlines():
        row = json.loads(line)
        row.pop("seconds")
        if row["status"] != "ok":
            assert row["error"] == "reference: not a readable image (no image format recognised)"
        out.append(row)
    return out


def _candidates(item_dir: Path) -> list[tuple]:
    rows = [json.loads(line) for line in (item_dir / "trajectory.jsonl").read_text().splitlines()]
    return [(r["id"], r["parent"], r["code"], r["render"]["ok"], r["reward"], r["accepted"]) for r in rows]


def test_batch_workers_give_the_same_outputs_as_one_at_a_time(ready, tmp_path):
    """-w 2 refines two items at once (real renders, no cache): predictions.jsonl, every item's candidates,
    best code and every render are those of -w 1, in the same order."""
    items = _items_jsonl(tmp_path)
    runs = {}
    for w in ("1", "2"):
        run = tmp_path / f"w{w}"
        p = _erm("refine", "--batch", str(items), "--allowed-root", str(EXAMPLES), "--rounds", "1", "--out-dir",
                 str(run), "-w", w, "--no-cache", "--no-report", "--json", "-q")
        assert p.returncode == 0, p.stderr
        d = json.loads(p.stdout)
        assert (d["ok"], d["failed"], d["ran"]) == (3, 1, 4)
        runs[w] = (run, d)
    (one, s1), (two, s2) = runs["1"], runs["2"]
    assert [r["id"] for r in _lines(two)] == ["badge", "sales", "broken", "table"]  # item order, not finish order
    assert _lines(two) == _lines(one)
    assert [f["id"] for f in s2["failures"]] == ["broken"] and s2["mean_reward"] == s1["mean_reward"]
    for run in (one, two):  # every file the batch writes says its schema version
        assert json.loads((run / "summary.json").read_text())["schema_version"] == "1"
        assert all(json.loads(line)["schema_version"] == "1" for line in (run / "predictions.jsonl").open())
    for item in ("badge", "sales", "table"):
        a, b = one / "items" / item, two / "items" / item
        assert _candidates(b) == _candidates(a)
        assert len(_candidates(a)) >= 2  # a draft and at least one revision were rendered and judged
        code = next(p.name for p in a.iterdir() if p.stem == "best" and p.suffix != ".png")
        assert (b / code).read_text() == (a / code).read_text()
        renders = sorted(p.name for p in (a / "renders").iterdir())
        assert renders and renders == sorted(p.name for p in (b / "renders").iterdir())
        for name in renders + ["../best.png"]:
            assert (b / "renders" / name).read_bytes() == (a / "renders" / name).read_bytes(), (item, name)


def test_workers_is_a_batch_option(tmp_path):
    p = _erm("refine", str(EXAMPLES / "sales_bar.png"), "-w", "2", "--out-dir", str(tmp_path / "r"))
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "--batch" in p.stderr


def test_timeout_fails_the_sleeping_candidate_and_the_loop_goes_on(ready, tmp_path):
    """--timeout 1: the init code sleeps, so its render hits the limit; it is recorded as a failed candidate
    with the reason, and the run goes on with the policy's draft (exit 0, the draft is the best)."""
    sleepy = tmp_path / "sleepy.py"
    sleepy.write_text("import time\nimport matplotlib.pyplot as plt\ntime.sleep(60)\nplt.bar(['a', 'b'], [1, 2])\n")
    out = tmp_path / "r"
    p = _erm("refine", str(EXAMPLES / "sales_bar.png"), "--init", str(sleepy), "--samples", "2", "--rounds", "1",
             "--timeout", "1", "--out-dir", str(out), "--json", "-q")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["config"]["timeout"] == 1.0 and d["best"]["render_ok"] and d["best"]["id"] != "r0-0"
    rows = {r["id"]: r for r in map(json.loads, (out / "trajectory.jsonl").read_text().splitlines())}
    slow = rows["r0-0"]
    assert slow["note"] == "init" and slow["render"]["ok"] is False
    assert "timed out" in slow["render"]["error"] and slow["verdict"]["render_ok"] is False
    assert slow["verdict"]["info"]["render_error"] == slow["render"]["error"]
    assert rows["r0-1"]["render"]["ok"] is True  # the next candidate of the same round rendered
    # only the sleeping candidate: nothing rendered, exit 3 with the reason (not a crash)
    p = _erm("refine", str(EXAMPLES / "sales_bar.png"), "--init", str(sleepy), "--rounds", "0", "--timeout", "1",
             "--out-dir", str(tmp_path / "r2"), "--json", "-q")
    assert p.returncode == 3, p.stderr
    assert "timed out" in p.stderr and "Traceback" not in p.stderr
    p = _erm("refine", str(EXAMPLES / "sales_bar.png"), "--timeout", "0", "--out-dir", str(tmp_path / "r3"))
    assert p.returncode == 2 and "--timeout" in p.stderr


def test_sigint_stops_a_parallel_batch_and_the_rerun_resumes(ready, tmp_path):
    """Ctrl-C (a real SIGINT) during -w 2: exit 130 with how far it got, no traceback, the running items stop
    (they are not recorded) and the re-run refines only what was not saved."""
    import re
    import signal
    import time

    rows = [{"id": f"{stem}{n}", "image": str(EXAMPLES / f"{stem}.png"), "init": str(EXAMPLES / init)}
            for n in range(2) for stem, init in (("sales_bar", "sales_bar_init.py"), ("badge", "badge_init.svg"),
                                                 ("fruit_grouped", "fruit_grouped_init.py"))]
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = tmp_path / "run"
    preds = run / "predictions.jsonl"
    args = ["refine", "--batch", str(items), "--allowed-root", str(EXAMPLES), "--rounds", "3", "--samples", "2",
            "--out-dir", str(run), "--no-report"]
    proc = subprocess.Popen([sys.executable, "-m", "erm_cli.app", *args, "-w", "2"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def saved() -> int:
        return len(preds.read_text().splitlines()) if preds.exists() else 0

    deadline = time.monotonic() + 300
    while saved() < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None, "the batch ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    m = re.fullmatch(r"erm: error: interrupted: (\d+) of 6 saved, re-run to resume", err.strip().splitlines()[-1])
    assert m, err
    n = int(m.group(1))
    assert 1 <= n < 6 and n == saved()
    assert all(json.loads(line)["status"] == "ok" for line in preds.read_text().splitlines())
    again = _erm(*args, "-w", "2", "--json", "-q")
    assert again.returncode == 0, again.stderr
    d = json.loads(again.stdout)
    assert d["skipped_done"] == n and d["ran"] == 6 - n and d["ok"] == 6
    assert [json.loads(line)["id"] for line in preds.read_text().splitlines()] == [r["id"] for r in rows]
    fresh = _erm("refine", "--batch", str(items), "--allowed-root", str(EXAMPLES), "--rounds", "0", "--out-dir",
                 str(run), "--no-report", "--no-resume", "--limit", "2", "--json", "-q")  # start over: the earlier lines go, only the two refined items are left
    assert fresh.returncode == 0, fresh.stderr
    assert json.loads(fresh.stdout)["skipped_done"] == 0 and json.loads(fresh.stdout)["ran"] == 2
    assert [json.loads(line)["id"] for line in preds.read_text().splitlines()] == [r["id"] for r in rows[:2]]
    p = _erm("refine", str(EXAMPLES / "sales_bar.png"), "--no-resume")
    assert p.returncode == 2 and "--batch" in p.stderr


@pytest.mark.browser
def test_batch_writes_a_viewer_from_items_to_their_candidates(ready, tmp_path, page):  # noqa: F811
    """refine --batch writes RUN/index.html (each item's reference against its best render, the failed item
    with its reason) and every item's own page of candidates; checked in a real headless Chromium."""
    items = _items_jsonl(tmp_path)
    run = tmp_path / "run"
    p = _erm("refine", "--batch", str(items), "--allowed-root", str(EXAMPLES), "--rounds", "1", "--out-dir",
             str(run), "-w", "2", "--no-report", "--json", "-q")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["viewer"] == str(run / "index.html")
    doc = json.loads((run / "view.json").read_text())
    assert doc["kind"] == "refine-batch" and {x["id"] for x in doc["pairs"]} == {"badge", "sales", "broken", "table"}
    page.goto((run / "index.html").as_uri())
    assert "mean reward: first draft -> best" in page.locator("#aggregate").inner_text()
    rows = page.locator("#pairs tbody tr")
    assert rows.count() == 4
    ids = [rows.nth(i).get_attribute("data-id") for i in range(4)]
    sales = next(x for x in doc["pairs"] if x["id"] == "sales")
    assert sales["reward"] == round(json.loads((run / "items" / "sales" / "summary.json").read_text())["best"]["reward"], 4)
    rows.nth(ids.index("sales")).locator("a.pair-link").click()
    page.wait_for_selector("#pair-view:not([hidden])")
    assert page.locator("#pair-title").inner_text() == "sales"
    page.wait_for_function("() => [...document.querySelectorAll('#images img')].every(i => i.complete)")
    imgs = page.locator("#images img")
    assert [imgs.nth(i).get_attribute("alt") for i in range(imgs.count())] == ["reference", "candidate"]
    assert all(imgs.nth(i).evaluate("i => i.naturalWidth") > 0 for i in range(2))  # both load from the run
    broken = next(x for x in doc["pairs"] if x["id"] == "broken")
    assert "not a readable image" in broken["failure"]
    for item in ("badge", "sales", "table"):  # each item's own page of candidates
        own = json.loads((run / "items" / item / "view.json").read_text())
        assert own["kind"] == "refine" and len(own["pairs"]) == len(_candidates(run / "items" / item))
