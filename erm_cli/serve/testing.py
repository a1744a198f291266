"""Run an ASGI app on a free loopback port in a background thread (tests, notebooks, demos).

    from erm_cli.serve import create_app
    from erm_cli.serve.testing import running_server

    with running_server(create_app(openai_model="tiny:qwen3-vl")) as url:
        backend = load_model(f"openai:{url}/v1#tiny-qwen3-vl")

The server is real (uvicorn over TCP on 127.0.0.1); it stops when the ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def running_server(app: Any, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning",
                   startup_timeout: float = 30.0, **uvicorn_options: Any) -> Iterator[str]:
    """Start ``app`` with uvicorn on ``host:port`` (0 = a free port) and yield its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    bound_port = sock.getsockname()[1]
    options = {**getattr(getattr(app, "state", None), "uvicorn_options", {}), **uvicorn_options}
    config = uvicorn.Config(app, log_level=log_level, access_log=False, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="erm-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            sock.close()
            raise RuntimeError("the server thread stopped during startup (see the log above)")
        if time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"the server did not start within {startup_timeout:g}s")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
