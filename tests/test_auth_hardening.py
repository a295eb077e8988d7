"""Issue #10, items 1, 3 and 14: an object that holds a credential never returns an unauthenticated
event; only ASCII space and tab may surround a header credential; iDenfy's custom headers and
OAuth bearer tokens are credentials; a vendor without any credential is a ConfigurationError."""

from __future__ import annotations

import base64
import importlib
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

import kyc_webhooks as kw
from kyc_webhooks import testing
from kyc_webhooks._headers import Headers

SECRETS = {
    "idenfy": "idenfy-signing-key",
    "complycube": "complycube-secret",
    "yoti": "kyc-test:yoti-password",
    "identomat": "identomat-callback-key",
}
OTHER = {
    "idenfy": "not-the-key",
    "complycube": "not-the-secret",
    "yoti": "kyc-test:not-the-password",
    "identomat": "not-the-key",
}
EVENT_TYPES = {
    "idenfy": "IDENTIFICATION_AUTO_FINISHED",
    "complycube": "check.completed",
    "yoti": "session_completion",
    "identomat": "one-time-password-request",
}
VENDORS = sorted(SECRETS)


def _vendor(name: str, secret: str | None = None) -> kw.Vendor:
    (vendor,) = testing.make_vendors({name: secret or SECRETS[name]})
    return vendor


def _delivery(name: str, secret: str | None = None) -> testing.Delivery:
    return testing.signed_delivery(name, EVENT_TYPES[name], secret or SECRETS[name])


# -- item 1: Vendor.parse authenticates; parse_unauthenticated is a plainly named module function --


@pytest.mark.parametrize("name", VENDORS)
def test_vendor_parse_refuses_a_forged_delivery(name: str) -> None:
    body, headers = _delivery(name, OTHER[name])  # "signed" by someone without the credential
    with pytest.raises(kw.AuthenticationError) as info:
        _vendor(name).parse(body, headers)
    assert info.value.status_code == 401


@pytest.mark.parametrize("name", VENDORS)
def test_vendor_parse_refuses_a_delivery_without_credentials(name: str) -> None:
    body, _ = _delivery(name)
    if name == "identomat":
        payload = {k: v for k, v in json.loads(body).items() if k != "callbackApiKey"}
        unsigned = (json.dumps(payload).encode(), {"Content-Type": "application/json"})
    else:
        unsigned = (body, {"Content-Type": "application/json", "Idenfy-Event-Type": "X"})
    with pytest.raises(kw.AuthenticationError):
        _vendor(name).parse(*unsigned)


@pytest.mark.parametrize("name", ["complycube", "idenfy"])  # Yoti, Identomat sign no body
def test_vendor_parse_refuses_a_tampered_signed_body(name: str) -> None:
    body, headers = testing.tamper(_delivery(name))
    with pytest.raises(kw.AuthenticationError):
        _vendor(name).parse(body, headers)


@pytest.mark.parametrize("name", VENDORS)
def test_vendor_parse_returns_the_event_of_an_authentic_delivery(name: str) -> None:
    body, headers = _delivery(name)
    event = _vendor(name).parse(body, headers)
    assert event.vendor == name
    assert event.raw_body == body
    # Any header mapping works, as for Receiver.parse.
    assert _vendor(name).parse(body, list(headers.items())).raw_body == body


@pytest.mark.parametrize("name", VENDORS)
def test_vendor_parse_refuses_a_str_body_as_a_usage_error(name: str) -> None:
    body, headers = _delivery(name)
    with pytest.raises(kw.UsageError):
        _vendor(name).parse(body.decode(), headers)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", VENDORS)
def test_parse_unauthenticated_is_a_credential_free_module_function(name: str) -> None:
    module = importlib.import_module(f"kyc_webhooks.{name}")
    assert "parse_unauthenticated" in module.__all__
    body, headers = _delivery(name, OTHER[name])  # a forged body parses: no authentication
    event = module.parse_unauthenticated(body, headers)
    assert event.vendor == name
    assert event.raw_body == body
    assert "no authentication" in (module.parse_unauthenticated.__doc__ or "").lower()
    with pytest.raises(kw.UsageError):
        module.parse_unauthenticated(body.decode(), headers)


def test_idenfy_parse_unauthenticated_reads_the_event_type_header() -> None:
    from kyc_webhooks.idenfy import parse_unauthenticated

    payload = testing.sample_payload("idenfy", "DOCUMENT_EXPIRATION")
    body = testing.dumps(payload)
    event = parse_unauthenticated(body, {"idenfy-event-type": "DOCUMENT_EXPIRATION"})
    assert event.event_type == "DOCUMENT_EXPIRATION"


@pytest.mark.parametrize("name", VENDORS)
def test_no_public_vendor_method_parses_without_authentication(name: str) -> None:
    vendor = _vendor(name)
    public = {attr for attr in dir(vendor) if not attr.startswith("_")}
    assert "parse_unauthenticated" not in public
    assert {"parse", "verify", "detect", "prepare"} <= public
    # prepare() parses the samples through the unauthenticated step, without credentials.
    vendor.prepare()


def test_receiver_replay_reparses_stored_bodies_without_authenticating_them_again() -> None:
    # The stored Identomat body has its callbackApiKey redacted: re-authenticating it would fail.
    store = kw.MemoryStore()
    receiver = kw.Receiver(_vendor("identomat"), store=store, defer=True)
    assert receiver.handle(*_delivery("identomat")).status_code == 202
    summary = receiver.process_pending()
    assert [o.status_code for o in summary.outcomes] == [200]


# -- item 3: only ASCII space and tab may surround a header credential ----------------------------

NOT_OWS = {
    "NBSP": "\u00a0",
    "NEL": "\u0085",
    "VT": "\x0b",
    "FF": "\x0c",
    "CR": "\r",
    "LF": "\n",
    "FS": "\x1c",
    "US": "\x1f",
    "EM-SPACE": "\u2003",
    "LINE-SEPARATOR": "\u2028",
    "IDEOGRAPHIC-SPACE": "\u3000",
    "ZWSP": "\u200b",
}
OWS = {"space": " ", "tab": "\t", "spaces-and-tabs": " \t \t"}
HEADER = {
    "idenfy": "Idenfy-Signature",
    "complycube": "ComplyCube-Signature",
    "yoti": "Authorization",
}


def _around(value: str, char: str, where: str) -> str:
    return {"before": char + value, "after": value + char, "both": char + value + char}[where]


def _handle_with(name: str, edit: Callable[[str], str]) -> int:
    body, headers = _delivery(name)
    header = HEADER[name]
    headers = {**headers, header: edit(headers[header])}
    return kw.Receiver(_vendor(name)).handle(body, headers, vendor=name).status_code


@pytest.mark.parametrize("where", ["before", "after", "both"])
@pytest.mark.parametrize("char", NOT_OWS.values(), ids=list(NOT_OWS))
@pytest.mark.parametrize("name", sorted(HEADER))
def test_other_whitespace_around_a_header_credential_is_refused(
    name: str, char: str, where: str
) -> None:
    assert _handle_with(name, lambda value: _around(value, char, where)) == 401


@pytest.mark.parametrize("where", ["before", "after", "both"])
@pytest.mark.parametrize("char", OWS.values(), ids=list(OWS))
@pytest.mark.parametrize("name", sorted(HEADER))
def test_ascii_space_and_tab_around_a_header_credential_pass(
    name: str, char: str, where: str
) -> None:
    assert _handle_with(name, lambda value: _around(value, char, where)) == 200


@pytest.mark.parametrize("char", NOT_OWS.values(), ids=list(NOT_OWS))
@pytest.mark.parametrize("auth_type", ["basic", "bearer"])
def test_yoti_scheme_and_token_separated_by_other_whitespace_are_refused(
    auth_type: str, char: str
) -> None:
    body, headers = testing.signed_delivery(
        "yoti",
        "session_completion",
        SECRETS["yoti"],
        auth_type=auth_type,  # type: ignore[arg-type]
    )
    scheme, _, token = headers["Authorization"].partition(" ")
    vendor = kw.Yoti(auth_token=SECRETS["yoti"], auth_type=auth_type)  # type: ignore[arg-type]
    receiver = kw.Receiver(vendor)
    assert (
        receiver.handle(body, {**headers, "Authorization": f"{scheme}{char}{token}"}).status_code
        == 401
    )
    for sep in (" \t", "\t", "   "):
        ok = {**headers, "Authorization": f"{scheme}{sep}{token}"}
        assert receiver.handle(body, ok).status_code == 200


def test_hex_signature_with_whitespace_inside_is_refused() -> None:
    body, headers = _delivery("complycube")
    sig = headers["ComplyCube-Signature"]
    # 64 characters, but bytes.fromhex() would skip the inner spaces: not a 64-digit hex value.
    headers = {**headers, "ComplyCube-Signature": sig[:30] + "  " + sig[32:]}
    with pytest.raises(kw.AuthenticationError, match="malformed"):
        _vendor("complycube").parse(body, headers)


# -- item 14: iDenfy custom headers, OAuth bearer tokens, no-credential messages -----------------

IDENFY_TYPE = "IDENTIFICATION_AUTO_FINISHED"
TOKEN = "Bearer s3cr3t-static-value"


def _idenfy_body() -> bytes:
    return testing.dumps(testing.sample_payload("idenfy", IDENFY_TYPE))


def _custom(**extra: str) -> dict[str, str]:
    """An iDenfy delivery authenticated by custom headers only: no Idenfy-Signature."""
    return {"Content-Type": "application/json", "Idenfy-Event-Type": IDENFY_TYPE, **extra}


def _status(vendor: kw.Vendor, body: bytes, headers: Any) -> int:
    return kw.Receiver(vendor).handle(body, headers).status_code


def test_required_headers_alone_authenticate_and_detection_needs_no_signature() -> None:
    vendor = kw.Idenfy(required_headers={"Authorization": TOKEN, "X-Tenant": "acme"})
    body = _idenfy_body()
    good = _custom(Authorization=TOKEN, **{"X-Tenant": "acme"})
    assert kw.Idenfy.detect(Headers(good), body)  # Idenfy-Event-Type alone marks iDenfy
    assert _status(vendor, body, good) == 200  # auto-detected, no vendor= pin
    event = vendor.parse(body, {k.lower(): v for k, v in good.items()})
    assert event.event_type == IDENFY_TYPE


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(_custom(**{"X-Tenant": "acme"}), id="missing"),
        pytest.param(_custom(Authorization="Bearer wrong", **{"X-Tenant": "acme"}), id="wrong"),
        pytest.param(_custom(Authorization=TOKEN, **{"X-Tenant": "other"}), id="one-of-two-wrong"),
        pytest.param(_custom(Authorization=TOKEN + "x", **{"X-Tenant": "acme"}), id="longer"),
        pytest.param(_custom(Authorization=TOKEN[:-1], **{"X-Tenant": "acme"}), id="prefix"),
        pytest.param(_custom(Authorization=TOKEN.lower(), **{"X-Tenant": "acme"}), id="case"),
        pytest.param(_custom(Authorization="é" + TOKEN, **{"X-Tenant": "acme"}), id="non-ascii"),
        pytest.param(
            [
                *_custom(**{"X-Tenant": "acme"}).items(),
                ("Authorization", TOKEN),
                ("authorization", TOKEN),
            ],
            id="repeated",
        ),
    ],
)
def test_required_headers_refuse_a_wrong_or_missing_value(headers: Any) -> None:
    vendor = kw.Idenfy(required_headers={"Authorization": TOKEN, "X-Tenant": "acme"})
    with pytest.raises(kw.AuthenticationError) as info:
        vendor.parse(_idenfy_body(), headers)
    assert TOKEN not in str(info.value)
    assert _status(vendor, _idenfy_body(), headers) == 401


def test_required_headers_accept_several_values_for_rotation() -> None:
    vendor = kw.Idenfy(required_headers={"X-Webhook-Token": ["new-value", "old-value"]})
    body = _idenfy_body()
    for value in ("new-value", "old-value", " new-value\t"):
        assert _status(vendor, body, _custom(**{"x-webhook-token": value})) == 200
    assert _status(vendor, body, _custom(**{"X-Webhook-Token": "older-value"})) == 401
    assert _status(vendor, body, _custom(**{"X-Webhook-Token": "\u00a0new-value"})) == 401


def test_required_headers_together_with_the_signing_key_both_must_pass() -> None:
    key = SECRETS["idenfy"]
    vendor = kw.Idenfy(signing_key=key, required_headers={"X-Token": "v1"})
    body, signed = testing.signed_delivery("idenfy", IDENFY_TYPE, key)
    assert _status(vendor, body, {**signed, "X-Token": "v1"}) == 200
    assert _status(vendor, body, signed) == 401  # header missing
    assert _status(vendor, body, {**signed, "X-Token": "v2"}) == 401  # header wrong
    _, forged = testing.signed_delivery("idenfy", IDENFY_TYPE, OTHER["idenfy"])
    assert _status(vendor, body, {**forged, "X-Token": "v1"}) == 401  # signature wrong
    unsigned = {k: v for k, v in signed.items() if k != "Idenfy-Signature"}
    assert _status(vendor, body, {**unsigned, "X-Token": "v1"}) == 401  # signature missing


def test_required_header_values_are_never_stored_nor_shown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = kw.MemoryStore()
    vendor = kw.Idenfy(required_headers={"X-Webhook-Token": "tok-123456"})
    receiver = kw.Receiver(vendor, store=store)
    with caplog.at_level(logging.DEBUG):
        refused = receiver.handle(_idenfy_body(), _custom(**{"X-Webhook-Token": "tok-1234567"}))
        outcome = receiver.handle(_idenfy_body(), _custom(**{"X-Webhook-Token": "tok-123456"}))
    assert refused.status_code == 401
    assert "X-Webhook-Token" in caplog.text
    assert "tok-123456" not in caplog.text
    assert outcome.status_code == 200
    (record,) = store.deliveries()
    names = {name.lower() for name, _ in record.headers}
    assert "x-webhook-token" not in names
    assert "idenfy-event-type" in names
    assert "x-webhook-token" in vendor.auth_headers
    assert "tok-123456" not in repr(vendor)
    assert "tok-123456" not in repr(outcome) + json.dumps(outcome.response_body())


def _validator(expected: str, calls: list[str]) -> Callable[[str], bool]:
    def check(token: str) -> bool:
        calls.append(token)
        return token == expected

    return check


def test_bearer_validator_accepts_what_it_approves() -> None:
    calls: list[str] = []
    vendor = kw.Idenfy(bearer_validator=_validator("oauth-token-1", calls))
    body = _idenfy_body()
    assert _status(vendor, body, _custom(Authorization="Bearer oauth-token-1")) == 200
    assert _status(vendor, body, _custom(Authorization="bearer \toauth-token-1 ")) == 200
    assert calls == ["oauth-token-1", "oauth-token-1"]
    assert "authorization" in vendor.auth_headers
    assert _status(vendor, body, _custom(Authorization="Bearer oauth-token-2")) == 401
    assert calls[-1] == "oauth-token-2"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("Bearer", id="no-token"),
        pytest.param("Bearer   ", id="blank-token"),
        pytest.param("Basic b2F1dGg=", id="basic-scheme"),
        pytest.param("oauth-token-1", id="no-scheme"),
        pytest.param("Bearer\u00a0oauth-token-1", id="nbsp-separator"),
        pytest.param("Bearer oauth-tokén", id="non-ascii"),
    ],
)
def test_bearer_validator_is_not_called_for_a_missing_or_malformed_header(
    value: str | None,
) -> None:
    calls: list[str] = []
    vendor = kw.Idenfy(bearer_validator=_validator("oauth-token-1", calls))
    headers = _custom() if value is None else _custom(Authorization=value)
    with pytest.raises(kw.AuthenticationError):
        vendor.parse(_idenfy_body(), headers)
    assert calls == []


@pytest.mark.parametrize("result", [False, None, 1, "yes", [True]], ids=repr)
def test_bearer_validator_anything_but_true_is_refused(result: object) -> None:
    vendor = kw.Idenfy(bearer_validator=lambda token: result)  # type: ignore[arg-type,return-value]
    assert _status(vendor, _idenfy_body(), _custom(Authorization="Bearer t")) == 401


def test_bearer_validator_exception_fails_closed_without_leaking_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(token: str) -> bool:
        raise RuntimeError(f"token {token} not found at the OAuth server")

    vendor = kw.Idenfy(bearer_validator=explode)
    headers = _custom(Authorization="Bearer leaky-token-987")
    with pytest.raises(kw.AuthenticationError) as info:
        vendor.parse(_idenfy_body(), headers)
    error = info.value
    assert "leaky-token-987" not in str(error)
    assert "RuntimeError" in str(error)
    assert error.__cause__ is None
    assert error.__context__ is None
    with caplog.at_level(logging.DEBUG):
        outcome = kw.Receiver(vendor).handle(_idenfy_body(), headers)  # never raises
    assert outcome.status_code == 401
    assert "leaky-token-987" not in repr(outcome) + json.dumps(outcome.response_body())
    assert "RuntimeError" in caplog.text  # the refusal is logged, the token is not
    assert "leaky-token-987" not in caplog.text


def test_bearer_validator_together_with_the_signing_key() -> None:
    key = SECRETS["idenfy"]
    vendor = kw.Idenfy(signing_key=key, bearer_validator=lambda token: token == "ok")
    body, signed = testing.signed_delivery("idenfy", IDENFY_TYPE, key)
    assert _status(vendor, body, {**signed, "Authorization": "Bearer ok"}) == 200
    assert _status(vendor, body, {**signed, "Authorization": "Bearer no"}) == 401
    assert _status(vendor, body, signed) == 401
    unsigned = {k: v for k, v in signed.items() if k != "Idenfy-Signature"}
    assert _status(vendor, body, {**unsigned, "Authorization": "Bearer ok"}) == 401


def test_an_async_or_non_callable_bearer_validator_is_a_configuration_error() -> None:
    async def check(token: str) -> bool:
        return True

    with pytest.raises(kw.ConfigurationError, match="async"):
        kw.Idenfy(bearer_validator=check)  # type: ignore[arg-type]
    with pytest.raises(kw.ConfigurationError, match="function"):
        kw.Idenfy(bearer_validator="token")  # type: ignore[arg-type]


NO_CREDENTIAL: dict[str, tuple[Callable[[], object], tuple[str, ...]]] = {
    "idenfy": (
        lambda: kw.Idenfy(),
        ("signing_key", "required_headers", "bearer_validator", "Settings", "System notifications"),
    ),
    "complycube": (lambda: kw.ComplyCube(), ("secret=", "webhook", "created")),
    "yoti": (lambda: kw.Yoti(), ("auth_token=", "notifications.auth_token", "optional")),
    "identomat": (lambda: kw.Identomat(), ("api_key=", "Callback API key", "Company settings")),
}


@pytest.mark.parametrize("name", VENDORS)
def test_a_vendor_without_any_credential_says_which_and_where(name: str) -> None:
    build, words = NO_CREDENTIAL[name]
    with pytest.raises(kw.ConfigurationError) as info:
        build()
    for word in words:
        assert word in str(info.value), word


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"signing_key": None}, id="signing_key-none"),
        pytest.param({"signing_key": ""}, id="signing_key-empty"),
        pytest.param({"signing_key": []}, id="signing_key-empty-list"),
        pytest.param({"required_headers": {}}, id="headers-empty"),
        pytest.param({"required_headers": {"X-Token": ""}}, id="value-empty"),
        pytest.param({"required_headers": {"X-Token": " \t"}}, id="value-blank"),
        pytest.param({"required_headers": {"X-Token": []}}, id="values-empty"),
        pytest.param({"required_headers": {"X-Token": ["a", ""]}}, id="one-value-empty"),
        pytest.param({"required_headers": {"": "v"}}, id="name-empty"),
        pytest.param({"required_headers": {"X Token": "v"}}, id="name-with-space"),
        # Valid HTTP, but WSGI rewrites it (X_Token -> X-Token) and nginx/gunicorn drop it:
        # behind Flask or Django every delivery would be a 401 (review R30).
        pytest.param({"required_headers": {"X_Webhook_Token": "v"}}, id="name-with-underscore"),
        pytest.param({"required_headers": {"X-Token": "é"}}, id="value-non-ascii"),
        pytest.param({"required_headers": {"X-Token": "a", "x-token": "b"}}, id="name-twice"),
        pytest.param({"required_headers": [("X-Token", "v")]}, id="not-a-mapping"),
        pytest.param({"required_headers": {"Idenfy-Signature": "v"}}, id="signature-header"),
        pytest.param({"required_headers": {"Idenfy-Event-Type": "v"}}, id="event-type-header"),
        pytest.param(
            {"required_headers": {"Authorization": "Bearer x"}, "bearer_validator": bool},
            id="authorization-twice",
        ),
        pytest.param({"signing_key": "k", "required_headers": {}}, id="key-and-empty-headers"),
    ],
)
def test_empty_or_invalid_idenfy_credentials_are_configuration_errors(
    kwargs: dict[str, Any],
) -> None:
    with pytest.raises(kw.ConfigurationError) as info:
        kw.Idenfy(**kwargs)
    assert "é" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("complycube", {"secret": ""}),
        ("complycube", {"secret": []}),
        ("yoti", {"auth_token": ""}),
        ("yoti", {"auth_token": []}),
        ("identomat", {"api_key": ""}),
        ("identomat", {"api_key": []}),
    ],
)
def test_empty_credentials_of_other_vendors_are_configuration_errors(
    name: str, kwargs: dict[str, Any]
) -> None:
    cls = getattr(kw, {"complycube": "ComplyCube", "yoti": "Yoti", "identomat": "Identomat"}[name])
    with pytest.raises(kw.ConfigurationError):
        cls(**kwargs)


def test_yoti_basic_credentials_with_other_whitespace_inside_base64_are_refused() -> None:
    body, _ = testing.signed_delivery("yoti", "session_completion", SECRETS["yoti"])
    token = base64.b64encode(SECRETS["yoti"].encode()).decode()
    receiver = kw.Receiver(_vendor("yoti"))
    assert receiver.handle(body, {"Authorization": f"Basic {token}"}).status_code == 200
    bad = f"Basic {token[:4]}\x0b{token[4:]}"
    assert receiver.handle(body, {"Authorization": bad}).status_code == 401


def test_identomat_bounds_the_read_of_an_unauthenticated_body() -> None:
    """Identomat's key is inside the body, so authentication reads it -- bounded like every read
    of a body: a body of more than MAX_JSON_OBJECTS objects is refused before the decode (it
    cost ~40 ms a request, review R28). Its key unread, it is not authenticated: a 401, whatever
    key it holds. It was a PayloadError (400, "the authenticated body is malformed"), and
    ``kyc-webhooks verify`` called a forged one authentic."""
    from kyc_webhooks._validation import MAX_JSON_OBJECTS

    filler = b",".join([b"{}"] * (MAX_JSON_OBJECTS + 1))
    for key in ("k-ident", "wrong"):
        body = b'{"callbackApiKey": "%s", "x": [%s]}' % (key.encode(), filler)
        with pytest.raises(
            kw.AuthenticationError,
            match=r"cannot read callbackApiKey: .* more than 20000 JSON objects",
        ):
            kw.Identomat(api_key="k-ident").parse(body, {})
        receiver = kw.Receiver(kw.Identomat(api_key="k-ident"))
        assert receiver.handle(body, {}).status_code == 401


# -- review R39 ---------------------------------------------------------------------------------


def test_a_required_headers_failure_does_not_say_which_header_failed() -> None:
    """The 401 named the first wrong header: when the name moved from the first to the second,
    the first was right -- each value could be guessed on its own."""
    vendor = kw.Idenfy(required_headers={"X-Client-Id": "id-7", "X-Client-Secret": "s3cret"})
    receiver = kw.Receiver(vendor)
    messages = set()
    for client_id in ("id-1", "id-7"):
        outcome = receiver.handle(
            _idenfy_body(), _custom(**{"X-Client-Id": client_id, "X-Client-Secret": "wrong"})
        )
        assert outcome.status_code == 401
        assert outcome.error is not None
        messages.add(json.dumps(outcome.response_body()))
    assert len(messages) == 1
    (message,) = messages
    assert "X-Client-Id, X-Client-Secret" in message  # every configured name, in order
    right = _custom(**{"X-Client-Id": "id-7", "X-Client-Secret": "s3cret"})
    assert receiver.handle(_idenfy_body(), right).status_code == 200


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: kw.Idenfy(signing_key="k\udcff"), "not valid text"),
        (lambda: kw.ComplyCube(secret="\u00a0"), "must not be empty"),
        (lambda: kw.Identomat(api_key="\u3000"), "must not be empty"),
        (lambda: kw.Yoti(auth_token="tok ", auth_type="bearer"), "without spaces"),
        # A secret file's or a Kubernetes secret's last newline: 401 on every delivery.
        (lambda: kw.Idenfy(signing_key="key\n"), "whitespace around it"),
        (lambda: kw.ComplyCube(secret=["old", " new"]), "whitespace around it"),
        (lambda: kw.Identomat(api_key="key\r\n"), "whitespace around it"),
        (lambda: kw.Idenfy(signing_key=b"key\n"), "whitespace around it"),
        (lambda: kw.Yoti(auth_token="a,b", auth_type="bearer"), "without spaces or commas"),
    ],
)
def test_a_credential_no_delivery_could_match_is_a_configuration_error(
    build: Callable[[], object], match: str
) -> None:
    """A lone surrogate (an environment variable of bytes that are not UTF-8) escaped as a raw
    UnicodeEncodeError holding the whole secret; a secret of only no-break or ideographic spaces
    was accepted; a Yoti bearer token with a space was accepted and could never match."""
    with pytest.raises(kw.ConfigurationError, match=match) as caught:
        build()
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None  # the codec's error would hold the whole secret
    kw.Yoti(auth_token="user:pass-with:colons", auth_type="bearer")  # any visible ASCII


def test_two_authorization_headers_joined_by_a_server_never_reach_the_bearer_validator() -> None:
    """WSGI servers and Django join repeated headers with ", ": the iDenfy ``bearer_validator``
    got ``"good, Bearer evil"``, and a validator reading a prefix accepted it."""
    seen: list[str] = []

    def lenient(token: str) -> bool:
        seen.append(token)
        return token.startswith("good")

    vendor = kw.Idenfy(bearer_validator=lenient)
    joined = _custom(Authorization="Bearer good, Bearer evil")
    assert _status(vendor, _idenfy_body(), joined) == 401
    assert seen == []
    assert _status(vendor, _idenfy_body(), _custom(Authorization="Bearer good-token")) == 200
    assert seen == ["good-token"]


def test_a_header_named_like_a_credential_is_stored_redacted() -> None:
    """Headers the vendor does not authenticate with were stored as sent: an API gateway's
    ``X-Api-Key``, a proxy's ``X-Auth-Token`` sat in the inbox in plain text, and ``forget`` and
    ``erase`` keep headers (review R40). Their values are stored as ``<redacted>``; the names stay,
    and so does every other header (the event type, which reprocessing reads)."""
    store = kw.MemoryStore()
    receiver = kw.Receiver(kw.Idenfy(signing_key=SECRETS["idenfy"]), store=store)
    body, headers = testing.signed_delivery("idenfy", IDENFY_TYPE, SECRETS["idenfy"])
    extra = {
        "X-Api-Key": "gw-key-1",
        "X-Auth-Token": "proxy-tok-2",
        "X-Session-Id": "sess-3",
        "X-Amzn-Oidc-Data": "eyJ.oidc.5",
        "X-Jwt-Assertion": "eyJ.jwt.6",
        "X-Request-Id": "req-4",
    }
    assert receiver.handle(body, {**headers, **extra}).status_code == 200
    (record,) = store.deliveries()
    stored = dict(record.headers)
    redacted = [name for name, value in stored.items() if value == "<redacted>"]
    assert sorted(redacted) == [
        "x-amzn-oidc-data",
        "x-api-key",
        "x-auth-token",
        "x-jwt-assertion",
        "x-session-id",
    ]
    assert stored["x-request-id"] == "req-4"
    assert stored["idenfy-event-type"] == IDENFY_TYPE
    assert receiver.replay(record.id).status_code == 200  # reparsed from what was stored


# -- credentials that cannot be a secret (this session's audit) ---------------------------------


@pytest.mark.parametrize(
    ("header", "value", "message"),
    [
        ("Authorization", "Bearer ", "an auth scheme without credentials"),
        ("Proxy-Authorization", "basic", "an auth scheme without credentials"),
        ("Authorization", "Token", "an auth scheme without credentials"),
        ("Authorization", "Bearer None", "an auth scheme without credentials"),
        ("Authorization", "bearer  null", "an auth scheme without credentials"),
        ("X-Token", "tok\n", "without control characters, line breaks included"),
        ("X-Token", "tok\r\n", "without control characters, line breaks included"),
        ("X-Token", "to\x00k", "without control characters, line breaks included"),
        ("X-Token", "tok\x7f", "without control characters, line breaks included"),
    ],
    ids=[
        *("bearer-alone", "basic-alone", "token-alone", "bearer-none", "bearer-null"),
        *("lf", "crlf", "nul", "del"),
    ],
)
def test_a_required_header_value_that_no_request_carries_or_anyone_can_send_is_refused(
    header: str, value: str, message: str
) -> None:
    """``f"Bearer {os.getenv('TOKEN', '')}"`` trimmed to the scheme alone was accepted, and a
    forged ``Authorization: Bearer`` then authenticated any body (200); a value with a line
    break (a secret file's last newline) was accepted and refused every delivery (401)."""
    with pytest.raises(kw.ConfigurationError, match=message) as raised:
        kw.Idenfy(required_headers={header: ["good-value", value]})
    assert "None" not in str(raised.value)
    assert "tok" not in str(raised.value)


def test_header_values_that_are_credentials_are_still_accepted() -> None:
    vendor = kw.Idenfy(
        required_headers={
            "Authorization": ["Bearer a b", "raw-token", "Bearer None-of-yours"],
            "X-Scheme": "Bearer",
        }
    )
    receiver = kw.Receiver(vendor)
    body = b'{"scanRef": "s", "clientId": "c", "final": true, "status": {"overall": "APPROVED"}}'
    headers = {"Authorization": "raw-token", "X-Scheme": "Bearer", "Idenfy-Event-Type": "x"}
    assert receiver.handle(body, headers).status_code == 200
    assert receiver.handle(body, {**headers, "Authorization": "Bearer"}).status_code == 401


@pytest.mark.parametrize("token", [":", "user:", "webhooks-user :  "])
def test_a_basic_yoti_token_with_an_empty_password_is_refused(token: str) -> None:
    """``f"{user}:{password}"`` with the password unset: the user name alone, sent in the clear
    by anyone who knows it, authenticated a forged ``Authorization: Basic`` (200)."""
    with pytest.raises(kw.ConfigurationError, match="has an empty password"):
        kw.Yoti(auth_token=["user:pass", token])


@pytest.mark.parametrize("token", [":pass", "api-key-as-the-user-name-7f3a:", "user:pass\n"])
def test_basic_yoti_tokens_that_hold_a_secret_are_accepted(token: str) -> None:
    """The password alone; an API key as the user name with no password (Stripe's style); a
    token read with its newline on both sides (yours: Yoti sends it back as it got it)."""
    receiver = kw.Receiver(kw.Yoti(auth_token=token))
    body, headers = testing.signed_delivery("yoti", "session_completion", token)
    assert receiver.handle(body, headers).status_code == 200
