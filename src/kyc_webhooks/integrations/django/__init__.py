"""Django: an installable app, and views for a receiver you build yourself.

As an app (settings, ``include()``, an inbox in the project's database, admin, management
commands, signals; see docs/frameworks.md)::

    INSTALLED_APPS = [..., "kyc_webhooks.integrations.django"]
    KYC_WEBHOOKS = {"VENDORS": {"idenfy": {"signing_key": env("IDENFY_SIGNING_KEY")}}}
    urlpatterns = [path("webhooks/", include("kyc_webhooks.integrations.django.urls"))]

    from kyc_webhooks.integrations.django import receiver   # built from settings

    @receiver.on("idenfy", "IDENTIFICATION*")
    def on_result(event): ...

Without the app, ``webhook_urls(receiver)``, ``webhook_view(receiver)`` and
``async_webhook_view(receiver)`` serve any receiver (``Router(run_sync=in_django_thread)`` runs its
plain handlers where the ORM works when they are called from async code).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .views import async_webhook_view, in_django_thread, webhook_urls, webhook_view

if TYPE_CHECKING:
    from ...receiver import Receiver

    #: The project's receiver, :func:`get_receiver`'s (built from settings on first access).
    receiver: Receiver

__all__ = [
    "async_webhook_view",
    "get_receiver",
    "in_django_thread",
    "receiver",
    "webhook_urls",
    "webhook_view",
]


def get_receiver() -> Receiver:
    """The project's receiver, built once from ``settings.KYC_WEBHOOKS``."""
    from .conf import project_receiver

    return project_receiver()


if not TYPE_CHECKING:  # type checkers see ``receiver`` above, and no other name

    def __getattr__(name: str) -> Any:
        if name == "receiver":
            return get_receiver()
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
