"""Text that differs only in case, accents or trailing spaces is different text, on every database
of this run. MySQL and MariaDB compare text by the column's collation -- by default
utf8mb4_general_ci: case- and accent-insensitive, trailing spaces ignored (PAD SPACE) -- so
there ``'Key'``, ``'key'`` and ``'key '`` are equal. Was, on MariaDB: ``get``/``claim``/``erase``
of an id in capitals found the delivery, a claim or ticket whose token differed in case
completed, failed or released it, ``deliveries(vendor="IDENFY")`` and
``claim_next(vendors=["IDENFY"])`` took idenfy's deliveries, a handler error named
``malformedrecord`` was never retried (taken for a row set aside), and ``decisions_for_client``
broke ties in the collation's order instead of code point order."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from _ledger import claimed, decide, entry
from kyc_webhooks.errors import DeliveryNotFoundError
from kyc_webhooks.integrations.django.models import Delivery
from kyc_webhooks.integrations.django.store import DjangoStore
from kyc_webhooks.store import DeliveryState, MemoryStore, NewDelivery

pytestmark = pytest.mark.django_db(transaction=True)


def _variants(text: str) -> list[str]:
    """``text`` as a collation may take it: in capitals, with a trailing space."""
    assert text.upper() != text  # 32 hex digits with no letter: one chance in 3 million
    return [text.upper(), text + " "]


def test_keys_and_subjects_differing_in_case_accent_or_trailing_space_are_distinct(
    django_store: DjangoStore,
) -> None:
    keys = ["key-1", "Key-1", "key-1 ", "kéy-1"]
    ids = [
        django_store.add(NewDelivery(key, "idenfy", "E", key.encode())).record.id for key in keys
    ]
    assert len(set(ids)) == 4
    for key, delivery_id in zip(keys, ids, strict=True):
        found = django_store.get_by_key(key)
        assert found is not None
        assert (found.id, found.body) == (delivery_id, key.encode())
    decided = claimed(django_store)
    decide(django_store, entry(decided, subject="scan-1", client_ref="client-1"), decided)
    for other in ("SCAN-1", "scan-1 ", "scän-1"):
        assert django_store.effective_decision("idenfy", other) is None
    for other in ("CLIENT-1", "client-1 "):
        assert list(django_store.decisions_for_client(other)) == []


def test_an_id_differing_in_case_or_trailing_space_finds_no_delivery(
    django_store: DjangoStore,
) -> None:
    record = django_store.add(NewDelivery("key", "idenfy", "E", b"{}")).record
    for other in _variants(record.id):
        assert django_store.get(other) is None  # was, on MariaDB: the record
        with pytest.raises(DeliveryNotFoundError):  # was: a claim of it
            django_store.claim(other, lease=60)
        assert django_store.erase(other) is False  # was: True, and the body erased
    stored = django_store.get(record.id)
    assert stored is not None
    assert (stored.state, stored.attempts, stored.body) == (DeliveryState.PENDING, 0, b"{}")


def test_a_claim_whose_token_or_id_differs_in_case_or_space_changes_nothing(
    django_store: DjangoStore,
) -> None:
    claim = claimed(django_store)
    forged = [replace(claim, token=token) for token in _variants(claim.token)]
    forged += [
        replace(claim, record=replace(claim.record, id=i)) for i in _variants(claim.record.id)
    ]
    for other in forged:
        assert django_store.complete(other) is False  # was, on MariaDB: True
        assert django_store.fail(other, error_type="E", error_message="m") is False
        assert django_store.begin_decision(other, entry(other), lease=30) is None
        row = Delivery.objects.get()
        assert (row.state, row.token, row.last_error_type) == ("processing", claim.token, None)
    assert django_store.complete(claim)


def test_a_ticket_whose_token_differs_in_case_or_space_releases_nothing(
    django_store: DjangoStore,
) -> None:
    first = claimed(django_store)
    ticket = django_store.begin_decision(first, entry(first), lease=30)
    assert ticket is not None
    second = claimed(django_store)
    for token in _variants(ticket.token):
        django_store.abort_decision(replace(ticket, token=token))  # was: released the lease
        assert django_store.begin_decision(second, entry(second), lease=30) is None  # held
    assert django_store.complete(first, decision=ticket)
    assert django_store.effective_decision("idenfy", ticket.entry.subject) == ticket.entry


def test_vendor_and_event_type_filters_are_exact(django_store: DjangoStore) -> None:
    record = django_store.add(NewDelivery("key", "idenfy", "Event", b"{}")).record
    for vendor in ("IDENFY", "idenfy ", "idénfy"):
        assert list(django_store.deliveries(vendor=vendor)) == []  # was: [record]
        assert django_store.claim_next(lease=60, vendors=[vendor]) is None  # was: a claim
        assert django_store.claim_next(lease=60, vendors=[vendor], max_attempts=3) is None
    for event_type in ("event", "Event ", "EVENT"):
        assert list(django_store.deliveries(event_type=event_type)) == []
    assert [r.id for r in django_store.deliveries(vendor="idenfy", event_type="Event")] == [
        record.id
    ]
    claim = django_store.claim_next(lease=60, vendors=["IDENFY", "idenfy"])
    assert claim is not None
    assert claim.record.id == record.id


@pytest.mark.parametrize("error_type", ["malformedrecord", "MalformedRecord ", "MALFORMEDRECORD"])
def test_a_failure_named_like_a_malformed_record_is_retried(
    django_store: DjangoStore, error_type: str
) -> None:
    """Only a row set aside (``last_error_type`` exactly ``MalformedRecord``) is left to a
    repair; a handler's own error of a name equal to it under a collation is retried."""
    claim = claimed(django_store)
    assert django_store.fail(claim, error_type=error_type, error_message="m")
    again = django_store.claim_next(lease=60)  # was, on MariaDB: None, for ever
    assert again is not None
    assert again.record.id == claim.record.id


def test_decisions_for_client_breaks_ties_in_code_point_order(django_store: DjangoStore) -> None:
    """Equal times: the delivery id decides, in code point order, as in every other store
    ("a" after "B", "é" after "f"); a collation sorts "B" after "a" and "é" before "f"."""
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
    memory = MemoryStore()
    listed = []
    for store in (django_store, memory):
        for n, delivery_id in enumerate(["a-delivery", "B-delivery", "é-delivery", "f-delivery"]):
            claim = claimed(store)
            made = replace(
                entry(claim, subject=f"scan-{n}"), delivery_id=delivery_id, received_at=at
            )
            decide(store, made, claim)
        listed.append([e.delivery_id for e in store.decisions_for_client("client-1")])
    assert listed[0] == listed[1] == ["é-delivery", "f-delivery", "a-delivery", "B-delivery"]


def test_an_id_prefix_matches_ids_exactly(django_store: DjangoStore) -> None:
    """Ids another program may have written, around the range ``deliveries(id_prefix=
    "abcdef19")`` reads: in capitals (equal to the prefix in a case-insensitive collation) and
    with ``:`` (between ``9`` and ``a`` in code point order). Only the first starts with it."""
    foreign_ids = ("abcdef19" + "a" * 24, "abcdef1:" + "a" * 24, "ABCDEF19" + "b" * 24)
    for n, foreign in enumerate((*foreign_ids, "abcdef1a" + "c" * 24)):
        record = django_store.add(NewDelivery(f"k{n}", "idenfy", "E", b"{}")).record
        Delivery.objects.filter(id=record.id).update(id=foreign)
    assert [r.id for r in django_store.deliveries(id_prefix="abcdef19")] == [foreign_ids[0]]
    assert django_store.count(id_prefix="abcdef19") == 1
    assert [r.id for r in django_store.deliveries(id_prefix="abcdef1")] == [
        foreign_ids[0],
        foreign_ids[1],
        "abcdef1a" + "c" * 24,
    ]
    assert django_store.count(id_prefix="abcdef1") == 3
