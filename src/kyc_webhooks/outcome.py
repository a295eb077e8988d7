"""What happened to one delivery: :class:`Outcome`, built by its named constructors, and the
:class:`Tally` that counts and logs every outcome a receiver returns.

Each constructor names one way a delivery can end: ``success`` (200: handled; the name
``handled`` is the field counting the handlers that ran), ``rejected`` (refused before
it was authenticated and parsed: 400/401/413...), ``deferred`` (stored, 202), ``duplicate`` (seen
before: the handlers do not run again), ``in_progress`` (another worker holds it: 503 with
``retry_after``) and ``failed`` (an error after authentication: a handler, the store, a stored body
that cannot be handled). :func:`handler_failure` turns an exception from a handler into one.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import (
    BodyErasedError,
    DeliveryError,
    DeliveryInProgressError,
    DeliveryNotFoundError,
    HandlerError,
    PayloadError,
    StoreError,
    WebhookError,
)

if TYPE_CHECKING:
    from .models import WebhookEvent
    from .store._base import DeliveryRecord

__all__ = [
    "STORE_UNAVAILABLE_DETAIL",
    "Outcome",
    "ProcessSummary",
    "Tally",
    "handler_failure",
    "loggable",
]

logger = logging.getLogger("kyc_webhooks")

#: ``Outcome.response_body()`` detail for a failed store (the full message goes to the log only).
STORE_UNAVAILABLE_DETAIL = "delivery store unavailable; retry later"


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

    # -- named constructors ----------------------------------------------------------------
    # ``record`` is the stored delivery (its id becomes ``delivery_id``); ``replay`` is True when
    # the handlers run again on purpose (Receiver.replay).

    @classmethod
    def success(
        cls,
        event: WebhookEvent,
        handlers_run: int,
        *,
        record: DeliveryRecord | None = None,
        replay: bool = False,
    ) -> Outcome:
        """200: the handlers ran to success (``handlers_run`` of them; 0 when none wanted it)."""
        return cls(
            200,
            event.vendor,
            event.event_type,
            event,
            handled=handlers_run,
            delivery_id=None if record is None else record.id,
            replay=replay,
        )

    @classmethod
    def rejected(cls, error: DeliveryError, *, vendor: str | None = None) -> Outcome:
        """The request was refused before it became an event (bad body, size, vendor, auth)."""
        return cls(error.status_code, vendor, error=error)

    @classmethod
    def failed(
        cls,
        error: WebhookError,
        *,
        event: WebhookEvent | None = None,
        record: DeliveryRecord | None = None,
        replay: bool = False,
        retry_after: int | None = None,
    ) -> Outcome:
        """An authenticated delivery that was not handled because of ``error`` (its status):
        vendor and event type come from ``event``, else from the stored ``record``."""
        source: WebhookEvent | DeliveryRecord | None = event if event is not None else record
        return cls(
            error.status_code,
            None if source is None else source.vendor,
            None if source is None else source.event_type,
            event,
            error,
            delivery_id=None if record is None else record.id,
            retry_after=retry_after,
            replay=replay,
        )

    @classmethod
    def deferred(
        cls, event: WebhookEvent, record: DeliveryRecord, *, duplicate: bool = False
    ) -> Outcome:
        """202: stored, the handlers run later (``process_pending`` or a queue worker)."""
        return cls(
            202,
            event.vendor,
            event.event_type,
            event,
            duplicate=duplicate,
            delivery_id=record.id,
        )

    @classmethod
    def duplicate_of(cls, record: DeliveryRecord, event: WebhookEvent | None = None) -> Outcome:
        """200: the stored delivery is done; the handlers do not run again. Vendor and event type
        come from ``event`` when there is one, else from the record."""
        source: WebhookEvent | DeliveryRecord = event if event is not None else record
        return cls(
            200,
            source.vendor,
            source.event_type,
            event,
            duplicate=True,
            delivery_id=record.id,
        )

    @classmethod
    def in_progress(
        cls,
        record: DeliveryRecord,
        retry_after: int | None,
        *,
        event: WebhookEvent | None = None,
        replay: bool = False,
        reason: str = "this event is being handled by another worker; retry later",
    ) -> Outcome:
        """503 with ``retry_after``: the handlers must not run now (another worker holds the
        delivery, or its retry is not due yet); ``reason`` is the error's message."""
        error = DeliveryInProgressError(reason)
        error.vendor = record.vendor
        return cls(
            error.status_code,
            record.vendor,
            record.event_type,
            event,
            error,
            delivery_id=record.id,
            retry_after=retry_after,
            replay=replay,
        )

    # -- reading ---------------------------------------------------------------------------

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


def handler_failure(
    event: WebhookEvent,
    exc: Exception,
    *,
    record: DeliveryRecord | None = None,
    replay: bool = False,
) -> Outcome:
    """The outcome of a handler that raised ``exc`` on ``event``: 500 (the vendor redelivers),
    with the traceback logged without the exception's message -- or 400 when the handler read a
    section of the event that does not validate (the delivery is at fault, not the handler)."""
    if isinstance(exc, PayloadError):
        malformed = _malformed_section(event)
        if malformed is not None:
            # Tally.record logs it as a rejection (no traceback: the message names fields).
            return Outcome.failed(malformed, event=event, record=record, replay=replay)
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
        loggable(event.event_type),
        loggable(event.delivery_key),
        type(exc).__name__,
        "".join(traceback.format_tb(exc.__traceback__)),
        qualified_name(exc),
    )
    return Outcome.failed(error, event=event, record=record, replay=replay)


def _malformed_section(event: WebhookEvent) -> PayloadError | None:
    """The error of the first section of ``event`` that does not validate, else ``None``."""
    error: PayloadError | None = None
    try:
        event.validate_sections()
    except PayloadError as exc:
        error = exc
        error.__context__ = None  # the handler's exception: not part of this error's story
        if error.vendor is None:
            error.vendor = event.vendor
    return error


def qualified_name(exc: BaseException) -> str:
    """``module.Class`` of an exception (the bare name for a builtin): what logs show of it."""
    cls = type(exc)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


#: The counters :meth:`Tally.counts` always has (``rejected_<status>`` appear when counted).
COUNTERS = (
    "handled",
    "duplicates",
    "deferred",
    "replayed",
    "in_progress",
    "handler_failures",
    "store_errors",
    "unprocessable",
    "rejected",
)


class Tally:
    """The counters of one receiver (``Receiver.stats()``), and its one log line per outcome."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def counts(self) -> dict[str, int]:
        with self._lock:
            counts = dict(self._counts)
        for key in COUNTERS:
            counts.setdefault(key, 0)
        return counts

    def record(self, outcome: Outcome) -> Outcome:
        """Count ``outcome`` and log it; returns it. Every outcome a receiver returns (from
        ``handle``, ``process``, ``replay``, ``process_pending``) passes here once."""
        error = outcome.error
        keys = _counter_keys(outcome)
        with self._lock:
            for key in keys:
                self._counts[key] += 1
        if isinstance(error, (DeliveryInProgressError, StoreError)):
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    "delivery not handled now vendor=%s event_type=%s status=%d delivery_id=%s "
                    "error=%s",
                    outcome.vendor,
                    loggable(outcome.event_type),
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
                    loggable(error.message),
                )
        elif logger.isEnabledFor(logging.INFO):
            logger.info(
                "delivery vendor=%s event_type=%s status=%d delivery_key=%s handled=%d "
                "duplicate=%s delivery_id=%s",
                outcome.vendor,
                loggable(outcome.event_type),
                outcome.status_code,
                loggable(outcome.delivery_key),
                outcome.handled,
                "yes" if outcome.duplicate else "no",
                outcome.delivery_id or "-",
            )
        return outcome


def log_interrupted(event: WebhookEvent, delivery_id: str | None, *, started: bool) -> None:
    """The one log line of a delivery whose request was cancelled (the client went away, a server
    timeout or shutdown): no answer is sent, so no :class:`Outcome` is counted -- without this
    line a handler cut off half way, or one that finished unanswered, left no trace (review R60).
    """
    logger.warning(
        "delivery interrupted vendor=%s event_type=%s delivery_key=%s delivery_id=%s "
        "handlers_started=%s: the request was cancelled (client gone, server timeout or "
        "shutdown)%s",
        event.vendor,
        loggable(event.event_type),
        loggable(event.delivery_key),
        delivery_id or "-",
        "yes" if started else "no",
        "" if delivery_id is None else "; the store retries it or answers its redelivery",
    )


def loggable(text: str | None) -> str | None:
    """``text`` for a log line: an event type (the signed body's own text for most vendors) or a
    delivery key can hold a line break, which would forge a log line; such characters are written
    as escapes (``\\n``), and so is a backslash (doubled), so that a sender's two characters
    ``\\n`` never read as an escaped line break."""
    if text is None or (text.isprintable() and "\\" not in text):
        return text
    return text.encode("unicode_escape", "backslashreplace").decode("ascii")


def _counter_keys(outcome: Outcome) -> tuple[str, ...]:
    error = outcome.error
    if error is None:
        if outcome.duplicate:
            return ("duplicates",)
        if outcome.status_code == 202:
            return ("deferred",)
        return ("replayed",) if outcome.replay else ("handled",)
    if isinstance(error, HandlerError):
        return ("handler_failures",)
    if isinstance(error, DeliveryInProgressError):
        return ("in_progress",)
    if isinstance(error, (BodyErasedError, DeliveryNotFoundError)):
        return ("unprocessable",)
    if isinstance(error, StoreError):
        return ("store_errors",)
    if isinstance(error, DeliveryError) and outcome.delivery_id is None:
        return ("rejected", f"rejected_{outcome.status_code}")
    return ("unprocessable",)
