"""RL reward adapters over ONE scorer: TRL, verl, EasyR1 and OpenRLHF.

Every adapter ends in :func:`score_completion` / :func:`score_batch`: extract the code from the policy's
completion, render it (sandboxed), judge the render against the reference image and return the RL
reward ``render_weight * render_ok + visual_weight * reward`` (defaults 1 and 1: Visual-ERM's
``r_rsr + r_verm``, in [0, 2]). The judge is local (``"critic"``, ``"vlm"`` with a model spec, or a
Judge object) or a remote ``erm serve`` (``"http://host:port"``; several URLs joined by commas are used
round-robin). A sample that fails or exceeds the per-sample timeout gets reward 0 and its reason is
logged; the batch goes on.

Copy-paste configs: docs/RL-INTEGRATION.md. Framework entry points in this module:

- TRL: ``reward_funcs=[make_trl_reward(judge="critic", image_column="image")]`` (or ``trl_reward``);
- verl (reward loop, ``naive``, ``batch``, ``dapo``): ``custom_reward_function.path=<this file>``
  ``custom_reward_function.name=compute_score``; verl ``prime``: ``...name=compute_score_prime``
  (a plain number per sample; ``compute_score`` also works there, its dict answers ``[0]``);
- EasyR1: ``worker.reward.reward_function=<this file>:compute_score`` (batch; ``REWARD_TYPE``);
- OpenRLHF: ``--reward.remote_url <this file>`` (``--remote_rm_url`` before 0.10.2; calls :func:`reward_func`).

Answers are cleaned of their chat template's end-of-turn and padding tokens before the code is
extracted (OpenRLHF decodes with ``skip_special_tokens=False``). The frameworks load this file by path,
so it imports erm only with absolute imports, and reads its settings from keyword arguments or from the
environment (the full, checked list: :mod:`erm_cli.train.reward_adapters.options`; an unknown option is
an error): ``ERM_REWARD_JUDGE`` (critic | vlm | URL), ``ERM_REWARD_MODEL`` (spec for vlm),
``ERM_REWARD_TIMEOUT`` (seconds, default 120), ``ERM_REWARD_WORKERS`` (parallel samples, default 4),
``ERM_REWARD_TOKEN`` (bearer token for a remote ``erm serve``), ``ERM_REWARD_ROOT`` (base folder for
relative reference paths), ``ERM_REWARD_PROFILE`` (``erm`` | ``visual-erm``), ``ERM_REWARD_PROMPT_FILE``,
``ERM_REWARD_LOG`` (JSON-lines file of per-sample results), ``ERM_REWARD_RAY_POOL`` (score each batch on
this named pool of Ray judge actors instead of in this process: :mod:`erm_cli.distributed.ray_reward`).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from erm_cli.train.reward_adapters.chat_text import response_from_query, strip_chat_tokens
from erm_cli.train.reward_adapters.options import RewardOptions, parse_options
from erm_cli.train.reward_adapters.results import VerlScore, score_fields, write_reward_log

log = logging.getLogger("erm.rewards")

DEFAULT_TIMEOUT = 120.0
DEFAULT_WORKERS = 4
#: EasyR1 reads these module attributes to name the reward and to call it once per batch.
REWARD_NAME = "erm_visual"
REWARD_TYPE = "batch"

ScoreResult = tuple[float, Any, "str | None"]  # (reward, Verdict | None, failure reason | None)


# ---------------------------------------------------------------------------------------------------------
# Inputs: completions, references, tasks
# ---------------------------------------------------------------------------------------------------------
def completion_text(completion: Any) -> str:
    """A policy completion as text: plain strings, TRL conversational lists, or message dicts."""
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        content = completion.get("content", completion.get("text", ""))
        if isinstance(content, list):
            return "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return str(content or "")
    if isinstance(completion, (list, tuple)):
        msgs = [m for m in completion if isinstance(m, dict)]
        assistant = [m for m in msgs if m.get("role", "assistant") == "assistant"]
        return completion_text((assistant or msgs)[-1]) if (assistant or msgs) else ""
    return str(completion)


_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_REFERENCE_KEYS = ("reference", "reference_path", "reference_b64", "gt_img_path", "image_ori", "gt_image",
                   "image_path", "image", "images", "bytes", "path", "b64")


def coerce_reference(ref: Any, root: str | Path | None = None) -> Any:
    """Something ``load_image`` accepts (PIL image, bytes or path) from the many shapes RL data uses:
    PIL images, lists of them (first wins), ``{"bytes", "path"}`` dicts (datasets Image), numpy arrays,
    paths (relative to ``root`` or ``ERM_REWARD_ROOT``), base64 / ``data:`` strings and JSON strings."""
    from erm_cli.errors import InputError

    if ref is None:
        raise InputError("no reference image for this sample")
    if hasattr(ref, "size") and hasattr(ref, "mode"):  # PIL image
        return ref
    if isinstance(ref, (bytes, bytearray)):
        return bytes(ref)
    if isinstance(ref, Path):
        return _resolve_path(str(ref), root)
    if isinstance(ref, (list, tuple)):
        for item in ref:
            if item is not None:
                return coerce_reference(item, root)
        raise InputError("empty reference list")
    if isinstance(ref, dict):
        if ref.get("bytes"):
            return bytes(ref["bytes"])
        for key in _REFERENCE_KEYS:
            if ref.get(key) is not None and key != "bytes":
                return coerce_reference(ref[key], ref.get("root", root))
        raise InputError(f"no reference image in {sorted(ref)}")
    if type(ref).__module__ == "numpy":
        from PIL import Image

        return Image.fromarray(ref)
    if isinstance(ref, str):
        text = ref.strip()
        if text.startswith("{"):
            try:
                return coerce_reference(json.loads(text), root)
            except ValueError:
                pass
        from erm_cli.models.messages import decode_base64

        if text.startswith("data:"):
            return decode_base64(text, "reference")
        if len(text) > 256 and _BASE64.fullmatch(text) and not (len(text) < 4096 and Path(text).is_file()):
            return decode_base64(text, "reference")
        return _resolve_path(text, root)
    raise InputError(f"cannot use a {type(ref).__name__} as a reference image")


def _resolve_path(text: str, root: str | Path | None) -> str:
    from erm_cli.errors import InputError

    p = Path(text).expanduser()
    base = root or os.environ.get("ERM_REWARD_ROOT")
    if not p.is_absolute() and base:
        p = Path(base) / p
    if not p.is_file():
        raise InputError(f"reference image not found: {text}")
    return str(p)


def task_hint(*texts: Any) -> str:
    """``chart``/``table``/``svg`` from task names, data sources or Visual-ERM ``task_type`` strings."""
    for t in texts:
        if not t:
            continue
        low = str(t).lower()
        if low in ("chart", "table", "svg"):
            return low
        if "svg" in low or "icon" in low:
            return "svg"
        if "table" in low or "markdown" in low or "tab2" in low:
            return "table"
        if "chart" in low or "plot" in low:
            return "chart"
    return "auto"


# ---------------------------------------------------------------------------------------------------------
# Judges: local (cached per process) or a remote erm serve
# ---------------------------------------------------------------------------------------------------------
_JUDGES: dict[tuple[str, str], Any] = {}
_JUDGES_LOCK = threading.Lock()


def local_judge(name: str = "critic", model: str | None = None, workers: int | None = None, **options: Any) -> Any:
    """A judge built once per process; a vlm judge over a local model gets a micro-batcher, so the
    threads scoring a batch share batched generate calls."""
    key = (name, json.dumps({"model": model, **options}, sort_keys=True, default=str))
    with _JUDGES_LOCK:
        if key in _JUDGES:
            return _JUDGES[key]
        from erm_cli.judges import get_judge

        if name == "vlm":
            from erm_cli.models import load_model
            from erm_cli.serve.batcher import BatchingBackend

            spec = model or os.environ.get("ERM_REWARD_MODEL") or os.environ.get("ERM_JUDGE_MODEL")
            if not spec:
                from erm_cli.errors import InputError

                raise InputError("judge='vlm' needs model=SPEC (or ERM_REWARD_MODEL)")
            from erm_cli.models import in_flight_options

            # every scoring thread (x2 with swap) may wait on the model at once: let that many requests through
            threads = max(workers or 0, int(os.environ.get("ERM_REWARD_WORKERS", DEFAULT_WORKERS)))
            judge_opts = dict(options)
            model_opts = in_flight_options(spec, threads * (2 if judge_opts.get("swap") else 1),
                                           judge_opts.pop("model_options", None))
            backend = load_model(spec, **model_opts)
            if getattr(backend, "kind", None) in ("hf", "tiny", "vllm"):
                backend = BatchingBackend(backend, max_batch=16)
            judge = get_judge("vlm", model=backend, **judge_opts)
        else:
            judge = get_judge(name, **options)
        _JUDGES[key] = judge
        return judge


class RemoteJudge:
    """Client of ``erm serve``: batches go to ``POST /reward``; retries 429/5xx/connection errors."""

    def __init__(self, urls: str | Sequence[str], token: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 max_retries: int = 3, chunk: int = 64) -> None:
        import httpx

        url_list = [u.strip().rstrip("/") for u in (urls.split(",") if isinstance(urls, str) else urls) if u.strip()]
        self.urls = url_list
        self.token = token if token is not None else os.environ.get("ERM_REWARD_TOKEN")
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.chunk = max(1, chunk)
        self._client = httpx.Client(timeout=httpx.Timeout(None, connect=10.0))
        self._next = 0
        self._lock = threading.Lock()

    def _url(self) -> str:
        with self._lock:
            url = self.urls[self._next % len(self.urls)]
            self._next += 1
            return url

    def score_many(self, items: list[tuple[str, Any, str]]) -> list[ScoreResult]:
        out: list[ScoreResult] = []
        for start in range(0, len(items), self.chunk):
            out.extend(self._score_chunk(items[start:start + self.chunk]))
        return out

    def _score_chunk(self, items: list[tuple[str, Any, str]]) -> list[ScoreResult]:
        import httpx

        from erm_cli.judges.verdict import Verdict

        payload_items: list[dict[str, Any] | None] = []
        results: list[ScoreResult | None] = []
        for i, (code, ref, task) in enumerate(items):
            try:
                payload_items.append({"id": str(i), "reference_b64": _reference_b64(ref), "candidate_code": code,
                                      "task": task if task in ("chart", "table", "svg") else "auto"})
                results.append(None)
            except Exception as exc:  # noqa: BLE001
                payload_items.append(None)
                results.append((0.0, None, f"{exc}"))
        body = {"items": [p for p in payload_items if p is not None], "include_verdicts": True}
        if not body["items"]:
            return [r for r in results if r is not None]
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        # the server applies the per-item timeout; the client allows for queueing on top of it
        client_timeout = self.timeout * (2 + len(body["items"]) / 4)
        last = "no attempt"
        data = None
        for attempt in range(self.max_retries + 1):
            url = self._url()
            try:
                r = self._client.post(f"{url}/reward", json=body, headers=headers, timeout=client_timeout)
                if r.status_code == 200:
                    data = r.json()
                    break
                last = f"HTTP {r.status_code} from {url}: {r.text[:200]}"
                if r.status_code not in (429, 500, 502, 503, 504):
                    break
            except httpx.HTTPError as exc:
                last = f"{url}: {exc.__class__.__name__}: {exc}"
            time.sleep(min(10.0, 0.5 * 2 ** attempt))
        remote = iter((data or {}).get("results") or [])
        final: list[ScoreResult] = []
        for res in results:
            if res is not None:
                final.append(res)
                continue
            if data is None:
                final.append((0.0, None, f"remote judge failed: {last}"))
                continue
            item = next(remote, None) or {}
            verdict = Verdict.from_dict(item["verdict"]) if item.get("verdict") else None
            # a candidate that did not render comes back ok: false with its verdict (render_ok false): it is
            # scored like the local path (the verdict's reward, no failure); any other failed item has no verdict
            if not item.get("ok") and (verdict is None or verdict.render_ok):
                final.append((0.0, None, str(item.get("error") or "remote item failed")))
                continue
            final.append((float(item.get("rl_reward", 0.0)), verdict, None))
        return final


def _reference_b64(ref: Any) -> str:
    ref = coerce_reference(ref)
    if isinstance(ref, bytes):
        data = ref
    elif isinstance(ref, str):
        data = Path(ref).read_bytes()
    else:
        buf = io.BytesIO()
        ref.save(buf, format="PNG")
        data = buf.getvalue()
    return base64.b64encode(data).decode("ascii")


_REMOTES: dict[tuple[str, str | None, float], RemoteJudge] = {}


def _is_url(judge: Any) -> bool:
    return isinstance(judge, str) and judge.startswith(("http://", "https://"))


def _remote(urls: str, timeout: float, token: str | None = None) -> RemoteJudge:
    key = (urls, token, timeout)
    with _JUDGES_LOCK:
        if key not in _REMOTES:
            _REMOTES[key] = RemoteJudge(urls, token=token, timeout=timeout)
        return _REMOTES[key]


# ---------------------------------------------------------------------------------------------------------
# The one scorer
# ---------------------------------------------------------------------------------------------------------
def _weighted(verdict: Any, render_weight: float, visual_weight: float) -> float:
    return float(render_weight * (1.0 if verdict.render_ok else 0.0) + visual_weight * verdict.reward)


def _score_local(text: str, reference: Any, task: str, judge: Any, render_weight: float,
                 visual_weight: float, root: Any, profile: str | None = None) -> ScoreResult:
    from erm_cli.judges.pipeline import score_candidate

    if not text.strip():
        return 0.0, None, "empty completion"
    render_options = None
    if profile:
        from erm_cli.renderers import RenderOptions

        render_options = RenderOptions(profile=profile)
    verdict = score_candidate(coerce_reference(reference, root), text, task=task, judge=judge,
                              candidate_is_code=True, render_options=render_options)
    if profile:
        verdict.info["profile"] = profile
    backend_error = verdict.info.get("backend_error")
    if backend_error:
        return 0.0, verdict, f"judge model failed: {backend_error}"
    if profile == "visual-erm" and verdict.task == "table":
        return released_table_reward(verdict)
    return _weighted(verdict, render_weight, visual_weight), verdict, None


#: The released table reward (``table_parse_rm_v2.py``): minus the severity total, this on failure.
RELEASED_TABLE_FAILURE_SEVERITY = 4.0


def released_table_reward(verdict: Any) -> ScoreResult:
    """``-S`` (no render term); ``-4`` when the render failed or the judge's answer was unreadable."""
    if not verdict.render_ok:
        return -RELEASED_TABLE_FAILURE_SEVERITY, verdict, None
    if not verdict.parsed:
        return -RELEASED_TABLE_FAILURE_SEVERITY, verdict, None
    return -float(verdict.severity_total), verdict, None


def _resolve_judge(judge: Any, model: str | None, judge_options: dict[str, Any], workers: int | None = None) -> Any:
    if judge is None:
        judge = os.environ.get("ERM_REWARD_JUDGE", "critic")
    if isinstance(judge, str) and not _is_url(judge):
        return local_judge(judge, model=model, workers=workers, **judge_options)
    return judge


def score_batch(completions: Sequence[Any], references: Sequence[Any], tasks: Sequence[str] | str = "auto",
                judge: Any = None, *, model: str | None = None, timeout: float | None = None,
                max_workers: int | None = None, render_weight: float = 1.0, visual_weight: float = 1.0,
                root: str | Path | None = None, token: str | None = None, profile: str | None = None,
                **judge_options: Any) -> list[ScoreResult]:
    """Score many completions; each gets ``(reward, verdict or None, reason or None)`` in input order.

    Completions lose their chat template's end-of-turn/padding tokens first. ``profile`` ``"visual-erm"``
    renders like the released reward code (and scores tables with its ``-S`` reward)."""
    n = len(completions)
    if len(references) != n:
        raise ValueError(f"{n} completions but {len(references)} references")
    task_list = [tasks] * n if isinstance(tasks, str) else list(tasks)
    timeout = float(timeout if timeout is not None else os.environ.get("ERM_REWARD_TIMEOUT", DEFAULT_TIMEOUT))
    workers = int(max_workers or os.environ.get("ERM_REWARD_WORKERS", DEFAULT_WORKERS))
    texts = [strip_chat_tokens(completion_text(c)) for c in completions]
    references = [_loaded(r) for r in references]
    judge = judge if judge is not None else os.environ.get("ERM_REWARD_JUDGE", "critic")
    if (judge_options or (profile and _is_url(judge))) and not (isinstance(judge, str) and not _is_url(judge)):
        from erm_cli.errors import InputError

        names = sorted(judge_options) + (["profile"] if profile and _is_url(judge) else [])
        raise InputError(f"option(s) {', '.join(names)} cannot reach a remote judge or a judge object; "
                         "set them where that judge is built (erm serve flags, get_judge(...))")
    if _is_url(judge):
        remote = _remote(judge, timeout, token)
        items, results = [], []
        for text, ref, task in zip(texts, references, task_list):
            items.append((text, ref, task))
        scored = remote.score_many(items)
        for (reward, verdict, reason) in scored:
            if verdict is not None and reason is None:
                if verdict.info.get("profile") == "visual-erm" and verdict.task == "table":
                    reward, verdict, reason = released_table_reward(verdict)  # the server renders like the release
                else:
                    reward = _weighted(verdict, render_weight, visual_weight)
            results.append((reward, verdict, reason))
        _log_failures(results)
        return results
    try:
        the_judge = _resolve_judge(judge, model, judge_options, workers)
    except Exception as exc:  # noqa: BLE001 - a judge that cannot load fails every sample, loudly
        reason = f"cannot build the judge: {exc}"
        log.error(reason)
        return [(0.0, None, reason)] * n
    jobs = [lambda t=t, r=r, k=k: _score_local(t, r, k, the_judge, render_weight, visual_weight, root, profile)
            for t, r, k in zip(texts, references, task_list)]
    results = run_with_timeouts(jobs, timeout, workers)
    _log_failures(results)
    return results


def _loaded(ref: Any) -> Any:
    """Decode lazily opened PIL images here, once: trainers repeat one image object per generation, and
    decoding the same object from several threads at once is not safe."""
    if hasattr(ref, "load") and hasattr(ref, "mode"):
        try:
            ref.load()
        except Exception:  # noqa: BLE001 - a corrupt image fails later, alone, with its reason
            pass
    return ref


def score_completion(completion: Any, reference: Any, task: str = "auto", judge: Any = "critic",
                     timeout: float | None = DEFAULT_TIMEOUT, **options: Any) -> ScoreResult:
    """THE scorer: ``(rl_reward, verdict, reason)``; reward 0 with a reason on failure or timeout.

    ``judge``: "critic" (default), "vlm" (pass ``model=SPEC``), a Judge object, or an ``erm serve`` URL.
    Options: ``model``, ``render_weight``, ``visual_weight``, ``root``, ``token`` and judge options.
    """
    return score_batch([completion], [reference], [task], judge, timeout=timeout, max_workers=1, **options)[0]


_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_LOCK = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is None or _POOL_SIZE < workers:
            _POOL = ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="erm-reward")
            _POOL_SIZE = workers
        return _POOL


def run_with_timeouts(jobs: list[Callable[[], ScoreResult]], timeout: float, workers: int) -> list[ScoreResult]:
    """Run jobs on a shared pool; each may run ``timeout`` seconds from its own start (queueing not
    counted). A job that raises or overruns scores 0 with the reason; a running overrun keeps its thread
    until it ends (renders have their own kill timeout), so the pool is sized for that."""
    from erm_cli.errors import ErmError

    pool = _pool(workers)
    starts: list[float | None] = [None] * len(jobs)
    gate = threading.BoundedSemaphore(max(1, workers))  # the shared pool may be larger (an earlier call's)

    def wrap(i: int, job: Callable[[], ScoreResult]) -> ScoreResult:
        with gate:
            starts[i] = time.monotonic()
            return job()

    futures: list[Future] = [pool.submit(wrap, i, job) for i, job in enumerate(jobs)]
    results: list[ScoreResult | None] = [None] * len(jobs)
    queue_limit = time.monotonic() + timeout * (len(jobs) / max(1, workers) + 2)
    while any(r is None for r in results):
        for i, fut in enumerate(futures):
            if results[i] is not None:
                continue
            if fut.done():
                try:
                    results[i] = fut.result()
                except ErmError as exc:
                    results[i] = (0.0, None, str(exc))
                except Exception as exc:  # noqa: BLE001 - one sample fails alone
                    results[i] = (0.0, None, f"{exc.__class__.__name__}: {exc}")
                continue
            started = starts[i]
            now = time.monotonic()
            if started is not None and now - started > timeout:
                results[i] = (0.0, None, f"timeout after {timeout:g}s")
            elif started is None and now > queue_limit:
                fut.cancel()
                results[i] = (0.0, None, f"timeout waiting {timeout:g}s-slots in the queue")
        if any(r is None for r in results):
            time.sleep(0.01)
    return results  # type: ignore[return-value]


def _forget_after_fork() -> None:
    """A forked child (verl's prime manager scores in a fork-based process pool) inherits the pool and
    the judges' clients without their threads: a job submitted to that pool would wait forever."""
    global _POOL, _POOL_SIZE, _POOL_LOCK, _JUDGES_LOCK
    _POOL, _POOL_SIZE = None, 0
    _POOL_LOCK, _JUDGES_LOCK = threading.Lock(), threading.Lock()
    _JUDGES.clear()
    _REMOTES.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def _log_failures(results: list[ScoreResult]) -> None:
    for i, (_, _, reason) in enumerate(results):
        if reason:
            log.warning("reward sample %d scored 0: %s", i, reason)


# ---------------------------------------------------------------------------------------------------------
# TRL
# ---------------------------------------------------------------------------------------------------------
def make_trl_reward(judge: Any = "critic", image_column: str = "image", task_column: str | None = None,
                    task: str = "auto", render_weight: float = 1.0, visual_weight: float = 1.0,
                    timeout: float = DEFAULT_TIMEOUT, max_workers: int = DEFAULT_WORKERS,
                    name: str = "erm_visual_reward", model: str | None = None, asynchronous: bool = False,
                    **judge_options: Any) -> Callable:
    """A TRL ``reward_funcs`` callable: ``fn(prompts, completions, completion_ids, **columns) -> list[float]``.

    ``asynchronous=True`` gives an ``async def`` of the same: TRL awaits its async reward functions together
    (``asyncio.gather``), so erm's judge calls overlap with the other reward functions' instead of
    running after them; the scoring itself runs in a worker thread.

    The reference image comes from the dataset column ``image_column`` (``images`` lists work too: the
    first image is the reference); the task from ``task_column`` or ``task``. Other options (``profile``,
    ``prompt_file``, ``swap``, ``sampling``, ...) are checked now: an unknown one raises ``InputError``.
    Logs ``erm/render_ok``, ``erm/visual_reward`` and ``erm/failed`` through TRL's ``log_metric``, and the
    failure reasons as an ``erm_reason`` column through ``log_extra``.
    """
    opts = parse_options({"judge": judge, "model": model, "timeout": timeout, "max_workers": max_workers,
                          "render_weight": render_weight, "visual_weight": visual_weight, **judge_options},
                         use_env=False)
    if not isinstance(judge, str):  # a judge object: keep it (parse_options only checks names and URLs)
        opts.judge = judge

    def reward(prompts: Any = None, completions: Any = None, completion_ids: Any = None, **kwargs: Any) -> list[float]:
        comps = list(completions or [])
        refs = kwargs.get(image_column)
        if refs is None and image_column != "images":
            refs = kwargs.get("images")
        if refs is None:
            log.error("TRL reward: no %r column in the dataset; every sample scores 0", image_column)
            return [0.0] * len(comps)
        tasks = list(kwargs[task_column]) if task_column and task_column in kwargs else [task] * len(comps)
        tasks = [task_hint(t) for t in tasks]
        results = _score(opts, comps, list(refs), tasks)
        _trl_logs(kwargs, results)
        return [r for r, _, _ in results]

    if asynchronous:
        import asyncio
        import functools

        @functools.wraps(reward)
        async def async_reward(*args: Any, **kwargs: Any) -> list[float]:
            return await asyncio.to_thread(reward, *args, **kwargs)

        async_reward.__name__ = async_reward.__qualname__ = name
        return async_reward
    reward.__name__ = name
    reward.__qualname__ = name
    return reward


def _trl_logs(kwargs: dict[str, Any], results: list[ScoreResult]) -> None:
    log_metric, log_extra = kwargs.get("log_metric"), kwargs.get("log_extra")
    n = max(1, len(results))
    try:
        if callable(log_metric):
            log_metric("erm/render_ok", sum(1.0 for _, v, _ in results if v is not None and v.render_ok) / n)
            log_metric("erm/visual_reward", sum(v.reward for _, v, _ in results if v is not None) / n)
            log_metric("erm/failed", sum(1.0 for _, _, why in results if why) / n)
        if callable(log_extra):
            log_extra("erm_reason", [why or "" for _, _, why in results])
    except Exception as exc:  # noqa: BLE001 - logging must never break training
        log.debug("TRL metric logging failed: %s", exc)


#: A ready TRL reward with the default critic judge and the ``image`` column.
trl_reward = make_trl_reward()


# ---------------------------------------------------------------------------------------------------------
# The adapters' common path: checked options -> score_batch -> optional per-sample log
# ---------------------------------------------------------------------------------------------------------
def _options(kwargs: dict[str, Any]) -> RewardOptions:
    """Options from a framework's keyword arguments (and the environment); unknown ones raise."""
    return parse_options(dict(kwargs))


def _score(opts: RewardOptions, completions: Sequence[Any], references: Sequence[Any], tasks: Sequence[str],
           root: Any = None) -> list[ScoreResult]:
    kwargs = opts.score_kwargs()
    if root is not None and kwargs.get("root") is None:
        kwargs["root"] = root
    if opts.ray_pool:  # scored by a named pool of Ray judge actors, with this same scorer in each actor
        from erm_cli.distributed.ray_reward import score_on_pool

        results = score_on_pool(list(completions), list(references), list(tasks), pool=opts.ray_pool,
                                actors=opts.ray_actors, **kwargs)
    else:
        results = score_batch(list(completions), list(references), list(tasks), **kwargs)
    write_reward_log(opts.reward_log, [{"reward": r, "task": t, "reason": why, **score_fields(r, v, why)}
                                       for (r, v, why), t in zip(results, tasks)])
    return results


# ---------------------------------------------------------------------------------------------------------
# verl and EasyR1 (both call their function ``compute_score``)
# ---------------------------------------------------------------------------------------------------------
def _verl_reference(ground_truth: Any, extra_info: Any) -> Any:
    if isinstance(extra_info, dict):
        for key in _REFERENCE_KEYS:
            if extra_info.get(key) is not None:
                return extra_info[key]
    return ground_truth


def _score_dict(reward: float, verdict: Any, reason: str | None, key: str) -> dict[str, Any]:
    out = {key: float(reward), **score_fields(reward, verdict, reason)}
    return VerlScore(out) if key == "score" else out


def _verl_task(info: dict[str, Any], data_source: Any) -> str:
    return task_hint(info.get("task"), info.get("task_type"), data_source)


def verl_compute_score(data_source: Any = None, solution_str: str = "", ground_truth: Any = None,
                       extra_info: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, float]:
    """verl ``compute_score``: the reference comes from ``extra_info`` (``reference``, ``gt_img_path``,
    ``image_ori``, ``image`` ...) or else ``ground_truth`` (a path, base64, or JSON with one of those keys);
    the task from ``extra_info["task"]``/``["task_type"]`` or ``data_source``. Returns
    ``{"score": ..., extras}`` (which also answers ``[0]`` with the score, for verl's prime manager)."""
    opts = _options(kwargs)
    info = extra_info if isinstance(extra_info, dict) else {}
    [(reward, verdict, reason)] = _score(opts, [solution_str], [_verl_reference(ground_truth, info)],
                                         [_verl_task(info, data_source)], root=info.get("root"))
    return _score_dict(reward, verdict, reason, "score")


def compute_score_prime(data_source: Any = None, solution_str: str = "", ground_truth: Any = None,
                        extra_info: dict[str, Any] | None = None, **kwargs: Any) -> float:
    """verl ``reward_manager=prime`` (the released Visual-ERM recipe's manager): a plain number per sample.

    prime calls ``fn(data_source, solution_str, ground_truth, extra_info)`` in a process pool and keeps
    ``float(result)``; the extras (render_ok, visual_reward, failure reason) go to the ``erm.rewards``
    logger and, with ``reward_log``/``ERM_REWARD_LOG``, to a JSON-lines file."""
    return float(verl_compute_score(data_source, solution_str, ground_truth, extra_info, **kwargs)["score"])


def verl_compute_score_batch(data_sources: Sequence[Any] | None, solution_strs: Sequence[str],
                             ground_truths: Sequence[Any], extra_infos: Sequence[Any] | None = None,
                             **kwargs: Any) -> list[dict[str, float]]:
    """verl's batched reward manager form (legacy ``reward_model.reward_manager=batch``)."""
    opts = _options(kwargs)
    n = len(solution_strs)
    infos = [i if isinstance(i, dict) else {} for i in (extra_infos if extra_infos is not None else [None] * n)]
    sources = list(data_sources) if data_sources is not None else [None] * n
    refs = [_verl_reference(g, i) for g, i in zip(ground_truths, infos)]
    tasks = [_verl_task(i, d) for d, i in zip(sources, infos)]
    results = _score(opts, list(solution_strs), refs, tasks, root=infos[0].get("root") if infos else None)
    return [_score_dict(r, v, why, "score") for r, v, why in results]


def easyr1_compute_score(reward_inputs: Any, **kwargs: Any) -> Any:
    """EasyR1 ``compute_score``: a list of ``{"response", "response_length", "ground_truth"}`` (batch) or
    one such dict (sequential). ``ground_truth`` carries the reference (path, base64 or JSON with
    ``image``/``task``). Returns ``{"overall", "render_ok", "visual_reward", ...}`` per input."""
    single = isinstance(reward_inputs, dict)
    inputs = [reward_inputs] if single else list(reward_inputs)
    opts = _options(kwargs)
    refs, tasks = [], []
    for item in inputs:
        gt = item.get("ground_truth")
        mm = item.get("multi_modal_data") or {}
        refs.append(mm.get("images") or mm.get("image") or gt)
        meta = gt if isinstance(gt, dict) else _maybe_json(gt)
        tasks.append(task_hint(meta.get("task") if isinstance(meta, dict) else None, item.get("data_source")))
    results = _score(opts, [i.get("response", "") for i in inputs], refs, tasks)
    scores = [_score_dict(r, v, why, "overall") for r, v, why in results]
    return scores[0] if single else scores


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return None


def compute_score(*args: Any, **kwargs: Any) -> Any:
    """One name for both frameworks: EasyR1 passes a list (or one dict) of reward inputs; verl passes
    ``data_source, solution_str, ground_truth, extra_info`` (or the plural batch keywords)."""
    if "solution_strs" in kwargs:
        return verl_compute_score_batch(**kwargs)
    first = args[0] if args else kwargs.get("reward_inputs")
    if "reward_inputs" in kwargs or isinstance(first, list) or (isinstance(first, dict) and "response" in first):
        if "reward_inputs" in kwargs:
            return easyr1_compute_score(kwargs.pop("reward_inputs"), **kwargs)
        return easyr1_compute_score(*args, **kwargs)
    return verl_compute_score(*args, **kwargs)


# ---------------------------------------------------------------------------------------------------------
# OpenRLHF
# ---------------------------------------------------------------------------------------------------------
def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **kwargs: Any) -> dict[str, Any]:
    """OpenRLHF ``--reward.remote_url <this file>``: ``queries`` are prompt + response decoded with
    ``skip_special_tokens=False``, ``labels`` carry the reference (``--data.label_key``: a path, base64 or
    JSON). Returns ``rewards`` (for advantages), ``scores`` (in [0, 1], for dynamic filtering) and
    ``extra_logs``."""
    import torch

    opts = _options(kwargs)
    responses = [response_from_query(q, p) for q, p in zip(queries, prompts)]
    tasks = [task_hint((_maybe_json(lab) or {}).get("task") if isinstance(lab, str) else
                       (lab.get("task") if isinstance(lab, dict) else None)) for lab in labels]
    results = _score(opts, responses, list(labels), tasks)
    rewards = torch.tensor([r for r, _, _ in results], dtype=torch.float32)
    top = max(1e-9, opts.render_weight + opts.visual_weight)
    return {"rewards": rewards, "scores": (rewards / top).clamp(0.0, 1.0),
            "extra_logs": {
                "erm_render_ok": torch.tensor([float(v is not None and v.render_ok) for _, v, _ in results]),
                "erm_visual_reward": torch.tensor([float(v.reward) if v is not None else 0.0 for _, v, _ in results]),
                "erm_failed": torch.tensor([float(why is not None) for _, _, why in results]),
            }}


# ---------------------------------------------------------------------------------------------------------
# Loaded by file path (verl, EasyR1, OpenRLHF): hand out the functions of the importable module
# ---------------------------------------------------------------------------------------------------------
if __name__ != "erm_cli.train.rewards":
    # verl registers this file under a random module name that a worker process cannot import, so its
    # functions do not pickle: verl's prime manager, which sends the function to a process pool, then
    # scores every sample 0 ("Can't pickle ... import of module 'custom_module_...' failed"). The same
    # functions from erm_cli.train.rewards pickle by reference, and share one judge cache per process.
    from erm_cli.train import rewards as _importable

    compute_score = _importable.compute_score
    compute_score_prime = _importable.compute_score_prime
    verl_compute_score = _importable.verl_compute_score
    verl_compute_score_batch = _importable.verl_compute_score_batch
    easyr1_compute_score = _importable.easyr1_compute_score
    reward_func = _importable.reward_func
    make_trl_reward = _importable.make_trl_reward
    trl_reward = _importable.trl_reward
    score_batch = _importable.score_batch
    score_completion = _importable.score_completion
