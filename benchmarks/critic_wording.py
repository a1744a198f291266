"""What the Visual-ERM wording of the critic's verdicts (judges/critic/phrasing.py) is worth to error matching.

Re-scores one ``erm bench judge`` run twice with the offline matcher: "before" with each error's analyser words
(kept in its evidence under ``proposal``), "after" with the verdict's words. The verdicts are the same, so the
difference is the wording alone. Prints F1_hard, F1_soft, error-level precision and recall, and how many
equivalent pairs (no gold error) got an error.

    .venv/bin/erm bench judge examples/bench-mini/data.jsonl --judge critic --out-dir OUT
    .venv/bin/python benchmarks/critic_wording.py examples/bench-mini/data.jsonl OUT/predictions.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _analyser_words(e: Any) -> Any:
    said = (e.evidence or {}).get("proposal") or {}
    return replace(e, location=said.get("location", e.location), description=said.get("description", e.description))


def score(data: Path, predictions: Path, wording: str) -> dict[str, Any]:
    """Offline-matcher metrics of ``predictions`` with the verdict's words (``after``) or the analysers'
    (``before``), plus the equivalent pairs that got an error."""
    from erm_cli.bench.judge_bench import load_judge_items, verdict_of
    from erm_cli.bench.judge_metrics import allowed_errors, vcbench_metrics
    from erm_cli.bench.matching import MatchRequest, OfflineMatcher
    from erm_cli.jsonl import read_jsonl_by_id

    rows = read_jsonl_by_id(predictions)
    reqs, equivalents, flagged = [], 0, 0
    for it in load_judge_items(data):
        v = verdict_of(rows.get(it.id) or {})
        if v is None:
            continue
        errors = [_analyser_words(e) for e in v.errors] if wording == "before" else v.errors
        gold, pred = allowed_errors(it.gold, it.task), allowed_errors(errors, it.task)
        if not gold:
            equivalents += 1
            flagged += bool(pred)
        reqs.append(MatchRequest(it.id, it.task, gold, pred))
    matcher = OfflineMatcher()
    metrics = vcbench_metrics([matcher.match_one(r) for r in reqs])
    return {"metrics": metrics, "equivalents": equivalents, "equivalents_with_error": flagged}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="VC-RewardBench-format data.jsonl")
    ap.add_argument("predictions", type=Path, help="predictions.jsonl of an erm bench judge run on it")
    ap.add_argument("--json", action="store_true", help="print the metrics as JSON")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    out = {w: score(args.data, args.predictions, w) for w in ("before", "after")}
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    for wording, res in out.items():
        m = res["metrics"]
        o = m["overall"]
        tp, reported, gold = o["tp_hard"], o["pred_errors"], o["gold_errors"]
        tasks = ", ".join(f"{t} {m[t]['f1_hard']:.1f}" for t in ("chart", "table", "svg") if m.get(t))
        print(f"{wording:6s} F1_hard {o['f1_hard']:.1f}  F1_soft {o['f1_soft']:.1f}  "
              f"precision {100 * tp / max(1, reported):.1f} % ({tp:.0f}/{reported})  "
              f"recall {100 * tp / max(1, gold):.1f} % ({tp:.0f}/{gold})  "
              f"equivalents with an error {res['equivalents_with_error']}/{res['equivalents']}  [F1_hard {tasks}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
