"""Renderer and library versions per kind: recorded in every RenderResult and part of the cache key.

Everything is looked up without importing the rendering libraries (package metadata, a cached
``chromium --version``, the pinned font set's id from ``fonts.py``), so cache hits stay cheap. Bump
``RENDERER_VERSION`` when erm's own renderer code changes the pixels it produces.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
from importlib import metadata

RENDERER_VERSION: dict[str, str] = {"matplotlib": "1", "plotly": "1", "svg": "1", "html": "1", "markdown": "1",
                                    "latex": "1"}

_LIBRARIES: dict[str, tuple[str, ...]] = {
    "matplotlib": ("matplotlib", "numpy", "pillow"),
    "plotly": ("plotly", "playwright"),
    "svg": ("cairosvg", "cairocffi"),
    "html": ("playwright",),
    "markdown": ("playwright", "markdown-it-py"),
    "latex": ("playwright", "pylatexenc"),
}
_USES_CHROMIUM = {"plotly", "html", "markdown", "latex"}


@functools.cache
def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


@functools.cache
def cairo_library_version() -> str:
    """libcairo's version via ctypes (importing cairocffi here would cost ~100 ms of cffi set-up)."""
    import ctypes

    for name in ("libcairo.so.2", "libcairo.2.dylib", "libcairo-2.dll", "libcairo.so"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.cairo_version_string.restype = ctypes.c_char_p
        return lib.cairo_version_string().decode()
    return "unknown"


def _load_c_library(names: tuple[str, ...]):
    import ctypes

    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


@functools.cache
def text_library_versions() -> dict[str, str]:
    """The system libraries that rasterise, shape and match text for cairo (SVG) and Debian's Chromium:
    FreeType, HarfBuzz and fontconfig. The pinned fonts fix the glyphs; these fix how they are drawn."""
    import ctypes

    out = {"freetype": "unknown", "harfbuzz": "unknown", "fontconfig": "unknown"}
    ft = _load_c_library(("libfreetype.so.6", "libfreetype.6.dylib", "libfreetype.so"))
    if ft is not None:
        lib = ctypes.c_void_p()
        if ft.FT_Init_FreeType(ctypes.byref(lib)) == 0:
            major, minor, patch = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
            ft.FT_Library_Version(lib, ctypes.byref(major), ctypes.byref(minor), ctypes.byref(patch))
            ft.FT_Done_FreeType(lib)
            out["freetype"] = f"{major.value}.{minor.value}.{patch.value}"
    hb = _load_c_library(("libharfbuzz.so.0", "libharfbuzz.0.dylib", "libharfbuzz.so"))
    if hb is not None:
        hb.hb_version_string.restype = ctypes.c_char_p
        out["harfbuzz"] = hb.hb_version_string().decode()
    fc = _load_c_library(("libfontconfig.so.1", "libfontconfig.1.dylib", "libfontconfig.so"))
    if fc is not None:
        version = int(fc.FcGetVersion())
        out["fontconfig"] = f"{version // 10000}.{version // 100 % 100}.{version % 100}"
    return out


def _chromium_version_uncached(executable: str) -> str:
    try:
        out = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    for line in (out.stdout or "").splitlines():
        if any(ch.isdigit() for ch in line) and "chrom" in line.lower():
            return line.strip()
    return (out.stdout or "unknown").strip().splitlines()[-1] if out.stdout.strip() else "unknown"


@functools.cache
def chromium_version() -> str:
    """``chromium --version``, remembered on disk per executable (path, size, mtime)."""
    from .browser import find_chromium

    exe = find_chromium(required=False)
    if exe is None:
        return "absent"
    from ..config import cache_dir

    real = os.path.realpath(exe)
    try:
        st = os.stat(real)
        stamp = f"{real}:{st.st_size}:{int(st.st_mtime)}"
    except OSError:
        stamp = real
    memo = cache_dir() / "chromium-version.json"
    try:
        known = json.loads(memo.read_text())
    except (OSError, ValueError):
        known = {}
    if stamp in known:
        return str(known[stamp])
    version = _chromium_version_uncached(exe)
    known[stamp] = version
    try:
        tmp = memo.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known))
        os.replace(tmp, memo)
    except OSError:
        pass
    return version


@functools.cache
def versions_for(kind: str) -> dict[str, str]:
    """The versions that determine the pixels of a ``kind`` render."""
    out = {"erm-renderer": f"{kind}-{RENDERER_VERSION.get(kind, '0')}", "python": platform.python_version()}
    for lib in _LIBRARIES.get(kind, ()):
        out[lib] = package_version(lib)
    if kind == "svg":
        out["libcairo"] = cairo_library_version()
    if kind in _USES_CHROMIUM:
        out["chromium"] = chromium_version()
    if kind in ("html", "markdown", "latex"):
        out["table-css"] = table_css_hash()
    out["fonts"] = font_set()
    if kind == "svg" or kind in _USES_CHROMIUM:
        out.update(text_library_versions())
    return out


def font_set() -> str:
    """The pinned font set's id (see ``fonts.py``); ``missing`` on a broken install (renders then fail)."""
    from .fonts import FontSetMissing, font_set_id

    try:
        return font_set_id()
    except FontSetMissing:
        return "missing"


@functools.lru_cache(maxsize=1)
def table_css_hash() -> str:
    import hashlib
    from pathlib import Path

    return hashlib.sha256(Path(__file__).with_name("table.css").read_bytes()).hexdigest()[:16]
