"""Yoti IDV notification models (facts: https://developers.yoti.com/identity-verification/notifications).

A Yoti notification is a thin "something changed" signal -- ``{"session_id": ..., "topic": ...}``
plus, for three topics, the id of the task, check or resource concerned. It carries **no result**:
a handler fetches the session with a signed ``GET /idverify/v1/sessions/{session_id}`` through the
Yoti SDK (e.g. ``yoti-python-sdk``'s ``DocScanClient(sdk_id, pem_path).get_session(session_id)``)
and decides from what Yoti returns. This library does no HTTP itself; see ``docs/yoti.md``.

Topics have two spellings ([docs]): upper case when subscribing at session creation
(``SESSION_COMPLETION``), lower case in the body (``session_completion``). ``event_type`` is always
the lower-case form, ``Yoti.normalize_pattern`` lower-cases routing patterns, and the model keeps
the exact wire ``topic`` so that dumping by alias reproduces the body.
"""

# Vendor documentation cited below as [name]:
# [docs] https://developers.yoti.com/identity-verification/notifications

import hashlib
import json
from typing import Annotated, Any

from pydantic import Field

from .._headers import Headers
from ..errors import PayloadError
from ..models import OPEN, EventModels, UnknownEvent, WebhookEvent, WireEnum, key_part

__all__ = [
    "EVENT_MODELS",
    "EVENT_TYPES",
    "CheckCompletionEvent",
    "ClientSessionTokenDeletedEvent",
    "FirstBranchVisitEvent",
    "InstructionsEmailRequestedEvent",
    "NewPdfSuppliedEvent",
    "ResourceUpdateEvent",
    "SessionCompletionEvent",
    "TaskCompletionEvent",
    "ThankYouEmailRequestedEvent",
    "Topic",
    "YotiEvent",
    "YotiUnknownEvent",
    "parse_event",
]

VENDOR = "yoti"


class Topic(WireEnum):
    """The body ``topic`` values Yoti documents ([docs]). Open: any other string parses too.

    ``Topic.X.subscription`` is the upper-case name to put in ``notifications.topics`` when
    creating a session.
    """

    RESOURCE_UPDATE = "resource_update"
    TASK_COMPLETION = "task_completion"
    CHECK_COMPLETION = "check_completion"
    SESSION_COMPLETION = "session_completion"
    CLIENT_SESSION_TOKEN_DELETED = "client_session_token_deleted"  # noqa: S105 -- a topic name
    # [docs]: body spelling UNCONFIRMED (lower case by analogy with the documented topics).
    NEW_PDF_SUPPLIED = "new_pdf_supplied"
    # [docs]: body spelling UNCONFIRMED (lower case by analogy with the documented topics).
    INSTRUCTIONS_EMAIL_REQUESTED = "instructions_email_requested"
    # [docs]: seen in third-party code (GOV.UK F2F).
    THANK_YOU_EMAIL_REQUESTED = "thank_you_email_requested"
    FIRST_BRANCH_VISIT = "first_branch_visit"

    @property
    def subscription(self) -> str:
        """The subscription spelling, e.g. ``"SESSION_COMPLETION"`` ([docs])."""
        return self.value.upper()


#: Every documented body topic, lower case (the ``event_type`` values of known events).
EVENT_TYPES: tuple[str, ...] = tuple(topic.value for topic in Topic)


class YotiEvent(WebhookEvent):
    """Base of every Yoti notification: ``session_id`` and ``topic`` ([docs]: always present).

    **No result inside.** Fetch it with the Yoti SDK, e.g.
    ``DocScanClient(sdk_id, pem_path).get_session(event.session_id)`` (a signed
    ``GET /idverify/v1/sessions/{session_id}``), and decide on ``state``/the checks' recommendations
    from that answer -- never from the notification alone.

    ``event_type`` is the lower-case topic; ``topic`` keeps the wire value (a known value is a
    :class:`Topic` member, anything else a ``str``).

    ``delivery_key`` is ``yoti:<session_id>:<topic>:<digest>``, ``<digest>`` being the first 32 hex
    digits of the SHA-256 of the body's canonical JSON (keys sorted, no spaces, topic in lower
    case). Yoti sends no event
    id or timestamp ([docs]: dedupe on ``session_id``, ``topic`` and the ``*_id``), and the
    ``*_id`` fields are optional ("present only when", [docs]), so the key covers the whole
    body: two notifications differ in their key exactly when their content differs, and a
    redelivery -- even formatted differently -- shares it. Consequence: two notifications with the
    same content -- e.g. a second ``resource_update`` for the same resource -- share a key, and a
    store treats the second as a redelivery. Handlers re-fetch the whole session anyway; take
    decisions on ``session_completion`` (one per session).
    """

    # [docs]: a string (UUID in practice); kept as ``str`` so that an id in another format never
    # fails a delivery.
    # https://developers.yoti.com/identity-verification/notifications
    session_id: str = Field(
        description="The session to fetch (with the Yoti SDK) for the result: the notification "
        "carries none."
    )
    topic: Annotated[Topic | str, OPEN] = Field(
        description="What happened, e.g. session_completion (then fetch the verdict)."
    )

    def subject_ids(self) -> tuple[str, ...]:
        """The string ``*_id`` fields other than ``session_id`` (``task_id``, ``check_id``,
        ``resource_id``, or whatever id a future topic carries), ordered by field name."""
        values: dict[str, object] = {
            name: getattr(self, name) for name in type(self).model_fields if name != "session_id"
        }
        values.update(self.__pydantic_extra__ or {})
        return tuple(
            value
            for name, value in sorted(values.items())
            if name.endswith("_id") and isinstance(value, str) and value
        )

    __decision_rules__ = "kyc_webhooks.yoti._decisions"

    def _delivery_key(self) -> str:
        # The readable prefix may be ambiguous (ids can hold ':'); the digest of the whole
        # content is what makes the key unique. ensure_ascii: any string (even a lone surrogate
        # decoded from a JSON escape) encodes.
        wire = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        wire["topic"] = self.event_type  # either topic spelling is the same notification ([docs])
        content = json.dumps(
            wire,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
        )
        digest = hashlib.sha256(content.encode("ascii")).hexdigest()[:32]
        return f"{VENDOR}:{key_part(self.session_id)}:{key_part(self.event_type)}:{digest}"


class ResourceUpdateEvent(YotiEvent):
    """``resource_update``: a session resource changed, e.g. the user uploaded a document ([docs]).

    Fetch the session to see the resource (``get_session(session_id).resources``)."""

    # Optional: "present only when" the topic is this one ([docs]) -- not guaranteed.
    resource_id: str | None = None


class TaskCompletionEvent(YotiEvent):
    """``task_completion``: a task (e.g. ``ID_DOCUMENT_TEXT_DATA_EXTRACTION``) completed ([docs]).

    The task's output is in the session (``get_session(session_id).resources``)."""

    # Optional: "present only when" the topic is this one ([docs]) -- not guaranteed.
    task_id: str | None = None


class CheckCompletionEvent(YotiEvent):
    """``check_completion``: one check (e.g. document authenticity) completed ([docs]).

    Its report is in the session: ``get_session(session_id).checks``, matched on ``check_id``."""

    # Optional: "present only when" the topic is this one ([docs]) -- not guaranteed.
    check_id: str | None = None


class SessionCompletionEvent(YotiEvent):
    """``session_completion``: every task and check of the session completed ([docs]).

    The one to act on: fetch the session, read ``state`` and each check's
    ``report.recommendation.value`` (``APPROVE``/``REJECT``/``NOT_AVAILABLE``)."""


class ClientSessionTokenDeletedEvent(YotiEvent):
    """``client_session_token_deleted``: the user finished (or left) the client flow and the client
    session token was removed; Yoti may now run backend checks ([docs], "Client Session
    Completion"). No result yet -- wait for ``session_completion``."""


class NewPdfSuppliedEvent(YotiEvent):
    """``new_pdf_supplied`` (In-Branch Verification): the user obtained the instructions PDF
    ([docs]).

    Body spelling and fields UNCONFIRMED ([docs]); any extra field is kept."""


class InstructionsEmailRequestedEvent(YotiEvent):
    """``instructions_email_requested`` (In-Branch Verification): you subscribed instead of Yoti's
    own e-mail, so fetch the instructions PDF and send it yourself ([docs]).

    Body spelling and fields UNCONFIRMED ([docs]); any extra field is kept."""


class ThankYouEmailRequestedEvent(YotiEvent):
    """``thank_you_email_requested`` (In-Branch Verification): the branch visit is over and Yoti's
    "thank you" e-mail is suppressed; send your own ([docs])."""


class FirstBranchVisitEvent(YotiEvent):
    """``first_branch_visit`` (In-Branch Verification): the customer letter's QR code was scanned
    in a Post Office branch for the first time ([docs])."""


class YotiUnknownEvent(UnknownEvent, YotiEvent):
    """A topic this version does not model (the topic is an open value; [docs]). ``session_id``
    and ``topic`` are still required; every other field is kept."""

    @property
    def payload(self) -> dict[str, Any]:
        """The whole body as a ``dict`` (``session_id`` and ``topic`` included)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


#: Body topic (lower case) -> model.
EVENT_MODELS: dict[str, type[YotiEvent]] = {
    Topic.RESOURCE_UPDATE.value: ResourceUpdateEvent,
    Topic.TASK_COMPLETION.value: TaskCompletionEvent,
    Topic.CHECK_COMPLETION.value: CheckCompletionEvent,
    Topic.SESSION_COMPLETION.value: SessionCompletionEvent,
    Topic.CLIENT_SESSION_TOKEN_DELETED.value: ClientSessionTokenDeletedEvent,
    Topic.NEW_PDF_SUPPLIED.value: NewPdfSuppliedEvent,
    Topic.INSTRUCTIONS_EMAIL_REQUESTED.value: InstructionsEmailRequestedEvent,
    Topic.THANK_YOU_EMAIL_REQUESTED.value: ThankYouEmailRequestedEvent,
    Topic.FIRST_BRANCH_VISIT.value: FirstBranchVisitEvent,
}


def _other_spelling(body: dict[str, Any]) -> type[YotiEvent] | None:
    """The model of a topic in another case than the documented lower case ([docs]: a body with
    the subscription spelling, ``SESSION_COMPLETION``, is the same topic)."""
    topic = body.get("topic")
    return EVENT_MODELS.get(topic.lower()) if isinstance(topic, str) else None


#: The model for each body; an unknown or missing topic gives YotiUnknownEvent (which requires a
#: topic: a body without one is a 400).
_CHOOSER = EventModels(EVENT_MODELS, YotiUnknownEvent, field="topic", fallback=_other_spelling)


def parse_event(body: bytes, headers: Headers) -> YotiEvent:
    """Validate an authenticated Yoti body into the model for its topic (``headers`` are not read:
    Yoti puts everything in the body)."""
    event = _CHOOSER.validate(body, what="Yoti")
    topic = event.topic
    if isinstance(topic, Topic):
        event_type = topic.value
    elif isinstance(topic, str):
        event_type = topic.lower()
    else:
        # The models require a string topic, yet on pydantic 2.7 the tagged union handed back an
        # event without one after other models had been built (order-dependent, CI's 2.7 leg):
        # refuse it as the models would.
        raise PayloadError("Yoti body failed validation (topic: missing)")
    return event.bind(vendor=VENDOR, event_type=event_type, raw=body)
