"""Decision handlers and the ledger through a real Receiver (docs/decisions.md, "The ledger"):
out-of-order and redelivered events, stale events, failing decision handlers, a busy subject,
``receiver.decisions``, and the behaviour without a store. On every store (memory, SQLite on a
file, PostgreSQL when a server is reachable)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

import pytest

import kyc_webhooks as kw
from _stores import FakeClock
from kyc_webhooks.decisions import ledger_entry, ledger_subject
from kyc_webhooks.store import DecisionTicket, NewDelivery, Store
from kyc_webhooks.testing import Delivery, signed_delivery

KEY = "ledger-signing-key"
S = kw.DecisionStatus


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every store implementation, PostgreSQL's too (tests/conftest.py)."""
    return any_store


def idenfy(event_type: str, status: str, *, final: bool, **overrides: Any) -> Delivery:
    return signed_delivery(
        "idenfy", event_type, KEY, status__overall=status, final=final, **overrides
    )


#: One iDenfy verification (the samples share one scanRef): the automatic result (non-final
#: SUSPECTED -> REVIEW), then the manual one (final APPROVED).
AUTO = idenfy("IDENTIFICATION_AUTO_FINISHED", "SUSPECTED", final=False)
MANUAL = idenfy("IDENTIFICATION_MANUAL_FINISHED", "APPROVED", final=True)
SEQUENCE = {"auto": AUTO, "manual": MANUAL, "auto-redelivered": AUTO}


class Recorder:
    """A receiver with one event handler and one decision handler that record their calls."""

    def __init__(self, store: Store | None, **kwargs: Any) -> None:
        self.receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, **kwargs)
        self.events: list[str] = []
        self.decisions: list[kw.Decision] = []

        @self.receiver.on("idenfy")
        def on_event(event: kw.WebhookEvent) -> None:
            self.events.append(event.event_type)

        @self.receiver.on_decision()
        def on_decision(decision: kw.Decision) -> None:
            self.decisions.append(decision)

    def statuses(self) -> list[tuple[kw.DecisionStatus, bool]]:
        return [(d.status, d.final) for d in self.decisions]


def subject_of(delivery: Delivery) -> str:
    decision = kw.Receiver(kw.Idenfy(signing_key=KEY)).parse(*delivery).decision
    assert decision is not None
    return decision.subject


SCAN_REF = subject_of(AUTO)
assert subject_of(MANUAL) == SCAN_REF


# -- out of order ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "order", list(itertools.permutations(SEQUENCE)), ids=lambda order: ",".join(order)
)
def test_every_order_ends_in_the_same_decision_and_handlers_run_once_per_change(
    store: Store, clock: FakeClock, order: tuple[str, ...]
) -> None:
    recorder = Recorder(store)
    for name in order:
        outcome = recorder.receiver.handle(*SEQUENCE[name])
        assert outcome.status_code == 200, outcome.error
        clock.advance(1)
    latest = recorder.receiver.decisions.latest("idenfy", SCAN_REF)
    assert latest is not None
    assert (latest.status, latest.final, latest.event_type) == (
        S.APPROVED,
        True,
        "IDENTIFICATION_MANUAL_FINISHED",
    )
    # The automatic result is a real change only when it arrives before the manual one; the
    # final verdict is never downgraded, and a redelivery is a duplicate that runs nothing.
    first_auto = min(order.index("auto"), order.index("auto-redelivered"))
    if first_auto < order.index("manual"):
        assert recorder.statuses() == [(S.REVIEW, False), (S.APPROVED, True)]
    else:
        assert recorder.statuses() == [(S.APPROVED, True)]
    assert sorted(recorder.events) == [
        "IDENTIFICATION_AUTO_FINISHED",
        "IDENTIFICATION_MANUAL_FINISHED",
    ]
    assert all(d.event is not None for d in recorder.decisions)


def test_a_stale_event_answers_200_and_runs_the_event_handlers_but_no_decision_handler(
    store: Store, clock: FakeClock
) -> None:
    recorder = Recorder(store)
    assert recorder.receiver.handle(*MANUAL).status_code == 200
    clock.advance(1)
    # A different automatic result (another body, so not a redelivery) arriving after the final.
    stale = idenfy("IDENTIFICATION_AUTO_FINISHED", "DENIED", final=False, finishTime=1795420000)
    outcome = recorder.receiver.handle(*stale)
    assert outcome.status_code == 200
    assert not outcome.duplicate
    assert outcome.handled == 1  # the event handler only
    assert recorder.events == ["IDENTIFICATION_MANUAL_FINISHED", "IDENTIFICATION_AUTO_FINISHED"]
    assert recorder.statuses() == [(S.APPROVED, True)]
    redelivered = recorder.receiver.handle(*stale)
    assert redelivered.duplicate
    assert len(recorder.events) == 2


def test_a_later_final_verdict_replaces_an_earlier_final_one(
    store: Store, clock: FakeClock
) -> None:
    recorder = Recorder(store)
    early = idenfy("IDENTIFICATION_MANUAL_FINISHED", "DENIED", final=True, finishTime=1795420000)
    late = idenfy("IDENTIFICATION_MANUAL_FINISHED", "APPROVED", final=True, finishTime=1795429999)
    assert recorder.receiver.handle(*late).status_code == 200
    clock.advance(1)
    assert recorder.receiver.handle(*early).status_code == 200  # arrives late, happened first
    assert recorder.statuses() == [(S.APPROVED, True)]
    latest = recorder.receiver.decisions.latest("idenfy", SCAN_REF)
    assert latest is not None
    assert latest.status is S.APPROVED


# -- failures and the subject lease ---------------------------------------------------------------


def test_a_failing_decision_handler_fails_the_delivery_and_its_retry_announces_it(
    store: Store, clock: FakeClock
) -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    calls: list[kw.DecisionStatus] = []

    @receiver.on_decision(S.APPROVED)
    def flaky(decision: kw.Decision) -> None:
        calls.append(decision.status)
        if len(calls) == 1:
            raise RuntimeError("downstream unavailable")

    failed = receiver.handle(*MANUAL)
    assert failed.status_code == 500
    assert isinstance(failed.error, kw.HandlerError)
    # The verdict is authenticated and stored: the ledger knows it (latest() says so), while
    # its decision handlers have not been told yet.
    known = receiver.decisions.latest("idenfy", SCAN_REF)
    assert known is not None
    assert known.status is S.APPROVED
    # The subject lease was released: the vendor's retry runs the handler again, and succeeds.
    clock.advance(1)
    retried = receiver.handle(*MANUAL)
    assert retried.status_code == 200
    assert calls == [S.APPROVED, S.APPROVED]
    latest = receiver.decisions.latest("idenfy", SCAN_REF)
    assert latest is not None
    assert latest.status is S.APPROVED


#: One verification's final verdicts at three times (iDenfy's finishTime, seconds).
T1, T2, T3 = 1795420000, 1795425000, 1795429999


def manual(status: str, finish_time: int) -> Delivery:
    return idenfy("IDENTIFICATION_MANUAL_FINISHED", status, final=True, finishTime=finish_time)


class FailsOnce(Recorder):
    """A Recorder whose decision handler fails the first time it is told ``status``."""

    def __init__(self, store: Store, status: kw.DecisionStatus) -> None:
        super().__init__(store)
        self.failures = 0

        @self.receiver.on_decision(status)
        def flaky(decision: kw.Decision) -> None:
            if self.failures == 0:
                self.failures += 1
                raise RuntimeError("downstream unavailable")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_older_verdict_delivered_before_a_failed_newer_ones_retry_is_not_announced(
    store: Store, clock: FakeClock, mode: str
) -> None:
    """Review R52 F1: a newer DECLINED whose decision handler failed is already the latest known
    verdict. An older APPROVED delivered before its retry runs its event handlers only -- the
    customer is never told APPROVED -- and the retry tells DECLINED, once."""
    recorder = FailsOnce(store, S.DECLINED)

    def handle(delivery: Delivery) -> kw.Outcome:
        if mode == "sync":
            return recorder.receiver.handle(*delivery)
        return asyncio.run(recorder.receiver.handle_async(*delivery))

    declined, approved = manual("DENIED", T2), manual("APPROVED", T1)
    assert handle(declined).status_code == 500
    assert recorder.failures == 1
    clock.advance(1)
    older = handle(approved)
    assert older.status_code == 200, older.error
    assert older.handled == 1  # its event handler only
    assert recorder.events == ["IDENTIFICATION_MANUAL_FINISHED"] * 2
    assert recorder.statuses() == [(S.DECLINED, True)]  # the failed call was recorded too
    latest = recorder.receiver.decisions.latest("idenfy", SCAN_REF)
    assert latest is not None
    assert latest.status is S.DECLINED
    clock.advance(1)
    retried = handle(declined)
    assert retried.status_code == 200, retried.error
    assert recorder.statuses() == [(S.DECLINED, True), (S.DECLINED, True)]
    latest = recorder.receiver.decisions.latest("idenfy", SCAN_REF)
    assert latest is not None
    assert latest.status is S.DECLINED
    assert latest.occurred_at is not None
    assert latest.occurred_at.timestamp() == T2
    # A replay of the retried delivery tells nobody again.
    assert handle(declined).duplicate
    assert len(recorder.decisions) == 2


def test_a_failed_verdict_overtaken_by_the_announced_one_again_is_never_announced(
    store: Store, clock: FakeClock
) -> None:
    """APPROVED (t1) announced; DECLINED (t2) fails; APPROVED (t3) arrives: the decision
    handlers were last told APPROVED, so nothing is announced, and the entry becomes APPROVED at
    t3; DECLINED's retry is then older than the latest verdict: nothing is announced either."""
    recorder = FailsOnce(store, S.DECLINED)
    receiver = recorder.receiver
    assert receiver.handle(*manual("APPROVED", T1)).status_code == 200
    assert recorder.statuses() == [(S.APPROVED, True)]
    clock.advance(1)
    declined = manual("DENIED", T2)
    assert receiver.handle(*declined).status_code == 500
    clock.advance(1)
    latest = receiver.handle(*manual("APPROVED", T3))
    assert latest.status_code == 200, latest.error
    assert latest.handled == 1  # its event handler only
    assert recorder.statuses() == [(S.APPROVED, True), (S.DECLINED, True)]  # the failed call
    clock.advance(1)
    retried = receiver.handle(*declined)
    assert retried.status_code == 200, retried.error
    assert retried.handled == 1
    assert recorder.statuses() == [(S.APPROVED, True), (S.DECLINED, True)]
    effective = receiver.decisions.latest("idenfy", SCAN_REF)
    assert effective is not None
    assert effective.status is S.APPROVED
    assert effective.occurred_at is not None
    assert effective.occurred_at.timestamp() == T3


def test_a_busy_subject_answers_503_and_runs_no_handler_until_it_is_free(
    store: Store, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(store)
    # Another worker is handling a delivery of the same verification: it holds the subject.
    holder = store.add(
        NewDelivery("other-delivery", "idenfy", "IDENTIFICATION_AUTO_FINISHED", b"{}"),
        lease=60,
    ).claim
    assert holder is not None
    parsed = recorder.receiver.parse(*AUTO).decision
    assert parsed is not None
    ticket = store.begin_decision(holder, ledger_entry(parsed, holder.record), lease=60)
    assert ticket is not None
    with caplog.at_level(logging.INFO, logger="kyc_webhooks"):
        busy = recorder.receiver.handle(*MANUAL)
    assert busy.status_code == 503
    assert isinstance(busy.error, kw.DeliveryInProgressError)
    assert busy.retry_after is not None
    assert busy.retry_after > 0
    assert recorder.events == []
    assert recorder.decisions == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert recorder.receiver.stats()["in_progress"] == 1
    assert store.complete(holder, decision=ticket)
    # The vendor retries after Retry-After: handled now, exactly once.
    clock.advance(busy.retry_after)
    assert recorder.receiver.handle(*MANUAL).status_code == 200
    assert recorder.events == ["IDENTIFICATION_MANUAL_FINISHED"]
    assert recorder.statuses() == [(S.APPROVED, True)]


def test_deferred_deliveries_record_their_decisions_through_the_worker(
    store: Store, clock: FakeClock
) -> None:
    recorder = Recorder(store, defer=True)
    assert recorder.receiver.handle(*AUTO).status_code == 202
    clock.advance(1)  # the worker takes the oldest first
    assert recorder.receiver.handle(*MANUAL).status_code == 202
    summary = recorder.receiver.process_pending()
    assert summary.failed == 0
    assert summary.succeeded == 2
    assert recorder.statuses() == [(S.REVIEW, False), (S.APPROVED, True)]
    # A replay changes no decision: the decision handler does not run again.
    done = store.deliveries()[0]
    assert recorder.receiver.replay(done.id).status_code == 200
    assert len(recorder.decisions) == 2


# -- async ----------------------------------------------------------------------------------------


def test_handle_async_awaits_async_decision_handlers(store: Store, clock: FakeClock) -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    seen: list[kw.DecisionStatus] = []

    @receiver.on_decision(final=True)
    async def on_final(decision: kw.Decision) -> None:
        await asyncio.sleep(0)
        seen.append(decision.status)

    async def deliver() -> list[int]:
        codes = []
        for delivery in (MANUAL, AUTO, MANUAL):
            codes.append((await receiver.handle_async(*delivery)).status_code)
            clock.advance(1)
        return codes

    assert asyncio.run(deliver()) == [200, 200, 200]
    assert seen == [S.APPROVED]
    with pytest.raises(kw.ConfigurationError, match="on_final"):
        receiver.check(sync=True)


# -- receiver.decisions ---------------------------------------------------------------------------


def test_receiver_decisions_rebuild_effective_decisions(store: Store, clock: FakeClock) -> None:
    recorder = Recorder(store)
    recorder.receiver.handle(*AUTO)
    clock.advance(1)
    other = idenfy(
        "IDENTIFICATION_MANUAL_FINISHED", "DENIED", final=True, scanRef="scan-other-0001"
    )
    recorder.receiver.handle(*other)
    decisions = recorder.receiver.decisions
    latest = decisions.latest("idenfy", SCAN_REF)
    assert latest is not None
    assert latest == recorder.decisions[0]  # equal by value to the handler's decision
    assert latest.event is None  # rebuilt from the ledger
    client = latest.client_ref
    assert client is not None
    listed = decisions.for_client(client)
    assert [(d.subject, d.status) for d in listed] == [
        ("scan-other-0001", S.DECLINED),
        (SCAN_REF, S.REVIEW),
    ]
    assert decisions.latest("idenfy", "no-such-scan") is None
    assert decisions.for_client("nobody") == []


def test_identomat_session_tokens_are_kept_as_digests(store: Store) -> None:
    receiver = kw.Receiver(kw.Identomat(api_key="ident-key"), store=store)
    delivery = signed_delivery("identomat", "session-change", "ident-key", result="APPROVED")
    decision = receiver.parse(*delivery).decision
    assert decision is not None
    token = decision.subject
    assert receiver.handle(*delivery).status_code == 200
    assert store.effective_decision("identomat", token) is None
    stored = store.effective_decision("identomat", ledger_subject("identomat", token))
    assert stored is not None
    assert stored.subject.startswith("sha256:")
    assert token not in stored.subject
    latest = receiver.decisions.latest("identomat", token)
    assert latest is not None
    assert latest.subject == token
    assert token not in repr(latest)


def test_receiver_decisions_need_a_store() -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY))
    with pytest.raises(kw.UsageError, match="store"):
        receiver.decisions.latest("idenfy", SCAN_REF)


# -- without a store ---------------------------------------------------------------------------


def test_without_a_store_decision_handlers_run_for_every_event_with_a_decision() -> None:
    recorder = Recorder(None)
    for name in ("manual", "auto", "auto-redelivered"):
        assert recorder.receiver.handle(*SEQUENCE[name]).status_code == 200
    # No ledger: every decision reaches the handler, the downgrade and the redelivery too.
    assert recorder.statuses() == [(S.APPROVED, True), (S.REVIEW, False), (S.REVIEW, False)]


def test_without_a_store_async_decision_handlers_are_awaited() -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY))
    seen: list[bool] = []

    @receiver.on_decision(S.REVIEW, S.PENDING, final=False)
    async def on_open(decision: kw.Decision) -> None:
        seen.append(decision.final)

    async def deliver() -> tuple[int, int]:
        first = await receiver.handle_async(*AUTO)
        second = await receiver.handle_async(*MANUAL)
        return first.handled, second.handled

    assert asyncio.run(deliver()) == (1, 0)
    assert seen == [False]


def test_without_a_store_a_failing_decision_handler_is_a_500() -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY))

    @receiver.on_decision()
    def broken(decision: kw.Decision) -> None:
        raise ValueError("bug")

    outcome = receiver.handle(*AUTO)
    assert outcome.status_code == 500
    assert isinstance(outcome.error, kw.HandlerError)


# -- registration ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "final", "expected"),
    [
        ((), None, ["auto", "manual"]),
        ((S.APPROVED,), None, ["manual"]),
        ((S.APPROVED, S.REVIEW), None, ["auto", "manual"]),
        (("REVIEW",), None, ["auto"]),
        ((), True, ["manual"]),
        ((), False, ["auto"]),
        ((S.DECLINED,), True, []),
    ],
    ids=["all", "one-status", "two-statuses", "status-as-str", "final", "non-final", "none"],
)
def test_on_decision_selects_by_status_and_finality(
    statuses: tuple[kw.DecisionStatus | str, ...], final: bool | None, expected: list[str]
) -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY))
    seen: list[str] = []

    @receiver.on_decision(*statuses, final=final)
    def handler(decision: kw.Decision) -> None:
        seen.append("manual" if decision.final else "auto")

    receiver.handle(*AUTO)
    receiver.handle(*MANUAL)
    assert seen == expected


def test_on_decision_refuses_what_is_no_status_or_finality() -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY))
    with pytest.raises(kw.ConfigurationError, match="DecisionStatus"):
        receiver.on_decision("APPROVD")
    with pytest.raises(kw.ConfigurationError, match="final"):
        receiver.on_decision(final="yes")  # type: ignore[arg-type]
    with pytest.raises(kw.ConfigurationError, match="callable"):
        receiver.on_decision()(42)  # type: ignore[type-var]


def test_decision_routes_compose_and_freeze_like_event_routes() -> None:
    first = kw.Router()
    seen: list[str] = []

    @first.on_decision(S.APPROVED)
    def approved(decision: kw.Decision) -> None:
        seen.append("approved")

    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), router=kw.Router(first))
    assert receiver.handle(*MANUAL).handled == 1
    assert seen == ["approved"]
    with pytest.raises(kw.ConfigurationError, match="before the first delivery"):
        receiver.on_decision()(approved)


def test_an_async_decision_handler_under_handle_is_a_usage_error() -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY))

    @receiver.on_decision()
    async def handler(decision: kw.Decision) -> None: ...

    with pytest.raises(kw.ConfigurationError, match="handler"):
        receiver.check(sync=True)
    with pytest.raises(kw.UsageError, match="handle_async"):
        receiver.handle(*AUTO)


def test_a_failing_event_handler_releases_the_subject_for_the_next_delivery(
    store: Store, clock: FakeClock
) -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    decided: list[kw.DecisionStatus] = []

    @receiver.on("idenfy", "IDENTIFICATION_AUTO_FINISHED")
    def broken(event: kw.WebhookEvent) -> None:
        raise RuntimeError("bug")

    @receiver.on_decision()
    def on_change(decision: kw.Decision) -> None:
        decided.append(decision.status)

    assert receiver.handle(*AUTO).status_code == 500
    assert decided == []  # the event handlers run first; the decision handler never started
    # The subject lease was released at once (no 503 for the next delivery of the subject).
    assert receiver.handle(*MANUAL).status_code == 200
    assert decided == [S.APPROVED]


class _LedgerDown(kw.MemoryStore):
    """A store whose ledger fails (a driver error, not StoreError). It ignores
    ``add(decision=...)``, so that the runner takes the subject lease with begin_decision."""

    def add(
        self, delivery: NewDelivery, *, lease: float | None = None, decision: Any = None
    ) -> Any:
        return super().add(delivery, lease=lease)

    def begin_decision(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("connection lost while reading Jane Doe")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_failing_ledger_is_a_503_and_runs_no_handler(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = _LedgerDown()
    recorder = Recorder(store)
    with caplog.at_level(logging.INFO, logger="kyc_webhooks"):
        if mode == "sync":
            outcome = recorder.receiver.handle(*MANUAL)
        else:
            outcome = asyncio.run(recorder.receiver.handle_async(*MANUAL))
    assert outcome.status_code == 503
    assert isinstance(outcome.error, kw.StoreError)
    assert "Jane" not in caplog.text
    assert "Jane" not in str(outcome.response_body())
    assert recorder.events == []
    assert recorder.decisions == []
    assert recorder.receiver.stats()["store_errors"] == 1
    # The claim was released: the vendor's retry is not blocked by a live lease.
    record = store.deliveries()[0]
    assert record.state is kw.DeliveryState.FAILED


def test_handle_async_answers_503_for_a_busy_subject(store: Store) -> None:
    recorder = Recorder(store)
    holder = store.add(
        NewDelivery("other-delivery", "idenfy", "IDENTIFICATION_AUTO_FINISHED", b"{}"), lease=60
    ).claim
    assert holder is not None
    parsed = recorder.receiver.parse(*AUTO).decision
    assert parsed is not None
    assert store.begin_decision(holder, ledger_entry(parsed, holder.record), lease=60)
    busy = asyncio.run(recorder.receiver.handle_async(*MANUAL))
    assert busy.status_code == 503
    assert busy.retry_after is not None
    assert recorder.events == []


def test_a_failed_replay_of_a_done_delivery_does_not_bring_a_forgotten_verdict_back(
    store: Store,
) -> None:
    """A replay of a ``done`` delivery that fails stays done and is never retried: its verdict
    is not recorded as the latest known one -- after ``forget_decisions`` it would come back
    into the ledger with nothing left to announce it (review R62)."""
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    failing = [False]

    @receiver.on_decision()
    def on_decision(decision: kw.Decision) -> None:
        if failing[0]:
            raise RuntimeError("downstream unavailable")

    done = receiver.handle(*MANUAL)
    assert done.status_code == 200
    assert done.delivery_id is not None
    assert store.forget_decisions(vendor="idenfy", subject=SCAN_REF) == [done.delivery_id]
    failing[0] = True
    replayed = receiver.replay(done.delivery_id)
    assert replayed.status_code == 500
    record = store.get(done.delivery_id)
    assert record is not None
    assert record.state is kw.DeliveryState.DONE
    assert receiver.decisions.latest("idenfy", SCAN_REF) is None


class _StoreBeforeFailed(kw.MemoryStore):
    """A store written before ``abort_decision(failed=...)``: its ``abort_decision`` takes the
    ticket only."""

    def __init__(self) -> None:
        super().__init__()
        self.aborted: list[DecisionTicket] = []

    def abort_decision(self, ticket: DecisionTicket) -> None:  # type: ignore[override]
        self.aborted.append(ticket)
        super().abort_decision(ticket)


def test_a_store_whose_abort_decision_predates_failed_is_called_as_before() -> None:
    store = _StoreBeforeFailed()
    recorder = FailsOnce(store, S.DECLINED)  # type: ignore[arg-type]
    declined = manual("DENIED", T2)
    assert recorder.receiver.handle(*declined).status_code == 500
    assert len(store.aborted) == 1
    # Its ledger keeps the old behaviour: the failed verdict is not recorded until its retry.
    assert recorder.receiver.decisions.latest("idenfy", SCAN_REF) is None
    assert recorder.receiver.handle(*declined).status_code == 200
    assert recorder.statuses() == [(S.DECLINED, True), (S.DECLINED, True)]
