"""The model policy: a VLM from the shared loader writes code from the image and revises it from the judge's list."""

from __future__ import annotations

from typing import Any

from PIL import Image

from ..models.base import Completion, Request, Sampling
from .policy import RefineContext
from .prompts import draft_prompt, revision_prompt
from .types import Candidate, Proposal

#: Images are shrunk to this longest side before they go into a prompt (Visual-ERM used 1024).
DEFAULT_MAX_IMAGE_SIDE = 1024
#: Sampling temperature when more than one sample is asked for (best-of-K needs diversity).
DEFAULT_SAMPLE_TEMPERATURE = 0.7


def thumbnail(img: Image.Image, max_side: int) -> Image.Image:
    if max(img.size) <= max_side:
        return img
    out = img.copy()
    out.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return out


def extract_answer_code(text: str, kind: str) -> str:
    """The code inside a completion (last fenced block of the task's language), or the text as is."""
    from ..renderers import extract_code

    try:
        code, _ = extract_code(text)
    except Exception:  # noqa: BLE001 - no recognisable code: the renderer will say so, and the policy retries
        return text
    return code


class ModelPolicy:
    """Draft and revise with any model spec (``hf:``, ``vllm:``, ``openai:``, ``tiny:``)."""

    def __init__(self, spec: str, sampling: Sampling | None = None, backend: Any = None,
                 max_tokens: int | None = None, temperature: float | None = None,
                 max_image_side: int = DEFAULT_MAX_IMAGE_SIDE) -> None:
        self.spec = spec
        self.name = f"model:{spec}"
        self._backend = backend
        base = sampling or Sampling(max_tokens=2048)
        if max_tokens is not None:
            base = Sampling(**{**base.__dict__, "max_tokens": int(max_tokens)})
        self.sampling = base
        self.temperature = temperature
        self.max_image_side = max_image_side

    @property
    def backend(self) -> Any:
        if self._backend is None:
            from ..models import load_model

            self._backend = load_model(self.spec)
        return self._backend

    def _sampling(self, n: int, ctx: RefineContext, salt: int) -> list[Sampling]:
        temp = self.temperature
        if temp is None:
            temp = self.sampling.temperature if n == 1 else max(self.sampling.temperature, DEFAULT_SAMPLE_TEMPERATURE)
        seed0 = (self.sampling.seed if self.sampling.seed is not None else ctx.seed) + 1009 * salt
        return [Sampling(**{**self.sampling.__dict__, "temperature": temp, "seed": seed0 + i}) for i in range(n)]

    def _ask(self, requests: list[Request], samplings: list[Sampling], note: str) -> list[Proposal]:
        from ..errors import ModelError

        completions: list[Completion] = []
        if len({s.seed for s in samplings}) == 1 or samplings[0].greedy():
            completions = self.backend.generate(requests, samplings[0])
        else:
            # distinct seeds (reproducible best-of-K): one request per seed, sent concurrently so an
            # HTTP server batches them (backends are thread-safe; the HF one serialises internally)
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(8, len(requests))) as pool:
                parts = list(pool.map(lambda rs: self.backend.generate([rs[0]], rs[1]), zip(requests, samplings)))
            completions = [c for part in parts for c in part]
        if len(completions) != len(requests):
            raise ModelError(f"{self.spec}: backend returned {len(completions)} completions for "
                             f"{len(requests)} requests")
        out: list[Proposal] = []
        for i, c in enumerate(completions):
            code = "" if c.error else extract_answer_code(c.text, "")
            info: dict[str, Any] = {"finish_reason": c.info.get("finish_reason")} if c.info else {}
            if c.text and code.strip() != c.text.strip():
                info["completion"] = c.text[:4000]
            out.append(Proposal(code=code, note=f"{note}#{i}", prompt_tokens=c.prompt_tokens,
                                completion_tokens=c.completion_tokens, seconds=c.seconds, error=c.error,
                                info=info))
        return out

    def draft(self, ctx: RefineContext, n: int) -> list[Proposal]:
        ref = thumbnail(ctx.reference, self.max_image_side)
        text = draft_prompt(ctx.task, ctx.kind, ctx.reference)
        req: Request = [{"role": "user", "content": [{"type": "image", "image": ref}, {"type": "text", "text": text}]}]
        return self._ask([req] * n, self._sampling(n, ctx, 0), "model-draft")

    def revise(self, ctx: RefineContext, parent: Candidate, n: int) -> list[Proposal]:
        ref = thumbnail(ctx.reference, self.max_image_side)
        failed = [{"render_error": c.render_error, "reward": c.reward}
                  for c in ctx.children_of(parent.id) if not c.accepted][-2:]
        text = revision_prompt(ctx.task, parent.kind or ctx.kind, ctx.reference, parent.code, parent.verdict,
                               parent.render_error if not parent.render_ok else None, failed)
        content: list[dict[str, Any]] = [{"type": "image", "image": ref}]
        if parent.render_ok and parent.png:
            from ..imageio import load_image

            content.append({"type": "image", "image": thumbnail(load_image(parent.png, what="render"),
                                                                self.max_image_side)})
        content.append({"type": "text", "text": text})
        req: Request = [{"role": "user", "content": content}]
        salt = 1 + len(ctx.children_of(parent.id)) + 7 * parent.round
        return self._ask([req] * n, self._sampling(n, ctx, salt), f"model-revise:{parent.id}")
