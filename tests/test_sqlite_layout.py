"""SQLiteStore schema version 4 and ``add(decision=...)`` (issue #12).

* ``add(delivery, lease=..., decision=...)`` takes the subject lease in the claim's transaction,
  exactly as ``begin_decision`` would right after it: a ticket, or ``subject_busy`` with the claim
  still held;
* bodies live in ``kyc_webhooks_bodies``: a file of version 3, written by the store of that version
  (tests/data/store-v3.sqlite3, see tests/data/make_sqlite_v3.py), migrates with every record, body,
  ledger entry and lease; its bodies are readable and erasable after, leaving no byte in any file;
  several processes opening it at once migrate it once;
* a process killed between the writes of a delivery leaves it whole or absent;
* a record's body goes with it, whoever deletes the record; a v3 row without an id migrates.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from _stores import START, FakeClock
from kyc_webhooks.decisions import Decision, DecisionStatus, ledger_entry
from kyc_webhooks.errors import StoreError
from kyc_webhooks.store import DeliveryState, NewDelivery, SQLiteStore
from kyc_webhooks.store.sqlite import SCHEMA_VERSION

DATA = Path(__file__).parent / "data"
EVENT_TYPE = "IDENTIFICATION_AUTO_FINISHED"


def decision(subject: str = "scan-1", status: DecisionStatus = DecisionStatus.APPROVED) -> Decision:
    return Decision(status=status, final=True, vendor="idenfy", event_type=EVENT_TYPE,
                    subject=subject, client_ref="client-1")  # fmt: skip


def delivery(key: str) -> NewDelivery:
    return NewDelivery(key, "idenfy", EVENT_TYPE, b'{"scanRef":"scan-1"}')


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "w.db", clock=clock) as opened:
        yield opened


# -- add(decision=...) ---------------------------------------------------------------------------


def test_add_with_a_decision_takes_the_subject_lease_with_the_claim(store: SQLiteStore) -> None:
    added = store.add(delivery("k1"), lease=30, decision=decision())
    assert added.created
    assert added.claim is not None
    assert added.ticket is not None  # was None: the store ignored decision=
    assert not added.subject_busy
    assert added.ticket.entry == ledger_entry(decision(), added.claim.record)
    assert added.ticket.previous is None
    assert added.ticket.changes
    # The lease is held: begin_decision for another delivery of the subject finds it busy.
    other = store.add(delivery("k2"), lease=30)
    assert other.claim is not None
    entry = ledger_entry(decision(), other.claim.record)
    assert store.begin_decision(other.claim, entry, lease=30) is None
    # The ticket completes like one of begin_decision.
    assert store.complete(added.claim, decision=added.ticket)
    assert store.effective_decision("idenfy", "scan-1") == added.ticket.entry
    again = store.begin_decision(other.claim, entry, lease=30)
    assert again is not None  # released by the completion
    assert again.previous == added.ticket.entry
    assert not again.changes  # the same verdict


def test_add_with_a_decision_reports_a_busy_subject_and_keeps_the_claim(
    store: SQLiteStore,
) -> None:
    first = store.add(delivery("k1"), lease=30, decision=decision())
    assert first.ticket is not None
    second = store.add(delivery("k2"), lease=30, decision=decision(status=DecisionStatus.DECLINED))
    assert second.subject_busy  # was False: the store ignored decision=
    assert second.ticket is None
    assert second.claim is not None  # still the caller's, to release
    record = store.get(second.record.id)
    assert record is not None
    assert record.state is DeliveryState.PROCESSING
    assert store.fail(second.claim, error_type="SubjectBusy", error_message="busy")


def test_add_with_a_decision_claims_and_leases_a_known_claimable_record(
    store: SQLiteStore,
) -> None:
    first = store.add(delivery("k1"), lease=30)
    assert first.claim is not None
    assert store.fail(first.claim, error_type="E", error_message="failed")
    again = store.add(delivery("k1"), lease=30, decision=decision())
    assert not again.created
    assert again.claim is not None
    assert again.ticket is not None
    assert again.ticket.entry.delivery_id == first.record.id
    assert store.complete(again.claim, decision=again.ticket)
    done = store.add(delivery("k1"), lease=30, decision=decision())
    assert (done.claim, done.ticket, done.subject_busy) == (None, None, False)


def test_add_with_a_decision_but_no_lease_takes_no_subject_lease(store: SQLiteStore) -> None:
    added = store.add(delivery("k1"), decision=decision())
    assert (added.claim, added.ticket, added.subject_busy) == (None, None, False)
    claim = store.claim(added.record.id, lease=30)
    assert claim is not None
    assert store.begin_decision(claim, ledger_entry(decision(), claim.record), lease=30)


# -- the layout ----------------------------------------------------------------------------------


def test_a_completion_rewrites_no_page_of_the_body(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    body = b'{"docNumber":"' + b"PASSPORT-LAYOUT-" * 500 + b'"}'  # spans overflow pages
    with SQLiteStore(db) as opened:
        added = opened.add(NewDelivery("k", "idenfy", EVENT_TYPE, body), lease=30)
        assert added.claim is not None
        conn = sqlite3.connect(db, isolation_level=None)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            assert opened.complete(added.claim)
            frames = (db.with_name("w.db-wal").stat().st_size - 32) // (4096 + 24)
        finally:
            conn.close()
        record = opened.get(added.record.id)
        assert record is not None
        assert record.body == body
    # The row, its state index entry (out of one leaf, into another): no body page. Before (body
    # in the row): the row and its two overflow pages, freed and zeroed, and their new copies.
    assert frames <= 4


# -- migration of a version 3 file made by the store of that version ------------------------------


def _v3_copy(tmp_path: Path) -> Path:
    db = tmp_path / "v3.db"
    shutil.copyfile(DATA / "store-v3.sqlite3", db)
    return db


def _files_hold(db: Path, marker: bytes) -> list[str]:
    return [
        path.name
        for path in db.parent.iterdir()
        if path.name.startswith(db.name) and marker in path.read_bytes()
    ]


def test_a_version_3_file_migrates_with_its_records_bodies_and_leases(tmp_path: Path) -> None:
    db = _v3_copy(tmp_path)
    with sqlite3.connect(db) as conn:
        before = conn.execute(
            "SELECT id, delivery_key, vendor, event_type, state, received_at, updated_at, "
            "attempts, replays, body, headers, lease_until, claim_token, finished_at, "
            "last_error_type, last_error_message, not_before, body_erased_at "
            "FROM kyc_webhooks_deliveries ORDER BY rowid"
        ).fetchall()
        ledger = conn.execute("SELECT * FROM kyc_webhooks_decisions ORDER BY 1, 2").fetchall()
    conn.close()
    assert len(before) == 7
    clock = FakeClock(START + timedelta(hours=2))
    with SQLiteStore(db, clock=clock) as opened:
        assert opened.schema_version() == 5
        records = opened.deliveries(limit=100)
        assert [r.id for r in records] == [row[0] for row in before]
        for record, row in zip(records, before, strict=True):
            assert (record.delivery_key, record.state.value, record.body) == (
                row[1],
                row[4],
                row[9],
            )
            assert record.received_at.timestamp() == row[5]
            assert record.body_erased == (row[17] is not None)
        bodies = [r.body for r in records if r.body is not None]
        assert len(bodies) == 6
        assert any(len(body) > 6000 for body in bodies)  # overflow chains moved too
        by_key = {r.delivery_key: r for r in records}
        assert by_key["failed-key"].last_error_type == "ValueError"
        assert by_key["failed-key"].headers == (("x-a", "1"),)
        # The claim and the subject lease taken under version 3 still hold.
        held = by_key["held-key"]
        assert opened.claim(held.id, lease=30) is None
        other = opened.add(delivery("other"), lease=30, decision=decision("scan-held"))
        assert other.subject_busy
        assert opened.effective_decision("idenfy", "scan-0") is not None
        # Redeliveries of migrated records are duplicates; the failed one is claimable.
        assert opened.add(NewDelivery(by_key["failed-key"].delivery_key, "idenfy", EVENT_TYPE,
                                      b"{}"), lease=30).claim is not None  # fmt: skip
        assert not opened.add(delivery(records[0].delivery_key), lease=30).created
    with sqlite3.connect(db) as conn:
        # The ledger's rows as they were, each with its entry as the verdict last announced
        # (version 5 adds the two columns, and the layout guard, empty in migrated rows).
        assert conn.execute("SELECT * FROM kyc_webhooks_decisions ORDER BY 1, 2").fetchall()[
            : len(ledger)
        ] == [(*row, row[2], row[3], None) for row in ledger]
    conn.close()


@pytest.mark.parametrize("how", ["erase", "erase_bodies", "purge"])
def test_bodies_of_a_migrated_file_are_erasable_leaving_no_byte(tmp_path: Path, how: str) -> None:
    db = _v3_copy(tmp_path)
    markers = [b"PASSPORT-V3-%02d-" % n for n in (0, 1, 2, 3, 5, 6)]
    assert _files_hold(db, markers[0]) == ["v3.db"]
    with SQLiteStore(db, clock=FakeClock(START + timedelta(hours=2))) as opened:
        assert all(_files_hold(db, marker) for marker in markers)  # the migration kept them
        if how == "erase":
            for record in opened.deliveries(limit=100):
                assert opened.erase(record.id)
        elif how == "erase_bodies":
            assert opened.erase_bodies(older_than=timedelta(hours=1)) == 6
        else:
            assert opened.purge(older_than=timedelta(hours=1)) == 7
        for marker in markers:
            assert _files_hold(db, marker) == [], marker
        if how != "purge":
            assert all(r.body is None for r in opened.deliveries(limit=100))
    for marker in markers:
        assert _files_hold(db, marker) == [], marker


_OPENER = """
import sys, time
from pathlib import Path
from kyc_webhooks.store import SQLiteStore
db, start = Path(sys.argv[1]), Path(sys.argv[2])
while not start.exists():
    time.sleep(0.001)
with SQLiteStore(db, timeout=30) as store:
    print(store.schema_version(), len(store.deliveries(limit=100)))
"""


def test_processes_opening_a_version_3_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    db = _v3_copy(tmp_path)
    start = tmp_path / "start"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, str(db), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    start.touch()
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        outputs.append(out.split())
    assert outputs == [["5", "7"]] * 4
    with sqlite3.connect(db) as conn:
        versions = conn.execute("SELECT version FROM kyc_webhooks_migrations").fetchall()
        bodies = conn.execute("SELECT COUNT(*) FROM kyc_webhooks_bodies").fetchone()
    conn.close()
    assert versions == [(1,), (2,), (3,), (4,), (5,)]
    assert bodies == (6,)


# -- crash safety of the layout ------------------------------------------------------------------

# Stores COUNT whole deliveries, then dies (SIGKILL) inside the transaction of one more: the
# moment its record row is written and its body's insert begins (a trace callback on the store's
# connection, installed through sqlite3.connect).
_CRASHER = """
import os, signal, sqlite3, sys
from kyc_webhooks.store import NewDelivery, SQLiteStore
armed = False
def trace(sql):
    if armed and sql.startswith("INSERT INTO kyc_webhooks_bodies"):
        os.kill(os.getpid(), signal.SIGKILL)
connect = sqlite3.connect
def traced(*args, **kwargs):
    conn = connect(*args, **kwargs)
    conn.set_trace_callback(trace)
    return conn
sqlite3.connect = traced
store = SQLiteStore(sys.argv[1])
for n in range(int(sys.argv[2])):
    body = b'{"n":%d,"pad":"' % n + b"x" * 6000 + b'"}'
    added = store.add(NewDelivery(f"k{n}", "idenfy", "T", body), lease=30)
    store.complete(added.claim)
print("ready", flush=True)
armed = True
store.add(NewDelivery("last", "idenfy", "T", b'{"n":-1}'), lease=30)
print("not killed", flush=True)
"""


def test_a_process_killed_between_a_record_and_its_body_leaves_neither(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    proc = subprocess.run(
        [sys.executable, "-c", _CRASHER, str(db), "40"], capture_output=True, timeout=120
    )
    assert proc.returncode == -9, proc.stderr.decode(errors="replace")
    assert proc.stdout == b"ready\n"  # killed inside the last add, not before or after it
    with SQLiteStore(db) as opened:
        records = opened.deliveries(limit=100)
        # The record whose body insert was cut off is gone with it: one transaction.
        assert opened.get_by_key("last") is None
        assert len(records) == 40
        for record in records:
            assert record.body is not None
            assert record.body.startswith(b'{"n":')
        assert all(r.done for r in records)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        orphans = conn.execute(
            "SELECT COUNT(*) FROM kyc_webhooks_bodies WHERE delivery NOT IN "
            "(SELECT seq FROM kyc_webhooks_deliveries)"
        ).fetchone()
    conn.close()
    assert orphans == (0,)


# -- a record's body goes with it; a malformed v3 row does not stop the migration -----------------


def test_a_record_deleted_by_another_writer_takes_its_body_along(tmp_path: Path) -> None:
    # An operator's DELETE, or an older library version that opened the file before it was
    # migrated (its purge() deletes records and knows nothing of the bodies' table).
    db = tmp_path / "w.db"
    with SQLiteStore(db) as store:
        for n in range(3):  # k2's body spills into overflow pages
            pad = b"x" * (9000 if n == 2 else 10)
            store.add(
                NewDelivery(f"k{n}", "idenfy", EVENT_TYPE, b'{"secret":"%d","p":"%s"}' % (n, pad))
            )
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA secure_delete = OFF")  # the sqlite3 shell's default on many builds
            conn.execute("DELETE FROM kyc_webhooks_deliveries WHERE delivery_key IN ('k1', 'k2')")
            bodies = conn.execute("SELECT COUNT(*) FROM kyc_webhooks_bodies").fetchone()
        conn.close()
        assert bodies == (1,)  # only k0's: no body outlives its record
        # The next records get the deleted seqs back; their bodies are theirs.
        added = store.add(NewDelivery("k3", "idenfy", EVENT_TYPE, b'{"n":3}'))
        assert added.created
        record = store.get(added.record.id)
        assert record is not None
        assert record.body == b'{"n":3}'
        assert store.erase_bodies(older_than=timedelta(0)) == 2
    assert _files_hold(db, b'"secret":"1"') == []
    assert _files_hold(db, b'"secret":"2"') == []


def test_a_version_3_row_without_an_id_migrates_and_reads_as_malformed(tmp_path: Path) -> None:
    db = _v3_copy(tmp_path)
    with sqlite3.connect(db) as conn:  # version 3 allowed it: a TEXT PRIMARY KEY of a rowid table
        conn.execute(
            "INSERT INTO kyc_webhooks_deliveries (id, delivery_key, vendor, event_type, state, "
            "received_at, updated_at, body) VALUES (NULL, 'no-id', 'idenfy', 'T', 'done', 1, 1, "
            "x'7b7d')"
        )
    conn.close()
    with SQLiteStore(db) as opened:  # was: StoreError (NOT NULL constraint) on every open
        assert opened.schema_version() == 5
        with pytest.raises(StoreError, match="malformed"):
            opened.get_by_key("no-id")
        assert opened.stats()["total"] == 8


def test_a_record_replaced_by_another_writer_leaves_no_body_in_the_way(tmp_path: Path) -> None:
    # REPLACE fires no delete trigger: the replaced record's body stays behind under its seq.
    db = tmp_path / "w.db"
    with SQLiteStore(db) as store:
        store.add(NewDelivery("k0", "idenfy", EVENT_TYPE, b'{"n":0}'))
        store.add(NewDelivery("k1", "idenfy", EVENT_TYPE, b'{"secret":"one"}'))
        with sqlite3.connect(db) as conn:
            conn.execute(
                "REPLACE INTO kyc_webhooks_deliveries (seq, id, delivery_key, vendor, event_type, "
                "state, received_at, updated_at) SELECT 3, id, delivery_key, vendor, event_type, "
                "state, received_at, updated_at FROM kyc_webhooks_deliveries "
                "WHERE delivery_key = 'k1'"
            )
            conn.execute("DELETE FROM kyc_webhooks_deliveries WHERE seq = 3")
        conn.close()
        # seq 2 comes round again: its new record's body takes the leftover's place (was: every
        # add failed on the bodies' unique key, a 503 for each delivery from then on).
        added = store.add(NewDelivery("k2", "idenfy", EVENT_TYPE, b'{"n":2}'))
        assert added.created
        record = store.get(added.record.id)
        assert record is not None
        assert record.body == b'{"n":2}'
        assert store.add(NewDelivery("k3", "idenfy", EVENT_TYPE, b'{"n":3}')).created
    assert _files_hold(db, b'"secret":"one"') == []


def test_a_write_lock_held_while_a_rollback_journal_file_opens_is_waited_for(
    tmp_path: Path,
) -> None:
    """Switching a file from rollback-journal mode to WAL (a new file, a restored backup, this
    version-3 file) while another connection holds a write lock on it -- another process opening
    the same file at that moment -- is refused by SQLite at once, without its busy handler: the
    store failed to open immediately, saying the lock had been held for over its timeout (seen in
    CI as one of four processes opening the file together failing). It now waits, as for any
    lock, up to the timeout."""
    db = _v3_copy(tmp_path)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        other = sqlite3.connect(db, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # a write lock on the rollback-journal file
            locked.set()
            release.wait(10)
            other.execute("ROLLBACK")
        finally:
            other.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        threading.Timer(0.3, release.set).start()
        with SQLiteStore(db, timeout=10) as store:
            assert store.journal_mode == "wal"
            assert store.schema_version() == SCHEMA_VERSION
        assert time.monotonic() - started >= 0.25  # it waited for the lock
    finally:
        release.set()
        holder.join(10)


@pytest.mark.parametrize("vendors", [None, 1, 3])
def test_claim_next_finds_unfinished_records_through_the_state_index(
    tmp_path: Path, vendors: int | None
) -> None:
    """The worker's claim never walks the done records: with a vendor list (what
    ``process_pending()`` passes) the planner took the vendor index and read every record of the
    vendor, the done ones of the whole retention included, under the write lock (review R31)."""
    from kyc_webhooks.store._base import NEVER_RETRIED
    from kyc_webhooks.store.sqlite import _claim_next_select

    db = tmp_path / "plan.db"
    SQLiteStore(db).close()
    conn = sqlite3.connect(db)
    try:
        sql = _claim_next_select(True, vendors)
        args = [1.0, 1.0, *NEVER_RETRIED, 5, *(["idenfy"] * (vendors or 0))]
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args)]
    finally:
        conn.close()
    searched = [step for step in plan if "kyc_webhooks_deliveries " in step]
    assert searched, plan
    assert all("USING INDEX kyc_webhooks_deliveries_state (state=?" in s for s in searched), plan
