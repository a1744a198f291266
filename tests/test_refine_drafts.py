"""Model-free image-to-code drafts: chart extraction, table grid + OCR, vtracer SVG — on real images."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont


def _mpl_png(code: str) -> Image.Image:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    ns: dict = {}
    exec(compile(code, "<chart>", "exec"), ns)
    buf = io.BytesIO()
    plt.gcf().savefig(buf, format="png", dpi=100)
    plt.close("all")
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


BAR = """import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
ax.bar(['North', 'South', 'East', 'West'], [12, 19, 7, 15], color='#4c72b0')
ax.set_title('Quarterly Revenue 2023')
ax.set_xlabel('Region')
ax.set_ylabel('Revenue (M$)')
"""

LINE = """import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
years = [2018, 2019, 2020, 2021, 2022]
ax.plot(years, [3.1, 4.5, 2.2, 5.8, 6.4], color='#dd8452', marker='o', label='North')
ax.plot(years, [1.0, 2.5, 3.9, 3.2, 4.8], color='#55a868', label='South')
ax.set_title('Sales by region')
ax.legend()
"""


@pytest.fixture(scope="module")
def tesseract(has_tesseract):
    if not has_tesseract:
        pytest.skip("tesseract is not installed")


def test_bar_chart_is_read_back(tesseract):
    from erm_cli.refine.chart_extract import analyse_chart, bar_values

    facts = analyse_chart(_mpl_png(BAR))
    assert facts.kind == "bar" and len(facts.bars) == 4
    assert facts.title == "Quarterly Revenue 2023" and facts.xlabel == "Region"
    assert [w.text for w in facts.xticks] == ["North", "South", "East", "West"]
    values = bar_values(facts, sorted(facts.bars, key=lambda b: b.cx))
    assert values is not None and np.allclose(values, [12, 19, 7, 15], atol=0.3)


def test_chart_draft_reproduces_the_chart(tesseract):
    from erm_cli.refine.chart_extract import analyse_chart, bar_values
    from erm_cli.refine.draft_chart import draft_chart

    ref = _mpl_png(BAR)
    code = draft_chart(ref)[0]
    assert "'Quarterly Revenue 2023'" in code and "#4c72b0" in code
    redrawn = analyse_chart(_mpl_png(code))
    vals = bar_values(redrawn, sorted(redrawn.bars, key=lambda b: b.cx))
    assert vals is not None and np.allclose(vals, [12, 19, 7, 15], atol=0.3)


def test_line_chart_draft_has_series_markers_and_legend(tesseract):
    from erm_cli.refine.draft_chart import draft_chart

    code = draft_chart(_mpl_png(LINE))[0]
    ns: dict = {}
    import matplotlib

    matplotlib.use("Agg")
    exec(compile(code, "<draft>", "exec"), ns)
    assert ns["x_0"] == [2018.0, 2019.0, 2020.0, 2021.0, 2022.0]
    assert np.allclose(ns["y_0"], [3.1, 4.5, 2.2, 5.8, 6.4], atol=0.15)
    assert np.allclose(ns["y_1"], [1.0, 2.5, 3.9, 3.2, 4.8], atol=0.15)
    assert "marker='o'" in code and "label='North'" in code and "label='South'" in code
    import matplotlib.pyplot as plt

    plt.close("all")


def _font(size: int) -> ImageFont.FreeTypeFont:
    from matplotlib import font_manager

    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def _table_image(rows: list[list[str]]) -> Image.Image:
    cw, rh, pad = 120, 34, 12
    img = Image.new("RGB", (len(rows[0]) * cw + 2 * pad, len(rows) * rh + 2 * pad), "white")
    d = ImageDraw.Draw(img)
    f = _font(16)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            x0, y0 = pad + c * cw, pad + r * rh
            d.rectangle((x0, y0, x0 + cw, y0 + rh), outline=(51, 51, 51), width=1)
            d.text((x0 + 10, y0 + 8), text, fill="black", font=f)
    return img


def test_table_draft_reads_grid_and_cells(tesseract):
    from erm_cli.refine.draft_table import draft_table

    rows = [["Model", "Accuracy", "Params"], ["Alpha", "91.2", "7B"], ["Beta", "88.7", "13B"]]
    html = draft_table(_table_image(rows))[0]
    assert html.count("<tr>") == 3 and html.count("<td") + html.count("<th") == 9
    for cell in [c for row in rows for c in row]:
        assert f">{cell}</t" in html
    assert "border: 1px solid #333333" in html


def test_svg_draft_vectorises_the_raster():
    import cairosvg

    from erm_cli.refine.draft_svg import draft_svg

    img = Image.new("RGB", (96, 96), "white")
    d = ImageDraw.Draw(img)
    d.ellipse((10, 10, 86, 86), fill=(220, 50, 47))
    d.rectangle((40, 30, 56, 66), fill=(255, 255, 255))
    drafts = draft_svg(img, 2)
    assert len(drafts) == 2 and all(s.lstrip().startswith("<?xml") or s.lstrip().startswith("<svg") for s in drafts)
    png = cairosvg.svg2png(bytestring=drafts[0].encode(), output_width=96, output_height=96)
    out = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), float)
    assert np.abs(out - np.asarray(img, float)).mean() < 6.0
