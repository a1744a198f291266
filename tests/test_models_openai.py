"""The openai: backend over real HTTP on loopback: against `erm serve --openai` (a real tiny model) and
against small scripted third-party servers (rate limits, 5xx, slow answers, strict parameter checks)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from PIL import Image, ImageDraw

from erm_cli.models import load_model
from erm_cli.models.base import Sampling
from erm_cli.models.openai import OpenAIBackend, normalise_base_url, to_openai_messages
from erm_cli.serve import create_app
from erm_cli.serve.testing import running_server

pytest.importorskip("torch")


def chart(height: int) -> Image.Image:
    img = Image.new("RGB", (320, 240), "white")
    ImageDraw.Draw(img).rectangle([40, 220 - height, 90, 220], fill=(214, 39, 40))
    return img


def ask(img: Image.Image, text: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "image", "image": img}, {"type": "text", "text": text}]}]


@pytest.fixture(scope="module")
def tiny_server():
    app = create_app(None, openai_model="tiny:qwen3-vl", max_concurrency=8, batch_window_ms=30)
    with running_server(app) as url:
        yield url


def scripted_app(script: list[Any], hits: list[dict], strict: bool = False, delay: float = 0.0,
                 token: str | None = None) -> FastAPI:
    """An OpenAI-style server answering from ``script`` (status codes, or "ok"), recording each request."""
    app = FastAPI()
    lock = threading.Lock()

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": "scripted-model", "object": "model"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        with lock:
            hits.append({"body": body, "auth": request.headers.get("authorization")})
            step = script.pop(0) if script else "ok"
        if delay:
            await asyncio.sleep(delay)
        if token is not None and request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
        if strict and ("top_k" in body or "repetition_penalty" in body):
            return JSONResponse({"error": {"message": "Unrecognized request argument supplied: top_k"}},
                                status_code=400)
        if step == "junk":
            return JSONResponse({"unexpected": True})
        if isinstance(step, int):
            return JSONResponse({"error": {"message": f"scripted {step}"}}, status_code=step,
                                headers={"Retry-After": "0"} if step == 429 else {})
        return {"id": "x", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": f"answer {len(hits)}"},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13}}

    return app


def test_base_url_normalisation() -> None:
    assert normalise_base_url("http://h:8000") == "http://h:8000/v1"
    assert normalise_base_url("http://h:8000/v1/") == "http://h:8000/v1"
    assert normalise_base_url("http://h/v1/chat/completions") == "http://h/v1"
    assert normalise_base_url("https://api.x.com/openai/v1") == "https://api.x.com/openai/v1"


def test_images_become_data_uris_and_judge_jpeg_bytes_are_reused() -> None:
    from erm_cli.judges.vlm import prepare_image

    img = prepare_image(chart(50), 1024)
    [msg] = to_openai_messages(ask(img, "x"))
    url = msg["content"][0]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    [msg] = to_openai_messages(ask(chart(50), "x"))
    assert msg["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")


def test_same_answers_as_the_local_model_over_http(tiny_server: str) -> None:
    remote = load_model(f"openai:{tiny_server}/v1#tiny-qwen3-vl")
    local = load_model("tiny:qwen3-vl")
    requests = [ask(chart(30 + 40 * i), "How tall is the bar?") for i in range(3)]
    sampling = Sampling(max_tokens=10)
    over_http = remote.generate(requests, sampling)
    direct = local.generate(requests, sampling)
    assert [c.error for c in over_http] == [None] * 3
    assert [c.text for c in over_http] == [c.text for c in direct]
    assert [c.prompt_tokens for c in over_http] == [c.prompt_tokens for c in direct]


def test_model_name_is_discovered_when_omitted(tiny_server: str) -> None:
    backend = OpenAIBackend(tiny_server)  # no /v1, no #MODEL
    assert backend.model_name() == "tiny-qwen3-vl"
    [out] = backend.generate([ask(chart(40), "hi")], Sampling(max_tokens=4))
    assert out.error is None


def test_concurrent_requests_are_batched_by_the_server(tiny_server: str) -> None:
    backend = OpenAIBackend([tiny_server + "/v1"], model="tiny-qwen3-vl", concurrency=8)
    outs = backend.generate([ask(chart(10 * i + 20), f"q{i}") for i in range(8)], Sampling(max_tokens=6))
    assert all(o.error is None for o in outs)
    from erm_cli.serve.app import shared_backend

    stats = shared_backend("tiny:qwen3-vl", {}, 8, 30).stats
    assert stats["largest_batch"] >= 2


def test_retries_rate_limits_and_server_errors_then_succeeds() -> None:
    hits: list[dict] = []
    with running_server(scripted_app([429, 503, "ok"], hits)) as url:
        backend = OpenAIBackend(url, model="scripted-model", backoff=0.01, max_retries=3)
        [out] = backend.generate([[{"role": "user", "content": "hello"}]], Sampling(max_tokens=5))
    assert out.error is None and out.text == "answer 3"
    assert out.info["retries"] == 2 and len(hits) == 3
    assert out.prompt_tokens == 11 and out.completion_tokens == 2


def test_gives_up_after_max_retries_and_does_not_retry_client_errors() -> None:
    hits: list[dict] = []
    with running_server(scripted_app([500, 502, 503, 504], hits)) as url:
        backend = OpenAIBackend(url, model="scripted-model", backoff=0.01, max_retries=1)
        [out] = backend.generate([[{"role": "user", "content": "x"}]])
    assert "HTTP 502" in (out.error or "") and "after 1 retry" in out.error
    assert len(hits) == 2
    hits.clear()
    with running_server(scripted_app([404], hits)) as url:
        [out] = OpenAIBackend(url, model="scripted-model", backoff=0.01).generate([[{"role": "user", "content": "x"}]])
    assert "HTTP 404" in (out.error or "") and len(hits) == 1


def test_round_robin_over_several_urls() -> None:
    hits_a: list[dict] = []
    hits_b: list[dict] = []
    with running_server(scripted_app([], hits_a)) as a, running_server(scripted_app([], hits_b)) as b:
        backend = load_model(f"openai:{a}/v1,{b}/v1#scripted-model", concurrency=2)
        outs = backend.generate([[{"role": "user", "content": str(i)}] for i in range(6)])
    assert all(o.error is None for o in outs)
    assert len(hits_a) == 3 and len(hits_b) == 3


def test_failover_to_the_next_url_when_one_is_down() -> None:
    hits: list[dict] = []
    with running_server(scripted_app([], hits)) as good:
        backend = OpenAIBackend(["http://127.0.0.1:9/v1", good + "/v1"], model="scripted-model", backoff=0.01)
        outs = backend.generate([[{"role": "user", "content": str(i)}] for i in range(4)])
    assert all(o.error is None for o in outs) and len(hits) == 4


def test_timeouts_fail_the_request_with_a_reason() -> None:
    hits: list[dict] = []
    with running_server(scripted_app([], hits, delay=1.5)) as url:
        backend = OpenAIBackend(url, model="scripted-model", timeout=0.3, max_retries=0)
        [out] = backend.generate([[{"role": "user", "content": "slow"}]])
    assert out.text == "" and "timeout after 0.3s" in (out.error or "")


def test_api_key_comes_from_the_named_environment_variable(monkeypatch) -> None:
    hits: list[dict] = []
    with running_server(scripted_app([], hits, token="s3cret")) as url:
        monkeypatch.setenv("ERM_TEST_KEY", "s3cret")
        ok = OpenAIBackend(url, model="scripted-model", api_key_env="ERM_TEST_KEY").generate(
            [[{"role": "user", "content": "x"}]])[0]
        monkeypatch.delenv("ERM_TEST_KEY")
        monkeypatch.delenv("ERM_API_KEY", raising=False)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        denied = OpenAIBackend(url, model="scripted-model", backoff=0.01).generate(
            [[{"role": "user", "content": "x"}]])[0]
    assert ok.error is None and hits[0]["auth"] == "Bearer s3cret"
    assert "HTTP 401" in (denied.error or "") and hits[1]["auth"] is None


def test_strict_servers_get_only_standard_sampling_fields(caplog) -> None:
    hits: list[dict] = []
    with running_server(scripted_app([], hits, strict=True)) as url:
        backend = OpenAIBackend(url, model="scripted-model", backoff=0.01)
        sampling = Sampling(max_tokens=8, temperature=0.7, top_p=0.8, top_k=20, presence_penalty=1.5,
                            repetition_penalty=1.05, seed=3)
        first = backend.generate([[{"role": "user", "content": "x"}]], sampling)[0]
        second = backend.generate([[{"role": "user", "content": "y"}]], sampling)[0]
    assert first.error is None and second.error is None
    assert hits[0]["body"]["top_k"] == 20 and "top_k" not in hits[1]["body"]
    assert len(hits) == 3  # one rejected attempt, then no vLLM-only fields for the rest
    assert hits[2]["body"]["presence_penalty"] == 1.5 and hits[2]["body"]["seed"] == 3
    assert any("refused top_k, repetition_penalty" in r.getMessage() for r in caplog.records)  # said once, loudly


def test_malformed_responses_and_refused_connections_fail_alone() -> None:
    hits: list[dict] = []
    with running_server(scripted_app(["junk"], hits)) as url:
        bad, good = OpenAIBackend(url, model="scripted-model", concurrency=1).generate(
            [[{"role": "user", "content": "1"}], [{"role": "user", "content": "2"}]])
    assert "malformed response" in (bad.error or "") and good.error is None
    [refused] = OpenAIBackend("http://127.0.0.1:9", model="m", max_retries=1, backoff=0.01).generate(
        [[{"role": "user", "content": "x"}]])
    assert "cannot reach" in (refused.error or "")
