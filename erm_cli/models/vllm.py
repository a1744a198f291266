"""``vllm:PATH``: the vLLM offline engine (``LLM.chat`` with images), GPU only.

Install the optional extra on a CUDA machine: ``pip install 'erm-cli[vllm]'`` (vLLM 0.22-0.31, the
range TRL 1.16 supports). vLLM is imported only when a ``vllm:`` spec is loaded; where it cannot run
(not installed, no GPU) loading fails with one clear line (exit code 4) pointing at the alternatives:
``hf:PATH`` on CPU, or ``vllm serve`` + ``openai:URL#MODEL``.

vLLM starts worker processes: scripts that load a ``vllm:`` model must use an
``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from typing import Any

from ..errors import ModelError
from .base import Completion, Request, Sampling
from .openai import to_openai_messages

INSTALL_HINT = ("install the extra on a CUDA machine (pip install 'erm-cli[vllm]'), or run `vllm serve PATH` "
                "and use openai:http://HOST:PORT/v1#NAME; on CPU use hf:PATH")


def vllm_available() -> tuple[bool, str]:
    """(usable, reason): whether ``vllm`` can be imported and a CUDA device exists."""
    if importlib.util.find_spec("vllm") is None:
        return False, "vLLM is not installed"
    try:
        import torch

        if not torch.cuda.is_available():
            return False, "vLLM needs a CUDA GPU and none is available"
    except ImportError:
        return False, "torch is not installed"
    try:
        from vllm import LLM, SamplingParams  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - vLLM fails at import in many ways off its supported stack
        return False, f"vLLM cannot be imported ({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    return True, ""


def sampling_kwargs(sampling: Sampling, model_defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """Our :class:`Sampling` as ``vllm.SamplingParams`` keywords (top_k -1 = off; seed per request).

    ``server_defaults`` (the released VC-RewardBench request: ``max_tokens`` only): ``model_defaults`` (the
    model's own sampling settings, :func:`model_sampling_defaults`) and ``max_tokens``, nothing else: what
    ``vllm serve`` applies to a request that sets only ``max_tokens``."""
    if sampling.server_defaults:
        return {**(model_defaults or {}), "n": 1, "max_tokens": int(sampling.max_tokens)}
    kwargs: dict[str, Any] = {"n": 1, "max_tokens": int(sampling.max_tokens),
                              "temperature": float(sampling.temperature), "top_p": float(sampling.top_p),
                              "top_k": int(sampling.top_k) if sampling.top_k else -1}
    if sampling.presence_penalty is not None:
        kwargs["presence_penalty"] = float(sampling.presence_penalty)
    if sampling.repetition_penalty is not None:
        kwargs["repetition_penalty"] = float(sampling.repetition_penalty)
    if sampling.seed is not None:
        kwargs["seed"] = int(sampling.seed)
    return kwargs


#: The sampling settings a model's ``generation_config.json`` can set (vLLM's ``get_diff_sampling_param``).
MODEL_DEFAULT_KEYS = ("temperature", "top_p", "top_k", "min_p", "repetition_penalty", "presence_penalty",
                      "frequency_penalty")


def model_sampling_defaults(llm: Any) -> dict[str, Any]:
    """The sampling settings ``vllm serve`` would use for this model when a request sets none: those of
    ``LLM.get_default_sampling_params()`` (vLLM's defaults overlaid with the model's generation config)."""
    params = llm.get_default_sampling_params()
    return {k: getattr(params, k) for k in MODEL_DEFAULT_KEYS if getattr(params, k, None) is not None}


def sampling_params(sampling: Sampling, model_defaults: dict[str, Any] | None = None) -> Any:
    """:func:`sampling_kwargs` as a ``vllm.SamplingParams``."""
    from vllm import SamplingParams

    return SamplingParams(**sampling_kwargs(sampling, model_defaults))


#: Two judge images, the prompt and an 8192-token answer fit; without a limit vLLM sizes the KV cache for the
#: model's full context (262144 tokens for Qwen3-VL), which does not fit a single GPU. 0: the model's own.
DEFAULT_MAX_MODEL_LEN = 16384


class VLLMBackend:
    """Batched chat generation with ``vllm.LLM``; images go in as ``data:`` URIs (``image_url`` parts)."""

    kind = "vllm"

    def __init__(self, path: str, spec: str | None = None, dtype: str | None = None, tensor_parallel_size: int = 1,
                 gpu_memory_utilization: float = 0.85, max_model_len: int | None = DEFAULT_MAX_MODEL_LEN, seed: int = 0,
                 max_images: int = 2, enforce_eager: bool = False, trust_remote_code: bool = False) -> None:
        ok, reason = vllm_available()
        if not ok:
            raise ModelError(f"vllm:{path}: {reason}; {INSTALL_HINT}")
        from vllm import LLM

        self.path = path
        self.spec = spec or f"vllm:{path}"
        engine_args: dict[str, Any] = {
            "model": path, "dtype": dtype or "auto", "tensor_parallel_size": int(tensor_parallel_size),
            "gpu_memory_utilization": float(gpu_memory_utilization), "seed": int(seed),
            "limit_mm_per_prompt": {"image": int(max_images), "video": 0}, "enforce_eager": bool(enforce_eager),
            "trust_remote_code": bool(trust_remote_code)}
        if max_model_len:
            engine_args["max_model_len"] = int(max_model_len)
        try:
            self.llm = LLM(**engine_args)
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"vllm:{path}: engine failed to start: {exc.__class__.__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
        self._lock = threading.Lock()

    def generate(self, requests: list[Request], sampling: Sampling | None = None) -> list[Completion]:
        sampling = sampling or Sampling()
        conversations = [to_openai_messages(r, "png") for r in requests]
        params = sampling_params(sampling, model_sampling_defaults(self.llm) if sampling.server_defaults else None)
        t0 = time.perf_counter()
        with self._lock:
            try:
                outputs = self.llm.chat(conversations, params, use_tqdm=False)
            except Exception:  # noqa: BLE001 - one bad request: retry one by one so the rest still answer
                outputs = []
                for conv in conversations:
                    try:
                        outputs.extend(self.llm.chat([conv], params, use_tqdm=False))
                    except Exception as exc:  # noqa: BLE001
                        outputs.append(exc)
        seconds = (time.perf_counter() - t0) / max(1, len(requests))
        results = []
        for out in outputs:
            if isinstance(out, Exception):
                results.append(Completion(text="", error=f"{out.__class__.__name__}: {out}", seconds=seconds))
                continue
            first = out.outputs[0]
            results.append(Completion(text=first.text, prompt_tokens=len(out.prompt_token_ids or []),
                                      completion_tokens=len(first.token_ids or []), seconds=seconds,
                                      info={"finish_reason": first.finish_reason}))
        return results
