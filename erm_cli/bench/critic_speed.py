"""Critic latency on one core, with its split per stage (alignment, OCR, colour, regions).

    python -m erm_cli.bench.critic_speed            # prints a table, --json for the document
    erm bench speed                                  # includes this section

The pairs are built here from real renderers (matplotlib charts at 800x600, an HTML-like table drawn by
matplotlib's table artist, cairosvg icons): for each reference, an equivalent re-render at another dpi and
candidates with a data, a colour and a text change. The process is pinned to one CPU while timing (where
the OS allows) and Tesseract is limited to one thread, so the figure is "per pair on one core". Beside the
wall time, the CPU time of each pair (``time.process_time``) is reported: on a loaded machine the wall time
includes waiting for the core, the CPU time does not. The load average before and after is recorded.
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PIL import Image

STAGES = ("alignment", "ocr", "colour", "regions", "verifier")

#: Issue 12's target: median seconds per 800x600 chart pair on one core.
TARGET_S = 0.35


@contextmanager
def one_core() -> Iterator[bool]:
    """Pin this process to a single CPU while the block runs; yields whether pinning worked."""
    getaff = getattr(os, "sched_getaffinity", None)
    setaff = getattr(os, "sched_setaffinity", None)
    if getaff is None or setaff is None:
        yield False
        return
    before = getaff(0)
    try:
        setaff(0, {min(before)})
        yield True
    finally:
        setaff(0, before)


def _load() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _chart(values: list[float], colour: str = "#1f77b4", title: str = "Quarterly revenue by region (2024)",
           dpi: int = 100) -> Image.Image:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 6))
    cats = ["Q1", "Q2", "Q3", "Q4", "Q5"]
    ax.bar(cats, values, color=colour, label="Sales")
    ax.plot(cats, [v * 0.7 for v in values], color="#ff7f0e", marker="o", label="Costs")
    ax.set_title(title)
    ax.set_xlabel("Quarter")
    ax.set_ylabel("Revenue (M$)")
    ax.legend()
    ax.grid(axis="y", alpha=0.4)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _table(cells: list[list[str]], dpi: int = 100) -> Image.Image:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 6))
    ax.axis("off")
    t = ax.table(cellText=cells[1:], colLabels=cells[0], loc="center", cellLoc="center")
    t.scale(1, 2)
    t.set_fontsize(12)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _svg(fill: str = "#e63946", cx: int = 80, size: int = 336) -> Image.Image:
    import cairosvg

    code = (f'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200" viewBox="0 0 200 200">'
            f'<rect x="20" y="120" width="160" height="50" fill="#457b9d"/>'
            f'<circle cx="{cx}" cy="70" r="35" fill="{fill}" stroke="#222" stroke-width="3"/>'
            f'<polygon points="150,30 185,100 115,100" fill="#f4a261"/></svg>')
    png = cairosvg.svg2png(bytestring=code.encode(), output_width=size, output_height=size, background_color="white")
    return Image.open(io.BytesIO(png)).convert("RGB")


def build_pairs(quick: bool = False) -> list[tuple[str, str, Image.Image, Image.Image]]:
    """(task, label, reference, candidate) pairs; charts and tables are 800x600."""
    vals = [23.0, 35.0, 30.0, 42.0, 38.0]
    ref = _chart(vals)
    pairs = [("chart", "same, dpi 150", ref, _chart(vals, dpi=150)),
             ("chart", "bar value", ref, _chart([23.0, 35.0, 38.0, 42.0, 38.0])),
             ("chart", "colour", ref, _chart(vals, colour="#2ca02c")),
             ("chart", "title", ref, _chart(vals, title="Quarterly revenue by region (2023)"))]
    cells = [["Country", "Units", "Share (%)"], ["France", "1204", "12.5"], ["Japan", "980", "9.8"],
             ["Brazil", "755", "7.6"], ["Kenya", "320", "3.1"]]
    tref = _table(cells)
    changed = [row[:] for row in cells]
    changed[2][1] = "890"
    pairs += [("table", "same", tref, _table(cells)), ("table", "number", tref, _table(changed))]
    sref = _svg()
    pairs += [("svg", "same, 512 px", sref, _svg(size=512)), ("svg", "moved+colour", sref,
                                                             _svg(fill="#2a9d8f", cx=100))]
    if quick:
        pairs = [p for i, p in enumerate(pairs) if i in (0, 1, 4, 6)]
    return pairs


def run(quick: bool = False, repeats: int | None = None) -> dict[str, Any]:
    """Median / p90 latency of ``Critic().judge`` per pair and the per-stage split; chart pairs are 800x600."""
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # Tesseract: one thread
    from ..judges.critic import Critic
    from ..judges.critic.core import clear_ocr_cache
    from ..judges.critic.ocr import engine_info

    load_before = _load()
    reps = repeats if repeats is not None else (2 if quick else 5)
    pairs = build_pairs(quick)
    critic = Critic()
    critic.judge(pairs[0][2], pairs[0][3], pairs[0][0])  # warm-up: OCR engine, caches
    rows: list[dict[str, Any]] = []
    with one_core() as pinned:
        for task, label, ref, cand in pairs:
            totals: list[float] = []
            cpus: list[float] = []
            split: dict[str, list[float]] = {s: [] for s in STAGES}
            errors = 0
            for _ in range(reps):
                clear_ocr_cache()  # cold: both images OCR'd every time (a loop over one reference is faster)
                c0, t0 = time.process_time(), time.perf_counter()
                v = critic.judge(ref, cand, task)
                totals.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
                for s in STAGES:
                    split[s].append(float(v.timings.get(s, 0.0)))
                errors = len(v.errors)
            rows.append({"task": task, "pair": label, "size": f"{ref.width}x{ref.height}", "errors": errors,
                         "median_s": round(statistics.median(totals), 4),
                         "median_cpu_s": round(statistics.median(cpus), 4),
                         **{f"{s}_s": round(statistics.median(split[s]), 4) for s in STAGES}})
    chart_rows = [r for r in rows if r["task"] == "chart"]
    all_medians = [r["median_s"] for r in rows]
    chart_medians = [r["median_s"] for r in chart_rows]
    chart_cpu = [r["median_cpu_s"] for r in chart_rows]
    summary = {
        "pinned_to_one_core": pinned,
        "repeats": reps,
        "ocr": engine_info(),
        "median_s_800x600_chart": round(statistics.median(chart_medians), 4) if chart_medians else None,
        "median_cpu_s_800x600_chart": round(statistics.median(chart_cpu), 4) if chart_cpu else None,
        "median_s_all": round(statistics.median(all_medians), 4),
        "median_cpu_s_all": round(statistics.median([r["median_cpu_s"] for r in rows]), 4),
        "split_median_s_800x600_chart": {s: round(statistics.median([r[f"{s}_s"] for r in chart_rows]), 4)
                                         for s in STAGES} if chart_rows else {},
        "target_s": TARGET_S,
        "load_average": {"before": load_before, "after": _load()},
    }
    return {"summary": summary, "pairs": rows}


def _print(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120, highlight=False)
    t = Table(title="critic latency per pair, seconds (median, one core)")
    for col in ("task", "pair", "size", "err", "total", "cpu", "align", "ocr", "colour", "regions", "verifier"):
        t.add_column(col, justify="right" if col not in ("task", "pair") else "left", no_wrap=True)
    for r in doc["pairs"]:
        t.add_row(r["task"], r["pair"], r["size"], str(r["errors"]), f"{r['median_s']:.3f}", f"{r['median_cpu_s']:.3f}",
                  *(f"{r[f'{s}_s']:.3f}" for s in STAGES))
    console.print(t)
    s = doc["summary"]
    split = ", ".join(f"{k} {v:.3f}" for k, v in s["split_median_s_800x600_chart"].items())
    load = s.get("load_average") or {}
    console.print(f"800x600 chart pairs: median {s['median_s_800x600_chart']:.3f} s wall, "
                  f"{s['median_cpu_s_800x600_chart']:.3f} s CPU per pair (target <= {s['target_s']:.2f} s); "
                  f"split {split}; pinned to one core: {s['pinned_to_one_core']}; load average {load.get('before')} "
                  f"-> {load.get('after')}; OCR {s['ocr'].get('engine')} {s['ocr'].get('version', '')}")


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(prog="python -m erm_cli.bench.critic_speed", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer pairs and repeats")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--json", action="store_true", help="print the JSON document")
    a = p.parse_args(argv)
    doc = run(quick=a.quick, repeats=a.repeats)
    if a.json:
        from ..console import print_json

        print_json(doc)
    else:
        _print(doc)


if __name__ == "__main__":
    main(sys.argv[1:])
