"""iDenfy events -> :class:`~kyc_webhooks.decisions.Decision`.

Sources: https://documentation.idenfy.com/kyc/webhooks (event types, ``final``),
https://documentation.idenfy.com/guides/dashboard/kyc/verification-statuses,
https://documentation.idenfy.com/resources/vocabulary and
https://documentation.idenfy.com/kyc/suspected-status (``status.overall``).

Only the signed body decides. iDenfy's HMAC covers the body alone
(https://documentation.idenfy.com/security/callback-signing); the ``Idenfy-Event-Type`` header
travels unsigned, so whoever captured one signed body can resend it under any label. The header
routes handlers, never a verdict (docs/verification.md, "Unsigned headers").
"""

from __future__ import annotations

import hashlib
from datetime import datetime
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
#: ``AGE_ESTIMATION`` ``status`` values: the webhook's whole enum (``COMPLETED``, ``FAILED``), and
#: it "is sent when an age estimation session reaches a terminal state"
#: (https://documentation.idenfy.com/api-reference/webhooks/age-estimation-result,
#: https://documentation.idenfy.com/openapi/age-estimation.yaml). ``outcome`` is nullable: a
#: terminal session without one ended without a verdict -- nothing to guess, no verdict to wait
#: for: UNKNOWN, final (as ComplyCube's ``check.failed``). Another status is not known to be
#: terminal: PENDING, not final.
AGE_TERMINAL = frozenset({"COMPLETED", "FAILED"})
#: ``COMPANY_REVIEW`` ``approvalStatus`` (KYB); absent: the company is still under review.
COMPANY: dict[str, DecisionStatus] = {"APPROVED": S.APPROVED, "DENIED": S.DECLINED}
#: ``AML_MONITORING`` carries two statuses, both required
#: (https://documentation.idenfy.com/api-reference/webhooks/aml-monitoring,
#: https://documentation.idenfy.com/openapi/aml.yaml, ``AmlMonitoringWebhook``): the deprecated
#: v2 ``alertStatus`` (``ALERT``, ``DECLINED``, ``ACCEPTED``, ``PENDING``, ``STATUS``) and the v3
#: ``status`` (``ACTIVE``, ``STOPPED``, ``PENDING``, ``ALERT``). Only ``alertStatus`` holds a
#: reviewer's verdict (v3 ``status`` has no accepted/declined value), and iDenfy's own example
#: sends ``alertStatus: ALERT`` with ``status: ACTIVE``: ``alertStatus`` decides when it says
#: one of these; otherwise (``PENDING``, ``STATUS``, a value this version does not know, absent)
#: the v3 ``status`` does (:data:`AML_MONITORING`). Judgement: an alert means new hits for a
#: human to review: REVIEW (final, so that it overrides an earlier approval of the same
#: monitoring); ``ACCEPTED``/``DECLINED`` are a reviewer's verdict on an alert.
AML_ALERT_STATUS: dict[str, DecisionStatus] = {
    "ALERT": S.REVIEW,
    "ACCEPTED": S.APPROVED,
    "DECLINED": S.DECLINED,
}
#: ``AML_MONITORING`` v3 ``status``, when ``alertStatus`` decides nothing. ``ALERT``: REVIEW,
#: final (as above); ``STOPPED``: the monitoring ended. A value this version does not know is
#: UNKNOWN and not final: the monitoring may still run, and a final UNKNOWN would replace a
#: reviewer's verdict.
AML_MONITORING: dict[str, DecisionStatus] = {
    "ALERT": S.REVIEW,
    "STOPPED": S.CANCELLED,
    "PENDING": S.PENDING,
    "ACTIVE": S.PENDING,
}
#: The identification event types: one body (iDenfy's IdentificationWebhook) under six labels
#: ([webhooks]: https://documentation.idenfy.com/kyc/webhooks). The label comes from the unsigned
#: header, so it picks this branch only: the decision is the body's ``status.overall`` and
#: ``final`` whichever label it came under.
#:
#: ``IDENTIFICATION_EXPIRED``: the body says it -- ``status.overall`` ``EXPIRED`` ("token expired
#: and verification never took place", https://documentation.idenfy.com/resources/vocabulary),
#: and an expiry callback of a verification that did get far enough carries its real verdict
#: ("if enough information is provided ... they can still be verified",
#: https://documentation.idenfy.com/callbacks/ResultCallback).
#:
#: ``IDENTIFICATION_CANCELLED``: no ``status.overall`` value says "cancelled" (vocabulary page:
#: APPROVED, DENIED, SUSPECTED, REVIEWING, EXPIRED, ACTIVE, DELETED, ARCHIVED); only the header
#: knows. A CANCELLED decision taken from it would let a captured signed body, re-sent under that
#: label, replace the verdict iDenfy signed: final, it replaces any earlier decision of the
#: scanRef; non-final, still any non-final one with an earlier time (docs/decisions.md, "The
#: ledger"). So the header produces no status: a cancelled callback decides what its body says
#: (``DENIED`` -> DECLINED, ``ACTIVE`` -> PENDING, ...). Handlers that want the label route on it
#: (``"IDENTIFICATION_CANCEL*"``), knowing it is unsigned.
IDENTIFICATION_TYPES = frozenset(
    {
        "IDENTIFICATION",
        "IDENTIFICATION_AUTO_FINISHED",
        "IDENTIFICATION_MANUAL_FINISHED",
        "IDENTIFICATION_RESUBMITTED",
        "IDENTIFICATION_CANCELLED",
        "IDENTIFICATION_EXPIRED",
    }
)
#: The namespace of a ``FACIAL_AUTHENTICATION`` subject that has no ``id`` (see
#: :func:`_facial_authentication_subject`).
FACE_AUTH_SUBJECT_PREFIX = "FACIAL_AUTHENTICATION:token-sha256:"
#: The namespace of an ``AGE_ESTIMATION`` subject. Its ``scanRef`` is "the step-up scan
#: reference, or the token id when there is no scan ref"
#: (https://documentation.idenfy.com/api-reference/webhooks/age-estimation-result): after a
#: document step-up, an identification's scanRef -- the subject of that identification's own
#: decisions, which an age verdict must not replace (nor be replaced by).
AGE_SUBJECT_PREFIX = "AGE_ESTIMATION:"


def _time(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def _decision(
    event: Any, status: DecisionStatus, final: bool, subject: str, **kw: Any
) -> Decision | None:
    # ``subject`` is always an identifier of the verification: never a placeholder shared by
    # unrelated events (the ledger would order them against each other). An empty or blank
    # reference (``"scanRef": ""``, ``" "``) identifies nothing: no decision (``reference``).
    if reference(subject) is None:
        return None
    return Decision(
        status=status,
        final=final,
        vendor=event.vendor,
        event_type=event.event_type,
        subject=subject,
        event=event,
        **kw,
    )


def _identification(event: Any) -> Decision | None:
    status_section = event.status
    overall = status_section.overall if status_section is not None else None
    status = lookup(OVERALL, overall)  # the body's verdict, whatever the header's label
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
        # The body's ``final`` flag; a legacy body without it: IdentificationEvent.is_final (not
        # final while REVIEWING/ACTIVE, nor under a label that may be preliminary). The header
        # can only withhold finality there, never grant it or change the status. An overall
        # status mapped to UNKNOWN -- ARCHIVED/DELETED (the record, not the person) or a value
        # this version does not know -- is never final: it replaced a DECLINED verdict in the
        # ledger (review R35); it is recorded where no final verdict is. Nor is PENDING
        # (``REVIEWING``/``ACTIVE``): ``final: true`` beside a status that decides nothing
        # contradicts itself, and a final PENDING replaced a final DECLINED.
        event.is_final and status is not S.UNKNOWN and status is not S.PENDING,
        event.scan_ref,
        client_ref=event.client_id,
        reasons=reasons,
        occurred_at=_time(event.finish_time),
    )


def _facial_authentication_subject(event: Any) -> str | None:
    """The subject of a ``FACIAL_AUTHENTICATION``: its own verification (an authentication of an
    already verified client), never the identification's, so that it never replaces the
    identification's verdict.

    Its body (https://documentation.idenfy.com/api-reference/webhooks/facial-authentication)
    carries the authentication's ``id`` (a UUID, required by the spec), ``scanRef`` -- the
    *identification* it authenticates against, the subject of that identification's decisions,
    so never this one's -- and ``token``, the session's token (the key of the session in
    iDenfy's API, ``/api/v2/facial-authentication-sessions/{tokenString}/``,
    https://documentation.idenfy.com/openapi/face-authentication.yaml). The vendor's own SDK
    example has no ``id``: then the session's ``token``, namespaced by the event kind so that it
    can equal no scanRef and no ``id``, and digested, because the token is a credential (the
    ledger and ``repr()`` show subjects). Neither: ``None`` -- no decision rather than one
    subject shared by unrelated authentications.
    """
    if reference(event.id) is not None:
        return str(event.id)
    token = reference(event.token)
    if token is not None:
        digest = hashlib.sha256(str(token).encode("utf-8", "surrogatepass")).hexdigest()
        return FACE_AUTH_SUBJECT_PREFIX + digest
    return None


def decide(event: Any) -> Decision | None:
    """The decision an iDenfy event carries; ``None`` for events that carry no verdict
    (document expiry reminders, video calls, company deletion or info requests, add-on checks)
    and for one whose reference (``scanRef``, ``id``, ``monitoringId``) is empty or blank."""
    etype = event.event_type
    if etype in IDENTIFICATION_TYPES:
        return _identification(event)
    if etype == "FACIAL_AUTHENTICATION":
        subject = _facial_authentication_subject(event)
        if subject is None:
            return None  # nothing tells this authentication apart from another one
        status = lookup(FACE_AUTH, str(event.status).upper())
        return _decision(
            event,
            status,
            # A status this version does not know is never final (as for identifications).
            status not in (S.PENDING, S.UNKNOWN),
            subject,
            client_ref=event.client_id,
            # ``failReason`` is free text (up to 255 characters, https://documentation.idenfy.com/
            # api-reference/webhooks): it stays on the event; reasons are vendor codes only.
            reasons=codes(event.risk_tags),
        )
    if etype == "AGE_ESTIMATION":
        if reference(event.scan_ref) is None:
            return None  # no step-up scan named: the prefix alone would be a shared subject
        reasons = codes([event.outcome if event.outcome is not None else event.status])
        if event.outcome is not None:
            status = lookup(AGE, event.outcome)
            # An outcome this version does not know is UNKNOWN and not final, as everywhere: a
            # final UNKNOWN replaced an UNDERAGE refusal in the ledger.
            final = status is not S.UNKNOWN
            if status is S.APPROVED and wire(event.status) != "COMPLETED":
                # ``outcome: SUCCESS`` of a session whose ``status`` is not ``COMPLETED``
                # (``FAILED``, or a value this version does not know) contradicts itself: a human
                # must look, never an approval
                # (https://documentation.idenfy.com/api-reference/webhooks/age-estimation-result).
                status = S.REVIEW
                reasons = codes([event.outcome, event.status])
        else:
            # No verdict in the body: a terminal session ended without one (AGE_TERMINAL).
            final = wire(event.status) in AGE_TERMINAL
            status = S.UNKNOWN if final else S.PENDING
        return _decision(
            event,
            status,
            final,
            AGE_SUBJECT_PREFIX + event.scan_ref,
            client_ref=event.client_id,
            reasons=reasons,
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
            # ``denyReason`` is free text (a string of up to 64 characters, written by a reviewer,
            # https://documentation.idenfy.com/api-reference/webhooks): it stays on the event.
        )
    if etype == "COMPANY_EXPIRATION":
        expiration = event.expiration_status
        if expiration is None or str(expiration) == "PENDING":
            return None  # "nearing expiry" is a reminder, not a verdict
        if str(expiration) != "EXPIRED":  # a value this version does not know (review R35)
            return _decision(event, S.UNKNOWN, False, event.id, reasons=codes([expiration]))
        return _decision(event, S.EXPIRED, True, event.id)
    if etype == "AML_MONITORING":
        # The v2 ``alertStatus`` first: it alone carries a reviewer's verdict (AML_ALERT_STATUS).
        value = event.alert_status
        status = lookup(AML_ALERT_STATUS, value)
        if status is S.APPROVED and lookup(AML_MONITORING, event.status) is S.REVIEW:
            # ``ACCEPTED`` next to a v3 ``status: ALERT``: the two statuses contradict each
            # other; an open alert is never read as an approval: REVIEW, as for ``ALERT``.
            value, status = event.status, S.REVIEW
        if status is S.UNKNOWN:  # no verdict there: the v3 ``status`` decides
            value = event.status
            status = lookup(AML_MONITORING, value)
        return _decision(
            event,
            status,
            status not in (S.PENDING, S.UNKNOWN),
            event.monitoring_id,
            reasons=codes([value]),
        )
    return None


def references(event: Any) -> References:
    """Whom an iDenfy event is about (:class:`~kyc_webhooks.decisions.References`): its
    ``clientId`` -- else its ``externalRef``, as a company review's verdict reads it -- and the
    ids of its verifications: ``scanRef``, an AML monitoring's ``scanRefList``, and on a
    ``COMPANY_*`` event its ``companyId`` and ``id`` (the company's, or its AML review's; an
    identification's ``companyId`` -- a director's KYC for the company -- names a group, not the
    person, and is not read)
    (https://documentation.idenfy.com/api-reference/webhooks). An unknown event type is read
    from the same wire names. A company's ``relatedClientScanRefs`` name other people: not
    read."""
    client = body_field(event, "client_id", "clientId") or body_field(
        event, "external_ref", "externalRef"
    )
    company = str(event.event_type).startswith("COMPANY_")
    return References(
        texts(client),
        texts(
            body_field(event, "scan_ref", "scanRef"),
            body_field(event, "scan_ref_list", "scanRefList"),
            # Only a company's own events: a director's identification names the company too,
            # and the company's id would tie every director to each other.
            body_field(event, "company_id", "companyId") if company else None,
            body_field(event, "id", "id") if company else None,
        ),
    )
