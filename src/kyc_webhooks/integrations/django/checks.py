"""System checks (``manage.py check``, run by ``runserver`` and ``migrate``): the settings build a
receiver, and every registered handler can run under the views the settings choose."""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .conf import SETTING, project_receiver, read_settings


@checks.register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        config = read_settings()
        receiver = project_receiver()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="kyc_webhooks.E001", obj=SETTING)]
    if config.get("ASYNC", False):
        return []
    errors: list[checks.CheckMessage] = []
    for route in receiver.router.routes:
        if route.is_async:
            name = getattr(route.handler, "__qualname__", repr(route.handler))
            errors.append(
                checks.Error(
                    f"async handler {name} is registered, but the kyc_webhooks URLs use the "
                    "sync view",
                    hint=f"set {SETTING}['ASYNC'] = True (and serve under ASGI), "
                    "or make the handler a plain def",
                    obj=SETTING,
                    id="kyc_webhooks.E002",
                )
            )
    return errors
