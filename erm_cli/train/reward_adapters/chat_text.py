"""Chat-template tokens around a policy's answer.

Frameworks decode rollouts differently: verl's managers and TRL skip special tokens, OpenRLHF decodes
``prompt + response`` with ``skip_special_tokens=False`` (``openrlhf/utils/agent.py``), so its answers end
in the template's end-of-turn token and, in a padded batch, padding (``...```<|im_end|><|endoftext|>``).
A closing fence followed by such a token is not a closing fence for a code extractor, so every answer
must lose them before extraction: :func:`strip_chat_tokens` does that for the templates below.
"""

from __future__ import annotations

import re

#: End-of-turn / end-of-text tokens of the chat templates erm knows. The model stopped at the first one:
#: everything after it is padding or another turn.
END_OF_TURN_TOKENS: tuple[str, ...] = (
    "<|im_end|>",                 # Qwen, Qwen-VL, InternVL, ChatML
    "<|endoftext|>",              # Qwen, GPT-2 family (also Qwen's pad token)
    "<|eot_id|>",                 # Llama 3
    "<|end_of_text|>",            # Llama 3
    "<|eom_id|>",                 # Llama 3.1 tool turns
    "<end_of_turn>",              # Gemma
    "<eos>",                      # Gemma
    "<|end|>",                    # Phi-3, gpt-oss
    "<|return|>",                 # gpt-oss
    "<|endofturn|>",
    "<|end▁of▁sentence|>",        # DeepSeek (ASCII bars)
    "<｜end▁of▁sentence｜>",       # DeepSeek (full-width bars)
    "<|eos|>",
    "[/ASSISTANT]",
)
#: Tokens that are also ordinary markup (``</s>`` closes an HTML strike-through): removed only at the end.
TRAILING_TOKENS: tuple[str, ...] = ("</s>", "<pad>", "<|pad|>", "[PAD]", "<|finetune_right_pad_id|>", "<unk>",
                                    "<|padding|>", "<end_of_utterance>")

_END = re.compile("|".join(re.escape(t) for t in END_OF_TURN_TOKENS))
_TRAILING = re.compile("(?:" + "|".join(re.escape(t) for t in TRAILING_TOKENS + END_OF_TURN_TOKENS) + r"|\s)+\Z")


def strip_chat_tokens(text: str) -> str:
    """``text`` up to its first end-of-turn token, without trailing padding tokens.

    ``'```svg\\n<svg/>\\n```<|im_end|><|endoftext|>'`` -> ``'```svg\\n<svg/>\\n```'``.
    """
    if not text:
        return ""
    m = _END.search(text)
    if m is not None:
        text = text[:m.start()]
    return _TRAILING.sub("", text)


#: Image (and video) placeholder tokens that processors repeat once per visual token.
IMAGE_PAD_TOKENS: tuple[str, ...] = ("<|image_pad|>", "<|video_pad|>", "<image_soft_token>", "<IMG_CONTEXT>",
                                     "<|placeholder|>", "<image>", "<|image|>", "<fake_token_around_image>")
_PAD_RUN = re.compile("(" + "|".join(re.escape(t) for t in IMAGE_PAD_TOKENS) + r")(?:\1)+")
#: Where an assistant turn starts in the templates above (the prompt ends with one of these).
_ASSISTANT_HEADERS: tuple[str, ...] = ("<|im_start|>assistant", "<start_of_turn>model",
                                       "<|start_header_id|>assistant<|end_header_id|>", "<|assistant|>",
                                       "<|start|>assistant", "<｜Assistant｜>", "[/INST]")


def collapse_image_pads(text: str) -> str:
    """Runs of one image placeholder token folded to one (a processor expands one into hundreds)."""
    return _PAD_RUN.sub(r"\1", text)


def response_from_query(query: str, prompt: str) -> str:
    """The response part of ``query`` (= prompt + response, as OpenRLHF passes it).

    The prompt string holds one image placeholder per image, the decoded query as many as the
    processor made: both are compared with placeholder runs collapsed. When the prompt still is not a
    prefix (a template that re-renders the prompt differently), the text after the query's last
    assistant header that the prompt also ends with is the response. Failing both, the whole query.
    """
    query, prompt = str(query or ""), str(prompt or "")
    if not prompt:
        return query
    if query.startswith(prompt):
        return query[len(prompt):]
    q, p = collapse_image_pads(query), collapse_image_pads(prompt)
    if q.startswith(p):
        return q[len(p):]
    tail = p.rstrip()
    for header in _ASSISTANT_HEADERS:
        at = tail.rfind(header)
        if at >= 0:
            suffix = p[at:]
            cut = q.rfind(suffix)
            if cut >= 0:
                return q[cut + len(suffix):]
    return query
