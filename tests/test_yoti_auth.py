"""Yoti authentication (sheet yoti.md §2): ``Authorization: Basic base64(auth_token)`` or
``Authorization: Bearer <auth_token>``, constant-time compare, fail closed, rotation, redaction."""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from typing import Any

import pytest

import kyc_webhooks as kw
from kyc_webhooks.testing import dumps, sign
from kyc_webhooks.yoti import SessionCompletionEvent
from kyc_webhooks.yoti._samples import SAMPLES

BODY = dumps(SAMPLES["session_completion"])
USERPASS = "acme-notify:s3cr3t"
COLON_PASSWORD = "acme-notify:pa:ss:wo:rd"
BEARER = "tok_9f8e7d6c5b4a"

HeaderList = Sequence[tuple[str | bytes, str | bytes]]


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def receiver(token: str | list[str], auth_type: str = "basic") -> kw.Receiver:
    return kw.Receiver(kw.Yoti(auth_token=token, auth_type=auth_type))  # type: ignore[arg-type]


# The common hostile mutations (wrong, truncated, longer, case-changed, non-ASCII or latin-1
# credentials, missing, duplicated or misnamed headers) are one table for every vendor and both
# schemes: test_vendor_contract.py. These rows are the schemes' own.
AUTH_CASES: list[Any] = [
    # -- Basic ---------------------------------------------------------------------------------
    pytest.param("username:password", "basic",
                 [("Authorization", "Basic dXNlcm5hbWU6cGFzc3dvcmQ=")], 200,
                 id="basic-documented-example"),
    pytest.param(COLON_PASSWORD, "basic", [("Authorization", f"Basic {b64('acme-notify:pa')}")],
                 401, id="basic-password-cut-at-colon"),
    pytest.param("no-colon-token", "basic", [("Authorization", f"Basic {b64('no-colon-token')}")],
                 200, id="basic-token-without-colon"),
    pytest.param("Jürgen:pässword", "basic", [("Authorization", f"Basic {b64('Jürgen:pässword')}")],
                 200, id="basic-utf8-token"),
    pytest.param(USERPASS, "basic", [("Authorization", f"basic {b64(USERPASS)}")], 200,
                 id="basic-lowercase-scheme"),
    pytest.param(USERPASS, "basic", [("Authorization", f"BASIC {b64(USERPASS)}")], 200,
                 id="basic-uppercase-scheme"),
    pytest.param(USERPASS, "basic", [("Authorization", f"  Basic    {b64(USERPASS)}   ")], 200,
                 id="basic-extra-spaces"),
    pytest.param(USERPASS, "basic", [("Authorization", f"Basic\t{b64(USERPASS)}")], 200,
                 id="basic-tab-separator"),
    pytest.param(USERPASS, "basic", [("Authorization", f"Basic {b64('acme-notify:wrong')}")],
                 401, id="basic-wrong-password"),
    pytest.param(USERPASS, "basic", [("Authorization", f"Basic {b64(USERPASS.upper())}")], 401,
                 id="basic-token-case-differs"),
    pytest.param(USERPASS, "basic", [("Authorization", f"Basic {USERPASS}")], 401,
                 id="basic-token-not-encoded"),
    pytest.param(USERPASS, "basic", [("Authorization", "Basic !!not*base64!!")], 401,
                 id="basic-bad-base64"),
    pytest.param(USERPASS, "basic", [("Authorization", "Basic")], 401, id="basic-no-credentials"),
    pytest.param(USERPASS, "basic", [("Authorization", "Basic ")], 401,
                 id="basic-empty-credentials"),
    pytest.param(USERPASS, "basic", [("Authorization", f"Basic{b64(USERPASS)}")], 401,
                 id="basic-no-space"),
    pytest.param(USERPASS, "basic", [("Authorization", f"Bearer {USERPASS}")], 401,
                 id="basic-configured-bearer-sent"),
    pytest.param(USERPASS, "basic", [("Authorization", f"Digest {b64(USERPASS)}")], 401,
                 id="basic-wrong-scheme"),
    # -- Bearer --------------------------------------------------------------------------------
    pytest.param(BEARER, "BEARER", [("Authorization", f"Bearer {BEARER}")], 200,
                 id="bearer-config-in-yoti-spelling"),
    pytest.param(BEARER, "bearer", [("Authorization", f"bearer {BEARER}")], 200,
                 id="bearer-lowercase-scheme"),
    pytest.param(BEARER, "bearer", [("Authorization", f" Bearer   {BEARER} ")], 200,
                 id="bearer-extra-spaces"),
    pytest.param(BEARER, "bearer", [("Authorization", f"Token {BEARER}")], 401,
                 id="bearer-different-prefix-token"),
    pytest.param(BEARER, "bearer", [("Authorization", f"JWT {BEARER}")], 401,
                 id="bearer-different-prefix-jwt"),
    pytest.param(BEARER, "bearer", [("Authorization", f"Bearer x{BEARER}")], 401,
                 id="bearer-token-with-prefix"),
    pytest.param(BEARER, "bearer", [("Authorization", f"Bearer{BEARER}")], 401,
                 id="bearer-no-space"),
    pytest.param(BEARER, "bearer", [("Authorization", BEARER)], 401, id="bearer-no-scheme"),
    pytest.param(BEARER, "bearer", [("Authorization", f"Basic {b64(BEARER)}")], 401,
                 id="bearer-configured-basic-sent"),
    # -- missing / duplicated ------------------------------------------------------------------
    pytest.param(USERPASS, "basic", [("Authorization", f"Basic {b64(USERPASS)}, Basic x")], 401,
                 id="basic-comma-joined-duplicate"),
]  # fmt: skip


@pytest.mark.parametrize(("token", "auth_type", "headers", "status"), AUTH_CASES)
def test_authorization_header(token: str, auth_type: str, headers: HeaderList, status: int) -> None:
    recv = receiver(token, auth_type)
    ran: list[str] = []

    @recv.on("*")
    def handler(event: kw.WebhookEvent) -> None:
        ran.append(event.event_type)

    outcome = recv.handle(BODY, [*headers, ("Content-Type", "application/json")])
    assert outcome.status_code == status
    if status == 200:
        assert isinstance(outcome.event, SessionCompletionEvent)
        assert ran == ["session_completion"]
    else:
        assert isinstance(outcome.error, kw.AuthenticationError)
        assert outcome.vendor == "yoti"
        assert outcome.event is None
        assert ran == []
        assert outcome.response_body()["error"] == "AuthenticationError"


@pytest.mark.parametrize("auth_type", ["basic", "bearer"])
def test_token_rotation_accepts_every_configured_token(auth_type: str) -> None:
    old, new, stranger = "ops:old-secret", "ops:new-secret", "ops:never-configured"
    recv = receiver([old, new], auth_type)
    for token, status in ((old, 200), (new, 200), (stranger, 401)):
        body, headers = sign("yoti", SAMPLES["session_completion"], token, auth_type=auth_type)  # type: ignore[arg-type]
        assert recv.handle(body, headers).status_code == status, token


def test_authentication_comes_before_parsing() -> None:
    # A bad body with a bad token is a 401 (never tells an unauthenticated sender about parsing).
    outcome = receiver(USERPASS).handle(
        b'{"session_id": 1', {"Authorization": "Basic bm9wZQ=="}, vendor="yoti"
    )
    assert outcome.status_code == 401
    good = receiver(USERPASS).handle(
        b'{"session_id": 1', {"Authorization": f"Basic {b64(USERPASS)}"}, vendor="yoti"
    )
    assert good.status_code == 400


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _non_canonical_base64() -> list[str]:
    """``base64(token)`` spelled in ways no base64 encoder writes, each decoding to the token
    under ``base64.b64decode(validate=True)``: a ``=`` after a complete group (token
    ``USERPASS``), and the unused bits of the last character set (RFC 4648 §3.5; token
    ``USERPASS[:-1]``)."""
    canonical = b64(USERPASS)  # 18 bytes: 24 characters, no padding
    short = b64(USERPASS[:-1])  # 17 bytes: one "=", two unused bits in the last character
    assert not canonical.endswith("=")
    assert short.endswith("=")
    assert not short.endswith("==")
    last = _B64_ALPHABET[_B64_ALPHABET.index(short[-2]) | 1]  # an unused bit set
    return [canonical + "=", canonical + "==", short[:-2] + last + "="]


@pytest.mark.parametrize("spelling", range(3))
def test_basic_credentials_in_a_base64_spelling_yoti_never_sends_are_refused(
    spelling: int,
) -> None:
    # Yoti sends the standard base64 of the token, padded ("dXNlcm5hbWU6cGFzc3dvcmQ=",
    # https://developers.yoti.com/identity-verification/notifications): a value that only a
    # lenient decoder maps onto the token is malformed, not the token.
    value = _non_canonical_base64()[spelling]
    token = USERPASS if spelling < 2 else USERPASS[:-1]
    assert base64.b64decode(value, validate=True) == token.encode()
    outcome = receiver(token).handle(BODY, {"Authorization": f"Basic {value}"})
    assert outcome.status_code == 401
    assert isinstance(outcome.error, kw.AuthenticationError)
    assert "base64" in str(outcome.error)
    assert receiver(token).handle(BODY, {"Authorization": f"Basic {b64(token)}"}).status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        pytest.param({"auth_token": ""}, "auth_token", id="empty-token"),
        pytest.param({"auth_token": "   "}, "auth_token", id="blank-token"),
        pytest.param({"auth_token": []}, "auth_token", id="no-tokens"),
        pytest.param({"auth_token": ["ok", ""]}, "auth_token", id="one-empty-token"),
        pytest.param({"auth_token": None}, "auth_token", id="none-token"),
        pytest.param({"auth_token": "tok-12345", "auth_type": "digest"}, "auth_type", id="digest"),
        pytest.param({"auth_token": "tok-12345", "auth_type": None}, "auth_type", id="none-type"),
        pytest.param({"auth_token": "tökén", "auth_type": "bearer"}, "ASCII", id="bearer-utf8"),
    ],
)
def test_bad_configuration_fails_at_construction(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(kw.ConfigurationError, match=fragment) as info:
        kw.Yoti(**kwargs)
    token = kwargs.get("auth_token")
    if isinstance(token, str) and token.strip():
        assert token not in str(info.value)


def test_auth_type_is_normalised() -> None:
    assert kw.Yoti(auth_token="a:b").auth_type == "basic"
    assert kw.Yoti(auth_token="a:b", auth_type="BASIC").auth_type == "basic"  # type: ignore[arg-type]
    assert kw.Yoti(auth_token="t", auth_type="Bearer").auth_type == "bearer"  # type: ignore[arg-type]


# -- redaction ---------------------------------------------------------------------------------

SECRET_BASIC = "redact-me-user:Sup3rS3cretPassw0rd"
SECRET_BEARER = "redact_me_bearer_7Hq2Lm9Zx"


def _forbidden(token: str) -> list[str]:
    # The token, its base64 form and each half of a user:password token.
    return [token, b64(token), *[part for part in token.split(":") if len(part) > 6]]


def _assert_clean(text: str, token: str) -> None:
    for secret in _forbidden(token):
        assert secret not in text


@pytest.mark.parametrize(
    ("token", "auth_type"), [(SECRET_BASIC, "basic"), (SECRET_BEARER, "bearer")]
)
def test_token_never_appears_in_reprs_errors_outcomes_or_logs(
    token: str, auth_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kyc_webhooks")
    vendor = kw.Yoti(auth_token=[token, token + "-next"], auth_type=auth_type)  # type: ignore[arg-type]
    recv = kw.Receiver(vendor)

    @recv.on("yoti", "SESSION_COMPLETION")
    def failing(event: kw.WebhookEvent) -> None:
        raise RuntimeError("handler broke")

    texts: list[str] = [repr(vendor), str(vendor), repr(recv.vendors)]
    body, headers = sign("yoti", SAMPLES["session_completion"], token, auth_type=auth_type)  # type: ignore[arg-type]
    texts.append(repr(kw.Headers(headers)))

    ok_body, ok_headers = sign("yoti", SAMPLES["task_completion"], token, auth_type=auth_type)  # type: ignore[arg-type]
    ok = recv.handle(ok_body, ok_headers)
    assert ok.status_code == 200
    failed = recv.handle(body, headers)
    assert failed.status_code == 500
    texts += [repr(ok), repr(ok.event), str(ok.event), repr(failed), repr(failed.error)]
    texts += [str(failed.response_body()), str(ok.response_body())]

    if auth_type == "basic":
        near_misses = [
            f"Basic {b64(token + 'x')}",
            f"Basic {token}",  # the raw token: bad base64
            f"Bearer {token}",
            f"Basic {token}é",
        ]
    else:
        near_misses = [
            f"Bearer {token}x",
            f"Basic {b64(token)}",
            f"Token {token}",
            f"Bearer {token}é",
        ]
    for value in near_misses:
        outcome = recv.handle(body, {"Authorization": value})
        assert outcome.status_code == 401
        assert outcome.error is not None
        texts += [repr(outcome), str(outcome.error), repr(outcome.error)]
        texts += [str(outcome.response_body())]
        with pytest.raises(kw.AuthenticationError) as info:
            recv.parse(body, {"Authorization": value})
        texts += [str(info.value), repr(info.value), repr(info.value.__cause__)]

    texts += [record.getMessage() for record in caplog.records]
    texts += [str(record.exc_info) for record in caplog.records if record.exc_info]
    assert any("delivery rejected" in t for t in texts)  # the logs were really captured
    for text in texts:
        _assert_clean(text, token)
