"""Content-addressed render cache (diskcache: SQLite + files; thread- and process-safe).

Key: sha256 of (kind, code, render options, renderer and library versions), so an upgrade of
matplotlib, Chromium or erm's renderer misses cleanly. Values are raw bytes (never pickles):
``b"\\x01" + png`` for a success, ``b"\\x00" + reason`` for a failure, so a broken sample in an RL
batch is not re-run (pass ``cache="retry-failed"`` to :func:`erm_cli.renderers.render` to bypass).
Size-limited with least-recently-used eviction: ``ERM_RENDER_CACHE_MB`` (default 2048).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_SIZE_MB = 2048
_OK, _FAIL = b"\x01", b"\x00"


@dataclass
class CachedRender:
    ok: bool
    png: bytes | None
    error: str | None


def cache_key(kind: str, code: str, options: dict[str, Any], versions: dict[str, str]) -> str:
    blob = json.dumps({"kind": kind, "code": code, "options": options, "versions": versions},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
    return hashlib.sha256(blob).hexdigest()


def default_directory() -> Path:
    from ..config import cache_dir

    return cache_dir() / "renders"


def default_size_limit() -> int:
    try:
        mb = float(os.environ.get("ERM_RENDER_CACHE_MB", DEFAULT_SIZE_MB))
    except ValueError:
        mb = DEFAULT_SIZE_MB
    return max(1, int(mb * (1 << 20)))


class RenderCache:
    """A render cache in ``directory`` (default ``<erm cache>/renders``)."""

    def __init__(self, directory: str | Path | None = None, size_limit: int | None = None):
        import diskcache

        self.directory = Path(directory) if directory else default_directory()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.size_limit = size_limit or default_size_limit()
        # diskcache's first open creates tables; a file lock avoids the known init race between processes.
        with open(self.directory / ".init.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self._cache = diskcache.Cache(str(self.directory), size_limit=self.size_limit,
                                              eviction_policy="least-recently-used", cull_limit=10,
                                              timeout=60, tag_index=True)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def get(self, key: str) -> CachedRender | None:
        value = self._cache.get(key, default=None, retry=True)
        if not isinstance(value, (bytes, bytearray)) or not value:
            return None
        if value[:1] == _OK:
            return CachedRender(True, bytes(value[1:]), None)
        return CachedRender(False, None, bytes(value[1:]).decode("utf-8", errors="replace"))

    def set(self, key: str, *, ok: bool, png: bytes | None, error: str | None, kind: str) -> None:
        value = _OK + (png or b"") if ok else _FAIL + (error or "render failed").encode("utf-8", "replace")
        self._cache.set(key, value, tag=kind, retry=True)

    def delete(self, key: str) -> bool:
        return bool(self._cache.delete(key, retry=True))

    def info(self) -> dict[str, Any]:
        entries = failures = 0
        kinds: dict[str, int] = {}
        for key in self._cache.iterkeys():
            value, tag = self._cache.get(key, default=None, tag=True, retry=True)
            if value is None:
                continue
            entries += 1
            if value[:1] == _FAIL:
                failures += 1
            kinds[str(tag)] = kinds.get(str(tag), 0) + 1
        return {"directory": str(self.directory), "entries": entries, "failures": failures,
                "by_kind": dict(sorted(kinds.items())), "size_bytes": int(self._cache.volume()),
                "size_limit_bytes": int(self.size_limit)}

    def clear(self, *, failures_only: bool = False, kind: str | None = None) -> int:
        """Remove entries (all, only failures, and/or only one kind); returns how many were removed."""
        if not failures_only and kind is None:
            return int(self._cache.clear(retry=True))
        removed = 0
        for key in list(self._cache.iterkeys()):
            value, tag = self._cache.get(key, default=None, tag=True, retry=True)
            if value is None or (kind is not None and tag != kind):
                continue
            if failures_only and value[:1] != _FAIL:
                continue
            removed += bool(self._cache.delete(key, retry=True))
        return removed

    def close(self) -> None:
        self._cache.close()

    def __len__(self) -> int:
        return len(self._cache)


_caches: dict[tuple[int, str], RenderCache] = {}
_lock = threading.Lock()


def get_cache() -> RenderCache:
    """This process's cache for the current ``ERM_CACHE_DIR`` (opened once, shared by threads)."""
    directory = str(default_directory())
    key = (os.getpid(), directory)
    with _lock:
        cache = _caches.get(key)
        if cache is None:
            cache = _caches[key] = RenderCache(directory)
        return cache
