"""iDenfy event models (facts: https://documentation.idenfy.com/kyc/webhooks).

One model per body schema; ``EVENT_MODELS`` maps every ``Idenfy-Event-Type`` value ([webhooks]) to
its model. All fields are optional unless the vendor guarantees them ([spec]: the spec's
``required`` lists are unreliable, so only the core id of each body is required), every enum is
open (unknown values stay ``str``), unknown keys are kept at every depth, and personal data is
masked in ``repr()``.

Entry points:

* :func:`parse_event` -- ``(raw body, Idenfy-Event-Type header) -> IdenfyEvent``, validating
  straight from the bytes.
* :attr:`IdentificationEvent.is_final` -- whether a KYC result is definitive.
* :attr:`IdentificationEvent.triage` -- everything needed to review a ``SUSPECTED``/``DENIED``
  result in one small frozen object.

Layout (so that a first delivery builds only the model classes it needs): ``_identification``
(every ``IDENTIFICATION*`` event: top level, ``status``, ``data``), ``_aml`` and ``_sections``
(identification add-ons, loaded on first read of such a section), ``_events`` (every other
event), ``_enums``, ``_base``. This module re-exports all of their public names, each imported on
first access (PEP 562), and holds the parsing entry points.
"""

# Vendor documentation cited below as [name]:
# [webhooks] https://documentation.idenfy.com/kyc/webhooks
# [signing] https://documentation.idenfy.com/security/callback-signing
# [spec] https://documentation.idenfy.com/api-reference/webhooks

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pydantic_core import from_json

from .._validation import VALIDATION_ERRORS, check_object_count, payload_error
from ..errors import PayloadError
from ._base import UNDETERMINED_EVENT_TYPE, VENDOR, IdenfyEvent, IdenfyUnknownEvent

if TYPE_CHECKING:
    from ._aml import (
        AmlCheckResult,
        AmlComment,
        AmlCommentType,
        AmlCompanyCheckItem,
        AmlDataItem,
        AmlDataset,
        AmlHit,
        AmlNewsItem,
        AmlSuspicion,
        AmlUserType,
        AmlV3AdverseMedia,
        AmlV3Check,
        AmlV3Hit,
        AmlV3HitAddress,
        CriminalCheckResult,
        CriminalOffense,
        CriminalRecord,
        FraudCheckResult,
        FraudCheckStatus,
        FraudStatus,
        Gender,
        LegacyCheckSummary,
        LidCheckResult,
        LidDocument,
        ManagerAccount,
        PepTier,
    )
    from ._base import (
        IdenfyEvent,
        IdenfyUnknownEvent,
    )
    from ._enums import (
        AdditionalStepMethod,
        AdditionalStepsStatus,
        AgeEstimate,
        AmlCheckStatus,
        DocumentSex,
        DocumentStatus,
        DocumentType,
        FaceStatus,
        FraudTag,
        MismatchTag,
        OverallStatus,
        Platform,
        RiskLevel,
        SuspicionReason,
    )
    from ._events import (
        AccountCheckEvent,
        AgeEstimationEvent,
        AgeEstimationOutcome,
        AgeEstimationStatus,
        AmlAlertStatus,
        AmlMonitoringEvent,
        AmlMonitoringExpirationEvent,
        AmlMonitoringStatus,
        AmlReviewSubjectType,
        ApprovalStatus,
        BankCardVerificationCompletedEvent,
        BankVerificationEvent,
        Beneficiary,
        CompanyAmlReviewEvent,
        CompanyDeleteEvent,
        CompanyEntityType,
        CompanyExpirationEvent,
        CompanyExpirationStatus,
        CompanyInfoRequestEvent,
        CompanyInfoRequestStatus,
        CompanyReviewEvent,
        CompanySubmitEvent,
        CompanyTokenExpiredEvent,
        DocumentExpirationEvent,
        DocumentOrderStatus,
        ExpirationThreshold,
        FacialAuthenticationEvent,
        FacialAuthenticationMethod,
        FacialAuthenticationRiskTag,
        FacialAuthenticationStatus,
        FacialAuthenticationType,
        GovOrderedDocumentEvent,
        SosReportEvent,
        VideoCallAnswer,
        VideoCallFinishedEvent,
    )
    from ._identification import (
        DocumentData,
        IdentificationEvent,
        IdentificationStatus,
        IdentificationTriage,
    )
    from ._sections import (
        AddressQuality,
        AddressVerification,
        AddressVerificationStatus,
        AnyRegistryCenterCheck,
        BalancesOverview,
        BankAccount,
        BankCardNoMatchReason,
        BankCardStatus,
        BankCardVerification,
        BankVerification,
        DriverLicenseCheck,
        EmailVerification,
        HungaryRegistryCenterCheck,
        LithuaniaRegistryCenterCheck,
        PhoneVerification,
        QuestionnaireAnswers,
        QuestionnaireQuestion,
        QuestionnaireSection,
        QuestionType,
        RegistryCenterCheck,
        RegistryMatchStatus,
        RiskAssessment,
        Us15RegistryCenterCheck,
    )

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

#: Public name -> the private module that defines it.
_WHERE: dict[str, str] = {
    "AmlCheckResult": "_aml",
    "AmlComment": "_aml",
    "AmlCommentType": "_aml",
    "AmlCompanyCheckItem": "_aml",
    "AmlDataItem": "_aml",
    "AmlDataset": "_aml",
    "AmlHit": "_aml",
    "AmlNewsItem": "_aml",
    "AmlSuspicion": "_aml",
    "AmlUserType": "_aml",
    "AmlV3AdverseMedia": "_aml",
    "AmlV3Check": "_aml",
    "AmlV3Hit": "_aml",
    "AmlV3HitAddress": "_aml",
    "CriminalCheckResult": "_aml",
    "CriminalOffense": "_aml",
    "CriminalRecord": "_aml",
    "FraudCheckResult": "_aml",
    "FraudCheckStatus": "_aml",
    "FraudStatus": "_aml",
    "Gender": "_aml",
    "LegacyCheckSummary": "_aml",
    "LidCheckResult": "_aml",
    "LidDocument": "_aml",
    "ManagerAccount": "_aml",
    "PepTier": "_aml",
    "IdenfyEvent": "_base",
    "IdenfyUnknownEvent": "_base",
    "AdditionalStepMethod": "_enums",
    "AdditionalStepsStatus": "_enums",
    "AgeEstimate": "_enums",
    "AmlCheckStatus": "_enums",
    "DocumentSex": "_enums",
    "DocumentStatus": "_enums",
    "DocumentType": "_enums",
    "FaceStatus": "_enums",
    "FraudTag": "_enums",
    "MismatchTag": "_enums",
    "OverallStatus": "_enums",
    "Platform": "_enums",
    "RiskLevel": "_enums",
    "SuspicionReason": "_enums",
    "AccountCheckEvent": "_events",
    "AgeEstimationEvent": "_events",
    "AgeEstimationOutcome": "_events",
    "AgeEstimationStatus": "_events",
    "AmlAlertStatus": "_events",
    "AmlMonitoringEvent": "_events",
    "AmlMonitoringExpirationEvent": "_events",
    "AmlMonitoringStatus": "_events",
    "AmlReviewSubjectType": "_events",
    "ApprovalStatus": "_events",
    "BankCardVerificationCompletedEvent": "_events",
    "BankVerificationEvent": "_events",
    "Beneficiary": "_events",
    "CompanyAmlReviewEvent": "_events",
    "CompanyDeleteEvent": "_events",
    "CompanyEntityType": "_events",
    "CompanyExpirationEvent": "_events",
    "CompanyExpirationStatus": "_events",
    "CompanyInfoRequestEvent": "_events",
    "CompanyInfoRequestStatus": "_events",
    "CompanyReviewEvent": "_events",
    "CompanySubmitEvent": "_events",
    "CompanyTokenExpiredEvent": "_events",
    "DocumentExpirationEvent": "_events",
    "DocumentOrderStatus": "_events",
    "ExpirationThreshold": "_events",
    "FacialAuthenticationEvent": "_events",
    "FacialAuthenticationMethod": "_events",
    "FacialAuthenticationRiskTag": "_events",
    "FacialAuthenticationStatus": "_events",
    "FacialAuthenticationType": "_events",
    "GovOrderedDocumentEvent": "_events",
    "SosReportEvent": "_events",
    "VideoCallAnswer": "_events",
    "VideoCallFinishedEvent": "_events",
    "DocumentData": "_identification",
    "IdentificationEvent": "_identification",
    "IdentificationStatus": "_identification",
    "IdentificationTriage": "_identification",
    "AddressQuality": "_sections",
    "AddressVerification": "_sections",
    "AddressVerificationStatus": "_sections",
    "AnyRegistryCenterCheck": "_sections",
    "BalancesOverview": "_sections",
    "BankAccount": "_sections",
    "BankCardNoMatchReason": "_sections",
    "BankCardStatus": "_sections",
    "BankCardVerification": "_sections",
    "BankVerification": "_sections",
    "DriverLicenseCheck": "_sections",
    "EmailVerification": "_sections",
    "HungaryRegistryCenterCheck": "_sections",
    "LithuaniaRegistryCenterCheck": "_sections",
    "PhoneVerification": "_sections",
    "QuestionType": "_sections",
    "QuestionnaireAnswers": "_sections",
    "QuestionnaireQuestion": "_sections",
    "QuestionnaireSection": "_sections",
    "RegistryCenterCheck": "_sections",
    "RegistryMatchStatus": "_sections",
    "RiskAssessment": "_sections",
    "Us15RegistryCenterCheck": "_sections",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __package__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _EventModels(Mapping[str, type[IdenfyEvent]]):
    """``Idenfy-Event-Type`` -> model class, importing a model's module on first lookup (an
    IDENTIFICATION delivery never loads the KYB or AML-monitoring models)."""

    def __init__(self, paths: dict[str, str], resolved: dict[str, type[IdenfyEvent]]) -> None:
        self._paths = paths
        self._resolved = resolved

    def __getitem__(self, event_type: str) -> type[IdenfyEvent]:
        found = self._resolved.get(event_type)
        if found is None:
            module, _, name = self._paths[event_type].partition(":")
            found = getattr(importlib.import_module(f".{module}", __package__), name)
            self._resolved[event_type] = found
        return found

    def get(self, event_type: str, default: Any = None) -> Any:
        found = self._resolved.get(event_type)
        if found is not None:
            return found
        return self[event_type] if event_type in self._paths else default

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._paths

    def __repr__(self) -> str:
        return f"EVENT_MODELS({list(self._paths)!r})"


#: The models looked up so far: ``parse_event`` reads this plain dict on every delivery.
_RESOLVED: dict[str, type[IdenfyEvent]] = {}

#: Every ``Idenfy-Event-Type`` value documented ([webhooks], [spec]) -> "module:model".
_MODEL_PATHS: dict[str, str] = {
    "IDENTIFICATION": "_identification:IdentificationEvent",
    "IDENTIFICATION_AUTO_FINISHED": "_identification:IdentificationEvent",
    "IDENTIFICATION_MANUAL_FINISHED": "_identification:IdentificationEvent",
    "IDENTIFICATION_RESUBMITTED": "_identification:IdentificationEvent",
    "IDENTIFICATION_CANCELLED": "_identification:IdentificationEvent",
    "IDENTIFICATION_EXPIRED": "_identification:IdentificationEvent",
    "DOCUMENT_EXPIRATION": "_events:DocumentExpirationEvent",
    "VIDEO_CALL_FINISHED": "_events:VideoCallFinishedEvent",
    "FACIAL_AUTHENTICATION": "_events:FacialAuthenticationEvent",
    "AGE_ESTIMATION": "_events:AgeEstimationEvent",
    "AML_MONITORING": "_events:AmlMonitoringEvent",
    "AML_MONITORING_EXPIRATION": "_events:AmlMonitoringExpirationEvent",
    "COMPANY_REVIEW": "_events:CompanyReviewEvent",
    "COMPANY_DELETE": "_events:CompanyDeleteEvent",
    "COMPANY_AML_REVIEW": "_events:CompanyAmlReviewEvent",
    "COMPANY_INFO_REQUEST": "_events:CompanyInfoRequestEvent",
    "COMPANY_EXPIRATION": "_events:CompanyExpirationEvent",
    "COMPANY_SUBMIT": "_events:CompanySubmitEvent",
    "COMPANY_TOKEN_EXPIRED": "_events:CompanyTokenExpiredEvent",
    "GOV_ORDERED_DOCUMENT": "_events:GovOrderedDocumentEvent",
    "SOS_REPORT": "_events:SosReportEvent",
    "BANK_VERIFICATION": "_events:BankVerificationEvent",
    "ACCOUNT_CHECK": "_events:AccountCheckEvent",
    "BANK_CARD_VERIFICATION_COMPLETED": "_events:BankCardVerificationCompletedEvent",
}

#: Every documented ``Idenfy-Event-Type`` value ([webhooks]) -> its body model.
EVENT_MODELS: Mapping[str, type[IdenfyEvent]] = _EventModels(_MODEL_PATHS, _RESOLVED)

#: Every documented ``Idenfy-Event-Type`` value ([webhooks]), in the documentation's order.
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_MODELS)

#: Other spellings of documented types -> the documented one, reported as ``event_type``. The
#: dashboard labels the cancelled event "ID VERIFICATION CANCELED" (one L); no delivery with that
#: header has been seen, but should the header follow the dashboard, it is the same event
#: (https://documentation.idenfy.com/guides/dashboard/settings/system-notifications-webhooks-emails).
_SPELLINGS: dict[str, str] = {"IDENTIFICATION_CANCELED": "IDENTIFICATION_CANCELLED"}

#: Top-level body keys that say which model a body is: each is a field of that model's body
#: ([spec]) and of no other documented body. ``Idenfy-Event-Type`` is not signed ([signing]: the
#: HMAC covers the body only), so a body with a key of another model and none of the header's model
#: contradicts the header, and the delivery is refused (docs/verification.md, "Unsigned headers").
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


def _header_contradiction(event: IdenfyEvent, extra: dict[str, Any]) -> PayloadError | None:
    """The error when the body carries a key of another model's body (:data:`_BODY_KEYS`) and none
    of the model that ``Idenfy-Event-Type`` chose, else ``None``. A body with keys of its own
    model is that model's, whatever else a vendor adds to it later. Names fields and documented
    types only, never a value or the header's own text."""
    model = type(event)
    foreign = [key for key in extra if _BODY_KEYS.get(key, model.__name__) != model.__name__]
    if not foreign:
        return None
    fields = model.model_fields
    for name in event.model_fields_set:  # declared fields set by the body (and the extras)
        field = fields.get(name)
        if field is not None and _BODY_KEYS.get(field.alias or name) == model.__name__:
            return None
    owner = _BODY_KEYS[foreign[0]]
    types = ", ".join(t for t, path in _MODEL_PATHS.items() if path.endswith(":" + owner))
    return PayloadError(
        f"iDenfy body does not match the Idenfy-Event-Type header (or its absence): field "
        f"{foreign[0]!r} belongs to {types} bodies only"
    )


#: The longest ``Idenfy-Event-Type`` value kept (the longest documented type has 32 characters).
_MAX_TYPE_HEADER = 64


def _usable_type_header(value: str) -> bool:
    return 0 < len(value) <= _MAX_TYPE_HEADER and value.isascii() and value.isprintable()


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
        decoded = from_json(body)
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
        return next(t for t, path in _MODEL_PATHS.items() if path.endswith(":" + owner))
    return UNDETERMINED_EVENT_TYPE


def parse_event(body: bytes, event_type: str | None) -> IdenfyEvent:
    """Validate an authenticated iDenfy body into the model for ``event_type`` (the
    ``Idenfy-Event-Type`` header; ``None``/blank for legacy deliveries, see
    :func:`infer_event_type`). Unknown types give :class:`IdenfyUnknownEvent`. The header is not
    signed, so it only picks among models that agree with the body: a body carrying a field of
    another type's body is refused (docs/verification.md, "Unsigned headers"). Raises
    :class:`~kyc_webhooks.errors.PayloadError` only."""
    check_object_count(body, what="iDenfy")  # before anything decodes the body
    etype = event_type.strip() if event_type else ""
    if not _usable_type_header(etype):
        # Unsigned and sender-controlled: a value no documented type has (empty, too long, not
        # printable ASCII -- a line break would forge log lines) is treated as an absent header.
        etype = infer_event_type(body)
    model = _RESOLVED.get(etype)
    if model is None:
        etype = _SPELLINGS.get(etype, etype)
        model = EVENT_MODELS.get(etype, IdenfyUnknownEvent)
    try:
        event: IdenfyEvent = model.__pydantic_validator__.validate_json(body)
    except VALIDATION_ERRORS as exc:
        # An undocumented type is the unsigned header's own text: never quoted in a message (it
        # reaches the response and the log), as ComplyCube's unknown types are not.
        documented = etype if model is not IdenfyUnknownEvent else ""
        error = payload_error(exc, what="iDenfy", event_type=documented)
    else:
        extra = event.__pydantic_extra__
        # The type came from the unsigned header (or its absence): refuse it where the signed body
        # says otherwise.
        if extra and not _BODY_KEYS.keys().isdisjoint(extra.keys()):  # iterates the smaller
            contradiction = _header_contradiction(event, extra)
            if contradiction is not None:
                raise contradiction
        return event.bind(vendor=VENDOR, event_type=etype, raw=body)
    raise error  # outside the except block: no ValidationError (input values) as __context__
