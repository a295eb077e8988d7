"""``kyc-webhooks inbox forget``: a data subject's verdicts leave the decision ledger, and the
bodies of the deliveries they came from are erased (GDPR art. 17; docs/security.md, "Retention and
erasure"). Before it, nothing removed a ledger entry: ``erase``, ``erase_bodies`` and ``purge``
left the person's client_ref and check ids in it, and ``Decisions.for_client`` kept answering.

Real SQLite files (the bytes of the database and its -wal file are read); the CLI runs in this
process as ``main()``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import kyc_webhooks as kw
from kyc_webhooks import cli
from kyc_webhooks.store import DecisionEntry, NewDelivery, SQLiteStore
from kyc_webhooks.testing import sample_payload, set_path, sign

SECRET = "cc-forget-secret"
ADA = "cc-ADA-4711"
BOB = "cc-BOB-0815"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def found(db: Path, text: str) -> list[str]:
    """The files of the database that hold ``text``."""
    return [
        path.name
        for path in (Path(f"{db}{suffix}") for suffix in ("", "-wal", "-journal"))
        if path.exists() and text.encode() in path.read_bytes()
    ]


def deliver(receiver: kw.Receiver, event_id: str, check: str, client: str, outcome: str) -> str:
    event_type = f"check.completed.{outcome}"
    payload = sample_payload("complycube", event_type, id=event_id, payload__id=check)
    set_path(payload, "payload__clientId", client)
    answer = receiver.handle(*sign("complycube", payload, SECRET, event_type=event_type))
    assert answer.status_code == 200
    assert answer.delivery_id is not None
    return answer.delivery_id


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "inbox.db"


@pytest.fixture
def store(db: Path) -> Iterator[SQLiteStore]:
    """The inbox, open (as a running `serve` keeps it) while the CLI runs: the ledger rows and
    the bodies are in its -wal file until a checkpoint."""
    made = SQLiteStore(db)
    yield made
    made.close()


@pytest.fixture
def ids(store: SQLiteStore) -> dict[str, str]:
    """Two checks of ADA (one cleared, one rejected) and one of BOB, handled: each in the ledger."""
    receiver = kw.Receiver(kw.ComplyCube(secret=SECRET), store=store)
    return {
        "ada-1": deliver(receiver, "evt-0001", "chk-ADA-0001", ADA, "clear"),
        "ada-2": deliver(receiver, "evt-0002", "chk-ADA-0002", ADA, "rejected"),
        "bob": deliver(receiver, "evt-0003", "chk-BOB-0003", BOB, "clear"),
    }


def test_forget_leaves_no_byte_of_the_person_in_the_database_files(
    capsys: pytest.CaptureFixture[str], db: Path, store: SQLiteStore, ids: dict[str, str]
) -> None:
    for text in (ADA, "chk-ADA-0001", "chk-ADA-0002", BOB):
        assert found(db, text), text  # the scan finds what is there

    code, out, _ = run(capsys, "inbox", "--inbox", str(db), "forget", "--client-ref", ADA, "--yes")

    assert code == 0
    assert out.startswith("forgot 2 decisions and erased the bodies of the person's deliveries")
    assert ids["ada-1"] in out
    assert ids["ada-2"] in out
    for text in (ADA, "chk-ADA-0001", "chk-ADA-0002"):
        assert found(db, text) == [], text
    decisions = kw.Receiver(kw.ComplyCube(secret=SECRET), store=store).decisions
    assert decisions.for_client(ADA) == []
    assert decisions.latest("complycube", "chk-ADA-0001") is None
    for key in ("ada-1", "ada-2"):
        erased = store.get(ids[key])
        assert erased is not None
        assert erased.body is None  # the metadata stays, as after `inbox erase`
    # Another person is untouched.
    assert [d.subject for d in decisions.for_client(BOB)] == ["chk-BOB-0003"]
    kept = store.get(ids["bob"])
    assert kept is not None
    assert kept.body is not None
    assert found(db, BOB)


def test_forget_one_verification_by_vendor_and_subject(
    capsys: pytest.CaptureFixture[str], db: Path, store: SQLiteStore, ids: dict[str, str]
) -> None:
    code, out, _ = run(
        capsys,
        "inbox",
        "--inbox",
        str(db),
        "forget",
        "--vendor",
        "complycube",
        "--subject",
        "chk-ADA-0002",
        "--yes",
        "--json",
    )
    assert code == 0
    assert json.loads(out) == {
        "forgotten": 1,
        "deliveries": [ids["ada-2"]],
        "dry_run": False,
    }
    assert found(db, "chk-ADA-0002") == []
    assert [e.subject for e in store.decisions_for_client(ADA)] == ["chk-ADA-0001"]


def test_a_dry_run_and_a_refusal_change_nothing(
    capsys: pytest.CaptureFixture[str], db: Path, store: SQLiteStore, ids: dict[str, str]
) -> None:
    inbox = ("inbox", "--inbox", str(db), "forget", "--client-ref", ADA)
    assert run(capsys, *inbox, "--dry-run")[:2] == (
        0,
        "would forget 2 decisions and the bodies of 2 deliveries (dry run)\n",
    )
    code, out, _ = run(capsys, *inbox, "--dry-run", "--json")
    assert (code, json.loads(out)) == (0, {"forgotten": 2, "erased": 2, "dry_run": True})
    # Off a terminal without --yes: refused.
    code, _, err = run(capsys, *inbox)
    assert code == 2
    assert "refusing to forget 2 decisions" in err
    assert len(store.decisions_for_client(ADA)) == 2
    assert found(db, "chk-ADA-0001")
    record = store.get(ids["ada-1"])
    assert record is not None
    assert record.body is not None
    # Nothing to forget: nothing asked, nothing changed.
    assert run(capsys, "inbox", "--inbox", str(db), "forget", "--client-ref", "nobody")[:2] == (
        0,
        "forgot 0 decisions\n",
    )


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--vendor", "complycube"],
        ["--subject", "chk-ADA-0001"],
        ["--client-ref", ADA, "--vendor", "complycube", "--subject", "chk-ADA-0001"],
        ["--client-ref", ADA, "--older-than", "30d"],
    ],
    ids=["nothing", "vendor-only", "subject-only", "both", "person-and-age"],
)
def test_one_selector_is_required(
    capsys: pytest.CaptureFixture[str],
    db: Path,
    store: SQLiteStore,
    ids: dict[str, str],
    argv: list[str],
) -> None:
    code, _, err = run(capsys, "inbox", "--inbox", str(db), "forget", *argv, "--yes")
    assert code == 2
    assert "--client-ref REF" in err  # the choice to make, named
    assert len(store.decisions_for_client(ADA)) == 2


def test_forget_waits_for_a_delivery_being_handled(
    capsys: pytest.CaptureFixture[str], db: Path, store: SQLiteStore, ids: dict[str, str]
) -> None:
    """A verification whose delivery is being handled right now (its subject lease is held) is
    not forgotten under it: nothing is, the command exits 3 (try again), and the ledger still
    names the deliveries whose bodies remain to be erased."""
    added = store.add(NewDelivery("running", "complycube", "check.completed", b"{}"), lease=60)
    assert added.claim is not None
    entry = DecisionEntry(
        vendor="complycube",
        subject="chk-ADA-0001",
        status="APPROVED",
        final=True,
        delivery_id=added.record.id,
        event_type="check.completed",
        received_at=added.record.received_at,
        client_ref=ADA,
    )
    ticket = store.begin_decision(added.claim, entry, lease=60)
    assert ticket is not None

    code, _, err = run(capsys, "inbox", "--inbox", str(db), "forget", "--client-ref", ADA, "--yes")

    assert code == 3
    assert "being handled right now" in err
    assert {e.delivery_id for e in store.decisions_for_client(ADA)} == {ids["ada-1"], ids["ada-2"]}
    store.abort_decision(ticket)
    code, _, _ = run(capsys, "inbox", "--inbox", str(db), "forget", "--client-ref", ADA, "--yes")
    assert code == 0
    assert found(db, ADA) == []


def test_forget_older_than_is_the_ledger_retention(
    capsys: pytest.CaptureFixture[str], db: Path, store: SQLiteStore, ids: dict[str, str]
) -> None:
    inbox = ("inbox", "--inbox", str(db), "forget")
    code, out, _ = run(capsys, *inbox, "--older-than", "1d", "--dry-run")
    assert code == 0
    assert out.startswith("would forget the decisions of deliveries received before ")
    code, out, _ = run(capsys, *inbox, "--older-than", "1d", "--yes")
    assert code == 0
    assert out.startswith("forgot 0 decisions (received before ")
    code, out, _ = run(capsys, *inbox, "--older-than", "0s", "--yes", "--json")
    assert (code, json.loads(out)) == (0, {"forgotten": 3, "dry_run": False})
    assert list(store.decisions_for_client(ADA)) == []
    assert list(store.decisions_for_client(BOB)) == []
    # The deliveries themselves are retention's (`inbox erase`, `inbox purge`): untouched here.
    record = store.get(ids["bob"])
    assert record is not None
    assert record.body is not None


def test_forget_erases_a_verdict_of_the_person_not_handled_yet(
    capsys: pytest.CaptureFixture[str], db: Path, store: SQLiteStore, ids: dict[str, str]
) -> None:
    """A verdict of ADA stored before the erasure and not handled yet (deferred) recorded her in
    the ledger again when the worker handled it after `forget` (review 13): forget reads the
    bodies of the deliveries not handled yet and erases hers, so that the worker fails it
    (BodyErasedError) and records nothing; BOB's waiting delivery is left alone."""
    deferring = kw.Receiver(kw.ComplyCube(secret=SECRET), store=store, defer=True)
    waiting = {}
    for who, client, event_id, check in (
        ("ada", ADA, "evt-0004", "chk-ADA-0004"),
        ("bob", BOB, "evt-0005", "chk-BOB-0005"),
    ):
        payload = sample_payload(
            "complycube", "check.completed.clear", id=event_id, payload__id=check
        )
        set_path(payload, "payload__clientId", client)
        signed = sign("complycube", payload, SECRET, event_type="check.completed")
        stored = deferring.handle(*signed)
        assert stored.status_code == 202
        assert stored.delivery_id is not None
        waiting[who] = stored.delivery_id
    inbox = ("inbox", "--inbox", str(db), "forget", "--client-ref", ADA)
    assert run(capsys, *inbox, "--dry-run")[:2] == (
        0,
        "would forget 2 decisions and the bodies of 3 deliveries (dry run)\n",
    )
    code, out, _ = run(capsys, *inbox, "--yes", "--json")
    assert code == 0
    assert sorted(json.loads(out)["deliveries"]) == sorted(
        [ids["ada-1"], ids["ada-2"], waiting["ada"]]
    )
    worker = kw.Receiver(kw.ComplyCube(secret=SECRET), store=store)
    summary = worker.process_pending()
    # BOB's handled; ADA's, erased, was left failed by the erasure and is not taken again.
    assert (summary.succeeded, summary.failed) == (1, 0)
    left = store.get(waiting["ada"])
    assert left is not None
    assert (left.state.value, left.last_error_type) == ("failed", "BodyErasedError")
    assert store.decisions_for_client(ADA) == []
    assert [e.subject for e in store.decisions_for_client(BOB)] == [
        "chk-BOB-0005",
        "chk-BOB-0003",
    ]
    for text in (ADA, "chk-ADA-0004"):
        assert found(db, text) == [], text
