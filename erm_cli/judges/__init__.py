"""Judges: (reference image, candidate image, task) -> Verdict.

``get_judge(name, **options)`` is the one registry every verb uses:
``critic`` (default, weight-free), ``vlm`` (a generative judge over a model spec, see erm_cli.models),
and the coarse baselines ``ssim``, ``mse``, ``phash``.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from .base import Judge
from .verdict import TASKS, TAXONOMY, ErrorItem, Verdict

JUDGE_NAMES = ("critic", "vlm", "ssim", "mse", "phash")


def get_judge(name: str = "critic", **options: Any) -> Judge:
    """Build a judge by name. Imports are local so that unused judges cost nothing."""
    if name == "critic":
        from .critic import Critic

        return Critic(**options)
    if name == "vlm":
        from .vlm import VLMJudge

        return VLMJudge(**options)
    if name in ("ssim", "mse", "phash"):
        from .baselines import get_baseline

        return get_baseline(name)
    raise InputError(f"unknown judge {name!r}; choose one of: {', '.join(JUDGE_NAMES)}")


__all__ = ["Judge", "Verdict", "ErrorItem", "TASKS", "TAXONOMY", "get_judge", "JUDGE_NAMES"]
