"""DjangoStore takes the subject lease in ``add``'s transaction (``add(..., decision=...)``):
through a real Receiver, a new delivery that carries a verdict commits once fewer than the
two-step path (``add`` then ``begin_decision``), on the database of this run. Commits are counted
from Django's own query log (``CaptureQueriesContext`` records each COMMIT since Django 4.2)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import kyc_webhooks as kw
from _stores import FakeClock
from django_app.writes import as_another_program
from kyc_webhooks.decisions import Decision, ledger_entry
from kyc_webhooks.errors import UsageError
from kyc_webhooks.integrations.django.models import DecisionRecord
from kyc_webhooks.integrations.django.store import DjangoStore
from kyc_webhooks.store import Added, NewDelivery, _runner
from kyc_webhooks.testing import Delivery, signed_delivery

KEY = "fold-signing-key"


class TwoStep(DjangoStore):
    """A DjangoStore that ignores ``add(decision=...)``, as the protocol allows (and as
    DjangoStore did): the runner then takes the subject lease with ``begin_decision``."""

    def add(
        self, delivery: NewDelivery, *, lease: float | None = None, decision: Decision | None = None
    ) -> Added:
        return super().add(delivery, lease=lease)


def verdict(scan_ref: str, status: str = "APPROVED") -> Delivery:
    return signed_delivery(
        "idenfy",
        "IDENTIFICATION_MANUAL_FINISHED",
        KEY,
        status__overall=status,
        final=True,
        scanRef=scan_ref,
    )


def receiver_on(store: DjangoStore, changes: list[Any]) -> kw.Receiver:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, lease_timeout=60)

    @receiver.on_decision()
    def on_decision(decision: kw.Decision) -> None:
        changes.append((decision.status, decision.final))

    return receiver


def commits(run: Any) -> tuple[Any, int]:
    """What ``run()`` returns, and how many transactions it committed (the stores of this suite
    are on the default database)."""
    with CaptureQueriesContext(connection) as captured:
        result = run()
    return result, sum(1 for query in captured.captured_queries if query["sql"] == "COMMIT")


def test_a_new_verdict_delivery_commits_once_fewer_than_add_then_begin_decision(
    django_store: DjangoStore, clock: FakeClock
) -> None:
    changes: list[Any] = []
    folded = receiver_on(django_store, changes)
    two_step = receiver_on(TwoStep(clock=clock), changes)
    outcome, folded_commits = commits(lambda: folded.handle(*verdict("scan-a")))
    assert (outcome.status_code, outcome.duplicate) == (200, False)
    before, two_step_commits = commits(lambda: two_step.handle(*verdict("scan-b")))
    assert (before.status_code, before.duplicate) == (200, False)
    # add + claim + subject lease, then complete + ledger entry; the two-step path commits the
    # subject lease on its own in between.
    assert folded_commits == 2
    assert two_step_commits == folded_commits + 1
    # Both ended the same way: the verdict recorded, its lease released, handlers run once.
    assert changes == [(kw.DecisionStatus.APPROVED, True)] * 2
    for scan_ref in ("scan-a", "scan-b"):
        effective = django_store.effective_decision("idenfy", scan_ref)
        assert effective is not None
        assert (effective.status, effective.final) == ("APPROVED", True)
    assert not DecisionRecord.objects.filter(token__isnull=False).exists()


def test_a_verdict_delivery_of_a_busy_subject_commits_once_fewer(
    django_store: DjangoStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another delivery holds the subject: add claims and finds it busy in one transaction, then
    the claim is released (409-style answer, the vendor retries); the lease holder is untouched.
    Commits are counted: the busy subject is answered at once, without the wait in the request
    that tries begin_decision again (tests/test_subject_wait.py)."""
    monkeypatch.setattr(_runner, "SUBJECT_WAIT", 0.0)
    changes: list[Any] = []
    folded = receiver_on(django_store, changes)
    two_step = receiver_on(TwoStep(clock=clock), changes)
    holder = django_store.add(NewDelivery("holder", "idenfy", "T", b"{}"), lease=60).claim
    assert holder is not None
    decision = folded.parse(*verdict("scan-busy")).decision
    assert decision is not None
    held = django_store.begin_decision(holder, ledger_entry(decision, holder.record), lease=60)
    assert held is not None
    busy, folded_commits = commits(lambda: folded.handle(*verdict("scan-busy")))
    clock.advance(1)
    other = verdict("scan-busy", "DENIED")  # another delivery of the verification
    before, two_step_commits = commits(lambda: two_step.handle(*other))
    assert busy.status_code == before.status_code
    assert busy.status_code != 200
    assert folded_commits == 2  # add + claim + busy subject, then the claim's release
    assert two_step_commits == folded_commits + 1
    assert changes == []
    assert django_store.effective_decision("idenfy", "scan-busy") is None
    assert django_store.complete(holder, decision=held)
    assert django_store.effective_decision("idenfy", "scan-busy") == held.entry


@pytest.mark.parametrize("decided", [False, True], ids=["no-decision", "decision"])
def test_an_add_that_claims_nothing_commits_once(django_store: DjangoStore, decided: bool) -> None:
    """A deferred add (no lease) takes no subject lease, with or without a decision."""
    decision = Decision(kw.DecisionStatus.APPROVED, True, "idenfy", "E", "scan-deferred")
    added, made = commits(
        lambda: django_store.add(
            NewDelivery("deferred", "idenfy", "E", b"{}"), decision=decision if decided else None
        ),
    )
    assert (added.created, added.claim, added.ticket, added.subject_busy) == (
        True,
        None,
        None,
        False,
    )
    assert made == 1
    assert not DecisionRecord.objects.exists()


def test_add_with_a_decision_refuses_what_is_not_a_decision(django_store: DjangoStore) -> None:
    with pytest.raises(UsageError):
        django_store.add(
            NewDelivery("refused", "idenfy", "E", b"{}"),
            lease=60,
            decision="APPROVED",  # type: ignore[arg-type]
        )
    assert django_store.get_by_key("refused") is None


@pytest.mark.parametrize("existing", [False, True], ids=["new-subject", "known-subject"])
def test_threads_adding_verdicts_of_one_subject_one_takes_the_lease(
    django_store: DjangoStore, existing: bool
) -> None:
    """Eight threads, each on a connection of its own, add a delivery of the same verification
    at once: every add claims its delivery, exactly one takes the subject lease in that
    transaction and the others find the subject busy -- whether the ledger row is created by the
    race (a unique INSERT decides) or already there (select_for_update / a conditional UPDATE)."""
    decision = Decision(kw.DecisionStatus.APPROVED, True, "idenfy", "E", "scan-race")
    recorded = None
    if existing:  # a recorded decision of the subject, its lease free
        first = django_store.add(NewDelivery("first", "idenfy", "E", b"{}"), lease=60).claim
        assert first is not None
        recorded = ledger_entry(decision, first.record)
        ticket = django_store.begin_decision(first, recorded, lease=60)
        assert ticket is not None
        assert django_store.complete(first, decision=ticket)
    barrier = threading.Barrier(8, timeout=30)
    answers: list[Added] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        try:
            barrier.wait()
            added = django_store.add(
                NewDelivery(f"race-{n}", "idenfy", "E", b"{}"), lease=60, decision=decision
            )
            with lock:
                answers.append(added)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(answers) == 8
    assert all(added.created and added.claim is not None for added in answers)
    winners = [added for added in answers if added.ticket is not None]
    assert len(winners) == 1
    assert sum(1 for added in answers if added.subject_busy) == 7
    won = winners[0]
    assert won.ticket is not None
    assert won.ticket.previous == recorded
    row = DecisionRecord.objects.get()
    assert row.lease_delivery == won.record.id
    assert won.claim is not None
    assert django_store.complete(won.claim, decision=won.ticket)


def test_a_malformed_stored_decision_is_answered_as_without_the_fold(
    django_store: DjangoStore, clock: FakeClock
) -> None:
    """The subject's stored decision does not decode: the folding add gives the lease back and
    answers as the two-step path does (begin_decision reports it, the claim is released) -- it
    used to roll the whole add back."""
    seen = []
    for store, scan_ref in ((django_store, "scan-m1"), (TwoStep(clock=clock), "scan-m2")):
        receiver = receiver_on(store, [])
        assert receiver.handle(*verdict(scan_ref, "DENIED")).status_code == 200
        DecisionRecord.objects.update(reasons=5)  # not a list: the entry cannot be read back
        outcome = receiver.handle(*verdict(scan_ref))
        record = store.get_by_key(outcome.delivery_key or "")
        assert record is not None
        seen.append((outcome.status_code, record.state, record.lease_until, record.last_error_type))
    assert seen[0] == seen[1]
    assert seen[0][0] == 503
    assert seen[0][2] is None  # the claim was released


def test_a_ledger_row_django_cannot_read_is_answered_as_without_the_fold(
    django_store: DjangoStore, clock: FakeClock
) -> None:
    """A stored value Django's own converters reject (a date no calendar has) is a StoreError of
    the lease, not a ValueError out of ``add`` that took the stored delivery with it. Only SQLite
    can hold such a value: PostgreSQL's column types refuse it on write."""
    seen = []
    for store, scan_ref in ((django_store, "scan-v1"), (TwoStep(clock=clock), "scan-v2")):
        receiver = receiver_on(store, [])
        assert receiver.handle(*verdict(scan_ref, "DENIED")).status_code == 200
        with as_another_program() as kept, connection.cursor() as cursor:
            if not kept:  # PostgreSQL refuses to store such a time
                return
            table = DecisionRecord._meta.db_table
            cursor.execute(f"UPDATE {table} SET received_at = '2024-13-45 00:00:00'")  # noqa: S608
        outcome = receiver.handle(*verdict(scan_ref))
        record = store.get_by_key(outcome.delivery_key or "")
        assert record is not None  # was: None -- the folded add raised ValueError, nothing stored
        seen.append((outcome.status_code, record.state, record.lease_until, record.last_error_type))
    assert seen[0] == seen[1]
    assert seen[0][0] == 503
