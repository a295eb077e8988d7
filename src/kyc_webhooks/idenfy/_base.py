"""iDenfy: what every iDenfy model module shares -- the vendor name, the event base class and the
unknown-event model (facts: https://documentation.idenfy.com/kyc/webhooks). Imports no other
model module."""

# Vendor documentation cited below as [name]:
# [webhooks] https://documentation.idenfy.com/kyc/webhooks
# [spec] https://documentation.idenfy.com/api-reference/webhooks

from typing import Any

from .._validation import WIRE_NAMES_ONLY
from ..models import UnknownEvent, WebhookEvent, key_part

#: Where users import every iDenfy model from (a facade over the private modules).
PUBLIC_MODULE = "kyc_webhooks.idenfy.models"


def publish(namespace: dict[str, Any]) -> None:
    """Give the public classes a private module defines the facade's module name, so that
    pickles, reprs and tracebacks name the path users import from -- and old pickles survive a
    reshuffle of the private modules. Called at the end of each private module."""
    module = namespace["__name__"]
    for name, value in namespace.items():
        if isinstance(value, type) and not name.startswith("_") and value.__module__ == module:
            value.__module__ = PUBLIC_MODULE


VENDOR = "idenfy"
#: event_type given to a legacy delivery without ``Idenfy-Event-Type`` whose body shape is unknown.
UNDETERMINED_EVENT_TYPE = "UNKNOWN"


#: The ids that make a key readable, in order of preference: (attribute name, wire name).
_KEY_IDS = (
    ("scan_ref", "scanRef"),
    ("id", "id"),
    ("company_id", "companyId"),
    ("monitoring_id", "monitoringId"),
)


class IdenfyEvent(WebhookEvent):
    """Base of every iDenfy event.

    ``delivery_key`` = ``idenfy:<scanRef|id|companyId|monitoringId>:<sha256(body)[:32]>``, from the
    signed body alone. iDenfy sends no event id ([webhooks] "Ordering / duplicates"), and neither
    "scanRef + event type" (a verification can be RESUBMITTED several times) nor "scanRef + final"
    is unique per event; the body digest is. Retries resend the same bytes, so they share the key.
    The unsigned ``Idenfy-Event-Type`` header is not part of it (docs/verification.md, "Unsigned
    headers"): one signed body is one event whatever the header says. The id part only makes keys
    readable; it is read the same way whichever model the header chose (a declared field, else the
    kept extra field), so it cannot vary with the header either.
    """

    def _identifier(self) -> str:
        declared = type(self).model_fields
        extra = self.__pydantic_extra__ or {}
        for attr, wire in _KEY_IDS:
            if attr in declared:
                value = getattr(self, attr)
            elif wire in extra or WIRE_NAMES_ONLY:
                # Not a field of this model: the key sits in the extras under its wire name,
                # the only one a declared field is filled from (pydantic >= 2.11)...
                value = extra.get(wire)
            else:  # ...or its Python name too, as pydantic < 2.11 fills declared fields
                value = extra.get(attr)
            part = key_part(value)
            if part != "-":
                return part
        return "-"

    __decision_rules__ = "kyc_webhooks.idenfy._decisions"

    def _delivery_key(self) -> str:
        return f"{VENDOR}:{self._identifier()}:{self.body_digest()}"


class IdenfyUnknownEvent(UnknownEvent, IdenfyEvent):
    """An iDenfy event type this version does not model; the whole body is kept."""


publish(globals())
