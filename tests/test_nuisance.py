"""Nuisance routes (erm_cli.data.nuisance) on real renders, and the robustness metrics (erm_cli.bench.robustness)
on small hand-built record sets whose expected values the tests compute independently."""

from __future__ import annotations

import io
import itertools
import random

import numpy as np
import pytest
from PIL import Image

from erm_cli.bench.judge_metrics import pearson
from erm_cli.bench.robustness import (
    baseline_scores,
    block_metrics,
    category_counts,
    pixel_similarity,
    ranking_pairs,
    robustness_metrics,
    split_of,
)
from erm_cli.data.nuisance import (
    CODE_ROUTES,
    DOWNSCALE_FACTOR,
    HARD_ROUTES,
    IMAGE_ROUTES,
    JPEG_QUALITY,
    SVG_SIZE_FACTOR,
    code_route,
    document_table_html,
    downscale_factor,
    equivalents,
    image_route,
    jpeg_quality,
    routes_for,
)
from erm_cli.errors import InputError

CHART = '''import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot([1, 2, 3, 4, 5], [3.0, 1.5, 4.2, 2.2, 3.8], marker="o", color="#1f77b4", label="North")
ax.bar([1, 2, 3, 4, 5], [1.2, 2.4, 1.1, 2.8, 1.9], color="#ff7f0e", alpha=0.6, label="South")
ax.set_title("Revenue by month 2024")
ax.set_xlabel("Month")
ax.set_ylabel("Revenue (M$)")
ax.grid(True, alpha=0.4)
ax.legend()
plt.savefig("chart.png")
'''

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="150" viewBox="0 0 200 150">'
       '<rect x="10" y="10" width="90" height="60" rx="8" fill="#c0392b"/>'
       '<circle cx="145" cy="70" r="40" fill="none" stroke="#1a5276" stroke-width="4"/>'
       '<path d="M20 130 L80 95 L120 130 Z" fill="#27ae60"/></svg>')

TABLE = ("| Item | Q1 | Q2 | Q3 |\n|---|---|---|---|\n| Apples | 12.5 | -3.2 | 7.75 |\n"
         "| Pears | 7 | 42.4 | 130.1 |\n| Plums | 0.25 | 19 | 8 |\n")


def _rgb(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=-1, data_range=255))


@pytest.fixture(scope="module")
def chart_png() -> bytes:
    from erm_cli.renderers import render

    result = render(CHART, "matplotlib")
    assert result.ok, result.error
    return result.png


@pytest.fixture(scope="module")
def svg_png() -> bytes:
    from erm_cli.renderers import render

    result = render(SVG, "svg")
    assert result.ok, result.error
    return result.png


# ------------------------------------------------------------------------------------------- routes
@pytest.mark.parametrize("route", IMAGE_ROUTES)
def test_image_route_changes_pixels_but_stays_close(chart_png: bytes, route: str) -> None:
    ref = _rgb(chart_png)
    out = _rgb(image_route(chart_png, route, seed=5))
    if route == "downscale":  # a smaller copy: 0.25-0.5x, the same picture once resized back
        h, w = ref.shape[:2]
        f = downscale_factor(5)
        assert DOWNSCALE_FACTOR[0] <= f <= DOWNSCALE_FACTOR[1]
        assert out.shape[:2] == (round(h * f), round(w * f))
        out = np.asarray(Image.fromarray(out).resize((w, h), Image.LANCZOS))
    assert out.shape == ref.shape
    assert not np.array_equal(out, ref)
    assert _ssim(ref, out) > 0.8
    assert image_route(chart_png, route, seed=5) == image_route(chart_png, route, seed=5)  # deterministic


def test_jpeg_quality_is_drawn_from_the_seed() -> None:
    qualities = {jpeg_quality(seed) for seed in range(60)}
    assert all(JPEG_QUALITY[0] <= q <= JPEG_QUALITY[1] for q in qualities)
    assert len(qualities) > 5


@pytest.mark.parametrize("route", CODE_ROUTES["matplotlib"])
def test_matplotlib_routes_redraw_the_same_figure(chart_png: bytes, route: str) -> None:
    if route == "pdf":
        pytest.importorskip("pypdfium2")
    ref = _rgb(chart_png)
    h, w = ref.shape[:2]
    out = _rgb(code_route(CHART, "matplotlib", route, reference_size=(w, h)))
    assert not np.array_equal(out, ref)
    if route.startswith("dpi"):  # another pixel size in proportion to the dpi, same picture once resized
        scale = int(route[3:]) / 100
        assert abs(out.shape[1] - w * scale) <= 2 and abs(out.shape[0] - h * scale) <= 2
        out = np.asarray(Image.fromarray(out).resize((w, h), Image.LANCZOS))
    else:
        assert out.shape == ref.shape
    assert _ssim(ref, out) > 0.8


def test_vector_routes_differ_from_each_other(chart_png: bytes) -> None:
    """SVG through CairoSVG and PDF through PDFium are two engines: their pixels differ from Agg's and each other's."""
    pytest.importorskip("pypdfium2")
    size = Image.open(io.BytesIO(chart_png)).size
    svg = _rgb(code_route(CHART, "matplotlib", "svg", reference_size=size))
    pdf = _rgb(code_route(CHART, "matplotlib", "pdf", reference_size=size))
    assert not np.array_equal(svg, pdf)


def test_svg_route_renders_at_another_size(svg_png: bytes) -> None:
    ref = _rgb(svg_png)
    h, w = ref.shape[:2]
    out = _rgb(code_route(SVG, "svg", "svg_size", reference_size=(w, h)))
    assert out.shape[1] == round(w * SVG_SIZE_FACTOR) and abs(out.shape[0] - h * SVG_SIZE_FACTOR) <= 1
    back = np.asarray(Image.fromarray(out).resize((w, h), Image.LANCZOS))
    assert not np.array_equal(back, ref)
    assert _ssim(ref, back) > 0.8


def _vertical_rules(img: np.ndarray) -> int:
    """Columns that are dark over most of the table's height (cell borders)."""
    dark = img.mean(axis=-1) < 128
    rows = np.flatnonzero(dark.any(axis=1))
    body = dark[rows[0]:rows[-1] + 1]
    return int((body.mean(axis=0) > 0.8).sum())


def test_document_route_draws_the_table_in_a_document_look(has_chromium: bool) -> None:
    if not has_chromium:
        pytest.skip("Chromium is not installed")
    from erm_cli.renderers import render

    plain = render(TABLE, "markdown")
    assert plain.ok, plain.error
    doc = _rgb(code_route(TABLE, "markdown", "document", reference_size=(1, 1)))
    ref = _rgb(plain.png)
    assert doc.shape != ref.shape or not np.array_equal(doc, ref)
    assert _vertical_rules(ref) >= 4  # erm's plain grid: a border left of every column and at the right
    assert _vertical_rules(doc) == 0  # the document look: horizontal rules only
    assert "-3.2" in document_table_html(TABLE, "markdown")


def test_equivalents_skip_and_record_failing_routes(chart_png: bytes) -> None:
    broken = "import matplotlib.pyplot as plt\nraise ValueError('no figure today')\n"
    eq = equivalents(broken, "matplotlib", chart_png, seed=1, routes=("dpi72", "svg", "jpeg"))
    assert set(eq) == {"jpeg"}
    assert set(eq.failures) == {"dpi72", "svg"}
    assert all("no figure today" in why for why in eq.failures.values())


def test_equivalents_default_routes_and_bad_route(chart_png: bytes) -> None:
    eq = equivalents(CHART, "matplotlib", chart_png, seed=2, routes=("aa", "resample"))
    assert set(eq) == {"aa", "resample"} and not eq.failures
    with pytest.raises(InputError):
        equivalents(CHART, "matplotlib", chart_png, seed=2, routes=("document",))
    with pytest.raises(InputError):
        image_route(chart_png, "sepia", seed=0)
    assert set(routes_for("svg")) >= {"svg_size", *IMAGE_ROUTES}
    assert HARD_ROUTES <= {r for routes in CODE_ROUTES.values() for r in routes}


# ------------------------------------------------------------------------------------------ metrics
def _brute_auroc(pos: list[float], neg: list[float]) -> float:
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return 100.0 * wins / (len(pos) * len(neg))


def _records(seed: int = 3) -> list[dict]:
    """Three bases: equivalents (two routes, one hard), two singles and a triple superset each."""
    rng = random.Random(seed)
    rows = []
    for b in range(3):
        base = f"base{b}"
        for route, hard in (("jpeg", False), ("svg", True)):
            pred = [{"category": "text_error", "severity": 1}] if rng.random() < 0.4 else []
            rows.append({"id": f"{base}/eq-{route}", "source": "synth", "base": base, "split": split_of(base),
                         "label": "equivalent", "route": route, "hard": hard, "gold": [], "pred": pred,
                         "scores": {"critic": round(rng.uniform(0.8, 1.0), 2), "mse": round(rng.random(), 3)}})
        for kind, cat in (("chart.marker", "style_error"), ("chart.title", "text_error")):
            found = rng.random() < 0.6
            pred = [{"category": cat if rng.random() < 0.5 else "data_error", "severity": 2}] if found else []
            rows.append({"id": f"{base}/p1-{kind}", "source": "synth", "base": base, "split": split_of(base),
                         "label": "perturbed", "kind": kind, "group": f"{base}/{kind}",
                         "gold": [{"category": cat, "severity": 1}], "pred": pred,
                         "scores": {"critic": round(rng.uniform(0.6, 1.0), 2), "mse": round(rng.random(), 3)}})
        rows.append({"id": f"{base}/p3", "source": "synth", "base": base, "split": split_of(base),
                     "label": "triple", "kind": "chart.marker", "group": f"{base}/chart.marker",
                     "gold": [{"category": "style_error", "severity": 1}, {"category": "data_error", "severity": 3},
                              {"category": "text_error", "severity": 2}],
                     "pred": [{"category": "data_error", "severity": 3}] * rng.randint(0, 3),
                     "scores": {"critic": round(rng.uniform(0.3, 1.0), 2), "mse": round(rng.random(), 3)}})
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_block_metrics_match_independent_computation(seed: int) -> None:
    rows = _records(seed)
    m = block_metrics(rows)
    eq = [r for r in rows if r["label"] == "equivalent"]
    neg = [r for r in rows if r["label"] != "equivalent"]
    hard = [r for r in eq if r["hard"]]
    for scorer in ("critic", "mse"):
        expect = _brute_auroc([r["scores"][scorer] for r in eq], [r["scores"][scorer] for r in neg])
        assert m["auroc"][scorer] == pytest.approx(expect, abs=0.01)
        expect_hard = _brute_auroc([r["scores"][scorer] for r in hard], [r["scores"][scorer] for r in neg])
        assert m["auroc_hard"][scorer] == pytest.approx(expect_hard, abs=0.01)
    clean = sum(1 for r in eq if not r["pred"])
    assert m["equivalent_no_error"] == pytest.approx(100 * clean / len(eq), abs=0.01)
    assert m["false_positive_rate"] == pytest.approx(100 * (len(eq) - clean) / len(eq), abs=0.01)
    singles = [r for r in rows if r["label"] == "perturbed"]
    markers = [r for r in singles if r["kind"] == "chart.marker"]
    assert m["recall_per_kind"]["chart.marker"]["found"] == pytest.approx(
        100 * sum(bool(r["pred"]) for r in markers) / len(markers), abs=0.01)
    assert m["recall"]["category_found"] == pytest.approx(
        100 * sum(any(p["category"] == r["gold"][0]["category"] for p in r["pred"]) for r in singles) / len(singles),
        abs=0.01)
    # pairwise: each base's marker single against its triple
    wins = 0.0
    for b in range(3):
        one = next(r for r in rows if r["id"] == f"base{b}/p1-chart.marker")["scores"]["critic"]
        three = next(r for r in rows if r["id"] == f"base{b}/p3")["scores"]["critic"]
        wins += 1.0 if one > three else 0.5 if one == three else 0.0
    assert m["pairwise_subset"]["critic"]["accuracy"] == pytest.approx(100 * wins / 3, abs=0.01)
    assert m["pairwise_subset"]["critic"]["pairs"] == 3
    pred_tot = [sum(e["severity"] for e in r["pred"]) for r in rows]
    gold_tot = [sum(e["severity"] for e in r["gold"]) for r in rows]
    r = pearson(pred_tot, gold_tot)
    if r is None:
        assert m["severity_pearson"] is None
    else:
        assert m["severity_pearson"] == pytest.approx(100 * float(np.corrcoef(pred_tot, gold_tot)[0, 1]), abs=0.01)


def test_category_counts_and_ranking_pairs_on_a_hand_set() -> None:
    rows = [
        {"label": "perturbed", "base": "a", "group": "a/x", "gold": [{"category": "style_error", "severity": 1}],
         "pred": [{"category": "style_error", "severity": 1}, {"category": "text_error", "severity": 1}],
         "scores": {"critic": 0.9}},
        {"label": "triple", "base": "a", "group": "a/x", "gold": [{"category": "style_error", "severity": 1}] * 3,
         "pred": [{"category": "style_error", "severity": 2}] * 2, "scores": {"critic": 0.95}},
        {"label": "equivalent", "base": "a", "gold": [], "pred": [{"category": "text_error", "severity": 1}],
         "scores": {"critic": 0.97}},
    ]
    cc = category_counts(rows)
    reported = 2 + 2 + 1
    right = 1 + 2 + 0
    gold = 1 + 3
    assert (cc["reported"], cc["gold"]) == (reported, gold)
    assert cc["precision"] == pytest.approx(100 * right / reported, abs=0.01)
    assert cc["recall"] == pytest.approx(100 * right / gold, abs=0.01)
    pairs = ranking_pairs(rows, "critic")
    assert pairs["subset"] == [(0.9, 0.95)]
    assert sorted(pairs["equivalent"]) == [(0.97, 0.9), (0.97, 0.95)]


def test_split_is_a_stable_hash_and_sources_are_kept_apart() -> None:
    names = [f"synth-chart-0-{i:04d}" for i in range(600)]
    splits = [split_of(n) for n in names]
    assert splits == [split_of(n) for n in names]
    share = {s: splits.count(s) / len(splits) for s in ("train", "dev", "test")}
    assert 0.6 < share["train"] < 0.8 and 0.08 < share["dev"] < 0.22 and 0.08 < share["test"] < 0.22
    rows = _records(1) + [{**r, "source": "gallery", "split": "report"} for r in _records(2)]
    m = robustness_metrics(rows)
    assert set(m["sources"]) == {"synth", "gallery"}
    assert m["erm_generated"]["pairs"] == len(_records(1))  # the third-party source is never pooled with ours
    test_only = robustness_metrics(rows, splits=["report"])
    assert set(test_only["sources"]) == {"gallery"}


def test_pixel_baseline_counts_changed_pixels() -> None:
    a = Image.new("RGB", (100, 80), "white")
    b = a.copy()
    b.paste((0, 0, 0), (0, 0, 20, 80))  # 20 of 100 columns black
    c = a.copy()
    c.paste((250, 250, 250), (0, 0, 100, 80))  # a change below the 24/255 threshold
    assert pixel_similarity(a, b) == pytest.approx(0.8, abs=0.01)
    assert pixel_similarity(a, c) == 1.0
    scores = baseline_scores(a, b)
    assert set(scores) == {"mse", "ssim", "phash", "pixels"} and all(0.0 <= v <= 1.0 for v in scores.values())
