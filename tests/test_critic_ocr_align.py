"""OCR (real Tesseract through tesserocr) and alignment (scale, margins, offsets) used by the critic."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from erm_cli.judges.critic.align import align, content_bbox
from erm_cli.judges.critic.ocr import (
    Word,
    engine_info,
    get_engine,
    group_lines,
    ocr_lines,
    ocr_rotated,
    ocr_words,
    parse_number,
)
from erm_cli.judges.critic.text import compare_text, match_words


def _font(size: int) -> ImageFont.FreeTypeFont:
    from pathlib import Path

    import matplotlib

    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), size)


def _text_image(lines: list[str], size: int = 22, w: int = 640, h: int = 200) -> Image.Image:
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    for i, t in enumerate(lines):
        d.text((20, 20 + i * (size + 18)), t, fill="black", font=_font(size))
    return img


@pytest.fixture(autouse=True)
def _need_tesseract(has_tesseract: bool) -> None:
    info = engine_info()
    if info["engine"] == "none":
        pytest.skip(f"no OCR engine: {info.get('error')}")


def test_words_lines_and_boxes() -> None:
    img = _text_image(["Revenue 2023: 42.5", "Quarterly sales by region"])
    words = ocr_words(img)
    texts = [w.text for w in words]
    assert "Revenue" in texts and "42.5" in texts and "Quarterly" in texts
    lines = ocr_lines(img)
    assert [ln.text for ln in lines][:2] == ["Revenue 2023: 42.5", "Quarterly sales by region"]
    rev = next(w for w in words if w.text == "Revenue")
    assert 10 <= rev.bbox[0] <= 30 and rev.bbox[1] >= 10 and rev.conf > 60
    assert get_engine() is get_engine()  # one cached engine


def test_rotated_label_is_read_bottom_to_top() -> None:
    img = _text_image(["Revenue (M$)"], w=320, h=60).rotate(90, expand=True)  # like a y-axis label
    words = ocr_rotated(img, (0, 0, img.width, img.height))
    assert [w.text for w in words] == ["Revenue", "(M$)"]
    assert all(w.vertical for w in words)
    rev = words[0]
    assert rev.bbox[1] > words[1].bbox[1]  # bottom-to-top: the first word is lower
    assert [ln.text for ln in group_lines(words)] == ["Revenue (M$)"]


@pytest.mark.parametrize("text,value", [("42", 42.0), ("-3.5", -3.5), ("1,200", 1200.0), ("12%", 12.0),
                                        ("$4.2", 4.2), ("(7)", 7.0), ("2.5k", 2500.0), ("−8", -8.0),
                                        ("Q3", None), ("abc", None)])
def test_numbers_are_parsed_as_numbers(text: str, value: float | None) -> None:
    assert parse_number(text) == value


def test_word_matching_reports_changed_missing_and_extra() -> None:
    ref = [Word("Revenue", (10, 10, 80, 24), 95), Word("2024", (90, 10, 130, 24), 95),
           Word("Total", (10, 60, 60, 74), 95)]
    cand = [Word("Revenue", (11, 10, 81, 24), 95), Word("2023", (91, 10, 131, 24), 95),
            Word("Extra", (300, 150, 350, 164), 95)]
    pairs = match_words(ref, cand)
    status = sorted(p.status for p in pairs)
    assert status == ["changed", "extra", "missing", "same"]
    diffs = compare_text(ref, cand, evidence=lambda box: 1.0)
    kinds = sorted(d.kind for d in diffs)
    assert kinds == ["changed", "extra", "missing"]
    changed = next(d for d in diffs if d.kind == "changed")
    assert changed.describe() == "text 'Revenue 2024' expected, 'Revenue 2023' found"
    # OCR disagreement without pixel evidence is not an error
    assert compare_text(ref, cand, evidence=lambda box: 0.0) == []


def _chart(dpi: int) -> Image.Image:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(["a", "b", "c"], [3, 5, 2], color="#d62728")
    ax.set_title("Scale test")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def test_alignment_normalises_scale() -> None:
    ref, big = _chart(100), _chart(200)
    al = align(ref, big)
    assert al.cand.shape == al.ref.shape
    assert al.cand_scale[0] == pytest.approx(0.5, abs=0.01) and al.residual < 6
    assert any("scale" in n for n in al.notes)


def test_alignment_normalises_cropped_and_padded_margins() -> None:
    ref = _chart(100)
    cropped = ref.crop((15, 10, ref.width - 5, ref.height - 12))
    padded = Image.new("RGB", (ref.width + 60, ref.height + 40), "white")
    padded.paste(ref, (37, 21))
    for cand, offset in ((cropped, (15, 10)), (padded, (-37, -21))):
        al = align(ref, cand)
        assert al.offset == offset and al.cand_scale == (1.0, 1.0)
        assert al.residual < 0.5


def test_content_bbox_ignores_the_background() -> None:
    a = np.full((50, 80, 3), 255, np.uint8)
    a[10:20, 30:45] = (0, 0, 0)
    assert content_bbox(a) == (30, 10, 45, 20)
    assert content_bbox(np.full((10, 10, 3), 255, np.uint8)) is None
