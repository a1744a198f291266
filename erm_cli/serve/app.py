"""The FastAPI app behind ``erm serve``: the configured judge as an HTTP reward service.

Routes: ``GET /health`` (no auth), ``POST /judge`` (one pair), ``POST /reward`` (a batch; each item fails
alone), and with ``openai_model`` the OpenAI-compatible ``/v1/chat/completions`` and ``/v1/models``.
OpenAPI docs at ``/docs`` and ``/openapi.json`` without a token; with a token ``/openapi.json`` needs it
and ``/docs`` is off.

Limits: at most ``max_concurrency`` judgements run at once (a thread pool), at most ``max_queue``
further requests wait (beyond that: HTTP 503 with ``Retry-After``); each item may run ``timeout``
seconds (HTTP 504 / an item error); bodies above ``max_body_mb`` get HTTP 413 (the body is drained first,
so the client reads the answer instead of a reset). Images are measured from their headers before any
decoding: one above ``max_pixels`` gets 413, and all requests in flight share ``pixel_budget`` decoded
pixels (a request waits for room, then 503). A request's headers must arrive within ``header_timeout``
seconds and its body within ``body_timeout`` (else 408 and the connection closes). With ``token`` every
route except ``/health`` needs ``Authorization: Bearer <token>``; without one, only requests whose
``Host``/``Origin`` name a loopback address are answered. Paths in requests are refused unless
``allowed_root`` (one folder or several) is set, and must then resolve inside one of them (symlinks included).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from .. import __version__
from ..errors import ErmError, InputError, ModelError, RenderFailure
from ..inputs import check_text_size
from ..judges.base import Judge
from ..models.base import Backend
from ..models.messages import decode_base64
from .inputs import PathNotAllowed, allowed_folders, read_image_input, resolve_under
from .limits import (
    LoopbackOnlyMiddleware,
    PixelBudget,
    PixelBudgetBusy,
    PixelLimit,
    ServerBusy,
    header_pixels,
    server_protocol,
)
from .schemas import Health, JudgeRequest, JudgeResponse, RewardRequest, RewardResponse

log = logging.getLogger("erm.serve")

LOCAL_KINDS = ("hf", "tiny", "vllm")


class ItemTimeout(Exception):
    pass


class BodyLimitMiddleware:
    """Refuse request bodies above ``max_bytes`` with HTTP 413 (by Content-Length, or while streaming)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_bytes
            except ValueError:
                too_big = False
            if too_big:
                await self._drain(receive)
                await self._reject(send)
                return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        # read the whole body first (bounded), so an oversized stream is refused before any parsing
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            total += len(body)
            if total > self.max_bytes:
                await self._drain(receive, total)
                await self._reject(send)
                return
            chunks.append(body)
            if not message.get("more_body"):
                break
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _drain(self, receive: Callable, seen: int = 0) -> None:
        """Read and drop the rest of an oversized body (up to a bound), so the client, still sending, gets
        to read the 413 instead of a connection reset; the server's body deadline bounds the time."""
        limit = max(4 * self.max_bytes, 256 << 20)
        while seen <= limit:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            seen += len(message.get("body", b""))
            if not message.get("more_body"):
                return

    async def _reject(self, send: Callable) -> None:
        body = (f'{{"detail": "request body too large (limit {self.max_bytes} bytes)"}}').encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class _Runner:
    """A bounded thread pool with admission control and per-item timeouts measured from the item's start."""

    def __init__(self, max_concurrency: int, max_queue: int, timeout: float) -> None:
        self.max_concurrency = max(1, int(max_concurrency))
        self.max_queue = max(0, int(max_queue))
        self.timeout = float(timeout)
        self.pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="erm-serve")
        self._lock = threading.Lock()
        self.requests_in_flight = 0

    def admit(self) -> None:
        with self._lock:
            if self.requests_in_flight >= self.max_concurrency + self.max_queue:
                raise ServerBusy()
            self.requests_in_flight += 1

    def release(self) -> None:
        with self._lock:
            self.requests_in_flight -= 1

    async def run(self, fn: Callable[[], Any], queue_deadline: float | None = None) -> Any:
        started: list[float] = []

        def work() -> Any:
            started.append(time.monotonic())
            return fn()

        fut: Future = self.pool.submit(work)
        wrapped = asyncio.wrap_future(fut)
        deadline_wait = queue_deadline or (time.monotonic() + self.timeout * 4)
        while True:
            done, _ = await asyncio.wait({wrapped}, timeout=0.05)
            if done:
                return wrapped.result()
            now = time.monotonic()
            if (started and now - started[0] > self.timeout) or (not started and now > deadline_wait):
                fut.cancel()  # only cancels if not started; a running item finishes in the background
                wrapped.cancel()
                raise ItemTimeout(f"timed out after {self.timeout:g}s" if started else "timed out waiting in the queue")


class NoJudge(ErmError):
    pass


def _to_http(exc: BaseException) -> HTTPException:
    if isinstance(exc, NoJudge):
        return HTTPException(503, str(exc))
    if isinstance(exc, PathNotAllowed):
        return HTTPException(403, str(exc))
    if isinstance(exc, PixelLimit):
        return HTTPException(413, str(exc))
    if isinstance(exc, PixelBudgetBusy):
        return HTTPException(503, str(exc), headers={"Retry-After": "1"})
    if isinstance(exc, InputError):
        return HTTPException(400, str(exc))
    if isinstance(exc, RenderFailure):
        return HTTPException(422, str(exc))
    if isinstance(exc, ModelError):
        return HTTPException(502, str(exc))
    if isinstance(exc, ItemTimeout):
        return HTTPException(504, str(exc))
    if isinstance(exc, ErmError):
        return HTTPException(400, str(exc))
    return HTTPException(500, f"internal error: {exc.__class__.__name__}: {exc}")


def build_judge(judge: str | Judge | None, model: str | Backend | None, prompt_file: str | None, swap: bool,
                model_options: dict[str, Any], max_batch: int, batch_window_ms: float) -> tuple[Judge | None, Backend | None]:
    """The judge to serve and, for a vlm judge, the (batched) backend it uses."""
    from ..judges import get_judge

    if judge is None:
        return None, None
    if not isinstance(judge, str):
        return judge, None
    if judge != "vlm":
        if model is not None and judge == "critic":
            log.info("--model is ignored by the critic judge")
        return get_judge(judge), None
    backend = shared_backend(model, model_options, max_batch, batch_window_ms)
    return get_judge("vlm", model=backend, prompt_file=prompt_file, swap=swap), backend


_SHARED: dict[int, Backend] = {}


def shared_backend(model: str | Backend | None, model_options: dict[str, Any], max_batch: int,
                   batch_window_ms: float) -> Backend:
    """``load_model`` plus a micro-batcher for local models (one batcher per loaded backend)."""
    from ..models import load_model
    from .batcher import BatchingBackend

    if model is None:
        raise InputError("the vlm judge needs --model SPEC")
    backend = load_model(model, **model_options) if isinstance(model, str) else model
    if getattr(backend, "kind", None) in LOCAL_KINDS and not isinstance(backend, BatchingBackend):
        key = id(backend)
        if key not in _SHARED:
            _SHARED[key] = BatchingBackend(backend, max_batch=max_batch, window_ms=batch_window_ms)
        return _SHARED[key]
    return backend


def create_app(judge: str | Judge | None = "critic", *, model: str | Backend | None = None,
               prompt_file: str | None = None, swap: bool = False, openai_model: str | Backend | None = None,
               served_model_name: str | None = None,
               allowed_root: str | Path | Sequence[str | Path] | None = None,
               token: str | None = None, max_concurrency: int = 4, max_queue: int = 64, max_body_mb: float = 32.0,
               timeout: float = 120.0, max_items: int = 256, max_batch: int = 8, batch_window_ms: float = 10.0,
               model_options: dict[str, Any] | None = None, max_pixels: int = 16_000_000,
               pixel_budget: int = 96_000_000, header_timeout: float = 10.0, body_timeout: float = 60.0,
               profile: str | None = None, scorer: Any = None) -> FastAPI:
    """Build the app (loads the judge and any model now, so errors surface at startup).

    ``judge``: "critic", "vlm" (with ``model``), a baseline name, a Judge object, or None (no judge: an
    OpenAI-compatible model server only). ``openai_model``: a local model spec to expose under /v1.
    ``scorer`` (``erm serve --ray``): judge elsewhere; a callable with the arguments of
    :func:`erm_cli.judges.pipeline.score_candidate` except ``judge``, returning the Verdict, and a
    ``judge_id`` attribute. The app then builds no judge and keeps only the HTTP side (auth, limits).
    """
    opts = {k: v for k, v in (model_options or {}).items() if v is not None}
    from ..judges.vlm import default_profile
    from ..renderers import RenderOptions
    from ..renderers.profiles import check_profile

    # how code candidates are rendered: erm's way, or the released reward code's (recorded in each verdict)
    profile = check_profile(profile or (default_profile(model) if judge == "vlm" else None) or "erm")
    render_options = RenderOptions(profile=profile)
    if judge == "vlm" and isinstance(model, str):  # an openai: backend lets every judgement in flight reach it
        from ..models import in_flight_options

        opts = in_flight_options(model, max_concurrency * (2 if swap else 1), opts)
    the_judge, judge_backend = (build_judge(judge, model, prompt_file, swap, opts, max_batch, batch_window_ms)
                                if scorer is None else (None, None))
    root = allowed_folders(allowed_root)  # () refuses every path
    runner = _Runner(max_concurrency, max_queue, timeout)
    if scorer is not None:
        judge_id = dict(scorer.judge_id)
    elif the_judge is None:
        judge_id = {"name": "none"}
    elif hasattr(the_judge, "judge_id"):
        judge_id = dict(the_judge.judge_id())
    else:
        judge_id = {"name": the_judge.name, "version": the_judge.version}

    pixels = PixelBudget(max(pixel_budget, 2 * max_pixels))
    app = FastAPI(title="erm reward service", version=__version__,
                  docs_url=None if token else "/docs", redoc_url=None, openapi_url=None if token else "/openapi.json",
                  description="Visual-equivalence judge as an HTTP reward service: POST /judge for one pair, "
                              "POST /reward for a batch. Rewards follow Visual-ERM: reward = clip(1 - S/50, 0, 1) "
                              "for severity total S; rl_reward = render_ok + reward.")
    app.state.judge = the_judge
    app.state.runner = runner
    app.state.pixels = pixels
    # how uvicorn must run this app (erm serve and serve.testing.running_server read it)
    app.state.uvicorn_options = {"http": server_protocol(header_timeout, body_timeout),
                                 "h11_max_incomplete_event_size": 64 * 1024, "timeout_keep_alive": 5,
                                 "timeout_graceful_shutdown": 5}  # SIGTERM: in-flight requests get 5 s
    # on shutdown, drop queued work (running items finish; threads cannot be killed)
    app.router.on_shutdown.append(lambda: runner.pool.shutdown(wait=False, cancel_futures=True))

    def check_token(request: Request) -> None:
        if not token:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    auth = [Depends(check_token)]

    if token:
        @app.get("/openapi.json", dependencies=auth, include_in_schema=False)
        async def openapi_with_token() -> JSONResponse:
            return JSONResponse(app.openapi())

    def judge_item(req: JudgeRequest) -> JudgeResponse:
        from ..judges.pipeline import score_candidate

        if the_judge is None and scorer is None:
            raise NoJudge("this server has no judge (started with judge=None)")
        t0 = time.perf_counter()
        refs = [x for x in (req.reference_b64, req.reference_path) if x is not None]
        cands = [x for x in (req.candidate_b64, req.candidate_path, req.candidate_code) if x is not None]
        if len(refs) != 1:
            raise InputError("give exactly one of reference_b64, reference_path")
        if len(cands) != 1:
            raise InputError("give exactly one of candidate_b64, candidate_path, candidate_code")
        # every input becomes bytes or code here; images are measured from their headers, nothing decoded
        reference = (decode_base64(req.reference_b64, "reference_b64") if req.reference_b64 is not None
                     else read_image_input(resolve_under(root, req.reference_path or "", "reference_path"),
                                           "reference_path"))
        ref_pixels = header_pixels(reference, "reference", max_pixels)
        candidate: bytes | str
        if req.candidate_b64 is not None:
            candidate, as_code = decode_base64(req.candidate_b64, "candidate_b64"), False
        elif req.candidate_path is not None:
            from ..judges.pipeline import is_image_path, read_code

            path = resolve_under(root, req.candidate_path, "candidate_path")
            as_code = not is_image_path(path)
            candidate = read_code(path) if as_code else read_image_input(path, "candidate_path")
        else:
            if not (req.candidate_code or "").strip():
                raise InputError("candidate_code is empty")
            check_text_size(req.candidate_code or "", "candidate_code")
            candidate, as_code = req.candidate_code or "", True
        # a code candidate's render is capped at max_pixels when decoded: reserve that much for it
        need = ref_pixels + (max_pixels if as_code else header_pixels(candidate, "candidate", max_pixels))  # type: ignore[arg-type]
        pixels.acquire(need, timeout=runner.timeout)
        try:
            score = scorer or (lambda *a, **k: score_candidate(*a, judge=the_judge, **k))
            verdict = score(reference, candidate, task=req.task, kind=req.kind, candidate_is_code=as_code,
                            max_pixels=max_pixels, render_options=render_options)
            if as_code:
                verdict.info["profile"] = profile
        finally:
            pixels.release(need)
        # a candidate that did not render (or rendered blank) scores 0 and says why: ok false, the reason in error
        failure = None if verdict.render_ok else str(verdict.info.get("render_error") or "render failed")
        return JudgeResponse(id=req.id, ok=failure is None, reward=round(verdict.reward, 6),
                             rl_reward=round(verdict.rl_reward, 6), render_ok=verdict.render_ok, error=failure,
                             verdict=verdict.to_dict(), seconds=round(time.perf_counter() - t0, 4))

    @app.exception_handler(ServerBusy)
    async def _busy(_: Request, __: ServerBusy) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": "server busy; retry shortly"},
                            headers={"Retry-After": "1"})

    @app.get("/health", response_model=Health, tags=["service"])
    async def health() -> Health:
        return Health(version=__version__, judge=judge_id,
                      openai_model=served_name if openai_model is not None else None,
                      in_flight=runner.requests_in_flight, max_concurrency=runner.max_concurrency,
                      pixels_in_use=pixels.in_use, pixels_peak=pixels.peak, pixel_budget=pixels.total)

    @app.post("/judge", response_model=JudgeResponse, dependencies=auth, tags=["reward"])
    async def judge_endpoint(req: JudgeRequest) -> JudgeResponse:
        """Judge one candidate against its reference. Errors are HTTP errors (400 bad input, 403 path
        refused, 502 judge model failed, 504 timeout)."""
        runner.admit()
        try:
            return await runner.run(lambda: judge_item(req))
        except HTTPException:
            raise
        except Exception as exc:  # noqa: BLE001
            raise _to_http(exc) from None
        finally:
            runner.release()

    @app.post("/reward", response_model=RewardResponse, dependencies=auth, tags=["reward"])
    async def reward_endpoint(body: RewardRequest) -> RewardResponse:
        """Score a batch. An item that fails (bad input, timeout, judge error) gets reward 0 and an
        ``error``; the rest are scored. Rewards keep the order of ``items``."""
        if len(body.items) > max_items:
            raise HTTPException(413, f"too many items: {len(body.items)} > {max_items}")
        runner.admit()
        t0 = time.perf_counter()
        rounds = -(-max(1, len(body.items)) // runner.max_concurrency)
        queue_deadline = time.monotonic() + runner.timeout * (rounds + 1)
        try:
            async def one(req: JudgeRequest) -> JudgeResponse:
                try:
                    res = await runner.run(lambda: judge_item(req), queue_deadline=queue_deadline)
                    if not body.include_verdicts:
                        res.verdict = None
                    return res
                except Exception as exc:  # noqa: BLE001 - this item fails alone
                    err = _to_http(exc).detail
                    log.warning("reward item %s failed: %s", req.id, err)
                    return JudgeResponse(id=req.id, ok=False, reward=0.0, rl_reward=0.0, render_ok=False,
                                         error=str(err))

            results = await asyncio.gather(*(one(r) for r in body.items))
        finally:
            runner.release()
        return RewardResponse(rewards=[r.rl_reward for r in results], visual_rewards=[r.reward for r in results],
                              results=list(results), seconds=round(time.perf_counter() - t0, 4))

    served_name = served_model_name or ""
    if openai_model is not None:
        from .openai_compat import make_router

        if isinstance(openai_model, str) and judge_backend is not None and judge_backend.spec == _canonical(openai_model):
            backend = judge_backend
        else:
            backend = shared_backend(openai_model, opts, max_batch, batch_window_ms)
        if getattr(backend, "kind", None) not in LOCAL_KINDS:
            raise InputError("--openai serves a model loaded here: use --model hf:PATH, tiny:FAMILY or vllm:PATH")
        served_name = served_model_name or default_served_name(backend.spec)

        async def run_blocking(fn: Callable[[], Any]) -> Any:
            runner.admit()
            try:
                return await runner.run(fn)
            except ItemTimeout:
                raise TimeoutError() from None
            finally:
                runner.release()

        app.include_router(make_router(backend, served_name, run_blocking, pixels=pixels, max_pixels=max_pixels,
                                       pixel_wait=runner.timeout), dependencies=auth)

    if max_body_mb:
        app.add_middleware(BodyLimitMiddleware, max_bytes=int(max_body_mb * 1024 * 1024))
    if not token:  # added last: outermost, so a foreign Host is refused before its body is read
        app.add_middleware(LoopbackOnlyMiddleware)
    return app


def _canonical(spec: str) -> str:
    from ..models import parse_spec

    return parse_spec(spec).canonical()


def default_served_name(spec: str) -> str:
    """``tiny:qwen3-vl`` -> ``tiny-qwen3-vl``; ``hf:/models/Visual-ERM`` -> ``Visual-ERM``."""
    kind, _, target = spec.partition(":")
    if kind == "tiny":
        return f"tiny-{target}"
    return Path(target.rstrip("/")).name or target
