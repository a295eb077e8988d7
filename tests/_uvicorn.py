"""An ASGI app under a real uvicorn server on 127.0.0.1, in a thread of the test process: the
CLI's own runner (``serve``, ``demo``) on a socket bound here -- a free port, never let go before
the server takes it --, lifespan on, stopped and its thread joined (bounded) when the block ends."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from kyc_webhooks.cli._server import Server, bind

TIMEOUT = 20.0


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn; yields its base URL, ``http://127.0.0.1:PORT``. Fails when the
    server does not start or stop."""
    server = Server(app, bind("127.0.0.1", 0))
    server.start(timeout=TIMEOUT)
    try:
        yield server.url
    finally:
        server.stop(timeout=TIMEOUT)
    assert server.thread is not None
    assert not server.thread.is_alive(), "uvicorn did not stop"
