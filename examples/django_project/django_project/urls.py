"""One line per route: each vendor on its own URL, plus one that detects the vendor."""

from __future__ import annotations

from django.urls import path

from kyc_webhooks.integrations.django import webhook_view

from .webhooks import receiver

# A sync view works under WSGI and ASGI. With `async def` handlers under ASGI, use
# kyc_webhooks.integrations.django.async_webhook_view instead.
view = webhook_view(receiver)

urlpatterns = [
    path("webhooks/<str:vendor>", view),  # /webhooks/idenfy, /webhooks/complycube, ...
    path("webhooks", view),  # the vendor is detected from the request
]
