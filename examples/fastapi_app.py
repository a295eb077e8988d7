"""FastAPI: receive iDenfy, ComplyCube, Yoti and Identomat webhooks.

Run from the repository root:

    pip install -e ".[fastapi,server]"     # from the checkout: no release is published yet
    export IDENFY_SIGNING_KEY=... COMPLYCUBE_SECRET=... IDENTOMAT_API_KEY=...
    export YOTI_AUTH_TOKEN=user:pass   # and YOTI_AUTH_TYPE=bearer if the session says so
    uvicorn examples.fastapi_app:app

Endpoints (POST only): /webhooks/idenfy, /webhooks/complycube, /webhooks/yoti,
/webhooks/identomat, and /webhooks, which tells the vendor from the request. Handlers may be
plain or ``async def``; the router awaits them (``receiver.handle_async``).

Then, in another shell with the same variables, post signed samples of every event type:

    kyc-webhooks send --vendor all --to http://127.0.0.1:8000/webhooks --vendor-path

``/kyc/idenfy/verified`` shows the other style: a ``verified_event`` dependency hands your own
endpoint the authenticated, parsed event, and you decide what to do (handlers do not run).
"""

from __future__ import annotations

import logging

from fastapi import Depends, FastAPI

from examples._handlers import build_receiver
from kyc_webhooks.idenfy import IdentificationEvent
from kyc_webhooks.integrations.fastapi import verified_event, webhook_router
from kyc_webhooks.models import WebhookEvent

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
log = logging.getLogger("kyc_example")

receiver = build_receiver()

app = FastAPI(title="kyc-webhooks example")
app.include_router(webhook_router(receiver, prefix="/webhooks", tags=["webhooks"]))


@app.post("/kyc/idenfy/verified")
async def idenfy_verified(
    event: WebhookEvent = Depends(verified_event(receiver, vendor="idenfy")),  # noqa: B008
) -> dict[str, object]:
    final = event.is_final if isinstance(event, IdentificationEvent) else None
    log.info("verified idenfy event_type=%s final=%s", event.event_type, final)
    return {"ok": True, "event_type": event.event_type, "final": final}
