"""Print a fingerprint of erm's renders: sha256 and size of each PNG of a fixed probe set, as JSON.

The probe set is the shipped examples plus text in many font families (Arial, Helvetica, Liberation
Sans, Noto Sans, Times New Roman, Courier New, the generic families, a family only a system package
has) through every renderer: Chromium tables, cairosvg text, matplotlib text, plotly. Run it, change
the machine's fonts (e.g. ``apt-get install fonts-noto-core fonts-liberation2``), run it again and
compare: with erm's pinned font set the two outputs are identical. See docs/RENDERING.md.

    .venv/bin/python scripts/render_fingerprint.py > before.json
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

from PIL import Image

from erm_cli.renderers import render
from erm_cli.renderers.fonts import font_set_id

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ["Arial", "Helvetica", "Liberation Sans", "Noto Sans", "Times New Roman", "Courier New", "serif",
            "sans-serif", "monospace", "DejaVu Sans Condensed", "Open Sans", "Verdana"]
TEXT = "Quick brown fox 0123 Ωπ"


def probes() -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for name in ("chart.py", "icon.svg", "table.html", "table.md", "table.tex", "chart_plotly.py"):
        out[f"examples/{name}"] = ((ROOT / "examples" / name).read_text(), "")
    for path in sorted((ROOT / "examples" / "refine").glob("*")):
        if path.suffix in (".py", ".svg", ".html") and not path.stem.endswith("_init"):
            kind = {".py": "matplotlib", ".svg": "svg", ".html": "html"}[path.suffix]
            out[f"examples/refine/{path.name}"] = (path.read_text(), kind)
    for family in FAMILIES:
        cell = f"<td style=\"font-family:'{family}'\">{TEXT}</td>"
        bold = f"<td style=\"font-family:'{family}';font-weight:bold\">{TEXT}</td>"
        out[f"html:{family}"] = (f"<table><tr>{cell}{bold}</tr></table>", "html")
        text = f'<text x="4" y="28" font-size="20" font-family="{family}">{TEXT}</text>'
        svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="320" height="40">{text}</svg>'
        out[f"svg:{family}"] = (svg, "svg")
        figure = "import matplotlib.pyplot as plt\nfig = plt.figure(figsize=(4, 1))\n"
        label = f"fig.text(0.02, 0.4, {TEXT!r}, fontsize=16, family={family!r})\n"
        out[f"matplotlib:{family}"] = (figure + label, "matplotlib")
    return out


def main() -> int:
    result: dict[str, object] = {"fonts": font_set_id()}
    for name, (code, kind) in probes().items():
        r = render(code, kind=kind or None, cache=False)
        if not r.ok:
            result[name] = f"failed: {r.error}"
            continue
        size = Image.open(io.BytesIO(r.png)).size
        result[name] = f"{hashlib.sha256(r.png).hexdigest()[:16]} {size[0]}x{size[1]}"
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
