"""`erm serve --max-concurrency N` in front of an OpenAI-compatible server (vllm serve): all N judgements
reach the server at once (the openai: backend used to allow 8), so none waits for a slot while its
per-item timeout runs. A loopback server counts the requests it holds at the same time."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from conftest import recording_server
from PIL import Image

from erm_cli.models import in_flight_options, load_model
from erm_cli.serve import create_app
from erm_cli.serve.testing import running_server

ANSWER = {"structure_error_count": 0, "shape_error_count": 0, "style_error_count": 0,
          "text_symbol_error_count": 0, "errors": []}


@contextmanager
def counting_chat_server(expect: int) -> Iterator[tuple[str, dict[str, int]]]:
    """Answers each chat request once ``expect`` requests are held at once (or after 5 s)."""
    seen = {"now": 0, "max": 0, "total": 0}
    lock = threading.Condition()

    def answer(_body: dict) -> str:
        with lock:
            seen["now"] += 1
            seen["total"] += 1
            seen["max"] = max(seen["max"], seen["now"])
            lock.notify_all()
            lock.wait_for(lambda: seen["max"] >= expect, timeout=5.0)
            seen["now"] -= 1
        return json.dumps(ANSWER)

    with recording_server(answer) as (url, _):
        yield url, seen


def _png(colour: str) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_in_flight_options_tie_the_backend_to_the_caller() -> None:
    assert in_flight_options("openai:http://127.0.0.1:9/v1#m", 24) == {"concurrency": 24}
    assert in_flight_options("openai:http://127.0.0.1:9/v1#m?concurrency=4", 24) == {}  # the spec wins
    assert in_flight_options("tiny:qwen3-vl", 24) == {}
    assert load_model("openai:http://127.0.0.1:9/v1#m", **in_flight_options("openai:http://127.0.0.1:9/v1#m", 24)) \
        .concurrency == 24


def test_serve_lets_max_concurrency_judgements_reach_the_model() -> None:
    n = 12
    with counting_chat_server(expect=n) as (url, seen):
        app = create_app("vlm", model=f"openai:{url}#visual-erm-test", max_concurrency=n, timeout=60)
        with running_server(app) as erm:
            items = [{"id": str(i), "reference_b64": _png("white"), "candidate_b64": _png("white"), "task": "svg"}
                     for i in range(n)]
            r = httpx.post(f"{erm}/reward", json={"items": items}, timeout=120)
    assert r.status_code == 200
    results = r.json()["results"]
    assert all(res["ok"] for res in results), results[:2]
    assert seen["total"] == n and seen["max"] == n  # all twelve were held by the model server at once
