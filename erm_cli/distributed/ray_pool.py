"""Batch items as Ray actors or Ray tasks (``--ray [ADDRESS]`` on the batch verbs).

    pool = RayPool("local", workers=4)            # or RayPool("ray://head:10001") / RayPool("auto")
    for index, result in pool.map_unordered(task, items):
        ...                                         # the driver writes results into its resumable file

``mode="actors"`` (default): a pool of long-lived actors, one CPU each, that keep their warm state (the
render sandbox, the browser, the OCR engine, a loaded judge) between items; each actor runs one item at a
time and gets at most ``depth`` items queued (1 by default, so that a worker killed by one item costs
no other item a retry). ``mode="tasks"``: one Ray task per item (Ray reuses worker
processes, and the task object is built once per process, so the state stays warm there too).

Faults: a worker process that dies mid-item is restarted by Ray and the item retried on it
(``max_restarts`` / ``max_task_retries`` for actors, ``max_retries`` for tasks). An item that still
fails after those retries is reported once through ``task.failed(item, reason)`` and its actor is
replaced; an exception raised by the task itself is not retried (tasks catch item errors themselves, so
this is a bug) and is reported the same way. Ctrl-C (or closing the generator) cancels what is in flight
and kills the pool's actors, so no Ray work outlives the driver's run. After a map that ends normally the
actors stay up for the next map of the same task (``erm synth`` maps one batch of groups at a time) until
:meth:`RayPool.close` (``with RayPool(...)`` or :class:`optional_pool` closes it).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any, Self

from ..errors import ErmError, InputError, ModelError
from . import ItemTask, R

MISSING_RAY = "Ray is not installed: pip install 'erm-cli[ray]'"
_INLINE_BYTES = 64 * 1024  # tasks up to this size are passed inline (Ray inlines arguments below 100 KiB)
LOCAL = "local"


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError(MISSING_RAY) from None
    return ray


def connect(address: str | None = LOCAL, *, num_cpus: int | None = None) -> bool:
    """Join a Ray cluster (``address``) or start a local one (``"local"``: ``num_cpus`` CPUs, no
    dashboard). Returns True when this call started Ray (the caller shuts it down). A driver that is
    already connected (a notebook, a test) is reused as it is."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    if address and address not in (LOCAL, "auto"):
        check_reachable(address)
    if address and address != LOCAL:
        use_cluster_token()
    try:
        if not address or address == LOCAL:
            ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False,
                     logging_level="ERROR", configure_logging=True)
        else:
            ray.init(address=address, logging_level="ERROR")
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise InputError(f"cannot connect to Ray at {address!r}: {str(exc).splitlines()[0] if str(exc) else exc}")
    return True


def use_cluster_token() -> None:
    """A cluster started with ``ray start`` requires Ray's token authentication by default (Ray >= 2.5x), and a
    driver joining it sends the token (``~/.ray/auth_token``, ``RAY_AUTH_TOKEN`` or ``RAY_AUTH_TOKEN_PATH``)
    only in token mode: turn that mode on when a token is there and ``RAY_AUTH_MODE`` is not set."""
    if os.environ.get("RAY_AUTH_MODE") is not None:
        return
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # a Ray without token authentication
        return
    import logging

    quiet = logging.getLogger(maybe_enable_token_auth_if_token_available.__module__)
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # its note that the cluster uses tokens is not news to the user
    try:
        maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
    finally:
        quiet.setLevel(level)


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """``HOST:PORT`` or ``ray://HOST:PORT`` must accept a TCP connection (Ray itself retries an unreachable
    head for minutes); anything else is an InputError with one line."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"ray-gcs://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise InputError(f"--ray takes local, auto, HOST:PORT or ray://HOST:PORT, not {address!r}")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise InputError(f"cannot connect to Ray at {address!r}: {exc.strerror or exc}") from None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = next((line for line in text if line.strip()), exc.__class__.__name__)
    return f"{exc.__class__.__name__}: {first}"[:300]


# ------------------------------------------------------------------------------- remote classes
_REMOTE: dict[str, Any] = {}
_WARM_TASKS: dict[bytes, Any] = {}  # tasks mode: the task object each worker process built, by content


class _ItemWorker:
    """The actor body: builds the task once (warming it when it can) and runs items through it."""

    def __init__(self, task: Any) -> None:
        self.task = task
        warm = getattr(task, "warm", None)
        if callable(warm):
            warm()

    def run(self, item: Any) -> Any:
        return self.task(item)

    def pid(self) -> int:
        return os.getpid()


def _run_task(key: bytes, task: Any, item: Any) -> Any:
    cached = _WARM_TASKS.get(key)
    if cached is None:
        if len(_WARM_TASKS) >= 4:  # tasks of earlier maps on this long-lived worker process
            _WARM_TASKS.pop(next(iter(_WARM_TASKS)))
        cached = _WARM_TASKS[key] = task
    return cached(item)


def _remote_worker(ray: Any) -> Any:
    if "worker" not in _REMOTE:
        _REMOTE["worker"] = ray.remote(_ItemWorker)
        _REMOTE["task"] = ray.remote(_run_task)
    return _REMOTE["worker"]


# ------------------------------------------------------------------------------------- the pool
class RayPool:
    """An :class:`erm_cli.distributed.ItemExecutor` on Ray; see the module docstring."""

    def __init__(self, address: str | None = LOCAL, *, workers: int | None = None, mode: str = "actors",
                 max_retries: int = 2, depth: int = 1, num_cpus_per_worker: float = 1.0,
                 keep_warm: bool = True) -> None:
        if mode not in ("actors", "tasks"):
            raise InputError(f"unknown Ray mode {mode!r}; choose actors or tasks")
        self.address = address or LOCAL
        self.workers = workers
        self.mode = mode
        self.max_retries = max(0, int(max_retries))
        self.depth = max(1, int(depth))
        self.num_cpus_per_worker = num_cpus_per_worker
        self.actors: list[Any] = []      # the live actors of the running map (tests kill one)
        self.started_ray = False
        self.replaced = 0                # actors replaced after an item exhausted its retries
        self.start_seconds = 0.0         # the last map's wait for its actors to start and warm up
        self.keep_warm = keep_warm       # keep the actors after a map for the next map of the same task
        self._task_blob: bytes | None = None
        self._task_ref: Any = None

    # -- lifecycle
    def __enter__(self) -> Self:
        self.started_ray = connect(self.address, num_cpus=self.workers)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._kill_actors()
        if self.started_ray:
            import_ray().shutdown()
            self.started_ray = False

    def _size(self, ray: Any, n_items: int) -> int:
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        fit = max(1, int(cpus // self.num_cpus_per_worker)) if self.num_cpus_per_worker > 0 else 64
        want = self.workers or fit
        return max(1, min(want, fit, n_items))

    def _new_actor(self, ray: Any, task_ref: Any) -> Any:
        worker = _remote_worker(ray)
        # restarts are unbounded (a long synth run may lose workers now and then); each item's attempts are
        # bounded by max_task_retries, and an actor that keeps dying is replaced and then given up on
        return worker.options(num_cpus=self.num_cpus_per_worker, max_restarts=-1,
                              max_task_retries=self.max_retries).remote(task_ref)

    def _kill_actors(self) -> None:
        if not self.actors:
            return
        ray = import_ray()
        for actor in self.actors:
            with contextlib.suppress(Exception):  # already gone
                ray.kill(actor, no_restart=True)
        self.actors = []
        self._task_blob = self._task_ref = None

    # -- the map
    def map_unordered(self, fn: ItemTask[R], items: Sequence[Any]) -> Iterator[tuple[int, R]]:
        """``(index, result)`` for every item exactly once, as they finish."""
        items = list(items)
        if not items:
            return
        ray = import_ray()
        if not ray.is_initialized():
            self.started_ray = connect(self.address, num_cpus=self.workers) or self.started_ray
        if self.mode == "tasks":
            yield from self._map_tasks(ray, fn, items)
        else:
            yield from self._map_actors(ray, fn, items)

    def _map_actors(self, ray: Any, fn: ItemTask[R], items: list[Any]) -> Iterator[tuple[int, R]]:
        from ray import cloudpickle

        # A small task travels inside the actor's creation spec; a large one (a judge object) goes to the
        # object store, where this frame holds it until the map ends so that a restarted actor can rebuild.
        blob = cloudpickle.dumps(fn)
        t0 = time.perf_counter()
        if not (self.actors and blob == self._task_blob):  # else: the last map's task, its actors are warm
            self._kill_actors()
            self._task_blob = blob
            self._task_ref = fn if len(blob) < _INLINE_BYTES else ray.put(fn)
        task_ref = self._task_ref
        n = max(len(self.actors), self._size(ray, len(items)))
        if len(self.actors) < n:
            fresh = [self._new_actor(ray, task_ref) for _ in range(n - len(self.actors))]
            self.actors.extend(fresh)
            try:  # every actor built its task (a judge that cannot load stops the run here, once)
                ray.get([actor.pid.remote() for actor in fresh])
            except ray.exceptions.RayError as exc:
                self._kill_actors()
                raise ModelError(f"Ray workers could not start: {_short(exc)}") from None
        self.start_seconds = time.perf_counter() - t0
        load = [0] * n
        running: dict[Any, tuple[int, int]] = {}   # object ref -> (item index, actor slot)
        pending = iter(range(len(items)))
        give_up = 3 * n + 3                        # replacements before the run stops (an actor that cannot start)
        last_reason = ""

        def fill() -> None:
            for slot in range(n):
                while load[slot] < self.depth:
                    index = next(pending, None)
                    if index is None:
                        return
                    ref = self.actors[slot].run.remote(items[index])
                    running[ref] = (index, slot)
                    load[slot] += 1

        finished = False
        try:
            fill()
            while running:
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    index, slot = running.pop(ref)
                    load[slot] -= 1
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayActorError as exc:
                        last_reason = _short(exc)
                        result = fn.failed(items[index], f"worker died {self.max_retries + 1} times on this item "
                                                         f"({last_reason})")
                        self._replace(ray, slot, task_ref, running, items)
                        if self.replaced > give_up:
                            raise ErmError(f"Ray workers keep dying; stopped ({last_reason})")
                    except ray.exceptions.RayTaskError as exc:
                        result = fn.failed(items[index], f"worker error: {_short(exc.cause or exc)}")
                    yield index, result
                fill()
            finished = True
        finally:
            for ref in running:
                with contextlib.suppress(Exception):  # finished meanwhile
                    ray.cancel(ref)
            if not (finished and self.keep_warm):  # interrupted (Ctrl-C, an error): no actor outlives it
                self._kill_actors()

    def _replace(self, ray: Any, slot: int, task_ref: Any, running: dict[Any, tuple[int, int]],
                 items: list[Any]) -> None:
        """A fresh actor in ``slot``; the items queued on the old one are resubmitted to it."""
        old = self.actors[slot]
        with contextlib.suppress(Exception):
            ray.kill(old, no_restart=True)
        self.replaced += 1
        self.actors[slot] = self._new_actor(ray, task_ref)
        for ref, (index, s) in list(running.items()):
            if s == slot:  # queued behind the fatal item on the dead actor: run again on the new one
                del running[ref]
                running[self.actors[slot].run.remote(items[index])] = (index, slot)

    def _map_tasks(self, ray: Any, fn: ItemTask[R], items: list[Any]) -> Iterator[tuple[int, R]]:
        import pickle

        _remote_worker(ray)
        remote = _REMOTE["task"].options(num_cpus=self.num_cpus_per_worker, max_retries=self.max_retries)
        key = pickle.dumps(("erm-task", id(fn), time.time_ns()))
        task_ref = ray.put(fn)
        window = self._size(ray, len(items)) * self.depth
        pending = iter(range(len(items)))
        running: dict[Any, int] = {}

        def fill() -> None:
            while len(running) < window:
                index = next(pending, None)
                if index is None:
                    return
                running[remote.remote(key, task_ref, items[index])] = index

        try:
            fill()
            while running:
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    index = running.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:
                        result = fn.failed(items[index], f"worker error: {_short(exc.cause or exc)}")
                    except (ray.exceptions.WorkerCrashedError, ray.exceptions.RayError) as exc:
                        result = fn.failed(items[index], f"worker died {self.max_retries + 1} times on this "
                                                         f"item ({_short(exc)})")
                    yield index, result
                fill()
        finally:
            for ref in running:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)


RAY_OPTION_HELP = ("Run the items on Ray: 'local' starts a local Ray instance with --workers CPUs, 'auto' or "
                   "ray://HOST:PORT joins a cluster (needs erm-cli[ray]; docs/SCALING.md).")


class optional_pool:
    """``with optional_pool(address, workers) as executor``: a :class:`RayPool` when ``address`` is given
    (Ray started or joined, and shut down afterwards if this started it), else None (Ray is not imported)."""

    def __init__(self, address: str | None, workers: int | None = None, **options: Any) -> None:
        self.pool = RayPool(address, workers=workers, **options) if address else None

    def __enter__(self) -> RayPool | None:
        return self.pool.__enter__() if self.pool is not None else None

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.close()
