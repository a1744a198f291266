"""``erm serve --ray ADDRESS``: the reward service as a Ray Serve application.

Two deployments in one application (``erm``):

* :class:`JudgeReplica` (``--replicas`` of them, ``--replica-cpus`` each): builds the judge once, like
  ``erm serve`` does, and scores pairs with :func:`erm_cli.judges.pipeline.score_candidate`. Requests are
  grouped by Ray Serve's ``@serve.batch`` (up to ``--max-batch`` pairs, waiting at most
  ``--batch-window-ms``); a batch is scored concurrently on the replica's threads, and a model judge's
  requests in it meet in one batched generate call (the same micro-batcher as ``erm serve``).
* :class:`Gateway` (the HTTP ingress): the very app of ``erm serve`` (:func:`erm_cli.serve.app.create_app`)
  built with a *scorer* that sends each pair to the judge replicas. Routes, request and response bodies,
  the bearer token, loopback-only Host/Origin without a token, body and pixel limits, per-item timeouts
  and admission control (503) are the local server's code. Ray Serve's proxy (its own uvicorn) listens on
  ``--host``/``--port``; the slow-client deadlines of ``erm serve`` (``--header-timeout``,
  ``--body-timeout``) are uvicorn settings of the local server and do not apply here.

Ray Serve is part of the ``ray`` extra (``ray[serve]``); this module is imported only with ``--ray``.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from ray import serve

APP_NAME = "erm"


@dataclass
class RayServeOptions:
    """What ``erm serve --ray`` deploys (the judge, its replicas, the HTTP app's limits)."""

    judge: str = "critic"
    model: str | None = None
    prompt_file: str | None = None
    swap: bool = False
    model_options: dict[str, Any] = field(default_factory=dict)
    replicas: int = 2
    replica_cpus: float = 1.0
    threads: int = 4               # pairs a replica scores at once (--max-concurrency)
    max_batch: int = 8
    batch_window_ms: float = 10.0
    app_options: dict[str, Any] = field(default_factory=dict)  # create_app's limits, token, profile, root
    log_level: str = "WARNING"     # Ray Serve's own logs (INFO adds one access line per request)


@serve.deployment(name="JudgeReplica")
class JudgeReplica:
    def __init__(self, options: dict[str, Any]) -> None:
        from ..bench.judge_bench import ensure_loaded
        from .app import build_judge

        o = RayServeOptions(**options)
        self.judge, _ = build_judge(o.judge, o.model, o.prompt_file, o.swap, o.model_options, o.max_batch,
                                    o.batch_window_ms)
        ensure_loaded(self.judge)  # a model that cannot load fails the deployment, at startup
        self.pool = ThreadPoolExecutor(max_workers=max(1, o.threads), thread_name_prefix="erm-replica")
        self.score.set_max_batch_size(max(1, o.max_batch))
        self.score.set_batch_wait_timeout_s(max(0.0, o.batch_window_ms) / 1000.0)
        self.counts = {"batches": 0, "pairs": 0, "largest_batch": 0}

    def stats(self) -> dict[str, int]:
        """This replica's process id and how its requests were batched."""
        import os

        return {"pid": os.getpid(), **self.counts}

    def judge_id(self) -> dict[str, str]:
        if hasattr(self.judge, "judge_id"):
            return dict(self.judge.judge_id())
        return {"name": self.judge.name, "version": self.judge.version}

    def _one(self, args: tuple[Any, Any, dict[str, Any]]) -> tuple[Any, BaseException | None]:
        from ..judges.pipeline import score_candidate

        reference, candidate, kwargs = args
        try:
            return score_candidate(reference, candidate, judge=self.judge, **kwargs), None
        except Exception as exc:  # noqa: BLE001 - handed back to the gateway, which answers it per item
            return None, exc

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.01)
    async def score(self, batch: list[tuple[Any, Any, dict[str, Any]]]) -> list[tuple[Any, BaseException | None]]:
        self.counts["batches"] += 1
        self.counts["pairs"] += len(batch)
        self.counts["largest_batch"] = max(self.counts["largest_batch"], len(batch))
        loop = asyncio.get_running_loop()
        return list(await asyncio.gather(*(loop.run_in_executor(self.pool, self._one, args) for args in batch)))


class ReplicaScorer:
    """The gateway's scorer: one pair to a judge replica (through Ray Serve's batching), its Verdict back."""

    def __init__(self, handle: Any, judge_id: dict[str, str]) -> None:
        self.handle = handle
        self.judge_id = judge_id

    def __call__(self, reference: Any, candidate: Any, **kwargs: Any) -> Any:
        verdict, error = self.handle.score.remote((reference, candidate, kwargs)).result()
        if error is not None:
            raise error
        return verdict


@serve.deployment(name="Gateway")
@serve.ingress()
class Gateway:
    async def __init__(self, judges: Any, app_options: dict[str, Any]) -> None:
        self.scorer = ReplicaScorer(judges, await judges.judge_id.remote())
        self.app_options = app_options

    def __serve_build_asgi_app__(self) -> Any:
        from .app import create_app

        return create_app(None, scorer=self.scorer, **self.app_options)


def build(options: RayServeOptions) -> Any:
    """The bound application (``serve.run`` it)."""
    replica_load = max(2 * options.max_batch, options.threads)
    logs = {"log_level": options.log_level, "enable_access_log": options.log_level in ("DEBUG", "INFO")}
    judges = JudgeReplica.options(num_replicas=max(1, options.replicas), logging_config=logs,
                                  ray_actor_options={"num_cpus": options.replica_cpus},
                                  max_ongoing_requests=replica_load).bind(asdict(options))
    app_options = dict(options.app_options)
    # the gateway holds one waiting thread per pair in flight: room for every replica's share
    app_options["max_concurrency"] = max(1, options.replicas) * max(1, options.threads)
    gateway_load = app_options["max_concurrency"] + int(app_options.get("max_queue", 64)) + 16
    return Gateway.options(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=gateway_load,
                           logging_config=logs).bind(
        judges, app_options)


def deploy(options: RayServeOptions, host: str = "127.0.0.1", port: int = 8000) -> str:
    """Start Ray Serve's HTTP proxy on ``host:port`` (Ray must be connected) and run the application;
    returns its base URL once every replica is up."""
    serve.start(http_options={"host": host, "port": port},
                logging_config={"log_level": options.log_level,
                                "enable_access_log": options.log_level in ("DEBUG", "INFO")})
    serve.run(build(options), name=APP_NAME, route_prefix="/", blocking=False)
    return f"http://{host}:{port}"


def undeploy() -> None:
    """Delete the application and stop Ray Serve on this cluster (its proxy and controller)."""
    serve.shutdown()


def serve_until_stopped(address: str, options: RayServeOptions, host: str = "127.0.0.1", port: int = 8000,
                        on_ready: Any = None) -> None:
    """``erm serve --ray``: join (or start, ``local``) Ray, deploy, call ``on_ready(url)``, then wait for
    SIGINT/SIGTERM; on the way out delete the application (and stop Ray if this started it)."""
    import signal
    import threading

    from ..distributed.ray_pool import connect, import_ray
    from ..judges.vlm import default_profile

    if options.judge == "vlm" and not options.app_options.get("profile"):
        # the gateway builds no judge: it renders code candidates the way the served model's reward does
        options.app_options["profile"] = default_profile(options.model)
    ray = import_ray()
    started = connect(address, num_cpus=None)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        url = deploy(options, host=host, port=port)
        if on_ready is not None:
            on_ready(url)
        stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        try:
            undeploy()
        finally:
            if started:
                ray.shutdown()
