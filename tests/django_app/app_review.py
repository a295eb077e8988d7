"""Admin defects found in review (Django app suite)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from django_app.conftest import post_idenfy
from kyc_webhooks.integrations.django.models import Delivery
from kyc_webhooks.testing import sample_payload, sign

pytestmark = pytest.mark.django_db(transaction=True)


def _operator() -> Client:
    user = User.objects.create_user("operator", password="pw", is_staff=True)
    for codename in ("view_delivery", "change_delivery"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client


def test_admin_replay_of_an_erased_delivery_is_a_message_not_a_server_error() -> None:
    post_idenfy()
    row = Delivery.objects.get()
    operator = _operator()
    data = {"action": "erase_body", "_selected_action": [row.id]}
    operator.post("/admin/kyc_webhooks/delivery/", data)
    assert Delivery.objects.get().body is None
    response = operator.post(
        "/admin/kyc_webhooks/delivery/", {**data, "action": "replay"}, follow=True
    )
    assert response.status_code == 200
    assert b"erased" in response.content


def test_a_decision_time_at_the_edge_of_the_calendar_is_recorded_once() -> None:
    # A signed body's time with an extreme offset: 9999-12-31 23:59 at -23:59 is in year 10000 UTC.
    from kyc_webhooks.integrations.django import receiver
    from kyc_webhooks.integrations.django.models import DecisionRecord

    changes: list[str] = []
    receiver.on_decision()(lambda decision: changes.append(decision.status.value))
    payload = sample_payload("complycube", "check.completed")
    payload["payload"]["updatedAt"] = "9999-12-31T23:59:59-23:59"
    body, headers = sign("complycube", payload, "complycube-test-secret")
    extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    response = Client().post(
        "/webhooks/complycube", data=body, content_type="application/json", headers=extra
    )
    assert response.status_code == 200
    assert Delivery.objects.get().state == "done"
    assert DecisionRecord.objects.filter(status__isnull=False).count() == 1
    assert len(changes) == 1
