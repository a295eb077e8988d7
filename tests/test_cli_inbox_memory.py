"""The operator commands read what they report, not the whole inbox. ``inbox show/replay/erase ID``
with an id prefix (``find_record``, also behind ``manage.py kyc_webhooks replay``) and the counts
of ``inbox purge`` / ``inbox erase --older-than`` dry runs and confirmations used to load up to a
million full records -- bodies included -- and filter or count them in Python: gigabytes for a
production inbox, and counts that stopped at 1,000,000. The store now looks prefixes up and
counts in SQL: the peak of Python memory (tracemalloc; no timing) stays under a bound that does
not depend on how many deliveries the inbox holds -- the old commands needed ``N`` times the
size of a record.

Real SQLite files and a real PostgreSQL schema (skipped, naming the service, without a server).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from _postgres import drop_schema, new_schema, require_postgres
from kyc_webhooks import cli
from kyc_webhooks.cli._stores import find_record
from kyc_webhooks.store import NewDelivery, PostgresStore, SQLiteStore, Store

#: Deliveries in the inbox, and the size of each body (a typical iDenfy identification).
N = 2000
BODY = b'{"scanRef":"' + b"x" * 6000 + b'"}'
#: The peak a command may reach: a small fraction of what N bodies take (N * 6 KB = 12 MB).
BOUND = 2_000_000


@pytest.fixture(params=["sqlite", "postgres"])
def inbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[list[str], Store]]:
    """The ``--inbox`` (and ``--schema``) arguments of a store holding N deliveries, and the
    store itself."""
    if request.param == "sqlite":
        path = tmp_path / "inbox.sqlite3"
        with SQLiteStore(path) as store:
            _fill(store)
            yield ["--inbox", str(path)], store
        return
    dsn = require_postgres()
    schema = new_schema()
    try:
        with PostgresStore(dsn, schema=schema) as store:
            _fill(store)
            yield ["--inbox", dsn, "--schema", schema], store
    finally:
        drop_schema(schema)


def _fill(store: Store) -> None:
    for n in range(N):
        store.add(NewDelivery(f"key-{n}", "idenfy", "IDENTIFICATION_AUTO_FINISHED", BODY))


def _peak(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, int]:
    """Exit code, output and the peak of traced memory of one command (run once before, so that
    importing the command's modules does not count)."""
    cli.main(list(argv))
    capsys.readouterr()
    tracemalloc.start()
    try:
        code = cli.main(list(argv))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    out, err = capsys.readouterr()
    assert code == 0, err
    return code, out, peak


def test_an_id_prefix_is_looked_up_without_reading_the_inbox(
    capsys: pytest.CaptureFixture[str], inbox: tuple[list[str], Store]
) -> None:
    args, store = inbox
    (last,) = store.deliveries(limit=1, newest_first=True)
    _, out, peak = _peak(capsys, "inbox", *args, "show", last.id[:8])
    assert f"id: {last.id}" in out
    assert peak < BOUND, peak
    tracemalloc.start()
    try:
        assert find_record(store, last.id[:8].upper()).id == last.id
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < BOUND, peak


@pytest.mark.parametrize(
    ("action", "said"),
    [
        (["purge", "--all"], f"would purge {N} deliveries (dry run)"),
        (["erase", "--all"], f"would erase the bodies of {N} deliveries (dry run)"),
    ],
    ids=["purge", "erase"],
)
def test_a_dry_run_counts_exactly_without_reading_the_records(
    capsys: pytest.CaptureFixture[str],
    inbox: tuple[list[str], Store],
    action: list[str],
    said: str,
) -> None:
    args, _ = inbox
    _, out, peak = _peak(capsys, "inbox", *args, *action, "--dry-run")
    assert out.strip() == said
    assert peak < BOUND, peak
