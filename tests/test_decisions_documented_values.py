"""Decisions of documented vendor values that review found mapped wrong, each through a signed
body parsed by a real Receiver, and through the ledger of a real store (memory, SQLite file):

* iDenfy ``AML_MONITORING``: the deprecated v2 ``alertStatus`` holds a reviewer's verdict and the
  alert, the v3 ``status`` next to it (required too) never does; iDenfy's own example sends
  ``alertStatus: ALERT`` with ``status: ACTIVE``
  (https://documentation.idenfy.com/api-reference/webhooks/aml-monitoring).
* iDenfy ``AGE_ESTIMATION`` is sent at a terminal state (``status`` ``COMPLETED``/``FAILED``), its
  ``outcome`` nullable: no outcome is a final UNKNOWN, not a PENDING that waits forever
  (https://documentation.idenfy.com/api-reference/webhooks/age-estimation-result).
* ComplyCube ``check.updated``: the v1.7.2 manual validation outcome ``pending`` (listed in place
  of ``attention``, https://docs.complycube.com/api-reference/v.1.7.2/checks/validate-a-check) is
  REVIEW like ``attention``; an outcome this version does not know is not final there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from kyc_webhooks.testing import REMOVE, sample_payload, set_path, sign, signed_delivery

S = kw.DecisionStatus
IDENFY_KEY = "k-idenfy-values"
COMPLYCUBE_KEY = "k-complycube-values"


@pytest.fixture(params=("memory", "sqlite"))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[kw.Store]:
    """A MemoryStore, or a SQLiteStore on a real file."""
    if request.param == "memory":
        yield kw.MemoryStore()
    else:
        with kw.SQLiteStore(tmp_path / "webhooks.db") as sqlite_store:
            yield sqlite_store


def _idenfy(event_type: str, **overrides: Any) -> tuple[bytes, dict[str, str]]:
    return signed_delivery("idenfy", event_type, IDENFY_KEY, **overrides)


def _payload(delivery: tuple[bytes, dict[str, str]]) -> Any:
    return json.loads(delivery[0])


def _decision(receiver: kw.Receiver, delivery: tuple[bytes, dict[str, str]]) -> kw.Decision:
    decision = receiver.parse(*delivery).decision
    assert decision is not None
    return decision


# -- iDenfy AML_MONITORING -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alert_status", "status", "expected", "final"),
    [
        ("ALERT", "ACTIVE", S.REVIEW, True),  # iDenfy's own webhook example
        ("DECLINED", "ACTIVE", S.DECLINED, True),  # a reviewer's verdict: only in alertStatus
        ("ACCEPTED", "ACTIVE", S.APPROVED, True),
        ("DECLINED", "PENDING", S.DECLINED, True),
        ("ALERT", "ALERT", S.REVIEW, True),
        # alertStatus says nothing decisive: the v3 status decides
        ("PENDING", "ALERT", S.REVIEW, True),
        ("STATUS", "STOPPED", S.CANCELLED, True),
        ("PENDING", "ACTIVE", S.PENDING, False),
        (REMOVE, "ALERT", S.REVIEW, True),
        ("BRAND_NEW", "ACTIVE", S.PENDING, False),  # an unknown alertStatus is not decisive
        ("PENDING", "BRAND_NEW", S.UNKNOWN, False),  # an unknown status is not a final verdict
    ],
)
def test_aml_monitoring_alert_status_decides_before_the_v3_status(
    alert_status: Any, status: str, expected: kw.DecisionStatus, final: bool
) -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=IDENFY_KEY))
    delivery = _idenfy("AML_MONITORING", alertStatus=alert_status, status=status)
    decision = _decision(receiver, delivery)
    assert (decision.status, decision.final) == (expected, final)
    assert decision.subject == _payload(delivery)["monitoringId"]


def test_aml_alert_after_an_accepted_one_replaces_the_approval_in_the_ledger(
    store: kw.Store,
) -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=IDENFY_KEY), store=store)
    changes: list[tuple[kw.DecisionStatus, bool]] = []
    receiver.on_decision()(lambda d: changes.append((d.status, d.final)))
    accepted = _idenfy("AML_MONITORING", alertStatus="ACCEPTED", status="ACTIVE")
    alert = _idenfy("AML_MONITORING", alertStatus="ALERT", status="ACTIVE")
    declined = _idenfy("AML_MONITORING", alertStatus="DECLINED", status="ACTIVE")
    monitoring_id = _payload(alert)["monitoringId"]

    assert receiver.handle(*accepted).status_code == 200
    latest = receiver.decisions.latest("idenfy", monitoring_id)
    assert latest is not None
    assert (latest.status, latest.final) == (S.APPROVED, True)

    assert receiver.handle(*alert).status_code == 200  # new hits on a monitored person
    latest = receiver.decisions.latest("idenfy", monitoring_id)
    assert latest is not None
    assert (latest.status, latest.final) == (S.REVIEW, True)

    assert receiver.handle(*declined).status_code == 200  # the reviewer declines
    latest = receiver.decisions.latest("idenfy", monitoring_id)
    assert latest is not None
    assert (latest.status, latest.final) == (S.DECLINED, True)
    assert changes == [(S.APPROVED, True), (S.REVIEW, True), (S.DECLINED, True)]


# -- iDenfy AGE_ESTIMATION -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome", "expected", "final", "reasons"),
    [
        ("FAILED", None, S.UNKNOWN, True, ("FAILED",)),  # terminal, no verdict
        ("COMPLETED", None, S.UNKNOWN, True, ("COMPLETED",)),
        ("FAILED", "ATTEMPTS_EXCEEDED", S.DECLINED, True, ("ATTEMPTS_EXCEEDED",)),
        ("COMPLETED", "SUCCESS", S.APPROVED, True, ("SUCCESS",)),
        ("COMPLETED", "LIVENESS_FAILED", S.UNKNOWN, False, ("LIVENESS_FAILED",)),  # new value
        ("BRAND_NEW", None, S.PENDING, False, ("BRAND_NEW",)),  # not known to be terminal
        (REMOVE, None, S.PENDING, False, ()),
    ],
)
def test_age_estimation_at_a_terminal_status_without_outcome_is_a_final_unknown(
    status: Any,
    outcome: str | None,
    expected: kw.DecisionStatus,
    final: bool,
    reasons: tuple[str, ...],
) -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=IDENFY_KEY))
    delivery = _idenfy(
        "AGE_ESTIMATION",
        status=status,
        outcome=outcome,
        verdict=None,
        estimatedAge=None,
        confidence=None,
    )
    decision = _decision(receiver, delivery)
    assert (decision.status, decision.final, decision.reasons) == (expected, final, reasons)


def test_a_failed_age_estimation_is_the_final_entry_of_its_session_in_the_ledger(
    store: kw.Store,
) -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=IDENFY_KEY), store=store)
    failed = _idenfy("AGE_ESTIMATION", status="FAILED", outcome=None, verdict=None)
    assert receiver.handle(*failed).status_code == 200
    decision = _decision(receiver, failed)
    latest = receiver.decisions.latest("idenfy", decision.subject)
    assert latest is not None
    assert (latest.status, latest.final) == (S.UNKNOWN, True)


def test_an_age_outcome_this_version_does_not_know_never_replaces_a_refusal(
    store: kw.Store,
) -> None:
    """A final UNKNOWN replaced UNDERAGE in the ledger, and decision handlers were told UNKNOWN,
    final: an outcome iDenfy adds must not undo a refusal (helper audit)."""
    receiver = kw.Receiver(kw.Idenfy(signing_key=IDENFY_KEY), store=store)
    told: list[tuple[kw.DecisionStatus, bool]] = []
    receiver.on_decision()(lambda decision: told.append((decision.status, decision.final)))
    underage = _idenfy("AGE_ESTIMATION", status="COMPLETED", outcome="UNDERAGE", verdict=None)
    newer = _idenfy("AGE_ESTIMATION", status="COMPLETED", outcome="SPOOF_DETECTED", verdict=None)
    assert receiver.handle(*underage).status_code == 200
    assert receiver.handle(*newer).status_code == 200
    assert told == [(S.DECLINED, True)]
    latest = receiver.decisions.latest("idenfy", _decision(receiver, underage).subject)
    assert latest is not None
    assert (latest.status, latest.final, latest.reasons) == (S.DECLINED, True, ("UNDERAGE",))


# -- ComplyCube check.updated --------------------------------------------------------------------


def _check_updated(outcome: str, event_id: str, updated_at: str) -> tuple[bytes, dict[str, str]]:
    payload = sample_payload(
        "complycube", "check.updated", id=event_id, payload__updatedAt=updated_at
    )
    set_path(payload, "payload.outcome", outcome)  # the sample carries no outcome
    return sign("complycube", payload, COMPLYCUBE_KEY)


def _complycube(store: kw.Store | None = None) -> kw.Receiver:
    return kw.Receiver(kw.ComplyCube(secret=COMPLYCUBE_KEY), store=store)


@pytest.mark.parametrize(
    ("outcome", "expected", "final"),
    [
        ("pending", S.REVIEW, True),  # v1.7.2's manual validation value, in place of attention
        ("attention", S.REVIEW, True),
        # A validation input, not a check outcome: on a screening check it confirms a match
        # (https://docs.complycube.com/api-reference/v.1.7.2/checks/validate-a-check).
        ("confirmed", S.UNKNOWN, False),
        ("rejected", S.DECLINED, True),
        ("brand_new", S.UNKNOWN, False),  # not known: never a final verdict on an update
    ],
)
def test_check_updated_outcomes(outcome: str, expected: kw.DecisionStatus, final: bool) -> None:
    delivery = _check_updated(outcome, "5ed170fe99c81a0007b9a3e1", "2024-03-18T14:20:09.517Z")
    decision = _decision(_complycube(), delivery)
    assert (decision.status, decision.final, decision.reasons) == (expected, final, (outcome,))


def test_workflow_session_updated_with_an_unknown_outcome_is_not_final() -> None:
    delivery = signed_delivery(
        "complycube", "workflow.session.updated", COMPLYCUBE_KEY, payload__outcome="brand_new"
    )
    decision = _decision(_complycube(), delivery)
    assert (decision.status, decision.final) == (S.UNKNOWN, False)


def test_check_updated_unknown_outcome_keeps_the_clear_and_pending_replaces_it(
    store: kw.Store,
) -> None:
    receiver = _complycube(store)
    clear = signed_delivery("complycube", "check.completed.clear", COMPLYCUBE_KEY)
    check_id = _payload(clear)["payload"]["id"]
    unknown = _check_updated("brand_new", "5ed170fe99c81a0007b9a3e2", "2024-03-18T14:20:09.517Z")
    pending = _check_updated("pending", "5ed170fe99c81a0007b9a3e3", "2024-03-18T15:02:41.208Z")

    assert receiver.handle(*clear).status_code == 200
    assert receiver.handle(*unknown).status_code == 200  # later, but not final: no change
    latest = receiver.decisions.latest("complycube", check_id)
    assert latest is not None
    assert (latest.status, latest.final, latest.event_type) == (
        S.APPROVED,
        True,
        "check.completed.clear",
    )

    assert receiver.handle(*pending).status_code == 200  # a reviewer sent it back for review
    latest = receiver.decisions.latest("complycube", check_id)
    assert latest is not None
    assert (latest.status, latest.final, latest.event_type) == (S.REVIEW, True, "check.updated")
