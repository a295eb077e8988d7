from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from kyc_webhooks import AuthenticationError, ConfigurationError, Headers
from kyc_webhooks._crypto import (
    secrets_tuple,
    verify_authorization,
    verify_hmac_sha256_hex,
    verify_shared_key,
)

BODY = b'{"scanRef":"a1"}'
KEY = b"k3y-\xc5\xa1"  # non-ASCII key as UTF-8


def _sig(key: bytes = KEY, body: bytes = BODY) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _check(value: str | None, keys: tuple[bytes, ...] = (KEY,), body: bytes = BODY) -> None:
    headers = Headers({} if value is None else {"X-Sig": value})
    verify_hmac_sha256_hex(body, headers, header="X-Sig", keys=keys)


def test_valid_signature_passes() -> None:
    _check(_sig())
    _check(_sig().upper())
    _check(f"  {_sig()} ")


def test_any_of_several_keys_passes() -> None:
    _check(_sig(b"new"), keys=(b"old", b"new"))
    _check(_sig(b"old"), keys=(b"old", b"new"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(None, "missing X-Sig header", id="missing"),
        pytest.param("", "malformed", id="empty"),
        pytest.param("zz" * 32, "malformed", id="non-hex"),
        pytest.param("é" * 64, "malformed", id="non-ascii"),
        pytest.param("ab" * 31, "malformed", id="short"),
        pytest.param("ab" * 33, "malformed", id="long"),
        pytest.param("sha256=" + "ab" * 32, "malformed", id="prefixed"),
        pytest.param("ab" * 32, "invalid X-Sig signature", id="wrong"),
    ],
)
def test_bad_signatures_fail_closed(value: str | None, message: str) -> None:
    with pytest.raises(AuthenticationError) as info:
        _check(value)
    assert message in str(info.value)
    assert info.value.status_code == 401
    if value:
        assert value not in str(info.value)


def test_tampered_body_and_wrong_key_fail() -> None:
    with pytest.raises(AuthenticationError):
        _check(_sig(), body=BODY + b" ")
    with pytest.raises(AuthenticationError):
        _check(_sig(b"other"))


def test_repeated_signature_header_is_refused() -> None:
    headers = Headers([("X-Sig", _sig()), ("x-sig", _sig())])
    with pytest.raises(AuthenticationError, match="more than once"):
        verify_hmac_sha256_hex(BODY, headers, header="X-Sig", keys=(KEY,))


def _auth(value: str | None, scheme: str, tokens: tuple[bytes, ...]) -> None:
    headers = Headers({} if value is None else {"Authorization": value})
    verify_authorization(headers, scheme=scheme, tokens=tokens)  # type: ignore[arg-type]


def _basic(token: str) -> str:
    return "Basic " + base64.b64encode(token.encode()).decode()


@pytest.mark.parametrize(
    ("value", "scheme", "token"),
    [
        pytest.param(_basic("user:pass"), "basic", b"user:pass", id="basic"),
        pytest.param(_basic("user:pa:ss"), "basic", b"user:pa:ss", id="basic-colon-in-password"),
        pytest.param("basic " + _basic("u:p")[6:], "basic", b"u:p", id="lowercase-scheme"),
        pytest.param("  Basic   " + _basic("u:p")[6:] + "  ", "basic", b"u:p", id="extra-spaces"),
        pytest.param("Bearer tok.en-1", "bearer", b"tok.en-1", id="bearer"),
        pytest.param("BEARER tok", "bearer", b"tok", id="bearer-upper-scheme"),
    ],
)
def test_authorization_accepts(value: str, scheme: str, token: bytes) -> None:
    _auth(value, scheme, (b"other", token))


@pytest.mark.parametrize(
    ("value", "scheme"),
    [
        pytest.param(None, "basic", id="missing"),
        pytest.param("Bearer u:p", "basic", id="wrong-scheme"),
        pytest.param("Basic", "basic", id="no-credentials"),
        pytest.param("Basic not base64!!", "basic", id="bad-base64"),
        pytest.param(_basic("u:wrong"), "basic", id="wrong-password"),
        pytest.param("Token tok", "bearer", id="other-prefix"),
        pytest.param("Bearer tok2", "bearer", id="wrong-token"),
        pytest.param("Bearer tök", "bearer", id="non-ascii"),
        pytest.param(_basic("u:p"), "bearer", id="basic-for-bearer"),
    ],
)
def test_authorization_rejects(value: str | None, scheme: str) -> None:
    with pytest.raises(AuthenticationError) as info:
        _auth(value, scheme, (b"u:p", b"tok"))
    assert "u:p" not in str(info.value)
    assert "tok" not in str(info.value)


@pytest.mark.parametrize(
    ("presented", "ok"),
    [
        pytest.param("key-1", True, id="match"),
        pytest.param("key-2", True, id="rotated"),
        pytest.param("key-3", False, id="wrong"),
        pytest.param(None, False, id="missing"),
        pytest.param(123, False, id="number"),
        pytest.param(["key-1"], False, id="list"),
        pytest.param("\ud800", False, id="lone-surrogate"),
    ],
)
def test_shared_key(presented: object, ok: bool) -> None:
    keys = (b"key-1", b"key-2")
    if ok:
        verify_shared_key(presented, field="callbackApiKey", keys=keys)
    else:
        with pytest.raises(AuthenticationError) as info:
            verify_shared_key(presented, field="callbackApiKey", keys=keys)
        assert "key-" not in str(info.value)


def test_secrets_tuple_normalises_and_validates() -> None:
    assert secrets_tuple("a", name="k") == (b"a",)
    assert secrets_tuple(["a", b"b", "a"], name="k") == (b"a", b"b")
    assert secrets_tuple(("ž",), name="k") == ("ž".encode(),)
    for bad in (None, "", "   ", [], [""], ["ok", ""], [1], {"a": 1}, 42):
        with pytest.raises(ConfigurationError) as info:
            secrets_tuple(bad, name="signing_key")  # type: ignore[arg-type]
        assert "signing_key" in str(info.value)
