"""A live rich view of a refine run on stderr: one row per round, the best so far, what is happening now."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .loop import Observer, RefineResult
from .types import Candidate, RoundSummary


class LiveView(Observer):
    """Renders a table of rounds and a status line; use as a context manager around ``RefineLoop.run``."""

    def __init__(self, console: Console, title: str = "erm refine") -> None:
        self.console = console
        self.title = title
        self.rounds: list[RoundSummary] = []
        self.status = "starting"
        self.best: Candidate | None = None
        self.current_round = 0
        self.in_round: list[Candidate] = []
        self.info: dict[str, Any] = {}
        self.started = time.perf_counter()
        self._live = Live(self._render(), console=console, refresh_per_second=4, transient=False)

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.update(self._render())
        self._live.__exit__(*exc)

    def _render(self) -> Group:
        t = Table(title=self.title, title_justify="left", expand=False)
        for col, just in (("round", "right"), ("candidates", "right"), ("rendered", "right"),
                          ("accepted", "right"), ("best reward", "right"), ("errors", "right"),
                          ("seconds", "right")):
            t.add_column(col, justify=just)  # type: ignore[arg-type]
        for r in self.rounds:
            t.add_row(str(r.round), str(r.candidates), str(r.rendered), str(r.accepted), f"{r.best_reward:.3f}",
                      str(r.best_errors), f"{r.seconds:.1f}")
        if self.in_round and (not self.rounds or self.rounds[-1].round != self.current_round):
            br = max((c.reward for c in self.in_round), default=0.0)
            t.add_row(f"[dim]{self.current_round}[/]", f"[dim]{len(self.in_round)}…[/]",
                      f"[dim]{sum(c.render_ok for c in self.in_round)}[/]", "", f"[dim]{br:.3f}[/]", "", "")
        head = Text()
        if self.info:
            head.append(f"task {self.info.get('task')} · {self.info.get('kind')} · policy {self.info.get('policy')}"
                        f" · judge {self.info.get('judge', {}).get('name')}\n", style="dim")
        line = Text()
        if self.best is not None:
            line.append(f"best {self.best.id}: reward {self.best.reward:.3f}, {self.best.n_errors} error(s)  ",
                        style="bold green" if self.best.solved else "bold")
        line.append(f"[{time.perf_counter() - self.started:.0f} s] {self.status}", style="cyan")
        return Group(head, t, line)

    def _refresh(self) -> None:
        self._live.update(self._render())

    def on_start(self, info: dict[str, Any]) -> None:
        self.info = info
        self._refresh()

    def on_status(self, text: str) -> None:
        self.status = text
        self._refresh()

    def on_candidate(self, candidate: Candidate, best: Candidate | None) -> None:
        if candidate.round != self.current_round:
            self.current_round = candidate.round
            self.in_round = []
        self.in_round.append(candidate)
        self.best = best
        self._refresh()

    def on_round_end(self, summary: RoundSummary, best: Candidate) -> None:
        self.rounds.append(summary)
        self.best = best
        self._refresh()

    def on_finish(self, result: RefineResult) -> None:
        self.status = f"done: {result.stop_reason}"
        self._refresh()


class LogView(Observer):
    """Plain one-line-per-round progress for non-terminal stderr (CI logs, pipes)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def on_round_end(self, summary: RoundSummary, best: Candidate) -> None:
        self.console.print(f"round {summary.round}: {summary.candidates} candidate(s), {summary.rendered} rendered, "
                           f"best {best.id} reward {summary.best_reward:.3f} ({summary.best_errors} errors)")

    def on_finish(self, result: RefineResult) -> None:
        self.console.print(f"stopped: {result.stop_reason}")
