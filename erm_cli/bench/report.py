"""Markdown reports with PNG plots for ``erm bench judge`` and ``erm bench policy``.

A judge report holds: the leaderboard of every judge run on the same data (this run, sibling run
directories whose ``metrics.json`` has the same data fingerprint, and the published VC-RewardBench
rows when the data is VC-RewardBench), per-category F1 bars, reward distributions of equivalent vs
non-equivalent items, and predicted vs gold severity scatters. Plots use matplotlib's Agg backend
(imported only here, inside functions).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..judges.verdict import TASKS, TAXONOMY

TASK_ORDER = ("chart", "table", "svg", "overall")


def _fmt(v: Any, digits: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


# ----------------------------------------------------------------------------------------------
# leaderboard
# ----------------------------------------------------------------------------------------------


def leaderboard_rows(metrics_docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (judge, matcher) over every metrics document (run directory) given."""
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for doc in metrics_docs:
        for label, j in (doc.get("judges") or {}).items():
            reward = j.get("reward") or {}
            base = {
                "judge": label,
                "auroc": (reward.get("separation") or {}).get("auroc"),
                "pairwise": (reward.get("pairwise") or {}).get("accuracy"),
                "sc_reward": reward.get("sc_reward"),
                "failed": j.get("failed", 0),
                "items": j.get("items", 0),
                "reference": False,
                "run": doc.get("run_dir", ""),
            }
            vc = j.get("vcbench") or {}
            if not vc:
                key = (label, "")
                if key not in seen:
                    seen.add(key)
                    rows.append({**base, "matcher": "–"})
                continue
            for matcher, m in vc.items():
                key = (label, matcher)
                if key in seen:
                    continue
                seen.add(key)
                row = {**base, "matcher": matcher, "match_failed": m.get("failed", 0)}
                for task in TASK_ORDER:
                    if task in (m.get("metrics") or {}):
                        t = m["metrics"][task]
                        row[task] = {
                            "f1_hard": t.get("f1_hard"),
                            "f1_soft": t.get("f1_soft"),
                            "sc": t.get("sc"),
                        }
                rows.append(row)
    return rows


def leaderboard_markdown(rows: list[dict[str, Any]], reference: list[dict[str, Any]] | None = None) -> str:
    head = (
        "| judge | matcher | chart F1h/F1s/Sc | table F1h/F1s/Sc | svg F1h/F1s/Sc | AVG F1h/F1s/Sc "
        "| AUROC | pairwise acc | Sc(reward) |"
    )
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]

    def cell(r: dict[str, Any], task: str) -> str:
        t = r.get(task)
        if not t:
            return "–"
        return f"{_fmt(t.get('f1_hard'))} / {_fmt(t.get('f1_soft'))} / {_fmt(t.get('sc'))}"

    ordered = sorted(rows, key=lambda r: -((r.get("overall") or {}).get("f1_soft") or -1.0))
    for r in ordered:
        lines.append(
            f"| {r['judge']} | {r['matcher']} | "
            + " | ".join(cell(r, t) for t in TASK_ORDER)
            + f" | {_fmt(r.get('auroc'))} | {_fmt(r.get('pairwise'))} | {_fmt(r.get('sc_reward'))} |"
        )
    for r in reference or []:
        lines.append(
            f"| *{r['judge']} (published)* | {r['matcher']} | "
            + " | ".join(cell(r, t) for t in TASK_ORDER)
            + " | – | – | – |"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# plots
# ----------------------------------------------------------------------------------------------


def plot_category_f1(judges: dict[str, Any], path: Path, matcher: str | None = None) -> Path | None:
    """Grouped bars: F1_hard and F1_soft per (task, error type) for each itemising judge."""
    series: list[tuple[str, dict[str, Any]]] = []
    for label, j in judges.items():
        vc = j.get("vcbench") or {}
        if not vc:
            continue
        m = vc.get(matcher) if matcher in vc else next(iter(vc.values()))
        series.append((label, m.get("metrics") or {}))

    def f1(mets: dict[str, Any], t: str, c: str, key: str) -> float | None:
        return ((mets.get(t) or {}).get("per_type", {}).get(c) or {}).get(key)

    # categories with an error on either side for some judge (others have no defined F1)
    cats = [
        (t, c)
        for t in TASKS
        for c in TAXONOMY[t]
        if any(f1(s, t, c, "f1_soft") is not None for _, s in series)
    ]
    if not series or not cats:
        return None
    plt = _plt()
    import numpy as np

    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(cats) + 2), 4.2), dpi=100)
    width = 0.8 / (2 * len(series))
    x = np.arange(len(cats))
    for k, (label, mets) in enumerate(series):
        hard = [f1(mets, t, c, "f1_hard") or 0.0 for t, c in cats]
        soft = [f1(mets, t, c, "f1_soft") or 0.0 for t, c in cats]
        ax.bar(x + (2 * k) * width - 0.4 + width / 2, hard, width, label=f"{label} F1_hard")
        ax.bar(x + (2 * k + 1) * width - 0.4 + width / 2, soft, width, label=f"{label} F1_soft", alpha=0.6)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{t}\n{c.replace('_error', '')}" for t, c in cats], fontsize=8)
    ax.set_ylabel("F1 (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Per-category F1")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_reward_distributions(points: dict[str, list[dict[str, Any]]], path: Path) -> Path | None:
    """One histogram panel per judge: reward of items with no gold error vs items with errors."""
    usable = {k: v for k, v in points.items() if v}
    if not usable:
        return None
    plt = _plt()
    import numpy as np

    n = len(usable)
    fig, axes = plt.subplots(1, n, figsize=(3.4 * n, 3.2), dpi=100, squeeze=False)
    for ax, (label, pts) in zip(axes[0], usable.items()):
        eq = [p["reward"] for p in pts if p.get("gold_n") == 0 and p.get("reward") is not None]
        neq = [p["reward"] for p in pts if (p.get("gold_n") or 0) > 0 and p.get("reward") is not None]
        lo = min(eq + neq + [1.0])
        lo = 0.0 if lo > 0.999 else max(0.0, lo - 0.02 * (1.0 - lo))  # zoom in on judges that saturate near 1
        bins = np.linspace(lo, 1.0 + 1e-9, 21)
        if eq:
            ax.hist(eq, bins=bins, alpha=0.6, label=f"equivalent ({len(eq)})", color="#2a9d8f")
        if neq:
            ax.hist(neq, bins=bins, alpha=0.6, label=f"with errors ({len(neq)})", color="#e76f51")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("reward")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("items")
    fig.suptitle("Reward distributions", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_pairwise_margins(pairs: dict[str, list[float]], path: Path) -> Path | None:
    """reward(chosen) - reward(rejected) per judge, one row each (overlaid histograms hid each other).

    Each row shows every pair as a dot (deterministic jitter) over its quartile box; the wrong-order side
    (margin <= 0) is shaded, and the row's label says how many pairs the judge ranked right.
    """
    usable = {k: v for k, v in pairs.items() if v}
    if not usable:
        return None
    import numpy as np

    plt = _plt()
    rows = list(usable.items())
    fig, ax = plt.subplots(figsize=(6.4, 1.0 + 0.55 * len(rows)), dpi=100)
    lo = min(min(v) for _, v in rows)
    hi = max(max(v) for _, v in rows)
    pad = max(0.05, 0.05 * (hi - lo))
    left, right = min(lo, 0.0) - pad, max(hi, 0.0) + pad
    ax.axvspan(left, 0.0, color="#d62728", alpha=0.08, lw=0)
    ax.axvline(0.0, color="black", lw=0.8)
    rng = np.random.default_rng(0)
    labels = []
    for i, (name, margins) in enumerate(rows):
        y = len(rows) - 1 - i
        values = np.asarray(margins, dtype=float)
        ax.boxplot(values, positions=[y], vert=False, widths=0.5, showfliers=False, manage_ticks=False,
                   medianprops={"color": "black"}, boxprops={"color": "#555555"},
                   whiskerprops={"color": "#555555"}, capprops={"color": "#555555"})
        wrong = values <= 0
        jitter = rng.uniform(-0.18, 0.18, size=values.size)
        ax.scatter(values[~wrong], y + jitter[~wrong], s=9, color="#1f77b4", alpha=0.7, lw=0)
        ax.scatter(values[wrong], y + jitter[wrong], s=9, color="#d62728", alpha=0.9, lw=0)
        right_n = int((~wrong).sum())
        labels.append(f"{name}  {right_n}/{values.size} right")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(list(reversed(labels)), fontsize=8)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlim(left, right)
    ax.set_xlabel("reward(chosen) - reward(rejected)   (shaded: wrong order or tie)", fontsize=8)
    ax.set_title("Pairwise margins per judge", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_severity_scatter(points: dict[str, list[dict[str, Any]]], path: Path) -> Path | None:
    """Predicted vs gold severity totals per itemising judge, coloured by task."""
    usable = {k: [p for p in v if p.get("pred_sev") is not None] for k, v in points.items()}
    usable = {k: v for k, v in usable.items() if v}
    if not usable:
        return None
    plt = _plt()
    import numpy as np

    colours = {"chart": "#264653", "table": "#e9c46a", "svg": "#e76f51"}
    n = len(usable)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.4), dpi=100, squeeze=False)
    rng = np.random.default_rng(0)  # a little jitter so stacked integer points stay visible
    for ax, (label, pts) in zip(axes[0], usable.items()):
        top = 1.0
        for task in TASKS:
            sel = [p for p in pts if p.get("task") == task]
            if not sel:
                continue
            g = np.array([p["gold_sev"] for p in sel], float)
            pr = np.array([p["pred_sev"] for p in sel], float)
            top = max(top, float(g.max()), float(pr.max()))
            ax.scatter(
                g + rng.uniform(-0.15, 0.15, len(g)),
                pr + rng.uniform(-0.15, 0.15, len(pr)),
                s=12,
                alpha=0.6,
                label=task,
                color=colours[task],
            )
        ax.plot([0, top], [0, top], color="grey", lw=0.8, ls="--")
        ax.set_xlabel("gold severity total")
        ax.set_ylabel("predicted severity total")
        ax.set_title(label, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------------------------
# judge report
# ----------------------------------------------------------------------------------------------


def sibling_metrics(out_dir: Path, fingerprint: str) -> list[dict[str, Any]]:
    """``metrics.json`` documents of other run directories beside ``out_dir`` on the same data."""
    docs = []
    parent = out_dir.resolve().parent
    for p in sorted(parent.glob("*/metrics.json")):
        if p.parent.resolve() == out_dir.resolve():
            continue
        try:
            doc = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if (doc.get("data") or {}).get("fingerprint") == fingerprint and doc.get("kind") == "judge":
            doc["run_dir"] = p.parent.name
            docs.append(doc)
    return docs


def write_judge_report(
    out_dir: Path,
    metrics: dict[str, Any],
    points: dict[str, list[dict[str, Any]]],
    margins: dict[str, list[float]] | None = None,
    reference: list[dict[str, Any]] | None = None,
) -> Path:
    """Write ``report.md`` and ``plots/*.png`` into ``out_dir``; returns the report path."""
    out_dir = Path(out_dir)
    plots = out_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    data = metrics.get("data") or {}
    this = dict(metrics, run_dir=out_dir.name)
    docs = [this] + sibling_metrics(out_dir, data.get("fingerprint", ""))
    rows = leaderboard_rows(docs)

    made = {
        "category": plot_category_f1(metrics.get("judges") or {}, plots / "category_f1.png"),
        "rewards": plot_reward_distributions(points, plots / "reward_distributions.png"),
        "severity": plot_severity_scatter(points, plots / "severity_scatter.png"),
        "pairwise": plot_pairwise_margins(margins or {}, plots / "pairwise_margins.png"),
    }
    prov = metrics.get("provenance") or {}
    lines = [
        f"# erm bench judge — {data.get('name', '')}",
        "",
        f"- data: `{data.get('path', '')}` ({data.get('items', 0)} items: "
        + ", ".join(f"{k} {v}" for k, v in (data.get("tasks") or {}).items())
        + (f"; {data.get('pairs', 0)} pairwise" if data.get("pairs") else "")
        + ")",
        f"- fingerprint: `{data.get('fingerprint', '')[:16]}`",
        f"- metrics version: `{prov.get('metrics_version', '')}`; erm {prov.get('libraries', {}).get('erm-cli', '')}",
        "",
        "## Leaderboard",
        "",
        "F1_hard / F1_soft / Sc in percent (VC-RewardBench definitions: micro F1 over matched errors, "
        "partial = 0.5 TP in F1_soft, Sc = Pearson×100 of per-item severity totals, pooled for AVG). "
        "AUROC: reward of error-free vs erroneous items. Sc(reward): Pearson×100 of 1−reward vs gold "
        "severity, defined for every judge including the pixel baselines.",
        "",
        leaderboard_markdown(rows, reference),
        "",
    ]
    if reference:
        lines += [
            "Published rows: " + reference[0]["source"] + ". They used an LLM matcher; compare them with "
            "erm rows of an `llm:` matcher, not the offline one.",
            "",
        ]
    lines += ["## Per-task details", ""]
    for label, j in (metrics.get("judges") or {}).items():
        for matcher, m in (j.get("vcbench") or {}).items():
            prompt = m.get("prompt") or {}
            lines += [
                f"### {label} — matcher `{matcher}`",
                "",
                *([f"Matcher prompt: the released one ({prompt.get('source')}, sha {prompt.get('sha')})."
                   if prompt.get("prompt") == "visual-erm" else
                   "Matcher prompt: erm's." + (f" {prompt['note']}." if prompt.get("note") else ""), ""]
                  if prompt else []),
                "| task | type | gold | pred | TP hard | TP soft | FP | FN | F1_hard | F1_soft | Sc |",
                "|---|---|---|---|---|---|---|---|---|---|---|",
            ]
            for task in TASKS:
                t = (m.get("metrics") or {}).get(task)
                if not t:
                    continue
                lines.append(
                    f"| **{task}** | all | {t['gold_errors']} | {t['pred_errors']} | {_fmt(t['tp_hard'], 0)} "
                    f"| {_fmt(t['tp_soft'])} | {_fmt(t['fp'], 0)} | {_fmt(t['fn'], 0)} | "
                    f"{_fmt(t['f1_hard'])} | {_fmt(t['f1_soft'])} | {_fmt(t['sc'])} |"
                )
                for cat, c in t.get("per_type", {}).items():
                    sup = c.get("support", {})
                    empty = not sup.get("gold") and not sup.get("pred")
                    lines.append(
                        f"| {task} | {cat} | {sup.get('gold', 0)} | {sup.get('pred', 0)} | "
                        f"{_fmt(c['tp_hard'], 0)} | {_fmt(c['tp_soft'])} | {_fmt(c['fp'], 0)} | "
                        f"{_fmt(c['fn'], 0)} | {'–' if empty else _fmt(c['f1_hard'])} | "
                        f"{'–' if empty else _fmt(c['f1_soft'])} | "
                        f"{_fmt((t.get('sc_per_type') or {}).get(cat))} |"
                    )
            if m.get("failed"):
                lines.append(
                    f"\n{m['failed']} item(s) could not be matched and are left out (see matches file)."
                )
            lines.append("")
    lines += ["## Plots", ""]
    titles = {
        "category": "Per-category F1",
        "rewards": "Reward distributions: equivalent vs not",
        "severity": "Predicted vs gold severity",
        "pairwise": "Pairwise reward margins",
    }
    for key, p in made.items():
        if p is not None:
            lines += [f"### {titles[key]}", "", f"![{titles[key]}](plots/{p.name})", ""]
    failed = {label: j for label, j in (metrics.get("judges") or {}).items() if j.get("failed")}
    if failed:
        from collections import Counter

        lines += [
            "## Failed items",
            "",
            "Items a judge could not score are recorded with their reason in its "
            "predictions file and left out of its metrics.",
            "",
            "| judge | items | reasons (first 50 items) |",
            "|---|---|---|",
        ]
        for label, j in failed.items():
            reasons = Counter(str(f.get("error", ""))[:120] for f in j.get("failures") or [])
            text = "; ".join(f"{r} ×{n}" for r, n in reasons.most_common(4)).replace("|", "/")
            lines.append(f"| {label} | {j['failed']} | {text} |")
        lines.append("")
    lines += [
        "## Reproducibility",
        "",
        "```json",
        json.dumps({k: prov.get(k) for k in ("metrics_version", "libraries", "platform")}, indent=1),
        "```",
        "",
    ]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines))
    return report


# ----------------------------------------------------------------------------------------------
# policy report
# ----------------------------------------------------------------------------------------------

POLICY_METRICS = {
    "items": "items of this task",
    "failed_items": "items that could not be evaluated at all (reason in results.jsonl)",
    "exec_rate": "% of predictions that rendered (not blank)",
    "reward": "mean judge reward in [0, 1] (a failed render scores 0)",
    "rl_reward": "mean render_ok + reward in [0, 2] (the RL reward)",
    "reward_items": "items with a reward (a reference image was available)",
    "judge_failed": "items whose judge call failed (no reward recorded)",
    "chartmimic_items": "items with traced ChartMimic-style metrics (matplotlib reference code)",
    "text": "ChartMimic text F1 x100 (drawn strings, tick labels excluded)",
    "layout": "ChartMimic layout F1 x100 (subplot grid positions)",
    "type": "ChartMimic chart-type F1 x100 (plotting calls)",
    "color": "ChartMimic colour F1 x100 (Hungarian on dE2000 per plotting function)",
    "low_level": "mean of the four ChartMimic F1s x100",
    "teds_items": "items with a reference table source",
    "teds": "TEDS x100 (PubTabNet, OmniDocBench normalisation)",
    "teds_s": "TEDS-S x100 (structure only)",
    "svg_items": "items with a reference image",
    "mse": "mean squared pixel error in [0, 1] (lower is better; failed renders vs blank white)",
    "ssim": "SSIM x100",
    "dino": "DINO cosine x100 (local weights)",
    "clip": "CLIP cosine x100 (local weights)",
    "code_chars": "mean length of the generated code in characters",
    "length_ratio": "mean generated / reference code length",
}

#: The metric by which the lowest-scoring items of each task are listed.
_HEADLINE = {
    "chart": ("low_level", lambda r: (r.get("chart") or {}).get("average")),
    "table": ("teds", lambda r: (r.get("table") or {}).get("teds")),
    "svg": ("ssim", lambda r: (r.get("svg") or {}).get("ssim")),
}


def _num(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1 else f"{v:.2f}"
    return str(v)


def write_policy_report(
    out_dir: Path, summary: dict[str, Any], results: list[dict[str, Any]] | None = None
) -> Path:
    """``report.md`` for ``erm bench policy``: per-task metric tables, the weakest items, failures, provenance."""
    out_dir = Path(out_dir)
    judge = summary.get("judge") or {}
    lines = [
        "# erm bench policy",
        "",
        f"- predictions: `{summary.get('predictions', '')}`",
        f"- references: `{summary.get('references', '')}`",
        f"- items: {summary.get('items', 0)}; reward judge: "
        + (f"{judge.get('name')} {judge.get('version')}" if judge else "none"),
        "",
    ]
    results = results or []
    for task, t in (summary.get("tasks") or {}).items():
        lines += [
            f"## {task} ({t.get('items', 0)} items)",
            "",
            "| metric | value | meaning |",
            "|---|---|---|",
        ]
        for k, v in t.items():
            if k == "items" or isinstance(v, (dict, list)):
                continue
            lines.append(f"| {k} | {_num(v)} | {POLICY_METRICS.get(k, '')} |")
        lines.append("")
        head = _HEADLINE.get(task)
        rows = [r for r in results if r.get("task") == task]
        scored = [(head[1](r), r) for r in rows] if head else []
        scored = sorted([(v, r) for v, r in scored if v is not None], key=lambda x: x[0])[:5]
        if scored and scored[0][0] < 1.0:
            lines += [f"Lowest {head[0]}:", "", "| id | score | render | reward |", "|---|---|---|---|"]
            for v, r in scored:
                lines.append(
                    f"| {r['id']} | {v:.3f} | {'ok' if r.get('render_ok') else 'failed'} | "
                    f"{_num(r.get('reward'))} |"
                )
            lines.append("")
    failures = [
        r
        for r in results
        if r.get("error") or r.get("render_error") or r.get("judge_error") or r.get("ref_error")
    ]
    if failures:
        lines += ["## Failures", "", "| id | task | reason |", "|---|---|---|"]
        for r in failures[:30]:
            reason = r.get("error") or r.get("ref_error") or r.get("render_error") or r.get("judge_error")
            lines.append(f"| {r['id']} | {r.get('task')} | {str(reason).replace('|', '/')[:160]} |")
        if len(failures) > 30:
            lines.append(f"| … | | {len(failures) - 30} more in results.jsonl |")
        lines.append("")
    prov = summary.get("provenance") or {}
    lines += [
        "## Reproducibility",
        "",
        "```json",
        json.dumps(
            {k: prov.get(k) for k in ("metrics_version", "definitions", "libraries", "renderers")}, indent=1
        ),
        "```",
        "",
    ]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines))
    return report
