"""Chat-request plumbing shared by the backends: walk message parts, images <-> ``data:`` URIs.

Requests are OpenAI-style messages whose ``content`` is a string or a list of parts. Image parts come
as ``{"type": "image", "image": PIL/bytes/path}``, vLLM's ``{"type": "image_pil", "image_pil": PIL}``
or OpenAI's ``{"type": "image_url", "image_url": {"url": "data:..."}}``.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable
from typing import Any

from ..errors import InputError
from .base import Request

Part = dict[str, Any]


def map_parts(request: Request, convert: Callable[[Part], Part]) -> list[dict[str, Any]]:
    """Rebuild ``request`` with every content part passed through ``convert``; string contents stay
    strings. ``convert`` raises :class:`InputError` for a part it cannot use."""
    out: list[dict[str, Any]] = []
    for msg in request:
        content = msg.get("content")
        role = msg.get("role", "user")
        if isinstance(content, list):
            out.append({"role": role, "content": [convert(part) for part in content]})
        else:
            out.append({"role": role, "content": "" if content is None else str(content)})
    return out


def part_image(part: Part) -> Any | None:
    """The image object of an ``image``/``image_pil`` part, the URL of an ``image_url`` part, else None."""
    kind = part.get("type")
    if kind == "image":
        return part.get("image")
    if kind == "image_pil":
        return part.get("image_pil")
    if kind == "image_url":
        url = part.get("image_url")
        return url.get("url") if isinstance(url, dict) else url
    return None


def text_part(part: Part) -> Part:
    return {"type": "text", "text": str(part.get("text", ""))}


def unsupported(part: Part) -> InputError:
    return InputError(f"unsupported message part type {part.get('type')!r}")


def decode_base64(data: str, what: str = "data") -> bytes:
    """Raw base64 or a ``data:...;base64,`` URI -> bytes (missing padding tolerated); InputError on junk."""
    text = data.strip()
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError(f"{what}: not valid base64 ({exc})") from None
    if not raw:
        raise InputError(f"{what}: empty after base64 decoding")
    return raw


def image_from_data_uri(url: str) -> Any:
    """A ``data:`` URI as an RGB PIL image; anything else (http, file) is refused."""
    from ..imageio import load_image

    if not isinstance(url, str) or not url.startswith("data:"):
        raise InputError("only data: image URIs are accepted (no remote or file URLs)")
    return load_image(decode_base64(url, "image_url"), what="image_url")


def image_to_data_uri(img: Any, image_format: str = "png") -> str:
    """A PIL image as a ``data:`` URI; bytes a judge encoded earlier (``img.info['erm_encoded']``) are reused."""
    encoded = img.info.get("erm_encoded") if hasattr(img, "info") else None
    if isinstance(encoded, tuple) and len(encoded) == 2:
        mime, data = encoded
    else:
        fmt = "JPEG" if image_format.lower() in ("jpg", "jpeg") else "PNG"
        buf = io.BytesIO()
        (img.convert("RGB") if fmt == "JPEG" else img).save(buf, format=fmt)
        mime, data = f"image/{fmt.lower()}", buf.getvalue()
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
