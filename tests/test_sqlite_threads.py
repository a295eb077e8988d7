"""Threads of one process (a threaded WSGI server: gunicorn ``--threads``, waitress) take turns
at a SQLiteStore's connection, each waiting at most the store's ``timeout`` for its turn (review
20). Was: while one thread waited in SQLite's busy handler for a lock another connection held (a
purge, an erase, a migration, an operator's ``sqlite3`` shell), every other thread queued behind
it without a bound, one timeout each: with ``timeout=2``, new deliveries answered 503 after 2, 4,
6 ... 12 s and a duplicate of a done delivery after 11 s -- past iDenfy's 10 s. Real SQLite file,
real threads, a real second connection holding the lock."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import kyc_webhooks as kw
from kyc_webhooks.store import NewDelivery, SQLiteStore

TIMEOUT = 1.0
THREADS = 8


def test_every_thread_gets_its_answer_within_about_the_timeout(tmp_path: Path) -> None:
    db = tmp_path / "inbox.db"
    store = SQLiteStore(db, timeout=TIMEOUT)
    done = store.add(NewDelivery("done-key", "idenfy", "E", b"{}"), lease=60)
    assert done.claim is not None
    assert store.complete(done.claim)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the file's write lock, held for the whole test
    answers: list[tuple[str, float]] = []
    lock = threading.Lock()

    def deliver(n: int) -> None:
        started = time.monotonic()
        try:
            if n == 0:
                store.get_by_key("done-key")  # a duplicate's read
                what = "read"
            else:
                store.add(NewDelivery(f"new-{n}", "idenfy", "E", b"{}"), lease=60)
                what = "stored"
        except kw.StoreError:
            what = "StoreError"
        with lock:
            answers.append((what, time.monotonic() - started))

    try:
        threads = [threading.Thread(target=deliver, args=(n,)) for n in range(1, THREADS)]
        for thread in threads:
            thread.start()
        time.sleep(0.05)  # the writers are queued; the read arrives behind them
        reader = threading.Thread(target=deliver, args=(0,))
        reader.start()
        for thread in [*threads, reader]:
            thread.join(30)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        store.close()

    assert len(answers) == THREADS
    # The lock is held throughout: no write succeeds. The duplicate's read answers, or -- when
    # the writers kept the connection for its whole turn (a loaded machine) -- fails as fast.
    assert [what for what, _ in answers].count("stored") == 0
    assert {what for what, _ in answers} <= {"read", "StoreError"}
    # Each waited for its turn at most the timeout, then for the file's lock at most the timeout.
    slowest = max(elapsed for _, elapsed in answers)
    assert slowest < 2 * TIMEOUT + 1.5, answers  # was (THREADS - 1) * TIMEOUT: 7 s
