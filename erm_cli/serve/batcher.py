"""Merge concurrent ``generate`` calls into batched ones (for local models behind a server).

``BatchingBackend(backend)`` is itself a backend: each caller blocks on its own requests while a worker
thread gathers what arrives within ``window_ms`` (up to ``max_batch`` requests with the same sampling)
and makes one batched call to the wrapped backend. Useful for ``hf:``/``tiny:``/``vllm:`` models served
to many concurrent clients; remote ``openai:`` backends already run requests concurrently.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from typing import Any

from ..models.base import Backend, Completion, Request, Sampling

_STOP = object()


class BatchingBackend:
    """See the module docstring. ``stats`` counts calls, batches and the largest batch seen."""

    def __init__(self, backend: Backend, max_batch: int = 8, window_ms: float = 10.0) -> None:
        self.inner = backend
        self.spec = backend.spec
        self.kind = getattr(backend, "kind", "local")
        self.max_batch = max(1, int(max_batch))
        self.window = max(0.0, float(window_ms)) / 1000.0
        self.stats = {"calls": 0, "batches": 0, "largest_batch": 0}
        self._queue: queue.Queue[Any] = queue.Queue()
        self._worker = threading.Thread(target=self._loop, name="erm-batcher", daemon=True)
        self._worker.start()

    def __getattr__(self, name: str) -> Any:  # model, processor, ... of the wrapped backend
        return getattr(self.inner, name)

    def generate(self, requests: list[Request], sampling: Sampling | None = None) -> list[Completion]:
        if not requests:
            return []
        fut: Future[list[Completion]] = Future()
        self._queue.put((list(requests), sampling or Sampling(), fut))
        return fut.result()

    def close(self) -> None:
        self._queue.put(_STOP)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            pending = [item]
            size = len(item[0])
            deadline = time.monotonic() + self.window
            while size < self.max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    nxt = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                if nxt is _STOP:
                    self._queue.put(_STOP)
                    break
                pending.append(nxt)
                size += len(nxt[0])
            self._run(pending)

    def _run(self, pending: list[tuple[list[Request], Sampling, Future]]) -> None:
        groups: dict[Sampling, list[tuple[list[Request], Sampling, Future]]] = {}
        for entry in pending:
            groups.setdefault(entry[1], []).append(entry)
        for sampling, entries in groups.items():
            requests = [r for reqs, _, _ in entries for r in reqs]
            self.stats["calls"] += len(entries)
            self.stats["batches"] += 1
            self.stats["largest_batch"] = max(self.stats["largest_batch"], len(requests))
            try:
                completions = self.inner.generate(requests, sampling)
            except BaseException as exc:  # noqa: BLE001 - hand the failure to every waiting caller
                for _, _, fut in entries:
                    fut.set_exception(exc)
                continue
            pos = 0
            for reqs, _, fut in entries:
                fut.set_result(completions[pos:pos + len(reqs)])
                pos += len(reqs)
