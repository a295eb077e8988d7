"""PostgresStore behind PgBouncer in transaction pooling (``pgbouncer=True``), and what a store
says when it cannot get a connection.

PgBouncer refuses the startup parameter ``options`` (with which the store sets its timeouts), and
in transaction pooling runs each transaction on whichever server connection is free, where a
statement prepared on another one is missing. ``.ci/run`` starts a PgBouncer of its own (its
server sessions in another time zone than UTC); the store contract suite and the races of
test_store_postgres.py run through it too (the "pgbouncer" parameters).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import timezone
from typing import Any

import psycopg
import pytest

import kyc_webhooks as kw
from _postgres import new_schema, require_pgbouncer, require_postgres, sql, throwaway_pgbouncer
from kyc_webhooks.errors import StoreError
from kyc_webhooks.store import PostgresStore
from kyc_webhooks.testing import sign

pytest.importorskip("psycopg")

KEY = "test-signing-key"


def _bodies(count: int, tag: str) -> list[tuple[bytes, dict[str, str]]]:
    return [
        sign(
            "idenfy",
            {"scanRef": f"{tag}-{n:04d}", "clientId": "c", "final": True},
            KEY,
            event_type="IDENTIFICATION_AUTO_FINISHED",
        )
        for n in range(count)
    ]


def _deliver_from_threads(store: PostgresStore, tag: str, threads: int = 4, each: int = 15) -> int:
    """Deliver ``threads * each`` distinct bodies from ``threads`` threads at once; returns how
    many times the handler ran, after checking that every answer was a 200."""
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    ran: list[str] = []
    receiver.on("idenfy")(lambda event: ran.append(event.scan_ref))
    bodies = _bodies(threads * each, tag)
    answers: list[tuple[int, str]] = []

    def deliver(part: int) -> None:
        for body, headers in bodies[part::threads]:
            outcome = receiver.handle(body, headers)
            answers.append((outcome.status_code, str(outcome.error)))

    pool = [threading.Thread(target=deliver, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(60)
    assert not any(thread.is_alive() for thread in pool)
    assert [a for a in answers if a[0] != 200] == []
    assert sorted(ran) == sorted(f"{tag}-{n:04d}" for n in range(threads * each))
    return len(ran)


def test_a_store_behind_pgbouncer_handles_concurrent_deliveries(schema: str) -> None:
    dsn = require_pgbouncer()
    with PostgresStore(dsn, schema=schema, pgbouncer=True) as store:
        assert _deliver_from_threads(store, "own") == 60
        # Times are UTC whatever the server session's time zone (the test PgBouncer's is not).
        record = store.deliveries(limit=1)[0]
        assert record.received_at.utcoffset() == timezone.utc.utcoffset(None)


def test_a_pool_passed_in_with_prepared_statements_on_is_made_safe(schema: str) -> None:
    """A pool you build with psycopg's defaults prepares a statement run 5 times: behind
    PgBouncer the next transaction met another server connection without it (SQLSTATE 26000,
    42P05, 08P01: 127 of 160 deliveries answered 503). ``pgbouncer=True`` turns that off on the
    connections the store takes."""
    dsn = require_pgbouncer()
    from psycopg_pool import ConnectionPool

    with (
        ConnectionPool(dsn, min_size=4, max_size=4, kwargs={"autocommit": True}) as pool,
        PostgresStore(pool, schema=schema, pgbouncer=True) as store,
    ):
        assert _deliver_from_threads(store, "pool") == 60


def test_without_the_flag_the_503_says_to_set_it(schema: str) -> None:
    """The store's startup options are refused by PgBouncer: every delivery waited for the pool
    and was answered "no connection within 5 s (server down or pool exhausted)"; the reason was
    only in psycopg's log."""
    dsn = require_pgbouncer()
    with PostgresStore(dsn, schema=schema, timeout=1) as store, pytest.raises(StoreError) as raised:
        store.stats()
    message = str(raised.value)
    assert "unsupported startup parameter: options" in message
    assert "pgbouncer=True" in message


def test_a_connection_that_cannot_be_made_is_named_in_the_error() -> None:
    """A mistyped database name: the 503s said "server down or pool exhausted"."""
    dsn = require_postgres()
    missing = f"kw_missing_{secrets.token_hex(4)}"
    url = urllib.parse.urlsplit(dsn)._replace(path=f"/{missing}").geturl()
    with PostgresStore(url, timeout=1) as store, pytest.raises(StoreError) as raised:
        store.stats()
    message = str(raised.value)
    assert f'database "{missing}" does not exist' in message
    assert "pgbouncer" not in message


def test_a_pool_exhausted_after_connecting_says_so(schema: str) -> None:
    dsn = require_postgres()
    with PostgresStore(dsn, schema=schema, timeout=0.5, max_size=1) as store:
        store.stats()  # connected once: no failure to report
        pool = store._current_pool()
        # The only connection, held.
        with pool.connection(), pytest.raises(StoreError, match=r"server down or pool exhausted"):
            store.stats()


@contextlib.contextmanager
def _role(timeouts: bool) -> Iterator[str]:
    """A login role of its own (with the role timeouts, or none), allowed to create schemas in
    the test database: its user name. Dropped at the end."""
    role = f"kw_test_role_{os.getpid()}_{secrets.token_hex(3)}"
    sql(f"CREATE ROLE {role} LOGIN")
    try:
        database = urllib.parse.urlsplit(require_postgres()).path[1:]
        sql(f"GRANT CREATE ON DATABASE {database} TO {role}")
        if timeouts:
            sql(f"ALTER ROLE {role} SET statement_timeout = '5s'")
            sql(f"ALTER ROLE {role} SET lock_timeout = '5s'")
        yield role
    finally:
        sql(f"DROP OWNED BY {role}")
        sql(f"DROP ROLE {role}")


@pytest.mark.parametrize("timeouts", [False, True])
def test_a_role_without_timeouts_is_warned_about_once(
    timeouts: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Behind PgBouncer the statement and lock timeouts are the role's: without them a stuck
    statement holds the webhook request. Checked here on the server directly (the store in
    PgBouncer mode sends no options there either), with a role of its own."""
    from psycopg import conninfo

    with _role(timeouts) as role:
        dsn = conninfo.make_conninfo(require_postgres(), user=role)
        schema = new_schema()
        with (
            caplog.at_level(logging.WARNING, logger="kyc_webhooks"),
            PostgresStore(dsn, schema=schema, pgbouncer=True) as store,
        ):
            store.stats()
            store.stats()
        warned = [r.getMessage() for r in caplog.records if "behind PgBouncer" in r.getMessage()]
        if timeouts:
            assert warned == []
        else:
            assert len(warned) == 1
            assert "statement_timeout and lock_timeout unset" in warned[0]
            assert "ALTER ROLE <role> SET statement_timeout = '5s'" in warned[0]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kyc_webhooks", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_line_reaches_a_store_behind_pgbouncer(schema: str) -> None:
    dsn = require_pgbouncer()
    done = _cli("migrate", "--store", dsn, "--schema", schema, "--pgbouncer")
    assert done.returncode == 0, done.stderr
    listed = _cli("inbox", "--inbox", dsn, "--schema", schema, "--pgbouncer", "list")
    assert listed.returncode == 0, listed.stderr
    # Without the flag: unavailable (exit 3), and the message says which flag is missing.
    refused = _cli("migrate", "--store", dsn, "--schema", schema, "--timeout", "1")
    assert refused.returncode == 3
    assert "--pgbouncer" in refused.stderr


def test_the_flag_applies_to_postgresql_urls_only(tmp_path: object) -> None:
    done = _cli("migrate", "--store", f"{tmp_path}/inbox.sqlite3", "--pgbouncer")
    assert done.returncode == 2
    assert "--pgbouncer applies to a postgresql:// --store only" in done.stderr


def test_migrate_behind_pgbouncer_gives_up_after_the_store_timeout(schema: str) -> None:
    """The store's timeouts are startup options, which PgBouncer refuses: a migration (`migrate
    --pgbouncer --timeout 1`) waiting for a lock that a `pg_dump` or a long transaction holds on
    the store's tables waited for as long as that held (forever for a role without timeouts),
    where docs/cli.md promises exit 3 after --timeout. Its transaction sets them (SET LOCAL)."""
    dsn = require_pgbouncer()
    with PostgresStore(dsn, schema=schema, pgbouncer=True) as made:
        made.migrate()
    with psycopg.connect(require_postgres()) as holder:
        # The lock ends with this session after 15 s, should the store wait for it.
        holder.execute("SET idle_in_transaction_session_timeout = '15s'")
        holder.execute(f"LOCK TABLE {schema}.migrations IN ACCESS EXCLUSIVE MODE")
        start = time.monotonic()
        with (
            PostgresStore(dsn, schema=schema, pgbouncer=True, timeout=1) as store,
            pytest.raises(StoreError, match=r"SQLSTATE (57014|55P03)"),
        ):
            store.migrate()
        assert time.monotonic() - start < 5


def _settled(pool: Any, *, quiet: float = 0.5, timeout: float = 15.0) -> int:
    """The pool's count of connections opened, once it has not changed for ``quiet`` seconds
    and the pool holds its minimum again (bounded: fails after ``timeout``)."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        stats = pool.get_stats()
        count = stats.get("connections_num", 0)
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet and stats.get("pool_size", 0) >= pool.min_size:
            return int(count)
        time.sleep(0.05)
    raise AssertionError(f"the pool kept opening connections for {timeout} s: {stats}")


def test_a_read_only_server_is_not_reconnected_to_for_every_connection_of_the_pool() -> None:
    """A connection answering SQLSTATE 25006 is closed and the call goes on with another, up to
    the pool's size, for a switchover's old primary. When libpq's only (or chosen) server is
    read-only -- a DSN naming a standby, a provider fencing a full disk with
    default_transaction_read_only -- the connections the pool opens in its place are read-only
    too: every call opened and closed max_size + 1 of them (6 here) before its 503. A call stops
    once a connection opened after its first 25006 answers 25006 too."""
    dsn = require_postgres()
    from psycopg import conninfo

    with _role(timeouts=False) as role:
        sql(f"ALTER ROLE {role} SET default_transaction_read_only = on")
        schema = new_schema()
        url = conninfo.make_conninfo(dsn, user=role)
        with PostgresStore(url, schema=schema, max_size=5) as store:
            with pytest.raises(StoreError, match="SQLSTATE 25006"):
                store.migrate()  # its first connection: opened before the call
            pool = store._current_pool()
            # The pool's replacements of the connections that call closed, opened (a fixed
            # second was not always enough on a loaded CI machine: 4 counted, one of them late).
            opened = _settled(pool)
            with pytest.raises(StoreError, match="SQLSTATE 25006"):
                store.migrate()
            # Those it met (opened before its first 25006) and one it waited for, replaced: 6
            # before.
            assert pool.get_stats().get("connections_num", 0) - opened <= 3


def test_statement_pooling_is_refused_with_a_reason(schema: str) -> None:
    """Statement pooling allows no transaction block, and the store's migration takes one: the
    503 said only "ProtocolViolation, SQLSTATE 08P01". Session pooling works as transaction
    pooling does."""
    with (
        throwaway_pgbouncer("statement") as dsn,
        PostgresStore(dsn, schema=schema, pgbouncer=True, timeout=2) as store,
        pytest.raises(StoreError) as raised,
    ):
        store.stats()
    # psycopg 3.1 to 3.2.1 (at least) reports PgBouncer's refusal with its message, no SQLSTATE.
    assert "08P01" in str(raised.value) or "not allowed in statement pooling" in str(raised.value)
    assert "statement pooling? the store needs transaction pooling" in str(raised.value)
    with (
        throwaway_pgbouncer("session") as dsn,
        PostgresStore(dsn, schema=schema, pgbouncer=True) as store,
    ):
        assert _deliver_from_threads(store, "session", threads=2, each=5) == 10


def test_the_async_pool_behind_pgbouncer_prepares_nothing(schema: str) -> None:
    """``open_async()``'s pool is built with the same options: concurrent ``handle_async()``
    calls on it pass through transaction pooling (prepared statements would fail with 26000)."""
    import asyncio

    dsn = require_pgbouncer()
    bodies = _bodies(40, "async")

    async def run() -> tuple[list[int], list[str]]:
        with PostgresStore(dsn, schema=schema, pgbouncer=True, max_size=4) as store:
            await store.open_async()
            try:
                assert store.native_async()
                receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
                ran: list[str] = []
                receiver.on("idenfy")(lambda event: ran.append(event.scan_ref))
                outcomes = await asyncio.gather(
                    *(receiver.handle_async(body, headers) for body, headers in bodies)
                )
                again = await asyncio.gather(
                    *(receiver.handle_async(body, headers) for body, headers in bodies)
                )
                assert all(outcome.duplicate for outcome in again)
                return [outcome.status_code for outcome in outcomes], ran
            finally:
                await store.close_async()

    codes, ran = asyncio.run(run())
    assert codes == [200] * 40
    assert sorted(ran) == sorted(f"async-{n:04d}" for n in range(40))
