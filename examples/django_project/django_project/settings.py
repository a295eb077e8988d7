"""Settings of the example project: the minimum to serve webhooks (no database, no apps).

Django's own SECRET_KEY falls back to a development value that says so; set DJANGO_SECRET_KEY
anywhere else. The vendors' secrets are read in webhooks.py and have no fallback.
"""

from __future__ import annotations

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-development-only-never-deploy")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")

INSTALLED_APPS: list[str] = []
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Kept on purpose: the webhook views are CSRF-exempt, the rest of a real site is not.
    "django.middleware.csrf.CsrfViewMiddleware",
]
ROOT_URLCONF = "django_project.urls"
WSGI_APPLICATION = "django_project.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        # The library logs one line per delivery (ids and statuses, never payload values).
        "kyc_webhooks": {"handlers": ["console"], "level": "INFO"},
        "kyc_example": {"handlers": ["console"], "level": "INFO"},
    },
}
