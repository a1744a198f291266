"""Shared test fixtures: an isolated erm cache per test session and paths to real data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
#: The model and the CPU presets the `erm train` tests run.
TINY_MODEL = "tiny:qwen3-vl"
TINY_PRESETS = {"reward": "cpu-tiny-sft", "policy": "cpu-tiny-grpo"}

# One throw-away cache for the whole run, set before any erm module reads it.
_CACHE = tempfile.mkdtemp(prefix="erm-test-cache-")
os.environ["ERM_CACHE_DIR"] = _CACHE
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tiny models are faster on one thread, and the suite runs on 2-core machines.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@contextmanager
def recording_server(answer: str | Callable[[dict], str] = '{"errors": []}') -> Iterator[tuple[str, list[dict]]]:
    """A real OpenAI-compatible chat server on loopback that records each request body and answers ``answer``
    (or ``answer(body)``, called in the request's own thread); yields its base URL
    (``http://127.0.0.1:PORT/v1``, for an ``openai:URL#model`` spec) and the recorded bodies."""
    bodies: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:  # noqa: N802
            request = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
            bodies.append(request)
            content = answer(request) if callable(answer) else answer
            body = json.dumps({"choices": [{"message": {"content": content}, "finish_reason": "stop"}],
                               "usage": {"prompt_tokens": 1, "completion_tokens": 1}}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", bodies
    finally:
        server.shutdown()
        server.server_close()


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001
    shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def shared_data() -> Path:
    from erm_cli.config import shared_data_dir

    d = shared_data_dir()
    if d is None:
        pytest.skip("../shared/data is not beside this checkout")
    return d


@pytest.fixture(scope="session")
def has_chromium() -> bool:
    return shutil.which("chromium") is not None or shutil.which("chromium-browser") is not None


@pytest.fixture(scope="session")
def has_tesseract() -> bool:
    return shutil.which("tesseract") is not None


@pytest.fixture(scope="module")
def torch_one_thread() -> Iterator[None]:
    """Tiny models run faster single-threaded, and much faster on a shared, busy CPU."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_train_settings() -> Callable[..., Any]:
    """``make(kind, data, out, **settings)``: resolved ``erm train KIND`` settings, tiny model, CPU preset."""
    from erm_cli.train.config import resolve_settings

    def make(kind: str, data: Path, out: Path, **settings: Any) -> Any:
        overrides = {"data": str(data), "model": TINY_MODEL, "out": str(out), **settings}
        return resolve_settings(kind, preset=TINY_PRESETS[kind], overrides=overrides)

    return make


@pytest.fixture(scope="session")
def tiny_train_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run(kind, data, out, *flags, timeout=...)``: ``erm train KIND ... --json`` on the tiny model, CPU preset."""

    def run(
        kind: str, data: Path, out: Path, *flags: str, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "erm_cli.app", "train", kind, "--data", str(data), "--model", TINY_MODEL]
        cmd += ["--out-dir", str(out), "--preset", TINY_PRESETS[kind], *flags, "--json"]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)

    return run


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray with 2 CPUs per test module (tests/test_ray*.py); Ray is imported only when asked for."""
    ray = pytest.importorskip("ray", reason="needs erm-cli[ray]")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()
