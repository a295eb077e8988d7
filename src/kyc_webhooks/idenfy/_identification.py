"""iDenfy identification results: every ``IDENTIFICATION*`` event ([spec]).

Validated with the body: the top-level fields, ``status`` and ``data`` -- what decides a KYC
result. Every add-on section (AML, LID, criminal checks, registry checks, address verification,
questionnaire, risk, e-mail/phone, driver licence, bank, bank card) is kept as the decoded JSON
(``<name>_raw``, checked to be an array/object) and validated into its models -- imported from
``_aml``/``_sections`` only then -- by the ``<name>`` property on first read
(``kyc_webhooks.models``, "Sections"). A handler that acts on ``status``/``final`` never pays
for them.
"""

# Vendor documentation cited below as [name]:
# [webhooks] https://documentation.idenfy.com/kyc/webhooks
# [spec] https://documentation.idenfy.com/api-reference/webhooks

from dataclasses import dataclass
from functools import cache, cached_property
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

from pydantic import Field

from ..models import BOUNDED, BOUNDED_MAP, OPEN, PERSONAL, Flag, KycModel, Timestamp, read_section
from ._base import IdenfyEvent, publish
from ._enums import (
    AdditionalStepMethod,
    AdditionalStepsStatus,
    AgeEstimate,
    AmlStatusField,
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

if TYPE_CHECKING:
    from ._aml import (
        AmlResults,
        AmlV3Section,
        CriminalResults,
        LegacyAmlSection,
        LegacyLidSection,
        LidResults,
    )
    from ._sections import (
        AddressVerificationSection,
        BankCardVerificationSection,
        BankVerificationSection,
        DriverLicenseSection,
        EmailVerificationSection,
        PhoneVerificationSection,
        QuestionnaireSection_,
        RegistryCenterCheckSection,
        RiskAssessmentSection,
    )


@cache
def _aml_models() -> ModuleType:
    """``_aml``, imported on the first read of one of its sections. Each accessor names its type
    through this rather than a function-level import, which costs every read ~1.3 us (the import
    system resolves the relative name and checks the module's spec each time); this, ~0.1 us."""
    from . import _aml

    return _aml


@cache
def _section_models() -> ModuleType:
    """``_sections``, imported on the first read of one of its sections (:func:`_aml_models`)."""
    from . import _sections

    return _sections


#: A section as received: the decoded JSON array or object (``repr=False`` on each field).
_RawList: TypeAlias = list[Any] | None
_RawObject: TypeAlias = dict[str, Any] | None


# ================================================================================================
# Identification (all IDENTIFICATION* event types)
# ================================================================================================

_Face: TypeAlias = Annotated[FaceStatus | str | None, OPEN]
_Doc: TypeAlias = Annotated[DocumentStatus | str | None, OPEN]


class IdentificationStatus(KycModel):
    """``status`` of an identification ([spec]). ``manualFace``/``manualDocument`` are ``None``
    until a human reviewed. ``suspicionReasons`` is the legacy (pre-2022) name of ``fraudTags``
    ([spec]); ``denyReasons``, ``amlResultClass`` and the three AML statuses come from independent
    integrations, not the spec (published payloads) -- all optional."""

    # https://documentation.idenfy.com/kyc/webhooks, https://documentation.idenfy.com/kyc/status-handling
    overall: Annotated[OverallStatus | str | None, OPEN] = Field(
        default=None,
        description="The verification's overall verdict: APPROVED, DENIED, SUSPECTED (passed, with "
        "fraud signals), REVIEWING (manual review under way), EXPIRED, ACTIVE ...",
    )
    fraud_tags: Annotated[list[Annotated[FraudTag | str, OPEN]] | None, BOUNDED] = Field(
        default=None,
        alias="fraudTags",
        description="Fraud signals found (blacklists, duplicates, spoofing, AML/LID hits).",
    )
    mismatch_tags: Annotated[list[Annotated[MismatchTag | str, OPEN]] | None, BOUNDED] = Field(
        default=None,
        alias="mismatchTags",
        description="Data that did not match what you sent or what the document says (NAME, "
        "DATE_OF_BIRTH, UNDER_AGE ...).",
    )
    suspicion_reasons: Annotated[list[Annotated[SuspicionReason | str, OPEN]] | None, BOUNDED] = (
        Field(
            default=None,
            alias="suspicionReasons",
            description="Legacy (pre-2022) name of fraudTags.",
        )
    )
    deny_reasons: Annotated[list[str] | None, BOUNDED] = Field(
        default=None,
        alias="denyReasons",
        description="Why the verification was denied (codes; not in iDenfy's published schema).",
    )
    auto_face: _Face = Field(
        default=None, alias="autoFace", description="The automatic face check's result."
    )
    manual_face: _Face = Field(
        default=None,
        alias="manualFace",
        description="The face result of a human review; null until one happened.",
    )
    auto_document: _Doc = Field(
        default=None, alias="autoDocument", description="The automatic document check's result."
    )
    manual_document: _Doc = Field(
        default=None,
        alias="manualDocument",
        description="The document result of a human review; null until one happened.",
    )
    additional_steps: Annotated[AdditionalStepsStatus | str | None, OPEN] = Field(
        default=None, alias="additionalSteps"
    )
    aml_result_class: str | None = Field(default=None, alias="amlResultClass")
    peps_status: AmlStatusField = Field(default=None, alias="pepsStatus")
    sanctions_status: AmlStatusField = Field(default=None, alias="sanctionsStatus")
    adverse_media_status: AmlStatusField = Field(default=None, alias="adverseMediaStatus")
    # Legacy (April 2019) result callbacks carried the session times as epoch floats here; later
    # revisions moved them to the top level ([webhooks]). Kept as sent, like the top-level ones.
    start_time: Timestamp | None = Field(default=None, alias="startTime")
    finish_time: Timestamp | None = Field(default=None, alias="finishTime")


class DocumentData(KycModel):
    """``data``: what was read from the document ([spec]). Every field may be null ("any field can
    be null"). Dates stay strings (``YYYY-MM-DD`` in the docs). ``manualAddress``,
    ``manualAddressMatch``, ``registryCenterCheck`` and ``addressVerification`` are accepted here
    as well as at the top level: the third-party go-idenfy sample puts them inside ``data``
    ([webhooks]). ``org*`` fields carry the names in the original script."""

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
    doc_sex: Annotated[DocumentSex | str | None, OPEN, PERSONAL] = Field(
        default=None, alias="docSex"
    )
    doc_nationality: Annotated[str | None, PERSONAL] = Field(default=None, alias="docNationality")
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
    manually_data_changed: Flag | None = Field(default=None, alias="manuallyDataChanged")
    full_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="fullName")
    selected_country: str | None = Field(default=None, alias="selectedCountry")
    org_first_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="orgFirstName")
    org_last_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="orgLastName")
    org_nationality: Annotated[str | None, PERSONAL] = Field(default=None, alias="orgNationality")
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
    duplicate_faces: Annotated[list[str] | None, BOUNDED] = Field(
        default=None, alias="duplicateFaces"
    )
    duplicate_doc_faces: Annotated[list[str] | None, BOUNDED] = Field(
        default=None, alias="duplicateDocFaces"
    )
    additional_data: Annotated[dict[str, Any] | None, PERSONAL] = Field(
        default=None, alias="additionalData"
    )
    # Tolerated here as well as at the top level ([webhooks]).
    manual_address: Annotated[str | None, PERSONAL] = Field(default=None, alias="manualAddress")
    manual_address_match: Flag | None = Field(default=None, alias="manualAddressMatch")
    registry_center_check_raw: _RawObject = Field(
        default=None, alias="registryCenterCheck", repr=False
    )
    address_verification_raw: _RawObject = Field(
        default=None, alias="addressVerification", repr=False
    )

    @cached_property
    def registry_center_check(self) -> "RegistryCenterCheckSection":
        """``registryCenterCheck``: a registry check (a :class:`RegistryCenterCheck` subclass)."""
        value: RegistryCenterCheckSection = read_section(
            self, "registry_center_check", _section_models().RegistryCenterCheckSection
        )
        return value

    @cached_property
    def address_verification(self) -> "AddressVerificationSection":
        """``addressVerification``: address verification (:class:`AddressVerification`)."""
        value: AddressVerificationSection = read_section(
            self, "address_verification", _section_models().AddressVerificationSection
        )
        return value


@dataclass(frozen=True)
class IdentificationTriage:
    """Everything needed to review a ``SUSPECTED`` (or ``DENIED``) identification, in one place.

    * ``overall`` -- ``status.overall``.
    * ``fraud_tags`` -- ``status.fraudTags`` followed by the legacy ``status.suspicionReasons``
      ([spec]: ``fraudTags`` mirrors it), duplicates removed, order kept.
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


#: Event types that are preliminary unless ``final`` says otherwise ([webhooks]).
_MAYBE_PRELIMINARY = frozenset({"IDENTIFICATION_AUTO_FINISHED", "IDENTIFICATION_RESUBMITTED"})


class IdentificationEvent(IdenfyEvent):
    """Every ``IDENTIFICATION*`` event: ``IDENTIFICATION`` (legacy catch-all),
    ``…_AUTO_FINISHED``, ``…_MANUAL_FINISHED``, ``…_RESUBMITTED``, ``…_CANCELLED``, ``…_EXPIRED``
    ([spec]). Only ``scanRef`` is required: published bodies from 2018 on lack ``platform``,
    ``final``, ``startTime`` and more.

    Act on the result only when :attr:`is_final`; use :attr:`triage` for ``SUSPECTED`` reviews.

    Legacy (2018-2021) bodies carry lower-case ``aml``/``lid`` *objects* instead of the ``AML``/
    ``LID`` arrays; they are kept in :attr:`aml_legacy`/:attr:`lid_legacy`.
    """

    # https://documentation.idenfy.com/kyc/webhooks
    scan_ref: str = Field(
        alias="scanRef",
        description="iDenfy's id of this verification (the subject of its decision).",
    )
    final: Flag | None = Field(
        default=None,
        description="False: another result follows (a manual review); act only on a final one "
        "(see is_final).",
    )
    platform: Annotated[Platform | str | None, OPEN] = None
    status: IdentificationStatus | None = Field(
        default=None, description="The verdict: status.overall, tags, face and document results."
    )
    data: DocumentData | None = None
    file_urls: Annotated[dict[str, str | None] | None, PERSONAL, BOUNDED_MAP] = Field(
        default=None, alias="fileUrls"
    )
    # Shape beyond "object" UNCONFIRMED ([spec]): values kept as sent.
    additional_step_pdf_urls: Annotated[dict[str, Any] | None, PERSONAL] = Field(
        default=None, alias="additionalStepPdfUrls"
    )
    # Sections (models.py, "Sections"): the AML/LID/criminal-record hit lists are most of the
    # body and of its validation cost, and most handlers act on ``status``/``final`` alone. The
    # ``*_raw`` fields hold them as received (checked to be arrays/objects); the properties of the
    # same names without ``_raw`` validate them into their models on first read. An invalid one
    # raises PayloadError when read instead of failing the whole delivery.
    aml_results_raw: _RawList = Field(default=None, alias="AML", repr=False)
    lid_results_raw: _RawList = Field(default=None, alias="LID", repr=False)
    criminal_checks_raw: _RawList = Field(default=None, alias="CRIMINAL_CHECK", repr=False)
    aml_legacy_raw: _RawObject = Field(default=None, alias="aml", repr=False)
    lid_legacy_raw: _RawObject = Field(default=None, alias="lid", repr=False)
    aml_check_raw: _RawObject = Field(default=None, alias="amlCheck", repr=False)
    external_ref: str | None = Field(
        default=None,
        alias="externalRef",
        description="Your reference, echoed from the token request.",
    )
    client_id: str | None = Field(
        default=None,
        alias="clientId",
        description="Your id of the applicant, as sent when the verification token was created.",
    )
    # Marked required in the spec but absent from every KYC example ([spec]).
    company_id: str | None = Field(default=None, alias="companyId")
    beneficiary_id: str | None = Field(default=None, alias="beneficiaryId")
    # Integers in most examples, floats with microseconds in 2019 (published examples): both kept
    # as sent.
    start_time: Timestamp | None = Field(default=None, alias="startTime")
    finish_time: Timestamp | None = Field(default=None, alias="finishTime")
    client_ip: Annotated[str | None, PERSONAL] = Field(default=None, alias="clientIp")
    client_ip_country: str | None = Field(default=None, alias="clientIpCountry")
    client_location: Annotated[str | None, PERSONAL] = Field(default=None, alias="clientLocation")
    gdc_match: Flag | None = Field(default=None, alias="gdcMatch")
    manual_address: Annotated[str | None, PERSONAL] = Field(default=None, alias="manualAddress")
    manual_address_match: Flag | None = Field(default=None, alias="manualAddressMatch")
    registry_center_check_raw: _RawObject = Field(
        default=None, alias="registryCenterCheck", repr=False
    )
    address_verification_raw: _RawObject = Field(
        default=None, alias="addressVerification", repr=False
    )
    questionnaire_answers_raw: _RawObject = Field(
        default=None, alias="questionnaireAnswers", repr=False
    )
    risk_assessment_raw: _RawObject = Field(default=None, alias="riskAssessment", repr=False)
    bank_verification_raw: _RawObject = Field(default=None, alias="bankVerification", repr=False)
    email_verification_raw: _RawObject = Field(default=None, alias="emailVerification", repr=False)
    phone_verification_raw: _RawObject = Field(default=None, alias="phoneVerification", repr=False)
    driver_license_check_raw: _RawObject = Field(
        default=None, alias="driverLicenseCheck", repr=False
    )
    bank_card_verification_raw: _RawObject = Field(
        default=None, alias="bankCardVerification", repr=False
    )
    additional_steps: Annotated[
        dict[str, Annotated[AdditionalStepMethod | str | None, OPEN]] | None, BOUNDED_MAP
    ] = Field(default=None, alias="additionalSteps")

    @cached_property
    def aml_results(self) -> "AmlResults":
        """``AML``: AML screening results (:class:`AmlCheckResult` items)."""
        value: AmlResults = read_section(self, "aml_results", _aml_models().AmlResults)
        return value

    @cached_property
    def lid_results(self) -> "LidResults":
        """``LID``: lost/invalid document register results (:class:`LidCheckResult` items)."""
        value: LidResults = read_section(self, "lid_results", _aml_models().LidResults)
        return value

    @cached_property
    def criminal_checks(self) -> "CriminalResults":
        """``CRIMINAL_CHECK``: criminal-record checks (:class:`CriminalCheckResult` items)."""
        value: CriminalResults = read_section(
            self, "criminal_checks", _aml_models().CriminalResults
        )
        return value

    @cached_property
    def aml_legacy(self) -> "LegacyAmlSection":
        """``aml``: legacy (2018-2021) AML summary object (:class:`LegacyAml`)."""
        value: LegacyAmlSection = read_section(self, "aml_legacy", _aml_models().LegacyAmlSection)
        return value

    @cached_property
    def lid_legacy(self) -> "LegacyLidSection":
        """``lid``: legacy (2018-2021) LID summary object (:class:`LegacyLid`)."""
        value: LegacyLidSection = read_section(self, "lid_legacy", _aml_models().LegacyLidSection)
        return value

    @cached_property
    def aml_check(self) -> "AmlV3Section":
        """``amlCheck``: AML v3 result (:class:`AmlV3Check`)."""
        value: AmlV3Section = read_section(self, "aml_check", _aml_models().AmlV3Section)
        return value

    @cached_property
    def registry_center_check(self) -> "RegistryCenterCheckSection":
        """``registryCenterCheck``: a registry check (a :class:`RegistryCenterCheck` subclass)."""
        value: RegistryCenterCheckSection = read_section(
            self, "registry_center_check", _section_models().RegistryCenterCheckSection
        )
        return value

    @cached_property
    def address_verification(self) -> "AddressVerificationSection":
        """``addressVerification``: address verification (:class:`AddressVerification`)."""
        value: AddressVerificationSection = read_section(
            self, "address_verification", _section_models().AddressVerificationSection
        )
        return value

    @cached_property
    def questionnaire_answers(self) -> "QuestionnaireSection_":
        """``questionnaireAnswers``: questionnaire answers (:class:`QuestionnaireAnswers`)."""
        value: QuestionnaireSection_ = read_section(
            self, "questionnaire_answers", _section_models().QuestionnaireSection_
        )
        return value

    @cached_property
    def risk_assessment(self) -> "RiskAssessmentSection":
        """``riskAssessment``: risk assessment (:class:`RiskAssessment`)."""
        value: RiskAssessmentSection = read_section(
            self, "risk_assessment", _section_models().RiskAssessmentSection
        )
        return value

    @cached_property
    def bank_verification(self) -> "BankVerificationSection":
        """``bankVerification``: open-banking verification (:class:`BankVerification`)."""
        value: BankVerificationSection = read_section(
            self, "bank_verification", _section_models().BankVerificationSection
        )
        return value

    @cached_property
    def email_verification(self) -> "EmailVerificationSection":
        """``emailVerification``: e-mail check (:class:`EmailVerification`)."""
        value: EmailVerificationSection = read_section(
            self, "email_verification", _section_models().EmailVerificationSection
        )
        return value

    @cached_property
    def phone_verification(self) -> "PhoneVerificationSection":
        """``phoneVerification``: phone check (:class:`PhoneVerification`)."""
        value: PhoneVerificationSection = read_section(
            self, "phone_verification", _section_models().PhoneVerificationSection
        )
        return value

    @cached_property
    def driver_license_check(self) -> "DriverLicenseSection":
        """``driverLicenseCheck``: driver licence check (:class:`DriverLicenseCheck`)."""
        value: DriverLicenseSection = read_section(
            self, "driver_license_check", _section_models().DriverLicenseSection
        )
        return value

    @cached_property
    def bank_card_verification(self) -> "BankCardVerificationSection":
        """``bankCardVerification``: bank-card check (:class:`BankCardVerification`)."""
        value: BankCardVerificationSection = read_section(
            self, "bank_card_verification", _section_models().BankCardVerificationSection
        )
        return value

    @property
    def overall(self) -> OverallStatus | str | None:
        """Shortcut for ``status.overall`` (``None`` when the body has no status)."""
        return self.status.overall if self.status is not None else None

    @property
    def is_final(self) -> bool:
        """Whether this result is definitive ([webhooks]).

        * ``final`` present: its value. ``final: false`` (possible on ``…_AUTO_FINISHED`` and
          ``…_RESUBMITTED``) means a manual review follows and another webhook
          (``…_MANUAL_FINISHED``) will carry the verdict.
        * ``final`` absent (legacy bodies, 2018-2021, [webhooks]): not final while
          ``status.overall`` is ``REVIEWING`` or ``ACTIVE``; not final for ``…_AUTO_FINISHED``/
          ``…_RESUBMITTED`` (the spec requires ``final`` there, so its absence proves nothing);
          otherwise final -- the legacy ``IDENTIFICATION`` callback was sent once per verification
          with its result, and ``…_MANUAL_FINISHED``/``…_CANCELLED``/``…_EXPIRED`` are terminal.
        """
        if self.final is not None:
            return self.final
        if self.overall in (OverallStatus.REVIEWING, OverallStatus.ACTIVE):
            return False
        return self.event_type not in _MAYBE_PRELIMINARY

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


publish(globals())
