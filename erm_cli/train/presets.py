"""Named training presets shipped as TOML files in ``erm_cli/train/presets/``.

Each file has ``kind`` (``reward`` or ``policy``), a one-line ``description``, the ``source`` of its
numbers, and a ``[settings]`` table with the same keys as :mod:`erm_cli.train.config`.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError

PRESETS_DIR = Path(__file__).resolve().parent / "presets"


@dataclass(frozen=True)
class Preset:
    name: str
    kind: str
    description: str
    source: str
    path: Path
    settings: dict[str, Any] = field(default_factory=dict)


def _read(path: Path) -> Preset:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"preset {path.name}: unreadable ({exc})") from None
    kind = data.get("kind")
    if kind not in ("reward", "policy"):
        raise InputError(f"preset {path.name}: 'kind' must be reward or policy")
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise InputError(f"preset {path.name}: [settings] must be a table")
    return Preset(
        name=path.stem,
        kind=kind,
        description=str(data.get("description", "")),
        source=str(data.get("source", "")),
        path=path,
        settings=dict(settings),
    )


def list_presets(kind: str | None = None) -> list[Preset]:
    """All shipped presets (optionally of one kind), sorted by name."""
    presets = [_read(p) for p in sorted(PRESETS_DIR.glob("*.toml"))]
    return [p for p in presets if kind is None or p.kind == kind]


def load_preset(name: str) -> Preset:
    """The preset called ``name`` (file stem, e.g. ``paper-sft``)."""
    key = name.strip().lower().removesuffix(".toml")
    path = PRESETS_DIR / f"{key}.toml"
    if not path.is_file():
        names = [p.stem for p in sorted(PRESETS_DIR.glob("*.toml"))]
        close = difflib.get_close_matches(key, names, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise InputError(f"unknown preset {name!r}; {hint}available: {', '.join(names)}")
    return _read(path)
