"""MariaDB for the tests: the server's address and the skip that names the missing service.

The server is ``KYC_TEST_MARIADB_URL`` (default ``mysql://root@127.0.0.1:3306/test``); the Django
app suite (tests/test_django_app.py) runs on it through PyMySQL, in a test database of its own per
run. Without a reachable server the test skips with a reason starting with ``SERVICE_SKIP``
(conftest.py turns that skip into a failure when ``KYC_REQUIRE_SERVICES=1``, as in CI).
"""

from __future__ import annotations

import os
from functools import cache
from urllib.parse import urlsplit

import pytest

from _postgres import SERVICE_SKIP

URL = os.environ.get("KYC_TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/test")


@cache
def _unreachable() -> str | None:
    """Why the server cannot be used, or None when it can (asked once per test process)."""
    try:
        import pymysql  # type: ignore[import-untyped]
    except ImportError:
        return "PyMySQL is not installed (pip install -e '.[dev]')"
    url = urlsplit(URL)
    try:
        conn = pymysql.connect(
            host=url.hostname or "127.0.0.1",
            port=url.port or 3306,
            user=url.username or "root",
            password=url.password or "",
            connect_timeout=3,
        )
    except pymysql.MySQLError as exc:
        return f"cannot connect ({type(exc).__name__})"
    conn.close()
    return None


def require_mariadb() -> str:
    """The URL of the test server; skips the test (naming MariaDB) when it is unreachable."""
    why = _unreachable()
    if why is not None:
        pytest.skip(f"{SERVICE_SKIP} MariaDB at KYC_TEST_MARIADB_URL: {why}")
    return URL
