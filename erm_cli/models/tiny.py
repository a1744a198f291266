"""Tiny random vision-language models built offline, for tests and demos (spec ``tiny:qwen3-vl``).

``ensure_tiny_model("qwen3-vl")`` builds a ~0.5 M-parameter Qwen3-VL (or Qwen2.5-VL) with random
weights, a small byte-level BPE tokenizer (merges learnt from a fixed text) and a PIL image processor, deterministically (seed 0),
into ``cache_dir()/models/tiny-<family>-v1`` and returns the folder; ``hf:<folder>`` then loads it like
any real checkpoint. Nothing is downloaded. The model writes junk: use it to test plumbing, shapes,
batching and parsing, never content.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..config import cache_dir
from ..errors import InputError

TINY_VERSION = "v2"
FAMILIES: tuple[str, ...] = ("qwen3-vl", "qwen2.5-vl")
_ALIASES = {"qwen3vl": "qwen3-vl", "qwen3-vl": "qwen3-vl", "qwen3_vl": "qwen3-vl",
            "qwen2.5-vl": "qwen2.5-vl", "qwen2.5vl": "qwen2.5-vl", "qwen2_5_vl": "qwen2.5-vl",
            "qwen2_5-vl": "qwen2.5-vl", "qwen25-vl": "qwen2.5-vl"}

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|image_pad|>", "<|video_pad|>"]

#: A minimal Qwen-style chat template: string or list content; image parts become vision tokens.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' or c['type'] == 'image_url' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

#: Per family: stock processor class name (written into the configs so vLLM can read the folder),
#: vision patch size and pixel bounds (small bounds keep image-token counts tiny).
_FAMILY = {
    "qwen3-vl": {"processor_class": "Qwen3VLProcessor", "video_processor": "Qwen3VLVideoProcessor",
                 "patch": 16, "min_pixels": 64 * 64, "max_pixels": 256 * 256},
    "qwen2.5-vl": {"processor_class": "Qwen2_5_VLProcessor", "video_processor": "Qwen2VLVideoProcessor",
                   "patch": 14, "min_pixels": 56 * 56, "max_pixels": 224 * 224},
}


def normalise_family(family: str) -> str:
    key = (family or "qwen3-vl").strip().lower()
    if key in ("", "default"):
        key = "qwen3-vl"
    if key not in _ALIASES:
        raise InputError(f"unknown tiny model family {family!r}; choose one of: {', '.join(FAMILIES)}")
    return _ALIASES[key]


def tiny_model_dir(family: str = "qwen3-vl") -> Path:
    """Where ``ensure_tiny_model(family)`` puts (or has put) the model."""
    return cache_dir() / "models" / f"tiny-{normalise_family(family)}-{TINY_VERSION}"


def ensure_tiny_model(family: str = "qwen3-vl") -> Path:
    """Build the tiny model for ``family`` once (process- and thread-safe) and return its folder."""
    target = tiny_model_dir(family)
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(target.parent / f".{target.name}.lock"):
        if (target / "config.json").exists():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            from .hf import quiet_transformers, torch_threads

            with quiet_transformers(), torch_threads(1):  # tiny tensors: one thread is fastest on a busy box
                _build(normalise_family(family), tmp)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


@contextlib.contextmanager
def _file_lock(path: Path):  # type: ignore[no-untyped-def]
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


#: Fixed text the tiny byte-level BPE learns its merges from (deterministic; ~4 characters per token on
#: judge prompts instead of 1, so tests and demos with long prompts run several times faster).
BPE_CORPUS = (
    "You are a meticulous reviewer. Image 1 is the reference image; image 2 is the candidate rendered from "
    "code written by a model that tried to reproduce image 1. Compare image 2 with image 1 in detail and list "
    "every visible difference. Error categories: structure_error, data_error, text_error, style_error, "
    "layout_error, numeric_error, shape_error, text_symbol_error. Severity scale: 1 (minor), 2 (medium), "
    "3 (severe). For each error give its category, its severity, where it is in image 2 and a short "
    "description of what is wrong. The chart, the table, the graphic, the title, the legend, the axis labels, "
    "tick labels, colours, markers, lines, bars, rows, columns, cells, headers, numbers, units, shapes, "
    "strokes, fills, glyphs, letters and symbols. Answer with a single JSON object and nothing else.\n"
    '{"structure_error_count": 0, "data_error_count": 1, "text_error_count": 0, "style_error_count": 0, '
    '"errors": [{"category": "data_error", "severity": 2, "location": "third bar", "description": '
    '"the bar is taller than in the reference"}]}\n'
    "import matplotlib.pyplot as plt\nimport numpy as np\nfig, ax = plt.subplots(figsize=(8, 6))\n"
    "ax.bar(['A', 'B', 'C'], [3, 5, 2], color='#1f77b4')\nax.set_title('Revenue by Region')\n"
    "ax.set_xlabel('Region')\nax.set_ylabel('Revenue')\nax.legend()\nplt.tight_layout()\nplt.savefig('out.png')\n"
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64"><circle cx="32" '
    'cy="32" r="20" fill="#ff0000" stroke="black" stroke-width="2"/><path d="M10 10 L54 54"/></svg>\n'
    "<table><tr><th>Year</th><th>Sales</th></tr><tr><td>2024</td><td>1,200</td></tr></table>\n"
    "| Year | Sales |\n|---|---|\n| 2024 | 1,200 |\n"
)


def _bpe_vocab_and_merges(vocab_size: int = 1200) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Train a small byte-level BPE on :data:`BPE_CORPUS` (deterministic, offline, ~0.1 s)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator([BPE_CORPUS] * 4, trainer)
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in model["merges"]]
    return dict(model["vocab"]), merges  # type: ignore[return-value]


def _build_tokenizer() -> Any:
    from transformers import Qwen2Tokenizer

    vocab, merges = _bpe_vocab_and_merges()
    tok = Qwen2Tokenizer(vocab=vocab, merges=merges, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                         unk_token=None)
    tok.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS[1:]})
    return tok


def _build(family: str, out: Path) -> None:
    import torch
    from transformers import Qwen2VLImageProcessorPil

    from .processors import ImageOnlyQwen2_5_VLProcessor, ImageOnlyQwen3VLProcessor

    f = _FAMILY[family]
    tok = _build_tokenizer()
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    image_processor = Qwen2VLImageProcessorPil(
        patch_size=f["patch"], merge_size=2, temporal_patch_size=2,
        size={"shortest_edge": f["min_pixels"], "longest_edge": f["max_pixels"]})
    proc_cls = ImageOnlyQwen3VLProcessor if family == "qwen3-vl" else ImageOnlyQwen2_5_VLProcessor
    processor = proc_cls(image_processor=image_processor, tokenizer=tok, chat_template=CHAT_TEMPLATE)
    text = dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=32768,
                bos_token_id=None, eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"])
    token_ids = dict(image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                     vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        if family == "qwen3-vl":
            from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

            text["rope_parameters"] = {"rope_type": "default", "rope_theta": 10000.0,
                                       "mrope_section": [4, 2, 2], "mrope_interleaved": True}
            vision = dict(depth=2, hidden_size=64, intermediate_size=128, num_heads=4, patch_size=16,
                          spatial_merge_size=2, temporal_patch_size=2, out_hidden_size=64,
                          num_position_embeddings=64, deepstack_visual_indexes=[0, 1])
            config = Qwen3VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=True, **token_ids)
            model = Qwen3VLForConditionalGeneration(config)
        else:
            from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

            text["rope_parameters"] = {"rope_type": "default", "rope_theta": 10000.0,
                                       "mrope_section": [2, 3, 3]}
            vision = dict(depth=2, hidden_size=64, intermediate_size=128, num_heads=4, out_hidden_size=64,
                          patch_size=14, spatial_merge_size=2, window_size=56, fullatt_block_indexes=[1])
            config = Qwen2_5_VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=True,
                                      **token_ids)
            model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.generation_config.bos_token_id = None
    model.save_pretrained(out)
    processor.save_pretrained(out)
    _make_vllm_readable(out, f)
    (out / "erm_tiny.json").write_text(json.dumps({"family": family, "version": TINY_VERSION, "seed": 0},
                                                  indent=2))


def _make_vllm_readable(out: Path, family: dict[str, Any]) -> None:
    """Name the stock processor classes in the configs (vLLM reads them) and add a video config file."""
    for name in ("processor_config.json", "tokenizer_config.json", "preprocessor_config.json"):
        path = out / name
        if path.exists():
            data = json.loads(path.read_text())
            if "processor_class" in data:
                data["processor_class"] = family["processor_class"]
            path.write_text(json.dumps(data, indent=2))
    video = {"video_processor_type": family["video_processor"], "patch_size": family["patch"],
             "temporal_patch_size": 2, "merge_size": 2,
             "size": {"shortest_edge": family["min_pixels"], "longest_edge": family["max_pixels"]}}
    (out / "video_preprocessor_config.json").write_text(json.dumps(video, indent=2))
