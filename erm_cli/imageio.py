"""The one image loader: any PNG/JPEG/greyscale/palette/RGBA input becomes an RGB PIL image on white.

Every verb loads images through :func:`load_image` so that corrupt files, decompression bombs and
transparent backgrounds are handled the same way everywhere.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Union

from PIL import Image, UnidentifiedImageError

from .errors import InputError
from .inputs import MAX_IMAGE_BYTES, read_input_bytes

ImageSource = Union[str, Path, bytes, "Image.Image"]

#: Refuse images above this many pixels before decoding (a 64-megapixel cap: at most ~1.4 GB peak for the
#: judge of an RGBA image this size). PIL's own bomb check (179 MP by default) is lowered to the same cap
#: for every ``Image.open`` in the erm process once this module is imported (warning above it, error
#: above twice it), so a decoder that bypasses :func:`load_image` is still bounded.
MAX_PIXELS = 64_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
#: Refuse images smaller than this on either side: nothing meaningful can be judged.
MIN_SIDE = 4


def _header_only(data: bytes) -> Image.Image:
    """``Image.open`` reads the header and decodes nothing; its bomb warning is left to :func:`load_image`,
    which refuses the same sizes with its own one-line error (the error above twice the cap stays)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data))


def _open(src: ImageSource, what: str) -> Image.Image:
    if isinstance(src, Image.Image):
        return src
    try:
        if isinstance(src, (bytes, bytearray)):
            if not src:
                raise InputError(f"{what}: empty image data")
            return _header_only(bytes(src))
        data = read_input_bytes(Path(src), what, MAX_IMAGE_BYTES)  # regular files only, size-capped
        if not data:
            raise InputError(f"{what}: empty file: {src}")
        return _header_only(data)
    except InputError:
        raise
    except Image.DecompressionBombError as exc:  # PIL refuses at open (header) time above 2x its cap
        raise InputError(f"{what}: refused as a decompression bomb ({exc})") from None
    except UnidentifiedImageError:  # PIL's text names the in-memory buffer's address, which tells nothing
        raise InputError(f"{what}: not a readable image (no image format recognised)") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{what}: not a readable image ({exc.__class__.__name__}: {exc})") from None


def load_image(src: ImageSource, what: str = "image", max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Load ``src`` as an RGB image composited on white.

    Raises :class:`InputError` (exit code 2) for missing, empty, corrupt, oversized or tiny images.
    """
    img = _open(src, what)
    w, h = img.size
    if w * h > max_pixels:
        raise InputError(f"{what}: {w}x{h} pixels exceeds the {max_pixels:,}-pixel limit (decompression bomb?)")
    if min(w, h) < MIN_SIDE:
        raise InputError(f"{what}: {w}x{h} is too small to judge (minimum side {MIN_SIDE} px)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img.load()
    except Image.DecompressionBombWarning as exc:
        raise InputError(f"{what}: refused as a decompression bomb ({exc})") from None
    except Image.DecompressionBombError as exc:
        raise InputError(f"{what}: refused as a decompression bomb ({exc})") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"{what}: corrupt or truncated image ({exc})") from None
    return to_rgb(img)


def to_rgb(img: Image.Image) -> Image.Image:
    """Flatten any mode to RGB; transparency is composited on a white background."""
    if img.mode == "RGB":
        return img
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("LA", "PA"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, img).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        import numpy as np

        arr = np.asarray(img, dtype="float64")
        hi = arr.max() or 1.0
        img = Image.fromarray((arr / hi * 255).astype("uint8"), "L")
    return img.convert("RGB")


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
