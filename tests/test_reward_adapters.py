"""Rewards that never silently turn to zero: chat-template tokens (OpenRLHF decodes with
skip_special_tokens=False), VLM prompts with expanded image pads, verl's prime manager (float(result[0])
in a process pool), the released table data layout (extra_info["image_ori"]) and options that reach the
judge on every path (unknown ones are an error)."""

from __future__ import annotations

import json
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from erm_cli.errors import InputError
from erm_cli.train import rewards
from erm_cli.train.reward_adapters.chat_text import (
    END_OF_TURN_TOKENS,
    collapse_image_pads,
    response_from_query,
    strip_chat_tokens,
)
from erm_cli.train.reward_adapters.options import parse_options
from erm_cli.train.reward_adapters.results import VerlScore
from erm_cli.train.rewards import compute_score, compute_score_prime, reward_func, score_batch

pytest.importorskip("torch")

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="160" height="120"><rect width="160" height="120" '
       'fill="white"/><rect x="20" y="20" width="{w}" height="80" fill="{c}"/></svg>')
FENCED = f"Here is the SVG:\n```svg\n{SVG.format(w=100, c='#1f77b4')}\n```"
VLM = {"judge": "vlm", "model": "tiny:qwen3-vl?max_tokens_cap=8", "retries": 0}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    from erm_cli.renderers import render

    result = render(SVG.format(w=100, c="#1f77b4"))
    if not result.ok:
        pytest.skip(f"SVG rendering does not work here: {result.error}")
    path = tmp_path_factory.mktemp("refs") / "ref.png"
    path.write_bytes(result.png)
    return path


# -- chat-template tokens ---------------------------------------------------------------------------------
@pytest.mark.parametrize("tail", ["<|im_end|>", "<|im_end|><|endoftext|><|endoftext|>", "<|eot_id|>",
                                  "<end_of_turn>\n<eos>", "</s></s>", "<|end|><|endoftext|>", "<pad><pad>",
                                  "<｜end▁of▁sentence｜>", " \n"])
def test_end_of_turn_and_padding_tokens_are_stripped(tail: str) -> None:
    assert strip_chat_tokens(FENCED + tail) == FENCED


def test_strip_keeps_markup_that_looks_like_a_token() -> None:
    table = "<table><tr><td><s>old</s> new</td></tr></table>"
    assert strip_chat_tokens(table + "</s>") == table  # </s> inside HTML is a strike-through
    assert strip_chat_tokens("") == ""
    assert strip_chat_tokens("a<|im_end|>\n<|im_start|>user\nmore") == "a"  # the model stopped at the first


def test_every_known_end_token_is_cut() -> None:
    for token in END_OF_TURN_TOKENS:
        assert strip_chat_tokens("```svg\n<svg/>\n```" + token + "junk") == "```svg\n<svg/>\n```"


def _openrlhf_query(prompt_text: str, response: str) -> tuple[str, str]:
    """What OpenRLHF's SingleTurnAgentExecutor hands to reward_func: the prompt string, and the query
    decoded from prompt ids (processor-expanded image pads) + response ids + <|im_end|> + padding, with
    skip_special_tokens=False, through a real Qwen-VL processor and tokenizer."""
    from PIL import Image

    from erm_cli.models.hf import load_processor
    from erm_cli.models.tiny import ensure_tiny_model

    processor = load_processor(ensure_tiny_model("qwen3-vl"))
    tok = processor.tokenizer
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt_text}]}]
    prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = processor(text=[prompt], images=[Image.new("RGB", (64, 64), "white")], return_tensors="pt")["input_ids"][0]
    response_ids = tok(response, add_special_tokens=False)["input_ids"]
    end = tok.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>", "<|endoftext|>"])
    query = tok.decode(ids.tolist() + response_ids + end, skip_special_tokens=False)
    assert query.count("<|image_pad|>") > 1 and prompt.count("<|image_pad|>") == 1  # the layout under test
    return query, prompt


def test_openrlhf_vlm_query_gives_back_the_response() -> None:
    query, prompt = _openrlhf_query("Write SVG for this icon.", FENCED)
    assert not query.startswith(prompt)
    assert strip_chat_tokens(response_from_query(query, prompt)) == FENCED
    assert collapse_image_pads("<|image_pad|>" * 7) == "<|image_pad|>"


def test_openrlhf_fenced_answer_with_end_tokens_scores_like_the_clean_answer(reference: Path) -> None:
    query, prompt = _openrlhf_query("Write SVG for this icon.", FENCED)
    out = reward_func([query], [prompt], [str(reference)], **VLM)
    assert float(out["rewards"][0]) >= 1.0 and float(out["extra_logs"]["erm_render_ok"][0]) == 1.0
    clean = score_batch([FENCED], [reference], "svg", **VLM)[0]
    assert clean[1].render_ok


def test_every_adapter_strips_end_tokens(reference: Path) -> None:
    answer = FENCED + "<|im_end|><|endoftext|>"
    verl = compute_score("icon2svg", answer, None, {"gt_img_path": str(reference)}, **VLM)
    easy = compute_score([{"response": answer, "response_length": 9, "ground_truth": str(reference)}], **VLM)
    trl = rewards.make_trl_reward(**VLM)(prompts=["p"], completions=[answer], image=[str(reference)])
    assert verl["render_ok"] == 1.0 and easy[0]["render_ok"] == 1.0 and trl[0] >= 1.0


# -- verl prime --------------------------------------------------------------------------------------------
def _prime_post_process(result) -> float:
    """verl's prime manager (workers/reward_manager/prime.py) after its process pool returns."""
    if isinstance(result, Exception) or result is None:
        return 0.0
    if isinstance(result, int | float | bool):
        return float(result)
    return float(result[0])


def test_prime_entry_point_returns_a_number_through_a_process_pool(reference: Path, tmp_path: Path) -> None:
    log = tmp_path / "rewards.jsonl"
    args = ("icon2svg", FENCED, "", {"gt_img_path": str(reference), "idx": 0})
    with ProcessPoolExecutor(max_workers=1) as pool:  # prime pickles function and result across processes
        number = pool.submit(compute_score_prime, *args, reward_log=str(log), **VLM).result()
        as_dict = pool.submit(compute_score, *args, **VLM).result()
    assert isinstance(number, float) and number >= 1.0
    assert _prime_post_process(number) == number
    assert isinstance(as_dict, VerlScore) and _prime_post_process(as_dict) == as_dict["score"] >= 1.0
    record = json.loads(log.read_text().splitlines()[-1])
    assert record["render_ok"] == 1.0 and record["reward"] == number and record["reason"] is None


def test_entry_points_of_the_file_loaded_by_path_pickle() -> None:
    """verl loads the file under a random module name no worker can import; prime pickles the function."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("custom_module_12345", rewards.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # as verl's load_module does, without registering it in sys.modules
    for name in ("compute_score", "compute_score_prime", "reward_func"):
        assert pickle.loads(pickle.dumps(getattr(module, name))) is getattr(rewards, name)


def test_verl_score_is_still_a_plain_mapping() -> None:
    score = VerlScore({"score": 1.5, "render_ok": 1.0})
    assert score["score"] == score[0] == 1.5 and dict(score) == {"score": 1.5, "render_ok": 1.0}
    assert pickle.loads(pickle.dumps(score)) == score


# -- the released table data layout ----------------------------------------------------------------------
def test_reference_in_extra_info_image_ori(reference: Path) -> None:
    out = compute_score("table_parse", FENCED, "", {"index": 3, "image_ori": str(reference)}, **VLM)
    assert out["failed"] == 0.0 and out["render_ok"] == 1.0


# -- options -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, fragment", [
    ({"judge": "critic", "prompt_fil": "x"}, "unknown reward option(s) 'prompt_fil'"),
    ({"judge": "critic", "prompt_file": "x"}, "does not apply to the critic judge"),
    ({"judge": "http://127.0.0.1:9", "swap": True}, "cannot be sent to a remote judge"),
    ({"judge": "http://127.0.0.1:9", "profile": "visual-erm"}, "start erm serve with --profile"),
    ({"profile": "paper"}, "profile must be one of"),
    ({"judge": "vlm", "sampling": {"temprature": 0.1}}, "unknown sampling field(s) temprature"),
    ({"timeout": "soon"}, "bad reward option value"),
])
def test_bad_options_are_one_line_errors(kwargs: dict, fragment: str) -> None:
    with pytest.raises(InputError) as err:
        parse_options(kwargs, use_env=False)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_every_adapter_refuses_unknown_options(reference: Path) -> None:
    for call in (lambda: compute_score("svg", FENCED, str(reference), {}, colour=1),
                 lambda: compute_score([{"response": FENCED, "ground_truth": str(reference)}], colour=1),
                 lambda: compute_score_prime("svg", FENCED, str(reference), {}, colour=1),
                 lambda: reward_func([FENCED], [""], [str(reference)], colour=1),
                 lambda: rewards.make_trl_reward(colour=1)):
        with pytest.raises(InputError, match="unknown reward option"):
            call()


def test_judge_options_reach_the_judge_on_every_path(reference: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps({"*": "Compare image 1 with image 2 and answer in JSON."}))
    opts = {**VLM, "prompt_file": str(prompts), "swap": "true", "sampling": {"svg": {"max_tokens": 7}}}
    compute_score("icon2svg", FENCED, str(reference), {}, **opts)
    compute_score([{"response": FENCED, "ground_truth": str(reference)}], **opts)
    reward_func([FENCED], [""], [str(reference)], **opts)
    rewards.make_trl_reward(**opts)(prompts=["p"], completions=[FENCED], image=[str(reference)])
    judges = [j for j in rewards._JUDGES.values() if getattr(j, "prompt_source", None) == str(prompts)]
    assert len(judges) == 1  # one judge, built with every option, shared by all four paths
    judge = judges[0]
    assert judge.swap is True and judge.sampling["svg"].max_tokens == 7
    assert judge.sampling["svg"].temperature == 0.7  # fields not given keep the released defaults
    assert judge.prompts["chart"].startswith("Compare image 1")


def test_options_from_the_environment(monkeypatch, tmp_path: Path) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("Compare.")
    monkeypatch.setenv("ERM_REWARD_JUDGE", "vlm")
    monkeypatch.setenv("ERM_REWARD_MODEL", "openai:http://127.0.0.1:8000/v1#visual-erm")
    monkeypatch.setenv("ERM_REWARD_PROMPT_FILE", str(prompts))
    opts = parse_options({})
    assert opts.judge == "vlm" and opts.judge_options == {"prompt_file": str(prompts)}
    assert opts.profile == "visual-erm"  # the released judge implies the released renderer
    monkeypatch.setenv("ERM_REWARD_PROFILE", "erm")
    assert parse_options({}).profile == "erm"


# -- the released table reward under the visual-erm profile -------------------------------------------------
TABLE = "<table><tr><td>Year</td><td>Sales</td></tr><tr><td>2020</td><td>15</td></tr></table>"


def test_visual_erm_profile_scores_tables_with_the_released_reward(tmp_path: Path) -> None:
    from erm_cli.renderers import render

    ref = render(TABLE, kind="html")
    if not ref.ok:
        pytest.skip(f"table rendering does not work here: {ref.error}")
    path = tmp_path / "table.png"
    path.write_bytes(ref.png)
    wrong = TABLE.replace("15", "51")
    [(reward, verdict, why)] = score_batch([wrong], [path], "table", judge="critic", profile="visual-erm")
    assert why is None and verdict.parsed and reward == -verdict.severity_total <= 0
    assert verdict.info["profile"] == "visual-erm"
    # the tiny judge writes junk: unparseable -> -4 (released S = 4), no render term, never a plain 0
    [(junk, jv, _)] = score_batch([TABLE], [path], "table", profile="visual-erm", **VLM)
    assert not jv.parsed and junk == -4.0
    # a page with nothing on it (the whole answer goes into the page, as in the release) goes to the judge as the
    # released table reward sends it: -S, no blank-render shortcut
    [(blank, bv, _)] = score_batch(["<table></table>"], [path], "table", judge="critic", profile="visual-erm")
    assert bv.render_ok and bv.parsed and blank == -bv.severity_total < 0
    erm = score_batch([wrong], [path], "table", judge="critic")[0][0]
    assert erm >= 1.0  # the erm profile keeps render_ok + visual reward


# -- erm train policy takes the reward judge's prompt file and profile -------------------------------------
def test_train_policy_passes_prompt_file_and_profile_to_the_reward(reference: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from erm_cli.train.config import PolicySettings
    from erm_cli.train.policy_grpo import build_reward_funcs

    prompts = tmp_path / "policy-prompts.json"
    prompts.write_text(json.dumps({"svg": "Policy reward prompt."}))
    settings = PolicySettings(reward="vlm:tiny:qwen3-vl?max_tokens_cap=8", reward_prompt_file=str(prompts),
                              reward_profile="visual-erm", format_weight=0.0)
    [visual], _ = build_reward_funcs(settings)
    [reward] = visual(prompts=["p"], completions=[FENCED], reference=[str(reference)], task=["svg"])
    assert reward >= 1.0
    judge = next(j for j in rewards._JUDGES.values() if getattr(j, "prompt_source", None) == str(prompts))
    assert judge.prompts["svg"] == "Policy reward prompt."
    with pytest.raises(InputError, match="does not apply to the critic judge"):
        build_reward_funcs(PolicySettings(reward="critic", reward_prompt_file=str(prompts)))
    run = subprocess.run([sys.executable, "-m", "erm_cli.app", "train", "policy", "--reward", "vlm:tiny:qwen3-vl",
                          "--reward-prompt-file", str(prompts), "--reward-profile", "visual-erm", "--dry-run",
                          "--json"], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    settings_shown = json.loads(run.stdout)["settings"]
    assert settings_shown["reward_prompt_file"] == str(prompts) and settings_shown["reward_profile"] == "visual-erm"


def test_erm_serve_profile_reaches_remote_rewards(tmp_path: Path) -> None:
    """erm serve --profile visual-erm renders like the release; the remote reward then scores tables with
    the released -S reward, as the local path does."""
    from erm_cli.renderers import render
    from erm_cli.serve import create_app
    from erm_cli.serve.testing import running_server

    ref = render(TABLE, kind="html")
    if not ref.ok:
        pytest.skip(f"table rendering does not work here: {ref.error}")
    path = tmp_path / "table.png"
    path.write_bytes(ref.png)
    wrong = TABLE.replace("15", "51")
    with running_server(create_app("critic", profile="visual-erm")) as url:
        [(reward, verdict, why)] = score_batch([wrong], [path], "table", judge=url)
    assert why is None and verdict.info["profile"] == "visual-erm"
    assert reward == -verdict.severity_total <= 0
    with pytest.raises(InputError, match="profile must be one of"):
        create_app("critic", profile="paper")


def test_max_workers_bounds_concurrency_even_after_a_larger_call() -> None:
    import threading
    import time

    from erm_cli.train.rewards import run_with_timeouts

    running, peak, lock = [0], [0], threading.Lock()

    def job():
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return (1.0, None, None)

    run_with_timeouts([job] * 8, 30.0, 4)  # grows the shared pool to 4 threads
    peak[0] = 0
    results = run_with_timeouts([job] * 8, 30.0, 1)
    assert peak[0] == 1 and [r for r, _, _ in results] == [1.0] * 8


def test_score_batch_refuses_options_a_judge_cannot_take(reference: Path) -> None:
    with pytest.raises(InputError, match="cannot reach a remote judge or a judge object"):
        score_batch([FENCED], [reference], "svg", judge="http://127.0.0.1:9", swap=True)
    with pytest.raises(InputError, match="profile"):
        score_batch([FENCED], [reference], "svg", judge="http://127.0.0.1:9", profile="visual-erm")
