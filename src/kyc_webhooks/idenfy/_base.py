"""iDenfy: what every iDenfy model module shares -- the vendor name, the event base class and the
unknown-event model (facts: ../shared/vendors/idenfy.md). Imports no other model module."""

from typing import Any, TypeAlias

from ..models import UnknownEvent, WebhookEvent

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

#: A JSON number kept as sent (an ``int`` stays ``int``, a ``float`` stays ``float``).
Number: TypeAlias = int | float


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


class IdenfyUnknownEvent(UnknownEvent, IdenfyEvent):
    """An iDenfy event type this version does not model; the whole body is kept."""


publish(globals())
