"""Start-up checks of the handlers: an ``async def`` handler under a synchronous entry point fails
in ``prepare(sync=True)`` / ``check(sync=True)`` (the adapters' own checks are in
tests/_adapter_contract.py), and a registration that can never match warns (``RoutingWarning``)
with the closest known event types -- without false alarms for the legitimate spellings."""

from __future__ import annotations

import warnings

import pytest

import kyc_webhooks as kw
from kyc_webhooks.testing import make_vendors

SECRETS = {"idenfy": "k", "complycube": "k", "yoti": "u:p", "identomat": "k"}


def receiver() -> kw.Receiver:
    return kw.Receiver(*make_vendors(SECRETS))


def handler(event: kw.WebhookEvent) -> None: ...


async def async_handler(event: kw.WebhookEvent) -> None: ...


# -- async handlers under synchronous dispatch -----------------------------------------------


def test_prepare_sync_refuses_an_async_handler_at_start_up() -> None:
    r = receiver()
    r.on("idenfy")(handler)
    r.on("yoti", "session_*")(async_handler)
    assert r.prepare() is r  # the async entry points can run it
    assert r.check() is r
    with pytest.raises(kw.ConfigurationError, match=r"async_handler.*receiver\.handle"):
        r.prepare(sync=True)
    with pytest.raises(kw.ConfigurationError, match="async_handler"):
        r.check(sync=True)
    with pytest.raises(kw.ConfigurationError, match="async_handler"):
        r.router.check(sync=True)


def test_check_sync_passes_plain_handlers_and_async_callable_objects_are_caught() -> None:
    class AsyncCallable:
        async def __call__(self, event: kw.WebhookEvent) -> None: ...

    r = receiver()
    r.on()(handler)
    assert r.prepare(sync=True) is r
    r.on("complycube")(AsyncCallable())
    with pytest.raises(kw.ConfigurationError, match="AsyncCallable"):
        r.check(sync=True)


# -- registrations that can never match -----------------------------------------------------


@pytest.mark.parametrize(
    ("vendor", "pattern", "suggested"),
    [
        ("idenfy", "IDENTIFICATION_AUTO_FINSHED", "'IDENTIFICATION_AUTO_FINISHED'"),
        ("complycube", "check.complted", "'check.completed'"),
        ("complycube", "client.create", "'client.created'"),
        ("identomat", "session-chnage", "'session-change'"),
        ("yoti", "SESION_COMPLETION", "'session_completion'"),
        ("*", "IDENTIFICATION_AUTO_FINSHED", "'IDENTIFICATION_AUTO_FINISHED'"),
        # Vendor "*" matches the event type as is: Yoti's are lower case, so this never matches.
        ("*", "SESSION_COMPLETION", "'session_completion'"),
    ],
)
def test_a_typo_warns_with_the_closest_names_first(
    vendor: str, pattern: str, suggested: str
) -> None:
    r = receiver()
    with pytest.warns(kw.RoutingWarning) as caught:
        r.on(vendor, pattern)(handler)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert f"did you mean {suggested}" in message
    assert caught[0].filename == __file__  # points at the registration, not at the library


def test_router_on_warns_too_and_the_warning_is_a_user_warning() -> None:
    assert issubclass(kw.RoutingWarning, UserWarning)
    with pytest.warns(kw.RoutingWarning, match="IDENTIFICATION_AUTO_FINISHED") as caught:
        kw.Router().on("idenfy", "IDENTIFICATION_AUTO_FINSHED")(handler)
    assert caught[0].filename == __file__


@pytest.mark.parametrize(
    ("vendor", "pattern"),
    [
        ("*", "*"),
        ("idenfy", "*"),
        ("idenfy", "IDENTIFCATION_*"),  # wildcards may target types a vendor adds later
        ("complycube", "check.complete?.*"),
        ("idenfy", "IDENTIFICATION_AUTO_FINISHED"),
        ("idenfy", "IDENTIFICATION"),  # legacy deliveries without the header
        ("idenfy", "UNKNOWN"),  # the unknown-event catch-all
        ("complycube", "UNKNOWN"),
        ("complycube", "check.complete"),  # legacy spellings (API v1.7.2)
        ("complycube", "check.complete.clear"),
        ("complycube", "check.completed.declined"),  # check outcomes are an open set
        ("complycube", "check.monitoring.cleared"),
        ("yoti", "SESSION_COMPLETION"),  # Yoti topics are case-insensitive
        ("yoti", "Task_Completion"),
        ("yoti", "media_deleted"),  # an undocumented topic, close to no documented one
        ("idenfy", "COMPANY_TOKEN_EXPIRED"),
        ("identomat", "session-change"),
        ("*", "check.completed"),
        ("*", "session_completion"),
    ],
)
def test_legitimate_registrations_do_not_warn(vendor: str, pattern: str) -> None:
    r = receiver()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r.on(vendor, pattern)(handler)
        kw.Router().on(vendor, pattern)(handler)


def test_on_event_does_not_warn() -> None:
    from kyc_webhooks.idenfy import IdentificationEvent

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        receiver().on_event(IdentificationEvent)(handler)


def test_a_vendor_the_receiver_is_not_configured_for_warns() -> None:
    r = kw.Receiver(kw.Yoti(auth_token="u:p"))
    with pytest.warns(kw.RoutingWarning, match=r"'idenfy' is not configured.*yoti") as caught:
        r.on("idenfy", "IDENTIFICATION_*")(handler)
    assert caught[0].filename == __file__
    with pytest.raises(kw.ConfigurationError, match="unknown vendor"):
        r.on("sumsub")


def test_the_warning_points_at_the_registration_through_the_tester_too() -> None:
    from kyc_webhooks import testing

    tester = testing.WebhookTester(kw.Receiver(kw.Yoti(auth_token="u:p")), secrets={"yoti": "u:p"})
    with pytest.warns(kw.RoutingWarning) as caught:
        tester.on("idenfy")(handler)
    with pytest.warns(kw.RoutingWarning) as typo:
        tester.on("yoti", "sesion_completion")(handler)
    assert [w.filename for w in (*caught, *typo)] == [__file__, __file__]
