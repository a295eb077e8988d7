"""Flask: ``webhook_view(receiver)`` for ``app.add_url_rule`` or ``webhook_blueprint(receiver)``
serving ``POST <prefix>`` (auto-detect) and ``POST <prefix>/<vendor>``.

    app.register_blueprint(webhook_blueprint(receiver))   # /webhooks, /webhooks/<vendor>

Handlers run synchronously (``receiver.handle``); register plain ``def`` handlers: building the
view with an ``async def`` handler registered raises :class:`~kyc_webhooks.ConfigurationError`.
Both blueprint routes also accept a trailing slash.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..errors import PayloadTooLargeError
from ..receiver import Receiver
from ._common import ClientGone, check_pinned_vendor, check_sync_handlers, check_whole, respond

__all__ = ["webhook_blueprint", "webhook_view"]


def webhook_view(receiver: Receiver, *, vendor: str | None = None) -> Callable[..., Response]:
    """A ``POST`` view; the vendor is ``vendor``, else the rule's ``<vendor>``, else detected.

    Raises :class:`~kyc_webhooks.ConfigurationError` if a handler is ``async def`` (Flask runs
    ``receiver.handle``, which cannot await it) and the receiver does not defer, or if ``vendor``
    is not a vendor the receiver is configured for."""
    check_pinned_vendor(receiver, vendor)
    check_sync_handlers(receiver)

    def read() -> bytes:
        limit = receiver.max_body_size
        # Flask caps a streamed (chunked) body at the app's MAX_CONTENT_LENGTH; Werkzeug stops
        # there without an error, so a longer body would arrive cut at the cap. Flask >= 3.1 lets
        # a request raise its cap: to the smaller of the app's and ours, + 1, so that a body over
        # it shows by its length. Before 3.1 the cap is read-only: a streamed body that reached
        # it is over it when the input has a byte more.
        app_limit = request.max_content_length
        if app_limit is not None:
            limit = min(app_limit, limit)
        cut_at_app_limit = False
        try:
            request.max_content_length = limit + 1
        except AttributeError:  # Flask < 3.1
            cut_at_app_limit = app_limit == limit and request.content_length is None
        try:
            body: bytes | None = request.get_data(cache=False)
        except RequestEntityTooLarge:  # declared over the app's own MAX_CONTENT_LENGTH
            body = None
        except Exception:  # the server's input failed: a sender gone, a bad chunk (gunicorn)
            raise ClientGone from None
        if body is not None:
            check_whole(body, request.content_length)
        if (
            body is not None
            and cut_at_app_limit
            and len(body) == limit
            and request.environ["wsgi.input"].read(1)
        ):
            body = None
        if body is None or len(body) > limit:
            raise PayloadTooLargeError(f"body is over the {limit}-byte limit")
        return body

    def view(**url_values: str) -> Response:
        reply = respond(
            receiver,
            method=request.method,
            # As sent: Werkzeug's content_length reads a malformed value as no length.
            content_length=request.headers.get("Content-Length"),
            read=read,
            headers=request.headers,
            vendor=vendor or url_values.get("vendor"),
        )
        return Response(reply.body, reply.status, list(reply.headers))

    view.methods = ["POST"]  # type: ignore[attr-defined]  # add_url_rule reads it
    # Else Flask answers OPTIONS itself, 200 with an empty body: POST only, as every adapter.
    view.provide_automatic_options = False  # type: ignore[attr-defined]
    view.__name__ = f"kyc_webhook_{vendor}" if vendor else "kyc_webhook"  # default endpoint name
    return view


def webhook_blueprint(
    receiver: Receiver, *, url_prefix: str = "/webhooks", name: str = "kyc_webhooks"
) -> Blueprint:
    """A blueprint with ``POST <url_prefix>`` (auto-detect) and ``POST <url_prefix>/<vendor>``,
    each with or without a trailing slash."""
    blueprint = Blueprint(name, __name__, url_prefix=url_prefix)
    view = webhook_view(receiver)
    blueprint.add_url_rule("", "detect", view, methods=["POST"], strict_slashes=False)
    blueprint.add_url_rule("/<vendor>", "vendor", view, methods=["POST"], strict_slashes=False)
    return blueprint
