"""SVG-to-code metrics (PEERS.md §4): MSE, SSIM, code length; embedding scores from local weights only.

* ``mse``: mean squared error of RGB pixels scaled to [0, 1] (StarVector's L2), the prediction
  resized to the reference size when the sizes differ (both on white);
* ``ssim``: scikit-image SSIM on the same arrays (window 11, Gaussian sigma 1.5, data range 1,
  colour channels averaged);
* ``code_chars`` and ``length_ratio`` = generated length / reference length (when the reference
  code is known) - raster tracers score well on pixels but write huge files;
* ``dino`` / ``clip``: cosine similarity of image embeddings from a model directory the user
  points at (transformers ``from_pretrained`` on a local path; nothing is ever downloaded): CLIP
  models use their image tower, other vision models (DINOv2...) the mean of the last hidden state.
  StarVector's DinoScore is (cos + 1) / 2; we report the raw cosine and name it so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import InputError


def _pair_arrays(reference: Image.Image, candidate: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    ref = reference.convert("RGB")
    cand = candidate.convert("RGB")
    if cand.size != ref.size:
        cand = cand.resize(ref.size, Image.Resampling.BILINEAR)
    return (np.asarray(ref, dtype=np.float64) / 255.0, np.asarray(cand, dtype=np.float64) / 255.0)


def mse(reference: Image.Image, candidate: Image.Image) -> float:
    a, b = _pair_arrays(reference, candidate)
    return float(np.mean((a - b) ** 2))


def ssim(reference: Image.Image, candidate: Image.Image) -> float:
    from skimage.metrics import structural_similarity

    a, b = _pair_arrays(reference, candidate)
    win = min(11, a.shape[0], a.shape[1])
    if win % 2 == 0:
        win -= 1
    if win < 3:
        return float(1.0 - np.mean(np.abs(a - b)))
    return float(
        structural_similarity(
            a,
            b,
            win_size=win,
            gaussian_weights=win == 11,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=1.0,
            channel_axis=-1,
        )
    )


def code_length(code: str, reference_code: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"code_chars": len(code)}
    if reference_code:
        out["length_ratio"] = round(len(code) / max(1, len(reference_code)), 4)
    return out


class EmbeddingScorer:
    """Cosine similarity of two images under a local vision model (CLIP image tower or a ViT/DINO)."""

    def __init__(self, model_dir: str | Path, name: str) -> None:
        path = Path(model_dir)
        if not path.is_dir() or not (path / "config.json").exists():
            raise InputError(
                f"--{name}: {path} is not a local model directory (config.json missing); "
                "embedding metrics never download weights"
            )
        self.path = path
        self.name = name
        self._model: Any = None
        self._processor: Any = None
        self._is_clip = False

    def _load(self) -> None:
        if self._model is not None:
            return
        try:
            import torch  # noqa: F401
            from transformers import AutoConfig, AutoImageProcessor, AutoModel
        except ImportError as exc:
            raise InputError(f"--{self.name} needs the ml extra (torch, transformers): {exc}") from None
        try:
            config = AutoConfig.from_pretrained(self.path, local_files_only=True)
            self._is_clip = "clip" in (config.model_type or "") or "siglip" in (config.model_type or "")
            self._processor = self._image_processor_class(AutoImageProcessor).from_pretrained(
                self.path, local_files_only=True
            )
            self._model = AutoModel.from_pretrained(self.path, local_files_only=True).eval()
        except (OSError, ValueError) as exc:
            raise InputError(f"--{self.name}: cannot load {self.path}: {str(exc).splitlines()[0]}") from None

    def _image_processor_class(self, fallback: Any) -> Any:
        """The processor class named in ``preprocessor_config.json``: imported by name, transformers falls
        back to its PIL backend when torchvision is missing (``AutoImageProcessor`` refuses instead)."""
        import json

        import transformers

        try:
            name = json.loads((self.path / "preprocessor_config.json").read_text()).get(
                "image_processor_type"
            )
        except (OSError, ValueError):
            return fallback
        return getattr(transformers, str(name), None) or fallback

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        import torch

        self._load()
        inputs = self._processor(images=[im.convert("RGB") for im in images], return_tensors="pt")
        with torch.no_grad():
            if self._is_clip:
                feats = self._model.get_image_features(pixel_values=inputs["pixel_values"])
                if not isinstance(feats, torch.Tensor):  # newer transformers return an output object
                    pooled = getattr(feats, "pooler_output", None)
                    feats = pooled if pooled is not None else feats[0]
            else:
                out = self._model(pixel_values=inputs["pixel_values"])
                feats = out.last_hidden_state.mean(dim=1)
        feats = torch.nn.functional.normalize(feats.float(), dim=-1)
        return feats.cpu().numpy()

    def similarity(self, reference: Image.Image, candidate: Image.Image) -> float:
        e = self.embed([reference, candidate])
        return float(np.dot(e[0], e[1]))


def svg_scores(
    reference: Image.Image,
    candidate: Image.Image | None,
    code: str,
    reference_code: str | None = None,
    embedders: Sequence[EmbeddingScorer] = (),
) -> dict[str, Any]:
    """All SVG metrics for one item; a candidate that did not render gets only its code length."""
    out: dict[str, Any] = code_length(code, reference_code)
    if candidate is None:
        return out
    out["mse"] = round(mse(reference, candidate), 6)
    out["ssim"] = round(ssim(reference, candidate), 6)
    for emb in embedders:
        out[emb.name] = round(emb.similarity(reference, candidate), 6)
    return out
