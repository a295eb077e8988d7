"""DjangoStore passes the decision-ledger contract written for every store
(tests/test_ledger_contract.py), on this run's database."""

from __future__ import annotations

from test_ledger_contract import *  # noqa: F403  -- the suite, re-collected with this store
