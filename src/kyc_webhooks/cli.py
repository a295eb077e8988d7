"""The ``kyc-webhooks`` command line (also ``python -m kyc_webhooks``), built on the public API.

Commands: ``sign``, ``verify``, ``send``, ``serve``, ``inbox`` and ``demo`` -- run
``kyc-webhooks <command> --help`` for each one's options and examples.

Credentials come from the environment (``IDENFY_SIGNING_KEY``, ``COMPLYCUBE_SECRET``,
``YOTI_AUTH_TOKEN`` + ``YOTI_AUTH_TYPE``, ``IDENTOMAT_API_KEY``), from a TOML file (``--config``
or ``KYC_WEBHOOKS_CONFIG``), or, for one vendor, from ``--secret-env``, ``--secret-file`` or
``--secret``.
No secret, signature or payload value is ever printed, except where it is the requested output
(``sign`` prints the headers it computed; ``inbox show --body`` prints the stored body).

Exit codes: 0 success; 1 a check failed (not authentic, a rejected or failed delivery, an
unexpected demo outcome); 2 usage or configuration error (bad option, missing file, bad secret or
config); 3 network error (unreachable URL, port in use, server failure); 4 an optional dependency
is missing; 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import enum
import errno
import http.client
import importlib
import ipaddress
import json
import logging
import math
import os
import re
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import kyc_webhooks as kw
from kyc_webhooks import testing

if TYPE_CHECKING:
    from kyc_webhooks import Outcome, Receiver, Vendor, WebhookEvent
    from kyc_webhooks.store import DeliveryRecord, SQLiteStore

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_MISSING_DEPENDENCY",
    "EXIT_OK",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "main",
]

PROG = "kyc-webhooks"

EXIT_OK = 0
#: A check failed: not authentic, a rejected/failed delivery, an unexpected demo outcome.
EXIT_FAILED = 1
#: Bad usage or configuration: unknown option, missing file, empty secret, invalid config file.
EXIT_USAGE = 2
#: Network: the URL is unreachable, the port is in use, the server failed.
EXIT_UNAVAILABLE = 3
#: An optional dependency is missing (``uvicorn`` for serve/demo, ``tomli`` on Python 3.10).
EXIT_MISSING_DEPENDENCY = 4
EXIT_INTERRUPTED = 130

VENDORS: tuple[str, ...] = ("idenfy", "complycube", "yoti", "identomat")
#: Environment variable holding each vendor's credential.
ENV_VARS: dict[str, str] = {
    "idenfy": "IDENFY_SIGNING_KEY",
    "complycube": "COMPLYCUBE_SECRET",
    "yoti": "YOTI_AUTH_TOKEN",
    "identomat": "IDENTOMAT_API_KEY",
}
YOTI_AUTH_TYPE_VAR = "YOTI_AUTH_TYPE"
CONFIG_VAR = "KYC_WEBHOOKS_CONFIG"
INBOX_VAR = "KYC_WEBHOOKS_INBOX"
DEFAULT_INBOX = "kyc-webhooks-inbox.sqlite3"
DEFAULT_PORT = 8000
LOOPBACK = "127.0.0.1"
#: The constructor parameter holding each vendor's credential (also the TOML key).
SECRET_PARAMS: dict[str, str] = {
    "idenfy": "signing_key",
    "complycube": "secret",
    "yoti": "auth_token",
    "identomat": "api_key",
}
_CONFIG_KEYS: dict[str, frozenset[str]] = {
    "idenfy": frozenset({"signing_key"}),
    "complycube": frozenset({"secret"}),
    "yoti": frozenset({"auth_token", "auth_type"}),
    "identomat": frozenset({"api_key"}),
    "serve": frozenset({"host", "port", "inbox"}),
}

logger = logging.getLogger("kyc_webhooks.cli")


class CliError(Exception):
    """A failure reported as one line on stderr, with an exit code (no traceback)."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# ------------------------------------------------------------------------------------------------
# Small helpers: output, files, configuration
# ------------------------------------------------------------------------------------------------


def _out(text: str = "") -> None:
    print(text, file=sys.stdout, flush=True)


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _read_bytes(path: str, what: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise CliError(f"{what} file not found: {path}") from None
    except IsADirectoryError:
        raise CliError(f"{what} file is a directory: {path}") from None
    except OSError as exc:
        raise CliError(f"cannot read {what} file {path}: {exc.strerror or exc}") from None


def _load_toml(path: str) -> dict[str, Any]:
    module = "tomllib" if sys.version_info >= (3, 11) else "tomli"
    try:
        toml: Any = importlib.import_module(module)
    except ImportError:
        raise CliError(
            "reading a TOML config on Python 3.10 needs tomli: pip install tomli (the cli extra)",
            EXIT_MISSING_DEPENDENCY,
        ) from None
    raw = _read_bytes(path, "config")
    try:
        data: dict[str, Any] = toml.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise CliError(f"config file {path} is not UTF-8") from None
    except toml.TOMLDecodeError as exc:
        # The decoder's message names a line and column, never a value.
        raise CliError(f"config file {path} is not valid TOML: {exc}") from None
    for table, value in data.items():
        allowed = _CONFIG_KEYS.get(table)
        if allowed is None:
            raise CliError(
                f"config file {path}: unknown table [{table}]; "
                f"expected {', '.join(f'[{t}]' for t in _CONFIG_KEYS)}"
            )
        if not isinstance(value, dict):
            raise CliError(f"config file {path}: [{table}] must be a table")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise CliError(
                f"config file {path}: unknown key {unknown[0]!r} in [{table}]; "
                f"expected {', '.join(sorted(allowed))}"
            )
    return data


@dataclass
class VendorSetting:
    """Constructor keyword arguments for one vendor and where they came from (for messages)."""

    kwargs: dict[str, Any]
    source: str


def _config_path(args: argparse.Namespace) -> str | None:
    path: str | None = getattr(args, "config", None) or os.environ.get(CONFIG_VAR) or None
    return path


def _vendor_settings(args: argparse.Namespace) -> dict[str, VendorSetting]:
    """Every vendor with credentials: environment first, then the TOML file (which wins)."""
    settings: dict[str, VendorSetting] = {}
    for name, var in ENV_VARS.items():
        value = os.environ.get(var)
        if value is None:
            continue
        kwargs: dict[str, Any] = {SECRET_PARAMS[name]: value}
        if name == "yoti" and os.environ.get(YOTI_AUTH_TYPE_VAR):
            kwargs["auth_type"] = os.environ[YOTI_AUTH_TYPE_VAR]
        settings[name] = VendorSetting(kwargs, f"${var}")
    path = _config_path(args)
    if path:
        data = _load_toml(path)
        for name in VENDORS:
            table = data.get(name)
            if table is None:
                continue
            if SECRET_PARAMS[name] not in table:
                raise CliError(f"config file {path}: [{name}] needs {SECRET_PARAMS[name]}")
            settings[name] = VendorSetting(dict(table), f"{path} [{name}]")
    return settings


def _single_secret(args: argparse.Namespace, vendor: str) -> VendorSetting | None:
    """The credential given on the command line for ``vendor`` (``--secret*`` options), if any."""
    param = SECRET_PARAMS[vendor]
    value: str | None = None
    source = ""
    if getattr(args, "secret_env", None):
        var = args.secret_env
        value = os.environ.get(var)
        if value is None:
            raise CliError(f"environment variable {var} (--secret-env) is not set")
        source = f"${var}"
    elif getattr(args, "secret_file", None):
        raw = _read_bytes(args.secret_file, "secret")
        # The first line without its line ending (bytes.splitlines: only \n, \r\n and \r end a
        # line); whatever follows it (a comment, a second key) is not part of the secret.
        first = raw.splitlines()[0] if raw else b""
        try:
            # utf-8-sig: a byte order mark written by a Windows editor is not part of the secret.
            value = first.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CliError(f"secret file {args.secret_file} is not UTF-8") from None
        if not value.strip():
            raise CliError(f"secret file {args.secret_file} has no secret: its first line is empty")
        source = f"--secret-file {args.secret_file}"
    elif getattr(args, "secret", None) is not None:
        value = args.secret
        source = "--secret"
    if value is None:
        return None
    kwargs: dict[str, Any] = {param: value}
    auth_type = getattr(args, "auth_type", None)
    if vendor == "yoti" and auth_type:
        kwargs["auth_type"] = auth_type
    return VendorSetting(kwargs, source)


def _has_single_secret(args: argparse.Namespace) -> bool:
    return bool(
        getattr(args, "secret_env", None)
        or getattr(args, "secret_file", None)
        or getattr(args, "secret", None) is not None
    )


def _vendor_class(name: str) -> type[Vendor]:
    cls: type[Vendor] = getattr(
        kw, {"idenfy": "Idenfy", "complycube": "ComplyCube", "yoti": "Yoti"}.get(name, "Identomat")
    )
    return cls


def _build_vendor(name: str, setting: VendorSetting) -> Vendor:
    try:
        return _vendor_class(name)(**setting.kwargs)
    except kw.ConfigurationError as exc:
        raise CliError(f"bad {name} credentials from {setting.source}: {exc.message}") from None


def _secret_text(setting: VendorSetting, vendor: str) -> str:
    """The (first) credential of ``setting``, as text, for signing."""
    value = setting.kwargs.get(SECRET_PARAMS[vendor])
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, str) or not value.strip():
        raise CliError(
            f"bad {vendor} credentials from {setting.source}: "
            f"{SECRET_PARAMS[vendor]} must not be empty"
        )
    return value


def _signing_setting(args: argparse.Namespace, vendor: str) -> VendorSetting:
    """The credential used to sign for ``vendor``: ``--secret*`` options, else env/config."""
    single = _single_secret(args, vendor)
    if single is not None:
        return single
    setting = _vendor_settings(args).get(vendor)
    if setting is None:
        raise CliError(
            f"no credentials for {vendor}: set {ENV_VARS[vendor]}, pass --secret-env or "
            f"--secret-file, or give a --config file with a [{vendor}] table"
        )
    return setting


def _yoti_auth_type(setting: VendorSetting) -> str:
    auth_type = str(setting.kwargs.get("auth_type") or "basic").lower()
    if auth_type not in ("basic", "bearer"):
        raise CliError(f"bad yoti auth_type from {setting.source}: use basic or bearer")
    return auth_type


# ------------------------------------------------------------------------------------------------
# Redacted summaries
# ------------------------------------------------------------------------------------------------

_MAX_VALUE = 80


def _render(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value if len(value) <= _MAX_VALUE else value[: _MAX_VALUE - 1] + "…"
    if isinstance(value, Mapping):
        return f"{{{len(value)} fields}}"
    if isinstance(value, (list, tuple)):
        return f"[{len(value)} items]"
    fields = getattr(value, "model_fields_set", None)
    if fields is not None:
        # A nested model: never descend (its own personal fields are not ours to judge here).
        return f"{type(value).__name__} {{{len(fields)} fields}}"
    # Redaction markers and anything else: their repr is safe by construction.
    return repr(value) if repr(value) == "<redacted>" else type(value).__name__


def summary_lines(event: WebhookEvent) -> list[str]:
    """``name: value`` for every field the delivery set, personal and unknown fields shown as
    ``<redacted>`` (the model's own ``repr`` rules), nested objects shown by size only."""
    lines: list[str] = []
    for name, value in event.__repr_args__():
        if name in (None, "vendor", "event_type"):
            continue
        lines.append(f"{name}: {_render(value)}")
    return lines


# ------------------------------------------------------------------------------------------------
# sign
# ------------------------------------------------------------------------------------------------


def _cmd_sign(args: argparse.Namespace) -> int:
    vendor: str = args.vendor
    body = _read_bytes(args.body, "body")
    setting = _signing_setting(args, vendor)
    secret = _secret_text(setting, vendor)
    auth_type = _yoti_auth_type(setting) if vendor == "yoti" else "basic"
    try:
        signed_body, headers = testing.sign(
            vendor,
            body,
            secret,
            event_type=args.event_type,
            auth_type="bearer" if auth_type == "bearer" else "basic",
        )
    except kw.UsageError as exc:
        message = exc.message
        if "event_type" in message:
            message = "iDenfy deliveries need --event-type (sent as the Idenfy-Event-Type header)"
        raise CliError(message) from None
    if args.output:
        try:
            Path(args.output).write_bytes(signed_body)
        except OSError as exc:
            raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    if args.json:
        _out(json.dumps(headers, indent=2))
    else:
        for name, value in headers.items():
            _out(f"{name}: {value}")
    if signed_body != body and not args.output:
        _err(
            f"note: {vendor} carries the key inside the body; the signed body differs from "
            f"{args.body} -- write it with --output FILE"
        )
    return EXIT_OK


# ------------------------------------------------------------------------------------------------
# verify
# ------------------------------------------------------------------------------------------------


def _parse_header_line(line: str, where: str) -> tuple[str, str]:
    name, sep, value = line.partition(":")
    if not sep or not name.strip() or name != name.strip():
        raise CliError(f"{where}: expected 'Name: value'")
    return name.strip(), value.strip()


#: ``POST /hook HTTP/1.1`` (a request line) or ``HTTP/1.1 200 OK`` (a status line).
_START_LINE = re.compile(r"(?:[A-Z]+ +\S+ +HTTP/\d|HTTP/\d)")
#: A request line as `curl -v` prints it: ``> POST /hook HTTP/1.1``.
_CURL_REQUEST_LINE = re.compile(r"> [A-Z]+ +\S+ +HTTP/\d")


def _read_headers(path: str) -> list[tuple[str, str]]:
    raw = _read_bytes(path, "headers")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(stripped)
        except ValueError:
            raise CliError(f"headers file {path} is not valid JSON") from None
        pairs = list(data.items()) if isinstance(data, dict) else data
        out: list[tuple[str, str]] = []
        for pair in pairs:
            if (
                not isinstance(pair, (list, tuple))
                or len(pair) != 2
                or not all(isinstance(part, str) for part in pair)
            ):
                raise CliError(
                    f"headers file {path}: expected an object of strings or [name, value] pairs"
                )
            out.append((pair[0], pair[1]))
        return out
    lines = list(enumerate(text.splitlines(), start=1))
    if any(_CURL_REQUEST_LINE.match(line) for _, line in lines):
        # A `curl -v` trace: the request's lines carry a "> " prefix (a lone ">" ends them);
        # "* " notes, "< " response lines and anything else are not the request's headers.
        lines = [(n, line[2:]) for n, line in lines if line.startswith("> ") or line == ">"]
    out = []
    seen_line = False
    for number, line in lines:
        if not line.strip():
            if out:
                break  # the blank line that ends an HTTP header block
            continue
        first, seen_line = not seen_line, True
        if first and _START_LINE.match(line):
            continue  # a request or status line (curl -v / -D output, an HTTP capture)
        out.append(_parse_header_line(line, f"headers file {path} line {number}"))
    return out


def _cmd_verify(args: argparse.Namespace) -> int:
    body = _read_bytes(args.body, "body")
    headers: list[tuple[str, str]] = []
    if args.headers:
        headers.extend(_read_headers(args.headers))
    for number, item in enumerate(args.header or (), start=1):
        headers.extend([_parse_header_line(item, f"-H option #{number}")])
    if args.vendor and _has_single_secret(args):
        single = _single_secret(args, args.vendor)
        assert single is not None
        settings = {args.vendor: single}
    else:
        if _has_single_secret(args):
            raise CliError("--secret, --secret-env and --secret-file need --vendor")
        settings = _vendor_settings(args)
        if args.vendor:
            settings = {k: v for k, v in settings.items() if k == args.vendor}
    if not settings:
        wanted = [args.vendor] if args.vendor else list(VENDORS)
        raise CliError(
            "no credentials to verify with: set "
            + " / ".join(ENV_VARS[v] for v in wanted)
            + ", pass --config FILE, or --vendor with --secret-env/--secret-file"
        )
    receiver = kw.Receiver(*(_build_vendor(name, s) for name, s in settings.items()))
    try:
        event = receiver.parse(body, headers, vendor=args.vendor)
    except kw.DeliveryError as exc:
        vendor = exc.vendor or args.vendor or "?"
        authentic = not isinstance(exc, kw.AuthenticationError) and exc.vendor is not None
        verdict = "authentic but invalid" if authentic else "NOT authentic"
        _err(
            f"{verdict}: vendor={vendor} status={exc.status_code} "
            f"error={type(exc).__name__}: {exc.message}"
        )
        return EXIT_FAILED
    try:
        event.validate_lazy_fields()  # a diagnostic: check the sections handle() defers too
    except kw.PayloadError as exc:
        _err(
            f"authentic but invalid: vendor={event.vendor} error=PayloadError: {exc.message} "
            "(a lazy section: handle() answers 200; reading it in a handler raises)"
        )
        return EXIT_FAILED
    _out(f"authentic: vendor={event.vendor} event_type={event.event_type}")
    _out(f"model: {type(event).__module__}.{type(event).__qualname__}")
    _out(f"delivery_key: {event.delivery_key}")
    lines = summary_lines(event)
    if lines:
        _out("fields (personal data redacted):")
        for line in lines:
            _out(f"  {line}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------
# send (HTTP client, stdlib only)
# ------------------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    reason: str
    body: dict[str, Any]


def _is_loopback(host: str) -> bool:
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
    if _is_loopback(urllib.parse.urlsplit(url).hostname or ""):
        # Never route loopback traffic through an HTTP(S)_PROXY from the environment.
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def _check_url(url: str) -> str:
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
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310 -- scheme checked in _check_url
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
    except ValueError:  # UnicodeError included: a URL that _check_url let through by mistake
        raise CliError(f"cannot send to {url!r}: the HTTP client refused the URL") from None
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        parsed = {}
    return Response(status, reason, parsed if isinstance(parsed, dict) else {})


def _describe(response: Response) -> str:
    text = f"{response.status} {response.reason}".strip()
    if response.body.get("duplicate"):
        text += " (duplicate)"
    elif not 200 <= response.status < 300 and response.body.get("error"):
        text += f" ({response.body['error']}: {response.body.get('detail', '')})"
    return text


def _parse_set(items: Sequence[str] | None) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for item in items or ():
        path, sep, raw = item.partition("=")
        if not sep or not path:
            raise CliError(f"--set expects PATH=VALUE, got {item!r}")
        try:
            overrides[path] = json.loads(raw)
        except ValueError:
            overrides[path] = raw  # not JSON: a plain string
    return overrides


def _event_list(vendor: str, wanted: Sequence[str] | None) -> list[str]:
    available = testing.event_types(vendor)
    if not wanted:
        return list(available)
    for name in wanted:
        if name not in available:
            raise CliError(
                f"no {vendor} sample for event type {name!r}; available: {', '.join(available)}"
            )
    return list(wanted)


def _cmd_send(args: argparse.Namespace) -> int:
    url = _check_url(args.to)
    if args.count < 1 or args.count > 100_000:
        raise CliError("--count must be between 1 and 100000")
    vendors = list(VENDORS) if args.vendor == "all" else [args.vendor]
    if args.vendor == "all" and args.event:
        raise CliError("--event needs a single --vendor")
    if args.vendor == "all" and _has_single_secret(args):
        raise CliError("--secret, --secret-env and --secret-file need a single --vendor")
    overrides = _parse_set(args.set)
    plan: list[tuple[str, str, testing.Delivery]] = []
    for vendor in vendors:
        setting = _signing_setting(args, vendor)
        secret = _secret_text(setting, vendor)
        auth_type = _yoti_auth_type(setting) if vendor == "yoti" else "basic"
        for event_type in _event_list(vendor, args.event):
            try:
                # --set may add any field (set_path creates it; sample_payload would refuse a
                # name the sample lacks), and no --set path (auth_type=..., say) can collide
                # with a keyword of the signing call.
                payload = testing.sample_payload(vendor, event_type)
                for path, value in overrides.items():
                    testing.set_path(payload, path, value)
                delivery = testing.Delivery(
                    *testing.sign(
                        vendor,
                        payload,
                        secret,
                        event_type=event_type,
                        auth_type="bearer" if auth_type == "bearer" else "basic",
                    )
                )
            except kw.WebhookError as exc:
                raise CliError(exc.message) from None
            if args.tamper:
                delivery = testing.tamper(delivery)
            plan.append((vendor, event_type, delivery))
    total = len(plan) * args.count
    width = len(str(total))
    failed = 0
    number = 0
    for _ in range(args.count):
        for vendor, event_type, (body, headers) in plan:
            number += 1
            target = url.rstrip("/") + f"/{vendor}" if args.vendor_path else url
            response = post(target, body, headers, timeout=args.timeout)
            ok = 200 <= response.status < 300
            failed += 0 if ok else 1
            _out(f"[{number:>{width}}/{total}] {vendor} {event_type} -> {_describe(response)}")
    _out(f"sent {total}: {total - failed} accepted, {failed} refused")
    return EXIT_OK if failed == 0 else EXIT_FAILED


# ------------------------------------------------------------------------------------------------
# serve (ASGI adapter under uvicorn) and the shared in-process server used by demo
# ------------------------------------------------------------------------------------------------


def _require_uvicorn() -> Any:
    try:
        return importlib.import_module("uvicorn")
    except ImportError:
        raise CliError(
            "this command needs uvicorn: pip install uvicorn (the server extra)",
            EXIT_MISSING_DEPENDENCY,
        ) from None


def _bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves: a port in use is a clean one-line error, and port 0
    picks a free port that we can read back."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if sys.platform != "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, 10048):  # 10048: WSAEADDRINUSE (Windows)
            raise CliError(f"port {port} on {host} is already in use", EXIT_UNAVAILABLE) from None
        raise CliError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_UNAVAILABLE
        ) from None
    return sock


def _asgi_app(receiver: Receiver) -> Any:
    from kyc_webhooks.integrations.asgi import WebhookApp

    return WebhookApp(receiver)


def _open_store(path: str) -> SQLiteStore:
    from kyc_webhooks.store import SQLiteStore

    try:
        return SQLiteStore(path)
    except kw.WebhookError as exc:
        raise CliError(f"cannot open inbox {path}: {exc.message}") from None
    except OSError as exc:
        raise CliError(f"cannot open inbox {path}: {exc.strerror or exc}") from None


class _Server:
    """uvicorn running the ASGI adapter on an already bound socket, in the current thread
    (``run``) or a background thread (``start``/``stop``)."""

    def __init__(self, app: Any, sock: socket.socket, *, log_level: str = "warning") -> None:
        uvicorn = _require_uvicorn()
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level=log_level,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self.sock = sock
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def run(self) -> None:
        self.server.run(sockets=[self.sock])

    def _target(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # SystemExit from uvicorn included
            self.error = exc

    def start(self, *, timeout: float = 15.0) -> None:
        self.thread = threading.Thread(target=self._target, name="kyc-webhooks-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise CliError("the local server did not start", EXIT_UNAVAILABLE)
            time.sleep(0.01)

    def stop(self, *, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout)
        with contextlib.suppress(OSError):
            self.sock.close()


@contextlib.contextmanager
def _logging_to_stderr(level: int) -> Iterator[None]:
    """Log lines to stderr while a server runs; the previous logging setup is restored after.

    The library's own per-delivery INFO line is replaced by :class:`_ServeReceiver`'s (which also
    says whether the delivery was a duplicate); its warnings (rejections) and errors stay.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    levels = {"kyc_webhooks": max(level, logging.WARNING), "kyc_webhooks.cli": level}
    levels["uvicorn.error"] = level
    saved = []
    for name, wanted in levels.items():
        log = logging.getLogger(name)
        saved.append((log, log.handlers[:], log.level, log.propagate))
        log.setLevel(wanted)
        if name != "kyc_webhooks.cli":  # the CLI logger propagates to the package's handler
            log.handlers[:] = [handler]
            log.propagate = False
    try:
        yield
    finally:
        for log, handlers, old_level, propagate in saved:
            log.handlers[:] = handlers
            log.setLevel(old_level)
            log.propagate = propagate


class _ServeReceiver(kw.Receiver):
    """The receiver `serve` runs: one log line per authenticated delivery with the vendor, event
    type, status, delivery key, inbox id and whether it was a duplicate -- never a payload value.
    (Refused deliveries are logged by the library itself, as a warning.)"""

    async def handle_async(
        self, body: bytes, headers: Any = None, *, vendor: str | None = None
    ) -> Outcome:
        outcome = await super().handle_async(body, headers, vendor=vendor)
        if outcome.event is not None:
            logger.info(
                "delivery vendor=%s event_type=%s status=%d delivery_key=%s id=%s duplicate=%s",
                outcome.vendor,
                outcome.event_type,
                outcome.status_code,
                outcome.delivery_key,
                outcome.delivery_id or "-",
                "yes" if outcome.duplicate else "no",
            )
        return outcome


def _cmd_serve(args: argparse.Namespace) -> int:
    _require_uvicorn()
    settings = _vendor_settings(args)
    if not settings:
        raise CliError(
            "no vendor configured: set "
            + ", ".join(ENV_VARS.values())
            + " (any of them) or pass --config FILE"
        )
    vendors = [_build_vendor(name, setting) for name, setting in settings.items()]
    path = _config_path(args)
    table: dict[str, Any] = _load_toml(path).get("serve", {}) if path else {}
    for key, kind in (("host", str), ("port", int), ("inbox", str)):
        if key in table and (not isinstance(table[key], kind) or isinstance(table[key], bool)):
            raise CliError(f"config file {path}: [serve] {key} must be a {kind.__name__}")
    host: str = args.host or table.get("host") or LOOPBACK
    port: int = args.port if args.port is not None else table.get("port", DEFAULT_PORT)
    if not 0 <= port <= 65535:
        raise CliError(f"port must be between 0 and 65535, got {port}")
    inbox: str = args.inbox or table.get("inbox") or os.environ.get(INBOX_VAR) or DEFAULT_INBOX
    sock = _bind(host, port)
    try:
        store = _open_store(inbox)
    except CliError:
        sock.close()
        raise
    try:
        server = _Server(_asgi_app(_ServeReceiver(*vendors, store=store)), sock, log_level="info")
        _err(f"{PROG}: receiving on {server.url}/<vendor> (or {server.url}/ to auto-detect)")
        _err(f"{PROG}: vendors {', '.join(settings)}; inbox {inbox}; Ctrl-C stops")
        if not _is_loopback(host):
            _err(f"{PROG}: warning: {host} is not a loopback address; others can reach it")
        # uvicorn shuts down gracefully, then re-raises the Ctrl-C: stopping is success.
        with _logging_to_stderr(logging.INFO), contextlib.suppress(KeyboardInterrupt):
            server.run()
        _err(f"{PROG}: stopped")
    finally:
        with contextlib.suppress(OSError):
            sock.close()
        with contextlib.suppress(Exception):
            store.close()
    return EXIT_OK


# ------------------------------------------------------------------------------------------------
# inbox
# ------------------------------------------------------------------------------------------------


def _inbox_path(args: argparse.Namespace) -> str:
    path: str = args.inbox or os.environ.get(INBOX_VAR) or DEFAULT_INBOX
    if not Path(path).is_file():
        raise CliError(f"no inbox at {path} (start `{PROG} serve` or pass --inbox PATH)")
    return path


_AGE_SECONDS = {"days": 86400.0, "hours": 3600.0, "minutes": 60.0, "seconds": 1.0}
#: The oldest cut-off ``--older-than`` accepts: far beyond any retention period, and well inside
#: the range of :class:`datetime.datetime` (an age of 10 000 years would overflow it).
_MAX_AGE = _dt.timedelta(days=36525)


def _age(text: str) -> _dt.timedelta:
    """``30d``, ``12h``, ``15m``, ``90s`` or a plain number of days."""
    units = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    raw = text.strip().lower()
    unit = units.get(raw[-1:], "")
    number = raw[:-1] if unit else raw
    try:
        value = float(number)
    except ValueError:
        raise CliError(f"bad age {text!r}: use e.g. 30d, 12h, 15m or 90s") from None
    if math.isnan(value):
        raise CliError(f"bad age {text!r}: use e.g. 30d, 12h, 15m or 90s")
    if value < 0:
        raise CliError(f"bad age {text!r}: must not be negative")
    seconds = value * _AGE_SECONDS[unit or "days"]
    if seconds > _MAX_AGE.total_seconds():  # inf and 1e12 included
        raise CliError(f"bad age {text!r}: must be at most {_MAX_AGE.days}d (100 years)")
    return _dt.timedelta(seconds=seconds)


def _when(value: _dt.datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _placeholder_vendor(name: str) -> Vendor:
    # Parsing a stored body needs no credential (it was authenticated when it arrived); the
    # vendor classes insist on one, so a placeholder stands in.
    return _build_vendor(name, VendorSetting({SECRET_PARAMS[name]: "inbox-placeholder"}, "inbox"))


def _stored_event(record: DeliveryRecord) -> WebhookEvent | None:
    if record.body is None or record.vendor not in SECRET_PARAMS:
        return None
    from kyc_webhooks import Headers

    try:
        # No authentication: the store kept this body after authenticating it on arrival.
        module = importlib.import_module(f"kyc_webhooks.{record.vendor}")
        event: WebhookEvent = module.parse_unauthenticated(
            record.body, Headers(list(record.headers))
        )
    except (kw.DeliveryError, kw.ConfigurationError, CliError):
        return None
    return event


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> list[str]:
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]


def _cmd_inbox_list(args: argparse.Namespace, store: SQLiteStore) -> int:
    records = store.deliveries(
        vendor=args.vendor,
        state=args.state,
        event_type=args.event_type,
        limit=args.limit,
        newest_first=True,
    )
    if not records:
        _out("inbox is empty" if not (args.vendor or args.state or args.event_type) else "no match")
        return EXIT_OK
    rows = [
        (
            r.id,
            _when(r.received_at),
            r.vendor,
            r.event_type,
            str(r.state),
            str(r.attempts),
            "erased" if r.body is None else "kept",
        )
        for r in records
    ]
    for line in _table(
        rows, ("ID", "RECEIVED (UTC)", "VENDOR", "EVENT TYPE", "STATE", "TRIES", "BODY")
    ):
        _out(line)
    stats = store.stats()
    _out(f"{len(records)} shown of {stats.get('total', len(records))} stored (newest first)")
    return EXIT_OK


def _get_record(store: SQLiteStore, delivery_id: str) -> DeliveryRecord:
    record = store.get(delivery_id)
    if record is None:
        raise CliError(f"no delivery with id {delivery_id!r} in the inbox")
    return record


def _cmd_inbox_show(args: argparse.Namespace, store: SQLiteStore) -> int:
    record = _get_record(store, args.id)
    if args.body:
        if record.body is None:
            raise CliError(f"the body of {args.id} was erased", EXIT_FAILED)
        sys.stdout.buffer.write(record.body)
        sys.stdout.buffer.flush()
        return EXIT_OK
    _out(f"id: {record.id}")
    _out(f"delivery_key: {record.delivery_key}")
    _out(f"vendor: {record.vendor}")
    _out(f"event_type: {record.event_type}")
    _out(f"state: {record.state}")
    _out(f"received_at: {_when(record.received_at)} UTC")
    _out(f"updated_at: {_when(record.updated_at)} UTC")
    _out(f"attempts: {record.attempts}  replays: {record.replays}")
    if record.last_error_type:
        _out(f"last_error: {record.last_error_type}: {record.last_error_message or ''}")
    if record.body is None:
        _out("body: erased")
        return EXIT_OK
    _out(f"body: {len(record.body)} bytes (print it with --body)")
    _out(f"headers: {', '.join(name for name, _ in record.headers) or '-'}")
    event = _stored_event(record)
    if event is None:
        _out("model: the stored body no longer parses")
        return EXIT_OK
    _out(f"model: {type(event).__module__}.{type(event).__qualname__}")
    lines = summary_lines(event)
    if lines:
        _out("fields (personal data redacted):")
        for line in lines:
            _out(f"  {line}")
    return EXIT_OK


#: Why ``inbox replay`` needs a target: a receiver without the application's handlers would mark
#: the record done without anything having handled it (docs/delivery-guarantees.md).
REPLAY_NEEDS_TARGET = (
    "replay needs --app module:attribute (your Receiver, so that your handlers run here) or "
    "--to URL (POST the delivery to your running application): without your handlers the "
    "delivery would be marked done without being handled; nothing was changed"
)


def _cmd_inbox_replay(args: argparse.Namespace, store: SQLiteStore) -> int:
    if not args.to and not args.app:
        raise CliError(REPLAY_NEEDS_TARGET)
    record = _get_record(store, args.id)
    if record.body is None:
        raise CliError(f"the body of {args.id} was erased; it cannot be replayed", EXIT_FAILED)
    if args.to:
        # Re-sign the stored body with the configured credential and POST it to the application.
        url = _check_url(args.to)
        setting = _signing_setting(args, record.vendor)
        secret = _secret_text(setting, record.vendor)
        auth_type = _yoti_auth_type(setting) if record.vendor == "yoti" else "basic"
        body, headers = testing.sign(
            record.vendor,
            record.body,
            secret,
            event_type=record.event_type,
            auth_type="bearer" if auth_type == "bearer" else "basic",
        )
        response = post(url, body, headers, timeout=args.timeout)
        _out(f"{record.id} {record.vendor} {record.event_type} -> {_describe(response)}")
        return EXIT_OK if 200 <= response.status < 300 else EXIT_FAILED
    return _replay_with_app(args.app, store, record)


def _replay_with_app(spec: str, store: SQLiteStore, record: DeliveryRecord) -> int:
    """Run the application's own handlers (the vendors and router of the Receiver at ``spec``) on
    the stored delivery; the record is ``done`` only if they succeed."""
    from kyc_webhooks._loading import load_receiver

    app = load_receiver(spec)
    vendor = app.vendors.get(record.vendor)
    if vendor is None:
        raise CliError(
            f"the receiver {spec} is not configured for {record.vendor}; nothing was changed"
        )
    receiver = kw.Receiver(vendor, router=app.router, store=store, lease_timeout=app.lease_timeout)
    # A handler's failure is logged by the library (class and frames, never the message).
    with _logging_to_stderr(logging.WARNING):
        if any(route.is_async for route in app.router.routes):
            import asyncio

            outcome = asyncio.run(receiver.replay_async(record.id))
        else:
            outcome = receiver.replay(record.id)
    verdict = (
        f"replayed (handlers run: {outcome.handled})"
        if outcome.ok
        else f"failed ({type(outcome.error).__name__})"
    )
    _out(f"{record.id} {record.vendor} {record.event_type} -> {outcome.status_code} {verdict}")
    return EXIT_OK if outcome.ok else EXIT_FAILED


def _cmd_inbox_purge(args: argparse.Namespace, store: SQLiteStore) -> int:
    if not args.all and args.older_than is None:
        raise CliError("say what to purge: --older-than AGE (e.g. 30d) or --all")
    if args.erase_bodies and args.state is not None:
        # The store erases bodies by age only: honouring --state would need a per-record loop
        # over the whole inbox; silently ignoring it would erase bodies that were meant to stay.
        raise CliError(
            "--state cannot be combined with --erase-bodies: bodies are erased by age only "
            "(--older-than AGE or --all), whatever their state"
        )
    older_than = _dt.timedelta(0) if args.all else _age(args.older_than)
    if args.erase_bodies:
        count = store.erase_bodies(older_than=older_than)
        _out(f"erased the bodies of {count} deliveries (metadata kept)")
        return EXIT_OK
    # A cut-off slightly in the future covers records received in this very second.
    cut: Any = older_than if not args.all else store.now() + _dt.timedelta(seconds=1)
    count = store.purge(older_than=cut, state=args.state)
    _out(f"purged {count} deliveries")
    return EXIT_OK


_INBOX_COMMANDS = {
    "list": _cmd_inbox_list,
    "show": _cmd_inbox_show,
    "replay": _cmd_inbox_replay,
    "purge": _cmd_inbox_purge,
}


def _cmd_inbox(args: argparse.Namespace) -> int:
    path = _inbox_path(args)
    store = _open_store(path)
    try:
        return _INBOX_COMMANDS[args.inbox_command](args, store)
    except kw.WebhookError as exc:
        raise CliError(exc.message) from None
    finally:
        with contextlib.suppress(Exception):
            store.close()


# ------------------------------------------------------------------------------------------------
# demo
# ------------------------------------------------------------------------------------------------


@dataclass
class _DemoStep:
    vendor: str
    label: str
    delivery: testing.Delivery
    expected: str  # handled | duplicate | rejected
    status: int = 0
    result: str = ""


def _result(response: Response) -> str:
    if 200 <= response.status < 300:
        return "duplicate" if response.body.get("duplicate") else "handled"
    return "rejected" if response.status < 500 else "failed"


def _demo_steps(vendors: Sequence[str], secrets: Mapping[str, str]) -> list[_DemoStep]:
    steps = [
        _DemoStep(
            vendor,
            event_type,
            testing.signed_delivery(vendor, event_type, secrets[vendor]),
            "handled",
        )
        for vendor in vendors
        for event_type in testing.event_types(vendor)
    ]
    # An attacker's edit after signing: only vendors that sign the body can notice it.
    signer = next((v for v in ("idenfy", "complycube") if v in vendors), None)
    if signer is not None:
        first = next(step for step in steps if step.vendor == signer)
        steps.append(
            _DemoStep(
                signer,
                f"{first.label} (body changed after signing)",
                testing.tamper(first.delivery),
                "rejected",
            )
        )
    else:
        first = steps[0]
        wrong = dict(secrets)
        wrong[first.vendor] = wrong[first.vendor] + "-wrong"
        steps.append(
            _DemoStep(
                first.vendor,
                f"{first.label} (wrong credential)",
                testing.signed_delivery(first.vendor, first.label, wrong[first.vendor]),
                "rejected",
            )
        )
    # A vendor's retry: the very same bytes again must not run the handlers twice.
    again = steps[0]
    steps.append(
        _DemoStep(again.vendor, f"{again.label} (sent again)", again.delivery, "duplicate")
    )
    return steps


def _cmd_demo(args: argparse.Namespace) -> int:
    _require_uvicorn()
    started = time.monotonic()
    vendors = [v for v in VENDORS if not args.vendor or v in args.vendor]
    secrets = testing.generate_secrets()
    with tempfile.TemporaryDirectory(prefix="kyc-webhooks-demo-") as tmp:
        path = args.keep_inbox or str(Path(tmp) / "inbox.sqlite3")
        if args.keep_inbox and Path(path).exists():
            raise CliError(f"{path} exists already; pick a new --keep-inbox path")
        store = _open_store(path)
        try:
            return _run_demo(args, vendors, secrets, store, path, started)
        finally:
            with contextlib.suppress(Exception):
                store.close()


def _run_demo(
    args: argparse.Namespace,
    vendors: Sequence[str],
    secrets: Mapping[str, str],
    store: SQLiteStore,
    path: str,
    started: float,
) -> int:
    receiver = kw.Receiver(*testing.make_vendors({v: secrets[v] for v in vendors}), store=store)
    runs: dict[str, int] = {}
    lock = threading.Lock()

    @receiver.on("*", "*")
    def count(event: WebhookEvent) -> None:
        with lock:
            runs[event.delivery_key] = runs.get(event.delivery_key, 0) + 1

    steps = _demo_steps(vendors, secrets)
    sock = _bind(LOOPBACK, 0)
    server = _Server(_asgi_app(receiver), sock)
    # The table below tells the story: no log lines (the tampered delivery's warning included).
    with _logging_to_stderr(logging.CRITICAL):
        server.start()
        try:
            base = server.url
            _out(f"{PROG} demo: receiver on {base}/<vendor> (ASGI adapter under uvicorn)")
            _out(f"  vendors: {', '.join(vendors)} with throwaway secrets; inbox: {path}")
            _out("")
            for step in steps:
                response = post(f"{base}/{step.vendor}", *step.delivery, timeout=args.timeout)
                step.status, step.result = response.status, _result(response)
        finally:
            server.stop()
    rows = [
        (
            step.vendor,
            step.label,
            str(step.status),
            step.result,
            "ok" if step.result == step.expected else f"UNEXPECTED (wanted {step.expected})",
        )
        for step in steps
    ]
    for line in _table(rows, ("VENDOR", "EVENT TYPE", "HTTP", "OUTCOME", "CHECK")):
        _out(line)
    _out("")
    problems = [step for step in steps if step.result != step.expected]
    stats = store.stats()
    per_vendor = {v: len(store.deliveries(vendor=v, limit=10_000)) for v in vendors}
    distinct = sum(1 for step in steps if step.expected == "handled")
    _out(
        f"inbox: {stats.get('total', 0)} deliveries stored ("
        + ", ".join(f"{k} {v}" for k, v in stats.items() if k != "total" and v)
        + "); "
        + ", ".join(f"{v} {n}" for v, n in per_vendor.items())
    )
    twice = sorted(key for key, n in runs.items() if n != 1)
    _out(
        f"handlers: ran {sum(runs.values())} times for {len(runs)} distinct deliveries"
        + ("; none twice" if not twice else f"; {len(twice)} ran more than once")
    )
    checks_ok = (
        not problems and not twice and len(runs) == distinct and stats.get("total", 0) == distinct
    )
    elapsed = time.monotonic() - started
    if checks_ok:
        _out(f"demo passed: {len(steps)} deliveries, every outcome as expected ({elapsed:.1f} s)")
        return EXIT_OK
    _out(
        f"demo FAILED: {len(problems)} unexpected outcomes; "
        f"{distinct} distinct deliveries sent, {len(runs)} handled, "
        f"{stats.get('total', 0)} stored"
    )
    return EXIT_FAILED


# ------------------------------------------------------------------------------------------------
# Argument parser
# ------------------------------------------------------------------------------------------------

#: The longest --timeout: a socket timeout must fit the platform's time_t (1e12 s does not).
_MAX_TIMEOUT = 86400.0

_EPILOG_EXIT = """\
exit codes: 0 success, 1 check failed, 2 usage/configuration error, 3 network error,
            4 optional dependency missing, 130 interrupted"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=100)


def _seconds(text: str) -> float:
    """argparse ``type=`` for ``--timeout``: a finite number of seconds, above 0, at most a day."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= _MAX_TIMEOUT):
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds above 0 and at most {_MAX_TIMEOUT:g}, got {text!r}"
        )
    return value


def _add_secret_options(parser: argparse.ArgumentParser, *, yoti: bool = True) -> None:
    group = parser.add_argument_group(
        "credentials",
        "Default: the vendor's environment variable (IDENFY_SIGNING_KEY, COMPLYCUBE_SECRET, "
        "YOTI_AUTH_TOKEN + YOTI_AUTH_TYPE, IDENTOMAT_API_KEY) or the --config file.",
    )
    group.add_argument(
        "--config", metavar="FILE", help=f"TOML file with vendor tables (or ${CONFIG_VAR})"
    )
    group.add_argument(
        "--secret-env", metavar="VAR", help="read the secret from environment variable VAR"
    )
    group.add_argument(
        "--secret-file", metavar="FILE", help="read the secret from FILE (first line)"
    )
    group.add_argument(
        "--secret",
        metavar="VALUE",
        help="the secret itself (visible in the process list and shell history; prefer the others)",
    )
    if yoti:
        group.add_argument(
            "--auth-type",
            choices=("basic", "bearer"),
            help="Yoti Authorization scheme (default: $YOTI_AUTH_TYPE or basic)",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        formatter_class=_Formatter,
        description=(
            "Receive, check and replay KYC webhooks from iDenfy, ComplyCube, Yoti and Identomat."
        ),
        epilog=f"""\
examples:
  {PROG} demo                                  # everything end to end, in a few seconds
  {PROG} verify body.json --headers headers.txt
  {PROG} serve --port 8000
  {PROG} send --vendor idenfy --to http://127.0.0.1:8000/idenfy
  {PROG} inbox list

{_EPILOG_EXIT}""",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {kw.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    # sign -----------------------------------------------------------------------------------
    sign = commands.add_parser(
        "sign",
        formatter_class=_Formatter,
        help="sign a body file as a vendor would and print the headers",
        description="Sign BODY exactly as VENDOR does and print the headers to send with it.",
        epilog=f"""\
examples:
  IDENFY_SIGNING_KEY=... {PROG} sign idenfy body.json --event-type IDENTIFICATION_AUTO_FINISHED
  {PROG} sign complycube body.json --secret-file ./complycube.secret --json
  {PROG} sign identomat body.json --output signed.json   # Identomat puts the key in the body

{_EPILOG_EXIT}""",
    )
    sign.add_argument("vendor", choices=VENDORS, metavar="VENDOR", help=", ".join(VENDORS))
    sign.add_argument(
        "body", metavar="BODY", help="body file ('-' for stdin), signed byte for byte"
    )
    sign.add_argument("--event-type", help="iDenfy: the Idenfy-Event-Type header value")
    sign.add_argument("--output", "-o", metavar="FILE", help="write the exact signed body to FILE")
    sign.add_argument("--json", action="store_true", help="print the headers as a JSON object")
    _add_secret_options(sign)
    sign.set_defaults(func=_cmd_sign)

    # verify ---------------------------------------------------------------------------------
    verify = commands.add_parser(
        "verify",
        formatter_class=_Formatter,
        help="check a captured request against a secret",
        description=(
            "Authenticate a captured request (raw body + headers) and parse it. Prints the vendor, "
            "event type, model and a summary with personal data redacted; exit 0 when authentic, "
            "1 with the reason when not."
        ),
        epilog=f"""\
examples:
  {PROG} verify body.json --headers headers.txt        # JSON object or 'Name: value' lines
  {PROG} verify body.json -H 'Idenfy-Event-Type: IDENTIFICATION_AUTO_FINISHED' \\
        -H 'Idenfy-Signature: 5f1c...' --vendor idenfy --secret-env IDENFY_KEY
  {PROG} verify body.json --headers headers.json --config kyc-webhooks.toml

{_EPILOG_EXIT}""",
    )
    verify.add_argument("body", metavar="BODY", help="the raw body file ('-' for stdin)")
    verify.add_argument(
        "--headers",
        metavar="FILE",
        help="headers: a JSON object, 'Name: value' lines, or a `curl -v` trace",
    )
    verify.add_argument(
        "-H", "--header", action="append", metavar="'NAME: VALUE'", help="a header (repeatable)"
    )
    verify.add_argument("--vendor", choices=VENDORS, help="pin the vendor (default: detect it)")
    _add_secret_options(verify)
    verify.set_defaults(func=_cmd_verify)

    # send -----------------------------------------------------------------------------------
    send = commands.add_parser(
        "send",
        formatter_class=_Formatter,
        help="post signed sample deliveries to a receiver",
        description=(
            "POST signed sample payloads to a receiver and print each response status. "
            "Without --event, every documented event type of the vendor is sent."
        ),
        epilog=f"""\
examples:
  {PROG} send --vendor idenfy --event IDENTIFICATION_AUTO_FINISHED --to http://127.0.0.1:8000/idenfy
  {PROG} send --vendor complycube --to http://127.0.0.1:8000/complycube --count 50
  {PROG} send --vendor all --to http://127.0.0.1:8000 --vendor-path
  {PROG} send --vendor identomat --event session-change --set result=REJECTED --to URL
  {PROG} send --vendor complycube --tamper --to URL        # must be refused (401)

{_EPILOG_EXIT}""",
    )
    send.add_argument("--vendor", required=True, choices=(*VENDORS, "all"), help="vendor, or 'all'")
    send.add_argument("--event", action="append", metavar="TYPE", help="event type (repeatable)")
    send.add_argument("--to", required=True, metavar="URL", help="the receiver's URL")
    send.add_argument(
        "--vendor-path", action="store_true", help="append /<vendor> to URL for each delivery"
    )
    send.add_argument("--count", type=int, default=1, metavar="N", help="send everything N times")
    send.add_argument(
        "--set",
        action="append",
        metavar="PATH=VALUE",
        help="override a payload field (JSON value; nested with '.' or '__'), repeatable",
    )
    send.add_argument("--tamper", action="store_true", help="change the body after signing")
    send.add_argument(
        "--timeout", type=_seconds, default=10.0, metavar="S", help="per request (10)"
    )
    _add_secret_options(send)
    send.set_defaults(func=_cmd_send)

    # serve ----------------------------------------------------------------------------------
    serve = commands.add_parser(
        "serve",
        formatter_class=_Formatter,
        help="run a local receiver that stores every authenticated delivery",
        description=(
            "Run a receiver for every configured vendor (ASGI adapter under uvicorn; needs the "
            "'server' extra). Every authenticated delivery is stored in a SQLite inbox; one log "
            "line per delivery, no personal data."
        ),
        epilog=f"""\
examples:
  IDENFY_SIGNING_KEY=... COMPLYCUBE_SECRET=... {PROG} serve
  {PROG} serve --config kyc-webhooks.toml --port 9000 --inbox /tmp/inbox.sqlite3

config file (TOML; every table optional, lists of secrets allowed for rotation):
  [idenfy]
  signing_key = "..."
  [complycube]
  secret = "..."
  [yoti]
  auth_token = "user:password"
  auth_type = "basic"
  [identomat]
  api_key = "..."
  [serve]
  port = 8000
  inbox = "kyc-webhooks-inbox.sqlite3"

{_EPILOG_EXIT}""",
    )
    serve.add_argument("--host", help=f"address to listen on (default {LOOPBACK})")
    serve.add_argument(
        "--port", type=int, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)"
    )
    serve.add_argument(
        "--inbox", metavar="PATH", help=f"SQLite inbox (default ${INBOX_VAR} or ./{DEFAULT_INBOX})"
    )
    serve.add_argument("--config", metavar="FILE", help=f"TOML configuration (or ${CONFIG_VAR})")
    serve.set_defaults(func=_cmd_serve)

    _add_inbox_parser(commands)
    _add_demo_parser(commands)
    return parser


def _add_inbox_parser(commands: Any) -> None:
    inbox = commands.add_parser(
        "inbox",
        formatter_class=_Formatter,
        help="list, show, replay and purge stored deliveries",
        description="Read and manage the SQLite inbox that `serve` fills.",
        epilog=f"""\
examples:
  {PROG} inbox list --vendor idenfy --limit 20
  {PROG} inbox show 3f2a9c...                 # metadata + redacted fields
  {PROG} inbox show 3f2a9c... --body > body.json
  {PROG} inbox replay 3f2a9c... --app myapp.webhooks:receiver   # your handlers, here
  {PROG} inbox replay 3f2a9c... --to http://127.0.0.1:5000/webhooks/idenfy
  {PROG} inbox purge --older-than 30d

{_EPILOG_EXIT}""",
    )
    inbox.add_argument(
        "--inbox", metavar="PATH", help=f"SQLite inbox (default ${INBOX_VAR} or ./{DEFAULT_INBOX})"
    )
    sub = inbox.add_subparsers(dest="inbox_command", metavar="ACTION", required=True)
    states = ("pending", "processing", "done", "failed")

    listing = sub.add_parser(
        "list", formatter_class=_Formatter, help="stored deliveries, newest first"
    )
    listing.add_argument("--vendor", choices=VENDORS)
    listing.add_argument("--event-type", metavar="TYPE")
    listing.add_argument("--state", choices=states)
    listing.add_argument("--limit", type=int, default=50, metavar="N", help="at most N rows (50)")

    show = sub.add_parser(
        "show", formatter_class=_Formatter, help="one delivery, personal data redacted"
    )
    show.add_argument("id", metavar="ID")
    show.add_argument("--body", action="store_true", help="print the raw stored body instead")

    replay = sub.add_parser(
        "replay",
        formatter_class=_Formatter,
        help="run a stored delivery again, through your handlers",
        description=(
            "Replay a stored delivery through your application's handlers: with --app, import "
            "your Receiver ('package.module:attribute', from the current directory) and run its "
            "handlers here, recording the result in the inbox; with --to, re-sign the body with "
            "the configured credential and POST it to your running application. One of the two "
            "is required: a replay without your handlers would mark the delivery done unhandled."
        ),
    )
    replay.add_argument("id", metavar="ID")
    target = replay.add_mutually_exclusive_group()
    target.add_argument(
        "--app",
        metavar="MODULE:ATTR",
        help="your Receiver, e.g. myapp.webhooks:receiver: run its handlers on the delivery",
    )
    target.add_argument("--to", metavar="URL", help="POST the re-signed delivery to URL")
    replay.add_argument(
        "--timeout", type=_seconds, default=10.0, metavar="S", help="with --to: per request (10)"
    )
    _add_secret_options(replay)

    purge = sub.add_parser("purge", formatter_class=_Formatter, help="delete old deliveries")
    purge.add_argument("--older-than", metavar="AGE", help="received before AGE ago: 30d, 12h, 15m")
    purge.add_argument("--all", action="store_true", help="every delivery")
    purge.add_argument("--state", choices=states, help="only deliveries in this state")
    purge.add_argument(
        "--erase-bodies",
        action="store_true",
        help="erase the bodies (personal data) only, keeping the metadata (not with --state)",
    )
    for parser in (listing, show, replay, purge):
        # Also accepted after the action; SUPPRESS keeps a value given before it.
        parser.add_argument(
            "--inbox", metavar="PATH", default=argparse.SUPPRESS, help="SQLite inbox"
        )
    for parser in (inbox, listing, show, replay, purge):
        parser.set_defaults(func=_cmd_inbox)


def _add_demo_parser(commands: Any) -> None:
    demo = commands.add_parser(
        "demo",
        formatter_class=_Formatter,
        help="run a receiver and send it every sample: the whole library in seconds",
        description=(
            "Start the receiver (ASGI adapter under uvicorn) on a free loopback port with "
            "throwaway secrets and a temporary SQLite inbox; send a signed sample of every "
            "event type of every vendor, a tampered delivery and a duplicate; print what "
            "happened to each; shut down. Exit 0 only when every outcome is the expected one."
        ),
        epilog=f"""\
examples:
  {PROG} demo
  {PROG} demo --vendor yoti --vendor identomat
  {PROG} demo --keep-inbox ./demo-inbox.sqlite3 && {PROG} inbox --inbox ./demo-inbox.sqlite3 list

{_EPILOG_EXIT}""",
    )
    demo.add_argument("--vendor", action="append", choices=VENDORS, help="only these vendors")
    demo.add_argument(
        "--keep-inbox", metavar="PATH", help="write the inbox to PATH instead of a temporary file"
    )
    demo.add_argument(
        "--timeout", type=_seconds, default=10.0, metavar="S", help="per request (10)"
    )
    demo.set_defaults(func=_cmd_demo)


# ------------------------------------------------------------------------------------------------
# Entry point
# ------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors (argparse prints them)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        code: int = args.func(args)
    except CliError as exc:
        _err(f"{PROG}: error: {exc.message}")
        return exc.code
    except kw.WebhookError as exc:
        _err(f"{PROG}: error: {exc.message}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err(f"{PROG}: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `kyc-webhooks inbox list | head`: the reader went away; not an error.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- replaces a closed stdout
        return EXIT_OK
    return code
