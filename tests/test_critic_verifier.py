"""The critic's learned verifier: numpy tree evaluator, shipped model and manifest, decisions on real renders."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from PIL import Image

from erm_cli.judges.critic import Critic
from erm_cli.judges.critic.features import confusion_normal
from erm_cli.judges.critic.verifier import (
    MODEL_FORMAT,
    MODEL_PATH,
    TreeEnsemble,
    VerifierModel,
    shipped_model,
)
from erm_cli.judges.verdict import TAXONOMY


def _toy_data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    X[rng.random((n, 5)) < 0.15] = np.nan  # missing values take the trees' learned side
    y = ((np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1]) ** 2 - np.isnan(X[:, 2])) > 0.3).astype(int)
    z = np.nan_to_num(X[:, 3]) * 2 + np.nan_to_num(X[:, 4])
    return X, y, z


def test_numpy_evaluator_equals_sklearn() -> None:
    pytest.importorskip("sklearn")
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    from erm_cli.train.critic import export_hgb

    X, y, z = _toy_data()
    names = [f"f{i}" for i in range(X.shape[1])]
    clf = HistGradientBoostingClassifier(max_iter=40, max_leaf_nodes=7, random_state=0).fit(X[:300], y[:300])
    reg = HistGradientBoostingRegressor(max_iter=30, max_leaf_nodes=7, random_state=0).fit(X[:300], z[:300])
    # through JSON, as the shipped file is read
    tc = TreeEnsemble.from_dict(json.loads(json.dumps(export_hgb(clf, names))))
    tr = TreeEnsemble.from_dict(json.loads(json.dumps(export_hgb(reg, names))))
    Xt = X[300:]
    np.testing.assert_allclose(tc.predict(Xt), clf.predict_proba(Xt)[:, 1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tr.predict(Xt), reg.predict(Xt), rtol=1e-9, atol=1e-9)
    # rows given as feature dicts (missing names = nan) give the same numbers
    rows = [{k: float(v) for k, v in zip(names, r) if not np.isnan(v)} for r in Xt]
    np.testing.assert_allclose(tc.predict(rows), clf.predict_proba(Xt)[:, 1], rtol=1e-9, atol=1e-12)


def test_shipped_model_loads_and_manifest_is_complete() -> None:
    assert MODEL_PATH.exists(), "the package ships erm_cli/judges/critic/verifier_model.json"
    assert MODEL_PATH.stat().st_size <= 10 * 1024 * 1024
    raw = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert raw["format"] == MODEL_FORMAT
    model = shipped_model()
    assert isinstance(model, VerifierModel)
    m = model.manifest
    for key in ("seed", "command", "sources", "sizes", "versions", "metrics", "settings"):
        assert key in m, key
    assert m["sizes"]["pairs"] > 100 and m["sizes"]["proposals"] > 100
    assert m["versions"]["scikit-learn"] and m["versions"]["numpy"]
    assert 0.5 < m["metrics"]["dev_proposal_auroc"] <= 1.0
    manifest_file = MODEL_PATH.with_name("verifier_model.manifest.json")
    assert json.loads(manifest_file.read_text(encoding="utf-8")) == m
    # every feature a head reads is one the feature code can produce
    assert model.proposal.features and model.pair.features
    assert model.proposal.roots.size > 0 and model.pair.roots.size > 0


def test_confusion_normalisation_merges_ocr_look_alikes() -> None:
    assert confusion_normal("Q1") == confusion_normal("Ql") or confusion_normal("Ql") == confusion_normal("QI")
    assert confusion_normal("0.8") == confusion_normal("08")
    assert confusion_normal("17.5") == confusion_normal("175")
    assert confusion_normal("S0") == confusion_normal("50")
    assert confusion_normal("42") != confusion_normal("24")


# ----------------------------------------------------------------------------------- real renders

_BAR = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6.4, 4.8))
ax.bar(["Q1", "Q2", "Q3", "Q4"], [{a}, 19, 15, 22], color="#4472c4")
ax.set_title("Quarterly revenue")
ax.set_ylabel("Revenue (M$)")
ax.plot([0, 1, 2, 3], [10, 14, 12, 18], color="#c0504d", linewidth=1.0)
"""


# thin lines, small print, markers, grid and legend: the analysers propose spurious differences when this
# figure is exported as SVG and rasterised by another engine
_LINES = """
import numpy as np
import matplotlib.pyplot as plt
x = np.linspace(0, 10, 200)
fig, ax = plt.subplots(figsize=(6.4, 4.8))
for k in range(4):
    ax.plot(x, np.sin(x + k) * (k + 1), linewidth=0.7, label=f"series {k}")
ax.scatter(x[::20], np.cos(x[::20]) * 3, s=12, marker="s", color="k")
ax.set_title("Damped oscillations, small print", fontsize=9)
ax.set_xlabel("time (s)", fontsize=8); ax.set_ylabel("amplitude (mV)", fontsize=8)
ax.tick_params(labelsize=7)
ax.grid(True, linewidth=0.4, alpha=0.5)
ax.legend(fontsize=7, loc="upper right")
"""


def _render(code: str) -> Image.Image:
    from erm_cli.renderers import RenderOptions, render

    res = render(code, "matplotlib", RenderOptions())
    assert res.ok and res.png, res.error
    return Image.open(io.BytesIO(res.png)).convert("RGB")


class _Recorder:
    """Keeps the analysers' proposals, then lets the shipped verifier decide."""

    def __init__(self) -> None:
        from erm_cli.judges.critic.verifier import default_verifier

        self.inner = default_verifier()
        self.proposals: list = []

    def decide(self, findings, ctx):  # type: ignore[no-untyped-def]
        self.proposals = list(findings)
        return self.inner.decide(findings, ctx)


def test_verifier_on_by_default_and_switchable() -> None:
    assert Critic().verifier is not None
    assert Critic(verifier=False).verifier is None


def test_verifier_drops_nuisance_on_a_rerasterised_render_and_keeps_a_real_error() -> None:
    from erm_cli.data.nuisance import code_route

    lines = _render(_LINES)
    # the same figure exported as SVG and rasterised by another engine (CairoSVG): a nuisance route
    eq = Image.open(io.BytesIO(code_route(_LINES, "matplotlib", "svg", reference_size=lines.size))).convert("RGB")
    rec = _Recorder()
    v_eq = Critic(verifier=rec).judge(lines, eq, "chart")
    assert rec.proposals, "the analysers propose something on this re-rasterised figure"
    assert v_eq.info["verifier"]["proposals"] == len(rec.proposals)
    assert v_eq.errors == [], [e.to_dict() for e in v_eq.errors]
    # no error; the reward keeps only the pair head's small term, below one minor error's weight
    pw = v_eq.info["verifier"]["reward_pair_weight"]
    assert 0.0 <= pw < 1.0 and v_eq.pair_weight == pw
    assert v_eq.reward == pytest.approx(math.exp(-pw / 30)) and v_eq.reward > math.exp(-1 / 30)
    # ablation: the analysers alone report what the verifier dropped
    v_raw = Critic(verifier=False).judge(lines, eq, "chart")
    assert "verifier" not in v_raw.info
    assert len(v_raw.errors) == len(rec.proposals) and v_raw.reward < 1.0
    # a real error: the Q1 bar at 4 instead of 12
    ref = _render(_BAR.format(a=12))
    bad = _render(_BAR.format(a=4))
    v_bad = Critic().judge(ref, bad, "chart")
    assert v_bad.errors, "the changed bar is reported"
    assert {e.category for e in v_bad.errors} <= set(TAXONOMY["chart"])
    assert any(e.category == "data_error" for e in v_bad.errors), [e.to_dict() for e in v_bad.errors]
    kept = [e for e in v_bad.errors if e.evidence and "verifier_p_real" in e.evidence]
    assert kept and all(e.location and e.description for e in kept)
    assert v_bad.reward < v_eq.reward  # the equivalent outranks the candidate with the real error


def test_erm_train_critic_writes_a_loadable_model_and_a_rerun_only_refits(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("sklearn")
    import subprocess
    import sys
    from pathlib import Path

    erm = Path(sys.executable).with_name("erm")
    cmd = [str(erm), "train", "critic", "--out-dir", str(tmp_path / "v"), "--n-bases", "6", "--workers", "2", "--json"]
    first = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-2000:]
    result = json.loads(first.stdout)
    heads = json.loads(Path(result["model"]).read_text())["heads"]
    model = VerifierModel.load(result["model"])
    m = model.manifest
    assert m["seed"] == 0 and m["sizes"]["pairs"] == sum(m["sizes"]["pairs_by_route"].values())
    assert {"jpeg", "resample", "perturbed"} <= set(m["sizes"]["pairs_by_route"])
    assert "gallery" in m["sources"]["excluded"]
    assert json.loads((tmp_path / "v" / "verifier_model.manifest.json").read_text()) == m
    # everything is cached: the rerun judges nothing and fits the same trees
    second = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "judging pairs" in second.stderr
    again = json.loads((tmp_path / "v" / "verifier_model.json").read_text())
    assert again["heads"] == heads
