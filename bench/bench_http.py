"""Benchmark: the unit of work a user pays for -- a stored, HTTP-delivered event -- side by side
with a floor in one run.

Run: ``python bench/bench_http.py`` (``--quick`` for fewer deliveries, ``--rounds`` for more
alternating rounds, ``--dir`` to put the SQLite files on a particular disk). Prints a table and
exits 0; it asserts nothing (speed is reported, never tested with timers).

Every row starts its own server in a subprocess: uvicorn on 127.0.0.1 (a free port, the same
settings for all: ``log_level="warning"``, ``access_log=False``; lifespan on for the library,
off for the floors), stopped by its pid afterwards. The client, in this process, delivers over
ONE keep-alive HTTP/1.1 connection (``http.client``), sequentially: a few warm-up deliveries,
then N distinct signed ~6 KB iDenfy identification events (``deliveries()`` of
bench/store_throughput.py; ``--body-kb``), then -- rows with a store -- the same N again, every
one a duplicate. Every answer must be a 200 on the same connection, else the run stops. Rows:

* floor, SQLite      -- a plain ASGI function: reads the body, HMAC-SHA256 hex of it checked
                        against ``Idenfy-Signature`` with ``hmac.compare_digest`` (the floor of
                        bench_core), ``json.loads``, one INSERT of the body and headers into
                        store_throughput's floor table (WAL, ``synchronous=FULL``), then 200
* library + SQLite    -- ``WebhookApp(kw.Receiver(kw.Idenfy(...), store=kw.SQLiteStore(path)))``
                        with one no-op handler; afterwards the store must hold N + warm-ups
                        deliveries in state ``done`` (the handler ran for each)
* floor, no INSERT    -- the floor without its INSERT: HMAC + ``json.loads`` + 200
* library, no store   -- ``WebhookApp(kw.Receiver(kw.Idenfy(...)))``: HTTP + ASGI + handle()
* floor, PostgreSQL   -- with ``--postgres DSN`` (default ``$KYC_TEST_POSTGRES_DSN``; skipped,
                        with the reason, when unreachable): the floor's HMAC + ``json.loads``, then
                        store_throughput's INSERT + UPDATE over one psycopg 3 autocommit
                        connection, into the store's table in a schema of its own
* library + Postgres  -- ``store=kw.PostgresStore(dsn, schema=...)``: ``WebhookApp``'s lifespan
                        opens its async pool, so the store's statements run on the event loop;
                        checked like the SQLite row. Schemas dropped at the end.

``x floor`` is a row's new events/s over the floor above it. The floors call SQLite and psycopg
on the event loop (nothing else runs there). Rows run in alternating rounds (``--rounds``), best
of each: a shared VM's drift hits all alike. The last lines: the library's microseconds per new
delivery minus its floor's, to set beside bench_core's micro-figures (handle() ~40 us).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import secrets
import shutil
import socket
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store_throughput import (
    FLOOR_INSERT,
    FLOOR_UPDATE,
    KEY,
    SQLITE_FLOOR_INSERT,
    SQLITE_FLOOR_SCHEMA,
    deliveries,
)

import kyc_webhooks as kw

Items = list[tuple[bytes, dict[str, str]]]
ROWS = {
    "floor": "floor: HMAC + json + SQLite INSERT",
    "sqlite": "WebhookApp + SQLiteStore (durable)",
    "bare": "floor: HMAC + json",
    "nostore": "WebhookApp, no store",
    "floor-pg": "floor: HMAC + json + PG INSERT+UPDATE",
    "pg": "WebhookApp + PostgresStore",
}
STORED = ("sqlite", "pg")  # rows that get the duplicates pass
WARM = 5


def _floor_app(kind: str, path: str, dsn: str, schema: str) -> Any:
    """The floor's ASGI app: verify, parse, (kind "floor") one SQLite INSERT or (kind
    "floor-pg") one PostgreSQL INSERT + UPDATE, answer 200."""
    key = KEY.encode()
    write: Any = None
    if kind == "floor":
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA secure_delete = ON")
        for statement in SQLITE_FLOOR_SCHEMA:
            conn.execute(statement)

        def write(body: bytes, headers_json: str) -> None:
            now = time.time()
            row = (secrets.token_hex(16), secrets.token_hex(16), now, now, body, headers_json, now)
            conn.execute(SQLITE_FLOOR_INSERT, row)

    elif kind == "floor-pg":
        import psycopg

        pg = psycopg.connect(dsn, autocommit=True)
        insert, update = FLOOR_INSERT.format(s=schema), FLOOR_UPDATE.format(s=schema)

        def write(body: bytes, headers_json: str) -> None:
            row_id, delivery_key = secrets.token_hex(16), secrets.token_hex(16)
            key_hash = hashlib.sha256(delivery_key.encode()).digest()
            event_type = "IDENTIFICATION_AUTO_FINISHED"
            pg.execute(insert, (row_id, key_hash, delivery_key, event_type, body, headers_json))
            pg.execute(update, (row_id,))

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        signature = dict(headers).get("idenfy-signature", "")
        status = 401
        if hmac.compare_digest(hmac.new(key, body, hashlib.sha256).hexdigest(), signature):
            json.loads(body)
            if write is not None:
                write(body, json.dumps(headers))
            status = 200
        start = {"type": "http.response.start", "status": status}
        await send({**start, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    return app


def _serve(kind: str, port: int, path: str, dsn: str, schema: str) -> None:
    """The server process of one row."""
    import uvicorn

    from kyc_webhooks.integrations.asgi import WebhookApp

    if kind.startswith(("floor", "bare")):
        app, lifespan = _floor_app(kind, path, dsn, schema), "off"
    else:
        store: kw.Store | None = None
        if kind == "sqlite":
            store = kw.SQLiteStore(path)
        elif kind == "pg":
            store = kw.PostgresStore(dsn, schema=schema)
        receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store)
        receiver.on("idenfy")(lambda event: None)
        app, lifespan = WebhookApp(receiver, prefix="/webhooks"), "on"
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan=lifespan
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(proc: Any) -> None:
    """Stop one server by its pid: SIGTERM (uvicorn shuts down gracefully), SIGKILL after 10 s."""
    if proc.is_alive():
        proc.terminate()
        proc.join(timeout=10)
    if proc.is_alive():
        proc.kill()
        proc.join(timeout=10)


def _wait_ready(proc: Any, port: int) -> None:
    """Until the server accepts connections: at most 300 tries and 30 seconds."""
    deadline = time.monotonic() + 30
    for _ in range(300):
        if not proc.is_alive():
            raise SystemExit(f"server {proc.name} exited with {proc.exitcode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    raise SystemExit(f"server {proc.name} did not accept connections on port {port}")


def _post(conn: http.client.HTTPConnection, body: bytes, headers: dict[str, str]) -> None:
    conn.request("POST", "/webhooks/idenfy", body=body, headers=headers)
    response = conn.getresponse()
    answer = response.read()
    if response.status != 200:
        raise SystemExit(f"unexpected answer {response.status}: {answer[:500]!r}")
    if response.will_close:
        raise SystemExit("the server closed the connection: not one keep-alive connection")


def _deliver(port: int, warm: Items, passes: list[Items]) -> list[float]:
    """Deliveries/s of each pass, over one connection (after the warm-up deliveries)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for body, headers in warm:
            _post(conn, body, headers)
        rates = []
        for items in passes:
            start = time.perf_counter()
            for body, headers in items:
                _post(conn, body, headers)
            rates.append(len(items) / (time.perf_counter() - start))
        return rates
    finally:
        conn.close()


def _stored(kind: str, path: str, dsn: str, schema: str) -> int:
    """Deliveries in state ``done`` (floors: rows) that the row's server left behind."""
    if kind == "floor":
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            found: int = conn.execute("SELECT count(*) FROM floor_deliveries").fetchone()[0]
        return found
    # The PostgreSQL floor writes the store's own table: the store counts its rows too.
    store = kw.SQLiteStore(path) if kind == "sqlite" else kw.PostgresStore(dsn, schema=schema)
    try:
        return store.count(state="done")
    finally:
        store.close()


def measure(
    kind: str, workdir: Path, items: Items, warm: Items, dsn: str, schemas: list[str]
) -> tuple[float, float]:
    """New deliveries/s and (rows with a store) duplicates/s of one fresh server."""
    path = str(workdir / f"{kind}-{secrets.token_hex(4)}.db")
    schema = ""
    if kind in ("floor-pg", "pg"):
        schema = f"kw_bench_http_{os.getpid()}_{secrets.token_hex(3)}"
        schemas.append(schema)
        made = kw.PostgresStore(dsn, schema=schema)  # the store's tables, for the floor too
        made.migrate()
        made.close()
    port = _free_port()
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_serve, args=(kind, port, path, dsn, schema), name=kind, daemon=True)
    proc.start()
    try:
        _wait_ready(proc, port)
        rates = _deliver(port, warm, [items, items] if kind in STORED else [items])
    finally:
        _stop(proc)
    if kind in ("floor", "floor-pg", *STORED):
        found, expected = _stored(kind, path, dsn, schema), len(items) + len(warm)
        if found != expected:
            raise SystemExit(f"{ROWS[kind]}: {found} deliveries stored as done, not {expected}")
    return rates[0], rates[1] if len(rates) > 1 else 0.0


def _postgres_reason(dsn: str) -> str:
    """Why the PostgreSQL rows cannot run ('' when they can)."""
    if not dsn:
        return "no --postgres DSN"
    try:
        import psycopg

        with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # the rows are optional: no server, no driver
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    return ""


def _drop(dsn: str, schemas: list[str]) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="300 deliveries instead of 3000")
    parser.add_argument("--dir", type=Path, default=None, help="directory for the SQLite files")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("KYC_TEST_POSTGRES_DSN", ""),
        help="PostgreSQL server for the PostgresStore rows ('' to skip them)",
    )
    parser.add_argument("--body-kb", type=float, default=6.0, help="body size (KB)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (best of)")
    args = parser.parse_args()
    count = 300 if args.quick else 3000
    pad = int(args.body_kb * 1024)
    items = deliveries(count, pad=pad)
    warm = deliveries(WARM, start=900_000, pad=pad)
    kinds = ["floor", "sqlite", "bare", "nostore"]
    reason = _postgres_reason(args.postgres)
    if not reason:
        kinds += ["floor-pg", "pg"]
    workdir = Path(tempfile.mkdtemp(dir=args.dir, prefix="kyc-bench-http-"))
    schemas: list[str] = []
    results: dict[str, tuple[list[float], list[float]]] = {kind: ([], []) for kind in kinds}
    try:
        for _ in range(args.rounds):
            for kind in kinds:
                new, again = measure(kind, workdir, items, warm, args.postgres, schemas)
                results[kind][0].append(new)
                results[kind][1].append(again)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if schemas:
            _drop(args.postgres, schemas)
    best = {kind: (max(new), max(again)) for kind, (new, again) in results.items()}

    import uvicorn

    print(
        f"python {sys.version.split()[0]}, uvicorn {uvicorn.__version__}, SQLite "
        f"{sqlite3.sqlite_version}: {count} sequential deliveries of {len(items[0][0]) / 1024:.1f}"
        f" KB per row over one keep-alive connection; best of {args.rounds} alternating rounds"
    )
    print(
        f"{'server':38} {'new/s':>8} {'us/new':>8} {'x floor':>8} {'duplicates/s':>13} "
        f"{'us/dup':>8}"
    )
    floor = 1.0
    for kind in kinds:
        new, again = best[kind]
        floor = new if kind.startswith(("floor", "bare")) else floor
        dups = f"{again:13,.0f} {1e6 / again:8,.0f}" if kind in STORED else ""
        print(f"{ROWS[kind]:38} {new:8,.0f} {1e6 / new:8,.0f} {new / floor:8.2f} {dups}".rstrip())
    if reason:
        print(f"PostgreSQL rows skipped: {reason}")
    for library, base, what in (
        ("sqlite", "floor", "library + SQLiteStore"),
        ("nostore", "bare", "library, no store"),
        ("pg", "floor-pg", "library + PostgresStore"),
    ):
        if library in best:
            lib_us, floor_us = 1e6 / best[library][0], 1e6 / best[base][0]
            print(
                f"{what}: {lib_us:,.0f} us per new delivery over HTTP - floor {floor_us:,.0f} "
                f"us = {lib_us - floor_us:+,.0f} us (bench_core: handle() without store ~40 us)"
            )


if __name__ == "__main__":
    main()
