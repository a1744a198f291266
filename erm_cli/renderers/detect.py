"""Which language is this code, and where is the code in a model's answer?

``detect_kind(code, filename=None)`` names the renderer for raw code (extension first, then content).
``extract_code(text)`` pulls the code out of a chat completion: the *last* fenced block wins
(```python, ```svg, ```html, ```markdown, ```latex and their aliases; an unlabelled or unclosed fence
is classified by content), with a bare ``<svg ...>`` fallback that is closed if the answer was cut
off; a raw chat-completion JSON is first replaced by its answer. Text without any fence is returned as it
is. Neither function imports anything heavy.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from ..errors import InputError
from .base import KINDS

#: File extension -> kind (``.py`` is settled by content: matplotlib or plotly).
KIND_OF_EXTENSION: dict[str, str] = {
    ".svg": "svg", ".html": "html", ".htm": "html", ".xhtml": "html", ".md": "markdown",
    ".markdown": "markdown", ".tex": "latex", ".latex": "latex",
}
PYTHON_EXTENSIONS = {".py", ".pyw", ".ipy"}

#: Fence language tag -> kind ("python" is settled by content).
KIND_OF_FENCE: dict[str, str] = {
    "python": "python", "py": "python", "python3": "python", "ipython": "python", "matplotlib": "matplotlib",
    "plotly": "plotly", "svg": "svg", "xml": "svg", "html": "html", "htm": "html", "xhtml": "html",
    "markdown": "markdown", "md": "markdown", "gfm": "markdown", "latex": "latex", "tex": "latex",
}

# Every pattern below runs on untrusted text in the erm process (before the sandbox), so each is linear:
# possessive quantifiers (``*+``, ``++``, Python 3.11) leave nothing to backtrack into, whitespace never
# crosses a line where a line is meant, and no pattern has two adjacent parts that can match the same text.
_WS = r"[^\S\n]"  # whitespace within a line
_FENCE_OPEN = re.compile(r"^[ \t]{0,3}+(?P<fence>`{3,}+|~{3,}+)[ \t]*+(?P<info>[^\n`]*+)$", re.MULTILINE)
_SVG_OPEN = re.compile(r"<svg\b", re.IGNORECASE)
_SVG_CLOSE = re.compile(r"</svg\s*+>", re.IGNORECASE)
_SVG_CLOSE_AT_END = re.compile(r"</svg\s*+>\Z", re.IGNORECASE)
_PLOTLY = re.compile(rf"^{_WS}*+(?:import\s++plotly|from\s++plotly\b)", re.MULTILINE)
_MATPLOTLIB = re.compile(
    rf"^{_WS}*+(?:import\s++matplotlib|from\s++matplotlib\b|import\s++seaborn|from\s++seaborn\b|import\s++pandas)",
    re.MULTILINE)
_PYPLOT_CALL = re.compile(r"\bplt\.(?:savefig|show|subplots|figure|plot|bar)\b")
_PYTHON_HINT = re.compile(
    rf"^{_WS}*+(?:import\s++\w|from\s++[\w.]++\s++import\b|def\s++\w++\s*+\(|class\s++\w|"
    rf"for\s++\w++[^\n]*:{_WS}*+$|\w++{_WS}*+=[^\n]|plt\.\w|fig\.\w|ax\.\w|print\s*+\()", re.MULTILINE)
_LATEX_TABULAR = re.compile(r"\\begin\s*+\{\s*+(?:tabular\*?|tabularx|longtable|tabulary|array)\s*+\}")
_HTML_TABLE = re.compile(r"<\s*+(?:table|html|body|!doctype\s++html|tr|thead|tbody)\b", re.IGNORECASE)
_MD_CELL_SEP = rf"{_WS}*+:?+-{{2,}}+:?+{_WS}*+"
_MD_TABLE_SEP = re.compile(rf"^{_WS}*+\|?+{_MD_CELL_SEP}(?:\|{_MD_CELL_SEP})++\|?+{_WS}*+$", re.MULTILINE)


def python_flavour(code: str) -> str:
    """``plotly`` when the code imports plotly (and not matplotlib's pyplot), else ``matplotlib``."""
    if _PLOTLY.search(code):
        if _MATPLOTLIB.search(code) and _PYPLOT_CALL.search(code):
            return "matplotlib"
        return "plotly"
    return "matplotlib"


def _looks_like_svg(head: str) -> bool:
    stripped = head.lstrip("\ufeff \t\r\n").lower()
    if stripped.startswith("<svg"):
        return True
    if stripped.startswith(("<?xml", "<!doctype svg", "<!--")):
        return "<svg" in stripped[:4096]
    return False


def kind_from_content(code: str) -> str | None:
    """Guess the kind from the text alone; ``None`` when nothing matches."""
    text = code.lstrip("\ufeff")
    if not text.strip():
        return None
    if _looks_like_svg(text[:8192]):
        return "svg"
    if _LATEX_TABULAR.search(text):
        return "latex"
    if _PLOTLY.search(text) or _MATPLOTLIB.search(text):
        return python_flavour(text)
    if _HTML_TABLE.search(text[:20000]):
        return "html"
    if _has_gfm_table(text):
        return "markdown"
    if _SVG_OPEN.search(text) and not _HTML_TABLE.search(text):
        return "svg"
    if _PYTHON_HINT.search(text) and _compiles(text):
        return "matplotlib"
    return None


def _has_gfm_table(text: str) -> bool:
    """A GitHub-flavoured Markdown table: a delimiter row (``--- | :---:``, outer pipes optional) right under
    a header row that has a pipe. GFM lets a table omit the outer pipes (``erm synth`` writes such tables),
    so the header is found from the delimiter row, not by a leading pipe. Linear: each line is read at most
    twice (as a delimiter candidate and as the header above one)."""
    for sep in _MD_TABLE_SEP.finditer(text):
        end = sep.start() - 1  # the newline before the delimiter row
        if end < 0:
            continue
        header = text[text.rfind("\n", 0, end) + 1:end]
        if "|" in header and header.strip(" \t|"):
            return True
    return False


def detect_kind(code: str, filename: str | PurePath | None = None) -> str:
    """The renderer for ``code``: from the file extension when it is decisive, else from the content.

    Raises :class:`InputError` when neither says anything (the caller should pass ``--kind``).
    """
    if filename is not None:
        suffix = PurePath(str(filename)).suffix.lower()
        if suffix in KIND_OF_EXTENSION:
            return KIND_OF_EXTENSION[suffix]
        if suffix in PYTHON_EXTENSIONS:
            return python_flavour(code)
    kind = kind_from_content(code)
    if kind is None:
        where = f" of {filename}" if filename else ""
        raise InputError(f"cannot tell the code language{where}; pass --kind (one of: {', '.join(KINDS)})")
    return kind


def _compiles(code: str) -> bool:
    """True when ``code`` parses as Python. Only the parser runs (no bytecode): ``compile`` itself is
    quadratic on some inputs (50,000 copies of one small function take minutes) and runs in erm's process."""
    import ast

    try:
        ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return False
    return True


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """All fenced blocks as (info-string, body); an unclosed last fence runs to the end of the text."""
    blocks: list[tuple[str, str]] = []
    pos = 0
    while True:
        m = _FENCE_OPEN.search(text, pos)
        if m is None:
            break
        fence = m.group("fence")
        info = m.group("info").strip()
        body_start = m.end() + 1 if m.end() < len(text) else m.end()
        close = _closing_fence(fence[0], len(fence))
        c = close.search(text, body_start)
        if c is None:
            blocks.append((info, text[body_start:]))
            break
        blocks.append((info, text[body_start:c.start()]))
        pos = c.end()
    return blocks


def _closing_fence(char: str, length: int) -> re.Pattern[str]:
    """A closing fence of at least ``length`` ``char``s: on its own line, or (as models often write) glued
    to the end of the last line. The glued form starts where the run starts (after a character that is
    neither blank nor the fence character), so a long run is scanned once, not once per position."""
    run = re.escape(char) + "{" + str(length) + ",}+"
    return re.compile(r"^[ \t]{0,3}+" + run + r"[ \t]*+$|(?<=[^\s" + re.escape(char) + "])" + run + r"[ \t]*+$",
                      re.MULTILINE)


def _kind_of_block(info: str, body: str) -> str | None:
    lang = info.split()[0].lower().strip("{}.") if info else ""
    mapped = KIND_OF_FENCE.get(lang)
    if mapped == "python":
        return python_flavour(body)
    if mapped == "svg" and not _SVG_OPEN.search(body):
        return kind_from_content(body)
    if mapped == "html" and _SVG_OPEN.search(body) and not _HTML_TABLE.search(body):
        return "svg"
    if mapped is not None:
        return mapped
    return kind_from_content(body)


def _complete_svgs(text: str) -> tuple[int, int] | None:
    """The span of the last ``<svg ...>...</svg>`` found scanning left to right without overlaps (what a
    lazy ``<svg.*?</svg>`` finditer would give), in one linear pass."""
    last: tuple[int, int] | None = None
    pos = 0
    while True:
        opened = _SVG_OPEN.search(text, pos)
        if opened is None:
            return last
        closed = _SVG_CLOSE.search(text, opened.end())
        if closed is None:
            return last  # no later <svg> can be closed either
        last = (opened.start(), closed.end())
        pos = closed.end()


def _last_svg_open(text: str) -> int | None:
    start = None
    for m in _SVG_OPEN.finditer(text):
        start = m.start()
    return start


def _bare_svg(text: str) -> str | None:
    """The last complete ``<svg>...</svg>`` element, or an unclosed one closed at the end of the text."""
    last_open = _last_svg_open(text)
    if last_open is None:
        return None
    complete = _complete_svgs(text)
    if complete is not None and complete[0] >= last_open:
        return text[complete[0]:complete[1]]
    if complete is not None and not text[complete[1]:].strip():
        return text[complete[0]:complete[1]]
    body = text[last_open:].rstrip()
    return body + "\n</svg>" if not _SVG_CLOSE_AT_END.search(body) else body


def chat_completion_answer(text: str) -> str | None:
    """The answer inside a raw chat-completion JSON (OpenAI's ``choices[0].message.content``, a string or a
    list of ``{"type": "text", "text": ...}`` parts; also ``choices[0].text``), or ``None`` when ``text`` is
    not one. A model's saved response can then be judged as it is."""
    head = text.lstrip("\ufeff \t\r\n")
    if not head.startswith("{") or '"choices"' not in text:
        return None
    import json

    try:
        doc = json.loads(head)
        choice = doc["choices"][0]
    except (ValueError, KeyError, IndexError, TypeError, RecursionError):
        return None
    if not isinstance(choice, dict):
        return None
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else choice.get("text")
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content
                          if isinstance(part, dict) and isinstance(part.get("text"), str))
    return content if isinstance(content, str) and content.strip() else None


def extract_code(text: str) -> tuple[str, str | None]:
    """Pull the code out of a model's answer; returns ``(code, kind)``, ``kind`` None when unknown.

    * raw code (no fence) comes back unchanged (a complete Python script containing a stray fence in a
      string is kept whole);
    * with fenced blocks, the last block wins; its kind comes from the fence tag or, without one, from
      the content;
    * without a fence, a bare ``<svg ...>`` in prose is cut out (and closed when the answer was cut off);
    * a raw chat-completion JSON is first replaced by its answer (:func:`chat_completion_answer`).
    """
    if isinstance(text, bytes):  # tolerate raw file bytes
        text = text.decode("utf-8", errors="replace")
    text = chat_completion_answer(text) or text
    blocks = _fenced_blocks(text)
    raw_kind = kind_from_content(text)
    if blocks:
        if raw_kind in ("matplotlib", "plotly") and _compiles(text):
            return text, raw_kind  # a whole script; its fences live in strings or comments
        candidates = [(info, body) for info, body in blocks if body.strip()]
        if candidates:
            info, body = candidates[-1]
            return body.strip("\n") + "\n", _kind_of_block(info, body)
    if raw_kind is not None and (raw_kind != "svg" or _looks_like_svg(text[:8192])):
        return text, raw_kind
    svg = _bare_svg(text)
    if svg is not None:
        return svg, "svg"
    return text, raw_kind
