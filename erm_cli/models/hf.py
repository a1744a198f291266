"""``hf:PATH``: a transformers vision-language model (``AutoModelForImageTextToText``) on CPU or CUDA.

    model, processor = load_hf(path)                 # cached per (path, dtype, device)
    backend = HFBackend(path, batch_size=8)
    backend.generate([request, ...], Sampling(max_tokens=256))

``load_processor`` returns an image-only processor for Qwen-VL folders (no torchvision needed) and
falls back to ``AutoProcessor`` for other families. Pass the pair to TRL with an explicit
``processing_class=processor``: without it TRL calls ``AutoProcessor``, which needs torchvision.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import InputError, ModelError
from .base import Completion, Request, Sampling

_LOAD_LOCK = threading.Lock()
_LOADED: dict[tuple[str, str, str], tuple[Any, Any]] = {}
_PROCESSORS: dict[str, Any] = {}

DTYPES = ("auto", "float32", "bfloat16", "float16")


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' progress bars and info chatter for the duration of a load or save."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    level = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if was_enabled:
            hf_logging.enable_progress_bar()


def _model_type(path: str) -> str | None:
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        return None
    try:
        return str(json.loads(cfg.read_text()).get("model_type") or "") or None
    except (OSError, ValueError):
        return None


def _check_path(path: str) -> str:
    p = Path(path).expanduser()
    if p.exists():
        if not p.is_dir():
            raise InputError(f"hf: model path is a file, not a checkpoint folder: {p}")
        if not (p / "config.json").is_file():
            raise InputError(f"hf: no config.json in {p} (not a transformers checkpoint folder)")
        return str(p.resolve())
    if path.startswith((".", "/", "~")) or path.count("/") > 1:
        raise InputError(f"hf: no such model folder: {path}")
    return path  # a hub id such as "internlm/Visual-ERM": transformers resolves it (offline: from the HF cache)


def resolve_device(device: str | None) -> str:
    import torch

    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} requested but CUDA is not available on this machine")
    if not (device == "cpu" or device.startswith("cuda") or device == "mps"):
        raise InputError(f"unknown device {device!r}; use cpu, cuda, cuda:N or auto")
    return device


def resolve_dtype(dtype: str | None, device: str) -> Any:
    import torch

    name = (dtype or "auto").replace("torch.", "")
    if name in ("auto", ""):
        return torch.float32 if device == "cpu" else torch.bfloat16
    aliases = {"fp32": "float32", "float": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16"}
    name = aliases.get(name, name)
    if name not in DTYPES:
        raise InputError(f"unknown dtype {dtype!r}; use one of: {', '.join(DTYPES)}")
    return getattr(torch, name)


def load_processor(path: str | Path) -> Any:
    """The processor for a checkpoint folder; image-only for Qwen-VL families (no torchvision needed)."""
    key = _check_path(str(path))
    with _LOAD_LOCK:
        if key in _PROCESSORS:
            return _PROCESSORS[key]
        processor = _load_processor_uncached(key)
        _PROCESSORS[key] = processor
        return processor


def _load_processor_uncached(path: str) -> Any:
    with quiet_transformers():
        from .processors import PROCESSOR_FOR_MODEL_TYPE

        cls = PROCESSOR_FOR_MODEL_TYPE.get(_model_type(path) or "")
        try:
            if cls is not None:
                processor = cls.from_pretrained(path)
            else:
                from transformers import AutoProcessor

                processor = AutoProcessor.from_pretrained(path)
        except Exception as exc:  # noqa: BLE001 - transformers raises many types; one line for the user
            raise ModelError(f"cannot load the processor from {path}: {exc.__class__.__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    tok = getattr(processor, "tokenizer", None)
    if tok is not None:
        tok.padding_side = "left"  # decoder-only batched generation pads on the left
        if tok.pad_token is None and tok.eos_token is not None:
            tok.pad_token = tok.eos_token
    return processor


def load_hf(path: str | Path, dtype: str | None = None, device: str | None = None,
            fresh: bool = False) -> tuple[Any, Any]:
    """Load ``(model, processor)`` once per process per (path, dtype, device).

    ``fresh=True`` returns a new, uncached model (for training, which changes the weights in place).
    """
    key_path = _check_path(str(path))
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    key = (key_path, str(torch_dtype), dev)
    with _LOAD_LOCK:
        if not fresh and key in _LOADED:
            return _LOADED[key]
    processor = load_processor(key_path)
    with _LOAD_LOCK:
        if not fresh and key in _LOADED:
            return _LOADED[key]
        model = _load_model_uncached(key_path, torch_dtype, dev)
        tok = getattr(processor, "tokenizer", None)
        if tok is not None and getattr(model, "generation_config", None) is not None:
            gc = model.generation_config
            if gc.pad_token_id is None:
                gc.pad_token_id = tok.pad_token_id
            if gc.eos_token_id is None:
                gc.eos_token_id = tok.eos_token_id
        if not fresh:
            _LOADED[key] = (model, processor)
        return model, processor


def _load_model_uncached(path: str, torch_dtype: Any, device: str) -> Any:
    with quiet_transformers():
        from transformers import AutoModelForImageTextToText

        try:
            model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch_dtype)
        except Exception as exc:  # noqa: BLE001
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise ModelError(f"cannot load the model from {path}: {exc.__class__.__name__}: {first}") from None
    if device != "cpu":
        model = model.to(device)
    return model.eval()


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch CPU threads (None: leave as is); restores the previous count."""
    import torch

    if not n:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


_WARNED_PRESENCE = False


def _generate_kwargs(sampling: Sampling) -> dict[str, Any]:
    """``model.generate`` keywords for ``sampling``. ``server_defaults`` (the released VC-RewardBench
    request: ``max_tokens`` only): only ``max_new_tokens``, so the model's own ``generation_config`` decides
    the rest, as a server does with such a request."""
    global _WARNED_PRESENCE
    if sampling.server_defaults:
        return {"max_new_tokens": int(sampling.max_tokens)}
    if sampling.presence_penalty and not _WARNED_PRESENCE:  # transformers' generate has no such setting
        import logging

        _WARNED_PRESENCE = True
        logging.getLogger("erm.models").warning(
            "hf: presence_penalty %.2f is not supported by transformers and is ignored (vllm: and openai: "
            "apply it; the released chart/SVG judge sampling uses 1.5)", sampling.presence_penalty)
    kw: dict[str, Any] = {"max_new_tokens": int(sampling.max_tokens)}
    if sampling.greedy():
        kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    else:
        kw.update(do_sample=True, temperature=float(sampling.temperature), top_p=float(sampling.top_p),
                  top_k=int(sampling.top_k) if sampling.top_k else 0)
    if sampling.repetition_penalty and sampling.repetition_penalty != 1.0:
        kw["repetition_penalty"] = float(sampling.repetition_penalty)
    return kw


class HFBackend:
    """Batched chat generation with a transformers model; thread-safe (one generate at a time).

    ``max_tokens_cap`` bounds every request's new tokens (``tiny:`` models default to 256: they write junk).
    ``threads`` sets torch's CPU threads while this backend generates (``tiny:`` models default to 1: on a
    busy machine two spinning OpenMP threads make a tiny model 5-10x slower than one).
    """

    kind = "hf"
    max_tokens_cap: int | None = None
    threads: int | None = None

    def __init__(self, path: str | Path, dtype: str | None = None, device: str | None = None,
                 batch_size: int = 8, spec: str | None = None, max_tokens_cap: int | None = None,
                 threads: int | None = None) -> None:
        self.path = str(path)
        self.max_tokens_cap = max_tokens_cap
        self.threads = threads
        self.spec = spec or f"hf:{path}"
        self.batch_size = max(1, int(batch_size))
        self.model, self.processor = load_hf(path, dtype=dtype, device=device)
        self.device = str(next(self.model.parameters()).device)
        self._lock = threading.Lock()

    @classmethod
    def from_loaded(cls, model: Any, processor: Any, spec: str = "hf:in-memory", batch_size: int = 8,
                    max_tokens_cap: int | None = None) -> HFBackend:
        """A backend over a model already in memory (e.g. the one being trained), without loading."""
        backend = cls.__new__(cls)
        backend.path = spec
        backend.spec = spec
        backend.batch_size = max(1, int(batch_size))
        backend.max_tokens_cap = max_tokens_cap
        backend.model, backend.processor = model, processor
        backend.device = str(next(model.parameters()).device)
        backend._lock = threading.Lock()
        return backend

    def generate(self, requests: list[Request], sampling: Sampling | None = None) -> list[Completion]:
        sampling = sampling or Sampling()
        if self.max_tokens_cap and sampling.max_tokens > self.max_tokens_cap:
            sampling = replace(sampling, max_tokens=self.max_tokens_cap)
        out: list[Completion] = []
        for start in range(0, len(requests), self.batch_size):
            chunk = requests[start:start + self.batch_size]
            try:
                out.extend(self._generate_chunk(chunk, sampling))
            except Exception as exc:  # noqa: BLE001 - one bad chunk: retry its items one by one
                if len(chunk) == 1:
                    out.append(Completion(text="", error=_reason(exc)))
                    continue
                for req in chunk:
                    try:
                        out.extend(self._generate_chunk([req], sampling))
                    except Exception as exc1:  # noqa: BLE001
                        out.append(Completion(text="", error=_reason(exc1)))
        return out

    def _encode(self, requests: list[Request]) -> Any:
        messages = [normalise_messages(r) for r in requests]
        return self.processor.apply_chat_template(messages, tokenize=True, add_generation_prompt=True,
                                                  return_dict=True, return_tensors="pt",
                                                  processor_kwargs={"padding": True})

    def _generate_chunk(self, requests: list[Request], sampling: Sampling) -> list[Completion]:
        import torch

        t0 = time.perf_counter()
        inputs = self._encode(requests).to(self.model.device)
        if "pixel_values" in inputs and inputs["pixel_values"].is_floating_point():
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        prompt_len = int(inputs["input_ids"].shape[1])
        kwargs = _generate_kwargs(sampling)
        tok = getattr(self.processor, "tokenizer", self.processor)
        with self._lock, torch.inference_mode(), torch_threads(self.threads if self.device == "cpu" else None):
            if sampling.seed is not None and not sampling.server_defaults:
                torch.manual_seed(int(sampling.seed))
            out = self.model.generate(**inputs, **kwargs, pad_token_id=tok.pad_token_id)
        new = out[:, prompt_len:]
        texts = self.processor.batch_decode(new, skip_special_tokens=True)
        seconds = (time.perf_counter() - t0) / max(1, len(requests))
        prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()
        pad = tok.pad_token_id
        eos = {tok.eos_token_id} | set(_as_list(getattr(self.model.generation_config, "eos_token_id", None)))
        results = []
        for i, text in enumerate(texts):
            row = new[i].tolist()
            n = len(row)
            while n and row[n - 1] == pad and pad not in eos:
                n -= 1
            results.append(Completion(text=text, prompt_tokens=int(prompt_tokens[i]), completion_tokens=n,
                                      seconds=seconds, info={"finish_reason": _finish(row, eos, kwargs)}))
        return results


def _reason(exc: BaseException) -> str:
    from ..errors import ErmError

    return str(exc) if isinstance(exc, ErmError) else f"{exc.__class__.__name__}: {exc}"


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _finish(row: list[int], eos: set[Any], kwargs: dict[str, Any]) -> str:
    return "stop" if any(t in eos for t in row) else ("length" if len(row) >= kwargs["max_new_tokens"] else "stop")


def normalise_messages(request: Request) -> list[dict[str, Any]]:
    """Chat messages as processors expect: image parts become ``{"type": "image", "image": PIL}``.

    Accepts OpenAI-style ``image_url`` parts with ``data:`` URIs, and ``image_pil`` parts (vLLM style).
    """
    from ..imageio import load_image
    from .messages import image_from_data_uri, map_parts, part_image, text_part, unsupported

    def convert(part: dict[str, Any]) -> dict[str, Any]:
        kind = part.get("type")
        if kind == "text":
            return text_part(part)
        img = part_image(part)
        if img is None:
            raise unsupported(part)
        if kind == "image_url":
            return {"type": "image", "image": image_from_data_uri(img)}
        return {"type": "image", "image": load_image(img, what="image part")}

    return map_parts(request, convert)
