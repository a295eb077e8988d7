"""Identomat callbacks: byte-exact vectors, models, samples, forward compatibility, routing.

Facts: ../shared/vendors/identomat.md. Authentication tampering lives in test_identomat_auth.py,
redaction in test_identomat_redaction.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from typing import Any

import pydantic
import pytest

import kyc_webhooks as kw
from _lossless import assert_lossless
from _vectors import load, vector, vector_names
from kyc_webhooks import identomat
from kyc_webhooks.identomat._samples import SAMPLES
from kyc_webhooks.identomat.models import (
    EVENT_MODELS,
    EVENT_TYPES,
    CompositionStatus,
    EventType,
    IdentomatEvent,
    IdentomatUnknownEvent,
    OneTimePasswordRequestEvent,
    RoomStatus,
    SessionChangeEvent,
    SessionResult,
    SessionType,
    ShareSessionLinkViaEmailEvent,
    VideoCallStatusUpdateEvent,
    VideoFileStatus,
)
from kyc_webhooks.store._runner import storable_body
from kyc_webhooks.testing import sign

#: The key the vectors under tests/vectors/identomat/ were written with.
API_KEY = "idm-cb-7Qm2vX9pL4tR8wZ1nB6yH3sD5fJ0kC"
VECTOR_CASES = vector_names("identomat")

# Sheet §3: the six documented callback types, in the sheet's order.
DOCUMENTED_TYPES = (
    "one-time-password-request",
    "email-one-time-password-request",
    "share-session-link-via-sms",
    "share-session-link-via-email",
    "session-change",
    "video-call-status-update",
)


def load_vector(case: str) -> tuple[bytes, dict[str, str]]:
    return load("identomat", case)


def receiver() -> kw.Receiver:
    return kw.Receiver(kw.Identomat(api_key=API_KEY))


def parse(payload: dict[str, Any]) -> IdentomatEvent:
    body, headers = sign("identomat", payload, API_KEY)
    event = receiver().parse(body, headers)
    assert isinstance(event, IdentomatEvent)
    return event


# case -> attributes its event must have (the model, event type and delivery key are in each
# vector's expected.json, checked by test_vectors.py). Every vector folder must be listed here.
EXPECTED: dict[str, dict[str, Any]] = {
    "one_time_password_request": {"text": "თქვენი კოდია 604913", "phone_number": "+995599123456"},
    "email_one_time_password_request": {
        "address": "nino.beridze@example.ge",
        "subject": "ვერიფიკაციის კოდი",
        "content": "გამარჯობა ნინო, თქვენი ერთჯერადი კოდია 381207.",
    },
    "share_session_link_via_sms": {
        "phone_number": "+995577654321",
        "session_link": "https://widget.identomat.com/?session_token="
        "g0b192je1zxsozsw926a6d0gitef2i8qg25anad1",
        "created_by": "operator.tamar@example.ge",
    },
    "share_session_link_via_email": {
        "address": "giorgi.kapanadze@example.ge",
        "cc": "compliance@example.ge",
        "cc_addresses": ("compliance@example.ge",),
        "created_by": "operator.tamar@example.ge",
    },
    "share_session_link_via_email_cc_list_no_creator": {
        "address": "ნინო.ბერიძე@example.ge",
        "cc": ["compliance@example.ge", "audit@example.ge"],
        "cc_addresses": ("compliance@example.ge", "audit@example.ge"),
        "created_by": None,
    },
    "session_change_approved_kyc": {
        "result": SessionResult.APPROVED,
        "session_type": None,
        "session_kind": SessionType.KYC,
        "is_kyb": False,
    },
    "session_change_rejected_kyb": {
        "result": SessionResult.REJECTED,
        "session_type": SessionType.KYB,
        "session_kind": SessionType.KYB,
        "is_kyb": True,
    },
    "session_change_manual_check": {"result": SessionResult.MANUAL_CHECK, "is_kyb": False},
    "session_change_additional_information_requested_kyb": {
        "result": SessionResult.ADDITIONAL_INFORMATION_REQUESTED,
        "is_kyb": True,
    },
    "video_call_status_update_empty": {
        "room_id": "RM2b7c9e1f0a3d4c5b6a7e8f9d0c1b2a3e",
        "room_status": RoomStatus.EMPTY,
        "composition_status": None,
        "video_file_status": None,
        "video_file_id": None,
        "video_available": False,
    },
    "video_call_status_update_ended": {
        "room_status": RoomStatus.ENDED,
        "composition_status": CompositionStatus.AVAILABLE,
        "video_file_status": VideoFileStatus.AVAILABLE,
        "video_file_id": "CJ0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b",
        "video_available": True,
    },
    "unknown_type_future_callback": {"type": "document-expiry-reminder"},
}


# -- vectors -----------------------------------------------------------------------------------
# Authentication, model, event type, delivery key and round trip of every vector: test_vectors.py.


def test_every_vector_has_expectations() -> None:
    assert sorted(EXPECTED) == VECTOR_CASES


@pytest.mark.parametrize("case", VECTOR_CASES)
def test_vector_attributes(case: str) -> None:
    found = vector("identomat", case)
    event = found.receiver().parse(found.body, found.headers)
    assert isinstance(event, IdentomatEvent)
    wire = found.wire()
    assert event.event_type == wire["type"] == event.type
    assert event.session_id == wire["sessionId"]
    assert event.callback_api_key == API_KEY
    for name, value in EXPECTED[case].items():
        assert getattr(event, name) == value, name
    assert wire["sessionId"] not in event.delivery_key  # the session token is never logged


def test_same_result_twice_for_one_session_gets_distinct_keys() -> None:
    # The reason for the body digest (see IdentomatEvent): the same result may legitimately be
    # sent twice for one session; only the bytes tell the two callbacks apart.
    base = {"type": "session-change", "sessionId": "a" * 40, "result": "APPROVED"}
    first = parse(base)
    second = parse({**base, "sessionType": None})
    assert first.delivery_key != second.delivery_key
    assert first.delivery_key.startswith("identomat:session-change:")
    assert "a" * 40 not in first.delivery_key


def test_unknown_event_without_session_id_has_a_key() -> None:
    event = parse({"type": "brand-new"})
    assert isinstance(event, IdentomatUnknownEvent)
    digest = hashlib.sha256(storable_body("identomat", event.raw_body)).hexdigest()[:32]
    assert event.delivery_key == f"identomat:brand-new:{digest}"


# -- event types, samples --------------------------------------------------------------------


def test_event_types_are_the_six_documented() -> None:
    assert EVENT_TYPES == DOCUMENTED_TYPES
    assert kw.Identomat.event_types() == DOCUMENTED_TYPES
    assert tuple(t.value for t in EventType) == DOCUMENTED_TYPES
    assert set(EVENT_MODELS) == set(DOCUMENTED_TYPES)
    assert len(set(EVENT_MODELS.values())) == 6  # one model per type


def test_samples_cover_exactly_the_documented_types() -> None:
    assert set(SAMPLES) == set(DOCUMENTED_TYPES)


@pytest.mark.parametrize("event_type", DOCUMENTED_TYPES)
def test_sample_is_realistic_and_valid(event_type: str) -> None:
    payload = SAMPLES[event_type]
    assert payload["type"] == event_type
    assert re.fullmatch(r"[a-z0-9]{40}", payload["sessionId"])
    assert "callbackApiKey" not in payload  # sign() inserts it
    if "phoneNumber" in payload:
        assert re.fullmatch(r"\+9955\d{8}", payload["phoneNumber"])
    event = parse(payload)
    assert type(event) is EVENT_MODELS[event_type]
    assert event.event_type == event_type
    expected = {**payload, "callbackApiKey": API_KEY}
    assert_lossless(event, expected)


def test_samples_carry_non_ascii_text() -> None:
    text = json.dumps(SAMPLES, ensure_ascii=False)
    assert "ნინო" in text
    assert not text.isascii()


def test_samples_are_not_shared_mutable_state() -> None:
    # sign() copies the payload: signing must not insert the key into the module's samples.
    sign("identomat", SAMPLES["session-change"], API_KEY)
    assert "callbackApiKey" not in SAMPLES["session-change"]


# -- convenience properties ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "kind", "is_kyb"),
    [
        pytest.param({}, SessionType.KYC, False, id="absent-is-kyc"),
        pytest.param({"sessionType": None}, SessionType.KYC, False, id="null-is-kyc"),
        pytest.param({"sessionType": "kyb"}, SessionType.KYB, True, id="kyb"),
        pytest.param({"sessionType": "KYB"}, SessionType.KYB, True, id="upper-case-kyb"),
        pytest.param({"sessionType": "kyc"}, SessionType.KYC, False, id="explicit-kyc"),
        pytest.param({"sessionType": "kyt"}, "kyt", False, id="unknown-kept"),
    ],
)
def test_session_kind(extra: dict[str, Any], kind: SessionType | str, is_kyb: bool) -> None:
    payload = {"type": "session-change", "sessionId": "s" * 40, "result": "APPROVED", **extra}
    event = parse(payload)
    assert isinstance(event, SessionChangeEvent)
    assert event.session_kind == kind
    assert type(event.session_kind) is type(kind)
    assert event.is_kyb is is_kyb
    # The wire value is kept as sent, whatever the kind.
    dumped = event.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert dumped == {**payload, "callbackApiKey": API_KEY}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param({}, (), id="absent"),
        pytest.param({"cc": None}, (), id="null"),
        pytest.param({"cc": ""}, (), id="empty-string"),
        pytest.param({"cc": []}, (), id="empty-list"),
        pytest.param({"cc": "a@example.ge"}, ("a@example.ge",), id="string"),
        pytest.param(
            {"cc": "a@example.ge, b@example.ge"}, ("a@example.ge", "b@example.ge"), id="csv"
        ),
        pytest.param(
            {"cc": ["a@example.ge", "b@example.ge"]}, ("a@example.ge", "b@example.ge"), id="list"
        ),
    ],
)
def test_cc_forms(extra: dict[str, Any], expected: tuple[str, ...]) -> None:
    payload = {**SAMPLES["share-session-link-via-email"], **extra}
    if not extra:
        del payload["cc"]
    event = parse(payload)
    assert isinstance(event, ShareSessionLinkViaEmailEvent)
    assert event.cc_addresses == expected
    assert event.model_dump(mode="json", by_alias=True, exclude_unset=True) == {
        **payload,
        "callbackApiKey": API_KEY,
    }


@pytest.mark.parametrize(
    ("status", "file_id", "available"),
    [
        pytest.param("available", "CJ1", True, id="available"),
        pytest.param("available", None, False, id="no-file-id"),
        pytest.param(None, "CJ1", False, id="no-status"),
        pytest.param("processing", "CJ1", False, id="unknown-status"),
    ],
)
def test_video_available(status: str | None, file_id: str | None, available: bool) -> None:
    payload = {
        **SAMPLES["video-call-status-update"],
        "videoFileStatus": status,
        "videoFileId": file_id,
    }
    event = parse(payload)
    assert isinstance(event, VideoCallStatusUpdateEvent)
    assert event.video_available is available


# -- forward compatibility -------------------------------------------------------------------


@pytest.mark.parametrize("event_type", DOCUMENTED_TYPES)
def test_unknown_fields_are_kept(event_type: str) -> None:
    payload = {**SAMPLES[event_type], "newField": {"nested": [1, "ნინო"]}, "flag": True}
    event = parse(payload)
    assert type(event) is EVENT_MODELS[event_type]
    assert event.model_extra == {"newField": {"nested": [1, "ნინო"]}, "flag": True}
    assert event.model_dump(mode="json", by_alias=True, exclude_unset=True) == {
        **payload,
        "callbackApiKey": API_KEY,
    }


@pytest.mark.parametrize(
    ("event_type", "field", "attr", "value"),
    [
        pytest.param("session-change", "result", "result", "ESCALATED", id="result"),
        pytest.param("session-change", "result", "result", "approved", id="result-lower-case"),
        pytest.param("session-change", "sessionType", "session_type", "kyt", id="session-type"),
        pytest.param("video-call-status-update", "roomStatus", "room_status", "failed", id="room"),
        pytest.param(
            "video-call-status-update",
            "compositionStatus",
            "composition_status",
            "processing",
            id="composition",
        ),
        pytest.param(
            "video-call-status-update", "videoFileStatus", "video_file_status", "deleted", id="file"
        ),
    ],
)
def test_unknown_enum_values_stay_strings(
    event_type: str, field: str, attr: str, value: str
) -> None:
    payload = {**SAMPLES[event_type], field: value}
    event = parse(payload)
    got = getattr(event, attr)
    assert got == value
    assert type(got) is str  # not coerced into a member, not rejected
    assert event.model_dump(mode="json", by_alias=True, exclude_unset=True)[field] == value


@pytest.mark.parametrize("result", list(SessionResult))
def test_known_results_become_members(result: SessionResult) -> None:
    event = parse({**SAMPLES["session-change"], "result": result.value})
    assert isinstance(event, SessionChangeEvent)
    assert event.result is result


def test_unknown_type_reaches_catch_alls_only() -> None:
    rec = receiver()
    calls: list[str] = []
    rec.on("*")(lambda e: calls.append("any"))
    rec.on("identomat")(lambda e: calls.append("identomat"))
    rec.on("identomat", "session-*")(lambda e: calls.append("session"))
    rec.on_event(SessionChangeEvent)(lambda e: calls.append("typed"))
    rec.on_event(IdentomatUnknownEvent)(lambda e: calls.append("unknown"))
    payload = {"type": "aml-hit", "sessionId": "x" * 40, "score": 0.97, "names": ["ნინო"]}
    body, headers = sign("identomat", payload, API_KEY)
    outcome = rec.handle(body, headers)
    assert outcome.status_code == 200
    assert calls == ["any", "identomat", "unknown"]
    event = outcome.event
    assert isinstance(event, IdentomatUnknownEvent)
    assert isinstance(event, kw.UnknownEvent)
    assert event.event_type == "aml-hit"
    assert event.payload == {**payload, "callbackApiKey": API_KEY}


def test_documented_type_is_routed_by_pattern_enum_and_model() -> None:
    rec = receiver()
    calls: list[str] = []
    rec.on("identomat", EventType.SESSION_CHANGE)(lambda e: calls.append("enum"))
    rec.on("identomat", "share-session-link-*")(lambda e: calls.append("share"))
    rec.on_event(SessionChangeEvent)(lambda e: calls.append("typed"))
    rec.on_event(IdentomatUnknownEvent)(lambda e: calls.append("unknown"))
    for event_type in ("session-change", "share-session-link-via-sms"):
        body, headers = sign("identomat", SAMPLES[event_type], API_KEY)
        assert rec.handle(body, headers).status_code == 200
    body, headers = sign("identomat", SAMPLES["share-session-link-via-email"], API_KEY)
    assert rec.handle(body, headers).handled == 1
    assert calls == ["enum", "typed", "share", "share"]


# -- guaranteed fields and wrong types -------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"sessionId": None}, "sessionId", id="session-id-null"),
        pytest.param({"sessionId": 12345}, "sessionId", id="session-id-number"),
        pytest.param({"phoneNumber": 995599123456}, "phoneNumber", id="phone-number"),
        pytest.param({"text": ["604913"]}, "text", id="text-list"),
    ],
)
def test_wrong_types_are_400(change: dict[str, Any], field: str) -> None:
    payload = {**SAMPLES["one-time-password-request"], **change}
    body, headers = sign("identomat", payload, API_KEY)
    outcome = receiver().handle(body, headers)
    assert outcome.status_code == 400
    assert isinstance(outcome.error, kw.PayloadError)
    assert field in outcome.error.message


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"sessionId": "s" * 40}, id="type-missing"),
        pytest.param({"type": None, "sessionId": "s" * 40}, id="type-null"),
        pytest.param({"type": 7, "sessionId": "s" * 40}, id="type-number"),
        pytest.param({"type": "session-change"}, id="session-id-missing"),
        pytest.param({"type": "share-session-link-via-email", "sessionId": "s", "cc": 1}, id="cc"),
    ],
)
def test_guaranteed_fields(payload: dict[str, Any]) -> None:
    body, headers = sign("identomat", payload, API_KEY)
    with pytest.raises(kw.PayloadError) as info:
        receiver().parse(body, headers)
    assert info.value.status_code == 400
    assert info.value.vendor == "identomat"


def test_events_are_frozen() -> None:
    event = parse(SAMPLES["one-time-password-request"])
    assert isinstance(event, OneTimePasswordRequestEvent)
    with pytest.raises(pydantic.ValidationError):
        event.text = "changed"  # type: ignore[misc]
    assert event.text == SAMPLES["one-time-password-request"]["text"]


def test_parse_event_refuses_non_objects_clearly() -> None:
    from kyc_webhooks.identomat.models import parse_event

    with pytest.raises(kw.PayloadError, match="must be a JSON object"):
        parse_event(b' [{"type": "session-change"}]', kw.Headers())


def test_models_are_exported_lazily_from_the_vendor_package() -> None:
    assert identomat.Identomat is kw.Identomat
    assert identomat.SessionChangeEvent is SessionChangeEvent
    with pytest.raises(AttributeError):
        identomat.NoSuchModel  # type: ignore[attr-defined]  # noqa: B018


def test_async_handlers_receive_identomat_events() -> None:
    rec = receiver()
    got: list[str] = []

    @rec.on_event(VideoCallStatusUpdateEvent)
    async def on_video(event: VideoCallStatusUpdateEvent) -> None:
        got.append(str(event.room_status))

    body, headers = load_vector("video_call_status_update_ended")
    outcome = asyncio.run(rec.handle_async(body, headers))
    assert outcome.status_code == 200
    assert got == ["ended"]
