"""The Django app suite (tests/django_app/app_*.py) runs under pytest-django with settings of its
own, so it runs in a pytest process of its own: once on SQLite, once on PostgreSQL, once on
MariaDB, and its PostgreSQL-relevant part (:data:`PGBOUNCER_FILES`) once more on PostgreSQL
through a PgBouncer in transaction pooling, with Django's documented settings for it. They are
started together, at the first of these tests, and run side by side (each on its own database):
the main run waits for them, so they can use the machine's other cores."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from _mariadb import require_mariadb
from _postgres import require_pgbouncer, require_postgres

HERE = Path(__file__).parent
DATABASES = ("sqlite", "postgres", "mariadb", "pgbouncer")
#: Seconds one suite may take.
TIMEOUT = 600
#: What each database needs, checked before its suite starts (a skip naming the service).
REQUIRE = {
    "sqlite": lambda: None,
    "postgres": require_postgres,
    "mariadb": require_mariadb,
    "pgbouncer": require_pgbouncer,
}
#: What runs through PgBouncer: everything that reaches the database through the store, the
#: views, the admin and the management command. Not the modules whose tests set session state or
#: find their own session by its backend pid -- which PgBouncer in transaction pooling does not
#: keep from one transaction to the next (app_database, app_conflicts: lock timeouts, a
#: deadlock; app_reconnect: a terminated session) --, nor those about SQLite or other stores
#: (but app_store_elsewhere, whose STORE_OPTIONS test builds a PostgresStore through PgBouncer
#: and is defined in this run only).
PGBOUNCER_FILES = (
    "app_store_contract.py",
    "app_ledger_contract.py",
    "app_ledger.py",
    "app_races.py",
    "app_claim_next.py",
    "app_async_store.py",
    "app_async_orm.py",
    "app_test_app.py",
    "app_admin_selection.py",
    "app_atomic_requests.py",
    "app_store_fold.py",
    "app_forget.py",
    "app_use_tz.py",
    "app_store_elsewhere.py",
)


class Suite:
    """The suite on one database, running in a process of its own; its output goes to a file (a
    pipe read only at the end could fill up and stall it)."""

    def __init__(self, database: str, directory: Path) -> None:
        env = {
            **os.environ,
            "KYC_TEST_DJANGO_DB": database,
            "KYC_TEST_DJANGO_DIR": str(directory),
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)
        self.output = directory / "output.txt"
        with self.output.open("w", encoding="utf-8") as sink:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    # The main run blocks pytest-django (-p no:django in addopts): loaded here.
                    "-o",
                    "addopts=-ra --strict-markers",
                    "-p",
                    "no:cacheprovider",
                    "--ds=django_app.settings",
                    "-o",
                    "python_files=app_*.py",
                    *(
                        [f"django_app/{name}" for name in PGBOUNCER_FILES]
                        if database == "pgbouncer"
                        else ["django_app"]
                    ),
                ],
                cwd=HERE,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    def result(self) -> tuple[int, str]:
        """Wait for the suite (at most :data:`TIMEOUT` seconds): its exit status and output."""
        status = self.process.wait(timeout=TIMEOUT)
        return status, self.output.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def suites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Suite]]:
    """The suites whose database is reachable, started together; stopped at the end if still
    running."""
    pytest.importorskip("pytest_django", reason="pytest-django is in the dev extra")
    started: dict[str, Suite] = {}
    for database in DATABASES:
        try:
            REQUIRE[database]()
        except pytest.skip.Exception:
            continue  # its test skips, naming the service (a failure in CI)
        started[database] = Suite(database, tmp_path_factory.mktemp(f"django-{database}"))
    try:
        yield started
    finally:
        for suite in started.values():
            suite.stop()


@pytest.mark.parametrize("database", DATABASES)
def test_django_app_suite(database: str, suites: dict[str, Suite]) -> None:
    REQUIRE[database]()  # a skip naming the service; a failure in CI (KYC_REQUIRE_SERVICES)
    status, output = suites[database].result()
    summary = output.strip().splitlines()[-1:] or [""]
    assert status == 0, output[-6000:]
    assert " passed" in summary[0]
    assert "skipped" not in summary[0]
