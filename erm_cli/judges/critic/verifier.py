"""The learned verifier: analysers propose findings, a small tree ensemble decides which are real.

Three heads, trained by ``erm train critic`` (:mod:`erm_cli.train.critic`) on erm-generated pairs only:

- ``proposal``: P(real difference) for each proposal (vs rasterisation nuisance: another engine, dpi, JPEG,
  anti-aliasing, OCR noise);
- ``severity``: a calibrated severity 1-3 for a kept proposal;
- ``pair``: P(the two images differ) from coarse pair features (pHash, SSIM, MSE, edges, differing pixels)
  and the proposal probabilities, so the verdict never ignores what a coarse metric sees.

The model is a JSON file of gradient-boosted trees (scikit-learn's ``HistGradientBoosting*`` exported node by
node, no pickle); this module walks it with numpy alone. The decision is deterministic.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..verdict import STRUCTURE_CATEGORIES
from .features import changed_share, exact_elsewhere, pair_features, proposal_features
from .findings import Context, Finding, position_name

MODEL_PATH = Path(__file__).with_name("verifier_model.json")
MODEL_FORMAT = "erm-verifier-trees/1"

#: Decision thresholds used when a model file does not carry its own (``decision`` key).
DEFAULT_DECISION: dict[str, float] = {
    "keep": 0.5,  # keep a proposal with P(real) at least this
    "pair_equivalent": 0.2,  # below this P(differ) the pair looks equivalent...
    "keep_if_equivalent": 0.8,  # ...and a proposal needs this much to stay
    "pair_differ": 0.85,  # at or above this P(differ) an unexplained difference becomes one error...
    "keep_if_differs": 0.5,  # ...and a proposal needs this much to stay
    "per_category": 1,  # errors kept per category (the others are merged into it: one error per change)
    "reward_pair_floor": 0.1,  # P(differ) above this adds a pair term to the ordered reward (see pair_weight)
}

#: The largest pair term added to the ordered reward's weighted total. With :data:`MERGED_REWARD_WEIGHT` it
#: stays below one minor error's weight 1, so it orders candidates with the same errors by what the pair head
#: sees and never reorders different errors.
PAIR_REWARD_WEIGHT = 0.9
#: The most the merged duplicates add to the pair term (more itemised evidence of the same changes).
MERGED_REWARD_WEIGHT = 0.05
#: The most the changed area adds to the pair term, scaled like the pair head's term: of two candidates the
#: pair head finds equally (often surely) different with the same kept errors, the one whose difference
#: regions cover more of the image scores lower (a superset of another's changes changes more pixels).
EXTENT_REWARD_WEIGHT = 0.04
#: The extent term grows as ``log(1 + share / EXTENT_SCALE)``, reaching :data:`EXTENT_REWARD_WEIGHT` when the
#: whole image changed: it never levels off, so two candidates that both changed much of the figure (a chart
#: type change, with or without more edits) still differ.
EXTENT_SCALE = 0.002


def extent_term(changed_share: float) -> float:
    """The changed-area share mapped to [0, 1], strictly increasing (see :data:`EXTENT_SCALE`)."""
    extent = min(1.0, max(0.0, float(changed_share))) if math.isfinite(float(changed_share)) else 0.0
    return math.log1p(extent / EXTENT_SCALE) / math.log1p(1.0 / EXTENT_SCALE)

FALLBACK_CATEGORY = {"chart": "style_error", "table": "layout_error", "svg": "shape_error"}


@dataclass
class TreeEnsemble:
    """Gradient-boosted trees as flat arrays; ``raw(X)`` = baseline + sum of the leaves each row reaches."""

    features: list[str]
    baseline: float
    kind: str  # "classifier" (sigmoid of raw) | "regressor"
    feature: np.ndarray  # int32 per node, -1 at a leaf
    threshold: np.ndarray  # float64: go left when x <= threshold
    missing_left: np.ndarray  # bool: where nan goes
    left: np.ndarray  # int32, absolute node index
    right: np.ndarray
    value: np.ndarray  # float64 leaf values
    roots: np.ndarray  # int32, first node of each tree

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TreeEnsemble:
        nodes = d["nodes"]
        return cls(features=list(d["features"]), baseline=float(d["baseline"]), kind=str(d["kind"]),
                   feature=np.asarray(nodes["feature"], np.int32),
                   threshold=np.asarray([math.inf if v is None else v for v in nodes["threshold"]], np.float64),
                   missing_left=np.asarray(nodes["missing_left"], bool),
                   left=np.asarray(nodes["left"], np.int32), right=np.asarray(nodes["right"], np.int32),
                   value=np.asarray(nodes["value"], np.float64), roots=np.asarray(d["roots"], np.int32))

    def matrix(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        X = np.full((len(rows), len(self.features)), np.nan, np.float64)
        for i, r in enumerate(rows):
            for j, name in enumerate(self.features):
                v = r.get(name)
                if v is not None:
                    X[i, j] = v
        return X

    def raw(self, X: np.ndarray) -> np.ndarray:
        n = X.shape[0]
        if n == 0 or self.roots.size == 0:
            return np.full(n, self.baseline)
        node = np.broadcast_to(self.roots, (n, self.roots.size)).copy()
        rows = np.arange(n)[:, None]
        while True:
            f = self.feature[node]
            inner = f >= 0
            if not inner.any():
                break
            x = X[rows, np.where(inner, f, 0)]
            go_left = np.where(np.isnan(x), self.missing_left[node], x <= self.threshold[node])
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        return self.baseline + self.value[node].sum(axis=1)

    def predict(self, rows: Sequence[dict[str, float]] | np.ndarray) -> np.ndarray:
        X = rows if isinstance(rows, np.ndarray) else self.matrix(rows)
        r = self.raw(X)
        return 1.0 / (1.0 + np.exp(-r)) if self.kind == "classifier" else r


@dataclass
class VerifierModel:
    proposal: TreeEnsemble
    severity: TreeEnsemble | None
    pair: TreeEnsemble
    decision: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_DECISION))
    manifest: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VerifierModel:
        if d.get("format") != MODEL_FORMAT:
            raise ValueError(f"not an erm verifier model (format {d.get('format')!r}, expected {MODEL_FORMAT})")
        heads = d["heads"]
        sev = heads.get("severity")
        return cls(proposal=TreeEnsemble.from_dict(heads["proposal"]),
                   severity=TreeEnsemble.from_dict(sev) if sev else None,
                   pair=TreeEnsemble.from_dict(heads["pair"]),
                   decision={**DEFAULT_DECISION, **(d.get("decision") or {})}, manifest=d.get("manifest") or {})

    @classmethod
    def load(cls, path: str | Path) -> VerifierModel:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


_SHIPPED: VerifierModel | None = None
_LOCK = threading.Lock()


def shipped_model() -> VerifierModel | None:
    """The model in the package (loaded once), or None when the file is absent."""
    global _SHIPPED
    with _LOCK:
        if _SHIPPED is None and MODEL_PATH.exists():
            _SHIPPED = VerifierModel.load(MODEL_PATH)
        return _SHIPPED


def pair_aggregates(p_real: Sequence[float], findings: Sequence[Finding]) -> dict[str, float]:
    """What the proposal head said about a pair, as features of the pair head."""
    p = np.asarray(p_real, np.float64)
    sev = np.asarray([f.severity for f in findings], np.float64)
    return {"agg_p_max": float(p.max()) if p.size else 0.0,
            "agg_p_sum": float(p.sum()),
            "agg_n_05": float((p >= 0.5).sum()),
            "agg_n_08": float((p >= 0.8).sum()),
            "agg_sev_weighted": float((p * sev).sum()) if p.size else 0.0}


def score(model: VerifierModel, ctx: Context, findings: Sequence[Finding]) -> tuple[np.ndarray, np.ndarray, float]:
    """(P(real) per proposal, calibrated severity per proposal, P(pair differs))."""
    pair = pair_features(ctx, findings)
    rows = [proposal_features(ctx, f, pair) for f in findings]
    p_real = model.proposal.predict(rows) if rows else np.zeros(0)
    sev = (model.severity.predict(rows) if (rows and model.severity is not None)
           else np.asarray([f.severity for f in findings], np.float64))
    p_pair = float(model.pair.predict([{**pair, **pair_aggregates(p_real, findings)}])[0])
    return p_real, sev, p_pair


def decision_rule(p_real: np.ndarray, p_pair: float, decision: dict[str, float],
                  exact_elsewhere: bool = False) -> tuple[np.ndarray, bool]:
    """Which proposals pass the probability threshold, and whether one error must be added for a difference
    none of them explains.

    ``exact_elsewhere``: the pair is pixel-identical outside its differences (one rasteriser, one scale), so
    there is no rasterisation nuisance to remove and every proposal passes.
    """
    if exact_elsewhere:
        return np.ones(len(p_real), bool), False
    if p_pair < decision["pair_equivalent"]:
        need = decision["keep_if_equivalent"]
    elif p_pair >= decision["pair_differ"]:
        need = decision.get("keep_if_differs", decision["keep"])
    else:
        need = decision["keep"]
    keep = np.asarray(p_real, np.float64) >= need
    return keep, bool(not keep.any() and p_pair >= decision["pair_differ"])


#: A content aspect ratio this many times the reference's is a fact of the frame that no rasterisation
#: route produces (align.EXTREME_ASPECT): such a proposal always stays, whatever the heads say.
CERTAIN_ASPECT_FACTOR = 3.0


#: Evidence an analyser sets when the pair is pixel-exact once its finding's pixels are set aside (a slight
#: repaint, a grid switched off): one rasteriser drew both images, so the finding always stays.
EXACT_ELSEWHERE_EVIDENCE: tuple[str, ...] = ("repaint_exact_elsewhere", "grid_exact_elsewhere")


def beyond_nuisance(aspect_ratio_factor: float | None) -> bool:
    """Is a proposal certain without the heads (its evidence: the two contents' aspect ratios differ by
    :data:`CERTAIN_ASPECT_FACTOR` or more)?"""
    return aspect_ratio_factor is not None and not math.isnan(float(aspect_ratio_factor)) \
        and float(aspect_ratio_factor) >= CERTAIN_ASPECT_FACTOR


def merge_duplicates(categories: Sequence[str], p_real: np.ndarray, keep: np.ndarray,
                     per_category: int) -> dict[int, list[int]]:
    """One error per change: of the proposals that passed, the ``per_category`` most likely real of each
    category stay; every other passed proposal of that category is merged into the first of them.

    Returns {kept index: [merged indices]} in order of P(real) (ties: the analysers' order). Analysers often
    itemise one change several times (a new colormap repaints every patch, a bar chart turned sideways moves
    every bar and tick); the kept error carries the others' locations in its evidence.
    """
    order = sorted((i for i in range(len(categories)) if keep[i]), key=lambda i: (-float(p_real[i]), i))
    out: dict[int, list[int]] = {}
    heads: dict[str, list[int]] = {}
    cap = max(1, int(per_category))
    for i in order:
        mine = heads.setdefault(categories[i], [])
        if len(mine) < cap:
            mine.append(i)
            out[i] = []
        else:
            out[mine[0]].append(i)
    return out


def pair_weight(p_pair: float, decision: dict[str, float], merged: int = 0, changed_share: float = 0.0) -> float:
    """The pair term of the ordered reward: 0 while P(differ) stays under ``reward_pair_floor``, then rising to
    :data:`PAIR_REWARD_WEIGHT` at P(differ) = 1, plus up to :data:`MERGED_REWARD_WEIGHT` for the proposals
    merged into kept errors and up to :data:`EXTENT_REWARD_WEIGHT` (times the pair head's share) for the
    image share its difference regions cover (``changed_share``). Below one minor error's weight, it ranks two
    candidates with the same errors by how different the pair looks (and how much of it changed and the
    analysers itemised), and an error-free candidate the pair head doubts below an error-free one it does not,
    so the reward never ignores what a coarse metric sees."""
    floor = float(decision.get("reward_pair_floor", DEFAULT_DECISION["reward_pair_floor"]))
    w = 0.0
    if p_pair > floor and floor < 1.0:
        share = (float(p_pair) - floor) / (1.0 - floor)
        w += PAIR_REWARD_WEIGHT * share
        w += EXTENT_REWARD_WEIGHT * share * extent_term(changed_share)
    if merged > 0:
        w += MERGED_REWARD_WEIGHT * (1.0 - 0.7 ** int(merged))
    return round(w, 6)


#: A kept proposal's severity is raised above what the analysers proposed only when the verifier finds it
#: more likely real than not (a doubtful proposal kept because the pair differs stays as proposed).
RAISE_SEVERITY_MIN_P_REAL = 0.5


def calibrated_severity(proposed: int, predicted: float, p_real: float = 1.0) -> int:
    """The severity head's 1-3, except that a proposal the analysers call severe (a wrong chart type, a missing
    row, a repainted canvas: it changes what the image says) stays severe, and that a proposal is made more
    severe than proposed only when ``p_real`` reaches :data:`RAISE_SEVERITY_MIN_P_REAL`."""
    if int(proposed) >= 3:
        return 3
    calibrated = int(min(3, max(1, round(float(predicted)))))
    if calibrated > int(proposed) and float(p_real) < RAISE_SEVERITY_MIN_P_REAL:
        return int(proposed)
    return calibrated


def group_severity(proposals: Sequence[Any], sev: np.ndarray, p_real: np.ndarray, i: int,
                   merged: Sequence[int]) -> int:
    """The severity of kept proposal ``i``: the most severe calibrated severity of it and the proposals merged
    into it (one change, seen at its worst). ``proposals`` hold ``severity`` (Findings or their records)."""
    def one(j: int) -> int:
        prop = proposals[j]
        proposed = prop["severity"] if isinstance(prop, dict) else prop.severity
        return calibrated_severity(int(proposed), float(sev[j]), float(p_real[j]))

    return max(one(j) for j in [i, *merged])


def unexplained_severity(p_pair: float, proposed: int | None = None, category: str | None = None) -> int:
    """The severity of the one error added for a difference no kept proposal explains: medium when the pair
    head is very sure, else minor; never above what the likeliest proposal (which names it) proposed. When
    that proposal is a severe structure change (a chart type, a subplot grid: its words say so) and the pair
    head is very sure, it stays severe: a chart type change is never reported as a medium error."""
    sev = 2 if p_pair >= 0.97 else 1
    if proposed is not None and int(proposed) >= 3 and category in STRUCTURE_CATEGORIES and p_pair >= 0.97:
        return 3
    return min(sev, max(1, int(proposed))) if proposed is not None else sev


class Verifier:
    """``decide(findings, ctx)``: the kept findings (severity calibrated, probabilities in the evidence) and a
    summary for ``Verdict.info["verifier"]``."""

    def __init__(self, model: VerifierModel) -> None:
        self.model = model

    def decide(self, findings: list[Finding], ctx: Context) -> tuple[list[Finding], dict[str, Any]]:
        p_real, sev, p_pair = score(self.model, ctx, findings)
        exact = exact_elsewhere(ctx)
        keep, unexplained = decision_rule(p_real, p_pair, self.model.decision, exact)
        certain = np.asarray([beyond_nuisance((f.evidence or {}).get("aspect_ratio_factor"))
                              or any((f.evidence or {}).get(k) for k in EXACT_ELSEWHERE_EVIDENCE)
                              for f in findings], bool)
        if certain.any():
            keep, unexplained = keep | certain, False
        groups = merge_duplicates([f.category for f in findings], p_real, keep,
                                  int(self.model.decision.get("per_category", DEFAULT_DECISION["per_category"])))
        kept: list[Finding] = []
        for i, merged in groups.items():
            f, p = findings[i], float(p_real[i])
            ev = dict(f.evidence or {})
            ev.update({"verifier_p_real": round(p, 3), "verifier_p_pair_differs": round(p_pair, 3),
                       "proposed_severity": int(f.severity)})
            if merged:
                ev["merged"] = [{"location": findings[j].location, "description": findings[j].description}
                                for j in merged]
            kept.append(Finding(f.category, group_severity(findings, sev, p_real, i, merged), f.location,
                                f.description, f.bbox, ev))
        if unexplained:
            kept.append(self._unexplained(ctx, findings, p_real, p_pair))
        n_merged = int(sum(len(m) for m in groups.values()))
        weight = pair_weight(p_pair, self.model.decision, n_merged, changed_share(ctx))
        info = {"proposals": len(findings), "kept": len(kept), "merged": n_merged,
                "p_pair_differs": round(p_pair, 3), "reward_pair_weight": weight,
                "pixel_exact_elsewhere": exact,
                "model": self.model.manifest.get("name", "custom")}
        return kept, info

    @staticmethod
    def _unexplained(ctx: Context, findings: Sequence[Finding], p_real: np.ndarray, p_pair: float) -> Finding:
        """One located error for a difference the pair head is sure of but no kept proposal explains."""
        ev = {"verifier_p_pair_differs": round(p_pair, 3)}
        if findings:  # the most likely proposal says where and what
            i = int(np.argmax(p_real))
            f = findings[i]
            sev = unexplained_severity(p_pair, f.severity, f.category)
            ev.update({"verifier_p_real": round(float(p_real[i]), 3), "proposed_severity": int(f.severity)})
            return Finding(f.category, sev, f.location, f.description, f.bbox, {**(f.evidence or {}), **ev})
        sev = unexplained_severity(p_pair)
        W, H = ctx.size
        if ctx.regions:
            r = max(ctx.regions, key=lambda g: g.pixels)
            box = tuple(float(v) for v in r.bbox)
            where = position_name(box, (0, 0, W, H))
            ev["pixels"] = int(r.pixels)
            return Finding(FALLBACK_CATEGORY[ctx.task], sev, f"{where} area",
                           f"the images differ here ({r.pixels} px changed) though no element was identified",
                           box, ev)  # type: ignore[arg-type]
        return Finding(FALLBACK_CATEGORY[ctx.task], sev, "whole image",
                       "the images differ slightly all over (coarse similarity is low)", None, ev)


def default_verifier() -> Verifier | None:
    model = shipped_model()
    return Verifier(model) if model is not None else None
