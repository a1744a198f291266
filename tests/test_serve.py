"""`erm serve` over real HTTP on loopback: routes, limits, auth, concurrency, malformed input, the CLI."""

from __future__ import annotations

import base64
import io
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw

from erm_cli.serve import create_app
from erm_cli.serve.testing import running_server

pytest.importorskip("torch")
MODEL_OPTS = {"max_tokens_cap": 8}  # the tiny judge writes junk: keep answers short


def png(colour: tuple[int, int, int], size: tuple[int, int] = (200, 150)) -> bytes:
    img = Image.new("RGB", size, "white")
    ImageDraw.Draw(img).rectangle([20, 30, 120, 130], fill=colour)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


REF, CAND = png((31, 119, 180)), png((255, 127, 14))


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("served")
    (d / "ref.png").write_bytes(REF)
    (d / "sub").mkdir()
    (d / "sub" / "cand.png").write_bytes(CAND)
    outside = tmp_path_factory.mktemp("secret") / "secret.png"
    outside.write_bytes(REF)
    (d / "link.png").symlink_to(outside)
    return d


@pytest.fixture(scope="module")
def server(root: Path):
    app = create_app("vlm", model="tiny:qwen3-vl", model_options=MODEL_OPTS, allowed_root=root, max_concurrency=8,
                     batch_window_ms=50, max_items=16, max_body_mb=2)
    with running_server(app) as url:
        yield url, app


def test_health_and_openapi(server) -> None:
    url, _ = server
    health = httpx.get(f"{url}/health").json()
    assert health["status"] == "ok" and health["judge"]["name"] == "vlm"
    assert health["judge"]["model"] == "tiny:qwen3-vl"
    spec = httpx.get(f"{url}/openapi.json").json()
    assert {"/judge", "/reward", "/health"} <= set(spec["paths"])
    assert httpx.get(f"{url}/docs").status_code == 200


def test_judge_base64_pair(server) -> None:
    url, _ = server
    r = httpx.post(f"{url}/judge", json={"id": "x1", "reference_b64": b64(REF),
                                         "candidate_b64": "data:image/png;base64," + b64(CAND), "task": "chart"},
                   timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == "x1" and body["ok"] and body["render_ok"]
    verdict = body["verdict"]
    assert verdict["task"] == "chart" and verdict["judge"]["model"] == "tiny:qwen3-vl"
    assert body["reward"] == pytest.approx(verdict["reward"]) and body["rl_reward"] == pytest.approx(1 + body["reward"])


def test_paths_are_confined_to_the_allowed_root(server) -> None:
    url, _ = server
    ok = httpx.post(f"{url}/judge", json={"reference_path": "ref.png", "candidate_path": "sub/cand.png",
                                          "task": "svg"}, timeout=120)
    assert ok.status_code == 200, ok.text
    for bad in ("../secret/secret.png", "/etc/passwd", "link.png"):
        r = httpx.post(f"{url}/judge", json={"reference_path": bad, "candidate_b64": b64(CAND)}, timeout=30)
        assert r.status_code == 403, (bad, r.text)
        assert "outside the allowed root" in r.json()["detail"]
    r = httpx.post(f"{url}/judge", json={"reference_path": "missing.png", "candidate_b64": b64(CAND)}, timeout=30)
    assert r.status_code == 400 and "no such file" in r.json()["detail"]


@pytest.mark.parametrize("payload, status, fragment", [
    ({"candidate_b64": b64(CAND)}, 400, "exactly one of reference"),
    ({"reference_b64": b64(REF), "reference_path": "ref.png", "candidate_b64": b64(CAND)}, 400, "exactly one"),
    ({"reference_b64": "%%%not-base64", "candidate_b64": b64(CAND)}, 400, "not valid base64"),
    ({"reference_b64": b64(b"GIF89a-truncated"), "candidate_b64": b64(CAND)}, 400, "not a readable image"),
    ({"reference_b64": b64(REF), "candidate_b64": b64(CAND), "task": "diagram"}, 422, ""),
    ({"reference_b64": b64(REF), "candidate_b64": b64(CAND), "surprise": 1}, 422, ""),
])
def test_malformed_requests(server, payload: dict, status: int, fragment: str) -> None:
    url, _ = server
    r = httpx.post(f"{url}/judge", json=payload, timeout=30)
    assert r.status_code == status, r.text
    assert fragment in str(r.json()["detail"])


def test_broken_json_body(server) -> None:
    url, _ = server
    r = httpx.post(f"{url}/judge", content=b'{"reference_b64": ', headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_oversized_bodies_are_refused(server) -> None:
    url, _ = server
    big = {"reference_b64": "A" * (3 * 1024 * 1024), "candidate_b64": b64(CAND)}
    r = httpx.post(f"{url}/judge", json=big, timeout=30)
    assert r.status_code == 413 and "too large" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(40):
            yield b"x" * (100 * 1024)

    r = httpx.post(f"{url}/judge", content=chunks(), headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 413


def test_reward_batch_fails_items_alone(server) -> None:
    url, _ = server
    items = [{"id": "good", "reference_b64": b64(REF), "candidate_b64": b64(CAND), "task": "chart"},
             {"id": "bad-b64", "reference_b64": "***", "candidate_b64": b64(CAND)},
             {"id": "outside", "reference_path": "../x.png", "candidate_b64": b64(CAND)},
             {"id": "good2", "reference_path": "ref.png", "candidate_b64": b64(REF), "task": "table"}]
    r = httpx.post(f"{url}/reward", json={"items": items, "include_verdicts": True}, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["id"] for x in body["results"]] == ["good", "bad-b64", "outside", "good2"]
    assert [x["ok"] for x in body["results"]] == [True, False, False, True]
    assert body["rewards"][1] == body["rewards"][2] == 0.0
    assert "base64" in body["results"][1]["error"] and "outside" in body["results"][2]["error"]
    assert body["rewards"][0] == pytest.approx(body["results"][0]["rl_reward"])
    assert body["results"][3]["verdict"]["task"] == "table"
    too_many = httpx.post(f"{url}/reward", json={"items": items * 5}, timeout=30)
    assert too_many.status_code == 413


def test_concurrent_requests_all_answer_and_share_batches(server) -> None:
    url, app = server
    payload = {"reference_b64": b64(REF), "candidate_b64": b64(CAND), "task": "table"}

    def call(i: int) -> int:
        return httpx.post(f"{url}/judge", json={**payload, "id": str(i)}, timeout=180).status_code

    before = dict(app.state.judge.backend.stats)
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(call, range(8)))
    after = app.state.judge.backend.stats
    assert codes == [200] * 8
    assert after["calls"] - before["calls"] >= 8
    assert after["largest_batch"] >= 2  # concurrent requests were merged into batched generate calls


def test_bearer_token() -> None:
    app = create_app("vlm", model="tiny:qwen3-vl", model_options=MODEL_OPTS, token="t0ken")
    payload = {"reference_b64": b64(REF), "candidate_b64": b64(CAND), "task": "svg"}
    with running_server(app) as url:
        assert httpx.get(f"{url}/health").status_code == 200  # open for load balancers
        assert httpx.post(f"{url}/judge", json=payload).status_code == 401
        wrong = httpx.post(f"{url}/judge", json=payload, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        right = httpx.post(f"{url}/judge", json=payload, headers={"Authorization": "Bearer t0ken"}, timeout=120)
        assert right.status_code == 200


def test_busy_server_answers_503_and_slow_items_504() -> None:
    app = create_app("vlm", model="tiny:qwen3-vl", model_options=MODEL_OPTS, max_concurrency=1, max_queue=0)
    payload = {"reference_b64": b64(REF), "candidate_b64": b64(CAND), "task": "chart"}
    with running_server(app) as url, ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda _: httpx.post(f"{url}/judge", json=payload, timeout=180), range(6)))
    codes = sorted(r.status_code for r in responses)
    assert 200 in codes and 503 in codes
    assert all(r.headers.get("retry-after") == "1" for r in responses if r.status_code == 503)
    slow = create_app("vlm", model="tiny:qwen3-vl", model_options=MODEL_OPTS, timeout=0.01)
    with running_server(slow) as url:
        r = httpx.post(f"{url}/judge", json=payload, timeout=60)
        assert r.status_code == 504 and "timed out" in r.json()["detail"]
        batch = httpx.post(f"{url}/reward", json={"items": [payload]}, timeout=60).json()
        assert batch["rewards"] == [0.0] and "timed out" in batch["results"][0]["error"]


def test_openai_mode_serves_chat_completions() -> None:
    app = create_app("vlm", model="tiny:qwen3-vl", openai_model="tiny:qwen3-vl", served_model_name="judge",
                     model_options=MODEL_OPTS)
    image = "data:image/png;base64," + b64(REF)
    with running_server(app) as url:
        assert httpx.get(f"{url}/v1/models").json()["data"][0]["id"] == "judge"
        body = {"model": "judge", "max_tokens": 5, "n": 2, "temperature": 0,
                "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": image}},
                                                          {"type": "text", "text": "Describe."}]}]}
        r = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["object"] == "chat.completion" and len(out["choices"]) == 2
        assert out["choices"][0]["message"]["content"] == out["choices"][1]["message"]["content"]  # greedy
        assert out["usage"]["completion_tokens"] > 0
        assert httpx.post(f"{url}/v1/chat/completions", json={**body, "model": "x"}).status_code == 404
        assert httpx.post(f"{url}/v1/chat/completions", json={**body, "stream": True}).status_code == 400
        remote_img = {**body, "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "http://example.com/a.png"}}]}]}
        bad = httpx.post(f"{url}/v1/chat/completions", json=remote_img)
        assert bad.status_code == 400 and "data: image URIs" in bad.json()["error"]["message"]
        assert httpx.post(f"{url}/v1/chat/completions", json={**body, "max_tokens": 10**6}).status_code == 400
        # the judge and the chat endpoint share one loaded model
        assert app.state.judge.backend.inner is app.state.judge.backend.inner


def test_renders_candidate_code() -> None:
    from erm_cli.renderers import render

    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="150"><rect x="20" y="30" width="100" ' \
          'height="100" fill="#ff7f0e"/></svg>'
    try:
        if not render(svg).ok:
            pytest.skip("the SVG renderer is not working in this build")
    except NotImplementedError:
        pytest.skip("renderers have not landed in this build")
    app = create_app("vlm", model="tiny:qwen3-vl", model_options=MODEL_OPTS)
    with running_server(app) as url:
        ok = httpx.post(f"{url}/judge", json={"reference_b64": b64(REF), "candidate_code": f"```svg\n{svg}\n```"},
                        timeout=120).json()
        broken = httpx.post(f"{url}/judge", json={"reference_b64": b64(REF), "candidate_code": "<svg><rect"},
                            timeout=120).json()
    assert ok["render_ok"] and ok["verdict"]["task"] == "svg" and ok["rl_reward"] >= 1.0
    assert not broken["render_ok"] and broken["rl_reward"] == 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_starts_a_working_server() -> None:
    port = free_port()
    erm = Path(sys.executable).with_name("erm")
    proc = subprocess.Popen([str(erm), "serve", "--judge", "vlm", "--model", "tiny:qwen3-vl", "--openai",
                             "--port", str(port), "--log-level", "warning"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert health is not None, proc.stderr.read() if proc.poll() is not None else "no answer"
        assert health["judge"]["model"] == "tiny:qwen3-vl" and health["openai_model"] == "tiny-qwen3-vl"
        r = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=120,
                       json={"model": "tiny-qwen3-vl", "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "erm serve: judge vlm" in proc.stderr.read()


def test_cli_allowed_root_is_repeatable(tmp_path: Path) -> None:
    """`erm serve --allowed-root A --allowed-root B` (a real server on loopback, the critic judge): a file under
    either folder is judged (relative names are looked up in A then B, absolute ones may be in either), and a
    path outside both, a symlink out of them or a `..` escape is refused with 403 'outside the allowed root'."""
    a, b, secret = tmp_path / "refs", tmp_path / "cands", tmp_path / "secret"
    for d in (a, b, secret):
        d.mkdir()
    (a / "ref.png").write_bytes(REF)
    (b / "cand.png").write_bytes(CAND)
    (b / "same.png").write_bytes(REF)
    (secret / "secret.png").write_bytes(REF)
    (a / "link.png").symlink_to(secret / "secret.png")
    port = free_port()
    erm = Path(sys.executable).with_name("erm")
    proc = subprocess.Popen([str(erm), "serve", "--allowed-root", str(a), "--allowed-root", str(b), "--port",
                             str(port), "--log-level", "warning"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"{url}/health", timeout=2).json()
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert health is not None, proc.stderr.read() if proc.poll() is not None else "no answer"

        def judge(ref: str, cand: str) -> httpx.Response:
            return httpx.post(f"{url}/judge", json={"reference_path": ref, "candidate_path": cand, "task": "svg"},
                              timeout=120)

        differ = judge("ref.png", "cand.png")  # one file in each root, both by relative name
        assert differ.status_code == 200, differ.text
        assert differ.json()["ok"] and differ.json()["render_ok"] and differ.json()["reward"] < 1.0
        same = judge(str(a / "ref.png"), str(b / "same.png"))  # absolute paths, one in each root
        assert same.status_code == 200, same.text
        assert same.json()["reward"] > differ.json()["reward"]
        for bad in (str(secret / "secret.png"), "../secret/secret.png", "link.png", "/etc/passwd"):
            r = judge("ref.png", bad)
            assert r.status_code == 403, (bad, r.text)
            assert r.json()["detail"].startswith("candidate_path: ") and "outside the allowed root" in r.text
            assert str(secret) not in r.json()["detail"].replace(bad, "")  # the server's layout is not told
        missing = judge("ref.png", "nowhere.png")
        assert missing.status_code == 400 and "no such file" in missing.json()["detail"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_cli_rejects_bad_setups_with_exit_code_2() -> None:
    erm = Path(sys.executable).with_name("erm")
    for args, fragment in ((["--judge", "vlm"], "needs --model"), (["--judge", "oracle"], "unknown judge")):
        out = subprocess.run([str(erm), "serve", *args], capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode == 2 and fragment in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_loadtest_reports_figures(server, tmp_path) -> None:
    from erm_cli.serve.loadtest import run

    url, _ = server
    ref = tmp_path / "ref.png"
    ref.write_bytes(REF)
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="150"><rect width="90" height="90"/></svg>'
    figures = run(url, ref, svg, requests=4, concurrency=2, batch=2, vary=True, token=None, timeout=120)
    assert figures["ok"] == 4 and figures["items_per_s"] > 0
    assert figures["latency_p50_s"] <= figures["latency_p95_s"]
