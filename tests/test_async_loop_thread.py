"""A blocking store (SQLite, PostgreSQL) is never called on the event loop's thread by the async
entry points: a call there stalls every other request of the application for a round trip to the
database -- for the pool's whole timeout when the database is down. Was: the answers that need
the store's clock (a delivery in progress elsewhere, a failed one waiting for its back-off) read
``store.now()`` -- a query on PostgreSQL -- on the loop's thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from _postgres import postgres_store
from kyc_webhooks.testing import signed_delivery

KEY = "loop-thread-signing-key"
MANUAL = signed_delivery(
    "idenfy",
    "IDENTIFICATION_MANUAL_FINISHED",
    KEY,
    status__overall="APPROVED",
    final=True,
    scanRef="scan-loop-thread",
)


class Watched:
    """The real store inside, blocking, recording each public method called on the thread of the
    running event loop."""

    blocking = True

    def __init__(self, store: kw.Store) -> None:
        self.store = store
        self.loop_thread: int | None = None
        self.on_loop: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if name.startswith("_") or name == "native_async" or not callable(attr):
            return attr  # native_async() reads the store's state: no I/O

        def call(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == self.loop_thread:
                self.on_loop.append(name)
            return attr(*args, **kwargs)

        return call

    def run(self, make: Callable[[], Awaitable[kw.Outcome]]) -> kw.Outcome:
        async def main() -> kw.Outcome:
            self.loop_thread = threading.get_ident()
            try:
                return await make()
            finally:
                self.loop_thread = None

        return asyncio.run(main())


@contextlib.contextmanager
def _store(kind: str, tmp_path: Path) -> Iterator[kw.Store]:
    if kind == "postgres":
        with postgres_store() as made:  # the database's clock: now() is a query
            yield made
        return
    made = kw.SQLiteStore(tmp_path / "inbox.sqlite3")
    try:
        yield made
    finally:
        made.close()


def _receiver(store: Any, **kwargs: Any) -> kw.Receiver:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, lease_timeout=60, **kwargs)
    receiver.on("idenfy")(lambda event: None)
    return receiver


@pytest.fixture(params=["sqlite", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_new_delivery_and_its_duplicate(kind: str, tmp_path: Path) -> None:
    with _store(kind, tmp_path) as inner:
        store = Watched(inner)
        receiver = _receiver(store)
        first = store.run(lambda: receiver.handle_async(*MANUAL))
        again = store.run(lambda: receiver.handle_async(*MANUAL))
        assert (first.status_code, first.duplicate, again.duplicate) == (200, False, True)
        assert store.on_loop == []


def test_a_delivery_in_progress_elsewhere(kind: str, tmp_path: Path) -> None:
    with _store(kind, tmp_path) as inner:
        delivery_id = _receiver(inner, defer=True).handle(*MANUAL).delivery_id
        assert delivery_id is not None
        assert inner.claim(delivery_id, lease=60) is not None  # another worker holds it
        store = Watched(inner)
        receiver = _receiver(store)
        answers = [
            store.run(lambda: receiver.handle_async(*MANUAL)),
            store.run(lambda: receiver.process_async(delivery_id)),
            store.run(lambda: receiver.replay_async(delivery_id)),
        ]
        assert [a.status_code for a in answers] == [503, 503, 503]
        # The hint still comes from the lease: about its 60 s, never the fallback of 1.
        assert [50 <= (a.retry_after or 0) <= 60 for a in answers] == [True, True, True]
        assert store.on_loop == []


def test_a_failed_delivery_waiting_for_its_back_off(kind: str, tmp_path: Path) -> None:
    with _store(kind, tmp_path) as inner:
        delivery_id = _receiver(inner, defer=True).handle(*MANUAL).delivery_id
        assert delivery_id is not None
        claim = inner.claim(delivery_id, lease=60)
        assert claim is not None
        retry_at = inner.now() + timedelta(hours=1)
        assert inner.fail(claim, error_type="X", error_message="x", retry_at=retry_at)
        store = Watched(inner)
        outcome = store.run(lambda: _receiver(store).process_async(delivery_id))
        assert outcome.status_code == 503
        assert outcome.retry_after is not None
        assert 3500 <= outcome.retry_after <= 3600
        assert store.on_loop == []


def test_process_pending(kind: str, tmp_path: Path) -> None:
    with _store(kind, tmp_path) as inner:
        _receiver(inner, defer=True).handle(*MANUAL)
        store = Watched(inner)
        receiver = _receiver(store)

        async def pending() -> kw.Outcome:
            summary = await receiver.process_pending_async()
            (outcome,) = summary.outcomes
            return outcome

        assert store.run(pending).status_code == 200
        assert store.on_loop == []
