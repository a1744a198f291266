"""The tracing program for ChartMimic-style chart metrics: run matplotlib code, log what it draws.

:func:`build_trace_program` wraps untrusted chart code in one self-contained Python script (meant to
run inside erm's sandbox, see :mod:`erm_cli.bench.trace_sandbox`) that records, in one execution:

* ``types``: how often each plotting entry point was called (outermost calls only, so ``hist``
  calling ``bar`` counts once), keyed ``Axes.bar``, ``Axes3D.plot_surface``...;
* ``colors``: the set of ``"<function>--#RRGGBB"`` strings, read from the returned artists *after*
  the code finished (so later ``set_color`` calls count); a colour-mapped artist gives
  ``"<function>--cmap:<name>"``; fully transparent colours are skipped;
* ``layout``: one ``{nrows, ncols, row_start, row_end, col_start, col_end}`` per subplot axes;
* ``texts``: every string the Agg renderer draws once all x/y tick labels are removed (ChartMimic's
  ``use_axs=False`` setting), one entry per drawn line.

The figure traced is the last one saved with ``savefig`` (the code's own savefig is not written to
disk) or else the current figure; ``plt.close`` is ignored while the code runs so a closing line at
the end does not lose the figure. The result is one JSON line after :data:`MARKER`: printed on stdout
by a plain interpreter; inside erm's sandbox (whose only way out is the bytes its ``savefig`` hook
captures) it is handed to that hook through a carrier object, so the sandbox returns it as payload.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MARKER = "@@ERM-CHART-TRACE@@"

#: Plotting entry points counted as chart types (ChartMimic's list plus the rest of the Axes API).
AXES_FUNCTIONS = (
    "plot",
    "loglog",
    "semilogx",
    "semilogy",
    "scatter",
    "bar",
    "barh",
    "broken_barh",
    "axhline",
    "axvline",
    "hlines",
    "vlines",
    "axhspan",
    "axvspan",
    "errorbar",
    "matshow",
    "hist",
    "hist2d",
    "pie",
    "boxplot",
    "arrow",
    "fill",
    "fill_between",
    "fill_betweenx",
    "imshow",
    "contour",
    "contourf",
    "violinplot",
    "violin",
    "hexbin",
    "stem",
    "step",
    "stackplot",
    "quiver",
    "barbs",
    "streamplot",
    "pcolor",
    "pcolormesh",
    "pcolorfast",
    "tricontour",
    "tricontourf",
    "tripcolor",
    "triplot",
    "eventplot",
    "stairs",
    "ecdf",
    "specgram",
    "psd",
    "spy",
    "table",
)
AXES3D_FUNCTIONS = (
    "plot",
    "scatter",
    "bar",
    "bar3d",
    "plot_surface",
    "plot_wireframe",
    "plot_trisurf",
    "contour",
    "contourf",
    "add_collection3d",
    "voxels",
    "quiver",
    "stem",
    "fill_between",
)

_PROGRAM = r"""
import json as _erm_json
import sys as _erm_sys
import matplotlib as _erm_mpl
_erm_mpl.use("Agg")
import matplotlib.pyplot as _erm_plt
import matplotlib.colors as _erm_mcolors
from matplotlib.axes import Axes as _ErmAxes
from matplotlib.figure import Figure as _ErmFigure

_ERM_RUNNER_SAVEFIG = _ErmFigure.savefig  # inside erm's sandbox: the runner's capture hook
_ERM_TYPES = {}
_ERM_CALLS = []
_ERM_DEPTH = [0]
_ERM_SAVED = []


def _erm_wrap(owner, owner_name, name):
    orig = owner.__dict__.get(name)
    if orig is None:
        return
    label = owner_name + "." + name

    def wrapper(*args, **kwargs):
        if _ERM_DEPTH[0]:
            return orig(*args, **kwargs)
        _ERM_DEPTH[0] += 1
        try:
            result = orig(*args, **kwargs)
        finally:
            _ERM_DEPTH[0] -= 1
        _ERM_TYPES[label] = _ERM_TYPES.get(label, 0) + 1
        _ERM_CALLS.append((label, result, kwargs.get("cmap")))
        return result

    wrapper.__wrapped__ = orig
    wrapper.__name__ = name
    wrapper.__doc__ = getattr(orig, "__doc__", None)
    setattr(owner, name, wrapper)


for _erm_name in __AXES_FUNCTIONS__:
    _erm_wrap(_ErmAxes, "Axes", _erm_name)
try:
    from mpl_toolkits.mplot3d import Axes3D as _ErmAxes3D
    for _erm_name in __AXES3D_FUNCTIONS__:
        _erm_wrap(_ErmAxes3D, "Axes3D", _erm_name)
except Exception:
    pass


def _erm_savefig(self, *args, **kwargs):
    _ERM_SAVED.append(self)


_ErmFigure.savefig = _erm_savefig
_ErmFigure.show = lambda *a, **k: None
_erm_plt.show = lambda *a, **k: None
_erm_plt.savefig = lambda *a, **k: _ERM_SAVED.append(_erm_plt.gcf())
_erm_real_close = _erm_plt.close
_erm_plt.close = lambda *a, **k: None

_ERM_RESULT = {"ok": True, "error": None}
try:
    exec(compile(__CODE__, "<candidate>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
except BaseException as _erm_exc:  # the trace is still useful up to the failure; the caller decides
    _ERM_RESULT = {"ok": False, "error": (type(_erm_exc).__name__ + ": " + str(_erm_exc))[:500]}
_erm_plt.close = _erm_real_close


def _erm_hex(c):
    try:
        rgba = _erm_mcolors.to_rgba(c)
    except Exception:
        return None
    if rgba[3] == 0:
        return None
    return _erm_mcolors.to_hex(rgba, keep_alpha=False).upper()


def _erm_cmap_name(cm):
    if cm is None:
        return None
    return cm if isinstance(cm, str) else getattr(cm, "name", None)


def _erm_colours(obj, depth=0):
    from matplotlib.artist import Artist
    from matplotlib.collections import Collection
    from matplotlib.container import Container
    from matplotlib.image import AxesImage
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    out = []
    if depth > 4 or obj is None:
        return out
    try:
        from matplotlib.contour import ContourSet
    except Exception:
        ContourSet = ()
    if ContourSet and isinstance(obj, ContourSet):
        if obj.get_array() is not None and getattr(obj, "colors", None) is None:
            name = _erm_cmap_name(obj.get_cmap())
            return ["cmap:" + name] if name else []
        return [h for h in (_erm_hex(c) for c in obj.get_facecolor() if obj.filled)] or \
               [h for h in (_erm_hex(c) for c in obj.get_edgecolor())]
    if isinstance(obj, AxesImage):
        name = _erm_cmap_name(obj.get_cmap())
        return ["cmap:" + name] if name else []
    if isinstance(obj, Collection):
        if obj.get_array() is not None:
            name = _erm_cmap_name(obj.get_cmap())
            return ["cmap:" + name] if name else []
        cols = [h for h in (_erm_hex(c) for c in obj.get_facecolor()) if h]
        if not cols:
            cols = [h for h in (_erm_hex(c) for c in obj.get_edgecolor()) if h]
        return cols
    if isinstance(obj, Line2D):
        h = _erm_hex(obj.get_color())
        return [h] if h else []
    if isinstance(obj, Patch):
        h = _erm_hex(obj.get_facecolor()) if obj.get_fill() else None
        if h is None:
            h = _erm_hex(obj.get_edgecolor())
        return [h] if h else []
    if isinstance(obj, Container):
        if type(obj).__name__ == "ErrorbarContainer":
            return _erm_colours(obj.lines[0], depth + 1) if obj.lines and obj.lines[0] is not None else []
        if type(obj).__name__ == "StemContainer":
            return _erm_colours(obj.markerline, depth + 1)
        for child in list(obj):
            out.extend(_erm_colours(child, depth + 1))
        return out
    if isinstance(obj, dict):
        for key in ("bodies", "boxes"):
            if key in obj:
                for child in obj[key]:
                    out.extend(_erm_colours(child, depth + 1))
                return out
        return out
    if hasattr(obj, "wedges"):  # PieContainer (matplotlib >= 3.10 returns it from pie)
        for child in obj.wedges:
            out.extend(_erm_colours(child, depth + 1))
        return out
    if isinstance(obj, (list, tuple)):
        for child in obj:
            if isinstance(child, (Artist, Container, list, tuple, dict)) or hasattr(child, "wedges"):
                out.extend(_erm_colours(child, depth + 1))
        return out
    return out


_erm_colour_set = set()
for _erm_label, _erm_result, _erm_cmap in _ERM_CALLS:
    try:
        if _erm_cmap is not None and _erm_cmap_name(_erm_cmap):
            _erm_colour_set.add(_erm_label + "--cmap:" + _erm_cmap_name(_erm_cmap))
            continue
        for _erm_c in _erm_colours(_erm_result):
            _erm_colour_set.add(_erm_label + "--" + _erm_c)
    except Exception:
        pass

_erm_fig = _ERM_SAVED[-1] if _ERM_SAVED else (_erm_plt.gcf() if _erm_plt.get_fignums() else None)
_erm_layout = []
_erm_texts = []
if _erm_fig is not None:
    for _erm_ax in _erm_fig.axes:
        try:
            _erm_spec = _erm_ax.get_subplotspec()
        except Exception:
            _erm_spec = None
        if _erm_spec is None:
            continue
        _erm_gs = _erm_spec.get_gridspec()
        _erm_nr, _erm_nc = _erm_gs.get_geometry()
        _erm_layout.append({"nrows": int(_erm_nr), "ncols": int(_erm_nc),
                            "row_start": int(_erm_spec.rowspan.start), "row_end": int(_erm_spec.rowspan.stop - 1),
                            "col_start": int(_erm_spec.colspan.start), "col_end": int(_erm_spec.colspan.stop - 1)})
    try:
        for _erm_ax in _erm_fig.axes:
            _erm_ax.set_xticks([])
            _erm_ax.set_yticks([])
        from matplotlib.backends.backend_agg import RendererAgg as _ErmRendererAgg
        _erm_draw_text = _ErmRendererAgg.draw_text
        _erm_draw_tex = _ErmRendererAgg.draw_tex

        def _erm_log_text(self, gc, x, y, s, *args, **kwargs):
            _erm_texts.append(str(s))
            return _erm_draw_text(self, gc, x, y, s, *args, **kwargs)

        def _erm_log_tex(self, gc, x, y, s, *args, **kwargs):
            _erm_texts.append(str(s))
            return _erm_draw_tex(self, gc, x, y, s, *args, **kwargs)

        _ErmRendererAgg.draw_text = _erm_log_text
        _ErmRendererAgg.draw_tex = _erm_log_tex
        from matplotlib.backends.backend_agg import FigureCanvasAgg as _ErmCanvas
        _ErmCanvas(_erm_fig).draw()
    except Exception as _erm_exc:
        _ERM_RESULT.setdefault("trace_error", (type(_erm_exc).__name__ + ": " + str(_erm_exc))[:300])

_ERM_RESULT.update({"types": _ERM_TYPES, "colors": sorted(_erm_colour_set), "layout": _erm_layout,
                    "texts": _erm_texts, "figure": _erm_fig is not None})
_ERM_PAYLOAD = ("__MARKER__" + _erm_json.dumps(_ERM_RESULT) + "\n").encode()
if getattr(_ERM_RUNNER_SAVEFIG, "__module__", "") == "matplotlib.figure":
    _erm_sys.stdout.write("\n" + _ERM_PAYLOAD.decode())  # a plain interpreter: print the trace
    _erm_sys.stdout.flush()
else:
    # erm's sandbox returns the bytes its savefig hook writes: hand it a carrier whose canvas writes the trace
    class _ErmCarrierCanvas:
        def print_figure(self, fname, **kwargs):
            fname.write(_ERM_PAYLOAD)

    class _ErmCarrier:
        canvas = _ErmCarrierCanvas()
        subfigs = []
        axes = []

    _ERM_RUNNER_SAVEFIG(_ErmCarrier())
"""


def build_trace_program(code: str) -> str:
    """A standalone Python script that runs ``code`` and prints its trace after :data:`MARKER`."""
    return (
        _PROGRAM.replace("__AXES_FUNCTIONS__", repr(AXES_FUNCTIONS))
        .replace("__AXES3D_FUNCTIONS__", repr(AXES3D_FUNCTIONS))
        .replace("__MARKER__", MARKER)
        .replace("__CODE__", repr(code))
    )


@dataclass
class ChartTrace:
    """What a chart program drew, as recorded by the tracing program."""

    ok: bool
    error: str | None = None
    types: dict[str, int] = field(default_factory=dict)
    colors: list[str] = field(default_factory=list)
    layout: list[dict[str, int]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "error": self.error,
            "types": self.types,
            "colors": self.colors,
            "layout": self.layout,
            "texts": self.texts,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChartTrace:
        return cls(
            ok=bool(d.get("ok")),
            error=d.get("error"),
            types=dict(d.get("types") or {}),
            colors=list(d.get("colors") or []),
            layout=list(d.get("layout") or []),
            texts=[str(t) for t in d.get("texts") or []],
        )


def parse_trace_output(stdout: str) -> ChartTrace | None:
    """The trace printed by the program, or ``None`` when the program died before printing it."""
    pos = (stdout or "").rfind(MARKER)
    if pos < 0:
        return None
    line = stdout[pos + len(MARKER) :].splitlines()[0] if stdout[pos + len(MARKER) :] else ""
    try:
        return ChartTrace.from_dict(json.loads(line))
    except (json.JSONDecodeError, TypeError, ValueError):
        return None
