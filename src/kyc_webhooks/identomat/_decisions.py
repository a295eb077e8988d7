"""Identomat callbacks -> :class:`~kyc_webhooks.decisions.Decision`.

Source: https://docs.identomat.com/developer-tools/callbacks (``session-change`` ``result``).
"""

# Vendor documentation cited below as [name]:
# [callbacks] https://docs.identomat.com/developer-tools/callbacks
# [more-info] https://docs.identomat.com/platform-concepts/additional-information-requests

from __future__ import annotations

from typing import Any

from .._decision import (
    Decision,
    DecisionStatus,
    References,
    body_field,
    codes,
    ledger_subject,
    lookup,
    texts,
)

S = DecisionStatus

#: ``session-change`` ``result`` ([callbacks]). Judgement calls: ``MANUAL_CHECK`` waits for an
#: operator: REVIEW; ``ADDITIONAL_INFORMATION_REQUESTED`` waits for the applicant: PENDING.
RESULT: dict[str, DecisionStatus] = {
    "APPROVED": S.APPROVED,
    "REJECTED": S.DECLINED,
    "MANUAL_CHECK": S.REVIEW,
    "ADDITIONAL_INFORMATION_REQUESTED": S.PENDING,
}


def decide(event: Any) -> Decision | None:
    """The decision a ``session-change`` carries; ``None`` for OTP, link-sharing and video-call
    callbacks, and for an empty ``sessionId`` (no session: a subject that unrelated sessions share
    would have the ledger order their verdicts against each other)."""
    if event.event_type != "session-change" or not event.session_id:
        return None
    status = lookup(RESULT, event.result)
    return Decision(
        status=status,
        # Every documented result is final: none is the session's last. An operator's additional
        # information request reopens an approved, rejected or manually checked session, which
        # then ends approved, rejected or at manual check again ([more-info]); the callback has no
        # time, so the result received last is the session's state. Were only APPROVED/REJECTED
        # final, the ledger kept a reopened session APPROVED (a non-final verdict never replaces a
        # final one) and the decision handlers never heard of the reopening. A result this version
        # does not know is UNKNOWN and not final: it never replaces a verdict.
        final=status is not S.UNKNOWN,
        vendor=event.vendor,
        event_type=event.event_type,
        subject=event.session_id,
        reasons=codes([event.result]) if event.result is not None else (),
        event=event,
        # The session id is the widget's session token: whoever holds it can act as the applicant.
        subject_is_secret=True,
    )


def references(event: Any) -> References:
    """Whom an Identomat callback is about: its ``sessionId``
    (https://docs.identomat.com/developer-tools/callbacks), as the ledger keeps it (a digest: the
    session id is the applicant's session token)."""
    return References(
        subjects=frozenset(
            ledger_subject("identomat", s)
            for s in texts(body_field(event, "session_id", "sessionId"))
        )
    )
