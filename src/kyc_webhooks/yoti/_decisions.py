"""Yoti notifications -> :class:`~kyc_webhooks.decisions.Decision`.

Yoti notifications carry no result (https://developers.yoti.com/identity-verification/notifications):
the verdict must be fetched with a signed ``GET /idverify/v1/sessions/{session_id}``. So
``session_completion`` gives an UNKNOWN, final decision with ``fetch_required=True``, and
``client_session_token_deleted`` (the applicant finished the flow, checks now run) a PENDING one.
"""

from __future__ import annotations

from typing import Any

from .._decision import Decision, DecisionStatus, References, body_field, reference, texts

S = DecisionStatus

TOPICS: dict[str, tuple[DecisionStatus, bool]] = {
    "session_completion": (S.UNKNOWN, True),
    "client_session_token_deleted": (S.PENDING, False),
}


def decide(event: Any) -> Decision | None:
    """``session_completion`` and ``client_session_token_deleted``; ``None`` for the others, and
    for an empty ``session_id``: it names no session, and a subject that unrelated sessions share
    would have the ledger order their verdicts against each other."""
    rule = TOPICS.get(event.event_type)
    if rule is None or reference(event.session_id) is None:
        return None
    status, final = rule
    return Decision(
        status=status,
        final=final,
        vendor=event.vendor,
        event_type=event.event_type,
        subject=event.session_id,
        fetch_required=True,
        event=event,
    )


def references(event: Any) -> References:
    """Whom a Yoti notification is about: its ``session_id``, the only reference it carries
    (https://developers.yoti.com/identity-verification/notifications)."""
    return References(subjects=texts(body_field(event, "session_id", "session_id")))
