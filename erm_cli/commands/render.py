"""`erm render` (not landed yet)."""

from __future__ import annotations

from ..errors import NotYetAvailable


def render() -> None:
    """Not available yet in this build."""
    raise NotYetAvailable("'erm render' has not landed yet in this build")
