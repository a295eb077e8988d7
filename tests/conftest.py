"""Shared fixtures: ``clock`` (a controllable clock) and ``store`` (every store implementation, the
SQLite one on a real file), used by the store contract and receiver-with-store suites."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from _stores import STORES, FakeClock
from kyc_webhooks.store import Store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=list(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    made = STORES[request.param](tmp_path, clock)
    yield made
    made.close()
