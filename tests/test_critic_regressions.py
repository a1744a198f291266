"""Regression tests for the critic's wrong verdicts of issue 12, each on real renders (erm's matplotlib and
HTML renderers, or the shipped example images): values in data units, tick numbers read robustly, errors it
used to miss, counts and severities, the reward's ordering and task guessing.

They test the analysers' proposals (``Critic(verifier=False)``): the learned verifier (verifier.py) that
decides on them by default is trained and tested on its own."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from PIL import Image

from erm_cli.judges.critic import Critic as _Critic
from erm_cli.judges.critic import guess_task
from erm_cli.judges.critic.chart import fit_tick_values
from erm_cli.judges.verdict import CRITIC_REWARD_FORMULA, ErrorItem, Verdict, error_weight

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
REFINE = EXAMPLES / "refine"
MINI = EXAMPLES / "bench-mini"


def Critic() -> _Critic:  # the analysers alone, see the module docstring
    return _Critic(verifier=False)


@cache
def render(code: str, kind: str = "matplotlib") -> Image.Image:
    from erm_cli.renderers import render as erm_render

    res = erm_render(code, kind=kind)
    if not res.ok:
        pytest.skip(f"{kind} renderer unavailable here: {res.error}")
    return res.image()


def describe(v: Verdict) -> list[dict]:
    return [e.to_dict() for e in v.errors]


def said(e: ErrorItem) -> str:
    """The analysers' words for an error (the default judge rewords kept errors and keeps these in evidence)."""
    return (e.evidence or {}).get("proposal", {}).get("description", e.description)


def type_changes(v: Verdict, words: str) -> list[ErrorItem]:
    """The verdict's structure errors whose analysers' words include ``words``."""
    return [e for e in v.errors if e.category == "structure_error" and words in said(e)]


# ------------------------------------------------------------------------------------------ data units

def test_showcase_bars_are_compared_in_data_units_and_the_y_label_is_found() -> None:
    ref = Image.open(REFINE / "sales_bar.png")
    cand = render((REFINE / "sales_bar_init.py").read_text())
    v = Critic().judge(ref, cand, "chart")
    texts = " | ".join(e.description for e in v.errors)
    # the label is in both images: it may have moved with the narrower tick labels, it is not missing
    assert not any("Revenue (M$)" in e.description and "missing" in e.description for e in v.errors), describe(v)
    # the Q2 bar: 19 in the reference, 14 in the candidate, read from each image's own axis
    assert "19 expected, 14 found" in texts, describe(v)
    bars = [e for e in v.errors if e.category == "data_error" and "bar" in e.location]
    assert bars and bars[0].evidence and bars[0].evidence.get("units") == "data", describe(v)
    # the candidate's axis runs to ~15, the reference's to ~20: one axis-range error, not one per tick label
    scale = [e for e in v.errors if "tick labels" in e.location]
    assert len(scale) == 1 and scale[0].category == "data_error", describe(v)


def test_axis_limits_alone_move_no_bar() -> None:
    code = ("import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)\n"
            "ax.bar(['A', 'B', 'C', 'D'], [12, 19, 7, 15], color='#4c72b0')\nax.set_ylim(0, {top})\n")
    v = Critic().judge(render(code.format(top=20)), render(code.format(top=30)), "chart")
    assert any(e.category == "data_error" and "range differs" in e.description for e in v.errors), describe(v)
    assert not any("bar" in e.location for e in v.errors), describe(v)


# ------------------------------------------------------------------------------------------ tick numbers

def test_tick_readings_are_repaired_from_their_axis() -> None:
    # Tesseract's readings of the showcase's y ticks: "17.5", "7.5" and "2.5" lose their decimal point
    read = [(103.0, "175"), (149.5, "15.0"), (196.0, "12.5"), (242.0, "10.0"), (288.5, "75"), (335.0, "5.0"),
            (381.0, "25"), (427.5, "0.0")]
    cal, chosen = fit_tick_values(read, decreasing=True)
    assert chosen == ["17.5", "15.0", "12.5", "10.0", "7.5", "5.0", "2.5", "0.0"]
    assert cal is not None and cal[0] < 0
    # one reading that fits no repair is left out, not believed
    cal2, chosen2 = fit_tick_values([(10.0, "0.8"), (60.0, "0.6"), (110.0, "0.4"), (160.0, "9")], decreasing=True)
    assert chosen2[:3] == ["0.8", "0.6", "0.4"] and chosen2[3] is None and cal2 is not None


def test_rescaled_showcase_has_no_axis_scale_error() -> None:
    ref = Image.open(REFINE / "sales_bar.png")
    smaller = ref.resize((int(ref.width * 0.75), int(ref.height * 0.75)), Image.LANCZOS)
    v = Critic().judge(ref, smaller, "chart")
    assert not any(e.category == "data_error" for e in v.errors), describe(v)


# ------------------------------------------------------------------------------------------ missed errors

BASE = """import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
x = [1, 2, 3, 4, 5, 6, 7, 8]
y = [3.1, 4.0, 3.6, 5.2, 6.1, 5.8, 7.0, 7.4]
z = [2.0, 2.4, 3.1, 2.9, 3.8, 4.4, 4.1, 5.0]
ax.plot(x, y, color='tab:blue', linestyle='-', marker='o', label='Alpha')
ax.plot(x, z, color='tab:orange', linestyle='-', label='Beta')
ax.set_title('Growth by month')
ax.set_xlabel('Month')
ax.set_ylabel('Value')
ax.legend()
ax.grid(True)
"""
BETA = "ax.plot(x, z, color='tab:orange', linestyle='-', label='Beta')"

EDITS = {
    "line style": (BASE.replace(BETA, BETA.replace("'-'", "'--'")), "style_error", "line style differs"),
    "marker shape": (BASE.replace("marker='o'", "marker='s'"), "style_error", "marker shape differs"),
    "plot to scatter": (BASE.replace(BETA, "ax.scatter(x, z, color='tab:orange', label='Beta')"),
                        "structure_error", "chart type differs"),
    "grid removed": (BASE.replace("ax.grid(True)\n", ""), "style_error", "grid lines missing"),
    "slightly different shade": (BASE.replace("color='tab:orange'", "color='#e8822a'"), "style_error",
                                 "#e8822a"),
    "font size": (BASE.replace("ax.set_title('Growth by month')", "ax.set_title('Growth by month', fontsize=14)"),
                  "style_error", "different size"),
    "typo": (BASE.replace("'Month'", "'Mcnth'"), "text_error", "Month"),
}


def test_the_same_code_has_no_error() -> None:
    v = Critic().judge(render(BASE), render(BASE.replace("fig, ax", "fig,  ax")), "chart")
    assert v.errors == [], describe(v)


@pytest.mark.parametrize("kind", sorted(EDITS))
def test_a_real_error_it_used_to_miss_is_found(kind: str) -> None:
    code, category, words = EDITS[kind]
    v = Critic().judge(render(BASE), render(code), "chart")
    hits = [e for e in v.errors if e.category == category and words in e.description]
    assert hits, describe(v)
    assert len(v.errors) <= 3, describe(v)  # one change, not a cascade of errors


# ------------------------------------------------------------------------------------------ counts, severities

ROWS = [["Region", "Q1", "Q2", "Change"], ["North", "120.5", "131.2", "8.9"], ["South", "98.1", "56.7", "-42.4"],
        ["East", "77.0", "80.3", "4.3"], ["West", "64.2", "70.0", "9.0"], ["Central", "55.5", "51.0", "-8.1"]]


def _table(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{c}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@pytest.fixture()
def _chromium(has_chromium: bool) -> None:
    if not has_chromium:
        pytest.skip("Chromium is not installed")


@pytest.mark.usefixtures("_chromium")
def test_a_duplicated_table_row_is_one_error() -> None:
    dup = ROWS[:3] + [ROWS[2]] + ROWS[3:]
    v = Critic().judge(render(_table(ROWS), "html"), render(_table(dup), "html"), "table")
    assert len(v.errors) == 1 and v.errors[0].category == "layout_error", describe(v)
    assert "South" in v.errors[0].description


@pytest.mark.usefixtures("_chromium")
def test_a_table_sign_flip_is_a_numeric_error() -> None:
    flipped = [r[:] for r in ROWS]
    flipped[2][3] = "42.4"
    v = Critic().judge(render(_table(ROWS), "html"), render(_table(flipped), "html"), "table")
    assert [e.category for e in v.errors] == ["numeric_error"], describe(v)
    assert v.errors[0].severity >= 2 and v.reward < 1.0


def test_another_chart_type_is_severe_and_scores_below_any_single_minor_error() -> None:
    bars = BASE.replace(BETA, "ax.bar(x, z, color='tab:orange', label='Beta')")
    v = Critic().judge(render(BASE), render(bars), "chart")
    structure = [e for e in v.errors if e.category == "structure_error"]
    assert structure and structure[0].severity == 3 and "chart type differs" in structure[0].description, describe(v)
    assert v.reward_formula == CRITIC_REWARD_FORMULA
    minor = Verdict(task="chart", errors=[ErrorItem("style_error", 1)], reward_formula=CRITIC_REWARD_FORMULA)
    assert v.reward < minor.reward


# ------------------------------------------------------------------------------------------ reward order

def test_reward_is_monotone_and_weighs_structure_at_least_as_a_minor_error() -> None:
    def ordered(task: str, errors: list[ErrorItem]) -> Verdict:
        return Verdict(task, errors, reward_formula=CRITIC_REWARD_FORMULA)

    one = [ErrorItem("data_error", 2)]
    three = one + [ErrorItem("style_error", 1), ErrorItem("text_error", 3)]
    assert ordered("chart", one).reward > ordered("chart", three).reward > ordered("chart", three * 10).reward > 0
    for task, cat in (("chart", "structure_error"), ("table", "layout_error"), ("svg", "structure_error")):
        for sev in (1, 2, 3):
            assert error_weight(cat, sev) >= max(error_weight(c, 1) for c in ("style_error", "text_error"))
            assert ordered(task, [ErrorItem(cat, sev)]).reward <= ordered(task, [ErrorItem("style_error", 1)]).reward
    # every verdict defaults to the released formula (a Visual-ERM judge's reward); the critic's are ordered
    assert Verdict("chart", three).reward_formula == "released"
    released = Verdict("chart", three, reward_formula="released")
    assert released.reward == pytest.approx(1 - 6 / 50)  # Visual-ERM's released clip(1 - S / 50)
    assert Verdict.from_dict(released.to_dict()).reward == pytest.approx(released.reward)


def _one_vs_three_pairs() -> list[dict]:
    rows = [json.loads(line) for line in (MINI / "pairwise.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in rows if r["chosen_errors"] == 1 and r["rejected_errors"] == 3]


@pytest.mark.parametrize("pair", _one_vs_three_pairs(), ids=lambda r: r["id"])
def test_a_one_error_candidate_scores_above_its_three_error_superset(pair: dict) -> None:
    """erm synth's chains: the 3-error candidate holds the 1-error candidate's error and two more."""
    ref = Image.open(MINI / pair["gt_img_path"])
    critic = Critic()
    chosen = critic.judge(ref, Image.open(MINI / pair["chosen_img_path"]), pair["category"])
    rejected = critic.judge(ref, Image.open(MINI / pair["rejected_img_path"]), pair["category"])
    assert chosen.reward > rejected.reward, (describe(chosen), describe(rejected))


# ------------------------------------------------------------------------------------------ task guessing

def _known_references() -> list[tuple[Path, str]]:
    out = {str(MINI / json.loads(line)["gt_img_path"]): json.loads(line)["category"]
           for line in (MINI / "data.jsonl").read_text().splitlines() if line.strip()}
    out.update({str(REFINE / "sales_bar.png"): "chart", str(REFINE / "region_line.png"): "chart",
                str(REFINE / "fruit_grouped.png"): "chart", str(REFINE / "scores_table.png"): "table",
                str(REFINE / "badge.png"): "svg"})
    return sorted((Path(p), t) for p, t in out.items())


def test_every_shipped_reference_image_is_listed() -> None:
    listed = {p for p, _ in _known_references()}
    shipped = {p for p in EXAMPLES.rglob("*.png") if p.parent == REFINE or p.name.endswith("-ref.png")}
    assert shipped == listed


@pytest.mark.parametrize("path,task", _known_references(), ids=lambda x: x.name if isinstance(x, Path) else x)
def test_task_is_guessed_right_on_every_shipped_reference(path: Path, task: str) -> None:
    assert guess_task(Image.open(path)) == task


def test_a_guessed_task_is_said_in_the_verdict_and_the_human_output() -> None:
    import subprocess
    import sys

    ref = MINI / "images" / "chart-00005-ref.png"
    v = Critic().judge(Image.open(ref), Image.open(ref))
    assert v.task == "chart" and v.info.get("task_guessed") is True
    assert "task_guessed" not in Critic().judge(Image.open(ref), Image.open(ref), "chart").info
    p = subprocess.run([sys.executable, "-m", "erm_cli.app", "judge", str(ref), str(ref)], capture_output=True,
                       text=True, cwd=REPO, timeout=300, check=False)
    assert p.returncode == 0, p.stderr
    assert "guessed" in p.stdout
    p = subprocess.run([sys.executable, "-m", "erm_cli.app", "judge", str(ref), str(ref), "--json"],
                       capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
    assert json.loads(p.stdout)["info"]["task_guessed"] is True


# ------------------------------------------------------------------------------------------ missed kinds, round 2
# Each edit is checked with the analysers alone and with the default judge (the learned verifier deciding).

def _default_critic() -> _Critic:
    return _Critic()


GRID_BASE = BASE.replace("ax.grid(True)\n", "ax.grid(True, linestyle='--', alpha=0.5)\n")
HEAT = """import numpy as np
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
values = np.array([[52, 61, 70, 44], [35, 80, 66, 58], [90, 47, 38, 73], [64, 55, 83, 41]])
im = ax.imshow(values, cmap='{cmap}')
ax.set_xticks(range(4), ['Parse', 'Count', 'Read', 'Trend'])
ax.set_yticks(range(4), ['Model A', 'Model B', 'Model C', 'Model D'])
fig.colorbar(im, ax=ax, label='Accuracy (%)')
ax.set_title('Accuracy per model and task')
"""
QUARTERS = """import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
ax.bar(['{q}', 'Q2', 'Q3', 'Q4'], [12, 19, 7, 15], color='#4c72b0')
ax.set_title('Revenue by quarter')
ax.set_ylabel('Revenue (M$)')
"""
GGPLOT = """import matplotlib.pyplot as plt
plt.style.use('ggplot')
fig, axes = plt.subplots(1, 3, figsize=(12, 4), dpi=100)
for k, ax in enumerate(axes):
    ax.plot([1, 2, 3, 4, 5], [3 + k, 4 + k, 3.5 + k, 5 + k, 6 + k], marker='o')
    ax.set_title('Panel ' + str(k + 1))
    ax.grid(GRID)
"""

EDITS_2 = {
    "dashed to dotted": (BASE.replace(BETA, BETA.replace("'-'", "'--'")),
                         BASE.replace(BETA, BETA.replace("'-'", "':'")), "style_error", "line style differs"),
    "faint dashed grid removed": (GRID_BASE, GRID_BASE.replace("ax.grid(True, linestyle='--', alpha=0.5)\n", ""),
                                  "style_error", "grid lines missing"),
    "white grid on grey switched on": (GGPLOT.replace("GRID", "False"),
                                       GGPLOT.replace("GRID", "k == 2"), "style_error", "grid lines unexpected"),
    "grid drawn solid instead of dashed": (GRID_BASE, GRID_BASE.replace("linestyle='--'", "linestyle='-'"),
                                           "style_error", "grid line style differs"),
    "circle markers drawn as plus": (BASE, BASE.replace("marker='o'", "marker='+'"), "style_error", "marker"),
    "colour map": (HEAT.format(cmap="viridis"), HEAT.format(cmap="plasma"), "style_error", "colour map differs"),
    "Ql for Q1": (QUARTERS.format(q="Q1"), QUARTERS.format(q="Ql"), "text_error", "Ql"),
    # round 3: dash-dot against dashes (the same mean piece length; half the pieces are dots)
    "dashed to dash-dot": (BASE.replace(BETA, BETA.replace("'-'", "'--'")),
                           BASE.replace(BETA, BETA.replace("'-'", "'-.'")), "style_error", "dash-dot found"),
    # black -> dark grey: grey ink is no series colour, and the difference map tolerates dark strokes
    "black line drawn dark grey": (BASE.replace("color='tab:orange'", "color='black'"),
                                   BASE.replace("color='tab:orange'", "color='#404040'"), "style_error",
                                   "#404040 (dark grey) found"),
    "black title drawn dark grey": (BASE.replace("ax.set_title('Growth by month')",
                                                 "ax.set_title('Growth by month', color='black')"),
                                    BASE.replace("ax.set_title('Growth by month')",
                                                 "ax.set_title('Growth by month', color='#505050')"), "style_error",
                                    "text colour #000000 (black) expected"),
}


@pytest.mark.parametrize("kind", sorted(EDITS_2))
@pytest.mark.parametrize("judge", ["analysers", "default"])
def test_a_real_error_of_round_2_is_found(kind: str, judge: str) -> None:
    # the three grid kinds were xfail with the verifier of 71dc69b (P(real) 0.02-0.16); the verifier retrained
    # with grid-only training candidates and grid evidence (features v3) keeps them: plain asserts since
    ref_code, cand_code, category, words = EDITS_2[kind]
    critic = Critic() if judge == "analysers" else _default_critic()
    v = critic.judge(render(ref_code), render(cand_code), "chart")
    # the analysers' words: the default judge rewords kept errors (phrasing.py) and keeps them in the evidence
    hits = [e for e in v.errors if e.category == category and words in said(e)]
    assert hits, describe(v)
    assert len(v.errors) <= 3, describe(v)
    assert v.reward < 1.0


@pytest.mark.parametrize("code", [GRID_BASE, HEAT.format(cmap="viridis"), QUARTERS.format(q="Q1"),
                                  GGPLOT.replace("GRID", "True")], ids=["grid", "heatmap", "quarters", "ggplot"])
def test_round_2_checks_add_nothing_on_the_same_figure_rendered_twice(code: str) -> None:
    v = Critic().judge(render(code), render(code.replace("import matplotlib.pyplot as plt",
                                                        "import matplotlib.pyplot as plt  # again")), "chart")
    assert v.errors == [], describe(v)


COUNTRIES = [["Country", "Capital", "Population (M)", "Growth (%)", "Area (km²)", "Life exp. (years)"],
             ["Spain", "Madrid", "150.3", "+6.2", "954,587", "64.7"],
             ["Kenya", "Nairobi", "91.7", "+5.0", "2,933,335", "79.7"],
             ["India", "New Delhi", "287.5", "+5.7", "2,389,540", "72.5"],
             ["France", "Paris", "73.9", "+6.6", "669,012", "71.3"],
             ["Mexico", "Mexico City", "82.4", "+1.9", "397,394", "77.5"],
             ["Japan", "Tokyo", "151.1", "+4.4", "918,227", "80.8"],
             ["Brazil", "Brasília", "48.9", "+7.0", "2,121,642", "67.5"]]


@pytest.mark.usefixtures("_chromium")
@pytest.mark.parametrize("judge", ["analysers", "default"])
def test_a_sign_ocr_drops_is_found_in_the_cell_glyphs(judge: str) -> None:
    """'-72.5' for '72.5': OCR reads the cell as '72.5' in both tables; the pixels under it differ."""
    flipped = [r[:] for r in COUNTRIES]
    flipped[3][5] = "-72.5"
    critic = Critic() if judge == "analysers" else _default_critic()
    v = critic.judge(render(_table(COUNTRIES), "html"), render(_table(flipped), "html"), "table")
    assert [e.category for e in v.errors] == ["numeric_error"], describe(v)
    # the cell of India's life expectancy (OCR's own reading of it, e.g. '725', is quoted)
    said = (v.errors[0].evidence or {}).get("proposal", {})  # the analysers' words under the default judge's wording
    assert said.get("location", v.errors[0].location) == "row 4, column 6", describe(v)
    assert "other glyphs" in v.errors[0].description, describe(v)
    if judge == "default":
        assert v.errors[0].location == "Row 3 ('India'), column 'Life exp. (years)'", describe(v)
    assert v.reward < 1.0


STANDINGS = [["Team", "P", "W", "D"], ["Wanderers", "20", "4", "7"], ["City", "20", "12", "6"],
             ["Athletic", "20", "10", "6"], ["United", "20", "10", "4"], ["Rovers", "20", "11", "3"]]


@pytest.mark.usefixtures("_chromium")
@pytest.mark.parametrize("judge", ["analysers", "default"])
def test_a_short_number_sign_flip_is_a_numeric_error(judge: str) -> None:
    """'-20' for '20' in a small table (robustness seed 777's tables-table-777-0005): OCR reads the sign, but a
    minus is a few pixels, under the cell's pixel-evidence bar for other OCR disagreements."""
    # (xfail with session 5's verifier, P(real) 0.22 in the pair head's middle band; session 7's reports it as the
    # difference its pair head is sure of, P(differs) 0.97, in the proposal's words)
    flipped = [r[:] for r in STANDINGS]
    flipped[5][1] = "-20"
    critic = Critic() if judge == "analysers" else _default_critic()
    v = critic.judge(render(_table(STANDINGS), "html"), render(_table(flipped), "html"), "table")
    assert [e.category for e in v.errors] == ["numeric_error"], describe(v)
    assert "-20" in v.errors[0].description and v.reward < 1.0, describe(v)


# ------------------------------------------------------------------------------------------ session 6: beads
# A line drawn as a dense scatter (hundreds of points, as real gallery scripts do) reads as one thick stroke:
# it was called "line width differs" (style, minor). A chain of round dots has scalloped edges a wider line
# does not have, so the two stay apart.

DAMPED = """import numpy as np
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
t = np.linspace(0.0, 4.0, 260)
ax.plot(t, np.exp(-t / 2) * np.cos(3 * np.pi * t), color='#2a9d8f')
ax.axhline(0.0, color='#2a9d8f', linewidth=1)
ax.set_title('Damped oscillation')
ax.set_xlabel('time (s)')
ax.set_ylabel('amplitude')
"""
DENSE_SCATTER = DAMPED.replace("ax.plot(t, np.exp(-t / 2) * np.cos(3 * np.pi * t), color='#2a9d8f')",
                               "ax.scatter(t, np.exp(-t / 2) * np.cos(3 * np.pi * t), color='#2a9d8f')")


@pytest.mark.parametrize("judge", ["analysers", "default"])
def test_a_line_drawn_as_a_dense_scatter_is_a_chart_type_change(judge: str) -> None:
    critic = Critic() if judge == "analysers" else _default_critic()
    v = critic.judge(render(DAMPED), render(DENSE_SCATTER), "chart")
    hits = type_changes(v, "chart type differs")
    assert hits and hits[0].severity == 3, describe(v)
    assert hits[0].evidence["scallop_share"] >= 0.02, describe(v)
    # and the reverse: a dense scatter drawn as a line
    back = Critic().judge(render(DENSE_SCATTER), render(DAMPED), "chart")
    assert any("markers (scatter) expected, line found" in e.description for e in back.errors), describe(back)


@pytest.mark.parametrize("width", [4, 6])
def test_a_wider_line_stays_a_width_change(width: int) -> None:
    wide = DAMPED.replace("color='#2a9d8f')", f"color='#2a9d8f', linewidth={width})", 1)
    v = Critic().judge(render(DAMPED), render(wide), "chart")
    assert v.errors and not [e for e in v.errors if e.category == "structure_error"], describe(v)


# ------------------------------------------------------------------------------------------ session 6: shades
# A slightly different shade (a grey span drawn darker, a blue drawn lighter) moves every channel by less than the
# difference map's thresholds, so no analyser saw it. Every pixel of the one colour moved to one other colour
# while the rest of the image stayed pixel-exact: that is a repaint, not another rasteriser.

SHADES = """import numpy as np
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
x = np.linspace(0, 10, 60)
ax.axvspan(2.0, 4.5, color='{span}')
ax.plot(x, np.sqrt(x) * 3, color='{line}', label='sqrt')
ax.plot(x, 9 - x * 0.6, color='tab:red', label='decay')
ax.set_title('Growth against a threshold')
ax.set_xlabel('step')
ax.set_ylabel('level')
ax.legend(loc='lower right')
"""
PLAIN_SHADES = SHADES.format(line="tab:blue", span="#e0e0e0")


@pytest.mark.parametrize("judge", ["analysers", "default"])
@pytest.mark.parametrize("line,span,expected", [("tab:blue", "#c8c8c8", "#e0e0e0"), ("#45a0df", "#e0e0e0", "#1f77b4")],
                         ids=["grey span drawn darker", "blue line drawn lighter"])
def test_a_slightly_different_shade_is_found(judge: str, line: str, span: str, expected: str) -> None:
    critic = Critic() if judge == "analysers" else _default_critic()
    v = critic.judge(render(PLAIN_SHADES), render(SHADES.format(line=line, span=span)), "chart")
    from erm_cli.judges.critic.colour import delta_e_rgb, parse_colour

    def names(e) -> bool:  # type: ignore[no-untyped-def]
        colour = (e.evidence or {}).get("expected")
        return isinstance(colour, str) and colour.startswith("#") and delta_e_rgb(parse_colour(colour),
                                                                                  parse_colour(expected)) < 5

    hits = [e for e in v.errors if e.category == "style_error" and names(e)]
    assert hits and hits[0].severity == 1, describe(v)
    assert len(v.errors) == 1 and v.reward < 1.0, describe(v)  # one change, one error


def rasterised_otherwise(code: str, route: str) -> tuple[Image.Image, Image.Image]:
    """A matplotlib figure's render and another rasterisation of it: ``jpeg 75`` or ``antialiasing off``."""
    import io

    ref = render(code)
    if route == "jpeg 75":
        buf = io.BytesIO()
        ref.convert("RGB").save(buf, format="JPEG", quality=75)
        return ref, Image.open(io.BytesIO(buf.getvalue()))
    assert route == "antialiasing off", route
    return ref, render(code.replace("import matplotlib.pyplot as plt",
                                    "import matplotlib.pyplot as plt\nplt.rcParams.update({'lines.antialiased': "
                                    "False, 'patch.antialiased': False, 'text.antialiased': False})"))


@pytest.mark.parametrize("route", ["antialiasing off", "jpeg 75"])
def test_shades_of_another_rasterisation_are_no_repaint(route: str) -> None:
    ref, cand = rasterised_otherwise(PLAIN_SHADES, route)
    v = Critic().judge(ref, cand, "chart")
    assert not [e for e in v.errors if "slightly different shade" in e.description], describe(v)


# A scatter of dots too small to be a series of its own, joined into a line in the order of the data (a web of
# segments): it was an "unexpected series". Every reference dot lies on the candidate's line.
TINY_DOTS = """import numpy as np
import matplotlib.pyplot as plt
rng = np.random.default_rng(3)
x = rng.normal(0, 2, 300)
y = 0.6 * x + rng.normal(0, 1, 300)
fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
ax.scatter(x, y, s=1.5, color='#2a6f97')
ax.set_title('Paired measurements')
"""
TINY_DOTS_JOINED = TINY_DOTS.replace("ax.scatter(x, y, s=1.5, color='#2a6f97')", "ax.plot(x, y, color='#2a6f97')")


@pytest.mark.parametrize("judge", ["analysers", "default"])
def test_tiny_scatter_dots_joined_into_a_line_are_a_chart_type_change(judge: str) -> None:
    critic = Critic() if judge == "analysers" else _default_critic()
    v = critic.judge(render(TINY_DOTS), render(TINY_DOTS_JOINED), "chart")
    hits = type_changes(v, "markers (scatter) expected, line found")
    assert hits and hits[0].severity == 3, describe(v)
    back = Critic().judge(render(TINY_DOTS_JOINED), render(TINY_DOTS), "chart")
    assert any("line expected, markers (scatter) found" in e.description for e in back.errors), describe(back)


# A default grid under translucent markers and a curve, switched off (the gallery's scatter_demo2 and
# simple_plot): the verifier dropped the grid (the pair looks alike) and the analysers called the markers
# where a grid line had shown through them recoloured, a chart type change. Every changed pixel lies on a grid
# line, and the pair is pixel-exact elsewhere, so the grid is the one error and it stays.
GRID_UNDER_MARKERS = """import numpy as np
import matplotlib.pyplot as plt
rng = np.random.default_rng(5)
x = rng.uniform(0, 10, 60)
y = rng.uniform(0, 10, 60)
fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
ax.scatter(x, y, s=rng.uniform(80, 600, 60), c=rng.uniform(0, 1, 60), alpha=0.5)
t = np.linspace(0, 10, 200)
ax.plot(t, 5 + 3 * np.sin(t))
ax.set_title('Volume and price')
ax.grid(True)
"""


@pytest.mark.parametrize("judge", ["analysers", "default"])
def test_a_grid_switched_off_under_translucent_marks_is_one_style_error(judge: str) -> None:
    critic = Critic() if judge == "analysers" else _default_critic()
    v = critic.judge(render(GRID_UNDER_MARKERS), render(GRID_UNDER_MARKERS.replace("ax.grid(True)\n", "")), "chart")
    assert [e.category for e in v.errors] == ["style_error"], describe(v)
    assert "grid lines missing" in said(v.errors[0]), describe(v)
    assert v.errors[0].evidence.get("grid_exact_elsewhere"), describe(v)


@pytest.mark.parametrize("route", ["antialiasing off", "jpeg 75"])
def test_a_grid_rasterised_otherwise_is_no_grid_change(route: str) -> None:
    ref, cand = rasterised_otherwise(GRID_UNDER_MARKERS, route)
    v = _default_critic().judge(ref, cand, "chart")
    assert not [e for e in v.errors if "grid" in said(e)], describe(v)
    assert not any((e.evidence or {}).get("grid_exact_elsewhere") for e in Critic().judge(ref, cand, "chart").errors)


# Words repainted green -> #00cd00 (the gallery's rainbow_text): the difference map sees the change, but the
# text analysis reads the same words and explains its regions, so nothing was said. The repaint is exact
# (every pixel of the colour moved to one other colour, nothing else changed) and no finding covers it.
GREEN_WORDS = """import matplotlib.pyplot as plt
plt.rcParams['font.size'] = 20
fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
ax.set_xticks([])
ax.set_yticks([])
text = ax.text(0.1, 0.5, 'Quarterly', color='red')
text = ax.annotate(' sales', xycoords=text, xy=(1, 0), verticalalignment='bottom', color='gold', weight='bold')
text = ax.annotate(' keep', xycoords=text, xy=(1, 0), verticalalignment='bottom', color='{colour}', style='italic')
text = ax.annotate(' rising', xycoords=text, xy=(1, 0), verticalalignment='bottom', color='blue', family='serif')
"""


@pytest.mark.parametrize("judge", ["analysers", "default"])
def test_repainted_words_the_text_analysis_reads_alike_are_a_colour_error(judge: str) -> None:
    critic = Critic() if judge == "analysers" else _default_critic()
    v = critic.judge(render(GREEN_WORDS.format(colour="green")), render(GREEN_WORDS.format(colour="#00cd00")),
                     "chart")
    hits = [e for e in v.errors if e.category == "style_error" and (e.evidence or {}).get("expected") == "#008000"]
    assert hits and hits[0].evidence.get("found") == "#00cd00", describe(v)
    assert len(v.errors) == 1, describe(v)
