"""DjangoStore passes the decision-ledger contract written for every store
(tests/test_ledger_contract.py), on this run's database."""

from __future__ import annotations

import pytest

from kyc_webhooks.integrations.django.store import DjangoStore
from test_ledger_contract import *  # noqa: F403  -- the suite, re-collected with this store


@pytest.fixture  # type: ignore[no-redef]
def store(django_store: DjangoStore) -> DjangoStore:
    """This module's ``store``: the suite's own (memory, SQLite, PostgreSQL), star-imported
    above, would otherwise shadow the DjangoStore fixture of conftest.py."""
    return django_store
