"""Receiver + store: deduplication, exactly-once, in-progress, deferred processing, replay
(docs/delivery-guarantees.md). Every test runs against every store implementation."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from _stores import FakeClock
from kyc_webhooks.errors import (
    BodyErasedError,
    ConfigurationError,
    DeliveryInProgressError,
    DeliveryNotFoundError,
    HandlerError,
    StoreError,
    UsageError,
)
from kyc_webhooks.store import DeliveryState, MemoryStore, NewDelivery, SQLiteStore, Store
from kyc_webhooks.store._runner import storable_body
from kyc_webhooks.testing import sign

KEY = "test-signing-key"
LEASE = 30.0


def delivery(scan_ref: str = "scan-1", **extra: Any) -> tuple[bytes, dict[str, str]]:
    payload = {"scanRef": scan_ref, "clientId": "client-1", "final": True, **extra}
    return sign("idenfy", payload, KEY, event_type="IDENTIFICATION_AUTO_FINISHED")


class Recorder:
    """A handler that records the scanRefs it saw and fails on demand (a bounded number of
    times), with an exception message that quotes personal data."""

    def __init__(self, failures: int = 0) -> None:
        self.seen: list[str] = []
        self.failures = failures

    def __call__(self, event: kw.WebhookEvent) -> None:
        self.seen.append(str(getattr(event, "scan_ref", "")))
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("cannot update account of Jūratė Petrauskienė")


def make(
    store: Store, handler: Callable[[kw.WebhookEvent], Any] | None = None, **options: Any
) -> kw.Receiver:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, lease_timeout=LEASE, **options)
    if handler is not None:
        receiver.on("idenfy")(handler)
    return receiver


# -- deduplication -----------------------------------------------------------------------------


def test_redelivery_of_a_finished_event_is_a_duplicate(store: Store) -> None:
    recorder = Recorder()
    receiver = make(store, recorder)
    first = receiver.handle(*delivery())
    assert (first.status_code, first.handled, first.duplicate) == (200, 1, False)
    assert first.delivery_id is not None
    again = receiver.handle(*delivery())
    assert (again.status_code, again.handled, again.duplicate) == (200, 0, True)
    assert again.delivery_id == first.delivery_id
    assert again.response_body() == {"ok": True, "duplicate": True}
    assert recorder.seen == ["scan-1"]
    other = receiver.handle(*delivery("scan-2"))
    assert (other.status_code, other.duplicate) == (200, False)
    assert recorder.seen == ["scan-1", "scan-2"]
    assert receiver.stats()["duplicates"] == 1
    assert receiver.stats()["handled"] == 2


def test_the_stored_record_holds_body_and_headers_without_credentials(store: Store) -> None:
    receiver = make(store, Recorder())
    body, headers = delivery()
    headers["Cookie"] = "session=abc"
    headers["X-Request-Id"] = "req-1"
    outcome = receiver.handle(body, headers)
    assert outcome.delivery_id is not None
    record = store.get(outcome.delivery_id)
    assert record is not None
    assert record.body == body
    assert record.delivery_key == outcome.delivery_key
    assert (record.vendor, record.event_type) == ("idenfy", "IDENTIFICATION_AUTO_FINISHED")
    assert record.state is DeliveryState.DONE
    assert record.attempts == 1
    names = [name for name, _ in record.headers]
    assert "idenfy-signature" not in names
    assert "cookie" not in names
    assert ("x-request-id", "req-1") in record.headers
    assert ("idenfy-event-type", "IDENTIFICATION_AUTO_FINISHED") in record.headers


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        pytest.param(lambda b, h: (b + b" ", h), 401, id="tampered-body"),
        pytest.param(
            lambda b, h: (b, {k: v for k, v in h.items() if "Signature" not in k}),
            401,
            id="missing-signature",
        ),
        pytest.param(
            lambda b, h: sign("idenfy", b"[1]", KEY, event_type="IDENTIFICATION_AUTO_FINISHED"),
            400,
            id="not-an-object",
        ),
    ],
)
def test_rejected_requests_are_counted_not_stored(
    store: Store,
    mutate: Callable[[bytes, dict[str, str]], tuple[bytes, dict[str, str]]],
    status: int,
) -> None:
    recorder = Recorder()
    receiver = make(store, recorder)
    outcome = receiver.handle(*mutate(*delivery()))
    assert outcome.status_code == status
    assert outcome.delivery_id is None
    assert store.stats()["total"] == 0
    assert recorder.seen == []
    stats = receiver.stats()
    assert stats["rejected"] == 1
    assert stats[f"rejected_{status}"] == 1


def test_without_a_store_nothing_changes() -> None:
    recorder = Recorder()
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY))
    receiver.on("idenfy")(recorder)
    outcomes = [receiver.handle(*delivery()) for _ in range(2)]
    assert [(o.status_code, o.duplicate, o.delivery_id) for o in outcomes] == [
        (200, False, None)
    ] * 2
    assert recorder.seen == ["scan-1", "scan-1"]
    with pytest.raises(UsageError):
        receiver.process_pending()
    with pytest.raises(UsageError):
        receiver.replay("any")


# -- failure and retry -------------------------------------------------------------------------


def test_failure_then_success_across_redeliveries(store: Store) -> None:
    recorder = Recorder(failures=2)
    receiver = make(store, recorder)
    statuses = [receiver.handle(*delivery()).status_code for _ in range(4)]
    assert statuses == [500, 500, 200, 200]
    assert recorder.seen == ["scan-1"] * 3
    record = store.get_by_key(receiver.parse(*delivery()).delivery_key)
    assert record is not None
    assert record.state is DeliveryState.DONE
    assert record.attempts == 3
    # The last error is recorded by class with a safe message, never the exception's text.
    assert record.last_error_type == "RuntimeError"
    assert record.last_error_message == "handler raised RuntimeError"
    assert receiver.stats()["handler_failures"] == 2


def test_a_failed_attempt_is_recorded_as_retryable(store: Store) -> None:
    receiver = make(store, Recorder(failures=1))
    outcome = receiver.handle(*delivery())
    assert outcome.status_code == 500
    assert isinstance(outcome.error, HandlerError)
    assert outcome.delivery_id is not None
    record = store.get(outcome.delivery_id)
    assert record is not None
    assert record.state is DeliveryState.FAILED
    assert record.lease_until is None
    assert "Jūratė" not in (record.last_error_message or "")


# -- in progress -------------------------------------------------------------------------------


def _hold_claim(store: Store, receiver: kw.Receiver) -> Any:
    """Claim the delivery as another worker would while its handler runs."""
    event = receiver.parse(*delivery())
    added = store.add(
        NewDelivery(
            delivery_key=event.delivery_key,
            vendor="idenfy",
            event_type=event.event_type,
            body=event.raw_body,
            headers=(("idenfy-event-type", event.event_type),),
        ),
        lease=LEASE,
    )
    assert added.claim is not None
    return added.claim


def test_redelivery_during_a_running_attempt_is_503_and_runs_nothing(
    store: Store, clock: FakeClock
) -> None:
    recorder = Recorder()
    receiver = make(store, recorder)
    claim = _hold_claim(store, receiver)
    clock.advance(10)
    outcome = receiver.handle(*delivery())
    assert outcome.status_code == 503
    assert isinstance(outcome.error, DeliveryInProgressError)
    assert outcome.retry_after == 20
    assert not outcome.duplicate
    assert outcome.delivery_id == claim.record.id
    assert outcome.response_body()["error"] == "DeliveryInProgressError"
    assert recorder.seen == []
    assert receiver.stats()["in_progress"] == 1
    # The first attempt fails: the next redelivery runs the handlers -- nothing is lost.
    store.fail(claim, error_type="RuntimeError", error_message="handler raised RuntimeError")
    retried = receiver.handle(*delivery())
    assert (retried.status_code, retried.handled) == (200, 1)
    assert recorder.seen == ["scan-1"]


def test_a_crashed_attempt_is_taken_over_after_the_lease(store: Store, clock: FakeClock) -> None:
    recorder = Recorder()
    receiver = make(store, recorder)
    _hold_claim(store, receiver)  # its worker dies: never completes, never fails
    clock.advance(LEASE - 1)
    assert receiver.handle(*delivery()).status_code == 503
    clock.advance(1)
    outcome = receiver.handle(*delivery())
    assert (outcome.status_code, outcome.handled) == (200, 1)
    assert recorder.seen == ["scan-1"]
    assert receiver.handle(*delivery()).duplicate


# -- deferred mode -----------------------------------------------------------------------------


def test_deferred_mode_answers_202_and_the_worker_runs_handlers_once(
    store: Store, clock: FakeClock
) -> None:
    recorder = Recorder()
    receiver = make(store, recorder, defer=True)
    outcome = receiver.handle(*delivery())
    assert (outcome.status_code, outcome.handled, outcome.duplicate) == (202, 0, False)
    assert outcome.ok
    assert recorder.seen == []
    again = receiver.handle(*delivery())
    assert (again.status_code, again.duplicate) == (202, True)
    clock.advance(1)  # the worker takes the oldest first
    receiver.handle(*delivery("scan-2"))

    summary = receiver.process_pending()
    assert (summary.processed, summary.succeeded, summary.failed) == (2, 2, 0)
    assert recorder.seen == ["scan-1", "scan-2"]
    assert summary.outcomes[0].delivery_id == outcome.delivery_id
    assert all(o.handled == 1 for o in summary.outcomes)

    assert receiver.process_pending().processed == 0
    done = receiver.handle(*delivery())
    assert (done.status_code, done.duplicate) == (200, True)
    assert recorder.seen == ["scan-1", "scan-2"]
    assert receiver.stats()["deferred"] == 2


def test_worker_retries_failures_after_back_off_up_to_max_attempts(
    store: Store, clock: FakeClock
) -> None:
    recorder = Recorder(failures=10)
    receiver = make(store, recorder, defer=True)
    outcome = receiver.handle(*delivery())
    assert outcome.delivery_id is not None

    first = receiver.process_pending(max_attempts=3)
    assert (first.processed, first.failed) == (1, 1)
    assert isinstance(first.outcomes[0].error, HandlerError)
    assert receiver.process_pending(max_attempts=3).processed == 0  # backing off (30 s)
    clock.advance(30)
    assert receiver.process_pending(max_attempts=3).failed == 1
    clock.advance(59)
    assert receiver.process_pending(max_attempts=3).processed == 0  # second back-off is 60 s
    clock.advance(1)
    assert receiver.process_pending(max_attempts=3).failed == 1
    clock.advance(3600)
    assert receiver.process_pending(max_attempts=3).processed == 0  # attempts exhausted
    record = store.get(outcome.delivery_id)
    assert record is not None
    assert (record.state, record.attempts) == (DeliveryState.FAILED, 3)
    assert len(recorder.seen) == 3
    # An operator can still replay it once the cause is fixed.
    recorder.failures = 0
    assert receiver.replay(outcome.delivery_id).ok
    assert store.get(outcome.delivery_id).state is DeliveryState.DONE  # type: ignore[union-attr]


def test_worker_completes_an_event_whose_inline_attempt_crashed(
    store: Store, clock: FakeClock
) -> None:
    recorder = Recorder()
    receiver = make(store, recorder)
    _hold_claim(store, receiver)
    assert receiver.process_pending().processed == 0
    clock.advance(LEASE)
    summary = receiver.process_pending()
    assert (summary.processed, summary.succeeded) == (1, 1)
    assert recorder.seen == ["scan-1"]
    assert receiver.handle(*delivery()).duplicate


def test_worker_only_claims_its_own_vendors(store: Store) -> None:
    receiver = make(store, Recorder(), defer=True)
    receiver.handle(*delivery())
    yoti_only = kw.Receiver(kw.Yoti(auth_token="t"), store=store)
    assert yoti_only.process_pending().processed == 0
    assert receiver.process_pending().processed == 1


def test_worker_marks_an_erased_pending_delivery_failed(store: Store, clock: FakeClock) -> None:
    receiver = make(store, Recorder(), defer=True)
    outcome = receiver.handle(*delivery())
    assert outcome.delivery_id is not None
    store.erase(outcome.delivery_id)
    summary = receiver.process_pending()
    assert summary.failed == 1
    assert isinstance(summary.outcomes[0].error, BodyErasedError)
    record = store.get(outcome.delivery_id)
    assert record is not None
    assert (record.state, record.last_error_type) == (DeliveryState.FAILED, "BodyErasedError")
    assert receiver.stats()["unprocessable"] == 1
    # Once: no retry can handle it. It was claimed again after every back-off, each attempt one
    # more failure (and error line) until max_attempts.
    for _ in range(3):
        clock.advance(2 * 3600)
        assert receiver.process_pending().outcomes == ()
    again = store.get(outcome.delivery_id)
    assert again is not None
    assert (again.state, again.attempts) == (DeliveryState.FAILED, 1)


def test_process_pending_validates_arguments(store: Store) -> None:
    receiver = make(store, Recorder())
    with pytest.raises(UsageError):
        receiver.process_pending(limit=0)
    with pytest.raises(UsageError):
        receiver.process_pending(max_attempts=0)


def test_process_pending_limit_bounds_one_call(store: Store) -> None:
    receiver = make(store, Recorder(), defer=True)
    for n in range(5):
        receiver.handle(*delivery(f"scan-{n}"))
    assert receiver.process_pending(limit=2).processed == 2
    assert receiver.process_pending(limit=10).processed == 3


# -- async ---------------------------------------------------------------------------------


def test_handle_async_deduplicates_with_async_handlers(store: Store) -> None:
    seen: list[str] = []
    receiver = make(store)

    @receiver.on("idenfy")
    async def handler(event: kw.WebhookEvent) -> None:
        await asyncio.sleep(0)
        seen.append(event.event_type)

    async def main() -> list[kw.Outcome]:
        return [await receiver.handle_async(*delivery()) for _ in range(2)]

    first, second = asyncio.run(main())
    assert (first.status_code, first.handled, second.duplicate) == (200, 1, True)
    assert seen == ["IDENTIFICATION_AUTO_FINISHED"]


def test_handle_async_failure_then_success(store: Store) -> None:
    calls: list[int] = []
    receiver = make(store)

    @receiver.on("idenfy")
    async def handler(event: kw.WebhookEvent) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("boom")

    async def main() -> list[int]:
        return [(await receiver.handle_async(*delivery())).status_code for _ in range(3)]

    assert asyncio.run(main()) == [500, 200, 200]
    assert len(calls) == 2


def test_process_pending_async_and_replay_async(store: Store) -> None:
    seen: list[str] = []
    receiver = make(store, defer=True)

    @receiver.on("idenfy")
    async def handler(event: kw.WebhookEvent) -> None:
        seen.append(event.event_type)

    async def main() -> tuple[kw.ProcessSummary, kw.Outcome]:
        outcome = await receiver.handle_async(*delivery())
        assert outcome.status_code == 202
        summary = await receiver.process_pending_async()
        assert outcome.delivery_id is not None
        return summary, await receiver.replay_async(outcome.delivery_id)

    summary, replayed = asyncio.run(main())
    assert (summary.processed, summary.succeeded) == (1, 1)
    assert replayed.replay
    assert replayed.ok
    assert len(seen) == 2


def test_async_handler_under_sync_handle_raises_and_releases_the_claim(store: Store) -> None:
    receiver = make(store)

    @receiver.on("idenfy")
    async def handler(event: kw.WebhookEvent) -> None:
        return None

    with pytest.raises(UsageError):
        receiver.handle(*delivery())
    record = store.get_by_key(receiver.parse(*delivery()).delivery_key)
    assert record is not None
    assert (record.state, record.last_error_type) == (DeliveryState.FAILED, "UsageError")
    assert asyncio.run(receiver.handle_async(*delivery())).status_code == 200


def test_cancelled_async_handler_releases_the_claim(store: Store) -> None:
    receiver = make(store)
    started = asyncio.Event()

    @receiver.on("idenfy")
    async def handler(event: kw.WebhookEvent) -> None:
        started.set()
        await asyncio.sleep(60)

    async def main() -> None:
        task = asyncio.ensure_future(receiver.handle_async(*delivery()))
        await asyncio.wait_for(started.wait(), timeout=10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    record = store.get_by_key(receiver.parse(*delivery()).delivery_key)
    assert record is not None
    # Not left "processing" until the lease expires: the next redelivery may run at once.
    assert (record.state, record.last_error_type) == (DeliveryState.FAILED, "CancelledError")
    assert record.last_error_message == "handling interrupted (CancelledError)"
    assert record.attempts == 1  # the handler ran (interrupted): an attempt


class GatedStore(MemoryStore):
    """A store that blocks (runs in a worker thread under async code) and whose ``add`` waits
    until the test lets it finish."""

    blocking = True

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.entered, self.proceed, self.finished = (
            threading.Event(),
            threading.Event(),
            threading.Event(),
        )

    def add(
        self, delivery: NewDelivery, *, lease: float | None = None, decision: Any = None
    ) -> Any:
        self.entered.set()
        self.proceed.wait(30)
        try:
            return super().add(delivery, lease=lease, decision=decision)
        finally:
            self.finished.set()


def test_cancelled_while_storing_releases_the_claim(clock: FakeClock) -> None:
    store = GatedStore(clock)
    recorder = Recorder()
    receiver = make(store, recorder)

    async def main() -> None:
        task = asyncio.ensure_future(receiver.handle_async(*delivery()))
        assert await asyncio.to_thread(store.entered.wait, 30)
        task.cancel()  # the client went away while the worker thread stores the delivery
        store.proceed.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.to_thread(store.finished.wait, 30)

    asyncio.run(main())
    assert recorder.seen == []
    record = store.get_by_key(receiver.parse(*delivery()).delivery_key)
    assert record is not None
    # Not "processing" until the lease expires: the vendor's retry runs the handlers at once.
    assert (record.state, record.last_error_type) == (DeliveryState.FAILED, "CancelledError")
    retry = asyncio.run(receiver.handle_async(*delivery()))
    assert (retry.status_code, retry.handled) == (200, 1)


# -- replay --------------------------------------------------------------------------------


def test_replay_reruns_handlers_on_purpose(store: Store) -> None:
    recorder = Recorder()
    receiver = make(store, recorder)
    outcome = receiver.handle(*delivery())
    assert outcome.delivery_id is not None
    replayed = receiver.replay(outcome.delivery_id)
    assert (replayed.status_code, replayed.handled, replayed.replay) == (200, 1, True)
    assert replayed.delivery_id == outcome.delivery_id
    assert replayed.event is not None
    assert replayed.event.raw_body == outcome.event.raw_body  # type: ignore[union-attr]
    assert recorder.seen == ["scan-1", "scan-1"]
    record = store.get(outcome.delivery_id)
    assert record is not None
    assert (record.state, record.replays) == (DeliveryState.DONE, 1)
    assert receiver.handle(*delivery()).duplicate  # still done for redeliveries
    assert receiver.stats()["replayed"] == 1


def test_failed_replay_reports_500_and_keeps_the_event_done(store: Store) -> None:
    recorder = Recorder()
    receiver = make(store, recorder)
    outcome = receiver.handle(*delivery())
    assert outcome.delivery_id is not None
    recorder.failures = 1
    replayed = receiver.replay(outcome.delivery_id)
    assert (replayed.status_code, replayed.replay) == (500, True)
    assert store.get(outcome.delivery_id).state is DeliveryState.DONE  # type: ignore[union-attr]
    assert receiver.handle(*delivery()).duplicate


def test_redelivery_during_a_replay_of_a_done_event_is_a_duplicate(store: Store) -> None:
    receiver = make(store)
    during: list[kw.Outcome] = []

    @receiver.on("idenfy")
    def handler(event: kw.WebhookEvent) -> None:
        if during == [] and replaying:
            during.append(receiver.handle(*delivery()))  # the vendor retries meanwhile

    replaying = False
    outcome = receiver.handle(*delivery())
    assert outcome.delivery_id is not None
    replaying = True
    assert receiver.replay(outcome.delivery_id).status_code == 200
    (redelivery,) = during
    assert (redelivery.status_code, redelivery.duplicate, redelivery.handled) == (200, True, 0)
    assert redelivery.retry_after is None


@pytest.mark.parametrize("inline", [False, True], ids=["worker", "redelivery"])
def test_a_replay_of_a_done_event_whose_worker_died_leaves_it_done(
    store: Store, clock: FakeClock, inline: bool
) -> None:
    recorder = Recorder()
    receiver = make(store, recorder)
    outcome = receiver.handle(*delivery())
    assert outcome.delivery_id is not None
    # A replay claims the record, then its process is killed (no complete, no fail).
    assert store.claim(outcome.delivery_id, lease=LEASE, replay=True) is not None
    clock.advance(LEASE + 1)
    recorder.failures = 1  # were the event run again automatically, it would fail now
    if inline:
        again = receiver.handle(*delivery())
        assert (again.status_code, again.duplicate) == (200, True)
    else:
        assert receiver.process_pending().processed == 0
    assert recorder.seen == ["scan-1"]
    record = store.get(outcome.delivery_id)
    assert record is not None
    assert record.state is DeliveryState.DONE


def test_replay_errors(store: Store) -> None:
    receiver = make(store, Recorder())
    with pytest.raises(DeliveryNotFoundError):
        receiver.replay("no-such-id")
    outcome = receiver.handle(*delivery())
    assert outcome.delivery_id is not None
    store.erase(outcome.delivery_id)
    with pytest.raises(BodyErasedError):
        receiver.replay(outcome.delivery_id)


def test_replay_while_in_progress_is_503(store: Store) -> None:
    recorder = Recorder()
    receiver = make(store, recorder)
    claim = _hold_claim(store, receiver)
    outcome = receiver.replay(claim.record.id)
    assert (outcome.status_code, outcome.replay) == (503, True)
    assert recorder.seen == []


# -- configuration and store failures ------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"defer": True}, "needs a store", id="defer-without-store"),
        pytest.param({"store": object()}, "must implement", id="not-a-store"),
        pytest.param(
            {"store": MemoryStore(), "lease_timeout": 0}, "lease_timeout", id="zero-lease"
        ),
        pytest.param(
            {"store": MemoryStore(), "lease_timeout": float("inf")},
            "lease_timeout",
            id="infinite-lease",
        ),
    ],
)
def test_bad_store_configuration(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        kw.Receiver(kw.Idenfy(signing_key=KEY), **options)


class BrokenStore(MemoryStore):
    def add(
        self, delivery: NewDelivery, *, lease: float | None = None, decision: Any = None
    ) -> Any:
        raise StoreError("SQLite store 'x.db': add failed (OperationalError: disk I/O error)")


def test_a_failing_store_answers_503_and_runs_no_handler() -> None:
    recorder = Recorder()
    receiver = make(BrokenStore(), recorder)
    outcome = receiver.handle(*delivery())
    assert outcome.status_code == 503
    assert isinstance(outcome.error, StoreError)
    assert recorder.seen == []
    assert receiver.stats()["store_errors"] == 1
    assert asyncio.run(receiver.handle_async(*delivery())).status_code == 503


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        pytest.param(
            StoreError("SQLite store '/srv/app/webhooks.db': add failed (OperationalError: x)"),
            "delivery store unavailable; retry later",
            id="store-error",
        ),
        pytest.param(
            DeliveryNotFoundError("no stored delivery has this id"),
            "no stored delivery has this id",
            id="not-found",
        ),
        pytest.param(
            BodyErasedError("the stored body was erased"), "the stored body was erased", id="erased"
        ),
    ],
)
def test_store_error_response_body_hides_the_database(
    error: StoreError, detail: str, caplog: pytest.LogCaptureFixture
) -> None:
    class Failing(MemoryStore):
        def add(
            self, delivery: NewDelivery, *, lease: float | None = None, decision: Any = None
        ) -> Any:
            raise error

    receiver = make(Failing(), Recorder())
    with caplog.at_level(logging.DEBUG, logger="kyc_webhooks"):
        outcome = receiver.handle(*delivery())
    assert outcome.status_code == error.status_code
    body = outcome.response_body()
    assert body == {"ok": False, "error": type(error).__name__, "detail": detail}
    assert "webhooks.db" not in json.dumps(body)
    assert error.message in caplog.text  # the operator still sees the whole message


def test_a_real_sqlite_failure_answers_503_without_the_path(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "webhooks.db", timeout=0)
    receiver = make(store, Recorder())
    blocker = sqlite3.connect(tmp_path / "webhooks.db", isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        outcome = receiver.handle(*delivery())
    finally:
        blocker.close()
        store.close()
    assert outcome.status_code == 503
    text = json.dumps(outcome.response_body())
    assert str(tmp_path) not in text
    assert "locked" not in text


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_failed_completion_still_answers_200_and_says_why(
    store: Store, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    original = store.complete

    def broken_complete(claim: Any, **kwargs: Any) -> bool:
        raise StoreError("SQLite store 'x.db': complete failed (OperationalError: disk I/O error)")

    store.complete = broken_complete  # type: ignore[method-assign]
    recorder = Recorder()
    receiver = make(store, recorder)
    with caplog.at_level(logging.WARNING, logger="kyc_webhooks"):
        if mode == "sync":
            outcome = receiver.handle(*delivery())
        else:
            outcome = asyncio.run(receiver.handle_async(*delivery()))
    store.complete = original  # type: ignore[method-assign]
    assert (outcome.status_code, outcome.handled) == (200, 1)  # the side effects happened
    assert outcome.delivery_id is not None
    record = store.get(outcome.delivery_id)
    assert record is not None
    assert record.state is DeliveryState.PROCESSING  # handled again once the lease expires
    (warning,) = [r.getMessage() for r in caplog.records if "not recorded" in r.getMessage()]
    assert "the store failed" in warning
    assert "lease expired" not in warning


def test_a_worker_gives_up_on_an_event_whose_every_attempt_crashed(
    store: Store, clock: FakeClock
) -> None:
    recorder = Recorder()
    receiver = make(store, recorder, defer=True)
    outcome = receiver.handle(*delivery())
    assert outcome.delivery_id is not None
    for _ in range(3):  # each worker claims it, then dies inside the handler
        assert store.claim_next(lease=LEASE) is not None
        clock.advance(LEASE)
    assert receiver.process_pending(max_attempts=3).processed == 0
    record = store.get(outcome.delivery_id)
    assert record is not None
    assert (record.state, record.last_error_type) == (DeliveryState.FAILED, "LeaseExpired")
    assert recorder.seen == []


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        pytest.param("\udcff", "\\udcff", id="lone-surrogate"),
        pytest.param("a\ud800b", "a\\ud800b", id="surrogate-inside"),
        pytest.param("Jūratė", "Jūratė", id="valid-non-ascii-kept"),
    ],
)
def test_header_values_any_store_can_encode(store: Store, value: str, stored: str) -> None:
    receiver = make(store, Recorder())
    body, headers = delivery()
    headers["X-Forwarded-Name"] = value  # a WSGI server decoded it with surrogateescape
    outcome = receiver.handle(body, headers)
    assert outcome.status_code == 200
    assert outcome.delivery_id is not None
    record = store.get(outcome.delivery_id)
    assert record is not None
    assert ("x-forwarded-name", stored) in record.headers


def test_restart_sees_earlier_deliveries_as_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "webhooks.db"
    recorder = Recorder()
    with SQLiteStore(path) as first_store:
        assert make(first_store, recorder).handle(*delivery()).status_code == 200
    with SQLiteStore(path) as second_store:
        outcome = make(second_store, recorder).handle(*delivery())
    assert (outcome.status_code, outcome.duplicate) == (200, True)
    assert recorder.seen == ["scan-1"]


# -- Identomat's key inside the body ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "stored"),
    [
        pytest.param(
            b'{"type":"x","callbackApiKey":"s3cr\\"et","sessionId":"1"}',
            b'{"type":"x","callbackApiKey":"<redacted>","sessionId":"1"}',
            id="escaped-quote",
        ),
        pytest.param(
            b'{"callbackApiKey" : "k", "sessionId":"1"}',
            b'{"callbackApiKey" : "<redacted>", "sessionId":"1"}',
            id="spaces",
        ),
        pytest.param(b'{"sessionId":"1"}', b'{"sessionId":"1"}', id="absent"),
    ],
)
def test_identomat_key_is_blanked_in_the_stored_body(body: bytes, stored: bytes) -> None:
    assert storable_body("identomat", body) == stored
    assert storable_body("idenfy", body) == body


def test_identomat_delivery_is_stored_without_its_key(store: Store) -> None:
    secret = "identomat-callback-key"
    receiver = kw.Receiver(kw.Identomat(api_key=secret), store=store)
    seen: list[str] = []
    receiver.on("identomat")(lambda event: seen.append(event.event_type))
    body, headers = sign("identomat", {"type": "session_change", "sessionId": "s-1"}, secret)
    outcome = receiver.handle(body, headers)
    assert outcome.status_code == 200, outcome.error
    assert outcome.delivery_id is not None
    record = store.get(outcome.delivery_id)
    assert record is not None
    assert record.body is not None
    assert secret.encode() not in record.body
    assert json.loads(record.body)["callbackApiKey"] == "<redacted>"
    assert json.loads(record.body)["sessionId"] == "s-1"
    # The stored copy still parses for a replay (no re-authentication).
    assert receiver.replay(outcome.delivery_id).ok
    assert len(seen) == 2


# -- import cost -----------------------------------------------------------------------------


def test_import_kyc_webhooks_does_not_import_sqlite3() -> None:
    code = (
        "import sys, kyc_webhooks as kw; assert 'sqlite3' not in sys.modules; "
        "kw.MemoryStore(); assert 'sqlite3' not in sys.modules; kw.SQLiteStore; "
        "assert 'sqlite3' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
