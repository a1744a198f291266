"""``erm bench speed --ray ADDRESS``: judge throughput through the local thread pool and through Ray.

One run judges the same image pairs (examples/bench-mini) with the critic

* in this process with ``workers`` threads (what ``erm judge --batch`` does without ``--ray``);
* through a :class:`erm_cli.distributed.ray_pool.RayPool` of 1 and of ``workers`` actors (what
  ``--ray`` does; the wall time includes starting the actors and loading their judges, also reported
  apart as ``start_and_warm_seconds`` with the steady rate after it);

and measures Ray's per-item overhead: the wall time per item of a no-op task through one actor (submit,
run, return, ``ray.wait``). Timing only: the predictions files go to a temporary folder.

``projection`` (computed, NOT measured) turns the measured cost into seconds per GRPO step of 2,048
candidates on 8, 64 and 512 cores: core-seconds per pair (the Ray run with the most actors, steady rate)
times 2,048 divided by the cores, plus the driver's per-item overhead paid serially for every candidate.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any


class NoopTask:
    """An item task that does nothing: what is left of its wall time is Ray's per-item cost."""

    def __call__(self, item: int) -> int:
        return item

    def failed(self, item: int, reason: str) -> int:
        return -1


def _pairs(n: int) -> list[Any]:
    from ..bench.judge_bench import JudgeItem
    from ..config import examples_dir

    mini = examples_dir() / "bench-mini"
    rows = [json.loads(line) for line in (mini / "data.jsonl").read_text().splitlines() if line.strip()]
    items = [JudgeItem(id=str(r["id"]), task=str(r.get("category") or "chart"), reference=mini / r["gt_img_path"],
                       candidate=mini / r["pred_img_path"]) for r in rows if r.get("pred_img_path")]
    return items[:n]


def _judge_run(items: list[Any], folder: Path, name: str, workers: int, executor: Any = None) -> dict[str, Any]:
    from functools import partial

    from ..bench.judge_bench import judge_items
    from ..judges import get_judge

    t0 = time.perf_counter()
    rows = judge_items(get_judge("critic"), "critic", items, folder / f"{name}.jsonl", workers=workers,
                       resume=False, executor=executor, judge_factory=partial(get_judge, "critic"))
    seconds = time.perf_counter() - t0
    ok = sum(1 for r in rows.values() if "verdict" in r)
    out = {"items": len(items), "ok": ok, "seconds": round(seconds, 3),
           "pairs_per_second": round(len(items) / seconds, 3)}
    start = getattr(executor, "start_seconds", 0.0)
    if start:  # Ray: the actors' start and judge load, then the steady rate
        out["start_and_warm_seconds"] = round(start, 3)
        out["steady_pairs_per_second"] = round(len(items) / max(1e-9, seconds - start), 3)
    return out


GRPO_CANDIDATES = 2048  # 256 prompts x 8 rollouts (the paper's recipe)
PROJECTED_CORES = (8, 64, 512)


def projection(core_seconds_per_pair: float, overhead_ms: float) -> dict[str, Any]:
    """Seconds per GRPO step at each core count, from a per-pair cost and the per-item overhead."""
    serial = GRPO_CANDIDATES * overhead_ms / 1000.0
    return {"measured_inputs": {"core_seconds_per_pair": round(core_seconds_per_pair, 4),
                                "overhead_ms_per_item": round(overhead_ms, 3)},
            "grpo_step_seconds": {str(c): round(GRPO_CANDIDATES * core_seconds_per_pair / c + serial, 1)
                                  for c in PROJECTED_CORES},
            "note": "projected from the measured figures above, not measured"}


def run(quick: bool = False, items: int = 24, address: str = "local", workers: int = 2) -> dict[str, Any]:
    """The ``ray`` section of ``erm bench speed`` (see the module docstring)."""
    from ..distributed.ray_pool import RayPool, connect, import_ray

    ray = import_ray()
    n = max(4, items // 2 if quick else items)
    pairs = _pairs(n)
    started = connect(address, num_cpus=workers)
    out: dict[str, Any] = {"address": address, "cluster_cpus": ray.cluster_resources().get("CPU"),
                           "pairs": len(pairs), "judge": "critic"}
    try:
        with tempfile.TemporaryDirectory(prefix="erm-ray-speed-") as tmp:
            folder = Path(tmp)
            _judge_run(pairs[:2], folder, "warm", 1)  # this process's lazy imports and OCR engine
            out["local_threads"] = {"workers": workers, **_judge_run(pairs, folder, "local", workers)}
            for k in sorted({1, workers}):
                with RayPool(address, workers=k) as pool:
                    out[f"ray_{k}_workers"] = {"workers": k, **_judge_run(pairs, folder, f"ray{k}", k,
                                                                          executor=pool)}
            noop_items = 100 if quick else 300
            with RayPool(address, workers=1) as pool:
                t0 = time.perf_counter()
                stream = pool.map_unordered(NoopTask(), list(range(noop_items)))
                first = next(stream)  # the actor is up: time from here on is per-item cost only
                t1 = time.perf_counter()
                rest = sum(1 for _ in stream)
                per_item = (time.perf_counter() - t1) / max(1, rest)
            out["ray_overhead"] = {"items": rest + (first is not None),
                                   "ms_per_item_one_actor": round(per_item * 1000, 3),
                                   "actor_start_seconds": round(t1 - t0, 3)}
            widest = out[f"ray_{max(1, workers)}_workers"]
            rate = widest.get("steady_pairs_per_second") or widest["pairs_per_second"]
            out["projection"] = projection(widest["workers"] / max(1e-9, rate), per_item * 1000)
    finally:
        if started:
            ray.shutdown()
    return out
