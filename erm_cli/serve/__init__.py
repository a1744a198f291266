"""``erm serve``: the judge as an HTTP reward service, optionally an OpenAI-compatible model endpoint.

    from erm_cli.serve import create_app
    app = create_app("vlm", model="tiny:qwen3-vl", openai_model="tiny:qwen3-vl")

See :mod:`erm_cli.serve.app` for routes and limits and :mod:`erm_cli.serve.testing` for
``running_server`` (a real server on a free loopback port, for tests).
"""

from __future__ import annotations

from typing import Any


def create_app(*args: Any, **kwargs: Any) -> Any:
    """Build the FastAPI app; see :func:`erm_cli.serve.app.create_app`."""
    from .app import create_app as _create_app

    return _create_app(*args, **kwargs)


__all__ = ["create_app"]
