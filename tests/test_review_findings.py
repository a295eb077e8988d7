"""Defects found in review, each with the test that reproduces it."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
from datetime import datetime, timedelta, timezone

import pytest

import kyc_webhooks as kw
from kyc_webhooks.store import DecisionEntry, MemoryStore, supersedes
from kyc_webhooks.testing import sample_payload, sign

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


# -- the ledger's order: replaces() must be a total order (store/_base.py docstring) -------------


def _entry(name: str, occurred: int | None, received: int) -> DecisionEntry:
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return DecisionEntry(
        vendor="idenfy",
        subject="scan-1",
        status=name,
        final=False,
        delivery_id=name,
        event_type="IDENTIFICATION",
        received_at=base + timedelta(minutes=received),
        occurred_at=None if occurred is None else base + timedelta(minutes=occurred),
    )


def test_ledger_ends_with_the_same_entry_whatever_the_processing_order() -> None:
    # iDenfy identification events of one scanRef: finishTime (occurred_at) is not on every one.
    # Processing order differs from arrival order under defer=True, retries and process_pending.
    entries = [_entry("approved", 1, 3), _entry("pending", None, 2), _entry("declined", 2, 1)]
    ends = set()
    for order in itertools.permutations(entries):
        current: DecisionEntry | None = None
        for entry in order:
            if supersedes(entry, current):  # statuses differ: the same as replaces()
                current = entry
        assert current is not None
        ends.add(current.status)
    assert len(ends) == 1, ends


# -- a decision time UTC cannot hold never reaches a store ---------------------------------------


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_a_decision_time_outside_the_utc_calendar_is_kept_as_unknown(when: str) -> None:
    payload = sample_payload("complycube", "check.completed")
    payload["createdAt"] = when  # the event's time orders ComplyCube's verdicts (review R35)
    body, headers = sign("complycube", payload, "complycube-secret")
    store = MemoryStore()
    receiver = kw.Receiver(kw.ComplyCube(secret="complycube-secret"), store=store)
    outcome = receiver.handle(body, headers)
    assert outcome.status_code == 200
    found = store.effective_decision("complycube", payload["payload"]["id"])
    assert found is not None
    assert found.occurred_at is None  # DjangoStore and PostgreSQL keep UTC: it would not store


@pytest.mark.parametrize(
    "key",
    [
        "Jane Doe 1990-01-01 LT123456",
        "Jane\nCRITICAL kyc_webhooks forged line",
        "Jürgen",
        # Shaped like identifiers, still the sender's text (review R43: masked by position now).
        "LT39001011234",
        "jane.doe-1990-01-01",
    ],
)
def test_a_map_key_the_sender_wrote_is_never_quoted_in_errors_or_logs(
    caplog: pytest.LogCaptureFixture, key: str
) -> None:
    """A key of a typed map (iDenfy's ``fileUrls``) was quoted in the 400's message -- the HTTP
    answer, the "delivery rejected" log line (where a line break forged a second line) and
    ``verify``'s output: personal data, against "names fields, never values" (review R40). The
    location names it ``<key>`` -- the step after a field typed as a map, whatever it looks like
    -- and fields, union members and indexes are still named."""
    receiver = kw.Receiver(kw.Idenfy(signing_key="k"))
    payload = sample_payload("idenfy", "IDENTIFICATION")
    payload["fileUrls"][key] = {"not": "a url"}
    payload["status"]["overall"] = 5
    with caplog.at_level(logging.WARNING, logger="kyc_webhooks"):
        outcome = receiver.handle(*sign("idenfy", payload, "k", event_type="IDENTIFICATION"))
    assert outcome.status_code == 400
    assert outcome.error is not None
    message = outcome.error.message
    assert "fileUrls.<key>: string_type" in message
    assert "status.overall.str-enum[OverallStatus]: enum" in message  # still named
    shown = message + caplog.text + json.dumps(outcome.response_body())
    assert key not in shown
    assert key.split()[0] not in shown
    assert [r.getMessage().count("\n") for r in caplog.records] == [0] * len(caplog.records)
