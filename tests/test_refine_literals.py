"""Literal finding and in-place rewriting for the model-free refine policy (Python and markup)."""

from __future__ import annotations

import ast

from erm_cli.refine.literal_search import Edit, apply_edits, insert_statements
from erm_cli.refine.literals import (
    apply_replacements,
    code_literals,
    colour_of,
    markup_literals,
    python_literals,
)

CHART = """import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6.4, 4.8))
cats = ['A', 'B', 'C']
vals = [3, -5.5, 2]
ax.bar(cats, vals, color=['#ff0000', 'blue', 'g'])
ax.plot([1, 2, 3], [4, 5, 6], 'o-', color='r', label='Série é')
ax.set_title("Sales 2023", fontsize=14, loc='left')
plt.show()
"""


def test_python_literals_roles_and_context():
    cl = python_literals(CHART)
    by_text = {CHART[x.start:x.end]: x for x in cl.literals}
    assert by_text['"Sales 2023"'].role == "text" and by_text['"Sales 2023"'].call == "set_title"
    assert by_text["'#ff0000'"].role == "colour" and by_text["'g'"].role == "colour"
    assert by_text["'r'"].role == "colour"  # a single letter is a colour only in a colour context
    assert "'o-'" not in by_text and "'left'" not in by_text  # fmt strings and positions are not text
    assert by_text["'Série é'"].role == "text"  # non-ASCII spans are exact
    fontsize = by_text["14"]
    assert fontsize.role == "number" and fontsize.call_pos == by_text['"Sales 2023"'].call_pos
    lists = {tuple(nl.values): nl for nl in cl.number_lists}
    assert (3.0, -5.5, 2.0) in lists and lists[(3.0, -5.5, 2.0)].var == "vals"
    assert lists[(6.4, 4.8)].key == "figsize"


def test_rewrite_keeps_everything_else_and_stays_valid_python():
    cl = python_literals(CHART)
    title = next(x for x in cl.literals if x.call == "set_title" and x.role == "text")
    data = next(nl for nl in cl.number_lists if nl.var == "vals")
    colour = next(x for x in cl.literals if x.value == "blue")
    new = apply_replacements(CHART, [(title, "Revenue 'Q1' \\ 2024"), (data.items[1], 7.25), (colour, "#4c72b0")],
                             "python")
    ast.parse(new)
    assert "ax.set_title(\"Revenue 'Q1' \\\\ 2024\", fontsize=14, loc='left')" in new
    assert "vals = [3, 7.25, 2]" in new and "'#4c72b0'" in new
    assert new.replace("7.25", "-5.5") .count("\n") == CHART.count("\n")
    # untouched lines are byte-identical
    assert new.splitlines()[5] == CHART.splitlines()[5]


def test_markup_literals_and_rewrite():
    svg = '<svg width="10" height="10"><rect fill="#e76f51" style="stroke:red"/><text>Hi &amp; bye</text></svg>'
    cl = markup_literals(svg)
    roles = {(x.role, x.value) for x in cl.literals}
    assert ("colour", "#e76f51") in roles and ("colour", "red") in roles and ("text", "Hi & bye") in roles
    text = next(x for x in cl.literals if x.role == "text")
    fill = next(x for x in cl.literals if x.value == "#e76f51")
    out = apply_replacements(svg, [(text, "A < B"), (fill, "#2a9d8f")], "markup")
    assert "<text>A &lt; B</text>" in out and 'fill="#2a9d8f"' in out and "stroke:red" in out


def test_colour_parsing():
    assert colour_of("#abc") == (170, 187, 204)
    assert colour_of("rgb(1, 2, 3)") == (1, 2, 3)
    assert colour_of("tab:blue") == (31, 119, 180)
    assert colour_of("r") is None and colour_of("r", True) == (255, 0, 0)
    assert colour_of("hello") is None


def test_unparsable_code_has_no_literals():
    assert code_literals("def broken(:\n", "matplotlib") is None


def test_apply_edits_skips_conflicts_and_inserts_before_show():
    cl = python_literals(CHART)
    title = next(x for x in cl.literals if x.call == "set_title" and x.role == "text")
    first = Edit("text", "a", 2.0, [(title, "First")])
    second = Edit("text", "b", 1.0, [(title, "Second")])
    add = Edit("text", "c", 1.0, insert="plt.gca().set_xlabel('X')")
    out = apply_edits(CHART, [first, second, add], "python")
    assert '"First"' in out and "Second" not in out
    lines = out.splitlines()
    assert lines.index("plt.gca().set_xlabel('X')") == lines.index("plt.show()") - 1
    assert insert_statements("a = 1", ["b = 2"]) == "a = 1\nb = 2\n"


def test_data_edits_never_treat_figsize_as_a_two_point_series():
    """A two-point line whose figure size is also a pair of numbers: any two numbers fit two points
    exactly, so figsize used to be "corrected" as data (asking for a ~110-megapixel render)."""
    from erm_cli.refine import literal_search
    from erm_cli.refine.analysis import analyse_image, frame_map
    from erm_cli.refine.literals import code_literals
    from erm_cli.renderers import render

    code = ("import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(8, 6))\n"
            "ax.plot(['A', 'B'], {vals}, color='#1f77b4', linewidth=2.5)\nax.set_ylim(0, 10)\nplt.show()\n")
    ref_img = render(code.format(vals="[4, 8]"), kind="matplotlib").image()
    wrong = code.format(vals="[6, 3]")
    cand_img = render(wrong, kind="matplotlib").image()
    cl = code_literals(wrong, "matplotlib")
    assert cl is not None
    figsize = next(nl for nl in cl.number_lists if nl.key == "figsize")
    edits = literal_search.data_edits(cl, analyse_image(ref_img, "chart"), analyse_image(cand_img, "chart"),
                                      frame_map(ref_img, cand_img))
    touched = {lit.start for e in edits for lit, _ in e.replacements}
    assert touched, "the wrong line values should be proposed for correction"
    assert not touched & {lit.start for lit in figsize.items}, [e.description for e in edits]
