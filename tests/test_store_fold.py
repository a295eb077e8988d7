"""The subject lease taken in the claiming step (``Store.add(..., decision=...)``) through a real
Receiver: the runner hands the event's decision to ``add``; a store that takes the lease there
saves a statement and a commit per new delivery carrying a verdict, and everything observable --
outcomes, logs, store state, decision handlers -- stays what the two-step path
(``add`` then ``begin_decision``) gives, which a store that ignores the decision still takes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest

import kyc_webhooks as kw
from _postgres import postgres_store, sql
from _stores import STORES, FakeClock
from kyc_webhooks.decisions import Decision, ledger_entry
from kyc_webhooks.store import (
    Added,
    Claim,
    DecisionEntry,
    DecisionTicket,
    MemoryStore,
    NewDelivery,
    _runner,
)
from kyc_webhooks.testing import Delivery, signed_delivery

KEY = "fold-signing-key"
S = kw.DecisionStatus


def idenfy(event_type: str, status: str, *, final: bool, scan_ref: str = "scan-fold") -> Delivery:
    return signed_delivery(
        "idenfy", event_type, KEY, status__overall=status, final=final, scanRef=scan_ref
    )


AUTO = idenfy("IDENTIFICATION_AUTO_FINISHED", "SUSPECTED", final=False)
MANUAL = idenfy("IDENTIFICATION_MANUAL_FINISHED", "APPROVED", final=True)
LATER = idenfy("IDENTIFICATION_RESUBMITTED", "DENIED", final=True)


class Counting(MemoryStore):
    """A MemoryStore that counts its begin_decision calls (it takes the lease in add)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.begun = 0

    def begin_decision(
        self, claim: Claim, entry: DecisionEntry, *, lease: float
    ) -> DecisionTicket | None:
        self.begun += 1
        return super().begin_decision(claim, entry, lease=lease)


class Ignoring(Counting):
    """A store that ignores ``add(decision=...)``, as the protocol allows: the runner then takes
    the subject lease with begin_decision."""

    def add(
        self, delivery: NewDelivery, *, lease: float | None = None, decision: Decision | None = None
    ) -> Added:
        return super().add(delivery, lease=lease)


class Recorder:
    def __init__(self, store: kw.Store, *, failing: bool = False) -> None:
        self.receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, lease_timeout=60)
        self.events: list[str] = []
        self.decisions: list[tuple[S, bool]] = []
        self.failing = failing

        @self.receiver.on("idenfy")
        def on_event(event: kw.WebhookEvent) -> None:
            self.events.append(event.event_type)
            if self.failing:
                raise ValueError("handler failed for Jane Doe")

        @self.receiver.on_decision()
        def on_decision(decision: kw.Decision) -> None:
            self.decisions.append((decision.status, decision.final))


def _scenario(store: Counting, clock: FakeClock, *, mode: str) -> list[Any]:
    """A verification's life through one receiver: new verdicts, a redelivery, a busy subject and
    its retry, a failing handler, a stale event. Returns everything observable, with the random
    ids replaced by their order of appearance."""
    recorder = Recorder(store)
    failing = Recorder(store, failing=True)

    def handle(receiver: kw.Receiver, delivery: Delivery) -> kw.Outcome:
        if mode == "sync":
            return receiver.handle(*delivery)
        return asyncio.run(receiver.handle_async(*delivery))

    outcomes = [handle(recorder.receiver, AUTO)]
    clock.advance(1)
    outcomes.append(handle(recorder.receiver, MANUAL))
    clock.advance(1)
    outcomes.append(handle(recorder.receiver, AUTO))  # a redelivery: duplicate
    # Another worker holds the subject: the next delivery of the verification waits.
    holder = store.add(NewDelivery("holder", "idenfy", "T", b"{}"), lease=60).claim
    assert holder is not None
    decision = recorder.receiver.parse(*LATER).decision
    assert decision is not None
    ticket = store.begin_decision(holder, ledger_entry(decision, holder.record), lease=60)
    assert ticket is not None
    clock.advance(1)
    outcomes.append(handle(recorder.receiver, LATER))
    store.abort_decision(ticket)
    assert store.complete(holder)
    clock.advance(3)
    outcomes.append(handle(failing.receiver, LATER))  # the handler fails: 500, nothing recorded
    clock.advance(60)
    outcomes.append(handle(recorder.receiver, LATER))  # the vendor's retry
    clock.advance(1)
    outcomes.append(handle(recorder.receiver, MANUAL))  # stale now: a duplicate anyway
    records = store.deliveries(limit=100)
    effective = store.effective_decision("idenfy", "scan-fold")
    assert effective is not None
    ids = {record.id: f"id-{n}" for n, record in enumerate(records)}
    return [
        [
            (o.status_code, o.retry_after, o.duplicate, o.handled, ids.get(o.delivery_id or ""))
            for o in outcomes
        ],
        [
            (
                ids[r.id],
                r.state,
                r.attempts,
                r.lease_until,
                r.not_before,
                r.last_error_type,
                r.last_error_message,
            )
            for r in records
        ],
        (effective.status, effective.final, ids[effective.delivery_id], effective.received_at),
        recorder.events,
        failing.events,
        recorder.decisions + failing.decisions,
        recorder.receiver.stats(),
    ]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_store_that_folds_behaves_as_one_that_ignores_the_decision(
    mode: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Statements and calls are counted: a busy subject is answered at once, without the wait in
    # the request that tries begin_decision again (tests/test_subject_wait.py).
    monkeypatch.setattr(_runner, "SUBJECT_WAIT", 0.0)
    seen: dict[str, tuple[list[Any], list[str]]] = {}
    for kind in (Counting, Ignoring):
        clock = FakeClock()
        store = kind(clock)
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="kyc_webhooks"):
            observed = _scenario(store, clock, mode=mode)
        order: dict[str, str] = {}

        def stable(text: str, order: dict[str, str] = order) -> str:
            return re.sub(
                r"[0-9a-f]{32}", lambda m: order.setdefault(m.group(), f"id-{len(order)}"), text
            )

        seen[kind.__name__] = (observed, [stable(r.getMessage()) for r in caplog.records])
        # The folding store never needed begin_decision for a delivery that just arrived; the
        # one that ignores the decision took each subject lease with it (the scenario's own
        # holder aside).
        begun = store.begun - 1
        assert begun == (0 if kind is Counting else 5)
    (folded, folded_logs), (two_step, two_step_logs) = seen["Counting"], seen["Ignoring"]
    for part, (mine, theirs) in enumerate(zip(folded, two_step, strict=True)):
        assert mine == theirs, part
    assert folded_logs == two_step_logs
    outcomes = seen["Counting"][0][0]
    assert [o[0] for o in outcomes] == [200, 200, 200, 503, 500, 200, 200]
    assert seen["Counting"][0][5] == [(S.REVIEW, False), (S.APPROVED, True), (S.DECLINED, True)]


def test_a_failing_decision_mapping_is_a_handler_failure_after_the_claim(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A vendor's mapping that raises: as before the fold, the delivery is claimed, nothing runs,
    # 500, and the record fails (retried later); no subject lease is left behind.
    store = Counting(FakeClock())
    recorder = Recorder(store)

    def broken(event: kw.WebhookEvent) -> Decision | None:
        raise LookupError("mapping failed on Jane Doe")

    monkeypatch.setattr(kw.WebhookEvent, "decision", property(broken))
    outcome = recorder.receiver.handle(*MANUAL)
    assert outcome.status_code == 500
    assert isinstance(outcome.error, kw.HandlerError)
    assert recorder.events == []
    (record,) = store.deliveries()
    assert (record.state, record.attempts, record.last_error_type) == (
        kw.DeliveryState.FAILED,
        1,
        "LookupError",
    )
    monkeypatch.undo()
    other = store.add(NewDelivery("other", "idenfy", "T", b"{}"), lease=60).claim
    assert other is not None
    decision = recorder.receiver.parse(*MANUAL).decision
    assert decision is not None
    assert store.begin_decision(other, ledger_entry(decision, other.record), lease=60)


class GatedStore(Counting):
    """A blocking store (run in a worker thread under async code) whose ``add`` waits until the
    test lets it finish."""

    blocking = True

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.entered, self.proceed, self.finished = (
            threading.Event(),
            threading.Event(),
            threading.Event(),
        )

    def add(
        self, delivery: NewDelivery, *, lease: float | None = None, decision: Decision | None = None
    ) -> Added:
        self.entered.set()
        self.proceed.wait(30)
        try:
            return super().add(delivery, lease=lease, decision=decision)
        finally:
            self.finished.set()


def test_a_cancelled_add_releases_the_subject_lease_it_took() -> None:
    clock = FakeClock()
    store = GatedStore(clock)
    recorder = Recorder(store)

    async def main() -> None:
        task = asyncio.ensure_future(recorder.receiver.handle_async(*MANUAL))
        assert await asyncio.to_thread(store.entered.wait, 30)
        task.cancel()  # the client went away while the worker thread stored the delivery
        store.proceed.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.to_thread(store.finished.wait, 30)

    asyncio.run(main())
    assert recorder.events == []
    (record,) = store.deliveries()
    assert (record.state, record.last_error_type) == (kw.DeliveryState.FAILED, "CancelledError")
    # The vendor's retry is not held up by the subject lease the cancelled add took.
    retry = asyncio.run(recorder.receiver.handle_async(*MANUAL))
    assert (retry.status_code, retry.handled) == (200, 2)
    assert recorder.decisions == [(S.APPROVED, True)]


class GatedAbort(GatedStore):
    """A GatedStore whose ``abort_decision`` also waits until the test lets it finish."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.aborting, self.abort_proceed = threading.Event(), threading.Event()

    def abort_decision(self, ticket: DecisionTicket, *, failed: bool = False) -> None:
        self.aborting.set()
        self.abort_proceed.wait(30)
        super().abort_decision(ticket, failed=failed)


def test_a_second_cancellation_does_not_stop_the_release_of_an_abandoned_add() -> None:
    clock = FakeClock()
    store = GatedAbort(clock)
    recorder = Recorder(store)

    async def main() -> None:
        task = asyncio.ensure_future(recorder.receiver.handle_async(*MANUAL))
        assert await asyncio.to_thread(store.entered.wait, 30)
        task.cancel()  # the client went away while the worker thread stored the delivery
        store.proceed.set()
        assert await asyncio.to_thread(store.aborting.wait, 30)
        task.cancel()  # and the server shuts down while the release runs
        store.abort_proceed.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(300):  # the release goes on in a worker thread: wait for it (<= 3 s)
            if store.deliveries()[0].state is not kw.DeliveryState.PROCESSING:
                break
            await asyncio.sleep(0.01)

    asyncio.run(main())
    (record,) = store.deliveries()
    # Was: the claim stayed held (processing, under its lease) after the second cancellation.
    assert (record.state, record.last_error_type) == (kw.DeliveryState.FAILED, "CancelledError")
    retry = asyncio.run(recorder.receiver.handle_async(*MANUAL))
    assert (retry.status_code, retry.handled) == (200, 2)


# -- PostgreSQL: statements and commits per delivery ---------------------------------------------


@contextlib.contextmanager
def counted_store() -> Iterator[tuple[kw.PostgresStore, list[tuple[str, bool]]]]:
    """A PostgresStore in a schema of its own over a pool whose connections note every statement
    on that schema and whether its transaction wrote (was given a transaction id: its commit
    waits for the WAL flush). Counted on the client, per connection: other tests running on the
    same server change nothing."""
    from psycopg.pq import TransactionStatus

    from _postgres import new_schema, watched_pool

    schema = new_schema()
    statements: list[tuple[str, bool]] = []

    def count(conn: Any, text: str, params: Any, run: Callable[[], Any]) -> Any:
        # The statement's own autocommit transaction, made explicit so that whether it wrote
        # can be asked before it commits.
        idle = conn.info.transaction_status == TransactionStatus.IDLE
        with conn.transaction() if idle else contextlib.nullcontext():
            cursor = run()
            row = conn.execute("SELECT pg_current_xact_id_if_assigned()").fetchone()
            assert row is not None
        statements.append((" ".join(text.replace(f"{schema}.", "").split()), row[0] is not None))
        return cursor

    try:
        with watched_pool(schema, count) as pool, kw.PostgresStore(pool, schema=schema) as store:
            store.migrate()
            statements.clear()
            yield store, statements
    finally:
        sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_new_verdict_delivery_costs_postgres_two_commits_and_three_statements(
    mode: str,
) -> None:
    with counted_store() as (store, statements):
        recorder = Recorder(store)

        def handle(delivery: Delivery) -> kw.Outcome:
            if mode == "sync":
                return recorder.receiver.handle(*delivery)
            return asyncio.run(recorder.receiver.handle_async(*delivery))

        assert handle(MANUAL).status_code == 200
        # The duplicate check (a read), the insert with its claim and the subject lease (one
        # statement), the completion with the ledger entry: two commits that wait for the flush,
        # where the floor (an INSERT, an UPDATE) has two as well. Before: four statements and
        # three such commits (the subject lease was a statement of its own).
        assert [wrote for _, wrote in statements] == [False, True, True]
        assert "lease AS (INSERT INTO decisions" in statements[1][0]
        assert recorder.decisions == [(S.APPROVED, True)]
        statements.clear()
        # A redelivery: one read, no write, no commit to wait for.
        assert handle(MANUAL).duplicate
        assert [wrote for _, wrote in statements] == [False]
        statements.clear()
        # A later verdict of the same verification: the same two commits, and the change recorded.
        assert handle(LATER).status_code == 200
        assert [wrote for _, wrote in statements] == [False, True, True]
        assert recorder.decisions == [(S.APPROVED, True), (S.DECLINED, True)]
        latest = recorder.receiver.decisions.latest("idenfy", "scan-fold")
        assert latest is not None
        assert latest.status is S.DECLINED


def test_postgres_answers_a_busy_subject_in_the_claiming_statement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_runner, "SUBJECT_WAIT", 0.0)  # no wait in the request: one try
    with counted_store() as (store, statements):
        recorder = Recorder(store)
        holder = store.add(NewDelivery("holder", "idenfy", "T", b"{}"), lease=60).claim
        assert holder is not None
        decision = recorder.receiver.parse(*LATER).decision
        assert decision is not None
        ticket = store.begin_decision(holder, ledger_entry(decision, holder.record), lease=60)
        assert ticket is not None
        statements.clear()
        busy = recorder.receiver.handle(*MANUAL)
        assert (busy.status_code, busy.retry_after) == (503, 2)
        assert recorder.events == []
        # The read, the claim that found the subject busy, the release of the claim: no
        # begin_decision statement.
        assert len(statements) == 3
        assert statements[2][0].startswith("UPDATE deliveries SET state = CASE")
        (record,) = [r for r in store.deliveries() if r.id != holder.record.id]
        assert record.state is kw.DeliveryState.FAILED
        assert record.last_error_type == "DeliveryInProgressError"


# -- misuse and a malformed ledger row: the same answers as without the fold ----------------------


@contextlib.contextmanager
def _kind(kind: str, tmp_path: Any, clock: FakeClock) -> Iterator[kw.Store]:
    if kind == "postgres":
        with postgres_store(clock) as made:
            yield made
        return
    tmp_path.mkdir(exist_ok=True)
    made = STORES[kind](tmp_path, clock)
    try:
        yield made
    finally:
        made.close()


class DropsDecision:
    """Any store, ignoring ``add(decision=...)`` (the runner then calls begin_decision)."""

    def __init__(self, store: kw.Store) -> None:
        self.store = store
        self.blocking = store.blocking

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def add(
        self, delivery: NewDelivery, *, lease: float | None = None, decision: Decision | None = None
    ) -> Added:
        return self.store.add(delivery, lease=lease)


@pytest.mark.parametrize("kind", ["memory", "sqlite", "postgres"])
def test_add_refuses_a_decision_that_is_not_one_and_stores_nothing(
    kind: str, tmp_path: Any, clock: FakeClock
) -> None:
    with _kind(kind, tmp_path, clock) as store:
        with pytest.raises(kw.UsageError, match="takes a Decision"):
            store.add(NewDelivery("k", "idenfy", "T", b"{}"), lease=60, decision="APPROVED")  # type: ignore[arg-type]
        assert store.get_by_key("k") is None


def _corrupt_ledger(store: kw.Store) -> None:
    """Make the stored decision of every subject undecodable (its reasons are not JSON)."""
    if isinstance(store, kw.PostgresStore):
        sql(f"UPDATE {store.schema}.decisions SET reasons = 'not json'")  # noqa: S608 -- a test schema
        return
    assert isinstance(store, kw.SQLiteStore)
    import sqlite3

    with contextlib.closing(sqlite3.connect(store.path)) as conn, conn:
        conn.execute("UPDATE kyc_webhooks_decisions SET reasons = 'not json'")


def _held_subject_leases(store: kw.Store) -> int:
    if isinstance(store, kw.PostgresStore):
        query = f"SELECT count(*) FROM {store.schema}.decisions WHERE lease_token IS NOT NULL"  # noqa: S608 -- a test schema
        return int(sql(query)[0][0])
    assert isinstance(store, kw.SQLiteStore)
    import sqlite3

    with contextlib.closing(sqlite3.connect(store.path)) as conn:
        query = "SELECT count(*) FROM kyc_webhooks_decisions WHERE lease_token IS NOT NULL"
        return int(conn.execute(query).fetchone()[0])


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_malformed_stored_decision_is_answered_as_without_the_fold(
    kind: str, tmp_path: Any, clock: FakeClock
) -> None:
    seen = []
    handled: list[str] = []
    for folding in (True, False):
        with _kind(kind, tmp_path / str(folding), clock) as store:
            first = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
            first.on("idenfy")(lambda event: None)
            assert first.handle(*AUTO).status_code == 200  # the subject's first decision
            _corrupt_ledger(store)
            used: Any = store if folding else DropsDecision(store)
            receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=used)
            handled.clear()
            receiver.on("idenfy")(lambda event: handled.append(event.event_type))
            outcome = receiver.handle(*MANUAL)
            record = store.get_by_key(outcome.delivery_key or "")
            assert record is not None
            seen.append(
                (
                    outcome.status_code,
                    type(outcome.error).__name__,
                    list(handled),
                    record.state,
                    record.lease_until,
                    record.last_error_type,
                    # was 1 on PostgreSQL: begin_decision committed the lease, then failed
                    _held_subject_leases(store),
                )
            )
    # Refused before any handler ran, and the claim released (was: the folding store kept the
    # record processing under its lease).
    assert seen[0] == seen[1]
    assert seen[0][0] == 503
    assert seen[0][2] == []
    assert seen[0][4] is None
    assert seen[0][6] == 0  # no subject lease left behind


@pytest.mark.parametrize("finished", [False, True], ids=["add-running", "add-finished"])
def test_the_release_of_an_abandoned_add_survives_the_end_of_the_event_loop(
    finished: bool,
) -> None:
    # A server shutting down: the request is cancelled and the loop ends right after. Was: the
    # release ran as a task of the loop, cancelled in turn, and the claim stayed held.
    clock = FakeClock()
    store = GatedStore(clock)
    recorder = Recorder(store)

    async def main() -> None:
        task = asyncio.ensure_future(recorder.receiver.handle_async(*MANUAL))
        assert await asyncio.to_thread(store.entered.wait, 30)
        if finished:
            # The add returns and hands its result over before the cancellation reaches the
            # request: the loop is blocked meanwhile (no await), so the request cannot resume
            # with the result first.
            store.proceed.set()
            assert store.finished.wait(30)
            time.sleep(0.05)  # the worker's hand-over right after add returned
        task.cancel()
        await asyncio.sleep(0)  # the request sees its cancellation
        store.proceed.set()
        # Return: asyncio.run cancels whatever is left of the loop's tasks and closes it.

    asyncio.run(main())
    (record,) = store.deliveries()
    assert (record.state, record.last_error_type) == (kw.DeliveryState.FAILED, "CancelledError")
    retry = asyncio.run(recorder.receiver.handle_async(*MANUAL))
    assert (retry.status_code, retry.handled) == (200, 2)


class Outdated(MemoryStore):
    """A custom store written before ``add`` took ``decision=``."""

    def add(self, delivery: NewDelivery, *, lease: float | None = None) -> Added:  # type: ignore[override]
        return super().add(delivery, lease=lease)


def test_a_store_whose_add_takes_no_decision_is_refused_when_the_receiver_is_built() -> None:
    # Was: accepted, then every delivery answered 503 (TypeError inside the store call).
    with pytest.raises(kw.ConfigurationError, match=r"Outdated\.add\(\) must accept .*decision="):
        kw.Receiver(kw.Idenfy(signing_key=KEY), store=Outdated())  # type: ignore[arg-type]
    # A store that takes any keyword (a wrapper) is fine, and so is one that ignores decision.
    kw.Receiver(kw.Idenfy(signing_key=KEY), store=DropsDecision(MemoryStore()))
    kw.Receiver(kw.Idenfy(signing_key=KEY), store=Ignoring(FakeClock()))
    # A decorated add that takes any keyword, around an add that does not: its own signature
    # counts, not the wrapped one's (functools.wraps sets __wrapped__).
    outdated = Outdated()

    @functools.wraps(outdated.add)
    def logged(*args: Any, **kwargs: Any) -> Added:
        kwargs.pop("decision", None)
        return outdated.add(*args, **kwargs)

    outdated.add = logged  # type: ignore[method-assign]
    kw.Receiver(kw.Idenfy(signing_key=KEY), store=outdated)  # type: ignore[arg-type]


class ThreadSensitive(GatedStore):
    """A blocking store with a ``run_blocking`` of its own, as DjangoStore has: every call runs in
    one worker thread of the store's, in turn, and a call cancelled before that thread started it
    is dropped (as asgiref's ``sync_to_async(thread_sensitive=True)`` drops it). Its ``add``
    queues another request's work behind itself, which holds that thread until the test lets it
    go."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.executor = ThreadPoolExecutor(max_workers=1)
        self.busy, self.unblock = threading.Event(), threading.Event()
        self.worker: int | None = None
        self.added_in: list[int] = []
        self.failed_in: list[int] = []

    async def run_blocking(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        call = functools.partial(func, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self.executor, call)

    def add(
        self, delivery: NewDelivery, *, lease: float | None = None, decision: Decision | None = None
    ) -> Added:
        self.added_in.append(threading.get_ident())
        added = super().add(delivery, lease=lease, decision=decision)
        if len(self.added_in) == 1:
            self.executor.submit(self._other_request)
        return added

    def _other_request(self) -> None:
        self.worker = threading.get_ident()
        self.busy.set()
        self.unblock.wait(30)

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


@pytest.mark.parametrize("steps", [1, 3], ids=["before-run_blocking", "queued-in-run_blocking"])
def test_an_abandoned_add_of_a_run_blocking_store_is_released_when_the_loop_ends(
    steps: int,
) -> None:
    # The add ran through the store's run_blocking and handed its result over; the request is
    # cancelled before it resumes, and the loop ends right after: run_blocking's thread is busy,
    # so the release given to it is dropped with the loop's tasks. A thread of its own releases.
    clock = FakeClock()
    store = ThreadSensitive(clock)
    recorder = Recorder(store)

    async def main() -> None:
        task = asyncio.ensure_future(recorder.receiver.handle_async(*MANUAL))
        assert await asyncio.to_thread(store.entered.wait, 30)
        store.proceed.set()
        # The other request's work started: the add returned and handed its result over. The
        # loop is blocked meanwhile (no await), so the request cannot resume with it first.
        assert store.busy.wait(30)
        task.cancel()
        for _ in range(steps):  # the request sees its cancellation, and hands the release on
            await asyncio.sleep(0)
        # Return: asyncio.run cancels whatever is left of the loop's tasks and closes it.

    try:
        asyncio.run(main())
        store.unblock.set()
        for _ in range(300):  # the release goes on in a thread of its own: wait for it (<= 3 s)
            if store.deliveries()[0].state is not kw.DeliveryState.PROCESSING:
                break
            time.sleep(0.01)
        (record,) = store.deliveries()
        assert (record.state, record.last_error_type) == (kw.DeliveryState.FAILED, "CancelledError")
        assert store.added_in == [store.worker]  # the add went through run_blocking
        retry = asyncio.run(recorder.receiver.handle_async(*MANUAL))
        assert (retry.status_code, retry.handled) == (200, 2)
    finally:
        store.unblock.set()
        store.executor.shutdown()
    assert len(store.failed_in) == 1  # released once, not by the dropped call as well
    assert store.failed_in[0] != store.worker


@contextlib.contextmanager
def losing_store(lost: int) -> Iterator[kw.PostgresStore]:
    """A PostgresStore in a schema of its own over a pool whose connection loses its server (its
    backend terminated, as in a failover or a network cut) right before each of the first
    ``lost`` releases of a subject lease it sends."""
    from _postgres import new_schema, watched_pool

    schema = new_schema()
    left = [lost]

    def lose(conn: Any, text: str, params: Any, run: Callable[[], Any]) -> Any:
        release = f"{schema}.decisions" in text and "WITH gone AS" in text
        if release and left[0] > 0:
            left[0] -= 1
            sql("SELECT pg_terminate_backend(%s, 5000)", conn.info.backend_pid)
        return run()

    try:
        with watched_pool(schema, lose) as pool, kw.PostgresStore(pool, schema=schema) as store:
            store.migrate()
            yield store
        assert left == [0]  # every loss happened
    finally:
        sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.mark.parametrize("lost", [1, 2], ids=["lost-once", "lost-twice"])
def test_postgres_add_whose_lease_release_loses_the_connection_leaves_the_claim_free(
    lost: int,
) -> None:
    # The subject's stored decision does not decode, so the folded add gives the subject lease
    # back; the connection is lost right before that release. Was: the whole add ran again on
    # another connection, found the record claimed by its first run and answered "in progress":
    # the claim and the subject lease stayed held until they expired, nothing handled.
    with losing_store(lost) as store:
        first = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
        first.on("idenfy")(lambda event: None)
        assert first.handle(*AUTO).status_code == 200  # the subject's first decision
        _corrupt_ledger(store)
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
        handled: list[str] = []
        receiver.on("idenfy")(lambda event: handled.append(event.event_type))
        outcome = receiver.handle(*MANUAL)
        assert outcome.status_code == 503
        assert handled == []
        record = store.get_by_key(outcome.delivery_key or "")
        assert record is not None
        # The claim is released either way: the add answered as a store that does not fold.
        assert (record.state, record.lease_until) == (kw.DeliveryState.FAILED, None)
        if lost == 1:  # the release was sent again on another connection
            assert isinstance(outcome.error, kw.StoreError)  # begin_decision: the malformed entry
            assert _held_subject_leases(store) == 0
        else:  # lost again: the subject lease expires on its own; the claim gave way meanwhile
            assert record.last_error_type == "DeliveryInProgressError"
            assert _held_subject_leases(store) == 1


def test_postgres_begin_decision_whose_lease_release_loses_the_connection_gives_it_back() -> None:
    # The two-step path (add, then begin_decision) with the same malformed stored decision and
    # the connection lost before begin_decision gives the lease back. Was: begin_decision ran
    # again on another connection, found the subject leased by its first run (busy), and the
    # subject lease stayed held until it expired.
    with losing_store(1) as store:
        first = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
        first.on("idenfy")(lambda event: None)
        assert first.handle(*AUTO).status_code == 200
        _corrupt_ledger(store)
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=DropsDecision(store))
        receiver.on("idenfy")(lambda event: None)
        outcome = receiver.handle(*MANUAL)
        assert outcome.status_code == 503
        assert isinstance(outcome.error, kw.StoreError)
        record = store.get_by_key(outcome.delivery_key or "")
        assert record is not None
        assert (record.state, record.lease_until) == (kw.DeliveryState.FAILED, None)
        assert _held_subject_leases(store) == 0
