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
    drop_redis_prefix,
    load_app,
    logged,
    require_package,
    require_redis,
    run_token,
    runs,
    wait_for,
    worker,
)
from kyc_webhooks.testing import signed_delivery

APP = (
    HANDLER
    + """
from dramatiq.brokers.redis import RedisBroker

from kyc_webhooks.contrib.dramatiq import register

PREFIX = os.environ["KYC_CONTRIB_PREFIX"]
broker = RedisBroker(url=os.environ["KYC_CONTRIB_REDIS"], namespace=PREFIX)
store = kw.SQLiteStore(os.environ["KYC_CONTRIB_DB"])
receiver = kw.Receiver(kw.Idenfy(signing_key="contrib-signing-key"), store=store, defer=True)
receiver.on("idenfy")(record_run)
# A sweep at worker boot, then every KYC_CONTRIB_SWEEP seconds.
tasks = register(
    broker, receiver, queue_name=PREFIX, sweep_every=float(os.environ["KYC_CONTRIB_SWEEP"])
)
"""
)


@contextlib.contextmanager
def running(tmp_path_factory: pytest.TempPathFactory, sweep: str, name: str) -> Iterator[Setup]:
    """The test application (module ``name``) and its worker, sweeping on ``sweep``."""
    require_package("dramatiq")
    redis_url = require_redis()
    tmp = tmp_path_factory.mktemp(name)
    prefix = run_token()
    env = {
        "KYC_CONTRIB_SWEEP": sweep,
        "KYC_CONTRIB_PREFIX": prefix,
        "KYC_CONTRIB_REDIS": redis_url,
        "KYC_CONTRIB_DB": str(tmp / "deliveries.db"),
        "KYC_CONTRIB_RUNS": str(tmp / "runs.txt"),
    }
    (tmp / f"{name}.py").write_text(APP)
    with pytest.MonkeyPatch.context() as mp:
        for variable, value in env.items():
            mp.setenv(variable, value)
        app = load_app(tmp / f"{name}.py")
    # Stored while no worker runs, its enqueue lost: the sweep sent at worker boot handles it.
    receiver: kw.Receiver = app.receiver
    enqueue, receiver.on_deferred = receiver.on_deferred, None
    before_boot = receiver.handle(
        *signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY, scanRef="d-boot")
    )
    receiver.on_deferred = enqueue
    assert before_boot.status_code == 202
    assert before_boot.delivery_key is not None
    command = [
        sys.executable,
        *("-m", "dramatiq", f"{name}:broker"),
        *("--processes", "1", "--threads", "1", "--queues", prefix),
    ]
    try:
        with worker(command, tmp, env, tmp / "worker.log") as log:
            # The sweep sent at boot: done before any test stores a delivery it could take.
            wait_for(logged(log, "task sweep processed="), "the boot sweep", log)
            yield Setup(app, tmp / "runs.txt", log, before_boot.delivery_key)
    finally:
        app.store.close()
        sys.modules.pop(name, None)
        drop_redis_prefix(prefix)


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


def test_the_sweeper_middleware_sweeps_when_a_worker_boots(
    periodic: Setup,
) -> None:
    _app, runs_file, log, key = periodic
    wait_for(lambda: key in runs(runs_file), "the boot sweep to run the handler", log)
    assert runs(runs_file).count(key) == 1


def test_a_deferred_delivery_runs_once_in_the_worker_and_a_redelivered_task_is_harmless(
    setup: Setup,
) -> None:
    app, runs_file, log, _ = setup
    receiver: kw.Receiver = app.receiver
    body, headers = signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY, scanRef="d-1")
    outcome = receiver.handle(body, headers)
    assert outcome.status_code == 202
    key = outcome.delivery_key
    delivery_id = outcome.delivery_id
    assert key is not None
    assert delivery_id is not None
    wait_for(lambda: key in runs(runs_file), "the worker to run the handler", log)
    wait_for(logged(log, f"delivery_id={delivery_id} status=200 duplicate=no"), "the task", log)
    # The broker delivers the task again (a redelivery): a duplicate, the handler does not run.
    app.tasks.enqueue(delivery_id)
    wait_for(logged(log, f"delivery_id={delivery_id} status=200 duplicate=yes"), "redelivery", log)
    assert runs(runs_file).count(key) == 1
    record = receiver.store.get(delivery_id) if receiver.store else None
    assert record is not None
    assert record.done


def test_a_lost_enqueue_is_caught_by_the_sweeper(setup: Setup) -> None:
    app, runs_file, log, _ = setup
    receiver: kw.Receiver = app.receiver
    enqueue = receiver.on_deferred
    receiver.on_deferred = None  # the enqueue is lost
    try:
        body, headers = signed_delivery(
            "idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY, scanRef="d-lost"
        )
        outcome = receiver.handle(body, headers)
    finally:
        receiver.on_deferred = enqueue
    assert outcome.status_code == 202
    key = outcome.delivery_key
    assert key is not None
    assert key not in runs(runs_file)
    app.tasks.sweep.send()  # what the sweeping middleware sends every sweep_every seconds
    wait_for(lambda: key in runs(runs_file), "the sweeper to run the handler", log)
    wait_for(logged(log, "task sweep processed="), "the sweep to finish", log)
    assert runs(runs_file).count(key) == 1


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
