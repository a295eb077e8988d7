"""Start-up checks of the handlers: an ``async def`` handler under a synchronous entry point fails
in ``prepare(sync=True)`` / ``check(sync=True)`` (the adapters' own checks are in
tests/_adapter_contract.py), and a registration that can never match warns (``RoutingWarning``)
with the closest known event types -- without false alarms for the legitimate spellings."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable

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
        ("*", "SESION_COMPLETION", "'session_completion'"),
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
        # Vendor "*": each vendor reads the pattern in its own spelling, as the route does (review
        # R42: these warned "would never run", and ran).
        ("*", "SESSION_COMPLETION"),
        ("*", "check.complete.clear"),
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


def test_any_vendor_in_another_spelling_runs_as_its_registration_did_not_warn() -> None:
    """The registrations above that no longer warn do run: a Yoti topic in upper case on vendor
    ``"*"`` gets Yoti's ``session_completion``."""
    from kyc_webhooks.testing import WebhookTester

    tester = WebhookTester()
    seen: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tester.on("*", "SESSION_COMPLETION")(lambda event: seen.append(event.event_type))
    tester.deliver("yoti", "session_completion")
    tester.deliver("idenfy", "IDENTIFICATION_AUTO_FINISHED")
    assert seen == ["session_completion"]


# -- registrations that could no longer take effect ------------------------------------------


class _DispatchWhileChecked:
    """A handler whose signature is read while the router checks it -- the moment at which, in
    production, another thread dispatches the first delivery: reading it dispatches."""

    def __init__(self, dispatch: Callable[[], object]) -> None:
        self._dispatch = dispatch

    @property
    def __signature__(self) -> inspect.Signature:
        self._dispatch()
        return inspect.Signature([inspect.Parameter("event", inspect.Parameter.POSITIONAL_ONLY)])

    def __call__(self, event: object) -> None: ...


def test_a_registration_racing_the_first_dispatch_is_refused_not_lost() -> None:
    """The check that refuses registrations after the first dispatch ran before the handler's
    checks and outside the lock: a registration racing the first delivery was accepted and the
    cached resolution never ran it (review R42). Now the check is repeated under the lock."""
    from kyc_webhooks.testing import WebhookTester

    tester = WebhookTester()
    delivery = tester.delivery("idenfy", "IDENTIFICATION_AUTO_FINISHED")
    event = tester.receiver.parse(delivery.body, delivery.headers)
    decision = event.decision
    assert decision is not None

    router = kw.Router()
    late = _DispatchWhileChecked(lambda: router.handlers_for(event))
    with pytest.raises(kw.ConfigurationError, match="before the first delivery"):
        router.add(late, "idenfy", "IDENTIFICATION_*")
    assert router.routes == ()

    decisions = kw.Router()
    late_decision = _DispatchWhileChecked(lambda: decisions.decision_handlers_for(decision))
    with pytest.raises(kw.ConfigurationError, match="before the first delivery"):
        decisions.on_decision()(late_decision)
    assert decisions.decision_routes == ()


def test_a_router_composed_into_another_refuses_later_registrations() -> None:
    """``Router(app)`` copies ``app``'s routes: a handler registered on ``app`` afterwards was
    accepted and silently never ran for the composed router (review R42)."""
    from kyc_webhooks.testing import WebhookTester

    app = kw.Router()
    ran: list[str] = []
    app.on("idenfy")(lambda event: ran.append("first"))
    composed = kw.Router(app)
    with pytest.raises(kw.ConfigurationError, match="copied into another Router"):
        app.on("idenfy")(lambda event: ran.append("second"))
    with pytest.raises(kw.ConfigurationError, match="copied into another Router"):
        app.on_decision()(lambda decision: None)
    composed.on("idenfy")(lambda event: ran.append("on the composed one"))  # still open
    tester = WebhookTester(router=composed)
    tester.deliver("idenfy", "IDENTIFICATION_AUTO_FINISHED")
    assert ran == ["first", "on the composed one"]


def test_a_generic_alias_for_on_event_is_a_configuration_error() -> None:
    """On Python 3.10 ``list[X]`` is an instance of ``type``: the model check passed it to
    issubclass(), which raised a raw TypeError."""
    with pytest.raises(kw.ConfigurationError, match="WebhookEvent subclass"):
        receiver().on_event(list[int])(handler)  # type: ignore[type-var, arg-type]
    # None was read as "no model": a handler for every event (review R48).
    with pytest.raises(kw.ConfigurationError, match="WebhookEvent subclass"):
        receiver().on_event(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("pattern", ["ID_VERIFICATION_*", "ID_VERIFICATION*", "*_CANCELED"])
def test_an_idenfy_wildcard_in_the_dashboard_spelling_matches_the_documented_types(
    pattern: str,
) -> None:
    """The dashboard's spelling ("ID VERIFICATION ...", "... CANCELED") is read as the documented
    type for a literal pattern; a wildcard in that spelling matched nothing and warned nothing,
    so its handler silently never ran."""
    from kyc_webhooks import testing

    receiver = kw.Receiver(kw.Idenfy(signing_key="k"))
    seen: list[str] = []
    receiver.on("idenfy", pattern)(lambda event: seen.append(event.event_type))
    body = b'{"scanRef": "s1", "clientId": "c1", "final": true, "status": {"overall": "DENIED"}}'
    outcome = receiver.handle(
        *testing.sign("idenfy", body, "k", event_type="ID_VERIFICATION_CANCELED")
    )
    assert outcome.status_code == 200, outcome.error
    assert seen == ["IDENTIFICATION_CANCELLED"]
