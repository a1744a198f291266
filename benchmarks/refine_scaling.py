"""Test-time scaling of the model-free refine policy: reward before/after, vs rounds and vs samples.

Labelled set: the hand-made pairs in examples/refine/ (reference + init code with a wrong title,
colours, values or cells) plus N generated charts: a random single-panel chart from
erm_cli.data.charts (bar, grouped bar, horizontal bar, line) is the reference, and the same chart
with one to three injected errors of the kinds the model-free policy edits (title text, axis
label, series colour, data values) is the init code. Every reference is rendered with erm's renderer.

Prints (all judged by the critic):
  1. reward before -> after per item and on average (init code, --rounds R, K=1);
  2. reward vs rounds (best so far after round r, from the same runs);
  3. reward vs samples K from scratch (no init): round 0 only (best-of-K drafts) and after R rounds.

    .venv/bin/python benchmarks/refine_scaling.py              # ~5 minutes on 2 cores
    .venv/bin/python benchmarks/refine_scaling.py --n 4 --samples 1,2 --json out.json
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from erm_cli.refine import RefineConfig, refine_image

EXAMPLES = REPO / "examples" / "refine"
KINDS = ("bar", "grouped_bar", "barh", "line")
PERTURBATIONS = ("title_text", "axis_label", "series_color", "data_values")


def generated_pairs(n: int, seed: int, out: Path) -> list[dict]:
    """(reference code, init code, injected errors) for n random single-panel charts."""
    from erm_cli.data import perturb_chart as P
    from erm_cli.data.chart_code import chart_code
    from erm_cli.data.charts import random_chart, random_panel

    rng = random.Random(seed)
    pairs = []
    while len(pairs) < n:
        spec = random_chart(rng)
        if len(spec.panels) != 1:
            continue
        spec.panels[0] = random_panel(rng, rng.choice(KINDS))
        bad = copy.deepcopy(spec)
        edits = []
        for name in rng.sample(PERTURBATIONS, rng.randint(1, 3)):
            e = getattr(P, name)(bad, rng)
            if e is not None:
                edits.append(e.description)
        if not edits:
            continue
        i = len(pairs)
        ref, init = out / f"gen{i:02d}.py", out / f"gen{i:02d}_init.py"
        ref.write_text(chart_code(spec))
        init.write_text(chart_code(bad))
        pairs.append({"id": f"gen{i:02d}", "ref_code": ref, "init": init, "errors": edits})
    return pairs


def example_pairs() -> list[dict]:
    out = []
    for init in sorted(EXAMPLES.glob("*_init.*")):
        stem = init.stem[: -len("_init")]
        ref = next(p for p in EXAMPLES.glob(stem + ".*") if p.suffix in (".py", ".svg", ".html"))
        out.append({"id": stem, "ref_code": ref, "init": init, "errors": ["see examples/refine/README.md"]})
    return out


def render_reference(pair: dict, out: Path) -> Path | None:
    from erm_cli.renderers import render

    src: Path = pair["ref_code"]
    kind = {".py": "matplotlib", ".svg": "svg", ".html": "html"}[src.suffix]
    res = render(src.read_text(), kind=kind)
    if not res.ok:
        print(f"  skip {pair['id']}: reference does not render ({res.error})", file=sys.stderr)
        return None
    png = out / f"{pair['id']}.png"
    png.write_bytes(res.png)
    return png


def per_round(result, rounds: int) -> list[float]:
    vals = [r.best_reward for r in result.rounds]
    return vals + [vals[-1]] * (rounds + 1 - len(vals))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10, help="generated charts (besides examples/refine)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--samples", default="1,2,4", help="K values for the from-scratch sweep")
    ap.add_argument("--scratch-n", type=int, default=8, help="chart items in the from-scratch sweep")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    ks = [int(k) for k in args.samples.split(",") if k.strip()]
    work = Path(tempfile.mkdtemp(prefix="erm-refine-scaling-"))
    pairs = example_pairs() + generated_pairs(args.n, args.seed, work)
    for p in pairs:
        p["ref_png"] = render_reference(p, work)
    pairs = [p for p in pairs if p["ref_png"] is not None]
    print(f"{len(pairs)} labelled items ({len(example_pairs())} from examples/refine, rest generated); "
          f"judge: critic; policy: model-free search")

    # 1 + 2: init code, R rounds, K = 1
    rows = []
    t0 = time.perf_counter()
    for p in pairs:
        t = time.perf_counter()
        res, _ = refine_image(p["ref_png"], init=p["init"], config=RefineConfig(rounds=args.rounds, samples=1),
                              report=False)
        curve = per_round(res, args.rounds)
        rows.append({"id": p["id"], "before": res.initial.reward, "after": res.best.reward,
                     "errors_before": res.initial.n_errors, "errors_after": res.best.n_errors, "curve": curve,
                     "candidates": len(res.candidates), "seconds": time.perf_counter() - t,
                     "injected": p["errors"]})
    print(f"\n1. reward before -> after (init code, {args.rounds} rounds, K=1; {time.perf_counter() - t0:.0f} s)")
    print(f"{'item':<16}{'before':>8}{'after':>8}{'errors':>10}{'cands':>7}{'s':>6}")
    for r in rows:
        print(f"{r['id']:<16}{r['before']:>8.3f}{r['after']:>8.3f}{r['errors_before']:>5} ->{r['errors_after']:>2}"
              f"{r['candidates']:>7}{r['seconds']:>6.1f}")
    mb = statistics.mean(r["before"] for r in rows)
    ma = statistics.mean(r["after"] for r in rows)
    solved = sum(r["errors_after"] == 0 for r in rows)
    print(f"{'mean':<16}{mb:>8.3f}{ma:>8.3f}   ({solved}/{len(rows)} with no errors left)")

    print("\n2. reward vs rounds (mean best-so-far)")
    curve = [statistics.mean(r["curve"][i] for r in rows) for i in range(args.rounds + 1)]
    print("   " + "  ".join(f"r{i}={v:.3f}" for i, v in enumerate(curve)))

    # 3: from scratch, best-of-K drafts, then R rounds
    chart_items = [p for p in pairs[::-1] if p["ref_code"].suffix == ".py"][: args.scratch_n]  # generated first
    scratch = {}
    for k in ks:
        r0, rr = [], []
        for p in chart_items:
            res, _ = refine_image(p["ref_png"], task="chart", config=RefineConfig(rounds=args.rounds, samples=k),
                                  report=False)
            r0.append(res.rounds[0].best_reward)
            rr.append(res.best.reward)
        scratch[k] = (statistics.mean(r0), statistics.mean(rr))
    print(f"\n3. reward vs samples K, from scratch (no init; {len(chart_items)} charts)")
    print(f"{'K':>3}{'round 0 (best-of-K drafts)':>30}{f'after {args.rounds} rounds':>18}")
    for k, (a, b) in scratch.items():
        print(f"{k:>3}{a:>30.3f}{b:>18.3f}")
    if args.json:
        args.json.write_text(json.dumps({"items": rows, "mean_before": mb, "mean_after": ma, "rounds_curve": curve,
                                         "samples_curve": {str(k): {"round0": a, "final": b}
                                                           for k, (a, b) in scratch.items()}},
                                        indent=2, default=str))


if __name__ == "__main__":
    main()
