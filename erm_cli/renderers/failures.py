"""The two ways a render can fail.

:class:`CodeFailure`: the code itself cannot be rendered (syntax error, exception, timeout, no figure,
hostile input refused). It becomes ``RenderResult(ok=False, error=...)`` and is cached.
:class:`erm_cli.errors.RenderFailure` subclasses (``SandboxUnavailable``, ``BrowserUnavailable``): the
machinery is missing or broken (no Chromium, no bwrap, the sandbox would not start). Never cached;
``render`` raises them, ``render_many`` records them per item.
"""

from __future__ import annotations


class CodeFailure(Exception):
    """The code could not be rendered; ``str(exc)`` is the one-line reason."""
