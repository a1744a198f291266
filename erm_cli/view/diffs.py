"""Diff pictures for the viewer's pairs: one ``<stem>.png`` per judged pair (``--diff-image DIR`` on
``erm bench judge``, and on demand when ``erm view`` serves a run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ErmError


def pair_diff(pair: dict[str, Any], out: Path) -> Path | None:
    """Write the diff picture of one viewer pair to ``out``; ``None`` when the pair has no verdict, no
    reference or no candidate image (did not render, failed alone)."""
    from ..imageio import load_image
    from ..judges.diff_image import write_diff_image
    from ..judges.pipeline import candidate_image
    from ..judges.verdict import Verdict

    verdict = pair.get("verdict")
    if not verdict or not verdict.get("render_ok", True) or not pair.get("reference"):
        return None
    try:
        ref = load_image(pair["reference"], what="reference")
        if pair.get("candidate"):
            cand = load_image(pair["candidate"], what="candidate")
        elif pair.get("candidate_path"):
            cand = candidate_image(pair["candidate_path"], candidate_is_code=True)
        else:
            return None
    except (ErmError, OSError):
        return None
    if cand is None:
        return None
    return write_diff_image(out, ref, cand, Verdict.from_dict(verdict, task=pair.get("task")))


def write_pair_diffs(doc: dict[str, Any], folder: Path) -> dict[str, Any]:
    """One diff picture per pair of ``doc`` into ``folder`` (``<stem>.png``); the pairs' ``diff`` fields
    point at them. Returns ``{"written", "folder"}``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for pair in doc["pairs"]:
        path = pair_diff(pair, folder / f"{pair['stem']}.png")
        if path is not None:
            pair["diff"] = str(path)
            written += 1
    doc["diff_dir"] = str(folder)
    return {"written": written, "folder": str(folder)}
