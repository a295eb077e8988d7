"""kyc_webhooks.testing.sign: every vendor's scheme, cross-checked against published vectors and
independent computations (hashlib/base64 here, never the library's own verification code)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

import kyc_webhooks as kw
from kyc_webhooks import testing

PAYLOAD: dict[str, Any] = {"id": "5ed170fe99c81a0007b9a3d3", "name": "Žygimantas Šimkūnas"}


def hmac_hex(key: str, body: bytes) -> str:
    return hmac.HMAC(key.encode("utf-8"), body, digestmod=hashlib.sha256).hexdigest()


def test_complycube_matches_the_php_sdk_vector() -> None:
    # complycube/complycube-php tests/unit/EventVerifierTest.php (testValidSignatureEvent).
    body, headers = testing.sign("complycube", b'{"id":"value"}', "a_webhook_signature")
    assert body == b'{"id":"value"}'
    assert headers["ComplyCube-Signature"] == (
        "bc00414fa4d54277a3ed01e5ee258d9800a918a7791c7cda16d38b82f38f2150"
    )


def test_yoti_basic_matches_the_documented_example() -> None:
    # developers.yoti.com notifications: username:password -> Basic dXNlcm5hbWU6cGFzc3dvcmQ=
    _, headers = testing.sign("yoti", {"session_id": "s", "topic": "t"}, "username:password")
    assert headers["Authorization"] == "Basic dXNlcm5hbWU6cGFzc3dvcmQ="


@pytest.mark.parametrize(
    ("vendor", "header"),
    [("idenfy", "Idenfy-Signature"), ("complycube", "ComplyCube-Signature")],
    ids=["idenfy", "complycube"],
)
def test_hmac_vendors_sign_the_exact_body_bytes(vendor: str, header: str) -> None:
    raw = b'{ "id" : 1,\n "name": "\xc5\xbdygimantas" }'  # odd spacing, non-ASCII: kept verbatim
    body, headers = testing.sign(vendor, raw, "k3y", event_type="IDENTIFICATION_AUTO_FINISHED")
    assert body == raw
    assert headers[header] == hmac_hex("k3y", raw)
    assert len(headers[header]) == 64
    assert headers[header] == headers[header].lower()


def test_a_dict_payload_is_compact_utf8_json() -> None:
    body, headers = testing.sign("complycube", PAYLOAD, "k3y")
    assert body == json.dumps(PAYLOAD, ensure_ascii=False, separators=(",", ":")).encode()
    assert "Žygimantas".encode() in body
    assert headers["ComplyCube-Signature"] == hmac_hex("k3y", body)
    assert headers["Content-Type"] == "application/json"


def test_idenfy_sends_the_event_type_header() -> None:
    body, headers = testing.sign("idenfy", PAYLOAD, "k3y", event_type="AML_MONITORING")
    assert headers["Idenfy-Event-Type"] == "AML_MONITORING"
    assert headers["Idenfy-Signature"] == hmac_hex("k3y", body)


def test_idenfy_without_event_type_is_a_usage_error() -> None:
    with pytest.raises(kw.UsageError, match="event_type"):
        testing.sign("idenfy", PAYLOAD, "k3y")


@pytest.mark.parametrize(
    ("auth_type", "expected"),
    [
        ("basic", "Basic " + base64.b64encode("user:pässword".encode()).decode()),
        ("bearer", "Bearer user:pässword"),
    ],
    ids=["basic", "bearer"],
)
def test_yoti_authorization_header(auth_type: Any, expected: str) -> None:
    body, headers = testing.sign("yoti", PAYLOAD, "user:pässword", auth_type=auth_type)
    assert headers["Authorization"] == expected
    assert json.loads(body) == PAYLOAD


def test_yoti_unknown_auth_type_is_a_usage_error() -> None:
    with pytest.raises(kw.UsageError, match="auth_type"):
        testing.sign("yoti", PAYLOAD, "t", auth_type="digest")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "payload",
    [PAYLOAD, json.dumps(PAYLOAD).encode()],
    ids=["dict", "bytes"],
)
def test_identomat_puts_the_key_in_the_body(payload: Any) -> None:
    body, headers = testing.sign("identomat", payload, "api-key-1")
    data = json.loads(body)
    assert data["callbackApiKey"] == "api-key-1"
    assert {k: v for k, v in data.items() if k != "callbackApiKey"} == PAYLOAD
    assert "Authorization" not in headers


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"\xff\xfe", b"[1, 2]"],
    ids=["not-json", "not-utf8", "not-an-object"],
)
def test_identomat_bad_bytes_are_a_usage_error(payload: bytes) -> None:
    with pytest.raises(kw.UsageError, match="Identomat"):
        testing.sign("identomat", payload, "k")


@pytest.mark.parametrize(
    ("vendor", "secret", "error"),
    [
        ("paypal", "k", kw.ConfigurationError),
        ("idenfy", "", kw.ConfigurationError),
    ],
    ids=["unknown-vendor", "empty-secret"],
)
def test_bad_arguments(vendor: str, secret: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        testing.sign(vendor, PAYLOAD, secret, event_type="X")


def test_a_string_payload_is_a_usage_error() -> None:
    with pytest.raises(kw.UsageError):
        testing.sign("complycube", "{}", "k")  # type: ignore[arg-type]


@pytest.mark.parametrize("vendor", ["idenfy", "complycube", "yoti", "identomat"])
def test_the_receiver_accepts_what_sign_produces(vendor: str) -> None:
    secrets = testing.generate_secrets()
    receiver = kw.Receiver(*testing.make_vendors(secrets))
    event_type = testing.event_types(vendor)[0]
    payload = testing.sample_payload(vendor, event_type)
    body, headers = testing.sign(vendor, payload, secrets[vendor], event_type=event_type)
    outcome = receiver.handle(body, headers)
    assert outcome.status_code == 200, outcome.error
    assert outcome.vendor == vendor
    assert outcome.event_type == event_type


@pytest.mark.parametrize("vendor", ["idenfy", "complycube", "yoti", "identomat"])
def test_a_lone_surrogate_is_sent_as_its_json_escape(vendor: str) -> None:
    # Review 2, side note. Was: UnicodeEncodeError (UTF-8 cannot encode a lone surrogate). A
    # vendor's JSON encoder sends it as the escape \udcff; it parses back to the same str, and the
    # signature covers exactly those bytes.
    payload = {"clientName": "J\udcffrat\\\udcff\u0117", "scanRef": "s"}
    body, headers = testing.sign(vendor, payload, "secret", event_type="E")
    assert b'"J\\udcffrat\\\\\\udcff\xc4\x97"' in body  # the escape; other text stays UTF-8
    assert json.loads(body)["clientName"] == payload["clientName"]
    signature = headers.get("Idenfy-Signature") or headers.get("ComplyCube-Signature")
    if signature is not None:
        assert signature == hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    if vendor == "identomat":
        assert json.loads(body)["callbackApiKey"] == "secret"
    else:
        assert testing.dumps(payload) == body


@pytest.mark.parametrize(
    ("vendor", "options"),
    [
        ("idenfy", {"event_type": "IDENTIFICATION"}),
        ("complycube", {}),
        ("yoti", {}),
        ("yoti", {"auth_type": "bearer"}),
        ("identomat", {}),
    ],
)
def test_a_bytes_secret_signs_as_its_text_does(vendor: str, options: dict[str, Any]) -> None:
    # Review R53: the receivers take bytes secrets; sign() crashed on them (AttributeError).
    payload = {"id": "x-1", "type": "check.completed", "scanRef": "s-1", "topic": "t"}
    as_bytes = testing.sign(vendor, payload, "kéy:secret".encode(), **options)
    assert as_bytes == testing.sign(vendor, payload, "kéy:secret", **options)


def test_a_secret_that_is_not_text_is_refused_where_text_is_sent() -> None:
    assert testing.sign("complycube", {"id": "x"}, b"\xff\xfe")[1]["ComplyCube-Signature"]
    with pytest.raises(kw.ConfigurationError, match="not UTF-8"):
        testing.sign("identomat", {"id": "x"}, b"\xff\xfe")
    with pytest.raises(kw.ConfigurationError, match="not UTF-8"):
        testing.sign("yoti", {"id": "x"}, b"\xff\xfe", auth_type="bearer")
