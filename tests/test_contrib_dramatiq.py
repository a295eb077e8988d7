"""kyc_webhooks.contrib.dramatiq end to end: a real Redis broker and a real ``dramatiq`` worker
(one process, one thread) started by the test.
The handler records its runs in a file (the worker is another process)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import pytest

import kyc_webhooks as kw
from _contrib import (
    HANDLER,
    KEY,
    Setup,
    check_async_handlers_run_once,
    check_lost_enqueue_is_swept,
    check_runs_once_and_redelivery_is_harmless,
    check_swept_once,
    logged,
    redis_app,
    require_package,
    store_unqueued,
    wait_for,
    worker,
)

APP = (
    HANDLER
    + """
from dramatiq.brokers.redis import RedisBroker

from kyc_webhooks.contrib.dramatiq import register

PREFIX = os.environ["KYC_CONTRIB_PREFIX"]
broker = RedisBroker(url=os.environ["KYC_CONTRIB_REDIS"], namespace=PREFIX)
store = kw.SQLiteStore(os.environ["KYC_CONTRIB_DB"])
receiver = kw.Receiver(kw.Idenfy(signing_key="contrib-signing-key"), store=store, defer=True)
register_handlers(receiver)
# A sweep at worker boot, then every KYC_CONTRIB_SWEEP seconds.
tasks = register(
    broker, receiver, queue_name=PREFIX, sweep_every=float(os.environ["KYC_CONTRIB_SWEEP"])
)
"""
)


@contextlib.contextmanager
def running(
    tmp_path_factory: pytest.TempPathFactory, sweep: str, name: str, *, asynchronous: bool = False
) -> Iterator[Setup]:
    """The test application (module ``name``) and its worker, sweeping on ``sweep``;
    ``asynchronous``: with ``async def`` event and decision handlers."""
    with redis_app(tmp_path_factory, "dramatiq", name, APP, sweep, asynchronous=asynchronous) as (
        app,
        tmp,
        env,
        prefix,
    ):
        # Stored while no worker runs, its enqueue lost: the sweep sent at worker boot handles it.
        before_boot = store_unqueued(app.receiver, "d-boot")
        command = [
            sys.executable,
            *("-m", "dramatiq", f"{name}:broker"),
            *("--processes", "1", "--threads", "1", "--queues", prefix),
        ]
        with worker(command, tmp, env, tmp / "worker.log") as log:
            # The sweep sent at boot: done before any test stores a delivery it could take.
            wait_for(logged(log, "task sweep processed="), "the boot sweep", log)
            yield Setup(app, tmp / "runs.txt", log, before_boot)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """The worker of most tests; its periodic sweep does not fire while they run (it would race
    the process task for the deliveries they store)."""
    with running(tmp_path_factory, "3600", "kyc_contrib_dramatiq_app") as started:
        yield started


@pytest.fixture
def periodic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """A second application and worker (own queue), sweeping every boot."""
    with running(tmp_path_factory, "3600", "kyc_contrib_dramatiq_periodic") as started:
        yield started


@pytest.fixture(scope="module")
def async_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """An application whose handlers are ``async def`` (the documented defer=True setup of an
    async web app) and its worker (own queue): the actors await them."""
    with running(
        tmp_path_factory, "3600", "kyc_contrib_dramatiq_async", asynchronous=True
    ) as started:
        yield started


def test_async_handlers_run_once_in_the_worker(async_setup: Setup) -> None:
    check_async_handlers_run_once(async_setup, "d-async")


def test_the_boot_sweep_awaits_async_handlers(async_setup: Setup) -> None:
    check_swept_once(async_setup, "the boot sweep to run the async handler")


def test_register_with_async_handlers_adds_the_asyncio_middleware_once() -> None:
    require_package("dramatiq")
    from dramatiq.brokers.stub import StubBroker
    from dramatiq.middleware import AsyncIO

    from kyc_webhooks.contrib.dramatiq import register

    broker = StubBroker()
    for name in ("kw_a", "kw_b"):
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)

        async def on_decision(decision: kw.Decision) -> None: ...

        receiver.on_decision()(on_decision)  # a decision handler is enough
        register(broker, receiver, name=name)
    assert sum(isinstance(m, AsyncIO) for m in broker.middleware) == 1
    plain = StubBroker()
    register(plain, kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True))
    assert not any(isinstance(m, AsyncIO) for m in plain.middleware)
    broker.close()
    plain.close()


def test_the_sweeper_middleware_sweeps_when_a_worker_boots(
    periodic: Setup,
) -> None:
    check_swept_once(periodic, "the boot sweep to run the handler")


def test_a_deferred_delivery_runs_once_in_the_worker_and_a_redelivered_task_is_harmless(
    setup: Setup,
) -> None:
    check_runs_once_and_redelivery_is_harmless(setup, "d-1")


def test_a_lost_enqueue_is_caught_by_the_sweeper(setup: Setup) -> None:
    # What the sweeping middleware sends every sweep_every seconds.
    check_lost_enqueue_is_swept(setup, "d-lost", lambda app: app.tasks.sweep.send())


def test_register_turns_retries_off() -> None:
    dramatiq = require_package("dramatiq")
    from dramatiq.brokers.stub import StubBroker

    from kyc_webhooks.contrib.dramatiq import register

    broker = StubBroker()
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
    tasks = register(broker, receiver, name="kw_x")
    assert receiver.on_deferred is tasks.enqueue
    assert tasks.process.actor_name == "kw_x.process"
    assert tasks.process.options["max_retries"] == 0
    assert tasks.sweep.options["max_retries"] == 0
    tasks.enqueue("delivery-id-1")
    (encoded,) = broker.queues["default"].queue
    message = dramatiq.Message.decode(encoded)
    assert (list(message.args), message.kwargs) == (["delivery-id-1"], {})  # only the id
    broker.close()


def test_register_refuses_a_receiver_without_defer() -> None:
    require_package("dramatiq")
    from dramatiq.brokers.stub import StubBroker

    from kyc_webhooks.contrib.dramatiq import register

    with pytest.raises(kw.ConfigurationError, match="defer=True"):
        register(StubBroker(), kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore()))
    deferred = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
    with pytest.raises(kw.ConfigurationError, match=r"dramatiq\.Broker"):
        register(object(), deferred)
    with pytest.raises(kw.ConfigurationError, match="sweep_every"):
        register(StubBroker(), deferred, sweep_every=0)
    assert deferred.on_deferred is None
