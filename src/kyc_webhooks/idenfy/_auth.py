"""iDenfy: configuration and authentication (facts: ../shared/vendors/idenfy.md §2).

No models are imported here; they load on the first :meth:`Idenfy.parse`.
"""

from __future__ import annotations

from typing import ClassVar

from .._crypto import SecretInput, secrets_tuple, verify_hmac_sha256_hex
from .._headers import Headers
from .._vendor import Vendor
from ..models import WebhookEvent

__all__ = ["EVENT_TYPE_HEADER", "SIGNATURE_HEADER", "Idenfy"]

# Sheet §2.1: hex HMAC-SHA256 of the raw body, keyed with the notification's signing key (older
# docs: the account API secret -- either works here, both are "a key").
SIGNATURE_HEADER = "Idenfy-Signature"
# Sheet §2.3: the event name, required by the spec on every webhook; absent on legacy deliveries.
EVENT_TYPE_HEADER = "Idenfy-Event-Type"
#: Either header marks a request as iDenfy's (lower case, as Headers stores names).
_MARK_HEADERS = (EVENT_TYPE_HEADER.lower(), SIGNATURE_HEADER.lower())


class Idenfy(Vendor):
    """iDenfy deliveries, authenticated with ``Idenfy-Signature``.

    ``signing_key``: the notification's signing key (or the API secret for old integrations);
    pass a sequence to accept several during rotation.
    """

    name: ClassVar[str] = "idenfy"
    models_module: ClassVar[str] = "kyc_webhooks.idenfy.models"
    auth_headers: ClassVar[frozenset[str]] = frozenset({SIGNATURE_HEADER.lower()})

    def __init__(self, signing_key: SecretInput) -> None:
        self._keys = secrets_tuple(signing_key, name="signing_key")

    @classmethod
    def detect(cls, headers: Headers, body: bytes) -> bool:
        # The header map itself (per-delivery path: no further call); any mapping is accepted.
        items = (headers if type(headers) is Headers else Headers(headers))._items
        return _MARK_HEADERS[0] in items or _MARK_HEADERS[1] in items

    def verify(self, body: bytes, headers: Headers) -> None:
        verify_hmac_sha256_hex(body, headers, header=SIGNATURE_HEADER, keys=self._keys)

    def parse(self, body: bytes, headers: Headers) -> WebhookEvent:
        parse_event = self._parse_event or self._load_parser()
        if type(headers) is not Headers:
            headers = Headers(headers)
        event_types = headers._items.get(_MARK_HEADERS[0])  # what headers.get() reads, inline
        event: WebhookEvent = parse_event(body, event_types[0] if event_types else None)
        return event

    @classmethod
    def sample_headers(cls, event_type: str) -> dict[str, str]:
        return {EVENT_TYPE_HEADER: event_type}

    @classmethod
    def event_types(cls) -> tuple[str, ...]:
        from .models import EVENT_MODELS

        return tuple(EVENT_MODELS)

    def __repr__(self) -> str:
        return f"Idenfy(signing_key=<redacted>, keys={len(self._keys)})"
