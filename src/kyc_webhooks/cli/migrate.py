"""``kyc-webhooks migrate``: create or upgrade a store's schema now, rather than on first use."""

from __future__ import annotations

import argparse
import contextlib

from ._common import (
    EXIT_OK,
    PROG,
    add_output_options,
    emit_json,
    epilog,
    out,
    seconds,
)
from ._stores import (
    add_schema_option,
    check_integrity,
    describe,
    open_store,
    pgbouncer_option,
    schema_option,
)


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


def run(args: argparse.Namespace) -> int:
    schema = schema_option(args.schema, args.store, "--store")
    pgbouncer = pgbouncer_option(args, args.store, "--store")
    store = open_store(args.store, schema=schema, timeout=args.timeout, pgbouncer=pgbouncer)
    where: dict[str, str] = {}
    try:
        from kyc_webhooks.store import SQLiteStore

        if isinstance(store, SQLiteStore):
            version = store.schema_version()  # opening the file migrated it
            check_integrity(args.store)
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
