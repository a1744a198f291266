"""Run the chart-tracing program inside erm's sandbox (never in this process, never unsandboxed).

The sandbox (:mod:`erm_cli.renderers.sandbox`) has no hook for a custom prelude; its public entry
point :func:`~erm_cli.renderers.sandbox.run_untrusted` runs matplotlib code in a forked, isolated
worker (namespaces, read-only file system, rlimits, seccomp, wall-clock kill) and returns the bytes
its ``savefig`` hook captured. The tracing program (:mod:`erm_cli.bench.chart_trace`) hands its
JSON trace to that hook, so we get the trace back through the same process, limits and warm pool
as every render - nothing about the sandbox is duplicated here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .chart_trace import ChartTrace, build_trace_program, parse_trace_output


@dataclass
class TraceResult:
    trace: ChartTrace | None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.trace is not None and self.trace.ok


def trace_chart_code(
    code: str, *, timeout: float = 30.0, mem_mb: int = 1536, strict: bool = False
) -> TraceResult:
    """Trace one matplotlib program in the sandbox.

    ``trace`` is ``None`` when the sandbox refused or killed the program (time, memory, seccomp);
    ``trace.ok`` is False when the code raised (the partial trace is kept for inspection).
    """
    from ..renderers.sandbox import run_untrusted

    res = run_untrusted(
        "matplotlib", build_trace_program(code), timeout=timeout, mem_mb=mem_mb, strict=strict, result="text"
    )
    if not res.ok:
        return TraceResult(None, res.error or "the sandbox refused the program", res.seconds)
    trace = parse_trace_output(res.payload.decode("utf-8", errors="replace"))
    if trace is None:
        return TraceResult(None, "the tracing program returned no trace", res.seconds)
    return TraceResult(trace, None if trace.ok else trace.error, res.seconds)


def trace_many(
    codes: Sequence[str],
    *,
    workers: int = 2,
    timeout: float = 30.0,
    mem_mb: int = 1536,
    strict: bool = False,
    on_done: Callable[[int], None] | None = None,
) -> list[TraceResult]:
    """Trace several programs concurrently through the warm pool (results in input order)."""

    def one(code: str) -> TraceResult:
        try:
            return trace_chart_code(code, timeout=timeout, mem_mb=mem_mb, strict=strict)
        finally:
            if on_done:
                on_done(1)

    if workers <= 1 or len(codes) <= 1:
        return [one(c) for c in codes]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, codes))
