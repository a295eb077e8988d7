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

from _postgres import SERVICE_SKIP

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


#: The handler of every test application: one line per run, appended by the worker process.
HANDLER = """
import os

import kyc_webhooks as kw

RUNS = os.environ["KYC_CONTRIB_RUNS"]


def record_run(event: kw.WebhookEvent) -> None:
    fd = os.open(RUNS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, event.delivery_key.encode() + b"\\n")
    finally:
        os.close(fd)
"""
