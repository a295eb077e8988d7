"""Routing: ordered handlers keyed by vendor, an fnmatch pattern on the event type, and optionally
an event model class.

* Deterministic: handlers for one event run in registration order (never set/dict-hash order).
* Composable: ``Router(router_a, router_b)`` contains the routes of both, in that order.
* Typed: ``@router.on_event(IdentificationEvent)`` makes ``mypy --strict`` check the handler's
  parameter against the model; ``@router.on(...)`` returns the function unchanged.
* Loud: registering after the first dispatch, or running an ``async def`` handler from the
  synchronous dispatch, raises instead of silently misbehaving.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, TypeVar

from ._vendor import vendor_class
from .errors import ConfigurationError, UsageError
from .models import WebhookEvent

__all__ = ["Handler", "Route", "Router"]

E = TypeVar("E", bound=WebhookEvent)
H = TypeVar("H", bound=Callable[..., Any])
#: A handler takes the parsed event; it may be a plain or an ``async def`` function.
Handler = Callable[[Any], object | Awaitable[object]]


@dataclass(frozen=True)
class Route:
    """One registration. ``vendor`` is a vendor name or ``"*"``; ``pattern`` an fnmatch pattern
    (case-sensitive, already normalised by the vendor); ``model`` an optional event class."""

    vendor: str
    pattern: str
    handler: Handler
    model: type[WebhookEvent] | None = None
    is_async: bool = False

    def matches(self, event: WebhookEvent) -> bool:
        return (
            (self.vendor == "*" or self.vendor == event.vendor)
            and (self.pattern == "*" or fnmatchcase(event.event_type, self.pattern))
            and (self.model is None or isinstance(event, self.model))
        )


def _check_handler(handler: object) -> bool:
    if not callable(handler):
        raise ConfigurationError("a handler must be callable")
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 -- async callable objects
    )


class Router:
    """An ordered collection of routes. ``Router(*others)`` starts with the routes of ``others``."""

    def __init__(self, *routers: Router) -> None:
        self._routes: list[Route] = [route for router in routers for route in router.routes]
        self._frozen = False
        self._cache: dict[tuple[str, str, type[WebhookEvent]], tuple[Route, ...]] = {}
        # Same key -> the handlers of those routes, once checked to all be synchronous.
        self._sync_cache: dict[tuple[str, str, type[WebhookEvent]], tuple[Handler, ...]] = {}
        self._lock = threading.Lock()

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(self._routes)

    def add(
        self,
        handler: Handler,
        vendor: str = "*",
        pattern: str = "*",
        *,
        model: type[WebhookEvent] | None = None,
    ) -> None:
        """Register ``handler``; see :meth:`on`."""
        if self._frozen:
            raise ConfigurationError(
                "handlers must be registered before the first delivery is dispatched"
            )
        if not isinstance(pattern, str) or not pattern:
            raise ConfigurationError("pattern must be a non-empty string")
        if vendor != "*":
            pattern = vendor_class(vendor).normalize_pattern(pattern)
        if model is not None and not (isinstance(model, type) and issubclass(model, WebhookEvent)):
            raise ConfigurationError("model must be a WebhookEvent subclass")
        is_async = _check_handler(handler)
        with self._lock:
            self._routes.append(Route(vendor, pattern, handler, model, is_async))

    def on(self, vendor: str = "*", pattern: str = "*") -> Callable[[H], H]:
        """Decorator: run the function for events of ``vendor`` (a name, or ``"*"`` for all) whose
        event type matches the fnmatch ``pattern``. Returns the function unchanged."""
        # Validate now, so that a typo fails at import time rather than at the first delivery.
        if vendor != "*":
            vendor_class(vendor)

        def decorator(func: H) -> H:
            self.add(func, vendor, pattern)
            return func

        return decorator

    def on_event(self, model: type[E]) -> Callable[[Callable[[E], Any]], Callable[[E], Any]]:
        """Typed decorator: run the function for every event that is an instance of ``model``.

        ``mypy --strict`` then checks that the handler accepts exactly that model.
        """

        def decorator(func: Callable[[E], Any]) -> Callable[[E], Any]:
            self.add(func, "*", "*", model=model)
            return func

        return decorator

    def handlers_for(self, event: WebhookEvent) -> tuple[Route, ...]:
        """The matching routes in registration order. Freezes the router (resolution is cached)."""
        key = (event.vendor, event.event_type, type(event))
        found = self._cache.get(key)
        if found is None:
            with self._lock:
                self._frozen = True
                found = tuple(route for route in self._routes if route.matches(event))
                self._cache[key] = found
        return found

    def _sync_handlers(self, event: WebhookEvent) -> tuple[Handler, ...]:
        # The plain instance attributes behind ``event.vendor``/``event.event_type`` (no
        # property call on the per-delivery path).
        key = (event._vendor, event._event_type, type(event))
        found = self._sync_cache.get(key)
        if found is None:
            routes = self.handlers_for(event)
            for route in routes:
                if route.is_async:
                    raise UsageError(
                        f"handler {_name(route.handler)} is async; "
                        "use `await receiver.handle_async()`"
                    )
            found = self._sync_cache[key] = tuple(route.handler for route in routes)
        return found

    def dispatch(self, event: WebhookEvent) -> int:
        """Run the matching handlers synchronously, in order; return how many ran.

        Raises :class:`UsageError` -- before running any handler -- if one of them is async.
        A handler's own exception propagates (the receiver wraps it in ``HandlerError``).
        """
        handlers = self._sync_cache.get((event._vendor, event._event_type, type(event)))
        if handlers is None:
            handlers = self._sync_handlers(event)
        for handler in handlers:
            result = handler(event)
            if result is not None and inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()
                raise UsageError(
                    f"handler {_name(handler)} returned an awaitable; "
                    "use `await receiver.handle_async()`"
                )
        return len(handlers)

    async def dispatch_async(self, event: WebhookEvent) -> int:
        """Run the matching handlers in order, awaiting async ones; return how many ran."""
        routes = self.handlers_for(event)
        for route in routes:
            result = route.handler(event)
            if result is not None and inspect.isawaitable(result):
                await result
        return len(routes)


def _name(handler: object) -> str:
    return getattr(handler, "__qualname__", None) or type(handler).__name__
