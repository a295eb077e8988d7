"""Registration refuses a handler that cannot be called with one positional argument (review 16,
finding 1): without the check every delivery would answer 500 (``TypeError`` in the handler
call) and the vendor would retry for ever. What can take one argument stays accepted: defaults,
``*args``, callable objects, bound methods, ``async def``, and builtins without a signature."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

import kyc_webhooks as kw
from kyc_webhooks.routing import Router
from kyc_webhooks.testing import WebhookTester


def no_parameter() -> None: ...


def extra_parameter(event: object, db: str) -> None: ...


def keyword_only(*, event: object) -> None: ...


class Handler:
    def __init__(self) -> None:
        self.seen: list[object] = []

    def __call__(self, event: object) -> None:
        self.seen.append(event)

    def method(self, event: object) -> None:
        self.seen.append(event)


def with_default(event: object, retries: int = 3) -> None: ...


def variadic(*args: object, **kwargs: object) -> None: ...


async def asynchronous(event: object) -> None: ...


WRONG: list[Callable[..., Any]] = [no_parameter, extra_parameter, keyword_only]


@pytest.mark.parametrize("handler", WRONG, ids=lambda h: h.__name__)
def test_on_and_add_refuse_a_handler_that_cannot_take_the_event(
    handler: Callable[..., Any],
) -> None:
    router = Router()
    with pytest.raises(kw.ConfigurationError, match=rf"handler {handler.__name__}\(.*the event"):
        router.on("idenfy")(handler)
    with pytest.raises(kw.ConfigurationError, match="cannot be called with one argument"):
        router.add(handler)
    with pytest.raises(kw.ConfigurationError, match="cannot be called with one argument"):
        router.on_event(kw.WebhookEvent)(handler)
    receiver = kw.Receiver(kw.Idenfy(signing_key="k"))
    with pytest.raises(kw.ConfigurationError, match="cannot be called with one argument"):
        receiver.on("idenfy", "IDENTIFICATION_*")(handler)
    with pytest.raises(kw.ConfigurationError, match="the decision"):
        receiver.on_decision()(handler)
    assert router.routes == ()
    assert receiver.router.routes == ()
    assert receiver.router.decision_routes == ()


def test_handlers_that_can_take_one_argument_stay_accepted() -> None:
    obj = Handler()
    router = Router()
    accepted: list[Callable[..., Any]] = [
        with_default,
        variadic,
        asynchronous,
        obj,
        obj.method,
        functools.partial(extra_parameter, db="x"),
        lambda event: None,
        print,
        [].append,
        max,  # a builtin without a signature (inspect.signature raises ValueError)
        dict,
    ]
    for handler in accepted:
        router.add(handler, "idenfy")
    assert len(router.routes) == len(accepted)


def test_registered_handlers_run_plain_and_async() -> None:
    import asyncio

    tester = WebhookTester()
    seen: list[str] = []
    tester.on("idenfy", "IDENTIFICATION_*")(lambda event: seen.append("lambda"))

    @tester.on("idenfy")
    async def on_any(event: kw.WebhookEvent, note: str = "async") -> None:
        seen.append(note)

    outcome = asyncio.run(tester.deliver_async("idenfy", "IDENTIFICATION_AUTO_FINISHED"))
    assert outcome.ok
    assert seen == ["lambda", "async"]


def supplies_a_session(handler: Callable[[object, str], None]) -> Callable[[object], None]:
    """A decorator of the common kind: the wrapper takes the event and supplies an argument of its
    own; functools.wraps gives it the handler's name -- and a ``__wrapped__`` that
    ``inspect.signature`` follows by default."""

    @functools.wraps(handler)
    def wrapper(event: object) -> None:
        handler(event, "session")

    return wrapper


def test_a_decorated_handler_is_judged_by_the_wrapper_that_is_called() -> None:
    """Review 18: the check read the wrapped function's signature (``save(event, session)``) and
    refused at registration a wrapper that takes exactly the event -- an application using such
    a decorator failed at import after the upgrade."""
    seen: list[tuple[object, str]] = []

    @supplies_a_session
    def save(event: object, session: str) -> None:
        seen.append((event, session))

    router = Router()
    router.on("idenfy", "*")(save)
    router.on_decision()(save)
    tester = WebhookTester(router=router)
    outcome = tester.deliver("idenfy", "IDENTIFICATION_MANUAL_FINISHED")
    assert outcome.status_code == 200
    assert [session for _, session in seen] == ["session", "session"]
