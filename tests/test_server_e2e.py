"""End to end over real HTTP: the ASGI adapter under a uvicorn server on 127.0.0.1 (a free port,
in a thread), signed deliveries posted with httpx, the server shut down within a bounded time."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from _adapter_contract import PAYLOADS, VENDORS, Recorder, delivery, tampered
from _uvicorn import serving
from kyc_webhooks.integrations.asgi import WebhookApp


@pytest.fixture
def server() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder(max_body_size=4096)
    app = WebhookApp(recorder.receiver, prefix="/webhooks")
    with serving(app) as base:
        yield base, recorder


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
