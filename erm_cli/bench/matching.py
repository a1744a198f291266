"""Matching predicted errors to gold errors, one-to-one, with levels ``yes`` / ``partial``.

Two matchers, each labelled in every result:

* :class:`OfflineMatcher` (label ``offline-v1``): deterministic and free. Only errors of the same
  category can match; a pair's similarity is the token Dice overlap of their locations and
  descriptions (lower-cased, light stemming, stop words, hex codes and ΔE figures removed,
  colour/color unified; see :func:`error_similarity`); a
  Hungarian assignment maximises total similarity; a pair is ``yes`` at >= 0.5, ``partial`` at
  >= 0.2, unmatched below.
* :class:`LLMMatcher` (label ``llm:<spec>``): asks any model reachable through the shared loader
  (``openai:URL#MODEL`` for an OpenAI-compatible server, as the benchmark's GPT-5-mini matcher; or
  ``hf:``/``tiny:``) to align the two lists with our own prompt. Its answer is cleaned the way the
  released ``evaluation.py`` does (indices in range, levels yes/partial, first pair wins on a
  conflict). An item whose answer cannot be parsed is reported as failed and left out of the
  metrics, with the count recorded.

An item with no gold or no predicted error has nothing to match and never calls a model, except under
``--protocol visual-erm`` (the released ``evaluation.py`` asks for every item; see :class:`LLMMatcher`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import InputError
from ..judges.prompts import PromptTemplate, extract_visual_erm_matcher
from ..judges.verdict import TAXONOMY, ErrorItem
from .judge_metrics import ItemMatch, Pair, release_severity


@dataclass
class MatchRequest:
    """One item to match: errors already filtered to the task's allowed types.

    Under ``--protocol visual-erm`` ``pred_rows`` / ``gold_rows`` hold the same errors as written (the judge's
    answer, the annotator's line; aligned with ``pred`` / ``gold``): the released matcher prompt lists them as
    they are and their severities are summed as the release sums them. ``error``: the released evaluation.py
    cannot evaluate this item (e.g. an entry of the answer's error list is not an object); it fails alone."""

    id: str
    task: str
    gold: list[ErrorItem]
    pred: list[ErrorItem]
    pred_rows: list[dict[str, Any]] | None = None
    gold_rows: list[dict[str, Any]] | None = None
    error: str | None = None

    def item_match(self, pairs: Sequence[Pair] = (), unmatched_pred: frozenset[int] | None = None,
                   unmatched_gold: frozenset[int] | None = None) -> ItemMatch:
        def sevs(rows: list[dict[str, Any]] | None) -> list[float] | None:
            return None if rows is None else [release_severity(r.get("severity", 0)) for r in rows]

        return ItemMatch(id=self.id, task=self.task, gold=self.gold, pred=self.pred, pairs=list(pairs),
                         unmatched_pred=unmatched_pred, unmatched_gold=unmatched_gold,
                         pred_severity=sevs(self.pred_rows), gold_severity=sevs(self.gold_rows))


@dataclass
class MatchOutcome:
    """The matching of one item, or why it failed."""

    match: ItemMatch | None
    error: str | None = None
    raw: str | None = None


class Matcher(Protocol):
    label: str

    def match(
        self, requests: Sequence[MatchRequest], on_done: Callable[[int], None] | None = None
    ) -> list[MatchOutcome]: ...


# ----------------------------------------------------------------------------------------------
# offline matcher
# ----------------------------------------------------------------------------------------------

_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "with",
        "and",
        "or",
        "but",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "as",
        "than",
        "then",
        "there",
        "their",
        "which",
        "who",
        "whom",
        "what",
        "when",
        "where",
        "while",
        "should",
        "would",
        "could",
        "can",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "not",
        "no",
        "do",
        "does",
        "did",
        "has",
        "have",
        "had",
        "instead",
        "vs",
        "versus",
        "into",
        "onto",
        "over",
        "under",
        "between",
        "within",
        "without",
        "also",
        "only",
        "just",
        "very",
        "more",
        "less",
        "most",
        "least",
        "some",
        "any",
        "each",
        "every",
        "all",
        "both",
        "one",
        "two",
        "image",
        "images",
        "reference",
        "candidate",
        "generated",
        "ground",
        "truth",
        "gt",
        "pred",
        "prediction",
        "predicted",
        "original",
        "expected",
        "found",
        "place",
        "places",
        "series",
    ]
)

_SPELLING = {
    "colour": "color",
    "colours": "colors",
    "grey": "gray",
    "centre": "center",
    "labelled": "labeled",
    "colored": "color",
    "coloured": "color",
}


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def tokens(text: str) -> set[str]:
    """Content tokens of a location or description: numbers kept whole, words stemmed lightly."""
    text = re.sub(r"#[0-9a-fA-F]{3,8}\b|δe(?:2000|76)?\s*=?\s*[\d.]+", " ", (text or "").lower())
    words = re.findall(r"\d+(?:\.\d+)?%?|[a-z]+", text)
    out = set()
    for w in words:
        w = _SPELLING.get(w, w)
        if w in _STOP or (len(w) == 1 and not w.isdigit()):
            continue
        out.add(w if w[0].isdigit() else _stem(w))
    return out


def dice(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return 2.0 * len(a & b) / (len(a) + len(b))


def error_similarity(gold: ErrorItem, pred: ErrorItem) -> float:
    """Similarity in [0, 1] of two errors of the same category (0 across categories).

    ``all`` = Dice of all tokens (location and description together: a description often names the
    place itself, and judges name places differently - "Title" vs "upper centre of the figure").
    With a location on both sides, agreeing locations can lift it:
    ``max(all, 0.3 x Dice(locations) + 0.7 x all)``; otherwise (table errors have no location) ``all``.
    """
    if gold.category != pred.category:
        return 0.0
    g_loc, p_loc = tokens(gold.location), tokens(pred.location)
    both = dice(g_loc | tokens(gold.description), p_loc | tokens(pred.description))
    if g_loc and p_loc:
        return max(both, 0.3 * dice(g_loc, p_loc) + 0.7 * both)
    return both


class OfflineMatcher:
    """Deterministic matcher: same category, text similarity, optimal 1-to-1 assignment."""

    def __init__(self, yes_threshold: float = 0.5, partial_threshold: float = 0.2) -> None:
        if not 0.0 < partial_threshold <= yes_threshold <= 1.0:
            raise ValueError("need 0 < partial_threshold <= yes_threshold <= 1")
        self.yes_threshold = yes_threshold
        self.partial_threshold = partial_threshold
        self.label = "offline-v1"

    def match_one(self, req: MatchRequest) -> ItemMatch:
        pairs: list[Pair] = []
        if req.gold and req.pred:
            import numpy as np
            from scipy.optimize import linear_sum_assignment

            sim = np.array([[error_similarity(g, p) for g in req.gold] for p in req.pred], dtype=float)
            rows, cols = linear_sum_assignment(sim, maximize=True)
            for r, c in zip(rows, cols):
                s = float(sim[r, c])
                if s >= self.yes_threshold:
                    pairs.append(Pair(pred=int(r), gold=int(c), level="yes"))
                elif s >= self.partial_threshold:
                    pairs.append(Pair(pred=int(r), gold=int(c), level="partial"))
        return req.item_match(pairs)

    def match(
        self, requests: Sequence[MatchRequest], on_done: Callable[[int], None] | None = None
    ) -> list[MatchOutcome]:
        out = []
        for r in requests:
            out.append(MatchOutcome(None, error=r.error) if r.error else MatchOutcome(self.match_one(r)))
            if on_done:
                on_done(1)
        return out


# ----------------------------------------------------------------------------------------------
# LLM matcher
# ----------------------------------------------------------------------------------------------

MATCH_PROMPT = """You compare two lists of discrepancies found between a reference {task} image and a \
re-created one. GOLD lists the discrepancies a human annotator confirmed; PRED lists what a judge reported.
Decide which PRED entries describe the same concrete discrepancy as a GOLD entry.

Rules:
- Only entries of the same type may be paired. Allowed types: {types}.
- Two entries match when they point at the same element (same place, object, cell, series or label) and \
describe the same problem. Use "yes" for a clear match, "partial" when PRED names the right element or \
problem but is vaguer or only half right.
- Each PRED entry pairs with at most one GOLD entry and each GOLD entry with at most one PRED entry.
- When unsure, leave entries unpaired: a wrong pair is worse than a missing one.

Answer with one JSON object and nothing else:
{{"matches": [{{"pred_id": 0, "gt_id": 0, "match_level": "yes"}}], "unmatched_pred": [], "unmatched_gt": []}}

PRED:
{pred}

GOLD:
{gold}"""


def _listing(errors: Sequence[ErrorItem], key: str) -> str:
    rows = []
    for i, e in enumerate(errors):
        row: dict[str, Any] = {key: i, "type": e.category, "severity": e.severity}
        if e.location:
            row["location"] = e.location
        row["description"] = e.description
        rows.append(row)
    return json.dumps(rows, ensure_ascii=False, indent=1)


def build_match_prompt(req: MatchRequest) -> str:
    return MATCH_PROMPT.format(
        task=req.task,
        types=", ".join(TAXONOMY.get(req.task, ())),
        pred=_listing(req.pred, "pred_id"),
        gold=_listing(req.gold, "gt_id"),
    )


def parse_match_answer(text: str) -> dict[str, Any]:
    """The matching object in a model's answer, read with the judges' lenient JSON reader
    (``<think>`` blocks, fences, chatter and the usual JSON slips are handled)."""
    from ..judges.vlm_output import candidate_texts, loads_lenient

    for cand in candidate_texts(text or ""):
        try:
            obj, _ = loads_lenient(cand)
        except ValueError:
            continue
        if isinstance(obj, dict) and ("matches" in obj or "unmatched_pred" in obj or "unmatched_gt" in obj):
            return obj
    raise ValueError("no matching object (with 'matches') in the answer")


def clean_pairs(obj: dict[str, Any], n_pred: int, n_gold: int, released: bool = False) -> list[Pair]:
    """Keep valid pairs only: integer ids in range, level yes/partial, first pair wins (1-to-1).

    ``released``: exactly as evaluation.py:248-281 (c3855aa): a ``matches`` value or entry it cannot walk
    (not a list; an entry that is not an object) fails the item (ValueError), and a JSON ``true``/``false`` id
    passes its ``isinstance(pid, int)`` check as 1 / 0."""
    pairs: list[Pair] = []
    used_p: set[int] = set()
    used_g: set[int] = set()
    listed = obj.get("matches") or []
    if released and (not isinstance(listed, list) or any(not isinstance(m, dict) for m in listed)):
        raise ValueError(f"{_RELEASE_FAILS}: 'matches' is not a list of objects")
    for m in listed:
        if not isinstance(m, dict):
            continue
        pid, gid, level = m.get("pred_id"), m.get("gt_id"), m.get("match_level", "no")
        if level not in ("yes", "partial") or not isinstance(pid, int) or not isinstance(gid, int):
            continue
        if released:
            pid, gid = int(pid), int(gid)
        elif isinstance(pid, bool) or isinstance(gid, bool):
            continue
        if not (0 <= pid < n_pred and 0 <= gid < n_gold) or pid in used_p or gid in used_g:
            continue
        used_p.add(pid)
        used_g.add(gid)
        pairs.append(Pair(pred=pid, gold=gid, level=level))
    return pairs


_RELEASE_FAILS = "the released evaluation.py fails on this item"


def release_unmatched(obj: dict[str, Any], key: str, n: int) -> frozenset[int] | None:
    """The ids the matcher model listed under ``key`` (``unmatched_pred`` / ``unmatched_gt``) as evaluation.py
    uses them (lines 249-250, 289-292, 334-342 at c3855aa): None when the value is empty or missing (the release
    then counts the errors left unpaired); else its set of ids, which must each index the ``n`` errors as a
    Python list does (-1 is the last) - anything else fails the item there (TypeError / IndexError), and here
    (ValueError)."""
    given = obj.get(key)
    if not given:
        return None
    try:
        ids = set(given)
    except TypeError:
        raise ValueError(f"{_RELEASE_FAILS}: '{key}' is a {type(given).__name__}") from None
    for i in ids:
        if not isinstance(i, int):  # a JSON true / false passes, as there
            raise ValueError(f"{_RELEASE_FAILS}: '{key}' holds {i!r}, not an index")  # noqa: TRY004 - the item fails
        if not -n <= i < n:
            raise ValueError(f"{_RELEASE_FAILS}: '{key}' holds {i}, out of range for {n} errors")
    return frozenset(int(i) for i in ids)


def release_type(row: dict[str, Any]) -> Any:
    """evaluation.py's ``get_err_type``: ``type``, else ``category``, as written."""
    return row.get("type") or row.get("category")


def release_rows(errors: Sequence[ErrorItem], key: str,
                 rows: Sequence[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The rows the released ``build_llm_prompt`` lists for each error (its ``normalize_err``): the id, the
    type, the description and the severity, from the errors as written when ``rows`` are given (else from
    erm's reading of them); no location."""
    if rows is not None:
        out = []
        for i, r in enumerate(rows):
            t = release_type(r)
            out.append({key: i, "type": "unknown" if t is None else t, "description": r.get("description", ""),
                        "severity": r.get("severity", None)})
        return out
    return [{key: i, "type": e.category or "unknown", "description": e.description, "severity": e.severity}
            for i, e in enumerate(errors)]


def parse_match_answer_released(text: str) -> dict[str, Any]:
    """The released ``parse_llm_output``: an outer fence's backticks dropped, the span from the first ``{``
    to the last ``}``, ``json.loads`` without repair; raises ValueError when that is not a JSON object."""
    raw = (text or "").strip()
    if raw.startswith("```"):
        raw = raw.strip("`")
        idx = raw.find("{")
        if idx >= 0:
            raw = raw[idx:]
    first, last = raw.find("{"), raw.rfind("}")
    if first >= 0 and last > first:
        raw = raw[first:last + 1]
    try:
        obj = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"not JSON (the released parser: {exc.msg})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"the answer is a JSON {type(obj).__name__}, not an object")
    return obj


#: ``erm``: erm's request (its system message, greedy, 2048 tokens) and prompt. ``visual-erm``: the released
#: ``evaluation/evaluation.py``: system "You are a helpful assistant.", ``max_tokens`` 8192 and no other
#: sampling key, its answer parser (no repair), and its prompt (Chinese), read at run time from a release
#: checkout given as ``release_dir`` (erm ships none of its text); without a readable checkout, erm's prompt,
#: with the reason in :attr:`LLMMatcher.prompt_note`. Either way pairs are cleaned as the release does: the
#: type check is off (a pair across types counts), ids in range, yes/partial only, first pair wins. Under
#: ``visual-erm`` also: every item is asked, even one with an empty list (evaluation.py:244-245); the model's own
#: ``unmatched_pred`` / ``unmatched_gt`` give FP / FN when it lists any (:func:`release_unmatched`); an answer
#: the release cannot walk fails the item (:func:`clean_pairs` ``released``).
MATCH_PROTOCOLS = ("erm", "visual-erm")
RELEASE_MATCH_SYSTEM = "You are a helpful assistant."
RELEASE_MATCH_MAX_TOKENS = 8192


class LLMMatcher:
    """Error matching by a language model loaded through :func:`erm_cli.models.load_model`."""

    def __init__(self, spec: str, batch_size: int = 8, max_tokens: int = 2048, backend: Any = None,
                 protocol: str = "erm", release_dir: str | Path | None = None) -> None:
        if protocol not in MATCH_PROTOCOLS:
            raise ValueError(f"matcher protocol must be one of {', '.join(MATCH_PROTOCOLS)}, not {protocol!r}")
        self.spec = spec
        self.protocol = protocol
        self.label = f"llm:{spec}" if protocol == "erm" else f"llm-{protocol}:{spec}"
        self.batch_size = max(1, batch_size)
        self.max_tokens = max_tokens
        self._backend = backend
        self.template: PromptTemplate | None = None
        self.prompt_note: str | None = None
        if protocol == "visual-erm":
            if release_dir is None:
                self.prompt_note = ("erm's English matcher prompt: no release checkout given (--release-dir) to "
                                    "read the released one from")
            else:
                try:
                    self.template = extract_visual_erm_matcher(release_dir)
                except InputError as exc:
                    self.prompt_note = f"erm's English matcher prompt: {exc}"

    @property
    def prompt_id(self) -> str:
        """``erm``, or ``visual-erm:<hash>`` of the released prompt (stored with each match, so that a rerun
        with another prompt redoes the matching instead of reusing it)."""
        return "erm" if self.template is None else f"visual-erm:{self.template.digest}"

    @property
    def prompt_source(self) -> dict[str, Any]:
        """Which prompt the matcher sends (recorded in metrics.json and the report)."""
        if self.template is not None:
            return {"prompt": "visual-erm", "source": self.template.source, "sha": self.template.digest}
        out: dict[str, Any] = {"prompt": "erm"}
        if self.prompt_note:
            out["note"] = self.prompt_note
        return out

    def prompt(self, req: MatchRequest) -> str:
        if self.template is None:
            return build_match_prompt(req)
        return self.template.render({"category": req.task, "allowed_types": list(TAXONOMY.get(req.task, ())),
                                     "pred_list": release_rows(req.pred, "pred_id", req.pred_rows),
                                     "gt_list": release_rows(req.gold, "gt_id", req.gold_rows)})

    def _request(self, req: MatchRequest) -> list[dict[str, Any]]:
        system = RELEASE_MATCH_SYSTEM if self.protocol == "visual-erm" else "You are a strict, careful evaluator."
        return [{"role": "system", "content": system},
                {"role": "user", "content": [{"type": "text", "text": self.prompt(req)}]}]

    def _sampling(self) -> Any:
        from ..models.base import Sampling

        if self.protocol == "visual-erm":  # evaluation.py's call_api: max_tokens=8192 and nothing else
            return Sampling(max_tokens=RELEASE_MATCH_MAX_TOKENS, server_defaults=True)
        return Sampling(max_tokens=self.max_tokens, temperature=0.0)

    def _model(self) -> Any:
        if self._backend is None:
            from ..models import load_model

            self._backend = load_model(self.spec)
        return self._backend

    def match(
        self, requests: Sequence[MatchRequest], on_done: Callable[[int], None] | None = None
    ) -> list[MatchOutcome]:
        out: list[MatchOutcome | None] = [None] * len(requests)
        todo: list[int] = []
        released = self.protocol == "visual-erm"
        for i, r in enumerate(requests):
            if r.error is None and (released or (r.gold and r.pred)):
                todo.append(i)
            else:
                out[i] = MatchOutcome(None, error=r.error) if r.error else MatchOutcome(r.item_match())
                if on_done:
                    on_done(1)
        sampling = self._sampling()
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            msgs = [self._request(requests[i]) for i in chunk]
            completions = self._model().generate(msgs, sampling)
            for i, comp in zip(chunk, completions):
                r = requests[i]
                if comp.error:
                    out[i] = MatchOutcome(None, error=f"model error: {comp.error}", raw=comp.text)
                else:
                    try:
                        if released:
                            obj = parse_match_answer_released(comp.text)
                            match = r.item_match(clean_pairs(obj, len(r.pred), len(r.gold), released=True),
                                                 release_unmatched(obj, "unmatched_pred", len(r.pred)),
                                                 release_unmatched(obj, "unmatched_gt", len(r.gold)))
                        else:
                            obj = parse_match_answer(comp.text)
                            match = r.item_match(clean_pairs(obj, len(r.pred), len(r.gold)))
                        out[i] = MatchOutcome(match, raw=comp.text)
                    except ValueError as exc:
                        reason = str(exc) if str(exc).startswith(_RELEASE_FAILS) else f"unparseable matcher answer: {exc}"
                        out[i] = MatchOutcome(None, error=reason, raw=(comp.text or "")[:2000])
                if on_done:
                    on_done(1)
        return [o for o in out if o is not None]


def get_matcher(spec: str | None, protocol: str = "erm",
                release_dir: str | Path | None = None) -> OfflineMatcher | LLMMatcher:
    """``None``/``offline`` -> the offline matcher; anything else is a model spec for the LLM matcher."""
    if not spec or spec == "offline":
        return OfflineMatcher()
    return LLMMatcher(spec, protocol=protocol, release_dir=release_dir)
