"""Run untrusted Python / SVG renders in a warm fork server inside a bubblewrap jail (``zygote.py`` is the
child side).

``run_untrusted(kind, code, options)`` is the only entry point the renderers use, and every verb that runs
candidate code (render, judge, refine, serve, bench policy, synth ``--source``, the RL reward adapters)
reaches it through ``renderers.render``. There is one isolation, used for everything:

* the **jail**: ``bwrap`` runs ``python -I zygote.py`` with a root file system that holds only read-only
  binds of the system libraries, the Python installation, the virtual environment and erm's font files
  (no home directories, no project checkout, no ``/etc/passwd``, no ``/run``, no reference images),
  a minimal ``/dev``, empty network/IPC/UTS/pid/cgroup namespaces, a cleared environment, a new session
  and ``--die-with-parent``. When erm runs as root the zygote first drops to uid 65534, so no process of
  the jail is the host's root;
* per render, a **supervisor** (never runs user code) makes new mount/pid/IPC namespaces with a private
  size-limited tmpfs ``/tmp`` and an empty ``/proc``, then forks the **worker**: pid 1 of its namespace,
  uid 65534 in a user namespace of its own with no capabilities, rlimits, every descriptor closed, a
  libseccomp filter (no processes, exec, sockets of any family, ptrace, mounts, namespaces, ...). The worker
  writes its result into its tmpfs and exits; the supervisor validates it and sends the response frame.

``--strict`` / ``RenderOptions(strict=True)`` are accepted and change nothing (the jail is always on).
Without bubblewrap nothing runs: :class:`SandboxUnavailable` (exit code 3 from the CLI).
The pool is thread-safe (a reader thread dispatches responses by request id) and fork-safe (a forked
process starts its own pool). See docs/SANDBOX.md for what it does and does not protect against.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RenderFailure
from . import fonts
from . import zygote as zproto

ZYGOTE_SCRIPT = Path(zproto.__file__).resolve()
START_TIMEOUT = 120.0


class SandboxUnavailable(RenderFailure):
    """The sandbox itself could not run (not the code's fault); such failures are never cached."""


@dataclass
class SandboxResult:
    ok: bool
    payload: bytes = b""
    format: str = ""
    error: str | None = None
    seconds: float = 0.0
    isolation: list[str] = field(default_factory=list)


def bwrap_path() -> str | None:
    """bubblewrap for the jail: ``ERM_BWRAP`` if it names an executable, else ``bwrap`` on PATH."""
    env = os.environ.get("ERM_BWRAP")
    if env:
        path = env if os.path.sep in env else shutil.which(env)
        return path if path and os.access(path, os.X_OK) else None
    return shutil.which("bwrap")


def _mpl_config_dir() -> Path:
    from ..config import cache_dir

    path = cache_dir() / "mplconfig"
    path.mkdir(parents=True, exist_ok=True)
    fonts.ensure_matplotlib_fontlist(path)  # matplotlib sees only erm's pinned font set
    return path


def _base_env(mpl_dir: str, home: str) -> dict[str, str]:
    env = dict(zproto.ENV_FIXED)
    env.update({"PATH": "/usr/bin:/bin", "HOME": home, "MPLCONFIGDIR": mpl_dir, "TMPDIR": "/tmp"})
    env.update(fonts.sandbox_env())  # cairosvg's fontconfig sees only erm's pinned font set
    return env


def _ensure_font_cache(mpl_dir: Path) -> None:
    """Build matplotlib's font list once so the jail (read-only) starts fast."""
    if any(mpl_dir.glob("fontlist-*.json")):
        return
    env = _base_env(str(mpl_dir), str(mpl_dir))
    subprocess.run([sys.executable, "-I", "-c", "import matplotlib.font_manager"], env=env,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=300, check=False)


JAIL_MPL_DIR = "/tmp/mpl"  # the zygote's MPLCONFIGDIR in the jail
BWRAP_MISSING = ("the sandbox needs bubblewrap (bwrap), which was not found: apt-get install bubblewrap "
                 "(or set ERM_BWRAP to its path)")


def jail_command(mpl_dir: Path, family: str = "python") -> list[str]:
    """The bubblewrap command line that starts the zygote in the jail."""
    bwrap = bwrap_path()
    if not bwrap:
        raise SandboxUnavailable(BWRAP_MISSING)
    _ensure_font_cache(mpl_dir)
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-pid", "--unshare-cgroup-try", "--hostname", "erm-sandbox"]
    if os.geteuid() == 0:
        # Privileged bwrap does the bind mounts (an interpreter under /root stays reachable); the zygote
        # keeps only what it needs to drop to uid 65534 before anything else (zygote.enter_jail_user_namespace).
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args.append("--unshare-user")
    # /tmp first, so that read-only binds below it (a venv in a CI clone) stay visible
    args += ["--perms", "01777", "--tmpfs", "/tmp"]
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        p = Path(top)
        if p.is_symlink():
            args += ["--symlink", os.readlink(top), top]
        elif p.is_dir():
            args += ["--ro-bind", top, top]
    for etc in ("/etc/fonts", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
                "/etc/alternatives"):
        args += ["--ro-bind-try", etc, etc]
    for path in fonts.readonly_paths():  # the pinned fonts and their fontconfig file (fonts.py)
        args += ["--ro-bind", path, path]
    prefixes = sorted({os.path.realpath(sys.base_prefix), sys.base_prefix, sys.prefix,
                       os.path.realpath(sys.prefix)}, key=len)
    bound: list[str] = []
    for prefix in prefixes:
        if any(prefix == b or prefix.startswith(b + "/") for b in bound) or prefix.startswith("/usr/"):
            continue
        args += ["--ro-bind", prefix, prefix]
        bound.append(prefix)
    exe_dir = os.path.dirname(os.path.realpath(sys.executable))
    if not any(exe_dir.startswith(b + "/") for b in bound) and not exe_dir.startswith("/usr/"):
        args += ["--ro-bind", exe_dir, exe_dir]
        bound.append(exe_dir)
    for site_dir in _outside_site_dirs(bound):
        args += ["--ro-bind", site_dir, site_dir]
    # MPLCONFIGDIR must be writable for uid 65534, or matplotlib ignores it and rescans every system font;
    # it lives in the zygote's /tmp, which no worker sees (each gets a private /tmp)
    args += ["--ro-bind", str(ZYGOTE_SCRIPT), "/erm/zygote.py", "--perms", "01777", "--dir", JAIL_MPL_DIR]
    for fontlist in mpl_dir.glob("fontlist-*.json"):
        args += ["--ro-bind", str(fontlist), f"{JAIL_MPL_DIR}/{fontlist.name}"]
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "01777", "--dir", "/tmp/home", "--chdir", "/tmp",
             "--remount-ro", "/", "--clearenv"]
    for k, v in _base_env(JAIL_MPL_DIR, "/tmp/home").items():
        args += ["--setenv", k, v]
    args += ["--setenv", "ERM_ZYGOTE_FAMILY", family]
    args += [sys.executable, "-I", "/erm/zygote.py"]
    return _with_readable_parents(args)


def _outside_site_dirs(bound: list[str]) -> list[str]:
    """``site-packages`` / ``dist-packages`` directories on ``sys.path`` outside the bound prefixes: a
    ``.pth`` file of the interpreter's own site directory can list another environment's (an
    unprivileged user's venv over a shared one); the jailed ``python -I`` processes the same ``.pth``.
    Only directories so named are bound, never a project checkout or the current directory."""
    out: list[str] = []
    for entry in sys.path:
        path = os.path.realpath(entry) if entry else ""
        if os.path.basename(path) not in ("site-packages", "dist-packages") or not os.path.isdir(path):
            continue
        if path.startswith("/usr/") or any(path == b or path.startswith(b + "/") for b in bound + out):
            continue
        out.append(path)
    return out


def _with_readable_parents(args: list[str]) -> list[str]:
    """bwrap creates the missing parents of a mount point with mode 0700, which uid 65534 cannot enter:
    create them first, world-readable (they are empty directories on the jail's read-only root)."""
    dests: list[str] = []
    i = 0
    while i < len(args):
        if args[i] in ("--ro-bind", "--ro-bind-try", "--bind", "--symlink"):
            dests.append(args[i + 2])
            i += 3
        elif args[i] in ("--tmpfs", "--dir", "--proc", "--dev"):
            dests.append(args[i + 1])
            i += 2
        else:
            i += 1
    parents: list[str] = []
    for dest in dests:
        parent = os.path.dirname(dest.rstrip("/"))
        chain = []
        while parent not in ("", "/"):
            chain.append(parent)
            parent = os.path.dirname(parent)
        for d in reversed(chain):
            if d not in parents and d != "/tmp" and d not in dests:
                parents.append(d)
    extra: list[str] = []
    for d in parents:
        extra += ["--perms", "0755", "--dir", d]
    at = args.index("/tmp") + 1  # right after "--tmpfs /tmp", before any bind below these parents
    return args[:at] + extra + args[at:]


class _Launcher:
    """A thread that lives as long as the process and starts the zygotes.

    The zygote (and bwrap's ``--die-with-parent``) use ``PR_SET_PDEATHSIG``, which fires when the
    *thread* that forked them exits. Spawning from a short-lived worker thread (``render_many``'s pool)
    would kill the warm pool when that thread ends; spawning from here ties it to the process.
    """

    def __init__(self) -> None:
        import queue

        self.jobs: queue.Queue[tuple] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="erm-sandbox-launcher", daemon=True)
        self.thread.start()
        self.pid = os.getpid()

    def _run(self) -> None:
        while True:
            args, kwargs, fut = self.jobs.get()
            try:
                fut.set_result(subprocess.Popen(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                fut.set_exception(exc)


_launcher: _Launcher | None = None
_launcher_lock = threading.Lock()


def _spawn_from_launcher(*args, **kwargs) -> subprocess.Popen:
    global _launcher
    with _launcher_lock:
        if _launcher is None or _launcher.pid != os.getpid() or not _launcher.thread.is_alive():
            _launcher = _Launcher()
        launcher = _launcher
    fut: Future = Future()
    launcher.jobs.put((args, kwargs, fut))
    return fut.result()


class WarmPool:
    """One zygote process (per mode) and the threads that talk to it."""

    def __init__(self, family: str = "python") -> None:
        self.family = family
        self.mode = f"{family} jail"
        self.isolation: list[str] = []
        self.closed = False
        self._lock = threading.Lock()          # start/stop
        self._write_lock = threading.Lock()    # one frame at a time on the zygote's stdin
        self._proc: subprocess.Popen | None = None
        self._pending: dict[int, Future] = {}
        self._ids = itertools.count(1)
        self._reader: threading.Thread | None = None
        self._pid = os.getpid()
        self.start_seconds = 0.0

    # -- lifecycle -----------------------------------------------------------------------------
    def _start_locked(self) -> None:
        t0 = time.perf_counter()
        mpl_dir = _mpl_config_dir()
        cmd = jail_command(mpl_dir, self.family)
        env = {"PATH": "/usr/bin:/bin"}
        debug = bool(os.environ.get("ERM_DEBUG"))
        try:
            proc = _spawn_from_launcher(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=None if debug else subprocess.DEVNULL, env=env, close_fds=True,
                                        start_new_session=True, bufsize=0)
        except OSError as exc:
            raise SandboxUnavailable(f"cannot start the {self.mode} sandbox: {exc}") from None
        assert proc.stdout is not None
        ready: list = []

        def wait_ready() -> None:
            try:
                ready.append(zproto.read_frame(proc.stdout.fileno()))
            except Exception as exc:  # noqa: BLE001
                ready.append(exc)

        waiter = threading.Thread(target=wait_ready, daemon=True)
        waiter.start()
        waiter.join(START_TIMEOUT)
        frame = ready[0] if ready else None
        if not isinstance(frame, tuple) or frame[0].get("op") != "ready":
            proc.kill()
            proc.wait()
            detail = frame[0].get("error") if isinstance(frame, tuple) else (
                "timed out" if not ready else "exited during start-up")
            hint = " (rerun with --debug to see its stderr)" if not debug else ""
            raise SandboxUnavailable(f"the {self.mode} sandbox failed to start: {detail}{hint}")
        self._proc = proc
        self.isolation = list(frame[0].get("isolation") or [])
        self._reader = threading.Thread(target=self._read_loop, args=(proc,), name=f"erm-sandbox-{self.mode}",
                                        daemon=True)
        self._reader.start()
        self.start_seconds = time.perf_counter() - t0

    def _read_loop(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        error = "the sandbox process exited"
        while True:
            try:
                frame = zproto.read_frame(fd)
            except (OSError, ValueError) as exc:
                error = f"the sandbox connection broke: {exc}"
                frame = None
            if frame is None:
                break
            header, payload = frame
            fut = self._pending.pop(header.get("id"), None)
            if fut is not None and not fut.done():
                fut.set_result((header, payload))
        with self._lock:
            if self._proc is proc:
                self._proc = None
            pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(SandboxUnavailable(error))

    def ensure_started(self) -> None:
        with self._lock:
            if self.closed:
                raise SandboxUnavailable("the sandbox is shutting down")
            if self._proc is None or self._proc.poll() is not None:
                self._start_locked()

    def close(self) -> None:
        with self._lock:
            self.closed = True  # jobs in flight fail now; they do not restart a pool that is shutting down
            proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=3)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=3)

    def abandon(self) -> None:
        """After fork, in the child: forget the parent's zygote without touching it (beyond our fd copies)."""
        proc, self._proc = self._proc, None
        self._pending = {}
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                try:
                    if stream:
                        stream.close()
                except OSError:
                    pass

    # -- requests ------------------------------------------------------------------------------
    def submit(self, header: dict, code: str) -> Future:
        self.ensure_started()
        fut: Future = Future()
        job_id = next(self._ids)
        header = dict(header, id=job_id)
        with self._lock:
            proc = self._proc
            if proc is None:
                raise SandboxUnavailable(f"the {self.mode} sandbox is not running")
            self._pending[job_id] = fut
        try:
            with self._write_lock:
                assert proc.stdin is not None
                zproto.write_frame(proc.stdin.fileno(), header, code.encode("utf-8", errors="replace"))
        except OSError as exc:
            self._pending.pop(job_id, None)
            raise SandboxUnavailable(f"the {self.mode} sandbox is not accepting work: {exc}") from None
        return fut

    def run(self, header: dict, code: str, timeout: float) -> tuple[dict, bytes]:
        for attempt in (1, 2):
            try:
                fut = self.submit(header, code)
                return fut.result(timeout=timeout + 30.0)
            except SandboxUnavailable:
                if attempt == 2 or self.closed:
                    raise
                time.sleep(0.05)  # the zygote died (e.g. OOM-killed): restart it once
            except TimeoutError:
                raise SandboxUnavailable(f"the {self.mode} sandbox did not answer within {timeout + 30:g} s") \
                    from None
        raise AssertionError("unreachable")


_pools: dict[str, WarmPool] = {}
_pools_lock = threading.Lock()


def family_of(kind: str) -> str:
    """Which warm pool renders ``kind``: SVG has its own small zygote (cairosvg only), Python code the other."""
    return "svg" if kind == "svg" else "python"


def get_pool(strict: bool = True, kind: str = "matplotlib") -> WarmPool:
    """This process's warm pool for ``kind`` (created lazily; started on first submit). ``strict`` is
    ignored: there is one isolation, the jail."""
    family = family_of(kind)
    with _pools_lock:
        pool = _pools.get(family)
        if pool is None:
            pool = _pools[family] = WarmPool(family)
        return pool


def shutdown() -> None:
    """Stop every warm pool of this process (also registered with atexit)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


def _after_fork_in_child() -> None:
    global _pools_lock, _launcher, _launcher_lock
    _pools_lock = threading.Lock()
    _launcher, _launcher_lock = None, threading.Lock()
    for pool in list(_pools.values()):
        pool.abandon()
    _pools.clear()


atexit.register(shutdown)
os.register_at_fork(after_in_child=_after_fork_in_child)


def run_untrusted(kind: str, code: str, *, dpi: int = 100, width: int | None = None, height: int | None = None,
                  timeout: float = 30.0, mem_mb: int = 1536, strict: bool = True,
                  result: str = "image") -> SandboxResult:
    """Render ``code`` of ``kind`` (matplotlib, plotly, svg) in the sandbox.

    Returns a :class:`SandboxResult`: ``ok`` with the PNG (or plotly JSON) payload, or the one-line
    reason the code failed. Raises :class:`SandboxUnavailable` when the sandbox itself cannot run.
    ``result="text"`` (matplotlib only): the payload is whatever UTF-8 text the code's ``savefig`` wrote
    (erm's chart tracing program); otherwise the sandbox accepts only a PNG (plotly: a JSON object).
    """
    header = {"kind": kind, "dpi": int(dpi), "width": width, "height": height, "timeout": float(timeout),
              "mem_mb": int(mem_mb), "result": "text" if result == "text" else "image"}
    resp, payload = get_pool(kind=kind).run(header, code, timeout)
    ok = resp.get("status") == "ok"
    return SandboxResult(ok=ok, payload=payload if ok else b"", format=str(resp.get("format") or ""),
                         error=None if ok else str(resp.get("error") or "render failed"),
                         seconds=float(resp.get("seconds") or 0.0), isolation=list(resp.get("isolation") or []))
