"""`erm synth` (not landed yet)."""

from __future__ import annotations

from ..errors import NotYetAvailable


def synth() -> None:
    """Not available yet in this build."""
    raise NotYetAvailable("'erm synth' has not landed yet in this build")
