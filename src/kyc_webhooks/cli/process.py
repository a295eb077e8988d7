"""``kyc-webhooks process``: run the application's handlers on the stored deliveries that still
need them (deferred, failed past their back-off, abandoned by a dead worker) -- once, or in a
loop that polls with back-off and stops cleanly on SIGTERM or Ctrl-C. The loop outlives a
failing store (a lock past its timeout, a server restart or failover, a full pool): the error is
logged and waited out with the same back-off. With an ``async def`` handler the whole loop runs
in one event loop, so that a client the handlers share stays bound to it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import kyc_webhooks as kw
from kyc_webhooks._loading import load_receiver
from kyc_webhooks.store import Store

from ._app import app_receiver, is_async
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
from ._server import logging_to_stderr
from ._stores import describe, is_postgres, open_store, require_schema

logger = logging.getLogger("kyc_webhooks.cli")


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
    parser.add_argument(
        "--schema",
        metavar="NAME",
        help="PostgreSQL: the schema holding the tables (default: the receiver's own store's, "
        "else kyc_webhooks)",
    )
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
    add_output_options(parser)


def run(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CliError("--limit must be at least 1")
    if args.max_attempts is not None and args.max_attempts < 1:
        raise CliError("--max-attempts must be at least 1")
    if args.every < 1:
        raise CliError("--every must be at least 1")
    postgres = bool(args.store) and is_postgres(args.store)
    if args.schema and not postgres:
        raise CliError("--schema applies to a postgresql:// --store only")
    app = load_receiver(args.app)
    store: Store | None = None
    check: Callable[[], None] | None = None
    if args.store:
        # Never create a store here: a mistyped path or schema would process nothing, forever.
        schema = args.schema or (_schema_of(app.store) if postgres else None)
        missing = f"check the path, or create it with `{PROG} migrate --store PATH`"
        opened = store = open_store(args.store, schema=schema, missing=missing, create=False)

        def check() -> None:
            require_schema(opened, args.store)

    where = describe(args.store) if args.store else "the receiver's store"
    if postgres:
        where += f" (schema {_schema_of(store)})"
    try:
        receiver = app_receiver(args.app, store, app=app)
        return _run(args, receiver, check, where)
    finally:
        if store is not None:
            with contextlib.suppress(Exception):
                store.close()


def _schema_of(store: Store | None) -> str | None:
    """The schema of the application's own store when it is a PostgresStore."""
    if store is None:
        return None
    from kyc_webhooks.store import PostgresStore

    return store.schema if isinstance(store, PostgresStore) else None


class _Batches:
    """The loop's state: the counts, the progress line and the back-off between batches."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.succeeded = self.failed = 0
        self.delay: float = args.interval
        self.progress = Progress(
            "processed", every=args.every, enabled=args.loop and not args.quiet and not args.json
        )

    def done(self, summary: Any) -> float | None:
        """Count a batch; the seconds to wait before the next one (0: at once), None to end."""
        args = self.args
        self.succeeded += summary.succeeded
        self.failed += summary.failed
        if summary.processed:
            self.progress.step(summary.processed)
        if not args.loop:
            return None
        if summary.processed >= args.limit:
            self.delay = args.interval  # more may be waiting: no pause
            return 0.0
        if summary.processed:
            self.delay = args.interval
        return self._back_off()

    def store_failed(self, exc: kw.StoreError) -> float:
        """Under --loop, log a batch's store error and wait it out; without, it ends the run."""
        if not self.args.loop:
            raise exc
        wait = self._back_off()
        # The class and the store's own message: it names the operation and the server (never
        # a password), never a statement's values.
        logger.error(
            "process: the store failed error=%s detail=%s; next batch in %g s",
            type(exc).__name__,
            exc.message,
            wait,
        )
        return wait

    def _back_off(self) -> float:
        wait = self.delay
        self.delay = min(self.delay * 2, self.args.max_interval)
        return wait


def _run(
    args: argparse.Namespace, receiver: Any, check: Callable[[], None] | None, where: str
) -> int:
    options: dict[str, int] = {"limit": args.limit}
    if args.max_attempts is not None:
        options["max_attempts"] = args.max_attempts
    # `check` runs before the first batch, as part of it: a store that fails then is waited out
    # under --loop like a batch's; a store that does not exist ends the run (CliError).
    pending = check

    def batch() -> Any:
        nonlocal pending
        if pending is not None:
            pending()
            pending = None
        return receiver.process_pending(**options)

    async def batch_async() -> Any:
        nonlocal pending
        if pending is not None:
            await asyncio.to_thread(pending)
            pending = None
        return await receiver.process_pending_async(**options)

    batches = _Batches(args)
    if args.loop and not args.json:
        err(f"{PROG}: processing {where} with {args.app}; SIGTERM or Ctrl-C stops")
    try:
        with logging_to_stderr(logging.WARNING):
            if is_async(receiver):
                stopped = asyncio.run(_loop_async(batches, batch_async))
            else:
                stopped = _loop(batches, batch)
    finally:
        batches.progress.close()
    succeeded, failed = batches.succeeded, batches.failed
    total = succeeded + failed
    if args.json:
        emit_json({"processed": total, "succeeded": succeeded, "failed": failed})
    else:
        out(f"processed {total}: {succeeded} succeeded, {failed} failed{stopped}")
    return EXIT_OK if args.loop or failed == 0 else EXIT_FAILED


def _loop(batches: _Batches, batch: Callable[[], Any]) -> str:
    """Run batches until the loop ends or a signal stops it; " (stopped)" if one did."""
    stop = threading.Event()
    with stop_on_signals(stop.set):
        while not stop.is_set():
            try:
                wait = batches.done(batch())
            except kw.StoreError as exc:
                wait = batches.store_failed(exc)
            if wait is None:
                break
            if wait:
                stop.wait(wait)
    return " (stopped)" if stop.is_set() else ""


async def _loop_async(batches: _Batches, batch: Callable[[], Awaitable[Any]]) -> str:
    """:func:`_loop` for async handlers: every batch on this one event loop (a client the
    handlers share is bound to the loop it first ran on), the wait cut short by a signal."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stop_soon() -> None:  # in the signal handler: the loop sets the event
        loop.call_soon_threadsafe(stop.set)

    with stop_on_signals(stop_soon):
        while not stop.is_set():
            try:
                wait = batches.done(await batch())
            except kw.StoreError as exc:
                wait = batches.store_failed(exc)
            if wait is None:
                break
            if wait:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
    return " (stopped)" if stop.is_set() else ""
