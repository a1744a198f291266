"""``erm view RUN_DIR``: the run viewer served on loopback. Only the page and the files its document names
are served (``/f/N``); a pair's missing diff picture is drawn on its first request (``/diff/N``) and kept
under ``RUN_DIR/diffs/``."""

from __future__ import annotations

import mimetypes
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .html import PATH_KEYS, page

LOOPBACK = "127.0.0.1"


class ViewServer:
    """The page and its files for one run document; ``serve_forever`` / ``start`` / ``close``."""

    def __init__(self, doc: dict[str, Any], run_dir: Path, port: int = 0) -> None:
        self.doc = doc
        self.run_dir = run_dir
        self.files: list[Path] = []
        self._index: dict[str, int] = {}
        self._diff_lock = threading.Lock()
        diff_dir = Path(doc["diff_dir"]) if doc.get("diff_dir") else run_dir / "diffs"
        self.diff_dir = diff_dir
        for n, pair in enumerate(doc["pairs"]):
            if not pair.get("diff") and pair.get("verdict") and pair.get("reference") and pair.get("render_ok"):
                pair["diff"] = f"diff:{n}"  # drawn on request
        self.html = page(doc, self._url_of).encode("utf-8")
        self.httpd = ThreadingHTTPServer((LOOPBACK, port), self._handler())
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def _url_of(self, path: str) -> str:
        if path.startswith("diff:"):
            return f"/diff/{path[5:]}"
        if path not in self._index:
            self._index[path] = len(self.files)
            self.files.append(Path(path))
        return f"/f/{self._index[path]}"

    def diff_picture(self, n: int) -> Path | None:
        from .diffs import pair_diff

        pair = self.doc["pairs"][n]
        out = self.diff_dir / f"{pair['stem']}.png"
        with self._diff_lock:
            if out.is_file():
                return out
            self.diff_dir.mkdir(parents=True, exist_ok=True)
            return pair_diff(pair, out)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _file(self, path: Path | None) -> None:
                if path is None or not path.is_file():
                    self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")
                    return
                ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                self._send(HTTPStatus.OK, path.read_bytes(), ctype)

            def do_GET(self) -> None:
                route = self.path.split("?", 1)[0]
                parts = route.strip("/").split("/")
                if route in ("/", "/index.html"):
                    self._send(HTTPStatus.OK, server.html, "text/html; charset=utf-8")
                elif len(parts) == 2 and parts[0] == "f" and parts[1].isdigit() and int(parts[1]) < len(server.files):
                    self._file(server.files[int(parts[1])])
                elif len(parts) == 2 and parts[0] == "diff" and parts[1].isdigit() \
                        and int(parts[1]) < len(server.doc["pairs"]):
                    self._file(server.diff_picture(int(parts[1])))
                else:
                    self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

            do_HEAD = do_GET

        return Handler

    def start(self) -> ViewServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def close(self) -> None:
        self.httpd.shutdown() if self._thread is not None else None
        self.httpd.server_close()


__all__ = ["LOOPBACK", "PATH_KEYS", "ViewServer"]
