"""Verdicts of bodies whose fields disagree, or that carry a value the vendor does not document as
a check's outcome: never APPROVED on a guess, never a final verdict the body itself denies.

* ComplyCube ``confirmed`` is a manual *validation* input, not a check outcome: for a screening
  check it confirms a match (the check becomes ``match_confirmed``), for a document or identity
  check it makes the check ``clear``
  (https://docs.complycube.com/api-reference/v.1.7.2/checks/validate-a-check).
* ComplyCube ``check.completed.<outcome>`` / ``check.monitoring.attention`` whose payload says
  another outcome, or whose payload ``status`` is not ``complete`` (an outcome is sent "only when
  status = complete",
  https://docs.complycube.com/documentation/api-reference/other-resources/webhooks).
* iDenfy ``FACIAL_AUTHENTICATION`` with a ``status`` this version does not know.
* iDenfy ``AGE_ESTIMATION`` ``outcome: SUCCESS`` with ``status: FAILED``.
* iDenfy ``AML_MONITORING`` ``alertStatus: ACCEPTED`` while the v3 ``status`` is ``ALERT``.
"""

from __future__ import annotations

from typing import Any

import pytest

import kyc_webhooks as kw
from kyc_webhooks.testing import sample_payload, set_path, sign, signed_delivery

S = kw.DecisionStatus
KEY = "k-contradictions"


def _idenfy(event_type: str, **overrides: Any) -> kw.Decision:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY))
    decision = receiver.parse(*signed_delivery("idenfy", event_type, KEY, **overrides)).decision
    assert decision is not None
    return decision


def _complycube(event_type: str, **paths: Any) -> kw.Decision:
    payload = sample_payload("complycube", event_type)
    for path, value in paths.items():
        set_path(payload, path, value)
    receiver = kw.Receiver(kw.ComplyCube(secret=KEY))
    decision = receiver.parse(*sign("complycube", payload, KEY)).decision
    assert decision is not None
    return decision


# -- ComplyCube ----------------------------------------------------------------------------------


def test_complycube_validation_input_confirmed_is_never_approved() -> None:
    # For a screening check "confirmed" confirms a watch-list match: APPROVED would be backwards.
    decision = _complycube("check.updated", payload__outcome="confirmed")
    assert decision.status is not S.APPROVED
    assert (decision.status, decision.final, decision.reasons) == (S.UNKNOWN, False, ("confirmed",))


@pytest.mark.parametrize(
    ("event_type", "outcome"),
    [
        ("check.monitoring.attention", "clear"),
        ("check.complete.attention", "clear"),  # the v1.7.2 spelling
        ("check.completed.clear", "attention"),
    ],
)
def test_complycube_type_and_payload_outcome_disagree_is_review(
    event_type: str, outcome: str
) -> None:
    decision = _complycube(event_type, payload__outcome=outcome)
    assert (decision.status, decision.final) == (S.REVIEW, True)
    assert outcome in decision.reasons


@pytest.mark.parametrize(
    ("event_type", "outcome"),
    [
        ("check.completed.rejected", "clear"),
        ("check.completed.match_confirmed", "clear"),
        ("check.completed.clear", "rejected"),
        ("check.monitoring.attention", "match_confirmed"),
        ("check.completed.rejected", "attention"),
    ],
)
def test_complycube_disagreement_where_one_side_refuses_is_declined(
    event_type: str, outcome: str
) -> None:
    """A refusal on either side stays a refusal: a REVIEW could replace the check's DECLINED in
    the ledger and be announced (review of the contradiction rule)."""
    decision = _complycube(event_type, payload__outcome=outcome)
    assert (decision.status, decision.final) == (S.DECLINED, True)
    assert outcome in decision.reasons


def test_complycube_type_and_payload_outcome_agree_is_unchanged() -> None:
    decision = _complycube("check.completed.rejected", payload__outcome="rejected")
    assert (decision.status, decision.final) == (S.DECLINED, True)


@pytest.mark.parametrize("status", ["pending", "failed", "brand_new"])
@pytest.mark.parametrize("event_type", ["check.completed.clear", "check.completed"])
def test_complycube_completion_of_a_check_not_complete_is_not_a_verdict(
    event_type: str, status: str
) -> None:
    decision = _complycube(event_type, payload__status=status, payload__outcome="clear")
    assert (decision.status, decision.final) == (S.UNKNOWN, False)


def test_complycube_completion_with_status_complete_is_unchanged() -> None:
    decision = _complycube("check.completed.clear", payload__status="complete")
    assert (decision.status, decision.final) == (S.APPROVED, True)


@pytest.mark.parametrize("event_type", ["workflow.session.completed", "workflow.session.updated"])
@pytest.mark.parametrize("status", ["abandoned", "processing"])
def test_complycube_session_outcome_of_a_session_not_complete_is_not_a_verdict(
    event_type: str, status: str
) -> None:
    decision = _complycube(event_type, payload__status=status, payload__outcome="clear")
    assert (decision.status, decision.final) == (S.UNKNOWN, False)


def test_complycube_session_outcome_of_a_complete_session_is_unchanged() -> None:
    decision = _complycube(
        "workflow.session.completed", payload__status="complete", payload__outcome="clear"
    )
    assert (decision.status, decision.final) == (S.APPROVED, True)


# -- iDenfy --------------------------------------------------------------------------------------


def test_idenfy_facial_authentication_unknown_status_is_not_final() -> None:
    decision = _idenfy("FACIAL_AUTHENTICATION", status="IN_PROGRESS")
    assert (decision.status, decision.final) == (S.UNKNOWN, False)


def test_idenfy_age_estimation_success_of_a_failed_session_is_not_approved() -> None:
    decision = _idenfy("AGE_ESTIMATION", status="FAILED", outcome="SUCCESS")
    assert (decision.status, decision.final) == (S.REVIEW, True)
    assert decision.reasons == ("SUCCESS", "FAILED")


def test_idenfy_age_estimation_success_of_a_completed_session_is_approved() -> None:
    decision = _idenfy("AGE_ESTIMATION", status="COMPLETED", outcome="SUCCESS")
    assert (decision.status, decision.final) == (S.APPROVED, True)


def test_idenfy_aml_accepted_while_v3_status_alerts_is_review() -> None:
    decision = _idenfy("AML_MONITORING", alertStatus="ACCEPTED", status="ALERT")
    assert (decision.status, decision.final) == (S.REVIEW, True)


def test_idenfy_aml_accepted_while_v3_status_is_active_is_approved() -> None:
    decision = _idenfy("AML_MONITORING", alertStatus="ACCEPTED", status="ACTIVE")
    assert (decision.status, decision.final) == (S.APPROVED, True)


@pytest.mark.parametrize("overall", ["REVIEWING", "ACTIVE"])
def test_idenfy_final_flag_on_a_status_without_a_verdict_is_not_final(overall: str) -> None:
    # ``final: true`` next to an overall status that decides nothing is a contradiction: PENDING,
    # and not final -- a final PENDING replaced a final DECLINED of the same scanRef.
    decision = _idenfy("IDENTIFICATION_MANUAL_FINISHED", final=True, status__overall=overall)
    assert (decision.status, decision.final) == (S.PENDING, False)


def test_idenfy_final_pending_after_a_denial_leaves_the_denial_standing() -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore())
    deliveries = [
        signed_delivery(
            "idenfy",
            "IDENTIFICATION_MANUAL_FINISHED",
            KEY,
            scanRef="scan-denied-then-reviewing",
            final=True,
            finishTime=finish,
            status__overall=overall,
        )
        for overall, finish in (("DENIED", 1_700_000_000), ("REVIEWING", 1_700_000_600))
    ]
    for body, headers in deliveries:
        assert receiver.handle(body, headers).status_code == 200
    latest = receiver.decisions.latest("idenfy", "scan-denied-then-reviewing")
    assert latest is not None
    assert (latest.status, latest.final) == (S.DECLINED, True)
