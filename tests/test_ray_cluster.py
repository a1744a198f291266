"""`erm judge --batch --ray HOST:PORT` against a separately started cluster: `ray start --head` on 127.0.0.1
(2 CPUs, its own ports and temp folder) started by this module and stopped in its teardown, with no
process of it left behind.

The batch through the cluster gives the local run's records; Ctrl-C (SIGINT to the driver) stops the
driver and leaves no erm task or actor running on the cluster (its CPUs are all free again).

`ray stop` is not used: it would stop every Ray process on the machine. The cluster's processes are found
by its own temp folder and ended by process id.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
MINI = REPO / "examples" / "bench-mini"
RAY = Path(sys.executable).parent / "ray"

pytest.importorskip("ray", reason="needs erm-cli[ray]")


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def cluster_pids(marker: str) -> list[int]:
    """Processes whose command line names the cluster's temp folder (gcs, raylet, workers, agents)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and int(entry.name) != os.getpid():
            pids.append(int(entry.name))
    return pids


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the processes whose parent is ``pid`` (a raylet's workers)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                out.append((int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
        except (OSError, ValueError, IndexError):
            continue
    return out


def stop_cluster(marker: str) -> None:
    for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 10.0)):
        pids = cluster_pids(marker)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while cluster_pids(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not cluster_pids(marker):
            return


@pytest.fixture(scope="module")
def head() -> Iterator[dict[str, Any]]:
    temp = tempfile.mkdtemp(prefix="ermray", dir="/tmp")  # short: Ray's socket paths live under it
    gcs, client, node, objects, agent, agent_grpc, runtime_env, metrics = free_ports(8)
    cmd = [str(RAY), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(gcs), "--num-cpus", "2",
           "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", temp,
           "--ray-client-server-port", str(client), "--node-manager-port", str(node),
           "--object-manager-port", str(objects), "--dashboard-agent-listen-port", str(agent),
           "--dashboard-agent-grpc-port", str(agent_grpc), "--runtime-env-agent-port", str(runtime_env),
           "--metrics-export-port", str(metrics)]
    started = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=REPO, check=False)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        raylet = [p for p in cluster_pids(temp) if "raylet" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
                  and "/raylet" in Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[0].decode()]
        yield {"address": f"127.0.0.1:{gcs}", "temp": temp, "raylet": raylet[0] if raylet else None}
    finally:
        stop_cluster(temp)
        left = cluster_pids(temp)
        shutil.rmtree(temp, ignore_errors=True)
        assert not left, f"processes of the test cluster left: {left}"


def pairs_file(folder: Path, n: int) -> Path:
    rows = [json.loads(line) for line in (MINI / "data.jsonl").read_text().splitlines()[:n]]
    for row in rows:
        for key in ("gt_img_path", "pred_img_path"):
            row[key] = str(MINI / row[key])
    data = folder / f"pairs{n}.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data


def erm(*args: str, **kw: Any) -> Any:
    return subprocess.Popen([sys.executable, "-m", "erm_cli.app", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, **kw)


def judged(path: Path) -> dict[str, Any]:
    rows = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        assert row["id"] not in rows
        row.get("verdict", {}).pop("timings", None)
        rows[row["id"]] = row
    return rows


def cluster_cpus_free(address: str) -> float:
    """Free CPUs of the cluster, asked by a separate driver."""
    code = ("import ray, sys\nfrom erm_cli.distributed.ray_pool import connect\nconnect(sys.argv[1])\n"
            "print(ray.available_resources().get('CPU', 0.0))\n")
    p = subprocess.run([sys.executable, "-c", code, address], capture_output=True, text=True, timeout=120,
                       check=False)
    assert p.returncode == 0, p.stderr
    return float(p.stdout.strip().splitlines()[-1])


def test_judge_batch_on_a_started_cluster_matches_the_local_run(head: dict[str, Any], tmp_path: Path) -> None:
    data = pairs_file(tmp_path, 6)
    shared = ("judge", "--batch", str(data), "--allowed-root", str(MINI), "--json", "-w", "2")
    runs = {"local": erm(*shared, "--out-dir", str(tmp_path / "local")),
            "ray": erm(*shared, "--out-dir", str(tmp_path / "ray"), "--ray", head["address"])}
    for name, proc in runs.items():
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, (name, err[-2000:])
    a, b = judged(tmp_path / "local" / "predictions.jsonl"), judged(tmp_path / "ray" / "predictions.jsonl")
    assert len(a) == 6 and a == b


def test_ctrl_c_leaves_no_ray_task_running(head: dict[str, Any], tmp_path: Path) -> None:
    data = pairs_file(tmp_path, 40)
    out = tmp_path / "run"
    proc = erm("judge", "--batch", str(data), "--allowed-root", str(MINI), "--out-dir", str(out), "-w", "2",
               "--ray", head["address"])
    predictions = out / "predictions.jsonl"
    deadline = time.monotonic() + 600
    while not (predictions.exists() and predictions.read_text().count("\n") >= 2):  # actors are at work
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "no item finished"
        time.sleep(0.2)
    if head["raylet"]:
        busy = [cmd for _, cmd in children(head["raylet"]) if cmd.startswith("ray::_ItemWorker")]
        assert busy, "no erm actor was running before Ctrl-C"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    done = predictions.read_text().count("\n")
    assert 2 <= done < 40  # interrupted mid-batch, lines written so far kept
    # the cluster gets all its CPUs back and runs no erm actor any more
    deadline = time.monotonic() + 120
    while cluster_cpus_free(head["address"]) < 2.0:
        assert time.monotonic() < deadline, "Ray tasks still hold the cluster's CPUs after Ctrl-C"
        time.sleep(1.0)
    if head["raylet"]:
        left = [cmd for _, cmd in children(head["raylet"]) if cmd.startswith("ray::_ItemWorker")]
        assert not left, left


def test_erm_serve_on_the_cluster_answers_and_leaves_nothing_behind(head: dict[str, Any]) -> None:
    import httpx

    (port,) = free_ports(1)
    proc = erm("serve", "--ray", head["address"], "--port", str(port), "--replicas", "2", "--replica-cpus", "1",
               "--token", "secret")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    health = None
    while health is None:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "erm serve --ray did not come up"
        try:
            r = httpx.get(f"{url}/health", timeout=5)
        except httpx.HTTPError:
            time.sleep(1.0)
            continue
        if r.status_code == 200:
            health = r.json()
        else:  # Ray Serve's proxy answers 404 "Path '/health' not found" until the app's route is deployed
            time.sleep(1.0)
    assert health["judge"]["name"] == "critic" and health["max_concurrency"] == 8  # 2 replicas x 4 threads
    reference = (MINI / json.loads((MINI / "data.jsonl").read_text().splitlines()[0])["gt_img_path"]).read_bytes()
    item = {"reference_b64": base64.b64encode(reference).decode(), "candidate_b64": base64.b64encode(reference).decode()}
    r = httpx.post(f"{url}/judge", json=item, headers={"Authorization": "Bearer secret"}, timeout=300)
    assert r.status_code == 200 and r.json()["ok"] and r.json()["rl_reward"] > 1.0
    assert httpx.post(f"{url}/judge", json=item, timeout=60).status_code == 401
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=180)
    assert proc.returncode in (0, 130)
    deadline = time.monotonic() + 120
    while cluster_cpus_free(head["address"]) < 2.0:  # the replicas are gone
        assert time.monotonic() < deadline, "Ray Serve replicas still hold the cluster's CPUs"
        time.sleep(1.0)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/health", timeout=5)
