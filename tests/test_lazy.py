"""LAZY sections (kyc_webhooks.models): decoded with the body, validated into their models on first
access, with the same attribute, type, dump and repr as an eager field -- and a malformed section
costs a PayloadError when it is read, not the whole delivery."""

from __future__ import annotations

import contextlib
import copy
import json
import pickle
import threading
import warnings
from datetime import datetime, timezone
from typing import Annotated, Any

import pytest
from pydantic import BeforeValidator, Field, ValidationError

import kyc_webhooks as kw
from kyc_webhooks.idenfy.models import AmlCheckResult, AmlHit, IdentificationEvent, LidCheckResult
from kyc_webhooks.models import (
    LAZY,
    PERSONAL,
    KycModel,
    LazyTimestamp,
    Timestamp,
    WebhookEvent,
    deferred,
)
from kyc_webhooks.testing import sample_payload, sign

KEY = "lazy-key"


class Leaf(KycModel):
    score: int | None = None
    name: Annotated[str | None, PERSONAL] = None


class Branch(KycModel):
    leaves: Annotated[list[Leaf] | None, LAZY] = None


class Doc(WebhookEvent):
    ref: str
    items: Annotated[list[Leaf] | None, LAZY] = Field(default=None, alias="Items")
    branch: Annotated[Branch | None, LAZY] = None
    at: LazyTimestamp = None


def parse(payload: dict[str, Any]) -> Doc:
    body = json.dumps(payload).encode()
    return Doc.model_validate_json(body).bind(vendor="test", event_type="T", raw=body)


GOOD: dict[str, Any] = {
    "ref": "r1",
    "Items": [{"score": 1, "name": "Jonas Jonaitis", "new": True}, {"score": "2"}],
    "branch": {"leaves": [{"score": 3}]},
    "at": "2024-03-18T09:41:27.312Z",
}


def test_sections_are_validated_on_first_access_once() -> None:
    event = parse(GOOD)
    assert "_lazy_items" not in event.__dict__  # nothing validated yet
    items = event.items
    assert items is not None
    assert [type(i) for i in items] == [Leaf, Leaf]
    assert [i.score for i in items] == [1, 2]  # lax coercion as in eager fields
    assert items[0].model_extra == {"new": True}  # unknown fields kept
    assert event.items is items  # cached: one validation per section
    assert event.branch is not None
    assert event.branch.leaves == [Leaf(score=3)]
    assert event.at == datetime(2024, 3, 18, 9, 41, 27, 312000, tzinfo=timezone.utc)
    assert isinstance(event.at, Timestamp)
    assert event.at.wire == "2024-03-18T09:41:27.312Z"


def test_absent_and_null_sections_read_as_none() -> None:
    event = parse({"ref": "r", "Items": None})
    assert event.items is None
    assert event.branch is None
    assert event.at is None
    assert event.model_fields_set == {"ref", "items"}


def test_dump_matches_the_wire_before_and_after_access() -> None:
    wire = dict(GOOD)
    before = parse(wire).model_dump(mode="json", by_alias=True, exclude_unset=True)
    event = parse(wire)
    event.validate_lazy_fields()
    after = event.model_dump(mode="json", by_alias=True, exclude_unset=True)
    expected = json.loads(json.dumps(wire))
    expected["Items"][1]["score"] = 2  # "2" was validated into an int, as an eager field would be
    assert before == after == expected
    python = event.model_dump()
    assert python["items"][0] == {"score": 1, "name": "Jonas Jonaitis", "new": True}
    assert isinstance(python["at"], datetime)
    assert event.model_dump(exclude_none=True)["branch"] == {"leaves": [{"score": 3}]}


def test_nested_include_and_exclude_reach_into_sections() -> None:
    event = parse(GOOD)
    assert event.model_dump(include={"items": {0: {"score"}}}) == {"items": [{"score": 1}]}
    dumped = event.model_dump(exclude={"items": {1}, "branch": {"leaves"}}, exclude_none=True)
    assert dumped["items"] == [{"score": 1, "name": "Jonas Jonaitis", "new": True}]
    assert dumped["branch"] == {}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("Items", "not a list", id="list-given-string"),
        pytest.param("Items", {"score": 1}, id="list-given-object"),
        pytest.param("branch", [1, 2], id="object-given-list"),
        pytest.param("at", True, id="timestamp-bool"),
        pytest.param("at", "yesterday", id="timestamp-text"),
        pytest.param("at", 1e20, id="timestamp-out-of-range"),
    ],
)
def test_wrong_outer_shape_still_fails_at_parse(field: str, value: object) -> None:
    body = json.dumps({**GOOD, field: value}).encode()
    with pytest.raises(ValidationError):
        Doc.model_validate_json(body)


def test_invalid_section_fails_when_read_not_when_parsed() -> None:
    event = parse({**GOOD, "Items": [{"score": "many", "name": "Jonas Jonaitis"}]})
    with pytest.raises(kw.PayloadError) as info:
        _ = event.items
    message = str(info.value)
    assert "Doc.items" in message
    assert "Items.0.score" in message
    assert "many" not in message
    assert "Jonas" not in message
    assert info.value.__context__ is None
    assert info.value.__cause__ is None
    assert "<invalid" in repr(event)
    assert "Jonas" not in repr(event)
    with pytest.raises(kw.PayloadError):
        event.validate_lazy_fields()
    # Dumping never raises: an invalid section is given back exactly as received.
    dumped = event.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert dumped["Items"] == [{"score": "many", "name": "Jonas Jonaitis"}]
    assert event.ref == "r1"  # the rest of the event is fine


def test_epoch_timestamps_convert_on_first_read_and_strings_at_parse() -> None:
    by_number = parse({**GOOD, "at": 1554726960})
    assert by_number.__dict__["at"] == 1554726960  # kept as sent until read
    assert by_number.at == datetime(2019, 4, 8, 12, 36, tzinfo=timezone.utc)
    by_text = parse(GOOD)
    assert isinstance(by_text.__dict__["at"], Timestamp)  # converted by Timestamp.from_wire


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-17T09:14:22Z",
        "2026-11-17 09:14:22.123456+02:00",
        "2026-11-17Z",
        "2026-11-17+02:00",
        "20261117Z",
        "2026-11-17",
        ".5",
        "1795420800",
        "2024-02-30T00:00:00Z",
        "2026-11-17T09:14:22Z ",
        "2026-11-17T",
        "0000-01-01T00:00:00Z",
        "\u0661\u0667\u0669\u0665\u0664\u0662\u0660\u0668\u0660\u0660",
        "yesterday",
        "",
    ],
)
def test_timestamp_strings_are_accepted_exactly_as_timestamp_from_wire_accepts_them(
    text: str,
) -> None:
    body = json.dumps({"ref": "r", "at": text}).encode()
    try:
        expected: Timestamp | None = Timestamp.from_wire(text)
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(ValidationError):
            Doc.model_validate_json(body)
    else:
        assert Doc.model_validate_json(body).at == expected


def test_nested_lazy_sections_are_validated_by_validate_lazy_fields() -> None:
    event = parse({**GOOD, "branch": {"leaves": [{"score": "x"}]}})
    assert event.branch is not None  # the branch itself is fine
    with pytest.raises(kw.PayloadError, match=r"Branch\.leaves"):
        event.validate_lazy_fields()
    assert parse(GOOD).validate_lazy_fields().ref == "r1"


def test_repr_masks_personal_values_inside_sections() -> None:
    text = repr(parse(GOOD))
    assert "Jonas" not in text
    assert "score=1" in text


def test_python_input_is_kept_and_validated_on_access() -> None:
    leaf = Leaf(score=5)
    event = Doc(ref="r", Items=[leaf, {"score": 6}], at=datetime(2024, 1, 1, tzinfo=timezone.utc))
    assert event.items == [leaf, Leaf(score=6)]
    assert event.items is not None
    assert event.items[0] is leaf
    assert event.at is not None
    assert event.at.year == 2024
    with pytest.raises(kw.PayloadError):
        _ = Doc(ref="r", Items=[{"score": "x"}]).items


def test_copy_update_pickle_and_equality() -> None:
    event = parse(GOOD)
    untouched = parse(GOOD)
    _ = event.items
    assert event == untouched  # reading a section does not change equality
    updated = event.model_copy(update={"items": [Leaf(score=9)]})
    assert updated.items == [Leaf(score=9)]  # not the cached value of the original
    assert event.items is not None
    assert event.items[0].score == 1
    for clone in (pickle.loads(pickle.dumps(event)), copy.deepcopy(event), copy.copy(event)):
        assert clone == event
        assert clone.items == event.items
        assert clone.vendor == "test"


def test_models_stay_frozen_and_fields_are_not_class_attributes() -> None:
    event = parse(GOOD)
    with pytest.raises(ValidationError):
        event.items = []  # type: ignore[misc]
    with pytest.raises(AttributeError):
        _ = Doc.items
    # Below pydantic's frozen check, a write stores a new raw value that the next read validates.
    object.__setattr__(event, "items", [{"score": "7"}])
    assert event.items == [Leaf(score=7)]
    assert Doc.__lazy_fields__ == frozenset({"items", "branch", "at"})


def test_subclass_inherits_lazy_fields_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")

        class More(Doc):
            extra_field: int | None = None

    event = More.model_validate_json(json.dumps({**GOOD, "extra_field": 1}))
    assert event.items is not None
    assert event.items[0].score == 1
    assert More.model_fields["items"].default is None
    assert More.__lazy_fields__ == Doc.__lazy_fields__


def test_concurrent_first_reads_agree() -> None:
    events = [parse(GOOD) for _ in range(8)]
    results: list[object] = []
    barrier = threading.Barrier(len(events))

    def read(event: Doc) -> None:
        barrier.wait(timeout=10)
        results.append(event.items)

    threads = [threading.Thread(target=read, args=(e,)) for e in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == len(events)
    assert all(r == results[0] for r in results)


# -- iDenfy: the sections that are lazy, end to end ----------------------------------------------


def _deliver(
    payload: dict[str, Any], store: kw.MemoryStore | None = None
) -> tuple[kw.Outcome, list[str]]:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    seen: list[str] = []

    @receiver.on_event(IdentificationEvent)
    def on_result(event: IdentificationEvent) -> None:
        seen.append(str(event.overall))
        if event.aml_results is not None:  # reads the lazy section
            seen.append(type(event.aml_results[0]).__name__)

    body, headers = sign("idenfy", payload, KEY, event_type="IDENTIFICATION_MANUAL_FINISHED")
    outcome = receiver.handle(body, headers)
    assert receiver.stats()["handler_failures"] == 0
    return outcome, seen


def _identification() -> dict[str, Any]:
    return sample_payload("idenfy", "IDENTIFICATION_MANUAL_FINISHED")


def test_idenfy_hit_lists_are_lazy_and_typed() -> None:
    payload = _identification()
    assert payload.get("AML")
    assert payload.get("LID")
    body, _ = sign("idenfy", payload, KEY, event_type="IDENTIFICATION_MANUAL_FINISHED")
    event = IdentificationEvent.model_validate_json(body)
    assert IdentificationEvent.__lazy_fields__ >= {"aml_results", "lid_results", "start_time"}
    assert "_lazy_aml_results" not in event.__dict__
    assert event.aml_results is not None
    assert isinstance(event.aml_results[0], AmlCheckResult)
    assert event.lid_results is not None
    assert isinstance(event.lid_results[0], LidCheckResult)
    hits = event.aml_results[0].data or []
    assert all(isinstance(hit, AmlHit) for hit in hits)


def test_idenfy_malformed_hit_list_does_not_cost_the_verdict(
    caplog: pytest.LogCaptureFixture,
) -> None:
    payload = _identification()
    payload["AML"][0]["data"] = [{"isPerson": "perhaps", "name": "Jonas"}]
    with caplog.at_level("INFO", logger="kyc_webhooks"):
        outcome, seen = _deliver(payload)
    # The handler read the verdict, then the broken section: the delivery is malformed (400, as
    # a malformed body at the door is), not a handler bug -- no HandlerError, no traceback.
    assert outcome.status_code == 400
    assert isinstance(outcome.error, kw.PayloadError)
    assert outcome.error.vendor == "idenfy"
    assert seen == [str(payload["status"]["overall"])]
    message = outcome.error.message
    assert "IdentificationEvent.aml_results" in message
    assert "AML.0.data.0" in message
    assert "isPerson" in message
    assert "Jonas" not in message
    assert "Traceback" not in caplog.text
    assert "delivery rejected vendor=idenfy status=400 error=PayloadError" in caplog.text


@pytest.mark.parametrize("with_store", [False, True], ids=["no-store", "store"])
def test_an_async_handler_reading_a_malformed_section_gets_a_400(with_store: bool) -> None:
    import asyncio

    payload = _identification()
    payload["AML"][0]["data"] = [{"isPerson": "perhaps"}]
    receiver = kw.Receiver(
        kw.Idenfy(signing_key=KEY), store=kw.MemoryStore() if with_store else None
    )
    reached: list[str] = []

    @receiver.on("idenfy")
    async def on_any(event: IdentificationEvent) -> None:
        await asyncio.sleep(0)
        reached.append(event.scan_ref)
        _ = event.aml_results

    body, headers = sign("idenfy", payload, KEY, event_type="IDENTIFICATION")
    outcome = asyncio.run(receiver.handle_async(body, headers))
    assert outcome.status_code == 400
    assert isinstance(outcome.error, kw.PayloadError)
    assert reached == [payload["scanRef"]]
    assert (outcome.delivery_id is not None) is with_store
    stats = receiver.stats()
    assert stats["handler_failures"] == 0
    assert stats["unprocessable" if with_store else "rejected_400"] == 1


def test_a_malformed_section_with_a_store_is_recorded_as_failed() -> None:
    payload = _identification()
    payload["LID"][0]["data"] = [{"valid": "maybe"}]
    payload["AML"][0]["data"] = [{"isPerson": "perhaps"}]
    store = kw.MemoryStore()
    outcome, _ = _deliver(payload, store)
    assert outcome.status_code == 400
    assert outcome.delivery_id is not None
    record = store.get(outcome.delivery_id)
    assert record is not None
    assert record.state.value == "failed"
    assert record.last_error_type == "PayloadError"


def test_untouched_malformed_sections_do_not_matter() -> None:
    payload = _identification()
    payload["LID"][0]["data"] = [{"valid": "maybe"}]  # never read by the handler
    outcome, seen = _deliver(payload)
    assert outcome.status_code == 200
    assert seen == [str(payload["status"]["overall"]), "AmlCheckResult"]


def test_idenfy_hit_list_of_the_wrong_shape_is_still_a_400() -> None:
    payload = {**_identification(), "AML": {"not": "a list"}}
    outcome, seen = _deliver(payload)
    assert outcome.status_code == 400
    assert isinstance(outcome.error, kw.PayloadError)
    assert "AML" in outcome.error.message
    assert seen == []


def test_a_lazy_field_cannot_be_redeclared_eagerly() -> None:
    with pytest.raises(TypeError, match="redeclares a LAZY field"):

        class Eager(Doc):
            items: list[Leaf] | None = Field(default=None, alias="Items")


def test_deferred_placeholder_is_not_a_type_to_call() -> None:
    placeholder = deferred("kyc_webhooks.idenfy._aml:AmlResults", list)
    assert "kyc_webhooks.idenfy._aml:AmlResults" in repr(placeholder)
    assert placeholder == deferred("kyc_webhooks.idenfy._aml:AmlResults", None)
    assert hash(placeholder) == hash(deferred("kyc_webhooks.idenfy._aml:AmlResults", list))
    with pytest.raises(TypeError, match="placeholder"):
        placeholder()


def test_the_idenfy_models_module_is_a_complete_lazy_facade() -> None:
    from kyc_webhooks.idenfy import models

    # Every public class names the facade as its module (pickles, reprs, tracebacks).
    classes = [getattr(models, n) for n in models.__all__ if isinstance(getattr(models, n), type)]
    assert {c.__module__ for c in classes} == {"kyc_webhooks.idenfy.models"}

    assert set(models.__all__) <= set(dir(models))
    for name in models.__all__:
        assert getattr(models, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = models.Nope
    event_models = models.EVENT_MODELS
    assert len(event_models) == len(models.EVENT_TYPES) == 24
    assert "IDENTIFICATION" in event_models
    assert "NOPE" not in event_models
    assert event_models.get("NOPE") is None
    assert event_models["COMPANY_REVIEW"] is models.CompanyReviewEvent
    with pytest.raises(KeyError):
        _ = event_models["NOPE"]
    assert "COMPANY_REVIEW" in repr(event_models)
    assert dict(event_models.items())["IDENTIFICATION"] is IdentificationEvent


# -- review findings: filters on invalid sections, nested validation, metadata, equality, schema --


def test_filtering_inside_an_invalid_section_withholds_it() -> None:
    hit = {"name": "JURATE", "surname": "ZEMAITE"}
    body = json.dumps(
        {"scanRef": "s", "AML": [{"status": "broken", "serviceName": "X", "data": [hit]}]}
    ).encode()
    event = IdentificationEvent.model_validate_json(body)
    with pytest.raises(kw.PayloadError):
        _ = event.aml_results
    include: Any = {"scan_ref": True, "aml_results": {"__all__": {"service_name"}}}
    assert event.model_dump(mode="json", include=include) == {"scan_ref": "s", "aml_results": None}
    excluded = event.model_dump(mode="json", exclude={"aml_results": {"__all__": {"data"}}})
    assert excluded["aml_results"] is None
    assert "JURATE" not in json.dumps(excluded)
    # Without a filter inside it, the invalid section is dumped exactly as received.
    assert event.model_dump(mode="json", by_alias=True, exclude_unset=True) == json.loads(body)


def test_validate_lazy_fields_reaches_sections_inside_eager_models() -> None:
    body = b'{"scanRef":"s","data":{"addressVerification":{"accuracy":"high"}}}'
    event = IdentificationEvent.model_validate_json(body)
    with pytest.raises(kw.PayloadError, match=r"DocumentData\.address_verification"):
        event.validate_lazy_fields()


def test_lazy_takes_no_other_metadata() -> None:
    with pytest.raises(TypeError, match="LAZY takes no other metadata"):

        class Constrained(KycModel):
            q: Annotated[list[int] | None, LAZY] = Field(default=None, max_length=1)


def test_repr_changes_nothing_observable() -> None:
    # repr() validates a section once and caches the outcome, as an attribute read does (so that
    # an invalid section is not validated again by every repr); fields, dump and equality stay.
    event = parse(GOOD)
    dumped = event.model_dump(mode="json", by_alias=True, exclude_unset=True)
    fields_set = set(event.model_fields_set)
    assert "score=1" in repr(event)
    assert event.model_dump(mode="json", by_alias=True, exclude_unset=True) == dumped
    assert event.model_fields_set == fields_set
    assert event == parse(GOOD)
    assert pickle.loads(pickle.dumps(event)) == event


def test_equality_and_hash_see_typed_values() -> None:
    body = b'{"scanRef":"s","startTime":1795420800,"addressVerification":{"country":"LT"}}'
    event = IdentificationEvent.model_validate_json(body)
    assert event.model_copy(update={"start_time": event.start_time}) == event
    assert IdentificationEvent.model_validate(event.model_dump()) == event
    from_python = IdentificationEvent.model_validate(
        {"scanRef": "s", "startTime": event.start_time}
    )
    from_wire_number = IdentificationEvent.model_validate({"scanRef": "s", "startTime": 1795420800})
    assert from_python == from_wire_number
    assert hash(event) == hash(IdentificationEvent.model_validate_json(body))
    assert len({event, IdentificationEvent.model_validate_json(body)}) == 1
    other = IdentificationEvent.model_validate_json(body.replace(b"LT", b"LV"))
    assert other != event
    broken = IdentificationEvent.model_validate_json(
        b'{"scanRef":"s","riskAssessment":{"riskScore":"x"}}'
    )
    assert broken == IdentificationEvent.model_validate_json(
        b'{"scanRef":"s","riskAssessment":{"riskScore":"x"}}'
    )
    assert broken != IdentificationEvent.model_validate_json(
        b'{"scanRef":"s","riskAssessment":{"riskScore":"y"}}'
    )


def test_json_schema_describes_the_real_types() -> None:
    schema = IdentificationEvent.model_json_schema()
    assert "AmlCheckResult" in schema["$defs"]
    assert "AmlHit" in schema["$defs"]
    aml = json.dumps(schema["properties"]["AML"])
    assert "AmlCheckResult" in aml
    start = json.dumps(schema["properties"]["startTime"])
    assert "date-time" in start
    assert "pattern" not in start
    assert IdentificationEvent.model_json_schema(mode="serialization")["properties"]["AML"]


# -- second review: comparison cost and corner cases, where a handler's PayloadError comes from --


def test_comparing_equal_input_validates_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from kyc_webhooks import models as core

    calls: list[str] = []
    original = core._LazyType.validate

    def counting(self: Any, raw: Any, *, where: str, alias: str) -> Any:
        calls.append(where)
        return original(self, raw, where=where, alias=alias)

    broken = {**GOOD, "Items": [{"score": "many"}]}
    first, second = parse(broken), parse(broken)
    monkeypatch.setattr(core._LazyType, "validate", counting)
    assert first == first
    assert first == second
    assert calls == []  # same raw input: equal without validating (the invalid section too)
    assert "_lazy_items" not in first.__dict__


def test_invalid_raw_values_never_equal_typed_ones() -> None:
    class Pair(KycModel):
        pair: Annotated[tuple[list[int]] | None, LAZY] = None

    valid = Pair.model_validate_json(b'{"pair": [[1]]}')
    invalid = Pair.model_validate_json(b'{"pair": [1]}')
    assert valid.pair == ([1],)
    assert valid != invalid
    assert invalid == Pair.model_validate_json(b'{"pair": [1]}')
    text = Pair.model_validate_json(b'{"pair": "x"}')  # invalid, and hashable as received
    assert hash(text) == hash(Pair.model_validate_json(b'{"pair": "x"}'))
    assert text != invalid


def test_comparing_constructed_models_without_a_lazy_field() -> None:
    class Required(KycModel):
        items: Annotated[list[Leaf], LAZY]

    bare = Required.model_construct()  # type: ignore[call-arg]
    assert bare == Required.model_construct()  # type: ignore[call-arg]
    assert bare != Required.model_validate_json(b'{"items": []}')
    assert hash(bare) == hash(Required.model_construct())  # type: ignore[call-arg]


def test_lazy_refuses_a_discriminator_or_validate_default() -> None:
    with pytest.raises(TypeError, match="discriminator"):

        class Tagged(KycModel):
            kind: Annotated[Leaf | Branch | None, LAZY] = Field(default=None, discriminator="score")

    with pytest.raises(TypeError, match="validate_default"):

        class Checked(KycModel):
            items: Annotated[list[Leaf] | None, LAZY] = Field(default=None, validate_default=True)


def _receiver_reading(section_of: Any) -> kw.Receiver:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY))

    @receiver.on("idenfy")
    def handler(event: IdentificationEvent) -> None:
        _ = section_of(event)

    return receiver


def test_a_payload_error_from_another_event_is_a_handler_failure() -> None:
    broken = _identification()
    broken["AML"][0]["data"] = [{"isPerson": "perhaps"}]
    body, _ = sign("idenfy", broken, KEY, event_type="IDENTIFICATION")
    earlier = IdentificationEvent.model_validate_json(body)
    receiver = _receiver_reading(lambda event: earlier.aml_results)
    good, headers = sign("idenfy", _identification(), KEY, event_type="IDENTIFICATION")
    outcome = receiver.handle(good, headers)
    assert outcome.status_code == 500
    assert isinstance(outcome.error, kw.HandlerError)
    assert receiver.stats()["handler_failures"] == 1


def test_a_handler_raising_payload_error_itself_is_a_handler_failure() -> None:
    def reject(event: IdentificationEvent) -> None:
        raise kw.PayloadError("customer Jonas Jonaitis not found")

    receiver = _receiver_reading(reject)
    body, headers = sign("idenfy", _identification(), KEY, event_type="IDENTIFICATION")
    outcome = receiver.handle(body, headers)
    assert outcome.status_code == 500
    assert "Jonas" not in json.dumps(outcome.response_body())


def test_vendor_parse_accepts_any_header_mapping() -> None:
    body, headers = sign("idenfy", _identification(), KEY, event_type="IDENTIFICATION")
    vendor = kw.Idenfy(signing_key=KEY)
    assert kw.Idenfy.detect(headers, body)  # type: ignore[arg-type]
    event = vendor.parse(body, headers)
    assert event.event_type == "IDENTIFICATION"


def test_first_reads_in_one_thread_do_not_break_copies_in_another() -> None:
    # A first read stores the typed value on the instance; pickling and deep-copying work on a
    # snapshot of __dict__, so a concurrent first read cannot make them fail ("dictionary changed
    # size during iteration" before the snapshot). Bounded: 150 rounds per operation.
    import sys

    body, _ = sign("idenfy", _identification(), KEY, event_type="IDENTIFICATION")
    names = sorted(IdentificationEvent.__lazy_fields__)
    operations = {
        "pickle": pickle.dumps,
        "deepcopy": copy.deepcopy,
        "copy": copy.copy,
        "dump": lambda e: e.model_dump(mode="json"),
        "repr": repr,
    }
    failures: list[str] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for name, operation in operations.items():
            for _ in range(150):
                event = IdentificationEvent.model_validate_json(body)

                def copier(op: Any = operation, ev: Any = event, label: str = name) -> None:
                    try:
                        op(ev)
                    except Exception as exc:  # collected and asserted below
                        failures.append(f"{label}: {type(exc).__name__}")

                def reader(ev: Any = event) -> None:
                    for field in names:
                        getattr(ev, field)

                threads = [threading.Thread(target=copier), threading.Thread(target=reader)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(timeout=10)
    finally:
        sys.setswitchinterval(interval)
    assert failures == []


# -- issue #10 item 10: a section is validated once, whether it validates or not ------------------

_VALIDATIONS: list[object] = []


def _counted(value: object) -> object:
    _VALIDATIONS.append(value)
    return value


class Counted(KycModel):
    # The counter runs each time the section's real type is validated.
    items: Annotated[Annotated[list[Leaf], BeforeValidator(_counted)] | None, LAZY] = None


def _read_every_way(event: Counted) -> None:
    for _ in range(3):
        with contextlib.suppress(kw.PayloadError):
            _ = event.items
        repr(event)
        str(event)
        event.model_dump()
        event.model_dump(mode="json", by_alias=True, exclude_unset=True)
        event.model_dump_json()
        with contextlib.suppress(kw.PayloadError):
            event.validate_lazy_fields()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"items": [{"score": "many"}, {"score": 2}]}', id="invalid"),
        pytest.param(b'{"items": [{"score": 1}, {"score": 2}]}', id="valid"),
    ],
)
def test_a_section_is_validated_once_by_reads_repr_and_dumps(body: bytes) -> None:
    event = Counted.model_validate_json(body)
    _VALIDATIONS.clear()
    _read_every_way(event)
    assert len(_VALIDATIONS) == 1


def test_an_invalid_section_fails_the_same_way_on_every_read() -> None:
    event = Counted.model_validate_json(b'{"items": [{"score": "many", "name": "Jonas"}]}')
    messages = set()
    for _ in range(3):
        with pytest.raises(kw.PayloadError) as info:
            _ = event.items
        assert info.value.__context__ is None
        assert info.value.__traceback__ is not None
        assert len(list(_walk_tb(info.value.__traceback__))) < 5  # a fresh error each time
        messages.add(str(info.value))
    assert len(messages) == 1
    assert "Jonas" not in messages.pop()
    assert "<invalid" in repr(event)
    dumped = event.model_dump(mode="json")
    assert dumped["items"] == [{"score": "many", "name": "Jonas"}]  # given back as received
    copied = pickle.loads(pickle.dumps(event))
    with pytest.raises(kw.PayloadError):
        _ = copied.items
    replaced = event.model_copy(update={"items": [{"score": 3}]})
    assert replaced.items == [Leaf(score=3)]  # a new raw value: validated afresh


def _walk_tb(tb: Any) -> Any:
    while tb is not None:
        yield tb
        tb = tb.tb_next


def test_an_invalid_idenfy_section_is_validated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from kyc_webhooks import models as core

    payload = _identification()
    payload["AML"][0]["data"] = [{"isPerson": "perhaps"}] * 1000
    body, _ = sign("idenfy", payload, KEY, event_type="IDENTIFICATION")
    event = IdentificationEvent.model_validate_json(body)
    calls: list[str] = []
    original = core._LazyType.validate

    def counting(self: Any, raw: Any, *, where: str, alias: str) -> Any:
        calls.append(where)
        return original(self, raw, where=where, alias=alias)

    monkeypatch.setattr(core._LazyType, "validate", counting)
    for _ in range(3):
        with pytest.raises(kw.PayloadError):
            _ = event.aml_results
        assert "aml_results=<invalid" in repr(event)
        event.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert calls.count("IdentificationEvent.aml_results") == 1
