"""ASGI application of the test project under ``django_app.settings_async`` (the app's async
views), with plain ``def`` code that writes through the ORM -- an event handler, a
``webhook_received`` receiver and a ``decision_changed`` receiver -- as docs/django.md shows.
Served by uvicorn in app_async_orm.py; each write is a ``User`` whose first name says who
wrote it."""

from __future__ import annotations

import os
import uuid
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_app.settings_async")

from django.core.asgi import get_asgi_application

application = get_asgi_application()

from django.contrib.auth.models import User  # noqa: E402

from kyc_webhooks.integrations.django import receiver  # noqa: E402
from kyc_webhooks.integrations.django.signals import (  # noqa: E402
    decision_changed,
    webhook_received,
)


def write(who: str) -> None:
    User.objects.create(username=f"{who}-{uuid.uuid4().hex}", first_name=who)


@receiver.on("idenfy")
def on_event(event: Any) -> None:
    write("handler")


def on_received(sender: Any, event: Any, **kwargs: Any) -> None:
    write("received")


def on_decision(sender: Any, decision: Any, **kwargs: Any) -> None:
    write("decision")


webhook_received.connect(on_received, weak=False)
decision_changed.connect(on_decision, weak=False)
