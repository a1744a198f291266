"""One flag vocabulary across verbs (issue 15): every command's click parameters are walked and checked against
`erm_cli/commands/options.py` (same spelling -> same meaning, no short flag with two meanings, the shared words
spelled the same everywhere), and every deprecated spelling still works through the real CLI with one warning
line on stderr and stays out of --help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer._click.core import Context
from typer.core import TyperGroup as Group
from typer.core import TyperOption as Option
from typer.main import get_command

from erm_cli.app import app
from erm_cli.commands import options

REPO = Path(__file__).resolve().parent.parent
REFINE = REPO / "examples" / "refine"


def commands() -> dict[str, Any]:
    """Command path ("bench judge") -> click command, for every leaf command of erm."""
    found: dict[str, Any] = {}

    def walk(group: Any, prefix: str) -> None:
        for name, cmd in group.commands.items():
            path = f"{prefix} {name}".strip()
            if isinstance(cmd, Group):
                walk(cmd, path)
            else:
                found[path] = cmd

    walk(get_command(app), "")
    return found


def spellings(param: Option) -> set[str]:
    return set(param.opts) | set(param.secondary_opts)


def visible_options(cmd: Any) -> list[Option]:
    return [p for p in cmd.params if isinstance(p, Option) and not p.hidden and "--help" not in p.opts]


def test_every_verb_is_walked() -> None:
    paths = set(commands())
    assert {"render", "judge", "refine", "synth", "serve", "bench judge", "bench policy", "bench speed",
            "train reward", "train policy", "train export-verl", "train critic", "cache clear"} <= paths


def test_the_vocabulary_is_spelled_the_same_in_every_verb() -> None:
    """A parameter that uses any spelling of a vocabulary word uses all of them and nothing else, and takes a
    value exactly when the word does."""
    seen: dict[str, list[str]] = {}
    for path, cmd in commands().items():
        for param in visible_options(cmd):
            names = spellings(param)
            for word, term in options.VOCABULARY.items():
                if names & set(term.flags):
                    assert names == set(term.flags), f"erm {path}: {sorted(names)} is not {term.flags} ({word})"
                    assert param.is_flag == (not term.takes_value), f"erm {path} {sorted(names)}"
                    seen.setdefault(word, []).append(path)
    # the words every batch verb shares are there
    for word in ("out", "out_dir", "workers", "timeout", "limit", "judge", "model", "kind", "resume", "quiet",
                 "verbose", "json", "batch", "retry_failed"):
        assert seen.get(word), f"no command uses --{word}"
    assert {"render", "judge", "refine"} <= set(seen["batch"])
    assert {"render", "judge", "synth", "bench judge", "bench policy", "train critic"} <= set(seen["workers"])
    assert {"render", "judge", "serve", "bench judge", "bench policy"} <= set(seen["timeout"])
    assert {"judge", "bench judge", "train export-verl"} <= set(seen["limit"])
    assert {"refine", "synth", "bench judge", "bench policy", "judge", "render", "train reward", "train policy",
            "train export-verl", "train critic"} <= set(seen["out_dir"])
    assert {"render", "bench speed"} <= set(seen["out"])


def test_allowed_root_repeats_in_every_verb() -> None:
    """--allowed-root (options.allowed_root) is repeatable wherever it appears, serve included."""
    users = []
    for path, cmd in commands().items():
        for param in visible_options(cmd):
            if "--allowed-root" in param.opts:
                assert param.multiple, f"erm {path} --allowed-root takes one folder"
                assert param.metavar == "DIR", path
                users.append(path)
    assert {"serve", "render", "judge", "refine", "bench judge"} <= set(users)


def test_same_spelling_same_meaning_and_one_meaning_per_short_flag() -> None:
    long_of_short: dict[str, set[str]] = {}
    kind_of_long: dict[str, set[tuple[bool, bool]]] = {}  # (switch?, counter?)
    for cmd in commands().values():
        for param in visible_options(cmd):
            longs = sorted(o for o in param.opts if o.startswith("--"))
            for short in (o for o in param.opts if not o.startswith("--")):
                long_of_short.setdefault(short, set()).add(longs[0] if longs else short)
            for name in longs:
                kind_of_long.setdefault(name, set()).add((param.is_flag, param.count))
    doubled = {s: longs for s, longs in long_of_short.items() if len(longs) > 1}
    assert not doubled, f"short flags with two meanings: {doubled}"
    assert long_of_short["-k"] == {"--kind"} and long_of_short["-o"] == {"--out"}
    mixed = {name: kinds for name, kinds in kind_of_long.items() if len(kinds) > 1}
    assert not mixed, f"long flags that are a switch in one verb and take a value in another: {mixed}"


def test_output_file_and_output_folder_are_never_mixed() -> None:
    """-o/--out is a file and --out-dir a folder: where the option is a Path, typer's check says so."""
    checked = 0
    for path, cmd in commands().items():
        for param in visible_options(cmd):
            info = param.type_descriptor.parameter_info
            if param.type_descriptor.annotation is not Path:
                continue
            if "--out" in param.opts:
                assert not info.dir_okay, f"erm {path} --out accepts a folder"
                checked += 1
            if "--out-dir" in param.opts:
                assert not info.file_okay, f"erm {path} --out-dir accepts a file"
                checked += 1
    assert checked >= 6


def test_deprecated_spellings_are_hidden_and_point_at_a_declared_option() -> None:
    cmds = commands()
    for path, table in options.DEPRECATED.items():
        cmd = cmds[path]
        declared = set().union(*(spellings(p) for p in visible_options(cmd)))
        help_text = cmd.get_help(Context(cmd, info_name=path))
        for old, new in table.items():
            assert old not in declared, f"erm {path}: {old} is still declared"
            assert new in declared, f"erm {path}: {new} is not an option"
            assert f" {old} " not in help_text and f" {old}," not in help_text, f"erm {path} --help shows {old}"
    refine_hidden = [p for p in cmds["refine"].params if options.REFINE_LEGACY_BATCH in getattr(p, "opts", [])]
    assert refine_hidden and refine_hidden[0].hidden


@pytest.mark.parametrize("path,args", [(path, [old, "X"]) for path, table in options.DEPRECATED.items()
                                       for old in table])
def test_each_deprecated_spelling_parses_to_the_new_option_with_one_warning(path: str, args: list[str],
                                                                            capfd: pytest.CaptureFixture[str]) -> None:
    """Through the real groups: the command sees the new spelling, which it declares."""
    root = get_command(app)
    ctx = Context(root, info_name="erm")
    group, parts = root, path.split()
    for part in parts[:-1]:
        _, group, _ = root.resolve_command(ctx, [part])
        ctx = Context(group, info_name=part, parent=ctx)
    name, cmd, rest = group.resolve_command(ctx, [parts[-1], *args])
    err = capfd.readouterr().err
    old = args[0]
    new = options.DEPRECATED[path][old]
    assert err.count("erm: deprecated:") == 1 and old in err and new in err
    assert name == parts[-1] and rest == [new, "X"]
    assert any(new in spellings(p) for p in cmd.params)


def test_attached_values_and_equals_forms_are_rewritten(capfd: pytest.CaptureFixture[str]) -> None:
    assert options.rewrite_deprecated("synth", ["-k3", "--out=d", "--", "-k"]) == \
        ["--max-errors=3", "--out-dir=d", "--", "-k"]
    err = capfd.readouterr().err
    assert err.count("erm: deprecated:") == 2
    assert options.rewrite_deprecated("render", ["-k", "svg", "-o", "x.png"]) == ["-k", "svg", "-o", "x.png"]
    assert options.rewrite_deprecated("refine", ["img.png", "--batch"]) == ["img.png", options.REFINE_LEGACY_BATCH]
    assert options.rewrite_deprecated("refine", ["--batch", "dir", "-q"]) == ["--batch", "dir", "-q"]
    capfd.readouterr()


# --- the old spellings through the real CLI: they still work and say what replaces them ---------------------


def erm(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([sys.executable, "-m", "erm_cli.app", *args], capture_output=True, cwd=cwd or REPO,
                       check=False, timeout=300, env={**os.environ, "COLUMNS": "200"})
    return subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode(), p.stderr.decode())


def deprecations(p: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in p.stderr.splitlines() if line.startswith("erm: deprecated: ")]


def test_old_render_spellings_still_work(tmp_path: Path) -> None:
    png = tmp_path / "icon.png"
    p = erm("render", str(REPO / "examples" / "icon.svg"), "--output", str(png), "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["output"] == str(png) and png.is_file()
    assert deprecations(p) == ["erm: deprecated: --output in 'erm render' is now --out (the old spelling goes in "
                               "the next release)"]
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": "icon", "path": str(REPO / "examples" / "icon.svg")}) + "\n")
    p = erm("render", "--batch", str(items), "--out", str(tmp_path / "o"), "--json", "--allowed-root",
            str(REPO / "examples"))
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "o" / "icon.png").is_file() and len(deprecations(p)) == 1 and "--out-dir" in p.stderr
    p = erm("render", "--batch", str(items), "--out-dir", str(tmp_path / "o2"), "--allowed-root",
            str(REPO / "examples"), "-q")
    assert p.returncode == 0 and not deprecations(p)


def test_old_refine_and_judge_spellings_still_work(tmp_path: Path) -> None:
    """refine -o/-k/-p and `IMAGE --batch`; judge --batch --out DIR."""
    p = erm("refine", str(REFINE / "sales_bar.png"), "--init", str(REFINE / "sales_bar.py"), "--rounds", "0",
            "-k", "1", "-p", "search", "-o", str(tmp_path / "r"), "--no-report", "--json", "-q")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["outputs"]["code"].startswith(str(tmp_path / "r"))
    assert sorted(line.split()[2] for line in deprecations(p)) == ["-k", "-o", "-p"]
    items = tmp_path / "imgs"
    items.mkdir()
    (items / "sales.png").write_bytes((REFINE / "sales_bar.png").read_bytes())
    p = erm("refine", str(items), "--batch", "--rounds", "0", "--out-dir", str(tmp_path / "b"), "--json",
            "--no-report", "-q")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["ok"] == 1 and "IMAGE --batch" in deprecations(p)[0]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"id": "a", "category": "chart", "gt_img_path": str(REFINE / "sales_bar.png"),
                                 "pred_img_path": str(REFINE / "sales_bar.png")}) + "\n")
    p = erm("judge", "--batch", str(pairs), "--out", str(tmp_path / "j"), "--judge", "mse", "--json",
            "--allowed-root", str(REFINE), "-q")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["judged"] == 1 and (tmp_path / "j" / "predictions.jsonl").is_file()
    assert len(deprecations(p)) == 1 and "--out-dir" in deprecations(p)[0]


def test_old_train_out_still_works() -> None:
    p = erm("train", "reward", "--preset", "cpu-tiny-sft", "--out", "somewhere", "--dry-run", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["settings"]["out"] == "somewhere" and len(deprecations(p)) == 1


def test_judge_has_limit_timeout_and_workers(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    rows = [{"id": f"p{i}", "category": "chart", "gt_img_path": str(REFINE / "sales_bar.png"),
             "pred_img_path": str(REFINE / "sales_bar.png")} for i in range(3)]
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    p = erm("judge", "--batch", str(pairs), "--out-dir", str(tmp_path / "j"), "--judge", "mse", "--limit", "2",
            "-w", "1", "--timeout", "20", "--json", "--allowed-root", str(REFINE))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["total"] == 2 and not deprecations(p)


def test_cli_md_is_generated_from_the_vocabulary() -> None:
    doc = (REPO / "docs" / "CLI.md").read_text(encoding="utf-8")
    assert doc == options.cli_markdown(), "run: python -m erm_cli.commands.options --write docs/CLI.md"


def test_render_batch_limit_keeps_earlier_results(tmp_path: Path) -> None:
    (tmp_path / "icon.svg").write_bytes((REPO / "examples" / "icon.svg").read_bytes())
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"id": f"i{n}", "path": "icon.svg"}) + "\n" for n in range(3)))
    out = tmp_path / "out"
    p = erm("render", "--batch", str(items), "--out-dir", str(out), "--json", "-q")
    assert p.returncode == 0 and json.loads(p.stdout)["ok"] == 3
    p = erm("render", "--batch", str(items), "--out-dir", str(out), "--limit", "2", "--json", "--refresh")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["total"] == 2
    assert [json.loads(line)["id"] for line in (out / "results.jsonl").read_text().splitlines()] == ["i0", "i1", "i2"]


def test_quiet_silences_stderr_but_not_the_result(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    ref = str(REFINE / "sales_bar.png")
    pairs.write_text(json.dumps({"id": "a", "category": "chart", "gt_img_path": ref, "pred_img_path": ref}) + "\n")
    args = ("judge", "--batch", str(pairs), "--judge", "mse", "--allowed-root", str(REFINE))
    loud = erm(*args, "--out-dir", str(tmp_path / "a"))
    quiet = erm(*args, "--out-dir", str(tmp_path / "b"), "-q")
    assert loud.returncode == quiet.returncode == 0
    assert "judging" in loud.stderr and quiet.stderr == ""
    assert "judged 1 of 1 pairs" in quiet.stdout


def test_timeout_reaches_the_render_in_judge_and_bench_judge(tmp_path: Path) -> None:
    slow = tmp_path / "slow.py"
    slow.write_text("import time\nimport matplotlib.pyplot as plt\ntime.sleep(60)\nplt.plot([1, 2])\n")
    p = erm("judge", str(REFINE / "sales_bar.png"), str(slow), "--timeout", "2", "--json")
    assert p.returncode == 3, p.stderr
    assert "time" in json.loads(p.stdout)["info"]["render_error"].lower()
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"id": "slow", "category": "chart", "gt_img_path": str(REFINE / "sales_bar.png"),
                                "pred_code_path": str(slow)}) + "\n")
    p = erm("bench", "judge", str(data), "--timeout", "2", "--baselines", "", "--out-dir", str(tmp_path / "b"),
            "--allowed-root", str(REFINE), "--json", "-q")
    assert p.returncode == 0, p.stderr
    row = json.loads((tmp_path / "b" / "predictions.jsonl").read_text().splitlines()[0])
    assert row["verdict"]["render_ok"] is False and "time" in row["verdict"]["info"]["render_error"].lower()
