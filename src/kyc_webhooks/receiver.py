"""The receiver: configured vendors + a router. ``handle(body, headers) -> Outcome``.

Every delivery takes the same steps, in the order :meth:`Receiver._authenticate` runs them (the
one place to read it): type check of the body -> size cap -> vendor selection (pinned or
detected) -> authentication over the raw bytes -> decode and validate the same bytes -> dispatch
to the handlers. ``handle`` never raises for anything the sender controls; it maps each failure
to the HTTP status the endpoint should answer (:class:`~kyc_webhooks.outcome.Outcome`).

With a ``store`` (docs/delivery-guarantees.md) the dispatch step is the store runner's
(:mod:`kyc_webhooks.store._runner`): every authenticated delivery is recorded under its
``delivery_key`` and claimed before the handlers run, so that handlers run to success at most once
per event across threads and processes; ``defer=True`` answers 202 at once and leaves the handlers
to :meth:`Receiver.process_pending`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TypeVar

from ._headers import HeaderInput, Headers
from ._registry import detect_vendors, vendor_class
from ._vendor import DEFAULT_MAX_BODY_SIZE, Vendor
from .decisions import Decisions, DecisionStatus
from .errors import (
    AmbiguousVendorError,
    ConfigurationError,
    DeliveryError,
    PayloadTooLargeError,
    UndetectableVendorError,
    UsageError,
    VendorNotConfiguredError,
)
from .models import WebhookEvent
from .outcome import Outcome, ProcessSummary, Tally, handler_failure, log_interrupted
from .routing import DH, H, R, Router, warn_never_runs
from .store._base import LEASE_RULE, MAX_COUNT, Store, receivable, valid_lease
from .store._runner import DEFAULT_LEASE_TIMEOUT, DEFAULT_MAX_ATTEMPTS, StoreRunner

__all__ = [
    "DEFAULT_LEASE_TIMEOUT",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_MAX_BODY_SIZE",
    "Outcome",
    "ProcessSummary",
    "Receiver",
]

#: Seconds :meth:`Receiver.drain` waits by default: a few store calls, each bounded by the store's
#: own timeout.
DEFAULT_DRAIN_TIMEOUT = 10.0

E = TypeVar("E", bound=WebhookEvent)
#: A request body as :meth:`Receiver.handle` takes it: the raw bytes (a ``bytearray`` or
#: ``memoryview`` is copied to ``bytes``); never a decoded ``str``.
BodyInput = bytes | bytearray | memoryview


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


def _positive_number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigurationError(f"{name} must be a positive number of seconds")
    if math.isinf(value):
        raise ConfigurationError(f"{name} must be finite")
    return float(value)


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_COUNT:
        raise UsageError(f"{name} must be a positive int (at most 2**63 - 1)")
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
        if store is not None and not receivable(store):
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
        # Configured vendors recognised by a header of their own: a request that carries the
        # header of exactly one of them is theirs (headers outrank body shapes).
        self._header_vendors = tuple(v for v in configured.values() if v.detection == "header")
        self.max_body_size = max_body_size
        self.router = router if router is not None else Router()
        self.store = store
        self.defer = bool(defer)
        if not valid_lease(lease_timeout):  # what every store accepts, checked now (review R41)
            raise ConfigurationError(f"lease_timeout must be {LEASE_RULE}")
        self.lease_timeout = float(lease_timeout)
        #: Called with the id of each newly deferred delivery (see the class docstring). Public
        #: so that a queue integration's ``register()`` can set it after construction.
        self.on_deferred: Callable[[str], object] | None = on_deferred
        self._tally = Tally()
        # With a store, the store runner stores, claims and dispatches (store/_runner.py).
        self._runner = (
            None
            if store is None
            else StoreRunner(
                store,
                vendors=configured,
                router=self.router,
                tally=self._tally,
                defer=self.defer,
                lease_timeout=self.lease_timeout,
            )
        )

    # -- configuration -----------------------------------------------------------------------

    @property
    def vendors(self) -> Mapping[str, Vendor]:
        """The configured vendors by name (read-only)."""
        return dict(self._vendors)

    def prepare(self, *, sync: bool = False) -> Receiver:
        """Build every configured vendor's models and validators now -- call it at application
        startup. Without it they are built on demand: a vendor's event model on its first
        delivery (an iDenfy identification: ~20-45 ms in a fresh process, docs/performance.md),
        a section on its first read. Then :meth:`check` the handlers (``sync=True`` when you
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

    def on_event(self, model: type[E]) -> Callable[[Callable[[E], R]], Callable[[E], R]]:
        """Typed decorator: register a handler for every event that is an instance of ``model``
        (see :meth:`Router.on_event`); returns the function unchanged."""
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
        """The effective decisions the store's ledger keeps: ``.latest(vendor, subject)``,
        ``.for_client(client_ref)``, and ``.forget(client_ref=...)`` for an erasure request.
        Raises :class:`UsageError` without a store."""
        return Decisions(self._require_runner("decisions").store)

    def stats(self) -> dict[str, int]:
        """Counters of this receiver object (this process): ``handled``, ``duplicates``,
        ``deferred``, ``replayed``, ``in_progress``, ``handler_failures``, ``store_errors``,
        ``unprocessable`` (a stored delivery that could not be re-parsed), ``rejected`` and
        ``rejected_<status>``. Rejected requests are counted here, never stored:
        unauthenticated traffic must not be able to make the endpoint write to disk."""
        return self._tally.counts()

    def reject(self, error: DeliveryError, *, vendor: str | None = None) -> Outcome:
        """The :class:`Outcome` of a delivery refused before :meth:`handle` could take it -- a
        body an adapter stopped reading at ``max_body_size``, or a :meth:`parse` error your own
        endpoint answers: counted in :meth:`stats` and logged as :meth:`handle` counts and logs
        its own rejections (the log line names headers and fields, never a value)."""
        if not isinstance(error, DeliveryError):
            raise UsageError("reject() takes a DeliveryError")
        return self._tally.record(Outcome.rejected(error, vendor=error.vendor or vendor))

    # -- the pipeline: handle -> _authenticate (the steps, in order) -> dispatch ---------------

    def handle(
        self, body: BodyInput, headers: HeaderInput | None = None, *, vendor: str | None = None
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
            return self.reject(exc, vendor=vendor)
        if self._runner is not None:
            return self._runner.handle(event, view, self.on_deferred)
        try:
            handled = self.router.dispatch(event)
            decision = event.decision if self.router.has_decision_routes else None
            if decision is not None:
                # Without a store, decision handlers run for every event carrying a decision.
                handled += self.router.dispatch_decision(decision)
        except Exception as exc:
            if isinstance(exc, UsageError):
                raise
            return self._tally.record(handler_failure(event, exc))
        return self._tally.record(Outcome.success(event, handled))

    async def handle_async(
        self, body: BodyInput, headers: HeaderInput | None = None, *, vendor: str | None = None
    ) -> Outcome:
        """Like :meth:`handle`, awaiting ``async def`` handlers (plain ones are called directly, or
        through the router's ``run_sync``). Calls into a blocking store (SQLite) run in a worker
        thread."""
        try:
            event, view = self._authenticate(body, headers, vendor)
        except DeliveryError as exc:
            return self.reject(exc, vendor=vendor)
        if self._runner is not None:
            return await self._runner.handle_async(event, view, self.on_deferred)
        try:
            decision = event.decision if self.router.has_decision_routes else None
            # One run for both (a cancellation held while a plain handler ran in a thread of
            # ``Router.run_sync`` arrives after all of them, as with a store).
            handled = await self.router.dispatch_async(event, decision)
        except Exception as exc:
            if isinstance(exc, UsageError):
                raise
            return self._tally.record(handler_failure(event, exc))
        except BaseException:  # cancelled: no answer, but a line (review R60)
            log_interrupted(event, None, started=True)
            raise
        return self._tally.record(Outcome.success(event, handled))

    def parse(
        self, body: BodyInput, headers: HeaderInput | None = None, *, vendor: str | None = None
    ) -> WebhookEvent:
        """Verify and parse one delivery without running handlers (and without storing it).

        Raises :class:`~kyc_webhooks.errors.DeliveryError` subclasses (each with ``status_code``)
        for anything wrong with the request, :class:`UsageError` for a non-bytes body.
        """
        return self._authenticate(body, headers, vendor)[0]

    def _authenticate(
        self, body: BodyInput, headers: HeaderInput | None, vendor: str | None
    ) -> tuple[WebhookEvent, Headers]:
        """The steps every delivery takes before its handlers, in order (the 6th, dispatch, is
        the caller's: :meth:`handle`, or the store runner with a store). Raises the
        :class:`DeliveryError` that refuses it (``vendor`` set to the vendor chosen, if any)."""
        raw = _check_body(body)  # 1. the raw bytes (a str cannot be verified)
        if len(raw) > self.max_body_size:  # 2. the size cap, before any parsing
            raise PayloadTooLargeError(
                f"body is {len(raw)} bytes, over the {self.max_body_size}-byte limit"
            )
        view = headers if type(headers) is Headers else Headers(headers)
        chosen = self._select_vendor(view, raw, vendor)  # 3. pinned, or detected
        try:
            # 4. verify the signature over the raw bytes, 5. then validate the same bytes
            return chosen.parse(raw, view, max_body_size=None), view  # capped above
        except DeliveryError as exc:
            exc.vendor = chosen.name
            raise

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

    # -- stored deliveries (the store runner does the work) ------------------------------------

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
        runner = self._require_runner("process_pending")
        return runner.process_pending(
            _positive_int(limit, "limit"), _positive_int(max_attempts, "max_attempts")
        )

    async def process_pending_async(
        self, *, limit: int = 100, max_attempts: int = DEFAULT_MAX_ATTEMPTS
    ) -> ProcessSummary:
        """Like :meth:`process_pending`, awaiting ``async def`` handlers."""
        runner = self._require_runner("process_pending_async")
        return await runner.process_pending_async(
            _positive_int(limit, "limit"), _positive_int(max_attempts, "max_attempts")
        )

    def replay(self, delivery_id: str, *, skip_done: bool = False) -> Outcome:
        """Run the handlers again on a stored delivery, on purpose (``outcome.replay`` is True,
        the record's ``replays`` counts it), whatever its state and back-off. A done delivery
        stays done if the replay fails.

        ``skip_done=True``: unless the delivery is ``done`` -- decided by the store in the claim
        itself, atomically, so that a worker completing it a moment before wins -- in which case
        nothing runs and the outcome is a duplicate (200, ``outcome.duplicate``). For replaying
        failed deliveries while the worker may be retrying them too: none is handled twice.

        Raises ``DeliveryNotFoundError`` for an unknown id and ``BodyErasedError`` when the body
        was erased; answers 503 (in progress) while another worker holds the delivery.
        """
        return self._require_runner("replay").replay(delivery_id, skip_done=skip_done)

    async def replay_async(self, delivery_id: str, *, skip_done: bool = False) -> Outcome:
        """Like :meth:`replay`, awaiting ``async def`` handlers."""
        runner = self._require_runner("replay_async")
        return await runner.replay_async(delivery_id, skip_done=skip_done)

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
        return self._require_runner("process").process(delivery_id)

    async def process_async(self, delivery_id: str) -> Outcome:
        """Like :meth:`process`, awaiting ``async def`` handlers."""
        return await self._require_runner("process_async").process_async(delivery_id)

    async def drain(self, timeout: float = DEFAULT_DRAIN_TIMEOUT) -> int:
        """At the end of an application: wait, at most ``timeout`` seconds, until the store
        calls that outlive cancelled or finished requests of this event loop have run -- a claim
        given back for a request the server cancelled, the release after a failed handler, the
        completion of handlers that ran, a queue hand-off (``on_deferred``) still running after
        its 202 -- and return how many are still under way (0: none).

        A server that cancels the requests in flight and then exits (uvicorn with
        ``--timeout-graceful-shutdown``) would otherwise end them too: records left
        ``processing`` until their lease expires (the vendor's retries answered 503), and the
        handlers of a completed request run again. ``WebhookApp`` and FastAPI's
        ``webhook_router`` call it when the application shuts down; call it in your own
        shutdown hook otherwise. Without a store there is nothing to wait for."""
        if self._runner is None:
            return 0
        return await self._runner.drain(_positive_number(timeout, "timeout"))

    def _require_runner(self, what: str) -> StoreRunner:
        if self._runner is None:
            raise UsageError(f"{what}() needs a receiver built with store=...")
        return self._runner
