"""Per-pixel maps of the two working frames, computed once per judged pair.

Several analysers ask for the same per-pixel map of the same image: the distance of every pixel from the
background (ink masks, dark masks, content boxes, the verifier's ink grid), its chroma (grey masks), often
of a crop. Inside :func:`frame_scope` (one ``Critic.judge`` call), a map of a whole registered frame is
kept, and a later request for the same map of that frame or of any rectangular crop of it (a numpy view
into the frame) is answered from it: a copy of the matching slice, the very values a direct computation
gives, since every map here is computed pixel by pixel.

Safety: only frames that cannot change are registered (read-only arrays whose memory belongs to an
immutable ``bytes`` object, as ``np.asarray`` of a PIL image gives); the maps live only as long as the
scope; callers get copies, so nothing they do can alter a kept map. Outside a scope nothing is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np


@dataclass
class _Frame:
    array: np.ndarray  # held so that its memory stays where the pointer says
    ptr: int
    maps: dict[tuple[str, Hashable], np.ndarray] = field(default_factory=dict)


_SCOPE: ContextVar[list[_Frame] | None] = ContextVar("erm_critic_frames", default=None)


def _immutable(arr: np.ndarray) -> bool:
    """Read-only, and every array it is a view of is too, down to an immutable owner (or numpy's own
    read-only memory)."""
    a: object = arr
    while isinstance(a, np.ndarray):
        if a.flags.writeable:
            return False
        a = a.base
    return a is None or isinstance(a, bytes)


def _frame(f: object) -> _Frame | None:
    if (isinstance(f, np.ndarray) and f.ndim == 3 and f.dtype == np.uint8 and f.shape[2] >= 3
            and f.flags.c_contiguous and _immutable(f)):
        return _Frame(f, f.__array_interface__["data"][0])
    return None


@contextmanager
def frame_scope(*frames: np.ndarray) -> Iterator[None]:
    """Keep per-pixel maps of ``frames`` (and of those :func:`register_frames` adds) while the block runs."""
    token = _SCOPE.set([])
    try:
        register_frames(*frames)
        yield
    finally:
        _SCOPE.reset(token)


def register_frames(*frames: np.ndarray) -> None:
    """Inside a :func:`frame_scope`, keep maps of these frames too (H x W x 3 uint8, C-contiguous,
    immutable: others are ignored, as is a frame already registered). Outside a scope: nothing."""
    kept = _SCOPE.get()
    if kept is None:
        return
    for f in frames:
        fr = _frame(f)
        if fr is not None and not any(k.array is f for k in kept):
            kept.append(fr)


def _locate(arr: np.ndarray) -> tuple[_Frame, int, int, bool] | None:
    """(frame, row, column, whole frame) when ``arr`` is a rectangular view of a registered frame's pixels
    (all of its first three channels, in order)."""
    frames = _SCOPE.get()
    if not frames or arr.ndim != 3 or arr.dtype != np.uint8 or arr.shape[2] != 3:
        return None
    ptr = arr.__array_interface__["data"][0]
    for fr in frames:
        f = fr.array
        if arr.strides != f.strides:
            continue
        off = ptr - fr.ptr
        if off < 0:
            continue
        row, rem = divmod(off, f.strides[0])
        col, chan = divmod(rem, f.strides[1])
        h, w = arr.shape[:2]
        if chan != 0 or row + h > f.shape[0] or col + w > f.shape[1]:
            continue
        whole = row == 0 and col == 0 and h == f.shape[0] and w == f.shape[1]
        return fr, row, col, whole
    return None


def frame_map(kind: str, key: Hashable, arr: np.ndarray, compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``compute(arr)`` for a per-pixel map ``kind`` with parameters ``key``: from the scope's kept map of
    the frame ``arr`` views when there is one; a map of a whole frame is kept for later requests."""
    where = _locate(arr)
    if where is None:
        return compute(arr)
    fr, row, col, whole = where
    kept = fr.maps.get((kind, key))
    if kept is not None:
        h, w = arr.shape[:2]
        return kept[row:row + h, col:col + w].copy()
    out = compute(arr)
    if whole:
        fr.maps[(kind, key)] = out.copy()
    return out


def pair_memo(kind: str, key: Hashable, frames: tuple[np.ndarray, ...], compute: Callable[[], object]) -> object:
    """``compute()`` once per scope for a result determined by ``key`` and the registered ``frames`` (the very
    array objects, not copies or crops): a computation two analysers ask for with the same arguments. Outside a
    scope, or for arrays that are not registered frames, it is simply computed."""
    kept = _SCOPE.get()
    if not kept:
        return compute()
    owners = [next((fr for fr in kept if fr.array is f), None) for f in frames]
    if not owners or any(o is None for o in owners):
        return compute()
    slot = (kind, key, tuple(id(o) for o in owners))
    memo = owners[0].maps  # type: ignore[union-attr]
    if slot not in memo:
        memo[slot] = compute()  # type: ignore[assignment]
    return memo[slot]
