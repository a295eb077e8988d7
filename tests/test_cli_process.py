"""``kyc-webhooks process`` as a worker (review R4): ``--loop`` outlives a failing store (a lock
past the store's timeout) and handles what is deferred afterwards; async handlers run in one
event loop for the whole loop, so that a client they share keeps working; ``--store
postgresql://...`` reads the schema of ``--schema`` or of the application's own PostgresStore,
and never creates a schema or tables.

Real parts only: the PostgreSQL server of tests/_postgres.py (schemas of their own, and a
database of its own where the default schema is at stake), SQLite files, ``process`` run as a
child process, a loopback HTTP server."""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

import kyc_webhooks as kw
from _postgres import (
    drop_schema,
    new_schema,
    own_database,
    require_postgres,
    user_schemas,
)
from kyc_webhooks import cli, testing
from kyc_webhooks.store import DeliveryState, PostgresStore, SQLiteStore, Store

SECRET = "cli-process-secret-41c9"
SRC = str(Path(kw.__file__).resolve().parents[1])
#: Stands for a password in a store URL (the test server trusts 127.0.0.1 and ignores it).
PASSWORD = "hunter2-process-9e1f"

#: The handler every application below ends with: one line per handled delivery key.
_MARK = """
MARKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "handled.txt")


def mark(key):
    with open(MARKS, "a") as marks:
        marks.write(key + "\\n")
"""

#: An application whose receiver stores deliveries in PostgreSQL (schema and URL from the
#: environment) with a store timeout of 1 s.
_POSTGRES_APP = """
import os
import kyc_webhooks as kw
from kyc_webhooks import testing

url, schema = os.environ["KW_TEST_URL"], os.environ["KW_TEST_SCHEMA"]
store = kw.PostgresStore(url, schema=schema, timeout=1.0)
receiver = kw.Receiver(*testing.make_vendors({{"complycube": "{secret}"}}), store=store, defer=True)
{mark}

@receiver.on("complycube")
def handle(event):
    mark(event.delivery_key)
"""

#: An application without a store of its own, whose handler is sync.
_PLAIN_APP = """
import os
import kyc_webhooks as kw
from kyc_webhooks import testing

receiver = kw.Receiver(*testing.make_vendors({{"complycube": "{secret}"}}))
{mark}

@receiver.on("complycube")
def handle(event):
    mark(event.delivery_key)
"""

#: An async application whose handler shares module-level asyncio objects: an
#: httpx.AsyncClient (its pooled connection) and an asyncio.Queue, both bound to the event loop
#: they first ran on -- on any other loop they fail ("Event loop is closed", "bound to a
#: different event loop").
_ASYNC_APP = """
import asyncio
import os
import httpx
import kyc_webhooks as kw
from kyc_webhooks import testing

receiver = kw.Receiver(*testing.make_vendors({{"complycube": "{secret}"}}))
client = httpx.AsyncClient(timeout=10)
queue = asyncio.Queue()
{mark}

@receiver.on("complycube")
async def notify(event):
    waiting = asyncio.ensure_future(queue.get())  # an empty queue binds to this loop
    await asyncio.sleep(0)
    queue.put_nowait(event.delivery_key)
    key = await waiting
    response = await client.post(os.environ["KW_TEST_URL"], content=key.encode())
    response.raise_for_status()
    mark(key)
"""


@pytest.fixture(autouse=True)
def in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Writes an application module into the test's directory; returns its name. Modules the
    test imported are dropped, and a store they built is closed, at the end."""
    names: list[str] = []

    def make(source: str) -> str:
        name = f"kwproc{len(names)}_{tmp_path.name.replace('-', '_')}"
        (tmp_path / f"{name}.py").write_text(source.format(secret=SECRET, mark=_MARK))
        names.append(name)
        return name

    yield make
    for name in names:
        module = sys.modules.pop(name, None)
        store = getattr(module, "store", None)
        if store is not None:
            store.close()


def _marks(tmp_path: Path) -> list[str]:
    path = tmp_path / "handled.txt"
    return path.read_text().splitlines() if path.exists() else []


def _state(store: PostgresStore, delivery_id: str) -> DeliveryState | None:
    record = store.get(delivery_id)
    return None if record is None else record.state


def _wait(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _defer(store: Store, number: int) -> str:
    """Store one delivery as a defer=True receiver does (answered 202); returns its id."""
    receiver = kw.Receiver(*testing.make_vendors({"complycube": SECRET}), store=store, defer=True)
    body, headers = testing.signed_delivery(
        "complycube", "check.completed", SECRET, id=f"check-{number}"
    )
    outcome = receiver.handle(body, headers)
    assert outcome.status_code == 202
    assert outcome.delivery_id is not None
    return outcome.delivery_id


class _Worker:
    """``kyc-webhooks process ...`` as a child process in ``cwd``, its stderr in a file that the
    test reads while it runs. Killed at the end if a test left it running."""

    def __init__(self, cwd: Path, *argv: str, env: dict[str, str] | None = None) -> None:
        self.stderr_path = cwd / "worker-stderr.txt"
        path = os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])
        self.stderr_file = self.stderr_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kyc_webhooks", "process", *argv],
            cwd=cwd,
            env={**os.environ, **(env or {}), "PYTHONPATH": path},
            stdout=subprocess.PIPE,
            stderr=self.stderr_file,
            text=True,
        )

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self) -> tuple[int, str, str]:
        """SIGTERM; the exit code, stdout and stderr."""
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, self.stderr()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)
        self.stderr_file.close()


@pytest.fixture
def workers() -> Iterator[Callable[..., _Worker]]:
    started: list[_Worker] = []

    def start(cwd: Path, *argv: str, env: dict[str, str] | None = None) -> _Worker:
        worker = _Worker(cwd, *argv, env=env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.close()


# -- 1. --loop outlives a failing store ---------------------------------------------------------


def test_loop_survives_a_lock_past_the_store_timeout_then_handles_later_deliveries(
    tmp_path: Path,
    schema: str,
    make_app: Callable[[str], str],
    workers: Callable[..., _Worker],
) -> None:
    dsn = require_postgres()
    app = make_app(_POSTGRES_APP)
    url = f"{dsn}{'&' if '?' in dsn else '?'}password={PASSWORD}"
    with PostgresStore(dsn, schema=schema) as store:
        store.migrate()
        worker = workers(
            tmp_path,
            *("--app", f"{app}:receiver", "--loop", "--interval", "0.1", "--max-interval", "0.3"),
            env={"KW_TEST_URL": url, "KW_TEST_SCHEMA": schema},
        )
        assert _wait(lambda: "SIGTERM or Ctrl-C stops" in worker.stderr(), 30), worker.stderr()
        # An operator's lock (a migration, a failover ...) held past the store's 1 s timeout:
        # every batch meanwhile fails with a StoreError.
        with psycopg.connect(dsn, autocommit=False) as conn:
            conn.execute(f"LOCK TABLE {schema}.deliveries IN ACCESS EXCLUSIVE MODE")
            failed = _wait(lambda: worker.stderr().count("error=StoreError") >= 2, 30)
            conn.commit()
        assert failed, worker.stderr()
        assert worker.proc.poll() is None, worker.stderr()
        delivery_id = _defer(store, 1)  # deferred after the lock is gone
        assert _wait(lambda: _marks(tmp_path) == ["complycube:check-1"], 30), worker.stderr()
        # The handler writes its mark before the worker completes the record: wait for that.
        assert _wait(lambda: _state(store, delivery_id) is DeliveryState.DONE, 30)
        code, out, err = worker.stop()
    assert code == cli.EXIT_OK, err
    assert "processed 1: 1 succeeded, 0 failed (stopped)" in out
    assert "Traceback" not in err
    # The log line: the class and the store's message (the operation and the server, with its
    # password masked), nothing of a delivery.
    line = next(line for line in err.splitlines() if "error=StoreError" in line)
    assert " ERROR process: the store failed error=StoreError detail=PostgreSQL store (" in line
    assert "claim_next failed" in line
    assert PASSWORD not in err


# -- 2. async handlers: one event loop for the whole loop ---------------------------------------


class _Ok(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client's pool keeps its connection
    received: list[bytes]

    def do_POST(self) -> None:
        self.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_sink() -> Iterator[tuple[str, list[bytes]]]:
    received: list[bytes] = []
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Ok", (_Ok,), {"received": received})
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_loop_runs_async_handlers_on_one_event_loop(
    tmp_path: Path,
    make_app: Callable[[str], str],
    workers: Callable[..., _Worker],
    http_sink: tuple[str, list[bytes]],
) -> None:
    url, received = http_sink
    app = make_app(_ASYNC_APP)
    path = tmp_path / "q.sqlite3"
    store = SQLiteStore(path)
    try:
        ids = [_defer(store, number) for number in range(3)]
    finally:
        store.close()
    # --limit 1: three batches, one delivery each; then idle waits of 10 s, cut short by SIGTERM.
    worker = workers(
        tmp_path,
        *("--store", "q.sqlite3", "--app", f"{app}:receiver", "--loop", "--limit", "1"),
        *("--interval", "10", "--max-interval", "10"),
        env={"KW_TEST_URL": url},
    )
    assert _wait(lambda: len(_marks(tmp_path)) == 3, 30), worker.stderr()
    started = time.monotonic()
    code, out, err = worker.stop()
    assert time.monotonic() - started < 5, "the idle wait did not end on SIGTERM"
    assert code == cli.EXIT_OK, err
    assert "processed 3: 3 succeeded, 0 failed (stopped)" in out
    assert "Traceback" not in err
    assert sorted(received) == [b"complycube:check-0", b"complycube:check-1", b"complycube:check-2"]
    store = SQLiteStore(path)
    try:
        states = []
        for delivery_id in ids:
            record = store.get(delivery_id)
            assert record is not None
            states.append((record.state, record.attempts))
    finally:
        store.close()
    assert states == [(DeliveryState.DONE, 1)] * 3


# -- 3. --store postgresql://: which schema, and never a new one --------------------------------


def _sql_at(url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
        cur = conn.execute(query, args or None)
        return cur.fetchall() if cur.description is not None else []


def _schema_exists(url: str, name: str) -> bool:
    return bool(_sql_at(url, "SELECT 1 FROM pg_namespace WHERE nspname = %s", name))


def test_process_warns_when_schema_is_not_the_applications_own(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    schema: str,
    make_app: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--schema wins over the application's own store's schema -- processing another store is
    legitimate -- but, being usually a slip (a copied command, a staging schema), it is said."""
    dsn, other = require_postgres(), new_schema()
    monkeypatch.setenv("KW_TEST_URL", dsn)
    monkeypatch.setenv("KW_TEST_SCHEMA", schema)
    app = make_app(_POSTGRES_APP)
    try:
        with PostgresStore(dsn, schema=schema) as own, PostgresStore(dsn, schema=other) as store:
            own.migrate()
            deferred = _defer(store, 1)
            code = cli.main(
                ["process", "--store", dsn, "--schema", other, "--app", f"{app}:receiver"]
            )
            out, err = capsys.readouterr()
            assert code == cli.EXIT_OK, err
            assert out.strip().endswith("processed 1: 1 succeeded, 0 failed")
            assert _state(store, deferred) is DeliveryState.DONE
            assert (
                f"warning: --schema {other} is not the schema of {app}:receiver's own store "
                f"({schema}); reading {other}"
            ) in err
            # The application's own schema named: no warning.
            code = cli.main(
                ["process", "--store", dsn, "--schema", schema, "--app", f"{app}:receiver"]
            )
            out, err = capsys.readouterr()
            assert code == cli.EXIT_OK, err
            assert "warning" not in err
    finally:
        drop_schema(other)


@pytest.fixture
def own_dsn() -> Iterator[str]:
    """A database of its own: that the default schema kyc_webhooks is never created is seen
    there, where no other run (or test) creates or drops it meanwhile."""
    with own_database() as dsn:
        yield dsn


def test_process_reads_the_applications_schema_or_schema_and_creates_none(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    schema: str,
    make_app: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
    own_dsn: str,
) -> None:
    dsn = own_dsn
    monkeypatch.setenv("KW_TEST_URL", dsn)
    monkeypatch.setenv("KW_TEST_SCHEMA", schema)
    app = make_app(_POSTGRES_APP)
    with PostgresStore(dsn, schema=schema) as store:
        first = _defer(store, 1)
        # No --schema: the schema of the application's own PostgresStore.
        code = cli.main(["process", "--store", dsn, "--app", f"{app}:receiver"])
        out, err = capsys.readouterr()
        assert code == cli.EXIT_OK, err
        assert out.strip().endswith("processed 1: 1 succeeded, 0 failed")
        assert _marks(tmp_path) == ["complycube:check-1"]
        assert not _schema_exists(dsn, "kyc_webhooks")
        # --schema names it explicitly.
        second = _defer(store, 2)
        code = cli.main(["process", "--store", dsn, "--schema", schema, "--app", f"{app}:receiver"])
        out, err = capsys.readouterr()
        assert code == cli.EXIT_OK, err
        assert out.strip().endswith("processed 1: 1 succeeded, 0 failed")
        for delivery_id in (first, second):
            record = store.get(delivery_id)
            assert record is not None
            assert record.state is DeliveryState.DONE

    # A schema that does not exist, or one without the store's tables: refused, nothing made.
    missing, empty = new_schema(), new_schema()
    _sql_at(dsn, f"CREATE SCHEMA {empty}")
    for name in (missing, empty):
        code = cli.main(["process", "--store", dsn, "--schema", name, "--app", f"{app}:receiver"])
        out, err = capsys.readouterr()
        assert code == cli.EXIT_USAGE, err
        assert out == ""
        assert f"no store in schema {name!r} at " in err
        assert "(check the URL of --store and --schema)" in err
    # --loop too: the refusal ends the loop (in a child, so that a loop that did not end fails
    # the test instead of hanging it).
    argv = ["process", "--store", dsn, "--schema", missing, "--app", f"{app}:receiver"]
    result = subprocess.run(
        [sys.executable, "-m", "kyc_webhooks", *argv, "--loop", "--interval", "0.1"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([SRC, str(tmp_path)])},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == cli.EXIT_USAGE, result.stderr
    assert f"no store in schema {missing!r} at " in result.stderr
    assert not _schema_exists(dsn, missing)
    tables = _sql_at(
        dsn, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", empty
    )
    assert tables == []
    assert not _schema_exists(dsn, "kyc_webhooks")

    # --schema names a PostgreSQL schema: refused with a SQLite store.
    SQLiteStore(tmp_path / "q.sqlite3").close()
    code = cli.main(
        ["process", "--store", "q.sqlite3", "--schema", schema, "--app", f"{app}:receiver"]
    )
    _, err = capsys.readouterr()
    assert code == cli.EXIT_USAGE
    assert "--schema applies to a postgresql:// --store only" in err


def test_process_uses_the_default_schema_for_an_app_without_a_postgres_store(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, make_app: Callable[[str], str]
) -> None:
    # A database of its own: the default schema kyc_webhooks must not be created, then is.
    app = make_app(_PLAIN_APP)
    with own_database() as url:
        code = cli.main(["process", "--store", url, "--app", f"{app}:receiver"])
        out, err = capsys.readouterr()
        assert code == cli.EXIT_USAGE, err
        assert "no store in schema 'kyc_webhooks' at " in err
        assert user_schemas(url) == []
        code = cli.main(["migrate", "--store", url])
        assert code == cli.EXIT_OK, capsys.readouterr().err
        with PostgresStore(url) as store:
            delivery_id = _defer(store, 1)
            code = cli.main(["process", "--store", url, "--app", f"{app}:receiver"])
            out, err = capsys.readouterr()
            assert code == cli.EXIT_OK, err
            assert out.strip().endswith("processed 1: 1 succeeded, 0 failed")
            record = store.get(delivery_id)
            assert record is not None
            assert record.state is DeliveryState.DONE
        assert user_schemas(url) == ["kyc_webhooks"]
