"""The messages of the admin's *Replay* and *Process now* actions name each delivery by its exact
id. Django's admin shows every message through ``capfirst``: a message that began with the id
showed ``Ab12...`` for ``ab12...``, an id that no lookup finds -- ids are compared exactly, so
``manage.py kyc_webhooks replay Ab12...`` (or the admin's search on PostgreSQL and SQLite) found
nothing."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from django_app.conftest import post_idenfy
from kyc_webhooks.integrations.django.models import Delivery

pytestmark = pytest.mark.django_db(transaction=True)


def _messages(page: bytes) -> list[str]:
    return re.findall(r'<li class="[a-z]+">(.*?)</li>', page.decode())


@pytest.mark.parametrize("action", ["process_now", "replay"])
def test_the_action_messages_show_the_delivery_id_exactly(action: str) -> None:
    answer = post_idenfy()
    assert answer.status_code == 200
    ids = [Delivery.objects.get().id]
    Delivery.objects.update(id="ab" + ids[0][2:])  # an id that starts with a letter
    # A second delivery, its body erased: Replay reports an error naming it.
    Delivery.objects.create(
        **{
            **{
                f.attname: getattr(Delivery.objects.get(), f.attname) for f in Delivery._meta.fields
            },
            "id": "cd" + ids[0][2:],
            "key_hash": "0" * 64,
            "body": None,
        }
    )
    operator = Client()
    operator.force_login(User.objects.create_superuser("admin", password="pw"))
    selected = ["ab" + ids[0][2:], "cd" + ids[0][2:]]
    page = operator.post(
        "/admin/kyc_webhooks/delivery/",
        {"action": action, "_selected_action": selected},
        follow=True,
    )
    shown = _messages(page.content)
    assert len(shown) == 2, shown
    for delivery_id in selected:
        assert any(delivery_id in message for message in shown), shown
        assert not any(delivery_id.capitalize() in message for message in shown), shown
