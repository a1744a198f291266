"""`erm serve --ray`: the reward service as a Ray Serve application (two judge replicas with request
batching behind the same HTTP app), on a real local Ray instance (2 CPUs) started by this module.

32 concurrent `/reward` requests on loopback are answered with the rewards the local server gives for the
same items, `/health` keeps answering meanwhile, and the bearer token and the body limit hold as in the
local server.
"""

from __future__ import annotations

import base64
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
REFINE = REPO / "examples" / "refine"
TOKEN = "t0ken-for-tests"

ray = pytest.importorskip("ray", reason="needs erm-cli[ray]")
pytest.importorskip("ray.serve", reason="needs erm-cli[ray] (ray[serve])")
httpx = pytest.importorskip("httpx")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_serve_url() -> Any:
    from erm_cli.serve.ray_app import RayServeOptions, deploy, undeploy

    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    options = RayServeOptions(judge="critic", replicas=2, replica_cpus=1.0, threads=2, max_batch=4,
                              batch_window_ms=20.0,
                              app_options={"token": TOKEN, "max_body_mb": 1.0, "timeout": 120.0})
    try:
        yield deploy(options, host="127.0.0.1", port=free_port())
    finally:
        undeploy()
        ray.shutdown()


def _items() -> list[dict[str, Any]]:
    """Four different candidates for one reference icon: exact, a worse draft, one that does not render,
    and a recoloured one."""
    reference = base64.b64encode((REFINE / "badge.png").read_bytes()).decode()
    good = (REFINE / "badge.svg").read_text()
    return [{"id": "good", "reference_b64": reference, "candidate_code": good, "task": "svg"},
            {"id": "draft", "reference_b64": reference, "candidate_code": (REFINE / "badge_init.svg").read_text(),
             "task": "svg"},
            {"id": "broken", "reference_b64": reference, "candidate_code": "<svg xmlns='http://www.w3.org/2000/svg'><rect",
             "task": "svg", "kind": "svg"},
            {"id": "recoloured", "reference_b64": reference, "task": "svg",
             "candidate_code": good.replace("#", "#0", 1) if "#" in good else good + "<!-- -->"}]


def _local_rewards(items: list[dict[str, Any]]) -> dict[str, tuple[float, float, bool]]:
    from erm_cli.serve import create_app
    from erm_cli.serve.testing import running_server

    with running_server(create_app("critic", token=TOKEN)) as url:
        r = httpx.post(f"{url}/reward", json={"items": items}, headers={"Authorization": f"Bearer {TOKEN}"},
                       timeout=300)
    assert r.status_code == 200, r.text
    return {x["id"]: (x["reward"], x["rl_reward"], x["ok"]) for x in r.json()["results"]}


def test_32_concurrent_rewards_match_the_local_server_and_health_stays_responsive(ray_serve_url: str) -> None:
    items = _items()
    expected = _local_rewards(items)
    assert expected["good"][0] > expected["draft"][0] and expected["broken"] == (0.0, 0.0, False)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    health: list[int] = []
    done = threading.Event()

    def probe() -> None:
        with httpx.Client(timeout=30) as client:
            while not done.is_set():
                health.append(client.get(f"{ray_serve_url}/health").status_code)
                done.wait(0.2)

    def reward(k: int) -> dict[str, Any]:
        item = dict(items[k % len(items)], id=f"{items[k % len(items)]['id']}-{k}")
        r = httpx.post(f"{ray_serve_url}/reward", json={"items": [item]}, headers=headers, timeout=600)
        assert r.status_code == 200, r.text
        return r.json()["results"][0]

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        with ThreadPoolExecutor(max_workers=32) as pool:
            answers = list(pool.map(reward, range(32)))
    finally:
        done.set()
        prober.join()
    assert len(answers) == 32
    for k, answer in enumerate(answers):
        name = items[k % len(items)]["id"]
        assert answer["id"] == f"{name}-{k}"
        assert (answer["reward"], answer["rl_reward"], answer["ok"]) == expected[name], name
    assert len(health) >= 3 and set(health) == {200}  # answered throughout the 32 requests
    # both replicas took pairs, and Ray Serve grouped concurrent requests into batches
    from ray import serve

    handle = serve.get_deployment_handle("JudgeReplica", app_name="erm")
    stats = {s["pid"]: s for s in (handle.stats.remote().result() for _ in range(16))}
    assert len(stats) == 2 and all(s["pairs"] > 0 for s in stats.values())
    assert max(s["largest_batch"] for s in stats.values()) >= 2


def test_the_http_rules_of_the_local_server_hold(ray_serve_url: str) -> None:
    item = _items()[0]
    assert httpx.post(f"{ray_serve_url}/judge", json=item, timeout=60).status_code == 401  # no token
    wrong = httpx.post(f"{ray_serve_url}/judge", json=item, headers={"Authorization": "Bearer nope"}, timeout=60)
    assert wrong.status_code == 401
    one = httpx.post(f"{ray_serve_url}/judge", json=item, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=300)
    assert one.status_code == 200 and one.json()["ok"] and one.json()["verdict"]["task"] == "svg"
    big = httpx.post(f"{ray_serve_url}/judge", content=b"x" * (2 << 20),
                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}, timeout=60)
    assert big.status_code == 413
    bad = httpx.post(f"{ray_serve_url}/judge", json={**item, "reference_b64": "bm90IGFuIGltYWdl"},
                     headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    assert bad.status_code == 400 and "reference" in bad.json()["detail"]
    health = httpx.get(f"{ray_serve_url}/health", timeout=30).json()
    assert health["judge"]["name"] == "critic" and health["max_concurrency"] == 4
