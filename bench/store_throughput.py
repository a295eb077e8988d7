"""Benchmark: sequential deliveries per second through ``receiver.handle()``, with and without a
store (docs/delivery-guarantees.md).

Run: ``python bench/store_throughput.py`` (``--quick`` for fewer deliveries, ``--dir`` to put the
SQLite file on a particular disk). Prints a table and exits 0; it asserts nothing.

Each row delivers N distinct signed iDenfy identification events of ~6 KB (``--body-kb``; each
carries a verdict, so the decision ledger is written too: store insert + claim, subject lease,
handler, complete), then the same N again (every one a duplicate: one lookup, no handler).

* no store            -- ``kw.Receiver(kw.Idenfy(...))``
* MemoryStore         -- ``store=kw.MemoryStore()``
* SQLite floor        -- no receiver: one ``INSERT`` per delivery of the same body and headers
                         into one table of the store's former shape (its five indexes, WAL,
                         ``secure_delete``) with ``synchronous=FULL``, in the same directory: one
                         synced commit per delivery, nothing else
* SQLite (durable)    -- ``store=kw.SQLiteStore(path)`` (the default)
* SQLite (NORMAL)     -- ``store=kw.SQLiteStore(path, durable=False)``
* SQLite before       -- with ``--before FILE``: the SQLiteStore of an older ``sqlite.py`` (e.g.
                         ``git show main:src/kyc_webhooks/store/sqlite.py > /tmp/before.py``),
                         measured in the same run for a before/after comparison

SQLite rows and the floor run in alternating rounds (``--rounds``), best of each: a shared VM's disk
and CPU drift hit all alike. The ratio column is new events/s over the floor's inserts/s.

PostgreSQL (``--postgres DSN``, default ``$KYC_TEST_POSTGRES_DSN`` or
``postgresql://postgres@127.0.0.1:5432/test``; skipped when unreachable): 1, 2 and 4 processes
(``--processes``) each deliver their share of the events (~6 KB bodies, ``--body-kb``) through
``kw.PostgresStore`` -- new events, then the same again as duplicates -- side by side with a floor
of one INSERT plus one UPDATE per delivery into the same table shape, over the same connection
kind (psycopg 3, autocommit, one connection per process), on the same server. Each run uses
schemas of its own, dropped at the end. ``--before-postgres FILE`` adds the PostgresStore of an
older ``postgres.py`` (``git show <rev>:src/kyc_webhooks/store/postgres.py > /tmp/before_pg.py``)
in the same alternating rounds (rows ``<n> before``). ``--async`` adds rows ``<n> threads`` and
``<n> native``: each process delivers through ``await receiver.handle_async()``, one at a time,
without and with ``PostgresStore.open_async()`` (a worker thread per store call, or psycopg's
async connections on the event loop). ``--pgbouncer DSN`` (default ``$KYC_TEST_PGBOUNCER_DSN``, if
set) adds rows ``<n> pgbouncer``: ``PostgresStore(DSN, pgbouncer=True)`` through that PgBouncer in
front of the same server (no prepared statements, one more hop), beside the same direct floor.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import logging
import multiprocessing
import os
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kyc_webhooks as kw
from kyc_webhooks.testing import sign

KEY = "bench-signing-key"


def deliveries(count: int, *, start: int = 0, pad: int = 0) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` signed iDenfy events; ``pad`` adds that many bytes of extra (allowed) data."""
    # Hex of random bytes: about as compressible as real bodies (PostgreSQL compresses large
    # values), unlike a run of one character.
    extra = {"notes": os.urandom(pad // 2).hex()} if pad else {}
    return [
        sign(
            "idenfy",
            {
                "scanRef": f"scan-{n:06d}",
                "clientId": f"client-{n}",
                "final": True,
                "status": {"overall": "APPROVED", "autoDocument": "DOC_VALIDATED"},
                "data": {"docFirstName": "Jūratė", "docLastName": "Petrauskienė"},
                **extra,
            },
            KEY,
            event_type="IDENTIFICATION_AUTO_FINISHED",
        )
        for n in range(start, start + count)
    ]


def measure(
    make_store: Callable[[], kw.Store | None], items: list[tuple[bytes, dict[str, str]]]
) -> tuple[float, float]:
    store = make_store()
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
    handled = []
    receiver.on("idenfy")(lambda event: handled.append(1))
    receiver.handle(*deliveries(1, start=999_999)[0])  # warm-up: builds the model schema
    rates = []
    for _ in range(2):  # first pass: new events; second pass: duplicates (with a store)
        start = time.perf_counter()
        for body, headers in items:
            outcome = receiver.handle(body, headers)
            if not outcome.ok:
                raise SystemExit(f"unexpected outcome {outcome.status_code}: {outcome.error!r}")
        rates.append(len(items) / (time.perf_counter() - start))
    if store is not None:
        store.close()
    return rates[0], rates[1]


# -- SQLite: the floor, and an older store for before/after ------------------------------------

# The floor's table: one row per delivery holding its body and headers, with the indexes the
# store's deliveries table had up to schema version 3 (a text primary key, the unique delivery
# key, state, received time, vendor). Fixed here, not taken from the store, so that the floor
# stays the same workload whatever the store's schema becomes.
SQLITE_FLOOR_SCHEMA = (
    """CREATE TABLE floor_deliveries (
        id TEXT PRIMARY KEY, delivery_key TEXT NOT NULL UNIQUE, vendor TEXT NOT NULL,
        event_type TEXT NOT NULL, state TEXT NOT NULL, received_at REAL NOT NULL,
        updated_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        replays INTEGER NOT NULL DEFAULT 0, body BLOB, headers TEXT NOT NULL DEFAULT '[]',
        lease_until REAL, claim_token TEXT, finished_at REAL, last_error_type TEXT,
        last_error_message TEXT, not_before REAL, body_erased_at REAL
    )""",
    "CREATE INDEX floor_deliveries_state ON floor_deliveries (state, received_at)",
    "CREATE INDEX floor_deliveries_received ON floor_deliveries (received_at)",
    "CREATE INDEX floor_deliveries_vendor ON floor_deliveries (vendor, event_type, received_at)",
)
SQLITE_FLOOR_INSERT = (
    "INSERT INTO floor_deliveries (id, delivery_key, vendor, event_type, state, "
    "received_at, updated_at, attempts, body, headers, finished_at) "
    "VALUES (?, ?, 'idenfy', 'IDENTIFICATION_AUTO_FINISHED', 'done', ?, ?, 1, ?, ?, ?)"
)


def sqlite_floor(path: Path, items: list[tuple[bytes, dict[str, str]]]) -> float:
    """Inserts/s: one autocommitted INSERT per delivery (the body and headers of the delivery)
    into a table of the store's former one-table shape (:data:`SQLITE_FLOOR_SCHEMA`), WAL,
    ``secure_delete`` and ``synchronous=FULL``: one synced commit per delivery."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA secure_delete = ON")
        for statement in SQLITE_FLOOR_SCHEMA:
            conn.execute(statement)
        import json

        rows = [
            (secrets.token_hex(16), secrets.token_hex(16), body, json.dumps(list(headers.items())))
            for body, headers in items
        ]
        start = time.perf_counter()
        for row_id, key, body, headers_json in rows:
            now = time.time()
            conn.execute(SQLITE_FLOOR_INSERT, (row_id, key, now, now, body, headers_json, now))
        return len(rows) / (time.perf_counter() - start)
    finally:
        conn.close()


def load_store_class(path: Path, name: str = "SQLiteStore") -> Callable[..., kw.Store]:
    """The store class ``name`` of an older ``sqlite.py`` / ``postgres.py``, imported as a
    module of this ``kyc_webhooks.store`` package (its relative imports resolve against the
    current one)."""
    spec = importlib.util.spec_from_file_location(f"kyc_webhooks.store._bench_{name}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    cls: Callable[..., kw.Store] = getattr(module, name)
    return cls


def _sqlite_section(
    workdir: Path, count: int, body_kb: float, rounds: int, before: Path | None
) -> None:
    pad = int(body_kb * 1024)
    items = deliveries(count, pad=pad)
    size = len(items[0][0])
    before_cls = load_store_class(before) if before is not None else None
    made = 0

    def path(kind: str) -> Path:
        nonlocal made
        made += 1
        return workdir / f"{kind}-{made}.db"

    rows: list[tuple[str, Callable[[], kw.Store]]] = [
        ("SQLite (durable, default)", lambda: kw.SQLiteStore(path("durable"))),
        ("SQLite (durable=False)", lambda: kw.SQLiteStore(path("normal"), durable=False)),
    ]
    if before_cls is not None:
        rows.insert(1, ("SQLite before (durable)", lambda: before_cls(path("before"))))
    floors: list[float] = []
    results: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name, _ in rows}
    for _ in range(rounds):
        floors.append(sqlite_floor(path("floor"), items))
        for name, make in rows:
            new, again = measure(make, items)
            results[name][0].append(new)
            results[name][1].append(again)
    floor = max(floors)
    print(
        f"\nSQLite {sqlite3.sqlite_version}: {count} sequential deliveries of {size / 1024:.1f} KB "
        f"per row; best of {rounds} alternating rounds; files in {workdir}"
    )
    print(f"{'store':32} {'new events/s':>14} {'x floor':>8} {'duplicates/s':>14}")
    print(f"{'floor: 1 INSERT, FULL':32} {floor:14,.0f} {1:8.2f} {'':>14}")
    for name, _ in rows:
        new, again = max(results[name][0]), max(results[name][1])
        print(f"{name:32} {new:14,.0f} {new / floor:8.2f} {again:14,.0f}")


# -- PostgreSQL: several processes, store vs floor ----------------------------------------------

FLOOR_INSERT = (
    "INSERT INTO {s}.deliveries (id, key_hash, delivery_key, vendor, event_type, state, "
    "received_at, updated_at, attempts, body, headers) VALUES (%s, %s, %s, 'idenfy', %s, "
    "'processing', statement_timestamp(), statement_timestamp(), 1, %s, %s)"
)
FLOOR_UPDATE = (
    "UPDATE {s}.deliveries SET state = 'done', finished_at = statement_timestamp(), "
    "updated_at = statement_timestamp() WHERE id = %s"
)


def _pg_child(
    kind: str,
    dsn: str,
    schema: str,
    index: int,
    count: int,
    pad: int,
    barrier: Any,
    results: Any,
    before: Path | None = None,
) -> None:
    """One benchmark process: ``count`` new deliveries, then (stores only) the same again.
    ``dsn`` is the PgBouncer's for ``kind`` "pgbouncer"."""
    items = deliveries(count, start=(index + 1) * 1_000_000, pad=pad)
    marks: list[float] = []
    if kind in ("threads", "native"):
        import asyncio

        async def run() -> None:
            store = kw.PostgresStore(dsn, schema=schema, max_size=1)
            if kind == "native":
                await store.open_async()
            receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
            receiver.on("idenfy")(lambda event: None)
            warm = deliveries(1, start=(index + 1) * 1_000_000 - 1, pad=pad)[0]
            await receiver.handle_async(*warm)
            for _ in range(2):  # new events, then duplicates
                barrier.wait()
                marks.append(time.perf_counter())
                for body, headers in items:
                    outcome = await receiver.handle_async(body, headers)
                    if not outcome.ok:
                        raise SystemExit(f"unexpected outcome {outcome.status_code}")
                marks.append(time.perf_counter())
            await store.close_async()
            store.close()

        asyncio.run(run())
    elif kind in ("store", "before", "pgbouncer"):
        cls = kw.PostgresStore
        options: dict[str, Any] = {}
        if kind == "pgbouncer":
            options["pgbouncer"] = True
            # Each process's store warns once that the role has no timeouts: not the table's.
            logging.getLogger("kyc_webhooks").setLevel(logging.ERROR)
        if kind == "before":
            assert before is not None
            cls = load_store_class(before, "PostgresStore")  # type: ignore[assignment]
        store = cls(dsn, schema=schema, max_size=1, **options)
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
        receiver.on("idenfy")(lambda event: None)
        receiver.handle(*deliveries(1, start=(index + 1) * 1_000_000 - 1, pad=pad)[0])  # warm-up
        for _ in range(2):  # new events, then duplicates
            barrier.wait()
            marks.append(time.perf_counter())
            for body, headers in items:
                outcome = receiver.handle(body, headers)
                if not outcome.ok:
                    raise SystemExit(f"unexpected outcome {outcome.status_code}")
            marks.append(time.perf_counter())
        store.close()
    else:
        import json

        import psycopg

        # The key's digest (the store's unique column since schema 3) is computed here, before
        # the clock starts: the floor does no work but its two statements.
        rows = [
            (
                secrets.token_hex(16),
                hashlib.sha256(f"floor-{index}-{n}".encode()).digest(),
                f"floor-{index}-{n}",
                body,
                json.dumps(list(headers.items())),
            )
            for n, (body, headers) in enumerate(items)
        ]
        with psycopg.connect(dsn, autocommit=True) as conn:
            insert, update = FLOOR_INSERT.format(s=schema), FLOOR_UPDATE.format(s=schema)
            barrier.wait()
            marks.append(time.perf_counter())
            for row_id, key_hash, key, body, headers_json in rows:
                conn.execute(
                    insert,
                    (row_id, key_hash, key, "IDENTIFICATION_AUTO_FINISHED", body, headers_json),
                )
                conn.execute(update, (row_id,))
            marks.append(time.perf_counter())
            barrier.wait()
    results.put(marks)


def _pg_run(
    kind: str,
    dsn: str,
    processes: int,
    total: int,
    pad: int,
    before: Path | None = None,
    pgbouncer: str = "",
) -> tuple[float, float]:
    """Aggregate new/s and duplicates/s of ``processes`` processes sharing ``total`` events
    (kind "pgbouncer": through the PgBouncer at ``pgbouncer``)."""
    schema = f"kw_bench_{os.getpid()}_{secrets.token_hex(3)}"
    # The schema as the store being measured creates it (an older store refuses a newer schema).
    cls: Any = kw.PostgresStore
    if kind == "before":
        assert before is not None
        cls = load_store_class(before, "PostgresStore")
    made = cls(dsn, schema=schema)  # threads/native: the current store
    made.migrate()
    made.close()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes, timeout=120)
    results = ctx.Queue()
    share = max(1, total // processes)
    procs = [
        ctx.Process(
            target=_pg_child,
            args=(
                kind,
                pgbouncer if kind == "pgbouncer" else dsn,
                schema,
                n,
                share,
                pad,
                barrier,
                results,
                before,
            ),
        )
        for n in range(processes)
    ]
    try:
        for proc in procs:
            proc.start()
        marks = [results.get(timeout=600) for _ in procs]
        for proc in procs:
            proc.join(timeout=60)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=10)
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    done = share * processes
    new = done / (max(m[1] for m in marks) - min(m[0] for m in marks))
    again = 0.0
    if kind != "floor":
        again = done / (max(m[3] for m in marks) - min(m[2] for m in marks))
    return new, again


def _postgres_section(
    dsn: str,
    counts: list[int],
    total: int,
    body_kb: float,
    rounds: int,
    before: Path | None,
    with_async: bool = False,
    pgbouncer: str = "",
) -> None:
    try:
        import psycopg

        with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
            settings = {
                name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
                for name in ("server_version", "synchronous_commit", "fsync")
            }
    except Exception as exc:  # the section is optional: no server, no driver
        print(f"\nPostgreSQL rows skipped: {type(exc).__name__}")
        return
    pad = int(body_kb * 1024)
    size = len(deliveries(1, pad=pad)[0][0])
    print(
        f"\nPostgreSQL {settings['server_version']} (synchronous_commit="
        f"{settings['synchronous_commit']}, fsync={settings['fsync']}): {total} deliveries "
        f"of {size / 1024:.1f} KB per row, shared by the processes; best of {rounds} "
        "alternating rounds"
    )
    print(
        f"{'processes':>9} {'floor (INSERT+UPDATE)/s':>24} {'PostgresStore new/s':>20} "
        f"{'ratio':>6} {'duplicates/s':>13}"
    )
    kinds = ["store", "before"] if before is not None else ["store"]
    if with_async:
        kinds += ["threads", "native"]
    if pgbouncer:
        kinds.append("pgbouncer")
    for processes in counts:
        # Alternating rounds, best of each: a shared VM's disk and CPU drift hit all alike.
        floors: list[float] = []
        rates: dict[str, tuple[list[float], list[float]]] = {kind: ([], []) for kind in kinds}
        for _ in range(rounds):
            floors.append(_pg_run("floor", dsn, processes, total, pad)[0])
            for kind in kinds:
                new, again = _pg_run(kind, dsn, processes, total, pad, before, pgbouncer)
                rates[kind][0].append(new)
                rates[kind][1].append(again)
        floor = max(floors)
        for kind in kinds:
            new, again = max(rates[kind][0]), max(rates[kind][1])
            label = f"{processes}" if kind == "store" else f"{processes} {kind}"
            print(f"{label:>9} {floor:24,.0f} {new:20,.0f} {new / floor:6.2f} {again:13,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="300 deliveries instead of 3000")
    parser.add_argument("--dir", type=Path, default=None, help="directory for the SQLite files")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "KYC_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL server for the PostgresStore rows ('' to skip them)",
    )
    parser.add_argument("--processes", default="1,2,4", help="process counts for PostgreSQL")
    parser.add_argument("--body-kb", type=float, default=6.0, help="body size (KB)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (best of)")
    parser.add_argument(
        "--before", type=Path, default=None, help="an older sqlite.py to measure side by side"
    )
    parser.add_argument(
        "--before-postgres",
        type=Path,
        default=None,
        help="an older postgres.py to measure side by side (rows '<n> before')",
    )
    parser.add_argument("--only-postgres", action="store_true", help="skip the other rows")
    parser.add_argument(
        "--pgbouncer",
        default=os.environ.get("KYC_TEST_PGBOUNCER_DSN", ""),
        help="a PgBouncer in front of --postgres: rows '<n> pgbouncer' (pgbouncer=True)",
    )
    parser.add_argument(
        "--async",
        dest="with_async",
        action="store_true",
        help="PostgreSQL rows '<n> threads' and '<n> native' too: handle_async() without and "
        "with PostgresStore.open_async()",
    )
    args = parser.parse_args()
    count = 300 if args.quick else 3000
    items = deliveries(count)
    workdir = Path(tempfile.mkdtemp(dir=args.dir, prefix="kyc-bench-"))

    rows: list[tuple[str, Callable[[], kw.Store | None]]] = [
        ("no store", lambda: None),
        ("MemoryStore", lambda: kw.MemoryStore()),
    ]
    if not args.only_postgres:
        print(f"{count} sequential small deliveries per row")
        print(f"{'store':32} {'new events/s':>14} {'redeliveries/s':>16}")
    try:
        for name, make_store in [] if args.only_postgres else rows:
            new, again = measure(make_store, items)
            print(f"{name:32} {new:14,.0f} {again:16,.0f}")
        if not args.only_postgres:
            _sqlite_section(workdir, count, args.body_kb, args.rounds, args.before)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.postgres:
        counts = [int(n) for n in args.processes.split(",") if n.strip()]
        _postgres_section(
            args.postgres,
            counts,
            count,
            args.body_kb,
            args.rounds,
            args.before_postgres,
            args.with_async,
            args.pgbouncer,
        )


if __name__ == "__main__":
    main()
