"""iDenfy event models (facts: https://documentation.idenfy.com/kyc/webhooks).

One model per body schema; ``EVENT_MODELS`` maps every ``Idenfy-Event-Type`` value ([webhooks]) to
its model. All fields are optional unless the vendor guarantees them ([spec]: the spec's
``required`` lists are unreliable, so only the core id of each body is required), every enum is
open (unknown values stay ``str``), unknown keys are kept at every depth, and personal data is
masked in ``repr()``.

Entry points:

* :func:`parse_event` -- ``(raw body, headers) -> IdenfyEvent``: the ``Idenfy-Event-Type``
  header picks the model from :data:`EVENT_MODELS`, which validates straight from the bytes.
* :attr:`IdentificationEvent.is_final` -- whether a KYC result is definitive.
* :attr:`IdentificationEvent.triage` -- everything needed to review a ``SUSPECTED``/``DENIED``
  result in one small frozen object.

Layout: ``_identification`` (every ``IDENTIFICATION*`` event: top level, ``status``, ``data``),
``_aml`` and ``_sections`` (identification add-ons), ``_events`` (every other event), ``_enums``,
``_base``. This module holds the parsing entry points and re-exports the public names of those
modules: :data:`__all__` is the one list of them (type checkers read them through the star imports
below; at run time a name not imported here resolves on first access, PEP 562).
"""

# ruff: noqa: F405 -- __all__ names what the type-checking star imports below define

# Vendor documentation cited below as [name]:
# [webhooks] https://documentation.idenfy.com/kyc/webhooks
# [signing] https://documentation.idenfy.com/security/callback-signing
# [spec] https://documentation.idenfy.com/api-reference/webhooks

import importlib
import re
from typing import TYPE_CHECKING, Any

from .._headers import Headers
from .._validation import check_object_count, decode_json, validate_json
from ..errors import PayloadError
from ._base import UNDETERMINED_EVENT_TYPE, VENDOR, IdenfyEvent, IdenfyUnknownEvent
from ._wire import EVENT_TYPE_HEADER, SPELLINGS

if TYPE_CHECKING:  # for type checkers: every public name below, from where it is defined
    from ._aml import *  # noqa: F403
    from ._enums import *  # noqa: F403
    from ._events import *  # noqa: F403
    from ._identification import *  # noqa: F403
    from ._sections import *  # noqa: F403

__all__ = [
    "EVENT_MODELS",
    "EVENT_TYPES",
    "UNDETERMINED_EVENT_TYPE",
    "AccountCheckEvent",
    "AdditionalStepMethod",
    "AdditionalStepsStatus",
    "AddressQuality",
    "AddressVerification",
    "AddressVerificationStatus",
    "AgeEstimate",
    "AgeEstimationEvent",
    "AgeEstimationOutcome",
    "AgeEstimationStatus",
    "AmlAlertStatus",
    "AmlCheckResult",
    "AmlCheckStatus",
    "AmlComment",
    "AmlCommentType",
    "AmlCompanyCheckItem",
    "AmlDataItem",
    "AmlDataset",
    "AmlHit",
    "AmlMonitoringEvent",
    "AmlMonitoringExpirationEvent",
    "AmlMonitoringStatus",
    "AmlNewsItem",
    "AmlReviewSubjectType",
    "AmlSuspicion",
    "AmlUserType",
    "AmlV3AdverseMedia",
    "AmlV3Check",
    "AmlV3Hit",
    "AmlV3HitAddress",
    "AnyRegistryCenterCheck",
    "ApprovalStatus",
    "BalancesOverview",
    "BankAccount",
    "BankCardNoMatchReason",
    "BankCardStatus",
    "BankCardVerification",
    "BankCardVerificationCompletedEvent",
    "BankVerification",
    "BankVerificationEvent",
    "Beneficiary",
    "CompanyAmlReviewEvent",
    "CompanyDeleteEvent",
    "CompanyEntityType",
    "CompanyExpirationEvent",
    "CompanyExpirationStatus",
    "CompanyInfoRequestEvent",
    "CompanyInfoRequestStatus",
    "CompanyReviewEvent",
    "CompanySubmitEvent",
    "CompanyTokenExpiredEvent",
    "CriminalCheckResult",
    "CriminalOffense",
    "CriminalRecord",
    "DocumentData",
    "DocumentExpirationEvent",
    "DocumentOrderStatus",
    "DocumentSex",
    "DocumentStatus",
    "DocumentType",
    "DriverLicenseCheck",
    "EmailVerification",
    "ExpirationThreshold",
    "FaceStatus",
    "FacialAuthenticationEvent",
    "FacialAuthenticationMethod",
    "FacialAuthenticationRiskTag",
    "FacialAuthenticationStatus",
    "FacialAuthenticationType",
    "FraudCheckResult",
    "FraudCheckStatus",
    "FraudStatus",
    "FraudTag",
    "Gender",
    "GovOrderedDocumentEvent",
    "HungaryRegistryCenterCheck",
    "IdenfyEvent",
    "IdenfyUnknownEvent",
    "IdentificationEvent",
    "IdentificationStatus",
    "IdentificationTriage",
    "LegacyCheckSummary",
    "LidCheckResult",
    "LidDocument",
    "LithuaniaRegistryCenterCheck",
    "ManagerAccount",
    "MismatchTag",
    "OverallStatus",
    "PepTier",
    "PhoneVerification",
    "Platform",
    "QuestionType",
    "QuestionnaireAnswers",
    "QuestionnaireQuestion",
    "QuestionnaireSection",
    "RegistryCenterCheck",
    "RegistryMatchStatus",
    "RiskAssessment",
    "RiskLevel",
    "SosReportEvent",
    "SuspicionReason",
    "Us15RegistryCenterCheck",
    "VideoCallAnswer",
    "VideoCallFinishedEvent",
    "infer_event_type",
    "parse_event",
]

#: The private modules that define the public names of :data:`__all__` not defined or imported
#: here, searched in this order by :func:`__getattr__` (identifications first: a first
#: identification loads only its own models; the KYB and other event models load with the first
#: delivery of one -- a cold start costs a third as much, docs/performance.md).
_DEFINED_IN = ("._identification", "._enums", "._aml", "._sections", "._events")


def __getattr__(name: str) -> Any:
    # PEP 562: a public name not imported above resolves on first access, and then stays here.
    if name == "EVENT_MODELS":
        value: Any = {event_type: _model(event_type) for event_type in _MODEL_NAMES}
    elif name in __all__:
        for module in _DEFINED_IN:
            value = getattr(importlib.import_module(module, __package__), name, None)
            if value is not None:
                break
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


#: Every ``Idenfy-Event-Type`` value documented ([webhooks], [spec]) -> the name of its body model.
#: ``EVENT_MODELS`` (type -> model class) is built from it on first access.
_MODEL_NAMES: dict[str, str] = {
    "IDENTIFICATION": "IdentificationEvent",
    "IDENTIFICATION_AUTO_FINISHED": "IdentificationEvent",
    "IDENTIFICATION_MANUAL_FINISHED": "IdentificationEvent",
    "IDENTIFICATION_RESUBMITTED": "IdentificationEvent",
    "IDENTIFICATION_CANCELLED": "IdentificationEvent",
    "IDENTIFICATION_EXPIRED": "IdentificationEvent",
    "DOCUMENT_EXPIRATION": "DocumentExpirationEvent",
    "VIDEO_CALL_FINISHED": "VideoCallFinishedEvent",
    "FACIAL_AUTHENTICATION": "FacialAuthenticationEvent",
    "AGE_ESTIMATION": "AgeEstimationEvent",
    "AML_MONITORING": "AmlMonitoringEvent",
    "AML_MONITORING_EXPIRATION": "AmlMonitoringExpirationEvent",
    "COMPANY_REVIEW": "CompanyReviewEvent",
    "COMPANY_DELETE": "CompanyDeleteEvent",
    "COMPANY_AML_REVIEW": "CompanyAmlReviewEvent",
    "COMPANY_INFO_REQUEST": "CompanyInfoRequestEvent",
    "COMPANY_EXPIRATION": "CompanyExpirationEvent",
    "COMPANY_SUBMIT": "CompanySubmitEvent",
    "COMPANY_TOKEN_EXPIRED": "CompanyTokenExpiredEvent",
    "GOV_ORDERED_DOCUMENT": "GovOrderedDocumentEvent",
    "SOS_REPORT": "SosReportEvent",
    "BANK_VERIFICATION": "BankVerificationEvent",
    "ACCOUNT_CHECK": "AccountCheckEvent",
    "BANK_CARD_VERIFICATION_COMPLETED": "BankCardVerificationCompletedEvent",
}


if TYPE_CHECKING:
    EVENT_MODELS: dict[str, type[IdenfyEvent]]


def _model(event_type: str) -> type[IdenfyEvent]:
    """The model of a documented ``event_type`` (imported on first use), else the unknown model."""
    name = _MODEL_NAMES.get(event_type)
    if name is None:
        return IdenfyUnknownEvent
    model: type[IdenfyEvent] = globals().get(name) or __getattr__(name)
    return model


#: Every documented ``Idenfy-Event-Type`` value ([webhooks]), in the documentation's order.
EVENT_TYPES: tuple[str, ...] = tuple(_MODEL_NAMES)


#: Top-level body keys that say which model a body is: each is a field of that model's body
#: ([spec]) and of no other documented body. ``Idenfy-Event-Type`` is not signed ([signing]: the
#: HMAC covers the body only), so a body with a key of another model and none of the model of the
#: documented type the header names contradicts the header, and the delivery is refused
#: (docs/verification.md, "Unsigned headers"); a header no documented type has is read as absent.
#: Only distinctive, documented keys are listed, and a body that has a key of its own model is
#: never refused for another: a vendor's later additions to one body do not refuse it.
#: ``COMPANY_DELETE``, ``COMPANY_TOKEN_EXPIRED`` and the identification types among themselves
#: have no key of their own; there the header picks (tests/test_delivery_keys.py tries every
#: sample under every type).
_BODY_KEYS: dict[str, str] = {
    **dict.fromkeys(
        ("final", "fileUrls", "additionalStepPdfUrls", "AML", "LID", "CRIMINAL_CHECK"),
        "IdentificationEvent",
    ),
    "videoCallAnswers": "VideoCallFinishedEvent",
    **dict.fromkeys(("expirationThreshold", "documentExpiration"), "DocumentExpirationEvent"),
    **dict.fromkeys(("facePhoto", "failReason", "riskTags"), "FacialAuthenticationEvent"),
    **dict.fromkeys(("occurredAt", "estimatedAge"), "AgeEstimationEvent"),
    **dict.fromkeys(("monitoringId", "scanRefList", "alertStatus"), "AmlMonitoringEvent"),
    **dict.fromkeys(("usersToExtend", "usersToExpire"), "AmlMonitoringExpirationEvent"),
    **dict.fromkeys(
        (
            "approvalStatus",
            "statusChangedBy",
            "beneficiaries",
            "shareholderCheck",
            "relatedClientScanRefs",
        ),
        "CompanyReviewEvent",
    ),
    "amlReviewSubjectType": "CompanyAmlReviewEvent",
    "email": "CompanyInfoRequestEvent",
    "expirationStatus": "CompanyExpirationEvent",
    "submissionTime": "CompanySubmitEvent",
    **dict.fromkeys(
        ("productKey", "expectedDeliveryTime", "deliveredAt", "documentFormat"),
        "GovOrderedDocumentEvent",
    ),
    **dict.fromkeys(
        ("entityType", "formationDate", "reportFile", "watchlistHitsCount"), "SosReportEvent"
    ),
    "accounts": "BankVerificationEvent",
    **dict.fromkeys(("facebookScore", "gmailScore", "ipScore"), "AccountCheckEvent"),
    **dict.fromkeys(
        ("firstSix", "lastFour", "noMatchReason", "lastFourMatch"),
        "BankCardVerificationCompletedEvent",
    ),
}


def _types_of(model: str) -> list[str]:
    """The documented types whose body model is named ``model``."""
    return [event_type for event_type, name in _MODEL_NAMES.items() if name == model]


def _header_contradiction(event: IdenfyEvent, extra: dict[str, Any]) -> PayloadError | None:
    """The error when the body carries a key of another model's body (:data:`_BODY_KEYS`) and none
    of the model that ``Idenfy-Event-Type`` chose, else ``None``. A body with keys of its own
    model is that model's, whatever else a vendor adds to it later. Names fields and documented
    types only, never a value or the header's own text."""
    model = type(event).__name__
    foreign = [key for key in extra if _BODY_KEYS.get(key, model) != model]
    if not foreign:
        return None
    fields = type(event).model_fields
    for name in event.model_fields_set:  # declared fields set by the body (and the extras)
        field = fields.get(name)
        if field is not None and _BODY_KEYS.get(field.alias or name) == model:
            return None
    types = ", ".join(_types_of(_BODY_KEYS[foreign[0]]))
    return PayloadError(
        f"iDenfy body does not match the Idenfy-Event-Type header (or its absence): field "
        f"{foreign[0]!r} belongs to {types} bodies only"
    )


#: An ``Idenfy-Event-Type`` value that is kept: the characters of event-type names (documented
#: ones are upper-case words joined by ``_``), at most 64 of them (the longest documented type has
#: 32). Anything else counts as an absent header. A backslash must not count: a stored delivery
#: keeps a header that is not ASCII in an escaped, ASCII form (a backslash, then ``udcff``), and
#: the header must read the same -- absent -- when the stored delivery is parsed again.
_TYPE_HEADER = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _usable_type_header(value: str) -> bool:
    return _TYPE_HEADER.fullmatch(value) is not None


def infer_event_type(body: bytes) -> str:
    """Event type of a delivery without ``Idenfy-Event-Type`` (legacy deliveries, [spec]), from
    the body's top-level keys (values are never looked at, so a name containing
    ``"videoCallAnswers"`` fools nothing):

    * ``videoCallAnswers`` -> ``VIDEO_CALL_FINISHED`` (legacy video-call callback, [spec]);
    * ``scanRef`` + ``status`` (object) + ``data`` (object) -> ``IDENTIFICATION`` (legacy result
      callback, 2018-2021);
    * keys that belong to one model's body only (see ``_BODY_KEYS``) -> that model's first
      documented type (``IDENTIFICATION`` for an identification): the header is not signed, so a
      body stripped of it must not become an event of another kind (docs/verification.md);
    * anything else (or a body that is not a JSON object) -> :data:`UNDETERMINED_EVENT_TYPE`, parsed
      as :class:`IdenfyUnknownEvent` and routed to catch-alls.
    """
    try:
        decoded = decode_json(body)
    except ValueError:
        return UNDETERMINED_EVENT_TYPE
    if not isinstance(decoded, dict):
        return UNDETERMINED_EVENT_TYPE
    if isinstance(decoded.get("videoCallAnswers"), dict):
        return "VIDEO_CALL_FINISHED"
    if (
        "scanRef" in decoded
        and isinstance(decoded.get("status"), dict)
        and isinstance(decoded.get("data"), dict)
    ):
        return "IDENTIFICATION"
    owners = {owner for key, owner in _BODY_KEYS.items() if key in decoded}
    if len(owners) == 1:
        (owner,) = owners
        return _types_of(owner)[0]
    return UNDETERMINED_EVENT_TYPE


def parse_event(body: bytes, headers: Headers) -> IdenfyEvent:
    """Validate an authenticated iDenfy body into the model for its ``Idenfy-Event-Type`` header
    (absent or blank on legacy deliveries: see :func:`infer_event_type`), in one pass over the
    bytes. Unknown types give :class:`IdenfyUnknownEvent`. The header is not signed, so it only
    picks among models that agree with the body: a body carrying a field of another documented
    type's body is refused, and under an undocumented type it is typed from its keys, as without
    the header (docs/verification.md, "Unsigned headers"). Raises
    :class:`~kyc_webhooks.errors.PayloadError` only."""
    etype = (headers.get(EVENT_TYPE_HEADER) or "").strip()
    from_header = _usable_type_header(etype)
    if not from_header:
        # Unsigned and sender-controlled: a value no documented type has (empty, too long, not
        # printable ASCII -- a line break would forge log lines) is treated as an absent header.
        check_object_count(body, what="iDenfy")  # before infer_event_type decodes the body
        etype = infer_event_type(body)
    etype = SPELLINGS.get(etype, etype)
    event = _validated(body, etype)
    extra = event.model_extra
    # The type came from the unsigned header (or its absence): refuse it where the signed body
    # says otherwise.
    if extra and not _BODY_KEYS.keys().isdisjoint(extra.keys()):  # iterates the smaller
        if from_header and etype not in _MODEL_NAMES:
            # A header no documented type has, over a body with keys of a documented one: it names
            # no other kind of event, so it is read as an absent header -- the type inferred from
            # the body, as a delivery without the header gets (docs/verification.md).
            etype = infer_event_type(body)  # the body's objects were counted by _validated
            event = _validated(body, etype)
            extra = event.model_extra or {}
        contradiction = _header_contradiction(event, extra)
        if contradiction is not None:
            raise contradiction
    return event.bind(vendor=VENDOR, event_type=etype, raw=body)


def _validated(body: bytes, etype: str) -> IdenfyEvent:
    """``body`` validated by the model of ``etype`` (:class:`IdenfyUnknownEvent` if it has none)."""
    model = _model(etype)
    # An undocumented type is the unsigned header's own text: never quoted in a message (it
    # reaches the response and the log), as ComplyCube's unknown types are not.
    documented = etype if model is not IdenfyUnknownEvent else ""
    event: IdenfyEvent = validate_json(model, body, what="iDenfy", event_type=documented)
    return event
