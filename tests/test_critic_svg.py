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
    assert "missing" in e.description and "top-left" in e.location.lower()


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


def test_mirrored_drawing_is_named_once_and_other_changes_still_show() -> None:
    body = "".join(v for k, v in SHAPES.items() if k != "label")
    flip = '<g transform="translate(200,0) scale(-1,1)">{}</g>'
    only_mirrored = judge(svg(sun="", house="", roof=flip.format(body)))
    mirrored = [e for e in only_mirrored.errors if "mirrored" in e.description]
    assert len(mirrored) == 1 and mirrored[0].category == "structure_error", \
        [e.to_dict() for e in only_mirrored.errors]
    recoloured = body.replace("#f4a261", "#2a9d8f")
    also_recoloured = judge(svg(sun="", house="", roof=flip.format(recoloured)))
    assert any("mirrored" in e.description for e in also_recoloured.errors)
    assert also_recoloured.reward < only_mirrored.reward, [e.to_dict() for e in also_recoloured.errors]


SCENE = {"a": '<circle cx="50" cy="50" r="28" fill="#e63946"/>',
         "b": '<rect x="120" y="25" width="55" height="50" fill="#457b9d"/>',
         "c": '<polygon points="50,120 80,175 20,175" fill="#2a9d8f"/>',
         "d": '<ellipse cx="150" cy="150" rx="30" ry="18" fill="#f4a261"/>'}


def scene(**moves: str) -> str:
    parts = {**SCENE, **moves}
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200" viewBox="0 0 200 200">'
            + "".join(v for v in parts.values() if v) + "</svg>")


def test_rearranged_parts_are_one_composition_error_and_a_removed_part_counts_on_top() -> None:
    ref = render(scene())
    # every part to another part's place
    shuffled = {"a": '<circle cx="150" cy="50" r="28" fill="#e63946"/>',
                "b": '<rect x="120" y="125" width="55" height="50" fill="#457b9d"/>',
                "c": '<polygon points="50,20 80,75 20,75" fill="#2a9d8f"/>',
                "d": '<ellipse cx="50" cy="150" rx="30" ry="18" fill="#f4a261"/>'}
    v1 = Critic().judge(ref, render(scene(**shuffled)), "svg")
    assert [e.category for e in v1.errors] == ["structure_error"], [e.to_dict() for e in v1.errors]
    assert "parts moved" in v1.errors[0].description
    v2 = Critic().judge(ref, render(scene(**{**shuffled, "d": ""})), "svg")
    missing = [e for e in v2.errors if e.category == "shape_error" and "missing" in e.description]
    assert missing and "#f4a261" in missing[0].description, [e.to_dict() for e in v2.errors]
    assert v2.reward < v1.reward


def test_blank_candidate_loses_the_drawing() -> None:
    v = Critic().judge(render(scene()), Image.new("RGB", (200, 200), "white"), "svg")
    assert v.reward <= 0.8, [e.to_dict() for e in v.errors]
    assert any(e.category == "structure_error" for e in v.errors)
    assert sum(1 for e in v.errors if e.category == "shape_error" and "missing" in e.description) >= 1


def test_components_are_found_and_matched_by_colour_then_place() -> None:
    import numpy as np

    from erm_cli.judges.critic.colour import background_colour, palette
    from erm_cli.judges.critic.components import find_components, match_components

    a = np.asarray(render(scene()))
    moved = scene(a='<circle cx="100" cy="100" r="28" fill="#e63946"/>', d="")
    b = np.asarray(render(moved))
    ra = find_components(a, background_colour(a), palette(a), 40)
    rb = find_components(b, background_colour(b), palette(b), 40)
    assert len(ra) == 4 and len(rb) == 3
    m = match_components(ra, rb, float(np.hypot(*a.shape[:2])))
    assert len(m.pairs) == 3 and len(m.missing) == 1 and not m.extra
    lost = ra[m.missing[0]]
    assert lost.colour[0] > 200 and lost.centroid[0] > 120  # the orange ellipse, lower right


def test_text_that_moved_by_most_of_its_height_is_reported() -> None:
    moved = SHAPES["label"].replace('x="100"', 'x="75"')  # 1.25 text heights to the left
    v = judge(svg(label=moved))
    assert any(e.category == "text_symbol_error" and "misplaced" in e.description for e in v.errors), \
        [e.to_dict() for e in v.errors]
