"""The sandbox fork server ("zygote"): a warm, pre-imported process inside the bubblewrap jail that runs
each untrusted render in freshly forked, isolated children.

This file runs as a standalone script (``python -I /erm/zygote.py`` inside bubblewrap, see
``sandbox.jail_command``) and imports only the standard library, ``pyseccomp`` and the rendering
libraries; the parent (``sandbox.py``) imports it only for the frame protocol helpers. Nothing here
imports ``erm_cli``.

Process tree of one render::

    zygote (uid 65534 on the host, root of its own user namespace; pre-imported libraries; single-threaded)
      └─ supervisor  (trusted, never runs code; new mount/pid/IPC namespaces, private tmpfs /tmp and
           │          /dev/shm, empty /proc; wall-clock kill; validates the result and sends the frame)
           └─ worker (pid 1 of its pid namespace; uid 65534 in a user namespace of its own; no capabilities;
                      every fd closed; rlimits; libseccomp filter: no sockets, processes, exec, ptrace,
                      mounts, namespaces, ...; runs the code, writes its result into its tmpfs, exits)

Supervisors are forked ahead of time ("spares", with the worker already set up and waiting on a code
pipe it closes before the code runs). Protocol on the zygote's stdin/stdout, and from the zygote to a
supervisor and from a supervisor to its worker: frames of ``>I`` header length, JSON header, ``>Q``
payload length, payload bytes. Requests: ``{"id", "kind", "dpi", "width", "height", "timeout",
"mem_mb"}`` + code bytes. Responses: ``{"id", "status": "ok"|"error", "error", "format", "seconds",
"isolation"}`` + PNG bytes (or plotly JSON). The worker never holds a descriptor of these pipes while
the code runs; its result goes through two files that the supervisor checks (``collect_result``).
"""

from __future__ import annotations

import json
import os
import select
import signal
import struct
import sys
import time

MAX_HEADER = 1 << 20
MAX_RESULT = 96 << 20
MAX_PLOTLY_JSON = 16 << 20  # what Chromium is asked to draw: bigger figures take GBs and minutes there
FSIZE_LIMIT = 64 << 20
TMPFS_SIZE = "256m"
TMPFS_INODES = 16384  # files + directories in the private /tmp (inodes cost kernel memory outside "size")
NOFILE_LIMIT = 64
MAX_SVG_SIDE = 16384
MAX_SVG_PIXELS = 50_000_000
#: A PNG result larger than this (from its IHDR) is refused here, before erm decodes it: the same cap as
#: ``erm_cli.imageio.MAX_PIXELS`` (this file imports nothing of erm; a test checks they agree).
MAX_RENDER_PIXELS = 64_000_000
EXIT_WALL_TIMEOUT = 125


# ---------------------------------------------------------------------------------------- framing
def write_frame(fd: int, header: dict, payload: bytes = b"") -> None:
    head = json.dumps(header, separators=(",", ":")).encode()
    data = struct.pack(">I", len(head)) + head + struct.pack(">Q", len(payload)) + payload
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks = []
    while n > 0:
        b = os.read(fd, min(n, 1 << 20))
        if not b:
            return None
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def read_frame(fd: int) -> tuple[dict, bytes] | None:
    """Read one frame (blocking); None at end of stream."""
    raw = _read_exact(fd, 4)
    if raw is None:
        return None
    (hlen,) = struct.unpack(">I", raw)
    if hlen > MAX_HEADER:
        raise ValueError("frame header too large")
    head = _read_exact(fd, hlen)
    raw = _read_exact(fd, 8) if head is not None else None
    if raw is None or head is None:
        return None
    (plen,) = struct.unpack(">Q", raw)
    if plen > MAX_RESULT:
        raise ValueError("frame payload too large")
    payload = _read_exact(fd, plen) if plen else b""
    if payload is None:
        return None
    return json.loads(head), payload


def parse_frame(buf: bytes) -> tuple[dict, bytes] | None:
    """Parse one complete frame from untrusted bytes; None when malformed."""
    try:
        (hlen,) = struct.unpack(">I", buf[:4])
        if hlen > MAX_HEADER or len(buf) < 4 + hlen + 8:
            return None
        header = json.loads(buf[4:4 + hlen])
        (plen,) = struct.unpack(">Q", buf[4 + hlen:12 + hlen])
        payload = buf[12 + hlen:12 + hlen + plen]
        if len(payload) != plen or not isinstance(header, dict):
            return None
        return header, payload
    except (struct.error, ValueError, UnicodeDecodeError):
        return None


# ------------------------------------------------------------------------------ kernel interfaces
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_THREAD = 0x00010000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1, 2, 4, 8, 32, 4096, 16384, 1 << 18)
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP = 1, 4, 24
#: The unprivileged uid/gid the code runs as (inside its own user namespace); also the host uid the
#: jail drops to when erm runs as root, so nothing in the jail is the host's root.
NOBODY = 65534

_libc = None


def libc():
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _errno_error(what: str) -> OSError:
    import ctypes

    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    if libc().unshare(flags) != 0:
        raise _errno_error("unshare")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    c = libc()
    if c.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
               data.encode() if data else None) != 0:
        raise _errno_error(f"mount {target}")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> None:
    import ctypes

    c = libc()
    c.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if c.prctl(option, arg2, arg3, arg4, arg5) != 0:
        raise _errno_error(f"prctl({option})")


def drop_capabilities() -> None:
    """Empty the bounding set and the effective/permitted/inheritable sets (glibc's ``capset``)."""
    import ctypes

    for cap in range(64):
        try:
            prctl(PR_CAPBSET_DROP, cap)
        except OSError:
            pass
    header = ctypes.create_string_buffer(struct.pack("Ii", 0x20080522, 0), 8)  # _LINUX_CAPABILITY_VERSION_3
    data = ctypes.create_string_buffer(b"\0" * 24, 24)
    if libc().capset(header, data) != 0:
        raise _errno_error("capset")


def _write_proc(path: str, text: str, dir_fd: int | None = None) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _host_root() -> bool:
    """Real root of the host's (initial) user namespace, where uid 0 is every uid."""
    if os.geteuid() != 0:
        return False
    try:
        with open("/proc/self/uid_map") as fh:
            return fh.read().split() == ["0", "0", "4294967295"]
    except OSError:
        return False


def _uid_mapped(uid: int) -> bool:
    """Whether ``uid`` exists in this process's user namespace."""
    try:
        with open("/proc/self/uid_map") as fh:
            for line in fh:
                inside, _, count = (int(x) for x in line.split())
                if inside <= uid < inside + count:
                    return True
    except (OSError, ValueError):
        pass
    return False


def enter_jail_user_namespace() -> list[str]:
    """Give up host root (if we are it) and become root of a fresh user namespace.

    bubblewrap starts the zygote as the host's root when erm runs as root (so that its bind mounts can
    reach an interpreter under /root); the first thing the zygote does is drop to uid/gid 65534 with no
    supplementary groups, then unshare a user namespace that maps its uid 0 to that unprivileged uid.
    Capabilities it holds from then on are only valid in namespaces it owns: it can create per-render
    mount and pid namespaces, but every process of the jail is uid 65534 to the host kernel, so host
    files, ``/proc/sys`` knobs and ``/dev/kmsg`` are out of reach even where they are visible.
    """
    features = []
    if os.geteuid() == 0 and _uid_mapped(NOBODY):  # root here (the host's, or a container's): drop it
        try:
            os.setgroups([])
        except PermissionError:  # a user namespace with setgroups denied: no supplementary groups anyway
            pass
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        features.append("dropped-root")
    uid, gid = os.geteuid(), os.getegid()
    if uid == 0 and _host_root():
        raise OSError("the sandbox would run as the host's root; refusing")
    unshare(CLONE_NEWUSER)
    prctl(PR_SET_DUMPABLE, 1)  # a uid change made us non-dumpable: /proc/self/*_map would belong to root
    _write_proc("/proc/self/setgroups", "deny")
    _write_proc("/proc/self/uid_map", f"0 {uid} 1")
    _write_proc("/proc/self/gid_map", f"0 {gid} 1")
    return features + [f"host-uid:{uid}", "userns"]


# Denied with EPERM (ENOSYS for clone3, so that glibc falls back to clone, which is filtered by flags).
SECCOMP_DENY = (
    "fork", "vfork", "execve", "execveat",                              # no new programs or processes
    "socket", "socketpair",                                              # no sockets of any family
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",           # no looking into other processes
    "pidfd_open", "pidfd_getfd", "pidfd_send_signal",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns",      # no namespace or mount changes
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "add_key", "request_key", "keyctl", "init_module", "finit_module", "delete_module", "kexec_load",
    "kexec_file_load", "reboot", "swapon", "swapoff", "acct", "syslog", "quotactl", "uselib",
    "name_to_handle_at", "open_by_handle_at", "capset", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "sethostname", "setdomainname", "iopl", "ioperm", "vhangup", "fanotify_init",
)


def build_seccomp_filter():
    """The worker's seccomp filter, built once in the zygote with libseccomp (``pyseccomp``).

    Default allow; the calls above fail with EPERM; ``clone`` only for threads; the death signal and
    the dumpable flag cannot be changed. Other architectures' system calls (i386 via ``int 0x80``, x32)
    kill the process (libseccomp's bad-architecture action).
    """
    import errno

    import pyseccomp as sc

    filt = sc.SyscallFilter(sc.ALLOW)
    for name in SECCOMP_DENY:
        try:
            filt.add_rule(sc.ERRNO(errno.EPERM), name)
        except (OSError, ValueError, RuntimeError):
            pass  # a call this libseccomp does not know is not on this kernel either
    filt.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    try:
        filt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    except (OSError, ValueError, RuntimeError):
        pass
    for option in (PR_SET_PDEATHSIG, PR_SET_DUMPABLE):
        filt.add_rule(sc.ERRNO(errno.EPERM), "prctl", sc.Arg(0, sc.EQ, option))
    return filt


def _vm_size() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


# ------------------------------------------------------------------------------ warm-up (imports)
ENV_FIXED = {"MPLBACKEND": "Agg", "PYTHONHASHSEED": "0", "SOURCE_DATE_EPOCH": "0", "OMP_NUM_THREADS": "1",
             "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1",
             "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "TZ": "UTC"}


def preload_core() -> None:
    """What every job needs before forking; the rendering libraries are warmed per kind (see KIND_PRELOADS)."""
    import random  # noqa: F401
    import resource  # noqa: F401
    import tempfile  # noqa: F401
    import traceback  # noqa: F401


def warm_matplotlib() -> None:
    """numpy + matplotlib (Agg, deterministic defaults, capture hooks) and one throw-away chart."""
    import matplotlib
    import numpy
    import numpy.random  # noqa: F401  (lazy in numpy 2: seeding would import it in every render)

    matplotlib.use("Agg", force=True)
    import matplotlib.font_manager
    import matplotlib.pyplot as plt

    plt.style.use("default")
    matplotlib.rcParams.update(DETERMINISTIC_RC)
    matplotlib.rcdefaults = _rcdefaults_keep_ours(matplotlib.rcdefaults)
    install_matplotlib_hooks()
    run_matplotlib(WARM_CHART, {"dpi": 100})
    plt.close("all")


def warm_svg() -> None:
    import cairosvg
    import cairosvg.parser
    import cairosvg.surface  # noqa: F401

    run_svg(WARM_SVG, {})


WARM_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24"><rect width="4" '
            'height="4" fill="red"/><circle cx="12" cy="12" r="5" stroke="#123" fill="none"/><path d="M2 20h8a3 3 0 '
            '0 0 0-6z" fill="#eee"/><text x="1" y="7" font-size="4">a</text></svg>')


WARM_CHART = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6, 4))
ax.bar(["A", "B", "C"], [3, 5, 2], color=["#1f77b4", "#ff7f0e", "#2ca02c"], label="x")
ax.set_title("Warm")
ax.legend()
plt.savefig("warm.png")
"""


DETERMINISTIC_RC = {"font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"], "figure.figsize": (8.0, 6.0),
                    "figure.dpi": 100, "savefig.dpi": 100, "svg.hashsalt": "erm", "path.simplify": True}


def _rcdefaults_keep_ours(orig):
    def rcdefaults():
        orig()
        import matplotlib

        matplotlib.rcParams.update(DETERMINISTIC_RC)
    return rcdefaults


#: Imported once, before the first job of that kind is forked (then every later job is warm).
KIND_PRELOADS = {"matplotlib": ["warm:matplotlib"], "svg": ["warm:svg"],
                 "plotly": ["numpy", "plotly", "plotly.graph_objects", "plotly.io", "plotly.subplots", "warm:plotly"]}
#: Warmed while the zygote is idle, in this order (a one-shot render only pays for its own kind).
IDLE_PRELOADS = ["kind:matplotlib", "kind:svg", "mpl_toolkits.mplot3d", "matplotlib.dates",
                 "matplotlib.patheffects"]
#: A zygote started for one family of kinds (``ERM_ZYGOTE_FAMILY``): the SVG one stays small (cairosvg
#: only), so forking it per icon is cheap.
FAMILIES = {"svg": ("svg",), "python": ("matplotlib", "plotly")}
#: Libraries a worker may report as used; the zygote then imports them while idle ("learned" warm-up),
#: so only the first render that needs, say, pandas pays for importing it.
LEARNABLE = ("pandas", "seaborn", "scipy", "scipy.stats", "scipy.interpolate", "scipy.ndimage", "squarify",
             "networkx", "matplotlib_venn", "mpl_toolkits.mplot3d", "mpl_toolkits.axes_grid1", "plotly.express",
             "plotly.figure_factory", "statsmodels.api", "sklearn", "PIL.ImageDraw", "wordcloud", "joypy",
             "pywaffle", "brokenaxes", "adjustText", "matplotlib.sankey", "matplotlib.tri", "matplotlib.dates")


def idle_preload(name: str) -> None:
    if name == "warm:matplotlib":
        warm_matplotlib()
        return
    if name == "warm:svg":
        warm_svg()
        return
    if name == "warm:plotly":
        try:
            import plotly.graph_objects as go

            fig = go.Figure([go.Bar(x=[1], y=[1]), go.Scatter(x=[1], y=[1], mode="lines+markers"),
                             go.Pie(values=[1], domain={"x": [0, 0.2]})])
            fig.update_layout(title="warm", xaxis_title="x", legend={"orientation": "h"})
            fig.to_json()
        except Exception:  # noqa: BLE001
            pass
        return
    try:
        __import__(name)
    except BaseException:  # noqa: BLE001 - optional libraries may be missing; user code sees the ImportError
        return


def learned_modules() -> list[str]:
    """Learnable libraries this (worker) process imported beyond what the zygote had."""
    return [m for m in LEARNABLE if m in sys.modules and m not in _PRELOADED]


_PRELOADED: set[str] = set()


def mark_preloaded() -> None:
    _PRELOADED.update(m for m in LEARNABLE if m in sys.modules)


# ------------------------------------------------------------------------------- worker (untrusted)
class UserCodeError(Exception):
    """The untrusted code failed; the message is the one line the user sees."""


def _code_error_line(exc: BaseException) -> str:
    import traceback

    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == "<model-code>":
            line = frame.lineno
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, MemoryError):
        msg = msg or "out of memory (the sandbox memory limit was reached)"
    if isinstance(exc, SyntaxError):
        line = exc.lineno
        msg = exc.msg
    where = f" (line {line})" if line else ""
    hint = ""
    if isinstance(exc, PermissionError) and getattr(exc, "errno", None) == 1:
        hint = " [blocked by the erm sandbox]"
    elif isinstance(exc, OSError) and getattr(exc, "errno", None) == 30:
        hint = " [the sandbox file system is read-only outside the working directory]"
    return f"{exc.__class__.__name__}: {msg}{where}{hint}"[:500]


def _exec_user_code(code: str) -> dict:
    namespace = {"__name__": "__main__", "__file__": "/tmp/work/code.py", "__builtins__": __builtins__}
    try:
        compiled = compile(code, "<model-code>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        raise UserCodeError(_code_error_line(exc)) from None
    try:
        exec(compiled, namespace)  # noqa: S102 - this is the sandboxed worker
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise UserCodeError(f"the code called sys.exit({exc.code!r})") from None
    except KeyboardInterrupt:
        raise UserCodeError("interrupted") from None
    except BaseException as exc:  # noqa: BLE001 - any failure of untrusted code is a render failure
        raise UserCodeError(_code_error_line(exc)) from None
    return namespace


class _MplCapture:
    """Per-render capture state read by the matplotlib hooks (installed once, in the zygote)."""

    active = False
    dpi = 100
    images: list[bytes] = []
    original_savefig = None
    KEEP = ("bbox_inches", "pad_inches", "facecolor", "edgecolor", "transparent")

    @classmethod
    def capture(cls, fig, kwargs=None) -> None:
        import io

        if cls.images:
            return
        kept = {k: v for k, v in (kwargs or {}).items() if k in cls.KEEP}
        buf = io.BytesIO()
        cls.original_savefig(fig, buf, format="png", dpi=cls.dpi, metadata={"Software": None}, **kept)
        cls.images.append(buf.getvalue())


def install_matplotlib_hooks() -> None:
    """Route ``savefig``/``show`` to the capture while a render is active (else behave normally).

    Installed once before forking: patching classes inside every fresh child de-optimises the warm
    interpreter state and costs ~60 ms per render.
    """
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    if _MplCapture.original_savefig is not None:
        return
    original_savefig = Figure.savefig
    original_figure_show = Figure.show
    original_show = plt.show
    original_plt_savefig = plt.savefig
    _MplCapture.original_savefig = original_savefig

    def savefig(self, *args, **kwargs):
        if not _MplCapture.active:
            return original_savefig(self, *args, **kwargs)
        _MplCapture.capture(self, kwargs)

    def figure_show(self, *args, **kwargs):
        if not _MplCapture.active:
            return original_figure_show(self, *args, **kwargs)
        _MplCapture.capture(self)

    def show(*args, **kwargs):
        if not _MplCapture.active:
            return original_show(*args, **kwargs)
        if plt.get_fignums():
            _MplCapture.capture(plt.gcf())

    def pyplot_savefig(*args, **kwargs):  # pyplot's own version redraws the canvas after saving
        if not _MplCapture.active:
            return original_plt_savefig(*args, **kwargs)
        _MplCapture.capture(plt.gcf(), kwargs)

    Figure.savefig = savefig
    Figure.show = figure_show
    plt.show = show
    plt.savefig = pyplot_savefig


def run_matplotlib(code: str, job: dict) -> tuple[bytes, str]:
    import random

    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.figure import Figure

    install_matplotlib_hooks()
    random.seed(0)
    np.random.seed(0)
    _MplCapture.dpi = int(job.get("dpi") or 100)
    _MplCapture.images = []
    _MplCapture.active = True
    try:
        namespace = _exec_user_code(code)
        if not _MplCapture.images:
            if plt.get_fignums():
                try:
                    _MplCapture.capture(plt.gcf())
                except Exception as exc:  # noqa: BLE001 - drawing failures are the code's fault
                    raise UserCodeError(f"drawing the figure failed: {_code_error_line(exc)}") from None
            else:
                figs = [v for v in namespace.values() if isinstance(v, Figure)]
                if not figs:
                    raise UserCodeError("the code made no matplotlib figure")
                _MplCapture.capture(figs[-1])
    finally:
        _MplCapture.active = False
    return _MplCapture.images[0], "png"


def run_plotly(code: str, job: dict) -> tuple[bytes, str]:
    import random

    random.seed(0)
    try:
        import numpy as np

        np.random.seed(0)
    except ImportError:
        pass
    import plotly.basedatatypes as bdt
    import plotly.io as pio

    captured: list[bytes] = []

    def capture(fig, *args, **kwargs):
        if not captured and isinstance(fig, bdt.BaseFigure):
            captured.append(fig.to_json(validate=False, pretty=False).encode())

    def to_image(fig, *args, **kwargs):
        capture(fig)
        return b""

    bdt.BaseFigure.show = capture
    bdt.BaseFigure.write_image = capture
    bdt.BaseFigure.write_html = capture
    bdt.BaseFigure.to_image = to_image
    pio.show = capture
    pio.write_image = capture
    pio.write_html = capture
    pio.to_image = to_image
    try:
        import plotly.offline as po

        po.plot = capture
        po.iplot = capture
    except ImportError:
        pass
    namespace = _exec_user_code(code)
    if not captured:
        fig = namespace.get("fig")
        if not isinstance(fig, bdt.BaseFigure):
            figs = [v for v in namespace.values() if isinstance(v, bdt.BaseFigure)]
            if not figs:
                raise UserCodeError("the code made no plotly figure")
            fig = figs[-1]
        try:
            capture(fig)
        except Exception as exc:  # noqa: BLE001
            raise UserCodeError(f"serialising the figure failed: {_code_error_line(exc)}") from None
    return captured[0], "json"


def run_svg(code: str, job: dict) -> tuple[bytes, str]:
    import io

    from cairosvg.parser import Tree
    from cairosvg.surface import PNGSurface

    class CappedPNGSurface(PNGSurface):
        def _create_surface(self, width, height):
            if width > MAX_SVG_SIDE or height > MAX_SVG_SIDE or width * height > MAX_SVG_PIXELS:
                raise UserCodeError(f"SVG size {width:.0f}x{height:.0f} px is too large "
                                    f"(limit {MAX_SVG_SIDE} px a side, {MAX_SVG_PIXELS // 1_000_000} MP)")
            if width < 1 or height < 1:
                raise UserCodeError(f"SVG size {width:.0f}x{height:.0f} px is empty")
            return super()._create_surface(width, height)

    data = code.encode("utf-8")
    try:
        tree = Tree(bytestring=data, unsafe=False)
    except Exception as exc:  # noqa: BLE001
        name = exc.__class__.__name__
        if name in ("EntitiesForbidden", "ExternalReferenceForbidden", "DTDForbidden"):
            raise UserCodeError(f"SVG refused: {name} (XML entities and external references are not allowed)") \
                from None
        raise UserCodeError(f"invalid SVG: {name}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]) from None
    out = io.BytesIO()
    width, height = job.get("width"), job.get("height")
    try:
        surface = CappedPNGSurface(tree, out, 96, output_width=width, output_height=height,
                                   background_color="white")
        surface.finish()
    except UserCodeError:
        raise
    except RecursionError:
        raise UserCodeError("SVG is nested too deeply") from None
    except Exception as exc:  # noqa: BLE001
        raise UserCodeError(f"SVG render failed: {exc.__class__.__name__}: {exc}"[:300]) from None
    return out.getvalue(), "png"


RUNNERS = {"matplotlib": run_matplotlib, "plotly": run_plotly, "svg": run_svg}


def _patch_network() -> None:
    """Second line behind the network namespace and seccomp: Python-level sockets refuse to connect."""
    import socket

    def deny(*args, **kwargs):
        raise PermissionError("network access is disabled in the erm sandbox")

    socket.socket.connect = deny  # type: ignore[method-assign]
    socket.socket.connect_ex = deny  # type: ignore[method-assign]
    socket.create_connection = deny
    socket.getaddrinfo = deny


#: Read-only directories the parent asks to keep visible under a private ``/tmp``: erm's pinned fonts and
#: their fontconfig file (``fonts.py``), which live in the checkout and the cache (both under /tmp in CI).
KEEP_DIRS = [p for p in os.environ.get("ERM_FONT_DIRS", "").split(os.pathsep) if p]


def _open_dirs_under(top: str) -> list[tuple[str, int]]:
    """O_PATH descriptors of the interpreter's own directories below ``top`` (outermost only).

    A private tmpfs mounted on ``top`` would hide them; :func:`_rebind` bind-mounts them back (read-only,
    as the whole tree already is) through ``/proc/self/fd``.
    """
    roots = (sys.prefix, sys.exec_prefix, sys.base_prefix, *sys.path, *KEEP_DIRS)
    wanted = {os.path.realpath(p) for p in roots if p and os.path.isdir(p)}
    wanted = {p for p in wanted if p.startswith(top.rstrip("/") + "/")}
    outer = sorted(p for p in wanted if not any(p != q and p.startswith(q + "/") for q in wanted))
    out: list[tuple[str, int]] = []
    for path in outer:
        try:
            out.append((path, os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)))
        except OSError:
            pass
    return out


def _rebind(dirs: list[tuple[str, int]]) -> None:
    for path, fd in dirs:
        try:
            os.makedirs(path, exist_ok=True)
            mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            try:
                mount("none", path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
            except OSError:
                pass
        except OSError:
            pass
        finally:
            os.close(fd)


RESULT_HEADER = "erm-result.json"   # written by the worker into the root of its private /tmp
RESULT_PAYLOAD = "erm-result.bin"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Filled in by the zygote before it forks anything (``build_seccomp_filter``).
SECCOMP_FILTER = None


def _write_result(header: dict, payload: bytes = b"") -> None:
    """The worker's only output: two files in its private tmpfs, read and checked by the supervisor."""
    for name, data in ((RESULT_PAYLOAD, payload), (RESULT_HEADER, json.dumps(header).encode())):
        path = "/tmp/" + name
        try:
            os.unlink(path)  # whatever the code left there (a symlink, a FIFO) goes first
        except FileNotFoundError:
            pass
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)


def _clear_tmp() -> None:
    import shutil

    for name in os.listdir("/tmp"):
        path = os.path.join("/tmp", name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def _worker_setup(code_fd: int, proc_fd: int) -> int:
    """Everything that does not depend on the job, done while the worker waits as a spare: afterwards
    the process is uid 65534 in its own user namespace, has no capability, holds no descriptor but the
    read end of its code pipe (returned, as fd 3), and runs under the seccomp filter. Any failure
    aborts the render."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.setsid()  # its own process group: kill(0, ...) reaches only itself
    # An unprivileged uid in a user namespace of its own: no capability over the jail's namespaces,
    # and the host sees the jail's unprivileged uid.
    unshare(CLONE_NEWUSER)
    prctl(PR_SET_DUMPABLE, 1)  # /proc/self/*_map must belong to this process while it writes them
    _write_proc("self/setgroups", "deny", proc_fd)
    _write_proc("self/uid_map", f"{NOBODY} 0 1", proc_fd)
    _write_proc("self/gid_map", f"{NOBODY} 0 1", proc_fd)
    prctl(PR_SET_DUMPABLE, 0)
    if os.geteuid() != NOBODY or os.getegid() != NOBODY:
        raise OSError("could not switch to the unprivileged uid")
    drop_capabilities()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.dup2(code_fd, 3)
    os.closerange(4, 1 << 16)  # no descriptor of the zygote protocol, /proc or anything else stays open
    base = "/tmp/work"
    os.makedirs(base, mode=0o700, exist_ok=True)
    os.chdir(base)
    os.environ.clear()
    os.environ.update(ENV_FIXED)
    os.environ.update({"HOME": base, "TMPDIR": base, "PATH": "/usr/bin:/bin", "MPLCONFIGDIR": base})
    import tempfile

    tempfile.tempdir = base
    if SECCOMP_FILTER is None:
        raise OSError("no seccomp filter")
    SECCOMP_FILTER.load()  # also sets no_new_privs
    _patch_network()
    sys.argv = ["code.py"]
    return 3


#: A spare worker renders a fixed throw-away picture (``WARM_SVG`` in the SVG zygote, ``WARM_CHART`` in the
#: Python one) after its isolation is set up and before it reads its job, so that the pages a render
#: touches are already its own: copy-on-write faults of the forked heap cost more than cairosvg's own
#: 2 ms, and ~3,000 faults (~13 ms CPU) per matplotlib chart. The code runs in the same freshly isolated
#: worker, as uid 65534 under seccomp; the warm-up is trusted, fixed code and leaves no figure behind.
WORKER_WARMUP = False


def _warm_worker(code_fd: int) -> None:
    """The throw-away render. In the Python jail, whose code can see its descriptors, it ends back at "no
    descriptor but the code pipe": the fonts it opened (matplotlib keeps them open in its font cache)
    are dropped and closed before the code runs."""
    if FAMILY_WARMUP == "svg":
        try:
            run_svg(WARM_SVG, {})
        except Exception:  # noqa: BLE001, S110 - only speed is at stake
            pass
        return
    try:
        import matplotlib.pyplot as plt
        from matplotlib import font_manager

        run_matplotlib(WARM_CHART, {"dpi": 100})
        plt.close("all")
        font_manager._get_font.cache_clear()  # its FT2Font objects hold the font files open
    except Exception:  # noqa: BLE001, S110 - only speed is at stake
        pass
    import gc

    gc.collect()  # close what the dropped objects held
    os.closerange(3, code_fd)
    os.closerange(code_fd + 1, 1 << 16)


#: Which warm-up a spare worker runs (set by the zygote from its family).
FAMILY_WARMUP = "svg"


def _apply_limits(job: dict, vm_base: int) -> None:
    import resource

    mem = int(job.get("mem_mb") or 1536) << 20
    cpu = max(1, int(float(job.get("timeout") or 30) + 0.999))
    for res, value in ((resource.RLIMIT_AS, vm_base + mem), (resource.RLIMIT_CPU, cpu),
                       (resource.RLIMIT_FSIZE, FSIZE_LIMIT), (resource.RLIMIT_NOFILE, NOFILE_LIMIT),
                       (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(res, (value, value + 1 if res == resource.RLIMIT_CPU else value))


def worker_main(code_fd: int, proc_fd: int, vm_base: int, warm: bool = False) -> None:
    """Runs in the forked worker (pid 1 of its own pid namespace): isolate, wait for the job on the code
    pipe, run it, write the result files, exit. Holds no descriptor of the zygote protocol, and none at
    all once the code runs. Never returns."""
    try:
        code_fd = _worker_setup(code_fd, proc_fd)
        if warm and not select.select([code_fd], [], [], 0)[0]:  # no warm-up when the job is already there
            _warm_worker(code_fd)
        frame = read_frame(code_fd)
        os.close(code_fd)
        if frame is None:  # a spare that was never used
            os._exit(0)
        job, code_bytes = frame
        code = code_bytes.decode("utf-8", errors="replace")
        _apply_limits(job, vm_base)
    except BaseException as exc:  # noqa: BLE001 - fail closed: the code never runs half-isolated
        try:
            _write_result({"status": "setup-error", "error": f"sandbox setup failed: {exc!r}"[:300]})
        finally:
            os._exit(70)
    t0 = time.monotonic()
    status = 1
    try:
        try:
            payload, fmt = RUNNERS[job["kind"]](code, job)
            header = {"status": "ok", "format": fmt}
        except UserCodeError as exc:
            payload, header = b"", {"status": "error", "error": str(exc)}
        except MemoryError:
            payload, header = b"", {"status": "error", "error": "MemoryError: out of memory (sandbox limit)"}
        header.update({"seconds": round(time.monotonic() - t0, 4), "learn": learned_modules()})
        try:
            _write_result(header, payload)
        except OSError:  # the code filled its /tmp: everything in it is disposable, the result is not
            _clear_tmp()
            _write_result(header, payload)
        status = 0
    except BaseException as exc:  # noqa: BLE001 - the worker must never fall back into the zygote loop
        try:
            _write_result({"status": "error", "error": f"the sandbox worker failed: {exc!r}"[:300]})
            status = 0
        except BaseException:  # noqa: BLE001, S110 - nothing left to report through
            pass
    finally:
        os._exit(status)


# --------------------------------------------------------------------------- supervisor (trusted)
def _read_result_file(dir_fd: int, name: str, limit: int) -> bytes | None:
    """A regular file the worker wrote (never a symlink, FIFO or device), at most ``limit`` bytes."""
    import stat

    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        chunks, left = [], st.st_size
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _clean_text(value: object, limit: int) -> str:
    text = str(value if value is not None else "")
    return "".join(ch if ch.isprintable() else " " for ch in text)[:limit]


def collect_result(tmp_fd: int, job: dict, status: int) -> tuple[dict, bytes]:
    """Turn what the worker left in its tmpfs into a response, trusting nothing in it.

    The worker (the untrusted code's own process) can write any bytes into its result files: the
    supervisor keeps only a known status, a length-capped printable error line, learnable module names,
    and a payload whose format matches the job's kind (PNG signature, or a JSON object for plotly).
    """
    raw = _read_result_file(tmp_fd, RESULT_HEADER, 1 << 16)
    try:
        header = json.loads(raw) if raw is not None else None
    except (ValueError, UnicodeDecodeError):
        header = None
    if not isinstance(header, dict):
        header = None
    if header is not None and header.get("status") == "setup-error":
        return {"status": "error", "error": _clean_text(header.get("error"), 300)}, b""
    if status != 0 or header is None:
        return {"status": "error", "error": describe_exit(status, job)}, b""
    learn = header.get("learn")
    out: dict = {"learn": [m for m in learn if m in LEARNABLE] if isinstance(learn, list) else []}
    if header.get("status") == "error":
        out.update(status="error", error=_clean_text(header.get("error") or "render failed", 500))
        return out, b""
    if header.get("status") != "ok":
        return {"status": "error", "error": "malformed result from the sandbox worker"}, b""
    fmt = "json" if job.get("kind") == "plotly" else "png"
    if job.get("result") == "text" and job.get("kind") == "matplotlib":
        fmt = "text"  # erm's own tracing program (bench/chart_trace.py) returns text, asked for by the caller
    limit = MAX_PLOTLY_JSON if fmt in ("json", "text") else MAX_RESULT
    payload = _read_result_file(tmp_fd, RESULT_PAYLOAD, limit)
    if payload is None:
        what = "the plotly figure (JSON)" if fmt == "json" else "the render output"
        return {"status": "error", "error": f"{what} is missing or larger than {limit >> 20} MB"}, b""
    if fmt == "png" and not (payload.startswith(PNG_SIGNATURE) and payload[12:16] == b"IHDR"):
        return {"status": "error", "error": "the sandbox worker returned something that is not a PNG"}, b""
    if fmt == "png":
        width, height = struct.unpack(">II", payload[16:24])
        if width * height > MAX_RENDER_PIXELS:
            return {"status": "error", "error": f"the render is {width}x{height} pixels, over the "
                                                f"{MAX_RENDER_PIXELS:,}-pixel limit"}, b""
    if fmt == "json" and not (payload.lstrip()[:1] == b"{" and payload.rstrip()[-1:] == b"}"):
        return {"status": "error", "error": "the sandbox worker returned something that is not a JSON object"}, b""
    if fmt == "text":
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError:
            return {"status": "error", "error": "the sandbox worker returned text that is not UTF-8"}, b""
    out.update(status="ok", format=fmt)
    return out, payload


def _isolate_render() -> tuple[int, int]:
    """In the supervisor: new mount, pid and IPC namespaces with a private tmpfs ``/tmp`` and an empty
    read-only ``/proc``. Returns descriptors of the new ``/tmp`` and of the jail's ``/proc`` (which the
    worker uses once, to set up its user namespace, before it runs anything)."""
    unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC)
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    keep = _open_dirs_under("/tmp")  # the interpreter and libraries may live under /tmp (a CI clone)
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={TMPFS_SIZE},nr_inodes={TMPFS_INODES},mode=1777")
    _rebind(keep)
    if os.path.isdir("/dev/shm"):
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16m,mode=1777")
    tmp_fd = os.open("/tmp", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    proc_fd = os.open("/proc", os.O_PATH | os.O_DIRECTORY)
    mount("tmpfs", "/proc", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=555")
    return tmp_fd, proc_fd


RENDER_ISOLATION = ["session", "pidns", "mountns", "ipcns", "private-tmp", "proc-hidden", "userns-uid-65534",
                    "no-capabilities", "rlimits", "seccomp", "closed-fds", "clear-env"]


def _close_fds_except(keep: set[int]) -> None:
    low = 3
    for fd in sorted(keep):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, 1 << 16)


def supervisor_main(job_r: int, out_w: int, jail: list[str], warm: bool = False) -> None:
    """Forked from the zygote as a *spare*; never runs user code. Isolates a render in advance and forks
    its worker (which sets itself up and waits); then waits for a job on ``job_r``, hands it to the
    worker, enforces the wall clock, validates the worker's output and writes the one response frame on
    ``out_w``. EOF on ``job_r`` retires the spare (its worker dies with it)."""
    header: dict = {"status": "error", "error": "the sandbox supervisor failed"}
    payload = b""
    try:
        _close_fds_except({job_r, out_w})
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # dies with the zygote
        os.setsid()
        vm_base = _vm_size()
        tmp_fd, proc_fd = _isolate_render()
        code_r, code_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            for fd in (out_w, job_r, tmp_fd, code_w):
                os.close(fd)
            worker_main(code_r, proc_fd, vm_base, warm)
        os.close(proc_fd)
        os.close(code_r)
        frame = read_frame(job_r)  # blocks while this is a spare
        os.close(job_r)
        if frame is None:
            os.kill(pid, signal.SIGKILL)
            os._exit(0)
        job, code = frame
        timeout = float(job.get("timeout") or 30)
        deadline = time.monotonic() + timeout
        pidfd = os.pidfd_open(pid)
        try:
            write_frame(code_w, job, code)
        except OSError:
            pass  # the worker died during its setup: its exit status and setup error tell why
        os.close(code_w)
        ready, _, _ = select.select([pidfd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            os.kill(pid, signal.SIGKILL)  # pid 1 of its namespace: everything in it dies too
            os.waitpid(pid, 0)
            header = {"status": "error", "error": describe_exit(EXIT_WALL_TIMEOUT, job)}
        else:
            _, st = os.waitpid(pid, 0)
            status = 128 + os.WTERMSIG(st) if os.WIFSIGNALED(st) else min(os.WEXITSTATUS(st), 124)
            header, payload = collect_result(tmp_fd, job, status)
        header["isolation"] = list(jail) + RENDER_ISOLATION
    except BaseException as exc:  # noqa: BLE001
        header, payload = {"status": "error", "error": f"the sandbox supervisor failed: {exc!r}"[:300]}, b""
    try:
        write_frame(out_w, header, payload)
    finally:
        os._exit(0)


def describe_exit(status: int, job: dict) -> str:
    timeout = float(job.get("timeout") or 30)
    if status == EXIT_WALL_TIMEOUT:
        return f"timed out after {timeout:.3g} s (wall clock)"
    if status > 128:
        sig = status - 128
        reasons = {signal.SIGXCPU: f"CPU time limit exceeded ({max(1, int(timeout + 0.999))} s)",
                   signal.SIGXFSZ: f"file size limit exceeded ({FSIZE_LIMIT >> 20} MB per file)",
                   signal.SIGKILL: "killed (SIGKILL; out of memory?)",
                   signal.SIGSEGV: "crashed (SIGSEGV)", signal.SIGSYS: "blocked system call (seccomp)",
                   signal.SIGABRT: "aborted (SIGABRT)", signal.SIGBUS: "crashed (SIGBUS; out of tmpfs space?)"}
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return reasons.get(sig, f"killed by {name}")
    if status == 70:
        return "the sandbox worker failed before running the code"
    if status == 71:
        return "the sandbox supervisor failed"
    if status == 0:
        return "the code exited without producing an image"
    return f"the code exited with status {status} without producing an image"


# --------------------------------------------------------------------------------------- zygote
def _freeze_heap() -> None:
    """Move the warm objects out of the collector's reach so children do not copy their pages."""
    import gc

    gc.collect()
    gc.freeze()


class Job:
    __slots__ = (
        "answered",
        "buf",
        "deadline",
        "header",
        "id",
        "overflow",
        "pid",
        "pidfd",
        "pipe",
        "pipe_open",
        "status",
        "t0",
    )

    def __init__(self, header: dict, pid: int, pipe: int, pidfd: int | None):
        self.id = header.get("id")
        self.header = header
        self.pid = pid
        self.pipe = pipe
        self.pidfd = pidfd
        self.buf = bytearray()
        self.pipe_open = True
        self.status: int | None = None
        self.t0 = time.monotonic()
        self.deadline = self.t0 + float(header.get("timeout") or 30) + 10.0
        self.overflow = False
        self.answered = False


#: Spare supervisors (render isolated, worker set up) kept ready per zygote.
SPARES = 2


class Spare:
    __slots__ = ("generation", "job_w", "out_r", "pid")

    def __init__(self, pid: int, job_w: int, out_r: int, generation: int):
        self.pid, self.job_w, self.out_r, self.generation = pid, job_w, out_r, generation


class Zygote:
    def __init__(self, req_fd: int, resp_fd: int, jail: list[str]):
        import selectors

        self.req_fd = req_fd
        self.resp_fd = resp_fd
        self.sel = selectors.DefaultSelector()
        self.sel.register(req_fd, selectors.EVENT_READ, ("req", None))
        self.jobs: dict[int, Job] = {}
        self.kinds = FAMILIES.get(os.environ.get("ERM_ZYGOTE_FAMILY", ""), tuple(RUNNERS))
        global WORKER_WARMUP, FAMILY_WARMUP
        WORKER_WARMUP = self.kinds == ("svg",) or "matplotlib" in self.kinds
        FAMILY_WARMUP = "svg" if self.kinds == ("svg",) else "matplotlib"
        self.cpus = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
        self.idle_queue = [n for n in IDLE_PRELOADS if not n.startswith("kind:") or n[5:] in self.kinds] \
            if "matplotlib" in self.kinds else [f"kind:{k}" for k in self.kinds]
        self.warm_kinds: set[str] = set()
        self.jail = list(jail)
        self.spares: list[Spare] = []
        self.retired: list[int] = []
        self.generation = 0  # bumped whenever the zygote imports more: older spares miss those modules

    def _fork_spare(self, warm: bool = True) -> Spare:
        """A supervisor with its render already isolated and its worker set up, waiting for a job
        (``warm``: and, in the SVG zygote, with a throw-away render done; not when a job is waiting)."""
        out_r, out_w = os.pipe()
        job_r, job_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            supervisor_main(job_r, out_w, self.jail, warm and WORKER_WARMUP)  # closes every other fd first
        os.close(out_w)
        os.close(job_r)
        return Spare(pid, job_w, out_r, self.generation)

    def refill_spares(self) -> None:
        self.spares = [sp for sp in self.spares if sp.generation == self.generation or self._retire(sp)]
        while len(self.spares) < SPARES:
            self.spares.append(self._fork_spare())

    def _retire(self, spare: Spare) -> bool:
        """Close a spare that is out of date (forked before new imports); its supervisor exits on EOF."""
        os.close(spare.job_w)
        os.close(spare.out_r)
        self.retired.append(spare.pid)
        return False

    def _reap_retired(self) -> None:
        for pid in list(self.retired):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self.retired.remove(pid)

    def start_job(self, header: dict, code: bytes) -> None:
        import selectors

        kind = header.get("kind")
        if kind not in RUNNERS or kind not in self.kinds:
            write_frame(self.resp_fd, {"id": header.get("id"), "status": "error",
                                       "error": f"the sandbox cannot render kind {kind!r}"})
            return
        self.warm_kind(kind)
        spare = None
        while self.spares and spare is None:
            candidate = self.spares.pop(0)
            if candidate.generation != self.generation:
                self._retire(candidate)
                continue
            try:
                write_frame(candidate.job_w, header, code)
                os.close(candidate.job_w)
                spare = candidate
            except OSError:  # that spare died (e.g. killed for memory): forget it, take another
                self._retire(candidate)
        if spare is None:
            spare = self._fork_spare(warm=False)
            write_frame(spare.job_w, header, code)
            os.close(spare.job_w)
        pid, out_r = spare.pid, spare.out_r
        os.set_blocking(out_r, False)
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        job = Job(header, pid, out_r, pidfd)
        self.jobs[pid] = job
        self.sel.register(out_r, selectors.EVENT_READ, ("pipe", job))
        if pidfd is not None:
            self.sel.register(pidfd, selectors.EVENT_READ, ("pidfd", job))

    def warm_kind(self, kind: str) -> None:
        if kind in KIND_PRELOADS and kind not in self.warm_kinds:
            self.warm_kinds.add(kind)
            for name in KIND_PRELOADS[kind]:
                try:
                    idle_preload(name)
                except Exception:  # noqa: BLE001 - a failed warm-up only costs speed; the job reports errors
                    pass
            mark_preloaded()
            _freeze_heap()
            self.generation += 1

    def _read_pipe(self, job: Job) -> None:
        try:
            data = os.read(job.pipe, 1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            if len(job.buf) + len(data) > MAX_RESULT + MAX_HEADER:
                job.overflow = True
                self._kill(job)
            else:
                job.buf += data
                if not job.answered and parse_frame(bytes(job.buf)) is not None:
                    self._respond(job)
            return
        self.sel.unregister(job.pipe)
        os.close(job.pipe)
        job.pipe_open = False

    def _reap(self, job: Job) -> None:
        try:
            pid, st = os.waitpid(job.pid, os.WNOHANG)
        except ChildProcessError:
            pid, st = job.pid, 71 << 8
        if pid == 0:
            return
        job.status = 128 + os.WTERMSIG(st) if os.WIFSIGNALED(st) else os.WEXITSTATUS(st)
        if job.pidfd is not None:
            self.sel.unregister(job.pidfd)
            os.close(job.pidfd)
            job.pidfd = None

    def _kill(self, job: Job) -> None:
        for target in (lambda: os.killpg(job.pid, signal.SIGKILL), lambda: os.kill(job.pid, signal.SIGKILL)):
            try:
                target()
            except OSError:
                pass

    def _finish(self, job: Job) -> None:
        """The supervisor has exited and its pipe is closed: answer (if not done yet) and forget the job."""
        del self.jobs[job.pid]
        if not job.answered:
            self._respond(job)

    def _respond(self, job: Job) -> None:
        """Send the job's response: the supervisor's frame (checked again), or why there is none.

        Called as soon as a complete frame has arrived, without waiting for the supervisor to exit (tearing
        down its namespaces takes a while); the supervisor is still reaped, and killed at the deadline."""
        job.answered = True
        parsed = parse_frame(bytes(job.buf)) if not job.overflow else None
        seconds = round(time.monotonic() - job.t0, 4)
        if parsed is not None:
            learn = parsed[0].get("learn")
            if isinstance(learn, list):
                for name in learn:
                    if name in LEARNABLE and name not in _PRELOADED and name not in self.idle_queue:
                        self.idle_queue.append(name)
        if job.overflow:
            header, payload = {"status": "error", "error": f"output larger than {MAX_RESULT >> 20} MB"}, b""
        elif parsed is not None and job.status in (0, None):
            header, payload = parsed
            header = {k: header.get(k) for k in ("status", "error", "format", "isolation")}
            if header.get("status") not in ("ok", "error"):
                header = {"status": "error", "error": "malformed result from the sandbox supervisor"}
            elif header["status"] == "error":
                header["error"] = str(header.get("error") or "render failed")[:500]
                payload = b""
        else:  # the supervisor itself died (it is killed at the backstop deadline)
            status = job.status or 0
            if status == 128 + signal.SIGKILL and time.monotonic() >= job.deadline:
                status = EXIT_WALL_TIMEOUT
            header, payload = {"status": "error", "error": describe_exit(status, job.header)}, b""
        header["id"] = job.id
        header["seconds"] = seconds
        write_frame(self.resp_fd, header, payload)
        if len(self.spares) < SPARES:
            # ready before the next request, in the background; it warms up only when a core is free for it
            # (renders in flight + this spare <= CPUs), so a full batch does not pay a second render per item
            self.spares.append(self._fork_spare(warm=self._core_free()))

    def _core_free(self) -> bool:
        busy = sum(1 for job in self.jobs.values() if not job.answered)
        return self.kinds == ("svg",) or busy + 1 < self.cpus

    def loop(self) -> None:
        while True:
            now = time.monotonic()
            timeout = None
            if self.jobs:
                timeout = max(0.0, min(j.deadline for j in self.jobs.values()) - now)
                timeout = min(timeout, 0.5)  # also polls for children without a pidfd
            elif self.idle_queue or len(self.spares) < SPARES or self.retired:
                timeout = 0.02
            events = self.sel.select(timeout)
            if not events and not self.jobs and self.idle_queue:
                name = self.idle_queue.pop(0)
                if name.startswith("kind:"):
                    self.warm_kind(name[5:])
                else:
                    idle_preload(name)
                    mark_preloaded()
                    _freeze_heap()
                    self.generation += 1
                continue
            if not events and (len(self.spares) < SPARES or any(sp.generation != self.generation
                                                                 for sp in self.spares)):
                self.refill_spares()  # while idle: the next render finds its namespaces ready
                continue
            self._reap_retired()
            for key, _ in events:
                what, job = key.data
                if what == "req":
                    frame = read_frame(self.req_fd)
                    if frame is None:
                        self.shutdown()
                        return
                    header, payload = frame
                    if header.get("op") == "ping":
                        write_frame(self.resp_fd, {"id": header.get("id"), "status": "ok", "op": "pong",
                                                   "preloaded": sorted(_PRELOADED),
                                                   "warm_kinds": sorted(self.warm_kinds)})
                    else:
                        self.start_job(header, payload)
                elif what == "pipe":
                    self._read_pipe(job)
                elif what == "pidfd":
                    self._reap(job)
            now = time.monotonic()
            for job in list(self.jobs.values()):
                if job.status is None and (job.pidfd is None or now > job.deadline):
                    self._reap(job)
                if now > job.deadline and (job.status is None or job.pipe_open):  # answered or not
                    self._kill(job)
                    if job.status is None:
                        try:
                            os.waitpid(job.pid, 0)
                        except ChildProcessError:
                            pass
                        job.status = 128 + signal.SIGKILL
                    if job.pipe_open:
                        self.sel.unregister(job.pipe)
                        os.close(job.pipe)
                        job.pipe_open = False
                if job.status is not None and not job.pipe_open:
                    self._finish(job)

    def shutdown(self) -> None:
        for job in list(self.jobs.values()):
            self._kill(job)
        for spare in self.spares:
            try:
                os.kill(spare.pid, signal.SIGKILL)
            except OSError:
                pass


def main() -> None:
    """Entry point inside the bubblewrap jail (see sandbox.py for the jail itself)."""
    global SECCOMP_FILTER
    # Keep the protocol fds private; stray prints from libraries go to /dev/null.
    req_fd = os.dup(0)
    resp_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.environ.update(ENV_FIXED)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    t0 = time.monotonic()
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        jail = ["bwrap"] + enter_jail_user_namespace()
        prctl(PR_SET_DUMPABLE, 0)  # no other process of the jail may read or write this one's memory
        SECCOMP_FILTER = build_seccomp_filter()
        preload_core()
    except Exception as exc:  # noqa: BLE001 - fail closed: no jail, no renders
        write_frame(resp_fd, {"id": 0, "status": "error", "error": f"sandbox set-up failed: {exc!r}"[:300]})
        sys.exit(1)
    mark_preloaded()
    _freeze_heap()
    write_frame(resp_fd, {"id": 0, "status": "ok", "op": "ready", "pid": os.getpid(), "isolation": jail,
                          "seconds": round(time.monotonic() - t0, 3)})
    Zygote(req_fd, resp_fd, jail).loop()


if __name__ == "__main__":
    main()
