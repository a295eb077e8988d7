# ruff: noqa: S608 -- statements name the generated test schemas (kw_test_<pid>_<hex>).
"""The decision ledger on PostgreSQL: begin/abort/complete, the rules (through supersedes()),
the subject lease across pools and processes, lease expiry, lost claims, decisions_for_client,
text PostgreSQL cannot hold, the schema migration, and four processes racing conflicting verdicts
for one subject.

Every test uses a schema of its own (tests/_postgres.py) and skips, naming PostgreSQL, when the
server is unreachable. The store-agnostic ledger contract lives in test_ledger_contract.py.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from _ledger import SUBJECT, T0, assert_upgraded_entry_counts_as_announced, claimed, decide, entry
from _postgres import postgres_store, require_postgres, sql
from _postgres_layouts import insert_delivery, make_layout, to_version_3
from _stores import FakeClock
from kyc_webhooks.errors import StoreError, UsageError
from kyc_webhooks.store import NewDelivery, PostgresStore
from kyc_webhooks.store._base import DecisionEntry, replaces, supersedes
from kyc_webhooks.store.postgres import SCHEMA_VERSION


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> Iterator[PostgresStore]:
    with postgres_store(clock=clock) as made:
        yield made


# -- begin / abort / complete ------------------------------------------------------------------


def test_complete_records_the_entry_and_releases_the_subject_lease(store: PostgresStore) -> None:
    first = claimed(store)
    made = entry(first, reasons=("FACE_MISMATCH", "DOC_EXPIRED"))
    ticket = store.begin_decision(first, made, lease=30)
    assert ticket is not None
    assert (ticket.entry, ticket.previous, ticket.changes) == (made, None, True)
    assert store.effective_decision("idenfy", SUBJECT) is None  # nothing before the completion
    assert store.complete(first, decision=ticket)
    assert store.effective_decision("idenfy", SUBJECT) == made
    record = store.get(first.record.id)
    assert record is not None
    assert record.done
    # Released: the next delivery of the subject begins at once, and sees the entry.
    second = claimed(store)
    again = store.begin_decision(second, entry(second, "DECLINED"), lease=30)
    assert again is not None
    assert again.previous == made


def test_a_process_of_version_3_cannot_write_the_ledger_after_the_migration(
    store: PostgresStore,
) -> None:
    """Version 4 added the verdict last announced. Processes of version 3 still running would go
    on writing ledger rows without it -- a verdict announced twice, or never (review R62): every
    row version 4 inserts names its layout, a column without a default, so that an insert of
    version 3 violates NOT NULL and such a process fails loudly (its store answers 503)."""
    import psycopg

    first = claimed(store)
    decide(store, entry(first, occurred=1), first)
    ledger = f"{store.schema}.decisions"
    before = sql(f"SELECT * FROM {ledger}")
    ((known,),) = sql(f"SELECT subject_hash FROM {ledger}")
    # Version 3's subject lease, for the verification known and a new one, and its entry.
    lease_v3 = (
        f"INSERT INTO {ledger} AS c (subject_hash, vendor, subject, lease_token, lease_until) "
        "VALUES (%s, 'idenfy', %s, 'old-token', now()) ON CONFLICT (subject_hash) DO UPDATE "
        "SET lease_token = EXCLUDED.lease_token"
    )
    entry_v3 = (
        f"INSERT INTO {ledger} AS c (subject_hash, vendor, subject, status, final, delivery_id, "
        "event_type, received_at, reasons, fetch_required) VALUES (%s, 'idenfy', %s, "
        "'DECLINED', true, 'x', 'T', now(), '[]', false) ON CONFLICT (subject_hash) DO UPDATE "
        "SET status = EXCLUDED.status"
    )
    for statement, key, subject in (
        (lease_v3, known, SUBJECT),
        (lease_v3, b"new-subject-hash", "new-subject"),
        (entry_v3, known, SUBJECT),
    ):
        with pytest.raises(psycopg.errors.NotNullViolation, match="layout"):
            sql(statement, key, subject)
    assert sql(f"SELECT * FROM {ledger}") == before
    # This version's own writes go on.
    second = claimed(store)
    newer = entry(second, "DECLINED", occurred=2)
    assert decide(store, newer, second).changes
    assert store.effective_decision("idenfy", SUBJECT) == newer


def test_abort_releases_the_lease_and_keeps_the_ledger(store: PostgresStore) -> None:
    first = claimed(store)
    approved = entry(first, final=False, occurred=1)
    decide(store, approved, first)
    second = claimed(store)
    ticket = store.begin_decision(second, entry(second, "DECLINED", occurred=2), lease=30)
    assert ticket is not None
    assert ticket.changes
    store.abort_decision(ticket)
    store.abort_decision(ticket)  # twice is harmless
    assert store.effective_decision("idenfy", SUBJECT) == approved
    third = claimed(store)
    assert store.begin_decision(third, entry(third), lease=30) is not None


def test_abort_of_a_first_decision_leaves_no_row(store: PostgresStore) -> None:
    first = claimed(store)
    ticket = store.begin_decision(first, entry(first), lease=30)
    assert ticket is not None
    store.abort_decision(ticket)
    assert store.effective_decision("idenfy", SUBJECT) is None
    assert sql(f"SELECT count(*) FROM {store.schema}.decisions") == [(0,)]


def test_a_ticket_that_changes_nothing_completes_and_releases(store: PostgresStore) -> None:
    first = claimed(store)
    final = entry(first, occurred=5)
    decide(store, final, first)
    stale = claimed(store)
    ticket = store.begin_decision(stale, entry(stale, "REVIEW", final=False, occurred=9), lease=30)
    assert ticket is not None
    assert not ticket.changes  # a final decision is never replaced by a non-final one
    assert store.complete(stale, decision=ticket)
    assert store.effective_decision("idenfy", SUBJECT) == final
    later = claimed(store)
    assert store.begin_decision(later, entry(later), lease=30) is not None


def test_bad_arguments_are_usage_errors(store: PostgresStore) -> None:
    first = claimed(store)
    made = entry(first)
    with pytest.raises(UsageError):
        store.begin_decision(first, made, lease=0)
    with pytest.raises(UsageError):
        store.begin_decision(first, "APPROVED", lease=30)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        store.begin_decision(first, replace_time(made), lease=30)
    with pytest.raises(UsageError):
        store.complete(first, decision="ticket")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        store.decisions_for_client("client-1", limit=0)


def replace_time(made: DecisionEntry) -> DecisionEntry:
    from dataclasses import replace

    return replace(made, received_at=datetime(2026, 1, 1))  # naive: refused


# -- the rules ---------------------------------------------------------------------------------

# An automatic non-final verdict, the manual final one, and a stale copy of the automatic one
# (another delivery of the same verdict, received later).
SEQUENCE = [("REVIEW", False, 1.0), ("APPROVED", True, 2.0), ("REVIEW", False, 1.0)]


@pytest.mark.parametrize(
    "order",
    list(itertools.permutations(range(3))),
    ids=lambda order: "-".join(map(str, order)),
)
def test_every_order_ends_in_the_final_decision_and_changes_follow_supersedes(
    store: PostgresStore, clock: FakeClock, order: tuple[int, ...]
) -> None:
    changes = []
    for index in order:
        status, final, occurred = SEQUENCE[index]
        clock.advance(1)
        claim = claimed(store)
        made = entry(claim, status, final=final, occurred=occurred)
        current = store.effective_decision("idenfy", SUBJECT)
        ticket = decide(store, made, claim)
        assert ticket.previous == current
        assert ticket.changes == supersedes(made, current)
        changes.append((status, ticket.changes))
    effective = store.effective_decision("idenfy", SUBJECT)
    assert effective is not None
    assert (effective.status, effective.final) == ("APPROVED", True)
    # The manual final verdict changed the decision exactly once, and nothing replaced it.
    assert changes.count(("APPROVED", True)) == 1
    assert changes[-1][1] is (SEQUENCE[order[-1]][0] == "APPROVED")


@pytest.mark.parametrize(
    ("first", "second", "winner"),
    [
        pytest.param(("REVIEW", False, 1.0), ("APPROVED", False, 2.0), 1, id="later-occurred"),
        pytest.param(("REVIEW", False, 2.0), ("APPROVED", False, 1.0), 0, id="older-occurred"),
        pytest.param(("REVIEW", False, None), ("APPROVED", False, None), 1, id="later-received"),
        pytest.param(("DECLINED", True, 1.0), ("APPROVED", False, 9.0), 0, id="final-kept"),
        pytest.param(("REVIEW", False, 9.0), ("DECLINED", True, 1.0), 1, id="final-wins"),
        # The same verdict later: no change (no handler), but its later time is kept.
        pytest.param(("APPROVED", True, 1.0), ("APPROVED", True, 2.0), 1, id="same-verdict"),
    ],
)
def test_two_verdicts_resolve_as_replaces_says(
    store: PostgresStore,
    clock: FakeClock,
    first: tuple[str, bool, float | None],
    second: tuple[str, bool, float | None],
    winner: int,
) -> None:
    made = []
    for status, final, occurred in (first, second):
        clock.advance(1)
        claim = claimed(store)
        made.append(entry(claim, status, final=final, occurred=occurred))
        decide(store, made[-1], claim)
    assert replaces(made[1], made[0]) is (winner == 1)
    assert store.effective_decision("idenfy", SUBJECT) == made[winner]


# -- the subject lease -------------------------------------------------------------------------


def test_the_subject_lease_excludes_a_delivery_on_another_pool(schema: str) -> None:
    """Two stores with their own pools (as two hosts): while one holds the subject, the other's
    begin_decision is None; after the completion it begins and sees the recorded entry."""
    dsn = require_postgres()
    with PostgresStore(dsn, schema=schema) as a, PostgresStore(dsn, schema=schema) as b:
        claim_a, claim_b = claimed(a), claimed(b)
        ticket_a = a.begin_decision(claim_a, entry(claim_a, occurred=1), lease=60)
        assert ticket_a is not None
        assert b.begin_decision(claim_b, entry(claim_b, "DECLINED", occurred=2), lease=60) is None
        other_subject = entry(claim_b, subject="scan-other")
        assert b.begin_decision(claim_b, other_subject, lease=60) is not None  # per subject
        assert a.complete(claim_a, decision=ticket_a)
        ticket_b = b.begin_decision(claim_b, entry(claim_b, "DECLINED", occurred=2), lease=60)
        assert ticket_b is not None
        assert ticket_b.previous == ticket_a.entry
        assert ticket_b.changes


@pytest.mark.parametrize(
    ("late", "wins"),
    [
        pytest.param(("DECLINED", True, 1.0), False, id="stale-entry-loses"),
        pytest.param(("DECLINED", True, 3.0), True, id="entry-still-supersedes"),
    ],
)
def test_an_expired_subject_lease_is_taken_over_and_the_late_ticket_is_judged_again(
    store: PostgresStore, clock: FakeClock, late: tuple[str, bool, float], wins: bool
) -> None:
    """A worker whose subject lease expired completes after another delivery changed the
    decision: its entry is judged again against the stored one (never a stale overwrite), and
    it releases no lease it no longer holds."""
    slow, fast, third = (claimed(store, lease=600) for _ in range(3))
    status, final, occurred = late
    old = store.begin_decision(slow, entry(slow, status, final=final, occurred=occurred), lease=10)
    assert old is not None
    assert old.changes
    clock.advance(9)
    assert store.begin_decision(fast, entry(fast, occurred=2), lease=10) is None
    clock.advance(2)  # the lease ran out: the slow worker is presumed dead
    fast_entry = entry(fast, "REVIEW" if wins else "APPROVED", final=not wins, occurred=2)
    new = store.begin_decision(fast, fast_entry, lease=10)
    assert new is not None
    assert store.complete(fast, decision=new)
    held = store.begin_decision(third, entry(third, "PENDING", final=False), lease=60)
    assert held is not None
    # The slow worker comes back.
    assert store.complete(slow, decision=old)
    assert store.effective_decision("idenfy", SUBJECT) == (old.entry if wins else fast_entry)
    assert supersedes(old.entry, fast_entry) is wins
    # The third delivery's lease was not released by the slow worker's completion.
    other = claimed(store)
    assert store.begin_decision(other, entry(other), lease=60) is None


def test_a_lost_claim_changes_neither_the_ledger_nor_the_lease(
    store: PostgresStore, clock: FakeClock
) -> None:
    lost = claimed(store, lease=10)
    ticket = store.begin_decision(lost, entry(lost), lease=60)
    assert ticket is not None
    clock.advance(11)
    taken = store.claim(lost.record.id, lease=60)  # another worker took the delivery over
    assert taken is not None
    assert not store.complete(lost, decision=ticket)
    assert store.effective_decision("idenfy", SUBJECT) is None
    # The subject lease is still the lost ticket's until it expires.
    assert store.begin_decision(taken, entry(taken), lease=60) is None
    clock.advance(61)
    again = store.begin_decision(taken, entry(taken), lease=60)
    assert again is not None
    assert store.complete(taken, decision=again)
    assert store.effective_decision("idenfy", SUBJECT) == again.entry


def test_a_lost_claim_cannot_begin_a_decision(store: PostgresStore, clock: FakeClock) -> None:
    lost = claimed(store, lease=10)
    clock.advance(11)
    assert store.claim(lost.record.id, lease=60) is not None
    assert store.begin_decision(lost, entry(lost), lease=60) is None
    assert sql(f"SELECT count(*) FROM {store.schema}.decisions") == [(0,)]


# -- reading -----------------------------------------------------------------------------------


def test_decisions_for_client_are_newest_first_and_limited(
    store: PostgresStore, clock: FakeClock
) -> None:
    made = {}
    # (subject, occurred_at offset or None -> received_at), received one second apart.
    for subject, occurred in [("s-a", 30.0), ("s-b", None), ("s-c", 10.0), ("s-d", 50.0)]:
        clock.advance(1)
        claim = claimed(store)
        made[subject] = entry(claim, subject=subject, occurred=occurred)
        decide(store, made[subject], claim)
    other = claimed(store)
    decide(store, entry(other, subject="s-x", client_ref="client-2"), other)
    anonymous = claimed(store)
    decide(store, entry(anonymous, subject="s-y", client_ref=None), anonymous)
    # s-b has no occurred_at: its received_at (START + 2 s, a month after T0) sorts it first.
    expected = [made[s] for s in ("s-b", "s-d", "s-a", "s-c")]
    assert list(store.decisions_for_client("client-1")) == expected
    assert list(store.decisions_for_client("client-1", limit=2)) == expected[:2]
    assert [e.subject for e in store.decisions_for_client("client-2")] == ["s-x"]
    assert list(store.decisions_for_client("nobody")) == []


def test_decisions_for_client_ties_are_ordered_by_delivery_id(store: PostgresStore) -> None:
    """Same time, same receipt: the later delivery id first, as every store orders them."""
    claims = sorted((claimed(store) for _ in range(3)), key=lambda c: c.record.id)
    # Subjects in the order of the ids: a subject order would be the reverse of the expected.
    made = [entry(claim, subject=f"t-{n}", occurred=5) for n, claim in enumerate(claims)]
    for made_entry, claim in zip(made, claims, strict=True):
        decide(store, made_entry, claim)
    expected = made[::-1]
    assert list(store.decisions_for_client("client-1")) == expected


def test_a_subject_holding_only_a_lease_has_no_decision(store: PostgresStore) -> None:
    claim = claimed(store)
    assert store.begin_decision(claim, entry(claim), lease=30) is not None
    assert store.effective_decision("idenfy", SUBJECT) is None
    assert list(store.decisions_for_client("client-1")) == []


@pytest.mark.parametrize(
    "odd",
    ["a\x00b", "a\udcffb", "\U0010fffeab", "Jūratė"],
    ids=["nul", "lone-surrogate", "marker", "non-ascii"],
)
def test_text_postgresql_cannot_hold_round_trips_exactly(store: PostgresStore, odd: str) -> None:
    claim = claimed(store)
    made = entry(claim, subject=odd, client_ref=odd, vendor=odd, reasons=(odd, "plain"))
    decide(store, made, claim)
    assert store.effective_decision(odd, odd) == made
    assert list(store.decisions_for_client(odd)) == [made]
    # Never merged with the plain value it could be confused with.
    assert store.effective_decision("ab", "ab") is None
    assert store.effective_decision(odd, "ab") is None


def test_a_malformed_stored_decision_is_a_store_error(store: PostgresStore) -> None:
    claim = claimed(store)
    decide(store, entry(claim), claim)
    sql(f"UPDATE {store.schema}.decisions SET reasons = 'not json'")
    with pytest.raises(StoreError, match="malformed"):
        store.effective_decision("idenfy", SUBJECT)


# -- schema ------------------------------------------------------------------------------------


def test_a_version_1_schema_is_migrated_and_keeps_its_deliveries(schema: str) -> None:
    dsn = require_postgres()
    # As a store of schema version 1 left it: one delivery, done.
    make_layout(schema, 1)
    kept = "a" * 32
    insert_delivery(schema, record_id=kept, key="kept", state="done", received_at=T0)
    with PostgresStore(dsn, schema=schema) as upgraded:
        record = upgraded.get(kept)
        assert record is not None
        assert record.done
        assert upgraded.schema_version() == SCHEMA_VERSION
        assert not upgraded.add(NewDelivery("kept", "idenfy", "T", b"{}"), lease=30).created
        claim = claimed(upgraded)
        decide(upgraded, entry(claim), claim)
        assert upgraded.effective_decision("idenfy", SUBJECT) is not None


def test_a_version_3_schema_gets_the_announced_verdict_of_its_entries(schema: str) -> None:
    """Schema version 4 adds the verdict last announced to each ledger row; under the old rules
    every stored entry had been announced, so an upgraded row starts with its entry's status and
    finality: a replay of its delivery announces nothing, a different verdict does."""
    dsn = require_postgres()
    with PostgresStore(dsn, schema=schema) as store:
        done = claimed(store)
        made = entry(done, "REVIEW", final=False)
        decide(store, made, done)
        held = claimed(store)
        assert store.begin_decision(held, entry(held, subject="scan-held"), lease=300) is not None
    to_version_3(schema)
    with PostgresStore(dsn, schema=schema) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION == 4
        assert upgraded.effective_decision("idenfy", SUBJECT) == made
        rows = sql(
            f"SELECT subject, status, final, announced_status, announced_final "
            f"FROM {schema}.decisions ORDER BY subject"
        )
        assert rows == [
            ("scan-held", None, None, None, None),
            (SUBJECT, "REVIEW", False, "REVIEW", False),
        ]
        assert_upgraded_entry_counts_as_announced(upgraded, made, done.record.id)


# -- four processes racing for one subject -----------------------------------------------------

# One process: its own store and pool; for each verdict it is given, a delivery of its own, then
# begin_decision until it holds the subject (bounded), a pause inside the lease, complete. Prints
# one JSON line per verdict: [its index, the previous entry's index or null, changes].
RACER = r"""
import json, os, sys, time
from datetime import datetime
import kyc_webhooks as kw
from kyc_webhooks.store import NewDelivery
from kyc_webhooks.store._base import DecisionEntry

dsn, schema, start, ready, verdicts = sys.argv[1:6]
store = kw.PostgresStore(dsn, schema=schema, timeout=30)
open(ready, "w").close()
deadline = time.monotonic() + 90
while not os.path.exists(start) and time.monotonic() < deadline:
    time.sleep(0.005)
for index, status, final, occurred in json.loads(verdicts):
    added = store.add(NewDelivery(delivery_key=f"race-{index}", vendor="idenfy",
                                  event_type="T", body=b"{}"), lease=120)
    claim = added.claim
    entry = DecisionEntry(vendor="idenfy", subject="scan-race", status=status, final=final,
                          delivery_id=claim.record.id, event_type="T",
                          received_at=claim.record.received_at,
                          occurred_at=datetime.fromisoformat(occurred), client_ref="c",
                          reasons=(str(index),))
    ticket = None
    for _ in range(5000):
        ticket = store.begin_decision(claim, entry, lease=60)
        if ticket is not None or time.monotonic() > deadline:
            break
        time.sleep(0.002)
    assert ticket is not None, "never got the subject"
    time.sleep(0.01)  # inside the lease: the others must wait, not overwrite
    previous = None if ticket.previous is None else int(ticket.previous.reasons[0])
    assert store.complete(claim, decision=ticket)
    print(json.dumps([index, previous, ticket.changes]), flush=True)
store.close()
"""


def _verdicts() -> list[tuple[int, str, bool, str]]:
    """Sixteen conflicting verdicts: distinct times, alternating finality; the one the rules
    make effective (final, latest) is the only APPROVED."""
    statuses = ["PENDING", "REVIEW", "DECLINED", "EXPIRED", "CANCELLED", "UNKNOWN"]
    made = [
        (k, statuses[k % 6], k % 2 == 1, T0 + timedelta(seconds=(k * 7) % 16)) for k in range(16)
    ]
    winner = max(made, key=lambda v: (v[2], v[3]))[0]
    return [
        (k, "APPROVED" if k == winner else status, final, when.isoformat())
        for k, status, final, when in made
    ]


def test_four_processes_racing_conflicting_verdicts_end_in_the_rules_winner(
    tmp_path: Path, schema: str
) -> None:
    dsn = require_postgres()
    with PostgresStore(dsn, schema=schema) as made:
        made.migrate()
    verdicts = _verdicts()
    start = tmp_path / "start"
    procs = []
    for n in range(4):
        share = [v for v in verdicts if v[0] % 4 == n]
        args = [dsn, schema, str(start), str(tmp_path / f"ready-{n}"), json.dumps(share)]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", RACER, *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    lines: list[list[Any]] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
            (tmp_path / f"ready-{n}").exists() for n in range(4)
        ):
            time.sleep(0.01)
        start.touch()
        for proc in procs:
            out, err = proc.communicate(timeout=150)
            assert proc.returncode == 0, err[-2000:]
            lines.extend(json.loads(line) for line in out.splitlines())
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    assert sorted(line[0] for line in lines) == list(range(16))
    winner = next(v for v in verdicts if v[1] == "APPROVED")
    with PostgresStore(dsn, schema=schema) as reader:
        effective = reader.effective_decision("idenfy", "scan-race")
    assert effective is not None
    assert (effective.status, effective.final, effective.reasons) == (
        "APPROVED",
        True,
        (str(winner[0]),),
    )
    # No lost update: the changing tickets form one chain from nothing to the winner, each
    # judged against the entry the one before it recorded; every other ticket saw a chain link.
    by_previous = {previous: index for index, previous, changes in lines if changes}
    assert len(by_previous) == sum(1 for line in lines if line[2])  # no two built on one entry
    chain: list[int] = []
    link: int | None = None
    while link in by_previous and len(chain) <= 16:
        link = by_previous[link]
        chain.append(link)
    assert chain[-1] == winner[0]
    assert len(chain) == len(by_previous)
    assert all(previous in chain for _, previous, changes in lines if not changes)
