"""The store runner against the findings of review 2 (2026-11-30), on real stores: MemoryStore, a
SQLite file and PostgreSQL (a schema per test). Time moves only through the stores' injected
clocks; threads meet through events, never through sleeps.

1. A claim given back because another delivery of the verification held the subject lease uses
   up no attempt (``fail(..., count_attempt=False)``); a store that cannot say so is refused.
2. A second cancellation does not skip the release of the claim and the subject lease; a subject
   lease still being taken in a worker thread when the request is cancelled is given back.
3. A crashed delivery is taken over once its lease expires, not when an old back-off ends.
5. A 503 for a store failure in ``begin_decision`` carries ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from _stores import FakeClock
from kyc_webhooks.decisions import ledger_entry
from kyc_webhooks.store import (
    Claim,
    DecisionEntry,
    DecisionTicket,
    MemoryStore,
    NewDelivery,
    SQLiteStore,
    _runner,
)
from kyc_webhooks.store._runner import STORE_RETRY_AFTER
from kyc_webhooks.store.sqlite import SCHEMA_VERSION as SQLITE_SCHEMA_VERSION
from kyc_webhooks.testing import Delivery, signed_delivery

KEY = "review2-signing-key"
S = kw.DecisionStatus


def idenfy(event_type: str, status: str, *, final: bool) -> Delivery:
    return signed_delivery(
        "idenfy", event_type, KEY, status__overall=status, final=final, scanRef="scan-review2"
    )


AUTO = idenfy("IDENTIFICATION_AUTO_FINISHED", "SUSPECTED", final=False)
MANUAL = idenfy("IDENTIFICATION_MANUAL_FINISHED", "DENIED", final=True)


@pytest.fixture
def store(any_store: kw.Store) -> kw.Store:
    """Every store implementation, PostgreSQL's too (tests/conftest.py)."""
    return any_store


class Handled:
    """A receiver on ``store`` that records the events and the decisions its handlers saw."""

    def __init__(self, store: kw.Store, *, defer: bool = False) -> None:
        self.receiver = kw.Receiver(
            kw.Idenfy(signing_key=KEY), store=store, defer=defer, lease_timeout=60
        )
        self.events: list[str] = []
        self.decisions: list[tuple[S, bool]] = []
        self.receiver.on("idenfy")(lambda event: self.events.append(event.event_type))

        @self.receiver.on_decision()
        def on_decision(decision: kw.Decision) -> None:
            self.decisions.append((decision.status, decision.final))


# -- 1. waiting for a busy subject uses no attempt -------------------------------------------


def test_waiting_for_another_delivery_of_the_verification_uses_no_attempt(
    store: kw.Store, clock: FakeClock
) -> None:
    # The worker handling the automatic result dies holding its claim and the subject lease; the
    # sweeper meets the manual (final) result every 2.5 s while the subject is busy. Was: each
    # meeting used one of its 8 attempts, it was left failed for good after 8, and the final
    # DECLINED verdict -- answered 202 -- never reached the handlers or the ledger.
    handled = Handled(store, defer=True)
    receiver = handled.receiver
    auto = receiver.handle(*AUTO).delivery_id
    clock.advance(1)
    manual = receiver.handle(*MANUAL).delivery_id
    assert auto is not None
    assert manual is not None
    claim = store.claim(auto, lease=60)  # the worker that dies, exactly as the runner begins
    assert claim is not None
    decision = receiver.parse(*AUTO).decision
    assert decision is not None
    assert store.begin_decision(claim, ledger_entry(decision, claim.record), lease=60)
    for _ in range(23):  # 57.5 s of sweeps: the subject stays busy
        clock.advance(2.5)
        summary = receiver.process_pending()
        assert [o.status_code for o in summary.outcomes] in ([503], [])
        record = store.get(manual)
        assert record is not None
        assert record.attempts == 0
        assert record.last_error_type == "DeliveryInProgressError"
    clock.advance(3)  # the dead worker's leases expired: both are handled, in order
    summary = receiver.process_pending()
    assert sorted(o.status_code for o in summary.outcomes) == [200, 200]
    assert handled.events == ["IDENTIFICATION_AUTO_FINISHED", "IDENTIFICATION_MANUAL_FINISHED"]
    assert handled.decisions[-1] == (S.DECLINED, True)
    latest = receiver.decisions.latest("idenfy", decision.subject)
    assert latest is not None
    assert latest.status is S.DECLINED
    done = store.get(manual)
    assert done is not None
    assert (done.state, done.attempts) == (kw.DeliveryState.DONE, 1)


def test_a_vendor_retry_answered_busy_uses_no_attempt(
    store: kw.Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without defer: every retry of the vendor answered 503 (subject busy) counted as well. The
    # subject stays busy throughout: no wait in the request (tests/test_subject_wait.py) helps.
    monkeypatch.setattr(_runner, "SUBJECT_WAIT", 0.0)
    handled = Handled(store)
    receiver = handled.receiver
    receiver.handle(*AUTO)  # done: the subject lease is free again
    clock.advance(1)
    first = store.add(  # a delivery of the same verification holds the subject lease
        NewDelivery("other-delivery", "idenfy", "IDENTIFICATION_RESUBMITTED", b"{}"), lease=60
    )
    assert first.claim is not None
    decision = receiver.parse(*MANUAL).decision
    assert decision is not None
    assert store.begin_decision(first.claim, ledger_entry(decision, first.claim.record), lease=60)
    for _ in range(10):
        outcome = receiver.handle(*MANUAL)
        assert (outcome.status_code, outcome.retry_after) == (503, 2)
        clock.advance(2)
    record = store.get_by_key(receiver.parse(*MANUAL).delivery_key)
    assert record is not None
    assert record.attempts == 0


class Outdated(MemoryStore):
    """A custom store whose ``fail`` predates ``count_attempt=``."""

    def fail(  # type: ignore[override]
        self,
        claim: Claim,
        *,
        error_type: str,
        error_message: str,
        retry_at: datetime | None = None,
    ) -> bool:
        return super().fail(
            claim, error_type=error_type, error_message=error_message, retry_at=retry_at
        )


class Wrapping(MemoryStore):
    """A store whose ``fail`` passes any keyword on (a wrapper): accepted."""

    def fail(self, claim: Claim, **kwargs: Any) -> bool:
        return super().fail(claim, **kwargs)


def test_a_store_whose_fail_takes_no_count_attempt_is_refused_when_the_receiver_is_built() -> None:
    # Was: accepted; every busy release then raised TypeError inside the store call (logged),
    # and the claim blocked the record for lease_timeout.
    with pytest.raises(
        kw.ConfigurationError, match=r"Outdated\.fail\(\) must accept .*count_attempt="
    ):
        kw.Receiver(kw.Idenfy(signing_key=KEY), store=Outdated())  # type: ignore[arg-type]
    kw.Receiver(kw.Idenfy(signing_key=KEY), store=Wrapping())


# -- 2. cancellations --------------------------------------------------------------------------


class SlowAbort(SQLiteStore):
    """A SQLite store whose ``abort_decision`` waits for the test (a busy database)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.aborting, self.go = threading.Event(), threading.Event()

    def abort_decision(self, ticket: DecisionTicket, *, failed: bool = False) -> None:
        self.aborting.set()
        assert self.go.wait(30)
        super().abort_decision(ticket, failed=failed)


def test_a_second_cancellation_does_not_skip_the_release_of_the_claim(tmp_path: Path) -> None:
    # The handler is cancelled (client gone), and the server cancels the request again while the
    # subject lease is being given back. Was: the second cancellation escaped the first await,
    # store.fail never ran, and the vendor's retries got 503 for lease_timeout.
    store = SlowAbort(tmp_path / "w.db")
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    started = asyncio.Event()

    @receiver.on("idenfy")
    async def handler(event: kw.WebhookEvent) -> None:
        started.set()
        await asyncio.Event().wait()  # until cancelled

    async def main() -> None:
        task = asyncio.ensure_future(receiver.handle_async(*MANUAL))
        await started.wait()
        task.cancel()  # the client went away
        assert await asyncio.to_thread(store.aborting.wait, 30)
        task.cancel()  # ... and the server shuts down
        store.go.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())  # waits for the release job in the default executor
    record = store.get_by_key(receiver.parse(*MANUAL).delivery_key)
    assert record is not None
    assert (record.state, record.last_error_type) == (kw.DeliveryState.FAILED, "CancelledError")
    retry = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    retry.on("idenfy")(lambda event: None)
    assert retry.handle(*MANUAL).status_code == 200


class SlowLease(SQLiteStore):
    """A SQLite store whose ``begin_decision`` waits for the test once it was called."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.entered, self.go = threading.Event(), threading.Event()

    def begin_decision(
        self, claim: Claim, entry: DecisionEntry, *, lease: float
    ) -> DecisionTicket | None:
        self.entered.set()
        assert self.go.wait(30)
        return super().begin_decision(claim, entry, lease=lease)


def test_a_subject_lease_taken_after_the_request_was_cancelled_is_given_back(
    tmp_path: Path,
) -> None:
    # process_async() cancelled while begin_decision runs in its worker thread. Was: the claim
    # was released, but the subject lease the thread took then was lost: every delivery of the
    # verification answered 503 (subject busy) for lease_timeout.
    store = SlowLease(tmp_path / "w.db")
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, defer=True)
    receiver.on("idenfy")(lambda event: None)
    auto = receiver.handle(*AUTO).delivery_id
    assert auto is not None

    async def main() -> None:
        task = asyncio.ensure_future(receiver.process_async(auto))
        assert await asyncio.to_thread(store.entered.wait, 30)
        task.cancel()  # the worker shuts down
        store.go.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    record = store.get(auto)
    assert record is not None
    assert (record.state, record.last_error_type) == (kw.DeliveryState.FAILED, "CancelledError")
    web = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    web.on("idenfy")(lambda event: None)
    assert web.handle(*MANUAL).status_code == 200
    assert web.handle(*AUTO).status_code == 200


class SlowClaim(SQLiteStore):
    """A SQLite store whose ``claim_next`` waits for the test once it was called."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.entered, self.go = threading.Event(), threading.Event()

    def claim_next(self, **kwargs: Any) -> Claim | None:
        self.entered.set()
        assert self.go.wait(30)
        return super().claim_next(**kwargs)


def test_a_claim_taken_after_the_sweep_was_cancelled_is_given_back(tmp_path: Path) -> None:
    # The same for the claim of process_pending_async(): was held until lease_timeout.
    store = SlowClaim(tmp_path / "w.db")
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, defer=True)
    receiver.on("idenfy")(lambda event: None)
    auto = receiver.handle(*AUTO).delivery_id
    assert auto is not None

    async def main() -> None:
        task = asyncio.ensure_future(receiver.process_pending_async())
        assert await asyncio.to_thread(store.entered.wait, 30)
        task.cancel()
        store.go.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    record = store.get(auto)
    assert record is not None
    assert (record.state, record.last_error_type) == (kw.DeliveryState.FAILED, "CancelledError")
    assert record.lease_until is None


# -- 3. a crashed delivery is taken over after its lease ----------------------------------------


def test_a_crashed_delivery_is_taken_over_after_its_lease_not_its_old_back_off(
    store: kw.Store, clock: FakeClock
) -> None:
    handled = Handled(store)
    receiver = handled.receiver
    broken = [True]

    @receiver.on("idenfy")
    def flaky(event: kw.WebhookEvent) -> None:
        if broken[0]:
            raise RuntimeError("downstream service down")

    for _ in range(5):  # five failed attempts: a back-off of 8 minutes
        outcome = receiver.handle(*AUTO)
        assert outcome.status_code == 500
        clock.advance(1)
    broken[0] = False
    event = receiver.parse(*AUTO)
    # The vendor's next retry is claimed at once, and its process dies mid-handler.
    crashed = store.add(
        NewDelivery(event.delivery_key, "idenfy", event.event_type, AUTO[0]), lease=60
    )
    assert crashed.claim is not None
    clock.advance(30)
    running = receiver.process(crashed.record.id)  # its lease runs: in progress, for 30 s more
    assert (running.status_code, running.retry_after) == (503, 30)
    assert running.error is not None
    assert "waits for its retry" not in running.error.message
    clock.advance(45)  # the lease expired 15 s ago: the sweeper takes it over
    summary = receiver.process_pending()
    assert [o.status_code for o in summary.outcomes] == [200]


def test_process_ignores_the_back_off_left_on_a_processing_record(tmp_path: Path) -> None:
    # A processing record whose not_before a version before the fix left set (its claim did not
    # clear it): once its lease expired, process(id) and process_pending() run it. Was: 503 "this
    # delivery failed and waits for its retry" -- it had not failed, its worker died.
    clock = FakeClock()
    store = SQLiteStore(tmp_path / "w.db", clock=clock)
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    receiver.on("idenfy")(lambda event: None)
    event = receiver.parse(*AUTO)
    added = store.add(
        NewDelivery(event.delivery_key, "idenfy", event.event_type, AUTO[0]), lease=60
    )
    with sqlite3.connect(tmp_path / "w.db") as conn:
        conn.execute(
            "UPDATE kyc_webhooks_deliveries SET not_before = ?",
            ((clock() + timedelta(hours=1)).timestamp(),),
        )
    conn.close()
    clock.advance(61)
    outcome = receiver.process(added.record.id)
    assert outcome.status_code == 200


# -- 5. Retry-After for a store failure in begin_decision -----------------------------------------


def test_a_store_failure_in_begin_decision_is_a_503_with_retry_after(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The subject's stored decision does not decode (a corrupt SQLite file). Was: 503 without
    # Retry-After, unlike a failing add.
    store = SQLiteStore(tmp_path / "w.db")
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    receiver.on("idenfy")(lambda event: None)
    decision = receiver.parse(*MANUAL).decision
    assert decision is not None
    with sqlite3.connect(tmp_path / "w.db") as conn:
        conn.execute(
            "INSERT INTO kyc_webhooks_decisions (vendor, subject, status, final, delivery_id, "
            "event_type, received_at, reasons, fetch_required, layout) "
            "VALUES ('idenfy', ?, 'APPROVED', 1, 'x', 'T', 'garbage', '[]', 0, ?)",
            (decision.subject, SQLITE_SCHEMA_VERSION),
        )
    conn.close()
    with caplog.at_level(logging.ERROR, logger="kyc_webhooks"):
        outcome = receiver.handle(*MANUAL)
        outcome_async = asyncio.run(receiver.handle_async(*MANUAL))
    for answered in (outcome, outcome_async):
        assert isinstance(answered.error, kw.StoreError)
        assert (answered.status_code, answered.retry_after) == (503, STORE_RETRY_AFTER)
