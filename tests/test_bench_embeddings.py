"""SVG embedding metrics load only local weights: tiny random CLIP and DINOv2 models saved to a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from erm_cli.bench.svg_metrics import EmbeddingScorer, svg_scores
from erm_cli.errors import InputError

transformers = pytest.importorskip("transformers")


def _tiny_models(root: Path) -> dict[str, Path]:
    from transformers import (
        BitImageProcessor,
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        Dinov2Config,
        Dinov2Model,
    )

    small = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2)
    crop = dict(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    clip = CLIPConfig(
        text_config=dict(small, vocab_size=64, bos_token_id=0, eos_token_id=1, pad_token_id=1),
        vision_config=dict(small, image_size=32, patch_size=8),
        projection_dim=8,
    )
    CLIPModel(clip).save_pretrained(root / "clip")
    CLIPImageProcessor(**crop).save_pretrained(root / "clip")
    Dinov2Model(Dinov2Config(**small, image_size=32, patch_size=8)).save_pretrained(root / "dino")
    BitImageProcessor(**crop).save_pretrained(root / "dino")
    return {"clip": root / "clip", "dino": root / "dino"}


def test_embedding_scores_from_local_weights(tmp_path):
    import torch

    torch.manual_seed(0)
    dirs = _tiny_models(tmp_path)
    white = Image.new("RGB", (64, 64), "white")
    red = Image.new("RGB", (64, 64), (220, 30, 30))
    scorers = [EmbeddingScorer(dirs["dino"], "dino"), EmbeddingScorer(dirs["clip"], "clip")]
    for s in scorers:
        # cosine of an image with itself is 1; with another image it is a cosine in [-1, 1)
        assert s.similarity(white, white) == pytest.approx(1.0, abs=1e-5)
        assert -1.0 <= s.similarity(white, red) < 1.0 - 1e-4
    out = svg_scores(white, red, "<svg/>", embedders=scorers)
    assert {"mse", "ssim", "dino", "clip", "code_chars"} <= set(out)


def test_embedding_scorer_refuses_anything_but_a_local_model_dir(tmp_path):
    with pytest.raises(InputError, match="never download"):
        EmbeddingScorer("facebook/dinov2-base", "dino")
    with pytest.raises(InputError, match="config.json missing"):
        EmbeddingScorer(tmp_path, "clip")
