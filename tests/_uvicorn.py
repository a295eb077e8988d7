"""An ASGI app under a real uvicorn server on 127.0.0.1, in a thread of the test process: a
socket bound here (a free port, never let go before the server takes it), the server stopped and
its thread joined -- bounded in time -- when the block ends."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, Literal

START_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0


@contextlib.contextmanager
def serving(
    app: Any, *, lifespan: Literal["auto", "on", "off"] = "on", **config: Any
) -> Iterator[str]:
    """``app`` served by uvicorn (``lifespan`` and any other ``uvicorn.Config`` keyword); yields
    its base URL, ``http://127.0.0.1:PORT``. Fails when the server does not start or stop."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan, **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        sock.close()
    assert not thread.is_alive(), "uvicorn did not stop"
