"""Versions of erm's metric definitions and of the libraries that produce the numbers.

Bump a definition's version whenever a change could move a number; every result file embeds
:func:`provenance` so a result can always be traced to the code and libraries that made it.
"""

from __future__ import annotations

import platform
import sys
import time
from importlib import metadata
from typing import Any

#: Version of erm's benchmark suite as a whole (bumped with any definition below).
METRICS_VERSION = "erm-bench-1"

#: One line per metric family: its version and what it follows.
METRIC_DEFINITIONS: dict[str, str] = {
    "vc_rewardbench": "1: Visual-ERM evaluation.py semantics - errors filtered to the task's allowed types; "
    "1-to-1 matches 'yes'/'partial'; F1_hard counts 'yes' as TP (partial pairs leave TP, FP "
    "and FN), F1_soft counts partial as 0.5 TP; FP = unmatched predictions, FN = unmatched "
    "gold; micro sums per task and overall; per-type TP keyed by the predicted type; F1 undefined "
    "(null) when neither side has an error; "
    "Sc = Pearson x100 of per-item severity totals, pooled over all items for AVG",
    "offline_matcher": "1: same category; Hungarian assignment on location/description token-Dice similarity; "
    "yes >= 0.5, partial >= 0.2",
    "llm_matcher": "1: erm's own matching prompt (same-type, 1-to-1, yes/partial, prefer unmatched); "
    "post-processing as evaluation.py (range checks, 1-to-1, levels)",
    "reward_separation": "1: AUROC of the reward for no-error vs error items (Mann-Whitney, ties 0.5); "
    "pairwise accuracy = P(reward(chosen) > reward(rejected)), ties 0.5",
    "teds": "1: PubTabNet TEDS = 1 - TED / max(nodes); exact ordered tree edit distance (Zhang-Shasha, same "
    "optimum as APTED), rename cost 1 on tag/colspan/rowspan change else normalised Levenshtein of "
    "cell tokens; OmniDocBench HTML normalisation; Markdown and LaTeX converted to HTML first",
    "chartmimic_low_level": "1: ChartMimic text/layout/type/colour F1 from traced matplotlib calls run in "
    "erm's sandbox; text = exact multiset of drawn strings with tick labels removed; "
    "colour = optimal assignment (Hungarian) per plotting function of "
    "max(0, 1 - dE2000/100)",
    "svg": "1: MSE and SSIM (scikit-image, win 11, gaussian sigma 1.5, data range 1) on RGB renders at the "
    "reference size on white; code length in characters and its ratio to the reference",
}

_LIBRARIES = (
    "erm-cli",
    "numpy",
    "scipy",
    "scikit-image",
    "matplotlib",
    "pillow",
    "cairosvg",
    "plotly",
    "playwright",
    "markdown-it-py",
    "pylatexenc",
    "tesserocr",
    "torch",
    "transformers",
)


def library_versions(names: tuple[str, ...] = _LIBRARIES) -> dict[str, str]:
    """Installed versions of the libraries that can move a number ("absent" when not installed)."""
    out: dict[str, str] = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def provenance(**extra: Any) -> dict[str, Any]:
    """The block every bench result file carries: metric versions, libraries, platform, time."""
    block: dict[str, Any] = {
        "metrics_version": METRICS_VERSION,
        "definitions": dict(METRIC_DEFINITIONS),
        "libraries": library_versions(),
        "platform": f"{platform.system()} {platform.machine()}",
        "argv": list(sys.argv),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    block.update(extra)
    return block
