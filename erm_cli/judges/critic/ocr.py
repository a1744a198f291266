"""Offline OCR for the critic and for other verbs (the model-free refine policy, benchmarks).

Engines, in order of preference (measured in ../shared/docs/ECOSYSTEM.md §5 on an 800x600 chart, 2 cores):

1. ``tesserocr`` with Debian's ``eng`` tessdata, one reused API per thread: ~0.05-0.1 s, word boxes.
2. ``rapidocr`` + ``onnxruntime`` (the optional extra ``ocr``; models inside the wheel): ~0.6 s, line boxes
   (split into words here).

When neither is usable :func:`ocr_words` raises :class:`OcrUnavailable`; the critic then skips the text
check and says so in the verdict (``info.warnings``) instead of failing.

    from erm_cli.judges.critic.ocr import ocr_words, ocr_lines
    words = ocr_words(img)            # [Word(text, bbox, conf), ...] in image pixels
    lines = ocr_lines(img)            # words grouped into reading lines
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

BBox = tuple[float, float, float, float]

#: Where Debian / Ubuntu put the tessdata (``ERM_TESSDATA`` or ``TESSDATA_PREFIX`` override).
TESSDATA_CANDIDATES = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                       "/usr/share/tessdata", "/usr/local/share/tessdata", "/opt/homebrew/share/tessdata")

INSTALL_HINT = ("install Tesseract's English data (apt-get install tesseract-ocr-eng; tesserocr comes with erm) "
                "or the pure-pip fallback: pip install 'erm-cli[ocr]'")


class OcrUnavailable(RuntimeError):
    """No OCR engine could be started (the message says how to install one)."""


@dataclass(frozen=True)
class Word:
    """One recognised word: text, box [x0, y0, x1, y1] in image pixels, confidence 0-100."""

    text: str
    bbox: BBox
    conf: float
    vertical: bool = False  # read from text rotated 90 degrees (bottom to top)

    @property
    def cx(self) -> float:
        return (self.bbox[0] + self.bbox[2]) / 2

    @property
    def cy(self) -> float:
        return (self.bbox[1] + self.bbox[3]) / 2

    @property
    def height(self) -> float:
        return self.bbox[3] - self.bbox[1]

    @property
    def text_size(self) -> float:
        """Height of the letters (the box's width for rotated text)."""
        return self.width if self.vertical else self.height

    @property
    def width(self) -> float:
        return self.bbox[2] - self.bbox[0]

    def scaled(self, sx: float, sy: float | None = None, dx: float = 0.0, dy: float = 0.0) -> Word:
        sy = sx if sy is None else sy
        x0, y0, x1, y1 = self.bbox
        return Word(self.text, (x0 * sx + dx, y0 * sy + dy, x1 * sx + dx, y1 * sy + dy), self.conf, self.vertical)


@dataclass
class Line:
    """Words on one reading line, left to right."""

    words: list[Word] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def bbox(self) -> BBox:
        return (min(w.bbox[0] for w in self.words), min(w.bbox[1] for w in self.words),
                max(w.bbox[2] for w in self.words), max(w.bbox[3] for w in self.words))

    @property
    def conf(self) -> float:
        return float(np.mean([w.conf for w in self.words])) if self.words else 0.0


class _Engine(Protocol):
    name: str

    def words(self, img: Image.Image) -> list[Word]: ...


# --------------------------------------------------------------------------------------------- engines

def find_tessdata() -> str | None:
    """The tessdata folder holding ``eng.traineddata``, or None."""
    env = [os.environ.get("ERM_TESSDATA"), os.environ.get("TESSDATA_PREFIX")]
    for cand in [c for c in env if c] + list(TESSDATA_CANDIDATES):
        p = Path(cand)
        if (p / "eng.traineddata").is_file():
            return str(p)
        if (p / "tessdata" / "eng.traineddata").is_file():
            return str(p / "tessdata")
    return None


class TesserocrEngine:
    """tesserocr with a reused API per thread (the API object is not thread-safe)."""

    name = "tesserocr"

    def __init__(self) -> None:
        import tesserocr

        self._tessdata = find_tessdata()
        if self._tessdata is None:
            raise OcrUnavailable(f"Tesseract 'eng' data not found; {INSTALL_HINT}")
        self._local = threading.local()
        self.version = str(tesserocr.tesseract_version()).split()[1] if tesserocr.tesseract_version() else "?"

    def _api(self, psm: str = "SPARSE_TEXT") -> Any:
        api = getattr(self._local, psm, None)
        if api is None:
            import tesserocr

            try:
                api = tesserocr.PyTessBaseAPI(path=self._tessdata.rstrip("/") + "/", lang="eng",
                                              psm=getattr(tesserocr.PSM, psm))
            except RuntimeError as exc:
                raise OcrUnavailable(f"Tesseract could not start ({exc}); {INSTALL_HINT}") from None
            setattr(self._local, psm, api)
        return api

    def words(self, img: Image.Image, psm: str = "SPARSE_TEXT") -> list[Word]:
        """Words of ``img`` in Tesseract page-segmentation mode ``psm`` (a ``tesserocr.PSM`` name)."""
        import tesserocr

        api = self._api(psm)
        api.SetImage(img)
        api.Recognize()
        level = tesserocr.RIL.WORD
        out: list[Word] = []
        it = api.GetIterator()
        if it is None:
            return out
        for r in tesserocr.iterate_level(it, level):
            try:
                text = (r.GetUTF8Text(level) or "").strip()
                box = r.BoundingBox(level)
            except RuntimeError:  # "No text returned" for an empty element
                continue
            if not text or box is None:
                continue
            out.append(Word(text, tuple(float(v) for v in box), float(r.Confidence(level))))  # type: ignore[arg-type]
        return out


class RapidOcrEngine:
    """rapidocr 3.x (ONNX models bundled in the wheel). Lines are split into words proportionally."""

    name = "rapidocr"

    def __init__(self) -> None:
        try:
            from rapidocr import RapidOCR
        except ImportError:
            raise OcrUnavailable(f"no OCR engine available; {INSTALL_HINT}") from None
        self._ocr = RapidOCR()
        self._lock = threading.Lock()
        self.version = "3"

    def words(self, img: Image.Image) -> list[Word]:
        with self._lock:
            res = self._ocr(np.asarray(img.convert("RGB")))
        boxes = getattr(res, "boxes", None)
        txts = getattr(res, "txts", None)
        scores = getattr(res, "scores", None)
        out: list[Word] = []
        if boxes is None or txts is None:
            return out
        for box, text, score in zip(boxes, txts, scores if scores is not None else [1.0] * len(txts)):
            pts = np.asarray(box, float)
            x0, y0 = pts[:, 0].min(), pts[:, 1].min()
            x1, y1 = pts[:, 0].max(), pts[:, 1].max()
            out.extend(_split_line(str(text), (x0, y0, x1, y1), float(score) * 100))
        return out


def _split_line(text: str, bbox: BBox, conf: float) -> list[Word]:
    tokens = text.split()
    if not tokens:
        return []
    total = sum(len(t) for t in tokens) + len(tokens) - 1
    x0, y0, x1, y1 = bbox
    per = (x1 - x0) / max(1, total)
    out, pos = [], 0
    for t in tokens:
        out.append(Word(t, (x0 + pos * per, y0, x0 + (pos + len(t)) * per, y1), conf))
        pos += len(t) + 1
    return out


_ENGINE: _Engine | None = None
_ENGINE_ERROR: str | None = None
_ENGINE_LOCK = threading.Lock()


def get_engine(prefer: str | None = None) -> _Engine:
    """The process-wide OCR engine (``ERM_OCR_ENGINE=tesserocr|rapidocr`` forces one)."""
    global _ENGINE, _ENGINE_ERROR
    prefer = prefer or os.environ.get("ERM_OCR_ENGINE") or None
    with _ENGINE_LOCK:
        if _ENGINE is not None and (prefer is None or _ENGINE.name == prefer):
            return _ENGINE
        order = [prefer] if prefer else ["tesserocr", "rapidocr"]
        errors = []
        for name in order:
            try:
                engine: _Engine = TesserocrEngine() if name == "tesserocr" else RapidOcrEngine()
            except ImportError:
                errors.append(f"{name} is not installed")
                continue
            except OcrUnavailable as exc:
                errors.append(str(exc))
                continue
            _ENGINE = engine
            _ENGINE_ERROR = None
            return engine
        _ENGINE_ERROR = errors[-1] if errors else f"no OCR engine available; {INSTALL_HINT}"
        raise OcrUnavailable(_ENGINE_ERROR)


def engine_info() -> dict[str, str]:
    """Name and version of the OCR engine in use, or why there is none."""
    try:
        e = get_engine()
    except OcrUnavailable as exc:
        return {"engine": "none", "error": str(exc)}
    return {"engine": e.name, "version": getattr(e, "version", "?")}


# --------------------------------------------------------------------------------------------- API

#: Text shorter than this (pixels) is upscaled before OCR; Tesseract reads ~20 px x-height best.
_MIN_OCR_SIDE = 500


def ocr_words(img: Image.Image | np.ndarray, *, min_conf: float = 0.0, engine: str | None = None,
              upscale: float | None = None) -> list[Word]:
    """Recognise words in ``img``; boxes are in ``img`` pixels. Raises :class:`OcrUnavailable`.

    Small images are upscaled (``upscale`` forces a factor) so that Tesseract sees legible text.
    """
    pil = img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img, dtype=np.uint8))
    pil = pil.convert("L")
    factor = upscale if upscale is not None else (2.0 if max(pil.size) < _MIN_OCR_SIDE else 1.0)
    if factor != 1.0:
        pil = pil.resize((max(1, round(pil.width * factor)), max(1, round(pil.height * factor))), Image.LANCZOS)
    words = get_engine(engine).words(pil)
    if factor != 1.0:
        words = [w.scaled(1 / factor) for w in words]
    return [w for w in words if w.conf >= min_conf and _is_textlike(w.text)]


def ocr_block_words(img: Image.Image) -> list[Word]:
    """Tesseract in single-block mode, which reads short columns of small text (tick labels) that the sparse
    mode of :func:`ocr_words` drops. No upscaling or filtering. Raises :class:`OcrUnavailable` unless the
    engine is tesserocr."""
    engine = get_engine()
    if not isinstance(engine, TesserocrEngine):
        raise OcrUnavailable(f"single-block OCR needs tesserocr, not {engine.name}")
    return engine.words(img, psm="SINGLE_BLOCK")


def text_layer(img: Image.Image | np.ndarray, max_value: int = 110, max_chroma: int = 40) -> Image.Image:
    """Black where the image is dark and nearly grey (typical text), white elsewhere: coloured shapes around
    short labels stop confusing Tesseract's page segmentation (icons, diagrams)."""
    a = np.asarray(img.convert("RGB") if isinstance(img, Image.Image) else img)
    hi = a.max(axis=2)
    lo = a.min(axis=2)
    dark = (hi < max_value) & ((hi - lo) < max_chroma)
    return Image.fromarray(np.where(dark, 0, 255).astype(np.uint8), "L")


def ocr_rotated(img: Image.Image | np.ndarray, box: tuple[int, int, int, int], *, min_conf: float = 0.0,
                engine: str | None = None) -> list[Word]:
    """Words of text written bottom-to-top (a y-axis label) inside ``box``; boxes in ``img`` pixels."""
    pil = img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img, dtype=np.uint8))
    x0, y0, x1, y1 = box
    if x1 - x0 < 6 or y1 - y0 < 12:
        return []
    strip = pil.crop((x0, y0, x1, y1))
    sh = strip.height
    rotated = strip.rotate(-90, expand=True)  # clockwise: bottom-to-top text reads left to right
    out = []
    for w in ocr_words(rotated, min_conf=min_conf, engine=engine):
        a0, b0, a1, b1 = w.bbox
        out.append(Word(w.text, (x0 + b0, y0 + sh - a1, x0 + b1, y0 + sh - a0), w.conf, vertical=True))
    return out


def _is_textlike(text: str) -> bool:
    """Drop OCR noise made of rules and tick marks ("|", "—", "__")."""
    return bool(re.search(r"[A-Za-z0-9%$€£¥]", text))


def group_lines(words: Sequence[Word], gap: float = 1.2) -> list[Line]:
    """Group words into lines, left to right: a word joins the line whose last word overlaps it vertically by
    over half the smaller height and ends less than ``gap`` x the text height before it. Vertical
    (rotated) words form their own lines, bottom to top."""
    horizontal = [w for w in words if not w.vertical]
    vertical = [w for w in words if w.vertical]
    lines = _group(horizontal, gap)
    if vertical:
        # rotate into reading orientation, group, and keep the original words
        rot = {id(w): Word(w.text, (-w.bbox[3], w.bbox[0], -w.bbox[1], w.bbox[2]), w.conf) for w in vertical}
        back = {id(rot[id(w)]): w for w in vertical}
        for ln in _group(list(rot.values()), gap):
            lines.append(Line([back[id(r)] for r in ln.words]))
    return sorted(lines, key=lambda ln: (ln.bbox[1], ln.bbox[0]))


def _group(words: Sequence[Word], gap: float) -> list[Line]:
    lines: list[Line] = []
    for w in sorted(words, key=lambda w: (w.bbox[0], w.cy)):
        best, best_ov = None, 0.0
        for line in lines:
            last = line.words[-1]
            hmin = max(1.0, min(last.height, w.height))
            ov = (min(last.bbox[3], w.bbox[3]) - max(last.bbox[1], w.bbox[1])) / hmin
            dx = w.bbox[0] - last.bbox[2]
            if ov >= 0.5 and -0.5 * hmin <= dx <= gap * max(last.height, w.height) and ov > best_ov:
                best, best_ov = line, ov
        if best is None:
            lines.append(Line([w]))
        else:
            best.words.append(w)
    return lines


def ocr_lines(img: Image.Image | np.ndarray, **kwargs: Any) -> list[Line]:
    """Recognised text grouped into reading lines (see :func:`group_lines`)."""
    return group_lines(ocr_words(img, **kwargs))


def ocr_text(img: Image.Image | np.ndarray, **kwargs: Any) -> str:
    """All recognised text, one reading line per output line."""
    return "\n".join(line.text for line in ocr_lines(img, **kwargs))


# --------------------------------------------------------------------------------------------- numbers

_NUM_RE = re.compile(r"^[\(\[]?[-+−–]?[$€£¥]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?[%kKMBx]?[\)\]]?[.,;:]?$")


def parse_number(text: str) -> float | None:
    """The numeric value of a token such as ``42``, ``-3.5``, ``1,200``, ``12%``, ``$4.2``, ``(7)``; else None."""
    t = text.strip().replace("−", "-").replace("–", "-")
    if not _NUM_RE.match(t):
        return None
    t = t.rstrip(".,;:").strip("()[]")
    mult = 1.0
    if t and t[-1] in "kKMB":
        mult = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9}[t[-1]]
        t = t[:-1]
    t = t.rstrip("%x").lstrip("$€£¥+")
    if t.startswith("-"):
        t = "-" + t[1:].lstrip("$€£¥")
    t = t.replace(",", "")
    try:
        return float(t) * mult
    except ValueError:
        return None
