"""iDenfy models (sheet idenfy.md §3-§5 and its Evidence section): forward compatibility (unknown
event types, fields and enum values at every depth), guaranteed fields, malformed bodies, PII
masking, delivery keys, ``is_final``/``triage`` semantics and legacy event-type inference."""

from __future__ import annotations

import copy
import subprocess
import sys
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

import kyc_webhooks as kw
from _lossless import assert_lossless
from kyc_webhooks.idenfy import (
    EVENT_MODELS,
    UNDETERMINED_EVENT_TYPE,
    AdditionalStepMethod,
    AdditionalStepsStatus,
    AmlCheckStatus,
    AmlHit,
    AmlSuspicion,
    BankCardStatus,
    CompanyTokenExpiredEvent,
    DocumentType,
    FaceStatus,
    FacialAuthenticationEvent,
    FacialAuthenticationStatus,
    FraudTag,
    HungaryRegistryCenterCheck,
    IdenfyUnknownEvent,
    IdentificationEvent,
    IdentificationTriage,
    LithuaniaRegistryCenterCheck,
    MismatchTag,
    OverallStatus,
    Platform,
    QuestionType,
    RegistryCenterCheck,
    SuspicionReason,
    Us15RegistryCenterCheck,
    VideoCallFinishedEvent,
    infer_event_type,
    parse_event,
)
from kyc_webhooks.idenfy._samples import SAMPLES
from kyc_webhooks.testing import dumps, sign

KEY = "idenfy-models-key-3b8e"


def receiver() -> kw.Receiver:
    return kw.Receiver(kw.Idenfy(signing_key=KEY))


def deliver(
    payload: dict[str, Any] | bytes, event_type: str, rec: kw.Receiver | None = None
) -> kw.Outcome:
    rec = rec if rec is not None else receiver()
    return rec.handle(*sign("idenfy", payload, KEY, event_type=event_type))


def parsed(payload: dict[str, Any] | bytes, event_type: str) -> kw.WebhookEvent:
    return receiver().parse(*sign("idenfy", payload, KEY, event_type=event_type))


def identification(payload: dict[str, Any], event_type: str) -> IdentificationEvent:
    event = parsed(payload, event_type)
    assert isinstance(event, IdentificationEvent)
    return event


def sample(event_type: str) -> dict[str, Any]:
    return copy.deepcopy(SAMPLES[event_type])


# -- event types ----------------------------------------------------------------------------------


def test_every_documented_event_type_is_mapped() -> None:
    assert len(EVENT_MODELS) == 24
    assert kw.Idenfy.event_types() == tuple(EVENT_MODELS)
    identification_types = [t for t, m in EVENT_MODELS.items() if m is IdentificationEvent]
    assert identification_types == [
        "IDENTIFICATION",
        "IDENTIFICATION_AUTO_FINISHED",
        "IDENTIFICATION_MANUAL_FINISHED",
        "IDENTIFICATION_RESUBMITTED",
        "IDENTIFICATION_CANCELLED",
        "IDENTIFICATION_EXPIRED",
    ]


def test_unknown_event_type_reaches_catch_all_only() -> None:
    rec = receiver()
    caught: list[kw.WebhookEvent] = []
    identifications: list[kw.WebhookEvent] = []
    rec.on("idenfy", "IDENTIFICATION*")(identifications.append)
    rec.on("*")(caught.append)
    payload = {"alertId": "a-1", "score": 0.4, "holder": "Žemaitė Jūratė"}

    outcome = deliver(payload, "KYT_TRANSACTION_ALERT", rec)

    assert outcome.status_code == 200
    assert identifications == []
    (event,) = caught
    assert isinstance(event, IdenfyUnknownEvent)
    assert isinstance(event, kw.UnknownEvent)
    assert event.event_type == "KYT_TRANSACTION_ALERT"
    assert event.payload == payload
    assert_lossless(event, payload)
    assert "Žemaitė" not in repr(event)


def test_on_event_gives_the_typed_model() -> None:
    rec = receiver()
    seen: list[IdentificationEvent] = []

    @rec.on_event(IdentificationEvent)
    def handler(event: IdentificationEvent) -> None:
        seen.append(event)

    deliver(SAMPLES["DOCUMENT_EXPIRATION"], "DOCUMENT_EXPIRATION", rec)
    deliver(SAMPLES["IDENTIFICATION_CANCELLED"], "IDENTIFICATION_CANCELLED", rec)
    assert [e.event_type for e in seen] == ["IDENTIFICATION_CANCELLED"]


# -- forward compatibility ------------------------------------------------------------------------


def evolved_identification() -> dict[str, Any]:
    body = sample("IDENTIFICATION_AUTO_FINISHED")
    body["platform"] = "SMART_TV"
    body["livenessScore"] = {"value": 0.97, "provider": "new"}
    body["status"]["overall"] = "ON_HOLD"
    body["status"]["fraudTags"].append("DEEPFAKE_DETECTED")
    body["status"]["mismatchTags"].append("MIDDLE_NAME")
    body["status"]["autoFace"] = "FACE_DEEPFAKE"
    body["status"]["riskFlags"] = ["R1"]
    body["data"]["docType"] = "DIGITAL_ID_WALLET"
    body["data"]["docSex"] = "X"
    body["data"]["docMiddleName"] = "Ona"
    body["AML"][0]["data"][0]["suspicion"] = "CRYPTO_RISK"
    body["AML"][0]["data"][0]["riskCategory"] = {"code": 7}
    body["AML"][0]["status"]["overallStatus"] = "INCONCLUSIVE"
    body["AML"][0]["vendorTrace"] = "t-91"
    body["riskAssessment"]["riskLevel"] = "EXTREME"
    body["additionalSteps"] = {"UTILITY_BILL": "VERIFY_ONLINE"}
    return body


def test_unknown_fields_and_enum_values_at_every_depth_are_kept() -> None:
    payload = evolved_identification()
    event = identification(payload, "IDENTIFICATION_AUTO_FINISHED")

    assert_lossless(event, payload)
    assert event.platform == "SMART_TV"
    assert not isinstance(event.platform, Platform)
    assert event.model_extra == {"livenessScore": {"value": 0.97, "provider": "new"}}
    assert event.status is not None
    assert event.status.overall == "ON_HOLD"
    assert event.status.auto_face == "FACE_DEEPFAKE"
    assert event.status.model_extra == {"riskFlags": ["R1"]}
    assert event.status.fraud_tags == [
        FraudTag.DOC_MOBILE_PHOTO,
        FraudTag.AML_SUSPECTION,
        "DEEPFAKE_DETECTED",
    ]
    assert isinstance(event.status.fraud_tags[0], FraudTag)
    assert type(event.status.fraud_tags[2]) is str
    assert event.status.mismatch_tags == [MismatchTag.NAME, "MIDDLE_NAME"]
    assert event.data is not None
    assert event.data.doc_type == "DIGITAL_ID_WALLET"
    assert event.data.doc_sex == "X"
    assert event.data.model_extra == {"docMiddleName": "Ona"}
    assert event.aml_results is not None
    aml = event.aml_results[0]
    assert aml.model_extra == {"vendorTrace": "t-91"}
    assert aml.status is not None
    assert aml.status.overall_status == "INCONCLUSIVE"
    assert aml.data is not None
    hit = aml.data[0]
    assert isinstance(hit, AmlHit)
    assert hit.suspicion == "CRYPTO_RISK"
    assert hit.model_extra == {"riskCategory": {"code": 7}}
    assert event.risk_assessment is not None
    assert event.risk_assessment.risk_level == "EXTREME"
    assert event.additional_steps == {"UTILITY_BILL": "VERIFY_ONLINE"}


def test_known_values_become_enum_members() -> None:
    event = identification(sample("IDENTIFICATION_AUTO_FINISHED"), "IDENTIFICATION_AUTO_FINISHED")
    assert event.platform is Platform.MOBILE_APP
    assert event.overall is OverallStatus.SUSPECTED
    assert event.status is not None
    assert event.status.auto_face is FaceStatus.FACE_MATCH
    assert event.data is not None
    assert event.data.doc_type is DocumentType.ID_CARD
    assert event.aml_results is not None
    assert event.aml_results[0].data is not None
    hit = event.aml_results[0].data[0]
    assert isinstance(hit, AmlHit)
    assert hit.suspicion is AmlSuspicion.PEPS


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_unknown_top_level_field_is_kept_for_every_model(event_type: str) -> None:
    payload = {**sample(event_type), "zzNewField": {"nested": ["x", 1, None]}}
    event = parsed(payload, event_type)
    assert type(event) is EVENT_MODELS[event_type]
    assert_lossless(event, payload)
    assert event.model_extra == {"zzNewField": {"nested": ["x", 1, None]}}


REGISTRY: list[tuple[str, dict[str, Any], type[RegistryCenterCheck]]] = [
    (
        "lithuania",
        {
            "resourceType": "LithuaniaRegistryCenterCheck",
            "checkedPersonalNumber": "49003151234",
            "checkedDocumentType": "ID",
            "name": "JŪRATĖ",
        },
        LithuaniaRegistryCenterCheck,
    ),
    (
        "hungary",
        {"resourceType": "HungaryRegistryCenterCheck", "checkedMrz": "I<HUN4900315<<<"},
        HungaryRegistryCenterCheck,
    ),
    (
        "us15",
        {"resourceType": "US15", "firstName": "Ann", "idNum": "4900315", "dobStatus": "MATCH"},
        Us15RegistryCenterCheck,
    ),
    (
        "lithuania-by-keys",
        {"resourceType": "LT_RC", "checkedPersonalNumber": "49003151234"},
        LithuaniaRegistryCenterCheck,
    ),
    (
        "unknown-kind",
        {"resourceType": "EstoniaRegistryCheck", "isikukood": "49003150000"},
        RegistryCenterCheck,
    ),
]


@pytest.mark.parametrize(
    ("check", "expected"), [r[1:] for r in REGISTRY], ids=[r[0] for r in REGISTRY]
)
def test_registry_center_check_variants(
    check: dict[str, Any], expected: type[RegistryCenterCheck]
) -> None:
    # resourceType strings are UNCONFIRMED (sheet §4.9): type name or distinctive keys decide.
    for where in ("top-level", "inside-data"):
        payload = sample("IDENTIFICATION_CANCELLED")
        if where == "top-level":
            payload["registryCenterCheck"] = check
        else:
            payload["data"]["registryCenterCheck"] = check
        event = identification(payload, "IDENTIFICATION_CANCELLED")
        assert event.data is not None
        found = event.registry_center_check or event.data.registry_center_check
        assert type(found) is expected
        assert_lossless(event, payload)
        assert "4900315" not in repr(event)


def test_go_idenfy_style_fields_inside_data_are_modelled() -> None:
    payload = sample("IDENTIFICATION_AUTO_FINISHED")
    payload["data"]["manualAddress"] = "Vilniaus g. 1"
    payload["data"]["addressVerification"] = {"address": "Vilniaus g. 1", "status": "UNVERIFIED"}
    event = identification(payload, "IDENTIFICATION_AUTO_FINISHED")
    assert event.data is not None
    assert event.data.manual_address == "Vilniaus g. 1"
    assert event.data.address_verification is not None
    assert event.data.address_verification.status == "UNVERIFIED"
    assert "Vilniaus" not in repr(event)


# -- timestamps -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [1795420800, 1795420800.5, 1554726960.324056], ids=["int", "float", "micro"]
)
def test_epoch_timestamps_accept_int_and_float_and_keep_wire(value: float) -> None:
    payload = {**sample("IDENTIFICATION_CANCELLED"), "startTime": value}
    event = identification(payload, "IDENTIFICATION_CANCELLED")
    assert event.start_time is not None
    assert event.start_time.wire == value
    assert type(event.start_time.wire) is type(value)
    assert event.start_time.timestamp() == pytest.approx(value)
    assert_lossless(event, payload)


# -- guaranteed fields and malformed bodies -------------------------------------------------------


def _set(path: list[str], value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(body: dict[str, Any]) -> None:
        target = body
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return apply


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    def apply(body: dict[str, Any]) -> None:
        del body[key]

    return apply


WRONG: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    ("scanRef-int", "IDENTIFICATION_AUTO_FINISHED", _set(["scanRef"], 4815162), "scanRef"),
    ("scanRef-null", "IDENTIFICATION_MANUAL_FINISHED", _set(["scanRef"], None), "scanRef"),
    ("scanRef-missing", "IDENTIFICATION_EXPIRED", _drop("scanRef"), "scanRef"),
    ("final-not-bool", "IDENTIFICATION_AUTO_FINISHED", _set(["final"], "perhaps"), "final"),
    ("status-list", "IDENTIFICATION_CANCELLED", _set(["status"], ["APPROVED"]), "status"),
    ("startTime-text", "IDENTIFICATION", _set(["startTime"], "yesterday"), "startTime"),
    ("startTime-bool", "IDENTIFICATION", _set(["startTime"], True), "startTime"),
    (
        "fraudTags-object",
        "IDENTIFICATION_AUTO_FINISHED",
        _set(["status", "fraudTags"], {}),
        "status.fraudTags",
    ),
    ("doc-scanRef-missing", "DOCUMENT_EXPIRATION", _drop("scanRef"), "scanRef"),
    ("facial-status-missing", "FACIAL_AUTHENTICATION", _drop("status"), "status"),
    ("facial-status-number", "FACIAL_AUTHENTICATION", _set(["status"], 1), "status"),
    ("age-scanRef-int", "AGE_ESTIMATION", _set(["scanRef"], 7), "scanRef"),
    ("monitoringId-int", "AML_MONITORING", _set(["monitoringId"], 1), "monitoringId"),
    ("company-id-missing", "COMPANY_REVIEW", _drop("id"), "id"),
    ("companyId-null", "COMPANY_DELETE", _set(["companyId"], None), "companyId"),
    ("aml-review-id-list", "COMPANY_AML_REVIEW", _set(["id"], [5]), "id"),
    ("info-companyId-missing", "COMPANY_INFO_REQUEST", _drop("companyId"), "companyId"),
    ("expiration-id-list", "COMPANY_EXPIRATION", _set(["id"], ["x"]), "id"),
    ("submit-id-missing", "COMPANY_SUBMIT", _drop("id"), "id"),
    ("gov-id-null", "GOV_ORDERED_DOCUMENT", _set(["id"], None), "id"),
    ("sos-id-missing", "SOS_REPORT", _drop("id"), "id"),
    ("bank-id-int", "BANK_VERIFICATION", _set(["id"], 9), "id"),
    ("card-id-missing", "BANK_CARD_VERIFICATION_COMPLETED", _drop("id"), "id"),
]


@pytest.mark.parametrize(
    ("event_type", "mutate", "field"),
    [row[1:] for row in WRONG],
    ids=[row[0] for row in WRONG],
)
def test_wrong_type_in_guaranteed_field_is_400(
    event_type: str, mutate: Callable[[dict[str, Any]], None], field: str
) -> None:
    payload = sample(event_type)
    mutate(payload)
    outcome = deliver(payload, event_type)
    assert outcome.status_code == 400
    assert type(outcome.error) is kw.PayloadError
    message = str(outcome.error)
    assert field in message
    for value in ("4815162", "perhaps", "yesterday", "ŽEMAITĖ", "Jūratė", "LT4815162"):
        assert value not in message


MALFORMED: list[tuple[str, bytes, str]] = [
    ("not-json", b"scanRef=abc&status=APPROVED", "IDENTIFICATION_AUTO_FINISHED"),
    ("truncated-json", dumps(SAMPLES["IDENTIFICATION_EXPIRED"])[:-3], "IDENTIFICATION_EXPIRED"),
    ("json-array", b'[{"scanRef": "abc"}]', "IDENTIFICATION_AUTO_FINISHED"),
    ("json-string", b'"scanRef"', "DOCUMENT_EXPIRATION"),
    ("json-number", b"42", "COMPANY_REVIEW"),
    ("json-null", b"null", "FACIAL_AUTHENTICATION"),
    ("non-utf8", '{"scanRef": "Žemaitė"}'.encode("utf-16"), "IDENTIFICATION"),
    ("latin1-bytes", '{"scanRef": "é", "status": {}}'.encode("latin-1"), "IDENTIFICATION"),
    ("empty", b"", "IDENTIFICATION_AUTO_FINISHED"),
    ("whitespace", b"  \n", "IDENTIFICATION_AUTO_FINISHED"),
    ("unknown-type-array", b"[1, 2]", "SOMETHING_NEW"),
    ("no-header-array", b"[1, 2]", ""),
]


@pytest.mark.parametrize(
    ("body", "event_type"), [row[1:] for row in MALFORMED], ids=[row[0] for row in MALFORMED]
)
def test_malformed_body_is_400(body: bytes, event_type: str) -> None:
    headers = {"Idenfy-Signature": sign("idenfy", body, KEY, event_type="X")[1]["Idenfy-Signature"]}
    if event_type:
        headers["Idenfy-Event-Type"] = event_type
    outcome = receiver().handle(body, headers)
    assert outcome.status_code == 400
    assert type(outcome.error) is kw.PayloadError
    assert "Žemaitė" not in str(outcome.error)


def test_parse_event_raises_payload_error_only() -> None:
    with pytest.raises(kw.PayloadError):
        parse_event(b"\xff\xfe{", kw.Headers({"Idenfy-Event-Type": "IDENTIFICATION"}))
    with pytest.raises(kw.PayloadError):
        parse_event(b"[" * 10_000, kw.Headers())


# -- personal data --------------------------------------------------------------------------------

PII = (
    "JŪRATĖ",
    "ŽEMAITĖ",
    "Jūratė",
    "Žemaitė",
    "JURATE ZEMAITE",
    "ĀRIJA",
    "BĒRZIŅA",
    "LT4815162",
    "PA0918273",
    "49003151234",
    "150785-12345",
    "1990-03-15",
    "ŠIAULIAI",
    "Šiauliai",
    "Laisvės al. 12-3",
    "Kaunas, Lithuania",
    "Kraków",
    "Łódź",
    "203.0.113.42",
    "198.51.100.7",
    "jurate.zemaite@example.lt",
    "ruta@example.lt",
    "Kazlauskienė",
    "direktorius@",
    "+37061234567",
    "LT121000011101001000",
    "535110",
    "7394",
    "2028-09-30",
    "Vagystė",
    "Programuotoja",
    "DL55120934",
    "LT417044060008011234",
    "8c2f4a1e9b7d4c3a",
    "storage.idenfy.example",
    "Zk3xQ9wL2mV7bN4cR8tY1uI6oP0aS5dF",
    "Vb7nM2kQ9xL4wR8tC1zY6uH3jP0aE5sG",
    "kT4pW8nB2xM6qZ0rL5vC9yH3jD7fG1sA",
    "Hn5tK1wQ8zM3xB7vL2cR9yP4jD6fG0sE",
)


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_repr_and_str_mask_personal_data(event_type: str) -> None:
    event = parsed(SAMPLES[event_type], event_type)
    texts = (repr(event), str(event))
    for text in texts:
        for value in PII:
            assert value not in text, (value, event_type)
    assert type(event).__name__ in repr(event)


def test_attributes_keep_personal_values() -> None:
    event = identification(SAMPLES["IDENTIFICATION_AUTO_FINISHED"], "IDENTIFICATION_AUTO_FINISHED")
    assert event.data is not None
    assert event.data.doc_first_name == "JŪRATĖ"
    assert event.data.doc_last_name == "ŽEMAITĖ"
    assert event.data.doc_number == "LT4815162"
    assert event.data.doc_personal_code == "49003151234"
    assert event.data.doc_dob == "1990-03-15"
    assert event.client_ip == "203.0.113.42"
    assert event.client_location == "Kaunas, Lithuania"
    assert event.email_verification is not None
    assert event.email_verification.email == "jurate.zemaite@example.lt"
    assert event.file_urls is not None
    assert "FRONT" in (event.file_urls["FRONT"] or "")
    assert "<redacted>" in repr(event)


def test_legacy_sample_repr_masks_names() -> None:
    body = (
        b'{"scanRef":"s","status":{"overall":"APPROVED"},"data":{"docFirstName":'
        b'"FIRST-NAME-EXAMPLE","docNumber":"XXXXXXXXX"},"aml":{"suspected":false,'
        b'"results":{"hit":"SECRET-HIT"}}}'
    )
    event = receiver().parse(
        body, {"Idenfy-Signature": sign("idenfy", body, KEY, event_type="X")[1]["Idenfy-Signature"]}
    )
    for value in ("FIRST-NAME-EXAMPLE", "XXXXXXXXX", "SECRET-HIT"):
        assert value not in repr(event)


# -- delivery keys --------------------------------------------------------------------------------


def test_delivery_key_is_stable_for_byte_identical_redeliveries() -> None:
    body, headers = sign(
        "idenfy",
        SAMPLES["IDENTIFICATION_RESUBMITTED"],
        KEY,
        event_type="IDENTIFICATION_RESUBMITTED",
    )
    first = receiver().parse(body, headers)
    second = receiver().parse(bytes(body), dict(headers))
    assert first.delivery_key == second.delivery_key
    scan_ref = SAMPLES["IDENTIFICATION_RESUBMITTED"]["scanRef"]
    assert first.delivery_key.startswith(f"idenfy:{scan_ref}:")


def test_delivery_key_differs_between_auto_and_manual_result_of_one_scan() -> None:
    auto = sample("IDENTIFICATION_AUTO_FINISHED")
    manual = sample("IDENTIFICATION_MANUAL_FINISHED")
    assert auto["scanRef"] == manual["scanRef"]
    assert auto["final"] is False
    first = parsed(auto, "IDENTIFICATION_AUTO_FINISHED")
    second = parsed(manual, "IDENTIFICATION_MANUAL_FINISHED")
    assert first.delivery_key != second.delivery_key


def test_delivery_key_differs_between_two_resubmissions() -> None:
    one = sample("IDENTIFICATION_RESUBMITTED")
    two = sample("IDENTIFICATION_RESUBMITTED")
    two["finishTime"] = one["finishTime"] + 3600
    keys = {
        parsed(one, "IDENTIFICATION_RESUBMITTED").delivery_key,
        parsed(two, "IDENTIFICATION_RESUBMITTED").delivery_key,
    }
    assert len(keys) == 2


def test_delivery_key_is_the_same_for_one_body_under_any_event_type() -> None:
    # Idenfy-Event-Type is not signed (docs/verification.md, "Unsigned headers"): one signed body
    # is one event, so a store runs its handlers once whatever the header says.
    payload = SAMPLES["IDENTIFICATION_CANCELLED"]
    assert (
        parsed(payload, "IDENTIFICATION_CANCELLED").delivery_key
        == parsed(payload, "IDENTIFICATION").delivery_key
    )


def test_delivery_key_never_holds_personal_data() -> None:
    for event_type, payload in SAMPLES.items():
        key = parsed(payload, event_type).delivery_key
        for value in PII:
            assert value not in key


# -- is_final -------------------------------------------------------------------------------------

FINAL: list[tuple[str, str, dict[str, Any], bool]] = [
    ("final-true", "IDENTIFICATION_AUTO_FINISHED", {"final": True}, True),
    ("final-false", "IDENTIFICATION_AUTO_FINISHED", {"final": False}, False),
    ("resubmitted-final-false", "IDENTIFICATION_RESUBMITTED", {"final": False}, False),
    ("manual-finished", "IDENTIFICATION_MANUAL_FINISHED", {"final": True}, True),
    ("legacy-no-final", "IDENTIFICATION", {}, True),
    ("legacy-reviewing", "IDENTIFICATION", {"overall": "REVIEWING"}, False),
    ("legacy-active", "IDENTIFICATION", {"overall": "ACTIVE"}, False),
    ("auto-without-final", "IDENTIFICATION_AUTO_FINISHED", {}, False),
    ("resubmitted-without-final", "IDENTIFICATION_RESUBMITTED", {}, False),
    ("manual-without-final", "IDENTIFICATION_MANUAL_FINISHED", {}, True),
    ("cancelled-without-final", "IDENTIFICATION_CANCELLED", {}, True),
    ("expired-without-final", "IDENTIFICATION_EXPIRED", {}, True),
    ("final-null", "IDENTIFICATION_CANCELLED", {"final": None}, True),
]


@pytest.mark.parametrize(
    ("event_type", "change", "expected"), [r[1:] for r in FINAL], ids=[r[0] for r in FINAL]
)
def test_is_final(event_type: str, change: dict[str, Any], expected: bool) -> None:
    payload = sample("IDENTIFICATION_MANUAL_FINISHED")
    del payload["final"]
    if "final" in change:
        payload["final"] = change["final"]
    if "overall" in change:
        payload["status"]["overall"] = change["overall"]
    event = identification(payload, event_type)
    assert event.is_final is expected


# -- triage ---------------------------------------------------------------------------------------


def test_triage_merges_fraud_tags_and_legacy_suspicion_reasons() -> None:
    payload = sample("IDENTIFICATION_AUTO_FINISHED")
    payload["status"]["suspicionReasons"] = ["AML_SUSPECTION", "FACE_SUSPECTED", "NEW_REASON"]
    payload["status"]["denyReasons"] = ["DOC_INFO_MISMATCH"]
    event = identification(payload, "IDENTIFICATION_AUTO_FINISHED")
    triage = event.triage
    assert isinstance(triage, IdentificationTriage)
    assert triage.suspected is True
    assert triage.overall is OverallStatus.SUSPECTED
    assert triage.fraud_tags == (
        FraudTag.DOC_MOBILE_PHOTO,
        FraudTag.AML_SUSPECTION,
        SuspicionReason.FACE_SUSPECTED,
        "NEW_REASON",
    )
    assert triage.mismatch_tags == (MismatchTag.NAME,)
    assert triage.deny_reasons == ("DOC_INFO_MISMATCH",)
    assert triage.auto_face is FaceStatus.FACE_MATCH
    assert triage.manual_face is None
    assert triage.face is FaceStatus.FACE_MATCH
    assert triage.document == "DOC_VALIDATED"
    with pytest.raises(AttributeError):
        triage.overall = "APPROVED"  # type: ignore[misc]


def test_triage_prefers_manual_verdicts() -> None:
    event = identification(
        SAMPLES["IDENTIFICATION_MANUAL_FINISHED"], "IDENTIFICATION_MANUAL_FINISHED"
    )
    triage = event.triage
    assert triage.suspected is False
    assert triage.overall == "DENIED"
    assert triage.document == "DOC_INFO_MISMATCH"
    assert triage.auto_document == "DOC_VALIDATED"


def test_triage_of_legacy_body_uses_suspicion_reasons() -> None:
    event = identification(SAMPLES["IDENTIFICATION"], "IDENTIFICATION")
    assert event.triage.fraud_tags == (SuspicionReason.FACE_SUSPECTED,)
    assert event.triage.face == "FACE_UNCERTAIN"


def test_triage_without_status() -> None:
    event = identification({"scanRef": "abc"}, "IDENTIFICATION_EXPIRED")
    triage = event.triage
    assert triage.overall is None
    assert triage.fraud_tags == ()
    assert triage.face is None
    assert event.overall is None


# -- facial authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "normalized"),
    [
        ("SUCCESS", FacialAuthenticationStatus.SUCCESS),
        ("Success", FacialAuthenticationStatus.SUCCESS),
        ("Failed", FacialAuthenticationStatus.FAILED),
        ("CANCELED", FacialAuthenticationStatus.CANCELED),
        ("Expired", FacialAuthenticationStatus.EXPIRED),
        ("Locked", "Locked"),
    ],
)
def test_facial_authentication_status_both_casings(status: str, normalized: object) -> None:
    # The vendor's SDK example (sheet, Evidence): upper case, no `id`.
    payload = {
        "token": "tok-1",
        "clientId": "c-1",
        "scanRef": "s-1",
        "status": status,
        "type": "AUTHENTICATION",
        "method": "FACE_MATCHING",
        "facePhoto": "https://example.com/face.jpg",
    }
    event = parsed(payload, "FACIAL_AUTHENTICATION")
    assert isinstance(event, FacialAuthenticationEvent)
    assert event.id is None
    assert event.status == status
    assert event.normalized_status == normalized
    assert event.succeeded is (normalized is FacialAuthenticationStatus.SUCCESS)
    assert_lossless(event, payload)
    assert "face.jpg" not in repr(event)


# -- legacy deliveries without Idenfy-Event-Type --------------------------------------------------

INFER: list[tuple[str, bytes, str]] = [
    ("identification", dumps(SAMPLES["IDENTIFICATION"]), "IDENTIFICATION"),
    ("video-call", dumps(SAMPLES["VIDEO_CALL_FINISHED"]), "VIDEO_CALL_FINISHED"),
    (
        "marker-only-in-a-value",
        b'{"scanRef": "s", "status": {}, "data": {"docFirstName": "videoCallAnswers"}}',
        "IDENTIFICATION",
    ),
    ("status-not-object", b'{"scanRef": "s", "status": true, "data": {}}', UNDETERMINED_EVENT_TYPE),
    ("no-data", b'{"scanRef": "s", "status": {}}', UNDETERMINED_EVENT_TYPE),
    # A body whose keys say its type gets it: the header is unsigned, its absence too.
    ("document-expiration", dumps(SAMPLES["DOCUMENT_EXPIRATION"]), "DOCUMENT_EXPIRATION"),
    ("company", dumps(SAMPLES["COMPANY_EXPIRATION"]), "COMPANY_EXPIRATION"),
    ("identification-keys", b'{"scanRef": "s", "final": true}', "IDENTIFICATION"),
    ("two-models-keys", b'{"final": true, "expirationStatus": null}', UNDETERMINED_EVENT_TYPE),
    ("no-own-keys", dumps(SAMPLES["COMPANY_DELETE"]), UNDETERMINED_EVENT_TYPE),
    ("array", b"[]", UNDETERMINED_EVENT_TYPE),
    ("not-json", b"{", UNDETERMINED_EVENT_TYPE),
]


@pytest.mark.parametrize(("body", "expected"), [r[1:] for r in INFER], ids=[r[0] for r in INFER])
def test_infer_event_type(body: bytes, expected: str) -> None:
    assert infer_event_type(body) == expected


@pytest.mark.parametrize("header", [None, "", "   "], ids=["absent", "empty", "blank"])
def test_delivery_without_event_type_header_is_inferred(header: str | None) -> None:
    body = dumps(SAMPLES["VIDEO_CALL_FINISHED"])
    headers = {"Idenfy-Signature": sign("idenfy", body, KEY, event_type="X")[1]["Idenfy-Signature"]}
    if header is not None:
        headers["Idenfy-Event-Type"] = header
    rec = receiver()
    seen: list[kw.WebhookEvent] = []
    rec.on("idenfy", "VIDEO_CALL_FINISHED")(seen.append)
    assert rec.handle(body, headers).status_code == 200
    (event,) = seen
    assert isinstance(event, VideoCallFinishedEvent)


def test_undetermined_legacy_body_is_an_unknown_event() -> None:
    body = dumps(SAMPLES["COMPANY_DELETE"])
    headers = {"Idenfy-Signature": sign("idenfy", body, KEY, event_type="X")[1]["Idenfy-Signature"]}
    event = receiver().parse(body, headers)
    assert isinstance(event, IdenfyUnknownEvent)
    assert event.event_type == UNDETERMINED_EVENT_TYPE
    assert_lossless(event, SAMPLES["COMPANY_DELETE"])


def test_event_type_header_picks_where_the_body_does_not_say() -> None:
    event = parsed(SAMPLES["COMPANY_DELETE"], "IDENTIFICATION_SOMETHING")
    assert isinstance(event, IdenfyUnknownEvent)
    assert event.event_type == "IDENTIFICATION_SOMETHING"


#: A minimal identification body (``scanRef``, ``status`` object) carrying an AGE_ESTIMATION key.
_AGE_IN_IDENTIFICATION = {"scanRef": "s-1", "status": {"overall": "APPROVED"}, "estimatedAge": 34}


@pytest.mark.parametrize(
    ("payload", "header", "field", "types"),
    [
        (
            SAMPLES["VIDEO_CALL_FINISHED"],
            "COMPANY_TOKEN_EXPIRED",
            "videoCallAnswers",
            "VIDEO_CALL_FINISHED",
        ),
        # (Under ACCOUNT_CHECK its `status: true` is refused first: that model's status is a
        # number or a string, and a boolean is no longer read as 1.)
        (
            SAMPLES["VIDEO_CALL_FINISHED"],
            "DOCUMENT_EXPIRATION",
            "videoCallAnswers",
            "VIDEO_CALL_FINISHED",
        ),
        # A documented type in a legacy spelling is that type: refused as it would be.
        (_AGE_IN_IDENTIFICATION, "ID_VERIFICATION_CANCELLED", "estimatedAge", "AGE_ESTIMATION"),
        (_AGE_IN_IDENTIFICATION, "IDENTIFICATION_CANCELLED", "estimatedAge", "AGE_ESTIMATION"),
    ],
)
def test_documented_event_type_header_contradicting_the_body_is_refused(
    payload: dict[str, Any], header: str, field: str, types: str
) -> None:
    outcome = deliver(payload, header)
    assert outcome.status_code == 400
    assert isinstance(outcome.error, kw.PayloadError)
    assert outcome.error.message == (
        "iDenfy body does not match the Idenfy-Event-Type header (or its absence): field "
        f"{field!r} belongs to {types} bodies only"
    )


#: Samples whose body says its kind: without the header, its type is inferred from the body.
SELF_TYPED = [t for t in SAMPLES if infer_event_type(dumps(SAMPLES[t])) != UNDETERMINED_EVENT_TYPE]


@pytest.mark.parametrize("sample_type", SELF_TYPED)
@pytest.mark.parametrize("header", ["IDENTIFICATION_SOMETHING", "MADE_UP_TYPE", "UNKNOWN"])
def test_undocumented_event_type_header_over_a_typed_body_reads_as_absent(
    sample_type: str, header: str
) -> None:
    # A header no documented type has names no other kind of event: the body is typed from its
    # keys, as without the header (a captured body can be resent without it anyway).
    body = dumps(SAMPLES[sample_type])
    absent = parse_event(body, kw.Headers({}))
    rec = receiver()
    seen: list[kw.WebhookEvent] = []
    rec.on("idenfy", absent.event_type)(seen.append)
    outcome = deliver(body, header, rec)
    assert outcome.status_code == 200, outcome.error
    event = outcome.event
    assert event is not None
    assert seen == [event]
    assert type(event) is type(absent)
    assert event.event_type == absent.event_type != UNDETERMINED_EVENT_TYPE
    assert event.delivery_key == absent.delivery_key
    assert event.decision == absent.decision
    assert_lossless(event, SAMPLES[sample_type])


def test_undocumented_event_type_header_over_a_body_of_two_types_is_refused_as_without_it() -> None:
    payload = {**sample("AGE_ESTIMATION"), "monitoringId": "m-1"}  # AGE_ESTIMATION, AML_MONITORING
    body, headers = sign("idenfy", payload, KEY, event_type="MADE_UP_TYPE")
    made_up = receiver().handle(body, headers)
    del headers["Idenfy-Event-Type"]
    absent = receiver().handle(body, headers)
    assert absent.status_code == made_up.status_code == 400
    assert isinstance(made_up.error, kw.PayloadError)
    assert absent.error is not None
    assert made_up.error.message == absent.error.message


# -- identification add-ons -----------------------------------------------------------------------


def test_manual_result_add_ons_are_typed() -> None:
    event = identification(
        SAMPLES["IDENTIFICATION_MANUAL_FINISHED"], "IDENTIFICATION_MANUAL_FINISHED"
    )
    assert isinstance(event.registry_center_check, LithuaniaRegistryCenterCheck)
    assert event.registry_center_check.checked_document_type == "ID"
    assert event.aml_check is not None
    assert event.aml_check.overall_status is AmlCheckStatus.FALSE_POSITIVE
    assert event.aml_check.status_set_at is not None
    assert event.aml_check.status_set_at.wire == "2026-11-23T08:20:05Z"
    assert event.aml_check.adverse_media is not None
    comment = event.aml_check.adverse_media[0].comment
    assert comment is not None
    assert comment.content == "Other person, same initials"
    assert event.criminal_checks is not None
    (criminal,) = event.criminal_checks
    assert criminal.suspected is True
    assert criminal.data is not None
    assert criminal.data[0].offenses is not None
    assert criminal.data[0].offenses[0].offense == "Vagystė"
    assert "Vagystė" not in repr(event)


def test_resubmitted_add_ons_are_typed() -> None:
    event = identification(SAMPLES["IDENTIFICATION_RESUBMITTED"], "IDENTIFICATION_RESUBMITTED")
    assert event.questionnaire_answers is not None
    assert event.questionnaire_answers.sections is not None
    questions = event.questionnaire_answers.sections[0].questions
    assert questions is not None
    assert [q.value for q in questions] == ["Programuotoja", False, ["LT", "LV"]]
    assert questions[2].type is QuestionType.COUNTRY_MULTI
    assert event.driver_license_check is not None
    assert event.driver_license_check.document_number == "DL55120934"
    assert event.bank_card_verification is not None
    assert event.bank_card_verification.status is BankCardStatus.MATCH
    assert event.bank_verification is not None
    assert event.bank_verification.accounts is not None
    assert event.bank_verification.accounts[0].iban == "LT417044060008011234"
    assert event.additional_steps == {"UTILITY_BILL": AdditionalStepMethod.UPLOAD}
    assert event.status is not None
    assert event.status.additional_steps is AdditionalStepsStatus.VALID


# -- import cost ----------------------------------------------------------------------------------


def test_models_load_only_on_first_parse() -> None:
    code = (
        "import sys, kyc_webhooks as kw\n"
        "kw.Idenfy(signing_key='k')\n"
        "assert 'kyc_webhooks.idenfy.models' not in sys.modules, 'models imported eagerly'\n"
        "from kyc_webhooks.idenfy import IdentificationEvent\n"
        "assert 'kyc_webhooks.idenfy.models' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_video_call_body_is_lenient() -> None:
    # VIDEO_CALL_FINISHED has no documented body (sheet §4.11, §5.10): plausible variations parse.
    payload = {
        "videoCallAnswers": {"Kiek jums metų?": {"answer": 36, "correct": True}},
        "status": "FINISHED",
        "scanRef": "s-1",
        "recordingUrl": "https://example.com/rec.mp4",
    }
    event = parsed(payload, "VIDEO_CALL_FINISHED")
    assert isinstance(event, VideoCallFinishedEvent)
    assert event.status == "FINISHED"
    assert event.video_call_answers is not None
    answer = event.video_call_answers["Kiek jums metų?"]
    assert answer is not None
    assert answer.answer == 36
    assert event.date_time is None
    assert_lossless(event, payload)
    assert "rec.mp4" not in repr(event)


def test_untyped_results_and_free_text_about_people_are_redacted() -> None:
    secrets = ["Jonas Jonaitis", "38001010000", "born Kaunas 1980", "lives at Vilnius g. 1"]
    review = sample("COMPANY_REVIEW")
    review["companyCheck"] = {"directors": [{"name": secrets[0], "personalCode": secrets[1]}]}
    review["shareholderCheck"] = [{"name": secrets[0]}]
    review["negativeNewsCheck"] = [{"title": secrets[0]}]
    review["beneficiaries"] = [
        {"id": 7, "beneficiaryCheck": {"name": secrets[0]}, "negativeNewsCheck": [secrets[0]]}
    ]
    identification_body = sample("IDENTIFICATION_AUTO_FINISHED")
    identification_body["AML"] = [
        {
            "serviceName": "AML_NAMES_CHECK",
            "data": [{"name": "X", "reason": secrets[2], "otherInformation": secrets[2]}],
        },
        {
            "serviceName": "AML_NEWS",
            "data": [{"title": secrets[0], "url": "https://n", "text": "t"}],
        },
    ]
    identification_body["amlCheck"] = {"adverseMedia": [{"title": secrets[0], "url": "https://m"}]}
    for payload, event_type in (
        (review, "COMPANY_REVIEW"),
        (identification_body, "IDENTIFICATION_AUTO_FINISHED"),
    ):
        body, headers = sign("idenfy", payload, "k", event_type=event_type)
        event = kw.Receiver(kw.Idenfy(signing_key="k")).parse(body, headers)
        text = repr(event) + str(event)
        assert [s for s in secrets if s in text] == []
        assert_lossless(event, payload)


# -- issue #10 item 13: everything iDenfy documents, typed -----------------------------------------


def test_company_token_expired_has_a_typed_model() -> None:
    payload = SAMPLES["COMPANY_TOKEN_EXPIRED"]
    event = parsed(payload, "COMPANY_TOKEN_EXPIRED")
    assert isinstance(event, CompanyTokenExpiredEvent)
    assert event.event_type == "COMPANY_TOKEN_EXPIRED"
    assert (event.client_id, event.external_ref) == (payload["clientId"], payload["externalRef"])
    assert event.model_extra == {}
    assert_lossless(event, payload)
    assert EVENT_MODELS["COMPANY_TOKEN_EXPIRED"] is CompanyTokenExpiredEvent
    assert "COMPANY_TOKEN_EXPIRED" in kw.Idenfy.event_types()


def test_company_token_expired_without_its_client_id_is_a_400() -> None:
    outcome = deliver({"externalRef": "kyb-1"}, "COMPANY_TOKEN_EXPIRED")
    assert outcome.status_code == 400
    assert isinstance(outcome.error, kw.PayloadError)
    assert "clientId" in outcome.error.message


def test_dashboard_spelling_canceled_routes_to_the_cancelled_event() -> None:
    rec = receiver()
    seen: list[str] = []

    @rec.on("idenfy", "IDENTIFICATION_CANCELLED")
    def cancelled(event: kw.WebhookEvent) -> None:
        seen.append(event.event_type)

    outcome = deliver(SAMPLES["IDENTIFICATION_CANCELLED"], "IDENTIFICATION_CANCELED", rec)
    assert outcome.status_code == 200, outcome.error
    assert isinstance(outcome.event, IdentificationEvent)
    assert outcome.event_type == "IDENTIFICATION_CANCELLED"
    assert seen == ["IDENTIFICATION_CANCELLED"]
    assert outcome.event.is_final


@pytest.mark.parametrize(
    ("spelling", "documented"),
    [
        ("ID_VERIFICATION_CANCELLED", "IDENTIFICATION_CANCELLED"),  # iDenfy's legacy description
        ("ID_VERIFICATION_CANCELED", "IDENTIFICATION_CANCELLED"),  # the dashboard label, one L
        ("ID_VERIFICATION", "IDENTIFICATION"),
        ("ID_VERIFICATION_AUTO_FINISHED", "IDENTIFICATION_AUTO_FINISHED"),
        ("ID_VERIFICATION_MANUAL_FINISHED", "IDENTIFICATION_MANUAL_FINISHED"),
        ("ID_VERIFICATION_RESUBMITTED", "IDENTIFICATION_RESUBMITTED"),
        ("ID_VERIFICATION_EXPIRED", "IDENTIFICATION_EXPIRED"),
    ],
)
def test_legacy_id_verification_spellings_are_the_documented_types(
    spelling: str, documented: str
) -> None:
    payload = SAMPLES["IDENTIFICATION_CANCELLED"]
    rec = receiver()
    seen: list[str] = []
    rec.on("idenfy", documented)(lambda event: seen.append(event.event_type))
    outcome = deliver(payload, spelling, rec)
    assert outcome.status_code == 200, outcome.error
    assert isinstance(outcome.event, IdentificationEvent)
    assert outcome.event_type == documented
    assert seen == [documented]
    reference = parsed(payload, documented)
    assert outcome.event.delivery_key == reference.delivery_key
    assert outcome.event.decision == reference.decision
    # A legacy body without ``final`` under a label that may be preliminary stays so.
    legacy = {k: v for k, v in payload.items() if k != "final"}
    assert identification(legacy, spelling).is_final is identification(legacy, documented).is_final


@pytest.mark.parametrize("pattern", ["IDENTIFICATION_CANCELED", "ID_VERIFICATION_CANCELLED"])
def test_a_handler_registered_under_another_spelling_runs_without_a_warning(pattern: str) -> None:
    """The dashboard's spelling names the event that parse reports as IDENTIFICATION_CANCELLED:
    registered under it, the handler runs (it was warned "would never run", and never ran)."""
    rec = receiver()
    seen: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec.on("idenfy", pattern)(lambda event: seen.append(event.event_type))
    outcome = deliver(SAMPLES["IDENTIFICATION_CANCELLED"], "IDENTIFICATION_CANCELLED", rec)
    assert outcome.status_code == 200, outcome.error
    assert seen == ["IDENTIFICATION_CANCELLED"]


def test_sex_gender_and_reviewers_comments_are_masked_in_repr() -> None:
    """The document's sex, an AML hit's gender and the free text reviewers write about a person
    are personal data: repr() masks them as ComplyCube's gender is."""
    body = sample("IDENTIFICATION")
    body["data"]["docSex"] = "SEX-VALUE"
    assert "SEX-VALUE" not in repr(parsed(body, "IDENTIFICATION"))
    monitoring = sample("AML_MONITORING")
    monitoring["amlCheck"]["amlCheck"][0]["gender"] = "GENDER-VALUE"
    assert "GENDER-VALUE" not in repr(parsed(monitoring, "AML_MONITORING"))
    review = sample("COMPANY_REVIEW")
    review["amlComment"] = "COMMENT-ONE"
    review["negativeNewsComment"] = "COMMENT-TWO"
    company = sample("COMPANY_AML_REVIEW")
    company["amlComment"] = "COMMENT-THREE"
    shown = repr(parsed(review, "COMPANY_REVIEW")) + repr(parsed(company, "COMPANY_AML_REVIEW"))
    for value in ("COMMENT-ONE", "COMMENT-TWO", "COMMENT-THREE"):
        assert value not in shown


def test_a_licences_gender_and_where_a_hit_or_a_criminal_record_is_are_masked_in_repr() -> None:
    """The driver's licence check's gender, an AML hit address's geography (its city was masked)
    and a criminal record's county and region (its name was masked) are personal data too."""
    from kyc_webhooks.idenfy import AmlV3Hit, CriminalRecord, DriverLicenseCheck

    shown = [
        repr(DriverLicenseCheck.model_validate({"gender": "GENDER-VALUE", "state": "LT"})),
        repr(AmlV3Hit.model_validate({"addresses": [{"city": "C", "geography": "GEO-VALUE"}]})),
        repr(CriminalRecord.model_validate({"county": "COUNTY-VALUE", "region": "REGION-VALUE"})),
    ]
    for value in ("GENDER-VALUE", "GEO-VALUE", "COUNTY-VALUE", "REGION-VALUE"):
        assert not [text for text in shown if value in text], value
    assert "state='LT'" in shown[0]  # the issuing state is not about the person


def test_undocumented_video_call_and_account_check_shapes_are_kept_as_sent() -> None:
    """VIDEO_CALL_FINISHED has no documented body now and ACCOUNT_CHECK's ``date`` no type: a
    question without an answer and a numeric date parse and dump back as sent (they failed the
    whole delivery, 400, so the event never reached a handler)."""
    video = sample("VIDEO_CALL_FINISHED")
    question = next(iter(video["videoCallAnswers"]))
    video["videoCallAnswers"][question] = None
    video["date"] = 1597409288
    event = parsed(video, "VIDEO_CALL_FINISHED")
    assert_lossless(event, video)
    account = sample("ACCOUNT_CHECK")
    account["date"] = 1597409288.5
    assert_lossless(parsed(account, "ACCOUNT_CHECK"), account)


def test_legacy_2019_times_inside_status_are_typed_fields() -> None:
    payload = sample("IDENTIFICATION")
    payload["status"]["startTime"] = 1554726960.324056
    payload["status"]["finishTime"] = 1554727002.254685
    event = identification(payload, "IDENTIFICATION")
    assert event.status is not None
    assert event.status.model_extra == {}
    assert event.status.start_time == datetime(2019, 4, 8, 12, 36, 0, 324056, tzinfo=timezone.utc)
    assert event.status.finish_time is not None
    assert event.status.finish_time.wire == 1554727002.254685
    assert_lossless(event, payload)  # the floats are kept as sent


def test_legacy_times_inside_status_of_the_wrong_shape_are_a_400() -> None:
    payload = sample("IDENTIFICATION")
    payload["status"]["startTime"] = {"at": 1}
    outcome = deliver(payload, "IDENTIFICATION")
    assert outcome.status_code == 400
    assert isinstance(outcome.error, kw.PayloadError)
