"""The HTTP client of ``send``, ``inbox replay --to`` and ``demo`` (stdlib only): URL checks,
loopback traffic kept away from proxies, one-line errors (exit 3) for unreachable receivers."""

from __future__ import annotations

import http.client
import ipaddress
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._common import EXIT_UNAVAILABLE, CliError


@dataclass
class Response:
    status: int
    reason: str
    body: dict[str, Any]


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


def _opener(url: str) -> urllib.request.OpenerDirector:
    if is_loopback(urllib.parse.urlsplit(url).hostname or ""):
        # Never route loopback traffic through an HTTP(S)_PROXY from the environment.
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def check_url(url: str) -> str:
    """``url`` when it is an http(s) URL that the HTTP client can send to; else a usage error."""
    bad = f"--to must be an http:// or https:// URL, got {url!r}"
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
    """POST ``body``; return the status and the JSON answer (``{}`` when not JSON). Raises
    :class:`CliError` (exit 3) when the URL cannot be reached or the answer is not HTTP."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310 -- scheme checked in check_url
    try:
        try:
            with _opener(url).open(request, timeout=timeout) as answer:
                status, reason, raw = answer.status, answer.reason, answer.read(65536)
        except urllib.error.HTTPError as exc:
            # Reading an error answer can fail too; the handlers below report that.
            status, reason = exc.code, str(exc.reason)
            try:
                raw = exc.read(65536)
            finally:
                exc.close()
    except urllib.error.URLError as exc:
        reason_text = getattr(exc.reason, "strerror", None) or str(exc.reason)
        raise CliError(f"cannot reach {url}: {reason_text}", EXIT_UNAVAILABLE) from None
    except TimeoutError:
        raise CliError(
            f"cannot reach {url}: timed out after {timeout:g} s", EXIT_UNAVAILABLE
        ) from None
    except (ConnectionError, OSError) as exc:
        raise CliError(f"cannot reach {url}: {exc.strerror or exc}", EXIT_UNAVAILABLE) from None
    except http.client.HTTPException as exc:
        # BadStatusLine, IncompleteRead, LineTooLong, ...: the peer did not answer in HTTP. Only
        # the class is named: the exception's text can quote what the peer sent.
        raise CliError(
            f"bad answer from {url}: not a valid HTTP response ({type(exc).__name__})",
            EXIT_UNAVAILABLE,
        ) from None
    except ValueError:  # UnicodeError included: a URL that check_url let through by mistake
        raise CliError(f"cannot send to {url!r}: the HTTP client refused the URL") from None
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        parsed = {}
    return Response(status, reason, parsed if isinstance(parsed, dict) else {})


def describe(response: Response) -> str:
    text = f"{response.status} {response.reason}".strip()
    if response.body.get("duplicate"):
        text += " (duplicate)"
    elif not 200 <= response.status < 300 and response.body.get("error"):
        text += f" ({response.body['error']}: {response.body.get('detail', '')})"
    return text
