"""The model conventions every vendor builds on: open enums, redaction, wire-faithful timestamps."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import datetime, timedelta, timezone
from typing import Annotated

import pytest
from pydantic import Field, ValidationError

import kyc_webhooks as kw
from _lossless import assert_lossless
from kyc_webhooks.models import OPEN, PERSONAL, KycModel, Timestamp, WebhookEvent, WireEnum


class Colour(WireEnum):
    RED = "RED"
    BLUE = "BLUE"


class Inner(KycModel):
    colour: Annotated[Colour | str | None, OPEN] = None
    secret_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="secretName")


class Sample(WebhookEvent):
    ref: str
    colours: list[Annotated[Colour | str, OPEN]] = Field(default_factory=list)
    inner: Inner | None = None
    at: Timestamp | None = None
    full_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="fullName")


def parse(body: bytes) -> Sample:
    return Sample.model_validate_json(body).bind(vendor="test", event_type="T", raw=body)


def test_open_enum_keeps_known_members_and_unknown_strings() -> None:
    event = parse(b'{"ref":"r","colours":["RED","GREEN"],"inner":{"colour":"PURPLE"}}')
    assert event.colours == [Colour.RED, "GREEN"]
    assert isinstance(event.colours[0], Colour)
    assert type(event.colours[1]) is str
    assert event.inner is not None
    assert event.inner.colour == "PURPLE"
    assert str(Colour.RED) == "RED"


def test_round_trip_by_alias_reproduces_the_wire_json() -> None:
    body = (
        b'{"ref":"r","colours":["BLUE","NEW"],"fullName":"J\xc5\xabrat\xc4\x97",'
        b'"inner":{"colour":"RED","secretName":"x","extraInner":{"k":[1,2.5,null]}},'
        b'"at":"2020-01-01T11:14:23.964Z","extraTop":true}'
    )
    event = parse(body)
    assert_lossless(event, json.loads(body))
    assert event.full_name == "Jūratė"
    assert event.model_extra == {"extraTop": True}


def test_models_are_frozen() -> None:
    event = parse(b'{"ref":"r"}')
    with pytest.raises(ValidationError):
        event.ref = "other"  # type: ignore[misc]


def test_repr_masks_personal_and_unknown_fields_but_attributes_keep_values() -> None:
    event = parse(
        b'{"ref":"r-1","fullName":"Jonas Jonaitis","inner":{"secretName":"Ona","colour":"RED"},'
        b'"extraTop":"maybe-personal"}'
    )
    for text in (repr(event), str(event), f"{event}", f"{event!r}"):
        assert "Jonas" not in text
        assert "Ona" not in text
        assert "maybe-personal" not in text
        assert "<redacted>" in text
        assert "r-1" in text
        assert "extraTop" in text
    assert "vendor='test'" in repr(event)
    assert event.full_name == "Jonas Jonaitis"
    assert event.inner is not None
    assert event.inner.secret_name == "Ona"


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        pytest.param(1554726960, datetime(2019, 4, 8, 12, 36, tzinfo=timezone.utc), id="int"),
        pytest.param(
            1554726960.324056,
            datetime(2019, 4, 8, 12, 36, 0, 324056, tzinfo=timezone.utc),
            id="float",
        ),
        pytest.param(
            "2020-01-01T11:14:23.964Z",
            datetime(2020, 1, 1, 11, 14, 23, 964000, tzinfo=timezone.utc),
            id="iso-z-millis",
        ),
        pytest.param(
            "2020-08-14 12:48:08.085275+00:00",
            datetime(2020, 8, 14, 12, 48, 8, 85275, tzinfo=timezone.utc),
            id="iso-space",
        ),
        pytest.param(
            "2024-05-01T10:00:00", datetime(2024, 5, 1, 10, tzinfo=timezone.utc), id="naive-is-utc"
        ),
        pytest.param(
            "2024-05-01T10:00:00.1+02:00",
            datetime(2024, 5, 1, 8, 0, 0, 100000, tzinfo=timezone.utc),
            id="one-digit-fraction-offset",
        ),
    ],
)
def test_timestamps_are_aware_and_serialise_back_to_the_wire_value(
    wire: object, expected: datetime
) -> None:
    body = json.dumps({"ref": "r", "at": wire}).encode()
    event = parse(body)
    assert event.at == expected
    assert event.at is not None
    assert event.at.tzinfo is not None
    dumped = event.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert dumped["at"] == wire
    assert type(dumped["at"]) is type(wire)
    assert event.model_dump()["at"] == expected  # python mode keeps the datetime
    clone = pickle.loads(pickle.dumps(event.at))
    assert clone == event.at
    assert clone.wire == wire
    assert copy.deepcopy(event).at == event.at


@pytest.mark.parametrize(
    "seconds",
    [0, 1, -1, 1554726960, 1554726960.324056, -0.5, 1e-6, 2**31, -62135596800, 253402300799],
)
def test_epoch_timestamps_equal_datetime_fromtimestamp(seconds: float) -> None:
    converted = Timestamp.from_wire(seconds)
    assert type(converted) is Timestamp
    assert converted == datetime.fromtimestamp(seconds, timezone.utc)
    assert converted.tzinfo is timezone.utc
    assert converted.wire == seconds
    assert type(converted.wire) is type(seconds)
    assert Timestamp.from_wire(converted) is converted


@pytest.mark.parametrize("seconds", [253402300800, -62135596801, 1e20, float("nan")])
def test_epoch_timestamps_out_of_range_are_value_errors(seconds: float) -> None:
    with pytest.raises(ValueError, match="out of range"):
        Timestamp.from_wire(seconds)


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param("yesterday", id="text"),
        pytest.param(True, id="bool"),
        pytest.param([1], id="list"),
        pytest.param(1e20, id="out-of-range"),
        # pydantic's fallback read these as epoch seconds, or above 2e10 as milliseconds (review
        # R41): "1700000000000" was 2023 while the same JSON number is out of range.
        pytest.param("1700000000000", id="digits-milliseconds"),
        pytest.param("1700000000", id="digits-seconds"),
        pytest.param(" -1.5e3 ", id="number-text"),
    ],
)
def test_bad_timestamps_are_payload_errors(wire: object) -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key="k"))
    from kyc_webhooks.testing import sign

    body, headers = sign(
        "idenfy", {"scanRef": "s", "startTime": wire}, "k", event_type="IDENTIFICATION"
    )
    outcome = receiver.handle(body, headers)
    assert outcome.status_code == 400
    assert isinstance(outcome.error, kw.PayloadError)
    assert "startTime" in str(outcome.error)
    with pytest.raises(ValueError, match="timestamp"):
        Timestamp.from_wire(wire)


def test_unknown_event_keeps_the_whole_body() -> None:
    body = b'{"a":{"b":[1,"two",null]},"c":"\xc5\xbe"}'
    event = kw.UnknownEvent.model_validate_json(body).bind(vendor="v", event_type="X", raw=body)
    assert event.payload == json.loads(body)
    assert_lossless(event, json.loads(body))
    assert event.raw_body == body
    assert event.delivery_key.startswith("v:X:")


def test_default_delivery_key_is_stable_per_body_and_distinct_across_bodies() -> None:
    a1, a2, b = (parse(b'{"ref":"a"}'), parse(b'{"ref":"a"}'), parse(b'{"ref":"b"}'))
    assert a1.delivery_key == a2.delivery_key
    assert a1.delivery_key != b.delivery_key


def test_delivery_metadata_is_typed_private_state_kept_out_of_dumps() -> None:
    # vendor, event_type and raw_body are pydantic private attributes (declared and typed), not
    # entries written into the instance __dict__ next to the fields.
    body = b'{"ref":"r","extraTop":1}'
    event = parse(body)
    assert (event.vendor, event.event_type, event.raw_body) == ("test", "T", body)
    assert "_delivery" in WebhookEvent.__private_attributes__
    assert not {"_vendor", "_event_type", "_raw", "_delivery"} & set(vars(event))
    assert_lossless(event, json.loads(body))
    assert "vendor" not in Sample.model_json_schema()["properties"]
    # They travel with copies and pickles, and count in equality.
    for clone in (copy.copy(event), copy.deepcopy(event), pickle.loads(pickle.dumps(event))):
        assert (clone.vendor, clone.event_type, clone.raw_body) == ("test", "T", body)
        assert clone == event
    other = Sample.model_validate_json(body).bind(vendor="test", event_type="U", raw=body)
    assert other != event
    # An event that was never bound says so with empty values (no AttributeError).
    unbound = Sample.model_validate_json(body)
    assert (unbound.vendor, unbound.event_type, unbound.raw_body) == ("", "", b"")


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        pytest.param(
            "2024-03-18T09:41:27.312Z",
            datetime(2024, 3, 18, 9, 41, 27, 312000, tzinfo=timezone.utc),
            id="z",
        ),
        pytest.param(
            "2024-03-18t09:41:27z",
            datetime(2024, 3, 18, 9, 41, 27, tzinfo=timezone.utc),
            id="lower",
        ),
        pytest.param(
            # nine fraction digits: not fromisoformat's, read by the fallback (pydantic's parser)
            "2024-03-18T09:41:27.312345678Z",
            datetime(2024, 3, 18, 9, 41, 27, 312345, tzinfo=timezone.utc),
            id="nanoseconds-fallback",
        ),
    ],
)
def test_iso_timestamps_are_timestamps_on_every_parse_path(wire: str, expected: datetime) -> None:
    converted = Timestamp.from_wire(wire)
    assert type(converted) is Timestamp
    assert converted == expected
    assert converted.tzinfo is not None
    assert converted.utcoffset() == expected.utcoffset()
    assert converted.wire == wire


def test_timestamps_made_by_arithmetic_pickle_and_copy() -> None:
    # Arithmetic and replace() give a Timestamp without a wire form: its ISO text stands in.
    later = Timestamp.from_wire(1700000000) + timedelta(days=1)
    for made in (later, Timestamp.from_wire("2024-03-18T09:41:27Z").replace(year=2025)):
        clone = pickle.loads(pickle.dumps(made))
        assert clone == made
        assert copy.deepcopy(made) == made


@pytest.mark.parametrize("wire", [0, 0.0, -1, "1970-01-01T00:00:00Z"])
def test_pickled_and_copied_timestamps_keep_their_wire_form(wire: object) -> None:
    made = Timestamp.from_wire(wire)
    for clone in (pickle.loads(pickle.dumps(made)), copy.deepcopy(made)):
        assert clone == made
        assert clone.wire == wire
        assert type(clone.wire) is type(wire)
