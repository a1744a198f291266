"""The same input gives a byte-identical PNG: twice in one process, in a fresh process, and whatever fonts
the machine has (erm's pinned font set, `erm_cli/renderers/fonts.py`)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from erm_cli.renderers import render

EXAMPLES = ["chart.py", "icon.svg", "table.html", "table.md", "table.tex", "chart_plotly.py"]
BROWSER_KINDS = {"table.html", "table.md", "table.tex", "chart_plotly.py"}


def sha(png: bytes) -> str:
    return hashlib.sha256(png).hexdigest()


@pytest.mark.parametrize("name", EXAMPLES)
def test_twice_in_one_process(examples_dir: Path, name: str, has_chromium: bool) -> None:
    if name in BROWSER_KINDS and not has_chromium:
        pytest.skip("Chromium is not installed")
    code = (examples_dir / name).read_text()
    first = render(code, cache=False)
    second = render(code, cache=False)
    assert first.ok and second.ok, first.error or second.error
    assert first.png == second.png


def test_no_metadata_in_pngs(examples_dir: Path) -> None:
    import io

    from PIL import Image

    for name in ("chart.py", "icon.svg"):
        png = render((examples_dir / name).read_text(), cache=False).png
        info = Image.open(io.BytesIO(png)).info
        assert not {"Software", "Creation Time", "date:create", "Timestamp"} & set(info), info


def test_fresh_process_gives_the_same_bytes(examples_dir: Path, tmp_path: Path, has_chromium: bool) -> None:
    names = ["chart.py", "icon.svg"] + (["table.html"] if has_chromium else [])
    here = {n: sha(render((examples_dir / n).read_text(), cache=False).png) for n in names}
    program = ("import hashlib, json, sys\nfrom pathlib import Path\nfrom erm_cli.renderers import render\n"
               f"names = {names!r}\nbase = Path({str(examples_dir)!r})\n"
               "print(json.dumps({n: hashlib.sha256(render((base / n).read_text(), cache=False).png).hexdigest()"
               " for n in names}))\n")
    env = dict(os.environ, ERM_CACHE_DIR=str(tmp_path / "other-cache"), PYTHONHASHSEED="123")
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    there = json.loads(out.stdout.strip().splitlines()[-1])
    assert there == here


@pytest.mark.parametrize("source", ["sales_bar.py", "fruit_grouped.py", "region_line.py", "badge.svg",
                                    "scores_table.html"])
def test_shipped_example_pngs_are_reproduced(examples_dir: Path, source: str, has_chromium: bool) -> None:
    """examples/refine/*.png are erm renders of their reference code, byte for byte, on any machine (so a
    refine from the matching code can reach 1.0)."""
    if source.endswith(".html") and not has_chromium:
        pytest.skip("Chromium is not installed")
    path = examples_dir / "refine" / source
    kind = {".py": "matplotlib", ".svg": "svg", ".html": "html"}[path.suffix]
    result = render(path.read_text(), kind=kind, cache=False)
    assert result.ok, result.error
    assert result.png == path.with_suffix(".png").read_bytes()


# ------------------------------------------------------------------------------ the pinned font set
PROBE_FAMILY = "ErmProbe Sans"


def _probe_font(dest: Path) -> Path:
    """A font no machine has: DejaVu Serif renamed ``ErmProbe Sans`` (serif shapes, so a render that used
    it would differ from the DejaVu Sans fallback)."""
    from fontTools.ttLib import TTFont

    from erm_cli.renderers.fonts import matplotlib_font_dir

    font = TTFont(str(matplotlib_font_dir() / "DejaVuSerif.ttf"))
    for record in font["name"].names:
        if record.nameID in (1, 4, 16):
            record.string = PROBE_FAMILY
        elif record.nameID == 6:
            record.string = PROBE_FAMILY.replace(" ", "")
        elif record.nameID == 3:
            record.string = f"{PROBE_FAMILY} probe"
    dest.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(dest))
    return dest


def _fc_match(family: str, env: dict[str, str]) -> str:
    out = subprocess.run(["fc-match", "-f", "%{family[0]}|%{file}", family], capture_output=True, text=True,
                         env=env, timeout=60, check=True)
    return out.stdout


def test_versions_record_the_font_set(has_chromium: bool) -> None:
    from erm_cli.renderers.fonts import font_set_id

    kinds = {"chart.py": "matplotlib", "icon.svg": "svg"}
    if has_chromium:
        kinds["table.html"] = "html"
    for name, kind in kinds.items():
        result = render((Path(__file__).resolve().parent.parent / "examples" / name).read_text(), kind=kind)
        assert result.ok, result.error
        assert result.versions["fonts"] == font_set_id() and len(font_set_id()) == 16


def test_font_set_id_changes_with_any_font_file(tmp_path: Path) -> None:
    from erm_cli.renderers import fonts

    files = fonts.font_files()
    assert {name for name, _ in files} >= {"matplotlib/DejaVuSans.ttf", "erm/LiberationSans-Regular.ttf"}
    base = fonts._font_set_id_uncached(files)
    assert base == fonts.font_set_id()
    changed = tmp_path / "DejaVuSans.ttf"
    data = bytearray(files[0][1].read_bytes())
    data[-1] ^= 1
    changed.write_bytes(bytes(data))
    assert fonts._font_set_id_uncached([(files[0][0], changed), *files[1:]]) != base
    assert fonts._font_set_id_uncached(files[:-1]) != base


@pytest.mark.skipif(shutil.which("fc-match") is None, reason="fontconfig's fc-match is not installed")
def test_fontconfig_resolves_every_family_inside_the_set(tmp_path: Path) -> None:
    from erm_cli.renderers import fonts

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), **fonts.fontconfig_env()}
    dirs = tuple(str(d) + os.sep for d in fonts.font_dirs())
    listed = subprocess.run(["fc-list", "--format", "%{file}\n"], capture_output=True, text=True, env=env,
                            timeout=60, check=True).stdout.split()
    assert listed and all(path.startswith(dirs) for path in listed), listed
    expected = {"Arial": "Liberation Sans", "Helvetica": "Liberation Sans",
                "Liberation Sans": "Liberation Sans", "sans-serif": "DejaVu Sans", "Noto Sans": "DejaVu Sans",
                "Open Sans": "DejaVu Sans",
                "serif": "DejaVu Serif", "Times New Roman": "DejaVu Serif", "monospace": "DejaVu Sans Mono",
                "Courier New": "DejaVu Sans Mono"}
    for family, want in expected.items():
        got, path = _fc_match(family, env).split("|")
        assert got == want and path.startswith(dirs), (family, got, path)


def test_sandboxed_matplotlib_knows_only_the_pinned_fonts() -> None:
    """matplotlib in the sandbox reads erm's font list; were it to rescan (an unusable MPLCONFIGDIR, a
    stale list), it would also list the machine's fonts (e.g. /usr/share/fonts)."""
    from erm_cli.renderers.fonts import font_dirs

    code = ("import os\nimport matplotlib.font_manager as fm\n"
            "dirs = sorted({os.path.dirname(f.fname) for f in fm.fontManager.ttflist})\n"
            "raise RuntimeError('DIRS=' + '|'.join(dirs))")
    result = render(code, kind="matplotlib", cache=False)
    assert not result.ok and "DIRS=" in (result.error or ""), result.error
    dirs = set(result.error.split("DIRS=", 1)[1].split(" (line")[0].strip().split("|"))
    assert dirs == {str(d) for d in font_dirs()}


def test_a_render_cannot_change_the_fonts_of_later_renders() -> None:
    """Candidate code cannot write where fonts or matplotlib's font list come from (a file left there
    could change every later render in the same warm sandbox)."""
    from erm_cli.renderers.fonts import font_dirs, fontconfig_dir

    targets = [*map(str, font_dirs()), str(fontconfig_dir()), str(fontconfig_dir() / "cache"), "/tmp/mpl"]
    code = ("import os\nimport matplotlib\nwrote = []\n"
            f"for d in {targets!r} + [matplotlib.get_cachedir()]:\n"
            "    try:\n        open(os.path.join(d, 'erm-probe'), 'w').write('x')\n        wrote.append(d)\n"
            "    except OSError:\n        pass\n"
            "raise RuntimeError('WROTE=' + '|'.join(wrote))")
    result = render(code, kind="matplotlib", cache=False)
    assert not result.ok and "WROTE=" in (result.error or ""), result.error
    assert result.error.split("WROTE=", 1)[1].split(" (line")[0].strip() == ""
    assert not any((Path(d) / "erm-probe").exists() for d in targets)


def test_svg_text_resolves_families_inside_the_pinned_set() -> None:
    """cairosvg in the sandbox matches fonts with erm's fontconfig file: Arial is the bundled Liberation
    Sans (a stock Debian without fonts-liberation gives DejaVu Sans), DejaVu Sans Condensed (installed by
    fonts-dejavu-extra on many machines) is not in the set and falls back like any unknown family."""
    def png(family: str) -> bytes:
        result = render('<svg xmlns="http://www.w3.org/2000/svg" width="240" height="40"><text x="4" y="28" '
                        f'font-size="20" font-family="{family}">Probe text 0123</text></svg>', kind="svg",
                        cache=False)
        assert result.ok, result.error
        return result.png

    arial, unknown = png("Arial"), png("No Such Family")
    assert png("Liberation Sans") == png("Helvetica") == arial != png("DejaVu Sans")
    assert png("DejaVu Sans Condensed") == png("Noto Sans") == unknown != arial
    assert png("Times New Roman") == png("serif") != unknown


def test_a_font_added_to_the_machine_changes_no_render(tmp_path: Path, has_chromium: bool) -> None:
    """A new font where fontconfig and matplotlib look by default (~/.fonts, $XDG_DATA_HOME/fonts, and the
    home of the process that builds matplotlib's font list) is seen by neither Chromium, cairosvg nor
    matplotlib: asking for it renders exactly what asking for a family that does not exist renders."""
    home, xdg, cache = tmp_path / "home", tmp_path / "xdg", tmp_path / "cache"
    for where in (home / ".fonts", xdg / "fonts", cache / "mplconfig" / ".fonts"):
        _probe_font(where / "ErmProbeSans.ttf")
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(xdg), ERM_CACHE_DIR=str(cache))
    env.pop("FONTCONFIG_FILE", None)
    if shutil.which("fc-match"):  # control: the machine's own fontconfig does see the new font
        assert _fc_match(PROBE_FAMILY, env).startswith(PROBE_FAMILY + "|")
    scan = "import matplotlib.font_manager as fm; print(sum('ErmProbe' in p for p in fm.findSystemFonts()))"
    control = subprocess.run([sys.executable, "-c", scan], capture_output=True, text=True, timeout=300,
                             env=dict(env, MPLCONFIGDIR=str(tmp_path / "mpl")), check=True)
    assert int(control.stdout.strip()) >= 1  # control: matplotlib's own scan finds it too

    kinds = ["svg", "matplotlib"] + (["html"] if has_chromium else [])
    program = f"""
import hashlib, json
from erm_cli.renderers import render
def code(kind, family):
    if kind == "html":
        return f"<table><tr><td style=\\"font-family:'{{family}}'\\">Probe text 0123</td></tr></table>"
    if kind == "svg":
        return ('<svg xmlns="http://www.w3.org/2000/svg" width="240" height="40"><text x="4" y="28" '
                f'font-size="20" font-family="{{family}}">Probe text 0123</text></svg>')
    return ("import matplotlib.pyplot as plt\\nfig = plt.figure(figsize=(3, 1))\\n"
            f"fig.text(0.05, 0.4, 'Probe text 0123', fontsize=16, family={{family!r}})\\n")
out = {{}}
for kind in {kinds!r}:
    for family in ({PROBE_FAMILY!r}, "No Such Family"):
        r = render(code(kind, family), kind=kind, cache=False)
        out[kind + ":" + family] = hashlib.sha256(r.png).hexdigest() if r.ok else "failed: " + str(r.error)
print(json.dumps(out))
"""
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env,
                         timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    hashes = json.loads(out.stdout.strip().splitlines()[-1])
    for kind in kinds:
        probe, missing = hashes[f"{kind}:{PROBE_FAMILY}"], hashes[f"{kind}:No Such Family"]
        assert not probe.startswith("failed") and probe == missing, (kind, hashes)
    fontlist = json.loads(next((cache / "mplconfig").glob("fontlist-v*.json")).read_text())
    assert fontlist["ttflist"] and not any("ErmProbe" in entry["fname"] for entry in fontlist["ttflist"])


def _render_svg_ok(svg: str) -> bool:
    return render(svg, kind="svg").ok


def test_a_worker_forked_after_the_cache_folder_changed_still_renders(tmp_path: Path, monkeypatch) -> None:
    """verl's prime manager forks reward workers; a process that moved ERM_CACHE_DIR after its first render
    must hand them a fonts.conf that exists under the folder the jail binds (it bound a missing one)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect width="40" height="30" fill="#{}"/></svg>'
    assert render(svg.format("123456"), kind="svg").ok  # fonts.conf made under the current cache folder
    monkeypatch.setenv("ERM_CACHE_DIR", str(tmp_path / "moved-cache"))
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        assert pool.submit(_render_svg_ok, svg.format("654321")).result(timeout=120)
