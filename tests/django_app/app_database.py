"""What the app's store needs of the database of this run (SQLite, PostgreSQL or MariaDB): the
isolation level it is built for on MySQL/MariaDB (system check ``kyc_webhooks.W001``), a lock
held too long by another transaction answered as a store error, microsecond leases, bytes and
text kept exactly, and its migrations applying from zero."""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core import checks
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.models import F

from _ledger import assert_upgraded_entry_counts_as_announced, entry
from _stores import FakeClock
from kyc_webhooks.errors import StoreError
from kyc_webhooks.integrations.django import conf
from kyc_webhooks.integrations.django.models import DecisionRecord, Delivery
from kyc_webhooks.integrations.django.store import DjangoStore
from kyc_webhooks.store import NewDelivery

pytestmark = pytest.mark.django_db(transaction=True)


def _warnings() -> list[checks.CheckMessage]:
    conf.reset()
    return [m for m in checks.run_checks() if m.id.startswith("kyc_webhooks")]


@pytest.mark.parametrize("level", ["repeatable read", "serializable", None])
def test_an_isolation_level_other_than_read_committed_is_a_warning_on_mysql(
    monkeypatch: pytest.MonkeyPatch, level: str | None
) -> None:
    """MySQL/MariaDB only: Django connects there at READ COMMITTED unless told otherwise; under
    REPEATABLE READ concurrent first decisions of a subject deadlock (InnoDB's gap locks) and
    an insert race lost inside ATOMIC_REQUESTS reads a stale snapshot. Was: no warning."""
    assert _warnings() == []
    options = {**connection.settings_dict.get("OPTIONS", {}), "isolation_level": level}
    if connection.vendor != "mysql":  # the setting means nothing to the check elsewhere
        monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
        assert _warnings() == []
        return
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    found = _warnings()
    assert [m.id for m in found] == ["kyc_webhooks.W001"]
    assert found[0].level == checks.WARNING
    assert (level or "REPEATABLE READ by default") in found[0].msg
    monkeypatch.setitem(
        connection.settings_dict, "OPTIONS", {**options, "isolation_level": "READ COMMITTED"}
    )
    assert _warnings() == []


@pytest.fixture
def locked_row(django_store: DjangoStore) -> Iterator[str]:
    """A claimed delivery whose row another transaction (a thread's connection) holds locked
    (``SELECT ... FOR UPDATE``) until the test ends; its id."""
    added = django_store.add(NewDelivery("key", "idenfy", "E", b"{}"), lease=60)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction.atomic():
            Delivery.objects.select_for_update().get(id=added.record.id)
            locked.set()
            release.wait(timeout=120)

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(timeout=60)
    try:
        yield added.record.id
    finally:
        release.set()
        holder.join(timeout=60)


def test_a_lock_held_past_the_wait_timeout_is_a_store_error(
    django_store: DjangoStore, clock: FakeClock, locked_row: str
) -> None:
    """MySQL/MariaDB error 1205 (lock wait timeout) and PostgreSQL's lock timeout: a
    StoreError (503, the vendor redelivers), the delivery unchanged. SQLite serialises whole
    transactions: its "database is locked" is app_command_usage's (the process loop)."""
    if connection.vendor == "sqlite":
        return
    timeout = {
        "mysql": (
            "SET SESSION innodb_lock_wait_timeout = 1",
            "SET SESSION innodb_lock_wait_timeout = DEFAULT",
        ),
        "postgresql": ("SET lock_timeout = '100ms'", "SET lock_timeout = DEFAULT"),
    }[connection.vendor]
    claim = django_store.claim(locked_row, lease=60, replay=True)
    assert claim is None  # the lease of add() is live
    record = django_store.get(locked_row)
    assert record is not None
    with connection.cursor() as cursor:
        cursor.execute(timeout[0])
    try:
        clock.advance(61)
        with pytest.raises(StoreError, match="the Django delivery store failed"):
            django_store.claim(locked_row, lease=60)
        with pytest.raises(StoreError, match="the Django delivery store failed"):
            django_store.erase(locked_row)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(timeout[1])
    assert django_store.get(locked_row) == record


def test_leases_compare_to_the_microsecond(django_store: DjangoStore, clock: FakeClock) -> None:
    """Every database keeps the microseconds of a lease (MySQL/MariaDB: DATETIME(6)): a lease
    is live until its last microsecond, and not one microsecond longer."""
    clock.advance(0.123457)
    added = django_store.add(NewDelivery("key", "idenfy", "E", b"{}"), lease=1.000001)
    assert added.claim is not None
    lease_until = added.claim.record.lease_until
    assert lease_until is not None
    assert lease_until.microsecond == (123457 + 1) % 1_000_000
    stored = django_store.get(added.record.id)
    assert stored is not None
    assert stored.lease_until == lease_until
    clock.current = lease_until - timedelta(microseconds=1)
    assert django_store.claim_next(lease=60) is None
    clock.current = lease_until
    claim = django_store.claim_next(lease=60)
    assert claim is not None
    assert claim.record.id == added.record.id


def test_bodies_headers_and_text_round_trip_exactly(django_store: DjangoStore) -> None:
    """Bytes of every value, non-ASCII and 4-byte (emoji) text, NUL and lone surrogates."""
    body = bytes(range(256)) + "é😀".encode() + b"\x00\xff\xfe"
    headers = (
        ("X-Émoji", "😀 \U0010ffff"),
        ("X-Surrogate", "a\udcffb\ud800"),
        ("X-Nul", "a\x00b"),
        ("X-Trailing", "value  "),
    )
    key = "kéy-😀-\udcff-\x00 "
    record = django_store.add(NewDelivery(key, "idenfy", "Évent 😀", body, headers)).record
    for found in (django_store.get(record.id), django_store.get_by_key(key)):
        assert found is not None
        assert (found.body, found.headers) == (body, headers)
        assert (found.delivery_key, found.event_type) == (key, "Évent 😀")


def test_migrations_apply_from_zero_and_are_complete() -> None:
    call_command("migrate", "kyc_webhooks", "zero", verbosity=0, stdout=io.StringIO())
    assert "kyc_webhooks_delivery" not in connection.introspection.table_names()
    call_command("migrate", "kyc_webhooks", verbosity=0, stdout=io.StringIO())
    assert {"kyc_webhooks_delivery", "kyc_webhooks_decisionrecord"} <= set(
        connection.introspection.table_names()
    )
    call_command("makemigrations", "kyc_webhooks", "--check", "--dry-run", stdout=io.StringIO())


def test_a_process_of_an_older_version_cannot_insert_a_ledger_row(
    django_store: DjangoStore,
) -> None:
    """0003 added the verdict last announced. A process of the older version still running would
    go on inserting ledger rows without it -- a verdict announced twice, or never (review R62):
    its model lacks ``layout``, which has no database default, so its insert fails (and its store
    answers 503) instead."""
    table = DecisionRecord._meta.db_table
    columns = ("id", "subject_hash", "vendor", "subject", "reasons", "fetch_required")
    names = ", ".join(connection.ops.quote_name(column) for column in columns)
    values = ("0" * 32, "f" * 64, "idenfy", "older-version", "[]", False)
    marks = ", ".join(["%s"] * len(values))
    statement = f"INSERT INTO {connection.ops.quote_name(table)} ({names}) VALUES ({marks})"  # noqa: S608 -- quoted names of the model
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, values)
    assert not DecisionRecord.objects.filter(subject="older-version").exists()
    # This version's rows name their layout.
    added = django_store.add(NewDelivery("layout-0003", "idenfy", "T", b"{}"), lease=60)
    assert added.claim is not None
    assert django_store.begin_decision(added.claim, entry(added.claim), lease=30) is not None
    assert list(DecisionRecord.objects.values_list("layout", flat=True)) == [3]


def test_migration_0003_announces_the_entries_stored_before_it(django_store: DjangoStore) -> None:
    """0003 adds the verdict last announced to each ledger row; under the old rules every stored
    entry had been announced, so an upgraded row starts with its entry's status and finality: a
    replay of its delivery announces nothing, a different verdict does."""
    added = django_store.add(NewDelivery("before-0003", "idenfy", "T", b"{}"), lease=60)
    assert added.claim is not None
    made = entry(added.claim, "REVIEW", final=False)
    ticket = django_store.begin_decision(added.claim, made, lease=30)
    assert ticket is not None
    assert django_store.complete(added.claim, decision=ticket)
    held = django_store.add(NewDelivery("held-0003", "idenfy", "T", b"{}"), lease=60).claim
    assert held is not None
    pending = entry(held, subject="lease-only")
    assert django_store.begin_decision(held, pending, lease=300) is not None
    call_command("migrate", "kyc_webhooks", "0002", verbosity=0, stdout=io.StringIO())
    try:
        columns = {c.name for c in connection.introspection.get_table_description(
            connection.cursor(), "kyc_webhooks_decisionrecord")}  # fmt: skip
        assert "announced_status" not in columns
    finally:
        call_command("migrate", "kyc_webhooks", verbosity=0, stdout=io.StringIO())
    rows = DecisionRecord.objects.order_by("subject").values_list(
        "subject", "status", "final", "announced_status", "announced_final"
    )
    assert list(rows) == [
        ("lease-only", None, None, None, None),
        (made.subject, "REVIEW", False, "REVIEW", False),
    ]
    assert_upgraded_entry_counts_as_announced(django_store, made, added.record.id)


class _Undone(Exception):
    """Rolls the other transaction back."""


def test_a_deadlock_of_complete_is_tried_again_and_loses_nothing(
    django_store: DjangoStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """MySQL/MariaDB error 1213 and PostgreSQL's "deadlock detected": ``complete`` holds the
    delivery row and waits for the subject's ledger row, which another transaction holds while
    it waits for the delivery row. The database rolls ``complete``'s transaction back (InnoDB:
    the transaction that changed fewer rows; PostgreSQL: the one that waited first) -- whole, so
    that ``complete`` is tried again, and succeeds once the other transaction ended. (Was a
    StoreError after the handlers had run: the record stayed processing and the handlers ran
    again once the lease expired, review R32.) SQLite serialises whole transactions: no
    deadlock."""
    if connection.vendor == "sqlite":
        return
    waiting = {
        "mysql": (
            "SELECT CONNECTION_ID()",
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
            "WHERE ID = %s AND INFO LIKE 'SELECT %%FOR UPDATE'",
        ),
        "postgresql": (
            "SELECT pg_backend_pid()",
            "SELECT COUNT(*) FROM pg_locks WHERE pid = %s AND NOT granted",
        ),
    }[connection.vendor]
    others = [
        django_store.add(NewDelivery(f"other-{n}", "idenfy", "E", b"{}")).record.id
        for n in range(10)
    ]
    claim = django_store.add(NewDelivery("key", "idenfy", "E", b"{}"), lease=60).claim
    assert claim is not None
    made = entry(claim)
    ticket = django_store.begin_decision(claim, made, lease=60)
    assert ticket is not None
    with connection.cursor() as cursor:
        cursor.execute(waiting[0])
        (me,) = cursor.fetchone()
    locked, done = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def other() -> None:
        try:
            with transaction.atomic():
                Delivery.objects.filter(id__in=others).update(attempts=F("attempts") + 1)
                DecisionRecord.objects.select_for_update().get()
                locked.set()
                deadline = time.monotonic() + 60
                with connection.cursor() as cursor:  # this thread's own connection
                    while time.monotonic() < deadline:  # until complete() waits for the lock
                        cursor.execute(waiting[1], [me])
                        if cursor.fetchone()[0]:
                            break
                        time.sleep(0.01)
                Delivery.objects.filter(id=claim.record.id).update(replays=F("replays"))
                raise _Undone
        except _Undone:
            pass
        except BaseException as exc:
            failures.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=other)
    thread.start()
    assert locked.wait(timeout=60)
    with caplog.at_level(logging.WARNING, logger="kyc_webhooks"):
        assert django_store.complete(claim, decision=ticket)
    # A deadlock it was, not a lock wait timeout.
    deadlock = "MySQL 1213" if connection.vendor == "mysql" else "SQLSTATE 40P01"
    assert f"met a conflict with another transaction ({deadlock})" in caplog.text
    assert done.wait(timeout=60)
    thread.join(timeout=60)
    assert failures == []
    row = Delivery.objects.get(id=claim.record.id)
    assert (row.state, row.token) == ("done", None)
    assert django_store.effective_decision("idenfy", made.subject) == made
    assert not django_store.complete(claim, decision=ticket)  # spent
