"""``Receiver.drain()`` at shutdown (review R23): a server that cancels the requests in flight and
then exits -- uvicorn with ``--timeout-graceful-shutdown`` cancels them, runs the lifespan
shutdown, and re-raises SIGTERM -- ended the store calls the cancelled requests left behind (a
claim given back, a completion) with the process: records stayed ``processing`` until their
lease expired (the vendor's retries answered 503) and, for handlers that had run, ran them again.
``WebhookApp`` and FastAPI's ``webhook_router`` now wait for them before answering the shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest

import kyc_webhooks as kw
from kyc_webhooks.store import Claim
from kyc_webhooks.testing import signed_delivery

KEY = "drain-key"


def _delivery(scan_ref: str) -> tuple[bytes, dict[str, str]]:
    return signed_delivery(
        "idenfy",
        "IDENTIFICATION_MANUAL_FINISHED",
        KEY,
        scanRef=scan_ref,
        final=True,
        status__overall="APPROVED",
    )


class SlowRelease(kw.SQLiteStore):
    """A SQLite store whose ``fail`` (the release of a cancelled request's claim) waits until the
    test lets it go."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.releasing, self.go = threading.Event(), threading.Event()

    def fail(self, claim: Claim, **kwargs: Any) -> bool:
        self.releasing.set()
        assert self.go.wait(30)
        return super().fail(claim, **kwargs)


def _blocked_receiver(store: kw.Store) -> tuple[kw.Receiver, asyncio.Event]:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    entered = asyncio.Event()

    @receiver.on("idenfy")
    async def handler(event: kw.WebhookEvent) -> None:
        entered.set()
        await asyncio.sleep(30)  # still running when the server cancels the request

    return receiver, entered


def test_webhook_app_answers_the_shutdown_once_the_cancelled_requests_released(
    tmp_path: Path,
) -> None:
    from kyc_webhooks.integrations.asgi import WebhookApp

    store = SlowRelease(tmp_path / "inbox.sqlite3")
    receiver, entered = _blocked_receiver(store)
    app = WebhookApp(receiver)

    async def main() -> list[str]:
        body, headers = _delivery("scan-drain")
        sent: list[MutableMapping[str, Any]] = []
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(60)
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/idenfy",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
        request = asyncio.ensure_future(app(scope, receive, send))
        await asyncio.wait_for(entered.wait(), 10)
        # The graceful-shutdown timeout: uvicorn cancels the request and, without waiting for
        # it, runs the lifespan shutdown (then exits). The request gives its claim back.
        request.cancel()
        assert await asyncio.to_thread(store.releasing.wait, 10)

        lifespan_out: list[str] = []
        shutdown = asyncio.Queue[dict[str, Any]]()
        await shutdown.put({"type": "lifespan.startup"})
        await shutdown.put({"type": "lifespan.shutdown"})

        async def lifespan_send(message: MutableMapping[str, Any]) -> None:
            lifespan_out.append(message["type"])

        lifespan = asyncio.ensure_future(app({"type": "lifespan"}, shutdown.get, lifespan_send))
        await asyncio.sleep(0.3)
        assert lifespan_out == ["lifespan.startup.complete"]  # waits for the release
        store.go.set()
        await asyncio.wait_for(lifespan, 10)
        with pytest.raises(asyncio.CancelledError):
            await request
        return lifespan_out

    try:
        assert asyncio.run(main()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        (record,) = store.deliveries()
        assert (record.state, record.last_error_type) == (
            kw.DeliveryState.FAILED,
            "CancelledError",
        )
    finally:
        store.go.set()
        store.close()


def test_fastapi_webhook_router_drains_in_the_applications_lifespan(tmp_path: Path) -> None:
    from fastapi import FastAPI

    from kyc_webhooks.integrations.fastapi import webhook_router

    store = SlowRelease(tmp_path / "inbox.sqlite3")
    receiver, entered = _blocked_receiver(store)
    closed: list[str] = []

    @contextlib.asynccontextmanager
    async def own_lifespan(app: FastAPI) -> Any:  # the application's own, as docs show
        yield
        closed.append("own")

    app = FastAPI(lifespan=own_lifespan)
    app.include_router(webhook_router(receiver))

    async def main() -> None:
        async with app.router.lifespan_context(app):
            request = asyncio.ensure_future(receiver.handle_async(*_delivery("scan-f")))
            await asyncio.wait_for(entered.wait(), 10)
            request.cancel()  # not awaited: the server goes on to the shutdown
            assert await asyncio.to_thread(store.releasing.wait, 10)
            started = time.monotonic()
            threading.Timer(0.3, store.go.set).start()
        assert time.monotonic() - started >= 0.25  # the shutdown waited for the release
        assert closed == ["own"]
        with pytest.raises(asyncio.CancelledError):
            await request

    try:
        asyncio.run(main())
        (record,) = store.deliveries()
        assert record.state is kw.DeliveryState.FAILED
    finally:
        store.go.set()
        store.close()


def test_drain_without_a_store_or_anything_under_way_returns_at_once(tmp_path: Path) -> None:
    assert asyncio.run(kw.Receiver(kw.Idenfy(signing_key=KEY)).drain()) == 0
    store = kw.SQLiteStore(tmp_path / "inbox.sqlite3")
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    assert asyncio.run(receiver.drain(0.1)) == 0
    with pytest.raises(kw.ConfigurationError):
        asyncio.run(receiver.drain(0))
    store.close()


APP = """
import asyncio, os
import kyc_webhooks as kw
from fastapi import FastAPI
from kyc_webhooks.integrations.fastapi import webhook_router

store = kw.SQLiteStore(os.environ["INBOX"])
receiver = kw.Receiver(kw.Idenfy(signing_key=os.environ["KEY"]), store=store)

@receiver.on("idenfy")
async def slow(event):
    open(os.environ["ENTERED"], "a").close()
    await asyncio.sleep(30)

app = FastAPI()
app.include_router(webhook_router(receiver))
"""


def test_uvicorn_graceful_shutdown_timeout_leaves_no_claim_behind(tmp_path: Path) -> None:
    """A real uvicorn on 127.0.0.1, SIGTERM while handlers run, 1 s of graceful shutdown: every
    cancelled request's claim is given back (failed, CancelledError) before the process exits,
    so that the vendor's retry is handled at once instead of answered 503 for a lease."""
    pytest.importorskip("uvicorn")
    (tmp_path / "drain_app.py").write_text(textwrap.dedent(APP))
    inbox, entered = tmp_path / "inbox.sqlite3", tmp_path / "entered"
    # The port stays ours: uvicorn serves the socket bound here (--fd). A port looked up and
    # let go could be bound by another run before uvicorn binds it.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    env = {**os.environ, "INBOX": str(inbox), "KEY": KEY, "ENTERED": str(entered)}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--fd",
            str(sock.fileno()),
            "--timeout-graceful-shutdown",
            "1",
            "--log-level",
            "warning",
            "drain_app:app",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(sock.fileno(),),
    )
    sock.close()  # uvicorn holds its own copy
    clients: list[threading.Thread] = []
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "uvicorn exited early"
                assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
                time.sleep(0.1)

        def post(scan_ref: str) -> None:
            body, headers = _delivery(scan_ref)
            with contextlib.suppress(httpx.TransportError):
                httpx.post(f"{base}/webhooks/idenfy", content=body, headers=headers, timeout=20)

        clients = [threading.Thread(target=post, args=(f"scan-{n}",)) for n in range(4)]
        for client in clients:
            client.start()
        for _ in range(300):  # the handlers run (bounded: 3 s)
            if entered.exists():
                break
            time.sleep(0.01)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for client in clients:
            client.join(timeout=30)
    store = kw.SQLiteStore(inbox)
    try:
        records = store.deliveries()
        assert records, "no delivery reached the handlers"
        assert {(r.state, r.last_error_type) for r in records} == {
            (kw.DeliveryState.FAILED, "CancelledError")
        }
        assert all(r.lease_until is None for r in records)
    finally:
        store.close()


def test_drain_waits_for_a_plain_handler_still_running_in_a_thread(tmp_path: Path) -> None:
    # Review R27: with Router(run_sync=asyncio.to_thread) a plain handler runs in a worker
    # thread, which holds the request's cancellation until it returns; its release only starts
    # then, and drain() -- which waited for started jobs only -- returned at once: the server
    # exited mid-handler, the record stayed processing, and the sweeper ran the handler again.
    store = kw.SQLiteStore(tmp_path / "inbox.sqlite3")
    receiver = kw.Receiver(
        kw.Idenfy(signing_key=KEY), store=store, router=kw.Router(run_sync=asyncio.to_thread)
    )
    entered, release = threading.Event(), threading.Event()

    @receiver.on("idenfy")
    def slow(event: kw.WebhookEvent) -> None:
        entered.set()
        assert release.wait(30)

    async def main() -> tuple[int, kw.DeliveryRecord]:
        request = asyncio.ensure_future(receiver.handle_async(*_delivery("scan-thread")))
        assert await asyncio.to_thread(entered.wait, 10)
        request.cancel()  # held until the handler returns
        threading.Timer(0.3, release.set).start()
        left = await receiver.drain(10)
        (record,) = store.deliveries()  # before the loop ends (and its executor is waited for)
        with pytest.raises(asyncio.CancelledError):
            await request
        return left, record

    try:
        left, record = asyncio.run(main())
    finally:
        release.set()
        store.close()
    assert left == 0
    assert record.state is not kw.DeliveryState.PROCESSING
    assert record.lease_until is None
