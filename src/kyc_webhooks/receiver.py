"""The receiver: configured vendors + a router. ``handle(body, headers) -> Outcome``.

Order for every delivery (DEVELOPERS.md principle 1): type check of the body -> size cap ->
vendor selection (pinned or detected) -> authentication over the raw bytes -> decode and validate
the same bytes -> dispatch to handlers. ``handle`` never raises for anything the sender controls;
it maps each failure to the HTTP status the endpoint should answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ._headers import HeaderInput, Headers
from ._vendor import Vendor, detect_vendors, vendor_class
from .errors import (
    AmbiguousVendorError,
    ConfigurationError,
    DeliveryError,
    HandlerError,
    PayloadTooLargeError,
    UndetectableVendorError,
    UsageError,
    VendorNotConfiguredError,
    WebhookError,
)
from .models import WebhookEvent
from .routing import Router

__all__ = ["DEFAULT_MAX_BODY_SIZE", "Outcome", "Receiver"]

logger = logging.getLogger("kyc_webhooks")

#: 1 MiB: the largest documented bodies (iDenfy identifications with AML hits) are a few dozen KiB.
DEFAULT_MAX_BODY_SIZE = 1024 * 1024

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
        detail = (
            "a handler failed; the delivery will be retried"
            if isinstance(self.error, HandlerError)
            else self.error.message
        )
        return {"ok": False, "error": type(self.error).__name__, "detail": detail}


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


class Receiver:
    """Authenticates, parses and routes deliveries from the configured vendors.

    >>> import kyc_webhooks as kw
    >>> receiver = kw.Receiver(kw.Idenfy(signing_key="secret"))
    """

    def __init__(
        self,
        *vendors: Vendor,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        router: Router | None = None,
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
        self._vendors = configured
        self.max_body_size = max_body_size
        self.router = router if router is not None else Router()

    # -- configuration -----------------------------------------------------------------------

    @property
    def vendors(self) -> Mapping[str, Vendor]:
        """The configured vendors by name (read-only)."""
        return dict(self._vendors)

    def on(self, vendor: str = "*", pattern: str = "*") -> Callable[[H], H]:
        """Decorator registering a handler for ``vendor`` (a vendor name, or ``"*"``) and an
        fnmatch ``pattern`` on the event type. Handlers run in registration order."""
        return self.router.on(vendor, pattern)

    def on_event(self, model: type[E]) -> Callable[[Callable[[E], Any]], Callable[[E], Any]]:
        """Typed decorator: register a handler for every event that is an instance of ``model``."""
        return self.router.on_event(model)

    # -- verification and parsing ------------------------------------------------------------

    def _select_vendor(self, headers: Headers, body: bytes, pinned: str | None) -> Vendor:
        if pinned is not None:
            vendor_class(pinned)  # unknown name -> ConfigurationError (integrator's typo)
            configured = self._vendors.get(pinned)
            if configured is None:
                raise VendorNotConfiguredError(f"vendor {pinned!r} is not configured")
            return configured
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

    def parse(
        self, body: bytes, headers: HeaderInput | None = None, *, vendor: str | None = None
    ) -> WebhookEvent:
        """Verify and parse one delivery without running handlers.

        Raises :class:`~kyc_webhooks.errors.DeliveryError` subclasses (each with ``status_code``)
        for anything wrong with the request, :class:`UsageError` for a non-bytes body.
        """
        raw = _check_body(body)
        if len(raw) > self.max_body_size:
            raise PayloadTooLargeError(
                f"body is {len(raw)} bytes, over the {self.max_body_size}-byte limit"
            )
        view = Headers.of(headers)
        chosen = self._select_vendor(view, raw, vendor)
        try:
            chosen.verify(raw, view)
            return chosen.parse(raw, view)
        except DeliveryError as exc:
            exc.vendor = chosen.name
            raise

    # -- handling ----------------------------------------------------------------------------

    def handle(
        self, body: bytes, headers: HeaderInput | None = None, *, vendor: str | None = None
    ) -> Outcome:
        """Verify, parse and dispatch one delivery to synchronous handlers.

        Returns an :class:`Outcome` whose ``status_code`` the endpoint should answer: 200 (also
        for unknown event types and events no handler wants), 400/401/413 for bad requests, 500
        when a handler raised (so that the vendor redelivers). Raises only for integrator
        mistakes (:class:`UsageError`, e.g. a ``str`` body or an async handler).
        """
        try:
            event = self.parse(body, headers, vendor=vendor)
        except DeliveryError as exc:
            return self._log(Outcome(exc.status_code, error=exc, vendor=exc.vendor or vendor))
        try:
            handled = self.router.dispatch(event)
        except UsageError:
            raise
        except Exception as exc:
            return self._log(self._handler_failed(event, exc))
        return self._log(self._success(event, handled))

    async def handle_async(
        self, body: bytes, headers: HeaderInput | None = None, *, vendor: str | None = None
    ) -> Outcome:
        """Like :meth:`handle`, awaiting ``async def`` handlers (plain ones are called directly)."""
        try:
            event = self.parse(body, headers, vendor=vendor)
        except DeliveryError as exc:
            return self._log(Outcome(exc.status_code, error=exc, vendor=exc.vendor or vendor))
        try:
            handled = await self.router.dispatch_async(event)
        except UsageError:
            raise
        except Exception as exc:
            return self._log(self._handler_failed(event, exc))
        return self._log(self._success(event, handled))

    @staticmethod
    def _success(event: WebhookEvent, handled: int) -> Outcome:
        return Outcome(200, event.vendor, event.event_type, event, handled=handled)

    @staticmethod
    def _handler_failed(event: WebhookEvent, exc: Exception) -> Outcome:
        error = HandlerError(f"handler raised {type(exc).__name__}", exc)
        error.__cause__ = exc
        logger.error(
            "handler failed vendor=%s event_type=%s delivery_key=%s error=%s",
            event.vendor,
            event.event_type,
            event.delivery_key,
            type(exc).__name__,
            exc_info=exc,
        )
        return Outcome(500, event.vendor, event.event_type, event, error)

    @staticmethod
    def _log(outcome: Outcome) -> Outcome:
        if outcome.error is not None and not isinstance(outcome.error, HandlerError):
            if logger.isEnabledFor(logging.WARNING):
                logger.warning(
                    "delivery rejected vendor=%s status=%d error=%s detail=%s",
                    outcome.vendor or "-",
                    outcome.status_code,
                    type(outcome.error).__name__,
                    outcome.error.message,
                )
        elif logger.isEnabledFor(logging.INFO):
            logger.info(
                "delivery vendor=%s event_type=%s status=%d delivery_key=%s handled=%d",
                outcome.vendor,
                outcome.event_type,
                outcome.status_code,
                outcome.delivery_key,
                outcome.handled,
            )
        return outcome
