"""PostgresStore: the store protocol on PostgreSQL (psycopg 3 + psycopg_pool), shared by the
threads, processes and hosts that reach one database (docs/scaling-out.md).

* Every state change is one SQL statement, run in autocommit: ``add`` with a claim is a single
  ``INSERT ... ON CONFLICT (key_hash) DO UPDATE ... WHERE <claimable> RETURNING`` (with a
  decision, the same statement takes the subject lease too: one commit, not two);
  ``claim_next`` picks its row with ``FOR UPDATE SKIP LOCKED``; ``complete`` / ``fail`` are one
  ``UPDATE ... WHERE claim_token = ...``; ``complete`` with a decision ticket completes the
  delivery and records its decision in one statement (data-modifying CTEs).
* Every commit waits for the WAL flush (the server's ``synchronous_commit``) except two whose
  loss leaves a safe state: ``fail`` and the release of a subject lease commit with
  ``synchronous_commit = off`` for their own transaction (:data:`_ASYNC_COMMIT`;
  docs/delivery-guarantees.md, "Durability of PostgresStore").
* The decision ledger is the ``decisions`` table, one row per ``(vendor, subject)``: the effective
  decision and the subject lease. ``begin_decision`` (and ``add`` with a decision) takes the lease
  with one ``INSERT ... ON CONFLICT (subject_hash) DO UPDATE ... WHERE <lease free or expired>
  RETURNING``, so that of processes racing for one subject exactly one wins.
* Every index key is of bounded width (a btree entry holds at most ~2.7 kB; keys, event types,
  subjects and client_refs come from bodies of any length): the unique keys are SHA-256 digests
  that the store computes from the text it stores (``key_hash`` of ``delivery_key``,
  ``subject_hash`` of ``(vendor, subject)``: :func:`_digest`), the lookup indexes take the first
  200 characters of ``vendor``, ``event_type`` and ``client_ref``, and the queries compare the
  whole value.
* Leases and received times are measured on the database's clock (``statement_timestamp()``), so
  that app hosts with skewed clocks agree. An injected ``clock`` (tests) replaces it.
* The tables live in their own PostgreSQL schema (default ``kyc_webhooks``), versioned in
  ``<schema>.migrations``; created (unless ``create=False``) or migrated on first use (or by
  :meth:`PostgresStore.migrate`) under ``pg_advisory_xact_lock``, so that processes starting
  together migrate once, without the statement timeout (a populated table takes as long as it
  takes; the others wait).
* Every psycopg error (server down, connection reset, failover, statement timeout, pool
  exhausted) becomes a :class:`~kyc_webhooks.errors.StoreError` (503). A connection lost mid-call
  is retried once on a fresh connection; the pool reconnects by itself when the server is back.
  The first run may have committed before the reply was lost: the retry of a claim, a subject
  lease, a ``complete`` or a ``fail`` first looks for the row holding the call's own token and
  answers from it, instead of claiming a second time (:meth:`PostgresStore._run`).

This module imports psycopg; ``kyc_webhooks`` imports it only when ``PostgresStore`` is first used.
"""

# ruff: noqa: S608 -- SQL is built once per store from constants and the schema name, which is
# checked against a plain-identifier pattern; every value goes through a bound parameter.

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import re
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Collection, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from typing_extensions import Self

from ..decisions import Decision, ledger_entry, ledger_subject
from ..errors import (
    ConfigurationError,
    DeliveryInProgressError,
    DeliveryNotFoundError,
    StoreError,
    StoreSchemaError,
    UsageError,
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
    cutoff,
    describe_fault,
    from_text_column,
    id_prefix_can_match,
    id_range,
    listed_records,
    loggable_id,
    new_id,
    to_text_column,
)

if TYPE_CHECKING:
    import psycopg
    from psycopg import conninfo as pg_conninfo
    from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolClosed, PoolTimeout

    Conn = psycopg.Connection[Any]
    AsyncConn = psycopg.AsyncConnection[Any]

__all__ = ["DEFAULT_SCHEMA", "SCHEMA_VERSION", "PostgresStore"]

T = TypeVar("T")
logger = logging.getLogger("kyc_webhooks")


def _load_driver() -> None:
    """Import psycopg 3 and psycopg_pool into this module on first construction of a store, so
    that ``kw.PostgresStore`` (and ``from kyc_webhooks import *``) resolve without them."""
    global psycopg, pg_conninfo, AsyncConnectionPool, ConnectionPool, PoolClosed, PoolTimeout
    try:
        import psycopg
        from psycopg import conninfo as pg_conninfo
        from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolClosed, PoolTimeout
    except ImportError as exc:
        raise ConfigurationError(
            "PostgresStore needs psycopg 3 and psycopg_pool: pip install psycopg psycopg-pool "
            "(the postgres extra)"
        ) from exc


DEFAULT_SCHEMA = "kyc_webhooks"
#: Schema names are interpolated into SQL (identifiers cannot be parameters): plain lower-case
#: identifiers only, so that no quoting question arises.
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

#: (version, description, statements). ``{s}`` is the schema. Append only; never edit a
#: released migration.
_MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "deliveries table",
        (
            """CREATE TABLE {s}.deliveries (
                id text PRIMARY KEY,
                delivery_key text NOT NULL UNIQUE,
                vendor text NOT NULL,
                event_type text NOT NULL,
                state text NOT NULL
                    CHECK (state IN ('pending', 'processing', 'done', 'failed')),
                received_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL,
                attempts integer NOT NULL DEFAULT 0,
                replays integer NOT NULL DEFAULT 0,
                body bytea,
                headers text NOT NULL DEFAULT '[]',
                lease_until timestamptz,
                claim_token text,
                claimed_from text,
                finished_at timestamptz,
                last_error_type text,
                last_error_message text,
                not_before timestamptz,
                body_erased_at timestamptz
            )""",
            # claim_next: the oldest unfinished records, without scanning the done ones.
            "CREATE INDEX deliveries_unfinished ON {s}.deliveries (received_at, id) "
            "WHERE state <> 'done'",
            # purge / erase_bodies / deliveries(since, until).
            "CREATE INDEX deliveries_received ON {s}.deliveries (received_at)",
            # deliveries(vendor=..., event_type=...).
            "CREATE INDEX deliveries_vendor ON {s}.deliveries (vendor, event_type, received_at)",
        ),
    ),
    (
        2,
        "decisions ledger",
        (
            # One row per verification (vendor, subject): its effective decision (the entry
            # columns, NULL until a first decision is recorded) and the subject lease
            # (lease_token, lease_until) that begin_decision takes and complete releases.
            """CREATE TABLE {s}.decisions (
                vendor text NOT NULL,
                subject text NOT NULL,
                status text,
                final boolean,
                delivery_id text,
                event_type text,
                received_at timestamptz,
                occurred_at timestamptz,
                client_ref text,
                reasons text,
                fetch_required boolean,
                lease_token text,
                lease_until timestamptz,
                lease_delivery text,
                PRIMARY KEY (vendor, subject)
            )""",
            # decisions_for_client: newest first by occurred_at, else received_at.
            "CREATE INDEX decisions_client ON {s}.decisions "
            "(client_ref, (COALESCE(occurred_at, received_at)) DESC) "
            "WHERE client_ref IS NOT NULL AND status IS NOT NULL",
        ),
    ),
    (
        3,
        "index keys of bounded width",
        (
            # A btree index entry holds at most ~2.7 kB, and a delivery key, an event type, a
            # subject or a client_ref comes from a body of any length: a longer one could not be
            # stored (503 forever). The unique keys become SHA-256 digests (_digest: the UTF-8
            # of the text; vendor and subject joined by a NUL byte, which no text holds), which
            # the store computes and writes; the lookup indexes take the first 200 characters
            # (at most 800 bytes each), the queries compare the whole value too.
            # Both tables locked first, to the commit: nobody writes a row without its digest
            # meanwhile, and the lock is not taken table by table while the first is rewritten
            # -- a statement of an older process holding the ledger and waiting for the
            # deliveries (its begin_decision) would then deadlock with the migration.
            "LOCK TABLE {s}.deliveries, {s}.decisions IN ACCESS EXCLUSIVE MODE",
            "ALTER TABLE {s}.deliveries ADD COLUMN key_hash bytea",
            "UPDATE {s}.deliveries SET key_hash = sha256(convert_to(delivery_key, 'UTF8'))",
            "ALTER TABLE {s}.deliveries ALTER COLUMN key_hash SET NOT NULL, "
            "DROP CONSTRAINT deliveries_delivery_key_key, "
            "ADD CONSTRAINT deliveries_key_hash UNIQUE (key_hash)",
            "DROP INDEX {s}.deliveries_vendor",
            "CREATE INDEX deliveries_vendor ON {s}.deliveries "
            "(left(vendor, 200), left(event_type, 200), received_at)",
            "ALTER TABLE {s}.decisions ADD COLUMN subject_hash bytea",
            "UPDATE {s}.decisions SET subject_hash = sha256(convert_to(vendor, 'UTF8') "
            "|| decode('00', 'hex') || convert_to(subject, 'UTF8'))",
            "ALTER TABLE {s}.decisions ALTER COLUMN subject_hash SET NOT NULL, "
            "DROP CONSTRAINT decisions_pkey, "
            "ADD CONSTRAINT decisions_subject PRIMARY KEY (subject_hash)",
            "DROP INDEX {s}.decisions_client",
            "CREATE INDEX decisions_client ON {s}.decisions "
            "(left(client_ref, 200), (COALESCE(occurred_at, received_at)) DESC) "
            "WHERE client_ref IS NOT NULL AND status IS NOT NULL",
        ),
    ),
    (
        4,
        "decision ledger: the verdict last announced",
        (
            # Besides its latest known entry, each verification keeps the verdict its decision
            # handlers were last told about: a delivery whose handlers failed records its entry
            # (an older verdict delivered before its retry is judged against it) without
            # announcing it. Until now every stored entry had been announced when it was
            # written (a same verdict later replaced it silently, with the same status and
            # finality): the existing rows start with their entry's. The ALTER locks the table
            # to the commit, so no row changes between it and the UPDATE; the advisory lock of
            # _migrate lets one process of several starting together apply it.
            "ALTER TABLE {s}.decisions ADD COLUMN announced_status text, "
            "ADD COLUMN announced_final boolean",
            "UPDATE {s}.decisions SET announced_status = status, announced_final = final "
            "WHERE status IS NOT NULL",
            # Processes of version 3 still running would go on writing rows without the
            # announced verdict: a verdict announced twice, or never. Every row this version
            # inserts names its layout, a column without a default: an insert of an older
            # version, which names none, violates NOT NULL (its store answers 503), so that
            # running both at once fails loudly (docs/delivery-guarantees.md, "Upgrades and
            # backups"). The existing rows get 4.
            "ALTER TABLE {s}.decisions ADD COLUMN layout smallint NOT NULL DEFAULT 4",
            "ALTER TABLE {s}.decisions ALTER COLUMN layout DROP DEFAULT",
        ),
    ),
)
#: The schema version this library writes.
SCHEMA_VERSION = _MIGRATIONS[-1][0]


def _digest(*texts: str) -> bytes:
    """The SHA-256 of the UTF-8 of ``texts`` -- column text, as :func:`_text` makes it: never a
    NUL, never a lone surrogate -- joined by a NUL byte, so that two different tuples never give
    the same bytes: the bounded key of the unique indexes (``key_hash``, ``subject_hash``).
    Schema version 3 computes the same from the stored columns (``sha256(convert_to(...))``);
    computed here rather than in each statement, where it cost a lookup ~9 microseconds."""
    return hashlib.sha256(b"\x00".join(text.encode("utf-8") for text in texts)).digest()


def _prefix(text: str) -> str:
    """SQL: the first 200 characters of ``text``: the bounded key of the lookup indexes (as
    schema version 3 creates them; a query compares the whole value as well)."""
    return f"left({text}, 200)"


_COLUMNS = (
    "id, delivery_key, vendor, event_type, state, received_at, updated_at, attempts, replays, "
    "body, headers, lease_until, finished_at, last_error_type, last_error_message, not_before, "
    "body_erased_at"
)
#: The current time of a statement: the injected clock's value, or the database's clock.
_NOW = "COALESCE(%(now)s::timestamptz, statement_timestamp())"
_CLAIMABLE = (
    "({t}.state IN ('pending', 'failed') OR ({t}.state = 'processing' "
    "AND ({t}.lease_until IS NULL OR {t}.lease_until <= " + _NOW + ")))"
)
_TAKE = (
    "state = CASE WHEN d.state = 'done' THEN 'done' ELSE 'processing' END, "
    "lease_until = " + _NOW + " + make_interval(secs => %(lease)s::float8), "
    "claim_token = %(token)s, attempts = d.attempts + 1, not_before = NULL, "
    "updated_at = " + _NOW + ", claimed_from = d.state"
)

#: The columns of a ledger row that make its :class:`DecisionEntry` (status NULL: none yet).
_ENTRY = (
    "vendor, subject, status, final, delivery_id, event_type, received_at, occurred_at, "
    "client_ref, reasons, fetch_required"
)
_RELEASE = "lease_token = NULL, lease_until = NULL, lease_delivery = NULL"
#: The verdict a ledger row's decision handlers were last told about (NULL: none yet), read
#: after the entry's columns by the statements that take the subject lease.
_ANNOUNCED_C = "c.announced_status, c.announced_final"
#: Take the subject lease of the row being inserted (c: the subject's existing row) when it is
#: free or expired; RETURNING gives no row while another delivery holds it.
_TAKE_SUBJECT = (
    "ON CONFLICT (subject_hash) DO UPDATE SET lease_token = EXCLUDED.lease_token, "
    "lease_until = EXCLUDED.lease_until, lease_delivery = EXCLUDED.lease_delivery "
    "WHERE c.lease_until IS NULL OR c.lease_until <= " + _NOW
)
#: What ``complete`` / ``fail`` leave in ``claim_token``: the ended claim's token behind a prefix
#: (no claim token has one: :func:`~kyc_webhooks.store._base.new_id` gives hex digits), so that
#: the claim is gone for every ``WHERE claim_token = %(token)s``, yet the retry of a ``complete``
#: or ``fail`` whose connection broke after its commit finds that its first run did it.
_DONE_MARK = "'done:' || %(token)s"
_FAILED_MARK = "'failed:' || %(token)s"
_COMPLETE = (
    "state = 'done', lease_until = NULL, claim_token = " + _DONE_MARK + ", not_before = NULL, "
    "finished_at = " + _NOW + ", updated_at = " + _NOW + ", replays = replays + %(replay)s "
    "WHERE id = %(id)s AND claim_token = %(token)s"
)
#: Whether the entry being inserted (EXCLUDED) replaces the subject's stored row (c): the order
#: of :func:`~kyc_webhooks.store._base.replaces` -- finality, then the decision time (occurred_at,
#: else received_at), then received_at, then the delivery id (code point order: COLLATE "C"
#: compares the UTF-8 bytes) -- or the row holds no decision yet (only a lease).
_REPLACES = (
    "(c.status IS NULL OR (EXCLUDED.final, COALESCE(EXCLUDED.occurred_at, EXCLUDED.received_at), "
    'EXCLUDED.received_at, EXCLUDED.delivery_id COLLATE "C") > (c.final, '
    'COALESCE(c.occurred_at, c.received_at), c.received_at, c.delivery_id COLLATE "C"))'
)
#: A condition that is always true and makes the commit of the statement's own (autocommit)
#: transaction asynchronous: ``set_config(..., true)`` sets ``synchronous_commit`` for the current
#: transaction only, and the server reads it at the commit. Used only by the writes whose loss
#: gives back a state that is safe: ``fail`` (lost, the claim stays until its lease expires and
#: the delivery is retried) and the release of a subject lease (lost, the lease expires). Claims
#: and subject leases themselves wait for the flush: PostgreSQL can crash or fail over while the
#: application hosts run on, and a claim lost that way would let a second worker run a handler
#: that is still running (docs/delivery-guarantees.md, "Durability of PostgresStore"). A
#: condition, not a separate ``SET LOCAL``: no extra round trip and no explicit transaction.
_ASYNC_COMMIT = "set_config('synchronous_commit', 'off', true) = 'off'"
#: Seconds a broken connection's backend must have run nothing before a retry looks for what
#: the first run did (:meth:`PostgresStore._await_backend`).
_QUIET = 0.2
_TICKET = "subject_hash = %(subject_hash)s AND lease_token = %(ticket)s"


# -- plans: the statements of a call, run by a sync or an async driver --------------------------
#
# A call's work is written once, as a generator -- a *plan* -- that yields each statement
# (:class:`_Query`) and receives its result (:class:`_Result`: ``fetchone``, ``fetchall``,
# ``rowcount``), or yields a pause (:class:`_Pause`). :func:`_drive` runs a plan on a sync
# connection and :func:`_drive_async` on an async one, so that ``add`` and ``add_async`` send the
# same statements and read them the same way. A store operation is itself a generator -- an *op*
# -- yielding the runs it needs (:class:`_Runs`: a plan, the plan of its retry, a name for errors)
# to :meth:`PostgresStore._sync_op` / :meth:`PostgresStore._async_op`, which run each through
# ``_run`` / ``_run_async`` (pool, schema check, one retry on a broken connection).


@dataclass(frozen=True)
class _Query:
    sql: str
    params: Any = None
    binary: bool = False


@dataclass(frozen=True)
class _Pause:
    seconds: float


class _Result(Protocol):
    """What a plan reads of a statement's result: the psycopg cursor's own methods."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class _Fetched:
    """An async cursor's result, fetched: read like a sync cursor by the plans."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return list(self._rows)


_Plan = Generator[_Query | _Pause, Any, T]


@dataclass(frozen=True)
class _Runs:
    """One ``_run`` of an op: ``work`` (a plan factory), and ``again``, the plan its retry on
    another connection runs instead (see :meth:`PostgresStore._run`)."""

    what: str
    work: Callable[[], _Plan[Any]]
    again: Callable[[], _Plan[Any]] | None = None


_Op = Generator[_Runs, Any, T]


def _drive(conn: Conn, plan: _Plan[T]) -> T:
    """Run ``plan`` on the sync connection ``conn``."""
    result: Any = None
    try:
        while True:
            step = plan.send(result)
            if isinstance(step, _Pause):
                time.sleep(step.seconds)
                result = None
            else:
                result = conn.execute(step.sql, step.params, binary=step.binary)
    except StopIteration as done:
        value: T = done.value
        return value


async def _drive_async(conn: AsyncConn, plan: _Plan[T]) -> T:
    """Run ``plan`` on the async connection ``conn``."""
    result: Any = None
    try:
        while True:
            step = plan.send(result)
            if isinstance(step, _Pause):
                await asyncio.sleep(step.seconds)
                result = None
            else:
                cursor = await conn.execute(step.sql, step.params, binary=step.binary)
                rows = await cursor.fetchall() if cursor.description is not None else []
                result = _Fetched(rows, cursor.rowcount)
    except StopIteration as done:
        value: T = done.value
        return value


def _one(sql: str, params: Any = None, *, binary: bool = False) -> _Plan[Any]:
    """A plan of one statement, answering its first row (or ``None``)."""
    result: _Result = yield _Query(sql, params, binary)
    return result.fetchone()


def _marked_or(mark: str, params: Any, work: Callable[[], _Plan[bool]]) -> _Plan[bool]:
    """The retry of a claim's end (``complete``, ``fail``): ``True`` when ``mark`` (a query for
    the first run's ``done:``/``failed:`` token) finds that run committed, else ``work`` again."""
    if (yield from _one(mark, params)) is not None:
        return True
    return (yield from work())


def _count(sql: str, params: Any = None) -> _Plan[int]:
    """A plan of one statement, answering the number of rows it changed."""
    result: _Result = yield _Query(sql, params)
    return result.rowcount


#: A ledger row ({t}) whose subject lease is live: a delivery of the verification is handled.
_LEASED = (
    "({t}.lease_token IS NOT NULL AND {t}.lease_until IS NOT NULL AND {t}.lease_until > "
    + _NOW
    + ")"
)
#: The selectors of forget_decisions: a client_ref (as decisions_client finds it), or one subject.
_FORGET_CLIENT = (
    f"{_prefix('client_ref')} = {_prefix('%(client_ref)s')} AND client_ref = %(client_ref)s "
    "AND status IS NOT NULL"
)
_FORGET_SUBJECT = "subject_hash = %(subject_hash)s"


def _statements(s: str) -> dict[str, str]:
    """Every statement of the store for schema ``s`` (a validated identifier), built once."""
    d = f"{s}.deliveries"
    ledger = f"{s}.decisions"
    cols_d = ", ".join(f"d.{col.strip()}" for col in _COLUMNS.split(","))
    entry_c = ", ".join(f"c.{col.strip()}" for col in _ENTRY.split(","))
    entry_columns = [col.strip() for col in _ENTRY.split(",")][2:]  # all but the key
    insert = (
        f"INSERT INTO {d} AS d (id, key_hash, delivery_key, vendor, event_type, state, "
        "received_at, updated_at, attempts, body, headers, lease_until, claim_token, "
        "claimed_from) "
    )
    fallback = (
        f"SELECT {_COLUMNS}, NULL::text, false FROM {d} WHERE key_hash = %(key_hash)s "
        "AND NOT EXISTS (SELECT 1 FROM ins)"
    )
    # Insert the record claimed, or claim the existing one when it is claimable.
    claim_insert = (
        insert
        + "VALUES (%(id)s, %(key_hash)s, %(key)s, %(vendor)s, %(event_type)s, 'processing', "
        + _NOW
        + ", "
        + _NOW
        + ", 1, %(body)s, %(headers)s, "
        + _NOW
        + " + make_interval(secs => %(lease)s::float8), %(token)s, 'pending') "
        "ON CONFLICT (key_hash) DO UPDATE SET "
        + _TAKE
        + " WHERE "
        + _CLAIMABLE.format(t="d")
        + f" RETURNING {cols_d}, d.claimed_from"
    )
    return {
        # add() with a claim: one statement. Insert, or claim the existing record when it is
        # claimable, else return it unchanged.
        "add_claim": (
            "WITH ins AS (" + claim_insert + ", true) SELECT * FROM ins UNION ALL " + fallback
        ),
        # add() with a claim and a decision: one statement, one commit. The claim as above, then
        # -- only if it claimed -- the subject lease exactly as begin_decision takes it (fed
        # from the claim's RETURNING, so the claim is held by construction), returning the
        # subject's row: the effective decision. No lease columns (NULL vendor): the subject
        # is busy. No row at all: the record was not claimable (the caller reads it).
        "add_claim_lease": (
            "WITH ins AS (" + claim_insert + "), "
            f"lease AS (INSERT INTO {ledger} AS c "
            "(subject_hash, vendor, subject, lease_token, lease_until, lease_delivery, layout) "
            "SELECT %(subject_hash)s, %(subject_vendor)s, %(subject)s, %(ticket)s, "
            + _NOW
            + f" + make_interval(secs => %(lease)s::float8), ins.id, {SCHEMA_VERSION} FROM ins "
            + _TAKE_SUBJECT
            + f" RETURNING {entry_c}, {_ANNOUNCED_C}) "
            "SELECT ins.*, lease.* FROM ins LEFT JOIN lease ON true"
        ),
        # add() without a claim (defer=True): insert unless the key exists.
        "add": (
            "WITH ins AS ("
            + insert
            + "VALUES (%(id)s, %(key_hash)s, %(key)s, %(vendor)s, %(event_type)s, 'pending', "
            + _NOW
            + ", "
            + _NOW
            + ", 0, %(body)s, %(headers)s, NULL, NULL, NULL) "
            f"ON CONFLICT (key_hash) DO NOTHING RETURNING {cols_d}, NULL::text, false) "
            "SELECT * FROM ins UNION ALL " + fallback
        ),
        "claim": (
            f"UPDATE {d} AS d SET "
            + _TAKE
            + " WHERE d.id = %(id)s AND ("
            + _CLAIMABLE.format(t="d")
            + " OR (%(replay)s AND d.state = 'done' AND (d.lease_until IS NULL OR d.lease_until "
            "<= " + _NOW + "))) " + f"RETURNING {cols_d}, d.claimed_from"
        ),
        "claim_next": (
            # {exhausted} and {filters} are filled per call from the constants below.
            "WITH {exhausted} next AS (SELECT id FROM "
            + d
            + " AS n WHERE n.state <> 'done' AND "
            + _CLAIMABLE.format(t="n")
            + " AND (n.state <> 'failed' OR ((n.not_before IS NULL OR n.not_before <= "
            + _NOW
            + ") AND NOT COALESCE(n.last_error_type = ANY(%(never_retried)s), false))) "
            "{filters} "
            "ORDER BY n.received_at, n.id LIMIT 1 FOR UPDATE SKIP LOCKED) "
            f"UPDATE {d} AS d SET "
            + _TAKE
            + f" FROM next WHERE d.id = next.id RETURNING {cols_d}, d.claimed_from"
        ),
        "exhausted": (
            f"exhausted AS (UPDATE {d} SET state = 'failed', lease_until = NULL, "
            "claim_token = NULL, not_before = NULL, updated_at = " + _NOW + ", "
            "last_error_type = %(lease_expired)s, last_error_message = %(lease_expired_msg)s "
            "WHERE state = 'processing' AND attempts >= %(max_attempts)s "
            "AND (lease_until IS NULL OR lease_until <= " + _NOW + ") {vendor_filter}), "
        ),
        "complete": f"UPDATE {d} SET " + _COMPLETE,
        # claim_next took a row that does not decode: set aside (failed, MalformedRecord), its
        # claim released; the other columns stay as they are (get() still names the fault).
        "set_aside": (
            f"UPDATE {d} SET state = 'failed', lease_until = NULL, claim_token = NULL, "
            "updated_at = " + _NOW + ", last_error_type = %(malformed)s, "
            "last_error_message = %(message)s WHERE id = %(id)s AND claim_token = %(token)s"
        ),
        # The stored state decides, not the worker's memory: a replay of a done record left it
        # done, and it stays done. uncount 1 (count_attempt=False): the claim's attempt is given
        # back, nothing ran under it.
        "fail": (
            f"UPDATE {d} SET state = CASE WHEN state = 'done' THEN 'done' ELSE 'failed' END, "
            "attempts = GREATEST(attempts - %(uncount)s, 0), lease_until = NULL, "
            "claim_token = " + _FAILED_MARK + ", "
            "not_before = CASE WHEN state = 'done' THEN NULL ELSE %(retry_at)s::timestamptz END, "
            "updated_at = " + _NOW + ", last_error_type = %(error_type)s, "
            "last_error_message = %(error_message)s WHERE id = %(id)s AND claim_token = %(token)s "
            "AND " + _ASYNC_COMMIT
        ),
        # -- a retry's look for its own first run: _run retries a call whose connection broke,
        # and the first run may have committed before the reply was lost. Its tokens are made
        # before the first run, so the row holding one is what that run did.
        # add() with a claim: the record this call claimed (columns as add_claim's).
        "own_add": (
            f"SELECT {cols_d}, d.claimed_from, true FROM {d} AS d "
            "WHERE d.key_hash = %(key_hash)s AND d.claim_token = %(token)s"
        ),
        # add() with a claim and a decision: the claim and, if it took it, the subject lease
        # (columns as add_claim_lease's: no lease, the subject was busy).
        "own_add_lease": (
            f"SELECT {cols_d}, d.claimed_from, {entry_c}, {_ANNOUNCED_C} FROM {d} AS d "
            f"LEFT JOIN {ledger} AS c ON c.subject_hash = %(subject_hash)s "
            "AND c.lease_token = %(ticket)s "
            "WHERE d.key_hash = %(key_hash)s AND d.claim_token = %(token)s"
        ),
        "own_claim": (
            f"SELECT {_COLUMNS}, claimed_from FROM {d} WHERE id = %(id)s "
            "AND claim_token = %(token)s"
        ),
        # claim_next does not know the id: the unfinished records (deliveries_unfinished).
        "own_claim_next": (
            f"SELECT {_COLUMNS}, claimed_from FROM {d} WHERE state <> 'done' "
            "AND claim_token = %(token)s"
        ),
        "own_complete": f"SELECT 1 FROM {d} WHERE id = %(id)s AND claim_token = " + _DONE_MARK,
        "own_fail": f"SELECT 1 FROM {d} WHERE id = %(id)s AND claim_token = " + _FAILED_MARK,
        "own_lease": (
            f"SELECT {entry_c}, {_ANNOUNCED_C} FROM {ledger} AS c "
            "WHERE subject_hash = %(subject_hash)s AND lease_token = %(ticket)s"
        ),
        # The backend that ran a broken connection's statement, if it is still there.
        "backend_state": (
            "SELECT state FROM pg_stat_activity WHERE pid = %(pid)s AND pid <> pg_backend_pid()"
        ),
        "exists": f"SELECT 1 FROM {d} WHERE id = %(id)s",
        "by_id": f"SELECT {_COLUMNS} FROM {d} WHERE id = %(id)s",
        "by_key": f"SELECT {_COLUMNS} FROM {d} WHERE key_hash = %(key_hash)s",
        "select": f"SELECT {_COLUMNS} FROM {d}",
        "stats": f"SELECT state, count(*) FROM {d} GROUP BY state",
        "count": f"SELECT count(*) FROM {d}",
        "purge": f"DELETE FROM {d} WHERE received_at < %(limit)s",
        # Erasing overwrites the column with NULL; the old row version keeps the bytes until
        # VACUUM reclaims it (docs/scaling-out.md, "Erasure on PostgreSQL").
        "erase": (
            f"WITH e AS (UPDATE {d} SET body = NULL, body_erased_at = " + _NOW + ", "
            "updated_at = " + _NOW + " WHERE id = %(id)s AND body IS NOT NULL RETURNING 1) "
            f"SELECT (SELECT count(*) FROM e), EXISTS (SELECT 1 FROM {d} WHERE id = %(id)s)"
        ),
        "erase_bodies": (
            f"UPDATE {d} SET body = NULL, body_erased_at = " + _NOW + ", updated_at = " + _NOW + " "
            "WHERE received_at < %(limit)s AND body IS NOT NULL"
        ),
        "vacuum": f"VACUUM {d}",
        # -- the decision ledger: one row per (vendor, subject) ------------------------------
        # Take the subject lease: insert the row, or take it over when its lease is free or
        # expired; only while the delivery's claim is held. Returns the effective decision.
        "begin_decision": (
            f"INSERT INTO {ledger} AS c "
            "(subject_hash, vendor, subject, lease_token, lease_until, lease_delivery, layout) "
            "SELECT %(subject_hash)s, %(vendor)s, %(subject)s, %(ticket)s, "
            + _NOW
            + f" + make_interval(secs => %(lease)s::float8), %(delivery)s, {SCHEMA_VERSION} "
            f"WHERE EXISTS (SELECT 1 FROM {d} WHERE id = %(delivery)s "
            "AND claim_token = %(claim_token)s) "
            + _TAKE_SUBJECT
            + f" RETURNING {entry_c}, {_ANNOUNCED_C}"
        ),
        # complete(claim, decision=ticket), one statement (one implicit transaction): the
        # completion (which locks the delivery's row, so that its claim cannot change hands), then
        # -- only if it completed -- the entry, judged by ON CONFLICT against the subject's row as
        # it is now (locked): written when it replaces the stored one (_REPLACES), and the subject
        # lease released if the ticket still holds it. Every SET expression sees the old row.
        # The judgement is evaluated once per row (the sub-select), which also keeps the statement
        # under psycopg's 4 KB limit for caching a converted query (it was re-parsed per call).
        # The announced verdict (announced_status, announced_final: what the decision handlers
        # were last told) becomes the entry's when its handlers ran (%(changes)s) and it is the
        # latest known entry: written now (j.r), or the same delivery as the stored entry (the
        # retry of an attempt whose handlers failed: "decision_fail" stored it).
        "complete_decision": (
            f"WITH done AS (UPDATE {d} SET " + _COMPLETE + " RETURNING 1), "
            f"entry AS (INSERT INTO {ledger} AS c (subject_hash, {_ENTRY}, "
            "announced_status, announced_final, layout) "
            "SELECT %(subject_hash)s::bytea, %(vendor)s::text, %(subject)s::text, "
            "%(status)s::text, %(final)s::boolean, "
            "%(delivery_id)s::text, %(event_type)s::text, %(received_at)s::timestamptz, "
            "%(occurred_at)s::timestamptz, %(client_ref)s::text, %(reasons)s::text, "
            "%(fetch_required)s::boolean, "
            "CASE WHEN %(changes)s THEN %(status)s::text END, "
            "CASE WHEN %(changes)s THEN %(final)s::boolean END, "
            f"{SCHEMA_VERSION} FROM done "
            "ON CONFLICT (subject_hash) DO UPDATE SET ("
            + ", ".join([*entry_columns, "announced_status", "announced_final"])
            + ") = (SELECT "
            + ", ".join(
                [
                    *(
                        f"CASE WHEN j.r THEN EXCLUDED.{col} ELSE c.{col} END"
                        for col in entry_columns
                    ),
                    *(
                        f"CASE WHEN j.a THEN EXCLUDED.{col} ELSE c.announced_{col} END"
                        for col in ("status", "final")
                    ),
                ]
            )
            + " FROM (SELECT r, %(changes)s AND (r OR c.delivery_id = EXCLUDED.delivery_id) "
            + f"AS a FROM (SELECT {_REPLACES} AS r) AS i) AS j), "
            + ", ".join(
                f"{col} = CASE WHEN c.lease_token = %(ticket)s THEN NULL ELSE c.{col} END"
                for col in ("lease_token", "lease_until", "lease_delivery")
            )
            + f" WHERE {_REPLACES} OR c.lease_token = %(ticket)s "
            "OR (%(changes)s AND c.delivery_id = EXCLUDED.delivery_id)) "
            "SELECT count(*) FROM done"
        ),
        # abort_decision(failed=True), one statement: the entry of a delivery whose handlers
        # failed becomes the latest known entry when it replaces the stored one -- the announced
        # verdict unchanged -- and the subject lease is released; only while the ticket holds
        # the lease (a verification forgotten since its lease expired is not written again).
        "decision_fail": (
            f"UPDATE {ledger} AS c SET ("
            + ", ".join(entry_columns)
            + ") = (SELECT "
            + ", ".join(
                f"CASE WHEN j.r THEN EXCLUDED.{col} ELSE c.{col} END" for col in entry_columns
            )
            + f" FROM (SELECT {_REPLACES} AS r) AS j), "
            + _RELEASE
            + " FROM (SELECT %(status)s::text AS status, %(final)s::boolean AS final, "
            "%(delivery_id)s::text AS delivery_id, %(event_type)s::text AS event_type, "
            "%(received_at)s::timestamptz AS received_at, "
            "%(occurred_at)s::timestamptz AS occurred_at, %(client_ref)s::text AS client_ref, "
            "%(reasons)s::text AS reasons, %(fetch_required)s::boolean AS fetch_required) "
            "AS EXCLUDED WHERE c." + _TICKET
        ),
        # A row that never held a decision (only a lease) is removed rather than kept empty.
        "decision_abort": (
            f"WITH gone AS (DELETE FROM {ledger} WHERE " + _TICKET + " AND status IS NULL "
            "AND " + _ASYNC_COMMIT + ") "
            f"UPDATE {ledger} SET " + _RELEASE + " WHERE " + _TICKET + " AND status IS NOT NULL "
            "AND " + _ASYNC_COMMIT
        ),
        "decision_get": (
            f"SELECT {_ENTRY} FROM {ledger} WHERE subject_hash = %(subject_hash)s "
            "AND status IS NOT NULL"
        ),
        "decisions_client": (
            f"SELECT {_ENTRY} FROM {ledger} WHERE {_prefix('client_ref')} = "
            f"{_prefix('%(client_ref)s')} AND client_ref = %(client_ref)s "
            "AND status IS NOT NULL ORDER BY COALESCE(occurred_at, received_at) DESC, "
            'received_at DESC, delivery_id COLLATE "C" DESC LIMIT %(limit)s'
        ),
        # forget_decisions: all or nothing -- the selected rows locked, and deleted only when
        # none holds a live subject lease; returns how many do, and the deleted entries'
        # deliveries. {where} is the selector (_FORGET_CLIENT or _FORGET_SUBJECT).
        "forget_decisions": (
            f"WITH sel AS (SELECT subject_hash, lease_token, lease_until FROM {ledger} "
            "WHERE {where} FOR UPDATE), "
            "busy AS (SELECT count(*) AS n FROM sel WHERE " + _LEASED.format(t="sel") + "), "
            f"gone AS (DELETE FROM {ledger} AS c USING sel "
            "WHERE c.subject_hash = sel.subject_hash AND (SELECT n FROM busy) = 0 "
            "RETURNING c.delivery_id) "
            "SELECT (SELECT n FROM busy), ARRAY(SELECT delivery_id FROM gone "
            "WHERE delivery_id IS NOT NULL)"
        ),
        # purge_decisions: entries of deliveries received before the cut-off, and rows holding
        # only a lease that ended before it; never a row whose lease is live. Counts entries.
        "purge_decisions": (
            f"WITH gone AS (DELETE FROM {ledger} AS c WHERE NOT "
            + _LEASED.format(t="c")
            + " AND ((c.status IS NOT NULL AND c.received_at < %(limit)s) OR (c.status IS NULL "
            "AND (c.lease_until IS NULL OR c.lease_until < %(limit)s))) RETURNING c.status) "
            "SELECT count(status) FROM gone"
        ),
        "vacuum_ledger": f"VACUUM {ledger}",
        # forget_decisions: the ledger and the deliveries, whose erased bodies a forget() that
        # failed at its VACUUM left in old row versions (its retry erases nothing: review R55).
        "vacuum_forget": f"VACUUM {d}, {ledger}",
        "version": f"SELECT max(version) FROM {s}.migrations",
    }


def _headers_json(headers: tuple[tuple[str, str], ...]) -> str:
    # Each name and value through to_text_column: json.loads would join two separately sent
    # surrogate halves into one character, so they are encoded before JSON sees them.
    return json.dumps([[to_text_column(name), to_text_column(value)] for name, value in headers])


#: Every store of this process. After ``fork()`` the child replaces their thread locks: a lock
#: held by another thread of the parent at fork time would stay locked forever in the child.
_STORES: weakref.WeakSet[PostgresStore] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for store in list(_STORES):
        store._lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _text(value: str) -> str:
    """``value`` as text PostgreSQL accepts (NUL and lone surrogates encoded reversibly)."""
    return to_text_column(value)


def _subject_params(vendor: str, subject: str) -> dict[str, Any]:
    """The parameters naming a ledger row: its vendor and subject, and their digest (the key)."""
    vendor_text, subject_text = _text(vendor), _text(subject)
    return {
        "vendor": vendor_text,
        "subject": subject_text,
        "subject_hash": _digest(vendor_text, subject_text),
    }


def _entry_params(entry: DecisionEntry) -> dict[str, Any]:
    """A :class:`DecisionEntry` as the ledger's statement parameters (every text through
    :func:`to_text_column`, like the deliveries' columns)."""
    try:
        return {
            **_subject_params(entry.vendor, entry.subject),
            # str.__str__: the plain value of a str enum (DecisionStatus) as well as of a str.
            "status": _text(str.__str__(entry.status)),
            "final": bool(entry.final),
            "delivery_id": _text(entry.delivery_id),
            "event_type": _text(entry.event_type),
            "received_at": check_aware(entry.received_at, "DecisionEntry.received_at"),
            "occurred_at": None
            if entry.occurred_at is None
            else check_aware(entry.occurred_at, "DecisionEntry.occurred_at"),
            "client_ref": None if entry.client_ref is None else _text(entry.client_ref),
            "reasons": json.dumps([_text(reason) for reason in entry.reasons]),
            "fetch_required": bool(entry.fetch_required),
        }
    except (TypeError, AttributeError) as exc:
        raise UsageError(
            "a DecisionEntry needs str vendor, subject, status, delivery_id, event_type, "
            "client_ref (or None) and reasons"
        ) from exc


def _announced(status: object, final: object) -> tuple[str, bool] | None:
    """The verdict a ledger row's decision handlers were last told about (``None``: none yet)."""
    if status is None:
        return None
    if not isinstance(status, str) or not isinstance(final, bool):
        raise StoreError("PostgreSQL store: a stored decision is malformed (announced verdict)")
    return from_text_column(status), final


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(timezone.utc)


def _decode(row: Sequence[Any]) -> DeliveryRecord:
    """A deliveries row as a record; :class:`MalformedRow` naming the column that does not decode
    (the column types hold the rest: a time is a time, a count a count)."""
    column = "headers"
    try:
        pairs = json.loads(row[10])
        if not isinstance(pairs, list):
            raise TypeError("headers that are not a JSON list")
        headers = []
        for pair in pairs:
            is_pair = isinstance(pair, list) and len(pair) == 2
            if not (is_pair and all(type(x) is str for x in pair)):
                raise TypeError("a header that is not a [name, value] pair of strings")
            headers.append((from_text_column(pair[0]), from_text_column(pair[1])))
        column = "state"
        state = DeliveryState(row[4])
        texts: dict[str, Any] = {}
        for column, index in _TEXT_COLUMNS:
            texts[column] = None if row[index] is None else from_text_column(row[index])
    except (ValueError, TypeError, RecursionError) as exc:
        if isinstance(exc, ValueError) and column not in ("headers", "state"):
            reason = "encoded text that does not decode"  # to_text_column's marker, then no hex
        else:
            reason = describe_fault(column, exc)
        raise MalformedRow(column, reason) from None
    return DeliveryRecord(
        id=row[0],
        delivery_key=texts["delivery_key"],
        vendor=texts["vendor"],
        event_type=texts["event_type"],
        state=state,
        received_at=row[5].astimezone(timezone.utc),
        updated_at=row[6].astimezone(timezone.utc),
        attempts=row[7],
        replays=row[8],
        body=bytes(row[9]) if row[9] is not None else None,
        headers=tuple(headers),
        lease_until=_utc(row[11]),
        finished_at=_utc(row[12]),
        last_error_type=texts["last_error_type"],
        last_error_message=texts["last_error_message"],
        not_before=_utc(row[15]),
        body_erased_at=_utc(row[16]),
    )


#: The text columns of a deliveries row read through from_text_column: (name, index).
_TEXT_COLUMNS = (
    ("delivery_key", 1),
    ("vendor", 2),
    ("event_type", 3),
    ("last_error_type", 13),
    ("last_error_message", 14),
)


_LOCK_NOT_AVAILABLE = "55P03"
_QUERY_CANCELED = "57014"
#: What a migration's failure means, by SQLSTATE: said in the error (it was "add failed:
#: InsufficientPrivilege, SQLSTATE 42501", with no word of a migration) (review R38). Only a
#: lock passes by itself (a StoreError); the others are StoreSchemaError.
_MIGRATION_HINTS = {
    "42501": "the role may not create or alter the store's tables: run `kyc-webhooks migrate` "
    "as the schema's owner once, then the application's role needs only SELECT, INSERT, "
    "UPDATE, DELETE",
    _LOCK_NOT_AVAILABLE: "another session holds a lock on the store's tables (a long "
    "transaction, pg_dump) past the store's timeout: try again once it ends",
    _QUERY_CANCELED: "a statement waited past the store's timeout, most likely for a lock another "
    "session holds on the store's tables (a long transaction, pg_dump): try again once it ends",
    "42P07": "the schema holds a table of the same name that is not the store's: give the store "
    "a schema of its own (schema=, --schema)",
    "42703": "the schema's tables are not the store's: give the store a schema of its own "
    "(schema=, --schema)",
}

#: Linux's largest ``TCP_KEEPIDLE`` (seconds).
_MAX_KEEPALIVE_IDLE = 32767


class PostgresStore:
    """A delivery store in PostgreSQL.

    ``target``: a connection string (``"postgresql://app@db/app"``; the store then owns a
    :class:`psycopg_pool.ConnectionPool` of up to ``max_size`` connections, in autocommit, with
    ``statement_timeout`` = ``timeout``) or a ``psycopg_pool.ConnectionPool`` you own (the store
    never closes it; give its connections ``autocommit=True`` to save a round trip per call).

    ``schema``: the PostgreSQL schema holding the tables (created if missing).
    ``create``: create the schema and its tables on first use when they are missing (default).
    With ``False`` the store only opens an existing one -- for a worker that must not make an
    empty store in a mistyped schema: a call on a schema without the store's tables raises
    ``StoreError`` and :meth:`schema_version` returns 0; nor is an existing schema of an older
    version migrated (every call raises ``StoreError``: a read -- ``kyc-webhooks inbox`` -- never
    changes the layout under processes of that version); :meth:`migrate` creates and migrates.
    ``timeout``: seconds to wait for a connection and for one statement; past it, ``StoreError``.
    ``clock``: the current aware time, for tests; by default the database's clock.
    ``vacuum_on_erase``: run ``VACUUM`` on the table after ``erase``/``erase_bodies``/``purge``
    removed data (on the ledger's table after ``forget_decisions``/``purge_decisions``), so that
    the dead row versions holding the bodies are reclaimed at once (needs table ownership;
    otherwise autovacuum does it later).
    ``pgbouncer``: the target is a PgBouncer (or another pooler that hands each transaction to
    whichever server connection is free). The store then sends no startup ``options`` (PgBouncer
    refuses them) and prepares no statements (a statement prepared on one server connection is
    missing on the next); the statement and lock timeouts are then the role's own, and a warning
    at first use says when the role has none (docs/scaling-out.md, "Behind PgBouncer").

    Construction neither fails nor waits on a server that is down (the pool connects in the
    background); the schema is created or migrated on first use, and a server that is down then
    gives ``StoreError`` until it is back.
    """

    blocking = True

    def __init__(
        self,
        target: str | ConnectionPool[Any],
        *,
        schema: str = DEFAULT_SCHEMA,
        timeout: float = 5.0,
        max_size: int = 10,
        clock: Clock | None = None,
        vacuum_on_erase: bool = True,
        create: bool = True,
        pgbouncer: bool = False,
    ) -> None:
        _load_driver()
        if not isinstance(schema, str) or not _SCHEMA_NAME.fullmatch(schema):
            raise UsageError(
                "schema must be a lower-case PostgreSQL identifier ([a-z_][a-z0-9_]*, "
                "at most 63 characters)"
            )
        timeout = check_timeout(timeout, zero=False)
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise UsageError("max_size must be a positive int")
        self.schema = schema
        self._timeout = float(timeout)
        self._max_size = max_size
        check_clock(clock)
        self._clock = clock
        self._vacuum_on_erase = bool(vacuum_on_erase)
        self._create = bool(create)
        self.pgbouncer = bool(pgbouncer)
        # Why the store's own pool last failed to open a connection (None after a success): a
        # pool that times out says only that it had none to give.
        self._connect_failure: str | None = None
        self._sql = _statements(schema)
        self._lock = threading.Lock()
        self._ready = False
        self._closed = False
        self._pid = os.getpid()
        # Pools inherited through fork(): never used, closed or collected by the child (closing
        # would end the parent's sessions on the shared sockets).
        self._inherited: list[ConnectionPool[Any]] = []
        # The async pool of open_async(), and the event loop it belongs to.
        self._apool: AsyncConnectionPool[Any] | None = None
        self._apool_loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Future[None] | None = None  # an open_async() connecting
        if isinstance(target, ConnectionPool):
            self._conninfo: str | None = None
            self._owns_pool = False
            self._pool: ConnectionPool[Any] = target
            info = target.conninfo
            self._where = _describe(info) if isinstance(info, str) else "a connection pool"
        elif isinstance(target, str):
            try:
                pg_conninfo.conninfo_to_dict(target)
            except psycopg.ProgrammingError as exc:
                raise UsageError("target is not a valid PostgreSQL connection string") from exc
            if _misread_userinfo(target):
                raise UsageError(
                    "target is a URL whose user info libpq would not read as written: an "
                    "unencoded '@' or '/' in the password (or the database name); percent-encode "
                    "them (%40, %2F)"
                )
            self._conninfo = target
            self._owns_pool = True
            self._where = _describe(target)
            self._pool = self._new_pool()
        else:
            raise UsageError("target must be a connection string or a psycopg_pool.ConnectionPool")
        _STORES.add(self)

    def __repr__(self) -> str:
        return f"PostgresStore({self._where}, schema={self.schema!r})"

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- connections -------------------------------------------------------------------------

    def _new_pool(self) -> ConnectionPool[Any]:
        assert self._conninfo is not None
        return ConnectionPool(
            self._conninfo,
            name="kyc_webhooks",
            open=True,
            connection_class=_noting_connection(self._noted),
            **self._pool_options(),
        )

    def _noted(self, failure: BaseException | None) -> None:
        """What the connections of the store's own pools report: why one could not be opened
        (quoted by the StoreError of a pool that then had none to give), or None on success."""
        if failure is None:
            self._connect_failure = None
            return
        lines = str(failure).splitlines()
        # libpq's message names the server and what it answered, never a password.
        self._connect_failure = f"{type(failure).__name__}: {lines[0] if lines else ''}".strip()

    def _timeout_ms(self) -> int:
        """The store's ``timeout`` as the server's statement and lock timeouts, in ms (0 ms would
        be no timeout at all)."""
        return max(1, round(self._timeout * 1000))

    def _pool_options(self) -> dict[str, Any]:
        """What the store's pools (the sync one, and the async one of :meth:`open_async`) are
        built with, and every connection of theirs is opened with."""
        ms = self._timeout_ms()
        # Linux refuses a TCP keepalive idle time over 32,767 s, and every connection with it.
        idle = min(max(1, math.ceil(self._timeout)), _MAX_KEEPALIVE_IDLE)
        # libpq 12 and later (psycopg's binary package bundles a recent one): an older one would
        # refuse the option, and every connection with it.
        user_timeout = (
            {"tcp_user_timeout": (idle + 3) * 1000} if psycopg.pq.version() >= 120000 else {}
        )
        if self.pgbouncer:
            # PgBouncer refuses the startup parameter "options" (FATAL: unsupported startup
            # parameter), and in transaction pooling runs each transaction on whichever server
            # connection is free, where a statement psycopg prepared on another one is missing
            # (SQLSTATE 26000): neither, then. Times come back as UTC whatever the session's
            # zone (_record); the timeouts are the role's (_check_role_timeouts).
            # https://www.pgbouncer.org/features.html
            session: dict[str, Any] = {"prepare_threshold": None}
        else:
            session = {"options": f"-c statement_timeout={ms} -c lock_timeout={ms} -c timezone=UTC"}
        return {
            "min_size": 1,
            "max_size": self._max_size,
            "kwargs": {
                "autocommit": True,
                # The session's name in pg_stat_activity and the server's logs, unless the
                # target names one (application_name=..., or PGAPPNAME): libpq's fallback.
                # https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNECT-FALLBACK-APPLICATION-NAME
                "fallback_application_name": "kyc_webhooks",
                "connect_timeout": max(2, int(self._timeout + 0.999)),
                **session,
                # The timeouts above are the server's: a server that vanishes without closing
                # the connection (a frozen VM, a network partition, a failover whose old primary
                # just disappears) would leave a call waiting for the kernel's retransmissions,
                # ~15 minutes -- a webhook request, a worker that SIGTERM cannot stop. TCP
                # keepalives probe a connection idle for `timeout` seconds, three probes a
                # second apart, and data unacknowledged that long closes it: a StoreError (503,
                # then the pool reconnects) within about timeout + 3 s (docs/scaling-out.md).
                "keepalives": 1,
                "keepalives_idle": idle,
                "keepalives_interval": 1,
                "keepalives_count": 3,
                **user_timeout,
            },
            "timeout": self._timeout,
            "reconnect_timeout": max(60.0, self._timeout * 12),
        }

    def _current_pool(self) -> ConnectionPool[Any]:
        if self._closed:
            raise StoreError(f"PostgreSQL store ({self._where}) is closed")
        if os.getpid() != self._pid:
            with self._lock:
                if os.getpid() != self._pid:
                    if not self._owns_pool:
                        raise StoreError(
                            f"PostgreSQL store ({self._where}): a connection pool cannot be "
                            "shared across fork(); build the store in each process"
                        )
                    self._inherited.append(self._pool)
                    self._pool = self._new_pool()
                    self._pid = os.getpid()
        return self._pool

    def _error(self, what: str, exc: psycopg.Error) -> StoreError:
        """A StoreError naming the operation, the server (never a password) and the failure.
        Only connection-level messages are quoted: a statement error's text could quote a value."""
        if isinstance(exc, PoolTimeout):
            detail = f"no connection within {self._timeout:g} s"
            failure = self._connect_failure
            if failure is None:
                detail += " (server down or pool exhausted)"
            else:
                detail += f"; the last attempt failed: {failure}"
                if "unsupported startup parameter" in failure and not self.pgbouncer:
                    detail += " (PgBouncer? pgbouncer=True, or --pgbouncer on the command line)"
        elif isinstance(exc, psycopg.errors.QueryCanceled):
            limit = "the role's" if self.pgbouncer else f"{self._timeout:g} s"
            detail = f"statement timeout ({limit}) or cancelled"
        elif isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)) and not (
            exc.sqlstate
        ):
            lines = str(exc).splitlines()
            primary = exc.diag.message_primary or (lines[0] if lines else "")
            detail = f"connection failed ({type(exc).__name__}: {primary})"
            if self.pgbouncer and "statement pooling" in primary:
                # psycopg 3.1 to 3.2.1 (at least) reports PgBouncer's refusal without its SQLSTATE.
                detail += _STATEMENT_POOLING
        else:
            detail = f"{type(exc).__name__}, SQLSTATE {exc.sqlstate or '-'}"
            if self.pgbouncer and exc.sqlstate == _PROTOCOL_VIOLATION:
                # What PgBouncer answers a transaction block in statement pooling.
                detail += _STATEMENT_POOLING
        return StoreError(f"PostgreSQL store ({self._where}): {what} failed: {detail}")

    def _run(
        self,
        what: str,
        work: Callable[[Conn], T],
        again: Callable[[Conn], T] | None = None,
        *,
        ensure: bool = True,
    ) -> T:
        """Run ``work`` on a pooled connection, after making sure of the schema on first use
        (unless ``ensure`` is false); psycopg errors become StoreError. A connection
        that broke under us (server restarted, connection reset) or that :func:`_pooled` closed
        (the server turned read-only) is retried once on another connection, after the pool
        dropped its dead idle ones; while the retry's connections are read-only too (the pool
        held several to the old primary), it goes on with another, up to the pool's size.

        The first run may have committed before the connection broke (only the reply was lost).
        A call for which running its statement twice is not the same as once -- it claims, takes
        a subject lease, or ends a claim -- passes ``again``, which the retry runs instead of
        ``work``: it first looks for the row already holding the call's own token (made before
        the first run: the claim token, the subject lease ticket, the ``done:`` / ``failed:``
        mark of :data:`_DONE_MARK`) and answers from it as the first run would have; only when
        there is none does it run the statement anew. Before that look, the retry waits until
        the old connection's backend no longer runs the statement (it may still be waiting for
        a lock, then commit), at most the statement timeout. The other statements are the same
        run twice: reads, releases (``abort_decision``), ``erase`` (``purge`` and
        ``erase_bodies`` then count only what the retry removed)."""
        pool = self._current_pool()
        pid = 0  # the backend of the first run's connection
        since: list[float] = []  # when a connection of this call first answered 25006
        for attempt in range(1 + max(1, pool.max_size)):
            conn: Conn | None = None
            try:
                with _pooled(pool) as conn:
                    if self.pgbouncer:  # a pool passed in: see _pool_options
                        conn.prepare_threshold = None
                    if ensure and not self._ready:
                        self._ensure_schema(conn, create=self._create)
                    if attempt == 0 or again is None:
                        pid = conn.info.backend_pid
                        return work(conn)
                    _drive(conn, self._await_backend(pid))
                    return again(conn)
            except PoolTimeout as exc:
                raise self._error(what, exc) from exc
            except psycopg.Error as exc:
                if _read_only_again(exc, conn, attempt, pool.max_size, since):
                    pid = 0  # 25006: nothing committed, no backend to wait for
                    continue
                if attempt == 0 and conn is not None and (conn.broken or conn.closed):
                    _check_pool(pool)
                    continue
                raise self._error(what, exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _sync_op(self, op: _Op[T]) -> T:
        """Run ``op`` (see "plans" above): each of its runs through :meth:`_run`."""
        value: Any = None
        error: Exception | None = None
        try:
            while True:
                runs = op.send(value) if error is None else op.throw(error)
                value, error = None, None
                try:
                    value = self._run_plans(runs)
                except Exception as exc:  # the op's to handle, or to raise
                    error = exc
        except StopIteration as done:
            result: T = done.value
            return result

    def _retry_sync(self, runs: _Runs, pid: int) -> Any:
        """The second attempt of a run whose first connection (backend ``pid``) broke, on the
        store's own pool: as :meth:`_run`'s retry -- wait for the old backend, then ``again``
        (or the same work again when the run has no ``again``)."""
        work, again = runs.work, runs.again
        if again is None:
            return self._run(runs.what, lambda conn: _drive(conn, work()))

        def retry(conn: Conn) -> Any:
            _drive(conn, self._await_backend(pid))
            return _drive(conn, again())

        # A break of this retry's own connection is retried as any: ``again`` after its backend.
        return self._run(runs.what, retry, lambda conn: _drive(conn, again()))

    def _run_plans(self, runs: _Runs) -> Any:
        work, again = runs.work, runs.again
        return self._run(
            runs.what,
            lambda conn: _drive(conn, work()),
            None if again is None else (lambda conn: _drive(conn, again())),
        )

    async def _async_op(self, op: _Op[T]) -> T:
        """Run ``op`` on this event loop's async pool (:meth:`open_async`): each of its runs
        through :meth:`_run_async`."""
        value: Any = None
        error: Exception | None = None
        try:
            while True:
                runs = op.send(value) if error is None else op.throw(error)
                value, error = None, None
                try:
                    value = await self._run_async(runs)
                except Exception as exc:  # the op's to handle, or to raise
                    error = exc
        except StopIteration as done:
            result: T = done.value
            return result

    async def _run_async(self, runs: _Runs) -> Any:
        """:meth:`_run` on the async pool: the same retry of a broken connection, with the
        same ``again``. When :meth:`close_async` closed the pool since the caller chose it, the
        run goes through the store's own pool in a worker thread, as without :meth:`open_async`:
        a completion failed there ("async pool is not open", ``PoolClosed``), the record stayed
        ``processing``, and the handlers ran again after the lease (review R47)."""
        if self._closed:
            raise StoreError(f"PostgreSQL store ({self._where}) is closed")
        pool = self._apool if self.native_async() else None
        if pool is None:
            return await asyncio.to_thread(self._run_plans, runs)
        if not self._ready:  # once per store: the schema check or migration, as _run does it
            await asyncio.to_thread(self._run, "schema", lambda conn: None)
        pid = 0
        since: list[float] = []
        for attempt in range(1 + max(1, pool.max_size)):
            conn: AsyncConn | None = None
            try:
                async with _apooled(pool) as conn:
                    if attempt == 0 or runs.again is None:
                        pid = conn.info.backend_pid
                        return await _drive_async(conn, runs.work())
                    await _drive_async(conn, self._await_backend(pid))
                    return await _drive_async(conn, runs.again())
            except PoolTimeout as exc:
                raise self._error(runs.what, exc) from exc
            except psycopg.Error as exc:
                if isinstance(exc, PoolClosed) and conn is None:
                    # Closed while this attempt waited for a connection: nothing was sent by
                    # it. A first attempt runs as a whole on the store's own pool; a second one
                    # (the first one's connection broke) as that retry, which first looks for
                    # what the first one committed (review R48).
                    if attempt == 0:
                        return await asyncio.to_thread(self._run_plans, runs)
                    return await asyncio.to_thread(self._retry_sync, runs, pid)
                if _read_only_again(exc, conn, attempt, pool.max_size, since):
                    pid = 0  # 25006: nothing committed, no backend to wait for
                    continue
                if attempt == 0 and conn is not None and (conn.broken or conn.closed):
                    with contextlib.suppress(psycopg.Error):
                        await pool.check()
                    continue
                raise self._error(runs.what, exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    # -- the async pool: native async calls --------------------------------------------------

    async def open_async(self) -> bool:
        """Open a :class:`psycopg_pool.AsyncConnectionPool` (same server, options and
        ``max_size`` as the store's own pool) on the running event loop, so that the receiver's
        async entry points (``handle_async``, ``process_async`` ...) run the store's statements
        on it, in the event loop, instead of one worker thread per call. Call it at the start
        of the application's event loop and :meth:`close_async` at its end (``WebhookApp`` and
        FastAPI's ``webhook_router`` do, in their lifespan). Without it, or from another event
        loop, those calls run in worker threads, as they always did. Only for a store built
        from a connection string: a pool you pass in is sync, and its options are yours.

        True when this call opened the pool; False when it was open on this loop already (or
        another ``open_async()`` of the loop, still connecting when this one was called, opened
        it)."""
        if self._conninfo is None:
            raise UsageError(
                "open_async() needs a store built from a connection string (a "
                "psycopg_pool.ConnectionPool passed in has no async twin)"
            )
        if self._closed:
            raise StoreError(f"PostgreSQL store ({self._where}) is closed")
        loop = asyncio.get_running_loop()
        await self._opened()  # another open_async() of this loop still connecting
        if self._apool is not None:
            if self._apool_loop is loop:
                return False
            if self._apool_loop is None or not self._apool_loop.is_closed():
                raise UsageError(
                    "open_async(): the store's async pool is open on another event loop; "
                    "close_async() it there first"
                )
            # Its event loop ended without close_async(): nothing can close that pool now (its
            # connections close when it is collected); a new one serves this loop.
            logger.warning(
                "PostgreSQL store (%s): the async pool's event loop ended without "
                "close_async(); opening a new one",
                self._where,
            )
            self._apool = self._apool_loop = None
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            self._conninfo,
            name="kyc_webhooks_async",
            open=False,
            connection_class=_noting_async_connection(self._noted),
            **self._pool_options(),
        )
        # Connected before it serves: a pool still making its first connection when the event
        # loop ends (a start-up that fails right after) kept retrying it, and the loop never
        # finished ending.
        opening = self._opening = loop.create_future()
        try:
            await pool.open(wait=True, timeout=self._timeout)
        except BaseException as exc:
            await pool.close()
            if isinstance(exc, (PoolTimeout, psycopg.Error)):
                raise self._error("open_async", exc) from exc
            raise
        else:
            self._apool, self._apool_loop = pool, loop
        finally:
            opening.set_result(None)
        return True

    async def close_async(self) -> None:
        """Close the async pool of :meth:`open_async` (on the event loop it was opened on; a
        pool whose event loop already ended is only let go)."""
        await self._opened()  # an open_async() still connecting: then close what it opened
        pool, loop = self._apool, self._apool_loop
        if pool is None:
            return
        if loop is not asyncio.get_running_loop() and (loop is None or not loop.is_closed()):
            raise UsageError("close_async(): the async pool belongs to another event loop")
        self._apool = self._apool_loop = None
        if loop is not None and not loop.is_closed():
            await pool.close()

    async def _opened(self) -> None:
        """Wait while an :meth:`open_async` of the running event loop is still connecting, so
        that two of them open one pool, and a :meth:`close_async` closes the pool it opens."""
        opening = self._opening
        if opening is not None and not opening.done():
            if opening.get_loop() is not asyncio.get_running_loop():
                raise UsageError("the store's async pool is being opened on another event loop")
            await asyncio.shield(opening)

    def native_async(self) -> bool:
        """Whether async calls made now run on the async pool (:meth:`open_async` was called on
        the running event loop); else they run in worker threads."""
        if self._apool is None:
            return False
        try:
            return asyncio.get_running_loop() is self._apool_loop
        except RuntimeError:
            return False

    def _await_backend(self, pid: int) -> _Plan[None]:
        """Wait until backend ``pid`` (a broken connection's) can no longer commit its statement:
        the server runs a statement to its end even when its client is gone (waiting for a lock,
        say), so a retry that looked for the first run's row too early could miss a commit still
        to come. Done when the backend is gone, or has run nothing for :data:`_QUIET` seconds (a
        backend whose client vanished without a word stays idle; one that has yet to read the
        statement starts it within that time); at most the statement timeout and a second,
        which end that statement at the latest. A backend of another role shows no state."""
        deadline = time.monotonic() + self._timeout + 1.0
        quiet_since: float | None = None
        while True:
            # A connection that is not in autocommit polls inside one transaction, where
            # PostgreSQL shows pg_stat_activity as it was at the first look: clear that snapshot.
            yield _Query("SELECT pg_stat_clear_snapshot()")
            row = yield from _one(self._sql["backend_state"], {"pid": pid})
            now = time.monotonic()
            if row is None:
                return
            if row[0] == "active":
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= _QUIET:
                return
            if now >= deadline:
                return
            yield _Pause(0.01)

    def _ensure_schema(self, conn: Conn, *, create: bool) -> None:
        with self._lock:
            if self._ready:
                return
            with self._timeouts_set(conn):
                self._check_and_migrate(conn, create=create)
            if self.pgbouncer:
                self._check_role_timeouts(conn)
            self._ready = True

    @contextlib.contextmanager
    def _timeouts_set(self, conn: Conn) -> Iterator[None]:
        """Behind PgBouncer, a transaction with the store's statement and lock timeouts (SET
        LOCAL): the startup options that set them for its sessions are refused there, and a
        migration waiting for a lock that ``pg_dump`` holds would wait as long as it does, past
        ``migrate --timeout``. Without PgBouncer the session has them: nothing to do."""
        if not self.pgbouncer:
            yield
            return
        ms = self._timeout_ms()
        with conn.transaction():
            conn.execute(f"SET LOCAL statement_timeout = {ms}")
            conn.execute(f"SET LOCAL lock_timeout = {ms}")
            yield

    def _check_and_migrate(self, conn: Conn, *, create: bool) -> None:
        """:meth:`_ensure_schema`'s work: check the schema (``create=False``), then migrate it."""
        if not create:
            version = self._version(conn)
            if version == 0:
                raise StoreError(
                    f"PostgreSQL store ({self._where}): schema {self.schema!r} holds no "
                    "kyc-webhooks store, and this one does not create it (create=False); "
                    "create it with migrate() (`kyc-webhooks migrate --schema NAME`)"
                )
            if version < SCHEMA_VERSION:
                raise StoreSchemaError(
                    f"PostgreSQL store ({self._where}): schema {self.schema!r} has version "
                    f"{version}, older than the {SCHEMA_VERSION} of this version of "
                    "kyc-webhooks, and this one does not migrate it (create=False): stop the "
                    "processes of the older version, then run migrate() (`kyc-webhooks "
                    "migrate --schema NAME`)"
                )
        try:
            self._migrate(conn)
        except psycopg.Error as exc:
            hint = _MIGRATION_HINTS.get(exc.sqlstate or "")
            if hint is None:  # a lost connection, a timeout: as for any statement
                raise
            passes = exc.sqlstate in (_LOCK_NOT_AVAILABLE, _QUERY_CANCELED)
            kind = StoreError if passes else StoreSchemaError
            raise kind(
                f"PostgreSQL store ({self._where}): creating or migrating schema "
                f"{self.schema!r} to version {SCHEMA_VERSION} failed "
                f"({type(exc).__name__}, SQLSTATE {exc.sqlstate}): {hint}"
            ) from exc

    def _check_role_timeouts(self, conn: Conn) -> None:
        """Behind PgBouncer the store cannot set its statement and lock timeouts for its
        sessions (_pool_options): the role's own apply. Without them a statement stuck behind a
        lock (or a server that stopped answering behind the pooler) would hold a webhook request
        until the vendor gives up: say so, once."""
        row = conn.execute(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')"
        ).fetchone()
        names = ("statement_timeout", "lock_timeout")
        unbounded = [
            name for name, value in zip(names, row or ("0", "0"), strict=True) if value == "0"
        ]
        if unbounded:
            logger.warning(
                "PostgreSQL store (%s) behind PgBouncer: %s unset (no limit) for this role; set "
                "them for it: ALTER ROLE <role> SET statement_timeout = '%ds' (lock_timeout alike) "
                '(docs/scaling-out.md, "Behind PgBouncer")',
                self._where,
                " and ".join(unbounded),
                max(1, math.ceil(self._timeout)),
            )

    def _version(self, conn: Conn) -> int:
        """The schema version recorded in the migration table; 0 when there is none yet."""
        found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{self.schema}.migrations",))
        row = found.fetchone()
        if not row or not row[0]:
            return 0
        row = conn.execute(self._sql["version"]).fetchone()
        current = int(row[0]) if row and row[0] is not None else 0
        if current > SCHEMA_VERSION:
            raise StoreSchemaError(
                f"PostgreSQL store ({self._where}) schema {self.schema!r} has version {current}, "
                f"newer than the {SCHEMA_VERSION} this version of kyc-webhooks understands; "
                "upgrade it"
            )
        return current

    def _migrate(self, conn: Conn) -> None:
        # A current schema needs no DDL (and no CREATE privilege): the usual start-up.
        if self._version(conn) == SCHEMA_VERSION:
            return
        s = self.schema
        with conn.transaction():
            # One migrator at a time across processes and hosts; the lock ends with the
            # transaction. The key is derived from the schema name.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"kyc_webhooks:{s}",))
            # A migration rewrites populated tables (version 3: every row): not bounded by the
            # per-statement timeout, for this transaction only. Processes starting meanwhile
            # wait on the lock above up to theirs (StoreError: 503, the vendor retries).
            conn.execute("SET LOCAL statement_timeout = 0")
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.migrations (version integer PRIMARY KEY, "
                "description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            current = self._version(conn)  # again, under the lock: another process may have run
            for version, description, statements in _MIGRATIONS:
                if version <= current:
                    continue
                for statement in statements:
                    conn.execute(statement.format(s=s))
                conn.execute(
                    f"INSERT INTO {s}.migrations (version, description) VALUES (%s, %s)",
                    (version, description),
                )

    def migrate(self) -> int:
        """Create or migrate the schema now (it also happens on first use, unless the store was
        built with ``create=False``); return its version."""
        self._run("migrate", lambda conn: self._ensure_schema(conn, create=True), ensure=False)
        return self.schema_version()

    def schema_version(self) -> int:
        """The schema version recorded in the migration table. A store built with
        ``create=False`` neither creates nor migrates the schema here: 0 when it holds no store."""
        return self._run("schema_version", self._version, ensure=self._create)

    # -- records -----------------------------------------------------------------------------

    def _record(self, row: Sequence[Any]) -> DeliveryRecord:
        try:
            return _decode(row)
        except MalformedRow as bad:
            raise StoreError(
                f"PostgreSQL store ({self._where}): stored record {loggable_id(row[0])} is "
                f"malformed: column {bad.column} holds {bad.reason}"
            ) from None

    def _claim(self, row: Sequence[Any], token: str, *, replay: bool) -> Claim:
        # Column 17 is claimed_from: the state the record had when this claim took it.
        return Claim(self._record(row), token, replay, DeliveryState(row[17]))

    def _now_param(self) -> datetime | None:
        """The ``now`` of a statement: the injected clock's time, or None for the database's."""
        return None if self._clock is None else checked_now(self._clock)

    def now(self) -> datetime:
        return self._sync_op(self._now())

    async def now_async(self) -> datetime:
        """:meth:`now` on the async pool (:meth:`open_async`)."""
        return await self._async_op(self._now())

    def _now(self) -> _Op[datetime]:
        if self._clock is not None:
            return checked_now(self._clock)

        def work() -> _Plan[datetime]:
            row = yield from _one("SELECT statement_timestamp()")
            assert row is not None
            value: datetime = row[0]
            return value.astimezone(timezone.utc)

        value: datetime = yield _Runs("now", work)
        return value

    # -- claims ------------------------------------------------------------------------------

    def add(
        self,
        delivery: NewDelivery,
        *,
        lease: float | None = None,
        decision: Decision | None = None,
    ) -> Added:
        """Store ``delivery`` (and claim it, with ``lease``). With ``lease`` and ``decision``, the
        claim and the subject lease of the decision's verification are one statement and one
        commit (``add_claim_lease``), exactly as :meth:`begin_decision` right after the claim:
        :attr:`Added.ticket`, or :attr:`Added.subject_busy` while another delivery holds it."""
        return self._sync_op(self._add(delivery, lease, decision))

    async def add_async(
        self,
        delivery: NewDelivery,
        *,
        lease: float | None = None,
        decision: Decision | None = None,
    ) -> Added:
        """:meth:`add` on the async pool (:meth:`open_async`)."""
        return await self._async_op(self._add(delivery, lease, decision))

    def _add(
        self, delivery: NewDelivery, lease: float | None, decision: Decision | None
    ) -> _Op[Added]:
        if not isinstance(delivery, NewDelivery):
            raise UsageError("add() takes a NewDelivery")
        check_lease(lease)
        if decision is not None and not isinstance(decision, Decision):
            raise UsageError("add(decision=...) takes a Decision")
        record_id = new_id()
        token = new_id() if lease is not None else None
        ticket = new_id() if lease is not None and decision is not None else None
        key_text = _text(delivery.delivery_key)
        key = {"key": key_text, "key_hash": _digest(key_text)}
        by_key = self._sql["by_key"]
        # The entry whose subject lease add_claim_lease took although the subject's stored
        # decision does not decode: given back after the statement, in one of its own.
        give_back: DecisionEntry | None = None

        def work() -> _Plan[Added]:
            nonlocal give_back
            give_back = None  # _run may run this again on another connection
            # Fast path, a plain read, for what add() never changes: a done record (terminal for
            # redeliveries), or any existing record when no claim is wanted. A duplicate then
            # costs one indexed read: no row lock, no transaction id, no WAL flush, and its body
            # is not sent to the server again (nor its parameters built).
            row = yield from _one(by_key, key, binary=True)
            if row is not None and (lease is None or row[4] == "done"):
                # Created by this call: a retry whose first run committed (_run).
                return Added(self._record(row), row[0] == record_id, None)
            params = self._add_params(delivery, key, record_id, lease, token, decision, ticket)
            if lease is None:
                sql = self._sql["add"]
            else:
                sql = self._sql["add_claim" if decision is None else "add_claim_lease"]
            # Bounded: the fallback read misses the row only when it was inserted after this
            # statement's snapshot (a concurrent add) or purged in between.
            for _ in range(3):
                row = yield from _one(sql, params, binary=True)
                if row is None:
                    row = yield from _one(by_key, key, binary=True)
                    if row is None:
                        continue
                    return Added(self._record(row), False, None)
                return answer(row)
            raise StoreError(
                f"PostgreSQL store ({self._where}): add kept racing a concurrent purge"
            )

        def answer(row: Sequence[Any]) -> Added:
            nonlocal give_back
            created = row[0] == record_id
            if decision is not None and token is not None:  # add_claim_lease: claimed
                added, give_back = self._added_with_lease(row, token, created, decision, ticket)
                return added
            if row[18]:  # this statement claimed the record
                assert token is not None
                claim = self._claim(row, token, replay=False)
                return Added(claim.record, created, claim)
            return Added(self._record(row), created, None)

        def again() -> _Plan[Added]:
            # The retry (_run): the record this call's first run claimed -- with the subject
            # lease if it took it -- when that run committed before its connection broke.
            if token is not None:
                params = self._add_params(delivery, key, record_id, lease, token, decision, ticket)
                own = self._sql["own_add" if decision is None else "own_add_lease"]
                row = yield from _one(own, params, binary=True)
                if row is not None:
                    return answer(row)
            return (yield from work())

        added: Added = yield _Runs("add", work, again)
        if give_back is not None:
            assert ticket is not None
            yield from self._give_back("add", give_back, ticket)
        return added

    def _add_params(
        self,
        delivery: NewDelivery,
        key: dict[str, Any],
        record_id: str,
        lease: float | None,
        token: str | None,
        decision: Decision | None,
        ticket: str | None,
    ) -> dict[str, Any]:
        """The parameters of ``add``'s insert (built only when the fast path misses)."""
        params: dict[str, Any] = {
            "now": self._now_param(),
            "id": record_id,
            **key,
            "vendor": _text(delivery.vendor),
            "event_type": _text(delivery.event_type),
            "body": delivery.body,
            "headers": _headers_json(delivery.headers),
            "lease": lease,
            "token": token,
        }
        if decision is not None and lease is not None:
            params["subject_vendor"] = _text(decision.vendor)
            params["subject"] = _text(ledger_subject(decision.vendor, decision.subject))
            params["subject_hash"] = _digest(params["subject_vendor"], params["subject"])
            params["ticket"] = ticket
        return params

    def _added_with_lease(
        self,
        row: Sequence[Any],
        token: str,
        created: bool,
        decision: Decision,
        ticket: str | None,
    ) -> tuple[Added, DecisionEntry | None]:
        """The answer of ``add_claim_lease``: the claim (columns 0-17), then the subject's row
        (columns 18-28: its effective decision) when the subject lease was taken. Second: the
        entry whose subject lease ``add`` must give back (the stored decision does not decode),
        else ``None``."""
        assert ticket is not None
        claim = self._claim(row, token, replay=False)
        if row[18] is None:  # another delivery holds the subject lease
            return Added(claim.record, created, claim, subject_busy=True), None
        entry = ledger_entry(decision, claim.record)
        try:
            previous = self._entry(row[18:])
            announced = _announced(row[29], row[30])
        except StoreError:
            # Answer as a store that does not fold, whether or not the lease can be given back:
            # the caller's begin_decision() then reports the malformed entry (or finds the
            # subject busy while the lease could not be given back) and releases the claim,
            # exactly as without the fold.
            return Added(claim.record, created, claim), entry
        taken = DecisionTicket(entry, previous, announces(entry, previous, announced), ticket)
        return Added(claim.record, created, claim, taken), None

    def claim(self, delivery_id: str, *, lease: float, replay: bool = False) -> Claim | None:
        return self._sync_op(self._claim_op(delivery_id, lease, replay))

    async def claim_async(
        self, delivery_id: str, *, lease: float, replay: bool = False
    ) -> Claim | None:
        """:meth:`claim` on the async pool (:meth:`open_async`)."""
        return await self._async_op(self._claim_op(delivery_id, lease, replay))

    def _claim_op(self, delivery_id: str, lease: float, replay: bool) -> _Op[Claim | None]:
        check_lease(lease)
        token = new_id()
        params = {
            "now": self._now_param(),
            "id": _text(delivery_id),
            "lease": lease,
            "token": token,
            "replay": bool(replay),
        }

        def work() -> _Plan[Claim | None]:
            row = yield from _one(self._sql["claim"], params, binary=True)
            if row is not None:
                return self._claim(row, token, replay=replay)
            if (yield from _one(self._sql["exists"], params)) is None:
                raise DeliveryNotFoundError("no stored delivery has this id")
            return None

        def again() -> _Plan[Claim | None]:
            # The retry (_run): the claim of this call's first run, if it committed.
            row = yield from _one(self._sql["own_claim"], params, binary=True)
            if row is None:
                return (yield from work())
            return self._claim(row, token, replay=replay)

        claim: Claim | None = yield _Runs("claim", work, again)
        return claim

    def claim_next(
        self,
        *,
        lease: float,
        max_attempts: int | None = None,
        vendors: Collection[str] | None = None,
    ) -> Claim | None:
        return self._sync_op(self._claim_next(lease, max_attempts, vendors))

    async def claim_next_async(
        self,
        *,
        lease: float,
        max_attempts: int | None = None,
        vendors: Collection[str] | None = None,
    ) -> Claim | None:
        """:meth:`claim_next` on the async pool (:meth:`open_async`)."""
        return await self._async_op(self._claim_next(lease, max_attempts, vendors))

    def _claim_next(
        self, lease: float, max_attempts: int | None, vendors: Collection[str] | None
    ) -> _Op[Claim | None]:
        check_lease(lease)
        params: dict[str, Any] = {
            "now": self._now_param(),
            "lease": lease,
            "max_attempts": max_attempts,
            "lease_expired": LEASE_EXPIRED,
            "lease_expired_msg": LEASE_EXPIRED_MESSAGE,
            "malformed": MALFORMED_RECORD,
            "never_retried": list(NEVER_RETRIED),
        }
        filters = ""
        vendor_filter = ""
        if max_attempts is not None:
            filters += " AND n.attempts < %(max_attempts)s"
        if vendors is not None:
            names = [_text(str(v)) for v in vendors]
            if not names:
                return None
            params["vendors"] = names
            filters += " AND n.vendor = ANY(%(vendors)s)"
            vendor_filter = "AND vendor = ANY(%(vendors)s)"
        exhausted = ""
        if max_attempts is not None:
            # Same statement, disjoint rows (attempts >= max vs < max): processing records whose
            # every lease expired become failed, visible to operators.
            exhausted = self._sql["exhausted"].replace("{vendor_filter}", vendor_filter)
        sql = (
            self._sql["claim_next"].replace("{exhausted}", exhausted).replace("{filters}", filters)
        )

        sent: list[str] = []  # the token of the latest claiming statement sent

        def work(row: Any = None, token: str = "") -> _Plan[Claim | None]:
            # A row that does not decode is set aside (failed, MalformedRecord) and the next one
            # claimed: one malformed row must not stop every worker. At most
            # MALFORMED_RECORDS_PER_CLAIM per call; the next call goes on.
            for _ in range(MALFORMED_RECORDS_PER_CLAIM):
                if row is None:
                    token = new_id()
                    sent[:] = [token]
                    row = yield from _one(sql, {**params, "token": token}, binary=True)
                    if row is None:
                        return None
                try:
                    record = _decode(row)
                except MalformedRow as bad:
                    yield from self._set_aside(row[0], token, bad)
                    row = None
                    continue
                return Claim(record, token, False, DeliveryState(row[17]))
            return None

        def again() -> _Plan[Claim | None]:
            # The retry (_run): the record the first run's last statement claimed, if it
            # committed (a set-aside that committed left none: the loop goes on).
            if not sent:
                return (yield from work())
            token = sent[0]
            row = yield from _one(self._sql["own_claim_next"], {"token": token}, binary=True)
            return (yield from work(row, token))

        claim: Claim | None = yield _Runs("claim_next", work, again)
        return claim

    def _set_aside(self, record_id: str, token: str, bad: MalformedRow) -> _Plan[None]:
        message = f"the stored record does not decode: column {bad.column} holds {bad.reason}"
        yield _Query(
            self._sql["set_aside"],
            {
                "now": self._now_param(),
                "malformed": MALFORMED_RECORD,
                "message": message,
                "id": record_id,
                "token": token,
            },
        )
        logger.error(
            "delivery store: stored record %s does not decode (column %s holds %s); set aside as "
            "failed (%s) -- repair the row, then process(id) runs it",
            loggable_id(record_id),
            bad.column,
            bad.reason,
            MALFORMED_RECORD,
        )

    def complete(self, claim: Claim, *, decision: DecisionTicket | None = None) -> bool:
        """Mark the claimed record done. With ``decision`` (a ticket of this claim's
        :meth:`begin_decision`), in the same transaction: when ``decision.changes`` and the
        entry still supersedes the subject's effective decision -- re-judged against the row
        as it is now, in case the subject lease expired and another delivery changed it -- the
        entry becomes the effective decision; the subject lease is released if the ticket still
        holds it. ``False``, and nothing changed, when the claim was lost."""
        return self._sync_op(self._complete(claim, decision))

    async def complete_async(self, claim: Claim, *, decision: DecisionTicket | None = None) -> bool:
        """:meth:`complete` on the async pool (:meth:`open_async`)."""
        return await self._async_op(self._complete(claim, decision))

    def _complete(self, claim: Claim, decision: DecisionTicket | None) -> _Op[bool]:
        if decision is not None and not isinstance(decision, DecisionTicket):
            raise UsageError("complete(decision=...) takes the DecisionTicket of begin_decision()")
        params: dict[str, Any] = {
            "now": self._now_param(),
            "id": claim.record.id,
            "token": claim.token,
            "replay": 1 if claim.replay else 0,
        }
        ledger = (
            {}
            if decision is None
            else {
                **_entry_params(decision.entry),
                "ticket": decision.token,
                "changes": bool(decision.changes),
            }
        )

        def work() -> _Plan[bool]:
            if decision is None:
                return (yield from _count(self._sql["complete"], params)) == 1
            # One statement, one round trip (it was BEGIN, three statements and COMMIT).
            row = yield from _one(self._sql["complete_decision"], {**params, **ledger})
            return row is not None and row[0] == 1

        # The retry (_run): done by the first run (its mark, and with a ticket the decision
        # written in the same statement), or still to do.
        done: bool = yield _Runs(
            "complete", work, lambda: _marked_or(self._sql["own_complete"], params, work)
        )
        return done

    def fail(
        self,
        claim: Claim,
        *,
        error_type: str,
        error_message: str,
        retry_at: datetime | None = None,
        count_attempt: bool = True,
    ) -> bool:
        return self._sync_op(self._fail(claim, error_type, error_message, retry_at, count_attempt))

    async def fail_async(
        self,
        claim: Claim,
        *,
        error_type: str,
        error_message: str,
        retry_at: datetime | None = None,
        count_attempt: bool = True,
    ) -> bool:
        """:meth:`fail` on the async pool (:meth:`open_async`)."""
        return await self._async_op(
            self._fail(claim, error_type, error_message, retry_at, count_attempt)
        )

    def _fail(
        self,
        claim: Claim,
        error_type: str,
        error_message: str,
        retry_at: datetime | None,
        count_attempt: bool,
    ) -> _Op[bool]:
        params = {
            "now": self._now_param(),
            "id": claim.record.id,
            "token": claim.token,
            "uncount": 0 if count_attempt else 1,
            "retry_at": retry_at,
            "error_type": _text(error_type),
            "error_message": _text(error_message),
        }

        def work() -> _Plan[bool]:
            return (yield from _count(self._sql["fail"], params)) == 1

        # The retry (_run): done by the first run (its mark), or still to do.
        failed: bool = yield _Runs(
            "fail", work, lambda: _marked_or(self._sql["own_fail"], params, work)
        )
        return failed

    # -- the decision ledger -----------------------------------------------------------------

    def begin_decision(
        self, claim: Claim, entry: DecisionEntry, *, lease: float
    ) -> DecisionTicket | None:
        """Take the lease on ``entry``'s subject for ``lease`` seconds (the database's clock) and
        say whether ``entry`` supersedes the effective decision (:func:`supersedes`). ``None``
        when another delivery holds a live lease on the subject, or when ``claim`` was lost.

        One statement: ``INSERT ... ON CONFLICT (vendor, subject) DO UPDATE ... WHERE`` the lease
        is free or expired ``RETURNING`` the effective decision, so that two processes racing
        for one subject cannot both win."""
        return self._sync_op(self._begin_decision(claim, entry, lease))

    async def begin_decision_async(
        self, claim: Claim, entry: DecisionEntry, *, lease: float
    ) -> DecisionTicket | None:
        """:meth:`begin_decision` on the async pool (:meth:`open_async`)."""
        return await self._async_op(self._begin_decision(claim, entry, lease))

    def _begin_decision(
        self, claim: Claim, entry: DecisionEntry, lease: float
    ) -> _Op[DecisionTicket | None]:
        check_decision_args(claim, entry, lease)
        params = _entry_params(entry)
        token = new_id()
        params.update(
            now=self._now_param(),
            ticket=token,
            lease=lease,
            delivery=claim.record.id,
            claim_token=claim.token,
        )

        def work() -> _Plan[Any]:
            return (yield from _one(self._sql["begin_decision"], params))

        def again() -> _Plan[Any]:
            # The retry (_run): the subject lease of the first run, if it committed.
            row = yield from _one(self._sql["own_lease"], params)
            return (yield from work()) if row is None else row

        row = yield _Runs("begin_decision", work, again)
        if row is None:
            return None
        try:
            previous = self._entry(row)
            announced = _announced(row[11], row[12])
        except StoreError:
            yield from self._give_back("begin_decision", entry, token)  # as SQLite's rollback
            raise
        return DecisionTicket(entry, previous, announces(entry, previous, announced), token)

    def _give_back(self, what: str, entry: DecisionEntry, ticket: str) -> _Op[None]:
        """Give back the subject lease ``ticket`` that a statement committed (autocommit) before
        the subject's stored decision turned out not to decode. A statement of its own through
        :meth:`_run`: a connection lost meanwhile is retried once on another, instead of the
        whole ``add`` or ``begin_decision`` running again (it found the lease its first run
        took, and answered "in progress" while nothing was handled). When it fails even so,
        the lease expires on its own, as any lost release (``_ASYNC_COMMIT``)."""
        params = {**_subject_params(entry.vendor, entry.subject), "ticket": ticket}
        with contextlib.suppress(StoreError):
            yield _Runs(what, lambda: _count(self._sql["decision_abort"], params))

    def abort_decision(self, ticket: DecisionTicket, *, failed: bool = False) -> None:
        """Release the subject lease (a no-op once it was taken over or released). Without
        ``failed`` the ledger is unchanged; with it (a handler failed), in the same statement,
        the ticket's entry becomes the latest known entry when it replaces the stored one, not
        announced (:meth:`Store.abort_decision`)."""
        self._sync_op(self._abort_decision(ticket, failed))

    async def abort_decision_async(self, ticket: DecisionTicket, *, failed: bool = False) -> None:
        """:meth:`abort_decision` on the async pool (:meth:`open_async`)."""
        await self._async_op(self._abort_decision(ticket, failed))

    def _abort_decision(self, ticket: DecisionTicket, failed: bool) -> _Op[None]:
        if not isinstance(ticket, DecisionTicket):
            raise UsageError("abort_decision() takes the DecisionTicket of begin_decision()")
        if failed:
            # Its commit waits for the flush (no _ASYNC_COMMIT): a newer verdict lost in a crash
            # would let an older one delivered before the retry be announced. Run again after a
            # broken connection, it finds the lease released and changes nothing.
            params = {**_entry_params(ticket.entry), "ticket": ticket.token}
            yield _Runs("abort_decision", lambda: _count(self._sql["decision_fail"], params))
            return
        params = {
            **_subject_params(ticket.entry.vendor, ticket.entry.subject),
            "ticket": ticket.token,
        }
        yield _Runs("abort_decision", lambda: _count(self._sql["decision_abort"], params))

    def effective_decision(self, vendor: str, subject: str) -> DecisionEntry | None:
        if not isinstance(vendor, str) or not isinstance(subject, str):
            raise UsageError("vendor and subject must be str")
        params = _subject_params(vendor, subject)

        def work(conn: Conn) -> DecisionEntry | None:
            row = conn.execute(self._sql["decision_get"], params).fetchone()
            return None if row is None else self._entry(row)

        return self._run("effective_decision", work)

    def decisions_for_client(self, client_ref: str, *, limit: int = 100) -> Sequence[DecisionEntry]:
        """The effective decisions of one ``client_ref``, newest first (by ``occurred_at``, else
        ``received_at``)."""
        if not isinstance(client_ref, str):
            raise UsageError("client_ref must be a str")
        check_limit(limit)
        params = {"client_ref": _text(client_ref), "limit": limit}

        def work(conn: Conn) -> list[DecisionEntry]:
            rows = conn.execute(self._sql["decisions_client"], params).fetchall()
            return [entry for entry in map(self._entry, rows) if entry is not None]

        return self._run("decisions_for_client", work)

    def forget_decisions(
        self,
        *,
        client_ref: str | None = None,
        vendor: str | None = None,
        subject: str | None = None,
    ) -> list[str]:
        check_forget_args(client_ref, vendor, subject)
        params: dict[str, Any] = {"now": self._now_param()}
        if client_ref is not None:
            params["client_ref"] = _text(client_ref)
            sql = self._sql["forget_decisions"].replace("{where}", _FORGET_CLIENT)
        else:
            assert vendor is not None
            assert subject is not None
            params.update(_subject_params(vendor, subject))
            sql = self._sql["forget_decisions"].replace("{where}", _FORGET_SUBJECT)

        def work(conn: Conn) -> tuple[int, list[str]]:
            row = conn.execute(sql, params).fetchone()
            assert row is not None
            return int(row[0]), list(row[1])

        # Run twice (a retry after a lost reply) it is the same: the second finds nothing left.
        busy, forgotten = self._run("forget_decisions", work)
        if busy:
            raise DeliveryInProgressError(FORGET_BUSY)
        # Also when nothing was removed now: a call again after a failed VACUUM runs it -- of
        # the deliveries too: forget() erases the bodies first, and when that VACUUM failed its
        # retry finds no body left to erase (Decisions.forget, docs/scaling-out.md).
        self._vacuum("vacuum_forget")
        return [from_text_column(delivery_id) for delivery_id in forgotten]

    def purge_decisions(self, *, older_than: TimeLimit) -> int:
        params = {"now": self._now_param(), "limit": cutoff(older_than, self.now())}

        def work(conn: Conn) -> int:
            row = conn.execute(self._sql["purge_decisions"], params).fetchone()
            assert row is not None
            return int(row[0])

        purged = self._run("purge_decisions", work)
        self._vacuum("vacuum_ledger")  # also when nothing was left: see purge()
        return purged

    def _entry(self, row: Sequence[Any]) -> DecisionEntry | None:
        """The effective decision a ledger row holds (``None`` for a row holding only a lease)."""
        if row[2] is None:
            return None
        try:
            return DecisionEntry(
                vendor=from_text_column(row[0]),
                subject=from_text_column(row[1]),
                status=from_text_column(row[2]),
                final=bool(row[3]),
                delivery_id=from_text_column(row[4]),
                event_type=from_text_column(row[5]),
                received_at=row[6].astimezone(timezone.utc),
                occurred_at=_utc(row[7]),
                client_ref=None if row[8] is None else from_text_column(row[8]),
                reasons=tuple(from_text_column(str(r)) for r in json.loads(row[9])),
                fetch_required=bool(row[10]),
            )
        except (ValueError, TypeError, AttributeError) as exc:
            raise StoreError(
                f"PostgreSQL store ({self._where}): a stored decision is malformed "
                f"({type(exc).__name__})"
            ) from None

    # -- reading -----------------------------------------------------------------------------

    def get(self, delivery_id: str) -> DeliveryRecord | None:
        return self._sync_op(self._get(delivery_id))

    async def get_async(self, delivery_id: str) -> DeliveryRecord | None:
        """:meth:`get` on the async pool (:meth:`open_async`)."""
        return await self._async_op(self._get(delivery_id))

    def _get(self, delivery_id: str) -> _Op[DeliveryRecord | None]:
        params = {"id": _text(delivery_id)}
        row = yield _Runs("get", lambda: _one(self._sql["by_id"], params, binary=True))
        return None if row is None else self._record(row)

    def get_by_key(self, delivery_key: str) -> DeliveryRecord | None:
        def work(conn: Conn) -> DeliveryRecord | None:
            row = conn.execute(
                self._sql["by_key"], {"key_hash": _digest(_text(delivery_key))}, binary=True
            ).fetchone()
            return None if row is None else self._record(row)

        return self._run("get_by_key", work)

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
        where, params = filters
        order = "DESC" if newest_first else "ASC"
        sql = self._sql["select"] + where
        sql += f" ORDER BY received_at {order}, id {order} LIMIT %(limit)s"

        def work(conn: Conn) -> list[Any]:
            return conn.execute(sql, {**params, "limit": limit}, binary=True).fetchall()

        # A row that does not decode is skipped, not a failure of the whole listing: its id is
        # logged (get(id) names the column), and claim_next sets it aside.
        return listed_records(self._run("deliveries", work), _decode, _row_id, MalformedRow)

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
        where, params = filters
        sql = self._sql["count"] + where

        def work(conn: Conn) -> int:
            row = conn.execute(sql, params).fetchone()
            assert row is not None
            return int(row[0])

        return int(self._run("count", work))

    def stats(self) -> dict[str, int]:
        counts = {state.value: 0 for state in DeliveryState}

        def work(conn: Conn) -> None:
            for state, count in conn.execute(self._sql["stats"]).fetchall():
                counts[str(state)] = int(count)

        self._run("stats", work)
        counts["total"] = sum(counts.values())
        return counts

    # -- retention ---------------------------------------------------------------------------

    def _vacuum(self, statement: str = "vacuum") -> None:
        """Reclaim the dead row versions that still hold erased bodies (docs/scaling-out.md,
        "Erasure on PostgreSQL"). VACUUM cannot run inside a transaction: a connection of a pool
        that is not in autocommit is switched to it for this statement. It is not bounded by
        ``statement_timeout`` (a large table takes longer than any delivery's statement, and a
        VACUUM stopped by it would stay owed), still by ``lock_timeout``. A role that does not
        own the table gets a warning from the server and nothing happens; autovacuum reclaims the
        row versions later. A failure raises StoreError: the erasure itself is committed, and
        calling the same erasure again runs the VACUUM again."""
        if not self._vacuum_on_erase:
            return

        def work(conn: Conn) -> None:
            autocommit = conn.autocommit
            if not autocommit:
                conn.commit()  # what this call ran before (the schema check): as the pool would
                conn.autocommit = True
            try:
                row = conn.execute("SHOW statement_timeout").fetchone()
                conn.execute("SET statement_timeout = 0")
                try:
                    conn.execute(self._sql[statement])
                finally:
                    if row is not None and not conn.broken:
                        conn.execute("SELECT set_config('statement_timeout', %s, false)", row)
            finally:
                if not autocommit and not conn.broken:
                    conn.autocommit = False

        self._run("vacuum", work)

    def purge(
        self,
        *,
        older_than: TimeLimit,
        state: DeliveryState | str | Collection[DeliveryState | str] | None = None,
    ) -> int:
        limit = cutoff(older_than, self.now())
        states = check_states(state)
        sql = self._sql["purge"]
        params: dict[str, Any] = {"limit": limit}
        if states is not None:
            sql += " AND state = ANY(%(states)s)"
            params["states"] = [s.value for s in states]
        deleted = self._run("purge", lambda conn: conn.execute(sql, params).rowcount)
        # Also when nothing was deleted now: a purge called again after its VACUUM failed (the
        # rows are gone, their old versions are not) must run it (docs/scaling-out.md).
        self._vacuum()
        return deleted

    def erase(self, delivery_id: str) -> bool:
        params = {"now": self._now_param(), "id": _text(delivery_id)}

        def work(conn: Conn) -> tuple[int, bool]:
            row = conn.execute(self._sql["erase"], params).fetchone()
            assert row is not None
            return int(row[0]), bool(row[1])

        _erased, exists = self._run("erase", work)
        if exists:  # erased now, or before: a call again after a failed VACUUM runs it
            self._vacuum()
        return exists

    def erase_bodies(self, *, older_than: TimeLimit) -> int:
        now = self.now()
        params = {"now": self._now_param(), "limit": cutoff(older_than, now)}
        erased = self._run(
            "erase_bodies", lambda conn: conn.execute(self._sql["erase_bodies"], params).rowcount
        )
        self._vacuum()  # also when nothing was left to erase: see purge()
        return erased

    def close(self) -> None:
        """Close the pool the store owns (a pool passed in stays open: its owner closes it)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        # An async pool still open is its event loop's to close (close_async); its calls fail
        # from now on (the store is closed).
        if self._owns_pool and os.getpid() == self._pid:
            self._pool.close()


def _check_pool(pool: ConnectionPool[Any]) -> None:
    """Drop the pool's dead idle connections (after a server restart every one of them is)."""
    with contextlib.suppress(psycopg.Error):
        pool.check()


def _noting_connection(note: Callable[[BaseException | None], None]) -> type[Conn]:
    """psycopg's ``Connection`` whose ``connect`` tells ``note`` how it went (the exception, or
    None): the store's pool passes it as ``connection_class``."""

    class Connection(psycopg.Connection[Any]):
        opened_at = 0.0  # time.monotonic() when connect() made it

        @classmethod
        def connect(cls, *args: Any, **kwargs: Any) -> Self:
            try:
                conn = super().connect(*args, **kwargs)
            except Exception as exc:
                note(exc)
                raise
            note(None)
            conn.opened_at = time.monotonic()
            return conn

    return Connection


def _noting_async_connection(note: Callable[[BaseException | None], None]) -> type[AsyncConn]:
    """:func:`_noting_connection` for the async pool of :meth:`PostgresStore.open_async`."""

    class Connection(psycopg.AsyncConnection[Any]):
        opened_at = 0.0  # time.monotonic() when connect() made it

        @classmethod
        async def connect(cls, *args: Any, **kwargs: Any) -> Self:
            try:
                conn = await super().connect(*args, **kwargs)
            except Exception as exc:
                note(exc)
                raise
            note(None)
            conn.opened_at = time.monotonic()
            return conn

    return Connection


#: SQLSTATEs after which a connection still open is of no more use: 25006
#: (read_only_sql_transaction). After a switchover the old primary keeps its sessions but takes
#: no more writes (read-only, or a standby); libpq's ``target_session_attrs=read-write`` picks the
#: writable host only when connecting, and psycopg_pool replaces only a closed or broken
#: connection: every call failed on the old primary until the process restarted (or the
#: connection's max_lifetime, an hour). Closed, the pool replaces it, and the call is retried on
#: another connection as after a break (the failed statement committed nothing) -- while the
#: connections it meets are read-only too, up to the pool's size: a single retry could meet
#: another of the old primary's, and a completion failed so was run again after its lease.
_SESSION_USELESS = frozenset({"25006"})
_PROTOCOL_VIOLATION = "08P01"
_STATEMENT_POOLING = " (PgBouncer in statement pooling? the store needs transaction pooling)"


def _read_only_again(
    exc: psycopg.Error,
    conn: Conn | AsyncConn | None,
    attempt: int,
    size: int,
    since: list[float],
) -> bool:
    """Whether a call whose connection :func:`_pooled` closed for :data:`_SESSION_USELESS`
    goes on with another one (``again`` after the first run): at most ``size`` (the pool's) in all,
    and not once a connection opened after the call's first such answer (kept in ``since``)
    gave one too. The server libpq connects to is then read-only itself (a DSN naming a
    standby, a primary fenced read-only): each further connection would be opened only to be
    closed, ``size`` of them per call."""
    if exc.sqlstate not in _SESSION_USELESS or conn is None or not conn.closed:
        return False
    if since and getattr(conn, "opened_at", 0.0) > since[0]:
        return False
    if not since:
        since.append(time.monotonic())
    return attempt < max(1, size)


@contextlib.contextmanager
def _pooled(pool: ConnectionPool[Any]) -> Iterator[Conn]:
    """``pool.connection()``, closing the connection on an error of :data:`_SESSION_USELESS`."""
    with pool.connection() as conn:
        try:
            yield conn
        except psycopg.Error as exc:
            if exc.sqlstate in _SESSION_USELESS:
                conn.close()
            raise


@contextlib.asynccontextmanager
async def _apooled(pool: AsyncConnectionPool[Any]) -> AsyncIterator[AsyncConn]:
    """:func:`_pooled` for the async pool."""
    async with pool.connection() as conn:
        try:
            yield conn
        except psycopg.Error as exc:
            if exc.sqlstate in _SESSION_USELESS:
                await conn.close()
            raise


def _misread_userinfo(conninfo: str) -> bool:
    """Whether libpq would read a ``postgresql://`` URL's user info otherwise than written: it
    takes the user info up to the first ``@`` before any ``/``, so a password holding an
    unencoded ``@`` or ``/`` becomes part of the host, the port or the database name -- and the
    connection pool's own log lines print it as the host it cannot resolve."""
    scheme, sep, rest = conninfo.partition("://")
    if not sep or scheme.lower() not in ("postgresql", "postgres"):
        return False
    authority = rest.split("?", 1)[0]
    slash, at = authority.find("/"), authority.find("@")
    return authority.count("@") > 1 or (at >= 0 and 0 <= slash < at)


def _describe(conninfo: str) -> str:
    """``host:port/dbname`` of a connection string, for messages (never the password)."""
    try:
        params = pg_conninfo.conninfo_to_dict(conninfo)
    except psycopg.Error:
        return "PostgreSQL"
    host = str(params.get("host") or os.environ.get("PGHOST") or "localhost")
    port = str(params.get("port") or os.environ.get("PGPORT") or "5432")
    dbname = str(params.get("dbname") or os.environ.get("PGDATABASE") or "-")
    # A password holding an unencoded "/" or "@" ("postgresql://app:Zq/9s@db/app") is read by
    # libpq as a host, a port or a database name: an "@" in any of them, or a port that is not
    # a number, may be part of one.
    if "@" in host + port + dbname or not all(part.isdigit() for part in port.split(",")):
        return "PostgreSQL"
    return f"{host}:{port}/{dbname}"


def _filters(
    state: DeliveryState | str | Collection[DeliveryState | str] | None,
    vendor: str | None,
    event_type: str | None,
    since: datetime | None,
    until: datetime | None,
    id_prefix: str | None,
    with_body: bool | None,
) -> tuple[str, dict[str, Any]] | None:
    """The ``WHERE`` clause (empty, or with a leading blank) and its parameters of ``deliveries``
    and ``count``; ``None`` when no record can match (an ``id_prefix`` that is not hex)."""
    states = check_states(state)
    check_with_body(with_body)
    where: list[str] = []
    params: dict[str, Any] = {}
    if states is not None:
        where.append("state = ANY(%(states)s)")
        params["states"] = [s.value for s in states]
    if vendor is not None:
        where.append(f"{_prefix('vendor')} = {_prefix('%(vendor)s')} AND vendor = %(vendor)s")
        params["vendor"] = _text(vendor)
    if event_type is not None:
        where.append(
            f"{_prefix('event_type')} = {_prefix('%(event_type)s')} AND event_type = %(event_type)s"
        )
        params["event_type"] = _text(event_type)
    if since is not None:
        where.append("received_at >= %(since)s")
        params["since"] = check_aware(since, "since")
    if until is not None:
        where.append("received_at < %(until)s")
        params["until"] = check_aware(until, "until")
    if not id_prefix_can_match(id_prefix):
        return None
    if id_prefix:
        # The range, in the column's collation, is what the primary key's index serves; left()
        # keeps only the ids that start with the prefix (equality is exact in any collation).
        where.append(
            "id >= %(id_low)s AND id < %(id_high)s AND left(id, %(id_length)s) = %(id_low)s"
        )
        params["id_low"], params["id_high"] = id_range(id_prefix)
        params["id_length"] = len(id_prefix)
    if with_body is not None:
        where.append("body IS NOT NULL" if with_body else "body IS NULL")
    return (" WHERE " + " AND ".join(where) if where else ""), params


def _row_id(row: Sequence[Any]) -> object:
    """A selected row's record id (the first column)."""
    return row[0]
