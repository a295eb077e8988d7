"""Throwaway credentials, signed sample deliveries, and :class:`WebhookTester` -- a receiver for
all four vendors plus the matching signing secrets, so that a handler test is three lines long."""

from __future__ import annotations

import secrets as _secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar, cast

from .._registry import VENDOR_NAMES
from ..errors import ConfigurationError, HandlerError, UsageError
from ._payloads import sample_payload
from ._signing import sign

if TYPE_CHECKING:
    from .._headers import HeaderInput
    from .._vendor import Vendor
    from ..models import WebhookEvent
    from ..receiver import BodyInput, Outcome, Receiver
    from ..routing import H, R, Router

__all__ = [
    "Delivery",
    "WebhookTester",
    "generate_secrets",
    "make_vendors",
    "signed_delivery",
    "tamper",
]

AuthType = Literal["basic", "bearer"]
E = TypeVar("E", bound="WebhookEvent")


class Delivery(NamedTuple):
    """One HTTP delivery as the vendor would send it: the exact body bytes and the headers."""

    body: bytes
    headers: dict[str, str]


def generate_secrets() -> dict[str, str]:
    """Fresh random credentials for every vendor (the Yoti one has Basic's ``user:password`` form).

    They are throwaway values for tests and demos: never configure a real endpoint with them.
    """
    return {
        "idenfy": _secrets.token_hex(16),
        "complycube": _secrets.token_hex(16),
        "yoti": f"kyc-test:{_secrets.token_hex(12)}",
        "identomat": _secrets.token_hex(16),
    }


def make_vendors(secrets: Mapping[str, str], *, yoti_auth_type: AuthType = "basic") -> list[Vendor]:
    """Vendor objects (``kw.Idenfy(...)`` ...) for every vendor named in ``secrets``, in the
    registry order. Unknown names raise :class:`~kyc_webhooks.ConfigurationError`."""
    from ..complycube import ComplyCube
    from ..idenfy import Idenfy
    from ..identomat import Identomat
    from ..yoti import Yoti

    unknown = sorted(set(secrets) - set(VENDOR_NAMES))
    if unknown:
        raise ConfigurationError(
            f"unknown vendor {unknown[0]!r}; expected one of {', '.join(VENDOR_NAMES)}"
        )
    vendors: list[Vendor] = []
    for name in VENDOR_NAMES:
        if name not in secrets:
            continue
        secret = secrets[name]
        if name == "idenfy":
            vendors.append(Idenfy(signing_key=secret))
        elif name == "complycube":
            vendors.append(ComplyCube(secret=secret))
        elif name == "yoti":
            vendors.append(Yoti(auth_token=secret, auth_type=yoti_auth_type))
        else:
            vendors.append(Identomat(api_key=secret))
    return vendors


def signed_delivery(
    vendor: str,
    event_type: str,
    secret: str,
    /,
    *,
    auth_type: AuthType = "basic",
    **overrides: Any,
) -> Delivery:
    """A signed sample delivery in one call: :func:`sample_payload` then :func:`sign`.

    ``overrides`` work as in :func:`sample_payload`; ``auth_type`` is Yoti's ``Authorization``
    scheme. Returns a :class:`Delivery` (unpacks as ``body, headers``)::

        body, headers = signed_delivery("complycube", "check.completed", secret)
        outcome = receiver.handle(body, headers)
    """
    payload = sample_payload(vendor, event_type, **overrides)
    body, headers = sign(vendor, payload, secret, event_type=event_type, auth_type=auth_type)
    return Delivery(body, headers)


def tamper(delivery: Delivery | tuple[bytes, Mapping[str, str]]) -> Delivery:
    """The same delivery with the body changed after signing (headers kept) -- what an attacker
    produces. iDenfy and ComplyCube sign the body, so a receiver must reject it (401).

    A field is added at the end of the JSON object (the body stays valid JSON), so the rejection
    is the signature's doing, not the parser's. Identomat and Yoti do not sign bodies;
    for them, authentication only depends on the key/header, so a tampered body still passes.
    """
    body, headers = delivery
    index = body.rfind(b"}")
    if index < 0:
        raise UsageError("tamper() expects a JSON object body")
    # Add a field just before the final brace: still a JSON object, different content and bytes.
    head = body[:index].rstrip()
    separator = b"" if head.endswith(b"{") else b","
    return Delivery(head + separator + b'"tampered":true' + body[index:], dict(headers))


class WebhookTester:
    """A :class:`~kyc_webhooks.Receiver` plus the secrets it trusts, to deliver signed samples.

    Without arguments it configures all four vendors with fresh throwaway secrets. Pass your own
    ``receiver`` (and the ``secrets`` it was built with) to exercise your application's handlers::

        tester = WebhookTester()
        seen = []
        tester.on("idenfy", "IDENTIFICATION*")(seen.append)
        outcome = tester.deliver("idenfy", "IDENTIFICATION_AUTO_FINISHED", status__overall="DENIED")
        assert outcome.ok and seen[0].status["overall"] == "DENIED"

    ``outcomes`` records every :class:`~kyc_webhooks.Outcome` in delivery order.

    A handler that raises fails the test: :meth:`deliver` (and :meth:`handle` and their async
    forms) re-raise its exception -- the original one, with its traceback -- after recording the
    500 outcome. To assert on that outcome instead (the answer the vendor would get), pass
    ``raise_handler_errors=False`` (or set the attribute).
    """

    def __init__(
        self,
        receiver: Receiver | None = None,
        *,
        secrets: Mapping[str, str] | None = None,
        router: Router | None = None,
        yoti_auth_type: AuthType | None = None,
        raise_handler_errors: bool = True,
        shared: bool = False,
    ) -> None:
        from ..receiver import Receiver

        if receiver is not None and secrets is None:
            raise ConfigurationError(
                "pass the secrets your receiver was configured with, so that deliveries are "
                "signed with them: WebhookTester(receiver, secrets={...})"
            )
        if receiver is not None and router is not None:
            raise ConfigurationError("pass either a receiver or a router, not both")
        self.secrets: dict[str, str] = dict(secrets) if secrets is not None else generate_secrets()
        if receiver is None:
            receiver = Receiver(
                *make_vendors(self.secrets, yoti_auth_type=yoti_auth_type or "basic"),
                router=router,
            )
        self.receiver: Receiver = receiver
        if yoti_auth_type is None:
            yoti = receiver.vendors.get("yoti")
            yoti_auth_type = getattr(yoti, "auth_type", "basic")
        # In any case, as Yoti takes it: "BEARER" built the receiver, then the signer refused it
        # on the first delivery (review R33).
        self.yoti_auth_type: AuthType = cast(AuthType, (yoti_auth_type or "basic").lower())
        self.outcomes: list[Outcome] = []
        #: Re-raise a handler's exception from :meth:`handle`/:meth:`deliver` (default), instead
        #: of only returning the 500 outcome.
        self.raise_handler_errors = raise_handler_errors
        #: The receiver's router is your application's, shared by other tests: :meth:`on` and
        #: :meth:`on_event` refuse to add a handler to it (it would run in every later test).
        self.shared = shared

    def _record(self, outcome: Outcome) -> Outcome:
        self.outcomes.append(outcome)
        error = outcome.error
        if self.raise_handler_errors and isinstance(error, HandlerError):
            # The handler's own exception, its traceback intact (the receiver logged the class and
            # frames only; a test wants the message too).
            raise error.original
        return outcome

    # -- registration passthrough ------------------------------------------------------------

    def on(self, vendor: str = "*", pattern: str = "*") -> Callable[[H], H]:
        """``receiver.on(...)``: register a handler (before the first delivery)."""
        self._check_not_shared()
        return self.receiver.on(vendor, pattern)

    def on_event(self, model: type[E]) -> Callable[[Callable[[E], R]], Callable[[E], R]]:
        """``receiver.on_event(...)``: register a typed handler."""
        self._check_not_shared()
        return self.receiver.on_event(model)

    def _check_not_shared(self) -> None:
        if self.shared:
            raise ConfigurationError(
                "this tester delivers to your application's router, shared by every test: a "
                "handler added here would run in every later test. Register test handlers on a "
                "tester of their own (the default kyc_tester fixture, or WebhookTester())"
            )

    # -- building deliveries -----------------------------------------------------------------

    def secret(self, vendor: str) -> str:
        try:
            return self.secrets[vendor]
        except KeyError:
            raise ConfigurationError(f"no secret configured for vendor {vendor!r}") from None

    def sign(
        self, vendor: str, payload: Mapping[str, Any] | bytes, *, event_type: str | None = None
    ) -> Delivery:
        """Sign any payload (a dict or raw bytes) with this tester's secret for ``vendor``."""
        body, headers = sign(
            vendor,
            payload,
            self.secret(vendor),
            event_type=event_type,
            auth_type=self.yoti_auth_type,
        )
        return Delivery(body, headers)

    def delivery(self, vendor: str, event_type: str, /, **overrides: Any) -> Delivery:
        """A signed sample delivery of ``event_type`` (see :func:`sample_payload` for overrides)."""
        return signed_delivery(
            vendor, event_type, self.secret(vendor), auth_type=self.yoti_auth_type, **overrides
        )

    # -- delivering --------------------------------------------------------------------------

    def handle(self, body: BodyInput, headers: HeaderInput | None = None) -> Outcome:
        """``receiver.handle(body, headers)``, recorded in :attr:`outcomes`; re-raises a handler's
        exception unless ``raise_handler_errors`` is False."""
        return self._record(self.receiver.handle(body, headers))

    async def handle_async(self, body: BodyInput, headers: HeaderInput | None = None) -> Outcome:
        """``await receiver.handle_async(body, headers)``, recorded in :attr:`outcomes`; re-raises
        a handler's exception unless ``raise_handler_errors`` is False."""
        return self._record(await self.receiver.handle_async(body, headers))

    def deliver(self, vendor: str, event_type: str, /, **overrides: Any) -> Outcome:
        """Sign a sample of ``event_type`` (with ``overrides``) and hand it to the receiver."""
        return self.handle(*self.delivery(vendor, event_type, **overrides))

    async def deliver_async(self, vendor: str, event_type: str, /, **overrides: Any) -> Outcome:
        """Like :meth:`deliver`, through ``handle_async`` (``async def`` handlers)."""
        return await self.handle_async(*self.delivery(vendor, event_type, **overrides))

    def __repr__(self) -> str:
        return f"WebhookTester(vendors={sorted(self.receiver.vendors)}, secrets=<redacted>)"
