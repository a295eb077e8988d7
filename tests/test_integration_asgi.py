"""The bare ASGI app through httpx's ``ASGITransport`` (contract: tests/_adapter_contract.py), alone
and mounted in Starlette; paths, root_path, lifespan and disconnects."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from _adapter_contract import AsyncAdapterContract, Client, HttpxClient, Recorder, delivery
from kyc_webhooks.integrations.asgi import Message, WebhookApp


class TestWebhookApp(AsyncAdapterContract):
    def client(self, recorder: Recorder) -> Client:
        return HttpxClient(WebhookApp(recorder.receiver, prefix="/webhooks"))


class MountedClient(HttpxClient):
    """Starlette redirects ``/webhooks`` to ``/webhooks/`` for a mount: post to the latter."""

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return super().send(method, "/webhooks/" if path == "/webhooks" else path, **kwargs)


class TestMountedInStarlette(AsyncAdapterContract):
    """Mounted at /webhooks: the mount supplies the prefix through ``root_path``."""

    def client(self, recorder: Recorder) -> Client:
        app = Starlette(routes=[Mount("/webhooks", app=WebhookApp(recorder.receiver))])
        return MountedClient(app)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/webhooks/", 200),
        ("/webhooks/yoti/", 200),
        ("/webhooks/yoti/extra", 404),
        ("/webhooksyoti", 404),
        ("/other", 404),
        ("/", 404),
    ],
)
def test_paths(path: str, status: int) -> None:
    recorder = Recorder()
    result = HttpxClient(WebhookApp(recorder.receiver, prefix="/webhooks")).post(
        path, *delivery("yoti")
    )
    assert result.status == status
    assert len(recorder.seen) == (1 if status == 200 else 0)


def test_root_path_from_the_server_is_stripped() -> None:
    recorder = Recorder()
    client = HttpxClient(WebhookApp(recorder.receiver, prefix="/webhooks"), root_path="/api")
    assert client.post("/api/webhooks/yoti", *delivery("yoti")).status == 200
    assert len(recorder.seen) == 1


def test_lifespan_startup_and_shutdown_complete() -> None:
    incoming: list[Message] = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(WebhookApp(Recorder().receiver)({"type": "lifespan"}, receive, send))
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


def test_client_disconnect_mid_body_sends_nothing() -> None:
    recorder = Recorder()
    app = WebhookApp(recorder.receiver)
    messages: list[Message] = [
        {"type": "http.request", "body": b'{"session_id": ', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/yoti", "headers": []}
    asyncio.run(app(scope, receive, send))
    assert sent == []
    assert recorder.seen == []


@pytest.mark.parametrize(
    ("declared", "status"),
    [("9" * 5000, 413), ("0" * 5000 + "2", 401), ("0" * 5000 + "9" * 20, 413)],
    ids=["5000-digits", "zeros-then-2", "zeros-then-20-digits"],
)
def test_a_content_length_of_thousands_of_digits_is_answered(declared: str, status: int) -> None:
    """``int()`` refuses more than 4,300 digits: a server that passes such a header on (h11
    refuses it; a test client, another server may not) saw a ValueError from the app. Leading
    zeros count for nothing: "000...2" declares the 2 bytes sent (read, and not signed: 401)."""
    recorder = Recorder()
    messages: list[Message] = [{"type": "http.request", "body": b"{}", "more_body": False}]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"content-length", declared.encode())]
    scope = {"type": "http", "method": "POST", "path": "/yoti", "headers": headers}
    asyncio.run(WebhookApp(recorder.receiver)(scope, receive, send))
    assert sent[0]["status"] == status
    assert recorder.seen == []


def test_websocket_scope_is_ignored() -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        raise AssertionError("not expected")

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(WebhookApp(Recorder().receiver)({"type": "websocket"}, receive, send))
    assert sent == []
