"""Review of the Yoti and Identomat verdicts in the decision ledger, on every store.

Identomat documents that an operator's additional information request reopens a session that was
approved, rejected or at manual check, which then ends approved, rejected or at manual check again
(https://docs.identomat.com/platform-concepts/additional-information-requests). An APPROVED that
was final kept the ledger at APPROVED while Identomat said the session was back with the applicant,
or waiting for an operator: the reopening never reached the decision handlers.
"""

from __future__ import annotations

import pytest

import kyc_webhooks as kw
from _stores import FakeClock
from kyc_webhooks.store import Store
from kyc_webhooks.testing import sample_payload, sign

S = kw.DecisionStatus
SECRET = "yoti-identomat-review-key"


def _identomat_session(
    store: Store, clock: FakeClock, session: str, results: tuple[str, ...]
) -> tuple[list[tuple[kw.DecisionStatus, bool]], kw.Decision | None]:
    """Deliver ``results`` of one Identomat session in order: what the decision handlers were
    told, and the ledger's latest decision at the end."""
    receiver = kw.Receiver(kw.Identomat(api_key=SECRET), store=store)
    told: list[tuple[kw.DecisionStatus, bool]] = []
    receiver.on_decision()(lambda decision: told.append((decision.status, decision.final)))
    for result in results:
        payload = sample_payload("identomat", "session-change", sessionId=session, result=result)
        outcome = receiver.handle(*sign("identomat", payload, SECRET))
        assert (outcome.status_code, outcome.duplicate) == (200, False)
        clock.advance(60)  # no time in the body: the store's receipt orders the verdicts
    return told, receiver.decisions.latest("identomat", session)


@pytest.mark.parametrize(
    ("results", "latest"),
    [
        # The operator asked an approved applicant for more: not approved any more.
        (("APPROVED", "ADDITIONAL_INFORMATION_REQUESTED"), S.PENDING),
        # ... the applicant answered, and the session waits for the operator again.
        (("APPROVED", "ADDITIONAL_INFORMATION_REQUESTED", "MANUAL_CHECK"), S.REVIEW),
        # A rejected session reopened and sent to manual check: a human decides again.
        (("REJECTED", "ADDITIONAL_INFORMATION_REQUESTED", "MANUAL_CHECK"), S.REVIEW),
        # The usual flow still ends with the operator's verdict.
        (("MANUAL_CHECK", "APPROVED"), S.APPROVED),
        (("ADDITIONAL_INFORMATION_REQUESTED", "MANUAL_CHECK", "REJECTED"), S.DECLINED),
    ],
    ids=["approved-reopened", "approved-reopened-manual", "rejected-reopened-manual",
         "manual-then-approved", "more-info-manual-rejected"],
)  # fmt: skip
def test_an_identomat_session_reopened_after_a_verdict_replaces_it(
    any_store: Store, clock: FakeClock, results: tuple[str, ...], latest: kw.DecisionStatus
) -> None:
    session = f"reopen{len(results)}{results[0][:4].lower()}".ljust(40, "x")
    told, decision = _identomat_session(any_store, clock, session, results)
    assert decision is not None
    assert decision.status is latest
    assert decision.final  # every documented result replaces the one received before it
    assert [status for status, _final in told][-1] is latest


def test_an_unknown_identomat_result_never_replaces_a_verdict(
    any_store: Store, clock: FakeClock
) -> None:
    """A ``result`` this version does not know stays UNKNOWN and not final: it never replaces
    the session's DECLINED in the ledger."""
    told, decision = _identomat_session(any_store, clock, "u" * 40, ("REJECTED", "SOMETHING_NEW"))
    assert decision is not None
    assert (decision.status, decision.final) == (S.DECLINED, True)
    assert told == [(S.DECLINED, True)]
