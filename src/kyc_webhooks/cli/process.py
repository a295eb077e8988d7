"""``kyc-webhooks process``: run the application's handlers on the stored deliveries that still
need them (deferred, failed past their back-off, abandoned by a dead worker) -- once, or in a
loop that polls with back-off and stops cleanly on SIGTERM or Ctrl-C. The loop outlives a
failing store (a lock past its timeout, a server restart or failover, a full pool): the error is
logged and waited out with the same back-off. With an ``async def`` handler the whole loop runs
in one event loop, so that a client the handlers share stays bound to it."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from typing import Any

from kyc_webhooks.store import PostgresStore, Store

from ._app import app_receiver, app_schema, load_app, run_handlers
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    PROG,
    CliError,
    Progress,
    add_output_options,
    emit_json,
    epilog,
    err,
    out,
    seconds,
    stop_on_signals,
)
from ._loop import ProcessLoop
from ._server import add_log_level_option, log_level
from ._stores import (
    add_schema_option,
    describe,
    is_postgres,
    open_store,
    pgbouncer_option,
    require_store,
    schema_option,
)


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Import your Receiver (--app package.module:attribute, from the current directory) and "
        "run process_pending() with its handlers on the store (--store: a SQLite path or a "
        "postgresql:// URL, in --schema or else the schema of the receiver's own PostgresStore; "
        "the store must exist: `migrate` creates one; default: the receiver's own store). With "
        "--loop, poll until SIGTERM or Ctrl-C, waiting longer (up to --max-interval) while there "
        "is nothing to do or the store fails. A delivery is done only when your handlers "
        "succeed; failures follow the store's back-off."
    )
    parser.epilog = epilog(
        f"{PROG} process --store postgresql://app@db/app --app myapp.webhooks:receiver",
        f"{PROG} process --store postgresql://app@db/app --schema app_prod --app app:receiver",
        f"{PROG} process --store kyc-webhooks-inbox.sqlite3 --app myapp.webhooks:receiver --loop",
    )
    parser.add_argument(
        "--app",
        required=True,
        metavar="MODULE:ATTR",
        help="your Receiver (app.hooks:receiver)",
    )
    parser.add_argument("--store", metavar="PATH_OR_URL", help="SQLite path or postgresql:// URL")
    add_schema_option(parser, "the receiver's own store's, else kyc_webhooks")
    parser.add_argument("--loop", action="store_true", help="keep polling until SIGTERM/Ctrl-C")
    parser.add_argument(
        "--limit", type=int, default=100, metavar="N", help="deliveries per batch (100)"
    )
    parser.add_argument(
        "--max-attempts", type=int, default=None, metavar="N", help="leave failed after N attempts"
    )
    parser.add_argument(
        "--interval", type=seconds, default=0.5, metavar="S", help="first idle wait (0.5)"
    )
    parser.add_argument(
        "--max-interval", type=seconds, default=30.0, metavar="S", help="longest idle wait (30)"
    )
    parser.add_argument(
        "--every", type=int, default=100, metavar="N", help="off a terminal, a line every N (100)"
    )
    add_log_level_option(parser, "warning")
    add_output_options(parser)


def run(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CliError("--limit must be at least 1")
    if args.max_attempts is not None and args.max_attempts < 1:
        raise CliError("--max-attempts must be at least 1")
    if args.every < 1:
        raise CliError("--every must be at least 1")
    given = schema_option(args.schema, args.store, "--store")
    postgres = bool(args.store) and is_postgres(args.store)
    app = load_app(args.app, "process")
    store: Store | None = None
    check: Callable[[], None] | None = None
    if args.store:
        # Never create a store here: a mistyped path or schema would process nothing, forever.
        schema = given or (app_schema(app) if postgres else None)
        # As for the schema: the application's own PostgresStore says whether it is a PgBouncer.
        pgbouncer = pgbouncer_option(args, args.store, "--store") or (
            postgres and isinstance(app.store, PostgresStore) and app.store.pgbouncer
        )
        missing = f"check the path, or create it with `{PROG} migrate --store PATH`"
        opened = store = open_store(
            args.store, schema=schema, missing=missing, create=False, pgbouncer=pgbouncer
        )

        def check() -> None:
            require_store(opened, args.store)

    where = describe(args.store) if args.store else "the receiver's store"
    if postgres:
        assert isinstance(store, PostgresStore)
        where += f" (schema {store.schema})"
    try:
        receiver = app_receiver(args.app, store, app=app)
        return _run(args, receiver, check, where)
    finally:
        if store is not None:
            with contextlib.suppress(Exception):
                store.close()


def _run(
    args: argparse.Namespace, receiver: Any, check: Callable[[], None] | None, where: str
) -> int:
    progress = Progress(
        "processed", every=args.every, enabled=args.loop and not args.quiet and not args.json
    )
    batches = ProcessLoop(
        receiver,
        loop=args.loop,
        limit=args.limit,
        max_attempts=args.max_attempts,
        interval=args.interval,
        max_interval=args.max_interval,
        # Before the first batch, as part of it: a store that fails then is waited out under
        # --loop like a batch's; a store that does not exist ends the run (CliError).
        check=check,
        report=lambda summary: progress.step(summary.processed),
    )
    if args.loop and not args.json:
        err(f"{PROG}: processing {where} with {args.app}; SIGTERM or Ctrl-C stops")
    try:
        with stop_on_signals(batches.stop):
            level, explicit = log_level(args.log_level, "warning")
            stopped = run_handlers(
                receiver,
                ProcessLoop.run,
                ProcessLoop.run_async,
                batches,
                level=level,
                explicit=explicit,
            )
    finally:
        progress.close()
    succeeded, failed = batches.succeeded, batches.failed
    total = succeeded + failed
    if args.json:
        emit_json({"processed": total, "succeeded": succeeded, "failed": failed})
    else:
        ended = " (stopped)" if stopped else ""
        out(f"processed {total}: {succeeded} succeeded, {failed} failed{ended}")
    return EXIT_OK if args.loop or failed == 0 else EXIT_FAILED
