"""An OpenAI-compatible chat endpoint for a model loaded in this process (``erm serve --openai``).

``POST /v1/chat/completions`` (non-streaming; text and ``image_url`` parts with ``data:`` URIs; ``n``,
``max_tokens``/``max_completion_tokens``, ``temperature``, ``top_p``, ``top_k``, ``repetition_penalty``,
``presence_penalty``, ``seed``) and ``GET /v1/models``. Errors use OpenAI's ``{"error": {...}}`` shape.
This is what lets the ``openai:`` backend, refine and training be tested against a real server.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ..errors import InputError
from ..models.base import Backend, Sampling
from .limits import PixelBudget, PixelBudgetBusy, PixelLimit, ServerBusy, message_pixels


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(..., min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    seed: int | None = None
    n: int = Field(1, ge=1, le=16)
    stream: bool = False


def openai_error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind, "code": status}})


def make_router(backend: Backend, served_name: str, run_blocking: Any, max_tokens_limit: int = 8192,
                default_max_tokens: int = 512, pixels: PixelBudget | None = None,
                max_pixels: int = 16_000_000, pixel_wait: float = 120.0) -> APIRouter:
    """Routes for ``backend`` served as ``served_name``; ``run_blocking(fn)`` runs work off the event loop
    with the server's concurrency limit and timeout. Images are measured from their headers (413 above
    ``max_pixels``) and decoded off the event loop within the shared ``pixels`` budget."""
    from ..models.hf import normalise_messages

    router = APIRouter(prefix="/v1", tags=["openai"])

    @router.get("/models")
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": served_name, "object": "model", "created": 0,
                                            "owned_by": "erm"}]}

    @router.post("/chat/completions")
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Any:
        if body.stream:
            return openai_error(400, "streaming is not supported by erm serve; send stream=false")
        if body.model != served_name:
            return openai_error(404, f"the model {body.model!r} does not exist; this server serves {served_name!r}",
                                "not_found_error")
        max_tokens = body.max_completion_tokens or body.max_tokens or default_max_tokens
        if max_tokens > max_tokens_limit:
            return openai_error(400, f"max_tokens {max_tokens} exceeds this server's limit {max_tokens_limit}")
        messages = [m.model_dump(exclude_none=True) for m in body.messages]
        sampling = Sampling(max_tokens=int(max_tokens), temperature=float(body.temperature), top_p=float(body.top_p),
                            top_k=body.top_k, repetition_penalty=body.repetition_penalty,
                            presence_penalty=body.presence_penalty, seed=body.seed)

        def work() -> Any:  # off the event loop: header checks, decoding (within the pixel budget), generation
            need = message_pixels(messages, max_pixels)
            if pixels is not None:
                pixels.acquire(need, timeout=pixel_wait)
            try:
                converted = normalise_messages(messages)
                return backend.generate([converted] * body.n, sampling)
            finally:
                if pixels is not None:
                    pixels.release(need)

        try:
            completions = await run_blocking(work)
        except PixelLimit as exc:
            return openai_error(413, str(exc))
        except PixelBudgetBusy as exc:
            return openai_error(503, str(exc), "server_busy")
        except InputError as exc:
            return openai_error(400, str(exc))
        except (KeyError, TypeError, AttributeError) as exc:
            return openai_error(400, f"malformed message content: {exc}")
        except TimeoutError:
            return openai_error(504, "generation timed out", "timeout_error")
        except ServerBusy:
            raise  # the app answers 503 with Retry-After
        except Exception as exc:  # noqa: BLE001 - report, don't crash the server
            return openai_error(500, f"generation failed: {exc.__class__.__name__}: {exc}", "server_error")
        failed = [c.error for c in completions if c.error]
        if failed:
            return openai_error(500, f"generation failed: {failed[0]}", "server_error")
        choices = [{"index": i, "message": {"role": "assistant", "content": c.text},
                    "finish_reason": c.info.get("finish_reason", "stop"), "logprobs": None}
                   for i, c in enumerate(completions)]
        prompt_tokens = completions[0].prompt_tokens if completions else 0
        completion_tokens = sum(c.completion_tokens for c in completions)
        return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                "model": served_name, "choices": choices,
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}}

    return router
