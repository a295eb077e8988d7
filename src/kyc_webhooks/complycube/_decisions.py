"""ComplyCube events -> :class:`~kyc_webhooks.decisions.Decision`.

Source: https://docs.complycube.com/documentation/api-reference/other-resources/webhooks (event
types; the outcome is in the event type or the check's ``outcome``) and
https://docs.complycube.com/api-reference/checks (check ``status``/``outcome`` values).
"""

from __future__ import annotations

from typing import Any

from ..decisions import Decision, DecisionStatus, codes, lookup

S = DecisionStatus

#: A completed check's (or workflow session's) ``outcome``. Judgement calls: ``attention`` needs a
#: human: REVIEW; ``match_confirmed`` (a screening match confirmed) refuses the client: DECLINED;
#: ``confirmed`` is a manual validation confirming the check: APPROVED.
OUTCOME: dict[str, DecisionStatus] = {
    "clear": S.APPROVED,
    "attention": S.REVIEW,
    "rejected": S.DECLINED,
    "match_confirmed": S.DECLINED,
    "confirmed": S.APPROVED,
}
#: Workflow-session event types that carry no outcome yet, or end the session without one.
SESSION_TYPES: dict[str, tuple[DecisionStatus, bool]] = {
    "workflow.session.started": (S.PENDING, False),
    "workflow.session.processing": (S.PENDING, False),
    "workflow.session.cancelled": (S.CANCELLED, True),
}


def _decision(event: Any, payload: Any, status: DecisionStatus, final: bool, **kw: Any) -> Decision:
    subject = getattr(payload, "id", None) or event.id
    updated = getattr(payload, "updated_at", None) or event.created_at
    return Decision(
        status=status,
        final=final,
        vendor=event.vendor,
        event_type=event.event_type,
        subject=str(subject),
        client_ref=getattr(payload, "client_id", None),
        occurred_at=updated,
        event=event,
        **kw,
    )


def decide(event: Any) -> Decision | None:
    """The decision a ComplyCube event carries; ``None`` for client, document and address events
    and for a ``check.updated`` that does not change the outcome."""
    etype: str = event.event_type
    payload = event.payload if hasattr(event, "payload") else None
    if etype == "check.pending":
        return _decision(event, payload, S.PENDING, False)
    if etype == "check.failed":
        # The check ended without a verdict (a technical failure): nothing to guess.
        return _decision(event, payload, S.UNKNOWN, True, reasons=("failed",))
    if etype.startswith(("check.completed", "check.monitoring.")):
        # Final for that check: every ``check.completed.*`` (and a monitoring re-screen, which
        # must be able to override an earlier clear of the same check).
        outcome = event.outcome
        return _decision(event, payload, lookup(OUTCOME, outcome), True, reasons=codes([outcome]))
    if etype == "check.updated":
        outcome = None
        if payload is not None:
            outcome = payload.outcome if getattr(payload, "outcome", None) else None
            if outcome is None and payload.result is not None:
                outcome = payload.result.outcome
        if outcome is None:
            return None
        return _decision(event, payload, lookup(OUTCOME, outcome), True, reasons=codes([outcome]))
    if etype in SESSION_TYPES:
        status, final = SESSION_TYPES[etype]
        return _decision(event, payload, status, final)
    if etype in ("workflow.session.completed", "workflow.session.updated"):
        outcome = getattr(payload, "outcome", None)
        if outcome is None:
            if etype == "workflow.session.updated":
                return None
            return _decision(event, payload, S.UNKNOWN, True)
        return _decision(event, payload, lookup(OUTCOME, outcome), True, reasons=codes([outcome]))
    return None
