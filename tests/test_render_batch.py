"""`erm render --batch`: one result line per item, bad items fail alone, resumable after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from erm_cli.renderers.batch import png_name, render_batch

PLT = "import matplotlib.pyplot as plt\n"


def write_jsonl(path: Path, records: list) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))


def results(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_batch_with_bad_items(tmp_path: Path, examples_dir: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "ok.py").write_text(PLT + "plt.plot([1, 2])\n")
    items = tmp_path / "items.jsonl"
    write_jsonl(items, [
        {"id": "from-path", "path": "code/ok.py"},
        {"id": "icon", "path": str(examples_dir / "icon.svg")},
        {"id": "inline", "code": PLT + "plt.bar(['a'], [1])\n", "kind": "matplotlib"},
        {"id": "broken", "code": PLT + "plt.plot([1, 2], [1])\n"},
        {"id": "missing", "path": "code/nope.py"},
        "{not json",
        {"path": "code/ok.py"},
        {"id": "from-path", "code": "duplicate"},
        {"id": "weird/id with spaces", "code": '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'},
        {"id": "badkind", "code": "x", "kind": "cobol"},
    ])
    out = tmp_path / "out"
    summary = render_batch(items, out, workers=3, allowed_root=[examples_dir])  # icon.svg lives outside
    recs = {r["id"]: r for r in results(out)}
    assert summary.total == 10 and summary.ok == 4 and summary.failed == 6
    assert len(recs) == 10
    for ok_id in ("from-path", "icon", "inline", "weird/id with spaces"):
        assert recs[ok_id]["ok"] and (out / recs[ok_id]["png"]).is_file()
        assert set(recs[ok_id]) == {"id", "png", "ok", "error", "seconds", "cache_hit", "kind", "schema_version"}
    assert "ValueError" in recs["broken"]["error"] and recs["broken"]["png"] is None
    assert "no such file" in recs["missing"]["error"]
    assert "invalid JSON" in recs["line-6"]["error"] and "no 'id'" in recs["line-7"]["error"]
    assert "duplicate id" in recs["from-path@line8"]["error"]
    assert "unknown kind" in recs["badkind"]["error"]
    assert recs["weird/id with spaces"]["png"] == png_name("weird/id with spaces") != "weird/id with spaces.png"
    # input order is kept in the compacted file
    assert [r["id"] for r in results(out)][:3] == ["from-path", "icon", "inline"]

    again = render_batch(items, out, workers=3, allowed_root=[examples_dir])
    assert again.skipped == 10 and again.rendered == 0
    retried = render_batch(items, out, workers=3, retry_failed=True, allowed_root=[examples_dir])
    assert retried.skipped == 4 and retried.rendered == 1  # only 'broken' is renderable; bad lines fail again
    assert len(results(out)) == 10


def test_resume_after_kill_9(tmp_path: Path) -> None:
    n = 8
    items = tmp_path / "slow.jsonl"
    write_jsonl(items, [{"id": f"item{i}", "code": PLT + f"import time\ntime.sleep(0.6)\nplt.plot([0, {i}])\n"}
                        for i in range(n)])
    out = tmp_path / "out"
    cmd = [str(Path(sys.executable).with_name("erm")), "render", "--batch", str(items), "--out-dir", str(out),
           "--workers", "1", "--no-cache", "--json"]
    env = dict(os.environ)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    results_file = out / "results.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if results_file.exists() and len(results_file.read_text().splitlines()) >= 2:
            break
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {json.loads(line)["id"] for line in results_file.read_text().splitlines() if line.endswith("}")}
    assert 2 <= len(done_before) < n
    mtimes = {i: (out / f"{i}.png").stat().st_mtime_ns for i in done_before}

    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert second.returncode == 0, second.stderr[-2000:]
    summary = json.loads(second.stdout)
    assert summary["skipped"] == len(done_before) and summary["rendered"] == n - len(done_before)
    recs = results(out)
    assert [r["id"] for r in recs] == [f"item{i}" for i in range(n)] and all(r["ok"] for r in recs)
    assert all((out / f"{i}.png").stat().st_mtime_ns == mtimes[i] for i in done_before)  # not redone
