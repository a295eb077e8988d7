"""ComplyCube event models -- PLACEHOLDER until the vendors issue lands: every body parses into the
generic unknown-event model. Facts: ../shared/vendors/complycube.md."""

from __future__ import annotations

from .._vendor import validate_json
from ..models import UnknownEvent

__all__ = ["EVENT_TYPES", "ComplyCubeUnknownEvent", "parse_event"]

VENDOR = "complycube"
EVENT_TYPES: tuple[str, ...] = ()


class ComplyCubeUnknownEvent(UnknownEvent):
    """A ComplyCube event type this version does not model; the whole body is kept."""


def normalize_pattern(pattern: str) -> str:
    return pattern


def parse_event(body: bytes) -> ComplyCubeUnknownEvent:
    event: ComplyCubeUnknownEvent = validate_json(ComplyCubeUnknownEvent, body, what="ComplyCube")
    etype = (event.model_extra or {}).get("type") or (event.model_extra or {}).get("topic")
    return event.bind(vendor=VENDOR, event_type=str(etype or "UNKNOWN"), raw=body)
