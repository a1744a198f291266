"""The render cache: hits, misses, cached failures, LRU eviction, concurrent processes, `erm cache`."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from erm_cli.renderers import RenderOptions, render
from erm_cli.renderers.cache import RenderCache, cache_key, get_cache

PLT = "import matplotlib.pyplot as plt\n"


def unique_chart(tag: str) -> str:
    return PLT + f"fig, ax = plt.subplots(figsize=(2, 2))\nax.plot([0, 1])\nax.set_title({tag!r})\n"


def test_key_covers_kind_code_options_and_versions() -> None:
    base = cache_key("svg", "<svg/>", RenderOptions().key(), {"cairosvg": "2.9.1"})
    assert base == cache_key("svg", "<svg/>", RenderOptions().key(), {"cairosvg": "2.9.1"})
    others = [cache_key("html", "<svg/>", RenderOptions().key(), {"cairosvg": "2.9.1"}),
              cache_key("svg", "<svg />", RenderOptions().key(), {"cairosvg": "2.9.1"}),
              cache_key("svg", "<svg/>", RenderOptions(width=64).key(), {"cairosvg": "2.9.1"}),
              cache_key("svg", "<svg/>", RenderOptions().key(), {"cairosvg": "2.9.2"})]
    assert len({base, *others}) == 5


def test_hit_and_miss() -> None:
    code = unique_chart("hit-and-miss")
    first = render(code, kind="matplotlib")
    assert first.ok and not first.cache_hit
    second = render(code, kind="matplotlib")
    assert second.cache_hit and second.png == first.png and second.key == first.key
    assert second.versions == first.versions and second.versions["matplotlib"]
    other_dpi = render(code, kind="matplotlib", options=RenderOptions(dpi=50))
    assert not other_dpi.cache_hit and other_dpi.image().size == (100, 100)
    bypass = render(code, kind="matplotlib", cache=False)
    assert not bypass.cache_hit and bypass.png == first.png
    refreshed = render(code, kind="matplotlib", cache="refresh")
    assert not refreshed.cache_hit


def test_failures_are_cached_with_their_reason_and_can_be_bypassed() -> None:
    code = PLT + "plt.plot([1, 2], [1])  # tag: cached-failure\n"
    first = render(code, kind="matplotlib")
    assert not first.ok and not first.cache_hit and "ValueError" in first.error
    second = render(code, kind="matplotlib")
    assert second.cache_hit and not second.ok and second.error == first.error
    retried = render(code, kind="matplotlib", cache="retry-failed")
    assert not retried.cache_hit and not retried.ok


def test_chat_answers_share_the_key_of_their_code() -> None:
    code = unique_chart("extracted")
    render(code, kind="matplotlib")
    answer = f"Here is the chart:\n```python\n{code}```\nDone."
    assert render(answer).cache_hit


def test_lru_eviction(tmp_path: Path) -> None:
    limit = 400_000
    cache = RenderCache(tmp_path / "small", size_limit=limit)
    blob = os.urandom(10_000)  # incompressible
    cache.set("k0", ok=True, png=blob, error=None, kind="svg")
    for i in range(1, 200):  # 2 MB through a 400 kB cache
        cache.set(f"k{i}", ok=True, png=blob, error=None, kind="svg")
        assert cache.get("k0") is not None  # k0 is used all the time
    info = cache.info()
    assert info["size_bytes"] <= limit * 1.5
    assert 10 < info["entries"] < 60
    assert cache.get("k0").png == blob
    assert cache.get("k1") is None  # the least recently used went first
    assert cache.get("k199") is not None


def _hammer(directory: str, worker: int, n: int) -> int:
    cache = RenderCache(directory)
    errors = 0
    for i in range(n):
        key = f"shared-{i % 25}"
        cache.set(key, ok=True, png=f"{key}".encode() * 100, error=None, kind="matplotlib")
        cache.set(f"own-{worker}-{i}", ok=False, png=None, error=f"reason {worker} {i}", kind="svg")
        hit = cache.get(key)
        if hit is None or hit.png != f"{key}".encode() * 100:
            errors += 1
    cache.close()
    return errors


def test_concurrent_processes_share_one_cache(tmp_path: Path) -> None:
    directory = str(tmp_path / "shared")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        errors = pool.starmap(_hammer, [(directory, w, 60) for w in range(4)])
    assert errors == [0, 0, 0, 0]
    cache = RenderCache(directory)
    assert cache.get("own-3-59").error == "reason 3 59"
    assert cache.info()["entries"] == 25 + 4 * 60


def test_concurrent_renders_from_threads_hit_the_same_entries() -> None:
    from erm_cli.renderers import render_many

    codes = [unique_chart(f"threads-{i % 3}") for i in range(9)]
    results = render_many(codes, workers=4)
    assert all(r.ok for r in results)
    assert len({r.png for r in results}) == 3
    again = render_many(codes, workers=4)
    assert all(r.cache_hit for r in again)


def run_cli(argv: list[str]) -> int:
    from erm_cli.app import main

    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_cli_info_and_clear(capsys: pytest.CaptureFixture[str]) -> None:
    render(PLT + "plt.plot([1, 2], [3])  # a failure for clear --failed\n", kind="matplotlib")
    assert run_cli(["cache", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["entries"] >= 1 and info["failures"] >= 1 and info["directory"] == str(get_cache().directory)
    assert run_cli(["cache", "clear", "--failed", "--json"]) == 0
    removed = json.loads(capsys.readouterr().out)["removed"]
    assert removed >= 1
    assert get_cache().info()["failures"] == 0
    assert run_cli(["cache", "clear", "--kind", "svg"]) == 0
    assert "removed" in capsys.readouterr().out
    assert run_cli(["cache", "info"]) == 0
    assert "render cache:" in capsys.readouterr().out
    assert run_cli(["cache", "clear", "--kind", "nope"]) == 2
