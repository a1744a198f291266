"""THE verdict schema: Visual-ERM's error taxonomy, errors, verdicts and reward formulas.

Every judge (the critic, VLM judges, baselines) returns a :class:`Verdict`; every verb and every
RL adapter reads one. Keys follow Visual-ERM (``<category>_count``, ``errors`` with ``category``,
``severity``, ``location``, ``description``); parsers accept ``type`` as a synonym of ``category``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..schemas import SCHEMA_VERSION, SCORE_DECIMALS  # noqa: F401 - SCHEMA_VERSION: one version for every output

TASKS: tuple[str, ...] = ("chart", "table", "svg")

TAXONOMY: dict[str, tuple[str, ...]] = {
    "chart": ("structure_error", "data_error", "text_error", "style_error"),
    "table": ("layout_error", "text_error", "numeric_error"),
    "svg": ("structure_error", "shape_error", "style_error", "text_symbol_error"),
}

SEVERITY_NAMES = {1: "minor", 2: "medium", 3: "severe"}

#: The released reward code's normalising constant ("empirical, from RM statistics").
MAX_SEVERITY = 50.0
#: Severity total assumed when a judge's answer cannot be parsed (released code: SEVERITY_AVG).
SEVERITY_UNPARSED = 25.0


#: How a verdict's errors become a scalar reward. "released" (the default for every verdict, the contract
#: of ARCHITECTURE.md 3.1 and what a Visual-ERM judge's verdict must give): Visual-ERM's released
#: ``clip(1 - S / 50, 0, 1)`` over the plain severity total S. "ordered" (what the embedded critic uses,
#: see :data:`CRITIC_REWARD_FORMULA`): ``exp(-W / ORDERED_SCALE)`` with W the sum of :func:`error_weight`
#: over the errors; it never saturates, so more or worse errors always lower it.
REWARD_FORMULAS: tuple[str, ...] = ("ordered", "released")
DEFAULT_REWARD_FORMULA = "released"
#: The embedded critic's formula: its itemised verdicts rank candidates (pairwise, AUROC, refine) and must
#: not tie at the clip when a candidate has many errors.
CRITIC_REWARD_FORMULA = "ordered"
#: Weight of one error by severity in the "ordered" reward: a severe error costs more than three minor ones.
SEVERITY_WEIGHTS: dict[int, float] = {1: 1.0, 2: 3.0, 3: 8.0}
#: Categories that say the image is built differently (chart type, subplots, rows / columns): never
#: weighed below a medium error, so one structural change never scores above a cosmetic one.
STRUCTURE_CATEGORIES = frozenset({"structure_error", "layout_error"})
#: The "ordered" reward's scale: one minor error 0.967, one medium 0.905, one severe 0.766.
ORDERED_SCALE = 30.0


def all_categories() -> set[str]:
    return {c for cats in TAXONOMY.values() for c in cats}


def normalise_category(name: str, task: str | None = None) -> str:
    """Map loose spellings ("Text", "text error", "numeric") onto the taxonomy key.

    Unknown names are returned lower-cased and snake-cased so nothing is silently dropped.
    """
    key = str(name or "").strip().lower().replace("-", "_").replace(" ", "_")
    if not key:
        return "unknown_error"
    if not key.endswith("_error"):
        key = key + "_error"
    aliases = {"text_symbol_error": "text_symbol_error", "symbol_error": "text_symbol_error",
               "textsymbol_error": "text_symbol_error", "number_error": "numeric_error",
               "numerical_error": "numeric_error", "structural_error": "structure_error",
               "stylistic_error": "style_error", "color_error": "style_error", "colour_error": "style_error",
               "textual_error": "text_error", "geometry_error": "shape_error"}
    key = aliases.get(key, key)
    if task in TAXONOMY and key not in TAXONOMY[task]:
        # cross-task synonyms: a table judge saying "structure" means layout, an svg judge saying text means text_symbol
        cross = {("table", "structure_error"): "layout_error", ("svg", "text_error"): "text_symbol_error",
                 ("chart", "layout_error"): "structure_error", ("table", "data_error"): "numeric_error",
                 ("chart", "shape_error"): "data_error", ("svg", "data_error"): "shape_error"}
        key = cross.get((task, key), key)
    return key


def clamp_severity(value: Any) -> int:
    """Severities are 1 (minor), 2 (medium) or 3 (severe); anything else is clamped, junk becomes 1."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return 1
    if math.isnan(v):
        return 1
    return int(min(3, max(1, round(v))))


@dataclass
class ErrorItem:
    """One discrepancy between the reference and the candidate."""

    category: str
    severity: int
    location: str = ""
    description: str = ""
    bbox: list[float] | None = None  # [x0, y0, x1, y1] in reference pixels
    evidence: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"category": self.category, "severity": self.severity,
                             "location": self.location, "description": self.description}
        if self.bbox is not None:
            d["bbox"] = [round(float(v), 1) for v in self.bbox]
        if self.evidence:
            d["evidence"] = self.evidence
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], task: str | None = None) -> "ErrorItem":
        if not isinstance(d, dict):
            raise ValueError(f"an error must be an object, got {type(d).__name__}")
        cat = d.get("category", d.get("type", ""))
        bbox = d.get("bbox")
        if bbox is not None:
            try:
                bbox = [float(v) for v in bbox][:4]
                if len(bbox) != 4:
                    bbox = None
            except (TypeError, ValueError):
                bbox = None
        evidence = d.get("evidence") if isinstance(d.get("evidence"), dict) else None
        return cls(category=normalise_category(str(cat), task), severity=clamp_severity(d.get("severity", 1)),
                   location=str(d.get("location", "") or ""), description=str(d.get("description", "") or ""),
                   bbox=bbox, evidence=evidence)


def reward_from_severity(total: float, max_severity: float = MAX_SEVERITY) -> float:
    """The default scalar reward: ``clip(1 - S / max_severity, 0, 1)`` (released reward code)."""
    if max_severity <= 0:
        raise ValueError("max_severity must be positive")
    return float(min(1.0, max(0.0, 1.0 - max(0.0, total) / max_severity)))


def error_weight(category: str, severity: int) -> float:
    """An error's weight in the "ordered" reward: :data:`SEVERITY_WEIGHTS` by severity, at least a medium
    error's weight for a structure (layout) error."""
    w = SEVERITY_WEIGHTS.get(clamp_severity(severity), 1.0)
    if category in STRUCTURE_CATEGORIES:
        w = max(w, SEVERITY_WEIGHTS[2])
    return w


def weighted_total(errors: Iterable[ErrorItem]) -> float:
    """The sum of :func:`error_weight` over ``errors`` (monotone: adding an error never lowers it)."""
    return float(sum(error_weight(e.category, e.severity) for e in errors))


def ordered_reward(weighted: float, scale: float = ORDERED_SCALE) -> float:
    """``exp(-weighted / scale)``: strictly decreasing in the weighted total and never clipped, so a candidate
    whose errors are a subset of another's never scores lower."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    return float(math.exp(-max(0.0, weighted) / scale))


def batch_normalised_rewards(totals: Iterable[float], eps: float = 1e-6) -> list[float]:
    """The paper's Eq. 4-5: ``S~ = S / (max_j S_j + eps)``, ``r = clip(1 - S~, 0, 1)`` within one batch."""
    vals = [max(0.0, float(t)) for t in totals]
    if not vals:
        return []
    top = max(vals)
    return [float(min(1.0, max(0.0, 1.0 - v / (top + eps)))) for v in vals]


@dataclass
class Verdict:
    """A judge's answer for one (reference, candidate) pair."""

    task: str
    errors: list[ErrorItem] = field(default_factory=list)
    render_ok: bool = True
    judge: dict[str, str] = field(default_factory=lambda: {"name": "unknown", "version": "0"})
    timings: dict[str, float] = field(default_factory=dict)
    #: False when a generative judge's answer could not be parsed (severity total then = SEVERITY_UNPARSED).
    parsed: bool = True
    #: A reward set directly by a judge with no itemised errors (pixel / SSIM / pHash baselines).
    score: float | None = None
    #: Free-form extras (render error text, raw model output, image sizes...).
    info: dict[str, Any] = field(default_factory=dict)
    max_severity: float = MAX_SEVERITY
    #: "released" (default: Visual-ERM's clip(1 - S / max_severity)) or "ordered"; see REWARD_FORMULAS.
    reward_formula: str = DEFAULT_REWARD_FORMULA
    #: Added to the "ordered" reward's weighted total: the critic's learned pair term (in [0, 1), less than one
    #: minor error), from how different the pair head finds the two images; 0 for every other judge.
    pair_weight: float = 0.0

    def sorted_errors(self) -> list[ErrorItem]:
        return sorted(self.errors, key=lambda e: (-e.severity, e.category, e.location))

    @property
    def counts(self) -> dict[str, int]:
        cats = list(TAXONOMY.get(self.task, ()))
        out = {c: 0 for c in cats}
        for e in self.errors:
            out[e.category] = out.get(e.category, 0) + 1
        return out

    @property
    def severity_total(self) -> float:
        """The sum of the errors' severities (each 1-3); an answer read by a released reward parser sums them as
        that code does (``info["released_severity_total"]``, see ``vlm_output.released_severity_sum``);
        :data:`SEVERITY_UNPARSED` when the answer could not be read."""
        if not self.parsed:
            return SEVERITY_UNPARSED
        released = self.info.get("released_severity_total")
        if isinstance(released, (int, float)):
            return float(released)
        return float(sum(e.severity for e in self.errors))

    @property
    def reward(self) -> float:
        """Visual reward in [0, 1]; 0 when the candidate did not render. Rounded to
        :data:`erm_cli.schemas.SCORE_DECIMALS` places: the same number in Python, in JSON and (to 3 places)
        in the CLI."""
        return round(self._raw_reward(), SCORE_DECIMALS)

    def _raw_reward(self) -> float:
        if not self.render_ok:
            return 0.0
        if self.score is not None:
            return float(min(1.0, max(0.0, self.score)))
        if self.reward_formula == "released" or not self.parsed:
            return reward_from_severity(self.severity_total, self.max_severity)
        return ordered_reward(weighted_total(self.errors) + max(0.0, float(self.pair_weight)))

    @property
    def rl_reward(self) -> float:
        """``render_ok + reward`` in [0, 2] (the paper's r_rsr + r_verm); 0 when nothing rendered."""
        return round(1.0 + self.reward, SCORE_DECIMALS) if self.render_ok else 0.0

    @property
    def equivalent(self) -> bool:
        return self.render_ok and self.parsed and not self.errors and (self.score is None or self.score >= 1.0)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"task": self.task}
        for cat, n in self.counts.items():
            d[f"{cat}_count"] = n
        d["errors"] = [e.to_dict() for e in self.sorted_errors()]
        d["severity_total"] = self.severity_total
        d["reward"] = round(self.reward, 6)
        d["reward_formula"] = self.reward_formula
        if self.pair_weight:
            d["pair_weight"] = round(float(self.pair_weight), 6)
        d["rl_reward"] = round(self.rl_reward, 6)
        d["render_ok"] = self.render_ok
        d["parsed"] = self.parsed
        if self.score is not None:
            d["score"] = round(float(self.score), 6)
        d["judge"] = dict(self.judge)
        d["timings"] = {k: round(float(v), 4) for k, v in self.timings.items()}
        if self.info:
            d["info"] = self.info
        d["schema_version"] = SCHEMA_VERSION
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], task: str | None = None) -> "Verdict":
        """Read a verdict written by erm or a Visual-ERM-style JSON answer (``errors`` with ``type``/``category``)."""
        if not isinstance(d, dict):
            raise ValueError("a verdict must be a JSON object")
        t = str(d.get("task") or task or "chart")
        raw = d.get("errors") or []
        if not isinstance(raw, list):
            raise ValueError("'errors' must be a list")
        errors = [ErrorItem.from_dict(e, t) for e in raw if isinstance(e, dict)]
        judge = d.get("judge") if isinstance(d.get("judge"), dict) else {"name": "unknown", "version": "0"}
        formula = d.get("reward_formula")
        return cls(task=t, errors=errors, render_ok=bool(d.get("render_ok", True)), judge=judge,
                   timings=dict(d.get("timings") or {}), parsed=bool(d.get("parsed", True)),
                   score=d.get("score"), info=dict(d.get("info") or {}),
                   reward_formula=formula if formula in REWARD_FORMULAS else DEFAULT_REWARD_FORMULA,
                   pair_weight=float(d.get("pair_weight") or 0.0))

    @classmethod
    def render_failure(cls, task: str, reason: str, judge: dict[str, str] | None = None) -> "Verdict":
        return cls(task=task, errors=[], render_ok=False, judge=judge or {"name": "none", "version": "0"},
                   info={"render_error": reason})
