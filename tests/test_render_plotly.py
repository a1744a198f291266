"""plotly Python: code in the sandbox emits the figure JSON; the warm Chromium draws it offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from erm_cli.renderers import RenderOptions, render


@pytest.fixture(autouse=True)
def _needs_chromium(has_chromium: bool) -> None:
    if not has_chromium:
        pytest.skip("Chromium is not installed")


def test_example_plotly_chart(examples_dir: Path) -> None:
    result = render((examples_dir / "chart_plotly.py").read_text())
    assert result.ok and result.kind == "plotly", result.error
    assert result.image().size == (800, 500)  # the figure's own layout size
    assert result.versions["plotly"] and result.versions["chromium"] != "absent"


def test_size_from_options_and_capture_paths() -> None:
    base = "import plotly.graph_objects as go\nfig = go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2]))\n"
    shown = render(base + "fig.show()\n", options=RenderOptions(width=500, height=300), cache=False)
    written = render(base + "fig.write_image('chart.png')\n", options=RenderOptions(width=500, height=300),
                     cache=False)
    neither = render(base, options=RenderOptions(width=500, height=300), cache=False)
    assert shown.ok and written.ok and neither.ok
    assert shown.image().size == (500, 300)
    assert shown.png == written.png == neither.png


def test_plotly_express() -> None:
    code = ("import plotly.express as px\nfig = px.bar(x=['a', 'b', 'c'], y=[1, 3, 2], title='px')\n"
            "fig.update_layout(width=400, height=300)\n")
    result = render(code, cache=False)
    assert result.ok, result.error
    assert result.image().size == (400, 300)


def test_no_figure_and_broken_code() -> None:
    assert "no plotly figure" in render("import plotly\nx = 1\n", cache=False).error
    broken = render("import plotly.graph_objects as go\nfig = go.Figure(go.Bar(x=[1], y=[1], nonsense=3))\n",
                    cache=False)
    assert not broken.ok and "ValueError" in broken.error
