"""The webhook URLs come from the app: /webhooks/<vendor> (each vendor on its own URL) and
/webhooks/ (the vendor detected from the request); the admin shows the inbox."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("webhooks/", include("kyc_webhooks.integrations.django.urls")),
]
