"""`--ray` on the batch verbs, on a real local Ray instance (2 CPUs) started by this module.

Judge and render batches through Ray give the same records as local runs; a Ray worker killed mid-batch
costs its item a retry, never a lost or duplicated line; an item that kills its worker every time is
recorded once as failed; closing a map kills its actors. Without ``--ray`` Ray is never imported, and
when Ray is missing ``--ray`` says which extra to install.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
MINI = REPO / "examples" / "bench-mini"
N_PAIRS = 20

try:
    import ray
except ImportError:  # the extra is not installed: only the tests that need no Ray run
    ray = None

needs_ray = pytest.mark.skipif(ray is None, reason="needs erm-cli[ray]")


def cli(*args: str) -> Any:
    """The erm CLI in this process (so it reuses the module's Ray instance)."""
    from typer.testing import CliRunner

    from erm_cli.app import app

    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first pairs of examples/bench-mini plus one whose candidate does not exist."""
    folder = tmp_path_factory.mktemp("pairs")
    rows = [json.loads(line) for line in (MINI / "data.jsonl").read_text().splitlines()[:N_PAIRS - 1]]
    for row in rows:
        for key in ("gt_img_path", "pred_img_path"):
            row[key] = str(MINI / row[key])
    rows.append({"id": "missing", "category": "chart", "gt_img_path": rows[0]["gt_img_path"],
                 "pred_img_path": str(folder / "nope.png")})
    data = folder / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data


def judged(out: Path) -> dict[str, dict[str, Any]]:
    """id -> row of predictions.jsonl, checking that no id appears twice; timings dropped."""
    rows: dict[str, dict[str, Any]] = {}
    for line in (out / "predictions.jsonl").read_text().splitlines():
        row = json.loads(line)
        assert row["id"] not in rows, f"{row['id']} written twice"
        row.get("verdict", {}).pop("timings", None)
        rows[row["id"]] = row
    return rows


@needs_ray
def test_judge_batch_on_ray_matches_the_local_run_and_resumes(ray_cluster: Any, pairs: Path,
                                                                tmp_path: Path) -> None:
    shared = ("--batch", str(pairs), "--allowed-root", str(MINI), "--json", "-w", "2")
    local = cli("judge", *shared, "--out-dir", str(tmp_path / "local"))
    assert local.exit_code == 0, local.output
    on_ray = cli("judge", *shared, "--out-dir", str(tmp_path / "ray"), "--ray", "local")
    assert on_ray.exit_code == 0, on_ray.output
    a, b = judged(tmp_path / "local"), judged(tmp_path / "ray")
    assert len(a) == N_PAIRS and a == b
    assert "no such file" in b["missing"]["error"]
    assert sum("verdict" in r for r in b.values()) == N_PAIRS - 1
    # a resumed Ray run skips the finished items and only retries the failed one
    again = cli("judge", *shared, "--out-dir", str(tmp_path / "ray"), "--ray", "local")
    summary = json.loads(again.output[again.output.index("{"):])
    assert summary["resumed"] == N_PAIRS - 1 and summary["failed"] == 1
    assert len((tmp_path / "ray" / "predictions.jsonl").read_text().splitlines()) == N_PAIRS + 1


def _render_items(folder: Path) -> Path:
    items = []
    for i in range(6):
        items.append({"id": f"svg-{i}", "kind": "svg", "code": f'<svg xmlns="http://www.w3.org/2000/svg" '
                      f'width="120" height="80"><rect x="{5 + 7 * i}" y="10" width="40" height="30" '
                      f'fill="#{30 * i:02x}6699"/><text x="10" y="70">item {i}</text></svg>'})
        items.append({"id": f"mpl-{i}", "kind": "matplotlib", "code": "import matplotlib.pyplot as plt\n"
                      f"plt.figure(figsize=(3, 2))\nplt.bar(['a', 'b', 'c'], [{i}, {i + 2}, 3])\n"
                      f"plt.title('chart {i}')\n"})
    items.append({"id": "broken", "kind": "matplotlib", "code": "raise ValueError('no chart')"})
    data = folder / "items.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in items))
    return data


@needs_ray
def test_render_batch_on_ray_gives_identical_pngs(ray_cluster: Any, tmp_path: Path) -> None:
    data = _render_items(tmp_path)
    outs = {}
    for name, extra in (("local", ()), ("ray", ("--ray", "local"))):
        res = cli("render", "--batch", str(data), "--out-dir", str(tmp_path / name), "--no-cache", "--json", *extra)
        assert res.exit_code == 0, res.output
        outs[name] = {json.loads(line)["id"]: json.loads(line)
                      for line in (tmp_path / name / "results.jsonl").read_text().splitlines()}
    assert outs["local"].keys() == outs["ray"].keys() and len(outs["ray"]) == 13
    for item_id, rec in outs["local"].items():
        other = outs["ray"][item_id]
        assert (rec["ok"], rec["png"], rec["error"], rec["kind"]) == (other["ok"], other["png"], other["error"],
                                                                        other["kind"])
        if rec["ok"]:
            digest = [hashlib.sha256((tmp_path / run / rec["png"]).read_bytes()).hexdigest()
                      for run in ("local", "ray")]
            assert digest[0] == digest[1], item_id
    assert not outs["ray"]["broken"]["ok"] and "no chart" in outs["ray"]["broken"]["error"]


@needs_ray
def test_a_killed_worker_costs_a_retry_not_a_lost_or_duplicated_record(ray_cluster: Any, pairs: Path,
                                                                       tmp_path: Path) -> None:
    from functools import partial

    from erm_cli.data.vcbench import read_vcbench
    from erm_cli.distributed.ray_pool import RayPool
    from erm_cli.judges import get_judge
    from erm_cli.judges.batch import judge_records

    records = read_vcbench(pairs, [MINI], per_item_errors=True)
    pool = RayPool(workers=2)
    killed: list[int] = []

    def kill_one_worker(done: int, total: int) -> None:
        if done == 3 and not killed:  # items are in flight on both actors
            pid = ray.get(pool.actors[0].pid.remote())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    summary = judge_records(records, get_judge("critic"), tmp_path / "predictions.jsonl", executor=pool,
                            judge_factory=partial(get_judge, "critic"), on_progress=kill_one_worker)
    assert killed, "the worker was never killed"
    rows = judged(tmp_path)  # asserts every id is written once
    assert set(rows) == {r.id for r in records}
    assert summary["failed"] == 1 and "error" in rows["missing"]  # only the bad item, not the killed one
    assert sum("verdict" in r for r in rows.values()) == N_PAIRS - 1


def assert_dead(actor: Any) -> None:
    """The actor is gone (``ray.kill`` takes effect asynchronously: a call may still be served meanwhile)."""
    for _ in range(60):
        try:
            ray.get(actor.pid.remote(), timeout=30)
        except ray.exceptions.RayActorError:
            return
        time.sleep(0.5)
    pytest.fail("the actor is still alive")


class _DiesOn:
    """A task whose worker process dies on one item every time (a deterministic crash)."""

    def __init__(self, fatal: int) -> None:
        self.fatal = fatal

    def __call__(self, item: int) -> dict[str, Any]:
        if item == self.fatal:
            os._exit(13)
        return {"item": item, "square": item * item, "pid": os.getpid()}

    def failed(self, item: int, reason: str) -> dict[str, Any]:
        return {"item": item, "error": reason}


@needs_ray
@pytest.mark.parametrize("mode", ["actors", "tasks"])
def test_an_item_that_always_kills_its_worker_is_recorded_once_as_failed(ray_cluster: Any, mode: str) -> None:
    from ray import cloudpickle

    from erm_cli.distributed.ray_pool import RayPool

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests/
    pool = RayPool(workers=2, mode=mode, max_retries=1)
    results = list(pool.map_unordered(_DiesOn(fatal=5), list(range(10))))
    assert sorted(index for index, _ in results) == list(range(10))
    by_item = {r["item"]: r for _, r in results}
    assert "worker died 2 times" in by_item[5]["error"]
    assert all(by_item[i]["square"] == i * i for i in range(10) if i != 5)
    if mode == "actors":  # the next map of the same task reuses the warm actors; close() ends them
        pids = {r["pid"] for _, r in pool.map_unordered(_DiesOn(fatal=5), list(range(6, 12)))}
        live = set(ray.get([actor.pid.remote() for actor in pool.actors]))
        assert pids <= live
        actors = list(pool.actors)
        pool.close()
        assert pool.actors == []
        assert_dead(actors[0])


@needs_ray
def test_closing_a_map_early_kills_its_actors(ray_cluster: Any) -> None:
    from ray import cloudpickle

    from erm_cli.distributed.ray_pool import RayPool

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    pool = RayPool(workers=2)
    stream = pool.map_unordered(_DiesOn(fatal=-1), list(range(50)))
    next(stream)
    actors = list(pool.actors)
    stream.close()  # what Ctrl-C does to the driver's loop
    assert pool.actors == []
    for actor in actors:
        assert_dead(actor)


@needs_ray
def test_synth_on_ray_writes_byte_identical_data(ray_cluster: Any, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    args = ("synth", "--task", "chart", "-n", "10", "--seed", "4242", "--plotly-share", "0", "--json")
    on_ray = cli(*args, "--out-dir", str(tmp_path / "ray"), "--ray", "local")  # the workers render (fresh seed)
    assert on_ray.exit_code == 0, on_ray.output
    monkeypatch.setenv("ERM_CACHE_DIR", str(tmp_path / "cache"))  # the local run renders again, here
    local = cli(*args, "--out-dir", str(tmp_path / "local"))
    assert local.exit_code == 0, local.output
    data = [(tmp_path / run / "data.jsonl").read_bytes() for run in ("ray", "local")]
    assert data[0] == data[1] and len(data[0].splitlines()) == 10
    images = [{p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / run / "images").glob("*.png")}
              for run in ("ray", "local")]
    assert images[0] == images[1] and images[0]


@pytest.mark.parametrize("address, needle", [("127.0.0.1:1", "cannot connect to Ray at '127.0.0.1:1'"),
                                             ("ray://127.0.0.1:1", "cannot connect to Ray"),
                                             ("nowhere", "--ray takes local, auto, HOST:PORT")])
def test_an_unreachable_address_is_one_line_exit_2(address: str, needle: str) -> None:
    from erm_cli.distributed.ray_pool import check_reachable
    from erm_cli.errors import InputError

    with pytest.raises(InputError, match=needle.replace("(", r"\(")):
        check_reachable(address)


def test_without_ray_flag_ray_is_never_imported_and_missing_ray_names_the_extra(pairs: Path,
                                                                                  tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from erm_cli.app import main\n"
        "args = ['judge', '--batch', *sys.argv[1:], '--json']\n"
        "try:\n"
        "    main(args)\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('ray imported:', 'ray' in sys.modules)\n"
        "sys.modules['ray'] = None  # as if the extra were not installed\n"
        "try:\n"
        "    main(args + ['--ray', 'local'])\n"
        "except SystemExit as exc:\n"
        "    print('exit:', exc.code)\n"
    )
    p = subprocess.run([sys.executable, "-c", script, str(pairs), "--out-dir", str(tmp_path / "j"), "--allowed-root",
                        str(MINI)], capture_output=True, text=True, timeout=300, cwd=REPO, check=False)
    assert p.returncode == 0, p.stderr
    assert "ray imported: False" in p.stdout and "exit: 2" in p.stdout
    assert p.stderr.strip().splitlines()[-1].endswith("pip install 'erm-cli[ray]'"), p.stderr
    assert "Traceback" not in p.stderr
