"""Critic robustness: equivalents through nuisance routes must get no error, perturbations must be found.

    .venv/bin/python benchmarks/critic_robustness.py --out /tmp/robust             # default run (~15 min, 2 cores)
    .venv/bin/python benchmarks/critic_robustness.py --sources gallery --limit 20 --out /tmp/g
    .venv/bin/python benchmarks/critic_robustness.py --out /tmp/robust --limit synth=96   # docs/CRITIC.md figures
    .venv/bin/python benchmarks/critic_robustness.py --out /tmp/robust --metrics-only --json m.json

Sources (``--sources``, comma-separated):

- ``gallery``: ../shared/data/matplotlib-gallery/pairs.jsonl as it is: real matplotlib gallery figures,
  equivalents through 5 routes (dpi72, pdf, svg, jpeg, aa; pdf/svg are the hard ones) and single-error
  perturbations with gold labels. Third-party, reported on its own, split "report" (never for training).
- ``synth``: erm's generators (matplotlib charts and SVG icon scenes). Per base: erm's render as reference,
  equivalents through :mod:`erm_cli.data.nuisance`, single-error candidates through erm's perturbation
  engine (chart specs and the code-level edits of ``perturb_code``: every kind in turn across bases) and a
  3-error superset of one of them (pairwise).
- ``tables``: erm's generated tables; equivalents include the ``document`` route (serif, rules only,
  right-aligned numbers) against erm's plain grid render.
- ``icons``: real icons from ../shared/data/{bootstrap,feather,lucide}-icons at 256 px, with the SVG routes
  and erm's SVG perturbations.
- ``resvg``: ../shared/data/resvg-test-suite: each test's reference PNG against erm's cairosvg render; label
  from upstream's manual librsvg verdict (passed = equivalent, failed = different), plus the tests hand-labelled
  in benchmarks/resvg_labels.csv (reported again as ``resvg-hand`` with those labels; ``--limit resvg-hand=N``
  caps how many are added). Its ``tests/`` folder
  holds the suite's own reference renders (not the resvg crate's regression PNGs, which stay reserved).

Every judged pair becomes one line of ``OUT/pairs.jsonl`` (id, source, base, split, label, route or kind,
gold and reported errors, critic reward and the coarse baselines 1-MSE, SSIM, pHash, 1 - differing pixels);
``OUT/bases.jsonl`` lists finished bases, so a rerun resumes, and ``--metrics-only`` recomputes the metrics
offline. Each base has a ``split`` (train / dev / test from a hash of its id) so a learned verifier can train on
erm-generated train bases; ``--splits test`` reports only test bases. Metrics: erm_cli/bench/robustness.py.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

SOURCES = ("gallery", "synth", "tables", "icons", "resvg")
#: Bases per source of the default run (about 15 minutes on 2 cores with the current critic).
#: ``resvg-hand``: how many of the 198 hand-labelled resvg tests the resvg source adds to its even spread.
DEFAULT_LIMITS = {"gallery": 133, "synth": 32, "tables": 12, "icons": 12, "resvg": 120, "resvg-hand": 198}
ICON_FAMILIES = ("bootstrap-icons", "feather-icons", "lucide-icons")
SINGLES_PER_BASE = 5
#: The perturbation kinds the benchmark draws from by default (``--all-kinds``: the whole registry): every kind
#: issue 12 lists (line style, plot<->scatter, marker, font size, slight shade, colour map, grid, data values,
#: text typos, duplicated row, sign flip, chart type) and a few more per task. SVG: the whole registry.
ISSUE_KINDS = {
    "ChartSpec": ("chart.line_style", "chart.chart_type", "chart.marker", "chart.font_size", "chart.series_color",
                  "chart.colormap", "chart.grid", "chart.data_values", "chart.title", "chart.tick_label"),
    "CodeDoc": ("code.linestyle", "code.marker", "code.font_size", "code.colour", "code.grid", "code.data_value",
                "code.text_typo"),
    "Table": ("table.duplicate_row", "table.number_sign", "table.typo", "table.number_digit", "table.drop_row",
              "table.text_replace", "table.swap_rows", "table.decimal_point"),
}
TASK_OF_SOURCE = {"gallery": "chart", "tables": "table", "icons": "svg", "resvg": "svg"}


# ============================================================================================ bases
def shared_dir() -> Path:
    from erm_cli.config import shared_data_dir

    found = shared_data_dir()
    if found is None:
        raise SystemExit("error: ../shared/data not found (set ERM_SHARED_DATA)")
    return found


def gallery_bases(limit: int | None) -> list[dict[str, Any]]:
    from erm_cli.jsonl import iter_jsonl

    root = shared_dir() / "matplotlib-gallery"
    by_base: dict[str, list[dict[str, Any]]] = {}
    for _, row in iter_jsonl(root / "pairs.jsonl"):
        base = row["id"].split("/")[1]
        by_base.setdefault(base, []).append(row)
    names = sorted(by_base)
    if limit:
        names = _spread(names, limit)  # an even spread over the sections, not the first ones
    return [{"source": "gallery", "base": n, "root": str(root), "rows": by_base[n]} for n in names]


def synth_bases(source: str, limit: int, seed: int) -> list[dict[str, Any]]:
    tasks = {"synth": ("chart", "svg"), "tables": ("table",)}[source]
    out = []
    for i in range(limit):
        task = tasks[i % len(tasks)]
        out.append({"source": source, "base": f"{source}-{task}-{seed}-{i:04d}", "task": task, "index": i,
                    "task_index": i // len(tasks), "seed": seed})
    return out


def icon_bases(limit: int, seed: int) -> list[dict[str, Any]]:
    root = shared_dir()
    files = []
    for fam in ICON_FAMILIES:
        folder = root / fam
        files.extend(sorted(str(p) for p in folder.rglob("*.svg")) if folder.is_dir() else [])
    rng = random.Random(f"erm-robustness-icons:{seed}")
    picked = rng.sample(files, min(limit, len(files)))
    return [{"source": "icons", "base": f"icons-{Path(p).parent.parent.name}-{Path(p).stem}", "path": p,
             "index": k, "task_index": k, "seed": seed, "task": "svg"} for k, p in enumerate(picked)]


def _spread(items: list[Any], limit: int) -> list[Any]:
    if limit >= len(items):
        return items
    step = len(items) / limit
    return [items[int(k * step)] for k in range(limit)]


def resvg_bases(limit: int, hand_limit: int) -> list[dict[str, Any]]:
    import critic_quality as cq

    root = shared_dir() / "resvg-test-suite"
    items = cq.resvg_items(root, limit)  # an even spread over the suite, librsvg verdicts
    seen = {it["title"] for it in items}
    hand = cq.resvg_items(root, None, manual_only=True)
    items += [it for it in _spread(hand, hand_limit) if it["title"] not in seen]  # the hand-labelled tests
    return [{"source": "resvg", "base": f"resvg-{it['title']}", "title": it["title"], "svg": str(it["svg"]),
             "png": str(it["png"]), "equivalent": it["librsvg_equivalent"], "manual": it["manual_equivalent"]}
            for it in items]


def all_bases(sources: list[str], limits: dict[str, int], seed: int) -> list[dict[str, Any]]:
    bases: list[dict[str, Any]] = []
    for s in sources:
        if s == "gallery":
            bases += gallery_bases(limits[s])
        elif s in ("synth", "tables"):
            bases += synth_bases(s, limits[s], seed)
        elif s == "icons":
            bases += icon_bases(limits[s], seed)
        elif s == "resvg":
            bases += resvg_bases(limits[s], limits["resvg-hand"])
    return bases


# ============================================================================================ judging
_JUDGE: Any = None


def _judge(name: str) -> Any:
    global _JUDGE
    if _JUDGE is None:
        from erm_cli.judges import get_judge

        _JUDGE = get_judge(name)
    return _JUDGE


def _img(png: bytes) -> Any:
    from PIL import Image

    return Image.open(io.BytesIO(png)).convert("RGB")


def _errors(items: list[Any]) -> list[dict[str, Any]]:
    return [{"category": e.category, "severity": int(e.severity), "description": str(e.description)[:160]}
            for e in items]


def judge_pair(judge_name: str, task: str, ref: Any, cand: Any) -> dict[str, Any]:
    """Judge one pair with the judge and the coarse baselines: ``pred``, ``scores``, ``seconds``."""
    from erm_cli.bench.robustness import baseline_scores

    t0 = time.perf_counter()
    base_scores = {k: round(s, 6) for k, s in baseline_scores(ref, cand).items()}
    try:
        v = _judge(judge_name).judge(ref, cand, task)
    except Exception as exc:  # noqa: BLE001 - a judge crash is recorded (and counted), not fatal to the base
        return {"pred": [], "scores": base_scores, "seconds": round(time.perf_counter() - t0, 3),
                "judge_error": f"{exc.__class__.__name__}: {exc}".splitlines()[0][:300]}
    seconds = time.perf_counter() - t0
    return {"pred": _errors(v.errors), "scores": {judge_name: round(float(v.reward), 6), **base_scores},
            "seconds": round(seconds, 3)}


def _record(base: dict[str, Any], split: str, pid: str, label: str, task: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"{base['base']}/{pid}", "source": base["source"], "base": base["base"], "split": split,
            "task": task, "label": label, **extra}


def run_gallery(base: dict[str, Any], judge_name: str) -> Iterator[dict[str, Any]]:
    from erm_cli.imageio import load_image

    root = Path(base["root"])
    for row in base["rows"]:
        ref = load_image(root / row["gt_img_path"], what="reference")
        cand = load_image(root / row["pred_img_path"], what="candidate")
        same = row["verdict"] == "same"
        route = row.get("route")
        yield _record(base, "report", row["id"].split("/")[-1], "equivalent" if same else "perturbed", "chart",
                      route=route, hard=route in ("pdf", "svg"), kind=row.get("kind"),
                      group=None, gold=[{"category": e["category"], "severity": int(e["severity"])}
                                        for e in row.get("human_errors", [])],
                      **judge_pair(judge_name, "chart", ref, cand))


def run_resvg(base: dict[str, Any], judge_name: str) -> Iterator[dict[str, Any]]:
    import critic_quality as cq

    from erm_cli.imageio import load_image

    ref = load_image(Path(base["png"]), what="reference")
    cand, err = cq.render_cairosvg(Path(base["svg"]))
    yield _record(base, "report", "cairosvg", "equivalent" if base["equivalent"] else "different", "svg",
                  route="cairosvg", hard=True, gold=[], manual_equivalent=base["manual"], render_error=err,
                  **judge_pair(judge_name, "svg", ref, cand))


def _kind_name(edit: Any) -> str:
    """The perturbation kind reported: the engine's name, refined where the issue names a sub-kind."""
    ev = edit.evidence or {}
    if edit.name == "chart.chart_type" and {ev.get("old"), ev.get("new")} == {"scatter", "line"}:
        return "chart.plot_scatter"
    if edit.name in ("chart.series_color", "code.colour") and int(edit.severity) == 1:
        return f"{edit.name}:slight"
    return edit.name


def _docs(base: dict[str, Any], all_kinds: bool = False) -> tuple[Any, list[tuple[Any, dict[str, Any]]]]:
    """The base's ground-truth document and the (document, registry) pairs its edits are drawn from."""
    from erm_cli.data.sources import generate, perturbations_for

    rng = random.Random(f"erm-robustness:{base['seed']}:{base['base']}")
    if base["source"] == "icons":
        from erm_cli.data.svgs import parse_svg

        doc = parse_svg(Path(base["path"]).read_text(encoding="utf-8"))
        doc.root.set("width", "256")
        doc.root.set("height", "256")
    else:
        doc = generate(base["task"], rng, plotly_share=0.0, markdown_share=0.35, svg_px=256)
    families = [(doc, perturbations_for(doc))]
    if doc.kind == "matplotlib":  # the code-level edits (typos, line style, marker, font size...) too
        from erm_cli.data.perturb_code import PERTURBATIONS, CodeDoc

        code_doc = CodeDoc(doc.code(), "matplotlib")
        if code_doc.sites():
            families.append((code_doc, PERTURBATIONS))
    if not all_kinds:
        families = [(d, {n: i for n, i in reg.items() if n in ISSUE_KINDS.get(type(d).__name__, reg)})
                    for d, reg in families]
    return doc, families


def _render(code: str, kind: str) -> bytes | None:
    from erm_cli.renderers import render

    result = render(code, kind, cache="retry-failed")  # a cached sandbox hiccup is not the code's fault
    return result.png if result.ok else None


def run_generated(base: dict[str, Any], judge_name: str, singles: int = SINGLES_PER_BASE,
                  all_kinds: bool = False) -> Iterator[dict[str, Any]]:
    """A base from erm's generators: reference, nuisance equivalents, single edits, one 3-error superset."""
    from erm_cli.bench.robustness import split_of
    from erm_cli.data.nuisance import equivalents, is_hard
    from erm_cli.data.synth import _pixels, build_chain, same_pixels

    task = base["task"]
    split = split_of(base["base"])
    doc, families = _docs(base, all_kinds)
    kind = doc.kind
    ref_png = _render(doc.code(), kind)
    if ref_png is None:
        raise RuntimeError(f"the reference did not render ({kind})")
    ref = _img(ref_png)
    ref_px = _pixels(ref_png)
    eq = equivalents(doc.code(), kind, ref_png, seed=int(base["index"]))
    for route, png in eq.items():
        yield _record(base, split, f"eq-{route}", "equivalent", task, route=route, hard=is_hard(route), kind=None,
                      group=None, gold=[], code_kind=kind, **judge_pair(judge_name, task, ref, _img(png)))
    # every kind in turn across bases: base i starts the rotation at i * singles
    names = [(fam, name) for fam, (_, reg) in enumerate(families) for name in sorted(reg)]
    start = (int(base["task_index"]) * singles) % max(1, len(names))
    order = names[start:] + names[:start]
    rng = random.Random(f"erm-robustness-edits:{base['seed']}:{base['base']}")
    kept: list[tuple[int, str, Any, Any]] = []
    for fam, name in order:
        if len(kept) >= singles:
            break
        src, reg = families[fam]
        for _attempt in range(3):
            trial = src.copy()
            try:
                edit = reg[name].fn(trial, rng)
                code = trial.code() if edit is not None else None
            except Exception:  # noqa: BLE001 - a perturbation that does not apply is skipped
                edit, code = None, None
            if edit is None or code is None or code == src.code():
                continue
            png = _render(code, kind)
            if png is None or same_pixels(_pixels(png), ref_px):
                continue
            kept.append((fam, name, trial, edit))
            gold = [{"category": edit.category, "severity": int(edit.severity)}]
            group = f"{base['base']}/{name}"
            yield _record(base, split, f"p1-{name}", "perturbed", task, route=None, hard=False,
                          kind=_kind_name(edit), group=group, gold=gold, code_kind=kind,
                          description=edit.description[:200], **judge_pair(judge_name, task, ref, _img(png)))
            break
    for fam, name, trial, edit in kept:  # one 3-error superset: the first single that takes two more edits
        _src, reg = families[fam]
        steps = build_chain(trial, {n: i for n, i in reg.items() if n != name}, 2, rng, task)
        if len(steps) < 2:
            continue
        png = _render(steps[-1][0].code(), kind)
        if png is None or same_pixels(_pixels(png), ref_px):
            continue
        gold = [{"category": e.category, "severity": int(e.severity)} for e in [edit] + [s[1] for s in steps]]
        yield _record(base, split, f"p3-{name}", "triple", task, route=None, hard=False, kind=_kind_name(edit),
                      group=f"{base['base']}/{name}", gold=gold, code_kind=kind,
                      **judge_pair(judge_name, task, ref, _img(png)))
        break


def run_base(base: dict[str, Any], judge_name: str, all_kinds: bool = False,
             singles: int = SINGLES_PER_BASE) -> tuple[dict[str, Any], list[dict[str, Any]], str | None]:
    """All records of one base (a worker's unit of work); never raises."""
    try:
        if base["source"] == "gallery":
            rows = list(run_gallery(base, judge_name))
        elif base["source"] == "resvg":
            rows = list(run_resvg(base, judge_name))
        else:
            rows = list(run_generated(base, judge_name, singles, all_kinds))
        return base, rows, None
    except Exception as exc:  # noqa: BLE001 - one bad base must not stop the run
        return base, [], f"{exc.__class__.__name__}: {exc}".splitlines()[0][:300]


def hand_label_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The resvg pairs that a person labelled (benchmarks/resvg_labels.csv), as their own source ``resvg-hand``:
    label from the hand verdict (looks the same = equivalent) instead of upstream's librsvg column."""
    out = []
    for r in records:
        if r["source"] == "resvg" and r.get("manual_equivalent") is not None:
            out.append({**r, "source": "resvg-hand", "id": f"hand/{r['id']}",
                        "label": "equivalent" if r["manual_equivalent"] else "different"})
    return out


# ============================================================================================ report
def _f(v: Any) -> str:
    return "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))


def _best(b: dict[str, Any], key: str) -> str:
    best = b["best_baseline"].get(key)
    return f"{_f(best['value'])} ({best['scorer']})" if best else "-"


SUMMARY_ROWS: list[tuple[str, Any]] = [
    ("pairs (equivalent / hard / negative)",
     lambda b, j: f"{b['pairs']} ({b['equivalents']} / {b['hard_equivalents']} / {b['negatives']})"),
    ("AUROC, all equivalents", lambda b, j: _f(b["auroc"].get(j))),
    ("  best coarse baseline", lambda b, j: _best(b, "auroc")),
    ("AUROC, hard equivalents", lambda b, j: _f(b["auroc_hard"].get(j))),
    ("  best coarse baseline", lambda b, j: _best(b, "auroc_hard")),
    ("pairwise: 1 error above its 3-error superset",
     lambda b, j: f"{_f(b['pairwise_subset'].get(j, {}).get('accuracy'))} (n={b['pairwise_subset'].get(j, {}).get('pairs', 0)})"),
    ("  best coarse baseline", lambda b, j: _best(b, "pairwise_subset")),
    ("pairwise: equivalent above perturbed (same base)",
     lambda b, j: _f(b["pairwise_equivalent"].get(j, {}).get("accuracy"))),
    ("equivalents with no error", lambda b, j: _f(b.get("equivalent_no_error"))),
    ("hard equivalents with no error", lambda b, j: _f(b.get("hard_equivalent_no_error"))),
    ("false-positive rate (equivalents with an error)", lambda b, j: _f(b.get("false_positive_rate"))),
    ("recall: perturbation found (any error)", lambda b, j: _f(b.get("recall", {}).get("found"))),
    ("recall: gold category reported", lambda b, j: _f(b.get("recall", {}).get("category_found"))),
    ("category-count precision", lambda b, j: _f(b.get("category_counts", {}).get("precision"))),
    ("category-count recall", lambda b, j: _f(b.get("category_counts", {}).get("recall"))),
    ("severity Pearson", lambda b, j: _f(b.get("severity_pearson"))),
    ("pairs where the judge raised (left out)", lambda b, j: str(b.get("judge_errors", 0))),
]


def print_report(metrics: dict[str, Any], judge: str) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(width=160)
    blocks = dict(metrics["sources"])
    if "erm_generated" in metrics:
        blocks["synth+tables"] = metrics["erm_generated"]
    t = Table(title=f"{judge} robustness (percent; AUROC: positive = equivalent)")
    t.add_column("metric")
    for name in blocks:
        t.add_column(name, justify="right")
    for label, fn in SUMMARY_ROWS:
        t.add_row(label, *(fn(b, judge) for b in blocks.values()))
    con.print(t)
    scorers = (judge, "mse", "ssim", "phash", "pixels")
    for name, b in metrics["sources"].items():
        r = Table(title=f"{name}: per route (equivalents) and per perturbation kind")
        for col in ("route / kind", "n", "no error / found", "category found", *(f"AUROC {s}" for s in scorers)):
            r.add_column(col, justify="right")
        for rt, v in b.get("no_error_per_route", {}).items():
            a = b["auroc_per_route"].get(rt, {})
            r.add_row(f"equivalent: {rt}", str(v["n"]), _f(v["no_error"]), "", *(_f(a.get(s)) for s in scorers))
        for k, v in b.get("recall_per_kind", {}).items():
            r.add_row(k, str(v["n"]), _f(v["found"]), _f(v["category_found"]), *([""] * len(scorers)))
        con.print(r)
        if b.get("false_positive_categories"):
            con.print(f"  categories reported on equivalents: {b['false_positive_categories']}")
    if metrics.get("median_judge_seconds") is not None:
        con.print(f"median {judge} time per pair: {metrics['median_judge_seconds']:.2f} s")


# ============================================================================================ main
def parse_limits(text: str | None) -> dict[str, int]:
    """``None`` -> the defaults; ``"40"`` -> 40 bases for every source; ``"synth=96,gallery=20"`` -> per source."""
    limits = dict(DEFAULT_LIMITS)
    if not text:
        return limits
    for part in text.split(","):
        name, _, value = part.strip().rpartition("=")
        if name and name not in DEFAULT_LIMITS:
            raise ValueError(f"unknown source {name!r}")
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{part.strip()!r}: a limit is a whole number of bases, at least 1")
        for s in ([name] if name else DEFAULT_LIMITS):
            limits[s] = int(value)
    return limits


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sources", default=",".join(SOURCES), help=f"comma-separated: {', '.join(SOURCES)}")
    p.add_argument("--limit", default=None,
                   help="bases per source: N for every source, or SOURCE=N,... (others keep the default ~15-minute run)")
    p.add_argument("--judge", default="critic", help="judge name (default critic)")
    p.add_argument("--out", type=Path, required=True, help="folder for pairs.jsonl / bases.jsonl / metrics.json")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--singles", type=int, default=SINGLES_PER_BASE, help="single-error candidates per generated base")
    p.add_argument("--all-kinds", action="store_true", help="draw edits from the whole perturbation registry")
    p.add_argument("--splits", default=None, help="report only these splits, e.g. 'test' or 'test,report'")
    p.add_argument("--metrics-only", action="store_true", help="recompute the metrics from OUT/pairs.jsonl")
    p.add_argument("--json", type=Path, default=None, help="also write the metrics as JSON here ('-' = stdout)")
    args = p.parse_args(argv)

    from erm_cli.bench.robustness import robustness_metrics
    from erm_cli.jsonl import JsonlSink, read_results

    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    bad = [s for s in sources if s not in SOURCES]
    if bad:
        print(f"error: unknown source(s) {', '.join(bad)}; choose from {', '.join(SOURCES)}", file=sys.stderr)
        return 2
    try:
        limits = parse_limits(args.limit)
    except ValueError as exc:
        print(f"error: --limit: {exc}", file=sys.stderr)
        return 2
    pairs_path, bases_path = args.out / "pairs.jsonl", args.out / "bases.jsonl"
    if not args.metrics_only:
        bases = all_bases(sources, limits, args.seed)
        done = {r["base"] for r in read_results(bases_path) if r.get("judge") == args.judge and not r.get("error")}
        todo = [b for b in bases if b["base"] not in done]
        print(f"{len(bases)} bases, {len(bases) - len(todo)} already done, {len(todo)} to run "
              f"({args.workers} workers)", file=sys.stderr)
        pairs_sink, bases_sink = JsonlSink(pairs_path), JsonlSink(bases_path)
        t0 = time.perf_counter()
        n_pairs = 0

        def store(base: dict[str, Any], rows: list[dict[str, Any]], err: str | None) -> None:
            nonlocal n_pairs
            for row in rows:
                pairs_sink.write({**row, "judge": args.judge})
            n_pairs += len(rows)
            bases_sink.write({"base": base["base"], "source": base["source"], "pairs": len(rows), "error": err,
                              "judge": args.judge})
            if err:
                print(f"  {base['base']}: {err}", file=sys.stderr)

        if args.workers <= 1:
            for k, base in enumerate(todo, 1):
                store(*run_base(base, args.judge, args.all_kinds, args.singles))
                if k % 10 == 0:
                    print(f"  {k}/{len(todo)} bases, {n_pairs} pairs, {time.perf_counter() - t0:.0f} s",
                          file=sys.stderr)
        else:
            import multiprocessing

            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx) as pool:
                futs = [pool.submit(run_base, b, args.judge, args.all_kinds, args.singles) for b in todo]
                for k, fut in enumerate(as_completed(futs), 1):
                    store(*fut.result())
                    if k % 10 == 0:
                        print(f"  {k}/{len(todo)} bases, {n_pairs} pairs, {time.perf_counter() - t0:.0f} s",
                              file=sys.stderr)
        print(f"judged {n_pairs} pairs in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    records = [r for r in read_results(pairs_path) if r.get("judge", args.judge) == args.judge
               and r.get("source") in sources]
    if not records:
        print(f"error: no judged pairs in {pairs_path}", file=sys.stderr)
        return 2
    records += hand_label_records(records)
    splits = [s.strip() for s in args.splits.split(",")] if args.splits else None
    metrics = robustness_metrics(records, args.judge, splits)
    secs = sorted(r["seconds"] for r in records if "seconds" in r)
    metrics["median_judge_seconds"] = secs[len(secs) // 2] if secs else None
    metrics["command"] = " ".join(["benchmarks/critic_robustness.py", *(argv if argv is not None else sys.argv[1:])])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    if args.json is not None:
        text = json.dumps(metrics, indent=1)
        if str(args.json) == "-":
            print(text)
        else:
            args.json.write_text(text, encoding="utf-8")
    if str(args.json) != "-":
        print_report(metrics, args.judge)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
