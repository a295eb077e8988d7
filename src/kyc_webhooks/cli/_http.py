"""The HTTP client of ``send``, ``inbox replay --to`` and ``demo`` (stdlib only): URL checks,
loopback traffic kept away from proxies, one-line errors (exit 3) for unreachable receivers.

Redirects are never followed: a 3xx is the receiver's answer (not 2xx: refused). Following one
would turn the POST into a GET without the body, report the GET's answer as the delivery's, and
copy the request's headers -- a vendor credential such as Yoti's ``Authorization`` -- to whatever
host the ``Location`` names. ``timeout`` bounds the whole request (connect, send, and reading the
answer), not each socket operation: a receiver that trickles its answer cannot hold it longer.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._common import EXIT_UNAVAILABLE, CliError, shown

#: At most this many bytes of the answer are read (the JSON of a receiver's answer is small).
MAX_ANSWER = 65536


@dataclass
class Response:
    status: int
    reason: str
    body: dict[str, Any]
    #: The ``Location`` of a redirect (3xx), as shown to the user (see :func:`_shown_location`).
    location: str | None = None


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address: all of 127.0.0.0/8, ``::1``, ``::ffff:127.x.y.z``."""
    host = host.rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class _Deadline:
    """The end of a request's time, on the monotonic clock."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left; :class:`TimeoutError` once none are."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        return left


class _DeadlineReader(io.RawIOBase):
    """Reads a socket with each read's timeout lowered to what is left of the deadline, so
    that a peer sending one byte at a time cannot stretch the request past it."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        super().__init__()
        self._sock = sock
        # makefile() keeps the socket open until this reader is closed, as http.client expects.
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(self._deadline.remaining())
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


def _response_class(deadline: _Deadline) -> type[http.client.HTTPResponse]:
    class Response(http.client.HTTPResponse):
        def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
            super().__init__(sock, *args, **kwargs)
            plain, self.fp = self.fp, io.BufferedReader(_DeadlineReader(sock, deadline))
            plain.close()

    return Response


class _HTTPConnection(http.client.HTTPConnection):
    """A connection whose every step -- connecting, sending, each read of the answer -- gets
    only the time left until the request's deadline."""

    def __init__(self, *args: Any, deadline: _Deadline | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assert deadline is not None
        self.deadline = deadline
        self.response_class = _response_class(deadline)

    def connect(self) -> None:
        self.timeout = self.deadline.remaining()
        super().connect()
        self.sock.settimeout(self.deadline.remaining())  # for sending the request


class _HTTPSConnection(_HTTPConnection, http.client.HTTPSConnection):
    """The same over TLS (``HTTPSConnection.connect`` wraps the socket, then the deadline's
    timeout is set on the wrapped one)."""


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPConnection, req, deadline=self.deadline)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPSConnection, req, deadline=self.deadline)


def _opener(url: str, deadline: _Deadline) -> urllib.request.OpenerDirector:
    """An opener with only what a POST needs: proxies, http and https, each request bounded by
    ``deadline``. No redirect handler (redirects are answers) and no error processor (every
    status is returned, none raised)."""
    # Never route loopback traffic through an HTTP(S)_PROXY from the environment.
    proxies: dict[str, str] | None = None  # None: HTTP(S)_PROXY and NO_PROXY as usual
    if is_loopback(urllib.parse.urlsplit(url).hostname or ""):
        proxies = {}
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(proxies),
        _HTTPHandler(deadline),
        _HTTPSHandler(deadline),
    ):
        opener.add_handler(handler)
    return opener


def _shown_location(url: str, location: str | None) -> str | None:
    """A redirect's target as it may be printed: absolute, without a ``user:password@`` part,
    control characters, spaces and non-ASCII percent-encoded, query values as ``***``, at most
    300 characters."""
    if location is None:
        return None
    try:
        parts = urllib.parse.urlsplit(urllib.parse.urljoin(url, location.strip()))
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc += f":{parts.port}"
        shown = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "(not a valid URL)"
    # Query values as *** too: a relative Location ("#top") resolves against --to, token and
    # all (review R34).
    return shown_url(urllib.parse.quote(shown, safe="!#$%&'()*+,/:;=?@[]~"))


def shown_url(url: str) -> str:
    """``url`` as a message may show it: every query parameter's value -- and a parameter
    without one -- as ``***`` (endpoints take tokens there: ``?token=...``), without a
    ``user:password@`` part, control characters escaped, at most 300 characters."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "(the URL given)"
    items = (item.partition("=") for item in parts.query.split("&") if item)
    query = "&".join(f"{name}=***" if sep else "***" for name, sep, _ in items)
    netloc = parts.netloc.rpartition("@")[2]
    return _shown(urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query)))


def check_url(url: str) -> str:
    """``url`` when it is an http(s) URL that the HTTP client can send to; else a usage error."""
    bad = f"--to must be an http:// or https:// URL, got {shown_url(url)!r}"
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise CliError(f"{bad} (it contains whitespace or a control character)")
    if not url.isascii():
        raise CliError(f"{bad} (percent-encode the path; write the host name in punycode)")
    try:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname, parts.port  # .port raises for a bad or out-of-range port
    except ValueError as exc:  # http://[::1/, http://host:abc/, http://host:99999/
        raise CliError(f"{bad} ({exc})") from None
    if parts.username is not None or parts.password is not None:
        # Not echoed: the user-info part would be a credential.
        raise CliError("--to must not contain user:password@ (not supported)")
    if parts.scheme not in ("http", "https") or not host:
        raise CliError(bad)
    if port == 0:
        raise CliError(f"{bad} (port 0)")
    try:
        host.encode("idna")  # what the resolver will do: a label of 64+ characters fails
    except UnicodeError:
        raise CliError(f"{bad} (invalid host name)") from None
    return url


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float) -> Response:
    """POST ``body``; return the status and the JSON answer (``{}`` when not JSON). Every status
    is an answer, a redirect included (never followed). ``timeout`` bounds the whole request.
    Raises :class:`CliError` (exit 3) when the URL cannot be reached in time or the answer is
    not HTTP."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310 -- scheme checked in check_url
    deadline = _Deadline(timeout)
    shown = shown_url(url)  # never a token of its query
    try:
        with _opener(url, deadline).open(request, timeout=timeout) as answer:
            status, reason = answer.status, answer.reason
            location = answer.headers.get("Location") if 300 <= status < 400 else None
            raw = answer.read(MAX_ANSWER)
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise CliError(
                f"cannot reach {shown}: timed out after {timeout:g} s", EXIT_UNAVAILABLE
            ) from None
        reason_text = getattr(exc.reason, "strerror", None) or str(exc.reason)
        raise CliError(f"cannot reach {shown}: {reason_text}", EXIT_UNAVAILABLE) from None
    except TimeoutError:  # connected, but the answer did not come in time
        raise CliError(
            f"no answer from {shown}: timed out after {timeout:g} s", EXIT_UNAVAILABLE
        ) from None
    except (ConnectionError, OSError) as exc:
        raise CliError(f"cannot reach {shown}: {exc.strerror or exc}", EXIT_UNAVAILABLE) from None
    except http.client.HTTPException as exc:
        # BadStatusLine, IncompleteRead, LineTooLong, ...: the peer did not answer in HTTP. Only
        # the class is named: the exception's text can quote what the peer sent.
        raise CliError(
            f"bad answer from {shown}: not a valid HTTP response ({type(exc).__name__})",
            EXIT_UNAVAILABLE,
        ) from None
    except ValueError:  # UnicodeError included: a URL that check_url let through by mistake
        raise CliError(f"cannot send to {shown!r}: the HTTP client refused the URL") from None
    try:
        parsed = json.loads(raw) if raw else {}
    except (ValueError, RecursionError):  # not JSON, or nested deeper than json reads
        parsed = {}
    return Response(
        status,
        reason,
        parsed if isinstance(parsed, dict) else {},
        _shown_location(url, location) if 300 <= status < 400 else None,
    )


#: The most characters of an answer's reason phrase, ``error`` or ``detail`` that are printed.
_SHOWN_TEXT = 300


def _shown(value: object) -> str:
    """A text the peer sent (reason phrase, ``error``, ``detail``) as it may be printed: control
    characters -- terminal escape sequences, line breaks that would forge an output line -- as
    escapes (``\\x1b``), at most :data:`_SHOWN_TEXT` characters."""
    text = value if isinstance(value, str) else json.dumps(value)
    if len(text) > _SHOWN_TEXT:
        text = text[:_SHOWN_TEXT] + "..."
    return shown(text)


def describe(response: Response) -> str:
    text = f"{response.status} {_shown(response.reason)}".strip()
    if 300 <= response.status < 400:
        target = response.location or "no Location header"
        text += f" (redirect to {target}; not followed)"
    elif response.body.get("duplicate"):
        text += " (duplicate)"
    elif not 200 <= response.status < 300:
        # The adapters' answer, or FastAPI's HTTPException around it ({"detail": {...}}: the
        # verified_event dependency).
        body = response.body
        nested = body.get("detail")
        if not body.get("error") and isinstance(nested, dict) and nested.get("error"):
            body = nested
        if body.get("error"):
            text += f" ({_shown(body['error'])}: {_shown(body.get('detail', ''))})"
    return text
