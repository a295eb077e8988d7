"""The task bodies every queue integration shares (kyc_webhooks.contrib._common), without a queue
library: what a worker's task does with a receiver whose handlers are ``async def``."""

from __future__ import annotations

import asyncio

import pytest

import kyc_webhooks as kw
from kyc_webhooks.contrib._common import (
    has_async_handlers,
    run_process,
    run_process_async,
    run_sweep,
    run_sweep_async,
)
from kyc_webhooks.testing import signed_delivery

KEY = "contrib-common-key"


def _deferred(scan_ref: str = "cc-1") -> tuple[kw.Receiver, str]:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
    outcome = receiver.handle(
        *signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY, scanRef=scan_ref)
    )
    assert outcome.status_code == 202
    assert outcome.delivery_id is not None
    return receiver, outcome.delivery_id


def _state(receiver: kw.Receiver, delivery_id: str) -> tuple[str, int]:
    assert receiver.store is not None
    record = receiver.store.get(delivery_id)
    assert record is not None
    return str(record.state), record.attempts


def test_async_event_and_decision_handlers_are_async_handlers() -> None:
    receiver, _ = _deferred()
    assert not has_async_handlers(receiver)

    async def decided(decision: kw.Decision) -> None: ...

    receiver.on_decision()(decided)  # a decision handler alone makes the tasks async
    assert has_async_handlers(receiver)


def test_the_async_task_bodies_await_event_and_decision_handlers() -> None:
    receiver, delivery_id = _deferred()
    ran: list[str] = []

    async def on_event(event: kw.WebhookEvent) -> None:
        ran.append("event")

    async def decided(decision: kw.Decision) -> None:
        ran.append("decision")

    receiver.on("idenfy")(on_event)
    receiver.on_decision()(decided)
    asyncio.run(run_process_async(receiver, delivery_id))
    assert ran == ["event", "decision"]
    assert _state(receiver, delivery_id) == ("done", 1)
    asyncio.run(run_process_async(receiver, delivery_id))  # a redelivered task: a duplicate
    assert ran == ["event", "decision"]
    # A lost enqueue: the async sweep takes it.
    lost = receiver.handle(
        *signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY, scanRef="cc-2")
    )
    assert lost.delivery_id is not None
    asyncio.run(run_sweep_async(receiver))
    assert ran == ["event", "decision"] * 2
    assert _state(receiver, lost.delivery_id) == ("done", 1)


def test_a_sync_task_leaves_the_delivery_untouched_when_an_async_handler_came_late(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # register() chose sync tasks, then an async handler was registered: the task refuses (it
    # cannot await it) before claiming anything, so no attempt is spent and nothing half runs.
    receiver, delivery_id = _deferred()
    ran: list[str] = []
    receiver.on("idenfy")(lambda event: ran.append("sync event handler"))

    async def decided(decision: kw.Decision) -> None:
        ran.append("decision")

    receiver.on_decision()(decided)
    with caplog.at_level("ERROR", logger="kyc_webhooks.contrib"):
        run_process(receiver, delivery_id)
        run_sweep(receiver)
    assert ran == []
    assert _state(receiver, delivery_id) == ("pending", 0)
    messages = [r.getMessage() for r in caplog.records if r.name == "kyc_webhooks.contrib"]
    assert len(messages) == 2
    assert all("after register()" in m and "decided" in m for m in messages)


def test_a_worker_whose_store_lacks_the_delivery_says_why(caplog: pytest.LogCaptureFixture) -> None:
    # The web process stored the delivery in its own MemoryStore; a worker process has another.
    _, delivery_id = _deferred("cc-elsewhere")
    worker = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
    with caplog.at_level("WARNING", logger="kyc_webhooks"):
        run_process(worker, delivery_id)
    (line,) = [r.getMessage() for r in caplog.records if "no stored delivery" in r.getMessage()]
    assert delivery_id in line
    assert "MemoryStore is per process" in line


def test_the_hand_off_publishes_even_when_nobody_awaits_it() -> None:
    # Review R25: under a running event loop the hand-off returned an asyncio.to_thread
    # coroutine, which runs only when awaited: a user's on_deferred wrapping tasks.enqueue and
    # dropping its result never published (the delivery waited for the sweeper).
    import asyncio
    import threading

    from kyc_webhooks.contrib._common import off_the_loop

    published: list[tuple[str, bool]] = []
    done = threading.Event()

    def publish(delivery_id: str) -> None:
        published.append((delivery_id, threading.current_thread() is threading.main_thread()))
        done.set()

    enqueue = off_the_loop(publish)

    async def main() -> None:
        enqueue("dropped")  # a wrapper of the user's that drops the awaitable
        assert await asyncio.to_thread(done.wait, 10)
        done.clear()
        await enqueue("awaited")  # type: ignore[misc]  # the receiver awaits it

    asyncio.run(main())
    assert published == [("dropped", False), ("awaited", False)]  # off the loop's thread
    # No event loop (handle()): published at once, here (the queue library's per-thread state,
    # Celery's current task, goes with it).
    assert enqueue("no-loop") is None
    assert published[-1] == ("no-loop", True)


def test_a_failed_publish_nobody_awaits_is_logged_by_its_class_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Review R27: asyncio reported the un-awaited failure ("Future exception was never
    # retrieved") with its message and traceback -- a broker URL with its password.
    import asyncio
    import logging

    from kyc_webhooks.contrib._common import off_the_loop

    def publish(delivery_id: str) -> None:
        raise ConnectionError("redis://user:s3cret@broker:6379 refused")

    enqueue = off_the_loop(publish)

    async def main() -> None:
        pending = enqueue("d-1")  # dropped by a wrapper of the user's
        assert pending is not None
        await asyncio.sleep(0.3)

    caplog.set_level(logging.DEBUG)
    asyncio.run(main())
    assert "hand-off to the queue failed delivery_id=d-1 error=ConnectionError" in caplog.text
    assert "s3cret" not in caplog.text
    assert "never retrieved" not in caplog.text


def test_a_publish_runs_off_the_loops_default_executor() -> None:
    # Review R56: publishes ran on the event loop's default executor, which runs the store's
    # calls too: a hung broker holding all its threads held every delivery's answer.
    import asyncio
    import concurrent.futures
    import threading

    from kyc_webhooks.contrib._common import off_the_loop

    release = threading.Event()
    published: list[str] = []
    enqueue = off_the_loop(published.append)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=1))
        hung = loop.run_in_executor(None, release.wait, 30)  # the only default thread: taken
        try:
            pending = enqueue("d-2")
            assert pending is not None
            await asyncio.wait_for(pending, 10)
        finally:
            release.set()
            await hung

    asyncio.run(main())
    assert published == ["d-2"]


def test_a_forked_child_publishes_on_threads_of_its_own() -> None:
    # The publishing threads are made once per process: a child forked after the parent had
    # published (gunicorn --preload, a uWSGI master that handled a delivery) inherited an
    # executor that believed it had idle threads, started none, and never published.
    import os
    import threading
    import time
    import warnings

    from kyc_webhooks.contrib._common import publish_bounded

    parent = threading.Event()
    publish_bounded(parent.set, "parent")
    assert parent.is_set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
        pid = os.fork()
    if pid == 0:  # the child: its exit status says whether it published in time
        status = 1
        try:
            child = threading.Event()
            started = time.monotonic()
            publish_bounded(child.set, "child")
            status = 0 if child.is_set() and time.monotonic() - started < 3.0 else 2
        finally:
            os._exit(status)
    deadline = time.monotonic() + 30
    while True:
        done, code = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child never ended")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(code) == 0


def test_a_bounded_hand_off_still_queued_when_its_wait_ends_is_dropped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With every publishing thread stuck on a hung broker, the hand-offs of later requests
    queued behind them and stayed queued after their 202: a backlog that grew without bound,
    flooded the queue once the broker was back, and held the process's exit (a review). One not
    started when its wait ends is cancelled; the sweeper handles its delivery."""
    import threading

    from kyc_webhooks.contrib import _common

    monkeypatch.setattr(_common, "SYNC_PUBLISH_WAIT", 0.2)
    release = threading.Event()
    stuck: list[int] = []

    def hung(n: int) -> None:
        stuck.append(n)
        release.wait(10)

    queued_ran = threading.Event()
    try:
        blockers = [_common._publisher().submit(hung, n) for n in range(8)]  # every thread
        with caplog.at_level("WARNING", logger="kyc_webhooks.contrib"):
            _common.publish_bounded(queued_ran.set, "delivery-queued")
        assert "not started after 0.2 s delivery_id=delivery-queued" in caplog.text
    finally:
        release.set()
    for blocker in blockers:
        blocker.result(timeout=10)
    assert sorted(stuck) == list(range(8))
    _common._publisher().submit(lambda: None).result(timeout=10)  # the queue has drained
    assert not queued_ran.is_set()
