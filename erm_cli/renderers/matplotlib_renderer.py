"""matplotlib Python -> PNG in the sandbox (ChartMimic-style scripts that call ``savefig``, ``show`` or neither).

The first ``savefig``/``show`` is captured whatever path or format the code asked for (keeping its
``bbox_inches``, ``pad_inches``, ``facecolor``, ``edgecolor`` and ``transparent``), else the current figure
when the script ends. Fixed Agg backend, DejaVu Sans, 8x6 in default figure size, ``dpi`` from the
options (100), seeded ``random``/``numpy``, no PNG metadata: the same code gives the same bytes.
The code must run to the end: an uncaught exception is a failure even after a ``savefig``.
"""

from __future__ import annotations

from .base import RenderOptions
from .failures import CodeFailure
from .sandbox import run_untrusted


def render_matplotlib(code: str, options: RenderOptions) -> bytes:
    result = run_untrusted("matplotlib", code, dpi=options.dpi, timeout=options.timeout, mem_mb=options.mem_mb,
                           strict=options.strict)
    if not result.ok:
        raise CodeFailure(result.error or "render failed")
    return result.payload
