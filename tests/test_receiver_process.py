"""receiver.process(delivery_id): one stored delivery's handlers, run by a worker's task with the
exactly-once guarantee of handle() -- on every store of the contract suite."""

from __future__ import annotations

import asyncio

import pytest

import kyc_webhooks as kw
from _stores import FakeClock
from kyc_webhooks.store import Store
from kyc_webhooks.testing import signed_delivery

KEY = "process-key"


def deferred(
    store: Store, calls: list[str], *, fail_first: bool = False
) -> tuple[kw.Receiver, str]:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, defer=True)

    @receiver.on("idenfy")
    def handler(event: kw.WebhookEvent) -> None:
        calls.append(event.delivery_key)
        if fail_first and len(calls) == 1:
            raise RuntimeError("downstream unavailable")

    outcome = receiver.handle(*signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY))
    assert outcome.status_code == 202
    assert outcome.delivery_id is not None
    return receiver, outcome.delivery_id


def test_process_runs_the_handlers_once_and_a_redelivered_task_is_a_duplicate(store: Store) -> None:
    calls: list[str] = []
    receiver, delivery_id = deferred(store, calls)
    first = receiver.process(delivery_id)
    assert first.status_code == 200
    assert not first.duplicate
    assert len(calls) == 1
    record = store.get(delivery_id)
    assert record is not None
    assert record.done
    again = receiver.process(delivery_id)
    assert again.status_code == 200
    assert again.duplicate
    assert len(calls) == 1


def test_process_answers_in_progress_while_another_worker_holds_the_lease(
    store: Store, clock: FakeClock
) -> None:
    calls: list[str] = []
    receiver, delivery_id = deferred(store, calls)
    held = store.claim(delivery_id, lease=30)
    assert held is not None
    outcome = receiver.process(delivery_id)
    assert outcome.status_code == 503
    assert isinstance(outcome.error, kw.DeliveryInProgressError)
    assert outcome.retry_after == 30
    assert calls == []
    clock.advance(31)  # the other worker died: its lease expired
    assert receiver.process(delivery_id).status_code == 200
    assert len(calls) == 1


def test_a_failed_delivery_waits_for_its_back_off(store: Store, clock: FakeClock) -> None:
    calls: list[str] = []
    receiver, delivery_id = deferred(store, calls, fail_first=True)
    failed = receiver.process(delivery_id)
    assert failed.status_code == 500
    record = store.get(delivery_id)
    assert record is not None
    assert record.state is kw.DeliveryState.FAILED
    assert record.not_before is not None
    waiting = receiver.process(delivery_id)
    assert waiting.status_code == 503
    assert waiting.retry_after is not None
    assert waiting.retry_after >= 1
    assert len(calls) == 1
    clock.current = record.not_before
    assert receiver.process(delivery_id).status_code == 200
    assert len(calls) == 2
    done = store.get(delivery_id)
    assert done is not None
    assert done.done


def test_process_of_an_unknown_id_raises(store: Store) -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, defer=True)
    with pytest.raises(kw.DeliveryNotFoundError):
        receiver.process("0" * 32)


def test_process_needs_a_store() -> None:
    with pytest.raises(kw.UsageError):
        kw.Receiver(kw.Idenfy(signing_key=KEY)).process("0" * 32)


def test_process_async_awaits_async_handlers(store: Store) -> None:
    calls: list[str] = []
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, defer=True)

    @receiver.on("idenfy")
    async def handler(event: kw.WebhookEvent) -> None:
        calls.append(event.delivery_key)

    outcome = receiver.handle(*signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY))
    assert outcome.delivery_id is not None
    first = asyncio.run(receiver.process_async(outcome.delivery_id))
    again = asyncio.run(receiver.process_async(outcome.delivery_id))
    assert (first.status_code, again.status_code, again.duplicate) == (200, 200, True)
    assert len(calls) == 1
