"""Identomat authentication: the ``callbackApiKey`` body field (sheet §2) under hostile mutations.

What the key does and does not protect: Identomat signs nothing. The key proves the sender knows
the shared secret; it does not protect the integrity of the rest of the body. A byte changed
outside the key (in transit, without TLS) still authenticates -- the table below pins that down
so nobody mistakes the check for a signature. Use HTTPS for the callback URL.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest

import kyc_webhooks as kw
from _vectors import vector
from kyc_webhooks import Headers
from kyc_webhooks.identomat._samples import SAMPLES
from kyc_webhooks.identomat.models import OneTimePasswordRequestEvent, SessionChangeEvent
from kyc_webhooks.testing import sign

API_KEY = "idm-cb-7Qm2vX9pL4tR8wZ1nB6yH3sD5fJ0kC"
OTHER_KEY = "attacker-guess-Zr8Kq1Lm5Np9Tx3Vb7"
BODY = vector("identomat", "one_time_password_request").body
HEADERS = {"Content-Type": "application/json"}


def receiver(*keys: str) -> kw.Receiver:
    return kw.Receiver(kw.Identomat(api_key=list(keys) or API_KEY))


def with_key(value: Any) -> bytes:
    """The vector's payload with ``callbackApiKey`` replaced (``...`` removes it)."""
    data = json.loads(BODY)
    if value is ...:
        del data["callbackApiKey"]
    else:
        data["callbackApiKey"] = value
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def flip(body: bytes, needle: bytes) -> bytes:
    """Flip the lowest bit of the first byte of ``needle`` inside ``body``."""
    at = body.index(needle)
    return body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1 :]


# (id, body, expected status). Pinned to vendor="identomat", as an endpoint serving only
# Identomat would do; detection is covered separately below. The mutations common to every vendor
# (flipped, truncated, empty, trailing bytes, non-UTF-8, wrong, missing, empty, duplicated,
# case-changed or padded keys, a flipped byte outside the key still authentic) are one table in
# test_vendor_contract.py; these rows are Identomat's own (a key inside a JSON body).
TAMPER: list[tuple[str, bytes, int]] = [
    # Not integrity-protected: a flipped byte outside the key is still authentic (see docstring).
    ("flipped-byte-in-type-still-authentic", flip(BODY, b"one-time-password-request"), 200),
    ("key-null", with_key(None), 401),
    ("key-number", with_key(12345), 401),
    ("key-bool", with_key(True), 401),
    ("key-list", with_key([API_KEY]), 401),
    ("key-object", with_key({"key": API_KEY}), 401),
    (
        "key-nested-only",
        json.dumps({"type": "session-change", "data": {"callbackApiKey": API_KEY}}).encode(),
        401,
    ),
    ("key-unicode-escaped-is-same-string", BODY.replace(b'"idm-', b'"\\u0069dm-'), 200),
    # A repeated key is refused whichever copy is right, spelled literally or with escapes.
    (
        "duplicate-key-right-last",
        BODY.replace(b"{", f'{{"callbackApiKey": "{OTHER_KEY}",'.encode(), 1),
        401,
    ),
    (
        "duplicate-key-right-first",
        BODY.replace(b"\n}", f',\n  "callbackApiKey": "{OTHER_KEY}"\n}}'.encode(), 1),
        401,
    ),
    (
        "duplicate-key-escaped-wrong-first",
        BODY.replace(b"{", f'{{"\\u0063allbackApiKey": "{OTHER_KEY}",'.encode(), 1),
        401,
    ),
    (
        "duplicate-key-same-value",
        BODY.replace(b"{", f'{{"callbackApiKey": "{API_KEY}",'.encode(), 1),
        401,
    ),
    ("key-in-a-nested-object-too", BODY.replace(b"{", b'{"x": {"callbackApiKey": "k"},', 1), 200),
    # Escaped, the key's name would escape the byte-exact redaction of the stored body.
    ("key-name-escaped", BODY.replace(b'"callbackApiKey"', b'"callbackApi\\u004bey"', 1), 401),
    ("non-json", b"callbackApiKey=" + API_KEY.encode() + b"&type=session-change", 401),
    ("form-encoded-json-marker", b'"callbackApiKey"=' + API_KEY.encode(), 401),
    ("json-array", b"[" + BODY + b"]", 401),
    ("json-string", json.dumps(BODY.decode()).encode(), 401),
    ("json-null", b"null", 401),
    ("truncated-half", BODY[: len(BODY) // 2], 401),
    (
        "latin1-encoded",
        BODY.decode("utf-8").replace("თქვენი კოდია", "Código").encode("latin-1"),
        401,
    ),
    ("utf8-bom", b"\xef\xbb\xbf" + BODY, 401),
    (
        "deeply-nested",
        with_key(API_KEY)[:-1] + b',"a":' + b"[" * 20_000 + b"]" * 20_000 + b"}",
        401,
    ),
    ("whitespace-around", b" \r\n" + BODY + b"\n\t ", 200),
]


@pytest.mark.parametrize(("body", "status"), [pytest.param(b, s, id=i) for i, b, s in TAMPER])
def test_tamper_table(body: bytes, status: int) -> None:
    seen: list[kw.WebhookEvent] = []
    rec = receiver()
    rec.on("*")(seen.append)
    outcome = rec.handle(body, HEADERS, vendor="identomat")
    assert outcome.status_code == status, outcome.error
    if status == 200:
        assert seen == [outcome.event]
        assert outcome.event is not None
        assert outcome.event.model_dump(by_alias=True)["callbackApiKey"] == API_KEY
    else:
        assert seen == []  # no handler ran
        assert isinstance(outcome.error, kw.AuthenticationError)
        assert outcome.vendor == "identomat"
        # The message names the field, never what was presented or expected.
        message = outcome.error.message
        assert "callbackApiKey" in message
        assert API_KEY not in message
        assert OTHER_KEY not in message
        assert API_KEY.upper() not in message


def test_flipped_byte_outside_key_changes_the_data_undetected() -> None:
    # The consequence of the table's second row, spelled out for reviewers.
    event = receiver().parse(flip(BODY, b"599123456"), HEADERS, vendor="identomat")
    assert isinstance(event, OneTimePasswordRequestEvent)
    assert event.phone_number == "+995499123456"


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        pytest.param(BODY, 200, None, id="detected-by-key-field"),
        pytest.param(with_key(OTHER_KEY), 401, kw.AuthenticationError, id="detected-wrong-key"),
        pytest.param(BODY[:-1], 401, kw.AuthenticationError, id="detected-truncated"),
        # Without the marker field nothing identifies Identomat: refused before any handler, as
        # undetectable (400) unless the endpoint pins vendor="identomat" (then 401, table above).
        pytest.param(with_key(...), 400, kw.UndetectableVendorError, id="missing-key-undetectable"),
    ],
)
def test_detection_without_pinning(
    body: bytes, status: int, error: type[kw.WebhookError] | None
) -> None:
    outcome = receiver().handle(body, HEADERS)
    assert outcome.status_code == status
    if error is None:
        assert outcome.error is None
    else:
        assert isinstance(outcome.error, error)


def test_wrong_key_on_unknown_type_is_refused() -> None:
    body, headers = sign("identomat", {"type": "future-type", "sessionId": "s" * 40}, OTHER_KEY)
    seen: list[kw.WebhookEvent] = []
    rec = receiver()
    rec.on("*")(seen.append)
    assert rec.handle(body, headers).status_code == 401
    assert seen == []


@pytest.mark.parametrize(
    ("configured", "presented", "status"),
    [
        pytest.param(("old-key-1", "new-key-2"), "old-key-1", 200, id="old-during-rotation"),
        pytest.param(("old-key-1", "new-key-2"), "new-key-2", 200, id="new-during-rotation"),
        pytest.param(("new-key-2",), "old-key-1", 401, id="old-after-rotation"),
        pytest.param(("old-key-1", "new-key-2"), "other-key", 401, id="neither"),
    ],
)
def test_key_rotation(configured: tuple[str, ...], presented: str, status: int) -> None:
    body, headers = sign("identomat", SAMPLES["session-change"], presented)
    event_types: list[str] = []
    rec = receiver(*configured)
    rec.on_event(SessionChangeEvent)(lambda e: event_types.append(e.event_type))
    assert rec.handle(body, headers).status_code == status
    assert event_types == (["session-change"] if status == 200 else [])


def test_every_configured_key_is_compared(monkeypatch: pytest.MonkeyPatch) -> None:
    # Constant time across keys: no early exit once one key matched, and only compare_digest.
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    vendor = kw.Identomat(api_key=[API_KEY, "second-key", "third-key"])
    vendor.verify(BODY, Headers(HEADERS))
    assert [b for _, b in calls] == [API_KEY.encode(), b"second-key", b"third-key"]


@pytest.mark.parametrize(
    "api_key",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param([], id="empty-list"),
        pytest.param(["ok", ""], id="one-empty"),
        pytest.param(None, id="none"),
        pytest.param(123, id="number"),
    ],
)
def test_bad_configuration_fails_at_construction(api_key: Any) -> None:
    with pytest.raises(kw.ConfigurationError, match="api_key"):
        kw.Identomat(api_key=api_key)


def test_repr_hides_the_keys() -> None:
    vendor = kw.Identomat(api_key=[API_KEY, "second-key"])
    text = repr(vendor) + str(vendor) + repr(kw.Receiver(vendor))
    assert API_KEY not in text
    assert "second-key" not in text


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(BODY.decode("utf-8"), id="str"),
        pytest.param(json.loads(BODY), id="dict"),
    ],
)
def test_decoded_body_is_a_usage_error(body: Any) -> None:
    with pytest.raises(kw.UsageError, match="bytes"):
        receiver().handle(body, HEADERS)


@pytest.mark.parametrize("wrap", [bytearray, memoryview], ids=["bytearray", "memoryview"])
def test_bytes_like_bodies_are_accepted(wrap: Callable[[bytes], Any]) -> None:
    assert receiver().handle(wrap(BODY), HEADERS).status_code == 200


def test_size_cap_applies_before_authentication() -> None:
    rec = kw.Receiver(kw.Identomat(api_key=API_KEY), max_body_size=len(BODY) - 1)
    outcome = rec.handle(BODY, HEADERS)
    assert outcome.status_code == 413
    assert isinstance(outcome.error, kw.PayloadTooLargeError)


def test_valid_key_but_invalid_payload_is_400_not_401() -> None:
    # Authentication first, then validation: a correctly keyed body with a bad field is a 400.
    body, headers = sign("identomat", {"type": "session-change", "sessionId": 5}, API_KEY)
    outcome = receiver().handle(body, headers)
    assert outcome.status_code == 400
    assert isinstance(outcome.error, kw.PayloadError)
