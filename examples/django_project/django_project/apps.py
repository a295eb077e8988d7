"""The example project's own app: its ready() registers the webhook handlers."""

from __future__ import annotations

from django.apps import AppConfig


class ExampleConfig(AppConfig):
    name = "django_project"
    label = "example"

    def ready(self) -> None:
        from . import webhooks  # registers the handlers on the project receiver

        del webhooks
