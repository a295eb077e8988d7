"""Settings of the Django app test project (tests/django_app, run by test_django_app.py in a
pytest-django session of its own). ``KYC_TEST_DJANGO_DB=postgres`` runs it on PostgreSQL,
``KYC_TEST_DJANGO_DB=pgbouncer`` on the same server through the PgBouncer in transaction pooling
at ``KYC_TEST_PGBOUNCER_DSN``, ``KYC_TEST_DJANGO_DB=mariadb`` on MariaDB (PyMySQL as the MySQLdb
driver)."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import django

SECRET_KEY = "django-app-test-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "django_app.urls"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "kyc_webhooks.integrations.django",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
if django.VERSION >= (5, 1):
    # Every view needs a logged-in user unless it says otherwise: the webhook views must (review
    # R51), or vendors are sent to the login page.
    MIDDLEWARE.append("django.contrib.auth.middleware.LoginRequiredMiddleware")
    LOGIN_URL = "/admin/login/"
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
if os.environ.get("KYC_TEST_DJANGO_DB") in ("postgres", "pgbouncer"):
    # The server CI starts (or a developer's): KYC_TEST_POSTGRES_DSN, as the other PostgreSQL tests;
    # ``pgbouncer``: the same server through the PgBouncer in transaction pooling CI starts in
    # front of it (KYC_TEST_PGBOUNCER_DSN), with the settings Django documents for it.
    _pgbouncer = os.environ["KYC_TEST_DJANGO_DB"] == "pgbouncer"
    _dsn = urlsplit(
        os.environ["KYC_TEST_PGBOUNCER_DSN"]
        if _pgbouncer
        else os.environ.get("KYC_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
    )
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _dsn.path.lstrip("/") or "test",
            "USER": _dsn.username or "postgres",
            "PASSWORD": _dsn.password or "",
            "HOST": _dsn.hostname or "127.0.0.1",
            "PORT": str(_dsn.port or 5432),
            # pytest-django creates and drops this database: one per run, so runs cannot collide.
            "TEST": {"NAME": f"test_kyc_{os.getpid()}_{os.urandom(3).hex()}"},
            # Behind PgBouncer in transaction pooling, what Django's documentation asks for
            # ("Transaction pooling and server-side cursors"); psycopg 3's server_side_binding
            # and prepared statements stay off, Django's defaults.
            "DISABLE_SERVER_SIDE_CURSORS": _pgbouncer,
        }
    }
    if os.environ.get("KYC_TEST_DJANGO_NAME"):  # a race's worker process: the run's test database
        DATABASES["default"]["NAME"] = os.environ["KYC_TEST_DJANGO_NAME"]
elif os.environ.get("KYC_TEST_DJANGO_DB") == "mariadb":
    # The server CI starts (or a developer's): KYC_TEST_MARIADB_URL. PyMySQL (pure Python, the dev
    # extra) stands in for mysqlclient, which needs C headers to build.
    import pymysql  # type: ignore[import-untyped]

    pymysql.install_as_MySQLdb()
    _url = urlsplit(os.environ.get("KYC_TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/test"))
    _options = {"charset": "utf8mb4"}  # 4-byte UTF-8 (emoji): MariaDB's utf8 has 3 bytes
    if os.environ.get("KYC_TEST_DJANGO_MARIADB_LOCK_TIMEOUT"):
        # A test's worker process may wait less for a lock (table or row): a lock held past it is
        # then a store error (1205), as a production lock past its timeout.
        _wait = int(os.environ["KYC_TEST_DJANGO_MARIADB_LOCK_TIMEOUT"])
        _options["init_command"] = (
            f"SET SESSION lock_wait_timeout = {_wait}, innodb_lock_wait_timeout = {_wait}"
        )
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": _url.path.lstrip("/") or "test",
            "USER": _url.username or "root",
            "PASSWORD": _url.password or "",
            "HOST": _url.hostname or "127.0.0.1",
            "PORT": str(_url.port or 3306),
            "OPTIONS": _options,
            # pytest-django creates and drops this database: one per run, so runs cannot collide.
            "TEST": {"NAME": f"test_kyc_{os.getpid()}_{os.urandom(3).hex()}"},
        }
    }
    if os.environ.get("KYC_TEST_DJANGO_NAME"):  # a race's worker process: the run's test database
        DATABASES["default"]["NAME"] = os.environ["KYC_TEST_DJANGO_NAME"]
else:
    # A real file (threads and processes share it), IMMEDIATE transactions (Django 5.1+) so that
    # concurrent writers wait for the lock instead of failing with "database is locked".
    _file = os.environ.get("KYC_TEST_DJANGO_NAME") or os.path.join(
        os.environ.get("KYC_TEST_DJANGO_DIR", "/tmp"), f"kyc_django_{os.getpid()}.sqlite3"
    )
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _file,
            "TEST": {"NAME": _file},
            "OPTIONS": {
                # A test's worker process may wait less (KYC_TEST_DJANGO_SQLITE_TIMEOUT): a lock
                # held past it is then a store error, as a production lock past its timeout.
                "timeout": float(os.environ.get("KYC_TEST_DJANGO_SQLITE_TIMEOUT", "30")),
                # Django < 5.1 has no transaction_mode.
                **({"transaction_mode": "IMMEDIATE"} if django.VERSION >= (5, 1) else {}),
            },
        }
    }
KYC_WEBHOOKS: dict[str, Any] = {
    "VENDORS": {
        "idenfy": {"signing_key": "idenfy-test-key"},
        "complycube": {"secret": "complycube-test-secret"},
        "yoti": {"auth_token": "user:pass", "auth_type": "basic"},
        "identomat": {"api_key": "identomat-test-key"},
    },
}
