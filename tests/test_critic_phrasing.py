"""Visual-ERM wording of the critic's verdicts (judges/critic/phrasing.py), on real renders with the default
judge: the series named by its legend label, the text element, the table cell by its row and column
headers, an icon's part by its place; the verifier still decides on the analysers' own words."""

from __future__ import annotations

import re
from functools import cache

import pytest
from PIL import Image

from erm_cli.judges.critic import Critic
from erm_cli.judges.critic.colour import delta_e_rgb
from erm_cli.judges.critic.phrasing import is_typo, numeric_change, phrase_error, table_cell_names


@cache
def render(code: str, kind: str = "matplotlib") -> Image.Image:
    from erm_cli.renderers import render as erm_render

    res = erm_render(code, kind=kind)
    if not res.ok:
        pytest.skip(f"{kind} renderer unavailable here: {res.error}")
    return res.image()


def describe(v) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e.to_dict() for e in v.errors]


def _rgb(hex_: str) -> tuple[int, int, int]:
    return tuple(int(hex_[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


class _Recorder:
    """The shipped verifier, keeping the proposals it was shown."""

    def __init__(self) -> None:
        from erm_cli.judges.critic.verifier import default_verifier

        self.inner = default_verifier()
        self.proposals: list = []

    def decide(self, findings, ctx):  # type: ignore[no-untyped-def]
        self.proposals = [(f.location, f.description) for f in findings]
        return self.inner.decide(findings, ctx)


# ----------------------------------------------------------------------------------------------- charts

BARS = """
import matplotlib.pyplot as plt
import numpy as np
fig, ax = plt.subplots(figsize=(6.4, 4.8))
x = np.arange(4)
ax.bar(x - 0.2, [12, 19, 15, 22], 0.4, color="#1f77b4", label="North")
ax.bar(x + 0.2, [9, 14, 18, 11], 0.4, color="{colour}", label="South")
ax.set_xticks(x, ["Q1", "Q2", "Q3", "Q4"])
ax.set_title("{title}")
ax.set_ylabel("Revenue (M$)")
ax.legend(loc="upper left")
"""


def bars(colour: str = "#ff7f0e", title: str = "Quarterly revenue") -> Image.Image:
    return render(BARS.format(colour=colour, title=title))


def test_a_recoloured_series_is_named_by_its_legend_label_and_the_verifier_saw_the_analysers_words() -> None:
    rec = _Recorder()
    v = Critic(verifier=rec).judge(bars(), bars(colour="#2ca02c"), "chart")
    style = [e for e in v.errors if e.category == "style_error"]
    assert style, describe(v)
    e = style[0]
    assert e.location == "'South' bars", describe(v)
    m = re.fullmatch(r"'South' is drawn in (#[0-9a-f]{6}) instead of (#[0-9a-f]{6})\.", e.description)
    assert m, describe(v)
    # the colours are the rendered ones: found green, expected orange
    assert delta_e_rgb(_rgb(m.group(1)), _rgb("#2ca02c")) < 5 and delta_e_rgb(_rgb(m.group(2)), _rgb("#ff7f0e")) < 5
    # the verifier was shown the analyser's proposal, which the verdict keeps in the evidence
    said = e.evidence["proposal"]
    assert (said["location"], said["description"]) in rec.proposals
    assert said["description"].startswith("colour #") and "South" in said["location"]
    assert not any(d.startswith("'South' is drawn") for _, d in rec.proposals)


def test_a_title_typo_is_worded_as_a_typo_in_the_title() -> None:
    v = Critic().judge(bars(), bars(title="Quarterly revenve"), "chart")
    texts = [e for e in v.errors if e.category == "text_error"]
    assert [e.location for e in texts] == ["title"], describe(v)
    assert texts[0].description == "Typo in the title: 'Quarterly revenve' instead of 'Quarterly revenue'."


def test_bars_read_in_data_units_are_named_by_their_categories() -> None:
    from pathlib import Path

    refine = Path(__file__).resolve().parents[1] / "examples" / "refine"
    v = Critic().judge(Image.open(refine / "sales_bar.png"), render((refine / "sales_bar_init.py").read_text()),
                       "chart")
    data = [e for e in v.errors if e.category == "data_error"]
    assert data, describe(v)
    # the Q2 bar: 19 in the reference, 14 in the candidate, each read from its own image's axis
    assert "'Q2'" in data[0].location and "'Q2': 14 instead of 19" in data[0].description, describe(v)
    assert data[0].description.startswith("Wrong value")


PANELS = """
import matplotlib.pyplot as plt
fig, (a, b) = plt.subplots(1, 2, figsize=(9, 4))
a.bar(["A", "B", "C"], [3, 5, 4], color="#4c72b0")
a.set_title("Sales by store")
b.plot([1, 2, 3, 4], [2, 3, 2.5, 4], color="#dd8452")
b.set_title("{title}")
"""


def test_an_error_in_one_of_two_panels_names_the_panel_by_its_place() -> None:
    v = Critic().judge(render(PANELS.format(title="Weekly visitors")), render(PANELS.format(title="Weekly vizitors")),
                       "chart")
    texts = [e for e in v.errors if e.category == "text_error"]
    assert [e.location for e in texts] == ["Right subplot, title"], describe(v)
    assert texts[0].evidence["subplot"] == "right" and texts[0].evidence["proposal"]["location"] == "subplot 2 title"


def test_without_the_verifier_the_analysers_words_stay() -> None:
    v = Critic(verifier=False).judge(bars(), bars(colour="#2ca02c"), "chart")
    style = [e for e in v.errors if e.category == "style_error"]
    assert style and style[0].description.startswith("colour #"), describe(v)
    assert all("proposal" not in (e.evidence or {}) for e in v.errors)


# ----------------------------------------------------------------------------------------------- tables

ROWS = [["Country", "Units", "Share (%)"], ["France", "1204", "12.5"], ["Japan", "980", "9.8"],
        ["Brazil", "755", "7.6"], ["Kenya", "320", "3.1"]]


def _html(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{c}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@pytest.fixture()
def _chromium(has_chromium: bool) -> None:
    if not has_chromium:
        pytest.skip("Chromium is not installed")


def _table_verdict(rows: list[list[str]]):  # type: ignore[no-untyped-def]
    return Critic().judge(render(_html(ROWS), "html"), render(_html(rows), "html"), "table")


@pytest.mark.usefixtures("_chromium")
def test_table_cells_are_named_by_row_and_column_headers() -> None:
    digit = [r[:] for r in ROWS]
    digit[2][1] = "930"
    v = _table_verdict(digit)
    assert [e.category for e in v.errors] == ["numeric_error"], describe(v)
    assert v.errors[0].location == "Row 2 ('Japan'), column 'Units'"
    assert v.errors[0].description == "Wrong digit: '930' instead of '980' at Row 2 ('Japan'), column 'Units'."
    assert v.errors[0].evidence["cell"] == {"row": "2", "row_label": "Japan", "column": "Units"}
    decimal = [r[:] for r in ROWS]
    decimal[1][2] = "1.25"
    v = _table_verdict(decimal)
    assert [e.location for e in v.errors] == ["Row 1 ('France'), column 'Share (%)'"], describe(v)
    assert v.errors[0].description.startswith("Misplaced decimal point (value off by a factor of 10): '1.25' instead "
                                              "of '12.5'")
    word = [r[:] for r in ROWS]
    word[3][0] = "Chile"
    v = _table_verdict(word)
    assert [(e.location, e.description) for e in v.errors] == [
        ("Row 3 ('Brazil'), column 'Country'", "The cell reads 'Chile' instead of 'Brazil'.")], describe(v)


@pytest.mark.usefixtures("_chromium")
def test_a_duplicated_row_is_said_to_appear_twice() -> None:
    v = _table_verdict(ROWS[:3] + [ROWS[2]] + ROWS[3:])
    assert [(e.category, e.location, e.description) for e in v.errors] == [
        ("layout_error", "Row 2 ('Japan')", "Row 2 ('Japan') appears twice.")], describe(v)


# ----------------------------------------------------------------------------------------------- icons

SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200" viewBox="0 0 200 200">{}</svg>'
ICON = '<rect x="60" y="60" width="80" height="80" fill="#457b9d"/><circle cx="100" cy="100" r="20" fill="#f4a261"/>'


def test_an_extra_part_of_an_icon_is_placed_on_the_canvas() -> None:
    extra = ICON + '<circle cx="30" cy="30" r="12" fill="#e63946"/>'
    v = Critic().judge(render(SVG.format(ICON), "svg"), render(SVG.format(extra), "svg"), "svg")
    shapes = [e for e in v.errors if e.category == "shape_error"]
    assert shapes and shapes[0].location == "Extra circle (top-left)", describe(v)
    m = re.fullmatch(r"An extraneous circle \((#[0-9a-f]{6})\) that the reference does not have appears at the "
                     r"top-left\.", shapes[0].description)
    assert m and delta_e_rgb(_rgb(m.group(1)), _rgb("#e63946")) < 5, describe(v)


# ----------------------------------------------------------------------------------------------- rules


def test_typos_and_miswritten_numbers_are_told_apart() -> None:
    assert is_typo("Revenue", "Revenve") and is_typo("Mexico", "Mexicco") and not is_typo("Cloud", "Lima")
    assert not is_typo("2021", "2024")  # digits: another number, not a typo
    assert numeric_change("42.4", "-42.4") == "Wrong sign"
    assert numeric_change("23.0", "2.30").startswith("Misplaced decimal point")
    assert numeric_change("51.1", "51") == "Value rounded (a decimal digit is missing)"
    assert numeric_change("88.0%", "81.0%") == "Wrong digit"
    assert numeric_change("980", "1204") == "Wrong value"
    assert numeric_change("70B", "7B") == "Value off by a factor of 10"  # a digit dropped: no decimal point


def test_two_header_rows_name_a_column_by_its_group() -> None:
    grid = [["Model", "Reasoning", "", "Knowledge"], ["", "GSM8K", "MATH", "MMLU"],
            ["Ours", "60.1", "12.9", "50.3"], ["Baseline", "55.0", "9.5", "48.2"]]
    assert table_cell_names(grid, 3, 2) == {"row": "2", "row_label": "Baseline", "column": "Reasoning / MATH"}
    assert table_cell_names(grid, 1, 3) == {"header_row": "2", "column": "Knowledge / MMLU"}


def test_an_error_no_rule_understands_keeps_its_words() -> None:
    said = ("plot area (upper centre)", "marks in the plot differ: unexpected elements")
    assert phrase_error("chart", *said, {"regions": 1}) == said
    # a series the analysers could not name is not given a name
    loc, desc = phrase_error("chart", "series #1f77b4 (blue) (bars)",
                             "colour #1f77b4 (blue) expected, #ff7f00 (orange) found, ΔE2000 = 53",
                             {"expected": "#1f77b4", "found": "#ff7f00"})
    assert "'" not in loc + desc and desc == "The #1f77b4 bars are drawn in #ff7f00 instead of #1f77b4."
