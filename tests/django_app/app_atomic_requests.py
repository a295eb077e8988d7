"""``DATABASES[...]["ATOMIC_REQUESTS"] = True``: the webhook views -- the app's include()d URLs and
the views of ``webhook_urls`` on a receiver built by hand -- never run inside the request's
transaction. The store commits the delivery itself and handlers run in autocommit, so a handler's
caught ``IntegrityError`` cannot roll the delivery back after the 200, a handler that wraps its
writes in ``transaction.atomic()`` and fails leaves nothing, ``on_deferred`` hands over a
committed delivery, and the async views serve requests (Django refuses ``ATOMIC_REQUESTS`` on an
async view). On SQLite and PostgreSQL (tests/test_django_app.py runs this suite on both)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from types import ModuleType
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, connections, transaction
from django.test import AsyncClient, Client, override_settings

import kyc_webhooks as kw
from django_app.conftest import async_app_views
from kyc_webhooks.integrations.django import conf, in_django_thread, webhook_urls
from kyc_webhooks.integrations.django.models import Delivery
from kyc_webhooks.integrations.django.store import DjangoStore
from kyc_webhooks.testing import signed_delivery

KEY = "idenfy-test-key"  # django_app.settings
VENDORS = {"idenfy": {"signing_key": KEY}}
pytestmark = pytest.mark.django_db(transaction=True)
WHERE = ["app", "own"]  # the app's include()d URLs; webhook_urls() on a receiver built by hand


@pytest.fixture(autouse=True)
def atomic_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """``ATOMIC_REQUESTS`` on, where Django's request handler reads it (the settings dict every
    connection of the alias shares, in every thread)."""
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)


def delivery() -> tuple[bytes, dict[str, str]]:
    body, headers = signed_delivery("idenfy", "IDENTIFICATION_AUTO_FINISHED", KEY)
    return body, {k: v for k, v in headers.items() if k.lower() != "content-type"}


def post(client: Client, path: str) -> Any:
    body, headers = delivery()
    return client.post(path, data=body, content_type="application/json", headers=headers)


@pytest.fixture
def exits() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def receiver_at(
    where: str, exits: ExitStack, *, defer: bool = False, use_async: bool = False
) -> tuple[kw.Receiver, str]:
    """The receiver serving ``where`` and the path to post to."""
    if where == "app":
        if defer:
            exits.enter_context(override_settings(KYC_WEBHOOKS={"VENDORS": VENDORS, "DEFER": True}))
        conf.reset()
        return conf.project_receiver(), "/webhooks/idenfy"
    store = DjangoStore()
    exits.callback(store.close)
    receiver = kw.Receiver(
        kw.Idenfy(signing_key=KEY),
        store=store,
        defer=defer,
        router=kw.Router(run_sync=in_django_thread),
    )
    urlconf = ModuleType("own_webhook_urls")
    urlconf.urlpatterns = webhook_urls(receiver, prefix="own", use_async=use_async)  # type: ignore[attr-defined]
    exits.enter_context(override_settings(ROOT_URLCONF=urlconf))
    return receiver, "/own/idenfy"


@pytest.mark.parametrize("where", WHERE)
def test_a_caught_integrity_error_leaves_the_delivery_and_the_handlers_writes(
    where: str, exits: ExitStack
) -> None:
    receiver, path = receiver_at(where, exits)
    User.objects.create(username="already-there")

    @receiver.on("idenfy", "*")
    def handler(event: Any) -> None:
        User.objects.create(username="credit-42")  # the handler's effect
        with contextlib.suppress(IntegrityError):  # "insert, ignore the duplicate"
            User.objects.create(username="already-there")

    response = post(Client(), path)
    assert response.status_code == 200, response.content
    assert list(Delivery.objects.values_list("state", flat=True)) == ["done"]
    assert User.objects.filter(username="credit-42").count() == 1


@pytest.mark.parametrize("where", WHERE)
def test_a_failed_handler_in_transaction_atomic_leaves_nothing_and_its_retry_starts_clean(
    where: str, exits: ExitStack
) -> None:
    receiver, path = receiver_at(where, exits)
    calls: list[int] = []

    @receiver.on("idenfy", "*")
    def handler(event: Any) -> None:
        calls.append(1)
        with transaction.atomic():
            User.objects.create(username=f"credit-{User.objects.count()}")
            if len(calls) == 1:
                raise RuntimeError("downstream API timed out")

    client = Client()
    first = post(client, path)
    assert first.status_code == 500
    assert User.objects.count() == 0
    assert list(Delivery.objects.values_list("state", flat=True)) == ["failed"]
    again = post(client, path)  # the vendor's retry
    assert again.status_code == 200, again.content
    assert len(calls) == 2
    assert list(User.objects.values_list("username", flat=True)) == ["credit-0"]
    assert list(Delivery.objects.values_list("state", flat=True)) == ["done"]


@pytest.mark.parametrize("where", WHERE)
def test_on_deferred_hands_over_a_committed_delivery(where: str, exits: ExitStack) -> None:
    receiver, path = receiver_at(where, exits, defer=True)
    ran: list[str] = []
    receiver.on("idenfy", "*")(lambda event: ran.append(event.delivery_key))
    seen: dict[str, Any] = {}

    def worker(delivery_id: str) -> None:  # a queue worker: its own thread and connection
        try:
            seen["status"] = receiver.process(delivery_id).status_code
        except Exception as exc:
            seen["status"] = f"{type(exc).__name__}: {exc}"
        finally:
            connections.close_all()

    def on_deferred(delivery_id: str) -> None:  # a queue whose worker takes the id at once
        thread = threading.Thread(target=worker, args=(delivery_id,))
        thread.start()
        thread.join(timeout=20)  # bounded: before the fix SQLite's worker waits for the lock

    receiver.on_deferred = on_deferred
    response = post(Client(), path)
    assert response.status_code == 202, response.content
    assert seen.get("status") == 200
    assert len(ran) == 1
    assert list(Delivery.objects.values_list("state", flat=True)) == ["done"]


# Django's test clients disconnect close_old_connections from request_finished, so the connection
# of the thread that served the async request is left for the garbage collector.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("where", WHERE)
def test_the_async_views_serve_requests(where: str, exits: ExitStack) -> None:
    if where == "app":
        exits.enter_context(async_app_views({"VENDORS": VENDORS, "ASYNC": True}))
    receiver, path = receiver_at(where, exits, use_async=True)
    receiver.on("idenfy", "*")(lambda event: User.objects.create(username="credit-42"))
    body, headers = delivery()

    async def send() -> Any:
        return await AsyncClient().post(
            path, data=body, content_type="application/json", headers=headers
        )

    response = async_to_sync(send)()
    assert response.status_code == 200, response.content
    assert list(Delivery.objects.values_list("state", flat=True)) == ["done"]
    assert User.objects.filter(username="credit-42").count() == 1


def _operator() -> Client:
    from django.contrib.auth.models import Permission

    user = User.objects.create(username="operator", is_staff=True)
    for codename in ("view_delivery", "change_delivery"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("action", ["process_now", "replay"])
def test_the_admin_actions_run_outside_the_request_transaction(
    action: str, exits: ExitStack
) -> None:
    # Review R24: under ATOMIC_REQUESTS the admin's *Process now* and *Replay* ran the handlers
    # inside the request's transaction; a handler's caught IntegrityError marked it for
    # rollback, and the admin showed "200" while the delivery stayed pending, without its
    # ledger entry or the handler's writes -- and the worker ran the handlers again.
    receiver, path = receiver_at("app", exits, defer=True)
    User.objects.create(username="already-there")
    runs: list[str] = []

    @receiver.on("idenfy", "*")
    def handler(event: Any) -> None:
        runs.append(event.delivery_key)
        User.objects.create(username=f"credit-{len(runs)}")
        with contextlib.suppress(IntegrityError):  # "insert, ignore the duplicate"
            User.objects.create(username="already-there")

    assert post(Client(), path).status_code == 202
    (row,) = Delivery.objects.all()
    response = _operator().post(
        "/admin/kyc_webhooks/delivery/",
        {"action": action, "index": "0", "_selected_action": [row.id]},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.state == "done"
    assert len(runs) == 1
    assert User.objects.filter(username="credit-1").count() == 1
    # Nothing left for a worker: the handlers do not run a second time.
    assert receiver.process_pending().processed == 0
    assert len(runs) == 1


def test_the_store_refuses_to_run_inside_a_callers_transaction(exits: ExitStack) -> None:
    # Review R24: inside the caller's transaction.atomic() the store's transactions were
    # savepoints; a rollback of the caller's undid a delivery already answered 200 (lost for
    # good: the vendor does not retry), or one a worker reported handled (handled again).
    receiver, _ = receiver_at("own", exits)
    runs: list[str] = []
    receiver.on("idenfy", "*")(lambda event: runs.append(event.delivery_key))
    with pytest.raises(kw.UsageError, match="commits its own transactions"):  # noqa: SIM117
        with transaction.atomic():
            receiver.handle(*delivery())
    assert Delivery.objects.count() == 0
    assert runs == []
    deferring, _ = receiver_at("own", exits, defer=True)
    stored = deferring.handle(*delivery())
    assert stored.status_code == 202
    assert stored.delivery_id is not None
    with pytest.raises(kw.UsageError, match="non_atomic_requests"):  # noqa: SIM117
        with transaction.atomic():
            receiver.process(stored.delivery_id)
    assert list(Delivery.objects.values_list("state", flat=True)) == ["pending"]
    assert runs == []
    assert receiver.process(stored.delivery_id).status_code == 200  # outside it: handled
    assert len(runs) == 1


@pytest.mark.django_db  # a TestCase transaction (pytest-django's db), not the caller's own
def test_the_store_runs_inside_a_test_case_transaction(exits: ExitStack) -> None:
    receiver, _ = receiver_at("own", exits)
    runs: list[str] = []
    receiver.on("idenfy", "*")(lambda event: runs.append(event.delivery_key))
    assert receiver.handle(*delivery()).status_code == 200
    assert receiver.handle(*delivery()).duplicate
    assert len(runs) == 1


def test_the_store_refuses_to_run_with_autocommit_off(exits: ExitStack) -> None:
    # Review R26: with autocommit off (AUTOCOMMIT: False, transaction.set_autocommit(False)) no
    # atomic block is open, so the durable check passed, and nothing the store wrote was
    # committed: the caller's rollback (or the connection's end) lost deliveries answered 200.
    receiver, _ = receiver_at("own", exits)
    runs: list[str] = []
    receiver.on("idenfy", "*")(lambda event: runs.append(event.delivery_key))
    transaction.set_autocommit(False)
    try:
        with pytest.raises(kw.UsageError, match="autocommit off"):
            receiver.handle(*delivery())
    finally:
        transaction.rollback()
        transaction.set_autocommit(True)
    assert runs == []
    assert Delivery.objects.count() == 0
    assert receiver.handle(*delivery()).status_code == 200


def test_erasure_joins_the_callers_transaction(exits: ExitStack) -> None:
    # Review R26: the refusal must not reach erasure and retention -- a user's erasure view
    # under ATOMIC_REQUESTS worked before, and rolling an erasure back with the caller's own
    # deletions is right.
    receiver, _ = receiver_at("own", exits)
    receiver.on("idenfy", "*")(lambda event: None)
    outcome = receiver.handle(*delivery())
    assert outcome.delivery_id is not None
    store = receiver.store
    assert store is not None
    with transaction.atomic():
        assert store.erase(outcome.delivery_id)
    row = Delivery.objects.get(id=outcome.delivery_id)
    assert row.body is None
    with transaction.atomic():
        receiver.decisions.forget(client_ref="no-such-person")
        store.purge(older_than=timedelta(0))
    assert Delivery.objects.count() == 0
    second = receiver.handle(*delivery())
    assert second.delivery_id is not None
    with contextlib.suppress(RuntimeError), transaction.atomic():
        assert store.erase(second.delivery_id)
        raise RuntimeError("the caller's own failure")  # rolls the erasure back with it
    assert Delivery.objects.get(id=second.delivery_id).body is not None


def test_forget_of_a_person_with_unhandled_deliveries_joins_the_callers_transaction(
    exits: ExitStack,
) -> None:
    # forget() claims each unhandled delivery of the person before erasing it (so that no worker
    # reads the body meanwhile). Inside the caller's transaction.atomic() those claims were
    # refused with the "commits its own transactions" UsageError, so an erasure view under
    # ATOMIC_REQUESTS failed for anyone with a delivery still pending (DEFER, a failed retry).
    deferring, _ = receiver_at("own", exits, defer=True)
    runs: list[str] = []
    deferring.on("idenfy", "*")(lambda event: runs.append(event.delivery_key))
    body, headers = signed_delivery(
        "idenfy", "IDENTIFICATION_AUTO_FINISHED", KEY, clientId="person-z", scanRef="scan-z"
    )
    stored = deferring.handle(body, headers)
    assert stored.status_code == 202
    assert stored.delivery_id is not None

    with contextlib.suppress(RuntimeError), transaction.atomic():
        assert deferring.decisions.forget(client_ref="person-z") == [stored.delivery_id]
        row = Delivery.objects.get(id=stored.delivery_id)
        assert (row.body, row.state, row.last_error_type) == (None, "failed", "BodyErasedError")
        raise RuntimeError("the caller's own failure")  # rolls the erasure back with it
    row = Delivery.objects.get(id=stored.delivery_id)
    assert row.body is not None
    assert (row.state, row.lease_until, row.token) == ("pending", None, None)

    with transaction.atomic():
        assert deferring.decisions.forget(client_ref="person-z") == [stored.delivery_id]
    row = Delivery.objects.get(id=stored.delivery_id)
    assert (row.body, row.state, row.last_error_type) == (None, "failed", "BodyErasedError")
    assert (row.lease_until, row.token, row.attempts) == (None, None, 0)
    assert deferring.process_pending().processed == 0
    assert runs == []
    # The refusal still stands for what answers a delivery.
    with pytest.raises(kw.UsageError, match="commits its own transactions"):  # noqa: SIM117
        with transaction.atomic():
            deferring.handle(*delivery())


def _waits_for_a_row_lock(worker: threading.Thread) -> None:
    """Until another session of this test database waits for a row lock (PostgreSQL, MariaDB;
    SQLite's writer waits for the file: a second), bounded: the worker has read the row."""
    queries = {
        "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND datname = current_database() AND pid <> pg_backend_pid()",
        # MariaDB lists an autocommit statement waiting for a lock in the process list only.
        "mysql": "SELECT count(*) FROM information_schema.processlist WHERE id <> CONNECTION_ID() "
        "AND db = DATABASE() AND info LIKE 'UPDATE %kyc_webhooks_delivery%'",
    }
    deadline = time.monotonic() + 15.0
    while time.monotonic() < deadline:
        assert worker.is_alive(), "the worker did not wait for the erasure's transaction"
        if connection.vendor not in queries:
            time.sleep(1.0)
            return
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(queries[connection.vendor])
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    pytest.fail("the worker never waited for the row")


@pytest.mark.parametrize("worker", ["process", "redelivery"])
def test_a_worker_waiting_on_the_erasures_transaction_does_not_run_the_handlers(
    exits: ExitStack, worker: str
) -> None:
    # Review of forget() in the caller's transaction: the delivery is given back as it was but
    # for its body (failed, no token, the same attempts). A worker that had read the row, its
    # claim waiting on the row lock, won the claim once the caller committed (PostgreSQL and
    # MariaDB check the UPDATE's WHERE again then) and ran the handlers on the body it had read.
    receiver, _ = receiver_at("own", exits)
    runs: list[str] = []
    receiver.on("idenfy", "*")(lambda event: runs.append(event.delivery_key))
    body, headers = signed_delivery(
        "idenfy", "IDENTIFICATION_AUTO_FINISHED", KEY, clientId="person-w", scanRef="scan-w"
    )
    stored = receiver.handle(body, headers)
    assert stored.delivery_id is not None
    runs.clear()
    # A handler failed: waiting for its retry, back-off over.
    Delivery.objects.filter(id=stored.delivery_id).update(
        state="failed", attempts=1, last_error_type="RuntimeError", last_error_message="-"
    )
    answers: list[kw.Outcome] = []

    def work() -> None:
        try:
            if worker == "process":
                answers.append(receiver.process(stored.delivery_id or ""))
            else:
                answers.append(receiver.handle(body, headers))
        finally:
            connections.close_all()

    thread = threading.Thread(target=work)
    with transaction.atomic():
        assert receiver.decisions.forget(client_ref="person-w") == [stored.delivery_id]
        thread.start()
        _waits_for_a_row_lock(thread)
    thread.join(30)
    assert not thread.is_alive()
    assert runs == []
    assert [a.status_code for a in answers] in ([503], [410], [200])
    row = Delivery.objects.get(id=stored.delivery_id)
    assert (row.body, row.state, row.last_error_type) == (None, "failed", "BodyErasedError")


def test_forget_with_autocommit_off_refuses_to_claim_and_changes_nothing(
    exits: ExitStack,
) -> None:
    # With autocommit off no atomic block is open: a conflict in the erasure's give-back rolled
    # the caller's whole transaction back, and the store's retry then ran outside it.
    deferring, _ = receiver_at("own", exits, defer=True)
    body, headers = signed_delivery(
        "idenfy", "IDENTIFICATION_AUTO_FINISHED", KEY, clientId="person-y", scanRef="scan-y"
    )
    stored = deferring.handle(body, headers)
    assert stored.status_code == 202
    transaction.set_autocommit(False)
    try:
        with pytest.raises(kw.UsageError, match="autocommit off"):
            deferring.decisions.forget(client_ref="person-y")
    finally:
        transaction.rollback()
        transaction.set_autocommit(True)
    row = Delivery.objects.get(id=stored.delivery_id)
    assert row.body is not None
    assert (row.state, row.token) == ("pending", None)


def test_a_store_object_can_be_copied_and_pickled() -> None:
    # Review R26: Django's TestCase.setUpTestData deep-copies what a test class keeps; the store's
    # per-thread nesting counter made a DjangoStore uncopyable.
    import copy
    import pickle

    store = DjangoStore()
    assert isinstance(copy.deepcopy(store), DjangoStore)
    assert isinstance(pickle.loads(pickle.dumps(store)), DjangoStore)
