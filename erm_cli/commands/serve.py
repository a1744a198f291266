"""`erm serve` (not landed yet)."""

from __future__ import annotations

from ..errors import NotYetAvailable


def serve() -> None:
    """Not available yet in this build."""
    raise NotYetAvailable("'erm serve' has not landed yet in this build")
