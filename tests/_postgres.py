"""PostgreSQL for the tests: the server's address, a per-run schema, and the skip that names the
missing service.

The server is ``KYC_TEST_POSTGRES_DSN`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
Every store a test builds lives in its own schema ``kw_test_<pid>_<random>``, dropped afterwards,
so that concurrent runs against one server cannot collide. Without a reachable server the tests
skip with a reason starting with ``SERVICE_SKIP`` (conftest.py turns that skip into a failure when
``KYC_REQUIRE_SERVICES=1``, as in CI).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import cache
from typing import Any

import pytest

#: Prefix of every skip caused by a missing service (checked by the conftest.py guard).
SERVICE_SKIP = "service unavailable:"
DSN = os.environ.get("KYC_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


@cache
def _unreachable() -> str | None:
    """Why the server cannot be used, or None when it can (asked once per test process, 3 tries
    1 s apart: a server short of connections for a moment -- another run's burst -- must not skip,
    or in CI fail, every test of the process)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    import time

    why = ""
    for attempt in range(3):
        if attempt:
            time.sleep(1)
        try:
            with psycopg.connect(DSN, connect_timeout=3, autocommit=True) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            why = f"cannot connect ({type(exc).__name__})"
            continue
        return None
    return why


#: A PgBouncer in transaction pooling in front of that server (``.ci/run`` starts one): the
#: PostgresStore tests that run through it build their stores with ``pgbouncer=True``.
PGBOUNCER_DSN = os.environ.get("KYC_TEST_PGBOUNCER_DSN", "")


@cache
def _pgbouncer_unreachable() -> str | None:
    if not PGBOUNCER_DSN:
        return "KYC_TEST_PGBOUNCER_DSN is not set (.ci/run starts one)"
    import psycopg

    try:
        with psycopg.connect(PGBOUNCER_DSN, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1", prepare=False)
    except psycopg.Error as exc:
        return f"cannot connect ({type(exc).__name__})"
    return None


def require_pgbouncer() -> str:
    """The DSN of the test PgBouncer; skips the test (naming PgBouncer) when there is none."""
    require_postgres()
    why = _pgbouncer_unreachable()
    if why is not None:
        pytest.skip(f"{SERVICE_SKIP} PgBouncer at KYC_TEST_PGBOUNCER_DSN: {why}")
    return PGBOUNCER_DSN


@contextlib.contextmanager
def throwaway_pgbouncer(mode: str) -> Iterator[str]:
    """A PgBouncer of its own in ``mode`` pooling in front of the test server, on a free
    loopback port (as the postgres user when root: PgBouncer refuses to run as root); its DSN.
    Stopped at the end. Skips, naming PgBouncer, without the binary (.ci/run installs it)."""
    import shutil
    import socket
    import subprocess
    import tempfile
    import time
    import urllib.parse
    from pathlib import Path

    url = urllib.parse.urlsplit(require_postgres())
    if shutil.which("pgbouncer") is None:
        pytest.skip(f"{SERVICE_SKIP} PgBouncer: no pgbouncer binary (.ci/run installs it)")
    user = url.username or "postgres"
    folder = Path(tempfile.mkdtemp(prefix="kw-pgbouncer-"))
    (folder / "users.txt").write_text(f'"{user}" ""\n')
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(folder / "users.txt", "postgres")

    def listening(port: int) -> bool:
        """Start PgBouncer on ``port``; whether it listens there. The port was looked up and
        let go, so another run may have bound it meanwhile: then PgBouncer fails to bind and
        exits, and a connection to the port would reach the other run's server. Only
        PgBouncer's own log line says the port is ours."""
        (folder / "pgbouncer.ini").write_text(
            f"[databases]\n* = host={url.hostname or '127.0.0.1'} port={url.port or 5432}\n"
            f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {folder}/users.txt\npool_mode = {mode}\n"
            f"logfile = {folder}/log\npidfile = {folder}/pid\n"
        )
        command = ["pgbouncer", "-d", str(folder / "pgbouncer.ini")]
        if os.geteuid() == 0:
            shutil.chown(folder / "pgbouncer.ini", "postgres")
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, timeout=30, capture_output=True)
        log, deadline, text = folder / "log", time.monotonic() + 10, ""
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace") if log.exists() else ""
            if f"listening on 127.0.0.1:{port}" in text:
                return True
            if "in use" in text and not (folder / "pid").exists():
                log.unlink()
                return False
            time.sleep(0.05)
        raise AssertionError(f"PgBouncer did not start listening: {text[-2000:]}")

    try:
        for _ in range(3):  # bounded: three ports
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            if listening(port):
                break
        else:
            raise AssertionError("PgBouncer found no free port in three tries")
        yield f"postgresql://{user}@127.0.0.1:{port}/{url.path.lstrip('/') or 'test'}"
    finally:
        pid_file = folder / "pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().strip())
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 15)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
        shutil.rmtree(folder, ignore_errors=True)


def require_postgres() -> str:
    """The DSN of the test server; skips the test (naming PostgreSQL) when it is unreachable."""
    why = _unreachable()
    if why is not None:
        pytest.skip(f"{SERVICE_SKIP} PostgreSQL at KYC_TEST_POSTGRES_DSN: {why}")
    return DSN


def new_schema() -> str:
    return f"kw_test_{os.getpid()}_{secrets.token_hex(4)}"


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(DSN, connect_timeout=5, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def sql(query: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run one statement on a fresh connection (outside any store) and return its rows."""
    import psycopg

    with psycopg.connect(DSN, connect_timeout=5, autocommit=True) as conn:
        cur = conn.execute(query, args or None)
        return cur.fetchall() if cur.description is not None else []


@contextlib.contextmanager
def postgres_store(
    clock: Callable[[], datetime] | None = None, *, pgbouncer: bool = False, **kwargs: Any
) -> Iterator[Any]:
    """A PostgresStore in a schema of its own, closed and dropped at the end; with
    ``pgbouncer``, through the test PgBouncer (``pgbouncer=True``)."""
    dsn = require_pgbouncer() if pgbouncer else require_postgres()
    from psycopg.conninfo import make_conninfo

    from kyc_webhooks.store import PostgresStore

    schema = new_schema()
    if pgbouncer:
        kwargs["pgbouncer"] = True
    # Its sessions carry the schema's name (application_name): runs share the server, and a test
    # that counts or ends the store's sessions must see this store's only.
    dsn = make_conninfo(dsn, application_name=schema)
    store = PostgresStore(dsn, schema=schema, clock=clock, **kwargs)
    try:
        yield store
    finally:
        store.close()
        drop_schema(schema)


#: ``watch(conn, text, params, run)``: sees one statement on the watched schema (``text``: its SQL)
#: before it runs; ``run()`` executes it and returns the cursor, which ``watch`` returns in turn.
Watch = Callable[[Any, str, Any, Callable[[], Any]], Any]


def watched_pool(schema: str, watch: Watch) -> Any:
    """A one-connection autocommit pool (open) to the test server whose connection hands every
    statement that names ``schema`` to ``watch``; other statements (those ``watch`` sends itself
    included) run as they are. For tests that count, record or disturb a store's statements."""
    import psycopg
    from psycopg_pool import ConnectionPool

    class Watched(psycopg.Connection[Any]):
        def execute(
            self,
            query: Any,
            params: Any = None,
            *,
            prepare: bool | None = None,
            binary: bool = False,
        ) -> psycopg.Cursor[Any]:
            def run() -> psycopg.Cursor[Any]:
                return super(Watched, self).execute(query, params, prepare=prepare, binary=binary)

            text = str(query)
            if f"{schema}." not in text:
                return run()
            cursor: psycopg.Cursor[Any] = watch(self, text, params, run)
            return cursor

    return ConnectionPool(
        require_postgres(),
        min_size=1,
        max_size=1,
        connection_class=Watched,
        kwargs={"autocommit": True},
        open=True,
    )


@contextlib.contextmanager
def own_database() -> Iterator[str]:
    """A ``postgresql://`` URL of a database of its own on the test server, dropped at the end:
    for a test that must see every schema of a database (the default ``kyc_webhooks`` one
    included) without meeting another run's."""
    import urllib.parse

    import psycopg

    dsn = require_postgres()
    name = new_schema()  # the same unique pattern
    with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield urllib.parse.urlsplit(dsn)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def user_schemas(url: str) -> list[str]:
    """The schemas of the database at ``url`` other than PostgreSQL's own and ``public``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
            "AND nspname NOT IN ('public', 'information_schema') ORDER BY nspname"
        ).fetchall()
    return [row[0] for row in rows]
