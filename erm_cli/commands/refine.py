"""`erm refine` (not landed yet)."""

from __future__ import annotations

from ..errors import NotYetAvailable


def refine() -> None:
    """Not available yet in this build."""
    raise NotYetAvailable("'erm refine' has not landed yet in this build")
