"""``inbox erase`` and ``inbox purge`` call the store outside ``--dry-run`` whenever there is
something to confirm or ``--yes`` is given, whatever their count of what is left to do (review R1);
without ``--yes`` and with nothing they can list, they change nothing (review R9):

- an erasure whose checkpoint failed (another process held a read transaction, so the store
  raised StoreError after committing) is finished by running the same command again: the CLI
  used to count the bodies left (none), skip the store call and report success while the erased
  body stayed in the -wal file;
- ``inbox erase --all --yes`` erases the body of a row that does not decode (``deliveries()``, which
  used to make the count, skips such rows; the store's ``count()`` now counts them, so the dry run
  says so and, without ``--yes``, the command asks).

Real SQLite files, a real reader process; the CLI runs in this process as ``main()``."""

from __future__ import annotations

import contextlib
import datetime as _dt
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import kyc_webhooks as kw
from kyc_webhooks import cli
from kyc_webhooks.store import SQLiteStore

SENTINEL = "ERASEME-DOC-4711"
KEY = "cli-erasure-key"

#: A long-lived process with the inbox open (as `serve` is): it stores one delivery, prints its
#: id and keeps its connection until a line (or the end) arrives on its stdin. While it is open,
#: no other connection's close checkpoints the file.
SERVER = """
import sys
import kyc_webhooks as kw
from kyc_webhooks.testing import signed_delivery

store = kw.SQLiteStore(sys.argv[1])
receiver = kw.Receiver(kw.Idenfy(signing_key=sys.argv[2]), store=store)
body, headers = signed_delivery(
    "idenfy", "IDENTIFICATION_MANUAL_FINISHED", sys.argv[2], data__docNumber=sys.argv[3]
)
print(receiver.handle(body, headers).delivery_id, flush=True)
sys.stdin.readline()
store.close()
"""

#: Another process holding a read transaction (a backup, a sqlite3 shell) until a line (or the
#: end) arrives on its stdin.
READER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN")
conn.execute("SELECT COUNT(*) FROM kyc_webhooks_deliveries").fetchone()
print("reading", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
conn.close()
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _found(db: Path) -> list[str]:
    """The files of the database that hold the sentinel."""
    return [
        path.name
        for path in (Path(f"{db}{suffix}") for suffix in ("", "-wal", "-journal"))
        if path.exists() and SENTINEL.encode() in path.read_bytes()
    ]


@contextlib.contextmanager
def _process(*argv: str) -> Iterator[str]:
    """A child process running ``python -c argv...``; yields its first line, and ends it by
    closing its stdin (killed if it has not exited within 30 s)."""
    with subprocess.Popen(
        [sys.executable, "-c", *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None
            yield child.stdout.readline().strip()
        finally:
            assert child.stdin is not None
            with contextlib.suppress(OSError):
                child.stdin.close()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=30)
    assert child.returncode == 0


@contextlib.contextmanager
def _serving(db: Path) -> Iterator[str]:
    """The server process, holding one stored delivery (its id yielded) whose body is in -wal."""
    with _process(SERVER, str(db), KEY, SENTINEL) as delivery_id:
        assert len(delivery_id) == 32
        assert _found(db) == ["inbox.db-wal"]
        yield delivery_id


@contextlib.contextmanager
def _reading(db: Path) -> Iterator[None]:
    with _process(READER, str(db)) as line:
        assert line == "reading"
        yield


def _all(store: SQLiteStore) -> _dt.datetime:
    return store.now() + _dt.timedelta(seconds=1)


#: The library call whose checkpoint fails, and the CLI command an operator retries it with.
RETRIES: dict[str, tuple[Callable[[SQLiteStore, str], object], list[str]]] = {
    "erase-id": (lambda store, i: store.erase(i), ["erase", "{id}", "--yes"]),
    "erase-all": (
        lambda store, i: store.erase_bodies(older_than=_all(store)),
        ["erase", "--all", "--yes"],
    ),
    "purge-erase-bodies": (
        lambda store, i: store.erase_bodies(older_than=_all(store)),
        ["purge", "--erase-bodies", "--all", "--yes"],
    ),
    "purge": (lambda store, i: store.purge(older_than=_all(store)), ["purge", "--all", "--yes"]),
}


@pytest.mark.parametrize("case", list(RETRIES))
def test_running_the_command_again_finishes_an_erasure_whose_checkpoint_failed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    db = tmp_path / "inbox.db"
    first, argv = RETRIES[case]
    with _serving(db) as delivery_id:
        with _reading(db):
            with SQLiteStore(db, timeout=0.2) as other, pytest.raises(kw.StoreError) as info:
                first(other, delivery_id)
            assert "again once that reader has finished" in info.value.message
        assert _found(db) == ["inbox.db-wal"]  # committed, but the old copy is still there
        retry = [part.replace("{id}", delivery_id[:12]) for part in argv]
        code, out, err = run(capsys, "inbox", "--inbox", str(db), *retry)
        assert code == 0, err
        assert _found(db) == []  # the retry checkpointed and truncated the log
        assert SENTINEL not in out + err
        # What this call erased or deleted: the first one did.
        assert out.strip() == {
            "purge": "purged 0 deliveries",
        }.get(case, "erased the bodies of 0 deliveries (metadata kept)")
    assert _found(db) == []
    with SQLiteStore(db) as store:
        record = store.get(delivery_id)
    if case == "purge":
        assert record is None
    else:
        assert record is not None
        assert record.body is None


def test_the_cli_erasure_fails_while_a_reader_blocks_it_and_its_retry_finishes_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "inbox.db"
    with _serving(db) as delivery_id:
        argv = ("inbox", "--inbox", str(db), "erase", delivery_id, "--yes")
        with _reading(db):  # the CLI's store waits its 5 s busy timeout, then fails
            code, out, err = run(capsys, *argv)
        assert code == cli.EXIT_UNAVAILABLE
        assert "erase is committed" in err
        assert out == ""
        assert _found(db) == ["inbox.db-wal"]
        code, out, err = run(capsys, *argv)
        assert code == 0, err
        assert _found(db) == []
        # The first run erased the body (committed): the retry only finished the scrub.
        assert out.strip() == "erased the bodies of 0 deliveries (metadata kept)"


ERASED = "erased the bodies of 1 delivery (metadata kept)"


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["erase", "--all"], ERASED),
        (["purge", "--erase-bodies", "--all"], ERASED),
        (["purge", "--all"], "purged 1 delivery"),
    ],
    ids=["erase-all", "purge-erase-bodies", "purge"],
)
def test_the_body_of_a_row_that_does_not_decode_is_erased(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], said: str
) -> None:
    db = tmp_path / "inbox.db"
    with _serving(db) as delivery_id:
        pass
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE kyc_webhooks_deliveries SET headers = 'not json'")
    base = ("inbox", "--inbox", str(db), *argv)
    # deliveries() does not list it; the store's count() counts it, as purge/erase_bodies change it
    code, out, err = run(capsys, *base, "--dry-run")
    assert code == 0, err
    assert "1 delivery (dry run)" in out
    # Without --yes (and no terminal to ask on) nothing changes: a row that does not decode stays
    # for repair; it is not deleted or erased unasked.
    code, out, err = run(capsys, *base)
    assert code == cli.EXIT_USAGE
    assert "pass --yes" in err
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM kyc_webhooks_bodies").fetchone() == (1,)
        assert conn.execute("SELECT COUNT(*) FROM kyc_webhooks_deliveries").fetchone() == (1,)
    code, out, err = run(capsys, *base, "--yes")
    assert code == 0, err
    assert out.strip() == said
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM kyc_webhooks_bodies").fetchone() == (0,)
        rows = conn.execute(
            "SELECT COUNT(*) FROM kyc_webhooks_deliveries WHERE id = ?", (delivery_id,)
        ).fetchone()
    assert rows == ((0,) if said.startswith("purged") else (1,))  # erasing keeps the metadata
    assert _found(db) == []
