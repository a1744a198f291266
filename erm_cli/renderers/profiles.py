"""Render profiles: ``erm`` (erm's own renderer settings) and ``visual-erm`` (the released reward code's).

The released Visual-ERM reward (``rl_scripts/reward_func/omnirender_rm_v3.py``) renders a policy's code
differently from erm's defaults, and the released judge was trained on its renders:

- **matplotlib**: it removes every ``plt.savefig(...)``, ``fig.savefig(...)``, ``plt.show()`` and
  ``fig.show()`` (with its own regular expressions, so a call whose arguments hold a ``)`` breaks the
  code, as it does there), adds ``import matplotlib.pyplot as plt`` when the code uses ``plt.`` without
  importing it, and saves the current figure with ``plt.savefig(path)``: matplotlib's default figure size
  (6.4x4.8 in), the figure's dpi (rc default 100) and no tight bounding box;
- **SVG**: ``cairosvg.svg2png(..., output_width=336, output_height=336, background_color="white")``:
  every candidate at 336x336 on white, whatever its own size;
- **tables** (``table_parse_rm_v2.py``): the whole answer (prose and fences included) goes raw into the
  released page as HTML: its stylesheet as written (``td`` borders only, so header cells have none; 20 px
  body margin; body text in the browser's default font), no doctype, a 3600x2400 viewport screenshot (a
  taller table is cut there) cropped to content + 12 px inside the screenshot
  (``table_renderer.released_document``). Markdown or LaTeX answers therefore show as text, as they do in
  the released reward.

:func:`apply_profile` turns (kind, code, options) into what erm's renderers need to produce those pixels.
"""

from __future__ import annotations

import re
from dataclasses import replace

from .base import RenderOptions

PROFILES: tuple[str, ...] = ("erm", "visual-erm")
#: The released SVG raster size.
VISUAL_ERM_SVG_SIZE = 336
#: matplotlib's own default figure size (the released renderer does not change it).
MATPLOTLIB_DEFAULT_FIGSIZE = (6.4, 4.8)
MATPLOTLIB_DEFAULT_DPI = 100

_STRIP = (  # the released renderer's substitutions, in its order
    (re.compile(r"plt\.savefig\s*\(.*?\)", re.DOTALL), "# removed by render profile visual-erm"),
    (re.compile(r"fig\.savefig\s*\(.*?\)", re.DOTALL), "# removed by render profile visual-erm"),
    (re.compile(r"plt\.show\s*\(\s*\)"), "# removed by render profile visual-erm"),
    (re.compile(r"fig\.show\s*\(\s*\)"), "# removed by render profile visual-erm"),
)
#: A figure dpi set in the code itself (``plt.figure(dpi=150)``, ``plt.subplots(..., dpi=150)``,
#: ``rcParams["figure.dpi"] = 150``): the released save uses the figure's dpi.
_FIGURE_DPI = re.compile(r"\b(?:figure|subplots|subplot_mosaic)\s*\((?:[^()]|\([^()]*\))*?\bdpi\s*=\s*(\d+(?:\.\d+)?)")
_RC_DPI = re.compile(r"""rcParams\s*\[\s*['"]figure\.dpi['"]\s*\]\s*=\s*(\d+(?:\.\d+)?)""")


def check_profile(profile: str) -> str:
    from ..errors import InputError

    if profile not in PROFILES:
        raise InputError(f"profile must be one of {', '.join(PROFILES)}, not {profile!r}")
    return profile


def released_matplotlib_code(code: str) -> str:
    """The code the released renderer runs (its final save is ``plt.savefig(path)``)."""
    out = code
    if "matplotlib.pyplot" not in out and "plt." in out:
        out = "import matplotlib.pyplot as plt\n" + out
    for pattern, repl in _STRIP:
        out = pattern.sub(repl, out)
    # matplotlib's defaults, which erm's sandbox otherwise sets to 8x6 in
    prologue = ("import matplotlib as _erm_profile_mpl\n"
                f"_erm_profile_mpl.rcParams['figure.figsize'] = [{MATPLOTLIB_DEFAULT_FIGSIZE[0]}, "
                f"{MATPLOTLIB_DEFAULT_FIGSIZE[1]}]\n")
    return prologue + out + "\n# ===== render profile visual-erm: final save =====\n" \
        "import matplotlib.pyplot as plt\nplt.savefig('render.png')\n"


def figure_dpi(code: str) -> int:
    """The dpi the code gives its figure (last one set), else matplotlib's default."""
    found = [float(m.group(1)) for pattern in (_FIGURE_DPI, _RC_DPI) for m in pattern.finditer(code)]
    dpi = int(round(found[-1])) if found else MATPLOTLIB_DEFAULT_DPI
    return min(1200, max(10, dpi))


def apply_profile(kind: str, code: str, options: RenderOptions, raw: str | None = None
                  ) -> tuple[str, str, RenderOptions]:
    """``(kind, code, options)`` that make erm's renderers draw what the profile draws. ``raw`` is the
    whole answer the code was extracted from: the released table reward puts all of it in the page."""
    check_profile(options.profile)
    if options.profile == "erm":
        return kind, code, options
    if kind == "matplotlib":
        return kind, released_matplotlib_code(code), replace(options, dpi=figure_dpi(code))
    if kind == "svg":
        return kind, code, replace(options, width=VISUAL_ERM_SVG_SIZE, height=VISUAL_ERM_SVG_SIZE)
    if kind in ("html", "markdown", "latex"):
        return "html", raw if raw is not None else code, options
    return kind, code, options
