"""A delivery row that does not decode (review 2, finding 4), on the database of this run (SQLite,
or PostgreSQL with KYC_TEST_DJANGO_DB=postgres): DjangoStore.claim_next sets it aside (failed,
``MalformedRecord``, no value in the message) in its own transaction and claims the next one, at
most a bounded number per call; deliveries() skips it and logs its id. Was: the oldest due row
raised StoreError on every sweep and rolled the claim back, stopping every worker, and the listing
failed as a whole."""

from __future__ import annotations

import logging

import pytest
from django.db import connection

import kyc_webhooks as kw
from _stores import FakeClock
from django_app.writes import as_another_program
from kyc_webhooks.integrations.django.models import Delivery
from kyc_webhooks.integrations.django.store import DjangoStore
from kyc_webhooks.store import NewDelivery

TABLE = Delivery._meta.db_table
#: (column, SQL value) of a row Django reads but the store cannot decode, on every database: a
#: JSON string where the header pairs belong.
BAD_HEADERS = ("headers", "'\"x\"'")
#: A time no calendar has, which only SQLite keeps (Django's converter raises reading it).
BAD_TIME = ("received_at", "'2024-13-45 00:00:00'")


def _write(record_id: str, column: str, value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET {column} = {value} WHERE id = %s", [record_id])  # noqa: S608


def _read(record_id: str) -> tuple[str, str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT state, last_error_type, last_error_message FROM {TABLE} WHERE id = %s",  # noqa: S608
            [record_id],
        )
        row = cursor.fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def _stored(store: DjangoStore, clock: FakeClock, count: int) -> list[str]:
    ids = []
    for n in range(count):
        ids.append(store.add(NewDelivery(f"k{n}", "idenfy", "E", b"{}")).record.id)
        clock.advance(1)
    return ids


@pytest.mark.parametrize("bad", [BAD_HEADERS, BAD_TIME], ids=["headers", "time"])
def test_claim_next_sets_aside_a_row_that_does_not_decode_and_goes_on(
    django_store: DjangoStore,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    bad: tuple[str, str],
) -> None:
    ids = _stored(django_store, clock, 3)
    with as_another_program() as kept:
        if bad is BAD_TIME and not kept:
            return  # PostgreSQL refuses to store such a time
        _write(ids[0], *bad)
    with caplog.at_level(logging.WARNING, logger="kyc_webhooks"):
        claim = django_store.claim_next(lease=60)  # was: StoreError, every time
    assert claim is not None
    assert claim.record.id == ids[1]
    state, error_type, message = _read(ids[0])
    assert (state, error_type) == ("failed", "MalformedRecord")
    assert "x" not in message.replace("MalformedRecord", "")
    assert "2024" not in message
    assert ids[0] in caplog.text
    second = django_store.claim_next(lease=60)
    assert second is not None
    assert second.record.id == ids[2]
    assert django_store.claim_next(lease=60) is None  # set aside for good
    with caplog.at_level(logging.WARNING, logger="kyc_webhooks"):
        listed = django_store.deliveries()  # was: StoreError for the whole listing
    assert sorted(r.id for r in listed) == sorted(ids[1:])
    assert "skipped 1 stored records" in caplog.text
    with pytest.raises(kw.StoreError):  # reading it by id still says something is wrong
        django_store.get(ids[0])


def test_claim_next_sets_aside_a_bounded_number_of_rows_per_call(
    django_store: DjangoStore, clock: FakeClock
) -> None:
    ids = _stored(django_store, clock, 45)
    for record_id in ids[:-1]:
        _write(record_id, *BAD_HEADERS)
    assert django_store.claim_next(lease=60) is None  # 32 set aside; the write lock let go
    claim = django_store.claim_next(lease=60)
    assert claim is not None
    assert claim.record.id == ids[-1]
    assert all(_read(record_id)[1] == "MalformedRecord" for record_id in ids[:-1])
