"""``kyc-webhooks sign``: sign a body file exactly as a vendor does and print the headers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import _credentials as creds
from ._common import EXIT_OK, PROG, CliError, epilog, err, out, read_bytes


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = "Sign BODY exactly as VENDOR does and print the headers to send with it."
    parser.epilog = epilog(
        f"IDENFY_SIGNING_KEY=... {PROG} sign idenfy body.json --event-type IDENTIFICATION",
        f"{PROG} sign complycube body.json --secret-file ./complycube.secret --json",
        f"{PROG} sign identomat body.json --output signed.json   # the key goes in the body",
    )
    names = creds.vendor_names()
    parser.add_argument("vendor", choices=names, metavar="VENDOR", help=", ".join(names))
    parser.add_argument(
        "body", metavar="BODY", help="body file ('-' for stdin), signed byte for byte"
    )
    parser.add_argument("--event-type", help="the event type, for vendors that send it in a header")
    parser.add_argument(
        "--output", "-o", metavar="FILE", help="write the exact signed body to FILE"
    )
    parser.add_argument("--json", action="store_true", help="print the headers as a JSON object")
    creds.add_secret_options(parser)


def run(args: argparse.Namespace) -> int:
    vendor: str = args.vendor
    body = read_bytes(args.body, "body")
    setting = creds.signing_setting(args, vendor)
    signed_body, headers = creds.sign(setting, body, event_type=args.event_type)
    if args.output:
        try:
            Path(args.output).write_bytes(signed_body)
        except OSError as exc:
            raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    if args.json:
        out(json.dumps(headers, indent=2))
    else:
        for name, value in headers.items():
            out(f"{name}: {value}")
    if signed_body != body and not args.output:
        err(
            f"note: {vendor} carries the key inside the body; the signed body differs from "
            f"{args.body} -- write it with --output FILE"
        )
    return EXIT_OK
