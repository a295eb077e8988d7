"""The Django example project (examples/django_project, the kyc_webhooks app installed through
settings and include()) under a real uvicorn server on 127.0.0.1: signed deliveries of every
vendor, a tampered one and a duplicate, then the rows in the project's own database."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kyc_webhooks import testing

REPO = Path(__file__).resolve().parent.parent
PROJECT = REPO / "examples" / "django_project"
SECRETS = {
    "idenfy": "idenfy-example-key",
    "complycube": "complycube-example-secret",
    "yoti": "user:example-pass",
    "identomat": "identomat-example-key",
}
ENV = {
    "IDENFY_SIGNING_KEY": SECRETS["idenfy"],
    "COMPLYCUBE_SECRET": SECRETS["complycube"],
    "YOTI_AUTH_TOKEN": SECRETS["yoti"],
    "IDENTOMAT_API_KEY": SECRETS["identomat"],
}
EVENTS = {
    "idenfy": "IDENTIFICATION_MANUAL_FINISHED",
    "complycube": "check.completed.clear",
    "yoti": "session_completion",
    "identomat": "session-change",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    database = tmp_path / "example.sqlite3"
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        **ENV,
        "DJANGO_DB_PATH": str(database),
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])
        ),
    }
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    # The port stays ours: uvicorn serves the socket bound here (--fd). A port looked up and
    # let go could be bound by another run before uvicorn binds it.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--fd",
            str(sock.fileno()),
            "--log-level",
            "warning",
            "django_project.asgi:application",
        ],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        pass_fds=(sock.fileno(),),
    )
    sock.close()  # uvicorn holds its own copy
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/admin/login/", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "uvicorn exited early"
                assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
                time.sleep(0.1)
        yield base, database
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        if proc.stdout is not None:
            proc.stdout.close()


def test_example_project_stores_every_vendor_once(server: tuple[str, Path]) -> None:
    base, database = server
    sent = {}
    with httpx.Client(base_url=base, timeout=10) as client:
        for vendor, event_type in EVENTS.items():
            body, headers = testing.signed_delivery(vendor, event_type, SECRETS[vendor])
            response = client.post(f"/webhooks/{vendor}", content=body, headers=dict(headers))
            assert response.status_code == 200, (vendor, response.text)
            sent[vendor] = (body, dict(headers))
        body, headers = sent["idenfy"]
        duplicate = client.post("/webhooks/", content=body, headers=headers)
        assert duplicate.status_code == 200
        assert duplicate.json().get("duplicate") is True
        tampered = client.post("/webhooks/idenfy/", content=body + b" ", headers=headers)
        assert tampered.status_code == 401
    with contextlib.closing(sqlite3.connect(database)) as db:
        rows = db.execute(
            "SELECT vendor, state, attempts, body FROM kyc_webhooks_delivery ORDER BY vendor"
        ).fetchall()
    assert [(vendor, state, attempts) for vendor, state, attempts, _ in rows] == [
        ("complycube", "done", 1),
        ("idenfy", "done", 1),
        ("identomat", "done", 1),
        ("yoti", "done", 1),
    ]
    bodies = {vendor: bytes(body) for vendor, _, _, body in rows}
    assert bodies["idenfy"] == sent["idenfy"][0]
    # Identomat's credential travels in the body: it is blanked before the body is stored.
    assert SECRETS["identomat"].encode() not in bodies["identomat"]
