"""ComplyCube events (sheet complycube.md §3-§4): byte-exact vectors for every event type,
payload models per resource and action, lossless round trips, forward compatibility (unknown
fields, enum values and event types), legacy ``check.complete*`` spellings and routing."""

from __future__ import annotations

import json
from typing import Any

import pytest

import kyc_webhooks as kw
from _lossless import assert_lossless
from _vectors import load as load_vector
from _vectors import vector, vector_names
from kyc_webhooks.complycube import (
    EVENT_MODELS,
    EVENT_TYPES,
    LEGACY_EVENT_TYPES,
    AddressCreatedEvent,
    AddressDeletedEvent,
    AddressUpdate,
    AddressUpdatedEvent,
    CheckEvent,
    CheckOutcome,
    CheckStatus,
    CheckStatusEvent,
    CheckStatusPayload,
    CheckType,
    CheckUpdatedEvent,
    Client,
    ClientCreatedEvent,
    ClientDeletedEvent,
    ClientEvent,
    ClientType,
    ClientUpdate,
    ClientUpdatedEvent,
    ComplyCubeEnvelope,
    ComplyCubeEvent,
    ComplyCubeUnknownEvent,
    DeletedResource,
    DocumentCreatedEvent,
    DocumentDeletedEvent,
    DocumentUpdatedEvent,
    LivePhoto,
    ResourceType,
    WorkflowSession,
    WorkflowSessionEvent,
    WorkflowSessionStatus,
    canonical_event_type,
    normalize_pattern,
)
from kyc_webhooks.complycube._samples import SAMPLES
from kyc_webhooks.testing import dumps, sign

SECRET = "whsec_cc_5f1e9a7b"

CASES = vector_names("complycube")


def load(case: str) -> tuple[bytes, dict[str, str]]:
    return load_vector("complycube", case)


def receiver(secret: str = SECRET) -> kw.Receiver:
    return kw.Receiver(kw.ComplyCube(secret=secret))


def deliver(payload: dict[str, Any] | bytes, rec: kw.Receiver | None = None) -> kw.Outcome:
    rec = rec if rec is not None else receiver()
    return rec.handle(*sign("complycube", payload, SECRET))


def parsed(payload: dict[str, Any] | bytes) -> kw.WebhookEvent:
    body, headers = sign("complycube", payload, SECRET)
    return receiver().parse(body, headers)


# -- coverage of the sheet ---------------------------------------------------------------------

SHEET_TYPES = [
    "workflow.session.started", "workflow.session.cancelled", "workflow.session.processing",
    "workflow.session.completed", "workflow.session.updated", "check.pending", "check.completed",
    "check.completed.clear", "check.completed.attention", "check.completed.rejected",
    "check.completed.match_confirmed", "check.monitoring.attention", "check.failed",
    "check.updated", "client.created", "client.updated", "client.deleted", "document.created",
    "document.updated", "document.deleted", "document.updated.image_uploaded",
    "document.updated.image_deleted", "address.created", "address.updated", "address.deleted",
    "check.complete", "check.complete.clear", "check.complete.attention",
]  # fmt: skip


def test_event_types_list_every_type_of_the_sheet_in_order() -> None:
    assert list(EVENT_TYPES) == SHEET_TYPES
    assert kw.ComplyCube.event_types() == tuple(SHEET_TYPES)
    assert list(SAMPLES) == SHEET_TYPES


def test_every_event_type_has_a_vector() -> None:
    assert set(SHEET_TYPES) <= set(CASES)


EXPECTED_MODEL: dict[str, type[ComplyCubeEvent]] = {
    **dict.fromkeys([t for t in SHEET_TYPES if t.startswith("workflow.")], WorkflowSessionEvent),
    **dict.fromkeys(
        [t for t in SHEET_TYPES if t.startswith("check.") and t != "check.updated"],
        CheckStatusEvent,
    ),
    "check.updated": CheckUpdatedEvent,
    "client.created": ClientCreatedEvent,
    "client.updated": ClientUpdatedEvent,
    "client.deleted": ClientDeletedEvent,
    "document.created": DocumentCreatedEvent,
    "document.updated": DocumentUpdatedEvent,
    "document.updated.image_uploaded": DocumentUpdatedEvent,
    "document.updated.image_deleted": DocumentUpdatedEvent,
    "document.deleted": DocumentDeletedEvent,
    "address.created": AddressCreatedEvent,
    "address.updated": AddressUpdatedEvent,
    "address.deleted": AddressDeletedEvent,
}


# -- byte-exact vectors ------------------------------------------------------------------------


# Authentication, model, delivery key and lossless round trip of every vector: test_vectors.py.


@pytest.mark.parametrize("case", CASES)
def test_vector_envelope_keeps_the_wire_type(case: str) -> None:
    found = vector("complycube", case)
    event = found.receiver().parse(found.body, found.headers)
    wire = found.wire()
    assert isinstance(event, ComplyCubeEvent)
    if isinstance(event, ComplyCubeEnvelope):
        assert event.type == wire["type"]  # the wire spelling is kept
        assert event.event_type == canonical_event_type(wire["type"])
        assert event.id == wire["id"]


@pytest.mark.parametrize("event_type", SHEET_TYPES)
def test_vector_body_is_the_sample(event_type: str) -> None:
    body, _ = load(event_type)
    assert json.loads(body) == SAMPLES[event_type]


@pytest.mark.parametrize("event_type", SHEET_TYPES)
def test_sample_signed_by_testing_sign_round_trips(event_type: str) -> None:
    event = parsed(SAMPLES[event_type])
    assert isinstance(event, EXPECTED_MODEL[event_type])
    assert_lossless(event, SAMPLES[event_type])
    assert event.raw_body == dumps(SAMPLES[event_type])


# -- payload models ----------------------------------------------------------------------------


def test_check_completed_clear_payload_is_typed() -> None:
    event = parsed(SAMPLES["check.completed.clear"])
    assert isinstance(event, CheckStatusEvent)
    assert isinstance(event, CheckEvent)
    assert event.resource_type is ResourceType.CHECK
    assert isinstance(event.payload, CheckStatusPayload)
    assert event.payload.id == "5eb1276d96be4a0008713af4"
    assert event.payload.status is CheckStatus.COMPLETE
    assert event.payload.outcome is CheckOutcome.CLEAR
    assert event.status is CheckStatus.COMPLETE
    assert event.outcome is CheckOutcome.CLEAR
    assert event.created_at is not None
    assert event.created_at.isoformat() == "2024-03-18T09:43:05.964000+00:00"
    assert event.created_at.tzinfo is not None
    assert event.delivery_key == "complycube:5ed170fe99c81a0007b9a3d3"


@pytest.mark.parametrize(
    ("event_type", "payload", "status", "outcome"),
    [
        pytest.param(
            "check.completed.clear",
            {"id": "c1"},
            CheckStatus.COMPLETE,
            CheckOutcome.CLEAR,
            id="clear-from-type",
        ),
        pytest.param(
            "check.complete.clear",
            {"id": "c1"},
            CheckStatus.COMPLETE,
            CheckOutcome.CLEAR,
            id="legacy-clear-from-type",
        ),
        pytest.param(
            "check.completed.match_confirmed",
            {},
            CheckStatus.COMPLETE,
            CheckOutcome.MATCH_CONFIRMED,
            id="match-confirmed-from-type",
        ),
        pytest.param(
            "check.monitoring.attention",
            {},
            CheckStatus.COMPLETE,
            CheckOutcome.ATTENTION,
            id="monitoring-from-type",
        ),
        pytest.param(
            "check.completed",
            {"id": "c1"},
            CheckStatus.COMPLETE,
            None,
            id="completed-any-outcome-unknown",
        ),
        pytest.param(
            "check.completed",
            {"outcome": "rejected"},
            CheckStatus.COMPLETE,
            CheckOutcome.REJECTED,
            id="completed-outcome-from-payload",
        ),
        pytest.param("check.pending", {}, CheckStatus.PENDING, None, id="pending-from-type"),
        pytest.param("check.failed", {}, CheckStatus.FAILED, None, id="failed-from-type"),
        pytest.param(
            "check.completed.clear",
            {"status": "complete", "outcome": "attention"},
            CheckStatus.COMPLETE,
            CheckOutcome.ATTENTION,
            id="payload-wins",
        ),
        pytest.param(
            "check.completed",
            {"status": "archived", "outcome": "inconclusive"},
            "archived",
            "inconclusive",
            id="unknown-values-stay-strings",
        ),
    ],
)
def test_effective_status_and_outcome(
    event_type: str, payload: dict[str, Any], status: Any, outcome: Any
) -> None:
    event = parsed({"id": "5ed170fe99c81a0007b9a3aa", "type": event_type, "payload": payload})
    assert isinstance(event, CheckStatusEvent)
    assert event.status == status
    assert event.outcome == outcome
    assert type(event.outcome) is type(outcome)


def test_check_payload_with_third_party_shape_keeps_extras() -> None:
    # Sheet "Evidence": clientId + enableMonitoring in a check event payload, and no status.
    found = vector("complycube", "check_completed_clear_without_status")
    event = found.receiver().parse(found.body, found.headers)
    assert isinstance(event, CheckStatusEvent)
    assert event.payload is not None
    assert event.payload.status is None
    assert event.payload.client_id == "5eb04fcd0f3e360008035eb1"
    assert event.payload.enable_monitoring is False
    assert event.status is CheckStatus.COMPLETE
    assert event.outcome is CheckOutcome.CLEAR


def test_full_check_object_in_a_status_payload_is_typed() -> None:
    payload = {
        "id": "5eb1276d96be4a0008713af4",
        "clientId": "5eb04fcd0f3e360008035eb1",
        "entityName": "Zoë Ñúñez",
        "type": "extensive_screening_check",
        "enableMonitoring": True,
        "options": {"screeningClassification": ["pep", "sanctions"]},
        "clientConsent": True,
        "status": "complete",
        "result": {
            "outcome": "attention",
            "breakdown": {"summary": {"pep": {"level1": "attention"}}},
        },
        "createdAt": "2024-03-18T09:41:27.312Z",
        "updatedAt": "2024-03-18T09:43:05.874Z",
    }
    raw = {
        "id": "5ed170fe99c81a0007b9a3ab",
        "type": "check.completed.attention",
        "payload": payload,
    }
    event = parsed(raw)
    assert isinstance(event, CheckStatusEvent)
    assert event.payload is not None
    assert event.payload.type is CheckType.EXTENSIVE_SCREENING_CHECK
    assert event.payload.entity_name == "Zoë Ñúñez"
    assert event.payload.result is not None
    assert event.payload.result.outcome is CheckOutcome.ATTENTION
    assert event.outcome is CheckOutcome.ATTENTION  # from the event type: payload has none
    assert_lossless(event, raw)


def test_client_created_payload_is_the_full_client() -> None:
    event = parsed(SAMPLES["client.created"])
    assert isinstance(event, ClientCreatedEvent)
    assert isinstance(event, ClientEvent)
    client = event.payload
    assert isinstance(client, Client)
    assert client.type is ClientType.PERSON
    assert client.entity_name == "Zoë Ñúñez"
    assert client.email == "zoe.nunez@example.com"
    assert client.person_details is not None
    assert client.person_details.first_name == "Zoë"
    assert client.person_details.dob == "1990-02-14"


def test_update_payload_reports_changed_fields() -> None:
    event = parsed(SAMPLES["client.updated"])
    assert isinstance(event, ClientUpdatedEvent)
    assert isinstance(event.payload, ClientUpdate)
    assert event.payload.changed_fields == frozenset({"email", "personDetails"})
    assert event.payload.mobile is None
    address = parsed(SAMPLES["address.updated"])
    assert isinstance(address, AddressUpdatedEvent)
    assert isinstance(address.payload, AddressUpdate)
    assert address.payload.changed_fields == frozenset({"line", "postalCode"})
    extra = parsed(
        {"id": "5ec3f2e6c15b4b0007d5a9ff", "type": "address.updated",
         "payload": {"id": "a1", "geoCode": "36.72,-4.42"}}
    )  # fmt: skip
    assert isinstance(extra, AddressUpdatedEvent)
    assert extra.payload is not None
    assert extra.payload.changed_fields == frozenset({"geoCode"})


@pytest.mark.parametrize("event_type", ["client.deleted", "document.deleted", "address.deleted"])
def test_delete_payload_is_the_id(event_type: str) -> None:
    event = parsed(SAMPLES[event_type])
    assert isinstance(event, ComplyCubeEnvelope)
    assert isinstance(event.payload, DeletedResource)
    assert event.payload.id == SAMPLES[event_type]["payload"]["id"]


def test_document_image_uploaded_payload() -> None:
    event = parsed(SAMPLES["document.updated.image_uploaded"])
    assert isinstance(event, DocumentUpdatedEvent)
    assert event.event_type == "document.updated.image_uploaded"
    assert event.payload is not None
    assert event.payload.images is not None
    image = event.payload.images[0]
    assert image.document_side == "front"
    assert image.download_link is not None
    assert image.id is not None
    assert image.id not in image.download_link  # sheet "Evidence"


def test_workflow_session_payload() -> None:
    event = parsed(SAMPLES["workflow.session.completed"])
    assert isinstance(event, WorkflowSessionEvent)
    session = event.payload
    assert isinstance(session, WorkflowSession)
    assert session.status is WorkflowSessionStatus.COMPLETE
    assert session.outcome is CheckOutcome.CLEAR
    assert session.workflow_version == 3
    assert session.all_related_checks is not None
    assert session.all_related_checks[0].type is CheckType.EXTENSIVE_SCREENING_CHECK
    assert session.completed_at is not None


def test_live_photo_model_types_an_unknown_live_photo_event() -> None:
    found = vector("complycube", "unknown_type_livephoto_created")
    event = found.receiver().parse(found.body, found.headers)
    assert isinstance(event, ComplyCubeUnknownEvent)
    assert event.event_type == "livePhoto.created"
    photo = LivePhoto.model_validate(event.payload["payload"])
    assert photo.content_type == "images/jpg"  # sic in the API reference; not validated
    assert photo.perform_liveness_check is True


# -- forward compatibility ---------------------------------------------------------------------

BASE = SAMPLES["check.completed.clear"]


def with_changes(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(base))
    for path, value in changes.items():
        node = out
        *parents, last = path.split("__")
        for part in parents:
            node = node[part]
        node[last] = value
    return out


FORWARD: list[Any] = [
    pytest.param(with_changes(BASE, webhookId="wh_1"), id="unknown-envelope-field"),
    pytest.param(with_changes(BASE, payload__riskScore=0.12), id="unknown-payload-field"),
    pytest.param(with_changes(BASE, payload__outcome="inconclusive"), id="unknown-outcome"),
    pytest.param(with_changes(BASE, payload__status="archived"), id="unknown-status"),
    pytest.param(with_changes(BASE, resourceType="checkV2"), id="unknown-resource-type"),
    pytest.param(with_changes(BASE, resourceType=None), id="null-resource-type"),
    pytest.param(with_changes(BASE, payload={}), id="empty-payload"),
    pytest.param(with_changes(BASE, payload=None), id="null-payload"),
    pytest.param(
        {"id": "5ed170fe99c81a0007b9a3ac", "type": "check.completed"}, id="no-payload-no-timestamps"
    ),
    pytest.param(with_changes(BASE, updatedAt="2024-03-18T09:43:06.001Z"), id="sdk-updatedAt"),
    pytest.param(with_changes(BASE, createdAt="2024-03-18T09:43:05Z"), id="timestamp-without-ms"),
    pytest.param(
        with_changes(BASE, createdAt="2024-03-18T09:43:05.964+00:00"), id="timestamp-with-offset"
    ),
    pytest.param(
        with_changes(SAMPLES["client.created"], payload__type="trust"), id="unknown-client-type"
    ),
    pytest.param(
        with_changes(SAMPLES["client.created"], payload__personDetails__title="Dña."),
        id="unknown-nested-field",
    ),
    pytest.param(
        with_changes(SAMPLES["workflow.session.updated"], payload__status="expired"),
        id="unknown-session-status",
    ),
]


@pytest.mark.parametrize("payload", FORWARD)
def test_forward_compatible_changes_parse_and_round_trip(payload: dict[str, Any]) -> None:
    outcome = deliver(payload)
    assert outcome.status_code == 200, outcome.response_body()
    assert isinstance(outcome.event, ComplyCubeEnvelope)
    dumped = outcome.event.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert dumped == payload


@pytest.mark.parametrize("outcome", ["confirmed", "rejected", "attention", "pending"])
def test_manual_validation_outcomes_are_check_outcome_members(outcome: str) -> None:
    # Sheet §4.3: a manual validation sets a check's outcome to confirmed, rejected or attention
    # (v1.7.2: pending in place of attention) and triggers check.updated; each documented value
    # is a member of the open enum, not a plain string.
    event = parsed(
        {
            "id": "5ed170fe99c81a0007b9a3e9",
            "type": "check.updated",
            "resourceType": "check",
            "payload": {"id": "5eb1276d96be4a0008713af4", "result": {"outcome": outcome}},
            "createdAt": "2021-02-03T10:15:42.208Z",
        }
    )
    assert isinstance(event, CheckUpdatedEvent)
    assert event.payload is not None
    assert event.payload.result is not None
    assert isinstance(event.payload.result.outcome, CheckOutcome)
    assert event.payload.result.outcome == outcome


def test_unknown_enum_value_stays_a_plain_string() -> None:
    event = parsed(with_changes(BASE, payload__outcome="inconclusive"))
    assert isinstance(event, CheckStatusEvent)
    assert event.payload is not None
    assert event.payload.outcome == "inconclusive"
    assert not isinstance(event.payload.outcome, CheckOutcome)


@pytest.mark.parametrize(
    ("payload", "event_type"),
    [
        pytest.param(
            {"id": "5f0c3b2a1d9e8f0007a6b5c4", "type": "livePhoto.created", "payload": {"id": "x"}},
            "livePhoto.created",
            id="undocumented-type",
        ),
        pytest.param(
            {
                "id": "5f0c3b2a1d9e8f0007a6b5c5",
                "type": "client.archived",
                "resourceType": "client",
                "payload": {"id": "x"},
            },
            "client.archived",
            id="new-action-of-known-resource",
        ),
        pytest.param(
            {
                "id": "5f0c3b2a1d9e8f0007a6b5c6",
                "type": "check.complete.rejected",
                "payload": {"outcome": "rejected"},
            },
            "check.completed.rejected",
            id="legacy-prefix-of-known-type",
        ),
        pytest.param(
            {"id": "5f0c3b2a1d9e8f0007a6b5c7", "type": "check.completed.expired"},
            "check.completed.expired",
            id="new-outcome-type",
        ),
        pytest.param({"id": "5f0c3b2a1d9e8f0007a6b5c8"}, "UNKNOWN", id="no-type"),
        pytest.param({"id": "5f0c3b2a1d9e8f0007a6b5c9", "type": ""}, "UNKNOWN", id="empty-type"),
        pytest.param({"id": "5f0c3b2a1d9e8f0007a6b5ca", "type": 7}, "UNKNOWN", id="numeric-type"),
        pytest.param({"id": "5f0c3b2a1d9e8f0007a6b5cb", "type": None}, "UNKNOWN", id="null-type"),
    ],
)
def test_unknown_event_types_reach_catch_alls(payload: dict[str, Any], event_type: str) -> None:
    rec = receiver()
    calls: list[str] = []
    rec.on("*")(lambda e: calls.append("any"))
    rec.on("complycube")(lambda e: calls.append("complycube"))
    rec.on_event(kw.UnknownEvent)(lambda e: calls.append("unknown-model"))
    outcome = deliver(payload, rec)
    assert outcome.status_code == 200
    assert outcome.event_type == event_type
    assert outcome.event is not None
    if event_type.startswith("check.completed."):  # documented or not: a check outcome
        assert isinstance(outcome.event, CheckStatusEvent)
        assert calls == ["any", "complycube"]
    else:
        assert isinstance(outcome.event, ComplyCubeUnknownEvent)
        assert outcome.event.payload == payload  # the whole body
        assert calls == ["any", "complycube", "unknown-model"]
    assert outcome.event.delivery_key == f"complycube:{payload['id']}"
    assert_lossless(outcome.event, payload)


def test_unknown_event_without_id_falls_back_to_body_digest() -> None:
    a = parsed({"type": "ping"})
    b = parsed({"type": "ping", "n": 1})
    assert a.delivery_key.startswith("complycube:sha256:")
    assert a.delivery_key != b.delivery_key
    assert a.delivery_key == parsed({"type": "ping"}).delivery_key


MALFORMED: list[Any] = [
    pytest.param({"type": "check.completed.clear", "payload": {}}, "id", id="known-type-no-id"),
    pytest.param({"id": 5, "type": "check.completed.clear"}, "id", id="known-type-numeric-id"),
    pytest.param(with_changes(BASE, payload="clear"), "payload", id="payload-not-an-object"),
    pytest.param(with_changes(BASE, payload__status=3), "payload.status", id="status-not-string"),
    pytest.param(with_changes(BASE, createdAt="yesterday"), "createdAt", id="bad-timestamp"),
    pytest.param(
        with_changes(SAMPLES["client.created"], payload__email=["a@b.c"]),
        "payload.email",
        id="email-not-string",
    ),
]


@pytest.mark.parametrize(("payload", "field"), MALFORMED)
def test_known_type_with_wrong_guaranteed_shape_is_400(payload: dict[str, Any], field: str) -> None:
    outcome = deliver(payload)
    assert outcome.status_code == 400
    assert isinstance(outcome.error, kw.PayloadError)
    assert field in outcome.error.message
    assert outcome.error.vendor == "complycube"


def test_delivery_key_is_stable_across_redeliveries_and_unique_per_event() -> None:
    first = parsed(SAMPLES["check.completed.clear"])
    again = parsed(json.dumps(SAMPLES["check.completed.clear"], indent=2).encode())
    other = parsed(SAMPLES["check.completed.attention"])
    assert first.delivery_key == again.delivery_key == "complycube:5ed170fe99c81a0007b9a3d3"
    assert other.delivery_key != first.delivery_key


def test_models_map_current_spellings_only() -> None:
    assert set(EVENT_MODELS) | set(LEGACY_EVENT_TYPES) == set(EVENT_TYPES)
    assert set(LEGACY_EVENT_TYPES.values()) <= set(EVENT_MODELS)


# -- legacy spellings and routing --------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "canonical"),
    [
        ("check.complete", "check.completed"),
        ("check.complete.clear", "check.completed.clear"),
        ("check.complete.attention", "check.completed.attention"),
        ("check.complete.rejected", "check.completed.rejected"),
        ("check.completed.clear", "check.completed.clear"),
        ("check.completeness", "check.completeness"),
        ("client.created", "client.created"),
        ("", ""),
    ],
)
def test_canonical_event_type(wire: str, canonical: str) -> None:
    assert canonical_event_type(wire) == canonical


@pytest.mark.parametrize(
    ("pattern", "normalized"),
    [
        ("check.complete", "check.completed"),
        ("check.complete.*", "check.completed.*"),
        ("check.complete.clear", "check.completed.clear"),
        ("check.complete*", "check.complete*"),
        ("check.completed.*", "check.completed.*"),
        ("check.*", "check.*"),
        ("*", "*"),
    ],
)
def test_normalize_pattern(pattern: str, normalized: str) -> None:
    assert normalize_pattern(pattern) == normalized
    assert kw.ComplyCube.normalize_pattern(pattern) == normalized


ROUTES = [
    "check.completed.*",
    "check.completed",
    "check.completed*",
    "check.complete.clear",
    "check.completed.clear",
    "check.*",
    "client.*",
    "*.deleted",
    "document.updated*",
]

ROUTING: list[Any] = [
    pytest.param(
        "check.completed.clear",
        [
            "check.completed.*",
            "check.completed*",
            "check.complete.clear",
            "check.completed.clear",
            "check.*",
        ],
        id="current-clear",
    ),
    pytest.param(
        "check.complete.clear",
        [
            "check.completed.*",
            "check.completed*",
            "check.complete.clear",
            "check.completed.clear",
            "check.*",
        ],
        id="legacy-clear",
    ),
    pytest.param(
        "check.completed",
        ["check.completed", "check.completed*", "check.*"],
        id="plain-completed-not-matched-by-dot-star",
    ),
    pytest.param(
        "check.complete",
        ["check.completed", "check.completed*", "check.*"],
        id="legacy-plain-complete",
    ),
    pytest.param(
        "check.complete.attention",
        ["check.completed.*", "check.completed*", "check.*"],
        id="legacy-attention",
    ),
    pytest.param(
        "check.completed.match_confirmed",
        ["check.completed.*", "check.completed*", "check.*"],
        id="match-confirmed",
    ),
    pytest.param("check.monitoring.attention", ["check.*"], id="monitoring"),
    pytest.param("client.deleted", ["client.*", "*.deleted"], id="client-deleted"),
    pytest.param("document.updated.image_uploaded", ["document.updated*"], id="image-uploaded"),
]


@pytest.mark.parametrize(("wire_type", "expected"), ROUTING)
def test_routing_patterns(wire_type: str, expected: list[str]) -> None:
    rec = receiver()
    ran: list[str] = []
    for pattern in ROUTES:
        rec.on("complycube", pattern)(lambda e, p=pattern: ran.append(p))
    outcome = rec.handle(*sign("complycube", SAMPLES[wire_type], SECRET))
    assert outcome.status_code == 200
    assert ran == expected
    assert outcome.handled == len(expected)


def test_legacy_event_keeps_wire_type_but_routes_as_current() -> None:
    rec = receiver()
    got: list[CheckStatusEvent] = []

    @rec.on_event(CheckStatusEvent)
    def on_check(event: CheckStatusEvent) -> None:
        got.append(event)

    outcome = rec.handle(*sign("complycube", SAMPLES["check.complete.clear"], SECRET))
    assert outcome.event_type == "check.completed.clear"
    assert got[0].type == "check.complete.clear"
    assert got[0].event_type == "check.completed.clear"
    assert got[0].outcome is CheckOutcome.CLEAR


def test_other_vendor_patterns_do_not_match_complycube_events() -> None:
    rec = kw.Receiver(kw.ComplyCube(secret=SECRET), kw.Idenfy(signing_key="k"))
    ran: list[str] = []
    rec.on("idenfy", "*")(lambda e: ran.append("idenfy"))
    rec.on("complycube", "check.completed.clear")(lambda e: ran.append("complycube"))
    rec.handle(*sign("complycube", SAMPLES["check.completed.clear"], SECRET))
    assert ran == ["complycube"]


def test_public_names_resolve_lazily() -> None:
    import kyc_webhooks.complycube as cc

    assert cc.ComplyCube is kw.ComplyCube
    assert cc.SIGNATURE_HEADER == "ComplyCube-Signature"
    assert getattr(cc, "CheckStatusEvent") is CheckStatusEvent  # noqa: B009
    with pytest.raises(AttributeError):
        getattr(cc, "NoSuchName")  # noqa: B009


@pytest.mark.parametrize("event_type", SHEET_TYPES)
def test_testing_toolkit_delivers_every_event_type(event_type: str) -> None:
    from kyc_webhooks import testing

    assert event_type in testing.event_types("complycube")
    tester = testing.WebhookTester()
    payload = testing.sample_payload("complycube", event_type)
    testing.set_path(payload, "payload.riskNote", "x")  # a field the sample lacks
    outcome = tester.handle(*tester.sign("complycube", payload))
    assert outcome.status_code == 200, outcome.response_body()
    assert isinstance(outcome.event, EXPECTED_MODEL[event_type])
    assert outcome.event_type == canonical_event_type(event_type)
    tampered = tester.handle(*testing.tamper(tester.delivery("complycube", event_type)))
    assert tampered.status_code == 401


@pytest.mark.parametrize(
    "event_type",
    ["check.completed.escalated", "check.complete.escalated", "check.monitoring.clear"],
)
def test_undocumented_check_outcomes_parse_as_check_status_events(event_type: str) -> None:
    from kyc_webhooks.complycube import CheckStatusEvent
    from kyc_webhooks.testing import sign

    secret = "outcome-secret"
    receiver = kw.Receiver(kw.ComplyCube(secret=secret))
    seen: list[kw.WebhookEvent] = []
    receiver.on("complycube", "check.*.*")(seen.append)
    payload = {
        "id": "65a1f0c2e4b0a1b2c3d4e5f7",
        "type": event_type,
        "resourceType": "check",
        "payload": {"id": "65a1f0c2e4b0a1b2c3d4e5f8", "status": "complete", "outcome": "new"},
        "createdAt": "2026-11-23T10:00:00.000Z",
    }
    outcome = receiver.handle(*sign("complycube", payload, secret))
    assert outcome.status_code == 200
    assert isinstance(outcome.event, CheckStatusEvent)
    assert outcome.event.outcome == "new"
    assert seen == [outcome.event]
