"""The end of a claim (``complete``, ``fail``) outlasts a conflict with another transaction on the
database of this run: a lock it waits for past the database's lock timeout (PostgreSQL
``lock_timeout``, MariaDB ``innodb_lock_wait_timeout``, SQLite's busy timeout), as a deadlock
with a worker's ``claim_next`` on MariaDB ends it too -- the whole try rolled back.

Was (review R32): the conflict became a StoreError after the handlers had run; the record stayed
``processing``, and the handlers ran a second time once its lease expired (on MariaDB at READ
COMMITTED in 4 of 7 runs of three workers; on SQLite without ``transaction_mode: IMMEDIATE`` 17
of 60 deliveries). The store now tries the ending again, a little apart."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from django.db import connection, transaction

import kyc_webhooks as kw
from _stores import FakeClock
from kyc_webhooks.integrations.django.models import Delivery
from kyc_webhooks.integrations.django.store import DjangoStore
from kyc_webhooks.testing import signed_delivery

pytestmark = pytest.mark.django_db(transaction=True)
KEY = "idenfy-test-key"
#: The longest the other transaction holds the record (it lets go earlier when told to).
HOLD = 10.0


class _Retried(logging.Handler):
    """Sets ``seen`` when the store logs that it tries a claim's ending again: its first try
    met the lock, so the holder may let go (before: a fixed 1.5 s hold, 0.45 s short of the
    store's give-up on SQLite, which a loaded machine could eat)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "trying again" in record.getMessage():
            self.seen.set()


def _short_lock_waits() -> None:
    """This thread's connection gives up on a lock soon (the databases' defaults are seconds to
    a minute), so that the first try of the claim's end fails while the lock is held."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET lock_timeout = '300ms'")
        elif connection.vendor == "mysql":
            cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
        else:
            cursor.execute("PRAGMA busy_timeout = 200")


def _hold(delivery_id: str, locked: threading.Event, release: threading.Event) -> None:
    """In a thread (a connection of its own): lock the record -- on SQLite the whole database,
    as another writer does -- until ``release`` is set (at most HOLD seconds), then commit."""
    try:
        with transaction.atomic():
            if connection.vendor == "sqlite":
                with connection.cursor() as cursor:  # a write: SQLite's write lock
                    cursor.execute(
                        "UPDATE kyc_webhooks_delivery SET updated_at = updated_at WHERE id = %s",
                        [delivery_id],
                    )
            else:
                list(Delivery.objects.select_for_update().filter(id=delivery_id))
            locked.set()
            release.wait(HOLD)
    finally:
        locked.set()
        connection.close()


@pytest.mark.parametrize("ending", ["complete", "fail"])
def test_a_claims_end_waits_out_a_conflict(
    django_store: DjangoStore, clock: FakeClock, ending: str
) -> None:
    runs: list[str] = []
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=django_store, lease_timeout=60)
    holder: list[threading.Thread] = []
    retried = _Retried()
    store_logger = logging.getLogger("kyc_webhooks")
    store_logger.addHandler(retried)

    @receiver.on("idenfy", "*")
    def handler(event: Any) -> None:
        runs.append(event.delivery_key)
        if len(runs) > 1:
            return
        (record,) = django_store.deliveries()
        locked = threading.Event()
        thread = threading.Thread(target=_hold, args=(record.id, locked, retried.seen), daemon=True)
        thread.start()
        holder.append(thread)
        assert locked.wait(10)
        _short_lock_waits()
        if ending == "fail":
            raise RuntimeError("the handler failed")

    try:
        outcome = receiver.handle(*signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY))
        # Read before the finally lets the holder go: the first try met the lock.
        tried_again = retried.seen.is_set()
    finally:
        store_logger.removeHandler(retried)
        retried.seen.set()
        for thread in holder:
            thread.join(10)
    assert tried_again, "the claim's ending never met the other transaction's lock"

    assert outcome.delivery_id is not None
    record = django_store.get(outcome.delivery_id)
    assert record is not None
    if ending == "complete":
        assert outcome.status_code == 200
        assert record.done
        clock.advance(120)  # past the lease: a record left processing would run again now
        assert receiver.process_pending().processed == 0
        assert len(runs) == 1
    else:  # recorded as failed (its retry after the back-off), not left processing
        assert outcome.status_code == 500
        assert str(record.state) == "failed"
        assert record.last_error_type == "RuntimeError"


def test_a_workers_claim_passes_over_an_exhausted_record_another_transaction_holds(
    django_store: DjangoStore, clock: FakeClock
) -> None:
    """claim_next() first marks exhausted records failed (every attempt crashed); it updated them
    through the state index, waiting for -- and on MariaDB deadlocking with -- a complete() of
    the same rows. It now skips rows another transaction holds (where the database can: not
    SQLite, which locks the whole file) and takes them on a later call."""
    from kyc_webhooks.store import NewDelivery

    added = django_store.add(NewDelivery("k-exhausted", "idenfy", "T", b"{}"), lease=10)
    assert added.claim is not None
    clock.advance(60)  # its lease expired with its only attempt: exhausted at max_attempts=1
    skips = connection.features.has_select_for_update_skip_locked
    holder: threading.Thread | None = None
    if skips:
        locked, release = threading.Event(), threading.Event()
        holder = threading.Thread(
            target=_hold, args=(added.record.id, locked, release), daemon=True
        )
        holder.start()
        try:
            assert locked.wait(10)
            _short_lock_waits()
            # Held: passed over -- no wait for its lock (which would time out: a StoreError).
            assert django_store.claim_next(lease=30, max_attempts=1) is None
            assert str(django_store.get(added.record.id).state) == "processing"  # type: ignore[union-attr]
        finally:
            release.set()
            holder.join(10)
    assert django_store.claim_next(lease=30, max_attempts=1) is None
    record = django_store.get(added.record.id)
    assert record is not None
    assert (str(record.state), record.last_error_type) == ("failed", "LeaseExpired")
