"""Delivery keys depend only on authenticated bytes and are the same on every path (issue #10 items
2, 5 and 6): an unsigned header cannot multiply handler runs, a Yoti body without its optional id
still gets a key of its own, and an Identomat event keeps its key when deferred or replayed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from kyc_webhooks.idenfy import EVENT_MODELS, EVENT_TYPE_HEADER, IdentificationEvent, parse_event
from kyc_webhooks.idenfy._samples import SAMPLES as IDENFY_SAMPLES
from kyc_webhooks.identomat._samples import SAMPLES as IDENTOMAT_SAMPLES
from kyc_webhooks.testing import dumps, sign
from kyc_webhooks.yoti import parse_event as yoti_parse_event


def parse_idenfy(body: bytes, event_type: str | None) -> kw.WebhookEvent:
    """iDenfy's ``parse_event`` with ``event_type`` as the ``Idenfy-Event-Type`` header (``None``:
    no header)."""
    return parse_event(
        body, kw.Headers({} if event_type is None else {EVENT_TYPE_HEADER: event_type})
    )


IDENFY_KEY = "delivery-keys-idenfy-9d1c"
IDENTOMAT_KEY = "delivery-keys-identomat-4e7a"

#: 100 header values for one body: every documented type, spelling variants, unknown names.
HEADER_VALUES: list[str] = [
    *EVENT_MODELS,
    "IDENTIFICATION_CANCELED",
    "ID_VERIFICATION_CANCELLED",
    "ID_VERIFICATION_CANCELED",
    " IDENTIFICATION_AUTO_FINISHED ",
    "identification_auto_finished",
    "UNKNOWN",
    "",
]
HEADER_VALUES += [f"MADE_UP_TYPE_{n}" for n in range(100 - len(HEADER_VALUES))]


def _with_type(headers: dict[str, str], event_type: str) -> dict[str, str]:
    return {**headers, "Idenfy-Event-Type": event_type}


# -- item 2: iDenfy, the unsigned Idenfy-Event-Type header ----------------------------------------


@pytest.mark.parametrize(
    "sample", ["IDENTIFICATION_AUTO_FINISHED", "COMPANY_EXPIRATION", "COMPANY_TOKEN_EXPIRED"]
)
def test_one_signed_body_under_100_header_values_runs_handlers_once(
    tmp_path: Path, sample: str
) -> None:
    assert len(HEADER_VALUES) == 100
    body, headers = sign("idenfy", IDENFY_SAMPLES[sample], IDENFY_KEY, event_type=sample)
    runs: list[str] = []
    with kw.SQLiteStore(tmp_path / "deliveries.db") as store:
        receiver = kw.Receiver(kw.Idenfy(signing_key=IDENFY_KEY), store=store)

        @receiver.on("*")
        def count(event: kw.WebhookEvent) -> None:
            runs.append(event.event_type)

        outcomes = [receiver.handle(body, _with_type(headers, v)) for v in HEADER_VALUES]
        first = receiver.handle(body, headers)
        keys = {o.delivery_key for o in outcomes if o.delivery_key is not None}
        assert keys == {first.delivery_key}
        assert len(runs) == 1
        assert store.get_by_key(first.delivery_key or "") is not None
    # Every request was either handled once, answered as a duplicate, or refused (400).
    assert {o.status_code for o in outcomes} <= {200, 400}
    assert sum(1 for o in outcomes if o.status_code == 200 and not o.duplicate) <= 1


@pytest.mark.parametrize("sample", sorted(IDENFY_SAMPLES))
def test_delivery_key_does_not_depend_on_the_event_type_header(sample: str) -> None:
    body = dumps(IDENFY_SAMPLES[sample])
    keys = set()
    for value in HEADER_VALUES:
        try:
            keys.add(parse_idenfy(body, value).delivery_key)
        except kw.PayloadError:
            continue
    assert len(keys) == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"scanRef": "s-1", "scan_ref": "s-2"},
        {"scan_ref": "s-2"},
        {"id": "i-1", "companyId": "c-1"},
        {"company_id": "c-1", "monitoringId": "m-1"},
        {"id": 7, "scanRef": None, "monitoring_id": "m-1"},
        {"clientId": "c-9", "externalRef": "e-1"},
    ],
    ids=lambda p: ",".join(p),
)
def test_delivery_key_of_id_only_bodies_ignores_the_header(payload: dict[str, Any]) -> None:
    body = dumps(payload)
    keys = set()
    for value in HEADER_VALUES:
        try:
            keys.add(parse_idenfy(body, value).delivery_key)
        except kw.PayloadError:
            continue
    assert len(keys) == 1


#: Bodies with no key of their own (docs/verification.md, "Unsigned headers"): the header picks
#: any model that accepts them. Every other documented body says which model it is.
BODIES_WITHOUT_OWN_KEYS = {"COMPANY_DELETE", "COMPANY_TOKEN_EXPIRED"}


@pytest.mark.parametrize("sample", sorted(IDENFY_SAMPLES))
def test_relabelled_body_never_reaches_another_models_handlers(sample: str) -> None:
    body, headers = sign("idenfy", IDENFY_SAMPLES[sample], IDENFY_KEY, event_type=sample)
    receiver = kw.Receiver(kw.Idenfy(signing_key=IDENFY_KEY))
    own = EVENT_MODELS[sample]
    others = []
    for value in HEADER_VALUES:
        outcome = receiver.handle(body, _with_type(headers, value))
        if outcome.status_code == 200:
            if type(outcome.event) is not own:
                others.append(value)
        else:
            assert outcome.status_code == 400, value
            assert isinstance(outcome.error, kw.PayloadError)
    if sample in BODIES_WITHOUT_OWN_KEYS:
        assert others  # the documented exception is real (else drop it from the docs)
    else:
        # Accepted only as the body's own model, whatever the header says (or if it is absent).
        assert others == []
        stripped = {k: v for k, v in headers.items() if k != "Idenfy-Event-Type"}
        assert type(receiver.handle(body, stripped).event) is own


def test_identification_body_relabelled_as_document_expiration_is_refused() -> None:
    body, headers = sign(
        "idenfy",
        IDENFY_SAMPLES["IDENTIFICATION_AUTO_FINISHED"],
        IDENFY_KEY,
        event_type="DOCUMENT_EXPIRATION",
    )
    receiver = kw.Receiver(kw.Idenfy(signing_key=IDENFY_KEY))
    seen: list[str] = []

    @receiver.on("idenfy", "DOCUMENT_EXPIRATION")
    def expiring(event: kw.WebhookEvent) -> None:
        seen.append(event.event_type)

    outcome = receiver.handle(body, headers)
    assert outcome.status_code == 400
    assert isinstance(outcome.error, kw.PayloadError)
    assert "Idenfy-Event-Type" in outcome.error.message
    assert seen == []


def test_known_body_under_an_unknown_type_is_typed_from_the_body_not_swallowed() -> None:
    # Relabelled as an unknown type, an identification must not be stored as an unknown event no
    # typed handler matches (the genuine delivery that follows would be a duplicate): it is typed
    # from its body, as without the header.
    body = dumps(IDENFY_SAMPLES["IDENTIFICATION_MANUAL_FINISHED"])
    event = parse_idenfy(body, "SOMETHING_NEW")
    assert type(event) is EVENT_MODELS["IDENTIFICATION"]
    assert event.event_type == parse_idenfy(body, None).event_type == "IDENTIFICATION"


def test_unknown_body_under_an_unknown_type_is_still_accepted() -> None:
    event = parse_idenfy(dumps({"someNewField": 1, "clientId": "c-1"}), "SOMETHING_NEW")
    assert event.event_type == "SOMETHING_NEW"
    assert event.model_extra == {"someNewField": 1, "clientId": "c-1"}


@pytest.mark.parametrize(
    ("sample", "added"),
    [
        ("IDENTIFICATION_AUTO_FINISHED", {"email": "x@example.org", "accounts": []}),
        ("FACIAL_AUTHENTICATION", {"final": True}),
        ("COMPANY_INFO_REQUEST", {"lastFour": "1234"}),
    ],
)
def test_body_with_its_own_keys_is_not_refused_for_a_vendor_addition(
    sample: str, added: dict[str, Any]
) -> None:
    # A field iDenfy may add later, named like another type's, does not refuse a body that
    # carries keys of its own type (it would only make the vendor retry and drop the event).
    event = parse_idenfy(dumps({**IDENFY_SAMPLES[sample], **added}), sample)
    assert type(event) is EVENT_MODELS[sample]
    assert event.model_extra == added


def test_body_with_keys_of_two_types_is_refused_without_a_header() -> None:
    with pytest.raises(kw.PayloadError, match="Idenfy-Event-Type"):
        parse_idenfy(b'{"expirationStatus": null, "submissionTime": null, "id": "x"}', None)


def test_header_picks_among_identification_types_that_share_the_body() -> None:
    body = dumps(IDENFY_SAMPLES["IDENTIFICATION_AUTO_FINISHED"])
    auto = parse_idenfy(body, "IDENTIFICATION_AUTO_FINISHED")
    manual = parse_idenfy(body, "IDENTIFICATION_MANUAL_FINISHED")
    assert isinstance(auto, IdentificationEvent)
    assert isinstance(manual, IdentificationEvent)
    assert manual.event_type == "IDENTIFICATION_MANUAL_FINISHED"
    assert auto.delivery_key == manual.delivery_key


def test_legacy_body_without_the_header_keeps_its_inferred_type() -> None:
    event = parse_idenfy(dumps(IDENFY_SAMPLES["IDENTIFICATION"]), None)
    assert event.event_type == "IDENTIFICATION"
    assert event.delivery_key == parse_idenfy(event.raw_body, "IDENTIFICATION").delivery_key


# -- item 5: Yoti, bodies without their optional id -----------------------------------------------


YOTI_BODIES: list[dict[str, Any]] = [
    {"session_id": "s-1", "topic": "task_completion"},
    {"session_id": "s-1", "topic": "task_completion", "task_id": ""},
    {"session_id": "s-1", "topic": "task_completion", "task_id": "a,b"},
    {"session_id": "s-1", "topic": "task_completion", "task_id": "a", "check_id": "b"},
    {"session_id": "s-1", "topic": "check_completion"},
    {"session_id": "s-1", "topic": "resource_update"},
    {"session_id": "s-1", "topic": "media_deleted", "media": {"n": 1}},
    {"session_id": "s-1", "topic": "media_deleted", "media": {"n": 2}},
    {"session_id": "s-1", "topic": "media_deleted", "media_id": 1},
    {"session_id": "s-1", "topic": "media_deleted", "media_id": 2},
    {"session_id": "s-1:task_completion", "topic": "x"},
    {"session_id": "s-1", "topic": "task_completion:x"},
]


@pytest.mark.parametrize("payload", YOTI_BODIES)
def test_distinct_yoti_bodies_get_distinct_keys(payload: dict[str, Any]) -> None:
    key = yoti_parse_event(dumps(payload), kw.Headers()).delivery_key
    others = [
        yoti_parse_event(dumps(p), kw.Headers()).delivery_key for p in YOTI_BODIES if p != payload
    ]
    assert key not in others
    # A redelivery, even formatted differently, shares the key.
    spaced = json.dumps(dict(reversed(list(payload.items()))), indent=2).encode()
    assert yoti_parse_event(spaced, kw.Headers()).delivery_key == key


# -- item 6: Identomat, the same key on every path ------------------------------------------------


@pytest.mark.parametrize("spacing", ["compact", "spaced"])
def test_identomat_key_is_the_same_direct_deferred_and_replayed(
    tmp_path: Path, spacing: str
) -> None:
    payload = dict(IDENTOMAT_SAMPLES["session-change"])
    body, headers = sign("identomat", payload, IDENTOMAT_KEY)
    if spacing == "spaced":
        body = json.dumps(json.loads(body), indent=2).encode()
    seen: dict[str, list[str]] = {"direct": [], "deferred": [], "replayed": []}
    path = "direct"

    def make(store: kw.SQLiteStore, *, defer: bool) -> kw.Receiver:
        receiver = kw.Receiver(kw.Identomat(api_key=IDENTOMAT_KEY), store=store, defer=defer)

        @receiver.on("identomat", "*")
        def record(event: kw.WebhookEvent) -> None:
            seen[path].append(event.delivery_key)

        return receiver

    with kw.SQLiteStore(tmp_path / "direct.db") as store:
        direct = make(store, defer=False).handle(body, headers)
        assert direct.status_code == 200
        stored = store.get_by_key(direct.delivery_key or "")
        assert stored is not None
        path = "replayed"
        assert make(store, defer=False).replay(stored.id).status_code == 200
    with kw.SQLiteStore(tmp_path / "deferred.db") as store:
        deferred = make(store, defer=True).handle(body, headers)
        assert deferred.status_code == 202
        path = "deferred"
        assert make(store, defer=False).process_pending().succeeded == 1
        assert store.get_by_key(direct.delivery_key or "") is not None
    assert seen == {
        "direct": [direct.delivery_key],
        "deferred": [direct.delivery_key],
        "replayed": [direct.delivery_key],
    }
    assert deferred.delivery_key == direct.delivery_key


def test_identomat_key_survives_a_key_rotation_of_the_same_callback() -> None:
    # The credential is not part of the event: a resend signed with the next key is the same event.
    payload = dict(IDENTOMAT_SAMPLES["session-change"])
    old = kw.Receiver(kw.Identomat(api_key=["old-key", "new-key"]))
    first = old.parse(*sign("identomat", payload, "old-key"))
    second = old.parse(*sign("identomat", payload, "new-key"))
    assert first.delivery_key == second.delivery_key
    assert (
        first.delivery_key
        != old.parse(*sign("identomat", {**payload, "result": "REJECTED"}, "old-key")).delivery_key
    )
