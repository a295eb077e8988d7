"""iDenfy authentication (sheet idenfy.md §2.1): ``Idenfy-Signature`` is the lower-case hex
HMAC-SHA256 of the raw body keyed with the notification's signing key (or, for old integrations,
the API secret). Tables of hostile mutations with exact outcomes; nothing secret or personal in
errors or logs."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from pathlib import Path

import pytest

import kyc_webhooks as kw
from kyc_webhooks.idenfy import EVENT_TYPE_HEADER, SIGNATURE_HEADER, IdentificationEvent
from kyc_webhooks.idenfy._samples import SAMPLES
from kyc_webhooks.testing import sign

KEY = "idenfy-signing-key-9f2c"
OLD_KEY = "idenfy-old-api-secret-41d7"
EVENT_TYPE = "IDENTIFICATION_AUTO_FINISHED"
PAYLOAD = SAMPLES["IDENTIFICATION_MANUAL_FINISHED"]
BODY, HEADERS = sign("idenfy", PAYLOAD, KEY, event_type=EVENT_TYPE)
SIGNATURE = HEADERS["Idenfy-Signature"]
#: Values from the body that must never appear in errors or logs.
PAYLOAD_VALUES = ("ŽEMAITĖ", "JŪRATĖ", "LT4815162", "49003151234", "203.0.113.42")

Pairs = list[tuple[str | bytes, str | bytes]]
HeaderArg = dict[str, str] | Pairs


def hexsig(body: bytes, key: str = KEY) -> str:
    return hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()


def receiver(key: str | list[str] = KEY) -> kw.Receiver:
    return kw.Receiver(kw.Idenfy(signing_key=key))


def flip(text: str, index: int) -> str:
    char = text[index]
    return text[:index] + ("0" if char != "0" else "1") + text[index + 1 :]


def with_sig(value: str) -> dict[str, str]:
    return {**HEADERS, "Idenfy-Signature": value}


def without(*names: str) -> dict[str, str]:
    return {k: v for k, v in HEADERS.items() if k not in names}


# -- the signing scheme ---------------------------------------------------------------------------


def test_signature_is_lowercase_hex_hmac_sha256_of_raw_body() -> None:
    assert hexsig(BODY) == SIGNATURE
    assert SIGNATURE.lower() == SIGNATURE
    assert len(SIGNATURE) == 64
    assert SIGNATURE_HEADER == "Idenfy-Signature"
    assert EVENT_TYPE_HEADER == "Idenfy-Event-Type"


def test_valid_delivery_is_accepted() -> None:
    outcome = receiver().handle(BODY, HEADERS)
    assert outcome.status_code == 200
    assert isinstance(outcome.event, IdentificationEvent)


def test_public_go_idenfy_vector() -> None:
    # Literals of github.com/gboddin/go-idenfy Client_test.go (../shared/samples/idenfy/).
    base = Path(__file__).parent / "vectors" / "idenfy" / "real_go_idenfy_testdata"
    body = (base / "body").read_bytes()
    expected = "e7386736c7f0e8ee293a7637a316d64f7193c3197c133576e3f72061100180e2"
    assert hexsig(body, "TestingKey") == expected
    outcome = receiver("TestingKey").handle(body, {"Idenfy-Signature": expected})
    assert outcome.status_code == 200
    assert outcome.event_type == "IDENTIFICATION"  # no Idenfy-Event-Type: inferred (legacy)


# -- tamper table ---------------------------------------------------------------------------------

TAMPER: list[tuple[str, bytes, HeaderArg, int, type[kw.DeliveryError]]] = [
    (
        "flipped-body-byte",
        BODY[:40] + bytes([BODY[40] ^ 0x01]) + BODY[41:],
        HEADERS,
        401,
        kw.AuthenticationError,
    ),
    ("truncated-body", BODY[:-1], HEADERS, 401, kw.AuthenticationError),
    ("extra-trailing-newline", BODY + b"\n", HEADERS, 401, kw.AuthenticationError),
    ("flipped-signature-char", BODY, with_sig(flip(SIGNATURE, 10)), 401, kw.AuthenticationError),
    ("last-signature-char", BODY, with_sig(flip(SIGNATURE, 63)), 401, kw.AuthenticationError),
    ("truncated-signature", BODY, with_sig(SIGNATURE[:-2]), 401, kw.AuthenticationError),
    ("wrong-key", BODY, with_sig(hexsig(BODY, "another-key")), 401, kw.AuthenticationError),
    ("signature-of-empty-body", BODY, with_sig(hexsig(b"")), 401, kw.AuthenticationError),
    ("missing-signature-header", BODY, without("Idenfy-Signature"), 401, kw.AuthenticationError),
    ("empty-signature-header", BODY, with_sig(""), 401, kw.AuthenticationError),
    ("non-hex-signature", BODY, with_sig("z" * 64), 401, kw.AuthenticationError),
    (
        "base64-signature",
        BODY,
        with_sig("tZ3RU+16pSXZnQiaR4lRzKkDMvlOzEDrM0fX3SpUin0="),
        401,
        kw.AuthenticationError,
    ),
    ("sha256=-prefixed", BODY, with_sig("sha256=" + SIGNATURE), 401, kw.AuthenticationError),
    ("non-ascii-signature", BODY, with_sig("é" * 64), 401, kw.AuthenticationError),
    (
        "non-ascii-signature-bytes",
        BODY,
        [(b"Idenfy-Event-Type", EVENT_TYPE.encode()), (b"Idenfy-Signature", "ž".encode() * 32)],
        401,
        kw.AuthenticationError,
    ),
    (
        "duplicated-header-same-value",
        BODY,
        [("Idenfy-Signature", SIGNATURE), ("Idenfy-Signature", SIGNATURE)],
        401,
        kw.AuthenticationError,
    ),
    (
        "duplicated-header-one-wrong",
        BODY,
        [("Idenfy-Signature", flip(SIGNATURE, 0)), ("idenfy-signature", SIGNATURE)],
        401,
        kw.AuthenticationError,
    ),
    ("empty-body-original-signature", b"", HEADERS, 401, kw.AuthenticationError),
    ("empty-body-signed", b"", with_sig(hexsig(b"")), 400, kw.PayloadError),
    (
        "no-idenfy-headers-at-all",
        BODY,
        {"Content-Type": "application/json"},
        400,
        kw.UndetectableVendorError,
    ),
]


@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [row[1:] for row in TAMPER],
    ids=[row[0] for row in TAMPER],
)
def test_tampered_delivery_is_rejected(
    body: bytes, headers: HeaderArg, status: int, error: type[kw.DeliveryError]
) -> None:
    seen: list[kw.WebhookEvent] = []
    rec = receiver()
    rec.on("*")(seen.append)
    outcome = rec.handle(body, headers)
    assert outcome.status_code == status
    assert type(outcome.error) is error
    assert seen == []
    with pytest.raises(error):
        rec.parse(body, headers)


def test_missing_signature_is_401_when_vendor_is_pinned() -> None:
    outcome = receiver().handle(BODY, {"Content-Type": "application/json"}, vendor="idenfy")
    assert outcome.status_code == 401
    assert isinstance(outcome.error, kw.AuthenticationError)


ACCEPTED: list[tuple[str, HeaderArg]] = [
    ("canonical", HEADERS),
    ("upper-case-name", {"IDENFY-SIGNATURE": SIGNATURE, "IDENFY-EVENT-TYPE": EVENT_TYPE}),
    ("lower-case-name", {"idenfy-signature": SIGNATURE, "idenfy-event-type": EVENT_TYPE}),
    ("mixed-case-name", {"iDeNfY-sIgNaTuRe": SIGNATURE, "Idenfy-Event-Type": EVENT_TYPE}),
    # Upper-case hex carries the same digest; accepting it costs nothing (_crypto.py).
    ("upper-case-hex", with_sig(SIGNATURE.upper())),
    ("surrounding-whitespace", with_sig(f"  {SIGNATURE} ")),
    (
        "bytes-pairs",
        [(b"Idenfy-Signature", SIGNATURE.encode()), (b"Idenfy-Event-Type", EVENT_TYPE.encode())],
    ),
    ("no-event-type-header", without("Idenfy-Event-Type")),
]


@pytest.mark.parametrize("headers", [row[1] for row in ACCEPTED], ids=[row[0] for row in ACCEPTED])
def test_equivalent_header_forms_are_accepted(headers: HeaderArg) -> None:
    outcome = receiver().handle(BODY, headers)
    assert outcome.status_code == 200, outcome.response_body()


# -- keys -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("signing_key", [KEY, OLD_KEY], ids=["new-key", "old-key"])
def test_rotation_accepts_every_configured_key(signing_key: str) -> None:
    body, headers = sign("idenfy", PAYLOAD, signing_key, event_type=EVENT_TYPE)
    assert receiver([OLD_KEY, KEY]).handle(body, headers).status_code == 200


def test_rotation_rejects_a_key_not_configured() -> None:
    body, headers = sign("idenfy", PAYLOAD, "third-key", event_type=EVENT_TYPE)
    assert receiver([OLD_KEY, KEY]).handle(body, headers).status_code == 401


def test_non_ascii_key_is_used_as_utf8() -> None:
    key = "raktas-ŽĖ-🔑"
    body, headers = sign("idenfy", PAYLOAD, key, event_type=EVENT_TYPE)
    assert headers["Idenfy-Signature"] == hexsig(body, key)
    assert receiver(key).handle(body, headers).ok


@pytest.mark.parametrize("bad", ["", "   ", []], ids=["empty", "blank", "empty-list"])
def test_empty_key_is_a_configuration_error(bad: str | list[str]) -> None:
    with pytest.raises(kw.ConfigurationError):
        kw.Idenfy(signing_key=bad)


def test_vendor_repr_hides_keys() -> None:
    text = repr(kw.Idenfy(signing_key=[OLD_KEY, KEY]))
    assert KEY not in text
    assert OLD_KEY not in text


def test_str_body_is_a_usage_error() -> None:
    with pytest.raises(kw.UsageError):
        receiver().handle(BODY.decode("utf-8"), HEADERS)  # type: ignore[arg-type]


# -- nothing secret or personal leaks -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "headers"),
    [row[1:3] for row in TAMPER] + [(BODY, with_sig(SIGNATURE.upper()[:-1] + "g"))],
    ids=[row[0] for row in TAMPER] + ["near-miss-signature"],
)
def test_errors_and_logs_hold_no_key_signature_or_payload_value(
    body: bytes, headers: HeaderArg, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="kyc_webhooks"):
        outcome = receiver().handle(body, headers)
    assert outcome.error is not None
    texts = [
        str(outcome.error),
        repr(outcome.error),
        json.dumps(outcome.response_body(), ensure_ascii=False),
        caplog.text,
    ]
    forbidden = (KEY, SIGNATURE, SIGNATURE.upper(), SIGNATURE[:16], *PAYLOAD_VALUES)
    for text in texts:
        for value in forbidden:
            assert value not in text


def test_error_names_the_header() -> None:
    outcome = receiver().handle(BODY, with_sig(flip(SIGNATURE, 5)))
    assert outcome.error is not None
    assert "Idenfy-Signature" in str(outcome.error)
