"""Settings and budgets of one refine run."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

#: Default output language per task (the policy may keep another one, e.g. plotly for a chart).
DEFAULT_KIND_OF_TASK: dict[str, str] = {"chart": "matplotlib", "table": "html", "svg": "svg"}


@dataclass
class RefineConfig:
    """How much test-time compute to spend and how to spend it.

    ``samples`` is K, the number of candidates per round: round 0 draws K drafts (best-of-K) and each
    later round asks for K revisions of every beam member. ``target`` is the reward at which the loop
    stops early; ``None`` means "no errors left" (the verdict is equivalent).
    """

    rounds: int = 3
    samples: int = 1
    beam: int = 1
    target: float | None = None
    max_seconds: float | None = None
    max_tokens: int | None = None
    max_candidates: int | None = None
    #: A revision must beat its parent by more than this to be accepted (monotone acceptance).
    min_gain: float = 1e-9
    seed: int = 0
    use_cache: bool = True
    #: How candidates are rendered: erm's renderer or the released Visual-ERM reward's (renderers/profiles.py).
    profile: str = "erm"
    #: Seconds one candidate's render may take (``--timeout``); one that takes longer is a failed candidate
    #: with the reason recorded, and the loop goes on. ``None``: the renderer's default (30 s).
    timeout: float | None = None

    def validate(self) -> None:
        from ..errors import InputError

        if self.rounds < 0:
            raise InputError("--rounds must be 0 or more")
        if self.samples < 1:
            raise InputError("--samples must be at least 1")
        if self.beam < 1:
            raise InputError("--beam must be at least 1")
        if self.target is not None and not 0.0 <= self.target <= 1.0:
            raise InputError("--target must be a reward between 0 and 1")
        if self.timeout is not None and not 0 < self.timeout <= 3600:
            raise InputError(f"--timeout must be between 0 and 3600 seconds, not {self.timeout:g}")
        for name in ("max_seconds", "max_tokens", "max_candidates"):
            v = getattr(self, name)
            if v is not None and v <= 0:
                raise InputError(f"--{name.replace('_', '-')} must be positive")
        from ..renderers.profiles import check_profile

        check_profile(self.profile)

    def to_dict(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "samples": self.samples, "beam": self.beam, "target": self.target,
                "max_seconds": self.max_seconds, "max_tokens": self.max_tokens,
                "max_candidates": self.max_candidates, "min_gain": self.min_gain, "seed": self.seed,
                "profile": self.profile, "timeout": self.timeout}


@dataclass
class Budget:
    """Tracks spending against the config's limits; ``exhausted()`` names the first limit hit."""

    config: RefineConfig
    started: float = field(default_factory=time.perf_counter)
    tokens: int = 0
    candidates: int = 0

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def spend(self, tokens: int = 0, candidates: int = 0) -> None:
        self.tokens += int(tokens)
        self.candidates += int(candidates)

    def remaining_candidates(self) -> int | None:
        if self.config.max_candidates is None:
            return None
        return max(0, self.config.max_candidates - self.candidates)

    def exhausted(self) -> str | None:
        c = self.config
        if c.max_seconds is not None and self.elapsed() >= c.max_seconds:
            return f"wall-time budget spent ({c.max_seconds:g} s)"
        if c.max_tokens is not None and self.tokens >= c.max_tokens:
            return f"token budget spent ({c.max_tokens} tokens)"
        if c.max_candidates is not None and self.candidates >= c.max_candidates:
            return f"candidate budget spent ({c.max_candidates} candidates)"
        return None
