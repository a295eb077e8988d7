"""Constant-time verification building blocks, stdlib only, reused by every vendor.

* :func:`secrets_tuple` normalises "one secret or several" (rotation) at construction time.
* :func:`verify_hmac_sha256_hex` -- hex HMAC-SHA256 of the raw body in a header (iDenfy,
  ComplyCube).
* :func:`verify_authorization` -- ``Authorization: Basic|Bearer`` tokens (Yoti).
* :func:`verify_shared_key` -- an API key carried inside the JSON body (Identomat).

Every function returns ``None`` or raises :class:`~kyc_webhooks.errors.AuthenticationError`; none of
them returns a bool that a caller could forget to check. All comparisons use
:func:`hmac.compare_digest`. Error messages name the header, never its value or the secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from typing import Literal, TypeAlias

from ._headers import Headers
from .errors import AuthenticationError, ConfigurationError

__all__ = [
    "SecretInput",
    "hmac_sha256_hex",
    "secrets_tuple",
    "single_header",
    "verify_authorization",
    "verify_hmac_sha256_hex",
    "verify_shared_key",
]

SecretInput: TypeAlias = str | bytes | Sequence[str | bytes]

_SHA256_HEX_LEN = 64


def secrets_tuple(value: SecretInput | None, *, name: str) -> tuple[bytes, ...]:
    """Normalise one secret or a sequence of them (key rotation) to UTF-8 ``bytes``.

    Raises :class:`ConfigurationError` for a missing, empty or blank secret, or an empty sequence,
    naming the parameter but never echoing the value.
    """
    if value is None:
        raise ConfigurationError(f"{name} is required")
    items: Sequence[str | bytes] = [value] if isinstance(value, (str, bytes)) else value
    if isinstance(items, (dict, set, frozenset)) or not isinstance(items, Sequence):
        raise ConfigurationError(f"{name} must be a string or a sequence of strings")
    out: list[bytes] = []
    for item in items:
        if isinstance(item, str):
            raw = item.encode("utf-8")
        elif isinstance(item, bytes):
            raw = item
        else:
            raise ConfigurationError(f"{name} must be a string or a sequence of strings")
        if not raw.strip():
            raise ConfigurationError(f"{name} must not be empty")
        out.append(raw)
    if not out:
        raise ConfigurationError(f"{name} must contain at least one secret")
    return tuple(dict.fromkeys(out))


def single_header(headers: Headers, name: str) -> str:
    """The one value of header ``name``; a missing or repeated header is an authentication failure
    (two different signatures on one request are never "probably fine")."""
    values = headers._items.get(name.lower())  # no copy: this runs on every delivery
    if not values:
        raise AuthenticationError(f"missing {name} header")
    if len(values) > 1:
        raise AuthenticationError(f"{name} header sent more than once")
    return values[0]


def hmac_sha256_hex(key: bytes, body: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of ``body`` -- what iDenfy and ComplyCube put in their headers."""
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_hmac_sha256_hex(
    body: bytes, headers: Headers, *, header: str, keys: tuple[bytes, ...]
) -> None:
    """Check that ``header`` holds the hex HMAC-SHA256 of the raw ``body`` under one of ``keys``.

    Hex is compared case-insensitively (vendors document lower case; upper case carries the same
    digest, so accepting it loses no security). Non-ASCII, non-hex or wrong-length values fail
    closed with a clear message.
    """
    values = headers._items.get(header.lower())
    value = (values[0] if values and len(values) == 1 else single_header(headers, header)).strip()
    if not value.isascii() or len(value) != _SHA256_HEX_LEN:
        raise AuthenticationError(f"malformed {header} header: expected 64 hex characters")
    try:
        expected = bytes.fromhex(value)
    except ValueError as exc:
        raise AuthenticationError(f"malformed {header} header: expected 64 hex characters") from exc
    ok = False
    for key in keys:
        # Every key is tried (no early exit), so timing does not reveal which one matched.
        ok |= hmac.compare_digest(hmac.digest(key, body, "sha256"), expected)
    if not ok:
        raise AuthenticationError(f"invalid {header} signature")


AuthScheme: TypeAlias = Literal["basic", "bearer"]


def verify_authorization(
    headers: Headers,
    *,
    scheme: AuthScheme,
    tokens: tuple[bytes, ...],
    header: str = "Authorization",
) -> None:
    """Check an ``Authorization: Basic <base64(token)>`` or ``Bearer <token>`` header.

    The scheme name is case-insensitive and surrounding/extra spaces are tolerated (RFC 9110 §11.1);
    a different scheme, a malformed value or a wrong token is an :class:`AuthenticationError`.
    For Basic the credentials are base64-decoded and compared as bytes, so a ``:`` inside the
    password is fine.
    """
    raw = single_header(headers, header)
    if not raw.isascii():
        raise AuthenticationError(f"malformed {header} header")
    parts = raw.strip().split(None, 1)
    if len(parts) != 2 or parts[0].lower() != scheme:
        raise AuthenticationError(f"{header} header does not use the {scheme.title()} scheme")
    credentials = parts[1].strip()
    if scheme == "basic":
        try:
            presented = base64.b64decode(credentials.encode("ascii"), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise AuthenticationError(f"malformed {header} header: bad base64") from exc
    else:
        presented = credentials.encode("ascii")
    ok = False
    for token in tokens:
        ok |= hmac.compare_digest(presented, token)
    if not ok:
        raise AuthenticationError(f"invalid {header} credentials")


def verify_shared_key(presented: object, *, field: str, keys: tuple[bytes, ...]) -> None:
    """Check an API key carried in the body (``presented``, already extracted) against ``keys``."""
    if presented is None:
        raise AuthenticationError(f"missing {field}")
    if not isinstance(presented, str):
        raise AuthenticationError(f"malformed {field}: expected a string")
    raw = presented.encode("utf-8", "surrogatepass")
    ok = False
    for key in keys:
        ok |= hmac.compare_digest(raw, key)
    if not ok:
        raise AuthenticationError(f"invalid {field}")
