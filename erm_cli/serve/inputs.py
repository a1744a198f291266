"""Turning request paths into judge inputs safely: paths confined to an allowed root, read through the
one safe reader (:mod:`erm_cli.inputs`: regular files only, size-capped)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import InputError
from ..inputs import MAX_IMAGE_BYTES, PathNotAllowed, confine, read_input_bytes

__all__ = ["PathNotAllowed", "allowed_folders", "read_image_input", "resolve_under"]


def allowed_folders(allowed_root: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None) -> tuple[Path, ...]:
    """``--allowed-root`` (one folder or several) as resolved folders; () when none (paths are then refused)."""
    if allowed_root is None:
        return ()
    given = [allowed_root] if isinstance(allowed_root, (str, os.PathLike)) else list(allowed_root)
    roots = []
    for r in given:
        root = Path(r).expanduser().resolve()
        if not root.is_dir():
            raise InputError(f"--allowed-root is not a folder: {r}")
        roots.append(root)
    return tuple(dict.fromkeys(roots))


def resolve_under(roots: Path | Sequence[Path] | None, user_path: str, what: str) -> Path:
    """``user_path`` as a real path inside one of ``roots`` (the ``--allowed-root`` folders): an absolute path
    must resolve inside one of them; a relative one is looked up in each in turn (the first where it exists).
    A name that exists under a root but resolves outside them all (a symlink, ``..``) is refused there."""
    folders: tuple[Path, ...] = (roots,) if isinstance(roots, Path) else tuple(roots or ())
    if not folders:
        raise PathNotAllowed(f"{what}: paths are disabled on this server (start erm serve with --allowed-root DIR)")
    refused: PathNotAllowed | None = None
    inside = False
    for root in folders:
        try:
            full = confine(user_path, root, folders, what, show_roots=False)
        except PathNotAllowed as exc:
            if os.path.lexists(root / str(user_path)):
                raise  # this root holds the name, and it leads outside
            refused = refused or exc
            continue
        inside = True
        if full.exists():
            return full
    if not inside and refused is not None:
        raise refused
    raise InputError(f"{what}: no such file under the allowed root: {user_path}")


def read_image_input(path: Path, what: str) -> bytes:
    """The bytes of an image file named in a request (a FIFO, device or folder is refused)."""
    data = read_input_bytes(path, what, MAX_IMAGE_BYTES)
    if not data:
        raise InputError(f"{what}: empty file")
    return data
