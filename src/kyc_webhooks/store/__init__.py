"""Delivery stores: the receiver's durable inbox (docs/delivery-guarantees.md).

* :class:`Store` -- the protocol the receiver uses; a PostgreSQL or Redis store implements it,
  the decision ledger included (:class:`DecisionEntry`, :class:`DecisionTicket`,
  :func:`supersedes`).
* :class:`MemoryStore` -- in-process, for tests and single-process services.
* :class:`SQLiteStore` -- one SQLite file shared by the threads and processes of a host.
* :class:`PostgresStore` -- a PostgreSQL database shared by several hosts (the ``postgres``
  extra: ``pip install -e ".[postgres]"`` in a checkout; docs/scaling-out.md).

``sqlite3`` is imported only when :class:`SQLiteStore` is first used, psycopg only when a
:class:`PostgresStore` is built.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..errors import BodyErasedError, DeliveryNotFoundError, StoreError
from ._base import (
    DEFAULT_BODY_RETENTION,
    DEFAULT_RECORD_RETENTION,
    Added,
    Claim,
    Clock,
    DecisionEntry,
    DecisionTicket,
    DeliveryRecord,
    DeliveryState,
    NewDelivery,
    Store,
    TimeLimit,
    supersedes,
)
from .memory import MemoryStore

if TYPE_CHECKING:
    from .postgres import PostgresStore
    from .sqlite import SQLiteStore

__all__ = [
    "DEFAULT_BODY_RETENTION",
    "DEFAULT_RECORD_RETENTION",
    "Added",
    "BodyErasedError",
    "Claim",
    "Clock",
    "DecisionEntry",
    "DecisionTicket",
    "DeliveryNotFoundError",
    "DeliveryRecord",
    "DeliveryState",
    "MemoryStore",
    "NewDelivery",
    "PostgresStore",
    "SQLiteStore",
    "Store",
    "StoreError",
    "TimeLimit",
    "supersedes",
]


_LAZY = {"SQLiteStore": ".sqlite", "PostgresStore": ".postgres"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
