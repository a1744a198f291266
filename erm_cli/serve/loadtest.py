"""Load-test an ``erm serve`` reward service and print throughput and latency figures.

    python -m erm_cli.serve.loadtest http://127.0.0.1:8000 --requests 64 --concurrency 8
    python -m erm_cli.serve.loadtest --local critic              # start a server here, then test it

Each request judges ``--code`` (default: a variant of examples/refine/sales_bar.py) against
``--reference`` (default: examples/refine/sales_bar.png) with ``POST /judge``, or sends ``--batch``
items per ``POST /reward``. The first request warms the server and is not counted. Cached renders
make repeated code cheap; ``--vary`` appends a unique comment to each request's code so every
request renders afresh.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..config import examples_dir


def _defaults() -> tuple[Path, str]:
    ref = examples_dir() / "refine" / "sales_bar.png"
    code_path = examples_dir() / "refine" / "sales_bar.py"
    code = code_path.read_text() if code_path.exists() else "import matplotlib.pyplot as plt\nplt.bar([1, 2], [3, 4])\n"
    # a near miss: one bar value and the colour changed, so the judge has something to report
    return ref, code.replace("[12, 19, 7, 15]", "[12, 19, 9, 15]").replace("#4c72b0", "#dd8452")


def run(url: str, reference: Path, code: str, requests: int, concurrency: int, batch: int, vary: bool,
        token: str | None, timeout: float) -> dict[str, Any]:
    import httpx

    ref_b64 = base64.b64encode(reference.read_bytes()).decode()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client = httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=concurrency * 2))

    def item(i: int) -> dict[str, Any]:
        return {"id": str(i), "reference_b64": ref_b64,
                "candidate_code": code + (f"\n# variant {i} {time.time_ns()}\n" if vary else "")}

    def one(i: int) -> tuple[float, bool, list[float]]:
        t0 = time.perf_counter()
        try:
            return send(i, t0)
        except httpx.HTTPError as exc:
            sys.stderr.write(f"request {i}: {exc.__class__.__name__}: {exc}\n")
            return time.perf_counter() - t0, False, []

    def send(i: int, t0: float) -> tuple[float, bool, list[float]]:
        if batch > 1:
            r = client.post(f"{url}/reward", json={"items": [item(i * batch + k) for k in range(batch)]},
                            headers=headers)
            rewards = r.json().get("rewards", []) if r.status_code == 200 else []
        else:
            r = client.post(f"{url}/judge", json=item(i), headers=headers)
            rewards = [r.json().get("rl_reward", 0.0)] if r.status_code == 200 else []
        return time.perf_counter() - t0, r.status_code == 200, rewards

    one(-1)  # warm-up
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(requests)))
    wall = time.perf_counter() - t0
    latencies = sorted(r[0] for r in results)
    ok = sum(1 for r in results if r[1])
    items = ok * batch
    return {"requests": requests, "ok": ok, "items_per_request": batch, "concurrency": concurrency,
            "wall_s": round(wall, 3), "items_per_s": round(items / wall, 2) if wall else 0.0,
            "latency_p50_s": round(statistics.median(latencies), 3),
            "latency_p95_s": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 3),
            "mean_reward": round(statistics.fmean([x for r in results for x in r[2]] or [0.0]), 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m erm_cli.serve.loadtest", description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", help="base URL of a running erm serve")
    parser.add_argument("--local", metavar="JUDGE", help="start a server here with this judge (critic, vlm)")
    parser.add_argument("--model", help="model spec for --local vlm")
    parser.add_argument("--reference", type=Path)
    parser.add_argument("--code", type=Path, help="candidate code file")
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1, help="items per POST /reward (1: POST /judge)")
    parser.add_argument("--vary", action="store_true", help="make every request's code unique (no cache hits)")
    parser.add_argument("--token")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    ref, code = _defaults()
    reference = args.reference or ref
    code = args.code.read_text() if args.code else code
    if not args.url and not args.local:
        parser.error("give a server URL or --local JUDGE")
    if args.local:
        from . import create_app
        from .testing import running_server

        app = create_app(args.local, model=args.model, max_concurrency=args.concurrency)
        with running_server(app) as url:
            figures = run(url, reference, code, args.requests, args.concurrency, args.batch, args.vary, args.token,
                          args.timeout)
    else:
        figures = run(args.url.rstrip("/"), reference, code, args.requests, args.concurrency, args.batch, args.vary,
                      args.token, args.timeout)
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        sys.stdout.write(f"{key:<{width}}  {value}\n")
    return 0 if figures["ok"] == figures["requests"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
