"""``erm bench speed``: throughput and latency figures, composed from each area's own benchmark.

Sections (each can be skipped; a section whose module is missing reports why instead of failing):

* ``render``: render throughput per language - cold subprocess vs warm sandbox vs cache hit
  (:mod:`erm_cli.bench.render_speed`, owned by the renderer area);
* ``critic``: critic latency and its split per stage (:mod:`erm_cli.bench.critic_speed`);
* ``judge``: throughput of any judge (``critic`` or ``vlm`` with a model spec) on a fixed set of
  reference / candidate pairs;
* ``startup``: wall time of ``erm --help`` in a fresh interpreter (median of several runs);
* ``rewards`` (only when asked for): rewards per second through each RL adapter with the critic, at 1 and
  2 workers, for ``--items`` rollouts each (:mod:`erm_cli.bench.reward_speed`; 256 is the RL figure).

Every figure is measured, printed as a table and written as JSON with the provenance block.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .versions import provenance

SECTIONS = ("startup", "render", "critic", "judge", "rewards")
DEFAULT_SECTIONS = ("startup", "render", "critic", "judge")  # rewards is long: asked for by name


def _percentiles(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    if not s:
        return {}

    def q(p: float) -> float:
        k = min(len(s) - 1, max(0, int(round(p * (len(s) - 1)))))
        return s[k]

    return {
        "mean": round(statistics.fmean(s), 4),
        "p50": round(q(0.5), 4),
        "p90": round(q(0.9), 4),
        "min": round(s[0], 4),
        "max": round(s[-1], 4),
    }


#: The wall time ``erm --help`` should stay under (issue 15).
HELP_GOAL_SECONDS = 0.2


def startup_time(runs: int = 5) -> dict[str, Any]:
    """Wall time of ``erm --help`` in a fresh interpreter, and of importing the CLI root alone."""
    help_cmd = [sys.executable, "-c", "import sys; from erm_cli.app import main; main(['--help'])"]
    import_cmd = [sys.executable, "-X", "importtime", "-c", "import erm_cli.app"]
    times = []
    for _ in range(max(1, runs)):
        t0 = time.perf_counter()
        subprocess.run(help_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - t0)
    bare = []
    for _ in range(max(1, runs)):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "pass"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
        )
        bare.append(time.perf_counter() - t0)
    heavy = []
    proc = subprocess.run(import_cmd, capture_output=True, text=True, check=False)
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip().split(".")[0] in (
            "torch",
            "transformers",
            "trl",
            "vllm",
            "playwright",
            "matplotlib",
        ):
            heavy.append(parts[2].strip())
    return {
        "erm_help_seconds": _percentiles(times),
        "erm_help_goal_seconds": HELP_GOAL_SECONDS,  # issue 15's goal: printed beside the figure, not asserted
        "python_startup_seconds": _percentiles(bare),
        "heavy_imports_at_startup": sorted(set(h.split(".")[0] for h in heavy)),
        "runs": len(times),
    }


def _demo_pairs(n: int) -> list[tuple[Any, Any, str]]:
    """Reference / candidate pairs for judge timing: bench-mini's items when present, else drawn charts."""
    from ..config import examples_dir

    pairs: list[tuple[Any, Any, str]] = []
    mini = examples_dir() / "bench-mini"
    jsonl = next(iter(sorted(mini.glob("*.jsonl"))), None) if mini.is_dir() else None
    if jsonl is not None:
        import json

        from ..imageio import load_image

        for line in jsonl.read_text().splitlines():
            try:
                row = json.loads(line)
                ref = load_image(jsonl.parent / row["gt_img_path"])
                cand = load_image(jsonl.parent / row["pred_img_path"])
            except (KeyError, ValueError, OSError, Exception):  # noqa: BLE001 - timing input only
                continue
            pairs.append((ref, cand, str(row.get("category") or "chart")))
            if len(pairs) >= n:
                return pairs
    if pairs:
        return (pairs * (n // len(pairs) + 1))[:n]
    import io

    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from PIL import Image

    def chart(values: list[float], colour: str) -> Image.Image:
        fig, ax = plt.subplots(figsize=(4, 3), dpi=80)
        ax.bar(["a", "b", "c"], values, color=colour)
        ax.set_title("Demo")
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")

    ref = chart([3, 5, 2], "#1f77b4")
    cands = [chart([3, 5, 2], "#1f77b4"), chart([3, 4, 2], "#1f77b4"), chart([3, 5, 2], "#ff7f0e")]
    return [(ref, cands[i % len(cands)], "chart") for i in range(n)]


def judge_throughput(judge_name: str = "critic", model: str | None = None, n: int = 12) -> dict[str, Any]:
    """Items per second and latency percentiles of one judge over ``n`` pairs (after one warm-up call)."""
    from ..judges import get_judge

    opts = {"model": model} if model else {}
    judge = get_judge(judge_name, **opts)
    pairs = _demo_pairs(max(1, n))
    judge.judge(*pairs[0])  # warm-up: lazy imports, OCR engine, model load
    lat = []
    t0 = time.perf_counter()
    for ref, cand, task in pairs:
        t = time.perf_counter()
        judge.judge(ref, cand, task)
        lat.append(time.perf_counter() - t)
    total = time.perf_counter() - t0
    return {
        "judge": judge_name,
        "model": model,
        "items": len(pairs),
        "items_per_second": round(len(pairs) / total, 3),
        "latency_seconds": _percentiles(lat),
    }


def _section(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return fn()
    except ImportError as exc:
        return {"unavailable": f"{name} benchmark is not in this build ({exc})"}


def _call_runner(module_name: str, quick: bool) -> dict[str, Any]:
    """Call ``run`` (or the function named like the module) of a sibling speed module, passing ``quick``
    when it takes it."""
    import importlib
    import inspect

    module = importlib.import_module(f"{__package__}.{module_name}")
    runner = getattr(module, "run", None) or getattr(module, module_name, None)
    if runner is None:
        raise ImportError(f"erm_cli.bench.{module_name} has no run()")
    if "quick" in inspect.signature(runner).parameters:
        return runner(quick=quick)
    return runner()


def _render_section(quick: bool) -> dict[str, Any]:
    return _call_runner("render_speed", quick)


def _critic_section(quick: bool) -> dict[str, Any]:
    return _call_runner("critic_speed", quick)


def run_speed(
    sections: tuple[str, ...] = DEFAULT_SECTIONS,
    judge: str = "critic",
    model: str | None = None,
    quick: bool = False,
    items: int = 12,
    ray_address: str | None = None,
) -> dict[str, Any]:
    """Run the chosen sections; returns the JSON document ``erm bench speed`` writes. ``ray_address`` adds
    the ``ray`` section: critic pairs per second locally and through Ray (:mod:`erm_cli.bench.ray_speed`)."""
    out: dict[str, Any] = {"kind": "speed", "quick": quick}
    if ray_address:
        from .ray_speed import run as ray_speed

        t0 = time.perf_counter()
        out["ray"] = ray_speed(quick=quick, items=max(items, 24), address=ray_address)
        out["ray"]["section_seconds"] = round(time.perf_counter() - t0, 3)
    for name in sections:
        t0 = time.perf_counter()
        if name == "startup":
            out[name] = _section(name, lambda: startup_time(3 if quick else 5))
        elif name == "render":
            out[name] = _section(name, lambda: _render_section(quick))
        elif name == "critic":
            out[name] = _section(name, lambda: _critic_section(quick))
        elif name == "judge":
            out[name] = _section(
                name, lambda: judge_throughput(judge, model, max(3, items // 3 if quick else items))
            )
        elif name == "rewards":
            from .reward_speed import run as reward_speed

            out[name] = _section(name, lambda: reward_speed(rollouts=items))
        else:
            raise ValueError(f"unknown section {name!r}")
        if isinstance(out[name], dict):
            out[name].setdefault("section_seconds", round(time.perf_counter() - t0, 3))
    out["provenance"] = provenance()
    return out


def flatten(doc: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """(metric, value) rows for a table: nested keys joined with dots, lists shortened."""
    rows: list[tuple[str, str]] = []
    for k, v in doc.items():
        if k == "provenance":
            continue
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            rows.extend(flatten(v, key))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for i, x in enumerate(v):
                name = next((str(x[n]) for n in ("kind", "name", "language", "stage") if n in x), str(i))
                rows.extend(flatten({n: y for n, y in x.items() if str(y) != name}, f"{key}.{name}"))
        elif isinstance(v, list):
            rows.append((key, ", ".join(str(x) for x in v[:8]) + (" ..." if len(v) > 8 else "")))
        elif isinstance(v, float):
            rows.append((key, f"{v:.4g}"))
        else:
            rows.append((key, str(v)))
    return rows


def write_speed(doc: dict[str, Any], path: str | Path) -> Path:
    import json

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    from ..schemas import stamp

    p.write_text(json.dumps(stamp(doc), indent=2, default=str))
    return p
