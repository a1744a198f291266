"""The jail started by an unprivileged user (bubblewrap ``--unshare-user``, no setuid, no root anywhere).

When the tests run as root, everything below runs as uid/gid 65534 through ``setpriv``, with an
interpreter that user can execute (a throw-away venv over a same-version Python, whose ``.pth`` lists
this environment's site-packages and the checkout): the path a normal user of erm takes. It renders a
matplotlib chart and an SVG icon, then checks that the escapes measured in issue 13 still fail there:
a ``/proc/sys`` write (the host value is re-read), a host UNIX socket (filesystem and abstract; the host
listener accepts nothing), and reading the reference image (directly, and through ``erm judge``).
Each control shows the attack would have worked outside the jail (same uid, same files).
"""

from __future__ import annotations

import json
import os
import shutil
import site
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from erm_cli.renderers.sandbox import bwrap_path

REPO = Path(__file__).resolve().parents[1]
NOBODY = 65534
KNOB = Path("/proc/sys/kernel/printk_ratelimit_burst")

pytestmark = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed")


def _userns_forbidden() -> str | None:
    """Why the kernel refuses user namespaces to unprivileged users, or None when it allows them."""
    for knob, bad in (("/proc/sys/kernel/unprivileged_userns_clone", "0"), ("/proc/sys/user/max_user_namespaces", "0"),
                      ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1")):
        try:
            if Path(knob).read_text().strip() == bad:
                return f"the kernel forbids unprivileged user namespaces ({knob} = {bad})"
        except OSError:
            continue
    return None


class Unprivileged:
    """How to run a command as the unprivileged user, and the folders it uses."""

    def __init__(self, root: Path, prefix: list[str], python: str, home: Path) -> None:
        self.root, self.prefix, self.python, self.home = root, prefix, python, home

    def run(self, args: list[str], timeout: float = 240, **kwargs) -> subprocess.CompletedProcess:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.home), "ERM_CACHE_DIR": str(self.home / "cache"),
               "LC_ALL": "C.UTF-8"}
        return subprocess.run([*self.prefix, *args], env=env, cwd=self.root, capture_output=True, text=True,
                              timeout=timeout, check=False, **kwargs)


def _make_venv(root: Path, prefix: list[str]) -> str:
    """A venv the unprivileged user can execute, seeing this environment's packages and the checkout."""
    want = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [os.path.realpath(getattr(sys, "_base_executable", sys.executable)), f"/usr/bin/{want}",
                  f"/usr/local/bin/{want}"]
    base = None
    for cand in candidates:
        # access(2) as that user: every directory on the way must be searchable (not only the binary)
        if os.path.exists(cand) and subprocess.run([*prefix, "/usr/bin/test", "-x", cand], capture_output=True,
                                                   timeout=60, check=False).returncode == 0:
            base = cand
            break
    if base is None:
        pytest.skip(f"no {want} interpreter that uid {NOBODY} can execute (tried {', '.join(candidates)})")
    paths = [p for p in site.getsitepackages() if os.path.isdir(p)] + [str(REPO)]
    for path in paths:  # a checkout or venv inside a private folder (mode 0700) is a layout matter
        if subprocess.run([*prefix, "/usr/bin/test", "-r", path, "-a", "-x", path], capture_output=True,
                          timeout=60, check=False).returncode != 0:
            pytest.skip(f"uid {NOBODY} cannot read {path} (a parent folder is private): cannot give it erm")
    venv = root / "venv"
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True, timeout=120)
    site_dir = next((venv / "lib").glob("python*/site-packages"))
    (site_dir / "erm_unprivileged.pth").write_text("\n".join(paths) + "\n")
    return str(venv / "bin" / "python")


@pytest.fixture(scope="module")
def unprivileged() -> Iterator[Unprivileged]:
    reason = _userns_forbidden()
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="erm-nonroot-"))
    try:
        root.chmod(0o755)
        home = root / "home"
        home.mkdir()
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("running as root and setpriv (util-linux) is missing: cannot become uid 65534")
            os.chown(home, NOBODY, NOBODY)
            prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
            python = _make_venv(root, prefix)
        else:
            prefix, python = [], sys.executable
        user = Unprivileged(root, prefix, python, home)
        check = "import os, erm_cli.renderers, pyseccomp, matplotlib, cairosvg; print(os.geteuid())"
        probe = user.run([python, "-c", check], timeout=120)
        assert probe.returncode == 0, probe.stderr[-2000:]
        assert int(probe.stdout.strip()) != 0
        yield user
    finally:
        shutil.rmtree(root, ignore_errors=True)


DRIVER = r'''
import json, os, socket, sys
from erm_cli.renderers import RenderOptions, render
from erm_cli.renderers.sandbox import get_pool, shutdown

cfg = json.loads(sys.argv[1])
out = {"euid": os.geteuid()}
opts = RenderOptions(timeout=20, mem_mb=512)
chart = render("import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(3, 2))\n"
               "ax.bar(['a', 'b'], [1, 2])\nax.set_title('unprivileged')\n", kind="matplotlib", options=opts, cache=False)
icon = render('<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><circle cx="16" cy="16" r="9" '
              'fill="#c33"/></svg>', kind="svg", options=opts, cache=False)
out["chart"] = [chart.ok, chart.error, len(chart.png or b"")]
out["icon"] = [icon.ok, icon.error, len(icon.png or b"")]
out["isolation"] = get_pool(kind="matplotlib").isolation

# every process of the jail (bwrap, zygote, spare supervisors and workers) and its host uids
tree, frontier = {}, [os.getpid()]
table = {}
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            status = open(f"/proc/{pid}/status").read()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        table[int(pid)] = (int(fields["PPid"]), fields["Uid"].split(), fields["Name"].strip())
while frontier:
    parent = frontier.pop()
    for pid, (ppid, uids, name) in table.items():
        if ppid == parent and pid not in tree:
            tree[pid] = [name, uids]
            frontier.append(pid)
out["jail_processes"] = tree

def attack(body):
    code = "import os, errno\n" + body + "\nraise RuntimeError('BLOCKED end')\n"
    res = render(code, kind="matplotlib", options=opts, cache=False)
    return res.error if not res.ok else "ESCAPED rendered"

knob = cfg["knob"]
out["proc_sys"] = attack(
    f"for path in ({knob!r}, '/proc/self/root' + {knob!r}, '/proc/1/root' + {knob!r}):\n"
    f"    try:\n        open(path, 'w').write({cfg['knob_value']!r})\n    except OSError:\n        continue\n"
    f"    raise RuntimeError('ESCAPED wrote ' + path)\n")
for name, address in (("unix_path", cfg["sock_path"]), ("unix_abstract", cfg["sock_abstract"])):
    # control: this very uid, outside the jail, reaches the listener
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ctl.connect(address)
    ctl.close()
    out[name] = attack(
        f"import _socket\ntry:\n    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)\n"
        f"    s.connect({address!r})\nexcept OSError as exc:\n    raise RuntimeError('BLOCKED %s' % exc)\n"
        f"raise RuntimeError('ESCAPED connected')\n")
ref = cfg["reference"]
out["reference_control"] = len(open(ref, "rb").read())
out["reference"] = attack(
    f"try:\n    data = open({ref!r}, 'rb').read()\nexcept OSError as exc:\n"
    f"    raise RuntimeError('BLOCKED %s' % exc.__class__.__name__)\n"
    f"raise RuntimeError('ESCAPED read %d bytes' % len(data))\n")
shutdown()
print(json.dumps(out))
'''


def _listener(address: str) -> socket.socket:
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(address)
    srv.listen(8)
    srv.setblocking(False)
    return srv


def _accepted(srv: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = srv.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def test_unprivileged_jail_renders_and_the_escapes_still_fail(unprivileged: Unprivileged) -> None:
    work = unprivileged.root / "work"
    work.mkdir(mode=0o755)
    reference = work / "reference.png"
    Image.new("RGB", (40, 30), (12, 34, 56)).save(reference)
    reference.chmod(0o644)
    sock_path = str(work / "host.sock")
    fs_listener = _listener(sock_path)
    os.chmod(sock_path, 0o777)  # reachable by any uid on the host: only the jail may stop the connection
    abstract = f"\0erm-nonroot-{uuid.uuid4().hex}"
    abstract_listener = _listener(abstract)
    knob_before = KNOB.read_text() if KNOB.exists() else None
    driver = work / "driver.py"
    driver.write_text(DRIVER)
    cfg = {"knob": str(KNOB), "knob_value": str(int(knob_before or "10") + 7), "sock_path": sock_path,
           "sock_abstract": abstract, "reference": str(reference)}
    try:
        done = unprivileged.run([unprivileged.python, str(driver), json.dumps(cfg)])
        assert done.returncode == 0, done.stderr[-3000:]
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert out["euid"] != 0
        assert out["chart"][0] and out["chart"][2] > 1000, out["chart"]
        assert out["icon"][0] and out["icon"][2] > 100, out["icon"]
        assert "userns" in out["isolation"] and "dropped-root" not in out["isolation"], out["isolation"]
        assert out["jail_processes"], "no jail process found"
        for pid, (name, uids) in out["jail_processes"].items():
            assert "0" not in uids, f"{name} ({pid}) of the unprivileged jail has a host uid 0: {uids}"
        assert "BLOCKED" in out["proc_sys"] and "ESCAPED" not in out["proc_sys"], out["proc_sys"]
        if knob_before is not None:
            assert KNOB.read_text() == knob_before
        for name, listener in (("unix_path", fs_listener), ("unix_abstract", abstract_listener)):
            assert "BLOCKED" in out[name] and "ESCAPED" not in out[name], out[name]
            assert _accepted(listener) == 1, f"{name}: the host listener saw more than the control connection"
        assert out["reference_control"] == reference.stat().st_size  # the same uid reads it outside the jail
        assert "BLOCKED FileNotFoundError" in out["reference"], out["reference"]
    finally:
        fs_listener.close()
        abstract_listener.close()
        if knob_before is not None and KNOB.read_text() != knob_before and os.access(KNOB, os.W_OK):
            KNOB.write_text(knob_before)


def test_unprivileged_judge_cannot_score_the_reference_it_reads(unprivileged: Unprivileged) -> None:
    work = unprivileged.root / "judge"
    work.mkdir(mode=0o755)
    chart = ("import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(6, 4))\n"
             "ax.bar(['N', 'S', 'E', 'W'], [23, 17, 35, 29])\nax.set_title('Sales by region')\n")
    honest = work / "honest.py"
    honest.write_text(chart)
    reference = work / "reference.png"
    erm = [unprivileged.python, "-m", "erm_cli.app"]
    made = unprivileged.run([*erm, "render", str(honest), "-o", str(unprivileged.home / "out.png")])
    assert made.returncode == 0, made.stderr[-2000:]
    shutil.copyfile(unprivileged.home / "out.png", reference)
    reference.chmod(0o644)
    cheat = work / "cheat.py"
    cheat.write_text(f"import matplotlib.pyplot as plt\nimg = plt.imread({str(reference)!r})\n"
                     "fig = plt.figure(figsize=(img.shape[1] / 100, img.shape[0] / 100), dpi=100)\nfig.figimage(img)\n")
    for path in (honest, cheat):
        path.chmod(0o644)
    out = unprivileged.run([*erm, "judge", str(reference), str(cheat), "--json"])
    verdict = json.loads(out.stdout)
    assert verdict["render_ok"] is False and verdict["reward"] <= 0.1, verdict
    assert "No such file" in verdict["info"]["render_error"]
    fair = unprivileged.run([*erm, "judge", str(reference), str(honest), "--json"])
    assert json.loads(fair.stdout)["reward"] >= 0.9, fair.stdout[-2000:]
