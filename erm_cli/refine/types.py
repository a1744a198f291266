"""Records of the refine loop: what a policy proposes, what the loop evaluated, what it kept.

A :class:`Proposal` is code a policy wrote (plus its token and time cost). The loop renders and
judges it into a :class:`Candidate`, which is what ``trajectory.jsonl`` stores, one line each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..judges.verdict import Verdict


@dataclass
class Proposal:
    """Code proposed by a policy. ``error`` is set when the policy itself failed (model down, no code)."""

    code: str
    note: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    error: str | None = None
    #: Extra facts the policy wants recorded (the edits a literal search applied, the raw completion...).
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Candidate:
    """One evaluated proposal: its render, its verdict and whether the loop accepted it."""

    id: str
    round: int
    parent: str | None
    code: str = field(repr=False)
    kind: str = ""
    note: str = ""
    render_ok: bool = False
    render_error: str | None = None
    cache_hit: bool = False
    verdict: Verdict | None = None
    accepted: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    policy_seconds: float = 0.0
    render_seconds: float = 0.0
    judge_seconds: float = 0.0
    png: bytes | None = field(default=None, repr=False)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def reward(self) -> float:
        return self.verdict.reward if self.verdict is not None else 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def seconds(self) -> float:
        return self.policy_seconds + self.render_seconds + self.judge_seconds

    @property
    def n_errors(self) -> int:
        return len(self.verdict.errors) if self.verdict is not None else 0

    @property
    def solved(self) -> bool:
        """Rendered and judged equivalent to the reference (no errors left)."""
        return self.verdict is not None and self.verdict.equivalent

    def to_dict(self) -> dict[str, Any]:
        """The trajectory line (no image bytes: renders are saved as files beside it)."""
        d: dict[str, Any] = {
            "id": self.id, "round": self.round, "parent": self.parent, "note": self.note, "kind": self.kind,
            "code": self.code,
            "render": {"ok": self.render_ok, "error": self.render_error, "cache_hit": self.cache_hit},
            "verdict": self.verdict.to_dict() if self.verdict is not None else None,
            "reward": round(self.reward, 6), "n_errors": self.n_errors, "accepted": self.accepted,
            "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens, "total": self.tokens},
            "seconds": {"policy": round(self.policy_seconds, 4), "render": round(self.render_seconds, 4),
                        "judge": round(self.judge_seconds, 4), "total": round(self.seconds, 4)},
        }
        if self.info:
            d["info"] = self.info
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        verdict = Verdict.from_dict(d["verdict"]) if d.get("verdict") else None
        render = d.get("render") or {}
        tokens = d.get("tokens") or {}
        seconds = d.get("seconds") or {}
        return cls(id=str(d["id"]), round=int(d.get("round", 0)), parent=d.get("parent"), code=str(d.get("code", "")),
                   kind=str(d.get("kind", "")), note=str(d.get("note", "")), render_ok=bool(render.get("ok")),
                   render_error=render.get("error"), cache_hit=bool(render.get("cache_hit")), verdict=verdict,
                   accepted=bool(d.get("accepted")), prompt_tokens=int(tokens.get("prompt", 0)),
                   completion_tokens=int(tokens.get("completion", 0)),
                   policy_seconds=float(seconds.get("policy", 0.0)), render_seconds=float(seconds.get("render", 0.0)),
                   judge_seconds=float(seconds.get("judge", 0.0)), info=dict(d.get("info") or {}))


@dataclass
class RoundSummary:
    """What one round produced: the figures the live view, the report and the scaling curve show."""

    round: int
    candidates: int
    rendered: int
    accepted: int
    best_id: str | None
    best_reward: float
    best_errors: int
    seconds: float
    tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {"round": self.round, "candidates": self.candidates, "rendered": self.rendered,
                "accepted": self.accepted, "best_id": self.best_id, "best_reward": round(self.best_reward, 6),
                "best_errors": self.best_errors, "seconds": round(self.seconds, 3), "tokens": self.tokens}
