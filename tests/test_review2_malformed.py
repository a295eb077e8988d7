"""A stored delivery row that does not decode (review 2, finding 4), on a real SQLite file and the
real PostgreSQL: ``claim_next`` marks it ``failed`` (``last_error_type`` ``"MalformedRecord"``, a
message naming the column, never a value) in its own transaction and goes on to the next one, at
most a bounded number of such rows per call; ``deliveries()`` skips such rows and logs their ids.
Was: the oldest due row stopped every worker for good, and the listing failed as a whole.
(DjangoStore: tests/django_app/app_malformed_rows.py.)"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from _postgres import postgres_store, sql
from _stores import FakeClock
from kyc_webhooks.store import NewDelivery, SQLiteStore
from kyc_webhooks.testing import signed_delivery

KEY = "malformed-signing-key"
MALFORMED = "MalformedRecord"


class Kind:
    """One store kind: the store, and how to write a raw value into one of its rows / read one."""

    def __init__(self, store: Any, write: Any, read: Any) -> None:
        self.store = store
        self.write = write  # (record id, SQL assignment) -> None
        self.read = read  # record id -> (state, last_error_type, last_error_message)


@pytest.fixture(params=["sqlite", "postgres"])
def kind(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Kind]:
    if request.param == "postgres":
        with postgres_store(clock) as store:
            table = f"{store.schema}.deliveries"

            def pg_write(record_id: str, assignment: str) -> None:
                sql(f"UPDATE {table} SET {assignment} WHERE id = %s", record_id)  # noqa: S608

            def pg_read(record_id: str) -> tuple[Any, ...]:
                query = (
                    f"SELECT state, last_error_type, last_error_message FROM {table} WHERE id = %s"  # noqa: S608
                )
                return sql(query, record_id)[0]

            yield Kind(store, pg_write, pg_read)
        return
    path = tmp_path / "w.db"
    store = SQLiteStore(path, clock=clock)

    def sqlite_write(record_id: str, assignment: str) -> None:
        with sqlite3.connect(path) as conn:
            conn.execute(
                f"UPDATE kyc_webhooks_deliveries SET {assignment} WHERE id = ?",  # noqa: S608
                (record_id,),
            )
        conn.close()

    def sqlite_read(record_id: str) -> tuple[Any, ...]:
        with sqlite3.connect(path) as conn:
            row = conn.execute(
                "SELECT state, last_error_type, last_error_message FROM kyc_webhooks_deliveries "
                "WHERE id = ?",
                (record_id,),
            ).fetchone()
        conn.close()
        return tuple(row)

    yield Kind(store, sqlite_write, sqlite_read)
    store.close()


#: A headers value each database accepts that is no list of [name, value] pairs.
BAD_HEADERS = "headers = '['"


def _stored(receiver: kw.Receiver, clock: FakeClock, count: int) -> list[str]:
    ids = []
    for n in range(count):
        delivery = signed_delivery("idenfy", "IDENTIFICATION_AUTO_FINISHED", KEY, scanRef=f"s{n}")
        delivery_id = receiver.handle(*delivery).delivery_id
        assert delivery_id is not None
        ids.append(delivery_id)
        clock.advance(1)
    return ids


def test_a_row_that_does_not_decode_is_set_aside_and_the_queue_goes_on(
    kind: Kind, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kind.store, defer=True)
    handled: list[str] = []
    receiver.on("idenfy")(lambda event: handled.append(event.delivery_key))
    ids = _stored(receiver, clock, 5)
    kind.write(ids[0], BAD_HEADERS)  # the oldest: a disk error, a bad manual edit
    with caplog.at_level(logging.WARNING, logger="kyc_webhooks"):
        summary = receiver.process_pending()
    assert [o.status_code for o in summary.outcomes] == [200, 200, 200, 200]
    assert len(handled) == 4
    state, error_type, message = kind.read(ids[0])
    assert (state, error_type) == ("failed", MALFORMED)
    assert "headers" in message
    assert "[" not in message  # names the column, never the value
    assert ids[0] in caplog.text
    assert receiver.process_pending().outcomes == ()  # set aside for good: no error, no loop
    assert kind.store.stats()["failed"] == 1
    kind.write(ids[0], "headers = '[]'")  # repaired by an operator: process(id) runs it
    assert receiver.process(ids[0]).status_code == 200


def test_claim_next_sets_aside_a_bounded_number_of_rows_per_call(
    kind: Kind, clock: FakeClock
) -> None:
    store = kind.store
    ids = []
    for n in range(70):
        ids.append(store.add(NewDelivery(f"k{n}", "idenfy", "E", b"{}")).record.id)
        clock.advance(1)
    for record_id in ids[:-1]:
        kind.write(record_id, BAD_HEADERS)
    calls = 0
    claim = None
    while claim is None:
        calls += 1
        assert calls <= 69  # each call sets aside at least one row
        claim = store.claim_next(lease=60)
    assert calls > 1  # ... and not all 69 in one call (the write lock is not held for long)
    assert claim.record.id == ids[-1]
    assert all(kind.read(record_id)[1] == MALFORMED for record_id in ids[:-1])


def test_deliveries_skips_a_row_that_does_not_decode_and_logs_its_id(
    kind: Kind, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = kind.store
    ids = []
    for n in range(3):
        ids.append(store.add(NewDelivery(f"k{n}", "idenfy", "E", b"{}")).record.id)
        clock.advance(1)
    kind.write(ids[1], BAD_HEADERS)
    with caplog.at_level(logging.WARNING, logger="kyc_webhooks"):
        listed = store.deliveries(state="pending")
    assert [r.id for r in listed] == [ids[0], ids[2]]
    assert ids[1] in caplog.text
    assert "'['" not in caplog.text
    with pytest.raises(kw.StoreError):  # reading it by id still says what is wrong
        store.get(ids[1])


def test_a_column_that_is_not_json_is_named_so(tmp_path: Path) -> None:
    # Was: "column headers holds a value out of range (JSONDecodeError)".
    store = SQLiteStore(tmp_path / "w.db")
    record = store.add(NewDelivery("k", "idenfy", "E", b"{}")).record
    with sqlite3.connect(tmp_path / "w.db") as conn:
        conn.execute("UPDATE kyc_webhooks_deliveries SET headers = '['")
    conn.close()
    with pytest.raises(kw.StoreError) as raised:
        store.get(record.id)
    assert "column headers holds text that is not JSON" in raised.value.message
    assert "out of range" not in raised.value.message


def test_postgres_an_encoded_text_that_does_not_decode_is_a_store_error(clock: FakeClock) -> None:
    # A text column holding to_text_column's marker followed by no hex (another program wrote it).
    # Was: a raw ValueError out of get(), claim_next() and deliveries().
    with postgres_store(clock) as store:
        record = store.add(NewDelivery("k", "idenfy", "E", b"{}")).record
        sql(f"UPDATE {store.schema}.deliveries SET vendor = chr(1114110) || 'zz'")  # noqa: S608
        with pytest.raises(kw.StoreError, match="column vendor holds encoded text"):
            store.get(record.id)
        assert store.deliveries() == []
        assert store.claim_next(lease=60) is None
        state, error_type = sql(
            f"SELECT state, last_error_type FROM {store.schema}.deliveries"  # noqa: S608
        )[0]
        assert (state, error_type) == ("failed", MALFORMED)
