"""The whole error tree of kyc-webhooks, in one module.

Two branches hang off :class:`WebhookError`:

* mistakes of the *integrator* -- :class:`ConfigurationError` (raised when objects are built
  or handlers registered) and :class:`UsageError` (the API was called the wrong way, e.g. a
  ``str`` body). They are programming errors and are always raised.
* faults of the *delivery* -- :class:`DeliveryError` and its subclasses. Each carries the HTTP
  status the endpoint should answer. ``Receiver.handle()`` turns them into an ``Outcome``;
  ``Receiver.parse()`` raises them.

Messages name the header or field involved, never a secret, signature, digest or payload value, so
that they are safe to log and to return to the sender.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousVendorError",
    "AuthenticationError",
    "BodyErasedError",
    "ConfigurationError",
    "DeliveryError",
    "DeliveryInProgressError",
    "DeliveryNotFoundError",
    "HandlerError",
    "PayloadError",
    "PayloadTooLargeError",
    "StoreError",
    "UndetectableVendorError",
    "UsageError",
    "VendorNotConfiguredError",
    "WebhookError",
]


class WebhookError(Exception):
    """Root of every exception kyc-webhooks raises on purpose.

    ``status_code`` is the HTTP status an endpoint should answer when this error ends a request.
    """

    status_code: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ConfigurationError(WebhookError, ValueError):
    """The receiver, a vendor or a handler registration is misconfigured (empty secret, unknown
    vendor name, registration after the first dispatch ...). Raised at construction time."""


class UsageError(WebhookError, TypeError):
    """The public API was called the wrong way (a ``str``/``dict`` body instead of the raw bytes,
    an ``async def`` handler under the synchronous ``handle()`` ...)."""


class DeliveryError(WebhookError):
    """A delivery was refused. Subclasses set the HTTP ``status_code`` to answer with.

    ``vendor`` names the vendor the request was attributed to, when that was known.
    """

    status_code = 400
    vendor: str | None = None


class AuthenticationError(DeliveryError):
    """The delivery could not be authenticated: missing, malformed or wrong signature/token/key."""

    status_code = 401


class VendorNotConfiguredError(AuthenticationError):
    """The request looks like it comes from a vendor this receiver has no credentials for.

    It is refused like any unauthenticated request (401): we never trust what we cannot verify.
    """


class PayloadError(DeliveryError):
    """The authenticated body is malformed: not UTF-8 JSON, not an object, or a field the vendor
    guarantees is missing or has the wrong type."""

    status_code = 400


class UndetectableVendorError(PayloadError):
    """No configured vendor recognises the request (no distinctive header or body shape)."""


class AmbiguousVendorError(PayloadError):
    """The request carries the marks of more than one vendor; the receiver never guesses."""


class PayloadTooLargeError(DeliveryError):
    """The body is larger than the receiver's ``max_body_size``; it was not read further."""

    status_code = 413


class HandlerError(WebhookError):
    """A registered handler raised. The original exception is ``__cause__`` (and ``.original``).

    The endpoint answers 500 so that the vendor redelivers the event.
    """

    status_code = 500

    def __init__(self, message: str, original: BaseException) -> None:
        super().__init__(message)
        self.original = original


class DeliveryInProgressError(DeliveryError):
    """A redelivery arrived while another worker still holds the claim on the same event.

    Answered with 503 (and a ``Retry-After`` hint in ``Outcome.retry_after``): every vendor retries
    a 5xx, and the event is never lost -- if the first attempt fails, the retry runs the handlers
    (docs/delivery-guarantees.md, "In progress").
    """

    status_code = 503


class StoreError(WebhookError):
    """The delivery store failed: the file is not a database, cannot be created or written, is
    locked for longer than the busy timeout, or has a schema newer than this library.

    An endpoint answers 503 so that the vendor redelivers once the store is back.
    """

    status_code = 503


class StoreSchemaError(StoreError):
    """The store's schema is not one this version of the library can use as it is: newer (a
    later release migrated it: upgrade, or restore), or older while the store may not migrate it
    (``create=False``: run ``kyc-webhooks migrate`` once the older version's processes stopped),
    or its file is corrupt (SQLite: restore it). Unlike other store failures it does not pass by
    itself; an endpoint still answers 503, so that the vendor redelivers once the deployment is
    fixed."""


class DeliveryNotFoundError(StoreError, LookupError):
    """No stored delivery has the given id (``receiver.replay``, ``store.claim``)."""

    status_code = 404


class BodyErasedError(StoreError):
    """The stored delivery's body was erased (retention or an erasure request): it can no longer be
    processed or replayed; its metadata remains."""

    status_code = 410
