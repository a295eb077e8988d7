"""Yoti IDV notifications: configuration and authentication (facts: https://developers.yoti.com/identity-verification/notifications).

Yoti signs nothing: it sends ``Authorization: Basic base64(auth_token)`` or
``Authorization: Bearer <auth_token>`` with the ``auth_token`` you set when creating the session.
No models are imported here; they load on the first parse.
"""

# Vendor documentation cited below as [name]:
# [docs] https://developers.yoti.com/identity-verification/notifications

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, Literal

from .._crypto import CREDENTIALS, SecretInput, secrets_tuple, verify_authorization
from .._headers import HeaderInput, Headers
from .._vendor import Vendor, body_bytes
from ..errors import ConfigurationError
from ._wire import AUTHORIZATION_HEADER

if TYPE_CHECKING:
    from .models import YotiEvent

__all__ = ["AUTHORIZATION_HEADER", "Yoti", "parse_unauthenticated"]

# [docs]: the token is optional on Yoti's side ("if they have secured API endpoints");
# without one a notification carries no authentication at all, which this library refuses.
# https://developers.yoti.com/identity-verification/notifications
_NO_CREDENTIAL = (
    "Yoti needs auth_token=, the token your backend sets on every IDV session it creates (the "
    "create-session request's notifications.auth_token, with notifications.auth_type BASIC or "
    "BEARER; SDKs: the notification config builder). Yoti has no dashboard setting for it and "
    "treats it as optional, but notifications sent without one cannot be authenticated."
)


class Yoti(Vendor):
    """Yoti Identity Verification notifications.

    ``auth_token``: the session's ``notifications.auth_token`` (``"user:pass"`` for Basic); a
    sequence accepts several (rotation). ``auth_type``: ``"basic"`` (Yoti's recommendation) or
    ``"bearer"``, case-insensitive, as set in ``notifications.auth_type``.
    """

    name: ClassVar[str] = "yoti"
    models_module: ClassVar[str] = "kyc_webhooks.yoti.models"
    credential_param: ClassVar[str] = "auth_token"
    credential_env: ClassVar[str] = "YOTI_AUTH_TOKEN"
    option_envs: ClassVar[Mapping[str, str]] = {"auth_type": "YOTI_AUTH_TYPE"}
    detection: ClassVar[str] = "body"
    auth_headers: frozenset[str] = frozenset({AUTHORIZATION_HEADER.lower()})

    def __init__(
        self, auth_token: SecretInput | None = None, auth_type: Literal["basic", "bearer"] = "basic"
    ) -> None:
        if auth_token is None:
            raise ConfigurationError(_NO_CREDENTIAL)
        scheme = auth_type.lower() if isinstance(auth_type, str) else auth_type
        if scheme not in ("basic", "bearer"):
            raise ConfigurationError("auth_type must be 'basic' or 'bearer'")
        self._scheme: Literal["basic", "bearer"] = "basic" if scheme == "basic" else "bearer"
        # Padded is allowed: the token is yours, sent to Yoti by your backend with each session,
        # so one with a newline (read from the same file on both sides) matches as it is.
        self._tokens = secrets_tuple(auth_token, name="auth_token", padded=True)
        if self._scheme == "bearer" and any(
            not t.isascii() or not CREDENTIALS.fullmatch(t.decode("ascii")) for t in self._tokens
        ):
            # What the check accepts: a token with a space around it (or inside) was accepted
            # here and could never match (review R39).
            raise ConfigurationError(
                "a bearer auth_token must be visible ASCII without spaces or commas"
            )
        if self._scheme == "basic" and any(map(_no_password, self._tokens)):
            raise ConfigurationError(
                "a basic auth_token 'user:password' has an empty password and a user name too "
                f"short to be the secret (under {SECRET_USER_NAME} characters)"
            )

    @property
    def auth_type(self) -> Literal["basic", "bearer"]:
        return self._scheme

    @classmethod
    def detect(cls, headers: Headers, body: bytes) -> bool:
        # [docs]: every notification body has `session_id` and `topic`.
        return b'"session_id"' in body and b'"topic"' in body

    def verify(self, body: bytes, headers: Headers) -> None:
        verify_authorization(
            headers, scheme=self._scheme, tokens=self._tokens, header=AUTHORIZATION_HEADER
        )

    @classmethod
    def normalize_pattern(cls, pattern: str) -> str:
        # [docs]: subscriptions are upper case (`SESSION_COMPLETION`), body topics lower case
        # (`session_completion`); routing matches the body spelling, so both register alike.
        return pattern.lower()

    def __repr__(self) -> str:
        return (
            f"Yoti(auth_token=<redacted>, auth_type={self._scheme!r}, tokens={len(self._tokens)})"
        )


#: The shortest user name that may stand alone, with an empty password, in a Basic token: an
#: API key as the user name (``"<api key>:"``) is a secret; ``"user:"`` is
#: ``"{user}:{password}"`` with the password's variable unset -- a user name, no secret.
SECRET_USER_NAME = 16


def _no_password(token: bytes) -> bool:
    user, colon, password = token.partition(b":")
    return bool(colon) and not password.strip() and len(user.strip()) < SECRET_USER_NAME


def parse_unauthenticated(body: bytes, headers: HeaderInput | None = None) -> YotiEvent:
    """**No authentication**: parse a Yoti notification into its event.

    Only for a body that was authenticated earlier (for instance one a delivery store kept):
    anyone can forge a body that parses. To authenticate a delivery, use ``Yoti(...).parse()`` or
    a :class:`~kyc_webhooks.Receiver`. ``headers`` are accepted for a uniform signature and not
    read; raises :class:`~kyc_webhooks.errors.PayloadError` for a body that does not validate."""
    event: YotiEvent = Yoti.models().parse_event(body_bytes(body), Headers(headers))
    return event
