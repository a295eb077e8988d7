"""Writes ``store-v3.sqlite3``: a store file of schema version 3, made by the SQLiteStore of that
version (``git show 25713e8:src/kyc_webhooks/store/sqlite.py > old_sqlite.py``) through a real
receiver, for tests/test_sqlite_layout.py. Run: ``python tests/data/make_sqlite_v3.py
old_sqlite.py tests/data/store-v3.sqlite3``.

Its records (clock fixed at 2026-01-01 12:00 UTC, one second apart): three handled iDenfy
identifications (``done``, a ledger entry each; bodies of scan-0 and scan-2 span overflow pages),
a deferred one (``pending``), a deferred one whose body was erased, a ``failed`` one, and a
``processing`` one whose claim and subject lease (``scan-held``) last ten years. Every body holds
``PASSPORT-V3-<n>-``."""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import kyc_webhooks as kw
from kyc_webhooks.store import DecisionEntry, NewDelivery
from kyc_webhooks.testing import sign

START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
KEY = "test-signing-key"
EVENT_TYPE = "IDENTIFICATION_AUTO_FINISHED"
TEN_YEARS = 3650 * 24 * 3600.0


def signed(n: int) -> tuple[bytes, dict[str, str]]:
    number = f"PASSPORT-V3-{n:02d}-" * (400 if n % 2 == 0 else 40)
    payload = {"scanRef": f"scan-{n}", "clientId": f"client-{n}", "final": True,
               "status": {"overall": "APPROVED"}, "data": {"docNumber": number}}  # fmt: skip
    return sign("idenfy", payload, KEY, event_type=EVENT_TYPE)


def main(old_module: str, out: str) -> None:
    spec = importlib.util.spec_from_file_location("kyc_webhooks.store._sqlite_v3", old_module)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(out + suffix):
            os.remove(out + suffix)
    now = [START]
    store: Any = module.SQLiteStore(out, clock=lambda: now[0])
    assert store.schema_version() == 3
    handling = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    handling.on("idenfy")(lambda event: None)
    deferring = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, defer=True)
    for n in range(3):
        assert handling.handle(*signed(n)).status_code == 200
        now[0] += timedelta(seconds=1)
    assert deferring.handle(*signed(3)).status_code == 202
    now[0] += timedelta(seconds=1)
    erased = deferring.handle(*signed(4))
    assert erased.delivery_id is not None
    assert store.erase(erased.delivery_id)
    now[0] += timedelta(seconds=1)
    body = b'{"docNumber":"PASSPORT-V3-05-"}'
    failed = store.add(
        NewDelivery("failed-key", "idenfy", EVENT_TYPE, body, (("x-a", "1"),)), lease=30
    )
    assert store.fail(failed.claim, error_type="ValueError", error_message="handler failed",
                      retry_at=START + timedelta(hours=1))  # fmt: skip
    now[0] += timedelta(seconds=1)
    body = b'{"docNumber":"PASSPORT-V3-06-"}'
    held = store.add(NewDelivery("held-key", "idenfy", EVENT_TYPE, body), lease=TEN_YEARS)
    entry = DecisionEntry("idenfy", "scan-held", "DECLINED", True, held.record.id, EVENT_TYPE,
                          held.record.received_at)  # fmt: skip
    assert store.begin_decision(held.claim, entry, lease=TEN_YEARS) is not None
    store.close()
    conn = sqlite3.connect(out, isolation_level=None)
    try:
        conn.execute("VACUUM")  # no free page keeps a copy of the erased body
        conn.execute("PRAGMA journal_mode = DELETE")  # one file
    finally:
        conn.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
