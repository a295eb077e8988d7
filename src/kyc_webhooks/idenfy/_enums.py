"""iDenfy open enums ([spec]): the documented values of every enumerated field."""

# Vendor documentation cited below as [name]:
# [webhooks] https://documentation.idenfy.com/kyc/webhooks
# [spec] https://documentation.idenfy.com/api-reference/webhooks

from typing import Annotated, TypeAlias

from ..models import OPEN, WireEnum
from ._base import publish

# ================================================================================================
# Open enums ([spec]). Fields typed ``Annotated[X | str | None, OPEN]``: a documented value
# becomes the member, anything else stays a plain ``str``.
# ================================================================================================


class OverallStatus(WireEnum):
    """``status.overall`` ([spec]). ``EXPIRED-DELETED`` is dashboard vocabulary only
    ([webhooks])."""

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
    """Device the user verified on ([spec])."""

    PC = "PC"
    MOBILE = "MOBILE"
    TABLET = "TABLET"
    MOBILE_APP = "MOBILE_APP"
    MOBILE_SDK = "MOBILE_SDK"
    OTHER = "OTHER"


class FaceStatus(WireEnum):
    """``autoFace``/``manualFace`` ([spec]; the last two are dashboard vocabulary, [webhooks])."""

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
    """``autoDocument``/``manualDocument`` ([spec])."""

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
    """``status.additionalSteps`` ([spec])."""

    VALID = "VALID"
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"


class FraudTag(WireEnum):
    """``status.fraudTags`` ([spec] plus ``URJANET_FAILURE`` from a published copy of the
    dashboard schema)."""

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


#: Legacy ``status.suspicionReasons`` ([spec]): the KYC webhooks page says ``fraudTags`` mirrors it,
#: and every documented suspicion reason (dashboard-schema extras included) is a
#: fraud tag, so both share one vocabulary.
SuspicionReason = FraudTag


class MismatchTag(WireEnum):
    """``status.mismatchTags`` ([spec])."""

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
    """``data.docType`` ([spec]; ``INTERNATIONAL_PASSPORT`` only in the third-party go-idenfy)."""

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
    """``data.docSex`` ([spec])."""

    MALE = "MALE"
    FEMALE = "FEMALE"
    UNDEFINED = "UNDEFINED"


class AgeEstimate(WireEnum):
    """``data.ageEstimate`` ([spec])."""

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
    """``clientIpProxyRiskLevel``, ``riskAssessment.riskLevel``, bank ``riskLevel`` ([spec])."""

    VERY_LOW = "VERY_LOW"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    VERY_HIGH = "VERY_HIGH"
    NOT_CHECKED = "NOT_CHECKED"


class AdditionalStepMethod(WireEnum):
    """Values of the top-level ``additionalSteps`` map ([spec])."""

    UPLOAD = "UPLOAD"
    COMPARE = "COMPARE"
    EXTRACT = "EXTRACT"


class AmlCheckStatus(WireEnum):
    """AML v3 ``overallStatus`` and the KYB/monitoring ``*Status`` fields ([spec])."""

    NOT_CHECKED = "NOT_CHECKED"
    NO_FLAGS = "NO_FLAGS"
    FALSE_POSITIVE = "FALSE_POSITIVE"
    TRUE_POSITIVE = "TRUE_POSITIVE"
    FLAGS_FOUND = "FLAGS_FOUND"


#: An AML status field (identification status, monitoring and KYB events).
AmlStatusField: TypeAlias = Annotated[AmlCheckStatus | str | None, OPEN]


publish(globals())
