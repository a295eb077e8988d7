"""The Django app test project with ``KYC_WEBHOOKS["ASYNC"] = True`` (the include()d URLs are async
views): the settings of the uvicorn server that app_async_orm.py starts."""

from __future__ import annotations

from django_app.settings import *  # noqa: F403
from django_app.settings import KYC_WEBHOOKS

KYC_WEBHOOKS = {**KYC_WEBHOOKS, "ASYNC": True}
