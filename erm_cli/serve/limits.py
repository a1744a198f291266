"""Resource limits of ``erm serve`` that sit below the routes: decoded pixels, Host/Origin, slow clients.

* :class:`PixelBudget`: decoded pixels across all requests in flight. A request reserves what its images
  will decode to (read from the image headers, before any decoding) and waits for room, so concurrent
  pixel bombs queue instead of multiplying the server's memory.
* :func:`header_pixels`: width x height from an image's header (PIL opens lazily: nothing is decoded).
* :class:`LoopbackOnlyMiddleware`: without a token, only ``Host``/``Origin`` naming a loopback address are
  served (a DNS-rebinding page in a browser cannot reach the server through its own host name).
* :func:`server_protocol`: uvicorn's h11 protocol with a deadline for a request's headers and one for its
  body; a client that trickles bytes (slowloris) gets ``408`` and the connection is closed.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ..errors import InputError

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]", "localhost.", "ip6-localhost"})


class ServerBusy(Exception):
    """Every worker and queue slot is taken (HTTP 503 with Retry-After)."""


class PixelLimit(InputError):
    """An image larger than the server's per-image pixel cap (HTTP 413)."""


class PixelBudgetBusy(Exception):
    """No room in the pixel budget within the wait (HTTP 503)."""


def header_pixels(data: bytes, what: str, max_pixels: int) -> int:
    """Pixels of the image in ``data`` from its header only; :class:`PixelLimit` above ``max_pixels``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:  # lazy: reads the header, decodes nothing
            w, h = img.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"{what}: not a readable image ({exc.__class__.__name__})") from None
    except Image.DecompressionBombError:
        raise PixelLimit(f"{what}: refused as a decompression bomb") from None
    if w * h > max_pixels:
        raise PixelLimit(f"{what}: {w}x{h} = {w * h:,} pixels exceeds this server's {max_pixels:,}-pixel "
                         f"limit per image")
    return w * h


def message_pixels(messages: list[dict[str, Any]], max_pixels: int) -> int:
    """Decoded pixels of every ``data:`` image part of chat ``messages``, from the headers; an image above
    ``max_pixels`` is :class:`PixelLimit`. Other parts are left to the message normaliser to refuse."""
    from ..models.messages import decode_base64, part_image

    total = 0
    for msg in messages:
        content = msg.get("content")
        for part in content if isinstance(content, list) else []:
            url = part_image(part) if isinstance(part, dict) else None
            if isinstance(url, str) and url.startswith("data:"):
                total += header_pixels(decode_base64(url, "image_url"), "image_url", max_pixels)
    return total


class PixelBudget:
    """A counting semaphore over decoded pixels shared by every request in flight."""

    def __init__(self, total: int) -> None:
        self.total = int(total)
        self.in_use = 0
        self.peak = 0  # the most ever reserved at once (reported by /health)
        self._cond = threading.Condition()

    def acquire(self, pixels: int, timeout: float) -> None:
        pixels = min(int(pixels), self.total)  # a request never needs more than the whole budget
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.in_use + pixels > self.total:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PixelBudgetBusy(f"the server's pixel budget ({self.total:,}) is in use; retry shortly")
                self._cond.wait(left)
            self.in_use += pixels
            self.peak = max(self.peak, self.in_use)

    def release(self, pixels: int) -> None:
        pixels = min(int(pixels), self.total)
        with self._cond:
            self.in_use = max(0, self.in_use - pixels)
            self._cond.notify_all()


def _host_name(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8000
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def is_loopback_host(value: str) -> bool:
    return _host_name(value) in LOOPBACK_HOSTS


class LoopbackOnlyMiddleware:
    """Refuse (HTTP 403) a request whose ``Host`` or ``Origin`` is not a loopback name (used without a token)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get(b"host", "")
        origin = headers.get(b"origin")
        bad = None
        if not is_loopback_host(host):
            bad = f"Host {host!r} is not a loopback name"
        elif origin is not None and origin != "null" and not is_loopback_host(urlsplit(origin).netloc or origin):
            bad = f"Origin {origin!r} is not a loopback origin"
        if bad is None:
            await self.app(scope, receive, send)
            return
        body = (f'{{"detail": "{bad}; without --token this server only answers loopback clients"}}').encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def server_protocol(header_timeout: float, body_timeout: float) -> type:
    """uvicorn's h11 protocol class with a header deadline (from the connection or the previous response)
    and a body deadline (from the end of the headers); either expired: ``408`` and the connection closes."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    waiting_headers = (h11.IDLE,)

    class DeadlineH11Protocol(H11Protocol):
        _erm_timer: asyncio.TimerHandle | None = None
        _erm_phase: str = ""

        def _erm_arm(self, phase: str, seconds: float) -> None:
            self._erm_cancel()
            self._erm_phase = phase
            self._erm_timer = self.loop.call_later(seconds, self._erm_expired)

        def _erm_cancel(self) -> None:
            if self._erm_timer is not None:
                self._erm_timer.cancel()
                self._erm_timer = None
            self._erm_phase = ""

        def _erm_update(self) -> None:
            state = self.conn.their_state
            if state in waiting_headers and self.conn.our_state in (h11.IDLE, h11.DONE):
                if self._erm_phase != "headers":
                    self._erm_arm("headers", header_timeout)
            elif state is h11.SEND_BODY:
                if self._erm_phase != "body":
                    self._erm_arm("body", body_timeout)
            else:
                self._erm_cancel()

        def _erm_expired(self) -> None:
            self._erm_timer = None
            if self.transport.is_closing():
                return
            if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE) and (self.cycle is None or
                                                                         not self.cycle.response_started):
                what = "headers" if self._erm_phase == "headers" else "body"
                body = f'{{"detail": "request {what} not received within the time limit"}}'.encode()
                self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                                     b"connection: close\r\ncontent-length: " + str(len(body)).encode() +
                                     b"\r\n\r\n" + body)
            if self.cycle is not None:
                self.cycle.disconnected = True
                self.cycle.message_event.set()
            self.transport.close()

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._erm_arm("headers", header_timeout)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._erm_update()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._erm_update()

        def connection_lost(self, exc: Exception | None) -> None:
            self._erm_cancel()
            super().connection_lost(exc)

    return DeadlineH11Protocol
