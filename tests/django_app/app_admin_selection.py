"""Admin actions on large selections ("select all"): *Erase body* erases the whole selection and
counts only the bodies it erased; *Replay* and *Process now* run at most ``RUN_LIMIT`` deliveries
and say how many they left (Django app suite)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.test import Client

from kyc_webhooks.integrations.django.admin import RUN_LIMIT
from kyc_webhooks.integrations.django.models import Delivery

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "/admin/kyc_webhooks/delivery/"
START = datetime(2026, 11, 1, tzinfo=timezone.utc)
ERASED_BEFORE = datetime(2026, 11, 2, tzinfo=timezone.utc)
HEADERS = [["X-Request-Id", "r-1"]]


def _operator() -> Client:
    """A client logged in as the operator (a new one each time: messages not shown stay in a
    client's cookies)."""
    user, created = User.objects.get_or_create(username="operator", is_staff=True)
    if created:
        for codename in ("view_delivery", "change_delivery"):
            user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client


def _rows(count: int, *, vendor: str = "idenfy", erased: bool = False, first: int = 0) -> list[str]:
    """``count`` stored deliveries (state done), received one second apart from ``START +
    first`` seconds; with ``erased`` their bodies were erased before. Their ids, oldest first."""
    rows = []
    for n in range(first, first + count):
        key = f"{vendor}:evt-{n}"
        rows.append(
            Delivery(
                id=uuid.uuid4().hex,
                key_hash=hashlib.sha256(key.encode()).hexdigest(),
                delivery_key=key,
                vendor=vendor,
                event_type="IDENTIFICATION_MANUAL_FINISHED",
                state="done",
                received_at=START + timedelta(seconds=n),
                updated_at=START + timedelta(seconds=n),
                body=None if erased else b'{"scanRef": "personal"}',
                headers=HEADERS,
                body_erased_at=ERASED_BEFORE if erased else None,
            )
        )
    Delivery.objects.bulk_create(rows, batch_size=200)
    return [row.id for row in rows]


def _act(client: Client, action: str, query: str = "", **data: Any) -> list[Any]:
    """POST ``action`` on the change list (``query``: its filters); the messages it left."""
    response = client.post(f"{CHANGELIST}{query}", {"action": action, "index": "0", **data})
    assert response.status_code == 302
    return list(get_messages(response.wsgi_request))


def test_erase_body_on_select_all_erases_every_body_and_counts_only_those_it_erased() -> None:
    # 1,005 bodies (the old action erased the first 1,000 and reported success) and 2 erased
    # earlier (the old action counted them again), all of iDenfy; ComplyCube's are not selected.
    stored = _rows(1005)
    before = _rows(2, erased=True, first=1005)
    others = _rows(3, vendor="complycube")
    found = _act(
        _operator(),
        "erase_body",
        "?vendor__exact=idenfy",
        select_across="1",
        _selected_action=[stored[0]],
    )
    erased = Delivery.objects.filter(id__in=stored)
    assert erased.filter(body__isnull=False).count() == 0
    assert erased.exclude(body_erased_at__gt=ERASED_BEFORE).count() == 0
    assert erased.exclude(updated_at__gt=ERASED_BEFORE).count() == 0
    assert all(row.headers == HEADERS for row in erased)  # erasure drops the body only
    # Bodies erased before keep the time of that erasure; rows outside the selection keep theirs.
    assert set(Delivery.objects.filter(id__in=before).values_list("body_erased_at", flat=True)) == {
        ERASED_BEFORE
    }
    assert Delivery.objects.filter(id__in=others, body__isnull=False).count() == 3
    assert [(m.level_tag, m.message) for m in found] == [
        (
            "success",
            "erased the bodies of 1005 deliveries (metadata and headers kept); "
            "the other 2 selected had no body left (erased before)",
        )
    ]


def test_erase_body_counts_an_already_erased_body_as_not_erased() -> None:
    (stored,) = _rows(1)
    (erased,) = _rows(1, erased=True, first=1)
    found = _act(_operator(), "erase_body", _selected_action=[stored, erased])
    assert [m.message for m in found] == [
        "erased the bodies of 1 delivery (metadata and headers kept); "
        "the other 1 selected had no body left (erased before)"
    ]
    found = _act(_operator(), "erase_body", _selected_action=[stored])
    assert [m.message for m in found] == [
        "erased the bodies of 0 deliveries (metadata and headers kept); "
        "the other 1 selected had no body left (erased before)"
    ]


@pytest.mark.parametrize(
    ("action", "label"), [("replay", "Replay"), ("process_now", "Process now")]
)
@pytest.mark.parametrize("selected", [RUN_LIMIT, RUN_LIMIT + 3])
def test_replay_and_process_now_run_the_first_of_the_list_and_name_how_many_they_left(
    action: str, label: str, selected: int
) -> None:
    ids = _rows(selected, erased=True)  # cheap to run: replay refuses them, process leaves them
    found = _act(_operator(), action, select_across="1", _selected_action=[ids[0]])
    named = [m.message.split(":")[0].removeprefix("delivery ") for m in found]
    per_row = [name for name in named if name in ids]
    assert per_row == ids[::-1][:RUN_LIMIT]  # the first of the list's order: newest first
    others = [
        (m.level_tag, m.message) for m, name in zip(found, named, strict=True) if name not in ids
    ]
    if selected == RUN_LIMIT:
        assert others == []
    else:
        assert others == [
            (
                "warning",
                f"{label} ran on the first {RUN_LIMIT} of the {selected} selected deliveries "
                f"(in the list's order) and left 3 deliveries alone: select at most {RUN_LIMIT} "
                "at a time (narrow the list with its filters).",
            )
        ]
