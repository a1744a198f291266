"""Robustness metrics of a judge over labelled pairs: equivalents (nuisance routes) vs perturbations.

One record per judged pair (what ``benchmarks/critic_robustness.py`` writes, one JSON line each)::

    {"id", "source", "base", "split", "task",
     "label": "equivalent" | "perturbed" | "triple" | "different",
     "route": "svg" | ... (equivalents), "hard": bool, "kind": "chart.marker" | ... (perturbations),
     "group": "<base>/<kind>" (a 1-error candidate and its 3-error superset share it),
     "gold": [{"category", "severity"}, ...], "pred": [{"category", "severity"}, ...],
     "scores": {"critic": reward, "mse": ..., "ssim": ..., "phash": ..., "pixels": ...}}

``different`` is a pair known to differ without itemised gold errors (a human "fail" verdict).
Metrics (all in percent, ``None`` when undefined): AUROC of every scorer with equivalents as positives
(all, hard routes only, per route), pairwise accuracy (1-error above its 3-error superset; equivalent above
perturbed of the same base), the share of equivalents with no error (overall and per route, and its
complement, the false-positive rate), recall per perturbation kind (any error reported; the gold category
reported), category-count precision and recall, and the severity Pearson. AUROC, pairwise accuracy and
Pearson are the ones of :mod:`erm_cli.bench.judge_metrics`.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from PIL import Image

from .judge_metrics import auroc, pairwise_accuracy, pearson

#: Labels of a pair: positives (no visible difference) and negatives.
EQUIVALENT = "equivalent"
NEGATIVE_LABELS = ("perturbed", "triple", "different")
#: The coarse baselines measured beside the judge, and the judge's own score key.
BASELINE_SCORES = ("mse", "ssim", "phash", "pixels")
#: A pixel "differs" when some channel differs by more than this (of 255), as the gallery's diff_to_gt.
PIXEL_THRESHOLD = 24
SPLITS = (("train", 0.70), ("dev", 0.85), ("test", 1.0))


def split_of(base: str, salt: str = "erm-robustness-v1") -> str:
    """train / dev / test for a base item, from a hash of its id (70 / 15 / 15)."""
    h = int(hashlib.sha256(f"{salt}:{base}".encode()).hexdigest()[:8], 16) / 0x1_0000_0000
    for name, upper in SPLITS:
        if h < upper:
            return name
    return "test"


def pixel_similarity(reference: Image.Image, candidate: Image.Image, side: int = 512) -> float:
    """1 - share of pixels where some channel differs by more than 24/255 (both at one common size)."""
    from ..judges.baselines import _common

    a, b = _common(reference, candidate, side)
    differs = np.abs(a - b).max(axis=-1) > PIXEL_THRESHOLD / 255.0
    return float(1.0 - differs.mean())


def baseline_scores(reference: Image.Image, candidate: Image.Image) -> dict[str, float]:
    """The coarse baselines on one pair: 1-MSE, SSIM, pHash similarity, 1 - share of differing pixels."""
    from ..judges.baselines import mse_score, phash_score, ssim_score

    return {"mse": mse_score(reference, candidate), "ssim": ssim_score(reference, candidate),
            "phash": phash_score(reference, candidate), "pixels": pixel_similarity(reference, candidate)}


# ------------------------------------------------------------------------------------------- metrics
def _pct(v: float | None) -> float | None:
    return None if v is None else round(100.0 * v, 2)


def _share(hits: int, n: int) -> float | None:
    return _pct(hits / n) if n else None


def _scorers(records: Sequence[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for r in records:
        for k in r.get("scores", {}):
            if k not in names:
                names.append(k)
    return names


def _auroc(pos: list[dict[str, Any]], neg: list[dict[str, Any]], scorer: str) -> float | None:
    p = [r["scores"][scorer] for r in pos if r.get("scores", {}).get(scorer) is not None]
    n = [r["scores"][scorer] for r in neg if r.get("scores", {}).get(scorer) is not None]
    return _pct(auroc(p, n))


def ranking_pairs(records: Sequence[dict[str, Any]], scorer: str) -> dict[str, list[tuple[float, float]]]:
    """(chosen, rejected) reward pairs: ``subset`` = 1-error above its 3-error superset (same ``group``),
    ``equivalent`` = an equivalent above a perturbed candidate of the same base."""
    singles: dict[str, float] = {}
    triples: dict[str, float] = {}
    eq_by_base: dict[str, list[float]] = defaultdict(list)
    bad_by_base: dict[str, list[float]] = defaultdict(list)
    for r in records:
        s = r.get("scores", {}).get(scorer)
        if s is None:
            continue
        if r["label"] == "perturbed" and r.get("group"):
            singles[r["group"]] = s
        elif r["label"] == "triple" and r.get("group"):
            triples[r["group"]] = s
        if r["label"] == EQUIVALENT:
            eq_by_base[r["base"]].append(s)
        elif r["label"] in ("perturbed", "triple"):
            bad_by_base[r["base"]].append(s)
    subset = [(singles[g], triples[g]) for g in sorted(singles) if g in triples]
    equivalent = [(e, b) for base in sorted(eq_by_base) for e in eq_by_base[base] for b in bad_by_base.get(base, [])]
    return {"subset": subset, "equivalent": equivalent}


def category_counts(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Category-count precision and recall: per pair and category, min(reported, gold) are right."""
    right = reported = gold = 0
    for r in records:
        p = Counter(e["category"] for e in r.get("pred", []))
        g = Counter(e["category"] for e in r.get("gold", []))
        right += sum(min(n, g[c]) for c, n in p.items())
        reported += sum(p.values())
        gold += sum(g.values())
    return {"precision": _share(right, reported), "recall": _share(right, gold), "reported": reported,
            "gold": gold}


def severity_pearson(records: Sequence[dict[str, Any]]) -> float | None:
    """Pearson x 100 of reported vs gold severity totals over pairs with itemised gold (equivalents: 0)."""
    rows = [r for r in records if r["label"] != "different"]
    pred = [float(sum(e["severity"] for e in r.get("pred", []))) for r in rows]
    gold = [float(sum(e["severity"] for e in r.get("gold", []))) for r in rows]
    return _pct(pearson(pred, gold))


def _recall(rows: list[dict[str, Any]]) -> dict[str, Any]:
    found = sum(1 for r in rows if r.get("pred"))
    cat = sum(1 for r in rows if {e["category"] for e in r.get("gold", [])}
              & {e["category"] for e in r.get("pred", [])})
    return {"n": len(rows), "found": _share(found, len(rows)), "category_found": _share(cat, len(rows))}


def block_metrics(records: Sequence[dict[str, Any]], judge: str = "critic") -> dict[str, Any]:
    """Every robustness metric over one set of records (a source, a split, ...)."""
    eq = [r for r in records if r["label"] == EQUIVALENT]
    neg = [r for r in records if r["label"] in NEGATIVE_LABELS]
    hard = [r for r in eq if r.get("hard")]
    singles = [r for r in records if r["label"] == "perturbed"]
    scorers = _scorers(records)
    routes = sorted({r.get("route") or "?" for r in eq})
    kinds = sorted({r.get("kind") or "?" for r in singles})
    has_pred = any("pred" in r for r in records)
    out: dict[str, Any] = {
        "pairs": len(records), "equivalents": len(eq), "hard_equivalents": len(hard), "negatives": len(neg),
        "auroc": {s: _auroc(eq, neg, s) for s in scorers},
        "auroc_hard": {s: _auroc(hard, neg, s) for s in scorers},
        "auroc_per_route": {rt: {s: _auroc([r for r in eq if (r.get("route") or "?") == rt], neg, s)
                                 for s in scorers} for rt in routes},
    }
    pair_sets = {s: ranking_pairs(records, s) for s in scorers}
    out["pairwise_subset"] = {s: pairwise_accuracy(p["subset"]) for s, p in pair_sets.items()}
    out["pairwise_equivalent"] = {s: pairwise_accuracy(p["equivalent"]) for s, p in pair_sets.items()}
    best = {}
    for key in ("auroc", "auroc_hard"):
        base = {s: v for s, v in out[key].items() if s in BASELINE_SCORES and v is not None}
        best[key] = max(base.items(), key=lambda kv: kv[1]) if base else None
    best["pairwise_subset"] = max(((s, v["accuracy"]) for s, v in out["pairwise_subset"].items()
                                   if s in BASELINE_SCORES and v["accuracy"] is not None),
                                  key=lambda kv: kv[1], default=None)
    out["best_baseline"] = {k: ({"scorer": v[0], "value": v[1]} if v else None) for k, v in best.items()}
    if has_pred:
        clean = sum(1 for r in eq if not r.get("pred"))
        out["equivalent_no_error"] = _share(clean, len(eq))
        out["false_positive_rate"] = _share(len(eq) - clean, len(eq))
        out["hard_equivalent_no_error"] = _share(sum(1 for r in hard if not r.get("pred")), len(hard))
        out["no_error_per_route"] = {
            rt: {"n": len(rows), "no_error": _share(sum(1 for r in rows if not r.get("pred")), len(rows))}
            for rt in routes for rows in [[r for r in eq if (r.get("route") or "?") == rt]]}
        out["recall"] = _recall(singles)
        out["recall_per_kind"] = {k: _recall([r for r in singles if (r.get("kind") or "?") == k]) for k in kinds}
        out["category_counts"] = category_counts(r for r in records if r["label"] != "different")
        out["severity_pearson"] = severity_pearson(records)
        fp_categories = Counter(e["category"] for r in eq for e in r.get("pred", []))
        out["false_positive_categories"] = dict(fp_categories.most_common())
    out["judge"] = judge
    return out


def robustness_metrics(records: Sequence[dict[str, Any]], judge: str = "critic",
                       splits: Sequence[str] | None = None) -> dict[str, Any]:
    """Metrics per source (and per split of each source when it has more than one), plus ``overall`` over the
    erm-generated sources (third-party sources are reported on their own, never pooled with ours)."""
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    crashed: Counter[str] = Counter()
    for r in records:
        if splits is None or r.get("split") in splits:
            if r.get("judge_error"):  # the judge raised on this pair: counted, left out of every metric
                crashed[r["source"]] += 1
            else:
                by_source[r["source"]].append(r)
    out: dict[str, Any] = {"sources": {}}
    for source in sorted(by_source):
        rows = by_source[source]
        block = block_metrics(rows, judge)
        block["judge_errors"] = crashed.get(source, 0)
        names = sorted({r.get("split", "?") for r in rows})
        if len(names) > 1:
            block["per_split"] = {s: block_metrics([r for r in rows if r.get("split") == s], judge) for s in names}
        out["sources"][source] = block
    ours = [r for s, rows in by_source.items() if s in ERM_SOURCES for r in rows]
    if ours:
        out["erm_generated"] = block_metrics(ours, judge)
        out["erm_generated"]["judge_errors"] = sum(crashed.get(s, 0) for s in ERM_SOURCES)
    return out


#: Sources built from erm's own generators (pooled in ``erm_generated``); the others are third-party.
ERM_SOURCES = ("synth", "tables")
