"""Render speed: a cold subprocess per render (as the peers do) vs erm's warm sandbox vs a cache hit.

For a simple matplotlib chart, an SVG icon and an HTML table, in one run on one machine:

* (a) **cold**: what peer pipelines do per item - matplotlib: ``python script.py`` (the code plus an
  appended ``plt.savefig``, as ChartMimic / Visual-ERM's reward code run it); SVG: a ``python`` process
  calling ``cairosvg.svg2png`` (Visual-ERM's separate render process); HTML table: a fresh headless
  Chromium screenshot (what html2image does per call);
* (b) **warm**: ``erm_cli.renderers.render(..., cache=False)`` after one warm-up render;
* (c) **cache hit**: ``render(...)`` of an already cached item;
* plus the wall time of ``erm --help``.

Plus the same figure drawn **in this process** (matplotlib draw + ``savefig``; ``cairosvg.svg2png``), the
floor any sandbox adds to. The warm renders and the in-process draws are timed in alternating blocks of
``BLOCK`` (each block back to back), so that a change in machine load during the run hits both sides of
the ratio; the CPU per warm render includes the spare processes the zygote forks (and warms) after each. Targets: warm at least 5x faster than cold; matplotlib warm at most 1.6x the
in-process draw + savefig; SVG at most 15 ms per icon; cache hit at most 5 ms; ``erm --help`` at most 0.2 s (issue 15).
``python -m erm_cli.bench.render_speed [--quick] [--json]`` prints the table. Figures, not asserts.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHART = """import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6, 4))
ax.bar(["North", "South", "East", "West"], [23, 17, 35, 29], color="#4C72B0")
ax.set_title("Sales by region")
ax.set_ylabel("Units")
"""
ICON = """<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 24 24" fill="none"
 stroke="#1f2937" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round">
<circle cx="8" cy="8" r="3.2" fill="#fbbf24"/><path d="M7 19h10.5a3.5 3.5 0 0 0 0-7 5 5 0 0 0-9.6 1.2A3 3 0 0 0 7 19z"
 fill="#e5e7eb"/></svg>
"""
TABLE = """<table><tr><th>Model</th><th>Chart</th><th>Table</th><th>SVG</th></tr>
<tr><td>Pixel MSE</td><td>12.1</td><td>9.4</td><td>15.0</td></tr>
<tr><td>Visual-ERM</td><td>42.1</td><td>44.7</td><td>36.2</td></tr></table>
"""
SAMPLES = {"matplotlib": CHART, "svg": ICON, "html": TABLE}
TARGETS = {"warm_speedup_min": 5.0, "cache_hit_ms_max": 5.0, "help_s_max": 0.2,
           "matplotlib_warm_over_inprocess_max": 1.6, "svg_warm_ms_max": 15.0}


def _median_ms(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def _salted(code: str, kind: str) -> str:
    """The same picture under a fresh cache key (a comment the renderer ignores)."""
    salt = uuid.uuid4().hex
    if kind == "matplotlib":
        return f"{code}# bench {salt}\n"
    return f"{code}<!-- bench {salt} -->\n"


# --------------------------------------------------------------------------------------------- cold
def _cold_matplotlib(code: str, workdir: Path) -> Callable[[], None]:
    script = workdir / "script.py"
    script.write_text("import matplotlib\nmatplotlib.use('Agg')\n" + code +
                      "\nimport matplotlib.pyplot as plt\nplt.savefig('out.png')\n")

    def run() -> None:
        subprocess.run([sys.executable, str(script)], cwd=workdir, check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    return run


def _cold_svg(code: str, workdir: Path) -> Callable[[], None]:
    src = workdir / "icon.svg"
    src.write_text(code)
    prog = f"import cairosvg; cairosvg.svg2png(url={str(src)!r}, write_to={str(workdir / 'out.png')!r})"

    def run() -> None:
        subprocess.run([sys.executable, "-c", prog], cwd=workdir, check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    return run


def _cold_html(code: str, workdir: Path) -> Callable[[], None] | None:
    from ..renderers.browser import find_chromium

    exe = find_chromium(required=False)
    if exe is None:
        return None
    page = workdir / "table.html"
    page.write_text("<html><body>" + code + "</body></html>")
    args = [exe, "--headless", "--disable-gpu", "--hide-scrollbars", f"--screenshot={workdir / 'out.png'}",
            "--window-size=800,600", "--no-first-run", "--disable-extensions", page.as_uri()]
    if os.geteuid() == 0:
        args.insert(1, "--no-sandbox")

    def run() -> None:
        subprocess.run(args, cwd=workdir, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)
    return run


COLD = {"matplotlib": _cold_matplotlib, "svg": _cold_svg, "html": _cold_html}


# ------------------------------------------------------------------------------------- in-process
def _inprocess_matplotlib(code: str) -> Callable[[], None]:
    """Draw + savefig of the same figure in this process (what the sandbox adds to)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def run() -> None:
        namespace: dict[str, Any] = {}
        exec(code, namespace)  # noqa: S102 - the benchmark's own fixed chart
        buf = io.BytesIO()
        plt.gcf().savefig(buf, format="png", dpi=100)
        plt.close("all")
    return run


def _inprocess_svg(code: str) -> Callable[[], None]:
    import cairosvg

    data = code.encode()
    return lambda: cairosvg.svg2png(bytestring=data)


INPROCESS = {"matplotlib": _inprocess_matplotlib, "svg": _inprocess_svg}


# ------------------------------------------------------------------------------- process tree (/proc)
def _process_table() -> dict[int, tuple[int, float, str]]:
    """pid -> (ppid, CPU seconds incl. reaped children, comm) for every process (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    table: dict[int, tuple[int, float, str]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(name)] = (int(fields[1]), sum(int(x) for x in fields[11:15]) / tick, comm)
    return table


def _descendants(root: int, table: dict[int, tuple[int, float, str]]) -> set[int]:
    found: set[int] = set()
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _, _) in table.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                frontier.append(pid)
    return found


def tree_cpu_seconds() -> float:
    """CPU time of this process and of every descendant, living or reaped: what a render costs the
    machine whatever else runs on it (wall time on a loaded machine says more about the load)."""
    import resource

    table = _process_table()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime + sum(table[p][1] for p in _descendants(os.getpid(), table))


# --------------------------------------------------------------------------------------- measures
#: Renders per block when the warm sandbox and the in-process draw are measured in alternation.
BLOCK = 3


def measure_kind(kind: str, repeats: int = 5, cold_repeats: int | None = None) -> dict[str, Any]:
    """Median ms per render for (a) cold, (b) warm sandbox and (c) cache hit, for one kind."""
    from ..renderers import render

    code = SAMPLES[kind]
    row: dict[str, Any] = {"kind": kind}
    with tempfile.TemporaryDirectory(prefix="erm-bench-") as tmp:
        cold = COLD[kind](code, Path(tmp))
        if cold is None:
            row["cold_ms"] = None
        else:
            try:
                cold()  # page cache, font caches: measure steady state, not the very first run
                row["cold_ms"] = _median_ms(cold, cold_repeats or repeats)
            except (subprocess.SubprocessError, OSError) as exc:
                row["cold_ms"] = None
                row["cold_error"] = str(exc).splitlines()[0]
    first = render(_salted(code, kind), kind=kind, cache=False)  # starts the sandbox / browser
    if not first.ok:
        row["error"] = first.error
        return row
    time.sleep(0.5)
    cpu0 = tree_cpu_seconds()

    def warm_once() -> None:
        render(code, kind=kind, cache=False)

    if kind in INPROCESS:
        # Interleaved blocks (sandbox renders back to back, then in-process draws back to back, a short
        # pause between blocks), so that both sides of the ratio see the same machine load.
        inproc = INPROCESS[kind](code)
        inproc()  # imports, font caches
        warm_times: list[float] = []
        inproc_times: list[float] = []
        block = min(repeats, BLOCK)
        rounds = max(1, -(-repeats // block))
        cpu_spent = 0.0
        for _ in range(rounds):
            cpu_block = tree_cpu_seconds()
            warm_times += [_median_ms(warm_once, 1) for _ in range(block)]
            time.sleep(0.5)  # the spares forked after each answer (and their warm-up) count as the render's CPU
            cpu_spent += tree_cpu_seconds() - cpu_block
            inproc_times += [_median_ms(inproc, 1) for _ in range(block)]
            time.sleep(0.2)
        row["warm_ms"] = statistics.median(warm_times)
        row["inprocess_ms"] = statistics.median(inproc_times)
        row["warm_over_inprocess"] = round(row["warm_ms"] / row["inprocess_ms"], 2)
        row["warm_cpu_ms"] = round(cpu_spent / len(warm_times) * 1000.0, 1)
        row["ratio_samples"] = len(warm_times)
    else:
        row["warm_ms"] = _median_ms(warm_once, repeats)
        time.sleep(0.5)  # the zygote's spares for the next render are forked after each answer: count them too
        row["warm_cpu_ms"] = round((tree_cpu_seconds() - cpu0) / repeats * 1000.0, 1)
    cached = _salted(code, kind)
    render(cached, kind=kind)  # store it
    row["cache_hit_ms"] = _median_ms(lambda: render(cached, kind=kind), max(repeats, 20))
    if row.get("cold_ms") and row.get("warm_ms"):
        row["speedup"] = round(row["cold_ms"] / row["warm_ms"], 1)
    return row


def measure_help(repeats: int = 5) -> float:
    """Median wall time of ``erm --help`` in seconds."""
    erm = shutil.which("erm", path=os.path.dirname(sys.executable)) or shutil.which("erm")
    cmd = [erm, "--help"] if erm else [sys.executable, "-m", "erm_cli.app", "--help"]

    def run() -> None:
        subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
    run()
    return _median_ms(run, repeats) / 1000.0


def run(quick: bool = False, repeats: int | None = None, kinds: tuple[str, ...] = ("matplotlib", "svg", "html"),
        ) -> dict[str, Any]:
    """All figures as a dict (``erm bench speed`` embeds it): rows per kind, ``help_s``, targets, machine."""
    n = repeats or (3 if quick else 7)
    rows = [measure_kind(kind, n, cold_repeats=max(3, n // 2) if quick else n) for kind in kinds]
    help_s = measure_help(3 if quick else 5)
    by_kind = {r["kind"]: r for r in rows}
    mpl, svg = by_kind.get("matplotlib", {}), by_kind.get("svg", {})
    ratios = {"matplotlib_warm_over_inprocess": mpl.get("warm_over_inprocess"),
              "matplotlib_cold_over_warm": mpl.get("speedup"),
              "svg_warm_ms_per_icon": round(svg["warm_ms"], 2) if svg.get("warm_ms") else None,
              "svg_cairosvg_inprocess_ms": round(svg["inprocess_ms"], 2) if svg.get("inprocess_ms") else None,
              "svg_warm_cpu_ms_per_icon": svg.get("warm_cpu_ms"), "matplotlib_warm_cpu_ms": mpl.get("warm_cpu_ms")}
    checks = {
        "matplotlib_vs_inprocess": (ratios["matplotlib_warm_over_inprocess"] or 1e9)
        <= TARGETS["matplotlib_warm_over_inprocess_max"],
        "svg_ms": (ratios["svg_warm_ms_per_icon"] or 1e9) <= TARGETS["svg_warm_ms_max"],
        "warm_speedup": all((r.get("speedup") or 0) >= TARGETS["warm_speedup_min"] for r in rows
                            if r.get("cold_ms")),
        "cache_hit": all((r.get("cache_hit_ms") or 1e9) <= TARGETS["cache_hit_ms_max"] for r in rows),
        "help": help_s <= TARGETS["help_s_max"],
    }
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"rows": rows, "ratios": ratios, "help_s": round(help_s, 3), "targets": TARGETS, "meets_targets": checks,
            "repeats": n, "machine": {"cpus": os.cpu_count(), "loadavg": load, "python": sys.version.split()[0]}}


render_speed = run


def format_table(result: dict[str, Any]) -> str:
    def fmt(v: Any, digits: int = 1) -> str:
        return "-" if v is None else f"{v:.{digits}f}"

    lines = [f"{'kind':<12}{'cold ms':>10}{'warm ms':>10}{'speedup':>9}{'cache hit ms':>14}",
             "-" * 55]
    for r in result["rows"]:
        lines.append(f"{r['kind']:<12}{fmt(r.get('cold_ms')):>10}{fmt(r.get('warm_ms')):>10}"
                     f"{fmt(r.get('speedup')):>8}x{fmt(r.get('cache_hit_ms'), 2):>14}"
                     + (f"   error: {r['error']}" if r.get("error") else ""))
    checks = result["meets_targets"]
    lines.append("-" * 55)
    lines.append(f"erm --help: {result['help_s']:.3f} s")
    ratios = result.get("ratios") or {}
    lines.append(f"matplotlib: warm sandbox / in-process draw+savefig = {fmt(ratios.get('matplotlib_warm_over_inprocess'), 2)}x "
                 f"(target <= 1.6x) [{'met' if checks.get('matplotlib_vs_inprocess') else 'NOT met'}]; "
                 f"cold python / warm = {fmt(ratios.get('matplotlib_cold_over_warm'))}x (target >= 5x)")
    lines.append(f"CPU per warm render (erm + every child process): matplotlib {fmt(ratios.get('matplotlib_warm_cpu_ms'))} "
                 f"ms, SVG {fmt(ratios.get('svg_warm_cpu_ms_per_icon'))} ms")
    lines.append(f"SVG: {fmt(ratios.get('svg_warm_ms_per_icon'), 1)} ms per icon in the sandbox (target <= 15 ms) "
                 f"[{'met' if checks.get('svg_ms') else 'NOT met'}]; cairosvg in-process "
                 f"{fmt(ratios.get('svg_cairosvg_inprocess_ms'), 2)} ms")
    lines.append("targets: warm >= 5x faster than cold [{}], cache hit <= 5 ms [{}], erm --help <= 0.2 s [{}]".format(
        *("met" if checks[k] else "NOT met" for k in ("warm_speedup", "cache_hit", "help"))))
    m = result["machine"]
    load = ", ".join(f"{x:.2f}" for x in m["loadavg"]) if m.get("loadavg") else "n/a"
    paired = max((r.get("ratio_samples") or 0) for r in result["rows"]) if result["rows"] else 0
    lines.append(f"machine: {m['cpus']} CPUs, load average {load}; medians of {result['repeats']} runs"
                 + (f" ({paired} for warm vs in-process, alternating blocks of {BLOCK})" if paired else ""))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- memory
BIG_INPUTS = {
    "table-1MB": ("html", "<table>" + "".join(
        "<tr>" + "".join(f"<td>r{i}c{j} value</td>" for j in range(12)) + "</tr>" for i in range(3500)) + "</table>"),
    "plotly-300k-markers": ("plotly", ("import plotly.graph_objects as go\nimport numpy as np\nx = np.arange(300000)\n"
                                       "fig = go.Figure([go.Scatter(x=x, y=np.sin(x / 100.0), mode='markers')])\n")),
    "plotly-2M-markers": ("plotly", ("import plotly.graph_objects as go\nimport numpy as np\nx = np.arange(2000000)\n"
                                     "fig = go.Figure([go.Scatter(x=x, y=np.sin(x / 100.0), mode='markers')])\n")),
}


def memory_peaks(names: tuple[str, ...] = tuple(BIG_INPUTS)) -> dict[str, Any]:
    """Peak RSS (MB) of erm and all its children while rendering each big input, sampled every 50 ms,
    split into Chromium, the sandbox jails and the rest. Slow (a minute per input); not part of ``run``."""
    import threading

    from ..renderers import RenderOptions, render

    out: dict[str, Any] = {}
    for name in names:
        kind, code = BIG_INPUTS[name]
        peak: dict[str, int] = {}
        stop = threading.Event()

        def poll(peak: dict[str, int] = peak, stop: threading.Event = stop) -> None:
            while not stop.is_set():
                sums: dict[str, int] = {}
                table = _process_table()
                for pid in _descendants(os.getpid(), table) | {os.getpid()}:
                    try:
                        with open(f"/proc/{pid}/status") as fh:
                            rss = next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
                        with open(f"/proc/{pid}/cmdline", "rb") as fh:
                            cmd = fh.read()
                    except OSError:
                        continue
                    group = ("erm" if pid == os.getpid() else "chromium" if b"chrom" in cmd
                             else "sandbox" if b"zygote" in cmd or table[pid][2] == "bwrap" else "other")
                    sums[group] = sums.get(group, 0) + rss // 1024
                sums["total"] = sum(sums.values())
                for key, value in sums.items():
                    peak[key] = max(peak.get(key, 0), value)
                stop.wait(0.05)

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        t0 = time.perf_counter()
        result = render(code, kind=kind, options=RenderOptions(timeout=120), cache=False)
        stop.set()
        thread.join()
        out[name] = {"ok": result.ok, "error": result.error, "seconds": round(time.perf_counter() - t0, 1),
                     "peak_rss_mb": peak}
    return out


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m erm_cli.bench.render_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--memory", action="store_true", help="only the peak memory of big table/plotly inputs")
    args = parser.parse_args(argv)
    if args.memory:
        print(json.dumps(memory_peaks(), indent=2))
        return
    result = run(quick=args.quick, repeats=args.repeats)
    print(json.dumps(result, indent=2) if args.json else format_table(result))


if __name__ == "__main__":
    main()
