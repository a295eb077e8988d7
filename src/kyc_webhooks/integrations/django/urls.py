"""``path("webhooks/", include("kyc_webhooks.integrations.django.urls"))`` gives
``/webhooks/`` (the vendor detected from the request) and ``/webhooks/<vendor>`` (with or without
a trailing slash), served by the project's receiver (``settings.KYC_WEBHOOKS``)."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpResponse
from django.urls import path

from ...errors import ConfigurationError
from .._common import MISCONFIGURED
from .views import async_webhook_view, outside_request_transactions, webhook_view

logger = logging.getLogger("kyc_webhooks")

app_name = "kyc_webhooks"

_views: dict[tuple[int, bool], Any] = {}


def _view(is_async: bool) -> Any:
    """The view for the project receiver (built from settings on the first request)."""
    from .conf import project_receiver

    receiver = project_receiver()
    view = _views.get((id(receiver), is_async))
    if view is None:
        _views.clear()  # the project receiver was rebuilt (tests): drop views of the old one
        build = async_webhook_view if is_async else webhook_view
        view = _views[(id(receiver), is_async)] = build(receiver)
    return view


def _is_async() -> bool:
    from django.core.exceptions import ImproperlyConfigured

    from .conf import read_settings

    try:
        return bool(read_settings().get("ASYNC", False))
    except ImproperlyConfigured:
        return False  # the system check (kyc_webhooks.E001) reports it; requests get it raised


# Both never run inside ATOMIC_REQUESTS' transaction: the store commits the delivery itself, and
# Django refuses ATOMIC_REQUESTS on an async view (views.outside_request_transactions).
if _is_async():

    @outside_request_transactions
    async def receive(request: Any, **url_values: str) -> Any:
        return await _view(True)(request, **url_values)

else:

    @outside_request_transactions
    def receive(request: Any, **url_values: str) -> Any:
        try:
            view = _view(False)
        except ConfigurationError as exc:
            # An async handler under the sync view without DEFER: `manage.py check` reports it
            # (kyc_webhooks.E002); a server started without the checks answers what the adapters
            # answer for a handler registered too late -- JSON, one log line, no HTML page.
            logger.error(
                "delivery not handled status=500 error=%s detail=%s",
                type(exc).__name__,
                exc.message,
            )
            response = HttpResponse(MISCONFIGURED.body, status=MISCONFIGURED.status)
            for name, value in MISCONFIGURED.headers:
                response[name] = value
            return response
        return view(request, **url_values)


receive.csrf_exempt = True  # type: ignore[attr-defined]
receive.login_required = False  # type: ignore[attr-defined]  # LoginRequiredMiddleware (5.1)

urlpatterns = [
    path("", receive, name="detect"),
    path("<str:vendor>", receive, name="vendor"),
    path("<str:vendor>/", receive),
]
