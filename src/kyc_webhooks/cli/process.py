"""``kyc-webhooks process``: run the application's handlers on the stored deliveries that still
need them (deferred, failed past their back-off, abandoned by a dead worker) -- once, or in a
loop that polls with back-off and stops cleanly on SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

from kyc_webhooks.store import Store

from ._app import app_receiver, run_handlers
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
)
from ._stores import describe, open_store


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Import your Receiver (--app package.module:attribute, from the current directory) and "
        "run process_pending() with its handlers on the store (--store: a SQLite path or a "
        "postgresql:// URL; a SQLite file must exist: `migrate` creates one; default: the "
        "receiver's own store). With --loop, poll until SIGTERM "
        "or Ctrl-C, waiting longer (up to --max-interval) while there is nothing to do. A "
        "delivery is done only when your handlers succeed; failures follow the store's back-off."
    )
    parser.epilog = epilog(
        f"{PROG} process --store postgresql://app@db/app --app myapp.webhooks:receiver",
        f"{PROG} process --store kyc-webhooks-inbox.sqlite3 --app myapp.webhooks:receiver --loop",
    )
    parser.add_argument(
        "--app",
        required=True,
        metavar="MODULE:ATTR",
        help="your Receiver (app.hooks:receiver)",
    )
    parser.add_argument("--store", metavar="PATH_OR_URL", help="SQLite path or postgresql:// URL")
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


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop`` (the batch in progress finishes) instead of killing us."""

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    saved = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            saved[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, previous in saved.items():
            signal.signal(sig, previous)


def run(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CliError("--limit must be at least 1")
    if args.max_attempts is not None and args.max_attempts < 1:
        raise CliError("--max-attempts must be at least 1")
    if args.every < 1:
        raise CliError("--every must be at least 1")
    store: Store | None = None
    if args.store:
        # Never create a SQLite store here: a mistyped path would process nothing, forever.
        missing = f"check the path, or create it with `{PROG} migrate --store PATH`"
        store = open_store(args.store, missing=missing)
    try:
        receiver = app_receiver(args.app, store)
        return _run(args, receiver)
    finally:
        if store is not None:
            with contextlib.suppress(Exception):
                store.close()


def _run(args: argparse.Namespace, receiver: Any) -> int:
    options: dict[str, int] = {"limit": args.limit}
    if args.max_attempts is not None:
        options["max_attempts"] = args.max_attempts

    def batch(_: str) -> Any:
        return receiver.process_pending(**options)

    async def batch_async(_: str) -> Any:
        return await receiver.process_pending_async(**options)

    stop = threading.Event()
    progress = Progress(
        "processed", every=args.every, enabled=args.loop and not args.quiet and not args.json
    )
    succeeded = failed = batches = 0
    delay = args.interval
    if args.loop and not args.json:
        where = describe(args.store) if args.store else "the receiver's store"
        err(f"{PROG}: processing {where} with {args.app}; SIGTERM or Ctrl-C stops")
    with _stop_on_signals(stop):
        try:
            while not stop.is_set():
                summary = run_handlers(receiver, batch, batch_async, "")
                batches += 1
                succeeded += summary.succeeded
                failed += summary.failed
                if summary.processed:
                    progress.step(summary.processed)
                if not args.loop:
                    break
                if summary.processed >= args.limit:
                    delay = args.interval  # more may be waiting: no pause
                    continue
                if summary.processed:
                    delay = args.interval
                stop.wait(delay)
                delay = min(delay * 2, args.max_interval)
        finally:
            progress.close()
    total = succeeded + failed
    if args.json:
        emit_json({"processed": total, "succeeded": succeeded, "failed": failed})
    else:
        stopped = " (stopped)" if stop.is_set() else ""
        out(f"processed {total}: {succeeded} succeeded, {failed} failed{stopped}")
    return EXIT_OK if args.loop or failed == 0 else EXIT_FAILED
