"""iDenfy AML, LID and criminal-record results ([spec]) and the dashboard account
that reviews them. Loaded on first read of an identification's AML/LID sections, or with the
AML monitoring and KYB events that carry them."""

# Vendor documentation cited below as [name]:
# [spec] https://documentation.idenfy.com/api-reference/webhooks

from typing import Annotated, Any, TypeAlias

from pydantic import Discriminator, Field, Tag

from ..models import BOUNDED, OPEN, PERSONAL, Flag, KycModel, Number, Timestamp, WireEnum
from ._base import publish
from ._enums import (
    AmlCheckStatus,
)

# ================================================================================================
# Shared nested objects
# ================================================================================================


# ---- open enums of this module ([spec]) --------------------------------------------------


class FraudCheckStatus(WireEnum):
    """``FraudStatus.overallStatus`` ([spec])."""

    SUSPECTED = "SUSPECTED"
    NOT_SUSPECTED = "NOT_SUSPECTED"


class AmlSuspicion(WireEnum):
    """Legacy AML hit ``suspicion`` ([spec])."""

    SANCTION = "SANCTION"
    INTERPOL = "INTERPOL"
    PEPS = "PEPS"
    ADVERSE_MEDIA = "ADVERSE_MEDIA"
    OTHER = "OTHER"


class AmlDataset(WireEnum):
    """AML v3 search result ``datasets`` ([spec])."""

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
    """Discriminates AML v3 individual/business data in AML monitoring ([spec])."""

    PERSON = "PERSON"
    COMPANY = "COMPANY"


class AmlCommentType(WireEnum):
    ADVERSE_MEDIA = "ADVERSE_MEDIA"
    AML_PROFILE = "AML_PROFILE"


class ManagerAccount(KycModel):
    """A dashboard user who changed a status ([spec]; ``username`` is the deprecated old form)."""

    id: Number | None = None
    name: Annotated[str | None, PERSONAL] = None
    surname: Annotated[str | None, PERSONAL] = None
    email: Annotated[str | None, PERSONAL] = None
    username: Annotated[str | None, PERSONAL] = None


# ---- legacy fraud-check envelope: AML v2 / LID / CRIMINAL_CHECK ([spec]) -------------


class FraudStatus(KycModel):
    """Shared ``status`` of AML v2 / LID / criminal / company results ([spec])."""

    service_suspected: Flag | None = Field(default=None, alias="serviceSuspected")
    service_used: Flag | None = Field(default=None, alias="serviceUsed")
    service_found: Flag | None = Field(default=None, alias="serviceFound")
    check_successful: Flag | None = Field(default=None, alias="checkSuccessful")
    overall_status: Annotated[FraudCheckStatus | str | None, OPEN] = Field(
        default=None, alias="overallStatus"
    )


class FraudCheckResult(KycModel):
    """Envelope common to every legacy check result: ``AML[]``, ``LID[]``, ``CRIMINAL_CHECK[]``.

    ``serviceName`` stays a plain string: older bodies use names such as ``PilotApiAmlV2`` ([spec]).
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
    item ([spec]). ``score`` accepts any number and ``listNumber`` a string or number (the company
    fragment sends strings): more lenient than the spec's ``int``, documented in [spec] examples."""

    name: Annotated[str | None, PERSONAL] = None
    surname: Annotated[str | None, PERSONAL] = None
    nationality: Annotated[str | None, PERSONAL] = None
    dob: Annotated[str | None, PERSONAL] = None
    suspicion: Annotated[AmlSuspicion | str | None, OPEN] = None
    reason: Annotated[str | None, PERSONAL] = None
    list_number: str | Number | None = Field(default=None, alias="listNumber")
    list_name: str | None = Field(default=None, alias="listName")
    score: Number | None = None
    last_update: str | None = Field(default=None, alias="lastUpdate")
    exit_date: str | None = Field(default=None, alias="exitDate")
    is_person: Flag | None = Field(default=None, alias="isPerson")
    is_active: Flag | None = Field(default=None, alias="isActive")
    linked_document: str | None = Field(default=None, alias="linkedDocument")
    pep_level: Number | None = Field(default=None, alias="pepLevel")
    category: str | None = None
    other_information: Annotated[str | None, PERSONAL] = Field(
        default=None, alias="otherInformation"
    )
    check_date: str | None = Field(default=None, alias="checkDate")
    whitelisted: Flag | None = None


class AmlNewsItem(KycModel):
    """An adverse-media item: ``AML_NEWS``/``INHOUSE_ADVERSE_MEDIA`` data ([spec]). ``score`` is a
    string in the spec; numbers are accepted too."""

    # Adverse media about a named person: personal.
    title: Annotated[str | None, PERSONAL] = None
    url: Annotated[str | None, PERSONAL] = None
    text: Annotated[str | None, PERSONAL] = None
    score: str | Number | None = None
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
    if isinstance(value, dict):
        if "result" in value or "companyName" in value:
            return "AmlCompanyCheckItem"
        if "title" in value or "url" in value or "text" in value:
            return "AmlNewsItem"
        return "AmlHit"
    if isinstance(value, KycModel):
        return type(value).__name__
    return "AmlHit"


#: One item of an AML result's ``data``: the shape depends on the service ([spec]); told apart by
#: its keys, because ``serviceName`` values are not a closed set.
AmlDataItem: TypeAlias = Annotated[
    Annotated[AmlHit, Tag("AmlHit")]
    | Annotated[AmlNewsItem, Tag("AmlNewsItem")]
    | Annotated[AmlCompanyCheckItem, Tag("AmlCompanyCheckItem")],
    Discriminator(_aml_item_kind),
]


class AmlCheckResult(FraudCheckResult):
    """One element of ``AML`` (identification) or ``results`` (AML monitoring) ([spec])."""

    data: Annotated[list[AmlDataItem] | None, BOUNDED] = None


class LidDocument(KycModel):
    """A lost/invalid-document register entry ([spec])."""

    document_number: Annotated[str | None, PERSONAL] = Field(default=None, alias="documentNumber")
    document_type: str | None = Field(default=None, alias="documentType")
    valid: Flag | None = None
    expiry_date: str | None = Field(default=None, alias="expiryDate")
    check_date: str | None = Field(default=None, alias="checkDate")


class LidCheckResult(FraudCheckResult):
    """One element of ``LID`` ([spec])."""

    data: Annotated[list[LidDocument] | None, BOUNDED] = None


class CriminalOffense(KycModel):
    """One offence of a criminal record ([spec]): special-category data, every value masked in
    ``repr()`` (as the record's ``offenses`` are)."""

    offense: Annotated[str | None, PERSONAL] = None
    offense_class: Annotated[str | None, PERSONAL] = Field(default=None, alias="offenseClass")
    offense_description: Annotated[str | None, PERSONAL] = Field(
        default=None, alias="offenseDescription"
    )
    offense_level: Annotated[str | None, PERSONAL] = Field(default=None, alias="offenseLevel")
    sentence_date: Annotated[str | None, PERSONAL] = Field(default=None, alias="sentenceDate")
    court_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="courtName")
    court_case_number: Annotated[str | None, PERSONAL] = Field(
        default=None, alias="courtCaseNumber"
    )
    release_date: Annotated[str | None, PERSONAL] = Field(default=None, alias="releaseDate")


class CriminalRecord(KycModel):
    """A criminal-record match ([spec]). Offences are special-category data: masked in
    ``repr()``."""

    offenses: Annotated[list[CriminalOffense] | None, PERSONAL, BOUNDED] = None
    full_name: Annotated[str | None, PERSONAL] = Field(default=None, alias="fullName")
    # Where the record was found: with the name, part of a criminal record.
    county: Annotated[str | None, PERSONAL] = None
    region: Annotated[str | None, PERSONAL] = None


class CriminalCheckResult(FraudCheckResult):
    """One element of ``CRIMINAL_CHECK`` ([spec])."""

    data: Annotated[list[CriminalRecord] | None, BOUNDED] = None


class LegacyCheckSummary(KycModel):
    """The 2018 form of the lower-case ``aml``/``lid`` objects: ``{"suspected": …, "results": {…}}``
    (published example payloads). ``results`` holds provider data and is treated as personal."""

    suspected: Flag | None = None
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


# ---- AML v3 ([spec]) ----------------------------------------------------------------------


class AmlV3HitAddress(KycModel):
    city: Annotated[str | None, PERSONAL] = None
    geography: Annotated[str | None, PERSONAL] = None


class AmlV3Hit(KycModel):
    """An AML v3 search result (individual; business results share the envelope) ([spec])."""

    addresses: Annotated[list[AmlV3HitAddress] | None, BOUNDED] = None
    dates_of_birth: Annotated[list[str] | None, PERSONAL, BOUNDED] = Field(
        default=None, alias="datesOfBirth"
    )
    gender: Annotated[Gender | str | None, OPEN, PERSONAL] = None
    nationalities: Annotated[list[str] | None, PERSONAL, BOUNDED] = None
    match: str | None = None
    former_san_body_ids: Annotated[list[Number] | None, BOUNDED] = Field(
        default=None, alias="formerSanBodyIds"
    )
    countries: Annotated[list[str] | None, BOUNDED] = None
    datasets: Annotated[list[Annotated[AmlDataset | str, OPEN]] | None, BOUNDED] = None
    current_san_body_ids: Annotated[list[Number] | None, BOUNDED] = Field(
        default=None, alias="currentSanBodyIds"
    )
    version: Number | None = None
    pep_tier: Annotated[PepTier | str | None, OPEN] = Field(default=None, alias="pepTier")
    score: Number | None = None
    profile_image: Annotated[str | None, PERSONAL] = Field(default=None, alias="profileImage")
    name: Annotated[str | None, PERSONAL] = None
    resource_id: str | None = Field(default=None, alias="resourceId")


class AmlComment(KycModel):
    id: Number | None = None
    manager: ManagerAccount | None = None
    content: Annotated[str | None, PERSONAL] = None  # a reviewer's free text about the person
    type: Annotated[AmlCommentType | str | None, OPEN] = None
    created: str | None = None


class AmlV3AdverseMedia(KycModel):
    # Adverse media about a named person: personal.
    title: Annotated[str | None, PERSONAL] = None
    url: Annotated[str | None, PERSONAL] = None
    text: Annotated[str | None, PERSONAL] = None
    score: str | Number | None = None
    type: str | None = None
    publish_date: str | None = Field(default=None, alias="publishDate")
    status: str | None = None
    comment: AmlComment | None = None


class AmlV3Check(KycModel):
    """AML v3 result (``amlCheck`` in identification, KYB and monitoring bodies) ([spec])."""

    id: str | None = None
    overall_status: Annotated[AmlCheckStatus | str | None, OPEN] = Field(
        default=None, alias="overallStatus"
    )
    status_set_by: ManagerAccount | None = Field(default=None, alias="statusSetBy")
    status_set_at: Timestamp | None = Field(default=None, alias="statusSetAt")
    adverse_media: Annotated[list[AmlV3AdverseMedia] | None, BOUNDED] = Field(
        default=None, alias="adverseMedia"
    )
    aml_check: Annotated[list[AmlV3Hit] | None, BOUNDED] = Field(default=None, alias="amlCheck")
    user_type: Annotated[AmlUserType | str | None, OPEN] = Field(default=None, alias="userType")


# ---- section types of IdentificationEvent (validated on first read; see _identification.py) ---

AmlResults: TypeAlias = Annotated[list[AmlCheckResult], BOUNDED] | None
LidResults: TypeAlias = Annotated[list[LidCheckResult], BOUNDED] | None
CriminalResults: TypeAlias = Annotated[list[CriminalCheckResult], BOUNDED] | None
LegacyAmlSection: TypeAlias = LegacyAml | None
LegacyLidSection: TypeAlias = LegacyLid | None
AmlV3Section: TypeAlias = AmlV3Check | None


publish(globals())
