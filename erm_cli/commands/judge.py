"""`erm judge` (not landed yet)."""

from __future__ import annotations

from ..errors import NotYetAvailable


def judge() -> None:
    """Not available yet in this build."""
    raise NotYetAvailable("'erm judge' has not landed yet in this build")
