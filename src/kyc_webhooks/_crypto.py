"""Constant-time verification building blocks, stdlib only, reused by every vendor.

* :func:`secrets_tuple` normalises "one secret or several" (rotation) at construction time.
* :func:`verify_hmac_sha256_hex` -- hex HMAC-SHA256 of the raw body in a header (iDenfy,
  ComplyCube).
* :func:`verify_authorization` -- ``Authorization: Basic|Bearer`` tokens (Yoti).
* :func:`verify_shared_key` -- an API key carried inside the JSON body (Identomat).
* :func:`header_credentials` / :func:`verify_required_headers` -- static header values the
  customer configures at the vendor (iDenfy's custom headers).
* :func:`bearer_validator_or_none` / :func:`verify_bearer` -- a bearer token judged by the
  integrator's own function (iDenfy's OAuth delivery).

Every function returns ``None`` or raises :class:`~kyc_webhooks.errors.AuthenticationError`; none of
them returns a bool that a caller could forget to check. All comparisons use
:func:`hmac.compare_digest`. Error messages name the header, never its value or the secret.

Whitespace around a header credential: only ASCII space and tab (the optional whitespace of
RFC 9110 §5.6.3) are trimmed. ``str.strip()`` would also remove NBSP, NEL, VT, FF, U+3000 and other
characters no sender emits around a credential; such a value is refused (401).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, TypeAlias

from ._headers import Headers
from .errors import AuthenticationError, ConfigurationError

__all__ = [
    "BearerValidator",
    "HeaderCredentials",
    "SecretInput",
    "bearer_validator_or_none",
    "header_credentials",
    "hmac_sha256_hex",
    "secrets_tuple",
    "single_header",
    "verify_authorization",
    "verify_bearer",
    "verify_hmac_sha256_hex",
    "verify_required_headers",
    "verify_shared_key",
]

SecretInput: TypeAlias = str | bytes | Sequence[str | bytes]
#: ``fn(token) -> bool``: the integrator's check of a bearer token (e.g. with their OAuth server).
BearerValidator: TypeAlias = Callable[[str], bool]
#: Required headers after validation: ``((lower-case name, display name, accepted values), ...)``.
HeaderCredentials: TypeAlias = tuple[tuple[str, str, tuple[bytes, ...]], ...]

_SHA256_HEX_LEN = 64
_SHA256_LEN = 32
#: What may surround a header credential: ASCII space and tab, nothing else (RFC 9110 §5.6.3 OWS).
_OWS = " \t"
#: ``<scheme> <credentials>`` once the value is trimmed of _OWS: the scheme is a token
#: (RFC 9110 §5.6.2), separated by at least one space or tab.
_AUTH_VALUE = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]+(.+)", re.DOTALL)
#: The credentials of the Basic and Bearer schemes: visible ASCII without spaces or commas (RFC
#: 9110's token68 and RFC 6750's b64token are narrower; vendors' tokens are what the integrator
#: chose, a ``:`` included). A value with a comma or a space -- two ``Authorization`` headers that
#: a WSGI server or Django joined with ``", "`` -- is malformed before any token is compared or
#: given to a validator (review R39).
CREDENTIALS = re.compile(r"[!-+\--~]+")
#: A header name (RFC 9110 §5.6.2 token).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: A header value as configured: visible ASCII, with spaces and tabs inside (RFC 9110 field-value).
_FIELD_VALUE = re.compile(rb"[!-~](?:[ \t!-~]*[!-~])?")
_AUTHORIZATION = frozenset({"authorization", "proxy-authorization"})
#: The schemes of the IANA HTTP Authentication Scheme Registry, and "token" (Django REST
#: framework's): one of them alone is no credential.
#: https://www.iana.org/assignments/http-authschemes/http-authschemes.xhtml
_SCHEMES = frozenset(
    s.encode()
    for s in (
        "basic", "bearer", "concealed", "digest", "dpop", "gnap", "hoba", "mutual",
        "negotiate", "oauth", "privatetoken", "scram-sha-1", "scram-sha-256", "vapid", "token",
    )
)  # fmt: skip


def secrets_tuple(
    value: SecretInput | None, *, name: str, padded: bool = False
) -> tuple[bytes, ...]:
    """Normalise one secret or a sequence of them (key rotation) to UTF-8 ``bytes``.

    Raises :class:`ConfigurationError` for a missing, empty or blank secret, or an empty sequence,
    naming the parameter but never echoing the value; and, unless ``padded`` (header values,
    trimmed as received ones are), for a secret with whitespace around it.
    """
    if value is None:
        raise ConfigurationError(f"{name} is required")
    items: Sequence[str | bytes] = [value] if isinstance(value, (str, bytes)) else value
    if isinstance(items, (dict, set, frozenset)) or not isinstance(items, Sequence):
        raise ConfigurationError(f"{name} must be a string or a sequence of strings")
    out: list[bytes] = []
    for item in items:
        if isinstance(item, str):
            if not item.strip():  # any blank, NBSP and U+3000 included (review R39)
                raise ConfigurationError(f"{name} must not be empty")
            # A lone surrogate: what os.environ holds for bytes that are not UTF-8. Refused outside
            # the except block: the codec's error, kept as the context, holds the whole secret.
            encoded: bytes | None = None
            with contextlib.suppress(UnicodeEncodeError):
                encoded = item.encode("utf-8")
            if encoded is None:
                raise ConfigurationError(
                    f"{name} is not valid text (a lone surrogate: an environment variable "
                    "holding bytes that are not UTF-8?)"
                )
            raw = encoded
        elif isinstance(item, bytes):
            raw = item
        else:
            raise ConfigurationError(f"{name} must be a string or a sequence of strings")
        if not raw.strip():
            raise ConfigurationError(f"{name} must not be empty")
        if not padded and raw != raw.strip():
            # A secret file's or a Kubernetes secret's last newline, kept in an environment
            # variable: no vendor's secret has one, and every delivery was refused (401).
            raise ConfigurationError(
                f"{name} has whitespace around it (a line break from a file?): strip it"
            )
        out.append(raw)
    if not out:
        raise ConfigurationError(f"{name} must contain at least one secret")
    return tuple(dict.fromkeys(out))


def single_header(headers: Headers, name: str) -> str:
    """The one value of header ``name``; a missing or repeated header is an authentication failure
    (two different signatures on one request are never "probably fine")."""
    values = headers.get_all(name)
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
    digest, so accepting it loses no security). Only ASCII spaces and tabs around the value are
    ignored. Non-ASCII, non-hex or wrong-length values fail closed with a clear message.
    """
    value = single_header(headers, header).strip(_OWS)
    if not value.isascii() or len(value) != _SHA256_HEX_LEN:
        raise AuthenticationError(f"malformed {header} header: expected 64 hex characters")
    try:
        expected = bytes.fromhex(value)
    except ValueError as exc:
        raise AuthenticationError(f"malformed {header} header: expected 64 hex characters") from exc
    if len(expected) != _SHA256_LEN:  # fromhex() skips ASCII whitespace inside the value
        raise AuthenticationError(f"malformed {header} header: expected 64 hex characters")
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

    The scheme name is case-insensitive and extra spaces or tabs around and after it are tolerated
    (RFC 9110 §11.1); a different scheme, a malformed value or a wrong token is an
    :class:`AuthenticationError`. For Basic the credentials are base64-decoded and compared as
    bytes, so a ``:`` inside the password is fine.
    """
    credentials = _authorization_credentials(headers, scheme, header)
    if scheme == "basic":
        encoded = credentials.encode("ascii")
        try:
            presented = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise AuthenticationError(f"malformed {header} header: bad base64") from exc
        # Yoti sends the standard, padded base64 of the token ("Authorization: Basic
        # dXNlcm5hbWU6cGFzc3dvcmQ=", https://developers.yoti.com/identity-verification/notifications).
        # b64decode also maps other spellings onto it -- a "=" after a complete group, unused bits
        # set in the last character (RFC 4648 §3.5) -- which no encoder writes: malformed. The
        # value is compared with its own re-encoding, not with a secret.
        if base64.b64encode(presented) != encoded:
            raise AuthenticationError(f"malformed {header} header: bad base64")
    else:
        presented = credentials.encode("ascii")
    ok = False
    for token in tokens:
        ok |= hmac.compare_digest(presented, token)
    if not ok:
        raise AuthenticationError(f"invalid {header} credentials")


def _authorization_credentials(headers: Headers, scheme: AuthScheme, header: str) -> str:
    """The credentials of an ``Authorization``-style header that uses ``scheme``: ASCII, trimmed
    of spaces and tabs only, never empty."""
    raw = single_header(headers, header)
    if not raw.isascii():
        raise AuthenticationError(f"malformed {header} header")
    match = _AUTH_VALUE.fullmatch(raw.strip(_OWS))
    if match is None or match.group(1).lower() != scheme:
        raise AuthenticationError(f"{header} header does not use the {scheme.title()} scheme")
    if not CREDENTIALS.fullmatch(match.group(2)):
        raise AuthenticationError(f"malformed {header} header")
    return match.group(2)


def header_credentials(value: object, *, name: str) -> HeaderCredentials:
    """Validate ``{header name: value or sequence of values}`` (rotation) at construction time.

    Names must be HTTP header names without underscores, distinct regardless of case; values
    must be non-empty ASCII (what an HTTP header can carry) and are trimmed of surrounding spaces
    and tabs, as received values are. Messages name headers, never values.
    """
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{name} must be a mapping of header name to value(s)")
    if not value:
        raise ConfigurationError(f"{name} must name at least one header")
    out: dict[str, tuple[str, tuple[bytes, ...]]] = {}
    for header, accepted in value.items():
        if not isinstance(header, str) or not _HEADER_NAME.fullmatch(header):
            raise ConfigurationError(f"{name}: a key is not a valid HTTP header name")
        if "_" in header:
            # Valid HTTP, but WSGI (CGI variables) turns it into a dash -- Flask and Django see
            # ``X-Token`` for ``X_Token`` -- and nginx, gunicorn and Django's runserver drop such
            # headers: behind them every delivery would be refused (401).
            raise ConfigurationError(
                f"{name}: header {header!r} has an underscore, which WSGI servers rewrite to a "
                "dash and nginx, gunicorn and Django's runserver drop; name the header with "
                "dashes (here and in the vendor's settings)"
            )
        key = header.lower()
        if key in out:
            raise ConfigurationError(f"{name}: header {header!r} is listed twice")
        label = f"{name}[{header!r}]"
        values = secrets_tuple(accepted, name=label, padded=True)
        trimmed = tuple(dict.fromkeys(v.strip(_OWS.encode()) for v in values))
        if not all(_FIELD_VALUE.fullmatch(v) for v in trimmed):
            # A line break or another control character (a secret file's trailing newline) can
            # never arrive in a header: every delivery would be refused (401), silently.
            raise ConfigurationError(
                f"{label} values must be ASCII without control characters, line breaks "
                "included (what an HTTP header carries)"
            )
        if key in _AUTHORIZATION and any(_no_credentials(v) for v in trimmed):
            raise ConfigurationError(f"{label}: a value is an auth scheme without credentials")
        out[key] = (header, trimmed)
    return tuple((key, header, values) for key, (header, values) in out.items())


#: What an unset variable becomes in a template: ``f"Bearer {os.getenv('TOKEN')}"``.
_UNSET = frozenset({b"none", b"null", b"undefined", b"nil"})


def _no_credentials(value: bytes) -> bool:
    """``Bearer`` alone (``f"Bearer {os.getenv('TOKEN', '')}"``) or ``Bearer None`` (without the
    default): a public constant that anyone can send, not a credential."""
    words = value.lower().split()
    return words[0] in _SCHEMES and (len(words) == 1 or (len(words) == 2 and words[1] in _UNSET))


def verify_required_headers(headers: Headers, required: HeaderCredentials) -> None:
    """Check that every required header is present once and equals one of its accepted values.

    Values are compared as bytes in constant time, after trimming spaces and tabs only; every
    accepted value of every header is tried (no early exit), and a failure does not say which
    header failed: an answer naming the first wrong one let each value be guessed on its own
    (review R39)."""
    ok = True
    for _key, header, accepted in required:
        try:
            raw = single_header(headers, header)
        except AuthenticationError:
            ok = False
            continue
        presented = raw.strip(_OWS).encode("ascii") if raw.isascii() else b""
        matched = False
        for value in accepted:
            matched |= hmac.compare_digest(presented, value)
        ok &= matched
    if not ok:  # every configured name, never which one failed
        names = ", ".join(header for _key, header, _accepted in required)
        raise AuthenticationError(f"required headers ({names}): missing, repeated or wrong")


def bearer_validator_or_none(value: object, *, name: str) -> BearerValidator | None:
    """Validate a bearer-token validator at construction time: a plain (not ``async``) callable."""
    if value is None:
        return None
    if not callable(value):
        raise ConfigurationError(f"{name} must be a function fn(token: str) -> bool")
    if inspect.iscoroutinefunction(value):  # verify_bearer refuses what any other one returns
        raise ConfigurationError(
            f"{name} must be a plain function returning a bool, not an async one (verification "
            "is synchronous, also under handle_async)"
        )
    validator: BearerValidator = value
    return validator


def verify_bearer(
    headers: Headers, validator: BearerValidator, *, header: str = "Authorization"
) -> None:
    """Check ``Authorization: Bearer <token>`` with the integrator's ``validator``.

    Fails closed: a missing, repeated or malformed header, a result other than ``True``, or an
    exception from ``validator`` is an :class:`AuthenticationError`. The error never carries the
    validator's exception (its text could quote the token): neither in the message nor chained.
    """
    token = _authorization_credentials(headers, "bearer", header)
    try:
        result: object = validator(token)
    except Exception as exc:
        failure = AuthenticationError(
            f"{header} bearer token could not be checked (the validator raised "
            f"{type(exc).__name__})"
        )
    else:
        if result is True:
            return
        if inspect.iscoroutine(result):  # an async validator slipped through: never awaited
            result.close()
        failure = AuthenticationError(f"invalid {header} bearer token")
    # Raised outside the except block on purpose: no __context__ pointing at the validator's error.
    raise failure


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
