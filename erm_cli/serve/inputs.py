"""Turning request paths into judge inputs safely: paths confined to an allowed root."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError


class PathNotAllowed(InputError):
    """A path outside the allowed root, or paths disabled (HTTP 403)."""


def resolve_under(root: Path | None, user_path: str, what: str) -> Path:
    """``user_path`` (relative to ``root``, or absolute inside it) as a real path inside ``root``."""
    if root is None:
        raise PathNotAllowed(f"{what}: paths are disabled on this server (start erm serve with --allowed-root DIR)")
    candidate = Path(user_path)
    full = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if not full.is_relative_to(root):
        raise PathNotAllowed(f"{what}: {user_path!r} is outside the allowed root")
    if not full.is_file():
        raise InputError(f"{what}: no such file under the allowed root: {user_path}")
    return full
