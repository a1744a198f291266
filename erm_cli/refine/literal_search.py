"""Judge-guided edits of a candidate's literals, proposed from evidence in the two images.

Each proposer compares the reference with the candidate's render (aligned by the critic's alignment)
and names concrete literal changes:

* **text** — a string whose rendering reads differently from the reference text at the same place
  becomes the reference's text (the critic's line-level OCR comparison finds the pairs); a title or
  axis label the reference has and the code lacks is added; text drawn at the wrong size gets its
  ``fontsize`` scaled;
* **colour** — the pixels a colour literal paints are looked up in the reference at the same place;
  the literal becomes the reference's colour there (snapped to the reference palette);
* **data** — a number list whose values are proportional to the bars (or affine in a line's
  heights) of one series in the render is the data of that series: it is re-measured from the
  reference's bars or line (through the reference's tick labels when they read, else through the
  candidate's own value-to-pixel scale);
* **size** — ``figsize`` is scaled when the render's size differs from the reference's.

The edits are only proposals: the loop renders and judges them and keeps what raises the reward.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..judges.critic.colour import colour_mask, delta_e_rgb
from .analysis import FrameMap, ImageFacts
from .literals import CodeLiterals, Literal, apply_replacements

#: Which verdict categories each edit kind addresses (used to rank edits the judge asked for first).
EDIT_CATEGORIES: dict[str, set[str]] = {
    "text": {"text_error", "text_symbol_error"},
    "colour": {"style_error"},
    "data": {"data_error", "numeric_error"},
    "size": {"structure_error", "layout_error", "style_error", "text_error"},
}


@dataclass
class Edit:
    kind: str
    description: str
    score: float
    replacements: list[tuple[Literal, Any]] = field(default_factory=list)
    insert: str | None = None  # a statement to add (missing title, axis label)

    @property
    def key(self) -> str:
        reps = ";".join(f"{lit.start}:{val!r}" for lit, val in self.replacements)
        return f"{self.kind}|{reps}|{self.insert or ''}"

    def spans(self) -> set[tuple[int, int]]:
        return {(lit.start, lit.end) for lit, _ in self.replacements}


def apply_edits(code: str, edits: list[Edit], language: str) -> str:
    """Apply non-conflicting edits (the first edit touching a literal wins); inserts go before show/savefig."""
    used: set[tuple[int, int]] = set()
    reps: list[tuple[Literal, Any]] = []
    inserts: list[str] = []
    for e in edits:
        if e.spans() & used:
            continue
        used |= e.spans()
        reps.extend(e.replacements)
        if e.insert:
            inserts.append(e.insert)
    out = apply_replacements(code, reps, language) if reps else code
    if inserts:
        out = insert_statements(out, inserts)
    return out


def insert_statements(code: str, statements: list[str]) -> str:
    lines = code.rstrip("\n").split("\n")
    at = len(lines)
    for i, line in enumerate(lines):
        if re.match(r"\s*(plt|fig)\.(show|savefig)\(", line):
            at = i
            break
    return "\n".join(lines[:at] + statements + lines[at:]) + "\n"


# --------------------------------------------------------------------------------------------- text

_CONFUSABLE = str.maketrans({"l": "1", "I": "1", "|": "1", "O": "0", "o": "0", "S": "5", "B": "8", "Z": "2"})


def _ocr_norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.strip()).translate(_CONFUSABLE).lower()


def _text_sim(a: str, b: str) -> float:
    from ..judges.critic.text import similarity

    return max(similarity(a, b), similarity(_ocr_norm(a), _ocr_norm(b)))


def _best_literal(texts: list[Literal], shown: str, min_sim: float = 0.75) -> tuple[Literal, float] | None:
    """The string literal whose text is what the render shows at ``shown`` (OCR-noise tolerant)."""
    best: tuple[Literal, float] | None = None
    for lit in texts:
        v = str(lit.value)
        sim = _text_sim(v, shown)
        if len(shown) >= 4 and shown in v and v != shown:
            sim = max(sim, 0.9)
        if sim >= min_sim and (best is None or sim > best[1]):
            best = (lit, sim)
    return best


def _nth_occurrence(texts: list[Literal], lit: Literal, sim: float, shown: str, box: Any,
                    cand_words: list[Any]) -> Literal:
    """Several literals read the same (two cells '7B'): take the one whose order in the source matches
    the order of this occurrence in the render (top to bottom, left to right)."""
    tied = [x for x in texts if abs(_text_sim(str(x.value), shown) - sim) < 1e-9]
    if len(tied) < 2 or box is None:
        return lit
    from ..judges.critic.ocr import group_lines

    spots = sorted((ln.bbox for ln in group_lines(cand_words) if _text_sim(ln.text, shown) >= sim - 1e-9),
                   key=lambda b: (round(b[1] / 4), b[0]))
    cy, cx = (box[1] + box[3]) / 2, (box[0] + box[2]) / 2
    for i, b in enumerate(spots):
        if b[0] - 2 <= cx <= b[2] + 2 and b[1] - 2 <= cy <= b[3] + 2:
            return tied[i] if i < len(tied) else lit
    return lit


def _is_number(s: str) -> bool:
    from ..judges.critic.ocr import parse_number

    return all(parse_number(t) is not None for t in s.split()) and bool(s.split())


def text_edits(cl: CodeLiterals, ref: ImageFacts, cand: ImageFacts, fmap: FrameMap,
               language: str) -> list[Edit]:
    from ..judges.critic.text import compare_text

    texts = cl.of_role("text")
    cand_words = [w.scaled(fmap.sx, fmap.sy, fmap.ox, fmap.oy) for w in cand.words]
    if not ref.words and not cand_words:
        return []
    diffs = compare_text(ref.words, cand_words, evidence=lambda b: 1.0)
    edits: list[Edit] = []
    for d in diffs:
        if d.kind == "changed" and d.cand_text and d.ref_text:
            hit = _best_literal(texts, d.cand_text)
            if hit is None:
                continue
            lit, sim = hit
            lit = _nth_occurrence(texts, lit, sim, d.cand_text, d.cand_bbox, cand_words)
            old = str(lit.value)
            if _is_number(d.ref_text) != _is_number(old):
                continue  # auto-generated tick numbers against a label (or the reverse): not this literal
            new = old.replace(d.cand_text, d.ref_text) if d.cand_text in old and d.cand_text != old else d.ref_text
            if new == old:
                continue
            edits.append(Edit("text", f"text {old!r} -> {new!r}", 1.0 + (1.0 - _text_sim(old, new)),
                              [(lit, new)]))
        elif d.kind == "resized" and d.ref_bbox and d.cand_bbox and language == "python":
            hit = _best_literal(texts, d.cand_text, 0.7)
            if hit is None:
                continue
            lit = hit[0]
            ratio = (d.ref_bbox[3] - d.ref_bbox[1]) / max(1.0, d.cand_bbox[3] - d.cand_bbox[1])
            sizes = [x for x in cl.of_role("number") if x.call_pos == lit.call_pos and lit.call_pos >= 0
                     and x.key in ("fontsize", "size")]
            for s in sizes:
                new_size = max(4, int(round(float(s.value) * ratio)))
                if new_size != s.value:
                    edits.append(Edit("size", f"font size of {lit.value!r}: {s.value} -> {new_size}", 0.6,
                                      [(s, new_size)]))
    return edits


def missing_label_edits(cl: CodeLiterals, ref: ImageFacts, code: str) -> list[Edit]:
    """matplotlib: add the title / axis labels the reference shows and the code never sets."""
    chart = ref.chart
    if chart is None or cl.language != "python" or "matplotlib" not in code:
        return []
    calls = {x.call for x in cl.literals}
    has = lambda *names: any(n in calls for n in names) or any(re.search(rf"\.{n}\(", code) for n in names)
    edits = []
    if chart.title and not has("set_title", "title", "suptitle"):
        edits.append(Edit("text", f"add title {chart.title!r}", 1.5, insert=f"plt.gca().set_title({chart.title!r})"))
    if chart.xlabel and not has("set_xlabel", "xlabel"):
        edits.append(Edit("text", f"add x label {chart.xlabel!r}", 1.2,
                          insert=f"plt.gca().set_xlabel({chart.xlabel!r})"))
    if chart.ylabel and not has("set_ylabel", "ylabel"):
        edits.append(Edit("text", f"add y label {chart.ylabel!r}", 1.2,
                          insert=f"plt.gca().set_ylabel({chart.ylabel!r})"))
    return edits


# --------------------------------------------------------------------------------------------- colour

def _dominant_colour(pixels: np.ndarray) -> tuple[tuple[int, int, int], float]:
    """Most common colour of an (N, 3) pixel array (5-bit bins), and the share of pixels in its bin."""
    q = (pixels.astype(np.int32) >> 3)
    keys = (q[:, 0] << 10) | (q[:, 1] << 5) | q[:, 2]
    vals, counts = np.unique(keys, return_counts=True)
    top = vals[int(np.argmax(counts))]
    sel = pixels[keys == top]
    return tuple(int(round(v)) for v in sel.mean(axis=0)), float(counts.max()) / len(keys)  # type: ignore[return-value]


def colour_edits(cl: CodeLiterals, ref: ImageFacts, cand: ImageFacts, fmap: FrameMap,
                 language: str) -> list[Edit]:
    from ..judges.critic.colour import hex_of

    groups: dict[tuple[int, int, int], list[Literal]] = {}
    for lit in cl.of_role("colour"):
        rgb = lit.rgb
        if rgb is not None:
            groups.setdefault(rgb, []).append(lit)
    if not groups:
        return []
    h, w = ref.arr.shape[:2]
    ref_bg = np.asarray(ref.background, np.int16)
    ref_pal = [p.rgb for p in ref.palette]
    edits: list[Edit] = []
    rng = np.random.default_rng(0)
    for rgb, lits in groups.items():
        mask = colour_mask(cand.arr, rgb, tolerance=14.0)
        n = int(mask.sum())
        if n < 12:
            continue
        ys, xs = np.nonzero(mask)
        if n > 6000:
            pick = rng.choice(n, 6000, replace=False)
            ys, xs = ys[pick], xs[pick]
        rx = np.clip(np.round(xs * fmap.sx + fmap.ox).astype(int), 0, w - 1)
        ry = np.clip(np.round(ys * fmap.sy + fmap.oy).astype(int), 0, h - 1)
        px = ref.arr[ry, rx]
        ink = np.abs(px.astype(np.int16) - ref_bg).max(axis=1) > 30
        if ink.mean() < 0.3:
            continue
        target, share = _dominant_colour(px[ink])
        if ref_pal:
            near = min(ref_pal, key=lambda p: delta_e_rgb(p, target))
            if delta_e_rgb(near, target) < 10:
                target = near
        de = delta_e_rgb(rgb, target)
        if de < 4.0:
            continue
        new = hex_of(target)
        reps = []
        for lit in lits:
            reps.append((lit, new))
        edits.append(Edit("colour", f"colour {lits[0].value} -> {new} (ΔE {de:.0f})",
                          0.5 + min(1.0, de / 50) * float(ink.mean()) * max(0.3, share), reps))
    return edits


# --------------------------------------------------------------------------------------------- data

def _fit_through_origin(vals: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    denom = float((x * x).sum())
    if denom == 0:
        return 0.0, 0.0
    k = float((vals * x).sum()) / denom
    ss = float(((vals - k * x) ** 2).sum())
    tot = float(((vals - vals.mean()) ** 2).sum())
    if tot == 0:
        return k, 1.0 if ss <= 1e-9 * max(1.0, float((vals ** 2).sum())) else 0.0
    return k, 1.0 - ss / tot


def _fit_affine(vals: np.ndarray, x: np.ndarray) -> tuple[float, float, float]:
    if np.ptp(x) == 0 or np.ptp(vals) == 0:
        return 0.0, 0.0, 0.0
    b, a = np.polyfit(x, vals, 1)
    ss = float(((vals - (a + b * x)) ** 2).sum())
    tot = float(((vals - vals.mean()) ** 2).sum()) or 1e-12
    return float(a), float(b), 1.0 - ss / tot


def _round_like(values: list[float], old: list[float]) -> list[float]:
    span = max((abs(v) for v in values + old), default=1.0) or 1.0
    decimals = max(0, 3 - int(np.floor(np.log10(span))) - 1)
    if all(float(v).is_integer() for v in old) and span >= 20:
        decimals = 0
    return [float(round(v, decimals)) for v in values]


def _signed_lengths(bars: list[Any], horizontal: bool) -> np.ndarray:
    edges = [b.box[0] if horizontal else b.box[3] for b in bars] + [b.box[2] if horizontal else b.box[1] for b in bars]
    vals, counts = np.unique(np.round(edges).astype(int), return_counts=True)
    base = float(vals[int(np.argmax(counts))])
    out = []
    for b in bars:
        lo, hi = (b.box[0], b.box[2]) if horizontal else (b.box[1], b.box[3])
        far = lo if abs(lo - base) > abs(hi - base) else hi
        out.append((far - base) if horizontal else (base - far))
    return np.asarray(out, float)


def _group_by_colour(bars: list[Any]) -> dict[tuple[int, int, int], list[Any]]:
    out: dict[tuple[int, int, int], list[Any]] = {}
    for b in bars:
        out.setdefault(b.colour, []).append(b)
    return out


def _match_series(colour: tuple[int, int, int], bars: list[Any], pool: dict[tuple[int, int, int], list[Any]],
                  fmap: FrameMap, horizontal: bool) -> list[Any] | None:
    """The reference series of a candidate series: same bar count, and the same colour when one matches,
    else the bars at the same places (a series drawn in the wrong colour is still the same data)."""
    same = [(delta_e_rgb(colour, c), c) for c, rb in pool.items() if len(rb) == len(bars)]
    if not same:
        return None
    same.sort()
    if same[0][0] < 15:
        return pool[same[0][1]]

    def centre(b: Any) -> float:
        return b.cy if horizontal else b.cx

    mapped = sorted((fmap.to_ref(b.cx, b.cy)[1 if horizontal else 0]) for b in bars)
    best = None
    for _, c in same:
        ref_pos = sorted(centre(b) for b in pool[c])
        d = float(np.mean(np.abs(np.asarray(ref_pos) - np.asarray(mapped))))
        if best is None or d < best[0]:
            best = (d, c)
    width = float(np.median([b.height if horizontal else b.width for b in bars])) * max(fmap.sx, fmap.sy)
    if best is not None and best[0] <= 0.5 * max(1.0, width):
        return pool[best[1]]
    return None


#: Number lists that place or size the figure, never data (``figsize=(8, 6)`` is not a two-point series).
LAYOUT_KEYS = frozenset({"figsize", "bbox_to_anchor", "rect", "loc", "xy", "xytext"})


def data_edits(cl: CodeLiterals, ref: ImageFacts, cand: ImageFacts, fmap: FrameMap) -> list[Edit]:
    rc, cc = ref.chart, cand.chart
    if rc is None or cc is None or not cl.number_lists:
        return []
    from .chart_extract import bar_values

    edits: list[Edit] = []
    used_lists: set[int] = set()
    if cc.bars and rc.bars:
        horizontal = cc.horizontal_bars
        pos = (lambda b: b.cy) if horizontal else (lambda b: b.cx)
        ref_groups = _group_by_colour(rc.bars)
        scale = fmap.sx if horizontal else fmap.sy
        for colour, bars in sorted(_group_by_colour(cc.bars).items(), key=lambda kv: -len(kv[1])):
            m = len(bars)
            ref_bars = _match_series(colour, bars, ref_groups, fmap, horizontal)
            if ref_bars is None or m < 2:
                continue
            cand_sorted = sorted(bars, key=pos)
            ref_sorted = sorted(ref_bars, key=pos)
            cand_len = _signed_lengths(cand_sorted, horizontal)
            ref_len = _signed_lengths(ref_sorted, horizontal) / (scale or 1.0)
            calibrated = bar_values(rc, ref_sorted) if (rc.xaxis if horizontal else rc.yaxis) else None
            # the number list that *is* this series: the best proportional fit (each list used once)
            best_fit: tuple[float, Any, int, float] | None = None
            for nl in cl.number_lists:
                if len(nl.items) != m or nl.group in used_lists or nl.key in LAYOUT_KEYS:
                    continue
                vals = np.asarray(nl.values, float)
                for order in (1, -1):
                    k, r2 = _fit_through_origin(vals, cand_len[::order])
                    if r2 >= 0.97 and k != 0 and (best_fit is None or r2 > best_fit[0]):
                        best_fit = (r2, nl, order, k)
            if best_fit is None:
                continue
            _, nl, order, k = best_fit
            used_lists.add(nl.group)
            vals = np.asarray(nl.values, float)
            proposals = [("proportional", list(k * ref_len[::order]), 0.0)]
            if calibrated is not None:
                proposals.insert(0, ("calibrated", list(np.asarray(calibrated)[::order]), 0.3))
            for how, new, bonus in proposals:
                new = _round_like(new, list(vals))
                change = float(np.abs(np.asarray(new) - vals).max()) / (float(np.abs(vals).max()) or 1.0)
                if change < 0.01:
                    break  # the best reading says the data is right: do not try the rougher one
                edits.append(Edit("data", f"bar values {[float(v) for v in vals]} -> {new} ({how})",
                                  1.0 + min(1.0, change) + bonus, [(lit, v) for lit, v in zip(nl.items, new)]))
    if cc.series and rc.series:
        from .draft_chart import _vertices, regular_grid

        lines = [s for s in cc.series if s.style == "line"]
        grid = regular_grid([_vertices(s) for s in lines])
        for s in lines:
            xs = np.array([x for x in grid if s.xs.min() - 3 <= x <= s.xs.max() + 3]) if grid else _vertices(s)
            m = len(xs)
            ref_s = min(rc.series, key=lambda r: delta_e_rgb(r.colour, s.colour))
            if delta_e_rgb(ref_s.colour, s.colour) > 15 and len(rc.series) > 1:
                continue
            cys = np.array([s.y_at(x) if s.y_at(x) is not None else np.nan for x in xs])
            rys = []
            for x, y in zip(xs, cys):
                rx, _ = fmap.to_ref(x, 0.0 if np.isnan(y) else y)
                ry = ref_s.y_at(rx)
                rys.append(np.nan if ry is None else ry)
            rys_a = np.asarray(rys, float)
            if np.isnan(cys).any() or np.isnan(rys_a).any():
                continue
            rys_c = (rys_a - fmap.oy) / (fmap.sy or 1.0)
            best_line: tuple[float, Any, float, float] | None = None
            for nl in cl.number_lists:
                if len(nl.items) != m or nl.group in used_lists or nl.key in LAYOUT_KEYS:
                    continue
                vals = np.asarray(nl.values, float)
                a, b, r2 = _fit_affine(vals, cys)
                if r2 >= 0.97 and (best_line is None or r2 > best_line[0]):
                    best_line = (r2, nl, a, b)
            if best_line is None:
                continue
            _, nl, a, b = best_line
            used_lists.add(nl.group)
            vals = np.asarray(nl.values, float)
            proposals = [("proportional", list(a + b * rys_c), 0.0)]
            if rc.yaxis is not None:
                proposals.insert(0, ("calibrated", [rc.yaxis.value(y) for y in rys_a], 0.3))
            for how, new, bonus in proposals:
                new = _round_like(new, list(vals))
                change = float(np.abs(np.asarray(new) - vals).max()) / (float(np.ptp(vals)) or 1.0)
                if change < 0.02:
                    break  # the best reading says the data is right: do not try the rougher one
                edits.append(Edit("data", f"line values {[float(v) for v in vals]} -> {new} ({how})",
                                  1.0 + min(1.0, change) + bonus, [(lit, v) for lit, v in zip(nl.items, new)]))
    return edits


# --------------------------------------------------------------------------------------------- size

def size_edits(cl: CodeLiterals, ref: ImageFacts, cand: ImageFacts) -> list[Edit]:
    rw, rh = ref.image.size
    cw, ch = cand.image.size
    if abs(rw / cw - 1) < 0.02 and abs(rh / ch - 1) < 0.02:
        return []
    for nl in cl.number_lists:
        if nl.key == "figsize" and len(nl.items) == 2:
            w, h = nl.values
            new = [round(w * rw / cw, 2), round(h * rh / ch, 2)]
            return [Edit("size", f"figsize {nl.values} -> {new}", 1.2, [(nl.items[0], new[0]), (nl.items[1], new[1])])]
    return []


def layout_edits(cl: CodeLiterals, ref: ImageFacts, cand: ImageFacts, fmap: FrameMap, code: str) -> list[Edit]:
    """matplotlib: put the plot area where the reference has it (``subplots_adjust`` margins), and give
    bars the reference's width."""
    rc, cc = ref.chart, cand.chart
    if rc is None or cc is None or cl.language != "python" or "matplotlib" not in code:
        return []
    W, H = ref.image.size
    edits: list[Edit] = []
    cx0, cy0 = fmap.to_ref(cc.plot[0], cc.plot[1])
    cx1, cy1 = fmap.to_ref(cc.plot[2], cc.plot[3])
    rx0, ry0, rx1, ry1 = rc.plot
    off = max(abs(cx0 - rx0) / W, abs(cx1 - rx1) / W, abs(cy0 - ry0) / H, abs(cy1 - ry1) / H)
    full = (rx1 - rx0) > 0.97 * W or (ry1 - ry0) > 0.97 * H  # no axes found: nothing to place
    if off > 0.008 and not full:
        target = {"left": round(rx0 / W, 3), "right": round(rx1 / W, 3), "bottom": round(1 - ry1 / H, 3),
                  "top": round(1 - ry0 / H, 3)}
        existing = [x for x in cl.of_role("number") if x.call == "subplots_adjust" and x.key in target]
        if existing:
            reps = [(x, target[x.key]) for x in existing if abs(float(x.value) - target[x.key]) > 0.002]
            if reps:
                edits.append(Edit("size", f"plot area -> {target}", 1.0 + min(1.0, 10 * off), reps))
        else:
            args = ", ".join(f"{k}={v}" for k, v in target.items())
            edits.append(Edit("size", f"plot area -> {target}", 1.0 + min(1.0, 10 * off),
                              insert=f"plt.gcf().subplots_adjust({args})"))
    if rc.bars and cc.bars and not cc.horizontal_bars:
        ref_w = float(np.median([b.width for b in rc.bars]))
        cand_w = float(np.median([b.width for b in cc.bars])) * fmap.sx
        ratio = ref_w / max(1.0, cand_w)
        if abs(ratio - 1) > 0.06:
            widths = [x for x in cl.of_role("number") if x.call == "bar" and (x.key == "width" or x.key == "#2")
                      and x.group is None and 0 < float(x.value) <= 1.5]
            if widths:
                edits.append(Edit("size", f"bar width x{ratio:.2f}", 0.8,
                                  [(x, round(float(x.value) * ratio, 3)) for x in widths]))
    return edits


# --------------------------------------------------------------------------------------------- all

def propose_edits(code: str, kind: str, task: str, ref: ImageFacts, cand: ImageFacts, fmap: FrameMap,
                  verdict: Any = None) -> list[Edit]:
    """All edits for ``code`` (rendered as ``cand``), best first; boosted where the verdict has errors."""
    from .literals import code_literals

    cl = code_literals(code, kind)
    if cl is None:
        return []
    language = "python" if cl.language == "python" else "markup"
    edits: list[Edit] = []
    edits += text_edits(cl, ref, cand, fmap, language)
    edits += missing_label_edits(cl, ref, code)
    edits += colour_edits(cl, ref, cand, fmap, language)
    if task == "chart":
        edits += data_edits(cl, ref, cand, fmap)
        edits += layout_edits(cl, ref, cand, fmap, code)
    edits += size_edits(cl, ref, cand)
    if verdict is not None and getattr(verdict, "errors", None):
        cats = {e.category for e in verdict.errors}
        for e in edits:
            if EDIT_CATEGORIES.get(e.kind, set()) & cats:
                e.score += 1.0
    edits.sort(key=lambda e: -e.score)
    # one edit per literal set: drop later duplicates
    seen: set[str] = set()
    out = []
    for e in edits:
        if e.key in seen:
            continue
        seen.add(e.key)
        out.append(e)
    return out
