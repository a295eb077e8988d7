# ruff: noqa: S608 -- statements name the generated test schemas (kw_test_<pid>_<hex>).
"""PostgresStore with values of any length (review 3, finding 1): a btree index entry holds at
most ~2.7 kB, so schema version 3 indexes SHA-256 digests of the delivery key and of (vendor,
subject), and prefixes of vendor, event type and client_ref. Here: long values through a receiver
and through the store, values that differ only past the indexed prefix, every lookup using its
index (EXPLAIN), and the migration of a populated version 2 schema -- alone, by processes starting
together, past the statement timeout, and by ``kyc-webhooks migrate``.

Every test uses a schema of its own (tests/_postgres.py) and skips, naming PostgreSQL, when the
server is unreachable.
"""

from __future__ import annotations

import contextlib
import json
import random
import string
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import kyc_webhooks as kw
from _ledger import claimed, decide, entry
from _postgres import drop_schema, new_schema, postgres_store, require_postgres, sql, watched_pool
from _postgres_layouts import insert_decision, insert_delivery, make_layout
from kyc_webhooks import cli
from kyc_webhooks.store import NewDelivery, PostgresStore
from kyc_webhooks.store._base import to_text_column
from kyc_webhooks.store.postgres import SCHEMA_VERSION
from kyc_webhooks.testing import sample_payload, sign

SECRET = "k"
YOTI_AUTH = "u:p"


def noise(length: int, seed: int = 1) -> str:
    rnd = random.Random(seed)
    return "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(length))


@pytest.fixture
def store() -> Iterator[PostgresStore]:
    with postgres_store() as made:
        yield made


def receiver(store: PostgresStore, handled: list[kw.WebhookEvent]) -> kw.Receiver:
    made = kw.Receiver(
        kw.ComplyCube(secret=SECRET),
        kw.Yoti(auth_token=YOTI_AUTH, auth_type="basic"),
        kw.Identomat(api_key=SECRET),
        store=store,
    )
    made.on("*")(handled.append)
    return made


def long_delivery(case: str, length: int) -> tuple[bytes, dict[str, str]]:
    """A signed, well-formed delivery whose key or event type is ``length`` characters or more
    (the bodies of the review's repro, pg_long_key.py)."""
    if case == "complycube unknown type":
        # (A long event id no longer reaches the key: models.key_part leaves it out.)
        payload = sample_payload("complycube", "check.completed")
        payload["type"] = "x." + noise(length)
        return sign("complycube", json.dumps(payload).encode(), SECRET)
    if case == "yoti topic":
        # (A long session_id no longer reaches the key: models.key_part leaves it out.)
        payload = sample_payload("yoti", "session_completion")
        payload["topic"] = "x_" + noise(length)
        return sign("yoti", json.dumps(payload).encode(), YOTI_AUTH)
    payload = sample_payload("identomat", "session-change")
    payload["type"] = "x-" + noise(length)
    return sign("identomat", json.dumps(payload).encode(), SECRET)


# -- long values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [3000, 100_000])
@pytest.mark.parametrize(
    "case", ["complycube unknown type", "yoti topic", "identomat unknown type"]
)
def test_a_long_key_or_event_type_is_stored_and_handled_like_any_other(
    store: PostgresStore, case: str, length: int
) -> None:
    # Was: 503 "delivery store unavailable" for every attempt (ProgramLimitExceeded, SQLSTATE
    # 54000: the key or the event type did not fit in its index), and the vendor retried forever.
    handled: list[kw.WebhookEvent] = []
    body, headers = long_delivery(case, length)
    first = receiver(store, handled).handle(body, headers)
    assert first.status_code == 200, first.response_body()
    assert len(handled) == 1
    again = receiver(store, handled).handle(body, headers)
    assert (again.status_code, again.duplicate, again.delivery_id) == (200, True, first.delivery_id)
    assert len(handled) == 1
    assert first.delivery_id is not None
    record = store.get(first.delivery_id)
    assert record is not None
    assert record.done
    assert max(len(record.delivery_key), len(record.event_type)) >= length
    found = store.get_by_key(record.delivery_key)
    assert found is not None
    assert found.id == record.id
    listed = store.deliveries(vendor=record.vendor, event_type=record.event_type)
    assert [r.id for r in listed] == [record.id]


def test_a_long_ledger_subject_is_stored_and_its_decisions_follow_each_other(
    store: PostgresStore,
) -> None:
    # Was: 503 and nothing stored for a ComplyCube check whose id (the ledger's subject) is
    # 3,000 characters: the ledger's primary key (vendor, subject) did not fit in its index.
    subject = noise(3000, seed=2)
    handled: list[kw.WebhookEvent] = []
    outcomes = []
    for event_id, outcome in (("evt-1", "attention"), ("evt-2", "clear")):
        payload = sample_payload("complycube", "check.completed")
        payload["id"] = event_id
        payload["payload"]["id"] = subject
        payload["payload"]["outcome"] = outcome
        outcomes.append(
            receiver(store, handled).handle(
                *sign("complycube", json.dumps(payload).encode(), SECRET)
            )
        )
    assert [o.status_code for o in outcomes] == [200, 200]
    latest = store.effective_decision("complycube", subject)
    assert latest is not None
    assert latest.delivery_id == outcomes[1].delivery_id
    assert sql(f"SELECT count(*) FROM {store.schema}.decisions") == [(1,)]


def test_a_long_client_ref_lists_its_decisions(store: PostgresStore) -> None:
    client_ref = noise(5000, seed=3)
    claim = claimed(store)
    decide(store, entry(claim, client_ref=client_ref), claim)
    (listed,) = store.decisions_for_client(client_ref)
    assert listed.delivery_id == claim.record.id


@pytest.mark.parametrize("odd", ["\x00", "\ud800", "é€😀"])
def test_long_text_postgresql_cannot_hold_is_stored_and_found(
    store: PostgresStore, odd: str
) -> None:
    # to_text_column stores such text as a marker and the hex of its bytes: longer still.
    key = odd + noise(3000)
    added = store.add(NewDelivery(key, "idenfy", odd + noise(3000, seed=4), b"{}"), lease=30)
    assert added.created
    assert added.claim is not None
    assert not store.add(NewDelivery(key, "idenfy", "T", b"{}"), lease=30).created
    found = store.get_by_key(key)
    assert found is not None
    assert (found.id, found.delivery_key) == (added.record.id, key)
    subject = odd + noise(3000, seed=5)
    decide(store, entry(added.claim, subject=subject, client_ref=subject), added.claim)
    effective = store.effective_decision("idenfy", subject)
    assert effective is not None
    assert effective.subject == subject
    assert [d.subject for d in store.decisions_for_client(subject)] == [subject]
    # The digests the store computed are those the migration to version 3 computes in SQL.
    d, c = f"{store.schema}.deliveries", f"{store.schema}.decisions"
    assert sql(
        f"SELECT count(*), count(*) FILTER (WHERE key_hash = "
        f"sha256(convert_to(delivery_key, 'UTF8'))) FROM {d}"
    ) == [(1, 1)]
    assert sql(
        f"SELECT count(*), count(*) FILTER (WHERE subject_hash = sha256(convert_to(vendor, "
        f"'UTF8') || decode('00', 'hex') || convert_to(subject, 'UTF8'))) FROM {c}"
    ) == [(1, 1)]


def test_values_that_differ_only_past_the_indexed_prefix_stay_apart(store: PostgresStore) -> None:
    common = noise(300, seed=6)  # longer than the 200 characters the lookup indexes keep
    for n in (1, 2):
        added = store.add(
            NewDelivery(common + str(n), common + str(n), common + str(n), b"{}"), lease=30
        )
        assert added.created
        assert added.claim is not None
        made = entry(
            added.claim,
            vendor=common + str(n),
            subject=common + str(n),
            client_ref=common + str(n),
        )
        decide(store, made, added.claim)
    for n in (1, 2):
        value = common + str(n)
        (by_vendor,) = store.deliveries(vendor=value)
        (by_type,) = store.deliveries(vendor=value, event_type=value)
        assert by_vendor.delivery_key == by_type.delivery_key == value
        assert store.deliveries(vendor=value, event_type=common + str(3 - n)) == []
        effective = store.effective_decision(value, value)
        assert effective is not None
        assert effective.vendor == value
        (listed,) = store.decisions_for_client(value)
        assert listed.client_ref == value


def test_a_vendor_and_subject_never_run_into_each_other(store: PostgresStore) -> None:
    # ("ab", "c") and ("a", "bc"): the digest joins them with a byte no text holds.
    for vendor, subject in (("ab", "c"), ("a", "bc")):
        claim = claimed(store)
        decide(store, entry(claim, vendor=vendor, subject=subject), claim)
    assert sql(f"SELECT count(*) FROM {store.schema}.decisions") == [(2,)]
    first = store.effective_decision("ab", "c")
    second = store.effective_decision("a", "bc")
    assert first is not None
    assert second is not None
    assert (first.vendor, second.vendor) == ("ab", "a")


# -- every lookup uses its index -----------------------------------------------------------------


@contextlib.contextmanager
def recording_store() -> Iterator[tuple[PostgresStore, list[tuple[str, Any]]]]:
    """A PostgresStore in a schema of its own whose connections note every statement on that
    schema with its parameters."""
    schema = new_schema()
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, text: str, params: Any, run: Callable[[], Any]) -> Any:
        statements.append((text, params))
        return run()

    try:
        with watched_pool(schema, record) as pool, PostgresStore(pool, schema=schema) as store:
            store.migrate()
            statements.clear()
            yield store, statements
    finally:
        drop_schema(schema)


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def indexes_used(query: str, params: Any, mode: str) -> set[str]:
    """The indexes the plan of ``query`` reads or infers ON CONFLICT by, with sequential scans
    disabled (the planner still picks one when no index can serve): a plan that scans a table
    fails the test. ``mode``: the plan_cache_mode (a generic plan is what a prepared statement
    runs)."""
    import psycopg

    with psycopg.connect(require_postgres(), autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute(f"SET plan_cache_mode = {mode}")
        row = conn.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()
    assert row is not None
    (top,) = row[0]
    used: set[str] = set()
    for node in plan_nodes(top["Plan"]):
        assert node["Node Type"] != "Seq Scan", (query, node)
        used.update(node.get("Conflict Arbiter Indexes", []))
        if "Index Name" in node:
            used.add(node["Index Name"])
    return used


@pytest.mark.parametrize("mode", ["force_custom_plan", "force_generic_plan"])
def test_every_lookup_by_key_subject_vendor_or_client_uses_an_index(mode: str) -> None:
    with recording_store() as (store, statements):
        long_key = noise(3000)
        store.add(NewDelivery("plain", "idenfy", "T", b"{}"))  # add without a claim
        payload = sample_payload("complycube", "check.completed")  # add with a decision
        payload["payload"]["id"] = noise(3000)
        delivery = sign("complycube", json.dumps(payload).encode(), SECRET)
        assert receiver(store, []).handle(*delivery).status_code == 200
        held = store.add(NewDelivery(long_key, "idenfy", noise(3000), b"{}"), lease=30)
        assert held.claim is not None
        store.add(NewDelivery(long_key, "idenfy", "T", b"{}"), lease=30)  # busy: the fallback
        decide(store, entry(held.claim, subject=long_key, client_ref=long_key), held.claim)
        aborted = claimed(store)
        ticket = store.begin_decision(aborted, entry(aborted, subject="other"), lease=30)
        assert ticket is not None
        store.abort_decision(ticket)
        store.get_by_key(long_key)
        store.effective_decision("idenfy", long_key)
        store.decisions_for_client(long_key)
        store.deliveries(vendor="idenfy")
        store.deliveries(vendor="idenfy", event_type="T")
        store.deliveries(id_prefix=held.record.id[:8])  # `inbox show ID-PREFIX`
        store.count(id_prefix=held.record.id[:8])
        checked: dict[str, set[str]] = {}
        for query, params in statements:
            used = indexes_used(query, params, mode)
            text = " ".join(query.replace(f"{store.schema}.", "").split())
            if "ON CONFLICT (key_hash)" in text:
                assert "deliveries_key_hash" in used, text
                checked["add"] = used
            if "FROM deliveries WHERE key_hash" in text:
                assert "deliveries_key_hash" in used, text
                checked["by_key"] = used
            if "FROM decisions WHERE subject_hash" in text:
                assert used == {"decisions_subject"}, text
                checked["effective_decision"] = used
            if "lease AS (INSERT INTO decisions" in text:
                assert {"deliveries_key_hash", "decisions_subject"} <= used, text
                checked["add_claim_lease"] = used
            if text.startswith("INSERT INTO decisions"):
                assert used == {"decisions_subject", "deliveries_pkey"}, text
                checked["begin_decision"] = used
            if text.startswith("WITH done AS"):
                assert used == {"decisions_subject", "deliveries_pkey"}, text
                checked["complete_decision"] = used
            if text.startswith("WITH gone AS"):
                assert used == {"decisions_subject"}, text
                checked["abort_decision"] = used
            if "WHERE left(client_ref, 200)" in text:
                assert used == {"decisions_client"}, text
                checked["decisions_for_client"] = used
            if "WHERE left(vendor, 200)" in text:
                assert used == {"deliveries_vendor"}, text
                checked.setdefault("deliveries", set()).update(used)
            if "WHERE id >= " in text:
                assert used == {"deliveries_pkey"}, text
                checked.setdefault("id_prefix", set()).update(used)
        assert sorted(checked) == [
            "abort_decision",
            "add",
            "add_claim_lease",
            "begin_decision",
            "by_key",
            "complete_decision",
            "decisions_for_client",
            "deliveries",
            "effective_decision",
            "id_prefix",
        ]


# -- the migration from schema version 2 ---------------------------------------------------------

NOW = datetime.now(timezone.utc)
HELD = "b" * 32
#: Keys as version 2 stored them (to_text_column's text): the digests the migration computes
#: from the stored column must be those the statements compute from a parameter.
ODD_KEYS = ("dön€-ключ-😀", to_text_column("nul\x00key"), to_text_column("lone\udc80"))


def populate_version_2(schema: str) -> None:
    """Records in every state, a live claim, a live subject lease, decisions with client_refs."""
    make_layout(schema, 2)
    before = NOW - timedelta(hours=1)
    for n, key in enumerate(("done-key", *ODD_KEYS)):
        insert_delivery(
            schema,
            record_id=f"{n:032x}",
            key=key,
            state="done",
            received_at=before + timedelta(seconds=n),
            attempts=1,
            finished_at=before + timedelta(seconds=n),
        )
    insert_delivery(
        schema,
        record_id="c" * 32,
        key="failed-key",
        state="failed",
        received_at=before,
        attempts=1,
        last_error_type="ValueError",
    )
    insert_delivery(
        schema, record_id="d" * 32, key="pending-key", state="pending", received_at=before
    )
    insert_delivery(
        schema,
        record_id="e" * 32,
        key="erased-key",
        state="done",
        received_at=before,
        body=None,
        body_erased_at=before,
    )
    insert_delivery(
        schema,
        record_id=HELD,
        key="held-key",
        state="processing",
        received_at=before,
        attempts=1,
        lease_until=NOW + timedelta(hours=1),
        claim_token="held-token",
    )
    decided = {
        "status": "APPROVED",
        "final": True,
        "delivery_id": "0" * 32,
        "event_type": "T",
        "received_at": before,
        "reasons": "[]",
        "fetch_required": False,
    }
    insert_decision(schema, vendor="idenfy", subject="scan-0", client_ref="client-1", **decided)
    insert_decision(schema, vendor="idenfy", subject="scän-ü😀", client_ref="clïent", **decided)
    insert_decision(
        schema,
        vendor="idenfy",
        subject="scan-held",
        lease_token="lease-token",
        lease_until=NOW + timedelta(hours=1),
        lease_delivery=HELD,
    )


def test_a_populated_version_2_schema_migrates_keeping_records_claims_and_leases(
    schema: str,
) -> None:
    populate_version_2(schema)
    deliveries = f"SELECT * FROM {schema}.deliveries ORDER BY id"
    decisions = f"SELECT * FROM {schema}.decisions ORDER BY vendor, subject"
    rows, ledger = sql(deliveries), sql(decisions)
    with PostgresStore(require_postgres(), schema=schema) as upgraded:
        assert upgraded.migrate() == SCHEMA_VERSION == 4
        # Every column kept; the new one (the digest) is the last -- in the ledger followed by
        # the verdict last announced (version 4): the entry's status and finality, and the
        # layout guard (4).
        assert [row[:-1] for row in sql(deliveries)] == rows
        assert [row[:-4] for row in sql(decisions)] == ledger
        assert [row[-3:] for row in sql(decisions)] == [(row[2], row[3], 4) for row in ledger]
        # Found by their keys and deduplicated: the digests of the stored keys (computed by the
        # migration) are those of the keys looked up.
        for key in ("done-key", "dön€-ключ-😀", "nul\x00key", "lone\udc80", "erased-key"):
            found = upgraded.get_by_key(key)
            assert found is not None, key
            assert found.delivery_key == key
            assert not upgraded.add(NewDelivery(key, "idenfy", "T", b"{}"), lease=30).created
        failed = upgraded.add(NewDelivery("failed-key", "idenfy", "T", b"{}"), lease=30)
        assert (failed.created, failed.claim is not None) == (False, True)
        # The claim and the subject lease taken under version 2 still hold.
        assert upgraded.claim(HELD, lease=30) is None
        busy = claimed(upgraded)
        assert upgraded.begin_decision(busy, entry(busy, subject="scan-held"), lease=30) is None
        # The decisions are found by (vendor, subject) and by client.
        for subject, client_ref in (("scan-0", "client-1"), ("scän-ü😀", "clïent")):
            effective = upgraded.effective_decision("idenfy", subject)
            assert effective is not None
            assert (effective.status, effective.client_ref) == ("APPROVED", client_ref)
            assert [d.subject for d in upgraded.decisions_for_client(client_ref)] == [subject]
        later = claimed(upgraded)
        ticket = upgraded.begin_decision(later, entry(later, subject="scan-0"), lease=30)
        assert ticket is not None
        assert ticket.previous is not None
        assert ticket.previous.delivery_id == "0" * 32
        # And what version 2 could not store.
        long_key = noise(5000)
        assert upgraded.add(NewDelivery(long_key, "idenfy", noise(5000), b"{}"), lease=30).created
    assert sql(f"SELECT version FROM {schema}.migrations ORDER BY version") == [
        (1,),
        (2,),
        (3,),
        (4,),
    ]


def test_processes_starting_together_migrate_a_populated_version_2_schema_once(
    schema: str,
) -> None:
    """Eight stores (own pools, own connections) start on a populated version 2 schema at the
    same moment: one migrates it under the advisory lock, the others wait and find it current."""
    populate_version_2(schema)
    sql(
        f"INSERT INTO {schema}.deliveries (id, delivery_key, vendor, event_type, state, "
        "received_at, updated_at, body) SELECT md5(n::text), 'bulk-' || n, 'idenfy', 'T', "
        "'done', now(), now(), '\\x7b7d' FROM generate_series(1, 20000) AS n"
    )
    sql(
        f"INSERT INTO {schema}.decisions (vendor, subject, status, final, delivery_id, "
        "event_type, received_at, client_ref, reasons, fetch_required) SELECT 'idenfy', "
        "'bulk-' || n, 'APPROVED', true, md5(n::text), 'T', now(), 'c-' || (n % 100), '[]', "
        "false FROM generate_series(1, 5000) AS n"
    )
    dsn = require_postgres()
    count = 8
    barrier = threading.Barrier(count, timeout=30)
    errors: list[BaseException] = []
    found: list[bool] = []
    lock = threading.Lock()

    def start(n: int) -> None:
        made = PostgresStore(dsn, schema=schema, timeout=30)
        try:
            barrier.wait()
            made.migrate()
            record = made.get_by_key(f"bulk-{n + 1}")
            with lock:
                found.append(record is not None and record.done)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            made.close()

    pool = [threading.Thread(target=start, args=(n,)) for n in range(count)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert errors == []
    assert found == [True] * count
    assert sql(f"SELECT version FROM {schema}.migrations ORDER BY version") == [
        (1,),
        (2,),
        (3,),
        (4,),
    ]
    assert sql(f"SELECT count(*) FROM {schema}.deliveries") == [(20008,)]
    assert sql(f"SELECT count(*) FROM {schema}.decisions") == [(5003,)]
    with PostgresStore(dsn, schema=schema) as store:
        assert len(store.decisions_for_client("c-7", limit=100)) == 50


def test_a_migration_is_not_cut_short_by_the_statement_timeout(schema: str) -> None:
    # A populated table takes its time; here a trigger makes rewriting one row take 1.5 s, past
    # the store's 1 s statement timeout. Cut short, the migration would roll back and start over
    # on every call, each time holding the tables' locks for the length of the timeout.
    populate_version_2(schema)
    sql(
        f"CREATE FUNCTION {schema}.slow() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_sleep(1.5); RETURN NEW; END $$"
    )
    sql(
        f"CREATE TRIGGER slow BEFORE UPDATE ON {schema}.deliveries FOR EACH ROW "
        f"WHEN (OLD.delivery_key = 'done-key') EXECUTE FUNCTION {schema}.slow()"
    )
    with PostgresStore(require_postgres(), schema=schema, timeout=1.0) as upgraded:
        assert upgraded.migrate() == 4
        assert upgraded.get_by_key("done-key") is not None
    sql(f"DROP TRIGGER slow ON {schema}.deliveries")


def test_kyc_webhooks_migrate_upgrades_a_version_2_schema(
    schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    populate_version_2(schema)
    code = cli.main(["migrate", "--store", require_postgres(), "--schema", schema])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.endswith(": schema version 4, up to date\n")
    assert sql(f"SELECT version FROM {schema}.migrations ORDER BY version") == [
        (1,),
        (2,),
        (3,),
        (4,),
    ]


def _wait_for_activity(query_start: str, wait_event_type: str) -> None:
    """Until a session on the server runs a statement starting with ``query_start`` and waits
    (``wait_event_type``: Lock or Advisory)."""
    for _ in range(3000):
        rows = sql(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND wait_event_type = %s",
            query_start.replace("%", "\\%").replace("_", "\\_") + "%",
            wait_event_type,
        )
        if rows == [(1,)]:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"no session waits in {query_start!r}")


def test_the_migration_locks_both_tables_before_rewriting_either(schema: str) -> None:
    """A statement of a process of the previous version that locks the ledger, then the
    deliveries (its begin_decision) while the migration rewrites the deliveries must wait, not
    deadlock with it: the migration takes both tables' locks at once, first."""
    import psycopg

    dsn = require_postgres()
    populate_version_2(schema)
    gate = f"gate-{schema}"
    # The migration's rewrite of one row waits for a lock the test holds: it stops there, the
    # deliveries locked, until the test lets it go.
    sql(
        f"CREATE FUNCTION {schema}.gate() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN PERFORM pg_advisory_xact_lock(hashtext('{gate}')); RETURN NEW; END $$"
    )
    sql(
        f"CREATE TRIGGER gate BEFORE UPDATE ON {schema}.deliveries FOR EACH ROW "
        f"WHEN (OLD.delivery_key = 'done-key') EXECUTE FUNCTION {schema}.gate()"
    )
    results: dict[str, Any] = {}

    def migrate() -> None:
        try:
            with PostgresStore(dsn, schema=schema, timeout=30) as store:
                results["version"] = store.migrate()
        except BaseException as exc:
            results["migrate"] = exc

    older = f"SELECT count(*) FROM {schema}.decisions, {schema}.deliveries"

    def read() -> None:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                results["read"] = conn.execute(older).fetchone()
        except BaseException as exc:
            results["read"] = exc

    with psycopg.connect(dsn, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(hashtext(%s))", (gate,))
        migrator = threading.Thread(target=migrate)
        migrator.start()
        _wait_for_activity(f"UPDATE {schema}.deliveries SET key_hash", "Lock")
        reader = threading.Thread(target=read)
        reader.start()
        _wait_for_activity(older, "Lock")
        holder.execute("SELECT pg_advisory_unlock(hashtext(%s))", (gate,))
        migrator.join(timeout=60)
        reader.join(timeout=60)
    # Was: the migration, holding the deliveries, waited for the ledger that the reader held
    # while it waited for the deliveries: one of them was cancelled (DeadlockDetected).
    assert results == {"version": 4, "read": (24,)}
