"""ComplyCube payloads carry personal data (names, e-mails, dates of birth, addresses, national
numbers, download links): ``repr()``/``str()`` of events and payloads, error messages, HTTP
response bodies and log records must never show them, nor the webhook secret or signatures."""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

import pytest

import kyc_webhooks as kw
from kyc_webhooks.complycube import (
    CheckStatusEvent,
    ClientCreatedEvent,
    ComplyCubeEnvelope,
    DocumentUpdatedEvent,
)
from kyc_webhooks.complycube._samples import SAMPLES
from kyc_webhooks.testing import sign

SECRET = "whsec_cc_Zz9-secret-value"

PERSONAL_VALUES = [
    "Zoë",
    "Ñúñez",
    "Zoe",  # ASCII spellings in e-mails
    "nunez",
    "1990-02-14",
    "+34 612 345 678",
    "Calle Mayor",
    "Avenida de Andalucía",
    "Málaga",
    "29001",
    "29002",
    "Edificio Alcázar",
    "Andalucía",
    "/download",
    "passport.jpg",
    "X1234567L",
    "ES-TAX-99",
    "risk-notes-secret",
    "Dña.",
]

RICH_CLIENT: dict[str, Any] = {
    "id": "5eb04fcd0f3e360008035ed0",
    "type": "client.created",
    "resourceType": "client",
    "payload": {
        **SAMPLES["client.created"]["payload"],
        "telephone": "+34 952 000 111",
        "metadata": {"note": "risk-notes-secret"},
        "personDetails": {
            **SAMPLES["client.created"]["payload"]["personDetails"],
            "middleName": "Dña.",
            "nationalIdentityNumber": "X1234567L",
            "taxIdentificationNumber": "ES-TAX-99",
        },
        "nickname": "Zoë the unknown field",
    },
    "createdAt": "2024-03-18T09:41:27.190Z",
}

CHECK_WITH_RESULT: dict[str, Any] = {
    "id": "5ed170fe99c81a0007b9a3f9",
    "type": "check.completed.attention",
    "resourceType": "check",
    "payload": {
        "id": "5eb1276d96be4a0008713af4",
        "entityName": "Zoë Ñúñez",
        "status": "complete",
        "outcome": "attention",
        "result": {
            "outcome": "attention",
            "breakdown": {"extractedData": {"documentNumber": "X1234567L", "dob": "1990-02-14"}},
        },
        "createdAt": "2024-03-18T09:41:27.312Z",
    },
    "createdAt": "2024-03-18T09:43:06.012Z",
}

PAYLOADS: list[Any] = [
    *(pytest.param(SAMPLES[t], id=t) for t in SAMPLES),
    pytest.param(RICH_CLIENT, id="client-all-personal-fields"),
    pytest.param(CHECK_WITH_RESULT, id="check-with-result-breakdown"),
    pytest.param(
        {
            "id": "5f0c3b2a1d9e8f0007a6b5c4",
            "type": "livePhoto.created",
            "payload": {"downloadLink": "/livePhotos/1/download", "entityName": "Zoë Ñúñez"},
        },
        id="unknown-event",
    ),
]


def texts_of(obj: object) -> list[str]:
    return [repr(obj), str(obj), f"{obj}", f"{obj!r}"]


def assert_clean(text: str) -> None:
    assert SECRET not in text
    for value in PERSONAL_VALUES:
        assert value not in text, value


_NON_PERSONAL = {
    # Ids, enum values, timestamps and other non-personal values that repr() may show.
    "person", "main", "passport", "global", "front", "complete", "clear", "attention",
    "started", "cancelled", "processing", "pending", "failed", "rejected", "match_confirmed",
    "extensive_screening_check", "image/jpg", "female",
}  # fmt: skip


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _personal_strings(value: object) -> list[str]:
    out = []
    for s in _strings(value):
        if len(s) >= 4 and s not in _NON_PERSONAL and not _looks_like_id_or_time(s):
            out.append(s)
    return out


def _looks_like_id_or_time(s: str) -> bool:
    hexish = len(s) == 24 and all(c in "0123456789abcdef" for c in s)
    return hexish or (s[:2] == "20" and "T" in s) or (len(s) == 2 and s.isupper())


@pytest.mark.parametrize("payload", PAYLOADS)
def test_event_and_payload_formatting_hides_personal_values(payload: dict[str, Any]) -> None:
    body, headers = sign("complycube", payload, SECRET)
    event = kw.Receiver(kw.ComplyCube(secret=SECRET)).parse(body, headers)
    parts = texts_of(event)
    if isinstance(event, ComplyCubeEnvelope):
        parts += texts_of(event.payload)
    text = " ".join(parts)
    assert_clean(text)
    for value in _personal_strings(payload.get("payload")):
        if value in {"Onboarding - EU retail", "Retail onboarding v3", "user-8841"}:
            continue  # workflow template names, the integrator's external id: not personal
        if value.startswith(("Document, selfie", "2019-", "2024-")):
            continue
        assert value not in text, value
    # The values are still there for handlers.
    if isinstance(event, ClientCreatedEvent) and payload is RICH_CLIENT:
        assert event.payload is not None
        assert event.payload.person_details is not None
        assert event.payload.person_details.national_identity_number == "X1234567L"
        assert event.payload.email == "zoe.nunez@example.com"


def test_nested_personal_objects_redact_on_their_own() -> None:
    body, headers = sign("complycube", RICH_CLIENT, SECRET)
    event = kw.Receiver(kw.ComplyCube(secret=SECRET)).parse(body, headers)
    assert isinstance(event, ClientCreatedEvent)
    assert event.payload is not None
    details = event.payload.person_details
    assert details is not None
    assert_clean(" ".join(texts_of(details)))
    assert "nationality" in repr(details)  # names show, values do not
    assert "<redacted>" in repr(details)


def test_document_image_links_are_redacted() -> None:
    body, headers = sign("complycube", SAMPLES["document.updated.image_uploaded"], SECRET)
    event = kw.Receiver(kw.ComplyCube(secret=SECRET)).parse(body, headers)
    assert isinstance(event, DocumentUpdatedEvent)
    assert event.payload is not None
    assert event.payload.images
    image = event.payload.images[0]
    assert "download" not in repr(image).replace("download_link", "")
    assert image.download_link is not None
    assert image.download_link.endswith("/download")


def test_check_result_breakdown_is_redacted_but_outcome_shows() -> None:
    body, headers = sign("complycube", CHECK_WITH_RESULT, SECRET)
    event = kw.Receiver(kw.ComplyCube(secret=SECRET)).parse(body, headers)
    assert isinstance(event, CheckStatusEvent)
    text = repr(event)
    assert_clean(text)
    assert "ATTENTION" in text  # the outcome is what operators need in logs


BAD: list[Any] = [
    pytest.param(
        {**RICH_CLIENT, "payload": {**RICH_CLIENT["payload"], "email": ["Zoë Ñúñez"]}},
        id="wrong-type-personal-field",
    ),
    pytest.param({"type": "client.created", "payload": RICH_CLIENT["payload"]}, id="missing-id"),
    pytest.param({**CHECK_WITH_RESULT, "createdAt": "Zoë Ñúñez 1990-02-14"}, id="bad-timestamp"),
    pytest.param(
        {**RICH_CLIENT, "payload": "Zoë Ñúñez, Calle Mayor, Málaga"}, id="payload-is-a-string"
    ),
]


@pytest.mark.parametrize("payload", BAD)
def test_errors_responses_and_logs_hide_personal_values(
    payload: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    body, headers = sign("complycube", payload, SECRET)
    caplog.set_level(logging.DEBUG, logger="kyc_webhooks")
    outcome = kw.Receiver(kw.ComplyCube(secret=SECRET)).handle(body, headers)
    assert outcome.status_code == 400
    assert outcome.error is not None
    err = outcome.error
    text = " ".join(
        [*texts_of(err), err.message, json.dumps(outcome.response_body(), ensure_ascii=False),
         repr(outcome), caplog.text, repr(err.__cause__), repr(err.__context__),
         *traceback.format_exception(err)]
    )  # fmt: skip
    assert_clean(text)
    assert headers["ComplyCube-Signature"] not in text


def test_logs_of_a_successful_delivery_and_a_failing_handler_are_clean(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="kyc_webhooks")
    rec = kw.Receiver(kw.ComplyCube(secret=SECRET))

    @rec.on("complycube", "client.*")
    def boom(event: kw.WebhookEvent) -> None:
        raise RuntimeError("handler failed")

    body, headers = sign("complycube", RICH_CLIENT, SECRET)
    outcome = rec.handle(body, headers)
    assert outcome.status_code == 500
    text = " ".join([caplog.text, repr(outcome), json.dumps(outcome.response_body())])
    assert_clean(text)
    assert headers["ComplyCube-Signature"] not in text
    assert "complycube:5eb04fcd0f3e360008035ed0" in caplog.text  # the delivery key is logged


def test_wrong_signature_logs_no_signature_or_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="kyc_webhooks")
    body, headers = sign("complycube", RICH_CLIENT, "another-secret")
    outcome = kw.Receiver(kw.ComplyCube(secret=SECRET)).handle(body, headers)
    assert outcome.status_code == 401
    text = " ".join([caplog.text, repr(outcome), json.dumps(outcome.response_body())])
    assert_clean(text)
    assert headers["ComplyCube-Signature"] not in text
