"""FastAPI: ``webhook_router(receiver)`` serving ``POST /webhooks`` (auto-detect) and
``POST /webhooks/{vendor}``, awaiting ``async def`` handlers; or ``verified_event(receiver)``, a
dependency that gives your own endpoint the authenticated, parsed event (handlers do not run
and nothing is stored: a receiver with a store is refused).

    app.include_router(webhook_router(receiver))

    @app.post("/kyc/idenfy")
    async def idenfy(event: WebhookEvent = Depends(verified_event(receiver, vendor="idenfy"))): ...
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.requests import ClientDisconnect

from ..errors import ConfigurationError, DeliveryError
from ..models import WebhookEvent
from ..outcome import loggable
from ..receiver import Receiver
from ._common import (
    NOT_FOUND,
    StoreLifespan,
    check_pinned_vendor,
    known_vendor,
    logger,
    read_body_async,
    respond_async,
)

__all__ = ["verified_event", "webhook_router"]


def webhook_router(
    receiver: Receiver, *, prefix: str = "/webhooks", async_pool: bool = True, **kwargs: Any
) -> APIRouter:
    """An ``APIRouter`` (extra ``kwargs`` go to it, e.g. ``tags``) with both webhook routes.

    Its lifespan (FastAPI runs an included router's inside the application's own) opens the
    store's async pool at start-up (``PostgresStore.open_async()``; ``async_pool=False`` not
    to), and at shutdown drains the receiver (:meth:`Receiver.drain`) and closes that pool."""

    async def endpoint(request: Request) -> Response:
        try:
            reply = await respond_async(
                receiver,
                method=request.method,
                content_length=request.headers.get("content-length"),
                chunks=request.stream,
                headers=request.headers.raw,
                vendor=request.path_params.get("vendor"),
            )
        except ClientDisconnect:
            # The sender went away mid-body: nothing was verified or handled, nobody to answer.
            return Response(status_code=400)
        return Response(reply.body, reply.status, dict(reply.headers))

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        # A PostgresStore's async pool on the application's event loop (StoreLifespan).
        store = StoreLifespan(receiver, async_pool=async_pool)
        await store.start()
        try:
            yield
        finally:
            # At shutdown, before the server exits: the claims of the requests it cancelled go
            # back, and completions are written (Receiver.drain); then the pool start-up opened
            # is closed. FastAPI runs an included router's lifespan inside the application's
            # own, and routers included later inside this one: when one of those fails its
            # start-up, its exception comes out of the yield, and this still runs.
            await store.stop()

    kwargs.setdefault("lifespan", lifespan)
    router = APIRouter(prefix=prefix, **kwargs)
    router.add_api_route("" if prefix else "/", endpoint, methods=["POST"], name="kyc_webhook")
    router.add_api_route("/{vendor}", endpoint, methods=["POST"], name="kyc_webhook_vendor")
    # The same with a trailing slash, answered directly (Starlette would answer a redirect, which
    # not every vendor follows with its POST); left out of the OpenAPI schema.
    if prefix:
        router.add_api_route("/", endpoint, methods=["POST"], include_in_schema=False)
    router.add_api_route("/{vendor}/", endpoint, methods=["POST"], include_in_schema=False)
    return router


def verified_event(
    receiver: Receiver, *, vendor: str | None = None
) -> Callable[[Request], Awaitable[WebhookEvent]]:
    """A dependency returning the verified event (vendor: ``vendor``, else the path's
    ``{vendor}``, else detected); a bad delivery ends the request with its status and
    ``{"detail": <Outcome.response_body()>}``. Logs one line per delivery on the ``kyc_webhooks``
    logger, as the other adapters do: ``delivery verified ...`` (INFO) or ``delivery rejected
    ...`` (WARNING), never a payload value.

    Verify-only: nothing is stored. A receiver with a store raises :class:`ConfigurationError`
    here, as the dependency would bypass it without a word -- no inbox record, no duplicate
    detection (a vendor's redelivery runs the endpoint again), no decision ledger."""
    if receiver.store is not None:
        raise ConfigurationError(
            "verified_event(receiver): the receiver has a store, which this dependency would "
            "bypass (it only verifies and parses: nothing is stored, a redelivery runs your "
            "endpoint again, the decision ledger is not updated). For exactly-once, mount "
            "webhook_router(receiver) and register handlers; to verify only, pass a Receiver "
            "built without a store"
        )
    check_pinned_vendor(receiver, vendor)

    async def dependency(request: Request) -> WebhookEvent:
        name = vendor or request.path_params.get("vendor")
        if not known_vendor(name):
            raise HTTPException(NOT_FOUND.status, "no such webhook endpoint")
        try:
            body = await read_body_async(
                receiver, request.headers.get("content-length"), request.stream()
            )
            event = receiver.parse(body, request.headers.raw, vendor=name)
        except ClientDisconnect:
            raise HTTPException(400, "client disconnected") from None
        except DeliveryError as exc:
            detail = receiver.reject(exc, vendor=name).response_body()
            raise HTTPException(exc.status_code, detail) from None
        logger.info(
            "delivery verified vendor=%s event_type=%s delivery_key=%s (handed to the endpoint)",
            event.vendor,
            loggable(event.event_type),  # the body's text: a line break would forge a line
            loggable(event.delivery_key),
        )
        return event

    return dependency
