"""Prompts of the model policy (our own words): write code from an image, revise code from a judge's list.

The revision prompt follows the shape ChartMimic's self-revision and Visual-ERM's reflection use —
reference, current render, current code, feedback — but the feedback is the judge's structured error
list (or the renderer's error), ordered by severity, and the model is told to change only what the
list names and to return the whole program.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from ..judges.verdict import SEVERITY_NAMES, Verdict

LANGUAGE_OF_KIND: dict[str, tuple[str, str]] = {
    # kind: (what to write, fence tag)
    "matplotlib": ("Python code using matplotlib", "python"),
    "plotly": ("Python code using plotly", "python"),
    "svg": ("a standalone SVG document", "svg"),
    "html": ("an HTML <table> (inline CSS allowed)", "html"),
    "markdown": ("a Markdown table", "markdown"),
    "latex": ("a LaTeX tabular environment", "latex"),
}

TASK_NOUN = {"chart": "chart", "table": "table", "svg": "icon / vector graphic"}

MAX_ERRORS_IN_PROMPT = 25
MAX_CODE_CHARS = 12_000
MAX_RENDER_ERROR_CHARS = 1_500


def _language(kind: str) -> tuple[str, str]:
    return LANGUAGE_OF_KIND.get(kind, (f"{kind} code", kind))


def size_hint(kind: str, reference: Image.Image) -> str:
    w, h = reference.size
    if kind == "matplotlib":
        return f"Use figsize=({w / 100:.2f}, {h / 100:.2f}) with dpi=100 so the figure is {w}x{h} pixels."
    if kind == "plotly":
        return f"Make the figure {w}x{h} pixels (layout width={w}, height={h})."
    if kind == "svg":
        return f'Use width="{w}" height="{h}" and viewBox="0 0 {w} {h}".'
    return ""


def draft_prompt(task: str, kind: str, reference: Image.Image) -> str:
    what, fence = _language(kind)
    noun = TASK_NOUN.get(task, task)
    lines = [
        f"The image shows a {noun}. Write {what} that reproduces it as exactly as you can: the same layout, "
        "every text string, every data value, the same colours, shapes and sizes.",
        size_hint(kind, reference),
    ]
    if kind in ("matplotlib", "plotly"):
        lines.append("Do not call plt.show() or save the figure; the renderer does that.")
    lines.append(f"Answer with the complete code in one ```{fence} block and nothing else.")
    return "\n".join(x for x in lines if x)


def format_errors(verdict: Verdict | None, limit: int = MAX_ERRORS_IN_PROMPT) -> str:
    """The judge's list as numbered lines, most severe first."""
    if verdict is None or not verdict.errors:
        return "(the judge listed no errors)"
    rows: list[str] = []
    errors = verdict.sorted_errors()
    for i, e in enumerate(errors[:limit], 1):
        sev = SEVERITY_NAMES.get(e.severity, str(e.severity))
        where = f" at {e.location}" if e.location else ""
        rows.append(f"{i}. [{e.category}, {sev}]{where}: {e.description}".rstrip(": "))
    if len(errors) > limit:
        rows.append(f"... and {len(errors) - limit} less severe error(s).")
    return "\n".join(rows)


def _clip(text: str, limit: int, keep: str = "head") -> str:
    if len(text) <= limit:
        return text
    if keep == "tail":
        return "..." + text[-limit:]
    return text[:limit] + "\n... (truncated)"


def revision_prompt(task: str, kind: str, reference: Image.Image, code: str, verdict: Verdict | None,
                    render_error: str | None, failed_attempts: list[dict[str, Any]] | None = None) -> str:
    """Text of the revision request; the images (reference, then current render) go before it."""
    what, fence = _language(kind)
    noun = TASK_NOUN.get(task, task)
    parts: list[str] = []
    if render_error:
        parts.append(f"Image 1 is a reference {noun}. Below is {what} meant to reproduce it, but it failed to "
                     f"render. The renderer reported:\n{_clip(render_error.strip(), MAX_RENDER_ERROR_CHARS, 'tail')}")
        parts.append("Fix the code so that it renders and reproduces Image 1.")
    else:
        score = f" (reward {verdict.reward:.3f})" if verdict is not None else ""
        parts.append(f"Image 1 is a reference {noun}. Image 2 is the render of the {what} below{score}. "
                     "A visual judge compared them and listed these discrepancies:")
        parts.append(format_errors(verdict))
        parts.append("Revise the code so that its render matches Image 1: fix every listed discrepancy, most "
                     "severe first, and keep everything that already matches unchanged.")
    parts.append(size_hint(kind, reference))
    parts.append(f"Current code:\n```{fence}\n{_clip(code, MAX_CODE_CHARS)}\n```")
    for att in (failed_attempts or [])[:2]:
        why = att.get("render_error") or f"scored reward {att.get('reward', 0):.3f}, not better"
        parts.append(f"An earlier revision was rejected ({_clip(str(why), 300, 'tail')}); try a different fix.")
    parts.append(f"Answer with the complete revised code in one ```{fence} block and nothing else.")
    return "\n\n".join(p for p in parts if p)
