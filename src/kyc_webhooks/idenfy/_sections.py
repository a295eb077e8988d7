"""iDenfy identification add-ons ([spec]): registry-centre checks,
address verification, questionnaire, risk assessment, e-mail/phone checks, driver licence, bank
account and bank card verification. Loaded on first read of such a section of an identification,
or with the bank events whose bodies they are."""

# Vendor documentation cited below as [name]:
# [webhooks] https://documentation.idenfy.com/kyc/webhooks
# [spec] https://documentation.idenfy.com/api-reference/webhooks

from typing import Annotated, Any, TypeAlias

from pydantic import Discriminator, Field, Tag

from ..models import BOUNDED, OPEN, PERSONAL, Flag, KycModel, Number, WireEnum
from ._base import publish
from ._enums import (
    RiskLevel,
)

# ---- registry centre checks ([spec]) -------------------------------------------------------------


# ---- open enums of this module ([spec]) --------------------------------------------------


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
    """Questionnaire question ``type`` ([spec])."""

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


class RegistryMatchStatus(WireEnum):
    """Per-field ``…Status`` of the US registry check ([spec])."""

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


class RegistryCenterCheck(KycModel):
    """A government registry check; the subclass depends on ``resourceType`` ([spec]). A check of a
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
    nationality: Annotated[str | None, PERSONAL] = None
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
    yob: Annotated[Number | None, PERSONAL] = None
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


# ---- other identification add-ons ([spec]) -------------------------------------------


class AddressVerification(KycModel):
    address: Annotated[str | None, PERSONAL] = None
    country: str | None = None
    status: Annotated[AddressVerificationStatus | str | None, OPEN] = None
    accuracy: Number | None = None
    quality: Annotated[AddressQuality | str | None, OPEN] = None


class QuestionnaireQuestion(KycModel):
    """One answered question. ``value`` is documented as string, bool or string list; numbers are
    accepted too (``INTEGER``/``FLOAT`` question types exist, [spec])."""

    key: str | None = None
    title: str | None = None
    type: Annotated[QuestionType | str | None, OPEN] = None
    value: Annotated[str | bool | int | float | Annotated[list[str], BOUNDED] | None, PERSONAL] = (
        None
    )


class QuestionnaireSection(KycModel):
    title: str | None = None
    questions: Annotated[list[QuestionnaireQuestion] | None, BOUNDED] = None


class QuestionnaireAnswers(KycModel):
    title: str | None = None
    sections: Annotated[list[QuestionnaireSection] | None, BOUNDED] = None


class RiskAssessment(KycModel):
    risk_score: Number | None = Field(default=None, alias="riskScore")
    risk_level: Annotated[RiskLevel | str | None, OPEN] = Field(default=None, alias="riskLevel")


class EmailVerification(KycModel):
    email: Annotated[str | None, PERSONAL] = None
    email_verified: Flag | None = Field(default=None, alias="emailVerified")


class PhoneVerification(KycModel):
    phone: Annotated[str | None, PERSONAL] = None
    phone_verified: Flag | None = Field(default=None, alias="phoneVerified")


class DriverLicenseCheck(KycModel):
    name: Annotated[str | None, PERSONAL] = None
    surname: Annotated[str | None, PERSONAL] = None
    date_of_birth: Annotated[str | None, PERSONAL] = Field(default=None, alias="dateOfBirth")
    state: str | None = None
    gender: Annotated[str | None, PERSONAL] = None
    date_of_issue: str | None = Field(default=None, alias="dateOfIssue")
    date_of_expiry: str | None = Field(default=None, alias="dateOfExpiry")
    document_number: Annotated[str | None, PERSONAL] = Field(default=None, alias="documentNumber")
    name_match: Flag | None = Field(default=None, alias="nameMatch")
    surname_match: Flag | None = Field(default=None, alias="surnameMatch")
    date_of_birth_match: Flag | None = Field(default=None, alias="dateOfBirthMatch")
    date_of_issue_match: Flag | None = Field(default=None, alias="dateOfIssueMatch")
    date_of_expiry_match: Flag | None = Field(default=None, alias="dateOfExpiryMatch")
    document_number_match: Flag | None = Field(default=None, alias="documentNumberMatch")
    gender_match: Flag | None = Field(default=None, alias="genderMatch")


class BalancesOverview(KycModel):
    booked_balance: Number | None = Field(default=None, alias="bookedBalance")
    available_balance: Number | None = Field(default=None, alias="availableBalance")


class BankAccount(KycModel):
    id: str | None = None
    name: Annotated[str | None, PERSONAL] = None
    iban: Annotated[str | None, PERSONAL] = None
    currency: str | None = None
    balances_overview: BalancesOverview | None = Field(default=None, alias="balancesOverview")
    # int in kyc.yaml, number in bank.yaml ([spec]): any number accepted.
    transactions_count: Number | None = Field(default=None, alias="transactionsCount")


class BankVerification(KycModel):
    """Open-banking verification ([spec]): ``bankVerification`` in an identification, and the
    body of ``BANK_VERIFICATION`` (:class:`BankVerificationEvent`)."""

    id: str | None = None
    country: str | None = None
    bank: str | None = None
    accounts: Annotated[list[BankAccount] | None, BOUNDED] = None
    risk_level: Annotated[RiskLevel | str | None, OPEN] = Field(default=None, alias="riskLevel")


class BankCardVerification(KycModel):
    """Bank-card check ([spec]): ``bankCardVerification`` in an identification, and the body of
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
    name_match: Flag | None = Field(default=None, alias="nameMatch")
    last_four_match: Flag | None = Field(default=None, alias="lastFourMatch")


# ---- section types of IdentificationEvent (validated on first read; see _identification.py) ---

RegistryCenterCheckSection: TypeAlias = AnyRegistryCenterCheck | None
AddressVerificationSection: TypeAlias = AddressVerification | None
QuestionnaireSection_: TypeAlias = QuestionnaireAnswers | None
RiskAssessmentSection: TypeAlias = RiskAssessment | None
BankVerificationSection: TypeAlias = BankVerification | None
EmailVerificationSection: TypeAlias = EmailVerification | None
PhoneVerificationSection: TypeAlias = PhoneVerification | None
DriverLicenseSection: TypeAlias = DriverLicenseCheck | None
BankCardVerificationSection: TypeAlias = BankCardVerification | None


publish(globals())
