"""Rewards per second through each RL adapter with the critic judge, at 1 and 2 scoring workers.

Every run scores N SVG rollouts (distinct drawings, each answer ending in ``<|im_end|>`` as OpenRLHF
decodes them) against one reference, from a fresh render cache, in the call shape of each framework:

- ``trl``: one ``make_trl_reward(...)`` call with the whole batch; ``trl-async``: its async variant awaited;
- ``verl-batch``: ``compute_score`` with the batch keywords (legacy ``batch`` manager);
- ``verl-loop``: ``compute_score`` once per sample from a thread pool (the reward loop's executor);
- ``verl-prime``: ``compute_score_prime`` once per sample from a process pool (the ``prime`` manager);
- ``easyr1``: ``compute_score`` with the list of reward inputs;
- ``openrlhf``: ``reward_func`` once per rollout from a thread pool (its executor sends batches of 1).

    .venv/bin/python benchmarks/reward_throughput.py            # 256 rollouts per adapter and worker count
    .venv/bin/python benchmarks/reward_throughput.py --n 64 --adapters trl,openrlhf --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="160" height="120"><!-- {salt} --><rect width="160" '
       'height="120" fill="white"/><rect x="20" y="20" width="{w}" height="{h}" fill="#1f77b4"/></svg>')
ADAPTERS = ("trl", "trl-async", "verl-batch", "verl-loop", "verl-prime", "easyr1", "openrlhf")


def answers(n: int, salt: str) -> list[str]:
    return [f"Here it is:\n```svg\n{SVG.format(salt=salt, w=30 + i % 100, h=40 + i % 60)}\n```<|im_end|>"
            for i in range(n)]


def run(adapter: str, texts: list[str], ref: str, workers: int) -> list[float]:
    from erm_cli.train import rewards

    opts = {"judge": "critic", "max_workers": workers}
    n = len(texts)
    if adapter in ("trl", "trl-async"):
        fn = rewards.make_trl_reward(task="svg", asynchronous=adapter == "trl-async", **opts)
        call = fn(prompts=["p"] * n, completions=texts, image=[ref] * n)
        return asyncio.run(call) if adapter == "trl-async" else call
    if adapter == "verl-batch":
        out = rewards.compute_score(data_sources=["icon2svg"] * n, solution_strs=texts, ground_truths=[ref] * n,
                                    extra_infos=[{}] * n, **opts)
        return [o["score"] for o in out]
    if adapter == "verl-loop":
        with ThreadPoolExecutor(workers) as pool:
            return [o["score"] for o in pool.map(lambda t: rewards.compute_score("icon2svg", t, ref, {}, **opts), texts)]
    if adapter == "verl-prime":
        with ProcessPoolExecutor(workers) as pool:
            futures = [pool.submit(rewards.compute_score_prime, "icon2svg", t, ref, {}, **opts) for t in texts]
            return [f.result() for f in futures]
    if adapter == "easyr1":
        out = rewards.compute_score([{"response": t, "response_length": 1, "ground_truth": ref} for t in texts], **opts)
        return [o["overall"] for o in out]
    if adapter == "openrlhf":
        with ThreadPoolExecutor(workers) as pool:
            outs = list(pool.map(lambda t: rewards.reward_func([t], [""], [ref], **opts), texts))
        return [float(o["rewards"][0]) for o in outs]
    raise SystemExit(f"unknown adapter {adapter!r}; choose from {', '.join(ADAPTERS)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256, help="rollouts per adapter and worker count (default 256)")
    ap.add_argument("--adapters", default=",".join(ADAPTERS))
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    os.environ["ERM_CACHE_DIR"] = tempfile.mkdtemp(prefix="erm-reward-speed-")  # fresh render cache
    from erm_cli.renderers import render

    ref = Path(os.environ["ERM_CACHE_DIR"]) / "ref.png"
    ref.write_bytes(render(SVG.format(salt="ref", w=100, h=80)).png)
    run("trl", answers(4, "warm-up"), str(ref), 1)  # start the sandbox and load the critic once
    rows = []
    for workers in (int(w) for w in args.workers.split(",")):
        for adapter in args.adapters.split(","):
            texts = answers(args.n, f"{adapter}-{workers}")
            t0 = time.perf_counter()
            scores = run(adapter, texts, str(ref), workers)
            seconds = time.perf_counter() - t0
            ok = sum(1 for s in scores if s >= 1.0)
            rows.append({"adapter": adapter, "workers": workers, "n": args.n, "seconds": round(seconds, 2),
                         "rewards_per_s": round(args.n / seconds, 2), "rendered": ok})
            print(f"{adapter:11s} workers={workers}  {args.n / seconds:6.1f} rewards/s  "
                  f"({seconds:.1f} s, {ok}/{args.n} rendered)", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"cpus": os.cpu_count(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
