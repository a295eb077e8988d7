"""DjangoStore under ``handle_async``: every store call, ``add`` included, runs where Django
manages the database connections -- the thread of asgiref's ``sync_to_async(thread_sensitive=True)``
(``DjangoStore.run_blocking``), whose connections Django closes when the request finishes. Served
through Django's own ASGI handler (not the test clients: they keep connections open on purpose).
This module is its own URLconf (``async_webhook_view`` on a receiver with a DjangoStore)."""

from __future__ import annotations

import asyncio
import threading
import time
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
    assert row.attempts == 0  # no handler ran: the claim given back is not an attempt
    assert not DecisionRecord.objects.filter(token__isnull=False).exists()


class HeldDjangoStore(DjangoStore):
    """A DjangoStore that notes the calls handed to ``run_blocking`` once ``hold()`` queued
    another request's work in Django's thread-sensitive thread, holding it until ``unblock``."""

    def __init__(self) -> None:
        super().__init__()
        self.busy, self.unblock, self.queued = (
            threading.Event(),
            threading.Event(),
            threading.Event(),
        )
        self.held = False
        self.completed: list[int] = []

    async def run_blocking(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        if self.held:
            self.queued.set()
        return await super().run_blocking(func, *args, **kwargs)

    async def hold(self) -> None:
        def other_request() -> None:
            self.busy.set()
            self.unblock.wait(30)

        self.other = asyncio.ensure_future(sync_to_async(other_request, thread_sensitive=True)())
        assert await asyncio.to_thread(self.busy.wait, 30)
        self.held = True

    def complete(self, claim: Any, **kwargs: Any) -> bool:
        self.completed.append(threading.get_ident())
        return super().complete(claim, **kwargs)


def test_the_completion_of_a_cancelled_request_survives_the_end_of_the_loop() -> None:
    """The handlers ran; the request is cancelled while its completion waits behind other work in
    Django's thread, and the loop ends: asgiref drops the call not yet started. Was: the record
    stayed processing until its lease expired, and then the handlers ran again."""
    store = HeldDjangoStore()
    held = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, lease_timeout=60)
    ran: list[str] = []

    @held.on("idenfy")
    async def handler(event: kw.WebhookEvent) -> None:
        ran.append(event.event_type)
        await store.hold()

    async def main() -> None:
        task = asyncio.ensure_future(held.handle_async(*verdict("scan-complete")))
        assert await asyncio.to_thread(store.queued.wait, 30)
        task.cancel()
        await asyncio.sleep(0)  # the request sees its cancellation
        # Return: asyncio.run cancels whatever is left of the loop's tasks and closes it.

    opened: list[Any] = []

    def note(sender: Any, connection: Any, **kwargs: Any) -> None:
        if threading.current_thread().name == "kyc-webhooks-release":
            opened.append(connection)  # of the thread that ran the dropped completion

    connection_created.connect(note)
    try:
        asyncio.run(main())
        store.unblock.set()
        for _ in range(300):  # the completion goes on in a thread of its own (<= 3 s)
            if Delivery.objects.get().state != "processing":
                break
            time.sleep(0.01)
        (row,) = Delivery.objects.all()
        assert (row.state, row.attempts) == ("done", 1)
        assert ran == ["IDENTIFICATION_MANUAL_FINISHED"]
        assert len(store.completed) == 1  # exactly once
        assert not DecisionRecord.objects.filter(token__isnull=False).exists()
    finally:
        store.unblock.set()
        connection_created.disconnect(note)
        for wrapper in opened:  # that thread has ended by now
            if wrapper.connection is not None:
                wrapper.connection.close()
        # Those of Django's thread-sensitive thread, as Django closes them after a request.
        asyncio.run(sync_to_async(connections.close_all, thread_sensitive=True)())
