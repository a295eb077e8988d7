"""SQLiteStore durability (docs/delivery-guarantees.md, "Durability of SQLiteStore").

Which commits reach the disk before an answer is asserted at the PRAGMA level: every COMMIT the
store runs is recorded with the ``PRAGMA synchronous`` level its connection committed with
(FULL = synced: one fsync of the write-ahead log; NORMAL = not synced). SQLite's own fsync calls
happen in C and cannot be counted portably from Python, so the level is what the tests pin.

Crash tests: a child process answers deliveries and kills itself with SIGKILL right after the
answer (no close, no checkpoint; the -wal file is left as it was). A fresh store must then hold
every delivery the child acknowledged: a deferred one (202) stored, a handled one (200) done.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from kyc_webhooks.decisions import Decision, DecisionStatus
from kyc_webhooks.store import DeliveryState, NewDelivery, SQLiteStore
from kyc_webhooks.testing import sign

KEY = "test-signing-key"
EVENT_TYPE = "IDENTIFICATION_AUTO_FINISHED"
LEVELS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


class RecordingConnection(sqlite3.Connection):
    """A real sqlite3 connection that notes the synchronous level of each COMMIT it runs."""

    commits: list[str]

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT":
            level = super().execute("PRAGMA synchronous").fetchone()[0]
            self.commits.append(LEVELS[level])
        return super().execute(sql, *args)


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The synchronous level of every COMMIT of every SQLiteStore opened in the test."""
    seen: list[str] = []
    connect = sqlite3.connect

    def recording_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, factory=RecordingConnection, **kwargs)
        assert isinstance(conn, RecordingConnection)
        conn.commits = seen
        return conn

    monkeypatch.setattr(sqlite3, "connect", recording_connect)
    return seen


def signed(n: int) -> tuple[bytes, dict[str, str]]:
    """A signed iDenfy identification carrying a verdict (so the decision ledger is written)."""
    return sign(
        "idenfy",
        {"scanRef": f"scan-{n}", "clientId": f"client-{n}", "final": True,
         "status": {"overall": "APPROVED"}},
        KEY,
        event_type=EVENT_TYPE,
    )  # fmt: skip


def receiver(store: SQLiteStore, *, defer: bool = False) -> kw.Receiver:
    made = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, defer=defer)
    made.on("idenfy")(lambda event: None)
    return made


# -- which commits are synced --------------------------------------------------------------------


def test_a_handled_delivery_syncs_one_commit_the_completion(
    tmp_path: Path, commits: list[str]
) -> None:
    with SQLiteStore(tmp_path / "w.db") as store:
        handling = receiver(store)
        commits.clear()  # the migrations
        outcome = handling.handle(*signed(1))
        assert outcome.status_code == 200
        # add + claim + subject lease (one transaction): not synced; complete (the 200 rests
        # on it): synced, and last.
        assert commits == ["NORMAL", "FULL"]
        commits.clear()
        assert handling.handle(*signed(1)).duplicate
        assert commits == []  # a duplicate writes nothing


def test_a_deferred_delivery_is_synced_before_the_202(tmp_path: Path, commits: list[str]) -> None:
    with SQLiteStore(tmp_path / "w.db") as store:
        deferring = receiver(store, defer=True)
        commits.clear()
        outcome = deferring.handle(*signed(1))
        assert outcome.status_code == 202
        assert commits == ["FULL"]  # the insert, before the 202
        commits.clear()
        assert deferring.process_pending().succeeded == 1
        # claim, subject lease: not synced; complete: synced; then a claim that finds nothing.
        assert commits == ["NORMAL", "NORMAL", "FULL", "NORMAL"]


def test_store_methods_sync_exactly_what_an_answer_or_an_erasure_relies_on(
    tmp_path: Path, commits: list[str]
) -> None:
    with SQLiteStore(tmp_path / "w.db") as store:
        commits.clear()
        deferred = store.add(NewDelivery("k1", "idenfy", EVENT_TYPE, b"{}"))
        claimed = store.add(NewDelivery("k2", "idenfy", EVENT_TYPE, b"{}"), lease=60)
        assert commits == ["FULL", "NORMAL"]
        assert claimed.claim is not None
        commits.clear()
        assert store.fail(claimed.claim, error_type="E", error_message="failed")
        claim = store.claim(deferred.record.id, lease=60)
        assert claim is not None
        assert commits == ["NORMAL", "NORMAL"]
        commits.clear()
        assert store.complete(claim)
        assert store.erase(deferred.record.id)
        assert store.erase_bodies(older_than=timedelta(0)) == 1
        assert store.purge(older_than=timedelta(0)) == 2
        assert commits == ["FULL", "FULL", "FULL", "FULL"]


def test_add_with_a_decision_is_one_unsynced_commit_and_complete_the_synced_one(
    tmp_path: Path, commits: list[str]
) -> None:
    with SQLiteStore(tmp_path / "w.db") as store:
        verdict = Decision(status=DecisionStatus.APPROVED, final=True, vendor="idenfy",
                           event_type=EVENT_TYPE, subject="scan-1")  # fmt: skip
        commits.clear()
        added = store.add(
            NewDelivery("k1", "idenfy", EVENT_TYPE, b"{}"), lease=60, decision=verdict
        )
        assert added.claim is not None
        assert added.ticket is not None
        assert commits == ["NORMAL"]  # the claim and the subject lease together
        assert store.complete(added.claim, decision=added.ticket)
        assert commits == ["NORMAL", "FULL"]  # one synced commit per delivery


def test_durable_false_syncs_no_commit(tmp_path: Path, commits: list[str]) -> None:
    with SQLiteStore(tmp_path / "w.db", durable=False) as store:
        handling = receiver(store)
        commits.clear()
        assert handling.handle(*signed(1)).status_code == 200
        assert store.add(NewDelivery("k1", "idenfy", EVENT_TYPE, b"{}")).created
        assert commits == ["NORMAL"] * 3  # add (with the subject lease), complete, add


# -- crashes -------------------------------------------------------------------------------------

# Answers COUNT deliveries (DEFER: deferred), prints one JSON line per answer -- status and record
# id -- flushing each, then kills itself with SIGKILL: no close, no checkpoint, no atexit.
CHILD = r"""
import json, os, signal, sys
import kyc_webhooks as kw
from kyc_webhooks.decisions import Decision, DecisionStatus
from kyc_webhooks.testing import sign

db, count, defer = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
store = kw.SQLiteStore(db)
receiver = kw.Receiver(kw.Idenfy(signing_key="test-signing-key"), store=store, defer=defer)
receiver.on("idenfy")(lambda event: None)
for n in range(count):
    body, headers = sign(
        "idenfy",
        {"scanRef": f"scan-{n}", "clientId": f"client-{n}", "final": True,
         "status": {"overall": "APPROVED"}},
        "test-signing-key",
        event_type="IDENTIFICATION_AUTO_FINISHED",
    )
    outcome = receiver.handle(body, headers)
    print(json.dumps([outcome.status_code, outcome.delivery_id]), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _crash_after_answers(db: Path, count: int, *, defer: bool) -> list[tuple[int, str]]:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(db), str(count), "1" if defer else "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    answers = [(int(s), str(i)) for s, i in map(json.loads, child.stdout.splitlines())]
    assert len(answers) == count
    return answers


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_deferred_deliveries_survive_a_crash_right_after_the_202(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    answers = _crash_after_answers(db, 20, defer=True)
    assert {status for status, _ in answers} == {202}
    with SQLiteStore(db) as store:
        for _, delivery_id in answers:
            record = store.get(delivery_id)
            assert record is not None
            assert record.state is DeliveryState.PENDING
            assert record.body is not None
        # The survivors are processed once, after the crash.
        assert receiver(store).process_pending(limit=50).succeeded == 20
        assert store.stats()["done"] == 20


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_handled_deliveries_survive_a_crash_right_after_the_200(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    answers = _crash_after_answers(db, 20, defer=False)
    assert {status for status, _ in answers} == {200}
    with SQLiteStore(db) as store:
        for _, delivery_id in answers:
            record = store.get(delivery_id)
            assert record is not None
            assert record.state is DeliveryState.DONE
        # A redelivery after the crash is a duplicate: the handler does not run again.
        ran: list[int] = []
        again = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
        again.on("idenfy")(lambda event: ran.append(1))
        for n in range(20):
            assert again.handle(*signed(n)).duplicate
        assert ran == []
        # The ledger entries were committed with the completions.
        assert again.decisions.latest("idenfy", "scan-7") is not None
