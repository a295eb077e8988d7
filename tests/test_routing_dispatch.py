"""Dispatch rules found by review: an async decision handler is refused before any event handler
runs under synchronous dispatch; a ``"*"`` route reads its pattern in each vendor's spelling
(ComplyCube's legacy names); the route caches stay bounded whatever event types arrive (iDenfy's
event type comes from an unsigned header)."""

from __future__ import annotations

import pytest

import kyc_webhooks as kw
from kyc_webhooks import routing
from kyc_webhooks.testing import signed_delivery


def test_an_async_decision_handler_is_refused_before_the_event_handlers_run() -> None:
    receiver = kw.Receiver(kw.Idenfy(signing_key="k"))
    ran: list[str] = []

    @receiver.on("idenfy", "IDENTIFICATION_*")
    def grant_access(event: kw.WebhookEvent) -> None:
        ran.append(event.event_type)

    @receiver.on_decision()
    async def notify(decision: kw.Decision) -> None: ...

    body, headers = signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", "k")
    for _ in range(3):  # each redelivery fails the same way, and runs nothing
        with pytest.raises(kw.UsageError, match=r"decision handler .*notify.* is async"):
            receiver.handle(body, headers)
    assert ran == []


def test_the_same_with_a_store_runs_nothing_and_keeps_the_delivery_retryable() -> None:
    store = kw.MemoryStore()
    receiver = kw.Receiver(kw.Idenfy(signing_key="k"), store=store)
    ran: list[str] = []
    receiver.on("idenfy")(lambda event: ran.append(event.event_type))

    @receiver.on_decision()
    async def notify(decision: kw.Decision) -> None: ...

    body, headers = signed_delivery("idenfy", "IDENTIFICATION_MANUAL_FINISHED", "k")
    with pytest.raises(kw.UsageError, match=r"decision handler .*notify.* is async"):
        receiver.handle(body, headers)
    assert ran == []
    (record,) = store.deliveries()
    assert record.state is not kw.DeliveryState.DONE


@pytest.mark.parametrize(
    ("pattern", "wire_type"),
    [
        ("check.complete.clear", "check.complete.clear"),
        ("check.complete.clear", "check.completed.clear"),
        ("check.completed.clear", "check.complete.clear"),
        ("check.complete.*", "check.completed.attention"),
    ],
)
def test_a_star_route_reads_complycubes_legacy_spelling(pattern: str, wire_type: str) -> None:
    receiver = kw.Receiver(kw.ComplyCube(secret="s"))
    hits: list[str] = []
    receiver.on("*", pattern)(lambda event: hits.append("star"))
    receiver.on("complycube", pattern)(lambda event: hits.append("complycube"))
    body, headers = signed_delivery("complycube", wire_type, "s")
    outcome = receiver.handle(body, headers)
    assert outcome.status_code == 200
    assert hits == ["star", "complycube"]


def test_a_star_route_keeps_its_pattern_for_other_vendors() -> None:
    router = kw.Router()
    router.on("*", "check.complete.clear")(lambda event: None)
    (route,) = router.routes
    assert route.pattern == "check.complete.clear"
    assert route.pattern_for("complycube") == "check.completed.clear"
    assert route.pattern_for("idenfy") == "check.complete.clear"


def test_the_route_caches_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routing, "_CACHE_LIMIT", 8)
    receiver = kw.Receiver(kw.Idenfy(signing_key="k"))
    seen: list[str] = []
    receiver.on("idenfy")(lambda event: seen.append(event.event_type))
    body, headers = signed_delivery("idenfy", "COMPANY_DELETE", "k")  # any captured delivery
    sent = [f"MADE_UP_TYPE_{n}" for n in range(40)]
    for event_type in sent:  # one signed body, ever new values of the unsigned header
        outcome = receiver.handle(body, {**headers, "Idenfy-Event-Type": event_type})
        assert outcome.status_code == 200
    assert seen == sent  # still routed correctly past the limit
    router = receiver.router
    assert len(router._cache) <= 8
    assert len(router._sync_cache) <= 8


def test_async_handlers_lists_event_then_decision_handlers_in_order() -> None:
    router = kw.Router()

    async def first(event: kw.WebhookEvent) -> None: ...

    def plain(event: kw.WebhookEvent) -> None: ...

    async def second(event: kw.WebhookEvent) -> None: ...

    async def on_verdict(decision: kw.Decision) -> None: ...

    router.on_decision()(on_verdict)
    router.on("idenfy")(first)
    router.on("idenfy")(plain)
    router.on("*")(second)
    assert router.async_handlers() == (first, second, on_verdict)
    with pytest.raises(kw.ConfigurationError, match=r"\.first, .*\.second, .*\.on_verdict"):
        router.check(sync=True)
    assert kw.Router().async_handlers() == ()
