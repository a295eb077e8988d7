"""The runnable examples, exercised as their users run them: every documented event type of
every vendor, signed with the secrets the examples read from the environment, posted to both the
per-vendor and the auto-detecting route; the handlers' decisions checked in the log, and the log
and responses checked for personal data.

Flask and FastAPI apps are imported here; the Django project runs in a subprocess through its
own ``manage.py`` and settings (Django settings are per process)."""

from __future__ import annotations

import base64
import importlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask

from _adapter_contract import NEVER_IN_RESPONSE, PAYLOADS, HttpxClient, Result, leaked, tampered
from kyc_webhooks import testing

REPO = Path(__file__).resolve().parent.parent
DJANGO_PROJECT = REPO / "examples" / "django_project"
ENV: dict[str, str] = {
    "IDENFY_SIGNING_KEY": "idenfy-test-signing-key",
    "COMPLYCUBE_SECRET": "complycube-test-secret",
    "YOTI_AUTH_TOKEN": "yoti-notify-user:yoti-notify-pass",
    "IDENTOMAT_API_KEY": "identomat-callback-api-key",
}
SECRET_OF = dict(zip(("idenfy", "complycube", "yoti", "identomat"), ENV.values(), strict=True))

#: Log lines the example handlers must write for the deliveries in PAYLOADS (no PII in them).
EXPECTED_LOG_LINES = (
    "decision vendor=idenfy reference=customer-2041 decision=approved",
    "decision vendor=complycube reference=5ed16f9c99c81a0007b9a3c4 decision=approved",
    "yoti session complete",
    "sms queued (17 characters)",
    "webhook vendor=identomat event_type=one-time-password-request",
    # An outcome ComplyCube adds later is still a typed check event, sent to manual review
    # (a failing handler would make ComplyCube retry and eventually disable the webhook).
    "decision vendor=complycube reference=5ed16f9c99c81a0007b9a3c5 decision=manual-review",
)

#: A check outcome this version does not know, on the route the ComplyCube handler listens to.
FUTURE_OUTCOME: dict[str, Any] = {
    **PAYLOADS["complycube"][0],
    "id": "5ed170fe99c81a0007b9a3ff",
    "type": "check.completed.needs_second_look",
    "payload": {
        "id": "5ed16f9c99c81a0007b9a3c5",
        "status": "complete",
        "outcome": "needs_second_look",
    },
}


def _every_sample() -> list[tuple[str, str]]:
    return [(v, e) for v in SECRET_OF for e in testing.event_types(v)]


def _requests() -> list[tuple[str, bytes, dict[str, str], int]]:
    """(path, body, headers, expected status) for one example run."""
    out: list[tuple[str, bytes, dict[str, str], int]] = []
    for vendor, (payload, event_type, _) in PAYLOADS.items():
        body, headers = testing.sign(vendor, payload, SECRET_OF[vendor], event_type=event_type)
        out.append((f"/webhooks/{vendor}", body, headers, 200))
        out.append(("/webhooks", body, headers, 200))
        out.append((f"/webhooks/{vendor}", *tampered(vendor), 401))
    body, headers = testing.sign("complycube", FUTURE_OUTCOME, SECRET_OF["complycube"])
    out.append(("/webhooks/complycube", body, headers, 200))
    for vendor, event_type in _every_sample():
        body, headers = testing.signed_delivery(vendor, event_type, SECRET_OF[vendor])
        out.append((f"/webhooks/{vendor}", body, dict(headers), 200))
    return out


#: Identifiers may be logged: the customer reference (iDenfy ``clientId``, the integrator's own id)
#: with the decision, Yoti's session id in the library's delivery key. Everything else personal
#: stays out of logs too -- Identomat's ``sessionId`` included, since it doubles as a token.
NEVER_IN_LOGS = tuple(
    m
    for m in NEVER_IN_RESPONSE
    if m not in ("customer-2041", "c3a1d2b8-7f0e-4a8b-9e52-0c1f7d3b6a90")
)


def _assert_no_personal_data(text: str, markers: tuple[str, ...] = NEVER_IN_RESPONSE) -> None:
    assert leaked(markers, text) == []


@pytest.fixture
def example_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(REPO))


def _fresh_import(name: str) -> ModuleType:
    # The examples build their receiver at import time, from the environment of this test.
    sys.modules.pop(name, None)
    return importlib.import_module(name)


class FlaskExampleClient:
    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> Result:
        response = self.client.post(path, data=body, headers=dict(headers))
        return Result(response.status_code, response.get_data())

    def get(self, path: str) -> int:
        return self.client.get(path).status_code


class AsgiExampleClient:
    def __init__(self, app: Any) -> None:
        self.client = HttpxClient(app)

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> Result:
        return self.client.post(path, body, headers)

    def get(self, path: str) -> int:
        return self.client.request("GET", path).status


def _client(module: ModuleType) -> FlaskExampleClient | AsgiExampleClient:
    app = module.app
    return FlaskExampleClient(app) if isinstance(app, Flask) else AsgiExampleClient(app)


@pytest.mark.usefixtures("example_env")
@pytest.mark.parametrize("module_name", ["examples.flask_app", "examples.fastapi_app"])
def test_example_app_handles_every_vendor(
    module_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = _client(_fresh_import(module_name))
    for path, body, headers, status in _requests():
        result = client.post(path, body, headers)
        assert (path, result.status) == (path, status)
        _assert_no_personal_data(result.body.decode())
    assert client.get("/webhooks/idenfy") == 405
    log_text = caplog.text
    for line in EXPECTED_LOG_LINES:
        assert line in log_text
    _assert_no_personal_data(log_text, NEVER_IN_LOGS)


@pytest.mark.usefixtures("example_env")
def test_fastapi_example_dependency_route() -> None:
    client = AsgiExampleClient(_fresh_import("examples.fastapi_app").app)
    payload, etype, _ = PAYLOADS["idenfy"]
    body, headers = testing.sign("idenfy", payload, ENV["IDENFY_SIGNING_KEY"], event_type=etype)
    result = client.post("/kyc/idenfy/verified", body, headers)
    assert result.status == 200
    assert result.json() == {"ok": True, "event_type": etype, "final": True}
    assert client.post("/kyc/idenfy/verified", *tampered("idenfy")).status == 401


@pytest.mark.usefixtures("example_env")
def test_idenfy_example_waits_for_final_results(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    client = _client(_fresh_import("examples.flask_app"))
    payload = {**PAYLOADS["idenfy"][0], "final": False}
    body, headers = testing.sign(
        "idenfy", payload, ENV["IDENFY_SIGNING_KEY"], event_type="IDENTIFICATION_AUTO_FINISHED"
    )
    assert client.post("/webhooks/idenfy", body, headers).status == 200
    assert "not final, waiting for the review" in caplog.text
    assert "decision vendor=idenfy" not in caplog.text


@pytest.mark.parametrize("module_name", ["examples.flask_app", "examples.fastapi_app"])
def test_example_refuses_to_start_without_secrets(
    module_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(REPO))
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("YOTI_AUTH_TOKEN")
    with pytest.raises(RuntimeError, match="YOTI_AUTH_TOKEN") as info:
        _fresh_import(module_name)
    assert ENV["IDENFY_SIGNING_KEY"] not in str(info.value)


# -- Django: manage.py shell in the example project --------------------------------------------

DJANGO_SCRIPT = """
import base64, json, os
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client(enforce_csrf_checks=True)
out = []
for path, body, headers in json.load(open(os.environ["KYC_EXAMPLE_REQUESTS"])):
    content_type = headers.pop("Content-Type", "application/octet-stream")
    response = client.post(path, base64.b64decode(body), content_type=content_type, headers=headers)
    out.append([response.status_code, response.content.decode()])
out.append([client.get("/webhooks/idenfy").status_code, ""])
print("RESULTS " + json.dumps(out))
"""


def _django_path(path: str) -> str:
    """The app's include()d URLs: /webhooks/<vendor> and /webhooks/ (detecting)."""
    return "/webhooks/" if path == "/webhooks" else path


def _manage(tmp_path: Path, env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=DJANGO_PROJECT,
        env={**env, "DJANGO_DB_PATH": str(tmp_path / "example.sqlite3")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _run_django(tmp_path: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    requests = _requests()
    cases = tmp_path / "requests.json"
    cases.write_text(
        json.dumps([[_django_path(p), base64.b64encode(b).decode(), h] for p, b, h, _ in requests])
    )
    migrated = _manage(tmp_path, env, "migrate", "-v0")
    if migrated.returncode != 0:
        return migrated
    return _manage(
        tmp_path,
        {**env, "KYC_EXAMPLE_REQUESTS": str(cases)},
        "shell",
        "--no-imports",
        "-c",
        DJANGO_SCRIPT,
    )


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV and k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    return env


def test_django_example_project_handles_every_vendor(tmp_path: Path) -> None:
    completed = _run_django(tmp_path, {**_base_env(), **ENV})
    assert completed.returncode == 0, completed.stderr[-2000:]
    line = next(x for x in completed.stdout.splitlines() if x.startswith("RESULTS "))
    results = json.loads(line.removeprefix("RESULTS "))
    expected = [status for _, _, _, status in _requests()] + [405]
    assert [status for status, _ in results] == expected
    for _, body in results:
        _assert_no_personal_data(body)
    for expected_line in EXPECTED_LOG_LINES:
        assert expected_line in completed.stderr
    _assert_no_personal_data(completed.stderr, NEVER_IN_LOGS)


def test_django_example_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    env = {**_base_env(), **ENV}
    del env["IDENTOMAT_API_KEY"]
    completed = _run_django(tmp_path, env)
    assert completed.returncode != 0
    assert "ImproperlyConfigured" in completed.stderr
    assert "IDENTOMAT_API_KEY" in completed.stderr
