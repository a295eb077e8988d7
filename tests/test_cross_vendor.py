"""One receiver with all four vendors configured, one auto-detecting endpoint, a mixed stream."""

from __future__ import annotations

import random
from collections import Counter

import pytest

import kyc_webhooks as kw
from kyc_webhooks import testing

SECRETS = {
    "idenfy": "idenfy-signing-key",
    "complycube": "complycube-secret",
    "yoti": "yoti-user:yoti-pass",
    "identomat": "identomat-api-key",
}


def make_receiver() -> kw.Receiver:
    return kw.Receiver(
        kw.Idenfy(signing_key=SECRETS["idenfy"]),
        kw.ComplyCube(secret=SECRETS["complycube"]),
        kw.Yoti(auth_token=SECRETS["yoti"], auth_type="basic"),
        kw.Identomat(api_key=SECRETS["identomat"]),
    )


def stream(rounds: int) -> list[tuple[str, str, testing.Delivery]]:
    items = [
        (vendor, event_type, testing.signed_delivery(vendor, event_type, SECRETS[vendor]))
        for _ in range(rounds)
        for vendor in SECRETS
        for event_type in testing.event_types(vendor)
    ]
    random.Random(20261123).shuffle(items)
    return items


def test_every_vendor_documents_its_event_types() -> None:
    counts = {vendor: len(testing.event_types(vendor)) for vendor in SECRETS}
    assert counts["idenfy"] == 24
    assert counts["yoti"] == 9
    assert counts["identomat"] == 6
    assert counts["complycube"] >= 22


def test_mixed_stream_routes_each_delivery_to_its_vendor_handlers() -> None:
    receiver = make_receiver()
    seen: dict[str, list[tuple[str, str]]] = {vendor: [] for vendor in SECRETS}
    caught: list[str] = []

    for vendor in SECRETS:

        def handler(event: kw.WebhookEvent, _vendor: str = vendor) -> None:
            assert event.vendor == _vendor
            seen[_vendor].append((event.event_type, event.delivery_key))

        receiver.on(vendor)(handler)
    receiver.on("*")(lambda event: caught.append(event.vendor))

    deliveries = stream(rounds=2)
    assert len(deliveries) >= 100
    for vendor, event_type, (body, headers) in deliveries:
        outcome = receiver.handle(body, headers)  # no vendor pinned: auto-detection
        assert outcome.status_code == 200, (vendor, event_type, outcome.error)
        assert outcome.vendor == vendor
        assert outcome.event is not None
        assert not isinstance(outcome.event, kw.UnknownEvent), (vendor, event_type)
        assert outcome.handled == 2

    expected = Counter(vendor for vendor, _, _ in deliveries)
    assert Counter({vendor: len(events) for vendor, events in seen.items()}) == expected
    assert Counter(caught) == expected


@pytest.mark.parametrize("vendor", sorted(SECRETS))
def test_each_vendor_refuses_tampering_and_foreign_credentials(vendor: str) -> None:
    receiver = make_receiver()
    event_type = testing.event_types(vendor)[0]
    genuine = testing.signed_delivery(vendor, event_type, SECRETS[vendor])
    forged = testing.signed_delivery(vendor, event_type, "not-the-secret")
    assert receiver.handle(*genuine).status_code == 200
    outcome = receiver.handle(*forged)
    assert outcome.status_code == 401
    assert outcome.vendor == vendor
    assert isinstance(outcome.error, kw.AuthenticationError)


def test_unconfigured_vendor_is_refused_not_crashed() -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=SECRETS["idenfy"]))
    for vendor in ("complycube", "yoti", "identomat"):
        event_type = testing.event_types(vendor)[0]
        outcome = receiver.handle(*testing.signed_delivery(vendor, event_type, SECRETS[vendor]))
        assert outcome.status_code == 401, vendor
        assert isinstance(outcome.error, kw.VendorNotConfiguredError)


def test_unknown_event_types_of_every_vendor_reach_the_catch_all() -> None:
    receiver = make_receiver()
    caught: list[tuple[str, str]] = []
    receiver.on("*")(lambda event: caught.append((event.vendor, event.event_type)))
    unknown = {
        "idenfy": testing.sign(
            "idenfy", {"scanRef": "s"}, SECRETS["idenfy"], event_type="FUTURE_EVENT"
        ),
        "complycube": testing.sign(
            "complycube",
            {
                "id": "65a1f0c2e4b0a1b2c3d4e5f6",
                "type": "future.thing.happened",
                "resourceType": "future",
                "payload": {"id": "x"},
                "createdAt": "2026-11-23T10:00:00.000Z",
            },
            SECRETS["complycube"],
        ),
        "yoti": testing.sign(
            "yoti",
            {"session_id": "8f2b0c0e-1d55-4c8e-9d0b-6b1c1e2f3a4b", "topic": "future_topic"},
            SECRETS["yoti"],
        ),
        "identomat": testing.sign(
            "identomat",
            {"type": "future-callback", "sessionId": "a" * 40},
            SECRETS["identomat"],
        ),
    }
    for vendor, (body, headers) in unknown.items():
        outcome = receiver.handle(body, headers)
        assert outcome.status_code == 200, (vendor, outcome.error)
        assert isinstance(outcome.event, kw.UnknownEvent), vendor
    assert [vendor for vendor, _ in caught] == list(unknown)
