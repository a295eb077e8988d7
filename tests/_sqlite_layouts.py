"""Older SQLiteStore file layouts, for the migration tests: the deliveries table as schema
versions 1 to 3 created it (the body inside the row, ``id`` the primary key of a rowid table), and
the ledger as version 4 left it (no announced verdict)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

#: The deliveries table and its indexes as schema version 1 created them (unchanged until 4).
VERSION_3_DELIVERIES = (
    """CREATE TABLE kyc_webhooks_deliveries (
        id TEXT PRIMARY KEY, delivery_key TEXT NOT NULL UNIQUE, vendor TEXT NOT NULL,
        event_type TEXT NOT NULL, state TEXT NOT NULL, received_at REAL NOT NULL,
        updated_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        replays INTEGER NOT NULL DEFAULT 0, body BLOB, headers TEXT NOT NULL DEFAULT '[]',
        lease_until REAL, claim_token TEXT, finished_at REAL, last_error_type TEXT,
        last_error_message TEXT, not_before REAL, body_erased_at REAL
    )""",
    "CREATE INDEX kyc_webhooks_deliveries_state ON kyc_webhooks_deliveries (state, received_at)",
    "CREATE INDEX kyc_webhooks_deliveries_received ON kyc_webhooks_deliveries (received_at)",
    "CREATE INDEX kyc_webhooks_deliveries_vendor "
    "ON kyc_webhooks_deliveries (vendor, event_type, received_at)",
)

_V3_COLUMNS = (
    "id, delivery_key, vendor, event_type, state, received_at, updated_at, attempts, replays, "
    "headers, lease_until, claim_token, finished_at, last_error_type, last_error_message, "
    "not_before, body_erased_at"
)


def to_version_4(path: Path) -> None:
    """Turn a file of today's schema into the layout of version 4, rows kept: the ledger without
    the announced verdict (``announced_status``, ``announced_final``) and the ``layout`` guard."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DROP TRIGGER kyc_webhooks_decisions_layout")
        conn.execute("ALTER TABLE kyc_webhooks_decisions DROP COLUMN announced_status")
        conn.execute("ALTER TABLE kyc_webhooks_decisions DROP COLUMN announced_final")
        conn.execute("ALTER TABLE kyc_webhooks_decisions DROP COLUMN layout")
        conn.execute("DELETE FROM kyc_webhooks_migrations WHERE version >= 5")
        conn.execute("COMMIT")
    finally:
        conn.close()


def to_version_3(path: Path) -> None:
    """Turn a file of today's schema into the layout of version 3, rows and bodies kept."""
    to_version_4(path)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ALTER TABLE kyc_webhooks_deliveries RENAME TO new_deliveries")
        for index in ("state", "received", "vendor"):
            conn.execute(f"DROP INDEX kyc_webhooks_deliveries_{index}")
        for statement in VERSION_3_DELIVERIES:
            conn.execute(statement)
        conn.execute(
            f"INSERT INTO kyc_webhooks_deliveries ({_V3_COLUMNS}, body) "  # noqa: S608
            f"SELECT {_V3_COLUMNS}, (SELECT body FROM kyc_webhooks_bodies WHERE delivery = seq) "
            "FROM new_deliveries ORDER BY seq"
        )
        conn.execute("DROP TABLE new_deliveries")
        conn.execute("DROP TABLE kyc_webhooks_bodies")
        conn.execute("DELETE FROM kyc_webhooks_migrations WHERE version >= 4")
        conn.execute("COMMIT")
    finally:
        conn.close()
