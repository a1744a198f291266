"""What every perturbation returns: an :class:`Edit` carrying its gold error label.

A perturbation is a function ``(document, rng) -> Edit | None`` that changes a ground-truth
document in place (a chart spec, a table grid, an SVG tree, or Python source) and returns the
exact error it introduced, or ``None`` when it does not apply to that document. Each edit names
the element it touched (``target``) so that several edits on one candidate never overlap, and,
where the layout is known, the region of the image it may change (``region``, fractions of the
image, top-left origin) so that tests can check the change stays where the label says.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..judges.verdict import ErrorItem

Region = tuple[float, float, float, float]


@dataclass
class Edit:
    """One injected discrepancy and its gold label."""

    name: str  # perturbation name, e.g. "chart.data_values"
    category: str  # a TAXONOMY[task] key
    severity: int  # 1 minor, 2 medium, 3 severe
    location: str
    description: str
    target: str  # dotted path of the edited element; "*" = touches everything (exclusive)
    region: Region | None = None  # fractions of the reference image (x0, y0, x1, y1), top-left origin
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_error(self, size: tuple[int, int] | None = None) -> ErrorItem:
        """The VC-RewardBench / Verdict error; ``size`` (w, h) turns the region into a pixel bbox."""
        bbox = None
        if self.region is not None and size is not None:
            w, h = size
            x0, y0, x1, y1 = clip_region(self.region)
            bbox = [x0 * w, y0 * h, x1 * w, y1 * h]
        return ErrorItem(
            category=self.category,
            severity=int(self.severity),
            location=self.location,
            description=self.description,
            bbox=bbox,
            evidence={"perturbation": self.name, **self.evidence},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "category": self.category,
            "severity": self.severity,
            "location": self.location,
            "description": self.description,
            "target": self.target,
            "region": list(self.region) if self.region else None,
            "evidence": self.evidence,
        }


Perturbation = Callable[[Any, random.Random], "Edit | None"]


@dataclass(frozen=True)
class PerturbationInfo:
    """A registered perturbation: its function, the category it produces and its sampling weight."""

    name: str
    category: str
    fn: Perturbation
    weight: float = 1.0
    exclusive: bool = False  # changes the whole layout: never combined with another edit


def registry(entries: Iterable[PerturbationInfo]) -> dict[str, PerturbationInfo]:
    return {e.name: e for e in entries}


def _keys_conflict(a: str, b: str) -> bool:
    if a == "*" or b == "*" or a == b:
        return True
    return a.startswith(b + ".") or b.startswith(a + ".")


def conflicts(target: str, taken: Iterable[str]) -> bool:
    """Two targets conflict when they share a key or one key is a dotted prefix of another.

    A target is one key or several joined by ``|`` ("p0.s[Cloud].values|p0.c[Q3].value");
    ``"p0"`` conflicts with ``"p0.s[Cloud].color"``, ``"*"`` with everything.
    """
    mine = target.split("|")
    for t in taken:
        for a in mine:
            for b in t.split("|"):
                if _keys_conflict(a, b):
                    return True
    return False


def clip_region(region: Region) -> Region:
    x0, y0, x1, y1 = region
    return (max(0.0, min(x0, x1)), max(0.0, min(y0, y1)), min(1.0, max(x0, x1)), min(1.0, max(y0, y1)))


def union_region(a: Region | None, b: Region | None) -> Region | None:
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def pad_region(region: Region | None, dx: float, dy: float | None = None) -> Region | None:
    if region is None:
        return None
    dy = dx if dy is None else dy
    return clip_region((region[0] - dx, region[1] - dy, region[2] + dx, region[3] + dy))


def overlap_share(a: Region | None, b: Region | None) -> float:
    """Intersection area over the smaller region's area (0 when either is unknown)."""
    if a is None or b is None:
        return 0.0
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return (w * h) / smaller if smaller > 0 else 0.0


def severity_from_ratio(ratio: float, minor: float, medium: float) -> int:
    """Map a relative size of change onto 1/2/3: below ``minor`` -> 1, below ``medium`` -> 2, else 3."""
    r = abs(ratio)
    if r < minor:
        return 1
    if r < medium:
        return 2
    return 3


def bump(severity: int, by: int = 1) -> int:
    return int(max(1, min(3, severity + by)))


# ---------------------------------------------------------------- text helpers shared by all tasks

_KEYBOARD_NEIGHBOURS = {
    "a": "qsz",
    "b": "vgn",
    "c": "xdv",
    "d": "sfe",
    "e": "wrd",
    "f": "dgr",
    "g": "fht",
    "h": "gjy",
    "i": "uok",
    "j": "hku",
    "k": "jli",
    "l": "kop",
    "m": "nj",
    "n": "bmh",
    "o": "ipl",
    "p": "ol",
    "q": "wa",
    "r": "etf",
    "s": "adw",
    "t": "ryg",
    "u": "yij",
    "v": "cbf",
    "w": "qes",
    "x": "zsc",
    "y": "tuh",
    "z": "xa",
}


def make_typo(text: str, rng: random.Random) -> str | None:
    """A one-character typo (swap, drop, double or neighbour-key replace) inside a word of ``text``.

    Returns ``None`` when the text has no letters to mistype. The result always differs from the input.
    """
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    if len(letters) < 2:
        return None
    for _ in range(12):
        i = rng.choice(letters)
        op = rng.choice(("swap", "drop", "double", "replace"))
        if op == "swap" and i + 1 < len(text) and text[i + 1].isalpha() and text[i + 1] != text[i]:
            out = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        elif op == "drop" and len(letters) > 3:
            out = text[:i] + text[i + 1 :]
        elif op == "double":
            out = text[:i] + text[i] + text[i:]
        elif op == "replace":
            low = text[i].lower()
            choices = _KEYBOARD_NEIGHBOURS.get(low, "eaoin")
            repl = rng.choice(choices)
            repl = repl.upper() if text[i].isupper() else repl
            out = text[:i] + repl + text[i + 1 :]
        else:
            continue
        if out != text:
            return out
    return None


def quote(text: str, limit: int = 40) -> str:
    """Short quoted text for descriptions."""
    t = " ".join(str(text).split())
    if len(t) > limit:
        t = t[: limit - 1] + "…"
    return f"'{t}'"


def fmt_number(value: float, decimals: int) -> str:
    if decimals <= 0:
        return str(int(round(value)))
    return f"{value:.{decimals}f}"


def decimals_of(text: str) -> int:
    """Number of decimals written in a numeric literal ("12.50" -> 2)."""
    t = text.strip()
    if "." in t:
        frac = t.split(".", 1)[1]
        return len([c for c in frac if c.isdigit()])
    return 0
