"""Helpers of the decision-ledger tests on one database (tests/test_ledger_postgres.py and
tests/django_app/app_ledger.py): a claimed delivery, a decision entry for it, and a decision
begun and completed."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime, timedelta, timezone

from kyc_webhooks.store import NewDelivery, Store
from kyc_webhooks.store._base import Claim, DecisionEntry, DecisionTicket

T0 = datetime(2025, 12, 1, 9, 0, 0, tzinfo=timezone.utc)  # before _stores.START
SUBJECT = "scan-ledger"
_keys = itertools.count()


def claimed(store: Store, *, lease: float = 60) -> Claim:
    """A new delivery, claimed."""
    added = store.add(
        NewDelivery(delivery_key=f"key-{next(_keys)}", vendor="idenfy", event_type="T", body=b"{}"),
        lease=lease,
    )
    assert added.claim is not None
    return added.claim


def entry(
    claim: Claim,
    status: str = "APPROVED",
    *,
    final: bool = True,
    occurred: float | None = None,
    subject: str = SUBJECT,
    client_ref: str | None = "client-1",
    vendor: str = "idenfy",
    reasons: tuple[str, ...] = (),
) -> DecisionEntry:
    """The entry ``claim``'s delivery decides; ``occurred`` counts seconds after T0."""
    return DecisionEntry(
        vendor=vendor,
        subject=subject,
        status=status,
        final=final,
        delivery_id=claim.record.id,
        event_type=claim.record.event_type,
        received_at=claim.record.received_at,
        occurred_at=None if occurred is None else T0 + timedelta(seconds=occurred),
        client_ref=client_ref,
        reasons=reasons,
    )


def decide(store: Store, made: DecisionEntry, claim: Claim) -> DecisionTicket:
    """begin_decision + complete for one delivery; the ticket it ran with."""
    ticket = store.begin_decision(claim, made, lease=30)
    assert ticket is not None
    assert store.complete(claim, decision=ticket)
    return ticket


def assert_upgraded_entry_counts_as_announced(
    store: Store, made: DecisionEntry, done_id: str
) -> None:
    """After a migration that adds the verdict last announced: ``made``, the entry of the done
    delivery ``done_id`` stored before it, counts as announced (under the old rules every stored
    entry had been), so a replay of that delivery announces nothing, and a different verdict of
    the same verification, from a new delivery, does."""
    replay = store.claim(done_id, lease=30, replay=True)
    assert replay is not None
    again = decide(store, made, replay)
    assert not again.changes
    later = claimed(store)
    approved = dataclasses.replace(made, status="APPROVED", final=True, delivery_id=later.record.id)
    changed = store.begin_decision(later, approved, lease=30)
    assert changed is not None
    assert changed.changes
