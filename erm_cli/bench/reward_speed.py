"""Rewards per second through each RL adapter of :mod:`erm_cli.train.rewards`, with the critic judge, at
1 and 2 scoring workers (the ``rewards`` section of ``erm bench speed``; ``benchmarks/reward_throughput.py``
runs it on its own).

Every run scores N SVG rollouts (distinct drawings, each answer ending in ``<|im_end|>`` as OpenRLHF decodes
them) against one reference, from a fresh render cache, in the call shape of each framework:

- ``trl``: one ``make_trl_reward(...)`` call with the whole batch; ``trl-async``: its async variant awaited;
- ``verl-batch``: ``compute_score`` with the batch keywords (legacy ``batch`` manager);
- ``verl-loop``: ``compute_score`` once per sample from a thread pool (the reward loop's executor);
- ``verl-prime``: ``compute_score_prime`` once per sample from a process pool (the ``prime`` manager);
- ``easyr1``: ``compute_score`` with the list of reward inputs;
- ``openrlhf``: ``reward_func`` once per rollout from a thread pool (its executor sends batches of 1).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="160" height="120"><!-- {salt} --><rect width="160" '
       'height="120" fill="white"/><rect x="20" y="20" width="{w}" height="{h}" fill="#1f77b4"/></svg>')
ADAPTERS = ("trl", "trl-async", "verl-batch", "verl-loop", "verl-prime", "easyr1", "openrlhf")


def answers(n: int, salt: str) -> list[str]:
    return [f"Here it is:\n```svg\n{SVG.format(salt=salt, w=30 + i % 100, h=40 + i % 60)}\n```<|im_end|>"
            for i in range(n)]


def score(adapter: str, texts: list[str], ref: str, workers: int) -> list[float]:
    """The rewards of ``texts`` against ``ref`` through ``adapter``'s call shape."""
    from ..train import rewards

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
            return [o["score"] for o in pool.map(lambda t: rewards.compute_score("icon2svg", t, ref, {}, **opts),
                                                 texts)]
    if adapter == "verl-prime":
        with ProcessPoolExecutor(workers) as pool:
            futures = [pool.submit(rewards.compute_score_prime, "icon2svg", t, ref, {}, **opts) for t in texts]
            return [f.result() for f in futures]
    if adapter == "easyr1":
        out = rewards.compute_score([{"response": t, "response_length": 1, "ground_truth": ref} for t in texts],
                                    **opts)
        return [o["overall"] for o in out]
    if adapter == "openrlhf":
        with ThreadPoolExecutor(workers) as pool:
            outs = list(pool.map(lambda t: rewards.reward_func([t], [""], [ref], **opts), texts))
        return [float(o["rewards"][0]) for o in outs]
    raise ValueError(f"unknown adapter {adapter!r}; choose from {', '.join(ADAPTERS)}")


def run(rollouts: int = 256, adapters: Sequence[str] = ADAPTERS, workers: Sequence[int] = (1, 2),
        on_row: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Score ``rollouts`` answers per adapter and worker count from a fresh render cache (restored after)."""
    bad = [a for a in adapters if a not in ADAPTERS]
    if bad:
        raise ValueError(f"unknown adapter {bad[0]!r}; choose from {', '.join(ADAPTERS)}")
    old_cache = os.environ.get("ERM_CACHE_DIR")
    cache = tempfile.mkdtemp(prefix="erm-reward-speed-")
    os.environ["ERM_CACHE_DIR"] = cache  # fresh render cache: every rollout renders
    try:
        from ..renderers import render

        ref = Path(cache) / "ref.png"
        ref.write_bytes(render(SVG.format(salt="ref", w=100, h=80)).png)
        score("trl", answers(4, "warm-up"), str(ref), 1)  # start the sandbox and load the critic once
        rows = []
        for w in workers:
            for adapter in adapters:
                texts = answers(rollouts, f"{adapter}-{w}-{time.time_ns()}")
                t0 = time.perf_counter()
                scores = score(adapter, texts, str(ref), w)
                seconds = time.perf_counter() - t0
                row = {"adapter": adapter, "workers": w, "rollouts": rollouts, "seconds": round(seconds, 2),
                       "rewards_per_second": round(rollouts / seconds, 2),
                       "rendered": sum(1 for s in scores if s >= 1.0)}
                rows.append(row)
                if on_row:
                    on_row(row)
    finally:
        if old_cache is None:
            os.environ.pop("ERM_CACHE_DIR", None)
        else:
            os.environ["ERM_CACHE_DIR"] = old_cache
        shutil.rmtree(cache, ignore_errors=True)
    return {"judge": "critic", "task": "svg", "rollouts": rollouts, "cpus": os.cpu_count(), "rows": rows}
