"""Host-side bounds of erm (issue 13, items 3 and 4), measured and printed; nothing is asserted here.

    .venv/bin/python benchmarks/host_limits.py parsing          # ~1 MB adversarial answers, per parser
    .venv/bin/python benchmarks/host_limits.py budget           # --timeout as the whole item's budget
    .venv/bin/python benchmarks/host_limits.py serve [--side N] # erm serve memory under 4 concurrent big pairs
    .venv/bin/python benchmarks/host_limits.py memory           # bombs to erm judge; Chromium's tree vs its cap

``parsing`` times each host-side parser (code extraction, table filters, the judge-output and RL format
parsers) on inputs that made the earlier regexes quadratic; ``budget`` renders slow tables and a slow
plotly figure against a small ``--timeout``; ``serve`` starts ``erm serve`` (critic judge), sends four
concurrent /judge requests with two N x N PNGs each while /health is probed, and prints the statuses,
the server's peak RSS and the probes answered. ``memory`` gives ``erm judge`` decompression-bomb PNGs
(exit code, one line, the erm process's peak RSS) and renders a 1 MB table with the default cap and with
``--mem-mb 512``, printing the Chromium tree's peak (RSS sum and PSS sum) and what happened.
"""

from __future__ import annotations

import argparse
import base64
import io
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PARSING = {
    "extract_code: 'x <svg ' * 150000": ("extract_code", lambda: "x <svg " * 150000),
    "extract_code: fence + 1 MB of blanks + '`'": ("extract_code", lambda: "```" + " " * 1_000_000 + "`"),
    "extract_code: 'for ' + 1 MB word": ("extract_code", lambda: "for " + "a" * 1_000_000),
    "extract_code: 50,000 copies of a function": ("extract_code", lambda: "def f():\n    pass\n" * 50_000),
    "table filter: 60,000 unclosed <meta": ("html_document", lambda: "<table>" + "<meta http-equiv " * 60_000),
    "judge output: 150,000 unclosed <think>": ("judge_output", lambda: "<think> " * 150_000),
    "judge output: open fence + 1 MB blanks": ("judge_output", lambda: "```" + " " * 1_000_000 + "json"),
    "RL format reward: 170,000 unclosed '~~~ x'": ("format_score", lambda: "~~~ x\n" * 170_000),
    "RL format reward: 1 MB of newlines + '|'": ("format_score", lambda: "\n" * 1_000_000 + "|"),
}


def _call(name: str, text: str) -> object:
    if name == "extract_code":
        from erm_cli.renderers import extract_code

        return extract_code(text)
    if name == "html_document":
        from erm_cli.renderers.table_renderer import html_document

        return html_document(text)
    if name == "judge_output":
        from erm_cli.judges.vlm_output import parse_judge_output

        return parse_judge_output(text, "chart")
    from erm_cli.train.format_reward import format_score

    return format_score(text, None)


def parsing() -> None:
    for label, (name, build) in PARSING.items():
        text = build()
        t = time.perf_counter()
        _call(name, text)
        print(f"{time.perf_counter() - t:8.3f} s  {len(text):>9,} chars  {label}", flush=True)


PLOTLY_HEAVY = ("import plotly.graph_objects as go\nn = 120000\nfig = go.Figure([go.Scatter(x=list(range(n)), "
                "y=[(i * 7919) % 1000 for i in range(n)], mode='markers') for _ in range(3)])\n"
                "fig.update_layout(width=3000, height=3000)\n")


def budget() -> None:
    from erm_cli.renderers import RenderOptions, render

    rows = "".join("<tr>" + "".join(f"<td>c{j}r{i}</td>" for j in range(12)) + "</tr>" for i in range(5000))
    cases = [
        ("html table, 1 MB (~15 s in Chromium)", "<table>" + rows + "</table>", "html", 4.0),
        ("latex, 500,000 '&' (~20 s to convert)", "\\begin{tabular}{c}\n" + "&" * 500_000 + "\\end{tabular}",
         "latex", 4.0),
        ("markdown, 500,000 '[' (~14 s to convert)", "[" * 500_000, "markdown", 4.0),
        ("plotly, 3 x 120,000 markers (long draw)", PLOTLY_HEAVY, "plotly", 8.0),
    ]
    for label, code, kind, timeout in cases:
        r = render(code, kind=kind, options=RenderOptions(timeout=timeout), cache=False)
        print(f"--timeout {timeout:g}: {r.seconds:6.2f} s  ok={r.ok}  {label}: {(r.error or '')[:70]}", flush=True)


def serve(side: int, port: int) -> None:
    import httpx
    import psutil
    from PIL import Image

    def png(colour: int) -> str:
        buf = io.BytesIO()
        Image.new("1", (side, side), colour).save(buf, format="PNG", optimize=True)
        return base64.b64encode(buf.getvalue()).decode()

    body = {"reference_b64": png(1), "candidate_b64": png(0), "task": "chart"}
    print(f"two {side}x{side} PNGs per request: {len(body['reference_b64']) + len(body['candidate_b64']):,} "
          "bytes of base64")
    srv = subprocess.Popen([str(ROOT / ".venv" / "bin" / "erm"), "serve", "--port", str(port), "--log-level",
                            "warning"])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(url + "/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        proc = psutil.Process(srv.pid)
        base = peak = proc.memory_info().rss
        stop = threading.Event()
        probes: list[bool] = []

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                try:
                    peak = max(peak, sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]))
                except psutil.Error:
                    pass
                time.sleep(0.05)

        def probe() -> None:
            while not stop.is_set():
                try:
                    probes.append(httpx.get(url + "/health", timeout=2).status_code == 200)
                except httpx.HTTPError:
                    probes.append(False)
                time.sleep(0.2)

        threads = [threading.Thread(target=sample), threading.Thread(target=probe)]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(lambda _: httpx.post(url + "/judge", json=body, timeout=900).status_code, range(4)))
        stop.set()
        for t in threads:
            t.join()
        print(f"statuses {codes} in {time.monotonic() - t0:.1f} s; server RSS {base / 2**20:.0f} MB before, "
              f"{peak / 2**20:.0f} MB peak; /health answered {sum(probes)} of {len(probes)} probes")
    finally:
        srv.terminate()
        srv.wait(30)


def _bomb_png(path: Path, side: int, colour_type: int = 0) -> Path:
    import struct
    import zlib

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    comp = zlib.compressobj(9)
    row = b"\0" * (1 + side * {0: 1, 6: 4}[colour_type])
    body = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, colour_type, 0, 0, 0))
                     + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def memory() -> None:
    import json
    import tempfile

    from PIL import Image

    wrapper = ("import json, resource, subprocess, sys\n"
               "p = subprocess.run(json.loads(sys.argv[1]), capture_output=True, text=True)\n"
               "print(json.dumps([p.returncode, p.stderr.strip(), resource.getrusage(resource.RUSAGE_CHILDREN)"
               ".ru_maxrss // 1024]))\n")
    with tempfile.TemporaryDirectory(prefix="erm-limits-") as tmp:
        ok = Path(tmp) / "ok.png"
        Image.new("RGB", (160, 120), "white").save(ok)
        for side, ct, label in ((40000, 0, "1.6 GP greyscale"), (9000, 6, "81 MP RGBA")):
            bomb = _bomb_png(Path(tmp) / f"bomb{side}.png", side, ct)
            cmd = [sys.executable, "-m", "erm_cli.app", "judge", str(bomb), str(ok), "--judge", "mse"]
            out = subprocess.run([sys.executable, "-c", wrapper, json.dumps(cmd)], capture_output=True, text=True,
                                 check=True)
            code, err, peak = json.loads(out.stdout)
            print(f"erm judge, {label} bomb ({bomb.stat().st_size:,} bytes): exit {code}, erm peak RSS {peak} MB: "
                  f"{err[:110]}", flush=True)
    import threading

    from erm_cli.renderers import RenderOptions, render
    from erm_cli.renderers.browser import get_browser
    from erm_cli.renderers.memwatch import descendants, pss_bytes, rss_bytes

    table = "<table>" + "".join("<tr>" + "".join(f"<td>r{i}c{j} value</td>" for j in range(12)) + "</tr>"
                                for i in range(3500)) + "</table>"
    for mem_mb in (1536, 512):
        render("<table><tr><td>warm</td></tr></table>", kind="html", cache=False)
        browser = get_browser()
        peak = {"rss": 0, "pss": 0}
        stop = threading.Event()

        def poll(browser=browser, peak=peak, stop=stop) -> None:
            while not stop.is_set():
                session = browser._session
                pids = descendants(session.driver_pids) if session is not None else []
                peak["rss"] = max(peak["rss"], sum(map(rss_bytes, pids)) >> 20)
                peak["pss"] = max(peak["pss"], sum(map(pss_bytes, pids)) >> 20)
                time.sleep(0.1)

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        r = render(table, kind="html", options=RenderOptions(timeout=120, mem_mb=mem_mb), cache=False)
        stop.set()
        thread.join()
        print(f"1 MB html table, --mem-mb {mem_mb}: ok={r.ok} in {r.seconds:.1f} s; Chromium tree peak RSS sum "
              f"{peak['rss']} MB, PSS sum {peak['pss']} MB (sampled every 0.1 s) {(r.error or '')[:90]}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("section", choices=("parsing", "budget", "serve", "memory"))
    ap.add_argument("--side", type=int, default=7999, help="serve: image side in pixels")
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    {"parsing": parsing, "budget": budget, "memory": memory}.get(args.section, lambda: serve(args.side, args.port))()


if __name__ == "__main__":
    main()
