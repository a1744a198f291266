"""The critic on real matplotlib charts: equivalent re-renders pass, injected errors are found, located and
described with evidence, and more errors mean a lower reward."""

from __future__ import annotations

import io
from functools import cache

import pytest
from PIL import Image

from erm_cli.judges.critic import Critic, guess_task

BASE = {"values": (23.0, 35.0, 30.0, 42.0), "colour": "#1f77b4", "title": "Quarterly Revenue by Region (2024)",
        "ylabel": "Revenue (M$)", "dashed": False, "grid": False, "subplots": 1, "kind": "bar"}


@cache
def chart(dpi: int = 100, tight: bool = False, **changes) -> Image.Image:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = {**BASE, **changes}
    cats = ["Q1", "Q2", "Q3", "Q4"]
    if s["subplots"] == 2:
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(8, 6))
        ax2.plot(cats, s["values"], color="#8c564b")
    else:
        fig, ax = plt.subplots(figsize=(8, 6))
    if s["kind"] == "bar":
        ax.bar(cats, s["values"], color=s["colour"], label="Sales")
    else:
        ax.plot(cats, s["values"], color=s["colour"], label="Sales", linewidth=2.5)
    ax.plot(cats, [20, 25, 28, 33], color="#ff7f0e", marker="o", label="Cost",
            linestyle="--" if s["dashed"] else "-")
    ax.set_title(s["title"])
    ax.set_xlabel("Quarter")
    ax.set_ylabel(s["ylabel"])
    ax.legend(loc="upper left")
    if s["grid"]:
        ax.grid(True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    plt.close(fig)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


@cache
def verdict(**changes):  # type: ignore[no-untyped-def]
    dpi = changes.pop("dpi", 100)
    tight = changes.pop("tight", False)
    return Critic().judge(chart(), chart(dpi=dpi, tight=tight, **changes), "chart")


def test_identical_pair_is_reward_one_with_timings() -> None:
    v = Critic().judge(chart(), chart().copy(), "chart")
    assert v.errors == [] and v.reward == 1.0 and v.judge["name"] == "critic"
    assert {"alignment", "ocr", "colour", "regions"} <= set(v.timings)


@pytest.mark.parametrize("dpi", [72, 150])
def test_same_chart_at_another_dpi_is_equivalent(dpi: int) -> None:
    v = verdict(dpi=dpi)
    assert v.errors == [], [e.to_dict() for e in v.errors]
    assert any("scale" in n for n in v.info.get("notes", []))  # the size difference is noted, not penalised


def test_other_margins_are_equivalent() -> None:
    v = verdict(tight=True)
    assert v.errors == [], [e.to_dict() for e in v.errors]


def test_bar_value_is_a_located_data_error_with_evidence() -> None:
    v = verdict(values=(23.0, 35.0, 38.0, 42.0))
    data = [e for e in v.errors if e.category == "data_error"]
    assert data, [e.to_dict() for e in v.errors]
    e = data[0]
    # Visual-ERM wording (phrasing.py): the series and category named, expected against found
    assert e.location == "'Sales' bars at 'Q3'" and "30" in e.description and "38" in e.description
    said = e.evidence["proposal"]  # the analyser's own words, which the verifier decided on
    assert "bar 3" in said["location"] and "% of the y-axis range" in said["description"]
    assert e.bbox is not None and 350 < (e.bbox[0] + e.bbox[2]) / 2 < 550  # the third bar, in reference pixels


def test_title_text_change_quotes_both_texts() -> None:
    v = verdict(title="Quarterly Revenue by Region (2023)")
    assert [e.category for e in v.errors] == ["text_error"], [e.to_dict() for e in v.errors]
    e = v.errors[0]
    assert e.location == "title" and "2024" in e.description and "2023" in e.description


def test_rotated_axis_label_change_is_read() -> None:
    v = verdict(ylabel="Profit (M$)")
    texts = [e for e in v.errors if e.category == "text_error"]
    assert texts and texts[0].location == "y-axis label" and "Profit" in texts[0].description


def test_colour_substitution_reports_delta_e() -> None:
    v = verdict(colour="#2ca02c")
    style = [e for e in v.errors if e.category == "style_error"]
    assert style and not [e for e in v.errors if e.category == "data_error"], [e.to_dict() for e in v.errors]
    assert "#1f77b4" in style[0].description and "#2ca02c" in style[0].description
    assert style[0].evidence["delta_e2000"] > 30 and "Sales" in style[0].location


def test_line_style_change_is_a_style_error() -> None:
    v = verdict(dashed=True)
    assert any(e.category == "style_error" and "dashed" in e.description for e in v.errors), \
        [e.to_dict() for e in v.errors]


def test_grid_toggle_is_a_style_error() -> None:
    # xfail until session 7 (the verifier's P(real) 0.42 in the pair head's middle band): the pair is pixel-exact
    # once the new grid lines are set aside, also where bars hide most of them, so the finding stays
    v = verdict(grid=True)
    assert any(e.category == "style_error" and "grid" in e.location for e in v.errors), [e.to_dict() for e in v.errors]


def test_extra_subplot_is_a_structure_error() -> None:
    v = verdict(subplots=2)
    assert any(e.category == "structure_error" and e.severity == 3 for e in v.errors)


def test_chart_type_change_is_a_structure_error() -> None:
    v = verdict(kind="line")
    assert any(e.category == "structure_error" and "chart type" in e.description for e in v.errors), \
        [e.to_dict() for e in v.errors]


def test_more_errors_rank_lower() -> None:
    one = verdict(title="Quarterly Revenue by Region (2023)")
    three = verdict(title="Quarterly Revenue by Region (2023)", colour="#2ca02c", values=(23.0, 35.0, 38.0, 42.0))
    assert 1.0 > one.reward > three.reward
    assert {"text_error", "style_error", "data_error"} <= {e.category for e in three.errors}
    d = three.to_dict()
    assert d["severity_total"] == sum(e["severity"] for e in d["errors"])
    assert d["errors"] == sorted(d["errors"], key=lambda e: -e["severity"])


def test_guess_task_recognises_a_chart() -> None:
    assert guess_task(chart()) == "chart"


def test_extra_subplot_is_one_layout_error_not_one_per_moved_label() -> None:
    v = verdict(subplots=2)
    layout = [e for e in v.errors if e.location == "figure layout"]
    assert len(layout) == 1, [e.to_dict() for e in v.errors]
    # a new subplot grid moves every plot area and label: those consequences are not extra errors
    assert not any("position or size differs" in e.description for e in v.errors)
    assert not any("misplaced" in e.description or "different size" in e.description for e in v.errors)
    per_word = [e for e in v.errors if e.description.startswith("unexpected text")]
    assert len(per_word) <= 2, [e.to_dict() for e in v.errors]
