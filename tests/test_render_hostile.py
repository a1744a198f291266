"""Hostile SVG (XXE, billion laughs, external and file hrefs, huge sizes) and hostile HTML tables
(<script>, remote resources): nothing runs, nothing loads. A real HTTP server on loopback counts
every request that reaches it."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from erm_cli.renderers import RenderOptions, render


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), (255, 0, 0)).save(buf, format="PNG")
        body = buf.getvalue() if self.path.endswith(".png") else b"body{background:#ff0000}"
        self.send_response(200)
        self.send_header("Content-Type", "image/png" if self.path.endswith(".png") else "text/css")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # keep test output clean
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, list[str]]]:
    _Recorder.hits = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Recorder.hits
    httpd.shutdown()


@pytest.fixture(scope="module")
def red_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "red.png"
    Image.new("RGB", (64, 64), (255, 0, 0)).save(path)
    return path


def red_pixels(png: bytes) -> int:
    arr = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int(((arr[..., 0] > 200) & (arr[..., 1] < 60) & (arr[..., 2] < 60)).sum())


def svg_render(code: str, **opts):
    return render(code, kind="svg", options=RenderOptions(timeout=10, **opts), cache=False)


# ------------------------------------------------------------------------------------------- SVG
def test_server_is_reachable_from_the_test_process(server: tuple[str, list[str]]) -> None:
    import urllib.request

    url, hits = server
    assert urllib.request.urlopen(url + "/probe.css", timeout=5).status == 200
    assert hits and hits[-1] == "/probe.css"
    hits.clear()


def test_svg_xxe_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    code = (f'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file://{secret}">]>'
            '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="5" y="20">&xxe;</text></svg>')
    result = svg_render(code)
    assert not result.ok and "refused" in result.error


def test_svg_billion_laughs_is_refused() -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">'
                                                for i in range(1, 10))
    code = (f'<?xml version="1.0"?><!DOCTYPE svg [{entities}]>'
            '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&lol9;</text></svg>')
    result = svg_render(code)
    assert not result.ok and "refused" in result.error


def test_svg_external_and_file_hrefs_are_not_loaded(server: tuple[str, list[str]], red_png: Path) -> None:
    url, hits = server
    hits.clear()
    code = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="200" '
            f'height="100"><image href="{url}/remote.png" x="0" y="0" width="64" height="64"/>'
            f'<image xlink:href="file://{red_png}" x="70" y="0" width="64" height="64"/>'
            f'<image href="{red_png}" x="140" y="0" width="64" height="64"/>'
            f'<use href="{url}/sprite.svg#icon"/><rect x="0" y="80" width="10" height="10" fill="blue"/></svg>')
    result = svg_render(code)
    assert result.ok, result.error
    assert hits == []                      # nothing reached the network
    assert red_pixels(result.png) == 0     # neither the remote nor the local red image was drawn


def test_svg_data_uri_images_still_work(red_png: Path) -> None:
    import base64

    data = base64.b64encode(red_png.read_bytes()).decode()
    code = ('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
            f'<image href="data:image/png;base64,{data}" width="64" height="64"/></svg>')
    result = svg_render(code)
    assert result.ok and red_pixels(result.png) > 3000


def test_svg_huge_dimensions_are_refused() -> None:
    for size in ('width="1000000" height="1000000"', 'width="20000" height="100"', 'viewBox="0 0 9e9 9e9"'):
        result = svg_render(f'<svg xmlns="http://www.w3.org/2000/svg" {size}><rect width="5" height="5"/></svg>')
        assert not result.ok and "too large" in result.error, size


def test_svg_huge_requested_output_is_refused_by_the_options() -> None:
    from erm_cli.errors import InputError

    with pytest.raises(InputError):
        svg_render('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>', width=100000)


def test_svg_deep_nesting_fails_cleanly() -> None:
    code = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">' + "<g>" * 20000 + "</g>" * 20000 + "</svg>"
    result = svg_render(code)
    assert result.ok or result.error  # either drawn or refused with a reason; never a crash of the caller


def test_svg_garbage_is_a_clear_failure() -> None:
    result = svg_render("<svg><unclosed")
    assert not result.ok and "invalid SVG" in result.error


# ----------------------------------------------------------------------------------------- HTML
def test_html_table_with_scripts_and_remote_resources(server: tuple[str, list[str]], red_png: Path) -> None:
    url, hits = server
    hits.clear()
    hostile = (f'<link rel="stylesheet" href="{url}/style.css"><style>@import url("{url}/import.css");'
               f'td {{ background-image: url("{url}/bg.png"); }}</style>'
               f'<script src="{url}/evil.js"></script>'
               '<script>document.body.innerHTML = "<div style=\'width:900px;height:900px;background:red\'></div>";'
               f'fetch("{url}/fetch.png");</script>'
               '<table><tr><th>Name</th><th>Value</th></tr><tr><td>alpha</td><td>1</td></tr></table>'
               f'<img src="{url}/img.png" width="64" height="64"><img src="file://{red_png}" width="64" height="64">'
               f'<iframe src="{url}/frame.png"></iframe><iframe src="file://{red_png}"></iframe>'
               f'<object data="{url}/object.png"></object><video src="{url}/v.png" poster="{url}/p.png"></video>'
               f'<svg width="40" height="40"><image href="{url}/svgimg.png" width="40" height="40"/></svg>'
               f'<meta http-equiv="refresh" content="0;url={url}/refresh.png">')
    result = render(hostile, kind="html", options=RenderOptions(timeout=15), cache=False)
    assert result.ok, result.error
    assert hits == [], hits                 # nothing was fetched, not even by CSS or the meta refresh
    assert red_pixels(result.png) == 0      # the script did not run; neither red image loaded


def test_markdown_with_raw_html_script_does_not_run(server: tuple[str, list[str]]) -> None:
    url, hits = server
    hits.clear()
    md = ("| a | b |\n|---|---|\n| 1 | 2 |\n\n"
          f'<script>document.body.style.background = "red"</script><img src="{url}/md.png">\n')
    result = render(md, kind="markdown", options=RenderOptions(timeout=15), cache=False)
    assert result.ok and hits == [] and red_pixels(result.png) == 0


def test_a_time_out_names_the_items_limit_not_the_budget_left() -> None:
    """--timeout is the whole item's budget; the sandbox gets what is left of it, and its message used to name
    that ("timed out after 0.979 s" under --timeout 1). The failure names the limit the user set."""
    code = "import time\ntime.sleep(30)\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\n"
    result = render(code, kind="matplotlib", options=RenderOptions(timeout=1.0), cache=False)
    assert not result.ok
    assert result.error is not None and result.error.startswith("timed out after 1 s"), result.error
