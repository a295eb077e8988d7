"""DjangoStore passes the store contract suite written for every store
(tests/test_store_contract.py), on the database of this run: SQLite, or PostgreSQL with
KYC_TEST_DJANGO_DB=postgres."""

from __future__ import annotations

import pytest

from kyc_webhooks.integrations.django.store import DjangoStore
from test_store_contract import *  # noqa: F403  -- the suite, re-collected with this store


@pytest.fixture  # type: ignore[no-redef]
def store(django_store: DjangoStore) -> DjangoStore:
    """This module's ``store``: the suite's own (memory, SQLite, PostgreSQL), star-imported
    above, would otherwise shadow the DjangoStore fixture of conftest.py."""
    return django_store
