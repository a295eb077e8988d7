"""Writes of the Django app suite's tests that Django itself would not make."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connection


@contextlib.contextmanager
def as_another_program() -> Iterator[bool]:
    """Statements of the block written as a program other than Django may write them, ``True``
    where the database can keep a value Django cannot read: SQLite keeps any value; MariaDB
    outside strict mode (``sql_mode = ''`` for the block) stores a date no calendar has as the
    zero date 0000-00-00, which Django cannot read either. ``False`` on PostgreSQL, whose column
    types refuse such values whatever the session."""
    if connection.vendor == "postgresql":
        yield False
        return
    if connection.vendor != "mysql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@SESSION.sql_mode")
        (mode,) = cursor.fetchone()
        cursor.execute("SET SESSION sql_mode = ''")
    try:
        yield True
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION sql_mode = %s", [mode])
