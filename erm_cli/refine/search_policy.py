"""The model-free policy: image-to-code drafts, then judge-guided search over the code's literals.

``draft`` writes code from the reference with the embedded baselines (charts: chart extraction to
matplotlib; tables: grid detection + OCR to HTML; SVG: vtracer). ``revise`` reads the parent's
render, proposes literal edits (:mod:`literal_search`) and packs them into up to ``n`` candidates:
all edits together, each kind of edit together, then single edits, best first. Every proposal is new
code (nothing already judged is proposed again); when nothing is left, ``revise`` returns [] and the
loop stops.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from ..imageio import load_image
from .analysis import facts_for, frame_map
from .literal_search import Edit, apply_edits, propose_edits
from .policy import RefineContext
from .types import Candidate, Proposal


def _h(code: str) -> str:
    return hashlib.sha1(code.encode("utf-8", "replace")).hexdigest()


def draft_for(ctx: RefineContext, n: int) -> list[str]:
    """Up to ``n`` distinct drafts of the reference in ``ctx.kind`` from the embedded baselines."""
    if ctx.task == "chart":
        from .chart_extract import analyse_chart
        from .draft_chart import draft_chart

        facts = ctx.memo.get("ref_chart")
        if facts is None:
            facts = ctx.memo["ref_chart"] = analyse_chart(ctx.reference)
        return draft_chart(ctx.reference, n, facts=facts)
    if ctx.task == "table":
        from .draft_table import draft_table

        return draft_table(ctx.reference, n)
    if ctx.task == "svg":
        from .draft_svg import draft_svg

        return draft_svg(ctx.reference, n)
    return []


class SearchPolicy:
    """Draft with an image-to-code baseline; revise by literal edits proposed from image evidence."""

    name = "search"

    def __init__(self, max_edits_per_proposal: int = 64) -> None:
        self.max_edits_per_proposal = max_edits_per_proposal

    # -- drafts ---------------------------------------------------------------------------------------
    def draft(self, ctx: RefineContext, n: int) -> list[Proposal]:
        t0 = time.perf_counter()
        try:
            codes = draft_for(ctx, n)
        except Exception as exc:  # noqa: BLE001 - a draft that cannot be built is a failed proposal, not a crash
            return [Proposal(code="", note="draft", error=f"draft failed: {exc.__class__.__name__}: {exc}",
                             seconds=time.perf_counter() - t0)]
        dt = (time.perf_counter() - t0) / max(1, len(codes))
        return [Proposal(code=c, note=f"draft:{ctx.task}#{i}", seconds=dt) for i, c in enumerate(codes)]

    # -- revisions ------------------------------------------------------------------------------------
    def _seen(self, ctx: RefineContext) -> set[str]:
        seen: set[str] = ctx.memo.setdefault("search_seen", set())
        seen.update(_h(c.code) for c in ctx.candidates.values())
        return seen

    def _repair(self, ctx: RefineContext, parent: Candidate, n: int) -> list[Proposal]:
        """A parent that did not render: fall back to a fresh draft (the render error is recorded)."""
        seen = self._seen(ctx)
        out = []
        t0 = time.perf_counter()
        for code in draft_for(ctx, max(1, n)):
            if _h(code) in seen:
                continue
            seen.add(_h(code))
            out.append(Proposal(code=code, note="redraft-after-render-error",
                                info={"render_error": (parent.render_error or "")[:300]},
                                seconds=time.perf_counter() - t0))
        return out[:n]

    def edits_for(self, ctx: RefineContext, parent: Candidate) -> list[Edit]:
        if not parent.png:
            return []
        ref = facts_for(ctx.memo, ctx.reference, ctx.task)
        cand_img = load_image(parent.png, what="render")
        cand = facts_for(ctx.memo, cand_img, ctx.task)
        fmap = frame_map(ctx.reference, cand_img)
        return propose_edits(parent.code, parent.kind or ctx.kind, ctx.task, ref, cand, fmap, parent.verdict)

    def revise(self, ctx: RefineContext, parent: Candidate, n: int) -> list[Proposal]:
        if not parent.render_ok:
            return self._repair(ctx, parent, n)
        t0 = time.perf_counter()
        edits = self.edits_for(ctx, parent)
        if not edits:
            return []
        language = "python" if (parent.kind or ctx.kind) in ("matplotlib", "plotly") else "markup"
        bundles: list[tuple[str, list[Edit]]] = [("all", edits[: self.max_edits_per_proposal])]
        kinds = sorted({e.kind for e in edits}, key=lambda k: -max(e.score for e in edits if e.kind == k))
        if len(kinds) > 1:
            bundles += [(k, [e for e in edits if e.kind == k]) for k in kinds]
        bundles += [(f"{e.kind}:{i}", [e]) for i, e in enumerate(edits)]
        seen = self._seen(ctx)
        out: list[Proposal] = []
        spent = time.perf_counter() - t0
        for label, group in bundles:
            if len(out) >= n:
                break
            code = apply_edits(parent.code, group, language)
            key = _h(code)
            if code == parent.code or key in seen:
                continue
            seen.add(key)
            info: dict[str, Any] = {"edits": [e.description for e in group][:20]}
            out.append(Proposal(code=code, note=f"edit:{label}", info=info))
        for p in out:
            p.seconds = spent / max(1, len(out))
        return out
