"""ChartMimic-style metrics from matplotlib calls traced inside erm's sandbox (real sandbox, real matplotlib)."""

from __future__ import annotations

import pytest

from erm_cli.bench.chart_metrics import chart_scores
from erm_cli.bench.trace_sandbox import trace_chart_code, trace_many

GOLD = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(5, 4))
ax.bar(["Jan", "Feb", "Mar"], [3, 5, 2], color="#1f77b4")
ax.set_title("Sales")
ax.set_xlabel("Month")
ax.set_ylabel("Units")
plt.tight_layout()
plt.savefig("chart.png")
plt.show()
plt.close()
"""

PRED = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(5, 4))
ax.bar(["Jan", "Feb", "Mar"], [3, 5, 2], color="#ff7f0e")
ax.plot([0, 1, 2], [3, 5, 2], color="#2ca02c")
ax.set_title("Revenue")
ax.set_xlabel("Month")
ax.set_ylabel("Units")
fig.savefig("chart.png")
"""


def test_trace_records_texts_types_layout_colours():
    res = trace_chart_code(GOLD)
    assert res.ok, res.error
    t = res.trace
    # tick labels are removed before drawing (ChartMimic's use_axs=False), so only the three labels remain
    assert sorted(t.texts) == ["Month", "Sales", "Units"]
    assert t.types == {"Axes.bar": 1}
    assert t.colors == ["Axes.bar--#1F77B4"]  # three bars, one colour: a set per function
    assert t.layout == [{"nrows": 1, "ncols": 1, "row_start": 0, "row_end": 0, "col_start": 0, "col_end": 0}]


def test_scores_of_a_near_miss_are_hand_computable():
    import numpy as np
    from skimage.color import deltaE_ciede2000, rgb2lab

    gold, pred = trace_many([GOLD, PRED], workers=2)
    assert gold.ok and pred.ok
    s = chart_scores(pred.trace, gold.trace)
    # text: gold {Sales, Month, Units}, pred {Revenue, Month, Units}: 2 matched -> P = R = 2/3
    assert s["text"]["f1"] == pytest.approx(2 / 3, abs=1e-6)
    # type: gold bar 1 ; pred bar 1 + plot 1 -> matched 1, P = 1/2, R = 1 -> F1 = 2/3
    assert s["type"]["f1"] == pytest.approx(2 / 3, abs=1e-6)
    assert s["layout"]["f1"] == 1.0
    # colour: only the bar group can match: S = 1 - dE2000(#FF7F0E, #1F77B4)/100 (floored at 0);
    # P = S / 2 (two generated colours), R = S / 1 -> F1 = 2 (S/2) S / (3S/2) = 2S/3
    lab = lambda h: rgb2lab(np.array([[[int(h[i : i + 2], 16) / 255 for i in (1, 3, 5)]]]))
    S = max(0.0, 1 - float(deltaE_ciede2000(lab("#FF7F0E"), lab("#1F77B4"))[0, 0]) / 100)
    assert s["color"]["f1"] == pytest.approx(2 * S / 3, abs=2e-3)


def test_subplot_grid_and_colormap_and_multiline_text():
    code = """
import matplotlib.pyplot as plt
import numpy as np
fig = plt.figure()
gs = fig.add_gridspec(2, 2)
a = fig.add_subplot(gs[0, :])
b = fig.add_subplot(gs[1, 0])
c = fig.add_subplot(gs[1, 1])
a.imshow(np.arange(6).reshape(2, 3), cmap="viridis")
b.scatter([1, 2], [2, 1], c=[0.1, 0.9], cmap="plasma")
c.pie([1, 2], colors=["red", "blue"])
a.set_title("two\\nlines")
"""
    res = trace_chart_code(code)
    assert res.ok, res.error
    t = res.trace
    assert {"nrows": 2, "ncols": 2, "row_start": 0, "row_end": 0, "col_start": 0, "col_end": 1} in t.layout
    assert len(t.layout) == 3
    assert set(t.colors) == {
        "Axes.imshow--cmap:viridis",
        "Axes.scatter--cmap:plasma",
        "Axes.pie--#FF0000",
        "Axes.pie--#0000FF",
    }
    assert t.texts == ["two", "lines"]


def test_failures_are_contained():
    crash = trace_chart_code("raise ValueError('boom')")
    assert not crash.ok and "boom" in (crash.error or "")
    assert chart_scores(crash.trace, crash.trace)["average"] == 0.0
    hang = trace_chart_code("while True:\n    pass\n", timeout=2)
    assert hang.trace is None and "timed out" in (hang.error or "")
    net = trace_chart_code("import socket\nsocket.create_connection(('10.255.255.1', 80), timeout=1)")
    assert not net.ok and "network" in (net.error or "")
