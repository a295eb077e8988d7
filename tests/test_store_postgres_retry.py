# ruff: noqa: S608 -- statements name the generated test schemas (kw_test_<pid>_<hex>).
"""PostgresStore retries a statement once when its connection breaks; the first run may have
committed before the reply was lost. The retry must recognise what its first run did (the claim,
the subject lease, the completion) instead of claiming again: a second claim orphans the first
(its record ``processing`` until the lease expires, an attempt spent and no handler run) and a
redelivery gets 503 for the whole lease.

A loopback proxy in front of the real server forwards the statement that holds a marker and cuts
the connection: after the server answered (so the statement committed; the reply never reaches
the store) or at once (the server still runs it, here waiting for a row lock).
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import kyc_webhooks as kw
from _ledger import claimed, entry
from _postgres import DSN, drop_schema, new_schema, require_postgres, sql
from kyc_webhooks.decisions import Decision, DecisionStatus
from kyc_webhooks.store import DeliveryState, NewDelivery, PostgresStore
from kyc_webhooks.testing import signed_delivery

SECRET = "retry-secret"
_ids = itertools.count()
#: The PostgreSQL ReadyForQuery message (idle): the server's reply to a statement is complete,
#: its (autocommit) transaction committed.
READY = b"Z\x00\x00\x00\x05I"


class CutProxy:
    """A loopback TCP proxy to the test server. Armed with a marker, it forwards the next client
    message holding it and then cuts that connection: once the server's whole reply arrived
    (``at_once=False``; the reply is dropped) or right away (``at_once=True``)."""

    def __init__(self) -> None:
        from psycopg.conninfo import conninfo_to_dict

        target = conninfo_to_dict(DSN)
        self._server = (str(target.get("host") or "127.0.0.1"), int(target.get("port") or 5432))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._marker: bytes | None = None
        self._at_once = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.cuts = 0
        self._spawn(self._accept)

    def dsn(self) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(DSN, host="127.0.0.1", port=str(self.port), sslmode="disable")

    def arm(self, marker: bytes, *, at_once: bool = False) -> None:
        with self._lock:
            self._marker, self._at_once = marker, at_once

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                _close(sock)
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(self._server, timeout=5)
            server.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            cut = threading.Event()
            self._spawn(self._up, client, server, cut)
            self._spawn(self._down, server, client, cut)

    def _up(self, client: socket.socket, server: socket.socket, cut: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                with self._lock:
                    marked = self._marker is not None and self._marker in data
                    at_once = self._at_once
                    if marked:
                        self._marker = None
                server.sendall(data)
                if marked and at_once:
                    self._cut(client, server)
                    return
                if marked:
                    cut.set()

    def _down(self, server: socket.socket, client: socket.socket, cut: threading.Event) -> None:
        held = b""
        with contextlib.suppress(OSError):
            while data := server.recv(65536):
                if not cut.is_set():
                    client.sendall(data)
                    continue
                held += data
                if held.endswith(READY):  # the whole reply: committed
                    self._cut(client, server)
                    return

    def _cut(self, client: socket.socket, server: socket.socket) -> None:
        with self._lock:
            self.cuts += 1
        _close(client)
        _close(server)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture
def proxy() -> Iterator[CutProxy]:
    require_postgres()
    made = CutProxy()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def store(proxy: CutProxy) -> Iterator[PostgresStore]:
    schema = new_schema()
    made = PostgresStore(proxy.dsn(), schema=schema)
    try:
        made.migrate()
        yield made
    finally:
        made.close()
        drop_schema(schema)


def rows(store: PostgresStore) -> list[tuple[Any, ...]]:
    return sql(
        f"SELECT id, state, attempts, lease_until FROM {store.schema}.deliveries "
        "ORDER BY received_at, id"
    )


def _eventually(check: Any, within: float = 10.0) -> bool:
    """Poll ``check()`` every 20 ms for up to ``within`` seconds (a loaded CI machine is slow to
    get the statement to the proxy)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def new(key: str) -> NewDelivery:
    return NewDelivery(delivery_key=key, vendor="idenfy", event_type="T", body=b"{}")


def complycube() -> tuple[bytes, dict[str, str]]:
    body, headers = signed_delivery("complycube", "check.completed", SECRET, id=f"evt_{next(_ids)}")
    return body, dict(headers)


# -- the claims ----------------------------------------------------------------------------------


def test_claim_next_cut_after_commit_handles_the_first_record_once(
    proxy: CutProxy, store: PostgresStore
) -> None:
    receiver = kw.Receiver(kw.ComplyCube(secret=SECRET), store=store, defer=True)
    ran: list[str] = []
    receiver.on("complycube", "*")(lambda event: ran.append(event.delivery_key))
    ids = [receiver.handle(*complycube()).delivery_id for _ in range(2)]
    keys = [record.delivery_key for record in store.deliveries()]
    proxy.arm(b"FOR UPDATE SKIP LOCKED")
    summary = receiver.process_pending(limit=10)
    assert proxy.cuts == 1
    assert summary.processed == 2
    assert ran == keys  # each once, the first record first: its claim was not orphaned
    assert [(r[0], r[1], r[2], r[3]) for r in rows(store)] == [
        (ids[0], "done", 1, None),
        (ids[1], "done", 1, None),
    ]


def test_claim_by_id_cut_after_commit_returns_the_first_runs_claim(
    proxy: CutProxy, store: PostgresStore
) -> None:
    record = store.add(new("k1")).record
    proxy.arm(b"WHERE d.id = $")
    claim = store.claim(record.id, lease=60)
    assert proxy.cuts == 1
    assert claim is not None
    assert claim.previous_state is DeliveryState.PENDING
    assert claim.record.attempts == 1
    assert store.complete(claim)
    assert rows(store)[0][1:3] == ("done", 1)


# -- handle() without defer: the add-and-claim statement ------------------------------------


def test_handle_cut_after_the_add_and_claim_committed_is_200_handled_once(
    proxy: CutProxy, store: PostgresStore
) -> None:
    receiver = kw.Receiver(kw.ComplyCube(secret=SECRET), store=store)
    ran: list[str] = []
    receiver.on("complycube", "*")(lambda event: ran.append(event.delivery_key))
    body, headers = complycube()
    proxy.arm(b"ON CONFLICT (key_hash) DO UPDATE")
    first = receiver.handle(body, headers)
    assert proxy.cuts == 1
    assert first.status_code == 200, first.retry_after
    assert len(ran) == 1
    assert rows(store)[0][1:] == ("done", 1, None)
    again = receiver.handle(body, headers)  # the vendor's redelivery: a duplicate
    assert again.status_code == 200
    assert len(ran) == 1


def test_add_cut_while_the_server_still_runs_the_claim_waits_for_it(
    proxy: CutProxy, store: PostgresStore
) -> None:
    """The connection breaks while the first run waits for a row lock: the retry must not look
    for its row before that run ended (it commits after the lock is released)."""
    import psycopg

    record = store.add(new("k1")).record  # pending
    with psycopg.connect(DSN, autocommit=True) as locker:
        with locker.transaction():
            locker.execute(
                f"SELECT 1 FROM {store.schema}.deliveries WHERE id = %s FOR UPDATE", (record.id,)
            )
            proxy.arm(b"ON CONFLICT (key_hash) DO UPDATE", at_once=True)
            done: list[Any] = []
            adder = threading.Thread(target=lambda: done.append(store.add(new("k1"), lease=60)))
            adder.start()
            # The first run waits for the lock; the retry has begun.
            assert _eventually(lambda: proxy.cuts == 1), proxy.cuts
            time.sleep(0.3)  # give the retry time to start watching the first run
        # The lock is released here: the first run claims and commits.
        adder.join(timeout=10)
    assert not adder.is_alive()
    added = done[0]
    assert added.claim is not None, "the first run's claim was orphaned"
    assert added.claim.record.attempts == 1
    assert store.complete(added.claim)
    assert rows(store)[0][1:] == ("done", 1, None)


def test_the_retry_on_a_pool_not_in_autocommit_sees_the_first_run_end(proxy: CutProxy) -> None:
    """The retry watches the first run's backend in pg_stat_activity; inside one transaction (a
    pool of yours not in autocommit) PostgreSQL shows that view as it was at the first look. The
    retry must see the first run end (here: when the lock is released), not wait out the store's
    timeout."""
    import psycopg
    from psycopg_pool import ConnectionPool

    schema = new_schema()
    pool: Any = ConnectionPool(proxy.dsn(), min_size=0, max_size=2, open=True)
    store = PostgresStore(pool, schema=schema, timeout=5)
    try:
        store.migrate()
        record = store.add(new("k1")).record  # pending
        done: list[Any] = []
        with psycopg.connect(DSN, autocommit=True) as locker:
            with locker.transaction():
                locker.execute(
                    f"SELECT 1 FROM {schema}.deliveries WHERE id = %s FOR UPDATE", (record.id,)
                )
                proxy.arm(b"ON CONFLICT (key_hash) DO UPDATE", at_once=True)
                adder = threading.Thread(target=lambda: done.append(store.add(new("k1"), lease=60)))
                adder.start()
                # The first run waits for the lock; the retry watches it.
                assert _eventually(lambda: proxy.cuts == 1), proxy.cuts
                time.sleep(0.3)  # give the retry time to start watching the first run
            released = time.monotonic()  # the first run claims and commits now
            adder.join(timeout=10)
        assert not adder.is_alive()
        assert time.monotonic() - released < 2.5, "the retry waited out the timeout"
        added = done[0]
        assert added.claim is not None, "the first run's claim was orphaned"
        assert added.claim.record.attempts == 1
    finally:
        store.close()
        pool.close()
        drop_schema(schema)


# -- the subject lease ---------------------------------------------------------------------------


def verdict() -> Decision:
    return Decision(
        DecisionStatus("APPROVED"), True, "idenfy", "IDENTIFICATION_AUTO_FINISHED", "scan-1"
    )


def test_add_with_a_decision_cut_after_commit_keeps_the_claim_and_the_subject_lease(
    proxy: CutProxy, store: PostgresStore
) -> None:
    proxy.arm(b"lease AS (INSERT")
    added = store.add(new("k1"), lease=60, decision=verdict())
    assert proxy.cuts == 1
    assert added.created
    assert added.claim is not None
    assert not added.subject_busy
    assert added.ticket is not None
    assert added.ticket.previous is None
    assert added.ticket.changes
    assert store.complete(added.claim, decision=added.ticket)
    effective = store.effective_decision("idenfy", "scan-1")
    assert effective is not None
    assert effective.delivery_id == added.record.id
    assert sql(f"SELECT lease_token FROM {store.schema}.decisions") == [(None,)]
    assert rows(store)[0][1:] == ("done", 1, None)


def test_begin_decision_cut_after_commit_returns_the_first_runs_ticket(
    proxy: CutProxy, store: PostgresStore
) -> None:
    claim = claimed(store)
    made = entry(claim)
    proxy.arm(b"WHERE EXISTS (SELECT 1 FROM")
    ticket = store.begin_decision(claim, made, lease=60)
    assert proxy.cuts == 1
    assert ticket is not None, "the first run's subject lease was orphaned"
    assert store.complete(claim, decision=ticket)
    assert store.effective_decision(made.vendor, made.subject) == made


# -- ending a claim ------------------------------------------------------------------------------


@pytest.mark.parametrize("with_decision", [False, True])
def test_complete_cut_after_commit_reports_success(
    proxy: CutProxy, store: PostgresStore, with_decision: bool
) -> None:
    claim = claimed(store)
    made = entry(claim)
    ticket = store.begin_decision(claim, made, lease=60) if with_decision else None
    proxy.arm(b"state = 'done', lease_until = NULL")
    assert store.complete(claim, decision=ticket)
    assert proxy.cuts == 1
    assert rows(store)[0][1:] == ("done", 1, None)
    # Completed once: the claim is gone for a second complete and for fail.
    assert not store.complete(claim)
    assert not store.fail(claim, error_type="E", error_message="late")
    assert rows(store)[0][1] == "done"


def test_fail_cut_after_commit_reports_success(proxy: CutProxy, store: PostgresStore) -> None:
    claim = claimed(store)
    proxy.arm(b"CASE WHEN state = 'done' THEN 'done' ELSE 'failed'")
    assert store.fail(claim, error_type="E", error_message="boom")
    assert proxy.cuts == 1
    assert rows(store)[0][1:3] == ("failed", 1)
    assert not store.fail(claim, error_type="E", error_message="again")
    assert not store.complete(claim)
    retried = store.claim(claim.record.id, lease=60)
    assert retried is not None
    assert store.complete(retried)
