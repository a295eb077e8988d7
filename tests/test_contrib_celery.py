"""kyc_webhooks.contrib.celery end to end: a real Redis broker and a real ``celery worker -P solo``
started by the test. The handler records its runs in a file (the worker is another process)."""

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
from celery import Celery

from kyc_webhooks.contrib.celery import register

PREFIX = os.environ["KYC_CONTRIB_PREFIX"]
app = Celery("kyc_contrib_celery_app", broker=os.environ["KYC_CONTRIB_REDIS"])
app.conf.update(
    task_default_queue=PREFIX,
    broker_transport_options={"global_keyprefix": PREFIX + ":"},
    worker_enable_remote_control=False,
    worker_hijack_root_logger=True,
    broker_connection_retry_on_startup=True,
)
store = kw.SQLiteStore(os.environ["KYC_CONTRIB_DB"])
receiver = kw.Receiver(kw.Idenfy(signing_key="contrib-signing-key"), store=store, defer=True)
receiver.on("idenfy")(record_run)
# Beat (-B, started for the periodic test only) sends the sweep every KYC_CONTRIB_SWEEP s.
# Task names of this run (two test applications share the pytest process).
tasks = register(
    app, receiver, name=PREFIX.replace("-", "_"), sweep_every=float(os.environ["KYC_CONTRIB_SWEEP"])
)
"""
)


@contextlib.contextmanager
def running(tmp_path_factory: pytest.TempPathFactory, sweep: str, name: str) -> Iterator[Setup]:
    """The test application (module ``name``) and its worker, sweeping on ``sweep``."""
    require_package("celery")
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
    # Stored while no worker runs, its enqueue lost: a sweep sent by beat handles it.
    receiver: kw.Receiver = app.receiver
    enqueue, receiver.on_deferred = receiver.on_deferred, None
    before_boot = receiver.handle(
        *signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY, scanRef="c-boot")
    )
    receiver.on_deferred = enqueue
    assert before_boot.status_code == 202
    assert before_boot.delivery_key is not None
    command = [
        sys.executable,
        *("-m", "celery", "-A", name, "worker", "-P", "solo"),
        *("--loglevel", "INFO", "--without-mingle", "--without-gossip", "--without-heartbeat"),
        *("-B", "--schedule", str(tmp / "beat-schedule")),
    ]
    try:
        with worker(command, tmp, env, tmp / "worker.log") as log:
            yield Setup(app, tmp / "runs.txt", log, before_boot.delivery_key)
    finally:
        app.store.close()
        sys.modules.pop(name, None)
        drop_redis_prefix(prefix)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """The worker of most tests; its periodic sweep does not fire while they run (it would race
    the process task for the deliveries they store)."""
    with running(tmp_path_factory, "3600", "kyc_contrib_celery_app") as started:
        yield started


@pytest.fixture
def periodic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """A second application and worker (own queue), sweeping every second."""
    with running(tmp_path_factory, "1", "kyc_contrib_celery_periodic") as started:
        yield started


def test_beat_sends_the_periodic_sweep(periodic: Setup) -> None:
    _app, runs_file, log, key = periodic
    wait_for(lambda: key in runs(runs_file), "a sweep from beat to run the handler", log)
    assert runs(runs_file).count(key) == 1


def test_a_deferred_delivery_runs_once_in_the_worker_and_a_redelivered_task_is_harmless(
    setup: Setup,
) -> None:
    app, runs_file, log, _ = setup
    receiver: kw.Receiver = app.receiver
    body, headers = signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY, scanRef="c-1")
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
            "idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY, scanRef="c-lost"
        )
        outcome = receiver.handle(body, headers)
    finally:
        receiver.on_deferred = enqueue
    assert outcome.status_code == 202
    key = outcome.delivery_key
    assert key is not None
    assert key not in runs(runs_file)
    app.tasks.sweep.delay()  # what beat sends every sweep_every seconds
    wait_for(lambda: key in runs(runs_file), "the sweeper to run the handler", log)
    wait_for(logged(log, "task sweep processed="), "the sweep to finish", log)
    assert runs(runs_file).count(key) == 1


def test_register_schedules_the_sweeper_and_turns_retries_off() -> None:
    celery = require_package("celery")
    app = celery.Celery("kw-schedule-test", broker="memory://", set_as_current=False)
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
    from kyc_webhooks.contrib.celery import register

    tasks = register(app, receiver, name="kw_x", sweep_every=30)
    assert receiver.on_deferred is tasks.enqueue
    app.loader.import_default_modules()
    app.finalize()
    entry = app.conf.beat_schedule["kw_x.sweep"]
    assert entry["task"] == "kw_x.sweep"
    assert entry["schedule"] == 30.0
    assert tasks.process.max_retries == 0
    assert tasks.process.name == "kw_x.process"
    assert tasks.process.ignore_result


def test_register_refuses_a_receiver_without_defer() -> None:
    celery = require_package("celery")
    app = celery.Celery("kw-refuse-test", broker="memory://", set_as_current=False)
    from kyc_webhooks.contrib.celery import register

    with pytest.raises(kw.ConfigurationError, match="defer=True"):
        register(app, kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore()))
    deferred = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
    with pytest.raises(kw.ConfigurationError, match=r"celery\.Celery app"):
        register(object(), deferred)
    for every in (0, -1, float("inf"), True, "60"):
        with pytest.raises(kw.ConfigurationError, match="sweep_every"):
            register(app, deferred, sweep_every=every)  # type: ignore[arg-type]
    assert deferred.on_deferred is None  # nothing half-registered
