"""Turning request paths into judge inputs safely: paths confined to an allowed root, read through the
one safe reader (:mod:`erm_cli.inputs`: regular files only, size-capped)."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..inputs import MAX_IMAGE_BYTES, PathNotAllowed, confine, read_input_bytes

__all__ = ["PathNotAllowed", "read_image_input", "resolve_under"]


def resolve_under(root: Path | None, user_path: str, what: str) -> Path:
    """``user_path`` (relative to ``root``, or absolute inside it) as a real path inside ``root``."""
    if root is None:
        raise PathNotAllowed(f"{what}: paths are disabled on this server (start erm serve with --allowed-root DIR)")
    full = confine(user_path, root, (root,), what, show_roots=False)
    if not full.exists():
        raise InputError(f"{what}: no such file under the allowed root: {user_path}")
    return full


def read_image_input(path: Path, what: str) -> bytes:
    """The bytes of an image file named in a request (a FIFO, device or folder is refused)."""
    data = read_input_bytes(path, what, MAX_IMAGE_BYTES)
    if not data:
        raise InputError(f"{what}: empty file")
    return data
