"""``erm render --batch items.jsonl --out DIR``: many renders, resumable, one result line per item.

Input lines: ``{"id": ..., "path": "rel/to/jsonl.py"}`` or ``{"id": ..., "code": "..."}``, optional ``kind``.
A ``path`` must resolve (symlinks followed) inside the JSONL's folder or an ``allowed_root``, and name a
regular file of at most 1 MiB; anything else fails that item alone with a one-line reason.
Output: ``DIR/<id>.png`` (written atomically) and ``DIR/results.jsonl`` with one line per item:
``id, png, ok, error, seconds, cache_hit, kind`` (``png`` relative to DIR). A result line is appended only
after its PNG is in place, with a single ``write`` on an append-only file, so after an interruption
(Ctrl-C, ``kill -9``) rerunning the same command skips finished items; a torn last line is dropped.
When the run completes, ``results.jsonl`` is rewritten in input order (one line per id, the latest wins).
Bad lines (invalid JSON, no id, missing file, duplicate id) fail alone with their reason recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..inputs import (
    MAX_JSONL_LINE_BYTES,
    allowed_roots,
    confine,
    iter_lines_capped,
    open_input,
    read_input_bytes,
)
from .api import CacheMode, RenderItem, iter_render
from .base import KINDS, RenderOptions, RenderResult

RESULTS_NAME = "results.jsonl"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class BatchItem:
    id: str
    line: int
    code: str | None = None
    kind: str | None = None
    error: str | None = None   # set when the line itself is bad


@dataclass
class BatchSummary:
    total: int = 0
    skipped: int = 0          # already finished in an earlier run
    rendered: int = 0
    ok: int = 0
    failed: int = 0
    cache_hits: int = 0
    seconds: float = 0.0
    results: str = ""
    failures: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "skipped": self.skipped, "rendered": self.rendered, "ok": self.ok,
                "failed": self.failed, "cache_hits": self.cache_hits, "seconds": round(self.seconds, 3),
                "results": self.results, "failures": self.failures[:20]}


def png_name(item_id: str) -> str:
    """A file name for an id: the id itself when it is safe, else a cleaned form plus a short hash."""
    safe = _SAFE.sub("_", item_id).strip("._")[:80]
    if safe == item_id and safe:
        return safe + ".png"
    return f"{safe or 'item'}-{hashlib.sha1(item_id.encode('utf-8', 'replace')).hexdigest()[:8]}.png"


def read_items(jsonl: Path, allowed_root: Sequence[str | Path] = ()) -> list[BatchItem]:
    """The items of a batch file. Paths must resolve (symlinks followed) inside the file's folder or an
    ``allowed_root``; a path outside, a non-regular file, an over-long line or code over the size cap
    fails that item alone with its reason."""
    base = jsonl.resolve().parent
    roots = allowed_roots(base, allowed_root)
    items: list[BatchItem] = []
    seen: dict[str, int] = {}
    with open_input(jsonl, "batch file") as fh:
        for n, raw in iter_lines_capped(fh):
            if raw is None:
                items.append(BatchItem(id=f"line-{n}", line=n,
                                       error=f"line {n}: longer than the {MAX_JSONL_LINE_BYTES:,}-byte limit"))
                continue
            text = raw.decode("utf-8", errors="replace").strip()
            if not text:
                continue
            try:
                rec = json.loads(text)
                if not isinstance(rec, dict):
                    raise ValueError("not a JSON object")
            except (ValueError, RecursionError) as exc:
                reason = exc if isinstance(exc, ValueError) else "nested too deeply"
                items.append(BatchItem(id=f"line-{n}", line=n, error=f"line {n}: invalid JSON ({reason})"))
                continue
            raw_id = rec.get("id")
            if raw_id is None or str(raw_id) == "":
                items.append(BatchItem(id=f"line-{n}", line=n, error=f"line {n}: no 'id'"))
                continue
            item_id = str(raw_id)
            if item_id in seen:
                items.append(BatchItem(id=f"{item_id}@line{n}", line=n,
                                       error=f"duplicate id {item_id!r} (first on line {seen[item_id]})"))
                continue
            seen[item_id] = n
            kind = rec.get("kind")
            if kind is not None and kind not in KINDS:
                items.append(BatchItem(id=item_id, line=n, error=f"unknown kind {kind!r}"))
                continue
            if isinstance(rec.get("code"), str):
                items.append(BatchItem(id=item_id, line=n, code=rec["code"], kind=kind))
                continue
            path = rec.get("path")
            if not isinstance(path, str) or not path:
                items.append(BatchItem(id=item_id, line=n, error="needs 'path' (relative to the JSONL) or 'code'"))
                continue
            try:
                file = confine(path, base, roots, what="path")
                data = read_input_bytes(file, "path")
            except InputError as exc:
                items.append(BatchItem(id=item_id, line=n, error=str(exc)))
                continue
            if kind is None:
                from .detect import KIND_OF_EXTENSION, PYTHON_EXTENSIONS, python_flavour

                suffix = file.suffix.lower()
                text_code = data.decode("utf-8", errors="replace")
                kind = KIND_OF_EXTENSION.get(suffix) or (python_flavour(text_code) if suffix in PYTHON_EXTENSIONS
                                                         else None)
            items.append(BatchItem(id=item_id, line=n, code=data.decode("utf-8", errors="replace"), kind=kind))
    return items


def load_done(results: Path) -> dict[str, dict[str, Any]]:
    """Finished results by id (last line wins); a torn final line from a kill is cut off the file."""
    done: dict[str, dict[str, Any]] = {}
    if not results.exists():
        return done
    data = results.read_bytes()
    good_end = 0
    pos = 0
    for line in data.splitlines(keepends=True):
        pos += len(line)
        if not line.endswith(b"\n"):
            break
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a corrupt line in the middle: ignore it (the item is redone)
        if isinstance(rec, dict) and "id" in rec:
            done[str(rec["id"])] = rec
        good_end = pos
    if good_end < len(data):
        with open(results, "r+b") as fh:
            fh.truncate(good_end)
    return done


def _write_png(out_dir: Path, name: str, png: bytes) -> None:
    tmp = out_dir / f".{name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(png)
    os.replace(tmp, out_dir / name)


def _append_line(fd: int, rec: dict[str, Any]) -> None:
    from ..schemas import stamp

    data = (json.dumps(stamp(rec), ensure_ascii=False) + "\n").encode("utf-8")  # with schema_version
    os.write(fd, data)  # one write on an O_APPEND descriptor: whole lines or nothing on a kill


def _result_record(item: BatchItem, result: RenderResult | None, png: str | None) -> dict[str, Any]:
    if result is None:
        return {"id": item.id, "png": None, "ok": False, "error": item.error, "seconds": 0.0, "cache_hit": False,
                "kind": item.kind}
    return {"id": item.id, "png": png, "ok": result.ok, "error": result.error, "seconds": round(result.seconds, 4),
            "cache_hit": result.cache_hit, "kind": result.kind}


def render_batch(jsonl: str | Path, out_dir: str | Path, *, options: RenderOptions | None = None,
                 workers: int | None = None, cache: CacheMode = True, retry_failed: bool = False,
                 on_progress: Callable[[int, int], Any] | None = None,
                 allowed_root: Sequence[str | Path] = (), executor: Any = None,
                 limit: int | None = None) -> BatchSummary:
    """Render every item of ``jsonl`` into ``out_dir``; see the module docstring. Resumable.
    ``executor`` (e.g. :class:`erm_cli.distributed.ray_pool.RayPool`) renders on its workers; the PNGs and
    result lines are still written here, in the same format."""
    t0 = time.perf_counter()
    jsonl, out = Path(jsonl), Path(out_dir)
    every = read_items(jsonl, allowed_root)
    items = every[:limit] if limit is not None else every  # --limit: only the first N (the rest are kept)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / RESULTS_NAME
    done = load_done(results_path)
    summary = BatchSummary(total=len(items), results=str(results_path))

    def finished(item: BatchItem) -> bool:
        rec = done.get(item.id)
        if rec is None:
            return False
        if rec.get("ok"):
            return bool(rec.get("png")) and (out / str(rec["png"])).is_file()
        return not retry_failed

    todo = [it for it in items if not finished(it)]
    summary.skipped = len(items) - len(todo)
    fd = os.open(results_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    progress_done = summary.skipped
    if on_progress:
        on_progress(progress_done, len(items))
    try:
        bad = [it for it in todo if it.error is not None or it.code is None]
        good = [it for it in todo if it.error is None and it.code is not None]
        for it in bad:
            rec = _result_record(it, None, None)
            _append_line(fd, rec)
            done[it.id] = rec
            summary.failed += 1
            summary.failures.append({"id": it.id, "error": it.error})
            progress_done += 1
            if on_progress:
                on_progress(progress_done, len(items))
        batch_cache: CacheMode = "retry-failed" if retry_failed and cache is True else cache
        requests = (RenderItem(it.code or "", it.kind) for it in good)
        for index, result in iter_render(requests, options, workers=workers, cache=batch_cache,
                                         executor=executor):
            it = good[index]
            name = None
            if result.ok and result.png:
                name = png_name(it.id)
                _write_png(out, name, result.png)
            rec = _result_record(it, result, name)
            _append_line(fd, rec)
            done[it.id] = rec
            summary.rendered += 1
            summary.cache_hits += int(result.cache_hit)
            if result.ok:
                summary.ok += 1
            else:
                summary.failed += 1
                summary.failures.append({"id": it.id, "error": result.error})
            progress_done += 1
            if on_progress:
                on_progress(progress_done, len(items))
    finally:
        os.close(fd)
    _compact(results_path, every, done)
    summary.seconds = time.perf_counter() - t0
    return summary


def _compact(results_path: Path, items: list[BatchItem], done: dict[str, dict[str, Any]]) -> None:
    """Rewrite the results file in input order, one line per id (atomic replace)."""
    from ..schemas import stamp

    tmp = results_path.with_name(f".{results_path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for it in items:
            rec = done.get(it.id)
            if rec is not None:
                fh.write(json.dumps(stamp(rec), ensure_ascii=False) + "\n")
    os.replace(tmp, results_path)
