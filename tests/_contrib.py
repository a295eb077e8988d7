"""Helpers of the queue-integration tests (tests/test_contrib_*.py): the package and service
checks, a worker process started by the test and stopped by PID, and bounded waits.

A missing queue package skips with a reason naming it, so that ``pytest`` runs without the
extras; ``.ci/run`` runs each integration in a virtualenv of its own with
``KYC_REQUIRE_CONTRIB=<package>``, where the same absence fails instead. An unreachable Redis
skips with ``SERVICE_SKIP`` (a failure under ``KYC_REQUIRE_SERVICES=1``), and so does an
unreachable RabbitMQ.

The end-to-end tests run on each broker of ``BROKERS``: Redis (``KYC_TEST_REDIS_URL``) and
RabbitMQ (``KYC_TEST_AMQP_URL``). Every run uses names of its own -- a Redis key prefix, RabbitMQ
queues and exchanges named after it -- and deletes them at the end."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import NamedTuple
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import pytest

import kyc_webhooks as kw
from _postgres import SERVICE_SKIP
from kyc_webhooks.testing import signed_delivery

REDIS_URL = os.environ.get("KYC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("KYC_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
#: The brokers every end-to-end test of celery and dramatiq runs on (the ids of its parameters).
BROKERS = ("redis", "rabbitmq")
KEY = "contrib-signing-key"
#: Bound of every wait for a worker (start-up included); the loops poll every 0.1 s.
WAIT_SECONDS = 60.0


class Setup(NamedTuple):
    """What an integration's module fixture gives its tests."""

    app: ModuleType  # the test application, imported in the test process (the web side)
    runs: Path  # the handler runs the worker recorded
    log: Path  # the worker's log
    before_boot_key: str  # a delivery stored, its enqueue lost, before the worker started


def require_package(name: str) -> ModuleType:
    """``import name``, or skip naming the package (fail where CI requires it)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        required = os.environ.get("KYC_REQUIRE_CONTRIB", "").split(",")
        message = f"{name} is not installed (pip install -e '.[{name}]'; .ci/run tests it)"
        if name in required:
            pytest.fail(f"KYC_REQUIRE_CONTRIB names {name}, but {message}")
        pytest.skip(message)


def require_redis() -> str:
    """The Redis URL of the tests, or skip (``SERVICE_SKIP``) when it does not answer."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"{SERVICE_SKIP} Redis at KYC_TEST_REDIS_URL: {type(exc).__name__}")
    finally:
        client.close()
    return REDIS_URL


def require_rabbitmq() -> str:
    """The AMQP URL of the tests, or skip (``SERVICE_SKIP``) when no RabbitMQ answers there.

    Asked in AMQP itself (the protocol header; a server answers with ``Connection.Start``), so that
    it needs neither py-amqp (Celery's) nor pika (Dramatiq's)."""
    parts = urlsplit(AMQP_URL)
    address = (parts.hostname or "127.0.0.1", parts.port or 5672)
    try:
        with socket.create_connection(address, timeout=3) as conn:
            conn.sendall(b"AMQP\x00\x00\x09\x01")
            answer = conn.recv(1)
    except OSError as exc:
        pytest.skip(f"{SERVICE_SKIP} RabbitMQ at KYC_TEST_AMQP_URL: {type(exc).__name__}")
    if answer != b"\x01":  # a method frame
        pytest.skip(f"{SERVICE_SKIP} RabbitMQ at KYC_TEST_AMQP_URL: no AMQP 0-9-1 server")
    return AMQP_URL


def pika_url(url: str) -> str:
    """``url`` as pika (Dramatiq's client) reads it. Celery (kombu) and pika disagree about the
    path: to kombu ``amqp://host//`` is the virtual host ``/``, to pika the virtual host ``""``
    (RabbitMQ: "vhost not found"); pika wants it quoted, ``amqp://host/%2F``."""
    parts = urlsplit(url)
    vhost = unquote(parts.path[1:]) or "/"
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))


def drop_rabbitmq_names(queues: list[str], exchanges: list[str]) -> None:
    """Delete the queues and exchanges of one test run, with the AMQP client installed: py-amqp
    (Celery's) or pika (Dramatiq's). Missing ones are not an error."""
    try:
        import amqp
    except ImportError:
        amqp = None
    if amqp is not None:
        parts = urlsplit(AMQP_URL)
        connection = amqp.Connection(
            f"{parts.hostname or '127.0.0.1'}:{parts.port or 5672}",
            userid=unquote(parts.username or "guest"),
            password=unquote(parts.password or "guest"),
            virtual_host=unquote(parts.path[1:]) or "/",
            connect_timeout=3,
        )
        connection.connect()
        try:
            channel = connection.channel()
            for queue in queues:
                channel.queue_delete(queue)
            for exchange in exchanges:
                channel.exchange_delete(exchange)
        finally:
            connection.close()
        return
    import pika

    parameters = pika.URLParameters(pika_url(AMQP_URL))
    parameters.socket_timeout = parameters.stack_timeout = 3
    blocking = pika.BlockingConnection(parameters)
    try:
        pika_channel = blocking.channel()
        for queue in queues:
            pika_channel.queue_delete(queue)
        for exchange in exchanges:
            pika_channel.exchange_delete(exchange)
    finally:
        blocking.close()


def drop_redis_prefix(prefix: str) -> None:
    """Delete the keys of one test run (bounded: a run makes a handful), kombu's bindings of
    its exchanges (``_kombu.binding.<exchange>``, left by every Celery run) included."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        for pattern in (f"{prefix}*", f"_kombu.binding*.{prefix}*"):
            keys = list(client.scan_iter(match=pattern, count=1000))[:10_000]
            if keys:
                client.delete(*keys)
    finally:
        client.close()


def run_token() -> str:
    return f"kw-test-{os.getpid()}-{secrets.token_hex(4)}"


def load_app(path: Path) -> ModuleType:
    """Import the test application module at ``path`` in this process (the web side)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def start_app(tmp: Path, name: str, source: str, env: dict[str, str]) -> ModuleType:
    """Write the test application ``source`` as module ``name`` in ``tmp`` and import it here,
    with ``env`` set while it loads (the worker gets the same ``env``)."""
    (tmp / f"{name}.py").write_text(source)
    with pytest.MonkeyPatch.context() as mp:
        for variable, value in env.items():
            mp.setenv(variable, value)
        return load_app(tmp / f"{name}.py")


@contextlib.contextmanager
def broker_app(
    tmp_path_factory: pytest.TempPathFactory,
    package: str,
    name: str,
    source: str,
    sweep: str,
    broker: str,
    *,
    asynchronous: bool = False,
    lease: str = "60",
) -> Iterator[tuple[ModuleType, Path, dict[str, str], str]]:
    """A test application (celery, dramatiq) on ``broker`` (``"redis"`` or ``"rabbitmq"``): the
    module, its directory, the environment of its worker and the name prefix of this run (a Redis
    key prefix; the RabbitMQ queue, and the names derived from it). The application's
    ``BROKER_NAMES`` lists the queues and exchanges it declares on RabbitMQ; all are deleted
    afterwards. ``asynchronous``: the application registers the ``async def`` handlers
    (``ASYNC_ENV``); ``lease``: the receiver's ``lease_timeout``."""
    require_package(package)
    if broker == "redis":
        url = require_redis()
    else:
        url = require_rabbitmq()
        url = pika_url(url) if package == "dramatiq" else url
    tmp = tmp_path_factory.mktemp(name)
    prefix = run_token()
    env = {
        "KYC_CONTRIB_SWEEP": sweep,
        "KYC_CONTRIB_LEASE": lease,
        "KYC_CONTRIB_PREFIX": prefix,
        "KYC_CONTRIB_BROKER": url,
        "KYC_CONTRIB_DB": str(tmp / "deliveries.db"),
        "KYC_CONTRIB_RUNS": str(tmp / "runs.txt"),
        **({ASYNC_ENV: "1"} if asynchronous else {}),
    }
    app = start_app(tmp, name, source, env)
    try:
        yield app, tmp, env, prefix
    finally:
        app.close_broker()
        app.store.close()
        sys.modules.pop(name, None)
        if broker == "redis":
            drop_redis_prefix(prefix)
        else:
            queues, exchanges = app.BROKER_NAMES
            drop_rabbitmq_names(queues, exchanges)


def store_unqueued(receiver: kw.Receiver, scan_ref: str) -> str:
    """Store a deferred delivery whose enqueue is lost (``on_deferred`` off for the call); its
    delivery key. Only a sweep can run its handler."""
    enqueue = receiver.on_deferred
    receiver.on_deferred = None  # the enqueue is lost
    try:
        outcome = receiver.handle(
            *signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY, scanRef=scan_ref)
        )
    finally:
        receiver.on_deferred = enqueue
    assert outcome.status_code == 202
    key = outcome.delivery_key
    assert key is not None
    return key


@contextlib.contextmanager
def worker(
    command: list[str], cwd: Path, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A worker process (and its children, in a session of their own) for the body of the
    ``with``; stopped by its PID: SIGTERM to its process group, SIGKILL after 20 s (see also
    :func:`kill`)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**os.environ, **env, "PYTHONPATH": str(cwd)},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker ``process`` and its children (its process group), as a crash or the
    OOM killer would: nothing runs its shutdown code."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@contextlib.contextmanager
def hung_broker() -> Iterator[int]:
    """A loopback TCP server that accepts connections and reads, and never answers: a hung or
    partitioned broker. Yields its port."""
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


class Proxy(NamedTuple):
    port: int
    #: Set: nothing is forwarded any more, the connections stay open (a broker that hangs).
    frozen: threading.Event
    #: Closes the connections open now (a broker that restarted); new ones are served.
    reset: Callable[[], None]
    #: The local ports of the proxy's connections to the broker (what the broker sees).
    upstream_ports: Callable[[], list[int]]


@contextlib.contextmanager
def freezable_proxy(host: str, port: int) -> Iterator[Proxy]:
    """A loopback TCP proxy to ``host:port`` (a real broker or database) that can hang or drop
    the client's connections (:class:`Proxy`). On leaving, it thaws first: what was held back
    goes through (a defer left running lands its job) until it stops."""
    frozen, stop = threading.Event(), threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    pairs: list[tuple[socket.socket, socket.socket]] = []

    def pump(client: socket.socket, server: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while not stop.is_set():
                ready, _, _ = select.select([client, server], [], [], 0.05)
                if frozen.is_set():
                    continue
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (server if sock is client else client).sendall(data)

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                continue
            server = socket.create_connection((host, port), timeout=5)
            server.settimeout(None)
            pairs.append((client, server))
            threading.Thread(target=pump, args=(client, server), daemon=True).start()

    def reset() -> None:
        for client, server in list(pairs):
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def upstream_ports() -> list[int]:
        ports = []
        for _, server in list(pairs):
            with contextlib.suppress(OSError):
                ports.append(server.getsockname()[1])
        return ports

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield Proxy(listener.getsockname()[1], frozen, reset, upstream_ports)
    finally:
        frozen.clear()
        stop.set()
        thread.join(timeout=5)
        listener.close()
        for client, server in pairs:
            client.close()
            server.close()


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused): a broker that is down.
    Port 1 (tcpmux, never served): a free port picked and let go could be taken meanwhile by
    another run's server on this machine."""
    return 1


def check_answered_in_time(receiver: kw.Receiver, caplog: pytest.LogCaptureFixture) -> None:
    """A delivery handed to a broker that is down or hung is stored, answered 202 well within
    iDenfy's 10 s, the failed hand-off logged, and left pending for the sweeper."""
    body, headers = signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY)
    answers: list[kw.Outcome] = []
    started = time.monotonic()
    handling = threading.Thread(
        target=lambda: answers.append(receiver.handle(body, headers)), daemon=True
    )
    handling.start()
    handling.join(timeout=30)
    took = time.monotonic() - started
    assert answers, "the hand-off to the broker never returned"
    assert answers[0].status_code == 202
    assert took < 9, f"answered after {took:.1f} s"
    assert "on_deferred failed" in caplog.text
    assert receiver.store is not None
    record = receiver.store.get(answers[0].delivery_id or "")
    assert record is not None
    assert record.state is kw.DeliveryState.PENDING  # for the sweeper


def check_loop_not_blocked(receiver: kw.Receiver, caplog: pytest.LogCaptureFixture) -> None:
    """Under ``handle_async`` (FastAPI, any ASGI app) a hand-off to a hung broker -- seconds, up to
    the publish timeouts -- never stalls the event loop: another coroutine of the application keeps
    running while the publish waits, the delivery is answered 202 in time, the failure logged,
    and the delivery left pending for the sweeper."""
    body, headers = signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY)

    async def main() -> tuple[kw.Outcome, float, float]:
        gaps: list[float] = []
        done = asyncio.Event()

        async def other_requests() -> None:  # bounded: the handling ends within 30 s
            last = time.monotonic()
            for _ in range(3000):
                if done.is_set():
                    return
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        ticker = asyncio.ensure_future(other_requests())
        started = time.monotonic()
        outcome = await asyncio.wait_for(receiver.handle_async(body, headers), 30)
        took = time.monotonic() - started
        done.set()
        await ticker
        return outcome, took, max(gaps, default=0.0)

    from kyc_webhooks.store import _runner

    with pytest.MonkeyPatch.context() as patch:
        # The publish's failure (~4 s) is awaited, not cut at 5 s on a loaded machine: the
        # check reads its log line.
        patch.setattr(_runner, "DEFERRED_WAIT", 15.0)
        outcome, took, longest_gap = asyncio.run(main())
    assert outcome.status_code == 202
    assert took < 9, f"answered after {took:.1f} s"
    assert took > 0.5, "the broker answered: not the hung broker this check needs"
    # A blocked loop stalls for the whole publish (~4 s); a loaded machine's scheduling, well
    # under a second.
    assert longest_gap < 1.5, f"the event loop stalled {longest_gap:.1f} s on the publish"
    assert "on_deferred failed" in caplog.text
    assert receiver.store is not None
    record = receiver.store.get(outcome.delivery_id or "")
    assert record is not None
    assert record.state is kw.DeliveryState.PENDING  # for the sweeper


def wait_for(condition: Callable[[], bool], what: str, log: Path) -> None:
    """Poll ``condition`` until true; fail after WAIT_SECONDS showing the worker's log tail."""
    deadline = time.monotonic() + WAIT_SECONDS
    for _ in range(int(WAIT_SECONDS * 10) + 1):
        if condition():
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    pytest.fail(f"timed out waiting for {what}; worker log tail:\n{tail}")


def runs(path: Path) -> list[str]:
    """Handler runs recorded by the test application (one line each)."""
    return path.read_text().split() if path.exists() else []


def logged(log: Path, text: str) -> Callable[[], bool]:
    return lambda: log.exists() and text in log.read_text(errors="replace")


def check_swept_once(setup: Setup, what: str) -> None:
    """The delivery stored before the worker started runs its handler once (a sweep took it)."""
    _app, runs_file, log, key = setup
    wait_for(lambda: key in runs(runs_file), what, log)
    assert runs(runs_file).count(key) == 1


def check_runs_once_and_redelivery_is_harmless(setup: Setup, scan_ref: str) -> str:
    """A deferred delivery runs its handler once in the worker; its task sent again is a
    duplicate that does not run it. Returns the delivery key."""
    app, runs_file, log, _ = setup
    receiver: kw.Receiver = app.receiver
    body, headers = signed_delivery(
        "idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY, scanRef=scan_ref
    )
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
    return key


def check_lost_enqueue_is_swept(
    setup: Setup, scan_ref: str, send_sweep: Callable[[ModuleType], object]
) -> None:
    """A delivery whose enqueue was lost runs once when ``send_sweep(app)`` sends the sweep."""
    app, runs_file, log, _ = setup
    key = store_unqueued(app.receiver, scan_ref)
    assert key not in runs(runs_file)
    send_sweep(app)
    wait_for(lambda: key in runs(runs_file), "the sweeper to run the handler", log)
    wait_for(logged(log, "task sweep processed="), "the sweep to finish", log)
    assert runs(runs_file).count(key) == 1


def check_a_killed_worker_loses_nothing(
    setup: Setup,
    process: subprocess.Popen[bytes],
    start_worker: Callable[[Path], contextlib.AbstractContextManager[object]],
) -> None:
    """A worker (``process``) SIGKILLed in the middle of a handler loses nothing: once the lease
    of its claim expires, a new worker (``start_worker(log)``) finishes the delivery, once. The
    application sweeps every second, with a short lease."""
    app, runs_file, log, _ = setup
    receiver: kw.Receiver = app.receiver
    body, headers = signed_delivery(
        "idenfy", "IDENTIFICATION_MANUAL_FINISHED", KEY, scanRef="kill-" + secrets.token_hex(4)
    )
    outcome = receiver.handle(body, headers)
    assert outcome.status_code == 202
    key = outcome.delivery_key
    assert key is not None
    assert outcome.delivery_id is not None
    wait_for(lambda: f"start-{key}" in runs(runs_file), "the handler to start", log)
    kill(process)
    assert key not in runs(runs_file)  # killed mid-handler
    record = receiver.store.get(outcome.delivery_id) if receiver.store else None
    assert record is not None
    assert record.state is kw.DeliveryState.PROCESSING
    log = log.with_name("worker-after-kill.log")
    store = receiver.store
    assert store is not None
    delivery_id = outcome.delivery_id

    def done() -> bool:
        found = store.get(delivery_id)
        return found is not None and found.done

    with start_worker(log):
        wait_for(lambda: key in runs(runs_file), "a new worker to run the handler", log)
        # The handler notes its run before it returns; the worker marks the record done after.
        wait_for(done, "the new worker to complete the delivery", log)
        assert runs(runs_file).count(key) == 1


def check_async_handlers_run_once(setup: Setup, scan_ref: str) -> None:
    """The application's ``async def`` event and decision handlers run once each in the worker
    (the decision handler records ``decision-<delivery key>``); a redelivery runs neither."""
    key = check_runs_once_and_redelivery_is_harmless(setup, scan_ref)
    assert runs(setup.runs).count(f"decision-{key}") == 1


#: The environment variable that makes a test application register ``ASYNC_HANDLERS`` (the
#: event handler and a decision handler, both ``async def``) instead of the plain ``record_run``.
ASYNC_ENV = "KYC_CONTRIB_ASYNC"

#: The handler of every test application: one line per run, appended by the worker process.
HANDLER = """
import os
import time

import kyc_webhooks as kw

RUNS = os.environ["KYC_CONTRIB_RUNS"]


def record_line(line: str) -> None:
    fd = os.open(RUNS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode() + b"\\n")
    finally:
        os.close(fd)


def started_runs(key: str) -> int:
    with open(RUNS) as runs:
        return runs.read().split().count("start-" + key)


def record_run(event: kw.WebhookEvent) -> None:
    # A delivery whose scanRef starts with "kill-" hangs in its first run (for at most 120 s):
    # the test kills the worker there. Every run records "start-<key>"; a finished one "<key>".
    record_line("start-" + event.delivery_key)
    if b'"kill-' in event.raw_body:
        for _ in range(1200):
            if started_runs(event.delivery_key) > 1:
                break
            time.sleep(0.1)
    record_line(event.delivery_key)


async def record_run_async(event: kw.WebhookEvent) -> None:
    record_line(event.delivery_key)


async def record_decision_async(decision: kw.Decision) -> None:
    assert decision.event is not None
    record_line("decision-" + decision.event.delivery_key)


def register_handlers(receiver: kw.Receiver) -> None:
    # record_run, or with KYC_CONTRIB_ASYNC set the async event and decision handlers.
    if os.environ.get("KYC_CONTRIB_ASYNC"):
        receiver.on("idenfy")(record_run_async)
        receiver.on_decision()(record_decision_async)
    else:
        receiver.on("idenfy")(record_run)
"""
