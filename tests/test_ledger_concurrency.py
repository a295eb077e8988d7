"""Races on the decision ledger: 4 processes deliver conflicting verdicts for one iDenfy scanRef
at once, through their own Receiver on one shared store (a SQLite file; PostgreSQL when a server
is reachable). The ledger must end in the decision the rules give, lose no update, and run the
decision handler once per real change -- each change superseding the one before it.

A worker process takes its store as ``sqlite:<path>`` or ``postgres:<schema>`` (the server is
``KYC_TEST_POSTGRES_DSN``), so the same race runs on every database store.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from _postgres import DSN, drop_schema, new_schema, require_postgres
from kyc_webhooks.store import DecisionEntry, SQLiteStore, Store, supersedes

PROCESSES = 4
#: finishTime of verdict k of process n: BASE + 10 * k + n (all distinct).
BASE = 1795420000
#: (event type, status.overall, final) per verdict k. The rules' outcome: a final APPROVED (the
#: latest final verdicts; the later non-final verdict 3 never replaces a final one).
VERDICTS = [
    ("IDENTIFICATION_AUTO_FINISHED", "SUSPECTED", False),
    ("IDENTIFICATION_MANUAL_FINISHED", "DENIED", True),
    ("IDENTIFICATION_MANUAL_FINISHED", "APPROVED", True),
    ("IDENTIFICATION_AUTO_FINISHED", "APPROVED", False),
]
STATUS = {"SUSPECTED": "REVIEW", "DENIED": "DECLINED", "APPROVED": "APPROVED"}

WORKER = r"""
import json, os, sys, time
import kyc_webhooks as kw
from kyc_webhooks.testing import signed_delivery

spec, log, start, ready, n = sys.argv[1:6]
n = int(n)
if spec.startswith("sqlite:"):
    store = kw.SQLiteStore(spec[len("sqlite:"):], timeout=30)
else:
    from kyc_webhooks.store import PostgresStore
    store = PostgresStore(os.environ["KYC_TEST_POSTGRES_DSN"], schema=spec[len("postgres:"):])
receiver = kw.Receiver(kw.Idenfy(signing_key="race-key"), store=store)
verdicts = json.loads(os.environ["LEDGER_VERDICTS"])
base = int(os.environ["LEDGER_BASE"])

@receiver.on("idenfy")
def slow_event_handler(event):
    time.sleep(0.02)  # widens the window in which deliveries of the subject overlap

@receiver.on_decision()
def changed(decision):
    time.sleep(0.02)
    # Serialised by the subject lease: the lines are written in the order of the changes.
    with open(log, "a", encoding="ascii") as out:
        out.write(f"{decision.occurred_at.timestamp():.0f} {decision.status.value} "
                  f"{int(decision.final)}\n")

deliveries = [
    signed_delivery("idenfy", event_type, "race-key", status__overall=overall, final=final,
                    finishTime=base + 10 * k + n)
    for k, (event_type, overall, final) in enumerate(verdicts)
]
order = deliveries[n % 4:] + deliveries[:n % 4]
open(ready, "w").close()
deadline = time.monotonic() + 60
while not os.path.exists(start) and time.monotonic() < deadline:
    time.sleep(0.005)
results = []
for body, headers in order:
    codes = []
    for _ in range(1000):
        outcome = receiver.handle(body, headers)
        codes.append(outcome.status_code)
        if outcome.ok or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    results.append(codes)
store.close()
print(json.dumps(results))
"""


@pytest.fixture(params=["sqlite", "postgres"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "ledger.db"
        SQLiteStore(path).close()  # the schema exists before the race
        yield f"sqlite:{path}"
        return
    require_postgres()
    from kyc_webhooks.store import PostgresStore

    schema = new_schema()
    PostgresStore(DSN, schema=schema).close()
    try:
        yield f"postgres:{schema}"
    finally:
        drop_schema(schema)


def open_store(spec: str) -> Store:
    if spec.startswith("sqlite:"):
        return SQLiteStore(spec[len("sqlite:") :])
    from kyc_webhooks.store import PostgresStore

    made: Any = PostgresStore(DSN, schema=spec[len("postgres:") :])
    return made  # type: ignore[no-any-return]


def _wait_for(path: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.01)
    return False


def _entry(line: str) -> DecisionEntry:
    occurred, status, final = line.split()
    when = datetime.fromtimestamp(int(occurred), timezone.utc)
    return DecisionEntry("idenfy", "-", status, final == "1", "-", "-", when, when)


def test_four_processes_with_conflicting_verdicts_end_in_the_rules_decision(
    tmp_path: Path, spec: str
) -> None:
    log, start = tmp_path / "changes.log", tmp_path / "start"
    env = {
        **os.environ,
        "KYC_TEST_POSTGRES_DSN": DSN,
        "LEDGER_VERDICTS": json.dumps(VERDICTS),
        "LEDGER_BASE": str(BASE),
    }
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                spec,
                str(log),
                str(start),
                str(tmp_path / f"r{n}"),
                str(n),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(PROCESSES)
    ]
    try:
        for n in range(PROCESSES):
            assert _wait_for(tmp_path / f"r{n}", 60), "a worker process did not start"
        start.touch()
        runs = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err[-2000:]
            runs.extend(json.loads(out))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    # Every delivery was answered 200 in the end; meanwhile only 503s (subject or delivery busy).
    assert len(runs) == PROCESSES * len(VERDICTS)
    assert all(codes[-1] == 200 for codes in runs)
    assert {code for codes in runs for code in codes} <= {200, 503}
    # The decision handler ran once per real change: each change supersedes the previous one.
    changes = [_entry(line) for line in log.read_text(encoding="ascii").splitlines()]
    assert changes
    for before, after in itertools.pairwise(changes):
        assert supersedes(after, before), (before, after)
    last = changes[-1]
    assert (last.status, last.final) == ("APPROVED", True)
    assert sum(1 for c in changes if (c.status, c.final) == ("APPROVED", True)) == 1
    # No lost update: the ledger holds the last change the handlers saw.
    store = open_store(spec)
    try:
        effective = store.effective_decision("idenfy", _scan_ref())
        assert effective is not None
        assert (effective.status, effective.final) == (last.status, last.final)
        # The same verdict arriving later from another process is no change (no handler run)
        # but keeps its later time (replaces()): the ledger's time is never older than the
        # last change's.
        assert effective.occurred_at is not None
        assert last.occurred_at is not None
        assert effective.occurred_at >= last.occurred_at
        assert store.stats()["done"] == PROCESSES * len(VERDICTS)
    finally:
        store.close()


def _scan_ref() -> str:
    from kyc_webhooks.testing import sample_payload

    return str(sample_payload("idenfy", "IDENTIFICATION_AUTO_FINISHED")["scanRef"])


def test_the_expected_verdict_follows_from_the_rules() -> None:
    """The expectation above, derived from supersedes() rather than assumed: folding every
    verdict in any rotation ends in a final APPROVED (the latest final verdict; the later
    non-final APPROVED never replaces a final one)."""
    entries = [
        _entry(f"{BASE + 10 * k + n} {STATUS[overall]} {int(final)}")
        for n in range(PROCESSES)
        for k, (_, overall, final) in enumerate(VERDICTS)
    ]
    for rotation in range(len(entries)):
        current: DecisionEntry | None = None
        for item in entries[rotation:] + entries[:rotation]:
            if supersedes(item, current):
                current = item
        assert current is not None
        assert (current.status, current.final) == ("APPROVED", True)
