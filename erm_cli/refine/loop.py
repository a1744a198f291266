"""The generate-render-critique-revise loop with best-of-K, a beam and monotone acceptance.

Round 0 asks the policy for K drafts (plus the user's ``--init`` code), renders and judges them.
Every later round asks for K revisions of each of the ``beam`` best accepted candidates, given the
candidate's code, render and error list (or render error). A revision is *accepted* only when it
beats its parent (ReLook's accept-only-improving rule), so the best reward never goes down. The loop
stops at the target reward (default: no errors left), when the policy has nothing left to try, or
when a budget (rounds, candidates, wall time, tokens) is spent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import Budget, RefineConfig
from .evaluate import CandidateEvaluator
from .policy import Policy, RefineContext
from .types import Candidate, Proposal, RoundSummary


class Observer:
    """Hooks the loop calls as it runs (the live view and the trajectory writer implement them)."""

    def on_start(self, info: dict[str, Any]) -> None: ...

    def on_status(self, text: str) -> None: ...

    def on_candidate(self, candidate: Candidate, best: Candidate | None) -> None: ...

    def on_round_end(self, summary: RoundSummary, best: Candidate) -> None: ...

    def on_finish(self, result: RefineResult) -> None: ...


@dataclass
class RefineResult:
    task: str
    kind: str
    policy: str
    judge: dict[str, str]
    best: Candidate
    candidates: list[Candidate]
    rounds: list[RoundSummary]
    stop_reason: str
    seconds: float
    config: RefineConfig
    #: Best candidate after each round (index = round), for the report's "best render per round".
    best_per_round: list[str] = field(default_factory=list)

    @property
    def initial(self) -> Candidate:
        """The best candidate of round 0 (what refinement started from)."""
        return self.candidates_by_id[self.best_per_round[0]] if self.best_per_round else self.best

    @property
    def candidates_by_id(self) -> dict[str, Candidate]:
        return {c.id: c for c in self.candidates}

    @property
    def tokens(self) -> int:
        return sum(c.tokens for c in self.candidates)

    def to_dict(self) -> dict[str, Any]:
        b = self.best
        return {"task": self.task, "kind": self.kind, "policy": self.policy, "judge": self.judge,
                "best": {"id": b.id, "round": b.round, "reward": round(b.reward, 6), "n_errors": b.n_errors,
                         "render_ok": b.render_ok, "solved": b.solved},
                "initial": {"id": self.initial.id, "reward": round(self.initial.reward, 6),
                            "n_errors": self.initial.n_errors},
                "gain": round(b.reward - self.initial.reward, 6),
                "rounds": [r.to_dict() for r in self.rounds], "stop_reason": self.stop_reason,
                "candidates": len(self.candidates), "tokens": self.tokens, "seconds": round(self.seconds, 3),
                "config": self.config.to_dict(),
                "best_verdict": b.verdict.to_dict() if b.verdict is not None else None}


def better(a: Candidate, b: Candidate | None, min_gain: float = 0.0) -> bool:
    """True when ``a`` beats ``b``: it renders where ``b`` does not, or its reward is higher."""
    if b is None:
        return True
    if a.render_ok != b.render_ok:
        return a.render_ok
    return a.reward > b.reward + min_gain


def rank_key(c: Candidate) -> tuple[float, float, int, int]:
    """Best first when sorted ascending: rendered, higher reward, fewer errors, earlier."""
    return (-float(c.render_ok), -c.reward, c.n_errors, _order(c))


def _order(c: Candidate) -> int:
    try:
        r, i = c.id[1:].split("-")
        return int(r) * 10_000 + int(i)
    except ValueError:
        return 0


def _reached_target(best: Candidate, config: RefineConfig) -> str | None:
    if config.target is None:
        return "no errors left" if best.solved else None
    if best.render_ok and best.reward >= config.target - 1e-12:
        return f"target reward {config.target:g} reached"
    return None


class RefineLoop:
    """One refine run: ``run()`` returns a :class:`RefineResult`; observers see every step."""

    def __init__(self, ctx: RefineContext, policy: Policy, evaluator: CandidateEvaluator, config: RefineConfig,
                 observers: list[Observer] | None = None, init_code: str | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        config.validate()
        self.ctx = ctx
        self.policy = policy
        self.evaluator = evaluator
        self.config = config
        self.observers = observers or []
        self.init_code = init_code
        self.budget = Budget(config)
        self.candidates: list[Candidate] = []
        self.rounds: list[RoundSummary] = []
        self.best: Candidate | None = None
        self.best_per_round: list[str] = []
        self._clock = clock

    # -- observer fan-out -------------------------------------------------------------------------------
    def _emit(self, hook: str, *args: Any) -> None:
        for o in self.observers:
            getattr(o, hook)(*args)

    def _status(self, text: str) -> None:
        self._emit("on_status", text)

    # -- evaluation ---------------------------------------------------------------------------------------
    def _evaluate(self, rnd: int, items: list[tuple[Candidate | None, Proposal]]) -> list[Candidate]:
        """Render and judge proposals; record candidates; apply monotone acceptance against parents."""
        remaining = self.budget.remaining_candidates()
        if remaining is not None:
            items = items[:remaining]
        # A policy that failed to produce code still costs an entry: it is recorded as a failed candidate.
        codes = [p.code for _, p in items if p.error is None and p.code.strip()]
        self._status(f"round {rnd}: rendering and judging {len(codes)} candidate(s)")
        evals = iter(self.evaluator.evaluate(codes))
        out: list[Candidate] = []
        start_index = sum(1 for c in self.candidates if c.round == rnd)
        for j, (parent, prop) in enumerate(items):
            cid = f"r{rnd}-{start_index + j}"
            cand = Candidate(id=cid, round=rnd, parent=parent.id if parent else None, code=prop.code,
                             kind=self.evaluator.kind, note=prop.note, prompt_tokens=prop.prompt_tokens,
                             completion_tokens=prop.completion_tokens, policy_seconds=prop.seconds,
                             info=dict(prop.info))
            if prop.error is not None or not prop.code.strip():
                from ..judges.verdict import Verdict

                reason = prop.error or "the policy returned no code"
                cand.render_error = f"no code: {reason}"
                cand.verdict = Verdict.render_failure(self.ctx.task, cand.render_error, self.evaluator.judge_id)
            else:
                ev = next(evals)
                cand.kind = ev.kind
                cand.render_ok, cand.render_error, cand.cache_hit = ev.render_ok, ev.render_error, ev.cache_hit
                cand.png, cand.verdict = ev.png, ev.verdict
                cand.render_seconds, cand.judge_seconds = ev.render_seconds, ev.judge_seconds
                if ev.image is not None:
                    cand.info.setdefault("render_size", list(ev.image.size))
            cand.accepted = parent is None or better(cand, parent, self.config.min_gain)
            self.budget.spend(candidates=1)
            self.candidates.append(cand)
            self.ctx.candidates[cand.id] = cand
            if better(cand, self.best, 0.0) and (parent is None or cand.accepted):
                self.best = cand
            self._emit("on_candidate", cand, self.best)
            out.append(cand)
        return out

    def _beam(self) -> list[Candidate]:
        pool = sorted((c for c in self.candidates if c.accepted), key=rank_key)
        seen: set[str] = set()
        beam: list[Candidate] = []
        for c in pool:
            if c.code in seen:
                continue
            seen.add(c.code)
            beam.append(c)
            if len(beam) >= self.config.beam:
                break
        return beam

    def _close_round(self, rnd: int, new: list[Candidate], t0: float) -> None:
        assert self.best is not None
        summary = RoundSummary(round=rnd, candidates=len(new), rendered=sum(c.render_ok for c in new),
                               accepted=sum(c.accepted for c in new if c.parent is not None) if rnd else
                               len(new), best_id=self.best.id, best_reward=self.best.reward,
                               best_errors=self.best.n_errors, seconds=self._clock() - t0,
                               tokens=sum(c.tokens for c in new))
        self.rounds.append(summary)
        self.best_per_round.append(self.best.id)
        self._emit("on_round_end", summary, self.best)

    # -- the loop -----------------------------------------------------------------------------------------
    def run(self) -> RefineResult:
        t_start = self._clock()
        cfg = self.config
        self._emit("on_start", {"task": self.ctx.task, "kind": self.ctx.kind, "policy": self.policy.name,
                                "judge": self.evaluator.judge_id, "config": cfg.to_dict()})
        # Round 0: the user's init code (if any) plus drafts up to K candidates.
        t0 = self._clock()
        proposals: list[Proposal] = []
        if self.init_code is not None:
            proposals.append(Proposal(code=self.init_code, note="init"))
        n_draft = cfg.samples - len(proposals)
        if n_draft > 0:
            self._status(f"round 0: {self.policy.name} drafting {n_draft} candidate(s)")
            drafts = self.policy.draft(self.ctx, n_draft)[:n_draft]
            self.budget.spend(tokens=sum(p.tokens for p in drafts))
            proposals.extend(drafts)
        if not proposals:
            from ..errors import InputError

            raise InputError(f"policy {self.policy.name!r} produced no draft; pass --init CODE")
        new = self._evaluate(0, [(None, p) for p in proposals])
        self._close_round(0, new, t0)
        stop = _reached_target(self.best, cfg) or self.budget.exhausted()  # type: ignore[arg-type]

        rnd = 0
        while stop is None and rnd < cfg.rounds:
            rnd += 1
            t0 = self._clock()
            items: list[tuple[Candidate | None, Proposal]] = []
            for parent in self._beam():
                if self.budget.exhausted():
                    break
                what = "fixing the render error of" if not parent.render_ok else "revising"
                self._status(f"round {rnd}: {self.policy.name} {what} {parent.id} "
                             f"(reward {parent.reward:.3f}, {parent.n_errors} errors)")
                for p in self.policy.revise(self.ctx, parent, cfg.samples)[:cfg.samples]:
                    items.append((parent, p))
                    self.budget.spend(tokens=p.tokens)
            if not items:
                stop = "the policy has nothing left to try"
                rnd -= 1
                break
            new = self._evaluate(rnd, items)
            self._close_round(rnd, new, t0)
            stop = _reached_target(self.best, cfg) or self.budget.exhausted()  # type: ignore[arg-type]
        if stop is None:
            stop = f"{cfg.rounds} round(s) done"
        assert self.best is not None
        result = RefineResult(task=self.ctx.task, kind=self.best.kind or self.ctx.kind, policy=self.policy.name,
                              judge=self.evaluator.judge_id, best=self.best, candidates=list(self.candidates),
                              rounds=list(self.rounds), stop_reason=stop, seconds=self._clock() - t_start,
                              config=cfg, best_per_round=list(self.best_per_round))
        self._emit("on_finish", result)
        return result
