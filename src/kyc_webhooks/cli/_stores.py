"""Opening stores (a SQLite path or a ``postgresql://`` URL), the inbox path, ages such as ``30d``
and delivery ids given as a unique prefix."""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import kyc_webhooks as kw

from ._common import EXIT_MISSING_DEPENDENCY, EXIT_USAGE, PROG, CliError

if TYPE_CHECKING:
    from kyc_webhooks.store import DeliveryRecord, Store

INBOX_VAR = "KYC_WEBHOOKS_INBOX"
DEFAULT_INBOX = "kyc-webhooks-inbox.sqlite3"
#: The shortest id prefix accepted (32 bits: a collision among a few thousand ids is unlikely).
MIN_PREFIX = 8
#: How many records a prefix lookup scans at most.
_PREFIX_SCAN = 1_000_000


def is_postgres(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def open_store(target: str, what: str = "store", *, schema: str | None = None) -> Store:
    """A ``PostgresStore`` for a ``postgresql://`` URL, else a ``SQLiteStore`` at the path."""
    try:
        if is_postgres(target):
            from kyc_webhooks.store import PostgresStore

            return PostgresStore(target, schema=schema) if schema else PostgresStore(target)
        from kyc_webhooks.store import SQLiteStore

        return SQLiteStore(target)
    except kw.WebhookError as exc:
        # A missing driver (the postgres extra) is a missing dependency, not a usage error.
        code = EXIT_MISSING_DEPENDENCY if isinstance(exc.__cause__, ImportError) else EXIT_USAGE
        raise CliError(f"cannot open {what} {describe(target)}: {exc.message}", code) from None
    except OSError as exc:
        raise CliError(f"cannot open {what} {describe(target)}: {exc.strerror or exc}") from None


def describe(target: str) -> str:
    """``target`` without a password (``postgresql://user:***@host/db``)."""
    if not is_postgres(target):
        return target
    scheme, _, rest = target.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if at and ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    return f"{scheme}://{userinfo}{at}{host}"


def inbox_path(args: argparse.Namespace) -> str:
    path: str = args.inbox or os.environ.get(INBOX_VAR) or DEFAULT_INBOX
    if not is_postgres(path) and not Path(path).is_file():
        raise CliError(f"no inbox at {path} (start `{PROG} serve` or pass --inbox PATH)")
    return path


def find_record(store: Store, delivery_id: str) -> DeliveryRecord:
    """The record whose id is ``delivery_id`` or starts with it (at least 8 characters)."""
    record = store.get(delivery_id)
    if record is not None:
        return record
    prefix = delivery_id.lower()
    if len(prefix) < MIN_PREFIX:
        raise CliError(
            f"no delivery with id {delivery_id!r} in the inbox "
            f"(an id prefix needs at least {MIN_PREFIX} characters)"
        )
    matches = [r for r in store.deliveries(limit=_PREFIX_SCAN) if r.id.startswith(prefix)]
    if not matches:
        raise CliError(f"no delivery with id {delivery_id!r} in the inbox")
    if len(matches) > 1:
        shown = ", ".join(r.id for r in matches[:10])
        more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
        raise CliError(
            f"id prefix {delivery_id!r} is ambiguous: {len(matches)} deliveries match "
            f"({shown}{more}); give more characters"
        )
    return matches[0]


_AGE_SECONDS = {"days": 86400.0, "hours": 3600.0, "minutes": 60.0, "seconds": 1.0}
#: The oldest cut-off ``--older-than`` accepts: far beyond any retention period, and well inside
#: the range of :class:`datetime.datetime` (an age of 10 000 years would overflow it).
_MAX_AGE = _dt.timedelta(days=36525)


def age(text: str) -> _dt.timedelta:
    """``30d``, ``12h``, ``15m``, ``90s`` or a plain number of days."""
    units = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    raw = text.strip().lower()
    unit = units.get(raw[-1:], "")
    number = raw[:-1] if unit else raw
    try:
        value = float(number)
    except ValueError:
        raise CliError(f"bad age {text!r}: use e.g. 30d, 12h, 15m or 90s") from None
    if math.isnan(value):
        raise CliError(f"bad age {text!r}: use e.g. 30d, 12h, 15m or 90s")
    if value < 0:
        raise CliError(f"bad age {text!r}: must not be negative")
    seconds = value * _AGE_SECONDS[unit or "days"]
    if seconds > _MAX_AGE.total_seconds():  # inf and 1e12 included
        raise CliError(f"bad age {text!r}: must be at most {_MAX_AGE.days}d (100 years)")
    return _dt.timedelta(seconds=seconds)
