"""The end of a claim (``complete``, ``fail``) survives the database connection breaking while the
handlers ran -- a server restart or failover, a terminated session, a proxy dropping it -- on the
database of this run (PostgreSQL, MariaDB; on SQLite, a file, the connection is only closed).

Was (review 20): ``complete`` failed on the dead connection, the delivery was answered 200 all the
same (its handlers had succeeded), the record stayed ``processing`` without its verdict in the
ledger, and the worker ran the handlers a second time once the lease expired. ``PostgresStore``
already retried such a call on a new connection; the Django store now does for the claim's end."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, connections

import kyc_webhooks as kw
from _stores import FakeClock
from kyc_webhooks.integrations.django.store import DjangoStore
from kyc_webhooks.testing import signed_delivery

pytestmark = pytest.mark.django_db(transaction=True)
KEY = "idenfy-test-key"


def _break_own_connection() -> None:
    """End this thread's database session from another connection, as a restart would (SQLite: a
    file, no session to end; the connection is closed, which Django reopens on its next use)."""
    if connection.vendor == "sqlite":
        connection.close()
        return
    with connection.cursor() as cursor:
        postgres = connection.vendor == "postgresql"
        cursor.execute("SELECT pg_backend_pid()" if postgres else "SELECT CONNECTION_ID()")
        row = cursor.fetchone()
    assert row is not None
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)" if postgres else "KILL %s", [row[0]])
    finally:
        other.close()


def _receiver(store: DjangoStore, runs: list[str], *, fail: bool = False) -> kw.Receiver:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, lease_timeout=60)

    @receiver.on("idenfy", "*")
    def handler(event: Any) -> None:
        runs.append(event.delivery_key)
        if len(runs) == 1:
            _break_own_connection()
            if fail:
                raise RuntimeError("the handler failed too")

    return receiver


@pytest.mark.parametrize("late", [False, True], ids=["at-once", "past-the-conflict-deadline"])
def test_a_completion_survives_the_connection_breaking_under_the_handler(
    django_store: DjangoStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, late: bool
) -> None:
    if late:
        # The deadline of the retries after a conflict (30 s) does not apply to a lost
        # connection: a failover that took longer left the record processing, and the handlers
        # ran again after the lease (review R37). Here it has passed before the first try.
        from kyc_webhooks.integrations.django import store as store_module

        monkeypatch.setattr(store_module, "_CONFLICT_SECONDS", 0.0)
    runs: list[str] = []
    receiver = _receiver(django_store, runs)

    outcome = receiver.handle(*signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY))

    assert outcome.status_code == 200
    assert outcome.delivery_id is not None
    record = django_store.get(outcome.delivery_id)
    assert record is not None
    assert record.done
    assert receiver.decisions.latest("idenfy", record.delivery_key.split(":")[1]) is not None
    clock.advance(120)  # past the lease: nothing is left for the worker to run again
    assert receiver.process_pending().succeeded == 0
    assert len(runs) == 1


def test_a_failure_is_recorded_when_the_connection_broke_under_the_handler(
    django_store: DjangoStore, clock: FakeClock
) -> None:
    runs: list[str] = []
    receiver = _receiver(django_store, runs, fail=True)

    outcome = receiver.handle(*signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY))

    assert outcome.status_code == 500
    assert outcome.delivery_id is not None
    record = django_store.get(outcome.delivery_id)
    assert record is not None
    assert record.state is kw.DeliveryState.FAILED  # the back-off's to retry, not the lease's
