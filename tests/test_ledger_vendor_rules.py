"""The vendors' verdicts in the decision ledger, as deliveries arrive (review R35), on every store:

* ComplyCube orders a check's or session's verdicts by the event's ``createdAt`` -- the resource's
  ``updatedAt`` need not move with a later event, so that an in-order monitoring re-screen was
  dropped as stale and a late retry of a session's completion replaced its newer update;
* a value this version does not know never replaces a final verdict (a ComplyCube re-screen's new
  outcome, an iDenfy identification ARCHIVED or with a new overall status);
* a later verdict that does not name the client keeps the verification's ``client_ref`` (it
  dropped out of ``for_client()``, and ``forget(client_ref=...)`` left it behind);
* iDenfy ``COMPANY_EXPIRATION`` with an ``expirationStatus`` this version does not know is an
  UNKNOWN decision, not none."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import kyc_webhooks as kw
from _stores import FakeClock
from kyc_webhooks.decisions import decide
from kyc_webhooks.store import Store
from kyc_webhooks.testing import REMOVE, sample_payload, set_path, sign

S = kw.DecisionStatus
SECRET = "ledger-rules-key"


class Ledger:
    """A receiver on ``store`` for ComplyCube and iDenfy, recording its decision handlers."""

    def __init__(self, store: Store) -> None:
        self.receiver = kw.Receiver(
            kw.ComplyCube(secret=SECRET), kw.Idenfy(signing_key=SECRET), store=store
        )
        self.seen: list[tuple[str, kw.DecisionStatus, bool, str | None]] = []

        @self.receiver.on_decision()
        def on_decision(decision: kw.Decision) -> None:
            self.seen.append(
                (decision.event_type, decision.status, decision.final, decision.client_ref)
            )

    def deliver(self, vendor: str, payload: Any, event_type: str | None = None) -> None:
        outcome = self.receiver.handle(*sign(vendor, payload, SECRET, event_type=event_type))
        assert outcome.status_code == 200, outcome.error


def complycube(event_type: str, event_id: str, created: str, **paths: Any) -> Any:
    payload = sample_payload("complycube", event_type)
    payload["id"], payload["createdAt"] = event_id, created
    payload["payload"]["id"] = "check-7"
    for path, value in paths.items():
        set_path(payload, path, value)
    return payload


def test_an_in_order_complycube_re_screen_overrides_a_validated_clear(any_store: Store) -> None:
    # The check's updatedAt stays at its first completion: the re-screen two weeks later was
    # ordered by it, judged older than the manual validation, and dropped.
    ledger = Ledger(any_store)
    first, validated = "2024-03-18T09:43:05.874Z", "2024-03-18T14:20:09.517Z"
    clear = complycube("check.completed.clear", "e1", first, payload__updatedAt=first)
    confirmed = complycube(
        "check.updated", "e2", validated, payload__updatedAt=validated, payload__outcome="confirmed"
    )
    rescreen = complycube(
        "check.monitoring.attention", "e3", "2024-04-02T03:00:11.251Z", payload__updatedAt=first
    )
    for payload in (clear, confirmed, rescreen):
        ledger.deliver("complycube", payload)
    latest = ledger.receiver.decisions.latest("complycube", "check-7")
    assert latest is not None
    assert (latest.status, latest.event_type) == (S.REVIEW, "check.monitoring.attention")
    assert [s[:2] for s in ledger.seen] == [
        ("check.completed.clear", S.APPROVED),
        ("check.monitoring.attention", S.REVIEW),
    ]


def test_a_late_retry_of_a_complycube_session_completion_keeps_the_newer_update(
    any_store: Store,
) -> None:
    ledger = Ledger(any_store)

    def session(event_type: str, event_id: str, created: str, outcome: str) -> Any:
        payload = sample_payload("complycube", event_type)
        payload["id"], payload["createdAt"] = event_id, created
        set_path(payload, "payload__id", "session-9")
        set_path(payload, "payload__outcome", outcome)
        set_path(payload, "payload__updatedAt", "2024-03-18T09:46:00.000Z")
        return payload

    updated = session("workflow.session.updated", "e2", "2024-03-18T11:02:00.000Z", "attention")
    completed = session("workflow.session.completed", "e1", "2024-03-18T09:46:00.000Z", "clear")
    ledger.deliver("complycube", updated)
    ledger.deliver("complycube", completed)  # ComplyCube's retry, after the newer update
    latest = ledger.receiver.decisions.latest("complycube", "session-9")
    assert latest is not None
    assert (latest.status, latest.event_type) == (S.REVIEW, "workflow.session.updated")
    assert [s[:2] for s in ledger.seen] == [("workflow.session.updated", S.REVIEW)]


def test_a_complycube_re_screen_with_an_unknown_outcome_keeps_a_confirmed_match(
    any_store: Store,
) -> None:
    ledger = Ledger(any_store)
    match = complycube("check.completed.match_confirmed", "e1", "2024-03-18T09:43:06.000Z")
    ledger.deliver("complycube", match)
    rescreen = complycube("check.monitoring.attention", "e2", "2024-04-02T03:00:11.251Z")
    rescreen["type"] = "check.monitoring.brand_new_outcome"
    set_path(rescreen, "payload__outcome", "brand_new_outcome")
    ledger.deliver("complycube", rescreen)
    latest = ledger.receiver.decisions.latest("complycube", "check-7")
    assert latest is not None
    assert (latest.status, latest.final) == (S.DECLINED, True)


@pytest.mark.parametrize(
    ("event_type", "outcome"),
    [
        ("check.completed", REMOVE),  # sent next to check.completed.<outcome>, maybe bare
        ("check.completed", "brand_new_outcome"),
        ("check.completed.brand_new_outcome", REMOVE),
    ],
)
def test_a_later_complycube_completion_without_a_known_outcome_keeps_a_rejection(
    any_store: Store, event_type: str, outcome: Any
) -> None:
    # Review R50: a later completion carrying no outcome (or one nobody has mapped) was UNKNOWN
    # and final, and replaced the check's rejection in the ledger.
    ledger = Ledger(any_store)
    ledger.deliver(
        "complycube", complycube("check.completed.rejected", "e1", "2024-03-18T09:43:06.100Z")
    )
    later = complycube("check.completed.rejected", "e2", "2024-03-18T09:43:06.200Z")
    later["type"] = event_type
    set_path(later, "payload__outcome", outcome)
    ledger.deliver("complycube", later)
    latest = ledger.receiver.decisions.latest("complycube", "check-7")
    assert latest is not None
    assert (latest.status, latest.final, latest.event_type) == (
        S.DECLINED,
        True,
        "check.completed.rejected",
    )


def test_a_complycube_session_completed_without_an_outcome_keeps_its_verdict(
    any_store: Store,
) -> None:
    ledger = Ledger(any_store)
    for event_id, created, outcome in (
        ("e1", "2024-03-18T09:46:00.000Z", "rejected"),
        ("e2", "2024-03-18T09:47:00.000Z", REMOVE),
    ):
        payload = sample_payload("complycube", "workflow.session.completed")
        payload["id"], payload["createdAt"] = event_id, created
        set_path(payload, "payload__id", "session-9")
        set_path(payload, "payload__outcome", outcome)
        ledger.deliver("complycube", payload)
    latest = ledger.receiver.decisions.latest("complycube", "session-9")
    assert latest is not None
    assert (latest.status, latest.final) == (S.DECLINED, True)


@pytest.mark.parametrize("overall", ["ARCHIVED", "DELETED", "BRAND_NEW_STATUS"])
def test_an_idenfy_identification_with_an_unknown_status_keeps_a_declined_verdict(
    any_store: Store, overall: str
) -> None:
    ledger = Ledger(any_store)
    label = "IDENTIFICATION_MANUAL_FINISHED"
    denied = sample_payload("idenfy", label, status__overall="DENIED", final=True)
    later = sample_payload("idenfy", label, status__overall=overall, final=True)
    later["finishTime"] = denied["finishTime"] + 60
    ledger.deliver("idenfy", denied, label)
    ledger.deliver("idenfy", later, label)
    latest = ledger.receiver.decisions.latest("idenfy", denied["scanRef"])
    assert latest is not None
    assert (latest.status, latest.final) == (S.DECLINED, True)
    event = ledger.receiver.parse(*sign("idenfy", later, SECRET, event_type=label))
    decision = decide(event)
    assert decision is not None
    assert (decision.status, decision.final) == (S.UNKNOWN, False)


def test_a_later_verdict_without_the_client_id_keeps_the_verifications_client_ref(
    any_store: Store, clock: FakeClock
) -> None:
    ledger = Ledger(any_store)
    clear = complycube(
        "check.completed.clear", "e1", "2024-03-18T09:43:06.000Z", payload__clientId="client-77"
    )
    ledger.deliver("complycube", clear)
    rescreen = complycube(
        "check.monitoring.attention", "e2", "2024-04-02T03:00:11.251Z", payload__clientId=REMOVE
    )
    ledger.deliver("complycube", rescreen)
    latest = ledger.receiver.decisions.latest("complycube", "check-7")
    assert latest is not None
    assert (latest.status, latest.client_ref) == (S.REVIEW, "client-77")
    assert [d.status for d in ledger.receiver.decisions.for_client("client-77")] == [S.REVIEW]
    # The decision handler was told whose it is, too.
    assert ledger.seen[-1] == ("check.monitoring.attention", S.REVIEW, True, "client-77")
    # Retention erased the bodies: forget(client_ref=...) still finds the verdict.
    clock.advance(60)
    assert any_store.erase_bodies(older_than=timedelta(seconds=1)) == 2
    ledger.receiver.decisions.forget(client_ref="client-77")
    assert ledger.receiver.decisions.latest("complycube", "check-7") is None


def test_an_unknown_company_expiration_status_is_an_unknown_decision() -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=SECRET))
    for value, expected in (("EXPIRED", (S.EXPIRED, True)), ("expired", (S.UNKNOWN, False))):
        payload = sample_payload("idenfy", "COMPANY_EXPIRATION", expirationStatus=value)
        event = receiver.parse(*sign("idenfy", payload, SECRET, event_type="COMPANY_EXPIRATION"))
        decision = decide(event)
        assert decision is not None
        assert (decision.status, decision.final) == expected
    reminder = sample_payload("idenfy", "COMPANY_EXPIRATION", expirationStatus="PENDING")
    event = receiver.parse(*sign("idenfy", reminder, SECRET, event_type="COMPANY_EXPIRATION"))
    assert decide(event) is None  # "nearing expiry": a reminder, no verdict


def test_an_identomat_session_back_at_an_earlier_result_is_a_duplicate(
    any_store: Store, clock: FakeClock
) -> None:
    """Identomat's callback has no event id and no time: a session back at MANUAL_CHECK (after
    ADDITIONAL_INFORMATION_REQUESTED) sends the earlier callback's bytes again, which cannot be
    told from a resend. It is answered as a duplicate and the ledger keeps the state in between --
    the documented choice (docs/decisions.md, "Identomat"), safer than a late resend of an old
    APPROVED overturning a REJECTED (review R42)."""
    receiver = kw.Receiver(kw.Identomat(api_key=SECRET), store=any_store)
    seen: list[kw.DecisionStatus] = []
    receiver.on_decision()(lambda decision: seen.append(decision.status))
    session = "s" * 40
    answers = []
    for result in ("MANUAL_CHECK", "ADDITIONAL_INFORMATION_REQUESTED", "MANUAL_CHECK"):
        payload = sample_payload("identomat", "session-change", sessionId=session, result=result)
        outcome = receiver.handle(*sign("identomat", payload, SECRET))
        answers.append((outcome.status_code, outcome.duplicate))
        clock.advance(60)  # no time in the body: the store's receipt orders the verdicts
    assert answers == [(200, False), (200, False), (200, True)]
    assert seen == [S.REVIEW, S.PENDING]
    latest = receiver.decisions.latest("identomat", session)
    assert latest is not None
    assert latest.status is S.PENDING


def test_an_identomat_session_reopened_and_approved_again_ends_approved(
    any_store: Store, clock: FakeClock
) -> None:
    """MANUAL_CHECK -> APPROVED -> reopened (ADDITIONAL_INFORMATION_REQUESTED) -> APPROVED again:
    the last APPROVED repeats the first one's bytes (a duplicate). APPROVED is final, so the
    reopening does not replace it and the session ends APPROVED. Making every result final (tried
    and reverted in the fourteenth session) left it PENDING for good, the re-approval never told
    to the decision handlers (docs/decisions.md, "Identomat")."""
    receiver = kw.Receiver(kw.Identomat(api_key=SECRET), store=any_store)
    seen: list[tuple[kw.DecisionStatus, bool]] = []
    receiver.on_decision()(lambda decision: seen.append((decision.status, decision.final)))
    session = "r" * 40
    results = ("MANUAL_CHECK", "APPROVED", "ADDITIONAL_INFORMATION_REQUESTED", "APPROVED")
    duplicates = []
    for result in results:
        payload = sample_payload("identomat", "session-change", sessionId=session, result=result)
        outcome = receiver.handle(*sign("identomat", payload, SECRET))
        assert outcome.status_code == 200
        duplicates.append(outcome.duplicate)
        clock.advance(60)
    assert duplicates == [False, False, False, True]
    assert seen == [(S.REVIEW, False), (S.APPROVED, True)]
    latest = receiver.decisions.latest("identomat", session)
    assert latest is not None
    assert (latest.status, latest.final) == (S.APPROVED, True)
