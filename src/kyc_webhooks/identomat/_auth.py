"""Identomat callbacks: configuration and authentication (facts: https://docs.identomat.com/developer-tools/callbacks).

Identomat signs nothing: every callback body carries ``callbackApiKey``, the "Callback API key" of
the company settings. The key is compared in constant time and never shown in reprs or errors.

The key authenticates the sender, not the content: it is not a signature, so the rest of the body is
not integrity-protected (a byte changed outside the key still passes). Serve the callback URL over
HTTPS only. The key is also inside ``event.raw_body`` and ``model_dump()``: do not log or store
those verbatim.
"""

# Vendor documentation cited below as [name]:
# [docs] https://docs.identomat.com/developer-tools/callbacks

from __future__ import annotations

import json
from typing import TYPE_CHECKING, ClassVar

from .._crypto import SecretInput, secrets_tuple, verify_shared_key
from .._headers import HeaderInput, Headers
from .._redaction import REDACTED_VALUE, redact_fields
from .._validation import check_object_count, decode_json
from .._vendor import Vendor, body_bytes
from ..errors import AuthenticationError, ConfigurationError, PayloadError
from ._wire import API_KEY_FIELD

if TYPE_CHECKING:
    from .models import IdentomatEvent

__all__ = ["API_KEY_FIELD", "Identomat", "parse_unauthenticated"]

# [docs]: the key is set next to the Callback URL, in Company settings; both are mandatory.
# https://docs.identomat.com/developer-tools/callbacks
_NO_CREDENTIAL = (
    "Identomat needs api_key=, the 'Callback API key' set next to the Callback URL in the "
    "Identomat dashboard's Company settings (every callback body carries it as callbackApiKey)."
)


class Identomat(Vendor):
    """Identomat callbacks, authenticated by the ``callbackApiKey`` body field.

    ``api_key``: the Callback API key; a sequence accepts several (rotation).
    """

    name: ClassVar[str] = "identomat"
    models_module: ClassVar[str] = "kyc_webhooks.identomat.models"
    credential_param: ClassVar[str] = "api_key"
    credential_env: ClassVar[str] = "IDENTOMAT_API_KEY"
    credential_fields: ClassVar[frozenset[str]] = frozenset({API_KEY_FIELD})
    detection: ClassVar[str] = "body"

    def __init__(self, api_key: SecretInput | None = None) -> None:
        if api_key is None:
            raise ConfigurationError(_NO_CREDENTIAL)
        self._keys = secrets_tuple(api_key, name="api_key")

    @classmethod
    def detect(cls, headers: Headers, body: bytes) -> bool:
        return b'"callbackApiKey"' in body

    def verify(self, body: bytes, headers: Headers) -> None:
        # The key is inside the body, so authentication needs a JSON read first; an unreadable body
        # cannot be authenticated and is refused as such (401), before any validation. The read
        # is bounded first, as every read of a body is (_validation): read unbounded, 1 MiB of
        # ``{}`` cost ~40 ms (review R28). More objects than any body holds is unreadable too:
        # a 401, not the PayloadError (400) the signed vendors answer for an authenticated body
        # -- that one said "authenticated" of a body whose key nobody had read.
        try:
            check_object_count(body, what="Identomat callback")
        except PayloadError as exc:
            raise AuthenticationError(f"cannot read {API_KEY_FIELD}: {exc.message}") from None
        try:
            data = decode_json(body)  # an escaped lone surrogate too (_validation)
        except ValueError:
            raise AuthenticationError(f"cannot read {API_KEY_FIELD}: body is not JSON") from None
        if not isinstance(data, dict):
            raise AuthenticationError(f"cannot read {API_KEY_FIELD}: body is not a JSON object")
        verify_shared_key(data.get(API_KEY_FIELD), field=API_KEY_FIELD, keys=self._keys)
        if _may_repeat_the_key(body):  # only a holder of the key gets this far
            _refuse_an_ambiguous_key(body)

    def __repr__(self) -> str:
        return f"Identomat(api_key=<redacted>, keys={len(self._keys)})"


def _may_repeat_the_key(body: bytes) -> bool:
    # Without a backslash every key is spelled literally, so a repeated key shows twice in the
    # bytes; with one, a key may be written with escapes. Either way the exact check decides.
    return body.count(API_KEY_FIELD.encode()) > 1 or b"\\" in body


def _refuse_an_ambiguous_key(body: bytes) -> None:
    """401 unless ``callbackApiKey`` is a top-level key exactly once, spelled without escapes.

    Twice is ambiguous: JSON readers disagree on which copy counts (the pydantic-core of
    pydantic 2.7 reads the first where it picks a model by a tag, the last elsewhere), so the key
    authentication read might not be the one the event holds. Escaped (``"callbackApi\\u004bey"``),
    the key would escape the byte-exact redaction of the stored body (``_redaction``). Neither
    comes from Identomat; both are refused like a repeated credential header (fail closed)."""
    try:
        pairs = json.loads(body, object_pairs_hook=list)
    except (ValueError, RecursionError):
        raise AuthenticationError(f"cannot read {API_KEY_FIELD}: body is not JSON") from None
    if not isinstance(pairs, list) or sum(1 for key, _ in pairs if key == API_KEY_FIELD) != 1:
        raise AuthenticationError(f"{API_KEY_FIELD} must appear exactly once")
    stored = decode_json(redact_fields(body, (API_KEY_FIELD,)))
    if stored.get(API_KEY_FIELD) != REDACTED_VALUE.decode().strip('"'):
        raise AuthenticationError(f"{API_KEY_FIELD} must be spelled without escapes")


def parse_unauthenticated(body: bytes, headers: HeaderInput | None = None) -> IdentomatEvent:
    """**No authentication**: parse an Identomat callback into its event (``callbackApiKey`` is
    not checked).

    Only for a body that was authenticated earlier (for instance one a delivery store kept, whose
    key is redacted): anyone can forge a body that parses. To authenticate a delivery, use
    ``Identomat(...).parse()`` or a :class:`~kyc_webhooks.Receiver`. ``headers`` are accepted for
    a uniform signature and not read; raises :class:`~kyc_webhooks.errors.PayloadError` for a
    body that does not validate."""
    event: IdentomatEvent = Identomat.models().parse_event(body_bytes(body), Headers(headers))
    return event
