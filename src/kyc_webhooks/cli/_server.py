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

from ..outcome import loggable
from ._common import EXIT_MISSING_DEPENDENCY, EXIT_UNAVAILABLE, CliError

if TYPE_CHECKING:
    from kyc_webhooks import Outcome, Receiver
    from kyc_webhooks.receiver import BodyInput

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
            # The adapter's lifespan, as under a user's own uvicorn: a PostgreSQL inbox's async
            # pool opened on the server's loop, and the shutdown's drain before the store closes.
            lifespan="on",
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


#: ``--log-level`` names, for the commands that run handlers or a server.
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def add_log_level_option(parser: Any, default: str) -> None:
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=None,
        metavar="LEVEL",
        help=f"{', '.join(LOG_LEVELS)}: the kyc_webhooks logger's level (default {default}; "
        "without it an application's own logging setup is left as it is)",
    )


def log_level(name: str | None, default: str) -> tuple[int, bool]:
    """The level of ``--log-level`` (else ``default``), and whether it was given."""
    return logging.getLevelName((name or default).upper()), name is not None


@contextlib.contextmanager
def logging_to_stderr(
    level: int, *, explicit: bool = True, library_info: bool = True
) -> Iterator[None]:
    """The log lines of a command that runs handlers (``process``, ``inbox replay --app``) or a
    server (``serve``, ``demo``); the previous setup is restored after.

    When logging is configured already -- a handler on the ``kyc_webhooks`` logger or on one it
    propagates to, the root's included (``logging.basicConfig``, ``dictConfig``, a file handler
    the imported application added) -- it is left alone: handlers, propagation and levels stay
    the application's; only an ``explicit`` level (``--log-level``) sets the ``kyc_webhooks``
    logger's level. Otherwise a handler writing to stderr is added to ``kyc_webhooks`` (and to
    ``uvicorn.error``, the server's own lines), at ``level``.

    ``library_info=False`` (``serve``): the library's own per-delivery INFO line is left out of
    that stderr handler -- :class:`ServeReceiver` logs its own, which also says whether the
    delivery was a duplicate; the library's warnings (rejections) and errors stay.
    """
    package = logging.getLogger("kyc_webhooks")
    if package.hasHandlers():
        saved_level = package.level
        if explicit:
            package.setLevel(level)
        try:
            yield
        finally:
            package.setLevel(saved_level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    if not library_info:
        handler.addFilter(_without_library_info)
    saved = []
    for log in (package, logging.getLogger("uvicorn.error")):
        if log is not package and log.hasHandlers():
            continue
        saved.append((log, log.level))
        log.setLevel(level)
        log.addHandler(handler)
    try:
        yield
    finally:
        for log, old_level in saved:
            log.removeHandler(handler)
            log.setLevel(old_level)


def _without_library_info(record: logging.LogRecord) -> bool:
    return record.name != "kyc_webhooks" or record.levelno >= logging.WARNING


class ServeReceiver(kw.Receiver):
    """The receiver `serve` runs: one log line per authenticated delivery with the vendor, event
    type, status, delivery key, inbox id and whether it was a duplicate -- never a payload value.
    (Refused deliveries are logged by the library itself, as a warning.)"""

    async def handle_async(
        self, body: BodyInput, headers: Any = None, *, vendor: str | None = None
    ) -> Outcome:
        outcome = await super().handle_async(body, headers, vendor=vendor)
        if outcome.event is not None:
            logger.info(
                "delivery vendor=%s event_type=%s status=%d delivery_key=%s id=%s duplicate=%s",
                outcome.vendor,
                loggable(outcome.event_type),  # the body's text: a line break would forge a line
                outcome.status_code,
                loggable(outcome.delivery_key),
                outcome.delivery_id or "-",
                "yes" if outcome.duplicate else "no",
            )
        return outcome
