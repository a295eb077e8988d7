"""Yoti IDV notifications: byte-exact vectors for all nine topics, models, routing by either topic
spelling, unknown topics and fields, lossless round trips, delivery keys (sheet: yoti.md)."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import pytest

import kyc_webhooks as kw
from _lossless import assert_lossless
from _vectors import vector, vector_names
from kyc_webhooks.testing import dumps, sign
from kyc_webhooks.yoti import (
    EVENT_MODELS,
    EVENT_TYPES,
    SessionCompletionEvent,
    TaskCompletionEvent,
    Topic,
    YotiEvent,
    YotiUnknownEvent,
)
from kyc_webhooks.yoti._samples import SAMPLES


def _readable(value: str) -> str:
    """A key's readable part: up to 64 printable ASCII characters, else ``-``."""
    return value if 0 < len(value) <= 64 and value.isascii() and value.isprintable() else "-"


def expected_key(payload: dict[str, Any]) -> str:
    """``yoti:<session_id>:<topic>:<digest of the canonical body>`` (see YotiEvent)."""
    topic = str(payload["topic"]).lower()
    canonical = json.dumps(
        {**payload, "topic": topic}, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )
    digest = hashlib.sha256(canonical.encode("ascii")).hexdigest()[:32]
    return f"yoti:{_readable(payload['session_id'])}:{_readable(topic)}:{digest}"


# The tokens the vectors in tests/vectors/yoti were built with.
BASIC_TOKEN = "yoti-hooks:6Q2vN8sLx4"
BEARER_TOKEN = "yb_live_3kT9pWq7ZrM2xVc8"
IDV = "9326af8e-3609-4d71-97d4-ea3563d3dc91"
IBV = "bf6b6dc2-6ca3-459c-a427-97614a5f3c22"

_TOPICS: list[tuple[str, str, tuple[str, ...]]] = [
    ("resource_update", IDV, ("f63192f5-9a36-4868-a088-d768b41c4f1b",)),
    ("task_completion", IDV, ("395e52e2-c314-478c-af8f-a81361841b79",)),
    ("check_completion", IDV, ("68b4bf45-afca-4846-9d94-46dab75eef55",)),
    ("session_completion", IDV, ()),
    ("client_session_token_deleted", IDV, ()),
    ("new_pdf_supplied", IBV, ()),
    ("instructions_email_requested", IBV, ()),
    ("thank_you_email_requested", IBV, ()),
    ("first_branch_visit", IBV, ()),
]
#: Vector -> the session id and subject ids its event exposes (model, event type and delivery key
#: are in each vector's expected.json, checked by test_vectors.py).
SUBJECTS: dict[str, tuple[str, tuple[str, ...]]] = {
    **{
        f"{topic}_{auth}": (session, ids)
        for topic, session, ids in _TOPICS
        for auth in ("basic", "bearer")
    },
    "uppercase_topic_basic": ("5192d24e-713f-48a0-a567-ca743c031f15", ()),
    "unknown_topic_bearer": (
        "0b51161e-e687-4e55-b5b2-50e282fce7b8",
        ("f734d863-2f68-471a-b847-817f5771711e",),
    ),
    "extra_fields_basic": (
        "5ae6444f-ecc5-4f9a-a090-1c6c06740d2d",
        # Sorted by field name: check_id, then user_tracking_id (an unknown `*_id` field).
        ("dd8e7598-e131-4298-945c-2475a3f98cef", "ут-42"),
    ),
}


def yoti_receiver(token: str = BASIC_TOKEN, auth_type: str = "basic") -> kw.Receiver:
    return kw.Receiver(kw.Yoti(auth_token=token, auth_type=auth_type))  # type: ignore[arg-type]


def deliver(payload: dict[str, Any] | bytes) -> tuple[bytes, dict[str, str]]:
    return sign("yoti", payload, BASIC_TOKEN)


# -- vectors ---------------------------------------------------------------------------------
# Authentication, model, event type, delivery key and round trip of every vector: test_vectors.py.


def test_every_vector_has_its_subjects() -> None:
    assert set(vector_names("yoti")) == set(SUBJECTS)


@pytest.mark.parametrize("case", sorted(SUBJECTS))
def test_vector_routes_by_either_topic_spelling(case: str) -> None:
    found = vector("yoti", case)
    session_id, ids = SUBJECTS[case]
    event_type = found.expected.event_type
    receiver = found.receiver()
    seen: list[str] = []

    @receiver.on("yoti", event_type.upper())
    def by_subscription_name(event: kw.WebhookEvent) -> None:
        seen.append("upper")

    @receiver.on("yoti", event_type)
    def by_body_topic(event: kw.WebhookEvent) -> None:
        seen.append("lower")

    @receiver.on("*")
    def catch_all(event: kw.WebhookEvent) -> None:
        seen.append("catch-all")

    outcome = receiver.handle(found.body, found.headers)  # vendor detected from the body shape
    assert outcome.status_code == 200, outcome.error
    event = outcome.event
    assert isinstance(event, YotiEvent)
    assert event.session_id == session_id
    assert event.subject_ids() == ids
    assert seen == ["upper", "lower", "catch-all"]


@pytest.mark.parametrize("case", sorted(SUBJECTS))
def test_vector_dump_keeps_key_order_and_bytes(case: str) -> None:
    found = vector("yoti", case)
    event = found.receiver().parse(found.body, found.headers)
    dumped = event.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert list(dumped) == list(found.wire())  # key order kept too
    assert event.model_dump_json(by_alias=True, exclude_unset=True).encode() == json.dumps(
        found.wire(), separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


@pytest.mark.parametrize("case", sorted(SUBJECTS))
def test_vector_is_refused_under_the_other_scheme(case: str) -> None:
    found = vector("yoti", case)
    other = "bearer" if found.vendor_config["auth_type"] == "basic" else "basic"
    outcome = found.receiver(auth_type=other).handle(found.body, found.headers)
    assert outcome.status_code == 401
    assert isinstance(outcome.error, kw.AuthenticationError)
    assert outcome.event is None


@pytest.mark.parametrize("topic", [t for t, *_ in _TOPICS])
def test_compact_and_spaced_bodies_give_the_same_event(topic: str) -> None:
    basic = vector("yoti", f"{topic}_basic")
    bearer = vector("yoti", f"{topic}_bearer")
    assert b", " not in basic.body  # third-party evidence (sheet: real payloads) shows compact JSON
    assert b", " in bearer.body
    a = basic.receiver().parse(basic.body, basic.headers)
    b = bearer.receiver().parse(bearer.body, bearer.headers)
    assert type(a) is type(b)
    assert a.model_dump() == b.model_dump()
    assert a.raw_body != b.raw_body
    assert a.delivery_key == b.delivery_key  # a reformatted redelivery is still a duplicate


# -- topics and models -----------------------------------------------------------------------


def test_event_types_are_the_nine_documented_body_topics() -> None:
    assert EVENT_TYPES == (
        "resource_update",
        "task_completion",
        "check_completion",
        "session_completion",
        "client_session_token_deleted",
        "new_pdf_supplied",
        "instructions_email_requested",
        "thank_you_email_requested",
        "first_branch_visit",
    )
    assert kw.Yoti.event_types() == EVENT_TYPES
    assert tuple(EVENT_MODELS) == EVENT_TYPES
    assert len(set(EVENT_MODELS.values())) == 9
    assert [t.subscription for t in Topic] == [t.upper() for t in EVENT_TYPES]
    assert Topic.FIRST_BRANCH_VISIT.subscription == "FIRST_BRANCH_VISIT"


@pytest.mark.parametrize("topic", EVENT_TYPES)
def test_samples_cover_every_topic_and_parse_into_its_model(topic: str) -> None:
    assert set(SAMPLES) == set(EVENT_TYPES)
    payload = SAMPLES[topic]
    assert payload["topic"] == topic
    for key, value in payload.items():
        if key.endswith("_id"):
            assert str(uuid.UUID(value)) == value
    for auth_type, token in (("basic", "user:pass"), ("bearer", "tok-123")):
        body, headers = sign("yoti", payload, token, auth_type=auth_type)  # type: ignore[arg-type]
        outcome = yoti_receiver(token, auth_type).handle(body, headers)
        assert outcome.status_code == 200
        assert type(outcome.event) is EVENT_MODELS[topic]
        assert_lossless(outcome.event, payload)


@pytest.mark.parametrize(
    ("topic", "field"),
    [
        ("task_completion", "task_id"),
        ("check_completion", "check_id"),
        ("resource_update", "resource_id"),
    ],
)
def test_topic_id_field_is_optional_and_exposed(topic: str, field: str) -> None:
    # Sheet, Errata: the ids are "present only when" the topic is theirs -- documented optional.
    payload = {"session_id": IDV, "topic": topic, field: "5ae6444f-ecc5-4f9a-a090-1c6c06740d2d"}
    event = yoti_receiver().parse(*deliver(payload))
    assert getattr(event, field) == "5ae6444f-ecc5-4f9a-a090-1c6c06740d2d"
    bare = {"session_id": IDV, "topic": topic}
    missing = yoti_receiver().handle(*deliver(bare))
    assert missing.status_code == 200, missing.error
    assert type(missing.event) is EVENT_MODELS[topic]
    assert getattr(missing.event, field) is None
    assert_lossless(missing.event, bare)
    assert missing.event.delivery_key == expected_key(bare)
    assert missing.event.delivery_key != event.delivery_key


def test_known_topic_is_a_topic_member() -> None:
    event = yoti_receiver().parse(*deliver(SAMPLES["session_completion"]))
    assert isinstance(event, SessionCompletionEvent)
    assert event.topic is Topic.SESSION_COMPLETION


@pytest.mark.parametrize(
    ("wire_topic", "model", "event_type"),
    [
        pytest.param(
            "SESSION_COMPLETION", SessionCompletionEvent, "session_completion", id="upper"
        ),
        pytest.param("Task_Completion", TaskCompletionEvent, "task_completion", id="mixed"),
        pytest.param("MEDIA_DELETED", YotiUnknownEvent, "media_deleted", id="unknown-upper"),
    ],
)
def test_upper_case_topic_in_body_routes_lower_case_and_keeps_wire_value(
    wire_topic: str, model: type[YotiEvent], event_type: str
) -> None:
    payload = {"session_id": IDV, "topic": wire_topic, "task_id": "t-1"}
    receiver = yoti_receiver()
    seen: list[str] = []

    @receiver.on("yoti", event_type.upper())
    def handler(event: kw.WebhookEvent) -> None:
        seen.append(event.event_type)

    outcome = receiver.handle(*deliver(payload))
    assert outcome.status_code == 200
    assert type(outcome.event) is model
    assert outcome.event_type == event_type
    assert seen == [event_type]
    assert isinstance(outcome.event, YotiEvent)
    assert outcome.event.topic == wire_topic
    assert_lossless(outcome.event, payload)
    lower = yoti_receiver().parse(*deliver({**payload, "topic": wire_topic.lower()}))
    assert outcome.event.delivery_key == lower.delivery_key


# -- routing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        pytest.param("SESSION_COMPLETION", {"session_completion"}, id="subscription-name"),
        pytest.param("session_completion", {"session_completion"}, id="body-topic"),
        pytest.param("Session_Completion", {"session_completion"}, id="mixed-case"),
        pytest.param(
            "*_COMPLETION",
            {"task_completion", "check_completion", "session_completion"},
            id="upper-glob",
        ),
        pytest.param(
            "*_completion",
            {"task_completion", "check_completion", "session_completion"},
            id="lower-glob",
        ),
        pytest.param(
            "*_EMAIL_REQUESTED",
            {"instructions_email_requested", "thank_you_email_requested"},
            id="ibv-email-glob",
        ),
        pytest.param("*", set(EVENT_TYPES), id="everything"),
        pytest.param("MEDIA_DELETED", set(), id="other-topic"),
    ],
)
def test_patterns_route_with_either_spelling(pattern: str, matches: set[str]) -> None:
    receiver = yoti_receiver()
    seen: list[str] = []

    @receiver.on("yoti", pattern)
    def handler(event: kw.WebhookEvent) -> None:
        seen.append(event.event_type)

    for topic in EVENT_TYPES:
        assert receiver.handle(*deliver(SAMPLES[topic])).status_code == 200
    assert set(seen) == matches
    assert len(seen) == len(matches)


def test_normalize_pattern_lower_cases() -> None:
    assert kw.Yoti.normalize_pattern("SESSION_COMPLETION") == "session_completion"
    assert kw.Yoti.normalize_pattern("*_COMPLETION") == "*_completion"


def test_typed_registration_by_model() -> None:
    receiver = yoti_receiver()
    seen: list[str] = []

    @receiver.on_event(SessionCompletionEvent)
    def on_done(event: SessionCompletionEvent) -> None:
        seen.append(event.session_id)

    @receiver.on_event(YotiEvent)
    def on_any(event: YotiEvent) -> None:
        seen.append(event.event_type)

    receiver.handle(*deliver(SAMPLES["task_completion"]))
    receiver.handle(*deliver(SAMPLES["session_completion"]))
    assert seen == ["task_completion", IDV, "session_completion"]


def test_async_handlers_work() -> None:
    import asyncio

    receiver = yoti_receiver()
    seen: list[str] = []

    @receiver.on("yoti", "SESSION_COMPLETION")
    async def on_done(event: kw.WebhookEvent) -> None:
        seen.append(event.event_type)

    outcome = asyncio.run(receiver.handle_async(*deliver(SAMPLES["session_completion"])))
    assert outcome.status_code == 200
    assert seen == ["session_completion"]


# -- unknown topics and fields ---------------------------------------------------------------


@pytest.mark.parametrize(
    "topic", ["media_deleted", "ENVELOPE_SIGNED", "", "résumé_requested", "a" * 300]
)
def test_unknown_topic_reaches_catch_alls_only(topic: str) -> None:
    payload = {"session_id": IDV, "topic": topic, "media_id": "m-1", "nested": {"a": [1, 2]}}
    receiver = yoti_receiver()
    seen: list[str] = []

    @receiver.on("*")
    def catch_all(event: kw.WebhookEvent) -> None:
        seen.append("*")

    @receiver.on("yoti")
    def all_yoti(event: kw.WebhookEvent) -> None:
        seen.append("yoti")

    @receiver.on("yoti", "*_COMPLETION")
    def completions(event: kw.WebhookEvent) -> None:
        seen.append("completion")

    @receiver.on_event(kw.UnknownEvent)
    def unknown(event: kw.UnknownEvent) -> None:
        seen.append("unknown")

    outcome = receiver.handle(*deliver(payload))
    assert outcome.status_code == 200
    event = outcome.event
    assert isinstance(event, YotiUnknownEvent)
    assert outcome.event_type == topic.lower()
    assert seen == ["*", "yoti", "unknown"]
    assert event.topic == topic  # wire value kept
    assert event.payload == payload
    assert_lossless(event, payload)
    assert event.delivery_key == expected_key(payload)


def test_unknown_fields_are_kept_and_masked_in_repr() -> None:
    found = vector("yoti", "extra_fields_basic")
    event = found.receiver().parse(found.body, found.headers)
    assert event.model_extra == {
        "check_type": "ID_DOCUMENT_AUTHENTICITY",
        "user_tracking_id": "ут-42",
        "details": {"state": "DONE", "attempt": 2},
    }
    text = repr(event)
    assert "ут-42" not in text
    assert "ID_DOCUMENT_AUTHENTICITY" not in text
    assert "user_tracking_id=<redacted>" in text


@pytest.mark.parametrize(
    "topic", ["new_pdf_supplied", "instructions_email_requested", "first_branch_visit"]
)
def test_unconfirmed_ibv_topics_accept_id_fields(topic: str) -> None:
    # Sheet §3/§5.2: their fields are UNCONFIRMED, so an id Yoti might add is kept and keyed on.
    payload = {"session_id": IBV, "topic": topic, "resource_id": "r-9"}
    event = yoti_receiver().parse(*deliver(payload))
    assert type(event) is EVENT_MODELS[topic]
    assert event.model_extra == {"resource_id": "r-9"}
    assert event.delivery_key == expected_key(payload)


# -- delivery keys ---------------------------------------------------------------------------


def test_delivery_keys_identify_redeliveries_and_separate_events() -> None:
    receiver = yoti_receiver()

    def key(payload: dict[str, Any]) -> str:
        return receiver.parse(*deliver(payload)).delivery_key

    task = SAMPLES["task_completion"]
    assert key(task) == key(dict(task))
    assert key(task) == key(dict(reversed(list(task.items()))))  # key order does not matter
    assert key(task) != key({**task, "task_id": "other-task"})
    assert key(task) != key({**task, "session_id": "other-session"})
    assert key(SAMPLES["session_completion"]) == expected_key(SAMPLES["session_completion"])
    assert key(SAMPLES["session_completion"]) != key(SAMPLES["client_session_token_deleted"])


# -- malformed bodies ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param(dumps({"session_id": IDV}), "topic", id="missing-topic"),
        pytest.param(dumps({"topic": "session_completion"}), "session_id", id="missing-session"),
        pytest.param(dumps({"session_id": IDV, "topic": 7}), "topic", id="topic-not-string"),
        pytest.param(dumps({"session_id": IDV, "topic": None}), "topic", id="topic-null"),
        pytest.param(
            dumps({"session_id": 42, "topic": "session_completion"}), "session_id", id="int-session"
        ),
        pytest.param(
            dumps({"session_id": IDV, "topic": "task_completion", "task_id": 5}),
            "task_id",
            id="int-task-id",
        ),
        pytest.param(b'["session_id", "topic"]', "JSON object", id="array"),
        pytest.param(b'"session_id topic"', "JSON object", id="string"),
        pytest.param(b'{"session_id": "x", "topic": ', "JSON", id="truncated"),
        pytest.param(b'{"session_id":"\xff","topic":"x"}', "UTF-8", id="not-utf8"),
        pytest.param(b"", "JSON", id="empty"),
    ],
)
def test_malformed_bodies_are_400_without_values(body: bytes, fragment: str) -> None:
    _, headers = deliver(b"{}")
    outcome = yoti_receiver().handle(body, headers, vendor="yoti")
    assert outcome.status_code == 400
    assert isinstance(outcome.error, kw.PayloadError)
    assert outcome.error.vendor == "yoti"
    assert fragment in outcome.error.message
    assert IDV not in outcome.error.message
    with pytest.raises(kw.PayloadError):
        yoti_receiver().parse(body, headers, vendor="yoti")


def test_detection_is_by_body_shape() -> None:
    body, headers = deliver(SAMPLES["session_completion"])
    assert kw.Yoti.detect(kw.Headers(headers), body)
    assert kw.Yoti.detect(kw.Headers({}), body)  # no header needed: auth may be off (sheet §2)
    assert not kw.Yoti.detect(kw.Headers(headers), b'{"sessionId":"x","type":"y"}')
    both = kw.Receiver(kw.Yoti(auth_token=BASIC_TOKEN), kw.Idenfy(signing_key="k"))
    assert both.handle(body, headers).vendor == "yoti"
    unconfigured = kw.Receiver(kw.Idenfy(signing_key="k")).handle(body, headers)
    assert unconfigured.status_code == 401
    assert isinstance(unconfigured.error, kw.VendorNotConfiguredError)


def test_vendor_headers_outrank_the_yoti_body_shape() -> None:
    # An iDenfy delivery whose body happens to hold `session_id` and `topic` stays iDenfy's.
    payload = {"scanRef": "scan-1", "session_id": IDV, "topic": "session_completion"}
    body, headers = sign("idenfy", payload, "idenfy-key", event_type="IDENTIFICATION")
    assert kw.Yoti.detect(kw.Headers(headers), body)
    both = kw.Receiver(kw.Yoti(auth_token=BASIC_TOKEN), kw.Idenfy(signing_key="idenfy-key"))
    outcome = both.handle(body, headers)
    assert outcome.status_code == 200
    assert outcome.vendor == "idenfy"
