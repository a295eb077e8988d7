"""Fixtures of the Django app suite (run by tests/test_django_app.py with pytest-django)."""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from django.db import connections
from django.test import Client, override_settings
from django.urls import clear_url_caches

from _stores import FakeClock
from kyc_webhooks.integrations.django import conf
from kyc_webhooks.integrations.django.store import DjangoStore
from kyc_webhooks.testing import sample_payload, sign

#: The iDenfy signing key of the test project (settings.py).
IDENFY_KEY = "idenfy-test-key"


def post_idenfy(event_type: str = "IDENTIFICATION_MANUAL_FINISHED") -> Any:
    """A signed iDenfy delivery of ``event_type`` (its sample payload) posted to the app's view
    through Django's test client; the response."""
    body, headers = sign(
        "idenfy", sample_payload("idenfy", event_type), IDENFY_KEY, event_type=event_type
    )
    extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return Client().post(
        "/webhooks/idenfy", data=body, content_type="application/json", headers=extra
    )


@contextlib.contextmanager
def async_app_views(setting: Mapping[str, Any]) -> Iterator[None]:
    """``KYC_WEBHOOKS = setting`` (with ``"ASYNC": True``) and the URLs reloaded: the app's URL
    module picks its sync or async views when imported, and include() keeps that choice. The
    sync views are back afterwards."""
    from django_app import urls as project_urls
    from kyc_webhooks.integrations.django import urls as app_urls

    def reload_urls() -> None:
        importlib.reload(app_urls)
        importlib.reload(project_urls)
        clear_url_caches()
        conf.reset()

    try:
        with override_settings(KYC_WEBHOOKS=setting):
            reload_urls()
            yield
    finally:
        reload_urls()


@pytest.fixture
def store(django_store: DjangoStore) -> DjangoStore:
    """A DjangoStore on the test database (the contract modules override their suite's own
    ``store`` fixture with this one: a star-imported fixture would shadow a conftest's)."""
    return django_store


@pytest.fixture
def django_store(
    transactional_db: None, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DjangoStore]:
    """A DjangoStore on the test database.

    Threads of a test (the suite's races) each open a database connection of their own, which
    Django closes only at the end of a request; here each thread closes its own when it ends, as
    a worker thread of an application must (on PostgreSQL an open one would also keep the test
    database from being dropped)."""
    run = threading.Thread.run

    def run_then_close(self: threading.Thread) -> None:
        try:
            run(self)
        finally:
            connections.close_all()

    monkeypatch.setattr(threading.Thread, "run", run_then_close)
    made = DjangoStore(clock=clock)
    yield made
    made.close()


@pytest.fixture(autouse=True)
def fresh_receiver() -> Iterator[None]:
    """Each test builds the project receiver from the settings it sees."""
    conf.reset()
    yield
    conf.reset()


@pytest.fixture(scope="session", autouse=True)
def end_other_sessions(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Connections that worker threads opened (the async client's, a race's) are never closed
    by Django; on PostgreSQL they would keep the test database from being dropped at the end."""
    yield
    import time

    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            return
        if os.environ.get("KYC_TEST_DJANGO_DB") == "pgbouncer":
            # PgBouncer keeps server sessions to the test database in its pool once the clients
            # are gone: they are ended from a session of the server's own.
            import psycopg

            from _postgres import DSN

            name = connection.settings_dict["NAME"]
            connections.close_all()
            with psycopg.connect(DSN, connect_timeout=10, autocommit=True) as direct:
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:  # bounded: a terminated backend exits quickly
                    row = direct.execute(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = %s",
                        [name],
                    ).fetchone()
                    if row is None or row[0] == 0:
                        break
                    time.sleep(0.1)
            return
        with connection.cursor() as cursor:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # bounded: a terminated backend exits quickly
                cursor.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                row = cursor.fetchone()
                if row is None or row[0] == 0:
                    break
                time.sleep(0.1)
