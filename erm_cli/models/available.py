"""What can run here: erm's judges and model backends, each with whether it is usable on this machine and
why not. Looks only at installed packages' metadata (``importlib.util.find_spec``), files and executables:
nothing heavy is imported (``erm models`` answers in well under a second)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    """One judge or backend: its name, what it is, whether it is usable here and, if not, why."""

    kind: str  # "judge" | "backend"
    name: str
    usage: str
    usable: bool
    note: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _have(*modules: str) -> list[str]:
    """The modules of ``modules`` that are not installed."""
    missing = []
    for m in modules:
        try:
            found = importlib.util.find_spec(m) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(m)
    return missing


def _gpu() -> bool:
    return any(Path(p).exists() for p in ("/dev/nvidia0", "/dev/nvidiactl")) or shutil.which("nvidia-smi") is not None


def _ocr_note() -> tuple[bool, str]:
    env = [os.environ.get("ERM_TESSDATA"), os.environ.get("TESSDATA_PREFIX")]
    from ..judges.critic.ocr import TESSDATA_CANDIDATES

    for cand in [c for c in env if c] + list(TESSDATA_CANDIDATES):
        p = Path(cand)
        has_data = (p / "eng.traineddata").is_file() or (p / "tessdata" / "eng.traineddata").is_file()
        if has_data and not _have("tesserocr"):
            return True, f"OCR: tesserocr with {p}"
    if not _have("rapidocr", "onnxruntime"):
        return True, "OCR: rapidocr (pip fallback)"
    return False, "no OCR engine: apt-get install tesseract-ocr-eng (tesserocr comes with erm)"


def catalog() -> list[Entry]:
    """Every judge and model backend erm knows, with whether it can run here."""
    out: list[Entry] = []
    ok, note = _ocr_note()
    missing = _have("numpy", "PIL", "scipy")
    out.append(Entry("judge", "critic", "erm judge REF PRED (default)", ok and not missing,
                     f"weight-free itemised judge; {note}" + (f"; missing {', '.join(missing)}" if missing else "")))
    out.append(Entry("judge", "vlm", "erm judge REF PRED --judge vlm --model SPEC", True,
                     "a generative judge over any backend below (usable when its backend is)"))
    for name, what in (("ssim", "structural similarity"), ("mse", "pixel mean squared error"),
                       ("phash", "perceptual hash distance")):
        miss = _have("numpy", "PIL")
        out.append(Entry("judge", name, f"erm judge REF PRED --judge {name}", not miss,
                         f"baseline: {what}, one score, no itemised errors"))
    miss = _have("transformers", "torch")
    out.append(Entry("backend", "hf", "hf:PATH", not miss, "transformers on a local folder" +
                     (f"; missing {', '.join(miss)} (pip install 'erm-cli[ml]')" if miss else
                      ("; GPU found" if _gpu() else "; CPU only (slow for full-size models)"))))
    miss = _have("vllm")
    gpu = _gpu()
    note = "vLLM offline engine"
    if miss:
        note += "; vllm is not installed (pip install 'erm-cli[vllm]')"
    if not gpu:
        note += "; needs an NVIDIA GPU (none found)"
    out.append(Entry("backend", "vllm", "vllm:PATH", not miss and gpu, note))
    miss = _have("httpx")
    out.append(Entry("backend", "openai", "openai:URL#MODEL", not miss,
                     "any OpenAI-compatible server (vLLM serve, SGLang, a hosted API); reachability is checked "
                     "when used" + (f"; missing {', '.join(miss)}" if miss else "")))
    miss = _have("transformers", "torch")
    out.append(Entry("backend", "tiny", "tiny:qwen3-vl", not miss, "a tiny random model built offline (tests, "
                     "demos; its verdicts mean nothing)" + (f"; missing {', '.join(miss)}" if miss else "")))
    return out
