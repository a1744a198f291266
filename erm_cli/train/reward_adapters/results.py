"""What a framework reads back from erm's reward functions, and where the per-sample details go.

verl's managers disagree on the shape of a reward: ``naive``, ``batch``, ``dapo`` and the reward loop
read a dict's ``"score"`` (and log its other keys); ``prime`` does ``float(result[0])`` in a process
pool and turns any exception into a silent 0. :class:`VerlScore` is a dict that also answers ``[0]``
with its score, defined in an importable module so it pickles across prime's process pool. Where a
framework keeps only a number (prime, or :func:`compute_score_prime`), the extras go to the
``erm.rewards`` logger and, with ``reward_log=PATH`` (``ERM_REWARD_LOG``), to a JSON-lines file.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any

log = logging.getLogger("erm.rewards")


class VerlScore(dict):
    """``{"score": ..., extras}`` that also reads as a one-item sequence (``result[0]`` is the score)."""

    def __getitem__(self, key: Any) -> Any:
        if key == 0 and 0 not in self:
            return dict.__getitem__(self, "score")
        return dict.__getitem__(self, key)

    def __reduce__(self) -> Any:
        return (VerlScore, (dict(self),))


def score_fields(reward: float, verdict: Any, reason: str | None) -> dict[str, float]:
    """The extras every adapter reports next to the reward."""
    return {"render_ok": float(bool(verdict is not None and verdict.render_ok)),
            "visual_reward": float(verdict.reward) if verdict is not None else 0.0,
            "severity_total": float(verdict.severity_total) if verdict is not None else 0.0,
            "failed": float(reason is not None)}


_LOG_LOCK = threading.Lock()


def write_reward_log(path: str | None, records: list[dict[str, Any]]) -> None:
    """Append one JSON line per sample to ``path`` (no-op without a path); never raises."""
    if not path or not records:
        return
    try:
        lines = "".join(json.dumps({"time": round(time.time(), 3), "pid": os.getpid(), **r}, default=str) + "\n"
                        for r in records)
        with _LOG_LOCK, open(path, "a", encoding="utf-8") as fh:
            fh.write(lines)
    except OSError as exc:
        log.warning("cannot write the reward log %s: %s", path, exc)
