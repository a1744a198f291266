"""`erm train reward`: real TRL SFTTrainer on a tiny random Qwen3-VL (CPU), real judge, real bench metrics.

One overfit run carries most checks (training is the slow part): the loss falls on a handful of
examples, the checkpoint is written and reloads as ``hf:OUT`` as a VLM judge that answers in the
verdict JSON it was taught, and the evaluation hook logs F1 / Sc from ``erm bench judge``'s library.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from erm_cli.errors import InputError  # noqa: E402
from erm_cli.judges import get_judge  # noqa: E402
from erm_cli.judges.verdict import ErrorItem, Verdict  # noqa: E402
from erm_cli.judges.vlm import verdict_to_target_json  # noqa: E402
from erm_cli.models.base import Sampling  # noqa: E402
from erm_cli.train.config import resolve_settings  # noqa: E402
from erm_cli.train.datasets import load_judge_data  # noqa: E402
from erm_cli.train.reward_sft import train_reward_model  # noqa: E402

SHORT_PROMPT = "Image 1 is the reference chart, image 2 the candidate. List their differences as JSON."
GOLD = [ErrorItem("data_error", 2, "first bar", "the bar is too tall")]


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def chart(path: Path, height: int) -> None:
    img = Image.new("RGB", (320, 240), "white")
    d = ImageDraw.Draw(img)
    d.rectangle([40, 200 - height, 100, 200], fill=(31, 119, 180))
    d.rectangle([140, 120, 200, 200], fill=(255, 127, 14))
    d.line([20, 200, 300, 200], fill="black", width=2)
    img.save(path)


def vc_row(rid: str, ref: str, cand: str, errors: list[ErrorItem]) -> dict:
    return {
        "id": rid,
        "category": "chart",
        "gt_img_path": ref,
        "pred_img_path": cand,
        "human_errors": [e.to_dict() for e in errors],
    }


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("judge-data")
    chart(root / "ref.png", 100)
    chart(root / "tall.png", 150)
    chart(root / "same.png", 100)
    chart(root / "short.png", 60)
    train = [vc_row("tall", "ref.png", "tall.png", GOLD), vc_row("same", "ref.png", "same.png", [])]
    (root / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train))
    held = [
        vc_row("short", "ref.png", "short.png", [ErrorItem("data_error", 1, "first bar", "too short")]),
        vc_row("same2", "ref.png", "same.png", []),
    ]
    (root / "heldout.jsonl").write_text("".join(json.dumps(r) + "\n" for r in held))
    (root / "prompt.txt").write_text(SHORT_PROMPT)
    return root


def test_overfit_checkpoint_judges_and_eval_hook(
    data_dir: Path, tmp_path: Path, tiny_train_settings: Any
) -> None:
    out = tmp_path / "judge"
    resolved = tiny_train_settings(
        "reward",
        data_dir,
        out,
        max_steps=60,
        learning_rate=3e-3,
        logging_steps=10,
        prompt_file=str(data_dir / "prompt.txt"),
        eval_data=str(data_dir / "heldout.jsonl"),
        eval_steps=30,
        eval_max_new_tokens=160,
    )
    result = train_reward_model(resolved)

    # a tiny overfit on a handful of examples lowers the loss, and every logged loss is finite
    assert result.steps == 60
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if "loss" in r]
    assert len(losses) == 6 and all(math.isfinite(v) for v in losses)
    assert result.first_loss == losses[0] and result.last_loss == losses[-1]
    assert losses[-1] < 0.25 * losses[0], losses

    # the checkpoint: a plain transformers folder plus erm's records
    for name in (
        "model.safetensors",
        "config.json",
        "processor_config.json",
        "tokenizer.json",
        "judge_prompts.txt",
        "erm_train.json",
    ):
        assert (out / name).is_file(), name
    record = json.loads((out / "erm_train.json").read_text())
    assert record["settings"]["learning_rate"] == 3e-3 and record["sources"]["max_steps"] == "command line"
    assert record["data"]["train"] == 2 and record["data"]["heldout"] == 2

    # the evaluation hook: erm bench judge metrics on the held-out split, in-loop (step 30) and final
    in_loop = [r for r in rows if "eval/parsed_pct" in r]
    assert [r["step"] for r in in_loop] == [30]
    assert (out / "eval" / "step-30" / "metrics.json").is_file()
    ev = result.evaluation
    assert ev is not None and ev["items"] == 2 and ev["failed"] == 0
    assert (Path(ev["bench_dir"]) / "metrics.json").is_file()
    for key in ("f1_hard", "f1_soft", "sc", "parsed_pct"):
        assert key in ev
    assert ev["parsed_pct"] == 100.0  # the trained judge answers in the taught JSON
    assert 0.0 <= ev["f1_hard"] <= 100.0 and 0.0 <= ev["f1_soft"] <= 100.0

    # the trained judge loads as hf:OUT and judges
    assert result.load_with.endswith(
        f"--judge vlm --model hf:{out} --prompt-file {out / 'judge_prompts.txt'}"
    )
    judge = get_judge(
        "vlm",
        model=f"hf:{out}",
        prompt_file=str(out / "judge_prompts.txt"),
        sampling=Sampling(max_tokens=200, temperature=0.0),
        retries=0,
    )
    verdict = judge.judge(Image.open(data_dir / "ref.png"), Image.open(data_dir / "same.png"), "chart")
    assert verdict.parsed and verdict.judge["model"] == f"hf:{out}"
    taught = {verdict_to_target_json(Verdict("chart", errs)) for errs in (GOLD, [])}
    assert verdict.info["raw_output"].strip() in taught


def test_chat_records_with_lora(data_dir: Path, tmp_path: Path, tiny_train_settings: Any) -> None:
    """`erm synth --format sft` chat records; LoRA adapters merged into a loadable full checkpoint."""
    rows = []
    for rid, cand, errs in (("tall", "tall.png", GOLD), ("same", "same.png", [])):
        rows.append(
            {
                "id": rid,
                "category": "chart",
                "images": ["ref.png", cand],
                "prompt": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image"},
                            {"type": "image"},
                            {"type": "text", "text": SHORT_PROMPT},
                        ],
                    }
                ],
                "completion": [
                    {"role": "assistant", "content": verdict_to_target_json(Verdict("chart", errs))}
                ],
            }
        )
    sft = data_dir / "sft.jsonl"
    sft.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "lora"
    lora = {"lora": True, "lora_r": 4, "lora_alpha": 8}
    resolved = tiny_train_settings(
        "reward", sft, out, max_steps=3, eval=False, max_image_pixels=96 * 96, **lora
    )
    result = train_reward_model(resolved)
    assert result.steps == 3 and result.evaluation is None
    assert math.isfinite(result.first_loss) and math.isfinite(result.last_loss)
    assert (out / "adapter" / "adapter_config.json").is_file()
    # the pixel cap travels with the saved processor, so inference sees what training saw
    saved = json.loads((out / "processor_config.json").read_text())["image_processor"]["size"]
    assert saved["longest_edge"] == 96 * 96

    from safetensors import safe_open

    with safe_open(str(out / "model.safetensors"), "pt") as fh:
        keys = list(fh.keys())
    assert keys and not any("lora" in k for k in keys)  # merged: a plain checkpoint
    from erm_cli.models.hf import load_hf
    from erm_cli.models.tiny import ensure_tiny_model

    model, _ = load_hf(out, fresh=True)
    base, _ = load_hf(ensure_tiny_model(), fresh=True)
    changed = [
        n
        for (n, p), (_, q) in zip(model.named_parameters(), base.named_parameters())
        if not torch.equal(p, q)
    ]
    assert changed and all("language_model" in n for n in changed)  # LoRA touched the language model only


def test_bad_judge_data(data_dir: Path, tmp_path: Path) -> None:
    def settings(data: Path) -> object:
        return resolve_settings(
            "reward", overrides={"data": str(data), "model": "tiny:qwen3-vl", "out": str(tmp_path / "o")}
        ).settings

    missing = tmp_path / "missing.jsonl"
    shutil.copy(data_dir / "ref.png", tmp_path / "ref.png")
    missing.write_text(json.dumps(vc_row("x", "ref.png", "nope.png", [])) + "\n")
    with pytest.raises(InputError, match="nope.png"):
        load_judge_data(settings(missing))
    unlabelled = tmp_path / "unlabelled.jsonl"
    shutil.copy(data_dir / "same.png", tmp_path / "same.png")
    row = vc_row("x", "ref.png", "same.png", [])
    del row["human_errors"]
    unlabelled.write_text(json.dumps(row) + "\n")
    with pytest.raises(InputError, match="no gold errors"):
        load_judge_data(settings(unlabelled))
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    with pytest.raises(InputError, match="broken.jsonl:1: not valid JSON"):
        load_judge_data(settings(broken))


def test_cli_reward_run_with_heldout_split(data_dir: Path, tmp_path: Path, tiny_train_cli: Any) -> None:
    """The CLI on VC-RewardBench data: default held-out slice, final evaluation, JSON result on stdout."""
    out = tmp_path / "cli-judge"
    flags = (
        "--max-steps",
        "2",
        "--prompt-file",
        str(data_dir / "prompt.txt"),
        "--set",
        "eval_max_new_tokens=16",
    )
    r = tiny_train_cli("reward", data_dir, out, *flags, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    data = json.loads(r.stdout)
    assert data["out"] == str(out.resolve()) and data["steps"] == 2
    assert data["metrics"]["train_examples"] == 1 and data["metrics"]["heldout_examples"] == 1
    assert data["evaluation"]["items"] == 1 and "sc" in data["evaluation"]
    assert data["load_with"].startswith("erm judge REF PRED --judge vlm --model hf:")
    assert (out / "eval" / "heldout.jsonl").is_file()
