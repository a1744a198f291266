"""Running batch items somewhere else than in this process's threads (``--ray``).

The batch engines (:func:`erm_cli.renderers.api.iter_render`, :func:`erm_cli.bench.judge_bench.judge_items`)
take an optional *executor*: any object with ``map_unordered(fn, items)`` yielding ``(index, fn(item))`` as
items finish. :class:`ItemTask` is what they hand it: a picklable callable that can also describe a failure
of the machinery (a worker that died on the item) in its own result format. This module imports nothing
heavy; :mod:`erm_cli.distributed.ray_pool` is the Ray implementation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, TypeVar

R = TypeVar("R")


class ItemTask(Protocol[R]):
    """Work on one item; must pickle (it is shipped to every worker once) and never raise for a bad item."""

    def __call__(self, item: Any) -> R: ...

    def failed(self, item: Any, reason: str) -> R:
        """The result recorded for an item the machinery could not finish (its worker kept dying)."""
        ...


class ItemExecutor(Protocol):
    def map_unordered(self, fn: ItemTask[R], items: Sequence[Any]) -> Iterator[tuple[int, R]]:
        """``(index, result)`` for every item exactly once, in completion order."""
        ...
