"""What the run viewer shows: one document per run folder (aggregate figures, then one entry per pair).

A judge batch (``erm judge --batch``), a judge benchmark (``erm bench judge``) and a refine run each
become the same document::

    {"schema": "erm-view/1", "schema_version", "kind", "title", "run_dir", "aggregate": [[label, value], ...],
     "sorts": [[key, label], ...], "pairs": [{"id", "task", "judge", "reward", "render_ok", "failure",
     "reference", "candidate", "candidate_code", "diff", "errors", "gold", "fp", "fn", "fp_n", "fn_n"}]}

Paths in it are absolute; the HTML writer turns them into links relative to the page. ``errors`` and
``gold`` hold the predicted and the gold errors (``matched`` says whether the offline matcher paired
each one); ``fp`` / ``fn`` are the severity totals of the unmatched predicted / gold errors (the worst
false positives / negatives sort first). Without gold errors (a plain batch, a refine run) the pairs
sort by reward, lowest first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCHEMA = "erm-view/1"
VIEW_JSON = "view.json"
INDEX_HTML = "index.html"
MAX_CODE_CHARS = 20_000

SORTS_WITH_GOLD = [["fp", "worst false positives"], ["fn", "worst false negatives"], ["reward", "lowest reward"],
                   ["id", "id"]]
SORTS_WITHOUT_GOLD = [["reward", "lowest reward"], ["errors", "most errors"], ["id", "id"]]


def unique_stems(ids: Sequence[str]) -> dict[str, str]:
    from ..judges.batch import safe_stem  # the rule erm judge --batch --diff-image names its pictures by

    used: set[str] = set()
    out: dict[str, str] = {}
    for item_id in ids:
        stem = safe_stem(item_id)
        name, n = stem, 1
        while name in used:
            n += 1
            name = f"{stem}-{n}"
        used.add(name)
        out[item_id] = name
    return out


def _error_rows(errors: Sequence[Any], matched: set[int] | None) -> list[dict[str, Any]]:
    rows = []
    for k, e in enumerate(errors):
        d = {"category": e.category, "severity": e.severity, "location": e.location, "description": e.description}
        if e.bbox:
            d["bbox"] = [round(float(v), 1) for v in e.bbox]
        if matched is not None:
            d["matched"] = k in matched
        rows.append(d)
    return rows


def compact_verdict(verdict: dict[str, Any]) -> dict[str, Any]:
    """A verdict as the viewer keeps it (no raw model output or timings)."""
    return {k: v for k, v in verdict.items() if k not in ("info", "timings")}


def _read_code(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return text if len(text) <= MAX_CODE_CHARS else text[:MAX_CODE_CHARS] + "\n... (cut)"


def judge_pairs(items: Sequence[Any], rows: dict[str, dict[str, Any]], diff_dir: Path | None = None) -> list[dict[str, Any]]:
    """Viewer entries for judged items (:class:`erm_cli.bench.judge_bench.JudgeItem`) and their prediction
    rows. Gold errors, when the items have any, are matched to the predictions with the offline matcher."""
    from ..bench.judge_bench import verdict_of
    from ..bench.judge_metrics import allowed_errors
    from ..bench.matching import MatchRequest, OfflineMatcher

    has_gold = any(it.gold for it in items)
    matcher = OfflineMatcher()
    stems = unique_stems([it.id for it in items])
    pairs: list[dict[str, Any]] = []
    for it in items:
        row = rows.get(it.id) or {}
        verdict = verdict_of(row)
        entry: dict[str, Any] = {
            "id": it.id, "task": it.task, "judge": row.get("judge"), "reward": None, "render_ok": None,
            "failure": it.error or row.get("error"), "reference": str(it.reference) if it.error is None else None,
            "candidate": None, "candidate_code": None, "diff": None, "errors": [], "gold": None,
            "fp": 0.0, "fn": 0.0, "fp_n": 0, "fn_n": 0, "stem": stems[it.id],
        }
        if it.error is None:
            if it.candidate_is_code:
                entry["candidate_code"] = _read_code(Path(it.candidate))
                entry["candidate_path"] = str(it.candidate)
            else:
                entry["candidate"] = str(it.candidate)
        if diff_dir is not None and (diff_dir / f"{stems[it.id]}.png").is_file():
            entry["diff"] = str(diff_dir / f"{stems[it.id]}.png")
        gold = allowed_errors(it.gold, it.task) if has_gold else []
        if verdict is not None:
            entry["verdict"] = compact_verdict(row["verdict"])
            entry["reward"] = round(verdict.reward, 4)
            entry["render_ok"] = verdict.render_ok
            if not verdict.render_ok:
                entry["failure"] = f"did not render: {verdict.info.get('render_error', 'render failed')}"
            pred = allowed_errors(verdict.errors, it.task) if has_gold else verdict.sorted_errors()
            pm: set[int] | None = None
            gm: set[int] | None = None
            if has_gold:
                match = matcher.match_one(MatchRequest(id=it.id, task=it.task, gold=gold, pred=pred))
                pm = {p.pred for p in match.pairs}
                gm = {p.gold for p in match.pairs}
                entry["fp"] = float(sum(e.severity for k, e in enumerate(pred) if k not in pm))
                entry["fn"] = float(sum(e.severity for k, e in enumerate(gold) if k not in gm))
                entry["fp_n"] = len(pred) - len(pm)
                entry["fn_n"] = len(gold) - len(gm)
            entry["errors"] = _error_rows(pred, pm)
            if has_gold:
                entry["gold"] = _error_rows(gold, gm)
        elif has_gold:
            entry["gold"] = _error_rows(gold, None)
        pairs.append(entry)
    return pairs


def judge_document(title: str, kind: str, run_dir: Path, items: Sequence[Any], rows: dict[str, dict[str, Any]],
                   aggregate: list[list[Any]], diff_dir: Path | None = None) -> dict[str, Any]:
    pairs = judge_pairs(items, rows, diff_dir)
    has_gold = any(p["gold"] is not None for p in pairs)
    return {"schema": SCHEMA, "kind": kind, "title": title, "run_dir": str(run_dir), "aggregate": aggregate,
            "sorts": SORTS_WITH_GOLD if has_gold else SORTS_WITHOUT_GOLD, "has_gold": has_gold,
            "diff_dir": str(diff_dir) if diff_dir is not None else None, "pairs": pairs}


def batch_aggregate(summary: dict[str, Any]) -> list[list[Any]]:
    """The figures of an ``erm judge --batch`` summary, in the order a person reads them."""
    rows: list[list[Any]] = [["pairs", summary.get("total")], ["judged", summary.get("judged")],
                             ["did not render", summary.get("render_failed")], ["failed", summary.get("failed")],
                             ["mean reward", round(float(summary.get("mean_reward", 0.0)), 3)]]
    if summary.get("fail_under") is not None:
        rows.append([f"below --fail-under {summary['fail_under']}", len(summary.get("below_fail_under") or [])])
    return rows


def bench_aggregate(metrics: dict[str, Any]) -> list[list[Any]]:
    """Headline figures of an ``erm bench judge`` metrics.json: per judge and matcher, F1 hard / soft over
    all tasks, AUROC and pairwise accuracy (percent, as ``erm bench judge`` prints them)."""
    from ..bench.report import leaderboard_rows

    data = metrics.get("data") or {}
    rows: list[list[Any]] = [["data", data.get("name")], ["items", data.get("items")]]
    fmt = lambda v: None if v is None else round(float(v), 1)
    for r in leaderboard_rows([metrics]):
        who = r["judge"] if r.get("matcher") in (None, "–") else f"{r['judge']} ({r['matcher']} matcher)"
        overall = r.get("overall") or {}
        figures = [f"{name} {fmt(overall.get(key))}" for key, name in (("f1_hard", "F1h"), ("f1_soft", "F1s"))
                   if overall.get(key) is not None]
        figures += [f"{name} {fmt(r.get(key))}" for key, name in (("auroc", "AUROC"), ("pairwise", "pairs"))
                    if r.get(key) is not None]
        figures.append(f"failed {r.get('failed', 0)}")
        rows.append([who, ", ".join(figures)])
    return rows


def refine_document(run_dir: Path) -> dict[str, Any]:
    """A refine run's candidates as pairs (the reference against each candidate's render), rounds as the
    aggregate figures."""
    from ..refine.output import SUMMARY, read_trajectory

    cands = read_trajectory(run_dir)
    summary: dict[str, Any] = {}
    if (run_dir / SUMMARY).is_file():
        summary = json.loads((run_dir / SUMMARY).read_text(encoding="utf-8"))
    best = summary.get("best") or {}
    aggregate: list[list[Any]] = [["candidates", len(cands)], ["rounds", len({c.round for c in cands})]]
    if best:
        aggregate += [["best", best.get("id")], ["best reward", best.get("reward")]]
    for r in summary.get("rounds") or []:
        aggregate.append([f"round {r.get('round')}: best reward / errors", f"{r.get('best_reward')} / {r.get('best_errors')}"])
    reference = run_dir / "reference.png"
    stems = unique_stems([c.id for c in cands])
    pairs = []
    for c in cands:
        render = run_dir / "renders" / f"{c.id}.png"
        v = c.verdict
        pairs.append({
            "id": c.id, "task": v.task if v is not None else None, "judge": (v.judge.get("name") if v else None),
            "reward": round(c.reward, 4), "render_ok": c.render_ok,
            "failure": None if c.render_ok else f"did not render: {c.render_error}",
            "reference": str(reference) if reference.is_file() else None,
            "candidate": str(render) if render.is_file() else None,
            "candidate_code": c.code[:MAX_CODE_CHARS], "diff": None,
            "errors": _error_rows(v.sorted_errors(), None) if v is not None else [], "gold": None,
            "fp": 0.0, "fn": 0.0, "fp_n": 0, "fn_n": 0, "stem": stems[c.id],
            "verdict": compact_verdict(v.to_dict()) if v is not None else None,
            "note": f"round {c.round}" + (f", from {c.parent}" if c.parent else "") + (", accepted" if c.accepted else "")
            + (f": {c.note}" if c.note else ""),
        })
    return {"schema": SCHEMA, "kind": "refine", "title": f"erm refine - {run_dir.name}", "run_dir": str(run_dir),
            "aggregate": aggregate, "sorts": SORTS_WITHOUT_GOLD, "has_gold": False, "diff_dir": None,
            "pairs": pairs}


def save_document(run_dir: Path, doc: dict[str, Any]) -> Path:
    from ..schemas import stamp

    stamp(doc)  # schema_version, like every file a verb writes
    path = run_dir / VIEW_JSON
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(path)
    return path


def load_document(run_dir: Path) -> dict[str, Any]:
    """The run's document: ``view.json`` when a run wrote one, else rebuilt from a refine run's trajectory.
    Raises :class:`erm_cli.errors.InputError` for a folder that holds neither."""
    from ..errors import InputError
    from ..refine.output import TRAJECTORY

    if not run_dir.is_dir():
        raise InputError(f"no such run folder: {run_dir}")
    path = run_dir / VIEW_JSON
    if path.is_file():
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a readable view document ({exc})") from None
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            raise InputError(f"{path}: not an {SCHEMA} document")
        return doc
    if (run_dir / TRAJECTORY).is_file():
        return refine_document(run_dir)
    metrics_path = run_dir / "metrics.json"
    if metrics_path.is_file() and (run_dir / "predictions.jsonl").is_file():  # a bench judge run from before
        try:
            metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{metrics_path}: not readable ({exc})") from None
        data = (metrics.get("data") or {}).get("path")
        if metrics.get("kind") == "judge" and data and Path(data).is_file():
            from ..bench.judge_bench import load_judge_items
            from .build import bench_document

            items = load_judge_items(data)[: int((metrics.get("data") or {}).get("items") or 0) or None]
            return bench_document(run_dir, items, metrics)  # the items the run used (--limit)
    raise InputError(f"{run_dir} holds no {VIEW_JSON} (written by erm judge --batch, erm bench judge and erm "
                     f"refine), no refine trajectory and no bench judge metrics.json")
