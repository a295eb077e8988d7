"""What every queue integration shares: the bodies of its two tasks and what ``register()``
returns. No queue library is imported here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError, DeliveryNotFoundError, StoreError
from ..receiver import Receiver

logger = logging.getLogger("kyc_webhooks.contrib")

#: Seconds between two sweeps (``receiver.process_pending()``) by default: lost enqueues and the
#: deliveries of crashed workers wait at most this long past their lease.
DEFAULT_SWEEP_EVERY = 60.0


@dataclass(frozen=True)
class Tasks:
    """What ``register()`` returns: the queue's ``process`` and ``sweep`` tasks (objects of the
    queue library) and ``enqueue(delivery_id)``, which the receiver's ``on_deferred`` calls."""

    process: Any
    sweep: Any
    enqueue: Callable[[str], None]


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


def check_sweep_every(sweep_every: object) -> float:
    if isinstance(sweep_every, bool) or not isinstance(sweep_every, (int, float)):
        raise ConfigurationError("sweep_every must be a number of seconds")
    if not 0 < sweep_every < float("inf"):
        raise ConfigurationError("sweep_every must be a positive, finite number of seconds")
    return float(sweep_every)


def run_process(receiver: Receiver, delivery_id: object) -> None:
    """The body of every ``process`` task: ``receiver.process(delivery_id)``. Never raises for a
    delivery that cannot be handled now (the store's back-off and the sweeper take it from
    there), so that a queue never retries on its own; a redelivered task is a duplicate."""
    if not isinstance(delivery_id, str):
        logger.error("task process: delivery id is %s, not str", type(delivery_id).__name__)
        return
    try:
        outcome = receiver.process(delivery_id)
    except DeliveryNotFoundError:
        # Purged or erased since it was enqueued: nothing to do.
        logger.warning("task process: no stored delivery delivery_id=%s", delivery_id)
        return
    except StoreError as exc:
        # The record is untouched or its lease expires: the sweeper handles it later.
        logger.error(
            "task process: store failed delivery_id=%s error=%s detail=%s",
            delivery_id,
            type(exc).__name__,
            exc.message,
        )
        return
    logger.info(
        "task process delivery_id=%s status=%d duplicate=%s",
        delivery_id,
        outcome.status_code,
        "yes" if outcome.duplicate else "no",
    )


def run_sweep(receiver: Receiver) -> None:
    """The body of every ``sweep`` task: ``receiver.process_pending()`` -- lost enqueues, failed
    deliveries past their back-off, and deliveries whose worker died (expired lease)."""
    try:
        summary = receiver.process_pending()
    except StoreError as exc:
        logger.error("task sweep: store failed error=%s detail=%s", type(exc).__name__, exc.message)
        return
    logger.info(
        "task sweep processed=%d succeeded=%d failed=%d",
        summary.processed,
        summary.succeeded,
        summary.failed,
    )
