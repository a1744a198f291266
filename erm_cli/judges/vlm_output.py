"""Reading a generative judge's answer: find the JSON, repair it, map it onto the Verdict schema.

``parse_judge_output(text, task)`` never raises. It strips ``<think>`` blocks and code fences, finds
the answer object, repairs the usual faults (single quotes, trailing or missing commas, comments,
Python literals, bare words, unescaped newlines, truncation), accepts ``type`` and other synonyms for
``category``, maps severity words and clamps severities to 1..3, and recomputes the counts from the
error list. What cannot be read becomes a verdict with ``parsed=False`` (severity total 25, reward
0.5: the released reward code's fallback) and the reason in ``info["parse_error"]``.

``verdict_to_target_json(verdict)`` is the exact JSON text a judge should emit for a verdict (SFT
targets); ``parse_judge_output`` reads it back unchanged.
"""

from __future__ import annotations

import ast
import json
import math
import re
from typing import Any

from .verdict import TAXONOMY, ErrorItem, Verdict, clamp_severity, normalise_category

RAW_OUTPUT_CHARS = 4000

_THINK_OPEN = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)
# possessive quantifiers: model output is untrusted text, parsed in the erm process
_FENCE = re.compile(r"```[ \t]*+([A-Za-z0-9_+-]*+)[ \t]*+\n?+(.*?)(?:```|\Z)", re.DOTALL)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_])")
_BARE_WORD = re.compile(r"[^,:{}\[\]\"'\n]++")


def drop_think_blocks(text: str) -> str:
    """``text`` without complete ``<think>...</think>`` blocks, in one pass (what a lazy
    ``<think>.*?</think>`` substitution removes, without rescanning the rest of the text for every
    unclosed ``<think>``)."""
    out: list[str] = []
    pos = 0
    while True:
        opened = _THINK_OPEN.search(text, pos)
        if opened is None:
            break
        closed = _THINK_CLOSE.search(text, opened.end())
        if closed is None:
            break
        out.append(text[pos:opened.start()])
        pos = closed.end()
    out.append(text[pos:])
    return "".join(out)

ERROR_LIST_KEYS = ("errors", "error_list", "error", "discrepancies", "differences", "issues", "problems",
                   "mistakes")
CATEGORY_KEYS = ("category", "type", "error_type", "error_category", "kind", "class")
SEVERITY_KEYS = ("severity", "level", "severity_level", "score", "weight")
LOCATION_KEYS = ("location", "where", "position", "element", "region", "area", "target")
DESCRIPTION_KEYS = ("description", "desc", "detail", "details", "explanation", "reason", "message", "issue",
                    "problem", "text")
WRAPPER_KEYS = ("result", "results", "verdict", "output", "answer", "judgement", "judgment", "evaluation",
                "response", "json")

_SEVERITY_WORDS = {
    "minor": 1, "low": 1, "small": 1, "slight": 1, "trivial": 1, "mild": 1, "cosmetic": 1,
    "medium": 2, "moderate": 2, "mid": 2, "middle": 2, "intermediate": 2, "normal": 2,
    "major": 3, "severe": 3, "high": 3, "critical": 3, "serious": 3, "significant": 3, "fatal": 3,
}


# ---------------------------------------------------------------------------------------------------------
# 1. Find candidate JSON texts
# ---------------------------------------------------------------------------------------------------------
def strip_thinking(text: str) -> str:
    """Drop ``<think>...</think>`` blocks; keep only what follows a stray ``</think>``."""
    out = drop_think_blocks(text)
    low = out.lower()
    if "</think>" in low:
        out = out[low.rfind("</think>") + len("</think>"):]
    elif "<think>" in low:  # thinking never closed: the answer may still follow inside it
        out = out[low.find("<think>") + len("<think>"):]
    return out.strip()


def _balanced_segments(text: str) -> list[str]:
    """Top-level ``{...}``/``[...]`` segments (string-aware); an unterminated last one runs to the end."""
    segments: list[str] = []
    depth = 0
    start = -1
    in_str: str | None = None
    i = 0
    while i < len(text):
        c = text[i]
        if in_str:
            if c == "\\":
                i += 2
                continue
            if c == in_str:
                in_str = None
        elif c == '"':
            in_str = c
        elif c in "{[":
            if depth == 0:
                start = i
            depth += 1
        elif c in "}]" and depth:
            depth -= 1
            if depth == 0:
                segments.append(text[start:i + 1])
        i += 1
    if depth and start >= 0:
        segments.append(text[start:])
    return segments


def candidate_texts(text: str) -> list[str]:
    """Texts that may hold the answer, most likely first."""
    body = strip_thinking(text)
    out: list[str] = []
    fenced = [m.group(2) for m in _FENCE.finditer(body) if m.group(2).strip()]
    for block in reversed(fenced):
        out.extend(reversed(_balanced_segments(block)) if "{" in block or "[" in block else [])
    if body.startswith('"') and body.endswith('"'):
        out.append(body)
    segments = _balanced_segments(body)
    # prefer objects that mention an error list, last first (a final answer usually comes last)
    ranked = sorted(range(len(segments)), key=lambda k: (not _mentions_errors(segments[k]), -k))
    out.extend(segments[k] for k in ranked)
    seen: set[str] = set()
    unique = []
    for c in out:
        c = c.strip()
        if c and c not in seen:
            seen.add(c)
            unique.append(c)
    return unique


def _mentions_errors(s: str) -> bool:
    low = s.lower()
    return any(f'{k}"' in low or f"{k}'" in low or f"{k}:" in low for k in ERROR_LIST_KEYS) or "_count" in low


# ---------------------------------------------------------------------------------------------------------
# 2. Repair almost-JSON
# ---------------------------------------------------------------------------------------------------------
_LITERALS = {"true": "true", "false": "false", "null": "null", "none": "null", "nan": "null",
             "infinity": "null", "undefined": "null"}
_SMART = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u00a0": " "})


class _Container:
    __slots__ = ("count", "kind", "state")

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "{" or "["
        self.state = "key" if kind == "{" else "value"  # key | colon | value | after
        self.count = 0


def repair_json(s: str) -> str:
    """Rewrite almost-JSON as JSON: a small state machine over the text (see module docstring)."""
    return _repair(s)[0]


def _repair(s: str) -> tuple[str, bool]:
    """(repaired text, whether the input was cut off inside an open object or list)."""
    s = s.translate(_SMART)
    out: list[str] = []
    stack: list[_Container] = []
    i, n = 0, len(s)
    root_done = False

    def begin_item() -> bool:
        """Emit the separators a new key or value needs; returns True when the item is an object key."""
        if not stack:
            return False
        top = stack[-1]
        if top.kind == "{":
            if top.state in ("key", "after"):
                if top.count:
                    out.append(",")
                top.count += 1
                top.state = "key"
                return True
            if top.state == "colon":  # a value right after a key: the colon is missing
                out.append(":")
                top.state = "value"
            return False
        if top.count:
            out.append(",")
        top.count += 1
        return False

    def end_value() -> None:
        if stack:
            stack[-1].state = "after"

    def end_key() -> None:
        stack[-1].state = "colon"

    while i < n and not root_done:
        c = s[i]
        if c in "\"'":
            is_key = begin_item()
            j = i + 1
            buf = ['"']
            while j < n:
                d = s[j]
                if d == "\\" and j + 1 < n:
                    nxt = s[j + 1]
                    buf.append("'" if nxt == "'" else "\\" + nxt)
                    j += 2
                    continue
                if d == c:
                    break
                if d == '"':
                    buf.append('\\"')
                elif d == "\n":
                    buf.append("\\n")
                elif d == "\r":
                    buf.append("\\r")
                elif d == "\t":
                    buf.append("\\t")
                elif ord(d) < 0x20:
                    buf.append(f"\\u{ord(d):04x}")
                else:
                    buf.append(d)
                j += 1
            buf.append('"')
            out.append("".join(buf))
            i = j + 1
            if is_key:
                end_key()
            else:
                end_value()
            continue
        if c == "/" and s.startswith("//", i):
            j = s.find("\n", i)
            i = n if j < 0 else j
            continue
        if c == "/" and s.startswith("/*", i):
            j = s.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        if c == "#" and (not stack or stack[-1].state in ("key", "after")):
            j = s.find("\n", i)
            i = n if j < 0 else j
            continue
        if c in "{[":
            if stack and stack[-1].kind == "{" and stack[-1].state in ("key", "after"):
                # a value where a key should be: give it a placeholder key
                begin_item()
                out.append('"_"')
                end_key()
            begin_item()
            out.append(c)
            stack.append(_Container(c))
            i += 1
            continue
        if c in "}]":
            want = "{" if c == "}" else "["
            if not any(x.kind == want for x in stack):
                i += 1
                continue
            while stack:
                top = stack.pop()
                if top.kind == "{" and top.state == "colon":
                    out.append(":null")
                elif top.kind == "{" and top.state == "value":
                    out.append("null")
                while out and out[-1] == ",":
                    out.pop()
                out.append("}" if top.kind == "{" else "]")
                if top.kind == want:
                    break
                end_value()  # an inner container closed implicitly: its parent now holds a value
            end_value()
            if not stack:
                root_done = True
            i += 1
            continue
        if c == ":":
            if stack and stack[-1].kind == "{" and stack[-1].state == "colon":
                out.append(":")
                stack[-1].state = "value"
            i += 1
            continue
        if c == ",":  # separators are emitted by begin_item: drops trailing and doubled commas
            if stack and stack[-1].kind == "{" and stack[-1].state == "value":
                out.append("null")
                end_value()
            i += 1
            continue
        if c.isspace():
            i += 1
            continue
        # numbers, literals and bare words
        m = _NUMBER.match(s, i)
        if m and not (stack and stack[-1].kind == "{" and stack[-1].state in ("key", "after")):
            begin_item()
            num = m.group(0).lstrip("+")
            if num.startswith("."):
                num = "0" + num
            elif num.startswith("-."):
                num = "-0" + num[1:]
            if num.endswith("."):
                num = num + "0"
            try:
                float(num)
                out.append(num)
            except ValueError:
                out.append(json.dumps(num))
            end_value()
            i += len(m.group(0))
            continue
        m = _BARE_WORD.match(s, i)
        word = (m.group(0) if m else c).strip()
        i += len(m.group(0)) if m else 1
        if not word:
            continue
        is_key = begin_item()
        if is_key:
            out.append(json.dumps(word))
            end_key()
        else:
            out.append(_LITERALS.get(word.lower(), json.dumps(word)))
            end_value()
    # truncated input: close whatever is still open
    truncated = bool(stack)
    while stack:
        top = stack.pop()
        while out and out[-1] == ",":
            out.pop()
        if top.kind == "{" and top.state == "colon":
            out.append(":null")
        elif top.kind == "{" and top.state == "value":
            out.append("null")
        out.append("}" if top.kind == "{" else "]")
        end_value()
    return "".join(out), truncated


def loads_lenient(s: str) -> tuple[Any, list[str]]:
    """``json.loads`` with repair; returns (value, notes). Raises ValueError when nothing works."""
    try:
        return json.loads(s), []
    except (json.JSONDecodeError, RecursionError):
        pass
    try:
        text, truncated = _repair(s)
        return json.loads(text), ["repaired", "truncated"] if truncated else ["repaired"]
    except (json.JSONDecodeError, RecursionError):
        pass
    try:
        value = ast.literal_eval(s)
        return value, ["python literal"]
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        pass
    raise ValueError("not JSON even after repair")


# ---------------------------------------------------------------------------------------------------------
# 3. Interpret an object as a verdict
# ---------------------------------------------------------------------------------------------------------
def _first(d: dict[str, Any], keys: tuple[str, ...]) -> Any:
    lowered = {str(k).strip().lower(): v for k, v in d.items()}
    for k in keys:
        if k in lowered and lowered[k] not in (None, ""):
            return lowered[k]
    return None


def parse_severity(value: Any) -> int:
    """1/2/3 from numbers, numeric strings ("2 (medium)") or words ("severe"); clamped to 1..3."""
    if isinstance(value, bool):
        return 1
    if isinstance(value, (int, float)):
        return clamp_severity(value)
    text = str(value or "").strip().lower()
    m = re.search(r"-?\d+(?:\.\d+)?", text)
    if m:
        return clamp_severity(m.group(0))
    return _severity_word(text) or clamp_severity(text)


def _severity_word(text: str) -> int | None:
    for word, sev in _SEVERITY_WORDS.items():
        if re.search(rf"\b{word}\b", text):
            return sev
    return None


def _severity_in_prose(text: str) -> int:
    """A severity stated in free text ("severity 2", "(severe)"); numbers that are data don't count."""
    low = text.lower()
    m = re.search(r"severity\W{0,3}(-?\d+(?:\.\d+)?)", low)
    if m:
        return clamp_severity(m.group(1))
    m = re.search(r"severity\W{0,3}([a-z]+)", low)
    if m and m.group(1) in _SEVERITY_WORDS:
        return _SEVERITY_WORDS[m.group(1)]
    return _severity_word(low) or 1


def _error_from_string(item: str, task: str) -> ErrorItem:
    text = item.strip()
    cat = ""
    head, sep, rest = text.partition(":")
    if sep and len(head) < 40:
        cat, text = head, rest.strip()
    else:
        for known in TAXONOMY.get(task, ()):
            if known in text.lower() or known.replace("_error", "") in text.lower().split():
                cat = known
                break
    return ErrorItem(category=normalise_category(cat or "unknown", task), severity=_severity_in_prose(text),
                     description=text)


def _error_from_dict(item: dict[str, Any], task: str, default_category: str = "",
                     literal: bool = False) -> ErrorItem:
    cat = _first(item, CATEGORY_KEYS) or default_category or "unknown"
    if literal:  # the released evaluation.py: ``e.get("type") or e.get("category")``, compared as written
        cat = item.get("type") or item.get("category") or "unknown"
    loc = _first(item, LOCATION_KEYS)
    desc = _first(item, DESCRIPTION_KEYS)
    sev = _first(item, SEVERITY_KEYS)
    return ErrorItem(category=str(cat) if literal else normalise_category(str(cat), task), severity=parse_severity(sev if sev is not None else 1),
                     location="" if loc is None else str(loc).strip(),
                     description="" if desc is None else str(desc).strip())


def _unwrap(obj: Any) -> Any:
    for _ in range(3):
        if isinstance(obj, dict) and _first(obj, ERROR_LIST_KEYS) is None and not _count_keys(obj):
            inner = _first(obj, WRAPPER_KEYS)
            if isinstance(inner, (dict, list)):
                obj = inner
                continue
            if len(obj) == 1 and isinstance(next(iter(obj.values())), dict):
                obj = next(iter(obj.values()))
                continue
        break
    return obj


def _count_keys(obj: dict[str, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in obj.items() if str(k).lower().endswith("_count")}


def errors_from_object(obj: Any, task: str, truncated: bool = False,
                       literal_categories: bool = False) -> tuple[list[ErrorItem], dict[str, Any]]:
    """Map a parsed JSON value onto error items; raises ValueError if it is not a judge answer.

    ``truncated``: the answer was cut off; a last error without a category or a severity is dropped.
    ``literal_categories``: keep each listed error's ``type``/``category`` exactly as written (no aliases, no
    cross-task remapping), as the released VC-RewardBench evaluation reads them; an out-of-taxonomy name then
    drops out of the task's allowed errors instead of being remapped.
    """
    notes: dict[str, Any] = {}
    obj = _unwrap(obj)
    raw: Any
    if isinstance(obj, list):
        raw = obj
    elif isinstance(obj, dict):
        raw = _first(obj, ERROR_LIST_KEYS)
        counts = _count_keys(obj)
        if raw is None:
            if _first(obj, CATEGORY_KEYS) is not None and (_first(obj, DESCRIPTION_KEYS) is not None
                                                           or _first(obj, SEVERITY_KEYS) is not None):
                raw = [obj]  # a single error object
            elif counts and all(_as_int(v) == 0 for v in counts.values()):
                raw = []
            elif counts:
                raise ValueError("counts without an error list")
            elif any(str(k).lower().endswith("_error") for k in obj):
                raw = obj  # {"text_error": [...], ...}
            else:
                raise ValueError("no 'errors' list in the answer")
        if counts:
            notes["declared_counts"] = {k: _as_int(v) for k, v in counts.items()}
    else:
        raise ValueError(f"the answer is a {type(obj).__name__}, not an object")

    items: list[ErrorItem] = []
    if raw in ("", None) or (isinstance(raw, str) and raw.strip().lower() in ("none", "[]", "no errors", "n/a")):
        raw = []
    if isinstance(raw, dict):  # errors grouped by category
        for cat, group in raw.items():
            for e in group if isinstance(group, list) else [group]:
                if isinstance(e, dict):
                    items.append(_error_from_dict(e, task, default_category=str(cat)))
                elif isinstance(e, str) and e.strip():
                    items.append(ErrorItem(category=normalise_category(str(cat), task), severity=1,
                                           description=e.strip()))
        return items, notes
    if not isinstance(raw, list):
        raise ValueError(f"'errors' is a {type(raw).__name__}, not a list")
    skipped = 0
    if truncated and raw and isinstance(raw[-1], dict) and (
            _first(raw[-1], CATEGORY_KEYS) is None or _first(raw[-1], SEVERITY_KEYS) is None):
        raw = raw[:-1]
        notes["dropped_incomplete_last"] = True
    for e in raw:
        if isinstance(e, dict):
            items.append(_error_from_dict(e, task, literal=literal_categories))
        elif isinstance(e, str) and e.strip():
            items.append(_error_from_string(e, task))
        else:
            skipped += 1
    if skipped:
        notes["skipped_items"] = skipped
    return items, notes


def _as_int(v: Any) -> int:
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return -1


# ---------------------------------------------------------------------------------------------------------
# 4. The released Visual-ERM code's readers (``reader="visual-erm"``)
# ---------------------------------------------------------------------------------------------------------
#: How an answer is read. ``erm``: every candidate object, fenced ones and those that mention an error list
#: first, the last one first, with JSON repair. The released code's readers repair nothing:
#:
#: * ``visual-erm-first`` (chart/SVG reward, ``omnirender_rm_v3.parse_error_response``): ``<think>`` blocks
#:   and one outer fence dropped, the whole text as JSON, else the FIRST ``{...}`` by brace depth;
#: * ``visual-erm-table`` (table reward, ``table_parse_rm_v2.parse_error_response``) and ``visual-erm-bench``
#:   (VC-RewardBench, ``evaluation/api_judge.py``): one outer fence dropped, the whole text as JSON, else the
#:   span from the first ``{`` to the last ``}`` (so two objects in a row do not parse). The table reward
#:   needs an ``errors`` key; the others read a missing one as no errors.
#:
#: The reward readers leave out listed errors without a ``severity`` (the released sums add 0 for them).
READERS = ("erm", "visual-erm-first", "visual-erm-table", "visual-erm-bench")
#: ``info`` key of a ``visual-erm-bench`` verdict holding the answer's ``errors`` value exactly as written.
ANSWER_ERRORS_KEY = "answer_errors"
#: ``info`` key of a ``visual-erm-bench`` verdict whose answer is JSON but not an object (its type): the released
#: evaluation.py calls ``.get`` on it and fails the item.
ANSWER_NOT_OBJECT_KEY = "answer_not_object"
_RELEASE_FENCE_OPEN = re.compile(r"^```[a-zA-Z0-9_+-]*+\s*+")
#: ``info`` key of a verdict read by a released reward parser: S as that reward code sums the answer's severities
#: (:func:`released_severity_sum`), which ``Verdict.severity_total`` (and so the reward) then uses.
RELEASED_SEVERITY_KEY = "released_severity_total"


def released_severity_sum(listed: list[Any], reader: str) -> float | None:
    """S as the released reward code sums an answer's ``errors``. ``visual-erm-first`` (chart/SVG,
    ``omnirender_rm_v3.py``): ``float(severity)`` of each dict that has one, negatives as 0, values ``float`` cannot
    read skipped. ``visual-erm-table`` (``table_parse_rm_v2.py::calculate_error_score``): ``severity`` (default
    0) added as written, so a non-number or a non-dict entry makes its whole parse fail: None (the reward's S = 4).
    Values that are not finite are skipped (the released sums would turn the reward into NaN)."""
    total = 0.0
    for e in listed:
        if reader == "visual-erm-table":
            if not isinstance(e, dict):
                return None
            sev = e.get("severity", 0)
            if not isinstance(sev, (int, float)):  # bool is an int there too
                return None
            value = float(sev)
        else:
            if not isinstance(e, dict) or e.get("severity") is None:
                continue
            try:
                value = max(0.0, float(e["severity"]))
            except (TypeError, ValueError):
                continue
        if math.isfinite(value):
            total += value
    return total


def release_reader(task: str, bench: bool = False) -> str:
    """The released code's reader for ``task`` (reward code, or the VC-RewardBench script if ``bench``)."""
    if bench:
        return "visual-erm-bench"
    return "visual-erm-table" if task == "table" else "visual-erm-first"


def _first_object_by_depth(text: str) -> str | None:
    """``extract_json_object`` of the released reward code: from the first ``{`` to where the brace depth
    returns to 0 (braces inside strings count too, as there)."""
    start = text.find("{")
    if start < 0:
        return None
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start:i + 1]
    return None


def release_answer_object(text: str, reader: str) -> Any:
    """The value the released code's parser reads from ``text`` (see :data:`READERS`), or None."""
    raw = text.strip()
    if reader == "visual-erm-first":  # re.sub(r"<think>.*?</think>", "", raw, flags=re.DOTALL), in one pass
        raw = drop_think_blocks(raw).strip()
    if raw.startswith("```"):  # the opening fence with its language tag, then a closing fence at the very end
        raw = _RELEASE_FENCE_OPEN.sub("", raw, count=1)
        if raw.rstrip().endswith("```"):
            raw = raw.rstrip()[:-3]
        raw = raw.strip()
    try:
        value = json.loads(raw)
        if reader != "visual-erm-first" or isinstance(value, dict):
            return value
    except (json.JSONDecodeError, RecursionError):
        pass
    if reader == "visual-erm-first":
        piece = _first_object_by_depth(raw)
    else:
        first, last = raw.find("{"), raw.rfind("}")
        piece = raw[first:last + 1] if 0 <= first < last else None
    if piece is None:
        return None
    try:
        return json.loads(piece)
    except (json.JSONDecodeError, RecursionError):
        return None


def _parse_as_released(raw: str, task: str, judge_id: dict[str, str], reader: str,
                       literal_categories: bool) -> Verdict:
    value = release_answer_object(raw, reader)
    if not isinstance(value, dict):
        verdict = _unparsed(task, judge_id, f"no JSON object the released parser reads ({reader})", raw)
        if reader == "visual-erm-bench" and value:  # e.g. a JSON list: the released evaluation.py fails on it
            verdict.info[ANSWER_NOT_OBJECT_KEY] = type(value).__name__
        return verdict
    if "errors" not in value and reader == "visual-erm-table":
        # the table reward indexes error_analysis["errors"]: a missing list is its unparsed fallback
        return _unparsed(task, judge_id, "no 'errors' list in the answer", raw)
    listed = value.get("errors") or []
    if not isinstance(listed, list):
        verdict = _unparsed(task, judge_id, f"'errors' is a {type(listed).__name__}, not a list", raw)
        if reader == "visual-erm-bench":  # the released evaluation.py fails on this item (erm_cli.bench)
            verdict.info[ANSWER_ERRORS_KEY] = listed
        return verdict
    released_sum = released_severity_sum(listed, reader) if reader != "visual-erm-bench" else None
    if reader == "visual-erm-table" and released_sum is None:  # the table reward's parse fails: S = 4
        return _unparsed(task, judge_id, "an error entry the released table reward cannot add up", raw)
    items = [e for e in listed if isinstance(e, dict)]
    kept = items if reader == "visual-erm-bench" else [e for e in items if e.get("severity") is not None]
    errors = [_error_from_dict(e, task, literal=literal_categories) for e in kept]
    verdict = Verdict(task=task, errors=errors, judge=judge_id, parsed=True)
    verdict.info["reader"] = reader
    if released_sum is not None:
        verdict.info[RELEASED_SEVERITY_KEY] = released_sum
    if reader == "visual-erm-bench":
        # the list as the answer wrote it: the released evaluation.py sums each severity as given (not clamped
        # to 1..3 as ``errors`` are) and lists type, description and severity as written to its matcher
        verdict.info[ANSWER_ERRORS_KEY] = listed
    if len(kept) < len(items):
        verdict.info["without_severity"] = len(items) - len(kept)
    known = set(TAXONOMY.get(task, ()))
    unknown = sorted({e.category for e in errors if e.category not in known})
    if unknown:
        verdict.info["unknown_categories"] = unknown
    return verdict


def parse_judge_output(text: str | None, task: str, judge: dict[str, str] | None = None,
                       literal_categories: bool = False, reader: str = "erm") -> Verdict:
    """A judge's raw answer -> Verdict (``parsed=False`` with a reason when it cannot be read);
    ``literal_categories``: see :func:`errors_from_object`; ``reader``: see :data:`READERS` (erm's own reader
    takes the last answer object and repairs it; the released code's readers take the first or the whole
    ``{...}`` span, without repair)."""
    judge_id = dict(judge or {"name": "vlm", "version": "0"})
    raw = "" if text is None else str(text)
    info: dict[str, Any] = {}
    if reader not in READERS:
        raise ValueError(f"reader must be one of {', '.join(READERS)}, not {reader!r}")
    if not raw.strip():
        return _unparsed(task, judge_id, "empty answer", raw)
    if reader != "erm":
        return _parse_as_released(raw, task, judge_id, reader, literal_categories)
    last_reason = "no JSON object in the answer"
    for cand in candidate_texts(raw):
        try:
            value, repair_notes = loads_lenient(cand)
        except ValueError as exc:
            last_reason = str(exc)
            continue
        if isinstance(value, str) and value.strip()[:1] in ("{", "["):  # JSON text quoted as a JSON string
            try:
                value, more = loads_lenient(value.strip())
                repair_notes = repair_notes + ["unquoted"] + more
            except ValueError as exc:
                last_reason = str(exc)
                continue
        try:
            errors, notes = errors_from_object(value, task, truncated="truncated" in repair_notes,
                                               literal_categories=literal_categories)
        except ValueError as exc:
            last_reason = str(exc)
            continue
        if "truncated" in repair_notes and not errors and not re.search(r"\[\s*\]", cand):
            last_reason = "answer cut off before its first complete error"
            continue
        info.update(notes)
        if repair_notes:
            info["repairs"] = repair_notes
        known = set(TAXONOMY.get(task, ()))
        unknown = sorted({e.category for e in errors if e.category not in known})
        if unknown:
            info["unknown_categories"] = unknown
        verdict = Verdict(task=task, errors=errors, judge=judge_id, parsed=True)
        declared = info.get("declared_counts")
        if declared:
            actual = {f"{c}_count": n for c, n in verdict.counts.items()}
            if any(actual.get(k, 0) != v for k, v in declared.items()):
                info["counts_recomputed"] = True
            else:
                info.pop("declared_counts")
        verdict.info.update(info)
        return verdict
    return _unparsed(task, judge_id, last_reason, raw)


def _unparsed(task: str, judge_id: dict[str, str], reason: str, raw: str) -> Verdict:
    return Verdict(task=task, errors=[], judge=judge_id, parsed=False,
                   info={"parse_error": reason, "raw_output": raw[:RAW_OUTPUT_CHARS]})


def verdict_to_target_json(verdict: Verdict) -> str:
    """The JSON a judge should answer for ``verdict``: counts in taxonomy order, then the error list."""
    obj: dict[str, Any] = {f"{c}_count": n for c, n in verdict.counts.items()}
    obj["errors"] = [{"category": e.category, "severity": int(e.severity), "location": e.location,
                      "description": e.description} for e in verdict.errors]
    return json.dumps(obj, ensure_ascii=False)
