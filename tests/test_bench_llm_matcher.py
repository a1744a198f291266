"""The LLM matcher through the real ``openai:`` backend against a local OpenAI-compatible test server.

The server (a stand-in for GPT-5-mini, bound to 127.0.0.1) reads the matcher's prompt and pairs
entries of the same type whose descriptions share a quoted word - a fixed rule, so the expected
matching is known by hand.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from erm_cli.bench.judge_metrics import Pair, vcbench_metrics
from erm_cli.bench.matching import LLMMatcher, MatchRequest
from erm_cli.judges.verdict import ErrorItem


def _answer(prompt: str) -> str:
    pred = json.loads(prompt.split("PRED:\n", 1)[1].split("\n\nGOLD:\n", 1)[0])
    gold = json.loads(prompt.split("GOLD:\n", 1)[1])
    matches, used = [], set()
    for p in pred:
        words = set(re.findall(r"'([^']+)'", p["description"]))
        for g in gold:
            if g["gt_id"] in used or g["type"] != p["type"]:
                continue
            shared = words & set(re.findall(r"'([^']+)'", g["description"]))
            if shared:
                level = "yes" if words == set(re.findall(r"'([^']+)'", g["description"])) else "partial"
                matches.append({"pred_id": p["pred_id"], "gt_id": g["gt_id"], "match_level": level})
                used.add(g["gt_id"])
                break
    return "<think>comparing</think>\n```json\n" + json.dumps({"matches": matches}) + "\n```"


class _Handler(BaseHTTPRequestHandler):
    calls = 0

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        user = body["messages"][-1]["content"]
        text = user if isinstance(user, str) else "".join(p.get("text", "") for p in user)
        type(self).calls += 1
        out = {
            "id": "x",
            "object": "chat.completion",
            "model": body.get("model"),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": _answer(text)},
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5},
        }
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def E(cat, desc, sev=2, loc=""):
    return ErrorItem(category=cat, severity=sev, location=loc, description=desc)


def test_llm_matcher_over_an_openai_compatible_server(server):
    reqs = [
        MatchRequest(
            "c1",
            "chart",
            gold=[
                E("text_error", "title reads 'Costs' instead of 'Sales'"),
                E("style_error", "'GPU' line drawn in pink"),
            ],
            pred=[
                E("style_error", "colour of the 'GPU' series is wrong"),
                E("text_error", "title says 'Costs' not 'Sales'"),
                E("data_error", "'TPU' values off"),
            ],
        ),
        MatchRequest(
            "t1",
            "table",
            gold=[E("numeric_error", "cell 'B2' shows '4.1' not '4.7'")],
            pred=[E("numeric_error", "wrong number in 'B2'")],
        ),
        MatchRequest("s1", "svg", gold=[E("shape_error", "circle drawn as a square")], pred=[]),
    ]
    _Handler.calls = 0
    m = LLMMatcher(f"openai:{server}#gpt-5-mini")
    outcomes = m.match(reqs)
    assert _Handler.calls == 2  # s1 has no predictions: nothing to ask
    got = {o.match.id: o.match.pairs for o in outcomes}
    # c1: pred 0 ('GPU') -> gold 1 with the same quoted words: yes; pred 1 -> gold 0: yes; 'TPU' unmatched
    assert sorted(got["c1"], key=lambda p: p.pred) == [Pair(0, 1, "yes"), Pair(1, 0, "yes")]
    # t1: only 'B2' is shared of {'B2', '4.1', '4.7'}: partial
    assert got["t1"] == [Pair(0, 0, "partial")]
    metrics = vcbench_metrics([o.match for o in outcomes])
    # overall: TP hard 2, soft 2.5; FP 1 ('TPU'); FN 1 (the svg circle) -> P = R = 2.5/3.5 = F1_soft
    assert metrics["overall"]["tp_hard"] == 2 and metrics["overall"]["tp_soft"] == 2.5
    assert metrics["overall"]["f1_soft"] == pytest.approx(100 * 2.5 / 3.5, abs=1e-3)


def test_bench_run_labels_both_matchers_and_resumes_llm_matching(server, tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from test_bench_judge import make_dataset

    from erm_cli.bench.judge_bench import JudgeBenchConfig, run_judge_bench

    data = make_dataset(tmp_path / "d")
    cfg = JudgeBenchConfig(
        data=data, out_dir=tmp_path / "run", baselines=(), matcher_model=f"openai:{server}#gpt-5-mini"
    )
    _Handler.calls = 0
    first = run_judge_bench(cfg)
    labels = set(first["judges"]["critic"]["vcbench"])
    assert labels == {"offline-v1", f"llm:openai:{server}#gpt-5-mini"}
    asked = _Handler.calls
    again = run_judge_bench(cfg)
    assert _Handler.calls == asked  # matches of the first run are reused, not asked again
    assert again["judges"]["critic"]["vcbench"] == first["judges"]["critic"]["vcbench"]
