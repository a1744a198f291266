"""Per-pixel maps of a judged pair's frames are made once and give the same values as a direct computation
(framecache.py), for whole frames and for crops of them; frames that could change are never cached."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from erm_cli.judges.critic.colour import _channel_distance, _chroma_of, channel_distance, chroma_of
from erm_cli.judges.critic.framecache import frame_map, frame_scope, register_frames


def _chart() -> np.ndarray:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(["a", "b", "c"], [3, 5, 2], color="#d62728")
    ax.plot([0, 1, 2], [2, 4, 1], color="#1f77b4", marker="o")
    ax.set_title("Sales")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), dtype=np.uint8)


def test_maps_of_frames_and_crops_equal_the_direct_computation() -> None:
    frame = _chart()
    assert not frame.flags.writeable  # np.asarray of a PIL image: its memory is an immutable bytes object
    crops = [(slice(None), slice(None)), (slice(10, 200), slice(30, 250)), (slice(0, 1), slice(5, 6)),
             (slice(150, 300), slice(300, 400))]
    with frame_scope(frame):
        for _ in range(2):  # the second round is answered from the kept whole-frame maps
            for colour in ((255, 255, 255), (31, 119, 180)):
                for sl in crops:
                    got = channel_distance(frame[sl], colour)
                    assert np.array_equal(got, _channel_distance(frame[sl], colour))
            for sl in crops:
                assert np.array_equal(chroma_of(frame[sl]), _chroma_of(frame[sl]))
        # a caller changing its result cannot change what the next caller gets
        first = channel_distance(frame, (255, 255, 255))
        first[...] = 7
        assert np.array_equal(channel_distance(frame, (255, 255, 255)), _channel_distance(frame, (255, 255, 255)))


def test_whole_frame_maps_are_computed_once_and_only_inside_a_scope() -> None:
    frame = _chart()
    calls: list[tuple[int, ...]] = []

    def grey(a: np.ndarray) -> np.ndarray:
        calls.append(a.shape)
        return a.max(axis=2)

    frame_map("grey", None, frame, grey)
    frame_map("grey", None, frame, grey)
    assert len(calls) == 2  # no scope: nothing kept
    calls.clear()
    with frame_scope():
        register_frames(frame)
        frame_map("grey", None, frame[20:40, 10:90], grey)  # a crop before the whole map exists: computed
        whole = frame_map("grey", None, frame, grey)
        crop = frame_map("grey", None, frame[20:40, 10:90], grey)
        again = frame_map("grey", None, frame, grey)
    assert calls == [(20, 80, 3), frame.shape]
    assert np.array_equal(crop, frame[20:40, 10:90].max(axis=2)) and np.array_equal(again, whole)
    frame_map("grey", None, frame, grey)  # the scope ended: computed again
    assert len(calls) == 3


def test_frames_that_can_change_are_not_cached() -> None:
    writable = _chart().copy()
    calls = []

    def dist(a: np.ndarray) -> np.ndarray:
        calls.append(1)
        return _channel_distance(a, (255, 255, 255))

    with frame_scope(writable):
        before = frame_map("distance", (255, 255, 255), writable, dist)
        writable[:50] = 0  # a writable frame may change: its maps must follow
        after = frame_map("distance", (255, 255, 255), writable, dist)
    assert len(calls) == 2
    assert (after[:50] == 255).all() and not np.array_equal(before, after)
    view = np.asarray(Image.fromarray(_chart()))
    base = view.copy()
    readonly_view = base.view()
    readonly_view.flags.writeable = False  # read-only, but its owner is not: still not cached
    with frame_scope(readonly_view):
        frame_map("distance", (255, 255, 255), readonly_view, dist)
        frame_map("distance", (255, 255, 255), readonly_view, dist)
    assert len(calls) == 4


def test_pair_memo_computes_once_per_scope_for_registered_frames_only() -> None:
    from erm_cli.judges.critic.colour import paint_shift
    from erm_cli.judges.critic.framecache import pair_memo

    a, b = _chart(), _chart()
    calls: list[int] = []

    def work() -> int:
        calls.append(1)
        return len(calls)

    assert pair_memo("k", 1, (a, b), work) == 1 and pair_memo("k", 1, (a, b), work) == 2  # no scope
    with frame_scope(a, b):
        first = pair_memo("k", 1, (a, b), work)
        assert pair_memo("k", 1, (a, b), work) == first  # the same question: answered once
        assert pair_memo("k", 2, (a, b), work) != first  # another key
        assert pair_memo("k", 1, (a[1:], b), work) != first  # a crop is no registered frame: computed
    assert len(calls) == 5
    # paint_shift, memoised inside a scope, answers what it computes outside one
    foot = np.zeros(a.shape[:2], bool)
    foot[40:200, 60:300] = a[40:200, 60:300, 0] < 200
    direct = paint_shift(a, b, foot, (214, 39, 40), (31, 119, 180), (255, 255, 255))
    with frame_scope(a, b):
        assert paint_shift(a, b, foot, (214, 39, 40), (31, 119, 180), (255, 255, 255)) == direct
        assert paint_shift(a, b, foot.copy(), (214, 39, 40), (31, 119, 180), (255, 255, 255)) == direct
