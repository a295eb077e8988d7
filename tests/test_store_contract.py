"""The store contract: written once, run against every Store implementation
(docs/delivery-guarantees.md).

A new store (PostgreSQL, Redis ...) joins the ``STORES`` table and must pass every test here.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from _stores import START, FakeClock
from kyc_webhooks.errors import DeliveryNotFoundError, UsageError
from kyc_webhooks.store import (
    Claim,
    DeliveryState,
    NewDelivery,
    Store,
)

LEASE = 60.0


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every store implementation, PostgreSQL's too (tests/conftest.py)."""
    return any_store


def new(
    key: str = "k1",
    *,
    vendor: str = "idenfy",
    event_type: str = "IDENTIFICATION_AUTO_FINISHED",
    body: bytes = b'{"scanRef":"s1","clientName":"J\xc5\xabrat\xc4\x97"}',
) -> NewDelivery:
    return NewDelivery(
        delivery_key=key,
        vendor=vendor,
        event_type=event_type,
        body=body,
        headers=(("content-type", "application/json"), ("idenfy-event-type", event_type)),
    )


# -- adding ------------------------------------------------------------------------------------


def test_store_implements_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)


def test_add_stores_every_field_byte_exact(store: Store, clock: FakeClock) -> None:
    delivery = new()
    added = store.add(delivery)
    assert added.created
    assert added.claim is None
    record = added.record
    assert record.delivery_key == "k1"
    assert record.vendor == "idenfy"
    assert record.event_type == "IDENTIFICATION_AUTO_FINISHED"
    assert record.body == delivery.body
    assert record.headers == delivery.headers
    assert record.state is DeliveryState.PENDING
    assert record.received_at == START
    assert record.attempts == 0
    assert record.replays == 0
    assert record.lease_until is None
    assert not record.body_erased
    assert store.get(record.id) == record
    assert store.get_by_key("k1") == record


def test_add_same_key_returns_the_existing_record_unchanged(store: Store, clock: FakeClock) -> None:
    first = store.add(new()).record
    clock.advance(5)
    again = store.add(new(body=b'{"other":1}'))
    assert not again.created
    assert again.record.id == first.id
    assert again.record.body == first.body
    assert again.record.received_at == START
    assert store.stats()["total"] == 1


def test_add_with_lease_claims_a_new_record(store: Store) -> None:
    added = store.add(new(), lease=LEASE)
    assert added.created
    assert added.claim is not None
    assert added.claim.record.state is DeliveryState.PROCESSING
    assert added.claim.record.attempts == 1
    assert added.claim.record.lease_until == START + timedelta(seconds=LEASE)
    assert added.claim.previous_state is DeliveryState.PENDING
    assert not added.claim.replay


def test_live_lease_blocks_a_second_claim_until_it_expires(store: Store, clock: FakeClock) -> None:
    first = store.add(new(), lease=LEASE).claim
    assert first is not None
    clock.advance(LEASE - 1)
    blocked = store.add(new(), lease=LEASE)
    assert blocked.claim is None
    assert blocked.record.state is DeliveryState.PROCESSING
    clock.advance(1)
    taken = store.add(new(), lease=LEASE)
    assert taken.claim is not None
    assert taken.claim.record.attempts == 2
    assert taken.claim.previous_state is DeliveryState.PROCESSING
    # The expired claim is dead: completing it changes nothing.
    assert not store.complete(first)
    assert store.complete(taken.claim)
    assert store.get_by_key("k1") is not None
    assert store.get(taken.record.id).state is DeliveryState.DONE  # type: ignore[union-attr]


# -- completing and failing --------------------------------------------------------------------


def test_complete_marks_done_and_done_is_never_claimed_again(
    store: Store, clock: FakeClock
) -> None:
    claim = store.add(new(), lease=LEASE).claim
    assert claim is not None
    clock.advance(2)
    assert store.complete(claim)
    record = store.get(claim.record.id)
    assert record is not None
    assert record.state is DeliveryState.DONE
    assert record.finished_at == START + timedelta(seconds=2)
    assert record.lease_until is None
    assert not store.complete(claim)  # a claim is spent once used
    clock.advance(10 * LEASE)
    assert store.add(new(), lease=LEASE).claim is None
    assert store.claim(record.id, lease=LEASE) is None
    assert store.claim_next(lease=LEASE) is None


def test_fail_records_the_error_and_leaves_the_record_claimable(
    store: Store, clock: FakeClock
) -> None:
    claim = store.add(new(), lease=LEASE).claim
    assert claim is not None
    retry_at = START + timedelta(seconds=30)
    assert store.fail(
        claim,
        error_type="RuntimeError",
        error_message="handler raised RuntimeError",
        retry_at=retry_at,
    )
    record = store.get(claim.record.id)
    assert record is not None
    assert record.state is DeliveryState.FAILED
    assert record.last_error_type == "RuntimeError"
    assert record.last_error_message == "handler raised RuntimeError"
    assert record.not_before == retry_at
    assert record.lease_until is None
    assert not store.fail(claim, error_type="X", error_message="x")  # spent
    # A redelivery claims it at once (not_before only delays the worker).
    again = store.add(new(), lease=LEASE).claim
    assert again is not None
    assert again.previous_state is DeliveryState.FAILED
    assert again.record.attempts == 2


def test_claim_unknown_id_raises(store: Store) -> None:
    with pytest.raises(DeliveryNotFoundError):
        store.claim("no-such-id", lease=LEASE)


# -- replay claims -----------------------------------------------------------------------------


def test_replay_claims_a_done_record_and_counts_it(store: Store) -> None:
    claim = store.add(new(), lease=LEASE).claim
    assert claim is not None
    store.complete(claim)
    replay = store.claim(claim.record.id, lease=LEASE, replay=True)
    assert replay is not None
    assert replay.replay
    assert replay.previous_state is DeliveryState.DONE
    assert store.complete(replay)
    record = store.get(claim.record.id)
    assert record is not None
    assert record.state is DeliveryState.DONE
    assert record.replays == 1
    assert record.attempts == 2


def test_failed_replay_of_a_done_record_keeps_it_done(store: Store) -> None:
    claim = store.add(new(), lease=LEASE).claim
    assert claim is not None
    store.complete(claim)
    replay = store.claim(claim.record.id, lease=LEASE, replay=True)
    assert replay is not None
    assert store.fail(replay, error_type="ValueError", error_message="handler raised ValueError")
    record = store.get(claim.record.id)
    assert record is not None
    assert record.state is DeliveryState.DONE
    assert record.last_error_type == "ValueError"
    assert record.replays == 0
    assert store.add(new(), lease=LEASE).claim is None  # still a duplicate for redeliveries


def test_replay_does_not_break_a_live_lease(store: Store) -> None:
    claim = store.add(new(), lease=LEASE).claim
    assert claim is not None
    assert store.claim(claim.record.id, lease=LEASE, replay=True) is None


def _done_record_under_replay(store: Store) -> tuple[str, Claim]:
    claim = store.add(new(), lease=LEASE).claim
    assert claim is not None
    assert store.complete(claim)
    replay = store.claim(claim.record.id, lease=LEASE, replay=True)
    assert replay is not None
    return claim.record.id, replay


def test_a_running_replay_of_a_done_record_keeps_it_done(store: Store) -> None:
    record_id, _ = _done_record_under_replay(store)
    record = store.get(record_id)
    assert record is not None
    assert record.state is DeliveryState.DONE  # stored, not only in the worker's memory
    added = store.add(new(), lease=LEASE)
    assert (added.claim, added.record.state) == (None, DeliveryState.DONE)  # a duplicate
    assert store.claim_next(lease=LEASE) is None
    assert store.claim(record_id, lease=LEASE) is None
    assert store.claim(record_id, lease=LEASE, replay=True) is None  # one replay at a time


@pytest.mark.parametrize("max_attempts", [None, 8], ids=["no-attempt-limit", "attempt-limit"])
def test_an_abandoned_replay_of_a_done_record_leaves_it_done(
    store: Store, clock: FakeClock, max_attempts: int | None
) -> None:
    record_id, _ = _done_record_under_replay(store)  # the replaying worker dies (SIGKILL)
    clock.advance(LEASE + 1)
    assert store.claim_next(lease=LEASE, max_attempts=max_attempts) is None  # not work again
    assert store.add(new(), lease=LEASE).claim is None
    record = store.get(record_id)
    assert record is not None
    assert (record.state, record.last_error_type) == (DeliveryState.DONE, None)
    again = store.claim(record_id, lease=LEASE, replay=True)  # a new replay may start
    assert again is not None
    assert store.fail(again, error_type="ValueError", error_message="handler raised ValueError")
    after = store.get(record_id)
    assert after is not None
    assert (after.state, after.not_before) == (DeliveryState.DONE, None)


def test_a_late_complete_of_an_abandoned_replay_still_counts(
    store: Store, clock: FakeClock
) -> None:
    record_id, replay = _done_record_under_replay(store)
    clock.advance(LEASE + 1)
    assert store.complete(replay)
    record = store.get(record_id)
    assert record is not None
    assert (record.state, record.replays, record.lease_until) == (DeliveryState.DONE, 1, None)


# -- the worker's claim_next -------------------------------------------------------------------


def test_fail_without_counting_the_attempt_gives_it_back(store: Store, clock: FakeClock) -> None:
    # A claim released because another delivery of the verification held the subject lease:
    # nothing ran, so it must not use up an attempt. Was: every such release counted, and a
    # delivery that only waited was given up on after max_attempts (review 2, finding 1).
    first = store.add(new(), lease=LEASE).claim
    assert first is not None
    retry_at = START + timedelta(seconds=2)
    assert store.fail(
        first,
        error_type="DeliveryInProgressError",
        error_message="another delivery of the same verification held it",
        retry_at=retry_at,
        count_attempt=False,
    )
    record = store.get(first.record.id)
    assert record is not None
    assert (record.state, record.attempts) == (DeliveryState.FAILED, 0)
    assert (record.last_error_type, record.not_before) == ("DeliveryInProgressError", retry_at)
    assert not store.fail(first, error_type="X", error_message="x", count_attempt=False)  # spent
    for _ in range(5):  # a delivery that keeps waiting stays claimable with max_attempts=1
        clock.advance(2)
        claim = store.claim_next(lease=LEASE, max_attempts=1)
        assert claim is not None
        assert claim.record.attempts == 1
        assert store.fail(claim, error_type="E", error_message="m", count_attempt=False)
    clock.advance(2)
    counted = store.claim_next(lease=LEASE, max_attempts=1)
    assert counted is not None
    assert store.fail(counted, error_type="E", error_message="m")  # counts by default
    clock.advance(2)
    assert store.claim_next(lease=LEASE, max_attempts=1) is None
    again = store.get(first.record.id)
    assert again is not None
    assert again.attempts == 1
    # A replay of a done record given back uncounted keeps it done, its attempts unchanged.
    done = store.claim_next(lease=LEASE, max_attempts=2)
    assert done is not None
    assert store.complete(done)
    replay = store.claim(done.record.id, lease=LEASE, replay=True)
    assert replay is not None
    assert store.fail(replay, error_type="E", error_message="m", count_attempt=False)
    kept = store.get(done.record.id)
    assert kept is not None
    assert (kept.state, kept.attempts) == (DeliveryState.DONE, 2)


def test_a_claim_clears_the_back_off_of_an_earlier_failure(store: Store, clock: FakeClock) -> None:
    # A redelivery claims a record that backs off after failures, and its worker dies: once the
    # lease expires, claim_next takes the record over at once. Was: the old back-off (up to an
    # hour) still held it back, although nobody ran it (review 2, finding 3).
    claim = store.add(new(), lease=LEASE).claim
    assert claim is not None
    store.fail(claim, error_type="E", error_message="m", retry_at=START + timedelta(hours=1))
    taken = store.add(new(), lease=LEASE).claim  # the vendor's retry; its worker then dies
    assert taken is not None
    assert taken.record.not_before is None
    record = store.get(claim.record.id)
    assert record is not None
    assert (record.state, record.not_before) == (DeliveryState.PROCESSING, None)
    assert store.claim_next(lease=LEASE) is None  # its lease runs
    clock.advance(LEASE)
    again = store.claim_next(lease=LEASE)
    assert again is not None
    assert (again.record.id, again.record.attempts) == (claim.record.id, 3)


def test_claim_next_takes_the_oldest_claimable_first(store: Store, clock: FakeClock) -> None:
    ids = []
    for n in range(3):
        ids.append(store.add(new(f"k{n}")).record.id)
        clock.advance(1)
    taken = []
    for _ in range(5):
        claim = store.claim_next(lease=LEASE)
        if claim is None:
            break
        taken.append(claim.record.id)
    assert taken == ids


def test_claim_next_respects_back_off_attempts_and_vendors(store: Store, clock: FakeClock) -> None:
    idenfy = store.add(new("a"), lease=LEASE).claim
    assert idenfy is not None
    store.fail(idenfy, error_type="E", error_message="m", retry_at=START + timedelta(seconds=30))
    store.add(new("b", vendor="yoti"))
    assert store.claim_next(lease=LEASE, vendors=("idenfy",)) is None  # a backing off, b is yoti
    assert store.claim_next(lease=LEASE, vendors=()) is None
    clock.advance(30)
    assert store.claim_next(lease=LEASE, vendors=("idenfy",), max_attempts=1) is None
    again = store.claim_next(lease=LEASE, vendors=("idenfy",), max_attempts=2)
    assert again is not None
    assert again.record.delivery_key == "a"
    other = store.claim_next(lease=LEASE)
    assert other is not None
    assert other.record.vendor == "yoti"


def test_claim_next_recovers_an_expired_lease(store: Store, clock: FakeClock) -> None:
    store.add(new(), lease=LEASE)
    assert store.claim_next(lease=LEASE) is None
    clock.advance(LEASE)
    claim = store.claim_next(lease=LEASE)
    assert claim is not None
    assert claim.record.attempts == 2


def test_claim_next_fails_a_record_whose_every_lease_expired(
    store: Store, clock: FakeClock
) -> None:
    poison = store.add(new("poison")).record.id
    store.add(new("other-vendor", vendor="yoti"))
    for _ in range(3):  # each worker claims, then dies inside the handler
        assert store.claim_next(lease=LEASE, max_attempts=3, vendors=("idenfy",)) is not None
        clock.advance(LEASE)
    live = store.add(new("live"), lease=LEASE).record.id  # attempts 1, lease running
    assert store.claim_next(lease=LEASE, max_attempts=1, vendors=("idenfy",)) is None
    record = store.get(poison)
    assert record is not None
    assert (record.state, record.attempts) == (DeliveryState.FAILED, 3)
    assert record.last_error_type == "LeaseExpired"
    assert record.lease_until is None
    assert [r.id for r in store.deliveries(state="failed")] == [poison]
    still = store.get(live)  # its lease runs: not given up on
    assert still is not None
    assert still.state is DeliveryState.PROCESSING
    assert store.add(new("poison"), lease=LEASE).claim is not None  # a redelivery still may run


def test_claim_next_never_retakes_a_delivery_that_failed_for_its_erased_body(
    store: Store, clock: FakeClock
) -> None:
    # Erased before it was handled (retention, forget): the worker's attempt fails with
    # BodyErasedError. No retry can handle it, so claim_next leaves it failed -- it was claimed
    # again after every back-off, each attempt one more error line, until max_attempts.
    erased = store.add(new("erased"), lease=LEASE).claim
    other = store.add(new("other"), lease=LEASE).claim
    assert erased is not None
    assert other is not None
    for claim, error_type in ((erased, "BodyErasedError"), (other, "HandlerError")):
        store.fail(claim, error_type=error_type, error_message="m", retry_at=START)
    clock.advance(3600)
    taken = store.claim_next(lease=LEASE, max_attempts=10)
    assert taken is not None
    assert taken.record.delivery_key == "other"  # an ordinary failure is retried
    assert store.claim_next(lease=LEASE, max_attempts=10) is None
    record = store.get(erased.record.id)
    assert record is not None
    assert (record.state, record.attempts) == (DeliveryState.FAILED, 1)
    assert record.last_error_type == "BodyErasedError"


# -- listing and stats -------------------------------------------------------------------------


def test_deliveries_filters_by_state_vendor_type_and_time(store: Store, clock: FakeClock) -> None:
    a = store.add(new("a")).record
    clock.advance(10)
    b = store.add(new("b", vendor="complycube", event_type="check.completed"), lease=LEASE)
    clock.advance(10)
    c = store.add(new("c", event_type="IDENTIFICATION_EXPIRED")).record
    assert b.claim is not None
    store.complete(b.claim)

    def ids(**filters: object) -> list[str]:
        return [r.id for r in store.deliveries(**filters)]  # type: ignore[arg-type]

    assert ids() == [a.id, b.record.id, c.id]
    assert ids(newest_first=True) == [c.id, b.record.id, a.id]
    assert ids(limit=2) == [a.id, b.record.id]
    assert ids(state="done") == [b.record.id]
    assert ids(state=DeliveryState.PENDING) == [a.id, c.id]
    assert ids(state=["done", "pending"]) == [a.id, b.record.id, c.id]
    assert ids(vendor="idenfy") == [a.id, c.id]
    assert ids(event_type="check.completed") == [b.record.id]
    assert ids(since=START + timedelta(seconds=10)) == [b.record.id, c.id]
    assert ids(until=START + timedelta(seconds=10)) == [a.id]
    assert ids(vendor="idenfy", event_type="IDENTIFICATION_EXPIRED") == [c.id]


@pytest.mark.parametrize(
    "filters",
    [
        pytest.param({"state": "finished"}, id="unknown-state"),
        pytest.param({"limit": 0}, id="zero-limit"),
        pytest.param({"since": datetime(2026, 1, 1)}, id="naive-since"),
    ],
)
def test_deliveries_rejects_bad_filters(store: Store, filters: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        store.deliveries(**filters)  # type: ignore[arg-type]


def test_deliveries_and_count_by_id_prefix(store: Store, clock: FakeClock) -> None:
    # Random ids: every prefix of each, of every length, ends in each hex digit ('9' and 'f' are
    # the edges of the index range) with near certainty.
    ids = []
    for n in range(12):
        ids.append(store.add(new(f"k{n}")).record.id)
        clock.advance(1)
    for delivery_id in ids:
        for length in range(1, 33):
            prefix = delivery_id[:length]
            expected = [i for i in ids if i.startswith(prefix)]
            assert [r.id for r in store.deliveries(id_prefix=prefix)] == expected, prefix
            assert store.count(id_prefix=prefix) == len(expected), prefix
    first = ids[0]
    assert [r.id for r in store.deliveries(id_prefix=first, newest_first=True)] == [first]
    assert [r.id for r in store.deliveries(id_prefix="", limit=3)] == ids[:3]
    assert store.count(id_prefix="") == len(ids)
    assert store.deliveries(id_prefix=first[:8], state="done") == []
    # Ids are lower-case hex: anything else matches nothing (no LIKE wildcard, no case folding),
    # nor does a prefix longer than any id.
    lettered = next(i[:8] for i in ids if not i[:8].isdigit())  # all 12 digits: 1 in 10^20
    for other in (lettered.upper(), first[:7] + "%", "_" * 8, "%", first + "0", "g", "ü"):
        assert store.deliveries(id_prefix=other) == [], other
        assert store.count(id_prefix=other) == 0, other


def test_count_counts_what_deliveries_lists_and_retention_changes(
    store: Store, clock: FakeClock
) -> None:
    a = store.add(new("a")).record
    clock.advance(10)
    b = store.add(new("b", vendor="complycube", event_type="check.completed"), lease=LEASE)
    clock.advance(10)
    store.add(new("c", event_type="IDENTIFICATION_EXPIRED"))
    assert b.claim is not None
    store.complete(b.claim)
    assert store.erase(a.id)
    for filters in (
        {},
        {"state": "done"},
        {"state": ["done", "pending"]},
        {"vendor": "idenfy"},
        {"event_type": "check.completed"},
        {"vendor": "idenfy", "event_type": "IDENTIFICATION_EXPIRED"},
        {"since": START + timedelta(seconds=10)},
        {"until": START + timedelta(seconds=10)},
        {"id_prefix": a.id[:8]},
    ):
        listed = store.deliveries(**filters)
        assert store.count(**filters) == len(listed), filters
        for with_body in (True, False):
            kept = [r for r in listed if (r.body is not None) == with_body]
            assert store.count(**filters, with_body=with_body) == len(kept), filters
    assert store.count() == 3
    assert store.count(with_body=False) == 1
    cut = START + timedelta(seconds=15)
    assert store.count(until=cut, with_body=True) == 1
    assert store.erase_bodies(older_than=cut) == 1
    assert store.count(until=cut, with_body=True) == 0
    assert store.count(until=cut, state="pending") == 1
    assert store.purge(older_than=cut, state="pending") == 1
    assert store.count(until=cut) == 1
    assert store.purge(older_than=cut) == 1
    assert store.count() == 1


@pytest.mark.parametrize(
    "filters",
    [
        pytest.param({"state": "finished"}, id="unknown-state"),
        pytest.param({"since": datetime(2026, 1, 1)}, id="naive-since"),
        pytest.param({"until": datetime(2026, 1, 1)}, id="naive-until"),
        pytest.param({"id_prefix": 12}, id="int-id-prefix"),
        pytest.param({"id_prefix": b"ab"}, id="bytes-id-prefix"),
        pytest.param({"with_body": "yes"}, id="str-with-body"),
    ],
)
def test_count_rejects_bad_filters(store: Store, filters: dict[str, object]) -> None:
    store.add(new())
    with pytest.raises(UsageError):
        store.count(**filters)  # type: ignore[arg-type]
    if "with_body" not in filters:
        with pytest.raises(UsageError):
            store.deliveries(**filters)  # type: ignore[arg-type]


def test_stats_counts_records_per_state(store: Store) -> None:
    store.add(new("a"))
    claim = store.add(new("b"), lease=LEASE).claim
    assert claim is not None
    store.complete(claim)
    failing = store.add(new("c"), lease=LEASE).claim
    assert failing is not None
    store.fail(failing, error_type="E", error_message="m")
    store.add(new("d"), lease=LEASE)
    assert store.stats() == {"pending": 1, "processing": 1, "done": 1, "failed": 1, "total": 4}


# -- retention ---------------------------------------------------------------------------------


def test_purge_deletes_old_records_and_frees_their_keys(store: Store, clock: FakeClock) -> None:
    old = store.add(new("old")).record
    clock.advance(3600)
    young = store.add(new("young")).record
    clock.advance(60)
    assert store.purge(older_than=timedelta(minutes=30)) == 1
    assert store.get(old.id) is None
    assert store.get(young.id) is not None
    assert store.add(new("old")).created  # a purged key is new again
    assert store.purge(older_than=clock.current + timedelta(seconds=1), state="done") == 0
    assert store.purge(older_than=clock.current + timedelta(seconds=1)) == 2


def test_erase_drops_the_body_and_keeps_the_metadata(store: Store, clock: FakeClock) -> None:
    record = store.add(new()).record
    clock.advance(5)
    assert store.erase(record.id)
    erased = store.get(record.id)
    assert erased is not None
    assert erased.body is None
    assert erased.body_erased
    assert erased.body_erased_at == START + timedelta(seconds=5)
    assert (erased.delivery_key, erased.vendor, erased.event_type) == (
        record.delivery_key,
        record.vendor,
        record.event_type,
    )
    assert erased.received_at == record.received_at
    assert store.erase(record.id)  # idempotent
    assert not store.erase("no-such-id")


def test_erase_bodies_older_than(store: Store, clock: FakeClock) -> None:
    old = store.add(new("old")).record
    clock.advance(timedelta(days=31).total_seconds())
    young = store.add(new("young")).record
    assert store.erase_bodies(older_than=timedelta(days=30)) == 1
    assert store.erase_bodies(older_than=timedelta(days=30)) == 0
    assert store.get(old.id).body is None  # type: ignore[union-attr]
    assert store.get(young.id).body == young.body  # type: ignore[union-attr]


def test_retention_limits_beyond_the_calendar(store: Store) -> None:
    record = store.add(new()).record
    assert store.erase_bodies(older_than=timedelta.max) == 0  # nothing is that old
    assert store.purge(older_than=timedelta.max) == 0
    with pytest.raises(UsageError, match="negative age"):  # a cut-off in the future (R41)
        store.purge(older_than=timedelta.min)
    everything = datetime.max.replace(tzinfo=timezone.utc)  # said as a time: everything is older
    assert store.erase_bodies(older_than=everything) == 1
    assert store.purge(older_than=everything) == 1
    assert store.get(record.id) is None


@pytest.mark.parametrize(
    "older_than",
    [
        pytest.param(datetime(2026, 1, 1), id="naive-datetime"),
        pytest.param(30, id="int"),
    ],
)
def test_retention_rejects_ambiguous_limits(store: Store, older_than: object) -> None:
    with pytest.raises(UsageError):
        store.purge(older_than=older_than)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        store.erase_bodies(older_than=older_than)  # type: ignore[arg-type]


# -- arguments and clock -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "lease",
    [0, -1, True, "60", float("inf"), float("nan"), 1e300],
    ids=["zero", "negative", "bool", "str", "infinite", "nan", "beyond-the-calendar"],
)
def test_bad_lease_is_a_usage_error(store: Store, lease: object) -> None:
    with pytest.raises(UsageError):
        store.add(new(), lease=lease)  # type: ignore[arg-type]


def test_naive_clock_is_a_usage_error(store: Store, clock: FakeClock) -> None:
    clock.current = datetime(2026, 1, 1)
    with pytest.raises(UsageError):
        store.add(new())


def test_new_delivery_validates_its_fields() -> None:
    with pytest.raises(UsageError):
        NewDelivery(delivery_key="k", vendor="idenfy", event_type="T", body="{}")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        NewDelivery(delivery_key="", vendor="idenfy", event_type="T", body=b"{}")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([("a", "b")], id="list"),
        pytest.param((["a", "b"],), id="list-pair"),
        pytest.param((("a", "b", "c"),), id="triple"),
        pytest.param((("a", 1),), id="int-value"),
        pytest.param(((b"a", "b"),), id="bytes-name"),
    ],
)
def test_new_delivery_validates_its_headers(headers: object) -> None:
    with pytest.raises(UsageError, match="headers"):
        NewDelivery("k", "idenfy", "T", b"{}", headers)  # type: ignore[arg-type]


def test_record_repr_hides_body_and_headers(store: Store) -> None:
    record = store.add(new()).record
    text = repr(record)
    assert "scanRef" not in text
    assert "application/json" not in text
    assert record.id in text


# -- any text ----------------------------------------------------------------------------------

#: Text a sender can put into a key, an event type or a header: a lone surrogate (a header decoded
#: with surrogateescape, or a JSON "\\udcff" escape), surrogate halves, NUL, the astral plane, and
#: look-alikes of the escaped forms, which must stay different values.
ODD_TEXT = {
    "lone-low-surrogate": "IDENTIFICATION_AUTO_FINISHED\udcff",
    "lone-high-surrogate": "\ud800",
    "surrogate-halves": "\ud83d\ude00",
    "astral": "\U0001f600 J\u016brat\u0117",
    "nul": "a\x00b",
    "escaped-look-alike": "IDENTIFICATION_AUTO_FINISHED\\udcff",
    "replacement-char": "IDENTIFICATION_AUTO_FINISHED\ufffd",
}


@pytest.mark.parametrize("text", list(ODD_TEXT.values()), ids=list(ODD_TEXT))
def test_any_str_round_trips_exactly(store: Store, text: str) -> None:
    delivery = NewDelivery(
        delivery_key=f"key-{text}",
        vendor=text,
        event_type=text,
        body=b"{}",
        headers=((text, text), ("x-plain", "v")),
    )
    added = store.add(delivery, lease=LEASE)
    assert added.created
    assert added.claim is not None
    record = added.record
    assert (record.delivery_key, record.vendor, record.event_type) == (f"key-{text}", text, text)
    assert record.headers == delivery.headers
    assert store.get(record.id) == record
    assert store.get_by_key(f"key-{text}") == record
    assert not store.add(delivery).created  # a redelivery finds it
    assert [r.id for r in store.deliveries(vendor=text, event_type=text)] == [record.id]
    assert store.fail(added.claim, error_type=text, error_message=text)
    failed = store.get(record.id)
    assert failed is not None
    assert (failed.last_error_type, failed.last_error_message) == (text, text)
    again = store.claim_next(lease=LEASE, vendors=[text])
    assert again is not None
    assert again.record.id == record.id
    assert store.complete(again)
    assert store.get(text) is None  # an unknown id of any text: not found, no error
    assert store.erase(text) is False


def test_keys_differing_only_in_odd_text_stay_distinct(store: Store) -> None:
    ids = {store.add(new(f"k-{text}")).record.id for text in ODD_TEXT.values()}
    assert len(ids) == len(ODD_TEXT)
    for text in ODD_TEXT.values():
        found = store.get_by_key(f"k-{text}")
        assert found is not None
        assert found.delivery_key == f"k-{text}"


# -- concurrency -------------------------------------------------------------------------------


def test_threads_racing_for_one_key_get_exactly_one_claim(store: Store) -> None:
    threads = 16
    barrier = threading.Barrier(threads, timeout=10)
    claims: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        added = store.add(new(), lease=LEASE)
        with lock:
            claims.append(added.claim is not None)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=30)
    assert len(claims) == threads
    assert claims.count(True) == 1
    assert store.stats()["total"] == 1
