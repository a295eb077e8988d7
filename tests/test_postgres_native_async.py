"""PostgresStore's native async path: after ``await store.open_async()`` the receiver's async entry
points run the store's statements on psycopg's async connections, in the event loop -- no worker
thread per call -- with the guarantees of the thread path: exactly once under concurrency, a claim
given back when the request is abandoned, a completion that outlives the request and the end of
the event loop, a broken connection retried once."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

import kyc_webhooks as kw
from _postgres import DSN, postgres_store, require_postgres
from _uvicorn import serving
from kyc_webhooks.testing import signed_delivery

KEY = "native-async-key"


def _delivery(scan_ref: str, status: str = "APPROVED") -> tuple[bytes, dict[str, str]]:
    return signed_delivery(
        "idenfy",
        "IDENTIFICATION_MANUAL_FINISHED",
        KEY,
        scanRef=scan_ref,
        final=True,
        status__overall=status,
    )


class CountingExecutor(ThreadPoolExecutor):
    """The event loop's default executor, counting what is handed to a worker thread."""

    def __init__(self) -> None:
        super().__init__(max_workers=4)
        self.submitted: list[str] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        self.submitted.append(getattr(fn, "__qualname__", repr(fn)))
        return super().submit(fn, *args, **kwargs)


@pytest.fixture
def store() -> Iterator[kw.PostgresStore]:
    with postgres_store() as made:
        made.migrate()  # the schema check, once per store, is a sync call: done before
        yield made


def _receiver(store: kw.Store, **kwargs: Any) -> tuple[kw.Receiver, list[str]]:
    ran: list[str] = []
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, lease_timeout=30, **kwargs)

    @receiver.on("idenfy")
    def on_event(event: kw.WebhookEvent) -> None:
        ran.append(f"event:{event.delivery_key}")

    @receiver.on_decision()
    def on_decision(decision: kw.Decision) -> None:
        ran.append(f"decision:{decision.subject}:{decision.status}")

    return receiver, ran


def _run_native(
    store: kw.PostgresStore, main: Callable[[], Coroutine[Any, Any, Any]]
) -> tuple[Any, list[str]]:
    """Run ``main`` on a fresh event loop with the store's async pool open, counting the calls
    handed to the loop's default executor (``asyncio.to_thread`` and the runner's releases)."""
    executor = CountingExecutor()

    async def wrapper() -> Any:
        asyncio.get_running_loop().set_default_executor(executor)
        await store.open_async()
        try:
            assert store.native_async()
            return await main()
        finally:
            await store.close_async()

    try:
        return asyncio.run(wrapper()), executor.submitted
    finally:
        executor.shutdown()


def test_every_async_entry_point_runs_without_a_worker_thread(store: kw.PostgresStore) -> None:
    receiver, ran = _receiver(store)
    deferring, _ = _receiver(store, defer=True)

    async def main() -> list[tuple[int, bool]]:
        first = await receiver.handle_async(*_delivery("scan-a"))
        duplicate = await receiver.handle_async(*_delivery("scan-a"))
        deferred = await deferring.handle_async(*_delivery("scan-b", "DENIED"))
        assert deferred.delivery_id is not None
        processed = await receiver.process_async(deferred.delivery_id)
        again = await receiver.process_async(deferred.delivery_id)  # done: a duplicate
        await deferring.handle_async(*_delivery("scan-c"))
        summary = await receiver.process_pending_async()
        assert first.delivery_id is not None
        replayed = await receiver.replay_async(first.delivery_id)
        # A failed delivery waiting for its back-off: its Retry-After read on the pool too.
        waiting = await deferring.handle_async(*_delivery("scan-d"))
        assert waiting.delivery_id is not None
        claim = await store.claim_async(waiting.delivery_id, lease=30)
        assert claim is not None
        retry_at = await store.now_async() + timedelta(hours=1)
        assert await store.fail_async(claim, error_type="X", error_message="x", retry_at=retry_at)
        backing_off = await receiver.process_async(waiting.delivery_id)
        assert backing_off.retry_after is not None
        assert backing_off.retry_after > 3000
        outcomes = [first, duplicate, deferred, processed, again, *summary.outcomes, replayed]
        return [(o.status_code, o.duplicate) for o in [*outcomes, backing_off]]

    answers, submitted = _run_native(store, main)
    assert answers == [
        (200, False),
        (200, True),
        (202, False),
        (200, False),
        (200, True),
        (200, False),
        (200, False),
        (503, False),
    ]
    assert submitted == []  # not one call in a worker thread
    assert ran.count("decision:scan-a:APPROVED") == 1  # the replay is no change of decision
    assert "decision:scan-b:DECLINED" in ran
    assert "decision:scan-c:APPROVED" in ran
    records = store.deliveries()
    assert {r.state for r in records} == {kw.DeliveryState.DONE, kw.DeliveryState.FAILED}
    assert [e.status for e in receiver.decisions.for_client("client-id")] in ([], ["APPROVED"])
    assert store.effective_decision("idenfy", "scan-b") is not None


def test_concurrent_copies_of_one_delivery_run_the_handlers_once(store: kw.PostgresStore) -> None:
    receiver, ran = _receiver(store)

    async def main() -> list[int]:
        outcomes = await asyncio.gather(
            *(receiver.handle_async(*_delivery("scan-race")) for _ in range(30))
        )
        return [o.status_code for o in outcomes]

    codes, submitted = _run_native(store, main)
    assert set(codes) <= {200, 503}
    assert codes.count(200) >= 1
    assert ran.count("decision:scan-race:APPROVED") == 1
    assert len([r for r in ran if r.startswith("event:")]) == 1
    assert submitted == []  # in progress too: its Retry-After read on the async connections
    (record,) = store.deliveries()
    assert record.state is kw.DeliveryState.DONE


class TableLock:
    """An ACCESS EXCLUSIVE lock on the store's deliveries table, held by a connection of the
    test's own: every statement of the store on that table waits until :meth:`release`."""

    def __init__(self, store: kw.PostgresStore) -> None:
        import psycopg

        self.conn = psycopg.connect(require_postgres(), autocommit=False)
        self.conn.execute(f"LOCK TABLE {store.schema}.deliveries IN ACCESS EXCLUSIVE MODE")

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()


def test_a_request_abandoned_while_its_add_waits_gives_the_claim_back(
    store: kw.PostgresStore,
) -> None:
    receiver, ran = _receiver(store)

    async def main() -> None:
        lock = TableLock(store)
        try:
            task = asyncio.ensure_future(receiver.handle_async(*_delivery("scan-gone")))
            await asyncio.sleep(0.3)  # the add waits for the lock
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            lock.release()
        for _ in range(300):  # the add ends, and what it took goes back (bounded: 3 s)
            records = store.deliveries()
            if records and records[0].state is kw.DeliveryState.FAILED:
                return
            await asyncio.sleep(0.01)

    _run_native(store, main)
    (record,) = store.deliveries()
    assert (record.state, record.last_error_type, record.attempts) == (
        kw.DeliveryState.FAILED,
        "CancelledError",
        0,
    )
    assert ran == []
    # The next delivery of it runs the handlers: nothing holds the claim or the subject.
    outcome = receiver.handle(*_delivery("scan-gone"))
    assert outcome.status_code == 200
    assert ran.count("decision:scan-gone:APPROVED") == 1


def test_the_completion_outlives_a_cancelled_request(store: kw.PostgresStore) -> None:
    receiver, ran = _receiver(store)
    handled = threading.Event()
    receiver.on("idenfy")(lambda event: handled.set())
    locks: list[TableLock] = []

    @receiver.on("idenfy")
    def lock_the_table(event: kw.WebhookEvent) -> None:
        locks.append(TableLock(store))  # the completion will wait for it

    async def main() -> None:
        task = asyncio.ensure_future(receiver.handle_async(*_delivery("scan-late")))
        for _ in range(500):
            if locks:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # the completion waits for the lock
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        locks[0].release()
        for _ in range(300):
            (record,) = store.deliveries()
            if record.state is kw.DeliveryState.DONE:
                return
            await asyncio.sleep(0.01)

    _run_native(store, main)
    (record,) = store.deliveries()
    assert record.state is kw.DeliveryState.DONE
    assert ran.count("decision:scan-late:APPROVED") == 1


def test_the_completion_outlives_the_end_of_the_event_loop(store: kw.PostgresStore) -> None:
    receiver, ran = _receiver(store)
    locks: list[TableLock] = []

    @receiver.on("idenfy")
    def lock_the_table(event: kw.WebhookEvent) -> None:
        locks.append(TableLock(store))

    requests: list[asyncio.Future[kw.Outcome]] = []

    async def main() -> None:
        requests.append(asyncio.ensure_future(receiver.handle_async(*_delivery("scan-end"))))
        for _ in range(500):
            if locks:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        # Returning ends the loop: asyncio.run cancels the request and its completion.

    try:
        _run_native(store, main)
    finally:
        for lock in locks:
            lock.release()
    record = None
    for _ in range(500):  # a thread of its own completes the claim (bounded: 5 s)
        (record,) = store.deliveries()
        if record.state is kw.DeliveryState.DONE:
            break
        time.sleep(0.01)
    assert record is not None
    assert record.state is kw.DeliveryState.DONE
    assert ran.count("decision:scan-end:APPROVED") == 1
    assert store.effective_decision("idenfy", "scan-end") is not None


def test_a_broken_connection_is_retried_once_on_another(store: kw.PostgresStore) -> None:
    import psycopg

    receiver, ran = _receiver(store)

    async def main() -> int:
        first = await receiver.handle_async(*_delivery("scan-1"))
        assert first.status_code == 200
        # The backend of the async pool's connection, ended by the server (a restart, a
        # failover, an administrator): the next call meets a broken connection.
        with psycopg.connect(DSN, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND state = 'idle' AND query LIKE %s",
                (store.schema, f"%{store.schema}.%"),
            ).fetchall()
        assert ended
        outcome = await receiver.handle_async(*_delivery("scan-2"))
        return outcome.status_code

    code, _ = _run_native(store, main)
    assert code == 200
    assert ran.count("decision:scan-2:APPROVED") == 1


def test_without_open_async_or_on_another_loop_calls_run_in_threads(
    store: kw.PostgresStore,
) -> None:
    receiver, ran = _receiver(store)
    assert not store.native_async()
    outcome = asyncio.run(receiver.handle_async(*_delivery("scan-thread")))
    assert outcome.status_code == 200

    async def open_here() -> None:
        await store.open_async()
        await store.open_async()  # again on the same loop: nothing to do

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(open_here())

        async def elsewhere() -> int:
            assert not store.native_async()  # open on another loop: threads here
            return (await receiver.handle_async(*_delivery("scan-other"))).status_code

        assert asyncio.run(elsewhere()) == 200
        with pytest.raises(kw.UsageError, match="another event loop"):
            asyncio.run(store.open_async())
    finally:
        loop.run_until_complete(store.close_async())
        loop.close()
    assert ran.count("decision:scan-other:APPROVED") == 1


def test_open_async_needs_a_store_built_from_a_connection_string() -> None:
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(require_postgres(), min_size=1, max_size=1, open=True)
    try:
        store = kw.PostgresStore(pool)
        with pytest.raises(kw.UsageError, match="connection string"):
            asyncio.run(store.open_async())
    finally:
        pool.close()


def test_each_async_method_answers_as_its_sync_twin(store: kw.PostgresStore) -> None:
    from kyc_webhooks.decisions import ledger_entry
    from kyc_webhooks.store import NewDelivery

    def new(key: str) -> NewDelivery:
        return NewDelivery(
            delivery_key=key, vendor="idenfy", event_type="X", body=b"{}", headers=()
        )

    decision = kw.Receiver(kw.Idenfy(signing_key=KEY)).parse(*_delivery("scan-m")).decision
    assert decision is not None

    async def main() -> None:
        now = await store.now_async()
        assert abs((now - store.now()).total_seconds()) < 5
        added = await store.add_async(new("k1"), lease=30)
        assert added.created
        assert added.claim is not None
        again = await store.add_async(new("k1"), lease=30)
        assert (again.created, again.claim) == (False, None)  # held: no second claim
        assert await store.get_async(added.record.id) == store.get(added.record.id)
        assert await store.get_async("no-such-id") is None
        entry = ledger_entry(decision, added.claim.record)
        ticket = await store.begin_decision_async(added.claim, entry, lease=30)
        assert ticket is not None
        assert ticket.changes
        assert await store.begin_decision_async(added.claim, entry, lease=30) is None  # held
        await store.abort_decision_async(ticket)
        assert await store.fail_async(added.claim, error_type="X", error_message="x", retry_at=None)
        assert not await store.fail_async(
            added.claim, error_type="X", error_message="x", retry_at=None
        )  # a claim is spent once used
        claim = await store.claim_async(added.record.id, lease=30)
        assert claim is not None
        ticket = await store.begin_decision_async(claim, entry, lease=30)  # free again
        assert ticket is not None
        assert await store.complete_async(claim, decision=ticket)
        assert not await store.complete_async(claim)
        assert store.effective_decision(entry.vendor, entry.subject) == entry
        with pytest.raises(kw.DeliveryNotFoundError):
            await store.claim_async("no-such-id", lease=30)
        await store.add_async(new("k2"))
        nxt = await store.claim_next_async(lease=30, vendors=["idenfy"])
        assert nxt is not None
        assert nxt.record.delivery_key == "k2"
        assert await store.claim_next_async(lease=30) is None

    _, submitted = _run_native(store, main)
    assert submitted == []


def test_drain_waits_for_a_claim_given_back_after_its_native_add_ended(
    store: kw.PostgresStore,
) -> None:
    # Review R25: the claim of a request cancelled while its add_async ran is given back by a
    # job that starts only when the add ends; drain() returned as soon as the add ended, and
    # the server exited with the record processing (uvicorn's graceful-shutdown timeout).
    receiver, ran = _receiver(store)

    async def main() -> tuple[int, kw.DeliveryRecord]:
        lock = TableLock(store)
        try:
            task = asyncio.ensure_future(receiver.handle_async(*_delivery("scan-drain")))
            await asyncio.sleep(0.3)  # the add waits for the lock
            task.cancel()
            threading.Timer(0.3, lock.release).start()
            left = await receiver.drain(10)
            # Read at once, before the event loop ends (asyncio.run then waits for the default
            # executor, where the give-back runs): drain() must have waited for it.
            (record,) = store.deliveries()
        finally:
            lock.release()
        with pytest.raises(asyncio.CancelledError):
            await task
        return left, record

    (left, record), _ = _run_native(store, main)
    assert left == 0
    assert (record.state, record.last_error_type) == (kw.DeliveryState.FAILED, "CancelledError")
    assert ran == []


def test_a_loop_that_ends_without_close_async_ends_and_a_new_one_reopens(
    store: kw.PostgresStore,
) -> None:
    # Review R25: open_async() returned before its first connection; a loop ending right after
    # (a start-up that fails after open_async) never finished ending. And a store whose loop
    # ended without close_async() refused every later open_async().
    async def open_and_fail() -> None:
        await store.open_async()
        raise RuntimeError("start-up failed")

    def run() -> None:
        with pytest.raises(RuntimeError, match="start-up failed"):
            asyncio.run(open_and_fail())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive(), "the event loop never finished ending"

    receiver, ran = _receiver(store)

    async def again() -> int:
        await store.open_async()  # the old pool's loop is gone: a new pool
        assert store.native_async()
        outcome = await receiver.handle_async(*_delivery("scan-reopened"))
        await store.close_async()
        assert not store.native_async()
        return outcome.status_code

    assert asyncio.run(again()) == 200
    assert ran.count("decision:scan-reopened:APPROVED") == 1


def test_open_async_on_a_server_that_is_down_is_a_store_error() -> None:
    require_postgres()
    store = kw.PostgresStore("postgresql://postgres@127.0.0.1:1/test", timeout=1)  # nothing there
    try:
        with pytest.raises(kw.StoreError, match="open_async"):
            asyncio.run(store.open_async())
        assert not store.native_async()
    finally:
        store.close()


def _store_connections(store: kw.PostgresStore, settle_at: int | None = None) -> int:
    """The server's sessions of ``store`` (application_name: postgres_store names them after the
    schema; other runs share the server). With ``settle_at``, waits up to 5 s for that count: a
    closed connection's backend leaves pg_stat_activity only once it has exited, a moment after
    the client hung up (a loaded CI machine saw the moment)."""
    import psycopg

    deadline = time.monotonic() + 5
    with psycopg.connect(DSN, autocommit=True) as admin:
        while True:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                (store.schema,),
            ).fetchone()
            assert row is not None
            count = int(row[0])
            if settle_at is None or count == settle_at or time.monotonic() > deadline:
                return count
            time.sleep(0.05)


def test_overlapping_open_async_calls_open_one_pool_and_close_async_waits_for_it(
    store: kw.PostgresStore,
) -> None:
    # Review R27: two open_async() of one loop, overlapping, opened two pools (the first never
    # closed: its connection stayed); a close_async() while open_async() still connected was a
    # no-op, and the pool was installed after it.
    before = _store_connections(store)

    async def main() -> tuple[int, int]:
        await asyncio.gather(store.open_async(), store.open_async())
        opened = _store_connections(store) - before
        await store.close_async()
        racing = asyncio.ensure_future(store.open_async())
        await asyncio.sleep(0)  # it is connecting
        await store.close_async()  # waits for it, then closes what it opened
        await racing
        assert not store.native_async()
        return opened, _store_connections(store, settle_at=before) - before

    opened, left = asyncio.run(main())
    assert opened == 1
    assert left == 0


def test_close_async_while_requests_are_under_way_loses_no_completion(
    store: kw.PostgresStore,
) -> None:
    """``close_async()`` between a request's choice of the async pool and its statement: the
    completion failed ("the store's async pool is not open", or ``PoolClosed`` while it waited
    for a connection), the record stayed ``processing``, and the redelivery after the lease ran
    the event and decision handlers again; a request whose ``add`` had not started raised
    UsageError (the adapters' 500) (review R47). Such a run now goes through the store's own
    pool in a worker thread."""
    receiver, ran = _receiver(store)

    closing: list[asyncio.Future[None]] = []

    @receiver.on("idenfy")
    async def shut_down_meanwhile(event: kw.WebhookEvent) -> None:
        # The application's shutdown starts while this handler finishes: close_async() runs
        # at the next turn of the loop, before the completion's statement.
        if not closing:
            closing.append(asyncio.ensure_future(store.close_async()))

    async def main() -> list[int]:
        await store.open_async()
        first = await receiver.handle_async(*_delivery("scan-closing"))
        await closing[0]
        # Requests whose add had not started when the pool closed.
        await store.open_async()
        pending = [
            asyncio.ensure_future(receiver.handle_async(*_delivery(f"scan-later-{n}")))
            for n in range(5)
        ]
        await asyncio.sleep(0)
        await store.close_async()
        answers = [first.status_code] + [(await task).status_code for task in pending]
        await receiver.drain()
        return answers

    assert asyncio.run(main()) == [200] * 6
    records = store.deliveries(limit=10)
    assert sorted(r.state.value for r in records) == ["done"] * 6
    assert ran.count("decision:scan-closing:APPROVED") == 1


# -- the adapters' lifespans open the async pool ---------------------------------------------


def _native_receiver(store: kw.PostgresStore) -> tuple[kw.Receiver, list[bool]]:
    """A receiver whose (async) handler notes whether the store's calls run on its event loop."""
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, lease_timeout=30)
    native: list[bool] = []

    @receiver.on("idenfy")
    async def on_event(event: kw.WebhookEvent) -> None:
        native.append(store.native_async())

    return receiver, native


@contextlib.contextmanager
def _served(app: Any) -> Iterator[Any]:
    """``app`` under uvicorn (lifespan on) on 127.0.0.1: an httpx client to it; the server is
    stopped, its lifespan shutdown run, when the block ends."""
    import httpx

    with serving(app) as base, httpx.Client(base_url=base, timeout=20) as client:
        yield client


def test_webhook_app_under_uvicorn_opens_the_async_pool_and_closes_it(
    store: kw.PostgresStore,
) -> None:
    """uvicorn on 127.0.0.1: the deliveries' store calls run on the server's event loop; at
    shutdown the pool is closed. Before, ``WebhookApp`` left every call of a ``PostgresStore`` in
    a worker thread, and only FastAPI users who wrote their own lifespan had the async pool."""
    from kyc_webhooks.integrations.asgi import WebhookApp

    receiver, native = _native_receiver(store)
    before = _store_connections(store)
    with _served(WebhookApp(receiver, prefix="/webhooks")) as client:
        opened = _store_connections(store) - before
        statuses = [
            client.post("/webhooks/idenfy", content=body, headers=headers).status_code
            for body, headers in (_delivery("scan-u1"), _delivery("scan-u2"), _delivery("scan-u1"))
        ]
    assert statuses == [200, 200, 200]
    assert native == [True, True]  # the duplicate ran nothing
    assert opened == 1  # the async pool's connection, beside the sync pool's
    assert _store_connections(store, settle_at=before) == before  # closed at shutdown
    assert {r.state for r in store.deliveries()} == {kw.DeliveryState.DONE}


def test_webhook_app_lifespan_runs_the_deliveries_without_a_worker_thread(
    store: kw.PostgresStore,
) -> None:
    """The lifespan protocol as a server speaks it, on a loop whose default executor counts what
    it is handed: not one store call in a worker thread."""
    import httpx

    from kyc_webhooks.integrations.asgi import Message, WebhookApp

    receiver, native = _native_receiver(store)
    app = WebhookApp(receiver, prefix="/webhooks")
    executor = CountingExecutor()

    async def main() -> tuple[list[int], list[Message], bool]:
        asyncio.get_running_loop().set_default_executor(executor)
        incoming: asyncio.Queue[Message] = asyncio.Queue()
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        await incoming.put({"type": "lifespan.startup"})
        lifespan = asyncio.ensure_future(app({"type": "lifespan"}, incoming.get, send))
        while not sent:
            await asyncio.sleep(0.01)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            statuses = [
                (await client.post("/webhooks/idenfy", content=body, headers=headers)).status_code
                for body, headers in (_delivery("scan-l1"), _delivery("scan-l1"))
            ]
        await incoming.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(lifespan, 20)
        return statuses, sent, store.native_async()

    try:
        statuses, sent, still_native = asyncio.run(main())
    finally:
        executor.shutdown()
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert statuses == [200, 200]
    assert native == [True]
    assert executor.submitted == []
    assert not still_native  # closed at shutdown


def test_fastapi_router_lifespan_opens_the_pool_and_leaves_one_the_app_opened(
    store: kw.PostgresStore,
) -> None:
    """A FastAPI application under uvicorn: the router's lifespan opens the pool; when the
    application's own lifespan opened it, the router leaves it to the application to close."""
    from collections.abc import AsyncIterator

    from fastapi import FastAPI

    from kyc_webhooks.integrations.fastapi import webhook_router

    receiver, native = _native_receiver(store)
    before = _store_connections(store)
    app = FastAPI()
    app.include_router(webhook_router(receiver))
    with _served(app) as client:
        body, headers = _delivery("scan-f1")
        assert client.post("/webhooks/idenfy", content=body, headers=headers).status_code == 200
    assert native == [True]
    assert _store_connections(store, settle_at=before) == before

    at_shutdown: list[bool] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await store.open_async()
        yield
        at_shutdown.append(store.native_async())  # after the router's shutdown
        await store.close_async()

    own = FastAPI(lifespan=lifespan)
    own.include_router(webhook_router(receiver))
    with _served(own) as client:
        body, headers = _delivery("scan-f2")
        assert client.post("/webhooks/idenfy", content=body, headers=headers).status_code == 200
    assert native == [True, True]
    assert at_shutdown == [True]  # the router did not close the application's pool


def _lifespan_messages(app: Any) -> tuple[Callable[[], Coroutine[Any, Any, None]], Any, Any]:
    """Drive ``app``'s lifespan as a server does: ``start()`` sends lifespan.startup and waits
    for the answer, ``stop()`` sends lifespan.shutdown and waits for the lifespan to end; the
    third item is the list of what the app sent."""
    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []
    running: list[asyncio.Future[None]] = []

    async def send(message: Any) -> None:
        sent.append(dict(message))

    async def start() -> None:
        await incoming.put({"type": "lifespan.startup"})
        running.append(asyncio.ensure_future(app({"type": "lifespan"}, incoming.get, send)))
        for _ in range(2000):  # bounded: 20 s
            if sent:
                return
            await asyncio.sleep(0.01)

    async def stop() -> None:
        await incoming.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(running[0], 20)

    return start, stop, sent


def test_a_server_down_at_start_up_starts_the_app_on_worker_threads(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database unreachable when the application starts: the start-up completes (with a
    warning), and deliveries get 503 with Retry-After -- not a server that refuses to start;
    the shutdown ends the background attempts to open the pool."""
    import httpx

    from kyc_webhooks.integrations.asgi import WebhookApp

    store = kw.PostgresStore("postgresql://postgres@127.0.0.1:1/test", timeout=0.5)
    receiver, native = _native_receiver(store)
    app = WebhookApp(receiver)
    start, stop, sent = _lifespan_messages(app)
    body, headers = _delivery("x")

    async def main() -> httpx.Response:
        await start()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = await client.post("/idenfy", content=body, headers=headers)
        await stop()
        return answer

    try:
        with caplog.at_level("WARNING", logger="kyc_webhooks"):
            answer = asyncio.run(main())
    finally:
        store.close()
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert answer.status_code == 503
    assert answer.headers["retry-after"]
    assert native == []
    assert any("could not be opened at start-up" in r.getMessage() for r in caplog.records)


def test_a_database_back_after_start_up_gets_the_async_pool_without_a_restart(
    store: kw.PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A role that may not log in yet (the database not ready when the application starts):
    the pool is tried again in the background and opens once it may; shutdown closes it."""
    import os
    import secrets

    from psycopg.conninfo import make_conninfo

    from _postgres import sql
    from kyc_webhooks.integrations import _common

    monkeypatch.setattr(_common, "REOPEN_DELAYS", (0.05,) * 400)  # bounded: 20 s
    role = f"kw_test_role_{os.getpid()}_{secrets.token_hex(3)}"
    sql(f"CREATE ROLE {role} NOLOGIN")
    try:
        sql(f"GRANT USAGE ON SCHEMA {store.schema} TO {role}")
        sql(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {store.schema} TO {role}"
        )
        dsn = make_conninfo(require_postgres(), user=role, application_name=store.schema)
        theirs = kw.PostgresStore(dsn, schema=store.schema, timeout=0.5)
        lifespan = _common.StoreLifespan(_native_receiver(theirs)[0])

        async def main() -> tuple[bool, bool, bool]:
            await lifespan.start()
            at_start = theirs.native_async()
            sql(f"ALTER ROLE {role} LOGIN")
            for _ in range(400):  # bounded: 20 s
                if theirs.native_async():
                    break
                await asyncio.sleep(0.05)
            opened = theirs.native_async()
            await theirs.now_async()  # on the pool
            await lifespan.stop()
            return at_start, opened, theirs.native_async()

        try:
            at_start, opened, after = asyncio.run(main())
        finally:
            theirs.close()
    finally:
        sql(f"DROP OWNED BY {role}")
        sql(f"DROP ROLE {role}")
    assert (at_start, opened, after) == (False, True, False)


def test_a_store_whose_open_async_is_broken_fails_the_start_up_loudly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Not a database that is down: a store whose ``open_async()`` raises something else. The
    server is told (lifespan.startup.failed) and refuses to start; before, the exception left
    the lifespan, and uvicorn's default ("auto") then ran the app without lifespan events --
    without the drain at shutdown."""
    from kyc_webhooks.integrations.asgi import WebhookApp

    class Broken(kw.MemoryStore):
        async def open_async(self) -> bool:
            raise RuntimeError("a bug in the store")

        def native_async(self) -> bool:
            return False

    start, _, sent = _lifespan_messages(WebhookApp(_native_receiver(Broken())[0]))  # type: ignore[arg-type]
    with caplog.at_level("ERROR", logger="kyc_webhooks"):
        asyncio.run(start())
    assert sent == [{"type": "lifespan.startup.failed", "message": "RuntimeError"}]
    assert any("failed at start-up" in r.getMessage() for r in caplog.records)


def test_a_store_on_a_pool_of_yours_or_async_pool_false_stays_on_worker_threads(
    store: kw.PostgresStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A ``PostgresStore`` built on a ``ConnectionPool`` passed in has no async twin, and
    ``async_pool=False`` asks for none: the lifespan starts and stops without opening one, and
    without a warning."""
    from psycopg_pool import ConnectionPool

    from kyc_webhooks.integrations.asgi import WebhookApp

    receiver, _ = _native_receiver(store)
    pool: ConnectionPool[Any] = ConnectionPool(require_postgres(), min_size=1, open=False)
    pool.open(wait=True, timeout=10)
    theirs = kw.PostgresStore(pool, schema=store.schema)

    async def main(app: Any) -> list[bool]:
        start, stop, sent = _lifespan_messages(app)
        await start()
        seen = [app.receiver.store.native_async()]
        await stop()
        assert [m["type"] for m in sent] == [
            "lifespan.startup.complete",
            "lifespan.shutdown.complete",
        ]
        return seen

    try:
        with caplog.at_level("WARNING", logger="kyc_webhooks"):
            yours = asyncio.run(main(WebhookApp(_native_receiver(theirs)[0])))
            off = asyncio.run(main(WebhookApp(receiver, async_pool=False)))
    finally:
        theirs.close()
        pool.close()
    assert (yours, off) == ([False], [False])
    assert [r.getMessage() for r in caplog.records] == []


class _Flaky(kw.MemoryStore):
    """A store whose database is down at start-up (``StoreError``); what its later attempts to
    open the async pool do is ``then``: raise, or wait until cancelled. Records the attempts."""

    def __init__(self, then: BaseException | None) -> None:
        super().__init__()
        self.then = then
        self.attempts: list[str] = []
        self.closed = 0

    async def open_async(self) -> bool:
        self.attempts.append("started")
        if len(self.attempts) == 1:
            raise kw.StoreError("the database is down")
        if self.then is not None:
            raise self.then
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            self.attempts.append("cancelled")
            raise
        return True

    def native_async(self) -> bool:
        return False

    async def close_async(self) -> None:
        self.closed += 1


def test_a_background_attempt_that_fails_otherwise_is_logged_and_the_shutdown_still_drains(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Review: an attempt raising something else than a ``StoreError`` ended the retrying task
    with it, unlogged; at shutdown it was raised again, before the drain -- the server never
    got lifespan.shutdown.complete and the claims of cancelled requests were not given back."""
    from kyc_webhooks.integrations import _common
    from kyc_webhooks.integrations.asgi import WebhookApp

    monkeypatch.setattr(_common, "REOPEN_DELAYS", (0.01,) * 100)
    flaky = _Flaky(OSError("a bug in the store"))
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=flaky)
    drained: list[bool] = []
    drain = receiver.drain

    async def counted_drain(*args: Any, **kwargs: Any) -> int:
        drained.append(True)
        return await drain(*args, **kwargs)

    monkeypatch.setattr(receiver, "drain", counted_drain)
    start, stop, sent = _lifespan_messages(WebhookApp(receiver))

    async def main() -> None:
        await start()
        for _ in range(500):  # bounded: 5 s
            if len(flaky.attempts) == 2:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # no third attempt: trying again cannot help
        await stop()

    with caplog.at_level("WARNING", logger="kyc_webhooks"):
        asyncio.run(main())
    assert flaky.attempts == ["started", "started"]
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert drained == [True]
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [
        "kyc_webhooks: opening the store's async pool failed (OSError); its calls run in "
        "worker threads"
    ]
    assert "a bug in the store" not in caplog.text  # the class only: a message may hold a DSN


def test_the_shutdown_cancels_an_attempt_under_way_and_none_starts_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An attempt to open the pool that is under way when the server shuts down is cancelled
    and waited for (it closes what it opened), and no attempt starts after the shutdown: a pool
    opened then would be left open by a lifespan that has ended."""
    from kyc_webhooks.integrations import _common

    monkeypatch.setattr(_common, "REOPEN_DELAYS", (0.01,) * 100)
    flaky = _Flaky(None)
    lifespan = _common.StoreLifespan(kw.Receiver(kw.Idenfy(signing_key=KEY), store=flaky))

    async def main() -> list[str]:
        await lifespan.start()
        for _ in range(500):  # bounded: 5 s
            if len(flaky.attempts) == 2:
                break
            await asyncio.sleep(0.01)
        await lifespan.stop()
        seen = list(flaky.attempts)
        await asyncio.sleep(0.1)  # nothing runs on after the shutdown
        assert flaky.attempts == seen
        return seen

    assert asyncio.run(main()) == ["started", "started", "cancelled"]
    assert (lifespan.opened, flaky.closed) == (False, 0)


def test_a_shutdown_cancelled_early_still_closes_the_pool_a_background_attempt_opened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review: stop() waited for the finished background attempt before its try/finally; a
    cancellation of the shutdown at that moment skipped the close, and the pool the attempt had
    opened stayed open with its connections (a cancellation during the drain closed it)."""
    from kyc_webhooks.integrations import _common

    class Recovered(_Flaky):
        async def open_async(self) -> bool:
            self.attempts.append("started")
            if len(self.attempts) == 1:
                raise kw.StoreError("the database is down")
            return True

    monkeypatch.setattr(_common, "REOPEN_DELAYS", (0.01,) * 100)
    store = Recovered(None)
    lifespan = _common.StoreLifespan(kw.Receiver(kw.Idenfy(signing_key=KEY), store=store))

    async def main() -> bool:
        await lifespan.start()
        for _ in range(500):  # bounded: 5 s
            if lifespan.opened:
                break
            await asyncio.sleep(0.01)
        assert lifespan.opened
        stopping = asyncio.ensure_future(lifespan.stop())
        await asyncio.sleep(0)  # stop() waits for the (finished) background attempt
        stopping.cancel()
        await asyncio.wait([stopping])
        return stopping.cancelled()

    assert asyncio.run(main())
    assert store.attempts == ["started", "started"]
    assert (lifespan.opened, store.closed) == (False, 1)


def test_the_fastapi_router_closes_its_pool_when_a_later_start_up_fails(
    store: kw.PostgresStore,
) -> None:
    """Review: FastAPI runs a router included after ours inside our lifespan; when its start-up
    failed, the exception came out of our ``yield`` and the pool ours had opened stayed open,
    its connections with it."""
    from collections.abc import AsyncIterator

    from fastapi import APIRouter, FastAPI

    from kyc_webhooks.integrations.fastapi import webhook_router

    @contextlib.asynccontextmanager
    async def failing(app: Any) -> AsyncIterator[None]:
        if app is not None:
            raise RuntimeError("another router's start-up failed")
        yield

    receiver, _ = _native_receiver(store)
    app = FastAPI()
    app.include_router(webhook_router(receiver))
    app.include_router(APIRouter(lifespan=failing))
    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(dict(message))

    async def main() -> bool:
        await incoming.put({"type": "lifespan.startup"})
        with pytest.raises(RuntimeError, match="another router's start-up failed"):
            await asyncio.wait_for(app({"type": "lifespan"}, incoming.get, send), 20)
        return store.native_async()

    assert asyncio.run(main()) is False
    assert [m["type"] for m in sent] == ["lifespan.startup.failed"]
