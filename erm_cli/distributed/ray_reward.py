"""The RL reward on a named pool of Ray judge actors (verl, OpenRLHF and every other erm reward adapter).

verl and OpenRLHF run inside Ray. With the reward option ``ray_pool`` (``ERM_REWARD_RAY_POOL``), the
adapters of :mod:`erm_cli.train.rewards` hand each batch to a pool of judge actors instead of scoring it
in the trainer's process:

    custom_reward_function.reward_kwargs.ray_pool=erm-judges       # verl (batch / naive / prime managers)
    ERM_REWARD_RAY_POOL=erm-judges ERM_REWARD_RAY_ACTORS=8          # any adapter, from the environment

The pool is ``ray_actors`` (``ERM_REWARD_RAY_ACTORS``, default :data:`DEFAULT_ACTORS`, at most the
cluster's CPUs) *detached, named* actors ``<pool>-0`` ... in the Ray namespace ``erm``: the first call
creates them, every later call (from any trainer process or worker on the cluster) reuses them, so each
actor keeps its judge, render sandbox and OCR engine warm across steps. Each actor runs the in-process
scorer (:func:`erm_cli.train.rewards.score_batch`) on its share of the batch: the rewards are the
in-process adapter's, bit for bit. The driver joins the Ray cluster it is in (``ray.init()`` when it is
not connected yet: ``RAY_ADDRESS`` or a new local instance).

Detached actors outlive the trainer: :func:`stop_pool` (or ``ray.kill``) ends them. A judge actor that dies
is restarted by Ray and its call retried (``max_task_retries``); a batch share that still fails scores
0 with the reason, like any failed sample.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import Any

from .ray_pool import import_ray

NAMESPACE = "erm"
DEFAULT_ACTORS = 4
MAX_RETRIES = 2


class JudgeActor:
    """A pool member: the in-process reward scorer, with its judges cached in this process."""

    def score(self, completions: list[Any], references: list[Any], tasks: list[str],
              options: dict[str, Any]) -> list[tuple[float, Any, str | None]]:
        from erm_cli.train.rewards import score_batch

        return score_batch(completions, references, tasks, **options)

    def pid(self) -> int:
        return os.getpid()


def _ensure_ray() -> Any:
    ray = import_ray()
    if not ray.is_initialized():
        ray.init(namespace=NAMESPACE, logging_level="ERROR")  # RAY_ADDRESS, or a local instance
    return ray


def actor_names(pool: str, size: int) -> list[str]:
    return [f"{pool}-{i}" for i in range(size)]


def judge_pool(pool: str, size: int | None = None) -> list[Any]:
    """The handles of the pool's actors, created (detached, named) the first time and reused after."""
    ray = _ensure_ray()
    cpus = int(ray.cluster_resources().get("CPU", 1))
    want = max(1, min(int(size or os.environ.get("ERM_REWARD_RAY_ACTORS") or DEFAULT_ACTORS), max(1, cpus)))
    remote = ray.remote(JudgeActor)
    return [remote.options(name=name, namespace=NAMESPACE, lifetime="detached", get_if_exists=True, num_cpus=1,
                           max_restarts=-1, max_task_retries=MAX_RETRIES).remote()
            for name in actor_names(pool, want)]


def score_on_pool(completions: Sequence[Any], references: Sequence[Any], tasks: Sequence[str], *, pool: str,
                  actors: int | None = None, **options: Any) -> list[tuple[float, Any, str | None]]:
    """``(reward, verdict or None, reason or None)`` per completion, in input order, scored by the pool's
    actors (one contiguous share of the batch each); ``options`` are :func:`score_batch`'s."""
    n = len(completions)
    if len(references) != n or len(tasks) != n:
        raise ValueError(f"{n} completions but {len(references)} references and {len(tasks)} tasks")
    if n == 0:
        return []
    ray = _ensure_ray()
    handles = judge_pool(pool, actors)
    share = -(-n // len(handles))
    calls = []
    for k, start in enumerate(range(0, n, share)):
        end = min(n, start + share)
        calls.append((start, end, handles[k].score.remote(list(completions[start:end]), list(references[start:end]),
                                                         list(tasks[start:end]), options)))
    results: list[tuple[float, Any, str | None]] = []
    for start, end, ref in calls:
        try:
            results.extend(ray.get(ref))
        except ray.exceptions.RayError as exc:  # the actor kept dying: these samples fail alone
            first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:300]
            results.extend([(0.0, None, f"judge actor failed: {first}")] * (end - start))
    return results


def stop_pool(pool: str, size: int = 256) -> int:
    """Kill the pool's detached actors (``<pool>-0`` ... up to ``size``); returns how many were found."""
    ray = _ensure_ray()
    killed = 0
    for name in actor_names(pool, size):
        try:
            actor = ray.get_actor(name, namespace=NAMESPACE)
        except ValueError:  # no such actor: the pool ends here
            break
        with contextlib.suppress(Exception):
            ray.kill(actor, no_restart=True)
            killed += 1
    return killed
