"""ComplyCube events -> :class:`~kyc_webhooks.decisions.Decision`.

Source: https://docs.complycube.com/documentation/api-reference/other-resources/webhooks (event
types; the outcome is in the event type or the check's ``outcome``) and
https://docs.complycube.com/api-reference/checks (check ``status``/``outcome`` values).
"""

from __future__ import annotations

from typing import Any

from .._decision import (
    Decision,
    DecisionStatus,
    References,
    body_field,
    codes,
    lookup,
    reference,
    texts,
    wire,
)
from ..models import KycModel
from ._event_types import outcome_family

S = DecisionStatus

#: A completed check's (or workflow session's) ``outcome``. Judgement calls: ``attention`` needs a
#: human: REVIEW; ``match_confirmed`` (a screening match confirmed) refuses the client: DECLINED.
#: ``pending`` is the manual validation outcome that v1.7.2 lists in place of ``attention``
#: ("confirmed, rejected, pending",
#: https://docs.complycube.com/api-reference/v.1.7.2/checks/validate-a-check; now "confirmed,
#: rejected, attention", https://docs.complycube.com/api-reference/checks/validate-a-check):
#: REVIEW, like ``attention``.
#:
#: ``confirmed`` is not here: it is a validation *input*, whose effect depends on the check type
#: (same pages, "Validation per check type"): on a screening check it confirms a match -- the
#: check's outcome becomes ``match_confirmed`` -- on a document or identity check the outcome
#: becomes ``clear``. Read as a check's outcome it could mean either: UNKNOWN, not final (fetch
#: the check), never APPROVED.
OUTCOME: dict[str, DecisionStatus] = {
    "clear": S.APPROVED,
    "attention": S.REVIEW,
    "pending": S.REVIEW,
    "rejected": S.DECLINED,
    "match_confirmed": S.DECLINED,
}
#: The ``status`` of a check or workflow session that has its outcome. A check event's payload
#: carries ``outcome`` "only when ``status`` = ``complete``"
#: (https://docs.complycube.com/documentation/api-reference/other-resources/webhooks); a workflow
#: session is ``complete`` once it has one (``started``, ``processing``, ``complete``,
#: ``abandoned``, ``cancelled``: https://docs.complycube.com/documentation/api-reference/core-resources/workflow-sessions).
#: An outcome next to another status contradicts it: UNKNOWN, not final.
COMPLETE = "complete"
#: Workflow-session event types that carry no outcome yet, or end the session without one.
SESSION_TYPES: dict[str, tuple[DecisionStatus, bool]] = {
    "workflow.session.started": (S.PENDING, False),
    "workflow.session.processing": (S.PENDING, False),
    "workflow.session.cancelled": (S.CANCELLED, True),
}


def _subject(event: Any, payload: Any) -> str | None:
    """The verification a decision is about: the check's or session's id, else the event's."""
    return reference(getattr(payload, "id", None)) or reference(getattr(event, "id", None))


def _decision(event: Any, payload: Any, status: DecisionStatus, final: bool, **kw: Any) -> Decision:
    subject = _subject(event, payload)
    # The event's own time orders the verdicts of a check or session: fixed when ComplyCube emits
    # the event, the same in its retries. The resource's ``updatedAt`` need not move with a later
    # event -- a monitoring re-screen weeks after the check completed, a session update -- so
    # that an in-order re-screen was judged stale, and a late retry of the session's completion
    # replaced its newer update (review R35).
    occurred = event.created_at or getattr(payload, "updated_at", None)
    return Decision(
        status=status,
        final=final,
        vendor=event.vendor,
        event_type=event.event_type,
        subject=str(subject),  # never None here: decide() gives no decision without one
        client_ref=getattr(payload, "client_id", None),
        occurred_at=occurred,
        event=event,
        **kw,
    )


def _outcome(event: Any, payload: Any, outcome: Any, named: str | None = None) -> Decision:
    """The decision of a check or session ``outcome`` (:data:`OUTCOME`): final when mapped. An
    outcome :data:`OUTCOME` does not know, or none at all, is UNKNOWN and not final: a final
    UNKNOWN would replace the verdict already in the ledger (an earlier ``clear``, a confirmed
    match, a ``check.completed.rejected`` next to which ComplyCube also sends a plain
    ``check.completed`` whose payload may carry no outcome) with a value nobody has mapped.

    Contradictions are never a verdict of either side: a payload ``status`` other than
    ``complete`` (:data:`COMPLETE`) is UNKNOWN, not final; a documented outcome ``named`` by the
    event type that the payload's outcome differs from (``check.monitoring.attention`` with
    ``outcome: clear``) is REVIEW, final, like ``attention``: a human must look -- or DECLINED,
    final, when either side is a refusal (``check.completed.clear`` with ``outcome: rejected``)."""
    state = wire(getattr(payload, "status", None))
    if state is not None and state != COMPLETE:
        return _decision(event, payload, S.UNKNOWN, False, reasons=codes([outcome, state]))
    said = wire(outcome)
    if named is not None and said is not None and said != named:
        # Either side refusing the client refuses it (the most severe verdict): a REVIEW there
        # could replace a DECLINED of the same check in the ledger and be announced.
        refused = S.DECLINED in (OUTCOME.get(said), OUTCOME.get(named))
        status = S.DECLINED if refused else S.REVIEW
        return _decision(event, payload, status, True, reasons=codes([said, named]))
    status = lookup(OUTCOME, outcome)
    return _decision(event, payload, status, status is not S.UNKNOWN, reasons=codes([outcome]))


def _named_outcome(etype: str) -> str | None:
    """The documented outcome a ``check.completed.<outcome>`` or ``check.monitoring.<outcome>``
    type names (``attention`` for ``check.monitoring.attention``), else ``None``: an outcome
    ComplyCube has not documented is decided from the payload alone."""
    if outcome_family(etype) is None:
        return None
    named = etype.rsplit(".", 1)[1]
    return named if named in OUTCOME else None


def decide(event: Any) -> Decision | None:
    """The decision a ComplyCube event carries; ``None`` for client, document and address events,
    for a ``check.updated`` that does not change the outcome, and for every event type this
    version does not know (a :class:`~kyc_webhooks.complycube.models.ComplyCubeUnknownEvent`)."""
    etype: str = event.event_type
    if _subject(event, getattr(event, "payload", None)) is None:
        return None  # neither the check's or session's id nor the event's names it (reference)
    if etype == "check.completed" or outcome_family(etype) is not None:
        # Final for that check when the outcome is mapped: ``check.completed`` and every
        # ``check.completed.<outcome>`` (and a re-screen ``check.monitoring.<outcome>``, which
        # must be able to override an earlier clear of the same check). Outcomes are an open set
        # (https://docs.complycube.com/api-reference/checks): the models' rule for the families,
        # ``outcome_family``, gives these types the CheckStatusEvent model; anything else under
        # those prefixes (``check.completed.clear.v2``, ``check.completed_v2``,
        # ``check.monitoring.match.new``) is an unknown event and carries no decision.
        return _outcome(event, event.payload, event.outcome, _named_outcome(etype))
    if etype == "check.pending":
        return _decision(event, event.payload, S.PENDING, False)
    if etype == "check.failed":
        # The check ended without a verdict (a technical failure): nothing to guess.
        return _decision(event, event.payload, S.UNKNOWN, True, reasons=("failed",))
    if etype == "check.updated":
        payload = event.payload
        outcome = None
        if payload is not None:
            outcome = payload.outcome if getattr(payload, "outcome", None) else None
            if outcome is None and payload.result is not None:
                outcome = payload.result.outcome
        if outcome is None:
            return None
        return _outcome(event, payload, outcome)
    if etype in SESSION_TYPES:
        status, final = SESSION_TYPES[etype]
        return _decision(event, event.payload, status, final)
    if etype in ("workflow.session.completed", "workflow.session.updated"):
        payload = event.payload
        outcome = getattr(payload, "outcome", None)
        if outcome is None:
            if etype == "workflow.session.updated":
                return None
            # Ended without an outcome (the payload's shape is not documented in full): UNKNOWN,
            # not final -- never replacing a verdict the ledger holds.
            return _decision(event, payload, S.UNKNOWN, False)
        return _outcome(event, payload, outcome)
    return None


def references(event: Any) -> References:
    """Whom a ComplyCube event is about (:class:`~kyc_webhooks.decisions.References`), from its
    ``payload`` (https://docs.complycube.com/documentation/api-reference/other-resources/webhooks):
    a client event's payload is the client (its ``id`` is the client id); any other resource's
    payload names its client in ``clientId`` (when it does: an ``address.updated`` or a check's
    verdict may carry only its own ``id``), and its own ``id`` -- a check's, a workflow
    session's, a document's, an address's or a live photo's: unique ids that tie the resource's
    later events to the client -- and a workflow session lists its checks
    (``allRelatedChecks[].checkId``). An unknown event type's payload is read the same way; a
    payload that is not an object names nobody."""
    payload = body_field(event, "payload", "payload")
    if isinstance(payload, dict):
        ident, client = payload.get("id"), payload.get("clientId")
        related = payload.get("allRelatedChecks")
    elif isinstance(payload, KycModel):
        ident = body_field(payload, "id", "id")
        client = body_field(payload, "client_id", "clientId")
        related = body_field(payload, "all_related_checks", "allRelatedChecks")
    else:
        return References()
    etype = str(event.event_type)
    resource = wire(body_field(event, "resource_type", "resourceType"))
    if resource == "client" or etype.startswith("client."):
        return References(texts(ident, client))
    checks = [
        item.get("checkId") if isinstance(item, dict) else getattr(item, "check_id", None)
        for item in (related if isinstance(related, list) else [])
    ]
    return References(texts(client), texts(ident, checks))
