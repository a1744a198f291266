"""One picture for ``erm judge --diff-image``: reference | candidate | difference overlay.

The candidate is aligned to the reference with the critic's alignment (scale, margins, offset), the
overlay tints differing pixels red over a faded reference, and every error with a box is drawn and
numbered in the order of the printed table (most severe first).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .verdict import Verdict

SEVERITY_COLOURS = {1: (230, 160, 0), 2: (235, 90, 20), 3: (200, 0, 0)}
GAP = 12
LABEL_H = 26


def _font(size: int) -> ImageFont.ImageFont:
    try:
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
        return ImageFont.truetype(str(path), size)
    except Exception:  # noqa: BLE001 - any font will do
        return ImageFont.load_default()


def _aligned_candidate(reference: Image.Image, candidate: Image.Image) -> Image.Image:
    """The candidate in the reference's pixel frame (the critic's alignment; a plain resize as fallback)."""
    try:
        from .critic.align import align

        a = align(reference, candidate)
        cand = Image.fromarray(np.asarray(a.cand, dtype=np.uint8)[..., :3])
        return cand.resize(reference.size, Image.Resampling.BILINEAR)
    except Exception:  # noqa: BLE001 - the picture must not fail because alignment did
        return candidate.resize(reference.size, Image.Resampling.BILINEAR)


def render_diff_image(reference: Image.Image, candidate: Image.Image, verdict: Verdict) -> Image.Image:
    ref = reference.convert("RGB")
    cand = _aligned_candidate(ref, candidate.convert("RGB"))
    a = np.asarray(ref, dtype=np.int16)
    b = np.asarray(cand, dtype=np.int16)
    diff = np.abs(a - b).max(axis=2) > 40
    faded = (255 - (255 - a) * 0.35).astype(np.uint8)
    overlay = faded.copy()
    overlay[diff] = (np.array([220, 20, 20]) * 0.8 + faded[diff] * 0.2).astype(np.uint8)
    over = Image.fromarray(overlay)
    draw = ImageDraw.Draw(over)
    font = _font(max(11, min(22, ref.height // 30)))
    for n, err in enumerate(verdict.sorted_errors(), 1):
        if not err.bbox:
            continue
        x0, y0, x1, y1 = err.bbox
        colour = SEVERITY_COLOURS.get(err.severity, (200, 0, 0))
        draw.rectangle([x0, y0, x1, y1], outline=colour, width=2 + err.severity // 2)
        tag = str(n)
        tw, th = draw.textbbox((0, 0), tag, font=font)[2:]
        tx, ty = max(0, x0), max(0, y0 - th - 4)
        draw.rectangle([tx, ty, tx + tw + 6, ty + th + 4], fill=colour)
        draw.text((tx + 3, ty + 1), tag, fill="white", font=font)

    w, h = ref.size
    sheet = Image.new("RGB", (3 * w + 4 * GAP, h + LABEL_H + 2 * GAP), "white")
    label_font = _font(15)
    sd = ImageDraw.Draw(sheet)
    titles = ["reference", "candidate (aligned)",
              f"differences: {len(verdict.errors)} errors, reward {verdict.reward:.3f}"]
    for i, (img, title) in enumerate(zip([ref, cand, over], titles)):
        x = GAP + i * (w + GAP)
        sd.text((x, GAP // 2), title, fill=(40, 40, 40), font=label_font)
        sheet.paste(img, (x, LABEL_H + GAP))
        sd.rectangle([x - 1, LABEL_H + GAP - 1, x + w, LABEL_H + GAP + h], outline=(180, 180, 180))
    return sheet


def write_diff_image(path: str | Path, reference: Image.Image, candidate: Image.Image, verdict: Verdict) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    render_diff_image(reference, candidate, verdict).save(out, format="PNG")
    return out
