"""Sections (kyc_webhooks.models, "Sections"): a bulky optional part of a body is a raw field
holding the decoded JSON (outer shape checked with the body, hidden from ``repr()``) plus a
``functools.cached_property`` that validates it into its models on first read -- so a malformed
section costs a PayloadError when it is read (the receiver answers 400), not the whole delivery."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import pickle
import threading
import types
import typing
import warnings
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BeforeValidator, Field, ValidationError

import kyc_webhooks as kw
from _lossless import assert_lossless
from _mypy import run_mypy
from kyc_webhooks.idenfy.models import (
    AmlCheckResult,
    AmlHit,
    DocumentData,
    IdentificationEvent,
    LidCheckResult,
)
from kyc_webhooks.models import (
    PERSONAL,
    KycModel,
    Timestamp,
    WebhookEvent,
    read_section,
    section_names,
    section_type,
)
from kyc_webhooks.testing import sample_payload, sign

KEY = "lazy-key"

#: Every value a section's type validates, in order (see ``Counted``).
_VALIDATIONS: list[object] = []


def _counted(value: object) -> object:
    _VALIDATIONS.append(value)
    return value


class Leaf(KycModel):
    score: int | None = None
    name: Annotated[str | None, PERSONAL] = None


_Leaves = Annotated[list[Leaf], BeforeValidator(_counted)] | None


class Branch(KycModel):
    leaves_raw: list[Any] | None = Field(default=None, alias="leaves", repr=False)

    @cached_property
    def leaves(self) -> _Leaves:
        value: _Leaves = read_section(self, "leaves", _Leaves)
        return value


_Branch = Annotated[Branch, BeforeValidator(_counted)] | None


class Holder(KycModel):
    """An eager model whose own section ``validate_sections()`` reaches."""

    branch_raw: dict[str, Any] | None = Field(default=None, alias="branch", repr=False)

    @cached_property
    def branch(self) -> _Branch:
        value: _Branch = read_section(self, "branch", _Branch)
        return value


class Doc(WebhookEvent):
    ref: str
    items_raw: list[Any] | None = Field(default=None, alias="Items", repr=False)
    branch_raw: dict[str, Any] | None = Field(default=None, alias="branch", repr=False)
    holder: Holder | None = None
    at: Timestamp | None = None

    @cached_property
    def items(self) -> _Leaves:
        value: _Leaves = read_section(self, "items", _Leaves)
        return value

    @cached_property
    def branch(self) -> _Branch:
        value: _Branch = read_section(self, "branch", _Branch)
        return value


def parse(payload: dict[str, Any]) -> Doc:
    body = json.dumps(payload).encode()
    return Doc.model_validate_json(body).bind(vendor="test", event_type="T", raw=body)


GOOD: dict[str, Any] = {
    "ref": "r1",
    "Items": [{"score": 1, "name": "Jonas Jonaitis", "new": True}, {"score": "2"}],
    "branch": {"leaves": [{"score": 3}]},
    "at": "2024-03-18T09:41:27.312Z",
}
BROKEN: dict[str, Any] = {**GOOD, "Items": [{"score": "many", "name": "Jonas Jonaitis"}]}


@pytest.fixture(autouse=True)
def _no_validations_yet() -> None:
    _VALIDATIONS.clear()


def test_sections_are_validated_on_first_read_once() -> None:
    event = parse(GOOD)
    assert _VALIDATIONS == []  # nothing validated with the body
    items = event.items
    assert items is not None
    assert [type(i) for i in items] == [Leaf, Leaf]
    assert [i.score for i in items] == [1, 2]  # lax coercion as in eager fields
    assert items[0].model_extra == {"new": True}  # unknown fields kept
    assert event.items is items  # cached: one validation per section
    assert event.branch is not None
    assert event.branch.leaves == [Leaf(score=3)]
    assert len(_VALIDATIONS) == 3  # items, branch, branch.leaves: once each
    assert event.items is items
    assert event.branch.leaves is event.branch.leaves
    assert len(_VALIDATIONS) == 3


def test_absent_and_null_sections_read_as_none() -> None:
    event = parse({"ref": "r", "Items": None})
    assert event.items is None
    assert event.branch is None
    assert event.holder is None
    assert event.model_fields_set == {"ref", "items_raw"}


def test_timestamps_are_converted_at_parse_time() -> None:
    by_number = Doc.model_validate_json(b'{"ref": "r", "at": 1554726960}')
    assert type(by_number.__dict__["at"]) is Timestamp  # a field value, not raw JSON
    assert by_number.at == datetime(2019, 4, 8, 12, 36, tzinfo=timezone.utc)
    assert by_number.at is not None
    assert by_number.at.wire == 1554726960
    by_text = parse(GOOD)
    assert type(by_text.__dict__["at"]) is Timestamp
    assert by_text.at is not None
    assert by_text.at.wire == "2024-03-18T09:41:27.312Z"


def test_dumps_give_back_the_raw_json_and_never_validate() -> None:
    event = parse(GOOD)
    wire = event.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert wire == GOOD  # exactly as sent: "2" stays a string
    assert event.model_dump_json(by_alias=True, exclude_unset=True) == json.dumps(
        GOOD, separators=(",", ":")
    )
    python = event.model_dump()
    assert python["items_raw"] == GOOD["Items"]  # by field name: the raw fields' names
    assert "items" not in python
    assert isinstance(python["at"], datetime)
    assert _VALIDATIONS == []
    _ = event.items, event.branch
    assert_lossless(event, GOOD)  # after reads


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("Items", "not a list", id="list-given-string"),
        pytest.param("Items", {"score": 1}, id="list-given-object"),
        pytest.param("branch", [1, 2], id="object-given-list"),
        pytest.param("at", True, id="timestamp-bool"),
        pytest.param("at", "yesterday", id="timestamp-text"),
        pytest.param("at", 1e20, id="timestamp-out-of-range"),
        pytest.param("at", 253402300800, id="timestamp-after-year-9999"),
    ],
)
def test_wrong_outer_shape_still_fails_at_parse(field: str, value: object) -> None:
    body = json.dumps({**GOOD, field: value}).encode()
    with pytest.raises(ValidationError):
        Doc.model_validate_json(body)


def test_invalid_section_fails_when_read_not_when_parsed() -> None:
    event = parse(BROKEN)
    with pytest.raises(kw.PayloadError) as info:
        _ = event.items
    message = str(info.value)
    assert "Doc.items" in message
    assert "Items.0.score" in message
    assert "many" not in message
    assert "Jonas" not in message
    assert info.value.__context__ is None
    assert info.value.__cause__ is None
    with pytest.raises(kw.PayloadError, match=r"Doc\.items"):
        event.validate_sections()
    # Dumping never raises and never validates: the section is given back as received.
    dumped = event.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert dumped["Items"] == [{"score": "many", "name": "Jonas Jonaitis"}]
    assert event.ref == "r1"  # the rest of the event is fine
    assert event.branch is not None


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


# -- validate_sections(): one validation per section ----------------------------------------------


def test_validate_sections_validates_each_section_once_and_returns_the_model() -> None:
    event = parse({**GOOD, "holder": {"branch": {"leaves": []}}})
    assert event.validate_sections() is event
    # items, branch and holder.branch; branch.leaves is a section of a section: read on demand.
    assert len(_VALIDATIONS) == 3
    event.validate_sections()
    assert len(_VALIDATIONS) == 3  # read before: cached


def test_validate_sections_reaches_sections_of_models_held_by_fields() -> None:
    event = parse({**GOOD, "holder": {"branch": {"leaves": "x"}}})
    assert event.holder is not None  # eager; its section is raw JSON until read
    with pytest.raises(kw.PayloadError, match=r"Holder\.branch"):
        event.validate_sections()
    body = b'{"scanRef":"s","data":{"addressVerification":{"accuracy":"high"}}}'
    identification = IdentificationEvent.model_validate_json(body)
    with pytest.raises(kw.PayloadError, match=r"DocumentData\.address_verification"):
        identification.validate_sections()


def test_validate_sections_does_not_walk_the_values_of_eager_fields() -> None:
    # The old validate_lazy_fields() walked every value of every field, 4-8x the cost of
    # parsing the body; validate_sections() reads the sections and the models held directly.
    class Many(KycModel):
        rows: list[Holder] | None = None

    many = Many.model_validate({"rows": [{"branch": {"leaves": "x"}}] * 100})
    assert many.validate_sections() is many  # the rows' own sections are not read
    assert _VALIDATIONS == []


def test_validate_lazy_fields_is_a_deprecated_alias() -> None:
    event = parse(GOOD)
    with pytest.deprecated_call(match="validate_sections"):
        assert event.validate_lazy_fields() is event
    with pytest.deprecated_call(), pytest.raises(kw.PayloadError):
        parse(BROKEN).validate_lazy_fields()


# -- repr, equality, copies ----------------------------------------------------------------------


def test_repr_shows_no_section_and_validates_nothing() -> None:
    for payload in (GOOD, BROKEN):
        event = parse(payload)
        text = repr(event)
        assert "Jonas" not in text
        assert "score" not in text
        assert "items" not in text
        assert "branch" not in text
        assert "ref='r1'" in text
        assert "at=" in text
        str(event)
    assert _VALIDATIONS == []


def test_equality_compares_fields_and_never_validates() -> None:
    first, second = parse(GOOD), parse(GOOD)
    assert first == second
    _ = first.items
    assert first == second  # a cached section is not a field
    assert parse(BROKEN) == parse(BROKEN)
    assert parse(BROKEN) != first
    other = parse({**GOOD, "Items": [{"score": 1, "name": "Jonas Jonaitis", "new": False}]})
    assert other != first
    assert len(_VALIDATIONS) == 1  # the one read above


def test_hash_of_a_model_without_sections_present() -> None:
    body = b'{"ref":"r","at":1795420800}'
    event = Doc.model_validate_json(body)
    assert hash(event) == hash(Doc.model_validate_json(body))
    assert len({event, Doc.model_validate_json(body)}) == 1


def test_copies_and_pickles_keep_the_sections() -> None:
    event = parse(GOOD)
    _ = event.items
    untouched = parse(GOOD)
    for source in (event, untouched):
        for clone in (
            pickle.loads(pickle.dumps(source)),
            copy.deepcopy(source),
            copy.copy(source),
            source.model_copy(),
        ):
            assert clone == source
            assert clone.items == event.items
            assert clone.branch == event.branch
            assert clone.vendor == "test"


def test_model_copy_with_an_update_reads_the_new_raw_value() -> None:
    event = parse(GOOD)
    assert event.items is not None
    updated = event.model_copy(update={"items_raw": [{"score": "9"}]})
    assert updated.items == [Leaf(score=9)]  # not the value cached on the original
    assert event.items[0].score == 1
    assert updated.branch == event.branch
    deep = event.model_copy(update={"items_raw": None}, deep=True)
    assert deep.items is None


def test_python_input_is_kept_and_validated_on_read() -> None:
    leaf = Leaf(score=5)
    event = Doc(ref="r", Items=[leaf, {"score": 6}], at=datetime(2024, 1, 1, tzinfo=timezone.utc))
    assert event.items == [leaf, Leaf(score=6)]
    assert event.items is not None
    assert event.items[0] is leaf
    assert event.at is not None
    assert event.at.year == 2024
    by_name = Doc(ref="r", items_raw=[{"score": 7}])
    assert by_name.items == [Leaf(score=7)]
    with pytest.raises(kw.PayloadError):
        _ = Doc(ref="r", Items=[{"score": "x"}]).items


def test_raw_fields_are_frozen() -> None:
    event = parse(GOOD)
    with pytest.raises(ValidationError):
        event.items_raw = []  # type: ignore[misc]


def test_subclass_inherits_sections_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")

        class More(Doc):
            extra_field: int | None = None

    event = More.model_validate_json(json.dumps({**GOOD, "extra_field": 1}))
    assert event.items is not None
    assert event.items[0].score == 1
    assert section_names(More) == section_names(Doc) == ("items", "branch")


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


# -- issue #11: a valid section is validated once; a malformed one on each read -----------------


def _read_every_way(event: Doc) -> None:
    for _ in range(3):
        with contextlib.suppress(kw.PayloadError):
            _ = event.items
        repr(event)
        str(event)
        event.model_dump()
        event.model_dump(mode="json", by_alias=True, exclude_unset=True)
        event.model_dump_json()
        _ = event == parse(GOOD)


def test_a_valid_section_is_validated_once_by_reads_and_never_by_repr_or_dumps() -> None:
    event = parse(GOOD)
    _read_every_way(event)
    assert len(_VALIDATIONS) == 1


def test_a_malformed_section_is_validated_by_each_read_and_only_by_reads() -> None:
    event = parse(BROKEN)
    _read_every_way(event)
    assert len(_VALIDATIONS) == 3  # the three attribute reads; repr, dumps and == none


def test_an_invalid_section_fails_the_same_way_on_every_read() -> None:
    event = parse(BROKEN)
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
    copied = pickle.loads(pickle.dumps(event))
    with pytest.raises(kw.PayloadError):
        _ = copied.items
    replaced = event.model_copy(update={"items_raw": [{"score": 3}]})
    assert replaced.items == [Leaf(score=3)]  # a new raw value: validated afresh


def _walk_tb(tb: Any) -> Any:
    while tb is not None:
        yield tb
        tb = tb.tb_next


# -- the sections of the vendor models ------------------------------------------------------------


def _vendor_models() -> list[type[KycModel]]:
    found: list[type[KycModel]] = []
    for vendor in ("idenfy", "complycube", "yoti", "identomat"):
        module = __import__(f"kyc_webhooks.{vendor}.models", fromlist=["EVENT_MODELS"])
        found.extend(dict.fromkeys(module.EVENT_MODELS.values()))
    return [*dict.fromkeys(found), DocumentData]


def test_every_raw_field_is_a_section_of_the_right_shape() -> None:
    checked = 0
    for model in _vendor_models():
        sections = section_names(model)
        raw = [name for name in model.model_fields if name.endswith("_raw")]
        assert [name.removesuffix("_raw") for name in raw] == list(sections), model.__name__
        for name in sections:
            info = model.model_fields[f"{name}_raw"]
            assert info.repr is False, f"{model.__name__}.{name}"
            assert info.alias, f"{model.__name__}.{name}"
            assert info.default is None
            # The outer shape checked with the body is the shape of the real type.
            shape = _shape(section_type(model, name))
            expected = list[Any] | None if shape is list else dict[str, Any] | None
            assert info.annotation == expected, f"{model.__name__}.{name}"
            checked += 1
    assert checked == 17
    assert len(section_names(IdentificationEvent)) == 15


def _shape(kind: Any) -> type:
    """``list`` for a section that is a JSON array, ``dict`` for an object (a model, or a union
    of models)."""
    origin = typing.get_origin(kind)
    if origin is Annotated:
        return _shape(typing.get_args(kind)[0])
    if origin in (typing.Union, types.UnionType):
        (shape,) = {_shape(a) for a in typing.get_args(kind) if a is not type(None)}
        return shape
    return list if origin is list else dict


def test_sections_sit_where_validate_sections_reaches_them() -> None:
    # validate_sections() reads a model's sections and those of models held directly by its
    # fields, without walking lists: no vendor model with sections sits anywhere else.
    for model in _vendor_models():
        for name, info in model.model_fields.items():
            inner = _models_in(info.annotation)
            if name.endswith("_raw"):
                continue
            for found in inner:
                if section_names(found):
                    assert info.annotation == found | None, f"{model.__name__}.{name}"
        for name in section_names(model):
            for found in _models_in(section_type(model, name)):
                assert section_names(found) == (), f"{model.__name__}.{name}"


def _models_in(annotation: Any, seen: set[int] | None = None) -> list[type[KycModel]]:
    seen = set() if seen is None else seen
    if id(annotation) in seen:
        return []
    seen.add(id(annotation))
    if (
        typing.get_origin(annotation) is None
        and isinstance(annotation, type)
        and issubclass(annotation, KycModel)
    ):
        found = [annotation]
        for info in annotation.model_fields.values():
            found += _models_in(info.annotation, seen)
        return found
    found = []
    for arg in typing.get_args(annotation):
        found += _models_in(arg, seen)
    return found


def test_mypy_sees_the_real_types_of_the_sections(tmp_path: Path) -> None:
    source = tmp_path / "sections.py"
    source.write_text(
        "from kyc_webhooks.idenfy.models import IdentificationEvent\n"
        "def read(event: IdentificationEvent) -> None:\n"
        "    reveal_type(event.aml_results)\n"
        "    reveal_type(event.risk_assessment)\n"
        "    assert event.data is not None\n"
        "    reveal_type(event.data.address_verification)\n"
        "    reveal_type(event.start_time)\n",
        encoding="utf-8",
    )
    out, err, _ = run_mypy(source)
    revealed = [
        line.split("Revealed type is ")[1] for line in out.splitlines() if "Revealed" in line
    ]
    assert len(revealed) == 4, out + err
    assert "list[kyc_webhooks.idenfy._aml.AmlCheckResult]" in revealed[0]
    assert "None" in revealed[0]
    assert "kyc_webhooks.idenfy._sections.RiskAssessment" in revealed[1]
    assert "kyc_webhooks.idenfy._sections.AddressVerification" in revealed[2]
    assert "kyc_webhooks.models.Timestamp" in revealed[3]


def test_json_schema_describes_what_the_body_carries() -> None:
    schema = IdentificationEvent.model_json_schema()
    aml = schema["properties"]["AML"]
    assert {"type": "array", "items": {}} in aml["anyOf"]
    assert {"type": "null"} in aml["anyOf"]
    start = json.dumps(schema["properties"]["startTime"])
    assert "date-time" in start
    assert "pattern" not in start


# -- iDenfy: the sections, end to end -------------------------------------------------------------


def _deliver(
    payload: dict[str, Any], store: kw.MemoryStore | None = None
) -> tuple[kw.Outcome, list[str]]:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    seen: list[str] = []

    @receiver.on_event(IdentificationEvent)
    def on_result(event: IdentificationEvent) -> None:
        seen.append(str(event.overall))
        if event.aml_results is not None:  # reads the section
            seen.append(type(event.aml_results[0]).__name__)

    body, headers = sign("idenfy", payload, KEY, event_type="IDENTIFICATION_MANUAL_FINISHED")
    outcome = receiver.handle(body, headers)
    assert receiver.stats()["handler_failures"] == 0
    return outcome, seen


def _identification() -> dict[str, Any]:
    return sample_payload("idenfy", "IDENTIFICATION_MANUAL_FINISHED")


def test_idenfy_hit_lists_are_sections_and_typed() -> None:
    payload = _identification()
    assert payload.get("AML")
    assert payload.get("LID")
    body, _ = sign("idenfy", payload, KEY, event_type="IDENTIFICATION_MANUAL_FINISHED")
    event = IdentificationEvent.model_validate_json(body)
    assert {"aml_results", "lid_results", "aml_check"} <= set(section_names(IdentificationEvent))
    assert event.aml_results_raw == payload["AML"]
    assert event.aml_results is not None
    assert isinstance(event.aml_results[0], AmlCheckResult)
    assert event.lid_results is not None
    assert isinstance(event.lid_results[0], LidCheckResult)
    hits = event.aml_results[0].data or []
    assert all(isinstance(hit, AmlHit) for hit in hits)
    assert_lossless(event, json.loads(body))


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
