"""Django views for a receiver you build yourself: CSRF-exempt, one line each in ``urlpatterns``.

    urlpatterns = [
        path("webhooks", webhook_view(receiver)),                 # auto-detect
        path("webhooks/<str:vendor>", webhook_view(receiver)),    # one route per vendor
    ]

``webhook_view`` is synchronous (``receiver.handle``, WSGI or ASGI); under ASGI use
``async_webhook_view`` to await ``async def`` handlers (``receiver.handle_async``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpResponse

from ...receiver import Receiver
from .._common import Reply, read_capped, respond, respond_async

__all__ = ["async_webhook_view", "webhook_view"]


def _response(reply: Reply) -> Any:
    response = HttpResponse(reply.body, status=reply.status)
    for name, value in reply.headers:
        response[name] = value
    return response


def webhook_view(receiver: Receiver, *, vendor: str | None = None) -> Any:
    """A sync view; the vendor is ``vendor``, else the URL's ``<vendor>``, else detected."""

    def view(request: Any, **url_values: str) -> Any:
        limit = receiver.max_body_size
        return _response(
            respond(
                receiver,
                method=request.method,
                content_length=request.META.get("CONTENT_LENGTH"),
                read=lambda: read_capped(request.read, limit),
                headers=request.headers,
                vendor=vendor or url_values.get("vendor"),
            )
        )

    view.csrf_exempt = True  # type: ignore[attr-defined]  # what @csrf_exempt sets
    return view


def async_webhook_view(receiver: Receiver, *, vendor: str | None = None) -> Any:
    """An ``async`` view for Django under ASGI; awaits async handlers."""

    async def view(request: Any, **url_values: str) -> Any:
        limit = receiver.max_body_size

        async def chunks() -> AsyncIterator[bytes]:
            # Django's ASGI handler has spooled the body; hold no more than limit + 1 bytes of it.
            yield read_capped(request.read, limit)

        reply = await respond_async(
            receiver,
            method=request.method,
            content_length=request.META.get("CONTENT_LENGTH"),
            chunks=chunks,
            headers=request.headers,
            vendor=vendor or url_values.get("vendor"),
        )
        return _response(reply)

    view.csrf_exempt = True  # type: ignore[attr-defined]
    return view
