"""``SQLiteStore`` erasure leaves no copy of the erased data in the database file: not even in the
unused space of a b-tree page that still holds other rows.

``secure_delete`` zeroes a deleted row and the pages it frees, but when SQLite moves rows between
pages (a page split or merge), the page they left may keep the old bytes in its unused space --
the gap between its cell pointers and its content, which ``secure_delete`` never clears. A row
moved that way and erased later left that copy behind: a forgotten person's ``client_ref`` in the
ledger and its index, an erased body. The erasing calls now rebuild the file (``VACUUM``) before
the checkpoint, so that only the rows kept are written again."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import kyc_webhooks as kw
from _stores import FakeClock
from kyc_webhooks.store import SQLiteStore
from kyc_webhooks.testing import sign

KEY = "pages-signing-key"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
COUNT = 1200


def marker(kind: str, index: int) -> str:
    return f"{kind}{index:05d}Q"


def fill(path: Path, clock: FakeClock) -> list[int]:
    """COUNT verdicts of as many people, received in random order of time and of scanRef (rows
    move between pages as the ledger and the bodies grow); returns the minute each arrived."""
    chance = random.Random(7)  # a fixed test layout
    minutes = list(range(COUNT))
    chance.shuffle(minutes)
    store = SQLiteStore(path, durable=False, clock=clock)
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    for index, minute in enumerate(minutes):
        clock.current = START + timedelta(minutes=minute)
        payload = {
            "clientId": marker("REF", index) + "r" * chance.randint(0, 200),
            "scanRef": f"{chance.random():.12f}-scan",
            "final": True,
            "status": {"overall": "APPROVED"},
            "data": {"docFirstName": marker("NAME", index) + "n" * chance.randint(0, 900)},
        }
        body, headers = sign("idenfy", payload, KEY, event_type="IDENTIFICATION_AUTO_FINISHED")
        assert receiver.handle(body, dict(headers)).status_code == 200
    store.close()
    return minutes


def test_erased_rows_leave_no_copy_in_the_unused_space_of_pages(tmp_path: Path) -> None:
    path = tmp_path / "in.db"
    clock = FakeClock(START)
    minutes = fill(path, clock)
    clock.current = START + timedelta(days=1)
    store = SQLiteStore(path, clock=clock)
    # Two rounds: the first moves rows the second erases.
    for cut in (COUNT // 3, 2 * COUNT // 3):
        assert store.erase_bodies(older_than=START + timedelta(minutes=cut)) > 0
        assert store.purge_decisions(older_than=START + timedelta(minutes=cut)) > 0
    store.close()
    data = path.read_bytes()
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    erased = [i for i, minute in enumerate(minutes) if minute < 2 * COUNT // 3]
    kept = [i for i, minute in enumerate(minutes) if minute >= 2 * COUNT // 3]
    left = [
        name
        for i in erased
        for name in (marker("REF", i), marker("NAME", i))
        if name.encode() in data
    ]
    assert left == []
    # The same scan finds what was kept.
    assert all(marker("NAME", i).encode() in data for i in kept)
    assert all(marker("REF", i).encode() in data for i in kept)


def test_erased_small_bodies_leave_no_copy_in_the_unused_space_of_pages(tmp_path: Path) -> None:
    """Bodies small enough to share a page (an iDenfy reminder naming the client), erased by age
    in two rounds, received in random order: the first round moves bodies the second erases."""
    path = tmp_path / "in.db"
    clock = FakeClock(START)
    chance = random.Random(1)  # a fixed test layout
    minutes = list(range(COUNT))
    chance.shuffle(minutes)
    store = SQLiteStore(path, durable=False, clock=clock)
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, defer=True)
    for index, minute in enumerate(minutes):
        clock.current = START + timedelta(minutes=minute)
        payload = {
            "clientId": marker("CLIENT", index),
            "scanRef": f"scan-{index}",
            "documentExpiration": "z" * chance.randint(0, 800),
        }
        body, headers = sign("idenfy", payload, KEY, event_type="DOCUMENT_EXPIRATION")
        assert receiver.handle(body, dict(headers)).status_code == 202
    clock.current = START + timedelta(days=1)
    for cut in (COUNT // 3, 2 * COUNT // 3):
        assert store.erase_bodies(older_than=START + timedelta(minutes=cut)) == COUNT // 3
    store.close()
    data = path.read_bytes()
    erased = [i for i, minute in enumerate(minutes) if minute < 2 * COUNT // 3]
    assert [i for i in erased if marker("CLIENT", i).encode() in data] == []
    kept = [i for i, minute in enumerate(minutes) if minute >= 2 * COUNT // 3]
    assert all(marker("CLIENT", i).encode() in data for i in kept)
