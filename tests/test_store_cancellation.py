"""A request cancelled around the store calls of the runner (client gone, server timeout or
shutdown): the completion of a claim whose handlers ran is never lost, even when the store's
``run_blocking`` drops the call as the event loop ends (exactly-once); and a claim given back
because the request was abandoned before any handler ran uses up no attempt."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from _postgres import postgres_store
from _stores import STORES, FakeClock
from kyc_webhooks.decisions import Decision
from kyc_webhooks.store import (
    Added,
    Claim,
    DecisionEntry,
    DecisionTicket,
    MemoryStore,
    NewDelivery,
)
from kyc_webhooks.testing import signed_delivery

KEY = "cancellation-signing-key"
MANUAL = signed_delivery(
    "idenfy",
    "IDENTIFICATION_MANUAL_FINISHED",
    KEY,
    status__overall="APPROVED",
    final=True,
    scanRef="scan-cancel",
)


def _receiver(store: Any, **kwargs: Any) -> kw.Receiver:
    return kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, lease_timeout=60, **kwargs)


def _wait_until_not_processing(store: kw.Store, delivery_id: str) -> kw.DeliveryRecord:
    """The record once it left ``processing`` (the job goes on in a thread: <= 3 s), else as is."""
    record = store.get(delivery_id)
    for _ in range(300):
        if record is None or record.state is not kw.DeliveryState.PROCESSING:
            break
        time.sleep(0.01)
        record = store.get(delivery_id)
    assert record is not None
    return record


# -- 1. the completion of a claim whose handlers ran --------------------------------------------


class ThreadSensitive(MemoryStore):
    """A blocking store with a ``run_blocking`` of its own, as DjangoStore has: every call runs in
    one worker thread of the store's, in turn, and a call cancelled before that thread started it
    is dropped (as asgiref's ``sync_to_async(thread_sensitive=True)`` drops it). ``hold()``
    queues another request's work in that thread, which holds it until the test lets it go."""

    blocking = True

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.executor = ThreadPoolExecutor(max_workers=1)
        self.busy, self.unblock = threading.Event(), threading.Event()
        self.worker: int | None = None
        self.held = False
        self.queued = threading.Event()  # a call queued behind the held thread
        self.completed_in: list[int] = []
        self.failed_in: list[int] = []

    async def run_blocking(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        call = functools.partial(func, *args, **kwargs)
        future = asyncio.get_running_loop().run_in_executor(self.executor, call)
        if self.held:
            self.queued.set()
        return await future

    def hold(self) -> None:
        self.executor.submit(self._other_request)
        assert self.busy.wait(30)
        self.held = True

    def _other_request(self) -> None:
        self.worker = threading.get_ident()
        self.busy.set()
        self.unblock.wait(30)

    def complete(self, claim: Claim, *, decision: DecisionTicket | None = None) -> bool:
        self.completed_in.append(threading.get_ident())
        return super().complete(claim, decision=decision)

    def fail(
        self,
        claim: Claim,
        *,
        error_type: str,
        error_message: str,
        retry_at: datetime | None = None,
        count_attempt: bool = True,
    ) -> bool:
        self.failed_in.append(threading.get_ident())
        return super().fail(
            claim,
            error_type=error_type,
            error_message=error_message,
            retry_at=retry_at,
            count_attempt=count_attempt,
        )


@pytest.mark.parametrize("failing", [False, True], ids=["complete", "fail"])
@pytest.mark.parametrize("call", ["handle_async", "process_async"])
def test_the_record_of_a_cancelled_request_whose_handlers_ran_survives_the_end_of_the_loop(
    call: str, failing: bool
) -> None:
    # The handlers ran; the request is cancelled while its completion (or, after a handler
    # raised, its release) waits behind other work in run_blocking's thread, and the loop ends
    # right after: run_blocking drops the call. Was (completion): the record stayed processing
    # until its lease expired, and then the handlers ran again.
    clock = FakeClock()
    store = ThreadSensitive(clock)
    receiver = _receiver(store)
    ran: list[str] = []

    @receiver.on("idenfy")
    async def handler(event: kw.WebhookEvent) -> None:
        ran.append(event.event_type)
        if len(ran) == 1:
            store.hold()  # another request's work holds run_blocking's thread
            if failing:
                raise ValueError("handler failed")

    delivery_id = None
    if call == "process_async":
        delivery_id = _receiver(store, defer=True).handle(*MANUAL).delivery_id
        assert delivery_id is not None

    async def main() -> None:
        if delivery_id is None:
            task = asyncio.ensure_future(receiver.handle_async(*MANUAL))
        else:
            task = asyncio.ensure_future(receiver.process_async(delivery_id))
        # The completion (the release) was handed to run_blocking, queued behind the other work.
        assert await asyncio.to_thread(store.queued.wait, 30)
        task.cancel()
        await asyncio.sleep(0)  # the request sees its cancellation
        # Return: asyncio.run cancels whatever is left of the loop's tasks and closes it.

    try:
        asyncio.run(main())
        store.unblock.set()
        (stored,) = store.deliveries()
        record = _wait_until_not_processing(store, stored.id)
        if failing:
            assert (record.state, record.last_error_type) == (kw.DeliveryState.FAILED, "ValueError")
            assert (len(store.completed_in), len(store.failed_in)) == (0, 1)
            assert store.failed_in[0] != store.worker  # not run by the dropped call
        else:
            assert (record.state, record.attempts) == (kw.DeliveryState.DONE, 1)
            assert (len(store.completed_in), len(store.failed_in)) == (1, 0)
            assert store.completed_in[0] != store.worker  # not run by the dropped call
            # Once the lease would have expired, nothing runs the handlers again.
            clock.advance(120)
            assert receiver.process_pending().processed == 0
            assert ran == ["IDENTIFICATION_MANUAL_FINISHED"]
            again = receiver.handle(*MANUAL)
            assert (again.status_code, again.duplicate) == (200, True)
            assert ran == ["IDENTIFICATION_MANUAL_FINISHED"]
    finally:
        store.unblock.set()
        store.executor.shutdown()
    assert len(store.completed_in) == (0 if failing else 1)  # exactly once


# -- 2. a claim given back by an abandoned request uses up no attempt ---------------------------


class Gated:
    """Any store, blocking (run in a worker thread under async code), whose ``add``, ``claim`` or
    ``begin_decision`` -- ``gated`` -- waits until the test lets it finish."""

    def __init__(self, store: kw.Store, gated: str) -> None:
        self.store = store
        self.gated = gated
        self.blocking = True
        self.entered, self.proceed = threading.Event(), threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def _gate(self, name: str) -> None:
        if name == self.gated:
            self.entered.set()
            assert self.proceed.wait(30)

    def add(
        self, delivery: NewDelivery, *, lease: float | None = None, decision: Decision | None = None
    ) -> Added:
        self._gate("add")
        return self.store.add(delivery, lease=lease, decision=decision)

    def claim(self, delivery_id: str, *, lease: float, replay: bool = False) -> Claim | None:
        self._gate("claim")
        return self.store.claim(delivery_id, lease=lease, replay=replay)

    def begin_decision(
        self, claim: Claim, entry: DecisionEntry, *, lease: float
    ) -> DecisionTicket | None:
        self._gate("begin_decision")
        return self.store.begin_decision(claim, entry, lease=lease)


@contextlib.contextmanager
def _kind(kind: str, tmp_path: Path, clock: FakeClock) -> Iterator[kw.Store]:
    if kind == "postgres":
        with postgres_store(clock) as made:
            yield made
        return
    made = STORES[kind](tmp_path, clock)
    try:
        yield made
    finally:
        made.close()


@pytest.mark.parametrize("gated", ["add", "claim", "begin_decision"])
@pytest.mark.parametrize("kind", ["memory", "sqlite", "postgres"])
def test_a_claim_given_back_by_an_abandoned_request_uses_up_no_attempt(
    kind: str, gated: str, tmp_path: Path
) -> None:
    # The request is cancelled while its add (handle_async), claim or begin_decision
    # (process_async) runs in the worker thread: the claim taken is given back (and the subject
    # lease, if taken), and no handler ran. Was: recorded as a failed
    # attempt, so that a few abandoned requests left the delivery failed for good
    # (process_pending's max_attempts).
    clock = FakeClock()
    with _kind(kind, tmp_path, clock) as inner:
        store = Gated(inner, gated)
        receiver = _receiver(store)
        ran: list[str] = []
        receiver.on("idenfy")(lambda event: ran.append(event.event_type))
        delivery_id = None
        if gated != "add":
            delivery_id = _receiver(inner, defer=True).handle(*MANUAL).delivery_id
            assert delivery_id is not None

        async def main() -> None:
            if delivery_id is None:
                task = asyncio.ensure_future(receiver.handle_async(*MANUAL))
            else:
                task = asyncio.ensure_future(receiver.process_async(delivery_id))
            assert await asyncio.to_thread(store.entered.wait, 30)
            task.cancel()
            store.proceed.set()
            with pytest.raises(asyncio.CancelledError):
                await task

        for _ in range(3):  # three abandoned requests
            asyncio.run(main())  # waits for the release in the loop's default executor
            store.entered.clear()
            store.proceed.clear()
            (record,) = inner.deliveries()
            assert (record.state, record.last_error_type, record.lease_until) == (
                kw.DeliveryState.FAILED,
                "CancelledError",
                None,
            )
            assert record.attempts == 0
            clock.advance(3600)  # its back-off ends
        assert ran == []
        store.gated = ""  # the gate opens
        # Whatever max_attempts, the delivery is still handled: it never ran.
        summary = receiver.process_pending(max_attempts=1)
        assert (summary.processed, summary.succeeded) == (1, 1)
        assert ran == ["IDENTIFICATION_MANUAL_FINISHED"]


_REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def test_a_blocking_store_completes_in_the_callers_context_variables(tmp_path: Path) -> None:
    # SQLiteStore's other calls run through asyncio.to_thread, which copies the caller's context;
    # the completion (which must outlive a cancellation) runs in the same context.
    seen: list[str] = []

    class Recording(kw.SQLiteStore):
        def complete(self, claim: Any, **kwargs: Any) -> bool:
            seen.append(_REQUEST_ID.get())
            return super().complete(claim, **kwargs)

    store = Recording(tmp_path / "inbox.sqlite3")
    receiver = kw.Receiver(kw.Idenfy(signing_key="k"), store=store)
    receiver.on("idenfy")(lambda event: None)
    body, headers = signed_delivery("idenfy", "IDENTIFICATION_AUTO_FINISHED", "k")

    async def request() -> int:
        _REQUEST_ID.set("req-42")
        return (await receiver.handle_async(body, headers)).status_code

    assert asyncio.run(request()) == 200
    assert seen == ["req-42"]
    store.close()
