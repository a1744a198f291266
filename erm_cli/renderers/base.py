"""Render request/response types and language detection shared by every renderer."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

#: Code languages erm renders, and the vision-to-code task each belongs to.
KINDS: tuple[str, ...] = ("matplotlib", "plotly", "svg", "html", "markdown", "latex")
TASK_OF_KIND: dict[str, str] = {"matplotlib": "chart", "plotly": "chart", "svg": "svg",
                                "html": "table", "markdown": "table", "latex": "table"}
EXTENSION_OF_KIND: dict[str, str] = {"matplotlib": ".py", "plotly": ".py", "svg": ".svg", "html": ".html",
                                     "markdown": ".md", "latex": ".tex"}
#: Bumped when a render profile's pixels change (in the cache key of that profile's renders only).
#: visual-erm 2: tables on the released reward's own page, viewport and crop (table_renderer.RELEASED_CSS).
PROFILE_VERSIONS: dict[str, str] = {"visual-erm": "2"}


@dataclass(frozen=True)
class RenderOptions:
    """Options that change the pixels (all part of the cache key).

    ``width``/``height``: output size for SVG (default: the SVG's own size) and the viewport for plotly
    (default 800x600); matplotlib uses the code's own figure size (default 8x6 in) at ``dpi``.
    ``strict``: accepted for compatibility and ignored: untrusted code always runs in the bubblewrap jail
    (docs/SANDBOX.md); it stays in the cache key so that older caches keep their keys.
    ``profile``: ``"erm"`` (the above) or ``"visual-erm"``: render like the released Visual-ERM reward
    code (renderers/profiles.py: matplotlib's own defaults, SVG at 336x336, its table page).
    """

    width: int | None = None
    height: int | None = None
    dpi: int = 100
    timeout: float = 30.0
    mem_mb: int = 1536
    strict: bool = False
    profile: str = "erm"

    def key(self) -> dict[str, Any]:
        # timeout/mem do not change pixels of a successful render, but they can change failure: keep them.
        key = {"width": self.width, "height": self.height, "dpi": self.dpi, "timeout": self.timeout,
               "mem_mb": self.mem_mb, "strict": self.strict}
        if self.profile != "erm":  # keys of the default profile stay those of earlier caches
            key["profile"] = self.profile
            key["profile_version"] = PROFILE_VERSIONS.get(self.profile, "1")
        return key


@dataclass
class RenderResult:
    """What a render produced. ``ok`` False means the code failed; ``error`` says why in one line."""

    ok: bool
    kind: str
    png: bytes | None = None
    error: str | None = None
    seconds: float = 0.0
    cache_hit: bool = False
    versions: dict[str, str] = field(default_factory=dict)
    key: str = ""
    profile: str = "erm"

    def image(self) -> Image.Image:
        if not self.ok or self.png is None:
            raise ValueError(f"no image: {self.error}")
        from ..imageio import load_image

        return load_image(io.BytesIO(self.png).getvalue(), what="render")

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "kind": self.kind, "error": self.error, "seconds": round(self.seconds, 4),
                "cache_hit": self.cache_hit, "versions": self.versions, "key": self.key, "profile": self.profile}
