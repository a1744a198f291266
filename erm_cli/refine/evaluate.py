"""Render and judge candidate code against a reference loaded once.

This is :func:`erm_cli.judges.pipeline.score_candidate` split in two so the loop can keep the render
(for ``best.png``, the report and the policy's next prompt) and render a whole round in one
``render_many`` call (the renderer's worker pool and cache do the parallel work).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..errors import ErmError
from ..judges.base import Judge
from ..judges.pipeline import is_blank
from ..judges.verdict import Verdict


@dataclass
class Evaluation:
    kind: str
    render_ok: bool
    render_error: str | None
    cache_hit: bool
    png: bytes | None
    image: Image.Image | None
    verdict: Verdict
    render_seconds: float
    judge_seconds: float


def render_options_for(kind: str, reference: Image.Image, profile: str = "erm", timeout: float | None = None) -> Any:
    """Render size that makes a candidate comparable with the reference.

    SVG and plotly take an explicit canvas, so they render at the reference size; matplotlib and
    HTML keep the size their code asks for (the judge aligns the two images). ``profile`` visual-erm
    renders as the released reward does (its own sizes: renderers/profiles.py). ``timeout``: seconds one
    render may take (``None``: the renderer's default).
    """
    from ..renderers import RenderOptions

    limit: dict[str, Any] = {"timeout": float(timeout)} if timeout is not None else {}
    if kind in ("svg", "plotly"):
        return RenderOptions(width=reference.width, height=reference.height, profile=profile, **limit)
    return RenderOptions(profile=profile, **limit)


class CandidateEvaluator:
    """``evaluate(codes)`` -> one :class:`Evaluation` per code, never raising for bad code."""

    def __init__(self, reference: Image.Image, task: str, judge: Judge, kind: str, use_cache: bool = True,
                 profile: str = "erm", timeout: float | None = None) -> None:
        self.reference = reference
        self.profile = profile
        self.timeout = timeout  # per render; a render that takes longer is a failed candidate
        self.task = task
        self.judge = judge
        self.kind = kind
        self.use_cache = use_cache
        self.judge_id = {"name": getattr(judge, "name", "judge"), "version": getattr(judge, "version", "0")}

    def _render_all(self, codes: list[str]) -> list[tuple[Any, str]]:
        from .. import renderers

        jobs: list[tuple[str, str]] = []
        for code in codes:
            try:
                extracted, detected = renderers.extract_code(code)
            except Exception:  # noqa: BLE001 - a policy's garbage must fail alone
                extracted, detected = code, self.kind
            kind = detected if detected in renderers.KINDS else self.kind
            if kind not in renderers.KINDS or renderers.TASK_OF_KIND.get(kind) != self.task:
                # the detector may misread a fragment; the task's language wins
                kind = self.kind
            jobs.append((extracted, kind))
        results: list[Any] = [None] * len(jobs)
        by_kind: dict[str, list[int]] = {}
        for i, (_, kind) in enumerate(jobs):
            by_kind.setdefault(kind, []).append(i)
        for kind, idxs in by_kind.items():
            options = render_options_for(kind, self.reference, self.profile, self.timeout)
            outs = renderers.render_many([(jobs[i][0], kind) for i in idxs], options, cache=self.use_cache)
            for i, out in zip(idxs, outs):
                results[i] = (out, kind)
        return results  # type: ignore[return-value]

    def evaluate(self, codes: list[str]) -> list[Evaluation]:
        if not codes:
            return []
        rendered = self._render_all(codes)
        out: list[Evaluation] = []
        for result, kind in rendered:
            t0 = time.perf_counter()
            if not result.ok:
                verdict = Verdict.render_failure(self.task, result.error or "render failed", self.judge_id)
                out.append(Evaluation(kind, False, result.error or "render failed", result.cache_hit, None, None,
                                      verdict, result.seconds, 0.0))
                continue
            try:
                image = result.image()
            except Exception as exc:  # noqa: BLE001 - unreadable render bytes fail this candidate only
                reason = f"unreadable render: {exc}"
                out.append(Evaluation(kind, False, reason, result.cache_hit, None, None,
                                      Verdict.render_failure(self.task, reason, self.judge_id), result.seconds, 0.0))
                continue
            if is_blank(image) and not is_blank(self.reference):
                reason = "blank render (a single colour)"
                out.append(Evaluation(kind, False, reason, result.cache_hit, result.png, image,
                                      Verdict.render_failure(self.task, reason, self.judge_id), result.seconds, 0.0))
                continue
            try:
                verdict = self.judge.judge(self.reference, image, self.task)
            except ErmError:
                raise  # a judge backend that is down stops the run (exit 4), it is not this candidate's fault
            except Exception as exc:  # noqa: BLE001 - a judge crash on one image fails that candidate only
                reason = f"judge failed: {exc.__class__.__name__}: {exc}"
                verdict = Verdict.render_failure(self.task, reason, self.judge_id)
                verdict.info["judge_error"] = reason
                out.append(Evaluation(kind, False, reason, result.cache_hit, result.png, image, verdict,
                                      result.seconds, time.perf_counter() - t0))
                continue
            judge_seconds = time.perf_counter() - t0
            verdict.timings.setdefault("judge", judge_seconds)
            out.append(Evaluation(kind, True, None, result.cache_hit, result.png, image, verdict,
                                  result.seconds, judge_seconds))
        return out
