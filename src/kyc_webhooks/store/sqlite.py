"""SQLiteStore: the store protocol on one SQLite file (stdlib :mod:`sqlite3`), shared safely by the
threads and processes of one host.

* WAL journal (readers never block the writer), ``busy_timeout`` so that concurrent writers queue
  instead of failing. Durable by default: every commit that an answer to the vendor relies on --
  ``complete`` (before a 200), ``add`` without a claim (the deferred insert, before a 202), the
  erasures -- is synced to disk (``synchronous=FULL``), which is one fsync of the write-ahead log.
  The other commits (``add`` with a claim, claims, subject leases, ``fail``) run with
  ``synchronous=NORMAL``: they survive a process crash, a power cut may lose them, and losing
  them loses nothing acknowledged (docs/delivery-guarantees.md, "Durability of SQLiteStore").
  ``durable=False`` uses ``NORMAL`` for every commit: a process crash loses nothing, a power cut
  may lose the last answered deliveries.
* Every state change runs in one ``BEGIN IMMEDIATE`` transaction: the write lock is taken before
  the row is read, so two workers can never both see a record as claimable.
* Schema versioned in ``kyc_webhooks_migrations``; opening a file written by a newer version of
  this library fails with :class:`~kyc_webhooks.errors.StoreError` instead of guessing.
* Every failure (a :class:`sqlite3.Error` -- corrupt file, unwritable path, disk full, lock
  timeout -- and anything else a corrupt file can provoke, such as a driver message that is not
  UTF-8 or a row whose values do not decode) becomes a :class:`~kyc_webhooks.errors.StoreError`
  naming the operation and the file, and the record id for a malformed row.
* Any ``str`` round-trips exactly: text that UTF-8 cannot encode (a lone surrogate) is stored as
  a BLOB of its ``surrogatepass`` bytes (:func:`_text`), which never equals a TEXT value.
* ``erase``, ``erase_bodies``, ``purge``, ``forget_decisions`` and ``purge_decisions`` leave no
  copy of the erased data in any file of the database: ``secure_delete`` zeroes it in the
  database file, ``VACUUM`` rewrites the kept rows into fresh pages (a row SQLite moved between
  pages could leave a copy in the unused space of a page) and a ``wal_checkpoint(TRUNCATE)``
  empties the write-ahead log
  (docs/delivery-guarantees.md, "Erasure").

Not for network file systems (NFS, SMB): SQLite's locking is unreliable there. Use one host, or a
server database store.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from ..decisions import Decision, ledger_entry
from ..errors import (
    DeliveryInProgressError,
    DeliveryNotFoundError,
    StoreError,
    StoreSchemaError,
    UsageError,
    WebhookError,
)
from ._base import (
    FORGET_BUSY,
    LEASE_EXPIRED,
    LEASE_EXPIRED_MESSAGE,
    MALFORMED_RECORD,
    MALFORMED_RECORDS_PER_CLAIM,
    NEVER_RETRIED,
    Added,
    Claim,
    Clock,
    DecisionEntry,
    DecisionTicket,
    DeliveryRecord,
    DeliveryState,
    MalformedRow,
    NewDelivery,
    TimeLimit,
    announces,
    check_aware,
    check_clock,
    check_decision_args,
    check_forget_args,
    check_lease,
    check_limit,
    check_states,
    check_timeout,
    check_with_body,
    checked_now,
    claimable,
    cutoff,
    decision_time,
    describe_fault,
    id_prefix_can_match,
    id_range,
    listed_records,
    loggable_id,
    new_id,
    replaces,
    utc_now,
)

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

logger = logging.getLogger("kyc_webhooks")

# Table names are spelled out in every statement (no string building): kyc_webhooks_deliveries,
# kyc_webhooks_decisions, kyc_webhooks_migrations.

#: (version, description, statements). Append only; never edit a released migration.
_MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "deliveries table",
        (
            """CREATE TABLE kyc_webhooks_deliveries (
                id TEXT PRIMARY KEY,
                delivery_key TEXT NOT NULL UNIQUE,
                vendor TEXT NOT NULL,
                event_type TEXT NOT NULL,
                state TEXT NOT NULL,
                received_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                replays INTEGER NOT NULL DEFAULT 0,
                body BLOB,
                headers TEXT NOT NULL DEFAULT '[]',
                lease_until REAL,
                claim_token TEXT,
                finished_at REAL,
                last_error_type TEXT,
                last_error_message TEXT,
                not_before REAL,
                body_erased_at REAL
            )""",
            # Each index costs every insert one more b-tree write (all in the same commit, so
            # no extra fsync). Each one is kept because a query would otherwise scan the table:
            # - the primary key (id): get(), claim(), complete(), fail(), erase() by id;
            # - UNIQUE delivery_key: the duplicate check of every add() -- the fast-path read and
            #   the ON CONFLICT target of the insert; it is what makes a redelivery a duplicate;
            # - (state, received_at): claim_next() and process_pending() look for pending,
            #   failed and processing records oldest first, in a table that is mostly done
            #   records; stats() counts per state; deliveries(state=...) filters by it;
            # - (received_at): purge() and erase_bodies() delete/update everything older than a
            #   cut-off, and deliveries() without filters pages in received_at order;
            # - (vendor, event_type, received_at): deliveries(vendor=..., event_type=...), the
            #   listing of the command line and of operators' dashboards, newest or oldest first.
            "CREATE INDEX kyc_webhooks_deliveries_state "
            "ON kyc_webhooks_deliveries (state, received_at)",
            "CREATE INDEX kyc_webhooks_deliveries_received "
            "ON kyc_webhooks_deliveries (received_at)",
            "CREATE INDEX kyc_webhooks_deliveries_vendor "
            "ON kyc_webhooks_deliveries (vendor, event_type, received_at)",
        ),
    ),
    (
        2,
        "decision ledger",
        (
            # One row per verification: its effective decision (status NULL until one is
            # recorded) and its subject lease. Times of the entry are ISO 8601 text, kept exactly
            # (offset and microseconds): the ledger compares them.
            """CREATE TABLE kyc_webhooks_decisions (
                vendor TEXT NOT NULL,
                subject TEXT NOT NULL,
                status TEXT,
                final INTEGER,
                delivery_id TEXT,
                event_type TEXT,
                received_at TEXT,
                occurred_at TEXT,
                client_ref TEXT,
                reasons TEXT,
                fetch_required INTEGER,
                lease_token TEXT,
                lease_until REAL,
                PRIMARY KEY (vendor, subject)
            )""",
            # The primary key (vendor, subject) serves begin_decision(), complete(decision=...)
            # and effective_decision(); client_ref serves decisions_for_client(), which would
            # otherwise read every verification ever recorded.
            "CREATE INDEX kyc_webhooks_decisions_client ON kyc_webhooks_decisions (client_ref)",
        ),
    ),
    (
        3,
        "decision ledger without rowid, partial client_ref index",
        (
            # The same columns, rebuilt (SQLite cannot alter a table's key) for fewer pages per
            # write -- every delivery carrying a verdict writes its row twice (the subject lease,
            # then the entry): WITHOUT ROWID keeps the rows in the (vendor, subject) b-tree itself
            # (before: a rowid table plus a separate primary-key index, two pages per write);
            # the client_ref index leaves out the rows without one, so that the subject lease
            # of a new verification no longer writes it. Measured (WAL frames per delivery of
            # bench/store_throughput.py, one verdict each): the subject lease 3.2 -> 1.0 pages,
            # the completion 7.8 -> 7.6; 20.7 -> 18.4 pages per delivery.
            """CREATE TABLE kyc_webhooks_decisions_v3 (
                vendor TEXT NOT NULL,
                subject TEXT NOT NULL,
                status TEXT,
                final INTEGER,
                delivery_id TEXT,
                event_type TEXT,
                received_at TEXT,
                occurred_at TEXT,
                client_ref TEXT,
                reasons TEXT,
                fetch_required INTEGER,
                lease_token TEXT,
                lease_until REAL,
                PRIMARY KEY (vendor, subject)
            ) WITHOUT ROWID""",
            "INSERT INTO kyc_webhooks_decisions_v3 SELECT vendor, subject, status, final, "
            "delivery_id, event_type, received_at, occurred_at, client_ref, reasons, "
            "fetch_required, lease_token, lease_until FROM kyc_webhooks_decisions",
            "DROP TABLE kyc_webhooks_decisions",
            "ALTER TABLE kyc_webhooks_decisions_v3 RENAME TO kyc_webhooks_decisions",
            # decisions_for_client() asks for client_ref = ?, which implies IS NOT NULL: the
            # partial index serves it.
            "CREATE INDEX kyc_webhooks_decisions_client ON kyc_webhooks_decisions (client_ref) "
            "WHERE client_ref IS NOT NULL",
        ),
    ),
    (
        4,
        "bodies in their own table, deliveries keyed by a stable seq",
        (
            # The body (~6 KB for an iDenfy event, overflow pages) no longer lives in the
            # deliveries row: every later write of the row -- the claim, the completion, a
            # failure -- rewrote the whole record with its overflow chain (secure_delete zeroing
            # the freed pages too). Now the row stays small (one leaf page) and the body is
            # written once, at the insert, and deleted by an erasure. Measured (WAL frames per
            # delivery of bench/store_throughput.py): the completion 7.6 -> 4.7 pages, the insert
            # 9.8 -> 10.8 (the body row is a leaf page of its own).
            #
            # seq, an INTEGER PRIMARY KEY, is the rowid itself (stable, VACUUM keeps it): rows
            # and bodies are appended at the end of their b-trees, and the body refers to it.
            # The indexes of the deliveries table, each written by every insert:
            # - UNIQUE id: get(), claim(), complete(), fail(), erase() by the public id;
            # - UNIQUE delivery_key: the duplicate check of every add() -- the ON CONFLICT
            #   target of the insert and the fast-path read; it makes a redelivery a duplicate;
            # - (state, received_at): claim_next() and process_pending() look for pending,
            #   failed and processing records oldest first, in a table that is mostly done
            #   records; stats() counts per state; deliveries(state=...) filters by it;
            # - (received_at): purge() and erase_bodies() delete/erase everything older than a
            #   cut-off, and deliveries() without filters pages in received_at order;
            # - (vendor, event_type, received_at): deliveries(vendor=..., event_type=...), the
            #   listing of the command line and of operators' dashboards, newest or oldest first.
            # Without one of them, its query reads the whole table (every record of the
            # retention period, 90 days by default) under the write lock or on every listing.
            # id is NULL-able as it was in version 3 (a TEXT PRIMARY KEY of a rowid table): a
            # row without one is a malformed record that reads report, not a migration that
            # fails and leaves the whole file unopenable.
            """CREATE TABLE kyc_webhooks_deliveries_v4 (
                seq INTEGER PRIMARY KEY,
                id TEXT UNIQUE,
                delivery_key TEXT NOT NULL UNIQUE,
                vendor TEXT NOT NULL,
                event_type TEXT NOT NULL,
                state TEXT NOT NULL,
                received_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                replays INTEGER NOT NULL DEFAULT 0,
                headers TEXT NOT NULL DEFAULT '[]',
                lease_until REAL,
                claim_token TEXT,
                finished_at REAL,
                last_error_type TEXT,
                last_error_message TEXT,
                not_before REAL,
                body_erased_at REAL
            )""",
            # One row per stored body, keyed by its delivery's seq; none once erased.
            """CREATE TABLE kyc_webhooks_bodies (
                delivery INTEGER PRIMARY KEY,
                body BLOB NOT NULL
            )""",
            "INSERT INTO kyc_webhooks_deliveries_v4 (seq, id, delivery_key, vendor, event_type, "
            "state, received_at, updated_at, attempts, replays, headers, lease_until, "
            "claim_token, finished_at, last_error_type, last_error_message, not_before, "
            "body_erased_at) "
            "SELECT rowid, id, delivery_key, vendor, event_type, state, received_at, "
            "updated_at, attempts, replays, headers, lease_until, claim_token, finished_at, "
            "last_error_type, last_error_message, not_before, body_erased_at "
            "FROM kyc_webhooks_deliveries ORDER BY rowid",
            "INSERT INTO kyc_webhooks_bodies (delivery, body) SELECT rowid, body "
            "FROM kyc_webhooks_deliveries WHERE body IS NOT NULL ORDER BY rowid",
            # secure_delete zeroes the old table's pages (the bodies it held included).
            "DROP TABLE kyc_webhooks_deliveries",
            "ALTER TABLE kyc_webhooks_deliveries_v4 RENAME TO kyc_webhooks_deliveries",
            "CREATE INDEX kyc_webhooks_deliveries_state "
            "ON kyc_webhooks_deliveries (state, received_at)",
            "CREATE INDEX kyc_webhooks_deliveries_received "
            "ON kyc_webhooks_deliveries (received_at)",
            "CREATE INDEX kyc_webhooks_deliveries_vendor "
            "ON kyc_webhooks_deliveries (vendor, event_type, received_at)",
            # A record's body goes with it, whoever deletes the record: purge(), an operator's
            # DELETE, or an older library version still holding the file open (it checked the
            # version when it opened it). Without this, such a body would outlive every erasure
            # and block the insert of a later record that gets the same seq back. The body is
            # overwritten with zeros first (same size: SQLite rewrites it in place), because the
            # deleting connection may not have secure_delete on (the sqlite3 shell has it off).
            "CREATE TRIGGER kyc_webhooks_deliveries_body AFTER DELETE ON "
            "kyc_webhooks_deliveries BEGIN "
            "UPDATE kyc_webhooks_bodies SET body = zeroblob(length(body)) "
            "WHERE delivery = OLD.seq; "
            "DELETE FROM kyc_webhooks_bodies WHERE delivery = OLD.seq; END",
        ),
    ),
    (
        5,
        "decision ledger: the verdict last announced",
        (
            # Besides its latest known entry, each verification keeps the verdict its decision
            # handlers were last told about: a delivery whose handlers failed records its entry
            # (an older verdict delivered before its retry is judged against it) without
            # announcing it. Until now every stored entry had been announced when it was
            # written (a same verdict later replaced it silently, with the same status and
            # finality): the existing rows start with their entry's. The whole migration runs
            # under the write lock, so processes starting together apply it once.
            "ALTER TABLE kyc_webhooks_decisions ADD COLUMN announced_status TEXT",
            "ALTER TABLE kyc_webhooks_decisions ADD COLUMN announced_final INTEGER",
            "UPDATE kyc_webhooks_decisions SET announced_status = status, "
            "announced_final = final WHERE status IS NOT NULL",
            # Processes of version 4 still running would go on writing rows without the
            # announced verdict: a verdict announced twice, or never. Every row this version
            # inserts names its layout; one that names none comes from an older version and is
            # refused (its store answers 503), so that running both at once fails loudly
            # (docs/delivery-guarantees.md, "Upgrades and backups").
            "ALTER TABLE kyc_webhooks_decisions ADD COLUMN layout INTEGER",
            "CREATE TRIGGER kyc_webhooks_decisions_layout BEFORE INSERT ON "
            "kyc_webhooks_decisions WHEN NEW.layout IS NULL BEGIN SELECT RAISE(ABORT, "
            "'decision ledger written by an older version of kyc-webhooks: stop its processes "
            "(docs/delivery-guarantees.md, Upgrades and backups)'); END",
        ),
    ),
)
#: The schema version this library writes.
SCHEMA_VERSION = _MIGRATIONS[-1][0]

# The body comes from its own table (a correlated subquery: NULL once erased); it also works in
# the RETURNING clause of an UPDATE of the deliveries table.
_COLUMNS = (
    "id, delivery_key, vendor, event_type, state, received_at, updated_at, attempts, replays, "
    "(SELECT body FROM kyc_webhooks_bodies "
    "WHERE kyc_webhooks_bodies.delivery = kyc_webhooks_deliveries.seq), "
    "headers, lease_until, finished_at, last_error_type, last_error_message, not_before, "
    "body_erased_at"
)
_SELECT = f"SELECT {_COLUMNS} FROM kyc_webhooks_deliveries"  # noqa: S608 -- constants only
_SELECT_BY_ID = _SELECT + " WHERE id = ?"
_COUNT = "SELECT COUNT(*) FROM kyc_webhooks_deliveries"
_HAS_BODY = (
    "EXISTS (SELECT 1 FROM kyc_webhooks_bodies "
    "WHERE kyc_webhooks_bodies.delivery = kyc_webhooks_deliveries.seq)"
)
_SELECT_BY_KEY = _SELECT + " WHERE delivery_key = ?"
# A claim: a replay of a done record keeps it done (the lease alone marks the replay). It ends the
# back-off of an earlier failure: should the worker die, the record is taken over once the lease
# expires, not when the old back-off ends.
_TAKE = (
    "UPDATE kyc_webhooks_deliveries SET "  # noqa: S608 -- constants only
    "state = CASE WHEN state = 'done' THEN 'done' ELSE 'processing' END, lease_until = ?, "
    "claim_token = ?, attempts = attempts + 1, not_before = NULL, updated_at = ? WHERE id = ? "
    "RETURNING " + _COLUMNS
)
# Releases a subject lease if the given ticket token still holds it.
_RELEASE_SUBJECT = (
    "UPDATE kyc_webhooks_decisions SET lease_token = NULL, lease_until = NULL "
    "WHERE vendor = ? AND subject = ? AND lease_token = ?"
)
#: A ledger row whose subject lease is live at the parameter's time (a delivery is handled).
_LEASED = "(lease_token IS NOT NULL AND lease_until IS NOT NULL AND lease_until > ?)"
_CLAIMABLE = (
    "(state IN ('pending', 'failed') OR "
    "(state = 'processing' AND (lease_until IS NULL OR lease_until <= ?)))"
)


def _ts(value: datetime) -> float:
    return value.timestamp()


_DECISION_COLUMNS = (
    "vendor, subject, status, final, delivery_id, event_type, received_at, occurred_at, "
    "client_ref, reasons, fetch_required"
)
_SELECT_DECISION = f"SELECT {_DECISION_COLUMNS} FROM kyc_webhooks_decisions"  # noqa: S608 -- constants only
# The subject lease, taken only while the claim is live (the EXISTS) and no other live subject
# lease holds it (the DO UPDATE ... WHERE); returns the stored row, or none when either fails.
_BEGIN_DECISION = (
    "INSERT INTO kyc_webhooks_decisions (vendor, subject, lease_token, lease_until, layout) "  # noqa: S608
    "SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM kyc_webhooks_deliveries "
    "WHERE id = ? AND claim_token = ?) "
    "ON CONFLICT (vendor, subject) DO UPDATE SET "
    "lease_token = excluded.lease_token, lease_until = excluded.lease_until "
    "WHERE lease_token IS NULL OR lease_until IS NULL OR lease_until <= ? "
    "RETURNING " + _DECISION_COLUMNS + ", announced_status, announced_final"
)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _from_iso(value: object) -> datetime:
    parsed = datetime.fromisoformat(_str(value))
    if parsed.tzinfo is None:
        raise ValueError("a time without an offset")
    return parsed


def _reasons(value: object) -> tuple[str, ...]:
    items = json.loads(_str(value))
    if not isinstance(items, list) or not all(type(x) is str for x in items):
        raise TypeError("reasons are not a JSON list of strings")
    return tuple(items)


def _flag(value: object) -> bool:
    if type(value) is not int:
        raise TypeError(f"{_kind(value)} where a flag belongs")
    return bool(value)


# -- text in and out ---------------------------------------------------------------------------
#
# SQLite TEXT must be UTF-8, and a Python str may hold a lone surrogate ("\udcff", e.g. a header
# decoded with surrogateescape) that UTF-8 cannot encode. Such a str is bound as a BLOB of its
# "surrogatepass" bytes instead: a BLOB never equals a TEXT in SQLite, so two different keys can
# never collide, and reading decodes it back to the very same str. Every str parameter goes
# through _text().


def _text(value: str) -> str | bytes:
    """``value`` as a parameter SQLite can hold: itself, or its ``surrogatepass`` bytes."""
    if not isinstance(value, str) or value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")
    return value


class _Undecodable(bytes):
    """A TEXT value that is not UTF-8 (a corrupt or foreign file). The row decoder refuses it."""


def _text_factory(data: bytes) -> str | bytes:
    # Installed as the connection's text_factory: sqlite3's own decoder raises an
    # OperationalError whose message quotes the undecodable text (which may be personal data).
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _Undecodable(data)


# -- row decoding: one converter per column; each raises TypeError/ValueError/OverflowError ------


def _str(value: object) -> str:
    if type(value) is str:
        return value
    if type(value) is bytes:  # written by _text(); an _Undecodable TEXT is refused
        return value.decode("utf-8", "surrogatepass")
    raise TypeError(f"{_kind(value)} where text belongs")


def _optional_str(value: object) -> str | None:
    return None if value is None else _str(value)


def _time(value: object) -> datetime:
    if type(value) is not float and type(value) is not int:
        raise TypeError(f"{_kind(value)} where a time belongs")
    return datetime.fromtimestamp(value, timezone.utc)  # OverflowError/ValueError/OSError


def _optional_time(value: object) -> datetime | None:
    return None if value is None else _time(value)


def _count(value: object) -> int:
    if type(value) is not int:
        raise TypeError(f"{_kind(value)} where a count belongs")
    if value < 0:
        raise ValueError("a negative count")
    return value


def _body(value: object) -> bytes | None:
    if value is None or type(value) is bytes:
        return value
    raise TypeError(f"{_kind(value)} where a BLOB belongs")


def _headers(value: object) -> tuple[tuple[str, str], ...]:
    pairs = json.loads(_str(value))
    if not isinstance(pairs, list):
        raise TypeError("headers are not a JSON list")
    headers = []
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2 and all(type(x) is str for x in pair)):
            raise TypeError("a header is not a [name, value] pair of strings")
        headers.append((pair[0], pair[1]))
    return tuple(headers)


def _kind(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, _Undecodable):
        return "TEXT that is not UTF-8"
    return {str: "TEXT", bytes: "BLOB", int: "INTEGER", float: "REAL"}.get(type(value), "a value")


#: (column, converter) in _COLUMNS order: how each stored value becomes a DeliveryRecord field.
_DECODERS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("id", _str),
    ("delivery_key", _str),
    ("vendor", _str),
    ("event_type", _str),
    ("state", lambda value: DeliveryState(_str(value))),
    ("received_at", _time),
    ("updated_at", _time),
    ("attempts", _count),
    ("replays", _count),
    ("body", _body),
    ("headers", _headers),
    ("lease_until", _optional_time),
    ("finished_at", _optional_time),
    ("last_error_type", _optional_str),
    ("last_error_message", _optional_str),
    ("not_before", _optional_time),
    ("body_erased_at", _optional_time),
)


#: Every open store of this process. After ``fork()`` the child replaces their thread locks: a
#: lock held by another thread of the parent at fork time would otherwise stay locked forever in
#: the child (that thread does not exist there). Weak: the registry keeps no store alive.
_STORES: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for store in list(_STORES):
        store._lock = threading.RLock()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _headers_json(headers: tuple[tuple[str, str], ...]) -> str:
    return json.dumps([[name, value] for name, value in headers], ensure_ascii=False)


def _of_vendors(count: int) -> str:
    """The condition "one of ``count`` vendors" of the worker's statements, kept off the vendor
    index (the unary ``+``): the state index finds the few unfinished records, where the vendor
    index walked every record of the vendor -- the done ones of the whole retention included --
    under the write lock (review R31: 8 ms a claim at 40,000 records)."""
    return f"+vendor IN ({', '.join('?' for _ in range(count))})"


def _claim_next_select(max_attempts: bool, vendors: int | None) -> str:
    """``claim_next``'s query: the oldest claimable record, with ``attempts < ?`` when
    ``max_attempts`` and of ``vendors`` vendors (``None``: any). Only a failure backs off (a
    processing record's not_before, left by a version that did not clear it in the claim, does
    not hold back the takeover of an expired lease); a record set aside as malformed, or without
    its body, is never claimed by the worker again (``NEVER_RETRIED``)."""
    where = [
        _CLAIMABLE,
        "(state <> 'failed' OR ((not_before IS NULL OR not_before <= ?) "
        "AND last_error_type IS NOT ? AND last_error_type IS NOT ?))",
    ]
    if max_attempts:
        where.append("attempts < ?")
    if vendors is not None:
        where.append(_of_vendors(vendors))
    return (
        f"SELECT seq, {_COLUMNS} FROM kyc_webhooks_deliveries "  # noqa: S608 -- constants
        f"WHERE {' AND '.join(where)} ORDER BY received_at, id LIMIT 1"
    )


class SQLiteStore:
    """A delivery store in the SQLite file at ``path`` (created with its directory's permissions
    if missing). ``":memory:"`` gives a private in-memory database (tests only).

    ``timeout``: seconds a write waits for another process's lock before failing (busy timeout).
    ``durable``: (default) every commit an answer relies on is synced -- one fsync per delivery;
    ``False``: none is. ``clock``: current aware time.
    ``create``: create the file and the store's tables when missing (default). ``False`` opens an
    existing store only -- for a tool that must not make an empty store in a mistyped path or in
    another application's database: a missing file is refused, and on a file without the store's
    tables nothing is written (not even the journal mode), ``schema_version()`` returns 0 and every
    other call raises :class:`~kyc_webhooks.errors.StoreError` (each call looks again, so a store
    created meanwhile is used). Nor does it migrate a store of an older version: it is refused
    (``StoreError``), so that a read -- ``kyc-webhooks inbox`` -- never changes the layout under
    processes of that version; ``kyc-webhooks migrate`` (or a store that may create) migrates it.

    Raises :class:`~kyc_webhooks.errors.StoreError` at construction when the file cannot be opened,
    is not a database, holds a newer schema, or (``create=False``) an older one.
    """

    blocking = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 5.0,
        durable: bool = True,
        clock: Clock | None = None,
        create: bool = True,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise UsageError("path must be a str or os.PathLike")
        timeout = check_timeout(timeout, zero=True)
        self.path = os.fspath(path)
        self._timeout = float(timeout)
        self._durable = bool(durable)
        check_clock(clock)
        self._clock: Clock = clock if clock is not None else utc_now
        self._create = bool(create)
        #: ``create=False`` and the file holds no store: nothing is written to it.
        self._no_store = False
        self._lock = threading.RLock()
        self._closed = False
        # Connections inherited through fork() must not be used (or closed) by the child.
        self._inherited: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._conn = self._open()
        _STORES.add(self)

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def now(self) -> datetime:
        return checked_now(self._clock)

    # -- connection --------------------------------------------------------------------------

    def _error(self, what: str, exc: Exception) -> StoreError:
        """A :class:`StoreError` for any failure of ``what``: the driver's message for a
        :class:`sqlite3.Error`, only the exception's class for anything else (its text might
        quote stored data)."""
        if isinstance(exc, UnicodeDecodeError) and isinstance(exc.object, bytes):
            # The sqlite3 module could not decode SQLite's own message: a corrupt schema quotes
            # its mangled bytes ("malformed database schema (\xffyc_...)").
            text = exc.object.decode("utf-8", "backslashreplace")
        elif isinstance(exc, sqlite3.Error):
            text = str(exc)
        else:
            text = ""
        hint = ""
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            hint = ": the file is not a SQLite database or is corrupt"
        elif "unable to open" in text:
            missing = "missing directory" if self._create else "missing file or directory"
            hint = f": the path cannot be opened ({missing}, a directory, or no permission)"
        elif "readonly" in text or "read-only" in text:
            hint = ": the file or its directory is not writable"
        elif "locked" in text or "busy" in text:
            hint = f": another connection held the lock for over {self._timeout:g} s"
        elif disk_full(exc):
            hint = (
                ": the file system holding the file is full -- free space there; the store "
                "works again once there is room, without a restart"
            )
        detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        message = f"SQLite store {self.path!r}: {what} failed ({detail}){hint}"
        if hint.endswith("corrupt"):
            # Does not pass by itself: not "try again" (CLI exit 2, `process --loop` ends; an
            # endpoint still answers 503, so that the vendor redelivers once it is restored).
            return StoreSchemaError(message + "; restore it from a backup")
        return StoreError(message)

    def _open(self) -> sqlite3.Connection:
        target, uri = self.path, False
        if not self._create and self.path != ":memory:":
            # Read-write, never create: a missing file stays missing ("unable to open").
            target, uri = f"{Path(self.path).absolute().as_uri()}?mode=rw", True
        try:
            conn = sqlite3.connect(
                target,
                timeout=self._timeout,
                isolation_level=None,
                check_same_thread=False,
                uri=uri,
            )
        except Exception as exc:  # sqlite3.Error; ValueError for a NUL in the path
            raise self._error("open", exc) from exc
        try:
            conn.text_factory = _text_factory
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            # Checked before anything is written (the switch to WAL persists in the file): a
            # newer schema is refused, and so is an older one without ``create``.
            version = _version(conn)
            self._check_version(version)
            self._no_store = not self._create and version == 0
            if self._no_store:
                # Another application's database, or a mistyped path: left exactly as it is.
                row = conn.execute("PRAGMA journal_mode").fetchone()
                self.journal_mode = str(row[0]).lower() if row else "unknown"
                return conn
            row = self._to_wal(conn)
            self.journal_mode = str(row[0]).lower() if row else "unknown"
            # Every commit syncs until _write() says otherwise (the migrations below included).
            self._synchronous = "FULL" if self._durable else "NORMAL"
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            # Erased bodies and purged rows are overwritten with zeros, not left in free pages.
            conn.execute("PRAGMA secure_delete = ON")
            self._migrate(conn)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, Exception) and not isinstance(exc, WebhookError):
                # sqlite3.Error, and whatever a corrupt schema page provokes (UnicodeDecodeError
                # for an undecodable error message, ValueError for a mangled version number).
                raise self._error("open", exc) from exc
            raise
        return conn

    def _check_version(self, version: int) -> None:
        """Refuse a file whose schema this version cannot use as it is: a newer one (a later
        release wrote it), or, with ``create=False``, an older one -- migrated only by a store
        that may create (``kyc-webhooks migrate``), never by a read (the CLI's ``inbox``) while
        processes of the older version may still run on it."""
        if version > SCHEMA_VERSION:
            raise StoreSchemaError(
                f"SQLite store {self.path!r} has schema version {version}, newer than the "
                f"{SCHEMA_VERSION} this version of kyc-webhooks understands; upgrade it"
            )
        if not self._create and 0 < version < SCHEMA_VERSION:
            raise StoreSchemaError(
                f"SQLite store {self.path!r} has schema version {version}, older than the "
                f"{SCHEMA_VERSION} of this version of kyc-webhooks, and this one does not "
                "migrate it (create=False): stop the processes of the older version, then run "
                "`kyc-webhooks migrate --store PATH`"
            )

    def _to_wal(self, conn: sqlite3.Connection) -> Any:
        """``PRAGMA journal_mode = WAL``, waiting up to the store's timeout for the lock it needs.
        On a file still in rollback-journal mode (a new file, a restored backup) SQLite refuses
        the switch at once, without its busy handler, while another connection holds a write lock
        -- another process opening the same file at that moment: several workers starting
        together. Retried every 10 ms, bounded in count and time."""
        deadline = time.monotonic() + self._timeout
        for _ in range(int(self._timeout * 100) + 1):
            try:
                return conn.execute("PRAGMA journal_mode = WAL").fetchone()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(0.01)
        return conn.execute("PRAGMA journal_mode = WAL").fetchone()

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS kyc_webhooks_migrations ("
                "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
            row = conn.execute("SELECT MAX(version) FROM kyc_webhooks_migrations").fetchone()
            current = int(row[0]) if row and row[0] is not None else 0
            self._check_version(current)  # again, under the write lock
            applied_at = _ts(self.now())
            for version, description, statements in _MIGRATIONS:
                if version <= current:
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO kyc_webhooks_migrations (version, description, applied_at) "
                    "VALUES (?, ?, ?)",
                    (version, description, applied_at),
                )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _connection(self, *, store_needed: bool = True) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"SQLite store {self.path!r} is closed")
        if os.getpid() != self._pid:
            self._inherited.append(self._conn)
            self._pid = os.getpid()
            self._conn = self._open()
        if store_needed and self._no_store:
            # create=False: look again (a store may have been created since), create nothing.
            self._conn.close()
            self._conn = self._open()
            if self._no_store:
                raise StoreError(
                    f"SQLite store {self.path!r}: the file holds no kyc-webhooks store (no "
                    "kyc_webhooks_migrations table), and this one does not create it "
                    "(create=False); create it with SQLiteStore(path) or `kyc-webhooks migrate "
                    "--store PATH`"
                )
        return self._conn

    def _sync_level(self, conn: sqlite3.Connection, synced: bool) -> None:
        """Set ``PRAGMA synchronous`` for the next commit (it is per connection, read at commit).

        ``synced`` commits are on disk when COMMIT returns: with WAL, one fsync of the log. The
        others skip it only when durable and in WAL mode: the log is appended in order and a
        synced commit syncs the whole file, so an unsynced commit is on disk no later than the
        next synced one, and a power cut can only lose a tail of unsynced commits -- never one
        that a later synced commit depends on (docs/delivery-guarantees.md). In a rollback
        journal (a file system without WAL) every commit stays ``FULL``."""
        level = "FULL" if self._durable and (synced or self.journal_mode != "wal") else "NORMAL"
        if level != self._synchronous:
            conn.execute(f"PRAGMA synchronous = {level}")
            self._synchronous = level

    @contextmanager
    def _turn(self, what: str) -> Iterator[None]:
        """This thread's turn at the store's one connection, waited for up to the store's
        ``timeout``: threads of one process (a threaded WSGI server) take turns, and while one
        waits in SQLite's busy handler for another connection's lock, the others would queue
        behind it for a timeout each -- the eighth request of a server's threads ~40 s. Past the
        timeout, :class:`StoreError` (503 with ``Retry-After``), as for the file's own lock."""
        if not self._lock.acquire(timeout=self._timeout):
            raise StoreError(
                f"SQLite store {self.path!r}: {what} failed: the store's connection was busy "
                f"with other threads of this process for over {self._timeout:g} s"
            )
        try:
            yield
        finally:
            self._lock.release()

    @contextmanager
    def _write(self, what: str, *, synced: bool = True) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: the write lock is held from the first read.
        ``synced=False``: a commit that a power cut may lose (see :meth:`_sync_level`)."""
        with self._turn(what):
            conn = self._connection()
            try:
                self._sync_level(conn, synced)
                conn.execute("BEGIN IMMEDIATE")
            except Exception as exc:
                raise self._error(what, exc) from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                _rollback(conn)
                if isinstance(exc, Exception) and not isinstance(exc, WebhookError):
                    raise self._error(what, exc) from exc
                raise

    @contextmanager
    def _read(self, what: str, *, store_needed: bool = True) -> Iterator[sqlite3.Connection]:
        with self._turn(what):
            conn = self._connection(store_needed=store_needed)
            try:
                yield conn
            except WebhookError:
                raise
            except Exception as exc:
                raise self._error(what, exc) from exc

    def _record(self, row: Sequence[Any]) -> DeliveryRecord:
        """Decode one row. Any value that does not decode (a corrupt file, a row written by
        another program) is a :class:`StoreError` naming the record and the column."""
        try:
            return self._decode(row)
        except MalformedRow as bad:
            record_id = row[0] if type(row[0]) is str else "<unreadable id>"
            raise StoreError(
                f"SQLite store {self.path!r}: stored record {record_id[:64]!r} is malformed: "
                f"column {bad.column} holds {bad.reason}"
            ) from None

    @staticmethod
    def _decode(row: Sequence[Any]) -> DeliveryRecord:
        """Decode one row; :class:`MalformedRow` for a value that does not decode."""
        fields: dict[str, Any] = {}
        for (column, decode), value in zip(_DECODERS, row, strict=True):
            try:
                fields[column] = decode(value)
            except (TypeError, ValueError, OverflowError, OSError, RecursionError) as exc:
                raise MalformedRow(column, describe_fault(column, exc)) from None
        return DeliveryRecord(**fields)

    def _fetch(
        self, conn: sqlite3.Connection, where: Literal["id", "delivery_key"], arg: str
    ) -> DeliveryRecord | None:
        sql = _SELECT_BY_ID if where == "id" else _SELECT_BY_KEY
        row = conn.execute(sql, (_text(arg),)).fetchone()
        return self._record(row) if row is not None else None

    # -- claims ------------------------------------------------------------------------------

    def _take(
        self,
        conn: sqlite3.Connection,
        record: DeliveryRecord,
        now: datetime,
        lease: float,
        *,
        replay: bool,
    ) -> Claim:
        token = new_id()
        # A replay of a done record keeps it done: the lease alone marks the replay, so that a
        # redelivery stays a duplicate and an expired replay lease leaves the record done.
        rows = conn.execute(
            _TAKE,
            (_ts(now + timedelta(seconds=lease)), token, _ts(now), _text(record.id)),
        ).fetchall()  # to the end: a RETURNING statement finishes its write when it is done
        assert len(rows) == 1  # we hold the write lock; the row cannot vanish
        return Claim(self._record(rows[0]), token, replay, record.state)

    def add(
        self,
        delivery: NewDelivery,
        *,
        lease: float | None = None,
        decision: Decision | None = None,
    ) -> Added:
        if not isinstance(delivery, NewDelivery):
            raise UsageError("add() takes a NewDelivery")
        check_lease(lease)
        if decision is not None and not isinstance(decision, Decision):
            raise UsageError("add(decision=...) takes a Decision")
        now = self.now()
        # Fast path without the write lock for what add() never changes: a record that is done
        # (terminal for redeliveries), or any existing record when no claim is wanted. Measured
        # (docs/performance.md, schema 4): a new delivery pays no measurable time for it, a
        # duplicate is answered 30 % faster and never queues behind another process's writes.
        with self._read("add") as conn:
            known = self._fetch(conn, "delivery_key", delivery.delivery_key)
        if known is not None and (lease is None or known.state is DeliveryState.DONE):
            return Added(known, False, None)
        token = new_id() if lease is not None else None
        record_id = new_id()
        received = _ts(now)
        lease_until = None if lease is None else _ts(now + timedelta(seconds=lease))
        # With a claim (handle() without defer) the commit need not reach the disk: until the
        # 200 nothing is acknowledged, and complete() syncs it with its own commit. Without a
        # claim (defer=True) a 202 follows: synced (docs/delivery-guarantees.md).
        with self._write("add", synced=lease is None) as conn:
            # One statement for a new delivery: the unique key decides, and the record is built
            # here from the values just written (no read back).
            inserted = conn.execute(
                "INSERT INTO kyc_webhooks_deliveries (id, delivery_key, vendor, event_type, "
                "state, received_at, updated_at, attempts, headers, lease_until, claim_token) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (delivery_key) DO NOTHING RETURNING seq",
                (
                    record_id,
                    _text(delivery.delivery_key),
                    _text(delivery.vendor),
                    _text(delivery.event_type),
                    "pending" if token is None else "processing",
                    received,
                    received,
                    0 if token is None else 1,
                    _text(_headers_json(delivery.headers)),
                    lease_until,
                    token,
                ),
            ).fetchall()  # to the end: a RETURNING statement finishes its write when it is done
            if inserted:
                conn.execute(
                    # ON CONFLICT: a body left behind by a record another program replaced
                    # (REPLACE fires no delete trigger) gives way instead of failing every add.
                    "INSERT INTO kyc_webhooks_bodies (delivery, body) VALUES (?, ?) "
                    "ON CONFLICT (delivery) DO UPDATE SET body = excluded.body",
                    (inserted[0][0], delivery.body),
                )
                # Times as a read would give them back (UTC, from the stored float).
                at = _time(received)
                record = DeliveryRecord(
                    id=record_id,
                    delivery_key=delivery.delivery_key,
                    vendor=delivery.vendor,
                    event_type=delivery.event_type,
                    state=DeliveryState.PENDING if token is None else DeliveryState.PROCESSING,
                    received_at=at,
                    updated_at=at,
                    attempts=0 if token is None else 1,
                    body=delivery.body,
                    headers=delivery.headers,
                    lease_until=None if lease_until is None else _time(lease_until),
                )
                if token is None:
                    return Added(record, True, None)
                claim = Claim(record, token, False, DeliveryState.PENDING)
            else:
                # The key is known (a redelivery that lost the race with the fast path above, or
                # a record that is not done): claim it if it is claimable.
                existing = self._fetch(conn, "delivery_key", delivery.delivery_key)
                assert existing is not None  # we hold the write lock; the row cannot vanish
                if lease is None or not claimable(
                    existing.state, existing.lease_until, now, replay=False
                ):
                    return Added(existing, False, None)
                claim = self._take(conn, existing, now, lease, replay=False)
            if decision is None:
                return Added(claim.record, bool(inserted), claim)
            # The subject lease in the same transaction, exactly as begin_decision() would take
            # it right after the claim: one commit per delivery fewer. When another delivery of
            # the verification holds it, the claim stays this caller's to release.
            assert lease is not None
            entry = ledger_entry(decision, claim.record)
            token = new_id()
            try:
                ticket = self._lease_subject(conn, claim, entry, lease, now, token)
            except StoreError:
                # The subject's stored decision does not decode. Give the lease back and answer
                # as a store that does not fold: the caller's begin_decision() then reports the
                # malformed entry and releases the claim, exactly as without the fold.
                conn.execute(_RELEASE_SUBJECT, (_text(entry.vendor), _text(entry.subject), token))
                return Added(claim.record, bool(inserted), claim)
            return Added(claim.record, bool(inserted), claim, ticket, ticket is None)

    def claim(self, delivery_id: str, *, lease: float, replay: bool = False) -> Claim | None:
        check_lease(lease)
        now = self.now()
        with self._write("claim", synced=False) as conn:
            record = self._fetch(conn, "id", delivery_id)
            if record is None:
                raise DeliveryNotFoundError("no stored delivery has this id")
            if not claimable(record.state, record.lease_until, now, replay=replay):
                return None
            return self._take(conn, record, now, lease, replay=replay)

    def claim_next(
        self,
        *,
        lease: float,
        max_attempts: int | None = None,
        vendors: Collection[str] | None = None,
    ) -> Claim | None:
        check_lease(lease)
        now = self.now()
        args: list[Any] = [_ts(now), _ts(now), *NEVER_RETRIED]
        if max_attempts is not None:
            args.append(max_attempts)
        names = None if vendors is None else [_text(name) for name in vendors]
        if names is not None:
            if not names:
                return None
            args.extend(names)
        select = _claim_next_select(max_attempts is not None, None if names is None else len(names))
        with self._write("claim_next", synced=False) as conn:
            if max_attempts is not None:
                self._fail_exhausted(conn, now, max_attempts, vendors)
            # A row that does not decode is set aside (failed, MalformedRecord) in this same
            # transaction, and the next one is tried: one malformed row must not stop every
            # worker. At most MALFORMED_RECORDS_PER_CLAIM per call, so that the write lock is
            # not held for long; the next call goes on.
            for _ in range(MALFORMED_RECORDS_PER_CLAIM):
                row = conn.execute(select, args).fetchone()
                if row is None:
                    return None
                try:
                    record = self._decode(row[1:])
                except MalformedRow as bad:
                    self._set_aside(conn, row[0], row[1], bad, now)
                    continue
                return self._take(conn, record, now, lease, replay=False)
            return None

    @staticmethod
    def _set_aside(
        conn: sqlite3.Connection, seq: int, record_id: object, bad: MalformedRow, now: datetime
    ) -> None:
        """Mark a row that does not decode ``failed`` (``MalformedRecord``): a message naming the
        column and the kind of fault, never a value. The other columns stay as they are, so
        ``get(id)`` still reports the fault; once repaired, ``process(id)`` or a redelivery runs
        it (``claim_next`` does not: it skips ``MalformedRecord`` rows)."""
        conn.execute(
            "UPDATE kyc_webhooks_deliveries SET state = 'failed', claim_token = NULL, "
            "updated_at = ?, last_error_type = ?, last_error_message = ? WHERE seq = ?",
            (
                _ts(now),
                MALFORMED_RECORD,
                f"the stored record does not decode: column {bad.column} holds {bad.reason}",
                seq,
            ),
        )
        logger.error(
            "delivery store: stored record %s does not decode (column %s holds %s); set aside as "
            "failed (%s) -- repair the row, then process(id) runs it",
            loggable_id(record_id),
            bad.column,
            bad.reason,
            MALFORMED_RECORD,
        )

    @staticmethod
    def _fail_exhausted(
        conn: sqlite3.Connection,
        now: datetime,
        max_attempts: int,
        vendors: Collection[str] | None,
    ) -> None:
        """Processing records whose lease expired after ``max_attempts`` attempts become failed
        (every attempt crashed): visible to operators instead of ``processing`` forever."""
        sql = (
            "UPDATE kyc_webhooks_deliveries SET state = 'failed', lease_until = NULL, "
            "claim_token = NULL, not_before = NULL, updated_at = ?, last_error_type = ?, "
            "last_error_message = ? WHERE state = 'processing' AND attempts >= ? "
            "AND (lease_until IS NULL OR lease_until <= ?)"
        )
        args: list[Any] = [_ts(now), LEASE_EXPIRED, LEASE_EXPIRED_MESSAGE, max_attempts, _ts(now)]
        if vendors is not None:
            names = list(vendors)
            sql += f" AND {_of_vendors(len(names))}"
            args.extend(_text(name) for name in names)
        conn.execute(sql, args)

    def complete(self, claim: Claim, *, decision: DecisionTicket | None = None) -> bool:
        if decision is not None and not isinstance(decision, DecisionTicket):
            raise UsageError("complete(decision=...) takes a DecisionTicket")
        now = _ts(self.now())
        # One transaction: the record becomes done and the ledger takes the entry together.
        with self._write("complete") as conn:
            cur = conn.execute(
                "UPDATE kyc_webhooks_deliveries SET state = 'done', lease_until = NULL, "
                "claim_token = NULL, not_before = NULL, finished_at = ?, updated_at = ?, "
                "replays = replays + ? "
                "WHERE id = ? AND claim_token = ?",
                (now, now, 1 if claim.replay else 0, _text(claim.record.id), _text(claim.token)),
            )
            if cur.rowcount != 1:
                return False
            if decision is not None:
                self._settle(conn, decision)
            return True

    # -- the decision ledger -------------------------------------------------------------------

    def begin_decision(
        self, claim: Claim, entry: DecisionEntry, *, lease: float
    ) -> DecisionTicket | None:
        check_decision_args(claim, entry, lease)
        now = self.now()
        # Not synced: a subject lease lost in a power cut is an expired lease, and the claim it
        # depends on is lost with it.
        with self._write("begin_decision", synced=False) as conn:
            return self._lease_subject(conn, claim, entry, lease, now, new_id())

    def _lease_subject(
        self,
        conn: sqlite3.Connection,
        claim: Claim,
        entry: DecisionEntry,
        lease: float,
        now: datetime,
        token: str,
    ) -> DecisionTicket | None:
        """The subject lease of ``entry`` for ``claim`` under ``token``, inside the caller's
        transaction: one statement (_BEGIN_DECISION); ``None`` when the subject is busy or the
        claim lost."""
        rows = conn.execute(
            _BEGIN_DECISION,
            (
                _text(entry.vendor),
                _text(entry.subject),
                token,
                _ts(now + timedelta(seconds=lease)),
                SCHEMA_VERSION,
                _text(claim.record.id),
                _text(claim.token),
                _ts(now),
            ),
        ).fetchall()  # to the end: a RETURNING statement finishes its write when it is done
        if not rows:
            return None
        current = None if rows[0][2] is None else self._entry(rows[0])
        announced = self._announced(rows[0][11], rows[0][12])
        return DecisionTicket(entry, current, announces(entry, current, announced), token)

    def _announced(self, status: object, final: object) -> tuple[str, bool] | None:
        """The verdict a row's decision handlers were last told about (``None``: none yet)."""
        if status is None:
            return None
        try:
            return _str(status), _flag(final)
        except TypeError as exc:
            raise StoreError(
                f"SQLite store {self.path!r}: a stored decision is malformed ({exc})"
            ) from None

    def _settle(self, conn: sqlite3.Connection, ticket: DecisionTicket) -> None:
        """Apply a ticket inside the completion's transaction."""
        entry = ticket.entry
        key = (_text(entry.vendor), _text(entry.subject))
        # Re-checked against the stored entry: if the subject lease expired meanwhile and another
        # delivery changed the ledger, a stale entry still never wins.
        current = self._decision(conn, entry.vendor, entry.subject)
        newer = replaces(entry, current)
        # Its decision handlers ran: they were last told this verdict -- unless it is no longer
        # the latest known one. The same delivery as the stored entry: the retry of an attempt
        # that failed (abort_decision(failed=True) stored it).
        announce = ticket.changes and (
            newer or (current is not None and current.delivery_id == entry.delivery_id)
        )
        if newer:
            self._write_entry(conn, entry, ticket.token, announce=announce)
        elif announce:
            conn.execute(
                "UPDATE kyc_webhooks_decisions SET announced_status = ?, announced_final = ?, "
                "lease_token = CASE WHEN lease_token = ? THEN NULL ELSE lease_token END, "
                "lease_until = CASE WHEN lease_token = ? THEN NULL ELSE lease_until END "
                "WHERE vendor = ? AND subject = ?",
                (_text(entry.status), int(entry.final), ticket.token, ticket.token, *key),
            )
        else:
            conn.execute(_RELEASE_SUBJECT, (*key, ticket.token))

    def _write_entry(
        self, conn: sqlite3.Connection, entry: DecisionEntry, token: str, *, announce: bool
    ) -> None:
        """Store ``entry`` as its verification's latest known entry (``announce``: as the verdict
        its decision handlers were last told about too) and release the subject lease ``token``
        if it still holds it -- one statement (every SET expression reads the row as it was
        before the statement)."""
        conn.execute(
            "INSERT INTO kyc_webhooks_decisions (vendor, subject, status, final, "
            "delivery_id, event_type, received_at, occurred_at, client_ref, reasons, "
            "fetch_required, announced_status, announced_final, layout) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (vendor, subject) DO UPDATE SET status = excluded.status, "
            "final = excluded.final, delivery_id = excluded.delivery_id, "
            "event_type = excluded.event_type, received_at = excluded.received_at, "
            "occurred_at = excluded.occurred_at, client_ref = excluded.client_ref, "
            "reasons = excluded.reasons, fetch_required = excluded.fetch_required, "
            "announced_status = CASE WHEN ? THEN excluded.announced_status "
            "ELSE announced_status END, "
            "announced_final = CASE WHEN ? THEN excluded.announced_final "
            "ELSE announced_final END, "
            "lease_token = CASE WHEN lease_token = ? THEN NULL ELSE lease_token END, "
            "lease_until = CASE WHEN lease_token = ? THEN NULL ELSE lease_until END",
            (
                _text(entry.vendor),
                _text(entry.subject),
                _text(entry.status),
                int(entry.final),
                _text(entry.delivery_id),
                _text(entry.event_type),
                _iso(entry.received_at),
                _iso(entry.occurred_at),
                None if entry.client_ref is None else _text(entry.client_ref),
                _text(json.dumps(list(entry.reasons), ensure_ascii=False)),
                int(entry.fetch_required),
                _text(entry.status) if announce else None,
                int(entry.final) if announce else None,
                SCHEMA_VERSION,
                int(announce),
                int(announce),
                token,
                token,
            ),
        )

    def abort_decision(self, ticket: DecisionTicket, *, failed: bool = False) -> None:
        if not isinstance(ticket, DecisionTicket):
            raise UsageError("abort_decision() takes a DecisionTicket")
        entry = ticket.entry
        key = (_text(entry.vendor), _text(entry.subject))
        # failed: synced, as a completion -- a newer verdict lost in a power cut would let an
        # older one delivered before its retry be announced.
        with self._write("abort_decision", synced=failed) as conn:
            held = conn.execute(
                "SELECT 1 FROM kyc_webhooks_decisions WHERE vendor = ? AND subject = ? "
                "AND lease_token = ?",
                (*key, ticket.token),
            ).fetchone()
            # A failed attempt of the holder of the subject lease: the newer verdict is known
            # from now on (an older one delivered before the retry is judged against it), and
            # not announced. Without the lease (it expired, another delivery took it) nothing
            # is written: a verification forgotten meanwhile is not written again.
            if (
                failed
                and held is not None
                and replaces(entry, self._decision(conn, entry.vendor, entry.subject))
            ):
                self._write_entry(conn, entry, ticket.token, announce=False)
                return
            conn.execute(_RELEASE_SUBJECT, (*key, ticket.token))

    def effective_decision(self, vendor: str, subject: str) -> DecisionEntry | None:
        with self._read("effective_decision") as conn:
            return self._decision(conn, vendor, subject)

    def decisions_for_client(self, client_ref: str, *, limit: int = 100) -> Sequence[DecisionEntry]:
        check_limit(limit)
        with self._read("decisions_for_client") as conn:
            rows = conn.execute(
                _SELECT_DECISION + " WHERE client_ref = ? AND status IS NOT NULL",
                (_text(client_ref),),
            ).fetchall()
            entries = [self._entry(row) for row in rows]
        # Sorted here: the times are text with offsets, which SQL would order as text.
        entries.sort(key=lambda e: (decision_time(e), e.received_at, e.delivery_id), reverse=True)
        return entries[:limit]

    def forget_decisions(
        self,
        *,
        client_ref: str | None = None,
        vendor: str | None = None,
        subject: str | None = None,
    ) -> list[str]:
        check_forget_args(client_ref, vendor, subject)
        if client_ref is not None:
            where = "client_ref = ? AND status IS NOT NULL"
            args: tuple[str | bytes, ...] = (_text(client_ref),)
        else:
            assert vendor is not None
            assert subject is not None
            where, args = "vendor = ? AND subject = ?", (_text(vendor), _text(subject))
        now = _ts(self.now())
        with self._write("forget_decisions") as conn:
            busy = conn.execute(
                f"SELECT 1 FROM kyc_webhooks_decisions WHERE {where} AND {_LEASED}",  # noqa: S608
                (*args, now),
            ).fetchone()
            if busy is not None:
                raise DeliveryInProgressError(FORGET_BUSY)  # rolled back: nothing removed
            rows = conn.execute(
                f"DELETE FROM kyc_webhooks_decisions WHERE {where} "  # noqa: S608 -- constants
                "RETURNING delivery_id",
                args,
            ).fetchall()
            try:
                forgotten = [_str(row[0]) for row in rows if row[0] is not None]
            except (TypeError, ValueError):
                raise StoreError(
                    f"SQLite store {self.path!r}: a stored decision is malformed (delivery_id)"
                ) from None
        # secure_delete zeroed the rows (and their client_ref index entries); the checkpoint
        # empties the -wal file of their older copies, as after erase().
        self._scrub("forget_decisions")
        return forgotten

    def purge_decisions(self, *, older_than: TimeLimit) -> int:
        now = self.now()
        limit = cutoff(older_than, now)
        with self._write("purge_decisions") as conn:
            # The entry's times are ISO 8601 text with an offset: julianday() reads them as UTC
            # (to the millisecond). A row holding only a lease is judged by when it ended. The
            # cut-off is written in UTC: julianday() cannot read an offset with seconds
            # (+05:30:30, which isoformat() writes) and purged nothing (review R31).
            rows = conn.execute(
                f"DELETE FROM kyc_webhooks_decisions WHERE NOT {_LEASED} AND ("  # noqa: S608
                "(status IS NOT NULL AND julianday(received_at) < julianday(?)) OR "
                "(status IS NULL AND (lease_until IS NULL OR lease_until < ?))) RETURNING status",
                (_ts(now), _iso(limit.astimezone(timezone.utc)), _ts(limit)),
            ).fetchall()
        self._scrub("purge_decisions")
        return sum(1 for row in rows if row[0] is not None)

    def _decision(
        self, conn: sqlite3.Connection, vendor: str, subject: str
    ) -> DecisionEntry | None:
        row = conn.execute(
            _SELECT_DECISION + " WHERE vendor = ? AND subject = ? AND status IS NOT NULL",
            (_text(vendor), _text(subject)),
        ).fetchone()
        return self._entry(row) if row is not None else None

    def _entry(self, row: Sequence[Any]) -> DecisionEntry:
        """Decode one ledger row; a value that does not decode is a :class:`StoreError`."""
        try:
            return DecisionEntry(
                vendor=_str(row[0]),
                subject=_str(row[1]),
                status=_str(row[2]),
                final=_flag(row[3]),
                delivery_id=_str(row[4]),
                event_type=_str(row[5]),
                received_at=_from_iso(row[6]),
                occurred_at=None if row[7] is None else _from_iso(row[7]),
                client_ref=_optional_str(row[8]),
                reasons=_reasons(row[9]),
                fetch_required=_flag(row[10]),
            )
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:
            reason = str(exc) if isinstance(exc, TypeError) else type(exc).__name__
            raise StoreError(
                f"SQLite store {self.path!r}: a stored decision is malformed ({reason})"
            ) from None

    def fail(
        self,
        claim: Claim,
        *,
        error_type: str,
        error_message: str,
        retry_at: datetime | None = None,
        count_attempt: bool = True,
    ) -> bool:
        now = _ts(self.now())
        # The stored state decides, not the worker's memory: a replay of a done record left it
        # done, and it stays done. count_attempt=False: nothing ran, the claim's attempt is
        # given back in the same statement.
        with self._write("fail", synced=False) as conn:
            cur = conn.execute(
                "UPDATE kyc_webhooks_deliveries SET "
                "state = CASE WHEN state = 'done' THEN 'done' ELSE 'failed' END, "
                "attempts = MAX(attempts - ?, 0), "
                "lease_until = NULL, claim_token = NULL, "
                "not_before = CASE WHEN state = 'done' THEN NULL ELSE ? END, updated_at = ?, "
                "last_error_type = ?, last_error_message = ? "
                "WHERE id = ? AND claim_token = ?",
                (
                    0 if count_attempt else 1,
                    None if retry_at is None else _ts(retry_at),
                    now,
                    _text(error_type),
                    _text(error_message),
                    _text(claim.record.id),
                    _text(claim.token),
                ),
            )
            return cur.rowcount == 1

    # -- reading -----------------------------------------------------------------------------

    def get(self, delivery_id: str) -> DeliveryRecord | None:
        with self._read("get") as conn:
            return self._fetch(conn, "id", delivery_id)

    def get_by_key(self, delivery_key: str) -> DeliveryRecord | None:
        with self._read("get_by_key") as conn:
            return self._fetch(conn, "delivery_key", delivery_key)

    def deliveries(
        self,
        *,
        state: DeliveryState | str | Collection[DeliveryState | str] | None = None,
        vendor: str | None = None,
        event_type: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        newest_first: bool = False,
        id_prefix: str | None = None,
    ) -> Sequence[DeliveryRecord]:
        check_limit(limit)
        filters = _filters(state, vendor, event_type, since, until, id_prefix, None)
        if filters is None:
            return []
        where, args = filters
        order = "DESC" if newest_first else "ASC"
        sql = f"{_SELECT}{where} ORDER BY received_at {order}, id {order} LIMIT ?"
        with self._read("deliveries") as conn:
            rows = conn.execute(sql, [*args, limit]).fetchall()
        # A row that does not decode is skipped, not a failure of the whole listing: its id is
        # logged (get(id) names the column), and claim_next sets it aside.
        return listed_records(rows, self._decode, _row_id, MalformedRow)

    def count(
        self,
        *,
        state: DeliveryState | str | Collection[DeliveryState | str] | None = None,
        vendor: str | None = None,
        event_type: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        id_prefix: str | None = None,
        with_body: bool | None = None,
    ) -> int:
        filters = _filters(state, vendor, event_type, since, until, id_prefix, with_body)
        if filters is None:
            return 0
        where, args = filters
        with self._read("count") as conn:
            row = conn.execute(_COUNT + where, args)
            return int(row.fetchone()[0])

    def stats(self) -> dict[str, int]:
        counts = {state.value: 0 for state in DeliveryState}
        with self._read("stats") as conn:
            for state, count in conn.execute(
                "SELECT state, COUNT(*) FROM kyc_webhooks_deliveries GROUP BY state"
            ):
                counts[str(state)] = int(count)
        counts["total"] = sum(counts.values())
        return counts

    def schema_version(self) -> int:
        """The schema version recorded in the file's migration table. A store built with
        ``create=False`` creates nothing here: 0 when the file holds no store."""
        with self._read("schema_version", store_needed=False) as conn:
            return _version(conn)

    # -- retention ---------------------------------------------------------------------------

    def purge(
        self,
        *,
        older_than: TimeLimit,
        state: DeliveryState | str | Collection[DeliveryState | str] | None = None,
    ) -> int:
        limit = _ts(cutoff(older_than, self.now()))
        states = check_states(state)
        where = "received_at < ?"
        args: list[Any] = [limit]
        if states is not None:
            where += f" AND state IN ({', '.join('?' for _ in states)})"
            args.extend(s.value for s in states)
        with self._write("purge") as conn:
            # The bodies go with their records (the trigger of migration 4).
            purged: int = conn.execute(
                f"DELETE FROM kyc_webhooks_deliveries WHERE {where}",  # noqa: S608 -- constants
                args,
            ).rowcount
        self._scrub("purge")
        return purged

    def erase(self, delivery_id: str) -> bool:
        now = _ts(self.now())
        with self._write("erase") as conn:
            row = conn.execute(
                "SELECT seq FROM kyc_webhooks_deliveries WHERE id = ?", (_text(delivery_id),)
            ).fetchone()
            if row is not None:
                erased = conn.execute(
                    "DELETE FROM kyc_webhooks_bodies WHERE delivery = ?", (row[0],)
                ).rowcount
                if erased:
                    conn.execute(
                        "UPDATE kyc_webhooks_deliveries SET body_erased_at = ?, updated_at = ? "
                        "WHERE seq = ?",
                        (now, now, row[0]),
                    )
        self._scrub("erase")
        return row is not None

    def erase_bodies(self, *, older_than: TimeLimit) -> int:
        now = self.now()
        limit = _ts(cutoff(older_than, now))
        with self._write("erase_bodies") as conn:
            conn.execute(
                "UPDATE kyc_webhooks_deliveries SET body_erased_at = ?, updated_at = ? "
                "WHERE received_at < ? AND EXISTS (SELECT 1 FROM kyc_webhooks_bodies "
                "WHERE kyc_webhooks_bodies.delivery = kyc_webhooks_deliveries.seq)",
                (_ts(now), _ts(now), limit),
            )
            erased: int = conn.execute(
                "DELETE FROM kyc_webhooks_bodies WHERE delivery IN "
                "(SELECT seq FROM kyc_webhooks_deliveries WHERE received_at < ?)",
                (limit,),
            ).rowcount
        self._scrub("erase_bodies")
        return erased

    def _scrub(self, what: str) -> None:
        """After an erasure is committed: leave no copy of the erased data in any file.

        ``secure_delete`` zeroed it in the new page images, but not everywhere: a row that SQLite
        had moved to another page (a page split or merge, as rows come and go) may have left its
        old bytes in the unused space of the page it left, which ``secure_delete`` never clears
        -- a forgotten ``client_ref`` in the ledger and its index, an erased body. ``VACUUM``
        writes the kept rows into fresh pages and truncates the rest, so no such copy survives
        (its cost grows with the file: docs/delivery-guarantees.md, "Erasure"). In WAL mode the
        write-ahead log still holds the older images of the same pages (every insert and update
        of the row wrote one), and the database file holds whatever an earlier checkpoint copied
        there. A ``TRUNCATE`` checkpoint copies the rewritten pages into the database file and
        truncates the log to zero bytes. It waits (busy timeout) for other connections' read
        transactions to move to the newest snapshot; if one is still open after that, older
        copies remain, and this raises :class:`StoreError` instead of reporting a success: the
        erasure itself is committed, and calling the same method again finishes the scrub."""
        if self.journal_mode == "memory":
            return  # ":memory:" has no file
        with self._turn(f"{what} (vacuum)"):
            conn = self._connection()
            try:
                conn.execute("VACUUM")
            except Exception as exc:
                raise self._unscrubbed(what, "vacuum", exc) from exc
            if self.journal_mode != "wal":
                return  # a rollback journal is deleted at commit
            try:
                row = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except Exception as exc:
                raise self._unscrubbed(what, "checkpoint", exc) from exc
        if row is None or row[0] != 0:
            raise StoreError(
                f"SQLite store {self.path!r}: {what} is committed (reads no longer return the "
                f"erased data), but another connection kept a read transaction open for over "
                f"{self._timeout:g} s, so the write-ahead log could not be checkpointed and "
                f"truncated: older copies of the erased data may remain in the database file "
                f"and its -wal file. Call {what}() again once that reader has finished."
            )

    def _unscrubbed(self, what: str, step: str, exc: Exception) -> StoreError:
        """The error ``exc`` of the ``VACUUM`` or the checkpoint (``step``) after the committed
        erasure ``what``, saying so -- and, on a full disk, how much room the ``VACUUM`` needs:
        calling again before space is freed fails the same way."""
        error = self._error(f"{what} ({step})", exc)
        room = ""
        if disk_full(exc):
            with contextlib.suppress(OSError):
                size = sum(
                    os.path.getsize(self.path + suffix)
                    for suffix in ("", "-wal")
                    if os.path.exists(self.path + suffix)
                )
                room = (
                    f" free at least {size / 1e6:.1f} MB on its file system (VACUUM rewrites "
                    "the whole database), then"
                )
        return type(error)(
            f"{error.message}; {what} is committed (reads no longer return the erased data), but "
            f"copies of the erased data may remain in the database file and its -wal file:{room} "
            f"call {what}() again"
        )

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if os.getpid() == self._pid:
                self._conn.close()


def _version(conn: sqlite3.Connection) -> int:
    """The schema version of the file: 0 when it has no migration table (it holds no store)."""
    table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kyc_webhooks_migrations'"
    ).fetchone()
    if table is None:
        return 0
    row = conn.execute("SELECT MAX(version) FROM kyc_webhooks_migrations").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


#: SQLite's result codes of a full file system: SQLITE_FULL (13, any extended code), and
#: SQLITE_IOERR_SHMSIZE (4874) -- the ``-shm`` file of a WAL database could not be extended, which
#: is how opening the file fails when not a byte is left.
_SQLITE_FULL = 13
_SQLITE_IOERR_SHMSIZE = 4874


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (a :class:`sqlite3.Error`) says the file system is full -- an error that
    passes once space is freed (the CLI's exit 3). Python 3.10's exceptions carry no result
    code: the message decides ("database or disk is full")."""
    if not isinstance(exc, sqlite3.Error):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF == _SQLITE_FULL or code == _SQLITE_IOERR_SHMSIZE
    return "disk is full" in str(exc)


def _rollback(conn: sqlite3.Connection) -> None:
    # The transaction may be gone already: SQLite rolls back by itself on some errors.
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _filters(
    state: DeliveryState | str | Collection[DeliveryState | str] | None,
    vendor: str | None,
    event_type: str | None,
    since: datetime | None,
    until: datetime | None,
    id_prefix: str | None,
    with_body: bool | None,
) -> tuple[str, list[Any]] | None:
    """The ``WHERE`` clause (empty, or with a leading blank) and its arguments of ``deliveries``
    and ``count``; ``None`` when no record can match (an ``id_prefix`` that is not hex)."""
    states = check_states(state)
    check_with_body(with_body)
    where: list[str] = []
    args: list[Any] = []
    if states is not None:
        where.append(f"state IN ({', '.join('?' for _ in states)})")
        args.extend(s.value for s in states)
    if vendor is not None:
        where.append("vendor = ?")
        args.append(_text(vendor))
    if event_type is not None:
        where.append("event_type = ?")
        args.append(_text(event_type))
    if since is not None:
        where.append("received_at >= ?")
        args.append(_ts(check_aware(since, "since")))
    if until is not None:
        where.append("received_at < ?")
        args.append(_ts(check_aware(until, "until")))
    if not id_prefix_can_match(id_prefix):
        return None
    if id_prefix:
        # The range is what the index of id serves; substr() keeps only the ids that start with
        # the prefix (a BLOB id -- text UTF-8 cannot encode -- is in neither).
        where.append("id >= ? AND id < ? AND substr(id, 1, ?) = ?")
        args.extend([*id_range(id_prefix), len(id_prefix), id_prefix])
    if with_body is not None:
        where.append(_HAS_BODY if with_body else f"NOT {_HAS_BODY}")
    return (" WHERE " + " AND ".join(where) if where else ""), args


def _row_id(row: Sequence[Any]) -> object:
    """A selected row's record id (the first column)."""
    return row[0]
