"""MemoryStore: the store protocol over a dict, for tests and single-process services.

Exactly-once holds across the threads of one process; nothing survives a restart, so a crashed
process loses its pending deliveries. Use :class:`~kyc_webhooks.store.SQLiteStore` when that
matters.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ..decisions import Decision, ledger_entry
from ..errors import DeliveryInProgressError, DeliveryNotFoundError, UsageError
from ._base import (
    FORGET_BUSY,
    LEASE_EXPIRED,
    LEASE_EXPIRED_MESSAGE,
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
    decision_time,
    id_prefix_can_match,
    new_id,
    replaces,
    utc_now,
)

__all__ = ["MemoryStore"]


@dataclass
class _Slot:
    record: DeliveryRecord
    token: str | None = None


@dataclass
class _Subject:
    """One verification in the decision ledger: its latest known entry, the verdict its decision
    handlers were last told about, and its subject lease."""

    entry: DecisionEntry | None = None
    #: ``(status, final)`` of the last verdict whose decision handlers ran; ``None``: none yet.
    announced: tuple[str, bool] | None = None
    lease_token: str | None = None
    lease_until: datetime | None = None


class MemoryStore:
    """In-process store. ``clock`` returns the current aware ``datetime`` (injectable for tests)."""

    blocking = False

    def __init__(self, *, clock: Clock | None = None) -> None:
        check_clock(clock)
        self._clock: Clock = clock if clock is not None else utc_now
        self._lock = threading.Lock()
        self._by_id: dict[str, _Slot] = {}
        self._by_key: dict[str, str] = {}
        self._subjects: dict[tuple[str, str], _Subject] = {}

    def __repr__(self) -> str:
        return f"MemoryStore(records={len(self._by_id)})"

    def now(self) -> datetime:
        return checked_now(self._clock)

    # -- claims ------------------------------------------------------------------------------

    def _take(
        self, slot: _Slot, now: datetime, lease: float, *, replay: bool, new: bool = False
    ) -> Claim:
        token = new_id()
        previous = slot.record.state
        slot.record = replace(
            slot.record,
            # A replay of a done record keeps it done: the lease alone marks the replay.
            state=DeliveryState.DONE
            if previous is DeliveryState.DONE
            else DeliveryState.PROCESSING,
            lease_until=now + timedelta(seconds=lease),
            # A claim ends the back-off of an earlier failure: should this worker die, the record
            # is taken over once the lease expires, not when the old back-off ends.
            not_before=None,
            attempts=slot.record.attempts + 1,
            updated_at=now,
        )
        slot.token = token
        return Claim(slot.record, token, replay, DeliveryState.PENDING if new else previous)

    def add(
        self,
        delivery: NewDelivery,
        *,
        lease: float | None = None,
        decision: Decision | None = None,
    ) -> Added:
        if not isinstance(delivery, NewDelivery):
            raise UsageError("add() takes a NewDelivery")
        check_lease(lease)
        if decision is not None and not isinstance(decision, Decision):
            raise UsageError("add(decision=...) takes a Decision")
        now = self.now()
        with self._lock:
            existing = self._by_key.get(delivery.delivery_key)
            if existing is not None:
                slot = self._by_id[existing]
                if lease is None or not claimable(
                    slot.record.state, slot.record.lease_until, now, replay=False
                ):
                    return Added(slot.record, False)
                claim = self._take(slot, now, lease, replay=False)
                return self._added(claim, False, decision, now, lease)
            record = DeliveryRecord(
                id=new_id(),
                delivery_key=delivery.delivery_key,
                vendor=delivery.vendor,
                event_type=delivery.event_type,
                state=DeliveryState.PENDING,
                received_at=now,
                updated_at=now,
                body=delivery.body,
                headers=tuple(delivery.headers),
            )
            slot = _Slot(record)
            self._by_id[record.id] = slot
            self._by_key[record.delivery_key] = record.id
            if lease is None:
                return Added(slot.record, True)
            claim = self._take(slot, now, lease, replay=False, new=True)
            return self._added(claim, True, decision, now, lease)

    def _added(
        self, claim: Claim, created: bool, decision: Decision | None, now: datetime, lease: float
    ) -> Added:
        """What ``add`` answers for a claim: with ``decision``, the subject lease is taken in the
        same step, exactly as :meth:`begin_decision` would (the caller holds ``_lock``)."""
        if decision is None:
            return Added(claim.record, created, claim)
        ticket = self._lease_subject(ledger_entry(decision, claim.record), now, lease)
        return Added(claim.record, created, claim, ticket, subject_busy=ticket is None)

    def claim(self, delivery_id: str, *, lease: float, replay: bool = False) -> Claim | None:
        check_lease(lease)
        now = self.now()
        with self._lock:
            slot = self._by_id.get(delivery_id)
            if slot is None:
                raise DeliveryNotFoundError("no stored delivery has this id")
            if not claimable(slot.record.state, slot.record.lease_until, now, replay=replay):
                return None
            return self._take(slot, now, lease, replay=replay)

    def claim_next(
        self,
        *,
        lease: float,
        max_attempts: int | None = None,
        vendors: Collection[str] | None = None,
    ) -> Claim | None:
        check_lease(lease)
        now = self.now()
        with self._lock:
            if max_attempts is not None:
                self._fail_exhausted(now, max_attempts, vendors)
            candidates = [
                slot
                for slot in self._by_id.values()
                if claimable(slot.record.state, slot.record.lease_until, now, replay=False)
                and (max_attempts is None or slot.record.attempts < max_attempts)
                and (vendors is None or slot.record.vendor in vendors)
                and (
                    slot.record.state is not DeliveryState.FAILED  # only a failure backs off
                    or (
                        (slot.record.not_before is None or slot.record.not_before <= now)
                        and slot.record.last_error_type not in NEVER_RETRIED
                    )
                )
            ]
            if not candidates:
                return None
            slot = min(candidates, key=lambda s: (s.record.received_at, s.record.id))
            return self._take(slot, now, lease, replay=False)

    def _fail_exhausted(
        self, now: datetime, max_attempts: int, vendors: Collection[str] | None
    ) -> None:
        """Processing records whose lease expired after ``max_attempts`` attempts become failed
        (every attempt crashed): visible to operators instead of ``processing`` forever."""
        for slot in self._by_id.values():
            record = slot.record
            if (
                record.state is DeliveryState.PROCESSING
                and record.attempts >= max_attempts
                and (record.lease_until is None or record.lease_until <= now)
                and (vendors is None or record.vendor in vendors)
            ):
                slot.record = replace(
                    record,
                    state=DeliveryState.FAILED,
                    lease_until=None,
                    not_before=None,
                    updated_at=now,
                    last_error_type=LEASE_EXPIRED,
                    last_error_message=LEASE_EXPIRED_MESSAGE,
                )
                slot.token = None

    def _holder(self, claim: Claim) -> _Slot | None:
        slot = self._by_id.get(claim.record.id)
        if slot is None or slot.token is None or slot.token != claim.token:
            return None
        return slot

    def complete(self, claim: Claim, *, decision: DecisionTicket | None = None) -> bool:
        if decision is not None and not isinstance(decision, DecisionTicket):
            raise UsageError("complete(decision=...) takes a DecisionTicket")
        now = self.now()
        with self._lock:
            slot = self._holder(claim)
            if slot is None:
                return False
            if decision is not None:
                self._settle(decision)
            slot.record = replace(
                slot.record,
                state=DeliveryState.DONE,
                lease_until=None,
                not_before=None,
                finished_at=now,
                updated_at=now,
                replays=slot.record.replays + (1 if claim.replay else 0),
            )
            slot.token = None
            return True

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
        with self._lock:
            slot = self._holder(claim)
            if slot is None:
                return False
            # The stored state, not the worker's memory: a replay of a done record left it done.
            keep_done = slot.record.state is DeliveryState.DONE
            attempts = slot.record.attempts
            slot.record = replace(
                slot.record,
                state=DeliveryState.DONE if keep_done else DeliveryState.FAILED,
                # Nothing ran under the claim: its attempt is given back.
                attempts=attempts if count_attempt else max(attempts - 1, 0),
                lease_until=None,
                not_before=None if keep_done else retry_at,
                updated_at=now,
                last_error_type=error_type,
                last_error_message=error_message,
            )
            slot.token = None
            return True

    # -- the decision ledger -------------------------------------------------------------------

    def begin_decision(
        self, claim: Claim, entry: DecisionEntry, *, lease: float
    ) -> DecisionTicket | None:
        check_decision_args(claim, entry, lease)
        now = self.now()
        with self._lock:
            if self._holder(claim) is None:
                return None
            return self._lease_subject(entry, now, lease)

    def _lease_subject(
        self, entry: DecisionEntry, now: datetime, lease: float
    ) -> DecisionTicket | None:
        """Take ``entry``'s subject lease; ``None`` while another holds it (the caller holds
        ``_lock`` and a live claim)."""
        subject = self._subjects.setdefault((entry.vendor, entry.subject), _Subject())
        if self._leased(subject, now):
            return None
        token = new_id()
        subject.lease_token = token
        subject.lease_until = now + timedelta(seconds=lease)
        current = subject.entry
        return DecisionTicket(entry, current, announces(entry, current, subject.announced), token)

    def _settle(self, ticket: DecisionTicket) -> None:
        """Apply a ticket (the caller holds ``_lock`` and the ticket's live claim)."""
        subject = self._subjects.setdefault((ticket.entry.vendor, ticket.entry.subject), _Subject())
        # Re-checked against the entry now stored: if the subject lease expired meanwhile and
        # another delivery changed the ledger, a stale entry still never wins.
        entry, current = ticket.entry, subject.entry
        newer = replaces(entry, current)
        if newer:
            subject.entry = entry
        # Its decision handlers ran: they were last told this verdict -- unless it is no longer
        # the latest known one (its subject lease expired and a newer verdict came meanwhile).
        # The same delivery as the stored entry: the retry of an attempt that failed.
        if ticket.changes and (
            newer or (current is not None and current.delivery_id == entry.delivery_id)
        ):
            subject.announced = (entry.status, entry.final)
        if subject.lease_token == ticket.token:
            subject.lease_token = subject.lease_until = None

    def abort_decision(self, ticket: DecisionTicket, *, failed: bool = False) -> None:
        if not isinstance(ticket, DecisionTicket):
            raise UsageError("abort_decision() takes a DecisionTicket")
        with self._lock:
            subject = self._subjects.get((ticket.entry.vendor, ticket.entry.subject))
            if subject is not None and subject.lease_token == ticket.token:
                # A failed attempt: the newer verdict is known from now on (an older one
                # delivered before the retry is judged against it); not announced.
                if failed and replaces(ticket.entry, subject.entry):
                    subject.entry = ticket.entry
                subject.lease_token = subject.lease_until = None

    def effective_decision(self, vendor: str, subject: str) -> DecisionEntry | None:
        with self._lock:
            found = self._subjects.get((vendor, subject))
            return found.entry if found is not None else None

    def decisions_for_client(self, client_ref: str, *, limit: int = 100) -> Sequence[DecisionEntry]:
        check_limit(limit)
        with self._lock:
            entries = [
                s.entry
                for s in self._subjects.values()
                if s.entry is not None and s.entry.client_ref == client_ref
            ]
        entries.sort(key=lambda e: (decision_time(e), e.received_at, e.delivery_id), reverse=True)
        return entries[:limit]

    def forget_decisions(
        self,
        *,
        client_ref: str | None = None,
        vendor: str | None = None,
        subject: str | None = None,
    ) -> list[str]:
        check_forget_args(client_ref, vendor, subject)
        now = self.now()
        with self._lock:
            if client_ref is not None:
                keys = [
                    key
                    for key, s in self._subjects.items()
                    if s.entry is not None and s.entry.client_ref == client_ref
                ]
            else:
                assert vendor is not None
                assert subject is not None
                keys = [(vendor, subject)] if (vendor, subject) in self._subjects else []
            if any(self._leased(self._subjects[key], now) for key in keys):
                raise DeliveryInProgressError(FORGET_BUSY)
            forgotten = [self._subjects.pop(key).entry for key in keys]
        return [entry.delivery_id for entry in forgotten if entry is not None]

    def purge_decisions(self, *, older_than: TimeLimit) -> int:
        now = self.now()
        limit = cutoff(older_than, now)
        with self._lock:
            doomed = [
                key
                for key, s in self._subjects.items()
                if not self._leased(s, now)
                and (
                    s.entry.received_at < limit
                    if s.entry is not None
                    else s.lease_until is None or s.lease_until < limit
                )
            ]
            removed = [self._subjects.pop(key).entry for key in doomed]
        return sum(1 for entry in removed if entry is not None)

    @staticmethod
    def _leased(subject: _Subject, now: datetime) -> bool:
        """Whether a delivery of the verification holds its subject lease at ``now``."""
        return (
            subject.lease_token is not None
            and subject.lease_until is not None
            and subject.lease_until > now
        )

    # -- reading -----------------------------------------------------------------------------

    def get(self, delivery_id: str) -> DeliveryRecord | None:
        slot = self._by_id.get(delivery_id)
        return slot.record if slot is not None else None

    def get_by_key(self, delivery_key: str) -> DeliveryRecord | None:
        with self._lock:
            found = self._by_key.get(delivery_key)
            return self._by_id[found].record if found is not None else None

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
        chosen = self._matching(state, vendor, event_type, since, until, id_prefix, None)
        chosen.sort(key=lambda r: (r.received_at, r.id), reverse=newest_first)
        return chosen[:limit]

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
        check_with_body(with_body)
        return len(self._matching(state, vendor, event_type, since, until, id_prefix, with_body))

    def _matching(
        self,
        state: DeliveryState | str | Collection[DeliveryState | str] | None,
        vendor: str | None,
        event_type: str | None,
        since: datetime | None,
        until: datetime | None,
        id_prefix: str | None,
        with_body: bool | None,
    ) -> list[DeliveryRecord]:
        """The records ``deliveries``/``count`` select, unordered."""
        states = check_states(state)
        if since is not None:
            check_aware(since, "since")
        if until is not None:
            check_aware(until, "until")
        if not id_prefix_can_match(id_prefix):
            return []
        with self._lock:
            records = [slot.record for slot in self._by_id.values()]
        return [
            r
            for r in records
            if (states is None or r.state in states)
            and (vendor is None or r.vendor == vendor)
            and (event_type is None or r.event_type == event_type)
            and (since is None or r.received_at >= since)
            and (until is None or r.received_at < until)
            and (id_prefix is None or r.id.startswith(id_prefix))
            and (with_body is None or (r.body is not None) == with_body)
        ]

    def stats(self) -> dict[str, int]:
        with self._lock:
            counts = {state.value: 0 for state in DeliveryState}
            for slot in self._by_id.values():
                counts[slot.record.state.value] += 1
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
        with self._lock:
            doomed = [
                slot.record
                for slot in self._by_id.values()
                if slot.record.received_at < limit
                and (states is None or slot.record.state in states)
            ]
            for record in doomed:
                del self._by_id[record.id]
                del self._by_key[record.delivery_key]
        return len(doomed)

    def erase(self, delivery_id: str) -> bool:
        now = self.now()
        with self._lock:
            slot = self._by_id.get(delivery_id)
            if slot is None:
                return False
            if slot.record.body is not None:
                slot.record = replace(slot.record, body=None, body_erased_at=now, updated_at=now)
            return True

    def erase_bodies(self, *, older_than: TimeLimit) -> int:
        now = self.now()
        limit = cutoff(older_than, now)
        erased = 0
        with self._lock:
            for slot in self._by_id.values():
                if slot.record.received_at < limit and slot.record.body is not None:
                    slot.record = replace(
                        slot.record, body=None, body_erased_at=now, updated_at=now
                    )
                    erased += 1
        return erased

    def close(self) -> None:
        """Nothing to release."""
