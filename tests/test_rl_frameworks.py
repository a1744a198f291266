"""erm's reward entry points driven through the frameworks' own code. ``make test`` installs it (the Makefile's
``rl-test`` step: ``pip install --no-deps verl==0.9.1 openrlhf==0.11.2`` plus the ``rl-test`` extra beside erm;
elsewhere these tests skip; see docs/RL-INTEGRATION.md):

- verl 0.9.1: the documented command and ``run_grpo.sh`` composed with verl's own Hydra config (an unknown
  key fails the composition); the custom reward loaded by verl's ``get_custom_reward_fn`` and scored by its
  reward-loop ``naive`` manager (alone and inside a ``RewardLoopWorker``, the class each Ray actor of verl's
  ``RewardLoopManager`` runs) and its legacy ``batch`` and ``prime`` managers on a real ``DataProto``;
- OpenRLHF 0.11.2: the documented flags parsed by ``train_ppo_ray``'s own argparse parser, and its
  ``SingleTurnAgentExecutor`` loading erm's file and scoring a rollout decoded with
  ``skip_special_tokens=False`` by a real Qwen-VL processor (the vLLM engine is the one stand-in);
- EasyR1 (not on PyPI): a replay of its code at hiyouga/EasyR1@b44b311, checked line by line against it:
  the documented command through its config merge, and its ``AutoRewardManager`` batch call site;
- verl 0.8 (version-gated, run in a venv with verl 0.8.0): every verl >= 0.8 test above, and the 0.7 command
  migrated by its ``main_ppo``; verl >= 0.8: the whole ``RewardLoopManager`` over a local Ray;
- verl 0.7 (version-gated, run in a venv with verl 0.7.0): the documented 0.7 command, the legacy
  managers and erm's reward on a ``RewardLoopWorker`` Ray actor.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from erm_cli.train import rewards

pytest.importorskip("torch")
DOC = Path(__file__).parents[1] / "docs" / "RL-INTEGRATION.md"
SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="160" height="120"><rect width="160" height="120" '
       'fill="white"/><rect x="20" y="20" width="100" height="80" fill="#1f77b4"/></svg>')
FENCED = f"Here is the SVG:\n```svg\n{SVG}\n```"
TINY = "tiny:qwen3-vl?max_tokens_cap=8"


def doc_block(marker: str) -> list[str]:
    """The arguments of the first fenced bash block of the RL doc that contains ``marker``."""
    for block in re.findall(r"```bash\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL):
        if marker in block:
            text = re.sub(r"#[^\n]*", "", block).replace("\\\n", " ")
            lines = [ln for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("export ")]
            return shlex.split(" ".join(lines))
    raise AssertionError(f"no bash block with {marker!r} in {DOC}")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    from erm_cli.renderers import render

    result = render(SVG)
    if not result.ok:
        pytest.skip(f"SVG rendering does not work here: {result.error}")
    path = tmp_path_factory.mktemp("refs") / "ref.png"
    path.write_bytes(result.png)
    return path


# -- verl ------------------------------------------------------------------------------------------------------
def verl_version() -> tuple[int, int]:
    verl = pytest.importorskip("verl")
    major, minor = (int(part) for part in verl.__version__.split(".")[:2])
    return major, minor


def needs_verl(low: tuple[int, int], high: tuple[int, int] = (99, 0)) -> None:
    """Skip unless the installed verl is in [low, high): ``make test`` has 0.9.1; the 0.7 and 0.8 tests ran in
    throwaway venvs with verl 0.7.0 and 0.8.0 (docs/RL-INTEGRATION.md)."""
    if not low <= verl_version() < high:
        pytest.skip(f"checks verl {low}..{high}, installed {verl_version()}")


def verl_config(overrides: list[str]):
    pytest.importorskip("verl")
    pytest.importorskip("hydra")
    from hydra import compose, initialize_config_dir

    spec = importlib.util.find_spec("verl")
    config_dir = Path(spec.submodule_search_locations[0]) / "trainer" / "config"
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        return compose(config_name="ppo_trainer", overrides=overrides)


def test_verl_documented_command_and_export_script_compose(tmp_path: Path) -> None:
    needs_verl((0, 8))
    pytest.importorskip("hydra")
    from hydra.errors import ConfigCompositionException

    from erm_cli.train.export_verl import LAUNCH_SCRIPT

    args = doc_block("reward.custom_reward_function.path")
    overrides = [a.replace("$ERM_REWARDS", rewards.__file__) for a in args[3:]]  # after python3 -m MODULE
    cfg = verl_config(overrides)
    assert cfg.reward.custom_reward_function.path == rewards.__file__  # where verl 0.9 reads it
    assert cfg.reward.custom_reward_function.name == "compute_score" and cfg.reward.reward_manager.name == "naive"
    assert cfg.reward.custom_reward_function.reward_kwargs.judge == "http://127.0.0.1:9000"
    script = [a for a in shlex.split(LAUNCH_SCRIPT.replace("\\\n", " "), comments=True) if "=" in a
              and not a.startswith(("DATA=", "MODEL=", "NGPUS=", "NNODES="))]
    script = [a.replace("$DATA", str(tmp_path)).replace("$MODEL", "m").replace("$NGPUS", "8")
              .replace("$NNODES", "1").replace("@VAL@", "v.parquet") for a in script]
    cfg = verl_config(script)
    assert cfg.reward.custom_reward_function.path.endswith("erm_reward.py")
    with pytest.raises(ConfigCompositionException):
        verl_config(["reward.custom_reward_function.reward_typo=1"])


def _tiny_tokenizer():
    from erm_cli.models.hf import load_processor
    from erm_cli.models.tiny import ensure_tiny_model

    return load_processor(ensure_tiny_model("qwen3-vl")).tokenizer


def _data_proto(tok, answers: list[str], extra_infos: list[dict], ground_truth: str = ""):
    import numpy as np
    import torch
    from verl import DataProto

    prompt = tok("Write SVG.", add_special_tokens=False)["input_ids"]
    end = tok.convert_tokens_to_ids(["<|im_end|>"])
    pad = tok.convert_tokens_to_ids("<|endoftext|>")
    rows = [tok(a, add_special_tokens=False)["input_ids"] + end for a in answers]
    width = max(map(len, rows)) + 2
    responses = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    prompts = torch.tensor([prompt] * len(rows))
    mask = torch.cat([torch.ones_like(prompts), torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])],
                     dim=1)
    return DataProto.from_dict(
        tensors={"prompts": prompts, "responses": responses, "attention_mask": mask,
                 "input_ids": torch.cat([prompts, responses], dim=1)},
        non_tensors={"data_source": np.array(["icon2svg"] * len(rows), dtype=object),
                     "reward_model": np.array([{"ground_truth": ground_truth, "style": "rule"}] * len(rows),
                                              dtype=object),
                     "extra_info": np.array(extra_infos, dtype=object)})


def _reward_kwargs(name: str) -> list[str]:
    key = "reward.custom_reward_function" if verl_version() >= (0, 8) else "custom_reward_function"
    return [f"{key}.path={rewards.__file__}", f"{key}.name={name}", f"+{key}.reward_kwargs.judge=vlm",
            f"+{key}.reward_kwargs.model='{TINY}'", f"+{key}.reward_kwargs.retries=0"]


def test_verl_reward_loop_naive_manager(reference: Path) -> None:
    needs_verl((0, 8))
    cfg = verl_config(_reward_kwargs("compute_score"))
    from verl.trainer.ppo.reward import load_reward_manager

    manager = load_reward_manager(cfg, _tiny_tokenizer())
    data = _data_proto(manager.tokenizer, [FENCED], [{"gt_img_path": str(reference), "index": 0}])
    out = manager.loop.run_until_complete(manager.run_single(data))
    assert out["reward_score"] >= 1.0 and out["reward_extra_info"]["render_ok"] == 1.0
    # the released table data: the reference only in extra_info["image_ori"]
    data = _data_proto(manager.tokenizer, [FENCED], [{"image_ori": str(reference), "index": 3}])
    out = manager.loop.run_until_complete(manager.run_single(data))
    assert out["reward_extra_info"]["failed"] == 0.0


def test_verl_reward_loop_worker_batch(reference: Path) -> None:
    """verl >= 0.7's default path: each Ray actor of ``RewardLoopManager`` is a ``RewardLoopWorker`` whose
    ``compute_score_batch`` scores its chunk, and the manager assembles ``rm_scores`` with the manager class's
    ``assemble_rm_scores``. Driven here without Ray (the same class, the same config, a real ``DataProto``)."""
    needs_verl((0, 8))
    from erm_cli.models.tiny import ensure_tiny_model

    tokenizer_dir = ensure_tiny_model("qwen3-vl")
    cfg = verl_config(_reward_kwargs("compute_score") + [f"actor_rollout_ref.model.path={tokenizer_dir}"])
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker
    from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls

    worker = RewardLoopWorker(cfg)
    data = _data_proto(worker.input_tokenizer, [FENCED, "no code here", FENCED],
                       [{"gt_img_path": str(reference)}] * 2 + [{"image_ori": str(reference)}])
    outputs = worker.loop.run_until_complete(worker.compute_score_batch(data))
    scores = [o["reward_score"] for o in outputs]
    assert scores[0] >= 1.0 and scores[1] == 0.0 and scores[2] >= 1.0
    assert [o["reward_extra_info"]["render_ok"] for o in outputs] == [1.0, 0.0, 1.0]
    rm_scores = get_reward_manager_cls(cfg.reward.reward_manager.name).assemble_rm_scores(data, scores)
    assert rm_scores.sum(dim=-1).tolist() == pytest.approx(scores)


@pytest.mark.parametrize("manager_name, function", [("batch", "compute_score"), ("prime", "compute_score_prime"),
                                                    ("prime", "compute_score")])
def test_verl_legacy_managers(reference: Path, manager_name: str, function: str) -> None:
    needs_verl((0, 8))
    cfg = verl_config(_reward_kwargs(function))
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.workers.reward_manager import get_reward_manager_cls

    fn = get_custom_reward_fn(cfg)
    tok = _tiny_tokenizer()
    manager = get_reward_manager_cls(manager_name)(tokenizer=tok, num_examine=0, compute_score=fn)
    data = _data_proto(tok, [FENCED, "no code here"], [{"gt_img_path": str(reference)}] * 2)
    result = manager(data, return_dict=True)
    scores = result["reward_tensor"].sum(dim=-1).tolist()
    assert scores[0] >= 1.0 and scores[1] == 0.0


def test_verl_reward_loop_manager_on_ray(reference: Path, tmp_path: Path) -> None:
    """verl >= 0.8's whole reward path as ``RayPPOTrainer`` builds it: a ``RewardLoopManager`` over a local Ray
    (2 CPUs, loopback) starts ``reward.num_workers`` ``RewardLoopWorker`` actors, splits the batch between them
    and assembles ``rm_scores`` and the extra infos from what erm's reward returned."""
    needs_verl((0, 8))
    ray = pytest.importorskip("ray")
    from erm_cli.models.tiny import ensure_tiny_model

    cfg = verl_config(["reward.custom_reward_function.path=" + rewards.__file__,
                       "reward.custom_reward_function.name=compute_score",
                       "+reward.custom_reward_function.reward_kwargs.judge=critic", "reward.num_workers=2",
                       f"actor_rollout_ref.model.path={ensure_tiny_model('qwen3-vl')}"])
    from verl.experimental.reward_loop.reward_loop import RewardLoopManager

    data = _data_proto(_tiny_tokenizer(), [FENCED, "no code here", FENCED, "nothing to render"],
                       [{"gt_img_path": str(reference)}] * 2 + [{"image_ori": str(reference)}] * 2)
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, _node_ip_address="127.0.0.1",
             logging_level="WARNING")
    try:
        manager = RewardLoopManager(cfg)
        assert len(manager.reward_loop_workers) == 2
        out = manager.compute_rm_score(data)
    finally:
        ray.shutdown()
    scores = out.batch["rm_scores"].sum(dim=-1).tolist()
    assert scores[0] >= 1.0 and scores[1] == 0.0 and scores[2] >= 1.0 and scores[3] == 0.0
    assert out.non_tensor_batch["render_ok"].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert set(out.meta_info["reward_extra_keys"]) >= {"render_ok", "visual_reward", "severity_total", "failed"}


def test_verl_08_migrates_the_07_command() -> None:
    """verl 0.8's ``main_ppo`` moves the 0.7 top-level keys under ``reward.`` (``migrate_legacy_reward_impl``;
    0.9.1's does not call it), and has no ``reward_model.use_reward_loop`` (the legacy managers are gone
    from its trainer)."""
    needs_verl((0, 8), (0, 9))
    from hydra.errors import ConfigCompositionException
    from verl.experimental.reward_loop import migrate_legacy_reward_impl

    args = doc_block(" custom_reward_function.path=$ERM_REWARDS")
    cfg = migrate_legacy_reward_impl(verl_config([a.replace("$ERM_REWARDS", rewards.__file__) for a in args[3:]]))
    assert cfg.reward.custom_reward_function.path == rewards.__file__
    assert cfg.reward.custom_reward_function.reward_kwargs.judge == "http://127.0.0.1:9000"
    with pytest.raises(ConfigCompositionException):
        verl_config(["reward_model.use_reward_loop=False"])


# -- verl 0.7 (run in a venv with verl 0.7.0; skipped under make test's 0.9.1) ------------------------------
# verl 0.8.0 already has 0.9's layout (every reward setting under ``reward.``, the reward loop only), so the
# tests above run on it too (checked in a venv with verl 0.8.0, docs/RL-INTEGRATION.md).
# verl 0.7.0 imports AutoModelForVision2Seq, gone in transformers 5, so that venv has transformers 4.57 and these
# tests use what works there: a byte-level BPE tokenizer built with `tokenizers` (the tiny model's vocabulary)
# and erm's critic judge.
def _plain_tokenizer_dir(root: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from erm_cli.models.tiny import SPECIAL_TOKENS, _bpe_vocab_and_merges

    vocab, merges = _bpe_vocab_and_merges()
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS[1:]})
    out = root / "tokenizer"
    fast.save_pretrained(out)
    return out


def test_verl_07_documented_command_composes() -> None:
    needs_verl((0, 7), (0, 8))
    from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls

    args = doc_block(" custom_reward_function.path=$ERM_REWARDS")
    cfg = verl_config([a.replace("$ERM_REWARDS", rewards.__file__) for a in args[3:]])
    assert cfg.custom_reward_function.path == rewards.__file__ and cfg.custom_reward_function.name == "compute_score"
    assert cfg.custom_reward_function.reward_kwargs.judge == "http://127.0.0.1:9000"
    assert cfg.reward_model.use_reward_loop and cfg.reward_model.reward_manager == "naive"
    with pytest.raises(ValueError, match="Unknown reward manager: batch"):
        get_reward_manager_cls("batch")  # what the old documented reward_manager=batch hit


@pytest.mark.parametrize("manager_name, function", [("batch", "compute_score"), ("prime", "compute_score_prime")])
def test_verl_07_legacy_managers(reference: Path, tmp_path: Path, manager_name: str, function: str) -> None:
    needs_verl((0, 7), (0, 8))
    cfg = verl_config([f"custom_reward_function.path={rewards.__file__}", f"custom_reward_function.name={function}",
                       "+custom_reward_function.reward_kwargs.judge=critic", "reward_model.use_reward_loop=False",
                       f"reward_model.reward_manager={manager_name}"])
    from transformers import AutoTokenizer
    from verl.trainer.ppo.reward import load_reward_manager

    manager = load_reward_manager(cfg, AutoTokenizer.from_pretrained(_plain_tokenizer_dir(tmp_path)), num_examine=0)
    data = _data_proto(manager.tokenizer, [FENCED, "no code here"], [{"gt_img_path": str(reference)}] * 2)
    scores = manager(data, return_dict=True)["reward_tensor"].sum(dim=-1).tolist()
    assert scores[0] >= 1.0 and scores[1] == 0.0


def test_verl_07_reward_loop_worker_on_ray(reference: Path, tmp_path: Path) -> None:
    """verl 0.7: the agent loop scores each rollout on a ``RewardLoopWorker`` Ray actor (a local Ray here)."""
    needs_verl((0, 7), (0, 8))
    ray = pytest.importorskip("ray")
    tokenizer_dir = _plain_tokenizer_dir(tmp_path)
    cfg = verl_config([f"custom_reward_function.path={rewards.__file__}", "custom_reward_function.name=compute_score",
                       "+custom_reward_function.reward_kwargs.judge=critic",
                       f"actor_rollout_ref.model.path={tokenizer_dir}"])
    from transformers import AutoTokenizer
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    data = _data_proto(AutoTokenizer.from_pretrained(tokenizer_dir), [FENCED, "no code here", FENCED],
                       [{"gt_img_path": str(reference)}] * 2 + [{"image_ori": str(reference)}])
    ray.init(num_cpus=1, include_dashboard=False, ignore_reinit_error=True)
    try:
        worker = RewardLoopWorker.remote(cfg, None)
        outputs = ray.get(worker.compute_score_batch.remote(data), timeout=600)
    finally:
        ray.shutdown()
    assert outputs[0]["reward_score"] >= 1.0 and outputs[1]["reward_score"] == 0.0 and outputs[2]["reward_score"] >= 1.0
    assert [o["reward_extra_info"]["render_ok"] for o in outputs] == [1.0, 0.0, 1.0]


# -- OpenRLHF --------------------------------------------------------------------------------------------------
def openrlhf_parser():
    pytest.importorskip("openrlhf")
    import argparse
    import ast

    path = Path(importlib.util.find_spec("openrlhf.cli.train_ppo_ray").origin)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    main = next(n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test))
    body = []
    for stmt in main.body:  # the parser as train_ppo_ray builds it, up to parse_args()
        if "parse_args" in ast.unparse(stmt):
            break
        body.append(stmt)
    import datetime as _dt
    import os

    scope: dict = {"argparse": argparse, "datetime": _dt.datetime, "os": os}  # its module-level imports
    exec(compile(ast.Module(body=body, type_ignores=[]), str(path), "exec"), scope)  # noqa: S102 - its own code
    return scope["parser"]


def test_openrlhf_documented_flags_parse() -> None:
    parser = openrlhf_parser()
    args = doc_block("openrlhf.cli.train_ppo_ray")
    args = [a.replace("$ERM_REWARDS", rewards.__file__) for a in args[3:]]
    ns = parser.parse_args(args)
    assert getattr(ns, "reward.remote_url") == rewards.__file__ and getattr(ns, "data.apply_chat_template")
    with pytest.raises(SystemExit):
        parser.parse_args(["--remote_rm_url", rewards.__file__])  # the flat flags of 0.10.0-0.10.1


def test_openrlhf_single_turn_executor_scores_a_vlm_rollout(reference: Path, monkeypatch) -> None:
    pytest.importorskip("openrlhf")
    from types import SimpleNamespace

    from openrlhf.utils.agent import SingleTurnAgentExecutor
    from PIL import Image

    from erm_cli.models.hf import load_processor
    from erm_cli.models.tiny import ensure_tiny_model

    monkeypatch.setenv("ERM_REWARD_JUDGE", "vlm")
    monkeypatch.setenv("ERM_REWARD_MODEL", TINY)
    processor = load_processor(ensure_tiny_model("qwen3-vl"))
    tok = processor.tokenizer
    prompt = tok.apply_chat_template([{"role": "user", "content": [{"type": "image"},
                                                                   {"type": "text", "text": "Write SVG."}]}],
                                     tokenize=False, add_generation_prompt=True)
    image = tmp_image = reference.parent / "policy_input.png"
    Image.new("RGB", (64, 64), "white").save(tmp_image)
    answer_ids = tok(FENCED, add_special_tokens=False)["input_ids"] + tok.convert_tokens_to_ids(["<|im_end|>"])

    class Engine:  # the one stand-in: vLLM's generate
        async def generate(self, prompt_token_ids, params, multi_modal_data=None):
            return SimpleNamespace(outputs=[SimpleNamespace(token_ids=answer_ids, finish_reason="stop",
                                                            logprobs=None)])

    executor = SingleTurnAgentExecutor(remote_rm_url=rewards.__file__)
    params = SimpleNamespace(max_tokens=512, logprobs=None)
    out = asyncio.run(executor.execute(prompt, str(reference), params, 4096, processor, Engine(), images=[str(image)]))
    assert float(out["reward"][0]) >= 1.0 and float(out["extra_logs"]["erm_render_ok"][0]) == 1.0


# -- EasyR1 (not on PyPI): a replay of its code at hiyouga/EasyR1@b44b311 (2026-07-30) ---------------------------
# verl/workers/reward/config.py (RewardConfig, field for field, and its post_init's "path:name" split), the
# fields of DataConfig / ModelConfig that the documented command sets, and verl/trainer/main.py's merge
# (OmegaConf.structured(PPOConfig()) merged with the CLI dot-list).
@dataclass
class _RewardConfig:
    reward_function: str | None = None
    reward_function_kwargs: dict = field(default_factory=dict)
    skip_special_tokens: bool = True
    num_cpus: int = 1
    reward_function_name: str | None = field(default=None, init=False)

    def post_init(self) -> None:
        if self.reward_function is not None:
            if ":" not in self.reward_function:
                self.reward_function_name = "main"
            else:
                self.reward_function, self.reward_function_name = self.reward_function.rsplit(":", maxsplit=1)


@dataclass
class _ModelConfig:
    model_path: str | None = None


@dataclass
class _ActorConfig:
    model: _ModelConfig = field(default_factory=_ModelConfig)


@dataclass
class _Worker:
    actor: _ActorConfig = field(default_factory=_ActorConfig)
    reward: _RewardConfig = field(default_factory=_RewardConfig)


@dataclass
class _DataConfig:
    train_files: str = ""
    val_files: str = ""
    prompt_key: str = "prompt"
    answer_key: str = "answer"
    image_key: str = "images"


@dataclass
class _PPOConfig:
    data: _DataConfig = field(default_factory=_DataConfig)
    worker: _Worker = field(default_factory=_Worker)


def _easyr1_config(args: list[str]) -> _PPOConfig:
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(_PPOConfig()), OmegaConf.from_dotlist(args)))
    cfg.worker.reward.post_init()
    return cfg


def test_easyr1_documented_command_merges() -> None:
    pytest.importorskip("omegaconf")
    from omegaconf.errors import ConfigKeyError

    args = [a.replace("$ERM_REWARDS", rewards.__file__) for a in doc_block("verl.trainer.main config=")[3:]
            if not a.startswith("config=")]
    cfg = _easyr1_config(args)
    assert (cfg.worker.reward.reward_function, cfg.worker.reward.reward_function_name) == (rewards.__file__,
                                                                                           "compute_score")
    assert cfg.worker.reward.reward_function_kwargs == {"judge": "http://127.0.0.1:9000", "timeout": 120}
    assert cfg.data.answer_key == "reference" and cfg.worker.actor.model.model_path
    with pytest.raises(ConfigKeyError):
        _easyr1_config(["worker.reward.reward_type=batch"])  # removed upstream in 2025-11


def test_easyr1_reward_manager_call_site(reference: Path) -> None:
    """AutoRewardManager: the file loaded by path as ``custom_reward_fn``, ``REWARD_TYPE`` read from it,
    ``partial(fn, **reward_function_kwargs)`` called once with the batch of ``RewardInput`` dicts (responses
    decoded with ``skip_special_tokens``), ``score["overall"]`` into the reward tensor, every key a metric."""
    import sys
    from functools import partial

    cfg = _easyr1_config([f"worker.reward.reward_function={rewards.__file__}:compute_score",
                          "worker.reward.reward_function_kwargs.judge=critic"]).worker.reward
    spec = importlib.util.spec_from_file_location("custom_reward_fn", cfg.reward_function)
    module = importlib.util.module_from_spec(spec)
    sys.modules["custom_reward_fn"] = module
    try:
        spec.loader.exec_module(module)
        reward_fn = partial(getattr(module, cfg.reward_function_name), **cfg.reward_function_kwargs)
        assert getattr(module, "REWARD_TYPE", "batch") == "batch"
        tok = _tiny_tokenizer()
        end = tok.convert_tokens_to_ids(["<|im_end|>"])
        inputs = []
        for text in (FENCED, "no code here"):
            ids = tok(text, add_special_tokens=False)["input_ids"] + end
            inputs.append({"response": tok.decode(ids, skip_special_tokens=cfg.skip_special_tokens),
                           "response_length": len(ids), "ground_truth": str(reference)})
        scores = reward_fn(inputs)
    finally:
        sys.modules.pop("custom_reward_fn", None)
    assert [s["overall"] >= 1.0 for s in scores] == [True, False] and scores[1]["overall"] == 0.0
    for score in scores:  # reward_metrics[key].append(value) for every key: numbers only
        assert all(isinstance(v, (int, float)) for v in score.values()), score
