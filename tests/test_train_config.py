"""`erm train` settings: layering (defaults < preset < config < CLI), presets, batch arithmetic, the
shipped accelerate configs, the format reward and the CLI's one-line errors. No model is trained here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from erm_cli.errors import InputError
from erm_cli.train.common import accumulation_steps
from erm_cli.train.config import PolicySettings, RewardSettings, resolve_settings, setting_names
from erm_cli.train.format_reward import format_score, make_format_reward
from erm_cli.train.policy_grpo import batch_plan, parse_reward_spec
from erm_cli.train.presets import list_presets, load_preset

REPO = Path(__file__).resolve().parent.parent
ERM = [sys.executable, "-m", "erm_cli.app"]


def test_layers_and_sources(tmp_path: Path) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text('preset = "paper-sft"\nlearning_rate = 2e-5\ndata = "synth"\n[policy]\nbeta = 0.5\n')
    r = resolve_settings("reward", config_file=cfg, overrides={"epochs": 1, "model": None})
    s = r.settings
    assert isinstance(s, RewardSettings)
    assert s.batch_size == 32 and r.sources["batch_size"] == "preset:paper-sft"
    assert s.learning_rate == 2e-5 and r.sources["learning_rate"].startswith("config:")
    assert s.epochs == 1 and r.sources["epochs"] == "command line"
    assert s.model is None and "model" not in r.sources  # None means "not given"
    assert s.data == str(tmp_path / "synth")  # config paths are relative to the config file
    assert r.preset == "paper-sft"


def test_yaml_and_json_configs(tmp_path: Path) -> None:
    y = tmp_path / "c.yaml"
    y.write_text("policy:\n  num_generations: 4\n  reward: vlm:tiny:qwen3-vl\nseed: 7\n")
    s = resolve_settings("policy", config_file=y).settings
    assert isinstance(s, PolicySettings) and s.num_generations == 4 and s.seed == 7
    assert s.reward == "vlm:tiny:qwen3-vl"
    j = tmp_path / "c.json"
    j.write_text(json.dumps({"lora": "yes", "lora_r": "8"}))
    s = resolve_settings("reward", config_file=j).settings
    assert s.lora is True and s.lora_r == 8


@pytest.mark.parametrize(
    "layer, message",
    [
        ({"learnig_rate": 1}, "did you mean 'learning_rate'"),
        ({"batch_size": "many"}, "'batch_size' must be an int"),
        ({"batch_size": 1.5}, "'batch_size' must be an int"),
        ({"precision": "fp8"}, "'precision' must be one of"),
        ({"max_steps": 0}, "'max_steps' must be a positive"),
        ({"warmup_ratio": 1.5}, "'warmup_ratio' must be in [0, 1)"),
    ],
)
def test_bad_settings_are_input_errors(layer: dict, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        resolve_settings("reward", overrides=layer)


def test_policy_validation() -> None:
    with pytest.raises(InputError, match="num_generations"):
        resolve_settings("policy", overrides={"num_generations": 1})
    with pytest.raises(InputError, match="both be 0"):
        resolve_settings("policy", overrides={"visual_weight": 0, "format_weight": 0})
    with pytest.raises(InputError, match="is for 'erm train reward'"):
        resolve_settings("policy", preset="paper-sft")
    with pytest.raises(InputError, match="unknown preset .*did you mean 'paper-sft'"):
        resolve_settings("reward", preset="paper-sf")


def test_bad_config_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("learning_rate = = 3")
    with pytest.raises(InputError, match="not a valid TOML"):
        resolve_settings("reward", config_file=bad)
    with pytest.raises(InputError, match="config file not found"):
        resolve_settings("reward", config_file=tmp_path / "missing.yaml")
    ini = tmp_path / "c.ini"
    ini.write_text("x")
    with pytest.raises(InputError, match="unknown config format"):
        resolve_settings("reward", config_file=ini)


def test_presets_carry_the_paper_settings() -> None:
    sft = load_preset("paper-sft")
    assert sft.kind == "reward"
    assert (sft.settings["learning_rate"], sft.settings["batch_size"], sft.settings["epochs"]) == (
        1e-5,
        32,
        3,
    )
    grpo = load_preset("paper-grpo")
    assert grpo.kind == "policy"
    assert (
        grpo.settings["learning_rate"],
        grpo.settings["batch_size"],
        grpo.settings["num_generations"],
        grpo.settings["beta"],
    ) == (1e-6, 256, 8, 0.01)
    names = {p.name for p in list_presets()}
    assert {"paper-sft", "paper-grpo", "cpu-tiny-sft", "cpu-tiny-grpo"} <= names
    for p in list_presets():  # every shipped preset resolves and validates
        keys = set(p.settings) - set(setting_names(p.kind))
        assert not keys, f"{p.name}: unknown keys {keys}"
        resolve_settings(p.kind, preset=p.name)


def test_batch_arithmetic() -> None:
    assert accumulation_steps(32, 1, 8) == 4
    assert accumulation_steps(32, 2, 1) == 16
    with pytest.raises(InputError, match="not a multiple"):
        accumulation_steps(32, 3, 1)
    paper = resolve_settings("policy", preset="paper-grpo").settings
    # the paper's 4 nodes x 8 GPUs: 256 prompts x 8 rollouts per round, 128 prompts per update
    plan = batch_plan(paper, processes=32)
    assert plan == {
        "generation_batch_size": 2048,
        "gradient_accumulation_steps": 32,
        "steps_per_generation": 64,
    }
    tiny = resolve_settings("policy", preset="cpu-tiny-grpo").settings
    assert batch_plan(tiny, processes=1) == {
        "generation_batch_size": 4,
        "gradient_accumulation_steps": 1,
        "steps_per_generation": 1,
    }


def test_reward_specs() -> None:
    assert parse_reward_spec("critic") == {"judge": "critic"}
    assert parse_reward_spec("vlm:tiny:qwen3-vl") == {"judge": "vlm", "model": "tiny:qwen3-vl"}
    assert parse_reward_spec("remote:http://a:8000/,http://b:8000") == {
        "judge": "http://a:8000,http://b:8000"
    }
    for bad in ("vlm:", "judge", "remote:ftp://x"):
        with pytest.raises(InputError):
            parse_reward_spec(bad)


def test_format_reward() -> None:
    good = "```python\nimport matplotlib.pyplot as plt\nplt.bar([1], [2])\n```"
    assert format_score(good, "matplotlib") == 1.0
    assert format_score(good, "svg") == 0.5  # right form, wrong language
    assert format_score("Here you go:\n" + good + "\nHope it helps!", "matplotlib") == 1.0
    assert format_score(good + "\n" + good, "matplotlib") == 0.5  # two blocks
    assert format_score("<svg xmlns='http://www.w3.org/2000/svg'></svg>", "svg") == 0.5  # no fence
    assert format_score("```python\nimport matplotlib", "matplotlib") == 0.5  # cut off
    assert format_score("I cannot do that.", "matplotlib") == 0.0
    assert format_score("", "html") == 0.0
    fn = make_format_reward()
    comps = [[{"role": "assistant", "content": good}], [{"role": "assistant", "content": "no"}]]
    assert fn(prompts=None, completions=comps, kind=["matplotlib", "matplotlib"]) == [1.0, 0.0]


def test_accelerate_configs_load() -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    files = sorted((REPO / "configs" / "accelerate").glob("*.yaml"))
    assert {f.stem for f in files} >= {"ddp", "zero2", "zero3", "fsdp"}
    for f in files:
        cfg = load_config_from_file(str(f))
        assert cfg.distributed_type.value in ("MULTI_GPU", "DEEPSPEED", "FSDP"), f.name
        assert cfg.mixed_precision == "bf16"
        if cfg.distributed_type.value == "DEEPSPEED":
            # left to "auto" so erm's global batch decides the accumulation
            assert "gradient_accumulation_steps" not in (cfg.deepspeed_config or {}), f.name
        if cfg.num_machines > 1:
            assert cfg.main_process_ip and cfg.num_processes % cfg.num_machines == 0


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    r = subprocess.run(
        ERM + ["train", "reward", "--model", "tiny:qwen3-vl", "--out-dir", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        r.returncode == 2
        and r.stderr.strip() == "erm: error: missing --data (give it on the command line or in --config FILE)"
    )
    r = subprocess.run(
        ERM
        + [
            "train",
            "policy",
            "--data",
            str(tmp_path),
            "--model",
            "openai:http://x/v1#m",
            "--out-dir",
            str(tmp_path / "o"),
            "--set",
            "bogus=1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "unknown setting 'bogus'" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(ERM + ["train", "presets", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    doc = json.loads(r.stdout)
    assert doc["schema_version"] and {p["name"] for p in doc["presets"]} >= {"paper-sft", "paper-grpo"}


def test_cli_dry_run_shows_layers(tmp_path: Path) -> None:
    cfg = tmp_path / "grpo.yaml"
    cfg.write_text("preset: paper-grpo\nbeta: 0.02\n")
    r = subprocess.run(ERM + ["train", "policy", "--config", str(cfg), "--num-generations", "4", "--dry-run",
                              "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["preset"] == "paper-grpo" and doc["config_file"] == str(cfg)
    assert doc["settings"]["beta"] == 0.02 and doc["sources"]["beta"] == f"config:{cfg}"
    assert doc["settings"]["num_generations"] == 4 and doc["sources"]["num_generations"] == "command line"
    assert doc["settings"]["learning_rate"] == 1e-6 and doc["sources"]["learning_rate"] == "preset:paper-grpo"
    # 256 prompts x 4 rollouts per round, 128-prompt updates, one process: 512 accumulation micro-steps
    assert doc["batch_plan"] == {"generation_batch_size": 1024, "gradient_accumulation_steps": 512,
                                 "steps_per_generation": 1024}
