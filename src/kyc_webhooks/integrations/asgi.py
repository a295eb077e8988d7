"""A bare ASGI 3 application -- no framework needed: run it under any ASGI server, or mount it in
Starlette, Litestar, Quart, Django Channels ...

    app = WebhookApp(receiver, prefix="/webhooks")   # uvicorn module:app
    # POST /webhooks (auto-detect), POST /webhooks/<vendor>

    Mount("/webhooks", app=WebhookApp(receiver))      # Starlette: the mount supplies the prefix

Awaits ``async def`` handlers (``receiver.handle_async``). Answers lifespan events, so servers
start it without warnings: at start-up it opens a ``PostgresStore``'s async pool on the server's
event loop (``open_async()``; ``async_pool=False`` not to), at shutdown it drains the receiver and
closes the pool it opened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from ..receiver import Receiver
from ._common import NOT_FOUND, Reply, StoreLifespan, logger, respond_async

__all__ = ["WebhookApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _Disconnected(Exception):
    """The client went away before the whole body arrived: nothing to answer."""


class WebhookApp:
    """ASGI app serving ``POST <prefix>`` (auto-detect) and ``POST <prefix>/<vendor>``.

    ``prefix`` is matched after the scope's ``root_path`` (set by mounts and ``--root-path``).
    ``async_pool``: open the store's async pool at start-up (``PostgresStore.open_async()``:
    one more pool, so up to twice ``max_size`` connections per process); False leaves the
    store's calls in worker threads.
    """

    def __init__(self, receiver: Receiver, *, prefix: str = "", async_pool: bool = True) -> None:
        self.receiver = receiver
        self.prefix = prefix.rstrip("/")
        self.async_pool = async_pool

    def _route(self, scope: Scope) -> tuple[bool, str | None]:
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if not path.startswith(self.prefix):
            return False, None
        rest = path[len(self.prefix) :].rstrip("/")
        if not rest:
            return True, None
        name = rest[1:]
        return (rest.startswith("/") and "/" not in name), name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(StoreLifespan(self.receiver, async_pool=self.async_pool), receive, send)
            return
        if scope["type"] != "http":
            return
        found, vendor = self._route(scope)
        headers = scope.get("headers") or []

        async def chunks() -> AsyncIterator[bytes]:
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Disconnected
                more = bool(message.get("more_body", False))
                yield message.get("body", b"")

        try:
            reply = NOT_FOUND
            if found:
                reply = await respond_async(
                    self.receiver,
                    method=scope.get("method", ""),
                    content_length=_header(headers, b"content-length"),
                    chunks=chunks,
                    headers=headers,
                    vendor=vendor,
                )
        except _Disconnected:
            return
        await _send(send, reply)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _send(send: Send, reply: Reply) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
    raw.append((b"content-length", str(len(reply.body)).encode("ascii")))
    await send({"type": "http.response.start", "status": reply.status, "headers": raw})
    await send({"type": "http.response.body", "body": reply.body})


async def _lifespan(store: StoreLifespan, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await store.start()  # a PostgresStore's async pool on the server's event loop
            except Exception as exc:
                # Not a database that is down (that is a warning): a store whose open_async()
                # is broken. Said to the server, which then refuses to start -- an exception
                # here would have it run without lifespan events (uvicorn's "auto"), and so
                # without the drain below.
                logger.exception("kyc_webhooks: the store failed at start-up")
                await send({"type": "lifespan.startup.failed", "message": type(exc).__name__})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            # The claims of requests the server cancelled go back, and completions are written,
            # before the server exits (Receiver.drain); then the pool start-up opened is closed.
            await store.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return
