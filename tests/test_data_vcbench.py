"""The VC-RewardBench reader on the shipped bench-mini set and on hand-written lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from erm_cli.data.vcbench import parse_record, read_vcbench, write_record
from erm_cli.errors import InputError


def test_reads_bench_mini(examples_dir: Path) -> None:
    recs = read_vcbench(examples_dir / "bench-mini" / "data.jsonl")
    assert {r.task for r in recs} == {"chart", "table", "svg"}
    for r in recs:
        assert r.gt_img_path.is_file() and r.pred_path.is_file()
        assert all(e.severity in (1, 2, 3) for e in r.errors)


def test_type_is_a_synonym_of_category_and_paths_are_relative(tmp_path: Path) -> None:
    line = {"idx": 7, "category": "table", "gt_img_path": "gt/a.png", "pred_img_path": "pred/a.png",
            "human_errors": [{"type": "numeric_error", "severity": 2, "description": "3.5 read as 35"}]}
    (tmp_path / "d.jsonl").write_text(json.dumps(line) + "\n\n")
    (rec,) = read_vcbench(tmp_path / "d.jsonl")
    assert rec.id == "7" and rec.errors[0].category == "numeric_error"
    assert rec.gt_img_path == tmp_path / "gt" / "a.png" and not rec.pred_is_code
    again = parse_record(write_record(rec, tmp_path), tmp_path, "x", "0")
    assert again.gt_img_path == rec.gt_img_path and again.errors == rec.errors


@pytest.mark.parametrize("text,needle", [
    ("{not json\n", "not valid JSON"),
    ('{"category": "poster", "gt_img_path": "a", "pred_img_path": "b"}\n', "category must be one of"),
    ('{"category": "svg", "gt_img_path": "a"}\n', "needs gt_img_path"),
    ('{"id": 1, "category": "svg", "gt_img_path": "a", "pred_img_path": "b"}\n' * 2, "duplicate id"),
])
def test_bad_lines_are_one_line_input_errors(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "d.jsonl").write_text(text)
    with pytest.raises(InputError, match=needle):
        read_vcbench(tmp_path / "d.jsonl")
