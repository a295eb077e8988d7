"""Configuration values and arguments at the edges of their range (review R41): refused where they
are given -- at construction, at the call -- never accepted and then failing in every
``handle()``, in a worker, or as a raw ``OverflowError``; a negative age never purges the future;
a clock stepped back never stretches ``Retry-After`` past the lease or the longest back-off."""

from __future__ import annotations

import math
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import kyc_webhooks as kw
from _postgres import postgres_store
from _stores import FakeClock
from kyc_webhooks.store import NewDelivery, PostgresStore, SQLiteStore, Store
from kyc_webhooks.testing import sign

KEY = "limits-signing-key"
EVENT = "IDENTIFICATION_AUTO_FINISHED"


@pytest.mark.parametrize("lease", [1e300, 10 * 366 * 24 * 3600.0 + 1, 1e-9, 0.0009, math.nan])
def test_a_lease_timeout_no_store_accepts_is_refused_at_construction(lease: float) -> None:
    """Above ten years every store refused each claim: ``handle()`` raised UsageError for every
    delivery (a 500), or with ``defer=True`` answered 202 while every worker call raised. Below a
    millisecond a claim had expired when taken: a redelivery ran the handlers alongside."""
    with pytest.raises(kw.ConfigurationError, match="lease_timeout must be a number of seconds"):
        kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(), lease_timeout=lease)
    with pytest.raises(kw.UsageError, match="lease must be"):
        kw.MemoryStore().add(NewDelivery("k", "idenfy", "T", b"{}"), lease=lease)


@pytest.mark.parametrize("timeout", [86401.0, 1e10, math.inf, math.nan, 0.0004, 0])
def test_a_postgresql_timeout_out_of_range_is_refused_at_construction(timeout: float) -> None:
    """Over 32,767 s Linux refused the keepalive idle time on every connection (``handle()``
    hung), over ~9e9 s every call raised OverflowError, ``inf`` raised it at construction, and
    under a millisecond ``statement_timeout`` and ``lock_timeout`` became 0: none at all."""
    pytest.importorskip("psycopg")
    with pytest.raises(kw.UsageError, match=r"timeout must be a number of seconds from 0\.001"):
        PostgresStore("postgresql://127.0.0.1:1/none", timeout=timeout)


@pytest.mark.parametrize("timeout", [1e10, math.inf, math.nan, -1])
def test_a_sqlite_timeout_out_of_range_is_refused(tmp_path: Path, timeout: float) -> None:
    with pytest.raises(kw.UsageError, match="timeout must be a number of seconds from 0 to"):
        SQLiteStore(tmp_path / "x.db", timeout=timeout)
    assert not (tmp_path / "x.db").exists()
    SQLiteStore(tmp_path / "ok.db", timeout=86400).close()  # a day: the longest


def test_the_longest_postgresql_timeout_connects() -> None:
    """A day: its keepalive idle time is held to Linux's 32,767 s (over it, no connection
    opened and the call waited for the pool's timeout -- here a day: bounded by the join)."""
    answers: list[datetime] = []
    # A schema of its own (not the default kyc_webhooks of the shared database: every run
    # migrated that one, and a run of an older checkout then met a newer schema version).
    with postgres_store(timeout=86400) as store:
        worker = threading.Thread(target=lambda: answers.append(store.now()), daemon=True)
        worker.start()
        worker.join(timeout=30)
        assert not worker.is_alive(), "no connection opened within 30 s"
    assert answers
    assert answers[0].tzinfo is not None


def test_a_count_beyond_a_database_integer_is_a_usage_error(any_store: Store) -> None:
    """``limit``/``max_attempts`` over 2**63 - 1 worked on the memory store and failed as a store
    failure (503, the CLI's exit 3 "try again") on SQLite and PostgreSQL."""
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=any_store, defer=True)
    with pytest.raises(kw.UsageError, match=r"max_attempts must be a positive int \(at most"):
        receiver.process_pending(max_attempts=10**30)
    with pytest.raises(kw.UsageError, match=r"limit must be a positive int \(at most"):
        receiver.process_pending(limit=2**63)
    with pytest.raises(kw.UsageError, match=r"limit must be a positive int \(at most"):
        any_store.deliveries(limit=2**63)
    assert receiver.process_pending(limit=2**63 - 1, max_attempts=2**63 - 1).processed == 0


def test_a_negative_age_is_refused_and_nothing_is_removed(any_store: Store) -> None:
    """``older_than=timedelta(days=-90)`` (a sign slip) has a cut-off in the future: it purged
    every record -- deferred deliveries answered 202 and never handled included -- erased every
    body and emptied the decision ledger, on every store."""
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=any_store, defer=True)
    outcome = receiver.handle(*sign("idenfy", _identification(), KEY, event_type=EVENT))
    assert outcome.status_code == 202
    for call in (any_store.purge, any_store.erase_bodies, any_store.purge_decisions):
        with pytest.raises(kw.UsageError, match="older_than must not be a negative age"):
            call(older_than=timedelta(days=-90))
    assert any_store.count(state="pending", with_body=True) == 1
    assert any_store.purge(older_than=timedelta(0)) == 0  # an age of zero: nothing received since


@pytest.mark.parametrize(
    "edge",
    [
        datetime.max.replace(tzinfo=timezone(-timedelta(hours=12))),
        datetime.min.replace(tzinfo=timezone(timedelta(hours=14))),
    ],
)
def test_a_cut_off_at_the_calendars_edge_is_answered_by_every_store(
    any_store: Store, edge: datetime
) -> None:
    """SQLite's ``purge_decisions`` converted the cut-off to UTC and overflowed (StoreError);
    the memory and PostgreSQL stores answered."""
    assert any_store.purge_decisions(older_than=edge) == 0
    assert any_store.purge(older_than=edge) == 0
    assert any_store.erase_bodies(older_than=edge) == 0


def test_retry_after_never_exceeds_the_lease_when_the_clock_steps_back(clock: FakeClock) -> None:
    """An NTP step or a restored VM put the store's clock a day back: a 60 s lease answered
    Retry-After 86,460, and a failed delivery (back-off at most an hour) waited a day."""
    store = kw.MemoryStore(clock=clock)
    receiver = kw.Receiver(kw.Idenfy(signing_key=KEY), store=store, lease_timeout=60)
    body, headers = sign("idenfy", _identification(), KEY, event_type=EVENT)
    taken = store.add(NewDelivery("held", "idenfy", "T", b"{}"), lease=60)
    assert taken.claim is not None
    event = receiver.parse(body, headers)
    # A worker holds it with a lease of its own, longer than this web receiver's 60 s.
    new = NewDelivery(event.delivery_key, "idenfy", event.event_type, body)
    assert store.add(new, lease=600).claim is not None
    assert receiver.handle(body, headers).retry_after == 600  # the lease held, not ours
    clock.advance(-86400)
    outcome = receiver.handle(body, headers)
    assert outcome.status_code == 503
    assert outcome.retry_after == 600  # not 87,000: at most the lease's own length

    failing = kw.Receiver(kw.Idenfy(signing_key=KEY), store=kw.MemoryStore(clock=clock))

    @failing.on("idenfy")
    def fail(event: kw.WebhookEvent) -> None:
        raise RuntimeError("down")

    first = failing.handle(body, headers)
    assert first.status_code == 500
    assert first.delivery_id is not None
    clock.advance(-86400)
    waiting = failing.process(first.delivery_id)
    assert waiting.status_code == 503
    assert waiting.retry_after == 3600


def _identification() -> dict[str, object]:
    from kyc_webhooks.testing import sample_payload

    return sample_payload("idenfy", EVENT)
