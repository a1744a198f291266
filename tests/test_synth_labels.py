"""Gold labels without rendering: severities scale with the change, chains never overlap, parsers round-trip."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from erm_cli.data.charts import random_chart
from erm_cli.data.perturb_chart import data_values
from erm_cli.data.perturb_svg import move
from erm_cli.data.perturb_table import number_digit
from erm_cli.data.perturbation import conflicts, make_typo
from erm_cli.data.sources import perturbations_for
from erm_cli.data.svg_geometry import box_of, path_points
from erm_cli.data.svgs import parse_svg, random_svg
from erm_cli.data.synth import GroupFactory, SynthConfig, build_chain
from erm_cli.data.tables import NUMBER_RE, parse_html_table, parse_markdown_table, random_table
from erm_cli.judges.verdict import TAXONOMY


def _means_by_severity(pairs: list[tuple[int, float]]) -> dict[int, float]:
    out: dict[int, list[float]] = {}
    for sev, size in pairs:
        out.setdefault(sev, []).append(size)
    return {s: statistics.mean(v) for s, v in out.items()}


def test_chart_value_severity_grows_with_the_change():
    pairs = []
    for seed in range(150):
        spec = random_chart(random.Random(seed), "matplotlib")
        values = [abs(v) for p in spec.panels for s in p.series for v in s.values]
        edit = data_values(spec, random.Random(seed))
        if edit is None or "changes" not in edit.evidence or not values or spec.panels[0].yscale == "log":
            continue
        change = max(abs(new - old) for _, old, new in edit.evidence["changes"])
        pairs.append((edit.severity, change / max(values)))
    means = _means_by_severity(pairs)
    assert set(means) == {1, 2, 3}
    assert means[1] < means[2] < means[3]


def test_svg_move_severity_grows_with_the_distance():
    pairs = []
    for seed in range(80):
        doc = random_svg(random.Random(seed))
        edit = move(doc, random.Random(seed))
        if edit is not None:
            pairs.append((edit.severity, math.hypot(edit.evidence["dx"], edit.evidence["dy"])))
    means = _means_by_severity(pairs)
    assert means[1] < means[2] < means[3]


def test_table_digit_severity_grows_with_the_relative_change():
    pairs = []
    for seed in range(150):
        table = random_table(random.Random(seed))
        edit = number_digit(table, random.Random(seed))
        if edit is None:
            continue
        old = float(NUMBER_RE.search(edit.evidence["old"]).group("int").replace(",", "") or 0)
        new = float(NUMBER_RE.search(edit.evidence["new"]).group("int").replace(",", "") or 0)
        if old:
            pairs.append((edit.severity, abs(new - old) / old))
    means = _means_by_severity(pairs)
    assert means.get(3, 1e9) > means.get(1, 0.0)


def test_conflicting_targets():
    assert conflicts("p0.s[A].color", ["p0"])
    assert conflicts("p0", ["p0.s[A].color"])
    assert conflicts("p0.s[A].values|p0.c[Q1].value", ["p0.c[Q1]"])
    assert not conflicts("p0.s[A].color", ["p0.s[B].color", "p1"])
    assert conflicts("anything", ["*"])
    assert not conflicts("p0.s[AB]", ["p0.s[A]"])


@pytest.mark.parametrize("text", ["Quarterly revenue", "Temperature (°C)", "ab"])
def test_typo_changes_one_character(text):
    rng = random.Random(3)
    for _ in range(20):
        typo = make_typo(text, rng)
        if typo is None:
            assert sum(ch.isalpha() for ch in text) < 2
            return
        assert typo != text and abs(len(typo) - len(text)) <= 1


@pytest.mark.parametrize("task", ["chart", "table", "svg"])
def test_chains_are_valid_and_reproducible(task, tmp_path):
    cfg = SynthConfig(out=tmp_path, task=task, seed=11, max_errors=4)
    factory = GroupFactory(cfg)
    for index in range(12):
        a, b = factory.build(task, index), factory.build(task, index)
        assert a.ref_code == b.ref_code
        assert [c.code for c in a.candidates] == [c.code for c in b.candidates]
        chain = [c for c in a.candidates if c.pair_type == "perturbed"]
        assert 1 <= len(chain) <= 4
        edits = chain[-1].edits if chain else []
        for k, e in enumerate(edits):
            assert e.category in TAXONOMY[task]
            assert not conflicts(e.target, [x.target for x in edits[:k]])
        codes = [a.ref_code] + [c.code for c in chain]
        assert len(set(codes)) == len(codes), "every step changes the code"


def test_build_chain_stops_after_an_exclusive_edit():
    for seed in range(60):
        spec = random_chart(random.Random(seed), "matplotlib")
        if spec.nrows * spec.ncols < 2:
            continue
        steps = build_chain(spec, perturbations_for(spec), 5, random.Random(seed), "chart")
        for k, (_, edit) in enumerate(steps):
            if edit.target == "*":
                assert len(steps) == 1 and k == 0


def test_table_readers_round_trip():
    for seed in range(40):
        fmt = "markdown" if seed % 2 else "html"
        t = random_table(random.Random(seed), fmt)
        back = parse_markdown_table(t.code()) if fmt == "markdown" else parse_html_table(t.code())
        assert [[back.cells[c].text for c in row] for row in back.grid] == [
            [t.cells[c].text for c in row] for row in t.grid
        ]
        assert back.n_header_rows == t.n_header_rows
        assert back.is_valid()


def test_user_html_document_is_kept_around_the_table(examples_dir):
    source = (examples_dir / "table.html").read_text()
    t = parse_html_table(source)
    assert t.is_valid() and t.n_rows >= 2
    out = t.code()
    assert out.startswith(source[: source.lower().index("<table")])
    assert parse_html_table(out).grid == t.grid


def test_path_sampling_boxes():
    assert box_of(path_points("M0 0 L10 0 L10 5 Z")) == (0, 0, 10, 5)
    x0, y0, x1, y1 = box_of(
        path_points("M2 5 a3 3 0 1 0 6 0 a3 3 0 1 0 -6 0")
    )  # a circle of radius 3 at (5, 5)
    assert (x0, y0, x1, y1) == pytest.approx((2, 2, 8, 8), abs=0.1)
    x0, y0, x1, y1 = box_of(path_points("M0 0 Q5 10 10 0"))  # the curve peaks at half the control height
    assert y1 == pytest.approx(5, abs=0.1)


def test_user_svg_is_editable(examples_dir):
    doc = parse_svg((examples_dir / "icon.svg").read_text())
    assert doc.drawables()
    edit = move(doc, random.Random(0))
    assert edit is not None and edit.region is not None
    assert "data-erm" not in doc.code()
