"""JSON Lines helpers shared by every verb: strict reading of input files, and the resumable
append-only result files that batches write (one flushed line per item, so a ``kill -9`` loses at most
the line being written)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Iterator

from .errors import InputError


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of an *input* file; a malformed line is an
    InputError naming it."""
    from .inputs import MAX_JSONL_LINE_BYTES, iter_lines_capped, open_input

    p = Path(path)
    with open_input(p, "data file") as fh:  # a regular file (no FIFO, device or folder)
        for n, raw in iter_lines_capped(fh):
            if raw is None:
                raise InputError(f"{p}:{n}: line longer than the {MAX_JSONL_LINE_BYTES:,}-byte limit")
            line = raw.decode("utf-8", errors="replace")
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
                raise InputError(f"{p}:{n}: not valid JSON ({msg})") from None
            if not isinstance(row, dict):
                raise InputError(f"{p}:{n}: each line must be a JSON object")
            yield n, row


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """Every object of a *result* file written by erm; lines cut by an interruption are skipped."""
    p = Path(path)
    rows: list[dict[str, Any]] = []
    if not p.exists():
        return rows
    with p.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


def read_jsonl_by_id(path: str | Path, repair: bool = False) -> dict[str, dict[str, Any]]:
    """id -> last row of a result file. Lines cut by an interruption are skipped (their items are redone);
    with ``repair`` the file is rewritten without them so appends start on a clean line."""
    p = Path(path)
    rows = {str(r["id"]): r for r in read_results(p) if "id" in r}
    if repair and p.exists():
        data = p.read_bytes()
        complete = sum(1 for line in data.splitlines() if line.strip())
        if complete != len(read_results(p)) or (data and not data.endswith(b"\n")):
            tmp = p.with_suffix(p.suffix + ".tmp")
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows.values()),
                           encoding="utf-8")
            tmp.replace(p)
    return rows


class JsonlSink:
    """Thread-safe append-only JSONL writer (one flushed line per item: survives interruption)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def write(self, row: dict[str, Any]) -> None:
        from .schemas import stamp

        line = json.dumps(stamp(row), ensure_ascii=False, default=str) + "\n"  # with schema_version
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
