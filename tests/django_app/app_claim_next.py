"""DjangoStore.claim_next finds a claimable delivery however many older ones wait (review 5,
finding 2), on the database of this run (SQLite, or PostgreSQL with KYC_TEST_DJANGO_DB=postgres).
Was: it read the 50 oldest pending/failed/processing rows and filtered back-off and live leases
in Python, so 50 older failed deliveries backing off (a downstream outage) or held under live
leases hid every delivery behind them: a deferred delivery answered 202 was never run, and
``manage.py kyc_webhooks process`` printed nothing and exited 0."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from _stores import FakeClock
from kyc_webhooks.integrations.django.models import Delivery
from kyc_webhooks.integrations.django.store import DjangoStore
from kyc_webhooks.store import NewDelivery
from kyc_webhooks.testing import sample_payload, sign

pytestmark = pytest.mark.django_db(transaction=True)
KEY = "idenfy-test-key"
#: More than any window of oldest rows the store may read at once.
OLDER = 60


def _failed_backing_off(store: DjangoStore, count: int, clock: FakeClock | None = None) -> None:
    """``count`` deliveries whose handler failed, each backing off for an hour."""
    for n in range(count):
        if clock is not None:
            clock.advance(1)
        store.add(NewDelivery(f"old-{n}", "idenfy", "E", b"{}"))
        claim = store.claim_next(lease=60)
        assert claim is not None
        assert claim.record.delivery_key == f"old-{n}"
        assert store.fail(
            claim,
            error_type="RuntimeError",
            error_message="downstream down",
            retry_at=store.now() + timedelta(hours=1),
        )


def test_a_new_delivery_behind_many_failed_ones_backing_off_is_claimed(
    django_store: DjangoStore, clock: FakeClock
) -> None:
    _failed_backing_off(django_store, OLDER, clock)
    clock.advance(1)
    new = django_store.add(NewDelivery("new", "idenfy", "E", b"{}")).record
    claim = django_store.claim_next(lease=60)
    assert claim is not None
    assert claim.record.id == new.id
    assert django_store.claim_next(lease=60) is None  # the others still back off
    clock.advance(3601)  # their back-off ended: the oldest first
    again = django_store.claim_next(lease=60)
    assert again is not None
    assert again.record.delivery_key == "old-0"


def test_a_new_delivery_behind_many_live_leases_is_claimed(
    django_store: DjangoStore, clock: FakeClock
) -> None:
    for n in range(OLDER):
        clock.advance(1)
        django_store.add(NewDelivery(f"busy-{n}", "idenfy", "E", b"{}"), lease=600)
    clock.advance(1)
    new = django_store.add(NewDelivery("new", "idenfy", "E", b"{}")).record
    claim = django_store.claim_next(lease=60)
    assert claim is not None
    assert claim.record.id == new.id
    assert django_store.claim_next(lease=60) is None
    clock.advance(600)  # the leases expired: the oldest is taken over
    again = django_store.claim_next(lease=60)
    assert again is not None
    assert again.record.delivery_key == "busy-0"


def test_max_attempts_and_vendors_still_filter_behind_many_older_rows(
    django_store: DjangoStore, clock: FakeClock
) -> None:
    _failed_backing_off(django_store, OLDER, clock)
    clock.advance(3601)  # every older one is due again, after one attempt
    django_store.add(NewDelivery("yoti", "yoti", "E", b"{}"))
    clock.advance(1)
    django_store.add(NewDelivery("new", "idenfy", "E", b"{}"))
    claim = django_store.claim_next(lease=60, max_attempts=1)
    assert claim is not None
    assert claim.record.delivery_key == "yoti"
    claim = django_store.claim_next(lease=60, max_attempts=1, vendors=["idenfy"])
    assert claim is not None
    assert claim.record.delivery_key == "new"


def _idenfy() -> Any:
    event_type = "IDENTIFICATION_MANUAL_FINISHED"
    return sign("idenfy", sample_payload("idenfy", event_type), KEY, event_type=event_type)


@override_settings(KYC_WEBHOOKS={"VENDORS": {"idenfy": {"signing_key": KEY}}, "DEFER": True})
def test_the_process_command_runs_a_deferred_delivery_behind_many_backing_off() -> None:
    from kyc_webhooks.integrations.django import receiver

    store = receiver.store
    assert isinstance(store, DjangoStore)
    _failed_backing_off(store, OLDER)
    seen: list[str] = []
    receiver.on("idenfy")(lambda event: seen.append(event.delivery_key))
    body, headers = _idenfy()
    extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    answer = Client().post(
        "/webhooks/idenfy", data=body, content_type="application/json", headers=extra
    )
    assert answer.status_code == 202
    out = io.StringIO()
    call_command("kyc_webhooks", "process", stdout=out)
    assert "processed 1: 1 succeeded" in out.getvalue()
    assert len(seen) == 1
    assert Delivery.objects.filter(state="done").count() == 1
    assert Delivery.objects.filter(state="failed").count() == OLDER
