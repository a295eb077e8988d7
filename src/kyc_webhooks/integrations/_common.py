"""What every adapter does, once, without any framework: refuse other methods than ``POST`` (405)
and unknown vendor names in the URL (404), refuse a declared ``Content-Length`` over the receiver's
``max_body_size`` before reading (413), read the body without ever holding more than
``max_body_size + 1`` bytes (413), run the receiver, and turn the :class:`Outcome` into a status,
a small JSON body and headers.

Adapters only translate their framework's request into these calls and a :class:`Reply` back into
their framework's response.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from typing import Any, NamedTuple

from .._headers import HeaderInput
from .._registry import VENDOR_NAMES
from ..errors import (
    ConfigurationError,
    DeliveryError,
    PayloadError,
    PayloadTooLargeError,
    StoreError,
    UsageError,
)
from ..receiver import Outcome, Receiver

__all__ = [
    "REOPEN_DELAYS",
    "ClientGone",
    "Reply",
    "StoreLifespan",
    "check_content_length",
    "check_sync_handlers",
    "check_whole",
    "known_vendor",
    "read_body_async",
    "read_capped",
    "read_capped_async",
    "reply",
    "respond",
    "respond_async",
]

logger = logging.getLogger("kyc_webhooks")

JSON_HEADERS: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)


class Reply(NamedTuple):
    """An HTTP answer: status, JSON body bytes, headers (``Content-Type`` always included)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = JSON_HEADERS


def _encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("ascii")


def reply(outcome: Outcome) -> Reply:
    """The answer for ``outcome``: its status and :meth:`Outcome.response_body` (never a secret,
    a payload value or a traceback), plus ``Retry-After`` when another worker still holds the
    event (503 from a store, see docs/delivery-guarantees.md)."""
    body = _encode(outcome.response_body())
    if outcome.retry_after is not None:
        headers = (*JSON_HEADERS, ("Retry-After", str(outcome.retry_after)))
        return Reply(outcome.status_code, body, headers)
    return Reply(outcome.status_code, body)


METHOD_NOT_ALLOWED = Reply(
    405,
    _encode({"ok": False, "error": "MethodNotAllowed", "detail": "only POST is accepted"}),
    (*JSON_HEADERS, ("Allow", "POST")),
)
NOT_FOUND = Reply(
    404,
    _encode(
        {
            "ok": False,
            "error": "UnknownVendor",
            "detail": f"no such webhook endpoint; vendors are {', '.join(VENDOR_NAMES)}",
        }
    ),
)


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"body is over the {limit}-byte limit")


def check_content_length(value: str | int | None, limit: int) -> None:
    """Raise :class:`PayloadTooLargeError` when a declared ``Content-Length`` exceeds ``limit``,
    and :class:`PayloadError` (400) when it is not a length (``"12, 12"``, ``"-1"``): some WSGI
    servers (Werkzeug's, Django's runserver) pass such a value on, the framework then reads no
    body, and the empty body would be verified -- an "invalid signature" that looks like a
    forgery. A missing value passes: the capped read still enforces the limit."""
    if value is None or value == "":
        return
    length = value if isinstance(value, int) else _length(value)
    if length is None:
        raise PayloadError("Content-Length is not a length")
    if length > limit:
        raise _too_large(limit)


def _length(text: str) -> int | None:
    """A ``Content-Length`` value as a number, or None when it is not one. More digits than any
    length has read as the largest number (``int()`` refuses over 4,300 digits with a
    ``ValueError``, which a dev server that passes the header on let escape: an HTML 500)."""
    text = text.strip()
    if not (text.isdigit() and text.isascii()):
        return None
    digits = text.lstrip("0")
    return int(digits or "0") if len(digits) <= 18 else sys.maxsize


class ClientGone(Exception):
    """The body could not be read whole: the sender went away mid-body, or the server's input
    failed. Nothing is verified or handled; :func:`respond` answers a bare 400
    (:data:`CLIENT_GONE`), which nobody is left to read, and logs nothing."""


#: The answer to :class:`ClientGone`: a bare 400.
CLIENT_GONE = Reply(400, b"", ())


def check_whole(body: bytes, declared: str | int | None) -> None:
    """Raise :class:`ClientGone` when ``body`` is shorter than its declared ``Content-Length``: a
    WSGI server may end the input early when the sender goes away (runserver; gunicorn reads to
    EOF), and half a body is not verified -- its "invalid signature" would look like a forgery
    (review R60)."""
    length = declared if isinstance(declared, int) else _length(declared or "")
    if length is not None and len(body) < length:
        raise ClientGone


def read_capped(read: Callable[[int], bytes], limit: int) -> bytes:
    """Read a file-like body through ``read(n)`` until EOF, holding at most ``limit + 1`` bytes.

    Raises :class:`PayloadTooLargeError` as soon as the body is longer than ``limit``. Short reads
    are fine: every round adds at least one byte or ends the loop, so it runs at most
    ``limit + 2`` times.
    """
    buffer = bytearray()
    while len(buffer) <= limit:
        chunk = read(limit + 1 - len(buffer))
        if not chunk:
            return bytes(buffer)
        buffer += chunk
    raise _too_large(limit)


async def read_capped_async(chunks: AsyncIterable[bytes], limit: int) -> bytes:
    """Join an async stream of body chunks; :class:`PayloadTooLargeError` once it exceeds
    ``limit`` (the rest of the stream is not read)."""
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) > limit:
            raise _too_large(limit)
    return bytes(buffer)


def _rejected(receiver: Receiver, exc: DeliveryError, vendor: str | None) -> Reply:
    return reply(receiver.reject(exc, vendor=vendor))


#: The answer when the receiver refuses to run because of an integration mistake (an ``async def``
#: handler registered after the adapter was built, behind a synchronous view): JSON like every
#: other answer, never the framework's HTML error page; the reason goes to the log only.
MISCONFIGURED = Reply(
    500,
    _encode(
        {
            "ok": False,
            "error": "UsageError",
            "detail": "the webhook endpoint is misconfigured; see the server log",
        }
    ),
)


def _misconfigured(exc: UsageError, vendor: str | None) -> Reply:
    logger.error(
        "delivery not handled vendor=%s status=500 error=%s detail=%s",
        vendor or "-",
        type(exc).__name__,
        exc.message,
    )
    return MISCONFIGURED


def check_sync_handlers(receiver: Receiver) -> None:
    """For adapters that call ``receiver.handle``: refuse, when the adapter is built, a receiver
    whose handlers it cannot run (an ``async def`` handler); a deferring receiver runs none."""
    if not receiver.defer:
        receiver.check(sync=True)


def check_pinned_vendor(receiver: Receiver, vendor: str | None) -> None:
    """Refuse, when the view is built, a pinned ``vendor`` that no delivery could pass: a name
    this library does not know (``"IDENFY"``, ``"idenfy "``: every delivery a 404), or one the
    receiver is not configured for (every delivery a 401) -- the vendor retries, then gives up,
    and nothing said why (review R39)."""
    if vendor is None:
        return
    if vendor not in VENDOR_NAMES:
        raise ConfigurationError(
            f"vendor {vendor!r} is not one of {', '.join(VENDOR_NAMES)} (the names are lower case)"
        )
    if vendor not in receiver.vendors:
        raise ConfigurationError(
            f"vendor {vendor!r} is not configured on this receiver (it has "
            f"{', '.join(receiver.vendors) or 'none'}): every delivery would be refused"
        )


def known_vendor(name: str | None) -> bool:
    """Whether a vendor taken from a URL is one this library knows (``None``: auto-detect)."""
    return name is None or name in VENDOR_NAMES


def _precheck(method: str, vendor: str | None) -> Reply | None:
    if method.upper() != "POST":
        return METHOD_NOT_ALLOWED
    return None if known_vendor(vendor) else NOT_FOUND


async def read_body_async(
    receiver: Receiver, content_length: str | int | None, chunks: AsyncIterable[bytes]
) -> bytes:
    """Check ``Content-Length``, then join ``chunks`` under ``receiver.max_body_size``; raises
    :class:`PayloadTooLargeError`."""
    check_content_length(content_length, receiver.max_body_size)
    return await read_capped_async(chunks, receiver.max_body_size)


def respond(
    receiver: Receiver,
    *,
    method: str,
    content_length: str | int | None,
    read: Callable[[], bytes],
    headers: HeaderInput,
    vendor: str | None = None,
) -> Reply:
    """The whole synchronous request cycle. ``read()`` returns the body, raising
    :class:`PayloadTooLargeError` when it is over ``receiver.max_body_size``."""
    early = _precheck(method, vendor)
    if early is not None:
        return early
    try:
        check_content_length(content_length, receiver.max_body_size)
        body = read()
    except (PayloadError, PayloadTooLargeError) as exc:
        return _rejected(receiver, exc, vendor)
    except ClientGone:
        return CLIENT_GONE
    try:
        outcome = receiver.handle(body, headers, vendor=vendor)
    except UsageError as exc:  # an async handler registered after the adapter was built
        return _misconfigured(exc, vendor)
    return reply(outcome)


async def respond_async(
    receiver: Receiver,
    *,
    method: str,
    content_length: str | int | None,
    chunks: Callable[[], AsyncIterable[bytes]],
    headers: HeaderInput,
    vendor: str | None = None,
) -> Reply:
    """The whole request cycle for async frameworks; ``chunks()`` streams the body (read only
    after the method, vendor and ``Content-Length`` checks pass). Awaits async handlers."""
    early = _precheck(method, vendor)
    if early is not None:
        return early
    try:
        body = await read_body_async(receiver, content_length, chunks())
    except (PayloadError, PayloadTooLargeError) as exc:
        return _rejected(receiver, exc, vendor)
    except ClientGone:
        return CLIENT_GONE
    try:
        outcome = await receiver.handle_async(body, headers, vendor=vendor)
    except UsageError as exc:  # an integrator's mistake met while handling (a handler's own)
        return _misconfigured(exc, vendor)
    return reply(outcome)


#: Seconds between attempts to open a store's async pool that the database refused at start-up:
#: doubling from the first, up to the last; then a warning, and worker threads for good.
REOPEN_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, *(30.0,) * 118)  # about an hour


class StoreLifespan:
    """What ``WebhookApp``'s and ``webhook_router``'s lifespans do with the receiver's store.

    :meth:`start` (on the application's event loop, at start-up) opens the async connections of
    a store that has them -- ``PostgresStore.open_async()`` -- so that ``handle_async`` runs the
    store's statements on that loop instead of a worker thread per call. :meth:`stop` (at
    shutdown) runs :meth:`Receiver.drain`, then closes what :meth:`start` opened.

    A store without async connections, one that cannot have them (a ``PostgresStore`` on a pool
    of yours), or one whose pool the application opened itself, is left as it is. A database
    that cannot be reached at start-up does not stop the application from starting: a warning,
    the store's calls run in worker threads (answering 503 until the database is back), and the
    pool is tried again in the background (:data:`REOPEN_DELAYS`) until it opens.
    """

    def __init__(self, receiver: Receiver, *, async_pool: bool = True) -> None:
        self.receiver = receiver
        self.async_pool = async_pool
        self.opened = False  # this lifespan opened the store's async pool: stop() closes it
        self._retrying: asyncio.Task[None] | None = None

    async def start(self) -> None:
        store = self.receiver.store
        open_async = getattr(store, "open_async", None)
        native = getattr(store, "native_async", None)
        if not self.async_pool or open_async is None or native is None or native():
            return  # none, or opened already (by the application's own lifespan): not ours
        try:
            self.opened = bool(await open_async())
        except UsageError:
            return  # a pool of yours (no async twin), or one open on another event loop
        except StoreError as exc:
            logger.warning(
                "kyc_webhooks: the store's async pool could not be opened at start-up (%s); its "
                "calls run in worker threads until it opens (retried in the background)",
                exc,
            )
            self._retrying = asyncio.ensure_future(self._reopen(open_async))

    async def _reopen(self, open_async: Callable[[], Awaitable[object]]) -> None:
        for delay in REOPEN_DELAYS:
            await asyncio.sleep(delay)
            try:
                self.opened = bool(await open_async())
            except StoreError:
                continue
            except UsageError as exc:  # opened meanwhile on another event loop, say
                logger.warning("kyc_webhooks: the store's async pool: %s", exc)
                return
            except Exception as exc:  # not a database that is down: trying again cannot help
                logger.error(
                    "kyc_webhooks: opening the store's async pool failed (%s); its calls run in "
                    "worker threads",
                    type(exc).__name__,
                )
                return
            logger.info("kyc_webhooks: the store's async pool is open")
            return
        logger.warning(
            "kyc_webhooks: the store's async pool could not be opened in %d attempts; its calls "
            "run in worker threads",
            len(REOPEN_DELAYS),
        )

    async def stop(self) -> None:
        retrying, self._retrying = self._retrying, None
        try:
            if retrying is not None:
                retrying.cancel()  # an attempt under way closes what it opened
                # Waited for without taking its outcome: a cancellation of stop() itself is
                # raised -- after the finally below has closed a pool the attempt did open.
                await asyncio.wait([retrying])
            left = await self.receiver.drain()
            if left:
                logger.warning(
                    "kyc_webhooks: %d store call(s) still under way at shutdown (drain timed "
                    "out); they go on in worker threads",
                    left,
                )
        finally:
            close_async = getattr(self.receiver.store, "close_async", None)
            if self.opened and close_async is not None:
                self.opened = False
                try:
                    await close_async()
                except (UsageError, StoreError) as exc:
                    logger.warning("kyc_webhooks: the store's async pool: %s", exc)
