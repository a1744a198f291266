"""VC-RewardBench judge metrics, exactly as the benchmark defines them (VISUAL-ERM.md §7).

Given, per item, the gold errors, the predicted errors and a 1-to-1 matching between them with
levels ``yes`` / ``partial`` (see :mod:`erm_cli.bench.matching`):

* errors outside the task's allowed types are dropped on both sides;
* ``F1_hard``: TP = ``yes`` pairs; ``F1_soft``: TP = ``yes`` + 0.5 x ``partial``;
  FP = unmatched predictions, FN = unmatched gold (so in the hard score a partial pair leaves TP,
  FP and FN alike, as in the released ``evaluation.py``);
* TP / FP / FN are summed over items (micro) per task and over all items; per error type, TP is
  keyed by the *predicted* type, FP by the predicted type, FN by the gold type;
* the released code scores an empty case (no gold and no predicted error: TP = FP = FN = 0) as
  ``f1_hard`` 1.0 and ``f1_soft`` 0.0; we report such a block's F1s as ``None`` (undefined) instead
  (except under ``--protocol visual-erm``, which reports the released values),
  so a task or type nobody mentioned does not show 100 or 0 (real tasks always have gold errors;
  :func:`f1_hard` / :func:`f1_soft` keep the released values for anyone who needs them);
* ``Sc`` = Pearson correlation x 100 between per-item predicted and gold severity totals, per task
  and pooled over all items for the overall figure (not a mean of tasks); undefined (constant
  input or fewer than two items) is reported as ``None``.

Under ``--protocol visual-erm`` an :class:`ItemMatch` also carries what the released ``evaluation.py``
counts with: the matcher model's own ``unmatched_pred`` / ``unmatched_gt`` ids (FP / FN are counted from
them when the model gave them) and each error's severity as the release reads it
(:func:`release_severity`: the number the answer or the annotator wrote, not clamped).

Also here: AUROC of a reward for "no error" vs "error" items and pairwise accuracy. All F1 / Sc /
AUROC / accuracy figures are returned in percent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..judges.verdict import TASKS, TAXONOMY, ErrorItem

LEVELS = ("yes", "partial")


@dataclass(frozen=True)
class Pair:
    """One matched (prediction, gold) pair inside an item; indices into the filtered lists."""

    pred: int
    gold: int
    level: str  # "yes" | "partial"


@dataclass
class ItemMatch:
    """Gold and predicted errors of one item (filtered to allowed types) and their matching."""

    id: str
    task: str
    gold: list[ErrorItem]
    pred: list[ErrorItem]
    pairs: list[Pair] = field(default_factory=list)
    #: The ids the matcher model itself listed as unmatched (``--protocol visual-erm``, when it listed any): FP /
    #: FN are their counts, as in the released evaluation.py, instead of the errors left unpaired. Ids index as
    #: Python indexes a list there (-1 is the last error, and may count again beside its own id).
    unmatched_pred: frozenset[int] | None = None
    unmatched_gold: frozenset[int] | None = None
    #: Severities as the released evaluation.py sums them (aligned with ``pred`` / ``gold``); None: the errors' own.
    pred_severity: list[float] | None = None
    gold_severity: list[float] | None = None

    def __post_init__(self) -> None:
        used_p: set[int] = set()
        used_g: set[int] = set()
        for p in self.pairs:
            if p.level not in LEVELS:
                raise ValueError(f"match level must be yes or partial, got {p.level!r}")
            if not (0 <= p.pred < len(self.pred)) or not (0 <= p.gold < len(self.gold)):
                raise ValueError(f"pair {p} is out of range for item {self.id}")
            if p.pred in used_p or p.gold in used_g:
                raise ValueError(f"item {self.id}: matching is not one-to-one")
            used_p.add(p.pred)
            used_g.add(p.gold)
        for ids, errors in ((self.unmatched_pred, self.pred), (self.unmatched_gold, self.gold)):
            if ids is not None and any(not -len(errors) <= i < len(errors) for i in ids):
                raise ValueError(f"item {self.id}: an unmatched id is out of range")
        for sev, errors in ((self.pred_severity, self.pred), (self.gold_severity, self.gold)):
            if sev is not None and len(sev) != len(errors):
                raise ValueError(f"item {self.id}: severities do not line up with the errors")

    def unmatched(self, side: str) -> list[int]:
        """Ids counted as FP (``pred``) or FN (``gold``): the model's own list when it gave one, else the
        errors no pair uses."""
        given = self.unmatched_pred if side == "pred" else self.unmatched_gold
        if given is not None:
            return sorted(given)
        errors = self.pred if side == "pred" else self.gold
        used = {p.pred if side == "pred" else p.gold for p in self.pairs}
        return [i for i in range(len(errors)) if i not in used]

    def severities(self, side: str) -> list[float]:
        """Each error's severity as summed (the release's reading when set, else the error's own)."""
        given = self.pred_severity if side == "pred" else self.gold_severity
        errors = self.pred if side == "pred" else self.gold
        return list(given) if given is not None else [float(e.severity) for e in errors]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task": self.task,
            "pairs": [{"pred": p.pred, "gold": p.gold, "level": p.level} for p in self.pairs],
        }


def release_severity(value: Any) -> float:
    """A severity as the released evaluation.py reads it (``float(e.get("severity", 0))``, 0.0 when that
    fails): any number as given, numeric strings too; words, null and lists are 0."""
    try:
        return float(value)
    except Exception:  # noqa: BLE001 - the release's own bare except
        return 0.0


def allowed_errors(errors: Iterable[ErrorItem], task: str) -> list[ErrorItem]:
    """Keep only the errors whose category belongs to ``task``'s taxonomy (dirty data is dropped)."""
    allowed = TAXONOMY.get(task, ())
    return [e for e in errors if e.category in allowed]


@dataclass
class Counts:
    """Micro counts: hard TP, soft TP, FP, FN."""

    tp_hard: float = 0.0
    tp_soft: float = 0.0
    fp: float = 0.0
    fn: float = 0.0

    def add(self, other: Counts) -> None:
        self.tp_hard += other.tp_hard
        self.tp_soft += other.tp_soft
        self.fp += other.fp
        self.fn += other.fn

    @property
    def f1_hard(self) -> float:
        return f1_hard(self.tp_hard, self.fp, self.fn)

    @property
    def f1_soft(self) -> float:
        return f1_soft(self.tp_soft, self.fp, self.fn)

    @property
    def empty(self) -> bool:
        return self.tp_soft == 0 and self.fp == 0 and self.fn == 0

    def to_dict(self, released: bool = False) -> dict[str, Any]:
        """``released``: an empty block gets the released evaluation.py's F1s (hard 100, soft 0) instead of
        None (``--protocol visual-erm``)."""
        undefined = self.empty and not released
        return {
            "tp_hard": self.tp_hard,
            "tp_soft": self.tp_soft,
            "fp": self.fp,
            "fn": self.fn,
            "f1_hard": None if undefined else round(100 * self.f1_hard, 4),
            "f1_soft": None if undefined else round(100 * self.f1_soft, 4),
        }


def _div(a: float, b: float) -> float:
    return a / b if b else 0.0


def f1_hard(tp: float, fp: float, fn: float) -> float:
    """F1 from counts; 1.0 when there is nothing at all (no gold, no prediction), as released."""
    if tp == 0 and fp == 0 and fn == 0:
        return 1.0
    p, r = _div(tp, tp + fp), _div(tp, tp + fn)
    return _div(2 * p * r, p + r)


def f1_soft(tp: float, fp: float, fn: float) -> float:
    """F1 with fractional TP; 0.0 for the empty case (the released code's safe division)."""
    p, r = _div(tp, tp + fp), _div(tp, tp + fn)
    return _div(2 * p * r, p + r)


def item_counts(m: ItemMatch) -> tuple[Counts, dict[str, Counts]]:
    """Overall and per-type counts of one item (FP / FN: :meth:`ItemMatch.unmatched`)."""
    unmatched_p, unmatched_g = m.unmatched("pred"), m.unmatched("gold")
    overall = Counts(
        tp_hard=sum(1 for p in m.pairs if p.level == "yes"),
        tp_soft=sum(1.0 if p.level == "yes" else 0.5 for p in m.pairs),
        fp=len(unmatched_p),
        fn=len(unmatched_g),
    )
    by_type: dict[str, Counts] = {}
    for t in TAXONOMY.get(m.task, ()):
        c = Counts()
        for p in m.pairs:
            if m.pred[p.pred].category == t:
                c.tp_hard += 1 if p.level == "yes" else 0
                c.tp_soft += 1.0 if p.level == "yes" else 0.5
        c.fp = sum(1 for i in unmatched_p if m.pred[i].category == t)
        c.fn = sum(1 for i in unmatched_g if m.gold[i].category == t)
        by_type[t] = c
    return overall, by_type


def severity_total(errors: Iterable[ErrorItem]) -> float:
    return float(sum(e.severity for e in errors))


def severity_sums(m: ItemMatch, side: str) -> dict[str, float]:
    """Severity sums of one side of an item per type of its task, and ``__total__`` (the sum of the types'
    sums, added in the same order as the released ``sum_severity_by_type``)."""
    types = TAXONOMY.get(m.task, ())
    sums = dict.fromkeys(types, 0.0)
    errors = m.pred if side == "pred" else m.gold
    for e, sev in zip(errors, m.severities(side)):
        if e.category in sums:
            sums[e.category] += sev
    sums["__total__"] = sum(sums[t] for t in types)
    return sums


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson correlation; ``None`` when undefined (fewer than 2 points or a constant side)."""
    if len(xs) != len(ys) or len(xs) < 2:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    vx = sum((x - mx) ** 2 for x in xs)
    vy = sum((y - my) ** 2 for y in ys)
    if vx == 0 or vy == 0:
        return None
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    return cov / math.sqrt(vx * vy)


def _pct(v: float | None) -> float | None:
    return None if v is None else round(100.0 * v, 4)


def _block(items: list[ItemMatch], task: str | None, released: bool = False) -> dict[str, Any]:
    overall = Counts()
    types = TAXONOMY[task] if task else tuple(sorted({c for cats in TAXONOMY.values() for c in cats}))
    per_type: dict[str, Counts] = {}
    support: dict[str, dict[str, int]] = {}
    for m in items:
        o, bt = item_counts(m)
        overall.add(o)
        for t, c in bt.items():
            per_type.setdefault(t, Counts()).add(c)
        for t in TAXONOMY.get(m.task, ()):
            s = support.setdefault(t, {"gold": 0, "pred": 0})
            s["gold"] += sum(1 for e in m.gold if e.category == t)
            s["pred"] += sum(1 for e in m.pred if e.category == t)
    sums = [(severity_sums(m, "pred"), severity_sums(m, "gold")) for m in items]
    pred_tot = [p["__total__"] for p, _ in sums]
    gold_tot = [g["__total__"] for _, g in sums]
    out: dict[str, Any] = {
        "items": len(items),
        "gold_errors": sum(len(m.gold) for m in items),
        "pred_errors": sum(len(m.pred) for m in items),
        **overall.to_dict(released),
        "sc": _pct(pearson(pred_tot, gold_tot)),
        "per_type": {
            t: {**per_type[t].to_dict(released), "support": support.get(t, {"gold": 0, "pred": 0})}
            for t in types
            if t in per_type
        },
    }
    if task:
        out["sc_per_type"] = {
            t: _pct(pearson([p.get(t, 0.0) for p, _ in sums], [g.get(t, 0.0) for _, g in sums]))
            for t in TAXONOMY[task]
        }
    return out


def vcbench_metrics(items: list[ItemMatch], released: bool = False) -> dict[str, Any]:
    """F1_hard / F1_soft / Sc per task (``chart``, ``table``, ``svg``) and ``overall`` (percent). ``released``
    (``--protocol visual-erm``): a block with nothing to count gets the released F1s, not None."""
    out: dict[str, Any] = {}
    for task in TASKS:
        rows = [m for m in items if m.task == task]
        if rows:
            out[task] = _block(rows, task, released)
    out["overall"] = _block(items, None, released)
    return out


def auroc(positive: Sequence[float], negative: Sequence[float]) -> float | None:
    """P(score of a positive > score of a negative), ties counted 0.5 (Mann-Whitney U / n_p n_n).

    Returns ``None`` when either class is empty. O((n_p + n_n) log) via ranks.
    """
    if not positive or not negative:
        return None
    scored = sorted([(float(s), 1) for s in positive] + [(float(s), 0) for s in negative])
    rank_sum = 0.0
    i = 0
    n = len(scored)
    while i < n:
        j = i
        while j + 1 < n and scored[j + 1][0] == scored[i][0]:
            j += 1
        avg_rank = (i + j) / 2.0 + 1.0  # 1-based average rank of a tie group
        rank_sum += avg_rank * sum(1 for k in range(i, j + 1) if scored[k][1] == 1)
        i = j + 1
    n_p, n_n = len(positive), len(negative)
    u = rank_sum - n_p * (n_p + 1) / 2.0
    return u / (n_p * n_n)


def reward_separation(rewards: Sequence[float], gold_error_counts: Sequence[int]) -> dict[str, Any]:
    """AUROC of the reward for items with no gold error (positives) vs items with errors, in percent."""
    pos = [r for r, n in zip(rewards, gold_error_counts) if n == 0]
    neg = [r for r, n in zip(rewards, gold_error_counts) if n > 0]
    return {
        "auroc": _pct(auroc(pos, neg)),
        "n_no_error": len(pos),
        "n_error": len(neg),
        "mean_reward_no_error": round(sum(pos) / len(pos), 6) if pos else None,
        "mean_reward_error": round(sum(neg) / len(neg), 6) if neg else None,
    }


def pairwise_accuracy(pairs: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """Accuracy over (reward of chosen, reward of rejected): win 1, tie 0.5, loss 0 (percent).

    ``strict`` counts ties as losses; ``ties`` is the tie rate.
    """
    if not pairs:
        return {"accuracy": None, "strict": None, "ties": None, "pairs": 0}
    wins = sum(1 for c, r in pairs if c > r)
    ties = sum(1 for c, r in pairs if c == r)
    n = len(pairs)
    return {
        "accuracy": round(100.0 * (wins + 0.5 * ties) / n, 4),
        "strict": round(100.0 * wins / n, 4),
        "ties": round(100.0 * ties / n, 4),
        "pairs": n,
    }


def reward_severity_correlation(rewards: Sequence[float], gold_totals: Sequence[float]) -> float | None:
    """Pearson x 100 of (1 - reward) against the gold severity totals: an Sc for any scalar judge."""
    return _pct(pearson([1.0 - r for r in rewards], list(gold_totals)))
