"""Celery (docs/scaling-out.md, "Workers")::

    from kyc_webhooks.contrib.celery import register

    receiver = kw.Receiver(kw.Idenfy(signing_key=...), store=store, defer=True)
    tasks = register(celery_app, receiver)

declares ``<name>.process`` (``receiver.process(delivery_id)``) and ``<name>.sweep``
(``receiver.process_pending()``, in the beat schedule every ``sweep_every`` seconds: run
``celery beat`` or a worker with ``-B``), and makes the receiver's ``on_deferred`` enqueue the
process task. Only the delivery id goes to the broker. Celery's retries are off (no
``autoretry_for``, ``max_retries=0``) and results are not stored: the store's back-off is the
only retry policy, and a redelivered task is a harmless duplicate.

Celery runs its tasks synchronously, so :func:`register` refuses a receiver with an ``async
def`` handler (:class:`~kyc_webhooks.ConfigurationError`) rather than fail every delivery: use
plain ``def`` handlers, or :mod:`kyc_webhooks.contrib.dramatiq` or
:mod:`kyc_webhooks.contrib.procrastinate`, whose tasks await them on the worker's event loop.

Celery is imported by :func:`register` only (``pip install -e ".[celery]"``).
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import ConfigurationError
from ..receiver import Receiver
from ._common import (
    DEFAULT_SWEEP_EVERY,
    Tasks,
    check_receiver,
    check_sweep_every,
    off_the_loop,
)
from ._common import run_process as _run_process
from ._common import run_sweep as _run_sweep

__all__ = ["PUBLISH_TIMEOUT", "Tasks", "register"]

logger = logging.getLogger("kyc_webhooks")

#: Seconds a publish to a Redis broker may wait on its socket (connecting, each read), unless the
#: app sets its own ``broker_transport_options``: the hand-off runs before the 202.
PUBLISH_TIMEOUT = 2.0


def register(
    app: Any,
    receiver: Receiver,
    *,
    name: str = "kyc_webhooks",
    sweep_every: float = DEFAULT_SWEEP_EVERY,
) -> Tasks:
    """Declare the process and sweep tasks of ``receiver`` on the Celery ``app`` (task names
    ``<name>.process`` and ``<name>.sweep``) and set ``receiver.on_deferred``. Call it after
    registering the handlers; an ``async def`` one raises
    :class:`~kyc_webhooks.ConfigurationError` (Celery's tasks cannot await it)."""
    try:
        import celery
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'kyc_webhooks.contrib.celery needs Celery: pip install -e ".[celery]"'
        ) from exc
    receiver = check_receiver(receiver)
    every = check_sweep_every(sweep_every)
    if not isinstance(app, celery.Celery):
        raise ConfigurationError(f"register() needs a celery.Celery app, got {type(app).__name__}")
    try:
        receiver.check(sync=True)
    except ConfigurationError as exc:
        # A task could asyncio.run() each delivery, but on an event loop of its own every time:
        # a client the handlers share (an httpx.AsyncClient, a database pool) is bound to the
        # first loop and fails on the next delivery. Refused here rather than in every task.
        raise ConfigurationError(
            "Celery runs tasks synchronously and cannot await an `async def` handler: make the "
            "handlers plain `def` functions, or use kyc_webhooks.contrib.dramatiq or "
            f"kyc_webhooks.contrib.procrastinate, whose tasks await them ({exc.message})"
        ) from None

    def process(delivery_id: str) -> None:
        _run_process(receiver, delivery_id)

    def sweep() -> None:
        _run_sweep(receiver)

    options: dict[str, Any] = {"max_retries": 0, "ignore_result": True, "acks_late": False}
    process_task = app.task(name=f"{name}.process", **options)(process)
    sweep_task = app.task(name=f"{name}.sweep", **options)(sweep)
    sweep_name = f"{name}.sweep"
    app.add_periodic_task(every, celery.signature(sweep_name, app=app), name=sweep_name)
    _keep_in_the_schedule(app, sweep_name, every)
    process_name = f"{name}.process"

    _bound_when_configured(app)

    def publish(delivery_id: str) -> None:
        _bound_publish(app)  # unless set since (the app's own options replaced ours)
        once = {"retry_policy": _RETRY_POLICY} if _redis_broker(app) else {}
        app.send_task(process_name, args=(delivery_id,), ignore_result=True, **once)

    receiver.on_deferred = enqueue = off_the_loop(publish)
    return Tasks(process=process_task, sweep=sweep_task, enqueue=enqueue)


def _keep_in_the_schedule(app: Any, sweep_name: str, every: float) -> None:
    """Make sure beat sends the sweep: the entry ``add_periodic_task`` made is lost when the app
    is configured after :func:`register` (``app.conf.beat_schedule = {...}``, Celery's own way to
    declare periodic tasks, or ``app.config_from_object(...)``), and without a sweep a lost
    enqueue or a crashed worker's delivery -- already answered 202 -- is never handled. When
    beat starts (``beat_init``), an entry missing from its scheduler is added, with a warning."""
    from celery.signals import beat_init

    def check(sender: Any, **kwargs: Any) -> None:
        if sender.app is not app:
            return
        scheduler = sender.scheduler
        if sweep_name in scheduler.schedule:
            return
        scheduler.update_from_dict({sweep_name: {"task": sweep_name, "schedule": every}})
        logger.warning(
            "celery beat: the periodic task %s was not in the beat schedule (the app was "
            "configured after kyc_webhooks.contrib.celery.register()): added, every %g s",
            sweep_name,
            every,
        )

    # One check per app and sweep: a second register() of the same names (a test suite, a
    # reloaded module) replaces the first one's -- Celery keeps the first receiver of a
    # dispatch_uid, hence the disconnect -- instead of adding one more for every call.
    uid = ("kyc_webhooks.sweep", id(app), sweep_name)
    beat_init.disconnect(dispatch_uid=uid)
    beat_init.connect(check, weak=False, dispatch_uid=uid)


def _bound_when_configured(app: Any) -> None:
    """Apply :func:`_bound_publish` whenever the app's configuration is (re)loaded -- so that the
    broker connections, pooled from the first publish of any task on, carry it -- without reading
    ``app.conf`` here, which would configure the app early (a later ``config_from_object`` or
    ``beat_schedule`` would replace ours). Applied at once to an app configured already."""

    def configured(sender: Any, **kwargs: Any) -> None:
        if sender is app:
            _bound_publish(app)

    app.on_after_configure.connect(configured, weak=False, dispatch_uid="kyc_webhooks.bound")
    if app.configured:
        _bound_publish(app)


def _bound_publish(app: Any) -> None:
    """Give a Redis broker's sockets a timeout the app does not set itself. Celery's Redis
    transport has none by default: a broker that accepts connections but never answers (hung,
    partitioned, a half-open connection after a failover) would block ``on_deferred`` -- and the
    webhook's answer -- for ever, while iDenfy waits 10 s. With it the publish fails within a few
    seconds (Celery retries it a few times), the failure is logged and the 202 answered, and the
    sweeper handles the stored delivery (docs/scaling-out.md)."""
    current = app.conf.broker_transport_options or {}
    if all(key in current for key in _SOCKET_TIMEOUTS):
        return  # set by us before, or by the app
    if not _redis_broker(app):
        return
    transport = dict(current)
    for key in _SOCKET_TIMEOUTS:
        transport.setdefault(key, PUBLISH_TIMEOUT)
    app.conf.broker_transport_options = transport


def _redis_broker(app: Any) -> bool:
    return str(app.conf.broker_url or "").startswith(("redis://", "rediss://", "redis+socket://"))


_SOCKET_TIMEOUTS = ("socket_timeout", "socket_connect_timeout")

#: On a Redis broker the hand-off's publish is tried once, not Celery's default four times:
#: against a Redis that hangs while a pooled connection to it is open, each try waits out
#: PUBLISH_TIMEOUT (reading the reply, then connecting anew), and four held the 202 for 10.6 s --
#: past iDenfy's 10 s; two took 6 s. One takes 2 s. redis-py reconnects a connection the server
#: closed by itself, so nothing is lost to a Redis restart. Over AMQP Celery's own policy stays:
#: there a retry is what reconnects a pooled connection the broker closed (a restart, a failover),
#: and a hung broker costs the same 4 s (broker_connection_timeout) with or without it.
_RETRY_POLICY = {"max_retries": 0, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
