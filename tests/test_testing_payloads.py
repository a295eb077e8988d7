"""kyc_webhooks.testing sample payloads: one per documented event type, each parsing under the
receiver to its own (non-unknown) model, with overrides reaching any field."""

from __future__ import annotations

import json
from typing import Any

import pytest

import kyc_webhooks as kw
from _lossless import assert_lossless
from kyc_webhooks import testing

VENDORS = ("idenfy", "complycube", "yoti", "identomat")
ALL_SAMPLES = [(v, e) for v in VENDORS for e in testing.event_types(v)]
SECRETS = testing.generate_secrets()
RECEIVER = kw.Receiver(*testing.make_vendors(SECRETS))


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_vendor_has_samples_and_they_match_its_event_types(vendor: str) -> None:
    types = testing.event_types(vendor)
    assert types, vendor
    assert len(set(types)) == len(types)
    # Every event type the vendor class documents has a sample (the CLI demo sends them all).
    documented = set(
        kw.Receiver(*testing.make_vendors({vendor: "k"})).vendors[vendor].event_types()
    )
    assert documented <= set(types)


@pytest.mark.parametrize(
    ("vendor", "event_type"), ALL_SAMPLES, ids=[f"{v}-{e}" for v, e in ALL_SAMPLES]
)
def test_every_sample_parses_to_a_known_model(vendor: str, event_type: str) -> None:
    body, headers = testing.signed_delivery(vendor, event_type, SECRETS[vendor])
    event = RECEIVER.parse(body, headers)
    assert event.vendor == vendor
    # ComplyCube's legacy ``check.complete*`` spelling is reported as ``check.completed*``.
    assert event.event_type == RECEIVER.vendors[vendor].normalize_pattern(event_type)
    assert not isinstance(event, kw.UnknownEvent), type(event).__name__
    # Lossless: the model gives back the wire JSON.
    assert_lossless(event, json.loads(body))


@pytest.mark.parametrize("vendor", VENDORS)
def test_samples_of_one_vendor_have_distinct_delivery_keys(vendor: str) -> None:
    keys = {
        RECEIVER.parse(*testing.signed_delivery(vendor, e, SECRETS[vendor])).delivery_key
        for e in testing.event_types(vendor)
    }
    assert len(keys) == len(testing.event_types(vendor))


def test_each_call_returns_a_fresh_copy() -> None:
    first = testing.sample_payload("complycube", "check.completed")
    first["payload"]["outcome"] = "mutated"
    second = testing.sample_payload("complycube", "check.completed")
    assert second["payload"].get("outcome") != "mutated"


@pytest.mark.parametrize(
    ("overrides", "path", "expected"),
    [
        ({"type": "check.failed"}, ("type",), "check.failed"),
        ({"payload__outcome": "attention"}, ("payload", "outcome"), "attention"),
        ({"payload.outcome": "rejected"}, ("payload", "outcome"), "rejected"),
        ({"payload": {"id": "x"}}, ("payload",), {"id": "x"}),
    ],
    ids=["top-level", "nested-dunder", "nested-dotted", "replace"],
)
def test_overrides(overrides: dict[str, Any], path: tuple[str, ...], expected: Any) -> None:
    payload = testing.sample_payload("complycube", "check.completed", **overrides)
    node: Any = payload
    for part in path:
        node = node[part]
    assert node == expected


def test_override_reaches_into_lists() -> None:
    base = testing.sample_payload("complycube", "check.completed")
    base["payload"]["items"] = [{"status": "a"}, {"status": "b"}]
    testing.set_path(base, "payload__items__1__status", "changed")
    testing.set_path(base, "payload.items.0", testing.REMOVE)
    assert base["payload"]["items"] == [{"status": "changed"}]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("payload__brandNew__deep", ("payload", "brandNew", "deep")),
        ("newTopLevel", ("newTopLevel",)),
    ],
    ids=["creates-objects", "adds-field"],
)
def test_set_path_adds_a_field_the_sample_lacks(path: str, expected: tuple[str, ...]) -> None:
    payload = testing.sample_payload("complycube", "check.completed")
    testing.set_path(payload, path, [1, 2])
    node: Any = payload
    for part in expected:
        node = node[part]
    assert node == [1, 2]


def test_remove_deletes_a_field() -> None:
    payload = testing.sample_payload(
        "idenfy",
        "IDENTIFICATION_AUTO_FINISHED",
        clientId=testing.REMOVE,
        status__overall=testing.REMOVE,
    )
    assert "clientId" not in payload
    assert "overall" not in payload["status"]
    assert payload["scanRef"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("clientID", "no field 'clientID' at the top level; fields there, closest first: clientI"),
        ("status__overal", "no field 'overal' in 'status'; fields there, closest first: overall, "),
        ("scanRf", "no field 'scanRf' at the top level; fields there, closest first: scanRef, "),
        ("nothing__here", "no field 'nothing' at the top level"),
    ],
    ids=["case-typo", "nested-typo", "typo", "missing-object"],
)
def test_remove_of_a_name_not_in_the_sample_raises(override: str, message: str) -> None:
    # A misspelt REMOVE used to do nothing: a "field missing" test ran on the full sample.
    with pytest.raises(kw.UsageError) as caught:
        testing.sample_payload(
            "idenfy", "IDENTIFICATION_AUTO_FINISHED", **{override: testing.REMOVE}
        )
    assert message in str(caught.value)
    tester = testing.WebhookTester()
    with pytest.raises(kw.UsageError, match="closest first"):
        tester.deliver("idenfy", "IDENTIFICATION_AUTO_FINISHED", **{override: testing.REMOVE})
    assert tester.outcomes == []  # nothing was delivered


def test_remove_below_a_null_field_and_set_path_remove_of_a_missing_field_do_nothing() -> None:
    # The sample has "additionalSteps": null: there is nothing below it to delete.
    payload = testing.sample_payload(
        "idenfy", "IDENTIFICATION_AUTO_FINISHED", additionalSteps__ADDITIONAL_DOC=testing.REMOVE
    )
    assert payload["additionalSteps"] is None
    # set_path (create=True by default) edits any payload: deleting what is not there is a no-op.
    testing.set_path(payload, "nothing__here", testing.REMOVE)
    assert "nothing" not in payload


@pytest.mark.parametrize(
    ("vendor", "event_type", "override", "message"),
    [
        (
            "idenfy",
            "IDENTIFICATION_AUTO_FINISHED",
            "status__overal",
            "no field 'overal' in 'status'; fields there, closest first: overall, ",
        ),
        (
            "idenfy",
            "IDENTIFICATION_AUTO_FINISHED",
            "client_id",
            "no field 'client_id' at the top level; fields there, closest first: clientId, ",
        ),
        ("yoti", "check_completion", "chek_id", "closest first: check_id, "),
        ("complycube", "check.completed", "payload.outcme", "in 'payload'; fields there, "),
        ("yoti", "check_completion", "nothing__here", "no field 'nothing' at the top level"),
    ],
    ids=["nested-typo", "snake-case-for-camel", "yoti-typo", "dotted-typo", "new-object"],
)
def test_an_override_naming_no_field_raises_with_the_valid_names(
    vendor: str, event_type: str, override: str, message: str
) -> None:
    with pytest.raises(kw.UsageError) as caught:
        testing.sample_payload(vendor, event_type, **{override: "x"})
    assert message in str(caught.value)
    tester = testing.WebhookTester()
    with pytest.raises(kw.UsageError, match="closest first"):
        tester.deliver(vendor, event_type, **{override: "x"})
    assert tester.outcomes == []  # nothing was delivered


def test_an_override_below_a_null_field_may_create_objects() -> None:
    # The sample has "additionalSteps": null: nothing tells which names are valid below it.
    payload = testing.sample_payload(
        "idenfy", "IDENTIFICATION_AUTO_FINISHED", additionalSteps__ADDITIONAL_DOC="VALID"
    )
    assert payload["additionalSteps"] == {"ADDITIONAL_DOC": "VALID"}


def test_overridden_values_are_copied() -> None:
    value = {"outcome": "clear"}
    payload = testing.sample_payload("complycube", "check.completed", payload=value)
    payload["payload"]["outcome"] = "changed"
    assert value == {"outcome": "clear"}


def test_an_overridden_sample_still_reaches_the_handler() -> None:
    tester = testing.WebhookTester()
    seen: list[kw.WebhookEvent] = []
    tester.on("identomat", "session-change")(seen.append)
    outcome = tester.deliver("identomat", "session-change", result="REJECTED")
    assert outcome.ok
    assert seen[0].model_dump(by_alias=True)["result"] == "REJECTED"


@pytest.mark.parametrize(
    ("vendor", "event_type", "overrides", "error", "match"),
    [
        ("paypal", "x", {}, kw.ConfigurationError, "unknown vendor"),
        ("yoti", "SESSION_COMPLETION", {}, kw.UsageError, "available: resource_update"),
        ("yoti", "session_completion", {"a____b": 1}, kw.UsageError, "bad override path"),
        ("yoti", "session_completion", {"topic__x": 1}, kw.UsageError, "not an object"),
        ("complycube", "check.completed", {"id__5": 1}, kw.UsageError, "not an object"),
    ],
    ids=["unknown-vendor", "unknown-event", "empty-segment", "into-a-string", "index-a-string"],
)
def test_bad_requests_fail_with_a_clear_error(
    vendor: str, event_type: str, overrides: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        testing.sample_payload(vendor, event_type, **overrides)


def test_list_index_out_of_range_is_a_usage_error() -> None:
    payload: dict[str, Any] = {"items": [1]}
    with pytest.raises(kw.UsageError, match="no list item"):
        testing.set_path(payload, "items__3", 0)
    with pytest.raises(kw.UsageError, match="no list item"):
        testing.set_path(payload, "items__3__x", 0)


def test_deep_update_merges_nested_objects_without_touching_inputs() -> None:
    base = {"status": {"overall": "APPROVED", "tags": ["a"]}, "keep": 1, "drop": 2}
    updates = {"status": {"overall": "DENIED"}, "drop": testing.REMOVE, "new": {"x": 1}}
    merged = testing.deep_update(base, updates)
    assert merged == {"status": {"overall": "DENIED", "tags": ["a"]}, "keep": 1, "new": {"x": 1}}
    assert base["status"] == {"overall": "APPROVED", "tags": ["a"]}
    merged["status"]["tags"].append("b")
    assert base["status"]["tags"] == ["a"]


def test_remove_has_a_readable_repr_and_survives_pickling() -> None:
    import pickle

    assert repr(testing.REMOVE) == "REMOVE"
    assert pickle.loads(pickle.dumps(testing.REMOVE)) is testing.REMOVE
