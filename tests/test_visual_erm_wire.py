"""The chat request erm sends to the released Visual-ERM judge, recorded on the wire by a loopback
OpenAI-compatible server, equals the request the released reward code builds for the same inputs.

The released request builders are replayed here from their published shape (rl_scripts/reward_func:
``message_format``/``encode_image`` for chart and SVG, ``vlm_client_qa`` and ``compute_score`` for tables,
``DEFAULT_MODEL_KWARGS`` and ``extra_body``); the prompts come from the fixture with the release's layout."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from erm_cli.judges.prompts import extract_visual_erm_prompts
from erm_cli.judges.vlm import VLMJudge

RELEASE = Path(__file__).parent / "fixtures" / "visual_erm_release"


@contextmanager
def recording_server() -> Iterator[tuple[str, list[dict]]]:
    bodies: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            bodies.append(json.loads(self.rfile.read(int(self.headers.get("content-length") or 0))))
            body = json.dumps({"choices": [{"message": {"content": '{"errors": []}'}, "finish_reason": "stop"}],
                               "usage": {}}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", bodies
    finally:
        server.shutdown()
        server.server_close()


# -- the released request builders, replayed -----------------------------------------------------------------
def released_encode_image(path: Path, max_side: int = 1024) -> bytes:  # reward_utils.encode_image
    with Image.open(path) as img:
        buffered = io.BytesIO()
        img.thumbnail((max_side, max_side))
        if img.mode != "RGB":
            img = img.convert("RGB")
        img.save(buffered, format="JPEG")
    return buffered.getvalue()


def released_chart_svg_request(prompt: str, gt: Path, pred: Path) -> dict:
    content = [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,"
                                                   + base64.b64encode(released_encode_image(p)).decode()}}
               for p in (gt, pred)]
    content.append({"type": "text", "text": prompt})
    return {"messages": [{"role": "user", "content": content}], "temperature": 0.7, "top_p": 0.8,
            "presence_penalty": 1.5, "max_tokens": 4096, "top_k": 20}


def released_table_png(path: Path) -> bytes:  # compute_score: thumbnail(768) of the original, saved as PNG
    img = Image.open(path).convert("RGB")
    img.thumbnail((768, 768))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def released_table_request(system: str, prompt: str, gt: Path, pred: Path) -> dict:
    content = [{"type": "image_url", "image_url": {"url": "data:image;base64,"
                                                   + base64.b64encode(released_table_png(p)).decode()}}
               for p in (gt, pred)]
    content.append({"type": "text", "text": prompt})
    return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": content}],
            "temperature": 0.0, "max_tokens": 8192, "repetition_penalty": 1.05}


def _image(path: Path, size: tuple[int, int], colour: str) -> Path:
    im = Image.new("RGB", size, "white")
    ImageDraw.Draw(im).rectangle((size[0] // 5, size[1] // 5, size[0] // 2, size[1] // 2), fill=colour)
    im.save(path)
    return path


def _image_bytes(part: dict) -> bytes:
    return base64.b64decode(part["image_url"]["url"].split(",", 1)[1])


@pytest.mark.parametrize("task", ["chart", "svg", "table"])
def test_request_on_the_wire_equals_the_released_request(task: str, tmp_path: Path) -> None:
    prompts = extract_visual_erm_prompts(RELEASE)
    prompt_file = tmp_path / "prompts.json"
    prompt_file.write_text(json.dumps(prompts))
    gt = _image(tmp_path / "gt.png", (1500, 900), "#1f77b4")
    pred = _image(tmp_path / "pred.png", (640, 480), "#ff7f0e")
    with recording_server() as (url, bodies):
        judge = VLMJudge(f"openai:{url}#visual-erm", prompt_file=prompt_file)
        assert judge.image_style == "visual-erm"  # the released judge gets the released encoding by default
        verdict = judge.judge(Image.open(gt), Image.open(pred), task)
    assert verdict.parsed and len(bodies) == 1
    sent = bodies[0]
    if task == "table":
        expected = released_table_request(prompts["system.table"], prompts["table"], gt, pred)
    else:
        expected = released_chart_svg_request(prompts[task], gt, pred)
    assert [m["role"] for m in sent["messages"]] == [m["role"] for m in expected["messages"]]
    if task == "table":
        assert sent["messages"][0]["content"] == expected["messages"][0]["content"]
    sent_parts, expected_parts = sent["messages"][-1]["content"], expected["messages"][-1]["content"]
    assert [p["type"] for p in sent_parts] == [p["type"] for p in expected_parts]
    assert sent_parts[-1]["text"] == expected_parts[-1]["text"]  # the prompt, byte for byte
    for got, want in zip(sent_parts[:2], expected_parts[:2]):
        assert _image_bytes(got) == _image_bytes(want)  # the same encoded image bytes
    # the released table code labels its PNGs "data:image;base64,": the same bytes, a MIME type vLLM ignores
    for key, value in expected.items():
        if key != "messages":
            assert sent.get(key, {"top_p": 1.0}.get(key)) == value, key
