"""The receiver: configured vendors + a router. ``handle(body, headers) -> Outcome``.

Order for every delivery (DEVELOPERS.md principle 1): type check of the body -> size cap ->
vendor selection (pinned or detected) -> authentication over the raw bytes -> decode and validate
the same bytes -> (store) -> dispatch to handlers. ``handle`` never raises for anything the sender
controls; it maps each failure to the HTTP status the endpoint should answer.

With a ``store`` (docs/delivery-guarantees.md) every authenticated delivery is recorded under its
``delivery_key`` and claimed before the handlers run, so that handlers run to success at most once
per event across threads and processes; ``defer=True`` answers 202 at once and leaves the handlers
to :meth:`Receiver.process_pending`.
"""

from __future__ import annotations

import inspect
import logging
import math
import threading
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from ._headers import HeaderInput, Headers
from ._redaction import redact_fields
from ._vendor import Vendor, detect_vendors, parse_unauthenticated, vendor_class
from .decisions import Decision, Decisions, DecisionStatus, ledger_entry
from .errors import (
    AmbiguousVendorError,
    BodyErasedError,
    ConfigurationError,
    DeliveryError,
    DeliveryInProgressError,
    DeliveryNotFoundError,
    HandlerError,
    PayloadError,
    PayloadTooLargeError,
    StoreError,
    UndetectableVendorError,
    UsageError,
    VendorNotConfiguredError,
    WebhookError,
)
from .models import WebhookEvent
from .routing import DH, Router, warn_never_runs
from .store._base import Claim, DecisionTicket, DeliveryRecord, NewDelivery, Store

if TYPE_CHECKING:
    from .store._base import Added

__all__ = [
    "DEFAULT_LEASE_TIMEOUT",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_MAX_BODY_SIZE",
    "Outcome",
    "ProcessSummary",
    "Receiver",
]

logger = logging.getLogger("kyc_webhooks")

#: 1 MiB: the largest documented bodies (iDenfy identifications with AML hits) are a few dozen KiB.
DEFAULT_MAX_BODY_SIZE = 1024 * 1024
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
#: ``Retry-After`` (seconds) of the 503 answered when the store fails: long enough for a database
#: failover or restart, short enough that a client honouring it comes back soon.
STORE_RETRY_AFTER = 10
#: ``Outcome.response_body()`` detail for a failed store (the full message goes to the log only).
STORE_UNAVAILABLE_DETAIL = "delivery store unavailable; retry later"

#: Headers never stored, whatever the vendor (credentials and session state).
_NEVER_STORED = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})

E = TypeVar("E", bound=WebhookEvent)
H = TypeVar("H", bound=Callable[..., Any])


@dataclass(frozen=True)
class Outcome:
    """What happened to one delivery, and what the HTTP endpoint should answer."""

    status_code: int
    vendor: str | None = None
    event_type: str | None = None
    event: WebhookEvent | None = None
    error: WebhookError | None = None
    #: Handlers that ran for this delivery.
    handled: int = 0
    #: True when a store saw this delivery_key finish before; handlers did not run again.
    duplicate: bool = False
    #: The stored record's id when the receiver has a store.
    delivery_id: str | None = None
    #: Seconds after which a retry makes sense (503 "in progress"); send it as ``Retry-After``.
    retry_after: int | None = None
    #: True when this outcome comes from :meth:`Receiver.replay`.
    replay: bool = False

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status_code < 300

    @property
    def delivery_key(self) -> str | None:
        return self.event.delivery_key if self.event is not None else None

    def response_body(self) -> dict[str, Any]:
        """A small JSON-able body for the HTTP response. Carries the error class and its safe
        message only -- never a secret, a signature, a payload value or a traceback."""
        if self.error is None:
            body: dict[str, Any] = {"ok": True}
            if self.duplicate:
                body["duplicate"] = True
            return body
        error = self.error
        if isinstance(error, HandlerError):
            detail = "a handler failed; the delivery will be retried"
        elif isinstance(error, StoreError) and not isinstance(
            error, (DeliveryNotFoundError, BodyErasedError)
        ):
            # The message names the database file and quotes the driver's error: log only.
            detail = STORE_UNAVAILABLE_DETAIL
        else:
            detail = error.message
        return {"ok": False, "error": type(error).__name__, "detail": detail}


def _handled_outcome(event: WebhookEvent, handled: int) -> Outcome:
    """``Outcome(200, event.vendor, event.event_type, event, handled=handled)`` without the
    generated ``__init__`` of a frozen dataclass (one ``object.__setattr__`` per field): this is
    built for every successful delivery. The result is the same frozen, comparable Outcome."""
    outcome = object.__new__(Outcome)
    object.__setattr__(
        outcome,
        "__dict__",
        {
            "status_code": 200,
            "vendor": event._vendor,
            "event_type": event._event_type,
            "event": event,
            "error": None,
            "handled": handled,
            "duplicate": False,
            "delivery_id": None,
            "retry_after": None,
            "replay": False,
        },
    )
    return outcome


def _check_body(body: object) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    hint = (
        "pass the raw request body bytes (Flask: request.get_data(), Django: request.body, "
        "Starlette/FastAPI: await request.body()); signatures are computed over the exact bytes, "
        "so a decoded or re-serialised body cannot be verified"
    )
    raise UsageError(f"body must be bytes, not {type(body).__name__}: {hint}")


@dataclass(frozen=True)
class ProcessSummary:
    """What :meth:`Receiver.process_pending` did: one :class:`Outcome` per claimed delivery."""

    outcomes: tuple[Outcome, ...] = ()

    @property
    def processed(self) -> int:
        """Deliveries claimed and attempted."""
        return len(self.outcomes)

    @property
    def succeeded(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.ok)

    @property
    def failed(self) -> int:
        return sum(1 for outcome in self.outcomes if not outcome.ok)


def storable_body(vendor: str, body: bytes) -> bytes:
    """The copy of an authenticated body that goes into a store: byte-exact, except that the string
    value of a credential field inside the body (Identomat's ``callbackApiKey``) is replaced by
    ``"<redacted>"``, so that the store never holds a secret that could forge deliveries."""
    fields = vendor_class(vendor).credential_fields
    return redact_fields(body, fields) if fields else body


def _positive_number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigurationError(f"{name} must be a positive number of seconds")
    if math.isinf(value):
        raise ConfigurationError(f"{name} must be finite")
    return float(value)


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(f"{name} must be a positive int")
    return value


class Receiver:
    """Authenticates, parses and routes deliveries from the configured vendors.

    >>> import kyc_webhooks as kw
    >>> receiver = kw.Receiver(kw.Idenfy(signing_key="secret"))

    ``store``: a :class:`~kyc_webhooks.store.Store` (``kw.SQLiteStore("webhooks.db")``,
    ``kw.MemoryStore()``) for deduplication and exactly-once handling; ``defer=True`` stores and
    answers 202 without running handlers (run :meth:`process_pending` in a worker);
    ``lease_timeout``: seconds a claim on a stored delivery lasts (must exceed the slowest handler).

    ``on_deferred`` (with ``defer=True``): called with the delivery id of each newly stored
    delivery, after it is stored and before the 202 -- the hand-off to a task queue
    (``kyc_webhooks.contrib.celery.register`` and its siblings set it). Under
    :meth:`handle_async` an awaitable result is awaited. If it raises, the delivery is stored all
    the same: the answer is still 202, the failure is logged (exception class only), and the
    sweeper (:meth:`process_pending`) handles the delivery later. Duplicates do not call it.
    """

    def __init__(
        self,
        *vendors: Vendor,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        router: Router | None = None,
        store: Store | None = None,
        defer: bool = False,
        lease_timeout: float = DEFAULT_LEASE_TIMEOUT,
        on_deferred: Callable[[str], object] | None = None,
    ) -> None:
        configured: dict[str, Vendor] = {}
        for vendor in vendors:
            if not isinstance(vendor, Vendor):
                raise ConfigurationError(
                    f"expected vendor objects such as kw.Idenfy(...), got {type(vendor).__name__}"
                )
            if vendor.name in configured:
                raise ConfigurationError(
                    f"vendor {vendor.name!r} configured twice; pass several secrets to one "
                    "vendor object for key rotation"
                )
            configured[vendor.name] = vendor
        if isinstance(max_body_size, bool) or not isinstance(max_body_size, int):
            raise ConfigurationError("max_body_size must be a positive int")
        if max_body_size <= 0:
            raise ConfigurationError("max_body_size must be a positive int")
        if store is not None and not isinstance(store, Store):
            raise ConfigurationError(
                f"store must implement kyc_webhooks.store.Store, got {type(store).__name__}"
            )
        if defer and store is None:
            raise ConfigurationError("defer=True needs a store to keep deliveries in")
        if on_deferred is not None:
            if not callable(on_deferred):
                raise ConfigurationError("on_deferred must be a callable taking a delivery id")
            if not defer:
                raise ConfigurationError("on_deferred needs defer=True (it is called on a 202)")
        self._vendors = configured
        # Configured vendors recognised by a header of their own, for the fast path of detection.
        self._header_vendors = tuple(v for v in configured.values() if v.detection == "header")
        self._single_header_vendor = (
            self._header_vendors[0] if len(self._header_vendors) == 1 else None
        )
        self.max_body_size = max_body_size
        self.router = router if router is not None else Router()
        self.store = store
        self.defer = bool(defer)
        self.lease_timeout = _positive_number(lease_timeout, "lease_timeout")
        #: Called with the id of each newly deferred delivery (see the class docstring). Public
        #: so that a queue integration's ``register()`` can set it after construction.
        self.on_deferred: Callable[[str], object] | None = on_deferred
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()

    # -- configuration -----------------------------------------------------------------------

    @property
    def vendors(self) -> Mapping[str, Vendor]:
        """The configured vendors by name (read-only)."""
        return dict(self._vendors)

    def prepare(self, *, sync: bool = False) -> Receiver:
        """Build every configured vendor's models and validators now -- call it at application
        startup. Without it they are built on demand: a vendor's event model on its first
        delivery (an iDenfy identification: ~20-45 ms in a fresh process, docs/performance.md),
        a lazy section on its first read. Then :meth:`check` the handlers (``sync=True`` when you
        call :meth:`handle`, :meth:`process_pending` or :meth:`replay`). Returns the receiver, so
        that ``receiver = kw.Receiver(...).prepare()`` works."""
        for vendor in self._vendors.values():
            vendor.prepare()
        return self.check(sync=sync)

    def check(self, *, sync: bool = False) -> Receiver:
        """Check the registered handlers without building anything (cheap; adapters call it).

        ``sync=True``: the handlers will run under the synchronous entry points (:meth:`handle`,
        :meth:`process_pending`, :meth:`replay`, Flask's and Django's ``webhook_view``), so an
        ``async def`` handler raises :class:`ConfigurationError` now instead of failing every
        delivery. Returns the receiver."""
        self.router.check(sync=sync)
        return self

    def on(self, vendor: str = "*", pattern: str = "*") -> Callable[[H], H]:
        """Decorator registering a handler for ``vendor`` (a vendor name, or ``"*"``) and an
        fnmatch ``pattern`` on the event type. Handlers run in registration order.

        Warns (:class:`~kyc_webhooks.RoutingWarning`) when the handler can never run: ``vendor``
        is not configured on this receiver, or the literal ``pattern`` is no event type of it."""
        if vendor != "*" and vendor not in self._vendors:
            vendor_class(vendor)  # an unknown name is a ConfigurationError, as in Router.on
            configured = ", ".join(self._vendors) or "none"
            warn_never_runs(
                f"vendor {vendor!r} is not configured on this receiver (configured: "
                f"{configured}), so this handler would never run"
            )
        return self.router.on(vendor, pattern)

    def on_event(self, model: type[E]) -> Callable[[Callable[[E], Any]], Callable[[E], Any]]:
        """Typed decorator: register a handler for every event that is an instance of ``model``."""
        return self.router.on_event(model)

    def on_decision(
        self, *statuses: DecisionStatus | str, final: bool | None = None
    ) -> Callable[[DH], DH]:
        """Decorator registering a decision handler: it gets the event's
        :class:`~kyc_webhooks.Decision` when the status is one of ``statuses`` (none: any) and
        the finality is ``final`` (``None``: either).

        With a store it runs only when the delivery changes the **effective** decision of the
        verification (the ledger's rules, docs/decisions.md), once per change; a redelivery or a
        stale event calls no decision handler. Without a store it runs for every event that
        carries a matching decision: ordering protection needs a store."""
        return self.router.on_decision(*statuses, final=final)

    @property
    def decisions(self) -> Decisions:
        """The effective decisions the store's ledger keeps: ``.latest(vendor, subject)`` and
        ``.for_client(client_ref)``. Raises :class:`UsageError` without a store."""
        return Decisions(self._require_store("decisions"))

    def stats(self) -> dict[str, int]:
        """Counters of this receiver object (this process): ``handled``, ``duplicates``,
        ``deferred``, ``replayed``, ``in_progress``, ``handler_failures``, ``store_errors``,
        ``unprocessable`` (a stored delivery that could not be re-parsed), ``rejected`` and
        ``rejected_<status>``. Rejected requests are counted here, never stored:
        unauthenticated traffic must not be able to make the endpoint write to disk."""
        with self._counts_lock:
            counts = dict(self._counts)
        for key in (
            "handled",
            "duplicates",
            "deferred",
            "replayed",
            "in_progress",
            "handler_failures",
            "store_errors",
            "unprocessable",
            "rejected",
        ):
            counts.setdefault(key, 0)
        return counts

    # -- verification and parsing ------------------------------------------------------------

    def _select_vendor(self, headers: Headers, body: bytes, pinned: str | None) -> Vendor:
        if pinned is not None:
            vendor_class(pinned)  # unknown name -> ConfigurationError (integrator's typo)
            configured = self._vendors.get(pinned)
            if configured is None:
                raise VendorNotConfiguredError(f"vendor {pinned!r} is not configured")
            return configured
        # Fast path, same answer as the general rule below: when exactly one configured vendor's
        # own header is present, unconfigured vendors and body shapes cannot change the choice.
        found: Vendor | None = None
        for candidate in self._header_vendors:
            if candidate.detect(headers, body):
                if found is not None:
                    found = None
                    break
                found = candidate
        else:
            if found is not None:
                return found
        detected = detect_vendors(headers, body)
        if not detected:
            raise UndetectableVendorError(
                "could not tell which vendor sent this request (no vendor signature header or "
                "body shape recognised); pin the vendor with handle(..., vendor=...)"
            )
        # Prefer configured vendors; never guess between two of them.
        candidates = [name for name in detected if name in self._vendors] or detected
        if len(candidates) > 1:
            raise AmbiguousVendorError(
                f"request matches several vendors ({', '.join(candidates)}); pin the vendor"
            )
        name = candidates[0]
        vendor = self._vendors.get(name)
        if vendor is None:
            raise VendorNotConfiguredError(
                f"request looks like {name}, which this receiver is not configured for"
            )
        return vendor

    def _authenticate(
        self, body: bytes, headers: HeaderInput | None, vendor: str | None
    ) -> tuple[WebhookEvent, Headers]:
        # Written flat (no helper per step): this runs for every delivery, and each Python call
        # costs more here, between HMAC and pydantic-core, than in a micro-benchmark.
        raw = body if type(body) is bytes else _check_body(body)
        if len(raw) > self.max_body_size:
            raise PayloadTooLargeError(
                f"body is {len(raw)} bytes, over the {self.max_body_size}-byte limit"
            )
        # No isinstance(): against an ABC (Headers is a Mapping) it runs Python code each time.
        # A Headers subclass is simply copied by Headers().
        view = headers if type(headers) is Headers else Headers(headers)
        single = self._single_header_vendor
        if vendor is None and single is not None and single.detect(view, raw):
            chosen = single  # what _select_vendor answers when the only header vendor matches
        else:
            chosen = self._select_vendor(view, raw, vendor)
        try:
            return chosen.parse(raw, view), view  # Vendor.parse verifies, then parses
        except DeliveryError as exc:
            exc.vendor = chosen.name
            raise

    def parse(
        self, body: bytes, headers: HeaderInput | None = None, *, vendor: str | None = None
    ) -> WebhookEvent:
        """Verify and parse one delivery without running handlers (and without storing it).

        Raises :class:`~kyc_webhooks.errors.DeliveryError` subclasses (each with ``status_code``)
        for anything wrong with the request, :class:`UsageError` for a non-bytes body.
        """
        return self._authenticate(body, headers, vendor)[0]

    # -- handling ----------------------------------------------------------------------------

    def handle(
        self, body: bytes, headers: HeaderInput | None = None, *, vendor: str | None = None
    ) -> Outcome:
        """Verify, parse and dispatch one delivery to synchronous handlers.

        Returns an :class:`Outcome` whose ``status_code`` the endpoint should answer: 200 (also
        for unknown event types and events no handler wants), 400/401/413 for bad requests, 500
        when a handler raised (so that the vendor redelivers). Raises only for integrator
        mistakes (:class:`UsageError`, e.g. a ``str`` body or an async handler).

        With a store: 200 with ``duplicate=True`` for an event handled before (handlers do not
        run), 503 with ``retry_after`` while another worker handles the same event, 202 when
        ``defer=True``, 503 when the store fails.
        """
        try:
            event, view = self._authenticate(body, headers, vendor)
        except DeliveryError as exc:
            return self._log(Outcome(exc.status_code, error=exc, vendor=exc.vendor or vendor))
        store = self.store
        if store is None:
            # The common case, inlined: what _dispatch_sync + _success + _log do without a claim.
            try:
                handled = self.router.dispatch(event)
                if self.router.has_decision_routes:
                    handled += self._decide_without_store(event)
            except Exception as exc:
                if isinstance(exc, UsageError):
                    raise
                return self._log(self._handler_failed(event, exc))
            return self._handled(event, handled)
        try:
            added = store.add(self._new_delivery(event, view), lease=self._add_lease())
        except UsageError:
            raise
        except Exception as exc:  # StoreError, or anything else a store raises: 503, retry
            return self._log(self._store_failed(event, exc))
        early = self._without_dispatch(store, event, added)
        if early is not None:
            on_deferred = self.on_deferred
            if on_deferred is not None and added.created and early.status_code == 202:
                _notify_deferred(on_deferred, added.record.id, awaiting=False)
            return self._log(early)
        claim = added.claim
        assert claim is not None  # _without_dispatch answered every unclaimed case
        return self._dispatch_sync(event, claim)

    async def handle_async(
        self, body: bytes, headers: HeaderInput | None = None, *, vendor: str | None = None
    ) -> Outcome:
        """Like :meth:`handle`, awaiting ``async def`` handlers (plain ones are called directly).
        Calls into a blocking store (SQLite) run in a worker thread."""
        try:
            event, view = self._authenticate(body, headers, vendor)
        except DeliveryError as exc:
            return self._log(Outcome(exc.status_code, error=exc, vendor=exc.vendor or vendor))
        store = self.store
        if store is None:  # as in handle(): the common case without the general machinery
            try:
                handled = await self.router.dispatch_async(event)
                if self.router.has_decision_routes:
                    decision = event.decision
                    if decision is not None:
                        handled += await self.router.dispatch_decision_async(decision)
            except Exception as exc:
                if isinstance(exc, UsageError):
                    raise
                return self._log(self._handler_failed(event, exc))
            return self._handled(event, handled)
        try:
            added = await self._add_async(store, self._new_delivery(event, view))
        except UsageError:
            raise
        except Exception as exc:  # StoreError, or anything else a store raises: 503, retry
            return self._log(self._store_failed(event, exc))
        early = self._without_dispatch(store, event, added)
        if early is not None:
            on_deferred = self.on_deferred
            if on_deferred is not None and added.created and early.status_code == 202:
                pending = _notify_deferred(on_deferred, added.record.id, awaiting=True)
                if pending is not None:
                    await _await_deferred(pending, added.record.id)
            return self._log(early)
        claim = added.claim
        assert claim is not None  # _without_dispatch answered every unclaimed case
        return await self._dispatch_async(event, claim)

    def _handled(self, event: WebhookEvent, handled: int) -> Outcome:
        """The Outcome of a delivery handled without a store: what ``_success`` + ``_log`` give,
        with the counter and the log check inlined."""
        outcome = _handled_outcome(event, handled)
        with self._counts_lock:
            self._counts["handled"] += 1
        if logger.isEnabledFor(logging.INFO):
            _log_handled(outcome)
        return outcome

    async def _add_async(self, store: Store, delivery: NewDelivery) -> Added:
        """``store.add`` from async code. A blocking store's ``add`` runs in a worker thread that a
        cancellation (client gone, server timeout) cannot stop: the thread may still claim the
        record. So the call is shielded, and on cancellation the claim it took is released before
        the cancellation propagates -- else the record would stay blocked for ``lease_timeout``."""
        lease = self._add_lease()
        if not store.blocking:
            result: Added = store.add(delivery, lease=lease)
            return result
        import asyncio

        task = asyncio.ensure_future(asyncio.to_thread(store.add, delivery, lease=lease))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            await self._release_abandoned_add(store, task)
            raise

    async def _release_abandoned_add(self, store: Store, task: Any) -> None:
        import asyncio

        try:
            added: Added = await asyncio.shield(task)
        except Exception:  # the add failed: nothing was claimed
            return
        if added.claim is not None:
            name = "CancelledError"
            await self._release_async(store, added.claim, name, f"handling interrupted ({name})")

    # -- deferred processing and replay --------------------------------------------------------

    def process_pending(
        self, *, limit: int = 100, max_attempts: int = DEFAULT_MAX_ATTEMPTS
    ) -> ProcessSummary:
        """Claim stored deliveries that still need their handlers -- deferred ones, failed ones
        past their back-off, and ones whose worker died (expired lease) -- and run the handlers,
        with the same exactly-once guarantee as :meth:`handle`. At most ``limit`` deliveries;
        deliveries with ``max_attempts`` attempts are left ``failed`` (see ``replay``).

        Only deliveries of this receiver's vendors are claimed. Raises ``StoreError`` when the
        store fails, ``UsageError`` for async handlers (use :meth:`process_pending_async`).
        """
        store = self._require_store("process_pending")
        limit = _positive_int(limit, "limit")
        max_attempts = _positive_int(max_attempts, "max_attempts")
        outcomes: list[Outcome] = []
        for _ in range(limit):
            claim = store.claim_next(
                lease=self.lease_timeout, max_attempts=max_attempts, vendors=tuple(self._vendors)
            )
            if claim is None:
                break
            outcomes.append(self._process_claim_sync(store, claim))
        return ProcessSummary(tuple(outcomes))

    async def process_pending_async(
        self, *, limit: int = 100, max_attempts: int = DEFAULT_MAX_ATTEMPTS
    ) -> ProcessSummary:
        """Like :meth:`process_pending`, awaiting ``async def`` handlers."""
        store = self._require_store("process_pending_async")
        limit = _positive_int(limit, "limit")
        max_attempts = _positive_int(max_attempts, "max_attempts")
        outcomes: list[Outcome] = []
        for _ in range(limit):
            claim = await _call(
                store,
                store.claim_next,
                lease=self.lease_timeout,
                max_attempts=max_attempts,
                vendors=tuple(self._vendors),
            )
            if claim is None:
                break
            outcomes.append(await self._process_claim_async(store, claim))
        return ProcessSummary(tuple(outcomes))

    def replay(self, delivery_id: str) -> Outcome:
        """Run the handlers again on a stored delivery, on purpose (``outcome.replay`` is True,
        the record's ``replays`` counts it). A done delivery stays done if the replay fails.

        Raises ``DeliveryNotFoundError`` for an unknown id and ``BodyErasedError`` when the body
        was erased; answers 503 (in progress) while another worker holds the delivery.
        """
        store = self._require_store("replay")
        record = store.get(delivery_id)
        _check_replayable(record)
        claim = store.claim(delivery_id, lease=self.lease_timeout, replay=True)
        if claim is None:
            assert record is not None
            return self._log(self._in_progress(store, record, None, replay=True))
        return self._process_claim_sync(store, claim)

    async def replay_async(self, delivery_id: str) -> Outcome:
        """Like :meth:`replay`, awaiting ``async def`` handlers."""
        store = self._require_store("replay_async")
        record = await _call(store, store.get, delivery_id)
        _check_replayable(record)
        claim = await _call(store, store.claim, delivery_id, lease=self.lease_timeout, replay=True)
        if claim is None:
            assert record is not None
            return self._log(self._in_progress(store, record, None, replay=True))
        return await self._process_claim_async(store, claim)

    def process(self, delivery_id: str) -> Outcome:
        """Run the handlers of one stored delivery -- what a queue worker's task calls with a
        deferred delivery's id -- with the same exactly-once guarantee as :meth:`handle`:

        * a ``done`` delivery is a duplicate: 200, the handlers do not run again (a redelivered
          task is harmless);
        * one held by a live lease answers 503 (in progress) with ``Retry-After``;
        * a ``failed`` one waits for its back-off: 503 with ``Retry-After`` until then (the
          sweeper, ``process_pending()``, picks it up when it is due);
        * otherwise the handlers run, and the record becomes ``done`` or ``failed``.

        Raises ``DeliveryNotFoundError`` for an unknown id, ``StoreError`` when the store fails
        and ``UsageError`` for async handlers (use :meth:`process_async`).
        """
        store = self._require_store("process")
        record = store.get(delivery_id)
        early = self._not_processable(store, delivery_id, record)
        if early is not None:
            return self._log(early)
        claim = store.claim(delivery_id, lease=self.lease_timeout)
        if claim is None:
            assert record is not None
            return self._log(self._in_progress(store, record, None))
        return self._process_claim_sync(store, claim)

    async def process_async(self, delivery_id: str) -> Outcome:
        """Like :meth:`process`, awaiting ``async def`` handlers."""
        store = self._require_store("process_async")
        record = await _call(store, store.get, delivery_id)
        early = self._not_processable(store, delivery_id, record)
        if early is not None:
            return self._log(early)
        claim = await _call(store, store.claim, delivery_id, lease=self.lease_timeout)
        if claim is None:
            assert record is not None
            return self._log(self._in_progress(store, record, None))
        return await self._process_claim_async(store, claim)

    def _not_processable(
        self, store: Store, delivery_id: str, record: DeliveryRecord | None
    ) -> Outcome | None:
        """The outcome of :meth:`process` when the handlers must not run now, else ``None``."""
        if record is None:
            raise DeliveryNotFoundError("no stored delivery has this id")
        if record.done:
            return Outcome(
                200, record.vendor, record.event_type, None, delivery_id=delivery_id, duplicate=True
            )
        if record.not_before is not None:
            wait = (record.not_before - store.now()).total_seconds()
            if wait > 0:
                error = DeliveryInProgressError("this delivery failed and waits for its retry")
                error.vendor = record.vendor
                return Outcome(
                    error.status_code,
                    record.vendor,
                    record.event_type,
                    None,
                    error,
                    delivery_id=delivery_id,
                    retry_after=max(1, math.ceil(wait)),
                )
        return None

    # -- internals -----------------------------------------------------------------------------

    def _require_store(self, what: str) -> Store:
        if self.store is None:
            raise UsageError(f"{what}() needs a receiver built with store=...")
        return self.store

    def _add_lease(self) -> float | None:
        return None if self.defer else self.lease_timeout

    def _new_delivery(self, event: WebhookEvent, headers: Headers) -> NewDelivery:
        vendor = self._vendors[event.vendor]  # the configured vendor that parsed it
        hidden = vendor.auth_headers | _NEVER_STORED
        return NewDelivery(
            delivery_key=event.delivery_key,
            vendor=event.vendor,
            event_type=event.event_type or "-",
            body=storable_body(vendor.name, event.raw_body),
            headers=tuple(
                (_storable_text(n), _storable_text(v))
                for n, v in headers.multi_items()
                if n not in hidden
            ),
        )

    def _without_dispatch(self, store: Store, event: WebhookEvent, added: Added) -> Outcome | None:
        """The outcome when the handlers must not run for this request, else ``None``."""
        record = added.record
        base = Outcome(200, event.vendor, event.event_type, event, delivery_id=record.id)
        if self.defer:
            if added.created:
                return replace(base, status_code=202)
            return replace(base, status_code=200 if record.done else 202, duplicate=True)
        if added.claim is not None:
            return None
        if record.done:
            return replace(base, duplicate=True)
        return self._in_progress(store, record, event)

    @staticmethod
    def _in_progress(
        store: Store, record: DeliveryRecord, event: WebhookEvent | None, *, replay: bool = False
    ) -> Outcome:
        retry_after = None
        if record.lease_until is not None:
            try:
                remaining = (record.lease_until - store.now()).total_seconds()
            except Exception:  # a failing clock only loses the hint
                remaining = 1.0
            retry_after = max(1, math.ceil(remaining))
        error = DeliveryInProgressError(
            "this event is being handled by another worker; retry later"
        )
        error.vendor = record.vendor
        return Outcome(
            error.status_code,
            record.vendor,
            record.event_type,
            event,
            error,
            delivery_id=record.id,
            retry_after=retry_after,
            replay=replay,
        )

    def _reparse(self, claim: Claim) -> WebhookEvent | WebhookError:
        """The event of a stored delivery, parsed again from the stored body (it was
        authenticated when it arrived), or the error that prevents it."""
        record = claim.record
        vendor = self._vendors.get(record.vendor)
        if vendor is None:
            return ConfigurationError(f"vendor {record.vendor!r} is not configured here")
        if record.body is None:
            return BodyErasedError("the stored body was erased; the delivery cannot be handled")
        try:
            # No authentication: the body was authenticated when it arrived (and Identomat's
            # stored copy has its key redacted, so it could not be authenticated again).
            return parse_unauthenticated(vendor, record.body, Headers(record.headers))
        except DeliveryError as exc:
            exc.vendor = vendor.name
            return exc

    def _unprocessable(self, claim: Claim, error: WebhookError) -> Outcome:
        record = claim.record
        return Outcome(
            error.status_code,
            record.vendor,
            record.event_type,
            None,
            error,
            delivery_id=record.id,
            replay=claim.replay,
        )

    def _process_claim_sync(self, store: Store, claim: Claim) -> Outcome:
        parsed = self._reparse(claim)
        if isinstance(parsed, WebhookError):
            self._release_sync(store, claim, type(parsed).__name__, parsed.message)
            return self._log(self._unprocessable(claim, parsed))
        return self._dispatch_sync(parsed, claim)

    async def _process_claim_async(self, store: Store, claim: Claim) -> Outcome:
        parsed = self._reparse(claim)
        if isinstance(parsed, WebhookError):
            await self._release_async(store, claim, type(parsed).__name__, parsed.message)
            return self._log(self._unprocessable(claim, parsed))
        return await self._dispatch_async(parsed, claim)

    # The two below run handlers for a claimed stored delivery; without a store, handle() and
    # handle_async() dispatch directly.

    def _decide_without_store(self, event: WebhookEvent) -> int:
        """Without a store, decision handlers run for every event that carries a decision."""
        decision = event.decision
        return 0 if decision is None else self.router.dispatch_decision(decision)

    # With a store, a delivery whose event carries a decision takes the subject lease of the
    # decision ledger *before* any handler runs (store.begin_decision): the deliveries of one
    # verification are serialised, so that the ticket's ``changes`` is true for exactly one of
    # them per real change of the effective decision. When another delivery of the subject holds
    # the lease, nothing has run yet: the claim is released and the delivery retried shortly
    # (503 + Retry-After for the vendor). The entry is recorded with the completion
    # (store.complete(claim, decision=ticket)); a failing handler aborts the ticket.

    def _dispatch_sync(self, event: WebhookEvent, claim: Claim) -> Outcome:
        store = self.store
        assert store is not None
        decision: Decision | None = None
        ticket: DecisionTicket | None = None
        try:
            decision = event.decision
            if decision is not None:
                begun = self._begin_sync(store, claim, decision)
                if isinstance(begun, Outcome):
                    return self._log(begun)
                ticket = begun
            handled = self.router.dispatch(event)
            if ticket is not None and ticket.changes:
                assert decision is not None
                handled += self.router.dispatch_decision(decision)
        except BaseException as exc:
            if ticket is not None:
                self._abort_sync(store, ticket)
            self._release_sync(store, claim, *_failure(exc))
            if isinstance(exc, UsageError) or not isinstance(exc, Exception):
                raise
            return self._log(self._handler_failed(event, exc, claim))
        try:
            if ticket is None:
                recorded = store.complete(claim)
            else:
                recorded = store.complete(claim, decision=ticket)
        except Exception as exc:
            _log_store_error("complete", _store_error(exc))
            _warn_not_recorded(claim, store_failed=True)
        else:
            if not recorded:
                _warn_not_recorded(claim, store_failed=False)
        return self._log(self._success(event, handled, claim))

    async def _dispatch_async(self, event: WebhookEvent, claim: Claim) -> Outcome:
        store = self.store
        assert store is not None
        decision: Decision | None = None
        ticket: DecisionTicket | None = None
        try:
            decision = event.decision
            if decision is not None:
                begun = await self._begin_async(store, claim, decision)
                if isinstance(begun, Outcome):
                    return self._log(begun)
                ticket = begun
            handled = await self.router.dispatch_async(event)
            if ticket is not None and ticket.changes:
                assert decision is not None
                handled += await self.router.dispatch_decision_async(decision)
        except BaseException as exc:
            if ticket is not None:
                await self._abort_async(store, ticket)
            await self._release_async(store, claim, *_failure(exc))
            if isinstance(exc, UsageError) or not isinstance(exc, Exception):
                raise
            return self._log(self._handler_failed(event, exc, claim))
        try:
            if ticket is None:
                recorded = await _call(store, store.complete, claim)
            else:
                recorded = await _call(store, store.complete, claim, decision=ticket)
        except Exception as exc:
            _log_store_error("complete", _store_error(exc))
            _warn_not_recorded(claim, store_failed=True)
        else:
            if not recorded:
                _warn_not_recorded(claim, store_failed=False)
        return self._log(self._success(event, handled, claim))

    def _begin_sync(
        self, store: Store, claim: Claim, decision: Decision
    ) -> DecisionTicket | Outcome:
        """The subject lease for ``decision``, or the outcome when it cannot be had now (the
        claim is then released)."""
        try:
            ticket = store.begin_decision(
                claim, ledger_entry(decision, claim.record), lease=self.lease_timeout
            )
        except UsageError:
            raise
        except Exception as exc:
            error = _store_error(exc)
            _log_store_error("begin_decision", error)
            self._release_sync(store, claim, type(error).__name__, STORE_UNAVAILABLE_DETAIL)
            return self._ledger_unavailable(decision, claim, error)
        if ticket is None:
            self._release_busy_sync(store, claim)
            return self._subject_busy(decision, claim)
        return ticket

    async def _begin_async(
        self, store: Store, claim: Claim, decision: Decision
    ) -> DecisionTicket | Outcome:
        try:
            ticket = await _call(
                store,
                store.begin_decision,
                claim,
                ledger_entry(decision, claim.record),
                lease=self.lease_timeout,
            )
        except UsageError:
            raise
        except Exception as exc:
            error = _store_error(exc)
            _log_store_error("begin_decision", error)
            await self._release_async(store, claim, type(error).__name__, STORE_UNAVAILABLE_DETAIL)
            return self._ledger_unavailable(decision, claim, error)
        if ticket is None:
            await self._release_busy_async(store, claim)
            return self._subject_busy(decision, claim)
        assert isinstance(ticket, DecisionTicket)
        return ticket

    @staticmethod
    def _ledger_unavailable(decision: Decision, claim: Claim, error: StoreError) -> Outcome:
        event = decision.event
        return Outcome(
            error.status_code,
            decision.vendor,
            decision.event_type,
            event,
            error,
            delivery_id=claim.record.id,
            replay=claim.replay,
        )

    @staticmethod
    def _subject_busy(decision: Decision, claim: Claim) -> Outcome:
        error = DeliveryInProgressError(
            "another delivery of the same verification is being handled; retry later"
        )
        error.vendor = decision.vendor
        return Outcome(
            error.status_code,
            decision.vendor,
            decision.event_type,
            decision.event,
            error,
            delivery_id=claim.record.id,
            retry_after=SUBJECT_BUSY_RETRY,
            replay=claim.replay,
        )

    _BUSY = ("DeliveryInProgressError", "another delivery of the same verification held it")

    def _release_busy_sync(self, store: Store, claim: Claim) -> None:
        try:
            store.fail(
                claim,
                error_type=self._BUSY[0],
                error_message=self._BUSY[1],
                retry_at=store.now() + timedelta(seconds=SUBJECT_BUSY_RETRY),
            )
        except Exception as exc:  # the lease expires on its own
            _log_store_error("fail", _store_error(exc))

    async def _release_busy_async(self, store: Store, claim: Claim) -> None:
        try:
            await _call(
                store,
                store.fail,
                claim,
                error_type=self._BUSY[0],
                error_message=self._BUSY[1],
                retry_at=store.now() + timedelta(seconds=SUBJECT_BUSY_RETRY),
            )
        except Exception as exc:
            _log_store_error("fail", _store_error(exc))

    @staticmethod
    def _abort_sync(store: Store, ticket: DecisionTicket) -> None:
        try:
            store.abort_decision(ticket)
        except Exception as exc:  # the subject lease expires on its own
            _log_store_error("abort_decision", _store_error(exc))

    @staticmethod
    async def _abort_async(store: Store, ticket: DecisionTicket) -> None:
        try:
            await _call(store, store.abort_decision, ticket)
        except Exception as exc:
            _log_store_error("abort_decision", _store_error(exc))

    @staticmethod
    def _retry_at(store: Store, claim: Claim) -> Any:
        attempts = max(1, claim.record.attempts)
        delay = min(RETRY_BACKOFF_BASE * 2 ** min(attempts - 1, 32), RETRY_BACKOFF_MAX)
        return store.now() + timedelta(seconds=delay)

    def _release_sync(self, store: Store, claim: Claim, error_type: str, message: str) -> None:
        try:
            store.fail(
                claim,
                error_type=error_type,
                error_message=message,
                retry_at=self._retry_at(store, claim),
            )
        except Exception as exc:  # the lease expires on its own; never mask the real error
            _log_store_error("fail", _store_error(exc))

    async def _release_async(
        self, store: Store, claim: Claim, error_type: str, message: str
    ) -> None:
        try:
            await _call(
                store,
                store.fail,
                claim,
                error_type=error_type,
                error_message=message,
                retry_at=self._retry_at(store, claim),
            )
        except Exception as exc:
            _log_store_error("fail", _store_error(exc))

    @staticmethod
    def _success(event: WebhookEvent, handled: int, claim: Claim) -> Outcome:
        return Outcome(
            200,
            event.vendor,
            event.event_type,
            event,
            handled=handled,
            delivery_id=claim.record.id,
            replay=claim.replay,
        )

    @staticmethod
    def _handler_failed(event: WebhookEvent, exc: Exception, claim: Claim | None = None) -> Outcome:
        if isinstance(exc, PayloadError):
            malformed = _malformed_section(event)
            if malformed is not None:
                # The delivery's content is at fault, not the handler: it read a lazy section of
                # this event that does not validate. Answer 400, as for a malformed body at the
                # door; _log() records it as a rejection (no traceback: the message names fields).
                rejected = Outcome(400, event.vendor, event.event_type, event, malformed)
                if claim is not None:
                    rejected = replace(rejected, delivery_id=claim.record.id, replay=claim.replay)
                return rejected
            # Else the PayloadError came from elsewhere (another event, a nested parse): a bug in
            # the handler like any other exception.
        error = HandlerError(f"handler raised {type(exc).__name__}", exc)
        error.__cause__ = exc
        # Never exc_info: a traceback ends with str(exc), which may quote personal data from the
        # payload. The frames (file, line, function, source line) locate the bug without it.
        logger.error(
            "handler failed vendor=%s event_type=%s delivery_key=%s error=%s\n"
            "Traceback (most recent call last, exception message omitted):\n%s%s",
            event.vendor,
            event.event_type,
            event.delivery_key,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
            _qualified_name(exc),
        )
        outcome = Outcome(500, event.vendor, event.event_type, event, error)
        if claim is not None:
            outcome = replace(outcome, delivery_id=claim.record.id, replay=claim.replay)
        return outcome

    @staticmethod
    def _store_failed(event: WebhookEvent, exc: Exception) -> Outcome:
        error = _store_error(exc)
        _log_store_error("add", error)
        return Outcome(
            error.status_code,
            event.vendor,
            event.event_type,
            event,
            error,
            retry_after=STORE_RETRY_AFTER,
        )

    def _count(self, outcome: Outcome) -> None:
        error = outcome.error
        counts = self._counts
        if error is None:
            if outcome.duplicate:
                key = "duplicates"
            elif outcome.status_code == 202:
                key = "deferred"
            else:
                key = "replayed" if outcome.replay else "handled"
        elif isinstance(error, HandlerError):
            key = "handler_failures"
        elif isinstance(error, DeliveryInProgressError):
            key = "in_progress"
        elif isinstance(error, (BodyErasedError, DeliveryNotFoundError)):
            key = "unprocessable"
        elif isinstance(error, StoreError):
            key = "store_errors"
        elif isinstance(error, DeliveryError) and outcome.delivery_id is None:
            with self._counts_lock:
                counts["rejected"] += 1
                counts[f"rejected_{outcome.status_code}"] += 1
            return
        else:
            key = "unprocessable"
        with self._counts_lock:
            counts[key] += 1

    def _log(self, outcome: Outcome) -> Outcome:
        self._count(outcome)
        error = outcome.error
        if isinstance(error, (DeliveryInProgressError, StoreError)):
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    "delivery not handled now vendor=%s event_type=%s status=%d delivery_id=%s "
                    "error=%s",
                    outcome.vendor,
                    outcome.event_type,
                    outcome.status_code,
                    outcome.delivery_id,
                    type(error).__name__,
                )
        elif error is not None and not isinstance(error, HandlerError):
            if logger.isEnabledFor(logging.WARNING):
                logger.warning(
                    "delivery rejected vendor=%s status=%d error=%s detail=%s",
                    outcome.vendor or "-",
                    outcome.status_code,
                    type(error).__name__,
                    error.message,
                )
        elif logger.isEnabledFor(logging.INFO):
            _log_handled(outcome)
        return outcome


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


async def _await_deferred(pending: Awaitable[object], delivery_id: str) -> None:
    try:
        await pending
    except Exception as exc:
        _log_deferred_failure(delivery_id, exc)


def _log_deferred_failure(delivery_id: str, exc: Exception) -> None:
    # Class name only, never str(exc) or a traceback: a broker client's message may quote
    # connection details, and the frames are of no use to the operator here.
    logger.error(
        "on_deferred failed delivery_id=%s error=%s; the delivery is stored and answered 202, "
        "process_pending() (the sweeper) will handle it",
        delivery_id,
        _qualified_name(exc),
    )


def _log_handled(outcome: Outcome) -> None:
    logger.info(
        "delivery vendor=%s event_type=%s status=%d delivery_key=%s handled=%d "
        "duplicate=%s delivery_id=%s",
        outcome.vendor,
        outcome.event_type,
        outcome.status_code,
        outcome.delivery_key,
        outcome.handled,
        "yes" if outcome.duplicate else "no",
        outcome.delivery_id or "-",
    )


def _malformed_section(event: WebhookEvent) -> PayloadError | None:
    """The error of the first lazy section of ``event`` that does not validate, else ``None``."""
    error: PayloadError | None = None
    try:
        event.validate_lazy_fields()
    except PayloadError as exc:
        error = exc
        error.__context__ = None  # the handler's exception: not part of this error's story
        if error.vendor is None:
            error.vendor = event.vendor
    return error


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


def _qualified_name(exc: BaseException) -> str:
    cls = type(exc)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def _store_error(exc: Exception) -> StoreError:
    """``exc`` as the error of a failed store call. A store raises :class:`StoreError`; anything
    else it raises (a third-party store's driver error) is reported as one, so that ``handle()``
    answers 503 and the vendor retries instead of the exception escaping. Only our own errors'
    messages are kept: another exception's text may quote stored data."""
    if isinstance(exc, StoreError):
        return exc
    detail = f": {exc.message}" if isinstance(exc, WebhookError) else ""
    error = StoreError(f"the store raised {_qualified_name(exc)}{detail}")
    error.__cause__ = exc
    return error


def _log_store_error(operation: str, exc: WebhookError) -> None:
    logger.error(
        "delivery store failed operation=%s error=%s detail=%s",
        operation,
        type(exc).__name__,
        exc.message,
    )


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


async def _call(store: Store, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a store method from async code: in a worker thread when the store blocks on I/O, or
    through the store's own ``run_blocking`` coroutine function where it has one (the Django
    store runs the ORM where Django manages its connections)."""
    if not store.blocking:
        return func(*args, **kwargs)
    run_blocking = getattr(store, "run_blocking", None)
    if run_blocking is not None:
        return await run_blocking(func, *args, **kwargs)
    import asyncio

    return await asyncio.to_thread(func, *args, **kwargs)
