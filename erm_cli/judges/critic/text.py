"""Compare the text of two aligned images: words and lines matched by position and content.

Words are paired by an optimal assignment (Hungarian) whose cost mixes content dissimilarity and distance;
unpaired words are missing or extra, paired words with different text are changed, paired words with the
same text far apart are moved. Word differences are then gathered per reference line so that one wrong
title is one error ("text 'Revenue 2023' expected, 'Revenue 2024' found"), and numbers are compared as
numbers.

OCR is noisy, so a textual difference is only reported when the pixels agree that something changed
there (``pixel_evidence``) or when both readings are confident.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .ocr import Line, Word, group_lines, parse_number

BBox = tuple[float, float, float, float]


def normalise_text(text: str) -> str:
    t = text.strip().replace("−", "-").replace("–", "-").replace("—", "-")
    t = t.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    return re.sub(r"\s+", " ", t)


_CONFUSABLE = str.maketrans({"$": "s", "5": "s", "0": "o", "1": "l", "i": "l", "|": "l", "!": "l", "8": "b",
                             "6": "b", "2": "z", "9": "g", "q": "g", "7": "t", "4": "a", "u": "v", "n": "h"})


def ocr_fold(text: str) -> str:
    """Text with characters OCR commonly confuses mapped together ("15" and "1s", "M$" and "Ms")."""
    return "".join(c for c in normalise_text(text).lower().translate(_CONFUSABLE) if c.isalnum())


def similarity(a: str, b: str) -> float:
    """Character similarity 0-1 (SequenceMatcher ratio, case-insensitive)."""
    a, b = normalise_text(a).lower(), normalise_text(b).lower()
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _far_similarity(a: str, b: str) -> float:
    """:func:`similarity` where only ``>= 0.999`` or not matters: 1.0 for equal text, 0.0 otherwise (a ratio
    2M / (len(a) + len(b)) of unequal strings reaches 0.999 only past 2000 characters)."""
    a, b = normalise_text(a).lower(), normalise_text(b).lower()
    if a == b:
        return 1.0
    return similarity(a, b) if len(a) + len(b) >= 2000 else 0.0


@dataclass
class WordPair:
    ref: Word | None
    cand: Word | None

    @property
    def status(self) -> str:
        if self.ref is None:
            return "extra"
        if self.cand is None:
            return "missing"
        if normalise_text(self.ref.text) != normalise_text(self.cand.text):
            return "changed"
        return "same"


def match_words(ref: Sequence[Word], cand: Sequence[Word], *, unmatched_cost: float = 0.65) -> list[WordPair]:
    """Optimal pairing of two word lists by content and position."""
    from scipy.optimize import linear_sum_assignment

    if not ref or not cand:
        return [WordPair(w, None) for w in ref] + [WordPair(None, w) for w in cand]
    n, m = len(ref), len(cand)
    rc = np.array([[w.cx, w.cy] for w in ref])
    cc = np.array([[w.cx, w.cy] for w in cand])
    rh = np.array([max(6.0, w.text_size) for w in ref])
    ch = np.array([max(6.0, w.text_size) for w in cand])
    scale = np.maximum(rh[:, None], ch[None, :])
    dist = np.hypot(rc[:, None, 0] - cc[None, :, 0], rc[:, None, 1] - cc[None, :, 1]) / scale
    # far apart and different never pair (below), whatever their similarity: compare those for equality only
    far = dist > 4.0
    sim = np.array([[_far_similarity(a.text, b.text) if far[i, j] else similarity(a.text, b.text)
                     for j, b in enumerate(cand)] for i, a in enumerate(ref)])
    pos_cost = np.minimum(dist / 4.0, 1.0)
    cost = (1 - sim) + 0.5 * pos_cost
    # far apart and different: never a pair; rotated and horizontal text never pair
    cost = np.where((dist > 4.0) & (sim < 0.999), 10.0, cost)
    orient = np.array([w.vertical for w in ref])[:, None] != np.array([w.vertical for w in cand])[None, :]
    cost = np.where(orient, 10.0, cost)
    big = np.full((n, n), 10.0)
    np.fill_diagonal(big, unmatched_cost)
    big2 = np.full((m, m), 10.0)
    np.fill_diagonal(big2, unmatched_cost)
    full = np.block([[cost, big], [big2, np.zeros((m, n))]])
    rows, cols = linear_sum_assignment(full)
    pairs: list[WordPair] = []
    for r, c in zip(rows, cols):
        if r < n and c < m:
            pairs.append(WordPair(ref[r], cand[c]))
        elif r < n:
            pairs.append(WordPair(ref[r], None))
        elif c < m:
            pairs.append(WordPair(None, cand[c]))
    return pairs


@dataclass
class TextDifference:
    """One line-level text difference (working-frame coordinates)."""

    kind: str  # changed | missing | extra | moved | resized
    ref_text: str
    cand_text: str
    bbox: BBox
    ref_bbox: BBox | None = None
    cand_bbox: BBox | None = None
    numeric: bool = False
    ref_value: float | None = None
    cand_value: float | None = None
    confidence: float = 0.0
    evidence: float = 0.0
    words: list[WordPair] = field(default_factory=list, repr=False)
    glyphs: bool = False  # OCR reads both alike, the pixels under the word differ ("Ql" drawn for "Q1")

    @property
    def relative_error(self) -> float | None:
        if self.ref_value is None or self.cand_value is None:
            return None
        denom = max(abs(self.ref_value), 1e-9)
        return abs(self.cand_value - self.ref_value) / denom

    def describe(self) -> str:
        if self.kind == "missing":
            return f"text '{self.ref_text}' is missing"
        if self.kind == "extra":
            return f"unexpected text '{self.cand_text}' found"
        if self.kind == "moved":
            return f"text '{self.ref_text}' is misplaced"
        if self.kind == "resized":
            return f"text '{self.ref_text}' is drawn at a different size"
        if self.glyphs:
            return (f"text '{self.ref_text}' is drawn with other letters (OCR reads both as '{self.cand_text}'; "
                    "the glyphs under it differ)")
        if self.numeric and self.ref_value is not None and self.cand_value is not None:
            rel = self.relative_error
            tail = f" ({rel * 100:.0f} % off)" if rel is not None and self.ref_value != 0 else ""
            return f"value {self.ref_text} expected, {self.cand_text} found{tail}"
        return f"text '{self.ref_text}' expected, '{self.cand_text}' found"


def _union(boxes: Sequence[BBox]) -> BBox:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _line_of(word: Word, lines: Sequence[Line]) -> int:
    for i, line in enumerate(lines):
        if any(w is word for w in line.words):
            return i
    return -1


def plausible_words(arr: np.ndarray, background: Sequence[int], words: Sequence[Word],
                    max_fill: float = 0.6) -> list[Word]:
    """Drop OCR "words" that are really solid paint (legend patches, bars, markers read as letters)."""
    bg = np.asarray(background, np.int16)
    h, w = arr.shape[:2]
    med_h = float(np.median([wd.height for wd in words])) if len(words) >= 3 else None
    out = []
    for wd in words:
        if med_h is not None and wd.height > 3.0 * med_h:
            continue  # a "word" taller than three lines of text is a graphic
        if wd.width > (len(wd.text) + 2) * 1.6 * max(4.0, wd.height):
            continue  # far too wide for its letters
        x0, y0 = max(0, int(wd.bbox[0])), max(0, int(wd.bbox[1]))
        x1, y1 = min(w, int(np.ceil(wd.bbox[2]))), min(h, int(np.ceil(wd.bbox[3])))
        if x1 <= x0 or y1 <= y0:
            continue
        crop = arr[y0:y1, x0:x1].astype(np.int16)
        ink = np.abs(crop - bg).max(axis=2) > 60
        if ink.mean() > max_fill:
            continue
        out.append(wd)
    return out


def is_numeric_text(text: str) -> bool:
    return parse_number(text) is not None


EvidenceFn = Callable[[BBox], float]


def compare_text(ref_words: Sequence[Word], cand_words: Sequence[Word], *, evidence: EvidenceFn,
                 min_evidence: float = 0.35, confident: float | None = None, move_tolerance: float = 0.75,
                 grouping: Callable[[Sequence[Word]], list[Line]] = group_lines,
                 relative_to_noise: bool = False) -> list[TextDifference]:
    """Line-level text differences between two aligned word lists.

    ``evidence(bbox)`` measures how much the box's pixels really differ; a difference is kept
    when evidence >= ``min_evidence`` or (``confident`` not None) both OCR readings are at least ``confident``.
    ``relative_to_noise``: the evidence must also exceed twice what identically read words of the two images
    differ by (the pair's rendering noise, per letter-sized square of the box).
    """
    pairs = match_words(ref_words, cand_words)
    ref_lines = grouping(ref_words)
    cand_lines = grouping(cand_words)
    by_ref_line: dict[int, list[WordPair]] = {}
    orphans: list[WordPair] = []
    for p in pairs:
        if p.ref is not None:
            by_ref_line.setdefault(_line_of(p.ref, ref_lines), []).append(p)
        else:
            orphans.append(p)
    # extra candidate words: attach to a reference line that shares the candidate's line, else stand alone
    cand_line_to_ref: dict[int, int] = {}
    for li, ps in by_ref_line.items():
        for p in ps:
            if p.cand is not None:
                cand_line_to_ref.setdefault(_line_of(p.cand, cand_lines), li)
    standalone: dict[int, list[WordPair]] = {}
    for p in orphans:
        assert p.cand is not None
        cl = _line_of(p.cand, cand_lines)
        if cl in cand_line_to_ref:
            by_ref_line[cand_line_to_ref[cl]].append(p)
        else:
            standalone.setdefault(cl, []).append(p)

    diffs: list[TextDifference] = []
    for li, ps in by_ref_line.items():
        d = _line_difference(ps, ref_lines[li] if li >= 0 else None, move_tolerance)
        if d is not None:
            diffs.append(d)
    for cl, ps in standalone.items():
        words = sorted((p.cand for p in ps if p.cand is not None), key=reading_key)
        text = " ".join(w.text for w in words)
        box = _union([w.bbox for w in words])
        diffs.append(TextDifference("extra", "", text, box, cand_bbox=box, words=ps,
                                    confidence=float(np.mean([w.conf for w in words])),
                                    numeric=all(is_numeric_text(w.text) for w in words),
                                    cand_value=parse_number(text) if len(words) == 1 else None))
    noise = _nuisance_level(pairs, evidence) if relative_to_noise else 0.0
    if relative_to_noise:
        diffs.extend(_glyph_differences(pairs, evidence, noise, min_evidence, {id(p) for d in diffs for p in d.words}))
    kept = []
    for d in diffs:
        focus = [b for p in d.words if p.status != "same" for b in
                 ((p.ref.bbox,) if p.ref is not None else ()) + ((p.cand.bbox,) if p.cand is not None else ())]
        scored = [(evidence(b), b) for b in focus] or [(evidence(d.bbox), d.bbox)]
        d.evidence, box = max(scored, key=lambda t: t[0])
        # the same words differ this much between the two images anyway (another rasteriser, anti-aliasing,
        # JPEG): a difference must stand out from that by a clear margin
        need = max(min_evidence, 2.0 * noise * _squares(box))
        if d.kind in ("moved", "resized"):
            if d.evidence >= need:
                kept.append(d)
        elif d.glyphs:
            kept.append(d)  # measured against the pair's noise already (:func:`_glyph_differences`)
        elif d.kind == "changed" and ocr_fold(d.ref_text) == ocr_fold(d.cand_text):
            # case, punctuation or a confusable letter only: OCR often does that; ask for a letter's worth of ink
            if d.evidence >= max(3 * min_evidence, need):
                kept.append(d)
        elif d.evidence >= need or (confident is not None and d.kind == "changed" and d.confidence >= confident
                                    and ocr_fold(d.ref_text) != ocr_fold(d.cand_text)):
            kept.append(d)
    return kept


def _squares(box: BBox) -> float:
    """A box's length in letter-sized squares (its width over its height, at least 1)."""
    w, h = box[2] - box[0], box[3] - box[1]
    return max(1.0, max(w, h) / max(1.0, min(w, h)))


def _nuisance_level(pairs: Sequence[WordPair], evidence: EvidenceFn) -> float:
    """How much words that read the same in both images differ in pixels, per letter-sized square of their
    box (90th percentile over the pairs; 0 with fewer than three such words)."""
    vals = []
    for p in pairs:
        if p.status != "same" or p.ref is None or p.cand is None:
            continue
        a, b = p.ref.bbox, p.cand.bbox
        h = max(4.0, p.ref.text_size)
        if max(abs(a[k] - b[k]) for k in range(4)) > 0.3 * h:
            continue  # moved or resized words are candidates, not a measure of the rendering noise
        box = _union([a, b])
        vals.append(evidence(box) / _squares(box))
    if len(vals) < 3:
        return 0.0
    return float(np.percentile(vals, 90))


def _glyph_differences(pairs: Sequence[WordPair], evidence: EvidenceFn, noise: float, min_evidence: float,
                       explained: set[int]) -> list[TextDifference]:
    """Words OCR reads alike in both images, in place, whose pixels differ far more than the same words of
    this pair do (``noise``, per letter-sized square): a confusable letter OCR cannot tell apart ("Ql" drawn
    for "Q1", "O" for "0"). Needs at least three same-read words to know the pair's noise."""
    in_place = [p for p in pairs if p.status == "same" and p.ref is not None and p.cand is not None
                and max(abs(p.ref.bbox[k] - p.cand.bbox[k]) for k in range(4)) <= 0.3 * max(4.0, p.ref.text_size)]
    if len(in_place) < 3:
        return []
    measured = []
    for p in in_place:
        assert p.ref is not None and p.cand is not None
        box = _union([p.ref.bbox, p.cand.bbox])
        if is_numeric_text(p.ref.text):  # a sign or currency sign OCR dropped lies just left of the number
            pad = 0.6 * max(4.0, p.ref.text_size)
            box = (box[0] - pad, box[1], box[2], box[3])
        measured.append((p, box, evidence(box) / _squares(box)))
    out = []
    for k, (p, box, per_square) in enumerate(measured):
        assert p.ref is not None and p.cand is not None
        if id(p) in explained:
            continue
        a, b = p.ref.bbox, p.cand.bbox
        ev = per_square * _squares(box)
        # it must stand out from every other word read alike (re-rasterised text differs everywhere a little)
        others = max((m[2] for j, m in enumerate(measured) if j != k), default=0.0)
        if ev >= max(4 * min_evidence, 4.0 * noise, 1.5 * others) * _squares(box):
            numeric = is_numeric_text(p.ref.text)
            out.append(TextDifference("changed", p.ref.text, p.cand.text, box, a, b, numeric, None, None,
                                      float(min(p.ref.conf, p.cand.conf)), evidence=ev, words=[p], glyphs=True))
    return out


def reading_key(w: Word) -> float:
    """Left to right; rotated (bottom-to-top) text from the bottom up."""
    return -w.bbox[3] if w.vertical else w.bbox[0]


def _line_difference(ps: list[WordPair], ref_line: Line | None, move_tolerance: float) -> TextDifference | None:
    ref_ws = sorted((p.ref for p in ps if p.ref is not None), key=reading_key)
    cand_ws = sorted((p.cand for p in ps if p.cand is not None), key=reading_key)
    ref_text = " ".join(w.text for w in ref_ws)
    cand_text = " ".join(w.text for w in cand_ws)
    statuses = {p.status for p in ps}
    ref_box = _union([w.bbox for w in ref_ws]) if ref_ws else None
    cand_box = _union([w.bbox for w in cand_ws]) if cand_ws else None
    boxes = [b for b in (ref_box, cand_box) if b is not None]
    box = _union(boxes)
    confs = [w.conf for w in ref_ws + cand_ws]
    conf = float(min(confs)) if confs else 0.0
    numeric = bool(ref_ws) and all(is_numeric_text(w.text) for w in ref_ws) and \
        (not cand_ws or all(is_numeric_text(w.text) for w in cand_ws))
    rv = parse_number(ref_text.replace(" ", "")) if numeric else None
    cv = parse_number(cand_text.replace(" ", "")) if numeric and cand_ws else None
    if statuses <= {"same"}:
        # same words: moved or resized?
        if ref_box and cand_box:
            h = max(4.0, min(ref_box[3] - ref_box[1], ref_box[2] - ref_box[0]))
            dx = ((cand_box[0] + cand_box[2]) - (ref_box[0] + ref_box[2])) / 2
            dy = ((cand_box[1] + cand_box[3]) - (ref_box[1] + ref_box[3])) / 2
            hr = min(cand_box[3] - cand_box[1], cand_box[2] - cand_box[0]) / h
            if np.hypot(dx, dy) > move_tolerance * h:
                return TextDifference("moved", ref_text, cand_text, box, ref_box, cand_box, numeric, rv, cv, conf,
                                      words=ps)
            # another font size also shows in the width of the same words, which OCR measures more
            # precisely than their height (longer): both must agree when the change is moderate
            rw = max(1.0, ref_box[2] - ref_box[0] if not ref_ws[0].vertical else ref_box[3] - ref_box[1])
            cw = cand_box[2] - cand_box[0] if not cand_ws[0].vertical else cand_box[3] - cand_box[1]
            wr = cw / rw
            wider = (wr > 1.08 and hr > 1.03) or (wr < 0.926 and hr < 0.97)
            if hr > 1.3 or hr < 0.77 or (wider and abs(cw - rw) >= 4 and len(ref_text) >= 4):
                return TextDifference("resized", ref_text, cand_text, box, ref_box, cand_box, numeric, rv, cv,
                                      conf, words=ps)
        return None
    if normalise_text(ref_text) == normalise_text(cand_text):
        return None
    if not cand_ws:
        return TextDifference("missing", ref_text, "", box, ref_box, None, numeric, rv, None, conf, words=ps)
    if numeric and rv is not None and cv is not None and rv == cv:
        return None  # "1,000" vs "1000": same number
    return TextDifference("changed", ref_text, cand_text, box, ref_box, cand_box, numeric, rv, cv, conf, words=ps)
