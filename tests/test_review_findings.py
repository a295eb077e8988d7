"""Defects found in review, each with the test that reproduces it."""

from __future__ import annotations

import hashlib
import hmac
import logging

import pytest

import kyc_webhooks as kw

IDENFY_KEY = "idenfy-signing-key"


def _idenfy_headers(body: bytes, event_type: str) -> dict[str, str]:
    signature = hmac.new(IDENFY_KEY.encode(), body, hashlib.sha256).hexdigest()
    return {"Idenfy-Signature": signature, "Idenfy-Event-Type": event_type}


# -- the unsigned Idenfy-Event-Type header never reaches a message, a log line or event_type raw --


def test_idenfy_undocumented_type_header_is_not_quoted_in_the_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=IDENFY_KEY))
    header = "Jane Doe 1985-01-01"
    with caplog.at_level(logging.INFO, logger="kyc_webhooks"):
        outcome = receiver.handle(b"[]", _idenfy_headers(b"[]", header))
    assert outcome.status_code == 400
    assert header not in str(outcome.response_body())
    assert header not in caplog.text


@pytest.mark.parametrize("header", ["A\nforged log line", "x" * 10_000, "COMPANY\x00DELETE"])
def test_idenfy_unprintable_or_huge_type_header_counts_as_absent(
    header: str, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=IDENFY_KEY))
    body = b'{"companyId": "c-1"}'
    with caplog.at_level(logging.INFO, logger="kyc_webhooks"):
        outcome = receiver.handle(body, _idenfy_headers(body, header))
    assert outcome.status_code == 200
    assert outcome.event_type == "UNKNOWN"  # as without the header
    assert header not in caplog.text
