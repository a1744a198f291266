"""Plotly Python -> PNG: the code runs in the sandbox and hands back ``fig.to_json()``; the warm Chromium
in this process draws that JSON with the bundled plotly.js (offline, ``staticPlot``) and screenshots it.

Size: the figure's own ``layout.width``/``height`` when set, else ``RenderOptions.width``/``height``,
else 800x600 (capped at 4096 a side).
"""

from __future__ import annotations

import io
import json
import time

from PIL import Image

DEFAULT_SIZE = (800, 600)
MAX_SIDE = 4096

_DRAW = """async ([spec, width, height]) => {
  const fig = JSON.parse(spec);
  const layout = Object.assign({}, fig.layout || {});
  layout.width = width; layout.height = height; layout.autosize = false;
  const g = document.getElementById('g');
  g.style.width = width + 'px'; g.style.height = height + 'px';
  Plotly.purge(g);
  await Plotly.react(g, fig.data || [], layout, {staticPlot: true, displayModeBar: false, responsive: false});
  return true;
}"""


class PlotlyDrawError(ValueError):
    """plotly.js could not draw the figure the code produced (a code failure)."""


def figure_size(spec: dict, width: int | None, height: int | None) -> tuple[int, int]:
    layout = spec.get("layout") if isinstance(spec, dict) else None
    layout = layout if isinstance(layout, dict) else {}

    def pick(value, option, default):
        for v in (value, option):
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 10:
                return int(min(v, MAX_SIDE))
        return default

    return pick(layout.get("width"), width, DEFAULT_SIZE[0]), pick(layout.get("height"), height, DEFAULT_SIZE[1])


def _draw(session, spec_json: str, width: int, height: int, timeout: float) -> bytes:
    page = session.plotly_page()
    deadline = time.monotonic() + timeout
    ms = max(1000, int(timeout * 1000))
    page.set_default_timeout(ms)
    try:
        page.set_viewport_size({"width": width, "height": height})
        page.evaluate(_DRAW, [spec_json, width, height])
        left_ms = int((deadline - time.monotonic()) * 1000)
        if left_ms <= 0:
            raise PlotlyDrawError(f"plotly.js did not finish drawing within {timeout:g} s")
        png = page.screenshot(clip={"x": 0, "y": 0, "width": width, "height": height}, animations="disabled",
                              caret="hide", type="png", timeout=max(100, left_ms))
        page.evaluate("() => Plotly.purge(document.getElementById('g'))")
        return png
    except Exception as exc:
        name = exc.__class__.__name__
        session.reset_page("plotly")
        if isinstance(exc, PlotlyDrawError):
            raise
        if name == "TimeoutError":
            raise PlotlyDrawError(f"plotly.js did not finish drawing within {timeout:g} s") from None
        if name == "Error":  # a JavaScript exception from Plotly.react: the figure is invalid
            first = (str(exc).strip().splitlines() or ["unknown error"])[0]
            raise PlotlyDrawError(f"plotly.js could not draw the figure: {first}"[:300]) from None
        raise


def render_plotly_json(spec_json: bytes | str, width: int | None = None, height: int | None = None,
                       timeout: float = 30.0, mem_mb: int | None = None) -> bytes:
    """PNG of a plotly figure given as JSON. Raises PlotlyDrawError for a bad figure."""
    from .browser import BrowserTimeout, get_browser

    text = spec_json.decode("utf-8", errors="replace") if isinstance(spec_json, bytes) else spec_json
    try:
        spec = json.loads(text)
    except ValueError:
        raise PlotlyDrawError("the code's plotly figure is not valid JSON") from None
    w, h = figure_size(spec, width, height)
    try:
        raw = get_browser().call(lambda session: _draw(session, text, w, h, timeout), timeout, mem_mb)
    except BrowserTimeout:
        raise PlotlyDrawError(f"plotly.js did not finish drawing within {timeout:.1f} s (stopped)") from None
    img = Image.open(io.BytesIO(raw)).convert("RGB")  # re-encoded by PIL: no browser metadata
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
