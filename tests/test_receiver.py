"""Receiver behaviour that every vendor relies on: status mapping, routing order, async, errors."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

import kyc_webhooks as kw
from kyc_webhooks.idenfy import IdentificationEvent
from kyc_webhooks.testing import sign

KEY = "test-signing-key"


def delivery(
    payload: dict[str, Any] | None = None, event_type: str = "IDENTIFICATION_AUTO_FINISHED"
) -> tuple[bytes, dict[str, str]]:
    return sign(
        "idenfy",
        payload if payload is not None else {"scanRef": "scan-1", "clientId": "c1", "final": True},
        KEY,
        event_type=event_type,
    )


def make() -> kw.Receiver:
    return kw.Receiver(kw.Idenfy(signing_key=KEY))


def test_valid_delivery_runs_matching_handlers_in_registration_order() -> None:
    receiver = make()
    calls: list[str] = []

    @receiver.on("idenfy", "IDENTIFICATION_*")
    def first(event: kw.WebhookEvent) -> None:
        calls.append("first")

    @receiver.on("*")
    def catch_all(event: kw.WebhookEvent) -> None:
        calls.append("catch-all")

    @receiver.on("idenfy", "IDENTIFICATION_AUTO_FINISHED")
    def exact(event: kw.WebhookEvent) -> None:
        calls.append("exact")

    @receiver.on("idenfy", "DOCUMENT_*")
    def other(event: kw.WebhookEvent) -> None:
        calls.append("other")

    outcome = receiver.handle(*delivery())
    assert outcome.status_code == 200
    assert outcome.ok
    assert outcome.error is None
    assert outcome.vendor == "idenfy"
    assert outcome.event_type == "IDENTIFICATION_AUTO_FINISHED"
    assert isinstance(outcome.event, IdentificationEvent)
    assert outcome.handled == 3
    assert calls == ["first", "catch-all", "exact"]
    assert outcome.response_body() == {"ok": True}


def test_decorators_return_the_function_unchanged() -> None:
    receiver = make()

    def handler(event: kw.WebhookEvent) -> None:
        return None

    assert receiver.on("idenfy")(handler) is handler
    assert receiver.on_event(IdentificationEvent)(handler) is handler


def test_typed_registration_by_model_class() -> None:
    receiver = make()
    seen: list[str] = []

    @receiver.on_event(IdentificationEvent)
    def on_identification(event: IdentificationEvent) -> None:
        seen.append(event.scan_ref)

    @receiver.on_event(kw.UnknownEvent)
    def on_unknown(event: kw.UnknownEvent) -> None:
        seen.append("unknown:" + event.event_type)

    assert receiver.handle(*delivery()).handled == 1
    assert receiver.handle(*delivery({"x": 1}, event_type="BRAND_NEW_EVENT")).handled == 1
    assert seen == ["scan-1", "unknown:BRAND_NEW_EVENT"]


def test_unknown_event_type_is_200_and_reaches_catch_all_only() -> None:
    receiver = make()
    seen: list[kw.WebhookEvent] = []
    receiver.on("*")(seen.append)
    receiver.on("idenfy", "IDENTIFICATION*")(lambda e: pytest.fail("must not match"))
    outcome = receiver.handle(*delivery({"anything": {"nested": [1]}}, event_type="NEW_THING"))
    assert outcome.status_code == 200
    assert isinstance(outcome.event, kw.UnknownEvent)
    assert outcome.event.payload == {"anything": {"nested": [1]}}
    assert seen == [outcome.event]


def test_no_matching_handler_is_still_200() -> None:
    outcome = make().handle(*delivery())
    assert outcome.status_code == 200
    assert outcome.handled == 0


def test_handler_exception_is_500_with_cause_and_safe_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = make()

    @receiver.on("idenfy")
    def boom(event: kw.WebhookEvent) -> None:
        raise RuntimeError("database down")

    after: list[int] = []
    receiver.on("idenfy")(lambda e: after.append(1))
    with caplog.at_level(logging.ERROR, logger="kyc_webhooks"):
        outcome = receiver.handle(*delivery())
    assert outcome.status_code == 500
    assert isinstance(outcome.error, kw.HandlerError)
    assert isinstance(outcome.error.original, RuntimeError)
    assert outcome.error.__cause__ is outcome.error.original
    assert after == []  # the first failure stops the chain; the vendor retries the delivery
    body = outcome.response_body()
    assert body["error"] == "HandlerError"
    assert "database down" not in json.dumps(body)
    assert any("handler failed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_handler_failure_log_keeps_the_frames_but_not_the_message(
    caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    receiver = make()
    personal = "Jūratė Petrauskienė, passport ZX9912345"

    def find(name: str) -> None:
        raise KeyError(name)

    @receiver.on("idenfy")
    def update_account(event: kw.WebhookEvent) -> None:
        try:
            find(personal)
        except KeyError as exc:
            raise ValueError(f"cannot update account of {personal}") from exc

    with caplog.at_level(logging.DEBUG, logger="kyc_webhooks"):
        if mode == "sync":
            outcome = receiver.handle(*delivery())
        else:
            outcome = asyncio.run(receiver.handle_async(*delivery()))
    assert outcome.status_code == 500
    texts = [caplog.text]
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info is not None:
            texts.append(logging.Formatter().formatException(record.exc_info))
        if record.exc_text:
            texts.append(record.exc_text)
    text = "\n".join(texts)
    assert "Petrauskien" not in text
    assert "ZX9912345" not in text
    (line,) = [r.getMessage() for r in caplog.records if "handler failed" in r.getMessage()]
    assert "error=ValueError" in line
    assert "in update_account" in line  # the frames still locate the bug
    assert line.rstrip().endswith("ValueError")


@pytest.mark.parametrize(
    ("mutate", "status", "error"),
    [
        pytest.param(lambda b, h: (b + b" ", h), 401, kw.AuthenticationError, id="tampered"),
        pytest.param(
            lambda b, h: (b, {k: v for k, v in h.items() if k != "Idenfy-Signature"}),
            401,
            kw.AuthenticationError,
            id="missing-signature",
        ),
        pytest.param(lambda b, h: (b, {}), 400, kw.UndetectableVendorError, id="undetectable"),
        pytest.param(
            lambda b, h: (b"x" * (1024 * 1024 + 1), h),
            413,
            kw.PayloadTooLargeError,
            id="oversized",
        ),
    ],
)
def test_status_mapping(mutate: Any, status: int, error: type[Exception]) -> None:
    receiver = make()
    called: list[int] = []
    receiver.on("*")(lambda e: called.append(1))
    body, headers = mutate(*delivery())
    outcome = receiver.handle(body, headers)
    assert outcome.status_code == status
    assert isinstance(outcome.error, error)
    assert outcome.event is None
    assert called == []
    assert getattr(outcome.error, "status_code", None) == status
    with pytest.raises(error):
        receiver.parse(body, headers)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[1,2]", id="array"),
        pytest.param(b'"str"', id="string"),
        pytest.param(b'{"scanRef": 12}', id="wrong-type"),
        pytest.param(b'{"clientId": "c"}', id="missing-scanref"),
        pytest.param(b'{"scanRef": "\xff"}', id="non-utf8"),
        pytest.param(b'{"scanRef": "a"', id="truncated"),
        pytest.param(b"", id="empty"),
    ],
)
def test_malformed_authenticated_bodies_are_400(body: bytes) -> None:
    signed, headers = sign("idenfy", body, KEY, event_type="IDENTIFICATION")
    outcome = make().handle(signed, headers)
    assert outcome.status_code == 400
    assert isinstance(outcome.error, kw.PayloadError)
    assert outcome.vendor == "idenfy"
    assert outcome.error.__cause__ is None  # pydantic's message (with input values) is not chained
    assert outcome.error.__context__ is None


def test_payload_values_never_reach_error_messages() -> None:
    signed, headers = sign(
        "idenfy", {"scanRef": ["Jonas Jonaitis"]}, KEY, event_type="IDENTIFICATION"
    )
    outcome = make().handle(signed, headers)
    assert outcome.error is not None
    for text in (str(outcome.error), repr(outcome.error), repr(outcome), str(outcome)):
        assert "Jonas" not in text
    assert "scanRef" in str(outcome.error)


def test_max_body_size_is_configurable_and_checked_before_authentication() -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), max_body_size=10)
    body, _ = delivery()
    outcome = receiver.handle(body, {})  # no headers at all: size wins over detection
    assert outcome.status_code == 413
    for bad in (0, -1, 1.5, True):
        with pytest.raises(kw.ConfigurationError):
            kw.Receiver(kw.Idenfy(signing_key=KEY), max_body_size=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('{"scanRef": "a"}', id="str"),
        pytest.param({"scanRef": "a"}, id="dict"),
        pytest.param(None, id="none"),
    ],
)
def test_non_bytes_body_is_a_usage_error_with_hint(body: object) -> None:
    with pytest.raises(kw.UsageError, match="raw request body bytes"):
        make().handle(body, {})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        make().parse(body, {})  # type: ignore[arg-type]


def test_bytearray_and_memoryview_bodies_are_accepted() -> None:
    body, headers = delivery()
    assert make().handle(bytearray(body), headers).status_code == 200
    assert make().handle(memoryview(body), headers).status_code == 200


def test_headers_as_list_of_pairs_and_any_case() -> None:
    body, headers = delivery()
    pairs = [(k.upper(), v) for k, v in headers.items()]
    assert make().handle(body, pairs).status_code == 200


def test_pinned_vendor() -> None:
    body, headers = delivery()
    receiver = make()
    assert receiver.handle(body, headers, vendor="idenfy").status_code == 200
    not_configured = receiver.handle(body, headers, vendor="complycube")
    assert not_configured.status_code == 401
    assert isinstance(not_configured.error, kw.VendorNotConfiguredError)
    with pytest.raises(kw.ConfigurationError):
        receiver.handle(body, headers, vendor="idenfyy")


def test_detected_but_unconfigured_vendor_is_401() -> None:
    body, headers = delivery()
    receiver = kw.Receiver(kw.ComplyCube(secret="cc"))
    outcome = receiver.handle(body, headers)
    assert outcome.status_code == 401
    assert isinstance(outcome.error, kw.VendorNotConfiguredError)


def test_handle_refuses_async_handlers_before_running_any() -> None:
    receiver = make()
    ran: list[str] = []
    receiver.on("idenfy")(lambda e: ran.append("sync"))

    @receiver.on("idenfy")
    async def later(event: kw.WebhookEvent) -> None:
        ran.append("async")

    with pytest.raises(kw.UsageError, match="handle_async"):
        receiver.handle(*delivery())
    assert ran == []


def test_sync_handler_returning_a_coroutine_is_refused() -> None:
    receiver = make()

    async def work() -> None:
        return None

    receiver.on("idenfy")(lambda e: work())
    with pytest.raises(kw.UsageError, match="awaitable"):
        receiver.handle(*delivery())


def test_handle_async_awaits_async_and_calls_sync_handlers_in_order() -> None:
    receiver = make()
    calls: list[str] = []

    @receiver.on("idenfy")
    async def first(event: kw.WebhookEvent) -> None:
        await asyncio.sleep(0)
        calls.append("async")

    @receiver.on("*")
    def second(event: kw.WebhookEvent) -> None:
        calls.append("sync")

    outcome = asyncio.run(receiver.handle_async(*delivery()))
    assert outcome.status_code == 200
    assert outcome.handled == 2
    assert calls == ["async", "sync"]


def test_handle_async_maps_errors_like_handle() -> None:
    receiver = make()

    @receiver.on("idenfy")
    async def boom(event: kw.WebhookEvent) -> None:
        raise ValueError("x")

    body, headers = delivery()
    assert asyncio.run(receiver.handle_async(body, headers)).status_code == 500
    assert asyncio.run(receiver.handle_async(body + b"x", headers)).status_code == 401


def test_registering_after_first_dispatch_fails_loudly() -> None:
    receiver = make()
    receiver.handle(*delivery())
    with pytest.raises(kw.ConfigurationError, match="before the first delivery"):
        receiver.on("idenfy")(lambda e: None)


@pytest.mark.parametrize(
    ("vendor", "pattern"),
    [
        pytest.param("nope", "*", id="unknown-vendor"),
        pytest.param("", "*", id="empty-vendor"),
        pytest.param("idenfy", "", id="empty-pattern"),
    ],
)
def test_bad_registrations_are_configuration_errors(vendor: str, pattern: str) -> None:
    with pytest.raises(kw.ConfigurationError):
        make().on(vendor, pattern)(lambda e: None)


def test_non_callable_handler_is_rejected() -> None:
    with pytest.raises(kw.ConfigurationError):
        make().router.add(42)  # type: ignore[arg-type]


def test_receiver_configuration_errors() -> None:
    with pytest.raises(kw.ConfigurationError, match="twice"):
        kw.Receiver(kw.Idenfy(signing_key="a"), kw.Idenfy(signing_key="b"))
    with pytest.raises(kw.ConfigurationError):
        kw.Receiver("idenfy")  # type: ignore[arg-type]
    with pytest.raises(kw.ConfigurationError, match="signing_key"):
        kw.Idenfy(signing_key="")


def test_routers_compose_in_order() -> None:
    calls: list[str] = []
    a, b = kw.Router(), kw.Router()
    a.on("idenfy")(lambda e: calls.append("a"))
    b.on("*")(lambda e: calls.append("b"))
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), router=kw.Router(b, a))
    receiver.handle(*delivery())
    assert calls == ["b", "a"]


def test_one_log_line_per_delivery_without_personal_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = make()
    payload = {"scanRef": "scan-9", "clientId": "c", "data": {"docFirstName": "Žydrūnas"}}
    with caplog.at_level(logging.DEBUG, logger="kyc_webhooks"):
        outcome = receiver.handle(*delivery(payload))
        receiver.handle(*delivery(payload, event_type="IDENTIFICATION")[:1], {})
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert outcome.delivery_key is not None
    assert outcome.delivery_key in lines[0]
    assert "status=200" in lines[0]
    assert "duplicate=no delivery_id=-" in lines[0]
    assert "IDENTIFICATION_AUTO_FINISHED" in lines[0]
    assert "status=400" in lines[1]
    text = "\n".join(lines)
    assert "Žydrūnas" not in text
    assert KEY not in text


def test_vendor_repr_hides_secrets() -> None:
    text = repr(kw.Receiver(kw.Idenfy(signing_key=["s3cret-a", "s3cret-b"])).vendors)
    assert "s3cret" not in text
    assert "keys=2" in text


def test_vendor_headers_outrank_body_shapes_in_detection() -> None:
    receiver = kw.Receiver(
        kw.Idenfy(signing_key=KEY), kw.Yoti(auth_token="u:p"), kw.Identomat(api_key="ik")
    )
    # An iDenfy body that happens to carry Yoti- and Identomat-looking keys.
    payload = {"scanRef": "s", "session_id": "x", "topic": "y", "callbackApiKey": "z"}
    outcome = receiver.handle(*delivery(payload))
    assert outcome.status_code == 200
    assert outcome.vendor == "idenfy"


def test_two_body_shaped_vendors_are_ambiguous() -> None:
    receiver = kw.Receiver(kw.Yoti(auth_token="u:p"), kw.Identomat(api_key="ik"))
    body = b'{"session_id":"s","topic":"session_completion","callbackApiKey":"ik"}'
    outcome = receiver.handle(body, {})
    assert outcome.status_code == 400
    assert isinstance(outcome.error, kw.AmbiguousVendorError)


def test_log_line_shows_duplicates_and_delivery_id_with_a_store(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore())
    body, headers = delivery()
    with caplog.at_level(logging.INFO, logger="kyc_webhooks"):
        first = receiver.handle(body, headers)
        second = receiver.handle(body, headers)
    assert second.duplicate
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("delivery ")]
    assert f"duplicate=no delivery_id={first.delivery_id}" in lines[0]
    assert f"duplicate=yes delivery_id={first.delivery_id}" in lines[1]


def test_a_failing_handler_cannot_forge_a_log_line_from_the_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The handler-failure line wrote the event type and the delivery key as sent: a line break
    in a ComplyCube id (its delivery key) or in a Yoti topic (its event type) wrote a line of the
    sender's into the error log (review R28)."""
    cc_body = json.dumps(
        {"id": "5ed170fe99c81a0007b9a3d3\nCRITICAL forged", "type": "check.completed.clear"}
    ).encode()
    yoti_body = json.dumps({"session_id": "s-1", "topic": "x\ncritical forged by topic"}).encode()
    receiver = kw.Receiver(kw.ComplyCube(secret=KEY), kw.Yoti(auth_token=KEY))

    @receiver.on("*")
    def failing(event: kw.WebhookEvent) -> None:
        raise RuntimeError("boom")

    deliveries = [sign("complycube", cc_body, KEY), sign("yoti", yoti_body, KEY)]
    with caplog.at_level(logging.INFO, logger="kyc_webhooks"):
        outcomes = [receiver.handle(*d) for d in deliveries]
    assert [o.status_code for o in outcomes] == [500, 500]
    lines = [line for r in caplog.records for line in r.getMessage().splitlines()]
    assert not [line for line in lines if line.lower().startswith("critical")], lines
    failed = [r.getMessage() for r in caplog.records if "handler failed" in r.getMessage()]
    assert len(failed) == 2
    assert "event_type=x\\ncritical forged by topic" in failed[1]
    # A ComplyCube id that is not printable ASCII is left out of the key: the body's digest.
    assert outcomes[0].delivery_key is not None
    assert outcomes[0].delivery_key.startswith("complycube:sha256:")
    # A topic that only looks escaped (a backslash and an "n") is not written as the one above.
    caplog.clear()
    lookalike = json.dumps({"session_id": "s-2", "topic": "x\\ncritical forged by topic"})
    with caplog.at_level(logging.INFO, logger="kyc_webhooks"):
        assert receiver.handle(*sign("yoti", lookalike.encode(), KEY)).status_code == 500
    failed = [r.getMessage() for r in caplog.records if "handler failed" in r.getMessage()]
    assert "event_type=x\\\\ncritical forged by topic" in failed[0]
