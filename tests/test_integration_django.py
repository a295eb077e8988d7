"""The Django adapter through Django's own test clients, with CSRF checks enforced (contract:
tests/_adapter_contract.py). Settings are configured here, once, when no other test did it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import django
import pytest
from django.conf import settings

from _adapter_contract import (
    AdapterContract,
    AsyncAdapterContract,
    Client,
    Recorder,
    Result,
    delivery,
)

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="django-test-only-secret-key",
        ALLOWED_HOSTS=["testserver", "127.0.0.1"],
        ROOT_URLCONF=__name__,
        USE_TZ=True,
    )
    django.setup()

from django.test import AsyncClient, AsyncRequestFactory, override_settings
from django.test import Client as DjangoClient
from django.test.client import FakePayload
from django.urls import path, resolve

import kyc_webhooks as kw
from kyc_webhooks.integrations.django import async_webhook_view, webhook_urls, webhook_view

urlpatterns: list[Any] = []
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]


def _result(response: Any) -> Result:
    return Result(
        response.status_code,
        bytes(response.content),
        {k.lower(): v for k, v in response.headers.items()},
    )


def _split(headers: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    rest = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return headers.get("Content-Type", "application/octet-stream"), rest


class DjangoAdapterClient(Client):
    """Sync views through ``django.test.Client``, async views through ``AsyncClient``."""

    def __init__(self, view: Any, *, is_async: bool, urlpatterns: list[Any] | None = None) -> None:
        self.urlconf = ModuleType("webhook_urls")  # hashable, as Django's URL caches need
        if urlpatterns is None:
            urlpatterns = [path("webhooks", view), path("webhooks/<str:vendor>", view)]
        self.urlconf.urlpatterns = urlpatterns  # type: ignore[attr-defined]
        self.is_async = is_async

    def _call(self, method: str, target: str, body: bytes, headers: Mapping[str, str]) -> Result:
        content_type, rest = _split(headers)
        kwargs: dict[str, Any] = {"content_type": content_type, "headers": rest}
        with override_settings(ROOT_URLCONF=self.urlconf, MIDDLEWARE=MIDDLEWARE):
            if self.is_async:
                client = AsyncClient(enforce_csrf_checks=True)
                return _result(asyncio.run(client.generic(method, target, body, **kwargs)))
            return _result(
                DjangoClient(enforce_csrf_checks=True).generic(method, target, body, **kwargs)
            )

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> Result:
        return self._call("POST", path, body, headers)

    def request(self, method: str, path: str) -> Result:
        return self._call(method, path, b"", {})

    def post_undeclared(self, path: str, body: bytes, headers: Mapping[str, str]) -> Result:
        # As an ASGI server hands Django a chunked upload: the whole body, no Content-Length.
        scope = {
            "method": "POST",
            "path": path,
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "_body_file": FakePayload(body),
        }
        request = AsyncRequestFactory().request(**scope)
        assert "CONTENT_LENGTH" not in request.META
        match = resolve(path, urlconf=self.urlconf)
        response = match.func(request, **match.kwargs)
        if self.is_async:
            response = asyncio.run(response)
        return _result(response)


class TestSyncView(AdapterContract):
    """``webhook_urls(receiver)``: the sync view, trailing slash or not."""

    def client(self, recorder: Recorder) -> Client:
        urls = webhook_urls(recorder.receiver)
        return DjangoAdapterClient(None, is_async=False, urlpatterns=urls)


class TestAsyncView(AsyncAdapterContract):
    def client(self, recorder: Recorder) -> Client:
        urls = webhook_urls(recorder.receiver, use_async=True)
        return DjangoAdapterClient(None, is_async=True, urlpatterns=urls)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("prefix", ["webhooks", "/webhooks/"])
def test_webhook_urls_accept_a_trailing_slash_through_djangos_client(
    is_async: bool, prefix: str
) -> None:
    recorder = Recorder()
    urls = webhook_urls(recorder.receiver, prefix=prefix, use_async=is_async)
    client = DjangoAdapterClient(None, is_async=is_async, urlpatterns=urls)
    for target in ("/webhooks/complycube/", "/webhooks/complycube", "/webhooks/", "/webhooks"):
        assert client.post(target, *delivery("complycube")).status == 200, target
    assert client.post("/webhooks/complycube/extra", *delivery("complycube")).status == 404
    assert client.post("/webhooks/sumsub/", *delivery("complycube")).status == 404
    assert len(recorder.seen) == 4


def test_webhook_urls_under_include_and_named() -> None:
    from django.urls import include, reverse

    recorder = Recorder()
    urls = [path("api/", include(webhook_urls(recorder.receiver, prefix="kyc")))]
    client = DjangoAdapterClient(None, is_async=False, urlpatterns=urls)
    assert client.post("/api/kyc/yoti/", *delivery("yoti")).status == 200
    assert client.post("/api/kyc", *delivery("yoti")).status == 200
    urlconf = client.urlconf
    assert reverse("kyc_webhook_vendor", urlconf=urlconf, kwargs={"vendor": "yoti"}) == (
        "/api/kyc/yoti"
    )


def test_sync_view_is_refused_for_async_handlers_but_not_when_deferring() -> None:
    receiver = kw.Receiver(kw.Yoti(auth_token="u:p"))

    @receiver.on("yoti")
    async def on_yoti(event: kw.WebhookEvent) -> None: ...

    with pytest.raises(kw.ConfigurationError, match="on_yoti"):
        webhook_view(receiver)
    with pytest.raises(kw.ConfigurationError, match="on_yoti"):
        webhook_urls(receiver)
    webhook_urls(receiver, use_async=True)  # the async view awaits it
    deferring = kw.Receiver(kw.Yoti(auth_token="u:p"), store=kw.MemoryStore(), defer=True)
    deferring.on("yoti")(on_yoti)
    webhook_view(deferring)  # handlers run in process_pending_async, not in the view


@pytest.mark.parametrize("factory", [webhook_view, async_webhook_view], ids=["sync", "async"])
def test_pinned_view_refuses_other_vendors(factory: Any) -> None:
    recorder = Recorder()
    view = factory(recorder.receiver, vendor="yoti")
    client = DjangoAdapterClient(view, is_async=factory is async_webhook_view)
    assert client.post("/webhooks", *delivery("yoti")).status == 200
    assert client.post("/webhooks/idenfy", *delivery("yoti")).status == 200  # the pin wins
    assert client.post("/webhooks", *delivery("idenfy")).status == 401  # no Yoti credentials
    assert [e.vendor for e in recorder.seen] == ["yoti", "yoti"]


def test_the_test_client_enforces_csrf_so_exemption_is_what_lets_vendors_in() -> None:
    from django.http import HttpResponse

    def not_exempt(request: Any, **url_values: str) -> Any:
        return HttpResponse(b"{}", content_type="application/json")

    client = DjangoAdapterClient(not_exempt, is_async=False)
    assert client.post("/webhooks", *delivery("yoti")).status == 403


@pytest.mark.parametrize("factory", [webhook_view, async_webhook_view])
def test_the_views_are_exempt_from_login_required_middleware(factory: Any) -> None:
    # Django 5.1's LoginRequiredMiddleware reads this attribute (what @login_not_required sets):
    # without it every delivery is redirected to the login page (review R51). The app's own
    # URLs are tested behind the real middleware in tests/django_app.
    view = factory(Recorder().receiver)
    assert (view.csrf_exempt, view.login_required) == (True, False)


def _wsgi_environ(body_stream: Any, headers: Mapping[str, str], **extra: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/webhooks/idenfy",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "wsgi.input": body_stream,
        "wsgi.url_scheme": "http",
        "CONTENT_TYPE": headers.get("Content-Type", "application/json"),
        **{
            "HTTP_" + name.upper().replace("-", "_"): value
            for name, value in headers.items()
            if name.lower() != "content-type"
        },
        **extra,
    }


def test_a_body_shorter_than_its_content_length_is_the_client_gone_not_a_forgery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Review R60: under runserver a sender that went away mid-body left a short read: the half
    # body was verified and answered 401 "invalid Idenfy-Signature signature".
    import io

    from django.core.handlers.wsgi import WSGIRequest

    recorder = Recorder()
    view = webhook_view(recorder.receiver)
    body, headers = delivery("idenfy")
    environ = _wsgi_environ(
        io.BytesIO(body[: len(body) // 2]), headers, CONTENT_LENGTH=str(len(body))
    )
    with caplog.at_level("DEBUG", logger="kyc_webhooks"):
        response = view(WSGIRequest(environ), vendor="idenfy")
    assert response.status_code == 400
    assert response.content == b""
    assert "signature" not in caplog.text
    assert recorder.seen == []


@pytest.mark.parametrize("declared", ["280, 280", "-1", "abc"])
def test_a_malformed_content_length_is_400_not_a_forged_signature(declared: str) -> None:
    # runserver passes it on; Django then reads no body, and the empty body was verified: 401
    # "invalid signature". The docs' reference endpoint answers 400.
    import io
    import json

    from django.core.handlers.wsgi import WSGIRequest

    recorder = Recorder()
    view = webhook_view(recorder.receiver)
    body, headers = delivery("complycube")
    environ = _wsgi_environ(io.BytesIO(body), headers, CONTENT_LENGTH=declared)
    response = view(WSGIRequest(environ), vendor="complycube")
    assert response.status_code == 400
    assert json.loads(response.content)["error"] == "PayloadError"
    assert recorder.seen == []


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_chunked_body_under_wsgi_is_411_not_a_forged_signature(
    is_async: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # Django's WSGIRequest reads no body without CONTENT_LENGTH: the chunked delivery was
    # verified as b"" and answered 401 "invalid signature" (a forgery, to the operator). Django
    # runs the async view under WSGI too (KYC_WEBHOOKS["ASYNC"] behind gunicorn's sync workers).
    import io

    from asgiref.sync import async_to_sync
    from django.core.handlers.wsgi import WSGIRequest

    recorder = Recorder()
    view = (async_webhook_view if is_async else webhook_view)(recorder.receiver)

    def call(environ: dict[str, Any]) -> Any:
        request = WSGIRequest(environ)
        return (
            async_to_sync(view)(request, vendor="idenfy")
            if is_async
            else view(request, vendor="idenfy")
        )

    body, headers = delivery("idenfy")
    environ = _wsgi_environ(io.BytesIO(body), headers, HTTP_TRANSFER_ENCODING="chunked")
    with caplog.at_level("DEBUG", logger="kyc_webhooks"):
        response = call(environ)
    assert response.status_code == 411
    answer = json.loads(response.content)
    assert answer["error"] == "LengthRequired"
    assert "Content-Length" in answer["detail"]
    assert "signature" not in caplog.text
    assert "ASGI" in caplog.text  # the log says what to change
    assert recorder.seen == []
    # The same body with its length is handled; a GET is still 405 before any body check.
    declared = _wsgi_environ(io.BytesIO(body), headers, CONTENT_LENGTH=str(len(body)))
    assert call(declared).status_code == 200
    assert len(recorder.seen) == 1
    assert call({**environ, "REQUEST_METHOD": "GET"}).status_code == 405


def test_a_chunked_body_through_a_real_wsgi_server_is_411() -> None:
    # A real server on 127.0.0.1 (the stdlib's wsgiref, as runserver) in front of Django's own
    # WSGI handler: what a vendor sending Transfer-Encoding: chunked gets back.
    import http.client
    import socket
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from django.core.handlers.wsgi import WSGIHandler

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    recorder = Recorder()
    urlconf = ModuleType("wsgi_chunked_urls")
    urlconf.urlpatterns = webhook_urls(recorder.receiver)  # type: ignore[attr-defined]
    body, headers = delivery("idenfy")
    with override_settings(ROOT_URLCONF=urlconf, MIDDLEWARE=MIDDLEWARE):
        server = make_server("127.0.0.1", 0, WSGIHandler(), handler_class=Quiet)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            port = server.server_address[1]
            answers = []
            # The chunked request in one write: sent by http.client in several (headers, each
            # chunk, the last chunk), the rest met a server that had answered 411 and closed --
            # BrokenPipeError in the client, one run in four under load.
            lines = [f"{name}: {value}" for name, value in dict(headers).items()]
            head = "\r\n".join(
                ["POST /webhooks/idenfy HTTP/1.1", f"Host: 127.0.0.1:{port}", *lines]
            )
            raw = (
                f"{head}\r\nTransfer-Encoding: chunked\r\n\r\n{len(body):x}\r\n".encode()
                + body
                + b"\r\n0\r\n\r\n"
            )
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(raw)
                received = b""
                for _ in range(100):  # wsgiref closes the connection after its answer
                    data = sock.recv(65536)
                    if not data:
                        break
                    received += data
            status_line, _, rest = received.partition(b"\r\n")
            answers.append((int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]))
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                connection.request("POST", "/webhooks/idenfy", body, headers=dict(headers))
                answer = connection.getresponse()
                answers.append((answer.status, answer.read()))
            finally:
                connection.close()
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
    assert answers[0][0] == 411
    assert b"LengthRequired" in answers[0][1]
    assert answers[1][0] == 200
    assert len(recorder.seen) == 1
