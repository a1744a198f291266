"""``erm refine --batch``: refine every image of a folder or a JSONL file, resumably.

Input
    a folder: every image in it (``*.png``, ``*.jpg``...) is one item, its id the file stem; a code file
    with the same stem (``chart.py`` beside ``chart.png``) is not used unless ``--init-from-stem``;
    a JSONL file: one object per line with ``id``, an image (``image`` | ``gt_img_path`` | ``reference``),
    optionally ``task`` (or VC-RewardBench's ``category``) and init code (``init`` | ``init_code_path``);
    paths are relative to the JSONL file.
Output (``--out DIR``)
    ``DIR/items/<id>/`` — each item's full refine output (best code, best.png, trajectory, report);
    ``DIR/predictions.jsonl`` — one line per finished item (``id``, ``category``, ``gt_img_path``,
    ``pred_code_path``, ``pred_img_path`` relative to DIR, rewards before/after, status), the input of
    ``erm bench policy``; ``DIR/summary.json`` — totals.
Resume
    items with an ``ok`` line in ``predictions.jsonl`` are skipped; failed items are tried again
    (``--no-resume`` starts over). A bad item (unreadable image, a policy or judge that fails) is recorded
    with its reason and the batch goes on.
Parallel (``-w N``)
    N items are refined at once in this process's threads (their renders run in the sandbox's children, as
    every batch verb's do), sharing one policy and one judge; ``--ray`` runs them on Ray workers instead.
    Lines are appended as items finish, and ``predictions.jsonl`` is rewritten in item order at the end, so
    it is the same file whatever N. Ctrl-C stops the items still running at their next step.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ErmError, InputError
from ..inputs import allowed_roots, confine
from ..jsonl import iter_jsonl, read_jsonl_by_id
from ..judges.pipeline import IMAGE_SUFFIXES
from ..schemas import stamp
from .config import RefineConfig
from .loop import Observer

PREDICTIONS = "predictions.jsonl"


@dataclass
class BatchItem:
    id: str
    image: Path
    task: str = "auto"
    init: Path | None = None
    error: str | None = None  # a refused path: the item fails alone with this reason, nothing is read


def _safe_id(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("._") or "item"


def read_items(source: str | Path, init_from_stem: bool = False,
               allowed_root: Sequence[str | Path] = ()) -> list[BatchItem]:
    """Items of a folder or a JSONL file; JSONL paths must resolve inside its folder or an ``allowed_root``
    (symlinks followed), else that item fails alone."""
    src = Path(source)
    if not src.exists():
        raise InputError(f"--batch: no such file or folder: {src}")
    items: list[BatchItem] = []
    if src.is_dir():
        for p in sorted(src.iterdir()):
            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
                init = None
                if init_from_stem:
                    for ext in (".py", ".svg", ".html", ".md", ".tex"):
                        if (p.with_suffix(ext)).exists():
                            init = p.with_suffix(ext)
                            break
                items.append(BatchItem(_safe_id(p.stem), p, "auto", init))
        if not items:
            raise InputError(f"--batch: no images in {src}")
        return items
    base = src.parent
    roots = allowed_roots(base, allowed_root)
    for n, rec in iter_jsonl(src):
        img = rec.get("image") or rec.get("gt_img_path") or rec.get("reference") or rec.get("image_path")
        if not img:
            raise InputError(f"{src}:{n}: no image field (image, gt_img_path or reference)")
        init = rec.get("init") or rec.get("init_code_path")
        item = BatchItem(_safe_id(str(rec.get("id", f"line{n}"))), base / str(img),
                         str(rec.get("task") or rec.get("category") or "auto"), base / str(init) if init else None)
        try:
            item.image = confine(img, base, roots, "image")
            item.init = confine(init, base, roots, "init") if init else None
        except InputError as exc:
            item.error = f"{src}:{n}: {exc}"
        items.append(item)
    ids = [it.id for it in items]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise InputError(f"--batch: duplicate ids: {', '.join(sorted(dup)[:5])}")
    return items


def _done_ids(pred_path: Path) -> dict[str, dict[str, Any]]:
    return read_jsonl_by_id(pred_path)


def refine_batch(
    source: str | Path,
    out_dir: str | Path,
    *,
    task: str = "auto",
    policy: str | None = None,
    judge: str = "critic",
    judge_model: str | None = None,
    config: RefineConfig | None = None,
    init_from_stem: bool = False,
    report: bool = True,
    on_item: Callable[[dict[str, Any]], None] | None = None,
    allowed_root: Sequence[str | Path] = (),
    executor: Any = None,
    limit: int | None = None,
    workers: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
    resume: bool = True,
) -> dict[str, Any]:
    """Refine every item (the first ``limit`` when given; lines of other items from earlier runs stay in
    ``predictions.jsonl``); returns the batch summary (also written to ``out_dir/summary.json``).

    ``workers``: items refined at once in this process (threads; each item's renders go through the sandbox).
    ``on_progress(done, total)``: at the start (items already done count) and after each item.
    ``resume`` False (``--no-resume``): start over; every line of an earlier run is dropped.

    ``executor`` (``--ray``): items are refined on its workers, each building the policy and the judge once;
    a worker writes the item's folder under ``out_dir/items/`` (on a multi-node cluster ``out_dir`` must be
    on storage every node sees) and the driver appends the ``predictions.jsonl`` line as results come."""
    from .api import build_judge
    from .policy import get_policy

    config = config or RefineConfig()
    config.validate()
    if workers < 1:
        raise InputError(f"--workers must be at least 1, not {workers}")
    every_item = read_items(source, init_from_stem, allowed_root)
    items = every_item[:limit] if limit is not None else every_item
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pred_path = out / PREDICTIONS
    previous = _done_ids(pred_path) if resume else {}
    todo = [it for it in items if previous.get(it.id, {}).get("status") != "ok"]
    # keep only the ok lines of earlier runs; failed ones are retried and rewritten
    kept = [previous[it.id] for it in every_item if previous.get(it.id, {}).get("status") == "ok"]
    selected = {it.id for it in items}
    tmp = pred_path.with_name(PREDICTIONS + ".tmp")
    tmp.write_text("".join(json.dumps(stamp(r), ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
    os.replace(tmp, pred_path)
    the_judge = build_judge(judge, judge_model)
    the_policy = get_policy(policy)
    t0 = time.perf_counter()
    records: list[dict[str, Any]] = [r for r in kept if r["id"] in selected]  # the summary covers these
    if on_progress is not None:
        on_progress(len(records), len(items))  # the items already done
    with pred_path.open("a", encoding="utf-8") as fh:
        def record(rec: dict[str, Any]) -> None:
            fh.write(json.dumps(stamp(rec), ensure_ascii=False) + "\n")  # with schema_version
            fh.flush()
            records.append(rec)
            if on_item is not None:
                on_item(rec)
            if on_progress is not None:
                on_progress(len(records), len(items))

        if executor is not None and todo:
            from dataclasses import replace

            # the workers' working folder is not this one: every path they get is absolute
            job = RefineTask(out.resolve(), task, policy, judge, judge_model, config, report)
            remote = [replace(it, image=it.image.resolve(), init=it.init.resolve() if it.init else None)
                      for it in todo]
            for _, rec in executor.map_unordered(job, remote):
                record(rec)
        else:
            def refine_one(it: BatchItem, observers: list[Observer]) -> dict[str, Any]:
                return refine_item(it, out, task, the_policy, the_judge, config, report, observers)

            refine_locally(todo, refine_one, workers, record, the_policy, the_judge)
    # one order whatever the workers: the lines of predictions.jsonl (and the summary) in item order
    position = {it.id: n for n, it in enumerate(every_item)}
    records.sort(key=lambda r: position.get(r["id"], len(position)))
    lines = {r["id"]: r for r in kept}
    lines.update((r["id"], r) for r in records)
    tmp.write_text("".join(json.dumps(stamp(lines[i]), ensure_ascii=False) + "\n"
                           for i in sorted(lines, key=lambda i: position.get(i, len(position)))), encoding="utf-8")
    os.replace(tmp, pred_path)
    summary = summarise(records)
    summary.update({"items": len(items), "skipped_done": len(items) - len(todo), "ran": len(todo),
                    "seconds": round(time.perf_counter() - t0, 3), "predictions": str(pred_path),
                    "config": config.to_dict(), "policy": the_policy.name,
                    "judge": {"name": the_judge.name, "version": the_judge.version}})
    (out / "summary.json").write_text(json.dumps(stamp(summary), indent=2), encoding="utf-8")  # schema_version
    return summary


class Stopped(Exception):
    """Raised inside an item's refine loop when the batch was interrupted (Ctrl-C): the item stops at its
    next step and is not recorded (it is refined again on the next run)."""


class _StopWhenSet(Observer):
    """Stops an item's loop at its next step once ``event`` is set."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def _check(self) -> None:
        if self.event.is_set():
            raise Stopped("the batch was interrupted")

    def on_status(self, text: str) -> None:
        self._check()

    def on_candidate(self, candidate: Any, best: Any) -> None:
        self._check()


def refine_locally(todo: Sequence[BatchItem], refine_one: Callable[[BatchItem, list[Observer]], dict[str, Any]],
                   workers: int, record: Callable[[dict[str, Any]], None], the_policy: Any = None,
                   the_judge: Any = None) -> None:
    """Refine ``todo`` here, ``workers`` items at a time; ``record`` gets each item's line in this thread as
    the item finishes. On Ctrl-C (or any error here) items not started are dropped, running ones stop at
    their next step, and nothing more is recorded."""
    if workers <= 1 or len(todo) <= 1:
        for it in todo:
            record(refine_one(it, []))
        return
    for shared in (the_policy, the_judge):  # a model policy or judge loads its model once, before the threads
        if hasattr(shared, "backend"):  # share it (the property loads it; a model that cannot load stops here)
            _ = shared.backend
    stop = threading.Event()
    observers: list[Observer] = [_StopWhenSet(stop)]
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="erm-refine")
    try:
        futures = [pool.submit(refine_one, it, observers) for it in todo]
        for future in as_completed(futures):
            record(future.result())
    except BaseException:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def refine_item(it: BatchItem, out: Path, task: str, the_policy: Any, the_judge: Any, config: RefineConfig,
                report: bool, observers: list[Observer] | None = None) -> dict[str, Any]:
    """Refine one item into ``out/items/<id>/``; its ``predictions.jsonl`` line (status ok or failed with the
    reason: a bad item never stops the batch). ``observers`` see the item's loop."""
    from .api import refine_image

    item_dir = out / "items" / it.id
    rec: dict[str, Any] = {"id": it.id, "gt_img_path": os.path.relpath(it.image.resolve(), out.resolve())}
    t1 = time.perf_counter()
    try:
        if it.error is not None:
            raise InputError(it.error)
        result, paths = refine_image(it.image, out_dir=item_dir, task=it.task if task == "auto" else task,
                                     policy=the_policy, judge=the_judge, config=config,
                                     init=str(it.init) if it.init else None, report=report,
                                     source={"id": it.id}, observers=list(observers or []))
        rec.update({"category": result.task, "status": "ok",
                    "pred_code_path": os.path.relpath(paths["code"], out),
                    "pred_img_path": os.path.relpath(paths["render"], out) if "render" in paths else None,
                    "reward_initial": round(result.initial.reward, 6), "reward": round(result.best.reward, 6),
                    "errors_initial": result.initial.n_errors, "errors": result.best.n_errors,
                    "render_ok": result.best.render_ok, "rounds": len(result.rounds) - 1,
                    "candidates": len(result.candidates), "tokens": result.tokens,
                    "stop_reason": result.stop_reason,
                    "reward_per_round": [round(r.best_reward, 6) for r in result.rounds]})
    except ErmError as exc:
        rec.update({"status": "failed", "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                    "exit_code": exc.exit_code})
    except Exception as exc:  # noqa: BLE001 - one bad item must not stop the batch
        rec.update({"status": "failed", "error": f"{exc.__class__.__name__}: {exc}"[:500]})
    rec["seconds"] = round(time.perf_counter() - t1, 3)
    return rec


class RefineTask:
    """One item's refinement as a picklable callable for an executor (``--ray``): each worker builds the
    policy and the judge once, by name, and refines items with :func:`refine_item`."""

    def __init__(self, out: Path, task: str, policy: str | None, judge: str, judge_model: str | None,
                 config: RefineConfig, report: bool) -> None:
        self.out, self.task, self.policy, self.judge, self.judge_model = out, task, policy, judge, judge_model
        self.config, self.report = config, report
        self._built: tuple[Any, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_built": None}

    def warm(self) -> None:
        if self._built is None:
            from .api import build_judge
            from .policy import get_policy

            self._built = (get_policy(self.policy), build_judge(self.judge, self.judge_model))

    def __call__(self, it: BatchItem) -> dict[str, Any]:
        self.warm()
        the_policy, the_judge = self._built  # type: ignore[misc]
        return refine_item(it, self.out, self.task, the_policy, the_judge, self.config, self.report)

    def failed(self, it: BatchItem, reason: str) -> dict[str, Any]:
        return {"id": it.id, "gt_img_path": os.path.relpath(it.image.resolve(), self.out.resolve()),
                "status": "failed", "error": reason, "seconds": 0.0}


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in records if r.get("status") == "ok"]
    def mean(key: str) -> float | None:
        vals = [float(r[key]) for r in ok if r.get(key) is not None]
        return round(sum(vals) / len(vals), 6) if vals else None
    per_task: dict[str, dict[str, Any]] = {}
    for r in ok:
        t = per_task.setdefault(r.get("category", "?"), {"n": 0, "reward_initial": 0.0, "reward": 0.0})
        t["n"] += 1
        t["reward_initial"] += float(r.get("reward_initial") or 0.0)
        t["reward"] += float(r.get("reward") or 0.0)
    for t in per_task.values():
        t["reward_initial"] = round(t["reward_initial"] / t["n"], 6)
        t["reward"] = round(t["reward"] / t["n"], 6)
    return {"ok": len(ok), "failed": len(records) - len(ok), "mean_reward_initial": mean("reward_initial"),
            "mean_reward": mean("reward"), "per_task": per_task,
            "failures": [{"id": r["id"], "error": r.get("error")} for r in records if r.get("status") != "ok"][:50]}
