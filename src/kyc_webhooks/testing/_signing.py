"""Build the exact ``(body, headers)`` each vendor would send -- for tests, the CLI and the demo.

Independent of the verification code paths on purpose (it uses :mod:`hmac`/:mod:`base64` directly),
so that a bug in verification cannot hide behind the same bug in signing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, Literal

from .._redaction import replace_field
from ..errors import ConfigurationError, UsageError

__all__ = ["dumps", "sign"]


def dumps(payload: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON (non-ASCII kept as UTF-8, as vendors send it). A lone surrogate in a
    string (``"\\udcff"``), which UTF-8 cannot encode, is sent as its JSON escape ``\\udcff`` --
    what a vendor's JSON encoder sends for it -- and parses back to the same ``str``."""
    try:
        # allow_nan=False: NaN and Infinity are no JSON, and no vendor sends them.
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise UsageError("a payload value is NaN or infinite, which JSON cannot hold") from None
    except RecursionError:
        raise UsageError("the payload is nested deeper than JSON can be written") from None
    # Only a surrogate is unencodable, and only inside a JSON string: backslashreplace writes it
    # as exactly its JSON escape (\uXXXX).
    return text.encode("utf-8", "backslashreplace")


def _body(payload: Mapping[str, Any] | bytes) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, Mapping):
        return dumps(payload)
    raise UsageError("payload must be a dict or the raw body bytes")


def _hex(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _secret(secret: str | bytes) -> tuple[bytes, str | None]:
    """``secret`` as the bytes an HMAC key is, and as text (``None``: bytes that are not UTF-8)
    -- a receiver takes either (review R53: bytes crashed here with AttributeError)."""
    if isinstance(secret, bytes):
        try:
            return secret, secret.decode("utf-8")
        except UnicodeDecodeError:
            return secret, None
    if not isinstance(secret, str):
        raise ConfigurationError("secret must be a string or bytes")
    try:
        return secret.encode("utf-8"), secret
    except UnicodeEncodeError:
        raise ConfigurationError("secret is not valid text (a lone surrogate)") from None


def _text(text: str | None, vendor: str) -> str:
    if text is None:
        raise ConfigurationError(f"a {vendor} secret is text: these bytes are not UTF-8")
    return text


def sign(
    vendor: str,
    payload: Mapping[str, Any] | bytes,
    secret: str | bytes,
    *,
    event_type: str | None = None,
    auth_type: Literal["basic", "bearer"] = "basic",
) -> tuple[bytes, dict[str, str]]:
    """Return ``(body, headers)`` exactly as ``vendor`` would deliver ``payload``.

    * ``idenfy``: ``Idenfy-Signature`` (hex HMAC-SHA256) and ``Idenfy-Event-Type`` (``event_type``,
      required).
    * ``complycube``: ``ComplyCube-Signature`` (hex HMAC-SHA256).
    * ``yoti``: ``Authorization: Basic base64(secret)`` or ``Bearer secret`` (``auth_type``).
    * ``identomat``: ``callbackApiKey`` set inside the JSON body -- in a bytes payload that holds
      the member once (a stored body, its key redacted), in place, every other byte kept (the
      delivery key is a digest of the body); else the body is re-encoded with it.
    """
    if not secret:
        raise ConfigurationError("secret must not be empty")
    key, text = _secret(secret)
    headers: dict[str, str] = {"Content-Type": "application/json"}
    if vendor == "idenfy":
        if not event_type:
            raise UsageError("iDenfy deliveries need event_type (the Idenfy-Event-Type header)")
        body = _body(payload)
        headers["Content-Type"] = "application/json; charset=utf-8"
        headers["Idenfy-Event-Type"] = event_type
        headers["Idenfy-Signature"] = _hex(key, body)
    elif vendor == "complycube":
        body = _body(payload)
        headers["ComplyCube-Signature"] = _hex(key, body)
    elif vendor == "yoti":
        body = _body(payload)
        if auth_type == "basic":
            token = base64.b64encode(key).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        elif auth_type == "bearer":
            headers["Authorization"] = f"Bearer {_text(text, 'Yoti bearer')}"
        else:
            raise UsageError("auth_type must be 'basic' or 'bearer'")
    elif vendor == "identomat":
        data: object
        if isinstance(payload, bytes):
            # The key put into the bytes as they are (a stored body, its key redacted): re-encoded,
            # a body that was not compact JSON would change -- and with it the delivery key, a
            # digest of the body, so that a replay ran as a new delivery (review R33).
            filled = replace_field(payload, "callbackApiKey", _text(text, "Identomat"))
            if filled is not None:
                return filled, headers
            try:
                data = json.loads(payload)
            except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError too
                raise UsageError("an Identomat payload must be UTF-8 JSON") from None
        elif isinstance(payload, Mapping):
            data = dict(payload)
        else:
            raise UsageError("payload must be a dict or the raw body bytes")
        if not isinstance(data, dict):
            raise UsageError("an Identomat payload must be a JSON object")
        data["callbackApiKey"] = _text(text, "Identomat")
        body = dumps(data)
    else:
        raise ConfigurationError(f"unknown vendor {vendor!r}")
    return body, headers
