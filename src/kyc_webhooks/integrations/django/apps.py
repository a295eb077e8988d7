"""The app's configuration: label ``kyc_webhooks``; system checks registered on start-up."""

from __future__ import annotations

from django.apps import AppConfig


class KycWebhooksConfig(AppConfig):
    name = "kyc_webhooks.integrations.django"
    label = "kyc_webhooks"
    verbose_name = "KYC webhooks"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from . import checks  # registers the system checks

        del checks
