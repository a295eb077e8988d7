"""iDenfy: configuration and authentication (facts: https://documentation.idenfy.com/kyc/webhooks).

No models are imported here; they load on the first :meth:`Idenfy.parse`.
"""

# Vendor documentation cited below as [name]:
# [signing] https://documentation.idenfy.com/security/callback-signing
# [notifications] https://documentation.idenfy.com/guides/dashboard/settings/system-notifications-webhooks-emails
# [spec] https://documentation.idenfy.com/api-reference/webhooks

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from .._crypto import (
    BearerValidator,
    SecretInput,
    bearer_validator_or_none,
    header_credentials,
    secrets_tuple,
    verify_bearer,
    verify_hmac_sha256_hex,
    verify_required_headers,
)
from .._headers import HeaderInput, Headers
from .._vendor import Vendor, body_bytes
from ..errors import ConfigurationError
from ._wire import AUTHORIZATION_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, SPELLINGS

if TYPE_CHECKING:
    from .models import IdenfyEvent

__all__ = [
    "AUTHORIZATION_HEADER",
    "EVENT_TYPE_HEADER",
    "SIGNATURE_HEADER",
    "Idenfy",
    "parse_unauthenticated",
]

#: Either header marks a request as iDenfy's (lower case, as Headers stores names; [signing],
#: [spec]). A delivery authenticated by custom headers only ([notifications]) has no
#: ``Idenfy-Signature``: ``Idenfy-Event-Type`` marks it.
_MARK_HEADERS = (EVENT_TYPE_HEADER.lower(), SIGNATURE_HEADER.lower())

_NO_CREDENTIAL = (
    "Idenfy needs at least one credential, all set per notification in the iDenfy dashboard "
    "(Settings -> System notifications): signing_key= (the notification's 'Signing key', sent as "
    "the Idenfy-Signature HMAC; older integrations: the API secret), required_headers= (the "
    "notification's custom headers, e.g. {'Authorization': 'Bearer ...'}), or bearer_validator= "
    "(a function checking the bearer token iDenfy fetches from your OAuth endpoint, set in the "
    "notification's OAuth settings). Several may be combined: then all must pass."
)


class Idenfy(Vendor):
    """iDenfy deliveries. Configure at least one credential; every one configured must pass.

    ``signing_key``: the notification's signing key (or the API secret for old integrations),
    checked against ``Idenfy-Signature``; pass a sequence to accept several during rotation.

    ``required_headers``: custom headers set on the notification, ``{name: value}``; a sequence of
    values accepts several during rotation. Compared in constant time; never stored or logged.

    ``bearer_validator``: for OAuth delivery, ``fn(token: str) -> bool`` called with the token of
    ``Authorization: Bearer <token>``; anything but ``True`` (``False``, an exception) is a 401.
    """

    name: ClassVar[str] = "idenfy"
    models_module: ClassVar[str] = "kyc_webhooks.idenfy.models"
    credential_param: ClassVar[str] = "signing_key"
    credential_env: ClassVar[str] = "IDENFY_SIGNING_KEY"
    auth_headers: frozenset[str] = frozenset({SIGNATURE_HEADER.lower()})

    def __init__(
        self,
        signing_key: SecretInput | None = None,
        *,
        required_headers: Mapping[str, SecretInput] | None = None,
        bearer_validator: BearerValidator | None = None,
    ) -> None:
        if signing_key is None and required_headers is None and bearer_validator is None:
            raise ConfigurationError(_NO_CREDENTIAL)
        self._keys = () if signing_key is None else secrets_tuple(signing_key, name="signing_key")
        self._required = (
            ()
            if required_headers is None
            else header_credentials(required_headers, name="required_headers")
        )
        self._bearer = bearer_validator_or_none(bearer_validator, name="bearer_validator")
        names = {key for key, _, _ in self._required}
        if names & set(_MARK_HEADERS):
            raise ConfigurationError(
                f"required_headers must not list {SIGNATURE_HEADER} or {EVENT_TYPE_HEADER} "
                "(use signing_key= for the signature)"
            )
        if self._bearer is not None and AUTHORIZATION_HEADER.lower() in names:
            raise ConfigurationError(
                f"bearer_validator reads the {AUTHORIZATION_HEADER} header; do not also list it "
                "in required_headers"
            )
        if self._bearer is not None:
            names.add(AUTHORIZATION_HEADER.lower())
        self.auth_headers = type(self).auth_headers | names

    @classmethod
    def detect(cls, headers: Headers, body: bytes) -> bool:
        view = headers if type(headers) is Headers else Headers(headers)  # any mapping
        return _MARK_HEADERS[0] in view or _MARK_HEADERS[1] in view

    def verify(self, body: bytes, headers: Headers) -> None:
        if self._keys:
            verify_hmac_sha256_hex(body, headers, header=SIGNATURE_HEADER, keys=self._keys)
        if self._required:
            verify_required_headers(headers, self._required)
        if self._bearer is not None:
            verify_bearer(headers, self._bearer, header=AUTHORIZATION_HEADER)

    @classmethod
    def sample_headers(cls, event_type: str) -> dict[str, str]:
        return {EVENT_TYPE_HEADER: event_type}

    @classmethod
    def normalize_pattern(cls, pattern: str) -> str:
        # The dashboard's spellings (IDENTIFICATION_CANCELED, ID_VERIFICATION_*) name the events
        # that parse reports under the documented type: a handler registered for one runs.
        if pattern in SPELLINGS:
            return SPELLINGS[pattern]
        if any(c in pattern for c in "*?["):
            # A wildcard in the same spelling ("ID_VERIFICATION_*", "*_CANCELED") names the same
            # events: it is read in the documented one, or it would match nothing, silently.
            if pattern.startswith("ID_VERIFICATION"):
                pattern = "IDENTIFICATION" + pattern[len("ID_VERIFICATION") :]
            pattern = pattern.replace("CANCELED", "CANCELLED")
        return pattern

    def __repr__(self) -> str:
        parts = []
        if self._keys:
            parts.append(f"signing_key=<redacted>, keys={len(self._keys)}")
        if self._required:
            parts.append(f"required_headers=[{', '.join(h for _, h, _ in self._required)}]")
        if self._bearer is not None:
            parts.append("bearer_validator=<function>")
        return f"Idenfy({', '.join(parts)})"


def parse_unauthenticated(body: bytes, headers: HeaderInput | None = None) -> IdenfyEvent:
    """**No authentication**: parse an iDenfy delivery into its event.

    Only for a body that was authenticated earlier (for instance one a delivery store kept):
    anyone can forge a body that parses. To authenticate a delivery, use ``Idenfy(...).parse()``
    or a :class:`~kyc_webhooks.Receiver`. ``headers`` supply ``Idenfy-Event-Type``; raises
    :class:`~kyc_webhooks.errors.PayloadError` for a body that does not validate."""
    event: IdenfyEvent = Idenfy.models().parse_event(body_bytes(body), Headers(headers))
    return event
