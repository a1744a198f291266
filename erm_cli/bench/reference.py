"""Published VC-RewardBench numbers (Visual-ERM paper v2, Tab. 5 and Tab. 10), as reference rows.

All rows were scored by the benchmark's own LLM matcher (GPT-5-mini unless named otherwise);
numbers are F1_hard / F1_soft / Sc in percent per task and for AVG (Sc pooled over all items).
Gemini-3-Flash's SVG F1_soft of 67.5 is printed as in the paper although it looks like a typo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SOURCE = "Visual-ERM (arXiv 2603.13224 v2) Tab. 5, matcher GPT-5-mini"

#: model -> task -> (F1_hard, F1_soft, Sc)
LEADERBOARD: dict[str, dict[str, tuple[float, float, float]]] = {
    "GPT-4o": {
        "chart": (22.8, 28.3, 48.5),
        "table": (32.9, 35.7, 49.5),
        "svg": (13.0, 19.3, 50.3),
        "overall": (25.0, 29.5, 56.5),
    },
    "GPT-5.2": {
        "chart": (30.1, 32.6, 64.8),
        "table": (39.3, 40.6, 54.6),
        "svg": (28.5, 32.2, 61.1),
        "overall": (32.7, 35.0, 58.9),
    },
    "Gemini-2.5-Pro": {
        "chart": (33.7, 37.5, 61.8),
        "table": (46.4, 48.0, 49.9),
        "svg": (29.3, 34.3, 63.3),
        "overall": (37.8, 40.9, 59.1),
    },
    "Gemini-3-Flash": {
        "chart": (38.5, 41.3, 62.8),
        "table": (48.1, 50.1, 45.6),
        "svg": (33.3, 67.5, 64.3),
        "overall": (40.6, 43.4, 53.4),
    },
    "Qwen2.5-VL-7B": {
        "chart": (3.9, 5.4, 11.2),
        "table": (2.3, 3.1, 12.6),
        "svg": (1.9, 7.5, 37.9),
        "overall": (2.8, 5.1, 15.2),
    },
    "InternVL3.5-8B": {
        "chart": (2.5, 5.7, 11.0),
        "table": (9.9, 10.9, 31.7),
        "svg": (6.1, 13.1, 48.9),
        "overall": (6.7, 9.6, 32.5),
    },
    "Qwen3-VL-8B-Instruct": {
        "chart": (3.3, 3.5, 3.8),
        "table": (7.0, 7.8, 21.4),
        "svg": (6.1, 9.4, 27.1),
        "overall": (5.3, 6.5, 17.5),
    },
    "Qwen3-VL-235B-Instruct": {
        "chart": (28.0, 31.8, 47.2),
        "table": (35.7, 37.4, 56.2),
        "svg": (19.4, 22.8, 51.5),
        "overall": (29.5, 32.4, 56.2),
    },
    "Visual-ERM (8B)": {
        "chart": (39.9, 42.8, 61.2),
        "table": (56.4, 57.6, 74.8),
        "svg": (28.3, 32.6, 59.6),
        "overall": (42.1, 44.7, 58.4),
    },
}

#: Tab. 10: Visual-ERM scored by different matcher LLMs (AVG F1_hard, F1_soft; Sc 58.4 for all).
MATCHER_ROBUSTNESS: dict[str, tuple[float, float]] = {
    "GPT-5-mini": (42.1, 44.7),
    "GPT-5.2": (40.8, 45.1),
    "Gemini2.5-Pro": (41.2, 42.4),
    "Gemini3-Flash": (43.0, 44.9),
}

#: Instance counts of the released benchmark (used to recognise it).
VCBENCH_COUNTS = {"chart": 595, "svg": 442, "table": 298}


def reference_rows() -> list[dict[str, Any]]:
    """Leaderboard rows in the same shape as erm's own rows (``source`` says where they come from)."""
    rows = []
    for model, tasks in LEADERBOARD.items():
        row: dict[str, Any] = {
            "judge": model,
            "matcher": "llm:gpt-5-mini (published)",
            "source": SOURCE,
            "reference": True,
        }
        for task, (h, s, sc) in tasks.items():
            row[task] = {"f1_hard": h, "f1_soft": s, "sc": sc}
        rows.append(row)
    return rows


def is_vc_rewardbench(data_path: str | Path, task_counts: dict[str, int]) -> bool:
    """True for the released VC-RewardBench file: its name, or exactly its per-task instance counts."""
    name = Path(data_path).name.lower().replace("_", "-")
    return "vc-rewardbench" in name or dict(task_counts) == VCBENCH_COUNTS
