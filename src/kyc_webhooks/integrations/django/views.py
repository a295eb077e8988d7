"""Django views for a receiver you build yourself: CSRF-exempt views, and ``webhook_urls`` to
route them in one line (the installable app builds its receiver from settings instead).

    urlpatterns = [
        *webhook_urls(receiver),    # POST /webhooks and /webhooks/<vendor>, trailing slash or not
    ]

or, with your own paths (Django's ``path()`` matches a trailing slash only if you write it):

    view = webhook_view(receiver)
    urlpatterns = [path("webhooks", view), path("webhooks/<str:vendor>", view)]

``webhook_view`` is synchronous (``receiver.handle``, WSGI or ASGI) and refuses, when it is built,
a receiver with an ``async def`` handler; under ASGI use ``async_webhook_view`` to await ``async
def`` handlers (``receiver.handle_async``). Its plain ``def`` handlers are called on the event
loop, where Django refuses the ORM, unless the receiver's router runs them with
:func:`in_django_thread`::

    receiver = kw.Receiver(..., router=kw.Router(run_sync=in_django_thread))

The views are never wrapped in ``ATOMIC_REQUESTS``' transaction (``non_atomic_requests`` for every
database): a store commits the delivery itself, and handlers run in autocommit as in any view
without ``ATOMIC_REQUESTS``; a handler wraps its own writes in ``transaction.atomic()``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.http import HttpResponse, UnreadablePostError
from django.urls import re_path

from ...receiver import Receiver
from .._common import (
    ClientGone,
    Reply,
    check_pinned_vendor,
    check_sync_handlers,
    check_whole,
    read_capped,
    respond,
    respond_async,
)

__all__ = ["async_webhook_view", "in_django_thread", "webhook_urls", "webhook_view"]

_View = TypeVar("_View", bound=Callable[..., Any])

logger = logging.getLogger("kyc_webhooks")


async def in_django_thread(call: Callable[[], object]) -> object:
    """How a receiver runs a plain ``def`` handler from async code in Django (``Router(run_sync=
    in_django_thread)``; the app's project receiver has it): through asgiref's
    ``sync_to_async(thread_sensitive=True)``, in the thread where Django lets code use the ORM
    (on the event loop it raises ``SynchronousOnlyOperation``). ``async def`` handlers are
    awaited on the loop."""
    return await sync_to_async(call, thread_sensitive=True)()


def _response(reply: Reply) -> Any:
    response = HttpResponse(reply.body, status=reply.status)
    for name, value in reply.headers:
        response[name] = value
    return response


def _read_body(request: Any, limit: int) -> bytes:
    # Both views, under ASGI or WSGI (Django runs an async view under WSGI too).
    if _undeclared_wsgi_body(request):
        raise _LengthRequired
    try:
        body = read_capped(request.read, limit)
    except UnreadablePostError:  # an OSError of the server's socket, wrapped by Django
        raise ClientGone from None
    check_whole(body, request.META.get("CONTENT_LENGTH"))
    return body


def outside_request_transactions(view: _View) -> _View:
    """``view``, never run inside the transaction ``ATOMIC_REQUESTS`` opens around a request
    (Django's ``non_atomic_requests``, for every database).

    Inside it, a handler's caught ``IntegrityError`` would make the store's ``complete()`` fail
    after the answer was decided, and Django would then roll the stored delivery back;
    ``on_deferred`` would hand a worker a delivery not yet committed; and Django refuses
    ``ATOMIC_REQUESTS`` on an async view. A store commits the delivery itself; a handler whose
    writes must be all or nothing wraps them in ``transaction.atomic()``."""
    aliases = {DEFAULT_DB_ALIAS, *(connections if settings.configured else ())}
    for alias in sorted(aliases):
        view = transaction.non_atomic_requests(using=alias)(view)
    return view


class _LengthRequired(Exception):
    """A chunked body reached a WSGI request: Django reads no body without ``Content-Length``."""


def _undeclared_wsgi_body(request: Any) -> bool:
    """Whether ``request`` came through WSGI with a chunked body and no ``Content-Length``.

    Django's ``WSGIRequest`` reads at most ``CONTENT_LENGTH`` bytes of ``wsgi.input`` (none when it
    is absent), whatever the server did with the chunks; verified, that empty body would be
    answered 401 "invalid signature", as if the vendor's signature were forged. Under ASGI the
    body arrives whole (no ``wsgi.input`` in ``META``)."""
    meta = request.META
    return (
        "wsgi.input" in meta
        and not str(meta.get("CONTENT_LENGTH") or "").strip()
        and "chunked" in str(meta.get("HTTP_TRANSFER_ENCODING") or "").lower()
    )


def _length_required() -> Any:
    logger.warning(
        "delivery not handled status=411 error=LengthRequired detail=a chunked request reached "
        "a WSGI Django view, which reads no body without Content-Length; serve the view under "
        "ASGI or have the server or proxy buffer request bodies"
    )
    detail = "send the body with a Content-Length header (chunked bodies are not read here)"
    return HttpResponse(
        json.dumps({"ok": False, "error": "LengthRequired", "detail": detail}),
        status=411,
        content_type="application/json",
    )


def webhook_view(receiver: Receiver, *, vendor: str | None = None) -> Any:
    """A sync view; the vendor is ``vendor``, else the URL's ``<vendor>``, else detected.

    Raises :class:`~kyc_webhooks.ConfigurationError` if a handler is ``async def`` (this view runs
    ``receiver.handle``, which cannot await it) and the receiver does not defer: use
    :func:`async_webhook_view` under ASGI, or plain ``def`` handlers -- or if ``vendor`` is not a
    vendor the receiver is configured for."""
    check_pinned_vendor(receiver, vendor)
    check_sync_handlers(receiver)

    def view(request: Any, **url_values: str) -> Any:
        limit = receiver.max_body_size
        try:
            reply = respond(
                receiver,
                method=request.method,
                content_length=request.META.get("CONTENT_LENGTH"),
                read=lambda: _read_body(request, limit),
                headers=request.headers,
                vendor=vendor or url_values.get("vendor"),
            )
        except _LengthRequired:
            return _length_required()
        return _response(reply)

    view.csrf_exempt = True  # type: ignore[attr-defined]  # what @csrf_exempt sets
    # What @login_not_required sets (Django 5.1): LoginRequiredMiddleware would send the vendor
    # to the login page -- a 302 that a client following redirects reads as a 200 (review R51).
    view.login_required = False  # type: ignore[attr-defined]
    return outside_request_transactions(view)


def async_webhook_view(receiver: Receiver, *, vendor: str | None = None) -> Any:
    """An ``async`` view for Django under ASGI; awaits async handlers. Raises
    :class:`~kyc_webhooks.ConfigurationError` if ``vendor`` is not a vendor the receiver is
    configured for."""
    check_pinned_vendor(receiver, vendor)

    async def view(request: Any, **url_values: str) -> Any:
        limit = receiver.max_body_size

        async def chunks() -> AsyncIterator[bytes]:
            # Django's ASGI handler has spooled the body; hold no more than limit + 1 bytes of it.
            yield _read_body(request, limit)

        try:
            reply = await respond_async(
                receiver,
                method=request.method,
                content_length=request.META.get("CONTENT_LENGTH"),
                chunks=chunks,
                headers=request.headers,
                vendor=vendor or url_values.get("vendor"),
            )
        except _LengthRequired:
            return _length_required()
        return _response(reply)

    view.csrf_exempt = True  # type: ignore[attr-defined]
    view.login_required = False  # type: ignore[attr-defined]  # as in webhook_view
    return outside_request_transactions(view)


def webhook_urls(
    receiver: Receiver, *, prefix: str = "webhooks", use_async: bool = False
) -> list[Any]:
    """URL patterns for ``POST <prefix>`` (auto-detect) and ``POST <prefix>/<vendor>``, each with
    or without a trailing slash (vendors' dashboards are configured either way, and Django's
    ``APPEND_SLASH`` redirect cannot help a ``POST``). Named ``kyc_webhook`` and
    ``kyc_webhook_vendor``. ``use_async=True`` routes to :func:`async_webhook_view`.

        urlpatterns = [*webhook_urls(receiver)]
        urlpatterns = [path("api/", include(webhook_urls(receiver, prefix="kyc")))]
    """
    view = async_webhook_view(receiver) if use_async else webhook_view(receiver)
    base = re.escape(prefix.strip("/"))
    if base:
        detect, by_vendor = rf"^{base}/?$", rf"^{base}/(?P<vendor>[^/]+)/?$"
    else:
        detect, by_vendor = r"^$", r"^(?P<vendor>[^/]+)/?$"
    return [
        re_path(detect, view, name="kyc_webhook"),
        re_path(by_vendor, view, name="kyc_webhook_vendor"),
    ]
