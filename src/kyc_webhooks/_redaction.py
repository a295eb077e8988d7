"""The stored form of a body: credential fields blanked byte-exactly (stdlib only).

One rule for two users: ``store._runner.storable_body`` (what a store keeps) and the Identomat
``delivery_key`` (a digest of that stored form, so that a deferred or replayed event, re-parsed from
the store, has the key it had on arrival -- docs/delivery-guarantees.md, "Delivery keys").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

__all__ = ["REDACTED_VALUE", "redact_fields", "replace_field"]

#: Replaces the string value of a credential field (Identomat's ``callbackApiKey``,
#: https://docs.identomat.com/developer-tools/callbacks) in the stored copy of a body.
REDACTED_VALUE = b'"<redacted>"'

_PATTERNS: dict[str, re.Pattern[bytes]] = {}


def redact_fields(body: bytes, names: Iterable[str]) -> bytes:
    """``body`` with the string value of every ``"<name>": "..."`` member replaced by
    ``"<redacted>"``, every other byte unchanged. Idempotent: redacting a redacted body changes
    nothing, so the stored form of a stored body is itself."""
    for name in sorted(names):
        body = _pattern(name).sub(lambda m: m.group(1) + REDACTED_VALUE, body)
    return body


def replace_field(body: bytes, name: str, value: str) -> bytes | None:
    """``body`` with the string value of every ``"<name>": "..."`` member replaced by ``value``
    (a JSON string), every other byte unchanged -- the reverse of :func:`redact_fields`, so that
    a stored body re-signed for a replay redacts back to itself (and keeps its Identomat delivery
    key; review R58: a body holding the member twice, one of them nested, was re-encoded, and its
    replay ran as a new delivery). ``None`` when ``body`` holds no such member."""
    pattern = _pattern(name)
    if pattern.search(body) is None:
        return None
    encoded = json.dumps(value).encode("ascii")
    return pattern.sub(lambda m: m.group(1) + encoded, body)


def _pattern(name: str) -> re.Pattern[bytes]:
    pattern = _PATTERNS.get(name)
    if pattern is None:
        key = re.escape(name.encode("ascii"))
        pattern = re.compile(rb'("' + key + rb'"\s*:\s*)"(?:[^"\\]|\\.)*"')
        _PATTERNS[name] = pattern
    return pattern
