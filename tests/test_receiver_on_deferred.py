"""``Receiver(..., defer=True, on_deferred=callable)``: the hand-off of a newly stored delivery's id
to a task queue, after the insert and before the 202 -- on every store of the contract suite; and
the ``Retry-After`` of the 503 a failing store answers."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

import kyc_webhooks as kw
from kyc_webhooks.store import Store
from kyc_webhooks.store._runner import STORE_RETRY_AFTER
from kyc_webhooks.testing import signed_delivery

KEY = "on-deferred-key"
# The sample's personal data (iDenfy samples carry a non-ASCII name) must never reach the log.
SECRET_WORDS = ("broker password", "Jonas", "Jonaitis")


def delivery(scan_ref: str = "scan-deferred") -> tuple[bytes, dict[str, str]]:
    return signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY, scanRef=scan_ref)


def send(receiver: kw.Receiver, mode: str) -> kw.Outcome:
    """The sample delivery through ``handle`` (``mode`` "sync") or ``handle_async``."""
    if mode == "sync":
        return receiver.handle(*delivery())
    return asyncio.run(receiver.handle_async(*delivery()))


def deferred_receiver(
    store: Store, on_deferred: Callable[[str], object] | None, runs: list[str]
) -> kw.Receiver:
    receiver = kw.Receiver(
        kw.Idenfy(signing_key=KEY), store=store, defer=True, on_deferred=on_deferred
    )

    @receiver.on("idenfy")
    def handler(event: kw.WebhookEvent) -> None:
        runs.append(event.delivery_key)

    return receiver


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_on_deferred_gets_the_id_of_the_stored_delivery_before_the_202(
    store: Store, mode: str
) -> None:
    seen: list[tuple[str, bool, bool]] = []

    def on_deferred(delivery_id: str) -> None:
        record = store.get(delivery_id)  # already stored when the hand-off happens
        seen.append((delivery_id, record is not None, record is not None and record.done))

    runs: list[str] = []
    receiver = deferred_receiver(store, on_deferred, runs)
    outcome = send(receiver, mode)
    assert outcome.status_code == 202
    assert seen == [(outcome.delivery_id, True, False)]
    assert runs == []
    # The task the callable would enqueue:
    assert receiver.process(seen[0][0]).status_code == 200
    assert len(runs) == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_redelivered_duplicate_does_not_call_on_deferred_again(store: Store, mode: str) -> None:
    seen: list[str] = []
    receiver = deferred_receiver(store, seen.append, [])
    for _ in range(3):
        outcome = send(receiver, mode)
        assert outcome.status_code == 202
    assert outcome.duplicate
    assert seen == [outcome.delivery_id]


def test_an_async_on_deferred_is_awaited_by_handle_async(store: Store) -> None:
    seen: list[str] = []

    async def on_deferred(delivery_id: str) -> None:
        await asyncio.sleep(0)
        seen.append(delivery_id)

    receiver = deferred_receiver(store, on_deferred, [])
    outcome = asyncio.run(receiver.handle_async(*delivery()))
    assert outcome.status_code == 202
    assert seen == [outcome.delivery_id]


def raising(delivery_id: str) -> None:
    raise ConnectionError("broker password=hunter2 rejected for Jonas Jonaitis")


async def raising_async(delivery_id: str) -> None:
    raise ConnectionError("broker password=hunter2 rejected for Jonas Jonaitis")


def returns_coroutine(delivery_id: str) -> Awaitable[None]:
    return raising_async(delivery_id)


@pytest.mark.parametrize(
    ("on_deferred", "mode"),
    [
        pytest.param(raising, "sync", id="raises-under-handle"),
        pytest.param(raising, "async", id="raises-under-handle_async"),
        pytest.param(raising_async, "async", id="async-raises-under-handle_async"),
        # handle() cannot await: the coroutine is closed (no "never awaited" warning, which
        # filterwarnings=error would turn into a failure) and the hand-off counts as failed.
        pytest.param(returns_coroutine, "sync", id="coroutine-under-handle"),
    ],
)
def test_a_failing_on_deferred_still_answers_202_and_the_sweeper_handles_it(
    store: Store,
    on_deferred: Callable[[str], object],
    mode: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[str] = []
    receiver = deferred_receiver(store, on_deferred, runs)
    with caplog.at_level(logging.DEBUG, logger="kyc_webhooks"):
        outcome = send(receiver, mode)
    assert outcome.status_code == 202
    assert outcome.error is None
    assert outcome.delivery_id is not None
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 1
    message = failures[0].getMessage()
    assert outcome.delivery_id in message
    assert failures[0].exc_info is None
    for word in (*SECRET_WORDS, "hunter2"):
        assert word not in caplog.text
    assert receiver.stats()["deferred"] == 1
    # The delivery is stored: the sweeper runs its handlers once.
    assert receiver.process_pending().succeeded == 1
    assert runs == [outcome.event.delivery_key if outcome.event else ""]
    assert receiver.process_pending().processed == 0


def test_on_deferred_can_be_set_after_construction(store: Store) -> None:
    seen: list[str] = []
    receiver = deferred_receiver(store, None, [])
    receiver.on_deferred = seen.append
    outcome = receiver.handle(*delivery())
    assert seen == [outcome.delivery_id]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"defer": False}, "needs defer=True", id="without-defer"),
        pytest.param({"defer": True, "on_deferred": "tasks.enqueue"}, "callable", id="a-string"),
    ],
)
def test_bad_on_deferred_configuration(options: dict[str, object], message: str) -> None:
    options.setdefault("on_deferred", print)
    with pytest.raises(kw.ConfigurationError, match=message):
        kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_store_failure_503_carries_retry_after(tmp_path: Path, mode: str) -> None:
    # A real SQLite failure: another connection holds the write lock and the store waits 0 s.
    store = kw.SQLiteStore(tmp_path / "webhooks.db", timeout=0)
    seen: list[str] = []
    receiver = deferred_receiver(store, seen.append, [])
    blocker = sqlite3.connect(tmp_path / "webhooks.db", isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        outcome = send(receiver, mode)
    finally:
        blocker.close()
        store.close()
    assert outcome.status_code == 503
    assert isinstance(outcome.error, kw.StoreError)
    assert outcome.retry_after == STORE_RETRY_AFTER
    assert seen == []  # nothing stored, nothing handed off


def test_a_hand_off_that_hangs_holds_the_202_at_most_deferred_wait(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Review R56: a hung broker's publish held every 202 for as long as it hung (a burst queued
    # behind such publishes answered after 16 s, past iDenfy's 10 s timeout).
    import time

    from kyc_webhooks.store import _runner

    monkeypatch.setattr(_runner, "DEFERRED_WAIT", 0.2)
    ended: list[str] = []

    async def hangs(delivery_id: str) -> None:
        try:
            await asyncio.sleep(30)
        finally:
            ended.append(delivery_id)

    runs: list[str] = []
    receiver = deferred_receiver(store, hangs, runs)

    async def main() -> tuple[kw.Outcome, float, int]:
        started = time.monotonic()
        outcome = await receiver.handle_async(*delivery())
        elapsed = time.monotonic() - started
        return outcome, elapsed, await receiver.drain(0.1)

    with caplog.at_level(logging.WARNING, logger="kyc_webhooks"):
        outcome, elapsed, under_way = asyncio.run(main())
    assert outcome.status_code == 202
    assert elapsed < 5, elapsed
    assert under_way == 1  # drain() waits for the hand-off too
    assert f"on_deferred still running after 0.2 s delivery_id={outcome.delivery_id}" in caplog.text
    assert ended == [outcome.delivery_id]  # went on after the 202, until the loop ended
    assert receiver.process_pending().succeeded == 1  # the sweeper covers it
    assert len(runs) == 1


def test_a_hand_off_failing_after_its_request_was_cancelled_is_logged_by_class(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # Review R57: a request cancelled while its 202 waited (a client gone, a shutdown timeout)
    # left the hand-off's failure unretrieved: asyncio logged it whole, a broker URL included.
    release = asyncio.Event()

    async def fails_later(delivery_id: str) -> None:
        await release.wait()
        raise ConnectionError("amqp://user:s3cretPW@broker refused for Jonas Jonaitis")

    receiver = deferred_receiver(store, fails_later, [])

    async def main() -> None:
        request = asyncio.ensure_future(receiver.handle_async(*delivery()))
        await asyncio.sleep(0.2)  # stored; the 202 waits for the hand-off
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        release.set()
        assert await receiver.drain(5) == 0

    with caplog.at_level(logging.DEBUG):
        asyncio.run(main())
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1, failures
    assert "on_deferred failed" in failures[0]
    assert "error=ConnectionError" in failures[0]
    for word in ("s3cretPW", "never retrieved", *SECRET_WORDS):
        assert word not in caplog.text


def test_a_hand_off_that_fails_with_a_timeout_error_is_a_failure_not_an_overrun(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # Review R57: asyncio.TimeoutError is TimeoutError (3.11+): a publish that timed out at once
    # was reported as "still running after 5 s".
    async def times_out(delivery_id: str) -> None:
        raise TimeoutError("socket timed out")

    receiver = deferred_receiver(store, times_out, [])
    with caplog.at_level(logging.DEBUG, logger="kyc_webhooks"):
        outcome = asyncio.run(receiver.handle_async(*delivery()))
    assert outcome.status_code == 202
    assert "still running" not in caplog.text
    assert "on_deferred failed" in caplog.text
    assert "error=TimeoutError" in caplog.text


def test_a_hand_off_cancelled_on_its_own_still_answers_202(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # Review R59: a hand-off cancelled by itself (a broker channel closing, an executor shut
    # down) made handle_async raise CancelledError: a 500, nothing logged, and the retry a
    # duplicate that enqueued nothing.
    async def cancelled(delivery_id: str) -> None:
        raise asyncio.CancelledError

    receiver = deferred_receiver(store, cancelled, [])
    with caplog.at_level(logging.DEBUG, logger="kyc_webhooks"):
        outcome = asyncio.run(receiver.handle_async(*delivery()))
    assert outcome.status_code == 202
    assert f"on_deferred failed delivery_id={outcome.delivery_id} error=" in caplog.text
    assert "CancelledError" in caplog.text


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_concurrent_future_from_on_deferred_is_waited_for_and_its_failure_logged(
    store: Store, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Review R59: executor.submit(...) returned by on_deferred was neither waited for nor its
    # failure logged.
    import concurrent.futures

    def publish(delivery_id: str) -> None:
        raise ConnectionError("redis://user:s3cret@broker refused")

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
        receiver = deferred_receiver(store, lambda d: executor.submit(publish, d), [])
        with caplog.at_level(logging.DEBUG, logger="kyc_webhooks"):
            outcome = send(receiver, mode)
    assert outcome.status_code == 202
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures == [
        f"on_deferred failed delivery_id={outcome.delivery_id} error=ConnectionError; the "
        "delivery is stored and answered 202, process_pending() (the sweeper) will handle it"
    ]
    assert "s3cret" not in caplog.text


@pytest.mark.parametrize("with_store", [True, False])
def test_a_cancelled_delivery_leaves_a_log_line(
    with_store: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # Review R60: a request cancelled while its handler ran (Django under ASGI cancels the view
    # when the sender goes away) logged nothing, with or without a store.
    started = asyncio.Event()
    receiver = kw.Receiver(
        kw.Idenfy(signing_key=KEY), store=kw.MemoryStore() if with_store else None
    )

    @receiver.on("idenfy")
    async def slow(event: kw.WebhookEvent) -> None:
        started.set()
        await asyncio.sleep(30)

    async def main() -> None:
        request = asyncio.ensure_future(receiver.handle_async(*delivery()))
        await asyncio.wait_for(started.wait(), 10)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        await receiver.drain(5)

    with caplog.at_level(logging.DEBUG, logger="kyc_webhooks"):
        asyncio.run(main())
    (line,) = [r.getMessage() for r in caplog.records if "interrupted" in r.getMessage()]
    assert "delivery interrupted vendor=idenfy event_type=IDENTIFICATION_MANUAL_FINISHED" in line
    assert "handlers_started=yes" in line
    for word in SECRET_WORDS:
        assert word not in caplog.text
