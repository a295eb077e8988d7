"""Defects a coverage-guided fuzz campaign found (atheris over every vendor's test vectors: body
mutations signed correctly, header mutations, and the store path with ``process_pending()``).

An authenticated body whose verification reference is the empty string (``"scanRef": ""``,
``"session_id": ""`` ...) passed validation -- the field is there and is a string -- and gave a
decision whose subject was ``""`` (or ``"AGE_ESTIMATION:"``): a placeholder that every such body
shares, which the ledger ordered against each other, and which ``receiver.decisions`` refused when
given back (``deliveries(vendor=..., subject="")``: ``UsageError``). Such a body carries no
decision, as a ``FACIAL_AUTHENTICATION`` without ``id`` or ``token`` already did."""

from __future__ import annotations

from typing import Any

import pytest

import kyc_webhooks as kw
from kyc_webhooks.testing import make_vendors, sample_payload, sign

SECRETS = {"idenfy": "k-idenfy", "complycube": "k-cc", "yoti": "user:pass", "identomat": "k-ident"}

# (vendor, event type, the overrides that empty its reference)
EMPTY_REFERENCE: list[tuple[str, str, dict[str, Any]]] = [
    ("idenfy", "IDENTIFICATION", {"scanRef": ""}),
    ("idenfy", "IDENTIFICATION_AUTO_FINISHED", {"scanRef": ""}),
    ("idenfy", "AGE_ESTIMATION", {"scanRef": ""}),
    ("idenfy", "COMPANY_REVIEW", {"id": ""}),
    ("idenfy", "COMPANY_EXPIRATION", {"id": "", "expirationStatus": "EXPIRED"}),
    ("idenfy", "AML_MONITORING", {"monitoringId": ""}),
    ("complycube", "check.completed", {"id": "", "payload__id": ""}),
    ("complycube", "workflow.session.completed", {"id": "", "payload__id": ""}),
    ("yoti", "session_completion", {"session_id": ""}),
    ("yoti", "client_session_token_deleted", {"session_id": ""}),
    ("identomat", "session-change", {"sessionId": ""}),
]


def _delivery(vendor: str, event_type: str, overrides: dict[str, Any]) -> tuple[bytes, Any]:
    payload = sample_payload(vendor, event_type, **overrides)
    return sign(vendor, payload, SECRETS[vendor], event_type=event_type)


@pytest.mark.parametrize(
    ("vendor", "event_type", "overrides"),
    EMPTY_REFERENCE,
    ids=[f"{vendor}-{event_type}" for vendor, event_type, _ in EMPTY_REFERENCE],
)
@pytest.mark.parametrize("blank", ["", " ", "\t \n"], ids=["empty", "space", "whitespace"])
def test_an_empty_verification_reference_carries_no_decision(
    vendor: str, event_type: str, overrides: dict[str, Any], blank: str
) -> None:
    # A blank reference (the diff review of the fix for "") names no verification either.
    receiver = kw.Receiver(*make_vendors(SECRETS), store=kw.MemoryStore())
    decided: list[kw.Decision] = []
    receiver.on_decision()(decided.append)
    blanked = {key: blank if value == "" else value for key, value in overrides.items()}

    outcome = receiver.handle(*_delivery(vendor, event_type, blanked))

    assert outcome.status_code == 200
    assert outcome.event is not None
    assert outcome.event.decision is None
    assert decided == []


@pytest.mark.parametrize(
    ("vendor", "event_type", "overrides"),
    [
        ("complycube", "check.completed", {"id": ""}),  # the check's id is the subject
        ("complycube", "check.completed", {"payload__id": ""}),  # else the event's own id
        ("complycube", "check.completed", {"payload__id": " "}),  # a blank one names nothing
    ],
    ids=["empty-event-id", "empty-check-id", "blank-check-id"],
)
def test_one_non_empty_reference_still_decides(
    vendor: str, event_type: str, overrides: dict[str, Any]
) -> None:
    receiver = kw.Receiver(*make_vendors(SECRETS), store=kw.MemoryStore())
    decided: list[kw.Decision] = []
    receiver.on_decision()(decided.append)

    receiver.handle(*_delivery(vendor, event_type, overrides))

    (decision,) = decided
    assert decision.subject
    assert receiver.decisions.deliveries(vendor=vendor, subject=decision.subject) != []
