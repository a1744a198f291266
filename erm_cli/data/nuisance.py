"""Nuisance routes: the same picture rasterised another way, which a judge must call equivalent.

A route changes how a figure becomes pixels, never what it shows. Two families:

- **image routes** (:data:`IMAGE_ROUTES`) need only the reference PNG: ``jpeg`` (quality drawn from
  60-90 by the seed, 4:2:0 chroma subsampling), ``resample`` (0.75x down with Lanczos and up again
  bilinear, same size), ``png8`` (adaptive 64-colour palette, no dithering) and ``downscale`` (a smaller
  copy, 0.25-0.5x drawn by the seed, box-filtered: a thumbnail or a low-dpi screenshot of the same figure).
- **code routes** (:data:`CODE_ROUTES`, per code kind) re-render the code through erm's sandboxed
  renderers (:mod:`erm_cli.renderers`; candidate code never runs in this process):

  * matplotlib: ``dpi72`` / ``dpi150`` (Agg at another dpi: another pixel size), ``aa`` (text, line and
    patch anti-aliasing off), ``svg`` (vector SVG export rasterised by CairoSVG to the reference size)
    and ``pdf`` (vector PDF export rasterised by PDFium, when ``pypdfium2`` is installed);
  * svg: ``svg_size`` (rendered at 1.5x the reference width: another output size);
  * html / markdown / latex tables: ``document`` (the same table content in a document look: serif,
    horizontal rules only, numbers right-aligned, against erm's plain grid stylesheet).

:data:`HARD_ROUTES` are the routes where another engine draws the picture (vector export, another
stylesheet); benchmarks report them separately.

    from erm_cli.data.nuisance import equivalents, image_route
    eq = equivalents(code, "matplotlib", reference_png, seed=3)   # {"dpi72": png, "svg": png, ...}
    eq.failures                                                   # {"pdf": "pypdfium2 is not installed"}
    jpeg_png = image_route(reference_png, "jpeg", seed=3)

Everything is deterministic for a given seed.
"""

from __future__ import annotations

import io
import random
import re
from collections.abc import Iterable

from PIL import Image

from ..errors import InputError

#: Routes that need only the reference PNG.
IMAGE_ROUTES: tuple[str, ...] = ("jpeg", "resample", "png8", "downscale")
#: Routes that re-render the code, per code kind.
CODE_ROUTES: dict[str, tuple[str, ...]] = {
    "matplotlib": ("dpi72", "dpi150", "aa", "svg", "pdf"),
    "svg": ("svg_size",),
    "html": ("document",), "markdown": ("document",), "latex": ("document",),
}
#: Routes where another engine or stylesheet draws the picture (the hardest equivalents).
HARD_ROUTES: frozenset[str] = frozenset({"svg", "pdf", "document"})
#: Routes used by :func:`equivalents` when ``routes`` is not given (dpi150 is left out: large images).
DEFAULT_ROUTES: dict[str, tuple[str, ...]] = {
    "matplotlib": ("dpi72", "aa", "svg", "pdf", "jpeg", "resample", "downscale"),
    "plotly": ("jpeg", "resample", "png8", "downscale"),
    "svg": ("svg_size", "jpeg", "resample", "downscale"),
    "html": ("document", "jpeg", "resample"), "markdown": ("document", "jpeg", "resample"),
    "latex": ("document", "jpeg", "resample"),
}
JPEG_QUALITY = (60, 90)
RESAMPLE_FACTOR = 0.75
DOWNSCALE_FACTOR = (0.25, 0.5)
SVG_SIZE_FACTOR = 1.5
PNG8_COLOURS = 64


class RouteFailure(RuntimeError):
    """A route could not produce an image for this item (one line: why)."""


class Equivalents(dict):
    """Route name -> PNG bytes; ``failures`` maps each route that failed to its one-line reason."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: dict[str, str] = {}


def routes_for(kind: str) -> tuple[str, ...]:
    """Every route that applies to code of ``kind`` (code routes first, then image routes)."""
    return CODE_ROUTES.get(kind, ()) + IMAGE_ROUTES


def is_hard(route: str) -> bool:
    return route in HARD_ROUTES


def _rng(seed: int, route: str) -> random.Random:
    return random.Random(f"erm-nuisance:{seed}:{route}")


def _open_rgb(png: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(png))
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        canvas = Image.new("RGBA", img.size, (255, 255, 255, 255))
        canvas.alpha_composite(img)
        img = canvas
    return img.convert("RGB")


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


# --------------------------------------------------------------------------------- image routes
def jpeg_quality(seed: int) -> int:
    """The JPEG quality the ``jpeg`` route uses for ``seed``."""
    return _rng(seed, "jpeg").randint(*JPEG_QUALITY)


def downscale_factor(seed: int) -> float:
    """The size factor the ``downscale`` route uses for ``seed``."""
    return round(_rng(seed, "downscale").uniform(*DOWNSCALE_FACTOR), 3)


def image_route(png: bytes, route: str, seed: int) -> bytes:
    """``png`` through one image route; returns PNG bytes (RGB)."""
    if route not in IMAGE_ROUTES:
        raise InputError(f"unknown image route {route!r}; choose one of: {', '.join(IMAGE_ROUTES)}")
    img = _open_rgb(png)
    if route == "jpeg":
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=jpeg_quality(seed), subsampling=2)
        return _png(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    if route == "resample":
        w, h = img.size
        small = img.resize((max(1, round(w * RESAMPLE_FACTOR)), max(1, round(h * RESAMPLE_FACTOR))),
                           Image.LANCZOS)
        return _png(small.resize((w, h), Image.BILINEAR))
    if route == "downscale":
        w, h = img.size
        f = downscale_factor(seed)
        return _png(img.resize((max(1, round(w * f)), max(1, round(h * f))), Image.BOX))
    # png8: adaptive 64-colour palette, no dithering, stored as a palette PNG and read back as RGB
    quantised = img.quantize(colors=PNG8_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    quantised.save(buf, format="PNG")
    return _png(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


# ---------------------------------------------------------------------------------- code routes
#: rcParams of the ``aa`` route (the gallery's eq_aa renders set the same three).
AA_OFF = {"text.antialiased": False, "lines.antialiased": False, "patch.antialiased": False}

_FUTURE = re.compile(r"^from\s+__future__\s+import[^\n]*$", re.MULTILINE)


def _with_prefix(code: str, prefix: str, suffix: str = "") -> str:
    """Put ``prefix`` before the code (after any ``from __future__`` lines) and ``suffix`` after it."""
    futures = _FUTURE.findall(code)
    body = _FUTURE.sub("", code) if futures else code
    head = "\n".join(futures) + "\n" if futures else ""
    return f"{head}{prefix}\n{body}\n{suffix}\n"


def aa_off_code(code: str) -> str:
    """matplotlib code with text/line/patch anti-aliasing switched off before it runs."""
    return _with_prefix(code, f"import matplotlib as _erm_mpl\n_erm_mpl.rcParams.update({AA_OFF!r})")


# The vector routes run inside the sandboxed matplotlib job: the first figure the code saves or shows
# (or the current one at the end) is exported as SVG/PDF with the same savefig options erm's capture
# keeps, rasterised in the sandbox by another engine to the reference pixel size, and handed back as a
# figure that shows exactly those pixels (figimage at the job's dpi), which erm's capture turns into the PNG.
_VECTOR_PREFIX = '''\
import io as _erm_io
import matplotlib.pyplot as _erm_plt
from matplotlib.figure import Figure as _ErmFigure
_erm_capture = _ErmFigure.savefig
_erm_state = {"png": None}
_ERM_ROUTE, _ERM_SIZE, _ERM_DPI = %(route)r, %(size)r, %(dpi)r
_ERM_KEEP = ("bbox_inches", "pad_inches", "facecolor", "edgecolor", "transparent")

def _erm_raster(fig, kwargs=None):
    if _erm_state["png"] is not None:
        return
    kept = {k: v for k, v in (kwargs or {}).items() if k in _ERM_KEEP}
    buf = _erm_io.BytesIO()
    fig.canvas.print_figure(buf, format=_ERM_ROUTE, dpi=_ERM_DPI, **kept)
    w, h = _ERM_SIZE
    if _ERM_ROUTE == "svg":
        import cairosvg
        _erm_state["png"] = cairosvg.svg2png(bytestring=buf.getvalue(), output_width=w, output_height=h,
                                             background_color="white")
    else:
        import pypdfium2
        page = pypdfium2.PdfDocument(buf.getvalue())[0]
        pw, ph = page.get_size()
        bitmap = page.render(scale=w / pw, fill_color=(255, 255, 255, 255))
        out = _erm_io.BytesIO()
        bitmap.to_pil().convert("RGB").resize((w, h)).save(out, format="PNG")
        _erm_state["png"] = out.getvalue()

def _erm_fig_savefig(self, *args, **kwargs):
    _erm_raster(self, kwargs)

def _erm_fig_show(self, *args, **kwargs):
    _erm_raster(self)

def _erm_plt_savefig(*args, **kwargs):
    _erm_raster(_erm_plt.gcf(), kwargs)

def _erm_plt_show(*args, **kwargs):
    if _erm_plt.get_fignums():
        _erm_raster(_erm_plt.gcf())

_ErmFigure.savefig, _ErmFigure.show = _erm_fig_savefig, _erm_fig_show
_erm_plt.savefig, _erm_plt.show = _erm_plt_savefig, _erm_plt_show
'''

_VECTOR_SUFFIX = '''\
if _erm_state["png"] is None:
    if _erm_plt.get_fignums():
        _erm_raster(_erm_plt.gcf())
    else:
        _erm_figs = [v for v in list(globals().values()) if isinstance(v, _ErmFigure)]
        if _erm_figs:
            _erm_raster(_erm_figs[-1])
if _erm_state["png"] is not None:
    import numpy as _erm_np
    from PIL import Image as _ErmImage
    _erm_px = _erm_np.asarray(_ErmImage.open(_erm_io.BytesIO(_erm_state["png"])).convert("RGB"))
    _erm_h, _erm_w = _erm_px.shape[:2]
    _erm_plt.close("all")
    _erm_out = _ErmFigure(figsize=((_erm_w + 0.01) / _ERM_DPI, (_erm_h + 0.01) / _ERM_DPI), dpi=_ERM_DPI,
                          facecolor="white")
    _erm_out.figimage(_erm_px, 0, 0, origin="upper", resize=False)
    _erm_capture(_erm_out, "erm-route.png")
'''


def vector_route_code(code: str, route: str, size: tuple[int, int], dpi: int = 100) -> str:
    """matplotlib code whose render is its figure exported as ``route`` (svg/pdf), rasterised to ``size``."""
    if route not in ("svg", "pdf"):
        raise InputError(f"not a vector route: {route!r}")
    w, h = int(size[0]), int(size[1])
    prefix = _VECTOR_PREFIX % {"route": route, "size": (w, h), "dpi": int(dpi)}
    return _with_prefix(code, prefix, _VECTOR_SUFFIX)


#: The document look of the ``document`` table route: serif, horizontal rules only (booktabs-like),
#: numbers right-aligned (every column after the first), no cell borders.
DOCUMENT_CSS = """
body, table { font-family: "DejaVu Serif", "Liberation Serif", "Times New Roman", serif !important;
              font-size: 15px !important; }
table { border-collapse: collapse !important; border-top: 2px solid #000 !important;
        border-bottom: 2px solid #000 !important; }
td, th { border: none !important; padding: 4px 12px !important; }
th { font-weight: bold; border-bottom: 1px solid #000 !important; }
td:not(:first-child), th:not(:first-child) { text-align: right !important; }
"""


def document_table_html(code: str, kind: str) -> str:
    """The table source of ``kind`` as HTML with the document stylesheet in front of it."""
    from ..renderers.table_renderer import TableSourceError, source_to_html

    try:
        body = source_to_html(kind, code)
    except TableSourceError as exc:
        raise RouteFailure(str(exc)) from None
    return f"<style>{DOCUMENT_CSS}</style>\n{body}"


def _pdf_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("pypdfium2") is not None


def _render_png(code: str, kind: str, **options) -> bytes:
    from ..errors import ErmError
    from ..renderers import RenderOptions, render

    try:
        result = render(code, kind, RenderOptions(**options), cache="retry-failed")
    except ErmError as exc:
        raise RouteFailure(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__) from None
    if not result.ok or result.png is None:
        raise RouteFailure(result.error or "render failed")
    return result.png


def code_route(code: str, kind: str, route: str, *, reference_size: tuple[int, int], seed: int = 0) -> bytes:
    """Re-render ``code`` of ``kind`` through a code route; raises :class:`RouteFailure` when it cannot."""
    if route not in CODE_ROUTES.get(kind, ()):
        raise InputError(f"route {route!r} does not apply to {kind} code")
    if kind == "matplotlib":
        if route in ("dpi72", "dpi150"):
            return _render_png(code, kind, dpi=int(route[3:]))
        if route == "aa":
            return _render_png(aa_off_code(code), kind)
        if route == "pdf" and not _pdf_available():
            raise RouteFailure("pypdfium2 is not installed (the pdf route rasterises with PDFium)")
        return _render_png(vector_route_code(code, route, reference_size), kind)
    if kind == "svg":
        return _render_png(code, kind, width=max(8, round(reference_size[0] * SVG_SIZE_FACTOR)))
    return _render_png(document_table_html(code, kind), "html")


def equivalents(code: str, kind: str, reference_png: bytes, *, seed: int,
                routes: Iterable[str] | None = None) -> Equivalents:
    """Route name -> PNG of the same picture through each route (failures skipped, in ``.failures``).

    ``reference_png`` is erm's render of ``code`` (image routes start from it; code routes match its size).
    ``routes`` defaults to :data:`DEFAULT_ROUTES` for the kind; a route that does not apply to the kind
    is an :class:`InputError`.
    """
    chosen = tuple(routes) if routes is not None else DEFAULT_ROUTES.get(kind, IMAGE_ROUTES)
    valid = routes_for(kind)
    for route in chosen:
        if route not in valid:
            raise InputError(f"route {route!r} does not apply to {kind} code; choose from: {', '.join(valid)}")
    size = Image.open(io.BytesIO(reference_png)).size
    out = Equivalents()
    for route in chosen:
        try:
            if route in IMAGE_ROUTES:
                out[route] = image_route(reference_png, route, seed)
            else:
                out[route] = code_route(code, kind, route, reference_size=size, seed=seed)
        except RouteFailure as exc:
            out.failures[route] = str(exc)
    return out
