"""The FastAPI adapter through httpx's ASGI transport (contract: tests/_adapter_contract.py), plus
the ``verified_event`` dependency."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from fastapi import Depends, FastAPI

import kyc_webhooks as kw
from _adapter_contract import (
    NEVER_IN_RESPONSE,
    SECRETS,
    AsyncAdapterContract,
    Client,
    HttpxClient,
    Recorder,
    delivery,
    leaked,
    malformed,
    tampered,
)
from kyc_webhooks.integrations.fastapi import verified_event, webhook_router
from kyc_webhooks.testing import signed_delivery


class TestRouter(AsyncAdapterContract):
    def client(self, recorder: Recorder) -> Client:
        app = FastAPI()
        app.include_router(webhook_router(recorder.receiver))
        return HttpxClient(app)


def test_router_without_prefix_serves_root_and_vendor_paths() -> None:
    recorder = Recorder()
    app = FastAPI()
    app.include_router(webhook_router(recorder.receiver, prefix=""), prefix="/hooks")
    client = HttpxClient(app)
    assert client.post("/hooks/", *delivery("yoti")).status == 200
    assert client.post("/hooks/idenfy", *delivery("idenfy")).status == 200
    assert [e.vendor for e in recorder.seen] == ["yoti", "idenfy"]


def _dependency_app(receiver: kw.Receiver) -> FastAPI:
    app = FastAPI()

    @app.post("/kyc/{vendor}")
    async def by_vendor(
        event: kw.WebhookEvent = Depends(verified_event(receiver)),  # noqa: B008
    ) -> dict[str, str]:
        return {"vendor": event.vendor, "event_type": event.event_type}

    @app.post("/kyc-idenfy")
    async def idenfy_only(
        event: kw.WebhookEvent = Depends(verified_event(receiver, vendor="idenfy")),  # noqa: B008
    ) -> dict[str, str]:
        return {"vendor": event.vendor, "event_type": event.event_type}

    return app


@pytest.mark.parametrize("vendor", list(SECRETS))
def test_dependency_gives_the_endpoint_the_verified_event(vendor: str) -> None:
    recorder = Recorder()
    client = HttpxClient(_dependency_app(recorder.receiver))
    result = client.post(f"/kyc/{vendor}", *delivery(vendor))
    assert result.status == 200
    assert result.json()["vendor"] == vendor
    assert recorder.seen == []  # the dependency only verifies and parses; handlers do not run


def test_dependency_refuses_a_receiver_with_a_store() -> None:
    """It only verifies and parses: a store would be bypassed without a word (nothing stored, a
    redelivery running the endpoint again, no decision ledger). Refused when the dependency is
    built, so at import time of the application."""
    store = kw.MemoryStore()
    receiver = kw.Receiver(kw.Idenfy(signing_key=SECRETS["idenfy"]), store=store)
    with pytest.raises(kw.ConfigurationError, match="the receiver has a store") as raised:
        verified_event(receiver, vendor="idenfy")
    assert "webhook_router(receiver)" in raised.value.message
    assert "a Receiver built without a store" in raised.value.message
    # The router is the path for a receiver with a store: stored once, a duplicate after.
    app = FastAPI()
    app.include_router(webhook_router(receiver))
    client = HttpxClient(app)
    for duplicate in (False, True):
        result = client.post("/webhooks/idenfy", *delivery("idenfy"))
        assert result.status == 200
        assert result.json().get("duplicate", False) is duplicate
    assert store.stats()["total"] == 1


@pytest.mark.parametrize("vendor", list(SECRETS))
def test_dependency_refuses_a_tampered_delivery(vendor: str) -> None:
    client = HttpxClient(_dependency_app(Recorder().receiver))
    result = client.post(f"/kyc/{vendor}", *tampered(vendor))
    assert result.status == 401
    assert result.json()["detail"]["error"] == "AuthenticationError"
    result.assert_safe()


def test_dependency_pinned_vendor_and_limits() -> None:
    recorder = Recorder(max_body_size=256)
    client = HttpxClient(_dependency_app(recorder.receiver))
    assert client.post("/kyc-idenfy", *delivery("yoti")).status == 401
    assert client.post("/kyc/sumsub", *delivery("yoti")).status == 404
    body, headers = delivery("idenfy")
    assert len(body) > 256
    assert client.post("/kyc-idenfy", body, headers).status == 413
    assert client.post_undeclared("/kyc-idenfy", body, headers).status == 413
    # Each refusal of the dependency is counted by the receiver, as handle() counts its own.
    stats = recorder.receiver.stats()
    assert (stats["rejected"], stats["rejected_401"], stats["rejected_413"]) == (3, 1, 2)


def test_openapi_schema_builds_without_warnings() -> None:
    app = FastAPI()
    app.include_router(webhook_router(Recorder().receiver, tags=["webhooks"]))
    paths = app.openapi()["paths"]
    assert set(paths) == {"/webhooks", "/webhooks/{vendor}"}
    assert set(paths["/webhooks/{vendor}"]) == {"post"}


@pytest.mark.parametrize("kind", ["router", "dependency"])
def test_client_disconnect_mid_body_is_answered_quietly(kind: str) -> None:
    import asyncio
    from collections.abc import MutableMapping
    from typing import Any

    receiver = kw.Receiver(kw.Idenfy(signing_key="k"))
    seen: list[kw.WebhookEvent] = []
    receiver.on("*")(seen.append)
    if kind == "router":
        app = FastAPI()
        app.include_router(webhook_router(receiver))
        path = "/webhooks/idenfy"
    else:
        app = _dependency_app(receiver)
        path = "/kyc/idenfy"
    script: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"scanRef":', "more_body": True},
        {"type": "http.disconnect"},
    ]
    messages = iter(script)
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"idenfy-event-type", b"IDENTIFICATION"), (b"idenfy-signature", b"0" * 64)],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))  # must not raise ClientDisconnect
    assert seen == []
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert [m["status"] for m in starts] == [400]


def _kyc_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("kyc_webhooks")]


@pytest.mark.parametrize(
    ("kind", "status", "error"),
    [
        ("tampered", 401, "AuthenticationError"),
        ("malformed", 400, "PayloadError"),
        ("oversized", 413, "PayloadTooLargeError"),
        ("oversized-streamed", 413, "PayloadTooLargeError"),
    ],
)
def test_dependency_logs_one_line_per_refused_delivery(
    caplog: pytest.LogCaptureFixture, kind: str, status: int, error: str
) -> None:
    limit = 256 if kind.startswith("oversized") else kw.DEFAULT_MAX_BODY_SIZE
    client = HttpxClient(_dependency_app(Recorder(max_body_size=limit).receiver))
    if kind == "tampered":
        body, headers = tampered("idenfy")
    elif kind == "malformed":
        body, headers = malformed("idenfy")
    else:
        body, headers = delivery("idenfy")
        assert len(body) > 256
    with caplog.at_level(logging.DEBUG, logger="kyc_webhooks"):
        if kind == "oversized-streamed":
            result = client.post_undeclared("/kyc/idenfy", body, headers)
        else:
            result = client.post("/kyc/idenfy", body, headers)
    assert result.status == status
    lines = _kyc_lines(caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    message = lines[0].getMessage()
    assert lines[0].levelno == logging.WARNING
    assert message.startswith(f"delivery rejected vendor=idenfy status={status} error={error}")
    assert leaked(NEVER_IN_RESPONSE, caplog.text) == []
    assert "APPROVED" not in caplog.text
    assert "DENIED" not in caplog.text


def test_dependency_logs_one_line_per_verified_delivery(caplog: pytest.LogCaptureFixture) -> None:
    client = HttpxClient(_dependency_app(Recorder().receiver))
    with caplog.at_level(logging.DEBUG, logger="kyc_webhooks"):
        assert client.post("/kyc/complycube", *delivery("complycube")).status == 200
    lines = _kyc_lines(caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].levelno == logging.INFO
    assert (
        lines[0]
        .getMessage()
        .startswith("delivery verified vendor=complycube event_type=check.completed.clear")
    )
    assert leaked(NEVER_IN_RESPONSE, caplog.text) == []


def test_the_dependencys_log_line_cannot_be_forged_from_the_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Its "delivery verified" line wrote the event type as sent: a line break in a Yoti topic
    (authenticated by a static token only) started a line of the sender's (review R34)."""
    import json

    from kyc_webhooks.testing import sign

    recorder = Recorder()
    client = HttpxClient(_dependency_app(recorder.receiver))
    body = json.dumps({"session_id": "s-1", "topic": "x\ncritical forged"}).encode()
    with caplog.at_level(logging.INFO, logger="kyc_webhooks"):
        result = client.post("/kyc/yoti", *sign("yoti", body, SECRETS["yoti"]))
    assert result.status == 200
    lines = [line for r in caplog.records for line in r.getMessage().splitlines()]
    assert not [line for line in lines if line.startswith("critical")], lines
    assert any("event_type=x\\ncritical forged" in line for line in lines)


def _blocking_receiver(router: kw.Router) -> kw.Receiver:
    receiver = kw.Receiver(kw.Idenfy(signing_key="k-threads"), router=router)

    @receiver.on("idenfy", "*")
    def blocking(event: kw.WebhookEvent) -> None:
        time.sleep(0.3)  # a CRM call

    return receiver


def _ticks_while_handling(receiver: kw.Receiver) -> tuple[list[int], int, float]:
    """Four concurrent deliveries through ``handle_async``, and how often another coroutine of
    the application got the event loop meanwhile (every 10 ms when it is free)."""

    async def main() -> tuple[list[int], int]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        running = asyncio.ensure_future(ticker())
        deliveries = [
            signed_delivery("idenfy", "IDENTIFICATION", "k-threads", scanRef=f"threads-{n}")
            for n in range(4)
        ]
        outcomes = await asyncio.gather(*(receiver.handle_async(*d) for d in deliveries))
        done.set()
        await running
        return [outcome.status_code for outcome in outcomes], ticks

    started = time.monotonic()
    statuses, ticks = asyncio.run(main())
    return statuses, ticks, time.monotonic() - started


def test_plain_handlers_run_on_the_event_loop_unless_the_router_runs_them_in_threads() -> None:
    """docs/fastapi.md: under the ASGI adapters a plain handler runs on the event loop, so a
    blocking one stalls the application (a helper's audit: 3 s handlers, deliveries unanswered
    after iDenfy's 10 s); ``kw.Router(run_sync=anyio.to_thread.run_sync)`` runs them in
    FastAPI's thread pool, the event loop free."""
    import anyio.to_thread

    statuses, ticks, took = _ticks_while_handling(_blocking_receiver(kw.Router()))
    assert statuses == [200] * 4
    assert took >= 1.2  # one after another
    assert ticks < 10
    threaded = kw.Router(run_sync=anyio.to_thread.run_sync)
    statuses, ticks, took = _ticks_while_handling(_blocking_receiver(threaded))
    assert statuses == [200] * 4
    assert took < 1.0  # side by side
    assert ticks >= 15
