"""Does the reward rank a 1-error candidate above its 3-error superset on third-party charts?

The matplotlib gallery set (``../shared/data/matplotlib-gallery``) holds single-error renders only (``e1_*``,
one script edit each, the same Agg rasteriser and size as ``gt.png``). This benchmark builds 3-error
supersets from them: for a base figure with three edits whose changed pixels lie apart (at least
``--gap`` px between their masks, so that no edit moves what another one changed), the superset is
``gt.png`` with the changed pixels of all three pasted in. Each of the three edits' own render, judged
against ``gt.png``, must score above that superset. Edits that move the layout (their changed pixels cover
more than ``--max-share`` of the image: a font size or subplot change reflows the figure) are left out, as
pasting them would not make a drawable figure.

Baselines (1-MSE, SSIM, pHash similarity) on the same pairs. Figures and failures print on stdout; judged
pairs are cached in ``--cache`` (JSONL).

    .venv/bin/python benchmarks/gallery_pairwise.py --stride 2 --offset 1   # odd bases (development)
    .venv/bin/python benchmarks/gallery_pairwise.py --stride 2              # even bases (reported)
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "matplotlib-gallery"
SCORERS = ("critic", "mse", "ssim", "phash")


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def changed_mask(ref: np.ndarray, cand: np.ndarray) -> np.ndarray:
    d = ref != cand
    return d[..., 0] | d[..., 1] | d[..., 2]


def supersets(rows: list[dict[str, Any]], data: Path, gap: int, max_share: float) -> list[dict[str, Any]]:
    """One 3-edit superset per base figure: the first three (in id order) of its edits whose grown masks do
    not meet."""
    from scipy import ndimage as ndi

    by_base: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["verdict"] != "same":
            by_base.setdefault(r["gt_img_path"], []).append(r)
    out = []
    for base, edits in sorted(by_base.items()):
        ref = _rgb(data / base)
        masks = {}
        for e in sorted(edits, key=lambda e: e["id"]):
            cand = _rgb(data / e["pred_img_path"])
            if cand.shape != ref.shape:
                continue
            m = changed_mask(ref, cand)
            if 0 < m.mean() <= max_share:
                masks[e["id"]] = (e, m, ndi.binary_dilation(m, iterations=max(1, gap // 2)))
        for trio in itertools.combinations(sorted(masks), 3):
            grown = [masks[i][2] for i in trio]
            if any(np.any(a & b) for a, b in itertools.combinations(grown, 2)):
                continue
            sup = ref.copy()
            for i in trio:
                e, m, _ = masks[i]
                sup[m] = _rgb(data / e["pred_img_path"])[m]
            out.append({"base": base, "edits": [masks[i][0] for i in trio], "superset": sup,
                        "key": base + "#" + "+".join(i.rsplit("/", 1)[-1] for i in trio)})
            break
    return out


_CRITIC: Any = None


def judge(job: tuple[str, str, bytes]) -> dict[str, Any]:
    """Scores of one (reference, candidate) pair: the critic's reward and the coarse baselines."""
    global _CRITIC
    from erm_cli.judges.baselines import mse_score, phash_score, ssim_score
    from erm_cli.judges.critic import Critic

    key, ref_path, cand_png = job
    if _CRITIC is None:
        _CRITIC = Critic()
    ref = Image.open(ref_path).convert("RGB")
    cand = Image.open(io.BytesIO(cand_png)).convert("RGB")
    v = _CRITIC.judge(ref, cand, "chart")
    return {"id": key, "critic": v.reward, "errors": [[e.category, e.severity] for e in v.errors],
            "mse": mse_score(ref, cand), "ssim": ssim_score(ref, cand), "phash": phash_score(ref, cand)}


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--stride", type=int, default=2, help="use every N-th base figure")
    ap.add_argument("--offset", type=int, default=0, help="first base of the stride (1 with --stride 2: odd bases)")
    ap.add_argument("--gap", type=int, default=4, help="px that must separate two edits' changed pixels")
    ap.add_argument("--max-share", type=float, default=0.3, help="leave out edits changing more of the image")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/erm-gallery-pairwise.jsonl"))
    args = ap.parse_args(argv)
    from erm_cli.jsonl import JsonlSink, read_jsonl_by_id

    rows = [json.loads(line) for line in (args.data / "pairs.jsonl").read_text().splitlines() if line.strip()]
    bases = sorted({r["gt_img_path"] for r in rows})
    keep = set(bases[args.offset:: max(1, args.stride)])
    sets = supersets([r for r in rows if r["gt_img_path"] in keep], args.data, args.gap, args.max_share)
    jobs: dict[str, tuple[str, str, bytes]] = {}
    for s in sets:
        ref = str(args.data / s["base"])
        jobs[s["key"]] = (s["key"], ref, _png(s["superset"]))
        for e in s["edits"]:
            jobs[e["id"]] = (e["id"], ref, (args.data / e["pred_img_path"]).read_bytes())
    done = read_jsonl_by_id(args.cache, repair=True)
    sink = JsonlSink(args.cache)
    todo = [j for k, j in jobs.items() if k not in done]
    with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        for res in pool.map(judge, todo, chunksize=2):
            sink.write(res)
            done[res["id"]] = res
    pairs = [(done[e["id"]], done[s["key"]], e.get("kind")) for s in sets for e in s["edits"]]
    out: dict[str, Any] = {"bases": len(sets), "pairs": len(pairs)}
    for name in SCORERS:
        wins = sum(1.0 if a[name] > b[name] else 0.5 if a[name] == b[name] else 0.0 for a, b, _ in pairs)
        out[f"accuracy_{name}"] = round(wins / len(pairs), 3) if pairs else None
    sup = [done[s["key"]] for s in sets]
    out["superset_errors_mean"] = round(float(np.mean([len(x["errors"]) for x in sup])), 2) if sup else None
    print(json.dumps(out, indent=2))
    for a, b, kind in pairs:
        if a["critic"] <= b["critic"]:
            print(f"{'tie ' if a['critic'] == b['critic'] else 'lost'} {a['id'].split('/', 1)[1]:<60} "
                  f"{a['critic']:.4f} {a['errors']} vs superset {b['critic']:.4f} {b['errors']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
