"""HTML, Markdown and LaTeX tables -> PNG through the warm Chromium, as Visual-ERM's table renderer does.

The table source becomes HTML (Markdown with markdown-it-py, LaTeX with :mod:`latex_table`), is put
raw inside ``<body>`` under one fixed stylesheet (``table.css``: border-collapse, Arial 14px, 1px solid
#333 cell borders, 6px 10px padding), screenshotted with JavaScript disabled and every fetch blocked,
and cropped to the content's bounding box (background = top-left pixel) with a 12 px margin.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import time
from pathlib import Path

from PIL import Image, ImageChops

from .browser import get_browser

CSS_PATH = Path(__file__).with_name("table.css")
CROP_PADDING = 12
MAX_WIDTH = 3600     # the paper's viewport width
MAX_HEIGHT = 12000
#: The released table reward's page (``table_parse_rm_v2.py::compute_score``) for render profile ``visual-erm``:
#: its stylesheet as written (``td`` only: header cells ``th`` get no border; body text in the browser's default
#: font), no doctype (quirks mode, as there), a screenshot of the 3600x2400 viewport (a taller table is cut
#: there) and the crop taken inside that screenshot (content + 12 px, clamped at its edges).
RELEASED_CSS = ("body { background: white; margin: 20px; } "
                "table { border-collapse: collapse; font-family: Arial, sans-serif; font-size: 14px; } "
                "td { border: 1px solid #333; padding: 6px 10px; }")
RELEASED_VIEWPORT = {"width": 3600, "height": 2400}
#: The table page's viewport otherwise (browser.py makes every context at this size).
DEFAULT_VIEWPORT = {"width": 800, "height": 600}
#: Nothing may be fetched: no scripts, frames, images, fonts or styles other than inline ones and data: URIs.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; script-src 'none'; "
       "frame-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'")


class TableSourceError(ValueError):
    """The table source could not be turned into HTML (a code failure, one line)."""


class TableRenderTimeout(TimeoutError):
    """Chromium did not finish within the render timeout."""


@functools.lru_cache(maxsize=1)
def stylesheet() -> str:
    return CSS_PATH.read_text(encoding="utf-8")


def stylesheet_hash() -> str:
    return hashlib.sha256(stylesheet().encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def _markdown_parser():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")


def markdown_to_html(text: str) -> str:
    return _markdown_parser().render(text)


def source_to_html(kind: str, code: str) -> str:
    """The HTML that goes inside ``<body>`` for a table of ``kind`` (html, markdown, latex)."""
    if kind == "html":
        return code
    if kind == "markdown":
        out = markdown_to_html(code)
        if "<table" not in out:
            raise TableSourceError("no Markdown table found (a header row, a |---| separator row, then rows)")
        return out
    if kind == "latex":
        from .latex_table import LatexTableError, latex_to_html

        try:
            return latex_to_html(code)
        except LatexTableError as exc:
            raise TableSourceError(str(exc)) from None
        except RecursionError:
            raise TableSourceError("the LaTeX table is nested too deeply") from None
    raise ValueError(f"not a table kind: {kind}")


#: Sources above this size are converted in a child process that the item's deadline can stop: the
#: Markdown and LaTeX converters are pure Python and take tens of seconds on some 1 MiB sources.
CHILD_CONVERSION_BYTES = 64 * 1024
#: Exit code of the conversion child for a bad source (its one-line reason is on stderr).
_BAD_SOURCE_EXIT = 3


def convert_within(kind: str, code: str, timeout: float) -> str:
    """:func:`source_to_html` within ``timeout`` seconds: in-process for small sources, else in a child
    process killed at the deadline (:class:`TableRenderTimeout`)."""
    if kind == "html" or len(code) <= CHILD_CONVERSION_BYTES:
        return source_to_html(kind, code)
    import subprocess
    import sys

    try:
        proc = subprocess.run([sys.executable, "-m", "erm_cli.renderers.table_renderer", kind],
                              input=code.encode("utf-8", "surrogatepass"), capture_output=True, check=False,
                              timeout=max(0.1, timeout))
    except subprocess.TimeoutExpired:
        raise TableRenderTimeout(f"converting the {kind} table took more than {timeout:.1f} s") from None
    reason = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1][:300]
    if proc.returncode == _BAD_SOURCE_EXIT:
        raise TableSourceError(reason)
    if proc.returncode != 0:
        raise TableSourceError(f"the {kind} table could not be converted ({reason})")
    return proc.stdout.decode("utf-8", "replace")


def _conversion_child(kind: str) -> int:
    """``python -m erm_cli.renderers.table_renderer KIND``: source on stdin, HTML on stdout."""
    import sys

    code = sys.stdin.buffer.read().decode("utf-8", "replace")
    try:
        html = source_to_html(kind, code)
    except TableSourceError as exc:
        print(str(exc).splitlines()[0] if str(exc) else "bad table source", file=sys.stderr)
        return _BAD_SOURCE_EXIT
    sys.stdout.buffer.write(html.encode("utf-8", "surrogatepass"))
    return 0


_META_OPEN = re.compile(r"<meta\b", re.IGNORECASE)
_REFRESH = re.compile(r"http-equiv\s*+=\s*+[\"']?+\s*+refresh", re.IGNORECASE)


def drop_meta_refresh(body: str) -> str:
    """``body`` without ``<meta ... http-equiv=refresh ...>`` tags, in one linear pass (a single regex for
    the whole tag backtracks quadratically over many unclosed ``<meta``)."""
    out: list[str] = []
    kept_from = 0
    tag_end = -1
    for m in _META_OPEN.finditer(body):
        if m.start() <= tag_end:
            continue  # inside a tag already examined
        tag_end = body.find(">", m.end())
        if tag_end < 0:
            break  # an unclosed tag: nothing more to remove
        if _REFRESH.search(body, m.end(), tag_end):
            out.append(body[kept_from:m.start()])
            kept_from = tag_end + 1
    out.append(body[kept_from:])
    return "".join(out)


def html_document(body: str) -> str:
    """The page Chromium loads: our CSP and stylesheet, the table raw inside ``<body>``.

    ``<meta http-equiv=refresh>`` is the one way markup can navigate without JavaScript: it is removed.
    """
    body = drop_meta_refresh(body)
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
            f"<style>{stylesheet()}</style></head><body>{body}</body></html>")


def released_document(body: str) -> str:
    """The released table reward's page around ``body`` (render profile ``visual-erm``), with erm's CSP (it
    changes no pixel of a static page) and without ``<meta http-equiv=refresh>``."""
    body = drop_meta_refresh(body)
    return ("<html><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
            f"<style>{RELEASED_CSS}</style></head><body>\n{body}\n</body></html>")


def _screenshot(session, document: str, timeout: float, deadline: float | None = None,
                released: bool = False) -> bytes:
    deadline = deadline if deadline is not None else time.monotonic() + timeout
    page = session.table_page()

    def step_ms() -> int:  # each Playwright step gets what is left of the item's budget
        left = deadline - time.monotonic()
        if left <= 0:
            raise TableRenderTimeout(f"Chromium did not finish the table within {timeout:.1f} s")
        return max(100, int(left * 1000))

    try:
        if released:  # the released page: its viewport, screenshotted as it is
            page.set_viewport_size(RELEASED_VIEWPORT)
            try:
                page.set_content(document, wait_until="load", timeout=step_ms())
                png = page.screenshot(animations="disabled", caret="hide", type="png", timeout=step_ms())
                page.set_content("<html><body></body></html>", timeout=10_000)
            finally:
                page.set_viewport_size(DEFAULT_VIEWPORT)
            return png
        page.set_content(document, wait_until="load", timeout=step_ms())
        width, height = page.evaluate(
            "() => [Math.ceil(Math.max(document.documentElement.scrollWidth, document.body ? "
            "document.body.scrollWidth : 0)), Math.ceil(Math.max(document.documentElement.scrollHeight, "
            "document.body ? document.body.scrollHeight : 0))]")
        width = max(1, min(int(width), MAX_WIDTH))
        height = max(1, min(int(height), MAX_HEIGHT))
        png = page.screenshot(clip={"x": 0, "y": 0, "width": width, "height": height}, full_page=True,
                              animations="disabled", caret="hide", type="png", timeout=step_ms())
        page.set_content("<html><body></body></html>", timeout=10_000)  # drop the table's DOM between renders
        return png
    except Exception as exc:
        session.reset_page("table")
        if isinstance(exc, TableRenderTimeout):
            raise
        if exc.__class__.__name__ == "TimeoutError":
            raise TableRenderTimeout(f"Chromium did not finish the table within {timeout:.1f} s") from None
        if "navigat" in str(exc):
            raise TableSourceError("the HTML tried to navigate away from the page (refused)") from None
        raise


def crop_to_content(png: bytes, padding: int = CROP_PADDING, within: bool = False) -> bytes:
    """Crop to the bounding box of pixels that differ from the top-left (background) pixel, plus padding.
    ``within``: the padding is taken from the screenshot and stops at its edges, as the released
    ``crop_with_padding`` does (else background is added around the box)."""
    img = Image.open(io.BytesIO(png)).convert("RGB")
    background = img.getpixel((0, 0))
    bbox = ImageChops.difference(img, Image.new("RGB", img.size, background)).getbbox()
    if bbox is not None and within:
        x0, y0, x1, y1 = bbox
        img = img.crop((max(0, x0 - padding), max(0, y0 - padding), min(img.width, x1 + padding),
                        min(img.height, y1 + padding)))
    elif bbox is not None:
        x0, y0, x1, y1 = bbox
        out = Image.new("RGB", (x1 - x0 + 2 * padding, y1 - y0 + 2 * padding), background)
        out.paste(img.crop(bbox), (padding, padding))
        img = out
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def render_table(kind: str, code: str, timeout: float = 30.0, mem_mb: int | None = None,
                 profile: str = "erm") -> bytes:
    """PNG of a table within ``timeout`` seconds in all (conversion, Chromium, crop). ``profile="visual-erm"``:
    the released reward's page, viewport and crop (:data:`RELEASED_CSS`). Raises TableSourceError /
    TableRenderTimeout for bad tables, BrowserUnavailable when Chromium cannot run."""
    from .browser import BrowserTimeout

    released = profile == "visual-erm"
    deadline = time.monotonic() + timeout  # the browser's steps get what is left of it
    body = convert_within(kind, code, timeout)
    document = released_document(body) if released else html_document(body)
    left = deadline - time.monotonic()
    if left <= 0:
        raise TableRenderTimeout(f"converting the {kind} table took more than {timeout:g} s")
    try:
        raw = get_browser().call(lambda session: _screenshot(session, document, timeout, deadline, released),
                                 left, mem_mb)
    except BrowserTimeout as exc:
        raise TableRenderTimeout(f"the table did not render within {timeout:g} s ({exc})") from None
    return crop_to_content(raw, within=released)


if __name__ == "__main__":  # the conversion child of convert_within
    import sys

    sys.exit(_conversion_child(sys.argv[1]))
