"""Procrastinate, a task queue in PostgreSQL (docs/scaling-out.md, "Workers")::

    from kyc_webhooks.contrib.procrastinate import register

    receiver = kw.Receiver(kw.Idenfy(signing_key=...), store=store, defer=True)
    tasks = register(app, receiver)
    app.open()            # a sync web app (receiver.handle) defers jobs synchronously
    # an async one (receiver.handle_async): `async with app.open_async():` at startup

declares the tasks ``<name>.process`` (``receiver.process(delivery_id)``) and ``<name>.sweep``
(``receiver.process_pending()``, a periodic task on ``sweep_cron``, every minute by default; the
worker defers it), and makes the receiver's ``on_deferred`` defer the process job. Only the
delivery id goes into the job. Retries are off (procrastinate's default, kept): the store's
back-off is the only retry policy, and a job run twice is a harmless duplicate.

Inside a running event loop (``receiver.handle_async``: FastAPI, an ASGI app) ``on_deferred``
returns the coroutine of ``defer_async``, which the receiver awaits; an app opened only with
``app.open()`` is deferred from there the synchronous way, in a worker thread. Elsewhere the job
is deferred synchronously.

With an ``async def`` handler (event or decision handler) the tasks are ``async`` too
(``receiver.process_async``, ``receiver.process_pending_async``) and run on the worker's event
loop. Call ``register`` after registering the handlers: it chooses the kind of task from them.

The job is deferred in a transaction of its own, after the delivery's insert has committed, not
in the same transaction: the store's ``add`` is one autocommitted statement on the store's own
pool and offers no hook for a second statement. A crash between the two (or a failed defer)
leaves a stored delivery without a job; the sweeper handles it at its next run.

Procrastinate is imported by :func:`register` only
(``pip install -e ".[procrastinate]"``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import ConfigurationError
from ..receiver import Receiver
from ._common import (
    Tasks,
    check_receiver,
    has_async_handlers,
    on_publishing_thread,
    publish_bounded,
    started,
)
from ._common import run_process as _run_process
from ._common import run_process_async as _run_process_async
from ._common import run_sweep as _run_sweep
from ._common import run_sweep_async as _run_sweep_async

__all__ = ["Tasks", "register"]


def register(
    app: Any,
    receiver: Receiver,
    *,
    name: str = "kyc_webhooks",
    queue: str = "default",
    sweep_cron: str = "* * * * *",
) -> Tasks:
    """Declare the process and (periodic) sweep tasks of ``receiver`` on the procrastinate
    ``app`` and set ``receiver.on_deferred``. ``sweep_cron``: procrastinate's cron syntax (a sixth
    field counts seconds)."""
    try:
        import procrastinate
        from procrastinate import exceptions as procrastinate_errors
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "kyc_webhooks.contrib.procrastinate needs procrastinate: "
            'pip install -e ".[procrastinate]"'
        ) from exc
    receiver = check_receiver(receiver)
    if not isinstance(app, procrastinate.App):
        raise ConfigurationError(f"register() needs a procrastinate.App, got {type(app).__name__}")

    process: Callable[[str], object]
    sweep: Callable[[int | None], object]
    # ``timestamp``: the schedule slot procrastinate passes to periodic tasks (unused).
    if has_async_handlers(receiver):

        async def process_async(delivery_id: str) -> None:
            await _run_process_async(receiver, delivery_id)

        async def sweep_async(timestamp: int | None = None) -> None:
            await _run_sweep_async(receiver)

        process, sweep = process_async, sweep_async
    else:

        def process_sync(delivery_id: str) -> None:
            _run_process(receiver, delivery_id)

        def sweep_sync(timestamp: int | None = None) -> None:
            _run_sweep(receiver)

        process, sweep = process_sync, sweep_sync

    process_task = app.task(name=f"{name}.process", queue=queue, retry=False)(process)
    sweep_task = app.task(name=f"{name}.sweep", queue=queue, retry=False)(sweep)
    app.periodic(cron=sweep_cron, periodic_id=f"{name}.sweep")(sweep_task)

    not_open_async = (
        procrastinate_errors.AppNotOpen,
        procrastinate_errors.SyncConnectorConfigurationError,
    )

    def defer(delivery_id: str) -> None:  # procrastinate returns the job's id: not needed here
        process_task.defer(delivery_id=delivery_id)

    async def defer_async(delivery_id: str) -> None:
        try:
            await process_task.defer_async(delivery_id=delivery_id)
        except not_open_async:
            # Opened with app.open() only (or a sync-only connector): its sync connector works,
            # away from the event loop it would block -- as Celery's and Dramatiq's publishes
            # (review R57).
            await on_publishing_thread(asyncio.get_running_loop(), lambda: defer(delivery_id))

    def enqueue(delivery_id: str) -> Awaitable[None] | None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no event loop in this thread: defer synchronously
            # Bounded: psycopg waits on a hung database for ever, and on one that is down for
            # the pool's timeout (30 s), while the vendor waits for the 202 (iDenfy: 10 s).
            publish_bounded(lambda: defer(delivery_id), delivery_id)
            return None
        # Procrastinate's sync defer cannot run inside an event loop; the receiver's
        # handle_async awaits this, which is started at once all the same.
        return started(defer_async(delivery_id), delivery_id)

    receiver.on_deferred = enqueue
    return Tasks(process=process_task, sweep=sweep_task, enqueue=enqueue)
