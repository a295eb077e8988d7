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
redelivered message is a harmless duplicate.

With an ``async def`` handler (event or decision handler) the actors are ``async`` too
(``receiver.process_async``, ``receiver.process_pending_async``) and run on the event loop of
Dramatiq's ``AsyncIO`` middleware, which ``register`` adds to the broker when it is missing.
Call ``register`` after registering the handlers: it chooses the kind of actor from them.

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
)
from ._common import logger as _logger
from ._common import run_process as _run_process
from ._common import run_process_async as _run_process_async
from ._common import run_sweep as _run_sweep
from ._common import run_sweep_async as _run_sweep_async

__all__ = ["Tasks", "register"]


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

    process: Callable[[str], object]
    sweep: Callable[[], object]
    if has_async_handlers(receiver):
        from dramatiq.middleware import AsyncIO

        if not any(isinstance(m, AsyncIO) for m in broker.middleware):
            broker.add_middleware(AsyncIO())

        async def process_async(delivery_id: str) -> None:
            await _run_process_async(receiver, delivery_id)

        async def sweep_async() -> None:
            await _run_sweep_async(receiver)

        process, sweep = process_async, sweep_async
    else:

        def process_sync(delivery_id: str) -> None:
            _run_process(receiver, delivery_id)

        def sweep_sync() -> None:
            _run_sweep(receiver)

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

    def enqueue(delivery_id: str) -> None:
        process_actor.send(delivery_id)

    receiver.on_deferred = enqueue
    return Tasks(process=process_actor, sweep=sweep_actor, enqueue=enqueue)
