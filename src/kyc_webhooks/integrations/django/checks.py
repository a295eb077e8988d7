"""System checks (``manage.py check``, run by ``runserver`` and ``migrate``): the settings build a
receiver, every registered handler -- event and decision handlers -- can run under the views
the settings choose, and the app's store has the aware times it needs (``USE_TZ``) and, on
MySQL/MariaDB, the isolation level it is built for (READ COMMITTED). With another store, an
information says where the inbox is: the admin shows none of the app's models then."""

from __future__ import annotations

import os
import shlex
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router

from ...cli._stores import describe
from ...errors import ConfigurationError
from .._common import check_sync_handlers
from .conf import SETTING, project_receiver, read_settings, store_options, uses_app_models
from .models import Delivery
from .store import USE_TZ_REQUIRED, DjangoStore


def _app_store() -> DjangoStore | None:
    """The project receiver's store when it is the app's own; ``None`` for another store, or when
    the settings build no receiver (``kyc_webhooks.E001`` reports that)."""
    try:
        store = project_receiver().store
    except ImproperlyConfigured:
        return None
    return store if isinstance(store, DjangoStore) else None


@checks.register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        config = read_settings()
        receiver = project_receiver()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="kyc_webhooks.E001", obj=SETTING)]
    if config.get("ASYNC", False):
        return []
    try:
        # What the sync view checks when it is built: an async handler, unless DEFER stores the
        # deliveries for `manage.py kyc_webhooks process`, which awaits async handlers.
        check_sync_handlers(receiver)
    except ConfigurationError as exc:
        return [
            checks.Error(
                f"{exc.message} -- the kyc_webhooks URLs use the sync view",
                hint=f"set {SETTING}['ASYNC'] = True (and serve under ASGI), or "
                f"{SETTING}['DEFER'] = True (`manage.py kyc_webhooks process` runs them), "
                "or make the handlers plain def functions",
                obj=SETTING,
                id="kyc_webhooks.E002",
            )
        ]
    return []


@checks.register()
def check_time_zone(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The app's own store (``STORE`` "django", the default) refuses to work under
    ``USE_TZ = False``: an error here rather than a 503 for every delivery."""
    if settings.USE_TZ or _app_store() is None:
        return []
    return [
        checks.Error(
            USE_TZ_REQUIRED,
            hint="set USE_TZ = True in the settings (Django's default since 5.0), or "
            f"{SETTING}['STORE'] to a SQLite path or a postgresql:// URL",
            obj="USE_TZ",
            id="kyc_webhooks.E003",
        )
    ]


@checks.register()
def check_isolation_level(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """On MySQL/MariaDB the app's store expects READ COMMITTED, Django's default there. Under
    REPEATABLE READ (the server's own default, used when ``OPTIONS["isolation_level"]`` is
    ``None``) or SERIALIZABLE, InnoDB's gap locks make concurrent first decisions of a subject
    deadlock, and a delivery added inside a request's transaction (``ATOMIC_REQUESTS``) after
    losing an insert race keeps reading its old snapshot: each a store error (503, the vendor
    redelivers) where READ COMMITTED has none."""
    if _app_store() is None:
        return []
    alias = router.db_for_write(Delivery)
    connection = connections[alias]
    if connection.vendor != "mysql":
        return []
    level = connection.settings_dict.get("OPTIONS", {}).get("isolation_level", "read committed")
    if str(level or "").lower() == "read committed":
        return []
    return [
        checks.Warning(
            f"the kyc_webhooks store's database {alias!r} runs at isolation level "
            f"{level or 'of the server (REPEATABLE READ by default)'!s}: concurrent deliveries "
            "meet deadlocks and stale reads that READ COMMITTED does not have (each answered "
            "503, the vendor redelivers)",
            hint=f"remove 'isolation_level' from DATABASES[{alias!r}]['OPTIONS'] (Django's "
            "default is 'read committed') or set it to 'read committed'",
            obj="DATABASES",
            id="kyc_webhooks.W001",
        )
    ]


@checks.register()
def check_autocommit(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The app's store commits its own transactions and refuses to run with autocommit off
    (``DATABASES[alias]["AUTOCOMMIT"] = False``): an error here rather than a 500 for every
    delivery, retried by the vendor until it gives up (review R51)."""
    if _app_store() is None:
        return []
    alias = router.db_for_write(Delivery)
    if connections[alias].settings_dict.get("AUTOCOMMIT", True):
        return []
    return [
        checks.Error(
            f"the kyc_webhooks store's database {alias!r} has AUTOCOMMIT off: the store commits "
            "each delivery itself and refuses to run inside a transaction of yours (every "
            "delivery would be answered 500)",
            hint=f"remove 'AUTOCOMMIT' from DATABASES[{alias!r}] (Django's default is True), or "
            "route the app's models to a database that keeps it",
            obj="DATABASES",
            id="kyc_webhooks.E004",
        )
    ]


@checks.register()
def check_store_location(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """With a ``STORE`` other than the app's models, the app's tables stay empty and the admin
    shows none of them (``admin.py``): say where the deliveries are, and what reads them. The
    store is shown as the CLI shows it, without a password."""
    if uses_app_models():
        return []
    try:
        project_receiver()  # a STORE it refuses is not an inbox anywhere
        store = read_settings().get("STORE")
    except ImproperlyConfigured:
        return []  # kyc_webhooks.E001 reports it
    if store is None:
        return [
            checks.Info(
                f"{SETTING}['STORE'] is None: deliveries are not stored, and the admin shows "
                "no kyc_webhooks model (its tables are not used)",
                obj=SETTING,
                id="kyc_webhooks.I001",
            )
        ]
    where = describe(os.fspath(store))  # a str, or a pathlib.Path (BASE_DIR / "inbox.sqlite3")
    options = store_options(read_settings())
    flags = "".join(
        [
            f" --schema {options['schema']}" if options.get("schema") else "",
            " --pgbouncer" if options.get("pgbouncer") else "",
        ]
    )
    return [
        checks.Info(
            f"the kyc_webhooks inbox is in {where} ({SETTING}['STORE']), not in the app's "
            "tables: the admin shows no kyc_webhooks model",
            hint=f"read it with `kyc-webhooks inbox --inbox {shlex.quote(where)}{flags} list` "
            "(show, replay, erase) or `manage.py kyc_webhooks stats`",
            obj=SETTING,
            id="kyc_webhooks.I001",
        )
    ]
