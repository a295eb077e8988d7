"""Opening stores (a SQLite path or a ``postgresql://`` URL), the inbox path, ages such as ``30d``
and delivery ids given as a unique prefix."""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import math
import os
import re
import sqlite3
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import kyc_webhooks as kw

from ..store.sqlite import disk_full
from ._common import EXIT_MISSING_DEPENDENCY, EXIT_UNAVAILABLE, EXIT_USAGE, PROG, CliError, when

if TYPE_CHECKING:
    from kyc_webhooks.store import DeliveryRecord, Store

INBOX_VAR = "KYC_WEBHOOKS_INBOX"
DEFAULT_INBOX = "kyc-webhooks-inbox.sqlite3"
#: The shortest id prefix accepted (32 bits: a collision among a few thousand ids is unlikely).
MIN_PREFIX = 8
#: How many ids of an ambiguous prefix the error message lists.
_SHOWN_MATCHES = 10


def is_postgres(target: str) -> bool:
    """A URL ``PostgresStore`` accepts: libpq reads ``postgresql://`` and ``postgres://`` only, in
    lower case (not SQLAlchemy's ``postgresql+psycopg://``, nor ``POSTGRESQL://``)."""
    return target.startswith(("postgresql://", "postgres://"))


#: A URL: a scheme (RFC 3986) and ``://``, after any leading blanks. Never a SQLite path here.
_URL = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.-]*://")


def is_unread_url(target: str) -> bool:
    """A URL that ``PostgresStore`` does not read (``postgresql+psycopg://``, ``POSTGRESQL://``,
    ``mysql://``): refused as a store, never taken for a SQLite file of that name. The rule of
    ``kyc-webhooks`` and of Django's ``KYC_WEBHOOKS['STORE']``."""
    return bool(_URL.match(target)) and not is_postgres(target)


def open_store(
    target: str,
    what: str = "store",
    *,
    schema: str | None = None,
    missing: str | None = None,
    create: bool = True,
    timeout: float | None = None,
    pgbouncer: bool = False,
) -> Store:
    """A ``PostgresStore`` for a ``postgresql://`` URL, else a ``SQLiteStore`` at the path.

    With ``missing`` (the hint of the error), a SQLite path must name an existing file: opening
    a missing one would create an empty store, and a mistyped path would then read or process
    nothing without a word. Commands that create a store (``migrate``, ``serve``) pass none.
    ``create=False`` gives a store that never creates its tables, neither a PostgreSQL schema
    nor tables in an existing SQLite file such as a Django project's ``db.sqlite3``:
    :func:`require_store` checks that it holds one. ``timeout``: the store's (its default
    otherwise). ``pgbouncer``: the PostgreSQL URL is a PgBouncer's."""
    if not target.strip() or target.strip() == ":memory:":
        # SQLite opens a private temporary database for "" (an unset variable in a deploy
        # script) and ":memory:": `migrate` reported "up to date" and created nothing.
        shown = repr(target) if target.strip() else "an empty value"
        raise CliError(
            f"the {what} must be a SQLite file path or a postgresql:// URL, not {shown}: a "
            "temporary database would be gone with the command"
        )
    keyword = _KEYWORD_VALUE.match(target)
    if keyword and keyword.group(1) in _SHOWN_PARAMS | _SECRET_PARAMS:
        # `host=db password=...`: not a file name; never echoed (it may hold a password), and
        # never created as a SQLite file of that name.
        raise CliError(
            f"the {what} looks like a PostgreSQL key=value connection string (not shown: it may "
            "hold a password); give it as a postgresql:// URL"
        )
    if is_unread_url(target):
        # `postgresql+psycopg://` (SQLAlchemy's spelling), `POSTGRESQL://`, `mysql://`: libpq
        # reads none of them, and a SQLite file of that name is never meant; shown masked.
        raise CliError(
            f"the {what} {describe(target)} is a URL that PostgreSQL does not read: give a "
            "postgresql:// (or postgres://) URL, in lower case and without a +driver suffix "
            "such as SQLAlchemy's +psycopg"
        )
    if missing is not None and not is_postgres(target) and not Path(target).is_file():
        raise CliError(f"no {what} at {target} ({missing})")
    try:
        if is_postgres(target):
            from kyc_webhooks.store import PostgresStore

            options: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
            if schema:
                options["schema"] = schema
            return PostgresStore(target, create=create, pgbouncer=pgbouncer, **options)
        from kyc_webhooks.store import SQLiteStore

        if timeout is None:
            return SQLiteStore(target, create=create)
        return SQLiteStore(target, create=create, timeout=timeout)
    except kw.WebhookError as exc:
        # A missing driver (the postgres extra) is a missing dependency, not a usage error; a
        # database that is locked or cannot be reached now is unavailable (exit 3: try again),
        # as the documented exit codes say -- scripts retrying on 3 gave up on a lock (R33).
        if isinstance(exc.__cause__, ImportError):
            code = EXIT_MISSING_DEPENDENCY
        elif _unavailable(exc.__cause__):
            code = EXIT_UNAVAILABLE
        else:
            code = EXIT_USAGE
        raise CliError(f"cannot open {what} {describe(target)}: {exc.message}", code) from None
    except OSError as exc:
        raise CliError(f"cannot open {what} {describe(target)}: {exc.strerror or exc}") from None


def _unavailable(cause: BaseException | None) -> bool:
    """Whether a store failed to open for a reason that passes: SQLite's database locked or busy,
    or its file system full; a PostgreSQL server that cannot be reached (psycopg's
    ``OperationalError``)."""
    if isinstance(cause, sqlite3.OperationalError):
        if disk_full(cause):
            return True
        code = getattr(cause, "sqlite_errorcode", None)
        if isinstance(code, int):
            return code & 0xFF in (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED
        return "locked" in str(cause)
    return type(cause).__name__ == "OperationalError" and type(cause).__module__.startswith(
        "psycopg"
    )


#: The libpq connection parameters whose value ``describe`` shows (none of them is a secret).
#: Any other parameter's value is masked: ``password``, ``sslpassword`` (the client key's
#: passphrase), ``oauth_client_secret``, ``scram_client_key``/``scram_server_key``, parameters of
#: a newer libpq, and a misspelt name (libpq refuses it, and it may be a password's ``?pasword=``).
_SHOWN_PARAMS = frozenset(
    {
        *("host", "hostaddr", "port", "dbname", "user", "passfile", "service", "options"),
        *("application_name", "fallback_application_name", "client_encoding", "replication"),
        *("connect_timeout", "tcp_user_timeout", "target_session_attrs", "load_balance_hosts"),
        *("keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count"),
        *("sslmode", "sslnegotiation", "sslcompression", "sslcert", "sslkey", "sslcertmode"),
        *("sslrootcert", "sslcrl", "sslcrldir", "sslsni", "sslkeylogfile", "requirepeer"),
        *("ssl_min_protocol_version", "ssl_max_protocol_version", "min_protocol_version"),
        *("max_protocol_version", "require_auth", "channel_binding", "gssencmode", "gsslib"),
        *("gssdelegation", "krbsrvname", "oauth_issuer", "oauth_client_id", "oauth_scope"),
    }
)
#: libpq's secret parameters (masked by ``describe`` like any parameter not shown).
_SECRET_PARAMS = frozenset(
    {"password", "sslpassword", "oauth_client_secret", "scram_client_key", "scram_server_key"}
)
#: The start of a libpq ``keyword=value`` connection string (``host=db dbname=app``).
_KEYWORD_VALUE = re.compile(r"\s*([a-z_]+)\s*=")
_MASK = "***"


def describe(target: str) -> str:
    """``target`` for messages, without any credential: a ``postgresql://`` URL keeps its user,
    hosts, database and the values of the non-secret parameters (:data:`_SHOWN_PARAMS`); the
    password of ``user:password@`` and every other query parameter's value become ``***``
    (``postgresql://app:***@db/app?sslmode=require&password=***``). Any other URL (a scheme and
    ``://``, such as ``postgresql+psycopg://``) is masked the same way. A SQLite path is unchanged.

    The URL is cut where a human would read a password, which is never short of where libpq
    cuts it (pure string work: this also runs when psycopg is missing). There is user info when
    an ``@`` comes before the query (``?``): libpq reads it only before any ``/``, but a password
    may hold an unencoded ``/`` (base64 does), ``@`` or ``?``. It runs to the last ``@`` of a URL
    without ``?``, else to the last ``@`` before the first ``=`` or before the first ``?``,
    whichever is further (a parameter's value may hold an ``@``: it stays in the query, whose
    values are masked). An ``@`` in a database name masks more than needed, never less. The
    query starts at the next ``?``; parameter names are percent-decoded (``?pass%77ord=`` is a
    password)."""
    if not _URL.match(target):
        return target
    scheme, _, rest = target.partition("://")
    userinfo = ""
    query_at = rest.find("?")
    if "@" in (rest if query_at < 0 else rest[:query_at]):
        if query_at < 0:
            at = rest.rfind("@")
        else:
            first_equals = rest.find("=")
            at = max(
                rest.rfind("@", 0, query_at),
                rest.rfind("@", 0, first_equals if first_equals >= 0 else len(rest)),
            )
        user, colon, _ = rest[:at].partition(":")
        if "?" in user or "=" in user:
            user = _MASK  # `host?password=p@ss` (no /): libpq's user, but a password to a human
        userinfo = f"{user}:{_MASK}@" if colon else f"{user}@"
        rest = rest[at + 1 :]
    address, question, query = rest.partition("?")
    if not question:
        return f"{scheme}://{userinfo}{address}"
    params = []
    for param in query.split("&"):
        name, has_value, _ = param.partition("=")
        if not has_value:
            # libpq refuses a bare word; it may be a pasted password
            params.append(_MASK if param else "")
        elif urllib.parse.unquote(name) in _SHOWN_PARAMS:
            params.append(param)
        else:
            params.append(f"{name}={_MASK}")
    return f"{scheme}://{userinfo}{address}?{'&'.join(params)}"


def add_schema_option(parser: argparse.ArgumentParser, without: str, **kwargs: Any) -> None:
    """``--schema NAME``: the PostgreSQL schema holding the store's tables (``without`` says
    which one is read without it), and ``--pgbouncer``; ``kwargs`` go to ``add_argument``."""
    parser.add_argument(
        "--schema",
        metavar="NAME",
        help=f"PostgreSQL: the schema holding the tables (default: {without})",
        **kwargs,
    )
    parser.add_argument(
        "--pgbouncer",
        action="store_true",
        help="PostgreSQL: the URL is a PgBouncer (PostgresStore(..., pgbouncer=True))",
        **kwargs,
    )


def check_integrity(path: str) -> None:
    """SQLite's ``PRAGMA quick_check`` of the file: a corrupt page that no read of the
    migration touched made ``migrate`` say "up to date" (review R53), and ``serve`` stored
    deliveries into such a file, answering others 503."""
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


def schema_option(schema: str | None, target: str | None, option: str) -> str | None:
    """The ``--schema`` given, refused unless ``target`` (the value of ``option``) is a
    ``postgresql://`` URL: a SQLite file has no schemas."""
    if schema is None:
        return None
    if not (target and is_postgres(target)):
        raise CliError(f"--schema applies to a postgresql:// {option} only")
    if not schema.strip():
        # `--schema "$SCHEMA"` with the variable unset: it was the default schema, and migrate
        # created the tables there.
        raise CliError("--schema is empty: name a schema, or leave the option out for the default")
    return schema


def pgbouncer_option(args: argparse.Namespace, target: str | None, option: str) -> bool:
    """Whether ``--pgbouncer`` was given; refused unless ``target`` is a ``postgresql://`` URL."""
    given = bool(getattr(args, "pgbouncer", False))
    if given and not (target and is_postgres(target)):
        raise CliError(f"--pgbouncer applies to a postgresql:// {option} only")
    return given


#: The table of the Django app's own inbox (``"STORE": "django"``, the default there).
DJANGO_TABLE = "kyc_webhooks_delivery"


def require_store(
    store: Store,
    target: str,
    what: str = "store",
    *,
    option: str = "--store",
    django: str = "`python manage.py kyc_webhooks process`",
) -> None:
    """Refuse (usage error) a store opened with ``create=False`` that holds none: a PostgreSQL
    schema, or an existing SQLite file, without the store's tables. Nothing was created in it.
    When the database holds the Django app's inbox instead, the message points to ``django``
    (what reads it there). A store that cannot be reached raises its StoreError."""
    from kyc_webhooks.store import PostgresStore, SQLiteStore

    if not isinstance(store, (PostgresStore, SQLiteStore)) or store.schema_version() != 0:
        return
    if isinstance(store, PostgresStore):
        where = f"in schema {store.schema!r} at {describe(target)}"
        check = f"check the URL of {option} and --schema"
    else:
        where = f"in {target}: the file holds no kyc-webhooks store"
        check = f"check the path of {option}"
    if holds_django_inbox(target):
        check = (
            f"this database holds the Django app's inbox, table {DJANGO_TABLE}: use {django} "
            "in the Django project"
        )
    raise CliError(f"no {what} {where}; nothing was created in it ({check})")


def holds_django_inbox(target: str) -> bool:
    """Whether the database at ``target`` (a SQLite path or a ``postgresql://`` URL) has the
    Django app's inbox table, in any schema. Only for a hint: False when it cannot be read."""
    try:
        if is_postgres(target):
            import psycopg

            with psycopg.connect(target, connect_timeout=10, autocommit=True) as conn:
                found = conn.execute(
                    "SELECT 1 FROM pg_catalog.pg_tables WHERE tablename = %s", (DJANGO_TABLE,)
                ).fetchone()
        else:
            # Read-only, and never created.
            with contextlib.closing(
                sqlite3.connect(f"{Path(target).absolute().as_uri()}?mode=ro", uri=True)
            ) as db:
                found = db.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                    (DJANGO_TABLE,),
                ).fetchone()
    except Exception:  # a database that cannot be read gets no hint
        return False
    return found is not None


#: What reads the Django app's inbox (``kyc_webhooks.integrations.django``).
_DJANGO_INBOX = (
    "`python manage.py kyc_webhooks` (process, replay, purge, erase-bodies, forget, stats) or the "
    "Django admin"
)


def inbox_path(args: argparse.Namespace) -> str:
    return str(args.inbox or os.environ.get(INBOX_VAR) or DEFAULT_INBOX)


def open_inbox(path: str, schema: str | None = None, *, pgbouncer: bool = False) -> Store:
    """The existing inbox at ``path`` (in ``schema`` for a ``postgresql://`` URL): a missing
    SQLite file, or a database without the store's tables, is an error -- never created (an
    operator's typo would read nothing, and another application's database would get empty
    tables)."""
    store = open_store(
        path,
        "inbox",
        schema=schema,
        missing=f"start `{PROG} serve` or pass --inbox PATH",
        create=False,
        pgbouncer=pgbouncer,
    )
    try:
        require_store(store, path, "inbox", option="--inbox", django=_DJANGO_INBOX)
    except BaseException:
        store.close()
        raise
    return store


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
    # The store looks the prefix up (its index of ids): only the first few matches are read.
    matches = store.deliveries(id_prefix=prefix, limit=_SHOWN_MATCHES)
    if not matches:
        raise CliError(f"no delivery with id {delivery_id!r} in the inbox")
    if len(matches) > 1:
        total = max(store.count(id_prefix=prefix), len(matches))
        shown = ", ".join(r.id for r in matches)
        more = f" and {total - len(matches)} more" if total > len(matches) else ""
        raise CliError(
            f"id prefix {delivery_id!r} is ambiguous: {total} deliveries match "
            f"({shown}{more}); give more characters"
        )
    return matches[0]


def already_done(record: DeliveryRecord) -> str:
    """Why a replay without ``--force`` did not run ``record``: it is done (``inbox replay`` and
    ``manage.py kyc_webhooks replay``)."""
    handled = record.finished_at or record.updated_at
    return (
        f"{record.id} is done: its handlers succeeded at {when(handled)} UTC; nothing ran. "
        "Replay it again on purpose with --force"
    )


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
