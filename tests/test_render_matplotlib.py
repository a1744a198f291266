"""matplotlib renders of ChartMimic-style scripts: savefig to any path/format, show, or neither."""

from __future__ import annotations

from pathlib import Path

from erm_cli.renderers import RenderOptions, render

HEAD = "import matplotlib.pyplot as plt\nimport numpy as np\n"
BODY = "fig, ax = plt.subplots(figsize=(4, 3))\nax.plot(np.arange(5), np.arange(5) ** 2, 'o-')\nax.set_title('t')\n"


def mpl(code: str, **opts):
    return render(code, kind="matplotlib", options=RenderOptions(**opts), cache=False)


def test_example_chart(examples_dir: Path) -> None:
    result = render((examples_dir / "chart.py").read_text())
    assert result.ok and result.kind == "matplotlib", result.error
    w, h = result.image().size
    assert 700 < w <= 800 and 400 < h <= 500  # figsize 8x5 at 100 dpi, cropped by bbox_inches="tight"
    assert result.versions["matplotlib"] and result.versions["numpy"]


def test_savefig_show_or_neither_give_the_same_picture() -> None:
    saved = mpl(HEAD + BODY + "plt.savefig('/nonexistent/dir/out.pdf', format='pdf', dpi=300)\n")
    shown = mpl(HEAD + BODY + "plt.show()\nplt.close('all')\n")
    neither = mpl(HEAD + BODY)
    method = mpl(HEAD + BODY + "fig.savefig('x.svg')\n")
    assert saved.ok and shown.ok and neither.ok and method.ok
    assert saved.png == shown.png == neither.png == method.png
    assert saved.image().size == (400, 300)  # our dpi (100), not the code's 300


def test_first_savefig_is_captured() -> None:
    code = HEAD + BODY + "plt.savefig('a.png')\nax.set_title('changed later')\nplt.savefig('b.png')\n"
    first = mpl(code)
    expected = mpl(HEAD + BODY + "plt.savefig('a.png')\n")
    assert first.png == expected.png


def test_bbox_inches_tight_is_honoured() -> None:
    tight = mpl(HEAD + BODY + "plt.savefig('x.png', bbox_inches='tight')\n")
    assert tight.ok and tight.image().size[0] < 400


def test_dpi_option() -> None:
    assert mpl(HEAD + BODY, dpi=50).image().size == (200, 150)


def test_default_figure_size_is_8_by_6() -> None:
    assert mpl(HEAD + "plt.plot([1, 2, 3])\n").image().size == (800, 600)


def test_figure_object_without_pyplot() -> None:
    code = "from matplotlib.figure import Figure\nfig = Figure(figsize=(2, 2))\nfig.add_subplot().plot([1, 2])\n"
    result = mpl(code)
    assert result.ok and result.image().size == (200, 200)


def test_seaborn_free_pandas_and_3d_chart() -> None:
    code = (HEAD + "from mpl_toolkits.mplot3d import Axes3D  # noqa\nfig = plt.figure(figsize=(3, 3))\n"
            "ax = fig.add_subplot(projection='3d')\nx = np.linspace(0, 1, 20)\nax.plot(x, x ** 2, x ** 3)\n")
    assert mpl(code).ok


def test_chat_completion_is_extracted() -> None:
    answer = f"Here is the code to reproduce the chart:\n\n```python\n{HEAD + BODY}```\n\nLet me know!"
    result = render(answer, cache=False)
    assert result.ok and result.kind == "matplotlib"
    assert result.png == mpl(HEAD + BODY).png
