"""Shared fixtures: ``clock`` (a controllable clock) and ``store`` (every store implementation, the
SQLite one on a real file), used by the store contract and receiver-with-store suites."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from _postgres import SERVICE_SKIP, drop_schema, new_schema, postgres_store, require_postgres
from _stores import STORES, FakeClock
from kyc_webhooks.store import Store

# The Django app suite runs under pytest-django in a process of its own (test_django_app.py),
# which sets KYC_TEST_DJANGO_DB; everywhere else its directory is not collected.
collect_ignore = [] if os.environ.get("KYC_TEST_DJANGO_DB") else ["django_app"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=list(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    made = STORES[request.param](tmp_path, clock)
    yield made
    made.close()


@pytest.fixture(params=[*STORES, "postgres", "pgbouncer"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    """Every store implementation, PostgreSQL's too (a schema of its own, dropped at the end),
    also through PgBouncer in transaction pooling."""
    if request.param in ("postgres", "pgbouncer"):
        with postgres_store(clock, pgbouncer=request.param == "pgbouncer") as made:
            yield made
        return
    made = STORES[request.param](tmp_path, clock)
    yield made
    made.close()


@pytest.fixture
def schema() -> Iterator[str]:
    """A PostgreSQL schema name of its own (dropped at the end) for tests that build their own
    stores; skipped, naming the service, without the server."""
    require_postgres()
    name = new_schema()
    try:
        yield name
    finally:
        drop_schema(name)


# -- service guard (KYC_REQUIRE_SERVICES) -------------------------------------------------------
# A test that needs a server (PostgreSQL, Redis ...) skips with a reason starting with
# ``_postgres.SERVICE_SKIP`` ("service unavailable:") when the server is unreachable, so that a
# developer without it gets a clear skip. CI sets KYC_REQUIRE_SERVICES=1 (.ci/run): there such a
# skip is a failure, so that a misconfigured CI cannot pass by skipping the service tests.


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if not report.skipped or os.environ.get("KYC_REQUIRE_SERVICES") != "1":
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    if SERVICE_SKIP in reason:
        report.outcome = "failed"
        report.longrepr = f"KYC_REQUIRE_SERVICES=1 and a service test was skipped: {reason}"
