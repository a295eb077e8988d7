"""DjangoStore: the :class:`~kyc_webhooks.store.Store` protocol on Django models, in the
project's own database. Tested on SQLite, PostgreSQL and MariaDB (10.11; 10.6 or later for
``SKIP LOCKED``, at Django's default isolation level there, READ COMMITTED: system check
``kyc_webhooks.W001``). Text is compared exactly on every database: through the sha256 columns,
or (MySQL/MariaDB, whose collations ignore case, accents and trailing spaces) by its bytes.

Every state change is one transaction, and every claim is a conditional UPDATE (``WHERE id = ...
AND token IS <the token read>``) whose row count says whether this worker won: that is correct on
every backend. ``add(..., lease=..., decision=...)`` also takes the decision ledger's subject lease
in its transaction (one commit for the claim and the lease). Where the backend supports it,
``claim_next`` also reads candidates with ``select_for_update(skip_locked=True)`` so that
concurrent workers do not queue on one row.
SQLite serialises writers; set ``"OPTIONS": {"transaction_mode": "IMMEDIATE"}`` (Django 5.1+)
to avoid "database is locked" errors under concurrent writers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
    router,
    transaction,
)
from django.db.models import BinaryField, F, Func, Q, Value
from django.db.models.functions import Left
from django.db.models.lookups import Exact

from ...decisions import Decision, ledger_entry
from ...errors import DeliveryInProgressError, DeliveryNotFoundError, StoreError, UsageError
from ...store._base import (
    FORGET_BUSY,
    LEASE_EXPIRED,
    LEASE_EXPIRED_MESSAGE,
    MALFORMED_RECORD,
    MALFORMED_RECORDS_PER_CLAIM,
    NEVER_RETRIED,
    Added,
    Claim,
    Clock,
    DecisionEntry,
    DecisionTicket,
    DeliveryRecord,
    DeliveryState,
    NewDelivery,
    TimeLimit,
    announces,
    check_aware,
    check_clock,
    check_decision_args,
    check_forget_args,
    check_lease,
    check_limit,
    check_states,
    check_with_body,
    checked_now,
    claimable,
    cutoff,
    from_text_column,
    id_prefix_can_match,
    id_range,
    listed_records,
    loggable_id,
    new_id,
    replaces,
    to_text_column,
    utc_now,
)
from .models import DecisionRecord, Delivery

__all__ = ["DjangoStore"]

logger = logging.getLogger("kyc_webhooks")

#: Why the store refuses to work under ``USE_TZ = False`` (and what the system check says).
USE_TZ_REQUIRED = (
    "the Django delivery store needs USE_TZ = True: with USE_TZ = False Django stores and reads "
    "naive local times, and the store's times are aware (UTC)"
)
_T = TypeVar("_T")
#: What Django's field converters may raise for a stored value they cannot read -- possible on
#: SQLite, which keeps whatever another program wrote (a date no calendar has: ValueError).
_UNREADABLE = (ArithmeticError, AttributeError, LookupError, TypeError, ValueError)


def _claimable_now(now: datetime, never_retried: Q) -> Q:
    """The rows ``claim_next`` may take at ``now``: pending ones, processing ones whose lease
    expired, and failed ones whose back-off ended -- only a failure backs off -- unless set aside
    as malformed or failed without a body (never claimed by the worker again). The rule of
    :func:`kyc_webhooks.store._base.claimable` (``replay=False``) as a ``Q`` filter, plus the
    back-off and never-retried conditions the other stores put in their own queries: keep them in
    step. ``never_retried``: those rows (``last_error_type`` exactly one of ``NEVER_RETRIED``)."""
    expired = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    backed_off = Q(not_before__isnull=True) | Q(not_before__lte=now)
    return (
        Q(state="pending")
        | (Q(state="processing") & expired)
        | (Q(state="failed") & backed_off & ~never_retried)
    )


class _Bytes(Func):
    """``CAST(<text> AS BINARY)``: the bytes of a text value. MySQL and MariaDB compare and sort
    text by the column's collation -- by default case- and accent-insensitive, trailing spaces
    ignored (PAD SPACE) -- so ``'Key'``, ``'key'`` and ``'key '`` are equal there; their bytes
    are not."""

    template = "CAST(%(expressions)s AS BINARY)"
    output_field = BinaryField()


def _text(value: str) -> str:
    """Text any database accepts, reversibly: NUL and lone surrogates encoded."""
    return to_text_column(value)


def _opt(value: str | None) -> str | None:
    return None if value is None else from_text_column(value)


def _key_hash(delivery_key: str) -> str:
    return hashlib.sha256(delivery_key.encode("utf-8", "surrogatepass")).hexdigest()


def _listed(item: tuple[str, Delivery | None]) -> DeliveryRecord:
    """A listed ``(id, row)`` decoded; ``row`` is ``None`` when Django could not read it."""
    row = item[1]
    if row is None:
        raise StoreError("deliveries: a stored delivery could not be read")
    return _record(row)


def _listed_id(item: tuple[str, Delivery | None]) -> object:
    return item[0]


def _record(row: Delivery) -> DeliveryRecord:
    try:
        body = row.body
        return DeliveryRecord(
            id=row.id,
            delivery_key=from_text_column(row.delivery_key),
            vendor=from_text_column(row.vendor),
            event_type=from_text_column(row.event_type),
            state=DeliveryState(row.state),
            received_at=row.received_at,
            updated_at=row.updated_at,
            attempts=row.attempts,
            replays=row.replays,
            body=bytes(body) if body is not None else None,
            headers=tuple((from_text_column(n), from_text_column(v)) for n, v in row.headers),
            lease_until=row.lease_until,
            finished_at=row.finished_at,
            last_error_type=_opt(row.last_error_type),
            last_error_message=_opt(row.last_error_message),
            not_before=row.not_before,
            body_erased_at=row.body_erased_at,
        )
    except (TypeError, ValueError) as exc:
        raise StoreError(f"stored delivery {row.id} could not be decoded") from exc


#: The columns that release a subject lease.
_RELEASED: dict[str, Any] = {"token": None, "lease_until": None, "lease_delivery": None}


def _subject_hash(vendor: str, subject: str) -> str:
    """sha256 of ``(vendor, subject)``; JSON keeps the pair injective (NUL, surrogates escaped)."""
    return hashlib.sha256(json.dumps([vendor, subject]).encode("ascii")).hexdigest()


def _client_hash(client_ref: str) -> str:
    return hashlib.sha256(client_ref.encode("utf-8", "surrogatepass")).hexdigest()


def _entry_fields(entry: DecisionEntry) -> dict[str, Any]:
    """The ledger columns of a :class:`DecisionEntry` (text through ``to_text_column``);
    ``UsageError`` for an entry of the wrong shape."""
    try:
        received = check_aware(entry.received_at, "DecisionEntry.received_at")
        occurred = (
            None
            if entry.occurred_at is None
            else check_aware(entry.occurred_at, "DecisionEntry.occurred_at")
        )
        client_ref = entry.client_ref
        return {
            # str.__str__: the plain value of a str enum (DecisionStatus) as well as of a str.
            "status": _text(str.__str__(entry.status)),
            "final": bool(entry.final),
            "delivery_id": _text(entry.delivery_id),
            "event_type": _text(entry.event_type),
            "received_at": received,
            "occurred_at": occurred,
            "client_ref": None if client_ref is None else _text(client_ref),
            "client_hash": None if client_ref is None else _client_hash(client_ref),
            "sort_at": occurred if occurred is not None else received,
            "reasons": [_text(reason) for reason in entry.reasons],
            "fetch_required": bool(entry.fetch_required),
        }
    except (TypeError, AttributeError) as exc:
        raise UsageError(
            "a DecisionEntry needs str vendor, subject, status, delivery_id, event_type, "
            "client_ref (or None) and reasons"
        ) from exc


def _read(operation: str, read: Callable[[], _T], what: str = "a stored delivery") -> _T:
    """``read()``: a query of rows, and nothing else (no ``UsageError`` is raised in it on
    purpose). A stored value Django's converters cannot read is a :class:`StoreError` naming
    ``operation`` -- never the value -- instead of a raw ``ValueError`` out of the public API."""
    try:
        return read()
    except UsageError:
        raise
    except _UNREADABLE as exc:
        raise StoreError(f"{operation}: {what} could not be read") from exc


def _read_ledger(operation: str, read: Callable[[], _T]) -> _T:
    """:func:`_read` of decision ledger rows."""
    return _read(operation, read, "the stored decision of a subject")


def _state(row: Delivery) -> DeliveryState:
    """The state of a delivery row; a :class:`StoreError` for one no version wrote."""
    try:
        return DeliveryState(row.state)
    except ValueError as exc:
        raise StoreError(f"stored delivery {row.id} could not be decoded") from exc


def _announced(row: DecisionRecord, operation: str) -> tuple[str, bool] | None:
    """The verdict a ledger row's decision handlers were last told about (``None``: none yet);
    a :class:`StoreError` naming ``operation`` when it cannot be read back."""
    if row.announced_status is None:
        return None
    if not isinstance(row.announced_status, str) or row.announced_final is None:
        raise StoreError(f"{operation}: the stored decision of a subject could not be read")
    return from_text_column(row.announced_status), bool(row.announced_final)


def _entry(row: DecisionRecord, operation: str) -> DecisionEntry | None:
    """The effective decision a ledger row holds (``None`` for a row holding only a lease); a
    :class:`StoreError` naming ``operation`` when it cannot be read back. A time Django's SQLite
    converter does not recognise (a number, text that is no date) reads as ``None``: refused here,
    else it would surface as a raw ``TypeError`` when entries are compared."""
    if row.status is None:
        return None
    times_readable = isinstance(row.received_at, datetime) and (
        row.occurred_at is None or isinstance(row.occurred_at, datetime)
    )
    try:
        if not times_readable:
            raise ValueError("a stored time is not a datetime")
        return DecisionEntry(
            vendor=from_text_column(row.vendor),
            subject=from_text_column(row.subject),
            status=from_text_column(row.status),
            final=bool(row.final),
            delivery_id=from_text_column(str(row.delivery_id)),
            event_type=from_text_column(str(row.event_type)),
            received_at=row.received_at,
            occurred_at=row.occurred_at,
            client_ref=_opt(row.client_ref),
            reasons=tuple(from_text_column(str(reason)) for reason in row.reasons),
            fetch_required=bool(row.fetch_required),
        )
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{operation}: stored decision {row.id} could not be decoded") from exc


def _lease_free(now: datetime) -> Q:
    """The ledger rows whose subject lease is not live at ``now`` (no delivery is handled)."""
    return Q(token__isnull=True) | Q(lease_until__isnull=True) | Q(lease_until__lte=now)


def _check_use_tz() -> None:
    """Refuse to touch the tables under ``USE_TZ = False``: Django then stores and reads naive
    local times (SQLite refuses the store's aware ones; PostgreSQL gives back naive ones that no
    aware time compares with). A :class:`StoreError` -- an endpoint answers 503, the vendor
    redelivers once the setting is fixed -- instead of a raw ``TypeError`` or ``ValueError``;
    the system check ``kyc_webhooks.E003`` reports the same at start-up."""
    if not settings.USE_TZ:
        raise StoreError(USE_TZ_REQUIRED)


#: PostgreSQL SQLSTATEs of a session the server ended: class 08 (connection exception) and
#: admin shutdown, crash shutdown, cannot connect now
#: (https://www.postgresql.org/docs/current/errcodes-appendix.html).
_PG_DISCONNECTED = ("08", "57P01", "57P02", "57P03")
#: MySQL/MariaDB error numbers of a lost session: server gone away, lost connection, connection
#: killed, disconnected by the server (https://mariadb.com/kb/en/mariadb-error-codes/).
_MYSQL_DISCONNECTED = frozenset({2006, 2013, 1927, 4031})


#: PostgreSQL SQLSTATEs of a transaction the server gave up on and that may be tried again:
#: serialization failure, deadlock detected, lock not available.
_PG_CONFLICT = ("40001", "40P01", "55P03")
#: MySQL/MariaDB: deadlock found (the transaction was rolled back), lock wait timeout.
_MYSQL_CONFLICT = frozenset({1213, 1205})
#: SQLite: SQLITE_BUSY, SQLITE_LOCKED ("database is locked" -- at once, without waiting, when a
#: deferred transaction that read cannot become the writer).
_SQLITE_CONFLICT = frozenset({5, 6})
#: How often, and how long apart, a claim's ending is tried when it met a conflict -- and no new
#: try after a conflict once this many seconds went by: each try may wait the database's lock
#: timeout (MariaDB's innodb_lock_wait_timeout is 50 s by default), and a request must not wait
#: minutes. (A lost connection is tried again on a new one whenever it happens.)
_CONFLICT_TRIES = 6
_CONFLICT_PAUSE = 0.05
_CONFLICT_SECONDS = 30.0


def _conflict(exc: Exception) -> bool:
    """Whether ``exc`` (a Django database error) is a conflict with another transaction --
    a deadlock, a lock wait, SQLite's busy database -- after which nothing of the transaction
    stayed: trying it again is safe, and will usually pass."""
    cause = exc.__cause__
    errno = _mysql_errno(cause)
    if errno is not None:
        return errno in _MYSQL_CONFLICT
    code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)  # psycopg 3 / 2
    if isinstance(code, str):
        return code in _PG_CONFLICT
    sqlite_code = getattr(cause, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        return sqlite_code & 0xFF in _SQLITE_CONFLICT
    # sqlite3 before Python 3.11 names no code
    return "database is locked" in str(cause) or "database table is locked" in str(cause)


def _conflict_code(exc: Exception) -> str:
    """The driver's code of a conflict, for a log line (never its message, which can quote
    values): ``MySQL 1213``, ``SQLSTATE 40P01``, ``SQLite 5``."""
    cause = exc.__cause__
    errno = _mysql_errno(cause)
    if errno is not None:
        return f"MySQL {errno}"
    code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if isinstance(code, str):
        return f"SQLSTATE {code}"
    return f"SQLite {getattr(cause, 'sqlite_errorcode', 'busy')}"


def _mysql_errno(cause: object) -> int | None:
    """The error number of a MySQL/MariaDB driver's exception (mysqlclient, PyMySQL: ``args`` is
    ``(errno, message)``), else ``None``. Read before ``sqlstate``, which PyMySQL sets too."""
    args: tuple[Any, ...] = tuple(getattr(cause, "args", ()))
    return args[0] if args and isinstance(args[0], int) else None


def _disconnected(exc: Exception) -> bool:
    """Whether ``exc`` (a Django database error) says the server ended the session -- as
    opposed to a deadlock, a lock or statement timeout, which a new connection would not cure."""
    if isinstance(exc, InterfaceError):  # the driver's connection is closed
        return True
    cause = exc.__cause__
    errno = _mysql_errno(cause)
    if errno is not None:
        return errno in _MYSQL_DISCONNECTED
    code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)  # psycopg 3 / 2
    return isinstance(code, str) and code.startswith(_PG_DISCONNECTED)


#: How deep each thread is in the store's own transactions (module-level: a store object stays
#: copyable and picklable, as Django's TestCase.setUpTestData deep-copies what it keeps).
_NESTING = threading.local()
#: Why the store refuses to run inside a transaction of the caller's.
_IN_CALLERS_TRANSACTION = (
    "the Django delivery store commits its own transactions: do not call handle(), process(), "
    "replay() or process_pending() (or the store's add/claim/complete/fail) inside "
    "transaction.atomic(), a view under ATOMIC_REQUESTS (decorate it with "
    "transaction.non_atomic_requests(using=<the store's database alias>), or with "
    "kyc_webhooks.integrations.django.views.outside_request_transactions for every alias) or "
    "with autocommit off -- a rollback of yours would undo "
    "a delivery already answered, and the handlers would run again"
)


class DjangoStore:
    """The app's store, tested on SQLite, PostgreSQL and MariaDB (see the module docstring for
    what MariaDB needs). ``using``: the database alias (default: the router's choice for
    :class:`~kyc_webhooks.integrations.django.models.Delivery`); ``clock``: injectable for tests."""

    blocking = True

    def __init__(self, *, using: str | None = None, clock: Clock | None = None) -> None:
        self._using = using
        check_clock(clock)
        self._clock: Clock = clock if clock is not None else utc_now

    def __repr__(self) -> str:
        return f"DjangoStore(using={self._db!r})"

    @property
    def _db(self) -> str:
        return self._using or router.db_for_write(Delivery)

    def now(self) -> datetime:
        return checked_now(self._clock)

    async def run_blocking(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """How ``handle_async()`` calls this store: in Django's thread-sensitive executor, the
        thread whose database connections Django opens and closes with each request."""
        from asgiref.sync import sync_to_async

        return await sync_to_async(func, thread_sensitive=True)(*args, **kwargs)

    def _rows(self) -> Any:
        _check_use_tz()
        return Delivery.objects.using(self._db)

    @contextlib.contextmanager
    def _atomic(self, *, own: bool = True) -> Iterator[None]:
        """A transaction of the store's own: ``durable`` at the store's outermost level, so that
        it commits when the block ends -- a savepoint below it. Inside a transaction the caller
        opened (``transaction.atomic()``, an ``ATOMIC_REQUESTS`` view, autocommit turned off) it
        would be part of the caller's, which a rollback undoes after the delivery was answered:
        refused with :class:`UsageError` instead. (Django's ``TestCase`` transactions --
        pytest-django's ``db`` -- are allowed, as for every durable block.)

        ``own=False`` (erasure and retention: ``erase``, ``purge``, ``forget_decisions`` ...):
        a plain ``atomic()``, which joins a transaction of the caller's -- rolled back with the
        caller's own deletions, as it should be. So is every block inside :meth:`erasure`."""
        depth = getattr(_NESTING, "depth", 0)
        if own and depth == 0 and not transaction.get_autocommit(using=self._db):
            conn = connections[self._db]
            if not conn.in_atomic_block:  # autocommit off (AUTOCOMMIT: False, set_autocommit)
                # Refused in an erasure too: a conflict there rolls back the whole transaction,
                # which nothing here could tell from a retried statement's own.
                raise UsageError(_IN_CALLERS_TRANSACTION)
        if not own or getattr(_NESTING, "erasing", False):
            with transaction.atomic(using=self._db):
                yield
            return
        block = transaction.atomic(using=self._db, durable=depth == 0)
        try:
            block.__enter__()
        except RuntimeError:  # Django: a durable block nested in the caller's transaction
            raise UsageError(_IN_CALLERS_TRANSACTION) from None
        _NESTING.depth = depth + 1
        try:
            yield
        except BaseException as exc:
            _NESTING.depth = depth
            if not block.__exit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            _NESTING.depth = depth
            block.__exit__(None, None, None)

    @contextlib.contextmanager
    def erasure(self) -> Iterator[None]:
        """The block in which ``receiver.decisions.forget()`` claims, erases and gives back the
        person's deliveries not handled yet: there the claims and their release (``claim``,
        ``fail``) join a transaction of the caller's, as ``erase`` does, instead of being refused
        -- rolled back with the caller's own deletions, the delivery is back as it was, body
        included. (Inside the caller's transaction the claim is a row the database keeps locked
        until it ends, so no worker takes the delivery meanwhile.) Per thread."""
        before = getattr(_NESTING, "erasing", False)
        _NESTING.erasing = True
        try:
            yield
        finally:
            _NESTING.erasing = before

    def _after_handlers(self, write: Callable[[], _T]) -> _T:
        """``write()`` -- a claim's ending, once the handlers ran (``complete``, ``fail``) --
        tried again where that is safe and likely to pass. Without it the handlers' success was
        answered 200 while the record stayed ``processing``, and the worker ran them again once
        the lease expired:

        * after a lost connection (a server restart or failover, a terminated session, a proxy
          dropping it), once more on a new connection. A first try that committed before the
          break cleared the claim, so the second finds no claim to end and changes nothing
          (``False``);
        * after a conflict with another transaction (:func:`_conflict`: a deadlock -- MariaDB's
          with a worker's ``claim_next`` --, a lock wait timeout, SQLite's "database is
          locked"), which rolled the whole try back, up to :data:`_CONFLICT_TRIES` times, a
          little apart, within :data:`_CONFLICT_SECONDS` (review R32: handlers ran twice).

        Not inside a transaction of the caller's, which a new connection cannot continue and a
        rollback has ended; not for other errors (a statement timeout)."""
        reconnected = False
        started = time.monotonic()
        for attempt in range(_CONFLICT_TRIES):
            try:
                return write()
            except (InterfaceError, OperationalError) as exc:
                conn = connections[self._db]
                if conn.in_atomic_block or attempt == _CONFLICT_TRIES - 1:
                    raise
                if _disconnected(exc) and not reconnected:
                    conn.close()  # Django opens a new one on the next query
                    reconnected = True
                elif _conflict(exc) and time.monotonic() - started < _CONFLICT_SECONDS:
                    logger.warning(
                        "delivery store: ending a claim met a conflict with another transaction "
                        "(%s); trying again",
                        _conflict_code(exc),
                    )
                    time.sleep(_CONFLICT_PAUSE * (attempt + 1))
                else:
                    raise  # a statement timeout: the store error it is
        raise AssertionError("unreachable")  # pragma: no cover

    def _by_collation(self) -> bool:
        """Whether the database compares text by a collation rather than exactly (MySQL and
        MariaDB: see :class:`_Bytes`). SQLite and PostgreSQL compare text exactly."""
        return bool(connections[self._db].vendor == "mysql")

    def _same(self, field: str, value: str | None) -> Q:
        """``field = value``, exactly on every database: where text compares by collation, the
        plain comparison (which the column's index serves) and the comparison of the bytes."""
        same = Q(**{field: value})
        if value is not None and self._by_collation():
            same &= Q(Exact(_Bytes(F(field)), _Bytes(Value(value))))
        return same

    def _one_of(self, field: str, values: Collection[str]) -> Q:
        """``field IN values``, exactly on every database (see :meth:`_same`)."""
        one_of = Q(**{f"{field}__in": list(values)})
        if self._by_collation():
            exact = Q(pk__in=[])
            for value in values:
                exact |= Q(Exact(_Bytes(F(field)), _Bytes(Value(value))))
            one_of &= exact
        return one_of

    def _held(self, claim: Claim) -> Q:
        """The row ``claim`` holds: its id, with its token."""
        return self._same("id", claim.record.id) & self._same("token", claim.token)

    def _in_order(self, field: str) -> Any:
        """``field`` for ``order_by``: in code point order on every database (UTF-8's byte order
        where text sorts by collation), as the other stores order it."""
        return _Bytes(F(field)) if self._by_collation() else F(field)

    # -- claims ------------------------------------------------------------------------------

    def _take(
        self, row: Delivery, now: datetime, lease: float, *, replay: bool, new: bool = False
    ) -> Claim | None:
        """Claim ``row`` if nobody changed it since it was read (conditional UPDATE). Nor erased
        it: ``forget()`` claims, erases and gives a delivery back unchanged but for its body, and
        a worker that read the row before, its UPDATE waiting on the row's lock, would otherwise
        win the claim once the erasure commits and run the handlers on the body it read."""
        token = new_id()
        previous = _state(row)
        state = "done" if previous is DeliveryState.DONE else "processing"
        lease_until = now + timedelta(seconds=lease)
        won = (
            self._rows()
            .filter(
                id=row.id,
                token=row.token,
                state=row.state,
                attempts=row.attempts,
                body_erased_at=row.body_erased_at,
            )
            .update(
                state=state,
                lease_until=lease_until,
                # The claim ends the back-off of an earlier failure: should this worker die, the
                # record is taken over once the lease expires, not when the old back-off ends.
                not_before=None,
                attempts=row.attempts + 1,
                updated_at=now,
                token=token,
            )
        )
        if won != 1:
            return None
        row.state, row.lease_until, row.not_before, row.attempts, row.updated_at, row.token = (
            state,
            lease_until,
            None,
            row.attempts + 1,
            now,
            token,
        )
        return Claim(_record(row), token, replay, DeliveryState.PENDING if new else previous)

    def add(
        self,
        delivery: NewDelivery,
        *,
        lease: float | None = None,
        decision: Decision | None = None,
    ) -> Added:
        """Store ``delivery`` (and claim it, with ``lease``) in one transaction. With ``lease`` and
        ``decision``, the subject lease of ``ledger_entry(decision, record)`` is taken in that same
        transaction, exactly as :meth:`begin_decision` right after the claim would take it:
        :attr:`Added.ticket`, or :attr:`Added.subject_busy` while another delivery holds it."""
        if not isinstance(delivery, NewDelivery):
            raise UsageError("add() takes a NewDelivery")
        check_lease(lease)
        if decision is not None and not isinstance(decision, Decision):
            raise UsageError("add(decision=...) takes a Decision")
        now = self.now()
        key_hash = _key_hash(delivery.delivery_key)
        try:
            for _ in range(3):  # a lost insert race is followed by a read of the winner's row
                with self._atomic():
                    row = _read("add", self._rows().filter(key_hash=key_hash).first)
                    if row is not None:
                        claim = None
                        if lease is not None and claimable(
                            _state(row), row.lease_until, now, replay=False
                        ):
                            claim = self._take(row, now, lease, replay=False)
                        return self._added(row, False, claim, decision, lease, now)
                    row = Delivery(
                        id=new_id(),
                        key_hash=key_hash,
                        delivery_key=_text(delivery.delivery_key),
                        vendor=_text(delivery.vendor),
                        event_type=_text(delivery.event_type),
                        state="pending",
                        received_at=now,
                        updated_at=now,
                        body=delivery.body,
                        headers=[[_text(n), _text(v)] for n, v in delivery.headers],
                    )
                    try:
                        with self._atomic():
                            row.save(using=self._db, force_insert=True)
                    except IntegrityError:
                        continue
                    claim = None
                    if lease is not None:
                        claim = self._take(row, now, lease, replay=False, new=True)
                    return self._added(row, True, claim, decision, lease, now)
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc
        raise StoreError("the Django delivery store could not add a delivery (insert race)")

    def _added(
        self,
        row: Delivery,
        created: bool,
        claim: Claim | None,
        decision: Decision | None,
        lease: float | None,
        now: datetime,
    ) -> Added:
        """What ``add`` answers, inside its transaction: with a claim and ``decision``, the
        subject lease is taken here (one commit for both); when another delivery holds it, the
        claim stays the caller's to release."""
        if claim is None or decision is None:
            return Added(_record(row), created, claim)
        assert lease is not None  # a claim was asked for
        entry = ledger_entry(decision, claim.record)
        try:
            with self._atomic():  # a savepoint: a failure below undoes the lease, not the claim
                ticket = self._lease_subject(claim, entry, lease, now, "add")
        except StoreError:
            # The subject's stored decision does not decode. Answer as a store that does not
            # fold: the caller's begin_decision() then reports the malformed entry and releases
            # the claim, exactly as without the fold.
            return Added(claim.record, created, claim)
        return Added(claim.record, created, claim, ticket, subject_busy=ticket is None)

    def claim(self, delivery_id: str, *, lease: float, replay: bool = False) -> Claim | None:
        check_lease(lease)
        now = self.now()
        try:
            with self._atomic():
                row = _read(
                    "claim", self._rows().filter(self._same("id", _text(delivery_id))).first
                )
                if row is None:
                    raise DeliveryNotFoundError("no stored delivery has this id")
                if not claimable(_state(row), row.lease_until, now, replay=replay):
                    return None
                return self._take(row, now, lease, replay=replay)
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc

    def claim_next(
        self,
        *,
        lease: float,
        max_attempts: int | None = None,
        vendors: Collection[str] | None = None,
    ) -> Claim | None:
        check_lease(lease)
        now = self.now()
        try:
            with self._atomic():
                if max_attempts is not None:
                    self._fail_exhausted(now, max_attempts, vendors)
                # Every condition in the query, as in the other stores: a window of the oldest
                # rows filtered here would starve a claimable delivery behind them (many failed
                # deliveries backing off during a downstream outage).
                never = self._one_of("last_error_type", list(NEVER_RETRIED))
                rows = self._rows().filter(_claimable_now(now, never))
                if max_attempts is not None:
                    rows = rows.filter(attempts__lt=max_attempts)
                if vendors is not None:
                    rows = rows.filter(self._one_of("vendor", [_text(v) for v in vendors]))
                if connections[self._db].features.has_select_for_update_skip_locked:
                    rows = rows.select_for_update(skip_locked=True)
                # The oldest MALFORMED_RECORDS_PER_CLAIM claimable rows, read (and, where the
                # backend has it, locked) at once: every one matches the query, so the next is
                # tried only when the claim of one was lost to another worker or its row does
                # not decode. Such a row is set aside (failed, MalformedRecord) in this same
                # transaction: one malformed row must not stop every worker. So at most
                # MALFORMED_RECORDS_PER_CLAIM are set aside per call; the next call goes on.
                ordered = rows.order_by("received_at", "id")
                window = self._candidates("claim_next", ordered, MALFORMED_RECORDS_PER_CLAIM)
                for row_id, row in window:
                    try:
                        if row is None:
                            raise StoreError("claim_next: a stored delivery could not be read")
                        claim = self._take(row, now, lease, replay=False)
                    except StoreError as exc:
                        self._set_aside(row_id, now, exc)
                        continue
                    if claim is not None:
                        return claim
                return None
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc

    def _candidates(
        self, operation: str, ordered: Any, limit: int = 50
    ) -> list[tuple[str, Delivery | None]]:
        """The first ``limit`` rows of ``ordered`` as ``(id, row)``; ``row`` is ``None`` for one
        holding a value Django's converters cannot read (read one by one, then, so that one such
        row does not hide the others)."""
        try:
            found: list[Delivery] = _read(operation, lambda: list(ordered[:limit]))
        except StoreError:
            ids: list[str] = list(ordered.values_list("id", flat=True)[:limit])
            pairs: list[tuple[str, Delivery | None]] = []
            for row_id in ids:
                one = self._rows().filter(id=row_id)
                try:
                    pairs.append((row_id, _read(operation, one.first)))
                except StoreError:
                    pairs.append((row_id, None))
            return pairs
        return [(row.id, row) for row in found]

    def _set_aside(self, row_id: str, now: datetime, exc: StoreError) -> None:
        """Mark a row that does not decode ``failed`` (``MalformedRecord``) and release a claim
        this call took of it; the message names the kind of fault, never a value, and the other
        columns stay as they are (``get(id)`` still reports it; once repaired, ``process(id)``
        or a redelivery runs it)."""
        cause = exc.__cause__
        kind = type(cause).__name__ if cause is not None else "StoreError"
        self._rows().filter(id=row_id).update(
            state="failed",
            lease_until=None,
            token=None,
            updated_at=now,
            last_error_type=MALFORMED_RECORD,
            last_error_message=f"the stored record does not decode ({kind})",
        )
        logger.error(
            "delivery store: stored record %s does not decode (%s); set aside as failed (%s) -- "
            "repair the row, then process(id) runs it",
            loggable_id(row_id),
            kind,
            MALFORMED_RECORD,
        )

    def _fail_exhausted(
        self, now: datetime, max_attempts: int, vendors: Collection[str] | None
    ) -> None:
        rows = self._rows().filter(
            state="processing", attempts__gte=max_attempts, lease_until__lte=now
        )
        if vendors is not None:
            rows = rows.filter(self._one_of("vendor", [_text(v) for v in vendors]))
        if connections[self._db].features.has_select_for_update_skip_locked:
            # The rows first, skipping those another transaction holds, then each by its id: an
            # UPDATE through the state index locked the index entries of every processing row,
            # then the rows -- the reverse of complete()'s order, and on MariaDB the two
            # deadlocked (review R32).
            ids = list(rows.select_for_update(skip_locked=True).values_list("id", flat=True))
            if not ids:
                return
            rows = self._rows().filter(id__in=ids, state="processing")
        rows.update(
            state="failed",
            lease_until=None,
            not_before=None,
            updated_at=now,
            token=None,
            last_error_type=LEASE_EXPIRED,
            last_error_message=LEASE_EXPIRED_MESSAGE,
        )

    def complete(self, claim: Claim, *, decision: DecisionTicket | None = None) -> bool:
        """Mark the claimed record done. With ``decision`` (a ticket of this claim's
        :meth:`begin_decision`), in the same transaction: the entry becomes the latest known
        entry when it still replaces the stored one -- re-judged against the row as it is now,
        in case the subject lease expired and another delivery changed it -- and, when
        ``decision.changes``, the announced verdict (:meth:`Store.complete`); the subject lease
        is released if the ticket still holds it. ``False``, and nothing changed, when the
        claim was lost."""
        if decision is not None and not isinstance(decision, DecisionTicket):
            raise UsageError("complete(decision=...) takes the DecisionTicket of begin_decision()")
        fields = _entry_fields(decision.entry) if decision is not None else {}
        now = self.now()

        def write() -> bool:
            with self._atomic():
                held = self._rows().filter(self._held(claim))
                row = _read("complete", held.first)
                if row is None:
                    return False
                done = (
                    self._rows()
                    .filter(self._held(claim))
                    .update(
                        state="done",
                        lease_until=None,
                        not_before=None,
                        finished_at=now,
                        updated_at=now,
                        replays=row.replays + (1 if claim.replay else 0),
                        token=None,
                    )
                )
                if done != 1:
                    return False
                if decision is None:
                    return True
                self._settle(decision, fields)
                return True

        try:
            return self._after_handlers(write)
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc

    def _settle(self, ticket: DecisionTicket, fields: dict[str, Any]) -> None:
        """Apply a ticket inside ``complete``'s transaction: write its entry if it still
        replaces the stored one (``replaces()``), and when its decision handlers ran
        (``ticket.changes``) and it is the latest known entry, make it the announced verdict;
        release the lease if the ticket still holds it."""
        entry = ticket.entry
        announced = {"announced_status": fields["status"], "announced_final": fields["final"]}
        rows = self._decisions().filter(subject_hash=_subject_hash(entry.vendor, entry.subject))
        # Whether or not the ticket changes the decision: the same verdict later replaces the
        # stored entry silently (replaces()), as in the other stores.
        if connections[self._db].features.has_select_for_update:
            rows = rows.select_for_update()
        row = _read_ledger("complete", rows.first)
        if row is None:  # its lease row was removed meanwhile: the entry starts it again
            DecisionRecord(
                id=new_id(),
                subject_hash=_subject_hash(entry.vendor, entry.subject),
                vendor=_text(entry.vendor),
                subject=_text(entry.subject),
                **fields,
                **(announced if ticket.changes else {}),
            ).save(using=self._db, force_insert=True)
            return
        current = _entry(row, "complete")
        newer = replaces(entry, current)
        # Its decision handlers ran: they were last told this verdict -- unless it is no longer
        # the latest known one. The same delivery as the stored entry: the retry of an attempt
        # that failed (abort_decision(failed=True) stored it).
        announce = ticket.changes and (
            newer or (current is not None and current.delivery_id == entry.delivery_id)
        )
        if newer or announce:
            # Conditional on the row read: a write in between makes this one a no-op
            # rather than an overwrite (select_for_update already excludes it where held).
            rows.filter(
                self._same("delivery_id", row.delivery_id), id=row.id, token=row.token
            ).update(**(fields if newer else {}), **(announced if announce else {}))
        rows.filter(self._same("token", ticket.token)).update(**_RELEASED)

    # -- the decision ledger -----------------------------------------------------------------

    def _decisions(self) -> Any:
        _check_use_tz()
        return DecisionRecord.objects.using(self._db)

    def begin_decision(
        self, claim: Claim, entry: DecisionEntry, *, lease: float
    ) -> DecisionTicket | None:
        """Take the lease on ``entry``'s subject for ``lease`` seconds and say whether ``entry``
        supersedes the effective decision (``supersedes()``).
        ``None`` when another delivery holds a live lease on the subject, or when ``claim`` was
        lost."""
        check_decision_args(claim, entry, lease)
        _entry_fields(entry)  # refuses a malformed entry before anything is written
        now = self.now()
        try:
            with self._atomic():
                if not self._rows().filter(self._held(claim)).exists():
                    return None
                return self._lease_subject(claim, entry, lease, now, "begin_decision")
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc

    def _lease_subject(
        self, claim: Claim, entry: DecisionEntry, lease: float, now: datetime, operation: str
    ) -> DecisionTicket | None:
        """The subject lease of ``entry`` for the live ``claim``, inside the caller's transaction
        (``begin_decision``'s, or ``add``'s right after its claim); ``None`` when another
        delivery holds a live lease on the subject. The ledger row is read
        ``select_for_update()`` where the backend has it, and taken with a conditional UPDATE
        (or a unique INSERT, in a savepoint) whose row count decides."""
        subject_hash = _subject_hash(entry.vendor, entry.subject)
        token = new_id()
        lease_until = now + timedelta(seconds=lease)
        rows = self._decisions().filter(subject_hash=subject_hash)
        if connections[self._db].features.has_select_for_update:
            rows = rows.select_for_update()
        row = _read_ledger(operation, rows.first)
        if row is None:
            try:
                with self._atomic():
                    DecisionRecord(
                        id=new_id(),
                        subject_hash=subject_hash,
                        vendor=_text(entry.vendor),
                        subject=_text(entry.subject),
                        token=token,
                        lease_until=lease_until,
                        lease_delivery=claim.record.id,
                    ).save(using=self._db, force_insert=True)
            except IntegrityError:  # another delivery created it first: it holds it
                return None
            return DecisionTicket(entry, None, True, token)
        if row.lease_until is not None and row.lease_until > now:
            return None
        # Won only if nobody took the lease or recorded a decision since the read.
        won = (
            self._decisions()
            .filter(
                self._same("delivery_id", row.delivery_id),
                id=row.id,
                token=row.token,
                lease_until=row.lease_until,
            )
            .update(token=token, lease_until=lease_until, lease_delivery=claim.record.id)
        )
        if won != 1:
            return None
        previous = _entry(row, operation)
        changes = announces(entry, previous, _announced(row, operation))
        return DecisionTicket(entry, previous, changes, token)

    def abort_decision(self, ticket: DecisionTicket, *, failed: bool = False) -> None:
        """Release the subject lease (a no-op once it was taken over or released). Without
        ``failed`` the ledger is unchanged; with it (a handler failed), in the same
        transaction, the ticket's entry becomes the latest known entry when it replaces the
        stored one, not announced (:meth:`Store.abort_decision`)."""
        if not isinstance(ticket, DecisionTicket):
            raise UsageError("abort_decision() takes the DecisionTicket of begin_decision()")
        fields = _entry_fields(ticket.entry) if failed else {}
        held = self._decisions().filter(
            self._same("token", ticket.token),
            subject_hash=_subject_hash(ticket.entry.vendor, ticket.entry.subject),
        )

        def release() -> None:
            with self._atomic():
                if failed:
                    self._record_failed(ticket, held, fields)
                # A fast delete reads no row; with delete signals connected, Django reads them.
                held.filter(status__isnull=True).delete()  # it never held a decision
                held.update(**_RELEASED)

        try:
            _read_ledger("abort_decision", release)
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc

    def _record_failed(self, ticket: DecisionTicket, held: Any, fields: dict[str, Any]) -> None:
        """A failed attempt of the holder of the subject lease (inside ``abort_decision``'s
        transaction): its newer verdict is known from now on -- an older one delivered before the
        retry is judged against it -- and not announced. Without the lease (it expired, another
        delivery took it) nothing is written: a verification forgotten meanwhile is not written
        again."""
        rows = held
        if connections[self._db].features.has_select_for_update:
            rows = rows.select_for_update()
        row = _read_ledger("abort_decision", rows.first)
        if row is not None and replaces(ticket.entry, _entry(row, "abort_decision")):
            # Conditional on the row read, as in _settle.
            held.filter(self._same("delivery_id", row.delivery_id), id=row.id).update(**fields)

    def effective_decision(self, vendor: str, subject: str) -> DecisionEntry | None:
        if not isinstance(vendor, str) or not isinstance(subject, str):
            raise UsageError("vendor and subject must be str")
        rows = self._decisions().filter(
            subject_hash=_subject_hash(vendor, subject), status__isnull=False
        )
        try:
            row = _read_ledger("effective_decision", rows.first)
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc
        return None if row is None else _entry(row, "effective_decision")

    def decisions_for_client(self, client_ref: str, *, limit: int = 100) -> Sequence[DecisionEntry]:
        """The effective decisions of one ``client_ref``, newest first (by ``occurred_at``, else
        ``received_at``)."""
        if not isinstance(client_ref, str):
            raise UsageError("client_ref must be a str")
        check_limit(limit)
        rows = (
            self._decisions()
            .filter(client_hash=_client_hash(client_ref), status__isnull=False)
            .order_by("-sort_at", "-received_at", self._in_order("delivery_id").desc())
        )
        try:
            fetched: list[DecisionRecord] = _read_ledger(
                "decisions_for_client", lambda: list(rows[:limit])
            )
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc
        found = [_entry(row, "decisions_for_client") for row in fetched]
        return [entry for entry in found if entry is not None]

    def forget_decisions(
        self,
        *,
        client_ref: str | None = None,
        vendor: str | None = None,
        subject: str | None = None,
    ) -> list[str]:
        check_forget_args(client_ref, vendor, subject)
        if client_ref is not None:
            rows = self._decisions().filter(
                client_hash=_client_hash(client_ref), status__isnull=False
            )
        else:
            assert vendor is not None
            assert subject is not None
            rows = self._decisions().filter(subject_hash=_subject_hash(vendor, subject))
        now = self.now()
        try:
            with self._atomic(own=False):
                if connections[self._db].features.has_select_for_update:
                    rows = rows.select_for_update()
                found: list[tuple[str, str | None]] = _read_ledger(
                    "forget_decisions", lambda: list(rows.values_list("id", "delivery_id"))
                )
                # Conditional on the lease being free now: a lease taken since the read (where
                # rows cannot be locked) leaves a row, and the count says so.
                deleted, _ = (
                    self._decisions()
                    .filter(_lease_free(now), id__in=[row_id for row_id, _ in found])
                    .delete()
                )
                if deleted != len(found):
                    raise DeliveryInProgressError(FORGET_BUSY)  # rolled back: nothing removed
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc
        return [from_text_column(str(delivery)) for _, delivery in found if delivery is not None]

    def purge_decisions(self, *, older_than: TimeLimit) -> int:
        now = self.now()
        limit = cutoff(older_than, now)
        free = self._decisions().filter(_lease_free(now))
        try:
            with self._atomic(own=False):
                purged, _ = free.filter(status__isnull=False, received_at__lt=limit).delete()
                # Rows that never got an entry, judged by when their lease ended.
                free.filter(
                    Q(lease_until__isnull=True) | Q(lease_until__lt=limit), status__isnull=True
                ).delete()
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc
        return int(purged)

    def fail(
        self,
        claim: Claim,
        *,
        error_type: str,
        error_message: str,
        retry_at: datetime | None = None,
        count_attempt: bool = True,
    ) -> bool:
        now = self.now()

        def write() -> bool:
            with self._atomic():
                row = _read("fail", self._rows().filter(self._held(claim)).first)
                if row is None:
                    return False
                keep_done = row.state == "done"
                # count_attempt=False: nothing ran, the claim's attempt is given back.
                attempts = row.attempts if count_attempt else max(row.attempts - 1, 0)
                return bool(
                    self._rows()
                    .filter(self._held(claim))
                    .update(
                        state="done" if keep_done else "failed",
                        attempts=attempts,
                        lease_until=None,
                        not_before=None if keep_done else retry_at,
                        updated_at=now,
                        last_error_type=_text(error_type),
                        last_error_message=_text(error_message),
                        token=None,
                    )
                    == 1
                )

        try:
            return self._after_handlers(write)
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc

    # -- reading -----------------------------------------------------------------------------

    def get(self, delivery_id: str) -> DeliveryRecord | None:
        try:
            row = _read("get", self._rows().filter(self._same("id", _text(delivery_id))).first)
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc
        return _record(row) if row is not None else None

    def get_by_key(self, delivery_key: str) -> DeliveryRecord | None:
        try:
            row = _read("get_by_key", self._rows().filter(key_hash=_key_hash(delivery_key)).first)
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc
        return _record(row) if row is not None else None

    def deliveries(
        self,
        *,
        state: DeliveryState | str | Collection[DeliveryState | str] | None = None,
        vendor: str | None = None,
        event_type: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        newest_first: bool = False,
        id_prefix: str | None = None,
    ) -> Sequence[DeliveryRecord]:
        check_limit(limit)
        rows = self._filtered(state, vendor, event_type, since, until, id_prefix, None)
        if rows is None:
            return []
        order = ("-received_at", "-id") if newest_first else ("received_at", "id")
        try:
            fetched = self._candidates("deliveries", rows.order_by(*order), limit)
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc
        # A row that does not decode is skipped, not a failure of the whole listing: its id is
        # logged (get(id) reports it), and claim_next sets it aside.
        return listed_records(fetched, _listed, _listed_id, StoreError)

    def count(
        self,
        *,
        state: DeliveryState | str | Collection[DeliveryState | str] | None = None,
        vendor: str | None = None,
        event_type: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        id_prefix: str | None = None,
        with_body: bool | None = None,
    ) -> int:
        rows = self._filtered(state, vendor, event_type, since, until, id_prefix, with_body)
        if rows is None:
            return 0
        try:
            return int(rows.count())
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc

    def _filtered(
        self,
        state: DeliveryState | str | Collection[DeliveryState | str] | None,
        vendor: str | None,
        event_type: str | None,
        since: datetime | None,
        until: datetime | None,
        id_prefix: str | None,
        with_body: bool | None,
    ) -> Any:
        """The rows ``deliveries`` and ``count`` select; ``None`` when none can match (an
        ``id_prefix`` that is not hex)."""
        states = check_states(state)
        check_with_body(with_body)
        rows = self._rows()
        if states is not None:
            rows = rows.filter(state__in=[s.value for s in states])
        if vendor is not None:
            rows = rows.filter(self._same("vendor", _text(vendor)))
        if event_type is not None:
            rows = rows.filter(self._same("event_type", _text(event_type)))
        if since is not None:
            rows = rows.filter(received_at__gte=check_aware(since, "since"))
        if until is not None:
            rows = rows.filter(received_at__lt=check_aware(until, "until"))
        if not id_prefix_can_match(id_prefix):
            return None
        if id_prefix:
            # The range is what the primary key's index serves; the first characters compared
            # exactly keep only the ids that start with the prefix (MySQL/MariaDB: by their
            # bytes, as _same() compares).
            low, high = id_range(id_prefix)
            head = Left(F("id"), len(id_prefix))
            exact = (
                Exact(_Bytes(head), _Bytes(Value(id_prefix)))
                if self._by_collation()
                else Exact(head, Value(id_prefix))
            )
            rows = rows.filter(Q(id__gte=low, id__lt=high) & Q(exact))
        if with_body is not None:
            rows = rows.filter(body__isnull=not with_body)
        return rows

    def stats(self) -> dict[str, int]:
        counts = {s.value: 0 for s in DeliveryState}
        try:
            for state in counts:
                counts[state] = self._rows().filter(state=state).count()
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc
        counts["total"] = sum(counts.values())
        return counts

    # -- retention ---------------------------------------------------------------------------

    def purge(
        self,
        *,
        older_than: TimeLimit,
        state: DeliveryState | str | Collection[DeliveryState | str] | None = None,
    ) -> int:
        limit = cutoff(older_than, self.now())
        states = check_states(state)
        rows = self._rows().filter(received_at__lt=limit)
        if states is not None:
            rows = rows.filter(state__in=[s.value for s in states])
        try:
            with self._atomic(own=False):
                deleted, _ = rows.delete()
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc
        return int(deleted)

    def erase(self, delivery_id: str) -> bool:
        now = self.now()
        try:
            with self._atomic(own=False):
                if not self._rows().filter(self._same("id", _text(delivery_id))).exists():
                    return False
                self._rows().filter(
                    self._same("id", _text(delivery_id)), body__isnull=False
                ).update(body=None, body_erased_at=now, updated_at=now)
                return True
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc

    def erase_bodies(self, *, older_than: TimeLimit) -> int:
        now = self.now()
        limit = cutoff(older_than, now)
        try:
            with self._atomic(own=False):
                return int(
                    self._rows()
                    .filter(received_at__lt=limit, body__isnull=False)
                    .update(body=None, body_erased_at=now, updated_at=now)
                )
        except DatabaseError as exc:
            raise StoreError("the Django delivery store failed") from exc

    def close(self) -> None:
        """Nothing to release: Django owns the connections."""
