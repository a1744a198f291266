"""Hostile code against the sandbox jail: every case asserts the specific outcome.

Each probe is real candidate code run through the real warm pool (bubblewrap jail, per-render namespaces,
uid 65534, seccomp), mostly through ``renderers.render`` as every verb does. Probes report what happened
with a marker in their error line: ``BLOCKED ...`` when the attack failed the way it should, ``ESCAPED ...``
when it worked. Host-side checks re-read the host afterwards (a /proc/sys knob, /dev/kmsg, listeners, a
sentinel file) and decode the PNG pixels to make sure no secret byte came back.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from erm_cli.renderers import RenderOptions, render, sandbox
from erm_cli.renderers.sandbox import bwrap_path, get_pool, run_untrusted

pytestmark = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed")

PLT = "import matplotlib.pyplot as plt\n"
OK_CHART = PLT + "fig, ax = plt.subplots(figsize=(2, 2))\nax.plot([0, 1], [0, 1])\n"
FAST = RenderOptions(timeout=5.0, mem_mb=512)
REPO = Path(__file__).resolve().parents[1]
ERM = [sys.executable, "-m", "erm_cli.app"]


def mpl(code: str, options: RenderOptions = FAST):
    return render(code, kind="matplotlib", options=options, cache=False)


def probe(attack: str, options: RenderOptions = FAST) -> str:
    """Run ``attack`` (a body that raises ``RuntimeError('ESCAPED ...')`` on success); return the error."""
    code = PLT + "import os, sys, errno\n" + attack + "\nraise RuntimeError('BLOCKED end')\n"
    result = mpl(code, options)
    assert not result.ok
    assert "ESCAPED" not in result.error, result.error
    return result.error


def blocked(call: str, expect: str = "EPERM") -> str:
    """``call`` must raise OSError with errno ``expect`` (e.g. a seccomp denial)."""
    attack = (f"try:\n    {call}\nexcept OSError as exc:\n"
              f"    raise RuntimeError('BLOCKED ' + errno.errorcode.get(exc.errno, str(exc.errno)))\n"
              f"raise RuntimeError('ESCAPED ' + {call[:40]!r})\n")
    error = probe(attack)
    assert f"BLOCKED {expect}" in error, error
    return error


LIBC = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"


def libc_blocked(expr: str, expect: str = "EPERM") -> str:
    """A raw libc call (below Python's wrappers) must return -1 with errno ``expect``."""
    attack = LIBC + (f"rc = {expr}\nif rc != -1:\n    raise RuntimeError('ESCAPED rc=%r' % rc)\n"
                     f"raise RuntimeError('BLOCKED ' + errno.errorcode.get(ctypes.get_errno(), '?'))\n")
    error = probe(attack)
    assert f"BLOCKED {expect}" in error, error
    return error


def pixels_of(png: bytes) -> bytes:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).tobytes()


def exfiltrate(read_expr: str) -> bytes:
    """Code that tries ``read_expr`` and smuggles whatever it got out as raw RGB pixels of the PNG
    (or the bytes b'none' when reading failed); returns the decoded pixel bytes."""
    code = (PLT + "import numpy as np, os\n"
            f"try:\n    data = bytes({read_expr})\nexcept Exception:\n    data = b'none'\n"
            "data = (b'CONTROL-MARKER:' + data)[:3000]\n"
            "data += b'\\0' * (-len(data) % 3)\n"
            "fig = plt.figure(figsize=(12, 1), dpi=100)\n"
            "fig.figimage(np.frombuffer(data, dtype=np.uint8).reshape(1, -1, 3), xo=0, yo=0, origin='upper')\n")
    result = mpl(code)
    assert result.ok, result.error
    pixels = pixels_of(result.png)
    assert b"CONTROL-MARKER:" in pixels  # the channel works: a secret that was read would be visible
    return pixels


# ------------------------------------------------------------------------------------ host kernel
KNOB = Path("/proc/sys/kernel/printk_ratelimit_burst")


def test_proc_sys_knob_is_not_changed_on_the_host() -> None:
    if not KNOB.exists():
        pytest.skip("no printk_ratelimit_burst knob")
    before = KNOB.read_text()
    new = str(int(before) + 7)
    try:
        error = probe(
            f"for path in ('/proc/sys/kernel/printk_ratelimit_burst', '/proc/self/root/proc/sys/kernel/"
            f"printk_ratelimit_burst', '/proc/1/root/proc/sys/kernel/printk_ratelimit_burst'):\n"
            f"    try:\n        open(path, 'w').write('{new}')\n    except OSError:\n        continue\n"
            f"    raise RuntimeError('ESCAPED wrote ' + path)\n")
        assert "BLOCKED" in error
        assert KNOB.read_text() == before
    finally:
        if KNOB.read_text() != before and os.access(KNOB, os.W_OK):
            KNOB.write_text(before)


def test_a_fresh_proc_cannot_be_mounted_to_reach_proc_sys() -> None:
    libc_blocked("libc.mount(b'proc', b'/tmp', b'proc', 0, None)")


def test_proc_is_empty_and_sys_is_absent() -> None:
    error = probe("import os\nif os.listdir('/proc') or os.path.exists('/sys/kernel'):\n"
                  "    raise RuntimeError('ESCAPED ' + repr(os.listdir('/proc')[:5]))\n"
                  "raise RuntimeError('BLOCKED empty')\n")
    assert "BLOCKED empty" in error


def test_dev_kmsg_is_not_written() -> None:
    marker = f"erm-kmsg-{uuid.uuid4().hex}"
    host_fd = None
    try:
        host_fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(host_fd, 0, os.SEEK_END)
    except OSError:
        host_fd = None  # not root on the host: the in-sandbox half still runs
    try:
        error = probe(f"for path in ('/dev/kmsg', '/dev/console', '/dev/mem', '/dev/port'):\n"
                      f"    try:\n        fh = open(path, 'w')\n    except OSError:\n        continue\n"
                      f"    fh.write('{marker}\\n')\n    raise RuntimeError('ESCAPED ' + path)\n")
        assert "BLOCKED" in error
        if host_fd is not None:
            seen = b""
            while True:
                try:
                    seen += os.read(host_fd, 8192)
                except BlockingIOError:
                    break
                except OSError:  # EPIPE when records were overwritten: read on
                    continue
            assert marker.encode() not in seen
    finally:
        if host_fd is not None:
            os.close(host_fd)


def test_dev_is_minimal() -> None:
    error = probe("import os\nbad = [d for d in ('kmsg', 'mem', 'sda', 'vda', 'nvme0', 'fuse', 'kvm', 'loop0')\n"
                  "       if os.path.exists('/dev/' + d)]\n"
                  "if bad:\n    raise RuntimeError('ESCAPED ' + repr(bad))\n"
                  "raise RuntimeError('BLOCKED minimal ' + repr(sorted(os.listdir('/dev'))))\n")
    assert "BLOCKED minimal" in error


def test_code_runs_as_uid_65534_on_the_host_too() -> None:
    done = threading.Event()

    def slow() -> None:
        mpl(PLT + "import time\ntime.sleep(6)\n", RenderOptions(timeout=8))
        done.set()

    thread = threading.Thread(target=slow)
    thread.start()
    try:
        uids: dict[int, list[str]] = {}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not done.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                    status = Path(f"/proc/{pid}/status").read_text()
                    comm = Path(f"/proc/{pid}/comm").read_text().strip()
                except OSError:
                    continue
                if comm == "bwrap" or b"/erm/zygote.py" not in cmd:  # bwrap is root; the jail's Pythons are not
                    continue
                if int(pid) in _descendants(os.getpid()):
                    uids[int(pid)] = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
            if len(uids) >= 3:  # zygote, supervisor, worker
                break
            time.sleep(0.1)
        assert len(uids) >= 3, uids
        for pid, ids in uids.items():
            assert "0" not in ids, f"process {pid} of the jail has a host uid 0: {ids}"
    finally:
        thread.join()


# ------------------------------------------------------------------------------------------ sockets
@pytest.mark.parametrize("family", ["AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET", "AF_UNIX"])
def test_no_socket_of_any_family_even_through_underscore_socket(family: str) -> None:
    blocked(f"import _socket; _socket.socket(_socket.{family}, _socket.SOCK_DGRAM if '{family}' == "
            f"'AF_NETLINK' else _socket.SOCK_RAW if '{family}' == 'AF_PACKET' else _socket.SOCK_STREAM)")


def test_no_socketpair() -> None:
    blocked("import _socket; _socket.socketpair()")


def test_raw_socket_syscall_is_refused() -> None:
    libc_blocked("libc.socket(1, 1, 0)")  # socket(AF_UNIX, SOCK_STREAM) straight through libc


@pytest.fixture()
def unix_listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "host.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    srv.setblocking(False)
    yield srv, path
    srv.close()


def _no_connection(srv: socket.socket) -> bool:
    try:
        conn, _ = srv.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


def test_unix_socket_on_the_host_file_system_is_unreachable(unix_listener: tuple[socket.socket, str]) -> None:
    srv, path = unix_listener
    error = probe(f"import _socket\ntry:\n    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)\n"
                  f"    s.connect({path!r})\nexcept OSError as exc:\n    raise RuntimeError('BLOCKED %s' % exc)\n"
                  f"raise RuntimeError('ESCAPED connected')\n")
    assert "BLOCKED" in error
    assert _no_connection(srv)


def test_abstract_unix_socket_on_the_host_is_unreachable() -> None:
    name = f"\0erm-hostile-{uuid.uuid4().hex}"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(name)
    srv.listen(4)
    srv.setblocking(False)
    try:
        error = probe(f"import _socket\ntry:\n    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)\n"
                      f"    s.connect({name!r})\nexcept OSError as exc:\n    raise RuntimeError('BLOCKED %s' % exc)\n"
                      f"raise RuntimeError('ESCAPED connected')\n")
        assert "BLOCKED" in error
        assert _no_connection(srv)
    finally:
        srv.close()


def test_tcp_listener_on_host_loopback_gets_no_connection() -> None:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.setblocking(False)
    port = srv.getsockname()[1]
    try:
        error = probe(f"import urllib.request\ntry:\n    urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=2)\n"
                      f"except Exception as exc:\n    raise RuntimeError('BLOCKED %s' % exc)\n"
                      f"raise RuntimeError('ESCAPED fetched')\n")
        assert "BLOCKED" in error
        assert _no_connection(srv)
    finally:
        srv.close()


# -------------------------------------------------------------------------------- host file system
def test_etc_passwd_is_not_readable_and_not_in_the_error() -> None:
    error = probe("raise RuntimeError('ESCAPED ' + open('/etc/passwd').read())")
    assert "No such file" in error and "root:x:0" not in error


def test_root_home_is_not_visible() -> None:
    error = probe("import os\nfor p in ('/root/.bashrc', '/root/.ssh', '/root/.cache', '/root/.profile'):\n"
                  "    if os.path.exists(p):\n        raise RuntimeError('ESCAPED ' + p)\n"
                  "raise RuntimeError('BLOCKED ' + repr(os.listdir('/root') if os.path.isdir('/root') else []))\n")
    assert "BLOCKED" in error


def test_project_checkout_is_not_visible() -> None:
    targets = [str(REPO / "pyproject.toml"), str(REPO / "erm_cli" / "app.py"), str(Path(__file__).resolve())]
    error = probe(f"import os\nfor p in {targets!r}:\n    if os.path.exists(p):\n        raise RuntimeError('ESCAPED ' + p)\n"
                  f"raise RuntimeError('BLOCKED hidden')\n")
    assert "BLOCKED hidden" in error


def test_root_listing_holds_only_the_runtime() -> None:
    error = probe("import os\nos.chdir('/')\nraise RuntimeError('BLOCKED ' + repr(sorted(os.listdir('.'))))\n")
    listing = eval(error.split("BLOCKED ", 1)[1].split(" (line")[0])
    for forbidden in ("home", "run", "var", "sys", "boot", "mnt", "media", "srv", "snap"):
        assert forbidden not in listing, listing


def test_secret_file_bytes_never_come_back_in_the_pixels(tmp_path: Path) -> None:
    secret = f"SECRET-{uuid.uuid4().hex}"
    path = tmp_path / "secret.txt"
    path.write_text(secret)
    assert secret.encode() not in exfiltrate(f"open({str(path)!r}, 'rb').read()")


def test_passwd_bytes_never_come_back_in_the_pixels() -> None:
    assert b"root:x:0" not in exfiltrate("open('/etc/passwd', 'rb').read()")


def test_parent_environment_is_not_visible() -> None:
    secret = f"ERM-ENV-{uuid.uuid4().hex}"
    sandbox.shutdown()  # the next render starts a jail from a process that holds the secret
    os.environ["ERM_HOSTILE_SECRET"] = secret
    try:
        pixels = exfiltrate("repr(dict(os.environ)).encode() + open('/proc/1/environ', 'rb').read()")
        assert secret.encode() not in pixels
        error = probe("raise RuntimeError('BLOCKED ' + repr(sorted(os.environ)))")
        assert secret not in error and "ERM_HOSTILE_SECRET" not in error
    finally:
        del os.environ["ERM_HOSTILE_SECRET"]
        sandbox.shutdown()


def test_symlinks_do_not_lead_out_of_the_workdir() -> None:
    error = probe("import os\nfor i, target in enumerate(('/etc/passwd', '/proc/1/root/etc/passwd', '/root/.bashrc', "
                  f"{str(REPO / 'pyproject.toml')!r})):\n"
                  "    os.symlink(target, f'link{i}')\n"
                  "    try:\n        open(f'link{i}').read()\n    except OSError:\n        continue\n"
                  "    raise RuntimeError('ESCAPED ' + target)\nraise RuntimeError('BLOCKED links')\n")
    assert "BLOCKED links" in error


def test_writes_outside_tmp_fail_and_leave_no_file(tmp_path: Path) -> None:
    host_targets = [REPO / f"erm-escape-{uuid.uuid4().hex}", Path(sys.prefix) / f"erm-escape-{uuid.uuid4().hex}"]
    inside = ["/erm-escape", "/usr/erm-escape", "/etc/erm-escape", "/erm/erm-escape", *map(str, host_targets)]
    error = probe(f"for p in {inside!r}:\n    try:\n        open(p, 'w').write('x')\n    except OSError:\n"
                  f"        continue\n    raise RuntimeError('ESCAPED ' + p)\nraise RuntimeError('BLOCKED ro')\n")
    assert "BLOCKED ro" in error
    assert not any(p.exists() for p in host_targets)


def test_reference_image_of_judge_cannot_be_read_and_reward_stays_low(tmp_path: Path) -> None:
    ref_code = tmp_path / "ref.py"
    ref_code.write_text(PLT + "fig, ax = plt.subplots(figsize=(6, 4))\nax.bar(['N', 'S', 'E', 'W'], [23, 17, 35, 29])\n"
                        "ax.set_title('Sales by region')\n")
    ref = tmp_path / "ref.png"
    subprocess.run([*ERM, "render", str(ref_code), "-o", str(ref)], check=True, capture_output=True, timeout=120)
    cheat = tmp_path / "cheat.py"
    cheat.write_text(PLT + f"img = plt.imread({str(ref)!r})\n"
                     "fig = plt.figure(figsize=(img.shape[1] / 100, img.shape[0] / 100), dpi=100)\nfig.figimage(img)\n")
    out = subprocess.run([*ERM, "judge", str(ref), str(cheat), "--json"], capture_output=True, text=True,
                         timeout=180, check=False)
    verdict = json.loads(out.stdout)
    assert verdict["reward"] <= 0.1 and verdict["render_ok"] is False
    assert "No such file" in verdict["info"]["render_error"]
    honest = subprocess.run([*ERM, "judge", str(ref), str(ref_code), "--json"], capture_output=True, text=True, check=False,
                            timeout=180)
    assert json.loads(honest.stdout)["reward"] >= 0.9  # the critic itself would score a faithful copy high


def test_judge_verdict_never_carries_host_file_contents(tmp_path: Path) -> None:
    ref = tmp_path / "ref.png"
    Image.new("RGB", (64, 64), "white").save(ref)
    cand = tmp_path / "leak.py"
    cand.write_text(PLT + "raise ValueError(open('/etc/passwd').read())\n")
    out = subprocess.run([*ERM, "judge", str(ref), str(cand), "--json"], capture_output=True, text=True,
                         timeout=180, check=False)
    assert "root:x:0" not in out.stdout + out.stderr
    assert json.loads(out.stdout)["render_ok"] is False


# ----------------------------------------------------------------------------- processes and privileges
def test_fork_is_refused() -> None:
    blocked("os.fork()")


def test_exec_is_refused() -> None:
    blocked("os.execv('/usr/bin/true', ['true'])")


def test_subprocess_is_refused() -> None:
    blocked("import subprocess; subprocess.run(['/usr/bin/id'])")


def test_ptrace_is_refused() -> None:
    libc_blocked("libc.ptrace(16, 1, 0, 0)")  # PTRACE_ATTACH to pid 1


def test_unshare_and_setns_are_refused() -> None:
    libc_blocked("libc.unshare(0x10000000)")  # CLONE_NEWUSER
    libc_blocked("libc.unshare(0x00020000)")  # CLONE_NEWNS
    libc_blocked("libc.setns(0, 0)")


def test_setuid_to_root_is_refused() -> None:
    blocked("os.setuid(0)", expect="EINVAL")  # uid 0 does not even exist in the worker's user namespace


def test_io_uring_and_bpf_are_refused() -> None:
    libc_blocked("libc.syscall(425, 8, 0)")  # io_uring_setup
    libc_blocked("libc.syscall(321, 0, 0, 0)")  # bpf


def test_death_signal_cannot_be_cleared() -> None:
    libc_blocked("libc.prctl(1, 0, 0, 0, 0)")  # PR_SET_PDEATHSIG 0


def test_kill_minus_one_reaches_nothing_outside() -> None:
    pool = get_pool(kind="matplotlib")
    assert mpl(OK_CHART).ok
    pid = pool._proc.pid
    result = mpl(PLT + "import os, signal\nfor target in (-1, 0, 1, 2, 3):\n    try:\n"
                 "        os.kill(target, signal.SIGKILL)\n    except OSError:\n        pass\nplt.plot([1])\n")
    # pid 1 of its own namespace, alone in its session: SIGKILL from inside reaches no other process
    assert result.ok, result.error
    assert mpl(OK_CHART).ok
    assert pool._proc is not None and pool._proc.pid == pid  # the zygote was not reached


# ----------------------------------------------------------------------------------- the result channel
def test_no_descriptor_of_the_zygote_protocol_is_open() -> None:
    error = probe("import os\nopen_fds = []\nfor fd in range(3, 1024):\n    try:\n        os.fstat(fd)\n"
                  "    except OSError:\n        continue\n    open_fds.append(fd)\n"
                  "raise RuntimeError('BLOCKED fds ' + repr(open_fds))\n")
    assert "BLOCKED fds []" in error


def test_forged_frames_on_every_descriptor_do_nothing() -> None:
    import struct

    head = json.dumps({"id": 1, "status": "ok", "format": "png"}).encode()
    frame = struct.pack(">I", len(head)) + head + struct.pack(">Q", 4) + b"FAKE"
    result = mpl(PLT + f"import os\nfor fd in range(0, 1024):\n    try:\n        os.write(fd, {frame!r})\n"
                 f"    except OSError:\n        pass\nraise RuntimeError('forged')\n")
    assert not result.ok and "forged" in result.error
    again = mpl(OK_CHART)
    assert again.ok and again.png.startswith(b"\x89PNG")


def test_forged_result_files_are_validated() -> None:
    res = run_untrusted("matplotlib", "import json, os\nopen('/tmp/erm-result.bin', 'wb').write(b'not a png at all')\n"
                        "open('/tmp/erm-result.json', 'w').write(json.dumps({'status': 'ok', 'format': 'png', "
                        "'isolation': ['none'], 'id': 999}))\nos._exit(0)\n", timeout=5)
    assert not res.ok and "not a PNG" in res.error
    assert "seccomp" in res.isolation and "none" not in res.isolation


def test_result_file_as_fifo_or_device_link_does_not_hang() -> None:
    t0 = time.monotonic()
    res = run_untrusted("matplotlib", "import os\nos.mkfifo('/tmp/erm-result.json')\n"
                        "os.symlink('/dev/zero', '/tmp/erm-result.bin')\nos._exit(0)\n", timeout=5)
    assert not res.ok and "without producing an image" in res.error
    assert time.monotonic() - t0 < 60


# ------------------------------------------------------------------------------------- resource limits
def test_sleep_in_python_hits_the_wall_clock() -> None:
    result = mpl(PLT + "import time\ntime.sleep(600)\n", RenderOptions(timeout=2))
    assert not result.ok and "timed out after 2 s" in result.error


def test_sleep_in_c_hits_the_wall_clock() -> None:
    result = mpl(PLT + LIBC + "libc.sleep(600)\n", RenderOptions(timeout=2))
    assert not result.ok and "timed out after 2 s" in result.error


def test_busy_loop_in_python_is_stopped() -> None:
    result = mpl(PLT + "while True:\n    pass\n", RenderOptions(timeout=2))
    assert not result.ok and ("timed out" in result.error or "CPU time limit" in result.error)


def test_busy_loop_in_c_is_stopped() -> None:
    result = mpl(PLT + "import hashlib\nhashlib.pbkdf2_hmac('sha256', b'x', b'y', 2_000_000_000)\n", RenderOptions(timeout=2))
    assert not result.ok and ("timed out" in result.error or "CPU time limit" in result.error)


def test_memory_bomb_hits_the_limit() -> None:
    result = mpl(PLT + "import numpy as np\nhog = np.ones(1 << 34, dtype=np.uint8)\n", RenderOptions(timeout=20, mem_mb=256))
    assert not result.ok and "MemoryError" in result.error


def test_runaway_recursion_fails_alone() -> None:
    result = mpl(PLT + "def f(n):\n    return f(n + 1) + 1\nf(0)\n")
    assert not result.ok and "RecursionError" in result.error
    result = mpl(PLT + "import sys\nsys.setrecursionlimit(10 ** 8)\ndef f(n):\n    return f(n + 1) + 1\nf(0)\n",
                 RenderOptions(timeout=20, mem_mb=256))
    assert not result.ok and any(reason in result.error for reason in ("SIGSEGV", "MemoryError", "SystemError", "timed out",
                                                                       "out of memory"))
    assert mpl(OK_CHART).ok


def test_filling_tmp_stops_at_its_size() -> None:
    result = mpl(PLT + "i = 0\nwhile True:\n    with open(f'/tmp/fill{i}', 'wb') as f:\n"
                 "        f.write(b'x' * (32 << 20))\n    i += 1\n", RenderOptions(timeout=30))
    assert not result.ok and ("No space left" in result.error or "File too large" in result.error)
    assert mpl(OK_CHART).ok


def test_many_files_stop_at_the_inode_limit() -> None:
    result = mpl(PLT + "for i in range(200000):\n    open(f'f{i}', 'w').close()\n", RenderOptions(timeout=60))
    assert not result.ok and "No space left" in result.error


def test_tmp_does_not_leak_between_renders() -> None:
    marker = uuid.uuid4().hex
    assert mpl(PLT + f"open('/tmp/{marker}', 'w').write('x')\nopen('/dev/shm/{marker}', 'w').write('x')\n"
               "plt.plot([1])\n").ok
    error = probe(f"import os\nif os.path.exists('/tmp/{marker}') or os.path.exists('/dev/shm/{marker}'):\n"
                  f"    raise RuntimeError('ESCAPED leaked')\nraise RuntimeError('BLOCKED fresh')\n")
    assert "BLOCKED fresh" in error


# --------------------------------------------------------------------------------- other kinds, same jail
def test_plotly_code_runs_in_the_same_jail() -> None:
    result = render("import plotly.graph_objects as go\nopen('/etc/passwd').read()\nfig = go.Figure()\n",
                    kind="plotly", options=FAST, cache=False)
    assert not result.ok and "No such file" in result.error


def test_oversized_plotly_figure_is_refused_in_the_sandbox() -> None:
    result = render("import plotly.graph_objects as go\nimport numpy as np\nx = np.arange(3_000_000)\n"
                    "fig = go.Figure([go.Scatter(x=x.tolist(), y=x.tolist())])\n",
                    kind="plotly", options=RenderOptions(timeout=60), cache=False)
    assert not result.ok and "larger than 16 MB" in result.error


# ------------------------------------------------------------------------------------------- orphans
def _ptable() -> dict[int, tuple[int, str]]:
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            rest = stat[stat.rindex(")") + 2:].split()
            table[int(name)] = (int(rest[1]), rest[19])  # ppid, start time
    return table


def _descendants(root: int) -> dict[int, str]:
    table, found, frontier = _ptable(), {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, start) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = start
                frontier.append(pid)
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post_slow_judge(port: int, ref: Path, code: str) -> None:
    """Wait for the server, then send one /judge whose candidate sleeps (the reply never comes)."""
    import base64
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            break
        except OSError:
            time.sleep(0.3)
    body = json.dumps({"reference_b64": base64.b64encode(ref.read_bytes()).decode(), "candidate_code": code,
                       "kind": "matplotlib"}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/judge", data=body,
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=120)
    except OSError:
        pass  # the server is killed while it judges


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
@pytest.mark.parametrize("verb", ["render", "judge", "serve"])
def test_no_process_outlives_a_killed_erm(tmp_path: Path, sig: signal.Signals, verb: str) -> None:
    slow_code = PLT + "import time\ntime.sleep(120)\nplt.plot([1])\n"
    slow = tmp_path / "slow.py"
    slow.write_text(slow_code)
    ref = tmp_path / "ref.png"
    Image.new("RGB", (64, 64), "white").save(ref)
    port = _free_port()
    args = {"render": ["render", str(slow), "-o", str(tmp_path / "out.png"), "--timeout", "120"],
            "judge": ["judge", str(ref), str(slow)],
            "serve": ["serve", "--host", "127.0.0.1", "--port", str(port)]}[verb]
    proc = subprocess.Popen([*ERM, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if verb == "serve":
        threading.Thread(target=_post_slow_judge, args=(port, ref, slow_code), daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # bwrap, its init, zygote, supervisor, worker
            if len(_descendants(proc.pid)) >= 5:
                break
            time.sleep(0.2)
        tree = _descendants(proc.pid)
        assert len(tree) >= 5, tree
        os.kill(proc.pid, sig)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 15
        while True:
            table = _ptable()
            alive = [pid for pid, start in tree.items() if pid in table and table[pid][1] == start]
            if not alive or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert alive == [], f"left behind: {alive}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bwrap_missing_is_one_clear_line_and_exit_3(tmp_path: Path) -> None:
    chart = tmp_path / "c.py"
    chart.write_text(OK_CHART)
    env = dict(os.environ, ERM_BWRAP=str(tmp_path / "no-bwrap-here"), ERM_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run([*ERM, "render", str(chart), "-o", str(tmp_path / "c.png")], env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 3, (out.returncode, out.stderr)
    assert "bubblewrap" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "c.png").exists()


def test_same_pixels_as_before_the_attacks() -> None:
    first = mpl(OK_CHART)
    assert first.ok
    assert hashlib.sha256(mpl(OK_CHART).png).hexdigest() == hashlib.sha256(first.png).hexdigest()
