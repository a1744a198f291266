"""Sandbox probes: hostile or broken chart code fails alone, with a clear reason, and leaves no trace.

All renders go through the real warm pool (forked, namespaced, seccomp'd workers) with the cache off.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from erm_cli.renderers import RenderOptions, render
from erm_cli.renderers.sandbox import run_untrusted

PLT = "import matplotlib.pyplot as plt\n"
BASELINE = PLT + "fig, ax = plt.subplots(figsize=(3, 2))\nax.bar(['a', 'b'], [1, 2])\nax.set_title('baseline')\n"
FAST = RenderOptions(timeout=3.0, mem_mb=512)


def mpl(code: str, options: RenderOptions = FAST):
    return render(code, kind="matplotlib", options=options, cache=False)


@pytest.fixture(scope="module")
def baseline_sha() -> str:
    result = mpl(BASELINE)
    assert result.ok, result.error
    return hashlib.sha256(result.png).hexdigest()


def test_normal_chart_reports_its_isolation() -> None:
    res = run_untrusted("matplotlib", BASELINE, timeout=10)
    assert res.ok and res.payload.startswith(b"\x89PNG")
    # one isolation for every render: the jail, then per-render namespaces, uid 65534, seccomp, limits
    assert {"bwrap", "userns", "pidns", "mountns", "private-tmp", "proc-hidden", "userns-uid-65534",
            "no-capabilities", "rlimits", "seccomp", "closed-fds"} <= set(res.isolation)


def test_infinite_loop_is_killed() -> None:
    t0 = time.perf_counter()
    result = mpl(PLT + "while True:\n    pass\n", RenderOptions(timeout=2.0))
    assert not result.ok
    assert "timed out" in result.error or "CPU time" in result.error
    assert time.perf_counter() - t0 < 15


def test_sleep_is_killed_by_the_wall_clock() -> None:
    result = mpl(PLT + "import time\ntime.sleep(120)\n", RenderOptions(timeout=1.5))
    assert not result.ok and "timed out after 1.5 s" in result.error


def test_memory_bomb() -> None:
    result = mpl(PLT + "blob = bytearray(16 << 30)\nplt.plot([1])\n")
    assert not result.ok and "MemoryError" in result.error
    result = mpl(PLT + "chunks = []\nwhile True:\n    chunks.append(bytearray(50 << 20))\n",
                 RenderOptions(timeout=20, mem_mb=256))
    assert not result.ok and ("MemoryError" in result.error or "killed" in result.error)


def test_fork_bomb_and_subprocesses_are_refused() -> None:
    result = mpl(PLT + "import os\nwhile True:\n    os.fork()\n")
    assert not result.ok
    assert "PermissionError" in result.error or "timed out" in result.error or "BlockingIOError" in result.error
    result = mpl(PLT + "import subprocess\nsubprocess.run(['/bin/true'])\nplt.plot([1])\n")
    assert not result.ok


def test_no_network() -> None:
    result = mpl(PLT + "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:9/', timeout=2)\n"
                 "plt.plot([1])\n")
    assert not result.ok
    assert "network" in result.error.lower() or "Errno" in result.error
    # below Python's socket module: the raw C socket
    result = mpl(PLT + "import _socket\ns = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)\n"
                 "s.connect(('127.0.0.1', 9))\nplt.plot([1])\n")
    assert not result.ok


def test_huge_output_file() -> None:
    result = mpl(PLT + "with open('big.bin', 'wb') as f:\n    while True:\n        f.write(b'x' * (1 << 20))\n")
    assert not result.ok
    assert "File too large" in result.error or "file size limit" in result.error or "No space" in result.error


def test_writes_outside_the_working_directory_are_refused(tmp_path: Path) -> None:
    target = Path(__file__).resolve().parent / "erm-sandbox-escape.txt"
    result = mpl(PLT + f"open({str(target)!r}, 'w').write('escaped')\nplt.plot([1])\n")
    assert not result.ok and not target.exists()


def test_each_render_gets_a_fresh_tmp(baseline_sha: str) -> None:
    first = mpl(PLT + "open('/tmp/erm-marker', 'w').write('x')\nopen('leftover.txt', 'w').write('x')\nplt.plot([1])\n")
    assert first.ok, first.error
    second = mpl(PLT + "import os\nassert not os.path.exists('/tmp/erm-marker'), 'tmp leaked'\n"
                 "assert not os.path.exists('leftover.txt'), 'workdir leaked'\nplt.plot([1])\n")
    assert second.ok, second.error


def test_hostile_render_cannot_affect_the_next(baseline_sha: str) -> None:
    hostile = (PLT + "import matplotlib, numpy as np\nmatplotlib.rcParams['figure.facecolor'] = 'red'\n"
               "plt.bar = None\nnp.random.seed(123)\nimport os, signal\n"
               "try:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\n"
               "import ctypes\nctypes.string_at(0)\n")
    result = mpl(hostile)
    assert not result.ok and "SIGSEGV" in result.error
    again = mpl(BASELINE)
    assert again.ok and hashlib.sha256(again.png).hexdigest() == baseline_sha


def test_code_that_makes_no_figure() -> None:
    result = mpl("x = sum(range(10))\n")
    assert not result.ok and "no matplotlib figure" in result.error


def test_code_that_makes_fifty_figures() -> None:
    code = PLT + "for i in range(50):\n    plt.figure(figsize=(2, 2))\n    plt.plot([0, i])\n"
    result = mpl(code, RenderOptions(timeout=30))
    assert result.ok, result.error
    assert result.image().size == (200, 200)  # the last (current) figure


def test_non_utf8_bytes() -> None:
    code = b"import matplotlib.pyplot as plt\n# caf\xe9 \xff\xfe\nplt.plot([1, 2])\n"
    result = render(code, kind="matplotlib", cache=False)
    assert result.ok, result.error  # undecodable bytes in a comment do not matter
    broken = render(b"import matplotlib.pyplot as plt\nplt.title('\xff\n", kind="matplotlib", cache=False)
    assert not broken.ok and "SyntaxError" in broken.error


def test_empty_file(tmp_path: Path) -> None:
    result = render("", kind="matplotlib", cache=False)
    assert not result.ok and result.error == "empty code"
    result = render("   \n\n", cache=False)
    assert not result.ok


def test_exceptions_name_the_line() -> None:
    result = mpl(PLT + "x = [1, 2]\n\nplt.plot(x, [1])\n")
    assert not result.ok and result.error.startswith("ValueError") and "(line 4)" in result.error


def test_sys_exit_zero_still_renders() -> None:
    result = mpl(PLT + "plt.plot([1, 2])\nimport sys\nsys.exit(0)\n")
    assert result.ok, result.error
    result = mpl(PLT + "plt.plot([1, 2])\nimport sys\nsys.exit(2)\n")
    assert not result.ok and "sys.exit(2)" in result.error


def test_concurrent_renders_stay_separate() -> None:
    from erm_cli.renderers import render_many

    codes = [PLT + f"fig, ax = plt.subplots(figsize=(2, 2))\nax.plot([0, {i}])\nax.set_title('{i}')\n"
             for i in range(6)]
    codes.insert(3, PLT + "import time\ntime.sleep(60)\n")
    results = render_many(codes, RenderOptions(timeout=3), workers=4, cache=False)
    assert [r.ok for r in results] == [True, True, True, False, True, True, True]
    hashes = {hashlib.sha256(r.png).hexdigest() for r in results if r.ok}
    assert len(hashes) == 6


@pytest.fixture(scope="module")
def strict_available() -> None:
    from erm_cli.renderers.sandbox import bwrap_path

    if bwrap_path() is None:
        pytest.skip("bubblewrap is not installed")


def test_strict_is_the_default_and_hides_the_file_system(strict_available: None, baseline_sha: str) -> None:
    strict = RenderOptions(timeout=10, strict=True)
    ok = render(BASELINE, kind="matplotlib", options=strict, cache=False)
    assert ok.ok, ok.error
    assert hashlib.sha256(ok.png).hexdigest() == baseline_sha  # --strict is accepted and changes nothing
    project_file = Path(__file__).resolve()
    for options in (strict, RenderOptions(timeout=10)):
        for path in ("/etc/passwd", str(project_file), "/root/.bashrc", "/home"):
            probe = PLT + f"import os\nopen({path!r}).read() if not os.path.isdir({path!r}) else " \
                          f"os.listdir({path!r})\nplt.plot([1])\n"
            result = render(probe, kind="matplotlib", options=options, cache=False)
            assert not result.ok, f"the sandbox could read {path}"
            assert "FileNotFoundError" in result.error or "PermissionError" in result.error


def test_warm_pool_survives_the_threads_that_used_it() -> None:
    # PR_SET_PDEATHSIG follows the spawning *thread*: the zygote must not die with render_many's pool threads
    from erm_cli.renderers import render_many
    from erm_cli.renderers.sandbox import get_pool

    render_many([BASELINE + f"# {i}\n" for i in range(3)], workers=3, cache=False)
    pid = get_pool()._proc.pid
    render_many([BASELINE + f"# again {i}\n" for i in range(3)], workers=3, cache=False)
    assert mpl(BASELINE).ok
    assert get_pool()._proc is not None and get_pool()._proc.pid == pid


def test_a_warmed_spare_starts_the_code_from_a_clean_pyplot(baseline_sha: str) -> None:
    """Spare workers draw a fixed throw-away chart before they take a job (copy-on-write warm-up): the code
    still finds no figure open, figure numbers from 1, erm's rc defaults, and renders byte for byte."""
    probe = PLT + (
        "import matplotlib\n"
        "assert plt.get_fignums() == [], plt.get_fignums()\n"
        "assert matplotlib.rcParams['font.sans-serif'][0] == 'DejaVu Sans'\n"
        "assert tuple(matplotlib.rcParams['figure.figsize']) == (8.0, 6.0)\n"
        "fig = plt.figure()\n"
        "assert fig.number == 1, fig.number\n"
        "plt.close(fig)\n"
    ) + BASELINE[len(PLT):]
    for gap in (0.0, 0.0, 0.6, 0.6):  # back to back (maybe cold spares) and after a pause (warmed spares)
        time.sleep(gap)
        result = mpl(probe)
        assert result.ok, result.error
        assert hashlib.sha256(result.png).hexdigest() == baseline_sha
