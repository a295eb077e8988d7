"""What the store test suites share: a controllable clock and the two store implementations (the
``clock`` and ``store`` fixtures built from them live in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kyc_webhooks.store import MemoryStore, SQLiteStore, Store

START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


class FakeClock:
    def __init__(self, start: datetime = START) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


STORES: dict[str, Callable[[Path, FakeClock], Store]] = {
    "memory": lambda tmp, clock: MemoryStore(clock=clock),
    "sqlite": lambda tmp, clock: SQLiteStore(tmp / "deliveries.db", clock=clock),
}
