"""The decision ledger's SQLite specifics: schema version 2 adds ``kyc_webhooks_decisions`` to a
file written by version 1 (its deliveries kept), and a ledger row that does not decode is a
StoreError naming the file, never a raw exception."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kyc_webhooks.errors import StoreError
from kyc_webhooks.store import DecisionEntry, NewDelivery, SQLiteStore

KEY = "old-delivery"


def _version_1_file(path: Path) -> None:
    """A database as schema version 1 left it, with one delivery: today's file with the ledger
    table and its migration record removed."""
    with SQLiteStore(path) as store:
        added = store.add(NewDelivery(KEY, "idenfy", "IDENTIFICATION", b"{}"), lease=30)
        assert added.claim is not None
        assert store.complete(added.claim)
    conn = sqlite3.connect(path)
    try:
        conn.execute("DROP TABLE kyc_webhooks_decisions")
        conn.execute("DELETE FROM kyc_webhooks_migrations WHERE version = 2")
        conn.commit()
    finally:
        conn.close()


def test_a_version_1_file_gains_the_ledger_and_keeps_its_deliveries(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    _version_1_file(path)
    with SQLiteStore(path) as store:
        assert store.schema_version() == 2
        old = store.get_by_key(KEY)
        assert old is not None
        assert old.done
        claim = store.add(
            NewDelivery("new", "idenfy", "IDENTIFICATION_MANUAL_FINISHED", b"{}"), lease=30
        ).claim
        assert claim is not None
        made = DecisionEntry(
            "idenfy", "scan-1", "APPROVED", True, claim.record.id, "IDENTIFICATION",
            claim.record.received_at,
        )  # fmt: skip
        ticket = store.begin_decision(claim, made, lease=30)
        assert ticket is not None
        assert store.complete(claim, decision=ticket)
        assert store.effective_decision("idenfy", "scan-1") == made
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT version FROM kyc_webhooks_migrations ORDER BY 1").fetchall()
    conn.close()
    assert rows == [(1,), (2,)]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("received_at", "yesterday"),
        ("received_at", "2026-01-01T12:00:00"),  # no offset
        ("final", "yes"),
        ("reasons", "{}"),
        ("fetch_required", "x"),
        ("status", b"\xff"),
    ],
)
def test_a_malformed_ledger_row_is_a_store_error(
    tmp_path: Path, column: str, value: object
) -> None:
    path = tmp_path / "ledger.db"
    with SQLiteStore(path) as store:
        claim = store.add(
            NewDelivery("k", "idenfy", "IDENTIFICATION_MANUAL_FINISHED", b"{}"), lease=30
        ).claim
        assert claim is not None
        made = DecisionEntry(
            "idenfy", "scan-1", "APPROVED", True, claim.record.id, "IDENTIFICATION",
            claim.record.received_at, client_ref="user-1",
        )  # fmt: skip
        ticket = store.begin_decision(claim, made, lease=30)
        assert ticket is not None
        assert store.complete(claim, decision=ticket)
    conn = sqlite3.connect(path)
    try:
        # Test-only SQL: the column name comes from the parameter list above.
        conn.execute(f"UPDATE kyc_webhooks_decisions SET {column} = ?", (value,))  # noqa: S608
        conn.commit()
    finally:
        conn.close()
    with SQLiteStore(path) as store:
        with pytest.raises(StoreError, match="stored decision is malformed"):
            store.effective_decision("idenfy", "scan-1")
        with pytest.raises(StoreError, match="stored decision is malformed"):
            store.decisions_for_client("user-1")
