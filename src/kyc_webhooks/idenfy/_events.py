"""iDenfy event bodies other than identifications ([spec]): document expiration,
video call, facial authentication, age estimation, AML monitoring, KYB company events, GOV/SOS
documents, bank, bank card and account checks."""

# Vendor documentation cited below as [name]:
# [webhooks] https://documentation.idenfy.com/kyc/webhooks
# [spec] https://documentation.idenfy.com/api-reference/webhooks

from typing import Annotated, Any

from pydantic import Field

from ..models import (
    BOUNDED,
    BOUNDED_MAP,
    OPEN,
    PERSONAL,
    Flag,
    KycModel,
    Number,
    Timestamp,
    WireEnum,
)
from ._aml import AmlCheckResult, AmlV3Check, ManagerAccount
from ._base import IdenfyEvent, publish
from ._enums import AmlStatusField
from ._sections import BankCardVerification, BankVerification

# ================================================================================================
# Other event bodies
# ================================================================================================


# ---- open enums of this module ([spec]) --------------------------------------------------


class ExpirationThreshold(WireEnum):
    """``DOCUMENT_EXPIRATION`` ``expirationThreshold`` ([spec])."""

    DOCUMENT_EXPIRES_WITHIN_30_DAYS = "DOCUMENT_EXPIRES_WITHIN_30_DAYS"
    DOCUMENT_EXPIRES_WITHIN_7_DAYS = "DOCUMENT_EXPIRES_WITHIN_7_DAYS"
    DOCUMENT_EXPIRES_WITHIN_1_DAY = "DOCUMENT_EXPIRES_WITHIN_1_DAY"
    DOCUMENT_EXPIRED = "DOCUMENT_EXPIRED"


class FacialAuthenticationStatus(WireEnum):
    """``FACIAL_AUTHENTICATION`` ``status``, upper-case spelling (SDK example, iFrame page).

    The spec spells the same values ``Success``/``Failed``/... ([spec]); both casings are accepted
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
    """Deprecated (AML v2) monitoring ``alertStatus`` ([spec])."""

    ALERT = "ALERT"
    DECLINED = "DECLINED"
    ACCEPTED = "ACCEPTED"
    PENDING = "PENDING"
    STATUS = "STATUS"


class AmlMonitoringStatus(WireEnum):
    """AML v3 monitoring ``status`` ([spec])."""

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
    """``GOV_ORDERED_DOCUMENT`` and ``SOS_REPORT`` ``status`` ([spec])."""

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


class DocumentExpirationEvent(IdenfyEvent):
    """``DOCUMENT_EXPIRATION`` ([spec]): a verified client's document expires soon or expired."""

    scan_ref: str = Field(alias="scanRef")
    client_id: str | None = Field(default=None, alias="clientId")
    expiration_threshold: Annotated[ExpirationThreshold | str | None, OPEN] = Field(
        default=None, alias="expirationThreshold"
    )
    document_expiration: str | None = Field(default=None, alias="documentExpiration")


class VideoCallAnswer(KycModel):
    """One answer of a video call. Documented as a string; any JSON value is accepted because the
    current body is undocumented (UNCONFIRMED, [spec])."""

    answer: Annotated[str | bool | int | float | list[Any] | dict[str, Any] | None, PERSONAL] = None
    correct: Flag | None = None


class VideoCallFinishedEvent(IdenfyEvent):
    """``VIDEO_CALL_FINISHED``. The current spec documents no body (UNCONFIRMED, [spec]); the
    fields are the legacy (2020) video-call callback, all optional, anything else kept.

    ``date`` stays the string sent (``2020-08-14 12:48:08.085275+00:00`` style);
    :attr:`date_time` parses it when possible.
    """

    # The body is undocumented now: a question without an answer (``null``) and a ``date`` sent
    # as a number are kept as sent rather than refusing the whole delivery.
    video_call_answers: Annotated[dict[str, VideoCallAnswer | None] | None, BOUNDED_MAP] = Field(
        default=None, alias="videoCallAnswers"
    )
    date: str | Number | None = None
    # A bool in the legacy body; a status string is accepted too (body undocumented, [webhooks]).
    status: Flag | str | None = None
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
    """``FACIAL_AUTHENTICATION`` ([spec]): a face-authentication session ended.

    ``status`` is required. The spec spells it ``Success``/``Failed``/…, the vendor's SDK example
    ``SUCCESS``/``FAILED``/… (published example): both are accepted and kept as sent; use
    :attr:`normalized_status` to compare. ``id`` is required in the spec but missing from the
    vendor's own example, so it is optional.
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
    risk_tags: Annotated[
        list[Annotated[FacialAuthenticationRiskTag | str, OPEN]] | None, BOUNDED
    ] = Field(default=None, alias="riskTags")

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
    """``AGE_ESTIMATION`` ([spec]). ``scanRef`` is the step-up scanRef, or the token id."""

    scan_ref: str = Field(alias="scanRef")
    status: Annotated[AgeEstimationStatus | str | None, OPEN] = None
    occurred_at: Timestamp | None = Field(default=None, alias="occurredAt")
    outcome: Annotated[AgeEstimationOutcome | str | None, OPEN] = None
    verdict: str | None = None
    estimated_age: Number | None = Field(default=None, alias="estimatedAge")
    confidence: Number | None = None
    client_id: str | None = Field(default=None, alias="clientId")


class AmlMonitoringEvent(IdenfyEvent):
    """``AML_MONITORING`` ([spec]): a monitored person was checked, accepted or declined.
    ``results`` are AML v2 (legacy) results, ``amlCheck`` AML v3."""

    monitoring_id: str = Field(alias="monitoringId")
    name: Annotated[str | None, PERSONAL] = None
    surname: Annotated[str | None, PERSONAL] = None
    nationality: Annotated[str | None, PERSONAL] = None
    dob: Annotated[str | None, PERSONAL] = None
    is_active: Flag | None = Field(default=None, alias="isActive")
    expiration: str | None = None
    scan_ref_list: Annotated[list[str] | None, BOUNDED] = Field(default=None, alias="scanRefList")
    alert_status: Annotated[AmlAlertStatus | str | None, OPEN] = Field(
        default=None, alias="alertStatus"
    )
    status: Annotated[AmlMonitoringStatus | str | None, OPEN] = None
    peps_status: AmlStatusField = Field(default=None, alias="pepsStatus")
    sanctions_status: AmlStatusField = Field(default=None, alias="sanctionsStatus")
    adverse_media_status: AmlStatusField = Field(default=None, alias="adverseMediaStatus")
    results: Annotated[list[AmlCheckResult] | None, BOUNDED] = None
    aml_check: AmlV3Check | None = Field(default=None, alias="amlCheck")


class AmlMonitoringExpirationEvent(IdenfyEvent):
    """``AML_MONITORING_EXPIRATION`` ([spec]): counts of monitored users to extend/expiring."""

    users_to_extend: Number | None = Field(default=None, alias="usersToExtend")
    users_to_expire: Number | None = Field(default=None, alias="usersToExpire")


class Beneficiary(KycModel):
    """A KYB beneficiary ([spec]). ``scanRef`` is typed ``object|null`` in the spec (most likely a
    string in practice): kept as sent. Deprecated peps/sanctions/news fields are kept as extras."""

    id: str | Number | None = None
    aml_check: AmlV3Check | None = Field(default=None, alias="amlCheck")
    # Untyped provider results about people ([spec] gives no schema): personal.
    beneficiary_check: Annotated[dict[str, Any] | None, PERSONAL] = Field(
        default=None, alias="beneficiaryCheck"
    )
    negative_news_check: Annotated[Any, PERSONAL] = Field(default=None, alias="negativeNewsCheck")
    scan_ref: Any = Field(default=None, alias="scanRef")


class CompanyReviewEvent(IdenfyEvent):
    """``COMPANY_REVIEW`` ([spec]): KYB company verification completed."""

    id: str
    company_name: str | None = Field(default=None, alias="companyName")
    registration_number: str | None = Field(default=None, alias="registrationNumber")
    approval_status: Annotated[ApprovalStatus | str | None, OPEN] = Field(
        default=None, alias="approvalStatus"
    )
    deny_reason: str | None = Field(default=None, alias="denyReason")
    status_changed_by: ManagerAccount | None = Field(default=None, alias="statusChangedBy")
    sole_proprietor: Flag | None = Field(default=None, alias="soleProprietor")
    aml_check: AmlV3Check | None = Field(default=None, alias="amlCheck")
    # Untyped provider results that name people ([spec] gives no schema): personal.
    company_check: Annotated[dict[str, Any] | None, PERSONAL] = Field(
        default=None, alias="companyCheck"
    )
    beneficiaries: Annotated[list[Beneficiary] | None, BOUNDED] = None
    shareholder_check: Annotated[list[dict[str, Any]] | None, PERSONAL, BOUNDED] = Field(
        default=None, alias="shareholderCheck"
    )
    negative_news_check: Annotated[list[dict[str, Any]] | None, PERSONAL, BOUNDED] = Field(
        default=None, alias="negativeNewsCheck"
    )
    client_id: str | None = Field(default=None, alias="clientId")
    external_ref: str | None = Field(default=None, alias="externalRef")
    related_client_scan_refs: Annotated[list[str] | None, BOUNDED] = Field(
        default=None, alias="relatedClientScanRefs"
    )
    # Deprecated in the spec, still sent.
    # Free text a reviewer wrote about the person: personal data.
    aml_comment: Annotated[str | None, PERSONAL] = Field(default=None, alias="amlComment")
    sanctions_check_status: AmlStatusField = Field(default=None, alias="sanctionsCheckStatus")
    sanctions_status_set_by: ManagerAccount | None = Field(
        default=None, alias="sanctionsStatusSetBy"
    )
    sanctions_status_set_at: Timestamp | None = Field(default=None, alias="sanctionsStatusSetAt")
    negative_news_comment: Annotated[str | None, PERSONAL] = Field(
        default=None, alias="negativeNewsComment"
    )
    negative_news_status: AmlStatusField = Field(default=None, alias="negativeNewsStatus")
    news_status_set_by: ManagerAccount | None = Field(default=None, alias="newsStatusSetBy")
    news_status_set_at: Timestamp | None = Field(default=None, alias="newsStatusSetAt")


class CompanyDeleteEvent(IdenfyEvent):
    """``COMPANY_DELETE`` ([spec])."""

    company_id: str = Field(alias="companyId")
    date: Timestamp | None = None
    manager: ManagerAccount | None = None


class CompanyAmlReviewEvent(IdenfyEvent):
    """``COMPANY_AML_REVIEW`` ([spec], ``AmlReviewWebhook``): an AML review status of a company,
    beneficiary or shareholder was changed by hand. Legacy ``negativeNews*``/``peps*``/
    ``sanctions*`` fields are kept as extras."""

    # A beneficiary id when the subject is a BENEFICIARY; like Beneficiary.id, ints are accepted
    # ([spec] gives no type).
    id: str | Number
    aml_review_subject_type: Annotated[AmlReviewSubjectType | str | None, OPEN] = Field(
        default=None, alias="amlReviewSubjectType"
    )
    company_id: str | None = Field(default=None, alias="companyId")
    client_id: str | None = Field(default=None, alias="clientId")
    external_ref: str | None = Field(default=None, alias="externalRef")
    overall_status: AmlStatusField = Field(default=None, alias="overallStatus")
    status_set_by: ManagerAccount | None = Field(default=None, alias="statusSetBy")
    status_set_at: Timestamp | None = Field(default=None, alias="statusSetAt")
    aml_comment: Annotated[str | None, PERSONAL] = Field(default=None, alias="amlComment")


class CompanyInfoRequestEvent(IdenfyEvent):
    """``COMPANY_INFO_REQUEST`` ([spec]): more company info requested, or the form token expired."""

    company_id: str = Field(alias="companyId")
    token: Annotated[str | None, PERSONAL] = None
    date: Timestamp | None = None
    email: Annotated[str | None, PERSONAL] = None
    manager: ManagerAccount | None = None
    status: Annotated[CompanyInfoRequestStatus | str | None, OPEN] = None


class CompanyTokenExpiredEvent(IdenfyEvent):
    """``COMPANY_TOKEN_EXPIRED`` ([spec]; in iDenfy's API reference, webhooks section): the
    token of a KYB company form expired before the company was submitted. ``clientId`` is the core
    id of the body; ``externalRef`` echoes the token request's."""

    client_id: str = Field(alias="clientId")
    external_ref: str | None = Field(default=None, alias="externalRef")


class CompanyExpirationEvent(IdenfyEvent):
    """``COMPANY_EXPIRATION`` ([spec])."""

    id: str
    expiration_status: Annotated[CompanyExpirationStatus | str | None, OPEN] = Field(
        default=None, alias="expirationStatus"
    )


class CompanySubmitEvent(IdenfyEvent):
    """``COMPANY_SUBMIT`` ([spec])."""

    id: str
    client_id: str | None = Field(default=None, alias="clientId")
    submission_time: Timestamp | None = Field(default=None, alias="submissionTime")
    sole_proprietor: Flag | None = Field(default=None, alias="soleProprietor")
    external_ref: str | None = Field(default=None, alias="externalRef")


class GovOrderedDocumentEvent(IdenfyEvent):
    """``GOV_ORDERED_DOCUMENT`` ([spec], ``GovPartnerOrderedDocument``)."""

    id: str
    product_key: str | None = Field(default=None, alias="productKey")
    expected_delivery_time: Timestamp | None = Field(default=None, alias="expectedDeliveryTime")
    price: Number | None = None
    title: str | None = None
    document_format: str | None = Field(default=None, alias="documentFormat")
    delivered_at: Timestamp | None = Field(default=None, alias="deliveredAt")
    status: Annotated[DocumentOrderStatus | str | None, OPEN] = None
    file: Annotated[str | None, PERSONAL] = None


class SosReportEvent(IdenfyEvent):
    """``SOS_REPORT`` ([spec]): a US Secretary-of-State filing report was delivered."""

    id: str
    company_name: str | None = Field(default=None, alias="companyName")
    entity_type: Annotated[CompanyEntityType | str | None, OPEN] = Field(
        default=None, alias="entityType"
    )
    formation_date: str | None = Field(default=None, alias="formationDate")
    status: Annotated[DocumentOrderStatus | str | None, OPEN] = None
    report_file: Annotated[str | None, PERSONAL] = Field(default=None, alias="reportFile")
    data_file: Annotated[str | None, PERSONAL] = Field(default=None, alias="dataFile")
    watchlist_hits_count: Number | None = Field(default=None, alias="watchlistHitsCount")


class BankVerificationEvent(IdenfyEvent, BankVerification):
    """``BANK_VERIFICATION`` ([spec]): the fields of :class:`BankVerification`, ``id`` required."""

    id: str


class AccountCheckEvent(IdenfyEvent):
    """``ACCOUNT_CHECK`` ([spec]): social-media account check. The meaning of ``status`` (1..5) is
    UNCONFIRMED; it is kept as sent (a number, or a string if the vendor ever sends one)."""

    scan_ref: str | None = Field(default=None, alias="scanRef")
    status: Number | str | None = None
    score: Number | None = None
    client_id: str | None = Field(default=None, alias="clientId")
    auth_token: Annotated[str | None, PERSONAL] = Field(default=None, alias="authToken")
    # [spec] gives no type: a string or a number, kept as sent.
    date: str | Number | None = None
    facebook_score: Number | None = Field(default=None, alias="facebookScore")
    gmail_score: Number | None = Field(default=None, alias="gmailScore")
    ip_score: Number | None = Field(default=None, alias="ipScore")


class BankCardVerificationCompletedEvent(IdenfyEvent, BankCardVerification):
    """``BANK_CARD_VERIFICATION_COMPLETED`` ([spec]): the fields of :class:`BankCardVerification`,
    ``id`` required."""

    id: str


publish(globals())
