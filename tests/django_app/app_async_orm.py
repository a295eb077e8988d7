"""``KYC_WEBHOOKS["ASYNC"] = True``: plain ``def`` code that uses the ORM -- an event handler, a
``webhook_received`` and a ``decision_changed`` receiver (docs/django.md) -- runs in Django's
thread-sensitive thread (``sync_to_async``), never on the event loop, where Django raises
``SynchronousOnlyOperation`` (every delivery would fail with 500 and be retried for ever). Through
Django's async test client, a real uvicorn server on 127.0.0.1, and the management command, which
awaits the handlers when one is ``async def``."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.core import checks
from django.core.management import call_command
from django.db import connection, connections
from django.test import AsyncClient, Client, override_settings

from django_app.conftest import async_app_views
from kyc_webhooks.integrations.django import signals
from kyc_webhooks.integrations.django.models import Delivery
from kyc_webhooks.testing import signed_delivery

KEY = "idenfy-test-key"  # django_app.settings
HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.django_db(transaction=True)
ASYNC = {"VENDORS": {"idenfy": {"signing_key": KEY}}, "ASYNC": True}


def verdict(scan_ref: str) -> tuple[bytes, dict[str, str]]:
    body, headers = signed_delivery(
        "idenfy",
        "IDENTIFICATION_MANUAL_FINISHED",
        KEY,
        status__overall="APPROVED",
        final=True,
        scanRef=scan_ref,
    )
    return body, dict(headers)


def write(who: str) -> None:
    User.objects.create(username=f"{who}-{User.objects.count()}", first_name=who)


def writes() -> dict[str, int]:
    return {
        who: User.objects.filter(first_name=who).count()
        for who in ("handler", "received", "decision")
    }


def on_received(sender: Any, event: Any, **kwargs: Any) -> None:
    write("received")


def on_decision(sender: Any, decision: Any, **kwargs: Any) -> None:
    write("decision")


@contextlib.contextmanager
def orm_receivers() -> Iterator[None]:
    """The project receiver (built from the settings in force) with a plain handler and two
    signal receivers that write rows."""
    from kyc_webhooks.integrations.django import receiver

    receiver.on("idenfy")(lambda event: write("handler"))
    signals.webhook_received.connect(on_received)
    signals.decision_changed.connect(on_decision)
    try:
        yield
    finally:
        signals.webhook_received.disconnect(on_received)
        signals.decision_changed.disconnect(on_decision)


@pytest.fixture
def async_views() -> Iterator[None]:
    """``ASYNC`` on, the URLs reloaded for it."""
    with async_app_views(ASYNC):
        yield


# Django's test clients disconnect close_old_connections from request_finished (to keep the test's
# transaction), so the connection of the thread that served the async request is left for the
# garbage collector; a real ASGI server closes it at the end of the request.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_plain_orm_code_runs_under_the_async_views_through_the_async_client(
    async_views: None,
) -> None:
    body, headers = verdict("scan-async-client")
    extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}

    async def send() -> list[Any]:
        client = AsyncClient()
        try:
            return [
                await client.post(
                    "/webhooks/idenfy", data=body, content_type="application/json", headers=extra
                )
                for _ in range(2)
            ]
        finally:
            await sync_to_async(connections.close_all)()

    with orm_receivers():
        assert [e for e in checks.run_checks() if e.id.startswith("kyc_webhooks")] == []
        first, again = asyncio.run(send())
    assert first.status_code == 200, first.content
    assert again.status_code == 200
    assert again.json().get("duplicate") is True
    assert writes() == {"handler": 1, "received": 1, "decision": 1}
    row = Delivery.objects.get()
    assert (row.state, row.attempts) == ("done", 1)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_cancelled_request_waits_for_the_plain_handler_in_its_thread() -> None:
    # Client gone while the plain handler writes: the request waits for it (its thread cannot be
    # stopped), then the cancellation arrives at the completion, which still records the delivery.
    from kyc_webhooks.integrations.django import receiver

    started, release = threading.Event(), threading.Event()

    @receiver.on("idenfy")
    def slow(event: Any) -> None:
        write("slow")
        started.set()
        assert release.wait(30)

    body, headers = verdict("scan-cancelled")

    async def main() -> None:
        try:
            task = asyncio.ensure_future(receiver.handle_async(body, headers))
            assert await asyncio.to_thread(started.wait, 30)
            task.cancel()
            for _ in range(5):
                await asyncio.sleep(0.01)
                assert not task.done()
            release.set()
            with pytest.raises(asyncio.CancelledError):
                await task
            for _ in range(300):  # the completion goes on in Django's thread: <= 3 s
                state = await sync_to_async(lambda: Delivery.objects.get().state)()
                if state != "processing":
                    break
                await asyncio.sleep(0.01)
            again = await receiver.handle_async(body, headers)
            assert again.duplicate
        finally:
            await sync_to_async(connections.close_all)()

    with orm_receivers():
        asyncio.run(main())
    assert writes() == {"handler": 1, "received": 1, "decision": 1}
    assert User.objects.filter(first_name="slow").count() == 1
    row = Delivery.objects.get()
    assert (row.state, row.attempts) == ("done", 1)


@override_settings(KYC_WEBHOOKS={"VENDORS": {"idenfy": {"signing_key": KEY}}, "DEFER": True})
def test_the_process_command_runs_plain_orm_code_beside_an_async_handler() -> None:
    # An async handler makes `manage.py kyc_webhooks process` / `replay` await the handlers
    # (async_to_sync); the plain ones still run in the command's thread.
    from kyc_webhooks.integrations.django import receiver

    seen: list[str] = []

    @receiver.on("idenfy")
    async def on_async(event: Any) -> None:
        seen.append(event.event_type)

    body, headers = verdict("scan-command")
    extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    with orm_receivers():
        response = Client().post(
            "/webhooks/idenfy", data=body, content_type="application/json", headers=extra
        )
        assert response.status_code == 202
        call_command("kyc_webhooks", "process", stdout=io.StringIO())
        row = Delivery.objects.get()
        assert (row.state, row.attempts) == ("done", 1)
        assert writes() == {"handler": 1, "received": 1, "decision": 1}
        call_command("kyc_webhooks", "replay", str(row.id), "--force", stdout=io.StringIO())
    # A replay runs the event handlers again; the decision did not change.
    assert writes() == {"handler": 2, "received": 2, "decision": 1}
    assert seen == ["IDENTIFICATION_MANUAL_FINISHED"] * 2


@pytest.fixture
def uvicorn_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """uvicorn on 127.0.0.1 serving django_app.asgi_orm (the async views, plain ORM code) on the
    test database; the base URL and the server's log."""
    # The port stays ours: uvicorn serves the socket bound here (--fd). A port looked up and
    # let go could be bound by another run before uvicorn binds it.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "django_app.settings_async",
        "KYC_TEST_DJANGO_NAME": str(connection.settings_dict["NAME"]),
        "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")]),
    }
    log = tmp_path / "uvicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--fd",
                str(sock.fileno()),
                "--log-level",
                "warning",
                "django_app.asgi_orm:application",
            ],
            cwd=HERE.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=(sock.fileno(),),
        )
        sock.close()  # uvicorn holds its own copy
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/webhooks/idenfy", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
                time.sleep(0.1)
        yield base, log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def test_plain_orm_code_runs_under_the_async_views_of_a_uvicorn_server(
    uvicorn_server: tuple[str, Path],
) -> None:
    base, log = uvicorn_server
    body, headers = verdict("scan-uvicorn")
    with httpx.Client(base_url=base, timeout=30) as client:
        first = client.post("/webhooks/idenfy", content=body, headers=headers)
        again = client.post("/webhooks/idenfy/", content=body, headers=headers)
    assert first.status_code == 200, (first.text, log.read_text()[-3000:])
    assert again.status_code == 200
    assert again.json().get("duplicate") is True
    assert writes() == {"handler": 1, "received": 1, "decision": 1}
    row = Delivery.objects.get()
    assert (row.state, row.attempts) == ("done", 1)
    assert "Traceback" not in log.read_text()
