"""iDenfy authentication (sheet idenfy.md §2.1): ``Idenfy-Signature`` is the lower-case hex
HMAC-SHA256 of the raw body keyed with the notification's signing key (or, for old integrations,
the API secret). The hostile mutations are in test_vendor_contract.py (one table for every
vendor); here: the scheme, key rotation and configuration."""

from __future__ import annotations

import hashlib
import hmac

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


def hexsig(body: bytes, key: str = KEY) -> str:
    return hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()


def receiver(key: str | list[str] = KEY) -> kw.Receiver:
    return kw.Receiver(kw.Idenfy(signing_key=key))


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


# -- tampering ------------------------------------------------------------------------------------
# The hostile mutations (body, signature, key, header spellings and case, duplicates, non-ASCII,
# logs and errors free of secrets and payload values) are one table for every vendor:
# test_vendor_contract.py.


def test_missing_signature_is_401_when_vendor_is_pinned() -> None:
    outcome = receiver().handle(BODY, {"Content-Type": "application/json"}, vendor="idenfy")
    assert outcome.status_code == 401
    assert isinstance(outcome.error, kw.AuthenticationError)


def test_delivery_without_event_type_header_is_accepted() -> None:
    outcome = receiver().handle(BODY, without("Idenfy-Event-Type"))
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
