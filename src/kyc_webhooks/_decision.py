"""The vocabulary of a verdict: :class:`Decision`, :class:`DecisionStatus`, :class:`References`,
and the helpers each vendor's rules (``<vendor>/_decisions.py``) are written with.

Public as :mod:`kyc_webhooks.decisions`, which re-exports them; they live here, below both that
module and the vendor rules, because ``decisions`` looks the rules up by vendor name (it imports
them) while the rules build these. The classes carry the public module's name (``__module__``), so
that reprs and pickles name the path users import from (and old pickles load).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import WebhookEvent

__all__ = [
    "SECRET_SUBJECT_VENDORS",
    "Decision",
    "DecisionStatus",
    "References",
    "body_field",
    "codes",
    "ledger_subject",
    "lookup",
    "reference",
    "texts",
    "wire",
]

#: Where users import these classes from (:mod:`kyc_webhooks.decisions`).
PUBLIC_MODULE = "kyc_webhooks.decisions"


class DecisionStatus(str, enum.Enum):
    """The normalised verdict. A ``str`` enum: ``status == "APPROVED"`` works."""

    #: The vendor verified the person or company.
    APPROVED = "APPROVED"
    #: The vendor refused the verification (denied, rejected, a confirmed watch-list match).
    DECLINED = "DECLINED"
    #: A human must look: suspected fraud, "attention", a manual check, a monitoring alert.
    REVIEW = "REVIEW"
    #: Under way: no verdict yet (started, processing, reviewing, more information requested).
    PENDING = "PENDING"
    #: The verification ran out of time, or what was verified expired.
    EXPIRED = "EXPIRED"
    #: Cancelled by the applicant, the operator or the API.
    CANCELLED = "CANCELLED"
    #: A value this version does not know, or a notification without a verdict (Yoti): never a
    #: guess.
    UNKNOWN = "UNKNOWN"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, repr=False, eq=False)
class Decision:
    """The verdict an event carries (``event.decision``); ``None`` there when it carries none."""

    status: DecisionStatus
    #: True when the vendor will send no further verdict for this verification, short of
    #: reopening it (Identomat, docs/decisions.md); a later verdict that is not final never
    #: replaces it in the ledger.
    final: bool
    vendor: str
    event_type: str
    #: The vendor's reference of this verification (iDenfy ``scanRef``, ComplyCube check or
    #: workflow-session id, Identomat/Yoti session id).
    subject: str
    #: Your own id echoed back by the vendor (iDenfy ``clientId``, ComplyCube client id), or None.
    client_ref: str | None = None
    #: Vendor codes explaining the verdict (deny reasons, fraud/mismatch tags, outcome), never
    #: free text.
    reasons: tuple[str, ...] = ()
    #: The vendor's time of the verdict where the body has one.
    occurred_at: datetime | None = None
    #: True where the notification carries no verdict and the result must be fetched (Yoti).
    fetch_required: bool = False
    #: The typed event the decision came from.
    event: WebhookEvent | None = field(default=None, compare=False)
    #: Whether ``subject`` doubles as a credential (Identomat's session token): masked in repr.
    subject_is_secret: bool = False

    def __repr__(self) -> str:
        subject = "<redacted>" if self.subject_is_secret else repr(self.subject)
        parts = [
            f"status={self.status.value}",
            f"final={self.final}",
            f"vendor={self.vendor!r}",
            f"event_type={self.event_type!r}",
            f"subject={subject}",
        ]
        if self.client_ref is not None:
            parts.append(f"client_ref={self.client_ref!r}")
        if self.reasons:
            parts.append(f"reasons={self.reasons!r}")
        if self.occurred_at is not None:
            parts.append(f"occurred_at={self.occurred_at.isoformat()!r}")
        if self.fetch_required:
            parts.append("fetch_required=True")
        return f"Decision({', '.join(parts)})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decision):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[Any, ...]:
        return (
            self.status,
            self.final,
            self.vendor,
            self.event_type,
            self.subject,
            self.client_ref,
            self.reasons,
            self.occurred_at,
            self.fetch_required,
        )


def reference(value: object) -> str | None:
    """``value`` when it names a verification: a string with something other than white space in
    it; else ``None``. An empty or blank reference names none, and a subject that unrelated events
    share would have the ledger order their verdicts against each other: no decision."""
    return value if isinstance(value, str) and value.strip() else None


def wire(value: object) -> str | None:
    """The vendor's own string for an open-enum value (a known member or a new string), or
    ``None``."""
    return None if value is None else str(getattr(value, "value", value))


def lookup(table: dict[str, DecisionStatus], value: object) -> DecisionStatus:
    """``table[value]`` for a known vendor value (enum members compare by their wire string),
    :attr:`DecisionStatus.UNKNOWN` for anything else -- a new value is never guessed."""
    key = wire(value)
    return DecisionStatus.UNKNOWN if key is None else table.get(key, DecisionStatus.UNKNOWN)


def codes(*groups: Iterable[object] | None) -> tuple[str, ...]:
    """Vendor codes from several optional lists, as strings, duplicates removed, order kept."""
    seen: dict[str, None] = {}
    for group in groups:
        for item in group or ():
            code = wire(item)
            if code is not None:
                seen.setdefault(code, None)
    return tuple(seen)


@dataclass(frozen=True)
class References:
    """Whom a delivery is about, as far as its body says: what :meth:`Decisions.forget` matches
    a stored body against (``<vendor>/_decisions.py``: ``references(event)``).

    ``client_refs``: your ids for the person or company that the vendor echoes (iDenfy
    ``clientId``, ComplyCube's client id) -- compared with a ``client_ref``; ``subjects``: the
    vendor's references of verifications (scanRef, check or session id), in the ledger's form
    (:func:`ledger_subject`) -- compared with the subjects of the person's verifications."""

    client_refs: frozenset[str] = frozenset()
    subjects: frozenset[str] = frozenset()


def texts(*values: object) -> frozenset[str]:
    """The non-empty strings among ``values`` (lists of strings are opened), for
    :class:`References`."""
    found: set[str] = set()
    for value in values:
        items = value if isinstance(value, list) else [value]
        found.update(item for item in items if isinstance(item, str) and item)
    return frozenset(found)


def body_field(model: Any, attr: str, alias: str) -> Any:
    """Field ``attr`` of ``model`` where the model declares it, else the value sent under
    ``alias`` and kept among the extra fields (an unknown event keeps its whole body there)."""
    if attr in type(model).model_fields:
        return getattr(model, attr)
    extra = getattr(model, "__pydantic_extra__", None) or {}
    return extra[alias] if alias in extra else extra.get(attr)


#: Vendors whose subject doubles as a credential (Identomat's session id is the applicant's
#: session token): the ledger keeps a SHA-256 digest of it instead (:func:`ledger_subject`).
SECRET_SUBJECT_VENDORS = frozenset({"identomat"})


def ledger_subject(vendor: str, subject: str) -> str:
    """The ``subject`` the ledger keeps for a verification: the vendor's reference, or
    ``"sha256:<hex>"`` of it for a vendor whose reference is a credential -- a store never holds
    a token that lets someone act as the applicant."""
    if vendor in SECRET_SUBJECT_VENDORS:
        digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()
        return f"sha256:{digest}"
    return subject


for _public in (DecisionStatus, Decision, References):
    _public.__module__ = PUBLIC_MODULE
del _public
