"""SQLiteStore specifics: WAL, busy timeout, migrations, corrupt and unwritable files, and the
multi-process guarantees -- concurrent redeliveries from several processes and a worker killed
with SIGKILL inside a handler (docs/delivery-guarantees.md)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from kyc_webhooks.errors import StoreError
from kyc_webhooks.store import DeliveryState, MemoryStore, NewDelivery, SQLiteStore, Store
from kyc_webhooks.store.sqlite import SCHEMA_VERSION
from kyc_webhooks.testing import sign

KEY = "test-signing-key"
EVENT_TYPE = "IDENTIFICATION_AUTO_FINISHED"
PAYLOAD = {"scanRef": "scan-race", "clientId": "client-1", "final": True}


def _in_an_hour() -> datetime:  # a cut-off after everything stored so far
    return datetime.now(timezone.utc) + timedelta(hours=1)


def new(key: str = "k1") -> NewDelivery:
    return NewDelivery(delivery_key=key, vendor="idenfy", event_type=EVENT_TYPE, body=b"{}")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "webhooks.db"


@pytest.fixture
def store(db: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(db) as made:
        yield made


# -- file format -------------------------------------------------------------------------------


def test_file_uses_wal_and_records_its_schema_version(store: SQLiteStore, db: Path) -> None:
    store.add(new())
    assert store.journal_mode == "wal"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = conn.execute("SELECT version, description FROM kyc_webhooks_migrations").fetchall()
    conn.close()
    assert rows == [
        (1, "deliveries table"),
        (2, "decision ledger"),
        (3, "decision ledger without rowid, partial client_ref index"),
        (4, "bodies in their own table, deliveries keyed by a stable seq"),
        (5, "decision ledger: the verdict last announced"),
    ]
    assert store.schema_version() == SCHEMA_VERSION == 5


def test_reopening_applies_no_migration_twice(db: Path) -> None:
    for _ in range(3):
        with SQLiteStore(db) as opened:
            opened.add(new())
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM kyc_webhooks_migrations").fetchone()[0] == 5
        assert conn.execute("SELECT COUNT(*) FROM kyc_webhooks_deliveries").fetchone()[0] == 1
    conn.close()


def _a_store_of_version_99(db: Path) -> None:
    """A store file as a later release (schema version 99) would leave it."""
    SQLiteStore(db).close()
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "INSERT INTO kyc_webhooks_migrations (version, description, applied_at) "
            "VALUES (99, 'future', 0)"
        )


def test_a_newer_schema_is_refused(db: Path) -> None:
    _a_store_of_version_99(db)
    with pytest.raises(StoreError, match="schema version 99, newer"):
        SQLiteStore(db)


def test_other_tables_in_the_file_are_left_alone(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE app_users (id INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO app_users VALUES (7)")
    conn.close()
    with SQLiteStore(db) as opened:
        opened.add(new())
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT id FROM app_users").fetchall() == [(7,)]
    conn.close()


def test_create_false_writes_nothing_to_a_file_without_a_store(db: Path) -> None:
    """``create=False`` (the command line's ``inbox``/``process``) on another application's
    database: not a byte of the file changes, ``schema_version()`` is 0 and every other call is
    a StoreError. Once a store exists in the file, the same instance uses it."""
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE app_users (id INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO app_users VALUES (7)")
    conn.close()
    before = db.read_bytes()
    store = SQLiteStore(db, create=False)
    try:
        assert store.schema_version() == 0
        for call in (store.stats, lambda: store.add(new()), lambda: store.get("0" * 32)):
            with pytest.raises(StoreError, match="holds no kyc-webhooks store"):
                call()
        assert store.schema_version() == 0
        assert db.read_bytes() == before
        assert sorted(p.name for p in db.parent.iterdir()) == [db.name]  # no -wal, no -shm
        SQLiteStore(db).close()  # created by a store that may (`kyc-webhooks migrate`)
        assert store.stats()["total"] == 0
        assert store.schema_version() == SCHEMA_VERSION
    finally:
        store.close()
    # A missing file is not created; an existing store opens as usual.
    missing = db.parent / "missing.db"
    with pytest.raises(StoreError, match="missing file or directory"):
        SQLiteStore(missing, create=False)
    assert not missing.exists()
    with SQLiteStore(db, create=False) as existing:
        existing.add(new())
        assert existing.stats()["total"] == 1
        assert existing.journal_mode == "wal"


@pytest.mark.parametrize("erase", ["erase", "erase_bodies", "purge"])
def test_erased_bodies_are_overwritten_in_the_file(
    db: Path, erase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect = sqlite3.connect

    def without_secure_delete(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = connect(*args, **kwargs)  # as if built without SECURE_DELETE
        conn.execute("PRAGMA secure_delete = OFF")
        return conn

    monkeypatch.setattr(sqlite3, "connect", without_secure_delete)
    marker = b"PASSPORT-ZX9912345-"
    body = b'{"doc":"' + marker * 500 + b'"}'  # spans overflow pages
    with SQLiteStore(db) as store:
        ids = [
            store.add(NewDelivery(f"k{n}", "idenfy", EVENT_TYPE, body)).record.id for n in range(5)
        ]
        if erase == "erase":
            for record_id in ids:
                assert store.erase(record_id)
        elif erase == "erase_bodies":
            assert store.erase_bodies(older_than=_in_an_hour()) == 5
        else:
            assert store.purge(older_than=_in_an_hour()) == 5
    monkeypatch.undo()
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    leftovers = [p.name for p in db.parent.iterdir() if marker in p.read_bytes()]
    assert leftovers == []  # not in the database file, nor in a WAL


def test_the_record_add_builds_is_the_stored_record(db: Path) -> None:
    # add() writes a new record with one INSERT and builds the DeliveryRecord from the values it
    # wrote, without reading the row back: it must equal what a read returns, field for field --
    # with a clock that is not in UTC, a lease, and text that UTF-8 cannot encode.
    east = timezone(timedelta(hours=5, minutes=30))
    clock = lambda: datetime(2026, 11, 29, 20, 0, 0, 123457, tzinfo=east)  # noqa: E731
    odd = "k\udcff-\u00e9"
    with SQLiteStore(db, clock=clock) as store:
        delivery = NewDelivery(odd, "idenfy", EVENT_TYPE, b"\x00{}", ((odd, "v\udcfe"), ("a", "")))
        for lease in (None, 30.5):
            added = store.add(delivery, lease=lease)
            assert added.created
            assert added.record == store.get(added.record.id)
            assert added.record.received_at.tzinfo is timezone.utc  # as a read gives it
            if lease is not None:
                assert added.claim is not None
                assert added.claim.record == added.record
                assert added.record.lease_until is not None
            delivery = NewDelivery(odd + "2", "idenfy", EVENT_TYPE, b"{}")


# -- bad files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"this is not a database\n" * 200, id="text"),
        pytest.param(b"SQLite format 3\x00" + b"\xff" * 4000, id="mangled-header"),
    ],
)
def test_corrupt_file_is_a_store_error(db: Path, content: bytes) -> None:
    db.write_bytes(content)
    with pytest.raises(StoreError, match="not a SQLite database or is corrupt") as info:
        SQLiteStore(db)
    assert info.value.status_code == 503
    assert str(db) in info.value.message
    # It does not pass by itself (review R53): not "try again" for the CLI and `process --loop`.
    assert isinstance(info.value, kw.StoreSchemaError)
    assert "restore it from a backup" in info.value.message


@pytest.mark.parametrize("where", ["inside-a-file", "a-directory", "missing-directory"])
def test_unwritable_path_is_a_store_error(tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    path = {
        "inside-a-file": blocker / "webhooks.db",
        "a-directory": tmp_path,
        "missing-directory": tmp_path / "no" / "such" / "dir" / "webhooks.db",
    }[where]
    with pytest.raises(StoreError, match="cannot be opened"):
        SQLiteStore(path)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores file permissions"
)
def test_read_only_file_is_a_store_error(db: Path) -> None:
    SQLiteStore(db).close()
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    db.chmod(0o444)
    try:
        with pytest.raises(StoreError):
            SQLiteStore(db).add(new())
    finally:
        db.chmod(0o644)


def test_a_closed_store_refuses_work(db: Path) -> None:
    opened = SQLiteStore(db)
    opened.close()
    opened.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        opened.add(new())


def test_a_malformed_row_is_a_store_error(store: SQLiteStore, db: Path) -> None:
    record = store.add(new()).record
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE kyc_webhooks_deliveries SET state = 'exploded'")
    conn.close()
    with pytest.raises(StoreError, match="malformed"):
        store.get(record.id)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"path": 3}, id="path-int"),
        pytest.param({"path": "x.db", "timeout": -1}, id="negative-timeout"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(kw.UsageError):
        SQLiteStore(**kwargs)  # type: ignore[arg-type]


# -- locking -----------------------------------------------------------------------------------


def _hold_write_lock(db: Path) -> sqlite3.Connection:
    other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_busy_timeout_waits_for_another_writer(db: Path) -> None:
    SQLiteStore(db).close()
    other = _hold_write_lock(db)
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    try:
        with SQLiteStore(db, timeout=30) as waiting:
            assert waiting.add(new()).created
    finally:
        release.join(timeout=10)
        other.close()


def test_lock_held_past_the_timeout_is_a_store_error(db: Path) -> None:
    with SQLiteStore(db, timeout=0) as impatient:
        other = _hold_write_lock(db)
        try:
            with pytest.raises(StoreError, match="held the lock"):
                impatient.add(new())
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert impatient.add(new()).created  # usable again once the lock is gone


def test_store_error_while_handling_answers_503(db: Path) -> None:
    with SQLiteStore(db, timeout=0) as impatient:
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=impatient)
        other = _hold_write_lock(db)
        try:
            outcome = receiver.handle(*sign("idenfy", PAYLOAD, KEY, event_type=EVENT_TYPE))
        finally:
            other.execute("ROLLBACK")
            other.close()
    assert outcome.status_code == 503
    assert isinstance(outcome.error, StoreError)
    assert outcome.response_body()["error"] == "StoreError"


def test_not_durable_mode_works_too(db: Path) -> None:
    with SQLiteStore(db, durable=False) as fast:
        assert fast.add(new()).created
    with SQLiteStore(db) as again:
        assert not again.add(new()).created


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_does_not_inherit_a_held_store_lock(store: SQLiteStore) -> None:
    store.add(new())
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:  # another thread of the parent is inside a store call at fork time
        with store._lock:
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30)
        pid = os.fork()
        if pid == 0:  # pragma: no cover -- the child
            code = 3
            try:
                signal.alarm(20)  # a hang ends the child instead of the test run
                record = store.get_by_key("k1")
                code = 0 if record is not None and record.delivery_key == "k1" else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
    finally:
        release.set()
        holder.join(30)
    assert os.waitstatus_to_exitcode(status) == 0  # not -SIGALRM: the lock was not inherited


# -- many threads, many processes ----------------------------------------------------------------

# One delivering process: N threads wait for the start file, then deliver the same signed body
# until they get a 2xx (bounded), and print the statuses each saw as JSON. The handler sleeps so
# that deliveries overlap, and appends one line per run to a log file; with FAIL_FIRST the very
# first run anywhere fails (an O_EXCL marker file decides which run is first).
WORKER = r"""
import json, os, sys, threading, time
import kyc_webhooks as kw
from kyc_webhooks.testing import sign

db, log, start, ready, threads, fail_first = sys.argv[1:7]
store = kw.SQLiteStore(db, timeout=60)
receiver = kw.Receiver(kw.Idenfy(signing_key="test-signing-key"), store=store, lease_timeout=120)

@receiver.on("idenfy")
def handler(event):
    time.sleep(0.3)
    first = False
    if fail_first == "1":
        try:
            os.close(os.open(log + ".failed", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            first = True
        except FileExistsError:
            pass
    with open(log, "a") as f:
        f.write(("fail" if first else "ok") + f" {os.getpid()}\n")
    if first:
        raise RuntimeError("first attempt fails")

body, headers = sign("idenfy", {"scanRef": "scan-race", "clientId": "client-1", "final": True},
                     "test-signing-key", event_type="IDENTIFICATION_AUTO_FINISHED")
results = {}

def run(n):
    deadline = time.monotonic() + 60
    while not os.path.exists(start) and time.monotonic() < deadline:
        time.sleep(0.005)
    statuses = []
    for _ in range(400):
        outcome = receiver.handle(body, headers)
        statuses.append([outcome.status_code, outcome.duplicate])
        if outcome.ok or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    results[n] = statuses

pool = [threading.Thread(target=run, args=(n,)) for n in range(int(threads))]
for t in pool:
    t.start()
open(ready, "w").close()
for t in pool:
    t.join(90)
print(json.dumps(list(results.values())))
"""


def _wait_for(path: Path, seconds: float, *, written: bool = False) -> bool:
    """Wait until ``path`` exists -- with ``written``, until it has content (a file exists as soon
    as it is opened, before the write)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and (not written or path.stat().st_size > 0):
            return True
        time.sleep(0.01)
    return False


def _race(
    tmp_path: Path, processes: int, threads: int, *, fail_first: bool
) -> list[list[list[Any]]]:
    db, log, start = tmp_path / "race.db", tmp_path / "handled.log", tmp_path / "start"
    SQLiteStore(db).close()  # create the schema once, before the race
    procs = []
    for n in range(processes):
        ready = tmp_path / f"ready-{n}"
        args = [str(db), str(log), str(start), str(ready), str(threads), "1" if fail_first else "0"]
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
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err[-2000:]
            for statuses in json.loads(out):
                runs.append(statuses)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    return runs


@pytest.mark.parametrize("fail_first", [False, True], ids=["all-succeed", "first-attempt-fails"])
def test_four_processes_racing_run_the_handler_exactly_once(
    tmp_path: Path, fail_first: bool
) -> None:
    runs = _race(tmp_path, processes=4, threads=4, fail_first=fail_first)
    assert len(runs) == 16
    lines = (tmp_path / "handled.log").read_text().splitlines()
    assert [line.split()[0] for line in lines] == (["fail", "ok"] if fail_first else ["ok"])
    statuses = [status for run in runs for status, _ in run]
    allowed = {200, 503} | ({500} if fail_first else set())
    assert set(statuses) <= allowed
    assert statuses.count(500) == (1 if fail_first else 0)
    # Every delivering thread ended with a 2xx: nothing was lost.
    assert all(run[-1][0] == 200 for run in runs)
    # Exactly one thread ran the handlers to success; every other 2xx was a duplicate.
    assert sum(1 for run in runs if run[-1] == [200, False]) == 1
    with SQLiteStore(tmp_path / "race.db") as opened:
        (record,) = opened.deliveries()
    assert record.state is DeliveryState.DONE
    assert record.attempts == (2 if fail_first else 1)


STORES = ["memory", "sqlite"]


@pytest.mark.parametrize("kind", STORES)
def test_sixteen_threads_one_receiver_exactly_once(tmp_path: Path, kind: str) -> None:
    store: Store = MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "t.db")
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    runs: list[int] = []
    lock = threading.Lock()

    @receiver.on("idenfy")
    def handler(event: kw.WebhookEvent) -> None:
        time.sleep(0.2)
        with lock:
            runs.append(1)

    body, headers = sign("idenfy", PAYLOAD, KEY, event_type=EVENT_TYPE)
    barrier = threading.Barrier(16, timeout=30)
    finals: list[tuple[int, bool]] = []
    seen: list[int] = []

    def deliver() -> None:
        barrier.wait()
        deadline = time.monotonic() + 60
        for _ in range(2000):
            if time.monotonic() > deadline:
                return
            outcome = receiver.handle(body, headers)
            with lock:
                seen.append(outcome.status_code)
            if outcome.ok:
                with lock:
                    finals.append((outcome.status_code, outcome.duplicate))
                return
            time.sleep(0.02)

    pool = [threading.Thread(target=deliver) for _ in range(16)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    store.close()
    assert runs == [1]
    assert set(seen) <= {200, 503}
    assert len(finals) == 16
    assert finals.count((200, False)) == 1


# -- crash ---------------------------------------------------------------------------------------

CRASHER = r"""
import sys, time
import kyc_webhooks as kw
from kyc_webhooks.testing import sign

db, marker = sys.argv[1:3]
receiver = kw.Receiver(kw.Idenfy(signing_key="test-signing-key"),
                       store=kw.SQLiteStore(db), lease_timeout=30)

@receiver.on("idenfy")
def handler(event):
    with open(marker, "a") as f:
        f.write("started\n")
    time.sleep(120)  # killed here

receiver.handle(*sign("idenfy", {"scanRef": "scan-race", "clientId": "client-1", "final": True},
                      "test-signing-key", event_type="IDENTIFICATION_AUTO_FINISHED"))
"""


class Clock:
    def __init__(self) -> None:
        self.current = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.current


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("recovery", ["redelivery", "worker"])
def test_sigkill_inside_a_handler_loses_nothing(tmp_path: Path, recovery: str) -> None:
    db, marker = tmp_path / "crash.db", tmp_path / "started"
    proc = subprocess.Popen([sys.executable, "-c", CRASHER, str(db), str(marker)])
    try:
        assert _wait_for(marker, 60, written=True), "the handler never started"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    clock = Clock()
    with SQLiteStore(db, clock=clock) as store:
        (stuck,) = store.deliveries()
        assert stuck.state is DeliveryState.PROCESSING
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, lease_timeout=30)
        completed: list[str] = []
        receiver.on("idenfy")(lambda event: completed.append(event.event_type))
        body, headers = sign("idenfy", PAYLOAD, KEY, event_type=EVENT_TYPE)

        early = receiver.handle(body, headers)
        assert early.status_code == 503  # the dead worker's lease still runs
        assert early.retry_after is not None
        assert 0 < early.retry_after <= 30
        clock.current += timedelta(seconds=31)
        if recovery == "redelivery":
            outcome = receiver.handle(body, headers)
            assert (outcome.status_code, outcome.handled, outcome.duplicate) == (200, 1, False)
        else:
            assert receiver.process_pending().succeeded == 1
        assert receiver.handle(body, headers).duplicate
        record = store.get(stuck.id)
    assert completed == [EVENT_TYPE]
    assert marker.read_text() == "started\n"
    assert record is not None
    assert (record.state, record.attempts) == (DeliveryState.DONE, 2)


#: Ids another program may have written, around the range ``deliveries(id_prefix="abcdef19")``
#: reads (``abcdef19`` to ``abcdef1a``): only the first starts with that prefix.
FOREIGN_IDS = (
    "abcdef19" + "a" * 24,
    "abcdef1:" + "a" * 24,
    "ABCDEF19" + "b" * 24,
    "abcdef1a" + "c" * 24,
)


def test_an_id_prefix_matches_exactly_whatever_the_ids_hold(db: Path) -> None:
    with SQLiteStore(db) as store:
        for n in range(len(FOREIGN_IDS)):
            store.add(new(f"k{n}"))
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        for seq, foreign in enumerate(FOREIGN_IDS, start=1):
            conn.execute("UPDATE kyc_webhooks_deliveries SET id = ? WHERE seq = ?", (foreign, seq))
    with SQLiteStore(db) as store:
        assert [r.id for r in store.deliveries(id_prefix="abcdef19")] == [FOREIGN_IDS[0]]
        assert store.count(id_prefix="abcdef19") == 1
        starting = [FOREIGN_IDS[0], FOREIGN_IDS[1], FOREIGN_IDS[3]]
        assert [r.id for r in store.deliveries(id_prefix="abcdef1")] == starting
        assert store.count(id_prefix="abcdef1") == 3
        assert store.count(id_prefix="abcdef1:") == 0  # not hex: ids are ours


def _file_bytes(path: Path) -> bytes:
    return path.read_bytes() + b"".join(
        Path(f"{path}{suffix}").read_bytes()
        for suffix in ("-wal", "-journal")
        if Path(f"{path}{suffix}").exists()
    )


def test_create_false_refuses_an_older_store_and_leaves_it_as_it_was(db: Path) -> None:
    """``create=False`` -- what ``kyc-webhooks inbox`` and ``process`` open -- migrated a store of
    an older version: looking at the inbox before restarting the services rewrote it under the
    older processes still running, which then failed every delivery (review R38). It is refused
    now, naming the fix, with nothing written; a store that may create migrates it."""
    with SQLiteStore(db) as store:
        store.add(new("kept"))
    _to_rollback_journal(db)
    from _sqlite_layouts import to_version_3

    to_version_3(db)
    before = _file_bytes(db)
    with pytest.raises(kw.StoreSchemaError, match=r"version 3, older .*`kyc-webhooks migrate"):
        SQLiteStore(db, create=False)
    assert _file_bytes(db) == before
    with SQLiteStore(db) as migrated:
        assert migrated.schema_version() == SCHEMA_VERSION
        record = migrated.get_by_key("kept")
        assert record is not None
    with SQLiteStore(db, create=False) as reopened:
        assert reopened.get_by_key("kept") is not None


def test_a_newer_store_is_refused_before_anything_is_written(db: Path) -> None:
    """The switch to WAL persists in the file: it ran before the version check, so that a file
    refused as newer was changed anyway (review R38)."""
    _a_store_of_version_99(db)
    _to_rollback_journal(db)
    before = _file_bytes(db)
    for create in (True, False):
        with pytest.raises(kw.StoreSchemaError, match="schema version 99, newer"):
            SQLiteStore(db, create=create)
    assert _file_bytes(db) == before


def _to_rollback_journal(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    finally:
        conn.close()
