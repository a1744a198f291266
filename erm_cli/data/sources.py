"""Ground-truth documents for ``erm synth``: the built-in generators and user-supplied code (``--source``).

Every document type offers the same small interface: ``code()``, ``copy()``, ``kind`` and an integer
``code_style`` that changes only the spelling of the code (used for invisible-change pairs); the
perturbation registry of its type edits it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .perturbation import PerturbationInfo

SOURCE_SUFFIXES = {
    ".py": "python",
    ".svg": "svg",
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
}
#: Largest user source file read (bytes).
MAX_SOURCE_BYTES = 2_000_000


@dataclass(frozen=True)
class SourceFile:
    """A user code file, its kind (matplotlib, plotly, svg, html, markdown) and task."""

    path: Path
    kind: str
    task: str
    text: str


def find_sources(path: Path, task: str) -> list[SourceFile]:
    """User code files under ``path`` (a file or a folder, searched recursively) for ``task`` (or "all")."""
    from ..renderers import TASK_OF_KIND, detect_kind

    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"--source: no such file or folder: {p}")
    from ..inputs import read_input_bytes

    single = not p.is_dir()  # one file: it must be a regular file (a FIFO or a device is refused, exit 2)
    files = [p] if single else sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SOURCE_SUFFIXES)
    out = []
    for f in files:
        try:
            data = read_input_bytes(f, "--source", MAX_SOURCE_BYTES)
        except InputError:
            if single:
                raise
            continue  # in a folder, files that are too big or unreadable are skipped
        if not data:
            continue
        text = data.decode("utf-8", errors="replace")
        try:
            kind = detect_kind(text, f.name)
        except InputError:
            continue
        if kind not in TASK_OF_KIND or kind == "latex":
            continue
        t = TASK_OF_KIND[kind]
        if task in (t, "all"):
            out.append(SourceFile(f, kind, t, text))
    if not out:
        what = "chart (.py), table (.html/.md) or SVG (.svg)" if task == "all" else task
        raise InputError(f"--source: no usable {what} code files in {p}")
    return out


def parse_source(src: SourceFile) -> Any:
    """The editable document of a user file (InputError when it cannot be read as one)."""
    if src.kind in ("matplotlib", "plotly"):
        from .perturb_code import CodeDoc

        if not CodeDoc(src.text, src.kind).sites():
            raise InputError(
                f"{src.path.name}: no editable literals (titles, labels, data lists, colours) found"
            )
        return CodeDoc(src.text, src.kind)
    if src.kind == "svg":
        from .svgs import parse_svg

        return parse_svg(src.text)
    if src.kind == "html":
        from .tables import parse_html_table

        return parse_html_table(src.text)
    if src.kind == "markdown":
        from .tables import parse_markdown_table

        return parse_markdown_table(src.text)
    raise InputError(f"{src.path.name}: unsupported kind {src.kind}")


def generate(
    task: str,
    rng: random.Random,
    *,
    plotly_share: float = 0.3,
    markdown_share: float = 0.35,
    icons: tuple[Any, ...] | None = None,
    svg_px: int = 256,
) -> Any:
    """A random ground-truth document for ``task``."""
    if task == "chart":
        from .charts import random_chart

        return random_chart(rng, "plotly" if rng.random() < plotly_share else "matplotlib")
    if task == "table":
        from .tables import random_table

        return random_table(rng, "markdown" if rng.random() < markdown_share else "html")
    if task == "svg":
        from .svgs import random_svg

        return random_svg(rng, icons, px=svg_px)
    raise InputError(f"unknown task {task!r}")


def perturbations_for(doc: Any) -> dict[str, PerturbationInfo]:
    """The perturbation registry that edits this document type."""
    name = type(doc).__name__
    if name == "ChartSpec":
        from .perturb_chart import PERTURBATIONS
    elif name == "Table":
        from .perturb_table import PERTURBATIONS
    elif name == "SvgDoc":
        from .perturb_svg import PERTURBATIONS
    elif name == "CodeDoc":
        from .perturb_code import PERTURBATIONS
    else:
        raise TypeError(f"no perturbations for {name}")
    return PERTURBATIONS
