"""iDenfy byte-exact vectors (tests/vectors/idenfy/, made by its _make.py; sheet idenfy.md §3-§4):
the real published bodies (legacy shapes, float timestamps, duplicate keys, fragments inside a
full body) and one body per documented event type. Each authenticates, parses to the right model,
reaches the right handler and round-trips losslessly."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import kyc_webhooks as kw
from kyc_webhooks.idenfy import (
    EVENT_MODELS,
    AmlCheckResult,
    AmlCompanyCheckItem,
    AmlHit,
    AmlNewsItem,
    IdenfyEvent,
    IdentificationEvent,
    LegacyCheckSummary,
    LidCheckResult,
    VideoCallFinishedEvent,
)
from kyc_webhooks.idenfy._samples import SAMPLES

VECTORS = Path(__file__).parent / "vectors" / "idenfy"
SAMPLE_DIR = Path(__file__).resolve().parents[2] / "shared" / "samples" / "idenfy"
#: Key of every vector except the go-idenfy one (see vectors/idenfy/_make.py).
VECTOR_KEY = "idenfy-vector-signing-key-Ž7"
GO_IDENFY_KEY = "TestingKey"
GO_IDENFY_SIGNATURE = "e7386736c7f0e8ee293a7637a316d64f7193c3197c133576e3f72061100180e2"

CASES = sorted(p.name for p in VECTORS.iterdir() if p.is_dir())
REAL_CASES = [c for c in CASES if c.startswith("real_")]
EVENT_CASES = [c for c in CASES if c.startswith("event_")]

#: case -> (expected event type, expected model class name, routing pattern).
REAL_EXPECTED: dict[str, tuple[str, str, str]] = {
    "real_go_idenfy_testdata": ("IDENTIFICATION", "IdentificationEvent", "IDENTIFICATION*"),
    "real_legacy_2018_12_lowercase_aml_lid": (
        "IDENTIFICATION",
        "IdentificationEvent",
        "IDENTIFICATION*",
    ),
    "real_legacy_2019_04_float_timestamps": (
        "IDENTIFICATION",
        "IdentificationEvent",
        "IDENTIFICATION*",
    ),
    "real_legacy_2021_01_aml_lid_objects": (
        "IDENTIFICATION",
        "IdentificationEvent",
        "IDENTIFICATION*",
    ),
    "real_legacy_2021_resultcallback": ("IDENTIFICATION", "IdentificationEvent", "IDENTIFICATION*"),
    "real_legacy_video_call": ("VIDEO_CALL_FINISHED", "VideoCallFinishedEvent", "VIDEO_CALL_*"),
    "real_fragment_aml_name_check": (
        "IDENTIFICATION_AUTO_FINISHED",
        "IdentificationEvent",
        "IDENTIFICATION*",
    ),
    "real_fragment_aml_company_check": (
        "IDENTIFICATION_AUTO_FINISHED",
        "IdentificationEvent",
        "IDENTIFICATION*",
    ),
    "real_fragment_aml_negative_news": (
        "IDENTIFICATION_AUTO_FINISHED",
        "IdentificationEvent",
        "IDENTIFICATION*",
    ),
    "real_fragment_lid_item": (
        "IDENTIFICATION_AUTO_FINISHED",
        "IdentificationEvent",
        "IDENTIFICATION*",
    ),
}

#: Real sample file -> the vector that must contain it byte for byte.
SAMPLE_FILES: dict[str, str] = {
    "identification_thirdparty_go_idenfy_testdata.json": "real_go_idenfy_testdata",
    "identification_legacy_2018_12_github_lowercase_aml_lid.json": (
        "real_legacy_2018_12_lowercase_aml_lid"
    ),
    "identification_legacy_2019_04_github_float_timestamps.json": (
        "real_legacy_2019_04_float_timestamps"
    ),
    "identification_legacy_2021_01_github_aml_lid_objects.json": (
        "real_legacy_2021_01_aml_lid_objects"
    ),
    "identification_legacy_github_resultcallback.json": "real_legacy_2021_resultcallback",
    "video_call_legacy_github.json": "real_legacy_video_call",
    "fragment_aml_name_check_item.json": "real_fragment_aml_name_check",
    "fragment_aml_company_check_item.json": "real_fragment_aml_company_check",
    "fragment_lid_item.json": "real_fragment_lid_item",
}

#: Written out by hand (not read from EVENT_MODELS) so that a wrong mapping fails here.
EVENT_EXPECTED: dict[str, str] = {
    "IDENTIFICATION": "IdentificationEvent",
    "IDENTIFICATION_AUTO_FINISHED": "IdentificationEvent",
    "IDENTIFICATION_MANUAL_FINISHED": "IdentificationEvent",
    "IDENTIFICATION_RESUBMITTED": "IdentificationEvent",
    "IDENTIFICATION_CANCELLED": "IdentificationEvent",
    "IDENTIFICATION_EXPIRED": "IdentificationEvent",
    "DOCUMENT_EXPIRATION": "DocumentExpirationEvent",
    "VIDEO_CALL_FINISHED": "VideoCallFinishedEvent",
    "FACIAL_AUTHENTICATION": "FacialAuthenticationEvent",
    "AGE_ESTIMATION": "AgeEstimationEvent",
    "AML_MONITORING": "AmlMonitoringEvent",
    "AML_MONITORING_EXPIRATION": "AmlMonitoringExpirationEvent",
    "COMPANY_REVIEW": "CompanyReviewEvent",
    "COMPANY_DELETE": "CompanyDeleteEvent",
    "COMPANY_AML_REVIEW": "CompanyAmlReviewEvent",
    "COMPANY_INFO_REQUEST": "CompanyInfoRequestEvent",
    "COMPANY_EXPIRATION": "CompanyExpirationEvent",
    "COMPANY_SUBMIT": "CompanySubmitEvent",
    "GOV_ORDERED_DOCUMENT": "GovOrderedDocumentEvent",
    "SOS_REPORT": "SosReportEvent",
    "BANK_VERIFICATION": "BankVerificationEvent",
    "ACCOUNT_CHECK": "AccountCheckEvent",
    "BANK_CARD_VERIFICATION_COMPLETED": "BankCardVerificationCompletedEvent",
    "COMPANY_TOKEN_EXPIRED": "CompanyTokenExpiredEvent",
}


def load(case: str) -> tuple[bytes, dict[str, str]]:
    base = VECTORS / case
    headers: dict[str, str] = json.loads((base / "headers.json").read_text(encoding="utf-8"))
    return (base / "body").read_bytes(), headers


def key_for(case: str) -> str:
    return GO_IDENFY_KEY if case == "real_go_idenfy_testdata" else VECTOR_KEY


def wire(event: kw.WebhookEvent) -> Any:
    return event.model_dump(mode="json", by_alias=True, exclude_unset=True)


def extras_anywhere(value: object, path: str = "") -> list[str]:
    """Paths of unknown keys kept as extras anywhere in a parsed event."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        found += [f"{path}.{key}" for key in value.model_extra or {}]
        for name in value.model_fields_set:
            found += extras_anywhere(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found += extras_anywhere(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            found += extras_anywhere(item, f"{path}[{key}]")
    return found


# -- the vector set itself ------------------------------------------------------------------------


def test_vector_set_is_complete() -> None:
    assert set(REAL_CASES) == set(REAL_EXPECTED)
    assert {c.removeprefix("event_").upper() for c in EVENT_CASES} == set(EVENT_EXPECTED)
    assert set(EVENT_EXPECTED) == set(EVENT_MODELS) == set(SAMPLES)
    assert len(EVENT_EXPECTED) == 24


@pytest.mark.parametrize(("sample", "case"), sorted(SAMPLE_FILES.items()), ids=sorted(SAMPLE_FILES))
def test_real_sample_is_in_its_vector_byte_for_byte(sample: str, case: str) -> None:
    path = SAMPLE_DIR / sample
    if not path.exists():
        pytest.skip("shared samples directory not available")
    body, _ = load(case)
    raw = path.read_bytes()
    if sample.startswith("fragment_"):
        assert raw.strip() in body
    else:
        assert body == raw


def test_negative_news_wrapper_members_are_in_the_vector_byte_for_byte() -> None:
    path = SAMPLE_DIR / "fragment_aml_negative_news_wrapper.json"
    if not path.exists():
        pytest.skip("shared samples directory not available")
    inner = path.read_bytes().strip()[1:-1].strip()
    body, _ = load("real_fragment_aml_negative_news")
    assert inner in body


def test_go_idenfy_vector_matches_the_published_literals() -> None:
    body, headers = load("real_go_idenfy_testdata")
    assert len(body) == 3269
    assert hashlib.sha256(body).hexdigest() == (
        "af2c0bbb1aa05c1065a43b2d0e55934fd540e2beb876c0ec27dbf9d24549b63a"
    )
    assert headers["Idenfy-Signature"] == GO_IDENFY_SIGNATURE
    # The signature covers the exact bytes, trailing newline included.
    receiver = kw.Receiver(kw.Idenfy(signing_key=GO_IDENFY_KEY))
    assert receiver.handle(body.rstrip(b"\n"), headers).status_code == 401


# -- real bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", REAL_CASES)
def test_real_body_authenticates_routes_and_round_trips(case: str) -> None:
    event_type, model_name, pattern = REAL_EXPECTED[case]
    body, headers = load(case)
    receiver = kw.Receiver(kw.Idenfy(signing_key=key_for(case)))
    seen: list[kw.WebhookEvent] = []
    others: list[kw.WebhookEvent] = []
    receiver.on("idenfy", pattern)(seen.append)
    receiver.on("idenfy", "COMPANY_*")(others.append)

    outcome = receiver.handle(body, headers)

    assert outcome.status_code == 200, outcome.response_body()
    assert outcome.handled == 1
    assert others == []
    (event,) = seen
    assert type(event).__name__ == model_name
    assert event.vendor == "idenfy"
    assert event.event_type == event_type
    assert event.raw_body == body
    assert wire(event) == json.loads(body)


def test_go_idenfy_vector_authenticates_with_testing_key_only() -> None:
    body, headers = load("real_go_idenfy_testdata")
    assert kw.Receiver(kw.Idenfy(signing_key=GO_IDENFY_KEY)).handle(body, headers).ok
    wrong = kw.Receiver(kw.Idenfy(signing_key="TestingKey ")).handle(body, headers)
    assert wrong.status_code == 401


def test_go_idenfy_body_fields() -> None:
    body, headers = load("real_go_idenfy_testdata")
    event = kw.Receiver(kw.Idenfy(signing_key=GO_IDENFY_KEY)).parse(body, headers)
    assert isinstance(event, IdentificationEvent)
    assert event.client_id == "123"
    assert event.final is False
    assert event.is_final is False
    assert event.start_time is not None
    assert event.start_time.wire == 1554726960
    assert event.start_time.year == 2019
    assert event.data is not None
    assert event.data.address == "ADDRESS EXAMPLE"
    assert event.data.org_birth_place == "ŠILUVA"
    assert event.data.manual_address_match is False  # tolerated inside `data` (sheet §5.7)
    assert event.data.additional_data == {
        "UTILITY_BILL": {"ssn": {"value": "ssn number", "status": "MATCH"}}
    }
    assert event.file_urls is not None
    assert event.file_urls["FRONT"] is not None
    assert event.aml_results is not None
    assert event.lid_results is not None
    assert len(event.aml_results) == len(event.lid_results) == 1
    assert event.aml_results[0].suspected is False


def test_legacy_2018_lowercase_summary_objects() -> None:
    body, headers = load("real_legacy_2018_12_lowercase_aml_lid")
    event = kw.Receiver(kw.Idenfy(signing_key=VECTOR_KEY)).parse(body, headers)
    assert isinstance(event, IdentificationEvent)
    assert isinstance(event.aml_legacy, LegacyCheckSummary)
    assert isinstance(event.lid_legacy, LegacyCheckSummary)
    assert event.aml_legacy.suspected is False
    assert event.aml_legacy.results == {}
    assert event.platform is None
    assert event.final is None
    assert event.is_final is True  # legacy result callback: one per verification
    assert event.status is not None
    assert event.status.manual_face is None


@pytest.mark.parametrize(
    "case",
    [
        "real_legacy_2019_04_float_timestamps",
        "real_legacy_2021_01_aml_lid_objects",
    ],
)
def test_legacy_lowercase_envelope_objects(case: str) -> None:
    body, headers = load(case)
    event = kw.Receiver(kw.Idenfy(signing_key=VECTOR_KEY)).parse(body, headers)
    assert isinstance(event, IdentificationEvent)
    assert isinstance(event.aml_legacy, AmlCheckResult)
    assert isinstance(event.lid_legacy, LidCheckResult)
    assert event.aml_legacy.service_name == "PilotApiAmlV2"
    assert event.lid_legacy.status is not None
    assert event.lid_legacy.status.overall_status == "NOT_SUSPECTED"
    assert event.aml_results is None


def test_float_timestamps_keep_microseconds_and_wire_form() -> None:
    body, headers = load("real_legacy_2019_04_float_timestamps")
    event = kw.Receiver(kw.Idenfy(signing_key=VECTOR_KEY)).parse(body, headers)
    assert isinstance(event, IdentificationEvent)
    assert event.start_time is not None
    assert event.finish_time is not None
    assert event.start_time.wire == 1554726960.324056
    assert event.start_time.tzinfo is not None
    assert event.start_time.microsecond == pytest.approx(324056, abs=1)
    assert (event.finish_time - event.start_time).total_seconds() == pytest.approx(41.93, abs=0.01)


@pytest.mark.parametrize(
    "case", ["real_legacy_2021_01_aml_lid_objects", "real_legacy_2021_resultcallback"]
)
def test_duplicate_selected_country_key_keeps_the_last_value(case: str) -> None:
    body, headers = load(case)
    assert body.count(b'"selectedCountry"') == 2
    event = kw.Receiver(kw.Idenfy(signing_key=VECTOR_KEY)).parse(body, headers)
    assert isinstance(event, IdentificationEvent)
    assert event.data is not None
    assert event.data.selected_country == json.loads(body)["data"]["selectedCountry"]


@pytest.mark.parametrize(
    ("case", "item_type"),
    [
        ("real_fragment_aml_name_check", AmlHit),
        ("real_fragment_aml_negative_news", AmlNewsItem),
        ("real_fragment_aml_company_check", AmlCompanyCheckItem),
    ],
)
def test_aml_fragment_items_get_their_shape(case: str, item_type: type[Any]) -> None:
    body, headers = load(case)
    event = kw.Receiver(kw.Idenfy(signing_key=VECTOR_KEY)).parse(body, headers)
    assert isinstance(event, IdentificationEvent)
    assert event.aml_results is not None
    (result,) = event.aml_results
    assert result.suspected is True
    assert result.data
    assert all(isinstance(item, item_type) for item in result.data)


def test_lid_fragment_item() -> None:
    body, headers = load("real_fragment_lid_item")
    event = kw.Receiver(kw.Idenfy(signing_key=VECTOR_KEY)).parse(body, headers)
    assert isinstance(event, IdentificationEvent)
    assert event.lid_results is not None
    (result,) = event.lid_results
    assert result.data is not None
    assert result.data[0].document_number == "12347539"
    assert result.data[0].valid is False
    assert result.service_group_type == "LID"


def test_legacy_video_call_body() -> None:
    body, headers = load("real_legacy_video_call")
    assert "Idenfy-Event-Type" not in headers
    event = kw.Receiver(kw.Idenfy(signing_key=VECTOR_KEY)).parse(body, headers)
    assert isinstance(event, VideoCallFinishedEvent)
    assert event.video_call_answers is not None
    assert event.video_call_answers["Question 2"].correct is True
    assert event.date_time is not None
    assert event.date_time.year == 2020
    assert event.scan_ref == "unique_scan_ref"


# -- one vector per documented event type ---------------------------------------------------------


@pytest.mark.parametrize("case", EVENT_CASES)
def test_event_vector_verifies_parses_and_round_trips(case: str) -> None:
    body, headers = load(case)
    event_type = headers["Idenfy-Event-Type"]
    assert case == f"event_{event_type.lower()}"
    receiver = kw.Receiver(kw.Idenfy(signing_key=VECTOR_KEY))
    seen: list[kw.WebhookEvent] = []
    receiver.on("idenfy", event_type)(seen.append)

    outcome = receiver.handle(body, headers)

    assert outcome.status_code == 200, outcome.response_body()
    (event,) = seen
    assert type(event).__name__ == EVENT_EXPECTED[event_type]
    assert isinstance(event, IdenfyEvent)
    assert event.event_type == event_type
    assert wire(event) == json.loads(body)
    # Every key of the sample, at every depth, is a modelled field (none fell to the extras).
    assert extras_anywhere(event) == []


@pytest.mark.parametrize("case", EVENT_CASES)
def test_event_vector_is_the_sample_payload(case: str) -> None:
    body, headers = load(case)
    assert json.loads(body) == SAMPLES[headers["Idenfy-Event-Type"]]


def test_event_vectors_cover_escaped_and_raw_utf8_names() -> None:
    escaped = load("event_identification")[0]
    raw = load("event_identification_auto_finished")[0]
    assert escaped.isascii()
    assert b"\\u0100RIJA" in escaped  # "ĀRIJA" as Python's json.dumps writes it
    assert "ŽEMAITĖ".encode() in raw
    receiver = kw.Receiver(kw.Idenfy(signing_key=VECTOR_KEY))
    legacy = receiver.parse(*load("event_identification"))
    auto = receiver.parse(*load("event_identification_auto_finished"))
    assert isinstance(legacy, IdentificationEvent)
    assert isinstance(auto, IdentificationEvent)
    assert legacy.data is not None
    assert auto.data is not None
    assert legacy.data.doc_first_name == "ĀRIJA"
    assert legacy.data.doc_last_name == "BĒRZIŅA"
    assert auto.data.doc_last_name == "ŽEMAITĖ"


def test_async_handlers_receive_vector_events() -> None:
    body, headers = load("event_identification_manual_finished")
    receiver = kw.Receiver(kw.Idenfy(signing_key=VECTOR_KEY))
    seen: list[str] = []

    @receiver.on_event(IdentificationEvent)
    async def on_result(event: IdentificationEvent) -> None:
        seen.append(event.scan_ref)

    outcome = asyncio.run(receiver.handle_async(body, headers))
    assert outcome.status_code == 200
    assert seen == [SAMPLES["IDENTIFICATION_MANUAL_FINISHED"]["scanRef"]]
