"""Memory of a whole process tree, and a watchdog that kills the tree past a cap.

cgroup v2 memory limits would be the kernel's way to cap Chromium and its renderer processes together,
but many hosts (containers, CI runners) give no delegated cgroup with the ``memory`` controller. This
is the portable fallback: sum the memory of every process under a root (from ``/proc``) a few times a
second and SIGKILL them all past the cap. RSS (``/proc/PID/statm``, cheap) is summed first; only when that
sum is over the cap is the proportional set size (``/proc/PID/smaps_rollup``: shared pages split between
the processes that map them, so Chromium's shared libraries and shared memory count once) summed, and
that is what is compared with the cap.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterable

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def descendants(roots: Iterable[int]) -> list[int]:
    """Every descendant of the ``roots`` (not the roots themselves), from /proc; [] without /proc."""
    parents: dict[int, list[int]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(name))
    out: list[int] = []
    todo = list(roots)
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0


def pss_bytes(pid: int) -> int:
    """Proportional set size of ``pid`` (falls back to RSS where smaps_rollup is missing)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return rss_bytes(pid)


def tree_memory(pids: Iterable[int], cap_bytes: int | None = None) -> int:
    """Memory of the processes ``pids`` together: their RSS sum when it is at most ``cap_bytes`` (or no cap
    is given and PSS is not wanted), else their PSS sum (what they really hold between them)."""
    pids = list(pids)
    rss = sum(rss_bytes(p) for p in pids)
    if cap_bytes is not None and rss <= cap_bytes:
        return rss
    return sum(pss_bytes(p) for p in pids)


def _running(pid: int) -> bool:
    """``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def kill_all(pids: Iterable[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class TreeWatch:
    """While :meth:`watching` is active, polls the tree under ``roots()`` every ``interval`` seconds and,
    when it holds more than ``cap_mb``, calls ``on_exceed(used_mb)`` once and SIGKILLs every process in it.
    One daemon thread per watch, idle (blocked on an event) between watched jobs."""

    def __init__(self, roots: Callable[[], Iterable[int]], interval: float = 0.1) -> None:
        self._roots = roots
        self.interval = interval
        self._lock = threading.Lock()
        self._job: tuple[int, Callable[[int], None]] | None = None  # (cap bytes, on_exceed)
        self._wake = threading.Event()
        self.peak_bytes = 0
        self._thread: threading.Thread | None = None

    def start_job(self, cap_mb: int, on_exceed: Callable[[int], None]) -> None:
        with self._lock:
            self._job = (int(cap_mb) << 20, on_exceed)
            self.peak_bytes = 0
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="erm-memwatch", daemon=True)
                self._thread.start()
        self._wake.set()

    def end_job(self) -> None:
        with self._lock:
            self._job = None
            self._wake.clear()

    def check_once(self) -> bool:
        """One poll; True when the cap was exceeded (and the tree killed)."""
        with self._lock:
            job = self._job
        if job is None:
            return False
        cap, on_exceed = job
        pids = descendants(self._roots())
        used = tree_memory(pids, cap)
        self.peak_bytes = max(self.peak_bytes, used)
        if used <= cap:
            return False
        with self._lock:
            if self._job is not job:  # the job ended meanwhile
                return False
            self._job = None
            self._wake.clear()
        victims = descendants(self._roots())
        kill_all(victims)  # first, so that whoever learns of the failure finds the tree dying
        for pid in victims:  # and gone (reaped by its parent, or a zombie) before the job is failed
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and _running(pid):
                time.sleep(0.01)
        on_exceed(used >> 20)
        return True

    def _run(self) -> None:
        while True:
            self._wake.wait()
            t0 = time.perf_counter()
            self.check_once()
            # summing PSS walks every mapping of every process (tens of ms for Chromium): poll less often
            # then, so the watch never takes more than about a third of a core
            time.sleep(max(self.interval, 2.0 * (time.perf_counter() - t0)))
