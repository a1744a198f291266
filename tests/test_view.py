"""The run viewer in a real headless Chromium: the index.html that `erm bench judge`, `erm judge --batch` and
`erm refine` write, and `erm view RUN_DIR` serving on loopback (missing diff pictures drawn on request).
The tests load the page, click through to one pair and check what it shows against the run's files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
MINI = REPO / "examples" / "bench-mini" / "data.jsonl"
REFINE = REPO / "examples" / "refine"
ERM = [sys.executable, "-m", "erm_cli.app"]


def erm(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(check=False, args=[*ERM, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, "COLUMNS": "200"})


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    from erm_cli.renderers.browser import find_chromium

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=find_chromium(), headless=True,
                              args=["--no-sandbox"] if os.geteuid() == 0 else [])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    pg.close()
    assert not errors, errors  # no script error on any page


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("bench") / "run"
    p = erm("bench", "judge", str(MINI), "--limit", "8", "--baselines", "", "--out-dir", str(run),
            "--diff-image", str(run / "diffs"))
    assert p.returncode == 0, p.stderr
    assert f"viewer: {run / 'index.html'}" in p.stdout
    assert f"diff images: 8 in {run / 'diffs'}" in p.stdout  # one picture per judged pair
    assert len(list((run / "diffs").glob("*.png"))) == 8
    return run


def _expected_order(pairs: list[dict[str, Any]], key: str) -> list[str]:
    def reward(p: dict[str, Any]) -> float:
        return -1.0 if p["reward"] is None else p["reward"]

    if key == "fp":
        return [p["id"] for p in sorted(pairs, key=lambda p: (-p["fp"], -p["fn"], reward(p), p["id"]))]
    return [p["id"] for p in sorted(pairs, key=lambda p: (-p["fn"], -p["fp"], reward(p), p["id"]))]


def _loaded(img: Any) -> int:
    return int(img.evaluate("e => e.complete ? e.naturalWidth : 0"))


def test_bench_viewer_pages_from_the_aggregate_to_one_pair(bench_run: Path, page: Any) -> None:
    doc = json.loads((bench_run / "view.json").read_text())
    pairs = doc["pairs"]
    assert len(pairs) == 8 and doc["has_gold"]
    page.goto((bench_run / "index.html").as_uri())
    aggregate = page.locator("#aggregate").inner_text()
    assert "items\t8" in aggregate and "critic" in aggregate and "F1h" in aggregate
    rows = page.locator("#pairs tbody tr")
    assert rows.count() == 8
    ids = [rows.nth(i).get_attribute("data-id") for i in range(8)]
    assert ids == _expected_order(pairs, "fp")  # the worst false positives first
    worst = next(p for p in pairs if p["id"] == ids[0])
    assert worst["fp"] == max(p["fp"] for p in pairs) > 0

    rows.first.locator("a.pair-link").click()
    page.wait_for_selector("#pair-view:not([hidden])")
    assert page.locator("#list-view").is_hidden()
    assert page.locator("#pair-title").inner_text() == worst["id"]
    info = page.locator("#pair-info").inner_text()
    assert f"reward {worst['reward']:.3f}" in info and f"false positives {worst['fp_n']}" in info
    imgs = page.locator("#images img")
    page.wait_for_function("() => [...document.querySelectorAll('#images img')].every(i => i.complete)")
    assert [imgs.nth(i).get_attribute("alt") for i in range(imgs.count())] == ["reference", "candidate", "differences"]
    widths = [_loaded(imgs.nth(i)) for i in range(3)]
    assert all(w > 0 for w in widths), widths  # the three pictures really load from the run folder
    assert widths[2] > 3 * widths[0]  # the diff picture: three panels side by side
    verdict = page.locator("#verdict tr")
    assert verdict.count() == len(worst["errors"]) + 1
    assert page.locator("#verdict td", has_text="unmatched (FP)").count() == worst["fp_n"]
    gold = page.locator("#gold tr")
    assert gold.count() == len(worst["gold"]) + 1
    assert page.locator("#gold td", has_text="missed (FN)").count() == worst["fn_n"]
    first_gold = worst["gold"][0]["description"]
    assert first_gold in page.locator("#gold").inner_text()

    # next goes to the second pair of the list; back returns to it, and the other sort reorders it
    page.locator("#next").click()
    page.wait_for_function(f"() => document.getElementById('pair-title').textContent === {json.dumps(ids[1])}")
    page.locator("#back").click()
    page.wait_for_selector("#list-view:not([hidden])")
    page.select_option("#sort", "fn")
    ids_fn = [rows.nth(i).get_attribute("data-id") for i in range(8)]
    assert ids_fn == _expected_order(pairs, "fn")


def test_erm_view_serves_a_batch_and_draws_a_missing_diff_on_request(tmp_path: Path, page: Any) -> None:
    run = tmp_path / "batch"
    p = erm("judge", "--batch", str(MINI), "--out-dir", str(run), "--limit", "3")
    assert p.returncode == 0, p.stderr
    assert (run / "index.html").is_file() and not (run / "diffs").exists()
    page.goto((run / "index.html").as_uri())  # the static page: no diff picture was asked for
    page.locator("#pairs a.pair-link").first.click()
    assert "no diff picture" in page.locator("#images").inner_text()

    server = subprocess.Popen([*ERM, "view", str(run), "--port", "0"], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith(f"serving {run} (3 pairs) at http://127.0.0.1:"), line
        url = line.split(" at ", 1)[1].split()[0]
        page.goto(url)
        rows = page.locator("#pairs tbody tr")
        assert rows.count() == 3
        first = rows.first.get_attribute("data-id")
        rows.first.locator("a.pair-link").click()
        page.wait_for_selector("#pair-view:not([hidden])")
        assert page.locator("#pair-title").inner_text() == first
        diff = page.locator("#images img[alt=differences]")
        page.wait_for_function("() => { const i = document.querySelector('#images img[alt=differences]');"
                               " return i && i.complete && i.naturalWidth > 0 }", timeout=60_000)
        assert _loaded(diff) > 0
        stem = next(p["stem"] for p in json.loads((run / "view.json").read_text())["pairs"] if p["id"] == first)
        assert (run / "diffs" / f"{stem}.png").is_file()  # drawn on request and kept
        # only the page and the files it names are served
        for path in ("/f/999", "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/view.json", "/diff/x"):
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(url.rstrip("/") + path, timeout=10)
            assert err.value.code == 404, path
    finally:
        server.send_signal(signal.SIGINT)
        _, err_text = server.communicate(timeout=30)
    assert server.returncode == 130 and "Traceback" not in err_text
    assert err_text.strip().splitlines()[-1] == "erm: error: interrupted"


def test_erm_view_rebuilds_the_page_of_a_bench_run_from_its_metrics(bench_run: Path, tmp_path: Path) -> None:
    import shutil

    old = tmp_path / "old-run"  # a run made before runs wrote view.json
    shutil.copytree(bench_run, old, ignore=shutil.ignore_patterns("view.json", "index.html", "diffs"))
    p = erm("view", str(old), "--write")
    assert p.returncode == 0, p.stderr
    doc = json.loads((old / "view.json").read_text())
    before = json.loads((bench_run / "view.json").read_text())
    assert [q["id"] for q in doc["pairs"]] == [q["id"] for q in before["pairs"]]  # the same 8 items (--limit)
    assert [q["fp"] for q in doc["pairs"]] == [q["fp"] for q in before["pairs"]]
    assert (old / "index.html").is_file()


def test_erm_view_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    p = erm("view", str(tmp_path), "--write")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "view.json" in p.stderr


def test_refine_run_writes_a_viewer_and_a_report_whose_dots_match_the_caption(tmp_path: Path, page: Any) -> None:
    import re

    from erm_cli.refine.report import BEST_COLOUR, DOT_COLOURS

    out = tmp_path / "refine"
    p = erm("refine", str(REFINE / "sales_bar.png"), "--init", str(REFINE / "sales_bar_init.py"), "--rounds", "2",
            "--out-dir", str(out), "--quiet", "--json")
    assert p.returncode == 0, p.stderr
    result = json.loads(p.stdout)
    assert result["outputs"]["viewer"] == str(out / "index.html")
    page.goto((out / "index.html").as_uri())
    rows = page.locator("#pairs tbody tr")
    assert rows.count() == result["candidates"] >= 2
    assert rows.first.get_attribute("data-id") == result["initial"]["id"]  # lowest reward first
    rows.first.locator("a.pair-link").click()
    page.wait_for_function("() => [...document.querySelectorAll('#images img')].every(i => i.complete)")
    assert [_loaded(i) for i in page.locator("#images img").all()][:2] != [0, 0]
    assert "round 0" in page.locator("#pair-info").inner_text()

    report = (out / "report.html").read_text()
    dots = re.findall(r'<circle class="dot (\w+)"[^>]*fill="(#[0-9a-f]{6})"', report)
    assert len(dots) == result["candidates"]
    for kind, fill in dots:
        assert fill == DOT_COLOURS[kind][0]
    caption = re.search(r"<p class='caption'>(.*?)</p>", report).group(1)  # type: ignore[union-attr]
    for colour, text in DOT_COLOURS.values():  # every colour the plot uses is named in the caption
        assert f"background:{colour}'></span>{text}" in caption
    assert BEST_COLOUR in caption


def test_report_shows_an_unchanged_round_in_one_line(tmp_path: Path) -> None:
    """A round that kept the same best candidate is one line, not its pictures and error list again (the
    candidates are a real run's; the run is replayed with one round that changed nothing)."""
    from PIL import Image

    from erm_cli.refine.config import RefineConfig
    from erm_cli.refine.loop import RefineResult
    from erm_cli.refine.output import read_trajectory
    from erm_cli.refine.report import build_report
    from erm_cli.refine.types import RoundSummary

    out = tmp_path / "refine"
    p = erm("refine", str(REFINE / "sales_bar.png"), "--init", str(REFINE / "sales_bar_init.py"), "--rounds", "1",
            "--out-dir", str(out), "--quiet", "--no-report")
    assert p.returncode == 0, p.stderr
    cands = read_trajectory(out)
    first, last = cands[0], cands[-1]
    assert first.verdict is not None and first.verdict.errors and last.id != first.id
    rounds = [RoundSummary(r, 1, 1, 1, c.id, c.reward, c.n_errors, 1.0, 0) for r, c in enumerate([first, first, last])]
    result = RefineResult(task="chart", kind="matplotlib", policy="search", judge={"name": "critic", "version": "1"},
                          best=last, candidates=cands, rounds=rounds, stop_reason="solved", seconds=1.0,
                          config=RefineConfig(), best_per_round=[first.id, first.id, last.id])
    html = build_report(result, Image.open(REFINE / "sales_bar.png"))
    assert f"Round 1: unchanged (best is still {first.id}" in html
    first_error = first.verdict.sorted_errors()[0].description
    assert html.count(first_error.replace("'", "&#x27;")) == 1  # listed once, under round 0
    assert html.count("<figcaption>reference</figcaption>") == 2  # rounds 0 and 2 show pictures, round 1 does not
