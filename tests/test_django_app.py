"""The Django app suite (tests/django_app/app_*.py) runs under pytest-django with settings of its
own, so it runs in a pytest process of its own: once on SQLite, once on PostgreSQL, once on
MariaDB."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from _mariadb import require_mariadb
from _postgres import require_postgres

HERE = Path(__file__).parent


@pytest.mark.parametrize("database", ["sqlite", "postgres", "mariadb"])
def test_django_app_suite(database: str, tmp_path: Path) -> None:
    pytest.importorskip("pytest_django", reason="pytest-django is in the dev extra")
    if database == "postgres":
        require_postgres()  # a skip naming the service; a failure in CI (KYC_REQUIRE_SERVICES)
    if database == "mariadb":
        require_mariadb()
    env = {
        **os.environ,
        "KYC_TEST_DJANGO_DB": database,
        "KYC_TEST_DJANGO_DIR": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            # The main run blocks pytest-django (-p no:django in addopts); this one loads it.
            "-o",
            "addopts=-ra --strict-markers",
            "-p",
            "no:cacheprovider",
            "--ds=django_app.settings",
            "-o",
            "python_files=app_*.py",
            "django_app",
        ],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    summary = result.stdout.strip().splitlines()[-1:] or [""]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in summary[0]
    assert "skipped" not in summary[0]
