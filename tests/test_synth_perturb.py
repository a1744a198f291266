"""Every perturbation changes the real render, in the labelled region where the layout is known.

One reference and one perturbed candidate per perturbation, rendered together through the real
renderers (matplotlib sandbox, Chromium for tables and plotly, cairosvg for SVG).
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from erm_cli.data.charts import random_chart
from erm_cli.data.perturb_chart import PERTURBATIONS as CHART
from erm_cli.data.perturb_code import PERTURBATIONS as CODE
from erm_cli.data.perturb_code import CodeDoc
from erm_cli.data.perturb_svg import PERTURBATIONS as SVG
from erm_cli.data.perturb_table import PERTURBATIONS as TABLE
from erm_cli.data.svgs import random_svg
from erm_cli.data.synth import _pixels, changed_mask
from erm_cli.data.tables import random_table
from erm_cli.judges.verdict import TAXONOMY
from erm_cli.renderers import RenderOptions, render_many

OPTIONS = RenderOptions(dpi=50)
#: Perturbations that may legitimately leave some documents unchanged (the engine then labels the pair
#: "no error"): a shape moved behind one it does not overlap, a grid toggled in a style whose grid is faint.
MAY_BE_NOOP = {"svg.layer_order", "svg.rotate", "chart.grid"}


def _cases(registry, make, seeds=range(60), per_name=1, tries=3):  # type: ignore[no-untyped-def]
    """For each perturbation: up to ``tries`` (document, perturbed document, edit) from the first seeds it fits."""
    out = {}
    for name, info in registry.items():
        found = []
        for seed in seeds:
            doc = make(seed)
            trial = doc.copy()
            edit = info.fn(trial, random.Random(1000 + seed))
            if edit is not None:
                found.append((doc, trial, edit))
                if len(found) >= (tries if name in MAY_BE_NOOP else per_name):
                    break
        out[name] = found
    return out


def _render_cases(cases, kind_of):  # type: ignore[no-untyped-def]
    items, index = [], []
    for name, found in cases.items():
        for doc, trial, edit in found:
            items += [(doc.code(), kind_of(doc)), (trial.code(), kind_of(trial))]
            index.append((name, edit))
    results = render_many(items, OPTIONS)
    out: dict[str, list] = {}
    for k, (name, edit) in enumerate(index):
        ref, cand = results[2 * k], results[2 * k + 1]
        assert ref.ok, f"{name}: reference failed: {ref.error}"
        assert cand.ok, f"{name}: candidate failed: {cand.error}"
        out.setdefault(name, []).append((edit, changed_mask(_pixels(ref.png), _pixels(cand.png))))
    return out


def _outside(mask: np.ndarray, region) -> int:  # type: ignore[no-untyped-def]
    h, w = mask.shape
    x0, y0, x1, y1 = region
    inside = np.zeros_like(mask)
    inside[int(y0 * h) : int(np.ceil(y1 * h)), int(x0 * w) : int(np.ceil(x1 * w))] = True
    return int((mask & ~inside).sum())


def _check(rendered, task: str) -> None:  # type: ignore[no-untyped-def]
    for name, outcomes in rendered.items():
        visible = [(e, m) for e, m in outcomes if m is None or m.any()]
        assert visible, f"{name}: no render changed"
        if name not in MAY_BE_NOOP:
            assert len(visible) == len(outcomes), f"{name}: a perturbation left the render unchanged"
        for edit, mask in visible:
            assert edit.category in TAXONOMY[task], f"{name}: {edit.category} is not a {task} category"
            assert edit.severity in (1, 2, 3)
            assert edit.location and edit.description
            if edit.region is not None and mask is not None:
                outside = _outside(mask, edit.region)
                assert outside <= max(3, 0.02 * mask.sum()), (
                    f"{name}: {outside} of {mask.sum()} changed pixels outside the labelled region {edit.region}"
                )


@pytest.fixture(scope="module")
def chart_results():
    cases = _cases(CHART, lambda s: random_chart(random.Random(s), "matplotlib"))
    missing = [n for n, f in cases.items() if not f]
    assert not missing, f"chart perturbations that never applied: {missing}"
    return _render_cases(cases, lambda d: d.library)


def test_every_chart_perturbation_changes_the_render_in_its_region(chart_results):
    _check(chart_results, "chart")
    assert len(chart_results) == len(CHART)


def test_plotly_charts_are_perturbed_too():
    cases = _cases(
        {k: CHART[k] for k in ("chart.data_values", "chart.title", "chart.series_color", "chart.chart_type")},
        lambda s: random_chart(random.Random(s), "plotly"),
    )
    _check(_render_cases(cases, lambda d: d.library), "chart")


def test_every_table_perturbation_changes_the_render(has_chromium):
    if not has_chromium:
        pytest.skip("needs Chromium")
    cases = _cases(TABLE, lambda s: random_table(random.Random(s), "html" if s % 3 else "markdown"))
    missing = [n for n, f in cases.items() if not f]
    assert not missing, f"table perturbations that never applied: {missing}"
    _check(_render_cases(cases, lambda d: d.fmt), "table")


def test_every_svg_perturbation_changes_the_render_in_its_region():
    cases = _cases(SVG, lambda s: random_svg(random.Random(s)))
    missing = [n for n, f in cases.items() if not f]
    assert not missing, f"svg perturbations that never applied: {missing}"
    _check(_render_cases(cases, lambda d: "svg"), "svg")


def test_user_code_perturbations_change_the_render(examples_dir):
    source = (examples_dir / "chart.py").read_text()
    generated = random_chart(random.Random(7), "matplotlib").code()
    docs = [CodeDoc(source), CodeDoc(generated)]
    cases = _cases(CODE, lambda s: docs[s % 2], seeds=range(8))
    assert sum(1 for f in cases.values() if f) >= 7, "most code perturbations should apply to real chart code"
    _check(_render_cases({k: v for k, v in cases.items() if v}, lambda d: "matplotlib"), "chart")
