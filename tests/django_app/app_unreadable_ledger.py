"""A decision ledger row holding a value Django's own field converters cannot read -- possible on
SQLite only, when another program wrote the row (PostgreSQL's column types refuse such values on
write): every DjangoStore call that reads the ledger answers a StoreError naming the operation,
never the value. Was: a raw ValueError out of the query, or -- for a time Django's converter
reads as None -- a raw TypeError when entries were compared, or an entry without its time."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

import kyc_webhooks as kw
from django_app.writes import as_another_program
from kyc_webhooks.decisions import Decision, ledger_entry
from kyc_webhooks.integrations.django.models import DecisionRecord, Delivery
from kyc_webhooks.integrations.django.store import DjangoStore
from kyc_webhooks.store import Claim, DecisionTicket, NewDelivery

#: Stored in a DateTimeField column: a date no calendar has (Django's converter raises
#: ValueError), a number and text that is no date (both read as None).
UNREADABLE = ["2024-13-45 00:00:00", 77777777, "no date at all"]
DECISION = Decision(kw.DecisionStatus.APPROVED, True, "idenfy", "E", "scan-unreadable")


def recorded(store: DjangoStore, key: str = "first") -> None:
    """A delivery of the subject whose verdict is the effective decision (client_ref set)."""
    claim = store.add(NewDelivery(key, "idenfy", "E", b"{}"), lease=60).claim
    assert claim is not None
    entry = dataclasses.replace(ledger_entry(DECISION, claim.record), client_ref="client-1")
    ticket = store.begin_decision(claim, entry, lease=60)
    assert ticket is not None
    assert store.complete(claim, decision=ticket)


def leased(store: DjangoStore) -> tuple[Claim, DecisionTicket]:
    """A claimed delivery of the subject holding its lease (for complete and abort_decision)."""
    claim = store.add(NewDelivery("second", "idenfy", "E", b"{}"), lease=60).claim
    assert claim is not None
    ticket = store.begin_decision(claim, ledger_entry(DECISION, claim.record), lease=60)
    assert ticket is not None
    return claim, ticket


def corrupt(value: Any) -> None:
    with connection.cursor() as cursor:
        table = DecisionRecord._meta.db_table
        cursor.execute(f"UPDATE {table} SET received_at = %s, sort_at = %s", [value, value])  # noqa: S608


@pytest.mark.parametrize("value", UNREADABLE, ids=["no-calendar", "number", "text"])
@pytest.mark.parametrize(
    "operation", ["effective_decision", "decisions_for_client", "complete", "begin_decision"]
)
def test_an_unreadable_ledger_value_is_a_store_error_naming_the_operation(
    django_store: DjangoStore, operation: str, value: Any
) -> None:
    recorded(django_store)
    claim, ticket = leased(django_store) if operation == "complete" else (None, None)
    with as_another_program() as kept:
        if not kept:  # PostgreSQL refuses to store such a value
            return
        corrupt(value)
    other = django_store.add(NewDelivery("other", "idenfy", "E", b"{}"), lease=60).claim
    assert other is not None
    calls: dict[str, Callable[[], object]] = {
        "effective_decision": lambda: django_store.effective_decision("idenfy", DECISION.subject),
        "decisions_for_client": lambda: django_store.decisions_for_client("client-1"),
        "complete": lambda: django_store.complete(claim, decision=ticket),  # type: ignore[arg-type]
        "begin_decision": lambda: django_store.begin_decision(
            other, ledger_entry(DECISION, other.record), lease=60
        ),
    }
    with pytest.raises(kw.StoreError) as raised:  # was: ValueError, TypeError, or no error
        calls[operation]()
    message = str(raised.value)
    assert message.startswith(f"{operation}: ")
    assert str(value) not in message
    if operation == "complete":  # its transaction was rolled back: the claim is still held
        assert claim is not None
        assert Delivery.objects.get(id=claim.record.id).state == "processing"
