"""The behaviour every framework adapter must show, written once.

Each ``tests/test_integration_<framework>.py`` subclasses :class:`AdapterContract` and supplies a
:class:`Client` that drives the adapter through that framework's own test client. Deliveries are
signed with :func:`kyc_webhooks.testing.sign` exactly as each vendor signs them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

import kyc_webhooks as kw
from kyc_webhooks.testing import sign

IDENFY_KEY = "idenfy-test-signing-key"
COMPLYCUBE_SECRET = "complycube-test-secret"
YOTI_TOKEN = "yoti-notify-user:yoti-notify-pass"
IDENTOMAT_KEY = "identomat-callback-api-key"
SECRETS: dict[str, str] = {
    "idenfy": IDENFY_KEY,
    "complycube": COMPLYCUBE_SECRET,
    "yoti": YOTI_TOKEN,
    "identomat": IDENTOMAT_KEY,
}
VENDORS: tuple[str, ...] = tuple(SECRETS)

#: One realistic delivery per vendor: (payload, iDenfy event type header, expected event_type).
PAYLOADS: dict[str, tuple[dict[str, Any], str | None, str]] = {
    "idenfy": (
        {
            "final": True,
            "platform": "MOBILE_APP",
            "status": {"overall": "APPROVED", "autoDocument": "DOC_VALIDATED"},
            "data": {
                "docFirstName": "Jūratė",
                "docLastName": "Žemaitytė",
                "docNumber": "LT9876543",
                "docDob": "1990-04-17",
            },
            "scanRef": "3af0fd8c-1f1e-11ee-9c3a-0242ac120002",
            "clientId": "customer-2041",
            "startTime": 1700000000,
            "finishTime": 1700000420,
        },
        "IDENTIFICATION_AUTO_FINISHED",
        "IDENTIFICATION_AUTO_FINISHED",
    ),
    "complycube": (
        {
            "id": "5ed170fe99c81a0007b9a3d3",
            "type": "check.completed.clear",
            "resourceType": "check",
            "payload": {
                "id": "5ed16f9c99c81a0007b9a3c4",
                "status": "complete",
                "outcome": "clear",
                "createdAt": "2020-01-01T11:10:02.000Z",
                "updatedAt": "2020-01-01T11:14:23.000Z",
            },
            "createdAt": "2020-01-01T11:14:23.964Z",
        },
        None,
        "check.completed.clear",
    ),
    "yoti": (
        {"session_id": "c3a1d2b8-7f0e-4a8b-9e52-0c1f7d3b6a90", "topic": "session_completion"},
        None,
        "session_completion",
    ),
    "identomat": (
        {
            "type": "one-time-password-request",
            "sessionId": "ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp",
            "text": "Your code is 6867",
            "phoneNumber": "+995512345678",
        },
        None,
        "one-time-password-request",
    ),
}

#: Strings that must never appear in a response: every secret and the payloads' personal values.
NEVER_IN_RESPONSE: tuple[str, ...] = (
    *SECRETS.values(),
    "Jūratė",
    "Žemaitytė",
    "LT9876543",
    "1990-04-17",
    "customer-2041",
    "c3a1d2b8-7f0e-4a8b-9e52-0c1f7d3b6a90",
    "ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp",
    "6867",
    "+995512345678",
    "Traceback",
    "handler-secret-detail",
)


def leaked(markers: tuple[str, ...], text: str) -> list[str]:
    """The markers found in ``text``. A marker of digits only (an OTP code) counts only as a
    number of its own: inside a random hex id (``...c0f768676f...``) it is a coincidence."""
    found = []
    for marker in markers:
        if marker.isdigit():
            if re.search(rf"(?<![0-9A-Za-z]){marker}(?![0-9A-Za-z])", text):
                found.append(marker)
        elif marker in text:
            found.append(marker)
    return found


def delivery(vendor: str, secret: str | None = None) -> tuple[bytes, dict[str, str]]:
    """The signed ``(body, headers)`` of ``vendor``'s delivery in :data:`PAYLOADS`."""
    payload, event_type, _ = PAYLOADS[vendor]
    return sign(vendor, payload, secret or SECRETS[vendor], event_type=event_type)


def tampered(vendor: str) -> tuple[bytes, dict[str, str]]:
    """A delivery whose authentication must fail: altered body for the HMAC vendors (APPROVED
    turned into DENIED after signing), a wrong token (Yoti) or a wrong key (Identomat)."""
    if vendor in ("idenfy", "complycube"):
        body, headers = delivery(vendor)
        altered = body.replace(b"APPROVED", b"DENIED").replace(b'"clear"', b'"rejected"')
        assert altered != body
        return altered, headers
    return delivery(vendor, secret="attacker-guess")


def malformed(vendor: str) -> tuple[bytes, dict[str, str]]:
    """Truncated JSON, authenticated where the vendor authenticates apart from the body. Identomat's
    key is inside the body, so an unreadable body cannot be authenticated (401, not 400)."""
    truncated = b'{"scanRef": "x", "session_id": "s", "topic": '
    if vendor == "identomat":
        return truncated, {"Content-Type": "application/json"}
    _, event_type, _ = PAYLOADS[vendor]
    return sign(vendor, truncated, SECRETS[vendor], event_type=event_type)


#: The JSON 500 of an endpoint whose receiver raised UsageError (an integrator's mistake).
MISCONFIGURED_BODY = {
    "ok": False,
    "error": "UsageError",
    "detail": "the webhook endpoint is misconfigured; see the server log",
}


@dataclass
class Result:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)

    def assert_safe(self) -> None:
        text = self.body.decode("utf-8", "replace")
        assert leaked(NEVER_IN_RESPONSE, text) == [], "the response leaks"


class Client:
    """What a test file implements on top of its framework's test client."""

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> Result:
        raise NotImplementedError

    def request(self, method: str, path: str) -> Result:
        raise NotImplementedError

    def post_undeclared(self, path: str, body: bytes, headers: Mapping[str, str]) -> Result:
        """POST ``body`` without a ``Content-Length`` (chunked, streamed)."""
        raise NotImplementedError


def _httpx_result(response: httpx.Response) -> Result:
    return Result(
        response.status_code,
        response.content,
        {k.lower(): v for k, v in response.headers.items()},
    )


async def _chunks(body: bytes, size: int = 256) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


class HttpxClient(Client):
    """Any ASGI app (FastAPI included) through ``httpx.ASGITransport``. (Starlette's TestClient
    warns ``StarletteDeprecationWarning`` with plain httpx installed; it runs this transport's
    job in a thread and adds nothing these tests need.)"""

    def __init__(self, app: Any, root_path: str = "") -> None:
        self.app = app
        self.root_path = root_path

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, root_path=self.root_path)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                return await c.request(method, path, **kwargs)

        return asyncio.run(go())

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> Result:
        return _httpx_result(self.send("POST", path, content=body, headers=dict(headers)))

    def request(self, method: str, path: str) -> Result:
        return _httpx_result(self.send(method, path))

    def post_undeclared(self, path: str, body: bytes, headers: Mapping[str, str]) -> Result:
        # An async generator body goes out chunked: no Content-Length header.
        response = self.send("POST", path, content=_chunks(body), headers=dict(headers))
        assert "content-length" not in response.request.headers
        return _httpx_result(response)


@dataclass
class Recorder:
    """A receiver for all four vendors with a catch-all handler that records what it saw."""

    max_body_size: int = kw.DEFAULT_MAX_BODY_SIZE
    fail: bool = False
    use_async: bool = False
    seen: list[kw.WebhookEvent] = field(default_factory=list)
    receiver: kw.Receiver = field(init=False)

    def __post_init__(self) -> None:
        self.receiver = kw.Receiver(
            kw.Idenfy(signing_key=IDENFY_KEY),
            kw.ComplyCube(secret=COMPLYCUBE_SECRET),
            kw.Yoti(auth_token=YOTI_TOKEN),
            kw.Identomat(api_key=IDENTOMAT_KEY),
            max_body_size=self.max_body_size,
        )
        if self.use_async:

            @self.receiver.on()
            async def record_async(event: kw.WebhookEvent) -> None:
                self._record(event)

        else:

            @self.receiver.on()
            def record(event: kw.WebhookEvent) -> None:
                self._record(event)

    def _record(self, event: kw.WebhookEvent) -> None:
        self.seen.append(event)
        if self.fail:
            raise RuntimeError("handler-secret-detail " + event.raw_body.decode())


def route(vendor: str, style: str) -> str:
    return f"/webhooks/{vendor}" if style == "vendor-route" else "/webhooks"


class AdapterContract:
    """Subclass per framework and implement :meth:`client`."""

    #: Whether the adapter awaits ``async def`` handlers (``receiver.handle_async``).
    awaits_handlers = False

    def client(self, recorder: Recorder) -> Client:
        raise NotImplementedError

    @pytest.mark.parametrize("path", ["/webhooks/", "/webhooks/complycube/"])
    def test_trailing_slash_is_accepted(self, path: str) -> None:
        recorder = Recorder()
        result = self.client(recorder).post(path, *delivery("complycube"))
        assert result.status == 200
        assert [e.vendor for e in recorder.seen] == ["complycube"]

    def test_async_handler_is_refused_when_the_adapter_is_built(self) -> None:
        recorder = Recorder(use_async=True)
        if self.awaits_handlers:
            self.client(recorder)  # fine: the adapter awaits it
            return
        with pytest.raises(kw.ConfigurationError, match="record_async"):
            self.client(recorder)

    def test_async_handler_registered_later_is_a_json_500_and_one_log_line(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        recorder = Recorder()
        client = self.client(recorder)
        awaited: list[str] = []

        @recorder.receiver.on("complycube")
        async def late_async_handler(event: kw.WebhookEvent) -> None:
            awaited.append(event.event_type)

        with caplog.at_level(logging.INFO, logger="kyc_webhooks"):
            result = client.post("/webhooks/complycube", *delivery("complycube"))
        lines = [r for r in caplog.records if r.name == "kyc_webhooks"]
        assert len(lines) == 1, [r.getMessage() for r in lines]
        if self.awaits_handlers:
            assert result.status == 200
            assert awaited == [PAYLOADS["complycube"][2]]
            return
        assert result.status == 500
        assert result.headers["content-type"].startswith("application/json")
        assert result.json() == MISCONFIGURED_BODY
        assert lines[0].levelno == logging.ERROR
        assert "late_async_handler" in lines[0].getMessage()
        assert recorder.seen == []
        assert awaited == []
        result.assert_safe()

    def test_usage_error_while_handling_is_a_json_500_on_every_adapter(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        # The receiver raises UsageError (an integrator's mistake) on purpose; every adapter
        # answers it the same way -- the async ones let it escape to the server (review R30).
        recorder = Recorder()
        client = self.client(recorder)

        @recorder.receiver.on("complycube")
        def misusing_handler(event: kw.WebhookEvent) -> None:
            raise kw.UsageError("a misuse met inside a handler")

        with caplog.at_level(logging.INFO, logger="kyc_webhooks"):
            result = client.post("/webhooks/complycube", *delivery("complycube"))
        assert result.status == 500
        assert result.headers["content-type"].startswith("application/json")
        assert result.json() == MISCONFIGURED_BODY
        lines = [r for r in caplog.records if r.name == "kyc_webhooks"]
        assert [r.levelno for r in lines] == [logging.ERROR]
        result.assert_safe()

    @pytest.mark.parametrize("style", ["vendor-route", "auto-detect"])
    @pytest.mark.parametrize("vendor", VENDORS)
    def test_valid_delivery_is_handled(self, vendor: str, style: str) -> None:
        recorder = Recorder()
        result = self.client(recorder).post(route(vendor, style), *delivery(vendor))
        assert result.status == 200
        assert result.json() == {"ok": True}
        assert result.headers["content-type"].startswith("application/json")
        assert [(e.vendor, e.event_type) for e in recorder.seen] == [(vendor, PAYLOADS[vendor][2])]
        result.assert_safe()

    @pytest.mark.parametrize("style", ["vendor-route", "auto-detect"])
    @pytest.mark.parametrize("vendor", VENDORS)
    def test_tampered_delivery_is_401(self, vendor: str, style: str) -> None:
        recorder = Recorder()
        result = self.client(recorder).post(route(vendor, style), *tampered(vendor))
        assert result.status == 401
        assert result.json()["error"] == "AuthenticationError"
        assert recorder.seen == []
        result.assert_safe()

    @pytest.mark.parametrize(
        ("vendor", "status"),
        [("idenfy", 400), ("complycube", 400), ("yoti", 400), ("identomat", 401)],
        ids=["idenfy", "complycube", "yoti", "identomat-key-unreadable"],
    )
    def test_malformed_body(self, vendor: str, status: int) -> None:
        recorder = Recorder()
        result = self.client(recorder).post(route(vendor, "vendor-route"), *malformed(vendor))
        assert result.status == status
        assert result.json()["ok"] is False
        assert recorder.seen == []
        result.assert_safe()

    def test_undetectable_delivery_on_auto_route_is_400(self) -> None:
        result = self.client(Recorder()).post(
            "/webhooks", b'{"hello": "world"}', {"Content-Type": "application/json"}
        )
        assert result.status == 400
        assert result.json()["error"] == "UndetectableVendorError"

    @pytest.mark.parametrize("vendor", VENDORS)
    def test_oversized_by_content_length_is_413(self, vendor: str) -> None:
        recorder = Recorder(max_body_size=512)
        body, headers = delivery(vendor)
        padded = body[:-1] + b',"pad":"' + b"x" * 600 + b'"}'
        result = self.client(recorder).post(route(vendor, "vendor-route"), padded, headers)
        assert result.status == 413
        assert result.json()["error"] == "PayloadTooLargeError"
        assert recorder.seen == []
        result.assert_safe()
        # Refused by the adapter before the receiver saw it, and still counted (review R54).
        stats = recorder.receiver.stats()
        assert (stats["rejected"], stats["rejected_413"]) == (1, 1)

    @pytest.mark.parametrize("vendor", VENDORS)
    def test_oversized_streamed_body_is_413(self, vendor: str) -> None:
        recorder = Recorder(max_body_size=512)
        body, headers = delivery(vendor)
        padded = body[:-1] + b',"pad":"' + b"x" * 4000 + b'"}'
        result = self.client(recorder).post_undeclared(
            route(vendor, "vendor-route"), padded, headers
        )
        assert result.status == 413
        assert result.json()["error"] == "PayloadTooLargeError"
        assert recorder.seen == []
        assert recorder.receiver.stats()["rejected_413"] == 1

    def test_body_at_the_limit_is_accepted(self) -> None:
        body, headers = delivery("complycube")
        recorder = Recorder(max_body_size=len(body))
        result = self.client(recorder).post("/webhooks/complycube", body, headers)
        assert result.status == 200
        assert len(recorder.seen) == 1

    @pytest.mark.parametrize("vendor", VENDORS)
    def test_handler_exception_is_500_without_details(self, vendor: str) -> None:
        recorder = Recorder(fail=True)
        result = self.client(recorder).post(route(vendor, "vendor-route"), *delivery(vendor))
        assert result.status == 500
        assert result.json() == {
            "ok": False,
            "error": "HandlerError",
            "detail": "a handler failed; the delivery will be retried",
        }
        result.assert_safe()

    @pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "OPTIONS"])
    @pytest.mark.parametrize("path", ["/webhooks", "/webhooks/idenfy"])
    def test_other_methods_are_405(self, method: str, path: str) -> None:
        result = self.client(Recorder()).request(method, path)
        assert result.status == 405
        assert "POST" in result.headers["allow"]
        result.assert_safe()

    def test_unknown_vendor_in_url_is_404(self) -> None:
        recorder = Recorder()
        result = self.client(recorder).post("/webhooks/sumsub", *delivery("complycube"))
        assert result.status == 404
        assert recorder.seen == []


class AsyncAdapterContract(AdapterContract):
    """For adapters that run ``receiver.handle_async``: ``async def`` handlers are awaited."""

    awaits_handlers = True

    @pytest.mark.parametrize("style", ["vendor-route", "auto-detect"])
    @pytest.mark.parametrize("vendor", VENDORS)
    def test_async_handlers_are_awaited(self, vendor: str, style: str) -> None:
        recorder = Recorder(use_async=True)
        result = self.client(recorder).post(route(vendor, style), *delivery(vendor))
        assert result.status == 200
        assert [(e.vendor, e.event_type) for e in recorder.seen] == [(vendor, PAYLOADS[vendor][2])]
