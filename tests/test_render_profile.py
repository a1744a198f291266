"""The visual-erm render profile reproduces the released Visual-ERM reward renderer: matplotlib with its
savefig/show stripped and matplotlib's own defaults (6.4x4.8 in, the figure's dpi, no tight box), every SVG
at 336x336 on white; the profile is part of the cache key and recorded in the render result."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from erm_cli.errors import InputError
from erm_cli.renderers import RenderOptions, render
from erm_cli.renderers.profiles import figure_dpi, released_matplotlib_code

ERM = RenderOptions()
VERM = RenderOptions(profile="visual-erm")
ICON = ('<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24">'
        '<circle cx="12" cy="12" r="8" fill="#d62728"/></svg>')
TIGHT = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.plot([1, 2, 3], [3, 1, 2])
ax.set_title("tight")
plt.savefig("out.png", bbox_inches="tight")
plt.show()
"""
SIZED = """
import matplotlib.pyplot as plt
fig = plt.figure(figsize=(6, 4), dpi=150)
plt.bar(["a", "b"], [1, 2])
fig.savefig("chart.pdf")
"""


def size(result) -> tuple[int, int]:
    assert result.ok, result.error
    return Image.open(io.BytesIO(result.png)).size


def rendered(code: str, options: RenderOptions):
    result = render(code, options=options, cache=False)
    if not result.ok and "sandbox" in (result.error or ""):
        pytest.skip(f"rendering does not work here: {result.error}")
    return result


def test_svg_is_rasterised_at_336_on_white() -> None:
    assert size(rendered(ICON, ERM)) == (24, 24)
    result = rendered(ICON, VERM)
    img = Image.open(io.BytesIO(result.png)).convert("RGB")
    assert img.size == (336, 336) and img.getpixel((2, 2)) == (255, 255, 255)
    assert img.getpixel((168, 168))[0] > 200 and result.profile == "visual-erm" and result.to_dict()["profile"]


def test_matplotlib_uses_matplotlibs_defaults_without_a_tight_box() -> None:
    assert size(rendered(TIGHT, VERM)) == (640, 480)  # 6.4x4.8 in at 100 dpi, bbox_inches dropped
    erm = size(rendered(TIGHT, ERM))
    assert erm != (640, 480)  # erm: 8x6 in, tight box kept
    assert size(rendered(SIZED, VERM)) == (900, 600)  # the figure's own size and dpi
    assert size(rendered(SIZED, ERM)) == (600, 400)


def test_released_code_transformation() -> None:
    code = released_matplotlib_code("plt.plot([1])\nplt.savefig('a.png',\n dpi=300)\nfig.show()\n")
    assert "import matplotlib.pyplot as plt\nplt.plot" in code and "savefig('a.png'" not in code
    assert "fig.show()" not in code and code.rstrip().endswith("plt.savefig('render.png')")
    # a call is cut at its first ")", as the released regex does; the rest of the line becomes comment
    nested = released_matplotlib_code("plt.savefig(os.path.join('a', 'b.png'))\n")
    assert "# removed by render profile visual-erm)" in nested
    assert size(rendered("import matplotlib.pyplot as plt\nimport os\nplt.plot([1])\n"
                         "plt.savefig(os.path.join('a', 'b.png'))\n", VERM)) == (640, 480)
    # over two lines the leftover ")" is code: the render fails there as it does in the released renderer
    assert not rendered("import matplotlib.pyplot as plt\nplt.plot([1])\nplt.savefig('a' + str(len([1]))\n"
                        "            + '.png')\n", VERM).ok
    assert figure_dpi("plt.subplots(1, 2, dpi=72)") == 72 and figure_dpi("x = 1") == 100
    assert figure_dpi("import matplotlib\nmatplotlib.rcParams['figure.dpi'] = 200") == 200


def test_profile_is_part_of_the_cache_key() -> None:
    assert ERM.key() != VERM.key() and "profile" not in ERM.key()
    first = render(ICON, options=VERM)
    again = render(ICON, options=VERM)
    if not first.ok:
        pytest.skip(f"rendering does not work here: {first.error}")
    assert again.cache_hit and again.key == first.key != render(ICON, options=ERM).key


def test_unknown_profile_is_an_input_error() -> None:
    with pytest.raises(InputError, match="profile must be one of"):
        render(ICON, options=RenderOptions(profile="paper"), cache=False)


def run_cli(argv: list[str]) -> int:
    from erm_cli.app import main

    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_profile_flag_on_render_and_judge(tmp_path, capsys) -> None:
    import json

    icon = tmp_path / "icon.svg"
    icon.write_text(ICON)
    out = tmp_path / "icon.png"
    code = run_cli(["render", str(icon), "-o", str(out), "--profile", "visual-erm", "--json", "--no-cache"])
    if code == 3:
        pytest.skip("rendering does not work here")
    assert code == 0 and Image.open(out).size == (336, 336)
    assert json.loads(capsys.readouterr().out)["profile"] == "visual-erm"
    assert run_cli(["render", str(icon), "-o", str(out), "--profile", "paper"]) == 2
    ref = tmp_path / "ref.png"
    ref.write_bytes(render(ICON, options=VERM).png)
    assert run_cli(["judge", str(ref), str(icon), "--profile", "visual-erm", "--json"]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["info"]["profile"] == "visual-erm"


def test_tables_render_the_whole_answer_as_html_like_the_release() -> None:
    answer = "Here is the table:\n```html\n<table><tr><td>Year</td><td>15</td></tr></table>\n```"
    erm = rendered(answer, ERM)
    verm = rendered(answer, VERM)
    if not erm.ok:
        pytest.skip(f"table rendering does not work here: {erm.error}")
    assert verm.ok and verm.kind == "html" and verm.profile == "visual-erm"
    erm_size, verm_size = size(erm), size(verm)
    assert verm_size[1] > erm_size[1]  # the prose and the fence lines are on the page too


def _first_rule_row(img: Image.Image) -> int:
    """The first pixel row where most of the row is dark: the table's first horizontal border."""
    import numpy as np

    grey = np.asarray(img.convert("L"))
    dark = (grey < 128).mean(axis=1)
    return int(np.argmax(dark > 0.5))


def test_tables_use_the_released_page_viewport_and_crop() -> None:
    """table_parse_rm_v2.py styles ``td`` only (header cells get no border), screenshots a 3600x2400 viewport
    (a taller table is cut there) and crops inside that screenshot; erm's own profile draws every cell's
    border and the whole table."""
    header = ("<table><tr><th>Year</th><th>Units</th></tr>"
              + "".join(f"<tr><td>{2000 + i}</td><td>{7 * i}</td></tr>" for i in range(3)) + "</table>")
    erm_img = Image.open(io.BytesIO(render(header, kind="html", options=ERM, cache=False).png))
    verm = render(header, kind="html", options=VERM, cache=False)
    assert verm.ok, verm.error
    verm_img = Image.open(io.BytesIO(verm.png))
    assert _first_rule_row(erm_img) == 12  # the header row's top border, right after the 12 px crop margin
    assert _first_rule_row(verm_img) > 12 + 12  # no border above or between the header cells: the first rule
    # is the one under the header row
    tall = "<table>" + "".join(f"<tr><td>{i}</td><td>{3 * i}</td></tr>" for i in range(150)) + "</table>"
    erm_h = Image.open(io.BytesIO(render(tall, kind="html", options=ERM, cache=False).png)).size[1]
    verm_h = Image.open(io.BytesIO(render(tall, kind="html", options=VERM, cache=False).png)).size[1]
    assert erm_h > 2400 and verm_h <= 2400  # the released screenshot stops at its 2400 px viewport
    assert VERM.key()["profile_version"] == "2"  # older visual-erm table renders are not reused from the cache


def test_blank_renders_are_judged_as_the_release_does() -> None:
    """erm fails a (near) single-colour render without asking the judge. The released reward code fails only a pure
    white chart/SVG render (is_white_image) and sends a blank table page to the judge."""
    from pathlib import Path

    from erm_cli.judges.pipeline import score_candidate

    examples = Path(__file__).resolve().parents[1] / "examples"
    table_ref = examples / "bench-mini" / "images" / "table-00000-ref.png"
    chart_ref = examples / "refine" / "sales_bar.png"
    empty_page = "<p></p>"
    grey = "import matplotlib.pyplot as plt\nplt.figure(facecolor='0.5')\n"
    white = "import matplotlib.pyplot as plt\nplt.figure()\n"

    def ok(ref: Path, code: str, kind: str, options: RenderOptions) -> bool:
        return score_candidate(ref, code, kind=kind, candidate_is_code=True, render_options=options,
                               use_cache=False).render_ok

    assert not ok(table_ref, empty_page, "html", ERM) and ok(table_ref, empty_page, "html", VERM)
    assert not ok(chart_ref, grey, "matplotlib", ERM) and ok(chart_ref, grey, "matplotlib", VERM)
    assert not ok(chart_ref, white, "matplotlib", VERM)
