"""``kyc-webhooks inbox``: list, show, replay, count (stats), purge and erase the deliveries a store
keeps (the SQLite inbox ``serve`` fills, or a ``postgresql://`` store), and forget decisions of its
ledger."""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import importlib
import sys
from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any

import kyc_webhooks as kw

from . import _credentials as creds
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    PROG,
    CliError,
    Formatter,
    Progress,
    add_confirm_options,
    add_output_options,
    confirm,
    counted,
    emit_json,
    epilog,
    out,
    print_fields,
    seconds,
    shown,
    stream_gone,
    summary_fields,
    table,
    when,
)
from ._stores import (
    DEFAULT_INBOX,
    INBOX_VAR,
    add_schema_option,
    age,
    already_done,
    find_record,
    inbox_path,
    is_postgres,
    open_inbox,
    pgbouncer_option,
    schema_option,
)

if TYPE_CHECKING:
    from kyc_webhooks import Outcome, WebhookEvent
    from kyc_webhooks.store import DeliveryRecord, Store

STATES = ("pending", "processing", "done", "failed")
#: Why ``inbox replay`` needs a target: a receiver without the application's handlers would mark
#: the record done without anything having handled it (docs/delivery-guarantees.md).
#: ``--to`` sends a redelivery: an application answers one of a done delivery as a duplicate.
REPLAY_FORCE_NEEDS_APP = (
    "--force needs --app: with --to the application answers a redelivery of a done delivery "
    "as a duplicate and runs nothing; run the handlers here with --app module:attribute --force"
)

REPLAY_NEEDS_TARGET = (
    "replay needs --app module:attribute (your Receiver, so that your handlers run here) or "
    "--to URL (POST the delivery to your running application): without your handlers the "
    "delivery would be marked done without being handled; nothing was changed"
)


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Read and manage the inbox that `serve` fills (a SQLite path, or a postgresql:// URL, "
        "in --schema). The inbox must exist: nothing is created. An ID may be any unique "
        "prefix of at least 8 characters."
    )
    parser.epilog = epilog(
        f"{PROG} inbox list --vendor idenfy --limit 20",
        f"{PROG} inbox show 3f2a9c81                 # metadata + redacted fields",
        f"{PROG} inbox show 3f2a9c81 --body > body.json",
        f"{PROG} inbox replay 3f2a9c81 --app myapp.webhooks:receiver   # your handlers, here",
        f"{PROG} inbox replay 3f2a9c81 --to http://127.0.0.1:5000/webhooks/idenfy",
        f"{PROG} inbox replay --state failed --app myapp.webhooks:receiver",
        f"{PROG} inbox stats --json",
        f"{PROG} inbox purge --older-than 30d --dry-run",
        f"{PROG} inbox erase 3f2a9c81 --yes          # drop one body (personal data)",
        f"{PROG} inbox forget --client-ref user-42 --yes   # a person's verdicts and bodies",
        f"{PROG} inbox --inbox postgresql://app@db/app --schema app_prod list",
    )
    parser.add_argument(
        "--inbox", metavar="PATH", help=f"the store (default ${INBOX_VAR} or ./{DEFAULT_INBOX})"
    )
    add_schema_option(parser, "kyc_webhooks")
    sub = parser.add_subparsers(dest="inbox_command", metavar="ACTION", required=True)

    def action(name: str, summary: str, *examples: str) -> argparse.ArgumentParser:
        child = sub.add_parser(
            name,
            formatter_class=Formatter,
            help=summary,
            description=summary,
            epilog=epilog(*examples),
        )
        # Also accepted after the action; SUPPRESS keeps a value given before it.
        child.add_argument("--inbox", metavar="PATH", default=argparse.SUPPRESS, help="the store")
        add_schema_option(child, "kyc_webhooks", default=argparse.SUPPRESS)
        return child

    listing = action(
        "list",
        "stored deliveries, newest first",
        f"{PROG} inbox list --vendor idenfy --state failed",
        f"{PROG} inbox list --json --limit 5",
    )
    listing.add_argument("--vendor", choices=creds.vendor_names())
    listing.add_argument("--event-type", metavar="TYPE")
    listing.add_argument("--event", dest="old_event", help=argparse.SUPPRESS)
    listing.add_argument("--state", choices=STATES)
    listing.add_argument("--limit", type=int, default=50, metavar="N", help="at most N rows (50)")
    add_output_options(listing)

    show = action(
        "show",
        "one delivery, personal data redacted",
        f"{PROG} inbox show 3f2a9c81",
        f"{PROG} inbox show 3f2a9c81 --body > body.json",
    )
    show.add_argument("id", metavar="ID")
    show.add_argument("--body", action="store_true", help="print the raw stored body instead")
    add_output_options(show)

    replay = action(
        "replay",
        "run a stored delivery again, through your handlers",
        f"{PROG} inbox replay 3f2a9c81 --app myapp.webhooks:receiver",
        f"{PROG} inbox replay --state failed --app myapp.webhooks:receiver   # each failed one",
        f"{PROG} inbox replay 3f2a9c81 --app myapp.webhooks:receiver --force  # a done one again",
        f"{PROG} inbox replay 3f2a9c81 --to http://127.0.0.1:5000/webhooks/idenfy",
    )
    replay.description = (
        "Replay a stored delivery through your application's handlers: with --app, import "
        "your Receiver ('package.module:attribute', from the current directory) and run its "
        "handlers here, recording the result in the inbox; with --to, re-sign the body with "
        "the configured credential and POST it to your running application, as a redelivery "
        "(which the application handles only when it handles redeliveries of that record: not "
        "one that is done, nor a stored one under defer=True). One of the two is required: a "
        "replay without your handlers would mark the delivery done unhandled. A delivery that "
        "is done when it is claimed is not run again without --force (exit 2). --state failed "
        "--app replays every failed delivery once, by the same rule."
    )
    replay.add_argument("id", metavar="ID", nargs="?")
    replay.add_argument(
        "--state",
        choices=("failed",),
        help="with --app and no ID: replay every delivery in this state, once each",
    )
    replay.add_argument(
        "--force",
        action="store_true",
        help="with --app: run the handlers again even when the delivery is done",
    )
    target = replay.add_mutually_exclusive_group()
    target.add_argument(
        "--app",
        metavar="MODULE:ATTR",
        help="your Receiver, e.g. myapp.webhooks:receiver: run its handlers on the delivery",
    )
    target.add_argument("--to", metavar="URL", help="POST the re-signed delivery to URL")
    replay.add_argument(
        "--timeout", type=seconds, default=10.0, metavar="S", help="with --to: per request (10)"
    )
    add_output_options(replay)
    creds.add_secret_options(replay)

    stats = action(
        "stats",
        "counts per state, and the age of the oldest pending delivery",
        f"{PROG} inbox stats",
        f"{PROG} inbox stats --json",
    )
    add_output_options(stats)

    purge = action(
        "purge",
        "delete deliveries (asks first; --yes off a terminal)",
        f"{PROG} inbox purge --older-than 30d --dry-run",
        f"{PROG} inbox purge --older-than 30d --state done --yes",
    )
    purge.add_argument("--older-than", metavar="AGE", help="received before AGE ago: 30d, 12h, 15m")
    purge.add_argument("--all", action="store_true", help="every delivery")
    purge.add_argument("--state", choices=STATES, help="only deliveries in this state")
    purge.add_argument(
        "--erase-bodies",
        action="store_true",
        help="erase the bodies only, keeping the metadata (same as `inbox erase`)",
    )
    add_confirm_options(purge)
    add_output_options(purge)

    erase = action(
        "erase",
        "erase bodies (the personal data), keeping the metadata",
        f"{PROG} inbox erase 3f2a9c81 --yes",
        f"{PROG} inbox erase --older-than 7d --dry-run",
    )
    erase.add_argument("ids", nargs="*", metavar="ID", help="deliveries (unique id prefixes)")
    erase.add_argument("--older-than", metavar="AGE", help="received before AGE ago: 30d, 12h, 15m")
    erase.add_argument("--all", action="store_true", help="every delivery")
    add_confirm_options(erase)
    add_output_options(erase)
    _add_forget_parser(action)


def run(args: argparse.Namespace) -> int:
    path = inbox_path(args)
    schema = schema_option(args.schema, path, "--inbox")
    if schema is None and getattr(args, "app", None) and is_postgres(path):
        # As `process --app`: the schema of the application's own PostgresStore, not
        # kyc_webhooks -- another store's deliveries, or none (review R56).
        from ._app import app_schema, load_app

        schema = app_schema(load_app(args.app, "inbox replay"))
    store = open_inbox(path, schema, pgbouncer=pgbouncer_option(args, path, "--inbox"))
    try:
        command = {
            "list": _list,
            "show": _show,
            "replay": _replay,
            "stats": _stats,
            "purge": _purge,
            "erase": _erase,
            "forget": _forget,
        }[args.inbox_command]
        return command(args, store)
    except kw.StoreError:
        raise
    except kw.WebhookError as exc:
        raise CliError(exc.message) from None
    finally:
        with contextlib.suppress(Exception):
            store.close()


def _row(record: DeliveryRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "received_at": when(record.received_at),
        "vendor": record.vendor,
        "event_type": record.event_type,
        "state": str(record.state),
        "attempts": record.attempts,
        "body": "erased" if record.body is None else "kept",
    }


def _list(args: argparse.Namespace, store: Store) -> int:
    event_type = args.event_type or args.old_event
    records = store.deliveries(
        vendor=args.vendor,
        state=args.state,
        event_type=event_type,
        limit=args.limit,
        newest_first=True,
    )
    if args.json:
        emit_json([_row(r) for r in records])
        return EXIT_OK
    if not records:
        out("inbox is empty" if not (args.vendor or args.state or event_type) else "no match")
        return EXIT_OK
    if not args.quiet:
        rows = [[shown(str(v)) for v in _row(r).values()] for r in records]
        header = ("ID", "RECEIVED (UTC)", "VENDOR", "EVENT TYPE", "STATE", "TRIES", "BODY")
        for line in table(rows, header):
            out(line)
    stats = store.stats()
    out(f"{len(records)} shown of {stats.get('total', len(records))} stored (newest first)")
    return EXIT_OK


def _stored_event(record: DeliveryRecord) -> WebhookEvent | None:
    if record.body is None or record.vendor not in creds.vendor_names():
        return None
    from kyc_webhooks import Headers

    try:
        # No authentication: the store kept this body after authenticating it on arrival.
        package = creds.vendor_class(record.vendor).models_module.rpartition(".")[0]
        module = importlib.import_module(package)
        event: WebhookEvent = module.parse_unauthenticated(
            record.body, Headers(list(record.headers))
        )
    except (kw.DeliveryError, kw.ConfigurationError, CliError):
        return None
    return event


def _show(args: argparse.Namespace, store: Store) -> int:
    record = find_record(store, args.id)
    if args.body:
        if record.body is None:
            raise CliError(f"the body of {record.id} was erased", EXIT_FAILED)
        try:
            sys.stdout.buffer.write(record.body)
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            stream_gone(sys.stdout)
        return EXIT_OK
    event = _stored_event(record)
    model = f"{type(event).__module__}.{type(event).__qualname__}" if event else None
    if args.json:
        data = _row(record)
        data.update(
            delivery_key=record.delivery_key,
            updated_at=when(record.updated_at),
            replays=record.replays,
            last_error_type=record.last_error_type,
            body_bytes=None if record.body is None else len(record.body),
            headers=[name for name, _ in record.headers],
            model=model,
            fields=summary_fields(event) if event else {},
        )
        emit_json(data)
        return EXIT_OK
    out(f"id: {record.id}")
    out(f"delivery_key: {shown(record.delivery_key)}")
    out(f"vendor: {shown(record.vendor)}")
    out(f"event_type: {shown(record.event_type)}")
    out(f"state: {record.state}")
    if args.quiet:
        return EXIT_OK
    out(f"received_at: {when(record.received_at)} UTC")
    out(f"updated_at: {when(record.updated_at)} UTC")
    out(f"attempts: {record.attempts}  replays: {record.replays}")
    if record.last_error_type:
        out(
            f"last_error: {shown(record.last_error_type)}: {shown(record.last_error_message or '')}"
        )
    if record.body is None:
        out("body: erased")
        return EXIT_OK
    out(f"body: {len(record.body)} bytes (print it with --body)")
    out(f"headers: {', '.join(shown(name) for name, _ in record.headers) or '-'}")
    if event is None:
        out("model: the stored body no longer parses")
        return EXIT_OK
    out(f"model: {model}")
    print_fields(event)
    return EXIT_OK


def _replay(args: argparse.Namespace, store: Store) -> int:
    if args.state is not None:
        return _replay_failed(args, store)
    if args.id is None:
        raise CliError("say what to replay: an ID, or --state failed (with --app)")
    if not args.to and not args.app:
        raise CliError(REPLAY_NEEDS_TARGET)
    if args.force and args.to:
        raise CliError(REPLAY_FORCE_NEEDS_APP)
    record = find_record(store, args.id)
    if record.body is None:
        raise CliError(f"the body of {record.id} was erased; it cannot be replayed", EXIT_FAILED)
    if args.to:
        return _replay_to(args, record)
    if record.done and not args.force:
        raise CliError(already_done(record))  # before importing the app; the claim decides
    from ._app import app_receiver, run_handlers

    receiver = app_receiver(args.app, store, vendor=record.vendor)
    skip_done = not args.force

    def replay(delivery_id: str) -> Outcome:
        return receiver.replay(delivery_id, skip_done=skip_done)

    async def replay_async(delivery_id: str) -> Outcome:
        return await receiver.replay_async(delivery_id, skip_done=skip_done)

    outcome = run_handlers(receiver, replay, replay_async, record.id)
    if outcome.duplicate:
        # Done meanwhile (the worker's own retry completed it): the claim refused it.
        raise CliError(already_done(store.get(record.id) or record))
    verdict = (
        f"replayed (handlers run: {outcome.handled})"
        if outcome.ok
        else f"failed ({type(outcome.error).__name__})"
    )
    if args.json:
        emit_json(
            {
                "id": record.id,
                "status": outcome.status_code,
                "ok": outcome.ok,
                "handled": outcome.handled,
                "error": type(outcome.error).__name__ if outcome.error else None,
            }
        )
    else:
        event_type = shown(record.event_type)
        out(f"{record.id} {record.vendor} {event_type} -> {outcome.status_code} {verdict}")
    return EXIT_OK if outcome.ok else EXIT_FAILED


def _replay_to(args: argparse.Namespace, record: DeliveryRecord) -> int:
    """POST the re-signed stored body to the running application: a redelivery, which its
    receiver handles like one. Success only when the answer says the handlers ran (200) or that
    the application stored it as a new delivery for its worker (202); an answer that nothing ran
    -- a duplicate, done or deferred already -- is exit 1 (:func:`_not_run`)."""
    from ._http import check_url, describe, post

    url = check_url(args.to)
    setting = creds.signing_setting(args, record.vendor)
    body, headers = creds.sign(setting, record.body or b"", event_type=record.event_type)
    response = post(url, body, headers, timeout=args.timeout)
    ok = 200 <= response.status < 300
    problem = _not_run(response.status, response.body) if ok else None
    if args.json:
        emit_json(
            {
                "id": record.id,
                "status": response.status,
                "ok": ok and problem is None,
                "duplicate": response.body.get("duplicate") is True,
            }
        )
    else:
        out(f"{record.id} {record.vendor} {shown(record.event_type)} -> {describe(response)}")
    if problem is not None:
        raise CliError(problem, EXIT_FAILED)
    return EXIT_OK if ok else EXIT_FAILED


def _not_run(status: int, answer: dict[str, Any]) -> str | None:
    """Why a 2xx answer does not show that the handlers ran, else ``None``: a success is a
    kyc-webhooks receiver's answer (``Outcome.response_body()``, ``{"ok": true}``) without
    ``duplicate``. ``{"ok": true, "duplicate": true}``: 200, the delivery
    is done in its store; 202, under ``defer=True`` it is stored already and a redelivery
    changes nothing (not even for a failed one that the worker gave up on)."""
    if answer.get("ok") is not True:
        # Not a kyc-webhooks receiver's answer (a view answering its own body, a proxy that
        # rewrites it): nothing says the handlers ran, so it is no success.
        return (
            "not confirmed: the answer does not say whether the handlers ran (it is not a "
            'kyc-webhooks receiver\'s JSON, {"ok": true}: answer Outcome.response_body() in '
            "the application's view). Use --app package.module:attribute to run them here"
        )
    if answer.get("duplicate") is not True:
        return None
    if status == 202:
        what = (
            "the application stores this delivery already and defers it (defer=True): a "
            "redelivery changes nothing, and its handlers did not run"
        )
    else:
        what = "the application's store has this delivery done: its handlers did not run again"
    return (
        f"not replayed: {what}. Run the handlers here, on the inbox the application uses, "
        "with --app package.module:attribute instead of --to (--force for a done delivery)"
    )


def _replay_failed(args: argparse.Namespace, store: Store) -> int:
    """``replay --state failed --app``: every failed delivery once, each by the rule of one
    (a delivery done by the time it is claimed is not run again)."""
    if args.id is not None:
        raise CliError("give an ID or --state failed, not both")
    if not args.app:
        raise CliError("replay --state failed needs --app module:attribute (your Receiver)")
    if args.force:
        raise CliError("--force replays one done delivery by its ID, not with --state failed")
    from ._app import app_receiver, run_handlers

    receiver = app_receiver(args.app, store)
    records = _records_in_state(store, args.state, receiver.vendors)
    counts = dict.fromkeys(_BULK_RESULTS, 0)
    rows: list[dict[str, Any]] = []

    def note(record: DeliveryRecord, outcome: Outcome | None, error: str | None = None) -> None:
        result = _bulk_result(outcome)
        counts[result] += 1
        status = outcome.status_code if outcome is not None else None
        rows.append({"id": record.id, "result": result, "status": status, "error": error})
        if not args.json and not args.quiet:
            out(
                f"{record.id} {record.vendor} {shown(record.event_type)} -> {_BULK_RESULTS[result]}"
            )

    def replay_all(batch: Iterator[DeliveryRecord]) -> None:
        for record in batch:
            try:
                note(record, receiver.replay(record.id, skip_done=True))
            except (kw.DeliveryNotFoundError, kw.BodyErasedError) as exc:
                note(record, None, type(exc).__name__)

    async def replay_all_async(batch: Iterator[DeliveryRecord]) -> None:
        for record in batch:  # one event loop for all: a client the handlers share stays bound
            try:
                note(record, await receiver.replay_async(record.id, skip_done=True))
            except (kw.DeliveryNotFoundError, kw.BodyErasedError) as exc:
                note(record, None, type(exc).__name__)

    run_handlers(receiver, replay_all, replay_all_async, records)
    if args.json:
        emit_json({"replayed": len(rows), **counts, "deliveries": rows})
    else:
        out(
            f"replayed {_n(len(rows))} in state {args.state}: {counts['succeeded']} succeeded, "
            f"{counts['failed']} failed, {counts['done']} done meanwhile (not run again), "
            f"{counts['busy']} in progress elsewhere, {counts['gone']} purged or erased"
        )
    return EXIT_FAILED if counts["failed"] else EXIT_OK


#: How many records ``replay --state failed`` reads at a time.
_PAGE = 500


def _records_in_state(
    store: Store, state: str, vendors: Collection[str]
) -> Iterator[DeliveryRecord]:
    """The records of ``vendors`` in ``state``, oldest first, a page at a time (each_delivery)."""
    from kyc_webhooks.store._base import each_delivery

    return (r for r in each_delivery(store, state=state, page=_PAGE) if r.vendor in vendors)


#: The results of ``replay --state failed``, and how each delivery's line names them.
_BULK_RESULTS = {
    "succeeded": "replayed",
    "failed": "failed again",
    "done": "done meanwhile, not run again",
    "busy": "in progress elsewhere (another worker holds it)",
    "gone": "purged or erased meanwhile",
}


def _bulk_result(outcome: Outcome | None) -> str:
    if outcome is None:
        return "gone"
    if outcome.duplicate:
        return "done"
    if outcome.ok:
        return "succeeded"
    if isinstance(outcome.error, kw.DeliveryInProgressError):
        return "busy"
    return "failed"


def _stats(args: argparse.Namespace, store: Store) -> int:
    """Counts per state and in all (``store.stats()``), and how long the oldest pending delivery
    has waited (a stuck or stopped worker): the oldest by received time, one row read."""
    counts = dict.fromkeys(STATES, 0)
    counts.update(store.stats())
    oldest = store.deliveries(state="pending", limit=1)
    waited = (store.now() - oldest[0].received_at).total_seconds() if oldest else None
    if args.json:
        emit_json({**counts, "oldest_pending_seconds": None if waited is None else int(waited)})
        return EXIT_OK
    for name, count in counts.items():
        out(f"{name}: {count}")
    if not args.quiet:
        out(f"oldest pending: {'-' if waited is None else _duration(waited)}")
    return EXIT_OK


def _duration(seconds_: float) -> str:
    """``3d 4h``, ``2h 5m``, ``7m 12s``, ``42s``."""
    whole = max(0, int(seconds_))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _cut(args: argparse.Namespace, store: Store) -> _dt.datetime:
    """The received-before cut-off of ``--older-than`` / ``--all``; both is a usage error (--all
    won: a retention job with a stray --all emptied the inbox)."""
    if args.all and args.older_than is not None:
        raise CliError("give --older-than AGE or --all, not both")
    if args.all:
        # Slightly in the future: covers records received in this very second.
        return store.now() + _dt.timedelta(seconds=1)
    return store.now() - age(args.older_than)


def _count(store: Store, cut: _dt.datetime, state: str | None, *, with_body: bool) -> int:
    """What ``purge`` (``erase_bodies`` ``with_body``) of records received before ``cut`` would
    change, counted by the store."""
    return store.count(until=cut, state=state, with_body=True if with_body else None)


def _n(count: int) -> str:
    return counted(count, "delivery", "deliveries")


def _report(args: argparse.Namespace, verb: str, count: int, text: str) -> None:
    if args.json:
        emit_json({verb: count, "dry_run": bool(args.dry_run)})
    else:
        out(text)


def _purge(args: argparse.Namespace, store: Store) -> int:
    if args.erase_bodies:
        if args.state is not None:
            # The store erases bodies by age only: honouring --state would need a per-record loop
            # over the whole inbox; silently ignoring it would erase bodies meant to stay.
            raise CliError(
                "--state cannot be combined with --erase-bodies: bodies are erased by age only "
                "(--older-than AGE or --all), whatever their state"
            )
        args.ids = []
        return _erase(args, store)
    if not args.all and args.older_than is None:
        raise CliError("say what to purge: --older-than AGE (e.g. 30d) or --all")
    cut = _cut(args, store)
    count = _count(store, cut, args.state, with_body=False)
    scope = f" in state {args.state}" if args.state else ""
    if args.dry_run:
        _report(args, "purged", count, f"would purge {_n(count)}{scope} (dry run)")
        return EXIT_OK
    if count:
        confirm(f"purge {_n(count)}{scope}", yes=args.yes)
    elif not args.yes:
        # Nothing to purge (the store's count includes rows that do not decode, so they are
        # never deleted unasked); --yes finishes a purge whose checkpoint failed (see _erase).
        _report(args, "purged", 0, f"purged {_n(0)}")
        return EXIT_OK
    purged = store.purge(older_than=cut, state=args.state)
    _report(args, "purged", purged, f"purged {_n(purged)}")
    return EXIT_OK


def _erase(args: argparse.Namespace, store: Store) -> int:
    if args.ids and (args.all or args.older_than is not None):
        raise CliError("give IDs, or --older-than AGE / --all, not both")
    if not args.ids and not args.all and args.older_than is None:
        raise CliError("say what to erase: IDs, --older-than AGE (e.g. 30d) or --all")
    if args.ids:
        records = {r.id: r for r in (find_record(store, i) for i in args.ids)}
        count = sum(1 for r in records.values() if r.body is not None)
    else:
        cut = _cut(args, store)
        count = _count(store, cut, None, with_body=True)
    if args.dry_run:
        _report(args, "erased", count, f"would erase the bodies of {_n(count)} (dry run)")
        return EXIT_OK
    if count:
        confirm(f"erase the bodies of {_n(count)}", yes=args.yes)
    elif not args.ids and not args.yes:
        _report(args, "erased", 0, f"erased the bodies of {_n(0)} (metadata kept)")
        return EXIT_OK
    # Past the question (or with IDs named, or --yes) the store is called even when the count
    # is 0. An erasure whose checkpoint failed (another process held a read transaction:
    # StoreError) is committed and reads return no body, but the old copies stay in the -wal
    # file until the same call is made again.
    if args.ids:
        progress = Progress("erased", len(records), enabled=not args.json and not args.quiet)
        erased = 0
        try:
            for delivery_id, record in records.items():
                # Called for an erased body too (it scrubs the files again), counted only when
                # there was a body to erase.
                if store.erase(delivery_id) and record.body is not None:
                    erased += 1
                progress.step()
        finally:
            progress.close()
    else:
        erased = store.erase_bodies(older_than=cut)
    _report(args, "erased", erased, f"erased the bodies of {_n(erased)} (metadata kept)")
    return EXIT_OK


# -- forget: the decision ledger (docs/security.md, "Retention and erasure") --------------------


def _add_forget_parser(action: Callable[..., argparse.ArgumentParser]) -> None:
    forget = action(
        "forget",
        "forget a person's verdicts: ledger entries, and the bodies of their deliveries",
        f"{PROG} inbox forget --client-ref user-42 --dry-run",
        f"{PROG} inbox forget --vendor complycube --subject 5f3c9a1e --yes",
        f"{PROG} inbox forget --older-than 365d --yes   # ledger retention, by age",
    )
    forget.add_argument(
        "--client-ref",
        metavar="REF",
        help="every verification whose client_ref (your id, echoed by the vendor) is REF",
    )
    forget.add_argument(
        "--vendor", choices=creds.vendor_names(), help="with --subject: one verification"
    )
    forget.add_argument(
        "--subject",
        metavar="S",
        help="the vendor's reference of the verification (scanRef, check or session id)",
    )
    forget.add_argument(
        "--older-than",
        metavar="AGE",
        help="every entry of a delivery received before AGE ago (their bodies: `inbox erase`)",
    )
    add_confirm_options(forget)
    add_output_options(forget)


def _decisions(count: int) -> str:
    return counted(count, "decision")


def _forget(args: argparse.Namespace, store: Store) -> int:
    person = args.client_ref is not None or args.vendor is not None or args.subject is not None
    if person and args.older_than is not None:
        raise CliError("give --client-ref REF or --vendor V --subject S, or --older-than AGE")
    if args.older_than is not None:
        return _forget_older(args, store)
    if args.client_ref is not None and (args.vendor is not None or args.subject is not None):
        raise CliError("give --client-ref REF, or --vendor V --subject S: not both")
    if args.client_ref is None and (args.vendor is None or args.subject is None):
        raise CliError(
            "say what to forget: --client-ref REF, --vendor V --subject S, or --older-than AGE"
        )
    from kyc_webhooks.decisions import Decisions

    ledger = Decisions(store)
    selector: dict[str, str] = (
        {"client_ref": args.client_ref}
        if args.client_ref is not None
        else {"vendor": args.vendor, "subject": args.subject}
    )
    plan = ledger.erasure(**selector)  # one reading of every stored body
    entries, bodies = plan.entries, len(plan.deliveries)
    what = f"{_decisions(len(entries))} and the bodies of {_n(bodies)}"
    if args.dry_run:
        if args.json:
            emit_json({"forgotten": len(entries), "erased": bodies, "dry_run": True})
        else:
            out(f"would forget {what} (dry run)")
        return EXIT_OK
    if entries or bodies:
        confirm(f"forget {what}", yes=args.yes)
    elif not args.yes:
        # As `inbox erase`: --yes calls the store even so (a checkpoint that failed is redone).
        _report(args, "forgotten", 0, f"forgot {_decisions(0)}")
        return EXIT_OK
    try:
        erased = ledger.forget(**selector)
    except kw.DeliveryInProgressError as exc:
        raise CliError(exc.message, EXIT_UNAVAILABLE) from None
    if args.json:
        emit_json({"forgotten": len(entries), "deliveries": erased, "dry_run": False})
    else:
        out(
            f"forgot {_decisions(len(entries))} and erased the bodies of the person's "
            f"deliveries: {', '.join(erased) or 'none'} (metadata kept)"
        )
    return EXIT_OK


def _forget_older(args: argparse.Namespace, store: Store) -> int:
    purge = getattr(store, "purge_decisions", None)
    if purge is None:
        raise CliError(f"{type(store).__name__} has no purge_decisions(): it cannot forget")
    cut = store.now() - age(args.older_than)
    what = f"the decisions of deliveries received before {when(cut)} UTC"
    if args.dry_run:
        # The store counts them as it removes them: a listing of the ledger by age is no part of
        # the Store protocol.
        if args.json:
            emit_json({"forgotten": None, "before": cut.isoformat(), "dry_run": True})
        else:
            out(f"would forget {what} (dry run; counted when done)")
        return EXIT_OK
    confirm(f"forget {what}", yes=args.yes)
    forgotten: int = purge(older_than=cut)
    _report(
        args,
        "forgotten",
        forgotten,
        f"forgot {_decisions(forgotten)} (received before {when(cut)} UTC)",
    )
    return EXIT_OK
