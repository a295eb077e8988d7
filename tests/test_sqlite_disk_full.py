"""``SQLiteStore`` on a full disk: the store's file and its ``-wal`` on a small tmpfs, filled up
with a filler file.

* every answer is a 2xx only for a delivery that a fresh store finds on the file afterwards, and
  a 503 with ``Retry-After`` otherwise -- ``handle()`` and ``handle_async()``, with and without
  ``defer=True``; no exception escapes;
* once the filler is deleted, the same receiver and store answer 200 again (no restart);
* an erasure whose ``VACUUM`` cannot run never reports success while the erased bytes are still
  in the files, and its error says to free space (how much), then to call it again;
* ``kyc-webhooks inbox`` on a full disk: a one-line error that says the disk is full, exit 3 (it
  passes once there is room), not 2 (a usage error).

Mounting needs root (CAP_SYS_ADMIN): the tests skip without it."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import kyc_webhooks as kw
from _disk import small_tmpfs
from kyc_webhooks.cli import main
from kyc_webhooks.errors import StoreError
from kyc_webhooks.outcome import Outcome
from kyc_webhooks.testing import signed_delivery

KEY = "disk-full-signing-key"
MARKER = b"BODYONLYMARKER"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs of its own, unmounted at teardown whatever happened."""
    with small_tmpfs(tmp_path) as point:
        yield point


def fill(directory: Path, *, leave: int = 0) -> Path:
    """Fill the file system of ``directory`` up to ``leave`` free bytes (bounded writes)."""
    filler = directory / "filler"
    stat = os.statvfs(directory)
    wanted = max(stat.f_bavail * stat.f_frsize - leave, 0)
    written = 0
    with filler.open("ab") as file:
        for _ in range(wanted // 65536 + 1):
            size = min(65536, wanted - written)
            if size <= 0:
                break
            try:
                file.write(b"\0" * size)
                file.flush()
            except OSError:
                break
            written += size
    return filler


def delivery(index: int) -> tuple[bytes, dict[str, str]]:
    body, headers = signed_delivery(
        "idenfy",
        "IDENTIFICATION_MANUAL_FINISHED",
        KEY,
        scanRef=f"scan-{index:05d}",
        clientId=f"client-{index:05d}",
        manualAddress=f"{MARKER.decode()}-{index:05d}",  # only in the body, not the ledger
    )
    return body, dict(headers)


def markers(path: Path, needle: bytes) -> int:
    """How many copies of ``needle`` the database file and its -wal hold."""
    count = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(FileNotFoundError):
            count += Path(f"{path}{suffix}").read_bytes().count(needle)
    return count


@pytest.mark.parametrize("defer", [False, True], ids=["handled", "deferred"])
@pytest.mark.parametrize("entry", ["sync", "async"])
def test_a_full_disk_answers_503_and_recovers(small_disk: Path, defer: bool, entry: str) -> None:
    path = small_disk / "inbox.sqlite3"
    store = kw.SQLiteStore(path)
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, defer=defer)
    receiver.on("idenfy")(lambda event: None)

    def send(index: int) -> Outcome:
        body, headers = delivery(index)
        if entry == "sync":
            return receiver.handle(body, headers)
        return asyncio.run(receiver.handle_async(body, headers))

    answers: dict[int, Outcome] = {index: send(index) for index in range(3)}
    assert {o.status_code for o in answers.values()} == {202 if defer else 200}
    filler = fill(small_disk)
    refused = 0
    for index in range(3, 60):  # the write-ahead log fills what room is left, then 503
        outcome = send(index)
        answers[index] = outcome
        if outcome.status_code == 503:
            assert outcome.retry_after is not None
            assert isinstance(outcome.error, StoreError)
            assert "file system holding the file is full" in str(outcome.error)
            refused += 1
            if refused == 3:
                break
        else:
            assert outcome.status_code == (202 if defer else 200)
    assert refused == 3

    filler.unlink()  # space returns: the same objects work again
    again = send(1000)
    assert again.status_code == (202 if defer else 200)
    answers[1000] = again
    store.close()

    fresh = kw.SQLiteStore(path, create=False)
    try:
        for index, outcome in answers.items():
            if outcome.status_code >= 500:
                continue
            record = fresh.get(outcome.delivery_id or "")
            assert record is not None, index
            assert record.body is not None
            assert record.state.value == ("pending" if defer else "done")
    finally:
        fresh.close()


@pytest.mark.parametrize("call", ["erase", "erase_bodies", "forget"])
def test_an_erasure_that_cannot_vacuum_says_so_and_what_to_do(small_disk: Path, call: str) -> None:
    path = small_disk / "inbox.sqlite3"
    store = kw.SQLiteStore(path)
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    receiver.on("idenfy")(lambda event: None)
    ids = []
    for index in range(30):
        outcome = receiver.handle(*delivery(index))
        assert outcome.status_code == 200
        ids.append(outcome.delivery_id or "")
    erased = MARKER + b"-00003"  # the body that every one of the three calls erases

    def erase() -> object:
        if call == "erase":
            return store.erase(ids[3])
        if call == "erase_bodies":
            return store.erase_bodies(older_than=store.now() + timedelta(seconds=1))
        return receiver.decisions.forget(client_ref="client-00003")

    assert markers(path, erased) > 0
    # Room for the erasing transaction, not for the VACUUM that rewrites the whole file.
    filler = fill(small_disk, leave=150_000)
    with pytest.raises(StoreError) as raised:
        erase()
    message = str(raised.value)
    assert "file system holding the file is full" in message
    if "is committed" in message:
        assert "free at least" in message
        assert " MB on its file system" in message
    assert markers(path, erased) > 0  # still in the files: and not reported as erased

    filler.unlink()
    erase()  # the same store, again: now it finishes
    assert markers(path, erased) == 0
    if call == "erase":
        assert markers(path, MARKER) > 0  # the other bodies are kept (the scan finds them)
    store.close()


def test_the_cli_on_a_full_disk_exits_3_with_one_line(
    small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = small_disk / "inbox.sqlite3"
    with kw.SQLiteStore(path) as store:
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
        receiver.on("idenfy")(lambda event: None)
        assert receiver.handle(*delivery(1)).status_code == 200
    filler = fill(small_disk)  # not a byte left: not even for the -shm file
    try:
        capsys.readouterr()
        assert main(["inbox", "--inbox", str(path), "stats"]) == 3
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1
        assert "Traceback" not in err
        assert "file system holding the file is full" in err
    finally:
        filler.unlink()
    assert main(["inbox", "--inbox", str(path), "stats"]) == 0
