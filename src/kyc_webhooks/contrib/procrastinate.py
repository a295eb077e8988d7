"""Procrastinate, a task queue in PostgreSQL (docs/scaling-out.md, "Workers")::

    from kyc_webhooks.contrib.procrastinate import register

    receiver = kw.Receiver(kw.Idenfy(signing_key=...), store=store, defer=True)
    tasks = register(app, receiver)
    app.open()            # the web process defers jobs synchronously: open the app at startup

declares the tasks ``<name>.process`` (``receiver.process(delivery_id)``) and ``<name>.sweep``
(``receiver.process_pending()``, a periodic task on ``sweep_cron``, every minute by default; the
worker defers it), and makes the receiver's ``on_deferred`` defer the process job. Only the
delivery id goes into the job. Retries are off (procrastinate's default, kept): the store's
back-off is the only retry policy, and a job run twice is a harmless duplicate.

The job is deferred in a transaction of its own, after the delivery's insert has committed, not
in the same transaction: the store's ``add`` is one autocommitted statement on the store's own
pool and offers no hook for a second statement. A crash between the two (or a failed defer)
leaves a stored delivery without a job; the sweeper handles it at its next run.

Procrastinate is imported by :func:`register` only
(``pip install -e ".[procrastinate]"``).
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigurationError
from ..receiver import Receiver
from ._common import Tasks, check_receiver
from ._common import run_process as _run_process
from ._common import run_sweep as _run_sweep

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
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "kyc_webhooks.contrib.procrastinate needs procrastinate: "
            'pip install -e ".[procrastinate]"'
        ) from exc
    receiver = check_receiver(receiver)
    if not isinstance(app, procrastinate.App):
        raise ConfigurationError(f"register() needs a procrastinate.App, got {type(app).__name__}")

    def process(delivery_id: str) -> None:
        _run_process(receiver, delivery_id)

    def sweep(timestamp: int | None = None) -> None:
        # ``timestamp``: the schedule slot procrastinate passes to periodic tasks (unused).
        _run_sweep(receiver)

    process_task = app.task(name=f"{name}.process", queue=queue, retry=False)(process)
    sweep_task = app.task(name=f"{name}.sweep", queue=queue, retry=False)(sweep)
    app.periodic(cron=sweep_cron, periodic_id=f"{name}.sweep")(sweep_task)

    def enqueue(delivery_id: str) -> None:
        process_task.defer(delivery_id=delivery_id)

    receiver.on_deferred = enqueue
    return Tasks(process=process_task, sweep=sweep_task, enqueue=enqueue)
