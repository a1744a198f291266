"""The embedded visual-equivalence critic (no GPU, no downloaded weights).

    from erm_cli.judges.critic import Critic, guess_task
    verdict = Critic().judge(reference_rgb, candidate_rgb, "chart")

Reusable parts: :mod:`.ocr` (``ocr_words``, ``ocr_lines``), :mod:`.colour` (``palette``,
``delta_e2000``, ``match_colours``, ``colour_f1``), :mod:`.align` (``align``), :mod:`.chart`
(``analyse_chart``: axes, ticks, legend, bars / lines), :mod:`.table` (``analyse_table``: cell grid).
"""

from __future__ import annotations

from .core import CRITIC_VERSION, Critic, guess_task

__all__ = ["CRITIC_VERSION", "Critic", "guess_task"]
