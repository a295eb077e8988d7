"""Every byte-exact vector of every vendor (tests/vectors/<vendor>/<name>/, loaded by _vectors.py):
signed as its vendor signs, authenticated, parsed into the expected model, routed, keyed, and
dumped back to the wire JSON without loss. The real published samples of ../shared/samples are
held byte for byte."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import defaultdict
from typing import Any

import pytest

import kyc_webhooks as kw
from _lossless import assert_lossless
from _vectors import (
    SHARED_SAMPLES,
    VECTOR_FILES,
    VECTORS_DIR,
    VENDOR_CLASSES,
    VENDORS,
    Vector,
    check_delivery_key,
    vector_names,
    vector_params,
    vectors,
)

# -- the vector set --------------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_vector_folder_holds_body_headers_and_expectations(vendor: str) -> None:
    names = vector_names(vendor)
    assert names  # each vendor has vectors
    for name in names:
        assert sorted(p.name for p in (VECTORS_DIR / vendor / name).iterdir()) == list(VECTOR_FILES)
    assert sorted(v.name for v in vectors(vendor)) == names


def test_vendor_folders_are_the_four_vendors() -> None:
    assert sorted(p.name for p in VECTORS_DIR.iterdir() if p.is_dir()) == sorted(VENDORS)


@pytest.mark.parametrize("vector", vector_params())
def test_vector_is_signed_as_its_vendor_signs(vector: Vector) -> None:
    # Each vector carries exactly one credential, the one a genuine sender presents (the real
    # signature vectors' published values are checked against the samples below).
    adapter = vector.adapter()
    assert adapter.presented(vector.body, vector.headers) == [
        adapter.present(vector.body, vector.key())
    ]


# -- authenticate -> model -> lossless round trip ------------------------------------------------


@pytest.mark.parametrize("vector", vector_params())
def test_vector_authenticates_parses_routes_and_round_trips(vector: Vector) -> None:
    expected = vector.expected
    receiver = vector.receiver()
    matching: list[kw.WebhookEvent] = []
    caught: list[kw.WebhookEvent] = []
    others: list[kw.WebhookEvent] = []
    with warnings.catch_warnings():
        if expected.model.endswith("UnknownEvent"):
            # A type this version does not know, maybe one letter from a known one
            # (check.completed_v2): the RoutingWarning about a typo is expected here.
            warnings.simplefilter("ignore", kw.RoutingWarning)
        receiver.on(vector.vendor, expected.event_type)(matching.append)
    receiver.on(vector.vendor, "no-such-event-type")(others.append)
    receiver.on("*")(caught.append)

    outcome = receiver.handle(vector.body, vector.headers)  # vendor detected, not pinned

    assert outcome.status_code == expected.status, outcome.response_body()
    assert outcome.error is None
    assert outcome.vendor == vector.vendor
    assert outcome.event_type == expected.event_type
    event = outcome.event
    assert event is not None
    assert type(event).__name__ == expected.model
    if expected.model.endswith("UnknownEvent"):
        assert isinstance(event, kw.UnknownEvent)
        assert event.payload == vector.wire()  # the whole body, for a handler to inspect
    else:
        assert not isinstance(event, kw.UnknownEvent)
    assert event.vendor == vector.vendor
    assert event.event_type == expected.event_type
    assert event.raw_body == vector.body
    assert matching == caught == [event]
    assert others == []
    assert outcome.handled == 2
    check_delivery_key(expected, event.delivery_key)
    assert outcome.delivery_key == event.delivery_key
    # Lossless: dumping by alias gives back the wire JSON.
    assert_lossless(event, vector.wire())


@pytest.mark.parametrize("vector", vector_params())
def test_vector_parse_gives_the_same_event_and_key(vector: Vector) -> None:
    receiver = vector.receiver()
    first = receiver.parse(vector.body, vector.headers)
    again = receiver.parse(vector.body, vector.headers)
    assert type(first).__name__ == vector.expected.model
    assert first == again
    assert first.delivery_key == again.delivery_key  # a redelivery of the same bytes
    assert_lossless(first, vector.wire())


@pytest.mark.parametrize("vector", vector_params())
def test_vector_is_refused_under_another_key(vector: Vector) -> None:
    adapter = vector.adapter()
    receiver = kw.Receiver(adapter.make_vendor(vector.key() + "-other"))
    seen: list[kw.WebhookEvent] = []
    receiver.on("*")(seen.append)
    outcome = receiver.handle(vector.body, vector.headers)
    assert outcome.status_code == 401
    assert isinstance(outcome.error, kw.AuthenticationError)
    assert outcome.vendor == vector.vendor
    assert seen == []


@pytest.mark.parametrize("vendor", VENDORS)
def test_delivery_keys_differ_between_different_events(vendor: str) -> None:
    # Two vectors share a key only when they are the same event (the same JSON, maybe spelled
    # differently, as a reformatted redelivery would be).
    by_key: dict[str, list[Vector]] = defaultdict(list)
    for found in vectors(vendor):
        by_key[found.receiver().parse(found.body, found.headers).delivery_key].append(found)
    for same in by_key.values():
        assert all(v.wire() == same[0].wire() for v in same), [v.name for v in same]
    assert len(by_key) > 1


@pytest.mark.parametrize("vendor", VENDORS)
def test_vectors_cover_every_documented_event_type(vendor: str) -> None:
    documented = set(VENDOR_CLASSES[vendor].event_types())
    covered = {v.expected.event_type for v in vectors(vendor)}
    # ComplyCube's v1.7.2 spellings (check.complete*) are routed as the current ones.
    documented = {t.replace("check.complete.", "check.completed.") for t in documented}
    documented = {"check.completed" if t == "check.complete" else t for t in documented}
    assert documented <= covered


# -- the real published samples are held byte for byte --------------------------------------------


def _sample_refs() -> list[Any]:
    return [
        pytest.param(v, ref.file, ref.relation, id=f"{ref.file}->{v.id}")
        for v in vectors()
        for ref in v.expected.samples
    ]


def _shared_sample(name: str) -> bytes:
    path = SHARED_SAMPLES / name
    if not SHARED_SAMPLES.is_dir():
        pytest.skip(f"../shared/samples is not beside this checkout ({SHARED_SAMPLES} missing)")
    return path.read_bytes()


def test_every_shared_sample_is_held_by_a_vector() -> None:
    if not SHARED_SAMPLES.is_dir():
        pytest.skip(f"../shared/samples is not beside this checkout ({SHARED_SAMPLES} missing)")
    on_disk = {
        str(p.relative_to(SHARED_SAMPLES)) for p in SHARED_SAMPLES.rglob("*.json") if p.is_file()
    }
    held = {ref.file for v in vectors() for ref in v.expected.samples}
    assert on_disk == held


@pytest.mark.parametrize(("vector", "sample", "relation"), _sample_refs())
def test_shared_sample_matches_its_vector_byte_for_byte(
    vector: Vector, sample: str, relation: str
) -> None:
    raw = _shared_sample(sample)
    if relation == "body":
        assert vector.body == raw
    elif relation == "fragment":
        assert raw.strip() in vector.body
    elif relation == "object_members":
        stripped = raw.strip()
        assert stripped.startswith(b"{")
        assert stripped.endswith(b"}")
        assert stripped[1:-1].strip() in vector.body
    else:
        assert relation == "signature_vector"
        published = json.loads(raw)
        adapter = vector.adapter()
        assert published["header_name"] == adapter.header
        assert vector.headers[published["header_name"]] == published["header_value"]
        assert vector.key() == published.get("signing_key", published.get("webhook_secret"))
        if "raw_body" in published:
            assert vector.body == published["raw_body"].encode("utf-8")
        else:
            assert len(vector.body) == published["body_length"]
            assert hashlib.sha256(vector.body).hexdigest() == published["body_sha256"]
