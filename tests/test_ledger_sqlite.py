"""The decision ledger's SQLite specifics: schema version 2 adds ``kyc_webhooks_decisions`` to a
file written by version 1 (its deliveries kept), version 3 rebuilds it WITHOUT ROWID with a partial
client_ref index (its rows and leases kept), and a ledger row that does not decode is a StoreError
naming the file, never a raw exception."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from _ledger import assert_upgraded_entry_counts_as_announced
from _sqlite_layouts import to_version_3, to_version_4
from kyc_webhooks.errors import StoreError
from kyc_webhooks.store import Claim, DecisionEntry, NewDelivery, SQLiteStore

KEY = "old-delivery"


def _version_1_file(path: Path) -> None:
    """A database as schema version 1 left it, with one delivery: today's file with the ledger
    table and its migration record removed."""
    with SQLiteStore(path) as store:
        added = store.add(NewDelivery(KEY, "idenfy", "IDENTIFICATION", b"{}"), lease=30)
        assert added.claim is not None
        assert store.complete(added.claim)
    to_version_3(path)
    conn = sqlite3.connect(path)
    try:
        conn.execute("DROP TABLE kyc_webhooks_decisions")
        conn.execute("DELETE FROM kyc_webhooks_migrations WHERE version >= 2")
        conn.commit()
    finally:
        conn.close()


def test_a_version_1_file_gains_the_ledger_and_keeps_its_deliveries(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    _version_1_file(path)
    with SQLiteStore(path) as store:
        assert store.schema_version() == 5
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
    assert rows == [(1,), (2,), (3,), (4,), (5,)]


# The ledger as schema version 2 created it: a rowid table and a full client_ref index.
_VERSION_2_LEDGER = (
    """CREATE TABLE kyc_webhooks_decisions (
        vendor TEXT NOT NULL, subject TEXT NOT NULL, status TEXT, final INTEGER,
        delivery_id TEXT, event_type TEXT, received_at TEXT, occurred_at TEXT, client_ref TEXT,
        reasons TEXT, fetch_required INTEGER, lease_token TEXT, lease_until REAL,
        PRIMARY KEY (vendor, subject)
    )""",
    "CREATE INDEX kyc_webhooks_decisions_client ON kyc_webhooks_decisions (client_ref)",
)


def _ledger_schema(path: Path) -> list[str]:
    """The ledger's table, then its index (its trigger has a test of its own)."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'kyc_webhooks_decisions' "
            "AND sql IS NOT NULL AND type IN ('table', 'index') ORDER BY type DESC"
        ).fetchall()
    conn.close()
    return [" ".join(str(sql).split()) for (sql,) in rows]


def _an_entry_and_a_lease(
    store: SQLiteStore, status: str, final: bool
) -> tuple[Claim, DecisionEntry, Claim, DecisionEntry]:
    """A ledger of two verifications: ``scan-1`` with an entry (``status``, ``final``), from the
    completed claim ``done``; ``scan-2`` with only the live subject lease of the claim ``held``
    (its entry ``pending``, a DECLINED, not recorded)."""
    done, held = (
        store.add(NewDelivery(k, "idenfy", "IDENTIFICATION", b"{}"), lease=30).claim
        for k in ("done", "held")
    )
    assert done is not None
    assert held is not None
    made = DecisionEntry(
        "idenfy", "scan-1", status, final, done.record.id, "IDENTIFICATION",
        done.record.received_at, client_ref="client-1",
    )  # fmt: skip
    ticket = store.begin_decision(done, made, lease=30)
    assert ticket is not None
    assert store.complete(done, decision=ticket)
    pending = DecisionEntry(
        "idenfy", "scan-2", "DECLINED", True, held.record.id, "IDENTIFICATION",
        held.record.received_at, client_ref="client-1",
    )  # fmt: skip
    assert store.begin_decision(held, pending, lease=30) is not None  # a live subject lease
    return done, made, held, pending


def test_a_version_2_file_gets_the_ledger_without_rowid_and_keeps_entries_and_leases(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v2.db"
    with SQLiteStore(path) as store:
        _, made, _, pending = _an_entry_and_a_lease(store, "APPROVED", True)
    to_version_3(path)
    # The same rows in the layout of version 2.
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT * FROM kyc_webhooks_decisions").fetchall()
        conn.execute("DROP TABLE kyc_webhooks_decisions")
        conn.execute("DELETE FROM kyc_webhooks_migrations WHERE version >= 3")
        for statement in _VERSION_2_LEDGER:
            conn.execute(statement)
        conn.executemany(
            "INSERT INTO kyc_webhooks_decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    conn.close()
    assert len(rows) == 2
    assert "WITHOUT ROWID" not in _ledger_schema(path)[0]

    with SQLiteStore(path) as store:
        assert store.schema_version() == 5
        assert store.effective_decision("idenfy", "scan-1") == made
        assert store.decisions_for_client("client-1") == [made]
        other = store.add(NewDelivery("other", "idenfy", "IDENTIFICATION", b"{}"), lease=30).claim
        assert other is not None
        # The subject lease taken under version 2 still holds.
        assert (
            store.begin_decision(
                other, dataclasses.replace(pending, delivery_id=other.record.id), lease=30
            )
            is None
        )
    table, index = _ledger_schema(path)
    assert table.endswith("WITHOUT ROWID")
    assert index.endswith("WHERE client_ref IS NOT NULL")


def test_decisions_for_client_reads_the_partial_index(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "plan.db") as store:
        store.decisions_for_client("client-1")  # opens (and migrates) the file
    with sqlite3.connect(tmp_path / "plan.db") as conn:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM kyc_webhooks_decisions "
            "WHERE client_ref = ? AND status IS NOT NULL",
            ("client-1",),
        ).fetchall()
    conn.close()
    assert any("kyc_webhooks_decisions_client" in str(row[-1]) for row in plan), plan


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


def test_a_version_4_file_gets_the_announced_verdict_of_its_entries(tmp_path: Path) -> None:
    """Schema version 5 adds the verdict last announced to each ledger row; under the old rules
    every stored entry had been announced, so an upgraded row starts with its entry's status and
    finality: a replay of its delivery announces nothing, a different verdict does."""
    path = tmp_path / "v4.db"
    with SQLiteStore(path) as store:
        done, made, _, _ = _an_entry_and_a_lease(store, "REVIEW", False)
    to_version_4(path)
    with sqlite3.connect(path) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(kyc_webhooks_decisions)")]
    conn.close()
    assert "announced_status" not in columns

    with SQLiteStore(path) as store:
        assert store.schema_version() == 5
        assert store.effective_decision("idenfy", "scan-1") == made
        with sqlite3.connect(path) as conn:
            rows = conn.execute(
                "SELECT subject, status, final, announced_status, announced_final "
                "FROM kyc_webhooks_decisions ORDER BY subject"
            ).fetchall()
        conn.close()
        assert rows == [
            ("scan-1", "REVIEW", 0, "REVIEW", 0),
            ("scan-2", None, None, None, None),
        ]
        assert_upgraded_entry_counts_as_announced(store, made, done.record.id)


#: The ledger writes of version 4, as its processes still running after the migration send them:
#: the subject lease of a new verification, of a known one, and a completion's entry.
_LEASE_V4 = (
    "INSERT INTO kyc_webhooks_decisions (vendor, subject, lease_token, lease_until) "
    "VALUES ('idenfy', ?, 'old-token', 1e12) ON CONFLICT (vendor, subject) DO UPDATE SET "
    "lease_token = excluded.lease_token, lease_until = excluded.lease_until"
)
_ENTRY_V4 = (
    "INSERT INTO kyc_webhooks_decisions (vendor, subject, status, final, delivery_id, "
    "event_type, received_at, occurred_at, client_ref, reasons, fetch_required) "
    "VALUES ('idenfy', ?, 'APPROVED', 1, 'x', 'IDENTIFICATION', '2026-01-01T00:00:00+00:00', "
    "NULL, NULL, '[]', 0) ON CONFLICT (vendor, subject) DO UPDATE SET status = excluded.status"
)
_VERSION_4_WRITES = ((_LEASE_V4, "scan-new"), (_LEASE_V4, "scan-1"), (_ENTRY_V4, "scan-1"))


def test_a_process_of_version_4_cannot_write_the_ledger_after_the_migration(
    tmp_path: Path,
) -> None:
    """Version 5 added the verdict last announced. Processes of version 4 still running would go
    on writing ledger rows without it -- a verdict announced twice, or never (review R62): every
    row version 5 inserts names its layout, and an insert that names none is refused, so that
    such a process fails loudly (its store answers 503) instead."""
    path = tmp_path / "v5.db"
    with SQLiteStore(path) as store:
        _an_entry_and_a_lease(store, "APPROVED", True)
    with sqlite3.connect(path) as conn:
        before = conn.execute("SELECT * FROM kyc_webhooks_decisions ORDER BY subject").fetchall()
        for sql, subject in _VERSION_4_WRITES:
            with pytest.raises(sqlite3.IntegrityError, match="older version of kyc-webhooks"):
                conn.execute(sql, (subject,))
        after = conn.execute("SELECT * FROM kyc_webhooks_decisions ORDER BY subject").fetchall()
    conn.close()
    assert after == before
    # This version's own writes go on: a new verdict of the verification, recorded.
    with SQLiteStore(path) as store:
        claim = store.add(NewDelivery("new", "idenfy", "IDENTIFICATION", b"{}"), lease=30).claim
        assert claim is not None
        newer = DecisionEntry(
            "idenfy", "scan-1", "DECLINED", True, claim.record.id, "IDENTIFICATION",
            claim.record.received_at,
        )  # fmt: skip
        ticket = store.begin_decision(claim, newer, lease=30)
        assert ticket is not None
        assert ticket.changes
        assert store.complete(claim, decision=ticket)
        assert store.effective_decision("idenfy", "scan-1") == newer
