"""iDenfy event models (facts: ../shared/vendors/idenfy.md §3-§4).

One model per body schema; ``EVENT_MODELS`` maps every ``Idenfy-Event-Type`` value to its model.
All fields are optional unless the sheet shows the vendor guarantees them (§5.6: the spec's
``required`` lists are unreliable), enums are open, unknown keys are kept.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field

from .._vendor import validate_json
from ..models import OPEN, PERSONAL, Timestamp, UnknownEvent, WebhookEvent, WireEnum

__all__ = [
    "EVENT_MODELS",
    "IdenfyEvent",
    "IdenfyUnknownEvent",
    "IdentificationEvent",
    "OverallStatus",
    "parse_event",
]

VENDOR = "idenfy"
#: event_type given to a legacy delivery without ``Idenfy-Event-Type`` whose body shape is unknown.
UNDETERMINED_EVENT_TYPE = "UNKNOWN"


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


class OverallStatus(WireEnum):
    APPROVED = "APPROVED"
    DENIED = "DENIED"
    SUSPECTED = "SUSPECTED"
    REVIEWING = "REVIEWING"
    EXPIRED = "EXPIRED"
    ACTIVE = "ACTIVE"
    DELETED = "DELETED"
    ARCHIVED = "ARCHIVED"



class IdentificationEvent(IdenfyEvent):
    """All ``IDENTIFICATION*`` events (sheet §4.1)."""

    scan_ref: str = Field(alias="scanRef")
    client_id: str | None = Field(default=None, alias="clientId")
    final: bool | None = None
    status: dict[str, Any] | None = None
    data: Annotated[dict[str, Any] | None, PERSONAL] = None
    start_time: Timestamp | None = Field(default=None, alias="startTime")
    finish_time: Timestamp | None = Field(default=None, alias="finishTime")
    overall: Annotated[Union[OverallStatus, str, None], OPEN] = None


class IdenfyUnknownEvent(UnknownEvent, IdenfyEvent):
    """An iDenfy event type this version does not model; the whole body is kept."""


EVENT_MODELS: dict[str, type[IdenfyEvent]] = {
    "IDENTIFICATION": IdentificationEvent,
    "IDENTIFICATION_AUTO_FINISHED": IdentificationEvent,
    "IDENTIFICATION_MANUAL_FINISHED": IdentificationEvent,
    "IDENTIFICATION_RESUBMITTED": IdentificationEvent,
    "IDENTIFICATION_CANCELLED": IdentificationEvent,
    "IDENTIFICATION_EXPIRED": IdentificationEvent,
}


def infer_event_type(body: bytes) -> str:
    """Event type of a legacy delivery without ``Idenfy-Event-Type`` (sheet §5.8), from its shape."""
    if b'"videoCallAnswers"' in body:
        return "VIDEO_CALL_FINISHED"
    if b'"scanRef"' in body and b'"status"' in body and b'"data"' in body:
        return "IDENTIFICATION"
    return UNDETERMINED_EVENT_TYPE


def parse_event(body: bytes, event_type: str | None) -> IdenfyEvent:
    """Validate an authenticated iDenfy body into the model for ``event_type``."""
    etype = event_type.strip() if event_type else infer_event_type(body)
    model = EVENT_MODELS.get(etype, IdenfyUnknownEvent)
    event: IdenfyEvent = validate_json(model, body, what=f"iDenfy {etype}")
    return event.bind(vendor=VENDOR, event_type=etype, raw=body)
