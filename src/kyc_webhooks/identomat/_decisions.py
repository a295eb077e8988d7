"""Identomat callbacks -> :class:`~kyc_webhooks.decisions.Decision`.

Source: https://docs.identomat.com/developer-tools/callbacks (``session-change`` ``result``).
"""

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
    reference,
    texts,
)

S = DecisionStatus

#: ``session-change`` ``result``. Judgement calls: ``MANUAL_CHECK`` waits for an operator:
#: REVIEW; ``ADDITIONAL_INFORMATION_REQUESTED`` waits for the applicant: PENDING. Only
#: APPROVED/REJECTED are final: an operator can still decide a session in the other two states.
#: An operator can also reopen an approved or rejected session (an additional information
#: request, https://docs.identomat.com/platform-concepts/additional-information-requests): the
#: ledger then keeps APPROVED/REJECTED until the session ends again. Making every result final
#: (tried, reverted) shows the reopening, but the session's usual end -- the same result again --
#: is a byte-equal callback, a duplicate: a re-approved session stayed PENDING for good and its
#: decision handlers never heard the APPROVED.
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
    if event.event_type != "session-change" or reference(event.session_id) is None:
        return None
    status = lookup(RESULT, event.result)
    return Decision(
        status=status,
        final=status in (S.APPROVED, S.DECLINED),
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
