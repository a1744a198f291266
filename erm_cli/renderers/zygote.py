"""The sandbox fork server ("zygote"): a warm, pre-imported process that runs each untrusted render
in a freshly forked, isolated child.

This file runs as a standalone script (``python -I zygote.py``, optionally inside bubblewrap) and
imports only the standard library plus the rendering libraries; the parent (``sandbox.py``) imports
it only for the frame protocol helpers. Nothing here imports ``erm_cli``.

Process tree of one render::

    zygote (pre-imported numpy, matplotlib, cairosvg, later plotly/pandas; single-threaded)
      └─ supervisor  (fork; setsid; unshare net/pid/mount/ipc/uts namespaces; wall-clock kill)
           └─ worker (pid 1 of a new pid namespace; read-only mounts + private tmpfs /tmp; rlimits;
                      no capabilities; seccomp: no fork/exec/sockets except AF_UNIX; runs the code)

The worker writes one result frame on an inherited pipe; the zygote forwards it to the parent.
Protocol on the zygote's stdin/stdout: frames of ``>I`` header length, JSON header, ``>Q`` payload
length, payload bytes. Requests: ``{"id", "kind", "dpi", "width", "height", "timeout", "mem_mb"}`` +
code bytes. Responses: ``{"id", "status": "ok"|"error", "error", "format", "seconds", "isolation"}`` +
PNG bytes (or plotly JSON).
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
FSIZE_LIMIT = 64 << 20
TMPFS_SIZE = "256m"
NOFILE_LIMIT = 64
MAX_SVG_SIDE = 16384
MAX_SVG_PIXELS = 50_000_000
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
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV = 0x1, 0x2, 0x4
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, PR_SET_DUMPABLE = 1, 24, 38, 22, 4
SECCOMP_MODE_FILTER = 2
AUDIT_ARCH_X86_64 = 0xC000003E
SYS_X86_64 = {"mount_setattr": 442, "capset": 126}

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


def _machine() -> str:
    return os.uname().machine


def make_readonly_recursive() -> None:
    """All mounts private and read-only (one ``mount_setattr`` call; per-mount fallback)."""
    import ctypes

    if _machine() == "x86_64":
        attr = struct.pack("QQQQ", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, MS_PRIVATE, 0)
        buf = ctypes.create_string_buffer(attr, len(attr))
        c = libc()
        c.syscall.restype = ctypes.c_long
        rc = c.syscall(ctypes.c_long(SYS_X86_64["mount_setattr"]), ctypes.c_int(-100), ctypes.c_char_p(b"/"),
                       ctypes.c_uint(AT_RECURSIVE), buf, ctypes.c_size_t(len(attr)))
        if rc == 0:
            return
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    with open("/proc/self/mountinfo") as fh:
        points = [line.split()[4] for line in fh]
    for point in sorted(set(points), key=len):
        try:
            mount("none", point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
        except OSError:
            if point == "/":
                raise


def drop_capabilities() -> None:
    """Empty the bounding set (where permitted) and the effective/permitted/inheritable sets."""
    import ctypes

    for cap in range(64):
        try:
            prctl(PR_CAPBSET_DROP, cap)
        except OSError:
            pass
    if _machine() != "x86_64":
        return
    header = ctypes.create_string_buffer(struct.pack("Ii", 0x20080522, 0), 8)  # _LINUX_CAPABILITY_VERSION_3
    data = ctypes.create_string_buffer(b"\0" * 24, 24)
    c = libc()
    c.syscall.restype = ctypes.c_long
    if c.syscall(ctypes.c_long(SYS_X86_64["capset"]), header, data) != 0:
        raise _errno_error("capset")


def seccomp_program() -> bytes:
    """A classic-BPF seccomp filter for x86_64: no new processes, no exec, no sockets but AF_UNIX,
    no mount/namespace/ptrace/bpf/io_uring/module/keyring calls, no clearing of the death signal."""
    LD_W_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
    ALLOW, KILL = 0x7FFF0000, 0x80000000
    EPERM, ENOSYS = 0x00050000 | 1, 0x00050000 | 38
    errno_rules = {  # syscall -> return value
        57: EPERM, 58: EPERM, 59: EPERM, 322: EPERM,            # fork vfork execve execveat
        435: ENOSYS,                                              # clone3 (glibc falls back to clone)
        101: EPERM, 310: EPERM, 311: EPERM, 312: EPERM,          # ptrace process_vm_* kcmp
        155: EPERM, 161: EPERM, 165: EPERM, 166: EPERM,          # pivot_root chroot mount umount2
        272: EPERM, 308: EPERM, 321: EPERM, 298: EPERM,          # unshare setns bpf perf_event_open
        248: EPERM, 249: EPERM, 250: EPERM, 323: EPERM,          # add_key request_key keyctl userfaultfd
        425: EPERM, 426: EPERM, 427: EPERM,                      # io_uring_*
        428: EPERM, 429: EPERM, 430: EPERM, 431: EPERM, 432: EPERM, 433: EPERM, 442: EPERM,  # new mount API
        169: EPERM, 167: EPERM, 168: EPERM, 175: EPERM, 176: EPERM, 313: EPERM,  # reboot swap modules
        303: EPERM, 304: EPERM, 126: EPERM, 134: EPERM,          # *_handle_at capset uselib
    }
    SYS_CLONE, SYS_SOCKET, SYS_PRCTL, AF_UNIX = 56, 41, 157, 1
    prog: list[tuple[int, int, int, int]] = []
    # Layout: header, one JEQ per rule (jumping to shared return blocks at the end), ALLOW, checks, returns.
    rules = list(errno_rules.items())
    special = [SYS_CLONE, SYS_SOCKET, SYS_PRCTL]
    n_head = 4
    n_rules = len(rules) + len(special)
    idx_allow = n_head + n_rules
    idx_clone = idx_allow + 1          # LD arg0; JSET CLONE_THREAD -> allow else eperm
    idx_socket = idx_clone + 2         # LD arg0; JEQ AF_UNIX -> allow else eperm
    idx_prctl = idx_socket + 2         # LD arg0; JEQ PR_SET_PDEATHSIG -> eperm else allow
    idx_ret_allow = idx_prctl + 2
    idx_ret_eperm = idx_ret_allow + 1
    idx_ret_enosys = idx_ret_eperm + 1
    idx_ret_kill = idx_ret_enosys + 1

    def jump(frm: int, to: int) -> int:
        off = to - frm - 1
        assert 0 <= off < 256
        return off

    prog.append((LD_W_ABS, 0, 0, 4))                                       # 0: arch
    prog.append((JEQ, 0, jump(1, idx_ret_kill), AUDIT_ARCH_X86_64))         # 1
    prog.append((LD_W_ABS, 0, 0, 0))                                        # 2: nr
    prog.append((JGE, jump(3, idx_ret_kill), 0, 0x40000000))                # 3: x32 ABI
    i = n_head
    for nr, ret in rules:
        target = idx_ret_enosys if ret == ENOSYS else idx_ret_eperm
        prog.append((JEQ, jump(i, target), 0, nr))
        i += 1
    for nr, target in zip(special, [idx_clone, idx_socket, idx_prctl]):
        prog.append((JEQ, jump(i, target), 0, nr))
        i += 1
    prog.append((RET, 0, 0, ALLOW))                                         # idx_allow
    prog.append((LD_W_ABS, 0, 0, 16))                                       # clone: flags
    prog.append((JSET, jump(idx_clone + 1, idx_ret_allow), jump(idx_clone + 1, idx_ret_eperm), CLONE_THREAD))
    prog.append((LD_W_ABS, 0, 0, 16))                                       # socket: domain
    prog.append((JEQ, jump(idx_socket + 1, idx_ret_allow), jump(idx_socket + 1, idx_ret_eperm), AF_UNIX))
    prog.append((LD_W_ABS, 0, 0, 16))                                       # prctl: option
    prog.append((JEQ, jump(idx_prctl + 1, idx_ret_eperm), jump(idx_prctl + 1, idx_ret_allow), PR_SET_PDEATHSIG))
    prog.append((RET, 0, 0, ALLOW))
    prog.append((RET, 0, 0, EPERM))
    prog.append((RET, 0, 0, ENOSYS))
    prog.append((RET, 0, 0, KILL))
    assert len(prog) == idx_ret_kill + 1
    return b"".join(struct.pack("HBBI", *ins) for ins in prog)


def install_seccomp() -> None:
    import ctypes

    if _machine() != "x86_64":
        raise OSError("seccomp filter is only built for x86_64")
    prog = seccomp_program()
    filt = ctypes.create_string_buffer(prog, len(prog))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog) // 8, ctypes.cast(filt, ctypes.c_void_p))
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    c = libc()
    c.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if c.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        raise _errno_error("seccomp")


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

    run_svg('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="4" height="4" '
            'fill="red"/><text x="1" y="7" font-size="4">a</text></svg>', {})


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


def _open_dirs_under(top: str) -> list[tuple[str, int]]:
    """O_PATH descriptors of the interpreter's own directories below ``top`` (outermost only).

    A private tmpfs mounted on ``top`` would hide them; :func:`_rebind` bind-mounts them back (read-only,
    as the whole tree already is) through ``/proc/self/fd``.
    """
    wanted = {os.path.realpath(p) for p in (sys.prefix, sys.exec_prefix, sys.base_prefix, *sys.path)
              if p and os.path.isdir(p)}
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


def worker_main(job: dict, code: str, out_fd: int, isolation: list[str]) -> None:
    """Runs in the forked worker: isolate, run the code, write one frame, exit. Never returns."""
    t0 = time.monotonic()
    status = 1
    try:
        try:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass
        isolation = list(isolation)
        if "mountns" in isolation:
            try:
                make_readonly_recursive()
                isolation.append("readonly-fs")
                keep = _open_dirs_under("/tmp")  # the interpreter and libraries may live under /tmp (a CI clone)
                mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={TMPFS_SIZE},mode=1777")
                isolation.append("private-tmp")
                _rebind(keep)
                for extra, size in (("/dev/shm", "16m"), ("/var/tmp", "16m")):
                    try:
                        mount("tmpfs", extra, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"size={size},mode=1777")
                    except OSError:
                        pass
                if "pidns" in isolation:
                    try:
                        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
                    except OSError:
                        pass
            except OSError:
                pass
        base = "/tmp/work" if "private-tmp" in isolation else job["workdir"]
        os.makedirs(base, mode=0o700, exist_ok=True)
        os.chdir(base)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.dup2(out_fd, 3)
        os.closerange(4, 1 << 16)
        out_fd = 3
        import resource

        mem = int(job.get("mem_mb") or 1536) << 20
        cpu = max(1, int(float(job.get("timeout") or 30) + 0.999))
        limits = [(resource.RLIMIT_AS, _vm_size() + mem), (resource.RLIMIT_CPU, cpu),
                  (resource.RLIMIT_FSIZE, FSIZE_LIMIT), (resource.RLIMIT_NOFILE, NOFILE_LIMIT),
                  (resource.RLIMIT_CORE, 0)]
        for res, value in limits:
            try:
                hard = value + 1 if res == resource.RLIMIT_CPU else value
                resource.setrlimit(res, (value, hard))
            except (ValueError, OSError):
                pass
        isolation.append("rlimits")
        os.environ.clear()
        os.environ.update(ENV_FIXED)
        os.environ.update({"HOME": base, "TMPDIR": base, "PATH": "/usr/bin:/bin", "MPLCONFIGDIR": base})
        import tempfile

        tempfile.tempdir = base
        try:
            prctl(PR_SET_DUMPABLE, 0)
            drop_capabilities()
            isolation.append("no-capabilities")
        except OSError:
            pass
        try:
            install_seccomp()
            isolation.append("seccomp")
        except OSError:
            pass
        _patch_network()
        sys.argv = ["code.py"]
        try:
            payload, fmt = RUNNERS[job["kind"]](code, job)
            header = {"status": "ok", "format": fmt}
        except UserCodeError as exc:
            payload, header = b"", {"status": "error", "error": str(exc)}
        except MemoryError:
            payload, header = b"", {"status": "error", "error": "MemoryError: out of memory (sandbox limit)"}
        header.update({"seconds": round(time.monotonic() - t0, 4), "isolation": isolation,
                       "learn": learned_modules()})
        write_frame(out_fd, header, payload)
        status = 0
    except BaseException as exc:  # noqa: BLE001 - the worker must never fall back into the zygote loop
        status = 70
        try:
            write_frame(out_fd, {"status": "setup-error", "error": f"sandbox setup failed: {exc!r}"[:300]})
        except BaseException:  # noqa: BLE001, S110 - nothing left to report through
            pass
    finally:
        os._exit(status)


# --------------------------------------------------------------------------- supervisor (trusted)
def _enter_namespaces() -> list[str]:
    """Unshare what the kernel allows; return the isolation features obtained."""
    full = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    attempts = [full, CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC, CLONE_NEWNET]
    uid, gid = os.geteuid(), os.getegid()
    names = {CLONE_NEWNS: "mountns", CLONE_NEWPID: "pidns", CLONE_NEWNET: "netns", CLONE_NEWIPC: "ipcns",
             CLONE_NEWUTS: "utsns"}
    for flags in attempts:
        try:
            unshare(flags)
        except OSError:
            continue
        return [n for f, n in names.items() if flags & f]
    # Unprivileged: a user namespace first, mapping ourselves to root inside it.
    for flags in attempts:
        try:
            unshare(CLONE_NEWUSER | flags)
            with open("/proc/self/setgroups", "w") as fh:
                fh.write("deny")
            with open("/proc/self/uid_map", "w") as fh:
                fh.write(f"0 {uid} 1")
            with open("/proc/self/gid_map", "w") as fh:
                fh.write(f"0 {gid} 1")
        except OSError:
            continue
        return ["userns"] + [n for f, n in names.items() if flags & f]
    return []


def supervisor_main(job: dict, code: str, out_r: int, out_w: int) -> None:
    """Forked from the zygote: new session and namespaces, fork the worker, enforce the wall clock."""
    status = 71
    try:
        os.close(out_r)
        os.setsid()
        isolation = ["process-group"] + _enter_namespaces()
        if "utsns" in isolation:
            try:
                import socket

                socket.sethostname("erm-sandbox")
            except OSError:
                pass
        pid = os.fork()
        if pid == 0:
            worker_main(job, code, out_w, isolation)
        os.close(out_w)
        timeout = float(job.get("timeout") or 30)
        try:
            pidfd = os.pidfd_open(pid)
            ready, _, _ = select.select([pidfd], [], [], timeout)
            timed_out = not ready
        except (AttributeError, OSError):
            deadline = time.monotonic() + timeout
            timed_out = True
            while time.monotonic() < deadline:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    os._exit(0)
                time.sleep(0.005)
        if timed_out:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = EXIT_WALL_TIMEOUT
        else:
            _, st = os.waitpid(pid, 0)
            if os.WIFSIGNALED(st):
                status = 128 + os.WTERMSIG(st)
            else:
                status = min(os.WEXITSTATUS(st), 124)
    except BaseException:  # noqa: BLE001
        status = 71
    finally:
        os._exit(status)


def describe_exit(status: int, job: dict) -> str:
    timeout = float(job.get("timeout") or 30)
    if status == EXIT_WALL_TIMEOUT:
        return f"timed out after {timeout:g} s (wall clock)"
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
        "workdir",
    )

    def __init__(self, header: dict, pid: int, pipe: int, pidfd: int | None, workdir: str):
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
        self.workdir = workdir


class Zygote:
    def __init__(self, req_fd: int, resp_fd: int):
        import selectors

        self.req_fd = req_fd
        self.resp_fd = resp_fd
        self.sel = selectors.DefaultSelector()
        self.sel.register(req_fd, selectors.EVENT_READ, ("req", None))
        self.jobs: dict[int, Job] = {}
        self.idle_queue = list(IDLE_PRELOADS)
        self.warm_kinds: set[str] = set()
        import tempfile

        self.work_root = tempfile.mkdtemp(prefix="erm-zygote-")

    def start_job(self, header: dict, code_bytes: bytes) -> None:
        import selectors

        code = code_bytes.decode("utf-8", errors="replace")
        kind = header.get("kind")
        if kind not in RUNNERS:
            write_frame(self.resp_fd, {"id": header.get("id"), "status": "error",
                                       "error": f"the sandbox cannot render kind {kind!r}"})
            return
        self.warm_kind(kind)
        import tempfile

        workdir = tempfile.mkdtemp(dir=self.work_root)
        header["workdir"] = workdir
        out_r, out_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(self.req_fd)
                os.close(self.resp_fd)
            except OSError:
                pass
            supervisor_main(header, code, out_r, out_w)
        os.close(out_w)
        os.set_blocking(out_r, False)
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        job = Job(header, pid, out_r, pidfd, workdir)
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

    def _read_pipe(self, job: Job) -> None:
        try:
            data = os.read(job.pipe, 1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            if len(job.buf) + len(data) > MAX_RESULT:
                job.overflow = True
                self._kill(job)
            else:
                job.buf += data
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
        del self.jobs[job.pid]
        import shutil

        shutil.rmtree(job.workdir, ignore_errors=True)
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
        elif parsed is not None and job.status == 0:
            header, payload = parsed
            header = {k: header.get(k) for k in ("status", "error", "format", "isolation")}
            if header.get("status") not in ("ok", "error"):
                header = {"status": "error", "error": "malformed result from the sandbox worker"}
            elif header["status"] == "error":
                header["error"] = str(header.get("error") or "render failed")[:500]
                payload = b""
        elif parsed is not None and parsed[0].get("status") == "setup-error":
            header, payload = {"status": "error", "error": str(parsed[0].get("error"))[:300]}, b""
        else:
            header, payload = {"status": "error", "error": describe_exit(job.status or 0, job.header)}, b""
            if parsed is not None:
                header["isolation"] = parsed[0].get("isolation")
        header["id"] = job.id
        header["seconds"] = seconds
        write_frame(self.resp_fd, header, payload)

    def loop(self) -> None:
        while True:
            now = time.monotonic()
            timeout = None
            if self.jobs:
                timeout = max(0.0, min(j.deadline for j in self.jobs.values()) - now)
                timeout = min(timeout, 0.5)  # also polls for children without a pidfd
            elif self.idle_queue:
                timeout = 0.05
            events = self.sel.select(timeout)
            if not events and not self.jobs and self.idle_queue:
                name = self.idle_queue.pop(0)
                if name.startswith("kind:"):
                    self.warm_kind(name[5:])
                else:
                    idle_preload(name)
                    mark_preloaded()
                    _freeze_heap()
                continue
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
                if now > job.deadline and (job.status is None or job.pipe_open):
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
        import shutil

        for job in list(self.jobs.values()):
            self._kill(job)
        shutil.rmtree(self.work_root, ignore_errors=True)


def main() -> None:
    # Keep the protocol fds private; stray prints from libraries go to /dev/null.
    req_fd = os.dup(0)
    resp_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.environ.update(ENV_FIXED)
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    t0 = time.monotonic()
    try:
        preload_core()
    except Exception as exc:  # noqa: BLE001
        write_frame(resp_fd, {"id": 0, "status": "error", "error": f"sandbox preload failed: {exc!r}"})
        sys.exit(1)
    mark_preloaded()
    _freeze_heap()
    write_frame(resp_fd, {"id": 0, "status": "ok", "op": "ready", "pid": os.getpid(),
                          "seconds": round(time.monotonic() - t0, 3)})
    Zygote(req_fd, resp_fd).loop()


if __name__ == "__main__":
    main()
