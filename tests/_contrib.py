"""Helpers of the queue-integration tests (tests/test_contrib_*.py): the package and service
checks, a worker process started by the test and stopped by PID, and bounded waits.

A missing queue package skips with a reason naming it, so that ``pytest`` runs without the
extras; ``.ci/run`` runs each integration in a virtualenv of its own with
``KYC_REQUIRE_CONTRIB=<package>``, where the same absence fails instead. An unreachable Redis
skips with ``SERVICE_SKIP`` (a failure under ``KYC_REQUIRE_SERVICES=1``)."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import pytest

import kyc_webhooks as kw
from _postgres import SERVICE_SKIP
from kyc_webhooks.testing import signed_delivery

REDIS_URL = os.environ.get("KYC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
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


def drop_redis_prefix(prefix: str) -> None:
    """Delete the keys of one test run (bounded: a run makes a handful)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))[:10_000]
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
def redis_app(
    tmp_path_factory: pytest.TempPathFactory,
    package: str,
    name: str,
    source: str,
    sweep: str,
    *,
    asynchronous: bool = False,
) -> Iterator[tuple[ModuleType, Path, dict[str, str], str]]:
    """A test application on the Redis broker (celery, dramatiq): the module, its directory, the
    environment of its worker and the key prefix of this run; dropped afterwards.
    ``asynchronous``: the application registers the ``async def`` handlers (``ASYNC_ENV``)."""
    require_package(package)
    redis_url = require_redis()
    tmp = tmp_path_factory.mktemp(name)
    prefix = run_token()
    env = {
        "KYC_CONTRIB_SWEEP": sweep,
        "KYC_CONTRIB_PREFIX": prefix,
        "KYC_CONTRIB_REDIS": redis_url,
        "KYC_CONTRIB_DB": str(tmp / "deliveries.db"),
        "KYC_CONTRIB_RUNS": str(tmp / "runs.txt"),
        **({ASYNC_ENV: "1"} if asynchronous else {}),
    }
    app = start_app(tmp, name, source, env)
    try:
        yield app, tmp, env, prefix
    finally:
        app.store.close()
        sys.modules.pop(name, None)
        drop_redis_prefix(prefix)


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
def worker(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> Iterator[Path]:
    """A worker process (and its children, in a session of their own) for the body of the
    ``with``; stopped by its PID: SIGTERM to its process group, SIGKILL after 20 s."""
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
        yield log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


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

import kyc_webhooks as kw

RUNS = os.environ["KYC_CONTRIB_RUNS"]


def record_line(line: str) -> None:
    fd = os.open(RUNS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode() + b"\\n")
    finally:
        os.close(fd)


def record_run(event: kw.WebhookEvent) -> None:
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
