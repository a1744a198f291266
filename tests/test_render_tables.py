"""HTML, Markdown and LaTeX tables through the warm Chromium with the fixed stylesheet, cropped to content."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from erm_cli.renderers import render
from erm_cli.renderers.latex_table import latex_to_html
from erm_cli.renderers.table_renderer import CROP_PADDING, markdown_to_html


@pytest.fixture(autouse=True)
def _needs_chromium(has_chromium: bool) -> None:
    if not has_chromium:
        pytest.skip("Chromium is not installed")


@pytest.mark.parametrize("name,kind", [("table.html", "html"), ("table.md", "markdown"), ("table.tex", "latex")])
def test_examples_render_cropped_with_a_margin(examples_dir: Path, name: str, kind: str) -> None:
    result = render((examples_dir / name).read_text())
    assert result.ok and result.kind == kind, result.error
    arr = np.asarray(result.image().convert("L"))
    dark = np.argwhere(arr < 128)
    assert dark.size
    top, left = dark.min(axis=0)
    bottom, right = dark.max(axis=0)
    h, w = arr.shape
    # the 1 px #333 grid is the outermost ink: exactly the padding on every side
    assert (top, left) == (CROP_PADDING, CROP_PADDING)
    assert (h - 1 - bottom, w - 1 - right) == (CROP_PADDING, CROP_PADDING)
    assert result.versions["chromium"] != "absent" and result.versions["table-css"]


def test_same_table_in_three_languages_looks_the_same() -> None:
    html = ("<table><tr><td>Model</td><td style='text-align:right'>Score</td></tr>"
            "<tr><td>A</td><td style='text-align:right'>1.5</td></tr></table>")
    tex = "\\begin{tabular}{lr}\nModel & Score \\\\\nA & 1.5 \\\\\n\\end{tabular}"
    a = render(html, kind="html", cache=False)
    b = render(tex, kind="latex", cache=False)
    assert a.ok and b.ok
    assert a.image().size == b.image().size
    diff = np.abs(np.asarray(a.image(), dtype=int) - np.asarray(b.image(), dtype=int)).mean()
    assert diff < 1.0


def test_wide_table_is_not_wrapped() -> None:
    """Up to the paper's 3600 px viewport a row stays on one line (the page itself is 800 px wide); a row
    wider than that wraps inside the viewport instead of being cut off."""
    def size(columns: int) -> tuple[int, int]:
        cells = "".join(f"<td>column number {i}</td>" for i in range(columns))
        result = render(f"<table><tr>{cells}</tr></table>", kind="html", cache=False)
        assert result.ok, result.error
        return result.image().size

    _, one_line = size(1)
    w, h = size(24)
    assert 2000 < w < 3584 and h == one_line
    w, h = size(40)  # about 5200 px of text at Arial 14 px: wraps at the 3584 px body width
    assert w <= 3584 + 2 * CROP_PADDING and h > one_line


def test_markdown_alignment_and_no_table() -> None:
    html = markdown_to_html("| a | b |\n|:--|--:|\n| 1 | 2 |\n")
    assert "<table>" in html and 'style="text-align:right"' in html
    result = render("# Just a heading\n\nSome text.", kind="markdown", cache=False)
    assert not result.ok and "no Markdown table" in result.error


def test_latex_converter_spans_alignment_and_text() -> None:
    tex = r"""\begin{table}\caption{Scores (\%)}
\begin{tabular}{|l|*{2}{c}|r|}
\hline
\multicolumn{3}{|c|}{\textbf{Group}} & Total \\ \hline
\multirow{2}{*}{A} & $\alpha$ & $x^{2}$ & 1\,000 \\
 & \emph{b} & c\_d & \$5 \\ % a comment & with an ampersand
\rowcolor{yellow} B & \textcolor{red}{r} & -- & 3 \\
\end{tabular}\end{table}"""
    html = latex_to_html(tex)
    assert "<caption>Scores (%)</caption>" in html
    assert '<td colspan="3" style="text-align:center"><b>Group</b></td>' in html
    assert '<td rowspan="2" style="text-align:left">A</td>' in html
    assert "α" in html and "x<sup>2</sup>" in html and "<i>b</i>" in html and "c_d" in html and "$5" in html
    assert "comment" not in html and "background-color:yellow" in html and 'color:red' in html
    assert html.count("<tr>") == 4
    # the row under the multirow has one cell fewer in HTML (the rowspan covers it)
    rows = html.split("<tr>")[1:]
    assert rows[2].count("<td") == 3


def test_latex_without_tabular_fails_clearly() -> None:
    result = render("\\section{Intro} no table here", kind="latex", cache=False)
    assert not result.ok and "no tabular" in result.error


def test_longtable_and_booktabs() -> None:
    tex = r"""\begin{longtable}{lr}
\toprule Name & Value \\ \midrule \endfirsthead
\toprule Name & Value (cont.) \\ \midrule \endhead
\bottomrule \endfoot
x & 1 \\ y & 2 \\
\end{longtable}"""
    html = latex_to_html(tex)
    assert "cont." not in html and html.count("<tr>") == 3


def test_arial_metric_names_are_liberation_sans_and_other_families_stay_in_the_pinned_set() -> None:
    """table.css asks for Arial (Visual-ERM's table font): it and its metric twins render as the bundled
    Liberation Sans; a family no machine is guaranteed to have renders as the generic sans-serif."""
    def png(family: str) -> bytes:
        result = render(f"<table><tr><td style=\"font-family:'{family}'\">Model 91.2 (7B)</td></tr></table>",
                        kind="html", cache=False)
        assert result.ok, result.error
        return result.png

    arial = png("Arial")
    assert png("Liberation Sans") == arial and png("Helvetica") == arial
    assert png("Noto Sans") == png("sans-serif") == png("DejaVu Sans") != arial
