"""The ``erm synth`` engine: ground truth -> perturbed candidates with gold labels -> renders -> records.

For each *group* (one ground-truth document) the engine builds a chain of candidates, each adding
one perturbation to the previous one (``p1`` has one error, ``p2`` two, ...), and sometimes an
*equivalent* candidate: an invisible code change, or the same content at another dpi or size. All
codes of a batch of groups render in parallel through :func:`erm_cli.renderers.render_many` (sandbox
pool, warm browser, render cache). A step whose render equals the previous one pixel for pixel is a
no-op: its error is dropped from the labels (a first step that changes nothing is labelled "no
error"). Records go to ``DIR/data.jsonl`` in VC-RewardBench format; ``pairwise.jsonl`` pairs
candidates of one reference where the chosen one's errors are a strict, milder subset of the
rejected one's.

Determinism: group *i* of a task draws everything from ``Random(f"{seed}:{task}:{i}")``; each task's
records are a prefix of that task's fixed stream of groups, and the final file is sorted, so the same
seed gives the same data whatever the batching, and an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import io
import json
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import InputError
from ..jsonl import read_results
from ..renderers.base import RenderOptions
from ..schemas import stamp
from .perturbation import Edit, PerturbationInfo, conflicts, overlap_share

TASK_ORDER: tuple[str, ...] = ("chart", "table", "svg")
SYNTH_VERSION = "1"

#: How often each error category is drawn (VC-RewardBench's mix, with a floor for rare categories).
CATEGORY_WEIGHTS: dict[str, dict[str, float]] = {
    "chart": {"data_error": 0.32, "style_error": 0.30, "text_error": 0.24, "structure_error": 0.14},
    "table": {"text_error": 0.42, "numeric_error": 0.33, "layout_error": 0.25},
    "svg": {"shape_error": 0.40, "style_error": 0.25, "structure_error": 0.20, "text_symbol_error": 0.15},
}
PAIR_TYPES = ("perturbed", "noop", "equivalent_code", "equivalent_size")
#: Tasks whose edits may hide each other (an SVG shape moved over another): their regions must not overlap.
OCCLUDING_TASKS = ("svg",)
MAX_REGION_OVERLAP = 0.1
#: A later edit that repaints more than this share of an earlier edit's changed pixels may hide it.
MAX_MASKED_SHARE = 0.5


@dataclass
class SynthConfig:
    """Everything that decides the data (all of it is recorded in ``manifest.json``)."""

    out: Path
    task: str = "all"
    n: int = 100
    seed: int = 0
    max_errors: int = 3
    source: Path | None = None
    icons: Path | None = None
    dpi: int = 100  # matplotlib renders
    svg_px: int = 256  # generated SVG canvas size
    plotly_share: float = 0.3
    markdown_share: float = 0.35
    equivalent_rate: float = 0.15  # chance per group of each equivalent candidate (code / size)
    workers: int | None = None
    batch_groups: int = 12
    timeout: float = 60.0
    profile: str = "erm"  # how references and candidates render (renderers/profiles.py)
    #: Sampling weights by perturbation name that replace the registry's (``erm train critic`` draws more grid
    #: changes); empty for ``erm synth``, so a seed always makes the same data.
    weights: dict[str, float] = field(default_factory=dict)

    @property
    def tasks(self) -> tuple[str, ...]:
        return TASK_ORDER if self.task == "all" else (self.task,)

    def identity(self) -> dict[str, Any]:
        """The settings that change the generated stream (a resumed run must match them)."""
        return {
            "synth_version": SYNTH_VERSION,
            "task": self.task,
            "seed": self.seed,
            "max_errors": self.max_errors,
            "source": str(self.source) if self.source else None,
            "icons": str(self.icons) if self.icons else None,
            "dpi": self.dpi,
            "svg_px": self.svg_px,
            "plotly_share": self.plotly_share,
            "markdown_share": self.markdown_share,
            "equivalent_rate": self.equivalent_rate,
            **({"profile": self.profile} if self.profile != "erm" else {}),  # older runs (erm) still resume
            **({"weights": dict(sorted(self.weights.items()))} if self.weights else {}),
        }

    def targets(self) -> dict[str, int]:
        """How many records each task gets (``n`` split evenly, the remainder to the first tasks)."""
        tasks = self.tasks
        base, extra = divmod(self.n, len(tasks))
        return {t: base + (1 if i < extra else 0) for i, t in enumerate(tasks)}

    def render_options(self) -> RenderOptions:
        return RenderOptions(dpi=self.dpi, timeout=self.timeout, profile=self.profile)


@dataclass
class Candidate:
    suffix: str  # "p1", "p2", "eq-code", "eq-size"
    code: str
    kind: str
    options: RenderOptions
    edits: list[Edit]
    pair_type: str
    note: str = ""


@dataclass
class Group:
    gid: str
    task: str
    index: int
    kind: str
    source: str
    ref_code: str
    ref_options: RenderOptions
    candidates: list[Candidate] = field(default_factory=list)
    perturbation_errors: list[str] = field(default_factory=list)


@dataclass
class SynthStats:
    records: int = 0
    groups: int = 0
    failed_groups: int = 0
    failed_candidates: int = 0
    noop_steps: int = 0
    renders: int = 0
    cache_hits: int = 0
    seconds: float = 0.0
    resumed_records: int = 0
    by_task: dict[str, int] = field(default_factory=dict)
    by_pair_type: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    by_severity: dict[str, int] = field(default_factory=dict)

    @property
    def pairs_per_minute(self) -> float:
        new = self.records - self.resumed_records
        return 60.0 * new / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["pairs_per_minute"] = round(self.pairs_per_minute, 1)
        d["seconds"] = round(self.seconds, 2)
        return d


# ------------------------------------------------------------------------------- building groups


def group_rng(seed: int, task: str, index: int) -> random.Random:
    return random.Random(f"{seed}:{task}:{index}")


def _weighted(rng: random.Random, items: list[Any], weights: list[float]) -> Any:
    return rng.choices(items, weights=weights, k=1)[0]


def build_chain(
    doc: Any,
    registry: dict[str, PerturbationInfo],
    k: int,
    rng: random.Random,
    task: str,
    errors: list[str] | None = None,
    weights: dict[str, float] | None = None,
) -> list[tuple[Any, Edit]]:
    """Up to ``k`` successive edits of ``doc``; returns (document after the edit, edit) per step.

    Each step draws an error category (weighted), then a perturbation of that category; edits whose
    target overlaps an earlier edit's are refused, and an exclusive edit (layout) stands alone. ``weights``
    replaces the registry's sampling weight of the perturbations it names; a weight of 0 is never drawn.
    """
    override = weights or {}

    def weight(info: PerturbationInfo) -> float:
        return override.get(info.name, info.weight)

    cat_weights = CATEGORY_WEIGHTS.get(task, {})
    by_cat: dict[str, list[PerturbationInfo]] = {}
    for info in registry.values():
        by_cat.setdefault(info.category, []).append(info)
    cats = sorted(by_cat)
    steps: list[tuple[Any, Edit]] = []
    current = doc
    last_code = doc.code()
    for _ in range(k):
        applied = None
        for _attempt in range(16):
            cat = _weighted(rng, cats, [cat_weights.get(c, 0.1) for c in cats])
            infos = [i for i in by_cat[cat] if not (i.exclusive and steps) and weight(i) > 0]
            if not infos:
                continue
            info = _weighted(rng, infos, [weight(i) for i in infos])
            trial = current.copy()
            try:
                edit = info.fn(trial, rng)
            except Exception as exc:  # noqa: BLE001 - a perturbation bug must not stop the batch
                if errors is not None:
                    errors.append(f"{info.name}: {exc.__class__.__name__}: {exc}")
                continue
            if edit is None or conflicts(edit.target, [e.target for _, e in steps]):
                continue
            if task in OCCLUDING_TASKS and any(
                overlap_share(edit.region, e.region) > MAX_REGION_OVERLAP for _, e in steps
            ):
                continue
            try:
                code = trial.code()
            except ValueError:
                continue
            if code == last_code:
                continue
            applied = (trial, edit, code)
            break
        if applied is None:
            break
        current, edit, last_code = applied
        steps.append((current, edit))
        if edit.target == "*" or any(i.exclusive for i in registry.values() if i.name == edit.name):
            break
    return steps


def invisible_variant(doc: Any, rng: random.Random) -> str | None:
    """The same document spelled differently (comments, layout, hex case, loops): same pixels expected."""
    base = doc.code()
    for bits in rng.sample(range(1, 8), 7):
        d = doc.copy()
        d.code_style ^= bits
        try:
            code = d.code()
        except ValueError:
            continue
        if code != base:
            return code
    return None


def resized_variant(
    doc: Any, kind: str, options: RenderOptions, rng: random.Random
) -> tuple[str, RenderOptions, str] | None:
    """The same content at another dpi or size."""
    factor = rng.choice((0.75, 1.25, 1.5))
    name = type(doc).__name__
    code = doc.code()
    if kind == "matplotlib":
        dpi = max(30, int(round(options.dpi * factor)))
        return code, replace(options, dpi=dpi), f"rendered at {dpi} dpi instead of {options.dpi}"
    if kind == "svg":
        from .svgs import _length

        _, _, vw, vh = doc.viewbox
        w = _length(doc.root.get("width"), vw)
        h = _length(doc.root.get("height"), vh)
        W, H = max(16, int(round(w * factor))), max(16, int(round(h * factor)))
        return (
            code,
            replace(options, width=W, height=H),
            f"rendered at {W}x{H} px instead of {int(w)}x{int(h)}",
        )
    if kind == "plotly" and name == "ChartSpec":
        d = doc.copy()
        d.width, d.height = round(d.width * factor, 2), round(d.height * factor, 2)
        return (
            d.code(),
            options,
            f"figure size {int(d.width * 100)}x{int(d.height * 100)} px instead of "
            f"{int(doc.width * 100)}x{int(doc.height * 100)}",
        )
    if kind == "html":
        return f'<div style="zoom: {factor:g}">\n{code}</div>\n', options, f"zoomed {factor:g}x"
    if kind == "markdown":
        return f'<div style="zoom: {factor:g}">\n\n{code}\n</div>\n', options, f"zoomed {factor:g}x"
    return None


class GroupFactory:
    """Builds group ``index`` of ``task`` deterministically from the config (and the user sources)."""

    def __init__(self, cfg: SynthConfig) -> None:
        self.cfg = cfg
        self.sources: dict[str, list[Any]] = {}
        self.icons: tuple[Any, ...] | None = None
        if cfg.source is not None:
            from .sources import find_sources

            found = find_sources(cfg.source, cfg.task)
            for t in cfg.tasks:
                self.sources[t] = [s for s in found if s.task == t]
        if "svg" in cfg.tasks and not self.sources.get("svg"):
            from .svgs import load_icons

            self.icons = load_icons(str(cfg.icons) if cfg.icons else None)

    def active_tasks(self) -> tuple[str, ...]:
        if self.cfg.source is None:
            return self.cfg.tasks
        return tuple(t for t in self.cfg.tasks if self.sources.get(t))

    def build(self, task: str, index: int) -> Group:
        from .sources import generate, parse_source, perturbations_for

        cfg = self.cfg
        rng = group_rng(cfg.seed, task, index)
        gid = f"{task}-{index:05d}"
        if self.sources.get(task):
            src = self.sources[task][index % len(self.sources[task])]
            doc = parse_source(src)
            label = f"source:{src.path.name}"
        else:
            doc = generate(
                task,
                rng,
                plotly_share=cfg.plotly_share,
                markdown_share=cfg.markdown_share,
                icons=self.icons,
                svg_px=cfg.svg_px,
            )
            label = f"generated:{doc.kind}"
        kind = doc.kind
        base = cfg.render_options()
        group = Group(gid, task, index, kind, label, doc.code(), base)
        k = rng.randint(1, max(1, cfg.max_errors))
        steps = build_chain(doc, perturbations_for(doc), k, rng, task, group.perturbation_errors,
                            weights=cfg.weights)
        edits: list[Edit] = []
        for i, (state, edit) in enumerate(steps, 1):
            edits.append(edit)
            group.candidates.append(Candidate(f"p{i}", state.code(), kind, base, list(edits), "perturbed"))
        if rng.random() < cfg.equivalent_rate:
            code = invisible_variant(doc, rng)
            if code is not None:
                group.candidates.append(
                    Candidate(
                        "eq-code",
                        code,
                        kind,
                        base,
                        [],
                        "equivalent_code",
                        "same content, code written differently",
                    )
                )
        if rng.random() < cfg.equivalent_rate:
            resized = resized_variant(doc, kind, base, rng)
            if resized is not None:
                code, opts, note = resized
                group.candidates.append(Candidate("eq-size", code, kind, opts, [], "equivalent_size", note))
        return group


# ------------------------------------------------------------------------------- output folder state


@dataclass
class OutputState:
    """What an output folder already holds (for resuming)."""

    records: list[dict[str, Any]]
    failed: set[str]
    failures: list[dict[str, Any]]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return read_results(path)


def load_state(cfg: SynthConfig, targets: dict[str, int], overwrite: bool) -> OutputState:
    """Complete groups already in ``cfg.out`` (kept in group order, at most ``targets`` records per task)."""
    out = cfg.out
    manifest = out / "manifest.json"
    data = out / "data.jsonl"
    if overwrite:
        for name in ("data.jsonl", "pairwise.jsonl", "failures.jsonl", "sft.jsonl", "manifest.json"):
            (out / name).unlink(missing_ok=True)
        return OutputState([], set(), [])
    if data.exists() and not manifest.exists():
        raise InputError(
            f"{out} holds a data.jsonl that erm synth did not write (no manifest.json); "
            "choose another --out or pass --overwrite"
        )
    if not manifest.exists():
        return OutputState([], set(), [])
    try:
        old = json.loads(manifest.read_text(encoding="utf-8"))
    except ValueError:
        raise InputError(f"{manifest} is not valid JSON; pass --overwrite to start again") from None
    if old.get("config") != cfg.identity():
        diff = sorted(k for k in cfg.identity() if (old.get("config") or {}).get(k) != cfg.identity()[k])
        raise InputError(
            f"{out} was generated with other settings ({', '.join(diff)}); use another --out, the same "
            "settings to resume, or --overwrite"
        )
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in _read_jsonl(data):
        groups.setdefault(str(r.get("group")), []).append(r)
    per_task: dict[str, list[tuple[str, list[dict[str, Any]]]]] = {}
    for gid, recs in groups.items():
        r0 = recs[0]
        if len(recs) == r0.get("group_records") and r0.get("category") in targets:  # complete groups only
            per_task.setdefault(r0["category"], []).append((gid, recs))
    final: list[dict[str, Any]] = []
    for task, items in per_task.items():
        total = sum(len(r) for _, r in items)
        kept = 0
        for gid, recs in sorted(items):
            truncated = recs[0].get("group_records", 0) < recs[0].get("group_total", 0)
            if truncated and total < targets[task]:  # the task now needs more: rebuild this group whole
                total -= len(recs)
                continue
            room = targets[task] - kept
            if room <= 0:
                break
            if len(recs) > room:  # a smaller --n than before
                recs = recs[:room]
                for r in recs:
                    r["group_records"] = len(recs)
            final.extend(recs)
            kept += len(recs)
    failures = _read_jsonl(out / "failures.jsonl")
    failed = {str(f.get("group")) for f in failures if f.get("stage") == "reference"}
    return OutputState(final, failed, failures)


# ------------------------------------------------------------------------------- processing renders


def _pixels(png: bytes):  # type: ignore[no-untyped-def]
    import numpy as np

    from ..imageio import load_image

    return np.asarray(load_image(png, what="render"))


#: A render "changed" when at least this many pixels differ by more than NOISE_LEVEL in some channel;
#: smaller differences are anti-aliasing noise (a circle rotated about its centre, a path re-spelled).
MIN_CHANGED_PIXELS = 3
NOISE_LEVEL = 20


def same_pixels(a: Any, b: Any) -> bool:
    """True when two renders look the same: same size and no more than anti-aliasing noise between them."""
    import numpy as np

    if a.shape != b.shape:
        return False
    if np.array_equal(a, b):
        return True
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=-1)
    return int((diff > NOISE_LEVEL).sum()) < MIN_CHANGED_PIXELS


def changed_mask(a: Any, b: Any) -> Any:
    """Pixels that differ by more than anti-aliasing noise (None when the sizes differ)."""
    import numpy as np

    if a.shape != b.shape:
        return None
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=-1) > NOISE_LEVEL


def _image_size(png: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        return im.size


def process_group(
    group: Group, results: dict[str, Any], images: Path, stats: SynthStats
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Records and failures of one rendered group (images written to ``images``)."""
    failures: list[dict[str, Any]] = []
    for msg in group.perturbation_errors:
        failures.append({"group": group.gid, "task": group.task, "stage": "perturbation", "error": msg})
    ref = results["ref"]
    if not ref.ok or not ref.png:
        failures.append(
            {
                "group": group.gid,
                "task": group.task,
                "stage": "reference",
                "error": ref.error or "reference did not render",
            }
        )
        return [], failures
    ref_px = _pixels(ref.png)
    if ref_px.min() == ref_px.max():
        failures.append(
            {"group": group.gid, "task": group.task, "stage": "reference", "error": "blank reference render"}
        )
        return [], failures
    size = _image_size(ref.png)
    ref_name = f"images/{group.gid}-ref.png"
    pending: list[tuple[Candidate, bytes, list[int], str]] = []
    prev = ref_px
    visible: list[int] = []
    masks: dict[int, Any] = {}  # visible edit -> pixels it changed
    chain_ok = True
    for cand in group.candidates:
        res = results[cand.suffix]
        if cand.pair_type == "perturbed" and not chain_ok:
            continue
        if not res.ok or not res.png:
            failures.append(
                {
                    "group": group.gid,
                    "task": group.task,
                    "stage": "candidate",
                    "candidate": cand.suffix,
                    "error": res.error or "did not render",
                }
            )
            stats.failed_candidates += 1
            if cand.pair_type == "perturbed":
                chain_ok = False
            continue
        px = _pixels(res.png)
        if cand.pair_type == "perturbed":
            step = len(cand.edits) - 1
            if same_pixels(px, prev):
                stats.noop_steps += 1
                if step == 0:
                    pending.append((cand, res.png, [], "noop"))
                continue
            mask = changed_mask(prev, px)
            hidden = [
                j
                for j, m in masks.items()
                if m is not None
                and mask is not None
                and m.shape == mask.shape
                and m.any()
                and (m & mask).sum() / m.sum() > MAX_MASKED_SHARE
            ]
            if hidden:  # this edit repaints what an earlier one changed: the labels could lie from here on
                failures.append(
                    {
                        "group": group.gid,
                        "task": group.task,
                        "stage": "masked",
                        "candidate": cand.suffix,
                        "error": f"{cand.edits[step].name} may hide "
                        f"{', '.join(cand.edits[j].name for j in hidden)}; chain stopped",
                    }
                )
                chain_ok = False
                continue
            masks[step] = mask
            visible.append(step)
            prev = px
            pending.append((cand, res.png, list(visible), "perturbed"))
        elif cand.pair_type == "equivalent_code":
            if not same_pixels(px, ref_px):
                failures.append(
                    {
                        "group": group.gid,
                        "task": group.task,
                        "stage": "equivalent",
                        "candidate": cand.suffix,
                        "error": "the invisible code change changed pixels; pair dropped",
                    }
                )
                continue
            pending.append((cand, res.png, [], cand.pair_type))
        else:
            pending.append((cand, res.png, [], cand.pair_type))
    if not pending:
        return [], failures
    (images / Path(ref_name).name).write_bytes(ref.png)
    records = []
    for cand, png, edit_ids, pair_type in pending:
        name = f"images/{group.gid}-{cand.suffix}.png"
        (images / Path(name).name).write_bytes(png)
        errors = []
        for i in edit_ids:
            err = cand.edits[i].to_error(size).to_dict()
            err["type"] = err["category"]  # Visual-ERM's evaluation filters gold errors by "type"
            errors.append(err)
        names = [cand.edits[i].name for i in edit_ids]
        note = cand.note or ("the perturbation did not change the render" if pair_type == "noop" else "")
        records.append(
            {
                "id": f"{group.gid}-{cand.suffix}",
                "category": group.task,
                "gt_img_path": ref_name,
                "pred_img_path": name,
                "human_errors": errors,
                "gt_code": group.ref_code,
                "pred_code": cand.code,
                "kind": group.kind,
                "pair_type": pair_type,
                "severity_total": sum(e["severity"] for e in errors),
                "perturbations": names,
                "edit_ids": edit_ids,
                "group": group.gid,
                "source": group.source,
                "note": note,
                "render": {
                    "gt_size": list(size),
                    "pred_size": list(_image_size(png)),
                    "dpi": cand.options.dpi,
                    "width": cand.options.width,
                    "height": cand.options.height,
                },
            }
        )
    return records, failures


# ------------------------------------------------------------------------------- the run


def _render_batch(groups: list[Group], workers: int | None, executor: Any = None) -> dict[str, dict[str, Any]]:
    """Render every code of the batch (grouped by render options); results by group id and suffix.
    ``executor`` (``--ray``): the whole batch is one map on its workers, each item with its own options."""
    from ..renderers import render_many

    jobs: dict[RenderOptions, list[tuple[str, str, str, str]]] = {}
    for g in groups:
        jobs.setdefault(g.ref_options, []).append((g.gid, "ref", g.ref_code, g.kind))
        for c in g.candidates:
            jobs.setdefault(c.options, []).append((g.gid, c.suffix, c.code, c.kind))
    out: dict[str, dict[str, Any]] = {g.gid: {} for g in groups}
    if executor is not None:
        from ..renderers.api import RenderItem

        flat = [(gid, suffix, RenderItem(code, kind, options)) for options, items in jobs.items()
                for gid, suffix, code, kind in items]
        for (gid, suffix, _), res in zip(flat, render_many([item for _, _, item in flat], executor=executor)):
            out[gid][suffix] = res
        return out

    def run(options: RenderOptions, items: list[tuple[str, str, str, str]]) -> None:
        results = render_many([(code, kind) for _, _, code, kind in items], options, workers=workers)
        for (gid, suffix, _, _), res in zip(items, results):
            out[gid][suffix] = res

    # one render_many per set of options (dpi/size variants), all at once so the sandbox pool stays busy
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="erm-synth") as pool:
        for fut in [pool.submit(run, options, items) for options, items in jobs.items()]:
            fut.result()
    return out


def validate(cfg: SynthConfig, formats: Iterable[str] = ()) -> GroupFactory:
    """Check the settings and the inputs (sources, icons); returns the group factory. Raises InputError."""
    from .formats import FORMATS

    if cfg.task not in TASK_ORDER + ("all",):
        raise InputError(f"unknown task {cfg.task!r}; choose chart, table, svg or all")
    if cfg.n < 1:
        raise InputError("--n must be at least 1")
    if not 1 <= cfg.max_errors <= 8:
        raise InputError("--max-errors must be between 1 and 8")
    from ..renderers.profiles import check_profile

    check_profile(cfg.profile)
    for f in formats:
        if f not in FORMATS:
            raise InputError(f"unknown format {f!r}; choose from: {', '.join(FORMATS)}")
    if cfg.out.exists() and not cfg.out.is_dir():
        raise InputError(f"--out is not a folder: {cfg.out}")
    return GroupFactory(cfg)


def _give_up_on_failed_references(task: str, failures: int, made: int, target: int, n_sources: int,
                                   last: str) -> None:
    """Stop instead of retrying without end when references keep failing to render (a ``--source`` file that
    always hits the time limit was drawn again and again): every source file failed before any pair was made,
    or as many failures as the generator's own give-up rule allows."""
    every_source_failed = bool(n_sources) and made == 0 and failures >= n_sources
    if every_source_failed or failures > 10 * target + 50:
        what = "every source file" if every_source_failed else "too many references"
        raise InputError(f"gave up on task {task}: {what} failed to render (last: {last})")


def run_synth(
    cfg: SynthConfig,
    *,
    overwrite: bool = False,
    formats: Iterable[str] = (),
    on_record: Callable[[int, int], Any] | None = None,
    executor: Any = None,
) -> SynthStats:
    """Generate ``cfg.n`` labelled pairs into ``cfg.out``; returns statistics (also in manifest.json).
    ``executor`` (e.g. a Ray pool, ``--ray``) renders on its workers; everything else runs here."""
    from . import formats as fmt

    formats = tuple(formats)
    factory = validate(cfg, formats)
    t0 = time.perf_counter()
    cfg.out.mkdir(parents=True, exist_ok=True)
    images = cfg.out / "images"
    images.mkdir(exist_ok=True)
    targets = cfg.targets()
    active = factory.active_tasks()
    if len(active) < len(cfg.tasks):  # sources cover only some tasks: they share all of --n
        base, extra = divmod(cfg.n, len(active))
        targets = {t: base + (1 if i < extra else 0) for i, t in enumerate(active)}
    state = load_state(cfg, targets, overwrite)
    stats = SynthStats()
    records: list[dict[str, Any]] = list(state.records)
    stats.resumed_records = stats.records = len(records)
    counts = {t: sum(1 for r in records if r.get("category") == t) for t in targets}
    done_groups = {str(r.get("group")) for r in records} | state.failed
    next_index = {t: 0 for t in targets}
    reference_failures = {t: 0 for t in targets}
    data_path = cfg.out / "data.jsonl"
    fmt.write_jsonl(data_path, records)  # drop incomplete groups left by an interruption
    fmt.write_manifest(cfg, stats, targets, running=True)
    failures_fh = (cfg.out / "failures.jsonl").open("a", encoding="utf-8")
    total = sum(targets.values())
    if on_record:
        on_record(stats.records, total)
    try:
        while any(counts[t] < targets[t] for t in targets):
            batch: list[Group] = []
            budget = {t: targets[t] - counts[t] for t in targets}
            while len(batch) < cfg.batch_groups and any(budget[t] > 0 for t in targets):
                for t in targets:
                    if budget[t] <= 0 or len(batch) >= cfg.batch_groups:
                        continue
                    idx = next_index[t]
                    next_index[t] += 1
                    gid = f"{t}-{idx:05d}"
                    if gid in done_groups:
                        continue
                    try:
                        g = factory.build(t, idx)
                    except InputError as exc:
                        failures_fh.write(
                            json.dumps({"group": gid, "task": t, "stage": "reference", "error": str(exc)})
                            + "\n"
                        )
                        stats.failed_groups += 1
                        done_groups.add(gid)
                        if idx > 10 * targets[t] + 50:
                            raise InputError(
                                f"gave up on task {t}: too many groups failed (last: {exc})"
                            ) from None
                        continue
                    batch.append(g)
                    budget[t] -= 1 + len(g.candidates)
            if not batch:
                continue
            rendered = _render_batch(batch, cfg.workers, executor)
            for g in sorted(batch, key=lambda x: (TASK_ORDER.index(x.task), x.index)):
                res = rendered[g.gid]
                stats.renders += len(res)
                stats.cache_hits += sum(1 for r in res.values() if r.cache_hit)
                try:
                    recs, fails = process_group(g, res, images, stats)
                except Exception as exc:  # noqa: BLE001 - a bug in one group must not lose the batch
                    recs, fails = (
                        [],
                        [
                            {
                                "group": g.gid,
                                "task": g.task,
                                "stage": "reference",
                                "error": f"internal error: {exc.__class__.__name__}: {exc}"[:500],
                            }
                        ],
                    )
                for f in fails:
                    failures_fh.write(json.dumps(stamp(f), ensure_ascii=False) + "\n")
                    if f["stage"] == "reference":
                        stats.failed_groups += 1
                        reference_failures[g.task] += 1
                        _give_up_on_failed_references(g.task, reference_failures[g.task], counts[g.task],
                                                      targets[g.task], len(factory.sources.get(g.task) or []),
                                                      f["error"])
                done_groups.add(g.gid)
                room = targets[g.task] - counts[g.task]
                if not recs or room <= 0:
                    continue
                kept = recs[:room]
                for r in kept:
                    r["group_records"] = len(kept)
                    r["group_total"] = len(recs)
                with data_path.open("a", encoding="utf-8") as fh:
                    fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
                records.extend(kept)
                counts[g.task] += len(kept)
                stats.records += len(kept)
                stats.groups += 1
                if on_record:
                    on_record(stats.records, total)
            failures_fh.flush()
    finally:
        failures_fh.close()
    records = fmt.sort_records(records)
    fmt.write_jsonl(data_path, records)
    pairs = fmt.pairwise_records(records)
    fmt.write_jsonl(cfg.out / "pairwise.jsonl", pairs)
    _remove_stray_images(images, records)
    for f in formats:
        fmt.write_format(f, cfg.out, records, pairs)
    stats.seconds = time.perf_counter() - t0
    _tally(stats, records)
    fmt.write_manifest(cfg, stats, targets, running=False, n_pairs=len(pairs), formats=formats)
    return stats


def _remove_stray_images(images: Path, records: list[dict[str, Any]]) -> None:
    """Images of groups dropped on resume (or beyond a smaller ``--n``) are removed."""
    keep = {Path(r["gt_img_path"]).name for r in records} | {Path(r["pred_img_path"]).name for r in records}
    for p in images.glob("*.png"):
        if p.name not in keep:
            p.unlink(missing_ok=True)


def _tally(stats: SynthStats, records: list[dict[str, Any]]) -> None:
    stats.by_task, stats.by_pair_type, stats.by_category, stats.by_severity = {}, {}, {}, {}
    for r in records:
        stats.by_task[r["category"]] = stats.by_task.get(r["category"], 0) + 1
        stats.by_pair_type[r["pair_type"]] = stats.by_pair_type.get(r["pair_type"], 0) + 1
        for e in r["human_errors"]:
            key = f"{r['category']}.{e['category']}"
            stats.by_category[key] = stats.by_category.get(key, 0) + 1
            stats.by_severity[str(e["severity"])] = stats.by_severity.get(str(e["severity"]), 0) + 1


def default_workers() -> int:
    return max(2, min(8, os.cpu_count() or 2))
