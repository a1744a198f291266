"""Turning request fields into judge inputs safely: base64 decoding and paths confined to a root."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from ..errors import InputError


class PathNotAllowed(InputError):
    """A path outside the allowed root, or paths disabled (HTTP 403)."""


def decode_b64(data: str, what: str) -> bytes:
    """Raw or ``data:...;base64,`` text -> bytes; :class:`InputError` on junk."""
    text = data.strip()
    if text.startswith("data:"):
        _, _, text = text.partition(",")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError(f"{what}: not valid base64 ({exc})") from None
    if not raw:
        raise InputError(f"{what}: empty after base64 decoding")
    return raw


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
