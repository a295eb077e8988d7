"""DjangoStore passes the store contract suite written for every store
(tests/test_store_contract.py), on the database of this run: SQLite, or PostgreSQL with
KYC_TEST_DJANGO_DB=postgres."""

from __future__ import annotations

from test_store_contract import *  # noqa: F403  -- the suite, re-collected with this store
