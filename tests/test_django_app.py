"""The Django app suite (tests/django_app/app_*.py) runs under pytest-django with settings of its
own, so it runs in a pytest process of its own: once on SQLite, once on PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

HERE = Path(__file__).parent
DSN = os.environ.get("KYC_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_reachable() -> bool:
    parts = urlsplit(DSN)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 2):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_django_app_suite(database: str, tmp_path: Path) -> None:
    pytest.importorskip("pytest_django", reason="pytest-django is in the dev extra")
    if database == "postgres":
        pytest.importorskip("psycopg", reason="PostgreSQL tests need psycopg (dev extra)")
        if not _postgres_reachable():
            pytest.skip(f"PostgreSQL is not reachable at {DSN} (set KYC_TEST_POSTGRES_DSN)")
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
