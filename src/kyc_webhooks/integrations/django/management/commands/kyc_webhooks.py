"""``python manage.py kyc_webhooks process|replay|purge|erase-bodies|stats`` on the project's
receiver and store (``settings.KYC_WEBHOOKS``). Exit codes follow the ``kyc-webhooks`` CLI: 0 ok,
1 a delivery failed, 2 a usage error."""

from __future__ import annotations

import itertools
import re
import signal
import threading
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kyc_webhooks.errors import ConfigurationError, UsageError, WebhookError
from kyc_webhooks.integrations.django.conf import project_receiver

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def duration(text: str) -> timedelta:
    """``90d``, ``12h``, ``30m``, ``45s``."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise CommandError(f"expected a duration such as 90d, 12h, 30m or 45s, got {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class Command(BaseCommand):
    help = "Process, replay, purge and erase stored KYC webhook deliveries."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        process = sub.add_parser("process", help="run handlers of pending/failed deliveries")
        process.add_argument("--limit", type=int, default=100)
        process.add_argument("--loop", action="store_true", help="poll until SIGTERM/SIGINT")
        process.add_argument("--interval", type=float, default=1.0, help=argparse_hidden())
        process.add_argument("--max-rounds", type=int, default=0, help=argparse_hidden())
        replay = sub.add_parser("replay", help="run the handlers of one delivery again")
        replay.add_argument("delivery_id")
        purge = sub.add_parser("purge", help="delete old delivery records")
        purge.add_argument("--older-than", required=True, type=duration)
        purge.add_argument("--state", action="append", default=None)
        purge.add_argument("--dry-run", action="store_true")
        erase = sub.add_parser("erase-bodies", help="erase old bodies (personal data)")
        erase.add_argument("--older-than", required=True, type=duration)
        erase.add_argument("--dry-run", action="store_true")
        sub.add_parser("stats", help="record counts per state")

    def handle(self, *args: Any, **options: Any) -> None:
        receiver = project_receiver()
        store = receiver.store
        if store is None:
            raise CommandError("KYC_WEBHOOKS['STORE'] is None: no stored deliveries", returncode=2)
        try:
            getattr(self, "_" + options["action"].replace("-", "_"))(receiver, store, options)
        except WebhookError as exc:
            raise CommandError(str(exc), returncode=exc_code(exc)) from None

    def _process(self, receiver: Any, store: Any, options: dict[str, Any]) -> None:
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
        failed = 0
        try:
            for rounds in itertools.count(1):
                summary = receiver.process_pending(limit=options["limit"])
                failed += summary.failed
                if summary.processed:
                    self.stdout.write(
                        f"processed {summary.processed}: {summary.succeeded} succeeded, "
                        f"{summary.failed} failed"
                    )
                if not options["loop"] or stop.is_set():
                    break
                if options["max_rounds"] and rounds >= options["max_rounds"]:
                    break
                if not summary.processed and stop.wait(options["interval"]):
                    break
        finally:
            signal.signal(signal.SIGTERM, previous)
        if not options["loop"] and failed:
            raise CommandError(f"{failed} deliveries failed", returncode=1)

    def _replay(self, receiver: Any, store: Any, options: dict[str, Any]) -> None:
        outcome = receiver.replay(options["delivery_id"])
        self.stdout.write(f"{outcome.status_code} replayed {options['delivery_id']}")
        if not outcome.ok:
            raise CommandError("the handlers failed; the delivery is unchanged", returncode=1)

    def _purge(self, receiver: Any, store: Any, options: dict[str, Any]) -> None:
        if options["dry_run"]:
            cut = store.now() - options["older_than"]
            count = len(store.deliveries(until=cut, state=options["state"], limit=1_000_000))
            self.stdout.write(
                f"would purge {count} deliveries received before {cut:%Y-%m-%d %H:%M}"
            )
            return
        count = store.purge(older_than=options["older_than"], state=options["state"])
        self.stdout.write(f"purged {count} deliveries")

    def _erase_bodies(self, receiver: Any, store: Any, options: dict[str, Any]) -> None:
        if options["dry_run"]:
            cut = store.now() - options["older_than"]
            count = sum(
                1 for r in store.deliveries(until=cut, limit=1_000_000) if not r.body_erased
            )
            self.stdout.write(
                f"would erase {count} bodies of deliveries received before {cut:%Y-%m-%d %H:%M}"
            )
            return
        count = store.erase_bodies(older_than=options["older_than"])
        self.stdout.write(f"erased {count} bodies")

    def _stats(self, receiver: Any, store: Any, options: dict[str, Any]) -> None:
        for name, count in store.stats().items():
            self.stdout.write(f"{name}: {count}")


def exc_code(exc: Exception) -> int:
    return 2 if isinstance(exc, (ConfigurationError, UsageError)) else 1


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS
