"""Shared fixtures: ``clock`` (a controllable clock) and ``store`` (every store implementation, the
SQLite one on a real file), used by the store contract and receiver-with-store suites."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

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
