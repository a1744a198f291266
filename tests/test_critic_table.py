"""The critic on real table renders (erm's HTML / Markdown renderer, headless Chromium)."""

from __future__ import annotations

from functools import cache

import pytest
from PIL import Image

from erm_cli.judges.critic import Critic, guess_task

ROWS = [["Country", "Units", "Share (%)"], ["France", "1204", "12.5"], ["Japan", "980", "9.8"],
        ["Brazil", "755", "7.6"], ["Kenya", "320", "3.1"]]


def _html(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{c}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _markdown(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines) + "\n"


@cache
def render(code: str, kind: str) -> Image.Image:
    from erm_cli.renderers import render as erm_render

    res = erm_render(code, kind=kind)
    if not res.ok:
        pytest.skip(f"table renderer unavailable here: {res.error}")
    return res.image()


def ref() -> Image.Image:
    return render(_html(ROWS), "html")


def judge(cand: Image.Image):  # type: ignore[no-untyped-def]
    return Critic().judge(ref(), cand, "table")


@pytest.fixture(autouse=True)
def _need_chromium(has_chromium: bool) -> None:
    if not has_chromium:
        pytest.skip("Chromium is not installed")


def test_equivalent_markdown_and_rescaled_render_have_no_errors() -> None:
    md = render(_markdown(ROWS), "markdown")
    v = judge(md)
    assert v.errors == [], [e.to_dict() for e in v.errors]
    r = ref()
    bigger = r.resize((int(r.width * 1.5), int(r.height * 1.5)), Image.BICUBIC)
    v = judge(bigger)
    assert v.errors == [] and v.reward == 1.0, [e.to_dict() for e in v.errors]


def test_changed_number_is_a_numeric_error_in_its_cell() -> None:
    rows = [r[:] for r in ROWS]
    rows[2][1] = "890"
    v = judge(render(_html(rows), "html"))
    assert [e.category for e in v.errors] == ["numeric_error"], [e.to_dict() for e in v.errors]
    e = v.errors[0]
    assert e.location == "Row 2 ('Japan'), column 'Units'" and "980" in e.description and "890" in e.description
    assert e.evidence["proposal"]["location"] == "row 3, column 2"  # the analyser's grid cell
    assert e.evidence["expected_value"] == 980 and e.evidence["found_value"] == 890


def test_changed_word_is_a_text_error() -> None:
    rows = [r[:] for r in ROWS]
    rows[3][0] = "Chile"
    v = judge(render(_html(rows), "html"))
    assert [e.category for e in v.errors] == ["text_error"], [e.to_dict() for e in v.errors]
    assert "Brazil" in v.errors[0].description and "Chile" in v.errors[0].description
    assert v.errors[0].location == "Row 3 ('Brazil'), column 'Country'"
    assert v.errors[0].evidence["proposal"]["location"] == "row 4, column 1"


def test_missing_row_is_one_layout_error_not_a_cascade() -> None:
    rows = [r[:] for r in ROWS]
    del rows[2]
    v = judge(render(_html(rows), "html"))
    layout = [e for e in v.errors if e.category == "layout_error"]
    assert layout and "Japan" in layout[0].description and layout[0].severity == 3
    assert len(v.errors) <= 2, [e.to_dict() for e in v.errors]


def test_merged_cells_are_a_layout_error() -> None:
    head = "".join(f"<th>{c}</th>" for c in ROWS[0])
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in ROWS[1:3])
    body += "<tr><td colspan=2>Brazil 755</td><td>7.6</td></tr>"
    body += "<tr>" + "".join(f"<td>{c}</td>" for c in ROWS[4]) + "</tr>"
    v = judge(render(f"<table><tr>{head}</tr>{body}</table>", "html"))
    assert any(e.category == "layout_error" for e in v.errors), [e.to_dict() for e in v.errors]


def test_guess_task_recognises_a_table() -> None:
    assert guess_task(ref()) == "table"
