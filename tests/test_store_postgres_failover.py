"""PostgresStore across a switchover: the DSN names two hosts with
``target_session_attrs=read-write`` (libpq connects to the writable one), and the primary turns
read-only while the store's pool holds connections to it. Those connections stay open, and every
write on them fails with SQLSTATE 25006 (read_only_sql_transaction). psycopg_pool replaces only
broken connections: every call answered 503 until the process restarted. The store must drop them
so that the pool connects to the new primary, and go on without a restart -- each acknowledged
delivery stored, handled once, its completion recorded.

Two private servers (tests/test_store_postgres.py's ``Throwaway``), no replication: the new
primary holds the store's schema beforehand, and "read-only" is ``default_transaction_read_only``,
which libpq's ``target_session_attrs=read-write`` checks when connecting.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool, ConnectionPool

import kyc_webhooks as kw
from _postgres import require_postgres
from kyc_webhooks.errors import StoreError
from kyc_webhooks.store import PostgresStore
from kyc_webhooks.testing import sign
from test_store_postgres import Throwaway

KEY = "failover-key"
EVENT_TYPE = "IDENTIFICATION_MANUAL_FINISHED"
MAX_SIZE = 3


def body(n: int) -> tuple[bytes, dict[str, str]]:
    return sign(
        "idenfy",
        {"scanRef": f"scan-{n:02d}", "clientId": "c", "final": True},
        KEY,
        event_type=EVENT_TYPE,
    )


def query(dsn: str, statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        cur = conn.execute(statement.encode())
        return cur.fetchall() if cur.description is not None else []


def read_only(server: Throwaway, on: bool) -> None:
    """Set ``default_transaction_read_only`` on ``server`` -- for new sessions at once, for its
    open ones only once each has run one more message (see :func:`applied`)."""
    setting = "on" if on else "off"
    query(server.dsn, f"ALTER SYSTEM SET default_transaction_read_only = {setting}")
    query(server.dsn, "SELECT pg_reload_conf()")
    # pg_reload_conf() returns before the postmaster has read the file and signalled the backends;
    # a new session sees the setting once it has.
    deadline = time.monotonic() + 5
    while query(server.dsn, "SHOW default_transaction_read_only")[0][0] != setting:
        assert time.monotonic() < deadline, "the server did not reload its configuration"
        time.sleep(0.02)


def applied(pool: ConnectionPool[Any]) -> None:
    """Let each idle connection of ``pool`` run one query. A backend waiting for its client
    applies a reloaded setting only after the next message it reads: the pool's next write on
    each idle connection was still accepted by the server turned read-only -- a claim written
    there whose completion then went to the new primary (a failed run of the test, not the
    store's: a real switchover does not leave the old primary's sessions writable)."""
    taken = [pool.getconn(timeout=5) for _ in range(pool.get_stats()["pool_available"])]
    try:
        for conn in taken:
            conn.execute("SELECT 1")
            conn.rollback()
    finally:
        for conn in taken:
            pool.putconn(conn)


async def applied_async(pool: AsyncConnectionPool[Any]) -> None:
    """:func:`applied` for the store's async pool."""
    taken = [await pool.getconn(timeout=5) for _ in range(pool.get_stats()["pool_available"])]
    try:
        for conn in taken:
            await conn.execute("SELECT 1")
            await conn.rollback()
    finally:
        for conn in taken:
            await pool.putconn(conn)


def sessions(server: Throwaway) -> int:
    """The client sessions on ``server`` other than the one asking: the store's."""
    rows = query(
        server.dsn,
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    )
    return int(str(rows[0][0]))


def sessions_become(server: Throwaway, count: int) -> int:
    """:func:`sessions` once it is ``count`` (a closed connection's backend exits a moment after
    the client left), or after 5 s."""
    deadline = time.monotonic() + 5
    while (now := sessions(server)) != count and time.monotonic() < deadline:
        time.sleep(0.05)
    return now


def done(server: Throwaway) -> set[str]:
    rows = query(server.dsn, "SELECT id FROM kyc_webhooks.deliveries WHERE state = 'done'")
    return {str(row[0]) for row in rows}


@pytest.fixture
def servers() -> Iterator[tuple[Throwaway, Throwaway]]:
    require_postgres()  # same service family: skipped together, failed together in CI
    old = Throwaway()
    try:
        new = Throwaway()
    except BaseException:
        old.cleanup()
        raise
    try:
        old.start()
        new.start()
        with PostgresStore(new.dsn) as made:  # the standby's copy of the schema
            made.migrate()
        yield old, new
    finally:
        old.cleanup()
        new.cleanup()


def two_hosts(old: Throwaway, new: Throwaway) -> str:
    return (
        f"host=127.0.0.1,127.0.0.1 port={old.port},{new.port} user=postgres dbname=postgres "
        "target_session_attrs=read-write"
    )


class Vendor:
    """Delivers ``body(n)`` until it is acknowledged (bounded), recording every answer."""

    def __init__(self) -> None:
        self.answers: list[kw.Outcome] = []
        self.acknowledged: list[str] = []

    def record(self, outcome: kw.Outcome) -> bool:
        self.answers.append(outcome)
        if outcome.ok:
            self.acknowledged.append(outcome.delivery_id or "")
            return True
        assert outcome.status_code == 503, outcome.status_code
        assert isinstance(outcome.error, StoreError)
        assert outcome.retry_after is not None
        assert "Traceback" not in json.dumps(outcome.response_body())
        return False

    def failures(self) -> list[str]:
        return [str(o.error) for o in self.answers if not o.ok]


def unfinished(server: Throwaway) -> int:
    rows = query(server.dsn, "SELECT count(*) FROM kyc_webhooks.deliveries WHERE state <> 'done'")
    return int(str(rows[0][0]))


def check_recovered(
    old: Throwaway, new: Throwaway, vendor: Vendor, handled: list[str], before: int
) -> None:
    # A call that meets a connection to the old primary closes it and goes on with another (the
    # pool replaces it): with the new primary writable, no call fails.
    assert vendor.failures() == []
    # Every completion recorded: no handled delivery waits for its lease to expire (to be
    # handled again then).
    assert unfinished(old) == 0
    assert unfinished(new) == 0
    # Acknowledged once stored: the first ones on the old primary, the rest on the new one; each
    # delivery handled once.
    assert set(vendor.acknowledged[:before]) <= done(old)
    assert set(vendor.acknowledged[before:]) <= done(new)
    assert len(set(vendor.acknowledged)) == len(vendor.acknowledged)
    assert sorted(handled) == sorted(set(handled))
    assert len(handled) == len(vendor.acknowledged)


def test_a_primary_turned_read_only_is_left_for_the_new_one(
    servers: tuple[Throwaway, Throwaway],
) -> None:
    old, new = servers
    store = PostgresStore(two_hosts(old, new), timeout=2, max_size=MAX_SIZE)
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    handled: list[str] = []

    def handler(event: kw.WebhookEvent) -> None:
        time.sleep(0.05)  # concurrent deliveries: the pool opens several connections
        handled.append(event.delivery_key)

    receiver.on("idenfy")(handler)
    vendor = Vendor()
    try:
        with ThreadPoolExecutor(MAX_SIZE) as workers:
            first = list(workers.map(lambda n: receiver.handle(*body(n)), range(6)))
        assert all(vendor.record(outcome) for outcome in first)
        assert sessions(old) >= 2
        assert sessions(new) == 0

        read_only(old, True)  # the switchover: the old primary takes no more writes
        applied(store._current_pool())
        deadline = time.monotonic() + 15
        for n in range(6, 6 + 2 * MAX_SIZE):
            while not vendor.record(receiver.handle(*body(n))):
                assert time.monotonic() < deadline, f"never recovered: {vendor.failures()[-1]}"
                time.sleep(0.05)
        # None of the pool's connections is left on the old primary.
        assert sessions_become(old, 0) == 0
        check_recovered(old, new, vendor, handled, before=6)
    finally:
        store.close()


def test_the_async_pool_leaves_a_primary_turned_read_only(
    servers: tuple[Throwaway, Throwaway],
) -> None:
    old, new = servers
    store = PostgresStore(two_hosts(old, new), timeout=2, max_size=MAX_SIZE)
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    handled: list[str] = []

    async def handler(event: kw.WebhookEvent) -> None:
        await asyncio.sleep(0.05)
        handled.append(event.delivery_key)

    receiver.on("idenfy")(handler)
    vendor = Vendor()

    async def main() -> None:
        store.migrate()  # the schema check, once per store, is a sync call: done before
        await store.open_async()
        try:
            assert store.native_async()
            first = await asyncio.gather(*(receiver.handle_async(*body(n)) for n in range(6)))
            assert all(vendor.record(outcome) for outcome in first)
            assert sessions(old) >= 2
            assert sessions(new) == 0

            read_only(old, True)
            assert store._apool is not None
            await applied_async(store._apool)
            deadline = time.monotonic() + 15
            for n in range(6, 6 + 2 * MAX_SIZE):
                while not vendor.record(await receiver.handle_async(*body(n))):
                    assert time.monotonic() < deadline, f"never recovered: {vendor.failures()[-1]}"
                    await asyncio.sleep(0.05)
            # The async pool's new connections are the new primary's (the sync pool, unused since
            # the schema check, keeps its own on the old one: it is not counted here).
            assert sessions(new) >= 1
        finally:
            await store.close_async()

    try:
        asyncio.run(main())
        check_recovered(old, new, vendor, handled, before=6)
    finally:
        store.close()
