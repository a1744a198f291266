"""The critic with and without its learned verifier on third-party charts (never trained or tuned on).

Reads ``../shared/data/matplotlib-gallery/pairs.jsonl`` (133 matplotlib gallery figures: equivalents through
dpi72, anti-aliasing off, JPEG, and vector export rasterised by PyMuPDF (pdf) or another SVG engine (svg); 400
single-error perturbations). Each pair is judged once: the analysers' proposals give the "without verifier"
verdict, the shipped verifier's decision the "with verifier" one. Baselines (1-MSE, SSIM, pHash) on the same
pairs. Results are cached per pair in ``--cache`` (JSONL, resumable).

    .venv/bin/python benchmarks/verifier_gallery.py --workers 2            # all 1051 pairs
    .venv/bin/python benchmarks/verifier_gallery.py --stride 3             # every third base figure
    .venv/bin/python benchmarks/verifier_gallery.py --stride 2 --offset 1  # the odd bases (failure analysis only)

Metrics (positive = equivalent, score = reward): AUROC over all pairs and over hard equivalents (pdf, svg)
against all perturbations, for the critic's own reward (``Verdict.reward``: the ordered formula over the kept
errors plus the verifier's pair term) and for the errors alone under Visual-ERM's released ``1 - S/50``
(``auroc_errors_only``, what earlier rounds reported); share of equivalents with no error (all routes and per route); recall (a
perturbed pair gets an error of the gold category), also per perturbation kind (``recall_per_kind``, printed
as a table on stderr); category-count precision; severity Pearson.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "matplotlib-gallery"
HARD = {"pdf", "svg"}


class _Both:
    """Records the analysers' proposals, then lets the shipped verifier decide."""

    def __init__(self) -> None:
        from erm_cli.judges.critic.verifier import default_verifier

        self.inner = default_verifier()
        self.raw: list[tuple[str, int]] = []
        self.seconds = 0.0

    def decide(self, findings: list[Any], ctx: Any) -> tuple[list[Any], Any]:
        from erm_cli.train.critic import FeatureRecorder

        self.raw = [(f.category, int(f.severity)) for f in findings]
        rec = FeatureRecorder()
        rec.decide(findings, ctx)  # the rows, so another model file can be scored offline (--model)
        self.rows = {"pair": rec.pair, "exact_elsewhere": rec.exact_elsewhere, "proposals": [{k: p[k] for k in ("features", "category", "severity")}
                                                     for p in rec.proposals]}
        t = time.perf_counter()
        out = self.inner.decide(findings, ctx) if self.inner is not None else (findings, None)
        self.seconds = time.perf_counter() - t
        return out


_CRITIC: Any = None
_BOTH: Any = None


def judge_pair(row: dict[str, Any]) -> dict[str, Any]:
    global _CRITIC, _BOTH
    from PIL import Image

    from erm_cli.judges.baselines import mse_score, phash_score, ssim_score
    from erm_cli.judges.critic import Critic

    if _CRITIC is None:
        _BOTH = _Both()
        _CRITIC = Critic(verifier=_BOTH)
    ref = Image.open(DATA / row["gt_img_path"]).convert("RGB")
    cand = Image.open(DATA / row["pred_img_path"]).convert("RGB")
    t = time.perf_counter()
    v = _CRITIC.judge(ref, cand, "chart")
    seconds = time.perf_counter() - t
    return {"id": row["id"], "route": row.get("route") or "perturbed", "kind": row.get("kind"),
            "same": row["verdict"] == "same", "gold": [(e["category"], int(e["severity"])) for e in row["human_errors"]],
            "with": [(e.category, int(e.severity)) for e in v.errors], "without": _BOTH.raw,
            "reward_with": v.reward,
            "seconds": round(seconds, 3), "verifier_seconds": round(_BOTH.seconds, 4),
            "size": list(ref.size), "rows": _BOTH.rows,
            "mse": mse_score(ref, cand), "ssim": ssim_score(ref, cand), "phash": phash_score(ref, cand)}


def _auroc(pos: list[float], neg: list[float]) -> float:
    """P(score of an equivalent > score of a perturbed pair), ties count half."""
    if not pos or not neg:
        return float("nan")
    a, b = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((a > b).sum() + 0.5 * (a == b).sum()) / (a.size * b.size))


def _reward(errs: list[tuple[str, int]]) -> float:
    return max(0.0, 1.0 - sum(s for _, s in errs) / 50.0)


def _ordered(errs: list[tuple[str, int]]) -> float:
    from erm_cli.judges.verdict import error_weight, ordered_reward

    return ordered_reward(sum(error_weight(c, s) for c, s in errs))


def metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    eq = [r for r in rows if r["same"]]
    hard = [r for r in eq if r["route"] in HARD]
    pert = [r for r in rows if not r["same"]]
    out: dict[str, Any] = {"pairs": len(rows), "equivalents": len(eq), "hard": len(hard), "perturbed": len(pert)}
    for name in ("with", "without", "phash", "ssim", "mse"):
        if name == "with":  # the critic's own reward (a cache written before it was recorded: errors only)
            score = lambda r: r["reward_with"] if r.get("reward_with") is not None else _ordered(r["with"])
        elif name == "without":  # the analysers' proposals, all kept, under the critic's ordered formula
            score = lambda r: _ordered(r["without"])
        else:
            score = lambda r, n=name: r[n]
        m = {"auroc": round(_auroc([score(r) for r in eq], [score(r) for r in pert]), 3),
             "auroc_hard": round(_auroc([score(r) for r in hard], [score(r) for r in pert]), 3)}
        if name in ("with", "without"):
            m["auroc_errors_only"] = round(_auroc([_reward(r[name]) for r in eq], [_reward(r[name]) for r in pert]), 3)
            m["auroc_hard_errors_only"] = round(_auroc([_reward(r[name]) for r in hard],
                                                       [_reward(r[name]) for r in pert]), 3)
            m["equivalents_error_free"] = round(float(np.mean([not r[name] for r in eq])), 3) if eq else None
            m["per_route_error_free"] = {rt: round(float(np.mean([not r[name] for r in eq if r["route"] == rt])), 3)
                                         for rt in sorted({r["route"] for r in eq})}
            m["recall"] = round(float(np.mean([any(c == g for c, _ in r[name] for g, _ in r["gold"])
                                               for r in pert])), 3) if pert else None
            kinds = sorted({str(r.get("kind")) for r in pert})
            m["recall_per_kind"] = {k: {"n": len(rs := [r for r in pert if str(r.get("kind")) == k]),
                                        "recall": round(float(np.mean([any(c == g for c, _ in r[name]
                                                                           for g, _ in r["gold"]) for r in rs])), 3),
                                        "flagged": round(float(np.mean([bool(r[name]) for r in rs])), 3)}
                                    for k in kinds}
            m["flagged"] = round(float(np.mean([bool(r[name]) for r in pert])), 3) if pert else None
            right = kept = 0
            for r in pert:
                gold = {}
                for c, _ in r["gold"]:
                    gold[c] = gold.get(c, 0) + 1
                pred = {}
                for c, _ in r[name]:
                    pred[c] = pred.get(c, 0) + 1
                kept += sum(pred.values())
                right += sum(min(n, gold.get(c, 0)) for c, n in pred.items())
            m["category_precision"] = round(right / kept, 3) if kept else None
            gs = [sum(s for _, s in r["gold"]) for r in pert]
            ps = [sum(s for _, s in r[name]) for r in pert]
            m["severity_pearson"] = round(float(np.corrcoef(gs, ps)[0, 1]), 3) if np.std(ps) > 0 else None
        out[name] = m
    secs = [r["seconds"] for r in rows if tuple(r["size"]) == (640, 480)] or [r["seconds"] for r in rows]
    out["median_seconds_per_pair"] = round(float(np.median(secs)), 3)
    out["median_verifier_seconds"] = round(float(np.median([r["verifier_seconds"] for r in rows])), 4)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--stride", type=int, default=1, help="use every N-th base figure")
    ap.add_argument("--offset", type=int, default=0,
                    help="start the stride at this base (--stride 2 --offset 1: the odd bases, for failure "
                         "analysis only; the reported figures are offset 0)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/erm-verifier-gallery.jsonl"))
    ap.add_argument("--fresh", action="store_true", help="ignore the cache")
    ap.add_argument("--model", type=Path, help="score the cached proposals with this verifier_model.json")
    args = ap.parse_args(argv)
    from erm_cli.jsonl import JsonlSink, read_jsonl_by_id

    rows = [json.loads(line) for line in (args.data / "pairs.jsonl").read_text().splitlines() if line.strip()]
    bases = sorted({r["gt_img_path"] for r in rows})
    keep = set(bases[args.offset:: max(1, args.stride)])
    rows = [r for r in rows if r["gt_img_path"] in keep]
    if args.fresh and args.cache.exists():
        args.cache.unlink()
    done = read_jsonl_by_id(args.cache, repair=True)
    sink = JsonlSink(args.cache)
    todo = [r for r in rows if r["id"] not in done]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        for i, res in enumerate(pool.map(judge_pair, todo, chunksize=4), 1):
            sink.write(res)
            done[res["id"]] = res
            if i % 50 == 0:
                print(f"{i}/{len(todo)} pairs, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    results = [done[r["id"]] for r in rows]
    if args.model:  # score the recorded proposals with another model file
        from erm_cli.judges.critic.verifier import VerifierModel
        from erm_cli.train.critic import verdict_view, view_reward

        vm = VerifierModel.load(args.model)
        for r in results:
            view = verdict_view(vm, {**r["rows"], "task": "chart"})
            r["with"], r["reward_with"] = view[4], view_reward(view)
    out = metrics(results)
    print(json.dumps(out, indent=2))
    print(kind_table(out), file=sys.stderr)
    return 0


def kind_table(m: dict[str, Any]) -> str:
    """Recall of the gold category (and share flagged at all) per perturbation kind, with and without the
    verifier."""
    w, wo = m["with"].get("recall_per_kind", {}), m["without"].get("recall_per_kind", {})
    lines = [f"{'perturbation kind':<20} {'n':>4} {'recall':>7} {'flagged':>8} {'recall w/o verifier':>20}"]
    for k in sorted(w, key=lambda k: (w[k]["recall"], k)):
        lines.append(f"{k:<20} {w[k]['n']:>4} {w[k]['recall']:>7.3f} {w[k]['flagged']:>8.3f} "
                     f"{wo.get(k, {}).get('recall', float('nan')):>20.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
