"""Decisions that review found wrong, each reproduced through a real Receiver, with and without a
store (memory, and SQLite on a real file):

* ComplyCube types under ``check.completed``/``check.monitoring.`` that are not an outcome family
  member (``check.completed.clear.v2``) are unknown events: no decision, 200 -- not an
  AttributeError, a 500 on every retry, and a disabled webhook after ten.
* A ``FACIAL_AUTHENTICATION`` without ``id`` has its own subject, never the identification's
  scanRef, and none shared with unrelated authentications.
* The unsigned ``Idenfy-Event-Type`` header never decides an identification's verdict: the same
  signed body has the same decision under every label.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from _vectors import Vector, vector_params, vectors
from kyc_webhooks.testing import REMOVE, sample_payload, sign, signed_delivery

S = kw.DecisionStatus
IDENFY_KEY = "k-idenfy-review"
COMPLYCUBE_KEY = "k-complycube-review"
STORES = ("none", "memory", "sqlite")


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[kw.Store | None]:
    """No store, a MemoryStore, or a SQLiteStore on a real file."""
    if request.param == "none":
        yield None
    elif request.param == "memory":
        yield kw.MemoryStore()
    else:
        with kw.SQLiteStore(tmp_path / "webhooks.db") as sqlite_store:
            yield sqlite_store


class Recorder:
    """A receiver with a catch-all event handler and a decision handler for every decision."""

    def __init__(self, vendor: kw.Vendor, store: kw.Store | None) -> None:
        self.receiver = kw.Receiver(vendor, store=store)
        self.events: list[kw.WebhookEvent] = []
        self.decisions: list[kw.Decision] = []
        self.receiver.on("*")(self.events.append)
        self.receiver.on_decision()(self.decisions.append)

    def handle(self, delivery: tuple[bytes, Any]) -> kw.Outcome:
        return self.receiver.handle(*delivery)


# -- 1. ComplyCube: unknown types under the outcome prefixes carry no decision ------------------

#: Types that start like an outcome family member but are none (two segments after the family,
#: a sibling of ``check.completed``, the v1.7.2 spelling of the first).
UNKNOWN_CHECK_TYPES = [
    "check.completed.clear.v2",
    "check.completed_v2",
    "check.completedX",
    "check.monitoring.match.new",
    "check.complete.clear.v2",
]
UNKNOWN_TYPE_VECTORS = [v for v in vectors("complycube") if v.name.startswith("unknown_type_check")]


def _complycube(event_type: str) -> tuple[bytes, dict[str, str]]:
    payload = sample_payload("complycube", "check.completed.clear", type=event_type)
    return sign("complycube", payload, COMPLYCUBE_KEY)


def test_the_vectors_hold_unknown_types_under_both_outcome_prefixes() -> None:
    types = {v.expected.event_type for v in UNKNOWN_TYPE_VECTORS}
    assert {"check.completed.clear.v2", "check.completed_v2", "check.monitoring.match.new"} <= types
    assert all(v.expected.model == "ComplyCubeUnknownEvent" for v in UNKNOWN_TYPE_VECTORS)


@pytest.mark.parametrize("event_type", UNKNOWN_CHECK_TYPES)
def test_unknown_check_type_is_an_unknown_event_without_a_decision(event_type: str) -> None:
    event = kw.Receiver(kw.ComplyCube(secret=COMPLYCUBE_KEY)).parse(*_complycube(event_type))
    assert isinstance(event, kw.UnknownEvent)
    assert event.decision is None


@pytest.mark.parametrize("event_type", UNKNOWN_CHECK_TYPES)
def test_unknown_check_type_answers_200_and_runs_no_decision_handler(
    event_type: str, store: kw.Store | None
) -> None:
    recorder = Recorder(kw.ComplyCube(secret=COMPLYCUBE_KEY), store)
    delivery = _complycube(event_type)
    for _ in range(2):  # a retry (with a store: a duplicate) answers the same
        outcome = recorder.handle(delivery)
        assert outcome.status_code == 200, outcome.response_body()
        assert outcome.error is None
    assert len(recorder.events) == (1 if store is not None else 2)
    assert recorder.decisions == []


@pytest.mark.parametrize(
    ("event_type", "outcome", "status"),
    [
        ("check.completed.brand_new", REMOVE, S.UNKNOWN),
        ("check.completed.brand_new", "clear", S.APPROVED),
        ("check.monitoring.brand_new", "rejected", S.DECLINED),
        ("check.complete.brand_new", "brand_new", S.UNKNOWN),
    ],
)
def test_an_undocumented_outcome_in_a_family_is_decided_from_the_payload(
    event_type: str, outcome: Any, status: kw.DecisionStatus
) -> None:
    payload = sample_payload(
        "complycube", "check.completed.clear", type=event_type, payload__outcome=outcome
    )
    event = kw.Receiver(kw.ComplyCube(secret=COMPLYCUBE_KEY)).parse(
        *sign("complycube", payload, COMPLYCUBE_KEY)
    )
    assert not isinstance(event, kw.UnknownEvent)  # the models' open outcome families
    decision = event.decision
    assert decision is not None
    # An outcome nobody has mapped is never final (review R50): it must not replace a verdict.
    assert (decision.status, decision.final) == (status, status is not S.UNKNOWN)


@pytest.mark.parametrize("vector", vector_params())
def test_every_vector_is_decided_without_error_with_and_without_a_store(
    vector: Vector, store: kw.Store | None
) -> None:
    recorder = Recorder(vector.make_vendor(), store)
    outcome = recorder.handle((vector.body, vector.headers))
    assert outcome.status_code == vector.expected.status, outcome.response_body()
    assert outcome.error is None
    (event,) = recorder.events
    if isinstance(event, kw.UnknownEvent):
        assert recorder.decisions == []
    assert recorder.decisions == ([] if event.decision is None else [event.decision])


# -- 2. iDenfy FACIAL_AUTHENTICATION: its own subject --------------------------------------------


def _identification(overall: str = "APPROVED") -> tuple[bytes, dict[str, str]]:
    return signed_delivery(
        "idenfy", "IDENTIFICATION_MANUAL_FINISHED", IDENFY_KEY, status__overall=overall, final=True
    )


def _face_auth(**overrides: Any) -> tuple[bytes, dict[str, str]]:
    return signed_delivery("idenfy", "FACIAL_AUTHENTICATION", IDENFY_KEY, **overrides)


def _parse(delivery: tuple[bytes, dict[str, str]]) -> Any:
    return kw.Receiver(kw.Idenfy(signing_key=IDENFY_KEY)).parse(*delivery)


def test_failed_facial_authentication_without_id_keeps_the_identification_verdict(
    store: kw.Store | None,
) -> None:
    recorder = Recorder(kw.Idenfy(signing_key=IDENFY_KEY), store)
    identification = _identification()
    scan_ref = _parse(identification).scan_ref
    authentication = _face_auth(id=REMOVE, status="FAILED")  # the vendor's example has no id
    assert _parse(authentication).scan_ref == scan_ref  # the identification it authenticates

    assert recorder.handle(identification).status_code == 200
    assert recorder.handle(authentication).status_code == 200

    approved, declined = recorder.decisions
    assert (approved.status, approved.final, approved.subject) == (S.APPROVED, True, scan_ref)
    assert (declined.status, declined.final) == (S.DECLINED, True)
    assert declined.subject != scan_ref
    if store is not None:
        latest = recorder.receiver.decisions.latest("idenfy", scan_ref)
        assert latest is not None
        assert (latest.status, latest.event_type) == (S.APPROVED, "IDENTIFICATION_MANUAL_FINISHED")
        own = recorder.receiver.decisions.latest("idenfy", declined.subject)
        assert own is not None
        assert (own.status, own.event_type) == (S.DECLINED, "FACIAL_AUTHENTICATION")


def test_facial_authentication_subject_without_id_is_its_token_namespaced_and_digested() -> None:
    token = "Vb7nM2kQ9xL4wR8tC1zY6uH3jP0aE5sG"
    decision = _parse(_face_auth(id=REMOVE, token=token)).decision
    assert decision is not None
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert decision.subject == f"FACIAL_AUTHENTICATION:token-sha256:{digest}"
    assert token not in repr(decision)  # the token is a credential


def test_facial_authentications_without_id_have_one_subject_per_session() -> None:
    one = _parse(_face_auth(id=REMOVE, token="session-one", status="PENDING")).decision
    same = _parse(_face_auth(id=REMOVE, token="session-one", status="SUCCESS")).decision
    other = _parse(_face_auth(id=REMOVE, token="session-two", status="SUCCESS")).decision
    assert one is not None
    assert same is not None
    assert other is not None
    assert one.subject == same.subject  # the session's PENDING, then its verdict
    assert other.subject != one.subject  # unrelated authentications are never lumped


@pytest.mark.parametrize("token", [REMOVE, None, ""])
def test_facial_authentication_without_any_identifier_has_no_decision(
    token: Any, store: kw.Store | None
) -> None:
    recorder = Recorder(kw.Idenfy(signing_key=IDENFY_KEY), store)
    recorder.handle(_identification())
    for status in ("FAILED", "SUCCESS"):
        outcome = recorder.handle(_face_auth(id=REMOVE, token=token, status=status))
        assert outcome.status_code == 200
        assert outcome.event is not None
        assert outcome.event.decision is None
    assert [d.event_type for d in recorder.decisions] == ["IDENTIFICATION_MANUAL_FINISHED"]
    assert len(recorder.events) == 3  # the handlers still run


def test_facial_authentication_with_id_keeps_its_id_as_subject() -> None:
    event = _parse(_face_auth(status="FAILED"))
    decision = event.decision
    assert decision is not None
    assert event.id
    assert decision.subject == event.id  # unchanged: a store's ledger keeps these subjects


# -- 3. iDenfy: the unsigned Idenfy-Event-Type header never decides the verdict -----------------

IDENTIFICATION_LABELS = [
    "IDENTIFICATION",
    "IDENTIFICATION_AUTO_FINISHED",
    "IDENTIFICATION_MANUAL_FINISHED",
    "IDENTIFICATION_RESUBMITTED",
    "IDENTIFICATION_CANCELLED",
    "IDENTIFICATION_CANCELED",
    "ID_VERIFICATION_CANCELLED",
    "ID_VERIFICATION_CANCELED",
    "IDENTIFICATION_EXPIRED",
    "ID_VERIFICATION_AUTO_FINISHED",
    "MADE_UP_TYPE",
]


def _relabelled(delivery: tuple[bytes, dict[str, str]], label: str) -> tuple[bytes, dict[str, str]]:
    """The same signed body under another ``Idenfy-Event-Type``: what anyone who captured it can
    send (the header is not signed)."""
    body, headers = delivery
    return body, {**headers, "Idenfy-Event-Type": label}


@pytest.mark.parametrize("label", IDENTIFICATION_LABELS)
@pytest.mark.parametrize(
    ("overall", "status"),
    [
        ("APPROVED", S.APPROVED),
        ("DENIED", S.DECLINED),
        ("SUSPECTED", S.REVIEW),
        ("EXPIRED", S.EXPIRED),  # the body says it: status.overall
        ("REVIEWING", S.PENDING),
        ("ACTIVE", S.PENDING),
    ],
)
def test_a_signed_identification_body_has_one_decision_under_every_label(
    label: str, overall: str, status: kw.DecisionStatus
) -> None:
    genuine = _identification(overall)
    expected = _parse(genuine).decision
    decision = _parse(_relabelled(genuine, label)).decision
    assert expected is not None
    assert decision is not None
    assert (decision.status, decision.final, decision.subject, decision.reasons) == (
        status,
        # the body says final: true; PENDING (REVIEWING/ACTIVE) decides nothing and is never
        # final (tests/test_decisions_contradictions.py)
        status is not S.PENDING,
        expected.subject,
        expected.reasons,
    )


def test_a_replayed_approved_body_labelled_cancelled_or_expired_stays_approved(
    store: kw.Store | None,
) -> None:
    recorder = Recorder(kw.Idenfy(signing_key=IDENFY_KEY), store)
    genuine = _identification("APPROVED")
    scan_ref = _parse(genuine).scan_ref
    # The relabelled copies first: with a store, the first copy of a body fixes its label.
    for label in ("IDENTIFICATION_CANCELLED", "IDENTIFICATION_EXPIRED"):
        assert recorder.handle(_relabelled(genuine, label)).status_code == 200
    assert recorder.handle(genuine).status_code == 200
    assert {(d.status, d.final) for d in recorder.decisions} == {(S.APPROVED, True)}
    if store is not None:
        assert len(recorder.decisions) == 1  # one body, one delivery key: the rest duplicates
        latest = recorder.receiver.decisions.latest("idenfy", scan_ref)
        assert latest is not None
        assert (latest.status, latest.final) == (S.APPROVED, True)


def test_a_cancelled_callback_decides_what_its_body_says() -> None:
    denied = _parse(signed_delivery("idenfy", "IDENTIFICATION_CANCELLED", IDENFY_KEY)).decision
    assert denied is not None
    assert denied.event_type == "IDENTIFICATION_CANCELLED"  # the label, for reading
    assert (denied.status, denied.final) == (S.DECLINED, True)  # the sample body: DENIED
    active = _parse(
        signed_delivery(
            "idenfy",
            "IDENTIFICATION_CANCELLED",
            IDENFY_KEY,
            status__overall="ACTIVE",
            final=REMOVE,
        )
    ).decision
    assert active is not None
    assert (active.status, active.final) == (S.PENDING, False)


def test_a_legacy_body_without_final_gets_finality_from_the_body_not_the_label() -> None:
    # Without ``final`` a label may only withhold finality (IdentificationEvent.is_final: an
    # ``…_AUTO_FINISHED`` may be preliminary); it never changes the status.
    assert "final" not in sample_payload("idenfy", "IDENTIFICATION")  # a legacy body
    legacy = signed_delivery("idenfy", "IDENTIFICATION", IDENFY_KEY, status__overall="APPROVED")
    for label in IDENTIFICATION_LABELS:
        decision = _parse(_relabelled(legacy, label)).decision
        assert decision is not None
        assert decision.status is S.APPROVED
        maybe_preliminary = ("AUTO_FINISHED", "RESUBMITTED")
        if not label.endswith(maybe_preliminary):
            assert decision.final is True


# -- iDenfy AGE_ESTIMATION: its scanRef may be an identification's (the step-up) ---------------


@pytest.mark.parametrize("age_first", [False, True], ids=["identification-first", "age-first"])
def test_an_age_estimation_with_a_step_up_scan_ref_keeps_the_identification_verdict(
    age_first: bool, store: kw.Store | None
) -> None:
    # https://documentation.idenfy.com/api-reference/webhooks/age-estimation-result: ``scanRef``
    # is "the step-up scan reference, or the token id when there is no scan ref" -- after a
    # document step-up, the scanRef of an identification.
    recorder = Recorder(kw.Idenfy(signing_key=IDENFY_KEY), store)
    identification = _identification("APPROVED")
    scan_ref = _parse(identification).scan_ref
    age = signed_delivery(
        "idenfy",
        "AGE_ESTIMATION",
        IDENFY_KEY,
        scanRef=scan_ref,
        outcome="UNDERAGE",
        occurredAt="2099-01-01T00:00:00Z",  # later than the identification, whatever the order
    )
    for delivery in (age, identification) if age_first else (identification, age):
        assert recorder.handle(delivery).status_code == 200
    by_type = {d.event_type: d for d in recorder.decisions}
    underage = by_type["AGE_ESTIMATION"]
    assert (underage.status, underage.final) == (S.DECLINED, True)
    if store is not None:
        latest = recorder.receiver.decisions.latest("idenfy", scan_ref)
        assert latest is not None
        assert (latest.status, latest.event_type) == (S.APPROVED, "IDENTIFICATION_MANUAL_FINISHED")
        own = recorder.receiver.decisions.latest("idenfy", underage.subject)
        assert own is not None
        assert own.status is S.DECLINED
    assert underage.subject == f"AGE_ESTIMATION:{scan_ref}"  # its own, namespaced


def test_facial_authentication_reasons_are_codes_never_the_free_text_fail_reason() -> None:
    free_text = "Face of Jūratė Petrauskienė did not match the document photo"
    event = _parse(
        _face_auth(status="FAILED", failReason=free_text, riskTags=["UNTRUSTED_ENVIRONMENT"])
    )
    assert event.fail_reason == free_text  # still on the event for handlers that want it
    decision = event.decision
    assert decision is not None
    assert decision.reasons == ("UNTRUSTED_ENVIRONMENT",)
    assert free_text not in repr(decision)


@pytest.mark.parametrize("event_type", ["check.monitoring.", "check.completed."])
def test_an_empty_complycube_outcome_is_no_outcome_family(event_type: str) -> None:
    from kyc_webhooks.complycube.models import ComplyCubeUnknownEvent, outcome_family

    assert outcome_family(event_type) is None
    body, headers = signed_delivery("complycube", "check.completed.clear", "s", type=event_type)
    receiver = kw.Receiver(kw.ComplyCube(secret="s"))
    event = receiver.parse(body, headers)
    assert isinstance(event, ComplyCubeUnknownEvent)
    assert event.decision is None
    assert receiver.handle(body, headers).status_code == 200


@pytest.mark.parametrize(
    "call",
    [
        lambda d: d.latest("identomat", None),
        lambda d: d.latest("identomat", 5),
        lambda d: d.latest(None, "subject"),
        lambda d: d.for_client(None),
        lambda d: d.for_client(5),
    ],
    ids=["subject-none", "subject-int", "vendor-none", "client-none", "client-int"],
)
def test_the_ledgers_readers_refuse_what_is_not_a_str(call: Any, tmp_path: Path) -> None:
    """``latest("identomat", None)`` was a raw AttributeError (the subject's hashing), and the
    others quietly answered nothing (a helper audit): a caller's mistake is a UsageError."""
    with kw.SQLiteStore(tmp_path / "inbox.sqlite3") as store:
        receiver = kw.Receiver(kw.Identomat(api_key="k-ident"), store=store)
        with pytest.raises(kw.UsageError, match="as str"):
            call(receiver.decisions)
