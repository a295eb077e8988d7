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
    check_lost_enqueue_is_swept,
    check_runs_once_and_redelivery_is_harmless,
    check_swept_once,
    redis_app,
    require_package,
    store_unqueued,
    worker,
)

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
register_handlers(receiver)
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
    with redis_app(tmp_path_factory, "celery", name, APP, sweep) as (app, tmp, env, _):
        # Stored while no worker runs, its enqueue lost: a sweep sent by beat handles it.
        before_boot = store_unqueued(app.receiver, "c-boot")
        command = [
            sys.executable,
            *("-m", "celery", "-A", name, "worker", "-P", "solo"),
            *("--loglevel", "INFO", "--without-mingle", "--without-gossip", "--without-heartbeat"),
            *("-B", "--schedule", str(tmp / "beat-schedule")),
        ]
        with worker(command, tmp, env, tmp / "worker.log") as log:
            yield Setup(app, tmp / "runs.txt", log, before_boot)


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
    check_swept_once(periodic, "a sweep from beat to run the handler")


def test_a_deferred_delivery_runs_once_in_the_worker_and_a_redelivered_task_is_harmless(
    setup: Setup,
) -> None:
    check_runs_once_and_redelivery_is_harmless(setup, "c-1")


def test_a_lost_enqueue_is_caught_by_the_sweeper(setup: Setup) -> None:
    # What beat sends every sweep_every seconds.
    check_lost_enqueue_is_swept(setup, "c-lost", lambda app: app.tasks.sweep.delay())


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


def test_register_refuses_async_handlers() -> None:
    # Celery's tasks are synchronous: an async event or decision handler could only fail every
    # delivery in the worker, so register() refuses it, naming the handler.
    celery = require_package("celery")
    app = celery.Celery("kw-async-test", broker="memory://", set_as_current=False)
    from kyc_webhooks.contrib.celery import register

    async def on_event(event: kw.WebhookEvent) -> None: ...

    async def on_decision(decision: kw.Decision) -> None: ...

    for name in ("on_event", "on_decision"):
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
        if name == "on_event":
            receiver.on("idenfy")(on_event)
        else:
            receiver.on_decision()(on_decision)
        with pytest.raises(kw.ConfigurationError, match=rf"Celery .*{name}"):
            register(app, receiver, name=f"kw_{name}")
        assert receiver.on_deferred is None  # nothing half-registered


@contextlib.contextmanager
def _hung_broker() -> Iterator[int]:
    """A loopback TCP server that accepts connections and reads, and never answers: a hung or
    partitioned broker. Yields its port."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()
    accepted: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            accepted.append(conn)  # read nothing, answer nothing

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
        for conn in accepted:
            conn.close()


def test_a_hung_broker_still_gets_the_202_within_the_vendors_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Celery's Redis transport has no socket timeout of its own: a broker that accepts the
    connection and never answers blocked the hand-off -- and the webhook's answer -- for ever.
    register() bounds it (PUBLISH_TIMEOUT): the delivery is stored, answered 202 well within
    iDenfy's 10 s, the failure logged, the sweeper handles it later."""
    import threading
    import time

    celery = require_package("celery")
    from kyc_webhooks.contrib.celery import register
    from kyc_webhooks.testing import signed_delivery

    with _hung_broker() as port:
        app = celery.Celery(
            "kw-hung-test", broker=f"redis://127.0.0.1:{port}/0", set_as_current=False
        )
        store = kw.MemoryStore()
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, defer=True)
        register(app, receiver, name="kw_hung")
        body, headers = signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY)
        answers: list[kw.Outcome] = []
        started = time.monotonic()
        handling = threading.Thread(
            target=lambda: answers.append(receiver.handle(body, headers)), daemon=True
        )
        handling.start()
        handling.join(timeout=30)
        took = time.monotonic() - started
    assert answers, "the hand-off to a hung broker never returned"
    assert answers[0].status_code == 202
    assert took < 9, f"answered after {took:.1f} s"
    assert store.get(answers[0].delivery_id or "") is not None
    assert "on_deferred failed" in caplog.text
