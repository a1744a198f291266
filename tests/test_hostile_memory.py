"""Memory caps (issue 13): the erm process's own image decoding and Chromium's whole process tree.

* A decompression bomb (a small PNG whose header promises hundreds of megapixels) is refused from its
  header by the one loader (``erm_cli.imageio``) in every verb that reads images: one line, exit 2, and
  the erm process never grows by the decoded size. In ``erm judge --batch`` only that record fails.
* Chromium's processes together (browser, zygotes, renderer, GPU/utility) are watched during each job and
  all killed past ``--mem-mb`` (``ERM_BROWSER_MEM_MB``): a table whose rendering needs more than the cap
  in total, while every single process stays under its own RLIMIT_DATA, fails with one line (exit 3 from
  ``erm render``), its processes are gone, and the next render gets a fresh browser.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from erm_cli.renderers.browser import find_chromium

ERM = [sys.executable, "-m", "erm_cli.app"]
#: Peak RSS an erm process may reach while refusing a bomb (it imports its libraries; it decodes nothing).
REFUSE_PEAK_MB = 600


def bomb_png(path: Path, side: int, colour_type: int = 0) -> Path:
    """A valid PNG of ``side`` x ``side`` zero pixels (greyscale, or RGBA for ``colour_type`` 6), written row
    by row without ever holding the image: a few hundred KB on disk, ``side**2`` pixels once decoded."""
    channels = {0: 1, 6: 4}[colour_type]

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    comp = zlib.compressobj(9)
    row = b"\0" * (1 + side * channels)
    body = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, colour_type, 0, 0, 0))
                     + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bombs")
    ok = root / "ok.png"
    Image.new("RGB", (160, 120), (250, 250, 250)).save(ok)
    return {"root": root, "ok": ok,
            "bomb": bomb_png(root / "bomb.png", 20000),          # 400 MP: PIL's own check fires at open
            "bomb_rgba": bomb_png(root / "bomb_rgba.png", 9000, 6)}  # 81 MP: under PIL's, over erm's 64 MP


def run_measured(args: list[str], timeout: float = 300) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run ``erm ARGS`` in a fresh Python that reports the peak RSS (MB) of its children."""
    wrapper = ("import json, resource, subprocess, sys\n"
               "p = subprocess.run(json.loads(sys.argv[1]), capture_output=True, text=True)\n"
               "sys.stdout.write(json.dumps([p.returncode, p.stdout, p.stderr, "
               "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024]))\n")
    out = subprocess.run([sys.executable, "-c", wrapper, json.dumps([*ERM, *args])], capture_output=True, text=True,
                         timeout=timeout, check=True)
    code, stdout, stderr, peak = json.loads(out.stdout)
    return subprocess.CompletedProcess(args, code, stdout, stderr), peak


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("which", ["reference", "candidate"])
@pytest.mark.parametrize("bomb", ["bomb", "bomb_rgba"])
def test_a_bomb_given_to_judge_is_refused_from_its_header(images: dict[str, Path], which: str, bomb: str) -> None:
    pair = [images[bomb], images["ok"]] if which == "reference" else [images["ok"], images[bomb]]
    proc, peak_mb = run_measured(["judge", *map(str, pair), "--judge", "mse"])
    assert proc.returncode == 2, proc.stderr
    line = one_line(proc.stderr)
    assert which in line and ("decompression bomb" in line or "pixel limit" in line), line
    assert "internal error" not in line
    assert peak_mb < REFUSE_PEAK_MB, f"erm grew to {peak_mb} MB refusing a bomb"


def test_judge_batch_fails_the_bomb_record_and_judges_the_rest(images: dict[str, Path], tmp_path: Path) -> None:
    data = images["root"]
    rows = [{"id": "fine", "category": "chart", "gt_img_path": "ok.png", "pred_img_path": "ok.png"},
            {"id": "bomb-ref", "category": "chart", "gt_img_path": "bomb.png", "pred_img_path": "ok.png"},
            {"id": "bomb-cand", "category": "chart", "gt_img_path": "ok.png", "pred_img_path": "bomb_rgba.png"},
            {"id": "fine-2", "category": "chart", "gt_img_path": "ok.png", "pred_img_path": "ok.png"}]
    batch = data / f"pairs-{os.getpid()}.jsonl"
    batch.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "j"
    proc, peak_mb = run_measured(["judge", "--batch", str(batch), "--out-dir", str(out), "--judge", "mse", "--json"])
    assert proc.returncode in (0, 3), proc.stderr  # the batch completes; failed records are counted apart
    assert "Traceback" not in proc.stderr
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    by_id = {p["id"]: p for p in preds}
    assert len(preds) == 4 and sorted(by_id) == sorted(r["id"] for r in rows)
    for good in ("fine", "fine-2"):
        assert "verdict" in by_id[good] and not by_id[good].get("error"), by_id[good]
    assert "decompression bomb" in by_id["bomb-ref"]["error"]
    assert "pixel limit" in by_id["bomb-cand"]["error"] or "decompression bomb" in by_id["bomb-cand"]["error"]
    assert peak_mb < REFUSE_PEAK_MB + 400, f"erm grew to {peak_mb} MB judging a batch with bombs"


def test_refine_refuses_a_bomb_reference(images: dict[str, Path], tmp_path: Path) -> None:
    proc, peak_mb = run_measured(["refine", str(images["bomb"]), "--out-dir", str(tmp_path / "r"), "--rounds", "1"])
    assert proc.returncode == 2, proc.stderr
    assert "decompression bomb" in one_line(proc.stderr)
    assert peak_mb < REFUSE_PEAK_MB


def test_every_pil_open_in_the_erm_process_is_bounded(images: dict[str, Path]) -> None:
    """A decoder that bypasses load_image (a renderer re-encoding a screenshot) still meets PIL's bomb check
    at erm's cap, not PIL's default 179 MP."""
    from erm_cli import imageio

    assert Image.MAX_IMAGE_PIXELS == imageio.MAX_PIXELS
    with pytest.raises(Image.DecompressionBombError):
        Image.open(images["bomb"])


# ----------------------------------------------------------------------------------------------- Chromium
BIG_TABLE = "<table>" + "".join("<tr>" + "".join(f"<td>r{i}c{j} value</td>" for j in range(12)) + "</tr>"
                                for i in range(3500)) + "</table>"
SMALL_TABLE = "<table><tr><th>Model</th><th>Score</th></tr><tr><td>erm</td><td>0.91</td></tr></table>"

needs_chromium = pytest.mark.skipif(find_chromium(required=False) is None, reason="Chromium is not installed")


@needs_chromium
def test_chromium_tree_past_the_cap_is_killed_and_the_next_render_starts_fresh() -> None:
    from erm_cli.renderers import RenderOptions, render
    from erm_cli.renderers.browser import browser_mem_mb, get_browser
    from erm_cli.renderers.memwatch import descendants

    if os.environ.get("ERM_BROWSER_MEM_MB"):
        pytest.skip("ERM_BROWSER_MEM_MB overrides --mem-mb for Chromium")
    capped = RenderOptions(timeout=90, mem_mb=512)
    control = render(SMALL_TABLE, kind="html", options=capped, cache=False)
    assert control.ok, control.error  # the idle browser and a small table fit in 512 MB
    before = set(descendants(get_browser()._session.driver_pids))
    assert before
    result = render(BIG_TABLE, kind="html", options=capped, cache=False)
    assert not result.ok
    assert "Chromium's processes together used" in result.error and "512 MB limit" in result.error, result.error
    assert browser_mem_mb() > 512  # no single process hit its own RLIMIT_DATA: the tree cap did this
    alive = {pid for pid in before if Path(f"/proc/{pid}").exists()
             and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:1]}
    assert not alive, f"Chromium processes survived the kill: {sorted(alive)}"
    after = render(SMALL_TABLE, kind="html", options=capped, cache=False)
    assert after.ok, after.error
    assert not before & set(descendants(get_browser()._session.driver_pids))


@needs_chromium
def test_erm_render_of_a_table_past_mem_mb_is_one_line_and_exit_3(tmp_path: Path) -> None:
    page = tmp_path / "big.html"
    page.write_text(BIG_TABLE)
    proc = subprocess.run([*ERM, "render", str(page), "-o", str(tmp_path / "big.png"), "--mem-mb", "512"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 3, proc.stderr
    assert "over the 512 MB limit" in one_line(proc.stderr)
    assert not (tmp_path / "big.png").exists()


def test_bench_policy_records_a_bomb_reference_and_scores_the_rest(images: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    from erm_cli.bench.policy import run_policy_bench

    refs = tmp_path / "refs"
    refs.mkdir()
    shutil.copyfile(images["ok"], refs / "a.png")
    shutil.copyfile(images["bomb"], refs / "b.png")
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="120"><rect width="160" height="120" fill="#fafafa"/></svg>'
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"id": i, "code": svg, "task": "svg"}) + "\n" for i in ("a", "b")))
    summary = run_policy_bench(preds, refs, tmp_path / "run", judge=None, workers=1)
    results = {json.loads(x)["id"]: json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()}
    assert summary["items"] == 2 and sorted(results) == ["a", "b"]
    assert results["a"]["render_ok"] is True and "ref_error" not in results["a"]
    assert "decompression bomb" in results["b"]["ref_error"]


def test_a_render_over_the_pixel_cap_is_a_render_failure_not_an_input_error(images: dict[str, Path],
                                                                               tmp_path: Path) -> None:
    """Candidate code that draws a 9000x9000 chart (it fits in the worker's memory, its PNG is small) is
    refused by the jail's supervisor from the PNG header: a render failure (reward 0, exit 3), never
    decoded in the erm process and never an input error of the judge."""
    from erm_cli import imageio
    from erm_cli.renderers import zygote

    assert zygote.MAX_RENDER_PIXELS == imageio.MAX_PIXELS
    code = tmp_path / "huge.py"
    code.write_text("import matplotlib.pyplot as plt\nfig = plt.figure(figsize=(90, 90), dpi=100)\n"
                    f"plt.plot([1, 2], [3, 4])\n# {os.getpid()} {tmp_path.name}\n")  # a fresh cache key
    proc, peak_mb = run_measured(["judge", str(images["ok"]), str(code), "--judge", "mse", "--json"])
    verdict = json.loads(proc.stdout)
    assert proc.returncode == 3, proc.stderr
    assert verdict["render_ok"] is False and verdict["reward"] == 0
    assert "9000x9000 pixels, over the 64,000,000-pixel limit" in verdict["info"]["render_error"]
    assert peak_mb < REFUSE_PEAK_MB + 400
