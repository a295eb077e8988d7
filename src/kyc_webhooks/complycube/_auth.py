"""ComplyCube: configuration and authentication (facts: https://docs.complycube.com/documentation/api-reference/other-resources/webhooks).

No models are imported here; they load on the first parse.
"""

# Vendor documentation cited below as [name]:
# [webhooks] https://docs.complycube.com/documentation/api-reference/other-resources/webhooks

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from .._crypto import SecretInput, secrets_tuple, verify_hmac_sha256_hex
from .._headers import HeaderInput, Headers
from .._vendor import Vendor, body_bytes
from ..errors import ConfigurationError
from ._wire import SIGNATURE_HEADER

if TYPE_CHECKING:
    from .models import ComplyCubeEvent

__all__ = ["SIGNATURE_HEADER", "ComplyCube", "parse_unauthenticated"]

# [webhooks]: the secret belongs to the webhook, returned only when it is created (API or portal).
# https://docs.complycube.com/documentation/api-reference/other-resources/webhooks
_NO_CREDENTIAL = (
    "ComplyCube needs secret=, the webhook's signing secret (sent as the ComplyCube-Signature "
    "HMAC). ComplyCube returns it once, when the webhook is created (POST /v1/webhooks or the "
    "Web Portal's webhook settings); if it was lost, create a new webhook."
)


class ComplyCube(Vendor):
    """ComplyCube deliveries, authenticated with ``ComplyCube-Signature``.

    ``secret``: the webhook secret (returned once, when the webhook is created); pass a sequence to
    accept several during rotation.

    Routing: ``event.event_type`` is the Event ``type`` in its current spelling -- the v1.7.2
    names ``check.complete``/``check.complete.<outcome>`` arrive as ``check.completed``/
    ``check.completed.<outcome>`` (the model's ``type`` keeps the wire value), and patterns written
    either way match both. ``"check.completed.*"`` matches the outcome-specific types but not plain
    ``check.completed`` (fnmatch: the dot is literal); use ``"check.completed*"`` for both. See
    :mod:`kyc_webhooks.complycube.models` for why. ``delivery_key`` is ``complycube:<event id>``.
    """

    name: ClassVar[str] = "complycube"
    models_module: ClassVar[str] = "kyc_webhooks.complycube.models"
    credential_param: ClassVar[str] = "secret"
    credential_env: ClassVar[str] = "COMPLYCUBE_SECRET"
    auth_headers: frozenset[str] = frozenset({SIGNATURE_HEADER.lower()})

    def __init__(self, secret: SecretInput | None = None) -> None:
        if secret is None:
            raise ConfigurationError(_NO_CREDENTIAL)
        self._keys = secrets_tuple(secret, name="secret")

    @classmethod
    def detect(cls, headers: Headers, body: bytes) -> bool:
        return SIGNATURE_HEADER in headers

    def verify(self, body: bytes, headers: Headers) -> None:
        verify_hmac_sha256_hex(body, headers, header=SIGNATURE_HEADER, keys=self._keys)

    @classmethod
    def normalize_pattern(cls, pattern: str) -> str:
        from .models import normalize_pattern

        return normalize_pattern(pattern)

    @classmethod
    def produces(cls, event_type: str) -> bool:
        # [checks]: check outcomes are an open set (the models' rule: outcome_family).
        return super().produces(event_type) or cls.models().outcome_family(event_type) is not None

    def __repr__(self) -> str:
        return f"ComplyCube(secret=<redacted>, keys={len(self._keys)})"


def parse_unauthenticated(body: bytes, headers: HeaderInput | None = None) -> ComplyCubeEvent:
    """**No authentication**: parse a ComplyCube delivery into its event.

    Only for a body that was authenticated earlier (for instance one a delivery store kept):
    anyone can forge a body that parses. To authenticate a delivery, use ``ComplyCube(...).parse()``
    or a :class:`~kyc_webhooks.Receiver`. ``headers`` are accepted for a uniform signature and not
    read; raises :class:`~kyc_webhooks.errors.PayloadError` for a body that does not validate."""
    event: ComplyCubeEvent = ComplyCube.models().parse_event(body_bytes(body), Headers(headers))
    return event
