"""The short table ``erm bench speed`` prints for people: a few headline figures per section (the whole
document is in the JSON file it writes and behind ``--json``)."""

from __future__ import annotations

from typing import Any


def _f(v: Any, fmt: str = "{:.3g}") -> str:
    return "–" if v is None else fmt.format(v)


def _startup(s: dict[str, Any]) -> list[tuple[str, str]]:
    help_s = s.get("erm_help_seconds") or {}
    goal = s.get("erm_help_goal_seconds")
    heavy = s.get("heavy_imports_at_startup") or []
    return [("erm --help (p50)", f"{_f(help_s.get('p50'))} s" + (f" (goal ≤ {goal} s)" if goal else "")),
            ("heavy imports at start-up", ", ".join(heavy) if heavy else "none")]


def _render(s: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for r in s.get("rows") or []:
        timings = (f"cold {_f(r.get('cold_ms'), '{:.0f}')} ms, warm {_f(r.get('warm_ms'), '{:.0f}')} ms, "
                   f"cache hit {_f(r.get('cache_hit_ms'), '{:.1f}')} ms")
        rows.append((f"render {r.get('kind')}", timings))
    ratios, targets = s.get("ratios") or {}, s.get("targets") or {}
    if ratios.get("matplotlib_warm_over_inprocess") is not None:
        rows.append(("matplotlib warm sandbox / in-process", f"{_f(ratios['matplotlib_warm_over_inprocess'])}x"
                     + (f" (target ≤ {targets['matplotlib_warm_over_inprocess_max']}x)"
                        if targets.get("matplotlib_warm_over_inprocess_max") else "")))
    if ratios.get("svg_warm_ms_per_icon") is not None:
        rows.append(("SVG per icon in the sandbox", f"{_f(ratios['svg_warm_ms_per_icon'], '{:.1f}')} ms"
                     + (f" (target ≤ {targets['svg_warm_ms_max']:g} ms" if targets.get("svg_warm_ms_max") else " (")
                     + f"; cairosvg in-process {_f(ratios.get('svg_cairosvg_inprocess_ms'), '{:.2f}')} ms)"))
    checks = s.get("meets_targets") or {}
    if checks:
        missed = [k for k, ok in checks.items() if not ok]
        rows.append(("render targets met", f"{len(checks) - len(missed)} of {len(checks)}"
                     + (f" (missed: {', '.join(missed)})" if missed else "")))
    return rows


def _critic(s: dict[str, Any]) -> list[tuple[str, str]]:
    m = s.get("summary") or {}
    split = m.get("split_median_s_800x600_chart") or {}
    rows = [("critic, 800x600 chart (median)", f"{_f(m.get('median_s_800x600_chart'))} s"
             + (f" (target {m['target_s']} s)" if m.get("target_s") else "")),
            ("critic, all pairs (median)", f"{_f(m.get('median_s_all'))} s")]
    if split:
        rows.append(("critic split (chart)", ", ".join(f"{k} {_f(v, '{:.2f}')} s" for k, v in split.items())))
    return rows


def _judge(s: dict[str, Any]) -> list[tuple[str, str]]:
    lat = s.get("latency_seconds") or {}
    figure = (f"{_f(s.get('items_per_second'))} pairs/s over {s.get('items')} pairs (latency p50 "
              f"{_f(lat.get('p50'))} s, p90 {_f(lat.get('p90'))} s)")
    return [(f"judge {s.get('judge')} throughput", figure)]


def _ray(s: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for key, label in (("local_threads", "local threads"), ("ray_1_workers", "Ray, 1 worker"),
                       ("ray_2_workers", "Ray, 2 workers")):
        r = s.get(key) or {}
        if r:
            rows.append((f"critic pairs/s, {label}", f"{_f(r.get('pairs_per_second'))}"
                         + (f" (steady {_f(r['steady_pairs_per_second'])})" if r.get("steady_pairs_per_second") else "")))
    over = s.get("ray_overhead") or {}
    if over:
        rows.append(("Ray overhead per item", f"{_f(over.get('ms_per_item_one_actor'))} ms"))
    return rows


def _rewards(s: dict[str, Any]) -> list[tuple[str, str]]:
    by_adapter: dict[str, dict[int, Any]] = {}
    for r in s.get("rows") or []:
        by_adapter.setdefault(str(r.get("adapter")), {})[int(r.get("workers") or 0)] = r.get("rewards_per_second")
    return [(f"rewards/s {a} ({s.get('rollouts')} rollouts)",
             ", ".join(f"{w} worker{'s' if w > 1 else ''} {_f(v)}" for w, v in sorted(ws.items())))
            for a, ws in by_adapter.items()]


SECTION_ROWS = {"startup": _startup, "render": _render, "critic": _critic, "judge": _judge, "ray": _ray,
                "rewards": _rewards}


def summary_rows(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(section, figure, value) rows: the headline figures of each section present in ``doc``."""
    out: list[tuple[str, str, str]] = []
    for name, fn in SECTION_ROWS.items():
        section = doc.get(name)
        if not isinstance(section, dict):
            continue
        if section.get("unavailable"):
            out.append((name, "unavailable", str(section["unavailable"])))
            continue
        try:
            rows = fn(section)
        except (TypeError, ValueError, AttributeError) as exc:  # a figure of an unexpected shape: say so
            rows = [("summary", f"not summarised ({exc.__class__.__name__}); see the JSON")]
        for figure, value in rows:
            out.append((name, figure, value))
        if section.get("section_seconds") is not None:
            out.append((name, "section took", f"{_f(section['section_seconds'], '{:.1f}')} s"))
    return out
