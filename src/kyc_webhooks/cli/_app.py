"""The application's own receiver (``--app module:attribute``) for ``inbox replay`` and
``process``: its vendors and router, on the store the command names. The command line never
marks a delivery done by itself: only the application's handlers succeeding does."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import kyc_webhooks as kw
from kyc_webhooks._loading import load_receiver
from kyc_webhooks.store import Store

from ._common import PROG, CliError, err
from ._server import logging_to_stderr

A = TypeVar("A")
T = TypeVar("T")


def app_receiver(
    spec: str,
    store: Store | None = None,
    *,
    vendor: str | None = None,
    app: kw.Receiver | None = None,
) -> kw.Receiver:
    """A receiver with the handlers of the Receiver at ``spec`` on ``store`` (default: its own).
    ``app``: that Receiver, when the caller has loaded it already."""
    if app is None:
        app = load_app(spec, "replay ID")
    vendors = app.vendors
    if vendor is not None:
        if vendor not in vendors:
            raise CliError(
                f"the receiver {spec} is not configured for {vendor}; nothing was changed"
            )
        vendors = {vendor: vendors[vendor]}
    if store is None:
        if app.store is None:
            raise CliError(f"the receiver {spec} has no store: pass --store PATH_OR_URL")
        store = app.store
    _warn_other_schema(spec, app, store)
    return kw.Receiver(
        *vendors.values(), router=app.router, store=store, lease_timeout=app.lease_timeout
    )


def app_schema(app: kw.Receiver) -> str | None:
    """The schema of the application's own store when it is a PostgresStore: where ``process``
    and ``inbox replay --app`` look when ``--schema`` is not given."""
    from kyc_webhooks.store import PostgresStore

    return app.store.schema if isinstance(app.store, PostgresStore) else None


def _warn_other_schema(spec: str, app: kw.Receiver, store: Store) -> None:
    """A ``--schema`` that is not the schema of the application's own PostgresStore is read, with
    a warning: legitimate (another store), but usually a slip -- a copied command, a staging
    schema. Said once the application is imported, where the command imports it anyway."""
    from kyc_webhooks.store import PostgresStore

    own = app_schema(app)
    if isinstance(store, PostgresStore) and own is not None and store.schema != own:
        err(
            f"{PROG}: warning: --schema {store.schema} is not the schema of {spec}'s own store "
            f"({own}); reading {store.schema}"
        )


def load_app(spec: str, command: str) -> kw.Receiver:
    """The Receiver at ``spec``. A module of a Django project imported outside Django -- its
    models need ``django.setup()``, which ``manage.py`` does -- is a one-line usage error that
    names ``python manage.py kyc_webhooks <command>``; any other exception raised while the
    module is imported is the application's own and keeps its traceback."""
    try:
        return load_receiver(spec)
    except Exception as exc:
        if not _outside_django(exc):
            raise
        raise CliError(
            f"importing {spec} needs Django set up ({type(exc).__name__}): this is a Django "
            f"project; use `python manage.py kyc_webhooks {command}` in it"
        ) from None


def _outside_django(exc: Exception) -> bool:
    """Whether ``exc`` is Django's refusal to run before ``django.setup()``: the app registry
    not loaded yet, or no settings at all (``DJANGO_SETTINGS_MODULE`` unset)."""
    exceptions = sys.modules.get("django.core.exceptions")
    conf = sys.modules.get("django.conf")
    if exceptions is None or conf is None:
        return False  # Django was never imported: not Django's
    if isinstance(exc, exceptions.AppRegistryNotReady):
        return True
    return isinstance(exc, exceptions.ImproperlyConfigured) and not conf.settings.configured


def is_async(receiver: kw.Receiver) -> bool:
    """Whether a handler -- event or decision handler -- is ``async def``."""
    return bool(receiver.router.async_handlers())


def run_handlers(
    receiver: kw.Receiver,
    sync: Callable[[A], T],
    async_: Callable[[A], Awaitable[T]],
    argument: A,
    *,
    level: int = logging.WARNING,
    explicit: bool = False,
) -> T:
    """``sync(argument)``, or ``async_(argument)`` in an event loop when a handler is async. A
    handler's failure is logged by the library (class and frames, never the message), and every
    outcome at INFO (one line per delivery, no payload value): on stderr at ``level``, or through
    the application's own logging setup when it has one (:func:`logging_to_stderr`; ``explicit``:
    ``level`` was asked for, and applies there too)."""
    with logging_to_stderr(level, explicit=explicit):
        if is_async(receiver):

            async def call() -> T:
                return await async_(argument)

            return asyncio.run(call())
        return sync(argument)
