"""ChartMimic-style low-level chart metrics from two traces (generated vs gold), PEERS.md §1.1.

* text: exact multiset match of drawn strings (tick labels removed); P = matched / |gen|,
  R = matched / |gold|; 0 when either side drew no text.
* layout: exact multiset match of the per-axes grid-spec dicts; 0 when either side is empty.
* type: call counts per plotting entry point; matched = sum over functions of min(gen, gold);
  P = matched / sum(gen), R = matched / sum(gold); 0 when the generation called nothing.
* colour: colours grouped by plotting function; inside a group the optimal one-to-one assignment
  (Hungarian, not ChartMimic's factorial permutation search - same optimum, polynomial time) of
  sim = max(0, 1 - dE2000 / 100) for hex colours, exact match for colormap names; the summed
  similarity S gives P = S / |gen|, R = S / |gold|.

Each score is an F1 in [0, 1]; ``average`` is the mean of the four (ChartMimic's "low-level" score).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .chart_trace import ChartTrace

METRICS = ("text", "layout", "type", "color")


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, float]:
        return {
            "precision": round(self.precision, 6),
            "recall": round(self.recall, 6),
            "f1": round(self.f1, 6),
        }


ZERO = PRF(0.0, 0.0)


def multiset_prf(generated: Iterable[Any], gold: Iterable[Any]) -> PRF:
    """Exact multiset matching (text and layout metrics)."""
    gen = Counter(_hashable(x) for x in generated)
    ref = Counter(_hashable(x) for x in gold)
    n_gen, n_ref = sum(gen.values()), sum(ref.values())
    if not n_gen or not n_ref:
        return ZERO
    matched = sum(min(c, gen[k]) for k, c in ref.items())
    return PRF(matched / n_gen, matched / n_ref)


def _hashable(x: Any) -> Any:
    if isinstance(x, dict):
        return tuple(sorted(x.items()))
    if isinstance(x, list):
        return tuple(x)
    return x


def type_prf(generated: dict[str, int], gold: dict[str, int]) -> PRF:
    """Chart-type metric over call counts."""
    total_gen, total_gold = sum(generated.values()), sum(gold.values())
    if not total_gen:
        return ZERO
    matched = sum(min(c, gold.get(k, 0)) for k, c in generated.items())
    return PRF(matched / total_gen, matched / total_gold if total_gold else 0.0)


def colour_similarity(a: str, b: str) -> float:
    """max(0, 1 - dE2000/100) for two hex colours; exact match for anything else (colormap names)."""
    if a.startswith("#") and b.startswith("#"):
        from ..judges.critic.colour import delta_e_rgb, parse_colour

        return max(0.0, 1.0 - delta_e_rgb(parse_colour(a), parse_colour(b)) / 100.0)
    if a.startswith("#") or b.startswith("#"):
        return 0.0
    return 1.0 if a == b else 0.0


def _split(entry: str) -> tuple[str, str]:
    func, _, colour = entry.rpartition("--")
    return func, colour


def best_assignment_similarity(gen: list[str], gold: list[str]) -> float:
    """Maximum total similarity of a one-to-one assignment between two colour lists."""
    if not gen or not gold:
        return 0.0
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    hexes_g = [c for c in gen if c.startswith("#")]
    hexes_r = [c for c in gold if c.startswith("#")]
    sim = np.zeros((len(gen), len(gold)))
    if hexes_g and hexes_r:
        from ..judges.critic.colour import delta_e2000, parse_colour, rgb_to_lab

        lab_g = rgb_to_lab(np.asarray([parse_colour(c) for c in hexes_g], float))
        lab_r = rgb_to_lab(np.asarray([parse_colour(c) for c in hexes_r], float))
        de = delta_e2000(lab_g[:, None, :], lab_r[None, :, :])
        gi = [i for i, c in enumerate(gen) if c.startswith("#")]
        ri = [j for j, c in enumerate(gold) if c.startswith("#")]
        sim[np.ix_(gi, ri)] = np.maximum(0.0, 1.0 - de / 100.0)
    for i, a in enumerate(gen):
        if a.startswith("#"):
            continue
        for j, b in enumerate(gold):
            if not b.startswith("#") and a == b:
                sim[i, j] = 1.0
    rows, cols = linear_sum_assignment(sim, maximize=True)
    return float(sim[rows, cols].sum())


def colour_prf(generated: Iterable[str], gold: Iterable[str]) -> PRF:
    """ChartMimic colour metric with optimal assignment inside each plotting-function group."""
    gen, ref = list(generated), list(gold)
    if not gen or not ref:
        return ZERO
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for e in gen:
        f, c = _split(e)
        groups.setdefault(f, ([], []))[0].append(c)
    for e in ref:
        f, c = _split(e)
        groups.setdefault(f, ([], []))[1].append(c)
    total = sum(best_assignment_similarity(g, r) for g, r in groups.values())
    return PRF(total / len(gen), total / len(ref))


def chart_scores(generated: ChartTrace | None, gold: ChartTrace) -> dict[str, Any]:
    """The four F1s and their average for one item; a failed generation scores 0 everywhere."""
    if generated is None or not generated.ok:
        prfs = {m: ZERO for m in METRICS}
    else:
        prfs = {
            "text": multiset_prf(generated.texts, gold.texts),
            "layout": multiset_prf(generated.layout, gold.layout),
            "type": type_prf(generated.types, gold.types),
            "color": colour_prf(generated.colors, gold.colors),
        }
    out: dict[str, Any] = {m: p.to_dict() for m, p in prfs.items()}
    out["average"] = round(sum(p.f1 for p in prfs.values()) / len(prfs), 6)
    return out
