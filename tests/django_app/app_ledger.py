"""The decision ledger on DjangoStore (the app's DecisionRecord model), on the database of this
run: SQLite, or PostgreSQL with KYC_TEST_DJANGO_DB=postgres. Begin/abort/complete, the rules
(through supersedes()), the subject lease, its expiry, lost claims, decisions_for_client, text a
database cannot hold, and four threads -- each on a connection of its own -- racing conflicting
verdicts for one subject."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from django.test import Client

from _ledger import SUBJECT, claimed, decide, entry
from _stores import FakeClock
from kyc_webhooks.errors import UsageError
from kyc_webhooks.integrations.django import signals
from kyc_webhooks.integrations.django.models import DecisionRecord
from kyc_webhooks.integrations.django.store import DjangoStore
from kyc_webhooks.receiver import Receiver
from kyc_webhooks.store._base import supersedes
from kyc_webhooks.testing import sample_payload, sign


def test_ledger_complete_records_the_entry_and_releases_the_lease(store: DjangoStore) -> None:
    first = claimed(store)
    made = entry(first, reasons=("FACE_MISMATCH",))
    ticket = store.begin_decision(first, made, lease=30)
    assert ticket is not None
    assert (ticket.previous, ticket.changes) == (None, True)
    assert store.effective_decision("idenfy", SUBJECT) is None
    second = claimed(store)
    assert store.begin_decision(second, entry(second, "DECLINED"), lease=30) is None  # held
    assert store.complete(first, decision=ticket)
    assert store.effective_decision("idenfy", SUBJECT) == made
    again = store.begin_decision(second, entry(second, "DECLINED"), lease=30)
    assert again is not None
    assert again.previous == made


def test_ledger_abort_keeps_the_ledger_and_a_first_abort_leaves_no_row(
    store: DjangoStore,
) -> None:
    first = claimed(store)
    ticket = store.begin_decision(first, entry(first), lease=30)
    assert ticket is not None
    store.abort_decision(ticket)
    assert DecisionRecord.objects.count() == 0
    made = entry(first, "REVIEW", final=False, occurred=1)
    decide(store, made, first)
    second = claimed(store)
    ticket = store.begin_decision(second, entry(second, "DECLINED", occurred=2), lease=30)
    assert ticket is not None
    store.abort_decision(ticket)
    store.abort_decision(ticket)  # twice is harmless
    assert store.effective_decision("idenfy", SUBJECT) == made
    assert store.begin_decision(second, entry(second), lease=30) is not None


SEQUENCE = [("REVIEW", False, 1.0), ("APPROVED", True, 2.0), ("REVIEW", False, 1.0)]


@pytest.mark.parametrize(
    "order", list(itertools.permutations(range(3))), ids=lambda o: "-".join(map(str, o))
)
def test_ledger_every_order_ends_in_the_final_decision(
    store: DjangoStore, clock: FakeClock, order: tuple[int, ...]
) -> None:
    changed = []
    for index in order:
        status, final, occurred = SEQUENCE[index]
        clock.advance(1)
        claim = claimed(store)
        made = entry(claim, status, final=final, occurred=occurred)
        current = store.effective_decision("idenfy", SUBJECT)
        ticket = decide(store, made, claim)
        assert ticket.previous == current
        assert ticket.changes == supersedes(made, current)
        changed.append((status, ticket.changes))
    effective = store.effective_decision("idenfy", SUBJECT)
    assert effective is not None
    assert (effective.status, effective.final) == ("APPROVED", True)
    assert changed.count(("APPROVED", True)) == 1


@pytest.mark.parametrize("wins", [False, True], ids=["stale-entry-loses", "still-supersedes"])
def test_ledger_an_expired_lease_is_taken_over_and_the_late_ticket_is_judged_again(
    store: DjangoStore, clock: FakeClock, wins: bool
) -> None:
    slow, fast, third = (claimed(store, lease=600) for _ in range(3))
    old = store.begin_decision(slow, entry(slow, "DECLINED", occurred=3 if wins else 1), lease=10)
    assert old is not None
    clock.advance(9)
    fast_entry = entry(fast, "REVIEW" if wins else "APPROVED", final=not wins, occurred=2)
    assert store.begin_decision(fast, fast_entry, lease=10) is None
    clock.advance(2)
    new = store.begin_decision(fast, fast_entry, lease=10)
    assert new is not None
    assert store.complete(fast, decision=new)
    assert store.begin_decision(third, entry(third, "PENDING", final=False), lease=60)
    assert store.complete(slow, decision=old)
    assert store.effective_decision("idenfy", SUBJECT) == (old.entry if wins else fast_entry)
    assert supersedes(old.entry, fast_entry) is wins
    other = claimed(store)
    assert store.begin_decision(other, entry(other), lease=60) is None  # the third's lease held


def test_ledger_a_lost_claim_changes_neither_ledger_nor_lease(
    store: DjangoStore, clock: FakeClock
) -> None:
    lost = claimed(store, lease=10)
    ticket = store.begin_decision(lost, entry(lost), lease=60)
    assert ticket is not None
    clock.advance(11)
    taken = store.claim(lost.record.id, lease=60)
    assert taken is not None
    assert not store.complete(lost, decision=ticket)
    assert store.effective_decision("idenfy", SUBJECT) is None
    assert store.begin_decision(taken, entry(taken), lease=60) is None  # still the lost ticket's
    assert store.begin_decision(lost, entry(lost, subject="other"), lease=60) is None  # lost
    clock.advance(61)
    again = store.begin_decision(taken, entry(taken), lease=60)
    assert again is not None
    assert store.complete(taken, decision=again)
    assert store.effective_decision("idenfy", SUBJECT) == again.entry


def test_ledger_decisions_for_client_newest_first(store: DjangoStore, clock: FakeClock) -> None:
    made = {}
    for subject, occurred in [("s-a", 30.0), ("s-b", None), ("s-c", 10.0), ("s-d", 50.0)]:
        clock.advance(1)
        claim = claimed(store)
        made[subject] = entry(claim, subject=subject, occurred=occurred)
        decide(store, made[subject], claim)
    other = claimed(store)
    decide(store, entry(other, subject="s-x", client_ref="client-2"), other)
    expected = [made[s] for s in ("s-b", "s-d", "s-a", "s-c")]
    assert list(store.decisions_for_client("client-1")) == expected
    assert list(store.decisions_for_client("client-1", limit=2)) == expected[:2]
    assert list(store.decisions_for_client("nobody")) == []
    with pytest.raises(UsageError):
        store.decisions_for_client("client-1", limit=0)


def test_ledger_decisions_for_client_ties_by_delivery_id(store: DjangoStore) -> None:
    claims = sorted((claimed(store) for _ in range(3)), key=lambda c: c.record.id)
    # Subjects in the order of the ids: a subject order would be the reverse of the expected.
    made = [entry(claim, subject=f"t-{n}", occurred=5) for n, claim in enumerate(claims)]
    for made_entry, claim in zip(made, claims, strict=True):
        decide(store, made_entry, claim)
    expected = made[::-1]
    assert list(store.decisions_for_client("client-1")) == expected


@pytest.mark.parametrize(
    "odd", ["a\x00b", "a\udcffb", "\U0010fffeab"], ids=["nul", "lone-surrogate", "marker"]
)
def test_ledger_odd_text_round_trips(store: DjangoStore, odd: str) -> None:
    claim = claimed(store)
    made = entry(claim, subject=odd, client_ref=odd, reasons=(odd,))
    decide(store, made, claim)
    assert store.effective_decision("idenfy", odd) == made
    assert list(store.decisions_for_client(odd)) == [made]
    assert store.effective_decision("idenfy", "ab") is None


def test_ledger_bad_arguments_are_usage_errors(store: DjangoStore) -> None:
    claim = claimed(store)
    made = entry(claim)
    with pytest.raises(UsageError):
        store.begin_decision(claim, made, lease=0)
    with pytest.raises(UsageError):
        store.begin_decision(claim, replace(made, received_at=datetime(2026, 1, 1)), lease=30)
    with pytest.raises(UsageError):
        store.complete(claim, decision="ticket")  # type: ignore[arg-type]
    assert DecisionRecord.objects.count() == 0


def test_ledger_four_threads_racing_conflicting_verdicts_end_in_the_rules_winner(
    store: DjangoStore,
) -> None:
    """Sixteen verdicts over four threads (each its own database connection): the subject lease
    serialises them; the changing tickets form one chain ending in the rules' winner."""
    statuses = ["PENDING", "REVIEW", "DECLINED", "EXPIRED", "CANCELLED", "UNKNOWN"]
    plan = [(k, statuses[k % 6], k % 2 == 1, (k * 7) % 16) for k in range(16)]
    winner = max(plan, key=lambda v: (v[2], v[3]))[0]
    claims = {k: claimed(store, lease=600) for k, *_ in plan}
    made = {
        k: entry(
            claims[k],
            "APPROVED" if k == winner else status,
            final=final,
            occurred=float(occurred),
            reasons=(str(k),),
        )
        for k, status, final, occurred in plan
    }
    results: list[tuple[int, int | None, bool]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4, timeout=30)

    def run(n: int) -> None:
        try:
            barrier.wait()
            deadline = time.monotonic() + 60
            for k in [k for k, *_ in plan if k % 4 == n]:
                ticket = None
                for _ in range(5000):
                    ticket = store.begin_decision(claims[k], made[k], lease=60)
                    if ticket is not None or time.monotonic() > deadline:
                        break
                    time.sleep(0.002)
                assert ticket is not None, "never got the subject"
                time.sleep(0.005)
                assert store.complete(claims[k], decision=ticket)
                previous = None if ticket.previous is None else int(ticket.previous.reasons[0])
                with lock:
                    results.append((k, previous, ticket.changes))
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert errors == []
    assert sorted(k for k, _, _ in results) == list(range(16))
    assert store.effective_decision("idenfy", SUBJECT) == made[winner]
    by_previous = {previous: k for k, previous, changes in results if changes}
    assert len(by_previous) == sum(1 for _, _, changes in results if changes)
    chain: list[int] = []
    link: int | None = None
    while link in by_previous and len(chain) <= 16:
        link = by_previous[link]
        chain.append(link)
    assert chain[-1] == winner
    assert len(chain) == len(by_previous)
    assert all(previous in chain for _, previous, changes in results if not changes)


# -- the decision_changed signal ---------------------------------------------------------------


def _idenfy(event_type: str, **overrides: Any) -> tuple[bytes, dict[str, str]]:
    payload = sample_payload("idenfy", event_type, scanRef="scan-signal", **overrides)
    body, headers = sign("idenfy", payload, "idenfy-test-key", event_type=event_type)
    return body, dict(headers)


@pytest.mark.django_db(transaction=True)
def test_decision_changed_is_sent_once_per_change_of_the_effective_decision() -> None:
    """Through the app's URL and its DjangoStore: an automatic verdict, then the manual final
    one, each send the signal; a redelivery and a stale automatic verdict send nothing."""
    got: list[tuple[Any, Any]] = []

    def on_signal(sender: Any, decision: Any, **kwargs: Any) -> None:
        got.append((sender, decision))

    automatic = _idenfy("IDENTIFICATION_AUTO_FINISHED", final=False, status__overall="SUSPECTED")
    manual = _idenfy("IDENTIFICATION_MANUAL_FINISHED", final=True, status__overall="APPROVED")
    stale = _idenfy("IDENTIFICATION_AUTO_FINISHED", final=False, status__overall="DENIED")
    signals.decision_changed.connect(on_signal)
    try:
        client = Client()
        for body, headers in (automatic, manual, manual, stale):
            extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            answer = client.post(
                "/webhooks/idenfy", data=body, content_type="application/json", headers=extra
            )
            assert answer.status_code == 200
    finally:
        signals.decision_changed.disconnect(on_signal)
    if not hasattr(Receiver, "on_decision"):
        # A receiver without decision handlers (before they were merged): nothing is connected.
        assert got == []
        return
    assert [(d.status, d.final) for _, d in got] == [("REVIEW", False), ("APPROVED", True)]
    assert all(sender is type(d.event) for sender, d in got)
    assert all(d.subject == "scan-signal" for _, d in got)
    effective = DjangoStore().effective_decision("idenfy", "scan-signal")
    assert effective is not None
    assert (effective.status, effective.final) == ("APPROVED", True)
