"""iDenfy event models (facts: ../shared/vendors/idenfy.md §3-§4).

One model per body schema; ``EVENT_MODELS`` maps every ``Idenfy-Event-Type`` value (sheet §3) to its
model. All fields are optional unless the vendor guarantees them (sheet §5.6: the spec's
``required`` lists are unreliable, so only the core id of each body is required), every enum is
open (unknown values stay ``str``), unknown keys are kept at every depth, and personal data is
masked in ``repr()``.

Entry points:

* :func:`parse_event` -- ``(raw body, Idenfy-Event-Type header) -> IdenfyEvent``, validating
  straight from the bytes.
* :attr:`IdentificationEvent.is_final` -- whether a KYC result is definitive.
* :attr:`IdentificationEvent.triage` -- everything needed to review a ``SUSPECTED``/``DENIED``
  result in one small frozen object.
"""

from dataclasses import dataclass
from typing import Annotated, Any, TypeAlias

from pydantic import Discriminator, Field, Tag
from pydantic_core import from_json

from .._vendor import validate_json
from ..models import (
    LAZY,
    OPEN,
    PERSONAL,
    KycModel,
    LazyTimestamp,
    Timestamp,
    UnknownEvent,
    WebhookEvent,
    WireEnum,
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

VENDOR = "idenfy"
#: event_type given to a legacy delivery without ``Idenfy-Event-Type`` whose body shape is unknown.
UNDETERMINED_EVENT_TYPE = "UNKNOWN"

#: A JSON number kept as sent (an ``int`` stays ``int``, a ``float`` stays ``float``).
Number: TypeAlias = int | float


# ================================================================================================
# Open enums (sheet §4). Fields typed ``Annotated[X | str | None, OPEN]``: a documented value
# becomes the member, anything else stays a plain ``str``.
# ================================================================================================


class OverallStatus(WireEnum):
    """``status.overall`` (§4.2). ``EXPIRED-DELETED`` is dashboard vocabulary only (§5.4)."""

    APPROVED = "APPROVED"
    DENIED = "DENIED"
    SUSPECTED = "SUSPECTED"
    REVIEWING = "REVIEWING"
    EXPIRED = "EXPIRED"
    ACTIVE = "ACTIVE"
    DELETED = "DELETED"
    ARCHIVED = "ARCHIVED"
    EXPIRED_DELETED = "EXPIRED-DELETED"


class Platform(WireEnum):
    """Device the user verified on (§4.1)."""

    PC = "PC"
    MOBILE = "MOBILE"
    TABLET = "TABLET"
    MOBILE_APP = "MOBILE_APP"
    MOBILE_SDK = "MOBILE_SDK"
    OTHER = "OTHER"


class FaceStatus(WireEnum):
    """``autoFace``/``manualFace`` (§4.2; the last two are dashboard vocabulary, §5.4)."""

    FACE_MATCH = "FACE_MATCH"
    FACE_NOT_CHECKED = "FACE_NOT_CHECKED"
    FACE_MISMATCH = "FACE_MISMATCH"
    NO_FACE_FOUND = "NO_FACE_FOUND"
    TOO_MANY_FACES = "TOO_MANY_FACES"
    FACE_TOO_BLURRY = "FACE_TOO_BLURRY"
    FACE_GLARED = "FACE_GLARED"
    FACE_UNCERTAIN = "FACE_UNCERTAIN"
    FACE_NOT_ANALYSED = "FACE_NOT_ANALYSED"
    FACE_ERROR = "FACE_ERROR"
    AUTO_UNVERIFIABLE = "AUTO_UNVERIFIABLE"
    FAKE_FACE = "FAKE_FACE"
    FACE_SUSPECTED = "FACE_SUSPECTED"
    FACE_BLACKLISTED = "FACE_BLACKLISTED"


class DocumentStatus(WireEnum):
    """``autoDocument``/``manualDocument`` (§4.2)."""

    DOC_VALIDATED = "DOC_VALIDATED"
    DOC_INFO_MISMATCH = "DOC_INFO_MISMATCH"
    DOC_NOT_FOUND = "DOC_NOT_FOUND"
    DOC_NOT_FULLY_VISIBLE = "DOC_NOT_FULLY_VISIBLE"
    DOC_FACE_NOT_FOUND = "DOC_FACE_NOT_FOUND"
    DOC_TOO_BLURRY = "DOC_TOO_BLURRY"
    DOC_GLARED = "DOC_GLARED"
    DOC_FACE_GLARED = "DOC_FACE_GLARED"
    MRZ_NOT_FOUND = "MRZ_NOT_FOUND"
    MRZ_OCR_READING_ERROR = "MRZ_OCR_READING_ERROR"
    BARCODE_NOT_FOUND = "BARCODE_NOT_FOUND"
    DOC_EXPIRED = "DOC_EXPIRED"
    DOC_NOT_SUPPORTED = "DOC_NOT_SUPPORTED"
    COUNTRY_NOT_SUPPORTED = "COUNTRY_NOT_SUPPORTED"
    COUNTRY_MISMATCH = "COUNTRY_MISMATCH"
    DOC_TYPE_MISMATCH = "DOC_TYPE_MISMATCH"
    DOC_SUBTYPE_MISMATCH = "DOC_SUBTYPE_MISMATCH"
    DOC_SIDE_MISMATCH = "DOC_SIDE_MISMATCH"
    DOC_DAMAGED = "DOC_DAMAGED"
    DOC_FAKE = "DOC_FAKE"
    DOC_PERSONAL_CODE_INVALID = "DOC_PERSONAL_CODE_INVALID"
    DOC_NOT_ALLOWED = "DOC_NOT_ALLOWED"
    DOC_NAME_ERROR = "DOC_NAME_ERROR"
    DOC_SURNAME_ERROR = "DOC_SURNAME_ERROR"
    DOC_EXPIRY_ERROR = "DOC_EXPIRY_ERROR"
    DOC_DOB_ERROR = "DOC_DOB_ERROR"
    DOC_PERSONAL_NUMBER_ERROR = "DOC_PERSONAL_NUMBER_ERROR"
    DOC_NUMBER_ERROR = "DOC_NUMBER_ERROR"
    DOC_DATE_OF_ISSUE_ERROR = "DOC_DATE_OF_ISSUE_ERROR"
    DOC_SEX_ERROR = "DOC_SEX_ERROR"
    DOC_NATIONALITY_ERROR = "DOC_NATIONALITY_ERROR"
    DOC_NOT_ANALYSED = "DOC_NOT_ANALYSED"
    DOC_ERROR = "DOC_ERROR"
    AUTO_UNVERIFIABLE = "AUTO_UNVERIFIABLE"
    DOC_SPOOF_DETECTED = "DOC_SPOOF_DETECTED"
    MRZ_INVALID = "MRZ_INVALID"
    EID_FAILED = "EID_FAILED"
    NFC_INIT_FAILED = "NFC_INIT_FAILED"
    NFC_FAILED = "NFC_FAILED"
    NFC_TIMEOUT = "NFC_TIMEOUT"


class AdditionalStepsStatus(WireEnum):
    """``status.additionalSteps`` (§4.2)."""

    VALID = "VALID"
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"


class FraudTag(WireEnum):
    """``status.fraudTags`` (§4.2 plus ``URJANET_FAILURE`` from the dashboard schema, Evidence)."""

    FACE_IN_BLACKLIST = "FACE_IN_BLACKLIST"
    DOC_FACE_IN_BLACKLIST = "DOC_FACE_IN_BLACKLIST"
    DATA_BLACKLISTED = "DATA_BLACKLISTED"
    DATA_IN_BLACKLIST = "DATA_IN_BLACKLIST"
    DUPLICATE_FACE = "DUPLICATE_FACE"
    DUPLICATE_DOC_FACE = "DUPLICATE_DOC_FACE"
    DUPLICATE_PERSONAL_DATA = "DUPLICATE_PERSONAL_DATA"
    VIRTUAL_CAMERA = "VIRTUAL_CAMERA"
    ADDRESS_UNVERIFIED = "ADDRESS_UNVERIFIED"
    PORTRAIT_SUBSTITUTION = "PORTRAIT_SUBSTITUTION"
    FACE_SUSPECTED = "FACE_SUSPECTED"
    FACE_BLACKLISTED = "FACE_BLACKLISTED"
    DOC_FACE_BLACKLISTED = "DOC_FACE_BLACKLISTED"
    DOC_MOBILE_PHOTO = "DOC_MOBILE_PHOTO"
    DEV_TOOLS_OPENED = "DEV_TOOLS_OPENED"
    DOC_PRINT_SPOOFED = "DOC_PRINT_SPOOFED"
    FAKE_PHOTO = "FAKE_PHOTO"
    AML_SUSPECTION = "AML_SUSPECTION"
    AML_FAILED = "AML_FAILED"
    LID_SUSPECTION = "LID_SUSPECTION"
    LID_FAILED = "LID_FAILED"
    SANCTIONS_SUSPECTION = "SANCTIONS_SUSPECTION"
    SANCTIONS_FAILED = "SANCTIONS_FAILED"
    CRIMINAL_SUSPECTED = "CRIMINAL_SUSPECTED"
    CRIMINAL_CHECK_FAILED = "CRIMINAL_CHECK_FAILED"
    RC_FAILED = "RC_FAILED"
    DL_FAILED = "DL_FAILED"
    AUTO_UNVERIFIABLE = "AUTO_UNVERIFIABLE"
    URJANET_FAILURE = "URJANET_FAILURE"


#: Legacy ``status.suspicionReasons`` (§4.2, §5.2): the sheet says ``fraudTags`` mirrors it,
#: and every documented suspicion reason (dashboard-schema extras included, "Evidence") is a
#: fraud tag, so both share one vocabulary.
SuspicionReason = FraudTag


class MismatchTag(WireEnum):
    """``status.mismatchTags`` (§4.2)."""

    NAME = "NAME"
    SURNAME = "SURNAME"
    DOCUMENT_NUMBER = "DOCUMENT_NUMBER"
    PERSONAL_CODE = "PERSONAL_CODE"
    EXPIRY_DATE = "EXPIRY_DATE"
    DATE_OF_BIRTH = "DATE_OF_BIRTH"
    DATE_OF_ISSUE = "DATE_OF_ISSUE"
    NATIONALITY = "NATIONALITY"
    SEX = "SEX"
    FULL_NAME = "FULL_NAME"
    DOC_INFO_MISMATCH = "DOC_INFO_MISMATCH"
    UNDER_AGE = "UNDER_AGE"
    OVER_AGE = "OVER_AGE"
    UNKNOWN_AGE = "UNKNOWN_AGE"
    UTILITY_ADDRESS = "UTILITY_ADDRESS"
    UTILITY_NAME = "UTILITY_NAME"
    EXPIRED_UTILITY_BILL = "EXPIRED_UTILITY_BILL"
    INVALID_ADDITIONAL_STEP = "INVALID_ADDITIONAL_STEP"
    ADDITIONAL_STEP_NOT_FOUND = "ADDITIONAL_STEP_NOT_FOUND"
    ADDITIONAL_STEP_INFORMATION_MISMATCH = "ADDITIONAL_STEP_INFORMATION_MISMATCH"
    EXPIRED_ADDITIONAL_STEP_INFORMATION = "EXPIRED_ADDITIONAL_STEP_INFORMATION"
    REGISTRY_CENTER_INFO_MISMATCH = "REGISTRY_CENTER_INFO_MISMATCH"
    DRIVER_LICENSE_INFO_MISMATCH = "DRIVER_LICENSE_INFO_MISMATCH"
    NOT_SUPPORTED_POA_DOCUMENT_TYPE = "NOT_SUPPORTED_POA_DOCUMENT_TYPE"
    NOT_SUPPORTED_POA_DOCUMENT_COUNTRY = "NOT_SUPPORTED_POA_DOCUMENT_COUNTRY"
    POA_COUNTRIES_MISMATCH = "POA_COUNTRIES_MISMATCH"
    POA_SCREENSHOT_DETECTED = "POA_SCREENSHOT_DETECTED"


class DocumentType(WireEnum):
    """``data.docType`` (§4.3; ``INTERNATIONAL_PASSPORT`` only in the third-party go-idenfy)."""

    ID_CARD = "ID_CARD"
    PASSPORT = "PASSPORT"
    RESIDENCE_PERMIT = "RESIDENCE_PERMIT"
    DRIVER_LICENSE = "DRIVER_LICENSE"
    PAN_CARD = "PAN_CARD"
    AADHAAR = "AADHAAR"
    VISA = "VISA"
    NATIONAL_PASSPORT = "NATIONAL_PASSPORT"
    PROVISIONAL_DRIVER_LICENSE = "PROVISIONAL_DRIVER_LICENSE"
    OLD_ID_CARD = "OLD_ID_CARD"
    MILITARY_CARD = "MILITARY_CARD"
    ADDRESS_CARD = "ADDRESS_CARD"
    SMART_ID = "SMART_ID"
    CLEAR = "CLEAR"
    ONE_ID = "ONE_ID"
    BANK_ID_SE = "BANK_ID_SE"
    BANK_ID_NO = "BANK_ID_NO"
    BANK_ID_CZ = "BANK_ID_CZ"
    FTN = "FTN"
    MIT_ID = "MIT_ID"
    VERIMI = "VERIMI"
    LA_WALLET = "LA_WALLET"
    SAMSUNG_WALLET = "SAMSUNG_WALLET"
    MOJE_ID_CZ = "MOJE_ID_CZ"
    YOTI_ID = "YOTI_ID"
    OTHER = "OTHER"
    BORDER_CROSSING = "BORDER_CROSSING"
    ASYLUM = "ASYLUM"
    PHOTO_CARD = "PHOTO_CARD"
    PROOF_OF_AGE_CARD = "PROOF_OF_AGE_CARD"
    TRAVEL_CARD = "TRAVEL_CARD"
    SOCIAL_SECURITY_CARD = "SOCIAL_SECURITY_CARD"
    VOTER_CARD = "VOTER_CARD"
    DIPLOMATIC_ID = "DIPLOMATIC_ID"
    WORK_PERMIT = "WORK_PERMIT"
    INTERNATIONAL_PASSPORT = "INTERNATIONAL_PASSPORT"


class DocumentSex(WireEnum):
    """``data.docSex`` (§4.3)."""

    MALE = "MALE"
    FEMALE = "FEMALE"
    UNDEFINED = "UNDEFINED"


class AgeEstimate(WireEnum):
    """``data.ageEstimate`` (§4.3)."""

    UNDER_13 = "UNDER_13"
    UNDER_8 = "UNDER_8"
    OVER_8 = "OVER_8"
    OVER_13 = "OVER_13"
    OVER_16 = "OVER_16"
    OVER_18 = "OVER_18"
    OVER_21 = "OVER_21"
    OVER_22 = "OVER_22"
    OVER_25 = "OVER_25"
    OVER_30 = "OVER_30"


class RiskLevel(WireEnum):
    """``clientIpProxyRiskLevel``, ``riskAssessment.riskLevel``, bank ``riskLevel`` (§4.3)."""

    VERY_LOW = "VERY_LOW"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    VERY_HIGH = "VERY_HIGH"
    NOT_CHECKED = "NOT_CHECKED"


class AddressVerificationStatus(WireEnum):
    VERIFIED = "VERIFIED"
    PARTIALLY_VERIFIED = "PARTIALLY_VERIFIED"
    UNVERIFIED = "UNVERIFIED"


class AddressQuality(WireEnum):
    EXCELLENT = "EXCELLENT"
    GOOD = "GOOD"
    AVERAGE = "AVERAGE"
    POOR = "POOR"
    BAD = "BAD"


class QuestionType(WireEnum):
    """Questionnaire question ``type`` (§4.1)."""

    CHECKBOX = "CHECKBOX"
    COLOR = "COLOR"
    COUNTRY = "COUNTRY"
    COUNTRY_MULTI = "COUNTRY_MULTI"
    DATE = "DATE"
    DATETIME = "DATETIME"
    EMAIL = "EMAIL"
    FILE = "FILE"
    FILE_MULTI = "FILE_MULTI"
    FLOAT = "FLOAT"
    LIST = "LIST"
    INTEGER = "INTEGER"
    PASSWORD = "PASSWORD"  # noqa: S105 -- a question type, not a secret
    RADIO = "RADIO"
    SELECT = "SELECT"
    SELECT_MULTI = "SELECT_MULTI"
    TEL = "TEL"
    TEXT = "TEXT"
    TEXT_AREA = "TEXT_AREA"
    TIME = "TIME"
    URL = "URL"


class AdditionalStepMethod(WireEnum):
    """Values of the top-level ``additionalSteps`` map (§4.1)."""

    UPLOAD = "UPLOAD"
    COMPARE = "COMPARE"
    EXTRACT = "EXTRACT"


class FraudCheckStatus(WireEnum):
    """``FraudStatus.overallStatus`` (§4.5)."""

    SUSPECTED = "SUSPECTED"
    NOT_SUSPECTED = "NOT_SUSPECTED"


class AmlSuspicion(WireEnum):
    """Legacy AML hit ``suspicion`` (§4.6)."""

    SANCTION = "SANCTION"
    INTERPOL = "INTERPOL"
    PEPS = "PEPS"
    ADVERSE_MEDIA = "ADVERSE_MEDIA"
    OTHER = "OTHER"


class AmlCheckStatus(WireEnum):
    """AML v3 ``overallStatus`` and the KYB/monitoring ``*Status`` fields (§4.7, §4.12)."""

    NOT_CHECKED = "NOT_CHECKED"
    NO_FLAGS = "NO_FLAGS"
    FALSE_POSITIVE = "FALSE_POSITIVE"
    TRUE_POSITIVE = "TRUE_POSITIVE"
    FLAGS_FOUND = "FLAGS_FOUND"


class AmlDataset(WireEnum):
    """AML v3 search result ``datasets`` (§4.13)."""

    PEP_CURRENT = "PEP_CURRENT"
    PEP_FORMER = "PEP_FORMER"
    PEP_LINKED = "PEP_LINKED"
    SAN_CURRENT = "SAN_CURRENT"
    SAN_FORMER = "SAN_FORMER"
    INS = "INS"
    RRE = "RRE"
    DD = "DD"
    POI = "POI"
    REL = "REL"
    GRI = "GRI"


class PepTier(WireEnum):
    PEP_TIER_1 = "PEP_TIER_1"
    PEP_TIER_2 = "PEP_TIER_2"
    PEP_TIER_3 = "PEP_TIER_3"


class Gender(WireEnum):
    MALE = "MALE"
    FEMALE = "FEMALE"


class AmlUserType(WireEnum):
    """Discriminates AML v3 individual/business data in AML monitoring (§4.13)."""

    PERSON = "PERSON"
    COMPANY = "COMPANY"


class AmlCommentType(WireEnum):
    ADVERSE_MEDIA = "ADVERSE_MEDIA"
    AML_PROFILE = "AML_PROFILE"


class RegistryMatchStatus(WireEnum):
    """Per-field ``…Status`` of the US registry check (§4.9)."""

    MATCH = "MATCH"
    NO_MATCH = "NO_MATCH"
    PARTIAL_MATCH = "PARTIAL_MATCH"
    NO_DATA = "NO_DATA"
    NO_INPUT = "NO_INPUT"
    INVALID = "INVALID"


class BankCardStatus(WireEnum):
    NOT_COMPARED = "NOT_COMPARED"
    MATCH = "MATCH"
    NO_MATCH = "NO_MATCH"


class BankCardNoMatchReason(WireEnum):
    NAME_MISMATCH = "NAME_MISMATCH"
    NUMBER_MISMATCH = "NUMBER_MISMATCH"
    NAME_NOT_FOUND = "NAME_NOT_FOUND"
    NUMBER_NOT_FOUND = "NUMBER_NOT_FOUND"
    LIVENESS_FAILED = "LIVENESS_FAILED"


class ExpirationThreshold(WireEnum):
    """``DOCUMENT_EXPIRATION`` ``expirationThreshold`` (§4.4)."""

    DOCUMENT_EXPIRES_WITHIN_30_DAYS = "DOCUMENT_EXPIRES_WITHIN_30_DAYS"
    DOCUMENT_EXPIRES_WITHIN_7_DAYS = "DOCUMENT_EXPIRES_WITHIN_7_DAYS"
    DOCUMENT_EXPIRES_WITHIN_1_DAY = "DOCUMENT_EXPIRES_WITHIN_1_DAY"
    DOCUMENT_EXPIRED = "DOCUMENT_EXPIRED"


class FacialAuthenticationStatus(WireEnum):
    """``FACIAL_AUTHENTICATION`` ``status``, upper-case spelling (SDK example, iFrame page).

    The spec spells the same values ``Success``/``Failed``/... (§4.10); both casings are accepted
    and kept as sent -- :attr:`FacialAuthenticationEvent.normalized_status` maps either to a member.
    """

    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    CANCELED = "CANCELED"
    PENDING = "PENDING"


class FacialAuthenticationType(WireEnum):
    ENROLLMENT = "ENROLLMENT"
    AUTHENTICATION = "AUTHENTICATION"


class FacialAuthenticationMethod(WireEnum):
    ACTIVE_LIVENESS = "ACTIVE_LIVENESS"
    FACE_MATCHING = "FACE_MATCHING"


class FacialAuthenticationRiskTag(WireEnum):
    UNTRUSTED_ENVIRONMENT = "UNTRUSTED_ENVIRONMENT"


class AgeEstimationStatus(WireEnum):
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class AgeEstimationOutcome(WireEnum):
    SUCCESS = "SUCCESS"
    UNDERAGE = "UNDERAGE"
    UNCERTAIN = "UNCERTAIN"
    FACE_MISMATCH = "FACE_MISMATCH"
    ATTEMPTS_EXCEEDED = "ATTEMPTS_EXCEEDED"


class AmlAlertStatus(WireEnum):
    """Deprecated (AML v2) monitoring ``alertStatus`` (§4.13)."""

    ALERT = "ALERT"
    DECLINED = "DECLINED"
    ACCEPTED = "ACCEPTED"
    PENDING = "PENDING"
    STATUS = "STATUS"


class AmlMonitoringStatus(WireEnum):
    """AML v3 monitoring ``status`` (§4.13)."""

    ACTIVE = "ACTIVE"
    STOPPED = "STOPPED"
    PENDING = "PENDING"
    ALERT = "ALERT"


class ApprovalStatus(WireEnum):
    APPROVED = "APPROVED"
    DENIED = "DENIED"


class AmlReviewSubjectType(WireEnum):
    COMPANY = "COMPANY"
    BENEFICIARY = "BENEFICIARY"
    SHAREHOLDER = "SHAREHOLDER"


class CompanyInfoRequestStatus(WireEnum):
    REQUESTED = "REQUESTED"
    EXPIRED = "EXPIRED"
    CANCELED = "CANCELED"


class CompanyExpirationStatus(WireEnum):
    PENDING = "PENDING"
    EXPIRED = "EXPIRED"


class DocumentOrderStatus(WireEnum):
    """``GOV_ORDERED_DOCUMENT`` and ``SOS_REPORT`` ``status`` (§4.12)."""

    NOT_ORDERED = "NOT_ORDERED"
    IN_PROGRESS = "IN_PROGRESS"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"


class CompanyEntityType(WireEnum):
    CORPORATION = "CORPORATION"
    LLC = "LLC"
    PARTNERSHIP = "PARTNERSHIP"
    NON_PROFIT = "NON_PROFIT"
    TRUST = "TRUST"
    SOLE_PROPRIETORSHIP = "SOLE_PROPRIETORSHIP"


# ================================================================================================
# Shared nested objects
# ================================================================================================


class ManagerAccount(KycModel):
    """A dashboard user who changed a status (§4.12; ``username`` is the deprecated old form)."""

    id: int | None = None
    name: Annotated[str | None, PERSONAL] = None
    surname: Annotated[str | None, PERSONAL] = None
    email: Annotated[str | None, PERSONAL] = None
    username: Annotated[str | None, PERSONAL] = None


# ---- legacy fraud-check envelope: AML v2 / LID / CRIMINAL_CHECK (§4.5, §4.6, §4.8) -------------


class FraudStatus(KycModel):
    """Shared ``status`` of AML v2 / LID / criminal / company results (§4.5)."""

    service_suspected: bool | None = Field(default=None, alias="serviceSuspected")
    service_used: bool | None = Field(default=None, alias="serviceUsed")
    service_found: bool | None = Field(default=None, alias="serviceFound")
    check_successful: bool | None = Field(default=None, alias="checkSuccessful")
    overall_status: Annotated[FraudCheckStatus | str | None, OPEN] = Field(
        default=None, alias="overallStatus"
    )


class FraudCheckResult(KycModel):
    """Envelope common to every legacy check result: ``AML[]``, ``LID[]``, ``CRIMINAL_CHECK[]``.

    ``serviceName`` stays a plain string: older bodies use names such as ``PilotApiAmlV2`` (§4.6).
    """

    status: FraudStatus | None = None
    service_name: str | None = Field(default=None, alias="serviceName")
    service_group_type: str | None = Field(default=None, alias="serviceGroupType")
    uid: str | None = None
    error_message: str | None = Field(default=None, alias="errorMessage")

    @property
    def suspected(self) -> bool:
        """True when the service flagged the person (``status.serviceSuspected`` or
        ``overallStatus == SUSPECTED``)."""
        status = self.status
        if status is None:
            return False
        return bool(status.service_suspected) or status.overall_status == "SUSPECTED"


class AmlHit(KycModel):
    """A name-list hit: ``AML_NAMES_CHECK``/``AML_OPEN_SANCTIONS`` (and ``COMPANY_CHECK``) data
    item (§4.6). ``score`` accepts any number and ``listNumber`` a string or number (the company
    fragment sends strings): more lenient than the spec's ``int``, documented in §4.6 examples."""

    name: Annotated[str | None, PERSONAL] = None
    surname: Annotated[str | None, PERSONAL] = None
    nationality: str | None = None
    dob: Annotated[str | None, PERSONAL] = None
    suspicion: Annotated[AmlSuspicion | str | None, OPEN] = None
    reason: Annotated[str | None, PERSONAL] = None
    list_number: str | int | None = Field(default=None, alias="listNumber")
    list_name: str | None = Field(default=None, alias="listName")
    score: Number | None = None
    last_update: str | None = Field(default=None, alias="lastUpdate")
    exit_date: str | None = Field(default=None, alias="exitDate")
    is_person: bool | None = Field(default=None, alias="isPerson")
    is_active: bool | None = Field(default=None, alias="isActive")
    linked_document: str | None = Field(default=None, alias="linkedDocument")
    pep_level: int | None = Field(default=None, alias="pepLevel")
    category: str | None = None
    other_information: Annotated[str | None, PERSONAL] = Field(
        default=None, alias="otherInformation"
    )
    check_date: str | None = Field(default=None, alias="checkDate")
    whitelisted: bool | None = None


class AmlNewsItem(KycModel):
    """An adverse-media item: ``AML_NEWS``/``INHOUSE_ADVERSE_MEDIA`` data (§4.6). ``score`` is a
    string in the spec; numbers are accepted too."""

    # Adverse media about a named person: personal.
    title: Annotated[str | None, PERSONAL] = None
    url: Annotated[str | None, PERSONAL] = None
    text: Annotated[str | None, PERSONAL] = None
    score: str | int | float | None = None
    type: str | None = None
    publish_date: str | None = Field(default=None, alias="publishDate")
    check_date: str | None = Field(default=None, alias="checkDate")


class AmlCompanyCheckItem(KycModel):
    """Old ``CompanyCheck`` service item (``serviceGroupType: COMPANY``): the provider's raw
    ``result`` object (capitalised keys) plus the company searched for."""

    # The provider's hits (``HitsOnLists`` with forenames, birth dates ...): personal.
    result: Annotated[dict[str, Any] | None, PERSONAL] = None
    company_name: str | None = Field(default=None, alias="companyName")
    country: str | None = None


def _aml_item_kind(value: Any) -> str:
    if isinstance(value, KycModel):
        return type(value).__name__
    if isinstance(value, dict):
        if "result" in value or "companyName" in value:
            return "AmlCompanyCheckItem"
        if "title" in value or "url" in value or "text" in value:
            return "AmlNewsItem"
    return "AmlHit"


#: One item of an AML result's ``data``: the shape depends on the service (§4.6); told apart by
#: its keys, because ``serviceName`` values are not a closed set.
AmlDataItem: TypeAlias = Annotated[
    Annotated[AmlHit, Tag("AmlHit")]
    | Annotated[AmlNewsItem, Tag("AmlNewsItem")]
    | Annotated[AmlCompanyCheckItem, Tag("AmlCompanyCheckItem")],
    Discriminator(_aml_item_kind),
]


class AmlCheckResult(FraudCheckResult):
    """One element of ``AML`` (identification) or ``results`` (AML monitoring) (§4.6)."""

    data: list[AmlDataItem] | None = None


class LidDocument(KycModel):
    """A lost/invalid-document register entry (§4.8)."""

    document_number: Annotated[str | None, PERSONAL] = Field(default=None, alias="documentNumber")
    document_type: str | None = Field(default=None, alias="documentType")
    valid: bool | None = None
    expiry_date: str | None = Field(default=None, alias="expiryDate")
    check_date: str | None = Field(default=None, alias="checkDate")


class LidCheckResult(FraudCheckResult):
    """One element of ``LID`` (§4.8)."""

    data: list[LidDocument] | None = None


class CriminalOffense(KycModel):
    offense: str | None = None
    offense_class: str | None = Field(default=None, alias="offenseClass")
    offense_description: str | None = Field(default=None, alias="offenseDescription")
    offense_level: str | None = Field(default=None, alias="offenseLevel")
    sentence_date: str | None = Field(default=None, alias="sentenceDate")
    court_name: str | None = Field(default=None, alias="courtName")
    court_case_number: str | None = Field(default=None, alias="courtCaseNumber")
    release_date: str | None = Field(default=None, alias="releaseDate")


class CriminalRecord(KycModel):
    """A criminal-record match (§4.8). Offences are special-category data: masked in ``repr()``."""

    offenses: Annotated[list[CriminalOffense] | None, PERSONAL] = None
    full_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="fullName")
    county: str | None = None
    region: str | None = None


class CriminalCheckResult(FraudCheckResult):
    """One element of ``CRIMINAL_CHECK`` (§4.8)."""

    data: list[CriminalRecord] | None = None


class LegacyCheckSummary(KycModel):
    """The 2018 form of the lower-case ``aml``/``lid`` objects: ``{"suspected": …, "results": {…}}``
    (sheet, Evidence). ``results`` holds provider data and is treated as personal."""

    suspected: bool | None = None
    results: Annotated[dict[str, Any] | None, PERSONAL] = None


def _legacy_kind(value: Any) -> str:
    if isinstance(value, KycModel):
        return "summary" if isinstance(value, LegacyCheckSummary) else "result"
    if isinstance(value, dict) and ("suspected" in value or "results" in value):
        return "summary"
    return "result"


#: Legacy lower-case ``aml`` (2018 summary or 2019-2021 single result envelope).
LegacyAml: TypeAlias = Annotated[
    Annotated[LegacyCheckSummary, Tag("summary")] | Annotated[AmlCheckResult, Tag("result")],
    Discriminator(_legacy_kind),
]
#: Legacy lower-case ``lid`` (same two forms).
LegacyLid: TypeAlias = Annotated[
    Annotated[LegacyCheckSummary, Tag("summary")] | Annotated[LidCheckResult, Tag("result")],
    Discriminator(_legacy_kind),
]


# ---- AML v3 (§4.7, §4.13) ----------------------------------------------------------------------


class AmlV3HitAddress(KycModel):
    city: Annotated[str | None, PERSONAL] = None
    geography: str | None = None


class AmlV3Hit(KycModel):
    """An AML v3 search result (individual; business results share the envelope) (§4.7, §4.13)."""

    addresses: list[AmlV3HitAddress] | None = None
    dates_of_birth: Annotated[list[str] | None, PERSONAL] = Field(
        default=None, alias="datesOfBirth"
    )
    gender: Annotated[Gender | str | None, OPEN] = None
    nationalities: list[str] | None = None
    match: str | None = None
    former_san_body_ids: list[int] | None = Field(default=None, alias="formerSanBodyIds")
    countries: list[str] | None = None
    datasets: list[Annotated[AmlDataset | str, OPEN]] | None = None
    current_san_body_ids: list[int] | None = Field(default=None, alias="currentSanBodyIds")
    version: int | None = None
    pep_tier: Annotated[PepTier | str | None, OPEN] = Field(default=None, alias="pepTier")
    score: Number | None = None
    profile_image: Annotated[str | None, PERSONAL] = Field(default=None, alias="profileImage")
    name: Annotated[str | None, PERSONAL] = None
    resource_id: str | None = Field(default=None, alias="resourceId")


class AmlComment(KycModel):
    id: int | None = None
    manager: ManagerAccount | None = None
    content: Annotated[str | None, PERSONAL] = None  # a reviewer's free text about the person
    type: Annotated[AmlCommentType | str | None, OPEN] = None
    created: str | None = None


class AmlV3AdverseMedia(KycModel):
    # Adverse media about a named person: personal.
    title: Annotated[str | None, PERSONAL] = None
    url: Annotated[str | None, PERSONAL] = None
    text: Annotated[str | None, PERSONAL] = None
    score: str | int | float | None = None
    type: str | None = None
    publish_date: str | None = Field(default=None, alias="publishDate")
    status: str | None = None
    comment: AmlComment | None = None


class AmlV3Check(KycModel):
    """AML v3 result (``amlCheck`` in identification, KYB and monitoring bodies) (§4.7)."""

    id: str | None = None
    overall_status: Annotated[AmlCheckStatus | str | None, OPEN] = Field(
        default=None, alias="overallStatus"
    )
    status_set_by: ManagerAccount | None = Field(default=None, alias="statusSetBy")
    status_set_at: LazyTimestamp = Field(default=None, alias="statusSetAt")
    adverse_media: list[AmlV3AdverseMedia] | None = Field(default=None, alias="adverseMedia")
    aml_check: list[AmlV3Hit] | None = Field(default=None, alias="amlCheck")
    user_type: Annotated[AmlUserType | str | None, OPEN] = Field(default=None, alias="userType")


# ---- registry centre checks (§4.9) -------------------------------------------------------------


class RegistryCenterCheck(KycModel):
    """A government registry check; the subclass depends on ``resourceType`` (§4.9). A check of a
    kind this version does not know stays this base class with every key kept."""

    resource_type: str | None = Field(default=None, alias="resourceType")


class LithuaniaRegistryCenterCheck(RegistryCenterCheck):
    checked_personal_number: Annotated[str | None, PERSONAL] = Field(
        default=None, alias="checkedPersonalNumber"
    )
    checked_document_type: str | None = Field(default=None, alias="checkedDocumentType")
    personal_number: Annotated[str | None, PERSONAL] = Field(default=None, alias="personalNumber")
    name: Annotated[str | None, PERSONAL] = None
    surname: Annotated[str | None, PERSONAL] = None
    document_number: Annotated[str | None, PERSONAL] = Field(default=None, alias="documentNumber")
    document_expiration: str | None = Field(default=None, alias="documentExpiration")
    face_photo: Annotated[str | None, PERSONAL] = Field(default=None, alias="facePhoto")


class HungaryRegistryCenterCheck(RegistryCenterCheck):
    checked_mrz: Annotated[str | None, PERSONAL] = Field(default=None, alias="checkedMrz")
    first_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="firstName")
    last_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="lastName")
    maiden_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="maidenName")
    mothers_maiden_name: Annotated[str | None, PERSONAL] = Field(
        default=None, alias="mothersMaidenName"
    )
    birth_date: Annotated[str | None, PERSONAL] = Field(default=None, alias="birthDate")
    birth_place: Annotated[str | None, PERSONAL] = Field(default=None, alias="birthPlace")
    address: Annotated[dict[str, Any] | None, PERSONAL] = None
    residential_address: Annotated[dict[str, Any] | None, PERSONAL] = Field(
        default=None, alias="residentialAddress"
    )
    nationality: str | None = None
    id_card: Annotated[dict[str, Any] | None, PERSONAL] = Field(default=None, alias="idCard")
    passport: Annotated[dict[str, Any] | None, PERSONAL] = None
    additional_data: Annotated[dict[str, Any] | None, PERSONAL] = Field(
        default=None, alias="additionalData"
    )


_MatchStatus: TypeAlias = Annotated[RegistryMatchStatus | str | None, OPEN]


class Us15RegistryCenterCheck(RegistryCenterCheck):
    first_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="firstName")
    last_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="lastName")
    middle_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="middleName")
    dob: Annotated[str | None, PERSONAL] = None
    yob: Annotated[int | None, PERSONAL] = None
    address1: Annotated[str | None, PERSONAL] = None
    address2: Annotated[str | None, PERSONAL] = None
    city: Annotated[str | None, PERSONAL] = None
    state: str | None = None
    zip: Annotated[str | None, PERSONAL] = None
    id_num: Annotated[str | None, PERSONAL] = Field(default=None, alias="idNum")
    phone: Annotated[str | None, PERSONAL] = None
    email: Annotated[str | None, PERSONAL] = None
    first_name_status: _MatchStatus = Field(default=None, alias="firstNameStatus")
    last_name_status: _MatchStatus = Field(default=None, alias="lastNameStatus")
    middle_name_status: _MatchStatus = Field(default=None, alias="middleNameStatus")
    dob_status: _MatchStatus = Field(default=None, alias="dobStatus")
    yob_status: _MatchStatus = Field(default=None, alias="yobStatus")
    address1_status: _MatchStatus = Field(default=None, alias="address1Status")
    address2_status: _MatchStatus = Field(default=None, alias="address2Status")
    city_status: _MatchStatus = Field(default=None, alias="cityStatus")
    state_status: _MatchStatus = Field(default=None, alias="stateStatus")
    zip_status: _MatchStatus = Field(default=None, alias="zipStatus")
    id_num_status: _MatchStatus = Field(default=None, alias="idNumStatus")
    phone_status: _MatchStatus = Field(default=None, alias="phoneStatus")
    email_status: _MatchStatus = Field(default=None, alias="emailStatus")


def _registry_kind(value: Any) -> str:
    # The spec names the oneOf members but not the exact ``resourceType`` strings (UNCONFIRMED), so
    # both the type name and the distinctive keys are looked at; anything else keeps the base class.
    if isinstance(value, KycModel):
        return type(value).__name__
    if not isinstance(value, dict):
        return "RegistryCenterCheck"
    kind = value.get("resourceType")
    text = kind.lower().replace("_", "") if isinstance(kind, str) else ""
    if "lithuania" in text or "checkedPersonalNumber" in value:
        return "LithuaniaRegistryCenterCheck"
    if "hungary" in text or "checkedMrz" in value:
        return "HungaryRegistryCenterCheck"
    if "us15" in text or "firstNameStatus" in value or "idNumStatus" in value:
        return "Us15RegistryCenterCheck"
    return "RegistryCenterCheck"


AnyRegistryCenterCheck: TypeAlias = Annotated[
    Annotated[LithuaniaRegistryCenterCheck, Tag("LithuaniaRegistryCenterCheck")]
    | Annotated[HungaryRegistryCenterCheck, Tag("HungaryRegistryCenterCheck")]
    | Annotated[Us15RegistryCenterCheck, Tag("Us15RegistryCenterCheck")]
    | Annotated[RegistryCenterCheck, Tag("RegistryCenterCheck")],
    Discriminator(_registry_kind),
]


# ---- other identification add-ons (§4.1, §4.14, §4.15) -------------------------------------------


class AddressVerification(KycModel):
    address: Annotated[str | None, PERSONAL] = None
    country: str | None = None
    status: Annotated[AddressVerificationStatus | str | None, OPEN] = None
    accuracy: int | None = None
    quality: Annotated[AddressQuality | str | None, OPEN] = None


class QuestionnaireQuestion(KycModel):
    """One answered question. ``value`` is documented as string, bool or string list; numbers are
    accepted too (``INTEGER``/``FLOAT`` question types exist, §4.1)."""

    key: str | None = None
    title: str | None = None
    type: Annotated[QuestionType | str | None, OPEN] = None
    value: Annotated[str | bool | int | float | list[str] | None, PERSONAL] = None


class QuestionnaireSection(KycModel):
    title: str | None = None
    questions: list[QuestionnaireQuestion] | None = None


class QuestionnaireAnswers(KycModel):
    title: str | None = None
    sections: list[QuestionnaireSection] | None = None


class RiskAssessment(KycModel):
    risk_score: int | None = Field(default=None, alias="riskScore")
    risk_level: Annotated[RiskLevel | str | None, OPEN] = Field(default=None, alias="riskLevel")


class EmailVerification(KycModel):
    email: Annotated[str | None, PERSONAL] = None
    email_verified: bool | None = Field(default=None, alias="emailVerified")


class PhoneVerification(KycModel):
    phone: Annotated[str | None, PERSONAL] = None
    phone_verified: bool | None = Field(default=None, alias="phoneVerified")


class DriverLicenseCheck(KycModel):
    name: Annotated[str | None, PERSONAL] = None
    surname: Annotated[str | None, PERSONAL] = None
    date_of_birth: Annotated[str | None, PERSONAL] = Field(default=None, alias="dateOfBirth")
    state: str | None = None
    gender: str | None = None
    date_of_issue: str | None = Field(default=None, alias="dateOfIssue")
    date_of_expiry: str | None = Field(default=None, alias="dateOfExpiry")
    document_number: Annotated[str | None, PERSONAL] = Field(default=None, alias="documentNumber")
    name_match: bool | None = Field(default=None, alias="nameMatch")
    surname_match: bool | None = Field(default=None, alias="surnameMatch")
    date_of_birth_match: bool | None = Field(default=None, alias="dateOfBirthMatch")
    date_of_issue_match: bool | None = Field(default=None, alias="dateOfIssueMatch")
    date_of_expiry_match: bool | None = Field(default=None, alias="dateOfExpiryMatch")
    document_number_match: bool | None = Field(default=None, alias="documentNumberMatch")
    gender_match: bool | None = Field(default=None, alias="genderMatch")


class BalancesOverview(KycModel):
    booked_balance: Number | None = Field(default=None, alias="bookedBalance")
    available_balance: Number | None = Field(default=None, alias="availableBalance")


class BankAccount(KycModel):
    id: str | None = None
    name: Annotated[str | None, PERSONAL] = None
    iban: Annotated[str | None, PERSONAL] = None
    currency: str | None = None
    balances_overview: BalancesOverview | None = Field(default=None, alias="balancesOverview")
    # int in kyc.yaml, number in bank.yaml (§5.9): any number accepted.
    transactions_count: Number | None = Field(default=None, alias="transactionsCount")


class BankVerification(KycModel):
    """Open-banking verification (§4.14): ``bankVerification`` in an identification, and the
    body of ``BANK_VERIFICATION`` (:class:`BankVerificationEvent`)."""

    id: str | None = None
    country: str | None = None
    bank: str | None = None
    accounts: list[BankAccount] | None = None
    risk_level: Annotated[RiskLevel | str | None, OPEN] = Field(default=None, alias="riskLevel")


class BankCardVerification(KycModel):
    """Bank-card check (§4.15): ``bankCardVerification`` in an identification, and the body of
    ``BANK_CARD_VERIFICATION_COMPLETED`` (:class:`BankCardVerificationCompletedEvent`)."""

    id: str | None = None
    status: Annotated[BankCardStatus | str | None, OPEN] = None
    no_match_reason: Annotated[BankCardNoMatchReason | str | None, OPEN] = Field(
        default=None, alias="noMatchReason"
    )
    name: Annotated[str | None, PERSONAL] = None
    first_six: Annotated[str | None, PERSONAL] = Field(default=None, alias="firstSix")
    last_four: Annotated[str | None, PERSONAL] = Field(default=None, alias="lastFour")
    expiry_date: Annotated[str | None, PERSONAL] = Field(default=None, alias="expiryDate")
    name_match: bool | None = Field(default=None, alias="nameMatch")
    last_four_match: bool | None = Field(default=None, alias="lastFourMatch")


# ================================================================================================
# Identification (all IDENTIFICATION* event types)
# ================================================================================================

_Face: TypeAlias = Annotated[FaceStatus | str | None, OPEN]
_Doc: TypeAlias = Annotated[DocumentStatus | str | None, OPEN]
_AmlStatus: TypeAlias = Annotated[AmlCheckStatus | str | None, OPEN]


class IdentificationStatus(KycModel):
    """``status`` of an identification (§4.2). ``manualFace``/``manualDocument`` are ``None`` until
    a human reviewed. ``suspicionReasons`` is the legacy (pre-2022) name of ``fraudTags`` (§5.2);
    ``denyReasons``, ``amlResultClass`` and the three AML statuses come from independent
    integrations, not the spec (sheet, Evidence) -- all optional."""

    overall: Annotated[OverallStatus | str | None, OPEN] = None
    fraud_tags: list[Annotated[FraudTag | str, OPEN]] | None = Field(
        default=None, alias="fraudTags"
    )
    mismatch_tags: list[Annotated[MismatchTag | str, OPEN]] | None = Field(
        default=None, alias="mismatchTags"
    )
    suspicion_reasons: list[Annotated[SuspicionReason | str, OPEN]] | None = Field(
        default=None, alias="suspicionReasons"
    )
    deny_reasons: list[str] | None = Field(default=None, alias="denyReasons")
    auto_face: _Face = Field(default=None, alias="autoFace")
    manual_face: _Face = Field(default=None, alias="manualFace")
    auto_document: _Doc = Field(default=None, alias="autoDocument")
    manual_document: _Doc = Field(default=None, alias="manualDocument")
    additional_steps: Annotated[AdditionalStepsStatus | str | None, OPEN] = Field(
        default=None, alias="additionalSteps"
    )
    aml_result_class: str | None = Field(default=None, alias="amlResultClass")
    peps_status: _AmlStatus = Field(default=None, alias="pepsStatus")
    sanctions_status: _AmlStatus = Field(default=None, alias="sanctionsStatus")
    adverse_media_status: _AmlStatus = Field(default=None, alias="adverseMediaStatus")


class DocumentData(KycModel):
    """``data``: what was read from the document (§4.3). Every field may be null ("any field can
    be null"). Dates stay strings (``YYYY-MM-DD`` in the docs). ``manualAddress``,
    ``manualAddressMatch``, ``registryCenterCheck`` and ``addressVerification`` are accepted here
    as well as at the top level: the third-party go-idenfy sample puts them inside ``data`` (§5.7).
    ``org*`` fields carry the names in the original script."""

    doc_first_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="docFirstName")
    doc_last_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="docLastName")
    doc_number: Annotated[str | None, PERSONAL] = Field(default=None, alias="docNumber")
    doc_personal_code: Annotated[str | None, PERSONAL] = Field(
        default=None, alias="docPersonalCode"
    )
    doc_expiry: str | None = Field(default=None, alias="docExpiry")
    doc_dob: Annotated[str | None, PERSONAL] = Field(default=None, alias="docDob")
    doc_date_of_issue: str | None = Field(default=None, alias="docDateOfIssue")
    doc_type: Annotated[DocumentType | str | None, OPEN] = Field(default=None, alias="docType")
    doc_sex: Annotated[DocumentSex | str | None, OPEN] = Field(default=None, alias="docSex")
    doc_nationality: str | None = Field(default=None, alias="docNationality")
    doc_issuing_country: str | None = Field(default=None, alias="docIssuingCountry")
    birth_place: Annotated[str | None, PERSONAL] = Field(default=None, alias="birthPlace")
    authority: str | None = None
    address: Annotated[str | None, PERSONAL] = None
    doc_temporary_address: Annotated[str | None, PERSONAL] = Field(
        default=None, alias="docTemporaryAddress"
    )
    mothers_maiden_name: Annotated[str | None, PERSONAL] = Field(
        default=None, alias="mothersMaidenName"
    )
    doc_birth_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="docBirthName")
    doc_patronymic: Annotated[str | None, PERSONAL] = Field(default=None, alias="docPatronymic")
    driver_license_category: str | None = Field(default=None, alias="driverLicenseCategory")
    manually_data_changed: bool | None = Field(default=None, alias="manuallyDataChanged")
    full_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="fullName")
    selected_country: str | None = Field(default=None, alias="selectedCountry")
    org_first_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="orgFirstName")
    org_last_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="orgLastName")
    org_nationality: str | None = Field(default=None, alias="orgNationality")
    org_birth_place: Annotated[str | None, PERSONAL] = Field(default=None, alias="orgBirthPlace")
    org_authority: str | None = Field(default=None, alias="orgAuthority")
    org_address: Annotated[str | None, PERSONAL] = Field(default=None, alias="orgAddress")
    org_temporary_address: Annotated[str | None, PERSONAL] = Field(
        default=None, alias="orgTemporaryAddress"
    )
    org_mothers_maiden_name: Annotated[str | None, PERSONAL] = Field(
        default=None, alias="orgMothersMaidenName"
    )
    org_patronymic: Annotated[str | None, PERSONAL] = Field(default=None, alias="orgPatronymic")
    org_birth_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="orgBirthName")
    age_estimate: Annotated[AgeEstimate | str | None, OPEN] = Field(
        default=None, alias="ageEstimate"
    )
    client_ip_proxy_risk_level: Annotated[RiskLevel | str | None, OPEN] = Field(
        default=None, alias="clientIpProxyRiskLevel"
    )
    duplicate_faces: list[str] | None = Field(default=None, alias="duplicateFaces")
    duplicate_doc_faces: list[str] | None = Field(default=None, alias="duplicateDocFaces")
    additional_data: Annotated[dict[str, Any] | None, PERSONAL] = Field(
        default=None, alias="additionalData"
    )
    # Tolerated here as well as at the top level (§5.7).
    manual_address: Annotated[str | None, PERSONAL] = Field(default=None, alias="manualAddress")
    manual_address_match: bool | None = Field(default=None, alias="manualAddressMatch")
    registry_center_check: AnyRegistryCenterCheck | None = Field(
        default=None, alias="registryCenterCheck"
    )
    address_verification: AddressVerification | None = Field(
        default=None, alias="addressVerification"
    )


@dataclass(frozen=True)
class IdentificationTriage:
    """Everything needed to review a ``SUSPECTED`` (or ``DENIED``) identification, in one place.

    * ``overall`` -- ``status.overall``.
    * ``fraud_tags`` -- ``status.fraudTags`` followed by the legacy ``status.suspicionReasons``
      (the sheet §5.2: ``fraudTags`` mirrors it), duplicates removed, order kept.
    * ``mismatch_tags``, ``deny_reasons`` -- as sent (empty when absent).
    * ``auto_face``/``manual_face``/``auto_document``/``manual_document`` -- as sent; ``face`` and
      ``document`` give the manual verdict when a human reviewed, else the automatic one.

    Values are enum members for documented values and plain ``str`` for new ones; compare with
    ``==`` against either.
    """

    overall: OverallStatus | str | None
    fraud_tags: tuple[FraudTag | str, ...]
    mismatch_tags: tuple[MismatchTag | str, ...]
    deny_reasons: tuple[str, ...]
    auto_face: FaceStatus | str | None
    manual_face: FaceStatus | str | None
    auto_document: DocumentStatus | str | None
    manual_document: DocumentStatus | str | None

    @property
    def suspected(self) -> bool:
        """``overall == SUSPECTED``."""
        return self.overall == OverallStatus.SUSPECTED

    @property
    def face(self) -> FaceStatus | str | None:
        """The face verdict that counts: manual when reviewed, else automatic."""
        return self.manual_face if self.manual_face is not None else self.auto_face

    @property
    def document(self) -> DocumentStatus | str | None:
        """The document verdict that counts: manual when reviewed, else automatic."""
        return self.manual_document if self.manual_document is not None else self.auto_document


class IdenfyEvent(WebhookEvent):
    """Base of every iDenfy event.

    ``delivery_key`` = ``idenfy:<event type>:<scanRef/id>:<sha256(body)[:32]>``. iDenfy sends no
    event id (sheet §1 "Ordering / duplicates"), and neither "scanRef + event type" (a verification
    can be RESUBMITTED several times) nor "scanRef + final" is unique per event; the body digest is.
    Retries resend the same bytes, so they share the key. The id part only makes keys readable.
    """

    def _identifier(self) -> str:
        for attr in ("scan_ref", "id", "company_id", "monitoring_id"):
            value = getattr(self, attr, None)
            if isinstance(value, str) and value:
                return value
        return "-"

    def _delivery_key(self) -> str:
        return f"{VENDOR}:{self._event_type}:{self._identifier()}:{self.body_digest()}"


#: Event types that are preliminary unless ``final`` says otherwise (sheet §3).
_MAYBE_PRELIMINARY = frozenset({"IDENTIFICATION_AUTO_FINISHED", "IDENTIFICATION_RESUBMITTED"})


class IdentificationEvent(IdenfyEvent):
    """Every ``IDENTIFICATION*`` event: ``IDENTIFICATION`` (legacy catch-all),
    ``…_AUTO_FINISHED``, ``…_MANUAL_FINISHED``, ``…_RESUBMITTED``, ``…_CANCELLED``, ``…_EXPIRED``
    (sheet §4.1). Only ``scanRef`` is required: published bodies from 2018 on lack ``platform``,
    ``final``, ``startTime`` and more (sheet, Evidence).

    Act on the result only when :attr:`is_final`; use :attr:`triage` for ``SUSPECTED`` reviews.

    Legacy (2018-2021) bodies carry lower-case ``aml``/``lid`` *objects* instead of the ``AML``/
    ``LID`` arrays; they are kept in :attr:`aml_legacy`/:attr:`lid_legacy`.
    """

    scan_ref: str = Field(alias="scanRef")
    final: bool | None = None
    platform: Annotated[Platform | str | None, OPEN] = None
    status: IdentificationStatus | None = None
    data: DocumentData | None = None
    file_urls: Annotated[dict[str, str | None] | None, PERSONAL] = Field(
        default=None, alias="fileUrls"
    )
    # Shape beyond "object" UNCONFIRMED (§4.1): values kept as sent.
    additional_step_pdf_urls: Annotated[dict[str, Any] | None, PERSONAL] = Field(
        default=None, alias="additionalStepPdfUrls"
    )
    # LAZY (models.py, "lazy sections"): the AML/LID/criminal-record hit lists are most of the
    # body and of its validation cost, and most handlers act on ``status``/``final`` alone. They
    # are checked to be lists/objects here and validated into their models on first access; an
    # invalid one raises PayloadError when read instead of failing the whole delivery.
    aml_results: Annotated[list[AmlCheckResult] | None, LAZY] = Field(default=None, alias="AML")
    lid_results: Annotated[list[LidCheckResult] | None, LAZY] = Field(default=None, alias="LID")
    criminal_checks: Annotated[list[CriminalCheckResult] | None, LAZY] = Field(
        default=None, alias="CRIMINAL_CHECK"
    )
    aml_legacy: Annotated[LegacyAml | None, LAZY] = Field(default=None, alias="aml")
    lid_legacy: Annotated[LegacyLid | None, LAZY] = Field(default=None, alias="lid")
    aml_check: Annotated[AmlV3Check | None, LAZY] = Field(default=None, alias="amlCheck")
    external_ref: str | None = Field(default=None, alias="externalRef")
    client_id: str | None = Field(default=None, alias="clientId")
    # Marked required in the spec but absent from every KYC example (§4.1, §5.6).
    company_id: str | None = Field(default=None, alias="companyId")
    beneficiary_id: str | None = Field(default=None, alias="beneficiaryId")
    # Integers in most examples, floats with microseconds in 2019 (Evidence): both kept as sent.
    start_time: LazyTimestamp = Field(default=None, alias="startTime")
    finish_time: LazyTimestamp = Field(default=None, alias="finishTime")
    client_ip: Annotated[str | None, PERSONAL] = Field(default=None, alias="clientIp")
    client_ip_country: str | None = Field(default=None, alias="clientIpCountry")
    client_location: Annotated[str | None, PERSONAL] = Field(default=None, alias="clientLocation")
    gdc_match: bool | None = Field(default=None, alias="gdcMatch")
    manual_address: Annotated[str | None, PERSONAL] = Field(default=None, alias="manualAddress")
    manual_address_match: bool | None = Field(default=None, alias="manualAddressMatch")
    registry_center_check: AnyRegistryCenterCheck | None = Field(
        default=None, alias="registryCenterCheck"
    )
    address_verification: AddressVerification | None = Field(
        default=None, alias="addressVerification"
    )
    questionnaire_answers: QuestionnaireAnswers | None = Field(
        default=None, alias="questionnaireAnswers"
    )
    risk_assessment: RiskAssessment | None = Field(default=None, alias="riskAssessment")
    bank_verification: BankVerification | None = Field(default=None, alias="bankVerification")
    email_verification: EmailVerification | None = Field(default=None, alias="emailVerification")
    phone_verification: PhoneVerification | None = Field(default=None, alias="phoneVerification")
    driver_license_check: DriverLicenseCheck | None = Field(
        default=None, alias="driverLicenseCheck"
    )
    bank_card_verification: BankCardVerification | None = Field(
        default=None, alias="bankCardVerification"
    )
    additional_steps: dict[str, Annotated[AdditionalStepMethod | str | None, OPEN]] | None = Field(
        default=None, alias="additionalSteps"
    )

    @property
    def overall(self) -> OverallStatus | str | None:
        """Shortcut for ``status.overall`` (``None`` when the body has no status)."""
        return self.status.overall if self.status is not None else None

    @property
    def is_final(self) -> bool:
        """Whether this result is definitive (sheet §3).

        * ``final`` present: its value. ``final: false`` (possible on ``…_AUTO_FINISHED`` and
          ``…_RESUBMITTED``) means a manual review follows and another webhook
          (``…_MANUAL_FINISHED``) will carry the verdict.
        * ``final`` absent (legacy bodies, 2018-2021, sheet §5.8): not final while
          ``status.overall`` is ``REVIEWING`` or ``ACTIVE``; not final for ``…_AUTO_FINISHED``/
          ``…_RESUBMITTED`` (the spec requires ``final`` there, so its absence proves nothing);
          otherwise final -- the legacy ``IDENTIFICATION`` callback was sent once per verification
          with its result, and ``…_MANUAL_FINISHED``/``…_CANCELLED``/``…_EXPIRED`` are terminal.
        """
        if self.final is not None:
            return self.final
        if self.overall in (OverallStatus.REVIEWING, OverallStatus.ACTIVE):
            return False
        return self._event_type not in _MAYBE_PRELIMINARY

    @property
    def triage(self) -> IdentificationTriage:
        """The review view of ``status`` (see :class:`IdentificationTriage`)."""
        status = self.status if self.status is not None else IdentificationStatus()
        tags: dict[str, FraudTag | str] = {}
        for tag in (*(status.fraud_tags or ()), *(status.suspicion_reasons or ())):
            tags.setdefault(str(tag), tag)
        return IdentificationTriage(
            overall=status.overall,
            fraud_tags=tuple(tags.values()),
            mismatch_tags=tuple(status.mismatch_tags or ()),
            deny_reasons=tuple(status.deny_reasons or ()),
            auto_face=status.auto_face,
            manual_face=status.manual_face,
            auto_document=status.auto_document,
            manual_document=status.manual_document,
        )


# ================================================================================================
# Other event bodies
# ================================================================================================


class DocumentExpirationEvent(IdenfyEvent):
    """``DOCUMENT_EXPIRATION`` (§4.4): a verified client's document expires soon or expired."""

    scan_ref: str = Field(alias="scanRef")
    client_id: str | None = Field(default=None, alias="clientId")
    expiration_threshold: Annotated[ExpirationThreshold | str | None, OPEN] = Field(
        default=None, alias="expirationThreshold"
    )
    document_expiration: str | None = Field(default=None, alias="documentExpiration")


class VideoCallAnswer(KycModel):
    """One answer of a video call. Documented as a string; any JSON value is accepted because the
    current body is undocumented (UNCONFIRMED, sheet §4.11)."""

    answer: Annotated[str | bool | int | float | list[Any] | dict[str, Any] | None, PERSONAL] = None
    correct: bool | None = None


class VideoCallFinishedEvent(IdenfyEvent):
    """``VIDEO_CALL_FINISHED``. The current spec documents no body (UNCONFIRMED, §4.11, §5.10); the
    fields are the legacy (2020) video-call callback, all optional, anything else kept.

    ``date`` stays the string sent (``2020-08-14 12:48:08.085275+00:00`` style);
    :attr:`date_time` parses it when possible.
    """

    video_call_answers: dict[str, VideoCallAnswer] | None = Field(
        default=None, alias="videoCallAnswers"
    )
    date: str | None = None
    # A bool in the legacy body; a status string is accepted too (body undocumented, §5.10).
    status: bool | str | None = None
    scan_ref: str | None = Field(default=None, alias="scanRef")
    auth_token: Annotated[str | None, PERSONAL] = Field(default=None, alias="authToken")
    client_id: str | None = Field(default=None, alias="clientId")

    @property
    def date_time(self) -> Timestamp | None:
        """``date`` as an aware datetime, or ``None`` when absent or not a date-time."""
        if not self.date:
            return None
        try:
            return Timestamp.from_wire(self.date)
        except ValueError:
            return None


class FacialAuthenticationEvent(IdenfyEvent):
    """``FACIAL_AUTHENTICATION`` (§4.10): a face-authentication session ended.

    ``status`` is required. The spec spells it ``Success``/``Failed``/…, the vendor's SDK example
    ``SUCCESS``/``FAILED``/… (Evidence): both are accepted and kept as sent; use
    :attr:`normalized_status` to compare. ``id`` is required in the spec but missing from the
    vendor's own example (Evidence), so it is optional.
    """

    status: Annotated[FacialAuthenticationStatus | str, OPEN]
    id: str | None = None
    scan_ref: str | None = Field(default=None, alias="scanRef")
    client_id: str | None = Field(default=None, alias="clientId")
    token: Annotated[str | None, PERSONAL] = None
    type: Annotated[FacialAuthenticationType | str | None, OPEN] = None
    method: Annotated[FacialAuthenticationMethod | str | None, OPEN] = None
    face_photo: Annotated[str | None, PERSONAL] = Field(default=None, alias="facePhoto")
    ip_address: Annotated[str | None, PERSONAL] = Field(default=None, alias="ipAddress")
    fail_reason: str | None = Field(default=None, alias="failReason")
    risk_tags: list[Annotated[FacialAuthenticationRiskTag | str, OPEN]] | None = Field(
        default=None, alias="riskTags"
    )

    @property
    def normalized_status(self) -> FacialAuthenticationStatus | str:
        """``status`` as a :class:`FacialAuthenticationStatus` member whatever its casing
        (``Success`` and ``SUCCESS`` both give ``SUCCESS``); an unknown value as sent."""
        try:
            return FacialAuthenticationStatus(str(self.status).upper())
        except ValueError:
            return self.status

    @property
    def succeeded(self) -> bool:
        """``normalized_status is SUCCESS``."""
        return self.normalized_status is FacialAuthenticationStatus.SUCCESS


class AgeEstimationEvent(IdenfyEvent):
    """``AGE_ESTIMATION`` (§4.16). ``scanRef`` is the step-up scanRef, or the token id."""

    scan_ref: str = Field(alias="scanRef")
    status: Annotated[AgeEstimationStatus | str | None, OPEN] = None
    occurred_at: LazyTimestamp = Field(default=None, alias="occurredAt")
    outcome: Annotated[AgeEstimationOutcome | str | None, OPEN] = None
    verdict: str | None = None
    estimated_age: int | None = Field(default=None, alias="estimatedAge")
    confidence: Number | None = None
    client_id: str | None = Field(default=None, alias="clientId")


class AmlMonitoringEvent(IdenfyEvent):
    """``AML_MONITORING`` (§4.13): a monitored person was checked, accepted or declined.
    ``results`` are AML v2 (legacy) results, ``amlCheck`` AML v3."""

    monitoring_id: str = Field(alias="monitoringId")
    name: Annotated[str | None, PERSONAL] = None
    surname: Annotated[str | None, PERSONAL] = None
    nationality: str | None = None
    dob: Annotated[str | None, PERSONAL] = None
    is_active: bool | None = Field(default=None, alias="isActive")
    expiration: str | None = None
    scan_ref_list: list[str] | None = Field(default=None, alias="scanRefList")
    alert_status: Annotated[AmlAlertStatus | str | None, OPEN] = Field(
        default=None, alias="alertStatus"
    )
    status: Annotated[AmlMonitoringStatus | str | None, OPEN] = None
    peps_status: _AmlStatus = Field(default=None, alias="pepsStatus")
    sanctions_status: _AmlStatus = Field(default=None, alias="sanctionsStatus")
    adverse_media_status: _AmlStatus = Field(default=None, alias="adverseMediaStatus")
    results: list[AmlCheckResult] | None = None
    aml_check: AmlV3Check | None = Field(default=None, alias="amlCheck")


class AmlMonitoringExpirationEvent(IdenfyEvent):
    """``AML_MONITORING_EXPIRATION`` (§4.13): counts of monitored users to extend/expiring."""

    users_to_extend: int | None = Field(default=None, alias="usersToExtend")
    users_to_expire: int | None = Field(default=None, alias="usersToExpire")


class Beneficiary(KycModel):
    """A KYB beneficiary (§4.12). ``scanRef`` is typed ``object|null`` in the spec (most likely a
    string in practice): kept as sent. Deprecated peps/sanctions/news fields are kept as extras."""

    id: str | int | None = None
    aml_check: AmlV3Check | None = Field(default=None, alias="amlCheck")
    # Untyped provider results about people (sheet §4.12 gives no schema): personal.
    beneficiary_check: Annotated[dict[str, Any] | None, PERSONAL] = Field(
        default=None, alias="beneficiaryCheck"
    )
    negative_news_check: Annotated[Any, PERSONAL] = Field(default=None, alias="negativeNewsCheck")
    scan_ref: Any = Field(default=None, alias="scanRef")


class CompanyReviewEvent(IdenfyEvent):
    """``COMPANY_REVIEW`` (§4.12): KYB company verification completed."""

    id: str
    company_name: str | None = Field(default=None, alias="companyName")
    registration_number: str | None = Field(default=None, alias="registrationNumber")
    approval_status: Annotated[ApprovalStatus | str | None, OPEN] = Field(
        default=None, alias="approvalStatus"
    )
    deny_reason: str | None = Field(default=None, alias="denyReason")
    status_changed_by: ManagerAccount | None = Field(default=None, alias="statusChangedBy")
    sole_proprietor: bool | None = Field(default=None, alias="soleProprietor")
    aml_check: AmlV3Check | None = Field(default=None, alias="amlCheck")
    # Untyped provider results that name people (sheet §4.12 gives no schema): personal.
    company_check: Annotated[dict[str, Any] | None, PERSONAL] = Field(
        default=None, alias="companyCheck"
    )
    beneficiaries: list[Beneficiary] | None = None
    shareholder_check: Annotated[list[dict[str, Any]] | None, PERSONAL] = Field(
        default=None, alias="shareholderCheck"
    )
    negative_news_check: Annotated[list[dict[str, Any]] | None, PERSONAL] = Field(
        default=None, alias="negativeNewsCheck"
    )
    client_id: str | None = Field(default=None, alias="clientId")
    external_ref: str | None = Field(default=None, alias="externalRef")
    related_client_scan_refs: list[str] | None = Field(default=None, alias="relatedClientScanRefs")
    # Deprecated in the spec, still sent.
    aml_comment: str | None = Field(default=None, alias="amlComment")
    sanctions_check_status: _AmlStatus = Field(default=None, alias="sanctionsCheckStatus")
    sanctions_status_set_by: ManagerAccount | None = Field(
        default=None, alias="sanctionsStatusSetBy"
    )
    sanctions_status_set_at: LazyTimestamp = Field(default=None, alias="sanctionsStatusSetAt")
    negative_news_comment: str | None = Field(default=None, alias="negativeNewsComment")
    negative_news_status: _AmlStatus = Field(default=None, alias="negativeNewsStatus")
    news_status_set_by: ManagerAccount | None = Field(default=None, alias="newsStatusSetBy")
    news_status_set_at: LazyTimestamp = Field(default=None, alias="newsStatusSetAt")


class CompanyDeleteEvent(IdenfyEvent):
    """``COMPANY_DELETE`` (§4.12)."""

    company_id: str = Field(alias="companyId")
    date: LazyTimestamp = None
    manager: ManagerAccount | None = None


class CompanyAmlReviewEvent(IdenfyEvent):
    """``COMPANY_AML_REVIEW`` (§4.12, ``AmlReviewWebhook``): an AML review status of a company,
    beneficiary or shareholder was changed by hand. Legacy ``negativeNews*``/``peps*``/
    ``sanctions*`` fields are kept as extras."""

    # A beneficiary id when the subject is a BENEFICIARY; like Beneficiary.id, ints are accepted
    # (sheet §4.12 gives no type).
    id: str | int
    aml_review_subject_type: Annotated[AmlReviewSubjectType | str | None, OPEN] = Field(
        default=None, alias="amlReviewSubjectType"
    )
    company_id: str | None = Field(default=None, alias="companyId")
    client_id: str | None = Field(default=None, alias="clientId")
    external_ref: str | None = Field(default=None, alias="externalRef")
    overall_status: _AmlStatus = Field(default=None, alias="overallStatus")
    status_set_by: ManagerAccount | None = Field(default=None, alias="statusSetBy")
    status_set_at: LazyTimestamp = Field(default=None, alias="statusSetAt")
    aml_comment: str | None = Field(default=None, alias="amlComment")


class CompanyInfoRequestEvent(IdenfyEvent):
    """``COMPANY_INFO_REQUEST`` (§4.12): more company info requested, or the form token expired."""

    company_id: str = Field(alias="companyId")
    token: Annotated[str | None, PERSONAL] = None
    date: LazyTimestamp = None
    email: Annotated[str | None, PERSONAL] = None
    manager: ManagerAccount | None = None
    status: Annotated[CompanyInfoRequestStatus | str | None, OPEN] = None


class CompanyExpirationEvent(IdenfyEvent):
    """``COMPANY_EXPIRATION`` (§4.12)."""

    id: str
    expiration_status: Annotated[CompanyExpirationStatus | str | None, OPEN] = Field(
        default=None, alias="expirationStatus"
    )


class CompanySubmitEvent(IdenfyEvent):
    """``COMPANY_SUBMIT`` (§4.12)."""

    id: str
    client_id: str | None = Field(default=None, alias="clientId")
    submission_time: LazyTimestamp = Field(default=None, alias="submissionTime")
    sole_proprietor: bool | None = Field(default=None, alias="soleProprietor")
    external_ref: str | None = Field(default=None, alias="externalRef")


class GovOrderedDocumentEvent(IdenfyEvent):
    """``GOV_ORDERED_DOCUMENT`` (§4.12, ``GovPartnerOrderedDocument``)."""

    id: str
    product_key: str | None = Field(default=None, alias="productKey")
    expected_delivery_time: LazyTimestamp = Field(default=None, alias="expectedDeliveryTime")
    price: Number | None = None
    title: str | None = None
    document_format: str | None = Field(default=None, alias="documentFormat")
    delivered_at: LazyTimestamp = Field(default=None, alias="deliveredAt")
    status: Annotated[DocumentOrderStatus | str | None, OPEN] = None
    file: Annotated[str | None, PERSONAL] = None


class SosReportEvent(IdenfyEvent):
    """``SOS_REPORT`` (§4.12): a US Secretary-of-State filing report was delivered."""

    id: str
    company_name: str | None = Field(default=None, alias="companyName")
    entity_type: Annotated[CompanyEntityType | str | None, OPEN] = Field(
        default=None, alias="entityType"
    )
    formation_date: str | None = Field(default=None, alias="formationDate")
    status: Annotated[DocumentOrderStatus | str | None, OPEN] = None
    report_file: Annotated[str | None, PERSONAL] = Field(default=None, alias="reportFile")
    data_file: Annotated[str | None, PERSONAL] = Field(default=None, alias="dataFile")
    watchlist_hits_count: int | None = Field(default=None, alias="watchlistHitsCount")


class BankVerificationEvent(IdenfyEvent, BankVerification):
    """``BANK_VERIFICATION`` (§4.14): the fields of :class:`BankVerification`, ``id`` required."""

    id: str


class AccountCheckEvent(IdenfyEvent):
    """``ACCOUNT_CHECK`` (§4.14): social-media account check. The meaning of ``status`` (1..5) is
    UNCONFIRMED; it is kept as sent (an int, or a string if the vendor ever sends one)."""

    scan_ref: str | None = Field(default=None, alias="scanRef")
    status: int | str | None = None
    score: Number | None = None
    client_id: str | None = Field(default=None, alias="clientId")
    auth_token: Annotated[str | None, PERSONAL] = Field(default=None, alias="authToken")
    date: str | None = None
    facebook_score: Number | None = Field(default=None, alias="facebookScore")
    gmail_score: Number | None = Field(default=None, alias="gmailScore")
    ip_score: Number | None = Field(default=None, alias="ipScore")


class BankCardVerificationCompletedEvent(IdenfyEvent, BankCardVerification):
    """``BANK_CARD_VERIFICATION_COMPLETED`` (§4.15): the fields of :class:`BankCardVerification`,
    ``id`` required."""

    id: str


class IdenfyUnknownEvent(UnknownEvent, IdenfyEvent):
    """An iDenfy event type this version does not model; the whole body is kept."""


#: Every ``Idenfy-Event-Type`` value documented in the sheet (§3) -> its body model.
EVENT_MODELS: dict[str, type[IdenfyEvent]] = {
    "IDENTIFICATION": IdentificationEvent,
    "IDENTIFICATION_AUTO_FINISHED": IdentificationEvent,
    "IDENTIFICATION_MANUAL_FINISHED": IdentificationEvent,
    "IDENTIFICATION_RESUBMITTED": IdentificationEvent,
    "IDENTIFICATION_CANCELLED": IdentificationEvent,
    "IDENTIFICATION_EXPIRED": IdentificationEvent,
    "DOCUMENT_EXPIRATION": DocumentExpirationEvent,
    "VIDEO_CALL_FINISHED": VideoCallFinishedEvent,
    "FACIAL_AUTHENTICATION": FacialAuthenticationEvent,
    "AGE_ESTIMATION": AgeEstimationEvent,
    "AML_MONITORING": AmlMonitoringEvent,
    "AML_MONITORING_EXPIRATION": AmlMonitoringExpirationEvent,
    "COMPANY_REVIEW": CompanyReviewEvent,
    "COMPANY_DELETE": CompanyDeleteEvent,
    "COMPANY_AML_REVIEW": CompanyAmlReviewEvent,
    "COMPANY_INFO_REQUEST": CompanyInfoRequestEvent,
    "COMPANY_EXPIRATION": CompanyExpirationEvent,
    "COMPANY_SUBMIT": CompanySubmitEvent,
    "GOV_ORDERED_DOCUMENT": GovOrderedDocumentEvent,
    "SOS_REPORT": SosReportEvent,
    "BANK_VERIFICATION": BankVerificationEvent,
    "ACCOUNT_CHECK": AccountCheckEvent,
    "BANK_CARD_VERIFICATION_COMPLETED": BankCardVerificationCompletedEvent,
}

#: Every documented ``Idenfy-Event-Type`` value (sheet §3), in the sheet's order.
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_MODELS)


def infer_event_type(body: bytes) -> str:
    """Event type of a legacy delivery without ``Idenfy-Event-Type`` (sheet §2.3, §5.8).

    Only shapes that were ever sent without the header are recognised, from the body's top-level
    keys (values are never looked at, so a name containing ``"videoCallAnswers"`` fools nothing):

    * ``videoCallAnswers`` -> ``VIDEO_CALL_FINISHED`` (legacy video-call callback, §4.11);
    * ``scanRef`` + ``status`` (object) + ``data`` (object) -> ``IDENTIFICATION`` (legacy result
      callback, 2018-2021);
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
    return UNDETERMINED_EVENT_TYPE


def parse_event(body: bytes, event_type: str | None) -> IdenfyEvent:
    """Validate an authenticated iDenfy body into the model for ``event_type`` (the
    ``Idenfy-Event-Type`` header; ``None``/blank for legacy deliveries, see
    :func:`infer_event_type`). Unknown types give :class:`IdenfyUnknownEvent`. Raises
    :class:`~kyc_webhooks.errors.PayloadError` only."""
    etype = event_type.strip() if event_type else ""
    if not etype:
        etype = infer_event_type(body)
    model = EVENT_MODELS.get(etype, IdenfyUnknownEvent)
    event: IdenfyEvent = validate_json(model, body, what="iDenfy", event_type=etype)
    return event.bind(vendor=VENDOR, event_type=etype, raw=body)
