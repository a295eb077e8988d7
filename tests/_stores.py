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


def corrupt_sqlite_store(path: Path) -> None:
    """A SQLite store at ``path`` whose data pages are overwritten past its header and schema:
    opening it works, reading the deliveries does not."""
    import contextlib
    import sqlite3

    from kyc_webhooks.store import NewDelivery

    with SQLiteStore(path) as store:
        for number in range(200):
            store.add(NewDelivery(f"k{number}", "idenfy", "E", b"{}" + b"x" * 2000))
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with open(path, "r+b") as file:
        file.seek(4096 * 10)
        file.write(b"\xde\xad" * 20000)
