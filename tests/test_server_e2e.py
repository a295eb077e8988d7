"""End to end over real HTTP: the ASGI adapter under a uvicorn server on 127.0.0.1 (a free port,
in a thread), signed deliveries posted with httpx, the server shut down within a bounded time."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from _adapter_contract import PAYLOADS, VENDORS, Recorder, delivery, tampered
from kyc_webhooks.integrations.asgi import WebhookApp

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


@pytest.fixture
def server() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder(max_body_size=4096)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        WebhookApp(recorder.receiver, prefix="/webhooks"),
        log_level="warning",
        lifespan="on",
        ws="none",
        http="h11",
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not srv.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert srv.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}", recorder
    finally:
        srv.should_exit = True
        thread.join(STOP_TIMEOUT)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


def test_signed_deliveries_over_http(server: tuple[str, Recorder]) -> None:
    base, recorder = server
    with httpx.Client(base_url=base, timeout=10.0) as client:
        for vendor in VENDORS:
            body, headers = delivery(vendor)
            assert client.post(f"/webhooks/{vendor}", content=body, headers=headers).json() == {
                "ok": True
            }
            auto = client.post("/webhooks", content=body, headers=headers)
            assert auto.status_code == 200
            assert (
                client.post(
                    f"/webhooks/{vendor}", content=tampered(vendor)[0], headers=tampered(vendor)[1]
                ).status_code
                == 401
            )
        assert client.get("/webhooks").status_code == 405
        assert client.post("/nowhere", content=b"{}").status_code == 404
    expected = [(v, PAYLOADS[v][2]) for v in VENDORS for _ in range(2)]
    assert [(e.vendor, e.event_type) for e in recorder.seen] == expected


def test_oversized_bodies_over_http(server: tuple[str, Recorder]) -> None:
    base, recorder = server
    body, headers = delivery("idenfy")
    big = body[:-1] + b',"pad":"' + b"x" * 10_000 + b'"}'

    def chunked() -> Iterator[bytes]:
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    with httpx.Client(base_url=base, timeout=10.0) as client:
        declared = client.post("/webhooks/idenfy", content=big, headers=headers)
        streamed = client.post("/webhooks/idenfy", content=chunked(), headers=headers)
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert streamed.request.headers.get("transfer-encoding") == "chunked"
    assert recorder.seen == []
