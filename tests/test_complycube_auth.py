"""ComplyCube authentication (sheet complycube.md §2): ``ComplyCube-Signature`` holds the
lower-case hex HMAC-SHA256 of the raw body keyed with the webhook secret; constant-time compare,
fail closed, several secrets for rotation."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from kyc_webhooks.complycube import SIGNATURE_HEADER, CheckStatusEvent, ComplyCubeUnknownEvent
from kyc_webhooks.complycube._samples import SAMPLES
from kyc_webhooks.testing import dumps, sign

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "shared" / "samples" / "complycube"
PHP_VECTOR = {
    # Copied from ../shared/samples/complycube/signature_vector_php_sdk_unit_test.json, so the
    # test does not depend on that directory being present.
    "raw_body": '{"id":"value"}',
    "webhook_secret": "a_webhook_signature",
    "header_name": "ComplyCube-Signature",
    "header_value": "bc00414fa4d54277a3ed01e5ee258d9800a918a7791c7cda16d38b82f38f2150",
}
SECRET = "whsec_cc_5f1e9a7b"
OTHER_SECRET = "whsec_cc_rotated_0c44"
BODY = dumps(SAMPLES["check.completed.clear"])

HeaderPairs = list[tuple[str | bytes, str | bytes]]


def hexsig(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def receiver(secret: Any = SECRET) -> kw.Receiver:
    return kw.Receiver(kw.ComplyCube(secret=secret))


# -- the vendor's own vector -------------------------------------------------------------------


def test_php_sdk_vector_file_matches_the_copy_used_here() -> None:
    path = SAMPLE_DIR / "signature_vector_php_sdk_unit_test.json"
    if not path.exists():
        pytest.skip("shared samples directory not available")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert {k: data[k] for k in PHP_VECTOR} == PHP_VECTOR


def test_php_sdk_vector_authenticates_and_reaches_catch_all_as_unknown_event() -> None:
    # The body lacks `type`: an authenticated body of unknown shape is an unknown event (200),
    # not a 400 that would make ComplyCube retry and finally disable the webhook (sheet §1, §5.4).
    rec = receiver(PHP_VECTOR["webhook_secret"])
    seen: list[kw.WebhookEvent] = []
    rec.on("*")(seen.append)
    body = PHP_VECTOR["raw_body"].encode("utf-8")
    outcome = rec.handle(body, {PHP_VECTOR["header_name"]: PHP_VECTOR["header_value"]})
    assert outcome.status_code == 200, outcome.response_body()
    assert outcome.handled == 1
    assert isinstance(seen[0], ComplyCubeUnknownEvent)
    assert isinstance(seen[0], kw.UnknownEvent)
    assert seen[0].event_type == "UNKNOWN"
    assert seen[0].delivery_key == "complycube:value"
    assert seen[0].payload == {"id": "value"}


def test_php_sdk_vector_equals_plain_hmac_sha256_hex() -> None:
    body = PHP_VECTOR["raw_body"].encode("utf-8")
    assert hexsig(body, PHP_VECTOR["webhook_secret"]) == PHP_VECTOR["header_value"]
    signed_body, headers = sign("complycube", body, PHP_VECTOR["webhook_secret"])
    assert signed_body == body
    assert headers[SIGNATURE_HEADER] == PHP_VECTOR["header_value"]


def test_php_sdk_vector_fails_under_another_secret() -> None:
    body = PHP_VECTOR["raw_body"].encode("utf-8")
    outcome = receiver("a_webhook_signaturE").handle(
        body, {"ComplyCube-Signature": PHP_VECTOR["header_value"]}
    )
    assert outcome.status_code == 401
    assert isinstance(outcome.error, kw.AuthenticationError)


# -- tamper table ------------------------------------------------------------------------------


def flip_byte(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def flip_hex_char(sig: str, index: int) -> str:
    ch = sig[index]
    return sig[:index] + ("0" if ch != "0" else "1") + sig[index + 1 :]


GOOD = hexsig(BODY)
OUTAGE_BODY = BODY.replace(b'"clear"', b'"rejected"')

TAMPER: list[Any] = [
    pytest.param(BODY, [("ComplyCube-Signature", GOOD)], 200, id="ok"),
    pytest.param(BODY, [("Complycube-Signature", GOOD)], 200, id="header-php-sdk-spelling"),
    pytest.param(BODY, [("complycube-signature", GOOD)], 200, id="header-node-sdk-spelling"),
    pytest.param(BODY, [("COMPLYCUBE-SIGNATURE", GOOD)], 200, id="header-upper-case"),
    pytest.param(BODY, [(b"complycube-signature", GOOD.encode())], 200, id="header-as-bytes"),
    pytest.param(
        BODY, [("ComplyCube-Signature", GOOD.upper())], 200, id="upper-case-hex-same-digest"
    ),
    pytest.param(BODY, [("ComplyCube-Signature", f"  {GOOD} ")], 200, id="surrounding-spaces"),
    pytest.param(
        flip_byte(BODY, 10), [("ComplyCube-Signature", GOOD)], 401, id="flipped-body-byte"
    ),
    pytest.param(
        flip_byte(BODY, len(BODY) - 1),
        [("ComplyCube-Signature", GOOD)],
        401,
        id="flipped-last-body-byte",
    ),
    pytest.param(OUTAGE_BODY, [("ComplyCube-Signature", GOOD)], 401, id="outcome-rewritten"),
    pytest.param(BODY[:-1], [("ComplyCube-Signature", GOOD)], 401, id="truncated-body"),
    pytest.param(BODY + b" ", [("ComplyCube-Signature", GOOD)], 401, id="trailing-space-added"),
    pytest.param(BODY + b"\n", [("ComplyCube-Signature", GOOD)], 401, id="trailing-newline-added"),
    pytest.param(b"", [("ComplyCube-Signature", GOOD)], 401, id="empty-body"),
    pytest.param(
        BODY, [("ComplyCube-Signature", flip_hex_char(GOOD, 0))], 401, id="flipped-first-sig-char"
    ),
    pytest.param(
        BODY, [("ComplyCube-Signature", flip_hex_char(GOOD, 63))], 401, id="flipped-last-sig-char"
    ),
    pytest.param(BODY, [("ComplyCube-Signature", GOOD[:-1])], 401, id="sig-truncated"),
    pytest.param(BODY, [("ComplyCube-Signature", GOOD + "0")], 401, id="sig-one-char-too-long"),
    pytest.param(BODY, [("ComplyCube-Signature", GOOD + GOOD)], 401, id="sig-doubled"),
    pytest.param(BODY, [("ComplyCube-Signature", "")], 401, id="sig-empty"),
    pytest.param(BODY, [("ComplyCube-Signature", "z" * 64)], 401, id="sig-non-hex"),
    pytest.param(BODY, [("ComplyCube-Signature", GOOD[:-1] + "g")], 401, id="sig-one-non-hex-char"),
    pytest.param(BODY, [("ComplyCube-Signature", GOOD[:-1] + "é")], 401, id="sig-non-ascii"),
    pytest.param(BODY, [(b"ComplyCube-Signature", b"\xff" * 64)], 401, id="sig-latin1-bytes"),
    pytest.param(BODY, [("ComplyCube-Signature", "sha256=" + GOOD)], 401, id="sig-with-prefix"),
    pytest.param(
        BODY, [("ComplyCube-Signature", hexsig(BODY, "wrong-secret"))], 401, id="wrong-secret"
    ),
    pytest.param(
        BODY,
        [("ComplyCube-Signature", hashlib.sha256(BODY).hexdigest())],
        401,
        id="plain-sha256-no-key",
    ),
    pytest.param(
        BODY,
        [("ComplyCube-Signature", hexsig(BODY, SECRET + " "))],
        401,
        id="secret-with-trailing-space",
    ),
    pytest.param(
        BODY,
        [("ComplyCube-Signature", GOOD), ("complycube-signature", GOOD)],
        401,
        id="header-sent-twice",
    ),
    pytest.param(BODY, [("Idenfy-Signature", GOOD)], 401, id="other-vendor-header-only"),
    pytest.param(BODY, [], 401, id="missing-header"),
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
