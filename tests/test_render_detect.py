"""Language detection and code extraction from model answers (pure functions, no rendering)."""

from __future__ import annotations

import pytest

from erm_cli.errors import InputError
from erm_cli.renderers import detect_kind, extract_code

MPL = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.savefig('x.png')\n"
PLOTLY = "import plotly.graph_objects as go\nfig = go.Figure(go.Bar(x=[1], y=[2]))\nfig.show()\n"
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="5" height="5"/></svg>'
HTML = "<table><tr><td>a</td><td>b</td></tr></table>"
MD = "| a | b |\n|---|---|\n| 1 | 2 |\n"
TEX = "\\begin{tabular}{cc}\na & b \\\\\n1 & 2 \\\\\n\\end{tabular}\n"


@pytest.mark.parametrize("code,kind", [(MPL, "matplotlib"), (PLOTLY, "plotly"), (SVG, "svg"), (HTML, "html"),
                                       (MD, "markdown"), (TEX, "latex"),
                                       ('<?xml version="1.0"?>\n' + SVG, "svg"),
                                       ("import seaborn as sns\nsns.barplot(x=[1], y=[2])\n", "matplotlib"),
                                       ("<!DOCTYPE html><html><body>" + HTML + "</body></html>", "html")])
def test_detect_kind_from_content(code: str, kind: str) -> None:
    assert detect_kind(code) == kind


@pytest.mark.parametrize("name,kind", [("a.svg", "svg"), ("t.HTML", "html"), ("t.htm", "html"), ("t.md", "markdown"),
                                       ("t.tex", "latex")])
def test_extension_wins(name: str, kind: str) -> None:
    # the extension is decisive even when the content alone is ambiguous
    assert detect_kind("hello", filename=name) == kind


def test_python_extension_is_settled_by_content() -> None:
    assert detect_kind(PLOTLY, "chart.py") == "plotly"
    assert detect_kind(MPL, "chart.py") == "matplotlib"
    assert detect_kind("x = 1\n", "chart.py") == "matplotlib"


def test_undetectable_raises_input_error() -> None:
    with pytest.raises(InputError, match="--kind"):
        detect_kind("just some prose, no code at all")


def test_raw_code_is_returned_unchanged() -> None:
    for code, kind in [(MPL, "matplotlib"), (SVG, "svg"), (HTML, "html"), (MD, "markdown"), (TEX, "latex")]:
        assert extract_code(code) == (code, kind)


@pytest.mark.parametrize("lang,body,kind", [
    ("python", MPL, "matplotlib"), ("py", PLOTLY, "plotly"), ("svg", SVG, "svg"), ("xml", SVG, "svg"),
    ("html", HTML, "html"), ("markdown", MD, "markdown"), ("md", MD, "markdown"), ("latex", TEX, "latex"),
    ("tex", TEX, "latex"), ("", MPL, "matplotlib"), ("", SVG, "svg"), ("html", SVG, "svg"),
])
def test_fenced_block(lang: str, body: str, kind: str) -> None:
    answer = f"Sure! Here is the code:\n\n```{lang}\n{body}```\n\nIt draws the picture."
    code, got = extract_code(answer)
    assert got == kind
    assert code.strip() == body.strip()


def test_last_fenced_block_wins() -> None:
    answer = ("First attempt:\n```python\nimport matplotlib.pyplot as plt\nplt.plot([1])\n```\n"
              "Better:\n```python\nimport matplotlib.pyplot as plt\nplt.bar(['a'], [2])\n```\n")
    code, kind = extract_code(answer)
    assert "plt.bar" in code and "plt.plot" not in code
    assert kind == "matplotlib"


def test_last_block_wins_across_languages() -> None:
    answer = f"```python\n{MPL}```\nor as a vector:\n```svg\n{SVG}\n```"
    assert extract_code(answer) == (SVG + "\n", "svg")


def test_unclosed_fence_runs_to_the_end() -> None:
    code, kind = extract_code("```python\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\n")
    assert kind == "matplotlib" and code.rstrip().endswith("plt.plot([1, 2])")


def test_tilde_fences_and_longer_backtick_fences() -> None:
    assert extract_code(f"~~~svg\n{SVG}\n~~~")[1] == "svg"
    code, kind = extract_code(f"````markdown\n{MD}````")
    assert kind == "markdown" and code.strip() == MD.strip()


def test_bare_svg_in_prose() -> None:
    code, kind = extract_code(f"The icon is {SVG} as requested.")
    assert (code, kind) == (SVG, "svg")


def test_truncated_bare_svg_is_closed() -> None:
    code, kind = extract_code('Here: <svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="2" '
                              'height="2"/>')
    assert kind == "svg" and code.endswith("</svg>") and code.startswith("<svg")


def test_python_with_fence_inside_a_string_is_kept_whole() -> None:
    code = 'import matplotlib.pyplot as plt\nDOC = """\n```python\nprint(1)\n```\n"""\nplt.plot([1])\n'
    assert extract_code(code) == (code, "matplotlib")


def test_no_code_at_all() -> None:
    text, kind = extract_code("I cannot draw that, sorry.")
    assert kind is None and text == "I cannot draw that, sorry."


def test_bytes_are_decoded() -> None:
    code, kind = extract_code(MPL.encode() + b"# \xff\n")
    assert kind == "matplotlib" and "\ufffd" in code
