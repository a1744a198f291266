"""Code -> PNG. One renderer per language behind one call, sandboxed and cached.

    from erm_cli.renderers import render
    result = render(code)                 # kind detected from the content
    result = render(code, kind="svg", options=RenderOptions(width=336, height=336))

``render`` never raises for bad *code* (``result.ok`` is False with a one-line ``error``); it raises
:class:`erm_cli.errors.InputError` only for bad *arguments* (an unknown kind).
"""

from __future__ import annotations

from .api import render, render_many
from .base import EXTENSION_OF_KIND, KINDS, TASK_OF_KIND, RenderOptions, RenderResult
from .detect import detect_kind, extract_code

__all__ = [
           "EXTENSION_OF_KIND",
           "KINDS",
           "TASK_OF_KIND",
           "RenderOptions",
           "RenderResult",
           "detect_kind",
           "extract_code",
           "render",
           "render_many",
]
