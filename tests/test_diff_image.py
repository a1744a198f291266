"""The --diff-image picture on real renders, checked by its pixels: a legend, reference-only and
candidate-only ink in their colours where the images differ, the whole candidate (an extra table row is
visible, not cropped to the reference), numbered labels that never overlap and always show their number,
titles that fit small images, and a note when the judge gave no boxes."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from erm_cli.judges.diff_image import (
    BOX_COLOUR,
    CANDIDATE_ONLY,
    COLOUR_DIFFERS,
    REFERENCE_ONLY,
    layout_diff_image,
)
from erm_cli.judges.pipeline import score_candidate
from erm_cli.judges.verdict import ErrorItem, Verdict
from erm_cli.renderers import RenderOptions, render

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
REFINE = EXAMPLES / "refine"
EXTRA_ROW = "| Extra-Model | 9B | 60.0 | 61.0 | 0.700 |\n"


def _render(code: str, kind: str, **options: int) -> Image.Image:
    result = render(code, kind=kind, options=RenderOptions(**options))
    assert result.ok, result.error
    return result.image().convert("RGB")


def _count(arr: np.ndarray, colour: tuple[int, int, int], tol: int = 0) -> int:
    return int((np.abs(arr.astype(np.int16) - np.array(colour)).max(axis=2) <= tol).sum())


def _crop(sheet: Image.Image, rect: tuple[int, int, int, int]) -> np.ndarray:
    return np.asarray(sheet.crop(rect).convert("RGB"))


@pytest.fixture(scope="module")
def table_pair() -> tuple[Image.Image, Image.Image, Verdict]:
    md = (EXAMPLES / "table.md").read_text()
    ref = _render(md, "markdown")
    cand = _render(md.rstrip("\n") + "\n" + EXTRA_ROW, "markdown")
    return ref, cand, score_candidate(ref, cand, task="table", judge="critic")


def test_an_extra_table_row_is_visible_in_candidate_only_ink(table_pair) -> None:
    ref, cand, verdict = table_pair
    assert cand.height > ref.height + 15  # the render really is a row taller
    sheet, lay = layout_diff_image(ref, cand, verdict)
    s = lay.scale
    # the panels hold the whole candidate: it reaches below the reference
    assert lay.candidate_rect[3] - lay.candidate_rect[1] == pytest.approx(cand.height * s, abs=3)
    assert lay.candidate_rect[3] > lay.reference_rect[3] + 15 * s
    below = (lay.reference_rect[3] + 2, lay.candidate_rect[3] - 2)
    px, py = lay.panels["candidate"][:2]
    band = _crop(sheet, (px, py + below[0], lay.panels["candidate"][2], py + below[1]))
    assert (band.max(axis=2) < 100).sum() > 100  # the extra row's text and rules, drawn in the candidate panel
    dx, dy = lay.panels["differences"][:2]
    diff_band = _crop(sheet, (dx, dy + below[0], lay.panels["differences"][2], dy + below[1]))
    assert _count(diff_band, CANDIDATE_ONLY) > 200  # ... and in the candidate-only colour in the differences
    assert _count(diff_band, REFERENCE_ONLY) == 0
    above = _crop(sheet, (dx, dy + lay.reference_rect[1], lay.panels["differences"][2], dy + lay.reference_rect[3] - 4))
    assert _count(above, CANDIDATE_ONLY) + _count(above, REFERENCE_ONLY) < 0.01 * above.shape[0] * above.shape[1]


def test_legend_and_both_ink_colours_on_a_chart_pair() -> None:
    ref = Image.open(REFINE / "sales_bar.png").convert("RGB")
    cand = _render((REFINE / "sales_bar_init.py").read_text(), "matplotlib")
    verdict = score_candidate(ref, cand, task="chart", judge="critic")
    assert verdict.errors
    sheet, lay = layout_diff_image(ref, cand, verdict)
    legend = _crop(sheet, lay.legend)
    for colour in (REFERENCE_ONLY, CANDIDATE_ONLY, COLOUR_DIFFERS):
        assert _count(legend, colour) > 50, colour  # a swatch per kind of difference
    diff = _crop(sheet, lay.panels["differences"])
    # Q4's bar is lower in the candidate (reference-only blue above it), Q3's higher (candidate-only orange)
    assert _count(diff, REFERENCE_ONLY) > 500 and _count(diff, CANDIDATE_ONLY) > 500
    assert _count(diff, COLOUR_DIFFERS) > 5000  # the bars' common part: blue vs orange
    assert len(lay.boxes) == len([e for e in verdict.errors if e.bbox]) > 0


def test_labels_never_overlap_and_always_show_their_number() -> None:
    ref = Image.open(REFINE / "sales_bar.png").convert("RGB")
    # twelve errors on nearly the same spot, and three on the image's corners: the labels must find room
    boxes = [[300 + k, 200 + k, 340 + k, 230 + k] for k in range(12)]
    boxes += [[0, 0, 10, 10], [630, 470, 640, 480], [0, 470, 8, 480]]
    verdict = Verdict(task="chart", errors=[ErrorItem("text_error", 1 + k % 3, f"spot {k}", "x", bbox=[float(v) for v in b])
                                            for k, b in enumerate(boxes)])
    sheet, lay = layout_diff_image(ref, ref, verdict)
    assert [n for n, _ in lay.labels] == list(range(1, 16))
    rects = [r for _, r in lay.labels]
    for i, a in enumerate(rects):
        assert 0 <= a[0] and 0 <= a[1] and a[2] <= sheet.width and a[3] <= sheet.height
        for b in rects[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    for _, r in lay.labels:  # each label: its fill and its white digits, drawn over everything else
        px = _crop(sheet, r)
        assert _count(px, BOX_COLOUR) > 0.3 * px.shape[0] * px.shape[1]
        assert _count(px, (255, 255, 255), tol=60) >= 6


def test_titles_fit_a_small_image_and_no_box_note() -> None:
    ref = _render((REFINE / "badge.svg").read_text(), "svg", width=80, height=40)
    cand = _render((REFINE / "badge_init.svg").read_text(), "svg", width=80, height=40)
    verdict = Verdict(task="svg", errors=[ErrorItem("style_error", 2, "fill", "colour differs")])  # no bbox
    sheet, lay = layout_diff_image(ref, cand, verdict)
    assert "no boxes" in lay.note and not lay.boxes
    arr = np.asarray(sheet.convert("L"))
    tops = [r[1] for r in lay.panels.values()]
    title_rows = arr[: min(tops) - 1]
    assert (title_rows < 128).sum() > 200  # the titles are drawn ...
    xs = sorted(lay.panels.values())
    for left, right in itertools.pairwise(xs):  # ... and none runs into the next panel's column or off the sheet
        assert (title_rows[:, left[2] + 1: right[0] - 1] < 128).sum() == 0
    assert (title_rows[:, xs[-1][2] + 1:] < 128).sum() == 0
    below = arr[lay.legend[3]:]
    assert (below < 128).sum() > 100  # the note and the error list are written under the legend


def test_baseline_verdict_says_it_has_no_boxes() -> None:
    ref = Image.open(REFINE / "sales_bar.png").convert("RGB")
    verdict = score_candidate(ref, ref, task="chart", judge="ssim")
    _, lay = layout_diff_image(ref, ref, verdict)
    assert "baseline" in lay.note and not lay.labels
