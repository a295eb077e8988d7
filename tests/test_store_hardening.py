"""Hostile input to the stores (issue #10, items 7, 8 and 11).

* Any ``str`` a sender controls reaches a store safely; a store failure of any kind is a 503.
* A corrupt SQLite file, or a row another program wrote with values of the wrong type or range,
  raises :class:`StoreError` (naming the record) -- never ``UnicodeDecodeError``,
  ``OverflowError`` or ``TypeError`` -- and ``handle()`` answers 503.
* After ``erase``, ``erase_bodies`` and ``purge`` no erased byte remains in any file of the SQLite
  database (database, ``-wal``, ``-shm``, ``-journal``), while the store is open and after.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from _stores import FakeClock
from kyc_webhooks.errors import StoreError
from kyc_webhooks.store import (
    Added,
    Claim,
    DecisionTicket,
    DeliveryState,
    MemoryStore,
    NewDelivery,
    SQLiteStore,
    Store,
)
from kyc_webhooks.testing import sign

KEY = "test-signing-key"
EVENT_TYPE = "IDENTIFICATION_AUTO_FINISHED"
PAYLOAD = {"scanRef": "scan-hardening", "clientId": "client-7", "final": True}


def _delivery() -> tuple[bytes, dict[str, str]]:
    body, headers = sign("idenfy", PAYLOAD, KEY, event_type=EVENT_TYPE)
    return body, dict(headers)


# -- item 7: any text a sender controls ---------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Idenfy-Event-Type", id="event-type"),
        pytest.param("X-Request-Id", id="other-header"),
    ],
)
def test_a_lone_surrogate_in_a_header_never_escapes_handle(store: Store, header: str) -> None:
    body, headers = _delivery()
    headers[header] = EVENT_TYPE + "\udcff"
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    outcome = receiver.handle(body, headers)  # raised UnicodeEncodeError with a SQLite store
    # 200, or 400 if the receiver refuses an unsigned header that contradicts the body.
    assert outcome.status_code in (200, 400)
    if outcome.status_code == 200:
        assert outcome.delivery_id is not None
        record = store.get(outcome.delivery_id)
        assert record is not None
        assert record.event_type == outcome.event_type
        assert record.state is DeliveryState.DONE
        again = receiver.handle(body, headers)
        assert again.status_code == 200
        assert again.duplicate


class _Broken(MemoryStore):
    """A third-party store that breaks its contract: one method raises a driver error, not
    StoreError. The message quotes personal data, which must reach neither outcome nor log."""

    def __init__(self, broken: str) -> None:
        super().__init__()
        self.broken = broken

    def _check(self, name: str) -> None:
        if name == self.broken:
            raise RuntimeError("connection lost while storing Jane Doe")

    def add(
        self, delivery: NewDelivery, *, lease: float | None = None, decision: Any = None
    ) -> Added:
        self._check("add")
        return super().add(delivery, lease=lease, decision=decision)

    def complete(self, claim: Claim, *, decision: DecisionTicket | None = None) -> bool:
        self._check("complete")
        return super().complete(claim, decision=decision)

    def fail(self, claim: Claim, **kwargs: Any) -> bool:
        self._check("fail")
        return super().fail(claim, **kwargs)


@pytest.mark.parametrize("run", ["sync", "async"])
def test_any_exception_from_a_store_add_is_a_503(
    run: str, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=_Broken("add"))
    calls: list[str] = []
    receiver.on("idenfy", "*")(lambda event: calls.append(event.event_type))
    caplog.set_level(logging.DEBUG, logger="kyc_webhooks")
    if run == "sync":
        outcome = receiver.handle(*_delivery())
    else:
        import asyncio

        outcome = asyncio.run(receiver.handle_async(*_delivery()))
    assert outcome.status_code == 503
    assert isinstance(outcome.error, StoreError)
    assert "RuntimeError" in outcome.error.message
    assert calls == []
    assert "Jane" not in caplog.text
    assert "Jane" not in outcome.error.message
    assert receiver.stats()["store_errors"] == 1


@pytest.mark.parametrize("broken", ["complete", "fail"])
def test_any_exception_from_complete_or_fail_is_logged_not_raised(
    broken: str, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=_Broken(broken))

    @receiver.on("idenfy", "*")
    def handler(event: kw.WebhookEvent) -> None:
        if broken == "fail":
            raise ValueError("handler failed")

    caplog.set_level(logging.DEBUG, logger="kyc_webhooks")
    outcome = receiver.handle(*_delivery())
    assert outcome.status_code == (200 if broken == "complete" else 500)
    assert f"delivery store failed operation={broken} error=StoreError" in caplog.text
    assert "Jane" not in caplog.text


# -- item 8: corrupt files and malformed rows -----------------------------------------------------


def _scrubbed_file(path: Path, records: int = 3) -> bytes:
    """A real store file with a few records, the WAL folded in; its bytes."""
    with SQLiteStore(path, durable=False) as store:
        for n in range(records):
            store.add(
                NewDelivery(f"k{n}", "idenfy", EVENT_TYPE, b'{"n":%d}' % n, (("h", "v"),)),
                lease=60,
            )
    return path.read_bytes()


def _use(path: Path) -> None:
    """Open the store and run every kind of operation on it."""
    with SQLiteStore(path, durable=False, timeout=0) as store:
        store.get_by_key("k1")
        store.deliveries(limit=10)
        store.stats()
        added = store.add(NewDelivery("new", "idenfy", EVENT_TYPE, b"{}"), lease=60)
        if added.claim is not None:
            store.complete(added.claim)
        claim = store.claim_next(lease=60)
        if claim is not None:
            store.fail(claim, error_type="E", error_message="m")
        store.erase_bodies(older_than=timedelta(0))
        store.purge(older_than=timedelta(0))


def test_single_byte_corruptions_raise_only_store_errors(tmp_path: Path) -> None:
    """A deterministic sweep: every 17th byte of page 1 (the file header and the schema, where the
    old code raised UnicodeDecodeError) and every 61st byte of page 3 (the deliveries' rows), each
    XOR 0xA5. Opening and using the store either works or raises StoreError."""
    original = _scrubbed_file(tmp_path / "original.db")
    page = 4096
    positions = [*range(0, page, 17), *range(2 * page, 3 * page, 61)]
    assert len(positions) == 309  # bounded
    target = tmp_path / "corrupt.db"
    refused: list[StoreError] = []
    for position in positions:
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        mangled = bytearray(original)
        mangled[position] ^= 0xA5
        target.write_bytes(bytes(mangled))
        try:
            _use(target)  # anything but StoreError fails the test
        except StoreError as exc:
            refused.append(exc)
    assert len(refused) > 50  # the sweep does reach corruptions that matter
    assert all(str(target) in exc.message for exc in refused)


def test_a_path_sqlite_cannot_take_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="open failed"):
        SQLiteStore(f"{tmp_path}/web\x00hooks.db")  # raised ValueError


#: column -> (SQL value written by another program, whether handle() still finds the record by
#: its key). NULL values need the NOT NULL constraints lifted (see _permissive).
MALFORMED: dict[str, tuple[str, str, bool]] = {
    "received-at-huge": ("received_at", "1e300", True),
    "received-at-tiny": ("received_at", "-1e300", True),
    "received-at-text": ("received_at", "'yesterday'", True),
    "received-at-null": ("received_at", "NULL", True),
    "updated-at-blob": ("updated_at", "x'00'", True),
    "lease-until-huge": ("lease_until", "1e300", True),
    "not-before-text": ("not_before", "'soon'", True),
    "attempts-text": ("attempts", "'many'", True),
    "attempts-real": ("attempts", "1.5", True),
    "replays-negative": ("replays", "-1", True),
    "body-text": ("body", '\'{"scanRef":"s"}\'', True),
    "body-integer": ("body", "42", True),
    "headers-not-json": ("headers", "'not json'", True),
    "headers-object": ("headers", "'{\"a\": 1}'", True),
    "headers-short-pair": ("headers", "'[[\"a\"]]'", True),
    "headers-number-value": ("headers", "'[[\"a\", 1]]'", True),
    "headers-not-utf8": ("headers", "CAST(x'5b5dff' AS TEXT)", True),
    "headers-null": ("headers", "NULL", True),
    "state-unknown": ("state", "'exploded'", True),
    "state-null": ("state", "NULL", True),
    "vendor-not-utf8-text": ("vendor", "CAST(x'ff' AS TEXT)", True),
    "vendor-undecodable-blob": ("vendor", "x'ff'", True),
    "event-type-null": ("event_type", "NULL", True),
    "error-message-not-utf8": ("last_error_message", "CAST(x'c3' AS TEXT)", True),
    "error-type-blob": ("last_error_type", "x'ff'", True),
    "id-not-utf8": ("id", "CAST(x'ff' AS TEXT)", True),
    "key-not-utf8": ("delivery_key", "CAST(x'ff' AS TEXT)", False),
    "key-null": ("delivery_key", "NULL", False),
}


def _permissive(db: Path) -> None:
    """Lift the NOT NULL constraints of the deliveries table, as a foreign writer's schema might
    (``writable_schema`` edits the stored CREATE statement; reconnecting reloads it)."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute(
            "UPDATE sqlite_master SET sql = replace(sql, ' NOT NULL', '') "
            "WHERE name = 'kyc_webhooks_deliveries'"
        )
    finally:
        conn.close()


@pytest.fixture
def deferred(tmp_path: Path) -> Iterator[tuple[kw.Receiver, SQLiteStore, Path]]:
    db = tmp_path / "webhooks.db"
    with SQLiteStore(db, durable=False) as store:
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, defer=True)
        yield receiver, store, db


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_a_malformed_row_is_a_store_error_naming_the_record(
    deferred: tuple[kw.Receiver, SQLiteStore, Path], case: str, caplog: pytest.LogCaptureFixture
) -> None:
    receiver, store, db = deferred
    column, value, found_by_key = MALFORMED[case]
    calls: list[str] = []
    receiver.on("idenfy", "*")(lambda event: calls.append(event.event_type))
    first = receiver.handle(*_delivery())
    assert first.status_code == 202
    record_id = first.delivery_id
    assert record_id is not None
    if value == "NULL":
        _permissive(db)
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        # The body lives in a table of its own (schema version 4).
        table = "kyc_webhooks_bodies" if column == "body" else "kyc_webhooks_deliveries"
        conn.execute(f"UPDATE {table} SET {column} = {value}")  # noqa: S608
    finally:
        conn.close()

    # The listing skips the row and logs its id (review 2, finding 4: it failed as a whole).
    with caplog.at_level(logging.WARNING, logger="kyc_webhooks"):
        assert store.deliveries() == []
    assert "skipped 1 stored records that do not decode" in caplog.text
    if column != "id":
        assert record_id in caplog.text
        with pytest.raises(StoreError, match=f"column {column} holds") as read:
            store.get(record_id)
        assert "is malformed" in read.value.message
        assert read.value.status_code == 503
        assert record_id in read.value.message
        with pytest.raises(StoreError, match=record_id):
            receiver.replay(record_id)
    # Sets the record aside (failed, MalformedRecord), or skips it (its values do not qualify).
    assert receiver.process_pending().outcomes == ()
    again = receiver.handle(*_delivery())  # raised OverflowError / TypeError before
    if column in _SET_ASIDE_WRITES and column != "state":
        # Setting it aside rewrote the only bad value: the record reads again, failed, and
        # process(id) runs it (claim_next does not: it skips the records it set aside).
        assert again.status_code == 202
        repaired = store.get(record_id)
        assert repaired is not None
        assert (repaired.state, repaired.last_error_type) == (kw.DeliveryState.FAILED, SET_ASIDE)
        assert receiver.process_pending().outcomes == ()
        assert receiver.process(record_id).status_code == 200
        assert calls == ["IDENTIFICATION_AUTO_FINISHED"]
        return
    if found_by_key:
        assert again.status_code == 503
        assert isinstance(again.error, StoreError)
    else:  # the stored key no longer matches: the delivery is stored anew
        assert again.status_code == 202
    assert calls == []


#: The columns that setting a malformed row aside writes (state only when it was claimable).
_SET_ASIDE_WRITES = {"state", "updated_at", "last_error_type", "last_error_message"}
SET_ASIDE = "MalformedRecord"


def test_the_error_of_a_malformed_row_quotes_no_stored_text(
    deferred: tuple[kw.Receiver, SQLiteStore, Path],
) -> None:
    receiver, store, db = deferred
    record_id = receiver.handle(*_delivery()).delivery_id
    assert record_id is not None
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute(
            "UPDATE kyc_webhooks_deliveries SET headers = CAST(? AS TEXT)",
            ('[["x-name", "Jane Doe \xff"]]'.encode("latin-1"),),
        )
    finally:
        conn.close()
    with pytest.raises(StoreError) as info:
        store.get(record_id)
    assert "Jane" not in info.value.message
    assert "column headers holds TEXT that is not UTF-8" in info.value.message


# -- item 11: no erased byte in any file ----------------------------------------------------------


def _files(db: Path) -> dict[str, bytes]:
    """Every file of the database: the database, its WAL, shared memory and rollback journal."""
    return {
        path.name: path.read_bytes()
        for path in (Path(f"{db}{suffix}") for suffix in ("", "-wal", "-shm", "-journal"))
        if path.exists()
    }


def _found(db: Path, sentinels: list[bytes]) -> list[str]:
    return sorted(
        f"{name}:{sentinel.decode()}"
        for name, data in _files(db).items()
        for sentinel in sentinels
        if sentinel in data
    )


def _body(sentinel: bytes, *, large: bool) -> bytes:
    # A small body lives inside the row's page; a large one spans overflow pages.
    return b'{"docNumber":"' + sentinel * (400 if large else 1) + b'"}'


ERASURES: dict[str, Callable[[SQLiteStore, list[str]], object]] = {
    "erase": lambda store, ids: [store.erase(record_id) for record_id in ids],
    "erase_bodies": lambda store, ids: store.erase_bodies(older_than=timedelta(hours=1)),
    "purge": lambda store, ids: store.purge(older_than=timedelta(hours=1)),
}


@pytest.mark.parametrize("how", list(ERASURES))
def test_no_erased_byte_remains_in_any_file(tmp_path: Path, how: str) -> None:
    db = tmp_path / "webhooks.db"
    clock = FakeClock()
    doomed_bodies = [b"PASSPORT-AB%04d-" % n for n in range(6)]
    doomed_headers = [b"X-FWD-10.0.0.%d-" % n for n in range(6)]
    kept = b"KEPT-BODY-ZZ9-"
    with SQLiteStore(db, clock=clock) as store:
        ids = []
        for n, (body_mark, header_mark) in enumerate(
            zip(doomed_bodies, doomed_headers, strict=True)
        ):
            delivery = NewDelivery(
                f"doomed-{n}",
                "idenfy",
                EVENT_TYPE,
                _body(body_mark, large=n % 2 == 1),
                (("x-forwarded-for", header_mark.decode()),),
            )
            added = store.add(delivery, lease=60)  # insert, then update: several page images
            assert added.claim is not None
            store.complete(added.claim)
            ids.append(added.record.id)
        clock.advance(2 * 3600)
        store.add(NewDelivery("kept", "idenfy", EVENT_TYPE, _body(kept, large=False)))
        assert _found(db, doomed_bodies[:1])  # the scan does see stored data
        ERASURES[how](store, ids)
        # While the store is open: nothing of an erased body, in any file.
        assert _found(db, doomed_bodies) == []
        if how == "purge":  # the whole record is gone, its headers too
            assert _found(db, doomed_headers) == []
        assert _found(db, [kept]) != []  # what was not erased is still there
    assert _found(db, doomed_bodies) == []  # and after close
    if how == "purge":
        assert _found(db, doomed_headers) == []


def test_a_reader_blocking_the_checkpoint_makes_erase_fail_loudly(tmp_path: Path) -> None:
    db = tmp_path / "webhooks.db"
    sentinel = b"PASSPORT-READER-77-"
    with SQLiteStore(db, timeout=0) as store:
        record_id = store.add(NewDelivery("k", "idenfy", EVENT_TYPE, _body(sentinel, large=True)))
        reader = sqlite3.connect(db, isolation_level=None)
        try:
            reader.execute("BEGIN")
            assert reader.execute("SELECT COUNT(*) FROM kyc_webhooks_deliveries").fetchone() == (1,)
            with pytest.raises(StoreError, match="read transaction open") as info:
                store.erase(record_id.record.id)
            assert "erase() again" in info.value.message
            erased = store.get(record_id.record.id)
            assert erased is not None
            assert erased.body is None  # the erasure itself is committed
            reader.execute("COMMIT")
        finally:
            reader.close()
        assert store.erase(record_id.record.id)  # again: now the scrub completes
        assert _found(db, [sentinel]) == []


# -- a store's clock is checked when the store is built ------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "sqlite", "postgres"])
@pytest.mark.parametrize("clock", [0, "utc", FakeClock().current], ids=["int", "str", "datetime"])
def test_a_clock_that_cannot_be_called_is_refused_at_construction(
    tmp_path: Path, kind: str, clock: Any
) -> None:
    # Before: accepted, then every delivery answered 503 (TypeError inside the store's now()).
    # The PostgreSQL target is never connected to: the argument is refused first.
    build: Callable[[], object]
    if kind == "memory":
        build = lambda: MemoryStore(clock=clock)  # noqa: E731
    elif kind == "sqlite":
        build = lambda: SQLiteStore(tmp_path / "store.db", clock=clock)  # noqa: E731
    else:
        pytest.importorskip("psycopg")
        build = lambda: kw.PostgresStore("postgresql://nobody@127.0.0.1:1/none", clock=clock)  # noqa: E731
    with pytest.raises(kw.UsageError, match="clock must be a callable"):
        build()
    assert not (tmp_path / "store.db").exists()  # nothing was created
