"""``kyc-webhooks migrate``: create or upgrade a store's schema now, rather than on first use."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from ._common import (
    EXIT_OK,
    PROG,
    CliError,
    add_output_options,
    emit_json,
    epilog,
    out,
    seconds,
)
from ._stores import add_schema_option, describe, open_store, pgbouncer_option, schema_option


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Create or migrate the schema of a store: a postgresql:// URL (PostgresStore.migrate(); "
        "safe while other processes start) or a SQLite path (created if missing)."
    )
    parser.epilog = epilog(
        f"{PROG} migrate --store postgresql://app@db/app",
        f"{PROG} migrate --store kyc-webhooks-inbox.sqlite3",
    )
    parser.add_argument(
        "--store", required=True, metavar="PATH_OR_URL", help="SQLite path or postgresql:// URL"
    )
    add_schema_option(parser, "kyc_webhooks")
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=60.0,
        metavar="S",
        help="how long to wait for the database (60): for a PostgreSQL connection (a server "
        "still starting), and for a lock on the store's tables held by a long transaction or a "
        "backup; the migration itself is not cut short",
    )
    add_output_options(parser)


def _check_integrity(path: str) -> None:
    """SQLite's ``PRAGMA quick_check`` of the file: a corrupt page that no read of the
    migration touched made ``migrate`` say "up to date" (review R53)."""
    import sqlite3

    if path == ":memory:":
        return
    try:
        with contextlib.closing(
            sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True)
        ) as conn:
            rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.Error as exc:
        raise CliError(f"{describe(path)}: cannot check the file ({exc}); restore it") from None
    problems = [str(row[0]) for row in rows if row[0] != "ok"]
    if problems:
        raise CliError(
            f"{describe(path)}: the file is corrupt ({problems[0]}"
            + (f"; {len(problems) - 1} more" if len(problems) > 1 else "")
            + "): restore it from a backup"
        )


def run(args: argparse.Namespace) -> int:
    schema = schema_option(args.schema, args.store, "--store")
    pgbouncer = pgbouncer_option(args, args.store, "--store")
    store = open_store(args.store, schema=schema, timeout=args.timeout, pgbouncer=pgbouncer)
    where: dict[str, str] = {}
    try:
        from kyc_webhooks.store import SQLiteStore

        if isinstance(store, SQLiteStore):
            version = store.schema_version()  # opening the file migrated it
            _check_integrity(args.store)
        else:
            from kyc_webhooks.store import PostgresStore

            assert isinstance(store, PostgresStore)
            version = store.migrate()
            # Which schema: a default one left by mistake beside the application's is the
            # mix-up this line has to show.
            where = {"schema": store.schema}
    finally:
        with contextlib.suppress(Exception):
            store.close()
    if args.json:
        emit_json({"store": describe(args.store), **where, "schema_version": version})
    else:  # the one line is the summary: --quiet prints it too
        named = f" (schema {where['schema']})" if where else ""
        out(f"{describe(args.store)}{named}: schema version {version}, up to date")
    return EXIT_OK
