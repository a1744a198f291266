"""Model spec strings: every accepted form, options, and one-line errors for the rest."""

from __future__ import annotations

import pytest

from erm_cli.errors import InputError, ModelError
from erm_cli.models import SPEC_KINDS, load_model, parse_spec, resolve_options


@pytest.mark.parametrize("spec, kind, target, model", [
    ("hf:/models/judge", "hf", "/models/judge", None),
    ("hf:internlm/Visual-ERM", "hf", "internlm/Visual-ERM", None),
    ("vllm:/models/judge", "vllm", "/models/judge", None),
    ("openai:http://127.0.0.1:8000/v1#visual-erm", "openai", "http://127.0.0.1:8000/v1", "visual-erm"),
    ("openai:http://a:1/v1,http://b:2/v1#m", "openai", "http://a:1/v1,http://b:2/v1", "m"),
    ("openai:https://api.example.com/v1", "openai", "https://api.example.com/v1", None),
    ("https://api.example.com/v1", "openai", "https://api.example.com/v1", None),
    ("tiny:qwen3-vl", "tiny", "qwen3-vl", None),
    ("tiny:qwen2.5-vl", "tiny", "qwen2.5-vl", None),
    ("tiny", "tiny", "qwen3-vl", None),
    ("TINY:Qwen3_VL", "tiny", "qwen3-vl", None),
])
def test_accepted_forms(spec: str, kind: str, target: str, model: str | None) -> None:
    parsed = parse_spec(spec)
    assert (parsed.kind, parsed.target, parsed.model) == (kind, target, model)
    assert parsed.kind in SPEC_KINDS
    # canonical() drops options and is itself a valid spec that parses to the same thing
    again = parse_spec(parsed.canonical())
    assert (again.kind, again.target, again.model) == (kind, target, model)


def test_bare_folder_means_hf(tmp_path) -> None:
    parsed = parse_spec(str(tmp_path))
    assert parsed.kind == "hf" and parsed.target == str(tmp_path)


def test_round_robin_urls_are_listed() -> None:
    parsed = parse_spec("openai:http://a:1/v1/,http://b:2/v1#m")
    assert parsed.urls == ["http://a:1/v1", "http://b:2/v1"]


def test_options_after_question_mark_are_typed() -> None:
    parsed = parse_spec("hf:/m?dtype=bfloat16&batch_size=4")
    assert parsed.options == {"dtype": "bfloat16", "batch_size": "4"}
    opts = resolve_options(parsed, {"device": "cpu", "dtype": None})
    assert opts == {"dtype": "bfloat16", "batch_size": 4, "device": "cpu"}
    openai = parse_spec("openai:http://h:8000/v1#judge?concurrency=16&timeout=30")
    assert openai.model == "judge"
    assert resolve_options(openai, {}) == {"concurrency": 16, "timeout": 30.0}


@pytest.mark.parametrize("spec, fragment", [
    ("", "empty model spec"),
    ("llama", "unknown model spec"),
    ("gguf:/x", "unknown model spec"),
    ("hf:", "needs a model path"),
    ("openai:#m", "needs a URL"),
    ("openai:ftp://x#m", "must start with http"),
    ("tiny:llama", "unknown tiny model family"),
])
def test_bad_specs_raise_one_line_input_errors(spec: str, fragment: str) -> None:
    with pytest.raises(InputError) as err:
        parse_spec(spec)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_or_mistyped_options_are_input_errors() -> None:
    with pytest.raises(InputError, match="unknown option 'temperature'"):
        resolve_options(parse_spec("hf:/m"), {"temperature": 0.3})
    with pytest.raises(InputError, match="must be int"):
        resolve_options(parse_spec("hf:/m?batch_size=lots"), {})


def test_missing_hf_folder_is_an_input_error(tmp_path) -> None:
    with pytest.raises(InputError, match="no such model folder"):
        load_model(f"hf:{tmp_path}/missing-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no config.json"):
        load_model(f"hf:{tmp_path}/empty")


def test_unreachable_openai_model_list_is_a_model_error() -> None:
    # no #MODEL and nothing listening: the name lookup fails with exit code 4, as one line
    backend = load_model("openai:http://127.0.0.1:9/v1", max_retries=0, timeout=2)
    with pytest.raises(ModelError, match="GET /models failed"):
        backend.model_name()
