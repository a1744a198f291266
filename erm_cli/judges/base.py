"""The judge interface shared by the critic, VLM judges and baselines."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from PIL import Image

from .verdict import Verdict


@runtime_checkable
class Judge(Protocol):
    """``judge(reference, candidate, task) -> Verdict``; images are RGB PIL images (see erm_cli.imageio)."""

    name: str
    version: str

    def judge(self, reference: Image.Image, candidate: Image.Image, task: str) -> Verdict: ...
