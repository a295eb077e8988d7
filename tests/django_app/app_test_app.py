"""The Django app end to end through Django's own test client: settings, system checks, include()d
URLs, the inbox rows, signals, admin and management commands."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings

from kyc_webhooks.integrations.django import conf, signals
from kyc_webhooks.integrations.django.models import Delivery
from kyc_webhooks.testing import sample_payload, sign

KEY = "idenfy-test-key"
pytestmark = pytest.mark.django_db(transaction=True)


def post(client: Client, path: str, body: bytes, headers: dict[str, str]) -> Any:
    extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return client.post(path, data=body, content_type="application/json", headers=extra)


def idenfy(event_type: str = "IDENTIFICATION_MANUAL_FINISHED", **overrides: Any) -> Any:
    return sign(
        "idenfy", sample_payload("idenfy", event_type, **overrides), KEY, event_type=event_type
    )


# -- settings and checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (None, "KYC_WEBHOOKS is not set"),
        ({"VENDORS": {}}, "KYC_WEBHOOKS['VENDORS']"),
        ({"VENDORS": {"nope": {}}}, "unknown vendor 'nope'"),
        ({"VENDORS": {"idenfy": {"signing_key": ""}}}, "KYC_WEBHOOKS['VENDORS']['idenfy']"),
        ({"VENDORS": {"idenfy": {"secret": "x"}}}, "KYC_WEBHOOKS['VENDORS']['idenfy']"),
        # A misspelt key names the one meant (review R44).
        (
            {"VENDORS": {"idenfy": {"signing_kye": "x"}}},
            "unexpected keyword argument 'signing_kye' (did you mean 'signing_key'?)",
        ),
        ({"VENDORS": {"idenfy": {"signing_key": "k"}}, "DEFER": "yes"}, "KYC_WEBHOOKS['DEFER']"),
        ({"VENDORS": {"idenfy": {"signing_key": "k"}}, "STORAGE": "x"}, "unknown key(s) 'STORAGE'"),
        ({"VENDORS": {"idenfy": {"signing_key": "k"}}, "MAX_BODY_SIZE": 0}, "max_body_size"),
    ],
)
def test_invalid_settings_name_the_key(setting: Any, message: str) -> None:
    with override_settings(KYC_WEBHOOKS=setting), pytest.raises(ImproperlyConfigured) as info:
        conf.build_receiver(conf.read_settings())
    assert message in str(info.value)
    with override_settings(KYC_WEBHOOKS=setting):
        conf.reset()
        errors = [e for e in checks.run_checks() if e.id.startswith("kyc_webhooks")]
    assert [e.id for e in errors] == ["kyc_webhooks.E001"]
    assert message in errors[0].msg


def test_valid_settings_pass_the_checks() -> None:
    assert [e for e in checks.run_checks() if e.id.startswith("kyc_webhooks")] == []
    call_command("check", stdout=io.StringIO())


def test_an_async_handler_under_the_sync_view_fails_the_checks() -> None:
    from kyc_webhooks.integrations.django import receiver

    async def on_async(event: Any) -> None: ...

    receiver.on("idenfy")(on_async)
    errors = [e for e in checks.run_checks() if e.id == "kyc_webhooks.E002"]
    assert len(errors) == 1
    assert "on_async" in errors[0].msg
    with pytest.raises(CommandError):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())


# -- deliveries through the include()d URLs --------------------------------------------------


@pytest.mark.parametrize("path", ["/webhooks/idenfy", "/webhooks/idenfy/", "/webhooks/"])
def test_signed_delivery_is_handled_once_and_stored(path: str) -> None:
    from kyc_webhooks.integrations.django import receiver

    seen: list[str] = []
    receiver.on("idenfy")(lambda event: seen.append(event.event_type))
    body, headers = idenfy()
    client = Client()
    first = post(client, path, body, headers)
    again = post(client, path, body, headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert json.loads(again.content).get("duplicate") is True
    assert seen == ["IDENTIFICATION_MANUAL_FINISHED"]
    row = Delivery.objects.get()
    assert row.state == "done"
    assert bytes(row.body) == body
    assert "idenfy-signature" not in {name for name, _ in row.headers}


def test_tampered_delivery_is_401_and_stores_nothing() -> None:
    body, headers = idenfy()
    response = post(Client(), "/webhooks/idenfy", body.replace(b"}", b" }", 1), headers)
    assert response.status_code == 401
    assert Delivery.objects.count() == 0


def test_every_vendor_through_the_detecting_url() -> None:
    secrets = {"complycube": "complycube-test-secret", "identomat": "identomat-test-key"}
    deliveries = [
        sign(
            "complycube",
            sample_payload("complycube", "check.completed.clear"),
            secrets["complycube"],
        ),
        sign("identomat", sample_payload("identomat", "session-change"), secrets["identomat"]),
        sign("yoti", sample_payload("yoti", "session_completion"), "user:pass"),
        idenfy(),
    ]
    client = Client()
    for body, headers in deliveries:
        assert post(client, "/webhooks/", body, headers).status_code == 200
    assert sorted(Delivery.objects.values_list("vendor", flat=True)) == [
        "complycube",
        "idenfy",
        "identomat",
        "yoti",
    ]


def test_webhook_received_signal_gets_the_typed_event() -> None:
    got: list[Any] = []

    def on_signal(sender: Any, event: Any, **kwargs: Any) -> None:
        got.append((sender, event))

    signals.webhook_received.connect(on_signal)
    try:
        body, headers = idenfy()
        assert post(Client(), "/webhooks/idenfy", body, headers).status_code == 200
    finally:
        signals.webhook_received.disconnect(on_signal)
    assert len(got) == 1
    sender, event = got[0]
    assert sender is type(event)
    assert event.event_type == "IDENTIFICATION_MANUAL_FINISHED"


def test_a_failing_signal_receiver_fails_the_delivery_and_it_is_retried() -> None:
    calls: list[int] = []

    def boom(sender: Any, event: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("downstream down")

    signals.webhook_received.connect(boom)
    try:
        body, headers = idenfy()
        client = Client()
        assert post(client, "/webhooks/idenfy", body, headers).status_code == 500
        assert Delivery.objects.get().state == "failed"
        assert post(client, "/webhooks/idenfy", body, headers).status_code == 200
    finally:
        signals.webhook_received.disconnect(boom)
    assert Delivery.objects.get().state == "done"
    assert len(calls) == 2


def test_webhook_received_is_sent_again_on_a_retry_and_never_for_a_duplicate() -> None:
    # As docs/django.md says: not "exactly once per delivery that succeeds" -- a receiver that
    # ran before another one failed runs again on the retry, like every handler.
    first: list[int] = []
    second: list[int] = []

    def counts(sender: Any, event: Any, **kwargs: Any) -> None:
        first.append(1)

    def fails_once(sender: Any, event: Any, **kwargs: Any) -> None:
        second.append(1)
        if len(second) == 1:
            raise RuntimeError("downstream down")

    signals.webhook_received.connect(counts)
    signals.webhook_received.connect(fails_once)
    try:
        body, headers = idenfy()
        client = Client()
        answers = [post(client, "/webhooks/idenfy", body, headers) for _ in range(3)]
    finally:
        signals.webhook_received.disconnect(counts)
        signals.webhook_received.disconnect(fails_once)
    assert [a.status_code for a in answers] == [500, 200, 200]
    assert json.loads(answers[2].content).get("duplicate") is True
    assert (len(first), len(second)) == (2, 2)


# -- admin -------------------------------------------------------------------------------------


def _staff(*perms: str) -> Client:
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    for codename in ("view_delivery", *perms):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client


def test_admin_hides_bodies_without_the_permission() -> None:
    body, headers = idenfy()
    post(Client(), "/webhooks/idenfy", body, headers)
    row = Delivery.objects.get()
    payload = json.loads(body)
    client = _staff()
    listing = client.get("/admin/kyc_webhooks/delivery/?state__exact=done&vendor__exact=idenfy")
    assert listing.status_code == 200
    assert row.id.encode() in listing.content
    detail = client.get(f"/admin/kyc_webhooks/delivery/{row.id}/change/?raw=1")
    assert detail.status_code == 200
    assert payload["scanRef"].encode() not in detail.content or b"masked" not in detail.content
    assert payload["data"]["docLastName"].encode() not in detail.content
    search = client.get(f"/admin/kyc_webhooks/delivery/?q={row.delivery_key}")
    assert row.id.encode() in search.content


def test_admin_body_permission_shows_masked_then_raw_with_a_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body, headers = idenfy()
    post(Client(), "/webhooks/idenfy", body, headers)
    row = Delivery.objects.get()
    last_name = json.loads(body)["data"]["docLastName"].encode()
    client = _staff("view_delivery_body")
    with caplog.at_level(logging.WARNING, logger="kyc_webhooks.django.admin"):
        masked = client.get(f"/admin/kyc_webhooks/delivery/{row.id}/change/")
    assert b"redacted" in masked.content
    assert last_name not in masked.content
    assert not [r for r in caplog.records if "raw body viewed" in r.getMessage()]
    with caplog.at_level(logging.WARNING, logger="kyc_webhooks.django.admin"):
        raw = client.get(f"/admin/kyc_webhooks/delivery/{row.id}/change/?raw=1")
    assert last_name in raw.content
    user = User.objects.get(username="staff")
    # One line per page view, naming who viewed it (an audit counts these lines).
    assert [r.getMessage() for r in caplog.records if "raw body viewed" in r.getMessage()] == [
        f"raw body viewed delivery_id={row.id} user_id={user.pk}"
    ]


def test_admin_erase_action_needs_change_permission_and_erases() -> None:
    body, headers = idenfy()
    post(Client(), "/webhooks/idenfy", body, headers)
    row = Delivery.objects.get()
    data = {"action": "erase_body", "_selected_action": [row.id]}
    viewer = _staff()
    viewer.post("/admin/kyc_webhooks/delivery/", data)
    assert Delivery.objects.get().body is not None
    User.objects.all().delete()
    operator = _staff("change_delivery")
    operator.post("/admin/kyc_webhooks/delivery/", data)
    assert Delivery.objects.get().body is None


# -- management commands -----------------------------------------------------------------------


@override_settings(KYC_WEBHOOKS={"VENDORS": {"idenfy": {"signing_key": KEY}}, "DEFER": True})
def test_deferred_deliveries_are_processed_by_the_command() -> None:
    from kyc_webhooks.integrations.django import receiver

    seen: list[str] = []
    receiver.on("idenfy")(lambda event: seen.append(event.delivery_key))
    body, headers = idenfy()
    assert post(Client(), "/webhooks/idenfy", body, headers).status_code == 202
    assert Delivery.objects.get().state == "pending"
    out = io.StringIO()
    call_command("kyc_webhooks", "process", stdout=out)
    assert "1 succeeded" in out.getvalue()
    assert Delivery.objects.get().state == "done"
    assert len(seen) == 1
    out = io.StringIO()
    call_command("kyc_webhooks", "stats", stdout=out)
    assert "done: 1" in out.getvalue()


def test_replay_purge_and_erase_commands() -> None:
    body, headers = idenfy()
    post(Client(), "/webhooks/idenfy", body, headers)
    row = Delivery.objects.get()
    out = io.StringIO()
    call_command("kyc_webhooks", "replay", row.id, "--force", stdout=out)
    assert out.getvalue().startswith("200 replayed")
    assert Delivery.objects.get().replays == 1
    Delivery.objects.update(received_at=row.received_at - timedelta(days=40))
    out = io.StringIO()
    call_command("kyc_webhooks", "erase-bodies", "--older-than", "30d", "--dry-run", stdout=out)
    assert "would erase 1 body" in out.getvalue()
    assert Delivery.objects.get().body is not None
    call_command("kyc_webhooks", "erase-bodies", "--older-than", "30d", stdout=io.StringIO())
    assert Delivery.objects.get().body is None
    out = io.StringIO()
    call_command("kyc_webhooks", "purge", "--older-than", "90d", stdout=out)
    assert "purged 0" in out.getvalue()
    call_command("kyc_webhooks", "purge", "--older-than", "30d", stdout=io.StringIO())
    assert Delivery.objects.count() == 0


def test_command_errors_use_the_cli_exit_codes() -> None:
    with pytest.raises(CommandError) as info:
        call_command("kyc_webhooks", "replay", "0" * 32, stdout=io.StringIO())
    assert info.value.returncode == 2  # an unknown id: a usage error, as in the CLI
    with pytest.raises(CommandError):
        call_command("kyc_webhooks", "purge", "--older-than", "soon", stdout=io.StringIO())


def test_migrations_are_complete() -> None:
    call_command("makemigrations", "kyc_webhooks", "--check", "--dry-run", stdout=io.StringIO())


def test_the_admin_deletes_no_inbox_record_even_with_the_delete_permission() -> None:
    """Deleting a record lost a delivery not handled yet, or its deduplication (a done one's
    redelivery ran the handlers again): "Delete selected" was open to any staff user with
    delete_delivery (review R32). Records go with retention (purge); bodies with erasure."""
    body, headers = idenfy()
    post(Client(), "/webhooks/idenfy", body, headers)
    row = Delivery.objects.get()
    client = _staff("delete_delivery", "change_delivery")
    assert client.get(f"/admin/kyc_webhooks/delivery/{row.id}/delete/").status_code == 403
    listing = client.get("/admin/kyc_webhooks/delivery/")
    assert listing.status_code == 200
    assert b"delete_selected" not in listing.content
    answer = client.post(
        "/admin/kyc_webhooks/delivery/",
        {"action": "delete_selected", "_selected_action": [row.id], "post": "yes"},
    )
    assert answer.status_code in (200, 302)
    assert Delivery.objects.filter(id=row.id).exists()


def test_admin_process_now_and_replay_actions_run_the_handlers() -> None:
    from kyc_webhooks.integrations.django import receiver

    calls: list[str] = []

    @receiver.on("idenfy")
    def flaky(event: Any) -> None:
        calls.append(event.event_type)
        if len(calls) == 1:
            raise RuntimeError("downstream down")

    body, headers = idenfy()
    assert post(Client(), "/webhooks/idenfy", body, headers).status_code == 500
    row = Delivery.objects.get()
    assert row.state == "failed"
    Delivery.objects.update(not_before=None)  # an operator does not wait for the back-off
    operator = _staff("change_delivery")
    data = {"action": "process_now", "_selected_action": [row.id]}
    operator.post("/admin/kyc_webhooks/delivery/", data)
    assert Delivery.objects.get().state == "done"
    assert len(calls) == 2
    operator.post("/admin/kyc_webhooks/delivery/", {**data, "action": "replay"})
    assert Delivery.objects.get().replays == 1
    assert len(calls) == 3
    # processing a done delivery again is a no-op
    operator.post("/admin/kyc_webhooks/delivery/", data)
    assert len(calls) == 3


# Django's test clients disconnect close_old_connections from request_finished (to keep the test's
# transaction), so the connection of the thread that served the async request is left for the
# garbage collector; a real ASGI server closes it at the end of the request.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_async_setting_serves_async_handlers_through_the_async_client() -> None:
    import asyncio
    import inspect

    from django.test import AsyncClient

    from django_app.conftest import async_app_views
    from kyc_webhooks.integrations.django import urls as app_urls

    body, headers = idenfy()
    extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    seen: list[str] = []

    async def on_async(event: Any) -> None:
        seen.append(event.event_type)

    async def send() -> Any:
        from asgiref.sync import sync_to_async
        from django.db import connections

        try:
            return await AsyncClient().post(
                "/webhooks/idenfy", data=body, content_type="application/json", headers=extra
            )
        finally:
            # The ORM ran in asgiref's worker thread: close that thread's connection.
            await sync_to_async(connections.close_all)()

    with async_app_views({"VENDORS": {"idenfy": {"signing_key": KEY}}, "ASYNC": True}):
        assert inspect.iscoroutinefunction(app_urls.receive)
        from kyc_webhooks.integrations.django import receiver

        receiver.on("idenfy")(on_async)
        assert [e for e in checks.run_checks() if e.id.startswith("kyc_webhooks")] == []
        response = asyncio.run(send())
        assert response.status_code == 200
        assert seen == ["IDENTIFICATION_MANUAL_FINISHED"]
        assert Delivery.objects.get().state == "done"
    assert not inspect.iscoroutinefunction(app_urls.receive)  # back on the sync views


def test_store_setting_names_a_sqlite_file_or_a_postgresql_url(tmp_path: Any) -> None:
    from kyc_webhooks.store import SQLiteStore

    vendors = {"idenfy": {"signing_key": KEY}}
    path = str(tmp_path / "inbox.sqlite3")
    receiver = conf.build_receiver({"VENDORS": vendors, "STORE": path})
    assert isinstance(receiver.store, SQLiteStore)
    body, headers = idenfy()
    assert receiver.handle(body, headers).status_code == 200
    assert receiver.store.stats()["done"] == 1
    receiver.store.close()
    # A pathlib.Path, as Django's settings write database paths (BASE_DIR / "..."): was refused.
    by_path = conf.build_receiver({"VENDORS": vendors, "STORE": tmp_path / "inbox.sqlite3"})
    assert isinstance(by_path.store, SQLiteStore)
    assert by_path.store.stats()["done"] == 1  # the same file
    by_path.store.close()
    assert conf.build_receiver({"VENDORS": vendors, "STORE": None}).store is None
    with pytest.raises(ImproperlyConfigured, match=r"KYC_WEBHOOKS\['STORE'\]"):
        conf.build_receiver({"VENDORS": vendors, "STORE": 42})


@pytest.mark.parametrize(
    ("store", "message"),
    [
        ("Django", "write 'django'"),
        ("django ", "write 'django'"),
        (" DJANGO", "write 'django'"),
        ("inbox.sqlite3", "relative path to a SQLite file that does not exist"),
        ("sqlite:///inbox.sqlite3", "sqlite:///inbox.sqlite3 is a URL that PostgreSQL does not"),
        ("host=db password=hunter2", "relative path to a SQLite file that does not exist"),
        # The CLI's rule and message for a URL libpq does not read, its password masked. Was:
        # "a relative path to a SQLite file that does not exist".
        (
            "postgresql+psycopg://u:hunter2@db/app",
            "postgresql+psycopg://u:***@db/app is a URL that PostgreSQL does not read",
        ),
        ("POSTGRESQL://u:hunter2@db/app", "POSTGRESQL://u:***@db/app is a URL that PostgreSQL"),
    ],
)
def test_store_setting_that_would_open_a_stray_sqlite_inbox_is_refused(
    store: str, message: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A typo of "django" or a relative path would create an empty SQLite inbox in the server's
    # current directory (a different one for runserver, gunicorn and the worker).
    monkeypatch.chdir(tmp_path)
    setting = {"VENDORS": {"idenfy": {"signing_key": KEY}}, "STORE": store}
    with pytest.raises(ImproperlyConfigured, match=r"KYC_WEBHOOKS\['STORE'\]") as info:
        conf.build_receiver(setting)
    assert message in str(info.value)
    assert "hunter2" not in str(info.value)
    with override_settings(KYC_WEBHOOKS=setting):
        conf.reset()
        errors = [e for e in checks.run_checks() if e.id.startswith("kyc_webhooks")]
    assert [e.id for e in errors] == ["kyc_webhooks.E001"]
    assert list(tmp_path.iterdir()) == []


def test_store_setting_takes_an_existing_sqlite_file_by_a_relative_path(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kyc_webhooks.store import SQLiteStore

    SQLiteStore(str(tmp_path / "inbox.sqlite3")).close()  # e.g. made by `kyc-webhooks migrate`
    monkeypatch.chdir(tmp_path)
    store = conf.build_receiver(
        {"VENDORS": {"idenfy": {"signing_key": KEY}}, "STORE": "inbox.sqlite3"}
    ).store
    assert isinstance(store, SQLiteStore)
    store.close()


def test_store_setting_with_a_postgresql_url_builds_a_postgres_store() -> None:
    import os

    from kyc_webhooks.store import PostgresStore

    dsn = os.environ.get("KYC_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
    store = conf.build_receiver({"VENDORS": {"idenfy": {"signing_key": KEY}}, "STORE": dsn}).store
    try:
        assert isinstance(store, PostgresStore)
    finally:
        if store is not None:
            store.close()


@override_settings(KYC_WEBHOOKS={"VENDORS": {"idenfy": {"signing_key": KEY}}, "DEFER": True})
def test_process_loop_runs_rounds_until_stopped() -> None:
    from kyc_webhooks.integrations.django import receiver

    seen: list[str] = []
    receiver.on("idenfy")(lambda event: seen.append(event.delivery_key))
    for overall in ("APPROVED", "DENIED"):
        body, headers = idenfy(status__overall=overall)
        assert post(Client(), "/webhooks/idenfy", body, headers).status_code == 202
    out = io.StringIO()
    call_command(
        "kyc_webhooks", "process", "--loop", "--interval", "0.01", "--max-rounds", "3", stdout=out
    )
    assert "2 succeeded" in out.getvalue()
    assert len(seen) == 2
    assert set(Delivery.objects.values_list("state", flat=True)) == {"done"}


def test_admin_lists_the_ledger_read_only_and_masks_identomat_subjects() -> None:
    from kyc_webhooks.integrations.django.models import DecisionRecord

    session = "ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp"
    payload = sample_payload("identomat", "session-change", result="APPROVED", sessionId=session)
    body, headers = sign("identomat", payload, "identomat-test-key")
    assert post(Client(), "/webhooks/identomat", body, headers).status_code == 200
    body, headers = idenfy(status__overall="APPROVED")
    assert post(Client(), "/webhooks/idenfy", body, headers).status_code == 200
    client = _staff("view_decisionrecord")
    listing = client.get("/admin/kyc_webhooks/decisionrecord/")
    assert listing.status_code == 200
    assert session.encode() not in listing.content
    assert b"APPROVED" in listing.content
    row = DecisionRecord.objects.get(vendor="idenfy")
    assert row.subject.encode() in listing.content
    assert client.get(f"/admin/kyc_webhooks/decisionrecord/{row.id}/delete/").status_code == 403


# -- async handlers: checks, the management command and the admin actions --------------------


def test_an_async_decision_handler_under_the_sync_view_fails_the_checks() -> None:
    from kyc_webhooks.integrations.django import receiver

    async def on_decided(decision: Any) -> None: ...

    receiver.on_decision()(on_decided)
    errors = [e for e in checks.run_checks() if e.id == "kyc_webhooks.E002"]
    assert len(errors) == 1
    assert "on_decided" in errors[0].msg


@override_settings(KYC_WEBHOOKS={"VENDORS": {"idenfy": {"signing_key": KEY}}, "DEFER": True})
def test_async_handlers_pass_the_checks_when_deliveries_are_deferred() -> None:
    # The sync view only stores a deferred delivery; `kyc_webhooks process` awaits the handlers.
    from kyc_webhooks.integrations.django import receiver

    async def on_async(event: Any) -> None: ...

    receiver.on("idenfy")(on_async)
    assert [e for e in checks.run_checks() if e.id.startswith("kyc_webhooks")] == []


def _async_handlers(seen: list[str]) -> None:
    from kyc_webhooks.integrations.django import receiver

    async def on_event(event: Any) -> None:
        seen.append("event")

    async def on_decided(decision: Any) -> None:
        seen.append("decision")

    receiver.on("idenfy")(on_event)
    receiver.on_decision()(on_decided)


@override_settings(KYC_WEBHOOKS={"VENDORS": {"idenfy": {"signing_key": KEY}}, "DEFER": True})
@pytest.mark.parametrize("loop", [False, True])
def test_the_process_and_replay_commands_await_async_handlers(loop: bool) -> None:
    seen: list[str] = []
    _async_handlers(seen)
    body, headers = idenfy(status__overall="APPROVED")
    assert post(Client(), "/webhooks/idenfy", body, headers).status_code == 202
    out = io.StringIO()
    rounds = ("--loop", "--interval", "0.01", "--max-rounds", "2") if loop else ()
    call_command("kyc_webhooks", "process", *rounds, stdout=out)
    assert "1 succeeded" in out.getvalue()
    row = Delivery.objects.get()
    assert (row.state, row.attempts) == ("done", 1)
    assert seen == ["event", "decision"]
    out = io.StringIO()
    call_command("kyc_webhooks", "replay", row.id, "--force", stdout=out)
    assert out.getvalue().startswith("200 replayed")
    assert seen[2:] == ["event"]  # a replay changes no decision


@override_settings(KYC_WEBHOOKS={"VENDORS": {"idenfy": {"signing_key": KEY}}, "DEFER": True})
def test_the_admin_actions_await_async_handlers() -> None:
    seen: list[str] = []
    _async_handlers(seen)
    body, headers = idenfy(status__overall="APPROVED")
    assert post(Client(), "/webhooks/idenfy", body, headers).status_code == 202
    row = Delivery.objects.get()
    operator = _staff("change_delivery")
    data = {"action": "process_now", "_selected_action": [row.id]}
    operator.post("/admin/kyc_webhooks/delivery/", data)
    assert Delivery.objects.get().state == "done"
    assert seen == ["event", "decision"]
    operator.post("/admin/kyc_webhooks/delivery/", {**data, "action": "replay"})
    assert Delivery.objects.get().replays == 1
    assert seen[2:] == ["event"]


# -- a client that disconnects in the middle of the body --------------------------------------


def test_a_client_gone_mid_body_gets_a_bare_400_and_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from django.core.handlers.wsgi import WSGIHandler

    class Dropped(io.RawIOBase):
        """The socket of a sender that went away: every read fails."""

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            raise ConnectionResetError(104, "Connection reset by peer")

    body, headers = idenfy()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/webhooks/idenfy",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()},
        "wsgi.input": io.BufferedReader(Dropped()),
        "wsgi.errors": io.StringIO(),
    }
    started: list[str] = []
    with caplog.at_level(logging.WARNING):
        chunks = WSGIHandler()(environ, lambda status, headers: started.append(status))
    assert started == ["400 Bad Request"]
    assert b"".join(chunks) == b""
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert Delivery.objects.count() == 0


def test_an_async_decision_handler_under_the_sync_view_is_a_json_500_not_an_html_page(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A server started without `manage.py check` (gunicorn): the request that builds the sync
    # view is answered as the adapters answer a misconfiguration, with one log line naming it.
    from kyc_webhooks.integrations.django import receiver

    async def on_decided(decision: Any) -> None: ...

    receiver.on_decision()(on_decided)
    body, headers = idenfy()
    with caplog.at_level(logging.ERROR):
        response = post(Client(raise_request_exception=False), "/webhooks/idenfy", body, headers)
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["ok"] is False
    ours = [r for r in caplog.records if r.name == "kyc_webhooks"]
    assert len(ours) == 1
    assert "on_decided" in ours[0].getMessage()
    # Django's request logger notes every 5xx in one line; no traceback anywhere.
    assert not [r for r in caplog.records if r.exc_info]
    assert Delivery.objects.count() == 0
