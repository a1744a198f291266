"""Throughput of `erm synth` on this machine: labelled pairs per minute, per task and for --task all.

Each run starts from an empty render cache (a fresh ERM_CACHE_DIR), so the figure includes every
render of the references and candidates; a second run of the same settings (all renders cached)
shows the cost of everything else (generation, perturbation, pixel checks, writing).

    .venv/bin/python benchmarks/synth_speed.py                 # 60 pairs per task + 60 for 'all'
    .venv/bin/python benchmarks/synth_speed.py --n 30 --tasks svg,table --json speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60, help="pairs per run (default 60)")
    ap.add_argument("--tasks", default="chart,table,svg,all", help="comma-separated tasks to time")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-errors", type=int, default=3)
    ap.add_argument("--dpi", type=int, default=100)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="erm-synth-speed-"))
    os.environ["ERM_CACHE_DIR"] = str(tmp / "cache")  # never the user's cache
    sys.path.insert(0, str(REPO))
    from erm_cli.data.synth import SynthConfig, run_synth

    rows = []
    print(f"erm synth throughput, {os.cpu_count()} CPU(s), n={args.n} pairs per run, cold render cache")
    print(
        f"{'task':<6} {'pairs':>5} {'renders':>7} {'cold s':>7} {'pairs/min':>9} {'warm s':>7} "
        f"{'warm pairs/min':>14} {'no-op steps':>11}"
    )
    for task in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        out = tmp / f"out-{task}"
        cfg = SynthConfig(
            out=out,
            task=task,
            n=args.n,
            seed=args.seed,
            max_errors=args.max_errors,
            dpi=args.dpi,
            workers=args.workers,
        )
        os.environ["ERM_CACHE_DIR"] = str(tmp / f"cache-{task}")  # each task starts cold
        t0 = time.perf_counter()
        cold = run_synth(cfg)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm = run_synth(SynthConfig(**{**cfg.__dict__, "out": tmp / f"warm-{task}"}))
        warm_s = time.perf_counter() - t0
        row = {
            "task": task,
            "pairs": cold.records,
            "renders": cold.renders,
            "cold_seconds": round(cold_s, 2),
            "pairs_per_minute": round(60 * cold.records / cold_s, 1),
            "warm_seconds": round(warm_s, 2),
            "warm_pairs_per_minute": round(60 * warm.records / warm_s, 1),
            "noop_steps": cold.noop_steps,
            "failed_candidates": cold.failed_candidates,
            "by_pair_type": cold.by_pair_type,
        }
        rows.append(row)
        print(
            f"{task:<6} {row['pairs']:>5} {row['renders']:>7} {cold_s:>7.1f} {row['pairs_per_minute']:>9.1f} "
            f"{warm_s:>7.1f} {row['warm_pairs_per_minute']:>14.1f} {row['noop_steps']:>11}"
        )
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "cpus": os.cpu_count(), "runs": rows}, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
