"""The local server of ``serve`` and ``demo``: the ASGI adapter under uvicorn on a socket bound
here (a port in use is a one-line error), in this thread or a background one."""

from __future__ import annotations

import contextlib
import errno
import importlib
import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import kyc_webhooks as kw

from ._common import EXIT_MISSING_DEPENDENCY, EXIT_UNAVAILABLE, CliError

if TYPE_CHECKING:
    from kyc_webhooks import Outcome, Receiver

logger = logging.getLogger("kyc_webhooks.cli")


def require_uvicorn() -> Any:
    try:
        return importlib.import_module("uvicorn")
    except ImportError:
        raise CliError(
            "this command needs uvicorn: pip install uvicorn (the server extra)",
            EXIT_MISSING_DEPENDENCY,
        ) from None


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves: a port in use is a clean one-line error, and port 0
    picks a free port that we can read back."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if sys.platform != "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, 10048):  # 10048: WSAEADDRINUSE (Windows)
            raise CliError(f"port {port} on {host} is already in use", EXIT_UNAVAILABLE) from None
        raise CliError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_UNAVAILABLE
        ) from None
    return sock


def asgi_app(receiver: Receiver) -> Any:
    from kyc_webhooks.integrations.asgi import WebhookApp

    return WebhookApp(receiver)


class Server:
    """uvicorn running the ASGI adapter on an already bound socket, in the current thread
    (``run``) or a background thread (``start``/``stop``)."""

    def __init__(self, app: Any, sock: socket.socket, *, log_level: str = "warning") -> None:
        uvicorn = require_uvicorn()
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level=log_level,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self.sock = sock
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def run(self) -> None:
        self.server.run(sockets=[self.sock])

    def _target(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # SystemExit from uvicorn included
            self.error = exc

    def start(self, *, timeout: float = 15.0) -> None:
        self.thread = threading.Thread(target=self._target, name="kyc-webhooks-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise CliError("the local server did not start", EXIT_UNAVAILABLE)
            time.sleep(0.01)

    def stop(self, *, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout)
        with contextlib.suppress(OSError):
            self.sock.close()


@contextlib.contextmanager
def logging_to_stderr(level: int) -> Iterator[None]:
    """Log lines to stderr while a server runs; the previous logging setup is restored after.

    The library's own per-delivery INFO line is replaced by :class:`ServeReceiver`'s (which also
    says whether the delivery was a duplicate); its warnings (rejections) and errors stay.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    levels = {"kyc_webhooks": max(level, logging.WARNING), "kyc_webhooks.cli": level}
    levels["uvicorn.error"] = level
    saved = []
    for name, wanted in levels.items():
        log = logging.getLogger(name)
        saved.append((log, log.handlers[:], log.level, log.propagate))
        log.setLevel(wanted)
        if name != "kyc_webhooks.cli":  # the CLI logger propagates to the package's handler
            log.handlers[:] = [handler]
            log.propagate = False
    try:
        yield
    finally:
        for log, handlers, old_level, propagate in saved:
            log.handlers[:] = handlers
            log.setLevel(old_level)
            log.propagate = propagate


class ServeReceiver(kw.Receiver):
    """The receiver `serve` runs: one log line per authenticated delivery with the vendor, event
    type, status, delivery key, inbox id and whether it was a duplicate -- never a payload value.
    (Refused deliveries are logged by the library itself, as a warning.)"""

    async def handle_async(
        self, body: bytes, headers: Any = None, *, vendor: str | None = None
    ) -> Outcome:
        outcome = await super().handle_async(body, headers, vendor=vendor)
        if outcome.event is not None:
            logger.info(
                "delivery vendor=%s event_type=%s status=%d delivery_key=%s id=%s duplicate=%s",
                outcome.vendor,
                outcome.event_type,
                outcome.status_code,
                outcome.delivery_key,
                outcome.delivery_id or "-",
                "yes" if outcome.duplicate else "no",
            )
        return outcome
