"""Routing: ordered handlers keyed by vendor, an fnmatch pattern on the event type, and optionally
an event model class.

* Deterministic: handlers for one event run in registration order (never set/dict-hash order).
* Composable: ``Router(router_a, router_b)`` contains the routes of both, in that order.
* Typed: ``@router.on_event(IdentificationEvent)`` makes ``mypy --strict`` check the handler's
  parameter against the model; ``@router.on(...)`` returns the function unchanged.
* Decisions: ``@router.on_decision(DecisionStatus.DECLINED, final=True)`` runs a handler with the
  event's :class:`~kyc_webhooks.Decision` (the receiver decides when: with a store, only when the
  effective decision of the verification changes; docs/decisions.md, "The ledger").
* Plain handlers from async code: :meth:`Router.dispatch_async` calls a plain ``def`` handler on
  the event loop, unless the router was built with ``run_sync`` -- how to run one from async code
  (the Django app passes asgiref's ``sync_to_async(thread_sensitive=True)``, so that handlers may
  use the ORM); a cancellation then waits for the handler to end in its thread, and is delivered
  at the next ``await``, as it would be had the handler run on the loop.
* Loud: registering after the first dispatch, or running an ``async def`` handler from the
  synchronous dispatch, raises instead of silently misbehaving; :meth:`Router.check` finds such a
  handler at start-up; a literal pattern that no vendor produces (a typo) warns
  (:class:`RoutingWarning`) with the closest known event types.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import difflib
import inspect
import os
import sys
import threading
import typing
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, TypeVar

from ._registry import VENDOR_NAMES, vendor_class
from .decisions import Decision, DecisionStatus
from .errors import ConfigurationError, UsageError
from .models import WebhookEvent

__all__ = [
    "DecisionHandler",
    "DecisionRoute",
    "Handler",
    "Route",
    "Router",
    "RoutingWarning",
    "SyncRunner",
]

E = TypeVar("E", bound=WebhookEvent)
#: What a typed handler returns (``on_event`` keeps it: a coroutine for an ``async def``).
R = TypeVar("R")
#: What ``on()`` registers (and returns unchanged): a callable that takes one event, positionally.
H = TypeVar("H", bound=Callable[[Any], object])
#: A handler takes the parsed event; it may be a plain or an ``async def`` function.
Handler = Callable[[Any], object | Awaitable[object]]
#: A decision handler takes a :class:`~kyc_webhooks.Decision`; plain or ``async def``.
DecisionHandler = Callable[[Decision], Any]
DH = TypeVar("DH", bound=DecisionHandler)
#: How async dispatch runs a plain handler: ``await run_sync(call)`` runs ``call`` (no arguments;
#: it calls the handler) where plain code may block, and returns its result -- e.g.
#: ``lambda call: asgiref.sync.sync_to_async(call, thread_sensitive=True)()``.
SyncRunner = Callable[[Callable[[], object]], Awaitable[object]]


class RoutingWarning(UserWarning):
    """A handler can never run: it was registered for an event type that no vendor produces but
    that is close to a documented one (a typo such as ``"IDENTIFICATION_AUTO_FINSHED"``), or, on a
    :class:`~kyc_webhooks.Receiver`, for a vendor the receiver is not configured for. The message
    names the closest known event types.

    Wildcard patterns, the unknown-event name ``"UNKNOWN"`` and names close to no documented type
    (an event type a vendor added after this version) never warn. To register a near-miss name on
    purpose, silence it: ``warnings.filterwarnings("ignore", category=kw.RoutingWarning)``.
    """


#: The ``event_type`` of an event whose type could not be read (iDenfy, ComplyCube): the name an
#: unknown-event catch-all can register.
_UNDETERMINED = "UNKNOWN"
_WILDCARDS = frozenset("*?[")
#: difflib similarity from which an unknown name is taken for a typo of a known one
#: ("IDENTIFICATION_AUTO_FINSHED": 0.98; unrelated new types such as "media_deleted": < 0.5).
_TYPO_CUTOFF = 0.8
#: Similarity of the names the warning then suggests, closest first.
_SUGGEST_CUTOFF = 0.6
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
#: The most (vendor, event type, model) resolutions a router keeps. An event type can come from an
#: unsigned header (iDenfy's ``Idenfy-Event-Type``): one captured signed body re-sent with ever new
#: header values must not grow the cache without end. Past the limit, routes are resolved per
#: delivery (a loop over the routes), which only such traffic reaches.
_CACHE_LIMIT = 1024


def _produced(vendor: str, event_type: str) -> bool:
    """Whether ``vendor`` can deliver an event whose ``event_type`` is ``event_type``."""
    return event_type == _UNDETERMINED or vendor_class(vendor).produces(event_type)


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside this package."""
    frame = sys._getframe(2)  # the caller of warn_never_runs (which calls warnings.warn)
    level = 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def _warn_if_never_produced(vendor: str, pattern: str) -> None:
    """Warn when the literal ``pattern`` is no event type of ``vendor`` (any vendor for ``"*"``)
    but close to one: a typo. A name close to none is taken for an event type this version does
    not know yet (it arrives as an unknown event, and this handler gets it)."""
    if _WILDCARDS.intersection(pattern):
        return
    vendors = VENDOR_NAMES if vendor == "*" else (vendor,)
    # Each vendor reads the pattern in its own spelling (Yoti's topics in any case, ComplyCube's
    # legacy check names), as the route does.
    spellings = {name: vendor_class(name).normalize_pattern(pattern) for name in vendors}
    if any(_produced(name, spelled) for name, spelled in spellings.items()):
        return
    known = sorted({t for name in vendors for t in vendor_class(name).event_types()})
    by_lower = {t.lower(): t for t in known}
    for candidate in dict.fromkeys([pattern, *spellings.values()]):  # as written, then each's
        if candidate.lower() in by_lower:  # a wrong case, for a vendor that does not fold it
            close = [by_lower[candidate.lower()]]
            break
        if difflib.get_close_matches(candidate, known, n=1, cutoff=_TYPO_CUTOFF):
            close = difflib.get_close_matches(candidate, known, n=3, cutoff=_SUGGEST_CUTOFF)
            break
    else:
        return
    whose = "any vendor" if vendor == "*" else vendor
    warn_never_runs(
        f"no event type of {whose} is {pattern!r}, so this handler would never run; "
        f"did you mean {' or '.join(repr(c) for c in close)}? (silence this RoutingWarning if "
        "the vendor sends an event type this version does not know)"
    )


def warn_never_runs(message: str) -> None:
    """Issue a :class:`RoutingWarning` pointing at the user's registration (the first frame
    outside this package), whichever wrapper -- receiver, tester -- it came through."""
    warnings.warn(message, RoutingWarning, stacklevel=_user_stacklevel())


@dataclass(frozen=True)
class Route:
    """One registration. ``vendor`` is a vendor name or ``"*"``; ``pattern`` an fnmatch pattern
    (case-sensitive, already normalised by the vendor); ``model`` an optional event class.
    ``vendor_patterns``: for ``"*"``, the vendors that spell ``pattern`` differently, with their
    spelling (ComplyCube reads ``"check.complete.clear"`` as ``"check.completed.clear"``)."""

    vendor: str
    pattern: str
    handler: Handler
    model: type[WebhookEvent] | None = None
    is_async: bool = False
    vendor_patterns: tuple[tuple[str, str], ...] = ()

    def pattern_for(self, vendor: str) -> str:
        """The pattern as ``vendor``'s event types are spelled."""
        for name, pattern in self.vendor_patterns:
            if name == vendor:
                return pattern
        return self.pattern

    def matches(self, event: WebhookEvent) -> bool:
        if self.vendor != "*" and self.vendor != event.vendor:
            return False
        pattern = self.pattern_for(event.vendor)
        return (pattern == "*" or fnmatchcase(event.event_type, pattern)) and (
            self.model is None or isinstance(event, self.model)
        )


@dataclass(frozen=True)
class DecisionRoute:
    """One decision registration: the statuses it wants (``None``: every status) and the
    finality (``None``: either)."""

    statuses: frozenset[DecisionStatus] | None
    final: bool | None
    handler: DecisionHandler
    is_async: bool = False

    def matches(self, decision: Decision) -> bool:
        return (self.statuses is None or decision.status in self.statuses) and (
            self.final is None or decision.final is self.final
        )


def _decision_statuses(statuses: tuple[object, ...]) -> frozenset[DecisionStatus] | None:
    if not statuses:
        return None
    chosen = set()
    for status in statuses:
        try:
            chosen.add(DecisionStatus(status))
        except ValueError:
            names = ", ".join(s.value for s in DecisionStatus)
            raise ConfigurationError(
                f"on_decision() takes DecisionStatus values ({names})"
            ) from None
    return frozenset(chosen)


def _check_model(model: object) -> None:
    """Refuse what is not a :class:`WebhookEvent` subclass -- ``typing.get_origin`` first: on
    Python 3.10 ``list[X]`` is a ``type`` that issubclass() refuses with TypeError."""
    if not (
        typing.get_origin(model) is None
        and isinstance(model, type)
        and issubclass(model, WebhookEvent)
    ):
        raise ConfigurationError("model must be a WebhookEvent subclass")


def _check_handler(handler: object, takes: str = "the event") -> bool:
    """Refuse what cannot be called with one positional argument (``takes``: what it will get);
    return whether it is async. A callable without a readable signature (some builtins) passes."""
    if not callable(handler):
        raise ConfigurationError("a handler must be callable")
    try:
        # The callable that will be called: a decorator's wrapper, not what it wraps (a wrapper
        # made with functools.wraps may supply arguments of its own to the wrapped function).
        signature = inspect.signature(handler, follow_wrapped=False)
    except (TypeError, ValueError, NameError):  # none to read (a builtin): left to the call
        pass
    else:
        try:
            signature.bind(None)
        except TypeError as exc:
            raise ConfigurationError(
                f"handler {_name(handler)}{signature} cannot be called with one argument, "
                f"{takes} ({exc}): give it one parameter for {takes} (any others need defaults)"
            ) from None
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 -- async callable objects
    )


class Router:
    """An ordered collection of routes. ``Router(*others)`` starts with the routes of ``others``.

    ``run_sync``: how :meth:`dispatch_async` and :meth:`dispatch_decision_async` run a plain
    ``def`` handler (a :data:`SyncRunner`); ``None`` (the default) calls it directly, on the event
    loop. Django's app sets asgiref's ``sync_to_async(thread_sensitive=True)``: Django refuses the
    ORM on the event loop. The synchronous dispatch always calls handlers directly."""

    def __init__(self, *routers: Router, run_sync: SyncRunner | None = None) -> None:
        if run_sync is not None and not callable(run_sync):
            raise ConfigurationError("run_sync must be an async callable taking a function")
        #: How async dispatch runs a plain handler (``None``: directly, on the event loop).
        self.run_sync = run_sync
        self._routes: list[Route] = []
        self._decision_routes: list[DecisionRoute] = []
        self._decision_cache: dict[tuple[DecisionStatus, bool], tuple[DecisionRoute, ...]] = {}
        self._frozen = False
        self._composed = False
        self._cache: dict[tuple[str, str, type[WebhookEvent]], tuple[Route, ...]] = {}
        # Same key -> the handlers of those routes, once checked to all be synchronous.
        self._sync_cache: dict[tuple[str, str, type[WebhookEvent]], tuple[Handler, ...]] = {}
        self._lock = threading.Lock()
        for router in routers:
            # Copied under the source's lock, which marks it composed at the same moment: a
            # registration there either lands before the copy or is refused after it.
            with router._lock:
                router._composed = True
                self._routes += router._routes
                self._decision_routes += router._decision_routes
        #: Whether any decision handler is registered (read on every delivery without a store).
        self.has_decision_routes = bool(self._decision_routes)

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(self._routes)

    @property
    def decision_routes(self) -> tuple[DecisionRoute, ...]:
        return tuple(self._decision_routes)

    def add(
        self,
        handler: Handler,
        vendor: str = "*",
        pattern: str = "*",
        *,
        model: type[WebhookEvent] | None = None,
    ) -> None:
        """Register ``handler``; see :meth:`on`."""
        self._refuse_if_closed()  # early, before any warning about the pattern
        if not isinstance(pattern, str) or not pattern:
            raise ConfigurationError("pattern must be a non-empty string")
        vendor_patterns: tuple[tuple[str, str], ...] = ()
        if vendor != "*":
            pattern = vendor_class(vendor).normalize_pattern(pattern)
        elif pattern != "*":
            # Any vendor: each reads the pattern in its own spelling.
            spelled = (
                (name, vendor_class(name).normalize_pattern(pattern)) for name in VENDOR_NAMES
            )
            vendor_patterns = tuple((name, p) for name, p in spelled if p != pattern)
        if model is not None:
            _check_model(model)
        is_async = _check_handler(handler)
        _warn_if_never_produced(vendor, pattern)
        with self._lock:
            # Again under the lock that the first dispatch takes to freeze the router: a
            # registration racing it is refused, never accepted and then left out of the cache.
            self._refuse_if_closed()
            self._routes.append(Route(vendor, pattern, handler, model, is_async, vendor_patterns))

    def _refuse_if_closed(self) -> None:
        """Raise :class:`ConfigurationError` once a registration could no longer take effect: the
        first delivery was dispatched (resolutions are cached), or this router's routes were
        copied into another ``Router(...)``."""
        if self._frozen:
            raise ConfigurationError(
                "handlers must be registered before the first delivery is dispatched"
            )
        if self._composed:
            raise ConfigurationError(
                "this router's routes were copied into another Router(...): register handlers "
                "on it before composing it, or on the composed router"
            )

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

    def on_event(self, model: type[E]) -> Callable[[Callable[[E], R]], Callable[[E], R]]:
        """Typed decorator: run the function for every event that is an instance of ``model``.

        ``mypy --strict`` then checks that the handler accepts exactly that model. Returns the
        function unchanged; for type checkers, a callable of that model with the function's own
        return type (an ``async def`` handler still returns a coroutine to await).
        """

        _check_model(model)  # None too: add() reads None as "every event"

        def decorator(func: Callable[[E], R]) -> Callable[[E], R]:
            self.add(func, "*", "*", model=model)
            return func

        return decorator

    def on_decision(
        self, *statuses: DecisionStatus | str, final: bool | None = None
    ) -> Callable[[DH], DH]:
        """Decorator: run the function with the :class:`~kyc_webhooks.Decision` of an event whose
        status is one of ``statuses`` (none given: any status) and whose finality is ``final``
        (``None``: either). Returns the function unchanged; ``mypy --strict`` checks that it
        accepts a ``Decision``."""
        chosen = _decision_statuses(statuses)
        if final is not None and not isinstance(final, bool):
            raise ConfigurationError("final must be True, False or None")

        def decorator(func: DH) -> DH:
            self._refuse_if_closed()
            is_async = _check_handler(func, "the decision")
            with self._lock:
                self._refuse_if_closed()  # as in :meth:`add`
                self._decision_routes.append(DecisionRoute(chosen, final, func, is_async))
                self.has_decision_routes = True
            return func

        return decorator

    def check(self, *, sync: bool = False) -> None:
        """Check the registered handlers now rather than at the first delivery.

        ``sync=True``: they will be dispatched synchronously (``receiver.handle``,
        ``process_pending``, ``replay``, Flask's and Django's ``webhook_view``), so an ``async def``
        handler -- which that dispatch cannot await -- raises :class:`ConfigurationError` naming
        it. Without ``sync`` every registered handler can run (the async dispatch runs both kinds).
        """
        if sync:
            names = [_name(handler) for handler in self.async_handlers()]
            if names:
                raise ConfigurationError(
                    f"async handler(s) {', '.join(names)} cannot run under synchronous dispatch "
                    "(receiver.handle, Flask, Django's webhook_view): make them plain `def` "
                    "functions, or use an async entry point (receiver.handle_async, FastAPI, "
                    "WebhookApp, Django's async_webhook_view)"
                )

    def async_handlers(self) -> tuple[Callable[..., Any], ...]:
        """The ``async def`` handlers, event handlers then decision handlers, in registration
        order: what synchronous dispatch cannot run (a worker then awaits them instead)."""
        return tuple(route.handler for route in self.routes if route.is_async) + tuple(
            route.handler for route in self.decision_routes if route.is_async
        )

    def handlers_for(self, event: WebhookEvent) -> tuple[Route, ...]:
        """The matching routes in registration order. Freezes the router (resolution is cached)."""
        key = (event.vendor, event.event_type, type(event))
        found = self._cache.get(key)
        if found is None:
            with self._lock:
                self._frozen = True
                found = tuple(route for route in self._routes if route.matches(event))
                if len(self._cache) < _CACHE_LIMIT:
                    self._cache[key] = found
        return found

    def _sync_handlers(self, event: WebhookEvent) -> tuple[Handler, ...]:
        key = (event.vendor, event.event_type, type(event))
        found = self._sync_cache.get(key)
        if found is None:
            routes = self.handlers_for(event)
            for route in routes:
                if route.is_async:
                    raise UsageError(
                        f"handler {_name(route.handler)} is async; "
                        "use `await receiver.handle_async()`"
                    )
            # A decision handler runs after the event's handlers: refuse an async one before
            # they run, or every redelivery would run them again and fail the same way.
            for decision_route in self._decision_routes:
                if decision_route.is_async:
                    raise UsageError(
                        f"decision handler {_name(decision_route.handler)} is async; "
                        "use `await receiver.handle_async()`"
                    )
            found = tuple(route.handler for route in routes)
            if len(self._sync_cache) < _CACHE_LIMIT:
                self._sync_cache[key] = found
        return found

    def dispatch(self, event: WebhookEvent) -> int:
        """Run the matching handlers synchronously, in order; return how many ran.

        Raises :class:`UsageError` -- before running any handler -- if one of them, or any
        decision handler, is async.
        A handler's own exception propagates (the receiver wraps it in ``HandlerError``).
        """
        handlers = self._sync_cache.get((event.vendor, event.event_type, type(event)))
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

    async def dispatch_async(self, event: WebhookEvent, decision: Decision | None = None) -> int:
        """Run the matching handlers in order, awaiting async ones (plain ones through
        ``run_sync``, if the router has one); then, given a ``decision``, the matching decision
        handlers, in the same run (see :meth:`_run_async`). Return how many ran."""
        calls: list[tuple[Callable[[Any], object], bool, object]] = [
            (route.handler, route.is_async, event) for route in self.handlers_for(event)
        ]
        if decision is not None:
            calls.extend(
                (route.handler, route.is_async, decision)
                for route in self.decision_handlers_for(decision)
            )
        await self._run_async(calls)
        return len(calls)

    async def _run_async(self, calls: list[tuple[Callable[[Any], object], bool, object]]) -> None:
        """Run ``calls`` -- (handler, is_async, argument) -- in order.

        A plain handler goes through ``run_sync`` when there is one. A cancellation that arrives
        meanwhile cannot stop its thread: the handler runs to its end (never abandoned while a
        retry of the delivery could start it again), the handlers after it run as they would on
        the loop, and the cancellation is delivered at the next ``await`` (an async handler's, or
        the caller's: the store runner then records the handlers that ran)."""
        run_sync = self.run_sync
        held = False  # a cancellation arrived while a plain handler ran in its thread
        for handler, is_async, argument in calls:
            if run_sync is None or is_async:
                result = handler(argument)
            else:
                result, cancelled = await _in_thread(run_sync, handler, argument)
                held = held or cancelled
            if result is not None and inspect.isawaitable(result):
                if held:
                    held = False
                    _cancel_again()
                await result
        if held:
            _cancel_again()

    def decision_handlers_for(self, decision: Decision) -> tuple[DecisionRoute, ...]:
        """The decision routes matching ``decision``, in registration order. Freezes the
        router."""
        key = (decision.status, decision.final)
        found = self._decision_cache.get(key)
        if found is None:
            with self._lock:
                self._frozen = True
                found = tuple(route for route in self._decision_routes if route.matches(decision))
                self._decision_cache[key] = found
        return found

    def dispatch_decision(self, decision: Decision) -> int:
        """Run the matching decision handlers synchronously, in order; return how many ran.
        Raises :class:`UsageError` -- before running any -- if one of them is async."""
        routes = self.decision_handlers_for(decision)
        for route in routes:
            if route.is_async:
                raise UsageError(
                    f"decision handler {_name(route.handler)} is async; "
                    "use `await receiver.handle_async()`"
                )
        for route in routes:
            result = route.handler(decision)
            if result is not None and inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()
                raise UsageError(
                    f"decision handler {_name(route.handler)} returned an awaitable; "
                    "use `await receiver.handle_async()`"
                )
        return len(routes)

    async def dispatch_decision_async(self, decision: Decision) -> int:
        """Run the matching decision handlers in order, awaiting async ones (plain ones through
        ``run_sync``, if the router has one)."""
        routes = self.decision_handlers_for(decision)
        await self._run_async([(route.handler, route.is_async, decision) for route in routes])
        return len(routes)


def _name(handler: object) -> str:
    return getattr(handler, "__qualname__", None) or type(handler).__name__


async def _in_thread(
    run_sync: SyncRunner, handler: Callable[[Any], object], argument: object
) -> tuple[object, bool]:
    """``handler(argument)`` through ``run_sync``: its result, and whether a cancellation of the
    caller arrived meanwhile -- the caller delivers it later (:func:`_cancel_again`). Cancelled
    before the thread started the handler, it never starts, and the cancellation propagates."""
    import asyncio

    done: concurrent.futures.Future[object] = concurrent.futures.Future()

    def call() -> object:
        if not done.set_running_or_notify_cancel():
            return None  # abandoned before it started (the caller raised CancelledError)
        try:
            result = handler(argument)
        except BaseException as exc:
            done.set_exception(exc)
            raise
        done.set_result(result)
        return result

    try:
        return await run_sync(call), False
    except asyncio.CancelledError:
        if done.cancel():  # not started: it never will
            raise
    # The handler runs, or ran, in its thread: wait for its end, whatever further cancellation.
    waiting = asyncio.wrap_future(done)
    while not waiting.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait((waiting,))
    error = waiting.exception()
    if error is not None:
        _cancel_again()
        raise error
    return waiting.result(), True


def _cancel_again() -> None:
    """Deliver a cancellation held while a plain handler ran in its thread at the current task's
    next ``await`` (where it would have arrived had the handler run on the event loop)."""
    import asyncio

    task = asyncio.current_task()
    if task is None:
        return
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+: count the held one once
    if uncancel is not None:
        uncancel()
    task.cancel()
