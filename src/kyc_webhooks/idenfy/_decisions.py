"""iDenfy events -> :class:`~kyc_webhooks.decisions.Decision`.

Sources: https://documentation.idenfy.com/kyc/webhooks (event types, ``final``),
https://documentation.idenfy.com/guides/dashboard/kyc/verification-statuses and
https://documentation.idenfy.com/kyc/suspected-status (``status.overall``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..decisions import Decision, DecisionStatus, codes, lookup

S = DecisionStatus

#: ``status.overall`` of an identification. Judgement calls: ``SUSPECTED`` passed the checks
#: but iDenfy flags fraud signals for you to decide (suspected-status page): REVIEW.
#: ``REVIEWING``/``ACTIVE``: no verdict yet: PENDING. ``DELETED``/``ARCHIVED``/``EXPIRED-DELETED``
#: describe the record, not the person: UNKNOWN.
OVERALL: dict[str, DecisionStatus] = {
    "APPROVED": S.APPROVED,
    "DENIED": S.DECLINED,
    "SUSPECTED": S.REVIEW,
    "REVIEWING": S.PENDING,
    "ACTIVE": S.PENDING,
    "EXPIRED": S.EXPIRED,
}
#: ``FACIAL_AUTHENTICATION`` ``status`` (either casing).
FACE_AUTH: dict[str, DecisionStatus] = {
    "SUCCESS": S.APPROVED,
    "FAILED": S.DECLINED,
    "EXPIRED": S.EXPIRED,
    "CANCELED": S.CANCELLED,
    "CANCELLED": S.CANCELLED,
    "PENDING": S.PENDING,
}
#: ``AGE_ESTIMATION`` ``outcome``. Judgement: ``UNCERTAIN`` needs a human: REVIEW; a face
#: mismatch or too many attempts is a refusal: DECLINED; ``UNDERAGE``: DECLINED.
AGE: dict[str, DecisionStatus] = {
    "SUCCESS": S.APPROVED,
    "UNDERAGE": S.DECLINED,
    "FACE_MISMATCH": S.DECLINED,
    "ATTEMPTS_EXCEEDED": S.DECLINED,
    "UNCERTAIN": S.REVIEW,
}
#: ``COMPANY_REVIEW`` ``approvalStatus`` (KYB); absent: the company is still under review.
COMPANY: dict[str, DecisionStatus] = {"APPROVED": S.APPROVED, "DENIED": S.DECLINED}
#: ``AML_MONITORING`` ``status`` (v3) or the deprecated ``alertStatus``. Judgement: an alert means
#: new hits for a human to review: REVIEW (final, so that it overrides an earlier approval of the
#: same monitoring); ``ACCEPTED``/``DECLINED`` are a reviewer's verdict on an alert.
AML_MONITORING: dict[str, DecisionStatus] = {
    "ALERT": S.REVIEW,
    "ACCEPTED": S.APPROVED,
    "DECLINED": S.DECLINED,
    "PENDING": S.PENDING,
    "ACTIVE": S.PENDING,
    "STOPPED": S.CANCELLED,
}
#: Identification event types whose name is the verdict, whatever ``status.overall`` says.
TERMINAL_TYPES: dict[str, DecisionStatus] = {
    "IDENTIFICATION_CANCELLED": S.CANCELLED,
    "IDENTIFICATION_CANCELED": S.CANCELLED,
    "IDENTIFICATION_EXPIRED": S.EXPIRED,
}
IDENTIFICATION_TYPES = frozenset(
    {
        "IDENTIFICATION",
        "IDENTIFICATION_AUTO_FINISHED",
        "IDENTIFICATION_MANUAL_FINISHED",
        "IDENTIFICATION_RESUBMITTED",
        *TERMINAL_TYPES,
    }
)


def _time(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def _decision(event: Any, status: DecisionStatus, final: bool, subject: Any, **kw: Any) -> Decision:
    return Decision(
        status=status,
        final=final,
        vendor=event.vendor,
        event_type=event.event_type,
        subject=str(subject) if subject is not None else "-",
        event=event,
        **kw,
    )


def _identification(event: Any) -> Decision:
    status_section = event.status
    overall = status_section.overall if status_section is not None else None
    terminal = TERMINAL_TYPES.get(event.event_type)
    status = terminal if terminal is not None else lookup(OVERALL, overall)
    reasons: tuple[str, ...] = ()
    if status_section is not None:
        reasons = codes(
            status_section.deny_reasons,
            status_section.fraud_tags,
            status_section.suspicion_reasons,
            status_section.mismatch_tags,
        )
    return _decision(
        event,
        status,
        # The vendor's ``final`` flag and the legacy rule (IdentificationEvent.is_final);
        # cancelled and expired verifications get no further verdict.
        terminal is not None or event.is_final,
        event.scan_ref,
        client_ref=event.client_id,
        reasons=reasons,
        occurred_at=_time(event.finish_time),
    )


def decide(event: Any) -> Decision | None:
    """The decision an iDenfy event carries; ``None`` for events that carry no verdict
    (document expiry reminders, video calls, company deletion or info requests, add-on checks)."""
    etype = event.event_type
    if etype in IDENTIFICATION_TYPES:
        return _identification(event)
    if etype == "FACIAL_AUTHENTICATION":
        # Its own verification (an authentication of an already verified client): its ``id``,
        # not the original scanRef, so that it never replaces the identification's verdict.
        status = lookup(FACE_AUTH, str(event.status).upper())
        return _decision(
            event,
            status,
            status is not S.PENDING,
            event.id or event.scan_ref,
            client_ref=event.client_id,
            reasons=codes([event.fail_reason], event.risk_tags),
        )
    if etype == "AGE_ESTIMATION":
        status = lookup(AGE, event.outcome) if event.outcome is not None else S.PENDING
        return _decision(
            event,
            status,
            status is not S.PENDING,
            event.scan_ref,
            client_ref=event.client_id,
            reasons=codes([event.outcome]) if event.outcome is not None else (),
            occurred_at=_time(event.occurred_at),
        )
    if etype == "COMPANY_REVIEW":
        if event.approval_status is None:
            status = S.PENDING
        else:
            status = lookup(COMPANY, event.approval_status)
        return _decision(
            event,
            status,
            status in (S.APPROVED, S.DECLINED),
            event.id,
            client_ref=event.client_id or event.external_ref,
            reasons=codes([event.deny_reason]) if event.deny_reason else (),
        )
    if etype == "COMPANY_EXPIRATION":
        if str(event.expiration_status) != "EXPIRED":
            return None  # "nearing expiry" is a reminder, not a verdict
        return _decision(event, S.EXPIRED, True, event.id)
    if etype == "AML_MONITORING":
        value = event.status if event.status is not None else event.alert_status
        status = lookup(AML_MONITORING, value)
        return _decision(
            event,
            status,
            status not in (S.PENDING,),
            event.monitoring_id,
            reasons=codes([value]) if value is not None else (),
        )
    return None
