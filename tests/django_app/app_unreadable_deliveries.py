"""A delivery row holding a value Django's own field converters cannot read, or a state no
version wrote -- possible on SQLite only, when another program wrote the row (PostgreSQL's column
types refuse such a time on write): every DjangoStore call that reads it answers a StoreError
naming the operation (or the row's id), never the value. Was: a raw ValueError."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection

import kyc_webhooks as kw
from django_app.writes import as_another_program
from kyc_webhooks.integrations.django.models import Delivery
from kyc_webhooks.integrations.django.store import DjangoStore
from kyc_webhooks.store import NewDelivery

#: (deliveries skips such a row and claim_next sets it aside: app_malformed_rows.py.)
OPERATIONS = ["get", "get_by_key", "add", "claim", "complete", "fail"]
#: (operation, column, value): a time no calendar has for every read; a state no version wrote
#: where the state itself is read (elsewhere it is read through the record, already a
#: StoreError, or not at all: complete and fail update the row, claim_next does not select it).
CASES = [(operation, "received_at", "2024-13-45 00:00:00") for operation in OPERATIONS] + [
    (operation, "state", "no-such-state") for operation in ("add", "claim")
]


@pytest.mark.parametrize(("operation", "column", "value"), CASES)
def test_an_unreadable_delivery_row_is_a_store_error(
    django_store: DjangoStore, operation: str, column: str, value: str
) -> None:
    added = django_store.add(NewDelivery("key", "idenfy", "E", b"{}"), lease=60)
    claim = added.claim
    assert claim is not None
    if operation in ("claim", "add"):  # claimable again: the lease expired
        assert django_store.fail(claim, error_type="E", error_message="m")
    with as_another_program() as kept, connection.cursor() as cursor:
        if not kept:  # PostgreSQL refuses such a time (and checks that the state is one)
            return
        table = Delivery._meta.db_table
        cursor.execute(f"UPDATE {table} SET {column} = %s", [value])  # noqa: S608 -- a test table
    calls: dict[str, Callable[[], object]] = {
        "get": lambda: django_store.get(added.record.id),
        "get_by_key": lambda: django_store.get_by_key("key"),
        "add": lambda: django_store.add(NewDelivery("key", "idenfy", "E", b"{}"), lease=60),
        "claim": lambda: django_store.claim(added.record.id, lease=60),
        "complete": lambda: django_store.complete(claim),
        "fail": lambda: django_store.fail(claim, error_type="E", error_message="m"),
    }
    with pytest.raises(kw.StoreError) as raised:  # was: ValueError
        calls[operation]()
    message = str(raised.value)
    assert message.startswith((f"{operation}: ", "stored delivery "))
    assert value not in message
