"""The application's own receiver (``--app module:attribute``) for ``inbox replay`` and
``process``: its vendors and router, on the store the command names. The command line never
marks a delivery done by itself: only the application's handlers succeeding does."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import kyc_webhooks as kw
from kyc_webhooks._loading import load_receiver
from kyc_webhooks.store import Store

from ._common import CliError
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
        app = load_receiver(spec)
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
    return kw.Receiver(
        *vendors.values(), router=app.router, store=store, lease_timeout=app.lease_timeout
    )


def is_async(receiver: kw.Receiver) -> bool:
    """Whether a handler -- event or decision handler -- is ``async def``."""
    return bool(receiver.router.async_handlers())


def run_handlers(
    receiver: kw.Receiver,
    sync: Callable[[A], T],
    async_: Callable[[A], Awaitable[T]],
    argument: A,
) -> T:
    """``sync(argument)``, or ``async_(argument)`` in an event loop when a handler is async. A
    handler's failure is logged by the library (class and frames, never the message)."""
    with logging_to_stderr(logging.WARNING):
        if is_async(receiver):

            async def call() -> T:
                return await async_(argument)

            return asyncio.run(call())
        return sync(argument)
