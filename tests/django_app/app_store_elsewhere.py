"""With ``KYC_WEBHOOKS['STORE']`` a SQLite file, a ``postgresql://`` URL or ``None``, the app's
tables are never written: the admin shows none of the app's models (not on its index, every page
of theirs refused, its actions too) and the system check ``kyc_webhooks.I001`` says where the
inbox is (review 11, finding 1). Was: the admin listed the empty Django tables -- a new pending
delivery was missing, and *Erase body* acted on rows that were not the inbox (Django app suite)."""

from __future__ import annotations

import hashlib
import io
import os
import shlex
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client, override_settings

from django_app.conftest import IDENFY_KEY, post_idenfy
from kyc_webhooks.integrations.django import checks
from kyc_webhooks.integrations.django.models import DecisionRecord, Delivery

pytestmark = pytest.mark.django_db(transaction=True)

VENDORS = {"idenfy": {"signing_key": IDENFY_KEY}}
ADMIN_PAGES = [
    "/admin/kyc_webhooks/",
    "/admin/kyc_webhooks/delivery/",
    "/admin/kyc_webhooks/decisionrecord/",
]
START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _superuser() -> Client:
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def _stale_row() -> Delivery:
    """A row in the app's table, as left from before the project changed its ``STORE``."""
    key = "idenfy:evt-stale"
    return Delivery.objects.create(
        id=uuid.uuid4().hex,
        key_hash=hashlib.sha256(key.encode()).hexdigest(),
        delivery_key=key,
        vendor="idenfy",
        event_type="IDENTIFICATION_MANUAL_FINISHED",
        state="done",
        received_at=START,
        updated_at=START,
        body=b'{"scanRef": "personal"}',
        headers=[],
    )


def _deliver() -> None:
    answer = post_idenfy()
    assert answer.status_code == 202


@pytest.mark.parametrize("kind", ["sqlite", "none"])
def test_the_admin_shows_no_table_that_is_not_the_inbox(kind: str, tmp_path: Path) -> None:
    store: Any = str(tmp_path / "inbox.sqlite3") if kind == "sqlite" else None
    client = _superuser()  # every permission: none of it reaches the pages below
    stale = _stale_row()
    setting = {"VENDORS": VENDORS, "STORE": store, "DEFER": store is not None}
    with override_settings(KYC_WEBHOOKS=setting):
        if store is not None:
            _deliver()  # a pending delivery in the SQLite inbox, none in the app's table
            assert Delivery.objects.count() == 1
        index = client.get("/admin/")
        assert index.status_code == 200
        page = index.content.decode()
        assert "/admin/kyc_webhooks/" not in page
        assert "KYC webhooks" not in page
        assert [client.get(url).status_code for url in ADMIN_PAGES] == [404, 403, 403]
        detail = f"/admin/kyc_webhooks/delivery/{stale.id}/change/"
        assert client.get(detail).status_code == 403
        assert client.get(f"/admin/kyc_webhooks/delivery/{stale.id}/delete/").status_code == 403
        for action in ("erase_body", "replay", "process_now", "delete_selected"):
            answer = client.post(
                ADMIN_PAGES[1], {"action": action, "index": "0", "_selected_action": [stale.id]}
            )
            assert answer.status_code == 403
    stale.refresh_from_db()
    assert bytes(stale.body) == b'{"scanRef": "personal"}'
    assert stale.replays == 0
    # The app's own store (the default): the same pages are the inbox.
    assert [client.get(url).status_code for url in ADMIN_PAGES] == [200, 200, 200]
    assert "/admin/kyc_webhooks/delivery/" in client.get("/admin/").content.decode()


@pytest.mark.parametrize("given", [str, Path], ids=["str", "pathlib"])
def test_the_system_check_says_where_the_inbox_is(tmp_path: Path, given: Any) -> None:
    # A pathlib.Path (BASE_DIR / "inbox.sqlite3") was said to be None: "deliveries are not stored".
    path = str(tmp_path / "inbox.sqlite3")
    with override_settings(KYC_WEBHOOKS={"VENDORS": VENDORS, "STORE": given(path)}):
        (found,) = checks.check_store_location()
        assert found.id == "kyc_webhooks.I001"
        assert found.msg == (
            f"the kyc_webhooks inbox is in {path} (KYC_WEBHOOKS['STORE']), not in the app's "
            "tables: the admin shows no kyc_webhooks model"
        )
        assert f"kyc-webhooks inbox --inbox {path} list" in str(found.hint)
        out, err = io.StringIO(), io.StringIO()
        call_command("check", stdout=out, stderr=err)  # an information: the check passes
        assert "kyc_webhooks.I001" in out.getvalue() + err.getvalue()
    with override_settings(KYC_WEBHOOKS={"VENDORS": VENDORS, "STORE": None}):
        (found,) = checks.check_store_location()
        assert found.id == "kyc_webhooks.I001"
        assert "deliveries are not stored" in found.msg
    assert checks.check_store_location() == []  # the app's own store


def test_the_system_check_quotes_the_path_in_its_command(tmp_path: Path) -> None:
    # A path with a space (or a shell character) was pasted unquoted: the command broke on it.
    path = str(tmp_path / "my inbox;x.sqlite3")
    with override_settings(KYC_WEBHOOKS={"VENDORS": VENDORS, "STORE": path}):
        (found,) = checks.check_store_location()
    command = str(found.hint).split("`")[1]
    assert shlex.split(command) == ["kyc-webhooks", "inbox", "--inbox", path, "list"]
    assert path in found.msg  # the message itself shows the path as it is


def test_the_system_check_shows_a_postgresql_store_without_its_password() -> None:
    url = "postgresql://app:hunter2@127.0.0.1:1/app"  # nothing connects: the receiver is lazy
    from kyc_webhooks.integrations.django.conf import project_receiver

    with override_settings(KYC_WEBHOOKS={"VENDORS": VENDORS, "STORE": url}):
        (found,) = checks.check_store_location()
        # The store's pool would retry port 1 until the process ends, its warnings landing after
        # pytest's summary line (which tests/test_django_app.py reads).
        store = project_receiver().store
        assert store is not None
        store.close()
    assert "postgresql://app:***@127.0.0.1:1/app" in found.msg
    assert "hunter2" not in found.msg + str(found.hint)


def test_the_decision_ledger_admin_is_hidden_with_another_store(tmp_path: Path) -> None:
    client = _superuser()
    DecisionRecord.objects.create(
        id=uuid.uuid4().hex,
        subject_hash="0" * 64,
        vendor="idenfy",
        subject="scan-1",
        status="approved",
        final=True,
        occurred_at=START,
        received_at=START,
        delivery_id="d" * 32,
        event_type="IDENTIFICATION_MANUAL_FINISHED",
    )
    record = DecisionRecord.objects.get()
    url = f"/admin/kyc_webhooks/decisionrecord/{record.pk}/change/"
    assert client.get(url).status_code == 200
    store = str(tmp_path / "inbox.sqlite3")
    with override_settings(KYC_WEBHOOKS={"VENDORS": VENDORS, "STORE": store}):
        assert client.get(url).status_code == 403


def test_the_process_command_exits_2_for_a_corrupt_store_file(tmp_path: Path) -> None:
    # As `kyc-webhooks process` does (review R57): a corrupt SQLite file does not pass by itself,
    # so not 3 ("store unavailable, run it again").
    from django.core.management.base import CommandError

    from _stores import corrupt_sqlite_store

    path = tmp_path / "inbox.sqlite3"
    corrupt_sqlite_store(path)
    setting = {"VENDORS": VENDORS, "STORE": str(path), "DEFER": True}
    with (
        override_settings(KYC_WEBHOOKS=setting),
        pytest.raises(CommandError, match="corrupt") as info,
    ):
        call_command("kyc_webhooks", "process", stdout=io.StringIO())
    assert info.value.returncode == 2


# Only in the suite that runs through PgBouncer (tests/test_django_app.py starts it when there
# is one): the others need no PgBouncer, and a skip there fails them.
if os.environ.get("KYC_TEST_DJANGO_DB") == "pgbouncer":

    def test_store_options_build_a_postgres_store_behind_pgbouncer() -> None:
        """``STORE_OPTIONS``: the keyword arguments of the store a URL builds. A PostgreSQL inbox
        behind PgBouncer needs ``pgbouncer=True``, which the setting could not pass: every delivery
        waited 5 s and got a 503."""
        from _postgres import drop_schema, new_schema, require_pgbouncer
        from kyc_webhooks.integrations.django.conf import project_receiver
        from kyc_webhooks.store import PostgresStore

        url, schema = require_pgbouncer(), new_schema()
        options = {"pgbouncer": True, "schema": schema}
        setting = {"VENDORS": VENDORS, "STORE": url, "STORE_OPTIONS": options, "DEFER": True}
        try:
            with override_settings(KYC_WEBHOOKS=setting):
                store = project_receiver().store
                assert isinstance(store, PostgresStore)
                assert (store.schema, store.pgbouncer) == (schema, True)
                _deliver()
                assert store.stats()["pending"] == 1
                assert Delivery.objects.count() == 0  # not the app's table
                (found,) = checks.check_store_location()
                assert f"--schema {schema} --pgbouncer list" in str(found.hint)
                store.close()
        finally:
            drop_schema(schema)


@pytest.mark.parametrize(
    ("store", "options", "message"),
    [
        (
            "postgresql://app@127.0.0.1:1/app",
            {"pgbouncr": True},
            "KYC_WEBHOOKS['STORE_OPTIONS']: PostgresStore got an unexpected keyword argument "
            "'pgbouncr' (did you mean 'pgbouncer'?)",
        ),
        (
            "django",
            {"pgbouncer": True},
            "KYC_WEBHOOKS['STORE_OPTIONS'] applies to a STORE that is a SQLite path or a "
            "postgresql:// URL, not 'django'",
        ),
        (
            None,
            {"durable": False},
            "KYC_WEBHOOKS['STORE_OPTIONS'] applies to a STORE that is a SQLite path or a "
            "postgresql:// URL, not None",
        ),
        (
            "SQLITE",
            ["durable"],
            "KYC_WEBHOOKS['STORE_OPTIONS'] must be a dict of the store's keyword arguments",
        ),
    ],
)
def test_store_options_that_cannot_apply_are_refused(
    tmp_path: Path, store: Any, options: Any, message: str
) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from kyc_webhooks.integrations.django.conf import project_receiver

    store = str(tmp_path / "inbox.sqlite3") if store == "SQLITE" else store
    setting = {"VENDORS": VENDORS, "STORE": store, "STORE_OPTIONS": options}
    with override_settings(KYC_WEBHOOKS=setting), pytest.raises(ImproperlyConfigured) as raised:
        project_receiver()
    assert str(raised.value).startswith(message)


def test_store_options_reach_a_sqlite_store(tmp_path: Path) -> None:

    path = tmp_path / "inbox.sqlite3"
    setting = {
        "VENDORS": VENDORS,
        "STORE": str(path),
        "STORE_OPTIONS": {"create": False},  # an existing store only: this file has none
    }
    path.write_bytes(b"")
    with override_settings(KYC_WEBHOOKS=setting):
        answer = post_idenfy()
        assert answer.status_code == 503  # the file holds no store and none is created
        assert path.read_bytes() == b""


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"clock": "utc_now"},
            "KYC_WEBHOOKS['STORE_OPTIONS']['clock'] must be a callable returning an aware "
            "datetime, or None",
        ),
        (
            {"pgbouncer": "false"},
            "KYC_WEBHOOKS['STORE_OPTIONS']['pgbouncer'] must be True or False",
        ),
        ({"create": 0}, "KYC_WEBHOOKS['STORE_OPTIONS']['create'] must be True or False"),
    ],
)
def test_store_options_of_the_wrong_type_are_refused(options: Any, message: str) -> None:
    """Values the store would take without a word: a clock that is not callable (the system
    check passed, every delivery was then a 503 and ``manage.py kyc_webhooks process`` died on
    a TypeError), a string for a flag (``"false"`` from an environment variable turned PgBouncer
    mode on). The store is never built: no server is needed."""
    from django.core.exceptions import ImproperlyConfigured

    from kyc_webhooks.integrations.django.conf import project_receiver

    setting = {
        "VENDORS": VENDORS,
        "STORE": "postgresql://app@127.0.0.1:1/app",
        "STORE_OPTIONS": options,
    }
    with override_settings(KYC_WEBHOOKS=setting), pytest.raises(ImproperlyConfigured) as raised:
        project_receiver()
    assert str(raised.value) == message
    with override_settings(KYC_WEBHOOKS=setting):
        assert [found.id for found in checks.check_settings()] == ["kyc_webhooks.E001"]


def test_a_store_url_the_store_refuses_is_not_blamed_on_store_options() -> None:
    """The store's own refusal of its target is about ``STORE``: it was reported as
    ``KYC_WEBHOOKS['STORE_OPTIONS']: PostgresStore target is not ...`` with no
    ``STORE_OPTIONS`` set (every TypeError of the constructor, UsageError included, was taken for
    an unknown option)."""
    from django.core.exceptions import ImproperlyConfigured

    from kyc_webhooks.integrations.django.conf import project_receiver

    setting = {"VENDORS": VENDORS, "STORE": "postgresql://[bad"}
    with override_settings(KYC_WEBHOOKS=setting), pytest.raises(ImproperlyConfigured) as raised:
        project_receiver()
    assert "STORE_OPTIONS" not in str(raised.value)
    assert "not a valid PostgreSQL connection string" in str(raised.value)
