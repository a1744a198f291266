"""The one contract every model backend implements.

A *request* is a list of chat messages in OpenAI style whose ``content`` is a string or a list of parts:
``{"type": "text", "text": str}`` and ``{"type": "image", "image": PIL.Image.Image}``.
``generate(requests, sampling)`` returns one :class:`Completion` per request (``n`` > 1 samples are
requested as repeated requests by callers, so the contract stays one-in one-out).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

Message = dict[str, Any]
Request = list[Message]


@dataclass(frozen=True)
class Sampling:
    max_tokens: int = 1024
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    seed: int | None = None
    #: Only ``max_tokens`` is set and every other setting is left to the defaults (the released VC-RewardBench
    #: scripts' request): HTTP backends send ``max_tokens`` only (the server's defaults apply); ``hf:`` passes
    #: only ``max_new_tokens`` (the model's ``generation_config`` applies); ``vllm:`` uses the model's default
    #: sampling parameters (``LLM.get_default_sampling_params``, what ``vllm serve`` applies) with ``max_tokens``.
    server_defaults: bool = False

    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    error: str | None = None  # set when this one request failed (timeout, HTTP error) but the batch went on
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    spec: str

    def generate(self, requests: list[Request], sampling: Sampling | None = None) -> list[Completion]: ...
