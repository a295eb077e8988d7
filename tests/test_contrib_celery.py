"""kyc_webhooks.contrib.celery end to end: a real broker (Redis, and RabbitMQ over py-amqp) and a
real ``celery worker -P solo`` started by the test. The handler records its runs in a file (the
worker is another process)."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from _contrib import (
    BROKERS,
    HANDLER,
    KEY,
    Proxy,
    Setup,
    broker_app,
    check_a_killed_worker_loses_nothing,
    check_answered_in_time,
    check_loop_not_blocked,
    check_lost_enqueue_is_swept,
    check_runs_once_and_redelivery_is_harmless,
    check_swept_once,
    closed_port,
    drop_rabbitmq_names,
    drop_redis_prefix,
    freezable_proxy,
    hung_broker,
    require_package,
    require_rabbitmq,
    require_redis,
    run_token,
    store_unqueued,
    worker,
)
from kyc_webhooks.testing import signed_delivery

APP = (
    HANDLER
    + """
from celery import Celery

from kyc_webhooks.contrib.celery import register

PREFIX = os.environ["KYC_CONTRIB_PREFIX"]
BROKER = os.environ["KYC_CONTRIB_BROKER"]
app = Celery("kyc_contrib_celery_app", broker=BROKER)
app.conf.update(
    # On RabbitMQ: a queue, and a direct exchange of the same name, of this run.
    task_default_queue=PREFIX,
    worker_enable_remote_control=False,
    worker_hijack_root_logger=True,
    broker_connection_retry_on_startup=True,
)
if BROKER.startswith("redis"):
    app.conf.broker_transport_options = {"global_keyprefix": PREFIX + ":"}
# What the test deletes on RabbitMQ afterwards: queues, exchanges.
BROKER_NAMES = ([PREFIX], [PREFIX])
store = kw.SQLiteStore(os.environ["KYC_CONTRIB_DB"])
receiver = kw.Receiver(
    kw.Idenfy(signing_key="contrib-signing-key"),
    store=store,
    defer=True,
    lease_timeout=float(os.environ["KYC_CONTRIB_LEASE"]),
)
register_handlers(receiver)
# Beat (-B, started for the periodic test only) sends the sweep every KYC_CONTRIB_SWEEP s.
# Task names of this run (two test applications share the pytest process).
tasks = register(
    app, receiver, name=PREFIX.replace("-", "_"), sweep_every=float(os.environ["KYC_CONTRIB_SWEEP"])
)


def close_broker() -> None:
    app.close()
"""
)


def celery_worker(
    name: str, tmp: Path, env: dict[str, str], log: Path
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """A ``celery worker -P solo`` (with beat) of the test application ``name``."""
    command = [
        sys.executable,
        *("-m", "celery", "-A", name, "worker", "-P", "solo"),
        *("--loglevel", "INFO", "--without-mingle", "--without-gossip", "--without-heartbeat"),
        *("-B", "--schedule", str(tmp / f"beat-schedule-{log.stem}")),
    ]
    return worker(command, tmp, env, log)


@contextlib.contextmanager
def running(
    tmp_path_factory: pytest.TempPathFactory,
    sweep: str,
    name: str,
    broker: str,
    *,
    lease: str = "60",
) -> Iterator[tuple[Setup, subprocess.Popen[bytes], Path, dict[str, str]]]:
    """The test application (module ``name``) on ``broker`` and its worker, sweeping on
    ``sweep``; also the worker process, the application's directory and environment."""
    name = f"{name}_{broker}"
    with broker_app(tmp_path_factory, "celery", name, APP, sweep, broker, lease=lease) as (
        app,
        tmp,
        env,
        _,
    ):
        # Stored while no worker runs, its enqueue lost: a sweep sent by beat handles it.
        before_boot = store_unqueued(app.receiver, "c-boot")
        log = tmp / "worker.log"
        with celery_worker(name, tmp, env, log) as process:
            yield Setup(app, tmp / "runs.txt", log, before_boot), process, tmp, env


@pytest.fixture(scope="module", params=BROKERS)
def setup(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Setup]:
    """The worker of most tests, on each broker; its periodic sweep does not fire while they run
    (it would race the process task for the deliveries they store)."""
    with running(tmp_path_factory, "3600", "kyc_contrib_celery_app", request.param) as started:
        yield started[0]


@pytest.fixture(params=BROKERS)
def periodic(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Setup]:
    """A second application and worker (own queue), sweeping every second."""
    with running(tmp_path_factory, "1", "kyc_contrib_celery_periodic", request.param) as started:
        yield started[0]


@pytest.mark.parametrize("broker", BROKERS)
def test_a_worker_killed_mid_handler_loses_nothing(
    tmp_path_factory: pytest.TempPathFactory, broker: str
) -> None:
    """SIGKILL in the middle of the handler (acks_late=False: the broker forgot the task when it
    started): the claim's lease expires (2 s here), beat's sweep in a new worker finishes the
    delivery, and the handler completes once."""
    name = "kyc_contrib_celery_killed"
    with running(tmp_path_factory, "1", name, broker, lease="2") as (setup, process, tmp, env):
        check_a_killed_worker_loses_nothing(
            setup, process, lambda log: celery_worker(f"{name}_{broker}", tmp, env, log)
        )


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


@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_a_hung_broker_still_gets_the_202_within_the_vendors_timeout(
    caplog: pytest.LogCaptureFixture, scheme: str
) -> None:
    """A broker that accepts the connection and never answers. Celery's Redis transport has no
    socket timeout of its own: that blocked the hand-off -- and the webhook's answer -- for ever;
    register() bounds it (PUBLISH_TIMEOUT). Over AMQP Celery's broker_connection_timeout (4 s)
    bounds the handshake. Either way the delivery is stored, answered 202 well within iDenfy's
    10 s, the failure logged, and the sweeper handles it later."""
    celery = require_package("celery")
    from kyc_webhooks.contrib.celery import register

    with hung_broker() as port:
        app = celery.Celery(
            "kw-hung-test", broker=f"{scheme}://127.0.0.1:{port}/", set_as_current=False
        )
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
        register(app, receiver, name="kw_hung")
        check_answered_in_time(receiver, caplog)


@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_a_hung_broker_does_not_stall_the_event_loop_of_handle_async(
    caplog: pytest.LogCaptureFixture, scheme: str
) -> None:
    """Was: the publish ran on the event loop's thread, so under FastAPI a hung broker froze every
    other request of the application for the seconds the publish waited."""
    celery = require_package("celery")
    from kyc_webhooks.contrib.celery import register

    with hung_broker() as port:
        app = celery.Celery(
            "kw-hung-async", broker=f"{scheme}://127.0.0.1:{port}/", set_as_current=False
        )
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
        register(app, receiver, name="kw_hung_async")
        check_loop_not_blocked(receiver, caplog)


@contextlib.contextmanager
def proxied_app(broker: str, name: str) -> Iterator[tuple[Proxy, Any, kw.Receiver]]:
    """A deferring receiver registered on a Celery app whose broker (``"redis"`` or ``"amqp"``,
    the real one) is reached through a :func:`freezable_proxy`, its default queue of this run's
    own (deleted afterwards): the proxy, the app and the receiver."""
    from urllib.parse import urlsplit

    celery = require_package("celery")
    from kyc_webhooks.contrib.celery import register

    url = urlsplit(require_redis() if broker == "redis" else require_rabbitmq())
    prefix = run_token()
    try:
        with freezable_proxy(
            url.hostname or "127.0.0.1", url.port or BROKER_PORTS[broker]
        ) as proxy:
            user = f"{url.netloc.rpartition('@')[0]}@" if "@" in url.netloc else ""
            app = celery.Celery(
                name.replace("_", "-"),
                broker=f"{url.scheme}://{user}127.0.0.1:{proxy.port}{url.path}",
                set_as_current=False,
            )
            app.conf.task_default_queue = prefix
            receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
            register(app, receiver, name=name)
            yield proxy, app, receiver
            proxy.reset()  # what it held back never reaches the broker (after the names go)
    finally:
        if broker == "redis":
            drop_redis_prefix(prefix)
        else:
            drop_rabbitmq_names([prefix], [prefix])


BROKER_PORTS = {"redis": 6379, "amqp": 5672}


def deferred(receiver: kw.Receiver, scan_ref: str) -> float:
    """Deliver a new identification of ``scan_ref``, answered 202 and not a duplicate; the
    seconds ``handle()`` took."""
    import time

    body, headers = signed_delivery("idenfy", "IDENTIFICATION_AUTO_FINISHED", KEY, scanRef=scan_ref)
    started = time.monotonic()
    outcome = receiver.handle(body, headers)
    took = time.monotonic() - started
    assert (outcome.status_code, outcome.duplicate) == (202, False)
    assert receiver.store is not None
    stored = receiver.store.get(outcome.delivery_id or "")
    assert stored is not None
    assert stored.state is kw.DeliveryState.PENDING  # for the worker, or the sweeper
    return took


def test_a_redis_broker_that_hangs_with_a_pooled_connection_gets_the_202_in_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Redis broker that hangs after the web process connected (a pooled connection open):
    each publish timed out reading its reply, and Celery's retries of it, a new connection each,
    held the 202 for 10.6 s -- past iDenfy's 10 s. The hand-off publishes once (~2 s); the
    sweeper handles the delivery."""
    with proxied_app("redis", "kw_frozen") as (proxy, _, receiver):
        deferred(receiver, "frozen-1")
        assert "on_deferred failed" not in caplog.text  # published: the connection pooled
        proxy.frozen.set()
        took = deferred(receiver, "frozen-2")
        assert took < 6.0, f"answered after {took:.1f} s"
        assert "on_deferred failed" in caplog.text


def close_pooled_connections(broker: str, proxy: Proxy) -> None:
    """What a broker's restart or failover does to the connections open to it: Redis's end
    closed; RabbitMQ's closed by the broker itself (``rabbitmqctl close_connection``: a
    Connection.Close frame -- a TCP cut alone loses an unconfirmed publish silently, with or
    without a retry)."""
    if broker == "redis":
        proxy.reset()
        return
    ports = set(proxy.upstream_ports())
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "pid", "peer_port"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    pids = [line.split()[0] for line in listed.splitlines() if line.split()[-1:] in (
        [str(port)] for port in ports
    )]  # fmt: skip
    assert pids, listed
    for pid in pids:
        subprocess.run(
            ["rabbitmqctl", "-q", "close_connection", pid, "kyc-webhooks test: a restart"],
            capture_output=True, timeout=60, check=True,
        )  # fmt: skip


@pytest.mark.parametrize("broker", ["redis", "amqp"])
def test_a_broker_that_closed_the_pooled_connection_still_gets_the_hand_off(
    caplog: pytest.LogCaptureFixture, broker: str
) -> None:
    """A broker restart or failover closes the web process's pooled connection. Over AMQP
    Celery's publish retry is what reconnects it: published once (the policy of the Redis
    hand-off), the next hand-off was lost to the sweeper. redis-py reconnects by itself."""
    with proxied_app(broker, "kw_reset") as (proxy, app, receiver):
        for number in range(3):
            if number:
                close_pooled_connections(broker, proxy)
            deferred(receiver, f"reset-{number}")
        assert "on_deferred failed" not in caplog.text
        queue = app.conf.task_default_queue
        with app.connection_for_read() as connection:
            if broker == "redis":
                depth = connection.default_channel.client.llen(queue)
            else:
                depth = connection.default_channel.queue_declare(queue, passive=True)[1]
        assert depth == 3


@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_a_broker_that_is_down_gets_the_202(caplog: pytest.LogCaptureFixture, scheme: str) -> None:
    celery = require_package("celery")
    from kyc_webhooks.contrib.celery import register

    port = closed_port()
    app = celery.Celery(
        "kw-down-test", broker=f"{scheme}://127.0.0.1:{port}/", set_as_current=False
    )
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
    register(app, receiver, name="kw_down")
    check_answered_in_time(receiver, caplog)


def test_a_hung_redis_broker_configured_after_register_is_still_bounded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """register() read app.conf to bound the Redis sockets, which configured the app: a later
    config_from_object() replaced the options with its own, and a hung broker blocked the 202
    for ever again (review R29). The bound is applied when publishing."""
    celery = require_package("celery")

    with hung_broker() as port:
        _, receiver = _configured_after_register(celery, port, "kw_hung_late")
        check_answered_in_time(receiver, caplog)


def _configured_after_register(celery: Any, port: int, name: str) -> tuple[Any, kw.Receiver]:
    """A deferring receiver registered on a new Celery app, which is configured afterwards with
    the (hung) Redis broker on ``port``: the app and the receiver."""
    from kyc_webhooks.contrib.celery import register

    app = celery.Celery(name.replace("_", "-"), set_as_current=False)
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
    register(app, receiver, name=name)
    app.config_from_object({"broker_url": f"redis://127.0.0.1:{port}/"})
    return app, receiver


def test_a_hung_redis_broker_is_bounded_after_the_app_published_other_tasks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The web process publishes tasks of its own before the first hand-off: the broker
    connections are pooled then, with the options of that moment. Applied only when the first
    hand-off published, the bound missed them and a hung Redis blocked the 202 for ever (review
    R34). It is applied whenever the app's configuration loads."""
    celery = require_package("celery")

    with hung_broker() as port:
        app, receiver = _configured_after_register(celery, port, "kw_hung_other")
        failed: list[BaseException] = []

        def other_task() -> None:
            try:
                app.send_task("reports.nightly", ignore_result=True)
            except Exception as exc:
                failed.append(exc)

        publishing = threading.Thread(target=other_task, daemon=True)
        publishing.start()
        publishing.join(timeout=30)
        assert not publishing.is_alive(), "the app's own publish was not bounded either"
        assert failed  # the hung broker refused it, within the bound
        check_answered_in_time(receiver, caplog)


@pytest.mark.parametrize("late", ["beat_schedule", "config_from_object"])
def test_beat_sends_the_sweep_even_when_the_app_is_configured_after_register(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, late: str
) -> None:
    """Celery's own way to declare periodic tasks -- ``app.conf.beat_schedule = {...}`` -- or a
    config_from_object() after register() dropped the sweep's entry: no sweep, so a lost enqueue
    or a crashed worker's delivery (answered 202) was never handled (review R29). When beat
    starts, a missing entry is added to its scheduler (the real one, here), with a warning."""
    celery = require_package("celery")
    from celery.beat import Service
    from celery.signals import beat_init

    from kyc_webhooks.contrib.celery import register

    app = celery.Celery("kw-beat-late", broker="memory://", set_as_current=False)
    app.conf.timezone = "UTC"
    assert app.conf.timezone == "UTC"  # read: configured before register(), whose entry is
    assert app.configured  # then added to the schedule at once
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
    register(app, receiver, name="kw_late", sweep_every=45)
    nightly = {"task": "reports.nightly", "schedule": 86400.0}
    if late == "beat_schedule":
        app.conf.beat_schedule = {"nightly": nightly}
    else:
        app.config_from_object({"beat_schedule": {"nightly": nightly}})
    assert "kw_late.sweep" not in app.conf.beat_schedule  # what the app configured

    service = Service(app=app, schedule_filename=str(tmp_path / "beat-schedule"))
    try:
        with caplog.at_level(logging.WARNING, logger="kyc_webhooks"):
            beat_init.send(sender=service)  # what service.start() sends
        schedule = service.scheduler.schedule
        assert schedule["kw_late.sweep"].task == "kw_late.sweep"
        assert schedule["kw_late.sweep"].schedule.run_every.total_seconds() == 45
        assert "nightly" in schedule
        assert "kw_late.sweep was not in the beat schedule" in caplog.text
        # Another app's beat is left alone; a second start adds nothing twice.
        caplog.clear()
        beat_init.send(sender=service)
        assert "kw_late.sweep" not in caplog.text
    finally:
        service.scheduler.close()


def test_register_again_replaces_its_signal_handlers(tmp_path: Path) -> None:
    """Each register() connected one more ``beat_init`` handler and one more
    ``on_after_configure`` handler, kept for good (``weak=False``): a suite or a reloaded module
    calling it again piled them up, each holding its app. The same app and names connect once,
    the last call's (its ``sweep_every``: review R43)."""
    celery = require_package("celery")
    from celery.beat import Service
    from celery.signals import beat_init

    from kyc_webhooks.contrib.celery import register

    app = celery.Celery("kw-again", broker="memory://", set_as_current=False)
    app.conf.timezone = "UTC"
    assert app.conf.timezone == "UTC"  # read: the app is configured, register() adds at once
    before = len(beat_init.receivers)
    for every in (30, 45, 90):
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
        register(app, receiver, name="kw_again", sweep_every=every)
    assert len(beat_init.receivers) == before + 1
    app.conf.beat_schedule = {}  # configured after register(): beat_init adds the sweep back
    assert "kw_again.sweep" not in app.conf.beat_schedule
    service = Service(app=app, schedule_filename=str(tmp_path / "beat-schedule"))
    try:
        beat_init.send(sender=service)
        entry = service.scheduler.schedule["kw_again.sweep"]
        assert entry.schedule.run_every.total_seconds() == 90
    finally:
        service.scheduler.close()
    assert len(app.on_after_configure.receivers) == 1
    # Another app (or another sweep name) has its own.
    other = celery.Celery("kw-again-other", broker="memory://", set_as_current=False)
    register(other, kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True))
    assert len(beat_init.receivers) == before + 2
