"""Golden values for the vision-to-code task metrics: TEDS / TEDS-S, ChartMimic-style F1s, SVG metrics.

Every expected number is computed by hand in the comment next to it.
"""

from __future__ import annotations

import itertools
import random

import pytest
from PIL import Image

from erm_cli.bench.chart_metrics import (
    best_assignment_similarity,
    chart_scores,
    colour_prf,
    colour_similarity,
    multiset_prf,
    type_prf,
)
from erm_cli.bench.chart_trace import ChartTrace
from erm_cli.bench.svg_metrics import code_length, mse, ssim, svg_scores
from erm_cli.bench.teds import (
    detect_table_format,
    latex_table_to_html,
    markdown_table_to_html,
    normalize_table,
    parse_html,
    table_tree,
    teds,
    teds_html,
    tree_edit_distance,
)

GOLD = "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>"


# ----------------------------------------------------------------------------------------------
# TEDS
# ----------------------------------------------------------------------------------------------


def test_teds_identical_and_empty():
    assert teds(GOLD, GOLD) == 1.0
    assert teds("no table here", GOLD) == 0.0
    assert teds("", GOLD) == 0.0


def test_teds_one_wrong_cell():
    # 6 nodes below <table> (2 tr + 4 td); renaming td "d" -> "x" costs lev = 1 / len 1 = 1
    pred = GOLD.replace("<td>d</td>", "<td>x</td>")
    assert teds(pred, GOLD) == pytest.approx(1 - 1 / 6)
    # TEDS-S ignores content
    assert teds(pred, GOLD, structure_only=True) == 1.0


def test_teds_partial_cell_content():
    # "abcd" vs "abce": Levenshtein 1 over 4 tokens -> rename 0.25 ; 6 nodes -> 1 - 0.25/6
    g = GOLD.replace("<td>d</td>", "<td>abcd</td>")
    p = GOLD.replace("<td>d</td>", "<td>abce</td>")
    assert teds(p, g) == pytest.approx(1 - 0.25 / 6)


def test_teds_missing_row():
    # delete one tr and its two td: distance 3 over max(3, 6) nodes -> 0.5
    pred = "<table><tr><td>a</td><td>b</td></tr></table>"
    assert teds(pred, GOLD) == pytest.approx(0.5)


def test_teds_colspan_change():
    # pred row 1 is one td colspan=2 "a": rename td(a, cs1) -> td(a, cs2) costs 1 (span differs),
    # deleting td "b" costs 1 -> distance 2 over max(5, 6) = 6 nodes -> 2/3
    pred = '<table><tr><td colspan="2">a</td></tr><tr><td>c</td><td>d</td></tr></table>'
    assert teds(pred, GOLD) == pytest.approx(2 / 3)


def test_teds_inline_tags_are_tokens_and_nodes():
    # pred cell tokens ['<b>', 'a', '</b>'] vs gold ['a']: Levenshtein 2 / 3 ; node counts: pred tr, td, b = 3,
    # gold tr, td = 2 -> TEDS = 1 - (2/3) / 3 = 7/9  (PubTabNet counts inline elements as nodes)
    p = "<html><body><table><tr><td><b>a</b></td></tr></table></body></html>"
    g = "<html><body><table><tr><td>a</td></tr></table></body></html>"
    assert teds_html(p, g) == pytest.approx(7 / 9)


def test_tree_edit_distance_general_trees():
    # Zhang & Shasha's textbook example: f(d(a c(b)) e) vs f(c(d(a b)) e) has distance 2 with unit costs
    def tree(html):
        return table_tree(parse_html(html).find("table"))

    t1 = tree("<table><f><d><a></a><c><b></b></c></d><e></e></f></table>")
    t2 = tree("<table><f><c><d><a></a><b></b></d></c><e></e></f></table>")
    assert tree_edit_distance(t1, t2) == 2.0


def test_normalisation_of_html_markdown_latex():
    fancy = (
        '<table class="x"><thead><tr><th style="color:red">a</th><th>b</th></tr></thead>'
        "<tbody><tr><td>c</td><td><span>d</span></td></tr></tbody></table>"
    )
    md = "| a | b |\n|---|:---:|\n| c | d |"
    tex = r"\begin{tabular}{|l|c|}\hline a & b \\ \hline c & \textbf{d} \\ \hline\end{tabular}"
    want = '<html><body><table border="1" ><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table></body></html>'
    for src in (fancy, md, tex, f"```html\n{GOLD}\n```"):
        assert normalize_table(src) == want, src
        assert teds(src, GOLD) == 1.0
    assert [detect_table_format(s) for s in (fancy, md, tex, "plain")] == [
        "html",
        "markdown",
        "latex",
        "unknown",
    ]


def test_latex_multirow_multicolumn_and_entities():
    tex = (
        r"\begin{table}\caption{T}\begin{tabular}{ccc}\toprule \multirow{2}{*}{A} & \multicolumn{2}{c}{B \& C}"
        r" \\ \cmidrule(lr){2-3} & x & \textbf{y} \\ \bottomrule\end{tabular}\end{table}"
    )
    # the caption and the bold markup are dropped (LaTeXML + OmniDocBench keep neither inside the table)
    assert normalize_table(tex) == (
        '<html><body><table border="1" ><tr><td rowspan="2">A</td>'
        '<td colspan="2">B & C</td></tr><tr><td>x</td><td>y</td></tr></table></body></html>'
    )
    assert latex_table_to_html("no table") == ""
    assert (
        markdown_table_to_html("a | b\nc | d")
        == "<table><tbody><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></tbody></table>"
    )


def test_implied_end_tags_parse_like_a_browser():
    sloppy = "<table><tr><td>a<td>b<tr><td>c<td>d</table>"
    assert teds(sloppy, GOLD) == 1.0


# ----------------------------------------------------------------------------------------------
# ChartMimic-style chart metrics
# ----------------------------------------------------------------------------------------------


def test_multiset_and_type_f1():
    # texts: gold A B C, gen A B B -> matched A + one B = 2 -> P = R = 2/3 -> F1 = 2/3
    p = multiset_prf(["A", "B", "B"], ["A", "B", "C"])
    assert (p.precision, p.recall, p.f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert multiset_prf([], ["A"]).f1 == 0.0
    # types: gen plot 2, bar 1 ; gold plot 1, scatter 1 -> matched min(2, 1) = 1 ; P = 1/3, R = 1/2
    # F1 = 2 * (1/6) / (5/6) = 0.4
    t = type_prf({"Axes.plot": 2, "Axes.bar": 1}, {"Axes.plot": 1, "Axes.scatter": 1})
    assert t.f1 == pytest.approx(0.4)
    # layouts are dicts compared exactly
    one = {"nrows": 1, "ncols": 2, "row_start": 0, "row_end": 0, "col_start": 0, "col_end": 0}
    assert multiset_prf([one], [one, dict(one, col_start=1, col_end=1)]).f1 == pytest.approx(2 / 3)


def test_colour_similarity_uses_delta_e2000():
    import numpy as np
    from skimage.color import deltaE_ciede2000, rgb2lab

    # an independent ΔE2000 (scikit-image) for two reds
    a, b = np.array([[[1.0, 0.0, 0.0]]]), np.array([[[0.8, 0.1, 0.1]]])
    de = float(deltaE_ciede2000(rgb2lab(a), rgb2lab(b))[0, 0])
    hex_b = "#%02X%02X%02X" % (round(0.8 * 255), round(0.1 * 255), round(0.1 * 255))
    assert colour_similarity("#FF0000", hex_b) == pytest.approx(1 - de / 100, abs=2e-3)
    assert colour_similarity("cmap:viridis", "cmap:viridis") == 1.0
    assert colour_similarity("cmap:viridis", "#FF0000") == 0.0


def test_colour_f1_groups_by_function_and_assigns_optimally():
    # swapped order inside a group still pairs red-red and blue-blue: S = 2 -> P = R = 1
    p = colour_prf(["Axes.bar--#FF0000", "Axes.bar--#0000FF"], ["Axes.bar--#0000FF", "Axes.bar--#FF0000"])
    assert p.f1 == pytest.approx(1.0)
    # same colour but a different plotting function never matches
    assert colour_prf(["Axes.plot--#FF0000"], ["Axes.bar--#FF0000"]).f1 == 0.0
    # 1 matched of 2 generated and 1 gold: S = 1 -> P = 1/2, R = 1 -> F1 = 2/3
    assert colour_prf(
        ["Axes.plot--#FF0000", "Axes.plot--cmap:jet"], ["Axes.plot--#FF0000"]
    ).f1 == pytest.approx(2 / 3)


def test_hungarian_equals_chartmimic_permutation_search():
    rng = random.Random(7)
    gen = ["#%06X" % rng.randrange(1 << 24) for _ in range(4)]
    gold = ["#%06X" % rng.randrange(1 << 24) for _ in range(6)]
    brute = max(
        sum(colour_similarity(g, r) for g, r in zip(gen, perm)) for perm in itertools.permutations(gold, 4)
    )
    assert best_assignment_similarity(gen, gold) == pytest.approx(brute, abs=1e-9)


def test_chart_scores_failed_generation_is_zero():
    gold = ChartTrace(
        ok=True, types={"Axes.bar": 1}, colors=["Axes.bar--#FF0000"], texts=["T"], layout=[{"nrows": 1}]
    )
    assert chart_scores(None, gold)["average"] == 0.0
    same = chart_scores(gold, gold)
    assert same["average"] == 1.0 and same["color"]["f1"] == 1.0


# ----------------------------------------------------------------------------------------------
# SVG metrics
# ----------------------------------------------------------------------------------------------


def test_svg_pixel_metrics():
    white = Image.new("RGB", (32, 32), "white")
    half = white.copy()
    half.paste((0, 0, 0), (0, 0, 32, 16))
    # half the pixels differ by 1.0 in every channel -> MSE 0.5
    assert mse(white, half) == pytest.approx(0.5)
    assert mse(white, white) == 0.0 and ssim(white, white) == pytest.approx(1.0)
    assert ssim(white, half) < 0.6
    # a candidate of another size is resized to the reference first
    assert mse(white, Image.new("RGB", (64, 64), "white")) == 0.0
    assert code_length("<svg/>", "<svg></svg>") == {"code_chars": 6, "length_ratio": 0.5455}
    s = svg_scores(white, None, "<svg/>")
    assert "mse" not in s and s["code_chars"] == 6
