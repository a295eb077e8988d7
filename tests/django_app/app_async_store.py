"""DjangoStore under ``handle_async``: every store call, ``add`` included, runs where Django
manages the database connections -- the thread of asgiref's ``sync_to_async(thread_sensitive=True)``
(``DjangoStore.run_blocking``), whose connections Django closes when the request finishes. Served
through Django's own ASGI handler (not the test clients: they keep connections open on purpose).
This module is its own URLconf (``async_webhook_view`` on a receiver with a DjangoStore)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.db import connections
from django.db.backends.signals import connection_created
from django.test import override_settings
from django.urls import path

import kyc_webhooks as kw
from kyc_webhooks.decisions import Decision
from kyc_webhooks.integrations.django.models import DecisionRecord, Delivery
from kyc_webhooks.integrations.django.store import DjangoStore
from kyc_webhooks.integrations.django.views import async_webhook_view
from kyc_webhooks.store import Added, NewDelivery
from kyc_webhooks.testing import Delivery as SignedDelivery
from kyc_webhooks.testing import signed_delivery

KEY = "async-store-signing-key"
pytestmark = pytest.mark.django_db(transaction=True)

receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=DjangoStore(), lease_timeout=60)
handled: list[str] = []


@receiver.on("idenfy")
async def on_event(event: kw.WebhookEvent) -> None:
    handled.append(event.event_type)


urlpatterns = [path("hook", async_webhook_view(receiver))]


def verdict(scan_ref: str) -> SignedDelivery:
    return signed_delivery(
        "idenfy",
        "IDENTIFICATION_MANUAL_FINISHED",
        KEY,
        status__overall="APPROVED",
        final=True,
        scanRef=scan_ref,
    )


async def serve(body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to /hook through Django's ASGI handler, as an ASGI server would; the status."""
    fields = headers.items()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/hook",
        "raw_path": b"/hook",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")]
        + [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in fields],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    requests = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop(0)
        await asyncio.Event().wait()  # the client stays: Django cancels this when it is done
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await ASGIHandler()(scope, receive, send)
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


def test_an_async_delivery_leaves_no_database_connection_open() -> None:
    """Every database connection opened while serving the delivery is closed when the request
    finishes. Was: ``add`` ran in a thread of the loop's default executor, whose connection
    Django never closes (one more per worker thread, outside Django's connection handling)."""
    opened: list[Any] = []

    def note(sender: Any, connection: Any, **kwargs: Any) -> None:
        opened.append(connection)

    handled.clear()
    connection_created.connect(note)
    try:
        with override_settings(ROOT_URLCONF=__name__):
            status = asyncio.run(serve(*verdict("scan-async")))
        left_open = [wrapper for wrapper in opened if wrapper.connection is not None]
        assert status == 200
        assert handled == ["IDENTIFICATION_MANUAL_FINISHED"]
        assert opened  # the request used the database
        assert left_open == []
    finally:
        connection_created.disconnect(note)
        for wrapper in opened:  # only after a failure: a connection of an ended thread
            if wrapper.connection is not None:
                wrapper.connection.close()
    (row,) = Delivery.objects.all()
    assert row.state == "done"
    assert not DecisionRecord.objects.filter(token__isnull=False).exists()


class GatedDjangoStore(DjangoStore):
    """A DjangoStore whose ``add`` notes its thread and waits until the test lets it finish."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.proceed = threading.Event(), threading.Event()
        self.threads: list[int] = []

    def add(
        self, delivery: NewDelivery, *, lease: float | None = None, decision: Decision | None = None
    ) -> Added:
        self.threads.append(threading.get_ident())
        self.entered.set()
        self.proceed.wait(30)
        return super().add(delivery, lease=lease, decision=decision)

    def fail(self, claim: Any, **kwargs: Any) -> bool:
        self.threads.append(threading.get_ident())
        return super().fail(claim, **kwargs)


def test_a_cancelled_async_add_is_released_in_djangos_thread() -> None:
    """The client goes away while ``add`` runs: the claim and the subject lease it took are
    released, in the thread ``sync_to_async(thread_sensitive=True)`` uses, as the add ran."""
    store = GatedDjangoStore()
    gated = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, lease_timeout=60)

    async def main() -> int:
        task = asyncio.ensure_future(gated.handle_async(*verdict("scan-cancel")))
        assert await asyncio.to_thread(store.entered.wait, 30)
        task.cancel()
        store.proceed.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Queued behind the add and its release in Django's thread: returns once they are done.
        ident: int = await sync_to_async(threading.get_ident, thread_sensitive=True)()
        await sync_to_async(connections.close_all, thread_sensitive=True)()
        return ident

    sensitive = asyncio.run(main())
    assert store.threads == [sensitive, sensitive]  # add, then fail (the release)
    (row,) = Delivery.objects.all()
    assert (row.state, row.last_error_type, row.lease_until) == ("failed", "CancelledError", None)
    assert not DecisionRecord.objects.filter(token__isnull=False).exists()
