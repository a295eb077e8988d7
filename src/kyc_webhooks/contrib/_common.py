"""What every queue integration shares: the bodies of its two tasks (a sync and an async kind)
and what ``register()`` returns. No queue library is imported here.

``register()`` chooses the kind from the receiver's handlers when it is called: with an ``async
def`` handler (event or decision handler) the tasks await them (``receiver.process_async``,
``receiver.process_pending_async``) on the queue's own event loop; else the tasks are plain
functions. A queue that runs no async tasks refuses such a receiver at ``register()``."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

from ..errors import ConfigurationError, DeliveryNotFoundError, StoreError
from ..outcome import Outcome, ProcessSummary, qualified_name
from ..receiver import Receiver

logger = logging.getLogger("kyc_webhooks.contrib")

#: Seconds between two sweeps (``receiver.process_pending()``) by default: lost enqueues and the
#: deliveries of crashed workers wait at most this long past their lease.
DEFAULT_SWEEP_EVERY = 60.0


@dataclass(frozen=True)
class Tasks:
    """What ``register()`` returns: the queue's ``process`` and ``sweep`` tasks (objects of the
    queue library) and ``enqueue(delivery_id)``, which ``register()`` sets as the receiver's
    ``on_deferred``. Inside a running event loop ``enqueue`` returns an awaitable (the publish
    runs off the loop: await it); elsewhere it publishes and returns ``None`` -- procrastinate's
    and Dramatiq's after waiting at most :data:`SYNC_PUBLISH_WAIT` for the publish."""

    process: Any
    sweep: Any
    enqueue: Callable[[str], object]


def off_the_loop(
    publish: Callable[[str], None], *, bounded: bool = False
) -> Callable[[str], Awaitable[None] | None]:
    """The receiver's ``on_deferred`` for a queue whose ``publish`` blocks on the broker's socket
    (Celery, Dramatiq). Called inside a running event loop (``receiver.handle_async``: FastAPI,
    any ASGI app) it returns the publish run in a worker thread, which the receiver awaits before
    its 202: a broker that is slow, down or hung (seconds, up to the publish timeouts) never
    stalls the application's other requests. Called elsewhere (``receiver.handle``) it publishes
    at once: ``bounded``, on the publishing threads, waiting at most :data:`SYNC_PUBLISH_WAIT`
    (:func:`publish_bounded`); otherwise on the caller's thread, where the queue library keeps
    state of its own (Celery's current task), and ``publish`` must bound itself (each
    integration sets its broker's timeouts and retries)."""

    def on_deferred(delivery_id: str) -> Awaitable[None] | None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # no event loop in this thread
            loop = None
        if loop is None:  # outside the except block: a failure is not "during" its RuntimeError
            if bounded:
                publish_bounded(functools.partial(publish, delivery_id), delivery_id)
            else:
                publish(delivery_id)
            return None
        # Started now, whether or not the caller awaits it (a wrapper of the user's that drops
        # the awaitable still publishes).
        pending = on_publishing_thread(loop, functools.partial(publish, delivery_id))
        pending.add_done_callback(functools.partial(_log_publish_failure, delivery_id))
        return pending

    return on_deferred


_PUBLISHER: concurrent.futures.ThreadPoolExecutor | None = None
_PUBLISHER_LOCK = threading.Lock()


def on_publishing_thread(
    loop: asyncio.AbstractEventLoop, publish: Callable[[], None]
) -> asyncio.Future[None]:
    """``publish`` -- a blocking hand-off to a broker -- started on the publishing threads, in the
    caller's context variables: not the event loop's default executor, which runs the store's
    calls too (a hung broker holding every thread of it for its publish timeouts held the
    answers of every delivery, redeliveries included; review R56)."""
    return loop.run_in_executor(_publisher(), contextvars.copy_context().run, publish)


def _forget_publisher() -> None:
    """In a forked child: the parent's publishing threads are not there, and an executor that
    believes it has idle ones never starts any -- every hand-off would wait and never publish
    (gunicorn ``--preload``, a uWSGI master that handled a delivery). A new one is made."""
    global _PUBLISHER, _PUBLISHER_LOCK
    _PUBLISHER = None
    _PUBLISHER_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_publisher)


def _publisher() -> concurrent.futures.ThreadPoolExecutor:
    global _PUBLISHER
    with _PUBLISHER_LOCK:
        if _PUBLISHER is None:
            _PUBLISHER = concurrent.futures.ThreadPoolExecutor(
                max_workers=8, thread_name_prefix="kyc-webhooks-publish"
            )
        return _PUBLISHER


#: The longest a synchronous hand-off (``receiver.handle``: Flask, a sync Django view) waits for
#: a publish with no timeout of its own before the 202 -- as ``handle_async`` waits at most
#: ``DEFERRED_WAIT`` (5 s) for an awaitable one: iDenfy gives up after 10 s.
SYNC_PUBLISH_WAIT = 5.0


def publish_bounded(publish: Callable[[], None], delivery_id: str) -> None:
    """Run ``publish`` -- a blocking hand-off that may wait on a hung or unreachable server for
    ever -- on the publishing threads, waiting at most :data:`SYNC_PUBLISH_WAIT` seconds. Its
    exception, when it ends in time, is raised here (the receiver logs it); one still running is
    left to go on, its failure logged when it ends, and the sweeper handles the delivery."""
    pending = _publisher().submit(contextvars.copy_context().run, publish)
    concurrent.futures.wait([pending], timeout=SYNC_PUBLISH_WAIT)
    if pending.done():
        pending.result()
        return
    if pending.cancel():
        # Still queued behind publishes stuck on the broker: dropped, not left to pile up and
        # flood the queue once the broker is back (or hold the process's exit).
        logger.warning(
            "hand-off to the queue not started after %g s delivery_id=%s (the publishing "
            "threads are busy); answered without it: the sweeper handles the delivery",
            SYNC_PUBLISH_WAIT,
            delivery_id,
        )
        return
    pending.add_done_callback(functools.partial(_log_publish_failure, delivery_id))
    logger.warning(
        "hand-off to the queue still running after %g s delivery_id=%s; answered without "
        "waiting (the sweeper handles the delivery if it is not enqueued)",
        SYNC_PUBLISH_WAIT,
        delivery_id,
    )


#: Hand-offs started as tasks of an event loop (:func:`started`), held until they end: the loop
#: keeps only a weak reference to a task, and one nobody awaits could vanish half-way.
_RUNNING: set[Any] = set()


def started(publish: Awaitable[None], delivery_id: str) -> Awaitable[None]:
    """``publish`` (a coroutine) started now as a task of the running event loop, whether or not
    the caller awaits what this returns -- as :func:`off_the_loop` starts its thread -- its
    failure logged by class."""
    task = asyncio.ensure_future(publish)
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    task.add_done_callback(functools.partial(_log_publish_failure, delivery_id))
    return task


def _log_publish_failure(delivery_id: str, pending: Any) -> None:
    """A failed publish, logged here whether or not anyone awaits it -- by its class only: the
    exception's text can quote the broker's URL with its password (asyncio's own report of an
    exception nobody retrieved prints it whole)."""
    if pending.cancelled():
        return
    exc = pending.exception()
    if exc is not None:
        logger.error(
            "hand-off to the queue failed delivery_id=%s error=%s; the sweeper will handle it",
            delivery_id,
            qualified_name(exc),
        )


def check_receiver(receiver: object) -> Receiver:
    if not isinstance(receiver, Receiver):
        raise ConfigurationError(
            f"register() needs a kyc_webhooks.Receiver, got {type(receiver).__name__}"
        )
    if receiver.store is None or not receiver.defer:
        raise ConfigurationError(
            "register() needs a receiver built with store=... and defer=True: the queue's task "
            "runs the handlers of deliveries the web process stored and answered 202"
        )
    return receiver


def has_async_handlers(receiver: Receiver) -> bool:
    """Whether an event or decision handler is ``async def``: the tasks must then await the
    handlers."""
    return bool(receiver.router.async_handlers())


def check_sweep_every(sweep_every: object) -> float:
    if isinstance(sweep_every, bool) or not isinstance(sweep_every, (int, float)):
        raise ConfigurationError("sweep_every must be a number of seconds")
    if not 0 < sweep_every < float("inf"):
        raise ConfigurationError("sweep_every must be a positive, finite number of seconds")
    return float(sweep_every)


def run_process(receiver: Receiver, delivery_id: object) -> None:
    """The body of every sync ``process`` task: ``receiver.process(delivery_id)``. Never raises
    for a delivery that cannot be handled now (the store's back-off and the sweeper take it from
    there), so that a queue never retries on its own; a redelivered task is a duplicate."""
    if not _valid_id(delivery_id) or not _sync_handlers(receiver, "process"):
        return
    try:
        outcome = receiver.process(delivery_id)
    except (DeliveryNotFoundError, StoreError) as exc:
        _log_not_processed(delivery_id, exc)
        return
    _log_processed(delivery_id, outcome)


async def run_process_async(receiver: Receiver, delivery_id: object) -> None:
    """The body of every async ``process`` task: ``await receiver.process_async(delivery_id)``;
    otherwise as :func:`run_process`."""
    if not _valid_id(delivery_id):
        return
    try:
        outcome = await receiver.process_async(delivery_id)
    except (DeliveryNotFoundError, StoreError) as exc:
        _log_not_processed(delivery_id, exc)
        return
    _log_processed(delivery_id, outcome)


#: The most deliveries one sweep claims (``process_pending``'s ``limit``).
SWEEP_LIMIT = 100


def run_sweep(receiver: Receiver, *, within: float | None = None) -> None:
    """The body of every sync ``sweep`` task: ``receiver.process_pending()`` -- lost enqueues,
    failed deliveries past their back-off, and deliveries whose worker died (expired lease).

    ``within``: seconds after which the sweep claims no further delivery, for a queue that
    interrupts a task after a time limit (Dramatiq's): a sweep of many slow deliveries was cut
    in the middle of a handler, which then ran again. The deliveries left wait for the next
    sweep."""
    if not _sync_handlers(receiver, "sweep"):
        return
    deadline = None if within is None else time.monotonic() + within
    outcomes: list[Outcome] = []
    try:
        while True:
            left = SWEEP_LIMIT - len(outcomes)
            summary = receiver.process_pending(limit=left if deadline is None else 1)
            outcomes.extend(summary.outcomes)
            if _swept_enough(summary, outcomes, deadline):
                break
    except StoreError as exc:
        if outcomes:  # those processed before the failure
            _log_swept(ProcessSummary(tuple(outcomes)))
        _log_sweep_failed(exc)
        return
    _log_swept(ProcessSummary(tuple(outcomes)))


async def run_sweep_async(receiver: Receiver, *, within: float | None = None) -> None:
    """The body of every async ``sweep`` task: ``await receiver.process_pending_async()``
    (``within``: as :func:`run_sweep`)."""
    deadline = None if within is None else time.monotonic() + within
    outcomes: list[Outcome] = []
    try:
        while True:
            left = SWEEP_LIMIT - len(outcomes)
            summary = await receiver.process_pending_async(limit=left if deadline is None else 1)
            outcomes.extend(summary.outcomes)
            if _swept_enough(summary, outcomes, deadline):
                break
    except StoreError as exc:
        if outcomes:  # those processed before the failure
            _log_swept(ProcessSummary(tuple(outcomes)))
        _log_sweep_failed(exc)
        return
    _log_swept(ProcessSummary(tuple(outcomes)))


def _swept_enough(summary: ProcessSummary, outcomes: list[Outcome], deadline: float | None) -> bool:
    return (
        deadline is None
        or not summary.outcomes
        or len(outcomes) >= SWEEP_LIMIT
        or time.monotonic() >= deadline
    )


def _valid_id(delivery_id: object) -> TypeGuard[str]:
    if isinstance(delivery_id, str):
        return True
    logger.error("task process: delivery id is %s, not str", type(delivery_id).__name__)
    return False


def _sync_handlers(receiver: Receiver, task: str) -> bool:
    """False (logged) when an ``async def`` handler was registered after ``register()`` chose
    sync tasks: the task then leaves the deliveries untouched (no attempt is spent on them)."""
    try:
        receiver.check(sync=True)
    except ConfigurationError as exc:
        logger.error(
            "task %s: not run, an async handler was registered after register() declared sync "
            "tasks (call register() after registering the handlers): %s",
            task,
            exc.message,
        )
        return False
    return True


def _log_not_processed(delivery_id: str, exc: DeliveryNotFoundError | StoreError) -> None:
    if isinstance(exc, DeliveryNotFoundError):
        # Purged since it was enqueued (nothing to do), or the worker reads another store than
        # the web process that stored it (a MemoryStore lives in one process).
        logger.warning(
            "task process: no stored delivery delivery_id=%s (purged since it was enqueued, or "
            "this worker's store is not the one the web process stored it in: a MemoryStore "
            "is per process)",
            delivery_id,
        )
        return
    # The record is untouched or its lease expires: the sweeper handles it later.
    logger.error(
        "task process: store failed delivery_id=%s error=%s detail=%s",
        delivery_id,
        type(exc).__name__,
        exc.message,
    )


def _log_processed(delivery_id: str, outcome: Outcome) -> None:
    logger.info(
        "task process delivery_id=%s status=%d duplicate=%s",
        delivery_id,
        outcome.status_code,
        "yes" if outcome.duplicate else "no",
    )


def _log_sweep_failed(exc: StoreError) -> None:
    logger.error("task sweep: store failed error=%s detail=%s", type(exc).__name__, exc.message)


def _log_swept(summary: ProcessSummary) -> None:
    logger.info(
        "task sweep processed=%d succeeded=%d failed=%d",
        summary.processed,
        summary.succeeded,
        summary.failed,
    )
