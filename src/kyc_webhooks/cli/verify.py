"""``kyc-webhooks verify``: authenticate a captured request (raw body + headers) and parse it."""

from __future__ import annotations

import argparse
import codecs
import contextlib
import json
import os
import re
import stat

import kyc_webhooks as kw

from . import _credentials as creds
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    PROG,
    CliError,
    add_output_options,
    emit_json,
    epilog,
    err,
    out,
    print_fields,
    read_bytes,
    shown,
    summary_fields,
)


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Authenticate a captured request (raw body + headers) and parse it. Prints the vendor, "
        "event type, model and a summary with personal data redacted; exit 0 when authentic, "
        "1 with the reason when not, or when the body is over --max-body-size (then it is not "
        "checked: a receiver with that limit answers 413 without reading it)."
    )
    parser.epilog = epilog(
        f"{PROG} verify body.json --headers headers.txt   # JSON object or 'Name: value' lines",
        f"{PROG} verify body.json -H 'Idenfy-Event-Type: IDENTIFICATION' \\",
        "      -H 'Idenfy-Signature: 5f1c...' --vendor idenfy --secret-env IDENFY_KEY",
        f"{PROG} verify body.json --headers headers.json --config kyc-webhooks.toml --json",
    )
    parser.add_argument("body", metavar="BODY", help="the raw body file ('-' for stdin)")
    parser.add_argument(
        "--headers",
        metavar="FILE",
        help="headers: a JSON object, 'Name: value' lines, or a `curl -v` trace",
    )
    parser.add_argument(
        "-H", "--header", action="append", metavar="'NAME: VALUE'", help="a header (repeatable)"
    )
    parser.add_argument(
        "--vendor", choices=creds.vendor_names(), help="pin the vendor (default: detect it)"
    )
    parser.add_argument(
        "--max-body-size",
        type=int,
        default=kw.DEFAULT_MAX_BODY_SIZE,
        metavar="BYTES",
        help=f"the receiver's max_body_size ({kw.DEFAULT_MAX_BODY_SIZE})",
    )
    add_output_options(parser)
    creds.add_secret_options(parser)


#: What surrounds a header value and is not part of it: spaces and tabs only, as the receiver
#: reads it (a no-break space before a signature is a 401 there, and was "authentic" here).
_OWS = " \t"


def _parse_header_line(line: str, where: str) -> tuple[str, str]:
    name, sep, value = line.partition(":")
    if not sep or not name.strip(_OWS) or name != name.strip(_OWS):
        raise CliError(f"{where}: expected 'Name: value'")
    return name, value.strip(_OWS)


#: ``POST /hook HTTP/1.1`` (a request line) or ``HTTP/1.1 200 OK`` (a status line).
_START_LINE = re.compile(r"(?:[A-Z]+ +\S+ +HTTP/\d|HTTP/\d)")
#: A request line as `curl -v` prints it: ``> POST /hook HTTP/1.1``.
_CURL_REQUEST_LINE = re.compile(r"> [A-Z]+ +\S+ +HTTP/\d")


#: Byte order marks and the codec that reads past them; UTF-32 first (its little-endian BOM
#: starts with UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _decode_headers(raw: bytes, path: str) -> str:
    """The headers file as text: by its byte order mark (Notepad's UTF-8 BOM, PowerShell's
    UTF-16), else UTF-8, else Latin-1 (any bytes; what HTTP header values are on the wire).
    Only the headers file: the body is checked byte for byte as it was signed."""
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(codec)
            except UnicodeDecodeError:
                name = codec.removesuffix("-sig").upper()
                raise CliError(
                    f"headers file {path} starts with a {name} BOM but is not valid {name}"
                ) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _read_headers(path: str) -> list[tuple[str, str]]:
    text = _decode_headers(read_bytes(path, "headers"), path)
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(stripped)
        except (ValueError, RecursionError):
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
    # Lines end at LF (or CRLF) only, as in HTTP: splitlines() also cut a value at NEL (byte
    # 0x85 read as Latin-1), VT, FF and U+2028 (review R39).
    lines = [(n, line.removesuffix("\r")) for n, line in enumerate(text.split("\n"), start=1)]
    if any(_CURL_REQUEST_LINE.match(line) for _, line in lines):
        # A `curl -v` trace: the request's lines carry a "> " prefix (a lone ">" ends them);
        # "* " notes, "< " response lines and anything else are not the request's headers.
        lines = [(n, line[2:]) for n, line in lines if line.startswith("> ") or line == ">"]
    out = []
    seen_line = False
    for number, line in lines:
        if not line.strip(_OWS):
            if out:
                break  # the blank line that ends an HTTP header block
            continue
        first, seen_line = not seen_line, True
        if first and _START_LINE.match(line):
            continue  # a request or status line (curl -v / -D output, an HTTP capture)
        out.append(_parse_header_line(line, f"headers file {path} line {number}"))
    return out


def _size(path: str) -> int | None:
    """The size of the body file, read only up to ``--max-body-size`` (plus one byte) when it is
    over it; ``None`` when it cannot be known (stdin, a pipe, ``/dev/zero``)."""
    with contextlib.suppress(OSError):
        info = os.stat(path)
        if stat.S_ISREG(info.st_mode):
            return info.st_size
    return None


def run(args: argparse.Namespace) -> int:
    if args.max_body_size < 1:
        raise CliError("--max-body-size must be at least 1")
    if args.body == "-" and args.headers == "-":
        # The body read stdin to its end: the headers were empty, and the request "NOT
        # authentic" (exit 1) instead of a usage error.
        raise CliError("the body and --headers cannot both be read from stdin (-)")
    body = read_bytes(args.body, "body", limit=args.max_body_size)
    headers: list[tuple[str, str]] = []
    if args.headers:
        headers.extend(_read_headers(args.headers))
    for number, item in enumerate(args.header or (), start=1):
        headers.append(_parse_header_line(item, f"-H option #{number}"))
    if args.vendor and creds.has_single_secret(args):
        single = creds.single_secret(args, args.vendor)
        assert single is not None
        settings = {args.vendor: single}
    else:
        if creds.has_single_secret(args):
            raise CliError("--secret, --secret-env and --secret-file need --vendor")
        settings = {
            name: creds.apply_options(args, setting)
            for name, setting in creds.vendor_settings(args).items()
            if not args.vendor or name == args.vendor
        }
    if not settings:
        wanted = [args.vendor] if args.vendor else list(creds.vendor_names())
        raise CliError(
            "no credentials to verify with: set "
            + " / ".join(creds.vendor_class(v).credential_env for v in wanted)
            + ", pass --config FILE, or --vendor with --secret-env/--secret-file"
        )
    receiver = kw.Receiver(
        *(creds.build_vendor(s) for s in settings.values()), max_body_size=args.max_body_size
    )
    try:
        event = receiver.parse(body, headers, vendor=args.vendor)
    except kw.PayloadTooLargeError as exc:
        # The size cap comes before authentication: nothing was checked, nothing is known. The
        # body was read up to the cap (plus a byte): its size is the file's, where there is one.
        size = _size(args.body) if args.body != "-" else None
        limit = f"over the {args.max_body_size}-byte limit"
        err(
            f"too large, not checked: status={exc.status_code} error=PayloadTooLargeError: "
            + (f"body is {size} bytes, {limit}" if size else f"body is {limit}")
            + " (a receiver with this max_body_size refuses it unread; "
            + (f"pass --max-body-size {size}" if size else "pass a larger --max-body-size")
            + " to check it)"
        )
        if args.json:
            emit_json(
                {
                    "authentic": None,
                    "valid": False,
                    "vendor": args.vendor or "?",
                    "status": exc.status_code,
                    "error": "PayloadTooLargeError",
                }
            )
        return EXIT_FAILED
    except kw.DeliveryError as exc:
        vendor = exc.vendor or args.vendor or "?"
        authentic = not isinstance(exc, kw.AuthenticationError) and exc.vendor is not None
        verdict = "authentic but invalid" if authentic else "NOT authentic"
        err(
            f"{verdict}: vendor={vendor} status={exc.status_code} "
            f"error={type(exc).__name__}: {exc.message}"
        )
        if args.json:
            emit_json(
                {
                    "authentic": authentic,
                    "valid": False,
                    "vendor": vendor,
                    "status": exc.status_code,
                    "error": type(exc).__name__,
                }
            )
        return EXIT_FAILED
    try:
        event.validate_sections()  # a diagnostic: check the sections handle() defers too
    except kw.PayloadError as exc:
        err(
            f"authentic but invalid: vendor={event.vendor} error=PayloadError: {exc.message} "
            "(a section: handle() answers 200; reading it in a handler raises)"
        )
        if args.json:
            emit_json(
                {
                    "authentic": True,
                    "valid": False,
                    "vendor": event.vendor,
                    "status": 200,
                    "error": "PayloadError",
                }
            )
        return EXIT_FAILED
    model = f"{type(event).__module__}.{type(event).__qualname__}"
    if args.json:
        emit_json(
            {
                "authentic": True,
                "valid": True,
                "vendor": event.vendor,
                "event_type": event.event_type,
                "model": model,
                "delivery_key": event.delivery_key,
                "fields": summary_fields(event),
            }
        )
        return EXIT_OK
    out(f"authentic: vendor={event.vendor} event_type={shown(event.event_type)}")
    if args.quiet:
        return EXIT_OK
    out(f"model: {model}")
    out(f"delivery_key: {shown(event.delivery_key)}")
    print_fields(event)
    return EXIT_OK
