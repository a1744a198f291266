"""The format reward of ``erm train policy``: is the answer one clean code block in the expected language?

Scores per completion (the draft prompt asks for "the complete code in one fenced block and nothing else"):

- 1.0: exactly one fenced block, its language tag fits the item's kind (``python`` for matplotlib /
  plotly, ``svg``/``xml`` for SVG, ``html``, ``markdown``/``md``, ``latex``/``tex``), non-empty code,
  and at most :data:`MAX_PROSE_CHARS` characters of prose outside the fence;
- 0.5: code can be extracted but the form is off (no fence, an unclosed or untagged fence, a wrong
  tag, several blocks or a lot of prose);
- 0.0: no code at all (empty or prose-only answers).

This is a form check only; whether the code renders and matches is the visual reward's job
(:mod:`erm_cli.train.rewards`).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import Any

MAX_PROSE_CHARS = 200

# Completions are untrusted text scored on every RL step: every pattern is linear (possessive
# quantifiers, whitespace kept within a line) and fenced blocks are found by one pass over the lines.
_OPENER = re.compile(r"[ \t]{0,3}+(`{3,}+|~{3,}+)[ \t]*+([^\n`]*+)\n")  # matched at a line start
_CLOSER = re.compile(r"[ \t]{0,3}+(`{3,}+|~{3,}+)[ \t]*+$", re.MULTILINE)  # matched at a line start
_ANY_FENCE = re.compile(r"^[ \t]{0,3}+(`{3,}+|~{3,}+)", re.MULTILINE)
_CODE_SIGNS = re.compile(
    r"<svg\b|<table\b|\\begin\s*+\{\s*+tabular|^[^\S\n]*+\|[^\n]*\|[^\S\n]*+$|^[^\S\n]*+(?:import|from)\s++\w",
    re.IGNORECASE | re.MULTILINE,
)


def fenced_blocks(text: str) -> list[tuple[int, int, str, str, str]]:
    """Closed fenced blocks as ``(start, end, fence, tag, code)``, left to right without overlaps: an
    opening fence line, then the first later line holding exactly the same fence. Linear: each line is
    indexed once as a possible closing fence, and each opening finds its closing by bisection."""
    starts = [0]
    pos = text.find("\n")
    while pos >= 0:
        starts.append(pos + 1)
        pos = text.find("\n", pos + 1)
    closers: dict[str, list[tuple[int, int]]] = {}
    for s in starts:
        m = _CLOSER.match(text, s)
        if m is not None:
            closers.setdefault(m.group(1), []).append((s, m.end()))
    # a run of tildes may also open with fewer of them (the rest then starts the tag), as a backtracking
    # regex would try: each shorter length that some closing line has, longest first (cost <= the run)
    tilde_lengths = sorted({len(f) for f in closers if f[0] == "~"}, reverse=True)
    blocks: list[tuple[int, int, str, str, str]] = []
    resume = 0
    for s in starts:
        if s < resume:
            continue
        m = _OPENER.match(text, s)
        if m is None:
            continue
        run = m.group(1)
        lengths = [len(run)] if run[0] == "`" else [k for k in tilde_lengths if k <= len(run)]
        for k in lengths:
            found = closers.get(run[:k], [])
            i = bisect_left(found, (m.end(), -1))
            if i < len(found):
                close_start, close_end = found[i]
                tag = m.group(2) if k == len(run) else text[m.start(1) + k:m.end() - 1]
                blocks.append((s, close_end, run[:k], tag, text[m.end():close_start]))
                resume = close_end
                break
    return blocks


def _without_blocks(text: str, blocks: list[tuple[int, int, str, str, str]]) -> str:
    kept, pos = [], 0
    for start, end, *_ in blocks:
        kept.append(text[pos:start])
        pos = end
    kept.append(text[pos:])
    return "".join(kept)

#: Fence tags accepted for each kind.
TAGS_OF_KIND: dict[str, frozenset[str]] = {
    "matplotlib": frozenset({"python", "py", "python3"}),
    "plotly": frozenset({"python", "py", "python3"}),
    "svg": frozenset({"svg", "xml"}),
    "html": frozenset({"html", "htm"}),
    "markdown": frozenset({"markdown", "md"}),
    "latex": frozenset({"latex", "tex"}),
}


def format_score(text: str, kind: str | None) -> float:
    """The format reward of one completion text for code of ``kind`` (None: any known tag is fine)."""
    text = text or ""
    if not text.strip():
        return 0.0
    found = fenced_blocks(text)
    blocks = [(fence, tag, code) for _, _, fence, tag, code in found]
    if len(blocks) == 1:
        _, tag, code = blocks[0]
        tag = tag.strip().lower().split()[0] if tag.strip() else ""
        allowed = TAGS_OF_KIND.get(kind or "", frozenset().union(*TAGS_OF_KIND.values()))
        prose = len(_without_blocks(text, found).strip())
        if code.strip() and tag in allowed and prose <= MAX_PROSE_CHARS:
            return 1.0
        return 0.5 if code.strip() else 0.0
    if blocks:
        return 0.5 if any(code.strip() for _, _, code in blocks) else 0.0
    if _ANY_FENCE.search(text) or _CODE_SIGNS.search(text):
        return 0.5  # an unclosed fence (cut off) or bare code
    return 0.0


def make_format_reward(kind_column: str = "kind", name: str = "erm_format_reward") -> Any:
    """A TRL ``reward_funcs`` callable: :func:`format_score` per completion, kind from ``kind_column``."""
    from .rewards import completion_text

    def reward(
        prompts: Any = None, completions: Any = None, completion_ids: Any = None, **kwargs: Any
    ) -> list[float]:
        comps = list(completions or [])
        kinds = kwargs.get(kind_column) or [None] * len(comps)
        return [format_score(completion_text(c), k) for c, k in zip(comps, kinds)]

    reward.__name__ = name
    reward.__qualname__ = name
    return reward
