"""Dramatiq (docs/scaling-out.md, "Workers")::

    from kyc_webhooks.contrib.dramatiq import register

    receiver = kw.Receiver(kw.Idenfy(signing_key=...), store=store, defer=True)
    tasks = register(broker, receiver)

declares the actors ``<name>.process`` (``receiver.process(delivery_id)``) and ``<name>.sweep``
(``receiver.process_pending()``) and makes the receiver's ``on_deferred`` send the process
message. Dramatiq has no scheduler of its own, so ``register`` adds a small middleware to the
broker: in every worker process a thread sends the sweep message at boot and then every
``sweep_every`` seconds (several worker processes sweep several times; a sweep only claims what
is due, so that costs a query each). Only the delivery id goes to the broker. The actors'
retries are off (``max_retries=0``): the store's back-off is the only retry policy, and a
redelivered message is a harmless duplicate. Dramatiq interrupts an actor after its time limit
(10 minutes by default, the ``TimeLimit`` middleware): a sweep claims no further delivery after
half of its own, so a handler claimed then has the other half. A handler that may run longer
needs a larger ``time_limit`` (milliseconds) on both actors -- ``tasks.process.options`` and
``tasks.sweep.options``: the sweep runs the retries.

With an ``async def`` handler (event or decision handler) the actors are ``async`` too
(``receiver.process_async``, ``receiver.process_pending_async``) and run on the event loop of
Dramatiq's ``AsyncIO`` middleware, which ``register`` adds to the broker when it is missing.
Call ``register`` after registering the handlers: it chooses the kind of actor from them.

On a ``RabbitmqBroker`` ``register`` bounds the connections' socket and handshake timeouts
(:data:`PUBLISH_TIMEOUT`) and, with ``confirm_delivery=True``, how long one may stay blocked by
the server (:data:`BLOCKED_TIMEOUT`), where the broker's pika parameters leave pika's defaults:
a hung or blocked RabbitMQ then cannot hold the webhook's 202 past the vendor's timeout. Set
``confirm_delivery`` when the broker is built, before ``register``: it reads the flag once.

Dramatiq is imported by :func:`register` only (``pip install -e ".[dramatiq]"``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..errors import ConfigurationError
from ..receiver import Receiver
from ._common import (
    DEFAULT_SWEEP_EVERY,
    Tasks,
    check_receiver,
    check_sweep_every,
    has_async_handlers,
    off_the_loop,
)
from ._common import logger as _logger
from ._common import run_process as _run_process
from ._common import run_process_async as _run_process_async
from ._common import run_sweep as _run_sweep
from ._common import run_sweep_async as _run_sweep_async

__all__ = ["BLOCKED_TIMEOUT", "PUBLISH_TIMEOUT", "Tasks", "register"]

#: Seconds a RabbitMQ broker's connection may take to open (the socket, then the AMQP handshake)
#: before the publish fails, unless the broker's pika parameters set their own: the hand-off runs
#: before the 202.
PUBLISH_TIMEOUT = 2.0

#: Seconds a connection of a RabbitMQ broker with ``confirm_delivery=True`` may stay blocked by
#: the server (a memory or disk alarm) before pika tears it down, unless its parameters set their
#: own: Dramatiq tries an enqueue up to ``MAX_ENQUEUE_ATTEMPTS`` (6) times, each on a new
#: connection that the server blocks again, so a blocked broker answers in about 6 s.
BLOCKED_TIMEOUT = 1.0


def register(
    broker: Any,
    receiver: Receiver,
    *,
    name: str = "kyc_webhooks",
    queue_name: str = "default",
    sweep_every: float = DEFAULT_SWEEP_EVERY,
) -> Tasks:
    """Declare the process and sweep actors of ``receiver`` on the Dramatiq ``broker``, add the
    sweeping middleware, and set ``receiver.on_deferred``."""
    try:
        import dramatiq
        from dramatiq.middleware import Middleware
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'kyc_webhooks.contrib.dramatiq needs Dramatiq: pip install -e ".[dramatiq]"'
        ) from exc
    receiver = check_receiver(receiver)
    every = check_sweep_every(sweep_every)
    if not isinstance(broker, dramatiq.Broker):
        raise ConfigurationError(f"register() needs a dramatiq.Broker, got {type(broker).__name__}")

    _bound_publish(broker)
    process: Callable[[str], object]
    sweep: Callable[[], object]
    if has_async_handlers(receiver):
        from dramatiq.middleware import AsyncIO

        if not any(isinstance(m, AsyncIO) for m in broker.middleware):
            broker.add_middleware(AsyncIO())

        async def process_async(delivery_id: str) -> None:
            await _run_process_async(receiver, delivery_id)

        async def sweep_async() -> None:
            await _run_sweep_async(receiver, within=_sweep_time(broker, sweep_actor))

        process, sweep = process_async, sweep_async
    else:

        def process_sync(delivery_id: str) -> None:
            _run_process(receiver, delivery_id)

        def sweep_sync() -> None:
            _run_sweep(receiver, within=_sweep_time(broker, sweep_actor))

        process, sweep = process_sync, sweep_sync

    options: dict[str, Any] = {"broker": broker, "queue_name": queue_name, "max_retries": 0}
    process_actor = dramatiq.actor(actor_name=f"{name}.process", **options)(process)
    sweep_actor = dramatiq.actor(actor_name=f"{name}.sweep", **options)(sweep)

    class Sweeper(Middleware):  # type: ignore[misc,unused-ignore]  # Any without dramatiq
        """Sends the sweep message at worker boot, then every ``sweep_every`` seconds."""

        def __init__(self) -> None:
            self._stop = threading.Event()
            self._thread: threading.Thread | None = None

        def after_worker_boot(self, broker: Any, worker: Any) -> None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"{name}-sweeper", daemon=True)
            self._thread.start()

        def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
            self._stop.set()
            if self._thread is not None:
                self._thread.join(timeout=5)

        def _run(self) -> None:
            while True:
                try:
                    sweep_actor.send()
                except Exception as exc:  # the broker is down: try again next time
                    _logger.error("sweeper: sending failed error=%s", type(exc).__name__)
                if self._stop.wait(every):
                    return

    broker.add_middleware(Sweeper())

    def publish(delivery_id: str) -> None:
        process_actor.send(delivery_id)

    # Bounded by a wait, not only by the broker's timeouts: the first send of a process asks a
    # Redis broker for its Lua stack size under a lock of Dramatiq's own, and the concurrent
    # hand-offs of a web process started while Redis hangs waited for it in turn, 5 s each.
    receiver.on_deferred = enqueue = off_the_loop(publish, bounded=True)
    return Tasks(process=process_actor, sweep=sweep_actor, enqueue=enqueue)


def _sweep_time(broker: Any, actor: Any) -> float | None:
    """Seconds a sweep may go on claiming deliveries: half the sweep actor's time limit -- its
    own ``time_limit`` option, else the broker's ``TimeLimit`` middleware's (10 minutes by
    default) -- after which Dramatiq raises an exception into the actor's thread, in the middle
    of whatever handler runs (which then runs again after the store's back-off). None without
    the middleware. Read at each sweep: the option may be set after ``register()``."""
    from dramatiq.middleware import TimeLimit

    for middleware in broker.middleware:
        if isinstance(middleware, TimeLimit):
            limit = actor.options.get("time_limit") or middleware.time_limit
            return float(limit) / 1000 / 2 if limit else None
    return None


def _bound_publish(broker: Any) -> None:
    """Give a RabbitMQ broker's connections timeouts its pika parameters leave at pika's
    defaults. With those (a 10 s socket timeout, 15 s for the AMQP handshake, no bound on a
    blocked connection) a broker that accepts the connection and never answers held
    ``on_deferred`` -- and the webhook's answer -- for 15 s, past iDenfy's 10 s; with
    ``confirm_delivery=True`` a server under a memory or disk alarm (it blocks publishers) held it
    for ever. With them the publish fails within a few seconds, the failure is logged and the 202
    answered, and the sweeper handles the stored delivery (docs/scaling-out.md)."""
    try:
        from dramatiq.brokers.rabbitmq import RabbitmqBroker
    except ImportError:  # pika is not installed: not a RabbitMQ broker
        return
    if not isinstance(broker, RabbitmqBroker):
        return
    confirm = bool(broker.confirm_delivery)
    parameters = broker.parameters if isinstance(broker.parameters, list) else [broker.parameters]
    for each in parameters:
        if each.socket_timeout == each.DEFAULT_SOCKET_TIMEOUT:
            each.socket_timeout = PUBLISH_TIMEOUT
        if each.stack_timeout == each.DEFAULT_STACK_TIMEOUT:
            each.stack_timeout = PUBLISH_TIMEOUT
        if confirm and each.blocked_connection_timeout == each.DEFAULT_BLOCKED_CONNECTION_TIMEOUT:
            each.blocked_connection_timeout = BLOCKED_TIMEOUT
