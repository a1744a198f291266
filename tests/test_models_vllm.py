"""The vllm: backend. It runs only where vLLM imports and a CUDA GPU exists; elsewhere loading must fail
with one clear line (exit code 4) that names the alternatives."""

from __future__ import annotations

import pytest
from PIL import Image

from erm_cli.errors import EXIT_MODEL, ModelError
from erm_cli.models import load_model
from erm_cli.models.base import Sampling
from erm_cli.models.vllm import vllm_available

USABLE, WHY_NOT = vllm_available()


@pytest.mark.skipif(USABLE, reason="vLLM is usable here; the unavailable path cannot be exercised")
def test_unavailable_vllm_fails_with_a_clear_model_error() -> None:
    with pytest.raises(ModelError) as err:
        load_model("vllm:/models/anything")
    message = str(err.value)
    assert err.value.exit_code == EXIT_MODEL
    assert WHY_NOT in message and "erm-cli[vllm]" in message and "openai:" in message
    assert "\n" not in message


def test_cli_reports_unavailable_vllm_in_one_line() -> None:
    import subprocess
    import sys
    from pathlib import Path

    if USABLE:
        pytest.skip("vLLM is usable here")
    erm = Path(sys.executable).with_name("erm")
    out = subprocess.run([str(erm), "serve", "--judge", "vlm", "--model", "vllm:/models/x", "--port", "0"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == EXIT_MODEL
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("erm: error: vllm:/models/x:")


@pytest.mark.skipif(not USABLE, reason=f"vLLM cannot run here: {WHY_NOT}")
def test_vllm_generates_with_images_on_the_tiny_model() -> None:  # pragma: no cover - GPU machines only
    from erm_cli.models.tiny import ensure_tiny_model

    backend = load_model(f"vllm:{ensure_tiny_model('qwen3-vl')}", max_model_len=4096, gpu_memory_utilization=0.3,
                         enforce_eager=True)
    img = Image.new("RGB", (320, 240), "white")
    requests = [[{"role": "user", "content": [{"type": "image", "image": img}, {"type": "image", "image": img},
                                              {"type": "text", "text": f"Compare {i}."}]}] for i in range(3)]
    outs = backend.generate(requests, Sampling(max_tokens=8, temperature=0.7, top_k=20, seed=1))
    assert len(outs) == 3 and all(o.error is None and o.completion_tokens > 0 for o in outs)


@pytest.mark.skipif(not USABLE, reason=f"vLLM cannot run here: {WHY_NOT}")
def test_sampling_maps_onto_vllm_params() -> None:  # pragma: no cover - GPU machines only
    from erm_cli.models.vllm import sampling_params

    p = sampling_params(Sampling(max_tokens=99, temperature=0.7, top_p=0.8, top_k=20, presence_penalty=1.5,
                                 repetition_penalty=1.0, seed=5))
    assert (p.max_tokens, p.temperature, p.top_p, p.top_k, p.presence_penalty, p.seed) == (99, 0.7, 0.8, 20, 1.5, 5)


def test_server_defaults_map_onto_the_models_own_sampling_defaults() -> None:
    """vLLM itself cannot run on CPU; its parameter mapping can: ``server_defaults`` keeps the model's default
    sampling parameters (``LLM.get_default_sampling_params()``, what ``vllm serve`` uses when a request sets
    none) and sets ``max_tokens`` only; otherwise every Sampling field is mapped."""
    from types import SimpleNamespace

    from erm_cli.models.vllm import model_sampling_defaults, sampling_kwargs

    # the attributes of a vllm.SamplingParams built from a Qwen3-VL generation_config.json
    params = SimpleNamespace(temperature=0.7, top_p=0.8, top_k=20, min_p=0.0, repetition_penalty=1.0,
                             presence_penalty=0.0, frequency_penalty=0.0, max_tokens=16, seed=None)
    llm = SimpleNamespace(get_default_sampling_params=lambda: params)
    defaults = model_sampling_defaults(llm)
    assert defaults == {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "min_p": 0.0, "repetition_penalty": 1.0,
                        "presence_penalty": 0.0, "frequency_penalty": 0.0}
    only_max = Sampling(max_tokens=8192, temperature=0.0, top_k=5, seed=3, server_defaults=True)
    assert sampling_kwargs(only_max, defaults) == {**defaults, "n": 1, "max_tokens": 8192}
    assert sampling_kwargs(only_max) == {"n": 1, "max_tokens": 8192}
    assert sampling_kwargs(Sampling(max_tokens=99, temperature=0.7, top_p=0.8, top_k=20, presence_penalty=1.5,
                                    repetition_penalty=1.0, seed=5), defaults) == {
        "n": 1, "max_tokens": 99, "temperature": 0.7, "top_p": 0.8, "top_k": 20, "presence_penalty": 1.5,
        "repetition_penalty": 1.0, "seed": 5}
