"""Image-only Qwen-VL processors: the stock ones need torchvision (for video), which cannot load on CPU torch.

transformers builds a processor's attribute list from its ``__init__`` signature, so subclasses whose
``__init__`` takes only an image processor and a tokenizer never look for a video processor. They load
both our tiny checkpoints and real Qwen2-VL / Qwen2.5-VL / Qwen3-VL checkpoint folders.

This module imports transformers at import time: import it lazily (erm_cli.models.hf does).
"""

from __future__ import annotations

from typing import Any

from transformers import Qwen2_5_VLProcessor, Qwen2VLProcessor, Qwen3VLProcessor
from transformers.processing_utils import ProcessorMixin

#: Qwen chat special tokens shared by the 2-VL, 2.5-VL and 3-VL families.
VISION_TOKENS = {"image": "<|image_pad|>", "video": "<|video_pad|>",
                 "vision_start": "<|vision_start|>", "vision_end": "<|vision_end|>"}


def _init_image_only(self: Any, image_processor: Any, tokenizer: Any, chat_template: str | None) -> None:
    for name, token in VISION_TOKENS.items():
        setattr(self, f"{name}_token", getattr(tokenizer, f"{name}_token", None) or token)
        setattr(self, f"{name}_token_id", tokenizer.convert_tokens_to_ids(getattr(self, f"{name}_token")))
    ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)


class ImageOnlyQwen3VLProcessor(Qwen3VLProcessor):
    """``Qwen3VLProcessor`` without the torchvision-only video processor."""

    def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None,
                 **kwargs: Any) -> None:
        _init_image_only(self, image_processor, tokenizer, chat_template)


class ImageOnlyQwen2_5_VLProcessor(Qwen2_5_VLProcessor):
    """``Qwen2_5_VLProcessor`` without the torchvision-only video processor."""

    def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None,
                 **kwargs: Any) -> None:
        _init_image_only(self, image_processor, tokenizer, chat_template)


class ImageOnlyQwen2VLProcessor(Qwen2VLProcessor):
    """``Qwen2VLProcessor`` without the torchvision-only video processor."""

    def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None,
                 **kwargs: Any) -> None:
        _init_image_only(self, image_processor, tokenizer, chat_template)


#: config.json ``model_type`` -> image-only processor class.
PROCESSOR_FOR_MODEL_TYPE: dict[str, type] = {
    "qwen3_vl": ImageOnlyQwen3VLProcessor,
    "qwen3_vl_moe": ImageOnlyQwen3VLProcessor,
    "qwen2_5_vl": ImageOnlyQwen2_5_VLProcessor,
    "qwen2_vl": ImageOnlyQwen2VLProcessor,
}
