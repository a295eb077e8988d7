"""The decision ledger's store contract (docs/decisions.md, "The ledger"): written once, run against
every store (memory, SQLite on a file, PostgreSQL when a server is reachable).

Each test drives the store directly with claims and :class:`DecisionEntry` values, as the receiver
does: ``begin_decision`` (the subject lease), then ``complete(claim, decision=ticket)`` or
``abort_decision``.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime, timedelta, timezone

import pytest

from _stores import START, FakeClock
from kyc_webhooks.decisions import Decision, DecisionStatus, ledger_entry
from kyc_webhooks.errors import DeliveryInProgressError, UsageError
from kyc_webhooks.store import Added, Claim, DeliveryState, NewDelivery, Store
from kyc_webhooks.store._base import DecisionEntry, DecisionTicket, replaces, supersedes

LEASE = 60.0
SUBJECT_LEASE = 30.0


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every store implementation, PostgreSQL's too (tests/conftest.py)."""
    return any_store


_counter = iter(range(1_000_000))


def claim_one(store: Store, key: str | None = None) -> Claim:
    """A new stored delivery, claimed."""
    key = key if key is not None else f"key-{next(_counter)}"
    added = store.add(
        NewDelivery(key, "idenfy", "IDENTIFICATION_AUTO_FINISHED", b"{}"), lease=LEASE
    )
    assert added.claim is not None
    return added.claim


def entry(
    claim: Claim,
    status: str = "APPROVED",
    *,
    final: bool = True,
    subject: str = "scan-1",
    occurred_at: datetime | None = None,
    client_ref: str | None = "user-42",
    reasons: tuple[str, ...] = (),
    vendor: str = "idenfy",
) -> DecisionEntry:
    return DecisionEntry(
        vendor=vendor,
        subject=subject,
        status=status,
        final=final,
        delivery_id=claim.record.id,
        event_type="IDENTIFICATION_AUTO_FINISHED",
        received_at=claim.record.received_at,
        occurred_at=occurred_at,
        client_ref=client_ref,
        reasons=reasons,
    )


def record(store: Store, new_entry_of: Claim, made: DecisionEntry) -> DecisionTicket:
    """begin + complete: one delivery's decision goes through the ledger."""
    ticket = store.begin_decision(new_entry_of, made, lease=SUBJECT_LEASE)
    assert ticket is not None
    assert store.complete(new_entry_of, decision=ticket)
    return ticket


# -- recording -----------------------------------------------------------------------------------


def test_the_first_decision_of_a_subject_becomes_effective_with_the_completion(
    store: Store,
) -> None:
    claim = claim_one(store)
    made = entry(claim, reasons=("DOC_EXPIRED", "Ąžuolas"))
    ticket = store.begin_decision(claim, made, lease=SUBJECT_LEASE)
    assert ticket is not None
    assert ticket.changes
    assert ticket.previous is None
    assert ticket.entry == made
    # Nothing is effective before the completion: the entry is written with it, atomically.
    assert store.effective_decision("idenfy", "scan-1") is None
    assert store.complete(claim, decision=ticket)
    assert store.effective_decision("idenfy", "scan-1") == made
    done = store.get(claim.record.id)
    assert done is not None
    assert done.done


def test_an_entry_reads_back_exactly(store: Store) -> None:
    claim = claim_one(store)
    occurred = datetime(2026, 3, 1, 14, 30, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    made = DecisionEntry(
        vendor="complycube",
        subject="check-\udcff\x00-ū",
        status="REVIEW",
        final=False,
        delivery_id=claim.record.id,
        event_type="check.completed.attention",
        received_at=claim.record.received_at,
        occurred_at=occurred,
        client_ref="client-\udcff",
        reasons=("attention", "document_expired"),
        fetch_required=True,
    )
    record(store, claim, made)
    got = store.effective_decision("complycube", "check-\udcff\x00-ū")
    assert got == made
    assert got is not None
    assert got.occurred_at == occurred
    assert got.received_at == claim.record.received_at
    assert store.decisions_for_client("client-\udcff") == [made]
    # Two different odd texts never meet.
    assert store.effective_decision("complycube", "check-\udcfe\x00-ū") is None
    assert list(store.decisions_for_client("client-\udcfe")) == []


def test_unknown_subjects_and_clients_have_no_decision(store: Store) -> None:
    assert store.effective_decision("idenfy", "nobody") is None
    assert list(store.decisions_for_client("nobody")) == []


# -- the rules (supersedes) ----------------------------------------------------------------------

T0 = START - timedelta(hours=1)


@pytest.mark.parametrize(
    ("first", "second", "effective"),
    [
        # (status, final, occurred_at offset in seconds or None) for each of two deliveries
        (("REVIEW", False, None), ("APPROVED", True, None), "second"),
        (("APPROVED", True, None), ("REVIEW", False, None), "first"),  # never downgraded
        (("APPROVED", True, 10), ("DECLINED", False, 20), "first"),  # even when later
        (("DECLINED", True, 10), ("APPROVED", True, 20), "second"),  # later occurred_at
        (("APPROVED", True, 20), ("DECLINED", True, 10), "first"),  # stale: arrived late
        (("PENDING", False, None), ("REVIEW", False, None), "second"),  # later received
        # the same verdict later: no change (no handler), but the later time is kept
        (("APPROVED", True, 10), ("APPROVED", True, 20), "second"),
    ],
    ids=[
        "non-final-then-final",
        "final-then-non-final",
        "final-then-later-non-final",
        "final-then-later-final",
        "final-then-older-final",
        "no-times-received-later-wins",
        "same-verdict-again",
    ],
)
def test_the_rules_decide_and_ticket_changes_says_so(
    store: Store,
    clock: FakeClock,
    first: tuple[str, bool, int | None],
    second: tuple[str, bool, int | None],
    effective: str,
) -> None:
    made: list[DecisionEntry] = []
    for status, final, offset in (first, second):
        claim = claim_one(store)
        occurred = None if offset is None else T0 + timedelta(seconds=offset)
        item = entry(claim, status, final=final, occurred_at=occurred)
        ticket = store.begin_decision(claim, item, lease=SUBJECT_LEASE)
        assert ticket is not None
        assert ticket.changes == supersedes(item, made[-1] if made else None)
        assert store.complete(claim, decision=ticket)
        made.append(item)
        clock.advance(1)
    expected = made[0] if effective == "first" else made[1]
    assert store.effective_decision("idenfy", "scan-1") == expected


def test_a_ticket_that_changes_nothing_leaves_the_ledger_and_releases_the_subject(
    store: Store,
) -> None:
    first = claim_one(store)
    final = entry(first)
    record(store, first, final)
    late = claim_one(store)
    ticket = store.begin_decision(late, entry(late, "REVIEW", final=False), lease=SUBJECT_LEASE)
    assert ticket is not None
    assert not ticket.changes
    assert ticket.previous == final
    assert store.complete(late, decision=ticket)
    assert store.effective_decision("idenfy", "scan-1") == final
    following = claim_one(store)
    assert store.begin_decision(following, entry(following), lease=SUBJECT_LEASE) is not None


# -- the subject lease ----------------------------------------------------------------------------


def test_a_live_subject_lease_makes_other_deliveries_of_the_subject_wait(
    store: Store, clock: FakeClock
) -> None:
    first, second = claim_one(store), claim_one(store)
    ticket = store.begin_decision(first, entry(first, "REVIEW", final=False), lease=SUBJECT_LEASE)
    assert ticket is not None
    assert store.begin_decision(second, entry(second), lease=SUBJECT_LEASE) is None
    clock.advance(SUBJECT_LEASE - 1)
    assert store.begin_decision(second, entry(second), lease=SUBJECT_LEASE) is None
    # Another subject, or the same reference at another vendor, is not held.
    other = claim_one(store)
    assert store.begin_decision(other, entry(other, subject="scan-2"), lease=1) is not None
    elsewhere = claim_one(store)
    assert (
        store.begin_decision(elsewhere, entry(elsewhere, vendor="complycube"), lease=1) is not None
    )
    assert store.complete(first, decision=ticket)
    after = store.begin_decision(second, entry(second), lease=SUBJECT_LEASE)
    assert after is not None
    assert after.changes
    assert after.previous == entry(first, "REVIEW", final=False)


def test_an_expired_subject_lease_is_taken_over(store: Store, clock: FakeClock) -> None:
    first, second = claim_one(store), claim_one(store)
    assert store.begin_decision(first, entry(first), lease=5) is not None
    clock.advance(6)
    assert store.begin_decision(second, entry(second), lease=SUBJECT_LEASE) is not None


def test_abort_releases_the_subject_and_changes_nothing(store: Store) -> None:
    base = claim_one(store)
    recorded = entry(base, "REVIEW", final=False)
    record(store, base, recorded)
    failing, next_one = claim_one(store), claim_one(store)
    ticket = store.begin_decision(failing, entry(failing), lease=SUBJECT_LEASE)
    assert ticket is not None
    assert ticket.changes
    store.abort_decision(ticket)
    assert store.effective_decision("idenfy", "scan-1") == recorded
    assert store.begin_decision(next_one, entry(next_one), lease=SUBJECT_LEASE) is not None
    # Aborting again, or after the lease changed hands, is harmless.
    store.abort_decision(ticket)
    blocked = claim_one(store)
    assert store.begin_decision(blocked, entry(blocked), lease=SUBJECT_LEASE) is None


def test_abort_of_a_first_decision_leaves_no_decision(store: Store) -> None:
    claim = claim_one(store)
    ticket = store.begin_decision(claim, entry(claim), lease=SUBJECT_LEASE)
    assert ticket is not None
    store.abort_decision(ticket)
    assert store.effective_decision("idenfy", "scan-1") is None
    assert list(store.decisions_for_client("user-42")) == []


# -- a failed attempt: its entry is known, not announced (review R52 F1) --------------------------


def retry(store: Store, claim: Claim, *, replay: bool = False) -> Claim:
    """The delivery of ``claim`` claimed again: its failed attempt's retry (or a replay)."""
    if not replay:
        assert store.fail(claim, error_type="RuntimeError", error_message="handler raised")
    again = store.claim(claim.record.id, lease=LEASE, replay=replay)
    assert again is not None
    return again


def fail_decision(store: Store, claim: Claim, made: DecisionEntry) -> DecisionTicket:
    """begin_decision, then the handlers fail: abort_decision(failed=True) and the claim fails."""
    ticket = store.begin_decision(claim, made, lease=SUBJECT_LEASE)
    assert ticket is not None
    store.abort_decision(ticket, failed=True)
    return ticket


def test_a_failed_newer_verdict_is_known_so_an_older_one_is_not_announced(
    store: Store, clock: FakeClock
) -> None:
    """DECLINED (t2) fails in its handlers; APPROVED (t1) is delivered before its retry: it is
    judged against DECLINED -- no change, nothing announced -- and the retry of DECLINED still
    changes the decision (it was never announced); a replay of it afterwards does not."""
    t1, t2 = T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)
    newer = claim_one(store)
    declined = entry(newer, "DECLINED", occurred_at=t2)
    ticket = fail_decision(store, newer, declined)
    assert ticket.changes
    assert store.effective_decision("idenfy", "scan-1") == declined
    assert list(store.decisions_for_client("user-42")) == [declined]
    clock.advance(1)
    older = claim_one(store)
    approved = entry(older, "APPROVED", occurred_at=t1)
    late = store.begin_decision(older, approved, lease=SUBJECT_LEASE)
    assert late is not None  # the failed attempt released the subject lease
    assert not late.changes
    assert late.previous == declined
    assert store.complete(older, decision=late)
    assert store.effective_decision("idenfy", "scan-1") == declined
    clock.advance(1)
    again = retry(store, newer)
    retried = record(store, again, declined)
    assert retried.changes
    assert retried.previous == declined
    assert store.effective_decision("idenfy", "scan-1") == declined
    replayed = record(store, retry(store, again, replay=True), declined)
    assert not replayed.changes


def test_a_failed_verdict_between_two_announced_alike_is_never_announced(
    store: Store, clock: FakeClock
) -> None:
    """APPROVED (t1) announced; DECLINED (t2) fails; APPROVED (t3) arrives: its decision handlers
    were last told APPROVED -- no change -- and it becomes the entry; DECLINED's retry is older
    than it: no change either."""
    t1, t2, t3 = (T0 + timedelta(seconds=n) for n in (1, 2, 3))
    first = claim_one(store)
    assert record(store, first, entry(first, "APPROVED", occurred_at=t1)).changes
    clock.advance(1)
    failing = claim_one(store)
    declined = entry(failing, "DECLINED", occurred_at=t2)
    assert fail_decision(store, failing, declined).changes
    clock.advance(1)
    latest = claim_one(store)
    approved = entry(latest, "APPROVED", occurred_at=t3)
    ticket = record(store, latest, approved)
    assert not ticket.changes
    assert ticket.previous == declined
    assert store.effective_decision("idenfy", "scan-1") == approved
    clock.advance(1)
    stale = record(store, retry(store, failing), declined)
    assert not stale.changes
    assert store.effective_decision("idenfy", "scan-1") == approved
    # The announced verdict is still APPROVED: a later DECLINED is a change.
    later = claim_one(store)
    assert record(store, later, entry(later, "DECLINED", occurred_at=t3 + timedelta(1))).changes


def test_a_failed_stale_verdict_changes_nothing(store: Store) -> None:
    t1, t2 = T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)
    first = claim_one(store)
    newer = entry(first, "APPROVED", occurred_at=t2)
    record(store, first, newer)
    stale = claim_one(store)
    assert not fail_decision(store, stale, entry(stale, "DECLINED", occurred_at=t1)).changes
    assert store.effective_decision("idenfy", "scan-1") == newer


def test_a_failed_attempt_whose_subject_lease_was_lost_records_nothing(
    store: Store, clock: FakeClock
) -> None:
    """Only the holder of the subject lease writes the row: a failure reported after the lease
    expired and another delivery took the subject records nothing (and releases nothing)."""
    slow, other = claim_one(store), claim_one(store)
    ticket = store.begin_decision(slow, entry(slow, "DECLINED"), lease=SUBJECT_LEASE)
    assert ticket is not None
    clock.advance(SUBJECT_LEASE + 1)  # both claims (LEASE) are still live
    taken = store.begin_decision(other, entry(other, "REVIEW", final=False), lease=SUBJECT_LEASE)
    assert taken is not None
    store.abort_decision(ticket, failed=True)
    assert store.effective_decision("idenfy", "scan-1") is None
    blocked = claim_one(store)
    assert store.begin_decision(blocked, entry(blocked), lease=SUBJECT_LEASE) is None


def test_a_failed_verdict_is_forgotten_with_its_verification(store: Store) -> None:
    claim = claim_one(store)
    fail_decision(store, claim, entry(claim, "DECLINED"))
    assert store.forget_decisions(client_ref="user-42") == [claim.record.id]
    assert store.effective_decision("idenfy", "scan-1") is None


# -- lost claims and stale tickets ----------------------------------------------------------------


def test_a_lost_claim_cannot_begin_a_decision(store: Store, clock: FakeClock) -> None:
    claim = claim_one(store)
    clock.advance(LEASE + 1)
    taken = store.claim(claim.record.id, lease=LEASE)
    assert taken is not None
    assert store.begin_decision(claim, entry(claim), lease=SUBJECT_LEASE) is None


def test_a_lost_claim_completes_nothing_and_records_no_decision(
    store: Store, clock: FakeClock
) -> None:
    claim = claim_one(store)
    ticket = store.begin_decision(claim, entry(claim), lease=SUBJECT_LEASE)
    assert ticket is not None
    clock.advance(LEASE + 1)
    taken = store.claim(claim.record.id, lease=LEASE)
    assert taken is not None
    assert not store.complete(claim, decision=ticket)
    assert store.effective_decision("idenfy", "scan-1") is None


def test_a_stale_ticket_never_overwrites_a_newer_decision(store: Store, clock: FakeClock) -> None:
    slow, fast = claim_one(store), claim_one(store)
    # The slow delivery (non-final) begins, then its subject lease expires mid-handler.
    slow_ticket = store.begin_decision(
        slow, entry(slow, "REVIEW", final=False), lease=SUBJECT_LEASE
    )
    assert slow_ticket is not None
    assert slow_ticket.changes
    clock.advance(SUBJECT_LEASE + 1)  # both claims (LEASE) are still live
    final = entry(fast, "DECLINED", final=True)
    record(store, fast, final)
    # The slow one finishes last: whatever complete() answers, the final decision stays.
    store.complete(slow, decision=slow_ticket)
    assert store.effective_decision("idenfy", "scan-1") == final


@pytest.mark.parametrize(
    ("slow_changes", "winner"),
    [
        # Equal finality and decision time: the later receipt wins...
        ({"received_at": START + timedelta(seconds=5)}, "slow"),
        ({"received_at": START - timedelta(seconds=5)}, "fast"),
        # ... then the delivery id, in code point order ("B" < "a" < "z" < "é"), whatever the
        # database's collation says.
        ({"delivery_id": "z"}, "slow"),
        ({"delivery_id": "B"}, "fast"),
        ({"delivery_id": "é"}, "slow"),
    ],
    ids=["received-later", "received-earlier", "id-z", "id-B", "id-e-acute"],
)
def test_a_stale_ticket_is_judged_at_completion_by_the_whole_order(
    store: Store, clock: FakeClock, slow_changes: dict[str, object], winner: str
) -> None:
    # The slow delivery begins, its subject lease expires, another delivery records a verdict of
    # the same finality and time; the slow one's completion judges against the stored entry.
    slow, fast = claim_one(store), claim_one(store)
    occurred = T0 + timedelta(seconds=10)
    fast_entry = dataclasses.replace(
        entry(fast, "APPROVED", occurred_at=occurred), received_at=START, delivery_id="a"
    )
    slow_entry = dataclasses.replace(
        entry(slow, "DECLINED", occurred_at=occurred),
        **{"received_at": START, "delivery_id": "a", **slow_changes},  # type: ignore[arg-type]
    )
    slow_ticket = store.begin_decision(slow, slow_entry, lease=SUBJECT_LEASE)
    assert slow_ticket is not None
    clock.advance(SUBJECT_LEASE + 1)  # both claims (LEASE) are still live
    record(store, fast, fast_entry)
    assert store.complete(slow, decision=slow_ticket)
    expected = slow_entry if winner == "slow" else fast_entry
    assert replaces(slow_entry, fast_entry) == (winner == "slow")
    assert store.effective_decision("idenfy", "scan-1") == expected


# -- reading by client --------------------------------------------------------------------------


def test_decisions_for_client_are_newest_first_and_limited(store: Store, clock: FakeClock) -> None:
    made: list[DecisionEntry] = []
    for n, occurred in enumerate([T0 + timedelta(seconds=5), None, T0 + timedelta(seconds=1)]):
        claim = claim_one(store)
        item = entry(claim, subject=f"scan-{n}", occurred_at=occurred)
        record(store, claim, item)
        made.append(item)
        clock.advance(1)
    other = claim_one(store)
    record(store, other, entry(other, subject="scan-x", client_ref="user-7"))
    anonymous = claim_one(store)
    record(store, anonymous, entry(anonymous, subject="scan-y", client_ref=None))
    # Times: scan-1 has no occurred_at, so its received_at (START + 1 s) orders it, which is
    # later than the vendor times of the other two (an hour before START).
    assert list(store.decisions_for_client("user-42")) == [made[1], made[0], made[2]]
    assert list(store.decisions_for_client("user-42", limit=2)) == [made[1], made[0]]
    assert [e.subject for e in store.decisions_for_client("user-7")] == ["scan-x"]


def test_decisions_for_client_show_only_the_effective_decision_of_each_subject(
    store: Store, clock: FakeClock
) -> None:
    first = claim_one(store)
    record(store, first, entry(first, "REVIEW", final=False))
    clock.advance(1)
    second = claim_one(store)
    final = entry(second, "APPROVED", final=True)
    record(store, second, final)
    assert list(store.decisions_for_client("user-42")) == [final]


def test_the_same_verdict_later_moves_the_time_so_every_order_ends_alike(
    store: Store,
) -> None:
    """APPROVED (final) at t1 and again at t3, DECLINED (final) at t2: the latest verdict is
    APPROVED at t3 whatever order the three arrive in. The repeated verdict changes nothing (no
    decision handler) but moves the stored time, so DECLINED at t2 is judged against t3."""
    t1, t2, t3 = (START + timedelta(minutes=n) for n in (1, 2, 3))
    verdicts = [("APPROVED", t1), ("APPROVED", t3), ("DECLINED", t2)]
    for number, order in enumerate(itertools.permutations(verdicts)):
        subject = f"scan-order-{number}"
        changes = 0
        for status, at in order:
            claim = claim_one(store)
            ticket = record(store, claim, entry(claim, status, subject=subject, occurred_at=at))
            changes += ticket.changes
        effective = store.effective_decision("idenfy", subject)
        assert effective is not None
        assert (effective.status, effective.occurred_at) == ("APPROVED", t3), order
        assert changes >= 1


# -- add with a decision: the subject lease in the claiming step ----------------------------------
# A store may take the subject lease in ``add`` itself (Added.ticket / Added.subject_busy) or
# ignore the decision (both unset: the caller calls begin_decision). Either way the caller ends
# up holding what begin_decision right after the claim would give. FOLDING: the store classes that
# do take it in add (one step instead of two); any other store must answer as if it ignored it.

FOLDING = ("DjangoStore", "MemoryStore", "PostgresStore", "SQLiteStore")


def verdict(status: str = "APPROVED", *, final: bool = True, subject: str = "scan-1") -> Decision:
    """The decision a delivery carries (what the runner hands to add)."""
    return Decision(
        DecisionStatus(status),
        final,
        "idenfy",
        "IDENTIFICATION_AUTO_FINISHED",
        subject,
        client_ref="user-42",
    )


def add_deciding(
    store: Store, decision: Decision, key: str | None = None, *, lease: float | None = LEASE
) -> Added:
    key = key if key is not None else f"key-{next(_counter)}"
    delivery = NewDelivery(key, "idenfy", "IDENTIFICATION_AUTO_FINISHED", b"{}")
    return store.add(delivery, lease=lease, decision=decision)


def folds(store: Store) -> bool:
    return type(store).__name__ in FOLDING


def held(store: Store, added: Added, decision: Decision, *, folding: bool) -> DecisionTicket | None:
    """The ticket the caller holds after ``add``: the store's, or begin_decision's when the store
    ignored the decision (the runner's rule)."""
    assert added.claim is not None
    if folding:
        assert added.ticket is not None or added.subject_busy
        assert not (added.ticket is not None and added.subject_busy)
        return added.ticket
    assert added.ticket is None
    assert not added.subject_busy
    made = ledger_entry(decision, added.claim.record)
    return store.begin_decision(added.claim, made, lease=LEASE)


def test_add_with_a_decision_holds_the_subject_lease_as_begin_decision_would(
    store: Store, clock: FakeClock
) -> None:
    prior = claim_one(store)
    first = entry(prior, "REVIEW", final=False)
    record(store, prior, first)
    clock.advance(1)
    decision = verdict("APPROVED", final=True)
    added = add_deciding(store, decision)
    assert added.created
    assert added.claim is not None
    assert added.claim.record.state is DeliveryState.PROCESSING
    ticket = held(store, added, decision, folding=folds(store))
    assert ticket is not None
    assert ticket.entry == ledger_entry(decision, added.claim.record)
    assert ticket.previous == first
    assert ticket.changes
    # The lease is held: another delivery of the subject waits; of another subject, it does not.
    other = claim_one(store)
    assert store.begin_decision(other, entry(other), lease=SUBJECT_LEASE) is None
    elsewhere = store.begin_decision(other, entry(other, subject="scan-2"), lease=SUBJECT_LEASE)
    assert elsewhere is not None
    store.abort_decision(elsewhere)
    assert store.effective_decision("idenfy", "scan-1") == first  # nothing before the completion
    assert store.complete(added.claim, decision=ticket)
    assert store.effective_decision("idenfy", "scan-1") == ticket.entry
    assert store.begin_decision(other, entry(other), lease=SUBJECT_LEASE) is not None


def test_add_with_a_decision_of_a_new_subject_has_no_previous_entry(store: Store) -> None:
    decision = verdict(subject="scan-\udcff\x00-ū")
    added = add_deciding(store, decision)
    ticket = held(store, added, decision, folding=folds(store))
    assert ticket is not None
    assert ticket.previous is None
    assert ticket.changes
    assert ticket.entry.subject == "scan-\udcff\x00-ū"
    assert added.claim is not None
    assert store.complete(added.claim, decision=ticket)
    assert store.effective_decision("idenfy", "scan-\udcff\x00-ū") == ticket.entry


def test_add_with_a_decision_of_a_busy_subject_keeps_the_claim_for_the_caller(store: Store) -> None:
    holder = claim_one(store)
    holding = store.begin_decision(holder, entry(holder), lease=SUBJECT_LEASE)
    assert holding is not None
    added = add_deciding(store, verdict("DECLINED"))
    assert added.claim is not None
    if folds(store):
        assert added.subject_busy
        assert added.ticket is None
    else:
        assert held(store, added, verdict("DECLINED"), folding=False) is None
    # The claim is held and is the caller's to release; the holder's lease is untouched.
    stored = store.get(added.record.id)
    assert stored is not None
    assert stored.state is DeliveryState.PROCESSING
    assert store.fail(added.claim, error_type="DeliveryInProgressError", error_message="busy")
    stored = store.get(added.record.id)
    assert stored is not None
    assert stored.state is DeliveryState.FAILED
    assert store.complete(holder, decision=holding)
    assert store.effective_decision("idenfy", "scan-1") == holding.entry


def test_add_with_a_decision_takes_over_an_expired_subject_lease(
    store: Store, clock: FakeClock
) -> None:
    holder = claim_one(store)
    stale = store.begin_decision(holder, entry(holder), lease=SUBJECT_LEASE)
    assert stale is not None
    clock.advance(SUBJECT_LEASE + 1)
    decision = verdict()
    added = add_deciding(store, decision)
    ticket = held(store, added, decision, folding=folds(store))
    assert ticket is not None
    assert added.claim is not None
    assert store.complete(added.claim, decision=ticket)
    assert store.effective_decision("idenfy", "scan-1") == ticket.entry


def test_an_add_that_claims_nothing_takes_no_subject_lease(store: Store, clock: FakeClock) -> None:
    done = add_deciding(store, verdict(), "done-key")
    assert done.claim is not None
    ticket = done.ticket or store.begin_decision(
        done.claim, ledger_entry(verdict(), done.claim.record), lease=LEASE
    )
    assert ticket is not None
    assert store.complete(done.claim, decision=ticket)
    clock.advance(1)
    live = claim_one(store, "live-key")
    # A duplicate of a done record, a record another worker holds, a deferred (unclaimed) add.
    answers = [
        add_deciding(store, verdict("DECLINED"), "done-key"),
        add_deciding(store, verdict("DECLINED"), "live-key"),
        add_deciding(store, verdict("DECLINED"), "deferred-key", lease=None),
    ]
    for added in answers:
        assert added.claim is None
        assert added.ticket is None
        assert not added.subject_busy
    assert [added.created for added in answers] == [False, False, True]
    # The subject is free: no add above took its lease.
    other = claim_one(store)
    free = store.begin_decision(other, entry(other, "DECLINED"), lease=SUBJECT_LEASE)
    assert free is not None
    assert free.previous == ticket.entry
    assert store.complete(live, decision=None)


def test_add_with_a_decision_reclaims_a_failed_delivery_with_its_first_receipt(
    store: Store, clock: FakeClock
) -> None:
    first = claim_one(store, "retried")
    assert store.fail(first, error_type="E", error_message="boom")
    clock.advance(5)
    decision = verdict()
    added = add_deciding(store, decision, "retried")
    assert not added.created
    assert added.claim is not None
    assert added.claim.previous_state is DeliveryState.FAILED
    ticket = held(store, added, decision, folding=folds(store))
    assert ticket is not None
    assert ticket.entry.delivery_id == first.record.id
    assert ticket.entry.received_at == first.record.received_at


# -- forgetting a data subject, and retention (docs/security.md, "Retention and erasure") --------


def test_forget_by_client_ref_removes_every_verification_of_the_client(store: Store) -> None:
    first, second, other = claim_one(store), claim_one(store), claim_one(store)
    record(store, first, entry(first, subject="scan-1"))
    record(store, second, entry(second, "DECLINED", subject="scan-2", vendor="complycube"))
    kept = entry(other, subject="scan-3", client_ref="user-7")
    record(store, other, kept)

    forgotten = store.forget_decisions(client_ref="user-42")

    # The deliveries the entries came from: the caller erases their bodies.
    assert sorted(forgotten) == sorted([first.record.id, second.record.id])
    assert list(store.decisions_for_client("user-42")) == []
    assert store.effective_decision("idenfy", "scan-1") is None
    assert store.effective_decision("complycube", "scan-2") is None
    assert store.effective_decision("idenfy", "scan-3") == kept
    assert list(store.decisions_for_client("user-7")) == [kept]
    # Forgetting again finds nothing: the same call is safe to repeat.
    assert store.forget_decisions(client_ref="user-42") == []


def test_forget_by_subject_removes_that_verification_only(store: Store) -> None:
    first, second = claim_one(store), claim_one(store)
    record(store, first, entry(first, subject="scan-1"))
    kept = entry(second, subject="scan-2")
    record(store, second, kept)

    assert store.forget_decisions(vendor="idenfy", subject="scan-1") == [first.record.id]
    assert store.effective_decision("idenfy", "scan-1") is None
    assert list(store.decisions_for_client("user-42")) == [kept]
    # The same reference at another vendor is another verification; an unknown one is none.
    assert store.forget_decisions(vendor="complycube", subject="scan-2") == []
    assert store.forget_decisions(vendor="idenfy", subject="nobody") == []
    assert store.effective_decision("idenfy", "scan-2") == kept


def test_forget_matches_odd_text_exactly(store: Store) -> None:
    claim, near = claim_one(store), claim_one(store)
    record(store, claim, entry(claim, subject="scan-\udcff\x00", client_ref="Ref-\udcff "))
    kept = entry(near, subject="scan-ref", client_ref="ref-\udcff")
    record(store, near, kept)
    assert store.forget_decisions(client_ref="ref-\udcfe") == []
    assert store.forget_decisions(client_ref="Ref-\udcff ") == [claim.record.id]
    assert list(store.decisions_for_client("ref-\udcff")) == [kept]


@pytest.mark.parametrize(
    "selector",
    [
        {},
        {"vendor": "idenfy"},
        {"subject": "scan-1"},
        {"client_ref": "user-42", "vendor": "idenfy", "subject": "scan-1"},
        {"client_ref": 42},
        {"vendor": "idenfy", "subject": b"scan-1"},
    ],
    ids=["none", "vendor-only", "subject-only", "both", "int-client", "bytes-subject"],
)
def test_forget_takes_one_selector(store: Store, selector: dict[str, object]) -> None:
    claim = claim_one(store)
    made = entry(claim)
    record(store, claim, made)
    with pytest.raises(UsageError):
        store.forget_decisions(**selector)  # type: ignore[arg-type]
    assert store.effective_decision("idenfy", "scan-1") == made


def test_forget_removes_nothing_while_a_delivery_of_a_verification_is_handled(
    store: Store, clock: FakeClock
) -> None:
    """All or nothing: removing an entry under a running delivery would let its completion
    judge a stale verdict against nothing. The caller retries once the delivery is done."""
    first, second = claim_one(store), claim_one(store)
    old = entry(first, "REVIEW", final=False, subject="scan-1")
    record(store, first, old)
    other = entry(second, subject="scan-2")
    record(store, second, other)
    running = claim_one(store)
    ticket = store.begin_decision(running, entry(running, subject="scan-1"), lease=SUBJECT_LEASE)
    assert ticket is not None

    with pytest.raises(DeliveryInProgressError):
        store.forget_decisions(client_ref="user-42")
    with pytest.raises(DeliveryInProgressError):
        store.forget_decisions(vendor="idenfy", subject="scan-1")
    assert store.effective_decision("idenfy", "scan-1") == old
    assert store.effective_decision("idenfy", "scan-2") == other
    # Another verification is not held.
    assert store.forget_decisions(vendor="idenfy", subject="scan-2") == [second.record.id]

    assert store.complete(running, decision=ticket)
    assert store.forget_decisions(client_ref="user-42") == [running.record.id]
    assert list(store.decisions_for_client("user-42")) == []


def test_an_expired_subject_lease_does_not_keep_a_verification(
    store: Store, clock: FakeClock
) -> None:
    first = claim_one(store)
    record(store, first, entry(first))
    crashed = claim_one(store)
    assert store.begin_decision(crashed, entry(crashed), lease=5) is not None
    clock.advance(6)
    assert store.forget_decisions(client_ref="user-42") == [first.record.id]
    # A verification that is forgotten starts afresh: its next verdict is a first one.
    following = claim_one(store)
    ticket = store.begin_decision(following, entry(following, "DECLINED"), lease=SUBJECT_LEASE)
    assert ticket is not None
    assert ticket.previous is None
    assert ticket.changes


def test_purge_decisions_removes_entries_of_old_deliveries(store: Store, clock: FakeClock) -> None:
    old = claim_one(store)
    record(store, old, entry(old, subject="scan-1"))
    clock.advance(3600)
    newer = claim_one(store)
    kept = entry(newer, subject="scan-2")
    record(store, newer, kept)
    clock.advance(3600)

    assert store.purge_decisions(older_than=timedelta(hours=1, seconds=1)) == 1
    assert store.effective_decision("idenfy", "scan-1") is None
    assert list(store.decisions_for_client("user-42")) == [kept]
    assert store.purge_decisions(older_than=timedelta(hours=1, seconds=1)) == 0
    # An aware cut-off works as well; the entry's own receipt time decides, not the vendor's.
    assert store.purge_decisions(older_than=kept.received_at) == 0
    assert store.purge_decisions(older_than=kept.received_at + timedelta(seconds=1)) == 1
    assert list(store.decisions_for_client("user-42")) == []


def test_purge_decisions_takes_a_cut_off_in_any_zone(store: Store, clock: FakeClock) -> None:
    # An offset with seconds (zoneinfo's historic local mean times, a timezone(timedelta(...)))
    # is written +05:30:30 by isoformat(), which SQLite's julianday() cannot read: the SQLite
    # store purged nothing (review R31).
    old = claim_one(store)
    record(store, old, entry(old, subject="scan-1"))
    clock.advance(3600)
    odd = timezone(timedelta(hours=5, minutes=30, seconds=30))
    limit = clock().astimezone(odd)
    assert store.purge_decisions(older_than=limit) == 1
    assert store.effective_decision("idenfy", "scan-1") is None


def test_purge_decisions_spares_a_verification_being_handled(
    store: Store, clock: FakeClock
) -> None:
    old = claim_one(store)
    recorded = entry(old, "REVIEW", final=False)
    record(store, old, recorded)
    clock.advance(3600)
    running = claim_one(store)
    ticket = store.begin_decision(running, entry(running), lease=SUBJECT_LEASE)
    assert ticket is not None
    # Old enough, but its lease is live: the running delivery is judged against it.
    assert store.purge_decisions(older_than=timedelta(minutes=30)) == 0
    assert store.effective_decision("idenfy", "scan-1") == recorded
    store.abort_decision(ticket)
    assert store.purge_decisions(older_than=timedelta(minutes=30)) == 1
    assert store.effective_decision("idenfy", "scan-1") is None


def test_purge_decisions_removes_verifications_that_never_got_a_decision(
    store: Store, clock: FakeClock
) -> None:
    """A first decision whose handler failed leaves the subject without an entry: its row (if
    the store keeps one) goes with retention, and counts as no entry."""
    claim = claim_one(store)
    ticket = store.begin_decision(claim, entry(claim), lease=SUBJECT_LEASE)
    assert ticket is not None
    store.abort_decision(ticket)
    clock.advance(3600)
    assert store.purge_decisions(older_than=timedelta(minutes=1)) == 0
    following = claim_one(store)
    again = store.begin_decision(following, entry(following), lease=SUBJECT_LEASE)
    assert again is not None
    assert again.previous is None
