"""One warm Chromium per process (Playwright + the system browser), shared by every thread.

Playwright's sync API is bound to the thread that started it, so a dedicated daemon thread owns the
browser and runs jobs from a queue; callers block on a future. Two contexts, both ``offline`` and with
every request that is not ``data:``/``about:`` aborted:

* ``tables``: JavaScript disabled, a Content-Security-Policy that forbids every fetch (images, styles,
  frames, fonts) except inline styles and ``data:`` URIs; a table's ``<script>`` never runs and its
  remote resources never load;
* ``plotly``: JavaScript enabled for the bundled, offline plotly.js only; the figure JSON produced by
  the sandboxed code is drawn with ``Plotly.react(..., {staticPlot: true})``.

Chromium is located through ``ERM_CHROMIUM`` or ``PATH`` (chromium, chromium-browser, google-chrome);
``playwright install`` is not needed. The browser is restarted once if it crashes, and closed at exit.
"""

from __future__ import annotations

import atexit
import os
import queue
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any

from ..errors import RenderFailure
from .failures import CodeFailure
from .memwatch import TreeWatch, descendants

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
LAUNCH_ARGS = ["--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-extensions", "--font-render-hinting=none", "--hide-scrollbars",
               "--disable-features=Translate,MediaRouter,OptimizationHints", "--mute-audio",
               "--no-default-browser-check", "--disable-default-apps"]


class BrowserUnavailable(RenderFailure):
    """Chromium or Playwright is missing or would not start (never cached: not the code's fault)."""


class BrowserTimeout(TimeoutError):
    """A job overran its budget: it was dropped from the queue, or Chromium was killed mid-job."""


class BrowserMemoryExceeded(CodeFailure):
    """Chromium's processes together held more than the memory cap during a job: all were killed."""


#: Seconds a job may overrun its budget (Playwright's own step timeouts should fire first) before
#: Chromium is killed; the next job starts a fresh browser.
CALL_GRACE = 0.5


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _children_of(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc; empty where /proc is missing)."""
    return descendants([pid])


def find_chromium(required: bool = True) -> str | None:
    """The Chromium executable: ``ERM_CHROMIUM`` if set, else the first browser on PATH."""
    env = os.environ.get("ERM_CHROMIUM")
    if env:
        path = env if os.path.sep in env else shutil.which(env)
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        if required:
            raise BrowserUnavailable(f"ERM_CHROMIUM={env} is not an executable file")
        return None
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    if required:
        raise BrowserUnavailable("Chromium not found: table and plotly renders need it "
                                 "(apt-get install chromium, or set ERM_CHROMIUM=/path/to/chromium)")
    return None


def _plotly_js_path() -> str:
    import plotly

    path = os.path.join(os.path.dirname(plotly.__file__), "package_data", "plotly.min.js")
    if not os.path.isfile(path):
        raise BrowserUnavailable(f"plotly.min.js not found in the plotly package ({path})")
    return path


def browser_mem_mb() -> int:
    """Memory cap per Chromium process (``ERM_BROWSER_MEM_MB``, default 1536 like ``--mem-mb``)."""
    try:
        return max(256, int(os.environ.get("ERM_BROWSER_MEM_MB") or 1536))
    except ValueError:
        return 1536


def browser_tree_cap_mb(mem_mb: int | None = None) -> int:
    """Cap on the memory of all Chromium processes together during one job: ``ERM_BROWSER_MEM_MB`` when
    set, else the render's ``--mem-mb`` (``mem_mb``), else 1536 MB."""
    if os.environ.get("ERM_BROWSER_MEM_MB") or mem_mb is None:
        return browser_mem_mb()
    return max(64, int(mem_mb))


def cap_browser_memory(driver_pids: tuple[int, ...]) -> None:
    """Put every Chromium process under ``RLIMIT_DATA`` (``browser_mem_mb``).

    RLIMIT_AS breaks Chromium (V8 and PartitionAlloc reserve tens of GB of address space up front);
    RLIMIT_DATA counts only private writable memory, i.e. what a page really commits. Applied right after
    launch to the browser and its zygotes; renderers forked later inherit it. A page that needs more
    crashes its renderer, and the render fails with a Chromium error instead of growing the machine's
    memory. V8's own heap is capped below it (``--max-old-space-size``, half of the cap).
    """
    import resource

    limit = browser_mem_mb() << 20
    for driver in driver_pids:
        for pid in _children_of(driver):
            try:
                resource.prlimit(pid, resource.RLIMIT_DATA, (limit, limit))
            except (OSError, ValueError):
                pass


def _browser_env() -> dict[str, str]:
    """The browser's environment: ours, with fontconfig restricted to erm's pinned font set (fonts.py)."""
    from .fonts import FontSetMissing, fontconfig_env

    try:
        return {**os.environ, **fontconfig_env()}
    except (FontSetMissing, OSError) as exc:
        raise BrowserUnavailable(f"erm's pinned fonts are unavailable: {exc}") from None


_STOP = object()


class WarmBrowser:
    """A Chromium owned by one thread; :meth:`call` runs ``fn(session)`` on that thread."""

    def __init__(self) -> None:
        self._jobs: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._session: BrowserSession | None = None  # the live session (read by callers to kill an overrun)
        # the whole Chromium tree (browser, zygotes, renderers, GPU/utility processes) under Playwright's driver
        self._watch = TreeWatch(lambda: self._session.driver_pids if self._session is not None else ())

    def call(self, fn: Callable[[BrowserSession], Any], timeout: float, mem_mb: int | None = None) -> Any:
        """``fn(session)`` on the browser thread, within ``timeout`` seconds (the caller's remaining budget):
        a job still queued then is dropped, a running one has Chromium killed (:class:`BrowserTimeout`).
        While it runs, all of Chromium's processes together may hold at most :func:`browser_tree_cap_mb`
        (``mem_mb``): past it they are all killed and the job fails (:class:`BrowserMemoryExceeded`)."""
        self._ensure_thread()
        fut: Future = Future()
        self._jobs.put((fn, fut, browser_tree_cap_mb(mem_mb)))
        try:
            return fut.result(timeout=max(0.0, timeout) + CALL_GRACE)
        except TimeoutError:
            pass
        if fut.cancel():
            raise BrowserTimeout(f"waited more than {timeout:g} s for the browser (busy)") from None
        try:
            fut.set_exception(BrowserTimeout(f"Chromium did not finish within {timeout:g} s (killed)"))
        except InvalidStateError:  # it finished just now
            return fut.result()
        session = self._session
        if session is not None:
            session.kill()
        raise BrowserTimeout(f"Chromium did not finish within {timeout:g} s (killed)")

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="erm-chromium", daemon=True)
                self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            thread = self._thread
            self._thread = None
        if thread is not None and thread.is_alive():
            self._jobs.put((_STOP, None, None))
            thread.join(timeout)

    def _run(self) -> None:
        session: BrowserSession | None = None
        try:
            while True:
                fn, fut, cap_mb = self._jobs.get()
                if fn is _STOP:
                    break
                if fut.set_running_or_notify_cancel() is False:
                    continue
                for attempt in (1, 2):
                    try:
                        if session is None:
                            session = BrowserSession.start()
                            self._session = session
                        self._watch.start_job(cap_mb, lambda used, fut=fut, cap=cap_mb: _settle(
                            fut, error=BrowserMemoryExceeded(
                                f"Chromium's processes together used {used} MB, over the {cap} MB limit "
                                "(--mem-mb / ERM_BROWSER_MEM_MB): killed")))
                        try:
                            result = fn(session)
                        finally:
                            self._watch.end_job()
                        _settle(fut, result=result)
                        break
                    except BrowserUnavailable as exc:
                        _settle(fut, error=exc)
                        break
                    except Exception as exc:  # noqa: BLE001
                        if session is not None and not session.alive():
                            session.close()
                            session = self._session = None
                            if attempt == 1 and not fut.done():
                                continue  # the browser crashed: start a new one and retry this job once
                            _settle(fut, error=BrowserUnavailable(f"Chromium crashed: {exc}".splitlines()[0]))
                        else:
                            _settle(fut, error=exc)
                        break
        finally:
            self._session = None
            if session is not None:
                session.close()
            # fail whatever is still queued
            while True:
                try:
                    fn, fut, _ = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if fut is not None and not fut.done():
                    fut.set_exception(BrowserUnavailable("Chromium was shut down"))


def _settle(fut: Future, result: Any = None, error: BaseException | None = None) -> None:
    """Complete ``fut`` unless the caller already gave up on it (a timed-out job)."""
    try:
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(result)
    except InvalidStateError:
        pass


class BrowserSession:
    """Playwright, the browser and its two contexts; lives on the browser thread only (except :meth:`kill`)."""

    def __init__(self, playwright: Any, browser: Any, driver_pids: tuple[int, ...] = ()):
        self.playwright = playwright
        self.browser = browser
        self.driver_pids = driver_pids
        self._table_page: Any = None
        self._plotly_page: Any = None
        self.version = browser.version

    @classmethod
    def start(cls) -> BrowserSession:
        exe = find_chromium(required=True)
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise BrowserUnavailable("playwright is not installed (pip install playwright); "
                                     "it drives the system Chromium") from None
        args = list(LAUNCH_ARGS) + [f"--js-flags=--max-old-space-size={browser_mem_mb() // 2}"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its own sandbox
        env = _browser_env()
        before = set(_children_of(os.getpid()))
        pw = sync_playwright().start()
        drivers = tuple(p for p in _children_of(os.getpid()) if p not in before and _comm(p).startswith("node"))
        try:
            browser = pw.chromium.launch(executable_path=exe, args=args, headless=True, timeout=60_000, env=env)
        except Exception as exc:  # noqa: BLE001
            pw.stop()
            first = (str(exc).strip().splitlines() or ["unknown error"])[0]
            raise BrowserUnavailable(f"Chromium ({exe}) would not start: {first}") from None
        cap_browser_memory(drivers)
        return cls(pw, browser, drivers)

    def kill(self) -> None:
        """SIGKILL Chromium (every process under Playwright's driver; the driver stays). Safe from any
        thread: the browser thread's pending call then fails and the next job starts a fresh browser."""
        import signal

        victims = [p for d in self.driver_pids for p in _children_of(d)]
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def alive(self) -> bool:
        try:
            return bool(self.browser.is_connected())
        except Exception:  # noqa: BLE001
            return False

    @staticmethod
    def _guard_network(context: Any) -> None:
        def route(r: Any) -> None:
            url = r.request.url
            if url.startswith(("data:", "about:")):
                r.continue_()
            else:
                r.abort("blockedbyclient")

        context.route("**/*", route)

    def _new_context(self, javascript: bool) -> Any:
        ctx = self.browser.new_context(viewport={"width": 800, "height": 600}, device_scale_factor=1, offline=True,
                                       java_script_enabled=javascript, locale="en-US", timezone_id="UTC",
                                       color_scheme="light", reduced_motion="reduce", accept_downloads=False,
                                       service_workers="block")
        self._guard_network(ctx)
        return ctx

    def table_page(self) -> Any:
        if self._table_page is None or self._table_page.is_closed():
            self._table_page = self._new_context(javascript=False).new_page()
        return self._table_page

    def plotly_page(self) -> Any:
        if self._plotly_page is None or self._plotly_page.is_closed():
            page = self._new_context(javascript=True).new_page()
            page.set_content('<!doctype html><html><head><meta charset="utf-8"><style>html,body{margin:0;'
                             'padding:0;background:#fff}</style></head><body><div id="g"></div></body></html>')
            page.add_script_tag(path=_plotly_js_path())
            self._plotly_page = page
        return self._plotly_page

    def reset_page(self, which: str) -> None:
        page = self._table_page if which == "table" else self._plotly_page
        if page is not None:
            try:
                page.context.close()
            except Exception:  # noqa: BLE001
                pass
        if which == "table":
            self._table_page = None
        else:
            self._plotly_page = None

    def close(self) -> None:
        for closer in (self.browser.close, self.playwright.stop):
            try:
                closer()
            except Exception:  # noqa: BLE001
                pass


_browser: WarmBrowser | None = None
_browser_lock = threading.Lock()


def get_browser() -> WarmBrowser:
    global _browser
    with _browser_lock:
        if _browser is None or _browser._pid != os.getpid():
            _browser = WarmBrowser()
        return _browser


def shutdown() -> None:
    """Close this process's browser (also registered with atexit)."""
    global _browser
    with _browser_lock:
        browser, _browser = _browser, None
    if browser is not None and browser._pid == os.getpid():
        browser.close()


def _after_fork_in_child() -> None:
    global _browser, _browser_lock
    _browser = None  # Playwright's thread and driver do not survive a fork: start afresh on demand
    _browser_lock = threading.Lock()


atexit.register(shutdown)
os.register_at_fork(after_in_child=_after_fork_in_child)
