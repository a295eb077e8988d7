# ruff: noqa: S608 -- statements name the generated test schemas (kw_test_<pid>_<hex>).
"""PostgresStore specifics: its schema and migrations, the database's clock, failures (server
down, connection reset, lock and statement timeouts, a restarted server), erasure, and the
multi-process guarantees -- processes racing for one delivery and for 400, and a worker killed
with SIGKILL inside a handler (docs/scaling-out.md).

The store contract itself runs on PostgreSQL in test_store_contract.py. Every test here uses a
schema of its own on the server named by KYC_TEST_POSTGRES_DSN (tests/_postgres.py) and skips,
naming PostgreSQL, when it is unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from _ledger import claimed, entry
from _postgres import (
    SERVICE_SKIP,
    drop_schema,
    new_schema,
    postgres_store,
    require_pgbouncer,
    require_postgres,
    sql,
    watched_pool,
)
from kyc_webhooks.errors import StoreError, UsageError
from kyc_webhooks.store import DeliveryState, NewDelivery, PostgresStore
from kyc_webhooks.testing import sample_payload, sign

KEY = "test-signing-key"
EVENT_TYPE = "IDENTIFICATION_AUTO_FINISHED"
PAYLOAD = {"scanRef": "scan-race", "clientId": "client-1", "final": True}


def new(key: str = "k1", body: bytes = b"{}") -> NewDelivery:
    return NewDelivery(delivery_key=key, vendor="idenfy", event_type=EVENT_TYPE, body=body)


@pytest.fixture
def store() -> Iterator[PostgresStore]:
    with postgres_store() as made:
        yield made


def _wait_for(path: Path, seconds: float, *, written: bool = False) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and (not written or path.stat().st_size > 0):
            return True
        time.sleep(0.01)
    return False


# -- import and construction -------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(socket, "TCP_USER_TIMEOUT"), reason="Linux socket options")
@pytest.mark.parametrize(("timeout", "idle"), [(5.0, 5), (0.5, 1), (12.3, 13)])
def test_a_vanished_server_is_noticed_by_the_connections_themselves(
    timeout: float, idle: int
) -> None:
    """statement_timeout and lock_timeout are the server's: a server that vanishes without
    closing the connection (a frozen VM, a partition, an old primary gone after a failover) left
    a call waiting ~15 minutes for the kernel's retransmissions -- a `process --loop` worker that
    SIGTERM could not stop (review R29). Every connection of the store's pools carries TCP
    keepalives and a TCP user timeout, set on the socket itself (read back from the kernel)."""
    with postgres_store(timeout=timeout) as store:
        store.migrate()
        with store._current_pool().connection() as conn:
            probe = socket.socket(fileno=os.dup(conn.pgconn.socket))
            try:
                options = {
                    "keepalive": probe.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                    "idle": probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                    "interval": probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                    "count": probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
                    "user_timeout": probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
                }
            finally:
                probe.close()  # the duplicate only
    assert options == {
        "keepalive": 1,
        "idle": idle,
        "interval": 1,
        "count": 3,
        "user_timeout": (idle + 3) * 1000,
    }


def test_the_export_does_not_import_psycopg() -> None:
    probe = (
        "import sys, kyc_webhooks as kw, kyc_webhooks.store as s\n"
        "assert kw.PostgresStore is s.PostgresStore\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('psycopg', 'psycopg_pool')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


def test_without_psycopg_the_name_resolves_and_building_names_the_extra() -> None:
    probe = (
        "import sys\n"
        "sys.modules['psycopg'] = None  # as if not installed\n"
        "import kyc_webhooks as kw\n"
        "from kyc_webhooks import *\n"
        "try:\n"
        "    kw.PostgresStore('postgresql://app@db/app')\n"
        "except kw.ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert "the postgres extra" in out.stdout


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"schema": "Kyc"}, id="upper-case-schema"),
        pytest.param({"schema": "a;drop"}, id="sql-in-schema"),
        pytest.param({"schema": ""}, id="empty-schema"),
        pytest.param({"timeout": 0}, id="zero-timeout"),
        pytest.param({"timeout": True}, id="bool-timeout"),
        pytest.param({"max_size": 0}, id="zero-pool"),
    ],
)
def test_bad_arguments_are_usage_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        PostgresStore("postgresql://postgres@127.0.0.1:1/test", **kwargs)


@pytest.mark.parametrize(
    "target", ["nonsense", "foo=bar", 42], ids=["bad-dsn", "bad-option", "int"]
)
def test_bad_target_is_a_usage_error(target: object) -> None:
    with pytest.raises(UsageError):
        PostgresStore(target)  # type: ignore[arg-type]


def test_repr_and_messages_never_show_the_password() -> None:
    store = PostgresStore("postgresql://app:s3cret-pw@127.0.0.1:1/app", timeout=0.5)
    try:
        assert "s3cret-pw" not in repr(store)
        with pytest.raises(StoreError) as caught:
            store.add(new())
        assert "s3cret-pw" not in str(caught.value)
        assert "127.0.0.1:1/app" in str(caught.value)
    finally:
        store.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:Zq/9s3cret-pw@127.0.0.1:1/app",
        "postgresql://app:p@s3cret-pw@127.0.0.1:1/app",
        "postgres://app:p@s3cret/pw@127.0.0.1:1/app?sslmode=disable",
    ],
    ids=["slash-in-password", "at-in-password", "both"],
)
def test_a_url_libpq_would_misread_is_refused_before_connecting(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """libpq reads a password holding an unencoded ``/`` or ``@`` as part of the host, port or
    database name, and the pool's own log lines print that "host": refused at construction,
    naming the fix, quoting nothing of it."""
    with pytest.raises(UsageError, match="percent-encode") as caught:
        PostgresStore(url, timeout=0.5)
    assert "s3cret" not in str(caught.value)
    assert "s3cret" not in caplog.text


def test_messages_of_a_pool_whose_address_holds_a_password_show_none_of_it() -> None:
    """A pool of yours built from such a URL: the store's messages name no host, port or
    database (libpq read parts of the password as them)."""
    from psycopg_pool import ConnectionPool

    pool: Any = ConnectionPool(
        "postgresql://app:Zq/9s3cret-pw@127.0.0.1:1/app", min_size=0, max_size=1, open=False
    )
    store = PostgresStore(pool, timeout=0.5)
    try:
        assert repr(store) == "PostgresStore(PostgreSQL, schema='kyc_webhooks')"
    finally:
        store.close()


@pytest.mark.parametrize(
    "key", ["scan\x00ref", "scan\udcffref", "Jūratė"], ids=["nul", "lone-surrogate", "non-ascii"]
)
def test_keys_postgresql_text_cannot_hold_are_stored_and_deduplicated(
    store: PostgresStore, key: str
) -> None:
    """PostgreSQL text holds no NUL and no lone surrogate: such a key is stored escaped, the same
    way every time, instead of failing (a 503 forever) or escaping as a UnicodeEncodeError."""
    headers = (("x-name", "a\x00b\udcffc"),)
    first = store.add(
        NewDelivery(delivery_key=key, vendor="idenfy", event_type="T\x00", body=b"{}",
                    headers=headers),
        lease=30,
    )  # fmt: skip
    assert first.claim is not None
    assert first.record.headers == headers  # headers round-trip exactly (JSON escapes)
    assert store.complete(first.claim)
    again = store.add(new(key), lease=30)
    assert not again.created
    assert again.claim is None
    assert again.record.done
    found = store.get_by_key(key)
    assert found is not None
    assert found.id == first.record.id


def test_a_closed_store_refuses_work() -> None:
    with postgres_store() as made:
        made.add(new())
        made.close()
        made.close()  # twice is harmless
        with pytest.raises(StoreError, match="closed"):
            made.get_by_key("k1")


# -- schema and migrations ---------------------------------------------------------------------


def test_tables_live_in_their_own_versioned_schema(store: PostgresStore) -> None:
    store.add(new())
    tables = sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
        "ORDER BY table_name",
        store.schema,
    )
    assert tables == [("decisions",), ("deliveries",), ("migrations",)]
    rows = sql(f"SELECT version, description FROM {store.schema}.migrations ORDER BY version")
    assert rows == [
        (1, "deliveries table"),
        (2, "decisions ledger"),
        (3, "index keys of bounded width"),
        (4, "decision ledger: the verdict last announced"),
    ]
    assert store.schema_version() == 4
    assert store.migrate() == 4  # explicit migration of a current schema changes nothing
    assert sql(f"SELECT count(*) FROM {store.schema}.migrations") == [(4,)]


def test_two_schemas_on_one_database_are_separate_stores(schema: str) -> None:
    other = new_schema()
    dsn = require_postgres()
    try:
        with PostgresStore(dsn, schema=schema) as a, PostgresStore(dsn, schema=other) as b:
            a.add(new("k1"))
            assert b.get_by_key("k1") is None
            assert b.add(new("k1")).created
    finally:
        drop_schema(other)


def test_processes_starting_together_migrate_once(schema: str) -> None:
    """Eight stores (own pools, own connections) migrate a fresh schema at the same moment: the
    advisory lock lets one create it; the others find it done."""
    dsn = require_postgres()
    count = 8
    barrier = threading.Barrier(count, timeout=30)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def start() -> None:
        made = PostgresStore(dsn, schema=schema)
        try:
            barrier.wait()
            made.migrate()
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            made.close()

    pool = [threading.Thread(target=start) for _ in range(count)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    assert errors == []
    assert sql(f"SELECT version FROM {schema}.migrations ORDER BY version") == [
        (1,),
        (2,),
        (3,),
        (4,),
    ]


def test_a_role_without_create_privilege_uses_a_migrated_schema(schema: str) -> None:
    """Least privilege: once the schema is current, the app's role needs only USAGE on the schema
    and DML on the tables -- no CREATE on the database (a new role has none by default; no DDL
    runs at start-up)."""
    dsn = require_postgres()
    with PostgresStore(dsn, schema=schema) as owner:
        owner.migrate()
    with _runtime_role(dsn, schema) as app_dsn, PostgresStore(app_dsn, schema=schema) as app:
        added = app.add(new(), lease=30)
        assert added.claim is not None
        assert app.complete(added.claim)
        assert app.erase(added.record.id)  # VACUUM is skipped with a warning: not the owner


@contextlib.contextmanager
def _runtime_role(dsn: str, schema: str) -> Iterator[str]:
    """A login role of its own with what docs/scaling-out.md gives the application -- USAGE on
    the schema, DML on its tables, no DDL -- as a connection string; dropped at the end."""
    from psycopg import conninfo as psycopg_conninfo

    role = f"kw_test_role_{os.getpid()}_{secrets.token_hex(3)}"
    sql(f"CREATE ROLE {role} LOGIN")
    try:
        sql(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}")
        yield psycopg_conninfo.make_conninfo(dsn, user=role)
    finally:
        sql(f"DROP OWNED BY {role}")
        sql(f"DROP ROLE {role}")


def test_a_migration_that_cannot_run_says_so_and_why(schema: str) -> None:
    """A migration's failure came out as "add failed: InsufficientPrivilege, SQLSTATE 42501" or
    "DuplicateTable, SQLSTATE 42P07", no word of a migration, and as a StoreError (exit 3, "try
    again") though neither passes by itself (review R38)."""
    dsn = require_postgres()
    from _postgres_layouts import make_layout

    # An older store, opened by a role that may not alter its tables.
    make_layout(schema, 2)
    with _runtime_role(dsn, schema) as app_dsn:
        app = PostgresStore(app_dsn, schema=schema)
        with app, pytest.raises(kw.StoreSchemaError) as info:
            app.add(new())
    assert "migrating schema" in info.value.message
    assert "run `kyc-webhooks migrate` as the schema's owner" in info.value.message
    # A schema holding another application's table of the same name.
    other = f"{schema}_other"
    sql(f"CREATE SCHEMA {other}")
    try:
        sql(f"CREATE TABLE {other}.deliveries (id integer)")
        with PostgresStore(dsn, schema=other) as store, pytest.raises(kw.StoreSchemaError) as info:
            store.migrate()
        assert "a schema of its own" in info.value.message
        assert sql(f"SELECT to_regclass('{other}.migrations') IS NULL") == [(True,)]
    finally:
        sql(f"DROP SCHEMA {other} CASCADE")


def test_a_newer_schema_is_refused(schema: str) -> None:
    dsn = require_postgres()
    with PostgresStore(dsn, schema=schema) as first:
        first.migrate()
    sql(f"INSERT INTO {schema}.migrations (version, description) VALUES (99, 'future')")
    with PostgresStore(dsn, schema=schema) as second, pytest.raises(StoreError, match="99"):
        second.add(new())


def test_create_false_opens_only_an_existing_store(schema: str) -> None:
    """``create=False`` (``kyc-webhooks process``): a schema without the store's tables is
    refused, never created -- neither the schema nor tables in an empty one; ``migrate()``
    still creates it, and then the store works."""
    dsn = require_postgres()

    def tables() -> list[tuple[Any, ...]]:
        return sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", schema
        )

    def schema_exists() -> bool:
        return bool(sql("SELECT 1 FROM pg_namespace WHERE nspname = %s", schema))

    with PostgresStore(dsn, schema=schema, create=False) as opened:
        assert opened.schema_version() == 0
        with pytest.raises(StoreError, match="create=False") as raised:
            opened.claim_next(lease=30)
        assert schema in raised.value.message
        assert not schema_exists()
        sql(f"CREATE SCHEMA {schema}")  # a schema of that name, without the store's tables
        assert opened.schema_version() == 0
        with pytest.raises(StoreError, match="create=False"):
            opened.add(new())
        assert tables() == []
        assert opened.migrate() == 4  # an explicit migration creates
        added = opened.add(new(), lease=30)
        assert added.claim is not None
        assert opened.complete(added.claim)
    with PostgresStore(dsn, schema=schema, create=False) as again:
        assert again.schema_version() == 4
        record = again.get(added.record.id)
        assert record is not None
        assert record.state is DeliveryState.DONE


def test_a_pool_passed_in_is_used_and_left_open(schema: str) -> None:
    from psycopg_pool import ConnectionPool

    dsn = require_postgres()
    # Without autocommit: the pool commits each call's transaction.
    with ConnectionPool(dsn, min_size=1, max_size=2, open=True) as pool:
        with PostgresStore(pool, schema=schema) as made:
            added = made.add(new(), lease=30)
            assert added.claim is not None
            assert made.complete(added.claim)
            assert made.erase(added.record.id)
        assert not pool.closed
        with pool.connection() as conn:
            row = conn.execute(f"SELECT state, body FROM {schema}.deliveries").fetchone()
    assert row == ("done", None)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_builds_its_own_pool_and_spares_the_parents(
    store: PostgresStore,
) -> None:
    """gunicorn --preload: a store used before fork() works in the child on a pool of its own,
    and the parent's connections survive the child (no one closes them on the shared socket)."""
    store.add(new("parent"))
    # The sessions of this test's store: their application name is its schema (postgres_store).
    query = "SELECT pid FROM pg_stat_activity WHERE application_name = %s"
    mark = store.schema
    before = {pid for (pid,) in sql(query, mark)}
    assert before  # the parent's session
    with warnings.catch_warnings():
        # Python 3.12+ warns that fork() in a process with threads (the pool's) may deadlock.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover -- the child; its result is its exit code
        code = 1
        try:
            signal.alarm(30)
            added = store.add(new("child"), lease=30)
            code = 0 if added.claim is not None and store.complete(added.claim) else 2
            if not {pid for (pid,) in sql(query, mark)} - before:
                code = 3  # the child used the parent's connections instead of its own
            store.close()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    record = store.get_by_key("child")
    assert record is not None
    assert record.done
    assert before <= {pid for (pid,) in sql(query, mark)}  # the parent's sessions are still there


# -- the database's clock ----------------------------------------------------------------------


def test_times_and_leases_come_from_the_database_clock(store: PostgresStore) -> None:
    (before,) = sql("SELECT statement_timestamp()")[0]
    added = store.add(new(), lease=45)
    (after,) = sql("SELECT statement_timestamp()")[0]
    record = added.record
    assert before <= record.received_at <= after
    assert record.lease_until == record.received_at + timedelta(seconds=45)
    assert store.now() >= after
    # A lease in the database's past is expired for every host, whatever its own clock says.
    sql(
        f"UPDATE {store.schema}.deliveries SET lease_until = statement_timestamp() "
        "- interval '1 second'"
    )
    taken = store.add(new(), lease=45)
    assert taken.claim is not None
    assert taken.claim.previous_state is DeliveryState.PROCESSING


# -- failures ----------------------------------------------------------------------------------


def test_an_unreachable_server_is_a_503_not_a_crash() -> None:
    store = PostgresStore("postgresql://postgres@127.0.0.1:1/test", timeout=0.5)
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    ran: list[int] = []
    receiver.on("idenfy")(lambda event: ran.append(1))
    try:
        outcome = receiver.handle(*sign("idenfy", PAYLOAD, KEY, event_type=EVENT_TYPE))
    finally:
        store.close()
    assert outcome.status_code == 503
    assert isinstance(outcome.error, StoreError)
    assert outcome.response_body()["detail"] == "delivery store unavailable; retry later"
    assert ran == []


@pytest.mark.parametrize("named", ["default", "target", "PGAPPNAME"])
def test_sessions_are_named_kyc_webhooks_unless_the_target_names_them(
    named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pg_stat_activity and the server's logs name the store's sessions "kyc_webhooks"; an
    application_name in the target (or PGAPPNAME) is the operator's and wins. Before, the store's
    own name overrode it."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    own = f"app_{secrets.token_hex(6)}"
    params = conninfo_to_dict(require_postgres())
    params.pop("application_name", None)  # a developer's own, in the test server's address
    dsn = make_conninfo(**params)  # type: ignore[arg-type]
    monkeypatch.delenv("PGAPPNAME", raising=False)
    if named == "target":
        dsn = make_conninfo(dsn, application_name=own)
    elif named == "PGAPPNAME":
        monkeypatch.setenv("PGAPPNAME", own)
    schema = new_schema()
    store = PostgresStore(dsn, schema=schema)
    try:
        store.add(new("k1"))
        (name,) = sql(
            "SELECT application_name FROM pg_stat_activity "
            "WHERE strpos(query, %s) > 0 AND pid <> pg_backend_pid()",
            f"{schema}.",
        )[0]
    finally:
        store.close()
        drop_schema(schema)
    assert name == ("kyc_webhooks" if named == "default" else own)


def test_a_connection_reset_is_retried_on_a_fresh_connection(store: PostgresStore) -> None:
    store.add(new("k1"))
    killed = sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
        store.schema,  # this store's sessions only (postgres_store): other runs share the server
    )
    assert killed
    assert all(ok for (ok,) in killed)
    # Every pooled connection is dead now; the call still succeeds.
    added = store.add(new("k2"), lease=30)
    assert added.claim is not None
    assert store.complete(added.claim)
    assert store.stats()["total"] == 2


def test_a_lock_held_past_the_timeout_is_a_store_error(schema: str) -> None:
    dsn = require_postgres()
    import psycopg

    with PostgresStore(dsn, schema=schema, timeout=0.3) as store:
        first = store.add(new(), lease=30)
        assert first.claim is not None
        with psycopg.connect(dsn) as holder:  # a transaction holding the row lock
            holder.execute(f"SELECT 1 FROM {schema}.deliveries FOR UPDATE")
            with pytest.raises(StoreError, match="complete failed"):
                store.complete(first.claim)
            holder.rollback()
        assert store.complete(first.claim)  # and the store works again at once


def test_a_statement_timeout_is_a_store_error(schema: str) -> None:
    dsn = require_postgres()
    with PostgresStore(dsn, schema=schema, timeout=0.3) as store:
        store.add(new())
        # A slow table: every row read sleeps longer than the statement timeout.
        sql(
            f"CREATE FUNCTION {schema}.slow() RETURNS boolean LANGUAGE sql "
            "AS 'SELECT pg_sleep(2) IS NOT NULL'"
        )
        sql(f"ALTER TABLE {schema}.deliveries RENAME TO deliveries_real")
        sql(
            f"CREATE VIEW {schema}.deliveries AS SELECT * FROM {schema}.deliveries_real "
            f"WHERE {schema}.slow()"
        )
        with pytest.raises(StoreError, match="statement timeout"):
            store.get_by_key("k1")


# -- erasure -----------------------------------------------------------------------------------


def test_erase_nulls_the_body_and_vacuums_the_old_row_versions(store: PostgresStore) -> None:
    body = b'{"scanRef":"s1","docFirstName":"J\xc5\xabrat\xc4\x97"}' * 200
    record = store.add(new(body=body)).record
    assert store.erase(record.id)
    table = f"{store.schema}.deliveries"
    assert sql(f"SELECT body IS NULL, body_erased_at IS NOT NULL FROM {table}") == [(True, True)]
    (vacuums,) = sql(
        "SELECT vacuum_count FROM pg_stat_user_tables WHERE schemaname = %s "
        "AND relname = 'deliveries'",
        store.schema,
    )[0]
    assert vacuums >= 1
    assert not store.erase("no-such-id")


def _vacuums(schema: str) -> int:
    (count,) = sql(
        "SELECT vacuum_count FROM pg_stat_user_tables WHERE schemaname = %s "
        "AND relname = 'deliveries'",
        schema,
    )[0]
    return int(count)


def test_a_pool_not_in_autocommit_still_vacuums_after_an_erasure(schema: str) -> None:
    from psycopg_pool import ConnectionPool

    pool: Any = ConnectionPool(
        require_postgres(),
        min_size=1,
        max_size=1,
        open=True,
        kwargs={"options": "-c statement_timeout=4321"},
    )
    store = PostgresStore(pool, schema=schema)
    try:
        erased = store.add(new(key="e1", body=b'{"n":"x"}' * 300)).record
        kept = store.add(new(key="k1", body=b'{"n":"y"}')).record
        assert store.erase(erased.id)
        assert _vacuums(schema) >= 1  # was skipped: VACUUM needs autocommit
        assert store.get(erased.id).body is None  # type: ignore[union-attr]
        assert store.get(kept.id).body == b'{"n":"y"}'  # type: ignore[union-attr]
        with pool.connection() as conn:  # the connection went back as the pool's owner left it
            assert not conn.autocommit
            assert conn.execute("SHOW statement_timeout").fetchone() == ("4321ms",)
    finally:
        store.close()
        pool.close()


def test_an_erasure_called_again_after_its_vacuum_failed_runs_the_vacuum(schema: str) -> None:
    """A VACUUM that fails (here: the table locked past lock_timeout) leaves the erasure
    committed and the old row versions in place; calling the same erasure again -- nothing
    left to erase now -- must still run it: erase(), erase_bodies() and purge() alike."""
    import psycopg

    store = PostgresStore(require_postgres(), schema=schema, timeout=1)
    try:
        ids = [store.add(new(key=f"v{n}", body=b'{"n":"x"}' * 300)).record.id for n in range(3)]
        later = datetime.now(timezone.utc) + timedelta(minutes=1)  # after every record
        calls: list[Callable[[], object]] = [
            lambda: store.erase(ids[0]),
            lambda: store.erase_bodies(older_than=later),
            lambda: store.purge(older_than=later),
        ]
        for call in calls:
            before = _vacuums(schema)
            with psycopg.connect(require_postgres()) as locker:
                locker.execute(f"LOCK TABLE {schema}.deliveries IN SHARE UPDATE EXCLUSIVE MODE")
                with pytest.raises(StoreError, match="vacuum"):
                    call()
            assert _vacuums(schema) == before
            call()  # the retry: nothing new to erase, the VACUUM is still owed
            assert _vacuums(schema) == before + 1
        assert sql(f"SELECT count(*) FROM {schema}.deliveries") == [(0,)]
    finally:
        store.close()


def test_a_forget_called_again_after_its_vacuum_failed_vacuums_the_deliveries(
    schema: str,
) -> None:
    """Review R55: forget() erases the bodies (erase: VACUUM), then removes the ledger entries.
    When that VACUUM fails, the call raises; its retry finds no body left to erase -- the VACUUM
    of the deliveries, whose old row versions hold the bodies, must still run."""
    import psycopg

    store = PostgresStore(require_postgres(), schema=schema, timeout=1)
    receiver = kw.Receiver(kw.Idenfy(signing_key="k"), store=store)
    receiver.on("idenfy")(lambda event: None)
    try:
        payload = sample_payload("idenfy", "IDENTIFICATION_AUTO_FINISHED")
        payload["clientId"] = "client-r55"
        signed = sign("idenfy", payload, "k", event_type="IDENTIFICATION_AUTO_FINISHED")
        assert receiver.handle(*signed).status_code == 200
        before = _vacuums(schema)
        with psycopg.connect(require_postgres()) as locker:
            locker.execute(f"LOCK TABLE {schema}.deliveries IN SHARE UPDATE EXCLUSIVE MODE")
            with pytest.raises(StoreError, match="vacuum"):
                receiver.decisions.forget(client_ref="client-r55")
        assert _vacuums(schema) == before
        assert sql(f"SELECT count(*) FROM {schema}.deliveries WHERE body IS NULL") == [(1,)]
        receiver.decisions.forget(client_ref="client-r55")  # the retry the docs advise
        assert _vacuums(schema) == before + 1
        assert receiver.decisions.latest("idenfy", payload["scanRef"]) is None
    finally:
        store.close()


# -- which commits wait for the WAL flush ------------------------------------------------------


def _commit_levels(schema: str) -> tuple[Any, list[tuple[str, str]]]:
    """A pool whose connections note, after every statement, the ``synchronous_commit`` in force
    -- the level the server applies when that transaction commits. A statement sent in autocommit
    runs in an explicit transaction here, so that the level can be read before its commit."""
    from psycopg.pq import TransactionStatus

    levels: list[tuple[str, str]] = []

    def note(conn: Any, text: str, params: Any, run: Callable[[], Any]) -> Any:
        text = " ".join(text.split()).replace(f"{schema}.", "")
        idle = conn.info.transaction_status == TransactionStatus.IDLE
        with conn.transaction() if idle else contextlib.nullcontext():
            cursor = run()
            row = conn.execute("SHOW synchronous_commit").fetchone()
            assert row is not None
            levels.append((text, str(row[0])))
        return cursor

    pool = watched_pool(schema, note)
    return pool, levels


def _level(levels: list[tuple[str, str]], prefix: str) -> list[str]:
    return [level for text, level in levels if text.startswith(prefix)]


ADD_CLAIM = "WITH ins AS (INSERT INTO deliveries AS d"
SUBJECT_LEASE = "INSERT INTO decisions AS c (subject_hash, vendor, subject, lease_token"
ADD_SUBJECT_LEASE = "lease AS (" + SUBJECT_LEASE
COMPLETE = "WITH done AS (UPDATE deliveries SET state = 'done'"  # with the ledger's entry


def test_only_failures_and_lease_releases_skip_the_wal_flush(schema: str) -> None:
    # docs/delivery-guarantees.md, "Durability of PostgresStore": claims and subject leases wait
    # for the flush (a server crash must not hand a running delivery to a second worker), as do
    # the completion before the 200 and the deferred insert before the 202; only a failure and
    # the release of a subject lease (safe to lose: the lease expires) commit asynchronously.
    pool, levels = _commit_levels(schema)
    with pool, PostgresStore(pool, schema=schema) as made:
        made.migrate()
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=made)
        receiver.on("idenfy")(lambda event: None)
        verdict = {**PAYLOAD, "status": {"overall": "APPROVED"}}
        assert receiver.handle(*sign("idenfy", verdict, KEY, event_type=EVENT_TYPE)).ok
        # The claim and the subject lease are one statement (add with the decision): flushed.
        assert _level(levels, ADD_CLAIM) == ["on"]
        assert [level for text, level in levels if ADD_SUBJECT_LEASE in text] == ["on"]
        assert _level(levels, SUBJECT_LEASE) == []
        assert _level(levels, COMPLETE) == ["on"]

        levels.clear()
        deferred = kw.Receiver(kw.Idenfy(signing_key=KEY), store=made, defer=True)
        payload = {**PAYLOAD, "scanRef": "scan-deferred"}
        assert (
            deferred.handle(*sign("idenfy", payload, KEY, event_type=EVENT_TYPE)).status_code == 202
        )
        assert _level(levels, "WITH ins AS (INSERT") == ["on"]

        # A worker's claim waits; a failure (500: the vendor or the worker retries) does not.
        levels.clear()
        claim = made.claim_next(lease=30)
        assert claim is not None
        assert made.fail(claim, error_type="E", error_message="boom")
        assert _level(levels, "WITH next AS") == ["on"]
        assert _level(levels, "UPDATE deliveries SET state = CASE") == ["off"]

        # A subject lease is taken with the flush and released without it.
        levels.clear()
        lease_claim = claimed(made)
        ticket = made.begin_decision(
            lease_claim, entry(lease_claim, subject="scan-abort"), lease=30
        )
        assert ticket is not None
        made.abort_decision(ticket)
        assert _level(levels, SUBJECT_LEASE) == ["on"]
        assert _level(levels, "WITH gone AS (DELETE FROM decisions") == ["off"]
        # The session's own setting is untouched: the level was the statement's transaction's.
        with pool.connection() as conn:
            assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)


# -- async -------------------------------------------------------------------------------------


def test_handle_async_works_on_postgres(store: PostgresStore) -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    ran: list[str] = []

    @receiver.on("idenfy")
    async def handler(event: kw.WebhookEvent) -> None:
        ran.append(event.delivery_key.split(":")[1])

    body, headers = sign("idenfy", PAYLOAD, KEY, event_type=EVENT_TYPE)

    async def main() -> tuple[kw.Outcome, kw.Outcome]:
        return await receiver.handle_async(body, headers), await receiver.handle_async(
            body, headers
        )

    first, again = asyncio.run(main())
    assert (first.status_code, first.duplicate) == (200, False)
    assert (again.status_code, again.duplicate) == (200, True)
    assert ran == ["scan-race"]


# -- many processes ----------------------------------------------------------------------------

# One delivering process with N threads. Mode "same": every thread delivers one signed body until
# a 2xx. Mode "distinct": every thread delivers all COUNT bodies (each thread starts at another
# offset) until each gets a 2xx. The handler appends "<scanRef> <pid>" to a log file (O_APPEND);
# statuses seen are printed as JSON.
WORKER = r"""
import json, os, sys, threading, time
import kyc_webhooks as kw
from kyc_webhooks.testing import sample_payload, sign

dsn, schema, log, start, ready, threads, mode, count, pgbouncer = sys.argv[1:10]
threads, count = int(threads), int(count)
store = kw.PostgresStore(dsn, schema=schema, timeout=30, pgbouncer=pgbouncer == "pgbouncer")
receiver = kw.Receiver(kw.Idenfy(signing_key="test-signing-key"), store=store, lease_timeout=120)

@receiver.on("idenfy")
def handler(event):
    if mode == "same":
        time.sleep(0.3)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, f"{event.scan_ref} {os.getpid()}\n".encode())
    finally:
        os.close(fd)

def body(n):
    return sign("idenfy", {"scanRef": f"scan-{n:04d}", "clientId": "c", "final": True},
                "test-signing-key", event_type="IDENTIFICATION_AUTO_FINISHED")

items = [body(0)] if mode == "same" else [body(n) for n in range(count)]
results = []
lock = threading.Lock()

def run(t):
    deadline = time.monotonic() + 90
    while not os.path.exists(start) and time.monotonic() < deadline:
        time.sleep(0.005)
    offset = (t * 97 + os.getpid()) % len(items)
    for i in range(len(items)):
        b, h = items[(offset + i) % len(items)]
        statuses = []
        for _ in range(400):
            outcome = receiver.handle(b, h)
            error = type(outcome.error).__name__ if outcome.error is not None else None
            statuses.append([outcome.status_code, outcome.duplicate, error])
            if outcome.ok or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        with lock:
            results.append(statuses)

pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
for t in pool:
    t.start()
open(ready, "w").close()
for t in pool:
    t.join(120)
store.close()
print(json.dumps(results))
"""


def _race(
    tmp_path: Path,
    schema: str,
    *,
    processes: int,
    threads: int,
    mode: str,
    count: int = 1,
    via: str = "direct",
) -> list[list[list[Any]]]:
    """Deliveries racing from ``processes`` processes, to the server directly or (``via``
    "pgbouncer") through PgBouncer in transaction pooling."""
    dsn = require_pgbouncer() if via == "pgbouncer" else require_postgres()
    with PostgresStore(dsn, schema=schema, pgbouncer=via == "pgbouncer") as made:
        made.migrate()  # once, before the race (concurrent migration has its own test)
    log, start = tmp_path / "handled.log", tmp_path / "start"
    procs = []
    for n in range(processes):
        ready = tmp_path / f"ready-{n}"
        args = [dsn, schema, str(log), str(start), str(ready), str(threads), mode, str(count), via]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        for n in range(processes):
            assert _wait_for(tmp_path / f"ready-{n}", 60), "a worker process did not start"
        start.touch()
        runs: list[list[list[Any]]] = []
        for proc in procs:
            out, err = proc.communicate(timeout=150)
            assert proc.returncode == 0, err[-2000:]
            runs.extend(json.loads(out))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    return runs


@pytest.mark.parametrize("via", ["direct", "pgbouncer"])
def test_four_processes_by_four_threads_run_the_handler_exactly_once(
    tmp_path: Path, schema: str, via: str
) -> None:
    runs = _race(tmp_path, schema, processes=4, threads=4, mode="same", via=via)
    assert len(runs) == 16
    lines = (tmp_path / "handled.log").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["scan-0000"]
    answers = {(status, error) for run in runs for status, _, error in run}
    assert answers <= {(200, None), (503, "DeliveryInProgressError")}
    assert all(run[-1][0] == 200 for run in runs)  # every delivering thread got its 2xx
    assert sum(1 for run in runs if run[-1] == [200, False, None]) == 1  # others: duplicates
    (state, attempts) = sql(f"SELECT state, attempts FROM {schema}.deliveries")[0]
    assert (state, attempts) == ("done", 1)


@pytest.mark.parametrize("via", ["direct", "pgbouncer"])
def test_four_hundred_deliveries_across_four_processes_each_handled_once(
    tmp_path: Path, schema: str, via: str
) -> None:
    runs = _race(tmp_path, schema, processes=4, threads=1, mode="distinct", count=400, via=via)
    assert len(runs) == 4 * 400
    assert all(run[-1][0] == 200 for run in runs)
    answers = {(status, error) for run in runs for status, _, error in run}
    assert answers <= {(200, None), (503, "DeliveryInProgressError")}
    keys = [line.split()[0] for line in (tmp_path / "handled.log").read_text().splitlines()]
    assert len(keys) == 400
    assert sorted(keys) == [f"scan-{n:04d}" for n in range(400)]
    assert sql(f"SELECT state, count(*) FROM {schema}.deliveries GROUP BY state") == [("done", 400)]
    # More than one process did the work (the deliveries really raced).
    assert (
        len({line.split()[1] for line in (tmp_path / "handled.log").read_text().splitlines()}) > 1
    )


def test_workers_on_separate_pools_process_each_deferred_delivery_once(schema: str) -> None:
    """Four workers, each with its own store and pool (as on four hosts), drain 200 deferred
    deliveries with process_pending(): claim_next's FOR UPDATE SKIP LOCKED hands each record to
    one worker; every delivery is handled exactly once."""
    dsn = require_postgres()
    count, workers = 200, 4
    with PostgresStore(dsn, schema=schema) as inbox:
        front = kw.Receiver(kw.Idenfy(signing_key=KEY), store=inbox, defer=True)
        for n in range(count):
            body, headers = sign(
                "idenfy", {"scanRef": f"scan-{n:03d}", "final": True}, KEY, event_type=EVENT_TYPE
            )
            assert front.handle(body, headers).status_code == 202
    handled: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(workers, timeout=30)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with PostgresStore(dsn, schema=schema, max_size=1) as store:
                receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)

                @receiver.on("idenfy")
                def handler(event: kw.WebhookEvent) -> None:
                    with lock:
                        handled.append(event.delivery_key)

                barrier.wait()
                for _ in range(count):  # bounded: at most one batch per delivery
                    if receiver.process_pending(limit=10).processed == 0:
                        break
        except BaseException as exc:
            with lock:
                errors.append(exc)

    pool = [threading.Thread(target=work) for _ in range(workers)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert errors == []
    assert len(handled) == count
    assert len(set(handled)) == count
    assert sql(f"SELECT state, count(*) FROM {schema}.deliveries GROUP BY state") == [
        ("done", count)
    ]


CRASHER = r"""
import sys, time
import kyc_webhooks as kw
from kyc_webhooks.testing import sample_payload, sign

dsn, schema, marker = sys.argv[1:4]
receiver = kw.Receiver(kw.Idenfy(signing_key="test-signing-key"),
                       store=kw.PostgresStore(dsn, schema=schema), lease_timeout=1)

@receiver.on("idenfy")
def handler(event):
    with open(marker, "a") as f:
        f.write("started\n")
    time.sleep(120)  # killed here

receiver.handle(*sign("idenfy", {"scanRef": "scan-race", "clientId": "client-1", "final": True},
                      "test-signing-key", event_type="IDENTIFICATION_AUTO_FINISHED"))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("recovery", ["redelivery", "worker"])
def test_a_host_killed_inside_a_handler_loses_nothing(
    tmp_path: Path, schema: str, recovery: str
) -> None:
    """Two "hosts": a receiver process with its own pool is SIGKILLed inside the handler; this
    process (another pool, the database's clock) gets 503 while the dead lease runs, then
    completes the delivery exactly once."""
    dsn = require_postgres()
    marker = tmp_path / "started"
    proc = subprocess.Popen([sys.executable, "-c", CRASHER, dsn, schema, str(marker)])
    try:
        assert _wait_for(marker, 60, written=True), "the handler never started"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    with PostgresStore(dsn, schema=schema) as store:
        (stuck,) = store.deliveries()
        assert stuck.state is DeliveryState.PROCESSING
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, lease_timeout=30)
        completed: list[str] = []
        receiver.on("idenfy")(lambda event: completed.append(event.event_type))
        body, headers = sign("idenfy", PAYLOAD, KEY, event_type=EVENT_TYPE)
        seen: list[int] = []
        deadline = time.monotonic() + 30
        for _ in range(300):  # until the dead worker's 1-second lease expires (database clock)
            if recovery == "redelivery":
                outcome = receiver.handle(body, headers)
                seen.append(outcome.status_code)
                if outcome.ok:
                    assert (outcome.handled, outcome.duplicate) == (1, False)
                    break
                assert outcome.retry_after is not None
            elif receiver.process_pending().succeeded == 1:
                break
            assert time.monotonic() < deadline, "the lease never expired"
            time.sleep(0.1)
        assert receiver.handle(body, headers).duplicate
        record = store.get(stuck.id)
    assert completed == [EVENT_TYPE]
    assert set(seen) <= {200, 503}
    assert marker.read_text() == "started\n"
    assert record is not None
    assert (record.state, record.attempts) == (DeliveryState.DONE, 2)


# -- a restarted server ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Throwaway:
    """A private PostgreSQL server (initdb in a temporary directory, 127.0.0.1 and a unix socket
    there), run as the postgres user: PostgreSQL refuses to run as root."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not bins or os.geteuid() != 0 or shutil.which("runuser") is None:
            pytest.skip(
                f"{SERVICE_SKIP} a throwaway PostgreSQL (needs root, runuser and "
                "/usr/lib/postgresql/*/bin)"
            )
        self.bin = Path(bins[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="kyc-pg-"))
        self.dir.chmod(0o755)
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "pg"
        self.port = _free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.started = False  # once: later starts are restarts, on the same port
        try:
            self._as_postgres(
                str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                "--no-sync",
            )  # fmt: skip
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self, *settings: str) -> None:
        """Start the server. Its first start takes another free port when the one looked up at
        construction was bound meanwhile (by another run: the port was let go); a restart keeps
        its port, which the tests' stores connect to."""
        first = not self.started
        for attempt in range(3):  # bounded: three ports
            options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off"
            options += "".join(f" -c {setting}" for setting in settings)
            try:
                self._as_postgres(
                    str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "30",
                    "-l", str(self.dir / "log"), "-o", options, "start",
                )  # fmt: skip
            except subprocess.CalledProcessError:
                log = self.dir / "log"
                taken = log.exists() and "already in use" in log.read_text(errors="replace")
                if not (first and taken) or attempt == 2:
                    raise
                log.unlink()
                self.port = _free_port()
                self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
            else:
                self.started = True
                return

    def stop(self) -> None:
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "30",
            "stop",
        )  # fmt: skip

    def crash(self) -> None:
        """Stop the server the way a crash does: no checkpoint, WAL buffers not written."""
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "-t", "30",
            "stop",
        )  # fmt: skip

    def cleanup(self) -> None:
        pidfile = self.data / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pidfile.read_text().splitlines()[0])
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown of the postmaster we started
            deadline = time.monotonic() + 30
            while pidfile.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def throwaway() -> Iterator[Throwaway]:
    require_postgres()  # same service family: skipped together, failed together in CI
    server = Throwaway()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


def test_a_restarted_server_gives_503s_then_recovers_and_loses_nothing(
    throwaway: Throwaway,
) -> None:
    store = PostgresStore(throwaway.dsn, timeout=0.5)
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    handled: list[str] = []
    receiver.on("idenfy")(lambda event: handled.append(event.delivery_key.split(":")[1]))

    def body(n: int) -> tuple[bytes, dict[str, str]]:
        return sign(
            "idenfy",
            {"scanRef": f"scan-{n:02d}", "clientId": "c", "final": True},
            KEY,
            event_type=EVENT_TYPE,
        )

    try:
        before = [receiver.handle(*body(n)) for n in range(10)]
        assert [o.status_code for o in before] == [200] * 10

        throwaway.stop()
        during = [receiver.handle(*body(n)) for n in range(10, 13)]
        assert [o.status_code for o in during] == [503] * 3
        assert all(isinstance(o.error, StoreError) for o in during)
        assert all("Traceback" not in json.dumps(o.response_body()) for o in during)

        throwaway.start()
        # The vendor retries: the same store object recovers without a restart.
        after: list[int] = []
        deadline = time.monotonic() + 60
        for n in range(10, 13):
            for _ in range(200):
                outcome = receiver.handle(*body(n))
                after.append(outcome.status_code)
                if outcome.ok:
                    break
                assert time.monotonic() < deadline, "the store never recovered"
                time.sleep(0.1)
        assert after.count(200) == 3
        # Acknowledged before the outage: still stored, and redeliveries are duplicates.
        again = [receiver.handle(*body(n)) for n in range(10)]
        assert all(o.status_code == 200 and o.duplicate for o in again)
        assert sorted(handled) == [f"scan-{n:02d}" for n in range(13)]
        assert store.stats() == {
            "pending": 0,
            "processing": 0,
            "done": 13,
            "failed": 0,
            "total": 13,
        }
    finally:
        store.close()


def verdict(subject: str) -> kw.Decision:
    """An approval of ``subject`` (what ``event.decision`` gives the runner)."""
    return kw.Decision(kw.DecisionStatus.APPROVED, True, "idenfy", "T", subject)


def test_claims_and_subject_leases_survive_a_server_crash(throwaway: Throwaway) -> None:
    # The application hosts outlive a crash of the database: a claim or subject lease lost in it
    # would let a second worker run a handler that is still running. With the WAL writer slowed
    # to its maximum, an asynchronous commit would still sit in the WAL buffers at the crash.
    throwaway.stop()
    throwaway.start("wal_writer_delay=10000")
    first = PostgresStore(throwaway.dsn, timeout=5)
    try:
        first.add(NewDelivery(delivery_key="deferred", vendor="idenfy", event_type="T", body=b"{}"))
        claim = first.claim_next(lease=600)
        assert claim is not None
        added = first.add(
            NewDelivery(delivery_key="direct", vendor="idenfy", event_type="T", body=b"{}"),
            lease=600,
        )
        assert added.claim is not None
        ticket = first.begin_decision(added.claim, entry(added.claim, subject="s"), lease=600)
        assert ticket is not None
        # The claim and the subject lease taken in one statement (add with a decision).
        folded = first.add(
            NewDelivery(delivery_key="folded", vendor="idenfy", event_type="T", body=b"{}"),
            lease=600,
            decision=verdict("t"),
        )
        assert folded.claim is not None
        assert folded.ticket is not None
    finally:
        first.close()
    throwaway.crash()
    throwaway.start("wal_writer_delay=10000")

    second = PostgresStore(throwaway.dsn, timeout=5)
    try:
        assert second.claim_next(lease=600) is None  # both deliveries are still claimed
        again = second.add(
            NewDelivery(delivery_key="direct", vendor="idenfy", event_type="T", body=b"{}"),
            lease=600,
        )
        assert not again.created
        assert again.claim is None
        other = claimed(second)
        assert second.begin_decision(other, entry(other, subject="s"), lease=600) is None
        assert second.begin_decision(other, entry(other, subject="t"), lease=600) is None
        refolded = second.add(
            NewDelivery(delivery_key="folded", vendor="idenfy", event_type="T", body=b"{}"),
            lease=600,
            decision=verdict("t"),
        )
        assert refolded.claim is None
        assert refolded.ticket is None
    finally:
        second.close()


def test_an_id_prefix_matches_exactly_whatever_the_ids_hold(store: PostgresStore) -> None:
    """Ids another program may have written, around the range ``deliveries(id_prefix=
    "abcdef19")`` reads (``abcdef19`` to ``abcdef1a``): only the first starts with that prefix."""
    foreign_ids = ("abcdef19" + "a" * 24, "abcdef1:" + "a" * 24, "ABCDEF19" + "b" * 24)
    for n, foreign in enumerate((*foreign_ids, "abcdef1a" + "c" * 24)):
        record = store.add(NewDelivery(f"k{n}", "idenfy", "E", b"{}")).record
        sql(f"UPDATE {store.schema}.deliveries SET id = %s WHERE id = %s", foreign, record.id)
    assert [r.id for r in store.deliveries(id_prefix="abcdef19")] == [foreign_ids[0]]
    assert store.count(id_prefix="abcdef19") == 1
    assert [r.id for r in store.deliveries(id_prefix="abcdef1")] == [
        foreign_ids[0],
        foreign_ids[1],
        "abcdef1a" + "c" * 24,
    ]
    assert store.count(id_prefix="abcdef1") == 3
    assert store.count(id_prefix="abcdef1:") == 0  # not hex: ids are ours
