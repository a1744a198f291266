"""SVG -> PNG with cairosvg, inside the sandbox (its parser and rasteriser never see the parent process).

cairosvg's safe defaults stay on: XML entities (billion laughs, XXE) and external references are
refused by defusedxml, and ``href``s other than ``data:`` URIs are never fetched (no files, no network).
Output size: ``RenderOptions.width``/``height`` (one of them keeps the aspect ratio), else the SVG's
own size at 96 dpi; sizes above 16384 px a side or 50 MP are refused. White background.
"""

from __future__ import annotations

from .base import RenderOptions
from .failures import CodeFailure
from .sandbox import run_untrusted


def render_svg(code: str, options: RenderOptions) -> bytes:
    result = run_untrusted("svg", code, width=options.width, height=options.height, timeout=options.timeout,
                           mem_mb=options.mem_mb, strict=options.strict)
    if not result.ok:
        raise CodeFailure(result.error or "render failed")
    return result.payload
