"""``USE_TZ = False`` (review 5, finding 4), on the database of this run (SQLite, or PostgreSQL with
KYC_TEST_DJANGO_DB=postgres): a system-check error (``kyc_webhooks.E003``) when the app's own store
is used, and the store refuses to work with a StoreError naming the setting. Was: accepted; on
SQLite every delivery was a 503 (Django refuses aware datetimes), on PostgreSQL times came back
naive and add()/claim_next() raised a raw TypeError out of the public API."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings

from kyc_webhooks.errors import StoreError
from kyc_webhooks.integrations.django import conf
from kyc_webhooks.integrations.django.models import Delivery
from kyc_webhooks.integrations.django.store import DjangoStore
from kyc_webhooks.store import NewDelivery
from kyc_webhooks.testing import sample_payload, sign

pytestmark = pytest.mark.django_db(transaction=True)
KEY = "idenfy-test-key"


def _errors() -> list[checks.CheckMessage]:
    conf.reset()
    return [e for e in checks.run_checks() if e.id.startswith("kyc_webhooks")]


def test_use_tz_false_with_the_app_store_is_a_system_check_error() -> None:
    assert _errors() == []
    with override_settings(USE_TZ=False):
        errors = _errors()
    assert [e.id for e in errors] == ["kyc_webhooks.E003"]
    assert "USE_TZ = True" in errors[0].msg
    assert errors[0].hint is not None
    assert "USE_TZ = True" in errors[0].hint


def test_autocommit_off_on_the_store_database_is_a_system_check_error() -> None:
    # Review R51: it passed `manage.py check`, then every delivery was a 500 (UsageError).
    from django.db import connections

    settings_dict = connections["default"].settings_dict
    settings_dict["AUTOCOMMIT"] = False
    try:
        errors = _errors()
    finally:
        settings_dict["AUTOCOMMIT"] = True
    assert [e.id for e in errors] == ["kyc_webhooks.E004"]
    assert "AUTOCOMMIT" in errors[0].msg
    assert "'default'" in errors[0].msg
    assert _errors() == []


def test_use_tz_false_with_another_store_passes_the_checks(tmp_path: Path) -> None:
    config = {"VENDORS": {"idenfy": {"signing_key": KEY}}, "STORE": str(tmp_path / "inbox.db")}
    with override_settings(USE_TZ=False, KYC_WEBHOOKS=config):
        assert [e.id for e in _errors()] == ["kyc_webhooks.I001"]  # where the inbox is
        conf.project_receiver().store.close()  # type: ignore[union-attr]


def _calls(store: DjangoStore, record_id: str) -> dict[str, Callable[[], Any]]:
    return {
        "add": lambda: store.add(NewDelivery("b", "idenfy", "E", b"{}"), lease=60),
        "claim": lambda: store.claim(record_id, lease=60),
        "claim_next": lambda: store.claim_next(lease=60, max_attempts=3),
        "get": lambda: store.get(record_id),
        "get_by_key": lambda: store.get_by_key("a"),
        "deliveries": lambda: store.deliveries(since=store.now() - timedelta(hours=1)),
        "stats": store.stats,
        "purge": lambda: store.purge(older_than=timedelta(days=1)),
        "erase": lambda: store.erase(record_id),
        "erase_bodies": lambda: store.erase_bodies(older_than=timedelta(days=1)),
        "effective_decision": lambda: store.effective_decision("idenfy", "s"),
        "decisions_for_client": lambda: store.decisions_for_client("c"),
    }


@pytest.mark.parametrize("operation", list(_calls(DjangoStore(), "0" * 32)))
def test_the_store_refuses_to_work_under_use_tz_false(operation: str) -> None:
    store = DjangoStore()
    record = store.add(NewDelivery("a", "idenfy", "E", b"{}")).record
    call = _calls(store, record.id)[operation]
    with override_settings(USE_TZ=False), pytest.raises(StoreError, match="USE_TZ = True"):
        call()
    # Nothing was changed, and the store works again once the setting is fixed.
    assert [r.delivery_key for r in store.deliveries()] == ["a"]
    claim = store.claim_next(lease=60)
    assert claim is not None
    assert store.complete(claim)


def _post(overall: str) -> int:
    event_type = "IDENTIFICATION_MANUAL_FINISHED"
    payload = sample_payload("idenfy", event_type, status__overall=overall)
    body, headers = sign("idenfy", payload, KEY, event_type=event_type)
    extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return int(
        Client()
        .post("/webhooks/idenfy", data=body, content_type="application/json", headers=extra)
        .status_code
    )


@override_settings(KYC_WEBHOOKS={"VENDORS": {"idenfy": {"signing_key": KEY}}, "DEFER": True})
def test_under_use_tz_false_deliveries_are_503_and_the_worker_names_the_setting() -> None:
    assert _post("APPROVED") == 202
    with override_settings(USE_TZ=False):
        assert _post("DENIED") == 503  # the vendor redelivers once the setting is fixed
        with pytest.raises(CommandError, match="USE_TZ = True") as info:
            call_command("kyc_webhooks", "process", stdout=io.StringIO())
        assert info.value.returncode == 3  # the store unavailable, as in the CLI
    assert Delivery.objects.get().state == "pending"
    out = io.StringIO()
    call_command("kyc_webhooks", "process", stdout=out)
    assert "1 succeeded" in out.getvalue()
