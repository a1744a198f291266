"""The critic on SVG renders (erm's SVG renderer, cairosvg): shapes, fills, strokes, opacity, text."""

from __future__ import annotations

from functools import cache

from PIL import Image

from erm_cli.judges.critic import Critic, guess_task

SHAPES = {
    "sun": '<circle cx="60" cy="60" r="32" fill="#f4a261"/>',
    "house": '<rect x="90" y="100" width="80" height="60" fill="#457b9d" stroke="#222222" stroke-width="3"/>',
    "roof": '<polygon points="85,100 130,60 175,100" fill="#e63946"/>',
    "label": '<text x="100" y="190" font-family="DejaVu Sans" font-size="20" text-anchor="middle" '
             'fill="#111111">HOME</text>',
}


def svg(size: int = 200, **override: str) -> str:
    parts = {**SHAPES, **override}
    body = "".join(v for v in parts.values() if v)
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 200 200">{body}</svg>'


@cache
def render(code: str) -> Image.Image:
    from erm_cli.renderers import render as erm_render

    res = erm_render(code, kind="svg")
    assert res.ok, res.error
    return res.image()


def judge(code: str):  # type: ignore[no-untyped-def]
    return Critic().judge(render(svg()), render(code), "svg")


def cats(v) -> set[str]:  # type: ignore[no-untyped-def]
    return {e.category for e in v.errors}


def test_same_drawing_at_another_size_or_with_a_no_op_group_is_equivalent() -> None:
    assert judge(svg(size=480)).errors == []
    wrapped = svg().replace('viewBox="0 0 200 200">', 'viewBox="0 0 200 200"><g>').replace("</svg>", "</g></svg>")
    assert judge(wrapped).errors == []


def test_missing_shape() -> None:
    v = judge(svg(sun=""))
    assert "shape_error" in cats(v), [e.to_dict() for e in v.errors]
    e = next(e for e in v.errors if e.category == "shape_error")
    assert "missing" in e.description and "upper-left" in e.location


def test_moved_shape() -> None:
    v = judge(svg(sun='<circle cx="60" cy="110" r="32" fill="#f4a261"/>'))
    assert any(e.category == "shape_error" and "moved" in e.description for e in v.errors), \
        [e.to_dict() for e in v.errors]


def test_fill_colour_change_is_style_with_delta_e() -> None:
    v = judge(svg(roof='<polygon points="85,100 130,60 175,100" fill="#2a9d8f"/>'))
    assert cats(v) == {"style_error"}, [e.to_dict() for e in v.errors]
    e = v.errors[0]
    assert "#e63946" in e.description and "#2a9d8f" in e.description and e.evidence["delta_e2000"] > 20


def test_opacity_is_recognised_as_a_blend() -> None:
    v = judge(svg(sun='<circle cx="60" cy="60" r="32" fill="#f4a261" opacity="0.4"/>'))
    assert cats(v) == {"style_error"} and "opacity" in v.errors[0].description, [e.to_dict() for e in v.errors]


def test_stroke_width_change_is_style() -> None:
    v = judge(svg(house='<rect x="90" y="100" width="80" height="60" fill="#457b9d" stroke="#222222" '
                        'stroke-width="9"/>'))
    assert "style_error" in cats(v) and "shape_error" not in cats(v), [e.to_dict() for e in v.errors]


def test_text_change_is_a_text_symbol_error() -> None:
    v = judge(svg(label=SHAPES["label"].replace("HOME", "HOUSE")))
    assert cats(v) == {"text_symbol_error"}, [e.to_dict() for e in v.errors]
    assert "HOME" in v.errors[0].description and "HOUSE" in v.errors[0].description


def test_mirrored_composition_is_a_structure_error() -> None:
    body = "".join(v for k, v in SHAPES.items() if k != "label")
    mirrored = svg(sun="", house="", roof=f'<g transform="translate(200,0) scale(-1,1)">{body}</g>')
    v = judge(mirrored)
    assert "structure_error" in cats(v), [e.to_dict() for e in v.errors]


def test_guess_task_recognises_an_icon() -> None:
    assert guess_task(render(svg())) == "svg"
