"""``Router(run_sync=...)``: how async dispatch runs a plain ``def`` handler (the Django app runs
them through asgiref's ``sync_to_async(thread_sensitive=True)``). Without it plain handlers are
called on the event loop, as before; with it they run where ``run_sync`` puts them, async
handlers are awaited on the loop, order holds, and a cancellation while a plain handler runs in
its thread waits for the handler and is delivered at the next ``await`` -- the delivery is then
recorded once, as had the handler run on the loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from kyc_webhooks.routing import Router
from kyc_webhooks.testing import signed_delivery

KEY = "run-sync-signing-key"
MANUAL = signed_delivery(
    "idenfy",
    "IDENTIFICATION_MANUAL_FINISHED",
    KEY,
    status__overall="APPROVED",
    final=True,
    scanRef="scan-run-sync",
)


async def in_a_thread(call: Callable[[], object]) -> object:
    return await asyncio.to_thread(call)


def _receiver(tmp_path: Path, router: Router) -> kw.Receiver:
    store = kw.SQLiteStore(str(tmp_path / "inbox.sqlite3"))
    return kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, router=router, lease_timeout=60)


def test_without_run_sync_plain_handlers_run_on_the_event_loop() -> None:
    router = Router()
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), router=router)
    threads: list[int] = []
    receiver.on("idenfy")(lambda event: threads.append(threading.get_ident()))

    async def main() -> int:
        outcome = await receiver.handle_async(*MANUAL)
        assert outcome.status_code == 200
        return threading.get_ident()

    assert threads == [asyncio.run(main())]


def test_run_sync_runs_plain_handlers_and_decision_handlers_there_in_order(
    tmp_path: Path,
) -> None:
    receiver = _receiver(tmp_path, Router(run_sync=in_a_thread))
    seen: list[tuple[str, bool]] = []  # (which, on the loop's thread)
    loop_thread: list[int] = []

    def where(which: str) -> None:
        seen.append((which, threading.get_ident() == loop_thread[0]))

    @receiver.on("idenfy")
    def first(event: kw.WebhookEvent) -> None:
        where("plain 1")

    @receiver.on("idenfy")
    async def second(event: kw.WebhookEvent) -> None:
        where("async")

    @receiver.on("idenfy")
    def third(event: kw.WebhookEvent) -> None:
        where("plain 2")

    @receiver.on_decision()
    def decided(decision: Any) -> None:
        where("decision")

    async def main() -> tuple[kw.Outcome, kw.Outcome]:
        loop_thread.append(threading.get_ident())
        return await receiver.handle_async(*MANUAL), await receiver.handle_async(*MANUAL)

    first_outcome, again = asyncio.run(main())
    assert (first_outcome.status_code, first_outcome.handled) == (200, 4)
    assert again.duplicate
    assert seen == [
        ("plain 1", False),
        ("async", True),
        ("plain 2", False),
        ("decision", False),
    ]


def test_a_failing_plain_handler_fails_the_delivery_from_its_thread(tmp_path: Path) -> None:
    receiver = _receiver(tmp_path, Router(run_sync=in_a_thread))

    @receiver.on("idenfy")
    def broken(event: kw.WebhookEvent) -> None:
        raise RuntimeError("downstream down")

    outcome = asyncio.run(receiver.handle_async(*MANUAL))
    assert outcome.status_code == 500
    assert outcome.delivery_id is not None
    assert receiver.store is not None
    record = receiver.store.get(outcome.delivery_id)
    assert record is not None
    assert (record.state, record.attempts) == (kw.DeliveryState.FAILED, 1)


def test_a_cancellation_while_a_plain_handler_runs_waits_for_it_and_records_the_delivery(
    tmp_path: Path,
) -> None:
    # The request is cancelled (client gone, server shutdown) while the first plain handler runs
    # in its thread. The thread cannot be stopped: releasing the claim now would let a retry run
    # the handler a second time while it still runs. The request waits for it; the plain handlers
    # after it, decision handlers included, run (as they would have on the loop, which a running
    # plain handler blocks), and the cancellation arrives at the next await: the completion,
    # which runs to its end.
    receiver = _receiver(tmp_path, Router(run_sync=in_a_thread))
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    @receiver.on("idenfy")
    def slow(event: kw.WebhookEvent) -> None:
        started.set()
        assert release.wait(30)
        ran.append("slow")

    @receiver.on("idenfy")
    def after(event: kw.WebhookEvent) -> None:
        ran.append("after")

    @receiver.on_decision()
    def decided(decision: Any) -> None:
        ran.append("decision")

    async def main() -> None:
        task = asyncio.ensure_future(receiver.handle_async(*MANUAL))
        assert await asyncio.to_thread(started.wait, 30)
        task.cancel()
        for _ in range(5):  # the request does not end while the handler runs
            await asyncio.sleep(0.01)
            assert not task.done()
        task.cancel()  # a second cancellation waits too
        await asyncio.sleep(0.01)
        assert not task.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert ran == ["slow", "after", "decision"]
    assert receiver.store is not None
    [record] = receiver.store.deliveries()
    assert (record.state, record.attempts) == (kw.DeliveryState.DONE, 1)
    again = asyncio.run(receiver.handle_async(*MANUAL))
    assert again.duplicate
    assert ran == ["slow", "after", "decision"]


def test_a_cancellation_before_the_thread_starts_a_plain_handler_never_runs_it(
    tmp_path: Path,
) -> None:
    waiting = threading.Event()

    async def slow_to_start(call: Callable[[], object]) -> object:
        waiting.set()
        await asyncio.sleep(30)  # cancelled here, before the thread got the call
        return await asyncio.to_thread(call)

    receiver = _receiver(tmp_path, Router(run_sync=slow_to_start))
    ran: list[str] = []
    receiver.on("idenfy")(lambda event: ran.append("handler"))

    async def main() -> None:
        task = asyncio.ensure_future(receiver.handle_async(*MANUAL))
        for _ in range(1000):
            if waiting.is_set():
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert ran == []
    assert receiver.store is not None
    [record] = receiver.store.deliveries()
    assert record.state is kw.DeliveryState.FAILED  # given back: a later attempt runs it


def test_a_timeout_around_a_plain_handler_in_its_thread_is_still_a_timeout() -> None:
    # The held cancellation is delivered as the same one: asyncio.timeout() still sees its own.
    timeout = getattr(asyncio, "timeout", None)
    if timeout is None:
        pytest.skip("asyncio.timeout is Python 3.11+")
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), router=Router(run_sync=in_a_thread))
    release = threading.Event()
    ran: list[str] = []

    @receiver.on("idenfy")
    def slow(event: kw.WebhookEvent) -> None:
        assert release.wait(30)
        ran.append("slow")

    async def handle_within_the_timeout() -> None:
        async with timeout(0.05):
            await receiver.handle_async(*MANUAL)
            await asyncio.sleep(30)  # where the held cancellation arrives

    async def main() -> None:
        timer = threading.Timer(0.2, release.set)
        timer.start()
        try:
            with pytest.raises(TimeoutError):
                await handle_within_the_timeout()
        finally:
            timer.cancel()

    asyncio.run(main())
    assert ran == ["slow"]


def test_run_sync_must_be_callable() -> None:
    with pytest.raises(kw.ConfigurationError, match="run_sync"):
        Router(run_sync=42)  # type: ignore[arg-type]
