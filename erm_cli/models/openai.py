"""``openai:URL#MODEL``: any OpenAI-compatible chat endpoint (``vllm serve``, SGLang, hosted APIs, ``erm serve --openai``).

- images are sent inline as ``data:`` URIs (PNG, or the JPEG bytes a judge already encoded);
- at most ``concurrency`` requests are in flight per backend (shared by every thread that calls it);
- 429, 5xx, timeouts and connection errors are retried with exponential backoff and jitter
  (``Retry-After`` is honoured), moving to the next URL each time;
- several URLs (``openai:http://a/v1,http://b/v1#m``) are used round-robin;
- the API key comes from ``api_key``, else the environment variable ``api_key_env``
  (default: ``ERM_API_KEY``, then ``OPENAI_API_KEY``); no key means no ``Authorization`` header;
- sampling fields beyond the OpenAI standard (``top_k``, ``repetition_penalty``) are sent for vLLM/SGLang
  and dropped automatically if a server rejects them.

A request that still fails returns a :class:`Completion` with ``error`` set; the batch goes on.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from ..errors import InputError, ModelError
from .base import Completion, Request, Sampling
from .messages import image_to_data_uri, map_parts, part_image, text_part, unsupported

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
NON_STANDARD_SAMPLING = ("top_k", "repetition_penalty")
DEFAULT_KEY_ENVS = ("ERM_API_KEY", "OPENAI_API_KEY")


def normalise_base_url(url: str) -> str:
    """``http://h:8000`` -> ``http://h:8000/v1``; a URL with a path is kept as given (minus a trailing /)."""
    url = url.strip().rstrip("/")
    for suffix in ("/chat/completions", "/completions"):
        url = url.removesuffix(suffix)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"not an http(s) URL: {url!r}")
    if parts.path in ("", "/"):
        url = url + "/v1"
    return url


def to_openai_messages(request: Request, image_format: str = "png") -> list[dict[str, Any]]:
    """Our request format -> OpenAI chat messages (image parts become ``image_url`` data URIs)."""
    from ..imageio import load_image

    def convert(part: dict[str, Any]) -> dict[str, Any]:
        kind = part.get("type")
        if kind == "text":
            return text_part(part)
        if kind == "image_url":
            return part
        img = part_image(part)
        if img is None:
            raise unsupported(part)
        if not hasattr(img, "save"):
            img = load_image(img, what="image part")
        url = {"url": image_to_data_uri(img, image_format)}
        if part.get("detail"):  # OpenAI's image detail level ("high" in the released bench script)
            url["detail"] = str(part["detail"])
        return {"type": "image_url", "image_url": url}

    return map_parts(request, convert)


def _api_key(api_key: str | None, api_key_env: str | None) -> str | None:
    if api_key:
        return api_key
    envs = (api_key_env,) if api_key_env else DEFAULT_KEY_ENVS
    for name in envs:
        value = os.environ.get(name or "")
        if value:
            return value
    return None


class OpenAIBackend:
    """Chat completions over HTTP with a concurrency limit, retries and round-robin (see module docstring)."""

    kind = "openai"

    def __init__(self, urls: list[str] | str, model: str | None = None, spec: str | None = None,
                 concurrency: int = 8, timeout: float = 300.0, max_retries: int = 4, backoff: float = 0.5,
                 api_key: str | None = None, api_key_env: str | None = None, image_format: str = "png") -> None:
        import httpx

        url_list = [urls] if isinstance(urls, str) else list(urls)
        if not url_list:
            raise InputError("openai backend needs at least one URL")
        self.urls = [normalise_base_url(u) for u in url_list]
        self.model = model
        self.spec = spec or f"openai:{','.join(self.urls)}" + (f"#{model}" if model else "")
        self.concurrency = max(1, int(concurrency))
        self.timeout = float(timeout)
        self.max_retries = max(0, int(max_retries))
        self.backoff = max(0.0, float(backoff))
        self.image_format = image_format
        self._key = _api_key(api_key, api_key_env)
        self._client = httpx.Client(timeout=httpx.Timeout(self.timeout, connect=min(10.0, self.timeout)),
                                    limits=httpx.Limits(max_connections=self.concurrency * 2,
                                                        max_keepalive_connections=self.concurrency))
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="erm-openai")
        self._rr = itertools.count()
        self._rr_lock = threading.Lock()
        self._send_extra = True
        self._model_lock = threading.Lock()

    # -- public ---------------------------------------------------------------------------------------------
    def generate(self, requests: list[Request], sampling: Sampling | None = None) -> list[Completion]:
        sampling = sampling or Sampling()
        if not requests:
            return []
        bodies: list[dict[str, Any] | Completion] = []
        for req in requests:
            try:
                bodies.append({"messages": to_openai_messages(req, self.image_format)})
            except InputError as exc:
                bodies.append(Completion(text="", error=str(exc)))
        futures = [None if isinstance(b, Completion) else self._pool.submit(self._one, b, sampling)
                   for b in bodies]
        return [b if f is None else f.result() for b, f in zip(bodies, futures)]  # type: ignore[misc]

    def model_name(self) -> str:
        """The served model name: the spec's ``#MODEL``, else the first id from ``GET /models``."""
        if self.model:
            return self.model
        with self._model_lock:
            if self.model:
                return self.model
            last = "no answer"
            for base in self.urls:
                try:
                    r = self._client.get(f"{base}/models", headers=self._headers())
                    r.raise_for_status()
                    data = r.json().get("data") or []
                    if data:
                        self.model = str(data[0]["id"])
                        return self.model
                    last = "empty model list"
                except Exception as exc:  # noqa: BLE001
                    last = f"{exc.__class__.__name__}: {exc}"
            raise ModelError(f"openai: no model name in the spec and GET /models failed ({last}); "
                             "use openai:URL#MODEL")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    # -- internals ------------------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json"}
        if self._key:
            h["Authorization"] = f"Bearer {self._key}"
        return h

    def _next_url(self) -> str:
        with self._rr_lock:
            return self.urls[next(self._rr) % len(self.urls)]

    def _payload(self, body: dict[str, Any], sampling: Sampling) -> dict[str, Any]:
        if sampling.server_defaults:
            return {"model": self.model_name(), "messages": body["messages"], "max_tokens": int(sampling.max_tokens)}
        p: dict[str, Any] = {"model": self.model_name(), "messages": body["messages"],
                             "max_tokens": int(sampling.max_tokens), "temperature": float(sampling.temperature),
                             "top_p": float(sampling.top_p), "stream": False}
        if sampling.presence_penalty is not None:
            p["presence_penalty"] = float(sampling.presence_penalty)
        if sampling.seed is not None:
            p["seed"] = int(sampling.seed)
        if self._send_extra:
            if sampling.top_k:
                p["top_k"] = int(sampling.top_k)
            if sampling.repetition_penalty is not None and sampling.repetition_penalty != 1.0:
                p["repetition_penalty"] = float(sampling.repetition_penalty)
        return p

    def _sleep_before_retry(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * (2 ** attempt) * (0.5 + random.random())
        if retry_after:
            try:
                delay = max(delay, min(60.0, float(retry_after)))
            except ValueError:
                pass
        time.sleep(min(delay, 30.0))

    def _one(self, body: dict[str, Any], sampling: Sampling) -> Completion:
        import httpx

        t0 = time.perf_counter()
        last_error = "no attempt"
        attempt = 0
        dropped_extra = False
        made = 0
        while attempt <= self.max_retries:
            base = self._next_url()
            made += 1
            try:
                payload = self._payload(body, sampling)
            except ModelError as exc:
                return Completion(text="", error=str(exc), seconds=time.perf_counter() - t0)
            retry_after = None
            try:
                r = self._client.post(f"{base}/chat/completions", json=payload, headers=self._headers())
            except httpx.TimeoutException as exc:
                last_error = f"timeout after {self.timeout:g}s from {base} ({exc.__class__.__name__})"
            except httpx.TransportError as exc:
                last_error = f"cannot reach {base}: {exc.__class__.__name__}: {exc}"
            else:
                if r.status_code == 200:
                    return self._completion(r, base, t0, attempt)
                detail = _error_detail(r)
                last_error = f"HTTP {r.status_code} from {base}: {detail}"
                if (r.status_code in (400, 422) and self._send_extra and not dropped_extra
                        and any(k in payload for k in NON_STANDARD_SAMPLING)
                        and any(k in detail for k in NON_STANDARD_SAMPLING + ("extra", "Unrecognized", "unknown"))):
                    self._send_extra = False  # a strict server: stop sending vLLM-only sampling fields
                    dropped_extra = True
                    import logging

                    logging.getLogger("erm.models").warning(
                        "openai: %s refused %s (%s); not sending them to this backend any more", base,
                        ", ".join(k for k in NON_STANDARD_SAMPLING if k in payload), detail[:120])
                    continue
                if r.status_code not in RETRY_STATUS:
                    break
                retry_after = r.headers.get("retry-after")
            if attempt < self.max_retries:
                self._sleep_before_retry(attempt, retry_after)
            attempt += 1
        retries = made - 1
        tries = f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries > 0 else ""
        return Completion(text="", error=f"{last_error}{tries}", seconds=time.perf_counter() - t0)

    def _completion(self, r: Any, base: str, t0: float, retries: int) -> Completion:
        try:
            data = r.json()
            choice = data["choices"][0]
            message = choice.get("message") or {}
            text = message.get("content") or choice.get("text") or ""
            reasoning = message.get("reasoning_content") or message.get("reasoning")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            return Completion(text="", error=f"malformed response from {base}: {exc.__class__.__name__}: {exc}",
                              seconds=time.perf_counter() - t0)
        usage = data.get("usage") or {}
        info: dict[str, Any] = {"finish_reason": choice.get("finish_reason"), "url": base, "retries": retries}
        if reasoning:
            info["reasoning"] = reasoning
        return Completion(text=str(text), prompt_tokens=int(usage.get("prompt_tokens") or 0),
                          completion_tokens=int(usage.get("completion_tokens") or 0),
                          seconds=time.perf_counter() - t0, info=info)


def _error_detail(r: Any) -> str:
    try:
        data = r.json()
        if isinstance(data, dict):
            err = data.get("error", data.get("detail", data))
            if isinstance(err, dict):
                err = err.get("message", err)
            return str(err)[:300]
    except ValueError:
        pass
    return (r.text or "").strip().replace("\n", " ")[:300] or r.reason_phrase
