"""Identomat personal data and the API key never reach reprs, strings, errors, outcomes or logs.

Identomat puts its authenticator (``callbackApiKey``), OTP codes, phone numbers, e-mail addresses
and session links (they carry the session token) in the body (sheet §2, §4). Everything a service
is likely to print or log is formatted here and searched for those values; the attributes must
still hold them for the handler that sends the SMS or e-mail.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import pytest

import kyc_webhooks as kw
from _vectors import vector
from kyc_webhooks.identomat.models import (
    EmailOneTimePasswordRequestEvent,
    OneTimePasswordRequestEvent,
    ShareSessionLinkViaEmailEvent,
    ShareSessionLinkViaSmsEvent,
)
from kyc_webhooks.testing import sign

API_KEY = "idm-cb-7Qm2vX9pL4tR8wZ1nB6yH3sD5fJ0kC"
WRONG_KEY = "wrong-key-Hq4Mz8Rt2Wy6Pc0"

# Values from the vectors that must never be shown.
SECRETS = {
    "api key": API_KEY,
    "wrong api key": WRONG_KEY,
    "sms otp code": "604913",
    "e-mail otp code": "381207",
    "phone number": "+995599123456",
    "phone number digits": "599123456",
    "second phone number": "577654321",
    "e-mail address": "nino.beridze@example.ge",
    "georgian e-mail address": "ნინო.ბერიძე@example.ge",
    "operator e-mail": "operator.tamar@example.ge",
    "cc e-mail": "compliance@example.ge",
    "cc list e-mail": "audit@example.ge",
    "session link": "widget.identomat.com",
    # The session id is the widget's session token (identomat.md §4.2).
    "sms session token": "g0b192je1zxsozsw926a6d0gitef2i8qg25anad1",
    "e-mail session token": "1cinofrkqy6wzp1lkno1ju9nqako7963ipndb539",
    "message text": "გთხოვთ",
    "unknown event's personal field": "ნინო ბერიძე",
}

PII_CASES = [
    "one_time_password_request",
    "email_one_time_password_request",
    "share_session_link_via_sms",
    "share_session_link_via_email",
    "share_session_link_via_email_cc_list_no_creator",
    "unknown_type_future_callback",
]


def formatted(obj: object) -> list[str]:
    return [repr(obj), str(obj), f"{obj}", f"{obj!r}", "%s" % (obj,), "%r" % (obj,)]  # noqa: UP031


def log_text(caplog: pytest.LogCaptureFixture) -> list[str]:
    out = [caplog.text]
    for record in caplog.records:
        out.append(record.getMessage())
        out.append(repr(record.args))
        out.append(repr(record.__dict__))
        if record.exc_info is not None:
            out.append(logging.Formatter().formatException(record.exc_info))
    return out


def assert_clean(texts: list[str]) -> None:
    blob = "\n".join(texts)
    leaked = [name for name, value in SECRETS.items() if value in blob]
    assert leaked == [], f"leaked: {leaked}"


def receiver() -> kw.Receiver:
    return kw.Receiver(kw.Identomat(api_key=API_KEY))


@pytest.mark.parametrize("case", PII_CASES)
def test_accepted_delivery_shows_no_personal_data(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kyc_webhooks")
    body = vector("identomat", case).body
    rec = receiver()
    rec.on("*")(lambda event: None)
    outcome = rec.handle(body, {"Content-Type": "application/json"})
    assert outcome.status_code == 200
    event = outcome.event
    assert event is not None
    texts = [*formatted(event), *formatted(outcome), str(outcome.response_body())]
    texts += [event.delivery_key, event.event_type, *log_text(caplog)]
    assert caplog.records  # the receiver did log this delivery
    assert_clean(texts)


@pytest.mark.parametrize(
    ("payload", "key", "status"),
    [
        pytest.param({}, WRONG_KEY, 401, id="wrong-key"),
        pytest.param({"phoneNumber": 995599123456}, API_KEY, 400, id="phone-as-number"),
        pytest.param({"phoneNumber": ["+995599123456"]}, API_KEY, 400, id="phone-as-list"),
        pytest.param({"text": {"code": "604913"}}, API_KEY, 400, id="text-as-object"),
        pytest.param({"sessionId": None, "text": "604913"}, API_KEY, 400, id="missing-session"),
    ],
)
def test_refused_delivery_shows_no_personal_data(
    payload: dict[str, Any], key: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kyc_webhooks")
    base = {
        "type": "one-time-password-request",
        "sessionId": "onn648jyboz7t6udsimf17b27m6olchf90h2y22a",
        "text": "Your code is 604913",
        "phoneNumber": "+995599123456",
    }
    body, headers = sign("identomat", {**base, **payload}, key)
    outcome = receiver().handle(body, headers)
    assert outcome.status_code == status
    error = outcome.error
    assert error is not None
    texts = [*formatted(error), *formatted(outcome), error.message, str(error.args)]
    texts += [str(outcome.response_body()), *log_text(caplog)]
    assert caplog.records
    # parse() raises the same error; the traceback a logger would print (cause and context
    # chain included) must not carry values either.
    with pytest.raises(kw.DeliveryError) as info:
        receiver().parse(body, headers)
    texts += [str(info.value), repr(info.value), repr(info.value.__cause__)]
    texts.append("".join(traceback.format_exception(info.value)))
    assert_clean(texts)


def test_handler_failure_log_shows_no_personal_data(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="kyc_webhooks")
    body = vector("identomat", "one_time_password_request").body
    rec = receiver()

    @rec.on_event(OneTimePasswordRequestEvent)
    def send_sms(event: OneTimePasswordRequestEvent) -> None:
        raise RuntimeError("SMS gateway down")

    outcome = rec.handle(body, {"Content-Type": "application/json"})
    assert outcome.status_code == 500
    assert any(r.levelno == logging.ERROR for r in caplog.records)
    assert_clean([*formatted(outcome), str(outcome.response_body()), *log_text(caplog)])


def test_attributes_keep_the_values_for_the_handler() -> None:
    rec = receiver()
    sent: list[tuple[str | None, str | None]] = []

    @rec.on_event(OneTimePasswordRequestEvent)
    def send_sms(event: OneTimePasswordRequestEvent) -> None:
        sent.append((event.phone_number, event.text))

    body = vector("identomat", "one_time_password_request").body
    assert rec.handle(body).status_code == 200
    assert sent == [("+995599123456", "თქვენი კოდია 604913")]

    def load(case: str) -> kw.WebhookEvent:
        return receiver().parse(vector("identomat", case).body)

    mail = load("email_one_time_password_request")
    assert isinstance(mail, EmailOneTimePasswordRequestEvent)
    assert (mail.address, mail.callback_api_key) == ("nino.beridze@example.ge", API_KEY)
    assert mail.content is not None
    assert "381207" in mail.content
    sms_link = load("share_session_link_via_sms")
    assert isinstance(sms_link, ShareSessionLinkViaSmsEvent)
    assert sms_link.created_by == "operator.tamar@example.ge"
    assert sms_link.session_link is not None
    assert sms_link.session_link.endswith(sms_link.session_id)
    mail_link = load("share_session_link_via_email_cc_list_no_creator")
    assert isinstance(mail_link, ShareSessionLinkViaEmailEvent)
    assert mail_link.cc == ["compliance@example.ge", "audit@example.ge"]


def test_every_personal_field_is_marked() -> None:
    # A new personal field added without PERSONAL would slip past the formatted-output tests if
    # no vector carried it; pin the list.
    expected = {
        "OneTimePasswordRequestEvent": {"callback_api_key", "session_id", "text", "phone_number"},
        "EmailOneTimePasswordRequestEvent": {
            "callback_api_key",
            "session_id",
            "address",
            "subject",
            "content",
        },
        "ShareSessionLinkViaSmsEvent": {
            "callback_api_key",
            "session_id",
            "text",
            "phone_number",
            "session_link",
            "created_by",
        },
        "ShareSessionLinkViaEmailEvent": {
            "callback_api_key",
            "session_id",
            "address",
            "subject",
            "content",
            "cc",
            "session_link",
            "created_by",
        },
        "SessionChangeEvent": {"callback_api_key", "session_id"},
        "VideoCallStatusUpdateEvent": {"callback_api_key", "session_id"},
        "IdentomatUnknownEvent": {"callback_api_key", "session_id"},
    }
    from kyc_webhooks.identomat import models

    got = {name: set(getattr(models, name).__personal_fields__) for name in expected}
    assert got == expected
