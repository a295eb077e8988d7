"""``inbox`` and ``process`` read an existing store and never make one: not in a SQLite file that
holds something else (a Django project's ``db.sqlite3``, a mistyped path to another database),
not in a PostgreSQL schema. ``inbox --schema`` reads a store in a schema of its own. A database
that holds the Django app's inbox, and a Django module imported outside ``manage.py``, point to
``python manage.py kyc_webhooks``."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import kyc_webhooks as kw
from _postgres import own_database, user_schemas
from _stores import corrupt_sqlite_store
from kyc_webhooks import cli, testing
from kyc_webhooks.store import PostgresStore, SQLiteStore, Store

SECRET = "cli-existing-stores-secret"
SRC = str(Path(kw.__file__).resolve().parents[1])
#: The Django app's inbox table (``kyc_webhooks.integrations.django``), as its migration makes it.
DJANGO_INBOX = (
    "CREATE TABLE kyc_webhooks_delivery (id varchar(32) NOT NULL PRIMARY KEY, "
    "vendor varchar(32) NOT NULL, event_type varchar(128) NOT NULL, body bytea)"
)
APP = """
import kyc_webhooks as kw
from kyc_webhooks import testing

receiver = kw.Receiver(*testing.make_vendors({{"complycube": "{secret}"}}))
receiver.on("complycube")(lambda event: None)
"""


@pytest.fixture(autouse=True)
def in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KYC_WEBHOOKS_INBOX", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.fixture
def app(tmp_path: Path) -> str:
    name = f"kwexisting_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(APP.format(secret=SECRET))
    return f"{name}:receiver"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _store_one(store: Store) -> str:
    receiver = kw.Receiver(*testing.make_vendors({"complycube": SECRET}), store=store, defer=True)
    body, headers = testing.signed_delivery("complycube", "check.completed", SECRET, id="chk-1")
    outcome = receiver.handle(body, headers)
    assert outcome.status_code == 202
    assert outcome.delivery_id is not None
    return outcome.delivery_id


def _tables(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ).fetchall()
    conn.close()
    return [row[0] for row in rows]


def _commands(path: str, app: str) -> list[list[str]]:
    """Every command that reads or changes an existing store."""
    inbox = ["inbox", "--inbox", path]
    return [
        [*inbox, "list"],
        [*inbox, "show", "0123456789abcdef"],
        [*inbox, "replay", "0123456789abcdef", "--app", app],
        [*inbox, "erase", "--older-than", "0d", "--yes"],
        [*inbox, "purge", "--all", "--yes"],
        ["process", "--store", path, "--app", app],
    ]


def test_a_sqlite_file_without_a_store_is_refused_and_left_unchanged(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, app: str
) -> None:
    """They used to create the store's tables in it and report an empty inbox, "processed 0",
    "erased the bodies of 0 deliveries" (exit 0), while the real inbox was elsewhere."""
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE app_users (id INTEGER PRIMARY KEY)")
    conn.close()
    before = other.read_bytes()
    for argv in _commands("other.sqlite3", app):
        code, out, err = run(capsys, *argv)
        assert code == cli.EXIT_USAGE, (argv, out, err)
        assert out == ""
        what, option = ("store", "--store") if argv[0] == "process" else ("inbox", "--inbox")
        assert err == (
            f"kyc-webhooks: error: no {what} in other.sqlite3: the file holds no kyc-webhooks "
            f"store; nothing was created in it (check the path of {option})\n"
        )
        assert _tables(other) == ["app_users"]
        assert other.read_bytes() == before
    assert sorted(p.name for p in tmp_path.glob("*.sqlite3*")) == ["other.sqlite3"]
    # A real store still works; `migrate` (and `serve`) still create one.
    code, _, err = run(capsys, "migrate", "--store", "other.sqlite3")
    assert code == cli.EXIT_OK, err
    with SQLiteStore(other) as store:
        _store_one(store)
    code, out, err = run(capsys, "process", "--store", "other.sqlite3", "--app", app)
    assert code == cli.EXIT_OK, err
    assert out == "processed 1: 1 succeeded, 0 failed\n"
    code, out, err = run(capsys, "inbox", "--inbox", "other.sqlite3", "list", "--quiet")
    assert code == cli.EXIT_OK, err
    assert out == "1 shown of 1 stored (newest first)\n"


def test_a_django_projects_sqlite_database_points_to_manage_py(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, app: str
) -> None:
    """A Django project on SQLite keeps its inbox in db.sqlite3, table kyc_webhooks_delivery."""
    database = tmp_path / "db.sqlite3"
    with sqlite3.connect(database) as conn:
        conn.execute(DJANGO_INBOX.replace("bytea", "blob"))
        conn.execute("INSERT INTO kyc_webhooks_delivery VALUES ('a1', 'idenfy', 'X', x'7b7d')")
    conn.close()
    before = database.read_bytes()
    for argv in _commands("db.sqlite3", app):
        code, out, err = run(capsys, *argv)
        assert code == cli.EXIT_USAGE, (argv, out, err)
        assert out == ""
        assert err.startswith("kyc-webhooks: error: no ")
        assert "this database holds the Django app's inbox, table kyc_webhooks_delivery" in err
        if argv[0] == "process":
            assert "use `python manage.py kyc_webhooks process` in the Django project" in err
        else:
            assert "use `python manage.py kyc_webhooks` (process, replay, purge, " in err
        assert _tables(database) == ["kyc_webhooks_delivery"]
        assert database.read_bytes() == before


def test_inbox_reads_a_store_in_its_own_schema_and_never_creates_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`inbox` had no --schema: a PostgresStore(schema="app_prod") could not be read, and the
    hint said to create the default schema's store, which then listed nothing (exit 0)."""
    with own_database() as url:
        with PostgresStore(url, schema="app_prod") as store:
            delivery_id = _store_one(store)
        code, out, err = run(capsys, "inbox", "--inbox", url, "list")
        assert code == cli.EXIT_USAGE, err
        assert out == ""
        assert err == (
            f"kyc-webhooks: error: no inbox in schema 'kyc_webhooks' at {url}; nothing was "
            "created in it (check the URL of --inbox and --schema)\n"
        )
        assert "migrate" not in err
        assert user_schemas(url) == ["app_prod"]
        # --schema before or after the action.
        for argv in (
            ["inbox", "--inbox", url, "--schema", "app_prod", "list", "--quiet"],
            ["inbox", "list", "--inbox", url, "--schema", "app_prod", "--quiet"],
        ):
            code, out, err = run(capsys, *argv)
            assert code == cli.EXIT_OK, err
            assert out == "1 shown of 1 stored (newest first)\n"
        code, out, err = run(capsys, "inbox", "--inbox", url, "--schema", "app_prod", "show",
                             delivery_id[:8])  # fmt: skip
        assert code == cli.EXIT_OK, err
        assert f"id: {delivery_id}" in out
        # A schema without a store, named or the default: refused, nothing created.
        code, _, err = run(capsys, "inbox", "--inbox", url, "--schema", "app_prdo", "list")
        assert code == cli.EXIT_USAGE, err
        assert "no inbox in schema 'app_prdo' at " in err
        assert user_schemas(url) == ["app_prod"]
        # The database of a Django project (the app's own table, in public).
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(DJANGO_INBOX)
        code, _, err = run(capsys, "inbox", "--inbox", url, "list")
        assert code == cli.EXIT_USAGE, err
        assert err == (
            f"kyc-webhooks: error: no inbox in schema 'kyc_webhooks' at {url}; nothing was "
            "created in it (this database holds the Django app's inbox, table "
            "kyc_webhooks_delivery: use `python manage.py kyc_webhooks` (process, replay, purge, "
            "erase-bodies, forget, stats) or the Django admin in the Django project)\n"
        )
        assert user_schemas(url) == ["app_prod"]
    # --schema names a PostgreSQL schema: refused with a SQLite inbox, as by `process`.
    SQLiteStore("inbox.sqlite3").close()
    code, _, err = run(capsys, "inbox", "--inbox", "inbox.sqlite3", "--schema", "x", "list")
    assert code == cli.EXIT_USAGE
    assert err == "kyc-webhooks: error: --schema applies to a postgresql:// --inbox only\n"


@pytest.mark.parametrize("schema", ["", " "])
def test_an_empty_schema_is_refused_not_read_as_the_default(
    capsys: pytest.CaptureFixture[str], schema: str
) -> None:
    """``--schema "$SCHEMA"`` with the variable unset was the default schema: migrate created the
    store's tables there, and inbox read it."""
    with own_database() as url:
        commands: list[tuple[str, ...]] = [
            ("migrate", "--store", url, "--schema", schema),
            ("inbox", "--inbox", url, "--schema", schema, "list"),
        ]
        for argv in commands:
            code, out, err = run(capsys, *argv)
            assert code == cli.EXIT_USAGE, err
            assert out == ""
            assert err == (
                "kyc-webhooks: error: --schema is empty: name a schema, or leave the option out "
                "for the default\n"
            )
        assert user_schemas(url) == []
    code, _, err = run(capsys, "inbox", "--inbox", "inbox.sqlite3", "--schema", schema, "list")
    assert code == cli.EXIT_USAGE
    assert err == "kyc-webhooks: error: --schema applies to a postgresql:// --inbox only\n"


def test_process_on_a_django_projects_postgresql_database_points_to_manage_py(
    capsys: pytest.CaptureFixture[str], app: str
) -> None:
    with own_database() as url:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(DJANGO_INBOX)
        code, out, err = run(capsys, "process", "--store", url, "--app", app)
        assert code == cli.EXIT_USAGE, err
        assert out == ""
        assert err == (
            f"kyc-webhooks: error: no store in schema 'kyc_webhooks' at {url}; nothing was "
            "created in it (this database holds the Django app's inbox, table "
            "kyc_webhooks_delivery: use `python manage.py kyc_webhooks process` in the Django "
            "project)\n"
        )
        assert user_schemas(url) == []


# -- a Django project's module, imported outside manage.py -------------------------------------

DJANGO_MODULE = """
from django.contrib.auth.models import User  # a model: needs django.setup()
import kyc_webhooks as kw

receiver = kw.Receiver(kw.Idenfy(signing_key="k"))
"""
DJANGO_SETTINGS = """
SECRET_KEY = "not-a-secret"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
"""
OWN_ERROR_MODULE = """
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

settings.configure()
raise ImproperlyConfigured("the application's own configuration problem")
"""


def _cli(tmp_path: Path, *argv: str, settings: str | None) -> subprocess.CompletedProcess[str]:
    """The command line in a process of its own: Django is set up in this one."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join([SRC, str(tmp_path)])
    if settings is not None:
        env["DJANGO_SETTINGS_MODULE"] = settings
    return subprocess.run(
        [sys.executable, "-m", "kyc_webhooks", *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("settings", "error"),
    [(None, "ImproperlyConfigured"), ("djsettings", "AppRegistryNotReady")],
    ids=["no-settings-module", "settings-module"],
)
def test_a_django_module_outside_manage_py_is_a_one_line_hint(
    tmp_path: Path, settings: str | None, error: str
) -> None:
    """It used to end in Django's traceback (AppRegistryNotReady: Apps aren't loaded yet)."""
    (tmp_path / "djproject.py").write_text(DJANGO_MODULE)
    (tmp_path / "djsettings.py").write_text(DJANGO_SETTINGS)
    result = _cli(tmp_path, "process", "--app", "djproject:receiver", settings=settings)
    assert result.returncode == cli.EXIT_USAGE, result.stderr
    assert result.stdout == ""
    assert result.stderr == (
        f"kyc-webhooks: error: importing djproject:receiver needs Django set up ({error}): "
        "this is a Django project; use `python manage.py kyc_webhooks process` in it\n"
    )
    with SQLiteStore(tmp_path / "inbox.sqlite3") as store:
        delivery_id = _store_one(store)
    result = _cli(tmp_path, "inbox", "--inbox", "inbox.sqlite3", "replay", delivery_id,
                  "--app", "djproject:receiver", settings=settings)  # fmt: skip
    assert result.returncode == cli.EXIT_USAGE, result.stderr
    assert "use `python manage.py kyc_webhooks replay ID` in it" in result.stderr


def test_the_applications_own_django_error_keeps_its_traceback(tmp_path: Path) -> None:
    (tmp_path / "djown.py").write_text(OWN_ERROR_MODULE)
    result = _cli(tmp_path, "process", "--app", "djown:receiver", settings=None)
    assert result.returncode == 1, result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    assert "ImproperlyConfigured: the application's own configuration problem" in result.stderr
    assert "manage.py" not in result.stderr


def test_a_store_of_another_version_is_a_usage_error_left_as_it_was(
    capsys: pytest.CaptureFixture[str], app: str, tmp_path: Path
) -> None:
    """`inbox` and `process` open stores with ``create=False``, which migrated an older store:
    looking at the inbox during an upgrade rewrote it under the older processes still running,
    and they failed every delivery (review R38). An older or a newer schema is now refused (exit
    2: it does not pass by itself -- a PostgreSQL store said 3, "try again", and `process
    --loop` waited it out every second, forever), and nothing is written; `migrate` migrates."""
    from _sqlite_layouts import to_version_3

    path = tmp_path / "old.sqlite3"
    with SQLiteStore(path) as store:
        _store_one(store)
    to_version_3(path)
    before = _tables(path)
    for argv in (["inbox", "--inbox", str(path), "stats"],
                 ["process", "--store", str(path), "--app", app]):  # fmt: skip
        code, _, err = run(capsys, *argv)
        assert code == cli.EXIT_USAGE, err
        assert "schema version 3, older than the 5" in err
        assert "`kyc-webhooks migrate --store PATH`" in err
    assert _tables(path) == before  # no bodies table: not migrated
    code, _, err = run(capsys, "migrate", "--store", str(path))
    assert code == cli.EXIT_OK, err
    code, _, err = run(capsys, "inbox", "--inbox", str(path), "stats")
    assert code == cli.EXIT_OK, err


@pytest.mark.parametrize("version", [2, 99])
def test_a_postgresql_store_of_another_version_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], app: str, schema: str, version: int
) -> None:
    """The same for PostgreSQL, whose refusal comes at the first statement: an older schema (2)
    is not migrated by `inbox` or `process`, a newer one (99) is exit 2, not 3, and `process
    --loop` ends at once instead of waiting it out (review R38)."""
    from _postgres import require_postgres, sql
    from _postgres_layouts import make_layout

    dsn = require_postgres()
    if version == 2:
        make_layout(schema, 2)
    else:
        with PostgresStore(dsn, schema=schema) as store:
            store.migrate()
        sql(f"INSERT INTO {schema}.migrations (version, description) VALUES (99, 'x')")  # noqa: S608
    said = "older than the 4" if version == 2 else "newer than the 4"
    for argv in (
        ["inbox", "--inbox", dsn, "--schema", schema, "stats"],
        ["process", "--store", dsn, "--schema", schema, "--app", app, "--loop", "--quiet"],
    ):
        code, _, err = run(capsys, *argv)
        assert code == cli.EXIT_USAGE, err
        assert said in err
    assert sql(f"SELECT max(version) FROM {schema}.migrations") == [(version,)]  # noqa: S608


def test_migrate_waits_for_a_lock_as_long_as_its_timeout_says(
    capsys: pytest.CaptureFixture[str], schema: str
) -> None:
    """A reader holding the store's tables (a long transaction, pg_dump) blocked the migration,
    which gave up after the store's 5 s with "migrate failed: LockNotAvailable" (review R38).
    `migrate --timeout` sets the wait, and the error says what holds it up (exit 3: it passes)."""
    import time

    import psycopg

    from _postgres import require_postgres
    from _postgres_layouts import make_layout

    dsn = require_postgres()
    make_layout(schema, 2)
    with psycopg.connect(dsn) as reader:
        reader.execute(f"SELECT count(*) FROM {schema}.deliveries").fetchone()  # noqa: S608
        started = time.monotonic()
        code, _, err = run(capsys, "migrate", "--store", dsn, "--schema", schema, "--timeout", "1")
        assert time.monotonic() - started < 30
        assert code == cli.EXIT_UNAVAILABLE, err
        assert "another session holds a lock on the store's tables" in err
        reader.rollback()
    code, out, err = run(capsys, "migrate", "--store", dsn, "--schema", schema, "--timeout", "1")
    assert code == cli.EXIT_OK, err
    assert "schema version 4, up to date" in out


@pytest.mark.parametrize("wait", [1.0, 6.0])
def test_migrate_waits_for_a_connection_as_long_as_its_timeout_says(
    capsys: pytest.CaptureFixture[str], wait: float
) -> None:
    """`--timeout` also bounds the wait for a connection (a server still starting): docs/cli.md
    says so. Port 1: nothing listens there."""
    import time

    url = "postgresql://postgres@127.0.0.1:1/test"
    started = time.monotonic()
    code, _, err = run(capsys, "migrate", "--store", url, "--timeout", f"{wait:g}")
    took = time.monotonic() - started
    assert code == cli.EXIT_UNAVAILABLE, err
    assert f"no connection within {wait:g} s" in err
    assert "Connection refused" in err
    assert wait <= took < wait + 20


def test_a_corrupt_inbox_is_a_usage_error_and_migrate_does_not_call_it_up_to_date(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Review R53: `migrate` said "up to date" (exit 0) and `inbox list` exit 3 ("unavailable,
    # try again"; `process --loop` waited it out for ever): a corrupt file does not heal.
    path = tmp_path / "inbox.sqlite3"
    corrupt_sqlite_store(path)
    assert cli.main(["migrate", "--store", str(path)]) == cli.EXIT_USAGE
    _, err = capsys.readouterr()
    assert "the file is corrupt" in err
    assert "restore it from a backup" in err
    assert cli.main(["inbox", "--inbox", str(path), "list"]) == cli.EXIT_USAGE
    _, err = capsys.readouterr()
    assert "is corrupt; restore it from a backup" in err


def test_serve_refuses_a_corrupt_inbox_at_start(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``serve`` started on a file with a damaged page (migrate refuses it) and stored
    deliveries into it, answering others 503 StoreSchemaError (a helper's audit)."""
    pytest.importorskip("uvicorn")
    monkeypatch.setenv("COMPLYCUBE_SECRET", "serve-corrupt-secret")
    path = tmp_path / "inbox.sqlite3"
    corrupt_sqlite_store(path)
    before = path.read_bytes()
    code = cli.main(["serve", "--port", "0", "--inbox", str(path)])
    _, err = capsys.readouterr()
    assert code == cli.EXIT_USAGE
    assert "the file is corrupt" in err
    assert "restore it from a backup" in err
    assert path.read_bytes() == before  # nothing written
