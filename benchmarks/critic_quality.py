"""The critic's quality figures (issue 3 §4), printed as tables.

    .venv/bin/python benchmarks/critic_quality.py                 # everything (~15-25 min on 2 cores)
    .venv/bin/python benchmarks/critic_quality.py --quick         # a smaller run (~4 min)
    .venv/bin/python benchmarks/critic_quality.py --only resvg --json out.json

1. Synthetic perturbations of all three tasks (benchmarks/critic_cases.py: matplotlib charts, Chromium
   tables, cairosvg shapes and Feather icons):
   - recall: share of single-error candidates where the critic reports the injected category (target >= 80 %);
   - equivalents: share of equivalent pairs (another dpi / size / margin, or code changed with no visual
     effect) with no error at all (target >= 95 %);
   - ranking: share of references where the 1-error candidate gets a higher reward than the 3-error one
     (ties count half; target >= 90 %).
2. resvg-test-suite (../shared/data/resvg-test-suite): every test's reference PNG against our own cairosvg
   render of the SVG, "equivalent vs not" scored by AUROC for the critic and the SSIM / MSE / pHash
   baselines. Labels: ``librsvg`` column of results.csv (1 passed = equivalent, 2/3 = not; 0 skipped) —
   upstream's manual verdicts for a related renderer, a rough guide; plus benchmarks/resvg_labels.csv:
   198 tests (two seeded, stratified samples) whose reference and cairosvg render we compared by eye
   (1 = looks the same, 0 = visibly different; see benchmarks/resvg_labels.md).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import critic_cases as cc

from erm_cli.bench.judge_metrics import auroc
from erm_cli.judges import get_judge

BASELINES = ("ssim", "mse", "phash")


# ============================================================================================= synthetic

def run_synthetic(n_charts: int, n_tables: int, n_svgs: int, seed: int, log: bool = False) -> dict[str, Any]:
    critic = get_judge("critic")
    icons = None
    from erm_cli.config import shared_data_dir

    shared = shared_data_dir()
    if shared is not None and (shared / "feather-icons" / "icons").is_dir():
        icons = shared / "feather-icons" / "icons"
    gens = [("chart", lambda: cc.chart_cases(n_charts, seed)), ("table", lambda: cc.table_cases(n_tables, seed)),
            ("svg", lambda: cc.svg_cases(n_svgs, seed, icons_dir=icons))]
    per_task: dict[str, Any] = {}
    times: list[float] = []
    for task, gen in gens:
        single = defaultdict(lambda: [0, 0])
        equiv = defaultdict(lambda: [0, 0])
        groups: dict[str, dict[str, Any]] = defaultdict(dict)
        fp_cats = defaultdict(int)
        n_pairs = 0
        for case in gen():
            t0 = time.perf_counter()
            v = critic.judge(case.ref, case.cand, task)
            times.append(time.perf_counter() - t0)
            n_pairs += 1
            cats = {e.category for e in v.errors}
            if case.kind == "equivalent":
                equiv[case.names[0]][0] += int(not v.errors)
                equiv[case.names[0]][1] += 1
                for c in cats:
                    fp_cats[c] += 1
            elif case.kind == "single":
                key = f"{case.categories[0]} / {case.names[0]}"
                single[key][0] += int(case.categories[0] in cats)
                single[key][1] += 1
                groups[case.group].setdefault("single", {})[case.names[0]] = v.reward
            else:
                groups[case.group]["triple"] = (case.names[0], v.reward)
            if log:
                print(f"{task} {case.group} {case.kind} {case.names} -> {len(v.errors)} errors, "
                      f"reward {v.reward:.2f}", file=sys.stderr)
        ranks = []
        for g in groups.values():
            if "triple" in g and g["triple"][0] in g.get("single", {}):
                one, three = g["single"][g["triple"][0]], g["triple"][1]
                ranks.append(1.0 if one > three else (0.5 if one == three else 0.0))
        hits = sum(a for a, _ in single.values())
        total = sum(b for _, b in single.values())
        eq_ok = sum(a for a, _ in equiv.values())
        eq_total = sum(b for _, b in equiv.values())
        per_task[task] = {
            "pairs": n_pairs,
            "recall": hits / total if total else None, "recall_n": total,
            "equivalent_no_error": eq_ok / eq_total if eq_total else None, "equivalent_n": eq_total,
            "ranking": sum(ranks) / len(ranks) if ranks else None, "ranking_n": len(ranks),
            "by_perturbation": {k: {"found": a, "n": b} for k, (a, b) in sorted(single.items())},
            "by_equivalence": {k: {"no_error": a, "n": b} for k, (a, b) in sorted(equiv.items())},
            "false_positive_categories_on_equivalents": dict(fp_cats),
        }
    allr = [(t["recall"], t["recall_n"]) for t in per_task.values() if t["recall"] is not None]
    alle = [(t["equivalent_no_error"], t["equivalent_n"]) for t in per_task.values()
            if t["equivalent_no_error"] is not None]
    allk = [(t["ranking"], t["ranking_n"]) for t in per_task.values() if t["ranking"] is not None]

    def pooled(xs: list[tuple[float, int]]) -> float | None:
        n = sum(b for _, b in xs)
        return sum(a * b for a, b in xs) / n if n else None

    return {"tasks": per_task, "overall": {"recall": pooled(allr), "equivalent_no_error": pooled(alle),
                                           "ranking": pooled(allk)},
            "median_seconds_per_pair": statistics.median(times) if times else None,
            "targets": {"recall": 0.80, "equivalent_no_error": 0.95, "ranking": 0.90}}


# ============================================================================================= resvg

def resvg_items(root: Path, limit: int | None = None, manual_only: bool = False) -> list[dict[str, Any]]:
    """(svg, reference png, label) for every test whose librsvg verdict is 1 (pass) or 2/3 (fail)."""
    verdicts: dict[str, int] = {}
    with (root / "results.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                verdicts[row["title"]] = int(row["librsvg"])
            except (KeyError, ValueError):
                continue
    manual: dict[str, int] = {}
    manual_path = HERE / "resvg_labels.csv"
    if manual_path.is_file():
        with manual_path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                manual[row["title"]] = int(row["equivalent"])
    items = []
    for title, code in sorted(verdicts.items()):
        svg = root / "tests" / title
        png = svg.with_suffix(".png")
        if code == 0 or not svg.is_file() or not png.is_file():
            continue
        items.append({"title": title, "svg": svg, "png": png, "librsvg_equivalent": int(code == 1),
                      "manual_equivalent": manual.get(title)})
    if manual_only:
        items = [it for it in items if it["manual_equivalent"] is not None]
    if limit:
        step = max(1, len(items) // limit)
        items = items[::step][:limit]
    return items


def render_cairosvg(svg: Path) -> tuple[Image.Image, str | None]:
    """Our own render of a test at its natural size (200x200 for the suite); a blank canvas if it fails."""
    import cairosvg

    try:
        png = cairosvg.svg2png(url=str(svg), background_color="white")
        return Image.open(io.BytesIO(png)).convert("RGB"), None
    except Exception as exc:
        return Image.new("RGB", (200, 200), "white"), f"{type(exc).__name__}: {exc}"[:200]


def run_resvg(root: Path, limit: int | None, log: bool = False, manual_only: bool = False) -> dict[str, Any]:
    from erm_cli.imageio import load_image

    judges = {"critic": get_judge("critic"), **{b: get_judge(b) for b in BASELINES}}
    items = resvg_items(root, limit, manual_only)
    scores: dict[str, list[float]] = {k: [] for k in judges}
    failures = 0
    t0 = time.perf_counter()
    for k, it in enumerate(items):
        ref = load_image(it["png"], what="reference")
        cand, err = render_cairosvg(it["svg"])
        failures += err is not None
        for name, j in judges.items():
            scores[name].append(float(j.judge(ref, cand, "svg").reward))
        if log and k % 100 == 0:
            print(f"resvg {k}/{len(items)} {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    out: dict[str, Any] = {"items": len(items), "cairosvg_failures": failures, "labels": {}}
    for label in ("librsvg_equivalent", "manual_equivalent"):
        idx = [i for i, it in enumerate(items) if it[label] is not None]
        if not idx:
            continue
        pos = [i for i in idx if items[i][label] == 1]
        neg = [i for i in idx if items[i][label] == 0]
        out["labels"][label] = {
            "n_equivalent": len(pos), "n_not": len(neg),
            "auroc": {name: auroc([s[i] for i in pos], [s[i] for i in neg]) for name, s in scores.items()},
        }
    out["per_item"] = [{"title": it["title"], "librsvg": it["librsvg_equivalent"],
                        **{name: round(scores[name][i], 4) for name in judges}} for i, it in enumerate(items)]
    return out


# ============================================================================================= report

def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def print_report(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(width=120)
    syn = doc.get("synthetic")
    if syn:
        t = Table(title="critic on synthetic perturbations (targets: recall >= 80 %, equivalents >= 95 %, "
                        "ranking >= 90 %)")
        for col in ("task", "pairs", "recall (n)", "equivalent, no error (n)", "1-error above 3-error (n)"):
            t.add_column(col)
        for task, r in syn["tasks"].items():
            t.add_row(task, str(r["pairs"]), f"{_pct(r['recall'])} ({r['recall_n']})",
                      f"{_pct(r['equivalent_no_error'])} ({r['equivalent_n']})",
                      f"{_pct(r['ranking'])} ({r['ranking_n']})")
        o = syn["overall"]
        t.add_row("all", "", _pct(o["recall"]), _pct(o["equivalent_no_error"]), _pct(o["ranking"]))
        con.print(t)
        d = Table(title="recall per injected perturbation")
        for col in ("task", "category / perturbation", "found", "n"):
            d.add_column(col)
        for task, r in syn["tasks"].items():
            for k, v in r["by_perturbation"].items():
                d.add_row(task, k, str(v["found"]), str(v["n"]))
            for k, v in r["by_equivalence"].items():
                d.add_row(task, f"equivalent / {k} (no error)", str(v["no_error"]), str(v["n"]))
        con.print(d)
        con.print(f"median critic time per pair: {syn['median_seconds_per_pair']:.3f} s")
    rv = doc.get("resvg")
    if rv:
        t = Table(title=f"resvg-test-suite: reference PNG vs our cairosvg render, AUROC of 'equivalent vs not' "
                        f"({rv['items']} tests, {rv['cairosvg_failures']} cairosvg failures)")
        t.add_column("labels")
        t.add_column("equivalent / not")
        for name in ("critic", *BASELINES):
            t.add_column(name)
        for label, r in rv["labels"].items():
            t.add_row(label, f"{r['n_equivalent']} / {r['n_not']}",
                      *(f"{100 * r['auroc'][n]:.1f}" if r["auroc"][n] is not None else "-"
                        for n in ("critic", *BASELINES)))
        con.print(t)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer cases (about 4 minutes)")
    p.add_argument("--charts", type=int, default=None)
    p.add_argument("--tables", type=int, default=None)
    p.add_argument("--svgs", type=int, default=None)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--resvg-limit", type=int, default=None, help="judge an evenly spaced subset of the suite")
    p.add_argument("--only", choices=("synthetic", "resvg"), default=None)
    p.add_argument("--resvg-manual-only", action="store_true",
                   help="judge only the tests labelled by eye in benchmarks/resvg_labels.csv")
    p.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    p.add_argument("--log", action="store_true", help="one line per judged pair on stderr")
    a = p.parse_args(argv)
    n_c = a.charts if a.charts is not None else (10 if a.quick else 40)
    n_t = a.tables if a.tables is not None else (8 if a.quick else 30)
    n_s = a.svgs if a.svgs is not None else (10 if a.quick else 40)
    doc: dict[str, Any] = {}
    if a.only in (None, "synthetic"):
        doc["synthetic"] = run_synthetic(n_c, n_t, n_s, a.seed, a.log)
    if a.only in (None, "resvg"):
        from erm_cli.config import shared_data_dir

        shared = shared_data_dir()
        root = shared / "resvg-test-suite" if shared else None
        if root is None or not root.is_dir():
            print("resvg-test-suite not found beside the checkout (../shared/data); skipped", file=sys.stderr)
        else:
            limit = a.resvg_limit if a.resvg_limit is not None else (300 if a.quick else None)
            doc["resvg"] = run_resvg(root, limit, a.log, a.resvg_manual_only)
    print_report(doc)
    if a.json:
        slim = json.loads(json.dumps(doc, default=str))
        a.json.write_text(json.dumps(slim, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
