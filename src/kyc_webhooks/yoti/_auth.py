"""Yoti IDV notifications: configuration and authentication (facts: ../shared/vendors/yoti.md §2).

Yoti signs nothing: it sends ``Authorization: Basic base64(auth_token)`` or
``Authorization: Bearer <auth_token>`` with the ``auth_token`` you set when creating the session.
No models are imported here; they load on the first :meth:`Yoti.parse`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from .._crypto import SecretInput, secrets_tuple, verify_authorization
from .._headers import Headers
from .._vendor import Vendor
from ..errors import ConfigurationError
from ..models import WebhookEvent

__all__ = ["AUTHORIZATION_HEADER", "Yoti"]

# Sheet §2: docs prose says "Authorisation", the documented example header is `Authorization`.
AUTHORIZATION_HEADER = "Authorization"


class Yoti(Vendor):
    """Yoti Identity Verification notifications.

    ``auth_token``: the session's ``notifications.auth_token`` (``"user:pass"`` for Basic); a
    sequence accepts several (rotation). ``auth_type``: ``"basic"`` (Yoti's recommendation) or
    ``"bearer"``, case-insensitive, as set in ``notifications.auth_type``.
    """

    name: ClassVar[str] = "yoti"
    models_module: ClassVar[str] = "kyc_webhooks.yoti.models"
    detection: ClassVar[str] = "body"
    auth_headers: ClassVar[frozenset[str]] = frozenset({AUTHORIZATION_HEADER.lower()})

    def __init__(
        self, auth_token: SecretInput, auth_type: Literal["basic", "bearer"] = "basic"
    ) -> None:
        scheme = auth_type.lower() if isinstance(auth_type, str) else auth_type
        if scheme not in ("basic", "bearer"):
            raise ConfigurationError("auth_type must be 'basic' or 'bearer'")
        self._scheme: Literal["basic", "bearer"] = "basic" if scheme == "basic" else "bearer"
        self._tokens = secrets_tuple(auth_token, name="auth_token")
        if self._scheme == "bearer" and any(not t.isascii() for t in self._tokens):
            raise ConfigurationError("a bearer auth_token must be ASCII")

    @property
    def auth_type(self) -> Literal["basic", "bearer"]:
        return self._scheme

    @classmethod
    def detect(cls, headers: Headers, body: bytes) -> bool:
        # Sheet §4: every notification body has `session_id` and `topic`.
        return b'"session_id"' in body and b'"topic"' in body

    def verify(self, body: bytes, headers: Headers) -> None:
        verify_authorization(
            headers, scheme=self._scheme, tokens=self._tokens, header=AUTHORIZATION_HEADER
        )

    def parse(self, body: bytes, headers: Headers) -> WebhookEvent:
        event: WebhookEvent = self.models().parse_event(body)
        return event

    @classmethod
    def normalize_pattern(cls, pattern: str) -> str:
        # Sheet §3: subscriptions are upper case (`SESSION_COMPLETION`), body topics lower case
        # (`session_completion`); routing matches the body spelling, so both register alike.
        return pattern.lower()

    @classmethod
    def event_types(cls) -> tuple[str, ...]:
        from .models import EVENT_TYPES

        return tuple(EVENT_TYPES)

    def __repr__(self) -> str:
        return (
            f"Yoti(auth_token=<redacted>, auth_type={self._scheme!r}, tokens={len(self._tokens)})"
        )
