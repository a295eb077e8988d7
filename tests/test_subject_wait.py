"""A delivery that arrives while another delivery of the same verification holds the decision
ledger's subject lease waits for it in its request, up to ``SUBJECT_WAIT`` seconds, instead of
being answered 503 at once (review R52 F2: Yoti and Identomat document no redelivery, and every
503 counts towards ComplyCube disabling the endpoint). A worker's claim does not wait: the next
sweep retries it. On every store (memory, SQLite on a file, PostgreSQL)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator

import pytest

import kyc_webhooks as kw
from kyc_webhooks.decisions import ledger_entry
from kyc_webhooks.store import Claim, DecisionTicket, NewDelivery, Store, _runner
from test_ledger import AUTO, MANUAL, Recorder, S

#: Bounds every wait of these tests.
TIMEOUT = 30.0


def _answered_busy(recorder: Recorder, run: str) -> tuple[kw.Outcome, float]:
    """Deliver MANUAL through ``handle`` (``run`` "sync") or ``handle_async``; check that it was
    answered 503 in progress without running a handler; the outcome and the monotonic time of
    the answer."""
    if run == "sync":
        outcome = recorder.receiver.handle(*MANUAL)
    else:
        outcome = asyncio.run(recorder.receiver.handle_async(*MANUAL))
    answered = time.monotonic()
    assert outcome.status_code == 503
    assert isinstance(outcome.error, kw.DeliveryInProgressError)
    assert recorder.events == []
    return outcome, answered


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


@pytest.fixture
def holder(store: Store) -> tuple[Claim, DecisionTicket]:
    """Another delivery of the verification, being handled: it holds the subject lease."""
    claim = store.add(
        NewDelivery("other-delivery", "idenfy", "IDENTIFICATION_AUTO_FINISHED", b"{}"), lease=60
    ).claim
    assert claim is not None
    parsed = Recorder(None).receiver.parse(*AUTO).decision
    assert parsed is not None
    ticket = store.begin_decision(claim, ledger_entry(parsed, claim.record), lease=60)
    assert ticket is not None
    return claim, ticket


@pytest.fixture
def released_soon(store: Store, holder: tuple[Claim, DecisionTicket]) -> Iterator[threading.Thread]:
    """The holder's handlers end 0.2 s from now (in another thread): its completion gives the
    subject lease back."""
    claim, ticket = holder

    def finish() -> None:
        time.sleep(0.2)
        assert store.complete(claim, decision=ticket)

    thread = threading.Thread(target=finish)
    thread.start()
    yield thread
    thread.join(TIMEOUT)
    assert not thread.is_alive()


def test_a_delivery_waits_for_the_subject_instead_of_a_503(
    store: Store, released_soon: threading.Thread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_runner, "SUBJECT_WAIT", TIMEOUT)  # a loaded machine's slack
    recorder = Recorder(store)
    outcome = recorder.receiver.handle(*MANUAL)
    assert outcome.status_code == 200, outcome.error
    assert recorder.events == ["IDENTIFICATION_MANUAL_FINISHED"]
    assert recorder.statuses() == [(S.APPROVED, True)]
    assert recorder.receiver.stats()["in_progress"] == 0


def test_handle_async_waits_for_the_subject_too(
    store: Store, released_soon: threading.Thread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_runner, "SUBJECT_WAIT", TIMEOUT)  # a loaded machine's slack
    recorder = Recorder(store)
    outcome = asyncio.run(recorder.receiver.handle_async(*MANUAL))
    assert outcome.status_code == 200, outcome.error
    assert recorder.statuses() == [(S.APPROVED, True)]


@pytest.mark.parametrize("run", ["sync", "async"])
def test_the_wait_is_bounded_then_503(
    store: Store,
    holder: tuple[Claim, DecisionTicket],
    monkeypatch: pytest.MonkeyPatch,
    run: str,
) -> None:
    monkeypatch.setattr(_runner, "SUBJECT_WAIT", 0.3)
    recorder = Recorder(store)
    started = time.monotonic()
    outcome, answered = _answered_busy(recorder, run)
    waited = answered - started
    assert 0.3 <= waited < TIMEOUT
    # Nothing ran: the delivery waits, not failed for good, and the wait used no attempt.
    assert outcome.delivery_id is not None
    record = store.get(outcome.delivery_id)
    assert record is not None
    assert record.attempts == 0


def test_a_workers_claim_does_not_wait(
    store: Store, holder: tuple[Claim, DecisionTicket], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_runner, "SUBJECT_WAIT", TIMEOUT)
    recorder = Recorder(store, defer=True)
    assert recorder.receiver.handle(*MANUAL).status_code == 202
    started = time.monotonic()
    summary = recorder.receiver.process_pending()
    assert time.monotonic() - started < TIMEOUT / 2
    assert summary.succeeded == 0
    assert [o.status_code for o in summary.outcomes] == [503]
    assert recorder.events == []


@pytest.mark.parametrize("run", ["sync", "async"])
def test_slow_store_calls_do_not_stretch_the_wait(
    store: Store,
    holder: tuple[Claim, DecisionTicket],
    monkeypatch: pytest.MonkeyPatch,
    run: str,
) -> None:
    """The wait ends ``SUBJECT_WAIT`` seconds after it began, however long each try of the
    subject lease takes (a write queued behind other processes' writes, a row lock): it
    counted only its pauses, so a store answering each try in 1 s kept a delivery 6.5 s for a
    0.5 s wait -- past the 10 s after which iDenfy gives up, with the default second."""
    monkeypatch.setattr(_runner, "SUBJECT_WAIT", 0.5)
    slow_call = 1.0
    begin = store.begin_decision
    tries: list[float] = []

    def slow_begin(*args: object, **kwargs: object) -> DecisionTicket | None:
        tries.append(time.monotonic())
        time.sleep(slow_call)
        return begin(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "begin_decision", slow_begin)
    # On PostgreSQL after open_async() the tries would go through begin_decision_async; this
    # store runs them through begin_decision (worker threads), as every store without it does.
    recorder = Recorder(store)
    started = time.monotonic()
    _, answered = _answered_busy(recorder, run)
    waited = answered - started
    # No try starts once the wait is over; the answer comes after the wait plus the one try
    # under way at its end (generous margin: a shared machine).
    assert all(at - started < 0.5 + slow_call for at in tries), [t - started for t in tries]
    assert waited < 0.5 + 2 * slow_call + 1.5


def test_the_pauses_are_drawn_apart_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deliveries of one verification that arrived together do not all try at the same
    moments (on one fixed schedule only one of them could win each time, and the others waited
    for the next, doubling, pause while the lease was free): each pause is drawn between half
    and all of 10 ms doubling, at most ``SUBJECT_PAUSE_MAX``."""
    monkeypatch.setattr(_runner, "SUBJECT_WAIT", 60.0)  # the pauses, not the deadline
    first = list(itertools.islice(_runner._subject_pauses(), 12))
    second = list(itertools.islice(_runner._subject_pauses(), 12))
    assert first != second
    nominal = [min(0.01 * 2**n, _runner.SUBJECT_PAUSE_MAX) for n in range(12)]
    for pauses in (first, second):
        assert all(n / 2 <= p <= n for p, n in zip(pauses, nominal, strict=True)), pauses
    assert max(first + second) <= _runner.SUBJECT_PAUSE_MAX == 0.1


def test_a_clock_that_does_not_move_still_ends_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test suite freezing ``time.monotonic`` (freezegun, time-machine) must not turn the wait
    for a busy subject into an endless loop: the pauses add up to ``SUBJECT_WAIT`` at most."""
    monkeypatch.setattr(_runner, "SUBJECT_WAIT", 0.5)
    monkeypatch.setattr(time, "monotonic", lambda: 1000.0)
    pauses = list(itertools.islice(_runner._subject_pauses(), 10_000))
    assert len(pauses) < 10_000
    assert sum(pauses) <= 0.5 + 1e-9
