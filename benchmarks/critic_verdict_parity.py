"""Do the critic's verdicts stay the same? A fixed set of pairs judged, stored, and compared later.

Speed work on the critic must not change what it says. This script judges a fixed set of pairs and writes
one JSON line per pair (task, errors with category / severity / location / description / box, reward,
the verifier's pair score); ``--compare`` judges them again and lists every pair whose verdict differs
(errors, severities, locations, descriptions; boxes and rewards to 1e-6).

    .venv/bin/python benchmarks/critic_verdict_parity.py --synth DIR --out base.jsonl
    .venv/bin/python benchmarks/critic_verdict_parity.py --synth DIR --out new.jsonl --compare base.jsonl

Pairs: the 8 pairs of ``erm bench speed``'s critic section, the pairs of an ``erm synth`` folder (``--synth``,
e.g. ``erm synth -o DIR -n 20 -s 4242``) and ``--gallery N`` pairs from the odd-numbered bases of
``../shared/data/matplotlib-gallery`` (bases the verifier-gallery run with ``--stride 2`` does not use).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GALLERY = ROOT.parent / "shared" / "data" / "matplotlib-gallery"


def _pairs(synth: Path | None, gallery: int, gallery_dir: Path = GALLERY) -> list[tuple[str, str, Any, Any]]:
    from erm_cli.bench.critic_speed import build_pairs
    from erm_cli.imageio import load_image

    out: list[tuple[str, str, Any, Any]] = [(f"speed/{task}/{label}", task, ref, cand)
                                            for task, label, ref, cand in build_pairs()]
    if synth is not None:
        for line in (synth / "data.jsonl").read_text().splitlines():
            row = json.loads(line)
            out.append((f"synth/{row['id']}", str(row.get("category") or "auto"),
                        load_image(synth / row["gt_img_path"]), load_image(synth / row["pred_img_path"])))
    if gallery > 0 and (gallery_dir / "pairs.jsonl").is_file():
        rows = [json.loads(x) for x in (gallery_dir / "pairs.jsonl").read_text().splitlines()]
        bases = sorted({r["gt_img_path"].split("/")[1] for r in rows})
        odd = set(bases[1::2])
        picked = [r for r in rows if r["gt_img_path"].split("/")[1] in odd]
        step = max(1, len(picked) // gallery)
        for r in picked[::step][:gallery]:
            out.append((r["id"], "chart", load_image(gallery_dir / r["gt_img_path"]),
                        load_image(gallery_dir / r["pred_img_path"])))
    return out


def _record(pid: str, v: Any) -> dict[str, Any]:
    return {"id": pid, "task": v.task, "reward": v.reward,
            "errors": [{"category": e.category, "severity": e.severity, "location": e.location,
                        "description": e.description, "bbox": e.bbox,
                        "evidence": json.loads(json.dumps(e.evidence, default=_plain))} for e in v.errors],
            "pair_p": (v.info.get("verifier") or {}).get("p_pair_differs"),
            "seconds": round(float(v.timings.get("total", 0.0)), 4)}


def _plain(x: Any) -> Any:
    return x.item() if hasattr(x, "item") else (x.tolist() if hasattr(x, "tolist") else str(x))


def _close(a: Any, b: Any, tol: float = 1e-6) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) <= tol
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], tol) for k in a)
    return a == b


def compare(base: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[str]:
    """One line per pair whose verdict differs (timings ignored)."""
    old = {r["id"]: r for r in base}
    diffs = []
    for r in new:
        o = old.get(r["id"])
        if o is None:
            diffs.append(f"{r['id']}: not in the baseline")
            continue
        a = {k: v for k, v in o.items() if k != "seconds"}
        b = {k: v for k, v in r.items() if k != "seconds"}
        if not _close(a, b):
            diffs.append(f"{r['id']}: reward {o['reward']:.6f} -> {r['reward']:.6f}; errors "
                         f"{[(e['category'], e['severity']) for e in o['errors']]} -> "
                         f"{[(e['category'], e['severity']) for e in r['errors']]}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--synth", type=Path, default=None, help="an erm synth output folder")
    ap.add_argument("--gallery", type=int, default=20, help="pairs from the gallery's odd bases")
    ap.add_argument("--gallery-dir", type=Path, default=GALLERY)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--compare", type=Path, default=None, help="a baseline JSONL written by this script")
    a = ap.parse_args(argv)
    from erm_cli.judges.critic import Critic

    critic = Critic()
    rows = []
    t0 = time.process_time()
    for pid, task, ref, cand in _pairs(a.synth, a.gallery, a.gallery_dir):
        rows.append(_record(pid, critic.judge(ref, cand, task)))
    cpu = time.process_time() - t0
    a.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(rows)} pairs judged, {cpu:.1f} s CPU, written to {a.out}")
    if a.compare is not None:
        diffs = compare([json.loads(x) for x in a.compare.read_text().splitlines()], rows)
        for d in diffs:
            print(d)
        print(f"{len(diffs)} of {len(rows)} verdicts differ from {a.compare}")
        return 1 if diffs else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
