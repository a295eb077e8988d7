"""Identomat callback models (facts: https://docs.identomat.com/developer-tools/callbacks).

Every callback is a JSON object discriminated by ``type`` ([docs]); one model per type,
``EVENT_MODELS`` maps each documented ``type`` to its model. An unknown ``type`` becomes an
:class:`IdentomatUnknownEvent` (200, routed to catch-alls). The common fields ``type`` and
``sessionId`` are guaranteed ([docs] "Common to all"), so a body without them is a 400; every
other field is optional, enums are open and unknown keys are kept.

Personal data -- the callback API key, OTP texts, phone numbers, e-mail addresses and session
links (they carry the session token) -- is marked :data:`~kyc_webhooks.models.PERSONAL`:
``repr()``/``str()`` show ``<redacted>``, the attributes keep the values for the handler that sends
the SMS or e-mail.
"""

# Vendor documentation cited below as [name]:
# [docs] https://docs.identomat.com/developer-tools/callbacks
# [api-reference] https://identomat.gitbook.io/identomat-developer-guide/developer-tools/api-reference

import hashlib
from typing import Annotated, Any

from pydantic import Field

from .._headers import Headers
from .._redaction import redact_fields
from ..models import (
    BOUNDED,
    OPEN,
    PERSONAL,
    EventModels,
    UnknownEvent,
    WebhookEvent,
    WireEnum,
    key_part,
)
from ._wire import API_KEY_FIELD

__all__ = [
    "EVENT_MODELS",
    "EVENT_TYPES",
    "CompositionStatus",
    "EmailOneTimePasswordRequestEvent",
    "EventType",
    "IdentomatEvent",
    "IdentomatUnknownEvent",
    "OneTimePasswordRequestEvent",
    "RoomStatus",
    "SessionChangeEvent",
    "SessionResult",
    "SessionType",
    "ShareSessionLinkViaEmailEvent",
    "ShareSessionLinkViaSmsEvent",
    "VideoCallStatusUpdateEvent",
    "VideoFileStatus",
    "parse_event",
]

VENDOR = "identomat"
#: The body fields a store blanks (``Identomat.credential_fields``, [docs]).
_CREDENTIAL_FIELDS = (API_KEY_FIELD,)


class EventType(WireEnum):
    """The documented callback ``type`` values ([docs]). Usable as routing patterns:
    ``@receiver.on("identomat", EventType.SESSION_CHANGE)``."""

    # [docs]: the docs' heading says "one-time-password"; the payload value is this one.
    ONE_TIME_PASSWORD_REQUEST = "one-time-password-request"  # noqa: S105 -- a type name
    EMAIL_ONE_TIME_PASSWORD_REQUEST = "email-one-time-password-request"  # noqa: S105
    SHARE_SESSION_LINK_VIA_SMS = "share-session-link-via-sms"
    SHARE_SESSION_LINK_VIA_EMAIL = "share-session-link-via-email"
    SESSION_CHANGE = "session-change"
    VIDEO_CALL_STATUS_UPDATE = "video-call-status-update"


class SessionResult(WireEnum):
    """``result`` of a ``session-change`` callback ([docs]). Upper-case on callbacks; the
    ``/result`` API uses lower-case values ([api-reference]), which are *not* mapped here: an
    unexpected spelling stays a plain ``str`` so that nothing is silently reinterpreted."""

    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    MANUAL_CHECK = "MANUAL_CHECK"
    #: An operator asked the applicant for more information; the session is not final.
    ADDITIONAL_INFORMATION_REQUESTED = "ADDITIONAL_INFORMATION_REQUESTED"


class SessionType(WireEnum):
    """Kind of session. On the wire only ``"kyb"`` is documented and ``sessionType`` is absent for
    KYC sessions ([docs]); ``KYC`` is what :attr:`SessionChangeEvent.session_kind`
    reports for that absence (and would match a future explicit ``"kyc"``)."""

    KYB = "kyb"
    KYC = "kyc"


class RoomStatus(WireEnum):
    """``roomStatus`` of a ``video-call-status-update`` ([docs])."""

    #: The room ended with nothing recorded.
    EMPTY = "empty"
    ENDED = "ended"


class CompositionStatus(WireEnum):
    """``compositionStatus`` of a ``video-call-status-update`` ([docs]; null when none)."""

    AVAILABLE = "available"


class VideoFileStatus(WireEnum):
    """``videoFileStatus`` of a ``video-call-status-update`` ([docs]; null when none)."""

    AVAILABLE = "available"


class IdentomatEvent(WebhookEvent):
    """Base of every Identomat callback.

    ``delivery_key`` = ``identomat:<type>:<sha256(stored body)[:32]>``, the stored body being the
    exact bytes with the ``callbackApiKey`` value replaced by ``"<redacted>"`` -- what a store
    keeps (``kyc_webhooks.store._runner.storable_body``). Identomat sends no event id and
    documents no redelivery semantics ([docs]), and no field combination is unique per event: an
    OTP callback for the same session recurs with a new code. The digest of the body is what tells
    deliveries apart: a resend of the same bytes shares the key, a callback with other content
    differs. A ``session-change`` that repeats an earlier ``result`` for one session (the session
    back at MANUAL_CHECK after ADDITIONAL_INFORMATION_REQUESTED) is byte for byte the earlier
    callback, indistinguishable from its resend: it shares the key, and a store answers it as a
    duplicate (docs/decisions.md, "Identomat"). Digesting the stored form
    gives the same key on every path -- handled on arrival, deferred to ``process_pending``, or
    replayed from the store -- and across a rotation of the callback key. ``sessionId`` is
    deliberately *not* part of the key: it is also the widget's session token ([docs]), and
    delivery keys are logged and stored as plain text.
    """

    # [docs]: the authenticator, already checked by ``Identomat.verify`` before parsing. Optional
    # here so that sample payloads (``kyc_webhooks.testing.sign`` inserts the key) validate.
    callback_api_key: Annotated[str | None, PERSONAL] = Field(default=None, alias="callbackApiKey")
    # [docs] "Common to all": the discriminator.
    # https://docs.identomat.com/developer-tools/callbacks
    type: str = Field(description="The callback type, e.g. session-change: which model this is.")
    # Personal: the session id doubles as the widget's session_token ([docs]), so showing it
    # would undo the redaction of session links.
    session_id: Annotated[str | None, PERSONAL] = Field(
        default=None,
        alias="sessionId",
        description="The session id; it doubles as the widget's session token, hence personal.",
    )

    __decision_rules__ = "kyc_webhooks.identomat._decisions"

    def _delivery_key(self) -> str:
        # The sessionId is left out on purpose: it doubles as the widget's session_token
        # ([docs]), and delivery keys are logged. The body digest alone is unique per callback; it
        # is taken over the stored form so that a re-parsed stored body gets the same key.
        stored = redact_fields(self.raw_body, _CREDENTIAL_FIELDS)
        digest = hashlib.sha256(stored).hexdigest()[:32]
        return f"{VENDOR}:{key_part(self.event_type)}:{digest}"


class OneTimePasswordRequestEvent(IdentomatEvent):
    """``one-time-password-request`` ([docs]): deliver ``text`` by SMS to ``phone_number``.
    Sent only when the company uses its own SMS provider."""

    session_id: Annotated[str, PERSONAL] = Field(
        alias="sessionId",
        description="The session id; it doubles as the widget's session token, hence personal.",
    )
    #: The whole SMS text including the code, e.g. ``"Your code is 6867"``.
    text: Annotated[str | None, PERSONAL] = None
    #: E.164, e.g. ``"+995512345678"``.
    phone_number: Annotated[str | None, PERSONAL] = Field(default=None, alias="phoneNumber")


class EmailOneTimePasswordRequestEvent(IdentomatEvent):
    """``email-one-time-password-request`` ([docs]): e-mail ``content`` (it holds the code) to
    ``address``. Sent only when the company uses its own e-mail provider."""

    session_id: Annotated[str, PERSONAL] = Field(
        alias="sessionId",
        description="The session id; it doubles as the widget's session token, hence personal.",
    )
    address: Annotated[str | None, PERSONAL] = None
    subject: Annotated[str | None, PERSONAL] = None
    content: Annotated[str | None, PERSONAL] = None


class ShareSessionLinkViaSmsEvent(IdentomatEvent):
    """``share-session-link-via-sms`` ([docs]): an operator shared the session link by SMS."""

    session_id: Annotated[str, PERSONAL] = Field(
        alias="sessionId",
        description="The session id; it doubles as the widget's session token, hence personal.",
    )
    text: Annotated[str | None, PERSONAL] = None
    phone_number: Annotated[str | None, PERSONAL] = Field(default=None, alias="phoneNumber")
    #: ``https://widget.identomat.com/?session_token=<sessionId>`` -- opens the applicant's session.
    session_link: Annotated[str | None, PERSONAL] = Field(default=None, alias="sessionLink")
    #: The operator's e-mail. Optional: may be absent for API-initiated shares ([docs]).
    created_by: Annotated[str | None, PERSONAL] = Field(default=None, alias="createdBy")


class ShareSessionLinkViaEmailEvent(IdentomatEvent):
    """``share-session-link-via-email`` ([docs]): an operator shared the session link by
    e-mail."""

    session_id: Annotated[str, PERSONAL] = Field(
        alias="sessionId",
        description="The session id; it doubles as the widget's session token, hence personal.",
    )
    address: Annotated[str | None, PERSONAL] = None
    subject: Annotated[str | None, PERSONAL] = None
    content: Annotated[str | None, PERSONAL] = None
    # [docs]: a single address string in the only sample; list form and presence when
    # empty are UNCONFIRMED, so both a string and a list of strings are accepted (more lenient
    # than the documentation). Use :attr:`cc_addresses` for a normalised tuple.
    cc: Annotated[str | Annotated[list[str], BOUNDED] | None, PERSONAL] = None
    session_link: Annotated[str | None, PERSONAL] = Field(default=None, alias="sessionLink")
    created_by: Annotated[str | None, PERSONAL] = Field(default=None, alias="createdBy")

    @property
    def cc_addresses(self) -> tuple[str, ...]:
        """``cc`` as a tuple of addresses, whatever its wire form: absent/null/empty -> ``()``; a
        list as given; a string split on commas (the e-mail header convention), blanks dropped."""
        if self.cc is None:
            return ()
        items = self.cc.split(",") if isinstance(self.cc, str) else self.cc
        return tuple(item.strip() for item in items if item.strip())


class SessionChangeEvent(IdentomatEvent):
    """``session-change`` ([docs]): a session's status changed. Sent for every company.

    ``result`` is the new status; ``ADDITIONAL_INFORMATION_REQUESTED`` is not final. Use
    :attr:`is_kyb` / :attr:`session_kind` to tell KYB from KYC sessions.
    """

    session_id: Annotated[str, PERSONAL] = Field(
        alias="sessionId",
        description="The session id; it doubles as the widget's session token, hence personal.",
    )
    # https://docs.identomat.com/developer-tools/callbacks
    result: Annotated[SessionResult | str | None, OPEN] = Field(
        default=None,
        description="The verdict: APPROVED, REJECTED, MANUAL_CHECK (waits for an operator) or "
        "ADDITIONAL_INFORMATION_REQUESTED (waits for the applicant).",
    )
    # [docs]: present only for KYB sessions, value "kyb"; absent means KYC.
    session_type: Annotated[SessionType | str | None, OPEN] = Field(
        default=None, alias="sessionType"
    )

    @property
    def session_kind(self) -> SessionType | str:
        """:attr:`SessionType.KYB` for KYB sessions, :attr:`SessionType.KYC` when ``sessionType`` is
        absent or null ([docs]), an unknown future value as the plain string.

        More lenient than the docs (only lower-case ``"kyb"`` is documented, [docs]): a known value
        in another letter case (``"KYB"``) counts as that kind here; ``session_type`` keeps the
        wire spelling, so dumps stay lossless.
        """
        value = self.session_type
        if value is None:
            return SessionType.KYC
        if isinstance(value, SessionType):
            return value
        try:
            return SessionType(value.lower())
        except ValueError:
            return value

    @property
    def is_kyb(self) -> bool:
        """True for a KYB (business) session, False for KYC."""
        return self.session_kind == SessionType.KYB


class VideoCallStatusUpdateEvent(IdentomatEvent):
    """``video-call-status-update`` ([docs]): a video-KYC room changed status.

    Two documented cases: the room ended empty (``roomStatus="empty"``, the three others null) and
    the call ended with a recording (``"ended"``, ``"available"``, ``"available"``, a file id for
    ``/get-video-call-videos``). All four keys are present in the samples; they are still optional
    here, and a missed callback can be recovered through ``/result`` ([docs]).
    """

    session_id: Annotated[str, PERSONAL] = Field(
        alias="sessionId",
        description="The session id; it doubles as the widget's session token, hence personal.",
    )
    room_id: str | None = Field(default=None, alias="roomId")
    room_status: Annotated[RoomStatus | str | None, OPEN] = Field(default=None, alias="roomStatus")
    composition_status: Annotated[CompositionStatus | str | None, OPEN] = Field(
        default=None, alias="compositionStatus"
    )
    video_file_status: Annotated[VideoFileStatus | str | None, OPEN] = Field(
        default=None, alias="videoFileStatus"
    )
    #: The ``fileId`` parameter of ``/get-video-call-videos``.
    video_file_id: str | None = Field(default=None, alias="videoFileId")

    @property
    def video_available(self) -> bool:
        """True when a video file is ready to download (status ``available`` and an id given)."""
        return self.video_file_status == VideoFileStatus.AVAILABLE and bool(self.video_file_id)


class IdentomatUnknownEvent(UnknownEvent, IdentomatEvent):
    """An Identomat callback ``type`` this version does not model; the whole body is kept and the
    event reaches catch-all handlers. Authenticated like every other callback."""

    @property
    def payload(self) -> dict[str, Any]:
        """The body as a ``dict`` (a copy), including the declared common fields."""
        return self.model_dump(by_alias=True, exclude_unset=True)


EVENT_MODELS: dict[str, type[IdentomatEvent]] = {
    EventType.ONE_TIME_PASSWORD_REQUEST.value: OneTimePasswordRequestEvent,
    EventType.EMAIL_ONE_TIME_PASSWORD_REQUEST.value: EmailOneTimePasswordRequestEvent,
    EventType.SHARE_SESSION_LINK_VIA_SMS.value: ShareSessionLinkViaSmsEvent,
    EventType.SHARE_SESSION_LINK_VIA_EMAIL.value: ShareSessionLinkViaEmailEvent,
    EventType.SESSION_CHANGE.value: SessionChangeEvent,
    EventType.VIDEO_CALL_STATUS_UPDATE.value: VideoCallStatusUpdateEvent,
}
#: Every documented callback ``type`` ([docs]).
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_MODELS)


#: The model for each body ([docs]: ``type`` is "Common to all"); any other ``type`` gives
#: IdentomatUnknownEvent, which requires one (a body without it is a 400).
_CHOOSER = EventModels(EVENT_MODELS, IdentomatUnknownEvent, field="type")


def parse_event(body: bytes, headers: Headers) -> IdentomatEvent:
    """Validate an authenticated Identomat body into the model for its ``type`` (``headers`` are
    not read: Identomat puts everything in the body)."""
    event = _CHOOSER.validate(body, what="Identomat callback")
    return event.bind(vendor=VENDOR, event_type=event.type, raw=body)
