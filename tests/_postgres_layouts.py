# ruff: noqa: S608 -- statements name the generated test schemas (kw_test_<pid>_<hex>).
"""Older PostgresStore schemas, for the migration tests: the tables and indexes exactly as schema
versions 1 and 2 created them (frozen copies: a migration must upgrade what an older release
really left, whatever today's code creates), and rows written the way that release wrote them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from _postgres import sql

#: Schema version 1: the deliveries table (``delivery_key`` UNIQUE: a btree entry of the whole
#: key) and its indexes.
VERSION_1 = (
    """CREATE TABLE {s}.deliveries (
        id text PRIMARY KEY,
        delivery_key text NOT NULL UNIQUE,
        vendor text NOT NULL,
        event_type text NOT NULL,
        state text NOT NULL
            CHECK (state IN ('pending', 'processing', 'done', 'failed')),
        received_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        replays integer NOT NULL DEFAULT 0,
        body bytea,
        headers text NOT NULL DEFAULT '[]',
        lease_until timestamptz,
        claim_token text,
        claimed_from text,
        finished_at timestamptz,
        last_error_type text,
        last_error_message text,
        not_before timestamptz,
        body_erased_at timestamptz
    )""",
    "CREATE INDEX deliveries_unfinished ON {s}.deliveries (received_at, id) WHERE state <> 'done'",
    "CREATE INDEX deliveries_received ON {s}.deliveries (received_at)",
    "CREATE INDEX deliveries_vendor ON {s}.deliveries (vendor, event_type, received_at)",
)

#: Schema version 2: the decision ledger, keyed by ``(vendor, subject)``.
VERSION_2 = (
    """CREATE TABLE {s}.decisions (
        vendor text NOT NULL,
        subject text NOT NULL,
        status text,
        final boolean,
        delivery_id text,
        event_type text,
        received_at timestamptz,
        occurred_at timestamptz,
        client_ref text,
        reasons text,
        fetch_required boolean,
        lease_token text,
        lease_until timestamptz,
        lease_delivery text,
        PRIMARY KEY (vendor, subject)
    )""",
    "CREATE INDEX decisions_client ON {s}.decisions "
    "(client_ref, (COALESCE(occurred_at, received_at)) DESC) "
    "WHERE client_ref IS NOT NULL AND status IS NOT NULL",
)

_DESCRIPTIONS = {1: "deliveries table", 2: "decisions ledger"}


def make_layout(schema: str, version: int) -> None:
    """Create ``schema`` as a store of schema ``version`` (1 or 2) left it, with no rows."""
    statements = [
        f"CREATE SCHEMA {schema}",
        f"CREATE TABLE {schema}.migrations (version integer PRIMARY KEY, "
        "description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    ]
    for number, ddl in ((1, VERSION_1), (2, VERSION_2))[:version]:
        statements += [statement.format(s=schema) for statement in ddl]
        statements.append(
            f"INSERT INTO {schema}.migrations (version, description) "
            f"VALUES ({number}, '{_DESCRIPTIONS[number]}')"
        )
    for statement in statements:
        sql(statement)


def insert_delivery(
    schema: str,
    *,
    record_id: str,
    key: str,
    state: str,
    received_at: datetime,
    vendor: str = "idenfy",
    event_type: str = "T",
    body: bytes | None = b"{}",
    attempts: int = 0,
    lease_until: datetime | None = None,
    claim_token: str | None = None,
    finished_at: datetime | None = None,
    last_error_type: str | None = None,
    body_erased_at: datetime | None = None,
) -> None:
    """One deliveries row as versions 1 and 2 wrote it (text already as to_text_column made it)."""
    sql(
        f"INSERT INTO {schema}.deliveries (id, delivery_key, vendor, event_type, state, "
        "received_at, updated_at, attempts, body, headers, lease_until, claim_token, "
        "finished_at, last_error_type, body_erased_at) "
        'VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, \'[["x-a", "1"]]\', %s, %s, %s, %s, %s)',
        record_id,
        key,
        vendor,
        event_type,
        state,
        received_at,
        received_at,
        attempts,
        body,
        lease_until,
        claim_token,
        finished_at,
        last_error_type,
        body_erased_at,
    )


def insert_decision(schema: str, **columns: Any) -> None:
    """One decisions row as version 2 wrote it (``columns``: its column values)."""
    names = ", ".join(columns)
    marks = ", ".join(["%s"] * len(columns))
    sql(f"INSERT INTO {schema}.decisions ({names}) VALUES ({marks})", *columns.values())


def to_version_3(schema: str) -> None:
    """Turn ``schema``, a store of today's layout, into what version 3 left, rows kept: the
    ledger without the verdict last announced and the layout guard (what version 4 added)."""
    sql(
        f"ALTER TABLE {schema}.decisions DROP COLUMN announced_status, "
        "DROP COLUMN announced_final, DROP COLUMN layout"
    )
    sql(f"DELETE FROM {schema}.migrations WHERE version >= 4")
