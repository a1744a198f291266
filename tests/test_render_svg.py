"""SVG renders with cairosvg in the sandbox: the example icon, real icon sets, the resvg test suite's
reference images, output sizes and the white background."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from erm_cli.renderers import RenderOptions, render


def svg(code: str, **opts):
    return render(code, kind="svg", options=RenderOptions(**opts), cache=False)


def test_example_icon(examples_dir: Path) -> None:
    result = render((examples_dir / "icon.svg").read_text())
    assert result.ok and result.kind == "svg", result.error
    img = result.image()
    assert img.size == (96, 96)
    assert img.getpixel((0, 0)) == (255, 255, 255)  # transparent background flattened on white
    assert result.versions["cairosvg"] and result.versions["libcairo"]


def test_output_size_options(examples_dir: Path) -> None:
    code = (examples_dir / "icon.svg").read_text()
    assert svg(code, width=336, height=336).image().size == (336, 336)
    assert svg(code, width=200).image().size == (200, 200)        # aspect ratio kept
    wide = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20"/></svg>'
    assert svg(wide, height=50).image().size == (100, 50)


def test_white_background_not_transparent() -> None:
    result = svg('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"></svg>')
    raw = Image.open(io.BytesIO(result.png))
    assert raw.convert("RGBA").getpixel((4, 4)) == (255, 255, 255, 255)


@pytest.mark.parametrize("icon_set", ["feather-icons", "bootstrap-icons", "lucide-icons"])
def test_real_icon_sets(shared_data: Path, icon_set: str) -> None:
    from erm_cli.renderers import render_many

    icons = sorted((shared_data / icon_set / "icons").glob("*.svg"))[:12]
    assert icons
    results = render_many([(p.read_text(), "svg") for p in icons], RenderOptions(width=96, height=96),
                          workers=3, cache=False)
    for path, result in zip(icons, results):
        assert result.ok, f"{path.name}: {result.error}"
        arr = np.asarray(result.image().convert("L"))
        assert arr.min() < 128, f"{path.name} rendered blank"


@pytest.mark.parametrize("case", ["shapes/circle/simple-case", "shapes/rect/simple-case",
                                  "shapes/polygon/simple-case", "painting/stroke-linejoin/round",
                                  "structure/g/deeply-nested-groups"])
def test_matches_resvg_reference_images(shared_data: Path, case: str) -> None:
    suite = shared_data / "resvg-test-suite" / "tests"
    svg_path, png_path = suite / f"{case}.svg", suite / f"{case}.png"
    if not svg_path.exists():
        pytest.skip(f"{case} not in this copy of the suite")
    ref = Image.open(png_path).convert("RGBA")
    flat = Image.new("RGBA", ref.size, (255, 255, 255, 255))
    flat.alpha_composite(ref)
    result = svg(svg_path.read_text(), width=ref.size[0], height=ref.size[1])
    assert result.ok, result.error
    ours = np.asarray(result.image(), dtype=float)
    theirs = np.asarray(flat.convert("RGB"), dtype=float)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).mean() < 6.0  # anti-aliasing differences only
