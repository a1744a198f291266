"""Paths and settings shared by every verb (environment variables override defaults)."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def cache_dir() -> Path:
    """Root of erm's caches (renders, tiny models, matplotlib font cache).

    ``ERM_CACHE_DIR`` overrides; otherwise ``$XDG_CACHE_HOME/erm`` or ``~/.cache/erm``.
    """
    env = os.environ.get("ERM_CACHE_DIR")
    if env:
        path = Path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = Path(base) / "erm"
    path.mkdir(parents=True, exist_ok=True)
    return path


def shared_data_dir() -> Path | None:
    """The third-party data folder (``../shared/data`` beside a checkout), if present.

    ``ERM_SHARED_DATA`` overrides.
    """
    env = os.environ.get("ERM_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_DIR.parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


def examples_dir() -> Path:
    return REPO_DIR / "examples"
