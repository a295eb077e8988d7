"""``python manage.py kyc_webhooks process|replay|purge|erase-bodies|forget|stats`` on the project's
receiver and store (``settings.KYC_WEBHOOKS``). Exit codes follow the ``kyc-webhooks`` CLI: 0 ok,
1 a delivery failed, 2 a usage error -- an unknown or ambiguous delivery id among them --, 3 the
store unavailable or a verification being handled (run it again). The commands never ask for
confirmation (``--dry-run`` shows what they would do). ``replay``
takes a delivery id or a unique prefix of at least 8 characters, as ``kyc-webhooks inbox``;
``forget`` is ``kyc-webhooks inbox forget`` (a person's decisions and their deliveries' bodies).
``process`` and ``replay`` await ``async def`` handlers
(``process_pending_async``, ``replay_async``) when the receiver has one."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser, SystemCheckError

from kyc_webhooks.cli._common import EXIT_USAGE, CliError, counted, seconds, stop_on_signals
from kyc_webhooks.cli._credentials import vendor_names
from kyc_webhooks.cli._loop import ProcessLoop
from kyc_webhooks.cli._stores import (
    MIN_PREFIX,
    age,
    already_done,
    find_record,
)
from kyc_webhooks.errors import (
    ConfigurationError,
    DeliveryInProgressError,
    StoreError,
    StoreSchemaError,
    UsageError,
    WebhookError,
)
from kyc_webhooks.integrations.django.conf import has_async_handlers, project_receiver

_AGE_HELP = "an age: 90d, 12h, 30m, 45s or a number of days (at most 36525d)"


def duration(text: str) -> timedelta:
    """``90d``, ``12h``, ``30m``, ``45s`` or a plain number of days, at most 36525 days: the age
    parser of the ``kyc-webhooks`` CLI. A bad one is an argparse usage error (exit code 2 from
    the command line), not a traceback."""
    try:
        return age(text)
    except CliError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _at_least(low: int) -> Callable[[str], int]:
    """argparse ``type=``: a whole number of at least ``low``."""

    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return whole


class Command(BaseCommand):
    help = "Process, replay, purge and erase stored KYC webhook deliveries; forget decisions."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        process = sub.add_parser("process", help="run handlers of pending/failed deliveries")
        # Checked as the kyc-webhooks CLI checks them: a limit of 0 or an interval of 0, nan or
        # inf spun without a pause or crashed (review R32).
        process.add_argument("--limit", type=_at_least(1), default=100)
        process.add_argument("--loop", action="store_true", help="poll until SIGTERM/SIGINT")
        process.add_argument("--interval", type=seconds, default=1.0, help=argparse_hidden())
        process.add_argument("--max-rounds", type=_at_least(0), default=0, help=argparse_hidden())
        replay = sub.add_parser("replay", help="run the handlers of one delivery again")
        replay.add_argument(
            "delivery_id", help=f"a delivery id, or a unique prefix of at least {MIN_PREFIX}"
        )
        replay.add_argument(
            "--force", action="store_true", help="also replay a delivery that is done already"
        )
        purge = sub.add_parser("purge", help="delete old delivery records")
        purge.add_argument("--older-than", required=True, type=duration, help=_AGE_HELP)
        purge.add_argument("--state", action="append", default=None)
        purge.add_argument("--dry-run", action="store_true")
        erase = sub.add_parser("erase-bodies", help="erase old bodies (personal data)")
        erase.add_argument("--older-than", required=True, type=duration, help=_AGE_HELP)
        erase.add_argument("--dry-run", action="store_true")
        forget = sub.add_parser(
            "forget", help="forget a person's decisions and erase their deliveries' bodies"
        )
        forget.add_argument("--client-ref", help="every verification of this client_ref")
        forget.add_argument(
            "--vendor", choices=vendor_names(), help="with --subject: one verification"
        )
        forget.add_argument("--subject", help="the vendor's reference of the verification")
        forget.add_argument(
            "--older-than",
            type=duration,
            help="entries of deliveries received before: " + _AGE_HELP,
        )
        forget.add_argument("--dry-run", action="store_true")
        sub.add_parser("stats", help="record counts per state")

    def check(self, *args: Any, **kwargs: Any) -> None:
        """Django's system checks, run before the command: an error among them (a
        ``KYC_WEBHOOKS`` that builds no receiver, ``USE_TZ = False`` with the app's store) is a
        configuration error, exit code 2 as in the ``kyc-webhooks`` CLI -- not Django's 1, which
        here means "a delivery failed" (a wrapper retrying on 1 would retry for ever)."""
        try:
            super().check(*args, **kwargs)
        except SystemCheckError as exc:
            exc.returncode = EXIT_USAGE
            raise

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            receiver = project_receiver()
        except ImproperlyConfigured as exc:  # --skip-checks: what kyc_webhooks.E001 says
            raise CommandError(str(exc), returncode=EXIT_USAGE) from None
        store = receiver.store
        if store is None:
            raise CommandError("KYC_WEBHOOKS['STORE'] is None: no stored deliveries", returncode=2)
        try:
            getattr(self, "_" + options["action"].replace("-", "_"))(receiver, store, options)
        except WebhookError as exc:
            raise CommandError(str(exc), returncode=exc_code(exc)) from None

    def _process(self, receiver: Any, store: Any, options: dict[str, Any]) -> None:
        # The loop of `kyc-webhooks process`: a store error under --loop is logged and waited
        # out; the wait stays --interval (no growing back-off here).
        batches = ProcessLoop(
            receiver,
            loop=options["loop"],
            limit=options["limit"],
            interval=options["interval"],
            max_interval=options["interval"],
            max_rounds=options["max_rounds"],
            report=self._report,
        )
        with stop_on_signals(batches.stop):  # in this, the main, thread
            if has_async_handlers(receiver):
                # One event loop for every round (a client the handlers share stays on its
                # loop); the store's blocking calls come back to this thread (thread_sensitive).
                async_to_sync(batches.run_async)()
            else:
                batches.run()
        if not options["loop"] and batches.failed:
            raise CommandError(
                f"{counted(batches.failed, 'delivery', 'deliveries')} failed", returncode=1
            )

    def _report(self, summary: Any) -> None:
        self.stdout.write(
            f"processed {summary.processed}: {summary.succeeded} succeeded, {summary.failed} failed"
        )

    def _replay(self, receiver: Any, store: Any, options: dict[str, Any]) -> None:
        # The CLI's lookup: the id, or a unique prefix of at least 8 characters; an unknown or
        # ambiguous one is a usage error (exit code 2), so a wrapper that retries failed
        # deliveries (exit code 1) never loops on a typo.
        # A done delivery is replayed only with --force, as `kyc-webhooks inbox replay`: decided
        # by the store in the claim (skip_done), so that a delivery the worker completes while an
        # operator replays the failed ones is not handled twice.
        try:
            delivery_id = find_record(store, options["delivery_id"]).id
        except CliError as exc:
            raise CommandError(exc.message, returncode=exc.code) from None
        skip_done = not options["force"]
        if has_async_handlers(receiver):
            outcome = async_to_sync(receiver.replay_async)(delivery_id, skip_done=skip_done)
        else:
            outcome = receiver.replay(delivery_id, skip_done=skip_done)
        if skip_done and outcome.duplicate:
            record = store.get(delivery_id)
            assert record is not None
            raise CommandError(already_done(record), returncode=EXIT_USAGE)
        self.stdout.write(f"{outcome.status_code} replayed {delivery_id}")
        if not outcome.ok:
            raise CommandError("the handlers failed; the delivery is unchanged", returncode=1)

    def _purge(self, receiver: Any, store: Any, options: dict[str, Any]) -> None:
        if options["dry_run"]:
            cut = store.now() - options["older_than"]
            count = store.count(until=cut, state=options["state"])
            self.stdout.write(
                f"would purge {counted(count, 'delivery', 'deliveries')} received before "
                f"{cut:%Y-%m-%d %H:%M}"
            )
            return
        count = store.purge(older_than=options["older_than"], state=options["state"])
        self.stdout.write(f"purged {counted(count, 'delivery', 'deliveries')}")

    def _erase_bodies(self, receiver: Any, store: Any, options: dict[str, Any]) -> None:
        if options["dry_run"]:
            cut = store.now() - options["older_than"]
            count = store.count(until=cut, with_body=True)
            self.stdout.write(
                f"would erase {counted(count, 'body', 'bodies')} of deliveries received before "
                f"{cut:%Y-%m-%d %H:%M}"
            )
            return
        count = store.erase_bodies(older_than=options["older_than"])
        self.stdout.write(f"erased {counted(count, 'body', 'bodies')}")

    def _forget(self, receiver: Any, store: Any, options: dict[str, Any]) -> None:
        client_ref, vendor, subject = options["client_ref"], options["vendor"], options["subject"]
        older_than = options["older_than"]
        by_subject = vendor is not None or subject is not None
        chosen = [older_than is not None, client_ref is not None, by_subject]
        if chosen.count(True) != 1 or (by_subject and (vendor is None or subject is None)):
            raise CommandError(
                "give --client-ref REF, or --vendor V --subject S, or --older-than AGE",
                returncode=2,
            )
        if older_than is not None:
            if not hasattr(store, "purge_decisions"):
                raise CommandError(f"{type(store).__name__} has no purge_decisions()", returncode=2)
            cut = store.now() - older_than
            if options["dry_run"]:
                self.stdout.write(
                    f"would forget the decisions of deliveries received before {cut:%Y-%m-%d %H:%M}"
                )
                return
            forgotten = store.purge_decisions(older_than=cut)
            self.stdout.write(f"forgot {counted(forgotten, 'decision')}")
            return
        selector = (
            {"client_ref": client_ref}
            if client_ref is not None
            else {"vendor": vendor, "subject": subject}
        )
        plan = receiver.decisions.erasure(**selector)  # one reading of every stored body
        count = len(plan.entries)
        if options["dry_run"]:
            theirs = len(plan.deliveries)
            self.stdout.write(
                f"would forget {counted(count, 'decision')} and erase the bodies of the person's "
                f"{counted(theirs, 'delivery', 'deliveries')}"
            )
            return
        erased = receiver.decisions.forget(**selector)
        self.stdout.write(
            f"forgot {counted(count, 'decision')} and erased the bodies of the person's "
            f"{counted(len(erased), 'delivery', 'deliveries')} (handled or not, with a verdict or "
            "without)"
        )

    def _stats(self, receiver: Any, store: Any, options: dict[str, Any]) -> None:
        for name, count in store.stats().items():
            self.stdout.write(f"{name}: {count}")


def exc_code(exc: Exception) -> int:
    """The CLI's exit code for ``exc``: 2 a usage error or a store that does not pass by itself
    (``StoreSchemaError``: another version's schema, a corrupt file -- as ``kyc-webhooks``
    answers it), 3 the store unavailable or the work held by a delivery being handled (run it
    again), 1 anything else (a delivery failed)."""
    if isinstance(exc, (ConfigurationError, UsageError, StoreSchemaError)):
        return 2
    if isinstance(exc, (StoreError, DeliveryInProgressError)):
        return 3
    return 1


def argparse_hidden() -> str:
    return argparse.SUPPRESS
