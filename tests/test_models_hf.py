"""The tiny offline models and the hf: backend: real transformers code, random tiny weights, CPU."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from erm_cli.errors import InputError, ModelError
from erm_cli.models import load_model
from erm_cli.models.base import Completion, Sampling
from erm_cli.models.tiny import FAMILIES, ensure_tiny_model, tiny_model_dir

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


def chart(height: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    d.rectangle([40, size[1] - 20 - height, 90, size[1] - 20], fill=(31, 119, 180))
    d.line([20, size[1] - 20, size[0] - 20, size[1] - 20], fill="black", width=2)
    return img


def ask(img: Image.Image | None, text: str) -> list[dict]:
    if img is None:
        return [{"role": "user", "content": text}]
    return [{"role": "user", "content": [{"type": "image", "image": img}, {"type": "text", "text": text}]}]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_build_is_deterministic_cached_and_loadable(family: str, tmp_path, monkeypatch) -> None:
    first = ensure_tiny_model(family)
    assert first == tiny_model_dir(family)
    assert ensure_tiny_model(family) == first  # second call: no rebuild
    names = {p.name for p in first.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "processor_config.json",
            "chat_template.jinja", "video_preprocessor_config.json"} <= names
    assert json.loads((first / "erm_tiny.json").read_text())["family"] == family
    # the same build in another cache folder gives byte-identical weights (seed 0)
    monkeypatch.setenv("ERM_CACHE_DIR", str(tmp_path))
    second = ensure_tiny_model(family)
    assert second != first and second.parent.parent == tmp_path
    assert sha(second / "model.safetensors") == sha(first / "model.safetensors")
    # vLLM reads the stock processor class names from the folder
    assert json.loads((first / "processor_config.json").read_text())["processor_class"].endswith("Processor")
    assert "ImageOnly" not in (first / "processor_config.json").read_text()


def test_processor_is_image_only_and_counts_image_tokens() -> None:
    from erm_cli.models.hf import load_processor

    proc = load_processor(ensure_tiny_model("qwen3-vl"))
    assert type(proc).__name__ == "ImageOnlyQwen3VLProcessor"
    assert "video_processor" not in proc.get_attributes()
    inputs = proc.apply_chat_template([ask(chart(60, (800, 600)), "Describe.")], tokenize=True,
                                      add_generation_prompt=True, return_dict=True, return_tensors="pt")
    grid = inputs["image_grid_thw"]
    image_tokens = int((inputs["input_ids"] == proc.image_token_id).sum())
    merge = proc.image_processor.merge_size
    assert image_tokens == int(grid.prod(dim=1).sum()) // (merge * merge)
    assert proc.tokenizer.padding_side == "left"


def test_batched_greedy_generation_matches_one_by_one() -> None:
    backend = load_model("tiny:qwen3-vl")
    requests = [ask(chart(40), "How tall is the bar?"),
                ask(chart(120, (500, 200)), "Write matplotlib code for this chart, please."),
                ask(None, "text only")]
    sampling = Sampling(max_tokens=12)
    batched = backend.generate(requests, sampling)
    single = [backend.generate([r], sampling)[0] for r in requests]
    assert [c.text for c in batched] == [c.text for c in single]
    assert all(isinstance(c, Completion) and c.error is None for c in batched)
    assert all(0 < c.completion_tokens <= 12 for c in batched)
    # longer prompts (more image tokens, more text) report more prompt tokens
    assert batched[1].prompt_tokens > batched[2].prompt_tokens
    assert all(c.info["finish_reason"] in ("stop", "length") for c in batched)


def test_sampling_with_seed_is_reproducible() -> None:
    backend = load_model("tiny:qwen3-vl")
    req = [ask(chart(80), "Describe.")]
    s = Sampling(max_tokens=10, temperature=0.9, top_p=0.9, top_k=20, repetition_penalty=1.05, seed=7)
    a = backend.generate(req, s)[0].text
    b = backend.generate(req, s)[0].text
    assert a == b


def test_presence_penalty_is_ignored_with_a_warning(caplog, monkeypatch) -> None:
    import erm_cli.models.hf as hf

    monkeypatch.setattr(hf, "_WARNED_PRESENCE", False)
    backend = load_model("tiny:qwen3-vl")
    out = backend.generate([ask(chart(80), "Describe.")], Sampling(max_tokens=4, temperature=0.7, presence_penalty=1.5))
    assert out[0].error is None
    assert any("presence_penalty 1.50 is not supported" in r.getMessage() for r in caplog.records)


def test_backend_is_shared_per_spec_and_options() -> None:
    a = load_model("tiny:qwen3-vl")
    assert load_model("tiny") is a
    assert load_model("tiny:qwen3-vl", batch_size=None) is a
    b = load_model("tiny:qwen3-vl", batch_size=2)
    assert b is not a and b.model is a.model  # weights are loaded once, whatever the batch size


def test_hf_spec_loads_the_tiny_folder_and_shares_weights() -> None:
    from erm_cli.models.hf import load_hf

    path = ensure_tiny_model("qwen3-vl")
    backend = load_model(f"hf:{path}")
    assert backend.spec == f"hf:{path}"
    model, processor = load_hf(path)
    assert backend.model is model and backend.processor is processor
    fresh, _ = load_hf(path, fresh=True)
    assert fresh is not model  # training gets its own copy
    assert next(fresh.parameters()).dtype == torch.float32


def test_dtype_option_and_qwen25_family() -> None:
    bf16 = load_model("tiny:qwen3-vl?dtype=bfloat16")
    assert next(bf16.model.parameters()).dtype == torch.bfloat16
    [out] = bf16.generate([ask(chart(50), "Hi")], Sampling(max_tokens=6))
    assert out.error is None and out.completion_tokens > 0
    q25 = load_model("tiny:qwen2.5-vl")
    assert type(q25.model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    [out] = q25.generate([ask(chart(50), "Hi")], Sampling(max_tokens=6))
    assert out.error is None and out.completion_tokens > 0


def test_openai_style_image_parts_are_accepted() -> None:
    backend = load_model("tiny:qwen3-vl")
    img = chart(70)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    as_url = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": uri}},
                                            {"type": "text", "text": "Describe."}]}]
    sampling = Sampling(max_tokens=8)
    assert backend.generate([as_url], sampling)[0].text == backend.generate([ask(img, "Describe.")], sampling)[0].text
    # a remote image URL fails that request alone, with the reason; the rest of the batch answers
    remote = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://example.com/x.png"}}]}]
    bad, good = backend.generate([remote, as_url], sampling)
    assert "only data: image URIs" in (bad.error or "") and bad.text == ""
    assert good.error is None and good.completion_tokens > 0


def test_tiny_generation_is_capped() -> None:
    backend = load_model("tiny:qwen3-vl", max_tokens_cap=6)
    assert load_model("tiny:qwen3-vl").max_tokens_cap == 256  # the default cap for tiny models
    [out] = backend.generate([ask(None, "go")], Sampling(max_tokens=100_000))
    assert 0 < out.completion_tokens <= 6


def test_device_and_dtype_errors() -> None:
    path = ensure_tiny_model("qwen3-vl")
    with pytest.raises(InputError, match="unknown dtype"):
        load_model(f"hf:{path}", dtype="float8")
    with pytest.raises(InputError, match="unknown device"):
        load_model(f"hf:{path}", device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="CUDA is not available"):
            load_model(f"hf:{path}", device="cuda")


def test_broken_checkpoint_is_a_model_error(tmp_path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen3_vl"}))
    with pytest.raises(ModelError, match="cannot load"):
        load_model(f"hf:{tmp_path}")


def test_backend_over_a_model_in_memory() -> None:
    from erm_cli.models.hf import HFBackend, load_hf

    shared = load_model("tiny:qwen3-vl")
    live = HFBackend.from_loaded(*load_hf(ensure_tiny_model("qwen3-vl"), fresh=True), spec="live:test")
    req = [ask(chart(90), "Describe.")]
    assert live.spec == "live:test" and live.model is not shared.model
    assert live.generate(req, Sampling(max_tokens=6))[0].text == shared.generate(req, Sampling(max_tokens=6))[0].text


def test_server_defaults_send_only_max_tokens_and_use_the_models_generation_config() -> None:
    """``Sampling.server_defaults`` (the released VC-RewardBench request: ``max_tokens`` only): hf passes
    ``max_new_tokens`` alone, so the model's generation_config decides the decoding (greedy for the tiny
    model), whatever the other Sampling fields say, as a server does with such a request."""
    from erm_cli.models.hf import _generate_kwargs

    loose = Sampling(max_tokens=6, temperature=2.0, top_p=0.5, top_k=3, presence_penalty=1.5,
                     repetition_penalty=1.3, seed=7, server_defaults=True)
    assert _generate_kwargs(loose) == {"max_new_tokens": 6}
    backend = load_model("tiny:qwen3-vl")
    assert not backend.model.generation_config.do_sample
    req = [ask(chart(80), "Compare.")]
    greedy = backend.generate(req, Sampling(max_tokens=6))[0].text
    assert backend.generate(req, loose)[0].text == greedy
    # the same fields without server_defaults are applied: this seed samples away from the greedy answer
    sampled = backend.generate(req, Sampling(max_tokens=6, temperature=2.0, top_p=0.5, top_k=3, seed=7))[0]
    assert sampled.error is None and sampled.text != greedy
