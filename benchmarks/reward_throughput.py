"""Rewards per second through each RL adapter with the critic judge, at 1 and 2 scoring workers.

The measurement lives in :mod:`erm_cli.bench.reward_speed` (also ``erm bench speed --sections rewards
--items N``); this script runs it alone:

    .venv/bin/python benchmarks/reward_throughput.py            # 256 rollouts per adapter and worker count
    .venv/bin/python benchmarks/reward_throughput.py --n 64 --adapters trl,openrlhf --json out.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from erm_cli.bench.reward_speed import ADAPTERS, run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256, help="rollouts per adapter and worker count (default 256)")
    ap.add_argument("--adapters", default=",".join(ADAPTERS))
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()

    def show(r: dict) -> None:
        print(f"{r['adapter']:11s} workers={r['workers']}  {r['rewards_per_second']:6.1f} rewards/s  "
              f"({r['seconds']:.1f} s, {r['rendered']}/{r['rollouts']} rendered)", flush=True)

    doc = run(args.n, tuple(args.adapters.split(",")), tuple(int(w) for w in args.workers.split(",")), on_row=show)
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
