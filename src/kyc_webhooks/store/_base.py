"""The store protocol and the record types every store implementation shares.

A store is the receiver's durable inbox (docs/delivery-guarantees.md). It keeps one record per
``delivery_key`` and hands out *claims*: a claim is a lease on one record that lets exactly one
worker run the handlers; it expires after ``lease`` seconds so that a crashed worker loses nothing.

Every state change is one atomic operation of the store (``add``, ``claim``, ``claim_next``,
``complete``, ``fail``), so the receiver never needs a transaction of its own, and a PostgreSQL or
Redis store can implement :class:`Store` without any change to the receiver.

This module imports no database driver.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Protocol, TypeAlias, TypeVar, runtime_checkable

from ..errors import UsageError

R = TypeVar("R")

if TYPE_CHECKING:
    from ..decisions import Decision

__all__ = [
    "DEFAULT_BODY_RETENTION",
    "DEFAULT_RECORD_RETENTION",
    "Added",
    "Claim",
    "Clock",
    "DecisionEntry",
    "DecisionLedger",
    "DecisionTicket",
    "DeliveryRecord",
    "DeliveryState",
    "NewDelivery",
    "Store",
    "TimeLimit",
]

#: A function returning the current time as an aware ``datetime`` (tests inject a fake one).
Clock: TypeAlias = Callable[[], datetime]
#: ``older_than`` arguments: an absolute cut-off (aware ``datetime``) or an age (``timedelta``).
TimeLimit: TypeAlias = datetime | timedelta

#: Default retention policy (docs/delivery-guarantees.md, "Retention"): bodies -- the personal
#: data -- are erased after 30 days, the span iDenfy keeps its own sent-notification log
#: (https://documentation.idenfy.com/guides/dashboard/settings/system-notifications-webhooks-emails);
#: metadata is purged after 90 days.
DEFAULT_BODY_RETENTION = timedelta(days=30)
DEFAULT_RECORD_RETENTION = timedelta(days=90)


class DeliveryState(str, enum.Enum):
    """Where a stored delivery is in its life.

    ``pending`` -> ``processing`` (claimed, lease running) -> ``done`` or ``failed``;
    ``failed`` and an expired ``processing`` lease are claimable again.
    """

    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"

    def __str__(self) -> str:
        return str(self.value)


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(timezone.utc)


def new_id() -> str:
    """A random 128-bit id as 32 hex digits (no ``uuid`` import: ``import kyc_webhooks`` stays
    cheap)."""
    return os.urandom(16).hex()


def check_clock(clock: Clock | None) -> None:
    """A store's ``clock`` argument, refused at construction unless ``None`` or callable (it was
    called only at the first delivery: a 503 for every request instead of a configuration
    error)."""
    if clock is not None and not callable(clock):
        raise UsageError(
            f"clock must be a callable returning an aware datetime, not {type(clock).__name__}"
        )


def checked_now(clock: Clock) -> datetime:
    now = clock()
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise UsageError("the store's clock must return an aware datetime (e.g. in UTC)")
    return now


def cutoff(older_than: TimeLimit, now: datetime) -> datetime:
    """Turn an ``older_than`` argument into an aware cut-off time. A negative age is refused:
    its cut-off lies in the future, and a sign slip (``-RETENTION``) purged or erased everything,
    deliveries answered 202 and not handled yet included (review R41)."""
    if isinstance(older_than, timedelta):
        if older_than < timedelta(0):
            raise UsageError("older_than must not be a negative age (its cut-off is in the future)")
        try:
            return now - older_than
        except OverflowError:  # an age beyond the calendar: nothing is older
            return datetime.min.replace(tzinfo=timezone.utc)
    if isinstance(older_than, datetime):
        if older_than.tzinfo is None or older_than.utcoffset() is None:
            raise UsageError("older_than must be an aware datetime or a timedelta")
        try:
            return older_than.astimezone(timezone.utc)
        except OverflowError:  # datetime.max at -12:00, datetime.min at +14:00: the calendar's edge
            edge = datetime.max if older_than.year > 1 else datetime.min
            return edge.replace(tzinfo=timezone.utc)
    raise UsageError("older_than must be an aware datetime or a timedelta")


def check_aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise UsageError(f"{name} must be an aware datetime")
    return value


def check_states(
    state: DeliveryState | str | Collection[DeliveryState | str] | None,
) -> tuple[DeliveryState, ...] | None:
    """Normalise a ``state=`` filter (one state or several) into a tuple of states."""
    if state is None:
        return None
    items: Collection[DeliveryState | str] = (
        (state,) if isinstance(state, (str, DeliveryState)) else state
    )
    try:
        return tuple(DeliveryState(item) for item in items)
    except ValueError:
        names = ", ".join(s.value for s in DeliveryState)
        raise UsageError(f"state must be one of {names}") from None


#: The longest lease a store accepts: ten years (``now + lease`` must stay a valid datetime).
MAX_LEASE = 10 * 366 * 24 * 3600.0
#: The shortest: a millisecond (a shorter one is ``timedelta(0)`` or next to it: every claim
#: would have expired when taken, and a redelivery would run the handlers alongside).
MIN_LEASE = 0.001
LEASE_RULE = "a number of seconds from 0.001 to ten years"


def valid_lease(lease: object) -> bool:
    """Whether ``lease`` is a lease a store accepts (:data:`MIN_LEASE` to :data:`MAX_LEASE`)."""
    return (
        not isinstance(lease, bool)
        and isinstance(lease, (int, float))
        and MIN_LEASE <= lease <= MAX_LEASE
    )


def check_lease(lease: float | None) -> None:
    if lease is not None and not valid_lease(lease):
        raise UsageError(f"lease must be {LEASE_RULE}")


#: The longest a store waits for a lock, a connection or a statement: a day (the CLI's
#: ``--timeout`` bound). Beyond it the drivers' own limits break every call -- Linux refuses
#: TCP keepalive idle times over 32,767 s, ``threading``'s lock waits overflow -- (review R41).
MAX_STORE_TIMEOUT = 86400.0


def check_timeout(timeout: object, *, zero: bool) -> float:
    """A store's ``timeout`` in seconds: finite, at most :data:`MAX_STORE_TIMEOUT`; 0 where
    ``zero`` allows it (SQLite: do not wait), else at least a millisecond (PostgreSQL reads a
    ``statement_timeout`` of 0 ms as none at all)."""
    low = 0.0 if zero else 0.001
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not low <= timeout <= MAX_STORE_TIMEOUT
    ):
        least = "0" if zero else "0.001"
        raise UsageError(
            f"timeout must be a number of seconds from {least} to {MAX_STORE_TIMEOUT:g}"
        )
    return float(timeout)


#: The largest ``limit`` or ``max_attempts``: what a 64-bit database integer holds.
MAX_COUNT = 2**63 - 1


#: ``last_error_type`` of a stored record that does not decode, which ``claim_next`` set aside
#: (``failed``) instead of stopping on it; it never claims such a record again.
MALFORMED_RECORD = "MalformedRecord"
#: How many such records one ``claim_next`` call sets aside at most (the next call goes on).
MALFORMED_RECORDS_PER_CLAIM = 32

#: ``last_error_type`` of a record whose every attempt ended with an expired lease.
LEASE_EXPIRED = "LeaseExpired"
LEASE_EXPIRED_MESSAGE = "every attempt's lease expired before the handlers finished"
#: ``last_error_type`` and message of a delivery whose body was erased before it was handled
#: (the worker's attempt, a vendor's redelivery, ``forget`` holding it while it erased).
BODY_ERASED = "BodyErasedError"
BODY_ERASED_MESSAGE = "the stored body was erased; the delivery cannot be handled"
#: ``last_error_type`` of the failed records ``claim_next`` never takes again: nothing a retry
#: could change (a record that does not decode, a delivery without its body).
NEVER_RETRIED = (MALFORMED_RECORD, BODY_ERASED)


#: Marks a value :func:`to_text_column` encoded (a Unicode noncharacter: no vendor sends one).
_ENCODED = "\U0010fffe"


def to_text_column(value: str) -> str:
    """``value`` as text any database's text type holds, reversibly (:func:`from_text_column`).

    PostgreSQL's ``text`` holds neither NUL nor a lone surrogate (which UTF-8 cannot encode); a
    value containing either -- or starting with the marker itself -- is stored as the marker plus
    the hex of its ``surrogatepass`` bytes. Every other value is stored unchanged, so two
    different values never merge, and equality lookups encode their parameter the same way."""
    if "\x00" not in value and not value.startswith(_ENCODED):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            pass
        else:
            return value
    return _ENCODED + value.encode("utf-8", "surrogatepass").hex()


def from_text_column(value: str) -> str:
    """The ``str`` that :func:`to_text_column` stored."""
    if value.startswith(_ENCODED):
        return bytes.fromhex(value[len(_ENCODED) :]).decode("utf-8", "surrogatepass")
    return value


class MalformedRow(Exception):
    """Raised inside a store: a stored row's ``column`` does not decode; ``reason`` names the kind
    of fault, never the value (the store turns it into a :class:`StoreError`, or sets the row
    aside)."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(column, reason)
        self.column = column
        self.reason = reason


def describe_fault(column: str, exc: Exception) -> str:
    """What is wrong with a stored value, in words that never quote it."""
    if isinstance(exc, TypeError):
        return str(exc)  # our own converters' text: names a kind of value, never a value
    if isinstance(exc, UnicodeDecodeError):
        return "bytes that do not decode as text"
    if isinstance(exc, json.JSONDecodeError):
        return "text that is not JSON"
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    if column == "state":
        return "no delivery state"
    return f"a value out of range ({type(exc).__name__})"


_OUR_ID = re.compile(r"[0-9a-f]{32}")


def loggable_id(value: object) -> str:
    """A record id for the log: ours are 32 hex digits; anything else another program wrote there
    is not quoted."""
    return value if isinstance(value, str) and _OUR_ID.fullmatch(value) else "<an id not ours>"


def listed_records(
    rows: Iterable[R],
    decode: Callable[[R], DeliveryRecord],
    record_id: Callable[[R], object],
    failure: type[Exception],
) -> list[DeliveryRecord]:
    """What ``deliveries()`` returns for ``rows``: each decoded, and a row that does not decode
    (``decode`` raises ``failure``) skipped rather than failing the whole listing -- its id is
    logged (``get(id)`` reports what is wrong), and ``claim_next`` sets such a row aside."""
    records: list[DeliveryRecord] = []
    skipped: list[str] = []
    for row in rows:
        try:
            records.append(decode(row))
        except failure:
            skipped.append(loggable_id(record_id(row)))
    if skipped:
        logging.getLogger("kyc_webhooks").warning(
            "delivery store: deliveries() skipped %d stored records that do not decode: %s "
            "(get(id) says what is wrong)",
            len(skipped),
            ", ".join(skipped),
        )
    return records


def check_decision_args(claim: object, entry: object, lease: float) -> None:
    """What every store's ``begin_decision`` checks before touching the ledger."""
    if not isinstance(claim, Claim):
        raise UsageError("begin_decision() takes the Claim of the delivery being handled")
    if not isinstance(entry, DecisionEntry):
        raise UsageError("begin_decision() takes a DecisionEntry")
    check_lease(lease)


#: The ``id_prefix`` that can match an id: ids are :func:`new_id`'s 32 lower-case hex digits.
_HEX = re.compile(r"[0-9a-f]*")
#: The upper bound of :func:`id_range` after its last digit: ``9`` is followed by ``a`` and ``f``
#: by ``g``, in code point order as in any database collation (digits sort before letters there,
#: and ``:``, the code point after ``9``, may be ignored by a collation).
_NEXT_DIGIT = {**{c: chr(ord(c) + 1) for c in "012345678abcdef"}, "9": "a", "f": "g"}


def id_prefix_can_match(id_prefix: str | None) -> bool:
    """Check the ``id_prefix`` filter of ``deliveries``/``count`` and say whether any id can match
    it: ``None`` and ``""`` filter nothing out; ids are 32 lower-case hex digits, so a prefix
    holding any other character matches nothing (a store answers without a query)."""
    if id_prefix is None:
        return True
    if not isinstance(id_prefix, str):
        raise UsageError("id_prefix must be a str")
    return _HEX.fullmatch(id_prefix) is not None


def id_range(id_prefix: str) -> tuple[str, str]:
    """``(low, high)``: ``low <= id < high`` holds every id that starts with ``id_prefix``
    (lower-case hex digits, at least one), in code point order and in a database's collation --
    the range the id's index serves. It also holds other text between the two (``abc:``), so a
    query compares the id's first ``len(id_prefix)`` characters exactly as well."""
    return id_prefix, id_prefix[:-1] + _NEXT_DIGIT[id_prefix[-1]]


def check_with_body(with_body: bool | None) -> None:
    if with_body is not None and not isinstance(with_body, bool):
        raise UsageError("with_body must be True, False or None")


def check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_COUNT:
        raise UsageError("limit must be a positive int (at most 2**63 - 1)")


def claimable(
    state: DeliveryState, lease_until: datetime | None, now: datetime, *, replay: bool
) -> bool:
    """Whether a record in ``state`` may be claimed at ``now``: pending and failed records always,
    a processing one once its lease expired, a done one only for a replay and only while no other
    replay holds it.

    A replay of a ``done`` record keeps the record ``done`` and holds its lease in the record's
    ``lease_until`` (the fact is stored, not remembered by the worker): redeliveries stay
    duplicates, ``add``/``claim_next`` never claim it, and if the replaying worker dies the expired
    lease simply leaves the record ``done``."""
    if state in (DeliveryState.PENDING, DeliveryState.FAILED):
        return True
    expired = lease_until is None or lease_until <= now
    if state is DeliveryState.PROCESSING:
        return expired
    return replay and expired


@dataclass(frozen=True)
class NewDelivery:
    """An authenticated delivery about to be stored (built by the receiver)."""

    delivery_key: str
    vendor: str
    event_type: str
    #: The body as received (Identomat: with ``callbackApiKey`` blanked, see the docs).
    body: bytes = field(repr=False)
    #: Request headers without the vendor's credential headers, lower-case names, in order.
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.body, bytes):
            raise UsageError("NewDelivery.body must be bytes")
        for name in ("delivery_key", "vendor", "event_type"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise UsageError(f"NewDelivery.{name} must be a non-empty str")
        if not isinstance(self.headers, tuple) or not all(
            isinstance(pair, tuple)
            and len(pair) == 2
            and isinstance(pair[0], str)
            and isinstance(pair[1], str)
            for pair in self.headers
        ):
            raise UsageError("NewDelivery.headers must be a tuple of (name, value) str pairs")


@dataclass(frozen=True)
class DeliveryRecord:
    """One stored delivery. ``repr()`` never shows the body or the headers (personal data)."""

    id: str
    delivery_key: str
    vendor: str
    event_type: str
    state: DeliveryState
    received_at: datetime
    updated_at: datetime
    #: How many times the handlers were started for it (claims), replays included; a claim given
    #: back because another delivery of the verification was being handled does not count.
    attempts: int = 0
    #: How many deliberate replays completed.
    replays: int = 0
    #: ``None`` once erased.
    body: bytes | None = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    lease_until: datetime | None = None
    finished_at: datetime | None = None
    #: Class name of the exception of the last failed attempt, and a safe message (never the
    #: exception's own text, which may quote personal data).
    last_error_type: str | None = None
    last_error_message: str | None = None
    #: When a failed delivery becomes claimable by ``claim_next`` again (retry back-off). Every
    #: claim clears it, and ``claim_next`` honours it for ``failed`` records only: a processing
    #: record whose worker died is taken over once its lease expires.
    not_before: datetime | None = None
    body_erased_at: datetime | None = None

    @property
    def body_erased(self) -> bool:
        return self.body is None

    @property
    def done(self) -> bool:
        return self.state is DeliveryState.DONE


@dataclass(frozen=True)
class Claim:
    """A lease on one record: the holder may run the handlers until ``record.lease_until``.

    ``token`` identifies this claim; ``complete``/``fail`` with a claim whose lease was taken over
    by another worker change nothing and return ``False``.
    """

    record: DeliveryRecord
    token: str = field(repr=False)
    replay: bool = False
    #: The record's state before the claim. Informational: a replay of a ``done`` record keeps the
    #: stored state ``done`` during the replay, and the store decides from that stored state.
    previous_state: DeliveryState = DeliveryState.PENDING


@dataclass(frozen=True)
class Added:
    """Result of :meth:`Store.add`: the stored record, whether this call created it, and the claim
    when one was requested and the record was claimable.

    With ``add(..., decision=...)`` and a claim, a store that takes the subject lease in the same
    step sets ``ticket`` (it holds the lease) or ``subject_busy`` (another delivery of the
    verification holds it; the claim is still this caller's to release). Both unset: the store did
    not try, and the caller calls :meth:`Store.begin_decision` itself."""

    record: DeliveryRecord
    created: bool
    claim: Claim | None = None
    ticket: DecisionTicket | None = None
    subject_busy: bool = False


@dataclass(frozen=True)
class DecisionEntry:
    """One verification's decision as the ledger keeps it (docs/decisions.md, "The ledger").

    ``status`` is a :class:`~kyc_webhooks.DecisionStatus` value; ``received_at`` is the store's
    time of the delivery it came from (the tie-break when ``occurred_at`` is missing)."""

    vendor: str
    subject: str
    status: str
    final: bool
    delivery_id: str
    event_type: str
    received_at: datetime
    occurred_at: datetime | None = None
    client_ref: str | None = None
    reasons: tuple[str, ...] = ()
    fetch_required: bool = False


def _order(entry: DecisionEntry) -> tuple[bool, datetime, datetime, str]:
    # Finality first, then the vendor's time of the verdict -- the store's receipt time standing
    # in for an event that has none -- then receipt, then the delivery id: a total order.
    return (entry.final, decision_time(entry), entry.received_at, entry.delivery_id)


def replaces(new: DecisionEntry, current: DecisionEntry | None) -> bool:
    """Whether ``new`` takes ``current``'s place in the ledger. A total order, so that whatever
    order deliveries are processed in, the ledger ends with the same entry:

    * a final decision is never replaced by a non-final one (and a final one replaces a
      non-final one);
    * between two of equal finality, the later ``occurred_at`` wins; an entry without one counts
      with its ``received_at`` (the store's time of the delivery); then the one received later;
    * the very same entry again (a stale copy) changes nothing."""
    return current is None or _order(new) > _order(current)


def supersedes(new: DecisionEntry, current: DecisionEntry | None) -> bool:
    """Whether ``new`` changes the effective decision (decision handlers run): it
    :func:`replaces` ``current`` with another status or finality. The same verdict again, with a
    later time, replaces the stored entry silently (so that a later, different verdict is judged
    against the latest time) but is no change."""
    return replaces(new, current) and (
        current is None or (new.status, new.final) != (current.status, current.final)
    )


def announces(
    new: DecisionEntry, current: DecisionEntry | None, announced: tuple[str, bool] | None
) -> bool:
    """Whether ``new``'s decision handlers run (:attr:`DecisionTicket.changes`): ``new`` is the
    verification's latest known verdict -- it :func:`replaces` the row's ``current`` entry, or it
    *is* that entry (the retry of a delivery whose handlers failed, which left it there) -- and
    its status and finality differ from what the decision handlers were last told
    (``announced``). A replay of a delivery whose verdict was announced changes nothing; the
    same verdict again with a later time replaces the entry silently."""
    latest = replaces(new, current) or (
        current is not None and current.delivery_id == new.delivery_id
    )
    return latest and (new.status, new.final) != announced


def decision_time(entry: DecisionEntry) -> datetime:
    """The time ``decisions_for_client`` orders by: ``occurred_at``, else ``received_at``."""
    return entry.occurred_at if entry.occurred_at is not None else entry.received_at


@dataclass(frozen=True)
class DecisionTicket:
    """The subject lease :meth:`Store.begin_decision` hands out: while it is held, no other
    delivery of the same ``(vendor, subject)`` can begin a decision, so decision handlers run
    once per real change. ``previous`` is the verification's latest known entry; ``changes``
    says whether the decision handlers run for ``entry`` (:func:`announces`: it is the latest
    known verdict, and not the one they were last told about)."""

    entry: DecisionEntry
    previous: DecisionEntry | None
    changes: bool
    token: str = field(repr=False)


@runtime_checkable
class Store(Protocol):
    """What the receiver needs from a delivery store. Every method is atomic and thread-safe.

    Implementations: :class:`~kyc_webhooks.store.MemoryStore` (one process),
    :class:`~kyc_webhooks.store.SQLiteStore` (several processes on one host),
    :class:`~kyc_webhooks.store.PostgresStore` (several hosts) and the Django app's
    ``DjangoStore`` (the project's own database).

    Besides the deliveries, a store keeps the *decision ledger*: the latest known
    :class:`DecisionEntry` of each verification ``(vendor, subject)``, the verdict its decision
    handlers were last told about (the *announced* verdict), and a short *subject lease*
    (:meth:`begin_decision`) that serialises the deliveries of one subject, so that decision
    handlers run once per real change of the effective decision (docs/decisions.md).

    Two rules every implementation keeps (tests/test_store_contract.py checks both):

    * every ``str`` it is given -- keys, vendor, event type, header names and values, error
      texts, ids to look up -- is accepted and read back **exactly**, whatever it holds (a lone
      surrogate such as ``"\\udcff"``, NUL, any plane). A database whose text type cannot hold
      such a value encodes it injectively (two different values never become equal);
    * a failure of the store -- the database unreachable, locked, full or corrupt, a stored row
      that does not decode -- raises :class:`~kyc_webhooks.errors.StoreError` (the receiver
      answers 503), never another exception. :class:`~kyc_webhooks.errors.UsageError` remains for
      calls made the wrong way. Two exceptions, so that one malformed row cannot stop the queue
      or hide the others: ``claim_next`` sets such a row aside and goes on, and ``deliveries``
      skips it (logging its id).
    """

    #: True when calls may block on I/O; async receivers then run them in a worker thread.
    blocking: bool

    def now(self) -> datetime:
        """The store's clock (aware). Leases, received times and retention use it."""
        ...

    def add(
        self,
        delivery: NewDelivery,
        *,
        lease: float | None = None,
        decision: Decision | None = None,
    ) -> Added:
        """Store ``delivery`` unless its ``delivery_key`` is stored already (the existing record is
        never changed). With ``lease``, also claim the record if it is claimable (new, pending,
        failed, or processing with an expired lease) -- in the same atomic step.

        With ``lease`` and ``decision`` (the verdict the delivery carries), a store may also take
        the subject lease of ``ledger_entry(decision, record)`` in that step, exactly as
        :meth:`begin_decision` would with the same ``lease`` right after the claim, and report it
        in :attr:`Added.ticket` / :attr:`Added.subject_busy`. A store may ignore ``decision``
        (leave both unset): the caller then calls :meth:`begin_decision`. One step saves a
        commit per delivery that carries a verdict."""
        ...

    def claim(self, delivery_id: str, *, lease: float, replay: bool = False) -> Claim | None:
        """Claim one record; ``None`` when it is not claimable (done, or a live lease). With
        ``replay`` a done record is claimable too (unless another replay holds it); it stays
        ``done`` while the replay runs. Unknown id: ``DeliveryNotFoundError``."""
        ...

    def claim_next(
        self,
        *,
        lease: float,
        max_attempts: int | None = None,
        vendors: Collection[str] | None = None,
    ) -> Claim | None:
        """Claim the oldest claimable record (pending, failed past its ``not_before``, or
        processing with an expired lease) with fewer than ``max_attempts`` attempts, of one of
        ``vendors``; ``None`` when there is none. In the same atomic step, a ``processing`` record
        whose lease expired with ``max_attempts`` attempts or more (every attempt crashed) becomes
        ``failed`` with ``last_error_type`` ``"LeaseExpired"``.

        A candidate row that does not decode does not stop it: in the same transaction it becomes
        ``failed`` with ``last_error_type`` ``"MalformedRecord"`` (:data:`MALFORMED_RECORD`; a
        message naming the column or the kind of fault, never a value), is never claimed by
        ``claim_next`` again, and the next row is tried -- at most
        :data:`MALFORMED_RECORDS_PER_CLAIM` such rows per call (then ``None``; the next call goes
        on). Nor is a record that failed because its body was erased (``"BodyErasedError"``,
        :data:`BODY_ERASED`: retention or ``forget``): no retry can handle it
        (:data:`NEVER_RETRIED`)."""
        ...

    def complete(self, claim: Claim, *, decision: DecisionTicket | None = None) -> bool:
        """Mark the claimed record done (a replay also counts in ``replays``). ``False`` when the
        claim was lost (its lease expired and another worker claimed the record).

        With ``decision`` (a ticket of this claim's :meth:`begin_decision`), in the same atomic
        step: the entry becomes the verification's latest known entry when it still
        :func:`replaces` the stored one (re-judged: the subject lease may have expired and
        another delivery changed the row meanwhile); when ``decision.changes`` (its decision
        handlers ran) and the entry is then the latest known one -- written now, or stored
        already by a failed attempt of the same delivery (:meth:`abort_decision`) -- its
        ``(status, final)`` becomes the verdict the row's decision handlers were last told
        about (the *announced* verdict); the subject lease is released if the ticket still
        holds it. A lost claim changes neither."""
        ...

    def fail(
        self,
        claim: Claim,
        *,
        error_type: str,
        error_message: str,
        retry_at: datetime | None = None,
        count_attempt: bool = True,
    ) -> bool:
        """Release the claim after a failed attempt: state ``failed`` (a record that is ``done``
        -- the claim was a replay of it -- stays ``done``), error recorded, ``claim_next`` waits
        until ``retry_at``. ``False`` when the claim was lost.

        ``count_attempt=False``: nothing ran under this claim (another delivery of the same
        verification held the subject lease), so the claim does not count as an attempt:
        ``attempts`` goes back to what it was before the claim, in the same atomic step, and
        ``claim_next(max_attempts=...)`` never gives up on a delivery that only waited. A store
        must honour it (the receiver refuses a store whose ``fail`` does not accept it)."""
        ...

    def get(self, delivery_id: str) -> DeliveryRecord | None:
        """The record with this id, or ``None``."""
        ...

    def get_by_key(self, delivery_key: str) -> DeliveryRecord | None:
        """The record with this ``delivery_key``, or ``None``."""
        ...

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
        """Records filtered by state(s), vendor, event type, received time
        (``since <= received_at < until``) and the start of their id (``id_prefix``: lower-case
        hex digits, as in ids; any other character matches nothing), ordered by received time. A
        row that does not decode is left out (its id logged; ``get(id)`` raises the
        :class:`StoreError` naming it), so that the listing still shows the others."""
        ...

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
        """How many records match the filters of :meth:`deliveries` (no limit), counted by the
        store without reading them; ``with_body`` ``True``/``False``: only records whose body is
        kept/erased. Rows that do not decode count too (``deliveries`` leaves them out), as
        :meth:`purge` and :meth:`erase_bodies` change them: ``count(until=cut, state=s)`` is what
        ``purge(older_than=cut, state=s)`` deletes, ``count(until=cut, with_body=True)`` what
        ``erase_bodies(older_than=cut)`` erases."""
        ...

    def purge(
        self,
        *,
        older_than: TimeLimit,
        state: DeliveryState | str | Collection[DeliveryState | str] | None = None,
    ) -> int:
        """Delete records received before the cut-off (optionally only in ``state``); return how
        many. A purged key is new again for a later redelivery."""
        ...

    def erase(self, delivery_id: str) -> bool:
        """Drop one record's body (the personal data), keeping its metadata. ``False`` for an
        unknown id."""
        ...

    def erase_bodies(self, *, older_than: TimeLimit) -> int:
        """Drop the bodies of records received before the cut-off; return how many were erased."""
        ...

    def stats(self) -> dict[str, int]:
        """Record counts per state, and ``total``."""
        ...

    def close(self) -> None:
        """Release resources; the store must not be used afterwards."""
        ...

    # -- the decision ledger (docs/decisions.md, "The ledger") ----------------------------------

    def begin_decision(
        self, claim: Claim, entry: DecisionEntry, *, lease: float
    ) -> DecisionTicket | None:
        """Take the lease on ``entry``'s subject ``(vendor, subject)`` for ``lease`` seconds and
        say whether ``entry``'s decision handlers run (:attr:`DecisionTicket.changes`,
        :func:`announces`): judged against the row's latest known entry and the verdict its
        decision handlers were last told about. ``None`` when another delivery holds a live
        lease on the subject (the caller retries later), or when ``claim`` is no longer live
        (its lease was lost)."""
        ...

    def abort_decision(self, ticket: DecisionTicket, *, failed: bool = False) -> None:
        """Release the subject lease; nothing happens when the ticket no longer holds it.

        ``failed=False`` (nothing ran: the request was abandoned, the body erased): the ledger
        is unchanged. ``failed=True`` (a handler of the delivery failed; it will be retried):
        in the same atomic step, the ticket's entry becomes the verification's latest known
        entry when it :func:`replaces` the stored one, while the announced verdict stays as it
        was -- so that an older verdict delivered before the retry is judged against this newer
        one and its decision handlers do not run, and the retry's own handlers still do
        (docs/decisions.md). The receiver passes ``failed=True`` only to a store whose
        ``abort_decision`` accepts the keyword (a store written before it still works, as before
        the keyword existed)."""
        ...

    def effective_decision(self, vendor: str, subject: str) -> DecisionEntry | None:
        """The latest known decision of one verification, or ``None``: an entry whose decision
        handlers failed is already returned (its handlers run when its retry succeeds)."""
        ...

    def decisions_for_client(self, client_ref: str, *, limit: int = 100) -> Sequence[DecisionEntry]:
        """The latest known decisions (as :meth:`effective_decision`) whose ``client_ref`` is
        ``client_ref``, newest first (by
        ``occurred_at``, else ``received_at``; :func:`decision_time`)."""
        ...

    def forget_decisions(
        self,
        *,
        client_ref: str | None = None,
        vendor: str | None = None,
        subject: str | None = None,
    ) -> list[str]:
        """Remove one data subject's verifications from the ledger (an erasure request): every
        one whose effective decision has ``client_ref``, or the one ``(vendor, subject)`` --
        exactly one of the two selectors (``subject`` as the ledger keeps it:
        :func:`~kyc_webhooks.decisions.ledger_subject`). Return the ids of the deliveries the
        removed entries came from (their bodies are erased separately: :meth:`erase`), in no
        particular order; ``[]`` when nothing matched.

        All or nothing: when a delivery of one of the selected verifications holds its subject
        lease right now (it is being handled), nothing is removed and
        :class:`~kyc_webhooks.errors.DeliveryInProgressError` is raised -- call again once it is
        done. Erased like ``erase``: no copy is left in the store's files (SQLite) or the
        table's old row versions are vacuumed (PostgreSQL, ``vacuum_on_erase``).

        Added after the other methods: the receiver never calls it, so a store without it still
        works with a receiver (:func:`receivable`)."""
        ...

    def purge_decisions(self, *, older_than: TimeLimit) -> int:
        """Remove the ledger entries that came from deliveries received before the cut-off (the
        entry's ``received_at``), and the ledger's rows of verifications that never got an entry
        whose subject lease ended before it; return how many entries were removed. A row whose
        subject lease is live (a delivery of it is being handled) stays, whatever its age: the
        next call takes it once it is old enough. Erased like :meth:`forget_decisions`.

        A verification whose entry was purged has no effective decision: a later delivery of it
        is judged against nothing (docs/decisions.md, "Retention of the ledger").
        Added after the other methods, as :meth:`forget_decisions`."""
        ...


#: The ledger methods were first specified apart from :class:`Store`; they are part of it now.
DecisionLedger = Store

#: :class:`Store` methods added after third-party stores existed, which the receiver never calls:
#: a store without them still works with a receiver; what calls them (``Decisions.forget``,
#: ``kyc-webhooks inbox forget``) says that the store lacks them.
LATER_METHODS = frozenset({"count", "forget_decisions", "purge_decisions"})


def receivable(store: object) -> bool:
    """Whether ``store`` has every member of :class:`Store` the receiver uses (all but
    :data:`LATER_METHODS`): ``isinstance(store, Store)`` would refuse a store written before
    those were added."""
    if isinstance(store, Store):
        return True
    members = {name for name in dir(Store) if not name.startswith("_")} | set(Store.__annotations__)
    return all(hasattr(store, name) for name in members - LATER_METHODS)


def each_delivery(
    store: Store, *, state: DeliveryState | str | Collection[DeliveryState | str], page: int = 500
) -> Iterator[DeliveryRecord]:
    """Every record in ``state``, oldest first, read ``page`` at a time as the caller goes (memory
    stays bounded whatever the store holds). A record the caller changes keeps its place before
    the next page; the ids already read at a page's last received time are skipped when the next
    page starts there."""
    since: datetime | None = None
    seen: set[str] = set()  # ids read with received_at == since
    size = page
    while True:
        records = store.deliveries(state=state, since=since, limit=size)
        fresh = [r for r in records if r.id not in seen]
        if not fresh:
            if len(records) < size:
                return
            # A full page of records received at the same instant, all read already: the next
            # ones share it too (a coarse or frozen clock). Read a larger page from the same time.
            size *= 2
            continue
        size = page
        last = records[-1].received_at
        same = {r.id for r in records if r.received_at == last}
        seen = (seen | same) if last == since else same
        since = last
        yield from fresh


def check_forget_args(client_ref: object, vendor: object, subject: object) -> None:
    """What every store's ``forget_decisions`` checks: one selector, a ``client_ref`` or a
    ``vendor`` and ``subject``, each a ``str``."""
    if client_ref is not None:
        if vendor is not None or subject is not None:
            raise UsageError("forget_decisions() takes client_ref, or vendor and subject: not both")
        if not isinstance(client_ref, str) or not client_ref:
            # "" is what no person is called: the ledger keeps it for verdicts without one
            raise UsageError("client_ref must be a non-empty str")
        return
    if not isinstance(vendor, str) or not isinstance(subject, str):
        raise UsageError("forget_decisions() takes client_ref=..., or vendor=... and subject=...")
    if not subject:
        raise UsageError("subject must be a non-empty str")


#: What ``forget_decisions`` raises (as DeliveryInProgressError) when a selected verification's
#: subject lease is live.
FORGET_BUSY = (
    "a delivery of a verification to forget is being handled right now; nothing was forgotten: "
    "call again once it is done"
)
