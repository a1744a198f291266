"""Model spec strings (ARCHITECTURE.md §3.3): one string names a model and how to run it.

=====================================  =====================================================
``hf:PATH``                            transformers, local folder (or a hub id in the HF cache)
``vllm:PATH``                          the vLLM offline engine (GPU, ``pip install erm-cli[vllm]``)
``openai:URL#MODEL``                   any OpenAI-compatible server; ``URL1,URL2#MODEL`` round-robins
``tiny:qwen3-vl`` / ``tiny:qwen2.5-vl`` a tiny random model built offline (tests, demos)
=====================================  =====================================================

Options may follow a ``?`` as ``key=value`` pairs joined by ``&``, e.g.
``hf:/models/erm?dtype=bfloat16&device=cuda`` or ``openai:http://h:8000/v1#erm?concurrency=16``.
A bare existing folder means ``hf:``; a bare ``http(s)://`` URL means ``openai:``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

from ..errors import InputError

SPEC_KINDS: tuple[str, ...] = ("hf", "vllm", "openai", "tiny")
SPEC_HELP = "hf:PATH, vllm:PATH, openai:URL#MODEL or tiny:qwen3-vl"


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec. ``target``: path (hf, vllm), family (tiny) or comma-joined base URLs (openai)."""

    kind: str
    target: str
    model: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    raw: str = ""

    @property
    def urls(self) -> list[str]:
        return [u.strip().rstrip("/") for u in self.target.split(",") if u.strip()]

    def canonical(self) -> str:
        """The spec without options (what a verdict records as the judge model)."""
        if self.kind == "openai":
            return f"openai:{self.target}#{self.model}" if self.model else f"openai:{self.target}"
        return f"{self.kind}:{self.target}"


def _split_options(text: str) -> tuple[str, dict[str, str]]:
    if "?" not in text:
        return text, {}
    head, query = text.split("?", 1)
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs and query:
        raise InputError(f"malformed model options {query!r}; write key=value pairs joined by '&'")
    return head, {k: v for k, v in pairs}


def parse_spec(spec: str) -> ModelSpec:
    """Parse a model spec; raises :class:`InputError` with the accepted forms on anything else."""
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"empty model spec; use {SPEC_HELP}")
    raw = spec.strip()
    kind, sep, rest = raw.partition(":")
    kind = kind.lower()
    if not sep or kind not in SPEC_KINDS:
        if raw.startswith(("http://", "https://")):
            kind, rest = "openai", raw
        elif kind == "tiny" and not sep:
            kind, rest = "tiny", "qwen3-vl"
        elif Path(raw.split("?", 1)[0]).expanduser().is_dir():
            kind, rest = "hf", raw
        else:
            raise InputError(f"unknown model spec {spec!r}; use {SPEC_HELP}")

    if kind == "openai":
        urls, _, model_part = rest.partition("#")
        model, options = _split_options(model_part) if model_part else (None, {})
        if not model_part and "?" in urls:
            # options without a model name: the last '?' segment holds them only if every pair has '='
            urls, options = _split_options(urls)
        url_list = [u.strip().rstrip("/") for u in urls.split(",") if u.strip()]
        if not url_list:
            raise InputError(f"openai spec needs a URL: openai:http://HOST:PORT/v1#MODEL (got {spec!r})")
        for u in url_list:
            if not u.startswith(("http://", "https://")):
                raise InputError(f"openai spec URL must start with http:// or https:// (got {u!r})")
        return ModelSpec("openai", ",".join(url_list), model or None, options, raw)

    target, options = _split_options(rest)
    target = target.strip()
    if kind == "tiny":
        from .tiny import normalise_family

        return ModelSpec("tiny", normalise_family(target or "qwen3-vl"), None, options, raw)
    if not target:
        raise InputError(f"{kind}: spec needs a model path: {kind}:PATH (got {spec!r})")
    return ModelSpec(kind, target, None, options, raw)
