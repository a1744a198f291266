"""``render`` and ``render_many``: code -> PNG through the cache, the sandbox and the warm browser.

    from erm_cli.renderers import render, render_many, RenderOptions
    result = render(chat_completion)                     # code extracted, kind detected
    results = render_many([code1, (code2, "svg"), {"code": code3, "kind": "html"}], workers=4)

Cache modes (``cache=``): ``True`` read and write; ``False`` neither; ``"refresh"`` re-render and
overwrite; ``"retry-failed"`` use cached successes but re-run cached failures.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any

from ..errors import ErmError, InputError
from ..inputs import check_text_size
from .base import KINDS, RenderOptions, RenderResult
from .detect import extract_code
from .failures import CodeFailure

CacheMode = bool | str
CACHE_MODES = (True, False, "refresh", "retry-failed")


def _render_plotly(code: str, options: RenderOptions) -> bytes:
    from .plotly_renderer import PlotlyDrawError, render_plotly_json
    from .sandbox import run_untrusted

    deadline = time.monotonic() + options.timeout  # one budget for the sandboxed code and the browser draw
    result = run_untrusted("plotly", code, timeout=options.timeout, mem_mb=options.mem_mb, strict=options.strict)
    if not result.ok:
        raise CodeFailure(result.error or "render failed")
    left = deadline - time.monotonic()
    if left <= 0:
        raise CodeFailure(f"timed out: the figure took more than {options.timeout:g} s to build")
    try:
        return render_plotly_json(result.payload, options.width, options.height, timeout=left, mem_mb=options.mem_mb)
    except PlotlyDrawError as exc:
        raise CodeFailure(str(exc)) from None


def _render_table(kind: str) -> Callable[[str, RenderOptions], bytes]:
    def run(code: str, options: RenderOptions) -> bytes:
        from .table_renderer import TableRenderTimeout, TableSourceError, render_table

        try:
            return render_table(kind, code, timeout=options.timeout, mem_mb=options.mem_mb, profile=options.profile)
        except (TableSourceError, TableRenderTimeout) as exc:
            raise CodeFailure(str(exc)) from None

    return run


def _render_matplotlib(code: str, options: RenderOptions) -> bytes:
    from .matplotlib_renderer import render_matplotlib

    return render_matplotlib(code, options)


def _render_svg(code: str, options: RenderOptions) -> bytes:
    from .svg_renderer import render_svg

    return render_svg(code, options)


RENDERERS: dict[str, Callable[[str, RenderOptions], bytes]] = {
    "matplotlib": _render_matplotlib, "plotly": _render_plotly, "svg": _render_svg,
    "html": _render_table("html"), "markdown": _render_table("markdown"), "latex": _render_table("latex"),
}


def check_options(options: RenderOptions) -> None:
    for name in ("width", "height"):
        value = getattr(options, name)
        if value is not None and not (1 <= int(value) <= 16384):
            raise InputError(f"{name} must be between 1 and 16384 pixels, not {value}")
    if not (10 <= options.dpi <= 1200):
        raise InputError(f"dpi must be between 10 and 1200, not {options.dpi}")
    if not (0 < options.timeout <= 3600):
        raise InputError(f"timeout must be between 0 and 3600 seconds, not {options.timeout}")
    if not (64 <= options.mem_mb <= 65536):
        raise InputError(f"mem_mb must be between 64 and 65536, not {options.mem_mb}")


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in KINDS:
        raise InputError(f"unknown kind {kind!r}; choose one of: {', '.join(KINDS)}")


def _check_cache_mode(cache: CacheMode) -> None:
    if cache not in CACHE_MODES:
        raise InputError(f"cache must be one of {CACHE_MODES}, not {cache!r}")


def prepare_code(code: str | bytes, kind: str | None) -> tuple[str, str | None]:
    """Decode, extract the code from a model answer, and settle the kind (None when undetectable)."""
    if isinstance(code, (bytes, bytearray)):
        code = bytes(code).decode("utf-8", errors="replace")
    extracted, detected = extract_code(code)
    return extracted, kind or detected


def render(code: str | bytes, kind: str | None = None, options: RenderOptions | None = None,
           cache: CacheMode = True) -> RenderResult:
    """Render ``code`` (raw code or a model answer with fenced blocks) to PNG.

    Never raises for bad code: ``ok`` is False and ``error`` holds one line. Raises
    :class:`InputError` for bad arguments (unknown kind, out-of-range options) and
    :class:`erm_cli.errors.RenderFailure` when the machinery is missing (no Chromium for a table, no
    bubblewrap for ``strict``, a sandbox that will not start).
    """
    t0 = time.perf_counter()
    options = options or RenderOptions()
    _check_kind(kind)
    _check_cache_mode(cache)
    check_options(options)
    check_text_size(code, "code")  # every host-side parse below sees at most MAX_CODE_BYTES
    text, kind = prepare_code(code, kind)
    if not text.strip():
        return RenderResult(ok=False, kind=kind or "unknown", error="empty code",
                            seconds=time.perf_counter() - t0)
    if kind is None:
        return RenderResult(ok=False, kind="unknown", seconds=time.perf_counter() - t0,
                            error=f"cannot tell the code language; pass a kind ({', '.join(KINDS)})")
    if options.profile != "erm":  # render like the released Visual-ERM reward code (profiles.py)
        from .profiles import apply_profile

        raw = code.decode("utf-8", errors="replace") if isinstance(code, (bytes, bytearray)) else code
        kind, text, options = apply_profile(kind, text, options, raw=raw)
    from .cache import cache_key, get_cache
    from .versions import versions_for

    versions = versions_for(kind)
    key = cache_key(kind, text, options.key(), versions)
    store = get_cache() if cache is not False else None
    if store is not None and cache != "refresh":
        hit = store.get(key)
        if hit is not None and (hit.ok or cache != "retry-failed"):
            return RenderResult(ok=hit.ok, kind=kind, png=hit.png, error=hit.error, cache_hit=True,
                                seconds=time.perf_counter() - t0, versions=versions, key=key,
                                profile=options.profile)
    left = options.timeout - (time.perf_counter() - t0)  # --timeout is the whole item's budget
    try:
        if left <= 0:
            raise CodeFailure(f"timed out after {options.timeout:g} s (before rendering)")
        png: bytes | None = RENDERERS[kind](text, replace(options, timeout=left))
        ok, error = True, None
    except CodeFailure as exc:
        png, ok, error = None, False, name_the_limit((str(exc).splitlines() or ["render failed"])[0][:500],
                                                     options.timeout)
    if store is not None:
        store.set(key, ok=ok, png=png, error=error, kind=kind)
    return RenderResult(ok=ok, kind=kind, png=png, error=error, seconds=time.perf_counter() - t0,
                        versions=versions, key=key, profile=options.profile)


#: A renderer's time-out message names the seconds it was given: what was left of the item's budget.
_TIMED_OUT = re.compile(r"(timed out after|took more than) [0-9.]+(?:e[+-]?[0-9]+)? s")


def name_the_limit(error: str, limit: float) -> str:
    """``error`` with the item's time limit (``--timeout``) where a renderer named the budget left of it
    ("timed out after 0.979 s" under ``--timeout 1`` reads "timed out after 1 s")."""
    return _TIMED_OUT.sub(lambda m: f"{m.group(1)} {limit:g} s", error, count=1)


# ------------------------------------------------------------------------------------ many items
@dataclass
class RenderItem:
    """One item of a batch: ``code`` (or a model answer), an optional ``kind``, and render ``options`` for
    this item alone (default: the batch's)."""

    code: str | bytes
    kind: str | None = None
    options: RenderOptions | None = None


ItemLike = str | bytes | tuple | dict | RenderItem


def as_item(item: ItemLike) -> RenderItem:
    if isinstance(item, RenderItem):
        return item
    if isinstance(item, (str, bytes)):
        return RenderItem(item)
    if isinstance(item, tuple) and 1 <= len(item) <= 2:
        return RenderItem(item[0], item[1] if len(item) == 2 else None)
    if isinstance(item, dict) and "code" in item:
        return RenderItem(item["code"], item.get("kind"))
    raise InputError(f"cannot render {type(item).__name__}: pass code, (code, kind) or {{'code', 'kind'}}")


def _safe_render(item: RenderItem, options: RenderOptions | None, cache: CacheMode) -> RenderResult:
    t0 = time.perf_counter()
    try:
        return render(item.code, item.kind, options, cache)
    except ErmError as exc:  # a bad kind, or missing machinery: this item fails, the batch goes on
        return RenderResult(ok=False, kind=item.kind or "unknown", error=str(exc).splitlines()[0] if str(exc)
                            else exc.__class__.__name__, seconds=time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - a bug must not lose the batch either
        return RenderResult(ok=False, kind=item.kind or "unknown", seconds=time.perf_counter() - t0,
                            error=f"internal error: {exc.__class__.__name__}: {exc}".splitlines()[0][:500])


@dataclass(frozen=True)
class RenderTask:
    """One item's render as a picklable callable: what an executor (``--ray``) runs on its workers."""

    options: RenderOptions | None
    cache: CacheMode

    def __call__(self, item: RenderItem) -> RenderResult:
        return _safe_render(item, item.options or self.options, self.cache)

    def failed(self, item: RenderItem, reason: str) -> RenderResult:
        return RenderResult(ok=False, kind=item.kind or "unknown", error=reason)


def default_workers() -> int:
    return max(2, min(8, os.cpu_count() or 2))


def iter_render(items: Iterable[ItemLike], options: RenderOptions | None = None, *, workers: int | None = None,
                cache: CacheMode = True, executor: Any = None) -> Iterator[tuple[int, RenderResult]]:
    """Render items concurrently; yields ``(index, result)`` as each finishes (not in input order).

    Threads only wait: the work runs in sandboxed children and the browser thread. A bad item yields
    a failed result; it never stops the others. ``executor`` (an :class:`erm_cli.distributed.ItemExecutor`,
    e.g. a Ray pool) runs the renders on its workers instead of this process's threads.
    """
    _check_cache_mode(cache)
    if options is not None:
        check_options(options)
    if executor is not None:
        prepared: list[RenderItem] = []
        refused: list[tuple[int, RenderResult]] = []
        for index, raw in enumerate(items):
            try:
                prepared.append(as_item(raw))
            except InputError as exc:
                prepared.append(RenderItem(""))
                refused.append((index, RenderResult(ok=False, kind="unknown", error=str(exc))))
        bad = {index for index, _ in refused}
        yield from refused
        todo = [i for i in range(len(prepared)) if i not in bad]
        for pos, result in executor.map_unordered(RenderTask(options, cache), [prepared[i] for i in todo]):
            yield todo[pos], result
        return
    n_workers = max(1, int(workers or default_workers()))
    window = n_workers * 4
    iterator = enumerate(items)
    with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="erm-render") as pool:
        running: dict[Future, int] = {}

        def fill() -> None:
            while len(running) < window:
                try:
                    index, raw = next(iterator)
                except StopIteration:
                    return
                try:
                    item = as_item(raw)
                except InputError as exc:
                    fut: Future = Future()
                    fut.set_result(RenderResult(ok=False, kind="unknown", error=str(exc)))
                else:
                    fut = pool.submit(_safe_render, item, item.options or options, cache)
                running[fut] = index

        fill()
        while running:
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                index = running.pop(fut)
                yield index, fut.result()
            fill()


def render_many(items: Iterable[ItemLike], options: RenderOptions | None = None, *, workers: int | None = None,
                cache: CacheMode = True, progress: bool | Callable[[int, int], Any] | None = None,
                description: str = "rendering", executor: Any = None) -> list[RenderResult]:
    """Render many items concurrently; returns results in input order.

    ``items``: code strings, ``(code, kind)`` tuples, ``{"code", "kind"}`` dicts or :class:`RenderItem`.
    ``workers``: concurrent renders (default: CPU count, 2..8). ``progress``: True for a progress bar
    on stderr, or a callable ``(done, total)``. ``executor``: see :func:`iter_render`.
    """
    items = list(items)
    results: list[RenderResult | None] = [None] * len(items)
    callback: Callable[[int, int], Any] | None = progress if callable(progress) else None
    bar = None
    if progress is True and items:
        from ..console import progress as make_progress

        bar = make_progress(disable=not sys.stderr.isatty() and not os.environ.get("ERM_PROGRESS"))
        bar.start()
        task = bar.add_task(description, total=len(items))
    lock = threading.Lock()
    done = 0
    try:
        for index, result in iter_render(items, options, workers=workers, cache=cache, executor=executor):
            results[index] = result
            with lock:
                done += 1
            if bar is not None:
                bar.advance(task)
            if callback is not None:
                callback(done, len(items))
    finally:
        if bar is not None:
            bar.stop()
    return [r for r in results if r is not None]
