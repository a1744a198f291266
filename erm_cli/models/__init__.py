"""The ONE model loader: a spec string -> a backend with one batched ``generate(requests, sampling)``.

    from erm_cli.models import load_model, Sampling
    backend = load_model("tiny:qwen3-vl")              # or hf:PATH, vllm:PATH, openai:URL#MODEL
    [completion] = backend.generate([[{"role": "user", "content": [
        {"type": "image", "image": pil_image}, {"type": "text", "text": "Describe."}]}]], Sampling(max_tokens=64))

A backend is built once per process per (spec, options) and shared by judge, refine, train, bench and
serve. Options come from keyword arguments and from ``?key=value`` in the spec (keywords win); ``None``
values are ignored so CLI defaults can be passed through unchanged.
"""

from __future__ import annotations

import threading
from typing import Any

from ..errors import InputError
from .base import Backend, Completion, Message, Request, Sampling
from .spec import SPEC_HELP, SPEC_KINDS, ModelSpec, parse_spec

#: New-token cap for ``tiny:`` models unless ``max_tokens_cap`` says otherwise (they only write junk).
TINY_MAX_TOKENS = 256
#: New-token cap for a judge trained by ``erm train reward`` whose record names none (RewardSettings' default).
TRAINED_JUDGE_MAX_TOKENS = 2048

_BACKENDS: dict[tuple[str, tuple[tuple[str, str], ...]], Backend] = {}
_LOCK = threading.RLock()

#: Options each kind accepts, with the type a ``?key=value`` string is converted to.
OPTION_TYPES: dict[str, dict[str, type]] = {
    "hf": {"dtype": str, "device": str, "batch_size": int, "max_tokens_cap": int, "threads": int},
    "tiny": {"dtype": str, "device": str, "batch_size": int, "max_tokens_cap": int, "threads": int},
    "vllm": {"dtype": str, "tensor_parallel_size": int, "gpu_memory_utilization": float, "max_model_len": int,
             "seed": int, "max_images": int, "enforce_eager": bool, "trust_remote_code": bool},
    "openai": {"concurrency": int, "timeout": float, "max_retries": int, "api_key_env": str, "api_key": str,
               "backoff": float, "image_format": str},
}


def _coerce(kind: str, key: str, value: Any) -> Any:
    types = OPTION_TYPES[kind]
    if key not in types:
        raise InputError(f"unknown option {key!r} for {kind}: models; accepted: {', '.join(sorted(types))}")
    want = types[key]
    if isinstance(value, want) and not (want is int and isinstance(value, bool)):
        return value
    try:
        if want is bool:
            return str(value).strip().lower() in ("1", "true", "yes", "on")
        return want(value)
    except (TypeError, ValueError):
        raise InputError(f"option {key}={value!r} for {kind}: models must be {want.__name__}") from None


def resolve_options(spec: ModelSpec, options: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = dict(spec.options)
    merged.update({k: v for k, v in options.items() if v is not None})
    return {k: _coerce(spec.kind, k, v) for k, v in merged.items()}


def in_flight_options(spec: str | ModelSpec, in_flight: int, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """``options`` plus ``concurrency=in_flight`` for an ``openai:`` spec that does not set its own.

    A caller that runs ``in_flight`` judgements at once (``erm serve --max-concurrency``, reward workers)
    must let that many requests reach the server: with fewer, the rest wait for a slot inside the
    backend while their per-item timeout runs."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    out = dict(options or {})
    if parsed.kind == "openai" and "concurrency" not in parsed.options and out.get("concurrency") is None:
        out["concurrency"] = max(1, int(in_flight))
    return out


def trained_judge_token_cap(path: str) -> int | None:
    """New-token cap for a judge written by ``erm train reward`` (its folder holds ``erm_train.json``): the
    ``eval_max_new_tokens`` it was evaluated with during training (default 2048), so a judge that never learnt
    to stop does not generate the released judge's 4096-8192 tokens per pair. ``None`` for other folders;
    ``hf:PATH?max_tokens_cap=N`` overrides it."""
    import json
    from pathlib import Path

    record = Path(path) / "erm_train.json"
    try:
        doc = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("kind") != "reward":
        return None
    cap = (doc.get("settings") or {}).get("eval_max_new_tokens")
    return cap if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0 else TRAINED_JUDGE_MAX_TOKENS


def load_model(spec: str | ModelSpec, **options: Any) -> Backend:
    """Return the shared backend for ``spec`` (built on first use). See the module docstring."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    opts = resolve_options(parsed, options)
    key = (parsed.canonical(), tuple(sorted((k, repr(v)) for k, v in opts.items() if k != "api_key")))
    with _LOCK:
        backend = _BACKENDS.get(key)
        if backend is None:
            backend = _build(parsed, opts)
            _BACKENDS[key] = backend
        return backend


def _build(spec: ModelSpec, opts: dict[str, Any]) -> Backend:
    name = spec.canonical()
    if spec.kind == "tiny":
        from .hf import HFBackend
        from .tiny import ensure_tiny_model

        opts.setdefault("max_tokens_cap", TINY_MAX_TOKENS)
        opts.setdefault("threads", 1)
        return HFBackend(ensure_tiny_model(spec.target), spec=name, **opts)
    if spec.kind == "hf":
        from .hf import HFBackend

        if opts.get("max_tokens_cap") is None:
            opts["max_tokens_cap"] = trained_judge_token_cap(spec.target)
        return HFBackend(spec.target, spec=name, **opts)
    if spec.kind == "openai":
        from .openai import OpenAIBackend

        return OpenAIBackend(spec.urls, model=spec.model, spec=name, **opts)
    if spec.kind == "vllm":
        from .vllm import VLLMBackend

        return VLLMBackend(spec.target, spec=name, **opts)
    raise InputError(f"unknown model kind {spec.kind!r}; use {SPEC_HELP}")


def loaded_backends() -> list[str]:
    """Specs of the backends built so far in this process (for ``erm serve /health`` and debugging)."""
    with _LOCK:
        return [k[0] for k in _BACKENDS]


def clear_cache() -> None:
    """Forget every shared backend (tests; frees memory once nothing else holds a reference)."""
    with _LOCK:
        _BACKENDS.clear()


__all__ = [
    "SPEC_HELP",
    "in_flight_options",
    "SPEC_KINDS",
    "Backend",
    "Completion",
    "Message",
    "ModelSpec",
    "Request",
    "Sampling",
    "clear_cache",
    "load_model",
    "loaded_backends",
    "parse_spec",
]
