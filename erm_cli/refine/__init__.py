"""Test-time scaling for vision-to-code: generate, render, critique, revise (``erm refine``).

* :func:`refine_image` — one image, outputs in a folder (best code, best render, trajectory, report);
* :func:`refine_batch` — a folder or JSONL of images, resumable, with predictions for ``erm bench policy``;
* :class:`RefineLoop` — the loop itself (best-of-K drafts, a beam, monotone acceptance, budgets);
* policies: :class:`~erm_cli.refine.model_policy.ModelPolicy` (any model spec) and
  :class:`~erm_cli.refine.search_policy.SearchPolicy` (model-free: image-to-code drafts + literal search).

Nothing heavy is imported here: policies and renderers load when used.
"""

from __future__ import annotations

from typing import Any

from .config import Budget, RefineConfig
from .loop import Observer, RefineLoop, RefineResult
from .policy import Policy, RefineContext, get_policy
from .types import Candidate, Proposal, RoundSummary

__all__ = [
    "Budget",
    "Candidate",
    "Observer",
    "Policy",
    "Proposal",
    "RefineConfig",
    "RefineContext",
    "RefineLoop",
    "RefineResult",
    "RoundSummary",
    "get_policy",
    "refine_batch",
    "refine_image",
]


def refine_image(*args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
    from .api import refine_image as _impl

    return _impl(*args, **kwargs)


refine_image.__doc__ = "See :func:`erm_cli.refine.api.refine_image`."


def refine_batch(*args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
    from .batch import refine_batch as _impl

    return _impl(*args, **kwargs)


refine_batch.__doc__ = "See :func:`erm_cli.refine.batch.refine_batch`."
