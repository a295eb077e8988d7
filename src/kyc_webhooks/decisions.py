"""One verdict across vendors: :class:`Decision` and :class:`DecisionStatus`.

Every vendor says "approved" in its own words: iDenfy in ``status.overall`` plus a ``final`` flag,
ComplyCube in the event type or the check's ``outcome``, Identomat in ``result``, and Yoti not at
all (the result must be fetched). ``event.decision`` maps each event that carries a verdict onto
one small vocabulary, keeps the typed event it came from, and says :attr:`DecisionStatus.UNKNOWN`
rather than guess when a vendor sends a value this version does not know.

The mapping of each vendor lives beside its models, in ``<vendor>/_decisions.py`` (a function
``decide(event) -> Decision | None``); docs/decisions.md shows the tables and the reasons for each
judgement call.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timezone
from typing import TYPE_CHECKING, Any

# The vocabulary of a verdict lives in ``_decision``, below the vendor rules that this module looks
# up by name (they are written with it); importable from here, as it always was.
from ._decision import SECRET_SUBJECT_VENDORS as SECRET_SUBJECT_VENDORS
from ._decision import Decision as Decision
from ._decision import DecisionStatus as DecisionStatus
from ._decision import References as References
from ._decision import body_field as body_field
from ._decision import codes as codes
from ._decision import ledger_subject as ledger_subject
from ._decision import lookup as lookup
from ._decision import texts as texts
from ._decision import wire as wire
from ._headers import Headers
from ._registry import VENDOR_NAMES, vendor_class
from ._vendor import body_bytes
from .errors import UsageError

if TYPE_CHECKING:
    from .models import WebhookEvent
    from .store._base import DecisionEntry, DeliveryRecord, Store

__all__ = ["Decision", "DecisionStatus", "Decisions", "Erasure", "decide"]

logger = logging.getLogger("kyc_webhooks")


#: ``(vendor, name) -> function`` of ``kyc_webhooks.<vendor>._decisions`` (``None``: it has none).
_VENDOR_FUNCTIONS: dict[tuple[str, str], Callable[[Any], Any] | None] = {}


def _vendor_function(vendor: str, name: str) -> Callable[[Any], Any] | None:
    """Function ``name`` (``decide``, ``references``) of the vendor's ``_decisions`` module,
    imported once; ``None`` for a vendor without one."""
    key = (vendor, name)
    if key not in _VENDOR_FUNCTIONS:
        try:
            module = importlib.import_module(f"kyc_webhooks.{vendor}._decisions")
            _VENDOR_FUNCTIONS[key] = getattr(module, name)
        except (ImportError, AttributeError):
            _VENDOR_FUNCTIONS[key] = None
    return _VENDOR_FUNCTIONS[key]


def references(event: WebhookEvent) -> References:
    """:class:`References` of ``event``, from its vendor package's ``references(event)``; the
    verdict's own ``client_ref`` and ``subject`` are always among them. Never raises for what a
    body holds: a verdict that cannot be computed adds nothing."""
    vendor = event.vendor
    finder = _vendor_function(vendor, "references")
    if finder is None:
        return References()
    try:
        found: References = finder(event)
    except Exception:  # a body shape the vendor's reading did not foresee: its verdict still counts
        found = References()
    try:
        decision = event.decision
    except Exception:  # a verdict mapping that fails on this body: the fields still count
        decision = None
    if decision is None:
        return found
    return References(
        found.client_refs | texts(decision.client_ref),
        found.subjects | {ledger_subject(vendor, decision.subject)},
    )


def decide(event: WebhookEvent) -> Decision | None:
    """The :class:`Decision` ``event`` carries, or ``None`` (what ``event.decision`` returns).

    Looks up ``decide`` in the event's vendor package (``kyc_webhooks.<vendor>._decisions``); an
    event of a vendor without a mapping, or of an unknown event type, carries no decision."""
    decider = _vendor_function(event.vendor, "decide")
    if decider is None:
        return None
    decision: Decision | None = decider(event)
    return decision


# -- the ledger (docs/decisions.md, "The ledger") ----------------------------------------------


def ledger_entry(decision: Decision, record: DeliveryRecord) -> DecisionEntry:
    """The ledger entry of ``decision``, from the stored delivery ``record`` it came with."""
    from .store._base import DecisionEntry

    occurred = decision.occurred_at
    if occurred is not None and (occurred.tzinfo is None or occurred.utcoffset() is None):
        occurred = None  # a time without an offset cannot be ordered against others
    elif occurred is not None:
        try:
            # Stores keep UTC (DjangoStore, PostgreSQL): a time that has none (9999-12-31T23:59
            # at -23:59 is in year 10000) would fail every write or read of the subject.
            occurred.astimezone(timezone.utc)
        except OverflowError:
            occurred = None
    return DecisionEntry(
        vendor=decision.vendor,
        subject=ledger_subject(decision.vendor, decision.subject),
        status=decision.status.value,
        final=decision.final,
        delivery_id=record.id,
        event_type=decision.event_type,
        received_at=record.received_at,
        occurred_at=occurred,
        client_ref=decision.client_ref,
        reasons=decision.reasons,
        fetch_required=decision.fetch_required,
    )


def from_entry(entry: DecisionEntry, subject: str | None = None) -> Decision:
    """A :class:`Decision` rebuilt from a ledger entry (``event`` is ``None``); ``subject``
    replaces the stored digest of a secret subject when the caller knows the subject."""
    try:
        status = DecisionStatus(entry.status)
    except ValueError:  # written by a newer version: never a guess
        status = DecisionStatus.UNKNOWN
    secret = entry.vendor in SECRET_SUBJECT_VENDORS
    return Decision(
        status=status,
        final=entry.final,
        vendor=entry.vendor,
        event_type=entry.event_type,
        subject=subject if subject is not None and secret else entry.subject,
        client_ref=entry.client_ref,
        reasons=entry.reasons,
        occurred_at=entry.occurred_at,
        fetch_required=entry.fetch_required,
        subject_is_secret=secret,
    )


#: How many entries of one ``client_ref`` :meth:`Decisions.forget` looks at: all of them.
_EVERY = 1_000_000


#: Every state a stored delivery can be in (the store's ``DeliveryState`` values), and those
#: not handled yet.
_ALL_STATES = ("pending", "processing", "done", "failed")
_UNHANDLED = ("pending", "processing", "failed")
#: Records read at a time by an erasure's scan: bodies are up to the size cap (1 MiB by default).
_SCAN_PAGE = 100
_FORGET_HANDLING = (
    "a delivery of the person is being handled right now; nothing was erased: call again once "
    "it is done"
)
#: Seconds ``forget`` may hold the claims of the person's unhandled deliveries: each is given
#: back as soon as its body is erased (those are erased first), so this only bounds how long a
#: ``forget`` that crashed keeps them from a worker.
_FORGET_LEASE = 600.0
#: How ``forget`` gives those claims back when another delivery of the person turned out to be
#: handled meanwhile (erased ones: as the worker's attempt would, ``BODY_ERASED``).
_UNTOUCHED = ("ErasureInterrupted", "held by an erasure request that stopped; nothing ran")


@dataclass(frozen=True)
class Erasure:
    """What :meth:`Decisions.forget` would erase now (:meth:`Decisions.erasure`): the ledger
    entries it would remove -- the selected person's or verification's, and those of every
    verification of the person found in the stored bodies -- and the ids of the deliveries whose
    bodies it would erase."""

    entries: list[DecisionEntry]
    deliveries: list[str]


@dataclass(frozen=True)
class _Found:
    """What a scan of the stored bodies found: the deliveries' ids (in the order read), their
    records without bodies, the (vendor, subject) pairs of the person's verifications, and the
    ledger entries of the selector and of those verifications."""

    ids: list[str]
    records: list[DeliveryRecord]
    subjects: set[tuple[str, str]]
    entries: list[DecisionEntry]


def _without_body(record: DeliveryRecord) -> DeliveryRecord:
    """``record`` without its body and headers: a scan keeps only what it decides on."""
    return dataclasses.replace(record, body=b"", headers=())


def _stored_references(record: DeliveryRecord) -> References | None:
    """:class:`References` of the stored body of ``record`` (authenticated when it arrived), or
    ``None``: an erased body, or a body that no longer parses."""
    if record.body is None or record.vendor not in VENDOR_NAMES:
        return None
    # The vendor package's ``parse_unauthenticated`` (the store wrote the vendor's name): its
    # models' parsing step, no credentials needed.
    models = vendor_class(record.vendor).models()
    try:
        event = models.parse_event(body_bytes(record.body), Headers(record.headers))
    except Exception:  # a body that no longer parses (a later version's stricter model)
        return None
    found: References = references(event)
    return found


class Decisions:
    """The effective decisions a receiver's store keeps (``receiver.decisions``).

    Decisions read here are rebuilt from the ledger: ``event`` is ``None`` (the stored body may
    be erased long before the decision is read; fetch the delivery with ``store.get`` by the
    entry's delivery id when you need it)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"Decisions({self.store!r})"

    def latest(self, vendor: str, subject: str) -> Decision | None:
        """The latest known decision of one verification (``vendor``'s reference ``subject``),
        or ``None`` when none was recorded. A verdict whose decision handlers failed is already
        returned: its handlers run when its retry succeeds (docs/decisions.md)."""
        if not isinstance(vendor, str) or not isinstance(subject, str):
            # None or a number was an AttributeError from the subject's hashing, or no answer.
            raise UsageError("latest() takes the vendor and the subject as str")
        entry = self.store.effective_decision(vendor, ledger_subject(vendor, subject))
        return from_entry(entry, subject) if entry is not None else None

    def for_client(self, client_ref: str, *, limit: int = 100) -> list[Decision]:
        """The latest known decisions (as :meth:`latest`) of every verification whose
        ``client_ref`` (your id, echoed back by the vendor) is ``client_ref``, newest first (the
        vendor's time, else the time received)."""
        if not isinstance(client_ref, str):
            raise UsageError("for_client() takes the client_ref as str")
        return [
            from_entry(entry) for entry in self.store.decisions_for_client(client_ref, limit=limit)
        ]

    def entries(
        self,
        *,
        client_ref: str | None = None,
        vendor: str | None = None,
        subject: str | None = None,
    ) -> list[DecisionEntry]:
        """The ledger entries :meth:`forget` would remove now, each naming the delivery it came
        from: those of ``client_ref`` (newest first) or the one of ``vendor``'s ``subject``, then
        those of the person's other verifications found in the stored bodies (an AML
        monitoring's, which carries no ``client_ref``). Exactly one selector, as for
        :meth:`forget`; reads the stored bodies as :meth:`deliveries` does (:meth:`erasure`
        gives both from one reading)."""
        return self.erasure(client_ref=client_ref, vendor=vendor, subject=subject).entries

    def erasure(
        self,
        *,
        client_ref: str | None = None,
        vendor: str | None = None,
        subject: str | None = None,
    ) -> Erasure:
        """What :meth:`forget` would erase now -- :meth:`entries` and :meth:`deliveries` -- from
        one reading of the stored bodies: what a dry run shows."""
        found = self._scan(client_ref, vendor, subject, _ALL_STATES)
        return Erasure(found.entries, found.ids)

    def _selected_entries(
        self, client_ref: str | None, vendor: str | None, subject: str | None
    ) -> list[DecisionEntry]:
        """The entries the selector names itself: ``client_ref``'s, or ``vendor``'s ``subject``."""
        if client_ref is not None:
            return list(self.store.decisions_for_client(client_ref, limit=_EVERY))
        assert vendor is not None
        assert subject is not None
        entry = self.store.effective_decision(vendor, ledger_subject(vendor, subject))
        return [] if entry is None else [entry]

    def deliveries(
        self,
        *,
        client_ref: str | None = None,
        vendor: str | None = None,
        subject: str | None = None,
    ) -> list[str]:
        """The ids of one data subject's stored deliveries whose bodies are kept -- handled or
        not, with a verdict or without: the bodies :meth:`forget` erases.

        Each stored body (authenticated when it arrived) is parsed again and matched by what it
        says of whom it is about (:class:`References`): with ``client_ref``, a body that names
        it (iDenfy ``clientId``, ComplyCube's client id), or a verification or resource of it --
        the subject of one of its ledger entries, or one named by a body of the person (iDenfy's
        AML monitoring lists the person's scanRefs without the ``clientId``; a ComplyCube
        ``address.updated`` names only the address); with ``vendor`` and ``subject``, a body of
        that verification. The deliveries the ledger entries name are included while their bodies
        are kept. Reads every stored body, page by page, once -- again as long as a reading
        learnt a new id of the person: an erasure request costs a scan of the store
        (docs/decisions.md, "Forgetting a person")."""
        return self._scan(client_ref, vendor, subject, _ALL_STATES).ids

    def unhandled(
        self,
        *,
        client_ref: str | None = None,
        vendor: str | None = None,
        subject: str | None = None,
    ) -> list[str]:
        """The ids among :meth:`deliveries` not handled yet (pending, processing or failed):
        handled after an erasure, each would act on -- and record in the ledger -- the person
        again; erased by :meth:`forget`, each fails with ``BodyErasedError`` instead."""
        return self._scan(client_ref, vendor, subject, _UNHANDLED).ids

    def _scan(
        self,
        client_ref: str | None,
        vendor: str | None,
        subject: str | None,
        states: tuple[str, ...],
    ) -> _Found:
        from .store._base import check_forget_args, each_delivery

        check_forget_args(client_ref, vendor, subject)
        entries = self._selected_entries(client_ref, vendor, subject)
        wanted = {(e.vendor, e.subject) for e in entries}
        if client_ref is None:
            assert vendor is not None
            assert subject is not None
            wanted.add((vendor, ledger_subject(vendor, subject)))
        found: dict[str, DeliveryRecord] = {}
        # Bounded: each reading but the last learns an id of the person, and a reading learns
        # only ids of bodies it matched, so the store's bodies bound the readings.
        while True:
            learnt = False
            for record in each_delivery(self.store, state=states, page=_SCAN_PAGE):
                if record.id in found:
                    continue
                refs = _stored_references(record)
                if refs is None:
                    continue
                mine = {(record.vendor, s) for s in refs.subjects}
                if not (
                    (client_ref is not None and client_ref in refs.client_refs) or mine & wanted
                ):
                    continue
                found[record.id] = _without_body(record)
                if client_ref is not None and not mine <= wanted:
                    # A body of the person ties its other ids to them (by subject, only that one
                    # verification is forgotten: nothing is learnt).
                    wanted |= mine
                    learnt = True
            if not learnt:
                break
        for entry in entries:  # the ledger's own pointers, while their bodies are kept
            if entry.delivery_id not in found:
                named = self.store.get(entry.delivery_id)
                if named is not None and named.body is not None and named.state in states:
                    found[named.id] = _without_body(named)
        listed = {(e.vendor, e.subject) for e in entries}
        for their_vendor, their_subject in sorted(wanted - listed):
            other = self.store.effective_decision(their_vendor, their_subject)
            if other is not None:
                entries.append(other)
        return _Found(list(found), list(found.values()), wanted, entries)

    def _erase_held(self, scan: _Found) -> None:
        """Erase the bodies of ``scan``, each unhandled delivery under a claim of its own, all
        taken first: the look at the leases above and the erasure were two steps, and a worker
        that claimed a delivery of the person in between ran its handlers on the person's data
        after ``forget`` had returned (review R45). A claim refused now is a delivery being
        handled: :class:`~kyc_webhooks.errors.DeliveryInProgressError`, nothing erased. The
        claimed deliveries are erased first, each claim given back as soon as its body is gone
        (review R46: held for the whole erasure, a claim could expire and a worker take the
        delivery over). A ``done`` delivery is claimed only by a deliberate replay, which the
        look above refused."""
        from .errors import DeliveryInProgressError, DeliveryNotFoundError
        from .store._base import BODY_ERASED, BODY_ERASED_MESSAGE

        store = self.store
        held = []
        erased: set[str] = set()
        try:
            for record in scan.records:
                if record.state == "done":
                    continue
                try:
                    claim = store.claim(record.id, lease=_FORGET_LEASE)
                except DeliveryNotFoundError:  # purged meanwhile: nothing left to erase
                    continue
                if claim is None:
                    raise DeliveryInProgressError(_FORGET_HANDLING)
                held.append(claim)
            while held:
                claim = held[0]
                store.erase(claim.record.id)
                erased.add(claim.record.id)
                kept = store.fail(
                    claim,
                    error_type=BODY_ERASED,
                    error_message=BODY_ERASED_MESSAGE,
                    count_attempt=False,
                )
                held.pop(0)  # given back: a failure above leaves it to the finally block
                if not kept:
                    logger.warning(
                        "forget: delivery_id=%s was taken over by a worker after the erasure's "
                        "hold expired: it may have read the body before it was erased",
                        claim.record.id,
                    )
        finally:
            for claim in held:  # not given back yet: every one, as erased or as taken
                if claim.record.id in erased:
                    error_type, message = BODY_ERASED, BODY_ERASED_MESSAGE
                else:
                    error_type, message = _UNTOUCHED
                try:
                    store.fail(
                        claim, error_type=error_type, error_message=message, count_attempt=False
                    )
                except Exception:  # the first error is the one to raise
                    logger.warning(
                        "forget: could not give back delivery_id=%s; it is taken over once "
                        "its hold expires",
                        claim.record.id,
                    )
        for delivery_id in scan.ids:
            if delivery_id not in erased:
                store.erase(delivery_id)

    def forget(
        self,
        *,
        client_ref: str | None = None,
        vendor: str | None = None,
        subject: str | None = None,
    ) -> list[str]:
        """Erase one data subject (an erasure request, GDPR art. 17): the bodies of every stored
        delivery of the person (:meth:`deliveries`: handled or not, with a verdict or without),
        and the person's verdicts in the ledger -- every verification whose ``client_ref`` is
        ``client_ref``, or the one verification ``vendor`` + ``subject`` (the vendor's reference,
        as for :meth:`latest`). Returns the ids of the deliveries whose bodies were erased.

        A delivery not handled yet is erased too (:meth:`unhandled`): its handlers never run on
        the person's data; it is left ``failed`` with ``BodyErasedError``, which no worker
        takes again. The bodies are erased first, then the entries are removed
        (``store.forget_decisions``), so that a call that fails half-way -- a store error, or
        :class:`~kyc_webhooks.errors.DeliveryInProgressError` while a delivery of one of the
        verifications is being handled -- leaves the entries naming what is left to erase: call
        it again. A delivery of the person being handled right now (a live claim) makes it
        raise :class:`~kyc_webhooks.errors.DeliveryInProgressError` before anything is erased:
        its handler would act on the person after the erasure. The ledger entries of every
        verification whose deliveries it matched go too (an AML monitoring's verdict names no
        ``client_ref``). What it cannot reach (a delivery's metadata, deliveries whose bodies
        name the person in no field it matches, copies outside the store): docs/security.md,
        "Retention and erasure"."""
        forget = getattr(self.store, "forget_decisions", None)
        if forget is None:
            raise UsageError(
                f"{type(self.store).__name__} has no forget_decisions() (a method of the Store "
                "protocol since the ledger could be erased): this store cannot forget decisions"
            )
        scan = self._scan(client_ref, vendor, subject, _ALL_STATES)
        now = self.store.now()
        for record in scan.records:
            # A live lease, whatever the state: a replay of a done delivery runs under one while
            # the record stays done.
            if (record.lease_until is not None and record.lease_until > now) or (
                record.state == "processing" and record.lease_until is None
            ):
                from .errors import DeliveryInProgressError

                raise DeliveryInProgressError(_FORGET_HANDLING)
        # A store that commits its own claims may let an erasure's join the caller's transaction
        # (DjangoStore: forget() inside transaction.atomic() is rolled back with it).
        erasure = getattr(self.store, "erasure", None)
        with erasure() if erasure is not None else contextlib.nullcontext():
            self._erase_held(scan)
        if client_ref is not None:
            removed: list[str] = forget(client_ref=client_ref)
        else:
            assert vendor is not None
            assert subject is not None
            removed = forget(vendor=vendor, subject=ledger_subject(vendor, subject))
        for their_vendor, their_subject in sorted(scan.subjects):
            if self.store.effective_decision(their_vendor, their_subject) is not None:
                removed += forget(vendor=their_vendor, subject=their_subject)
        # A delivery handled since the look above may have replaced an entry.
        later = list(dict.fromkeys(d for d in removed if d not in scan.ids))
        erased = list(scan.ids)
        for delivery_id in later:
            replaced = self.store.get(delivery_id)
            if replaced is not None and replaced.body is not None:
                self.store.erase(delivery_id)
                erased.append(delivery_id)
        return erased
