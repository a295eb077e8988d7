"""The Flask adapter through Flask's own test client (contract: tests/_adapter_contract.py)."""

from __future__ import annotations

import io
from collections.abc import Mapping

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from _adapter_contract import AdapterContract, Client, Recorder, Result, delivery
from kyc_webhooks.integrations.flask import webhook_blueprint, webhook_view


def _result(response: TestResponse) -> Result:
    return Result(
        response.status_code,
        response.get_data(),
        {k.lower(): v for k, v in response.headers.items()},
    )


class FlaskClient(Client):
    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> Result:
        return _result(self.client.post(path, data=body, headers=dict(headers)))

    def request(self, method: str, path: str) -> Result:
        return _result(self.client.open(path, method=method))

    def post_undeclared(self, path: str, body: bytes, headers: Mapping[str, str]) -> Result:
        # No Content-Length; the server marks the stream as terminated (chunked upload).
        return _result(
            self.client.post(
                path,
                input_stream=io.BytesIO(body),
                headers={**headers, "Transfer-Encoding": "chunked"},
                environ_overrides={"wsgi.input_terminated": True},
            )
        )


class TestBlueprint(AdapterContract):
    def client(self, recorder: Recorder) -> Client:
        app = Flask(__name__)
        app.register_blueprint(webhook_blueprint(recorder.receiver))
        return FlaskClient(app)


class TestViewRules(AdapterContract):
    """``webhook_view`` added with ``add_url_rule`` and no ``methods=``: the view says POST."""

    def client(self, recorder: Recorder) -> Client:
        app = Flask(__name__)
        view = webhook_view(recorder.receiver)
        # Your own rules accept a trailing slash when you say so (Flask's default is strict).
        app.add_url_rule("/webhooks", "auto", view, strict_slashes=False)
        app.add_url_rule("/webhooks/<vendor>", "vendor", view, strict_slashes=False)
        return FlaskClient(app)


@pytest.mark.parametrize("vendor", ["idenfy", "yoti"])
def test_pinned_view_ignores_other_vendors_deliveries(vendor: str) -> None:
    recorder = Recorder()
    app = Flask(__name__)
    app.add_url_rule("/kyc/idenfy", "idenfy", webhook_view(recorder.receiver, vendor="idenfy"))
    result = FlaskClient(app).post("/kyc/idenfy", *delivery(vendor))
    assert result.status == (200 if vendor == "idenfy" else 401)
    assert len(recorder.seen) == (1 if vendor == "idenfy" else 0)


def test_app_wide_max_content_length_below_ours_answers_413() -> None:
    recorder = Recorder()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64
    app.register_blueprint(webhook_blueprint(recorder.receiver))
    result = FlaskClient(app).post("/webhooks/idenfy", *delivery("idenfy"))
    assert result.status == 413
    assert result.json()["error"] == "PayloadTooLargeError"


def test_app_wide_max_content_length_below_ours_caps_streamed_bodies_too() -> None:
    recorder = Recorder()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64
    app.register_blueprint(webhook_blueprint(recorder.receiver))
    result = FlaskClient(app).post_undeclared("/webhooks/yoti", *delivery("yoti"))
    assert result.status == 413
    assert recorder.seen == []


@pytest.mark.parametrize("room", [0, -1])
def test_streamed_body_at_the_app_wide_max_content_length(room: int) -> None:
    # Flask < 3.1 cannot raise a request's cap: Werkzeug cuts a streamed body at the app's
    # MAX_CONTENT_LENGTH without an error. A body one byte over it is a 413, not a cut body; one
    # that fits exactly is read whole.
    recorder = Recorder()
    body, headers = delivery("yoti")
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = len(body) + room
    app.register_blueprint(webhook_blueprint(recorder.receiver))
    result = FlaskClient(app).post_undeclared("/webhooks/yoti", body, headers)
    assert result.status == (200 if room == 0 else 413)
    assert len(recorder.seen) == (1 if room == 0 else 0)


def test_pinned_views_get_distinct_default_endpoint_names() -> None:
    recorder = Recorder()
    app = Flask(__name__)
    for vendor in ("idenfy", "yoti"):
        app.add_url_rule(f"/kyc/{vendor}", view_func=webhook_view(recorder.receiver, vendor=vendor))
    client = FlaskClient(app)
    assert client.post("/kyc/idenfy", *delivery("idenfy")).status == 200
    assert client.post("/kyc/yoti", *delivery("yoti")).status == 200
    assert [e.vendor for e in recorder.seen] == ["idenfy", "yoti"]


class _FailingInput(io.RawIOBase):
    """A server's input that fails mid-body (gunicorn's InvalidChunkSize on a bad chunk)."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: object) -> int:
        raise ValueError("Invalid chunk size: b'zz'")


def _posted(environ: dict[str, object], body: bytes | None = None) -> tuple[Result, Recorder]:
    recorder = Recorder()
    app = Flask(__name__)
    app.register_blueprint(webhook_blueprint(recorder.receiver))
    signed, headers = delivery("complycube")
    response = app.test_client().post(
        "/webhooks/complycube",
        data=signed if body is None else body,
        headers=dict(headers),
        environ_overrides=environ,
    )
    return _result(response), recorder


def test_a_body_shorter_than_its_content_length_is_the_client_gone_not_a_forgery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # gunicorn (wsgi.input_terminated) reads to EOF: a sender that went away mid-body left half a
    # body, verified and answered 401 "invalid signature" (or, cut after the whole body with a
    # Content-Length larger, handled and stored).
    signed, _ = delivery("complycube")
    for body in (signed[: len(signed) // 2], signed):
        environ = {"wsgi.input_terminated": True, "CONTENT_LENGTH": str(len(signed) + 50)}
        with caplog.at_level("DEBUG", logger="kyc_webhooks"):
            result, recorder = _posted(environ, body)
        assert (result.status, result.body) == (400, b"")
        assert recorder.seen == []
    assert "signature" not in caplog.text


def test_a_failing_server_input_is_a_bare_400_not_a_500() -> None:
    # gunicorn raises InvalidChunkSize from wsgi.input on a bad chunk size: it reached Flask,
    # which answered a 500 HTML page (a retry signal) and logged a traceback.
    result, recorder = _posted(
        {"wsgi.input": io.BufferedReader(_FailingInput()), "wsgi.input_terminated": True}
    )
    assert (result.status, result.body) == (400, b"")
    assert recorder.seen == []


def test_a_content_length_of_thousands_of_digits_is_413_not_a_500() -> None:
    # int() refuses over 4,300 digits: the ValueError reached Flask, a 500 HTML page.
    result, recorder = _posted({"CONTENT_LENGTH": "9" * 5000})
    assert result.status == 413
    assert result.json()["error"] == "PayloadTooLargeError"
    assert recorder.seen == []


@pytest.mark.parametrize("declared", ["12, 12", "-1", "abc", "1_0"])
def test_a_malformed_content_length_is_400_not_a_forged_signature(declared: str) -> None:
    # Werkzeug's dev server passes it on; Flask then reads no body, and the empty body was
    # verified: 401 "invalid signature". The docs' reference endpoint answers 400.
    result, recorder = _posted({"CONTENT_LENGTH": declared})
    assert result.status == 400
    assert result.json()["error"] == "PayloadError"
    assert recorder.seen == []
