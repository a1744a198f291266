"""The policy contract of the refine loop and the context it sees.

A policy writes code from the reference image (``draft``) and revises a candidate given its code,
its render and the judge's error list or render error (``revise``). Two implementations ship:
:class:`erm_cli.refine.model_policy.ModelPolicy` (any model spec of the shared loader) and
:class:`erm_cli.refine.search_policy.SearchPolicy` (model-free: image-to-code drafts + judge-guided
search over the code's literals).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from PIL import Image

from .types import Candidate, Proposal


@dataclass
class RefineContext:
    """What every policy call may read: the reference, the task, the target language, shared state."""

    reference: Image.Image
    task: str
    kind: str
    seed: int = 0
    #: Per-run memo for expensive reference analyses (OCR, palette, chart geometry), keyed by name.
    memo: dict[str, Any] = field(default_factory=dict)
    #: Candidates evaluated so far, by id (the loop fills it; policies read parents' children from it).
    candidates: dict[str, Candidate] = field(default_factory=dict)

    def children_of(self, parent_id: str) -> list[Candidate]:
        return [c for c in self.candidates.values() if c.parent == parent_id]


@runtime_checkable
class Policy(Protocol):
    name: str

    def draft(self, ctx: RefineContext, n: int) -> list[Proposal]:
        """Up to ``n`` first attempts at code for ``ctx.reference``."""
        ...

    def revise(self, ctx: RefineContext, parent: Candidate, n: int) -> list[Proposal]:
        """Up to ``n`` revisions of ``parent`` (its code, render and verdict); [] when nothing is left to try."""
        ...


def get_policy(spec: str | None, **options: Any) -> Policy:
    """``None``/``search``/``model-free`` -> the model-free policy; anything else is a model spec."""
    key = (spec or "search").strip()
    if key.lower() in ("search", "model-free", "modelfree", "none", "baseline", "auto"):
        from .search_policy import SearchPolicy

        return SearchPolicy(**{k: v for k, v in options.items() if k in ("max_edits_per_proposal",)})
    from .model_policy import ModelPolicy

    return ModelPolicy(key, **{k: v for k, v in options.items() if k in ("sampling", "backend", "max_tokens",
                                                                          "temperature")})


def blank_image(size: tuple[int, int]) -> Image.Image:
    return Image.new("RGB", size, (255, 255, 255))
