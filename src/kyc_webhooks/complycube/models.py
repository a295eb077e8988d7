"""ComplyCube event models (facts: https://docs.complycube.com/documentation/api-reference/other-resources/webhooks).

Every delivery is an *Event* envelope ([webhooks])::

    {"id": "<24 hex>", "type": "check.completed.clear", "resourceType": "check",
     "payload": {...}, "createdAt": "2020-01-01T11:14:23.964Z"}

The model is picked from ``type`` (:data:`EVENT_MODELS`); ``resourceType`` is kept as an open
enum but never used to choose, because the docs document only one of its values ([webhooks]).
The payload model follows [webhooks]: *create* -> the full resource object, *update* -> ``id``
plus the changed fields, *delete* -> ``id``, check status events -> ``id``, ``status``,
``outcome``, ``createdAt``, ``updatedAt``.

Leniency ([webhooks] and real published payloads; [webhooks]: ten failed deliveries
disable the whole webhook, so a 400 on a harmless surprise costs every later event): every payload
field is optional -- ``id`` included --, unknown keys are kept, enums are open. Only the envelope's
``id`` and ``type`` are required, and a wrong *type* for a declared field is a 400.

Legacy spellings ([webhooks]): API v1.7.2 sent ``check.complete``, ``check.complete.clear`` and
``check.complete.attention``. Such an event keeps the wire value in its ``type`` field (lossless
round trip), while ``event.event_type`` -- what routing matches -- is the current spelling
(``check.completed.clear``), so one handler serves both API versions. Routing patterns are mapped
the same way (:func:`normalize_pattern`): ``"check.complete.*"`` registers as
``"check.completed.*"``.

Patterns use :func:`fnmatch.fnmatchcase`: ``"check.completed.*"`` matches
``check.completed.clear`` (and ``.attention``, ``.rejected``, ``.match_confirmed``, and a future
``check.completed.<x>``) but **not** plain ``check.completed`` -- the dot is literal. This is kept
on purpose: ``check.completed`` fires for every outcome, and whether a webhook subscribed to both
``check.completed`` and ``check.completed.<outcome>`` receives two deliveries (with two different
event ids, so ``delivery_key`` cannot merge them) is UNCONFIRMED ([webhooks]). A pattern matching
both would run the handler twice per check. Register ``"check.completed*"`` when you do want both.
"""

# Vendor documentation cited below as [name]:
# [webhooks] https://docs.complycube.com/documentation/api-reference/other-resources/webhooks
# [checks] https://docs.complycube.com/api-reference/checks

from typing import Annotated, Any

from pydantic import Field

from .._headers import Headers
from ..models import (
    BOUNDED,
    OPEN,
    PERSONAL,
    EventModels,
    Flag,
    KycModel,
    Number,
    Timestamp,
    UnknownEvent,
    WebhookEvent,
    WireEnum,
    key_part,
)
from ._event_types import canonical_event_type, normalize_pattern, outcome_family

__all__ = [
    "EVENT_MODELS",
    "EVENT_TYPES",
    "LEGACY_EVENT_TYPES",
    "UNDETERMINED_EVENT_TYPE",
    "Address",
    "AddressCreatedEvent",
    "AddressDeletedEvent",
    "AddressEvent",
    "AddressType",
    "AddressUpdate",
    "AddressUpdatedEvent",
    "Check",
    "CheckEvent",
    "CheckOutcome",
    "CheckResult",
    "CheckStatus",
    "CheckStatusEvent",
    "CheckStatusPayload",
    "CheckType",
    "CheckUpdate",
    "CheckUpdatedEvent",
    "Client",
    "ClientCreatedEvent",
    "ClientDeletedEvent",
    "ClientEvent",
    "ClientType",
    "ClientUpdate",
    "ClientUpdatedEvent",
    "CompanyDetails",
    "ComplyCubeEnvelope",
    "ComplyCubeEvent",
    "ComplyCubeUnknownEvent",
    "DeletedResource",
    "Document",
    "DocumentCreatedEvent",
    "DocumentDeletedEvent",
    "DocumentEvent",
    "DocumentImage",
    "DocumentUpdate",
    "DocumentUpdatedEvent",
    "LivePhoto",
    "PersonDetails",
    "RelatedCheck",
    "ResourceType",
    "WorkflowSession",
    "WorkflowSessionEvent",
    "WorkflowSessionStatus",
    "canonical_event_type",
    "normalize_pattern",
    "outcome_family",
    "parse_event",
]

VENDOR = "complycube"
#: ``event_type`` of an authenticated body without a usable ``type`` (see :func:`parse_event`).
UNDETERMINED_EVENT_TYPE = "UNKNOWN"


# -- open enums ------------------------------------------------------------------------------


class ResourceType(WireEnum):
    """``resourceType`` ([webhooks]: only ``check`` is documented; the others are expected)."""

    CHECK = "check"
    CLIENT = "client"
    DOCUMENT = "document"
    ADDRESS = "address"
    LIVE_PHOTO = "livePhoto"
    WORKFLOW_SESSION = "workflowSession"


class CheckStatus(WireEnum):
    """Check ``status`` ([checks])."""

    PENDING = "pending"
    COMPLETE = "complete"
    FAILED = "failed"


class CheckOutcome(WireEnum):
    """Check ``outcome`` when ``status`` is ``complete`` ([checks], named after the event
    types; other values UNCONFIRMED). Also used for a workflow session's ``outcome`` ([webhooks]:
    "e.g. ``clear``; full enum UNCONFIRMED")."""

    CLEAR = "clear"
    ATTENTION = "attention"
    REJECTED = "rejected"
    MATCH_CONFIRMED = "match_confirmed"
    #: A manual validation outcome ([checks]) that can reach a check through ``check.updated``.
    CONFIRMED = "confirmed"
    #: The manual validation outcome the v1.7.2 docs list in place of ``attention``
    #: (https://docs.complycube.com/api-reference/checks/validate-a-check, API v1.7.2).
    PENDING = "pending"


class CheckType(WireEnum):
    """Check ``type`` values seen in the docs ([checks]; the full enum is UNCONFIRMED)."""

    STANDARD_SCREENING_CHECK = "standard_screening_check"
    EXTENSIVE_SCREENING_CHECK = "extensive_screening_check"
    DOCUMENT_CHECK = "document_check"
    IDENTITY_CHECK = "identity_check"
    ENHANCED_IDENTITY_CHECK = "enhanced_identity_check"
    PROOF_OF_ADDRESS_CHECK = "proof_of_address_check"
    MULTI_BUREAU_CHECK = "multi_bureau_check"
    FACE_AUTHENTICATION_CHECK = "face_authentication_check"
    AGE_ESTIMATION_CHECK = "age_estimation_check"
    IDENTITY_FRAUD_CHECK = "identity_fraud_check"
    DRIVING_LICENSE_CHECK = "driving_license_check"


class WorkflowSessionStatus(WireEnum):
    """Workflow session ``status`` ([webhooks])."""

    STARTED = "started"
    PROCESSING = "processing"
    COMPLETE = "complete"
    ABANDONED = "abandoned"
    CANCELLED = "cancelled"


class ClientType(WireEnum):
    """Client ``type`` (API reference "The Client object")."""

    PERSON = "person"
    COMPANY = "company"


class AddressType(WireEnum):
    """Address ``type`` (API reference "The Address object")."""

    MAIN = "main"
    ALTERNATIVE = "alternative"
    OTHER = "other"


_Str = str | None
_Ts = Timestamp | None


# -- payload objects -------------------------------------------------------------------------


class _ChangedFields(KycModel):
    """Mixin for *update* payloads: ``id`` plus only the fields that changed ([webhooks])."""

    @property
    def changed_fields(self) -> frozenset[str]:
        """Wire names of the changed fields that were sent (``id`` and timestamps excluded)."""
        fields = type(self).model_fields
        # model_fields_set holds declared attribute names and the wire keys of extra fields.
        names = {
            (fields[name].alias or name) if name in fields else name
            for name in self.model_fields_set
        }
        return frozenset(names - {"id", "createdAt", "updatedAt"})


class DeletedResource(KycModel):
    """Payload of a *delete* event: the deleted resource's ``id`` only ([webhooks])."""

    id: _Str = None


class CheckResult(KycModel):
    """A check's ``result`` (type-specific; [checks] names ``outcome`` and ``breakdown``).
    ``breakdown`` can hold extracted document data and screening hits: personal."""

    # https://docs.complycube.com/api-reference/checks
    outcome: Annotated[CheckOutcome | str | None, OPEN] = Field(
        default=None, description="The verdict: clear, attention or rejected (open set)."
    )
    breakdown: Annotated[dict[str, Any] | None, PERSONAL] = None


class Check(KycModel):
    """The Check object ([checks] "Full Check object"). Every field optional ([webhooks])."""

    # https://docs.complycube.com/api-reference/checks
    id: _Str = Field(default=None, description="The check's id (the subject of its decision).")
    # https://docs.complycube.com/api-reference/checks
    client_id: _Str = Field(
        default=None,
        alias="clientId",
        description="ComplyCube's id of the client (the applicant) the check is about.",
    )
    # The client's full name for a person, the company name for a company: always treated as
    # personal because the payload does not say which ([checks]).
    entity_name: Annotated[_Str, PERSONAL] = Field(default=None, alias="entityName")
    type: Annotated[CheckType | str | None, OPEN] = None
    enable_monitoring: Flag | None = Field(default=None, alias="enableMonitoring")
    document_id: _Str = Field(default=None, alias="documentId")
    address_id: _Str = Field(default=None, alias="addressId")
    live_photo_id: _Str = Field(default=None, alias="livePhotoId")
    live_video_id: _Str = Field(default=None, alias="liveVideoId")
    options: dict[str, Any] | None = None
    client_consent: Flag | None = Field(default=None, alias="clientConsent")
    # https://docs.complycube.com/api-reference/checks
    status: Annotated[CheckStatus | str | None, OPEN] = Field(
        default=None, description="The check's state: pending, complete or failed."
    )
    result: CheckResult | None = Field(
        default=None, description="The check's result: outcome and a type-specific breakdown."
    )
    created_at: _Ts = Field(default=None, alias="createdAt")
    updated_at: _Ts = Field(default=None, alias="updatedAt")


class CheckStatusPayload(Check):
    """Payload of ``check.pending``, ``check.completed*``, ``check.failed`` and
    ``check.monitoring.attention``: ``id``, ``status``, ``outcome`` (only when ``status`` is
    ``complete``), ``createdAt``, ``updatedAt`` ([webhooks], the Node SDK's ``Event`` type).

    A subclass of :class:`Check` because real payloads carry other Check fields too (published
    payloads: ``clientId`` and ``enableMonitoring``, without ``status``).
    """

    # https://docs.complycube.com/api-reference/checks
    outcome: Annotated[CheckOutcome | str | None, OPEN] = Field(
        default=None,
        description="The verdict once status is complete: clear, attention, rejected, "
        "match_confirmed ...",
    )


class CheckUpdate(_ChangedFields, Check):
    """Payload of ``check.updated``: ``id`` plus the changed fields ([webhooks])."""


class PersonDetails(KycModel):
    """A person client's details (API reference "The personDetails object"; Node SDK types)."""

    first_name: Annotated[_Str, PERSONAL] = Field(default=None, alias="firstName")
    middle_name: Annotated[_Str, PERSONAL] = Field(default=None, alias="middleName")
    last_name: Annotated[_Str, PERSONAL] = Field(default=None, alias="lastName")
    dob: Annotated[_Str, PERSONAL] = None  # "YYYY-MM-DD" as sent; kept a string
    gender: Annotated[_Str, PERSONAL] = None
    nationality: Annotated[_Str, PERSONAL] = None
    birth_country: Annotated[_Str, PERSONAL] = Field(default=None, alias="birthCountry")
    ssn: Annotated[_Str, PERSONAL] = None
    social_insurance_number: Annotated[_Str, PERSONAL] = Field(
        default=None, alias="socialInsuranceNumber"
    )
    national_identity_number: Annotated[_Str, PERSONAL] = Field(
        default=None, alias="nationalIdentityNumber"
    )
    tax_identification_number: Annotated[_Str, PERSONAL] = Field(
        default=None, alias="taxIdentificationNumber"
    )


class CompanyDetails(KycModel):
    """A company client's details (API reference "The companyDetails object")."""

    name: _Str = None
    website: _Str = None
    registration_number: _Str = Field(default=None, alias="registrationNumber")
    incorporation_country: _Str = Field(default=None, alias="incorporationCountry")
    incorporation_type: _Str = Field(default=None, alias="incorporationType")


class Client(KycModel):
    """The Client object (API reference "The Client object"): payload of ``client.created``."""

    id: _Str = None
    type: Annotated[ClientType | str | None, OPEN] = None
    entity_name: Annotated[_Str, PERSONAL] = Field(default=None, alias="entityName")
    email: Annotated[_Str, PERSONAL] = None
    mobile: Annotated[_Str, PERSONAL] = None
    telephone: Annotated[_Str, PERSONAL] = None
    external_id: _Str = Field(default=None, alias="externalId")
    joined_date: _Str = Field(default=None, alias="joinedDate")
    person_details: Annotated[PersonDetails | None, PERSONAL] = Field(
        default=None, alias="personDetails"
    )
    company_details: CompanyDetails | None = Field(default=None, alias="companyDetails")
    # Free key-value pairs the integrator attached: may hold anything, so treated as personal.
    metadata: Annotated[dict[str, Any] | None, PERSONAL] = None
    created_at: _Ts = Field(default=None, alias="createdAt")
    updated_at: _Ts = Field(default=None, alias="updatedAt")


class ClientUpdate(_ChangedFields, Client):
    """Payload of ``client.updated``: ``id`` plus the changed fields ([webhooks])."""


class DocumentImage(KycModel):
    """One image of a document (API reference "The Image object"). The image ``id`` may differ
    from the id inside its own ``downloadLink`` (a published example): neither is checked."""

    id: _Str = None
    file_name: Annotated[_Str, PERSONAL] = Field(default=None, alias="fileName")
    document_side: _Str = Field(default=None, alias="documentSide")
    download_link: Annotated[_Str, PERSONAL] = Field(default=None, alias="downloadLink")
    # Not validated as a MIME type: the API reference itself shows "images/jpg".
    content_type: _Str = Field(default=None, alias="contentType")
    size: Number | None = None
    data: Annotated[_Str, PERSONAL] = None
    created_at: _Ts = Field(default=None, alias="createdAt")
    updated_at: _Ts = Field(default=None, alias="updatedAt")


class Document(KycModel):
    """The Document object (API reference "The Document object"): payload of
    ``document.created``."""

    id: _Str = None
    client_id: _Str = Field(default=None, alias="clientId")
    type: _Str = None
    classification: _Str = None
    issuing_country: _Str = Field(default=None, alias="issuingCountry")
    images: Annotated[list[DocumentImage] | None, BOUNDED] = None
    created_at: _Ts = Field(default=None, alias="createdAt")
    updated_at: _Ts = Field(default=None, alias="updatedAt")


class DocumentUpdate(_ChangedFields, Document):
    """Payload of ``document.updated`` and ``document.updated.image_uploaded`` /
    ``.image_deleted``: ``id`` plus the changed fields ([webhooks])."""


class Address(KycModel):
    """The Address object (API reference "The Address object"): payload of ``address.created``."""

    id: _Str = None
    client_id: _Str = Field(default=None, alias="clientId")
    type: Annotated[AddressType | str | None, OPEN] = None
    property_number: Annotated[_Str, PERSONAL] = Field(default=None, alias="propertyNumber")
    building_name: Annotated[_Str, PERSONAL] = Field(default=None, alias="buildingName")
    line: Annotated[_Str, PERSONAL] = None
    city: Annotated[_Str, PERSONAL] = None
    state: Annotated[_Str, PERSONAL] = None
    postal_code: Annotated[_Str, PERSONAL] = Field(default=None, alias="postalCode")
    country: _Str = None
    from_date: _Str = Field(default=None, alias="fromDate")
    to_date: _Str = Field(default=None, alias="toDate")
    created_at: _Ts = Field(default=None, alias="createdAt")
    updated_at: _Ts = Field(default=None, alias="updatedAt")


class AddressUpdate(_ChangedFields, Address):
    """Payload of ``address.updated``: ``id`` plus the changed fields ([webhooks])."""


class LivePhoto(KycModel):
    """The Live Photo object (API reference). [webhooks] lists live photos among webhook payloads,
    but no ``livePhoto.*`` event type is documented ([webhooks], UNCONFIRMED): such an event arrives
    as a :class:`ComplyCubeUnknownEvent`; ``LivePhoto.model_validate(event.payload["payload"])``
    types its payload."""

    id: _Str = None
    client_id: _Str = Field(default=None, alias="clientId")
    download_link: Annotated[_Str, PERSONAL] = Field(default=None, alias="downloadLink")
    content_type: _Str = Field(default=None, alias="contentType")  # "images/jpg" (sic) in docs
    size: Number | None = None
    data: Annotated[_Str, PERSONAL] = None
    perform_liveness_check: Flag | None = Field(default=None, alias="performLivenessCheck")
    created_at: _Ts = Field(default=None, alias="createdAt")
    updated_at: _Ts = Field(default=None, alias="updatedAt")


class RelatedCheck(KycModel):
    """One of a workflow session's ``allRelatedChecks`` ([webhooks])."""

    check_id: _Str = Field(default=None, alias="checkId")
    type: Annotated[CheckType | str | None, OPEN] = None
    task_id: _Str = Field(default=None, alias="taskId")


class WorkflowSession(KycModel):
    """The Workflow Session object ([webhooks]): payload of ``workflow.session.*``. The webhook
    payload shape is undocumented (UNCONFIRMED), so every field is optional and extras are kept;
    ``createdAt``/``updatedAt``/``completedAt`` come from the PHP SDK model."""

    # https://docs.complycube.com/documentation/api-reference/core-resources/workflow-sessions
    id: _Str = Field(
        default=None, description="The workflow session's id (the subject of its decision)."
    )
    client_id: _Str = Field(
        default=None, alias="clientId", description="ComplyCube's id of the client (the applicant)."
    )
    entity_name: Annotated[_Str, PERSONAL] = Field(default=None, alias="entityName")
    status: Annotated[WorkflowSessionStatus | str | None, OPEN] = Field(
        default=None, description="The session's state."
    )
    outcome: Annotated[CheckOutcome | str | None, OPEN] = Field(
        default=None,
        description="The session's verdict once completed: clear, attention or rejected.",
    )
    workflow_template_id: _Str = Field(default=None, alias="workflowTemplateId")
    workflow_template_name: _Str = Field(default=None, alias="workflowTemplateName")
    workflow_template_description: _Str = Field(default=None, alias="workflowTemplateDescription")
    workflow_id: _Str = Field(default=None, alias="workflowId")
    workflow_version: Number | None = Field(default=None, alias="workflowVersion")
    workflow_description: _Str = Field(default=None, alias="workflowDescription")
    # Shapes of these three are undocumented for webhooks ([webhooks], UNCONFIRMED): any JSON value
    # is accepted, so that an unexpected shape never fails a delivery (10 failures disable it).
    compliance_policies: Any = Field(default=None, alias="compliancePolicies")
    policy_assurance: Any = Field(default=None, alias="policyAssurance")
    # Task contents may echo what the customer entered: treated as personal.
    tasks: Annotated[Any, PERSONAL] = None
    last_completed_task_id: _Str = Field(default=None, alias="lastCompletedTaskId")
    all_related_checks: Annotated[list[RelatedCheck] | None, BOUNDED] = Field(
        default=None, alias="allRelatedChecks"
    )
    created_at: _Ts = Field(default=None, alias="createdAt")
    updated_at: _Ts = Field(default=None, alias="updatedAt")
    completed_at: _Ts = Field(default=None, alias="completedAt")


# -- events ----------------------------------------------------------------------------------


class ComplyCubeEvent(WebhookEvent):
    """Base of every ComplyCube event, known or not.

    ``delivery_key`` = ``complycube:<event id>``: the Event ``id`` is stable across re-sends and
    the docs say to deduplicate on it ([webhooks] "Idempotency"). A body without such an ``id``
    -- none (an unknown event), or one that is no printable ASCII text of at most 64 characters
    (:func:`~kyc_webhooks.models.key_part`) -- falls back to
    ``complycube:sha256:<digest of the body>``.
    """

    __decision_rules__ = "kyc_webhooks.complycube._decisions"

    def _delivery_key(self) -> str:
        # key_part: a printable ASCII id of at most 64 characters (ComplyCube's are 24 hex
        # digits); anything else -- a line break would forge a log line -- falls back to the
        # body's digest.
        ident = key_part(getattr(self, "id", None))
        if ident != "-":
            return f"{VENDOR}:{ident}"
        return f"{VENDOR}:sha256:{self.body_digest()}"


class ComplyCubeEnvelope(ComplyCubeEvent):
    """The Event envelope ([webhooks]). Subclasses narrow ``payload``.

    ``type`` is the wire value (a legacy ``check.complete.clear`` stays so, for a lossless round
    trip); ``event_type`` is its current spelling (:func:`canonical_event_type`).
    """

    # https://docs.complycube.com/documentation/api-reference/other-resources/webhooks
    id: str = Field(description="The event's id, stable across re-sends (the delivery key).")
    type: str = Field(
        description="The event type, e.g. check.completed.clear: what happened to which resource."
    )
    resource_type: Annotated[ResourceType | str | None, OPEN] = Field(
        default=None, alias="resourceType"
    )
    payload: KycModel | None = None
    created_at: _Ts = Field(default=None, alias="createdAt")
    # Declared by the Python SDK's Event model, not in the docs ([webhooks]).
    updated_at: _Ts = Field(default=None, alias="updatedAt")


class WorkflowSessionEvent(ComplyCubeEnvelope):
    """``workflow.session.started|cancelled|processing|completed|updated``."""

    payload: WorkflowSession | None = None


class CheckEvent(ComplyCubeEnvelope):
    """Base of every ``check.*`` event (``on_event(CheckEvent)`` receives them all)."""

    payload: Check | None = None


# [webhooks]: the state each check event type announces, used when the payload omits it.
_IMPLIED_STATUS: dict[str, CheckStatus] = {
    "check.pending": CheckStatus.PENDING,
    "check.failed": CheckStatus.FAILED,
}
_IMPLIED_OUTCOME: dict[str, CheckOutcome] = {
    "check.monitoring.attention": CheckOutcome.ATTENTION,
    **{f"check.completed.{o.value}": o for o in CheckOutcome},
}


class CheckStatusEvent(CheckEvent):
    """``check.pending``, ``check.completed``, ``check.completed.<outcome>`` (legacy
    ``check.complete*`` too), ``check.monitoring.attention``, ``check.failed``."""

    payload: CheckStatusPayload | None = None

    @property
    def status(self) -> CheckStatus | str | None:
        """``payload.status``, or when the payload omits it (published payloads do) the
        status the event type announces (``complete`` for ``check.completed*`` and monitoring,
        ``pending``, ``failed``)."""
        if self.payload is not None and self.payload.status is not None:
            return self.payload.status
        etype = self.event_type or canonical_event_type(self.type)
        if etype == "check.completed" or outcome_family(etype) is not None:
            return CheckStatus.COMPLETE
        return _IMPLIED_STATUS.get(etype)

    @property
    def outcome(self) -> CheckOutcome | str | None:
        """``payload.outcome``; else, for a payload that is the full Check object ([checks]),
        its ``result.outcome``; else the outcome the event type names
        (``check.completed.clear`` -> ``clear``; ``check.monitoring.attention`` ->
        ``attention``). ``None`` for ``check.completed`` without an outcome in the payload."""
        payload = self.payload
        if payload is not None:
            if payload.outcome is not None:
                return payload.outcome
            if payload.result is not None and payload.result.outcome is not None:
                return payload.result.outcome
        etype = self.event_type or canonical_event_type(self.type)
        return _IMPLIED_OUTCOME.get(etype)


class CheckUpdatedEvent(CheckEvent):
    """``check.updated`` (e.g. a manual validation changed the outcome, [checks])."""

    payload: CheckUpdate | None = None


class ClientEvent(ComplyCubeEnvelope):
    """Base of ``client.created|updated|deleted``."""


class ClientCreatedEvent(ClientEvent):
    payload: Client | None = None


class ClientUpdatedEvent(ClientEvent):
    payload: ClientUpdate | None = None


class ClientDeletedEvent(ClientEvent):
    payload: DeletedResource | None = None


class DocumentEvent(ComplyCubeEnvelope):
    """Base of ``document.*``."""


class DocumentCreatedEvent(DocumentEvent):
    payload: Document | None = None


class DocumentUpdatedEvent(DocumentEvent):
    """``document.updated``, ``document.updated.image_uploaded``, ``.image_deleted``."""

    payload: DocumentUpdate | None = None


class DocumentDeletedEvent(DocumentEvent):
    payload: DeletedResource | None = None


class AddressEvent(ComplyCubeEnvelope):
    """Base of ``address.created|updated|deleted``."""


class AddressCreatedEvent(AddressEvent):
    payload: Address | None = None


class AddressUpdatedEvent(AddressEvent):
    payload: AddressUpdate | None = None


class AddressDeletedEvent(AddressEvent):
    payload: DeletedResource | None = None


class ComplyCubeUnknownEvent(UnknownEvent, ComplyCubeEvent):
    """An authenticated ComplyCube body whose ``type`` this version does not model, or that has
    no string ``type`` at all. The whole body is kept: ``event.payload`` is the *body* (the
    :class:`~kyc_webhooks.UnknownEvent` contract), so the Event's own payload is
    ``event.payload.get("payload")``. It reaches catch-all handlers and handlers whose pattern
    matches its ``event_type``; the endpoint answers 200."""


#: Current spelling -> model, in the order of [webhooks].
EVENT_MODELS: dict[str, type[ComplyCubeEnvelope]] = {
    "workflow.session.started": WorkflowSessionEvent,
    "workflow.session.cancelled": WorkflowSessionEvent,
    "workflow.session.processing": WorkflowSessionEvent,
    "workflow.session.completed": WorkflowSessionEvent,
    "workflow.session.updated": WorkflowSessionEvent,
    "check.pending": CheckStatusEvent,
    "check.completed": CheckStatusEvent,
    "check.completed.clear": CheckStatusEvent,
    "check.completed.attention": CheckStatusEvent,
    "check.completed.rejected": CheckStatusEvent,
    "check.completed.match_confirmed": CheckStatusEvent,
    "check.monitoring.attention": CheckStatusEvent,
    "check.failed": CheckStatusEvent,
    "check.updated": CheckUpdatedEvent,
    "client.created": ClientCreatedEvent,
    "client.updated": ClientUpdatedEvent,
    "client.deleted": ClientDeletedEvent,
    "document.created": DocumentCreatedEvent,
    "document.updated": DocumentUpdatedEvent,
    "document.deleted": DocumentDeletedEvent,
    "document.updated.image_uploaded": DocumentUpdatedEvent,
    "document.updated.image_deleted": DocumentUpdatedEvent,
    "address.created": AddressCreatedEvent,
    "address.updated": AddressUpdatedEvent,
    "address.deleted": AddressDeletedEvent,
}

#: Spellings of API v1.7.2 ([webhooks]) -> current spelling.
LEGACY_EVENT_TYPES: dict[str, str] = {
    "check.complete": "check.completed",
    "check.complete.clear": "check.completed.clear",
    "check.complete.attention": "check.completed.attention",
}

#: Every documented ``type`` value as it appears on the wire: current spellings, then legacy ones.
EVENT_TYPES: tuple[str, ...] = (*EVENT_MODELS, *LEGACY_EVENT_TYPES)


def _undocumented_outcome(body: dict[str, Any]) -> type[ComplyCubeEvent] | None:
    """:class:`CheckStatusEvent` for a ``type`` in an open outcome family (either spelling);
    ``None`` (the unknown model) for anything else."""
    wire = body.get("type")
    if isinstance(wire, str) and outcome_family(canonical_event_type(wire)) is not None:
        return CheckStatusEvent
    return None


#: The model for each wire ``type``: every documented one, in both spellings, then the rule for
#: undocumented check outcomes.
_CHOOSER = EventModels(
    {
        **EVENT_MODELS,
        **{legacy: EVENT_MODELS[current] for legacy, current in LEGACY_EVENT_TYPES.items()},
    },
    ComplyCubeUnknownEvent,
    field="type",
    fallback=_undocumented_outcome,
)


def parse_event(body: bytes, headers: Headers) -> ComplyCubeEvent:
    """Validate an authenticated ComplyCube body into the model for its ``type`` -- in one pass for
    every documented type, either spelling (``headers`` are not read: the envelope has the type).

    * ``type`` names a documented event (either spelling) -> that model; a missing ``id`` or
      ``type`` of the wrong JSON type, or a declared field of the wrong type, is a 400.
    * ``type`` is ``check.completed.<outcome>`` or ``check.monitoring.<outcome>`` with an outcome
      ComplyCube has not documented (yet) -> :class:`CheckStatusEvent`, like its documented
      siblings ([checks]: outcomes are an open set).
    * ``type`` is another string -> :class:`ComplyCubeUnknownEvent` with that ``event_type``.
    * no ``type``, or not a non-empty string -> :class:`ComplyCubeUnknownEvent` with ``event_type``
      ``"UNKNOWN"``, answered 200 like any unknown event. The body passed the signature check, so
      only ComplyCube (or the holder of the secret) produced it; [webhooks] guarantees ``type`` on
      every Event, but the PHP SDK's own ``Event`` model treats it as optional and its verifier
      test signs ``{"id":"value"}``. Refusing it with a 400 would only make ComplyCube retry ten
      times and then disable the webhook ([webhooks]); handing it to catch-alls loses nothing.
    """
    event = _CHOOSER.validate(body, what="ComplyCube")
    if isinstance(event, ComplyCubeEnvelope):
        etype = canonical_event_type(event.type)
    else:  # the unknown model keeps ``type`` (if any) among the extra fields
        wire = (event.model_extra or {}).get("type")
        etype = canonical_event_type(wire) if isinstance(wire, str) else ""
    if not etype:
        etype = UNDETERMINED_EVENT_TYPE
    return event.bind(vendor=VENDOR, event_type=etype, raw=body)
