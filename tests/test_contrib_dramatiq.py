"""kyc_webhooks.contrib.dramatiq end to end: a real broker (Redis, and RabbitMQ over pika) and a
real ``dramatiq`` worker (one process, one thread) started by the test.
The handler records its runs in a file (the worker is another process)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kyc_webhooks as kw
from _contrib import (
    AMQP_URL,
    BROKERS,
    HANDLER,
    KEY,
    Setup,
    broker_app,
    check_a_killed_worker_loses_nothing,
    check_answered_in_time,
    check_async_handlers_run_once,
    check_loop_not_blocked,
    check_lost_enqueue_is_swept,
    check_runs_once_and_redelivery_is_harmless,
    check_swept_once,
    closed_port,
    hung_broker,
    logged,
    pika_url,
    require_package,
    store_unqueued,
    wait_for,
    worker,
)

APP = (
    HANDLER
    + """
from kyc_webhooks.contrib.dramatiq import register

PREFIX = os.environ["KYC_CONTRIB_PREFIX"]
BROKER = os.environ["KYC_CONTRIB_BROKER"]
if BROKER.startswith("redis"):
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=BROKER, namespace=PREFIX)
else:
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = RabbitmqBroker(url=BROKER)
# What the test deletes on RabbitMQ afterwards: the queue of this run, its delay and dead-letter
# queues; no exchange.
BROKER_NAMES = ([PREFIX, PREFIX + ".DQ", PREFIX + ".XQ"], [])
store = kw.SQLiteStore(os.environ["KYC_CONTRIB_DB"])
receiver = kw.Receiver(
    kw.Idenfy(signing_key="contrib-signing-key"),
    store=store,
    defer=True,
    lease_timeout=float(os.environ["KYC_CONTRIB_LEASE"]),
)
register_handlers(receiver)
# A sweep at worker boot, then every KYC_CONTRIB_SWEEP seconds.
tasks = register(
    broker, receiver, queue_name=PREFIX, sweep_every=float(os.environ["KYC_CONTRIB_SWEEP"])
)


def close_broker() -> None:
    broker.close()
"""
)


def dramatiq_worker(
    name: str, tmp: Path, env: dict[str, str], log: Path
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """A ``dramatiq`` worker (one process, one thread) of the test application ``name``, on the
    queue of its run."""
    command = [
        sys.executable,
        *("-m", "dramatiq", f"{name}:broker"),
        *("--processes", "1", "--threads", "1", "--queues", env["KYC_CONTRIB_PREFIX"]),
    ]
    return worker(command, tmp, env, log)


@contextlib.contextmanager
def running(
    tmp_path_factory: pytest.TempPathFactory,
    sweep: str,
    name: str,
    broker: str,
    *,
    asynchronous: bool = False,
    lease: str = "60",
) -> Iterator[tuple[Setup, subprocess.Popen[bytes], Path, dict[str, str]]]:
    """The test application (module ``name``) on ``broker`` and its worker, sweeping on
    ``sweep``; ``asynchronous``: with ``async def`` event and decision handlers. Also the worker
    process, the application's directory and environment."""
    name = f"{name}_{broker}"
    with broker_app(
        tmp_path_factory,
        "dramatiq",
        name,
        APP,
        sweep,
        broker,
        asynchronous=asynchronous,
        lease=lease,
    ) as (app, tmp, env, _):
        # Stored while no worker runs, its enqueue lost: the sweep sent at worker boot handles it.
        before_boot = store_unqueued(app.receiver, "d-boot")
        log = tmp / "worker.log"
        with dramatiq_worker(name, tmp, env, log) as process:
            # The sweep sent at boot: done before any test stores a delivery it could take.
            wait_for(logged(log, "task sweep processed="), "the boot sweep", log)
            yield Setup(app, tmp / "runs.txt", log, before_boot), process, tmp, env


@pytest.fixture(scope="module", params=BROKERS)
def setup(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Setup]:
    """The worker of most tests, on each broker; its periodic sweep does not fire while they run
    (it would race the process task for the deliveries they store)."""
    with running(tmp_path_factory, "3600", "kyc_contrib_dramatiq_app", request.param) as started:
        yield started[0]


@pytest.fixture(params=BROKERS)
def periodic(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Setup]:
    """A second application and worker (own queue), sweeping every boot."""
    with running(
        tmp_path_factory, "3600", "kyc_contrib_dramatiq_periodic", request.param
    ) as started:
        yield started[0]


@pytest.fixture(scope="module", params=BROKERS)
def async_setup(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Setup]:
    """An application whose handlers are ``async def`` (the documented defer=True setup of an
    async web app) and its worker (own queue): the actors await them."""
    with running(
        tmp_path_factory, "3600", "kyc_contrib_dramatiq_async", request.param, asynchronous=True
    ) as started:
        yield started[0]


@pytest.mark.parametrize("broker", BROKERS)
def test_a_worker_killed_mid_handler_loses_nothing(
    tmp_path_factory: pytest.TempPathFactory, broker: str
) -> None:
    """SIGKILL in the middle of the handler (Dramatiq acks after the actor returns: RabbitMQ
    gives the unacknowledged message to the next worker, which finds the claim's lease still
    live or runs it): the lease expires (2 s here), a sweep of the new worker or the redelivered
    message finishes the delivery, and the handler completes once."""
    name = "kyc_contrib_dramatiq_killed"
    with running(tmp_path_factory, "1", name, broker, lease="2") as (setup, process, tmp, env):
        check_a_killed_worker_loses_nothing(
            setup, process, lambda log: dramatiq_worker(f"{name}_{broker}", tmp, env, log)
        )


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


@pytest.mark.parametrize("where", ["middleware", "actor"])
def test_a_sweep_claims_no_delivery_after_half_of_dramatiqs_time_limit(
    tmp_path: Path, where: str
) -> None:
    """Dramatiq raises an exception into an actor's thread after its time limit (10 minutes by
    default): a sweep of 70 deliveries of 9 s each was cut in the middle of a handler, which
    then ran again (helper audit). The sweep stops claiming after half of the limit -- the
    middleware's, or the sweep actor's own (it wins) -- and the next sweep takes the rest."""
    require_package("dramatiq")
    from dramatiq.brokers.stub import StubBroker
    from dramatiq.middleware import TimeLimit

    from kyc_webhooks.contrib.dramatiq import register

    broker = StubBroker()
    if where == "middleware":
        (limit,) = [m for m in broker.middleware if isinstance(m, TimeLimit)]
        limit.time_limit = 2000  # milliseconds: the sweep claims for 1 s
    store = kw.SQLiteStore(tmp_path / "inbox.sqlite3")
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, defer=True)
    runs: list[str] = []

    @receiver.on("*")
    def slow(event: kw.WebhookEvent) -> None:
        time.sleep(0.4)
        runs.append(event.event_type)

    tasks = register(broker, receiver, name=f"kw_limit_{where}")
    if where == "actor":
        tasks.sweep.options["time_limit"] = 2000  # set after register(), as a user may
    for n in range(6):
        store_unqueued(receiver, f"limit-{n}")
    tasks.sweep.fn()
    assert 1 <= len(runs) < 6  # 3 when the machine is quiet: claimed at 0, 0.4 and 0.8 s
    for _ in range(6):
        if len(runs) == 6:
            break
        tasks.sweep.fn()
    assert len(runs) == 6
    assert store.stats()["done"] == 6
    store.close()
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


def test_a_hung_rabbitmq_still_gets_the_202_within_the_vendors_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A RabbitMQ that accepts the connection and never answers: with pika's defaults (15 s for
    the AMQP handshake) the hand-off held the 202 past iDenfy's 10 s; register() bounds the
    broker's connections (PUBLISH_TIMEOUT). The delivery is stored, answered 202 in time, the
    failure logged, and the sweeper handles it later."""
    require_package("dramatiq")
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    from kyc_webhooks.contrib.dramatiq import register

    with hung_broker() as port:
        broker = RabbitmqBroker(url=f"amqp://guest:guest@127.0.0.1:{port}/%2F")
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
        register(broker, receiver, name="kw_hung")
        check_answered_in_time(receiver, caplog)
        broker.close()


CONCURRENT_HANDOFFS = """
import json, sys, threading, time
import kyc_webhooks as kw
from dramatiq.brokers.redis import RedisBroker
from kyc_webhooks.contrib.dramatiq import register
from kyc_webhooks.testing import sample_payload, sign

broker = RedisBroker(url=sys.argv[1], namespace="kw-cold")
receiver = kw.Receiver(kw.Idenfy(signing_key=sys.argv[2]), store=kw.MemoryStore(), defer=True)
register(broker, receiver, name="kw_cold")
answers = []

def deliver(n):
    payload = sample_payload("idenfy", "IDENTIFICATION_MANUAL_FINISHED", scanRef=f"cold-{n}")
    body, headers = sign("idenfy", payload, sys.argv[2], event_type="IDENTIFICATION")
    started = time.monotonic()
    outcome = receiver.handle(body, headers)
    answers.append((outcome.status_code, round(time.monotonic() - started, 1)))

threads = [threading.Thread(target=deliver, args=(n,), daemon=True) for n in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(timeout=40)
print(json.dumps(sorted(answers)), flush=True)
"""


def test_concurrent_hand_offs_of_a_new_process_to_a_hung_redis_are_each_answered_in_time(
    tmp_path: Path,
) -> None:
    """The first send of a process asks Redis for its Lua stack size under a lock of Dramatiq's
    own, so the concurrent hand-offs of a web process started while Redis hangs waited in turn,
    each for the 5 s socket timeout: 202s after 5, 10, 15 and 20 s, past iDenfy's 10 s (helper
    audit). A sync hand-off now waits at most SYNC_PUBLISH_WAIT, as procrastinate's does."""
    require_package("dramatiq")
    script = tmp_path / "cold.py"
    script.write_text(CONCURRENT_HANDOFFS)
    with hung_broker() as port:
        done = subprocess.run(
            [sys.executable, str(script), f"redis://127.0.0.1:{port}/0", KEY],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout)
    assert [status for status, _ in answers] == [202] * 4, done.stderr
    assert max(took for _, took in answers) < 9, answers


def test_a_hung_rabbitmq_does_not_stall_the_event_loop_of_handle_async(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Was: the publish ran on the event loop's thread, so under FastAPI a hung broker froze every
    other request of the application for the seconds the publish waited."""
    require_package("dramatiq")
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    from kyc_webhooks.contrib.dramatiq import register

    with hung_broker() as port:
        broker = RabbitmqBroker(url=f"amqp://guest:guest@127.0.0.1:{port}/%2F")
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
        register(broker, receiver, name="kw_hung_async")
        check_loop_not_blocked(receiver, caplog)
        broker.close()


def test_a_rabbitmq_that_is_down_gets_the_202(caplog: pytest.LogCaptureFixture) -> None:
    require_package("dramatiq")
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    from kyc_webhooks.contrib.dramatiq import register

    broker = RabbitmqBroker(url=f"amqp://guest:guest@127.0.0.1:{closed_port()}/%2F")
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
    register(broker, receiver, name="kw_down")
    check_answered_in_time(receiver, caplog)
    broker.close()


def test_register_bounds_a_rabbitmq_brokers_connections_unless_they_set_their_own() -> None:
    """What bounds a publish on RabbitMQ (pika's defaults: 10 s socket, 15 s handshake, no bound
    on a connection the server blocks). A server under a memory or disk alarm blocks publishers:
    with confirm_delivery=True each enqueue then waited for its confirmation for ever (checked by
    hand with ``rabbitmqctl set_vm_memory_high_watermark``; a test cannot raise an alarm on a
    shared server); with BLOCKED_TIMEOUT it fails after Dramatiq's six attempts, in about 6 s."""
    require_package("dramatiq")
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    from kyc_webhooks.contrib.dramatiq import BLOCKED_TIMEOUT, PUBLISH_TIMEOUT, register

    def registered(broker: RabbitmqBroker) -> Any:
        """The pika parameters of ``broker`` once registered."""
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), defer=True)
        register(broker, receiver, name="kw_bounds")
        return broker.parameters

    url = pika_url(AMQP_URL)
    confirming = registered(RabbitmqBroker(url=url, confirm_delivery=True))
    assert confirming.socket_timeout == PUBLISH_TIMEOUT
    assert confirming.stack_timeout == PUBLISH_TIMEOUT
    assert confirming.blocked_connection_timeout == BLOCKED_TIMEOUT
    plain = registered(RabbitmqBroker(url=url))
    assert plain.stack_timeout == PUBLISH_TIMEOUT
    assert plain.blocked_connection_timeout is None  # publishes are buffered, never wait
    own = registered(
        RabbitmqBroker(
            url=url + "?socket_timeout=7&stack_timeout=8&blocked_connection_timeout=9",
            confirm_delivery=True,
        )
    )
    assert (own.socket_timeout, own.stack_timeout, own.blocked_connection_timeout) == (7, 8, 9)
    several = registered(RabbitmqBroker(url=[url, url]))
    assert [each.stack_timeout for each in several] == [PUBLISH_TIMEOUT, PUBLISH_TIMEOUT]
