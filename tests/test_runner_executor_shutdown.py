"""Async entry points outlive the event loop's default executor refusing work -- what happens to a
Dramatiq worker after a second SIGTERM (the interpreter shuts down while the AsyncIO middleware's
event-loop thread runs on; ``concurrent.futures`` then refuses new work) or to a loop whose
executor was shut down.

Was (review R36): the handlers ran, the completion could not be scheduled ("cannot schedule new
futures after shutdown"), the record stayed ``processing``, and once its lease expired another
worker ran the event handler and the decision handler again."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import kyc_webhooks as kw
from kyc_webhooks.testing import signed_delivery

KEY = "executor-shutdown-key"


def test_handlers_that_ran_are_recorded_when_the_executor_refuses_work(tmp_path: Path) -> None:
    store = kw.SQLiteStore(tmp_path / "inbox.sqlite3")
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, defer=True, lease_timeout=1)
    runs: list[str] = []
    decided: list[kw.DecisionStatus] = []
    shutting_down = [True]

    @receiver.on("idenfy")
    async def handler(event: kw.WebhookEvent) -> None:
        runs.append(event.delivery_key)
        if shutting_down[0]:  # the worker stops while the handler runs
            await asyncio.get_running_loop().shutdown_default_executor()

    @receiver.on_decision()
    async def on_decision(decision: kw.Decision) -> None:
        decided.append(decision.status)

    delivery = signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY)
    answered = receiver.handle(*delivery)
    assert answered.status_code == 202
    assert answered.delivery_id is not None

    outcome = asyncio.run(receiver.process_async(answered.delivery_id))
    assert outcome.status_code == 200
    record = store.get(answered.delivery_id)
    assert record is not None
    assert record.done
    shutting_down[0] = False
    time.sleep(1.2)  # past the lease: a record left processing would be handled again now
    assert asyncio.run(receiver.process_pending_async()).processed == 0
    assert len(runs) == 1
    assert len(decided) == 1
    store.close()
