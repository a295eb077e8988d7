"""Settings of the example project: the kyc_webhooks app, its inbox in the project's database,
and the admin.

Django's own SECRET_KEY falls back to a development value that says so; set DJANGO_SECRET_KEY
anywhere else. The vendors' secrets come from the environment and have no fallback: a missing one
stops the project at start-up. ``python manage.py migrate`` creates the inbox table.

    IDENFY_SIGNING_KEY   iDenfy: the notification's signing key
    COMPLYCUBE_SECRET    ComplyCube: the webhook's secret (shown once, when it is created)
    YOTI_AUTH_TOKEN      Yoti: the session's notifications.auth_token ("user:pass" for Basic)
    IDENTOMAT_API_KEY    Identomat: the Callback API key from Company settings
    YOTI_AUTH_TYPE       optional, "basic" (default) or "bearer", as in notifications.auth_type
    DJANGO_DB_PATH       optional, the SQLite file (default: db.sqlite3 beside manage.py)
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ImproperlyConfigured(
            f"missing environment variable {name}: set it to the secret from the vendor's "
            "dashboard (see django_project/settings.py)"
        )
    return value


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-development-only-never-deploy")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "kyc_webhooks.integrations.django",  # the app: receiver from KYC_WEBHOOKS, inbox, admin
    "django_project.apps.ExampleConfig",  # registers the handlers in webhooks.py
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Kept on purpose: the webhook views are CSRF-exempt, the rest of a real site is not.
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
ROOT_URLCONF = "django_project.urls"
WSGI_APPLICATION = "django_project.wsgi.application"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB_PATH", str(BASE_DIR / "db.sqlite3")),
        # Concurrent writers wait for the lock instead of failing (Django 5.1+).
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
    }
}
USE_TZ = True
STATIC_URL = "static/"

KYC_WEBHOOKS = {
    "VENDORS": {
        "idenfy": {"signing_key": env("IDENFY_SIGNING_KEY")},
        "complycube": {"secret": env("COMPLYCUBE_SECRET")},
        "yoti": {
            "auth_token": env("YOTI_AUTH_TOKEN"),
            "auth_type": os.environ.get("YOTI_AUTH_TYPE", "basic").lower(),
        },
        "identomat": {"api_key": env("IDENTOMAT_API_KEY")},
    },
    # "STORE": "django" is the default: deliveries are kept in this project's database.
}

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
