"""`erm render` end to end (in-process through app.main, so exit codes and stdout are the real ones)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from erm_cli.app import main


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_render_into_the_current_folder_with_the_kind_in_the_name(examples_dir: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    src, work = tmp_path / "src", tmp_path / "work"
    src.mkdir()
    work.mkdir()
    for name in ("chart.py", "table.md", "table.html"):
        shutil.copy(examples_dir / name, src / name)
    monkeypatch.chdir(work)
    for name in ("chart.py", "table.md", "table.html"):
        assert run(["render", str(src / name)]) == 0
    assert sorted(p.name for p in work.iterdir()) == ["chart.matplotlib.png", "table.html.png", "table.markdown.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in work.iterdir())
    assert sorted(p.name for p in src.iterdir()) == ["chart.py", "table.html", "table.md"]  # nothing beside the code
    out = capsys.readouterr().out
    assert "-> table.markdown.png" in out and "-> table.html.png" in out
    # the same render again comes from the cache, and a line says so
    assert run(["render", str(src / "chart.py")]) == 0
    assert "from the render cache" in capsys.readouterr().out


def test_json_output(examples_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "icon.png"
    assert run(["render", str(examples_dir / "icon.svg"), "-o", str(out), "--json", "--width", "48"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["ok"] and info["kind"] == "svg" and info["output"] == str(out)
    assert (info["width"], info["height"]) == (48, 48) and out.exists()


def test_png_to_stdout(examples_dir: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert run(["render", str(examples_dir / "icon.svg"), "-o", "-"]) == 0
    assert capsysbinary.readouterr().out.startswith(b"\x89PNG")


def test_kind_option_and_model_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # the default output goes to the current folder
    answer = tmp_path / "answer.txt"
    answer.write_text("Sure:\n```svg\n<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'>"
                      "<rect width='5' height='5'/></svg>\n```\n")
    assert run(["render", str(answer), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "svg"
    table = tmp_path / "table.txt"
    table.write_text("| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert run(["render", str(table), "--kind", "markdown", "-o", str(tmp_path / "t.png")]) == 0


def test_render_failure_exits_3_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import matplotlib.pyplot as plt\nplt.plot([1, 2], [1])\n")
    assert run(["render", str(bad), "--json"]) == 3
    captured = capsys.readouterr()
    assert json.loads(captured.out)["ok"] is False
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("erm: error: render failed (matplotlib): ValueError")
    assert not (tmp_path / "bad.png").exists()


@pytest.mark.parametrize("argv,message", [
    (["render", "/nonexistent/chart.py"], "no such file"),
    (["render", "--kind", "cobol", "x.py"], "unknown --kind"),
    (["render"], "missing CODE"),
    (["render", "--batch", "items.jsonl"], "--out"),
])
def test_usage_errors_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == 2
    assert message in capsys.readouterr().err


def test_empty_file_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.py"
    empty.write_text("")
    assert run(["render", str(empty)]) == 2
    assert "empty" in capsys.readouterr().err
