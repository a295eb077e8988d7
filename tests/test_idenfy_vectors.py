"""iDenfy byte-exact vectors (tests/vectors/idenfy/, made by its _make.py; sheet idenfy.md §3-§4):
the real published bodies (legacy shapes, float timestamps, duplicate keys, fragments inside a
full body) and one body per documented event type. That each authenticates, parses to the right
model, reaches the right handler and round-trips losslessly is tested for every vendor in
test_vectors.py; this file holds what the iDenfy bodies carry."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import pytest
from pydantic import BaseModel

import kyc_webhooks as kw
from _vectors import load as load_vector
from _vectors import vector, vector_names
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

#: Every vector but the go-idenfy one is signed with this key (see vectors/idenfy/_make.py).
VECTOR_KEY = "idenfy-vector-signing-key-Ž7"
GO_IDENFY_KEY = "TestingKey"
GO_IDENFY_SIGNATURE = "e7386736c7f0e8ee293a7637a316d64f7193c3197c133576e3f72061100180e2"

EVENT_CASES = [name for name in vector_names("idenfy") if name.startswith("event_")]


def load(case: str) -> tuple[bytes, dict[str, str]]:
    return load_vector("idenfy", case)


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
# Authentication, model, routing, delivery key and round trip of every vector: test_vectors.py;
# the real samples held byte for byte: test_vectors.py::test_shared_sample_matches_*.


def test_every_documented_event_type_has_a_model_a_sample_and_a_vector() -> None:
    assert set(EVENT_MODELS) == set(SAMPLES)
    assert len(EVENT_MODELS) == 24
    assert {c.removeprefix("event_").upper() for c in EVENT_CASES} == set(EVENT_MODELS)


@pytest.mark.parametrize("case", EVENT_CASES)
def test_event_vector_is_named_after_its_event_type_header(case: str) -> None:
    found = vector("idenfy", case)
    assert found.headers["Idenfy-Event-Type"] == found.expected.event_type
    assert case == f"event_{found.expected.event_type.lower()}"


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
    answer = event.video_call_answers["Question 2"]
    assert answer is not None
    assert answer.correct is True
    assert event.date_time is not None
    assert event.date_time.year == 2020
    assert event.scan_ref == "unique_scan_ref"


# -- one vector per documented event type ---------------------------------------------------------


@pytest.mark.parametrize("case", EVENT_CASES)
def test_event_vector_has_every_key_modelled(case: str) -> None:
    body, headers = load(case)
    event = kw.Receiver(kw.Idenfy(signing_key=VECTOR_KEY)).parse(body, headers)
    assert isinstance(event, IdenfyEvent)
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
