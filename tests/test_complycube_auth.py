"""ComplyCube authentication (sheet complycube.md §2): ``ComplyCube-Signature`` holds the
lower-case hex HMAC-SHA256 of the raw body keyed with the webhook secret; constant-time compare,
fail closed, several secrets for rotation."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

import kyc_webhooks as kw
from _vectors import vector
from kyc_webhooks.complycube import SIGNATURE_HEADER, CheckStatusEvent
from kyc_webhooks.complycube._samples import SAMPLES
from kyc_webhooks.testing import dumps, sign

SECRET = "whsec_cc_5f1e9a7b"
OTHER_SECRET = "whsec_cc_rotated_0c44"
BODY = dumps(SAMPLES["check.completed.clear"])

HeaderPairs = list[tuple[str | bytes, str | bytes]]


def hexsig(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def receiver(secret: Any = SECRET) -> kw.Receiver:
    return kw.Receiver(kw.ComplyCube(secret=secret))


# -- the vendor's own vector -------------------------------------------------------------------
# Held as tests/vectors/complycube/php_sdk_unit_test_vector: authenticated, parsed as an unknown
# event keyed on its id and compared with ../shared/samples in test_vectors.py; refused under
# another secret there too.


def test_php_sdk_vector_equals_plain_hmac_sha256_hex() -> None:
    php = vector("complycube", "php_sdk_unit_test_vector")
    assert php.body == b'{"id":"value"}'
    header_value = php.headers["ComplyCube-Signature"]
    assert header_value == "bc00414fa4d54277a3ed01e5ee258d9800a918a7791c7cda16d38b82f38f2150"
    assert hexsig(php.body, php.key()) == header_value
    signed_body, headers = sign("complycube", php.body, php.key())
    assert signed_body == php.body
    assert headers[SIGNATURE_HEADER] == header_value


# -- tamper table ------------------------------------------------------------------------------


GOOD = hexsig(BODY)
OUTAGE_BODY = BODY.replace(b'"clear"', b'"rejected"')

# The common hostile mutations are one table for every vendor (test_vendor_contract.py); these are
# ComplyCube's own.
TAMPER: list[Any] = [
    pytest.param(BODY, [("ComplyCube-Signature", GOOD)], 200, id="ok"),
    pytest.param(OUTAGE_BODY, [("ComplyCube-Signature", GOOD)], 401, id="outcome-rewritten"),
    pytest.param(
        BODY,
        [("ComplyCube-Signature", GOOD), ("complycube-signature", GOOD)],
        401,
        id="header-sent-twice-in-two-spellings",
    ),
    pytest.param(BODY, [("Idenfy-Signature", GOOD)], 401, id="other-vendor-header-only"),
]


@pytest.mark.parametrize(("body", "headers", "status"), TAMPER)
def test_tamper_table_pinned_vendor(body: bytes, headers: HeaderPairs, status: int) -> None:
    rec = receiver()
    ran: list[kw.WebhookEvent] = []
    rec.on("complycube")(ran.append)
    outcome = rec.handle(body, headers, vendor="complycube")
    assert outcome.status_code == status, outcome.response_body()
    if status == 200:
        assert isinstance(outcome.event, CheckStatusEvent)
        assert len(ran) == 1
    else:
        assert isinstance(outcome.error, kw.AuthenticationError)
        assert outcome.event is None
        assert ran == []
        detail = outcome.response_body()["detail"]
        assert GOOD not in detail
        assert SECRET not in detail


@pytest.mark.parametrize(
    "name", ["ComplyCube-Signature", "Complycube-Signature", "complycube-signature"]
)
def test_vendor_is_detected_from_any_header_spelling(name: str) -> None:
    outcome = receiver().handle(BODY, {name: GOOD})
    assert outcome.status_code == 200
    assert outcome.vendor == "complycube"


def test_missing_header_unpinned_is_undetectable_not_accepted() -> None:
    outcome = receiver().handle(BODY, {"Content-Type": "application/json"})
    assert outcome.status_code == 400
    assert isinstance(outcome.error, kw.UndetectableVendorError)
    assert outcome.event is None


def test_verification_happens_before_decoding() -> None:
    # Invalid JSON with a wrong signature is a 401, not a 400: nothing is parsed unauthenticated.
    outcome = receiver().handle(b"{not json", {"ComplyCube-Signature": GOOD})
    assert outcome.status_code == 401
    assert isinstance(outcome.error, kw.AuthenticationError)


def test_signed_invalid_json_is_a_payload_error() -> None:
    body = b'{"id": "5ed170fe99c81a0007b9a3d3", "type": '
    outcome = receiver().handle(body, {"ComplyCube-Signature": hexsig(body)})
    assert outcome.status_code == 400
    assert isinstance(outcome.error, kw.PayloadError)
    assert "not valid UTF-8 JSON" in outcome.error.message


@pytest.mark.parametrize(
    "body", [b"[]", b'"check.completed"', b"null", b"42"], ids=["array", "string", "null", "number"]
)
def test_signed_non_object_body_is_a_payload_error(body: bytes) -> None:
    outcome = receiver().handle(body, {"ComplyCube-Signature": hexsig(body)})
    assert outcome.status_code == 400
    assert isinstance(outcome.error, kw.PayloadError)
    assert "must be a JSON object" in outcome.error.message


def test_signed_latin1_body_is_a_payload_error_not_a_crash() -> None:
    body = (
        '{"id":"5ed170fe99c81a0007b9a3d3","type":"client.created","payload":{"entityName":"Zoë"}}'
    )
    raw = body.encode("latin-1")
    outcome = receiver().handle(raw, {"ComplyCube-Signature": hexsig(raw)})
    assert outcome.status_code == 400
    assert isinstance(outcome.error, kw.PayloadError)


# -- rotation and configuration ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("signed_with", "configured", "status"),
    [
        pytest.param(SECRET, [SECRET, OTHER_SECRET], 200, id="old-secret-during-rotation"),
        pytest.param(OTHER_SECRET, [SECRET, OTHER_SECRET], 200, id="new-secret-during-rotation"),
        pytest.param(OTHER_SECRET, (OTHER_SECRET,), 200, id="tuple-of-one"),
        pytest.param(SECRET, [OTHER_SECRET], 401, id="old-secret-after-rotation"),
        pytest.param("third", [SECRET, OTHER_SECRET], 401, id="neither-secret"),
        pytest.param(SECRET, SECRET.encode(), 200, id="bytes-secret"),
        pytest.param("sécret-ü", "sécret-ü", 200, id="utf8-secret"),
    ],
)
def test_secret_rotation(signed_with: str, configured: Any, status: int) -> None:
    body, headers = sign("complycube", SAMPLES["client.created"], signed_with)
    assert receiver(configured).handle(body, headers).status_code == status


@pytest.mark.parametrize(
    "secret",
    ["", "   ", b"", [], [SECRET, ""], None, 42, {"a": "b"}],
    ids=["empty", "blank", "empty-bytes", "empty-list", "one-empty", "none", "int", "dict"],
)
def test_bad_secret_is_a_configuration_error(secret: Any) -> None:
    with pytest.raises(kw.ConfigurationError):
        kw.ComplyCube(secret=secret)


def test_vendor_repr_and_errors_never_show_the_secret() -> None:
    vendor = kw.ComplyCube(secret=[SECRET, OTHER_SECRET])
    assert SECRET not in repr(vendor)
    assert OTHER_SECRET not in repr(vendor)
    assert "keys=2" in repr(vendor)
    outcome = kw.Receiver(vendor).handle(BODY, {"ComplyCube-Signature": "0" * 64})
    assert outcome.error is not None
    text = f"{outcome.error!r} {outcome.error} {outcome.response_body()}"
    assert SECRET not in text
    assert "0" * 64 not in text


def test_str_body_is_a_usage_error_with_a_hint() -> None:
    with pytest.raises(kw.UsageError, match="raw request body"):
        receiver().handle(BODY.decode("utf-8"), {"ComplyCube-Signature": GOOD})  # type: ignore[arg-type]


def test_reserialised_body_fails_verification() -> None:
    # Sheet §2 pitfall: verifying a re-serialisation (JSON.stringify(req.body)), not the bytes.
    pretty = json.dumps(SAMPLES["check.completed.clear"], indent=2).encode("utf-8")
    compact_sig = hexsig(dumps(json.loads(pretty)))
    outcome = receiver().handle(pretty, {"ComplyCube-Signature": compact_sig})
    assert outcome.status_code == 401
