"""The store runner: how a receiver with a ``store`` runs handlers at most once to success per
event (docs/delivery-guarantees.md). It talks to the store only through the :class:`Store`
protocol, so that any store (memory, SQLite, PostgreSQL, the Django ORM) plugs in here without
touching the receiver.

For each authenticated delivery: ``add`` it under its ``delivery_key`` (what is stored, and what
is redacted first: :meth:`StoreRunner.new_delivery`) -> answer early when the handlers must not
run now (deferred, duplicate, in progress) -> take the decision ledger's subject lease when the
event carries a decision (``add`` is given the decision, and a store may take the lease in that
same step; else ``begin_decision``) -> run the handlers -> ``complete`` the claim (with the
ledger ticket), or ``fail`` it with a back-off. ``process_pending``, ``process`` and ``replay``
claim stored deliveries and run the same steps on the stored body, parsed again. From async code
a blocking store runs through its ``run_blocking`` coroutine function where it has one, else in a
worker thread; a call that takes a claim or a subject lease (``add``, ``claim``, ``claim_next``,
``begin_decision``) is shielded, and what it took is given back when the request is cancelled,
as an attempt that does not count (no handler ran); a release (subject lease and claim, one job),
and the completion of a claim whose handlers ran, run to their end whatever cancellation follows,
even when the event loop ends.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import inspect
import logging
import math
import random
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from .._headers import Headers
from .._redaction import redact_fields
from .._registry import vendor_class
from .._vendor import Vendor, parse_unauthenticated
from ..decisions import Decision, ledger_entry
from ..errors import (
    BodyErasedError,
    ConfigurationError,
    DeliveryError,
    DeliveryNotFoundError,
    StoreError,
    UsageError,
    WebhookError,
)
from ..outcome import (
    STORE_UNAVAILABLE_DETAIL,
    Outcome,
    ProcessSummary,
    Tally,
    handler_failure,
    log_interrupted,
    qualified_name,
)
from ._base import (
    BODY_ERASED,
    BODY_ERASED_MESSAGE,
    Claim,
    DecisionTicket,
    DeliveryRecord,
    DeliveryState,
    NewDelivery,
    Store,
)

if TYPE_CHECKING:
    from ..models import WebhookEvent
    from ..routing import Router
    from ._base import Added

__all__ = [
    "DEFAULT_LEASE_TIMEOUT",
    "DEFAULT_MAX_ATTEMPTS",
    "STORE_RETRY_AFTER",
    "StoreRunner",
    "storable_body",
]

logger = logging.getLogger("kyc_webhooks")
_T = TypeVar("_T")
_P = TypeVar("_P")

#: Seconds a claim on a stored delivery lasts. Longer than any handler should run; short enough
#: that the event of a crashed worker is picked up again at one of the vendor's next retries.
DEFAULT_LEASE_TIMEOUT = 60.0
#: Attempts ``process_pending`` makes per stored delivery before leaving it ``failed``.
DEFAULT_MAX_ATTEMPTS = 8
#: Back-off of ``process_pending`` after a failed attempt n: min(30 s * 2**(n-1), 1 h).
RETRY_BACKOFF_BASE = 30.0
RETRY_BACKOFF_MAX = 3600.0
#: Seconds after which a delivery retries when another delivery of the same verification holds
#: the subject lease of the decision ledger (its handlers run now; docs/decisions.md).
SUBJECT_BUSY_RETRY = 2
#: Seconds a delivery waits in its request (``handle``, ``handle_async``; not a worker's claim,
#: which the next sweep retries) for the subject lease that another delivery of the
#: same verification holds (its handlers run now, usually for milliseconds: ComplyCube sends
#: ``check.completed`` and ``check.completed.<outcome>`` together, Yoti several topics) before it
#: is answered 503 and retried after :data:`SUBJECT_BUSY_RETRY`. Tries after pauses of about
#: 10 ms, doubling up to :data:`SUBJECT_PAUSE_MAX`, each drawn at random between half and all of
#: that (deliveries that arrived together do not all try at the same moments, when only one can
#: win), none once that time has passed (by the clock: slow tries count). Yoti and Identomat
#: document no redelivery, and every 503 counts towards ComplyCube disabling the endpoint.
SUBJECT_WAIT = 1.0
#: The longest pause between two tries of a busy subject lease (seconds).
SUBJECT_PAUSE_MAX = 0.1
#: ``Retry-After`` (seconds) of the 503 answered when the store fails: long enough for a database
#: failover or restart, short enough that a client honouring it comes back soon.
STORE_RETRY_AFTER = 10

#: Headers never stored, whatever the vendor (credentials and session state).
_NEVER_STORED = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
#: Header names that may carry a credential of someone else's (an API gateway's ``X-Api-Key``,
#: a proxy's ``X-Auth-Token``, a session id): stored with the value ``<redacted>``, so that the
#: inbox shows the header was there and holds no secret (review R40).
_CREDENTIAL_NAME = re.compile(
    r"auth|token|secret|key|passw|cookie|session|credential|jwt|assertion|oidc"
)
_REDACTED_VALUE = "<redacted>"
#: The releases and completions under way through a store's ``run_blocking``.
_RELEASING: set[Any] = set()
#: What the store records when a delivery gave way to another one of the same verification.
_BUSY = ("DeliveryInProgressError", "another delivery of the same verification held it")
#: What the store records when the request that took a claim was abandoned (cancelled).
_CANCELLED = ("CancelledError", "handling interrupted (CancelledError)")
_ERASED = (BODY_ERASED, BODY_ERASED_MESSAGE)


def storable_body(vendor: str, body: bytes) -> bytes:
    """The copy of an authenticated body that goes into a store: byte-exact, except that the string
    value of a credential field inside the body (Identomat's ``callbackApiKey``) is replaced by
    ``"<redacted>"``, so that the store never holds a secret that could forge deliveries."""
    fields = vendor_class(vendor).credential_fields
    return redact_fields(body, fields) if fields else body


class StoreRunner:
    """Runs the handlers of stored deliveries for one receiver.

    ``vendors``: the receiver's configured vendors by name (stored deliveries of other vendors are
    not claimed); ``router``: its handlers; ``tally``: where every outcome is counted and logged;
    ``defer``: store and answer 202 without running handlers; ``lease_timeout``: seconds a claim
    lasts."""

    def __init__(
        self,
        store: Store,
        *,
        vendors: Mapping[str, Vendor],
        router: Router,
        tally: Tally,
        defer: bool,
        lease_timeout: float,
    ) -> None:
        _check_store_keywords(store)
        self.store = store
        # A store written before abort_decision(failed=...) existed is called as before: the
        # entry of a delivery whose handlers failed is then not recorded until its retry.
        self._abort_records = bool(_accepts_keyword(store, "abort_decision", "failed"))
        self.vendors = vendors
        self.router = router
        self.tally = tally
        self.defer = defer
        self.lease_timeout = lease_timeout
        # The store calls under way that must outlive the request that started them (a claim
        # given back, a release, a completion): what drain() waits for.
        self._unfinished: set[Any] = set()

    def _track(self, pending: _P) -> _P:
        """``pending`` (a future or task of the running event loop) is waited for by
        :meth:`drain` until it is done."""
        self._unfinished.add(pending)
        cast(Any, pending).add_done_callback(self._unfinished.discard)
        return pending

    async def drain(self, timeout: float) -> int:
        """Wait, at most ``timeout`` seconds, for the store calls of this event loop that
        outlive their requests -- claims and subject leases given back for cancelled requests,
        releases after failed handlers, completions of handlers that ran -- and return how many
        are still under way. For the end of an application: a server that cancels the requests
        in flight (uvicorn's graceful-shutdown timeout) and then exits would otherwise end them
        too, leaving records ``processing`` until their lease expires -- and run the handlers of
        a completed request again."""
        import asyncio

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            # Again after each wait: a job that ends may start the next one (a native claim
            # that arrives after its request was cancelled is given back in a new job).
            await asyncio.sleep(0)  # the done callbacks of what just ended run first
            pending = [f for f in list(self._unfinished) if not f.done() and f.get_loop() is loop]
            left = deadline - loop.time()
            if not pending or left <= 0:
                return len(pending)
            await asyncio.wait(pending, timeout=left)

    # -- a delivery that just arrived ------------------------------------------------------

    def handle(
        self,
        event: WebhookEvent,
        headers: Headers,
        on_deferred: Callable[[str], object] | None,
    ) -> Outcome:
        """Store the authenticated ``event`` and run its handlers (unless deferred, a duplicate,
        or in progress elsewhere). ``on_deferred`` is called with the id of a newly deferred
        delivery; an awaitable it returns cannot be awaited here (logged as a failure)."""
        store = self.store
        decided, decision = self._decision_for_add(event)
        try:
            added = store.add(
                self.new_delivery(event, headers), lease=self._add_lease(), decision=decision
            )
        except UsageError:
            raise
        except Exception as exc:  # StoreError, or anything else a store raises: 503, retry
            return self.tally.record(self._store_failed(event, exc))
        if _erased_redelivery(added):
            # Claimed by the redelivery: given back unchanged (failed, BodyErasedError, the
            # attempt not counted), subject lease included.
            assert added.claim is not None
            self._release_sync(added.claim, *_ERASED, ticket=added.ticket, count_attempt=False)
            return self.tally.record(Outcome.duplicate_of(added.record, event))
        early = self._without_dispatch(event, added)
        if early is not None:
            if on_deferred is not None and added.created and early.status_code == 202:
                _notify_deferred(on_deferred, added.record.id, awaiting=False)
            return self.tally.record(early)
        claim = added.claim
        assert claim is not None  # _without_dispatch answered every unclaimed case
        if not decided:  # event.decision raises again after the claim, as a handler failure
            return self._dispatch_sync(event, claim)
        return self._dispatch_sync(event, claim, (decision, added))

    async def handle_async(
        self,
        event: WebhookEvent,
        headers: Headers,
        on_deferred: Callable[[str], object] | None,
    ) -> Outcome:
        """Like :meth:`handle`, awaiting async handlers and an awaitable ``on_deferred`` result."""
        decided, decision = self._decision_for_add(event)
        try:
            added = await self._add_async(self.new_delivery(event, headers), decision)
        except UsageError:
            raise
        except Exception as exc:  # StoreError, or anything else a store raises: 503, retry
            return self.tally.record(self._store_failed(event, exc))
        if _erased_redelivery(added):  # as in :meth:`handle`
            assert added.claim is not None
            await self._release_async(
                added.claim, *_ERASED, ticket=added.ticket, count_attempt=False
            )
            return self.tally.record(Outcome.duplicate_of(added.record, event))
        if self._held_elsewhere(added):
            # The Retry-After reads the store's clock: a query on PostgreSQL, never on the loop.
            early: Outcome | None = await self._in_progress_async(added.record, event)
        else:
            early = self._without_dispatch(event, added)
        if early is not None:
            if on_deferred is not None and added.created and early.status_code == 202:
                pending = _notify_deferred(on_deferred, added.record.id, awaiting=True)
                if pending is not None:
                    import asyncio

                    # Tracked: drain() waits for a hand-off still running after the 202. Its
                    # failure is logged when it ends, however this request ends (review R57).
                    running = self._track(asyncio.ensure_future(pending))
                    running.add_done_callback(functools.partial(_deferred_ended, added.record.id))
                    await _await_deferred(running, added.record.id)
            return self.tally.record(early)
        claim = added.claim
        assert claim is not None  # _without_dispatch answered every unclaimed case
        if not decided:  # event.decision raises again after the claim, as a handler failure
            return await self._dispatch_async(event, claim)
        return await self._dispatch_async(event, claim, (decision, added))

    def new_delivery(self, event: WebhookEvent, headers: Headers) -> NewDelivery:
        """What the store keeps of a delivery: the body with credential fields redacted, and the
        headers without the vendor's authentication headers and :data:`_NEVER_STORED`."""
        vendor = self.vendors[event.vendor]  # the configured vendor that parsed it
        hidden = vendor.auth_headers | _NEVER_STORED
        return NewDelivery(
            delivery_key=event.delivery_key,
            vendor=event.vendor,
            event_type=event.event_type or "-",
            body=storable_body(vendor.name, event.raw_body),
            headers=tuple(
                (
                    _storable_text(n),
                    _REDACTED_VALUE if _CREDENTIAL_NAME.search(n) else _storable_text(v),
                )
                for n, v in headers.multi_items()
                if n not in hidden
            ),
        )

    def _add_lease(self) -> float | None:
        return None if self.defer else self.lease_timeout

    def _decision_for_add(self, event: WebhookEvent) -> tuple[bool, Decision | None]:
        """``(decided, decision)``: the verdict ``event`` carries, handed to ``store.add`` so that
        a store may take the subject lease in the claiming step. ``decided`` is false when
        computing it raised (a vendor's mapping failed): the store then gets no decision and the
        error is raised again after the claim, where a handler's failure would be. Deferred
        deliveries are not claimed: no decision."""
        if self.defer:
            return True, None
        try:
            return True, event.decision
        except Exception:
            return False, None

    def _without_dispatch(self, event: WebhookEvent, added: Added) -> Outcome | None:
        """The outcome when the handlers must not run for this request, else ``None``."""
        record = added.record
        if self.defer:
            if added.created:
                return Outcome.deferred(event, record)
            if record.done:
                return Outcome.duplicate_of(record, event)
            return Outcome.deferred(event, record, duplicate=True)
        if added.claim is not None:
            return None
        if record.done:
            return Outcome.duplicate_of(record, event)
        return self._in_progress(record, event)

    def _held_elsewhere(self, added: Added) -> bool:
        """Whether :meth:`_without_dispatch` answers "in progress" -- the one answer that reads
        the store's clock (async code asks it off the event loop)."""
        return not self.defer and added.claim is None and not added.record.done

    async def _add_async(self, delivery: NewDelivery, decision: Decision | None) -> Added:
        """``store.add`` from async code, through :meth:`_holding`: a cancelled request releases
        the claim it took (and the subject lease) -- else the record would stay blocked for
        ``lease_timeout``."""
        store = self.store
        lease = self._add_lease()
        return await self._holding(
            lambda: store.add(delivery, lease=lease, decision=decision),
            self._release_abandoned,
            lambda native: native.add_async(delivery, lease=lease, decision=decision),
        )

    async def _holding(
        self,
        take: Callable[[], _T],
        give_back: Callable[[_T], None],
        native: Callable[[Any], Awaitable[_T]] | None = None,
    ) -> _T:
        """``take()`` -- a store call whose result holds something: a claim, a subject lease --
        from async code. A blocking store's call runs where :func:`_call` runs the store's other
        calls (its ``run_blocking`` coroutine function where it has one: the Django store's ORM
        in Django's thread-sensitive thread, whose connections Django closes with the request;
        else a worker thread). A cancellation (client gone, server timeout or shutdown) cannot
        stop that thread: it may still take what it was asked to. So the call is shielded, and
        when the request is abandoned ``give_back`` gets the result -- in the thread itself when
        the call was still running (:class:`_Handoff`), else through :meth:`_release_later`,
        which the end of the event loop does not cancel.

        ``native(store)``: the same call on the store's own async connections, used when the
        store runs them on this event loop (:func:`_native`: ``PostgresStore.open_async``): a
        task, shielded likewise, whose result is given back when the request was abandoned."""
        store = self.store
        if not store.blocking:
            return take()
        import asyncio

        if native is not None and _native(store):
            pending = self._track(asyncio.ensure_future(native(store)))
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                pending.add_done_callback(functools.partial(self._give_back_taken, give_back))
                raise

        handoff: _Handoff[_T] = _Handoff()

        def run() -> _T:
            taken = take()
            if not handoff.deliver(taken):  # the request was abandoned meanwhile
                give_back(taken)
            return taken

        task = self._track(asyncio.ensure_future(_call(store, run)))
        try:
            result: _T = await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(_retrieve)  # its outcome is handled here or in the thread
            handed = handoff.abandon()
            if handed is not None:  # the thread handed it over before the cancellation
                self._release_later(_Once(functools.partial(give_back, handed)))
            raise
        return result

    def _give_back_taken(self, give_back: Callable[[_T], None], pending: Any) -> None:
        """Done callback of an abandoned native call of :meth:`_holding`: what it took goes
        back (in a worker thread: :meth:`_release_later`). Cancelled itself -- the event loop
        ending --, or failed: it took nothing known; a claim it may have committed expires with
        its lease, as one of a process that died."""
        if pending.cancelled() or pending.exception() is not None:
            return
        self._release_later(_Once(functools.partial(give_back, pending.result())))

    def _release_later(self, release: _Once) -> Awaitable[Any]:
        """Run ``release`` (it gives back a claim or a subject lease, or completes a claim whose
        handlers ran: :meth:`_to_the_end`) in a way that outlives the request and the event
        loop; the awaitable says when it ran (await it shielded). A store
        without ``run_blocking``: in the loop's default executor, which ``asyncio.run`` waits for
        when the loop ends. A store with ``run_blocking``: through it (the Django ORM in its own
        thread); but a task of the loop is cancelled when the loop ends, and ``run_blocking``
        may drop work that has not started yet (asgiref's ``sync_to_async`` does), or refuse it
        (an executor already shut down): then, and only then, a thread of its own runs the
        release (:class:`_Once`: never twice)."""
        import asyncio

        run_blocking = getattr(self.store, "run_blocking", None)
        if run_blocking is None:
            # The loop's default executor is waited for when the loop ends (asyncio.run); in the
            # caller's context variables, as the store's other calls run (_call).
            return self._track(_in_a_worker_thread(release))

        def fallback(task: Any) -> None:
            _retrieve(task)
            if release.take():  # run_blocking never started it
                threading.Thread(target=release.run, name="kyc-webhooks-release").start()

        task: asyncio.Future[Any] = self._track(asyncio.ensure_future(run_blocking(release)))
        _RELEASING.add(task)  # the loop keeps only a weak reference to its tasks
        task.add_done_callback(_RELEASING.discard)
        task.add_done_callback(fallback)
        return task

    def _release_abandoned(self, added: Added) -> None:
        """Release what an abandoned ``add`` took: its subject lease, then its claim -- not
        counted as an attempt, no handler ran."""
        if added.claim is not None:
            self._release_sync(added.claim, *_CANCELLED, ticket=added.ticket, count_attempt=False)

    def _release_abandoned_claim(self, claim: Claim | None) -> None:
        """Release a claim that ``claim``/``claim_next`` took for an abandoned request -- not
        counted as an attempt, no handler ran."""
        if claim is not None:
            self._release_sync(claim, *_CANCELLED, count_attempt=False)

    def _abort_abandoned(self, ticket: DecisionTicket | None) -> None:
        """Give back a subject lease that ``begin_decision`` took for an abandoned request (the
        request releases its claim itself)."""
        if ticket is not None:
            self._abort_sync(ticket)

    # -- stored deliveries: process_pending, process, replay -------------------------------

    def process_pending(self, limit: int, max_attempts: int) -> ProcessSummary:
        """Claim and handle up to ``limit`` stored deliveries that are due (see
        ``Receiver.process_pending``)."""
        store = self.store
        outcomes: list[Outcome] = []
        for _ in range(limit):
            claim = store.claim_next(
                lease=self.lease_timeout, max_attempts=max_attempts, vendors=tuple(self.vendors)
            )
            if claim is None:
                break
            outcomes.append(self._process_claim_sync(claim))
        return ProcessSummary(tuple(outcomes))

    async def process_pending_async(self, limit: int, max_attempts: int) -> ProcessSummary:
        store = self.store
        outcomes: list[Outcome] = []
        vendors = tuple(self.vendors)
        for _ in range(limit):
            claim = await self._holding(
                lambda: store.claim_next(
                    lease=self.lease_timeout, max_attempts=max_attempts, vendors=vendors
                ),
                self._release_abandoned_claim,
                lambda native: native.claim_next_async(
                    lease=self.lease_timeout, max_attempts=max_attempts, vendors=vendors
                ),
            )
            if claim is None:
                break
            outcomes.append(await self._process_claim_async(claim))
        return ProcessSummary(tuple(outcomes))

    # A replay with ``skip_done`` claims as ``process`` does (``claim(replay=False)``: a done
    # record is not claimable), so that whether the record is done is decided by the store in
    # the claim itself, atomically -- a worker completing it a moment before wins, and the
    # handlers do not run twice -- but without ``process``'s back-off: the operator replays now.
    # The claim is then marked a replay (counted in ``replays``): for a record that is not done
    # the stores take it exactly as ``claim(replay=True)`` would.

    def replay(self, delivery_id: str, *, skip_done: bool = False) -> Outcome:
        store = self.store
        record = store.get(delivery_id)
        _check_replayable(record)
        claim = store.claim(delivery_id, lease=self.lease_timeout, replay=not skip_done)
        if claim is None:
            assert record is not None
            return self.tally.record(self._not_replayed(record, skip_done=skip_done))
        return self._process_claim_sync(_as_replay(claim))

    async def replay_async(self, delivery_id: str, *, skip_done: bool = False) -> Outcome:
        store = self.store
        record = await self._get_async(delivery_id)
        _check_replayable(record)
        claim = await self._holding(
            lambda: store.claim(delivery_id, lease=self.lease_timeout, replay=not skip_done),
            self._release_abandoned_claim,
            lambda native: native.claim_async(
                delivery_id, lease=self.lease_timeout, replay=not skip_done
            ),
        )
        if claim is None:
            assert record is not None
            if _native(store):
                current = await self._get_async(delivery_id) or record
                if skip_done and current.done:
                    return self.tally.record(Outcome.duplicate_of(current))
                early = await self._in_progress_async(current, None, replay=True)
            else:  # one call off the event loop: the record read again, and the store's clock
                early = await _call(store, self._not_replayed, record, skip_done=skip_done)
            return self.tally.record(early)
        return await self._process_claim_async(_as_replay(claim))

    def _not_replayed(self, before: DeliveryRecord, *, skip_done: bool) -> Outcome:
        """The outcome of a replay whose claim was refused, from the record as read again after
        the claim (``before``: as read before it, if it is gone since): with ``skip_done`` a done
        record is a duplicate (200, nothing ran); otherwise another worker or replay holds its
        lease (503, in progress)."""
        record = self.store.get(before.id) or before
        if skip_done and record.done:
            return Outcome.duplicate_of(record)
        return self._in_progress(record, None, replay=True)

    def process(self, delivery_id: str) -> Outcome:
        store = self.store
        record, early = self._processable(delivery_id)
        if early is not None:
            return self.tally.record(early)
        claim = store.claim(delivery_id, lease=self.lease_timeout)
        if claim is None:
            return self.tally.record(self._in_progress(record, None))
        return self._process_claim_sync(claim)

    async def process_async(self, delivery_id: str) -> Outcome:
        store = self.store
        if _native(store):
            record = _found(await self._get_async(delivery_id))
            # Only a failed record waiting for its back-off reads the store's clock.
            now = await cast(Any, store).now_async() if _waits(record) else None
            early = self._not_processable(record, now)
        else:  # one call off the event loop: the record, and the store's clock for a back-off
            record, early = await _call(store, self._processable, delivery_id)
        if early is not None:
            return self.tally.record(early)
        claim = await self._holding(
            lambda: store.claim(delivery_id, lease=self.lease_timeout),
            self._release_abandoned_claim,
            lambda native: native.claim_async(delivery_id, lease=self.lease_timeout),
        )
        if claim is None:
            return self.tally.record(await self._in_progress_async(record, None))
        return await self._process_claim_async(claim)

    def _processable(self, delivery_id: str) -> tuple[DeliveryRecord, Outcome | None]:
        """The stored record of :meth:`process`, and the outcome when the handlers must not run
        now (else ``None``)."""
        record = _found(self.store.get(delivery_id))
        return record, self._not_processable(record)

    def _not_processable(
        self, record: DeliveryRecord, now: datetime | None = None
    ) -> Outcome | None:
        """``now``: the store's time, when the caller read it already."""
        if record.done:
            return Outcome.duplicate_of(record)
        # Only a failed record backs off; a processing one is answered by the claim (in progress
        # while its lease runs, taken over once it expired).
        if _waits(record):
            assert record.not_before is not None
            wait = (record.not_before - (now or self.store.now())).total_seconds()
            if wait > 0:
                return Outcome.in_progress(
                    record,
                    # No back-off is longer: a clock stepped back does not lengthen it here.
                    max(1, math.ceil(min(wait, RETRY_BACKOFF_MAX))),
                    reason="this delivery failed and waits for its retry",
                )
        return None

    async def _get_async(self, delivery_id: str) -> DeliveryRecord | None:
        store = self.store
        if _native(store):
            record: DeliveryRecord | None = await cast(Any, store).get_async(delivery_id)
            return record
        return await _call(store, store.get, delivery_id)  # type: ignore[no-any-return]

    def _in_progress(
        self, record: DeliveryRecord, event: WebhookEvent | None, *, replay: bool = False
    ) -> Outcome:
        now = None
        if record.lease_until is not None:
            with contextlib.suppress(Exception):  # a failing clock only loses the hint
                now = self.store.now()
        return _in_progress_at(record, event, now, replay=replay)

    async def _in_progress_async(
        self, record: DeliveryRecord, event: WebhookEvent | None, *, replay: bool = False
    ) -> Outcome:
        """:meth:`_in_progress` from async code: the store's clock read off the event loop."""
        store = self.store
        if not _native(store):
            return await _call(store, self._in_progress, record, event, replay=replay)  # type: ignore[no-any-return]
        now = None
        if record.lease_until is not None:
            with contextlib.suppress(Exception):
                now = await cast(Any, store).now_async()
        return _in_progress_at(record, event, now, replay=replay)

    def _reparse(self, claim: Claim) -> WebhookEvent | WebhookError:
        """The event of a stored delivery, parsed again from the stored body (it was
        authenticated when it arrived), or the error that prevents it."""
        record = claim.record
        vendor = self.vendors.get(record.vendor)
        if vendor is None:
            return ConfigurationError(f"vendor {record.vendor!r} is not configured here")
        if record.body is None:
            return BodyErasedError(_ERASED[1])
        try:
            # No authentication: the body was authenticated when it arrived (and Identomat's
            # stored copy has its key redacted, so it could not be authenticated again).
            return parse_unauthenticated(vendor, record.body, Headers(record.headers))
        except DeliveryError as exc:
            exc.vendor = vendor.name
            return exc

    def _process_claim_sync(self, claim: Claim) -> Outcome:
        parsed = self._reparse(claim)
        if isinstance(parsed, WebhookError):
            self._release_sync(claim, type(parsed).__name__, parsed.message)
            return self.tally.record(
                Outcome.failed(parsed, record=claim.record, replay=claim.replay)
            )
        return self._dispatch_sync(parsed, claim)

    async def _process_claim_async(self, claim: Claim) -> Outcome:
        parsed = self._reparse(claim)
        if isinstance(parsed, WebhookError):
            await self._release_async(claim, type(parsed).__name__, parsed.message)
            return self.tally.record(
                Outcome.failed(parsed, record=claim.record, replay=claim.replay)
            )
        return await self._dispatch_async(parsed, claim)

    # -- running the handlers of a claimed delivery ----------------------------------------
    # A delivery whose event carries a decision takes the subject lease of the decision ledger
    # *before* any handler runs (store.begin_decision): the deliveries of one verification are
    # serialised, so that the ticket's ``changes`` is true for exactly one of them per real
    # change of the effective decision. When another delivery of the subject holds the lease,
    # nothing has run yet: the claim is released -- not counted as an attempt
    # (fail(count_attempt=False)) -- and the delivery retried shortly (503 + Retry-After for the
    # vendor). The entry is recorded with the completion
    # (store.complete(claim, decision=ticket)); a failing handler aborts the ticket.
    # A delivery that just arrived hands its decision to ``store.add`` (``added``): a store that
    # takes the subject lease in the claiming step answers with ``Added.ticket`` or
    # ``Added.subject_busy``, and begin_decision is skipped.

    def _dispatch_sync(
        self,
        event: WebhookEvent,
        claim: Claim,
        added: tuple[Decision | None, Added] | None = None,
    ) -> Outcome:
        """Run the handlers of the claimed ``event``. ``added``: the decision handed to
        ``store.add`` and what it answered (else the decision is computed here)."""
        decision: Decision | None = None
        ticket: DecisionTicket | None = None
        try:
            decision = event.decision if added is None else added[0]
            if decision is not None:
                begun = self._begin_sync(claim, decision, None if added is None else added[1])
                if isinstance(begun, Outcome):
                    return self.tally.record(begun)
                ticket, decision = _keeping_client_ref(begun, decision)
            leased = time.monotonic()
            handled = self.router.dispatch(event)
            if ticket is not None and ticket.changes:
                assert decision is not None
                handled += self.router.dispatch_decision(decision)
        except BaseException as exc:
            self._release_sync(claim, *_failure(exc), ticket=ticket)
            if isinstance(exc, UsageError) or not isinstance(exc, Exception):
                raise
            return self.tally.record(
                handler_failure(event, exc, record=claim.record, replay=claim.replay)
            )
        if ticket is not None:
            self._check_subject_lease(claim, leased)
        self._complete_sync(claim, ticket)
        return self.tally.record(
            Outcome.success(event, handled, record=claim.record, replay=claim.replay)
        )

    async def _dispatch_async(
        self,
        event: WebhookEvent,
        claim: Claim,
        added: tuple[Decision | None, Added] | None = None,
    ) -> Outcome:
        """:meth:`_run_handlers_async`, waited for by :meth:`drain` until it ends -- by then
        the completion or the release of the claim has started, as a job drain() waits for too.
        (A plain handler in a worker thread holds a cancellation until it returns: without this
        a shutdown did not wait for it, and the record stayed ``processing``.)"""
        import asyncio

        settled = self._track(asyncio.get_running_loop().create_future())
        try:
            return await self._run_handlers_async(event, claim, added)
        finally:
            if not settled.done():
                settled.set_result(None)

    async def _run_handlers_async(
        self,
        event: WebhookEvent,
        claim: Claim,
        added: tuple[Decision | None, Added] | None = None,
    ) -> Outcome:
        decision: Decision | None = None
        ticket: DecisionTicket | None = None
        started = False  # a handler may have run
        try:
            decision = event.decision if added is None else added[0]
            if decision is not None:
                begun = await self._begin_async(
                    claim, decision, None if added is None else added[1]
                )
                if isinstance(begun, Outcome):
                    return self.tally.record(begun)
                ticket, decision = _keeping_client_ref(begun, decision)
            started = True
            leased = time.monotonic()
            # The decision handlers in the same run as the event's: a cancellation held while a
            # plain handler ran in its thread (Router.run_sync) arrives after all of them.
            changed = decision if ticket is not None and ticket.changes else None
            handled = await self.router.dispatch_async(event, changed)
        except BaseException as exc:
            # One job for the subject lease and the claim, which a second cancellation arriving
            # meanwhile does not stop (_release_async). Cancelled before any handler started
            # (while begin_decision ran): not an attempt.
            counted = started or isinstance(exc, Exception)
            if not isinstance(exc, Exception):
                log_interrupted(event, claim.record.id, started=started)
            await self._release_async(claim, *_failure(exc), ticket=ticket, count_attempt=counted)
            if isinstance(exc, UsageError) or not isinstance(exc, Exception):
                raise
            return self.tally.record(
                handler_failure(event, exc, record=claim.record, replay=claim.replay)
            )
        # The handlers ran: the completion runs to its end whatever cancellation follows, as a
        # release does (else a call dropped by run_blocking would leave the record processing,
        # and the handlers would run again once its lease expired).
        if ticket is not None:
            self._check_subject_lease(claim, leased)
        outcome = Outcome.success(event, handled, record=claim.record, replay=claim.replay)
        try:
            await self._complete_async(claim, ticket)
        except BaseException:
            # Cancelled while the completion ran to its end: handled, though nobody is left to
            # answer -- counted and logged as handled all the same (review R60).
            self.tally.record(outcome)
            raise
        return self.tally.record(outcome)

    def _check_subject_lease(self, claim: Claim, leased: float) -> None:
        """Warn when the handlers ran longer than the subject lease taken before them (at
        ``leased``, ``time.monotonic()``) lasts: another delivery of the same verification may
        have taken the subject meanwhile and run its decision handlers alongside these."""
        took = time.monotonic() - leased
        if took > self.lease_timeout:
            logger.warning(
                "handlers outran the decision ledger's subject lease delivery_id=%s took=%.1fs "
                "lease_timeout=%gs: another delivery of the same verification may have run its "
                "decision handlers meanwhile (raise lease_timeout above the slowest handler)",
                claim.record.id,
                took,
                self.lease_timeout,
            )

    async def _complete_async(self, claim: Claim, ticket: DecisionTicket | None) -> None:
        """:meth:`_complete_sync` from async code, run to its end whatever cancellation follows
        (:meth:`_to_the_end`). On the store's own async connections (:func:`_native`) it is a
        task, shielded; if the event loop ends before it did (its task cancelled), a thread of
        its own completes the claim with the store's sync call."""
        store = self.store
        if not _native(store):
            await self._to_the_end(functools.partial(self._complete_sync, claim, ticket))
            return
        import asyncio

        pending = self._track(asyncio.ensure_future(self._complete_native(claim, ticket)))
        pending.add_done_callback(functools.partial(self._complete_if_cancelled, claim, ticket))
        await asyncio.shield(pending)

    async def _complete_native(self, claim: Claim, ticket: DecisionTicket | None) -> None:
        native = cast(Any, self.store)
        try:
            if ticket is None:
                recorded = await native.complete_async(claim)
            else:
                recorded = await native.complete_async(claim, decision=ticket)
        except Exception as exc:
            recorded = exc
        _report_completion(claim, recorded)

    def _complete_if_cancelled(
        self, claim: Claim, ticket: DecisionTicket | None, pending: Any
    ) -> None:
        if pending.cancelled():
            threading.Thread(
                target=self._complete_sync, args=(claim, ticket), name="kyc-webhooks-complete"
            ).start()

    def _complete_sync(self, claim: Claim, ticket: DecisionTicket | None) -> None:
        """``store.complete`` the claim (with the ledger ``ticket``, if any) after the handlers
        succeeded; a failure or a lost claim is logged (the outcome stays a success)."""
        store = self.store
        try:
            if ticket is None:
                recorded: bool | Exception = store.complete(claim)
            else:
                recorded = store.complete(claim, decision=ticket)
        except Exception as exc:
            recorded = exc
        _report_completion(claim, recorded)

    # -- the decision ledger's subject lease -----------------------------------------------

    def _begin_sync(
        self, claim: Claim, decision: Decision, added: Added | None = None
    ) -> DecisionTicket | Outcome:
        """The subject lease for ``decision``, or the outcome when it cannot be had now (the
        claim is then released). ``added``: the answer of an ``add`` that was given the decision
        (the store may have taken the lease already, or found it busy); while another delivery
        of the verification holds the lease, such a delivery -- the vendor waiting for the
        answer -- tries again for up to :data:`SUBJECT_WAIT` seconds before the 503."""
        begun: DecisionTicket | Outcome | None
        if added is not None and (added.ticket is not None or added.subject_busy):
            begun = added.ticket  # the store answered in the claiming step
        else:
            begun = self._try_begin_sync(claim, decision)
        # Only a delivery that just arrived waits (the vendor is waiting for the answer); a
        # worker's claim is retried by the next sweep.
        pauses = _subject_pauses() if added is not None else iter(())
        while begun is None:  # another delivery of the verification holds it
            pause = next(pauses, None)
            if pause is None:
                self._release_sync(claim, *_BUSY, busy=True)
                return _subject_busy(decision, claim)
            time.sleep(pause)
            begun = self._try_begin_sync(claim, decision)
        return begun

    def _try_begin_sync(self, claim: Claim, decision: Decision) -> DecisionTicket | Outcome | None:
        """One ``store.begin_decision``: the ticket, ``None`` while the subject is busy, or the
        outcome of a failed store (the claim is then released)."""
        try:
            return self.store.begin_decision(
                claim, ledger_entry(decision, claim.record), lease=self.lease_timeout
            )
        except UsageError:
            raise
        except Exception as exc:
            error = _store_error(exc)
            _log_store_error("begin_decision", error)
            self._release_sync(claim, type(error).__name__, STORE_UNAVAILABLE_DETAIL)
            return _store_failed(error, decision, claim)

    async def _begin_async(
        self, claim: Claim, decision: Decision, added: Added | None = None
    ) -> DecisionTicket | Outcome:
        import asyncio

        begun: DecisionTicket | Outcome | None
        if added is not None and (added.ticket is not None or added.subject_busy):
            begun = added.ticket  # the store answered in the claiming step
        else:
            begun = await self._try_begin_async(claim, decision)
        # Only a delivery that just arrived waits (the vendor is waiting for the answer); a
        # worker's claim is retried by the next sweep.
        pauses = _subject_pauses() if added is not None else iter(())
        while begun is None:  # another delivery of the verification holds it
            pause = next(pauses, None)
            if pause is None:
                await self._release_async(claim, *_BUSY, busy=True)
                return _subject_busy(decision, claim)
            await asyncio.sleep(pause)
            begun = await self._try_begin_async(claim, decision)
        return begun

    async def _try_begin_async(
        self, claim: Claim, decision: Decision
    ) -> DecisionTicket | Outcome | None:
        """:meth:`_try_begin_sync` from async code."""
        store = self.store
        try:
            entry = ledger_entry(decision, claim.record)
            # A cancellation while the thread takes the subject lease: the thread gives it
            # back when it arrives (the request releases the claim).
            ticket = await self._holding(
                lambda: store.begin_decision(claim, entry, lease=self.lease_timeout),
                self._abort_abandoned,
                lambda native: native.begin_decision_async(claim, entry, lease=self.lease_timeout),
            )
        except UsageError:
            raise
        except Exception as exc:
            error = _store_error(exc)
            _log_store_error("begin_decision", error)
            await self._release_async(claim, type(error).__name__, STORE_UNAVAILABLE_DETAIL)
            return _store_failed(error, decision, claim)
        assert ticket is None or isinstance(ticket, DecisionTicket)
        return ticket

    def _abort_sync(self, ticket: DecisionTicket, *, failed: bool = False) -> None:
        """Give back ``ticket``'s subject lease. ``failed``: a handler of the delivery failed (it
        will be retried): the store records its entry as the verification's latest known one,
        not announced (Store.abort_decision)."""
        try:
            if failed and self._abort_records:
                self.store.abort_decision(ticket, failed=True)
            else:
                self.store.abort_decision(ticket)
        except Exception as exc:  # the subject lease expires on its own
            _log_store_error("abort_decision", _store_error(exc))

    # -- releasing a claim: fail with a retry time -----------------------------------------

    def _retry_at(self, claim: Claim, *, busy: bool = False) -> datetime:
        """Back-off after the claim's attempt n: min(30 s * 2**(n-1), 1 h) from now;
        :data:`SUBJECT_BUSY_RETRY` seconds when the subject lease was ``busy``."""
        if busy:
            return self.store.now() + timedelta(seconds=SUBJECT_BUSY_RETRY)
        attempts = max(1, claim.record.attempts)
        delay = min(RETRY_BACKOFF_BASE * 2 ** min(attempts - 1, 32), RETRY_BACKOFF_MAX)
        return self.store.now() + timedelta(seconds=delay)

    def _release_sync(
        self,
        claim: Claim,
        error_type: str,
        message: str,
        *,
        busy: bool = False,
        ticket: DecisionTicket | None = None,
        count_attempt: bool = True,
    ) -> None:
        """Give back ``ticket``'s subject lease, if any, then ``store.fail`` the claim, to be
        retried after the back-off. ``busy``: nothing ran, another delivery of the same
        verification held the subject lease -- retried shortly, and the claim does not count as
        an attempt (``count_attempt=False``), so that waiting never uses up ``max_attempts``.
        ``count_attempt=False`` alone: nothing ran either (the request was abandoned before any
        handler started), back-off as usual. A counted attempt failed: the ticket's entry is
        recorded as the latest known one (``abort_decision(failed=True)``), for its retry to
        announce -- unless the claim replayed a ``done`` delivery, which stays done and is not
        retried: its verdict was announced once already, or removed from the ledger since
        (``forget_decisions``), and must not come back (review R62)."""
        if ticket is not None:
            retried = not (claim.replay and claim.previous_state is DeliveryState.DONE)
            self._abort_sync(ticket, failed=count_attempt and not busy and retried)
        store = self.store
        try:
            store.fail(
                claim,
                error_type=error_type,
                error_message=message,
                retry_at=self._retry_at(claim, busy=busy),
                count_attempt=count_attempt and not busy,
            )
        except Exception as exc:  # the lease expires on its own; never mask the real error
            _log_store_error("fail", _store_error(exc))

    async def _release_async(
        self,
        claim: Claim,
        error_type: str,
        message: str,
        *,
        busy: bool = False,
        ticket: DecisionTicket | None = None,
        count_attempt: bool = True,
    ) -> None:
        """:meth:`_release_sync` from async code, as one job (subject lease and claim) that runs
        to its end (:meth:`_to_the_end`)."""
        await self._to_the_end(
            functools.partial(
                self._release_sync,
                claim,
                error_type,
                message,
                busy=busy,
                ticket=ticket,
                count_attempt=count_attempt,
            )
        )

    async def _to_the_end(self, job: Callable[[], None]) -> None:
        """Run ``job`` -- a store call that must not be lost: a release, or the completion of a
        claim whose handlers ran; it logs its own failure -- from async code, in a worker thread
        or the store's ``run_blocking`` (:meth:`_release_later`). A cancellation of the request
        while it runs (a second one, when the first interrupted the handlers) propagates at once,
        and the job still runs to its end, exactly once, even when the event loop ends."""
        if not self.store.blocking:
            job()
            return
        import asyncio

        pending = self._release_later(_Once(job))
        # run_blocking refusing it raises here: a thread of its own runs it instead.
        with contextlib.suppress(Exception):
            await asyncio.shield(pending)

    def _store_failed(self, event: WebhookEvent, exc: Exception) -> Outcome:
        error = _store_error(exc)
        _log_store_error("add", error)
        return Outcome.failed(error, event=event, retry_after=STORE_RETRY_AFTER)


def _subject_pauses() -> Iterator[float]:
    """The pauses between tries of a busy subject lease: 10 ms, doubling up to
    :data:`SUBJECT_PAUSE_MAX`, each a random draw between half and all of that, until
    :data:`SUBJECT_WAIT` seconds have passed since the wait started (the first pause) -- by the
    clock, not by adding up the pauses: a store answering each try slowly (a write queued behind
    other processes', a row lock) stretched the wait to several times its length.

    The draw and the bound keep waiters apart: on one fixed schedule, a dozen deliveries of one
    verification that arrived together tried at the same moments, one won each time, and the
    others waited up to 370 ms for the next try while the lease was free (503s for a lease busy a
    fifth of the wait)."""
    deadline = time.monotonic() + SUBJECT_WAIT
    pause, paused = 0.01, 0.0
    # The pauses themselves also add up to at most SUBJECT_WAIT: a clock that does not move (a
    # test freezing time.monotonic, as freezegun and time-machine do) still ends the wait.
    while (left := min(deadline - time.monotonic(), SUBJECT_WAIT - paused)) > 0:
        step = min(_JITTER.uniform(pause / 2, pause), left)
        paused += step
        yield step
        pause = min(pause * 2, SUBJECT_PAUSE_MAX)


#: The pauses' own generator: drawing from the global one would take numbers from the sequence
#: an application seeded (``random.seed``) for its own reproducible use.
_JITTER = random.Random()


def _store_failed(error: StoreError, decision: Decision, claim: Claim) -> Outcome:
    return Outcome.failed(
        error,
        event=decision.event,
        record=claim.record,
        replay=claim.replay,
        retry_after=STORE_RETRY_AFTER,
    )


def _subject_busy(decision: Decision, claim: Claim) -> Outcome:
    return Outcome.in_progress(
        claim.record,
        SUBJECT_BUSY_RETRY,
        event=decision.event,
        replay=claim.replay,
        reason="another delivery of the same verification is being handled; retry later",
    )


# -- on_deferred: the hand-off to a task queue ---------------------------------------------


def _notify_deferred(
    on_deferred: Callable[[str], object], delivery_id: str, *, awaiting: bool
) -> Awaitable[object] | None:
    """Call ``on_deferred(delivery_id)``; never raises (the delivery is stored, the 202 stands,
    the sweeper covers a lost hand-off). Returns an awaitable result for ``handle_async`` to
    await; under ``handle`` one cannot be awaited, so it is closed and logged as a failure."""
    try:
        result = on_deferred(delivery_id)
    except Exception as exc:
        _log_deferred_failure(delivery_id, exc)
        return None
    import concurrent.futures

    if isinstance(result, concurrent.futures.Future):
        # executor.submit(...), run_coroutine_threadsafe(...): not awaitable, but a hand-off
        # whose failure must be logged, and which handle_async waits for (review R59).
        if awaiting:
            import asyncio

            return asyncio.wrap_future(result)
        result.add_done_callback(functools.partial(_deferred_ended, delivery_id))
        return None
    if inspect.isawaitable(result):
        if awaiting:
            return result
        if inspect.iscoroutine(result):
            result.close()
        logger.error(
            "on_deferred returned an awaitable that handle() cannot await delivery_id=%s; "
            "use handle_async() or a plain callable (process_pending() will handle it)",
            delivery_id,
        )
    return None


#: The longest a 202 waits for ``on_deferred``'s awaitable (a queue's publish): a broker that is
#: slow, down or hung -- and a burst of deliveries queued behind such publishes -- must not hold
#: the answer past the vendor's timeout (iDenfy: 10 s; review R56). The hand-off goes on after
#: the 202; the sweeper covers one that fails.
DEFERRED_WAIT = 5.0


async def _await_deferred(running: Any, delivery_id: str) -> None:
    """Wait for the hand-off ``running`` (a future or task of this event loop, whose failure
    :func:`_deferred_ended` logs) at most :data:`DEFERRED_WAIT` seconds. ``asyncio.wait`` raises
    neither the hand-off's exception nor its cancellation (review R59: a hand-off cancelled on
    its own made the request a 500), and does not cancel it; a cancellation of the request
    itself goes through (the hand-off goes on)."""
    import asyncio

    await asyncio.wait({running}, timeout=DEFERRED_WAIT)
    if not running.done():
        logger.warning(
            "on_deferred still running after %g s delivery_id=%s; answered 202 without waiting "
            "(process_pending(), the sweeper, handles the delivery if it is not enqueued)",
            DEFERRED_WAIT,
            delivery_id,
        )


def _deferred_ended(delivery_id: str, running: Any) -> None:
    """The end of a hand-off: its failure -- a cancellation too: nothing was enqueued -- logged
    by class, and so retrieved (else asyncio reports it with its message, which may quote a
    broker URL)."""
    import asyncio

    if running.cancelled():
        _log_deferred_failure(delivery_id, asyncio.CancelledError())
    elif running.exception() is not None:
        _log_deferred_failure(delivery_id, running.exception())


def _log_deferred_failure(delivery_id: str, exc: BaseException) -> None:
    # Class name only, never str(exc) or a traceback: a broker client's message may quote
    # connection details, and the frames are of no use to the operator here.
    logger.error(
        "on_deferred failed delivery_id=%s error=%s; the delivery is stored and answered 202, "
        "process_pending() (the sweeper) will handle it",
        delivery_id,
        qualified_name(exc),
    )


# -- helpers -------------------------------------------------------------------------------


def _storable_text(value: str) -> str:
    """``value`` as text any store can encode: a lone surrogate (a ``str`` header decoded with
    ``surrogateescape``, e.g. under WSGI) becomes a visible escape (``\\udcff``) instead of making
    the store's UTF-8 encoding raise."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


class _Handoff(Generic[_T]):
    """Who gives back what a store call running in a worker thread takes (a claim, a subject
    lease): the request that awaits it, or -- once the request is abandoned -- whoever comes
    last, the thread or the request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abandoned = False
        self._taken: _T | None = None

    def deliver(self, taken: _T) -> bool:
        """From the thread: hand ``taken`` over; ``False`` when the request was abandoned (the
        thread then gives it back)."""
        with self._lock:
            self._taken = taken
            return not self._abandoned

    def abandon(self) -> _T | None:
        """From the request: give up; what the thread handed over already (the request then
        gives it back), else ``None`` (the thread will)."""
        with self._lock:
            self._abandoned = True
            return self._taken


class _Once:
    """A release that runs at most once, whichever of two ways gets to it first."""

    def __init__(self, func: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._taken = False
        self._func = func

    def take(self) -> bool:
        """``True`` for the first caller only: it runs the release (:meth:`run`)."""
        with self._lock:
            taken, self._taken = self._taken, True
            return not taken

    def run(self) -> None:
        self._func()

    def __call__(self) -> None:
        """Take and run it (a no-op once taken)."""
        if self.take():
            self.run()


def _retrieve(task: Any) -> None:
    """Mark an abandoned worker's outcome as seen (no "exception was never retrieved" report: a
    failed add claimed nothing)."""
    if not task.cancelled():
        task.exception()


def _accepts_keyword(store: Store, method: str, keyword: str) -> bool | None:
    """Whether ``store.method`` takes the keyword argument ``keyword`` (or any keyword);
    ``None`` when the method is missing or cannot be inspected."""
    try:
        parameters = inspect.signature(getattr(store, method), follow_wrapped=False).parameters
    except (AttributeError, TypeError, ValueError):
        return None
    return any(p.name == keyword or p.kind is p.VAR_KEYWORD for p in parameters.values())


def _check_store_keywords(store: Store) -> None:
    """A store whose ``add`` predates ``decision=`` would fail every delivery (503); one whose
    ``fail`` predates ``count_attempt=`` would fail every busy release (the claim then blocks the
    record for ``lease_timeout``), and could not honour it anyway: say so when the receiver is
    built instead."""
    for method, keyword, why in (
        ("add", "decision", "it may ignore it; see Store.add"),
        ("fail", "count_attempt", "see Store.fail"),
    ):
        if _accepts_keyword(store, method, keyword) is False:  # None: cannot tell
            raise ConfigurationError(
                f"{type(store).__name__}.{method}() must accept the keyword argument {keyword}= "
                f"(the Store protocol: {why})"
            )


def _as_replay(claim: Claim) -> Claim:
    """``claim`` marked as a replay's (its completion counts in ``replays``)."""
    return claim if claim.replay else dataclasses.replace(claim, replay=True)


def _check_replayable(record: DeliveryRecord | None) -> None:
    if record is None:
        raise DeliveryNotFoundError("no stored delivery has this id")
    if record.body is None:
        raise BodyErasedError("the stored body was erased; the delivery cannot be replayed")


def _failure(exc: BaseException) -> tuple[str, str]:
    """Error class name and a safe message for the store -- never ``str(exc)``, which may quote
    personal data from the payload."""
    name = type(exc).__name__
    if isinstance(exc, UsageError):
        return name, exc.message
    if isinstance(exc, Exception):
        return name, f"handler raised {name}"
    return name, f"handling interrupted ({name})"


def _store_error(exc: Exception) -> StoreError:
    """``exc`` as the error of a failed store call. A store raises :class:`StoreError`; anything
    else it raises (a third-party store's driver error) is reported as one, so that ``handle()``
    answers 503 and the vendor retries instead of the exception escaping. Only our own errors'
    messages are kept: another exception's text may quote stored data."""
    if isinstance(exc, StoreError):
        return exc
    detail = f": {exc.message}" if isinstance(exc, WebhookError) else ""
    error = StoreError(f"the store raised {qualified_name(exc)}{detail}")
    error.__cause__ = exc
    return error


def _log_store_error(operation: str, exc: WebhookError) -> None:
    logger.error(
        "delivery store failed operation=%s error=%s detail=%s",
        operation,
        type(exc).__name__,
        exc.message,
    )


def _report_completion(claim: Claim, recorded: bool | Exception) -> None:
    """Log a completion that failed (``recorded`` is the store's exception) or found its claim
    lost (``False``); the outcome stays a success either way."""
    if isinstance(recorded, Exception):
        _log_store_error("complete", _store_error(recorded))
        _warn_not_recorded(claim, store_failed=True)
    elif not recorded:
        _warn_not_recorded(claim, store_failed=False)


def _warn_not_recorded(claim: Claim, *, store_failed: bool) -> None:
    """Handlers succeeded (the endpoint answers 200) but the record is not ``done``: the event
    may be handled again (docs/delivery-guarantees.md, "The remaining window")."""
    if store_failed:
        reason = (
            "the store failed writing it; the record stays processing until its lease expires, "
            "then a worker (process_pending) or a redelivery handles the event again"
        )
    else:
        reason = (
            "the lease expired before the handlers finished and another worker claimed the "
            "record (raise lease_timeout above the slowest handler)"
        )
    logger.warning(
        "handlers succeeded but completion was not recorded delivery_id=%s: %s",
        claim.record.id,
        reason,
    )


def _native(store: Store) -> bool:
    """Whether ``store`` runs its calls on async connections of the running event loop (it
    has ``native_async()`` answering true: ``PostgresStore`` after ``open_async()``), through
    its ``<method>_async`` coroutine methods, instead of worker threads."""
    native = getattr(store, "native_async", None)
    return native is not None and bool(native())


def _erased_redelivery(added: Added) -> bool:
    """Whether ``added`` is a vendor's redelivery of a stored delivery that was never handled
    and whose body was erased since (retention, ``forget``) -- which claimed it. Erasure decided
    that this event is not handled: its handlers would act on the person again (and ``forget``'s
    verdict come back into the ledger) on the bytes the vendor sent once more (review R45). The
    redelivery is answered as a duplicate, and the record stays failed with BodyErasedError."""
    return (
        not added.created
        and added.claim is not None
        and not added.record.done
        and added.record.body_erased_at is not None
    )


def _in_progress_at(
    record: DeliveryRecord, event: WebhookEvent | None, now: datetime | None, *, replay: bool
) -> Outcome:
    """503 in progress, ``Retry-After`` from the record's lease and the store's time ``now``
    (``None``: the clock failed -- 1 s), at most the lease's own length (from the claim,
    ``updated_at``, to its end): a clock stepped back (NTP, a restored VM) told the vendor to come
    back a day later for a 60 s lease (review R41)."""
    retry_after = None
    if record.lease_until is not None:
        remaining = 1.0 if now is None else (record.lease_until - now).total_seconds()
        length = (record.lease_until - record.updated_at).total_seconds()
        retry_after = max(1, math.ceil(min(remaining, max(length, 1.0))))
    return Outcome.in_progress(record, retry_after, event=event, replay=replay)


def _keeping_client_ref(
    ticket: DecisionTicket, decision: Decision
) -> tuple[DecisionTicket, Decision]:
    """``ticket`` and ``decision`` with the verification's ``client_ref`` when the event does not
    name it and the ledger does: a ComplyCube re-screen or an iDenfy AML alert may not repeat the
    client id of the check's first verdict, and the entry replacing it took ``None`` -- the
    verification dropped out of ``decisions.for_client()``, and ``forget(client_ref=...)`` left
    its verdict once retention had erased the bodies (review R35). The decision handlers get it
    too."""
    previous = ticket.previous
    if ticket.entry.client_ref is not None or previous is None or previous.client_ref is None:
        return ticket, decision
    ref = previous.client_ref
    entry = dataclasses.replace(ticket.entry, client_ref=ref)
    return dataclasses.replace(ticket, entry=entry), dataclasses.replace(decision, client_ref=ref)


def _found(record: DeliveryRecord | None) -> DeliveryRecord:
    if record is None:
        raise DeliveryNotFoundError("no stored delivery has this id")
    return record


def _waits(record: DeliveryRecord) -> bool:
    """Whether ``record`` failed and has a retry time (its back-off may not be over)."""
    return record.state is DeliveryState.FAILED and record.not_before is not None


async def _call(store: Store, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a store method from async code: in a worker thread when the store blocks on I/O, or
    through the store's own ``run_blocking`` coroutine function where it has one (the Django
    store runs the ORM where Django manages its connections)."""
    if not store.blocking:
        return func(*args, **kwargs)
    run_blocking = getattr(store, "run_blocking", None)
    if run_blocking is not None:
        return await run_blocking(func, *args, **kwargs)
    return await _in_a_worker_thread(functools.partial(func, *args, **kwargs))


def _in_a_worker_thread(func: Callable[[], _T]) -> Awaitable[_T]:
    """``func()`` in the running loop's default executor, in the caller's context variables (as
    ``asyncio.to_thread``) -- or, once the executor refuses new work (the interpreter is shutting
    down: a Dramatiq worker after a second SIGTERM, whose event-loop thread runs on), here, on
    the loop's thread: a store call, above all the completion of handlers that ran, must not be
    lost. It was: the record stayed ``processing`` and the handlers ran again once its lease
    expired (review R36)."""
    import asyncio

    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    try:
        return loop.run_in_executor(None, context.run, func)
    except RuntimeError:  # "cannot schedule new futures after (interpreter) shutdown"
        pass
    done: asyncio.Future[_T] = loop.create_future()
    try:
        done.set_result(context.run(func))
    except Exception as exc:
        done.set_exception(exc)
    return done
